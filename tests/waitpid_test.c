/* SPDX-License-Identifier: MIT */
/*
 * waitpid_test.c - grace_waitpid: the status of a child that exits or is
 * killed; a child that ignores SIGTERM outlives two deadlines and falls to
 * SIGKILL; a stop from another thread ends a blocked wait; a stop or a
 * deadline leaves every child unreaped, and no call reaps a child it did not
 * select; WNOHANG, WUNTRACED, WCONTINUED, process groups, -ECHILD, misuse.
 *
 * Each test that waits runs on both paths: the pidfd polled beside the
 * stop's descriptor (where the build has it) and the watcher thread (forced
 * with grace__waitpid_no_pidfd, as on a kernel without pidfd_open; the only
 * path of the portable build). Children are forked and block in read(2) on
 * a pipe: the byte the test writes is their exit code, so every exit
 * happens when the test says; 'S' makes one stop itself instead. A waiter
 * counts as blocked once its record says "waitpid" and /proc shows it in a
 * system call.
 */
#include "test.h"

#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef GRACE_HAVE_PIDFD
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#endif

/* ---- children ---- */

enum { STUBBORN = 1, OWN_GROUP = 2 };

struct kid {
	pid_t pid;
	int go; /* write end: a byte is the exit code; 'S' stops the child */
};

static struct kid spawn(int flags)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Async-signal-safe calls only: the parent has threads. */
		close(p[1]);
		if (flags & OWN_GROUP)
			setpgid(0, 0);
		if (flags & STUBBORN) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = SIG_IGN;
			sigaction(SIGTERM, &sa, NULL);
		}
		for (;;) {
			unsigned char c;
			ssize_t n = read(p[0], &c, 1);
			if (n == 1 && c == 'S')
				raise(SIGSTOP);
			else if (n == 1)
				_exit(c);
			else if (n == 0)
				_exit(99);
		}
	}
	close(p[0]);
	if (flags & OWN_GROUP)
		(void)setpgid(pid, pid); /* both sides: no race with the child's */
	return (struct kid){pid, p[1]};
}

static void tell(struct kid k, unsigned char c)
{
	ASSERT_EQ(write(k.go, &c, 1), 1);
}

/* Wait until the child has exited, without reaping it. */
static void wait_zombie(pid_t pid)
{
	siginfo_t si;
	int r;
	while ((r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT)) < 0 && errno == EINTR)
		;
	ASSERT_EQ(r, 0);
}

/* Whether the child is still there to be reaped (or still running): 1
 * running, 2 waitable, 0 gone. Reaps nothing. */
static int presence(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0;
	return si.si_pid == pid ? 2 : 1;
}

/* Kill and reap a child the test is done with. */
static void finish(struct kid k)
{
	kill(k.pid, SIGKILL);
	int st;
	ASSERT_EQ(waitpid(k.pid, &st, 0), k.pid);
	close(k.go);
}

/* ---- waiters ---- */

static pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static long blocked_syscall(pid_t tid)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -2;
	char *ok = fgets(buf, sizeof buf, f);
	fclose(f);
	if (ok == NULL)
		return -2;
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	return strtol(buf, NULL, 10);
}

struct waiter {
	pid_t pid;
	int options;
	grace_stop *stop;
	grace_deadline d;
	struct grace__blocked rec;
	_Atomic pid_t tid;
	_Atomic bool done;
	int status;
	pid_t result;
	grace_deadline ended;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	grace__self_blocked = &w->rec;
	atomic_store(&w->tid, tid_self());
	w->status = -1;
	w->result = grace_waitpid(w->pid, &w->status, w->options, w->stop, w->d);
	w->ended = grace_now();
	grace__self_blocked = NULL;
	atomic_store(&w->done, true);
	return NULL;
}

/* Wait until the waiter sleeps in grace_waitpid. */
static void wait_blocked(struct waiter *w)
{
	const char *op = NULL, *name;
	int64_t since;
	WAIT_UNTIL(atomic_load(&w->done) ||
	           (grace__blocked_read(&w->rec, &op, &name, &since), op != NULL && strcmp(op, "waitpid") == 0));
	ASSERT_FALSE(atomic_load(&w->done));
	pid_t tid = atomic_load(&w->tid);
	long nr;
	WAIT_UNTIL((nr = blocked_syscall(tid)) >= 0 || nr == -2);
}

