/* SPDX-License-Identifier: MIT */
/*
 * thread_bench.c - what grace threads and groups cost against raw pthreads.
 *
 * Scenarios (the C++20 std::jthread peers are in thread_bench.cc):
 *  - start_stop_join: start a thread that blocks until stopped, stop it,
 *    join it; the cost of one round. Peers: grace, and pthread_create +
 *    a futex word + pthread_join with default attributes and with grace's
 *    256 KiB stack.
 *  - group_shutdown64: 64 threads asleep in grace_event_wait; the time of
 *    grace_group_shutdown (request, wake, exit, join all). Peers: the raw
 *    floor, 64 pthreads asleep in FUTEX_WAIT on one word, woken by one
 *    store and one FUTEX_WAKE, then pthread_join each (same stack size);
 *    the same with one word per thread and 64 FUTEX_WAKEs, which is how
 *    stops are woken (each waiter sleeps on its own stop's word); and the
 *    one-word floor with glibc's default 8 MiB stacks.
 *  - exit_join64_stack: the same shutdown with the stack size as the only
 *    change (grace's default 256 KiB against 1 MiB and glibc's 8 MiB), the
 *    measurement behind the default in grace.h.
 * Each value is the median of repeated runs.
 */
#include <grace.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REPS 9
#define SREPS 21
#define ROUNDS 1000
#define N64 64

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	return v[n / 2];
}

static void futex_wait(atomic_uint *w, unsigned val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void settle(void)
{
	/* Let the threads reach their sleep: this is setup, not timed. */
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* ---- start_stop_join ---- */

static int grace_blocker(grace_stop *stop, void *arg)
{
	(void)arg;
	return grace_sleep(stop, GRACE_FOREVER) == -ECANCELED ? 0 : 1;
}

static int64_t grace_start_stop_join(void)
{
	int64_t t0 = grace_now();
	for (int i = 0; i < ROUNDS; i++) {
		grace_thread *t;
		if (grace_thread_start(&t, "bench", grace_blocker, NULL, NULL) != 0)
			abort();
		grace_thread_stop(t, 1);
		int result;
		if (grace_thread_join(t, GRACE_FOREVER, &result) != 0 || result != 0)
			abort();
	}
	return (grace_now() - t0) / ROUNDS;
}

static void *raw_blocker(void *arg)
{
	atomic_uint *w = arg;
	while (atomic_load(w) == 0)
		futex_wait(w, 0);
	return NULL;
}

static int64_t raw_start_stop_join(size_t stack)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	if (stack != 0)
		pthread_attr_setstacksize(&a, stack);
	int64_t t0 = grace_now();
	for (int i = 0; i < ROUNDS; i++) {
		atomic_uint w = 0;
		pthread_t t;
		if (pthread_create(&t, &a, raw_blocker, &w) != 0)
			abort();
		atomic_store(&w, 1);
		futex_wake(&w);
		pthread_join(t, NULL);
	}
	int64_t r = (grace_now() - t0) / ROUNDS;
	pthread_attr_destroy(&a);
	return r;
}

/* ---- group_shutdown64 ---- */

static grace_event never = GRACE_EVENT_INIT;
static atomic_int started;

static int event_blocker(grace_stop *stop, void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	return grace_event_wait(&never, stop, GRACE_FOREVER) == -ECANCELED ? 0 : 1;
}

static int64_t grace_group_once(void)
{
	grace_group *g;
	if (grace_group_new(&g, "bench", NULL) != 0)
		abort();
	atomic_store(&started, 0);
	for (int i = 0; i < N64; i++)
		if (grace_group_spawn(g, "w", event_blocker, NULL) != 0)
			abort();
	while (atomic_load(&started) < N64)
		sched_yield();
	settle();
	int64_t t0 = grace_now();
	if (grace_group_shutdown(g, 1, GRACE_FOREVER, NULL) != 0)
		abort();
	int64_t dt = grace_now() - t0;
	grace_group_free(g);
	return dt;
}

/* With an explicit stack size: plain threads under one parent stop, so
 * that only the stack differs from the group. */
static int64_t grace_threads_once(size_t stack)
{
	grace_stop *parent;
	grace_stop_new(&parent, NULL);
	grace_thread_opts o = {0};
	o.stack_size = stack;
	grace_thread *t[N64];
	atomic_store(&started, 0);
	for (int i = 0; i < N64; i++)
		if (grace_thread_start_opts(&t[i], "w", event_blocker, NULL, parent, &o) != 0)
			abort();
	while (atomic_load(&started) < N64)
		sched_yield();
	settle();
	int64_t t0 = grace_now();
	grace_stop_request(parent, 1);
	for (int i = 0; i < N64; i++)
		grace_thread_join(t[i], GRACE_FOREVER, NULL);
	int64_t dt = grace_now() - t0;
	grace_stop_free(parent);
	return dt;
}

static atomic_uint floor_word;
/* One word per thread, each on its own cache line. */
static struct {
	atomic_uint w;
	char pad[60];
} floor_words[N64];

static void *floor_blocker(void *arg)
{
	atomic_uint *w = arg;
	atomic_fetch_add(&started, 1);
	while (atomic_load(w) == 0)
		futex_wait(w, 0);
	return NULL;
}

/* Wake 64 sleepers with one FUTEX_WAKE on a shared word (each_word false),
 * or with 64, one per word, as stops are woken, and join them all. */
static int64_t floor_once(size_t stack, bool each_word)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	if (stack != 0)
		pthread_attr_setstacksize(&a, stack);
	pthread_t t[N64];
	atomic_store(&floor_word, 0);
	atomic_store(&started, 0);
	for (int i = 0; i < N64; i++) {
		atomic_store(&floor_words[i].w, 0);
		if (pthread_create(&t[i], &a, floor_blocker, each_word ? &floor_words[i].w : &floor_word) != 0)
			abort();
	}
	pthread_attr_destroy(&a);
	while (atomic_load(&started) < N64)
		sched_yield();
	settle();
	int64_t t0 = grace_now();
	if (each_word) {
		for (int i = 0; i < N64; i++) {
			atomic_store(&floor_words[i].w, 1);
			futex_wake(&floor_words[i].w);
		}
	} else {
		atomic_store(&floor_word, 1);
		futex_wake(&floor_word);
	}
	for (int i = 0; i < N64; i++)
		pthread_join(t[i], NULL);
	return grace_now() - t0;
}

