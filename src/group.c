/*
 * group.c - a supervisor of grace threads: wait for all (errgroup), or shut
 * them all down by one deadline and report on each.
 *
 * Design. The group keeps its members (threads neither joined nor given up)
 * in spawn order under its lock. The group's word counts the members still
 * running: a spawn raises it, and every member's exit lowers it after
 * setting its own EXITED bit (thread.c); only the exit that brings it to
 * zero wakes the word. grace_group_wait and grace_group_shutdown sleep on
 * that one word with grace__wait, so they wake once when the last member
 * exits (or at their deadline), not once per exit, and then take the exited
 * members off the list and join them outside the lock: no polling, and a
 * thread is joined by exactly one caller. `waiters` counts the callers that
 * may sleep on the word, so the last exit makes the wake system call only
 * when someone may be asleep: the waiter raises it before it reads the
 * word, the exit reads it after its RMW on the word, both seq_cst, so one of
 * them sees the other.
 *
 * A member that returns non-zero records itself as the first failure (under
 * the group's lock) and requests the group's stop with
 * GRACE_REASON_SIBLING_FAILED, from its own exit path, as Go's errgroup
 * does. It does so first thing after its cleanup handlers, while it still
 * counts as running and still knows itself as a member (so that a callback
 * on the group's stop that calls grace_group_wait or grace_group_shutdown
 * is refused, as from any member), and holding no lock, since the request
 * runs the caller's callbacks. A shutdown may give such a member up in the
 * middle of it; the member pins the group (`pins`, raised under the
 * member's lock, which the give-up takes) so that grace_group_free waits
 * for the report to end instead of freeing the group under it.
 *
 * The outcome grace_group_wait gives is kept under the group's lock: the
 * first failure's result and a copy of its thread's name, in room that each
 * spawn reserves for its member's name (so that the failure, on the way
 * out, allocates nothing and cannot fail), and the count of members that a
 * shutdown gave up at its deadline, raised in the same critical section
 * that takes them off the list, so that a wait that finds the list empty
 * also finds them counted.
 *
 * Lock order: the group's lock, then a thread's lock, then stop locks. No
 * lock of ours is held while a caller's callback runs.
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAGIC 0x47525550u /* "GRUP" */

static bool group_live(const grace_group *g)
{
	return g != NULL &&
	       atomic_load_explicit(&((grace_group *)(uintptr_t)g)->magic, memory_order_acquire) == GROUP_MAGIC;
}

/* The group's lock is unlocked when the group is freed (it fails with
 * EBUSY only while locked, our own bug). */
static void lock_destroy(grace_group *g)
{
	int r = pthread_mutex_destroy(&g->lock);
	GRACE_ASSERT(r == 0);
	(void)r;
}

/* Whether the caller is a member of `g`: it would wait for itself. */
static bool called_from_member(const grace_group *g)
{
	grace_thread *self = grace_thread_self();
	return self != NULL && self->home == g;
}

/* One member fewer running; the last one wakes the waiters. */
static void running_dec(grace_group *g)
{
	/* Seq_cst: see the top comment (pairs with the waiter's raise). */
	if (atomic_fetch_sub_explicit(&g->word, 1, memory_order_seq_cst) == 1 &&
	    atomic_load_explicit(&g->waiters, memory_order_seq_cst) != 0)
		grace__wake(&g->word, INT32_MAX);
}

void grace__group_member_exited(grace_group *g)
{
	running_dec(g);
}

void grace__group_pin(grace_group *g)
{
	/* Relaxed: the member raises it under its own lock, and a give-up
	 * that comes after takes that lock before anything that leads to
	 * grace_group_free; free reads it under the group's lock. */
	atomic_fetch_add_explicit(&g->pins, 1, memory_order_relaxed);
}

void grace__group_member_failed(grace_group *g, const char *name, int result)
{
	grace__mutex_lock(&g->lock);
	bool first = g->failed == NULL;
	if (first) {
		/* The spawn reserved room for the name. */
		size_t n = strlen(name) + 1;
		GRACE_ASSERT(n <= g->failed_cap);
		memcpy(g->failed_buf, name, n);
		g->failed = g->failed_buf;
		g->first_result = result;
	}
	grace__mutex_unlock(&g->lock);
	/* No lock held: the request runs the callbacks on the group's stop. */
	if (first)
		grace__stop_request(g->stop, GRACE_REASON_SIBLING_FAILED);
}

void grace__group_unpin(grace_group *g)
{
	/* The wake is made under the lock, and grace_group_free takes the lock
	 * once more after it sees 0, so our unlock is our last touch of g. */
	grace__mutex_lock(&g->lock);
	if (atomic_fetch_sub_explicit(&g->pins, 1, memory_order_relaxed) == 1 && g->freeing)
		grace__wake(&g->pins, INT32_MAX);
	grace__mutex_unlock(&g->lock);
}

void grace__group_member_abandoned(grace_group *g)
{
	running_dec(g);
}

