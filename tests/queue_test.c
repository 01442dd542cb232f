/* SPDX-License-Identifier: MIT */
/*
 * queue_test.c - the queue: semantics, misuse and every error code, the
 * wake-up guarantees (one item wakes one getter, a stopped waiter passes
 * its wake-up on, shutdown wakes everyone), and the conservation stress.
 */
#include "test.h"

#include "internal.h"
#include "queue_stress.h"

#include <sys/syscall.h>
#include <unistd.h>

#define PAST (grace_now() - 1)

static void *ip(uintptr_t v)
{
	return (void *)v;
}

/* ---- helpers: a queue call in its own thread, observed from outside ---- */

enum { OP_GET, OP_PUT, OP_JOIN, OP_DRAIN, OP_TASK_DONE };

struct op {
	grace_queue *q;
	grace_stop *stop;
	grace_deadline d;
	int kind;
	int hold;     /* the claim hook's side this thread pauses at (see hold_hook), or -1 */
	void *item;
	void *items[8]; /* OP_DRAIN: what it drained */
	int rc;
	struct grace__blocked *rec; /* when set, the thread publishes what it is blocked on */
	_Atomic int tid;
	_Atomic int started, done;
	pthread_t th;
};

/* The queue's test hook (grace__queue_claim_hook): a thread whose
 * hold_side is the side the hook is called for records that it is there
 * and pauses until `release`. */
static _Thread_local int hold_side = -1;
static _Atomic int held, release;

static void hold_hook(int side)
{
	if (side != hold_side)
		return;
	atomic_store(&held, 1);
	while (!atomic_load(&release))
		sched_yield();
}

static void hold_arm(void)
{
	atomic_store(&held, 0);
	atomic_store(&release, 0);
	atomic_store(&grace__queue_claim_hook, hold_hook);
}

static void hold_disarm(void)
{
	atomic_store(&grace__queue_claim_hook, NULL);
}

static void *op_main(void *arg)
{
	struct op *o = arg;
	grace__self_blocked = o->rec;
	hold_side = o->hold;
	atomic_store(&o->tid, (int)syscall(SYS_gettid));
	atomic_store(&o->started, 1);
	if (o->kind == OP_GET)
		o->rc = grace_queue_get(o->q, &o->item, o->stop, o->d);
	else if (o->kind == OP_PUT)
		o->rc = grace_queue_put(o->q, o->item, o->stop, o->d);
	else if (o->kind == OP_JOIN)
		o->rc = grace_queue_join(o->q, o->stop, o->d);
	else if (o->kind == OP_DRAIN)
		o->rc = (int)grace_queue_drain(o->q, o->items, 8);
	else
		o->rc = grace_queue_task_done(o->q);
	atomic_store(&o->done, 1);
	return NULL;
}

/* Start a queue call in its own thread; with hold >= 0 the thread pauses
 * in the queue's test hook when the hook is called for that side. */
static void op_start_held(struct op *o, grace_queue *q, int kind, void *item, grace_stop *stop, grace_deadline d,
                          int hold)
{
	memset(o, 0, sizeof *o);
	o->q = q;
	o->kind = kind;
	o->item = item;
	o->stop = stop;
	o->d = d;
	o->hold = hold;
	o->rc = 1;
	if (pthread_create(&o->th, NULL, op_main, o) != 0)
		FAIL_AT(__FILE__, __LINE__, "pthread_create");
}

static void op_start(struct op *o, grace_queue *q, int kind, void *item, grace_stop *stop, grace_deadline d)
{
	op_start_held(o, q, kind, item, stop, d, -1);
}

static char thread_state(int tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '?';
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return (p != NULL && p[1] == ' ') ? p[2] : '?';
}

/* Context switches of a thread so far (voluntary + not). */
static long ctx_switches(int tid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	long total = 0, v;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	}
	fclose(f);
	return total;
}

/* Wait until the op's thread sleeps in the kernel, inside its call. */
static void op_wait_sleeping(struct op *o)
{
	WAIT_UNTIL(atomic_load(&o->started));
	WAIT_UNTIL(atomic_load(&o->done) || thread_state(atomic_load(&o->tid)) == 'S');
	ASSERT_FALSE(atomic_load(&o->done));
}

static int op_join(struct op *o)
{
	pthread_join(o->th, NULL);
	return o->rc;
}

/* Whether a waker may wake every sleeper of a word (the mutex + condvar
 * engine broadcasts); then "no herd" cannot be observed from outside. */
static bool engine_broadcasts(void)
{
#ifdef GRACE_TEST_PLATFORM_posix
	return true;
#else
	const char *e = getenv("GRACE_NO_FUTEX_WAITV");
	return e != NULL && e[0] != '\0' && e[0] != '0';
#endif
}

/* The index of an op that has returned, or -1. */
static int first_done(struct op *o, int n)
{
	for (int i = 0; i < n; i++)
		if (atomic_load(&o[i].done))
			return i;
	return -1;
}

static const size_t caps_all[] = {1, 2, 3, 5, 8, 1000, 0};
#define NCAPS (sizeof caps_all / sizeof caps_all[0])

/* ---- creation and misuse ---- */

