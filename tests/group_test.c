/* SPDX-License-Identifier: MIT */
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

/* Assert a wait's outcome: its result, the failed thread's name (NULL for
 * none) and the count of threads given up. */
#define ASSERT_OUTCOME(o, want_result, want_failed, want_abandoned)                   \
	do {                                                                          \
		ASSERT_RC((o).result, want_result);                                   \
		const char *want_failed_ = (want_failed);                             \
		if (want_failed_ == NULL)                                             \
			ASSERT_TRUE((o).failed == NULL);                              \
		else                                                                  \
			ASSERT_STR_EQ((o).failed, want_failed_);                      \
		ASSERT_EQ((o).abandoned, want_abandoned);                             \
	} while (0)

/* ---- wait ---- */

static int return_arg(grace_stop *stop, void *arg)
{
	(void)stop;
	return (int)(intptr_t)arg;
}

static int fail_with_5(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return 5;
}

TEST(wait_all_zero)
{
	long base = atomic_load(&grace__thread_states);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "zeros", NULL), 0);
	for (int i = 0; i < 8; i++)
		ASSERT_RC(grace_group_spawn(g, "zero", return_arg, NULL), 0);
	grace_group_outcome o;
	memset(&o, 0xa5, sizeof o);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 0, NULL, 0);
	ASSERT_RC(grace_group_wait(g, grace_now(), NULL), 0); /* nothing left: at once */
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
		ASSERT_RC(grace_group_spawn(g, i == 0 ? "first" : "member", errgroup_member, (void *)(intptr_t)i), 0);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, grace_after_ms(20000), &o), 0);
	ASSERT_OUTCOME(o, 7, "first", 0);
	for (int i = 1; i < 8; i++)
		ASSERT_EQ(atomic_load(&eg.reasons[i]), GRACE_REASON_SIBLING_FAILED);
	ASSERT_EQ(grace_stop_reason(grace_group_get_stop(g)), GRACE_REASON_SIBLING_FAILED);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 7, "first", 0); /* sticky */
	/* Spawning after a failure is allowed: the new thread starts stopped. */
	ASSERT_RC(grace_group_spawn(g, "late", errgroup_member, (void *)(intptr_t)9), 0);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 7, "first", 0);
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
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, -5, "failing", 0);
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
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, t0 + 80 * 1000000, &o), -ETIMEDOUT);
	ASSERT_OUTCOME(o, 0, NULL, 0); /* so far */
	int64_t took = grace_now() - t0;
	ASSERT_GE(took, 80 * 1000000);
	ASSERT_LE(took, (80 + test_slack_ms()) * 1000000);
	/* The quick one was joined, the spinner goes on. */
	ASSERT_EQ(g->nmembers, 1);
	ASSERT_RC(grace_group_free(g), -EBUSY);
	atomic_store(&s.release, 1);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 1, "spinner", 0);
	ASSERT_RC(grace_group_free(g), 0);
}

/* A wait after a shutdown that gave stragglers up says so: they are
 * counted, not taken for threads that returned 0, and what they return
 * later is never heard. (It answered 0, "every thread returned 0", before.) */
TEST(wait_after_shutdown_counts_abandoned)
{
	long base = atomic_load(&grace__thread_states);
	struct stubborn s = {0}, s2 = {0};
	atomic_int started = 0;
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "abandons", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "good", wait_for_stop, &started), 0);
	ASSERT_RC(grace_group_spawn(g, "spinner-1", spinner, &s), 0);
	ASSERT_RC(grace_group_spawn(g, "spinner-2", spinner, &s2), 0);
	WAIT_UNTIL(atomic_load(&started) == 1 && atomic_load(&s.started) == 1 && atomic_load(&s2.started) == 1);
	grace_report *rep = NULL;
	ASSERT_RC(grace_group_shutdown(g, 1, grace_after_ms(50), &rep), -ETIMEDOUT);
	size_t stragglers = 0;
	for (size_t i = 0; i < grace_report_count(rep); i++)
		stragglers += !grace_report_at(rep, i)->exited;
	grace_report_free(rep);
	ASSERT_EQ(stragglers, 2);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 0, NULL, 2); /* the good one returned 0 */
	/* The stragglers return 1 later: never heard. */
	atomic_store(&s.release, 1);
	atomic_store(&s2.release, 1);
	WAIT_UNTIL(atomic_load(&s.finished) == 1 && atomic_load(&s2.finished) == 1);
	wait_states(base);
	ASSERT_RC(grace_group_wait(g, grace_now(), &o), 0);
	ASSERT_OUTCOME(o, 0, NULL, 2);
	ASSERT_RC(grace_group_free(g), 0);
}

