/* SPDX-License-Identifier: MIT */
/*
 * core_bench.c - the foundation benchmark, C side: grace's stop and event
 * against the floors they are built on.
 *
 * Scenarios (see bench/README.md for the exact rules):
 *   stop_check       ns per iteration of a loop that checks a stop: grace,
 *                    an inline atomic load, the same load behind a call.
 *   event_pingpong   us per round trip between two threads: grace events
 *                    (waiting with a live stop), a plain futex park.
 *   stop_all_N       us from a stop request until the last of N blocked
 *                    threads has returned (the time it observes itself).
 *   idle_wakeups_64  context switches per second of 64 threads waiting for
 *                    a stop that does not come.
 *
 * After its own run the program re-executes itself once with
 * GRACE_NO_FUTEX_WAITV=1 and measures grace again as `grace_fallback`: the
 * Linux engine used where futex_waitv is missing (a stop callback per waiter
 * and the mutex + condvar lot); BENCH_FALLBACK=0 skips that. Arguments, if
 * any, name the scenarios to run.
 * BENCH_QUICK=1 shortens every phase; BENCH_VERBOSE=1 prints every
 * repetition to stderr; BENCH_PIN=cross|same pins the ping-pong threads to
 * two CPUs or one (for experiments; the benchmark pins nothing). Each value is a median of repeated runs; the lines
 * follow `RESULT <scenario> <peer> <value> <unit> <better>`.
 */
#include "grace.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static bool quick;
static bool verbose; /* BENCH_VERBOSE=1: every repetition to stderr */
static bool fallback; /* re-executed with GRACE_NO_FUTEX_WAITV=1 */
static int nfilters;
static char **filters;

static void die(const char *what, int code)
{
	fprintf(stderr, "core_bench: %s: %d (%s)\n", what, code, strerror(code < 0 ? -code : code));
	exit(1);
}

