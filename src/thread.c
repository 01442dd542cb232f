/* SPDX-License-Identifier: MIT */
/*
 * thread.c - grace threads: a named pthread with its own stop, cleanup
 * handlers, a blocked-on record, and a join that takes a deadline.
 *
 * Ownership. The state is shared by the handle and the thread. The thread's
 * way out (its function returns, or it calls grace_thread_exit) runs the
 * cleanup handlers; a group member with a non-zero result then tells its
 * group, which may run the callbacks on the group's stop (no lock held,
 * the thread still itself; see report_failure); then it leaves the
 * registry, sets EXITED in the state word and wakes a joiner if
 * WAITING says one may sleep; a group member then counts its exit in the
 * group's word; last, the thread sets RELEASED and touches nothing more. A
 * join with a deadline sleeps on the word (grace__wait, never polling) until
 * EXITED, then pthread_joins and frees the state; a join without one is a
 * plain pthread_join, which sleeps until the kernel wakes it at the thread's
 * end, so neither side pays for the word. An abandon detaches the pthread and sets
 * ABANDONED: whichever of ABANDONED and RELEASED comes second frees the
 * state, so an abandoned thread keeps its state, its stop included, exactly
 * as long as it runs. Freed states keep their memory for a while in a small
 * quarantine ring with the magic cleared, so that joining or abandoning a
 * handle again answers -EINVAL instead of reading freed memory.
 *
 * The group seam. thread.c knows a group only through the calls it makes on
 * the way out (grace__group_pin, _member_failed, _unpin, _member_exited,
 * _member_abandoned), and group.c knows a thread only through the
 * accessors at the end of this file and the `member` link it owns. A
 * registry of live threads (for the list a second signal prints, in
 * report.c) is walked only through grace__threads_lock/_next/_unlock.
 *
 * Lock order: a group's lock, then a thread's lock (which guards its group
 * link, and under which RELEASED and ABANDONED are set), then stop locks;
 * the registry lock is taken alone or under a group's lock, never with a
 * thread's lock. No lock of ours is held while a caller's code runs (its
 * function, cleanup handlers, stop callbacks).
 */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The default stack. Many threads with glibc's default 8 MiB stacks are
 * slower to end than with small ones, because glibc keeps only a few stacks
 * cached for reuse and unmaps the rest at each exit (docs/internals.md,
 * "Costs", has the measurements). 256 KiB is plenty for workers that block
 * in grace calls; pass grace_thread_opts.stack_size for deep recursion or
 * big stack buffers. */
#define DEFAULT_STACK ((size_t)256 * 1024)

/* How many freed thread states keep their memory (see the top comment). */
#define QUARANTINE 64

static _Thread_local grace_thread *tls_self;

/* The registry of live grace threads (through rlink, newest first), walked
 * by grace__threads_print in report.c. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grace__list registry;

/* A key whose destructor finishes a grace thread that called pthread_exit
 * itself, so that its handlers still run and its joiner still wakes. Made
 * by the first start that finds it missing; a start that cannot make it
 * fails, since without it that promise would be broken. */
static pthread_key_t exit_key;
static pthread_mutex_t exit_key_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool exit_key_ok;

static _Atomic(grace_thread *) quarantine[QUARANTINE];
static _Atomic unsigned quarantine_pos;

/* States allocated and not yet freed; tests read it to see that an
 * abandoned thread freed itself (the decrement is a release, see destroy). */
_Atomic long grace__thread_states;

static void finish(grace_thread *t, int result);

static void exit_key_destructor(void *p)
{
	finish(p, 0);
}

/* Whether the key exists, making it if not (it fails with EAGAIN when the
 * process has used up its keys, ENOMEM without memory). */
