/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer harnesses share: the invariant checks, which
 * abort (libFuzzer then saves the input), and the reader that turns the
 * input into a stream of bytes (0 once it runs out).
 */
#ifndef GRACE_FUZZ_H
#define GRACE_FUZZ_H

#include "grace.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                            \
	do {                                                                                \
		if (!(x)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #x); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* A call must answer the documented code. */
#define CHECK_RC(call, want)                                                               \
	do {                                                                               \
		long long got_ = (long long)(call), want_ = (long long)(want);            \
		if (got_ != want_) {                                                       \
			fprintf(stderr, "%s:%d: %s -> %lld (%s), documented %lld (%s)\n",   \
			        __FILE__, __LINE__, #call, got_, grace_strerror((int)got_),    \
			        want_, grace_strerror((int)want_));                        \
			abort();                                                           \
		}                                                                          \
	} while (0)

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next byte of the input, 0 once it is used up. */
static inline unsigned take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

#endif