static grace_stop *new_stop(void)
{
	grace_stop *s = NULL;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

static int64_t ms_since(grace_deadline t0)
{
	return (grace_now() - t0) / 1000000;
}

/* The paths: 0 as the build chooses (the pidfd where it has one), 1 the
 * watcher thread. */
static const char *const path_names[] = {"pidfd", "watcher"};

static void use_path(int path)
{
	atomic_store(&grace__waitpid_no_pidfd, path == 1);
}

/* Whether a wait for one child's exit starts a watcher on this path. */
static bool starts_watcher(int path)
{
#ifdef GRACE_HAVE_PIDFD
	return path == 1;
#else
	(void)path;
	return true;
#endif
}

static long started(void)
{
	return atomic_load(&grace__waitpid_watchers_started);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int n = 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* ---- arguments ---- */

TEST(misuse_answers_einval_and_reaps_nothing)
{
	static struct grace_stop not_a_stop; /* zeroed: no magic */
	struct kid k = spawn(0);
	tell(k, 3);
	wait_zombie(k.pid);
	grace_stop *s = new_stop();
	const int bad_options[] = {-1, 0x40000000, WNOHANG | 0x1000000, 0x80000000 /* __WCLONE */};
	for (int r = 0; r < 2; r++) {
		/* Arguments come before the stop, requested or not. */
		if (r == 1)
			ASSERT_RC(grace_stop_request(s, 1), 1);
		for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
			int st = 12345;
			ASSERT_RC(grace_waitpid(k.pid, &st, bad_options[i], s, GRACE_FOREVER), -EINVAL);
			ASSERT_RC(grace_waitpid(-1, &st, bad_options[i], NULL, INT64_MIN), -EINVAL);
			ASSERT_EQ(st, 12345);
		}
		int st = 12345;
		ASSERT_RC(grace_waitpid(k.pid, &st, 0, &not_a_stop, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_waitpid(k.pid, &st, WNOHANG, &not_a_stop, GRACE_FOREVER), -EINVAL);
		ASSERT_EQ(st, 12345);
	}
	ASSERT_EQ(not_a_stop.magic, 0);
	ASSERT_EQ(presence(k.pid), 2); /* still there to be reaped */
	int st;
	ASSERT_EQ(waitpid(k.pid, &st, 0), k.pid);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	close(k.go);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(echild_for_what_is_no_child)
{
	grace_stop *s = new_stop();
	for (int path = 0; path < 2; path++) {
		use_path(path);
		long w0 = started();
		/* No children at all: every selection. */
		const pid_t sel[] = {-1, 0, -getpgrp(), getppid(), 1, INT_MIN};
		for (size_t i = 0; i < sizeof sel / sizeof sel[0]; i++) {
			int want = sel[i] == INT_MIN ? -ESRCH : -ECHILD;
			ASSERT_RC(grace_waitpid(sel[i], NULL, 0, s, GRACE_FOREVER), want);
			ASSERT_RC(grace_waitpid(sel[i], NULL, WNOHANG, NULL, INT64_MIN), want);
		}
		/* A child reaped already; the parent's pid, with a child about. */
		struct kid k = spawn(0);
		ASSERT_RC(grace_waitpid(getppid(), NULL, 0, s, GRACE_FOREVER), -ECHILD);
		ASSERT_RC(grace_waitpid(getpid(), NULL, 0, s, GRACE_FOREVER), -ECHILD);
		tell(k, 0);
		wait_zombie(k.pid);
		ASSERT_RC(grace_waitpid(k.pid, NULL, 0, s, grace_after_ms(20000)), k.pid);
		ASSERT_RC(grace_waitpid(k.pid, NULL, 0, s, grace_after_ms(20000)), -ECHILD);
		close(k.go);
		/* Decided before any wait: no watcher. */
		ASSERT_EQ(started(), w0);
	}
	use_path(0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- status ---- */

TEST(exit_status_and_signal_status)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		grace_stop *s = new_stop();
		for (int how = 0; how < 3; how++) {
			long w0 = started();
			struct kid k = spawn(0);
			struct waiter w = {.pid = k.pid, .stop = how == 2 ? NULL : s, .d = GRACE_FOREVER};
			pthread_t t;
			start_threads(&t, 1, waiter_main, &w, sizeof w);
			wait_blocked(&w);
			if (how == 0)
				tell(k, 7);
			else
				ASSERT_EQ(kill(k.pid, how == 1 ? SIGTERM : SIGKILL), 0);
			join_threads(&t, 1);
			ASSERT_RC(w.result, k.pid);
			if (how == 0)
				ASSERT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 7);
			else
				ASSERT_TRUE(WIFSIGNALED(w.status) &&
				            WTERMSIG(w.status) == (how == 1 ? SIGTERM : SIGKILL));
			ASSERT_EQ(presence(k.pid), 0);
			ASSERT_EQ(started() - w0, starts_watcher(path));
			close(k.go);
		}
		ASSERT_RC(grace_stop_free(s), 0);
	}
	use_path(0);
}

TEST(exited_child_is_reaped_at_once_even_as_a_try)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		long w0 = started();
		const grace_deadline ds[] = {INT64_MIN, 0, grace_now(), GRACE_FOREVER};
		for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
			struct kid k = spawn(0);
			tell(k, (unsigned char)(10 + i));
			wait_zombie(k.pid);
			int st = -1;
			ASSERT_RC(grace_waitpid(k.pid, &st, 0, NULL, ds[i]), k.pid);
			ASSERT_EQ(WEXITSTATUS(st), 10 + (int)i);
			close(k.go);
			/* NULL status, any child. */
			k = spawn(0);
			tell(k, 1);
			wait_zombie(k.pid);
			ASSERT_RC(grace_waitpid(-1, NULL, 0, NULL, ds[i]), k.pid);
			close(k.go);
		}
		ASSERT_EQ(started(), w0);
	}
	use_path(0);
}

