/* SPDX-License-Identifier: MIT */
/*
 * signal_child.c - the program tests/signal_test.c runs in a child process
 * and signals from outside. One mode per scenario (argv[1]):
 *
 *   term   16 threads blocked in grace calls (recv, read, accept, poll,
 *          sleep, write) on one routed stop. SIGTERM must end them all; the
 *          program prints its report and exits 0 only if every thread
 *          returned -ECANCELED and the reason names SIGTERM.
 *   stuck  16 grace threads (stuck-00 ... stuck-15) that ignore the stop,
 *          asleep in grace_sleep. The first SIGINT requests it ("stopping"
 *          on stdout); the second must escalate by default: the threads'
 *          names and what they are blocked on on stderr, exit status 130.
 *   burst  Routes SIGTERM with a counting escalation callback; after the
 *          parent's burst ("done" on stdin) it reports how many stops and
 *          escalations it saw and exits 0 if there was exactly one stop.
 *
 * Every mode prints "ready" once its threads sleep in the kernel. Exit
 * status 2 means a setup step failed.

 */
#include "grace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 16

static void die(const char *what, int code)
{
	fprintf(stderr, "signal_child: %s: %s\n", what, grace_strerror(code));
	exit(2);
}

static const char *const kinds[] = {"recv", "read", "accept", "poll", "sleep", "write"};

struct worker {
	pthread_t thread;
	_Atomic pid_t tid;
	char name[24]; /* room for any int; the names used are short */
	int kind;
	int fd, peer;
	grace_stop *stop;
	long result;
	grace_deadline returned;
};

static grace_stop *stop;
static _Atomic int started;

/* Whether thread `tid` of this process sleeps in a system call (true too
 * where the system does not say). */
static bool asleep(pid_t tid)
{
	char path[64], buf[32];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return true;
	char *ok = fgets(buf, sizeof buf, f);
	fclose(f);
	return ok == NULL || (buf[0] >= '0' && buf[0] <= '9');
}

/* Print "ready" once every worker has started and sleeps in the kernel. */
static void ready(struct worker *w, int n)
{
	while (atomic_load(&started) < n)
		sched_yield();
	for (int i = 0; i < n; i++)
		while (!asleep(atomic_load(&w[i].tid)))
			sched_yield();
	printf("ready\n");
	fflush(stdout);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char buf[256];
	pthread_setname_np(pthread_self(), w->name);
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	atomic_fetch_add(&started, 1);
	switch (w->kind) {
	case 0: w->result = grace_recv(w->fd, buf, sizeof buf, 0, w->stop, GRACE_FOREVER); break;
	case 1: w->result = grace_read(w->fd, buf, sizeof buf, w->stop, GRACE_FOREVER); break;
	case 2: w->result = grace_accept(w->fd, NULL, NULL, w->stop, GRACE_FOREVER); break;
	case 3: w->result = grace_poll(w->fd, POLLIN, w->stop, GRACE_FOREVER); break;
	case 4: w->result = grace_sleep(w->stop, GRACE_FOREVER); break;
	default: w->result = grace_write(w->fd, buf, sizeof buf, w->stop, GRACE_FOREVER); break;
	}
	w->returned = grace_now();
	return NULL;
}

static void setup(struct worker *w, int i, grace_stop *s)
{
	int p[2];
	snprintf(w->name, sizeof w->name, "worker-%02d", i);
	w->kind = i % 6;
	w->stop = s;
	w->fd = w->peer = -1;
	switch (w->kind) {
	case 0:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0)
			die("socketpair", -errno);
		w->fd = p[0], w->peer = p[1];
		break;
	case 2: {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		w->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(w->fd, 4) < 0)
			die("listener", -errno);
		break;
	}
	case 1:
	case 3:
		if (pipe(p) < 0)
			die("pipe", -errno);
		w->fd = p[0], w->peer = p[1];
		break;
	case 5:
		if (pipe(p) < 0)
			die("pipe", -errno);
		/* Fill it, so the write blocks. */
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		static char junk[4096];
		while (write(p[1], junk, sizeof junk) > 0)
			;
		fcntl(p[1], F_SETFL, 0);
		w->fd = p[1], w->peer = p[0];
		break;
	default: break;
	}
}

static void start(struct worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		int r = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		if (r != 0)
			die("pthread_create", -r);
	}
	ready(w, n);
}