static bool exit_key_ready(void)
{
	/* Acquire: pairs with the release below (exit_key is written). */
	if (atomic_load_explicit(&exit_key_ok, memory_order_acquire))
		return true;
	grace__mutex_lock(&exit_key_lock);
	if (!atomic_load_explicit(&exit_key_ok, memory_order_relaxed) &&
	    pthread_key_create(&exit_key, exit_key_destructor) == 0)
		atomic_store_explicit(&exit_key_ok, true, memory_order_release);
	bool ok = atomic_load_explicit(&exit_key_ok, memory_order_relaxed);
	grace__mutex_unlock(&exit_key_lock);
	return ok;
}

static bool handle_live(const grace_thread *t)
{
	/* Acquire: pairs with the release store in start, so the fields the
	 * starter wrote are visible to another thread given the handle. */
	return t != NULL && atomic_load_explicit(&((grace_thread *)(uintptr_t)t)->magic,
	                                         memory_order_acquire) == GRACE__THREAD_MAGIC;
}

/* A handle's magic is read without a lock by every call given a handle,
 * and cleared when the state is freed: a call racing that free (a misuse
 * the quarantine makes answer -EINVAL) reads one or the other value. */
static void magic_clear(grace_thread *t)
{
	atomic_store_explicit(&t->magic, 0, memory_order_release);
}

static void registry_add(grace_thread *t)
{
	grace__mutex_lock(&reg_lock);
	grace__list_insert_head(&registry, &t->rlink);
	grace__mutex_unlock(&reg_lock);
}

static void registry_remove(grace_thread *t)
{
	grace__mutex_lock(&reg_lock);
	grace__list_remove(&registry, &t->rlink);
	grace__mutex_unlock(&reg_lock);
}

/* Out of line so that a valgrind suppression can name it: see
 * tests/valgrind/grace.supp, thread-lock-destroy-after-other-unlock. */
static __attribute__((noinline)) void lock_destroy(grace_thread *t)
{
	/* EBUSY would mean it is still locked: whoever frees the state took
	 * and released it last (see finish and grace__thread_release). */
	int r = pthread_mutex_destroy(&t->lock);
	GRACE_ASSERT(r == 0);
	(void)r;
}

/* Free a thread's state; its shell goes to the quarantine. */
static void destroy(grace_thread *t)
{
	/* Only once the thread has let go of its state for good. */
	GRACE_ASSERT(atomic_load_explicit(&t->state, memory_order_relaxed) & GRACE__T_RELEASED);
	/* -EBUSY only if the caller left callbacks or children on the thread's
	 * stop; the stop is then left alive (documented in grace.h). */
	(void)grace_stop_free(t->stop);
	if (t->defers != t->inline_defers)
		free(t->defers);
	lock_destroy(t);
	magic_clear(t);
	unsigned i = atomic_fetch_add_explicit(&quarantine_pos, 1, memory_order_relaxed) % QUARANTINE;
	free(atomic_exchange_explicit(&quarantine[i], t, memory_order_acq_rel));
	/* Release: a test that sees the count drop also sees everything the
	 * thread did before it freed its state. */
	atomic_fetch_sub_explicit(&grace__thread_states, 1, memory_order_release);
}

/* A member's non-zero result, told to its group on the way out, before the
 * rest of the bookkeeping: the thread still counts as running and still
 * knows itself (grace_thread_self), so a callback on the group's stop that
 * this runs and that calls grace_group_wait or grace_group_shutdown gets
 * -EINVAL, as from any member; and it holds no lock of ours while the
 * callbacks run. The group link is read under the thread's lock, and the
 * group pinned there, so that a shutdown that gives the thread up
 * meanwhile cannot let the group be freed under the report. A thread given
 * up before it got here reports nothing: its group no longer waits for it. */
static void report_failure(grace_thread *t)
{
	grace__mutex_lock(&t->lock);
	struct grace_group *g = t->group;
	if (g != NULL)
		grace__group_pin(g);
	grace__mutex_unlock(&t->lock);
	if (g == NULL)
		return;
	/* Kept in the thread, so that a grace_thread_exit from one of the
	 * callbacks (which finishes the request and re-enters finish) can
	 * drop the pin in our place. */
	t->reporting = g;
	grace__group_member_failed(g, t->name, t->result);
	t->reporting = NULL;
	grace__group_unpin(g);
}