TEST(wnohang)
{
	grace_stop *s = new_stop();
	for (int path = 0; path < 2; path++) {
		use_path(path);
		long w0 = started();
		struct kid k = spawn(0);
		const pid_t sel[] = {k.pid, -1, 0};
		for (size_t i = 0; i < 3; i++) {
			int st = 12345;
			ASSERT_RC(grace_waitpid(sel[i], &st, WNOHANG, s, GRACE_FOREVER), 0);
			ASSERT_RC(grace_waitpid(sel[i], &st, WNOHANG, NULL, INT64_MIN), 0);
			ASSERT_EQ(st, 12345); /* written only with a pid */
		}
		tell(k, 5);
		wait_zombie(k.pid);
		int st = -1;
		ASSERT_RC(grace_waitpid(k.pid, &st, WNOHANG, s, INT64_MIN), k.pid);
		ASSERT_EQ(WEXITSTATUS(st), 5);
		ASSERT_RC(grace_waitpid(k.pid, &st, WNOHANG, s, INT64_MIN), -ECHILD);
		ASSERT_EQ(started(), w0); /* WNOHANG never waits */
		close(k.go);
	}
	use_path(0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- stop and deadline leave the child ---- */

TEST(stop_already_requested_wins_and_reaps_nothing)
{
	grace_stop *s = new_stop();
	ASSERT_RC(grace_stop_request(s, 1), 1);
	struct kid k = spawn(0);
	tell(k, 4);
	wait_zombie(k.pid);
	int st = 12345;
	ASSERT_RC(grace_waitpid(k.pid, &st, 0, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_waitpid(k.pid, &st, WNOHANG, s, INT64_MIN), -ECANCELED);
	ASSERT_RC(grace_waitpid(-1, &st, 0, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_EQ(st, 12345);
	ASSERT_EQ(presence(k.pid), 2);
	ASSERT_RC(grace_waitpid(k.pid, &st, 0, NULL, GRACE_FOREVER), k.pid);
	ASSERT_EQ(WEXITSTATUS(st), 4);
	close(k.go);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(stop_wakes_a_blocked_wait_from_another_thread)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		for (int any = 0; any < 2; any++) {
			struct kid k = spawn(0);
			struct waiter w = {.pid = any ? -1 : k.pid, .stop = new_stop(), .d = grace_after_ms(60000)};
			pthread_t t;
			start_threads(&t, 1, waiter_main, &w, sizeof w);
			wait_blocked(&w);
			grace_deadline t0 = grace_now();
			ASSERT_RC(grace_stop_request(w.stop, 1), 1);
			join_threads(&t, 1);
			ASSERT_RC(w.result, -ECANCELED);
			ASSERT_EQ(w.status, -1);
			ASSERT_LT((w.ended - t0) / 1000000, test_slack_ms());
			/* The child was left alone: it runs, then exits unreaped. */
			ASSERT_EQ(presence(k.pid), 1);
			tell(k, 9);
			wait_zombie(k.pid);
			int st;
			ASSERT_EQ(waitpid(k.pid, &st, 0), k.pid);
			ASSERT_EQ(WEXITSTATUS(st), 9);
			close(k.go);
			ASSERT_RC(grace_stop_free(w.stop), 0);
		}
	}
	use_path(0);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
}

/* The supervisor's sequence: a child that ignores SIGTERM outlives the
 * first deadline and the SIGTERM's, and SIGKILL ends it. */
TEST(child_ignoring_sigterm_until_sigkill)
{
	const int64_t ms = 60;
	grace_stop *s = new_stop();
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid k = spawn(STUBBORN);
		/* It ignores SIGTERM once it has read nothing yet: make sure
		 * its disposition is in place by a round trip through 'S'. */
		tell(k, 'S');
		siginfo_t si;
		ASSERT_EQ(waitid(P_PID, (id_t)k.pid, &si, WSTOPPED | WNOWAIT), 0);
		int st = 12345;
		ASSERT_RC(grace_waitpid(k.pid, &st, WUNTRACED, s, GRACE_FOREVER), k.pid);
		ASSERT_TRUE(WIFSTOPPED(st));
		ASSERT_EQ(kill(k.pid, SIGCONT), 0);

		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_waitpid(k.pid, &st, 0, s, t0 + ms * 1000000), -ETIMEDOUT);
		ASSERT_GE(ms_since(t0), ms);
		ASSERT_LT(ms_since(t0), ms + test_slack_ms());
		ASSERT_EQ(kill(k.pid, SIGTERM), 0);
		t0 = grace_now();
		ASSERT_RC(grace_waitpid(k.pid, &st, 0, s, t0 + ms * 1000000), -ETIMEDOUT);
		ASSERT_GE(ms_since(t0), ms);
		ASSERT_EQ(presence(k.pid), 1); /* alive, unreaped */
		ASSERT_EQ(kill(k.pid, SIGKILL), 0);
		t0 = grace_now();
		ASSERT_RC(grace_waitpid(k.pid, &st, 0, s, grace_after_ms(20000)), k.pid);
		ASSERT_LT(ms_since(t0), test_slack_ms());
		ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		close(k.go);
	}
	use_path(0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(past_deadline_on_a_running_child_is_a_try)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid k = spawn(0);
		long w0 = started();
		int fds = open_fds();
		const pid_t sel[] = {k.pid, -1};
		for (size_t i = 0; i < 2; i++) {
			grace_deadline t0 = grace_now();
			ASSERT_RC(grace_waitpid(sel[i], NULL, 0, NULL, INT64_MIN), -ETIMEDOUT);
			ASSERT_RC(grace_waitpid(sel[i], NULL, 0, NULL, t0), -ETIMEDOUT);
			ASSERT_LT(ms_since(t0), test_slack_ms());
		}
		/* A try starts no thread and opens no descriptor. */
		ASSERT_EQ(started(), w0);
		ASSERT_EQ(open_fds(), fds);
		finish(k);
	}
	use_path(0);
}

/* ---- selection: nothing outside it is reaped ---- */

TEST(a_wait_for_one_child_reaps_no_other)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid a = spawn(0), b = spawn(0);
		struct waiter w = {.pid = a.pid, .d = grace_after_ms(60000), .stop = new_stop()};
		pthread_t t;
		start_threads(&t, 1, waiter_main, &w, sizeof w);
		wait_blocked(&w);
		tell(b, 2);
		wait_zombie(b.pid);
		/* b's exit may wake a watcher; a's waiter must sleep on. */
		grace_deadline until = grace_after_ms(50);
		while (grace_now() < until)
			ASSERT_FALSE(atomic_load(&w.done));
		ASSERT_EQ(presence(b.pid), 2);
		tell(a, 1);
		join_threads(&t, 1);
		ASSERT_RC(w.result, a.pid);
		ASSERT_EQ(WEXITSTATUS(w.status), 1);
		int st;
		ASSERT_EQ(waitpid(b.pid, &st, 0), b.pid);
		ASSERT_EQ(WEXITSTATUS(st), 2);
		close(a.go), close(b.go);
		ASSERT_RC(grace_stop_free(w.stop), 0);
	}
	use_path(0);
}

