/* SPDX-License-Identifier: MIT */
/*
 * sleep.c - grace_sleep: a wait on a word that nothing ever changes, so only
 * the stop or the deadline can end it.
 *
 * Design. The word lives on the sleeping thread's stack and is never woken;
 * the wait core sleeps on it and on the stop's word together (futex_waitv),
 * or in the lot with a stop callback where futex_waitv is missing. It uses
 * grace__wait_nospin(): a spin is pointless when no one will change the
 * word, and a sleeping thread should cost no CPU at all. A spurious return of
 * the core (0 with the word unchanged) simply goes round the loop; the
 * absolute deadline keeps the total sleep from stretching.
 *
 * No locks and no shared state: the only atomic is the private word.
 */
#include "internal.h"

int grace_sleep(grace_stop *stop, grace_deadline d)
{
	/* An argument first: a waiter announces itself in its stop's word,
	 * which must not be memory of some other kind. */
	if (stop != NULL && !grace__stop_live(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	_Atomic uint32_t never = 0;
	struct grace__site site = {"sleep", NULL, 0};
	for (;;) {
		int r = grace__wait_nospin(&never, 0, stop, d, &site);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
	}
}