static int return_etimedout(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return -ETIMEDOUT;
}

/* A thread that returns -ETIMEDOUT is told apart from the wait's own
 * deadline (they were one code before). */
TEST(thread_etimedout_is_not_the_deadline)
{
	struct stubborn s = {0};
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "times-out", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "timer", return_etimedout, NULL), 0);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, -ETIMEDOUT, "timer", 0);
	/* The wait's own deadline, with the failure so far. */
	ASSERT_RC(grace_group_spawn(g, "spinner", spinner, &s), 0);
	WAIT_UNTIL(atomic_load(&s.started) == 1);
	memset(&o, 0, sizeof o);
	ASSERT_RC(grace_group_wait(g, grace_now(), &o), -ETIMEDOUT);
	ASSERT_OUTCOME(o, -ETIMEDOUT, "timer", 0);
	atomic_store(&s.release, 1);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, -ETIMEDOUT, "timer", 0); /* the first failure stays */
	ASSERT_RC(grace_group_free(g), 0);
}

/* The failed thread's name belongs to the group: it outlives the thread,
 * stays put while longer-named members are spawned, and goes with the
 * group. */
TEST(failed_name_lives_with_the_group)
{
	long base = atomic_load(&grace__thread_states);
	char longname[200], longer[300];
	memset(longname, 'f', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	memset(longer, 'g', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "names", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "short", return_arg, NULL), 0);
	ASSERT_RC(grace_group_spawn(g, longname, fail_with_5, NULL), 0);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 5, longname, 0);
	wait_states(base); /* the thread's own state, with its name, is gone */
	const char *failed = o.failed;
	for (int i = 0; i < 4; i++)
		ASSERT_RC(grace_group_spawn(g, longer, return_arg, NULL), 0);
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_PTR_EQ(o.failed, failed);
	ASSERT_STR_EQ(failed, longname);
	ASSERT_RC(grace_group_free(g), 0);
}

/* ---- a failing member's run of the group's stop callbacks ---- */

/* Whether the member named `name` sleeps in a grace call now. */
static bool member_asleep(grace_group *g, const char *name)
{
	bool asleep = false;
	pthread_mutex_lock(&g->lock);
	struct grace__link *it;
	grace__list_for_each(&g->members, it) {
		grace_thread *t = grace__container_of(it, struct grace__member, link)->thread;
		const char *op, *on;
		int64_t since;
		grace__thread_blocked(t, &op, &on, &since);
		if (strcmp(grace__thread_name(t), name) == 0)
			asleep = op != NULL;
	}
	pthread_mutex_unlock(&g->lock);
	return asleep;
}


static void push_nothing(void *arg)
{
	(void)arg;
}

struct calls_back {
	grace_group *g;
	grace_stop_cb cb;
	atomic_int ran;
	atomic_int in_member; /* it ran in the failing thread, known as itself */
	atomic_int wait_rc, shutdown_rc, free_rc, defer_rc;
};

/* A callback on the group's stop that calls back into the group. Run by the
 * member whose failure requested the stop, on its way out: it is a thread of
 * the group, so it may neither wait for nor shut down its own group. */
static void call_back_into_group(void *arg)
{
	struct calls_back *c = arg;
	grace_thread *self = grace_thread_self();
	atomic_store(&c->in_member, self != NULL && strcmp(self->name, "failing") == 0);
	atomic_store(&c->wait_rc, grace_group_wait(c->g, grace_now(), NULL));
	/* Bounded, so that a tree where this is not refused cannot hang. */
	atomic_store(&c->shutdown_rc, grace_group_shutdown(c->g, 1, grace_after_ms(100), NULL));
	atomic_store(&c->free_rc, grace_group_free(c->g));
	/* Its handlers have run: one pushed now would never run. */
	atomic_store(&c->defer_rc, grace_defer(push_nothing, NULL));
	atomic_store(&c->ran, 1);
}

