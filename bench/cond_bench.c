/* SPDX-License-Identifier: MIT */
/*
 * cond_bench.c - grace_cond and word waits, C side: how fast a stop ends
 * 64 threads blocked in grace_cond_wait, against the grace_event figure of
 * the same run; what a broadcast to 64 waiters costs against glibc's; and
 * the idle wake-ups of waiters that nothing wakes. The bounded ring and the
 * word ping-pong, whose peers are C++, are in cond_bench.cc.
 *
 * Scenarios (bench/README.md has the rules):
 *   cond_stop_64       us from a stop request until the last of 64 threads
 *                      blocked in grace_cond_wait (one mutex) has returned,
 *                      holding the mutex: grace, and grace_event (the same
 *                      64 threads in grace_event_wait), taking turns.
 *   cond_broadcast_64  us from a broadcast until the last of 64 waiters has
 *                      returned holding the mutex: grace_cond_broadcast
 *                      against pthread_cond_broadcast, taking turns.
 *   cond_idle_wakeups_64  context switches per second of 64 threads in
 *                      grace_cond_wait (and, as word_idle_wakeups_64, in
 *                      grace_wait_word) that nothing wakes.
 *
 * After its own run the program re-executes itself once with
 * GRACE_NO_FUTEX_WAITV=1 and measures grace again as grace_fallback (and
 * grace_event_fallback): BENCH_FALLBACK=0 skips that. Arguments, if any,
 * name the scenarios to run. BENCH_QUICK=1 shortens every phase;
 * BENCH_VERBOSE=1 prints every repetition. Besides each RESULT line (a
 * median) it prints a SPREAD line: the minimum, the quartiles and the
 * maximum of the repetitions.
 */
#include "grace.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
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
static bool verbose;
static bool fallback; /* re-executed with GRACE_NO_FUTEX_WAITV=1 */
static int nfilters;
static char **filters;

static void die(const char *what, int code)
{
	fprintf(stderr, "cond_bench: %s: %d (%s)\n", what, code, strerror(code < 0 ? -code : code));
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

/* The median as a RESULT, and the spread as a SPREAD line. */
static void report(const char *scenario, const char *peer, double *v, int n, const char *unit,
                   const char *better)
{
	double m = median(v, n); /* sorts v */
	printf("SPREAD %s %s min %.3f q1 %.3f median %.3f q3 %.3f max %.3f (%d runs)\n", scenario, peer, v[0],
	       v[n / 4], m, v[(3 * n) / 4], v[n - 1], n);
	result(scenario, peer, m, unit, better);
}

/* ---- 64 blocked threads ---- */

#define NT 64

struct ops {
	const char *peer;
	void (*init)(void);
	void (*block)(void);   /* returns once woken, holding nothing */
	void (*release)(void); /* the request, or the broadcast */
	void (*fini)(void);
	int (*asleep)(void);   /* threads past their spin, by the object's count */
};

struct waiter {
	pthread_t thread;
	const struct ops *ops;
	_Atomic int tid;
	int64_t returned;
};

static struct waiter waiters[NT];
static _Thread_local struct waiter *self;

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	self = w;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	w->ops->block();
	return NULL;
}

/* Until every waiter sleeps in the kernel (state S) and the object counts
 * them all past their spin. */
static void wait_all_asleep(const struct ops *ops)
{
	int64_t give_up = now_ns() + 20000000000LL;
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < NT; i++) {
			int tid = atomic_load(&waiters[i].tid);
			if (tid != 0 && task_state(tid) == 'S')
				asleep++;
		}
		if (asleep == NT && (ops->asleep == NULL || ops->asleep() == NT))
			return;
		if (now_ns() > give_up) {
			fprintf(stderr, "cond_bench: %s: only %d of %d waiters asleep after 20 s\n", ops->peer,
			        asleep, NT);
			exit(1);
		}
		usleep(200);
	}
}

/* The latency in us from the release to the last return; with idle_ns,
 * first the idle context switches per second into *rate. */