TEST(any_child_and_process_groups)
{
	grace_stop *s = new_stop();
	/* -1: whichever exits. */
	struct kid a = spawn(OWN_GROUP), b = spawn(0);
	struct waiter w = {.pid = -1, .stop = s, .d = grace_after_ms(60000)};
	pthread_t t;
	start_threads(&t, 1, waiter_main, &w, sizeof w);
	wait_blocked(&w);
	tell(b, 6);
	join_threads(&t, 1);
	ASSERT_RC(w.result, b.pid);
	ASSERT_EQ(WEXITSTATUS(w.status), 6);
	close(b.go);

	/* -pgid: only that group; another child's exit stays unreaped. */
	b = spawn(0);
	tell(b, 8);
	wait_zombie(b.pid);
	grace_deadline t0 = grace_now();
	int st;
	ASSERT_RC(grace_waitpid(-a.pid, &st, 0, s, t0 + 50 * 1000000), -ETIMEDOUT);
	ASSERT_GE(ms_since(t0), 50);
	ASSERT_EQ(presence(b.pid), 2);
	w = (struct waiter){.pid = -a.pid, .stop = s, .d = grace_after_ms(60000)};
	start_threads(&t, 1, waiter_main, &w, sizeof w);
	wait_blocked(&w);
	tell(a, 11);
	join_threads(&t, 1);
	ASSERT_RC(w.result, a.pid);
	ASSERT_EQ(WEXITSTATUS(w.status), 11);
	close(a.go);

	/* 0: the caller's own group, which b is in. */
	ASSERT_RC(grace_waitpid(0, &st, 0, s, GRACE_FOREVER), b.pid);
	ASSERT_EQ(WEXITSTATUS(st), 8);
	close(b.go);
	b = spawn(0);
	w = (struct waiter){.pid = 0, .stop = s, .d = grace_after_ms(60000)};
	start_threads(&t, 1, waiter_main, &w, sizeof w);
	wait_blocked(&w);
	tell(b, 12);
	join_threads(&t, 1);
	ASSERT_RC(w.result, b.pid);
	close(b.go);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(wuntraced_and_wcontinued)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		for (int any = 0; any < 2; any++) {
			struct kid k = spawn(0);
			pid_t sel = any ? -1 : k.pid;
			struct waiter w = {.pid = sel, .options = WUNTRACED, .d = grace_after_ms(60000)};
			pthread_t t;
			start_threads(&t, 1, waiter_main, &w, sizeof w);
			wait_blocked(&w);
			tell(k, 'S');
			join_threads(&t, 1);
			ASSERT_RC(w.result, k.pid);
			ASSERT_TRUE(WIFSTOPPED(w.status) && WSTOPSIG(w.status) == SIGSTOP);
			/* Stopped, reported once: the next wait times out. */
			ASSERT_RC(grace_waitpid(sel, NULL, WUNTRACED, NULL, grace_after_ms(20)), -ETIMEDOUT);
			w = (struct waiter){.pid = sel, .options = WCONTINUED, .d = grace_after_ms(60000)};
			start_threads(&t, 1, waiter_main, &w, sizeof w);
			wait_blocked(&w);
			ASSERT_EQ(kill(k.pid, SIGCONT), 0);
			join_threads(&t, 1);
			ASSERT_RC(w.result, k.pid);
			ASSERT_TRUE(WIFCONTINUED(w.status));
			tell(k, 0);
			int st;
			ASSERT_RC(grace_waitpid(sel, &st, WUNTRACED | WCONTINUED, NULL, grace_after_ms(20000)), k.pid);
			ASSERT_TRUE(WIFEXITED(st));
			close(k.go);
		}
	}
	use_path(0);
}

