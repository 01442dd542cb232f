/* SPDX-License-Identifier: MIT */
/*
 * signal_test.c - routing signals to a stop.
 *
 * In this process: argument checks that change nothing, -EBUSY, restored
 * dispositions, the first signal as the stop's reason and every later one
 * as an escalation, SIGINT and SIGTERM by default, delivery to threads made
 * before and after routing, unrouting from inside the callbacks.
 *
 * In child processes (tests/progs/signal_child.c, signalled from here):
 * SIGTERM shuts 16 blocked threads down cleanly (exit 0 with a report);
 * SIGINT twice exits 130 promptly through the default escalation; a burst
 * of 1,000 signals gives one stop and no crash.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GRACE_SIGNAL_CHILD
#error "GRACE_SIGNAL_CHILD must name the helper program (see CMakeLists.txt)"
#endif

static grace_stop *new_stop(void)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

static void (*handler_of(int signo))(int)
{
	struct sigaction sa;
	ASSERT_EQ(sigaction(signo, NULL, &sa), 0);
	return sa.sa_handler;
}

/* Wait (bounded) for the stop to be requested, without touching signals. */
static void wait_requested(grace_stop *s)
{
	ASSERT_RC(grace_sleep(s, grace_after_ms(10000)), -ECANCELED);
}

static _Atomic int escalated_signo, escalations;

static void on_escalate(int signo, void *arg)
{
	ASSERT_PTR_EQ(arg, &escalations);
	atomic_store(&escalated_signo, signo);
	atomic_fetch_add(&escalations, 1);
}

static void noop_handler(int signo)
{
	(void)signo;
}

/* ---- in this process ---- */

TEST(route_rejects_bad_arguments)
{
	grace_stop *s = new_stop();
	int kill_[] = {SIGUSR1, SIGKILL};
	int stop_[] = {SIGUSR1, SIGSTOP};
	int segv[] = {SIGUSR1, SIGSEGV};
	int zero[] = {SIGUSR1, 0};
	int neg[] = {SIGUSR1, -1};
	int big[] = {SIGUSR1, NSIG};
	int dup[] = {SIGUSR1, SIGUSR2, SIGUSR1};
	int many[33];
	for (int i = 0; i < 33; i++)
		many[i] = i + 1 == SIGKILL || i + 1 == SIGSTOP ? SIGUSR1 : i + 1;
	ASSERT_RC(grace_signals_route(NULL, NULL, 0), -EINVAL);
	ASSERT_RC(grace_signals_route(s, NULL, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, kill_, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, stop_, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, segv, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, zero, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, neg, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, big, 2), -EINVAL);
	ASSERT_RC(grace_signals_route(s, dup, 3), -EINVAL);
	ASSERT_RC(grace_signals_route(s, many, 33), -EINVAL);
	/* Nothing changed: SIGUSR1 is untouched and nothing is routed. */
	ASSERT_TRUE(handler_of(SIGUSR1) == SIG_DFL);
	ASSERT_RC(grace_signals_unroute(), -EINVAL);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(route_twice_is_ebusy)
{
	grace_stop *s = new_stop(), *s2 = new_stop();
	int u1[] = {SIGUSR1}, u2[] = {SIGUSR2};
	ASSERT_RC(grace_signals_route(s, u1, 1), 0);
	ASSERT_RC(grace_signals_route(s2, u2, 1), -EBUSY);
	ASSERT_TRUE(handler_of(SIGUSR2) == SIG_DFL); /* the refused routing did nothing */
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_signals_unroute(), -EINVAL);
	/* Routing again after unrouting works. */
	ASSERT_RC(grace_signals_route(s2, u2, 1), 0);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_RC(grace_stop_free(s2), 0);
}

