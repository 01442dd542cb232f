/* SPDX-License-Identifier: MIT */
/*
 * group.c - a supervisor of grace threads: wait for all (errgroup), or shut
 * them all down by one deadline and report on each.
 *
 * Design. One word counts the members still running and is woken only by the
 * last exit, so a wait or a shutdown wakes once, not once per member, and
 * then joins the exited members outside the lock. A failing member records
 * the first failure and requests the group's stop from its own way out,
 * holding no lock and still known as a member, pinning the group meanwhile.
 * The member list is this file's; of a thread it asks only what thread.c's
 * accessors answer. docs/internals.md ("Threads and groups") tells the
 * details.
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
	return g != NULL && atomic_load_explicit(&((grace_group *)(uintptr_t)g)->magic,
	                                         memory_order_acquire) == GROUP_MAGIC;
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
	return self != NULL && grace__thread_home(self) == g;
}

/* One member fewer running; the last one wakes the waiters. */
static void running_dec(grace_group *g)
{
	/* Seq_cst: see the top comment (pairs with the waiter's raise). */
	uint32_t was = atomic_fetch_sub_explicit(&g->word, 1, memory_order_seq_cst);
	/* Each member is counted out once: by its exit or by its abandon. */
	GRACE_ASSERT(was != 0);
	if (was == 1 && atomic_load_explicit(&g->waiters, memory_order_seq_cst) != 0)
		grace__os_wake(&g->word, INT32_MAX);
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
	uint32_t was = atomic_fetch_sub_explicit(&g->pins, 1, memory_order_relaxed);
	GRACE_ASSERT(was != 0); /* one unpin per pin */
	if (was == 1 && g->freeing)
		grace__os_wake(&g->pins, INT32_MAX);
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

int grace_group_spawn_opts(grace_group *g, const char *name, grace_thread_fn fn, void *arg,
                           const grace_thread_opts *opts)
{
	size_t stack;
	/* Every argument before the group's state: bad options are -EINVAL
	 * even after a shutdown, and nothing is touched. */
	if (!group_live(g) || fn == NULL || grace__thread_opts_check(opts, &stack) < 0)
		return -EINVAL;
	if (name == NULL)
		name = "thread";
	grace__mutex_lock(&g->lock);
	if (g->shutting_down) {
		/* As a queue answers a put after its shutdown. */
		grace__mutex_unlock(&g->lock);
		return -ESHUTDOWN;
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
	int r = grace__thread_start(&t, name, fn, arg, g->stop, opts, g);
	if (r < 0)
		running_dec(g);
	if (r == 0) {
		struct grace__member *m = grace__thread_member(t);
		m->thread = t;
		grace__list_insert_tail(&g->members, &m->link);
		g->nmembers++;
	}
	grace__mutex_unlock(&g->lock);
	return r;
}

int grace_group_spawn(grace_group *g, const char *name, grace_thread_fn fn, void *arg)
{
	return grace_group_spawn_opts(g, name, fn, arg, NULL);
}

grace_stop *grace_group_get_stop(grace_group *g)
{
	return group_live(g) ? g->stop : NULL;
}

static grace_thread *member_thread(struct grace__link *l)
{
	return grace__container_of(l, struct grace__member, link)->thread;
}

/* Move the members that have exited (all of them with `all`) from the
 * group's list to `out`, a list of the caller's, in spawn order; their
 * exits' results and times are then visible (grace__thread_exited is an
 * acquire). Once off the list a member is the caller's alone. */
static void take_locked(grace_group *g, bool all, struct grace__list *out)
{
	struct grace__link *it, *nx;
	grace__list_for_each_safe(&g->members, it, nx) {
		if (!all && !grace__thread_exited(member_thread(it)))
			continue;
		grace__list_remove(&g->members, it);
		GRACE_ASSERT(g->nmembers != 0);
		g->nmembers--;
		grace__list_insert_tail(out, it);
	}
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
			struct grace__list done = {0};
			take_locked(g, false, &done);
			bool empty = grace__list_empty(&g->members);
			/* Every member taken here recorded its failure, if any,
			 * before its EXITED, which take_locked acquired. */
			if (empty || late)
				outcome_locked(g, out);
			grace__mutex_unlock(&g->lock);
			struct grace__link *it, *nx;
			grace__list_for_each_safe(&done, it, nx)
				grace__thread_reap(member_thread(it), NULL, NULL);
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

/* Join the exited members on `done` and add them to the report. */
static void reap_into(struct grace__list *done, grace_report *rep, int64_t t0, bool *nomem)
{
	struct grace__link *it, *nx;
	grace__list_for_each_safe(done, it, nx) {
		grace_thread *t = member_thread(it);
		grace_report_entry e = {.name = grace__thread_name(t), .exited = true};
		int64_t exit_ns = 0;
		if (rep != NULL && !*nomem) {
			/* The name is copied before the reap frees the state. */
			grace__thread_outcome(t, &e.result, &exit_ns);
			e.stop_ns = exit_ns > t0 ? exit_ns - t0 : 0;
			if (grace__report_add(rep, &e) < 0)
				*nomem = true;
		}
		grace__thread_reap(t, NULL, NULL);
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
	size_t n = g->nmembers;
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
		if (running == 0 || grace__wait(&g->word, running, NULL, d, &site) == -ETIMEDOUT)
			break; /* all exited, or the deadline: one more look below */
	}
	atomic_fetch_sub_explicit(&g->waiters, 1, memory_order_release);

	/* Join every member that exited (each EXITED seen with an acquire load
	 * in take_locked, so its result and exit time are visible). */
	grace__mutex_lock(&g->lock);
	struct grace__list done = {0};
	take_locked(g, false, &done);
	grace__mutex_unlock(&g->lock);
	reap_into(&done, rep, t0, &nomem);

	grace__mutex_lock(&g->lock);
	struct grace__list rest = {0};
	take_locked(g, true, &rest);
	struct grace__link *it, *nx;
	grace__list_for_each(&rest, it)
		g->abandoned++;
	grace__mutex_unlock(&g->lock);
	int r = !grace__list_empty(&rest) ? -ETIMEDOUT : 0;
	int64_t now = grace__os_now();
	grace__list_for_each_safe(&rest, it, nx) {
		grace_thread *t = member_thread(it);
		if (rep != NULL && !nomem) {
			grace_report_entry e = {.name = grace__thread_name(t)};
			int64_t since;
			grace__thread_blocked(t, &e.blocked_op, &e.blocked_on, &since);
			e.blocked_ns = now > since ? now - since : 0;
			if (grace__report_add(rep, &e) < 0)
				nomem = true;
		}
		grace__thread_release(t);
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
	bool busy = !grace__list_empty(&g->members);
	GRACE_ASSERT(busy || g->nmembers == 0);
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
