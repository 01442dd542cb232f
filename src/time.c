/* SPDX-License-Identifier: MIT */
/*
 * time.c - grace's one time type: absolute CLOCK_MONOTONIC nanoseconds.
 * Deadlines are computed once, by the caller, and converted to whatever a
 * system call wants only at that call. Time comes from the sleep engine's
 * clock (platform.h), so a test that installs a fake clock moves grace_now
 * and every deadline built from it together.
 */
#include "internal.h"

#include <time.h>

/* The one reading of the system clock; the real engines' now(). A test's
 * engine may supply another clock (platform.h). */
int64_t grace__clock_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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
