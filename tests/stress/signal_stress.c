/* SPDX-License-Identifier: MIT */
/*
 * signal_stress.c - the soak of signal storms, for SECONDS seconds (default
 * 600). Built by CMake, run by `make stress` (tests/stress/run.sh), not by
 * ctest.
 *
 * One storm: the program forks a child that routes SIGTERM and SIGINT to a
 * stop, starts 2 to 12 grace threads blocked on that stop (sleep, event
 * wait, queue get, recv, poll), and says "ready" on a pipe. Two kinds of
 * storm alternate at random:
 *
 *  - counting: the child replaces the escalation with a counting callback.
 *    After a random pause the parent sends a burst of 1 to 300 signals
 *    (SIGTERM and SIGINT mixed, sometimes with pauses between them), then
 *    "done". The child must see every thread return -ECANCELED, exactly one
 *    stop (its callback ran once) with a signal's reason, and exit 0.
 *  - escalating: the default escalation, and one more grace thread that
 *    ignores the stop. The parent sends one signal, waits for the child to
 *    say it stopped, then sends a burst: the child must exit with 128 + the
 *    number of one of the signals of that burst.
 *
 * A child that hangs is killed after 20 s and counted. The parent itself
 * never routes signals and starts no thread, so each fork is of a
 * single-threaded process. Prints a summary line "SUMMARY signal ..." (items
 * are the signals sent; lost counts storms whose child did not end as it
 * must, duplicated those that saw more than one stop); exits 1 on any
 * problem.
 */
#include "grace.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXW 12

/* Child exit codes, besides 0 and 128 + signo. */
#define X_SETUP 2
#define X_TWO_STOPS 3
#define X_NOT_CANCELED 4
#define X_NO_STOP 5
#define X_NOT_ESCALATED 6

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

/* ---- the child ---- */

static grace_event never_set;
static grace_queue *empty_queue;
static int sp[2];
static _Atomic int stops, escalations;

static int blocked(grace_stop *stop, void *arg)
{
	char c;
	void *item;
	switch ((int)(intptr_t)arg) {
	case 0: return grace_sleep(stop, GRACE_FOREVER);
	case 1: return grace_event_wait(&never_set, stop, GRACE_FOREVER);
	case 2: return grace_queue_get(empty_queue, &item, stop, GRACE_FOREVER);
	case 3: return (int)grace_recv(sp[0], &c, 1, 0, stop, GRACE_FOREVER);
	default: return grace_poll(sp[0], POLLIN, stop, GRACE_FOREVER);
	}
}

static int ignores_stop(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	grace_sleep(NULL, grace_after_ms(60000));
	return 0;
}

static void count_stop(void *arg)
{
	(void)arg;
	atomic_fetch_add(&stops, 1);
}

static void count_escalation(int signo, void *arg)
{
	(void)signo;
	(void)arg;
	atomic_fetch_add(&escalations, 1);
}

static void say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(X_SETUP);
}

static int child(bool counting, unsigned seed, int to_parent, int from_parent)
{
	static const int sigs[] = {SIGTERM, SIGINT};
	grace_stop *stop;
	grace_stop_cb cb = {0};
	if (grace_stop_new(&stop, NULL) != 0 || grace_stop_on(stop, &cb, count_stop, NULL) != 0 ||
	    grace_queue_new(&empty_queue, 2) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		return X_SETUP;
	grace_event_init(&never_set);
	if (counting)
		grace_signals_on_escalate(count_escalation, NULL);
	if (grace_signals_route(stop, sigs, 2) != 0)
		return X_SETUP;
	int n = 2 + (int)(rnd(&seed) % (MAXW - 1));
	grace_thread *t[MAXW], *straggler = NULL;
	for (int i = 0; i < n; i++)
		if (grace_thread_start(&t[i], "blocked", blocked, (void *)(intptr_t)(rnd(&seed) % 5), stop) != 0)
			return X_SETUP;
	if (!counting && grace_thread_start(&straggler, "ignores-stop", ignores_stop, NULL, NULL) != 0)
		return X_SETUP;
	say(to_parent, 'r');
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int result = 0;
		if (grace_thread_join(t[i], grace_after_ms(15000), &result) != 0 || result != -ECANCELED)
			bad = 1;
	}
	if (!counting) {
		/* Stopped; the parent's burst must end the process from the
		 * signal thread (the straggler keeps it alive until then). */
		say(to_parent, 's');
		grace_sleep(NULL, grace_after_ms(15000));
		return bad ? X_NOT_CANCELED : X_NOT_ESCALATED;
	}
	char c;
	if (read(from_parent, &c, 1) != 1)
		return X_SETUP;
	/* The stop's callback runs in the signal thread just after the flag
	 * is set: wait for it (bounded), then let late signals of the burst
	 * arrive and be counted before looking again. */
	grace_deadline d = grace_after_ms(10000);
	while (atomic_load(&stops) == 0 && grace_now() < d)
		grace_sleep(NULL, grace_after_ms(1));
	grace_sleep(NULL, grace_after_ms(2));
	int reason = grace_stop_reason(stop);
	if (atomic_load(&stops) == 0)
		return X_NO_STOP;
	if (atomic_load(&stops) > 1)
		return X_TWO_STOPS;
	if (reason != GRACE_REASON_SIGNAL(SIGTERM) && reason != GRACE_REASON_SIGNAL(SIGINT))
		return X_NO_STOP;
	/* No unroute: signals of the burst may still be on their way. */
	return bad ? X_NOT_CANCELED : 0;
}

