/* SPDX-License-Identifier: MIT */
/*
 * sleep_test.c - grace_sleep: 0 at the deadline and not before, -ECANCELED
 * the moment the stop is requested, a stop already requested wins over a
 * past deadline, and a sleeping thread burns no CPU.
 */
#include "test.h"

#include "internal.h"

#include "fake_engine.h"

#include <time.h>

static grace_stop *new_stop(void)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

static int64_t ms_since(grace_deadline t0)
{
	return (grace_now() - t0) / 1000000;
}

struct fake_sleeper {
	grace_stop *stop;
	grace_deadline d;
	int rc;
};

static void *fake_sleeper(void *arg)
{
	struct fake_sleeper *z = arg;
	z->rc = grace_sleep(z->stop, z->d);
	return NULL;
}

/* On the fake clock, exactly: a sleep sleeps to its absolute deadline,
 * sleeps again to the same deadline after an early wake-up (1 ns before
 * it), and returns 0 at the first wake-up at or after it. */
TEST(returns_zero_at_deadline)
{
	grace_stop *s = new_stop();
	for (size_t e = 0; e < 2; e++) {
		for (int k = 0; k < 2; k++) {
			fake_install(fakes[e]);
			struct fake_sleeper z = {k ? s : NULL, grace_after_ms(80), -1};
			ASSERT_EQ(z.d, T0 + 80 * MS);
			pthread_t t;
			start_threads(&t, 1, fake_sleeper, &z, sizeof z);
			until_asleep(1);
			ASSERT_EQ(fk.d, z.d);
			atomic_store(&fk.now, z.d - 1);
			release(0); /* early: never returns before the deadline */
			until_asleep(2);
			ASSERT_EQ(fk.d, z.d);
			atomic_store(&fk.now, z.d);
			release(-ETIMEDOUT);
			pthread_join(t, NULL);
			ASSERT_RC(z.rc, 0);
			ASSERT_EQ(fk.sleeps, 2);
			grace__engine_install(NULL);
		}
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* The real engine's timed sleep: never early. (How late is the kernel's
 * business; ctest's timeout catches a sleep that does not end.) */
TEST(real_sleep_is_never_early)
{
	grace_stop *s = new_stop();
	for (int k = 0; k < 2; k++) {
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_sleep(k ? s : NULL, t0 + 20 * 1000000), 0);
		ASSERT_GE(grace_now(), t0 + 20 * 1000000);
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A past deadline, however far back, returns at once: the engine is never
 * asked to sleep. */
TEST(past_deadline_returns_at_once)
{
	fake_install(&fake_words);
	ASSERT_RC(grace_sleep(NULL, T0), 0);
	ASSERT_RC(grace_sleep(NULL, T0 - 1), 0);
	ASSERT_RC(grace_sleep(NULL, 0), 0);
	ASSERT_RC(grace_sleep(NULL, INT64_MIN), 0);
	ASSERT_EQ(fk.sleeps, 0);
	grace__engine_install(NULL);
}

TEST(stop_already_requested_wins)
{
	grace_stop *s = new_stop();
	ASSERT_RC(grace_stop_request(s, 3), 1);
	ASSERT_RC(grace_sleep(s, grace_now() - 1), -ECANCELED);
	ASSERT_RC(grace_sleep(s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_stop_free(s), 0);
}

struct sleeper {
	grace_stop *stop;
	grace_deadline d;
	struct grace__blocked rec;
	int result;
	int64_t cpu_ns;
	grace_deadline returned;
};

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *sleeper_main(void *arg)
{
	struct sleeper *z = arg;
	grace__self_blocked = &z->rec;
	int64_t c0 = thread_cpu_ns();
	z->result = grace_sleep(z->stop, z->d);
	z->cpu_ns = thread_cpu_ns() - c0;
	z->returned = grace_now();
	grace__self_blocked = NULL;
	return NULL;
}

#define SLEEPERS 16

TEST(stop_wakes_every_sleeper_at_once)
{
	grace_stop *s = new_stop();
	struct sleeper z[SLEEPERS];
	for (int i = 0; i < SLEEPERS; i++)
		z[i] = (struct sleeper){.stop = s, .d = i % 2 ? GRACE_FOREVER : grace_after_ms(60000)};
	pthread_t t[SLEEPERS];
	start_threads(t, SLEEPERS, sleeper_main, z, sizeof z[0]);
	/* Handshake: every sleeper has recorded that it sleeps. */
	for (int i = 0; i < SLEEPERS; i++) {
		const char *op = NULL, *name;
		int64_t since;
		WAIT_UNTIL((grace__blocked_read(&z[i].rec, &op, &name, &since), op != NULL));
		ASSERT_STR_EQ(op, "sleep");
	}
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_stop_request(s, 1), 1);
	join_threads(t, SLEEPERS);
	for (int i = 0; i < SLEEPERS; i++) {
		ASSERT_RC(z[i].result, -ECANCELED);
		ASSERT_LT((z[i].returned - t0) / 1000000, test_slack_ms());
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A child's sleep ends when its parent is requested. */
TEST(parent_stop_ends_child_sleep)
{
	grace_stop *parent = new_stop(), *child;
	ASSERT_RC(grace_stop_new(&child, parent), 0);
	struct sleeper z = {.stop = child, .d = GRACE_FOREVER};
	pthread_t t;
	start_threads(&t, 1, sleeper_main, &z, sizeof z);
	const char *op = NULL, *name;
	int64_t since;
	WAIT_UNTIL((grace__blocked_read(&z.rec, &op, &name, &since), op != NULL));
	ASSERT_RC(grace_stop_request(parent, 9), 1);
	join_threads(&t, 1);
	ASSERT_RC(z.result, -ECANCELED);
	ASSERT_EQ(grace_stop_reason(child), 9);
	ASSERT_RC(grace_stop_free(child), 0);
	ASSERT_RC(grace_stop_free(parent), 0);
}

/* A stop deadline (the timer thread) ends a sleep with no deadline. */
TEST(stop_deadline_ends_sleep)
{
	grace_stop *s = new_stop();
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_stop_set_deadline(s, t0 + 50 * 1000000), 0);
	ASSERT_RC(grace_sleep(s, GRACE_FOREVER), -ECANCELED);
	ASSERT_GE(ms_since(t0), 50);
	ASSERT_LE(ms_since(t0), 50 + test_slack_ms());
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_DEADLINE);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Asleep means asleep: 200 ms of sleep costs microseconds of CPU, while a
 * busy loop, or one that re-checks every few microseconds, would cost more
 * than the bound. */
TEST(sleeping_costs_no_cpu)
{
	grace_stop *s = new_stop();
	for (int k = 0; k < 2; k++) {
		struct sleeper z = {.stop = k ? s : NULL, .d = grace_after_ms(200)};
		sleeper_main(&z);
		ASSERT_RC(z.result, 0);
		ASSERT_LT(z.cpu_ns, 20 * 1000000);
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* The engines' word waits take any deadline: one in the past, however
 * far back (a negative one included), times out at once rather than being
 * refused by the system as an invalid time, which a caller would read as a
 * wake-up and loop on. Both the engine chosen at load and the lot, which
 * every platform has, whichever was chosen. */
TEST(platform_waits_time_out_for_any_past_deadline)
{
	static const int64_t past[] = {INT64_MIN, INT64_MIN + 1, -1000000001, -1, 0, 1};
	const struct grace__engine *engines[] = {grace__os_engine(), &grace__lot_engine};
	_Atomic uint32_t w = 0, sw = 0;
	for (size_t k = 0; k < 2; k++) {
		const struct grace__engine *e = engines[k];
		for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
			ASSERT_RC(e->wait(&w, 0, past[i]), -ETIMEDOUT);
			ASSERT_RC(e->wait_stop(&w, 0, &sw, 0, NULL, 0, past[i]), -ETIMEDOUT);
		}
	}
}

TEST_LIST(T(returns_zero_at_deadline), T(real_sleep_is_never_early), T(past_deadline_returns_at_once), T(stop_already_requested_wins),
          T(stop_wakes_every_sleeper_at_once), T(parent_stop_ends_child_sleep), T(stop_deadline_ends_sleep),
          T(sleeping_costs_no_cpu), T(platform_waits_time_out_for_any_past_deadline))
