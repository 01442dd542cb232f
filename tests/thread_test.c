/* SPDX-License-Identifier: MIT */
/*
 * thread_test.c - grace threads: start, stop, join with a deadline, abandon,
 * cleanup handlers on every way out, blocked-on records, misuse.
 */
#include "internal.h"
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>


/* Wait until every thread state the library allocated has been freed:
 * abandoned threads free their own when they end. */
static void wait_states(long want)
{
	WAIT_UNTIL(atomic_load(&grace__thread_states) == want);
}

static int return_arg(grace_stop *stop, void *arg)
{
	(void)stop;
	return (int)(intptr_t)arg;
}

TEST(start_join_result)
{
	long base = atomic_load(&grace__thread_states);
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "plain", return_arg, (void *)(intptr_t)42, NULL), 0);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 42);
	ASSERT_RC(grace_thread_start(&t, "plain", return_arg, (void *)(intptr_t)-7, NULL), 0);
	ASSERT_RC(grace_thread_join(t, grace_after_ms(10000), NULL), 0);
	wait_states(base);
}

struct names {
	char os[32];
	grace_thread *self;
	grace_stop *stop;
};

static int record_names(grace_stop *stop, void *arg)
{
	struct names *n = arg;
	pthread_getname_np(pthread_self(), n->os, sizeof n->os);
	n->self = grace_thread_self();
	n->stop = stop;
	return 0;
}

TEST(name_reaches_os_truncated)
{
	struct names n = {{0}, NULL, NULL};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "a-rather-long-thread-name-for-reports", record_names, &n, NULL), 0);
	grace_stop *s = grace_thread_get_stop(t);
	ASSERT_TRUE(s != NULL);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
#ifdef __linux__
	ASSERT_STR_EQ(n.os, "a-rather-long-t");
#endif
	ASSERT_PTR_EQ(n.self, t);
	ASSERT_PTR_EQ(n.stop, s);
	ASSERT_TRUE(grace_thread_self() == NULL);

	ASSERT_RC(grace_thread_start(&t, NULL, record_names, &n, NULL), 0); /* NULL name: "thread" */
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
#ifdef __linux__
	ASSERT_STR_EQ(n.os, "thread");
#endif
}

struct blocker {
	grace_event ev;
	atomic_int started;
	atomic_int release; /* for threads that ignore their stop */
	atomic_int finished;
	int reason;
};

static int sleep_until_stopped(grace_stop *stop, void *arg)
{
	struct blocker *b = arg;
	atomic_fetch_add(&b->started, 1);
	int r = grace_sleep(stop, GRACE_FOREVER);
	b->reason = grace_stop_reason(stop);
	return r;
}

TEST(stop_reaches_thread)
{
	struct blocker b = {0};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "sleeper", sleep_until_stopped, &b, NULL), 0);
	WAIT_UNTIL(atomic_load(&b.started) == 1);
	ASSERT_RC(grace_thread_stop(t, 0), -EINVAL);
	ASSERT_RC(grace_thread_stop(t, -3), -EINVAL);
	ASSERT_RC(grace_thread_stop(t, 5), 1);
	ASSERT_RC(grace_thread_stop(t, 6), 0);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -ECANCELED);
	ASSERT_EQ(b.reason, 5);
}

TEST(parent_stop_reaches_thread)
{
	grace_stop *parent;
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	struct blocker b = {0};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "child", sleep_until_stopped, &b, parent), 0);
	WAIT_UNTIL(atomic_load(&b.started) == 1);
	ASSERT_RC(grace_stop_free(parent), -EBUSY); /* the thread's stop is its child */
	ASSERT_RC(grace_stop_request(parent, 11), 1);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -ECANCELED);
	ASSERT_EQ(b.reason, 11);
	ASSERT_RC(grace_stop_free(parent), 0);

	/* Started under a parent already requested: the stop starts requested. */
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	ASSERT_RC(grace_stop_request(parent, 12), 1);
	ASSERT_RC(grace_thread_start(&t, "late", sleep_until_stopped, &b, parent), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -ECANCELED);
	ASSERT_EQ(b.reason, 12);
	ASSERT_RC(grace_stop_free(parent), 0);
}

/* Ignores its stop: spins (yielding) until the test releases it. */
static int ignore_stop(grace_stop *stop, void *arg)
{
	(void)stop;
	struct blocker *b = arg;
	atomic_fetch_add(&b->started, 1);
	while (!atomic_load(&b->release))
		sched_yield();
	atomic_fetch_add(&b->finished, 1);
	return 77;
}

