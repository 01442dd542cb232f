/* SPDX-License-Identifier: MIT */
/*
 * io_test.c - interruptible I/O: every call returns on the stop and at its
 * deadline, on blocking and non-blocking descriptors; ready data comes
 * first; a stopped write reports exactly what went out; misuse answers codes.
 *
 * Threads are ordered by handshakes: a thread publishes its kernel thread id
 * and the test waits until /proc shows it blocked in the expected system
 * call (ppoll for I/O), so "woken while blocked" is really tested and not
 * the stop-already-requested path.
 */
#include "test.h"

#include "internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The system call `tid` is blocked in: its number, -1 while running, -2 if
 * the system does not say. */
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

/* Wait until the thread published in *tidp sleeps in ppoll. */
static void wait_in_ppoll(_Atomic pid_t *tidp)
{
	WAIT_UNTIL(atomic_load(tidp) != 0);
	pid_t tid = atomic_load(tidp);
	long nr;
	WAIT_UNTIL((nr = blocked_syscall(tid)) == SYS_ppoll || nr == -2);
}

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	ASSERT_GE(fl, 0);
	ASSERT_EQ(fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)), 0);
}

static bool is_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static void make_pipe(int p[2], bool nonblock)
{
	ASSERT_EQ(pipe(p), 0);
	set_nonblock(p[0], nonblock);
	set_nonblock(p[1], nonblock);
}

static void make_socketpair(int s[2], bool nonblock)
{
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	set_nonblock(s[0], nonblock);
	set_nonblock(s[1], nonblock);
}

static int tcp_listener(struct sockaddr_in *a, int backlog, bool nonblock)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(l, (struct sockaddr *)a, sizeof *a), 0);
	ASSERT_EQ(listen(l, backlog), 0);
	socklen_t al = sizeof *a;
	ASSERT_EQ(getsockname(l, (struct sockaddr *)a, &al), 0);
	set_nonblock(l, nonblock);
	return l;
}

static int tcp_socket(bool nonblock)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(s, 0);
	set_nonblock(s, nonblock);
	return s;
}

/* Bytes waiting to be read on fd. */
static int pending(int fd)
{
	int n = -1;
	ASSERT_EQ(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static int64_t ms_since(grace_deadline t0)
{
	return (grace_now() - t0) / 1000000;
}

static grace_stop *new_stop(void)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

static grace_stop *requested_stop(void)
{
	grace_stop *s = new_stop();
	ASSERT_RC(grace_stop_request(s, 1), 1);
	return s;
}

/* A descriptor number that is certainly closed. */
static int closed_fd(void)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	close(p[1]);
	close(p[0]);
	return p[0];
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 9));
}

/* ---- precedence: a stop already requested wins, before the descriptor ---- */