TEST(failure_callback_calls_back_into_group)
{
	long base = atomic_load(&grace__thread_states);
	static struct calls_back c;
	memset(&c, 0, sizeof c);
	ASSERT_RC(grace_group_new(&c.g, "calls-back", NULL), 0);
	ASSERT_RC(grace_stop_on(grace_group_get_stop(c.g), &c.cb, call_back_into_group, &c), 0);
	ASSERT_RC(grace_group_spawn(c.g, "failing", fail_with_5, NULL), 0);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(c.g, grace_after_ms(20000), &o), 0);
	ASSERT_OUTCOME(o, 5, "failing", 0);
	ASSERT_EQ(atomic_load(&c.ran), 1);
	ASSERT_EQ(atomic_load(&c.in_member), 1);
	ASSERT_RC(atomic_load(&c.wait_rc), -EINVAL);
	ASSERT_RC(atomic_load(&c.shutdown_rc), -EINVAL);
	ASSERT_RC(atomic_load(&c.free_rc), -EBUSY);
	ASSERT_RC(atomic_load(&c.defer_rc), -EINVAL);
	/* The refused calls changed nothing: the group shuts down as usual. */
	ASSERT_RC(grace_stop_off(&c.cb), 0);
	ASSERT_RC(grace_group_shutdown(c.g, 1, GRACE_FOREVER, NULL), 0);
	ASSERT_RC(grace_group_free(c.g), 0);
	wait_states(base);
}

/* grace_thread_exit from a callback that a member's failure ran on the
 * group's stop: the request finishes, the member is counted out with its
 * first result, and the group can be waited for and freed. */
struct exits_in_cb {
	grace_stop_cb exiting, after;
	atomic_int after_ran;
};

static void exit_from_group_cb(void *arg)
{
	(void)arg;
	grace_thread_exit(9);
}

static void count_after(void *arg)
{
	atomic_fetch_add(&((struct exits_in_cb *)arg)->after_ran, 1);
}

TEST(thread_exit_in_a_failure_callback)
{
	long base = atomic_load(&grace__thread_states);
	static struct exits_in_cb x;
	memset(&x, 0, sizeof x);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "exits", NULL), 0);
	/* Newest first: `exiting` runs before `after`. */
	ASSERT_RC(grace_stop_on(grace_group_get_stop(g), &x.after, count_after, &x), 0);
	ASSERT_RC(grace_stop_on(grace_group_get_stop(g), &x.exiting, exit_from_group_cb, NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "failing", fail_with_5, NULL), 0);
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, grace_after_ms(20000), &o), 0);
	ASSERT_OUTCOME(o, 5, "failing", 0);
	ASSERT_EQ(atomic_load(&x.after_ran), 1);
	ASSERT_RC(grace_stop_off(&x.exiting), 0);
	ASSERT_RC(grace_stop_off(&x.after), 0);
	ASSERT_RC(grace_group_free(g), 0);
	wait_states(base);
}

struct slow_cb {
	grace_stop_cb cb;
	grace_event entered, shut;
	atomic_int shut_seen;
};

/* A callback on the group's stop that waits until the test's shutdown has
 * returned. If the failing member ran it under a lock that the shutdown
 * needs, the two would wait for each other: the bound on this wait breaks
 * that, and the test then fails on the shutdown's time. */
static void wait_for_shutdown(void *arg)
{
	struct slow_cb *s = arg;
	grace_event_set(&s->entered);
	atomic_store(&s->shut_seen, grace_event_wait(&s->shut, NULL, grace_after_ms(3000)) == 0);
}

