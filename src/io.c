/* SPDX-License-Identifier: MIT */
/*
 * io.c - interruptible I/O: read, write, recv, send, accept, connect and
 * poll (of one descriptor or a set) that return the moment their stop is
 * requested or their deadline passes.
 *
 * Design. A ready descriptor costs one system call: each call first tries
 * its transfer without blocking (MSG_DONTWAIT on sockets; on Linux
 * preadv2/pwritev2 with RWF_NOWAIT for read and write, which works on
 * pipes, sockets, eventfds and most other descriptors, blocking or not).
 * Only when the transfer answers EAGAIN does it wait, in ppoll(2) on two
 * descriptors at once (grace__poll, which grace_poll_many and
 * grace_waitpid share): the caller's, and the stop's wake descriptor
 * (grace_stop_fd: an eventfd on Linux, a pipe elsewhere), which the request
 * makes readable. The absolute deadline becomes ppoll's relative timeout,
 * recomputed before every call, so EINTR and spurious returns retry within
 * the same deadline and never stretch the total wait.
 *
 * Where the transfer cannot be made non-blocking per call (the portable
 * build, or a descriptor that refuses RWF_NOWAIT, like some terminals), a
 * descriptor with O_NONBLOCK set is tried first as usual; a blocking one is
 * polled first and then transferred once (writes at most PIPE_BUF bytes at a
 * time, which POLLOUT guarantees room for on a pipe). grace.h states what
 * that means for a blocking descriptor shared with another reader.
 *
 * grace_poll_many polls a copy of the caller's set with the stop's
 * descriptor appended (on the stack up to 128 entries), and writes the
 * revents back only when it answers a count.
 *
 * No locks of its own and no shared state. The only lock touched is the
 * stop's, inside grace_stop_fd(), and only on the way to a wait.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* How a transfer is attempted. */
enum mode {
	MODE_UNKNOWN,    /* not decided yet: ask fcntl */
	MODE_NOWAIT,     /* per-call non-blocking: MSG_DONTWAIT or RWF_NOWAIT */
	MODE_DIRECT,     /* plain call first: the descriptor does not block (or is a disk file) */
	MODE_POLL_FIRST, /* blocking descriptor: poll, then one plain call */
};

enum kind { K_READ, K_WRITE, K_RECV, K_SEND };

struct xfer {
	int fd;
	char *buf;
	size_t len;
	int flags; /* recv/send flags, MSG_WAITALL removed */
	enum kind kind;
	bool all;       /* go on until len bytes (writes, sends, MSG_WAITALL) */
	short events;   /* POLLIN or POLLOUT */
	const char *op; /* for the blocked-on record */
};

/* The longest timeout handed to ppoll at once, in nanoseconds: within a
 * 32-bit time_t. A deadline further away (GRACE_FOREVER - 1) sleeps in
 * steps of about 68 years, each recomputed from the same deadline. */
#define MAX_TIMEOUT_NS ((int64_t)INT32_MAX * 1000000000)

/* Whether `stop` is NULL or a live stop: anything else is -EINVAL, checked
 * with the other arguments, before the descriptor is touched. */
static bool stop_ok(grace_stop *stop)
{
	return stop == NULL || grace__stop_live(stop);
}

static bool is_write(enum kind k)
{
	return k == K_WRITE || k == K_SEND;
}

/* The wait every call here ends in (grace__poll in internal.h): ppoll on
 * p[0..n-1] and on the stop's wake descriptor, which goes in p[n]. */