static bool wanted(const char *scenario)
{
	if (nfilters == 0)
		return true;
	for (int i = 0; i < nfilters; i++)
		if (strcmp(filters[i], scenario) == 0)
			return true;
	return false;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- stop_check ---- */

/* The check sits in a loop whose counter passes through an empty asm, so
 * the compiler can neither drop nor vectorise the loop; the atomic load
 * itself cannot be hoisted. Each variant is the same loop around its own
 * check, so the figures compare directly (nothing is subtracted). */
#define CHECK_LOOP(fname, T, check)                          \
	static double fname(T s, long n)                     \
	{                                                    \
		int64_t t0 = now_ns();                       \
		long i;                                      \
		for (i = 0; i < n; i++) {                    \
			if (check)                           \
				break;                       \
			__asm__ __volatile__("" : "+r"(i)); \
		}                                            \
		int64_t t1 = now_ns();                       \
		if (i != n)                                  \
			die("stop_check: stopped early", 0); \
		return (double)(t1 - t0) / (double)n;        \
	}

__attribute__((noinline)) static bool call_load(_Atomic uint32_t *w)
{
	return (atomic_load_explicit(w, memory_order_acquire) & 1u) != 0;
}

CHECK_LOOP(loop_grace, const grace_stop *, grace_stop_requested(s))
CHECK_LOOP(loop_inline, _Atomic uint32_t *, (atomic_load_explicit(s, memory_order_acquire) & 1u) != 0)
CHECK_LOOP(loop_call, _Atomic uint32_t *, call_load(s))

static void bench_stop_check(void)
{
	long n = quick ? 10000000L : 100000000L;
	int reps = quick ? 3 : 11;
	grace_stop *stop;
	int r = grace_stop_new(&stop, NULL);
	if (r < 0)
		die("grace_stop_new", r);
	_Atomic uint32_t word = 0;
	double g[11], in[11], ca[11];
	/* Interleave the variants so that a noisy moment hits them alike. */
	for (int k = 0; k < reps; k++) {
		g[k] = loop_grace(stop, n);
		in[k] = loop_inline(&word, n);
		ca[k] = loop_call(&word, n);
	}
	result("stop_check", "grace", median(g, reps), "ns", "lower");
	result("stop_check", "inline_load", median(in, reps), "ns", "lower");
	result("stop_check", "call_load", median(ca, reps), "ns", "lower");
	grace_stop_free(stop);
}

/* ---- event_pingpong ---- */

/* One event each way. Side A sets ab and waits for ba; side B waits for ab,
 * clears it, and sets ba. B clears ab before it answers, so A's next set can
 * never be lost in a clear. */
struct pp_ops {
	const char *peer;
	void (*init)(void);
	void (*set)(int side);
	void (*wait_clear)(int side);
	void (*fini)(void);
};

static long pp_rounds;

static grace_event pp_ev[2];
static grace_stop *pp_stop;

static void gpp_init(void)
{
	grace_event_init(&pp_ev[0]);
	grace_event_init(&pp_ev[1]);
	int r = grace_stop_new(&pp_stop, NULL);
	if (r < 0)
		die("grace_stop_new", r);
}

static void gpp_set(int side)
{
	grace_event_set(&pp_ev[side]);
}

static void gpp_wait_clear(int side)
{
	/* A worker waits with its stop: the stop-aware path is the one used. */
	int r = grace_event_wait(&pp_ev[side], pp_stop, GRACE_FOREVER);
	if (r != 0)
		die("grace_event_wait", r);
	grace_event_clear(&pp_ev[side]);
}

static void gpp_fini(void)
{
	grace_stop_free(pp_stop);
}

static _Atomic uint32_t pp_word[2];

static void fpp_init(void)
{
	atomic_store(&pp_word[0], 0);
	atomic_store(&pp_word[1], 0);
}

static void fpp_set(int side)
{
	atomic_store(&pp_word[side], 1);
	futex_wake(&pp_word[side], 1);
}

static void fpp_wait_clear(int side)
{
	while (atomic_load(&pp_word[side]) == 0)
		futex_wait(&pp_word[side], 0);
	atomic_store(&pp_word[side], 0);
}

static void fpp_fini(void)
{
}

/* BENCH_PIN=cross puts side A on CPU 0 and side B on CPU 1, BENCH_PIN=same
 * both on CPU 0: for experiments on the spin policy only. The benchmark
 * itself pins nothing. */
static void pp_pin(int cpu)
{
	const char *p = getenv("BENCH_PIN");
	if (p == NULL || p[0] == '\0')
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(strcmp(p, "same") == 0 ? 0 : cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *pp_side_b(void *arg)
{
	const struct pp_ops *ops = arg;
	pp_pin(1);
	for (long i = 0; i < pp_rounds; i++) {
		ops->wait_clear(0);
		ops->set(1);
	}
	return NULL;
}

static double pp_once(const struct pp_ops *ops)
{
	pp_pin(0);
	ops->init();
	pthread_t b;
	int r = pthread_create(&b, NULL, pp_side_b, (void *)ops);
	if (r != 0)
		die("pthread_create", r);
	/* One untimed round trip first: B is running and has met the events. */
	ops->set(0);
	ops->wait_clear(1);
	int64_t t0 = now_ns();
	for (long i = 1; i < pp_rounds; i++) {
		ops->set(0);
		ops->wait_clear(1);
	}
	int64_t t1 = now_ns();
	pthread_join(b, NULL);
	ops->fini();
	if (getenv("BENCH_PIN") != NULL) {
		cpu_set_t all;
		CPU_ZERO(&all);
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &all);
		pthread_setaffinity_np(pthread_self(), sizeof all, &all);
	}
	return (double)(t1 - t0) / 1000.0 / (double)(pp_rounds - 1);
}

/* The peers take turns, one repetition each, so that a noisy moment on the
 * machine hits them alike. */
static void bench_pingpong(const struct pp_ops *const *ops, int nops)
{
	int reps = quick ? 5 : 31;
	double v[4][31];
	for (int k = 0; k < reps; k++)
		for (int p = 0; p < nops; p++)
			v[p][k] = pp_once(ops[p]);
	for (int p = 0; p < nops; p++)
		result("event_pingpong", ops[p]->peer, median(v[p], reps), "us", "lower");
}

/* ---- stop_all_N and idle_wakeups_64 ---- */

/* N threads block; the main thread waits until every one of them is asleep
 * in the kernel (state S in /proc), then either requests the stop at once
 * (stop_all: each thread stamps the time it returns, the last stamp counts)
 * or first watches their context switches for a while (idle_wakeups). */
struct wa_ops {
	const char *peer;
	void (*init)(void);
	void (*block)(void);
	void (*request)(void);
	void (*fini)(void);
};

#define MAX_WAITERS 64

struct waiter {
	pthread_t thread;
	const struct wa_ops *ops;
	_Atomic int tid;
	int64_t returned;
};

static struct waiter waiters[MAX_WAITERS];

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	w->ops->block();
	w->returned = now_ns();
	return NULL;
}



static void wait_all_asleep(int n, const char *peer)
{
	int64_t give_up = now_ns() + 10000000000LL;
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < n; i++) {
			int tid = atomic_load(&waiters[i].tid);
			if (tid != 0 && task_state(tid) == 'S')
				asleep++;
		}
		if (asleep == n)
			return;
		if (now_ns() > give_up) {
			fprintf(stderr, "core_bench: %s: only %d of %d waiters asleep after 10 s\n", peer, asleep, n);
			return;
		}
		usleep(200);
	}
}

