/* SPDX-License-Identifier: MIT */
/*
 * io_bench.c - what interruptible I/O costs and how fast a stop reaches it.
 *
 *   stop_64_blocked      request -> the last of 64 threads has returned, for
 *                        threads blocked in grace_recv (peer grace) and, as
 *                        the reference, in grace_event_wait (peer
 *                        grace_event_wait). Peers in io_bench.cc (C++20,
 *                        pipe-based wake) and io_bench.py (the article's
 *                        socket timeout of 0.5 s) measure the same.
 *   recv_ready_16B       one grace_recv of 16 bytes on a socket that has
 *                        data, against a bare recv(2).
 *   read_ready_16B       one grace_read of 16 bytes on a pipe that has data,
 *                        against a bare read(2). grace_read's one call is
 *                        preadv2(RWF_NOWAIT), which the kernel makes dearer
 *                        than read(2); this row shows by how much.
 *
 * Each value is the median of repeated runs. Before each stop the bench
 * waits until /proc shows every thread asleep in the kernel, so the figure
 * is a real wake-up, not a thread that had not yet gone to sleep.
 */
#include <grace.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 64
#define STOP_RUNS 21

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof v[0], cmp_i64);
	return n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2.0;
}

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

/* ---- stop -> 64 blocked threads returned ---- */

struct blocked {
	int fd;
	bool event;
	grace_event *ev;
	grace_stop *stop;
	_Atomic pid_t tid;
	grace_deadline returned;
	long result;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	char buf[16];
	atomic_store(&b->tid, (pid_t)syscall(SYS_gettid));
	b->result = b->event ? grace_event_wait(b->ev, b->stop, GRACE_FOREVER)
	                     : grace_recv(b->fd, buf, sizeof buf, 0, b->stop, GRACE_FOREVER);
	b->returned = grace_now();
	return NULL;
}

static int64_t stop_once(bool event, int (*sp)[2])
{
	static struct blocked b[THREADS];
	pthread_t t[THREADS];
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *s;
	if (grace_stop_new(&s, NULL) < 0)
		exit(1);
	/* Small stacks, as a server with many threads would use. */
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	for (int i = 0; i < THREADS; i++) {
		b[i] = (struct blocked){.fd = sp[i][0], .event = event, .ev = &ev, .stop = s};
		if (pthread_create(&t[i], &a, blocked_main, &b[i]) != 0)
			exit(1);
	}
	pthread_attr_destroy(&a);
	for (int i = 0; i < THREADS; i++) {
		while (atomic_load(&b[i].tid) == 0 || !asleep(atomic_load(&b[i].tid)))
			sched_yield();
	}
	grace_deadline t0 = grace_now();
	grace_stop_request(s, 1);
	grace_deadline last = t0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		if (b[i].result != -ECANCELED) {
			fprintf(stderr, "io_bench: thread %d returned %ld\n", i, b[i].result);
			exit(1);
		}
		if (b[i].returned > last)
			last = b[i].returned;
	}
	grace_stop_free(s);
	return last - t0;
}

static void bench_stop(void)
{
	static int sp[THREADS][2];
	for (int i = 0; i < THREADS; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]) < 0)
			exit(1);
	int64_t recv_ns[STOP_RUNS], event_ns[STOP_RUNS];
	for (int r = 0; r < STOP_RUNS; r++) {
		recv_ns[r] = stop_once(false, sp);
		event_ns[r] = stop_once(true, sp);
	}
	printf("RESULT stop_64_blocked grace %.1f us lower\n", median(recv_ns, STOP_RUNS) / 1e3);
	printf("RESULT stop_64_blocked grace_event_wait %.1f us lower\n", median(event_ns, STOP_RUNS) / 1e3);
	for (int i = 0; i < THREADS; i++)
		close(sp[i][0]), close(sp[i][1]);
}

/* ---- the cost on a ready descriptor ---- */

#define CALLS 256
#define CHUNK 16
#define BATCHES 4001

static int64_t batch(int rfd, int wfd, bool sock, bool use_grace, grace_stop *s)
{
	static char fill[CALLS * CHUNK];
	char buf[CHUNK];
	if (write(wfd, fill, sizeof fill) != (ssize_t)sizeof fill)
		exit(1);
	grace_deadline t0 = grace_now();
	for (int i = 0; i < CALLS; i++) {
		ssize_t n;
		if (use_grace)
			n = sock ? grace_recv(rfd, buf, CHUNK, 0, s, GRACE_FOREVER)
			         : grace_read(rfd, buf, CHUNK, s, GRACE_FOREVER);
		else
			n = sock ? recv(rfd, buf, CHUNK, 0) : read(rfd, buf, CHUNK);
		if (n != CHUNK)
			exit(1);
	}
	return (grace_now() - t0) / CALLS;
}

static void bench_ready(bool sock)
{
	int p[2];
	if (sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) : pipe(p))
		exit(1);
	if (sock) {
		int big = 1 << 20;
		setsockopt(p[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	}
	grace_stop *s;
	if (grace_stop_new(&s, NULL) < 0)
		exit(1);
	static int64_t g[BATCHES], bare[BATCHES];
	for (int i = 0; i < 100; i++) /* warm up */
		batch(p[0], p[1], sock, i & 1, s);
	for (int i = 0; i < BATCHES; i++) {
		/* Alternate, so drift on a shared machine hits both alike. */
		g[i] = batch(p[0], p[1], sock, true, s);
		bare[i] = batch(p[0], p[1], sock, false, s);
	}
	const char *sc = sock ? "recv_ready_16B" : "read_ready_16B";
	printf("RESULT %s grace %.1f ns lower\n", sc, median(g, BATCHES));
	printf("RESULT %s %s %.1f ns lower\n", sc, sock ? "bare_recv" : "bare_read", median(bare, BATCHES));
	grace_stop_free(s);
	close(p[0]), close(p[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_stop();
	bench_ready(true);
	bench_ready(false);
	return 0;
}
