/* SPDX-License-Identifier: MIT */
/*
 * engine_test.c - shutdown races replayed exactly, on a fake sleep engine.
 *
 * The fake engine (tests/fake_engine.h, installed with
 * grace__engine_install) keeps its own clock, which only the test moves,
 * and holds every sleeper until the test releases it with the result the
 * real engine would have given (0: woken, -ETIMEDOUT: its deadline
 * passed). It records each sleep and each wake. So a test can put a deadline, a stop request
 * and an item in the order it chooses, around a sleeper that is really
 * asleep, and assert the exact answer, with no real sleeping and no timing
 * slack. Each race runs twice: once with an engine that watches the stop's
 * word (as futex_waitv does) and once with one that does not (as the lot
 * does, which the wait core then reaches through a stop callback).
 */
#include "internal.h"
#include "test.h"

#include "fake_engine.h"

/* ---- the calls under test, each in a thread of its own ---- */

enum op { GET, SLEEP, EVENT };

struct call {
	enum op op;
	grace_queue *q;
	grace_event *ev;
	grace_stop *stop;
	grace_deadline d;
	void *item;
	int rc;
	pthread_t t;
};

static void *run_call(void *arg)
{
	struct call *c = arg;
	switch (c->op) {
	case GET: c->rc = grace_queue_get(c->q, &c->item, c->stop, c->d); break;
	case SLEEP: c->rc = grace_sleep(c->stop, c->d); break;
	case EVENT: c->rc = grace_event_wait(c->ev, c->stop, c->d); break;
	}
	return NULL;
}

static void call_start(struct call *c)
{
	start_threads(&c->t, 1, run_call, c, sizeof *c);
}

static int call_join(struct call *c)
{
	pthread_join(c->t, NULL);
	return c->rc;
}

/* The word the engine sees woken when the stop is requested: the stop's
 * own with an engine that watches it, the object's through the callback. */
static _Atomic uint32_t *request_wakes(const struct grace__engine *e, grace_stop *s, _Atomic uint32_t *obj)
{
	return e->watches_stop ? &s->flag.word : obj;
}

/* The deadline passes and the stop is requested before the sleeper runs
 * again: the stop wins, though the engine answered -ETIMEDOUT. Then the
 * other order: the sleeper sees its deadline first and returns
 * -ETIMEDOUT, and a request after that changes nothing. */
TEST(queue_get_deadline_and_stop_in_either_order)
{
	for (size_t k = 0; k < 2; k++) {
		for (int stop_first = 1; stop_first >= 0; stop_first--) {
			fake_install(fakes[k]);
			grace_queue *q;
			grace_stop *s;
			ASSERT_RC(grace_queue_new(&q, 0), 0);
			ASSERT_RC(grace_stop_new(&s, NULL), 0);
			struct call c = {.op = GET, .q = q, .stop = s, .d = grace_after_ms(100)};
			ASSERT_EQ(c.d, T0 + 100 * MS);
			call_start(&c);
			until_asleep(1);
			ASSERT_EQ(fk.d, T0 + 100 * MS); /* the caller's deadline, unchanged */
			ASSERT_EQ(fk.sw != NULL, true);
			atomic_store(&fk.now, c.d); /* the deadline, to the nanosecond */
			if (stop_first) {
				ASSERT_RC(grace_stop_request(s, 7), 1);
				ASSERT_EQ(wakes_of(request_wakes(fakes[k], s, fk.w)), 1);
				release(-ETIMEDOUT);
				ASSERT_RC(call_join(&c), -ECANCELED);
			} else {
				release(-ETIMEDOUT);
				ASSERT_RC(call_join(&c), -ETIMEDOUT);
				ASSERT_RC(grace_stop_request(s, 7), 1);
				/* The callback is gone: the object is not woken.
				 * (SLEEPERS stays set in the stop's word, by
				 * design, so the stop's own word may be.) */
				ASSERT_EQ(wakes_of(fk.w), 0);
			}
			ASSERT_EQ(fk.sleeps, 1);
			grace__engine_install(NULL);
			ASSERT_RC(grace_stop_free(s), 0);
			ASSERT_RC(grace_queue_free(q), 0);
		}
	}
}

/* An item arrives and then the stop is requested while the getter sleeps:
 * the stop wins and the item stays in the queue (nothing lost). An item
 * that arrives before the deadline passes wins over the deadline. */
TEST(queue_get_item_against_stop_and_deadline)
{
	static int item;
	for (size_t k = 0; k < 2; k++) {
		for (int with_stop = 1; with_stop >= 0; with_stop--) {
			fake_install(fakes[k]);
			grace_queue *q;
			grace_stop *s;
			ASSERT_RC(grace_queue_new(&q, 0), 0);
			ASSERT_RC(grace_stop_new(&s, NULL), 0);
			struct call c = {.op = GET, .q = q, .stop = s, .d = grace_after_ms(100)};
			call_start(&c);
			until_asleep(1);
			ASSERT_RC(grace_queue_put(q, &item, NULL, GRACE_FOREVER), 0);
			ASSERT_EQ(wakes_of(fk.w), 1); /* the put woke the getter's word */
			if (with_stop)
				ASSERT_RC(grace_stop_request(s, 7), 1);
			atomic_store(&fk.now, c.d + 1);
			release(with_stop ? 0 : -ETIMEDOUT);
			if (with_stop) {
				ASSERT_RC(call_join(&c), -ECANCELED);
				ASSERT_EQ(grace_queue_size(q), 1);
			} else {
				ASSERT_RC(call_join(&c), 0);
				ASSERT_PTR_EQ(c.item, &item);
				ASSERT_EQ(grace_queue_size(q), 0);
			}
			ASSERT_EQ(fk.sleeps, 1);
			grace__engine_install(NULL);
			void *it;
			while (grace_queue_get(q, &it, NULL, 0) == 0)
				;
			ASSERT_RC(grace_stop_free(s), 0);
			ASSERT_RC(grace_queue_free(q), 0);
		}
	}
}