/* The thread's way out: handlers, then the bookkeeping, exactly once. A
 * handler that calls grace_thread_exit re-enters here, runs the remaining
 * handlers and never comes back, so each handler runs once. */
static void finish(grace_thread *t, int result)
{
	if (!t->finishing) {
		t->finishing = true;
		t->result = result;
	}
	while (t->ndefers > 0) {
		struct grace__defer d = t->defers[--t->ndefers];
		d.fn(d.arg);
	}
	if (t->finished && t->reporting == NULL)
		return;
	if (!t->finished) {
		t->finished = true;
		if (t->result != 0 && t->home != NULL)
			report_failure(t);
	} else {
		/* Re-entered through grace_thread_exit from a callback that the
		 * failure report's request ran; that request is finished now
		 * (grace_thread_exit saw to it), and the report's frame never
		 * resumes: drop its pin here and go on with the bookkeeping. */
		struct grace_group *g = t->reporting;
		t->reporting = NULL;
		grace__group_unpin(g);
	}
	/* Clearing a value that was set allocates nothing: it cannot fail. */
	int r = pthread_setspecific(exit_key, NULL);
	GRACE_ASSERT(r == 0);
	(void)r;
	registry_remove(t);
	tls_self = NULL;
	grace__self_blocked = NULL;
	t->exit_ns = grace__os_now();

	/* Release: publishes result and exit_ns to whoever sees EXITED. Seq_cst
	 * RMW on the word a joiner sets WAITING in: either we see WAITING and
	 * wake, or its sleep sees EXITED and does not begin. */
	uint32_t old = atomic_fetch_or_explicit(&t->state, GRACE__T_EXITED, memory_order_seq_cst);
	GRACE_ASSERT((old & (GRACE__T_EXITED | GRACE__T_RELEASED)) == 0); /* the way out runs once */
	if (old & GRACE__T_WAITING)
		grace__os_wake(&t->state, INT32_MAX);

	/* The link is cleared once used: a later abandon then knows that the
	 * group has counted this exit. */
	grace__mutex_lock(&t->lock);
	if (t->group != NULL) {
		grace__group_member_exited(t->group);
		t->group = NULL;
	}
	/* The thread's end sets RELEASED and the abandon ABANDONED, each
	 * under the lock; whichever sees the other's bit frees the state. The
	 * acq_rel RMW and the lock (which valgrind's tools see) both order
	 * everything the first did before the free, and the first's unlock is
	 * its last touch of the state. */
	old = atomic_fetch_or_explicit(&t->state, GRACE__T_RELEASED, memory_order_acq_rel);
	grace__mutex_unlock(&t->lock);
	if (old & GRACE__T_ABANDONED)
		destroy(t);
}

static void *thread_main(void *arg)
{
	grace_thread *t = arg;
	tls_self = t;
	grace__self_blocked = &t->blocked;
	if (pthread_setspecific(exit_key, t) != 0) {
		/* ENOMEM: glibc allocates a thread's room for the values of
		 * keys past its first 32 on first use. Without the value a
		 * pthread_exit in fn would end the thread unseen and its joiner
		 * would wait forever; it ends at once instead, fn not run. */
		grace__blocked_end();
		finish(t, -ENOMEM);
		return NULL;
	}
#ifdef HAVE_PTHREAD_SETNAME_NP
	/* The kernel keeps 15 bytes; the reports keep the full name. */
	char os_name[16];
	size_t n = strlen(t->name);
	if (n > sizeof os_name - 1)
		n = sizeof os_name - 1;
	memcpy(os_name, t->name, n);
	os_name[n] = '\0';
	/* Only a convenience for debuggers and ps (the name fits, so glibc
	 * cannot fail; other systems may refuse): the reports and the list of
	 * running threads carry the full name whatever the answer. */
	(void)pthread_setname_np(pthread_self(), os_name);
#endif
	grace__blocked_end(); /* running its own code, since now */
	finish(t, t->fn(t->stop, t->arg));
	return NULL;
}

