/*
 * time.c - grace's one time type: absolute CLOCK_MONOTONIC nanoseconds.
 * Deadlines are computed once, by the caller, and converted to whatever a
 * system call wants only at that call.
 */
#include "internal.h"

grace_deadline grace_now(void)
{
	return grace__os_now();
}

grace_deadline grace_after_ns(int64_t ns)
{
	int64_t now = grace__os_now();
	if (ns <= 0)
		return now;
	if (ns >= GRACE_FOREVER - now)
		return GRACE_FOREVER;
	return now + ns;
}

grace_deadline grace_after_ms(int64_t ms)
{
	if (ms <= 0)
		return grace__os_now();
	if (ms > GRACE_FOREVER / 1000000)
		return GRACE_FOREVER;
	return grace_after_ns(ms * 1000000);
}