TEST(a_routed_stop_cannot_be_freed)
{
	/* Item 5 of docs/reliability.md: the signal thread would request freed
	 * memory on the next signal. */
	grace_stop *s = new_stop();
	int u1[] = {SIGUSR1};
	ASSERT_RC(grace_signals_route(s, u1, 1), 0);
	ASSERT_RC(grace_stop_free(s), -EBUSY);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	/* Routed, requested by a signal, still routed: still refused. */
	s = new_stop();
	ASSERT_RC(grace_signals_route(s, u1, 1), 0);
	raise(SIGUSR1);
	grace_event never = GRACE_EVENT_INIT;
	ASSERT_RC(grace_event_wait(&never, s, grace_after_ms(20000)), -ECANCELED);
	ASSERT_RC(grace_stop_free(s), -EBUSY);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(unroute_restores_dispositions)
{
	struct sigaction mine, got;
	memset(&mine, 0, sizeof mine);
	mine.sa_handler = noop_handler;
	sigemptyset(&mine.sa_mask);
	sigaddset(&mine.sa_mask, SIGHUP);
	mine.sa_flags = SA_NODEFER;
	ASSERT_EQ(sigaction(SIGUSR1, &mine, NULL), 0);
	ASSERT_EQ(signal(SIGUSR2, SIG_IGN) == SIG_ERR, 0);

	grace_stop *s = new_stop();
	int sigs[] = {SIGUSR1, SIGUSR2};
	ASSERT_RC(grace_signals_route(s, sigs, 2), 0);
	ASSERT_TRUE(handler_of(SIGUSR1) != noop_handler);
	ASSERT_TRUE(handler_of(SIGUSR2) != SIG_IGN);
	ASSERT_RC(grace_signals_unroute(), 0);

	ASSERT_EQ(sigaction(SIGUSR1, NULL, &got), 0);
	ASSERT_TRUE(got.sa_handler == noop_handler);
	ASSERT_TRUE(sigismember(&got.sa_mask, SIGHUP));
	ASSERT_TRUE(got.sa_flags & SA_NODEFER);
	ASSERT_TRUE(handler_of(SIGUSR2) == SIG_IGN);
	ASSERT_FALSE(grace_stop_requested(s));
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(first_signal_stops_later_ones_escalate)
{
	grace_stop *s = new_stop();
	int sigs[] = {SIGUSR1, SIGUSR2};
	atomic_store(&escalations, 0);
	ASSERT_RC(grace_signals_on_escalate(on_escalate, &escalations), 0);
	ASSERT_RC(grace_signals_route(s, sigs, 2), 0);
	ASSERT_FALSE(grace_stop_requested(s));

	ASSERT_EQ(raise(SIGUSR2), 0); /* the second listed can come first */
	wait_requested(s);
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_SIGNAL(SIGUSR2));
	ASSERT_EQ(grace_reason_signal(grace_stop_reason(s)), SIGUSR2);
	ASSERT_EQ(atomic_load(&escalations), 0);

	ASSERT_EQ(raise(SIGUSR1), 0); /* any routed signal after the first escalates */
	WAIT_UNTIL(atomic_load(&escalations) == 1);
	ASSERT_EQ(atomic_load(&escalated_signo), SIGUSR1);
	ASSERT_EQ(raise(SIGUSR2), 0);
	WAIT_UNTIL(atomic_load(&escalations) == 2);
	ASSERT_EQ(atomic_load(&escalated_signo), SIGUSR2);
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_SIGNAL(SIGUSR2)); /* the first reason sticks */

	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_signals_on_escalate(NULL, NULL), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(stop_requested_elsewhere_keeps_its_reason)
{
	grace_stop *s = new_stop();
	int sigs[] = {SIGUSR1};
	atomic_store(&escalations, 0);
	ASSERT_RC(grace_signals_on_escalate(on_escalate, &escalations), 0);
	ASSERT_RC(grace_signals_route(s, sigs, 1), 0);
	ASSERT_RC(grace_stop_request(s, 42), 1);
	ASSERT_EQ(raise(SIGUSR1), 0); /* the first routed signal: no escalation yet */
	ASSERT_EQ(raise(SIGUSR1), 0); /* the second: escalates */
	WAIT_UNTIL(atomic_load(&escalations) == 1);
	ASSERT_EQ(grace_stop_reason(s), 42);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_EQ(atomic_load(&escalations), 1);
	ASSERT_RC(grace_signals_on_escalate(NULL, NULL), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(count_zero_routes_sigint_and_sigterm)
{
	grace_stop *s = new_stop();
	int ignored[] = {SIGUSR1};
	atomic_store(&escalations, 0);
	ASSERT_RC(grace_signals_on_escalate(on_escalate, &escalations), 0);
	ASSERT_RC(grace_signals_route(s, ignored, 0), 0);
	ASSERT_TRUE(handler_of(SIGINT) != SIG_DFL);
	ASSERT_TRUE(handler_of(SIGTERM) != SIG_DFL);
	ASSERT_TRUE(handler_of(SIGUSR1) == SIG_DFL);
	ASSERT_EQ(raise(SIGTERM), 0);
	wait_requested(s);
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_SIGNAL(SIGTERM));
	ASSERT_EQ(raise(SIGINT), 0);
	WAIT_UNTIL(atomic_load(&escalations) == 1);
	ASSERT_EQ(atomic_load(&escalated_signo), SIGINT);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_TRUE(handler_of(SIGINT) == SIG_DFL);
	ASSERT_TRUE(handler_of(SIGTERM) == SIG_DFL);
	ASSERT_RC(grace_signals_on_escalate(NULL, NULL), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Threads made before and after routing, all blocked in grace calls; the
 * signal is sent to the process while the main thread blocks it, so the
 * kernel delivers it to one of them, interrupting its wait. */
#define ORDER_THREADS 8

struct order_worker {
	grace_stop *stop;
	int fd;
	_Atomic bool in;
	long result;
};

static void *order_main(void *arg)
{
	struct order_worker *w = arg;
	char buf[4];
	atomic_store(&w->in, true);
	w->result = grace_read(w->fd, buf, sizeof buf, w->stop, GRACE_FOREVER);
	return NULL;
}

TEST(delivery_works_whatever_the_thread_order)
{
	grace_stop *s = new_stop();
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct order_worker w[ORDER_THREADS];
	pthread_t t[ORDER_THREADS];
	for (int i = 0; i < ORDER_THREADS; i++)
		w[i] = (struct order_worker){.stop = s, .fd = p[0]};
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	/* Half before routing, half after. */
	start_threads(t, ORDER_THREADS / 2, order_main, w, sizeof w[0]);
	int sigs[] = {SIGUSR1};
	ASSERT_RC(grace_signals_route(s, sigs, 1), 0);
	start_threads(t + ORDER_THREADS / 2, ORDER_THREADS / 2, order_main, w + ORDER_THREADS / 2, sizeof w[0]);
	for (int i = 0; i < ORDER_THREADS; i++)
		WAIT_UNTIL(atomic_load(&w[i].in));
	ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
	ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
	join_threads(t, ORDER_THREADS);
	for (int i = 0; i < ORDER_THREADS; i++)
		ASSERT_RC(w[i].result, -ECANCELED);
	ASSERT_EQ(grace_stop_reason(s), GRACE_REASON_SIGNAL(SIGUSR1));
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

static _Atomic int unrouted_from_callback;

static void unroute_on_escalate(int signo, void *arg)
{
	(void)signo, (void)arg;
	atomic_store(&unrouted_from_callback, grace_signals_unroute() == 0 ? 1 : -1);
}

static void unroute_on_stop(void *arg)
{
	(void)arg;
	atomic_store(&unrouted_from_callback, grace_signals_unroute() == 0 ? 1 : -1);
}

TEST(unroute_from_inside_callbacks)
{
	int sigs[] = {SIGUSR1};
	/* From the escalation callback. */
	grace_stop *s = new_stop();
	atomic_store(&unrouted_from_callback, 0);
	ASSERT_RC(grace_signals_on_escalate(unroute_on_escalate, NULL), 0);
	ASSERT_RC(grace_signals_route(s, sigs, 1), 0);
	ASSERT_EQ(raise(SIGUSR1), 0);
	wait_requested(s);
	ASSERT_EQ(raise(SIGUSR1), 0);
	WAIT_UNTIL(atomic_load(&unrouted_from_callback) != 0);
	ASSERT_EQ(atomic_load(&unrouted_from_callback), 1);
	ASSERT_TRUE(handler_of(SIGUSR1) == SIG_DFL);
	ASSERT_RC(grace_signals_unroute(), -EINVAL);
	ASSERT_RC(grace_signals_on_escalate(NULL, NULL), 0);
	ASSERT_RC(grace_stop_free(s), 0);

	/* From a stop callback, which runs in the signal thread. */
	s = new_stop();
	grace_stop_cb cb = {0};
	atomic_store(&unrouted_from_callback, 0);
	ASSERT_RC(grace_stop_on(s, &cb, unroute_on_stop, NULL), 0);
	ASSERT_RC(grace_signals_route(s, sigs, 1), 0);
	ASSERT_EQ(raise(SIGUSR1), 0);
	WAIT_UNTIL(atomic_load(&unrouted_from_callback) != 0);
	ASSERT_EQ(atomic_load(&unrouted_from_callback), 1);
	ASSERT_RC(grace_signals_unroute(), -EINVAL);
	/* And routing again at once works. */
	grace_stop *s2 = new_stop();
	ASSERT_RC(grace_signals_route(s2, sigs, 1), 0);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_RC(grace_stop_off(&cb), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_RC(grace_stop_free(s2), 0);
}

/* A child made by fork() starts unrouted: its signals meet the old
 * disposition and never reach the parent's stop through the shared pipe. */
TEST(forked_child_starts_unrouted)
{
	grace_stop *s = new_stop();
	int sigs[] = {SIGUSR1};
	atomic_store(&escalations, 0);
	ASSERT_RC(grace_signals_on_escalate(on_escalate, &escalations), 0);
	ASSERT_RC(grace_signals_route(s, sigs, 1), 0);
	fflush(NULL);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Unrouted here: unroute answers -EINVAL, SIGUSR1 is default. */
		if (grace_signals_unroute() != -EINVAL)
			_exit(3);
		raise(SIGUSR1); /* the default action ends the child */
		_exit(4);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGUSR1)
		FAIL_AT(__FILE__, __LINE__, "child status %#x, want death by SIGUSR1", status);
	/* Had the child's signal reached our pipe, it would have been the
	 * first, and this one would escalate. */
	ASSERT_FALSE(grace_stop_requested(s));
	ASSERT_EQ(raise(SIGUSR1), 0);
	wait_requested(s);
	ASSERT_RC(grace_signals_unroute(), 0);
	ASSERT_EQ(atomic_load(&escalations), 0);
	ASSERT_RC(grace_signals_on_escalate(NULL, NULL), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- in child processes ---- */

/* ThreadSanitizer emulates signal delivery: it runs a handler only when
 * the receiving thread next enters a call it intercepts (never, for a
 * thread asleep in grace's raw futex wait), and it may deliver a handled
 * signal again later. What these tests measure, a process's answer to
 * signals from outside, is then the sanitizer's, not grace's; the
 * in-process tests above still run under it. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
#define SKIP_UNDER_TSAN()                                                        \
	do {                                                                     \
		printf("(skipped under ThreadSanitizer) ");                      \
		return;                                                          \
	} while (0)
#else
#define SKIP_UNDER_TSAN() ((void)0)
#endif

struct child {
	pid_t pid;
	int in, out, err;
	char outbuf[8192], errbuf[8192];
	size_t outlen, errlen;
};

static void spawn(struct child *c, const char *mode)
{
	int in[2], out[2], err[2];
	ASSERT_EQ(pipe(in), 0);
	ASSERT_EQ(pipe(out), 0);
	ASSERT_EQ(pipe(err), 0);
	fflush(NULL);
	c->pid = fork();
	ASSERT_GE(c->pid, 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (int i = 0; i < 2; i++)
			close(in[i]), close(out[i]), close(err[i]);
		execl(GRACE_SIGNAL_CHILD, "signal_child", mode, (char *)NULL);
		_exit(127);
	}
	close(in[0]), close(out[1]), close(err[1]);
	c->in = in[1], c->out = out[0], c->err = err[0];
	c->outlen = c->errlen = 0;
	c->outbuf[0] = c->errbuf[0] = '\0';
}

/* Read the child's stdout until it holds `want`, within the deadline. */
static void expect_output(struct child *c, const char *want, grace_deadline d)
{
	while (strstr(c->outbuf, want) == NULL) {
		ssize_t n = grace_read(c->out, c->outbuf + c->outlen, sizeof c->outbuf - 1 - c->outlen, NULL, d);
		if (n <= 0)
			FAIL_AT(__FILE__, __LINE__, "child output lacks \"%s\" (%s); got:\n%s", want,
			        grace_strerror((int)n), c->outbuf);
		c->outlen += (size_t)n;
		c->outbuf[c->outlen] = '\0';
	}
}

static void drain(int fd, char *buf, size_t *len, size_t cap)
{
	for (;;) {
		ssize_t n = grace_read(fd, buf + *len, cap - 1 - *len, NULL, grace_after_ms(10000));
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
}

/* Wait for the child to exit (bounded), then collect all its output.
 * Returns the wait status. */
static int finish(struct child *c, int64_t within_ms)
{
	int status = 0;
	grace_deadline d = grace_after_ms(within_ms);
#ifdef SYS_pidfd_open
	int pfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (pfd >= 0) {
		int r = grace_poll(pfd, POLLIN, NULL, d);
		close(pfd);
		if (r < 0)
			FAIL_AT(__FILE__, __LINE__, "child did not exit within %lld ms (%s)", (long long)within_ms,
			        grace_strerror(r));
	}
#endif
	pid_t w;
	while ((w = waitpid(c->pid, &status, WNOHANG)) == 0) {
		if (grace_now() > d) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
			FAIL_AT(__FILE__, __LINE__, "child did not exit within %lld ms", (long long)within_ms);
		}
		grace_sleep(NULL, grace_after_ms(1));
	}
	ASSERT_EQ(w, c->pid);
	drain(c->out, c->outbuf, &c->outlen, sizeof c->outbuf);
	drain(c->err, c->errbuf, &c->errlen, sizeof c->errbuf);
	close(c->in), close(c->out), close(c->err);
	return status;
}

static void expect_exit(struct child *c, int status, int code)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		FAIL_AT(__FILE__, __LINE__, "child status %#x, want exit %d\nstdout:\n%s\nstderr:\n%s", status, code,
		        c->outbuf, c->errbuf);
}

TEST(sigterm_shuts_16_blocked_threads_down_cleanly)
{
	SKIP_UNDER_TSAN();
	struct child c;
	spawn(&c, "term");
	expect_output(&c, "ready\n", grace_after_ms(20000));
	ASSERT_EQ(kill(c.pid, SIGTERM), 0);
	int status = finish(&c, 20000);
	expect_exit(&c, status, 0);
	if (strstr(c.outbuf, "clean shutdown: 16/16 threads stopped") == NULL ||
	    strstr(c.outbuf, "(signal 15)") == NULL || strstr(c.outbuf, "worker-15") == NULL)
		FAIL_AT(__FILE__, __LINE__, "unexpected report:\n%s", c.outbuf);
	ASSERT_EQ(c.errlen, 0);
}

TEST(sigint_twice_exits_130_promptly)
{
	SKIP_UNDER_TSAN();
	struct child c;
	spawn(&c, "stuck");
	expect_output(&c, "ready\n", grace_after_ms(20000));
	ASSERT_EQ(kill(c.pid, SIGINT), 0);
	/* Handshake: the first SIGINT requested the stop. */
	expect_output(&c, "stopping: stop requested, signal 2", grace_after_ms(20000));
	grace_deadline t0 = grace_now();
	ASSERT_EQ(kill(c.pid, SIGINT), 0);
	int status = finish(&c, 20000);
	int64_t took = (grace_now() - t0) / 1000000;
	expect_exit(&c, status, 130);
	ASSERT_LE(took, test_slack_ms());
	if (strstr(c.errbuf, "SIGINT (2) again") == NULL || strstr(c.errbuf, "16 threads still running") == NULL ||
	    strstr(c.errbuf, "exiting with status 130") == NULL)
		FAIL_AT(__FILE__, __LINE__, "unexpected escalation report:\n%s", c.errbuf);
	/* Every thread by name, with what it is blocked on. */
	for (int i = 0; i < 16; i++) {
		char want[64];
		snprintf(want, sizeof want, "stuck-%02d  blocked in sleep for ", i);
		if (strstr(c.errbuf, want) == NULL)
			FAIL_AT(__FILE__, __LINE__, "escalation report lacks \"%s\":\n%s", want, c.errbuf);
	}
}

TEST(burst_of_1000_signals_gives_one_stop)
{
	SKIP_UNDER_TSAN();
	struct child c;
	spawn(&c, "burst");
	expect_output(&c, "ready\n", grace_after_ms(20000));
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(kill(c.pid, SIGTERM), 0);
	ASSERT_EQ(write(c.in, "done\n", 5), 5);
	int status = finish(&c, 20000);
	expect_exit(&c, status, 0);
	if (strstr(c.outbuf, "stops=1 ") == NULL || strstr(c.outbuf, "workers=4/4") == NULL)
		FAIL_AT(__FILE__, __LINE__, "unexpected report:\n%s", c.outbuf);
	ASSERT_EQ(c.errlen, 0);
}

TEST_LIST(T(route_rejects_bad_arguments), T(route_twice_is_ebusy), T(a_routed_stop_cannot_be_freed), T(unroute_restores_dispositions),
          T(first_signal_stops_later_ones_escalate), T(stop_requested_elsewhere_keeps_its_reason),
          T(count_zero_routes_sigint_and_sigterm), T(delivery_works_whatever_the_thread_order),
          T(unroute_from_inside_callbacks), T(forked_child_starts_unrouted), T(sigterm_shuts_16_blocked_threads_down_cleanly),
          T(sigint_twice_exits_130_promptly), T(burst_of_1000_signals_gives_one_stop))
