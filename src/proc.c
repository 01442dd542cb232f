/* SPDX-License-Identifier: MIT */
/*
 * proc.c - grace_waitpid: waitpid(2) that returns the moment its stop is
 * requested or its deadline passes, and never reaps a child it was not
 * asked about.
 *
 * Design. Every call first tries waitpid(pid, WNOHANG): a child that has
 * exited costs one system call, and a pid that is no child of ours answers
 * ECHILD at once. To wait, a call for one child (pid > 0, exits only) polls
 * a pidfd of it (Linux 5.3) beside the stop's wake descriptor, in the same
 * ppoll loop as the I/O calls (grace__poll), and reaps once it is readable.
 * A pidfd cannot name "any child" or a process group, does not report stops
 * or continuations, and older kernels lack it; those calls hand the wait to
 * a watcher thread blocked in waitid(2) with WNOWAIT, which sees a state
 * change without consuming it, and sleep in the wait core on the watcher's
 * word (futex_waitv with the stop, or the lot). Either way nothing polls,
 * no SIGCHLD handler is installed, and the caller reaps with waitpid WNOHANG
 * on its own selection only, so nothing it did not ask for is consumed.
 *
 * A watcher outlives a call that its stop or deadline ended: a thread cannot
 * be pulled out of waitid without a signal, and grace sends none. So calls
 * with the same selection share one (the registry below), and each watcher
 * ends after its one waitid returns: at the next state change of a selected
 * child, or when none is left.
 *
 * Locks: `wlock` guards the registry and the watchers' reference counts; it
 * is taken alone, never held while sleeping, starting nothing but a thread.
 */
#include "internal.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef GRACE_HAVE_PIDFD
#include <sys/syscall.h>
#endif

#define VALID_OPTIONS (WNOHANG | WUNTRACED | WCONTINUED)

_Atomic bool grace__waitpid_no_pidfd;
_Atomic long grace__waitpid_watchers_started;
_Atomic long grace__waitpid_watchers_live;

/* One waitid(2) in a thread of its own, for every call with its selection. */
struct watcher {
	struct grace__link link; /* in `watchers` while `linked` */
	bool linked;             /* its waitid has not returned */
	idtype_t idtype;         /* the selection */
	id_t id;
	int flags; /* waitid's: WEXITED | WNOWAIT, and WSTOPPED, WCONTINUED */
	/* 0 until waitid returned; stored (release) under wlock, then woken.
	 * The calls sleep on it and read it with acquire (grace__wait). */
	_Atomic uint32_t done;
	int err;       /* waitid's errno, or 0: written before `done` */
	unsigned refs; /* the thread's and each waiting call's */
};

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct grace__list watchers; /* pending watchers, under wlock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	grace__mutex_lock(&wlock);
}

static void atfork_parent(void)
{
	grace__mutex_unlock(&wlock);
}

/* A forked child has none of the parent's watcher threads, and its calls
 * must not wait on them: it starts with an empty registry. The records are
 * the parent's (and, in the child, no thread refers to them any more). */
static void atfork_child(void)
{
	struct grace__link *it, *nx;
	grace__list_for_each_safe(&watchers, it, nx) {
		grace__list_remove(&watchers, it);
		free(grace__container_of(it, struct watcher, link));
	}
	atomic_store_explicit(&grace__waitpid_watchers_live, 0, memory_order_relaxed);
	grace__mutex_unlock(&wlock);
}