TEST(failure_callback_does_not_hold_up_shutdown)
{
	long base = atomic_load(&grace__thread_states);
	static struct slow_cb s;
	memset(&s, 0, sizeof s);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "slow-callback", NULL), 0);
	ASSERT_RC(grace_stop_on(grace_group_get_stop(g), &s.cb, wait_for_shutdown, &s), 0);
	ASSERT_RC(grace_group_spawn(g, "failing", fail_with_5, NULL), 0);
	ASSERT_RC(grace_event_wait(&s.entered, NULL, grace_after_ms(20000)), 0);
	WAIT_UNTIL(member_asleep(g, "failing"));
	/* The member is still in its callback: a straggler, given up at the
	 * deadline like any other, and reported as blocked where it is. */
	grace_report *rep = NULL;
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_group_shutdown(g, 2, t0 + 100 * 1000000, &rep), -ETIMEDOUT);
	int64_t took = grace_now() - t0;
	ASSERT_GE(took, 100 * 1000000);
	ASSERT_LE(took, (100 + test_slack_ms()) * 1000000);
	ASSERT_EQ(grace_report_count(rep), 1);
	const grace_report_entry *e = grace_report_at(rep, 0);
	ASSERT_STR_EQ(e->name, "failing");
	ASSERT_FALSE(e->exited);
	ASSERT_STR_EQ(e->blocked_op, "event_wait");
	grace_report_free(rep);
	grace_event_set(&s.shut);
	ASSERT_RC(grace_stop_off(&s.cb), 0); /* waits for the callback to return */
	ASSERT_EQ(atomic_load(&s.shut_seen), 1);
	ASSERT_RC(grace_group_free(g), 0);
	wait_states(base);
}

struct pinned {
	grace_group *g;
	grace_stop_cb cb;
	grace_event entered, shut;
	atomic_int saw_freeing, done;
};

static bool group_freeing(grace_group *g)
{
	pthread_mutex_lock(&g->lock);
	bool f = g->freeing;
	pthread_mutex_unlock(&g->lock);
	return f;
}

/* Removes itself (so the group's stop has no callback of the caller's
 * left), then goes on running until grace_group_free sleeps for it. */
static void run_into_free(void *arg)
{
	struct pinned *p = arg;
	(void)grace_stop_off(&p->cb);
	grace_event_set(&p->entered);
	if (grace_event_wait(&p->shut, NULL, grace_after_ms(20000)) != 0)
		return;
	grace_deadline d = grace_after_ms(20000);
	while (!group_freeing(p->g) && grace_now() < d)
		sched_yield();
	atomic_store(&p->saw_freeing, group_freeing(p->g));
	atomic_store(&p->done, 1);
}

/* A member given up while it runs the group's stop callbacks still uses the
 * group: grace_group_free waits for it rather than free the group under it. */
TEST(free_waits_for_a_given_up_failing_member)
{
	long base = atomic_load(&grace__thread_states);
	static struct pinned p;
	memset(&p, 0, sizeof p);
	ASSERT_RC(grace_group_new(&p.g, "pinned", NULL), 0);
	ASSERT_RC(grace_stop_on(grace_group_get_stop(p.g), &p.cb, run_into_free, &p), 0);
	ASSERT_RC(grace_group_spawn(p.g, "failing", fail_with_5, NULL), 0);
	ASSERT_RC(grace_event_wait(&p.entered, NULL, grace_after_ms(20000)), 0);
	ASSERT_RC(grace_group_shutdown(p.g, 2, grace_after_ms(50), NULL), -ETIMEDOUT);
	grace_event_set(&p.shut);
	ASSERT_RC(grace_group_free(p.g), 0);
	ASSERT_EQ(atomic_load(&p.done), 1);
	ASSERT_EQ(atomic_load(&p.saw_freeing), 1);
	wait_states(base);
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
	if (grace_group_wait(g, grace_now(), NULL) != -EINVAL)
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
	grace_group_outcome o = {.result = 99};
	ASSERT_RC(grace_group_wait(NULL, GRACE_FOREVER, &o), -EINVAL);
	ASSERT_EQ(o.result, 99); /* untouched */
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
			ASSERT_RC(e->result, -ESHUTDOWN); /* spawn while shutting down */
		}
	}
	ASSERT_TRUE(saw_thread && saw_spawner);
	grace_report_free(rep);
	ASSERT_RC(grace_group_spawn(g, "after", return_arg, NULL), -ESHUTDOWN);
	ASSERT_RC(grace_group_spawn(g, "after", NULL, NULL), -EINVAL); /* arguments first */
	ASSERT_RC(grace_group_shutdown(g, 1, GRACE_FOREVER, NULL), -EINVAL); /* twice */
	/* The spawner's -ESHUTDOWN was the group's first non-zero result. */
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, -ESHUTDOWN, "spawner", 0);
	ASSERT_RC(grace_group_free(g), 0);
}