int grace_group_new(grace_group **out, const char *name, grace_stop *parent)
{
	if (out == NULL || (parent != NULL && !grace__stop_live(parent)))
		return -EINVAL;
	if (name == NULL)
		name = "group";
	size_t len = strlen(name);
	grace_group *g = grace__calloc(1, sizeof *g + len + 1);
	if (g == NULL)
		return -ENOMEM;
	memcpy(g->name, name, len + 1);
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return -ENOMEM;
	}
	int r = grace_stop_new(&g->stop, parent);
	if (r < 0) {
		lock_destroy(g);
		free(g);
		return r;
	}
	atomic_store_explicit(&g->magic, GROUP_MAGIC, memory_order_release);
	*out = g;
	return 0;
}

int grace_group_spawn(grace_group *g, const char *name, grace_thread_fn fn, void *arg)
{
	if (!group_live(g) || fn == NULL)
		return -EINVAL;
	if (name == NULL)
		name = "thread";
	grace__mutex_lock(&g->lock);
	if (g->shutting_down) {
		grace__mutex_unlock(&g->lock);
		return -EINVAL;
	}
	/* Room for the member's name should it be the first to fail (see the
	 * top comment); none is needed once a failure is recorded, and the
	 * recorded name must not move. */
	size_t need = strlen(name) + 1;
	if (g->failed == NULL && need > g->failed_cap) {
		size_t cap = need < 32 ? 32 : need;
		char *buf = grace__realloc(g->failed_buf, cap);
		if (buf == NULL) {
			grace__mutex_unlock(&g->lock);
			return -ENOMEM;
		}
		g->failed_buf = buf;
		g->failed_cap = cap;
	}
	grace_thread *t;
	/* Counted before it starts: it may exit at once. */
	atomic_fetch_add_explicit(&g->word, 1, memory_order_relaxed);
	int r = grace__thread_start(&t, name, fn, arg, g->stop, NULL, g);
	if (r < 0)
		running_dec(g);
	if (r == 0) {
		t->gnext = NULL;
		t->gprev = g->tail;
		if (g->tail != NULL)
			g->tail->gnext = t;
		else
			g->head = t;
		g->tail = t;
		g->members++;
	}
	grace__mutex_unlock(&g->lock);
	return r;
}

grace_stop *grace_group_get_stop(grace_group *g)
{
	return group_live(g) ? g->stop : NULL;
}

static void unlink_locked(grace_group *g, grace_thread *t)
{
	if (t->gprev != NULL)
		t->gprev->gnext = t->gnext;
	else
		g->head = t->gnext;
	if (t->gnext != NULL)
		t->gnext->gprev = t->gprev;
	else
		g->tail = t->gprev;
	g->members--;
}

/* Take the members that have exited (all of them with `all`) off the list,
 * in spawn order, chained through gnext. */
static grace_thread *take_locked(grace_group *g, bool all)
{
	grace_thread *first = NULL, *last = NULL, *next;
	for (grace_thread *t = g->head; t != NULL; t = next) {
		next = t->gnext;
		/* Acquire: pairs with the exit's release RMW of EXITED. */
		if (!all && !(atomic_load_explicit(&t->state, memory_order_acquire) & GRACE__T_EXITED))
			continue;
		unlink_locked(g, t);
		t->gnext = NULL;
		if (last != NULL)
			last->gnext = t;
		else
			first = t;
		last = t;
	}
	return first;
}

/* The outcome so far. */
static void outcome_locked(const grace_group *g, grace_group_outcome *out)
{
	if (out == NULL)
		return;
	out->result = g->first_result;
	out->failed = g->failed;
	out->abandoned = g->abandoned;
}

int grace_group_wait(grace_group *g, grace_deadline d, grace_group_outcome *out)
{
	if (!group_live(g) || called_from_member(g))
		return -EINVAL;
	atomic_fetch_add_explicit(&g->waiters, 1, memory_order_seq_cst);
	bool late = false;
	struct grace__site site = {"group_wait", g->name, 0};
	int r;
	for (;;) {
		uint32_t running = atomic_load_explicit(&g->word, memory_order_seq_cst);
		if (running == 0 || late) {
			grace__mutex_lock(&g->lock);
			grace_thread *done = take_locked(g, false);
			bool empty = g->head == NULL;
			/* Every member taken here recorded its failure, if any,
			 * before its EXITED, which take_locked acquired. */
			if (empty || late)
				outcome_locked(g, out);
			grace__mutex_unlock(&g->lock);
			while (done != NULL) {
				grace_thread *next = done->gnext;
				grace__thread_reap(done, NULL, NULL);
				done = next;
			}
			if (empty) {
				r = 0;
				break;
			}
			if (late) {
				r = -ETIMEDOUT;
				break;
			}
			continue; /* a spawn came in since the load */
		}
		if (grace__wait(&g->word, running, NULL, d, &site) == -ETIMEDOUT)
			late = true; /* one more look first */
	}
	atomic_fetch_sub_explicit(&g->waiters, 1, memory_order_release);
	return r;
}

/* A member's result and exit time, published by its exit's release RMW of
 * EXITED and acquired in take_locked. Out of line so that the valgrind
 * suppressions can name these reads: Helgrind and DRD do not see that pair
 * (the join that frees the state comes after, and only then would they). */
