/*
 * sleep.c - grace_sleep: the wait core on a word that never changes, so
 * only the stop or the deadline ends it.
 */
#include "internal.h"

int grace_sleep(grace_stop *stop, grace_deadline d)
{
	if (grace_stop_requested(stop))
		return -ECANCELED;
	_Atomic uint32_t never = 0;
	for (;;) {
		int r = grace__wait(&never, 0, stop, d, "sleep", NULL);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
	}
}
