/*
 * group_test.c - groups: errgroup waits, shutdown by one deadline with a
 * report, stragglers abandoned and freed, misuse.
 */
#include "internal.h"
#include "test.h"

static void wait_states(long want)
{
	WAIT_UNTIL(atomic_load(&grace__thread_states) == want);
}

/* ---- wait ---- */

static int return_arg(grace_stop *stop, void *arg)
{
	(void)stop;
	return (int)(intptr_t)arg;
}

TEST(wait_all_zero)
{
	long base = atomic_load(&grace__thread_states);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "zeros", NULL), 0);
	for (int i = 0; i < 8; i++)
		ASSERT_RC(grace_group_spawn(g, "zero", return_arg, NULL), 0);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), 0);
	ASSERT_RC(grace_group_wait(g, grace_now()), 0); /* nothing left: at once */
	ASSERT_RC(grace_group_free(g), 0);
	wait_states(base);
}

struct errg {
	atomic_int started;
	atomic_int reasons[16];
	atomic_int first_done;
};

static struct errg eg;

/* Thread 0 fails with 7 once all have started; the others sleep until
 * stopped and note the reason. */
static int errgroup_member(grace_stop *stop, void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&eg.started, 1);
	if (i == 0) {
		while (atomic_load(&eg.started) < 8)
			sched_yield();
		return 7;
	}
	int r = grace_sleep(stop, GRACE_FOREVER);
	atomic_store(&eg.reasons[i], grace_stop_reason(stop));
	/* Thread 1 fails too, but later: the first failure is what counts. */
	return i == 1 ? 22 : (r == -ECANCELED ? 0 : -1);
}

TEST(errgroup_first_failure_stops_siblings)
{
	memset(&eg, 0, sizeof eg);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "errgroup", NULL), 0);
	for (int i = 0; i < 8; i++)
		ASSERT_RC(grace_group_spawn(g, "member", errgroup_member, (void *)(intptr_t)i), 0);
	ASSERT_RC(grace_group_wait(g, grace_after_ms(20000)), 7);
	for (int i = 1; i < 8; i++)
		ASSERT_EQ(atomic_load(&eg.reasons[i]), GRACE_REASON_SIBLING_FAILED);
	ASSERT_EQ(grace_stop_reason(grace_group_get_stop(g)), GRACE_REASON_SIBLING_FAILED);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), 7); /* sticky */
	/* Spawning after a failure is allowed: the new thread starts stopped. */
	ASSERT_RC(grace_group_spawn(g, "late", errgroup_member, (void *)(intptr_t)9), 0);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), 7);
	ASSERT_EQ(atomic_load(&eg.reasons[9]), GRACE_REASON_SIBLING_FAILED);
	ASSERT_RC(grace_group_free(g), 0);
}

static int fail_without_waiter(grace_stop *stop, void *arg)
{
	(void)arg;
	(void)stop;
	return -5;
}

static int wait_for_stop(grace_stop *stop, void *arg)
{
	atomic_int *started = arg;
	atomic_fetch_add(started, 1);
	return grace_sleep(stop, GRACE_FOREVER) == -ECANCELED ? 0 : 1;
}

TEST(failure_stops_siblings_without_waiter)
{
	atomic_int started = 0;
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, NULL, NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "sibling", wait_for_stop, &started), 0);
	WAIT_UNTIL(atomic_load(&started) == 1);
	ASSERT_RC(grace_group_spawn(g, "failing", fail_without_waiter, NULL), 0);
	/* Nobody waits, yet the failure stops the group. */
	WAIT_UNTIL(grace_stop_requested(grace_group_get_stop(g)));
	ASSERT_EQ(grace_stop_reason(grace_group_get_stop(g)), GRACE_REASON_SIBLING_FAILED);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), -5);
	ASSERT_RC(grace_group_free(g), 0);
}

struct stubborn {
	atomic_int started;
	atomic_int release;
	atomic_int finished;
	atomic_int reason_after; /* read from the thread's own stop at its end */
	grace_event ev;
};

/* Spins without ever checking its stop, until released. */
static int spinner(grace_stop *stop, void *arg)
{
	struct stubborn *s = arg;
	atomic_fetch_add(&s->started, 1);
	while (!atomic_load(&s->release))
		sched_yield();
	/* Its stop is still valid, even after the group was freed. */
	atomic_store(&s->reason_after, grace_stop_reason(stop));
	atomic_fetch_add(&s->finished, 1);
	return 1;
}

