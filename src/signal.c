/* SPDX-License-Identifier: MIT */
/*
 * signal.c - route signals (by default SIGINT and SIGTERM) to a stop: the
 * first requests it with the signal as its reason, any later one escalates.
 *
 * Design. The handlers, installed with sigaction(2), do one thing: write the
 * signal number as one byte into a self-pipe (write(2) is async-signal-safe;
 * errno is saved and restored). One internal thread, started with every
 * signal blocked so that it never runs a handler, reads the pipe and does the
 * rest outside any handler: the first routed signal requests the stop with
 * GRACE_REASON_SIGNAL(signo), every later one escalates (the callback set
 * with grace_signals_on_escalate, or by default the live grace threads on
 * stderr and _exit(128 + signo)). A disposition is process-wide, so whichever
 * thread the kernel picks runs the handler: threads created before or after
 * routing all work. (signalfd would need the signal blocked in every thread,
 * which depends on the order in which threads were created.)
 *
 * Unrouting restores the saved dispositions and must then be sure no handler
 * still uses the old pipe. A handler counts itself in `inflight` and only
 * then reads `pipe_wr`; unroute stores -1 in `pipe_wr` and only then waits
 * for `inflight` to drain; all four accesses are seq_cst, so either the
 * handler sees -1 or unroute sees it counted. It then sets `quitting` and
 * writes a wake byte (0, never a signal) so the thread ends even if a
 * forked child still holds the write end, and joins it.
 *
 * fork(): a child starts unrouted. An atfork handler restores the saved
 * dispositions in the child and closes its copy of the pipe, so a signal
 * sent to the child never reaches the parent's thread through the pipe.
 *
 * Lock order: `lock` guards the routing and the escalation callback. It is
 * never held while a callback runs, while the stop is requested, or while
 * the thread is joined; handlers never take it. fork() holds it across the
 * fork (atfork prepare), so the child sees a consistent routing.
 */
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NSIG
#define NSIG 65
#endif

#define MAX_ROUTED 32

struct route {
	grace_stop *stop;
	size_t count;
	int signals[MAX_ROUTED];
	struct sigaction old[MAX_ROUTED];
	int rd, wr; /* the self-pipe */
	pthread_t thread;
	_Atomic bool quitting; /* unroute began: the thread ends (seq_cst; the wake byte follows it) */
	bool detached;         /* unrouted from the thread itself: it frees the route */
	bool seen_first;       /* the thread's own: a signal has requested the stop */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct route *routed;
static void (*escalate_fn)(int signo, void *arg);
static void *escalate_arg;

/* The handlers' view: the pipe's write end (-1: none) and how many handlers
 * are running. Both seq_cst; see the protocol above. */
static _Atomic int pipe_wr = -1;
static _Atomic int inflight;

static void on_signal(int signo)
{
	int saved = errno;
	atomic_fetch_add_explicit(&inflight, 1, memory_order_seq_cst);
	int fd = atomic_load_explicit(&pipe_wr, memory_order_seq_cst);
	if (fd >= 0) {
		unsigned char b = (unsigned char)signo;
		/* A full pipe drops the byte: at least one byte is already
		 * queued, and any one of them has the same effect. */
		ssize_t n = write(fd, &b, 1);
		(void)n;
	}
	atomic_fetch_sub_explicit(&inflight, 1, memory_order_seq_cst);
	errno = saved;
}

static const char *signal_name(int signo)
{
	switch (signo) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	case SIGQUIT: return "SIGQUIT";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	default: return "signal";
	}
}

static _Noreturn void default_escalation(int signo)
{
	(void)fprintf(stderr, "grace: %s (%d) again while stopping\n", signal_name(signo), signo);
	grace__threads_print(stderr);
	(void)fprintf(stderr, "grace: exiting with status %d\n", 128 + signo);
	(void)fflush(stderr);
	_exit(128 + signo);
}

static void free_route(struct route *rt)
{
	close(rt->rd);
	free(rt);
}

