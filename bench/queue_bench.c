/* SPDX-License-Identifier: MIT */
/*
 * queue_bench.c - the queue against its C peers, side by side in one run.
 *
 * Peers: grace (grace_queue, every get and put stoppable: a live stop and
 * GRACE_FOREVER), mutex_condvar (a plain ring under one mutex with two
 * condvars, stopped by a flag and a broadcast), lockfree_futex (the floor:
 * the same bounded lock-free ring as grace, parking on futex words, with no
 * stops, deadlines or shutdown), grace_unbounded (grace_queue with capacity
 * 0, a growable ring under a mutex; throughput only), and grace_event (stop only: the same 64
 * threads blocked in grace_event_wait, the figure the queue's stop target
 * is measured against).
 *
 * Scenarios:
 *   queue_1p1c, queue_2p2c     Mitems/s, capacity 1024, 1,000,000 pointer
 *                              items, each consumer takes its share.
 *   queue_stop_64              us from the stop request until the last of
 *                              64 threads blocked in get on an empty queue
 *                              has returned (its own time stamp).
 *   queue_idle_wakeups_64      context switches per second of those 64
 *                              threads while nothing happens (5 s).
 * BENCH_QUICK=1 runs fewer repetitions and shorter phases.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "grace.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define CAPACITY 1024
#define ITEMS 1000000
#define WAITERS 64

static int quick;

static void die(const char *what, int err)
{
	fprintf(stderr, "queue_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ---- the peers, behind one small interface ---- */

struct peer {
	const char *name;
	void *(*create)(void);
	void (*destroy)(void *q);
	void (*put)(void *q, void *item);
	/* 0 with an item, -1 when stopped. */
	int (*get)(void *q, void **item);
	void (*stop)(void *q);
};

/* grace */
struct gq {
	grace_queue *q;
	grace_stop *stop;
};

static void *g_create_cap(size_t cap)
{
	struct gq *g = malloc(sizeof *g);
	int r;
	if (g == NULL)
		die("malloc", ENOMEM);
	if ((r = grace_queue_new(&g->q, cap)) != 0 || (r = grace_stop_new(&g->stop, NULL)) != 0)
		die("grace", r);
	grace_queue_set_name(g->q, "bench");
	return g;
}

static void *g_create(void)
{
	return g_create_cap(CAPACITY);
}

/* The unbounded queue: a mutex-guarded growable ring (throughput only). */
static void *g_create_unbounded(void)
{
	return g_create_cap(0);
}

static void g_destroy(void *p)
{
	struct gq *g = p;
	void *left[CAPACITY];
	while (grace_queue_drain(g->q, left, CAPACITY) > 0)
		;
	grace_queue_free(g->q);
	grace_stop_free(g->stop);
	free(g);
}

static void g_put(void *p, void *item)
{
	struct gq *g = p;
	int r = grace_queue_put(g->q, item, g->stop, GRACE_FOREVER);
	if (r != 0)
		die("grace_queue_put", r);
}

static int g_get(void *p, void **item)
{
	struct gq *g = p;
	return grace_queue_get(g->q, item, g->stop, GRACE_FOREVER) == 0 ? 0 : -1;
}

static void g_stop(void *p)
{
	struct gq *g = p;
	grace_stop_request(g->stop, 1);
}

/* mutex_condvar: one lock around a ring, two condvars, a stop flag. */
struct mq {
	pthread_mutex_t m;
	pthread_cond_t not_empty, not_full;
	void *buf[CAPACITY];
	size_t head, count;
	int stopped;
};

static void *m_create(void)
{
	struct mq *q = calloc(1, sizeof *q);
	if (q == NULL)
		die("calloc", ENOMEM);
	pthread_mutex_init(&q->m, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return q;
}

static void m_destroy(void *p)
{
	struct mq *q = p;
	pthread_mutex_destroy(&q->m);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q);
}

static void m_put(void *p, void *item)
{
	struct mq *q = p;
	pthread_mutex_lock(&q->m);
	while (q->count == CAPACITY && !q->stopped)
		pthread_cond_wait(&q->not_full, &q->m);
	if (!q->stopped) {
		q->buf[(q->head + q->count) % CAPACITY] = item;
		q->count++;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->m);
}