TEST(new_and_free)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(NULL, 4), -EINVAL);
	ASSERT_RC(grace_queue_new(&q, SIZE_MAX), -ENOMEM);
	ASSERT_RC(grace_queue_free(NULL), 0);
	for (size_t i = 0; i < NCAPS; i++) {
		ASSERT_RC(grace_queue_new(&q, caps_all[i]), 0);
		ASSERT_EQ(grace_queue_size(q), 0);
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

TEST(enomem_changes_nothing)
{
	grace_queue *q = NULL;
	/* The queue itself, then its slots. */
	atomic_store(&grace__alloc_fail_countdown, 1);
	ASSERT_RC(grace_queue_new(&q, 4), -ENOMEM);
	ASSERT_PTR_EQ(q, NULL);
	atomic_store(&grace__alloc_fail_countdown, 2);
	ASSERT_RC(grace_queue_new(&q, 4), -ENOMEM);
	ASSERT_PTR_EQ(q, NULL);
	atomic_store(&grace__alloc_fail_countdown, 0);

	/* A name: the old one stays. */
	ASSERT_RC(grace_queue_new(&q, 0), 0);
	ASSERT_RC(grace_queue_set_name(q, "old"), 0);
	atomic_store(&grace__alloc_fail_countdown, 1);
	ASSERT_RC(grace_queue_set_name(q, "new"), -ENOMEM);

	/* An unbounded queue that cannot grow: the put enqueued nothing. */
	int n = 0;
	atomic_store(&grace__alloc_fail_countdown, 2); /* the first growth succeeds */
	int r;
	while ((r = grace_queue_put(q, ip((uintptr_t)n), NULL, GRACE_FOREVER)) == 0)
		n++;
	ASSERT_RC(r, -ENOMEM);
	ASSERT_GT(n, 0);
	ASSERT_EQ(grace_queue_size(q), n);
	atomic_store(&grace__alloc_fail_countdown, 0);
	ASSERT_RC(grace_queue_put(q, ip((uintptr_t)n), NULL, GRACE_FOREVER), 0);
	for (int i = 0; i <= n; i++) {
		void *it;
		ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
		ASSERT_PTR_EQ(it, ip((uintptr_t)i));
	}
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(null_and_bad_arguments)
{
	grace_queue *q;
	void *it = ip(7), *items[2];
	ASSERT_RC(grace_queue_new(&q, 2), 0);
	ASSERT_RC(grace_queue_set_name(NULL, "x"), -EINVAL);
	ASSERT_RC(grace_queue_set_name(q, NULL), -EINVAL);
	ASSERT_RC(grace_queue_put(NULL, it, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_get(NULL, &it, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_get(q, NULL, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_task_done(NULL), -EINVAL);
	ASSERT_RC(grace_queue_join(NULL, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_shutdown(NULL, GRACE_SHUTDOWN_DRAIN), -EINVAL);
	ASSERT_RC(grace_queue_shutdown(q, 0), -EINVAL);
	ASSERT_RC(grace_queue_shutdown(q, 3), -EINVAL);
	ASSERT_RC(grace_queue_shutdown(q, -1), -EINVAL);
	ASSERT_RC(grace_queue_drain(NULL, items, 2), -EINVAL);
	ASSERT_RC(grace_queue_drain(q, NULL, 2), -EINVAL);
	ASSERT_RC(grace_queue_drain(q, NULL, 0), 0);
	ASSERT_EQ(grace_queue_size(NULL), 0);
	ASSERT_RC(grace_queue_free_items(NULL, NULL, NULL), -EINVAL);
	ASSERT_RC(grace_queue_free_items(q, NULL, NULL), -EINVAL);
	/* None of that changed the queue: it is open and empty. */
	ASSERT_PTR_EQ(it, ip(7));
	ASSERT_RC(grace_queue_put(q, it, NULL, PAST), 0);
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
	ASSERT_PTR_EQ(it, ip(7));
	ASSERT_RC(grace_queue_free(q), 0);
}

/* ---- put and get ---- */

TEST(fifo_exact_capacity_and_wrap)
{
	for (size_t c = 0; c < NCAPS; c++) {
		size_t cap = caps_all[c];
		size_t fill = cap != 0 ? cap : 100;
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, cap), 0);
		uintptr_t next_in = 1, next_out = 1;
		for (int lap = 0; lap < 5; lap++) {
			for (size_t i = 0; i < fill; i++)
				ASSERT_RC(grace_queue_put(q, ip(next_in++), NULL, PAST), 0);
			ASSERT_EQ(grace_queue_size(q), fill);
			if (cap != 0)
				ASSERT_RC(grace_queue_put(q, ip(999), NULL, PAST), -ETIMEDOUT);
			ASSERT_EQ(grace_queue_size(q), fill);
			/* Take some, put some: positions wrap at odd offsets. */
			for (size_t i = 0; i < fill / 2 + 1; i++) {
				void *it;
				ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
				ASSERT_PTR_EQ(it, ip(next_out++));
			}
			while (next_out < next_in) {
				void *it;
				ASSERT_RC(grace_queue_get(q, &it, NULL, GRACE_FOREVER), 0);
				ASSERT_PTR_EQ(it, ip(next_out++));
			}
			void *it = ip(5);
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), -ETIMEDOUT);
			ASSERT_PTR_EQ(it, ip(5)); /* a failed get leaves *item alone */
		}
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

TEST(null_item_is_an_item)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 1), 0);
	ASSERT_RC(grace_queue_put(q, NULL, NULL, GRACE_FOREVER), 0);
	ASSERT_EQ(grace_queue_size(q), 1);
	void *it = ip(1);
	ASSERT_RC(grace_queue_get(q, &it, NULL, GRACE_FOREVER), 0);
	ASSERT_PTR_EQ(it, NULL);
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(past_deadline_is_a_try)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 1), 0);
	void *it;
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_queue_get(q, &it, NULL, INT64_MIN), -ETIMEDOUT);
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, 0), 0); /* can complete: it does */
	ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), -ETIMEDOUT);
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
	ASSERT_PTR_EQ(it, ip(1));
	ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(deadline_timing)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 1), 0);
	void *it;
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_queue_get(q, &it, NULL, t0 + 50000000), -ETIMEDOUT);
	int64_t el = grace_now() - t0;
	ASSERT_GE(el, 50000000);
	ASSERT_LT(el, (50 + test_slack_ms()) * 1000000);

	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	t0 = grace_now();
	ASSERT_RC(grace_queue_put(q, ip(2), NULL, t0 + 50000000), -ETIMEDOUT);
	el = grace_now() - t0;
	ASSERT_GE(el, 50000000);
	ASSERT_LT(el, (50 + test_slack_ms()) * 1000000);
	ASSERT_EQ(grace_queue_size(q), 1); /* the failed put enqueued nothing */

	/* join times out the same way. */
	t0 = grace_now();
	ASSERT_RC(grace_queue_join(q, NULL, t0 + 50000000), -ETIMEDOUT);
	ASSERT_GE(grace_now() - t0, 50000000);
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(stop_already_requested_wins)
{
	grace_queue *q;
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	ASSERT_RC(grace_stop_request(s, 3), 1);
	ASSERT_RC(grace_queue_new(&q, 2), 0);
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	void *it = ip(9);
	/* An item is there, and room too: the stop still wins, nothing moves. */
	ASSERT_RC(grace_queue_get(q, &it, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_PTR_EQ(it, ip(9));
	ASSERT_RC(grace_queue_put(q, ip(2), s, GRACE_FOREVER), -ECANCELED);
	ASSERT_EQ(grace_queue_size(q), 1);
	ASSERT_RC(grace_queue_join(q, s, GRACE_FOREVER), -ECANCELED);
	/* Over a shutdown too. */
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
	ASSERT_RC(grace_queue_get(q, &it, s, PAST), -ECANCELED);
	ASSERT_RC(grace_queue_put(q, ip(2), s, PAST), -ECANCELED);
	ASSERT_RC(grace_queue_join(q, s, PAST), -ECANCELED);
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), -ESHUTDOWN);
	void *left[4];
	ASSERT_RC(grace_queue_drain(q, left, 4), 1);
	ASSERT_RC(grace_queue_free(q), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(stop_wakes_blocked_get_and_put)
{
	grace_queue *q;
	grace_stop *s;
	ASSERT_RC(grace_queue_new(&q, 1), 0);
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	struct op g;
	op_start(&g, q, OP_GET, ip(77), s, GRACE_FOREVER);
	op_wait_sleeping(&g);
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_RC(op_join(&g), -ECANCELED);
	ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
	ASSERT_PTR_EQ(g.item, ip(77));
	ASSERT_RC(grace_stop_free(s), 0);

	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	struct op p;
	op_start(&p, q, OP_PUT, ip(2), s, GRACE_FOREVER);
	op_wait_sleeping(&p);
	t0 = grace_now();
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_RC(op_join(&p), -ECANCELED);
	ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
	ASSERT_EQ(grace_queue_size(q), 1); /* the stopped put enqueued nothing */
	void *it;
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
	ASSERT_PTR_EQ(it, ip(1));
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), -ETIMEDOUT);
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(blocked_get_and_put_wake_each_other)
{
	for (size_t c = 0; c < NCAPS; c++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, caps_all[c]), 0);
		struct op g;
		op_start(&g, q, OP_GET, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&g);
		ASSERT_RC(grace_queue_put(q, ip(42), NULL, PAST), 0);
		ASSERT_RC(op_join(&g), 0);
		ASSERT_PTR_EQ(g.item, ip(42));
		if (caps_all[c] != 0) {
			for (size_t i = 0; i < caps_all[c]; i++)
				ASSERT_RC(grace_queue_put(q, ip(i), NULL, PAST), 0);
			struct op p;
			op_start(&p, q, OP_PUT, ip(43), NULL, GRACE_FOREVER);
			op_wait_sleeping(&p);
			void *it;
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
			ASSERT_RC(op_join(&p), 0);
			ASSERT_EQ(grace_queue_size(q), caps_all[c]);
			void *rest[1000];
			ASSERT_RC(grace_queue_drain(q, rest, 1000), caps_all[c]);
			ASSERT_PTR_EQ(rest[caps_all[c] - 1], ip(43));
		}
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

/* One item wakes one getter: the others stay asleep (not even woken to
 * find nothing), seen from their context-switch counts. */
TEST(one_item_wakes_one_getter)
{
	enum { N = 8 };
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 16), 0);
	struct op g[N];
	for (int i = 0; i < N; i++) {
		op_start(&g[i], q, OP_GET, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&g[i]);
	}
	long before[N];
	for (int i = 0; i < N; i++)
		before[i] = ctx_switches(atomic_load(&g[i].tid));
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	int winner;
	WAIT_UNTIL((winner = first_done(g, N)) >= 0);
	/* Give a herd, if there were one, time to show. */
	grace_sleep(NULL, grace_after_ms(50));
	int done = 0;
	for (int i = 0; i < N; i++) {
		done += atomic_load(&g[i].done);
		if (i != winner && !engine_broadcasts())
			ASSERT_EQ(ctx_switches(atomic_load(&g[i].tid)), before[i]);
	}
	ASSERT_EQ(done, 1);
	for (int i = 1; i < N; i++)
		ASSERT_RC(grace_queue_put(q, ip((uintptr_t)i + 1), NULL, PAST), 0);
	uintptr_t sum = 0;
	for (int i = 0; i < N; i++) {
		ASSERT_RC(op_join(&g[i]), 0);
		sum += (uintptr_t)g[i].item;
	}
	ASSERT_EQ(sum, N * (N + 1) / 2);
	ASSERT_RC(grace_queue_free(q), 0);
}