/* ---- concurrency ---- */

/* Two calls on one child: both wake, one reaps, the other answers -ECHILD;
 * on the watcher path they share one watcher. */
TEST(two_waiters_on_one_child)
{
	for (int path = 0; path < 2; path++) {
		use_path(path);
		long w0 = started();
		struct kid k = spawn(0);
		struct waiter w[2];
		for (int i = 0; i < 2; i++)
			w[i] = (struct waiter){.pid = k.pid, .d = grace_after_ms(60000)};
		pthread_t t[2];
		start_threads(t, 2, waiter_main, w, sizeof w[0]);
		wait_blocked(&w[0]);
		wait_blocked(&w[1]);
		tell(k, 13);
		join_threads(t, 2);
		int winner = w[0].result == k.pid ? 0 : 1;
		ASSERT_RC(w[winner].result, k.pid);
		ASSERT_EQ(WEXITSTATUS(w[winner].status), 13);
		ASSERT_RC(w[1 - winner].result, -ECHILD);
		ASSERT_EQ(w[1 - winner].status, -1);
		ASSERT_EQ(started() - w0, starts_watcher(path));
		close(k.go);
	}
	use_path(0);
}

/* Children and waiters in numbers, one parent stop over all: those whose
 * child exits get its status, those with a deadline time out by it, the
 * rest wake on the parent's request; every child is left for the test. */
TEST(many_children_with_deadlines_and_one_stop)
{
	enum { N = 9 };
	const int64_t ms = 80;
	for (int path = 0; path < 2; path++) {
		use_path(path);
		grace_stop *root = new_stop();
		struct kid k[N];
		struct waiter w[N];
		grace_deadline t0 = grace_now();
		for (int i = 0; i < N; i++) {
			k[i] = spawn(0);
			grace_stop *s = NULL;
			ASSERT_RC(grace_stop_new(&s, root), 0);
			w[i] = (struct waiter){.pid = k[i].pid, .stop = s,
			                       .d = i % 3 == 1 ? t0 + ms * 1000000 : GRACE_FOREVER};
		}
		pthread_t t[N];
		start_threads(t, N, waiter_main, w, sizeof w[0]);
		for (int i = 0; i < N; i++)
			if (i % 3 != 1)
				wait_blocked(&w[i]);
		for (int i = 0; i < N; i += 3)
			tell(k[i], (unsigned char)(20 + i));
		for (int i = 0; i < N; i++)
			if (i % 3 != 2)
				WAIT_UNTIL(atomic_load(&w[i].done));
		grace_deadline req = grace_now();
		ASSERT_RC(grace_stop_request(root, 1), 1);
		join_threads(t, N);
		for (int i = 0; i < N; i++) {
			if (i % 3 == 0) {
				ASSERT_RC(w[i].result, k[i].pid);
				ASSERT_EQ(WEXITSTATUS(w[i].status), 20 + i);
				close(k[i].go);
			} else {
				if (i % 3 == 1) {
					ASSERT_RC(w[i].result, -ETIMEDOUT);
					ASSERT_GE((w[i].ended - t0) / 1000000, ms);
				} else {
					ASSERT_RC(w[i].result, -ECANCELED);
					ASSERT_LT((w[i].ended - req) / 1000000, test_slack_ms());
				}
				ASSERT_EQ(presence(k[i].pid), 1);
				finish(k[i]);
			}
			ASSERT_RC(grace_stop_free(w[i].stop), 0);
		}
		ASSERT_RC(grace_stop_free(root), 0);
	}
	use_path(0);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
}

/* ---- the watcher's life ---- */

TEST(a_watcher_outlives_its_call_until_the_child_changes)
{
	use_path(1);
	struct kid k = spawn(0);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
	long w0 = started();
	ASSERT_RC(grace_waitpid(k.pid, NULL, 0, NULL, grace_after_ms(20)), -ETIMEDOUT);
	ASSERT_EQ(started(), w0 + 1);
	ASSERT_EQ(atomic_load(&grace__waitpid_watchers_live), 1);
	/* A later call with the same selection joins it. */
	ASSERT_RC(grace_waitpid(k.pid, NULL, 0, NULL, grace_after_ms(20)), -ETIMEDOUT);
	ASSERT_EQ(started(), w0 + 1);
	/* Another selection gets its own. */
	ASSERT_RC(grace_waitpid(-1, NULL, 0, NULL, grace_after_ms(20)), -ETIMEDOUT);
	ASSERT_EQ(started(), w0 + 2);
	ASSERT_EQ(atomic_load(&grace__waitpid_watchers_live), 2);
	/* The child's exit ends both, and they reaped nothing. */
	tell(k, 14);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
	ASSERT_EQ(presence(k.pid), 2);
	int st;
	ASSERT_RC(grace_waitpid(k.pid, &st, 0, NULL, GRACE_FOREVER), k.pid);
	ASSERT_EQ(WEXITSTATUS(st), 14);
	close(k.go);
	use_path(0);
}