static int m_get(void *p, void **item)
{
	struct mq *q = p;
	int r = -1;
	pthread_mutex_lock(&q->m);
	while (q->count == 0 && !q->stopped)
		pthread_cond_wait(&q->not_empty, &q->m);
	if (!q->stopped) {
		*item = q->buf[q->head];
		q->head = (q->head + 1) % CAPACITY;
		q->count--;
		pthread_cond_signal(&q->not_full);
		r = 0;
	}
	pthread_mutex_unlock(&q->m);
	return r;
}

static void m_stop(void *p)
{
	struct mq *q = p;
	pthread_mutex_lock(&q->m);
	q->stopped = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->m);
}

/* lockfree_futex: the floor. A bounded MPMC ring with per-slot sequence
 * numbers; a thread that finds it empty (full) spins briefly, then raises
 * its side's "sleeping" flag and parks on a futex word. The other side,
 * after each operation, looks at the flag and, only when it is raised,
 * clears it, bumps the word and wakes every sleeper of that side. No
 * stops, deadlines, shutdown or fairness: the least a parking ring does.
 * A stop (for the stop scenario only) is a flag plus a wake-all. */
struct lslot {
	_Atomic uint64_t seq;
	void *item;
};

struct lside {
	_Alignas(64) _Atomic uint32_t word;
	_Atomic uint32_t sleeping;
};

struct lq {
	struct lslot slot[CAPACITY];
	_Alignas(64) _Atomic uint64_t enq;
	_Alignas(64) _Atomic uint64_t deq;
	struct lside gets, puts;
	_Atomic uint32_t stopped;
};

static void *l_create(void)
{
	struct lq *q = aligned_alloc(64, sizeof(struct lq));
	if (q == NULL)
		die("aligned_alloc", ENOMEM);
	memset(q, 0, sizeof *q);
	for (uint64_t i = 0; i < CAPACITY; i++)
		atomic_init(&q->slot[i].seq, i);
	return q;
}

static void l_destroy(void *p)
{
	free(p);
}

static int l_try_put(struct lq *q, void *item)
{
	uint64_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
	for (;;) {
		struct lslot *s = &q->slot[pos & (CAPACITY - 1)];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_seq_cst);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1, memory_order_relaxed,
			                                          memory_order_relaxed)) {
				s->item = item;
				atomic_exchange_explicit(&s->seq, pos + 1, memory_order_seq_cst);
				return 0;
			}
		} else if (dif < 0) {
			return -1;
		} else {
			pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
		}
	}
}

static int l_try_get(struct lq *q, void **item)
{
	uint64_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
	for (;;) {
		struct lslot *s = &q->slot[pos & (CAPACITY - 1)];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_seq_cst);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + 1, memory_order_relaxed,
			                                          memory_order_relaxed)) {
				*item = s->item;
				atomic_exchange_explicit(&s->seq, pos + CAPACITY, memory_order_seq_cst);
				return 0;
			}
		} else if (dif < 0) {
			return -1;
		} else {
			pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
		}
	}
}

static inline void l_wake(struct lside *side)
{
	if (atomic_load_explicit(&side->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&side->sleeping, 0, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&side->word, 1, memory_order_seq_cst);
		futex_wake(&side->word, INT_MAX);
	}
}

/* Park on `side` unless the retry succeeds; *ok says which. */
#define L_PARK(side, retry, ok)                                                              \
	do {                                                                                 \
		atomic_exchange_explicit(&(side)->sleeping, 1, memory_order_seq_cst);        \
		uint32_t v_ = atomic_load_explicit(&(side)->word, memory_order_seq_cst);     \
		if ((ok = (retry)) == 0)                                                     \
			futex_wait(&(side)->word, v_);                                       \
	} while (0)

static void l_put(void *p, void *item)
{
	struct lq *q = p;
	for (int i = 0;; i++) {
		if (l_try_put(q, item) == 0)
			break;
		if (i < 256) {
			cpu_pause();
			continue;
		}
		int ok;
		L_PARK(&q->puts, l_try_put(q, item) == 0, ok);
		if (ok)
			break;
	}
	l_wake(&q->gets);
}

static int l_get(void *p, void **item)
{
	struct lq *q = p;
	for (int i = 0;; i++) {
		if (l_try_get(q, item) == 0)
			break;
		if (atomic_load_explicit(&q->stopped, memory_order_seq_cst))
			return -1;
		if (i < 256) {
			cpu_pause();
			continue;
		}
		int ok;
		L_PARK(&q->gets, atomic_load_explicit(&q->stopped, memory_order_seq_cst) || l_try_get(q, item) == 0,
		       ok);
		if (ok) {
			if (atomic_load_explicit(&q->stopped, memory_order_seq_cst))
				return -1;
			break;
		}
	}
	l_wake(&q->puts);
	return 0;
}