TEST(stop_wins_before_touching_fd)
{
	grace_stop *s = requested_stop();
	char buf[8];
	for (int nb = 0; nb < 2; nb++) {
		int p[2], sp[2];
		make_pipe(p, nb);
		make_socketpair(sp, nb);
		ASSERT_EQ(write(p[1], "abc", 3), 3);
		ASSERT_EQ(send(sp[1], "abc", 3, 0), 3);

		ASSERT_RC(grace_read(p[0], buf, sizeof buf, s, GRACE_FOREVER), -ECANCELED);
		ASSERT_RC(grace_recv(sp[0], buf, sizeof buf, 0, s, GRACE_FOREVER), -ECANCELED);
		ASSERT_RC(grace_poll(p[0], POLLIN, s, GRACE_FOREVER), -ECANCELED);
		ASSERT_EQ(pending(p[0]), 3); /* nothing consumed */
		ASSERT_EQ(pending(sp[0]), 3);

		ASSERT_RC(grace_write(p[1], "xy", 2, s, GRACE_FOREVER), -ECANCELED);
		ASSERT_RC(grace_send(sp[1], "xy", 2, 0, s, GRACE_FOREVER), -ECANCELED);
		ASSERT_EQ(pending(p[0]), 3); /* nothing written */
		ASSERT_EQ(pending(sp[0]), 3);
		close(p[0]), close(p[1]), close(sp[0]), close(sp[1]);
	}

	/* accept leaves the pending connection queued; connect connects nothing. */
	struct sockaddr_in a;
	int l = tcp_listener(&a, 8, true);
	int c = tcp_socket(false);
	ASSERT_EQ(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	ASSERT_RC(grace_accept(l, NULL, NULL, s, GRACE_FOREVER), -ECANCELED);
	int got = accept(l, NULL, NULL);
	ASSERT_GE(got, 0);
	close(got);
	int c2 = tcp_socket(false);
	ASSERT_RC(grace_connect(c2, (struct sockaddr *)&a, sizeof a, s, GRACE_FOREVER), -ECANCELED);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	ASSERT_EQ(getpeername(c2, (struct sockaddr *)&peer, &pl), -1);
	ASSERT_EQ(errno, ENOTCONN);
	ASSERT_EQ(accept(l, NULL, NULL), -1); /* no second connection arrived */
	close(c), close(c2), close(l);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- a call that can complete at once does, even with a past deadline ---- */

TEST(ready_completes_with_past_deadline)
{
	grace_deadline past = grace_now() - 1;
	char buf[8];
	for (int nb = 0; nb < 2; nb++) {
		int p[2], sp[2];
		make_pipe(p, nb);
		make_socketpair(sp, nb);
		ASSERT_RC(grace_write(p[1], "abc", 3, NULL, past), 3);
		ASSERT_RC(grace_send(sp[1], "abcd", 4, 0, NULL, past), 4);
		ASSERT_RC(grace_poll(p[0], POLLIN, NULL, past), POLLIN);
		ASSERT_RC(grace_read(p[0], buf, sizeof buf, NULL, past), 3);
		ASSERT_EQ(memcmp(buf, "abc", 3), 0);
		ASSERT_RC(grace_recv(sp[0], buf, sizeof buf, 0, NULL, past), 4);
		ASSERT_EQ(memcmp(buf, "abcd", 4), 0);
		/* And with nothing there, a try answers at once. */
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_read(p[0], buf, sizeof buf, NULL, past), -ETIMEDOUT);
		ASSERT_RC(grace_recv(sp[0], buf, sizeof buf, 0, NULL, past), -ETIMEDOUT);
		ASSERT_RC(grace_poll(p[0], POLLIN, NULL, past), -ETIMEDOUT);
		ASSERT_LT(ms_since(t0), test_slack_ms());
		close(p[0]), close(p[1]), close(sp[0]), close(sp[1]);
	}
	struct sockaddr_in a;
	int l = tcp_listener(&a, 8, false);
	ASSERT_RC(grace_accept(l, NULL, NULL, NULL, past), -ETIMEDOUT);
	int c = tcp_socket(false);
	ASSERT_EQ(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	int got = grace_accept(l, (struct sockaddr *)&from, &fl, NULL, past);
	ASSERT_GE(got, 0);
	ASSERT_EQ(fl, sizeof from);
	ASSERT_EQ(from.sin_family, AF_INET);
	close(got), close(c), close(l);
}

/* A ready descriptor never takes the waiting path (nothing is recorded):
 * sockets always, pipes when non-blocking, and blocking pipes too where the
 * transfer can be made non-blocking per call (RWF_NOWAIT). */
TEST(ready_calls_do_not_wait)
{
	struct grace__blocked rec = {0};
	grace__self_blocked = &rec;
	grace_stop *s = new_stop();
	char buf[16];
	for (int nb = 0; nb < 2; nb++) {
		int p[2], sp[2];
		make_pipe(p, nb);
		make_socketpair(sp, nb);
		for (int i = 0; i < 100; i++) {
			ASSERT_RC(grace_send(sp[1], "0123456789", 10, 0, s, GRACE_FOREVER), 10);
			ASSERT_RC(grace_recv(sp[0], buf, sizeof buf, 0, s, GRACE_FOREVER), 10);
		}
		ASSERT_EQ(atomic_load(&rec.seq), 0);
#ifndef GRACE_HAVE_RWF_NOWAIT
		if (!nb) {
			close(p[0]), close(p[1]), close(sp[0]), close(sp[1]);
			continue; /* polled first: documented in grace.h */
		}
#endif
		for (int i = 0; i < 100; i++) {
			ASSERT_RC(grace_write(p[1], "0123456789", 10, s, GRACE_FOREVER), 10);
			ASSERT_RC(grace_read(p[0], buf, sizeof buf, s, GRACE_FOREVER), 10);
		}
		ASSERT_EQ(atomic_load(&rec.seq), 0);
		close(p[0]), close(p[1]), close(sp[0]), close(sp[1]);
	}
	grace__self_blocked = NULL;
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- deadlines ---- */

enum op { OP_RECV, OP_ACCEPT, OP_READ, OP_POLL, OP_SLEEP, OP_WRITE, OP_CONNECT, OP_COUNT };
static const char *const op_names[] = {"recv", "accept", "read", "poll", "sleep", "write", "connect"};

struct blocker {
	enum op op;
	bool nonblock;
	int fd;
	struct sockaddr_in addr; /* connect */
	grace_stop *stop;
	grace_deadline d;
	_Atomic pid_t tid;
	long result;
	grace_deadline returned;
	_Atomic bool done;
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;
	char buf[64];
	atomic_store(&b->tid, tid_self());
	switch (b->op) {
	case OP_RECV: b->result = grace_recv(b->fd, buf, sizeof buf, 0, b->stop, b->d); break;
	case OP_ACCEPT: b->result = grace_accept(b->fd, NULL, NULL, b->stop, b->d); break;
	case OP_READ: b->result = grace_read(b->fd, buf, sizeof buf, b->stop, b->d); break;
	case OP_POLL: b->result = grace_poll(b->fd, POLLIN, b->stop, b->d); break;
	case OP_SLEEP: b->result = grace_sleep(b->stop, b->d); break;
	case OP_WRITE: b->result = grace_write(b->fd, buf, sizeof buf, b->stop, b->d); break;
	case OP_CONNECT:
		b->result = grace_connect(b->fd, (struct sockaddr *)&b->addr, sizeof b->addr, b->stop, b->d);
		break;
	default: b->result = -1000; break;
	}
	b->returned = grace_now();
	atomic_store(&b->done, true);
	return NULL;
}

/* The descriptors a blocker needs; returns what to close afterwards. */
struct fds {
	int n;
	int fd[4];
};

static void fill_pipe(int wfd)
{
	bool nb = is_nonblock(wfd);
	set_nonblock(wfd, true);
	static char junk[65536];
	while (write(wfd, junk, sizeof junk) > 0)
		;
	while (write(wfd, junk, 1) > 0)
		;
	set_nonblock(wfd, nb);
}

/* A TCP connect that hangs: the listener's backlog (0) is full already, so
 * the kernel drops the SYNs. */
struct hang {
	int l, c1;
	struct sockaddr_in a;
};

static void hang_open(struct hang *h)
{
	h->l = tcp_listener(&h->a, 0, false);
	h->c1 = tcp_socket(false);
	ASSERT_EQ(connect(h->c1, (struct sockaddr *)&h->a, sizeof h->a), 0);
}

static void hang_close(struct hang *h)
{
	close(h->c1);
	close(h->l);
}

static void setup_blocker(struct blocker *b, struct fds *f, struct hang *h)
{
	int p[2];
	f->n = 0;
	switch (b->op) {
	case OP_RECV:
		make_socketpair(p, b->nonblock);
		b->fd = p[0];
		f->fd[f->n++] = p[0], f->fd[f->n++] = p[1];
		break;
	case OP_ACCEPT: {
		struct sockaddr_in a;
		b->fd = tcp_listener(&a, 8, b->nonblock);
		f->fd[f->n++] = b->fd;
		break;
	}
	case OP_READ:
	case OP_POLL:
		make_pipe(p, b->nonblock);
		b->fd = p[0];
		f->fd[f->n++] = p[0], f->fd[f->n++] = p[1];
		break;
	case OP_WRITE:
		make_pipe(p, b->nonblock);
		fill_pipe(p[1]);
		b->fd = p[1];
		f->fd[f->n++] = p[0], f->fd[f->n++] = p[1];
		break;
	case OP_CONNECT:
		b->fd = tcp_socket(b->nonblock);
		b->addr = h->a;
		f->fd[f->n++] = b->fd;
		break;
	default: b->fd = -1; break;
	}
}

static void close_fds(struct fds *f)
{
	for (int i = 0; i < f->n; i++)
		close(f->fd[i]);
}

/* Whether a thread of this op sleeps in ppoll (sleep uses the wait core). */
static bool op_polls(enum op op)
{
	return op != OP_SLEEP;
}

static void wait_blocked(struct blocker *b)
{
	if (op_polls(b->op)) {
		wait_in_ppoll(&b->tid);
	} else {
		WAIT_UNTIL(atomic_load(&b->tid) != 0);
		long nr;
		WAIT_UNTIL((nr = blocked_syscall(atomic_load(&b->tid))) >= 0 || nr == -2);
	}
}

TEST(deadline_returns_etimedout)
{
	struct hang h;
	hang_open(&h);
	const int64_t ms = 60;
	for (int op = 0; op < OP_COUNT; op++) {
		for (int nb = 0; nb < 2; nb++) {
			struct blocker b = {.op = (enum op)op, .nonblock = nb};
			struct fds f;
			setup_blocker(&b, &f, &h);
			grace_deadline t0 = grace_now();
			b.d = t0 + ms * 1000000;
			blocker_main(&b);
			int64_t took = ms_since(t0);
			if (b.op == OP_SLEEP)
				ASSERT_RC(b.result, 0); /* sleep's deadline is success */
			else
				ASSERT_RC(b.result, -ETIMEDOUT);
			if (took < ms || took > ms + test_slack_ms())
				FAIL_AT(__FILE__, __LINE__, "%s (nonblock %d) took %lld ms for a %lld ms deadline",
				        op_names[op], nb, (long long)took, (long long)ms);
			if (b.op == OP_CONNECT) {
				/* The abandoned attempt left nothing behind. */
				struct tcp_info ti;
				socklen_t tl = sizeof ti;
				ASSERT_EQ(getsockopt(b.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
				ASSERT_EQ(ti.tcpi_state, TCP_CLOSE);
				ASSERT_EQ(is_nonblock(b.fd), nb);
			}
			close_fds(&f);
		}
	}
	hang_close(&h);
}

/* Deadlines at the far ends of the type. A deadline in the past is a try
 * however far back it lies: INT64_MIN, INT64_MIN + 1 and any negative value
 * make every call try once and answer -ETIMEDOUT at once (the deadline must
 * never be turned into a relative timeout that overflows and sleeps for
 * ever). A deadline just short of GRACE_FOREVER is a real one: the call
 * blocks until its stop. Each call runs in a thread that the test waits for
 * with a deadline of its own, so a call that hangs fails the test instead of
 * hanging it. */
static void run_bounded(struct blocker *b, int64_t limit_ms)
{
	pthread_t t;
	atomic_store(&b->done, false);
	start_threads(&t, 1, blocker_main, b, sizeof *b);
	grace_deadline until = grace_now() + limit_ms * 1000000;
	while (!atomic_load(&b->done)) {
		if (grace_now() > until)
			FAIL_AT(__FILE__, __LINE__, "%s (nonblock %d) with deadline %lld still blocked after %lld ms",
			        op_names[b->op], (int)b->nonblock, (long long)b->d, (long long)limit_ms);
		sched_yield();
	}
	join_threads(&t, 1);
}

TEST(extreme_past_deadlines_make_a_try)
{
	static const grace_deadline past[] = {INT64_MIN, INT64_MIN + 1, INT64_MIN + 1000000000, -1, 0};
	struct hang h;
	hang_open(&h);
	for (int op = 0; op < OP_COUNT; op++) {
		for (int nb = 0; nb < 2; nb++) {
			for (size_t k = 0; k < sizeof past / sizeof past[0]; k++) {
				for (int with_stop = 0; with_stop < 2; with_stop++) {
					struct blocker b = {.op = (enum op)op, .nonblock = nb, .d = past[k]};
					b.stop = with_stop ? new_stop() : NULL;
					struct fds f;
					setup_blocker(&b, &f, &h);
					run_bounded(&b, test_slack_ms());
					ASSERT_RC(b.result, b.op == OP_SLEEP ? 0 : -ETIMEDOUT);
					if (b.op == OP_CONNECT)
						ASSERT_EQ(is_nonblock(b.fd), nb); /* flags restored */
					close_fds(&f);
					if (b.stop != NULL)
						ASSERT_RC(grace_stop_free(b.stop), 0);
				}
			}
		}
	}
	hang_close(&h);
}

TEST(far_future_deadline_blocks_until_stopped)
{
	static const grace_deadline far[] = {GRACE_FOREVER - 1, GRACE_FOREVER - 1000000000};
	struct hang h;
	hang_open(&h);
	for (int op = 0; op < OP_COUNT; op++) {
		for (size_t k = 0; k < sizeof far / sizeof far[0]; k++) {
			struct blocker b = {.op = (enum op)op, .nonblock = k == 1, .d = far[k]};
			b.stop = new_stop();
			struct fds f;
			setup_blocker(&b, &f, &h);
			pthread_t t;
			start_threads(&t, 1, blocker_main, &b, sizeof b);
			wait_blocked(&b);
			ASSERT_FALSE(atomic_load(&b.done)); /* the deadline is no excuse to return */
			ASSERT_RC(grace_stop_request(b.stop, 1), 1);
			join_threads(&t, 1);
			ASSERT_RC(b.result, -ECANCELED);
			close_fds(&f);
			ASSERT_RC(grace_stop_free(b.stop), 0);
		}
	}
	hang_close(&h);
}

/* ---- one stop, 64 threads blocked in every kind of call ---- */

#define MIXED 64

TEST(one_stop_wakes_64_mixed_blockers)
{
	static const enum op kinds[] = {OP_RECV, OP_ACCEPT, OP_READ, OP_POLL, OP_SLEEP};
	grace_stop *s = new_stop();
	struct blocker b[MIXED];
	struct fds f[MIXED];
	pthread_t t[MIXED];
	for (int i = 0; i < MIXED; i++) {
		memset(&b[i], 0, sizeof b[i]);
		b[i].op = kinds[i % 5];
		b[i].nonblock = (i / 5) % 2;
		b[i].stop = s;
		b[i].d = GRACE_FOREVER;
		setup_blocker(&b[i], &f[i], NULL);
	}
	start_threads(t, MIXED, blocker_main, b, sizeof b[0]);
	for (int i = 0; i < MIXED; i++)
		wait_blocked(&b[i]);
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_stop_request(s, 7), 1);
	join_threads(t, MIXED);
	for (int i = 0; i < MIXED; i++) {
		if (b[i].result != -ECANCELED)
			FAIL_AT(__FILE__, __LINE__, "thread %d (%s, nonblock %d) returned %ld", i, op_names[b[i].op],
			        b[i].nonblock, b[i].result);
		ASSERT_LT((b[i].returned - t0) / 1000000, test_slack_ms());
		close_fds(&f[i]);
	}
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A stopped write and a stopped connect, woken while blocked. */
TEST(stop_wakes_write_and_connect)
{
	struct hang h;
	hang_open(&h);
	for (int op = OP_WRITE; op <= OP_CONNECT; op++) {
		for (int nb = 0; nb < 2; nb++) {
			grace_stop *s = new_stop();
			struct blocker b = {.op = (enum op)op, .nonblock = nb, .stop = s, .d = GRACE_FOREVER};
			struct fds f;
			setup_blocker(&b, &f, &h);
			pthread_t t;
			start_threads(&t, 1, blocker_main, &b, sizeof b);
			wait_blocked(&b);
			ASSERT_RC(grace_stop_request(s, 1), 1);
			join_threads(&t, 1);
			ASSERT_RC(b.result, -ECANCELED);
			if (b.op == OP_CONNECT) {
				struct tcp_info ti;
				socklen_t tl = sizeof ti;
				ASSERT_EQ(getsockopt(b.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
				ASSERT_EQ(ti.tcpi_state, TCP_CLOSE);
				struct sockaddr_in peer;
				socklen_t pl = sizeof peer;
				ASSERT_EQ(getpeername(b.fd, (struct sockaddr *)&peer, &pl), -1);
				ASSERT_EQ(errno, ENOTCONN);
				ASSERT_EQ(is_nonblock(b.fd), nb); /* flags restored */
			}
			close_fds(&f);
			ASSERT_RC(grace_stop_free(s), 0);
		}
	}
	hang_close(&h);
}

/* ---- data: what is there comes first; what arrives wakes the reader ---- */

struct reader {
	int fd;
	bool sock;
	int flags;
	grace_stop *stop;
	_Atomic pid_t tid;
	char buf[128];
	size_t len;
	ssize_t result;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	atomic_store(&r->tid, tid_self());
	r->result = r->sock ? grace_recv(r->fd, r->buf, r->len, r->flags, r->stop, GRACE_FOREVER)
	                    : grace_read(r->fd, r->buf, r->len, r->stop, GRACE_FOREVER);
	return NULL;
}

TEST(data_arriving_wakes_reader_and_beats_stop)
{
	for (int sock = 0; sock < 2; sock++) {
		for (int nb = 0; nb < 2; nb++) {
			grace_stop *s = new_stop();
			int p[2];
			if (sock)
				make_socketpair(p, nb);
			else
				make_pipe(p, nb);
			struct reader r = {.fd = p[0], .sock = sock, .stop = s, .len = sizeof r.buf};
			pthread_t t;
			start_threads(&t, 1, reader_main, &r, sizeof r);
			wait_in_ppoll(&r.tid);
			/* Data, then the stop, while the reader sleeps: the data wins. */
			ASSERT_EQ(write(p[1], "hello", 5), 5);
			ASSERT_RC(grace_stop_request(s, 1), 1);
			join_threads(&t, 1);
			ASSERT_RC(r.result, 5);
			ASSERT_EQ(memcmp(r.buf, "hello", 5), 0);
			close(p[0]), close(p[1]);
			ASSERT_RC(grace_stop_free(s), 0);
		}
	}
}

TEST(end_of_file_reads_zero)
{
	char buf[8];
	int p[2], sp[2];
	make_pipe(p, false);
	make_socketpair(sp, false);
	close(p[1]);
	close(sp[1]);
	ASSERT_RC(grace_read(p[0], buf, sizeof buf, NULL, GRACE_FOREVER), 0);
	ASSERT_RC(grace_recv(sp[0], buf, sizeof buf, 0, NULL, GRACE_FOREVER), 0);
	ASSERT_RC(grace_poll(p[0], POLLIN, NULL, GRACE_FOREVER), POLLHUP);
	close(p[0]), close(sp[0]);
}

TEST(recv_waitall)
{
	/* Complete: three pieces make one result. */
	int sp[2];
	make_socketpair(sp, false);
	struct reader r = {.fd = sp[0], .sock = true, .flags = MSG_WAITALL, .len = 12};
	pthread_t t;
	start_threads(&t, 1, reader_main, &r, sizeof r);
	wait_in_ppoll(&r.tid);
	ASSERT_EQ(send(sp[1], "abcd", 4, 0), 4);
	ASSERT_EQ(send(sp[1], "efgh", 4, 0), 4);
	ASSERT_EQ(send(sp[1], "ijkl", 4, 0), 4);
	join_threads(&t, 1);
	ASSERT_RC(r.result, 12);
	ASSERT_EQ(memcmp(r.buf, "abcdefghijkl", 12), 0);

	/* Stopped after a part: the part's count. */
	grace_stop *s = new_stop();
	struct reader r2 = {.fd = sp[0], .sock = true, .flags = MSG_WAITALL, .stop = s, .len = 12};
	start_threads(&t, 1, reader_main, &r2, sizeof r2);
	ASSERT_EQ(send(sp[1], "xyz", 3, 0), 3);
	wait_in_ppoll(&r2.tid);
	WAIT_UNTIL(pending(sp[0]) == 0); /* the reader took the part */
	ASSERT_RC(grace_stop_request(s, 1), 1);
	join_threads(&t, 1);
	ASSERT_RC(r2.result, 3);
	ASSERT_EQ(memcmp(r2.buf, "xyz", 3), 0);

	/* End of file after a part: the part's count. */
	struct reader r3 = {.fd = sp[0], .sock = true, .flags = MSG_WAITALL, .len = 12};
	start_threads(&t, 1, reader_main, &r3, sizeof r3);
	ASSERT_EQ(send(sp[1], "12", 2, 0), 2);
	close(sp[1]);
	join_threads(&t, 1);
	ASSERT_RC(r3.result, 2);
	close(sp[0]);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- writes: all of it, or exactly what went out ---- */

#define BIG (1u << 20)

struct writer {
	int fd;
	bool sock;
	const uint8_t *buf;
	size_t len;
	grace_stop *stop;
	grace_deadline d;
	_Atomic pid_t tid;
	ssize_t result;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	atomic_store(&w->tid, tid_self());
	w->result = w->sock ? grace_send(w->fd, w->buf, w->len, 0, w->stop, w->d)
	                    : grace_write(w->fd, w->buf, w->len, w->stop, w->d);
	return NULL;
}

static uint8_t *pattern_buf(size_t n)
{
	uint8_t *b = malloc(n);
	ASSERT_TRUE(b != NULL);
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i);
	return b;
}

/* Read everything the peer of a stopped writer can still give, checking
 * the pattern; the writer's end must be closed already. */
static size_t drain_check(int fd)
{
	set_nonblock(fd, false);
	static uint8_t buf[65536];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		ASSERT_GE(n, 0);
		if (n == 0)
			return total;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(total + (size_t)i))
				FAIL_AT(__FILE__, __LINE__, "byte %zu differs", total + (size_t)i);
		total += (size_t)n;
	}
}

static void partial_write_case(bool sock, bool nb, bool by_deadline)
{
	uint8_t *data = pattern_buf(BIG);
	int p[2];
	if (sock) {
		make_socketpair(p, nb);
		int small = 4096;
		ASSERT_EQ(setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
	} else {
		make_pipe(p, nb);
	}
	grace_stop *s = new_stop();
	struct writer w = {.fd = p[1], .sock = sock, .buf = data, .len = BIG, .stop = s,
	                   .d = by_deadline ? grace_after_ms(100) : GRACE_FOREVER};
	pthread_t t;
	start_threads(&t, 1, writer_main, &w, sizeof w);
	if (!by_deadline) {
		wait_in_ppoll(&w.tid); /* blocked with the buffer full */
		ASSERT_GT(pending(p[0]), 0);
		ASSERT_RC(grace_stop_request(s, 1), 1);
	}
	join_threads(&t, 1);
	if (w.result <= 0 || (size_t)w.result >= BIG)
		FAIL_AT(__FILE__, __LINE__, "sock %d nonblock %d: result %zd", sock, nb, w.result);
	close(p[1]);
	size_t got = drain_check(p[0]);
	ASSERT_EQ(got, (size_t)w.result);
	close(p[0]);
	ASSERT_RC(grace_stop_free(s), 0);
	free(data);
}

TEST(partial_write_returns_exact_count)
{
	for (int sock = 0; sock < 2; sock++)
		for (int nb = 0; nb < 2; nb++)
			for (int dl = 0; dl < 2; dl++)
				partial_write_case(sock, nb, dl);
}

struct drainer {
	int fd;
	size_t total;
	uint32_t sum;
};

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;
	uint8_t buf[777]; /* odd chunks: many partial writes on the other side */
	for (;;) {
		ssize_t n = grace_read(d->fd, buf, sizeof buf, NULL, GRACE_FOREVER);
		if (n <= 0)
			return NULL;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(d->total + (size_t)i))
				d->sum++;
		}
		d->total += (size_t)n;
	}
}

TEST(write_goes_on_until_every_byte)
{
	uint8_t *data = pattern_buf(BIG);
	for (int sock = 0; sock < 2; sock++) {
		for (int nb = 0; nb < 2; nb++) {
			int p[2];
			if (sock)
				make_socketpair(p, nb);
			else
				make_pipe(p, nb);
			struct drainer d = {.fd = p[0]};
			pthread_t t;
			start_threads(&t, 1, drainer_main, &d, sizeof d);
			ssize_t n = sock ? grace_send(p[1], data, BIG, 0, NULL, GRACE_FOREVER)
			                 : grace_write(p[1], data, BIG, NULL, GRACE_FOREVER);
			ASSERT_EQ(n, BIG);
			close(p[1]);
			join_threads(&t, 1);
			ASSERT_EQ(d.total, BIG);
			ASSERT_EQ(d.sum, 0); /* no byte differed */
			close(p[0]);
		}
	}
	free(data);
}

/* ---- EINTR is retried within the same deadline ---- */

static _Atomic int interrupts;

static void on_usr1(int signo)
{
	(void)signo;
	atomic_fetch_add(&interrupts, 1);
}

struct interrupted {
	enum op op;
	int fd;
	grace_deadline d;
	_Atomic bool done;
	long result;
};

static void *interrupted_main(void *arg)
{
	struct interrupted *x = arg;
	char buf[8];
	x->result = x->op == OP_SLEEP ? grace_sleep(NULL, x->d) : grace_read(x->fd, buf, sizeof buf, NULL, x->d);
	atomic_store(&x->done, true);
	return NULL;
}

TEST(eintr_retried_within_deadline)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART: every signal interrupts */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
	for (int k = 0; k < 2; k++) {
		/* A loaded machine may land only a few signals in a short wait:
		 * double the wait until more than ten land, each round checked
		 * against its own deadline. */
		for (int64_t ms = 150;; ms *= 2) {
			int p[2];
			make_pipe(p, false);
			struct interrupted x = {.op = k ? OP_SLEEP : OP_READ, .fd = p[0]};
			atomic_store(&interrupts, 0);
			grace_deadline t0 = grace_now();
			x.d = t0 + ms * 1000000;
			pthread_t t;
			start_threads(&t, 1, interrupted_main, &x, sizeof x);
			/* Interrupt it about every millisecond until it returns: a
			 * wait that restarted its timeout would never end. */
			while (!atomic_load(&x.done)) {
				pthread_kill(t, SIGUSR1);
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
			}
			join_threads(&t, 1);
			int64_t took = ms_since(t0);
			ASSERT_RC(x.result, k ? 0 : -ETIMEDOUT);
			ASSERT_GE(took, ms);
			ASSERT_LE(took, ms + test_slack_ms());
			close(p[0]), close(p[1]);
			if (atomic_load(&interrupts) > 10)
				break;
			ASSERT_LT(ms, 2400); /* five rounds, and still barely interrupted */
		}
	}
	ASSERT_EQ(sigaction(SIGUSR1, &old, NULL), 0);
}

/* ---- what the thread is blocked on ---- */

struct recorded {
	int fd;
	grace_stop *stop;
	struct grace__blocked rec;
	ssize_t result;
};

static void *recorded_main(void *arg)
{
	struct recorded *r = arg;
	grace__self_blocked = &r->rec;
	char buf[8];
	r->result = grace_recv(r->fd, buf, sizeof buf, 0, r->stop, GRACE_FOREVER);
	grace__self_blocked = NULL;
	return NULL;
}

TEST(blocked_call_is_recorded)
{
	int sp[2];
	make_socketpair(sp, false);
	struct recorded r = {.fd = sp[0], .stop = new_stop()};
	pthread_t t;
	start_threads(&t, 1, recorded_main, &r, sizeof r);
	const char *op = NULL, *name = NULL;
	int64_t since = 0;
	WAIT_UNTIL((grace__blocked_read(&r.rec, &op, &name, &since), op != NULL));
	ASSERT_STR_EQ(op, "recv");
	ASSERT_TRUE(name == NULL);
	ASSERT_GT(since, 0);
	ASSERT_RC(grace_stop_request(r.stop, 1), 1);
	join_threads(&t, 1);
	ASSERT_RC(r.result, -ECANCELED);
	grace__blocked_read(&r.rec, &op, &name, &since);
	ASSERT_TRUE(op == NULL); /* no longer blocked */
	close(sp[0]), close(sp[1]);
	ASSERT_RC(grace_stop_free(r.stop), 0);
}

/* ---- poll ---- */

TEST(poll_reports_revents)
{
	int p[2];
	make_pipe(p, false);
	ASSERT_RC(grace_poll(p[1], POLLOUT, NULL, GRACE_FOREVER), POLLOUT);
	ASSERT_RC(grace_poll(p[0], POLLIN, NULL, grace_after_ms(10)), -ETIMEDOUT);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_RC(grace_poll(p[0], POLLIN | POLLOUT, NULL, GRACE_FOREVER), POLLIN);
	close(p[1]);
	ASSERT_RC(grace_poll(p[0], POLLIN, NULL, GRACE_FOREVER), POLLIN | POLLHUP);
	close(p[0]);
}

/* ---- misuse ---- */

TEST(bad_descriptors_answer_ebadf)
{
	grace_stop *s = requested_stop(); /* argument errors come before the stop */
	char buf[4];
	struct sockaddr_in a = {.sin_family = AF_INET};
	for (int k = 0; k < 2; k++) {
		grace_stop *st = k ? s : NULL;
		ASSERT_RC(grace_read(-1, buf, sizeof buf, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_write(-1, buf, sizeof buf, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_recv(-1, buf, sizeof buf, 0, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_send(-1, buf, sizeof buf, 0, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_accept(-1, NULL, NULL, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_connect(-1, (struct sockaddr *)&a, sizeof a, st, GRACE_FOREVER), -EBADF);
		ASSERT_RC(grace_poll(-1, POLLIN, st, GRACE_FOREVER), -EBADF);
	}
	/* A closed descriptor: the system's answer, at once. */
	int fd = closed_fd();
	grace_deadline t0 = grace_now();
	ASSERT_RC(grace_read(fd, buf, sizeof buf, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_write(fd, buf, sizeof buf, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_recv(fd, buf, sizeof buf, 0, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_send(fd, buf, sizeof buf, 0, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_accept(fd, NULL, NULL, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_connect(fd, (struct sockaddr *)&a, sizeof a, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_RC(grace_poll(fd, POLLIN, NULL, GRACE_FOREVER), -EBADF);
	ASSERT_LT(ms_since(t0), test_slack_ms());
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(null_buffers_and_bad_lengths_answer_einval)
{
	grace_stop *s = requested_stop();
	int p[2], sp[2];
	make_pipe(p, false);
	make_socketpair(sp, false);
	char buf[4];
	for (int k = 0; k < 2; k++) {
		grace_stop *st = k ? s : NULL;
		for (size_t len = 0; len < 8; len += 4) {
			ASSERT_RC(grace_read(p[0], NULL, len, st, GRACE_FOREVER), -EINVAL);
			ASSERT_RC(grace_write(p[1], NULL, len, st, GRACE_FOREVER), -EINVAL);
			ASSERT_RC(grace_recv(sp[0], NULL, len, 0, st, GRACE_FOREVER), -EINVAL);
			ASSERT_RC(grace_send(sp[1], NULL, len, 0, st, GRACE_FOREVER), -EINVAL);
		}
		ASSERT_RC(grace_read(p[0], buf, (size_t)SSIZE_MAX + 1, st, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_write(p[1], buf, SIZE_MAX, st, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_accept(sp[0], (struct sockaddr *)buf, NULL, st, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_connect(sp[0], NULL, 16, st, GRACE_FOREVER), -EINVAL);
	}
	ASSERT_EQ(pending(p[0]), 0);
	ASSERT_EQ(pending(sp[0]), 0);
	/* Zero bytes: nothing to wait for. */
	ASSERT_RC(grace_write(p[1], buf, 0, NULL, GRACE_FOREVER), 0);
	ASSERT_RC(grace_read(p[0], buf, 0, NULL, GRACE_FOREVER), 0);
	/* Wrong kind of descriptor: the system's code. */
	ASSERT_RC(grace_recv(p[0], buf, sizeof buf, 0, NULL, GRACE_FOREVER), -ENOTSOCK);
	ASSERT_RC(grace_accept(p[0], NULL, NULL, NULL, GRACE_FOREVER), -ENOTSOCK);
	set_nonblock(p[0], true);
	ASSERT_RC(grace_accept(p[0], NULL, NULL, NULL, GRACE_FOREVER), -ENOTSOCK);
	/* A connected socket is not a listener. */
	ASSERT_RC(grace_accept(sp[0], NULL, NULL, NULL, GRACE_FOREVER), -EINVAL);
	close(p[0]), close(p[1]), close(sp[0]), close(sp[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(closed_listeners)
{
	/* Closed before the call. */
	struct sockaddr_in a;
	int l = tcp_listener(&a, 8, false);
	close(l);
	ASSERT_RC(grace_accept(l, NULL, NULL, NULL, GRACE_FOREVER), -EBADF);

	/* Not listening. */
	int s = tcp_socket(false);
	ASSERT_RC(grace_accept(s, NULL, NULL, NULL, GRACE_FOREVER), -EINVAL);
	close(s);

	/* Shut down while a thread is blocked on it (Linux wakes accept). */
	for (int nb = 0; nb < 2; nb++) {
		struct blocker b = {.op = OP_ACCEPT, .d = GRACE_FOREVER};
		b.fd = tcp_listener(&a, 8, nb);
		pthread_t t;
		start_threads(&t, 1, blocker_main, &b, sizeof b);
		wait_in_ppoll(&b.tid);
		ASSERT_EQ(shutdown(b.fd, SHUT_RDWR), 0);
		join_threads(&t, 1);
		ASSERT_RC(b.result, -EINVAL);
		close(b.fd);
	}

	/* Connecting to a closed listener is refused. */
	l = tcp_listener(&a, 8, false);
	close(l);
	for (int nb = 0; nb < 2; nb++) {
		int c = tcp_socket(nb);
		ASSERT_RC(grace_connect(c, (struct sockaddr *)&a, sizeof a, NULL, grace_after_ms(5000)), -ECONNREFUSED);
		ASSERT_EQ(is_nonblock(c), nb);
		close(c);
	}
}

TEST(connect_succeeds_and_restores_flags)
{
	struct sockaddr_in a;
	int l = tcp_listener(&a, 8, false);
	grace_stop *s = new_stop();
	for (int nb = 0; nb < 2; nb++) {
		int c = tcp_socket(nb);
		ASSERT_RC(grace_connect(c, (struct sockaddr *)&a, sizeof a, s, grace_after_ms(5000)), 0);
		ASSERT_EQ(is_nonblock(c), nb);
		int got = grace_accept(l, NULL, NULL, s, grace_after_ms(5000));
		ASSERT_GE(got, 0);
		ASSERT_RC(grace_send(c, "ping", 4, MSG_NOSIGNAL, s, GRACE_FOREVER), 4);
		char buf[8];
		ASSERT_RC(grace_recv(got, buf, sizeof buf, 0, s, GRACE_FOREVER), 4);
		ASSERT_EQ(memcmp(buf, "ping", 4), 0);
		close(got), close(c);
	}
	close(l);
	ASSERT_RC(grace_stop_free(s), 0);
}

static int count_done(struct blocker *b, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += atomic_load(&b[i].done);
	return k;
}

/* Several threads accept on one non-blocking listener: a connection taken
 * by one makes the others wait again, not fail or block for ever. */
TEST(shared_nonblocking_listener)
{
	enum { N = 4 };
	struct sockaddr_in a;
	int l = tcp_listener(&a, 16, true);
	grace_stop *s = new_stop();
	struct blocker b[N];
	for (int i = 0; i < N; i++)
		b[i] = (struct blocker){.op = OP_ACCEPT, .fd = l, .stop = s, .d = GRACE_FOREVER};
	pthread_t t[N];
	start_threads(t, N, blocker_main, b, sizeof b[0]);
	for (int i = 0; i < N; i++)
		wait_blocked(&b[i]);
	int c[2];
	for (int i = 0; i < 2; i++) {
		c[i] = tcp_socket(false);
		ASSERT_EQ(connect(c[i], (struct sockaddr *)&a, sizeof a), 0);
	}
	/* Two threads take the two connections; the rest sleep on. */
	WAIT_UNTIL(count_done(b, N) == 2);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	join_threads(t, N);
	int ok = 0, stopped = 0;
	for (int i = 0; i < N; i++) {
		if (b[i].result >= 0) {
			ok++;
			close((int)b[i].result);
		} else {
			ASSERT_RC(b[i].result, -ECANCELED);
			stopped++;
		}
	}
	ASSERT_EQ(ok, 2);
	ASSERT_EQ(stopped, N - 2);
	close(c[0]), close(c[1]), close(l);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- descriptors the library makes are close-on-exec from birth ---- */

/* A descriptor grace makes (a stop's wake descriptor, the signal
 * self-pipe) must be close-on-exec the moment it exists: a thread of the
 * program may fork and exec at any instant, and a flag set by a later fcntl
 * comes too late for a child cloned in between, which then keeps the
 * descriptor (and a pipe's write end keeps the pipe open) across exec.
 *
 * First, deterministically: this program defines pipe, pipe2 and eventfd,
 * so the statically linked library's calls come here (the executable's
 * definitions win); each passes the call on to the next definition (the C
 * library's, or a sanitizer's interceptor) and, while the calling thread
 * watches, looks at FD_CLOEXEC on what it got before returning: exactly the
 * instant a concurrent fork could copy the descriptor. */
static _Thread_local bool watch_births, widen_births;
static atomic_int births, births_open_to_exec;

static void check_births(const int *fds, int n)
{
	if (widen_births) {
		/* The storm below: hold the new descriptors for a while before
		 * the library goes on, so that a child cloned meanwhile sees
		 * them as the library left them at birth. */
		grace_deadline until = grace_now() + 200000;
		while (grace_now() < until)
			;
	}
	if (!watch_births)
		return;
	for (int i = 0; i < n; i++) {
		atomic_fetch_add(&births, 1);
		int fl = fcntl(fds[i], F_GETFD);
		if (fl < 0 || !(fl & FD_CLOEXEC))
			atomic_fetch_add(&births_open_to_exec, 1);
	}
}

static void *next_definition(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (f == NULL)
		FAIL_AT(__FILE__, __LINE__, "dlsym(RTLD_NEXT, %s): %s", name, dlerror());
	return f;
}

int pipe(int fds[2])
{
	int (*next)(int *);
	void *f = next_definition("pipe");
	memcpy(&next, &f, sizeof next); /* POSIX: dlsym's object pointer is the function */
	int r = next(fds);
	if (r == 0)
		check_births(fds, 2);
	return r;
}

int pipe2(int fds[2], int flags)
{
	int (*next)(int *, int);
	void *f = next_definition("pipe2");
	memcpy(&next, &f, sizeof next);
	int r = next(fds, flags);
	if (r == 0)
		check_births(fds, 2);
	return r;
}

int eventfd(unsigned int initval, int flags)
{
	int (*next)(unsigned int, int);
	void *f = next_definition("eventfd");
	memcpy(&next, &f, sizeof next);
	int fd = next(initval, flags);
	if (fd >= 0)
		check_births(&fd, 1);
	return fd;
}

TEST(descriptors_are_close_on_exec_from_birth)
{
	atomic_store(&births, 0);
	atomic_store(&births_open_to_exec, 0);
	grace_stop *s = new_stop();
	watch_births = true;
	int fd = grace_stop_fd(s);
	static const int usr2[] = {SIGUSR2};
	int routed = grace_signals_route(s, usr2, 1);
	watch_births = false;
	ASSERT_GE(fd, 0);
	ASSERT_RC(routed, 0);
	ASSERT_RC(grace_signals_unroute(), 0);
	int made = atomic_load(&births), open_to_exec = atomic_load(&births_open_to_exec);
	ASSERT_GE(made, 2); /* the wake descriptor and the self-pipe's two ends */
	ASSERT_EQ(open_to_exec, 0);
	/* And they stay so. */
	ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* Second, the race itself: threads make and drop wake descriptors and
 * self-pipes as fast as they can while this thread spawns children that
 * count the pipes and eventfds they inherited. posix_spawn runs no atfork
 * handler, so the routing lock, which fork() takes, does not shield the
 * self-pipe. The child is this program again, in a mode that only counts:
 * a constructor that answers before main. The churning threads linger 0.2
 * ms in each creation call, after the descriptors exist (widen_births):
 * where the flag came later, most children would see them without it. */
#define CENSUS_ENV "GRACE_IO_TEST_FD_CENSUS"

__attribute__((constructor)) static void fd_census(void)
{
	if (getenv(CENSUS_ENV) == NULL)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		_exit(255);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < 3 || fd == dirfd(d))
			continue;
		char path[64], link[128];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t k = readlink(path, link, sizeof link - 1);
		if (k < 0)
			continue;
		link[k] = '\0';
		if (strncmp(link, "pipe:", 5) == 0 || strstr(link, "eventfd") != NULL)
			n++;
	}
	closedir(d);
	_exit(n > 250 ? 250 : n);
}


/* Spawn a census child; its count of inherited pipes and eventfds. */
static int census(void)
{
	char exe[] = "/proc/self/exe";
	char *argv[] = {exe, NULL};
	char flag[] = CENSUS_ENV "=1";
	char **env = env_with(flag);
	pid_t pid;
	int r = posix_spawn(&pid, exe, NULL, NULL, argv, env);
	free(env);
	if (r != 0)
		FAIL_AT(__FILE__, __LINE__, "posix_spawn: %s", strerror(r));
	int status;
	while (waitpid(pid, &status, 0) < 0)
		ASSERT_EQ(errno, EINTR);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(WEXITSTATUS(status), 255);
	return WEXITSTATUS(status);
}

struct churn {
	atomic_bool stop;
	long rounds;
	bool signals; /* route and unroute; otherwise make wake descriptors */
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	static const int usr2[] = {SIGUSR2};
	widen_births = true;
	while (!atomic_load(&c->stop)) {
		grace_stop *s = new_stop();
		if (c->signals) {
			ASSERT_RC(grace_signals_route(s, usr2, 1), 0);
			ASSERT_RC(grace_signals_unroute(), 0);
		} else {
			ASSERT_GE(grace_stop_fd(s), 0);
		}
		ASSERT_RC(grace_stop_free(s), 0);
		c->rounds++;
	}
	return NULL;
}

TEST(spawn_storm_inherits_no_descriptor)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) {
		printf("(no /proc/self/fd: skipped) ");
		return;
	}
	closedir(d);
	int base = census(); /* what the environment passes down: no grace descriptor yet */
	struct churn c[2] = {{.signals = false}, {.signals = true}};
	pthread_t t[2];
	start_threads(t, 2, churn_main, c, sizeof c[0]);
	int64_t budget_ms = getenv("GRACE_TEST_SLOW") ? 3000 : 1500;
	grace_deadline until = grace_now() + budget_ms * 1000000;
	int spawns = 0, leaks = 0, worst = base;
	while (grace_now() < until || spawns < 20) {
		int n = census();
		spawns++;
		if (n > base)
			leaks++;
		if (n > worst)
			worst = n;
	}
	atomic_store(&c[0].stop, true);
	atomic_store(&c[1].stop, true);
	join_threads(t, 2);
	ASSERT_GT(c[0].rounds, 0);
	ASSERT_GT(c[1].rounds, 0);
	if (leaks != 0)
		FAIL_AT(__FILE__, __LINE__,
		        "%d of %d children inherited grace descriptors (up to %d beyond the %d passed down; "
		        "%ld wake descriptors, %ld routings made meanwhile)",
		        leaks, spawns, worst - base, base, c[0].rounds, c[1].rounds);
}

TEST_LIST(T(stop_wins_before_touching_fd), T(ready_completes_with_past_deadline), T(ready_calls_do_not_wait),
          T(deadline_returns_etimedout), T(extreme_past_deadlines_make_a_try),
          T(far_future_deadline_blocks_until_stopped), T(one_stop_wakes_64_mixed_blockers), T(stop_wakes_write_and_connect),
          T(data_arriving_wakes_reader_and_beats_stop), T(end_of_file_reads_zero), T(recv_waitall),
          T(partial_write_returns_exact_count), T(write_goes_on_until_every_byte),
          T(eintr_retried_within_deadline), T(blocked_call_is_recorded), T(poll_reports_revents),
          T(bad_descriptors_answer_ebadf), T(null_buffers_and_bad_lengths_answer_einval), T(closed_listeners),
          T(connect_succeeds_and_restores_flags), T(shared_nonblocking_listener),
          T(descriptors_are_close_on_exec_from_birth), T(spawn_storm_inherits_no_descriptor))
