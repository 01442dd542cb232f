/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the wait core, and the one home of the stop word's wake protocol.
 *
 * Every blocking call in grace is a loop around grace__wait(w, val, stop, d):
 * sleep while the object's word *w still holds val, until the stop is
 * requested or the deadline passes. The object's waker changes its word and
 * then wakes it; the kernel (or the lot's bucket mutex) compares the word
 * atomically with going to sleep, so that wake-up cannot be lost.
 *
 * The stop's word protocol, which src/wait.pml models step for step (change
 * both together), is this. With futex_waitv a waiter sleeps on its object's
 * word and its stop's word at once. Before it sleeps it announces itself on
 * the stop's word with an RMW: SLEEPERS (the first sleeper also records
 * itself in grace_stop.sleeper), and OTHERS if it is not that first one. A
 * request raises REQUESTED with an RMW of the same word (grace__stop_raise)
 * and wakes the word only if it saw SLEEPERS: the two RMWs are ordered, so
 * the request sees the sleeper or the sleeper's futex_waitv sees REQUESTED.
 * A waiter whose stop has a parent also announces itself on the parent's
 * word and sleeps on it too, so one wake of a parent wakes its children's
 * waiters at once; such a waiter, finding the parent requested before its
 * own stop, requests its stop itself when that is only raising the flag
 * (grace__stop_help_locked, under the stop's lock: no children, callbacks or
 * descriptor), and skips the wake when it is the stop's first sleeper and no
 * one set OTHERS. Without futex_waitv the waiter registers a stop callback
 * that wakes its object's bucket, and the lot checks REQUESTED under the
 * bucket mutex before sleeping. Which of the two happens is the sleep
 * engine's to say (platform.h: watches_stop), chosen once at load. docs/internals.md tells why, with the
 * figures; stop.c is the request around this protocol.
 *
 * Spin policy: before sleeping a waiter re-checks both words SPIN_PAUSES
 * times with a CPU pause and then yields SPIN_YIELDS times, so a hand-off
 * between running threads makes no system call (docs/internals.md has the
 * measurements). A try never spins, and neither does grace__wait_nospin(),
 * for waits that nothing but the stop or the deadline ends (grace_sleep) or
 * that spun already (the event).
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>

#define SPIN_PAUSES 16
#define SPIN_YIELDS 8

_Thread_local struct grace__blocked *grace__self_blocked;
_Thread_local char grace__id_anchor;