TEST(watcher_allocation_failure_is_enomem)
{
	use_path(1);
	struct kid k = spawn(0);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
	long w0 = started();
	atomic_store(&grace__alloc_fail_countdown, 1);
	int st = 12345;
	ASSERT_RC(grace_waitpid(k.pid, &st, 0, NULL, grace_after_ms(1000)), -ENOMEM);
	ASSERT_EQ(atomic_load(&grace__alloc_fail_countdown), 0);
	atomic_store(&grace__alloc_fail_countdown, 1);
	ASSERT_RC(grace_waitpid(-1, &st, 0, NULL, GRACE_FOREVER), -ENOMEM);
	ASSERT_EQ(st, 12345);
	ASSERT_EQ(started(), w0);
	ASSERT_EQ(presence(k.pid), 1);
	finish(k);
	use_path(0);
}

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
/* In a fresh process (exec'd: no stacks of exited threads cached for
 * reuse), with no room left for a thread's stack: the watcher cannot
 * start, the call answers -EAGAIN and leaves nothing behind. */
static int wait_without_room_for_a_thread(void)
{
	struct kid g = spawn(0);
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld", &pages) != 1)
		return 77;
	fclose(f);
	struct rlimit old, rl;
	if (getrlimit(RLIMIT_AS, &old) != 0)
		return 2;
	/* A little above what is mapped now: a small record still fits,
	 * an 8 MiB stack does not. */
	rl.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)1 << 20);
	rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 2;
	long w0 = started();
	int st = 12345;
	int r = grace_waitpid(-1, &st, 0, NULL, grace_after_ms(10000));
	if (setrlimit(RLIMIT_AS, &old) != 0)
		return 2;
	if (r != -EAGAIN || st != 12345 || started() != w0 || presence(g.pid) != 1)
		return 3;
	/* Nothing was left registered: the next wait starts a watcher. */
	if (grace_waitpid(-1, &st, 0, NULL, grace_after_ms(20)) != -ETIMEDOUT || started() != w0 + 1)
		return 4;
	tell(g, 4);
	if (grace_waitpid(-1, &st, 0, NULL, grace_after_ms(10000)) != g.pid || WEXITSTATUS(st) != 4)
		return 5;
	return 0;
}
#endif

TEST(watcher_thread_failure_is_eagain)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	printf("(skipped under sanitizers: they need the address space this test takes away) ");
	return;
#else
	if (getenv("GRACE_TEST_EAGAIN_CHILD") != NULL)
		_exit(wait_without_room_for_a_thread()); /* the exec'd copy */
	char **env = env_with("GRACE_TEST_EAGAIN_CHILD=1");
	char *args[] = {"waitpid_test", "watcher_thread_failure_is_eagain", NULL};
	pid_t f = fork();
	ASSERT_GE(f, 0);
	if (f == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execve("/proc/self/exe", args, env);
		_exit(76);
	}
	free(env);
	int st;
	ASSERT_RC(grace_waitpid(f, &st, 0, NULL, grace_after_ms(20000)), f);
	ASSERT_TRUE(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77 || WEXITSTATUS(st) == 76) {
		printf("(no /proc/self/statm or exe: skipped) ");
		return;
	}
	ASSERT_EQ(WEXITSTATUS(st), 0);
#endif
}

/* A forked child starts with no watcher of its parent's: its own wait for
 * its own child must not sleep on a thread it does not have. */
TEST(a_forked_child_does_not_share_its_parents_watchers)
{
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer cannot start threads in the child of a threaded
	 * process; every other configuration runs this test. */
	printf("(skipped under ThreadSanitizer) ");
	return;
#endif
	use_path(1);
	struct kid k = spawn(0);
	ASSERT_RC(grace_waitpid(-1, NULL, 0, NULL, grace_after_ms(20)), -ETIMEDOUT);
	ASSERT_EQ(atomic_load(&grace__waitpid_watchers_live), 1);
	pid_t f = fork();
	ASSERT_GE(f, 0);
	if (f == 0) {
		close(k.go);
		/* The grandchild lingers so that the wait below really waits
		 * (if it ran late the test would pass without testing). */
		pid_t g = fork();
		if (g == 0) {
			struct timespec ts = {0, 100000000};
			nanosleep(&ts, NULL);
			_exit(17);
		}
		int st = 0;
		pid_t r = grace_waitpid(-1, &st, 0, NULL, grace_after_ms(3000));
		_exit(r == g && WIFEXITED(st) && WEXITSTATUS(st) == 17 ? 0 : 1);
	}
	int st;
	ASSERT_RC(grace_waitpid(f, &st, 0, NULL, grace_after_ms(20000)), f);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	finish(k);
	use_path(0);
}

