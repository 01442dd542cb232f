/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - every allocation grace makes goes through here, so tests can
 * fail the Nth one in turn and check that each -ENOMEM path changes
 * nothing (tests/alloc_test.c). The countdown costs one relaxed load.
 */
#include "internal.h"

#include <stddef.h>
#include <stdlib.h>

_Atomic long grace__alloc_fail_countdown;

static bool should_fail(void)
{
	long n = atomic_load_explicit(&grace__alloc_fail_countdown, memory_order_relaxed);
	if (GRACE_LIKELY(n == 0))
		return false;
	/* Counts down to 1, which fails, and stops there at 0. */
	return atomic_fetch_sub_explicit(&grace__alloc_fail_countdown, 1, memory_order_relaxed) == 1;
}

void *grace__malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *grace__calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : calloc(n, size);
}

void *grace__realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

void *grace__aligned_alloc(size_t align, size_t size)
{
	if (should_fail())
		return NULL;
	if (align <= _Alignof(max_align_t))
		return malloc(size);
	size = (size + align - 1) / align * align;
	return aligned_alloc(align, size);
}
