/* SPDX-License-Identifier: MIT */
/*
 * test.h - the test harness: asserts that print both operands, a runner
 * that runs every test of a program (or the one named on the command line),
 * and helpers for ordering threads with handshakes instead of sleeps.
 *
 * A test program defines its tests with TEST(name) and lists them with
 * TEST_LIST(...) at the end. ctest runs each program with a timeout
 * (multiplied for sanitizer builds, see CMakeLists.txt).
 */
#ifndef GRACE_TEST_H
#define GRACE_TEST_H

#include "grace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_AT(file, line, ...)                                   \
	do {                                                       \
		fprintf(stderr, "%s:%d: assertion failed: ", file, line); \
		fprintf(stderr, __VA_ARGS__);                      \
		fputc('\n', stderr);                               \
		abort();                                           \
	} while (0)

#define ASSERT_OP(a, op, b)                                                                          \
	do {                                                                                         \
		long long a_ = (long long)(a), b_ = (long long)(b);                                  \
		if (!(a_ op b_))                                                                     \
			FAIL_AT(__FILE__, __LINE__, "%s %s %s (%lld %s %lld)", #a, #op, #b, a_, #op, b_); \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_OP(a, >=, b)
#define ASSERT_TRUE(x) ASSERT_OP(!!(x), ==, 1)
#define ASSERT_FALSE(x) ASSERT_OP(!!(x), ==, 0)
#define ASSERT_PTR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const void *a_ = (a), *b_ = (b);                                                   \
		if (a_ != b_)                                                                      \
			FAIL_AT(__FILE__, __LINE__, "%s == %s (%p != %p)", #a, #b, a_, b_);        \
	} while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                               \
			FAIL_AT(__FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b,          \
			        a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
	} while (0)
/* Assert a grace call's result, naming the code on failure. */
#define ASSERT_RC(call, want)                                                                      \
	do {                                                                                       \
		long long got_ = (long long)(call), want_ = (long long)(want);                     \
		if (got_ != want_)                                                                 \
			FAIL_AT(__FILE__, __LINE__, "%s -> %lld (%s), want %lld (%s)", #call, got_, \
			        grace_strerror((int)got_), want_, grace_strerror((int)want_));      \
	} while (0)

/* Generous upper bounds for timing checks: sanitizers slow things down. */
static inline int64_t test_slack_ms(void)
{
	const char *m = getenv("GRACE_TEST_SLOW");
	return (m != NULL && m[0] == '1') ? 2000 : 500;
}

/* Wait until `cond` holds, or fail after `ms` (handshakes, no sleeps); a
 * short bound where the bug a test guards against is a hang. */
#define WAIT_UNTIL_MS(cond, ms)                                                                    \
	do {                                                                                       \
		grace_deadline d_ = grace_after_ms(ms);                                            \
		while (!(cond)) {                                                                  \
			if (grace_now() > d_)                                                      \
				FAIL_AT(__FILE__, __LINE__, "timed out waiting for %s", #cond);    \
			sched_yield();                                                             \
		}                                                                                  \
	} while (0)

#define WAIT_UNTIL(cond) WAIT_UNTIL_MS(cond, 20000)

/* A copy of the environment with one more NAME=VALUE, for a child process;
 * the caller frees the array (not the strings). */
static inline char **env_with(char *kv)
{
	extern char **environ;
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **env = calloc(n + 2, sizeof *env);
	if (env == NULL)
		FAIL_AT(__FILE__, __LINE__, "out of memory");
	memcpy(env, environ, n * sizeof *env);
	env[n] = kv;
	return env;
}

/* Start n pthreads running fn(arg_i), failing the test if any cannot start. */
static inline void start_threads(pthread_t *t, int n, void *(*fn)(void *), void *args, size_t argsize)
{
	for (int i = 0; i < n; i++) {
		int r = pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * argsize);
		if (r != 0)
			FAIL_AT(__FILE__, __LINE__, "pthread_create: %s", strerror(r));
	}
}

static inline void join_threads(pthread_t *t, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void test_##name(void)
#define T(name) {#name, test_##name}
#define TEST_LIST(...)                                                                             \
	static const struct test_case test_cases_[] = {__VA_ARGS__};                               \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		int ran = 0;                                                                       \
		setvbuf(stdout, NULL, _IONBF, 0);                                                  \
		for (size_t i = 0; i < sizeof test_cases_ / sizeof test_cases_[0]; i++) {         \
			if (argc > 1 && strcmp(argv[1], test_cases_[i].name) != 0)                 \
				continue;                                                          \
			printf("%-52s", test_cases_[i].name);                                      \
			grace_deadline t0_ = grace_now();                                          \
			test_cases_[i].fn();                                                       \
			printf("ok %8.1f ms\n", (double)(grace_now() - t0_) / 1e6);                \
			ran++;                                                                     \
		}                                                                                  \
		if (ran == 0) {                                                                    \
			fprintf(stderr, "no test matched\n");                                      \
			return 1;                                                                  \
		}                                                                                  \
		return 0;                                                                          \
	}

#endif /* GRACE_TEST_H */