static void atfork_register(void)
{
	/* Without it a forked child could wait on a thread it does not have;
	 * registering fails only for want of memory, and then the child
	 * inherits the registry as it is. */
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void put_locked(struct watcher *w)
{
	GRACE_ASSERT(w->refs > 0);
	if (--w->refs == 0)
		free(w);
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	siginfo_t si;
	int r;
	do {
		memset(&si, 0, sizeof si);
		r = waitid(w->idtype, w->id, &si, w->flags);
	} while (r < 0 && errno == EINTR);
	int err = r < 0 ? errno : 0;
	grace__mutex_lock(&wlock);
	grace__list_remove(&watchers, &w->link);
	w->linked = false;
	w->err = err;
	atomic_store_explicit(&w->done, 1, memory_order_release);
	atomic_fetch_sub_explicit(&grace__waitpid_watchers_live, 1, memory_order_relaxed);
	grace__mutex_unlock(&wlock);
	/* Our reference keeps the word alive through the wake. */
	grace__os_wake(&w->done, INT32_MAX);
	grace__mutex_lock(&wlock);
	put_locked(w);
	grace__mutex_unlock(&wlock);
	return NULL;
}

/* Wait until a child selected by (idtype, id) changes state as `flags`
 * asks, without reaping it: 0 when one did (or none is left; the caller's
 * waitpid tells which), -ECANCELED, -ETIMEDOUT, -ENOMEM, -EAGAIN, or the
 * watcher's error. */
static int watch(idtype_t idtype, id_t id, int flags, grace_stop *stop, int64_t d, struct grace__site *site)
{
	pthread_once(&atfork_once, atfork_register);
	struct watcher *w = NULL;
	struct grace__link *it;
	grace__mutex_lock(&wlock);
	grace__list_for_each(&watchers, it) {
		struct watcher *x = grace__container_of(it, struct watcher, link);
		if (x->idtype == idtype && x->id == id && x->flags == flags) {
			w = x;
			break;
		}
	}
	if (w == NULL) {
		w = grace__calloc(1, sizeof *w);
		if (w == NULL) {
			grace__mutex_unlock(&wlock);
			return -ENOMEM;
		}
		w->idtype = idtype;
		w->id = id;
		w->flags = flags;
		w->refs = 1; /* the thread's */
		/* Linked before it starts: it unlinks itself under this lock. */
		grace__list_insert_tail(&watchers, &w->link);
		w->linked = true;
		int r = grace__start_background(watcher_main, w, NULL);
		if (r < 0) {
			grace__list_remove(&watchers, &w->link);
			grace__mutex_unlock(&wlock);
			free(w);
			return r;
		}
		atomic_fetch_add_explicit(&grace__waitpid_watchers_started, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&grace__waitpid_watchers_live, 1, memory_order_relaxed);
	}
	w->refs++;
	grace__mutex_unlock(&wlock);

	int r;
	do
		r = grace__wait_nospin(&w->done, 0, stop, d, site);
	while (r == 0 && atomic_load_explicit(&w->done, memory_order_acquire) == 0);

	grace__mutex_lock(&wlock);
	int err = r == 0 ? w->err : 0;
	put_locked(w);
	grace__mutex_unlock(&wlock);
	if (r < 0)
		return r;
	/* ECHILD: the caller's waitpid says it. Anything else would make the
	 * caller start watcher after watcher: give it back instead. */
	return err == 0 || err == ECHILD ? 0 : -err;
}

/* Hand the wait for `pid` to a watcher: the selection waitpid(2) makes. */
static int watch_pid(pid_t pid, int options, grace_stop *stop, int64_t d, struct grace__site *site)
{
	int flags = WEXITED | WNOWAIT;
	if (options & WUNTRACED)
		flags |= WSTOPPED;
	if (options & WCONTINUED)
		flags |= WCONTINUED;
	if (pid > 0)
		return watch(P_PID, (id_t)pid, flags, stop, d, site);
	if (pid == -1)
		return watch(P_ALL, 0, flags, stop, d, site);
	if (pid == 0)
		return watch(P_PGID, (id_t)getpgrp(), flags, stop, d, site);
	/* -pid, without overflow for the most negative pid. */
	id_t pgid = (id_t)(-(pid + 1)) + 1;
	return watch(P_PGID, pgid, flags, stop, d, site);
}

#ifdef GRACE_HAVE_PIDFD
/* Set once pidfd_open answers ENOSYS (or EPERM: a seccomp filter), so that
 * later calls go straight to a watcher. */
static _Atomic bool pidfd_missing;

/* A pidfd of `pid`, -ENOSYS where the system has none, or another error. */
static int open_pidfd(pid_t pid)
{
	if (atomic_load_explicit(&grace__waitpid_no_pidfd, memory_order_relaxed) ||
	    atomic_load_explicit(&pidfd_missing, memory_order_relaxed))
		return -ENOSYS;
	long fd = syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by itself */
	if (fd >= 0)
		return (int)fd;
	int e = errno;
	if (e == ENOSYS || e == EPERM) {
		atomic_store_explicit(&pidfd_missing, true, memory_order_relaxed);
		return -ENOSYS;
	}
	return -e;
}
#endif

pid_t grace_waitpid(pid_t pid, int *status, int options, grace_stop *stop, grace_deadline d)
{
	if ((options & ~VALID_OPTIONS) != 0)
		return -EINVAL;
	if (stop != NULL && !grace__stop_live(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	struct grace__site site = {"waitpid", NULL, 0};
	/* The pidfd path serves one child's exit; `pfd` is -1 until opened,
	 * and `pidfd_ok` goes false when it cannot serve this call. */
	bool pidfd_ok = pid > 0 && (options & (WUNTRACED | WCONTINUED)) == 0;
	int pfd = -1;
	bool woke = false; /* the pidfd said the child exited */
	pid_t r;
	for (;;) {
		int st;
		r = waitpid(pid, &st, options | WNOHANG);
		if (r > 0) {
			if (status != NULL)
				*status = st;
			break;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (options & WNOHANG)
			break;
		/* Nothing yet: wait for a change, then look again. */
		if (grace_stop_requested(stop)) {
			r = -ECANCELED;
			break;
		}
		if (grace__os_now() >= d) {
			r = -ETIMEDOUT;
			break;
		}
		if (woke)
			pidfd_ok = false; /* readable, yet nothing to reap: leave it */
#ifdef GRACE_HAVE_PIDFD
		if (pidfd_ok && pfd < 0) {
			pfd = open_pidfd(pid);
			if (pfd == -ENOSYS || pfd == -ESRCH) {
				/* No pidfds here; or the child was reaped
				 * meanwhile, which waitpid will say. */
				pidfd_ok = false;
			} else if (pfd < 0) {
				r = pfd;
				break;
			}
		}
#else
		pidfd_ok = false;
#endif
		int w;
		if (pidfd_ok) {
			struct pollfd p[2] = {{.fd = pfd, .events = POLLIN}, {.fd = -1}};
			w = grace__poll(p, 1, stop, d, site.op);
			woke = w > 0;
		} else {
			w = watch_pid(pid, options, stop, d, &site);
		}
		if (w < 0) {
			r = w;
			break;
		}
	}
	if (pfd >= 0)
		close(pfd);
	return r;
}