/* Spawns racing a shutdown: each answers 0 or -ESHUTDOWN, never anything
 * else; once one answers -ESHUTDOWN every later one does; and every spawn
 * that answered 0 is a thread the shutdown joined and reported. */
struct spawn_race {
	grace_group *g;
	atomic_int spawned; /* spawns that answered 0, all spawners */
	atomic_int ran;     /* members that saw their stop */
	atomic_int bad;     /* an answer other than 0 or -ESHUTDOWN, or 0 after -ESHUTDOWN */
};

static int member_until_stopped(grace_stop *stop, void *arg)
{
	struct spawn_race *r = arg;
	grace_sleep(stop, GRACE_FOREVER);
	atomic_fetch_add(&r->ran, 1);
	return 0;
}

static void *spawn_until_shut(void *arg)
{
	struct spawn_race *r = arg;
	for (int i = 0; i < 100000; i++) {
		int rc = grace_group_spawn(r->g, "racer", member_until_stopped, r);
		if (rc == 0) {
			atomic_fetch_add(&r->spawned, 1);
			continue;
		}
		if (rc != -ESHUTDOWN) {
			atomic_store(&r->bad, rc);
			return NULL;
		}
		/* Shut for good: every later spawn fails the same way. */
		for (int j = 0; j < 3; j++) {
			rc = grace_group_spawn(r->g, "racer", member_until_stopped, r);
			if (rc != -ESHUTDOWN)
				atomic_store(&r->bad, rc == 0 ? 1 : rc);
		}
		return NULL;
	}
	atomic_store(&r->bad, 2); /* never saw the shutdown */
	return NULL;
}

TEST(spawn_racing_shutdown_answers_eshutdown)
{
	long base = atomic_load(&grace__thread_states);
	for (int round = 0; round < 20; round++) {
		struct spawn_race r = {0};
		ASSERT_RC(grace_group_new(&r.g, "race", NULL), 0);
		pthread_t sp[2];
		for (int i = 0; i < 2; i++)
			ASSERT_EQ(pthread_create(&sp[i], NULL, spawn_until_shut, &r), 0);
		/* Shut down while both spawners are busy spawning. */
		WAIT_UNTIL(atomic_load(&r.spawned) >= 4 || atomic_load(&r.bad) != 0);
		grace_report *rep;
		ASSERT_RC(grace_group_shutdown(r.g, 1, grace_after_ms(20000), &rep), 0);
		join_threads(sp, 2);
		ASSERT_EQ(atomic_load(&r.bad), 0);
		/* Every thread the spawns started was held by the shutdown:
		 * joined, reported, and stopped by it. */
		ASSERT_EQ(grace_report_count(rep), atomic_load(&r.spawned));
		ASSERT_EQ(atomic_load(&r.ran), atomic_load(&r.spawned));
		grace_report_free(rep);
		ASSERT_RC(grace_group_spawn(r.g, "late", member_until_stopped, &r), -ESHUTDOWN);
		ASSERT_RC(grace_group_free(r.g), 0);
	}
	wait_states(base);
}

/* ---- options ---- */

/* The stack the member runs on, by pthread_getattr_np where the C library
 * has it; elsewhere only that it ran (0). */
static int member_stack(grace_stop *stop, void *arg)
{
	(void)stop;
	size_t *size = arg;
	*size = 0;
#ifdef __GLIBC__
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return -1;
	pthread_attr_getstacksize(&a, size);
	pthread_attr_destroy(&a);
#else
	*size = 1;
#endif
	return 0;
}

/* glibc may hand a new thread a cached stack up to four times the size
 * asked for (its guard page included), and reports the stack it got:
 * hence a range, which still tells 256 KiB from the C library's 8 MiB. */
static void assert_stack_between(size_t size, size_t lo, size_t hi)
{
#ifdef __GLIBC__
	ASSERT_GE(size, lo);
	ASSERT_LE(size, hi);
#else
	(void)lo;
	(void)hi;
	ASSERT_EQ(size, 1);
#endif
}