int64_t grace__blocked_begin(const char *op, const char *name, int64_t since)
{
	struct grace__blocked *b = grace__self_blocked;
	if (b == NULL)
		return since;
	/* The time first: anyone who sees the new op (even outside the
	 * seqlock, as a test's handshake does) sees a `since` no later than
	 * that moment. */
	int64_t now = since != 0 ? since : grace__os_now();
	/* A seqlock: readers retry while seq is odd or changed under them. */
	atomic_fetch_add_explicit(&b->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&b->op, op, memory_order_relaxed);
	atomic_store_explicit(&b->name, name, memory_order_relaxed);
	atomic_store_explicit(&b->since, now, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
	return now;
}

void grace__blocked_end(void)
{
	grace__blocked_begin(NULL, NULL, 0);
}

void grace__blocked_read(struct grace__blocked *b, const char **op, const char **name, int64_t *since)
{
	uint32_t s0, s1;
	do {
		s0 = atomic_load_explicit(&b->seq, memory_order_acquire);
		*op = atomic_load_explicit(&b->op, memory_order_relaxed);
		*name = atomic_load_explicit(&b->name, memory_order_relaxed);
		*since = atomic_load_explicit(&b->since, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s1 = atomic_load_explicit(&b->seq, memory_order_relaxed);
	} while ((s0 & 1u) != 0 || s0 != s1);
}

/* The stop's first sleeper, relaxed both ways: a reader that misses the
 * store counts itself another sleeper, which costs a wake and loses none.
 * Out of line so that the valgrind suppressions (tests/valgrind/grace.supp)
 * can name these accesses: Helgrind and DRD do not model C11 atomics. */
static __attribute__((noinline)) uintptr_t grace__stop_sleeper(grace_stop *s)
{
	return atomic_load_explicit(&s->sleeper, memory_order_relaxed);
}

static __attribute__((noinline)) void grace__stop_set_sleeper(grace_stop *s)
{
	atomic_store_explicit(&s->sleeper, grace__self_id(), memory_order_relaxed);
}

void grace__stop_raise(grace_stop *s, bool self)
{
	/* Release: pairs with grace_stop_requested's acquire (the reason is
	 * visible). Seq_cst RMW: ordered against a waiter's announcing RMW. */
	uint32_t old = atomic_fetch_or_explicit(&s->flag.word, GRACE__STOP_REQUESTED, memory_order_seq_cst);
	/* Any other sleeper set OTHERS with an RMW before it slept, ordered
	 * with ours: we see it, or its sleep sees REQUESTED. */
	bool alone = self && (old & GRACE__STOP_OTHERS) == 0 && grace__stop_sleeper(s) == grace__self_id();
	if ((old & GRACE__STOP_SLEEPERS) && !alone)
		grace__os_wake(&s->flag.word, INT32_MAX);
}

static void wake_word(void *arg)
{
	grace__os_wake(arg, INT32_MAX);
}

/* Announce the calling thread as a sleeper on its stop's word: the value to
 * sleep on, or 0 if the stop is requested. The first sleeper records
 * itself; any other sets OTHERS. Each RMW is made once per stop and thread
 * and skipped once its bit is seen set. */
static uint32_t announce(grace_stop *s)
{
	_Atomic uint32_t *sw = &s->flag.word;
	uint32_t sv = atomic_load_explicit(sw, memory_order_relaxed);
	if ((sv & GRACE__STOP_SLEEPERS) == 0) {
		uint32_t old = atomic_fetch_or_explicit(sw, GRACE__STOP_SLEEPERS, memory_order_seq_cst);
		sv = old | GRACE__STOP_SLEEPERS;
		/* Relaxed: a reader that misses it counts itself another. */
		if ((old & GRACE__STOP_SLEEPERS) == 0)
			grace__stop_set_sleeper(s);
	}
	if ((sv & GRACE__STOP_OTHERS) == 0 && grace__stop_sleeper(s) != grace__self_id())
		sv = atomic_fetch_or_explicit(sw, GRACE__STOP_OTHERS, memory_order_seq_cst) |
		     GRACE__STOP_OTHERS;
	return sv & GRACE__STOP_REQUESTED ? 0 : sv;
}

/* Announce a sleeper of a child on its parent's word: always another. */
static uint32_t announce_child(_Atomic uint32_t *pw)
{
	const uint32_t both = GRACE__STOP_SLEEPERS | GRACE__STOP_OTHERS;
	uint32_t pv = atomic_load_explicit(pw, memory_order_relaxed);
	if ((pv & both) != both)
		pv = atomic_fetch_or_explicit(pw, both, memory_order_seq_cst) | both;
	return pv & GRACE__STOP_REQUESTED ? 0 : pv;
}

/* The parent's word to sleep on as well (NULL: none), announced. If the
 * parent is requested already, request the stop in place of the parent's
 * requester where that is only setting its flag: -ECANCELED. */
static int watch_parent(grace_stop *stop, _Atomic uint32_t **pw, uint32_t *pv)
{
	int r = 0;
	*pw = NULL;
	grace__mutex_lock(&stop->lock);
	grace_stop *p = stop->parent;
	if (p != NULL) {
		*pv = announce_child(&p->flag.word);
		if (*pv != 0)
			*pw = &p->flag.word;
		else if (grace__stop_help_locked(stop))
			r = -ECANCELED;
	}
	grace__mutex_unlock(&stop->lock);
	return r;
}

/* Sleep on the object and the stop; the stop is not requested at entry.
 * The engine says how: one that watches the stop's word sleeps on it (and
 * on the parent's) and is woken by the request itself; one that does not
 * (the lot) is woken through a stop callback that wakes the object's word.
 * The callback is made here, not in the engine, because it is the stop's
 * business: the engine stays a table of word operations that a test can
 * fake without knowing what a stop is. */
static int sleep_with_stop(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d)
{
	const struct grace__engine *e = grace__engine_get();
	_Atomic uint32_t *sw = &stop->flag.word;
	int r;
	uint32_t sv = announce(stop);
	if (sv == 0)
		return -ECANCELED;
	if (!e->watches_stop) {
		grace_stop_cb cb = {0};
		if (grace_stop_on(stop, &cb, wake_word, (void *)w) == 1)
			return -ECANCELED;
		r = e->wait_stop(w, val, sw, sv, NULL, 0, d);
		grace_stop_off(&cb);
		return r;
	}
	for (;;) {
		_Atomic uint32_t *pw = NULL;
		uint32_t pv = 0;
		if (stop->parent != NULL && watch_parent(stop, &pw, &pv) < 0)
			return -ECANCELED;
		r = e->wait_stop(w, val, sw, sv, pw, pv, d);
		/* Woken with the object and the stop unchanged: the parent's
		 * request (or nothing); look at the parent again. */
		if (r != 0 || pw == NULL || atomic_load_explicit(w, memory_order_acquire) != val ||
		    grace_stop_requested(stop))
			return r;
		sv = announce(stop);
		if (sv == 0)
			return -ECANCELED;
	}
}

bool grace__spin(_Atomic uint32_t *w, uint32_t val, grace_stop *stop)
{
	for (int i = 0; i < SPIN_PAUSES + SPIN_YIELDS; i++) {
		if (atomic_load_explicit(w, memory_order_acquire) != val || grace_stop_requested(stop))
			return true;
		if (i < SPIN_PAUSES)
			grace__os_pause();
		else
			sched_yield();
	}
	return false;
}

static int wait_core(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d, struct grace__site *site,
                     int spins)
{
	if (d != INT64_MAX && grace__os_now() >= d)
		return atomic_load_explicit(w, memory_order_acquire) != val ? 0 : -ETIMEDOUT;

	if (spins > 0 && grace__spin(w, val, stop))
		return atomic_load_explicit(w, memory_order_acquire) != val ? 0 : -ECANCELED;

	site->since = grace__blocked_begin(site->op, site->name, site->since);
	int r = stop != NULL ? sleep_with_stop(w, val, stop, d) : grace__os_wait(w, val, d);
	grace__blocked_end();

	/* Whatever woke us, report what is true now: the object first. */
	if (atomic_load_explicit(w, memory_order_acquire) != val)
		return 0;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	if (r == -ETIMEDOUT || (d != INT64_MAX && grace__os_now() >= d))
		return -ETIMEDOUT;
	return 0;
}

int grace__wait(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d, struct grace__site *site)
{
	return wait_core(w, val, stop, d, site, 1);
}

int grace__wait_nospin(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d,
                       struct grace__site *site)
{
	/* One look at the stop before sleeping: sleep_with_stop re-checks it
	 * atomically with going to sleep, so nothing is missed without a spin. */
	if (grace_stop_requested(stop))
		return -ECANCELED;
	return wait_core(w, val, stop, d, site, 0);
}

void grace__engine_install(const struct grace__engine *e)
{
	atomic_store_explicit(&grace__engine, e != NULL ? e : grace__os_engine(), memory_order_release);
}