static void l_stop(void *p)
{
	struct lq *q = p;
	atomic_store_explicit(&q->stopped, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&q->gets.word, 1, memory_order_seq_cst);
	futex_wake(&q->gets.word, INT_MAX);
}

/* grace_event: stop only; "get" is a wait on an event nobody sets. */
struct ev {
	grace_event ev;
	grace_stop *stop;
};

static void *e_create(void)
{
	struct ev *e = malloc(sizeof *e);
	if (e == NULL)
		die("malloc", ENOMEM);
	grace_event_init(&e->ev);
	int r = grace_stop_new(&e->stop, NULL);
	if (r != 0)
		die("grace_stop_new", r);
	return e;
}

static void e_destroy(void *p)
{
	struct ev *e = p;
	grace_event_destroy(&e->ev);
	grace_stop_free(e->stop);
	free(e);
}

static int e_get(void *p, void **item)
{
	struct ev *e = p;
	(void)item;
	return grace_event_wait(&e->ev, e->stop, GRACE_FOREVER) == 0 ? 0 : -1;
}

static void e_stop(void *p)
{
	struct ev *e = p;
	grace_stop_request(e->stop, 1);
}

static const struct peer peers[] = {
    {"grace", g_create, g_destroy, g_put, g_get, g_stop},
    {"mutex_condvar", m_create, m_destroy, m_put, m_get, m_stop},
    {"lockfree_futex", l_create, l_destroy, l_put, l_get, l_stop},
};
#define NPEERS (int)(sizeof peers / sizeof peers[0])
static const struct peer unbounded_peer = {"grace_unbounded", g_create_unbounded, g_destroy, g_put, g_get, g_stop};
static const struct peer event_peer = {"grace_event", e_create, e_destroy, NULL, e_get, e_stop};

/* ---- throughput ---- */

struct tp_arg {
	const struct peer *p;
	void *q;
	pthread_barrier_t *go;
	long first, count; /* producer: items first..first+count-1; consumer: how many */
	uintptr_t sum;
};

static void *tp_producer(void *a)
{
	struct tp_arg *t = a;
	pthread_barrier_wait(t->go);
	for (long i = t->first; i < t->first + t->count; i++)
		t->p->put(t->q, (void *)(uintptr_t)(i + 1));
	return NULL;
}

static void *tp_consumer(void *a)
{
	struct tp_arg *t = a;
	pthread_barrier_wait(t->go);
	for (long i = 0; i < t->count; i++) {
		void *item;
		if (t->p->get(t->q, &item) != 0)
			die("get", EINVAL);
		t->sum += (uintptr_t)item;
	}
	return NULL;
}

static double throughput_once(const struct peer *p, int np, int nc)
{
	void *q = p->create();
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)(np + nc + 1));
	struct tp_arg args[8];
	pthread_t th[8];
	for (int i = 0; i < np + nc; i++) {
		args[i] = (struct tp_arg){.p = p, .q = q, .go = &go};
		if (i < np) {
			args[i].first = (long)i * (ITEMS / np);
			args[i].count = ITEMS / np;
		} else {
			args[i].count = ITEMS / nc;
		}
		int r = pthread_create(&th[i], NULL, i < np ? tp_producer : tp_consumer, &args[i]);
		if (r != 0)
			die("pthread_create", r);
	}
	pthread_barrier_wait(&go);
	int64_t t0 = now_ns();
	uintptr_t sum = 0;
	for (int i = 0; i < np + nc; i++) {
		pthread_join(th[i], NULL);
		sum += args[i].sum;
	}
	int64_t t1 = now_ns();
	if (sum != (uintptr_t)ITEMS * (ITEMS + 1) / 2) {
		fprintf(stderr, "queue_bench: %s lost or duplicated items\n", p->name);
		exit(1);
	}
	pthread_barrier_destroy(&go);
	p->destroy(q);
	return (double)ITEMS / ((double)(t1 - t0) / 1e3); /* items per us = M items/s */
}