/* A getter stopped just as an item's wake-up reached it passes the wake-up
 * on: the other getter must get the item at once, not at its deadline. The
 * first getter sleeps first, so a put's wake (one waiter, oldest first)
 * goes to it. Odd rounds request the stop and then put: the stopped
 * getter's sleep still sits on the queue's word until it runs, so the
 * put's one wake-up lands on it. Even rounds put and then stop: it mostly
 * wakes to find both. */
TEST(stopped_getter_passes_its_wakeup_on)
{
	int cancelled = 0;
	for (int round = 0; round < 200; round++) {
		grace_queue *q;
		grace_stop *s;
		ASSERT_RC(grace_queue_new(&q, round % 4 < 2 ? 4 : 0), 0);
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		struct op g1, g2;
		op_start(&g1, q, OP_GET, NULL, s, GRACE_FOREVER);
		op_wait_sleeping(&g1);
		op_start(&g2, q, OP_GET, NULL, NULL, grace_after_ms(test_slack_ms() * 4));
		op_wait_sleeping(&g2);
		grace_deadline t0 = grace_now();
		if (round % 2) {
			ASSERT_RC(grace_stop_request(s, 1), 1);
			ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
		} else {
			ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
			ASSERT_RC(grace_stop_request(s, 1), 1);
		}
		int r1 = op_join(&g1);
		if (r1 == -ECANCELED) {
			cancelled++;
			ASSERT_RC(op_join(&g2), 0);
			ASSERT_PTR_EQ(g2.item, ip(1));
			ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000); /* woken, not timed out */
		} else {
			ASSERT_RC(r1, 0);
			ASSERT_PTR_EQ(g1.item, ip(1));
			ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
			ASSERT_RC(op_join(&g2), 0);
			ASSERT_PTR_EQ(g2.item, ip(2));
		}
		ASSERT_RC(grace_queue_free(q), 0);
		ASSERT_RC(grace_stop_free(s), 0);
	}
	ASSERT_GE(cancelled, 100);
}

/* The same on the put side: a slot freed wakes one putter; stopped at that
 * moment, it passes the wake-up to the other putter. */