int grace__thread_opts_check(const grace_thread_opts *opts, size_t *stack)
{
	*stack = DEFAULT_STACK;
	if (opts == NULL)
		return 0;
	for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
		if (opts->reserved[i] != 0)
			return -EINVAL;
	if (opts->stack_size == 0)
		return 0;
	if (opts->stack_size < (size_t)PTHREAD_STACK_MIN || opts->stack_size > SIZE_MAX / 2)
		return -EINVAL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	*stack = (opts->stack_size + page - 1) / page * page;
	return 0;
}

int grace__thread_start(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                        grace_stop *parent, const grace_thread_opts *opts, struct grace_group *g)
{
	size_t stack;
	if (out == NULL || fn == NULL || (parent != NULL && !grace__stop_live(parent)) ||
	    grace__thread_opts_check(opts, &stack) < 0)
		return -EINVAL;
	if (name == NULL)
		name = "thread";
	if (!exit_key_ready())
		return -EAGAIN;

	size_t len = strlen(name);
	grace_thread *t = grace__calloc(1, sizeof *t + len + 1);
	if (t == NULL)
		return -ENOMEM;
	memcpy(t->name, name, len + 1);
	int r = grace_stop_new(&t->stop, parent);
	if (r < 0) {
		free(t);
		return r;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		grace_stop_free(t->stop);
		free(t);
		return -ENOMEM;
	}
	t->fn = fn;
	t->arg = arg;
	t->group = g;
	t->home = g;
	t->defers = t->inline_defers;
	t->capdefers = sizeof t->inline_defers / sizeof t->inline_defers[0];
	atomic_store_explicit(&t->blocked.since, grace__os_now(), memory_order_relaxed);
	atomic_fetch_add_explicit(&grace__thread_states, 1, memory_order_relaxed);
	/* Release: pairs with handle_live's acquire. */
	atomic_store_explicit(&t->magic, GRACE__THREAD_MAGIC, memory_order_release);
	registry_add(t);

	pthread_attr_t attr;
	r = pthread_attr_init(&attr);
	if (r == 0) {
		r = pthread_attr_setstacksize(&attr, stack);
		if (r == 0)
			r = pthread_create(&t->tid, &attr, thread_main, t);
		/* Cannot fail for attributes that pthread_attr_init made. */
		int dr = pthread_attr_destroy(&attr);
		GRACE_ASSERT(dr == 0);
		(void)dr;
	}
	if (r != 0) {
		registry_remove(t);
		grace_stop_free(t->stop);
		lock_destroy(t);
		atomic_store_explicit(&t->magic, 0, memory_order_relaxed);
		atomic_fetch_sub_explicit(&grace__thread_states, 1, memory_order_relaxed);
		free(t);
		return r == ENOMEM ? -ENOMEM : -EAGAIN;
	}
	*out = t;
	return 0;
}

int grace_thread_start(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                       grace_stop *parent)
{
	return grace__thread_start(out, name, fn, arg, parent, NULL, NULL);
}

int grace_thread_start_opts(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                            grace_stop *parent, const grace_thread_opts *opts)
{
	return grace__thread_start(out, name, fn, arg, parent, opts, NULL);
}

/* Whether the handle may be used by its owner: live, not given up. */
static bool handle_usable(const grace_thread *t)
{
	return handle_live(t) &&
	       (atomic_load_explicit(&((grace_thread *)(uintptr_t)t)->state, memory_order_relaxed) &
	        GRACE__T_ABANDONED) == 0;
}

int grace_thread_stop(grace_thread *t, int reason)
{
	if (!handle_usable(t) || reason <= 0)
		return -EINVAL;
	return grace_stop_request(t->stop, reason);
}

grace_stop *grace_thread_get_stop(grace_thread *t)
{
	return handle_usable(t) ? t->stop : NULL;
}

