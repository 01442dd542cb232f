/* SPDX-License-Identifier: MIT */
/*
 * cond.c - a stop-aware condition variable for the caller's own
 * pthread_mutex_t, on the waiter lists of word.c.
 *
 * Design. A waiter links a record on its own stack into the condition's
 * waiter list while it still holds the caller's mutex, unlocks, and waits
 * until a signal takes its record: a brief spin on the record, then asleep
 * through the wait core, so that its stop and its deadline end the sleep
 * too. A signal takes the oldest record and wakes it if it sleeps; a
 * broadcast takes them all. The caller changes the predicate under the
 * mutex, so a signal made after the waiter's predicate check finds its
 * record, already linked: no wake-up is lost between the unlock and the
 * sleep. A stop request wakes the sleeper through the wait core without
 * touching the caller's mutex; the waiter then locks it again itself, so a
 * requester that holds the mutex does not deadlock.
 *
 * Why records and not a sequence word that waiters sleep on. With one word
 * a signaller cannot tell whether the sleepers it counts were already
 * woken by an earlier signal, so while a woken waiter has not run yet
 * every signal makes another wake system call (glibc's condvar avoids it
 * with groups of waiters). In the bounded-ring benchmark, where signals
 * follow each other faster than a woken thread is scheduled, that made the
 * sequence-word design several times slower than pthread_cond_t whenever
 * waiters really slept (docs/grace_cond_signal.md has the figures). A
 * record is taken once, so a signal makes at most one system call, and
 * none while no waiter is left untaken or the one it takes still spins.
 * Signals wake exactly the waiters they take, oldest first, on both
 * engines.
 *
 * `waiters` counts the records linked and not yet taken: signal and
 * broadcast read it first and do nothing (no lock, no write, no system
 * call) when it is 0. That is enough because the caller changes the
 * predicate under the mutex: a waiter linked before the change is seen by
 * a signal made after it (the mutex orders them), and a waiter that links
 * after it sees the new predicate and does not wait.
 *
 * A waiter whose record was taken returns 0 even when its stop was
 * requested or its deadline passed meanwhile: the wake-up was meant for
 * it, and answering an error would leave another waiter asleep beside a
 * true predicate (the protocol src/cond.pml checks).
 *
 * Lock order: the caller's mutex, then a waiter-list bucket's lock (word.c);
 * signal and broadcast take only the bucket's.
 */
#include "internal.h"

#include <limits.h>

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

	/* Linked while the mutex is held: a signal after the caller's
	 * predicate check takes us. */
	struct grace__waiter me;
	grace__wlist_link(&me, c, NULL, 0, &c->waiters);
	int e = pthread_mutex_unlock(m);
	if (e != 0) {
		/* Not the caller's to unlock (an error-checking or recursive
		 * mutex says so): nothing happened. */
		grace__wlist_leave(&me, &c->waiters);
		return -e;
	}

	int r = 0;
	/* The spin: while the record is neither taken nor asleep (state 0). */
	if (!grace__spin(&me.state, 0, stop) || !grace__wlist_taken(&me)) {
		struct grace__site site = {"cond_wait", NULL, 0};
		do
			r = grace__wlist_sleep(&me, stop, d, &site);
		while (r == 0 && !grace__wlist_taken(&me));
		/* Taken meanwhile: the wake-up is ours, whatever else fired. */
		if (r < 0 && !grace__wlist_leave(&me, &c->waiters))
			r = 0;
	}

	e = pthread_mutex_lock(m);
	/* A robust mutex whose owner died: EOWNERDEAD (held, to be made
	 * consistent) or ENOTRECOVERABLE (not held). */
	return e != 0 ? -e : r;
}

static int wake(grace_cond *c, int n)
{
	if (c == NULL)
		return -EINVAL;
	/* No record left untaken: nothing to do (see the top of the file). */
	if (atomic_load_explicit(&c->waiters, memory_order_relaxed) == 0)
		return 0;
	grace__wlist_take(c, n, &c->waiters);
	return 0;
}

int grace_cond_signal(grace_cond *c)
{
	return wake(c, 1);
}

int grace_cond_broadcast(grace_cond *c)
{
	return wake(c, INT_MAX);
}
