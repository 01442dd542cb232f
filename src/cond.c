/*
 * cond.c - a stop-aware condition variable for the caller's own
 * pthread_mutex_t, on a sequence word and two counters.
 *
 * Design. A waiter reads the sequence word `seq` while it still holds the
 * caller's mutex, unlocks, and sleeps (through the wait core, so that its
 * stop and its deadline end the sleep too) while `seq` is unchanged. A
 * signal or a broadcast bumps `seq` before it wakes anyone, so a signal
 * made after the waiter's predicate check (which the caller makes under the
 * same mutex) changes the word the waiter sleeps on: the kernel (or the
 * lot's bucket mutex) compares it atomically with going to sleep, and the
 * wake-up cannot be lost between the unlock and the sleep. A stop request
 * wakes the sleeper through the wait core without touching the caller's
 * mutex; the waiter then locks it again itself, so a requester that holds
 * the mutex does not deadlock.
 *
 * Two counters, as in the event (event.c), because two questions are asked.
 * `waiters` counts the threads from their registration, made under the
 * caller's mutex, until they wake: signal and broadcast read it first and do
 * nothing when it is 0 (no write, no system call), which is enough because
 * the caller changes the predicate under the mutex: a waiter registered
 * before the change is seen by a signal made after it (the mutex orders
 * them), and a waiter that registers after it sees the new predicate and
 * does not wait. `sleepers` counts only the threads past the brief spin,
 * which may sleep in the kernel: the wake system call is made only when it
 * is not zero, so a hand-off caught by the spin costs the signaller none.
 *
 * Orderings. The waiter increments `sleepers` and then reads `seq`, the
 * signaller bumps `seq` and then reads `sleepers`, all seq_cst: the
 * signaller sees the sleeper, or the sleeper sees the new `seq` (the
 * protocol src/cond.pml checks). `waiters` needs no more than the mutex's
 * own ordering (see above); its accesses are seq_cst all the same, which
 * costs nothing on the RMWs and keeps the model's steps the code's.
 *
 * A waiter that sees `seq` changed returns 0 even when its stop was
 * requested or its deadline passed meanwhile: with wake-one signals the
 * change may be the one meant for it, and a waiter that took a wake-up and
 * answered an error would leave another one asleep beside a true
 * predicate. Broadcast wakes every sleeper and lets them take the mutex in
 * turn: no requeue (docs/grace_cond_broadcast.md says why, with figures).
 */
#include "internal.h"

#include <limits.h>

/* The sleeping part: the waiter saw `seq` == s under the mutex, and its
 * spin did not see it change. Returns 0 when `seq` changed, or the error
 * that ended the sleep while `seq` held s. */
static int wait_asleep(grace_cond *c, uint32_t s, grace_stop *stop, grace_deadline d)
{
	/* Seq_cst, then the look at seq: pairs with the signaller's bump
	 * and its look at sleepers (see the top of the file). */
	atomic_fetch_add_explicit(&c->sleepers, 1, memory_order_seq_cst);
	uint32_t v = atomic_load_explicit(&c->seq, memory_order_seq_cst);
	struct grace__site site = {"cond_wait", NULL, 0};
	int r = 0;
	while (v == s) {
		r = grace__wait_nospin(&c->seq, s, stop, d, &site);
		v = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (r < 0)
			break;
	}
	atomic_fetch_sub_explicit(&c->sleepers, 1, memory_order_relaxed);
	/* A change seen is reported, even beside a stop or a deadline. */
	return v != s ? 0 : r;
}

int grace_cond_wait(grace_cond *c, pthread_mutex_t *m, grace_stop *stop, grace_deadline d)
{
	if (c == NULL || m == NULL || (stop != NULL && !grace__stop_live(stop)))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	/* A try: nothing can have been signalled since the call began, and
	 * the mutex stays held. */
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;

	/* Registered and the sequence read while the mutex is held: a signal
	 * after the caller's predicate check sees us, and bumps seq past s. */
	atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
	uint32_t s = atomic_load_explicit(&c->seq, memory_order_seq_cst);
	int e = pthread_mutex_unlock(m);
	if (e != 0) {
		/* Not the caller's to unlock (an error-checking or recursive
		 * mutex says so): nothing happened. */
		atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_seq_cst);
		return -e;
	}

	int r;
	if (grace__spin(&c->seq, s, stop))
		r = atomic_load_explicit(&c->seq, memory_order_acquire) != s ? 0 : -ECANCELED;
	else
		r = wait_asleep(c, s, stop, d);
	/* Our last access to c: after it, c may be freed by a thread that
	 * knows (from the predicate, under the mutex) that we are done. */
	atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_seq_cst);

	e = pthread_mutex_lock(m);
	/* A robust mutex whose owner died: EOWNERDEAD (held, to be made
	 * consistent) or ENOTRECOVERABLE (not held). */
	return e != 0 ? -e : r;
}

static int wake(grace_cond *c, int n)
{
	if (c == NULL)
		return -EINVAL;
	/* No waiter registered: nothing to do (see the top of the file). */
	if (atomic_load_explicit(&c->waiters, memory_order_seq_cst) == 0)
		return 0;
	atomic_fetch_add_explicit(&c->seq, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&c->sleepers, memory_order_seq_cst) != 0)
		grace__wake(&c->seq, n);
	return 0;
}

int grace_cond_signal(grace_cond *c)
{
	return wake(c, 1);
}

int grace_cond_broadcast(grace_cond *c)
{
	return wake(c, INT32_MAX);
}
