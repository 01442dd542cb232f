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

TEST_LIST(T(stop_new_enomem))