TEST(stopped_putter_passes_its_wakeup_on)
{
	int cancelled = 0;
	for (int round = 0; round < 200; round++) {
		grace_queue *q;
		grace_stop *s;
		int cap = 1 + round % 3;
		ASSERT_RC(grace_queue_new(&q, (size_t)cap), 0);
		for (int i = 0; i < cap; i++)
			ASSERT_RC(grace_queue_put(q, ip(100), NULL, PAST), 0);
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		struct op p1, p2;
		op_start(&p1, q, OP_PUT, ip(1), s, GRACE_FOREVER);
		op_wait_sleeping(&p1);
		op_start(&p2, q, OP_PUT, ip(2), NULL, grace_after_ms(test_slack_ms() * 4));
		op_wait_sleeping(&p2);
		void *it;
		grace_deadline t0 = grace_now();
		if (round % 2) {
			ASSERT_RC(grace_stop_request(s, 1), 1);
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
		} else {
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
			ASSERT_RC(grace_stop_request(s, 1), 1);
		}
		int r1 = op_join(&p1);
		if (r1 == -ECANCELED) {
			cancelled++;
			ASSERT_RC(op_join(&p2), 0);
			ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
		} else {
			ASSERT_RC(r1, 0);
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
			ASSERT_RC(op_join(&p2), 0);
		}
		void *rest[8];
		ssize_t n = grace_queue_drain(q, rest, 8);
		ASSERT_EQ(n, cap);
		ASSERT_PTR_EQ(rest[n - 1], ip(2));
		ASSERT_RC(grace_queue_free(q), 0);
		ASSERT_RC(grace_stop_free(s), 0);
	}
	ASSERT_GE(cancelled, 100);
}

/* A getter woken for an item that another thread takes first goes back to
 * sleep; the next item must still wake it (its spent wake-up must not count
 * as one still coming). To make the theft certain, the getter runs under
 * SCHED_IDLE on the main thread's CPU: woken, it cannot preempt the main
 * thread, which takes the item and only then moves to another CPU and
 * gives the getter its normal class back. */
struct robbed_getter {
	grace_queue *q;
	int cpu;
	void *item;
	int rc;
	_Atomic int tid, started;
};

static void *robbed_getter_main(void *arg)
{
	struct robbed_getter *g = arg;
	atomic_store(&g->tid, (int)syscall(SYS_gettid));
	atomic_store(&g->started, 1);
	g->rc = grace_queue_get(g->q, &g->item, NULL, grace_after_ms(test_slack_ms() * 4));
	return NULL;
}

static void pin_self(int cpu, bool only)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (only ? c == cpu : c != cpu)
			CPU_SET(c, &set);
	ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
}

TEST(getter_robbed_of_its_item_is_woken_by_the_next)
{
	cpu_set_t all;
	ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
	if (CPU_COUNT(&all) < 2) {
		printf("(one CPU: skipped) ");
		return;
	}
	int cpu = -1;
	for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
		if (CPU_ISSET(c, &all))
			cpu = c;
	/* Under load the getter can still win (the main thread may block, or
	 * be moved, between its put and its get): such a round proves nothing
	 * and is repeated; at least 5 rounds must see the theft. */
	int robbed = 0;
	for (int round = 0; round < 400 && robbed < 5; round++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, round % 2 ? 8 : 0), 0);
		struct robbed_getter g = {.q = q, .cpu = cpu, .rc = 1};
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, robbed_getter_main, &g), 0);
		WAIT_UNTIL(atomic_load(&g.started) && thread_state(atomic_load(&g.tid)) == 'S');
		/* Asleep: only now make it SCHED_IDLE on our CPU (set earlier, load
		 * on that CPU could starve it before it ever got to sleep). */
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		struct sched_param sp = {0};
		if (sched_setaffinity(atomic_load(&g.tid), sizeof one, &one) != 0 ||
		    sched_setscheduler(atomic_load(&g.tid), SCHED_IDLE, &sp) != 0)
			FAIL_AT(__FILE__, __LINE__, "cannot pin the getter");
		pin_self(cpu, true);
		ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0); /* wakes the getter... */
		void *it = NULL;
		int rc = grace_queue_get(q, &it, NULL, PAST); /* ...which should not run yet */
		pin_self(cpu, false);
		/* Give the getter back a normal scheduling class, so that load on
		 * its CPU cannot starve it from here on. */
		struct sched_param sp0 = {0};
		int tid = atomic_load(&g.tid);
		if (sched_setscheduler(tid, SCHED_OTHER, &sp0) != 0 || sched_setaffinity(tid, sizeof all, &all) != 0)
			ASSERT_EQ(errno, ESRCH); /* only if it has already taken item 1 and ended */
		if (rc == -ETIMEDOUT) {
			/* The getter ran first and took item 1: no theft this round. */
			pthread_join(th, NULL);
			ASSERT_RC(g.rc, 0);
			ASSERT_PTR_EQ(g.item, ip(1));
			ASSERT_RC(grace_queue_free(q), 0);
			continue;
		}
		ASSERT_RC(rc, 0);
		ASSERT_PTR_EQ(it, ip(1));
		robbed++;
		WAIT_UNTIL(thread_state(atomic_load(&g.tid)) == 'S'); /* asleep again */
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
		pthread_join(th, NULL);
		ASSERT_RC(g.rc, 0);
		ASSERT_PTR_EQ(g.item, ip(2));
		ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
		ASSERT_RC(grace_queue_free(q), 0);
	}
	ASSERT_EQ(robbed, 5);
	ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
}

/* ---- shutdown and drain ---- */

TEST(shutdown_drain)
{
	for (size_t c = 0; c < NCAPS; c++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, caps_all[c]), 0);
		int n = caps_all[c] != 0 && caps_all[c] < 3 ? (int)caps_all[c] : 3;
		for (int i = 0; i < n; i++)
			ASSERT_RC(grace_queue_put(q, ip((uintptr_t)i), NULL, PAST), 0);
		ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), 0);
		ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), 0); /* idempotent */
		ASSERT_RC(grace_queue_put(q, ip(9), NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_EQ(grace_queue_size(q), n);
		for (int i = 0; i < n; i++) {
			void *it;
			ASSERT_RC(grace_queue_get(q, &it, NULL, GRACE_FOREVER), 0);
			ASSERT_PTR_EQ(it, ip((uintptr_t)i));
			ASSERT_RC(grace_queue_task_done(q), 0);
		}
		void *it = ip(5);
		ASSERT_RC(grace_queue_get(q, &it, NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), -ESHUTDOWN);
		ASSERT_PTR_EQ(it, ip(5));
		/* A DRAIN shutdown does not end a join by itself. */
		ASSERT_RC(grace_queue_join(q, NULL, PAST), 0);
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

TEST(shutdown_immediate)
{
	for (size_t c = 0; c < NCAPS; c++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, caps_all[c]), 0);
		int n = caps_all[c] != 0 && caps_all[c] < 3 ? (int)caps_all[c] : 3;
		for (int i = 0; i < n; i++)
			ASSERT_RC(grace_queue_put(q, ip((uintptr_t)i + 1), NULL, PAST), 0);
		ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
		void *it = ip(5);
		ASSERT_RC(grace_queue_get(q, &it, NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_PTR_EQ(it, ip(5));
		ASSERT_RC(grace_queue_put(q, ip(9), NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_RC(grace_queue_join(q, NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_EQ(grace_queue_size(q), n);
		ASSERT_RC(grace_queue_free(q), -EBUSY); /* nothing is discarded */
		void *items[3] = {0};
		ASSERT_RC(grace_queue_drain(q, items, 1), 1);
		ASSERT_PTR_EQ(items[0], ip(1));
		ASSERT_RC(grace_queue_drain(q, items, 3), n - 1);
		if (n > 1)
			ASSERT_PTR_EQ(items[0], ip(2));
		ASSERT_RC(grace_queue_drain(q, items, 3), 0);
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

TEST(shutdown_modes)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 4), 0);
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), 0);
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0); /* upgrade */
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), -EINVAL); /* never back */
	void *it;
	ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), -ESHUTDOWN); /* still immediate */
	ASSERT_RC(grace_queue_join(q, NULL, PAST), -ESHUTDOWN);
	ASSERT_RC(grace_queue_drain(q, &it, 1), 1);
	ASSERT_RC(grace_queue_free(q), 0);
}

