/* SPDX-License-Identifier: MIT */
/*
 * timer_test.c - the deadline timer (src/timer.c): deadline callbacks run
 * on a full-size stack, never wait on one another, and deadlines work in a
 * forked child. The basic deadline behaviour is in stop_test.c.
 */
#include "test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static grace_stop *new_stop(void)
{
	grace_stop *s = NULL;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

/* Item 7 of docs/reliability.md: a deadline's callbacks run where a request
 * from main would run them, on a stack of the system's default size. */
static void big_stack_cb(void *arg)
{
	volatile char buf[96 * 1024];
	for (size_t i = 0; i < sizeof buf; i += 512)
		buf[i] = (char)i;
	atomic_store((atomic_int *)arg, 1 + buf[512]);
}

TEST(deadline_callback_with_a_big_frame)
{
	grace_stop *s = new_stop();
	atomic_int ran = 0;
	grace_stop_cb cb;
	ASSERT_RC(grace_stop_on(s, &cb, big_stack_cb, &ran), 0);
	ASSERT_RC(grace_stop_set_deadline(s, grace_after_ms(1)), 0);
	WAIT_UNTIL(atomic_load(&ran) != 0);
	ASSERT_RC(grace_stop_off(&cb), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Item 19: one slow deadline callback delays no other deadline, and a
 * deadline callback may wait on another deadline. */
struct slow_cb {
	atomic_int entered, release, left;
};

static void slow_deadline_cb(void *arg)
{
	struct slow_cb *c = arg;
	atomic_store(&c->entered, 1);
	WAIT_UNTIL(atomic_load(&c->release));
	atomic_store(&c->left, 1);
}

struct chained {
	grace_stop *later;
	atomic_int rc, done;
};

static void wait_for_later_cb(void *arg)
{
	struct chained *c = arg;
	grace_event never = GRACE_EVENT_INIT;
	atomic_store(&c->rc, grace_event_wait(&never, c->later, grace_after_ms(20000)));
	atomic_store(&c->done, 1);
}

TEST(deadlines_do_not_wait_on_each_others_callbacks)
{
	grace_stop *slow = new_stop(), *other = new_stop();
	struct slow_cb sc = {0};
	grace_stop_cb cb;
	ASSERT_RC(grace_stop_on(slow, &cb, slow_deadline_cb, &sc), 0);
	ASSERT_RC(grace_stop_set_deadline(slow, grace_after_ms(1)), 0);
	WAIT_UNTIL(atomic_load(&sc.entered));
	/* The slow callback is running now; another deadline still fires on
	 * time (the bound is the usual generous one, far below the 20 s the
	 * callback would hold it). */
	grace_deadline d = grace_after_ms(10);
	ASSERT_RC(grace_stop_set_deadline(other, d), 0);
	grace_event never = GRACE_EVENT_INIT;
	ASSERT_RC(grace_event_wait(&never, other, grace_after_ms(20000)), -ECANCELED);
	ASSERT_LT(grace_now() - d, test_slack_ms() * 1000000LL);
	ASSERT_EQ(atomic_load(&sc.left), 0);

	/* A deadline callback waiting for a later deadline. */
	grace_stop *first = new_stop();
	struct chained ch = {0};
	ch.later = new_stop();
	grace_stop_cb cb2;
	ASSERT_RC(grace_stop_on(first, &cb2, wait_for_later_cb, &ch), 0);
	ASSERT_RC(grace_stop_set_deadline(first, grace_after_ms(1)), 0);
	ASSERT_RC(grace_stop_set_deadline(ch.later, grace_after_ms(20)), 0);
	WAIT_UNTIL(atomic_load(&ch.done));
	ASSERT_EQ(atomic_load(&ch.rc), -ECANCELED);

	atomic_store(&sc.release, 1);
	ASSERT_RC(grace_stop_off(&cb), 0); /* waits for the slow one to return */
	ASSERT_EQ(atomic_load(&sc.left), 1);
	ASSERT_RC(grace_stop_off(&cb2), 0);
	ASSERT_RC(grace_stop_free(slow), 0);
	ASSERT_RC(grace_stop_free(other), 0);
	ASSERT_RC(grace_stop_free(first), 0);
	ASSERT_RC(grace_stop_free(ch.later), 0);
}

/* Item 3: deadlines fire in a forked child of a process that had used one,
 * both those set in the child and those it inherited. */
TEST(deadlines_fire_in_a_forked_child)
{
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer cannot start threads in the child of a threaded
	 * process; every other configuration runs this test. */
	printf("(skipped under ThreadSanitizer) ");
	return;
#endif
	grace_stop *used = new_stop();
	ASSERT_RC(grace_stop_set_deadline(used, grace_after_ms(1)), 0);
	grace_event never = GRACE_EVENT_INIT;
	ASSERT_RC(grace_event_wait(&never, used, grace_after_ms(20000)), -ECANCELED);
	grace_stop *inherited = new_stop();
	ASSERT_RC(grace_stop_set_deadline(inherited, grace_after_ms(50)), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		alarm(20); /* a deadline that never fires is a failure, not a hang */
		grace_stop *mine = NULL;
		if (grace_stop_new(&mine, NULL) != 0)
			_exit(10);
		if (grace_stop_set_deadline(mine, grace_after_ms(20)) != 0)
			_exit(11);
		if (grace_event_wait(&never, mine, grace_after_ms(10000)) != -ECANCELED)
			_exit(12);
		if (grace_stop_reason(mine) != GRACE_REASON_DEADLINE)
			_exit(13);
		if (grace_event_wait(&never, inherited, grace_after_ms(10000)) != -ECANCELED)
			_exit(14);
		_exit(grace_stop_free(mine) == 0 && grace_stop_free(inherited) == 0 ? 0 : 15);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_RC(grace_event_wait(&never, inherited, grace_after_ms(20000)), -ECANCELED);
	ASSERT_RC(grace_stop_free(used), 0);
	ASSERT_RC(grace_stop_free(inherited), 0);
}

TEST_LIST(T(deadline_callback_with_a_big_frame), T(deadlines_do_not_wait_on_each_others_callbacks),
          T(deadlines_fire_in_a_forked_child))