int grace__poll(struct pollfd *p, nfds_t n, grace_stop *stop, int64_t d, const char *op)
{
	nfds_t total = n;
	if (stop != NULL) {
		int sfd = grace_stop_fd(stop);
		if (sfd < 0)
			return sfd;
		p[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
		total = n + 1;
	}
	bool recorded = false;
	int r;
	for (;;) {
		if (grace_stop_requested(stop)) {
			r = -ECANCELED;
			break;
		}
		struct timespec ts, *tp = NULL;
		if (d != GRACE_FOREVER) {
			/* Compare before subtracting: d - now overflows for a
			 * deadline far in the past (INT64_MIN is a try too). */
			int64_t now = grace__os_now();
			int64_t left = d > now ? d - now : 0;
			if (left > MAX_TIMEOUT_NS)
				left = MAX_TIMEOUT_NS; /* the loop sleeps again */
			ts.tv_sec = (time_t)(left / 1000000000);
			ts.tv_nsec = (long)(left % 1000000000);
			tp = &ts;
		}
		if (!recorded && (tp == NULL || tp->tv_sec != 0 || tp->tv_nsec != 0)) {
			/* Only a call that may really sleep is recorded. */
			grace__blocked_begin(op, NULL, 0);
			recorded = true;
		}
		int k = ppoll(p, total, tp, NULL);
		if (k < 0) {
			if (errno == EINTR)
				continue; /* the same absolute deadline, recomputed above */
			r = -errno;
			break;
		}
		bool stopped = total > n && p[n].revents != 0;
		if (k > (int)stopped) {
			/* The caller's descriptors win over the stop. */
			r = k - (int)stopped;
			break;
		}
		if (stopped) {
			r = -ECANCELED;
			break;
		}
		if (tp != NULL && grace__os_now() >= d) {
			r = -ETIMEDOUT;
			break;
		}
	}
	if (recorded)
		grace__blocked_end();
	return r;
}

/* Wait until `fd` reports one of `events`, the stop is requested or `d`
 * passes. Returns the revents (> 0), -ECANCELED, -ETIMEDOUT, -EBADF for a
 * closed descriptor (POLLNVAL), or another error from the system. When the
 * descriptor and the stop are ready together the descriptor wins: the
 * caller then completes what it can at once, as every grace call does. */
static int wait_fd(int fd, short events, grace_stop *stop, int64_t d, const char *op)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = -1}};
	int r = grace__poll(p, 1, stop, d, op);
	if (r < 0)
		return r;
	if (p[0].revents & POLLNVAL)
		return -EBADF;
	return (int)(unsigned short)p[0].revents;
}

/* The plain-call mode of a descriptor: DIRECT when it does not block. */
static int probe_mode(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	return (fl & O_NONBLOCK) ? MODE_DIRECT : MODE_POLL_FIRST;
}

/* Whether poll(2) tells nothing about fd: a regular file or block device is
 * always "ready", yet RWF_NOWAIT may still answer EAGAIN on a cache miss. */