static void result(const char *scenario, const char *peer, double value, const char *unit)
{
	printf("RESULT %s %s %.2f %s lower\n", scenario, peer, value, unit);
	fflush(stdout);
}

int main(void)
{
	int64_t v[REPS];

	/* Interleaved, so that drift in the machine's load hits every peer. */
	int64_t sg[REPS], sp[REPS], sp256[REPS];
	for (int r = 0; r < REPS; r++) {
		sg[r] = grace_start_stop_join();
		sp[r] = raw_start_stop_join(0);
		sp256[r] = raw_start_stop_join(256 * 1024);
	}
	result("start_stop_join", "grace", (double)median(sg, REPS) / 1e3, "us");
	result("start_stop_join", "pthread", (double)median(sp, REPS) / 1e3, "us");
	result("start_stop_join", "pthread_256KiB", (double)median(sp256, REPS) / 1e3, "us");

	int64_t f[SREPS], fw[SREPS], f8[SREPS], gs[SREPS];
	for (int r = 0; r < SREPS; r++) {
		gs[r] = grace_group_once();
		f[r] = floor_once(256 * 1024, false);
		fw[r] = floor_once(256 * 1024, true);
	}
	/* Apart: glibc caches the stacks of ended threads (40 MiB at most),
	 * so whichever run followed this one would pay for unmapping its
	 * 8 MiB stacks as its own threads ended. */
	for (int r = 0; r < SREPS; r++)
		f8[r] = floor_once(0, false);
	result("group_shutdown64", "grace", (double)median(gs, SREPS) / 1e3, "us");
	result("group_shutdown64", "futex_floor", (double)median(f, SREPS) / 1e3, "us");
	result("group_shutdown64", "futex_floor_64words", (double)median(fw, SREPS) / 1e3, "us");
	result("group_shutdown64", "futex_floor_8MiB", (double)median(f8, SREPS) / 1e3, "us");

	static const struct {
		const char *peer;
		size_t stack;
	} stacks[] = {{"grace", 0}, {"grace_1MiB", 1024 * 1024}, {"grace_8MiB", 8 * 1024 * 1024}};
	for (size_t s = 0; s < sizeof stacks / sizeof stacks[0]; s++) {
		for (int r = 0; r < REPS; r++)
			v[r] = grace_threads_once(stacks[s].stack);
		result("exit_join64_stack", stacks[s].peer, (double)median(v, REPS) / 1e3, "us");
	}
	return 0;
}
