/* SPDX-License-Identifier: MIT */
/*
 * event_test.c - grace_event: every sentence of the contract, misuse, and
 * the races: many waiters, set racing clear, stop while waiting.
 */
#include "test.h"

#include "internal.h"
#include "fake_engine.h"

#include <sys/syscall.h>
#include <unistd.h>

TEST(zeroed_and_static_are_clear)
{
	static grace_event s = GRACE_EVENT_INIT;
	grace_event z;
	memset(&z, 0, sizeof z);
	ASSERT_FALSE(grace_event_is_set(&s));
	ASSERT_FALSE(grace_event_is_set(&z));
	ASSERT_RC(grace_event_set(&z), 0);
	ASSERT_TRUE(grace_event_is_set(&z));
	ASSERT_RC(grace_event_wait(&z, NULL, GRACE_FOREVER), 0);
}

TEST(set_clear_is_set)
{
	grace_event ev;
	ASSERT_RC(grace_event_init(&ev), 0);
	ASSERT_FALSE(grace_event_is_set(&ev));
	ASSERT_RC(grace_event_set(&ev), 0);
	ASSERT_RC(grace_event_set(&ev), 0); /* idempotent */
	ASSERT_TRUE(grace_event_is_set(&ev));
	ASSERT_RC(grace_event_clear(&ev), 0);
	ASSERT_RC(grace_event_clear(&ev), 0);
	ASSERT_FALSE(grace_event_is_set(&ev));
	ASSERT_RC(grace_event_destroy(&ev), 0);
}

TEST(wait_timeout_and_try)
{
	grace_event ev = GRACE_EVENT_INIT;
	/* A past deadline is a try: it fails at once when clear... */
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_event_wait(&ev, NULL, t0 - 1), -ETIMEDOUT);
	ASSERT_RC(grace_event_wait(&ev, NULL, 0), -ETIMEDOUT);
	/* ...and succeeds at once when set. */
	grace_event_set(&ev);
	ASSERT_RC(grace_event_wait(&ev, NULL, 0), 0);
	grace_event_clear(&ev);
	/* A real timeout: not before the deadline (how late is the
	 * kernel's business; the fake clock below checks the rest). */
	t0 = grace_now();
	ASSERT_RC(grace_event_wait(&ev, NULL, t0 + 30 * 1000000), -ETIMEDOUT);
	ASSERT_GE(grace_now() - t0, 30 * 1000000);
	ASSERT_RC(grace_event_destroy(&ev), 0);
}

struct waiter1 {
	grace_event *ev;
	grace_deadline d;
	int rc;
};

static void *waiter1(void *arg)
{
	struct waiter1 *x = arg;
	x->rc = grace_event_wait(x->ev, NULL, x->d);
	return NULL;
}

/* On the fake clock, exactly: a wait woken 1 ns before its deadline waits
 * again to the same deadline; woken at it, it answers -ETIMEDOUT, without a
 * nanosecond of slack either way. */
TEST(timeout_on_the_fake_clock)
{
	for (size_t e = 0; e < 2; e++) {
		fake_install(fakes[e]);
		grace_event ev = GRACE_EVENT_INIT;
		struct waiter1 x = {&ev, grace_after_ms(30), 1};
		ASSERT_RC(grace_event_wait(&ev, NULL, T0), -ETIMEDOUT); /* now is past */
		pthread_t t;
		start_threads(&t, 1, waiter1, &x, sizeof x);
		until_asleep(1);
		ASSERT_PTR_EQ(fk.w, &ev.word);
		ASSERT_EQ(fk.d, T0 + 30 * MS);
		atomic_store(&fk.now, x.d - 1);
		release(0);
		until_asleep(2);
		ASSERT_EQ(fk.d, T0 + 30 * MS);
		atomic_store(&fk.now, x.d);
		release(-ETIMEDOUT);
		pthread_join(t, NULL);
		ASSERT_RC(x.rc, -ETIMEDOUT);
		ASSERT_EQ(fk.sleeps, 2);
		grace__engine_install(NULL);
		ASSERT_RC(grace_event_destroy(&ev), 0);
	}
}

