/* SPDX-License-Identifier: MIT */
/*
 * queue_glib_bench.c - the GLib peer of bench/queue_bench.c: GAsyncQueue.
 * It has no capacity (puts never wait, so the capacity-1024 shape cannot be
 * reproduced: it moves the same 1,000,000 items unbounded) and no way to
 * stop a blocked pop but a sentinel item: the stop scenario pushes one
 * sentinel per blocked thread, which is how GLib code stops its workers.
 * Scenarios and units as in queue_bench.c; peer name glib_async_queue.
 */
#include <glib.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define ITEMS 1000000
#define WAITERS 64

static int quick;
static char sentinel;

struct tp {
	GAsyncQueue *q;
	long first, count;
	uintptr_t sum;
	_Atomic int *go;
};

static gpointer producer(gpointer a)
{
	struct tp *t = a;
	while (!atomic_load(t->go))
		;
	for (long i = t->first; i < t->first + t->count; i++)
		g_async_queue_push(t->q, (gpointer)(uintptr_t)(i + 1));
	return NULL;
}

static gpointer consumer(gpointer a)
{
	struct tp *t = a;
	while (!atomic_load(t->go))
		;
	for (long i = 0; i < t->count; i++)
		t->sum += (uintptr_t)g_async_queue_pop(t->q);
	return NULL;
}

static double throughput_once(int np, int nc)
{
	GAsyncQueue *q = g_async_queue_new();
	_Atomic int go = 0;
	struct tp args[8];
	GThread *th[8];
	for (int i = 0; i < np + nc; i++) {
		args[i] = (struct tp){.q = q, .go = &go};
		args[i].first = i < np ? (long)i * (ITEMS / np) : 0;
		args[i].count = i < np ? ITEMS / np : ITEMS / nc;
		th[i] = g_thread_new("bench", i < np ? producer : consumer, &args[i]);
	}
	int64_t t0 = now_ns();
	atomic_store(&go, 1);
	uintptr_t sum = 0;
	for (int i = 0; i < np + nc; i++) {
		g_thread_join(th[i]);
		sum += args[i].sum;
	}
	int64_t t1 = now_ns();
	if (sum != (uintptr_t)ITEMS * (ITEMS + 1) / 2) {
		fprintf(stderr, "queue_glib_bench: items lost\n");
		exit(1);
	}
	g_async_queue_unref(q);
	return (double)ITEMS / ((double)(t1 - t0) / 1e3);
}

struct waiter {
	GThread *th;
	GAsyncQueue *q;
	_Atomic int tid;
	int64_t returned;
};

static struct waiter waiters[WAITERS];

static gpointer waiter_main(gpointer a)
{
	struct waiter *w = a;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	if (g_async_queue_pop(w->q) != &sentinel)
		abort();
	w->returned = now_ns();
	return NULL;
}



static double waiters_once(int64_t idle_ns, double *rate)
{
	GAsyncQueue *q = g_async_queue_new();
	for (int i = 0; i < WAITERS; i++) {
		waiters[i] = (struct waiter){.q = q};
		waiters[i].th = g_thread_new("waiter", waiter_main, &waiters[i]);
	}
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < WAITERS; i++) {
			int tid = atomic_load(&waiters[i].tid);
			asleep += tid != 0 && task_state(tid) == 'S';
		}
		if (asleep == WAITERS)
			break;
		usleep(200);
	}
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < WAITERS; i++)
			before += task_switches(waiters[i].tid);
		int64_t t0 = now_ns();
		g_usleep((gulong)(idle_ns / 1000));
		int64_t t1 = now_ns();
		for (int i = 0; i < WAITERS; i++)
			after += task_switches(waiters[i].tid);
		*rate = (double)(after - before) / ((double)(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	for (int i = 0; i < WAITERS; i++)
		g_async_queue_push(q, &sentinel);
	int64_t last = t0;
	for (int i = 0; i < WAITERS; i++) {
		g_thread_join(waiters[i].th);
		if (waiters[i].returned > last)
			last = waiters[i].returned;
	}
	g_async_queue_unref(q);
	return (double)(last - t0) / 1e3;
}

static int wanted(const char *scenario)
{
	const char *only = getenv("BENCH_ONLY");
	return only == NULL || only[0] == '\0' || strstr(only, scenario) != NULL;
}

int main(void)
{
	const char *e = getenv("BENCH_QUICK");
	quick = e != NULL && e[0] != '\0' && e[0] != '0';
	int reps = quick ? 3 : 11;
	double v[21];
	if (wanted("queue_1p1c")) {
		for (int k = 0; k < reps; k++)
			v[k] = throughput_once(1, 1);
		result("queue_1p1c", "glib_async_queue", median(v, reps), "Mitems/s", "higher");
	}
	if (wanted("queue_2p2c")) {
		for (int k = 0; k < reps; k++)
			v[k] = throughput_once(2, 2);
		result("queue_2p2c", "glib_async_queue", median(v, reps), "Mitems/s", "higher");
	}
	if (wanted("queue_stop_64")) {
		int n = quick ? 5 : 21;
		for (int k = 0; k < n; k++)
			v[k] = waiters_once(0, NULL);
		result("queue_stop_64", "glib_async_queue", median(v, n), "us", "lower");
	}
	if (wanted("queue_idle_wakeups_64")) {
		double rate = 0;
		waiters_once(quick ? 1000000000LL : 5000000000LL, &rate);
		result("queue_idle_wakeups_64", "glib_async_queue", rate, "wakeups/s", "lower");
	}
	return 0;
}