/* Returns the stop latency in us; stores the idle rate if idle_ns > 0. */
static double waiters_once(const struct wa_ops *ops, int n, int64_t idle_ns, double *rate)
{
	ops->init();
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	for (int i = 0; i < n; i++) {
		waiters[i].ops = ops;
		atomic_store(&waiters[i].tid, 0);
		waiters[i].returned = 0;
		int r = pthread_create(&waiters[i].thread, &attr, waiter_main, &waiters[i]);
		if (r != 0)
			die("pthread_create", r);
	}
	pthread_attr_destroy(&attr);
	wait_all_asleep(n, ops->peer);
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < n; i++)
			before += task_switches(waiters[i].tid);
		int64_t t0 = now_ns();
		struct timespec ts = {.tv_sec = idle_ns / 1000000000, .tv_nsec = idle_ns % 1000000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		int64_t t1 = now_ns();
		for (int i = 0; i < n; i++)
			after += task_switches(waiters[i].tid);
		*rate = (double)(after - before) / ((double)(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	ops->request();
	int64_t last = t0;
	for (int i = 0; i < n; i++) {
		pthread_join(waiters[i].thread, NULL);
		if (waiters[i].returned > last)
			last = waiters[i].returned;
	}
	ops->fini();
	return (double)(last - t0) / 1000.0;
}

static void bench_stop_all(const struct wa_ops *const *ops, int nops, int n)
{
	int reps = quick ? 5 : n <= 8 ? 31 : 21;
	double v[4][31];
	char scenario[32];
	snprintf(scenario, sizeof scenario, "stop_all_%d", n);
	for (int k = 0; k < reps; k++)
		for (int p = 0; p < nops; p++)
			v[p][k] = waiters_once(ops[p], n, 0, NULL);
	for (int p = 0; p < nops; p++)
		result(scenario, ops[p]->peer, median(v[p], reps), "us", "lower");
}

static void bench_idle(const struct wa_ops *ops)
{
	double rate = 0;
	waiters_once(ops, 64, quick ? 1000000000LL : 5000000000LL, &rate);
	result("idle_wakeups_64", ops->peer, rate, "wakeups/s", "lower");
}

static grace_event wa_ev;
static grace_stop *wa_stop;

static void gwa_init(void)
{
	grace_event_init(&wa_ev);
	int r = grace_stop_new(&wa_stop, NULL);
	if (r < 0)
		die("grace_stop_new", r);
}

static void gwa_block(void)
{
	int r = grace_event_wait(&wa_ev, wa_stop, GRACE_FOREVER);
	if (r != -ECANCELED)
		die("grace_event_wait", r);
}

static void gwa_request(void)
{
	grace_stop_request(wa_stop, 1);
}

static void gwa_fini(void)
{
	int r = grace_stop_free(wa_stop);
	if (r < 0)
		die("grace_stop_free", r);
}

static _Atomic uint32_t wa_word;

static void fwa_init(void)
{
	atomic_store(&wa_word, 0);
}

static void fwa_block(void)
{
	while (atomic_load(&wa_word) == 0)
		futex_wait(&wa_word, 0);
}

static void fwa_request(void)
{
	atomic_store(&wa_word, 1);
	futex_wake(&wa_word, INT_MAX);
}

static void fwa_fini(void)
{
}

int main(int argc, char **argv)
{
	const char *q = getenv("BENCH_QUICK");
	quick = q != NULL && q[0] != '\0' && q[0] != '0';
	const char *vb = getenv("BENCH_VERBOSE");
	verbose = vb != NULL && vb[0] != '\0' && vb[0] != '0';
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--fallback") == 0) {
		fallback = true;
		first = 2;
	}
	nfilters = argc - first;
	filters = argv + first;
	pp_rounds = quick ? 500 : 2000;

	const char *gname = fallback ? "grace_fallback" : "grace";
	struct pp_ops gpp = {gname, gpp_init, gpp_set, gpp_wait_clear, gpp_fini};
	struct pp_ops fpp = {"raw_futex_park", fpp_init, fpp_set, fpp_wait_clear, fpp_fini};
	struct wa_ops gwa = {gname, gwa_init, gwa_block, gwa_request, gwa_fini};
	struct wa_ops fwa = {"raw_futex", fwa_init, fwa_block, fwa_request, fwa_fini};

	if (!fallback && wanted("stop_check"))
		bench_stop_check();
	/* The fallback run measures grace alone: the floors do not change. */
	const struct pp_ops *pps[] = {&gpp, &fpp};
	const struct wa_ops *was[] = {&gwa, &fwa};
	int npeers = fallback ? 1 : 2;
	if (wanted("event_pingpong"))
		bench_pingpong(pps, npeers);
	if (wanted("stop_all_8"))
		bench_stop_all(was, npeers, 8);
	if (wanted("stop_all_64"))
		bench_stop_all(was, npeers, 64);
	if (wanted("idle_wakeups_64"))
		bench_idle(&gwa);

	const char *fb = getenv("BENCH_FALLBACK");
	if (!fallback && !(fb != NULL && strcmp(fb, "0") == 0)) {
		/* The fallback engine is chosen once, at load: measure it in a
		 * fresh image of this program. */
		char **args = calloc((size_t)argc + 2, sizeof *args);
		if (args == NULL)
			return 0;
		args[0] = argv[0];
		args[1] = "--fallback";
		for (int i = 1; i < argc; i++)
			args[i + 1] = argv[i];
		setenv("GRACE_NO_FUTEX_WAITV", "1", 1);
		execv("/proc/self/exe", args);
		fprintf(stderr, "core_bench: cannot re-execute for the fallback engine: %s\n", strerror(errno));
		free(args);
	}
	return 0;
}