static bool is_disk(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

/* One attempt. Returns the count or a negative errno. */
static ssize_t attempt(const struct xfer *x, size_t done, enum mode mode)
{
	char *p = x->buf + done;
	size_t n = x->len - done;
	int dontwait = mode == MODE_NOWAIT ? MSG_DONTWAIT : 0;
	ssize_t r;
	if (x->kind == K_RECV) {
		r = recv(x->fd, p, n, x->flags | dontwait);
	} else if (x->kind == K_SEND) {
		r = send(x->fd, p, n, x->flags | dontwait);
#ifdef GRACE_HAVE_RWF_NOWAIT
	} else if (mode == MODE_NOWAIT) {
		struct iovec iov = {.iov_base = p, .iov_len = n};
		r = x->kind == K_READ ? preadv2(x->fd, &iov, 1, -1, RWF_NOWAIT)
		                      : pwritev2(x->fd, &iov, 1, -1, RWF_NOWAIT);
#endif
	} else if (x->kind == K_READ) {
		r = read(x->fd, p, n);
	} else {
		/* After a poll on a blocking descriptor, write no more than
		 * POLLOUT promises room for, so the call does not block. */
		if (mode == MODE_POLL_FIRST && n > PIPE_BUF)
			n = PIPE_BUF;
		r = write(x->fd, p, n);
	}
	return r < 0 ? -errno : r;
}

static enum mode initial_mode(const struct xfer *x)
{
	if (x->kind == K_RECV || x->kind == K_SEND)
		return MODE_NOWAIT;
#ifdef GRACE_HAVE_RWF_NOWAIT
	return MODE_NOWAIT;
#else
	return MODE_UNKNOWN;
#endif
}

/* The loop shared by every transfer: attempt, wait on EAGAIN, attempt
 * again. A stop or deadline after some bytes went out returns that count. */
static ssize_t run(struct xfer *x, grace_stop *stop, int64_t d)
{
	enum mode mode = initial_mode(x);
	size_t done = 0;
	/* Whether the last wait reported the descriptor ready. Zero bytes never
	 * wait: the plain call answers at once, even on a blocking descriptor. */
	bool ready = x->len == 0;
	for (;;) {
		if (mode == MODE_UNKNOWN) {
			int m = probe_mode(x->fd);
			if (m < 0)
				return done > 0 ? (ssize_t)done : m;
			mode = (enum mode)m;
		}
		if (mode != MODE_POLL_FIRST || ready) {
			ssize_t n = attempt(x, done, mode);
			if (n >= 0) {
				done += (size_t)n;
				if (!x->all || done == x->len || n == 0)
					return (ssize_t)done;
				/* Part went out: go on, unless the stop now wins. */
				ready = false;
				if (grace_stop_requested(stop))
					return (ssize_t)done;
				continue;
			}
			if (n == -EINTR) {
				ready = false;
				if (grace_stop_requested(stop))
					return done > 0 ? (ssize_t)done : -ECANCELED;
				continue;
			}
			if (mode == MODE_NOWAIT && (x->kind == K_READ || x->kind == K_WRITE) &&
			    (n == -EOPNOTSUPP || n == -ENOSYS)) {
				/* This descriptor (or kernel) refuses RWF_NOWAIT. */
				mode = MODE_UNKNOWN;
				continue;
			}
			if (n != -EAGAIN && n != -EWOULDBLOCK)
				return done > 0 ? (ssize_t)done : n;
			if (ready && mode == MODE_NOWAIT && (x->kind == K_READ || x->kind == K_WRITE) &&
			    is_disk(x->fd)) {
				/* A file poll calls ready but whose page cache missed:
				 * a plain call waits for the disk, not for a peer. */
				mode = MODE_DIRECT;
				continue;
			}
		}
		int r = wait_fd(x->fd, x->events, stop, d, x->op);
		if (r < 0)
			return done > 0 ? (ssize_t)done : r;
		ready = true;
	}
}

static ssize_t transfer(int fd, void *buf, size_t len, int flags, enum kind kind, grace_stop *stop,
                        grace_deadline d)
{
	static const char *const ops[] = {"read", "write", "recv", "send"};
	if (buf == NULL || len > SSIZE_MAX)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!stop_ok(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	struct xfer x = {
		.fd = fd,
		.buf = buf,
		.len = len,
		.flags = flags & ~MSG_WAITALL,
		.kind = kind,
		.all = is_write(kind) || (kind == K_RECV && (flags & MSG_WAITALL) != 0),
		.events = is_write(kind) ? POLLOUT : POLLIN,
		.op = ops[kind],
	};
	return run(&x, stop, d);
}

int grace_poll(int fd, short events, grace_stop *stop, grace_deadline d)
{
	if (fd < 0)
		return -EBADF;
	if (!stop_ok(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	return wait_fd(fd, events, stop, d, "poll");
}

/* Up to this many descriptors grace_poll_many copies the set onto its own
 * stack (1 KiB); a larger set is copied into one allocation for the length
 * of the call. */
#define POLL_MANY_STACK 128

int grace_poll_many(struct pollfd *fds, nfds_t n, grace_stop *stop, grace_deadline d)
{
	if (fds == NULL && n > 0)
		return -EINVAL;
	if (!stop_ok(stop))
		return -EINVAL;
	/* The count must fit the int result, and the copy (with the stop's
	 * place) the descriptor limit, which ppoll(2) enforces too. */
	if (n >= INT_MAX)
		return -EINVAL;
	if (n > POLL_MANY_STACK) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    (rlim_t)n + (stop != NULL) > rl.rlim_cur)
			return -EINVAL;
	}
	if (grace_stop_requested(stop))
		return -ECANCELED;
	/* The wait works on a copy, so that the caller's revents change only
	 * when the call answers a count, and the stop's descriptor has its
	 * place after the caller's. */
	struct pollfd local[POLL_MANY_STACK + 1];
	struct pollfd *p = local;
	if (n > POLL_MANY_STACK) {
		p = grace__malloc(((size_t)n + 1) * sizeof *p);
		if (p == NULL)
			return -ENOMEM;
	}
	for (nfds_t i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = fds[i].fd, .events = fds[i].events};
	int r = grace__poll(p, n, stop, d, "poll");
	if (r >= 0)
		for (nfds_t i = 0; i < n; i++)
			fds[i].revents = p[i].revents;
	if (p != local)
		free(p);
	return r;
}

ssize_t grace_read(int fd, void *buf, size_t len, grace_stop *stop, grace_deadline d)
{
	return transfer(fd, buf, len, 0, K_READ, stop, d);
}

ssize_t grace_write(int fd, const void *buf, size_t len, grace_stop *stop, grace_deadline d)
{
	return transfer(fd, (void *)(uintptr_t)buf, len, 0, K_WRITE, stop, d);
}

ssize_t grace_recv(int fd, void *buf, size_t len, int flags, grace_stop *stop, grace_deadline d)
{
	return transfer(fd, buf, len, flags, K_RECV, stop, d);
}

ssize_t grace_send(int fd, const void *buf, size_t len, int flags, grace_stop *stop, grace_deadline d)
{
	return transfer(fd, (void *)(uintptr_t)buf, len, flags, K_SEND, stop, d);
}

int grace_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, grace_stop *stop, grace_deadline d)
{
	if (addr != NULL && addrlen == NULL)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!stop_ok(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	/* accept(2) has no per-call non-blocking flag. A non-blocking listener
	 * is tried first; a blocking one is checked (a socket, listening) and
	 * then polled first, so that accept(2) runs only once poll says a
	 * connection waits. A connection taken by another thread in between
	 * gives EAGAIN on a non-blocking listener, and the loop waits again. */
	int m = probe_mode(fd);
	if (m < 0)
		return m;
	if (m == MODE_POLL_FIRST) {
		int listening = 0;
		socklen_t sl = sizeof listening;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0)
			return -errno;
		if (!listening)
			return -EINVAL;
	}
	socklen_t len0 = addrlen != NULL ? *addrlen : 0;
	bool ready = m == MODE_DIRECT;
	for (;;) {
		if (ready) {
			if (addrlen != NULL)
				*addrlen = len0;
			int c = accept(fd, addr, addrlen);
			if (c >= 0)
				return c;
			int e = errno;
			if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED)
				return -e;
			/* Taken by another thread, interrupted, or aborted by the
			 * peer before we took it: wait for the next one, same
			 * deadline. */
		}
		int r = wait_fd(fd, POLLIN, stop, d, "accept");
		if (r < 0)
			return r;
		ready = true;
	}
}