TEST(join_timeout_then_join)
{
	struct blocker b = {0};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "stubborn", ignore_stop, &b, NULL), 0);
	WAIT_UNTIL(atomic_load(&b.started) == 1);
	ASSERT_RC(grace_thread_stop(t, 1), 1);
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_thread_join(t, t0 + 100 * 1000000, NULL), -ETIMEDOUT);
	int64_t took = grace_now() - t0;
	ASSERT_GE(took, 100 * 1000000);
	ASSERT_LE(took, (100 + test_slack_ms()) * 1000000);
	/* A try at once is still a timeout, and the handle stays valid. */
	ASSERT_RC(grace_thread_join(t, grace_now(), NULL), -ETIMEDOUT);
	ASSERT_TRUE(grace_thread_get_stop(t) != NULL);
	atomic_store(&b.release, 1);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 77);
}

TEST(try_join_completes_when_exited)
{
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "quick", return_arg, (void *)(intptr_t)3, NULL), 0);
	/* A deadline in the past is a try: -ETIMEDOUT until the thread has
	 * exited, then it completes. */
	int result = 0, r;
	while ((r = grace_thread_join(t, 0, &result)) == -ETIMEDOUT)
		sched_yield();
	ASSERT_RC(r, 0);
	ASSERT_EQ(result, 3);
}

TEST(abandon_running_then_it_frees_itself)
{
	long base = atomic_load(&grace__thread_states);
	grace_stop *parent;
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	struct blocker b = {0};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "abandoned", ignore_stop, &b, parent), 0);
	WAIT_UNTIL(atomic_load(&b.started) == 1);
	ASSERT_RC(grace_thread_abandon(t), 0);
	/* The parent was not requested: the stop stays its child. */
	ASSERT_RC(grace_stop_free(parent), -EBUSY);
	atomic_store(&b.release, 1);
	wait_states(base);
	ASSERT_RC(grace_stop_free(parent), 0);
}

TEST(abandon_cuts_requested_parent)
{
	long base = atomic_load(&grace__thread_states);
	grace_stop *parent;
	ASSERT_RC(grace_stop_new(&parent, NULL), 0);
	struct blocker b = {0};
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "abandoned", ignore_stop, &b, parent), 0);
	WAIT_UNTIL(atomic_load(&b.started) == 1);
	ASSERT_RC(grace_stop_request(parent, 4), 1);
	ASSERT_RC(grace_thread_abandon(t), 0);
	ASSERT_RC(grace_stop_free(parent), 0); /* while the thread still runs */
	atomic_store(&b.release, 1);
	wait_states(base);
}

TEST(abandon_after_exit)
{
	long base = atomic_load(&grace__thread_states);
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "gone", return_arg, NULL, NULL), 0);
	WAIT_UNTIL(atomic_load(&t->state) & GRACE__T_RELEASED);
	ASSERT_RC(grace_thread_abandon(t), 0);
	ASSERT_EQ(atomic_load(&grace__thread_states), base); /* freed by the abandon */
}

static void *join_in_helper(void *arg)
{
	grace_thread *t = arg;
	int result = 0;
	int r = grace_thread_join(t, GRACE_FOREVER, &result);
	return (void *)(intptr_t)(r == 0 ? result : r);
}

static int join_self(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return grace_thread_join(grace_thread_self(), grace_now(), NULL);
}