TEST(wait_timeout_then_wait)
{
	struct stubborn s = {0};
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "slow", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "quick", return_arg, NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "spinner", spinner, &s), 0);
	WAIT_UNTIL(atomic_load(&s.started) == 1);
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_group_wait(g, t0 + 80 * 1000000), -ETIMEDOUT);
	int64_t took = grace_now() - t0;
	ASSERT_GE(took, 80 * 1000000);
	ASSERT_LE(took, (80 + test_slack_ms()) * 1000000);
	/* The quick one was joined, the spinner goes on. */
	ASSERT_EQ(g->members, 1);
	ASSERT_RC(grace_group_free(g), -EBUSY);
	atomic_store(&s.release, 1);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), 1);
	ASSERT_RC(grace_group_free(g), 0);
}

/* ---- shutdown ---- */

struct blocked64 {
	grace_event ev;
	atomic_int started;
	atomic_int reasons[64];
};

static struct blocked64 b64;

static int event_member(grace_stop *stop, void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&b64.started, 1);
	int r = grace_event_wait(&b64.ev, stop, GRACE_FOREVER);
	atomic_store(&b64.reasons[i], grace_stop_reason(stop));
	return r == -ECANCELED ? i : -1000;
}

TEST(shutdown_64_blocked_in_events)
{
	long base = atomic_load(&grace__thread_states);
	memset(&b64, 0, sizeof b64);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "events", NULL), 0);
	char name[16];
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof name, "w%d", i);
		ASSERT_RC(grace_group_spawn(g, name, event_member, (void *)(intptr_t)i), 0);
	}
	WAIT_UNTIL(atomic_load(&b64.started) == 64);
	grace_report *rep = NULL;
	grace_deadline t0 = grace_now();
	int64_t budget = 2000 + test_slack_ms();
	ASSERT_RC(grace_group_shutdown(g, 9, t0 + budget * 1000000, &rep), 0);
	int64_t took = grace_now() - t0;
	ASSERT_LT(took, budget * 1000000);
	ASSERT_TRUE(rep != NULL);
	ASSERT_EQ(grace_report_count(rep), 64);
	bool seen[64] = {false};
	for (size_t k = 0; k < 64; k++) {
		const grace_report_entry *e = grace_report_at(rep, k);
		ASSERT_TRUE(e->exited);
		ASSERT_EQ(e->name[0], 'w');
		int i = atoi(e->name + 1);
		ASSERT_TRUE(i >= 0 && i < 64 && !seen[i]);
		seen[i] = true;
		ASSERT_EQ(e->result, i);
		ASSERT_GE(e->stop_ns, 0);
		ASSERT_LE(e->stop_ns, took);
		ASSERT_TRUE(e->blocked_op == NULL);
		ASSERT_EQ(atomic_load(&b64.reasons[i]), 9);
		if (k > 0) /* in the order they exited */
			ASSERT_GE(e->stop_ns, grace_report_at(rep, k - 1)->stop_ns);
	}
	ASSERT_TRUE(grace_report_at(rep, 64) == NULL);
	grace_report_free(rep);
	ASSERT_RC(grace_group_free(g), 0);
	wait_states(base);
}

static int event_no_stop(grace_stop *stop, void *arg)
{
	(void)stop;
	struct stubborn *s = arg;
	atomic_fetch_add(&s->started, 1);
	/* Sleeps in a grace call, but without its stop. */
	int r = grace_event_wait(&s->ev, NULL, GRACE_FOREVER);
	atomic_fetch_add(&s->finished, 1);
	return r;
}

/* Whether the member named `name` sleeps in a grace call now. */
static bool member_asleep(grace_group *g, const char *name)
{
	bool asleep = false;
	pthread_mutex_lock(&g->lock);
	for (grace_thread *t = g->head; t != NULL; t = t->gnext)
		if (strcmp(t->name, name) == 0)
			asleep = grace__blocked_op(&t->blocked) != NULL;
	pthread_mutex_unlock(&g->lock);
	return asleep;
}