/* ---- the parent ---- */

static uint64_t storms, signals_sent, lost, duplicated, counting_storms, escalating_storms;

static bool wait_byte(int fd, char want, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 1 && c == want;
}

/* Wait for the child by `ms`; kill it past that. Returns its wait status,
 * or -1 if it had to be killed. */
static int reap(pid_t pid, int ms)
{
	grace_deadline d = grace_after_ms(ms);
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (grace_now() >= d) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		grace_sleep(NULL, grace_after_ms(1));
	}
}

static void burst(pid_t pid, unsigned *seed, int count, bool sent[NSIG])
{
	bool pauses = rnd(seed) % 3 == 0;
	for (int i = 0; i < count; i++) {
		int sig = rnd(seed) % 2 ? SIGTERM : SIGINT;
		if (kill(pid, sig) == 0) {
			signals_sent++;
			sent[sig] = true;
		}
		if (pauses && rnd(seed) % 4 == 0)
			grace_sleep(NULL, grace_after_ns((int64_t)(rnd(seed) % 200) * 1000));
	}
}

static int one_storm(unsigned *seed)
{
	bool counting = rnd(seed) % 2 == 0;
	unsigned child_seed = rnd(seed);
	int up[2], down[2];
	if (pipe(up) != 0 || pipe(down) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		if (!counting) {
			/* The escalation lists the threads on stderr: not here. */
			FILE *null = freopen("/dev/null", "w", stderr);
			(void)null;
		}
		int code = child(counting, child_seed, up[1], down[0]);
		fflush(stdout);
		_exit(code);
	}
	close(up[1]);
	close(down[0]);
	bool sent[NSIG];
	memset(sent, 0, sizeof sent);
	bool ok = wait_byte(up[0], 'r', 20000);
	unsigned pause = rnd(seed) % 4;
	if (ok && pause != 0)
		grace_sleep(NULL, grace_after_ns((int64_t)(rnd(seed) % (pause * 1000)) * 1000));
	if (ok && counting) {
		burst(pid, seed, 1 + (int)(rnd(seed) % 300), sent);
		ok = write(down[1], "d", 1) == 1;
	} else if (ok) {
		bool first[NSIG];
		memset(first, 0, sizeof first);
		burst(pid, seed, 1, first);
		ok = wait_byte(up[0], 's', 20000);
		if (ok)
			burst(pid, seed, 1 + (int)(rnd(seed) % 50), sent);
	}
	int status = reap(pid, 20000);
	close(up[0]);
	close(down[1]);
	storms++;
	counting ? counting_storms++ : escalating_storms++;
	int code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	bool good;
	if (counting)
		good = ok && code == 0;
	else
		good = ok && code > 128 && code - 128 < NSIG && sent[code - 128];
	if (!good) {
		if (code == X_TWO_STOPS)
			duplicated++;
		else
			lost++;
		bool killed = status >= 0 && WIFSIGNALED(status);
		fprintf(stderr, "signal_stress: %s storm: child %s %d (handshakes %s)\n",
		        counting ? "counting" : "escalating", killed ? "killed by signal" : "exit",
		        killed ? WTERMSIG(status) : code, ok ? "ok" : "failed");
	}
	return 0;
}

int main(void)
{
	const char *e = getenv("SECONDS");
	double seconds = e != NULL ? atof(e) : 600;
	if (seconds <= 0)
		seconds = 600;
	unsigned seed = (unsigned)grace_now();
	printf("signal_stress: %.0f s, seed %u\n", seconds, seed);
	grace_deadline end = grace_after_ms((int64_t)(seconds * 1000));
	while (grace_now() < end) {
		if (one_storm(&seed) != 0) {
			fprintf(stderr, "signal_stress: cannot start a storm\n");
			return 2;
		}
	}
	printf("signal: storms %" PRIu64 " (counting %" PRIu64 ", escalating %" PRIu64 ") signals %" PRIu64
	       " failed %" PRIu64 "\n",
	       storms, counting_storms, escalating_storms, signals_sent, lost + duplicated);
	bool bad = lost + duplicated != 0;
	printf("SUMMARY signal rounds %" PRIu64 " items %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64
	       " wrong 0 %s\n",
	       storms, signals_sent, lost, duplicated, bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
