/* SPDX-License-Identifier: MIT */
/*
 * version_test.c - grace_version against the header's macros.
 */
#include "test.h"

TEST(version_matches_the_header)
{
	const char *v = grace_version();
	ASSERT_TRUE(v != NULL);
	ASSERT_STR_EQ(v, GRACE_VERSION_STRING);
	char want[32];
	snprintf(want, sizeof want, "%d.%d.%d", GRACE_VERSION_MAJOR, GRACE_VERSION_MINOR, GRACE_VERSION_PATCH);
	ASSERT_STR_EQ(v, want);
}

TEST_LIST(T(version_matches_the_header))