grace_thread *grace_thread_self(void)
{
	return tls_self;
}

/* Claim the handle for a join or an abandon: -EINVAL if it is given up,
 * a member of a group (the group owns it), the caller itself (a join would
 * never return), or already claimed by a join in another thread. */
static int claim(grace_thread *t, bool joining)
{
	if (!handle_live(t) || t->home != NULL || (joining && t == tls_self))
		return -EINVAL;
	uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	do {
		if (s & (GRACE__T_BUSY | GRACE__T_ABANDONED))
			return -EINVAL;
	} while (!atomic_compare_exchange_weak_explicit(&t->state, &s, s | GRACE__T_BUSY,
	                                                memory_order_acquire, memory_order_relaxed));
	return 0;
}

/* A joined thread's result and exit time, read after its pthread_join.
 * Out of line so that a valgrind suppression can name these reads (see
 * tests/valgrind/grace.supp: DRD can take a pthread_join for the wrong
 * thread). */
static __attribute__((noinline)) void joined_outcome(const grace_thread *t, int *result, int64_t *exit_ns)
{
	if (result != NULL)
		*result = t->result;
	if (exit_ns != NULL)
		*exit_ns = t->exit_ns;
}

/* Join the pthread of a thread whose handle the caller owns (claimed, or
 * taken off its group's list), so no one else joins or detaches it. */
static void join_pthread(grace_thread *t)
{
	int r = pthread_join(t->tid, NULL);
	if (r == EDEADLK) {
		/* The thread itself, after its bookkeeping, where it no longer
		 * knows itself (a thread-specific destructor of another library
		 * that runs after ours and waits for the group): it has set
		 * RELEASED and touches nothing more, so detach it instead, and
		 * the system reclaims it when it ends. */
		r = pthread_detach(t->tid);
	}
	GRACE_ASSERT(r == 0);
	(void)r;
}

void grace__thread_reap(grace_thread *t, int *result, int64_t *exit_ns)
{
	join_pthread(t);
	joined_outcome(t, result, exit_ns);
	destroy(t);
}

int grace_thread_join(grace_thread *t, grace_deadline d, int *result)
{
	int r = claim(t, true);
	if (r < 0)
		return r;
	/* Acquire: pairs with the exit's release RMW (result, exit_ns). */
	uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
	if (!(s & GRACE__T_EXITED) && d == GRACE_FOREVER) {
		/* Without a deadline pthread_join is the whole wait: it sleeps
		 * until the kernel's wake-up at the thread's end, and the thread
		 * then skips its own wake (no WAITING). */
		grace__blocked_begin("thread_join", t->name, 0);
		join_pthread(t);
		grace__blocked_end();
		joined_outcome(t, result, NULL);
		destroy(t);
		return 0;
	}
	if (!(s & GRACE__T_EXITED)) {
		/* Seq_cst: ordered against the exit's RMW (see finish). */
		s = atomic_fetch_or_explicit(&t->state, GRACE__T_WAITING, memory_order_seq_cst) |
		    GRACE__T_WAITING;
		struct grace__site site = {"thread_join", t->name, 0};
		while (!(s & GRACE__T_EXITED)) {
			r = grace__wait(&t->state, s, NULL, d, &site);
			s = atomic_load_explicit(&t->state, memory_order_acquire);
			if (r == -ETIMEDOUT && !(s & GRACE__T_EXITED)) {
				/* The handle stays valid for another join or an abandon. */
				atomic_fetch_and_explicit(&t->state, ~GRACE__T_BUSY, memory_order_release);
				return -ETIMEDOUT;
			}
		}
	}
	grace__thread_reap(t, result, NULL);
	return 0;
}