/* SIGTERM: every thread returns -ECANCELED, a report, exit 0. */
static int mode_term(void)
{
	struct worker w[WORKERS];
	int r = grace_signals_route(stop, NULL, 0);
	if (r < 0)
		die("route", r);
	for (int i = 0; i < WORKERS; i++)
		setup(&w[i], i, stop);
	start(w, WORKERS);
	/* Main waits on the same stop, like any worker. */
	r = grace_sleep(stop, grace_after_ms(60000));
	int ok = 0;
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i].thread, NULL);
	grace_deadline first = INT64_MAX, last = 0;
	for (int i = 0; i < WORKERS; i++) {
		first = w[i].returned < first ? w[i].returned : first;
		last = w[i].returned > last ? w[i].returned : last;
	}
	int reason = grace_stop_reason(stop);
	printf("shutdown: main %s, reason %d (signal %d)\n", grace_strerror(r), reason, grace_reason_signal(reason));
	for (int i = 0; i < WORKERS; i++) {
		printf("  %-10s %-7s %s\n", w[i].name, kinds[w[i].kind], grace_strerror((int)w[i].result));
		ok += w[i].result == -ECANCELED;
		if (w[i].fd >= 0)
			close(w[i].fd);
		if (w[i].peer >= 0)
			close(w[i].peer);
	}
	printf("clean shutdown: %d/%d threads stopped, the last %lld us after the first\n", ok, WORKERS,
	       (long long)((last - first) / 1000));
	r = grace_signals_unroute();
	if (r < 0)
		die("unroute", r);
	grace_stop_free(stop);
	return ok == WORKERS && reason == GRACE_REASON_SIGNAL(SIGTERM) ? 0 : 1;
}

/* Grace threads that never look at the stop. */
static int stuck_main(grace_stop *own, void *arg)
{
	struct worker *w = arg;
	(void)own;
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	atomic_fetch_add(&started, 1);
	return grace_sleep(NULL, GRACE_FOREVER);
}

static int mode_stuck(void)
{
	static struct worker w[WORKERS];
	int r = grace_signals_route(stop, NULL, 0);
	if (r < 0)
		die("route", r);
	for (int i = 0; i < WORKERS; i++) {
		grace_thread *t;
		snprintf(w[i].name, sizeof w[i].name, "stuck-%02d", i);
		r = grace_thread_start(&t, w[i].name, stuck_main, &w[i], NULL);
		if (r < 0)
			die("grace_thread_start", r);
	}
	ready(w, WORKERS);
	r = grace_sleep(stop, grace_after_ms(60000));
	printf("stopping: %s, signal %d; waiting for %d threads\n", grace_strerror(r),
	       grace_reason_signal(grace_stop_reason(stop)), WORKERS);
	fflush(stdout);
	/* Wait for threads that never end, until the second signal. */
	grace_sleep(NULL, grace_after_ms(60000));
	return 1;
}

static _Atomic int escalations, stops;

static void count_escalation(int signo, void *arg)
{
	(void)arg;
	if (signo == SIGTERM)
		atomic_fetch_add(&escalations, 1);
}

static void count_stop(void *arg)
{
	(void)arg;
	atomic_fetch_add(&stops, 1);
}

static int mode_burst(void)
{
	static const int sigs[] = {SIGTERM};
	struct worker w[4];
	grace_stop_cb cb = {0};
	if (grace_stop_on(stop, &cb, count_stop, NULL) != 0)
		die("stop_on", -EINVAL);
	grace_signals_on_escalate(count_escalation, NULL);
	int r = grace_signals_route(stop, sigs, 1);
	if (r < 0)
		die("route", r);
	for (int i = 0; i < 4; i++)
		setup(&w[i], i, stop);
	start(w, 4);
	char line[16];
	if (fgets(line, sizeof line, stdin) == NULL)
		die("stdin", -EIO);
	r = grace_sleep(stop, grace_after_ms(10000));
	/* The sleep ends when the flag is set; the callbacks run right after,
	 * in the signal thread. Wait for ours (bounded), then count. */
	grace_deadline d = grace_after_ms(10000);
	while (atomic_load(&stops) == 0 && grace_now() < d)
		sched_yield();
	int ok = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		ok += w[i].result == -ECANCELED;
	}
	int reason = grace_stop_reason(stop);
	printf("stops=%d escalations=%d reason=%d workers=%d/4\n", atomic_load(&stops), atomic_load(&escalations),
	       reason, ok);
	fflush(stdout);
	/* No unroute: signals of the burst may still be on their way, and the
	 * default disposition would kill the process. */
	return r == -ECANCELED && atomic_load(&stops) == 1 && reason == GRACE_REASON_SIGNAL(SIGTERM) && ok == 4 ? 0
	                                                                                                       : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int r = grace_stop_new(&stop, NULL);
	if (r < 0)
		die("stop_new", r);
	if (strcmp(argv[1], "term") == 0)
		return mode_term();
	if (strcmp(argv[1], "stuck") == 0)
		return mode_stuck();
	if (strcmp(argv[1], "burst") == 0)
		return mode_burst();
	return 2;
}
