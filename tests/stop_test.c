/* SPDX-License-Identifier: MIT */
/*
 * stop_test.c - grace_stop: request, reason, children, deadline, callbacks
 * (with the std::stop_callback guarantees), the wake descriptor, misuse.
 */
#include "test.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static grace_stop *new_stop(grace_stop *parent)
{
	grace_stop *s = NULL;
	ASSERT_RC(grace_stop_new(&s, parent), 0);
	ASSERT_TRUE(s != NULL);
	return s;
}

TEST(request_is_idempotent_first_reason_sticks)
{
	grace_stop *s = new_stop(NULL);
	ASSERT_FALSE(grace_stop_requested(s));
	ASSERT_EQ(grace_stop_reason(s), 0);
	ASSERT_RC(grace_stop_request(s, 42), 1);
	ASSERT_TRUE(grace_stop_requested(s));
	ASSERT_EQ(grace_stop_reason(s), 42);
	ASSERT_RC(grace_stop_request(s, 43), 0);
	ASSERT_EQ(grace_stop_reason(s), 42);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(null_stop_is_never_requested)
{
	ASSERT_FALSE(grace_stop_requested(NULL));
	ASSERT_EQ(grace_stop_reason(NULL), 0);
	ASSERT_RC(grace_stop_free(NULL), 0);
}

TEST(misuse)
{
	grace_stop *s = new_stop(NULL);
	grace_stop_cb cb = {0};
	ASSERT_RC(grace_stop_new(NULL, NULL), -EINVAL);
	ASSERT_RC(grace_stop_request(NULL, 1), -EINVAL);
	ASSERT_RC(grace_stop_request(s, 0), -EINVAL);
	ASSERT_RC(grace_stop_request(s, -1), -EINVAL);
	ASSERT_RC(grace_stop_request(s, GRACE_REASON_DEADLINE), -EINVAL);
	ASSERT_FALSE(grace_stop_requested(s)); /* nothing changed */
	ASSERT_RC(grace_stop_set_deadline(NULL, 0), -EINVAL);
	ASSERT_RC(grace_stop_on(NULL, &cb, (void (*)(void *))abort, NULL), -EINVAL);
	ASSERT_RC(grace_stop_on(s, NULL, (void (*)(void *))abort, NULL), -EINVAL);
	ASSERT_RC(grace_stop_on(s, &cb, NULL, NULL), -EINVAL);
	ASSERT_RC(grace_stop_off(NULL), -EINVAL);
	ASSERT_RC(grace_stop_try_off(NULL), -EINVAL);
	ASSERT_RC(grace_stop_fd(NULL), -EINVAL);
	/* A record never registered: nothing to remove. */
	ASSERT_RC(grace_stop_off(&cb), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(reasons)
{
	ASSERT_LT(GRACE_REASON_DEADLINE, 0);
	ASSERT_LT(GRACE_REASON_SIBLING_FAILED, 0);
	ASSERT_NE(GRACE_REASON_DEADLINE, GRACE_REASON_SIBLING_FAILED);
	ASSERT_EQ(grace_reason_signal(GRACE_REASON_SIGNAL(SIGINT)), SIGINT);
	ASSERT_EQ(grace_reason_signal(GRACE_REASON_SIGNAL(SIGTERM)), SIGTERM);
	ASSERT_EQ(grace_reason_signal(GRACE_REASON_SIGNAL(64)), 64);
	ASSERT_EQ(grace_reason_signal(GRACE_REASON_DEADLINE), 0);
	ASSERT_EQ(grace_reason_signal(GRACE_REASON_SIBLING_FAILED), 0);
	ASSERT_EQ(grace_reason_signal(5), 0);
	ASSERT_EQ(grace_reason_signal(0), 0);
	ASSERT_NE(GRACE_REASON_SIGNAL(1), GRACE_REASON_DEADLINE);
	ASSERT_NE(GRACE_REASON_SIGNAL(1), GRACE_REASON_SIBLING_FAILED);
}

TEST(children_follow_parent)
{
	grace_stop *root = new_stop(NULL);
	grace_stop *a = new_stop(root);
	grace_stop *b = new_stop(a);
	grace_stop *c = new_stop(root);
	/* A child's request does not reach its parent or siblings. */
	ASSERT_RC(grace_stop_request(c, 9), 1);
	ASSERT_FALSE(grace_stop_requested(root));
	ASSERT_FALSE(grace_stop_requested(a));
	/* A parent's does reach every descendant, with its reason. */
	ASSERT_RC(grace_stop_request(root, 4), 1);
	ASSERT_TRUE(grace_stop_requested(a));
	ASSERT_TRUE(grace_stop_requested(b));
	ASSERT_EQ(grace_stop_reason(a), 4);
	ASSERT_EQ(grace_stop_reason(b), 4);
	ASSERT_EQ(grace_stop_reason(c), 9); /* its own first reason sticks */
	/* A child made under a requested parent starts requested. */
	grace_stop *late = new_stop(root);
	ASSERT_TRUE(grace_stop_requested(late));
	ASSERT_EQ(grace_stop_reason(late), 4);
	/* The parent must outlive its children. */
	ASSERT_RC(grace_stop_free(root), -EBUSY);
	ASSERT_RC(grace_stop_free(a), -EBUSY);
	ASSERT_RC(grace_stop_free(b), 0);
	ASSERT_RC(grace_stop_free(a), 0);
	ASSERT_RC(grace_stop_free(c), 0);
	ASSERT_RC(grace_stop_free(late), 0);
	ASSERT_RC(grace_stop_free(root), 0);
}

TEST(freed_child_is_forgotten)
{
	grace_stop *root = new_stop(NULL);
	for (int i = 0; i < 100; i++) {
		grace_stop *c = new_stop(root);
		ASSERT_RC(grace_stop_free(c), 0);
	}
	ASSERT_RC(grace_stop_request(root, 1), 1); /* runs no stale callback */
	ASSERT_RC(grace_stop_free(root), 0);
}

/* ---- callbacks ---- */

static void count_cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

TEST(callback_runs_once_on_request)
{
	grace_stop *s = new_stop(NULL);
	atomic_int n = 0;
	grace_stop_cb cb;
	ASSERT_RC(grace_stop_on(s, &cb, count_cb, &n), 0);
	ASSERT_RC(grace_stop_on(s, &cb, count_cb, &n), -EINVAL); /* already registered */
	ASSERT_RC(grace_stop_free(s), -EBUSY);                   /* a callback is registered */
	ASSERT_EQ(atomic_load(&n), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_RC(grace_stop_request(s, 1), 0);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_RC(grace_stop_off(&cb), 0); /* it has run */
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(callback_on_requested_stop_runs_at_once)
{
	grace_stop *s = new_stop(NULL);
	grace_stop_request(s, 1);
	atomic_int n = 0;
	grace_stop_cb cb;
	ASSERT_RC(grace_stop_on(s, &cb, count_cb, &n), 1);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_RC(grace_stop_off(&cb), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* The record is opaque storage of the documented size (the ABI), aligned
 * for a pointer and an int64_t; the library's record lives inside it, and
 * a zeroed one is idle. */
_Static_assert(sizeof(grace_stop_cb) == GRACE_STOP_CB_WORDS * sizeof(void *), "grace_stop_cb's documented size");
_Static_assert(_Alignof(grace_stop_cb) >= _Alignof(void *) && _Alignof(grace_stop_cb) >= _Alignof(int64_t),
               "grace_stop_cb's documented alignment");

TEST(callback_records_stay_inside_their_storage)
{
	/* Records packed between guard bytes: whatever the library keeps in
	 * one, registering, running, removing and reusing it touches none of
	 * the bytes around it. */
	struct guarded {
		unsigned char before[sizeof(void *)];
		grace_stop_cb cb;
		unsigned char after[sizeof(void *)];
	} rec[3];
	memset(rec, 0xa5, sizeof rec);
	for (int i = 0; i < 3; i++)
		memset(&rec[i].cb, 0, sizeof rec[i].cb);
	grace_stop *s = new_stop(NULL);
	atomic_int n = 0;
	for (int i = 0; i < 3; i++)
		ASSERT_RC(grace_stop_on(s, &rec[i].cb, count_cb, &n), 0);
	ASSERT_RC(grace_stop_off(&rec[1].cb), 1); /* the middle one of the list */
	ASSERT_RC(grace_stop_on(s, &rec[1].cb, count_cb, &n), 0); /* idle again: reusable */
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(atomic_load(&n), 3);
	for (int i = 0; i < 3; i++)
		ASSERT_RC(grace_stop_off(&rec[i].cb), 0);
	/* One that has run is reusable too: on a requested stop it runs at once. */
	ASSERT_RC(grace_stop_on(s, &rec[0].cb, count_cb, &n), 1);
	ASSERT_EQ(atomic_load(&n), 4);
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < sizeof rec[i].before; j++) {
			ASSERT_EQ(rec[i].before[j], 0xa5);
			ASSERT_EQ(rec[i].after[j], 0xa5);
		}
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(off_before_request_removes)
{
	grace_stop *s = new_stop(NULL);
	atomic_int n = 0;
	grace_stop_cb a, b, c;
	ASSERT_RC(grace_stop_on(s, &a, count_cb, &n), 0);
	ASSERT_RC(grace_stop_on(s, &b, count_cb, &n), 0);
	ASSERT_RC(grace_stop_on(s, &c, count_cb, &n), 0);
	ASSERT_RC(grace_stop_off(&b), 1); /* the middle one */
	ASSERT_RC(grace_stop_off(&b), 0);
	ASSERT_RC(grace_stop_try_off(&a), 1);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(atomic_load(&n), 1); /* only c ran */
	ASSERT_RC(grace_stop_off(&c), 0);
	/* A removed record can be registered again. */
	ASSERT_RC(grace_stop_on(s, &b, count_cb, &n), 1);
	ASSERT_EQ(atomic_load(&n), 2);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* off from inside the callback returns at once, and the callback may then
 * free its own record. */
struct self_off {
	grace_stop_cb cb;
	int off_rc;
};

static void self_off_cb(void *arg)
{
	struct self_off **p = arg;
	(*p)->off_rc = grace_stop_off(&(*p)->cb);
	ASSERT_EQ((*p)->off_rc, 0);
	free(*p);
	*p = NULL;
}

TEST(off_from_inside_callback_returns_and_may_free)
{
	grace_stop *s = new_stop(NULL);
	struct self_off *rec = malloc(sizeof *rec);
	ASSERT_RC(grace_stop_on(s, &rec->cb, self_off_cb, &rec), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_TRUE(rec == NULL); /* freed inside: ASan checks no one touched it */
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A callback may call back into the library: request other stops, register
 * and remove callbacks on its own stop. */
struct reenter {
	grace_stop *self, *other;
	grace_stop_cb later, pending;
	atomic_int n;
};

static void reenter_cb(void *arg)
{
	struct reenter *r = arg;
	ASSERT_RC(grace_stop_request(r->self, 2), 0);         /* already requested */
	ASSERT_RC(grace_stop_request(r->other, 3), 1);        /* another stop */
	ASSERT_RC(grace_stop_on(r->self, &r->later, count_cb, &r->n), 1); /* runs at once */
	int off = grace_stop_off(&r->pending);                /* still queued or already run */
	ASSERT_TRUE(off == 0 || off == 1);
	atomic_fetch_add(&r->n, 10 * off);
}

TEST(callback_reenters_library)
{
	struct reenter r = {0};
	r.self = new_stop(NULL);
	r.other = new_stop(NULL);
	grace_stop_cb cb;
	atomic_store(&r.n, 0);
	ASSERT_RC(grace_stop_on(r.self, &r.pending, count_cb, &r.n), 0);
	ASSERT_RC(grace_stop_on(r.self, &cb, reenter_cb, &r), 0);
	ASSERT_RC(grace_stop_request(r.self, 1), 1);
	ASSERT_TRUE(grace_stop_requested(r.other));
	/* later ran once (1); pending either ran (1) or was removed (10). */
	int n = atomic_load(&r.n);
	ASSERT_TRUE(n == 2 || n == 11);
	ASSERT_RC(grace_stop_free(r.other), 0);
	ASSERT_RC(grace_stop_free(r.self), 0);
}

/* off from another thread waits for a running callback to return. */
struct slow {
	atomic_int entered, release, returned;
};

static void slow_cb(void *arg)
{
	struct slow *s = arg;
	atomic_store(&s->entered, 1);
	WAIT_UNTIL(atomic_load(&s->release));
	atomic_store(&s->returned, 1);
}

struct req_arg {
	grace_stop *s;
};

static void *request_main(void *arg)
{
	grace_stop_request(((struct req_arg *)arg)->s, 1);
	return NULL;
}

TEST(off_waits_for_running_callback_try_off_does_not)
{
	grace_stop *s = new_stop(NULL);
	struct slow sl = {0};
	grace_stop_cb cb;
	ASSERT_RC(grace_stop_on(s, &cb, slow_cb, &sl), 0);
	struct req_arg ra = {s};
	pthread_t t;
	start_threads(&t, 1, request_main, &ra, 0);
	WAIT_UNTIL(atomic_load(&sl.entered));
	ASSERT_RC(grace_stop_try_off(&cb), -EBUSY);
	atomic_store(&sl.release, 1);
	ASSERT_RC(grace_stop_off(&cb), 0);
	/* off returned only after fn did. */
	ASSERT_EQ(atomic_load(&sl.returned), 1);
	join_threads(&t, 1);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Once a request has run a callback, the record is its owner's again: a
 * thread that learns the request is over may free it at once, and the owner
 * of a child may free the child, whose link in its parent is such a record.
 * The request must not touch either afterwards. The handshake is a relaxed
 * flag on purpose: it gives the freeing thread no ordering of its own, so
 * ThreadSanitizer (and `make helgrind`) report any access the request makes
 * to a record after publishing it done. */
struct after_arg {
	grace_stop *s;
	atomic_int done;
};

static void *request_then_flag(void *arg)
{
	struct after_arg *a = arg;
	grace_stop_request(a->s, 1);
	atomic_store_explicit(&a->done, 1, memory_order_relaxed);
	return NULL;
}

TEST(records_are_free_once_the_request_ran_them)
{
	for (int round = 0; round < 20; round++) {
		grace_stop *root = new_stop(NULL);
		grace_stop *child = new_stop(root);
		grace_stop_cb *cb = calloc(1, sizeof *cb);
		ASSERT_TRUE(cb != NULL);
		atomic_int n = 0;
		ASSERT_RC(grace_stop_on(root, cb, count_cb, &n), 0);
		struct after_arg a = {root, 0};
		pthread_t t;
		start_threads(&t, 1, request_then_flag, &a, 0);
		WAIT_UNTIL(atomic_load_explicit(&a.done, memory_order_relaxed));
		ASSERT_RC(grace_stop_off(cb), 0);
		free(cb);
		ASSERT_TRUE(grace_stop_requested(child));
		ASSERT_RC(grace_stop_free(child), 0);
		join_threads(&t, 1);
		ASSERT_EQ(atomic_load(&n), 1);
		ASSERT_RC(grace_stop_free(root), 0);
	}
}

/* Callbacks registered while the stop is being requested run exactly once. */
#define REG_THREADS 4
#define REG_PER 64

struct reg {
	grace_stop *s;
	atomic_int *go;
	grace_stop_cb cbs[REG_PER];
	atomic_int runs[REG_PER];
};

static void run_cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void *register_main(void *arg)
{
	struct reg *r = arg;
	/* Yield while waiting: under valgrind, which runs one thread at a
	 * time, a bare spin holds the only CPU for its whole time slice. */
	while (!atomic_load(r->go))
		sched_yield();
	for (int i = 0; i < REG_PER; i++)
		grace_stop_on(r->s, &r->cbs[i], run_cb, &r->runs[i]);
	return NULL;
}

TEST(callbacks_added_during_request_run_exactly_once)
{
	int rounds = getenv("GRACE_TEST_SLOW") ? 50 : 300;
	static struct reg regs[REG_THREADS];
	for (int round = 0; round < rounds; round++) {
		grace_stop *s = new_stop(NULL);
		atomic_int go = 0;
		pthread_t t[REG_THREADS];
		for (int i = 0; i < REG_THREADS; i++) {
			memset(&regs[i], 0, sizeof regs[i]);
			regs[i].s = s;
			regs[i].go = &go;
		}
		start_threads(t, REG_THREADS, register_main, regs, sizeof regs[0]);
		atomic_store(&go, 1);
		for (int k = 0; k < round % 50; k++)
			sched_yield();
		grace_stop_request(s, 1);
		join_threads(t, REG_THREADS);
		for (int i = 0; i < REG_THREADS; i++)
			for (int j = 0; j < REG_PER; j++)
				ASSERT_EQ(atomic_load(&regs[i].runs[j]), 1);
		ASSERT_RC(grace_stop_free(s), 0);
	}
}

/* 64 threads request the same stop at once: exactly one sees 1, and each
 * sees the flag set when its call returns. */
struct racer {
	grace_stop *s;
	grace_event *go;
	int id;
	int rc;
	bool seen;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	grace_event_wait(r->go, NULL, GRACE_FOREVER);
	r->rc = grace_stop_request(r->s, 100 + r->id % 7 + 1);
	r->seen = grace_stop_requested(r->s);
	return NULL;
}

TEST(concurrent_requests_exactly_one_wins)
{
	int rounds = getenv("GRACE_TEST_SLOW") ? 20 : 100;
	for (int round = 0; round < rounds; round++) {
		grace_stop *s = new_stop(NULL);
		grace_event go = GRACE_EVENT_INIT;
		atomic_int n = 0;
		grace_stop_cb cb;
		grace_stop_on(s, &cb, count_cb, &n);
		struct racer r[64];
		pthread_t t[64];
		for (int i = 0; i < 64; i++)
			r[i] = (struct racer){s, &go, i, -1, false};
		start_threads(t, 64, racer_main, r, sizeof r[0]);
		grace_event_set(&go);
		join_threads(t, 64);
		int winners = 0;
		for (int i = 0; i < 64; i++) {
			ASSERT_TRUE(r[i].rc == 0 || r[i].rc == 1);
			ASSERT_TRUE(r[i].seen);
			winners += r[i].rc;
		}
		ASSERT_EQ(winners, 1);
		ASSERT_EQ(atomic_load(&n), 1);
		ASSERT_GT(grace_stop_reason(s), 100);
		ASSERT_RC(grace_stop_free(s), 0);
	}
}

/* ---- deadline ---- */

TEST(deadline_fires_on_time_without_waiters)
{
	grace_stop *s = new_stop(NULL);
	grace_deadline d = grace_after_ms(30);
	ASSERT_RC(grace_stop_set_deadline(s, d), 0);
	while (!grace_stop_requested(s)) {
		ASSERT_LT(grace_now(), d + test_slack_ms() * 1000000);
		sched_yield(); /* the timer thread needs the CPU under valgrind */
	}
	grace_deadline seen = grace_now();
	ASSERT_GE(seen, d);
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_DEADLINE);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(deadline_wakes_waiter_within_a_few_ms)
{
	/* Never early; "within a few ms" judged on the best of five tries, so
	 * that a loaded machine delaying one wake-up does not fail the test
	 * while a timer that is always late still does. */
	int64_t best = INT64_MAX;
	for (int i = 0; i < 5 && best > 5000000; i++) {
		grace_stop *s = new_stop(NULL);
		grace_event ev = GRACE_EVENT_INIT;
		grace_deadline d = grace_after_ms(20);
		ASSERT_RC(grace_stop_set_deadline(s, d), 0);
		ASSERT_RC(grace_event_wait(&ev, s, GRACE_FOREVER), -ECANCELED);
		grace_deadline late = grace_now() - d;
		ASSERT_GE(late, 0);
		ASSERT_LT(late, test_slack_ms() * 4 * 1000000LL); /* and never lost */
		if (late < best)
			best = late;
		ASSERT_RC(grace_stop_free(s), 0);
	}
	ASSERT_LT(best, (getenv("GRACE_TEST_SLOW") ? 50 : 5) * 1000000LL);
}

TEST(deadline_ordering_replace_remove_past)
{
	grace_stop *a = new_stop(NULL), *b = new_stop(NULL), *c = new_stop(NULL), *p = new_stop(NULL);
	grace_stop *child = new_stop(b);
	/* Inserted out of order; they must fire in deadline order. */
	grace_deadline da = grace_after_ms(60);
	ASSERT_RC(grace_stop_set_deadline(a, da), 0);
	ASSERT_RC(grace_stop_set_deadline(b, grace_after_ms(20)), 0);
	ASSERT_RC(grace_stop_set_deadline(c, grace_after_ms(10)), 0);
	ASSERT_RC(grace_stop_set_deadline(c, GRACE_FOREVER), 0); /* removed */
	ASSERT_RC(grace_stop_set_deadline(p, grace_now() - 1), 0); /* past: at once */
	ASSERT_TRUE(grace_stop_requested(p));
	ASSERT_EQ(grace_stop_reason(p), GRACE_REASON_DEADLINE);
	grace_event never = GRACE_EVENT_INIT;
	/* The child of b is woken through b's deadline. */
	ASSERT_RC(grace_event_wait(&never, child, GRACE_FOREVER), -ECANCELED);
	/* a may have fired meanwhile on a loaded machine, but never early. */
	bool a_fired = grace_stop_requested(a);
	ASSERT_TRUE(!a_fired || grace_now() >= da);
	ASSERT_TRUE(grace_stop_requested(b));
	ASSERT_EQ(grace_stop_reason(b), GRACE_REASON_DEADLINE);
	ASSERT_EQ(grace_stop_reason(child), GRACE_REASON_DEADLINE);
	ASSERT_RC(grace_event_wait(&never, a, GRACE_FOREVER), -ECANCELED);
	ASSERT_FALSE(grace_stop_requested(c));
	/* A deadline on a requested stop changes nothing. */
	ASSERT_RC(grace_stop_set_deadline(a, grace_after_ms(1)), 0);
	ASSERT_RC(grace_stop_free(child), 0);
	ASSERT_RC(grace_stop_free(a), 0);
	ASSERT_RC(grace_stop_free(b), 0);
	ASSERT_RC(grace_stop_free(c), 0);
	ASSERT_RC(grace_stop_free(p), 0);
}

TEST(free_with_pending_deadline)
{
	for (int i = 0; i < 200; i++) {
		grace_stop *s = new_stop(NULL);
		/* Some fire while being freed, some never. */
		ASSERT_RC(grace_stop_set_deadline(s, grace_after_ns((i % 5) * 20000)), 0);
		ASSERT_RC(grace_stop_free(s), 0);
	}
}

/* ---- descriptor ---- */

TEST(fd_becomes_readable_on_request)
{
	grace_stop *s = new_stop(NULL);
	int fd = grace_stop_fd(s);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(grace_stop_fd(s), fd); /* the same one each time */
	struct pollfd p = {fd, POLLIN, 0};
	ASSERT_EQ(poll(&p, 1, 0), 0);
	grace_stop_request(s, 1);
	ASSERT_EQ(poll(&p, 1, 1000), 1);
	ASSERT_TRUE(p.revents & POLLIN);
	ASSERT_EQ(poll(&p, 1, 0), 1); /* and stays readable */
	ASSERT_RC(grace_stop_free(s), 0);

	/* Asked for after the request: readable at once. */
	s = new_stop(NULL);
	grace_stop_request(s, 1);
	fd = grace_stop_fd(s);
	ASSERT_GE(fd, 0);
	p = (struct pollfd){fd, POLLIN, 0};
	ASSERT_EQ(poll(&p, 1, 0), 1);
	ASSERT_RC(grace_stop_free(s), 0);
}

struct fd_waiter {
	grace_stop *s;
	int revents;
};

static void *fd_wait_main(void *arg)
{
	struct fd_waiter *w = arg;
	struct pollfd p = {grace_stop_fd(w->s), POLLIN, 0};
	poll(&p, 1, 20000);
	w->revents = p.revents;
	return NULL;
}

TEST(fd_wakes_a_poll_loop)
{
	grace_stop *parent = new_stop(NULL);
	grace_stop *s = new_stop(parent);
	ASSERT_GE(grace_stop_fd(s), 0);
	struct fd_waiter w = {s, 0};
	pthread_t t;
	start_threads(&t, 1, fd_wait_main, &w, 0);
	grace_stop_request(parent, 1); /* through the child */
	join_threads(&t, 1);
	ASSERT_TRUE(w.revents & POLLIN);
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_RC(grace_stop_free(parent), 0);
}

/* ---- hardening: the request, off and free (docs/reliability.md) ---- */

/* Item 1: fn removes its own record while its owner calls grace_stop_off
 * from another thread, in both orders: off returns exactly when fn has
 * returned, never before and never not at all. */
struct selfoff {
	grace_stop *s;
	grace_stop_cb cb;
	int yields_before, yields_after;
	atomic_int entered, owner_calling, fn_returned, off_done, off_rc, off_saw_return;
};

static void selfoff_cb(void *arg)
{
	struct selfoff *x = arg;
	atomic_store(&x->entered, 1);
	WAIT_UNTIL_MS(atomic_load(&x->owner_calling), 5000);
	for (int i = 0; i < x->yields_before; i++)
		sched_yield();
	ASSERT_RC(grace_stop_off(&x->cb), 0);
	for (int i = 0; i < x->yields_after; i++)
		sched_yield();
	atomic_store(&x->fn_returned, 1);
}

static void *selfoff_request_main(void *arg)
{
	struct selfoff *x = arg;
	grace_stop_request(x->s, 1);
	return NULL;
}

static void *selfoff_owner_main(void *arg)
{
	struct selfoff *x = arg;
	atomic_store(&x->owner_calling, 1);
	int rc = grace_stop_off(&x->cb);
	atomic_store(&x->off_saw_return, atomic_load(&x->fn_returned));
	atomic_store(&x->off_rc, rc);
	atomic_store(&x->off_done, 1);
	return NULL;
}

TEST(off_and_self_removal_in_both_orders)
{
	for (int round = 0; round < 40; round++) {
		struct selfoff x = {0};
		x.s = new_stop(NULL);
		/* Even rounds: the owner is (most likely) waiting in off before
		 * fn removes itself; odd rounds: fn removes itself first and then
		 * runs on a while the owner calls off. */
		x.yields_before = round % 2 == 0 ? 50 + round : 0;
		x.yields_after = round % 2 == 0 ? 0 : 50 + round;
		ASSERT_RC(grace_stop_on(x.s, &x.cb, selfoff_cb, &x), 0);
		pthread_t req, owner;
		start_threads(&req, 1, selfoff_request_main, &x, 0);
		WAIT_UNTIL(atomic_load(&x.entered));
		start_threads(&owner, 1, selfoff_owner_main, &x, 0);
		WAIT_UNTIL_MS(atomic_load(&x.off_done), 5000); /* never hangs */
		ASSERT_EQ(atomic_load(&x.off_saw_return), 1);   /* never early */
		ASSERT_EQ(atomic_load(&x.off_rc), 0);
		join_threads(&owner, 1);
		join_threads(&req, 1);
		ASSERT_RC(grace_stop_free(x.s), 0);
	}
}

/* Item 4: the most natural pattern there is. A worker blocked on its stop
 * is woken by the request and frees the stop at once, while the requester
 * is still inside the request (running a callback): the free waits for the
 * request to finish. */
struct freer {
	grace_stop *s;
	grace_stop_cb cb;
	atomic_int cb_entered, cb_returned, free_rc, cb_done_at_free;
};

static void slowish_cb(void *arg)
{
	struct freer *f = arg;
	atomic_store(&f->cb_entered, 1);
	grace_deadline d = grace_after_ms(5);
	while (grace_now() < d)
		sched_yield();
	atomic_store(&f->cb_returned, 1);
}

static void *freer_main(void *arg)
{
	struct freer *f = arg;
	grace_event never = GRACE_EVENT_INIT;
	int rc = grace_event_wait(&never, f->s, GRACE_FOREVER);
	ASSERT_RC(rc, -ECANCELED);
	atomic_store(&f->free_rc, grace_stop_free(f->s));
	atomic_store(&f->cb_done_at_free, atomic_load(&f->cb_returned));
	return NULL;
}

TEST(free_right_after_the_request_woke_us_waits_for_it)
{
	for (int round = 0; round < 20; round++) {
		struct freer f = {0};
		f.s = new_stop(NULL);
		ASSERT_RC(grace_stop_on(f.s, &f.cb, slowish_cb, &f), 0);
		/* The record belongs to the request until it has run: the worker
		 * frees the stop, not the record. */
		pthread_t t;
		start_threads(&t, 1, freer_main, &f, 0);
		ASSERT_RC(grace_stop_request(f.s, 1), 1);
		join_threads(&t, 1);
		ASSERT_EQ(atomic_load(&f.free_rc), 0);
		ASSERT_EQ(atomic_load(&f.cb_done_at_free), 1);
	}
}

/* A stop cannot be freed from inside its own request (the request would
 * touch it afterwards): -EBUSY, and it is freed normally afterwards. */
struct free_inside {
	grace_stop *s, *child;
	grace_stop_cb cb;
	int rc_self, rc_child;
};

static void free_inside_cb(void *arg)
{
	struct free_inside *x = arg;
	x->rc_self = grace_stop_free(x->s);
	x->rc_child = grace_stop_free(x->child); /* its request is over: fine */
}

TEST(free_from_inside_the_request)
{
	struct free_inside x = {0};
	x.s = new_stop(NULL);
	x.child = new_stop(x.s);
	ASSERT_RC(grace_stop_on(x.s, &x.cb, free_inside_cb, &x), 0);
	ASSERT_RC(grace_stop_request(x.s, 1), 1);
	ASSERT_EQ(x.rc_self, -EBUSY);
	ASSERT_EQ(x.rc_child, 0);
	ASSERT_RC(grace_stop_free(x.s), 0);
}

/* Item 6: fn re-registering its own record elsewhere while it runs is
 * refused; after removing itself it may, and the request leaves the new
 * registration alone. */
struct rereg {
	grace_stop *other;
	grace_stop_cb cb;
	atomic_int n;
	int rc_busy, rc_off, rc_again;
	bool remove_first;
};

static void rereg_cb(void *arg)
{
	struct rereg *r = arg;
	if (r->remove_first) {
		r->rc_off = grace_stop_off(&r->cb);
		r->rc_again = grace_stop_on(r->other, &r->cb, count_cb, &r->n);
	} else {
		r->rc_busy = grace_stop_on(r->other, &r->cb, count_cb, &r->n);
	}
}

TEST(callback_reregistering_its_own_record)
{
	struct rereg r = {0};
	grace_stop *s = new_stop(NULL);
	r.other = new_stop(NULL);
	ASSERT_RC(grace_stop_on(s, &r.cb, rereg_cb, &r), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(r.rc_busy, -EBUSY);
	ASSERT_RC(grace_stop_off(&r.cb), 0);
	ASSERT_RC(grace_stop_free(r.other), 0); /* nothing left linked */
	ASSERT_RC(grace_stop_free(s), 0);

	memset(&r, 0, sizeof r);
	r.remove_first = true;
	s = new_stop(NULL);
	r.other = new_stop(NULL);
	ASSERT_RC(grace_stop_on(s, &r.cb, rereg_cb, &r), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(r.rc_off, 0);
	ASSERT_EQ(r.rc_again, 0);
	ASSERT_RC(grace_stop_free(r.other), -EBUSY); /* still registered there */
	ASSERT_RC(grace_stop_request(r.other, 1), 1);
	ASSERT_EQ(atomic_load(&r.n), 1);
	ASSERT_RC(grace_stop_off(&r.cb), 0);
	ASSERT_RC(grace_stop_free(r.other), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Item 8: a request uses bounded stack whatever the depth of the tree. */
static grace_stop **make_chain(size_t n)
{
	grace_stop **c = malloc(n * sizeof *c);
	ASSERT_TRUE(c != NULL);
	for (size_t i = 0; i < n; i++)
		c[i] = new_stop(i == 0 ? NULL : c[i - 1]);
	return c;
}

static void free_chain(grace_stop **c, size_t n)
{
	for (size_t i = n; i-- > 0;)
		ASSERT_RC(grace_stop_free(c[i]), 0);
	free(c);
}

static int chain_thread_fn(grace_stop *stop, void *arg)
{
	(void)stop;
	return grace_stop_request(arg, 5);
}

TEST(deep_chains_from_every_context)
{
	size_t deep = 100000, n = 10000;
	/* From main. */
	grace_stop **c = make_chain(deep);
	ASSERT_RC(grace_stop_request(c[0], 5), 1);
	ASSERT_TRUE(grace_stop_requested(c[deep - 1]));
	ASSERT_EQ(grace_stop_reason(c[deep - 1]), 5);
	free_chain(c, deep);
	/* From a grace thread (a 256 KiB stack). */
	c = make_chain(n);
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "chain", chain_thread_fn, c[0], NULL), 0);
	int result = -1;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 1);
	ASSERT_TRUE(grace_stop_requested(c[n - 1]));
	free_chain(c, n);
	/* From the deadline timer. */
	c = make_chain(n);
	ASSERT_RC(grace_stop_set_deadline(c[0], grace_after_ms(1)), 0);
	grace_event never = GRACE_EVENT_INIT;
	ASSERT_RC(grace_event_wait(&never, c[n - 1], grace_after_ms(20000)), -ECANCELED);
	ASSERT_EQ(grace_stop_reason(c[n - 1]), GRACE_REASON_DEADLINE);
	free_chain(c, n);
	/* From the signal thread. */
	c = make_chain(n);
	int sig = SIGUSR1;
	ASSERT_RC(grace_signals_route(c[0], &sig, 1), 0);
	raise(SIGUSR1);
	ASSERT_RC(grace_event_wait(&never, c[n - 1], grace_after_ms(20000)), -ECANCELED);
	ASSERT_EQ(grace_stop_reason(c[n - 1]), GRACE_REASON_SIGNAL(SIGUSR1));
	ASSERT_RC(grace_signals_unroute(), 0);
	free_chain(c, n);
}

/* Item 13: a request returns with every descendant requested, even while
 * another thread is requesting a stop in between (here it is held inside a
 * slow callback of that stop). */
struct mid {
	grace_stop *mid;
	grace_stop_cb cb;
	atomic_int entered, release;
};

static void mid_slow_cb(void *arg)
{
	struct mid *m = arg;
	atomic_store(&m->entered, 1);
	WAIT_UNTIL(atomic_load(&m->release));
}

static void *mid_request_main(void *arg)
{
	grace_stop_request(((struct mid *)arg)->mid, 7);
	return NULL;
}

struct leaf_waiter {
	grace_stop *leaf;
	atomic_int rc, done;
};

static void *leaf_wait_main(void *arg)
{
	struct leaf_waiter *w = arg;
	grace_event never = GRACE_EVENT_INIT;
	atomic_store(&w->rc, grace_event_wait(&never, w->leaf, GRACE_FOREVER));
	atomic_store(&w->done, 1);
	return NULL;
}

static void descendants_past_a_concurrent_request(bool with_waiter)
{
	grace_stop *root = new_stop(NULL);
	struct mid m = {0};
	m.mid = new_stop(root);
	grace_stop *leaf = new_stop(m.mid);
	/* Registered after the leaf: it would run before the leaf's link. */
	ASSERT_RC(grace_stop_on(m.mid, &m.cb, mid_slow_cb, &m), 0);
	struct leaf_waiter w = {leaf, 0, 0};
	pthread_t waiter, req;
	if (with_waiter)
		start_threads(&waiter, 1, leaf_wait_main, &w, 0);
	start_threads(&req, 1, mid_request_main, &m, 0);
	WAIT_UNTIL(atomic_load(&m.entered));
	ASSERT_RC(grace_stop_request(root, 3), 1);
	ASSERT_TRUE(grace_stop_requested(leaf));
	ASSERT_EQ(grace_stop_reason(leaf), 7); /* the middle's reason reached it first */
	if (with_waiter) {
		/* Woken now, not when the slow callback ends. */
		WAIT_UNTIL_MS(atomic_load(&w.done), 5000);
		ASSERT_EQ(atomic_load(&w.rc), -ECANCELED);
	}
	atomic_store(&m.release, 1);
	join_threads(&req, 1);
	if (with_waiter)
		join_threads(&waiter, 1);
	ASSERT_RC(grace_stop_free(leaf), 0);
	ASSERT_RC(grace_stop_free(m.mid), 0);
	ASSERT_RC(grace_stop_free(root), 0);
}

TEST(request_reaches_descendants_past_a_concurrent_request)
{
	descendants_past_a_concurrent_request(false);
	/* With a waiter on the leaf (on the futex_waitv engine it may request
	 * the leaf itself; on the fallback engine only the request does). */
	descendants_past_a_concurrent_request(true);
}

/* Item 17: grace_thread_exit from inside a stop callback finishes the
 * request first: the other callbacks run, descendants are requested and
 * their waiters woken, and the stop can be freed. */
struct exit_cb {
	grace_stop *s, *child;
	grace_stop_cb first, second;
	atomic_int second_ran;
};

static void exiting_cb(void *arg)
{
	(void)arg;
	grace_thread_exit(7);
}

static int exit_in_cb_fn(grace_stop *stop, void *arg)
{
	(void)stop;
	struct exit_cb *x = arg;
	grace_stop_request(x->s, 2);
	return 0; /* never reached */
}

TEST(thread_exit_inside_a_callback_finishes_the_request)
{
	struct exit_cb x = {0};
	x.s = new_stop(NULL);
	x.child = new_stop(x.s);
	/* Newest first: `first` runs before `second`. */
	ASSERT_RC(grace_stop_on(x.s, &x.second, count_cb, &x.second_ran), 0);
	ASSERT_RC(grace_stop_on(x.s, &x.first, exiting_cb, NULL), 0);
	struct leaf_waiter w = {x.child, 0, 0};
	pthread_t waiter;
	start_threads(&waiter, 1, leaf_wait_main, &w, 0);
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "exiter", exit_in_cb_fn, &x, NULL), 0);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, grace_after_ms(20000), &result), 0);
	ASSERT_EQ(result, 7);
	ASSERT_EQ(atomic_load(&x.second_ran), 1);
	WAIT_UNTIL_MS(atomic_load(&w.done), 5000);
	ASSERT_EQ(atomic_load(&w.rc), -ECANCELED);
	join_threads(&waiter, 1);
	ASSERT_RC(grace_stop_off(&x.first), 0);
	ASSERT_RC(grace_stop_off(&x.second), 0);
	ASSERT_RC(grace_stop_free(x.child), 0);
	ASSERT_RC(grace_stop_free(x.s), 0);
}

/* Item 15: a forked child's stops are its own: the parent's request of a
 * stop does not make the child's copy of its descriptor readable, and the
 * child's I/O waits are not cancelled by it. */
TEST(stop_descriptor_after_fork)
{
	grace_stop *s = new_stop(NULL);
	ASSERT_GE(grace_stop_fd(s), 0);
	int go[2], idle[2];
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(idle), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20); /* a hang is a failure, not a stuck test */
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(10);
		/* The parent has requested its stop now. */
		if (grace_stop_requested(s))
			_exit(11);
		if (grace_poll(idle[0], POLLIN, s, grace_after_ms(30)) != -ETIMEDOUT)
			_exit(12);
		int fd = grace_stop_fd(s);
		struct pollfd p = {fd, POLLIN, 0};
		if (fd < 0 || poll(&p, 1, 0) != 0)
			_exit(13);
		/* The child's own request works on its own descriptor. */
		if (grace_stop_request(s, 3) != 1 || poll(&p, 1, 1000) != 1)
			_exit(14);
		if (grace_poll(idle[0], POLLIN, s, GRACE_FOREVER) != -ECANCELED)
			_exit(15);
		_exit(grace_stop_free(s) == 0 ? 0 : 16);
	}
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The parent's descriptor is still readable: the child did not read it. */
	struct pollfd p = {grace_stop_fd(s), POLLIN, 0};
	ASSERT_EQ(poll(&p, 1, 0), 1);
	close(go[0]), close(go[1]), close(idle[0]), close(idle[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST_LIST(T(request_is_idempotent_first_reason_sticks), T(null_stop_is_never_requested), T(misuse), T(reasons),
          T(children_follow_parent), T(freed_child_is_forgotten), T(callback_runs_once_on_request),
          T(callback_on_requested_stop_runs_at_once), T(callback_records_stay_inside_their_storage),
          T(off_before_request_removes),
          T(off_from_inside_callback_returns_and_may_free), T(callback_reenters_library),
          T(off_waits_for_running_callback_try_off_does_not),
          T(records_are_free_once_the_request_ran_them), T(callbacks_added_during_request_run_exactly_once),
          T(concurrent_requests_exactly_one_wins), T(deadline_fires_on_time_without_waiters),
          T(deadline_wakes_waiter_within_a_few_ms), T(deadline_ordering_replace_remove_past),
          T(free_with_pending_deadline), T(fd_becomes_readable_on_request), T(fd_wakes_a_poll_loop),
          T(off_and_self_removal_in_both_orders), T(free_right_after_the_request_woke_us_waits_for_it),
          T(free_from_inside_the_request), T(callback_reregistering_its_own_record),
          T(deep_chains_from_every_context), T(request_reaches_descendants_past_a_concurrent_request),
          T(thread_exit_inside_a_callback_finishes_the_request), T(stop_descriptor_after_fork))