TEST(misuse)
{
	grace_thread *t;
	grace_thread_opts o = {0};
	ASSERT_RC(grace_thread_start(NULL, "x", return_arg, NULL, NULL), -EINVAL);
	ASSERT_RC(grace_thread_start(&t, "x", NULL, NULL, NULL), -EINVAL);
	o.reserved[3] = 1;
	ASSERT_RC(grace_thread_start_opts(&t, "x", return_arg, NULL, NULL, &o), -EINVAL);
	o.reserved[3] = 0;
	o.stack_size = 1;
	ASSERT_RC(grace_thread_start_opts(&t, "x", return_arg, NULL, NULL, &o), -EINVAL);
	ASSERT_RC(grace_thread_join(NULL, GRACE_FOREVER, NULL), -EINVAL);
	ASSERT_RC(grace_thread_abandon(NULL), -EINVAL);
	ASSERT_RC(grace_thread_stop(NULL, 1), -EINVAL);
	ASSERT_TRUE(grace_thread_get_stop(NULL) == NULL);
	ASSERT_RC(grace_defer(NULL, NULL), -EINVAL);

	/* Join twice. */
	ASSERT_RC(grace_thread_start(&t, "x", return_arg, NULL, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), -EINVAL);
	ASSERT_RC(grace_thread_abandon(t), -EINVAL);
	ASSERT_RC(grace_thread_stop(t, 1), -EINVAL);

	/* Join after abandon, abandon twice, on a thread still running. */
	struct blocker b = {0};
	ASSERT_RC(grace_thread_start(&t, "x", ignore_stop, &b, NULL), 0);
	ASSERT_RC(grace_thread_abandon(t), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), -EINVAL);
	ASSERT_RC(grace_thread_abandon(t), -EINVAL);
	ASSERT_RC(grace_thread_stop(t, 1), -EINVAL);
	ASSERT_TRUE(grace_thread_get_stop(t) == NULL);
	atomic_store(&b.release, 1);
	WAIT_UNTIL(atomic_load(&b.finished) == 1); /* b lives on this stack */

	/* A join while another join waits; an abandon then too. */
	struct blocker b2 = {0};
	ASSERT_RC(grace_thread_start(&t, "x", ignore_stop, &b2, NULL), 0);
	pthread_t helper;
	ASSERT_EQ(pthread_create(&helper, NULL, join_in_helper, t), 0);
	WAIT_UNTIL(atomic_load(&t->state) & GRACE__T_BUSY);
	ASSERT_RC(grace_thread_join(t, grace_now(), NULL), -EINVAL);
	ASSERT_RC(grace_thread_abandon(t), -EINVAL);
	atomic_store(&b2.release, 1);
	void *hr;
	pthread_join(helper, &hr);
	ASSERT_EQ((intptr_t)hr, 77);

	/* A thread joining itself would never return. */
	int result = 0;
	ASSERT_RC(grace_thread_start(&t, "x", join_self, NULL, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -EINVAL);
}

/* ---- cleanup handlers ---- */

struct trail {
	char log[128];
	atomic_int len;
	atomic_int runs[8];
};

static struct trail trail;

static void note(void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&trail.runs[i], 1);
	trail.log[atomic_fetch_add(&trail.len, 1)] = (char)('0' + i);
}

static void reset_trail(void)
{
	memset(&trail, 0, sizeof trail);
}

static int defer_three_then(grace_stop *stop, void *arg)
{
	int how = (int)(intptr_t)arg;
	for (int i = 1; i <= 3; i++)
		if (grace_defer(note, (void *)(intptr_t)i) != 0)
			return -100;
	switch (how) {
	case 0:
		return 5;
	case 1:
		grace_thread_exit(6);
	case 2:
		return grace_sleep(stop, GRACE_FOREVER); /* until stopped */
	default:
		pthread_exit(NULL);
	}
}

static void check_trail(const char *want)
{
	WAIT_UNTIL(atomic_load(&trail.len) == (int)strlen(want));
	trail.log[atomic_load(&trail.len)] = '\0';
	ASSERT_STR_EQ(trail.log, want);
	for (int i = 0; i < 8; i++)
		ASSERT_LE(atomic_load(&trail.runs[i]), 1);
}

TEST(defer_lifo_on_every_way_out)
{
	int want[] = {5, 6, -ECANCELED, 0};
	for (int how = 0; how < 4; how++) {
		reset_trail();
		grace_thread *t;
		ASSERT_RC(grace_thread_start(&t, "defer", defer_three_then, (void *)(intptr_t)how, NULL), 0);
		if (how == 2) {
			WAIT_UNTIL(grace__blocked_op(&t->blocked) != NULL); /* asleep in grace_sleep */
			ASSERT_RC(grace_thread_stop(t, 1), 1);
		}
		int result = 0;
		ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
		ASSERT_EQ(result, want[how]);
		check_trail("321");
	}
}

static void exit_from_handler(void *arg)
{
	note(arg);
	grace_thread_exit(99);
}

static void push_from_handler(void *arg)
{
	note(arg);
	grace_defer(note, (void *)(intptr_t)5);
}

static int nested_exits(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	grace_defer(note, (void *)(intptr_t)1);
	grace_defer(exit_from_handler, (void *)(intptr_t)2);
	grace_defer(push_from_handler, (void *)(intptr_t)3);
	grace_defer(exit_from_handler, (void *)(intptr_t)4);
	grace_thread_exit(8);
}

TEST(defer_none_runs_twice)
{
	reset_trail();
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "nested", nested_exits, NULL, NULL), 0);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 8); /* the first result sticks */
	check_trail("43521");
}