TEST(spawn_opts_sets_the_member_stack)
{
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "opts", NULL), 0);
	size_t dflt = 0, big = 0, null_opts = 0, zero = 0;
	grace_thread_opts o = {0};
	o.stack_size = 3 * 1024 * 1024 + 1; /* rounded up to the page */
	ASSERT_RC(grace_group_spawn_opts(g, "big", member_stack, &big, &o), 0);
	ASSERT_RC(grace_group_spawn(g, "default", member_stack, &dflt), 0);
	ASSERT_RC(grace_group_spawn_opts(g, "null-opts", member_stack, &null_opts, NULL), 0);
	o.stack_size = 0; /* zeroed options: the defaults */
	ASSERT_RC(grace_group_spawn_opts(g, "zero", member_stack, &zero, &o), 0);
	grace_group_outcome out;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &out), 0);
	ASSERT_OUTCOME(out, 0, NULL, 0);
	assert_stack_between(big, 3 * 1024 * 1024 + 1, 4 * (3 * 1024 * 1024 + 65536));
	/* The library's default, 256 KiB, for the three others (not the C
	 * library's 8 MiB). */
	assert_stack_between(dflt, 256 * 1024, 4 * (256 * 1024 + 65536));
	assert_stack_between(null_opts, 256 * 1024, 4 * (256 * 1024 + 65536));
	assert_stack_between(zero, 256 * 1024, 4 * (256 * 1024 + 65536));
	ASSERT_RC(grace_group_free(g), 0);
}

TEST(spawn_opts_misuse)
{
	long base = atomic_load(&grace__thread_states);
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "opts", NULL), 0);
	size_t size = 0;
	grace_thread_opts o = {0};
	ASSERT_RC(grace_group_spawn_opts(NULL, "x", member_stack, &size, &o), -EINVAL);
	ASSERT_RC(grace_group_spawn_opts(g, "x", NULL, &size, &o), -EINVAL);
	o.reserved[6] = 1;
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, &o), -EINVAL);
	o.reserved[6] = 0;
	o.stack_size = 1; /* below PTHREAD_STACK_MIN */
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, &o), -EINVAL);
	o.stack_size = SIZE_MAX;
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, &o), -EINVAL);
	/* Nothing was started: the group has no member to wait for. */
	ASSERT_EQ(atomic_load(&grace__thread_states), base);
	grace_group_outcome out;
	ASSERT_RC(grace_group_wait(g, grace_now(), &out), 0);
	ASSERT_OUTCOME(out, 0, NULL, 0);
	ASSERT_RC(grace_group_shutdown(g, 1, GRACE_FOREVER, NULL), 0);
	/* After the shutdown: good options answer -ESHUTDOWN, bad ones still
	 * -EINVAL (arguments first). */
	o.stack_size = 0;
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, &o), -ESHUTDOWN);
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, NULL), -ESHUTDOWN);
	o.reserved[0] = 1;
	ASSERT_RC(grace_group_spawn_opts(g, "x", member_stack, &size, &o), -EINVAL);
	ASSERT_RC(grace_group_free(g), 0);
	ASSERT_EQ(size, 0); /* no member ever ran */
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
	grace_group_outcome o;
	ASSERT_RC(grace_group_wait(g, GRACE_FOREVER, &o), 0);
	ASSERT_OUTCOME(o, 0, NULL, 0);
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
	return (void *)(intptr_t)grace_group_wait(arg, GRACE_FOREVER, NULL);
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
          T(wait_timeout_then_wait), T(wait_after_shutdown_counts_abandoned),
          T(thread_etimedout_is_not_the_deadline), T(failed_name_lives_with_the_group), T(failure_callback_calls_back_into_group),
          T(thread_exit_in_a_failure_callback), T(failure_callback_does_not_hold_up_shutdown),
          T(free_waits_for_a_given_up_failing_member), T(shutdown_64_blocked_in_events), T(shutdown_with_stragglers), T(misuse),
          T(spawn_racing_shutdown_answers_eshutdown), T(spawn_opts_sets_the_member_stack), T(spawn_opts_misuse),
          T(parent_stop_and_free_busy), T(stress_wait_and_shutdown_together))