TEST(shutdown_wakes_every_blocked_caller)
{
	enum { N = 6 };
	for (int mode = GRACE_SHUTDOWN_DRAIN; mode <= GRACE_SHUTDOWN_IMMEDIATE; mode++) {
		grace_queue *empty, *full;
		ASSERT_RC(grace_queue_new(&empty, 4), 0);
		ASSERT_RC(grace_queue_new(&full, 2), 0);
		ASSERT_RC(grace_queue_put(full, ip(1), NULL, PAST), 0);
		ASSERT_RC(grace_queue_put(full, ip(2), NULL, PAST), 0);
		struct op g[N], p[N], j[2];
		for (int i = 0; i < N; i++) {
			op_start(&g[i], empty, OP_GET, NULL, NULL, GRACE_FOREVER);
			op_start(&p[i], full, OP_PUT, ip(100), NULL, GRACE_FOREVER);
		}
		op_start(&j[0], full, OP_JOIN, NULL, NULL, GRACE_FOREVER);
		op_start(&j[1], full, OP_JOIN, NULL, NULL, GRACE_FOREVER);
		for (int i = 0; i < N; i++) {
			op_wait_sleeping(&g[i]);
			op_wait_sleeping(&p[i]);
		}
		op_wait_sleeping(&j[0]);
		op_wait_sleeping(&j[1]);
		ASSERT_RC(grace_queue_free(empty), -EBUSY); /* waiters */
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_queue_shutdown(empty, mode), 0);
		ASSERT_RC(grace_queue_shutdown(full, mode), 0);
		for (int i = 0; i < N; i++) {
			ASSERT_RC(op_join(&g[i]), -ESHUTDOWN);
			ASSERT_RC(op_join(&p[i]), -ESHUTDOWN);
		}
		if (mode == GRACE_SHUTDOWN_IMMEDIATE) {
			ASSERT_RC(op_join(&j[0]), -ESHUTDOWN);
			ASSERT_RC(op_join(&j[1]), -ESHUTDOWN);
		}
		ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
		ASSERT_EQ(grace_queue_size(full), 2); /* the failed puts enqueued nothing */
		if (mode == GRACE_SHUTDOWN_DRAIN) {
			/* The joins go on until the last items are done. */
			void *it;
			ASSERT_FALSE(atomic_load(&j[0].done));
			ASSERT_RC(grace_queue_get(full, &it, NULL, PAST), 0);
			ASSERT_RC(grace_queue_task_done(full), 0);
			ASSERT_RC(grace_queue_get(full, &it, NULL, PAST), 0);
			ASSERT_RC(grace_queue_task_done(full), 0);
			ASSERT_RC(op_join(&j[0]), 0);
			ASSERT_RC(op_join(&j[1]), 0);
		} else {
			void *rest[2];
			ASSERT_RC(grace_queue_drain(full, rest, 2), 2);
		}
		ASSERT_RC(grace_queue_free(empty), 0);
		ASSERT_RC(grace_queue_free(full), 0);
	}
}

TEST(drain_hands_back_oldest_first_and_frees_room)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 3), 0);
	void *items[8];
	ASSERT_RC(grace_queue_drain(q, items, 8), 0);
	for (uintptr_t i = 1; i <= 3; i++)
		ASSERT_RC(grace_queue_put(q, ip(i), NULL, PAST), 0);
	struct op p;
	op_start(&p, q, OP_PUT, ip(4), NULL, GRACE_FOREVER);
	op_wait_sleeping(&p);
	ASSERT_RC(grace_queue_drain(q, items, 0), 0);
	ASSERT_RC(grace_queue_drain(q, items, 2), 2);
	ASSERT_PTR_EQ(items[0], ip(1));
	ASSERT_PTR_EQ(items[1], ip(2));
	ASSERT_RC(op_join(&p), 0); /* the freed room woke the putter */
	ASSERT_RC(grace_queue_drain(q, items, 8), 2);
	ASSERT_PTR_EQ(items[0], ip(3));
	ASSERT_PTR_EQ(items[1], ip(4));
	/* Drained items count as done. */
	ASSERT_RC(grace_queue_join(q, NULL, PAST), 0);
	ASSERT_RC(grace_queue_task_done(q), -EINVAL);
	ASSERT_RC(grace_queue_free(q), 0);
}

/* ---- operations caught between claim and publish ---- */

struct held_put {
	grace_queue *q;
	void *item;
	int rc;
};

static void *held_put_main(void *arg)
{
	struct held_put *h = arg;
	hold_side = 0; /* a put between its claim and its publish */
	h->rc = grace_queue_put(h->q, h->item, NULL, GRACE_FOREVER);
	return NULL;
}

static void held_begin(pthread_t *th, struct held_put *h, grace_queue *q, void *item)
{
	hold_arm();
	h->q = q;
	h->item = item;
	h->rc = 1;
	ASSERT_EQ(pthread_create(th, NULL, held_put_main, h), 0);
	WAIT_UNTIL(atomic_load(&held));
}

static void held_end(pthread_t th, struct held_put *h)
{
	atomic_store(&release, 1);
	pthread_join(th, NULL);
	ASSERT_RC(h->rc, 0);
	hold_disarm();
}

/* A DRAIN shutdown while a put has claimed its slot but not filled it: the
 * getters must wait for that item (it was put before the shutdown), one
 * gets it, and the others then learn "closed and empty" at once. */
