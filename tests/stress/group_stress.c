/* SPDX-License-Identifier: MIT */
/*
 * group_stress.c - the soak of group shutdowns, for SECONDS seconds
 * (default 600). Built by CMake, run by `make stress` (tests/stress/run.sh),
 * not by ctest.
 *
 * One round: a group of 4 to 24 threads, each of a random kind: blocked on
 * the group's stop in an event wait, a queue get, a sleep or a recv;
 * quick (returns its own value at once or after a short sleep that no stop
 * ends); or a straggler (ignores the stop for a random while, then returns
 * its value). After a random delay (threads may still be starting) the
 * controller shuts the group down with a random deadline, from nothing up
 * to a few tens of milliseconds, and checks the report: every thread listed
 * exactly once by its unique name; an exited one with the result its kind
 * returns (-ECANCELED for the blocked kinds, its value otherwise); a
 * straggler one that has not ended yet, and which then ends on its own.
 * Every thread marks its end in the round's table from its last cleanup
 * handler; the round waits for all of them before it frees what they use.
 * lost counts threads not accounted (missing from the report, or never
 * ending), duplicated threads listed or ended twice, wrong any other
 * mismatch. Prints a summary line "SUMMARY group ..."; exits 1 on any
 * problem.
 */
#include "grace.h"
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXT 24

enum kind { K_EVENT, K_QUEUE, K_SLEEP, K_RECV, K_QUICK, K_STRAGGLER, K_COUNT };
static const char *const kind_names[] = {"event", "queue", "sleep", "recv", "quick", "straggler"};

struct round;

struct member {
	struct round *r;
	int idx;
	enum kind kind;
	int value;      /* quick and straggler: the result */
	int64_t lag_ns; /* quick: its pause; straggler: how long it ignores the stop */
	char name[32];
	_Atomic int ended; /* set by the last cleanup handler */
	int result;        /* what fn returned (read after `ended`) */
	int listed;
};

struct round {
	grace_event ev;
	grace_queue *q;
	int sp[2];
	int n;
	struct member m[MAXT];
};

static uint64_t rounds, threads, lost, duplicated, wrong, stragglers, exited;

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

static void mark_ended(void *arg)
{
	struct member *m = arg;
	/* Release: the result written before is visible with the mark. */
	atomic_fetch_add_explicit(&m->ended, 1, memory_order_release);
}

static int member_main(grace_stop *stop, void *arg)
{
	struct member *m = arg;
	int r;
	if (grace_defer(mark_ended, m) != 0) {
		mark_ended(m);
		return -12345;
	}
	switch (m->kind) {
	case K_EVENT: r = grace_event_wait(&m->r->ev, stop, GRACE_FOREVER); break;
	case K_QUEUE: {
		void *item;
		r = grace_queue_get(m->r->q, &item, stop, GRACE_FOREVER);
		break;
	}
	case K_SLEEP: r = grace_sleep(stop, GRACE_FOREVER); break;
	case K_RECV: {
		char c;
		r = (int)grace_recv(m->r->sp[0], &c, 1, 0, stop, GRACE_FOREVER);
		break;
	}
	case K_QUICK:
		if (m->lag_ns > 0)
			grace_sleep(NULL, grace_after_ns(m->lag_ns));
		r = m->value;
		break;
	default:
		/* Ignores its stop for a while. */
		grace_sleep(NULL, grace_after_ns(m->lag_ns));
		r = m->value;
		break;
	}
	m->result = r;
	return r;
}

static int want_result(const struct member *m)
{
	return m->kind < K_QUICK ? -ECANCELED : m->value;
}

