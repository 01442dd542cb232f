/* SPDX-License-Identifier: MIT */
/*
 * word_test.c - grace_wait_word and grace_wake_word: every sentence of the
 * contract, every error path, the exact count on each engine, and the
 * races: stops, 64 waiters, a wake without a change, and a ticket counter
 * whose producers and consumers count every ticket. Run it on both engines
 * (GRACE_NO_FUTEX_WAITV=1) and in the portable build.
 */
#include "test.h"

#include "internal.h"
#include "fake_engine.h"

static struct grace_stop not_a_stop; /* zeroed: no magic */

TEST(misuse)
{
	_Alignas(8) uint32_t buf[2] = {0, 0};
	const uint32_t *odd = (const uint32_t *)(const void *)((const char *)buf + 1);
	ASSERT_RC(grace_wait_word(NULL, 0, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_wait_word(odd, 0, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_wait_word(&buf[0], 0, &not_a_stop, GRACE_FOREVER), -EINVAL);
	/* Arguments first: before a word that differs, and a past deadline. */
	ASSERT_RC(grace_wait_word(&buf[0], 1, &not_a_stop, 0), -EINVAL);
	ASSERT_RC(grace_wake_word(NULL, 1), -EINVAL);
	ASSERT_RC(grace_wake_word(NULL, -1), -EINVAL);
	ASSERT_RC(grace_wake_word(odd, 1), -EINVAL);
	ASSERT_EQ(grace__word_waiters(&buf[0], false), 0);
}

TEST(word_differs_returns_at_once)
{
	_Atomic uint32_t w = 5;
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 4, NULL, GRACE_FOREVER), 0);
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 4, NULL, 0), 0); /* a try that succeeds */
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 4, NULL, INT64_MIN), 0);
}

TEST(stop_already_requested_wins)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	ASSERT_RC(grace_stop_request(s, 2), 1);
	_Atomic uint32_t w = 5;
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 5, s, GRACE_FOREVER), -ECANCELED);
	/* Even with the word already different, and over a past deadline. */
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 4, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_wait_word((const uint32_t *)&w, 5, s, 0), -ECANCELED);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(past_deadline_is_a_try)
{
	_Atomic uint32_t w = 5;
	grace_deadline past[] = {grace_now(), grace_now() - 1, 0, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++)
		ASSERT_RC(grace_wait_word((const uint32_t *)&w, 5, NULL, past[i]), -ETIMEDOUT);
	ASSERT_EQ(grace__word_waiters((const uint32_t *)&w, false), 0);
}