/* Abandon a connection attempt so that nothing half-open stays behind:
 * connecting to AF_UNSPEC dissolves the association (the socket returns to
 * the unconnected state on Linux and the BSDs). Where the system refuses,
 * the caller's close(2) does the same. */
static void abort_connect(int fd)
{
	struct sockaddr sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNSPEC;
	(void)connect(fd, &sa, sizeof sa);
}

int grace_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, grace_stop *stop, grace_deadline d)
{
	if (addr == NULL)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!stop_ok(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* A blocking connect cannot be interrupted: make this one non-blocking
	 * for the duration of the call. */
	bool restore = (fl & O_NONBLOCK) == 0;
	if (restore && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int r = 0;
	if (connect(fd, addr, addrlen) < 0) {
		int e = errno;
		if (e == EINPROGRESS || e == EALREADY || e == EINTR) {
			/* In progress (an interrupted connect goes on too). */
			r = wait_fd(fd, POLLOUT, stop, d, "connect");
			if (r < 0) {
				abort_connect(fd);
			} else if (r > 0) {
				int err = 0;
				socklen_t el = sizeof err;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
					err = errno;
				r = -err;
			}
		} else {
			r = -e;
		}
	}
	if (restore)
		(void)fcntl(fd, F_SETFL, fl);
	return r;
}