static __attribute__((noinline)) void exited_outcome(const grace_thread *t, int *result, int64_t *exit_ns)
{
	*result = t->result;
	*exit_ns = t->exit_ns;
}

/* Join the exited members on `done` and add them to the report. */
static void reap_into(grace_thread *done, grace_report *rep, int64_t t0, bool *nomem)
{
	while (done != NULL) {
		grace_thread *next = done->gnext;
		grace_report_entry e = {.name = done->name, .exited = true};
		int64_t exit_ns = 0;
		if (rep != NULL && !*nomem) {
			/* The name is copied before the reap frees the state. */
			exited_outcome(done, &e.result, &exit_ns);
			e.stop_ns = exit_ns > t0 ? exit_ns - t0 : 0;
			if (grace__report_add(rep, &e) < 0)
				*nomem = true;
		}
		grace__thread_reap(done, NULL, NULL);
		done = next;
	}
}

int grace_group_shutdown(grace_group *g, int reason, grace_deadline d, grace_report **report)
{
	if (!group_live(g) || reason <= 0 || called_from_member(g))
		return -EINVAL;
	int64_t t0 = grace__os_now();
	grace__mutex_lock(&g->lock);
	if (g->shutting_down) {
		grace__mutex_unlock(&g->lock);
		return -EINVAL;
	}
	g->shutting_down = true;
	size_t n = g->members;
	grace__mutex_unlock(&g->lock);

	grace_report *rep = NULL;
	bool nomem = false;
	if (report != NULL) {
		*report = NULL;
		rep = grace__report_new(g->name, reason, n);
		nomem = rep == NULL;
	}
	grace_stop_request(g->stop, reason);
	/* The report gives the reason that took effect: a stop requested
	 * earlier (a signal routed to the parent, say) keeps its own. */
	if (rep != NULL)
		rep->reason = grace_stop_reason(g->stop);

	/* No spawn can come in now: the count only falls. */
	atomic_fetch_add_explicit(&g->waiters, 1, memory_order_seq_cst);
	struct grace__site site = {"group_shutdown", g->name, 0};
	for (;;) {
		uint32_t running = atomic_load_explicit(&g->word, memory_order_seq_cst);
		if (running == 0 ||
		    grace__wait(&g->word, running, NULL, d, &site) == -ETIMEDOUT)
			break; /* all exited, or the deadline: one more look below */
	}
	atomic_fetch_sub_explicit(&g->waiters, 1, memory_order_release);

	/* Join every member that exited (each EXITED seen with an acquire load
	 * in take_locked, so its result and exit time are visible). */
	grace__mutex_lock(&g->lock);
	grace_thread *done = take_locked(g, false);
	grace__mutex_unlock(&g->lock);
	reap_into(done, rep, t0, &nomem);

	grace__mutex_lock(&g->lock);
	grace_thread *rest = take_locked(g, true);
	for (grace_thread *t = rest; t != NULL; t = t->gnext)
		g->abandoned++;
	grace__mutex_unlock(&g->lock);
	int r = rest != NULL ? -ETIMEDOUT : 0;
	int64_t now = grace__os_now();
	while (rest != NULL) {
		grace_thread *next = rest->gnext;
		if (rep != NULL && !nomem) {
			grace_report_entry e = {.name = rest->name};
			int64_t since;
			grace__blocked_read(&rest->blocked, &e.blocked_op, &e.blocked_on, &since);
			e.blocked_ns = now > since ? now - since : 0;
			if (grace__report_add(rep, &e) < 0)
				nomem = true;
		}
		grace__thread_release(rest);
		rest = next;
	}
	if (report != NULL) {
		if (nomem) {
			grace_report_free(rep);
			return -ENOMEM;
		}
		grace__report_finish(rep, grace__os_now() - t0);
		*report = rep;
	}
	return r;
}

int grace_group_free(grace_group *g)
{
	if (g == NULL)
		return 0;
	if (!group_live(g))
		return -EINVAL;
	grace__mutex_lock(&g->lock);
	bool busy = g->head != NULL;
	/* A member given up by a shutdown may still be reporting its failure
	 * (requesting our stop): wait for it, not long unless a callback on
	 * the stop takes long. Its wake comes under the lock, and we take the
	 * lock after each sleep, so it has let go of the group when we see 0. */
	struct grace__site site = {"group_free", g->name, 0};
	uint32_t pins;
	while (!busy && (pins = atomic_load_explicit(&g->pins, memory_order_relaxed)) != 0) {
		g->freeing = true;
		grace__mutex_unlock(&g->lock);
		(void)grace__wait(&g->pins, pins, NULL, GRACE_FOREVER, &site);
		grace__mutex_lock(&g->lock);
	}
	g->freeing = false;
	grace__mutex_unlock(&g->lock);
	if (busy)
		return -EBUSY;
	int r = grace_stop_free(g->stop);
	if (r < 0)
		return r;
	atomic_store_explicit(&g->magic, 0, memory_order_relaxed);
	lock_destroy(g);
	free(g->failed_buf);
	free(g);
	return 0;
}