TEST(stop_already_requested_wins)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	ASSERT_RC(grace_stop_request(s, 7), 1);
	grace_event ev = GRACE_EVENT_INIT;
	grace_event_set(&ev);
	/* Even with the event set: the stop wins and the event is untouched. */
	ASSERT_RC(grace_event_wait(&ev, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_TRUE(grace_event_is_set(&ev));
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(misuse)
{
	ASSERT_RC(grace_event_init(NULL), -EINVAL);
	ASSERT_RC(grace_event_destroy(NULL), -EINVAL);
	ASSERT_RC(grace_event_set(NULL), -EINVAL);
	ASSERT_RC(grace_event_clear(NULL), -EINVAL);
	ASSERT_FALSE(grace_event_is_set(NULL));
	ASSERT_RC(grace_event_wait(NULL, NULL, GRACE_FOREVER), -EINVAL);

	grace_event ev = GRACE_EVENT_INIT;
	grace_event_set(&ev);
	ASSERT_RC(grace_event_destroy(&ev), 0);
	ASSERT_RC(grace_event_destroy(&ev), -EINVAL);
	ASSERT_RC(grace_event_set(&ev), -EINVAL);
	ASSERT_RC(grace_event_clear(&ev), -EINVAL);
	ASSERT_FALSE(grace_event_is_set(&ev));
	ASSERT_RC(grace_event_wait(&ev, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_event_init(&ev), 0);
	ASSERT_RC(grace_event_set(&ev), 0);
}

/* ---- threads ---- */

struct waiter {
	grace_event *ev;
	grace_stop *stop;
	grace_deadline d;
	atomic_int *ready;
	int rc;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;
	atomic_fetch_add(w->ready, 1);
	w->rc = grace_event_wait(w->ev, w->stop, w->d);
	return NULL;
}

TEST(destroy_with_waiter_is_busy)
{
	grace_event ev = GRACE_EVENT_INIT;
	atomic_int ready = 0;
	struct waiter w = {&ev, NULL, GRACE_FOREVER, &ready, 99};
	pthread_t t;
	start_threads(&t, 1, wait_main, &w, sizeof w);
	WAIT_UNTIL(atomic_load(&ev.waiters) == 1);
	ASSERT_RC(grace_event_destroy(&ev), -EBUSY);
	ASSERT_RC(grace_event_set(&ev), 0); /* still usable: nothing changed */
	join_threads(&t, 1);
	ASSERT_RC(w.rc, 0);
	ASSERT_RC(grace_event_destroy(&ev), 0);
}

/* A waiter is "waiting" from its first look at a clear event, through the
 * brief spin that precedes its sleep, until it returns; destroy answers
 * -EBUSY all that time. The spin's yields go through sched_yield(), which
 * this program defines: the executable's definition wins over the C
 * library's for the statically linked library, so a chosen thread can be
 * parked inside the spin while the test destroys. Any other caller (and
 * the parked thread, once released) yields for real. If the wait core ever
 * stops yielding in its spin, the handshake below times out and says so. */
static _Thread_local bool park_in_yield;
static atomic_int parked, unpark;

int sched_yield(void)
{
	if (park_in_yield) {
		park_in_yield = false;
		atomic_store(&parked, 1);
		while (!atomic_load(&unpark))
			syscall(SYS_sched_yield);
	}
	return (int)syscall(SYS_sched_yield);
}

static void *parked_wait_main(void *arg)
{
	struct waiter *w = arg;
	park_in_yield = true;
	w->rc = grace_event_wait(w->ev, w->stop, w->d);
	park_in_yield = false;
	return NULL;
}

TEST(destroy_while_waiter_spins_is_busy)
{
	for (int round = 0; round < 2; round++) {
		grace_event ev = GRACE_EVENT_INIT;
		grace_stop *s = NULL;
		if (round == 1)
			ASSERT_RC(grace_stop_new(&s, NULL), 0);
		atomic_store(&parked, 0);
		atomic_store(&unpark, 0);
		atomic_int ready = 0;
		struct waiter w = {&ev, s, GRACE_FOREVER, &ready, 99};
		pthread_t t;
		start_threads(&t, 1, parked_wait_main, &w, sizeof w);
		WAIT_UNTIL(atomic_load(&parked)); /* inside the wait, spinning, not asleep */
		ASSERT_EQ(atomic_load(&ev.waiters), 0); /* not counted as a sleeper */
		ASSERT_RC(grace_event_destroy(&ev), -EBUSY);
		if (round == 0)
			ASSERT_RC(grace_event_set(&ev), 0); /* still usable: nothing changed */
		else
			ASSERT_RC(grace_stop_request(s, 1), 1);
		atomic_store(&unpark, 1);
		join_threads(&t, 1);
		ASSERT_RC(w.rc, round == 0 ? 0 : -ECANCELED);
		ASSERT_RC(grace_event_destroy(&ev), 0); /* nobody inside any more */
		if (s != NULL)
			ASSERT_RC(grace_stop_free(s), 0);
	}
}

#define N 64

TEST(set_wakes_all_64)
{
	grace_event ev = GRACE_EVENT_INIT;
	atomic_int ready = 0;
	struct waiter w[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++)
		w[i] = (struct waiter){&ev, NULL, GRACE_FOREVER, &ready, 99};
	start_threads(t, N, wait_main, w, sizeof w[0]);
	WAIT_UNTIL(atomic_load(&ready) == N);
	ASSERT_RC(grace_event_set(&ev), 0);
	join_threads(t, N);
	for (int i = 0; i < N; i++)
		ASSERT_RC(w[i].rc, 0);
	ASSERT_EQ(atomic_load(&ev.waiters), 0);
}

TEST(stop_cancels_all_64)
{
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	atomic_int ready = 0;
	struct waiter w[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++)
		w[i] = (struct waiter){&ev, s, GRACE_FOREVER, &ready, 99};
	start_threads(t, N, wait_main, w, sizeof w[0]);
	/* Wait until every one is inside the sleeping part of the wait. */
	WAIT_UNTIL(atomic_load(&ev.waiters) == N);
	ASSERT_RC(grace_stop_request(s, 3), 1);
	join_threads(t, N);
	for (int i = 0; i < N; i++)
		ASSERT_RC(w[i].rc, -ECANCELED);
	ASSERT_FALSE(grace_event_is_set(&ev)); /* the stop did not touch it */
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(child_stop_cancels_waiter)
{
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *parent, *child;
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	ASSERT_RC(grace_stop_new(&child, parent), 0);
	atomic_int ready = 0;
	struct waiter w = {&ev, child, GRACE_FOREVER, &ready, 99};
	pthread_t t;
	start_threads(&t, 1, wait_main, &w, sizeof w);
	WAIT_UNTIL(atomic_load(&ev.waiters) == 1);
	ASSERT_RC(grace_stop_request(parent, 5), 1);
	join_threads(&t, 1);
	ASSERT_RC(w.rc, -ECANCELED);
	ASSERT_EQ(grace_stop_reason(child), 5);
	ASSERT_RC(grace_stop_free(child), 0);
	ASSERT_RC(grace_stop_free(parent), 0);
}

/* A waiter of a child stop also sleeps on its parent's word, so that one
 * request of the parent wakes every child's waiter at once; the waiter then
 * requests its own stop where that is only setting its flag. Whichever way
 * it went, each returns -ECANCELED with its own stop requested and carrying
 * the parent's reason. */
struct child_waiter {
	grace_event *ev;
	grace_stop *stop;
	atomic_int *ready;
	int rc;
	bool requested_on_return;
};

static void *child_wait_main(void *arg)
{
	struct child_waiter *w = arg;
	atomic_fetch_add(w->ready, 1);
	w->rc = grace_event_wait(w->ev, w->stop, grace_after_ms(20000));
	w->requested_on_return = grace_stop_requested(w->stop);
	return NULL;
}

TEST(parent_request_cancels_64_child_waiters)
{
	for (int round = 0; round < 20; round++) {
		grace_event ev = GRACE_EVENT_INIT;
		grace_stop *parent, *child[N];
		ASSERT_RC(grace_stop_new(&parent, NULL), 0);
		atomic_int ready = 0;
		struct child_waiter w[N];
		pthread_t t[N];
		for (int i = 0; i < N; i++) {
			ASSERT_RC(grace_stop_new(&child[i], parent), 0);
			w[i] = (struct child_waiter){&ev, child[i], &ready, 99, false};
		}
		start_threads(t, N, child_wait_main, w, sizeof w[0]);
		/* Odd rounds: request while they are still arriving. */
		if (round % 2 == 0)
			WAIT_UNTIL(atomic_load(&ev.waiters) == N);
		ASSERT_RC(grace_stop_request(parent, 7), 1);
		for (int i = 0; i < N; i++) /* every child, as the request returns */
			ASSERT_EQ(grace_stop_reason(child[i]), 7);
		join_threads(t, N);
		for (int i = 0; i < N; i++) {
			ASSERT_RC(w[i].rc, -ECANCELED);
			ASSERT_TRUE(w[i].requested_on_return);
			ASSERT_RC(grace_stop_free(child[i]), 0);
		}
		ASSERT_RC(grace_stop_free(parent), 0);
	}
}

/* A child with callbacks (a grandchild is one) is requested by the parent's
 * requester, never by a waiter: its callbacks run in the requesting thread
 * and have all run when the parent's request returns. */
static pthread_t cb_ran_in[N];
static atomic_int cb_count;

static void record_cb(void *arg)
{
	cb_ran_in[(intptr_t)arg] = pthread_self();
	atomic_fetch_add(&cb_count, 1);
}

TEST(child_callbacks_run_in_the_requester)
{
	enum { K = 16 };
	for (int round = 0; round < 20; round++) {
		grace_event ev = GRACE_EVENT_INIT;
		grace_stop *parent, *child[K], *grandchild[K];
		grace_stop_cb cb[K];
		ASSERT_RC(grace_stop_new(&parent, NULL), 0);
		atomic_store(&cb_count, 0);
		atomic_int ready = 0;
		struct child_waiter w[2 * K];
		pthread_t t[2 * K];
		for (int i = 0; i < K; i++) {
			ASSERT_RC(grace_stop_new(&child[i], parent), 0);
			ASSERT_RC(grace_stop_new(&grandchild[i], child[i]), 0);
			ASSERT_RC(grace_stop_on(child[i], &cb[i], record_cb, (void *)(intptr_t)i), 0);
			w[2 * i] = (struct child_waiter){&ev, child[i], &ready, 99, false};
			w[2 * i + 1] = (struct child_waiter){&ev, grandchild[i], &ready, 99, false};
		}
		start_threads(t, 2 * K, child_wait_main, w, sizeof w[0]);
		WAIT_UNTIL(atomic_load(&ev.waiters) == 2 * K);
		ASSERT_RC(grace_stop_request(parent, 9), 1);
		ASSERT_EQ(atomic_load(&cb_count), K);
		for (int i = 0; i < K; i++) {
			ASSERT_TRUE(pthread_equal(cb_ran_in[i], pthread_self()));
			ASSERT_EQ(grace_stop_reason(grandchild[i]), 9);
		}
		join_threads(t, 2 * K);
		for (int i = 0; i < K; i++) {
			ASSERT_RC(w[2 * i].rc, -ECANCELED);
			ASSERT_RC(w[2 * i + 1].rc, -ECANCELED);
			ASSERT_TRUE(w[2 * i].requested_on_return && w[2 * i + 1].requested_on_return);
			ASSERT_RC(grace_stop_off(&cb[i]), 0);
			ASSERT_RC(grace_stop_free(grandchild[i]), 0);
			ASSERT_RC(grace_stop_free(child[i]), 0);
		}
		ASSERT_RC(grace_stop_free(parent), 0);
	}
}

TEST(deadline_while_waiting_with_stop)
{
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_event_wait(&ev, s, t0 + 20 * 1000000), -ETIMEDOUT);
	ASSERT_GE(grace_now() - t0, 20 * 1000000);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A set followed at once by a clear must still release a waiter that was
 * already waiting when the set happened (one that starts after both simply
 * waits for the next set). Repeat many times with fresh threads. */
struct race {
	grace_event ev;
	int rc;
};

static void *race_waiter(void *arg)
{
	struct race *r = arg;
	r->rc = grace_event_wait(&r->ev, NULL, GRACE_FOREVER);
	return NULL;
}

TEST(set_clear_race_never_loses_a_wakeup)
{
	int rounds = getenv("GRACE_TEST_SLOW") ? 1000 : 4000;
	for (int i = 0; i < rounds; i++) {
		struct race r = {GRACE_EVENT_INIT, 99};
		pthread_t t;
		start_threads(&t, 1, race_waiter, &r, sizeof r);
		/* The waiter has taken its first look at the event. */
		WAIT_UNTIL(atomic_load(&r.ev.waiters) == 1);
		/* Vary where the set lands: during the waiter's spin, around
		 * the moment it goes to sleep, or after. */
		grace_deadline until = grace_now() + (i % 4) * 5000;
		while (grace_now() < until)
			;
		grace_event_set(&r.ev);
		grace_event_clear(&r.ev);
		join_threads(&t, 1); /* hangs (test timeout) if the wake-up was lost */
		ASSERT_RC(r.rc, 0);
	}
}

/* Setters, clearers and waiters together: every waiter that started
 * before the final set returns 0. */
struct storm {
	grace_event ev;
	atomic_int stop_flag;
	atomic_long sets;
	int waits; /* per waiter */
};

static void *storm_toggler(void *arg)
{
	struct storm *s = arg;
	while (!atomic_load(&s->stop_flag)) {
		grace_event_set(&s->ev);
		grace_event_clear(&s->ev);
		/* A yield now and then: under valgrind, which runs one thread
		 * at a time, the waiters it wakes would otherwise wait for the
		 * end of its time slice, every time. */
		if (atomic_fetch_add(&s->sets, 1) % 8 == 7)
			sched_yield();
	}
	return NULL;
}

static void *storm_waiter(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < s->waits; i++)
		if (grace_event_wait(&s->ev, NULL, GRACE_FOREVER) != 0)
			abort();
	return NULL;
}

TEST(set_clear_storm)
{
	struct storm s = {GRACE_EVENT_INIT, 0, 0, getenv("GRACE_TEST_SLOW") ? 200 : 2000};
	pthread_t tog, w[4];
	start_threads(&tog, 1, storm_toggler, &s, 0);
	start_threads(w, 4, storm_waiter, &s, 0);
	join_threads(w, 4); /* each waited s.waits times; none hung */
	atomic_store(&s.stop_flag, 1);
	join_threads(&tog, 1);
	ASSERT_GT(atomic_load(&s.sets), 0);
}

/* A spurious wake-up (a wake on the word with nothing changed) sends the
 * waiter round its loop to sleep again; what it reports keeps the time the
 * call first slept, so a report says how long the call has waited. */
struct spurious {
	grace_event ev;
	grace_stop *stop;
	struct grace__blocked rec;
	int result;
};

static void *spurious_waiter(void *arg)
{
	struct spurious *sp = arg;
	grace__self_blocked = &sp->rec;
	sp->result = grace_event_wait(&sp->ev, sp->stop, GRACE_FOREVER);
	grace__self_blocked = NULL;
	return NULL;
}

TEST(spurious_wakeups_keep_the_time_the_call_began)
{
	struct spurious sp = {GRACE_EVENT_INIT, NULL, {0}, 1};
	ASSERT_RC(grace_stop_new(&sp.stop, NULL), 0);
	pthread_t t;
	start_threads(&t, 1, spurious_waiter, &sp, 0);
	const char *op = NULL, *name = NULL;
	int64_t since0 = 0, since = 0;
	WAIT_UNTIL((grace__blocked_read(&sp.rec, &op, &name, &since0), op != NULL));
	ASSERT_STR_EQ(op, "event_wait");
	uint32_t seq0 = atomic_load(&sp.rec.seq);
	/* Wake until the waiter has slept again at least three times (each
	 * sleep is two writes of the record: begin and end). */
	WAIT_UNTIL((grace__os_wake(&sp.ev.word, INT32_MAX),
	            grace__blocked_read(&sp.rec, &op, &name, &since),
	            op != NULL && atomic_load(&sp.rec.seq) - seq0 >= 3 * 4));
	ASSERT_STR_EQ(op, "event_wait");
	ASSERT_EQ(since, since0);
	ASSERT_EQ(sp.result, 1); /* still waiting: the wakes were spurious */
	ASSERT_RC(grace_event_set(&sp.ev), 0);
	join_threads(&t, 1);
	ASSERT_RC(sp.result, 0);
	ASSERT_RC(grace_stop_free(sp.stop), 0);
}

TEST_LIST(T(zeroed_and_static_are_clear), T(set_clear_is_set), T(wait_timeout_and_try), T(timeout_on_the_fake_clock),
          T(stop_already_requested_wins), T(misuse), T(destroy_with_waiter_is_busy), T(destroy_while_waiter_spins_is_busy), T(set_wakes_all_64),
          T(stop_cancels_all_64), T(child_stop_cancels_waiter),
          T(parent_request_cancels_64_child_waiters), T(child_callbacks_run_in_the_requester), T(deadline_while_waiting_with_stop),
          T(set_clear_race_never_loses_a_wakeup), T(set_clear_storm),
          T(spurious_wakeups_keep_the_time_the_call_began))