TEST(drain_shutdown_waits_for_a_put_in_flight)
{
	enum { N = 3 };
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 4), 0);
	pthread_t th;
	struct held_put h;
	held_begin(&th, &h, q, ip(7));
	struct op g[N];
	for (int i = 0; i < N; i++) {
		op_start(&g[i], q, OP_GET, NULL, NULL, grace_after_ms(test_slack_ms() * 4));
		op_wait_sleeping(&g[i]);
	}
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), 0);
	ASSERT_RC(grace_queue_put(q, ip(8), NULL, PAST), -ESHUTDOWN);
	for (int i = 0; i < N; i++)
		op_wait_sleeping(&g[i]); /* woken by the shutdown, asleep again */
	grace_deadline t0 = grace_now();
	held_end(th, &h);
	int got = 0;
	for (int i = 0; i < N; i++) {
		int r = op_join(&g[i]);
		if (r == 0) {
			got++;
			ASSERT_PTR_EQ(g[i].item, ip(7));
		} else {
			ASSERT_RC(r, -ESHUTDOWN);
		}
	}
	ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
	ASSERT_EQ(got, 1);
	ASSERT_RC(grace_queue_free(q), 0);
}

/* The head slot is claimed but not filled while the next item is ready: a
 * wake-up spent on the head must not leave the second getter asleep beside
 * the second item once the head is filled. */
TEST(items_behind_a_put_in_flight_wake_their_getters)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 4), 0);
	struct op g1, g2;
	op_start(&g1, q, OP_GET, NULL, NULL, grace_after_ms(test_slack_ms() * 4));
	op_wait_sleeping(&g1);
	op_start(&g2, q, OP_GET, NULL, NULL, grace_after_ms(test_slack_ms() * 4));
	op_wait_sleeping(&g2);
	pthread_t th;
	struct held_put h;
	held_begin(&th, &h, q, ip(1));
	ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0); /* wakes one getter: the head is not ready */
	op_wait_sleeping(&g1);
	op_wait_sleeping(&g2);
	grace_deadline t0 = grace_now();
	held_end(th, &h);
	ASSERT_RC(op_join(&g1), 0);
	ASSERT_RC(op_join(&g2), 0);
	ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
	ASSERT_EQ((uintptr_t)g1.item + (uintptr_t)g2.item, 3);
	ASSERT_RC(grace_queue_free(q), 0);
}

/* ---- task_done and join ---- */

TEST(task_done_and_join)
{
	for (size_t c = 0; c < NCAPS; c++) {
		if (caps_all[c] == 1)
			continue;
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, caps_all[c]), 0);
		ASSERT_RC(grace_queue_join(q, NULL, PAST), 0); /* nothing put: done */
		ASSERT_RC(grace_queue_task_done(q), -EINVAL);
		ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
		ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
		ASSERT_RC(grace_queue_join(q, NULL, PAST), -ETIMEDOUT);
		ASSERT_RC(grace_queue_task_done(q), -EINVAL); /* nothing got yet */

		struct op j;
		op_start(&j, q, OP_JOIN, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&j);
		void *it;
		ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
		ASSERT_RC(grace_queue_task_done(q), 0);
		ASSERT_RC(grace_queue_task_done(q), -EINVAL); /* one got, one done */
		ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
		ASSERT_FALSE(atomic_load(&j.done)); /* got, not yet done */
		ASSERT_RC(grace_queue_task_done(q), 0);
		ASSERT_RC(op_join(&j), 0);
		ASSERT_RC(grace_queue_join(q, NULL, PAST), 0);

		/* A joiner is stopped, or a shutdown ends it. */
		grace_stop *s;
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		ASSERT_RC(grace_queue_put(q, ip(3), NULL, PAST), 0);
		op_start(&j, q, OP_JOIN, NULL, s, GRACE_FOREVER);
		op_wait_sleeping(&j);
		ASSERT_RC(grace_queue_free(q), -EBUSY);
		ASSERT_RC(grace_stop_request(s, 1), 1);
		ASSERT_RC(op_join(&j), -ECANCELED);
		op_start(&j, q, OP_JOIN, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&j);
		ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
		ASSERT_RC(op_join(&j), -ESHUTDOWN);
		ASSERT_RC(grace_queue_join(q, NULL, GRACE_FOREVER), -ESHUTDOWN);
		ASSERT_RC(grace_queue_drain(q, &it, 1), 1);
		ASSERT_RC(grace_queue_free(q), 0);
		ASSERT_RC(grace_stop_free(s), 0);
	}
}

/* task_done counts the items got as the items taken less the items
 * drained, and a drain claims an item before it counts it: a task_done
 * between the two must not take the drained item for one got (it would
 * answer 0 for a call too many, and join would then never see every task
 * done). The hook holds the drain between its claim and its hand-off; the
 * task_done waits for it (a few instructions, in real life). */
TEST(task_done_does_not_count_an_item_being_drained)
{
	for (int round = 0; round < 2; round++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, 4), 0);
		ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
		ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
		void *it;
		if (round == 1)
			ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0); /* one got: one task_done due */
		hold_arm();
		struct op dr, td;
		op_start_held(&dr, q, OP_DRAIN, NULL, NULL, GRACE_FOREVER, 1);
		WAIT_UNTIL(atomic_load(&held));
		op_start(&td, q, OP_TASK_DONE, NULL, NULL, GRACE_FOREVER);
		/* It may not answer while the drain's item is half counted:
		 * give a wrong answer time to show. */
		grace_deadline lim = grace_now() + 100000000;
		while (!atomic_load(&td.done) && grace_now() < lim)
			sched_yield();
		ASSERT_FALSE(atomic_load(&td.done));
		atomic_store(&release, 1);
		ASSERT_RC(op_join(&dr), round == 0 ? 2 : 1);
		ASSERT_RC(op_join(&td), round == 0 ? -EINVAL : 0);
		hold_disarm();
		ASSERT_RC(grace_queue_task_done(q), -EINVAL);
		ASSERT_RC(grace_queue_join(q, NULL, PAST), 0);
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

/* ---- free ---- */

static void dispose_count(void *item, void *arg)
{
	uintptr_t *sum = arg;
	*sum += (uintptr_t)item;
}