TEST(shutdown_with_stragglers)
{
	long base = atomic_load(&grace__thread_states);
	struct stubborn s = {0};
	struct stubborn s2 = {0};
	atomic_int started = 0;
	grace_group *g;
	grace_deadline before_spawn = grace_now();
	ASSERT_RC(grace_group_new(&g, "mixed", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "good-1", wait_for_stop, &started), 0);
	ASSERT_RC(grace_group_spawn(g, "spinner", spinner, &s), 0);
	ASSERT_RC(grace_group_spawn(g, "good-2", wait_for_stop, &started), 0);
	ASSERT_RC(grace_group_spawn(g, "deaf", event_no_stop, &s2), 0);
	WAIT_UNTIL(atomic_load(&started) == 2 && atomic_load(&s.started) == 1 && atomic_load(&s2.started) == 1);
	WAIT_UNTIL(member_asleep(g, "deaf"));
	grace_report *rep = NULL;
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_group_shutdown(g, 3, t0 + 100 * 1000000, &rep), -ETIMEDOUT);
	int64_t took = grace_now() - t0;
	ASSERT_GE(took, 100 * 1000000);
	ASSERT_LE(took, (100 + test_slack_ms()) * 1000000);
	ASSERT_EQ(grace_report_count(rep), 4);

	/* Stragglers first, in spawn order. */
	const grace_report_entry *e = grace_report_at(rep, 0);
	ASSERT_STR_EQ(e->name, "spinner");
	ASSERT_FALSE(e->exited);
	ASSERT_TRUE(e->blocked_op == NULL); /* running its own code */
	ASSERT_TRUE(e->blocked_on == NULL);
	/* Since it started, before the call: at least the whole wait. */
	ASSERT_GE(e->blocked_ns, 100 * 1000000);
	ASSERT_LE(e->blocked_ns, grace_now() - before_spawn);
	e = grace_report_at(rep, 1);
	ASSERT_STR_EQ(e->name, "deaf");
	ASSERT_FALSE(e->exited);
	ASSERT_STR_EQ(e->blocked_op, "event_wait");
	ASSERT_GE(e->blocked_ns, 100 * 1000000);
	for (size_t k = 2; k < 4; k++) {
		e = grace_report_at(rep, k);
		ASSERT_TRUE(e->exited);
		ASSERT_EQ(e->result, 0);
		ASSERT_TRUE(strncmp(e->name, "good-", 5) == 0);
		ASSERT_LT(e->stop_ns, 100 * 1000000);
	}
	grace_report_free(rep);

	/* The stragglers were abandoned: the group frees at once. */
	ASSERT_RC(grace_group_free(g), 0);
	atomic_store(&s.release, 1);
	grace_event_set(&s2.ev);
	WAIT_UNTIL(atomic_load(&s.finished) == 1 && atomic_load(&s2.finished) == 1);
	ASSERT_EQ(atomic_load(&s.reason_after), 3);
	wait_states(base); /* they freed their own state */
}

static int spawn_on_stop(grace_stop *stop, void *arg)
{
	grace_group *g = arg;
	grace_sleep(stop, GRACE_FOREVER);
	/* The group is shutting down now. */
	return grace_group_spawn(g, "too-late", return_arg, NULL);
}

static int join_or_abandon_self(grace_stop *stop, void *arg)
{
	(void)stop;
	grace_group *g = arg;
	if (grace_thread_join(grace_thread_self(), grace_now(), NULL) != -EINVAL)
		return 1;
	if (grace_thread_abandon(grace_thread_self()) != -EINVAL)
		return 2;
	/* A member that waits for its own group would wait for itself. */
	if (grace_group_wait(g, grace_now()) != -EINVAL)
		return 3;
	if (grace_group_shutdown(g, 1, grace_now(), NULL) != -EINVAL)
		return 4;
	return 0;
}