static double run_once(const struct ops *ops, int64_t idle_ns, double *rate)
{
	ops->init();
	for (int i = 0; i < NT; i++) {
		waiters[i].ops = ops;
		atomic_store(&waiters[i].tid, 0);
		waiters[i].returned = 0;
		int r = pthread_create(&waiters[i].thread, NULL, waiter_main, &waiters[i]);
		if (r != 0)
			die("pthread_create", r);
	}
	wait_all_asleep(ops);
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < NT; i++)
			before += task_switches(waiters[i].tid);
		int64_t t0 = now_ns();
		struct timespec ts = {.tv_sec = idle_ns / 1000000000, .tv_nsec = idle_ns % 1000000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		int64_t t1 = now_ns();
		for (int i = 0; i < NT; i++)
			after += task_switches(waiters[i].tid);
		*rate = (double)(after - before) / ((double)(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	ops->release();
	int64_t last = t0;
	for (int i = 0; i < NT; i++) {
		pthread_join(waiters[i].thread, NULL);
		if (waiters[i].returned > last)
			last = waiters[i].returned;
	}
	ops->fini();
	return (double)(last - t0) / 1000.0;
}

/* The stamp: taken as soon as the wait returned (for a condition: with
 * the mutex held again). */
static void stamp(void)
{
	self->returned = now_ns();
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static grace_cond gc;
static pthread_cond_t pc;
static grace_event ev;
static grace_stop *stop;
static _Atomic uint32_t word;
static bool flag; /* the predicate of the broadcasts, under m */

static void stop_init(void)
{
	int r = grace_stop_new(&stop, NULL);
	if (r < 0)
		die("grace_stop_new", r);
}

static void stop_fini(void)
{
	int r = grace_stop_free(stop);
	if (r < 0)
		die("grace_stop_free", r);
}

static void stop_request(void)
{
	grace_stop_request(stop, 1);
}

/* grace_cond, ended by the stop. */
static void gcs_init(void)
{
	memset(&gc, 0, sizeof gc);
	stop_init();
}

static void gcs_block(void)
{
	pthread_mutex_lock(&m);
	int r;
	while ((r = grace_cond_wait(&gc, &m, stop, GRACE_FOREVER)) == 0)
		;
	stamp();
	pthread_mutex_unlock(&m);
	if (r != -ECANCELED)
		die("grace_cond_wait", r);
}

/* grace_event, ended by the stop. */
static void ges_init(void)
{
	grace_event_init(&ev);
	stop_init();
}

static void ges_block(void)
{
	int r = grace_event_wait(&ev, stop, GRACE_FOREVER);
	stamp();
	if (r != -ECANCELED)
		die("grace_event_wait", r);
}

static int ev_asleep(void)
{
	return (int)atomic_load(&ev.waiters);
}

/* grace_cond, ended by a broadcast. */
static void gcb_init(void)
{
	memset(&gc, 0, sizeof gc);
	flag = false;
	stop_init();
}

static void gcb_block(void)
{
	pthread_mutex_lock(&m);
	while (!flag) {
		int r = grace_cond_wait(&gc, &m, stop, GRACE_FOREVER);
		if (r != 0)
			die("grace_cond_wait", r);
	}
	stamp();
	pthread_mutex_unlock(&m);
}

static void gcb_release(void)
{
	pthread_mutex_lock(&m);
	flag = true;
	pthread_mutex_unlock(&m);
	grace_cond_broadcast(&gc);
}

/* pthread_cond_t, ended by a broadcast. */
static void pcb_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&pc, &a);
	pthread_condattr_destroy(&a);
	flag = false;
}

static void pcb_block(void)
{
	pthread_mutex_lock(&m);
	while (!flag)
		pthread_cond_wait(&pc, &m);
	stamp();
	pthread_mutex_unlock(&m);
}

static void pcb_release(void)
{
	pthread_mutex_lock(&m);
	flag = true;
	pthread_mutex_unlock(&m);
	pthread_cond_broadcast(&pc);
}

static void pcb_fini(void)
{
	pthread_cond_destroy(&pc);
}

/* grace_wait_word, ended by the stop (idle only). */
static void gws_init(void)
{
	atomic_store(&word, 0);
	stop_init();
}

static void gws_block(void)
{
	int r = grace_wait_word((const uint32_t *)&word, 0, stop, GRACE_FOREVER);
	stamp();
	if (r != -ECANCELED)
		die("grace_wait_word", r);
}

static const struct ops gcond_stop = {"grace", gcs_init, gcs_block, stop_request, stop_fini, NULL};
static const struct ops gevent_stop = {"grace_event", ges_init, ges_block, stop_request, stop_fini, ev_asleep};
static const struct ops gcond_bcast = {"grace", gcb_init, gcb_block, gcb_release, stop_fini, NULL};
static const struct ops pcond_bcast = {"pthread_cond", pcb_init, pcb_block, pcb_release, pcb_fini, NULL};
static const struct ops gword_stop = {"grace", gws_init, gws_block, stop_request, stop_fini, NULL};

#define MAXREPS 31

/* Interleaved: each repetition runs every peer once, in turn. */
static void bench_pair(const char *scenario, const struct ops *const *ops, int nops)
{
	int reps = quick ? 7 : 21;
	double v[2][MAXREPS];
	for (int k = 0; k < reps; k++)
		for (int p = 0; p < nops; p++) {
			/* Alternate which peer goes first. */
			int q = (k % 2 == 0) ? p : nops - 1 - p;
			v[q][k] = run_once(ops[q], 0, NULL);
			if (verbose)
				fprintf(stderr, "%s %s rep %d: %.1f us\n", scenario, ops[q]->peer, k, v[q][k]);
		}
	char peer[64];
	double med[2];
	for (int p = 0; p < nops; p++) {
		snprintf(peer, sizeof peer, "%s%s", ops[p]->peer, fallback ? "_fallback" : "");
		report(scenario, peer, v[p], reps, "us", "lower");
		med[p] = v[p][reps / 2];
	}
	if (nops == 2)
		printf("RATIO %s %s/%s %.3f\n", scenario, ops[0]->peer, ops[1]->peer, med[0] / med[1]);
}

static void bench_idle(const char *scenario, const struct ops *ops)
{
	double rate = 0;
	run_once(ops, quick ? 1000000000LL : 5000000000LL, &rate);
	result(scenario, fallback ? "grace_fallback" : "grace", rate, "wakeups/s", "lower");
}

int main(int argc, char **argv)
{
	const char *q = getenv("BENCH_QUICK");
	quick = q != NULL && q[0] != '\0' && q[0] != '0';
	const char *vb = getenv("BENCH_VERBOSE");
	verbose = vb != NULL && vb[0] == '1';
	const char *fb = getenv("GRACE_NO_FUTEX_WAITV");
	fallback = fb != NULL && fb[0] != '\0' && fb[0] != '0';
	nfilters = argc - 1;
	filters = argv + 1;

	if (wanted("cond_stop_64")) {
		const struct ops *ops[] = {&gcond_stop, &gevent_stop};
		bench_pair("cond_stop_64", ops, 2);
	}
	if (wanted("cond_broadcast_64")) {
		if (fallback) {
			const struct ops *ops[] = {&gcond_bcast};
			bench_pair("cond_broadcast_64", ops, 1);
		} else {
			const struct ops *ops[] = {&gcond_bcast, &pcond_bcast};
			bench_pair("cond_broadcast_64", ops, 2);
		}
	}
	if (wanted("cond_idle_wakeups_64"))
		bench_idle("cond_idle_wakeups_64", &gcond_stop);
	if (wanted("word_idle_wakeups_64"))
		bench_idle("word_idle_wakeups_64", &gword_stop);

	const char *again = getenv("BENCH_FALLBACK");
	if (!fallback && (again == NULL || again[0] != '0')) {
		fflush(stdout);
		setenv("GRACE_NO_FUTEX_WAITV", "1", 1);
		execv("/proc/self/exe", argv);
		die("execv", errno);
	}
	return 0;
}
