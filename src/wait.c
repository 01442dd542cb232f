/*
 * wait.c - the wait core: sleep until an object changes or a stop is
 * requested, whichever comes first, or until a deadline. Every blocking call
 * in grace (event, queue, sleep, join) is a loop around grace__wait().
 *
 * Protocol. An object exposes a 32-bit word that changes whenever a waiter
 * might have something to do; its waker changes the word and then wakes it.
 * A waiter reads the word (val), checks its condition, and calls
 * grace__wait(w, val, stop, d), which sleeps only while *w == val. Because
 * the kernel (or the lot's bucket mutex) compares the word atomically with
 * going to sleep, a change made before the sleep makes the sleep return at
 * once: the object's wake-up cannot be lost.
 *
 * The stop is the second word. On Linux the waiter sleeps on both words
 * with futex_waitv. Before sleeping it sets SLEEPERS in the stop's word
 * (one RMW, skipped when already set) and expects the word to read exactly
 * SLEEPERS. A request does fetch_or(REQUESTED) and wakes the word only if
 * it saw SLEEPERS. Both are read-modify-writes of the same word, so they are
 * totally ordered: either the request sees SLEEPERS and wakes, or the
 * waiter's futex_waitv sees REQUESTED in the word and does not sleep. The
 * stop's wake-up cannot be lost either, and the stop keeps no waiter list.
 *
 * The parent's word. A child stop is requested by its parent's request, one
 * child after another, and each child's word is woken in turn: 64 threads
 * of a group, each sleeping on its own stop, would be woken by 64 system
 * calls, each waiting for the last to be scheduled. So a waiter whose stop
 * has a parent sleeps on the parent's word too (announced with SLEEPERS in
 * the same way), and one wake of the parent's word wakes every child's
 * waiter at once. A waiter that finds the parent requested and its own stop
 * not yet (the requester has not reached it) requests its stop itself when
 * that is only setting the flag: no callbacks (children are callbacks) and
 * no descriptor, checked under the stop's lock, which grace_stop_on and
 * grace_stop_fd also take, so none can appear in between. The two requests
 * race on the stop's reason and one wins, as any two requests do. The
 * helper's request wakes the stop's word as any request does, unless the
 * helper is the only thread that ever announced itself on it: the first
 * sleeper records itself in the stop (grace_stop.sleeper) and every other
 * sets OTHERS with an RMW before it sleeps, ordered with the helper's RMW
 * of REQUESTED, so either the helper sees OTHERS and wakes, or the other's
 * sleep sees REQUESTED. A group's thread, alone on its stop, then makes no
 * system call for its own request. The parent's request still returns with
 * every child's flag set, and a child with callbacks is left to the
 * parent's requester, so they run in the requesting thread and have all run
 * when the parent's request returns.
 * The parent's word is read under the stop's lock: the link is cleared
 * under it (an abandoned thread's stop, thread.c) before the parent may be
 * freed. The sleep itself may outlast the parent; the kernel then reads a
 * freed word, which can only end the sleep early (a fault or a stray wake
 * reads as a spurious wake-up, and the waiter looks at the link again).
 *
 * Where futex_waitv is missing the waiter registers a stop callback that
 * wakes its object's word, and sleeps in the lot (posix/lot.c), which
 * checks the stop's REQUESTED bit under the bucket mutex. The request sets
 * REQUESTED before it runs callbacks and the callback takes the same mutex
 * to wake, so the waiter either sees the bit or is asleep when the wake
 * comes. grace_stop_off() then waits out a callback still running.
 *
 * Spin policy: before sleeping, a waiter re-checks both words SPIN_PAUSES
 * times with a CPU pause, then yields the CPU SPIN_YIELDS times. A hand-off
 * between two running threads then completes without a sleep (a futex
 * sleep and wake-up costs 15-20 microseconds here), and the yields let a
 * partner that shares our CPU run and answer. A pause costs about 25 ns on
 * these machines, so the pauses last about 0.4 us: long enough to catch a
 * partner running on another CPU, short enough that two threads sharing
 * one CPU lose little to it (200 pauses, tried first, cost a one-CPU ping-
 * pong 13 us per round trip against 4 us). A waiter whose condition does
 * not come within the spin sleeps in the kernel and then wakes zero times
 * until it is woken. A try (a deadline already past) never spins, and
 * neither does grace__wait_nospin(), the entry point for waits that know
 * nothing will change the word soon (grace_sleep: only the stop or the
 * deadline can end it, so a spin would only burn CPU), or that spun
 * already with grace__spin() (the event spins before it counts itself a
 * waiter, so that a set during a hand-off makes no wake system call).
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
	if ((sv & GRACE__STOP_OTHERS) == 0 &&
	    grace__stop_sleeper(s) != grace__self_id())
		sv = atomic_fetch_or_explicit(sw, GRACE__STOP_OTHERS, memory_order_seq_cst) | GRACE__STOP_OTHERS;
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
	pthread_mutex_lock(&stop->lock);
	grace_stop *p = stop->parent;
	if (p != NULL) {
		*pv = announce_child(&p->flag.word);
		if (*pv != 0)
			*pw = &p->flag.word;
		else if (grace__stop_help_locked(stop))
			r = -ECANCELED;
	}
	pthread_mutex_unlock(&stop->lock);
	return r;
}

/* Sleep on the object and the stop; the stop is not requested at entry. */
static int sleep_with_stop(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d)
{
	_Atomic uint32_t *sw = &stop->flag.word;
	int r;
	for (;;) {
		uint32_t sv = announce(stop);
		if (sv == 0)
			return -ECANCELED;
		_Atomic uint32_t *pw = NULL;
		uint32_t pv = 0;
		/* The fallback engine has its own way (below) and no use for
		 * the parent's word. */
		if (stop->parent != NULL && grace__os_multiwait() && watch_parent(stop, &pw, &pv) < 0)
			return -ECANCELED;
		r = grace__os_wait3(w, val, sw, sv, pw, pv, d);
		/* Woken with the object and the stop unchanged: the parent's
		 * request (or nothing); look at the parent again. */
		if (r != 0 || pw == NULL || atomic_load_explicit(w, memory_order_acquire) != val ||
		    grace_stop_requested(stop))
			break;
	}
	if (r != -ENOSYS)
		return r;

	grace_stop_cb cb = {0};
	if (grace_stop_on(stop, &cb, wake_word, (void *)w) == 1)
		return -ECANCELED;
	r = grace__os_wait_or_stop(w, val, sw, d);
	grace_stop_off(&cb);
	return r;
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

static int wait_core(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d,
                     struct grace__site *site, int spins)
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