/* A sleep woken spuriously 1 ns before its deadline sleeps again, to the
 * same absolute deadline, and returns 0 exactly when the deadline passes;
 * a deadline equal to now is already past and never sleeps. */
TEST(sleep_to_the_nanosecond)
{
	for (size_t k = 0; k < 2; k++) {
		fake_install(fakes[k]);
		grace_stop *s;
		ASSERT_RC(grace_stop_new(&s, NULL), 0);
		ASSERT_RC(grace_sleep(s, T0), 0);
		ASSERT_RC(grace_sleep(NULL, T0 - 1), 0);
		ASSERT_EQ(fk.sleeps, 0);

		struct call c = {.op = SLEEP, .stop = s, .d = T0 + 80 * MS};
		call_start(&c);
		until_asleep(1);
		ASSERT_EQ(fk.d, c.d);
		atomic_store(&fk.now, c.d - 1);
		release(0);
		until_asleep(2);
		ASSERT_EQ(fk.d, c.d);
		atomic_store(&fk.now, c.d);
		release(-ETIMEDOUT);
		ASSERT_RC(call_join(&c), 0);
		ASSERT_EQ(fk.sleeps, 2);
		ASSERT_EQ(fk.wakes, 0);

		/* The stop requested at the very deadline: the stop wins. */
		c = (struct call){.op = SLEEP, .stop = s, .d = T0 + 200 * MS};
		call_start(&c);
		until_asleep(3);
		atomic_store(&fk.now, c.d);
		ASSERT_RC(grace_stop_request(s, 3), 1);
		release(-ETIMEDOUT);
		ASSERT_RC(call_join(&c), -ECANCELED);
		grace__engine_install(NULL);
		ASSERT_RC(grace_stop_free(s), 0);
	}
}

/* A set that lands after the deadline has passed but before the waiter
 * runs is still seen: the object is reported first. A set after the
 * waiter returned -ETIMEDOUT is not. */
TEST(event_set_against_deadline)
{
	for (size_t k = 0; k < 2; k++) {
		for (int set_first = 1; set_first >= 0; set_first--) {
			fake_install(fakes[k]);
			grace_event ev = GRACE_EVENT_INIT;
			grace_stop *s;
			ASSERT_RC(grace_stop_new(&s, NULL), 0);
			struct call c = {.op = EVENT, .ev = &ev, .stop = s, .d = grace_after_ms(30)};
			call_start(&c);
			until_asleep(1);
			ASSERT_PTR_EQ(fk.w, &ev.word);
			atomic_store(&fk.now, c.d);
			if (set_first) {
				grace_event_set(&ev);
				ASSERT_EQ(wakes_of(&ev.word), 1);
			}
			release(-ETIMEDOUT);
			ASSERT_RC(call_join(&c), set_first ? 0 : -ETIMEDOUT);
			grace__engine_install(NULL);
			ASSERT_RC(grace_event_destroy(&ev), 0);
			ASSERT_RC(grace_stop_free(s), 0);
		}
	}
}

/* With an engine that watches words, a child stop's sleeper sleeps on its
 * parent's word too, and the parent's request is one wake of that word. */
TEST(parent_request_is_one_wake_of_the_parent)
{
	fake_install(&fake_words);
	grace_stop *p, *s;
	ASSERT_RC(grace_stop_new(&p, NULL), 0);
	ASSERT_RC(grace_stop_new(&s, p), 0);
	struct call c = {.op = SLEEP, .stop = s, .d = GRACE_FOREVER};
	call_start(&c);
	until_asleep(1);
	ASSERT_PTR_EQ(fk.pw, &p->flag.word);
	ASSERT_EQ(fk.d, GRACE_FOREVER);
	ASSERT_RC(grace_stop_request(p, 5), 1);
	ASSERT_EQ(wakes_of(&p->flag.word), 1);
	release(0);
	ASSERT_RC(call_join(&c), -ECANCELED);
	ASSERT_EQ(grace_stop_reason(s), 5);
	grace__engine_install(NULL);
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_RC(grace_stop_free(p), 0);
}

/* The engine chosen at load is back after a test's, and is one of the
 * two real ones. */
TEST(install_null_restores_the_engine_chosen_at_load)
{
	const struct grace__engine *e = grace__engine_get();
	ASSERT_PTR_EQ(e, grace__os_engine());
	fake_install(&fake_bit);
	ASSERT_EQ(grace_now(), T0);
	grace__engine_install(NULL);
	ASSERT_PTR_EQ(grace__engine_get(), e);
	ASSERT_GT(grace_now(), 0);
	const char *env = getenv("GRACE_NO_FUTEX_WAITV");
	if (env != NULL && env[0] == '1')
		ASSERT_STR_EQ(e->name, "lot");
}

TEST_LIST(T(queue_get_deadline_and_stop_in_either_order), T(queue_get_item_against_stop_and_deadline),
          T(sleep_to_the_nanosecond), T(event_set_against_deadline), T(parent_request_is_one_wake_of_the_parent),
          T(install_null_restores_the_engine_chosen_at_load))