TEST(free_refuses_items_and_waiters)
{
	for (size_t c = 0; c < NCAPS; c++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, caps_all[c]), 0);
		ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
		ASSERT_RC(grace_queue_free(q), -EBUSY);
		void *it;
		ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0); /* still usable */

		grace_stop *s;
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		struct op g;
		op_start(&g, q, OP_GET, NULL, s, GRACE_FOREVER);
		op_wait_sleeping(&g);
		ASSERT_RC(grace_queue_free(q), -EBUSY);
		uintptr_t sum = 0;
		ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), -EBUSY);
		ASSERT_RC(grace_stop_request(s, 1), 1);
		ASSERT_RC(op_join(&g), -ECANCELED);
		ASSERT_RC(grace_stop_free(s), 0);

		for (uintptr_t i = 1; i <= (caps_all[c] == 1 ? 1 : 2); i++)
			ASSERT_RC(grace_queue_put(q, ip(i), NULL, PAST), 0);
		ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), 0);
		ASSERT_EQ(sum, caps_all[c] == 1 ? 1 : 3);
	}
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 4), 0);
	uintptr_t sum = 0;
	ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), 0); /* empty: fine */
	ASSERT_EQ(sum, 0);
}

/* A put that has claimed its place but not stored its item when a drain
 * begins: the drain waits for it (asleep, woken by that put), then hands
 * back that item and every one behind it, in order, whether the queue is
 * open or shut down either way. While the drain waits, free refuses. */
TEST(drain_waits_for_a_put_in_flight)
{
	static const int modes[] = {0, GRACE_SHUTDOWN_DRAIN, GRACE_SHUTDOWN_IMMEDIATE};
	for (int m = 0; m < 3; m++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, 4), 0);
		pthread_t th;
		struct held_put h;
		held_begin(&th, &h, q, ip(1));
		/* Two puts behind the one in flight, both reported done. */
		ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
		ASSERT_RC(grace_queue_put(q, ip(3), NULL, PAST), 0);
		if (modes[m] != 0)
			ASSERT_RC(grace_queue_shutdown(q, modes[m]), 0);
		ASSERT_RC(grace_queue_drain(q, NULL, 0), 0); /* nothing asked for: no wait */
		struct op dr;
		op_start(&dr, q, OP_DRAIN, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&dr); /* not returned with the items left behind */
		uintptr_t sum = 0;
		ASSERT_RC(grace_queue_free(q), -EBUSY);
		ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), -EBUSY);
		ASSERT_EQ(sum, 0);
		grace_deadline t0 = grace_now();
		held_end(th, &h);
		ASSERT_RC(op_join(&dr), 3);
		ASSERT_LT(grace_now() - t0, test_slack_ms() * 1000000);
		for (int i = 0; i < 3; i++)
			ASSERT_PTR_EQ(dr.items[i], ip((uintptr_t)i + 1));
		ASSERT_EQ(grace_queue_size(q), 0);
		ASSERT_RC(grace_queue_join(q, NULL, PAST), modes[m] == GRACE_SHUTDOWN_IMMEDIATE ? -ESHUTDOWN : 0);
		ASSERT_RC(grace_queue_free(q), 0);
	}
}

/* A drain waits for a put in flight beside a getter that slept first: the
 * put's one wake-up goes to the getter, which takes the item the drain
 * waited for. The drain has nothing left to wait for and must learn it at
 * once, not sleep on until the next put. */
TEST(drain_wakes_when_a_getter_takes_what_it_waits_for)
{
	int getter_won = 0;
	for (int round = 0; round < 20; round++) {
		grace_queue *q;
		grace_stop *s;
		ASSERT_RC(grace_queue_new(&q, 4), 0);
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		pthread_t th;
		struct held_put h;
		held_begin(&th, &h, q, ip(1));
		struct op g, dr;
		op_start(&g, q, OP_GET, NULL, s, GRACE_FOREVER);
		op_wait_sleeping(&g);
		op_start(&dr, q, OP_DRAIN, NULL, NULL, GRACE_FOREVER);
		op_wait_sleeping(&dr);
		grace_deadline lim = grace_now() + test_slack_ms() * 1000000;
		held_end(th, &h);
		while (!atomic_load(&dr.done) && grace_now() < lim)
			sched_yield();
		ASSERT_TRUE(atomic_load(&dr.done)); /* woken, whoever took the item */
		if (op_join(&dr) == 0) {
			getter_won++;
			ASSERT_RC(op_join(&g), 0);
			ASSERT_PTR_EQ(g.item, ip(1));
		} else {
			ASSERT_RC(dr.rc, 1);
			ASSERT_PTR_EQ(dr.items[0], ip(1));
			ASSERT_RC(grace_stop_request(s, 1), 1);
			ASSERT_RC(op_join(&g), -ECANCELED);
		}
		ASSERT_RC(grace_queue_free(q), 0);
		ASSERT_RC(grace_stop_free(s), 0);
	}
	printf("(getter first %d/20) ", getter_won);
}

/* free_items while a put has claimed its place but not stored its item:
 * that thread is inside a call on the queue, so the answer is -EBUSY with
 * nothing disposed of (not the items before it, nor those behind it); once
 * the put has completed, every item is disposed of. */
TEST(free_items_refuses_a_put_in_flight)
{
	for (int m = 0; m < 2; m++) {
		grace_queue *q;
		ASSERT_RC(grace_queue_new(&q, 4), 0);
		ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
		pthread_t th;
		struct held_put h;
		held_begin(&th, &h, q, ip(2));
		ASSERT_RC(grace_queue_put(q, ip(4), NULL, PAST), 0);
		if (m == 1)
			ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
		uintptr_t sum = 0;
		ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), -EBUSY);
		ASSERT_EQ(sum, 0);
		ASSERT_EQ(grace_queue_size(q), 3);
		ASSERT_RC(grace_queue_free(q), -EBUSY);
		held_end(th, &h);
		ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), 0);
		ASSERT_EQ(sum, 7);
	}
}

/* A get on an empty queue, or a put on a full one, spins a while before it
 * sleeps. free and free_items must see a thread there as they see a
 * sleeper: it is inside the call (the queue's test hook holds it at the
 * start of its spin, side 2 for a put, 3 for a get). */
