/* SPDX-License-Identifier: MIT */
/*
 * supervisor.c - a supervisor that ends a child process in steps: it waits
 * for the child with a deadline, then sends SIGTERM and waits again, and
 * only then sends SIGKILL. Every wait is grace_waitpid, so Ctrl-C (SIGINT,
 * routed to a stop with grace_signals_route) ends the wait at once and moves
 * on to the next step; a second Ctrl-C during the SIGTERM wait goes straight
 * to SIGKILL. It prints each step and when it happened.
 *
 *   supervisor [stubborn|polite|quick] [RUN_MS [TERM_MS]]
 *
 * stubborn (the default): the child ignores SIGTERM, so all three steps run;
 * polite: it exits on SIGTERM; quick: it exits by itself after 300 ms. RUN_MS
 * (default 1000) is how long the child may run, TERM_MS (default 500) how
 * long it has after SIGTERM. Without arguments it ends in about 1.5 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <grace.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { STUBBORN, POLITE, QUICK };

static grace_deadline t0;

/* Print one line, with the time since the child started. */
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("[%7.1f ms] ", (double)(grace_now() - t0) / 1e6);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

static void child_write(const char *s)
{
	ssize_t r = write(STDOUT_FILENO, s, strlen(s));
	(void)r;
}

static void on_term(int signo)
{
	(void)signo;
	child_write("             child: SIGTERM, cleaning up and leaving\n");
	_exit(0);
}

/* The child's whole life. Only async-signal-safe calls: the parent has
 * threads (grace's signal thread). */
static void child(enum mode mode)
{
	/* Its own process group: the terminal's Ctrl-C reaches only the
	 * supervisor, which decides what happens to the child. */
	setpgid(0, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = mode == STUBBORN ? SIG_IGN : on_term;
	sigaction(SIGTERM, &sa, NULL);
	if (mode == QUICK) {
		struct timespec ts = {0, 300000000};
		nanosleep(&ts, NULL);
		child_write("             child: done, exiting\n");
		_exit(3);
	}
	if (mode == STUBBORN)
		child_write("             child: working, and ignoring SIGTERM\n");
	else
		child_write("             child: working\n");
	for (;;)
		pause();
}

static void describe(int st)
{
	if (WIFEXITED(st))
		say("reaped the child: exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		say("reaped the child: killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* A second Ctrl-C (or SIGTERM) hurries the SIGTERM step along instead of
 * the default escalation, which would leave the child behind. */
static void on_escalate(int signo, void *arg)
{
	grace_stop_request(arg, signo); /* the signal is the reason */
}

static long arg_ms(const char *s, long dflt)
{
	if (s == NULL)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > 3600000) {
		fprintf(stderr, "supervisor: %s: not a number of milliseconds\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum mode mode = STUBBORN;
	int a = 1;
	if (a < argc && strcmp(argv[a], "stubborn") == 0)
		a++;
	else if (a < argc && strcmp(argv[a], "polite") == 0)
		mode = POLITE, a++;
	else if (a < argc && strcmp(argv[a], "quick") == 0)
		mode = QUICK, a++;
	if (argc - a > 2 || (a < argc && argv[a][0] == '-')) {
		fprintf(stderr, "usage: supervisor [stubborn|polite|quick] [RUN_MS [TERM_MS]]\n");
		return 2;
	}
	long run_ms = arg_ms(a < argc ? argv[a] : NULL, 1000);
	long term_ms = arg_ms(a + 1 < argc ? argv[a + 1] : NULL, 500);

	grace_stop *stop, *hurry;
	if (grace_stop_new(&stop, NULL) < 0 || grace_stop_new(&hurry, NULL) < 0)
		return 1;
	int rc = grace_signals_route(stop, NULL, 0);
	if (rc == 0)
		rc = grace_signals_on_escalate(on_escalate, hurry);
	if (rc < 0) {
		fprintf(stderr, "supervisor: routing signals: %s\n", grace_strerror(rc));
		return 1;
	}

	t0 = grace_now();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("supervisor: fork");
		return 1;
	}
	if (pid == 0)
		child(mode);
	(void)setpgid(pid, pid);
	say("started child %d; Ctrl-C ends a wait early", (int)pid);

	/* Step 1: let it run until the deadline, or until we are asked to stop. */
	int st;
	say("waiting up to %ld ms for the child to finish", run_ms);
	pid_t r = grace_waitpid(pid, &st, 0, stop, grace_after_ms(run_ms));
	if (r == pid) {
		describe(st);
		goto out;
	}
	if (r == -ECANCELED)
		say("stop requested by signal %d: sending SIGTERM", grace_reason_signal(grace_stop_reason(stop)));
	else if (r == -ETIMEDOUT)
		say("deadline passed and the child still runs: sending SIGTERM");
	else
		say("grace_waitpid: %s", grace_strerror((int)r));
	if (r != -ECANCELED && r != -ETIMEDOUT)
		goto out;

	/* Step 2: SIGTERM, and a grace period. If a Ctrl-C ended step 1, a
	 * second one (the escalation) ends this one; otherwise the first. */
	kill(pid, SIGTERM);
	say("waiting up to %ld ms for the child to leave", term_ms);
	grace_stop *s2 = r == -ECANCELED ? hurry : stop;
	r = grace_waitpid(pid, &st, 0, s2, grace_after_ms(term_ms));
	if (r == pid) {
		describe(st);
		goto out;
	}
	if (r == -ECANCELED) {
		int reason = grace_stop_reason(s2);
		say("stop requested by signal %d: sending SIGKILL", s2 == stop ? grace_reason_signal(reason) : reason);
	} else if (r == -ETIMEDOUT) {
		say("deadline passed and the child ignored SIGTERM: sending SIGKILL");
	} else {
		say("grace_waitpid: %s", grace_strerror((int)r));
	}
	if (r != -ECANCELED && r != -ETIMEDOUT)
		goto out;

	/* Step 3: SIGKILL cannot be ignored; the deadline only guards against
	 * a child stuck in the kernel. */
	kill(pid, SIGKILL);
	r = grace_waitpid(pid, &st, 0, NULL, grace_after_ms(5000));
	if (r == pid)
		describe(st);
	else
		say("grace_waitpid after SIGKILL: %s", grace_strerror((int)r));

out:
	grace_signals_unroute();
	grace_stop_free(stop);
	grace_stop_free(hurry);
	return r == pid ? 0 : 1;
}