TEST(misuse)
{
	grace_group *g;
	grace_report *rep = (grace_report *)&rep;
	ASSERT_RC(grace_group_new(NULL, "x", NULL), -EINVAL);
	ASSERT_RC(grace_group_spawn(NULL, "x", return_arg, NULL), -EINVAL);
	ASSERT_RC(grace_group_wait(NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_group_shutdown(NULL, 1, GRACE_FOREVER, NULL), -EINVAL);
	ASSERT_RC(grace_group_free(NULL), 0);
	ASSERT_TRUE(grace_group_get_stop(NULL) == NULL);
	ASSERT_EQ(grace_report_count(NULL), 0);
	ASSERT_TRUE(grace_report_at(NULL, 0) == NULL);
	ASSERT_RC(grace_report_print(NULL, stdout), -EINVAL);
	ASSERT_RC(grace_report_json(NULL, stdout), -EINVAL);
	grace_report_free(NULL);

	ASSERT_RC(grace_group_new(&g, NULL, NULL), 0); /* NULL name: "group" */
	ASSERT_RC(grace_group_spawn(g, "x", NULL, NULL), -EINVAL);
	ASSERT_RC(grace_group_spawn(g, NULL, join_or_abandon_self, g), 0); /* NULL name: "thread" */
	ASSERT_RC(grace_group_spawn(g, "spawner", spawn_on_stop, g), 0);
	ASSERT_RC(grace_group_shutdown(g, 0, GRACE_FOREVER, &rep), -EINVAL);
	ASSERT_RC(grace_group_shutdown(g, -2, GRACE_FOREVER, &rep), -EINVAL);
	ASSERT_TRUE(rep == (grace_report *)&rep); /* nothing changed */
	ASSERT_RC(grace_group_shutdown(g, 1, GRACE_FOREVER, &rep), 0);
	ASSERT_STR_EQ(rep->group, "group");
	ASSERT_EQ(grace_report_count(rep), 2);
	bool saw_thread = false, saw_spawner = false;
	for (size_t i = 0; i < 2; i++) {
		const grace_report_entry *e = grace_report_at(rep, i);
		if (strcmp(e->name, "thread") == 0) {
			saw_thread = true;
			ASSERT_EQ(e->result, 0);
		} else {
			saw_spawner = true;
			ASSERT_STR_EQ(e->name, "spawner");
			ASSERT_RC(e->result, -EINVAL); /* spawn while shutting down */
		}
	}
	ASSERT_TRUE(saw_thread && saw_spawner);
	grace_report_free(rep);
	ASSERT_RC(grace_group_spawn(g, "after", return_arg, NULL), -EINVAL);
	ASSERT_RC(grace_group_shutdown(g, 1, GRACE_FOREVER, NULL), -EINVAL); /* twice */
	/* The spawner's -EINVAL was the group's first non-zero result. */
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_group_free(g), 0);
}

TEST(parent_stop_and_free_busy)
{
	grace_stop *parent;
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	atomic_int started = 0;
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "child", parent), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_RC(grace_group_spawn(g, "w", wait_for_stop, &started), 0);
	WAIT_UNTIL(atomic_load(&started) == 4);
	ASSERT_RC(grace_group_free(g), -EBUSY);
	ASSERT_RC(grace_stop_request(parent, 21), 1);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER), 0);
	ASSERT_EQ(grace_stop_reason(grace_group_get_stop(g)), 21);
	ASSERT_RC(grace_group_free(g), 0);
	ASSERT_RC(grace_stop_free(parent), 0);
}

/* Shutdown without a report, with concurrent waiters: every thread is
 * joined once, every item counted. */
static atomic_long done_sum;

static int count_and_wait(grace_stop *stop, void *arg)
{
	grace_sleep(stop, GRACE_FOREVER);
	atomic_fetch_add(&done_sum, (long)(intptr_t)arg);
	return 0;
}

static void *waiter(void *arg)
{
	return (void *)(intptr_t)grace_group_wait(arg, GRACE_FOREVER);
}

TEST(stress_wait_and_shutdown_together)
{
	long base = atomic_load(&grace__thread_states);
	for (int round = 0; round < 10; round++) {
		atomic_store(&done_sum, 0);
		grace_group *g;
		ASSERT_RC(grace_group_new(&g, "stress", NULL), 0);
		long want = 0;
		for (int i = 1; i <= 16; i++) {
			ASSERT_RC(grace_group_spawn(g, "s", count_and_wait, (void *)(intptr_t)i), 0);
			want += i;
		}
		pthread_t w[2];
		for (int i = 0; i < 2; i++)
			ASSERT_EQ(pthread_create(&w[i], NULL, waiter, g), 0);
		grace_report *rep;
		ASSERT_RC(grace_group_shutdown(g, 1, grace_after_ms(20000), &rep), 0);
		void *r;
		for (int i = 0; i < 2; i++) {
			pthread_join(w[i], &r);
			ASSERT_EQ((intptr_t)r, 0);
		}
		/* The report names the ones the shutdown joined; waiters took the rest. */
		ASSERT_LE(grace_report_count(rep), 16);
		grace_report_free(rep);
		ASSERT_EQ(atomic_load(&done_sum), want);
		ASSERT_RC(grace_group_free(g), 0);
	}
	wait_states(base);
}

TEST_LIST(T(wait_all_zero), T(errgroup_first_failure_stops_siblings), T(failure_stops_siblings_without_waiter),
          T(wait_timeout_then_wait), T(shutdown_64_blocked_in_events), T(shutdown_with_stragglers), T(misuse),
          T(parent_stop_and_free_busy), T(stress_wait_and_shutdown_together))
