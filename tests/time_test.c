/* SPDX-License-Identifier: MIT */
/*
 * time_test.c - grace_now, grace_after_ms, grace_after_ns and
 * grace_strerror.
 */
#include "test.h"

#include <string.h>
#include <time.h>

TEST(now_is_monotonic_clock)
{
	struct timespec ts;
	grace_deadline a = grace_now();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	grace_deadline b = grace_now();
	int64_t mono = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	ASSERT_LE(a, mono);
	ASSERT_LE(mono, b);
}

TEST(after_ms)
{
	grace_deadline t0 = grace_now();
	grace_deadline d = grace_after_ms(250);
	grace_deadline t1 = grace_now();
	ASSERT_GE(d, t0 + 250 * 1000000LL);
	ASSERT_LE(d, t1 + 250 * 1000000LL);
	/* Zero and negative counts are now: a try. */
	t0 = grace_now();
	d = grace_after_ms(0);
	ASSERT_GE(d, t0);
	ASSERT_LE(d, grace_now());
	d = grace_after_ms(-5);
	ASSERT_LE(d, grace_now());
	ASSERT_GE(d, t0);
	/* Saturating. */
	ASSERT_EQ(grace_after_ms(INT64_MAX), GRACE_FOREVER);
	ASSERT_EQ(grace_after_ms(INT64_MAX / 1000000 + 1), GRACE_FOREVER);
	ASSERT_EQ(grace_after_ns(INT64_MAX), GRACE_FOREVER);
	ASSERT_EQ(grace_after_ns(INT64_MAX - 1), GRACE_FOREVER);
	ASSERT_LT(grace_after_ms(INT64_MAX / 1000000 / 2), GRACE_FOREVER);
	ASSERT_LE(grace_after_ns(INT64_MIN), grace_now());
}

TEST(strerror_names_every_code)
{
	static const int codes[] = {0, -ECANCELED, -ETIMEDOUT, -ESHUTDOWN, -EINVAL, -EBUSY, -ENOMEM};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *s = grace_strerror(codes[i]);
		ASSERT_TRUE(s != NULL);
		ASSERT_TRUE(strcmp(s, "unknown error") != 0);
		for (size_t j = 0; j < i; j++)
			ASSERT_TRUE(strcmp(s, grace_strerror(codes[j])) != 0); /* distinct */
	}
	ASSERT_STR_EQ(grace_strerror(-ECANCELED), "stop requested");
	ASSERT_STR_EQ(grace_strerror(-ETIMEDOUT), "deadline passed");
	ASSERT_STR_EQ(grace_strerror(123456), "unknown error");
	ASSERT_STR_EQ(grace_strerror(-123456), "unknown error");
}

/* Whether the C library knows `e` as an error number: glibc says
 * "Unknown error N" for one it does not, the BSDs "Unknown error: N", musl
 * "No error information". */
static bool system_names(int e)
{
	const char *s = strerror(e);
	return s != NULL && strncmp(s, "Unknown error", 13) != 0 && strcmp(s, "No error information") != 0;
}

/* Every errno value the system knows gets a name from grace_strerror, not
 * only grace's own codes: the I/O calls pass the system's codes through
 * (-ENOENT from a connect to a missing Unix socket, -EACCES, -EINTR from a
 * caller's own call, -ENETUNREACH, -EHOSTUNREACH, ...). grace's own codes
 * keep grace's wording. */
TEST(strerror_names_every_errno)
{
	static const int passed_through[] = {ENOENT, EACCES, EINTR, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL,
	                                     ENOSPC, EROFS, EEXIST, EFAULT, EMSGSIZE, EISCONN, EINPROGRESS,
	                                     EALREADY, ENOBUFS, ETXTBSY, EXDEV, ESPIPE, ENXIO, ENODEV};
	for (size_t i = 0; i < sizeof passed_through / sizeof passed_through[0]; i++) {
		const char *s = grace_strerror(-passed_through[i]);
		if (s == NULL || strcmp(s, "unknown error") == 0)
			FAIL_AT(__FILE__, __LINE__, "grace_strerror(-%d) (%s) is unknown", passed_through[i],
			        strerror(passed_through[i]));
	}
	int named = 0;
	for (int e = 1; e < 4096; e++) {
		if (!system_names(e))
			continue;
		named++;
		const char *s = grace_strerror(-e);
		if (s == NULL || s[0] == '\0' || strcmp(s, "unknown error") == 0)
			FAIL_AT(__FILE__, __LINE__, "grace_strerror(-%d) is \"%s\"; the system says \"%s\"", e,
			        s != NULL ? s : "(null)", strerror(e));
	}
	ASSERT_GT(named, 30);
	/* grace's own wording stays for the codes that carry its meaning. */
	ASSERT_STR_EQ(grace_strerror(-ECANCELED), "stop requested");
	ASSERT_STR_EQ(grace_strerror(-ETIMEDOUT), "deadline passed");
	ASSERT_STR_EQ(grace_strerror(-ESHUTDOWN), "queue or group shut down");
	ASSERT_STR_EQ(grace_strerror(-EBUSY), "still in use");
	ASSERT_STR_EQ(grace_strerror(-EINVAL), "invalid argument or state");
	/* What is no errno value at all stays unknown. */
	ASSERT_STR_EQ(grace_strerror(-4096), "unknown error");
	ASSERT_STR_EQ(grace_strerror(ENOENT), "unknown error"); /* codes are negative */
	ASSERT_STR_EQ(grace_strerror(INT32_MIN), "unknown error");
}

TEST_LIST(T(now_is_monotonic_clock), T(after_ms), T(strerror_names_every_code),
          T(strerror_names_every_errno))
