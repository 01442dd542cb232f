/* SPDX-License-Identifier: MIT */
/*
 * alloc_test.c - fail every allocation in turn: each call answers -ENOMEM
 * with nothing changed, or succeeds, and never leaks or crashes (ASan's
 * leak checker watches the sanitizer build).
 */
#include "test.h"
#include "internal.h"

/* Run op with the nth allocation failing, for n = 1, 2, ... until op runs
 * without reaching a failed allocation. Returns how many paths failed. */
static int fail_each(int (*op)(void))
{
	int failures = 0;
	for (long n = 1; n < 100; n++) {
		atomic_store(&grace__alloc_fail_countdown, n);
		int rc = op();
		long left = atomic_exchange(&grace__alloc_fail_countdown, 0);
		if (left > 0) {
			ASSERT_RC(rc, 0); /* no allocation failed: must succeed */
			return failures;
		}
		ASSERT_RC(rc, -ENOMEM);
		failures++;
	}
	FAIL_AT(__FILE__, __LINE__, "op never completed");
	return failures;
}


static grace_stop *g_parent;

static int child_op(void)
{
	grace_stop *s = NULL;
	int rc = grace_stop_new(&s, g_parent);
	if (rc == 0) {
		if (grace_stop_free(s) != 0)
			abort();
	} else if (s != NULL) {
		abort(); /* failure left *out alone */
	}
	return rc;
}

TEST(stop_new_enomem)
{
	atomic_store(&grace__alloc_fail_countdown, 0);
	ASSERT_RC(grace_stop_new(&g_parent, NULL), 0);
	ASSERT_GE(fail_each(child_op), 1);
	/* The parent saw no child left behind by a failed attempt. */
	ASSERT_RC(grace_stop_free(g_parent), 0);
}

static int ret0(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return 0;
}

static int thread_op(void)
{
	grace_thread *t = NULL;
	int rc = grace_thread_start(&t, "alloc-thread", ret0, NULL, NULL);
	if (rc == 0) {
		int res = -1;
		if (grace_thread_join(t, GRACE_FOREVER, &res) != 0 || res != 0)
			abort();
	} else if (t != NULL) {
		abort();
	}
	return rc;
}

TEST(thread_start_enomem)
{
	ASSERT_GE(fail_each(thread_op), 1);
}

static void noop(void *arg)
{
	(void)arg;
}

/* grace_defer's -ENOMEM, counted from inside a grace thread. */
static int defer_many(grace_stop *stop, void *arg)
{
	(void)stop;
	int *failures = arg;
	for (long n = 1; n < 40; n++) {
		atomic_store(&grace__alloc_fail_countdown, n);
		int rc = 0;
		for (int i = 0; i < 64 && rc == 0; i++)
			rc = grace_defer(noop, NULL);
		long left = atomic_exchange(&grace__alloc_fail_countdown, 0);
		if (left > 0)
			return rc; /* never reached a failure: must have succeeded */
		if (rc != -ENOMEM)
			return 100 + rc;
		(*failures)++;
	}
	return 0;
}

TEST(defer_enomem)
{
	grace_thread *t;
	int failures = 0, res = -1;
	ASSERT_RC(grace_thread_start(&t, "defer", defer_many, &failures, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &res), 0);
	ASSERT_EQ(res, 0);
	ASSERT_GE(failures, 1);
}

static int group_op(void)
{
	grace_group *g = NULL;
	int rc = grace_group_new(&g, "alloc-group", NULL);
	if (rc < 0)
		return g == NULL ? rc : -999;
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = grace_group_spawn(g, "member", ret0, NULL);
	grace_report *rep = NULL;
	int srv = grace_group_shutdown(g, 1, grace_after_ms(5000), &rep);
	if (srv == -ENOMEM) {
		if (rep != NULL)
			abort(); /* no report, but the shutdown happened */
		rc = rc == 0 ? -ENOMEM : rc;
	} else if (srv != 0) {
		abort();
	}
	grace_report_free(rep);
	if (grace_group_free(g) != 0)
		abort();
	return rc;
}

TEST(group_enomem)
{
	ASSERT_GE(fail_each(group_op), 3);
}

TEST_LIST(T(stop_new_enomem), T(thread_start_enomem), T(defer_enomem), T(group_enomem))
