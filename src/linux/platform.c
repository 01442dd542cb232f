/* SPDX-License-Identifier: MIT */
/*
 * linux/platform.c - the Linux platform: the futex engine (futex word waits,
 * futex_waitv for the object-or-stop wait) and eventfd wake descriptors.
 *
 * futex_waitv (Linux 5.16) sleeps on several words at once, so a waiter
 * sleeps on its object's word and its stop's word together and a stop
 * request is one store plus one FUTEX_WAKE: the stop keeps no list of
 * waiters. The library probes for it once, at load, and picks the engine
 * for the process then: this file's, or the lot engine (src/lot.c) without
 * it (an older kernel, a seccomp filter, or GRACE_NO_FUTEX_WAITV set in the
 * environment for tests). One engine at a time, so a waker never has to
 * wake sleepers in both.
 */
#include "../platform.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif

/* Our own copy of the kernel's struct futex_waitv, so older headers build. */
struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

/* An absolute deadline as a timespec. A negative deadline (long past)
 * becomes zero: the kernel refuses a negative tv_sec or tv_nsec, and zero
 * has passed just the same. */
static struct timespec to_ts(int64_t d)
{
	if (d < 0)
		d = 0;
	struct timespec ts = {.tv_sec = (time_t)(d / 1000000000), .tv_nsec = (long)(d % 1000000000)};
	return ts;
}

static int futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t d)
{
	struct timespec ts = to_ts(d);
	/* WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout. */
	long r = syscall(SYS_futex, w, FUTEX_WAIT_BITSET_PRIVATE, val, d == INT64_MAX ? NULL : &ts, NULL,
	                 FUTEX_BITSET_MATCH_ANY);
	if (r == -1 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0; /* woken, EAGAIN (value differed) or EINTR: the caller re-checks */
}

static int futex_wait_stop(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, uint32_t sv,
                           _Atomic uint32_t *pw, uint32_t pv, int64_t d)
{
	struct waitv v[3] = {
		{.val = val, .uaddr = (uintptr_t)w, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
		{.val = sv, .uaddr = (uintptr_t)sw, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
		{.val = pv, .uaddr = (uintptr_t)pw, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
	};
	struct timespec ts = to_ts(d);
	/* EFAULT (pw unmapped since), EAGAIN and EINTR all read as a wake-up. */
	long r = syscall(SYS_futex_waitv, v, pw != NULL ? 3 : 2, 0, d == INT64_MAX ? NULL : &ts,
	                 CLOCK_MONOTONIC);
	if (r == -1 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

static void futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static const struct grace__engine futex_engine = {
	.name = "futex_waitv",
	.now = grace__clock_monotonic,
	.wait = futex_wait,
	.wait_stop = futex_wait_stop,
	.wake = futex_wake,
	.watches_stop = true,
};

/* The futex engine until the probe says otherwise, as before the probe. */
static const struct grace__engine *chosen = &futex_engine;
_Atomic(const struct grace__engine *) grace__engine = &futex_engine;

__attribute__((constructor)) static void probe(void)
{
	const char *e = getenv("GRACE_NO_FUTEX_WAITV");
	if (e != NULL && e[0] != '\0' && e[0] != '0') {
		chosen = &grace__lot_engine;
	} else {
		/* Zero words is invalid for a kernel that has the call: EINVAL. */
		long r = syscall(SYS_futex_waitv, NULL, 0, 0, NULL, CLOCK_MONOTONIC);
		if (!(r == -1 && errno == EINVAL))
			chosen = &grace__lot_engine;
	}
	atomic_store_explicit(&grace__engine, chosen, memory_order_release);
}

const struct grace__engine *grace__os_engine(void)
{
	return chosen;
}

int grace__os_wakefd_open(int fds[2])
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	fds[0] = fds[1] = fd;
	return 0;
}

void grace__os_wakefd_signal(const int fds[2])
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(fds[1], &one, sizeof one);
	while (n < 0 && errno == EINTR);
}