static void *signal_main(void *arg)
{
	struct route *rt = arg;
	unsigned char buf[64];
	for (;;) {
		ssize_t n = read(rt->rd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* end of file: unrouted */
		for (ssize_t i = 0; i < n; i++) {
			if (atomic_load_explicit(&rt->quitting, memory_order_seq_cst))
				return NULL; /* unroute joins us and frees the route */
			int signo = buf[i];
			if (signo == 0)
				continue; /* a wake byte */
			if (!rt->seen_first) {
				rt->seen_first = true;
				grace__stop_request(rt->stop, GRACE_REASON_SIGNAL(signo));
			} else {
				grace__mutex_lock(&lock);
				void (*fn)(int, void *) = escalate_fn;
				void *fa = escalate_arg;
				grace__mutex_unlock(&lock);
				if (fn == NULL)
					default_escalation(signo);
				else
					fn(signo, fa);
			}
			/* The stop's callbacks or the escalation may have unrouted
			 * from this very thread: it then owns the route. */
			if (rt->detached) {
				free_route(rt);
				return NULL;
			}
		}
	}
	return NULL;
}

/* Restore the dispositions of the first `n` signals and wait until no
 * handler can still write to the pipe; then close its write end. Called with
 * `lock` held (handlers never take it). */
static void teardown_locked(struct route *rt, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sigaction(rt->signals[i], &rt->old[i], NULL);
	atomic_store_explicit(&pipe_wr, -1, memory_order_seq_cst);
	while (atomic_load_explicit(&inflight, memory_order_seq_cst) != 0)
		sched_yield();
	atomic_store_explicit(&rt->quitting, true, memory_order_seq_cst);
	/* Wake the thread. A full pipe needs no byte: the thread has bytes to
	 * read and sees `quitting` before the first. */
	unsigned char zero = 0;
	ssize_t w = write(rt->wr, &zero, 1);
	(void)w;
	close(rt->wr);
}

/* fork(): hold the lock across it, and leave the child unrouted. */
static void atfork_prepare(void)
{
	grace__mutex_lock(&lock);
}

static void atfork_parent(void)
{
	grace__mutex_unlock(&lock);
}

static void atfork_child(void)
{
	struct route *rt = routed;
	if (rt != NULL) {
		/* The thread does not exist here; nothing else ran yet. */
		for (size_t i = 0; i < rt->count; i++)
			sigaction(rt->signals[i], &rt->old[i], NULL);
		atomic_store_explicit(&pipe_wr, -1, memory_order_seq_cst);
		atomic_store_explicit(&inflight, 0, memory_order_seq_cst);
		close(rt->wr);
		grace__stop_pin(rt->stop, -1);
		free_route(rt);
		routed = NULL;
	}
	grace__mutex_unlock(&lock);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_status;

static void atfork_register(void)
{
	atfork_status = pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0 ? 0 : -ENOMEM;
}

static bool routable(int signo)
{
	if (signo <= 0 || signo >= NSIG || signo > 255)
		return false;
	switch (signo) {
	case SIGKILL:
	case SIGSTOP:
	/* Synchronous faults: a handler that returns re-runs the fault. */
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP: return false;
	default: return true;
	}
}

static int start_thread(struct route *rt)
{
	/* The thread takes no signals: their handlers run in the program's
	 * threads and only feed the pipe. */
	return grace__start_background(signal_main, rt, &rt->thread);
}

int grace_signals_route(grace_stop *stop, const int *signals, size_t count)
{
	static const int defaults[] = {SIGINT, SIGTERM};
	if (!grace__stop_live(stop))
		return -EINVAL;
	if (count == 0) {
		signals = defaults;
		count = sizeof defaults / sizeof defaults[0];
	}
	if (signals == NULL || count > MAX_ROUTED)
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (!routable(signals[i]))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (signals[j] == signals[i])
				return -EINVAL;
	}

	pthread_once(&atfork_once, atfork_register);
	if (atfork_status < 0)
		return atfork_status;
	grace__mutex_lock(&lock);
	if (routed != NULL) {
		grace__mutex_unlock(&lock);
		return -EBUSY;
	}
	struct route *rt = calloc(1, sizeof *rt);
	if (rt == NULL) {
		grace__mutex_unlock(&lock);
		return -ENOMEM;
	}
	rt->stop = stop;
	rt->count = count;
	memcpy(rt->signals, signals, count * sizeof *signals);
	/* Close-on-exec both ends from the start: fork() waits for `lock`
	 * (atfork), but posix_spawn and vfork run no atfork handler, and a
	 * child cloned between pipe(2) and fcntl would keep the ends across
	 * exec. pipe2 does it atomically where the system has it. */
	int p[2];
#ifdef HAVE_PIPE2
	int pr = pipe2(p, O_CLOEXEC);
#else
	int pr = pipe(p);
#endif
	if (pr < 0) {
		int e = -errno;
		free(rt);
		grace__mutex_unlock(&lock);
		return e;
	}
	rt->rd = p[0];
	rt->wr = p[1];
#ifndef HAVE_PIPE2
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
#endif
	/* A handler never blocks on a full pipe; the thread's end blocks. */
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	int r = start_thread(rt);
	if (r < 0) {
		close(p[1]);
		free_route(rt);
		grace__mutex_unlock(&lock);
		return r;
	}
	atomic_store_explicit(&pipe_wr, rt->wr, memory_order_seq_cst);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* SA_RESTART: the program's own blocking calls go on; grace's waits
	 * retry within their deadlines anyway. */
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < count; i++) {
		if (sigaction(signals[i], &sa, &rt->old[i]) < 0) {
			r = -errno;
			teardown_locked(rt, i);
			grace__mutex_unlock(&lock);
			pthread_join(rt->thread, NULL);
			free_route(rt);
			return r;
		}
	}
	/* The stop cannot be freed while routed (grace_stop_free: -EBUSY). */
	grace__stop_pin(stop, 1);
	routed = rt;
	grace__mutex_unlock(&lock);
	return 0;
}

int grace_signals_unroute(void)
{
	grace__mutex_lock(&lock);
	struct route *rt = routed;
	if (rt == NULL) {
		grace__mutex_unlock(&lock);
		return -EINVAL;
	}
	routed = NULL;
	teardown_locked(rt, rt->count);
	bool self = pthread_equal(pthread_self(), rt->thread);
	if (self) {
		/* From a stop callback or the escalation callback, in the
		 * signal thread: it frees the route when the callback returns. */
		rt->detached = true;
		pthread_detach(rt->thread);
	}
	grace__mutex_unlock(&lock);
	grace_stop *stop = rt->stop;
	if (!self) {
		pthread_join(rt->thread, NULL);
		free_route(rt);
	}
	/* The thread will not request the stop again (or, in the thread
	 * itself, is requesting it now, which free waits out). */
	grace__stop_pin(stop, -1);
	return 0;
}

int grace_signals_on_escalate(void (*fn)(int signo, void *arg), void *arg)
{
	grace__mutex_lock(&lock);
	escalate_fn = fn;
	escalate_arg = fn != NULL ? arg : NULL;
	grace__mutex_unlock(&lock);
	return 0;
}