void grace__thread_release(grace_thread *t)
{
	/* Cut the link from the thread's stop to its parent once the parent
	 * has been requested, so that the parent can be freed while the
	 * abandoned thread still runs. */
	grace__stop_detach(t->stop);
	/* Joinable until now: the caller owns the handle (claim, or its
	 * group's list), so no one else joins or detaches it. */
	int r = pthread_detach(t->tid);
	GRACE_ASSERT(r == 0);
	(void)r;
	grace__mutex_lock(&t->lock);
	if (t->group != NULL) {
		/* Not counted out yet: it leaves the running count now. */
		grace__group_member_abandoned(t->group);
		t->group = NULL;
	}
	/* Under the lock, as the thread's RELEASED (see finish). */
	uint32_t old = atomic_fetch_or_explicit(&t->state, GRACE__T_ABANDONED, memory_order_acq_rel);
	GRACE_ASSERT((old & GRACE__T_ABANDONED) == 0); /* the handle's owner gives it up once */
	grace__mutex_unlock(&t->lock);
	if (old & GRACE__T_RELEASED)
		destroy(t);
}

int grace_thread_abandon(grace_thread *t)
{
	int r = claim(t, false);
	if (r < 0)
		return r;
	grace__thread_release(t);
	return 0;
}

_Noreturn void grace_thread_exit(int result)
{
	/* From inside a stop callback: finish the request first. */
	grace__stop_finish_requests();
	grace_thread *t = tls_self;
	if (t != NULL)
		finish(t, result);
	pthread_exit(NULL);
}

int grace_defer(void (*fn)(void *arg), void *arg)
{
	grace_thread *t = tls_self;
	/* finished: its handlers have run (a callback on its group's stop,
	 * run by its failure report, calls from there): one pushed now would
	 * never run. */
	if (t == NULL || fn == NULL || t->finished)
		return -EINVAL;
	if (t->ndefers == t->capdefers) {
		size_t cap = t->capdefers * 2;
		struct grace__defer *nd;
		if (t->defers == t->inline_defers) {
			nd = grace__malloc(cap * sizeof *nd);
			if (nd != NULL)
				memcpy(nd, t->defers, t->ndefers * sizeof *nd);
		} else {
			nd = grace__realloc(t->defers, cap * sizeof *nd);
		}
		if (nd == NULL)
			return -ENOMEM;
		t->defers = nd;
		t->capdefers = cap;
	}
	t->defers[t->ndefers].fn = fn;
	t->defers[t->ndefers].arg = arg;
	t->ndefers++;
	return 0;
}

/* ---- what a group and the printer may know of a thread ---- */

const char *grace__thread_name(const grace_thread *t)
{
	return t->name;
}

struct grace__member *grace__thread_member(grace_thread *t)
{
	return &t->member;
}

struct grace_group *grace__thread_home(const grace_thread *t)
{
	return t->home;
}

bool grace__thread_exited(const grace_thread *t)
{
	/* Acquire: pairs with the exit's release RMW of EXITED (see finish),
	 * so that result and exit_ns are visible to grace__thread_outcome. */
	return (atomic_load_explicit(&((grace_thread *)(uintptr_t)t)->state, memory_order_acquire) &
	        GRACE__T_EXITED) != 0;
}

/* A member's result and exit time, published by its exit's release RMW of
 * EXITED and acquired by grace__thread_exited. Kept out of line so that the
 * valgrind suppressions can name these reads: Helgrind and DRD do not see
 * that pair (the join that frees the state comes after, and only then
 * would they). */
__attribute__((noinline)) void grace__thread_outcome(const grace_thread *t, int *result, int64_t *exit_ns)
{
	*result = t->result;
	*exit_ns = t->exit_ns;
}

void grace__thread_blocked(grace_thread *t, const char **op, const char **on, int64_t *since)
{
	grace__blocked_read(&t->blocked, op, on, since);
}

void grace__threads_lock(void)
{
	grace__mutex_lock(&reg_lock);
}

grace_thread *grace__threads_next(grace_thread *t)
{
	struct grace__link *l = t != NULL ? t->rlink.next : registry.first;
	return l != NULL ? grace__container_of(l, grace_thread, rlink) : NULL;
}

void grace__threads_unlock(void)
{
	grace__mutex_unlock(&reg_lock);
}