/* With SIGCHLD ignored the system reaps children itself: as waitpid(2)
 * does, the call then answers -ECHILD. */
TEST(sigchld_ignored_answers_echild)
{
	struct sigaction ign, old;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	ASSERT_EQ(sigaction(SIGCHLD, &ign, &old), 0);
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid k = spawn(0);
		struct waiter w = {.pid = k.pid, .d = grace_after_ms(60000)};
		pthread_t t;
		start_threads(&t, 1, waiter_main, &w, sizeof w);
		wait_blocked(&w);
		tell(k, 0);
		join_threads(&t, 1);
		ASSERT_RC(w.result, -ECHILD);
		close(k.go);
	}
	ASSERT_EQ(sigaction(SIGCHLD, &old, NULL), 0);
	use_path(0);
}

/* ---- EINTR ---- */

static _Atomic int interrupts;

static void on_usr1(int signo)
{
	(void)signo;
	atomic_fetch_add(&interrupts, 1);
}

TEST(eintr_retried_within_deadline)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART: every signal interrupts */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid k = spawn(0);
		/* Interrupt it about every millisecond until it returns: a wait
		 * that restarted its timeout would never end. A busy machine
		 * may leave too few interrupts to tell; then again, longer. */
		for (int64_t ms = 150; ms <= 1200; ms *= 2) {
			atomic_store(&interrupts, 0);
			grace_deadline t0 = grace_now();
			struct waiter w = {.pid = k.pid, .stop = new_stop(), .d = t0 + ms * 1000000};
			pthread_t t;
			start_threads(&t, 1, waiter_main, &w, sizeof w);
			while (!atomic_load(&w.done)) {
				pthread_kill(t, SIGUSR1);
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
			}
			join_threads(&t, 1);
			ASSERT_RC(w.result, -ETIMEDOUT);
			ASSERT_GE(ms_since(t0), ms);
			ASSERT_LE(ms_since(t0), ms + test_slack_ms());
			ASSERT_RC(grace_stop_free(w.stop), 0);
			if (atomic_load(&interrupts) > 10)
				break;
		}
		ASSERT_GT(atomic_load(&interrupts), 10);
		finish(k);
	}
	ASSERT_EQ(sigaction(SIGUSR1, &old, NULL), 0);
	use_path(0);
	WAIT_UNTIL(atomic_load(&grace__waitpid_watchers_live) == 0);
}

/* ---- descriptors ---- */

/* The pidfd is a descriptor: without one to spare the call says so (the
 * watcher needs none). */
TEST(no_descriptor_to_spare)
{
	struct rlimit old;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (int path = 0; path < 2; path++) {
		use_path(path);
		struct kid k = spawn(0);
		int lowest = dup(0);
		ASSERT_GE(lowest, 0);
		close(lowest);
		struct rlimit rl = {(rlim_t)lowest, old.rlim_max};
		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
		int st = 12345;
		int r = grace_waitpid(k.pid, &st, 0, NULL, grace_after_ms(20));
		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
		ASSERT_RC(r, starts_watcher(path) ? -ETIMEDOUT : -EMFILE);
		ASSERT_EQ(st, 12345);
		ASSERT_EQ(presence(k.pid), 1);
		finish(k);
	}
	use_path(0);
}

#if defined(GRACE_HAVE_PIDFD) && !defined(__SANITIZE_THREAD__)
/* In a forked child, make pidfd_open answer `err`, as a kernel without it
 * (ENOSYS) or a seccomp policy (EPERM) does; then wait for a grandchild. */
static int wait_without_pidfd_open(int err)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return 77; /* no seccomp here */
	if (syscall(SYS_pidfd_open, getpid(), 0) != -1 || errno != err)
		return 3;
	for (int round = 0; round < 2; round++) {
		long w0 = started();
		pid_t g = fork();
		if (g == 0) {
			struct timespec ts = {0, 50000000};
			nanosleep(&ts, NULL);
			_exit(5);
		}
		int st = 0;
		if (grace_waitpid(g, &st, 0, NULL, grace_after_ms(10000)) != g || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 5)
			return 4;
		if (started() != w0 + 1)
			return 5; /* the wait went to a watcher */
	}
	return 0;
}
#endif

TEST(kernel_without_pidfd_open_falls_back)
{
#if !defined(GRACE_HAVE_PIDFD)
	printf("(no pidfd in this build: the watcher is the only path) ");
	return;
#elif defined(__SANITIZE_THREAD__)
	printf("(skipped under ThreadSanitizer: no threads in a forked child) ");
	return;
#else
	use_path(0);
	const int errs[] = {ENOSYS, EPERM};
	for (int i = 0; i < 2; i++) {
		pid_t f = fork();
		ASSERT_GE(f, 0);
		if (f == 0)
			_exit(wait_without_pidfd_open(errs[i]));
		int st;
		ASSERT_RC(grace_waitpid(f, &st, 0, NULL, grace_after_ms(20000)), f);
		ASSERT_TRUE(WIFEXITED(st));
		if (WEXITSTATUS(st) == 77) {
			printf("(no seccomp filters here: skipped) ");
			return;
		}
		ASSERT_EQ(WEXITSTATUS(st), 0);
	}
#endif
}