TEST(real_timeout)
{
	_Atomic uint32_t w = 5;
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	grace_stop *stops[] = {NULL, s};
	for (int i = 0; i < 2; i++) {
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_wait_word((const uint32_t *)&w, 5, stops[i], t0 + 30 * MS), -ETIMEDOUT);
		ASSERT_GE(grace_now() - t0, 30 * MS);
		ASSERT_EQ(grace__word_waiters((const uint32_t *)&w, false), 0);
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* With no waiter, a wake takes no lock and makes no wake of any word. */
TEST(wake_without_waiters_wakes_nothing)
{
	for (size_t e = 0; e < 2; e++) {
		fake_install(fakes[e]);
		_Atomic uint32_t w = 0;
		ASSERT_RC(grace_wake_word((const uint32_t *)&w, 1), 0);
		ASSERT_RC(grace_wake_word((const uint32_t *)&w, -1), 0);
		ASSERT_RC(grace_wake_word((const uint32_t *)&w, 0), 0);
		ASSERT_EQ(fk.wakes, 0);
		grace__engine_install(NULL);
	}
}

/* ---- threads ---- */

struct ww {
	const uint32_t *w;
	uint32_t expected;
	grace_stop *stop;
	grace_deadline d;
	int rc;
	atomic_int *returned;
};

static void *ww_main(void *arg)
{
	struct ww *x = arg;
	x->rc = grace_wait_word(x->w, x->expected, x->stop, x->d);
	atomic_fetch_add(x->returned, 1);
	return NULL;
}

#define NW 5

/* The count is exact on every engine: the waiters taken off the word's
 * list, up to n, oldest first; n < 0 takes the rest. */
TEST(wake_counts_exactly)
{
	_Atomic uint32_t w = 0;
	atomic_int returned = 0;
	struct ww xs[NW];
	pthread_t ts[NW];
	for (int i = 0; i < NW; i++)
		xs[i] = (struct ww){(const uint32_t *)&w, 0, NULL, grace_after_ms(20000), 1, &returned};
	start_threads(ts, NW, ww_main, xs, sizeof xs[0]);
	WAIT_UNTIL(grace__word_waiters((const uint32_t *)&w, false) == NW);
	ASSERT_RC(grace_wake_word((const uint32_t *)&w, 0), 0);
	atomic_store(&w, 1);
	ASSERT_RC(grace_wake_word((const uint32_t *)&w, 2), 2);
	WAIT_UNTIL(atomic_load(&returned) >= 2);
	/* On the lot, the wakes of the two may wake others of their buckets
	 * spuriously; those see the change and leave uncounted. */
	int n = grace_wake_word((const uint32_t *)&w, -1);
	if (grace__engine_get()->watches_stop)
		ASSERT_EQ(n, NW - 2);
	ASSERT_LE(n, NW - 2);
	WAIT_UNTIL(atomic_load(&returned) == NW);
	join_threads(ts, NW);
	for (int i = 0; i < NW; i++)
		ASSERT_RC(xs[i].rc, 0);
	ASSERT_RC(grace_wake_word((const uint32_t *)&w, -1), 0);
}

/* A wake without a change wakes the waiter, which waits again; a word
 * sharing nothing but a bucket is neither woken nor counted. */
TEST(wake_without_change_waits_again)
{
	_Atomic uint32_t words[64];
	for (int i = 0; i < 64; i++)
		atomic_store(&words[i], 0);
	const uint32_t *w = (const uint32_t *)&words[0];
	atomic_int returned = 0;
	struct ww x = {w, 0, NULL, grace_after_ms(20000), 1, &returned};
	pthread_t t;
	start_threads(&t, 1, ww_main, &x, sizeof x);
	WAIT_UNTIL(grace__word_waiters(w, false) == 1);
	for (int i = 1; i < 64; i++)
		ASSERT_RC(grace_wake_word((const uint32_t *)&words[i], -1), 0);
	ASSERT_RC(grace_wake_word(w, 1), 1);
	/* It comes back onto the list, and has not returned. */
	WAIT_UNTIL(grace__word_waiters(w, false) == 1);
	ASSERT_EQ(atomic_load(&returned), 0);
	atomic_store(&words[0], 7);
	ASSERT_RC(grace_wake_word(w, 1), 1);
	WAIT_UNTIL(atomic_load(&returned) == 1);
	pthread_join(t, NULL);
	ASSERT_RC(x.rc, 0);
}

#define NMANY 64

TEST(stop_ends_64_waiters)
{
	_Atomic uint32_t w = 3;
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	atomic_int returned = 0;
	struct ww xs[NMANY];
	pthread_t ts[NMANY];
	for (int i = 0; i < NMANY; i++)
		xs[i] = (struct ww){(const uint32_t *)&w, 3, s, grace_after_ms(20000), 1, &returned};
	start_threads(ts, NMANY, ww_main, xs, sizeof xs[0]);
	WAIT_UNTIL(grace__word_waiters((const uint32_t *)&w, false) == NMANY);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	WAIT_UNTIL_MS(atomic_load(&returned) == NMANY, 10000);
	join_threads(ts, NMANY);
	for (int i = 0; i < NMANY; i++)
		ASSERT_RC(xs[i].rc, -ECANCELED);
	/* Every record left the list. */
	ASSERT_EQ(grace__word_waiters((const uint32_t *)&w, false), 0);
	ASSERT_RC(grace_wake_word((const uint32_t *)&w, -1), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(wake_all_64_waiters)
{
	_Atomic uint32_t w = 3;
	atomic_int returned = 0;
	struct ww xs[NMANY];
	pthread_t ts[NMANY];
	for (int i = 0; i < NMANY; i++)
		xs[i] = (struct ww){(const uint32_t *)&w, 3, NULL, grace_after_ms(20000), 1, &returned};
	start_threads(ts, NMANY, ww_main, xs, sizeof xs[0]);
	WAIT_UNTIL(grace__word_waiters((const uint32_t *)&w, false) == NMANY);
	atomic_store(&w, 4);
	/* More than a batch: every one counted once. On the lot a waiter
	 * woken spuriously (a wake of another word of its bucket) may see the
	 * change and leave by itself first: it is not counted then. */
	int n = grace_wake_word((const uint32_t *)&w, -1);
	if (grace__engine_get()->watches_stop)
		ASSERT_EQ(n, NMANY);
	ASSERT_GE(n, 1);
	ASSERT_LE(n, NMANY);
	ASSERT_EQ(grace__word_waiters((const uint32_t *)&w, false), 0);
	WAIT_UNTIL_MS(atomic_load(&returned) == NMANY, 10000);
	join_threads(ts, NMANY);
	for (int i = 0; i < NMANY; i++)
		ASSERT_RC(xs[i].rc, 0);
}

/* ---- ping-pong and tickets: every hand-off counted ---- */

struct pp {
	_Atomic uint32_t word;
	long rounds;
	grace_stop *stop;
};

static void *pp_side(void *arg)
{
	struct pp *p = arg;
	/* Side 1 waits for odd values and makes them even, side 0 the
	 * reverse; a lost wake-up ends in -ETIMEDOUT. */
	static atomic_int side_seq;
	uint32_t side = (uint32_t)atomic_fetch_add(&side_seq, 1) & 1u;
	grace_deadline d = grace_after_ms(60000);
	for (long i = 0; i < p->rounds; i++) {
		uint32_t v;
		while (((v = atomic_load(&p->word)) & 1u) != side) {
			int rc = grace_wait_word((const uint32_t *)&p->word, v, p->stop, d);
			if (rc == -ETIMEDOUT)
				FAIL_AT(__FILE__, __LINE__, "a lost wake-up at round %ld", i);
			ASSERT_RC(rc, 0);
		}
		atomic_store(&p->word, v + 1);
		grace_wake_word((const uint32_t *)&p->word, 1);
	}
	return NULL;
}

TEST(pingpong_counts_every_round)
{
	static struct pp p;
	atomic_store(&p.word, 0);
	p.rounds = getenv("GRACE_TEST_SLOW") ? 5000 : 20000;
	ASSERT_RC(grace_stop_new(&p.stop, NULL), 0);
	pthread_t t[2];
	start_threads(t, 1, pp_side, &p, 0);
	start_threads(&t[1], 1, pp_side, &p, 0);
	join_threads(t, 2);
	ASSERT_EQ(atomic_load(&p.word), (uint32_t)(2 * p.rounds));
	ASSERT_RC(grace_stop_free(p.stop), 0);
}

/* A counting semaphore on one word: producers add a ticket and wake one
 * waiter; consumers take one with a CAS, or wait while the word is 0. */
#define TP 3
#define TC 3

struct tickets {
	_Atomic uint32_t word;
	long per_producer;
	atomic_long taken;
	atomic_long done_producers;
	atomic_long woken_total;
	grace_stop *stop; /* requested once every ticket is taken */
};

static void *ticket_producer(void *arg)
{
	struct tickets *t = arg;
	for (long i = 0; i < t->per_producer; i++) {
		atomic_fetch_add(&t->word, 1);
		int n = grace_wake_word((const uint32_t *)&t->word, 1);
		ASSERT_GE(n, 0);
		ASSERT_LE(n, 1);
		atomic_fetch_add(&t->woken_total, n);
	}
	atomic_fetch_add(&t->done_producers, 1);
	return NULL;
}

static void *ticket_consumer(void *arg)
{
	struct tickets *t = arg;
	grace_deadline d = grace_after_ms(60000);
	for (;;) {
		uint32_t v = atomic_load(&t->word);
		if (v == 0) {
			int rc = grace_wait_word((const uint32_t *)&t->word, 0, t->stop, d);
			if (rc == -ECANCELED)
				return NULL;
			if (rc == -ETIMEDOUT)
				FAIL_AT(__FILE__, __LINE__, "a lost wake-up (taken %ld)", atomic_load(&t->taken));
			ASSERT_RC(rc, 0);
			continue;
		}
		if (atomic_compare_exchange_weak(&t->word, &v, v - 1))
			atomic_fetch_add(&t->taken, 1);
	}
}

TEST(tickets_count_every_item)
{
	static struct tickets t;
	memset(&t, 0, sizeof t);
	t.per_producer = getenv("GRACE_TEST_SLOW") ? 5000 : 30000;
	ASSERT_RC(grace_stop_new(&t.stop, NULL), 0);
	pthread_t ps[TP], cs[TC];
	start_threads(cs, TC, ticket_consumer, &t, 0);
	start_threads(ps, TP, ticket_producer, &t, 0);
	long all = TP * t.per_producer;
	WAIT_UNTIL_MS(atomic_load(&t.taken) == all, 60000);
	join_threads(ps, TP);
	ASSERT_RC(grace_stop_request(t.stop, 1), 1);
	join_threads(cs, TC);
	ASSERT_EQ(atomic_load(&t.taken), all);
	ASSERT_EQ(atomic_load(&t.word), 0);
	ASSERT_EQ(grace__word_waiters((const uint32_t *)&t.word, false), 0);
	ASSERT_LE(atomic_load(&t.woken_total), all);
	ASSERT_RC(grace_stop_free(t.stop), 0);
}

TEST_LIST(T(misuse), T(word_differs_returns_at_once), T(stop_already_requested_wins), T(past_deadline_is_a_try),
          T(real_timeout), T(wake_without_waiters_wakes_nothing), T(wake_counts_exactly),
          T(wake_without_change_waits_again), T(stop_ends_64_waiters), T(wake_all_64_waiters),
          T(pingpong_counts_every_round), T(tickets_count_every_item))