static int one_round(unsigned *seed)
{
	struct round *r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	grace_event_init(&r->ev);
	if (grace_queue_new(&r->q, rnd(seed) % 2 ? 4 : 0) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, r->sp) != 0) {
		free(r);
		return -1;
	}
	grace_queue_set_name(r->q, "stress-queue");
	r->n = 4 + (int)(rnd(seed) % (MAXT - 3));
	grace_group *g;
	if (grace_group_new(&g, "stress", NULL) != 0)
		return -1;
	for (int i = 0; i < r->n; i++) {
		struct member *m = &r->m[i];
		m->r = r;
		m->idx = i;
		unsigned k = rnd(seed) % 8;
		m->kind = k < 4 ? (enum kind)k : k < 6 ? K_QUICK : K_STRAGGLER;
		/* Results stay >= 0: a non-zero one stops the siblings early,
		 * which the blocked kinds answer with -ECANCELED all the same. */
		m->value = (int)(rnd(seed) % 3);
		m->lag_ns = m->kind == K_STRAGGLER ? (int64_t)(rnd(seed) % 60) * 1000000
		            : m->kind == K_QUICK && rnd(seed) % 2 ? (int64_t)(rnd(seed) % 2000) * 1000
		                                                   : 0;
		snprintf(m->name, sizeof m->name, "m%02d-%s", i, kind_names[m->kind]);
		int sr = grace_group_spawn(g, m->name, member_main, m);
		if (sr != 0) {
			fprintf(stderr, "group_stress: spawn: %s\n", grace_strerror(sr));
			return -1;
		}
	}
	/* Random timing: some threads are not blocked yet when the stop comes. */
	unsigned how = rnd(seed) % 4;
	if (how == 1)
		sched_yield();
	else if (how >= 2)
		grace_sleep(NULL, grace_after_ns((int64_t)(rnd(seed) % 3000) * 1000));
	grace_deadline d = rnd(seed) % 4 == 0 ? grace_now() : grace_after_ns((int64_t)(rnd(seed) % 40) * 1000000);
	grace_report *rep = NULL;
	int sr = grace_group_shutdown(g, 7, d, &rep);
	if (rep == NULL || (sr != 0 && sr != -ETIMEDOUT)) {
		fprintf(stderr, "group_stress: shutdown: %s\n", grace_strerror(sr));
		return -1;
	}
	size_t count = grace_report_count(rep);
	size_t nstraggle = 0;
	for (size_t i = 0; i < count; i++) {
		const grace_report_entry *e = grace_report_at(rep, i);
		int idx = -1;
		for (int j = 0; j < r->n; j++)
			if (strcmp(e->name, r->m[j].name) == 0)
				idx = j;
		if (idx < 0) {
			wrong++; /* a name nobody had */
			continue;
		}
		struct member *m = &r->m[idx];
		if (m->listed++)
			duplicated++;
		if (e->exited) {
			exited++;
			/* Joined: it has ended, with its kind's result. */
			if (atomic_load_explicit(&m->ended, memory_order_acquire) != 1 || e->result != want_result(m)) {
				fprintf(stderr, "group_stress: %s exited with %d, wanted %d (ended %d)\n", m->name,
				        e->result, want_result(m), atomic_load(&m->ended));
				wrong++;
			}
		} else {
			nstraggle++;
			stragglers++;
			/* One that ignores its stop is asleep or in its own code; a
			 * blocked kind may straggle only past a deadline too short
			 * for its way out, anywhere on it. */
			if (m->kind == K_STRAGGLER && e->blocked_op != NULL && strcmp(e->blocked_op, "sleep") != 0)
				wrong++;
		}
	}
	if ((sr == -ETIMEDOUT) != (nstraggle != 0))
		wrong++;
	grace_report_free(rep);
	if (grace_group_free(g) != 0)
		wrong++;
	/* Stragglers end on their own: wait for every thread (generously). */
	grace_deadline until = grace_after_ms(30000);
	for (int j = 0; j < r->n; j++) {
		struct member *m = &r->m[j];
		while (atomic_load_explicit(&m->ended, memory_order_acquire) == 0 && grace_now() < until)
			grace_sleep(NULL, grace_after_ms(1));
		int e = atomic_load_explicit(&m->ended, memory_order_acquire);
		if (m->listed == 0 || e == 0)
			lost++;
		if (e > 1)
			duplicated++;
		if (e == 1 && m->result != want_result(m)) {
			fprintf(stderr, "group_stress: %s returned %d, wanted %d\n", m->name, m->result,
			        want_result(m));
			wrong++;
		}
	}
	threads += (uint64_t)r->n;
	rounds++;
	/* Every thread has ended: what they used may go. */
	close(r->sp[0]);
	close(r->sp[1]);
	if (grace_queue_free(r->q) != 0)
		wrong++;
	grace_event_destroy(&r->ev);
	free(r);
	return 0;
}

int main(void)
{
	const char *e = getenv("SECONDS");
	double seconds = e != NULL ? atof(e) : 600;
	if (seconds <= 0)
		seconds = 600;
	unsigned seed = (unsigned)grace_now();
	printf("group_stress: %.0f s, seed %u\n", seconds, seed);
	long base = atomic_load(&grace__thread_states);
	grace_deadline end = grace_after_ms((int64_t)(seconds * 1000));
	while (grace_now() < end) {
		if (one_round(&seed) != 0) {
			fprintf(stderr, "group_stress: setup failed\n");
			return 2;
		}
	}
	/* Every thread's state has been freed (the abandoned ones free their
	 * own just after their last handler ran). */
	grace_deadline until = grace_after_ms(10000);
	while (atomic_load(&grace__thread_states) != base && grace_now() < until)
		grace_sleep(NULL, grace_after_ms(1));
	if (atomic_load(&grace__thread_states) != base)
		lost++;
	printf("group: rounds %" PRIu64 " threads %" PRIu64 " (exited %" PRIu64 ", stragglers %" PRIu64
	       ") lost %" PRIu64 " duplicated %" PRIu64 " wrong %" PRIu64 "\n",
	       rounds, threads, exited, stragglers, lost, duplicated, wrong);
	bool bad = lost + duplicated + wrong != 0;
	printf("SUMMARY group rounds %" PRIu64 " items %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64 " wrong %" PRIu64
	       " %s\n",
	       rounds, threads, lost, duplicated, wrong, bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