static void bench_throughput(const char *scenario, int np, int nc)
{
	enum { MAXREPS = 11 };
	int reps = quick ? 3 : MAXREPS;
	double v[NPEERS + 1][MAXREPS];
	for (int k = 0; k < reps; k++) {
		for (int p = 0; p < NPEERS; p++)
			v[p][k] = throughput_once(&peers[p], np, nc);
		v[NPEERS][k] = throughput_once(&unbounded_peer, np, nc);
	}
	for (int p = 0; p < NPEERS; p++)
		result(scenario, peers[p].name, median(v[p], reps), "Mitems/s", "higher");
	result(scenario, unbounded_peer.name, median(v[NPEERS], reps), "Mitems/s", "higher");
}

/* ---- 64 blocked getters: stop latency and idle wake-ups ---- */

struct waiter {
	pthread_t th;
	const struct peer *p;
	void *q;
	_Atomic int tid;
	int64_t returned;
};

static struct waiter waiters[WAITERS];

static void *waiter_main(void *a)
{
	struct waiter *w = a;
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	void *item;
	if (w->p->get(w->q, &item) == 0)
		die("a blocked get returned an item", EINVAL);
	w->returned = now_ns();
	return NULL;
}



/* Start 64 getters on an empty queue, wait until all sleep in the kernel,
 * optionally count their context switches for idle_ns, then stop them and
 * return the time until the last one returned, in us. */
static double waiters_once(const struct peer *p, int64_t idle_ns, double *rate)
{
	void *q = p->create();
	for (int i = 0; i < WAITERS; i++) {
		waiters[i] = (struct waiter){.p = p, .q = q};
		int r = pthread_create(&waiters[i].th, NULL, waiter_main, &waiters[i]);
		if (r != 0)
			die("pthread_create", r);
	}
	int64_t give_up = now_ns() + 10000000000LL;
	for (;;) {
		int asleep = 0;
		for (int i = 0; i < WAITERS; i++) {
			int tid = atomic_load(&waiters[i].tid);
			asleep += tid != 0 && task_state(tid) == 'S';
		}
		if (asleep == WAITERS)
			break;
		if (now_ns() > give_up) {
			fprintf(stderr, "queue_bench: %s: only %d waiters asleep\n", p->name, asleep);
			break;
		}
		usleep(200);
	}
	if (idle_ns > 0) {
		long before = 0, after = 0;
		for (int i = 0; i < WAITERS; i++)
			before += task_switches(waiters[i].tid);
		int64_t t0 = now_ns();
		struct timespec ts = {.tv_sec = idle_ns / 1000000000, .tv_nsec = idle_ns % 1000000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		int64_t t1 = now_ns();
		for (int i = 0; i < WAITERS; i++)
			after += task_switches(waiters[i].tid);
		*rate = (double)(after - before) / ((double)(t1 - t0) / 1e9);
	}
	int64_t t0 = now_ns();
	p->stop(q);
	int64_t last = t0;
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(waiters[i].th, NULL);
		if (waiters[i].returned > last)
			last = waiters[i].returned;
	}
	p->destroy(q);
	return (double)(last - t0) / 1e3;
}

static void bench_stop(void)
{
	enum { MAXREPS = 21 };
	int reps = quick ? 5 : MAXREPS;
	double v[NPEERS + 1][MAXREPS];
	for (int k = 0; k < reps; k++) {
		for (int p = 0; p < NPEERS; p++)
			v[p][k] = waiters_once(&peers[p], 0, NULL);
		v[NPEERS][k] = waiters_once(&event_peer, 0, NULL);
	}
	for (int p = 0; p < NPEERS; p++)
		result("queue_stop_64", peers[p].name, median(v[p], reps), "us", "lower");
	result("queue_stop_64", event_peer.name, median(v[NPEERS], reps), "us", "lower");
}

static void bench_idle(void)
{
	int64_t idle = quick ? 1000000000LL : 5000000000LL;
	for (int p = 0; p < NPEERS; p++) {
		double rate = 0;
		waiters_once(&peers[p], idle, &rate);
		result("queue_idle_wakeups_64", peers[p].name, rate, "wakeups/s", "lower");
	}
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
	if (wanted("queue_1p1c"))
		bench_throughput("queue_1p1c", 1, 1);
	if (wanted("queue_2p2c"))
		bench_throughput("queue_2p2c", 2, 2);
	if (wanted("queue_stop_64"))
		bench_stop();
	if (wanted("queue_idle_wakeups_64"))
		bench_idle();
	return 0;
}
