/* SPDX-License-Identifier: MIT */
/*
 * core_glib_bench.c - the foundation benchmark, GLib peers: GCancellable,
 * GMutex and GCond.
 *
 * The scenarios and their rules are those of core_bench.c (see
 * bench/README.md). The stoppable wait GLib offers for threads is a
 * GCancellable whose "cancelled" handler broadcasts the GCond the threads
 * wait on, under the mutex they check the cancellable with, so no wake-up
 * is lost. BENCH_QUICK=1 shortens every phase; arguments, if any, name the
 * scenarios to run.
 */
#include <gio/gio.h>
#include <glib.h>

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
static int nfilters;
static char **filters;

static bool wanted(const char *scenario)
{
	if (nfilters == 0)
		return true;
	for (int i = 0; i < nfilters; i++)
		if (strcmp(filters[i], scenario) == 0)
			return true;
	return false;
}

/* ---- stop_check ---- */

static void bench_stop_check(void)
{
	long n = quick ? 10000000L : 100000000L;
	int reps = quick ? 3 : 11;
	GCancellable *c = g_cancellable_new();
	double v[11];
	for (int k = 0; k < reps; k++) {
		int64_t t0 = now_ns();
		long i;
		for (i = 0; i < n; i++) {
			if (g_cancellable_is_cancelled(c))
				break;
			__asm__ __volatile__("" : "+r"(i));
		}
		int64_t t1 = now_ns();
		if (i != n)
			abort();
		v[k] = (double)(t1 - t0) / (double)n;
	}
	result("stop_check", "glib_cancellable", median(v, reps), "ns", "lower");
	g_object_unref(c);
}

/* ---- event_pingpong: one flag each way under one GMutex, a GCond each ---- */

static GMutex pp_lock;
static GCond pp_cond[2];
static bool pp_flag[2];
static long pp_rounds;

static void pp_set(int side)
{
	g_mutex_lock(&pp_lock);
	pp_flag[side] = true;
	g_cond_signal(&pp_cond[side]);
	g_mutex_unlock(&pp_lock);
}

static void pp_wait_clear(int side)
{
	g_mutex_lock(&pp_lock);
	while (!pp_flag[side])
		g_cond_wait(&pp_cond[side], &pp_lock);
	pp_flag[side] = false;
	g_mutex_unlock(&pp_lock);
}

static gpointer pp_side_b(gpointer arg)
{
	(void)arg;
	for (long i = 0; i < pp_rounds; i++) {
		pp_wait_clear(0);
		pp_set(1);
	}
	return NULL;
}

static void bench_pingpong(void)
{
	int reps = quick ? 5 : 31;
	double v[31];
	for (int k = 0; k < reps; k++) {
		pp_flag[0] = pp_flag[1] = false;
		GThread *b = g_thread_new("pp", pp_side_b, NULL);
		pp_set(0);
		pp_wait_clear(1);
		int64_t t0 = now_ns();
		for (long i = 1; i < pp_rounds; i++) {
			pp_set(0);
			pp_wait_clear(1);
		}
		int64_t t1 = now_ns();
		g_thread_join(b);
		v[k] = (double)(t1 - t0) / 1000.0 / (double)(pp_rounds - 1);
	}
	result("event_pingpong", "glib_gcond", median(v, reps), "us", "lower");
}

/* ---- stop_all_N and idle_wakeups_64 ---- */

#define MAX_WAITERS 64

static GMutex wa_lock;
static GCond wa_cond;
static GCancellable *wa_cancel;

struct waiter {
	GThread *thread;
	_Atomic int tid;
	int64_t returned;
};

static struct waiter waiters[MAX_WAITERS];

static void on_cancelled(GCancellable *c, gpointer arg)
{
	(void)c;
	(void)arg;
	g_mutex_lock(&wa_lock);
	g_cond_broadcast(&wa_cond);
	g_mutex_unlock(&wa_lock);
}

static gpointer waiter_main(gpointer arg)
{
	struct waiter *w = arg;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	g_mutex_lock(&wa_lock);
	while (!g_cancellable_is_cancelled(wa_cancel))
		g_cond_wait(&wa_cond, &wa_lock);
	g_mutex_unlock(&wa_lock);
	w->returned = now_ns();
	return NULL;
}



static double waiters_once(int n, int64_t idle_ns, double *rate)
{
	wa_cancel = g_cancellable_new();
	gulong id = g_cancellable_connect(wa_cancel, G_CALLBACK(on_cancelled), NULL, NULL);
	for (int i = 0; i < n; i++) {
		atomic_store(&waiters[i].tid, 0);
		waiters[i].returned = 0;
		waiters[i].thread = g_thread_new("waiter", waiter_main, &waiters[i]);
	}
	int64_t give_up = now_ns() + 10000000000LL;
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < n; i++) {
			int tid = atomic_load(&waiters[i].tid);
			if (tid != 0 && task_state(tid) == 'S')
				asleep++;
		}
		if (asleep == n)
			break;
		if (now_ns() > give_up) {
			fprintf(stderr, "core_glib_bench: only %d of %d waiters asleep after 10 s\n", asleep, n);
			break;
		}
		g_usleep(200);
	}
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < n; i++)
			before += task_switches(waiters[i].tid);
		int64_t t0 = now_ns();
		g_usleep((gulong)(idle_ns / 1000));
		int64_t t1 = now_ns();
		for (int i = 0; i < n; i++)
			after += task_switches(waiters[i].tid);
		*rate = (double)(after - before) / ((double)(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	g_cancellable_cancel(wa_cancel);
	int64_t last = t0;
	for (int i = 0; i < n; i++) {
		g_thread_join(waiters[i].thread);
		if (waiters[i].returned > last)
			last = waiters[i].returned;
	}
	g_cancellable_disconnect(wa_cancel, id);
	g_object_unref(wa_cancel);
	return (double)(last - t0) / 1000.0;
}

static void bench_stop_all(int n)
{
	int reps = quick ? 5 : n <= 8 ? 31 : 21;
	double v[31];
	char scenario[32];
	snprintf(scenario, sizeof scenario, "stop_all_%d", n);
	for (int k = 0; k < reps; k++)
		v[k] = waiters_once(n, 0, NULL);
	result(scenario, "glib_cancellable_cond", median(v, reps), "us", "lower");
}

static void bench_idle(void)
{
	double rate = 0;
	waiters_once(64, quick ? 1000000000LL : 5000000000LL, &rate);
	result("idle_wakeups_64", "glib_cancellable_cond", rate, "wakeups/s", "lower");
}

int main(int argc, char **argv)
{
	const char *q = getenv("BENCH_QUICK");
	quick = q != NULL && q[0] != '\0' && q[0] != '0';
	nfilters = argc - 1;
	filters = argv + 1;
	pp_rounds = quick ? 500 : 2000;

	if (wanted("stop_check"))
		bench_stop_check();
	if (wanted("event_pingpong"))
		bench_pingpong();
	if (wanted("stop_all_8"))
		bench_stop_all(8);
	if (wanted("stop_all_64"))
		bench_stop_all(64);
	if (wanted("idle_wakeups_64"))
		bench_idle();
	return 0;
}
