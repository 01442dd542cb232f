/* SPDX-License-Identifier: MIT */
/*
 * platform.h - the narrow interface between grace and the operating system.
 *
 * Everything grace asks of the OS to sleep, wake and tell the time goes
 * through one table, the sleep engine (struct grace__engine), chosen once
 * at load and reached through one pointer, grace__engine:
 *
 *   - the futex engine (src/linux/platform.c): futex word waits, and
 *     futex_waitv for the object-or-stop wait;
 *   - the lot engine (src/lot.c): mutex + condvar buckets, the portable
 *     one, and the one Linux falls back to without futex_waitv (an older
 *     kernel, a seccomp filter, GRACE_NO_FUTEX_WAITV=1 in the environment).
 *
 * One engine serves the whole process, so a waker never has to wake
 * sleepers in two. A test may install an engine and clock of its own
 * (grace__engine_install, internal.h) to replay a race step by step.
 *
 * Word waits behave like futexes: a sleeper blocks only while the word still
 * holds the value it expects, so a waker that changes the word and then
 * calls grace__os_wake() can never be missed. Wake descriptors (eventfd or a
 * pipe) are not part of the engine: CMake compiles the one platform file,
 * src/linux/platform.c or src/posix/platform.c, that provides them.
 */
#ifndef GRACE_PLATFORM_H
#define GRACE_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct grace__engine {
	const char *name; /* "futex_waitv", "lot", or a test's */

	/* CLOCK_MONOTONIC in nanoseconds: the clock every deadline is
	 * measured against (grace_now, the wait core, the parts' tries). */
	int64_t (*now)(void);

	/* Sleep while *w == val, until the absolute deadline `d` on now()'s
	 * clock (INT64_MAX: none). Returns 0 when woken, when *w differed, or
	 * spuriously; -ETIMEDOUT when the deadline passed. */
	int (*wait)(_Atomic uint32_t *w, uint32_t val, int64_t d);

	/* The wait on an object and a stop: sleep while *w == val and the
	 * stop's word *sw == sv and, if pw is not NULL, the stop's parent's
	 * word *pw == pv, until `d`. Returns as wait(). What ends the sleep
	 * depends on watches_stop:
	 *   true  - a wake() of any of the words ends it (futex_waitv). pw may
	 *           be memory freed since (wait.c says why that is safe): a
	 *           fault reads as a wake-up.
	 *   false - only a wake() of w ends it, and only bit 0 of *sw (the
	 *           request) is compared; pw is never passed. The caller
	 *           makes the stop's request wake w (wait.c: a stop callback).
	 */
	int (*wait_stop)(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, uint32_t sv,
	                 _Atomic uint32_t *pw, uint32_t pv, int64_t d);

	/* Wake up to `n` sleepers on `w` (INT32_MAX: all). */
	void (*wake)(_Atomic uint32_t *w, int n);

	/* Whether a wake of the stop's (and parent's) word ends wait_stop. */
	bool watches_stop;
};

/* The engine in use. Stored once at load (and by grace__engine_install in
 * tests, with no other thread inside grace); read with acquire, which is a
 * plain load on x86, so a table stored before the pointer is seen whole. */
extern _Atomic(const struct grace__engine *) grace__engine;

/* The engine this system chose at load. */
const struct grace__engine *grace__os_engine(void);

/* The portable engine (src/lot.c), which every platform has. */
extern const struct grace__engine grace__lot_engine;

/* The system's CLOCK_MONOTONIC in nanoseconds (src/time.c): the now() of
 * both real engines, the one implementation. */
int64_t grace__clock_monotonic(void);

static inline const struct grace__engine *grace__engine_get(void)
{
	return atomic_load_explicit(&grace__engine, memory_order_acquire);
}

/* The engine's clock: CLOCK_MONOTONIC in nanoseconds, unless a test
 * installed a clock of its own. */
static inline int64_t grace__os_now(void)
{
	return grace__engine_get()->now();
}

/* The engine's wait on one word, and its wake: up to `n` sleepers on `w`
 * (INT32_MAX: all), those of grace__wait (wait.c) included. */
static inline int grace__os_wait(_Atomic uint32_t *w, uint32_t val, int64_t d)
{
	return grace__engine_get()->wait(w, val, d);
}

static inline void grace__os_wake(_Atomic uint32_t *w, int n)
{
	grace__engine_get()->wake(w, n);
}

/* A wake descriptor: readable once signalled, forever after.
 * fds[0] is the end to poll; fds[1] the end to signal (the same descriptor
 * for an eventfd). Returns 0 or a negative errno. */
int grace__os_wakefd_open(int fds[2]);
void grace__os_wakefd_signal(const int fds[2]);
void grace__os_wakefd_close(int fds[2]);

/* The CPU hint for a spin loop. */
static inline void grace__os_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* GRACE_PLATFORM_H */
