/* SPDX-License-Identifier: MIT */
/*
 * report.c - what a group shutdown found: for every thread its name and
 * result and how long it took to stop, or, for a straggler, what it is
 * blocked on and for how long.
 *
 * Design. A report is a plain array of entries that owns copies of every
 * string, so it outlives the group and the threads it describes (an
 * abandoned straggler may end and free itself at any moment). group.c fills
 * it and puts the stragglers first; this file only stores, prints and frees.
 * It is immutable once handed out, so it needs no lock: any number of
 * threads may read and print it at once.
 *
 * The list of live threads that a second signal prints (grace__threads_print,
 * for signal.c) is here too, beside the report's printer whose duration
 * format it shares; it walks thread.c's registry under the registry's lock,
 * through thread.c's accessors, and takes no other lock.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* fprintf, answering whether it failed: the printers gather one flag. */
__attribute__((format(printf, 2, 3))) static int out(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n < 0;
}

static char *dup_str(const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = grace__malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

grace_report *grace__report_new(const char *group, int reason, size_t cap)
{
	grace_report *r = grace__calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->group = dup_str(group != NULL ? group : "");
	r->cap = cap > 0 ? cap : 1;
	r->entries = grace__calloc(r->cap, sizeof *r->entries);
	if (r->group == NULL || r->entries == NULL) {
		free(r->group);
		free(r->entries);
		free(r);
		return NULL;
	}
	r->reason = reason;
	return r;
}

int grace__report_add(grace_report *r, const grace_report_entry *e)
{
	if (r->count == r->cap) {
		grace_report_entry *ne = grace__realloc(r->entries, r->cap * 2 * sizeof *ne);
		if (ne == NULL)
			return -ENOMEM;
		r->entries = ne;
		r->cap *= 2;
	}
	grace_report_entry c = *e;
	c.name = dup_str(e->name != NULL ? e->name : "");
	c.blocked_op = dup_str(e->blocked_op);
	c.blocked_on = dup_str(e->blocked_on);
	if (c.name == NULL || (e->blocked_op != NULL && c.blocked_op == NULL) ||
	    (e->blocked_on != NULL && c.blocked_on == NULL)) {
		free((char *)(uintptr_t)c.name);
		free((char *)(uintptr_t)c.blocked_op);
		free((char *)(uintptr_t)c.blocked_on);
		return -ENOMEM;
	}
	r->entries[r->count++] = c;
	return 0;
}

void grace__report_finish(grace_report *r, int64_t elapsed_ns)
{
	/* A stable partition by rotation: reports are small. */
	size_t k = 0;
	for (size_t i = 0; i < r->count; i++) {
		if (r->entries[i].exited)
			continue;
		grace_report_entry e = r->entries[i];
		memmove(&r->entries[k + 1], &r->entries[k], (i - k) * sizeof e);
		r->entries[k++] = e;
	}
	/* Then the others by the time they took (a stable insertion sort):
	 * group.c adds each batch it finds exited in spawn order. */
	for (size_t i = k + 1; i < r->count; i++) {
		grace_report_entry e = r->entries[i];
		size_t j = i;
		while (j > k && r->entries[j - 1].stop_ns > e.stop_ns) {
			r->entries[j] = r->entries[j - 1];
			j--;
		}
		r->entries[j] = e;
	}
	r->elapsed_ns = elapsed_ns;
}

size_t grace_report_count(const grace_report *r)
{
	return r != NULL ? r->count : 0;
}

const grace_report_entry *grace_report_at(const grace_report *r, size_t i)
{
	return r != NULL && i < r->count ? &r->entries[i] : NULL;
}

void grace_report_free(grace_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->count; i++) {
		free((char *)(uintptr_t)r->entries[i].name);
		free((char *)(uintptr_t)r->entries[i].blocked_op);
		free((char *)(uintptr_t)r->entries[i].blocked_on);
	}
	free(r->entries);
	free(r->group);
	free(r);
}

