/*
 * platform.h - the narrow interface between grace and the operating system.
 *
 * Two implementations sit behind it: src/linux/platform.c (futex,
 * futex_waitv, eventfd) and src/posix/platform.c (mutex + condvar buckets,
 * pipes). CMake compiles exactly one; GRACE_PORTABLE=ON forces the second.
 * Nothing above this file knows which one it got.
 *
 * Word waits behave like futexes: a sleeper blocks only while the word still
 * holds the value it expects, so a waker that changes the word and then
 * calls grace__os_wake() can never be missed.
 */
#ifndef GRACE_PLATFORM_H
#define GRACE_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t grace__os_now(void);

/* Sleep while *w == val, until the absolute CLOCK_MONOTONIC deadline `d`
 * (INT64_MAX: none). Returns 0 when woken, when *w differed, or spuriously;
 * -ETIMEDOUT when the deadline passed. */
int grace__os_wait(_Atomic uint32_t *w, uint32_t val, int64_t d);

/* Sleep while *w == val, *w2 == val2 and, if w3 is not NULL, *w3 == val3,
 * until `d`: the wait on an object, a stop and the stop's parent at once.
 * Returns as grace__os_wait, or -ENOSYS where the system cannot wait on
 * several words (the caller then falls back, see wait.c). A plain
 * grace__os_wake() on any of the words ends the sleep. w3 may be memory
 * freed since (wait.c says why that is safe): a fault reads as a wake-up. */
int grace__os_wait3(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *w2, uint32_t val2,
                    _Atomic uint32_t *w3, uint32_t val3, int64_t d);

/* Whether grace__os_wait3 can sleep on several words (false: -ENOSYS). */
bool grace__os_multiwait(void);

/* As grace__os_wait, but the sleep also ends once bit 0 of *stopw is set,
 * provided whoever sets it then calls grace__os_wake(w) (see wait.c). Used
 * only where grace__os_wait3 answers -ENOSYS. */
int grace__os_wait_or_stop(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *stopw, int64_t d);

/* Wake up to `n` sleepers on `w` (INT32_MAX: all). */
void grace__os_wake(_Atomic uint32_t *w, int n);

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