TEST(free_refuses_a_caller_in_its_spin)
{
	for (size_t c = 0; c < NCAPS; c++) {
		for (int kind = OP_GET; kind <= OP_PUT; kind++) {
			size_t cap = caps_all[c];
			if (kind == OP_PUT && cap == 0)
				continue; /* an unbounded put never waits */
			grace_queue *q;
			ASSERT_RC(grace_queue_new(&q, cap), 0);
			if (kind == OP_PUT)
				for (size_t i = 0; i < cap; i++)
					ASSERT_RC(grace_queue_put(q, ip(i + 1), NULL, PAST), 0);
			hold_arm();
			struct op o;
			op_start_held(&o, q, kind, ip(1000), NULL, GRACE_FOREVER, kind == OP_GET ? 3 : 2);
			WAIT_UNTIL(atomic_load(&o.started));
			/* Held in its spin, or (where the hook is not reached there)
			 * already asleep: only the first is the case under test. */
			WAIT_UNTIL(atomic_load(&held) || atomic_load(&o.done) ||
			           thread_state(atomic_load(&o.tid)) == 'S');
			ASSERT_TRUE(atomic_load(&held));
			uintptr_t sum = 0;
			ASSERT_RC(grace_queue_free(q), -EBUSY);
			ASSERT_RC(grace_queue_free_items(q, dispose_count, &sum), -EBUSY);
			ASSERT_EQ(sum, 0);
			atomic_store(&release, 1);
			void *it;
			if (kind == OP_GET) {
				ASSERT_RC(grace_queue_put(q, ip(7), NULL, PAST), 0);
				ASSERT_RC(op_join(&o), 0);
				ASSERT_PTR_EQ(o.item, ip(7));
			} else {
				ASSERT_RC(grace_queue_get(q, &it, NULL, PAST), 0);
				ASSERT_PTR_EQ(it, ip(1));
				ASSERT_RC(op_join(&o), 0);
				void *rest[1000];
				ASSERT_RC(grace_queue_drain(q, rest, 1000), cap);
				ASSERT_PTR_EQ(rest[cap - 1], ip(1000));
			}
			hold_disarm();
			ASSERT_RC(grace_queue_free(q), 0);
		}
	}
}

/* ---- names in reports ---- */

TEST(name_reaches_the_blocked_record)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 1), 0);
	ASSERT_RC(grace_queue_set_name(q, "jobs"), 0);
	struct grace__blocked rec;
	memset(&rec, 0, sizeof rec);
	struct op g;
	memset(&g, 0, sizeof g);
	g.q = q;
	g.kind = OP_GET;
	g.d = GRACE_FOREVER;
	g.rec = &rec;
	ASSERT_EQ(pthread_create(&g.th, NULL, op_main, &g), 0);
	op_wait_sleeping(&g);
	const char *op, *name;
	int64_t since;
	grace__blocked_read(&rec, &op, &name, &since);
	ASSERT_STR_EQ(op, "queue_get");
	ASSERT_STR_EQ(name, "jobs");
	ASSERT_GT(since, 0);
	/* Renaming while it waits leaves the record readable. */
	ASSERT_RC(grace_queue_set_name(q, "other"), 0);
	grace__blocked_read(&rec, &op, &name, &since);
	ASSERT_STR_EQ(name, "jobs");
	ASSERT_RC(grace_queue_put(q, ip(1), NULL, PAST), 0);
	ASSERT_RC(op_join(&g), 0);
	grace__blocked_read(&rec, &op, &name, &since);
	ASSERT_PTR_EQ(op, NULL);

	ASSERT_RC(grace_queue_put(q, ip(2), NULL, PAST), 0);
	memset(&g, 0, sizeof g);
	g.q = q;
	g.kind = OP_PUT;
	g.d = GRACE_FOREVER;
	g.rec = &rec;
	ASSERT_EQ(pthread_create(&g.th, NULL, op_main, &g), 0);
	op_wait_sleeping(&g);
	grace__blocked_read(&rec, &op, &name, &since);
	ASSERT_STR_EQ(op, "queue_put");
	ASSERT_STR_EQ(name, "other");
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
	ASSERT_RC(op_join(&g), -ESHUTDOWN);
	void *it;
	ASSERT_RC(grace_queue_drain(q, &it, 1), 1);
	ASSERT_RC(grace_queue_free(q), 0);
}

/* ---- nothing lost ---- */

static void run_stress(int np, int nc, int rounds, int per_producer, unsigned seed)
{
	struct qs s;
	ASSERT_EQ(qs_init(&s, np, nc, per_producer, seed), 0);
	for (int i = 0; i < rounds; i++) {
		uint64_t bad = qs_round(&s);
		if (bad != 0)
			FAIL_AT(__FILE__, __LINE__,
			        "round %d (seed %u): lost %llu duplicated %llu phantom %llu disordered %llu "
			        "join %llu free %llu",
			        i, seed, (unsigned long long)s.t.lost, (unsigned long long)s.t.duplicated,
			        (unsigned long long)s.t.phantom, (unsigned long long)s.t.disordered,
			        (unsigned long long)s.t.join_wrong, (unsigned long long)s.t.free_failed);
	}
	ASSERT_EQ(s.t.got + s.t.drained, s.t.put);
	ASSERT_GT(s.t.put, 0);
	qs_fini(&s);
}

static int stress_rounds(void)
{
	const char *e = getenv("GRACE_QUEUE_STRESS_ROUNDS");
	return e != NULL ? atoi(e) : 1500;
}

TEST(stress_nothing_lost_1p1c)
{
	run_stress(1, 1, stress_rounds(), 200, 1);
}

TEST(stress_nothing_lost_3p3c)
{
	run_stress(3, 3, stress_rounds(), 100, 2);
}

TEST(stress_nothing_lost_4p1c_1p4c)
{
	run_stress(4, 1, stress_rounds() / 2, 50, 3);
	run_stress(1, 4, stress_rounds() / 2, 200, 4);
}

TEST_LIST(T(new_and_free), T(enomem_changes_nothing), T(null_and_bad_arguments),
          T(fifo_exact_capacity_and_wrap), T(null_item_is_an_item), T(past_deadline_is_a_try),
          T(deadline_timing), T(stop_already_requested_wins), T(stop_wakes_blocked_get_and_put),
          T(blocked_get_and_put_wake_each_other), T(one_item_wakes_one_getter),
          T(stopped_getter_passes_its_wakeup_on), T(stopped_putter_passes_its_wakeup_on),
          T(getter_robbed_of_its_item_is_woken_by_the_next),
          T(shutdown_drain), T(shutdown_immediate), T(shutdown_modes),
          T(shutdown_wakes_every_blocked_caller), T(drain_hands_back_oldest_first_and_frees_room),
          T(drain_shutdown_waits_for_a_put_in_flight), T(items_behind_a_put_in_flight_wake_their_getters),
          T(task_done_and_join), T(task_done_does_not_count_an_item_being_drained),
          T(free_refuses_items_and_waiters), T(drain_waits_for_a_put_in_flight),
          T(drain_wakes_when_a_getter_takes_what_it_waits_for),
          T(free_items_refuses_a_put_in_flight), T(free_refuses_a_caller_in_its_spin),
          T(name_reaches_the_blocked_record),
          T(stress_nothing_lost_1p1c), T(stress_nothing_lost_3p3c), T(stress_nothing_lost_4p1c_1p4c))