static int many_defers(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	for (int i = 0; i < 100; i++)
		if (grace_defer(note, (void *)(intptr_t)0) != 0)
			return -1;
	return 0;
}

TEST(defer_many)
{
	reset_trail();
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "many", many_defers, NULL, NULL), 0);
	int result = 1;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 0);
	ASSERT_EQ(atomic_load(&trail.runs[0]), 100);
}

static void *raw_thread(void *arg)
{
	(void)arg;
	int r = grace_defer(note, NULL);
	if (r != -EINVAL)
		return (void *)1;
	grace_thread_exit(3); /* outside a grace thread: pthread_exit */
	return (void *)2;
}

TEST(defer_and_exit_outside_grace_thread)
{
	ASSERT_RC(grace_defer(note, NULL), -EINVAL);
	pthread_t p;
	ASSERT_EQ(pthread_create(&p, NULL, raw_thread, NULL), 0);
	void *ret = (void *)3;
	pthread_join(p, &ret);
	ASSERT_TRUE(ret == NULL);
}

/* ---- blocked-on records ---- */

struct rec {
	grace_event ev;
	grace_event go;
	uint32_t seq_before, seq_after;
};

static int wait_events(grace_stop *stop, void *arg)
{
	struct rec *r = arg;
	/* A wait that does not sleep writes no record. */
	r->seq_before = atomic_load(&grace__self_blocked->seq);
	int rc = grace_event_wait(&r->go, stop, GRACE_FOREVER);
	r->seq_after = atomic_load(&grace__self_blocked->seq);
	if (rc != 0)
		return rc;
	return grace_event_wait(&r->ev, stop, GRACE_FOREVER);
}

TEST(blocked_record)
{
	struct rec r;
	memset(&r, 0, sizeof r);
	grace_event_set(&r.go);
	grace_thread *t;
	int64_t t0 = grace_now();
	ASSERT_RC(grace_thread_start(&t, "recorder", wait_events, &r, NULL), 0);
	WAIT_UNTIL(grace__blocked_op(&t->blocked) != NULL); /* in the second wait */
	const char *op, *name;
	int64_t since;
	grace__blocked_read(&t->blocked, &op, &name, &since);
	ASSERT_STR_EQ(op, "event_wait");
	ASSERT_GE(since, t0);
	ASSERT_LE(since, grace_now());

	/* The registry prints the thread's full name and what it waits in. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_TRUE(f != NULL);
	grace__threads_print(f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "recorder") != NULL);
	ASSERT_TRUE(strstr(buf, "blocked in event_wait") != NULL);
	free(buf);

	ASSERT_RC(grace_thread_stop(t, 1), 1);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -ECANCELED);
	ASSERT_EQ(r.seq_after, r.seq_before); /* read after the join, which orders them */
}

static int join_other(grace_stop *stop, void *arg)
{
	(void)stop;
	return grace_thread_join(arg, GRACE_FOREVER, NULL);
}

