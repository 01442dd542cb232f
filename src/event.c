/* SPDX-License-Identifier: MIT */
/*
 * event.c - threading.Event on one 32-bit word and two counters.
 *
 * The word holds SET (bit 0), DESTROYED (bit 1) and a generation (bits
 * 2..31) that a set bumps when it turns a clear event set. A waiter that saw
 * the event clear at generation g sleeps while the word is unchanged, and
 * returns 0 as soon as it differs: a set since then changed the generation
 * even if a clear followed at once, so a set is never missed. Clear leaves
 * the generation alone, so it wakes no one.
 *
 * Two counters, because two questions are asked about waiters and they
 * must not share an answer. `inside` counts every thread between its first
 * look at a clear event and its return, spin included: destroy answers
 * -EBUSY while it is not zero, so an event is never destroyed (and freed)
 * under a thread that will still read it. `waiters` counts only the threads
 * past the spin, which may sleep in the kernel: set makes the wake system
 * call only when it is not zero, so a hand-off caught by the waiter's spin
 * costs the setter no system call. Counting spinners there would make every
 * hand-off pay one; leaving them out of destroy's count let destroy succeed
 * under a spinning thread.
 *
 * Orderings. `waiters`: the waiter increments it before its last look at
 * the word and the setter reads it after its RMW on the word, both seq_cst:
 * either the setter sees the waiter, or the waiter sees SET (the protocol
 * src/wait.pml checks). `inside`: the increment is relaxed, since destroy
 * must see a waiter only when the waiter's entry happens-before the
 * destroy (a destroy racing with a wait's entry is the caller's race, and
 * the waiter then answers -EINVAL); the decrement is a release that pairs
 * with destroy's acquire load, so every access of the waiter to the event
 * is over before a destroy that saw it gone returns. An event already set
 * and a try (a past deadline) never touch either counter.
 */
#include "internal.h"

#include <limits.h>

#define EV_SET 1u
#define EV_DESTROYED 2u
#define EV_GEN 4u

int grace_event_init(grace_event *ev)
{
	if (ev == NULL)
		return -EINVAL;
	atomic_store(&ev->word, 0);
	atomic_store(&ev->waiters, 0);
	atomic_store(&ev->inside, 0);
	return 0;
}

int grace_event_destroy(grace_event *ev)
{
	if (ev == NULL)
		return -EINVAL;
	/* Acquire: pairs with a waiter's release decrement (see above). Every
	 * sleeper is inside too. */
	if (atomic_load_explicit(&ev->inside, memory_order_acquire) != 0)
		return -EBUSY;
	uint32_t w = atomic_load(&ev->word);
	do {
		if (w & EV_DESTROYED)
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(&ev->word, &w, EV_DESTROYED));
	return 0;
}

int grace_event_set(grace_event *ev)
{
	if (ev == NULL)
		return -EINVAL;
	uint32_t w = atomic_load_explicit(&ev->word, memory_order_relaxed);
	do {
		if (w & EV_DESTROYED)
			return -EINVAL;
		if (w & EV_SET)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&ev->word, &w, (w + EV_GEN) | EV_SET,
	                                                memory_order_seq_cst, memory_order_relaxed));
	if (atomic_load_explicit(&ev->waiters, memory_order_seq_cst) != 0)
		grace__os_wake(&ev->word, INT32_MAX);
	return 0;
}

int grace_event_clear(grace_event *ev)
{
	if (ev == NULL)
		return -EINVAL;
	uint32_t w = atomic_load_explicit(&ev->word, memory_order_relaxed);
	do {
		if (w & EV_DESTROYED)
			return -EINVAL;
		if (!(w & EV_SET))
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&ev->word, &w, w & ~EV_SET, memory_order_relaxed,
	                                                memory_order_relaxed));
	return 0;
}

bool grace_event_is_set(const grace_event *ev)
{
	if (ev == NULL)
		return false;
	uint32_t w = atomic_load_explicit(&((grace_event *)(uintptr_t)ev)->word, memory_order_acquire);
	return (w & (EV_SET | EV_DESTROYED)) == EV_SET;
}

/* The sleeping part of a wait: the event was clear at w and the spin did
 * not see it change. */
static int wait_asleep(grace_event *ev, uint32_t w, grace_stop *stop, grace_deadline d)
{
	atomic_fetch_add_explicit(&ev->waiters, 1, memory_order_seq_cst);
	uint32_t v = atomic_load_explicit(&ev->word, memory_order_seq_cst);
	struct grace__site site = {"event_wait", NULL, 0};
	int r;
	for (;;) {
		if (v != w) {
			/* A set happened since w, or (misuse) a destroy or init. */
			r = (v & EV_DESTROYED) ? -EINVAL : 0;
			break;
		}
		r = grace__wait_nospin(&ev->word, w, stop, d, &site);
		v = atomic_load_explicit(&ev->word, memory_order_acquire);
		if (r < 0 && v == w)
			break;
	}
	atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_release);
	return r;
}

int grace_event_wait(grace_event *ev, grace_stop *stop, grace_deadline d)
{
	if (ev == NULL || (stop != NULL && !grace__stop_live(stop)))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	/* Acquire: pairs with the setter's RMW, so what was written before the
	 * set is visible after we return. */
	uint32_t w = atomic_load_explicit(&ev->word, memory_order_acquire);
	if (w & EV_DESTROYED)
		return -EINVAL;
	if (w & EV_SET)
		return 0;
	/* A try: the look above was the attempt. */
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;

	/* Inside from here until we return, spin included (relaxed: see the
	 * top of the file). */
	atomic_fetch_add_explicit(&ev->inside, 1, memory_order_relaxed);
	int r;
	/* Spin before counting ourselves a waiter, so that a set during a
	 * hand-off makes no wake system call. */
	if (grace__spin(&ev->word, w, stop)) {
		uint32_t v = atomic_load_explicit(&ev->word, memory_order_acquire);
		r = v != w ? ((v & EV_DESTROYED) ? -EINVAL : 0) : -ECANCELED;
	} else {
		r = wait_asleep(ev, w, stop, d);
	}
	/* Release: our last access to the event comes before a destroy that
	 * sees us gone. */
	atomic_fetch_sub_explicit(&ev->inside, 1, memory_order_release);
	return r;
}