TEST(no_descriptor_is_left_open)
{
	int fds0 = open_fds();
	if (fds0 < 0) {
		printf("(no /proc/self/fd: skipped) ");
		return;
	}
	grace_stop *s = new_stop();
	ASSERT_GE(grace_stop_fd(s), 0);
	fds0 = open_fds();
	for (int path = 0; path < 2; path++) {
		use_path(path);
		for (int i = 0; i < 5; i++) {
			struct kid k = spawn(0);
			ASSERT_RC(grace_waitpid(k.pid, NULL, 0, s, grace_after_ms(5)), -ETIMEDOUT);
			tell(k, 0);
			ASSERT_RC(grace_waitpid(k.pid, NULL, 0, s, grace_after_ms(20000)), k.pid);
			close(k.go);
		}
		ASSERT_EQ(open_fds(), fds0);
	}
	use_path(0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- latency, for the record ---- */

/* Child exit → return and stop → return, median of a few rounds, for a
 * plain waitpid and both paths; printed, bounded generously. */
TEST(latency_figures)
{
	enum { R = 9 };
	int64_t exit_ns[3][R], stop_ns[2][R];
	for (int m = 0; m < 3; m++) {
		use_path(m == 2 ? 1 : 0);
		for (int r = 0; r < R; r++) {
			struct kid k = spawn(0);
			struct waiter w = {.pid = k.pid, .d = grace_after_ms(60000), .stop = m ? new_stop() : NULL};
			pthread_t t;
			if (m == 0) {
				/* Plain waitpid: the exit is the only thing that ends it. */
				tell(k, 0);
				int64_t t0 = grace_now();
				int st;
				ASSERT_EQ(waitpid(k.pid, &st, 0), k.pid);
				exit_ns[0][r] = grace_now() - t0;
			} else {
				start_threads(&t, 1, waiter_main, &w, sizeof w);
				wait_blocked(&w);
				int64_t t0 = grace_now();
				tell(k, 0);
				join_threads(&t, 1);
				ASSERT_RC(w.result, k.pid);
				exit_ns[m][r] = w.ended - t0;
				ASSERT_RC(grace_stop_free(w.stop), 0);
				struct kid k2 = spawn(0);
				w = (struct waiter){.pid = k2.pid, .d = grace_after_ms(60000), .stop = new_stop()};
				start_threads(&t, 1, waiter_main, &w, sizeof w);
				wait_blocked(&w);
				t0 = grace_now();
				ASSERT_RC(grace_stop_request(w.stop, 1), 1);
				join_threads(&t, 1);
				ASSERT_RC(w.result, -ECANCELED);
				stop_ns[m - 1][r] = w.ended - t0;
				ASSERT_RC(grace_stop_free(w.stop), 0);
				finish(k2);
			}
			close(k.go);
		}
	}
	use_path(0);
	int64_t med[5];
	int64_t *rows[5] = {exit_ns[0], exit_ns[1], exit_ns[2], stop_ns[0], stop_ns[1]};
	for (int i = 0; i < 5; i++) {
		int64_t *v = rows[i];
		for (int a = 1; a < R; a++)
			for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
				int64_t x = v[b];
				v[b] = v[b - 1];
				v[b - 1] = x;
			}
		med[i] = v[R / 2];
		ASSERT_LT(med[i] / 1000000, test_slack_ms());
	}
	printf("(median us: write-to-exit-reaped plain %.0f, %s %.0f, %s %.0f; stop to return %s %.0f, %s %.0f) ",
	       med[0] / 1e3, starts_watcher(0) ? "watcher" : path_names[0], med[1] / 1e3, path_names[1],
	       med[2] / 1e3, starts_watcher(0) ? "watcher" : path_names[0], med[3] / 1e3, path_names[1],
	       med[4] / 1e3);
}

TEST_LIST(T(misuse_answers_einval_and_reaps_nothing), T(echild_for_what_is_no_child),
          T(exit_status_and_signal_status), T(exited_child_is_reaped_at_once_even_as_a_try), T(wnohang),
          T(stop_already_requested_wins_and_reaps_nothing), T(stop_wakes_a_blocked_wait_from_another_thread),
          T(child_ignoring_sigterm_until_sigkill), T(past_deadline_on_a_running_child_is_a_try),
          T(a_wait_for_one_child_reaps_no_other), T(any_child_and_process_groups), T(wuntraced_and_wcontinued),
          T(two_waiters_on_one_child), T(many_children_with_deadlines_and_one_stop),
          T(a_watcher_outlives_its_call_until_the_child_changes), T(watcher_allocation_failure_is_enomem),
          T(watcher_thread_failure_is_eagain),
          T(a_forked_child_does_not_share_its_parents_watchers), T(sigchld_ignored_answers_echild),
          T(eintr_retried_within_deadline), T(no_descriptor_is_left_open), T(no_descriptor_to_spare),
          T(kernel_without_pidfd_open_falls_back), T(latency_figures))