TEST(join_records_and_print)
{
	struct blocker b = {0};
	grace_thread *inner, *outer;
	ASSERT_RC(grace_thread_start(&inner, "inner-with-a-name-longer-than-fifteen", ignore_stop, &b, NULL), 0);
	ASSERT_RC(grace_thread_start(&outer, "outer", join_other, inner, NULL), 0);
	WAIT_UNTIL(grace__blocked_op(&outer->blocked) != NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	grace__threads_print(f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "blocked in thread_join on 'inner-with-a-name-longer-than-fifteen'") != NULL);
	ASSERT_TRUE(strstr(buf, "running its own code") != NULL);
	free(buf);
	atomic_store(&b.release, 1);
	int result = 1;
	ASSERT_RC(grace_thread_join(outer, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 0);
}

/* ---- options ---- */

static int report_stack(grace_stop *stop, void *arg)
{
	(void)stop;
	size_t *size = arg;
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return -1;
	pthread_attr_getstacksize(&a, size);
	pthread_attr_destroy(&a);
	return 0;
}

TEST(stack_size_option)
{
	size_t size = 0;
	grace_thread *t;
	ASSERT_RC(grace_thread_start(&t, "default-stack", report_stack, &size, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
	ASSERT_GE(size, 256 * 1024);
	ASSERT_LT(size, 1024 * 1024);
	grace_thread_opts o = {0};
	o.stack_size = 3 * 1024 * 1024 + 1;
	ASSERT_RC(grace_thread_start_opts(&t, "big-stack", report_stack, &size, NULL, &o), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
	ASSERT_GE(size, 3 * 1024 * 1024 + 1);
	ASSERT_RC(grace_thread_start_opts(&t, "null-opts", report_stack, &size, NULL, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, NULL), 0);
}

/* ---- stress ---- */

static atomic_long sum_in;

/* Without its thread-specific key a grace thread could not see a
 * pthread_exit from its function, and its joiner would wait forever: a
 * start that cannot make the key fails with -EAGAIN, and the next one that
 * can goes on as usual. The key is made by the first start in a process, so
 * the test runs itself again in a new process, which uses up the keys
 * before any thread starts. */
TEST(start_fails_without_a_key)
{
	if (getenv("GRACE_TEST_KEYLESS") == NULL) {
		char *argv[] = {"thread_test", "start_fails_without_a_key", NULL};
		char keyless[] = "GRACE_TEST_KEYLESS=1";
		char **env = env_with(keyless);
		posix_spawn_file_actions_t fa; /* the child's "ok" line would repeat ours */
		ASSERT_EQ(posix_spawn_file_actions_init(&fa), 0);
		ASSERT_EQ(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
		/* The path, not /proc/self/exe itself: under valgrind that is the
		 * tool, and only readlink is told the program's path. */
		char self[4096];
		ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
		ASSERT_GT(len, 0);
		self[len] = '\0';
		pid_t pid;
		int r = posix_spawn(&pid, self, &fa, NULL, argv, env);
		posix_spawn_file_actions_destroy(&fa);
		free(env);
		ASSERT_EQ(r, 0);
		int status;
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(WEXITSTATUS(status), 0);
		return;
	}
	static pthread_key_t keys[4096];
	size_t n = 0;
	while (n < sizeof keys / sizeof keys[0] && pthread_key_create(&keys[n], NULL) == 0)
		n++;
	ASSERT_LT(n, sizeof keys / sizeof keys[0]); /* the keys ran out */
	grace_thread *t = (grace_thread *)&t;
	ASSERT_RC(grace_thread_start(&t, "keyless", return_arg, (void *)(intptr_t)3, NULL), -EAGAIN);
	ASSERT_TRUE(t == (grace_thread *)&t); /* nothing made */
	while (n > 0)
		ASSERT_EQ(pthread_key_delete(keys[--n]), 0);
	ASSERT_RC(grace_thread_start(&t, "keyed", return_arg, (void *)(intptr_t)3, NULL), 0);
	int result = 0;
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_EQ(result, 3);
}

static int add_arg(grace_stop *stop, void *arg)
{
	(void)stop;
	atomic_fetch_add(&sum_in, (long)(intptr_t)arg);
	return (int)(intptr_t)arg;
}

TEST(stress_start_join_abandon)
{
	long base = atomic_load(&grace__thread_states);
	enum { ROUNDS = 20, N = 16 };
	long want = 0, got = 0;
	for (int round = 0; round < ROUNDS; round++) {
		grace_thread *t[N];
		for (int i = 0; i < N; i++) {
			int v = round * N + i + 1;
			want += v;
			ASSERT_RC(grace_thread_start(&t[i], "stress", add_arg, (void *)(intptr_t)v, NULL), 0);
		}
		for (int i = 0; i < N; i++) {
			if (i % 4 == 3) {
				/* Abandoned ones still run: count them through sum_in. */
				ASSERT_RC(grace_thread_abandon(t[i]), 0);
				continue;
			}
			int result = 0;
			ASSERT_RC(grace_thread_join(t[i], i % 2 ? GRACE_FOREVER : grace_after_ms(20000), &result), 0);
			ASSERT_EQ(result, round * N + i + 1);
			got += result;
		}
	}
	wait_states(base);
	ASSERT_EQ(atomic_load(&sum_in), want);
	ASSERT_LT(got, want);
}

TEST_LIST(T(start_join_result), T(start_fails_without_a_key), T(name_reaches_os_truncated), T(stop_reaches_thread),
          T(parent_stop_reaches_thread), T(join_timeout_then_join), T(try_join_completes_when_exited),
          T(abandon_running_then_it_frees_itself), T(abandon_cuts_requested_parent), T(abandon_after_exit),
          T(misuse), T(defer_lifo_on_every_way_out), T(defer_none_runs_twice), T(defer_many),
          T(defer_and_exit_outside_grace_thread), T(blocked_record), T(join_records_and_print),
          T(stack_size_option), T(stress_start_join_abandon))