/* A duration, in a unit that keeps it short: "412.0 us", "12.5 ms". */
static void format_duration(char *buf, size_t n, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	if (ns < 1000000)
		(void)snprintf(buf, n, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		(void)snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
	else
		(void)snprintf(buf, n, "%.2f s", (double)ns / 1e9);
}

void grace__threads_print(FILE *f)
{
	if (f == NULL)
		return;
	/* Two passes under the registry's lock (one for the column width),
	 * so that the count and the lines agree. */
	grace__threads_lock();
	int64_t now = grace__os_now();
	size_t count = 0, width = 0;
	for (grace_thread *t = grace__threads_next(NULL); t != NULL; t = grace__threads_next(t)) {
		size_t n = strlen(grace__thread_name(t));
		if (n > width)
			width = n;
		count++;
	}
	if (width > 40)
		width = 40;
	(void)out(f, "grace: %zu thread%s still running\n", count, count == 1 ? "" : "s");
	char dur[32];
	for (grace_thread *t = grace__threads_next(NULL); t != NULL; t = grace__threads_next(t)) {
		const char *op, *name;
		int64_t since;
		grace__thread_blocked(t, &op, &name, &since);
		(void)out(f, "  %-*s  ", (int)width, grace__thread_name(t));
		if (op == NULL)
			(void)fputs("running its own code for ", f);
		else if (name != NULL)
			(void)out(f, "blocked in %s on '%s' for ", op, name);
		else
			(void)out(f, "blocked in %s for ", op);
		format_duration(dur, sizeof dur, now - since);
		(void)fputs(dur, f);
		(void)fputc('\n', f);
	}
	grace__threads_unlock();
	(void)fflush(f);
}

static void format_reason(char *buf, size_t n, int reason)
{
	int sig = grace_reason_signal(reason);
	if (sig != 0)
		(void)snprintf(buf, n, "signal %d", sig);
	else if (reason == GRACE_REASON_DEADLINE)
		(void)snprintf(buf, n, "deadline");
	else if (reason == GRACE_REASON_SIBLING_FAILED)
		(void)snprintf(buf, n, "sibling failed");
	else
		(void)snprintf(buf, n, "reason %d", reason);
}

int grace_report_print(const grace_report *r, FILE *f)
{
	if (r == NULL || f == NULL)
		return -EINVAL;
	size_t width = 4, stragglers = 0;
	for (size_t i = 0; i < r->count; i++) {
		size_t n = strlen(r->entries[i].name);
		if (n > width)
			width = n;
		stragglers += !r->entries[i].exited;
	}
	char reason[32], took[32], dur[32];
	format_reason(reason, sizeof reason, r->reason);
	format_duration(took, sizeof took, r->elapsed_ns);
	int bad = out(f, "group '%s' shutdown (%s) took %s: %zu of %zu thread%s stopped, %zu straggler%s\n",
	              r->group, reason, took, r->count - stragglers, r->count, r->count == 1 ? "" : "s",
	              stragglers, stragglers == 1 ? "" : "s");
	for (size_t i = 0; i < r->count; i++) {
		const grace_report_entry *e = &r->entries[i];
		if (e->exited) {
			format_duration(dur, sizeof dur, e->stop_ns);
			/* Positive results are the caller's own: no name for them. */
			if (e->result <= 0)
				bad |= out(f, "  %-*s  stopped    in %9s  result %d (%s)\n", (int)width,
				           e->name, dur, e->result, grace_strerror(e->result));
			else
				bad |= out(f, "  %-*s  stopped    in %9s  result %d\n", (int)width, e->name,
				           dur, e->result);
		} else {
			format_duration(dur, sizeof dur, e->blocked_ns);
			bad |= out(f, "  %-*s  STRAGGLER  for %9s  ", (int)width, e->name, dur);
			if (e->blocked_op == NULL)
				bad |= fputs("running its own code\n", f) < 0;
			else if (e->blocked_on != NULL)
				bad |= out(f, "blocked in %s on '%s'\n", e->blocked_op, e->blocked_on);
			else
				bad |= out(f, "blocked in %s\n", e->blocked_op);
		}
	}
	bad |= fflush(f) != 0;
	return bad ? -EIO : 0;
}

/* A JSON string, or null. Control characters, quotes and backslashes are
 * escaped; other bytes pass through (names are taken to be UTF-8). */
static int json_str(FILE *f, const char *s)
{
	if (s == NULL)
		return fputs("null", f) < 0;
	int bad = fputc('"', f) == EOF;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			bad |= out(f, "\\%c", *p);
		else if (*p < 0x20)
			bad |= out(f, "\\u%04x", *p);
		else
			bad |= fputc(*p, f) == EOF;
	}
	bad |= fputc('"', f) == EOF;
	return bad;
}

int grace_report_json(const grace_report *r, FILE *f)
{
	if (r == NULL || f == NULL)
		return -EINVAL;
	size_t stragglers = 0;
	for (size_t i = 0; i < r->count; i++)
		stragglers += !r->entries[i].exited;
	int bad = fputs("{\"group\":", f) < 0;
	bad |= json_str(f, r->group);
	bad |= out(f, ",\"reason\":%d,\"elapsed_ns\":%lld,\"stragglers\":%zu,\"threads\":[", r->reason,
	           (long long)r->elapsed_ns, stragglers);
	for (size_t i = 0; i < r->count; i++) {
		const grace_report_entry *e = &r->entries[i];
		bad |= fputs(i > 0 ? ",{\"name\":" : "{\"name\":", f) < 0;
		bad |= json_str(f, e->name);
		if (e->exited) {
			bad |= out(f, ",\"exited\":true,\"result\":%d,\"result_name\":", e->result);
			bad |= json_str(f, e->result <= 0 ? grace_strerror(e->result) : NULL);
			bad |= out(f, ",\"stop_ns\":%lld}", (long long)e->stop_ns);
		} else {
			bad |= fputs(",\"exited\":false,\"blocked_op\":", f) < 0;
			bad |= json_str(f, e->blocked_op);
			bad |= fputs(",\"blocked_on\":", f) < 0;
			bad |= json_str(f, e->blocked_on);
			bad |= out(f, ",\"blocked_ns\":%lld}", (long long)e->blocked_ns);
		}
	}
	bad |= fputs("]}\n", f) < 0;
	bad |= fflush(f) != 0;
	return bad ? -EIO : 0;
}
