/*
 * event.c - threading.Event on one 32-bit word.
 *
 * The word holds SET (bit 0), DESTROYED (bit 1) and a generation (bits
 * 2..31) that a set bumps when it turns a clear event set. A waiter that saw
 * the event clear at generation g sleeps while the word is unchanged, and
 * returns 0 as soon as it differs: a set since then changed the generation
 * even if a clear followed at once, so a set is never missed. Clear leaves
 * the generation alone, so it wakes no one.
 *
 * `waiters` counts threads inside the sleeping part of grace_event_wait
 * (a waiter spins first, uncounted, see wait.c), so
 * that a set makes the wake system call only when someone may sleep, and so
 * that destroy can answer -EBUSY. The waiter increments it before its last
 * look at the word and the setter looks at it after its RMW on the word,
 * both seq_cst: either the setter sees the waiter, or the waiter sees SET.
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
	return 0;
}

int grace_event_destroy(grace_event *ev)
{
	if (ev == NULL)
		return -EINVAL;
	if (atomic_load(&ev->waiters) != 0)
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
		grace__wake(&ev->word, INT32_MAX);
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

	/* Spin before counting ourselves a waiter, so that a set during a
	 * hand-off makes no wake system call. A try does not spin. */
	if (d == GRACE_FOREVER || grace__os_now() < d) {
		if (grace__spin(&ev->word, w, stop)) {
			uint32_t v = atomic_load_explicit(&ev->word, memory_order_acquire);
			if (v != w)
				return (v & EV_DESTROYED) ? -EINVAL : 0;
			return -ECANCELED;
		}
	}

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
