/* SPDX-License-Identifier: MIT */
/*
 * poll_many_test.c - grace_poll_many: poll(2)'s answer on a set of
 * descriptors, or -ECANCELED / -ETIMEDOUT with the caller's array left as it
 * was; a stop wakes a blocked call at once; EINTR is retried within the
 * deadline; sets above the stack copy are allocated (and -ENOMEM says so);
 * misuse answers -EINVAL with nothing touched.
 *
 * A thread "blocked" here is one the test has seen in ppoll through
 * /proc/self/task/TID/syscall, so a wake-up is really tested and not the
 * stop-already-requested path.
 */
#include "test.h"

#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A revents value poll never writes: shows whether an entry was touched. */
#define UNTOUCHED ((short)0x7f7f)

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

static void wait_in_ppoll(_Atomic pid_t *tidp)
{
	WAIT_UNTIL(atomic_load(tidp) != 0);
	pid_t tid = atomic_load(tidp);
	long nr;
	WAIT_UNTIL((nr = blocked_syscall(tid)) == SYS_ppoll || nr == -2);
}

static int64_t ms_since(grace_deadline t0)
{
	return (grace_now() - t0) / 1000000;
}

static grace_stop *new_stop(void)
{
	grace_stop *s = NULL;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	return s;
}

static void mark(struct pollfd *p, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		p[i].revents = UNTOUCHED;
}

static void assert_untouched(const struct pollfd *p, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		ASSERT_EQ(p[i].revents, UNTOUCHED);
}

/* ---- arguments ---- */

TEST(misuse_answers_einval_and_touches_nothing)
{
	static struct grace_stop not_a_stop; /* zeroed: no magic */
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	struct pollfd fds[1] = {{.fd = p[0], .events = POLLIN}};
	grace_stop *s = new_stop();
	for (int k = 0; k < 2; k++) {
		/* Arguments come before the stop, requested or not. */
		if (k == 1)
			ASSERT_RC(grace_stop_request(s, 1), 1);
		mark(fds, 1);
		ASSERT_RC(grace_poll_many(NULL, 1, s, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_poll_many(NULL, 1, NULL, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_poll_many(fds, 1, &not_a_stop, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_poll_many(fds, (nfds_t)INT_MAX, s, GRACE_FOREVER), -EINVAL);
		ASSERT_RC(grace_poll_many(fds, (nfds_t)-1, NULL, GRACE_FOREVER), -EINVAL);
		assert_untouched(fds, 1);
	}
	/* A not-a-stop never got a descriptor, a wait or a request. */
	ASSERT_EQ(not_a_stop.magic, 0);
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- what it answers ---- */

TEST(answers_what_poll_answers)
{
	/* The stop's descriptor first: made later, it could take the number
	 * of the closed descriptor below. */
	grace_stop *s = new_stop();
	ASSERT_GE(grace_stop_fd(s), 0);
	int a[2], b[2], c[2], gone[2];
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	ASSERT_EQ(pipe(c), 0);
	ASSERT_EQ(pipe(gone), 0);
	ASSERT_EQ(write(a[1], "x", 1), 1);
	close(c[1]);                      /* c[0] hangs up */
	close(gone[0]), close(gone[1]);   /* gone[0] is closed: POLLNVAL */
	struct pollfd want[] = {
	    {.fd = a[0], .events = POLLIN},   /* ready */
	    {.fd = b[0], .events = POLLIN},   /* not ready */
	    {.fd = -1, .events = POLLIN},     /* ignored */
	    {.fd = c[0], .events = POLLIN},   /* POLLHUP */
	    {.fd = b[1], .events = POLLOUT},  /* ready */
	    {.fd = gone[0], .events = POLLIN},/* POLLNVAL */
	    {.fd = a[1], .events = 0},        /* nothing asked: 0 */
	};
	enum { N = sizeof want / sizeof want[0] };
	struct pollfd got[N];
	memcpy(got, want, sizeof got);
	int k = poll(want, N, 0);
	ASSERT_EQ(k, 4);
	for (int i = 0; i < 2; i++) {
		mark(got, N);
		ASSERT_RC(grace_poll_many(got, N, i ? s : NULL, GRACE_FOREVER), k);
		for (int j = 0; j < N; j++) {
			ASSERT_EQ(got[j].fd, want[j].fd);
			ASSERT_EQ(got[j].events, want[j].events);
			ASSERT_EQ(got[j].revents, want[j].revents);
		}
	}
	ASSERT_EQ(got[0].revents, POLLIN);
	ASSERT_EQ(got[1].revents, 0);
	ASSERT_EQ(got[2].revents, 0);
	ASSERT_TRUE(got[3].revents & POLLHUP);
	ASSERT_EQ(got[4].revents, POLLOUT);
	ASSERT_EQ(got[5].revents, POLLNVAL);
	ASSERT_EQ(got[6].revents, 0);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]), close(c[0]);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(stop_already_requested_wins_over_ready_descriptors)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
	grace_stop *s = new_stop();
	ASSERT_RC(grace_stop_request(s, 7), 1);
	mark(fds, 2);
	ASSERT_RC(grace_poll_many(fds, 2, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_poll_many(fds, 2, s, INT64_MIN), -ECANCELED);
	ASSERT_RC(grace_poll_many(NULL, 0, s, GRACE_FOREVER), -ECANCELED);
	assert_untouched(fds, 2);
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(past_deadline_is_a_try)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct pollfd fds[1] = {{.fd = p[0], .events = POLLIN}};
	grace_stop *s = new_stop();
	const grace_deadline past[] = {grace_now() - 1, 0, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		for (int k = 0; k < 2; k++) {
			grace_stop *st = k ? s : NULL;
			mark(fds, 1);
			grace_deadline t0 = grace_now();
			ASSERT_RC(grace_poll_many(fds, 1, st, past[i]), -ETIMEDOUT);
			ASSERT_LT(ms_since(t0), test_slack_ms());
			assert_untouched(fds, 1);
			ASSERT_RC(grace_poll_many(NULL, 0, st, past[i]), -ETIMEDOUT);
		}
	}
	ASSERT_EQ(write(p[1], "x", 1), 1);
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		mark(fds, 1);
		ASSERT_RC(grace_poll_many(fds, 1, s, past[i]), 1);
		ASSERT_EQ(fds[0].revents, POLLIN);
	}
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(deadline_returns_etimedout)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = -1}};
	grace_stop *s = new_stop();
	const int64_t ms = 60;
	for (int k = 0; k < 3; k++) {
		mark(fds, 2);
		grace_deadline t0 = grace_now();
		if (k < 2)
			ASSERT_RC(grace_poll_many(fds, 2, k ? s : NULL, t0 + ms * 1000000), -ETIMEDOUT);
		else
			ASSERT_RC(grace_poll_many(NULL, 0, s, t0 + ms * 1000000), -ETIMEDOUT);
		int64_t took = ms_since(t0);
		ASSERT_GE(took, ms);
		ASSERT_LE(took, ms + test_slack_ms());
		assert_untouched(fds, 2);
	}
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- woken while blocked ---- */

struct poller {
	struct pollfd *fds;
	nfds_t n;
	grace_stop *stop;
	grace_deadline d;
	_Atomic pid_t tid;
	_Atomic bool done;
	grace_deadline ended;
	int result;
};

static void *poller_main(void *arg)
{
	struct poller *x = arg;
	atomic_store(&x->tid, tid_self());
	x->result = grace_poll_many(x->fds, x->n, x->stop, x->d);
	x->ended = grace_now();
	atomic_store(&x->done, true);
	return NULL;
}

TEST(stop_wakes_a_blocked_call_and_leaves_revents)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	/* Sets on both sides of the stack copy's 128 entries; the descriptor
	 * repeated, as poll allows. */
	const nfds_t sizes[] = {0, 1, 3, 128, 129, 1000};
	struct pollfd *fds = calloc(1000, sizeof *fds);
	ASSERT_TRUE(fds != NULL);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (nfds_t j = 0; j < sizes[i]; j++)
			fds[j] = (struct pollfd){.fd = j % 2 ? p[0] : -1, .events = POLLIN};
		mark(fds, sizes[i]);
		struct poller x = {.fds = sizes[i] ? fds : NULL, .n = sizes[i], .stop = new_stop(),
		                   .d = grace_after_ms(60000)};
		pthread_t t;
		start_threads(&t, 1, poller_main, &x, sizeof x);
		wait_in_ppoll(&x.tid);
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_stop_request(x.stop, 1), 1);
		join_threads(&t, 1);
		ASSERT_RC(x.result, -ECANCELED);
		ASSERT_LT((x.ended - t0) / 1000000, test_slack_ms());
		assert_untouched(fds, sizes[i]);
		ASSERT_RC(grace_stop_free(x.stop), 0);
	}
	free(fds);
	close(p[0]), close(p[1]);
}

TEST(data_wakes_a_blocked_call)
{
	int a[2], b[2];
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	const nfds_t sizes[] = {2, 300};
	struct pollfd *fds = calloc(300, sizeof *fds);
	ASSERT_TRUE(fds != NULL);
	for (size_t i = 0; i < 2; i++) {
		nfds_t n = sizes[i];
		for (nfds_t j = 0; j < n; j++)
			fds[j] = (struct pollfd){.fd = j % 2 ? b[0] : a[0], .events = POLLIN};
		mark(fds, n);
		struct poller x = {.fds = fds, .n = n, .stop = new_stop(), .d = GRACE_FOREVER};
		pthread_t t;
		start_threads(&t, 1, poller_main, &x, sizeof x);
		wait_in_ppoll(&x.tid);
		ASSERT_EQ(write(b[1], "x", 1), 1);
		join_threads(&t, 1);
		ASSERT_RC(x.result, (int)(n / 2));
		for (nfds_t j = 0; j < n; j++)
			ASSERT_EQ(fds[j].revents, j % 2 ? POLLIN : 0);
		char c;
		ASSERT_EQ(read(b[0], &c, 1), 1);
		ASSERT_RC(grace_stop_free(x.stop), 0);
	}
	free(fds);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

/* Many pollers on shared descriptors, under one parent stop: those with a
 * deadline time out by it, data wakes every one watching it, and the
 * parent's request wakes the rest. */
TEST(concurrent_pollers_with_deadlines)
{
	enum { N = 12 };
	int quiet[2], busy[2];
	ASSERT_EQ(pipe(quiet), 0);
	ASSERT_EQ(pipe(busy), 0);
	grace_stop *root = new_stop();
	struct pollfd fds[N][2];
	struct poller x[N];
	const int64_t ms = 80;
	grace_deadline t0 = grace_now();
	for (int i = 0; i < N; i++) {
		grace_stop *s = NULL;
		ASSERT_RC(grace_stop_new(&s, root), 0);
		fds[i][0] = (struct pollfd){.fd = quiet[0], .events = POLLIN};
		fds[i][1] = (struct pollfd){.fd = i % 3 == 1 ? busy[0] : -1, .events = POLLIN};
		mark(fds[i], 2);
		x[i] = (struct poller){.fds = fds[i], .n = 2, .stop = s,
		                       .d = i % 3 == 0 ? t0 + ms * 1000000 : GRACE_FOREVER};
	}
	pthread_t t[N];
	start_threads(t, N, poller_main, x, sizeof x[0]);
	for (int i = 0; i < N; i++)
		if (i % 3 != 0)
			wait_in_ppoll(&x[i].tid);
	ASSERT_EQ(write(busy[1], "x", 1), 1);
	for (int i = 0; i < N; i++)
		if (i % 3 != 2)
			WAIT_UNTIL(atomic_load(&x[i].done));
	for (int i = 0; i < N; i++)
		if (i % 3 == 2)
			ASSERT_FALSE(atomic_load(&x[i].done));
	grace_deadline req = grace_now();
	ASSERT_RC(grace_stop_request(root, 1), 1);
	join_threads(t, N);
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0) {
			ASSERT_RC(x[i].result, -ETIMEDOUT);
			ASSERT_GE((x[i].ended - t0) / 1000000, ms);
			assert_untouched(fds[i], 2);
		} else if (i % 3 == 1) {
			ASSERT_RC(x[i].result, 1);
			ASSERT_EQ(fds[i][0].revents, 0);
			ASSERT_EQ(fds[i][1].revents, POLLIN);
		} else {
			ASSERT_RC(x[i].result, -ECANCELED);
			ASSERT_LT((x[i].ended - req) / 1000000, test_slack_ms());
			assert_untouched(fds[i], 2);
		}
		ASSERT_RC(grace_stop_free(x[i].stop), 0);
	}
	ASSERT_RC(grace_stop_free(root), 0);
	close(quiet[0]), close(quiet[1]), close(busy[0]), close(busy[1]);
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
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct pollfd fds[1] = {{.fd = p[0], .events = POLLIN}};
	for (int k = 0; k < 2; k++) {
		/* Interrupt it about every millisecond until it returns: a wait
		 * that restarted its timeout would never end. A busy machine
		 * may leave too few interrupts to tell; then again, longer. */
		for (int64_t ms = 150; ms <= 1200; ms *= 2) {
			mark(fds, 1);
			atomic_store(&interrupts, 0);
			grace_deadline t0 = grace_now();
			struct poller x = {.fds = fds, .n = 1, .stop = k ? new_stop() : NULL, .d = t0 + ms * 1000000};
			pthread_t t;
			start_threads(&t, 1, poller_main, &x, sizeof x);
			while (!atomic_load(&x.done)) {
				pthread_kill(t, SIGUSR1);
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
			}
			join_threads(&t, 1);
			int64_t took = ms_since(t0);
			ASSERT_RC(x.result, -ETIMEDOUT);
			ASSERT_GE(took, ms);
			ASSERT_LE(took, ms + test_slack_ms());
			assert_untouched(fds, 1);
			ASSERT_RC(grace_stop_free(x.stop), 0);
			if (atomic_load(&interrupts) > 10)
				break;
		}
		ASSERT_GT(atomic_load(&interrupts), 10);
	}
	close(p[0]), close(p[1]);
	ASSERT_EQ(sigaction(SIGUSR1, &old, NULL), 0);
}

/* ---- resources ---- */

TEST(large_set_allocation_fails_with_enomem)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	enum { BIG = 129 };
	struct pollfd fds[BIG];
	for (int i = 0; i < BIG; i++)
		fds[i] = (struct pollfd){.fd = p[0], .events = POLLIN};
	/* Up to 128 entries nothing is allocated: the countdown stays. */
	atomic_store(&grace__alloc_fail_countdown, 1);
	mark(fds, BIG);
	ASSERT_RC(grace_poll_many(fds, BIG - 1, NULL, GRACE_FOREVER), BIG - 1);
	ASSERT_EQ(atomic_load(&grace__alloc_fail_countdown), 1);
	ASSERT_EQ(fds[BIG - 1].revents, UNTOUCHED);
	/* One more needs the allocation, which fails: nothing touched. */
	mark(fds, BIG);
	ASSERT_RC(grace_poll_many(fds, BIG, NULL, GRACE_FOREVER), -ENOMEM);
	ASSERT_EQ(atomic_load(&grace__alloc_fail_countdown), 0);
	assert_untouched(fds, BIG);
	ASSERT_RC(grace_poll_many(fds, BIG, NULL, GRACE_FOREVER), BIG);
	for (int i = 0; i < BIG; i++)
		ASSERT_EQ(fds[i].revents, POLLIN);
	close(p[0]), close(p[1]);
}

/* The lowest descriptor number free now: every one below is open. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	ASSERT_GE(fd, 0);
	close(fd);
	return fd;
}

TEST(descriptor_limit)
{
	struct rlimit old;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	rlim_t lim = 200;
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim) {
		printf("(RLIMIT_NOFILE below %d: skipped) ", (int)lim);
		close(p[0]), close(p[1]);
		return;
	}
	struct pollfd *fds = calloc(lim + 1, sizeof *fds);
	ASSERT_TRUE(fds != NULL);
	for (rlim_t i = 0; i <= lim; i++)
		fds[i] = (struct pollfd){.fd = p[0], .events = POLLIN};
	grace_stop *s = new_stop();
	ASSERT_GE(grace_stop_fd(s), 0);
	struct rlimit rl = {lim, old.rlim_max};
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* As many entries as the limit: poll(2) takes them, but not with the
	 * stop's descriptor beside them. */
	ASSERT_RC(grace_poll_many(fds, lim, NULL, GRACE_FOREVER), (int)lim);
	mark(fds, lim + 1);
	ASSERT_RC(grace_poll_many(fds, lim, s, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_poll_many(fds, lim + 1, NULL, GRACE_FOREVER), -EINVAL);
	assert_untouched(fds, lim + 1);
	ASSERT_RC(grace_poll_many(fds, lim - 1, s, GRACE_FOREVER), (int)lim - 1);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	free(fds);
	close(p[0]), close(p[1]);
}

/* A stop that cannot get its descriptor: the call says so, touches nothing. */
TEST(stop_descriptor_failure_is_returned)
{
	struct rlimit old;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct pollfd fds[1] = {{.fd = p[0], .events = POLLIN}};
	grace_stop *s = new_stop();
	/* No descriptor can be made below the limit, none above it. */
	struct rlimit rl = {(rlim_t)lowest_free_fd(), old.rlim_max};
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	mark(fds, 1);
	ASSERT_RC(grace_poll_many(fds, 1, s, grace_after_ms(10)), -EMFILE);
	assert_untouched(fds, 1);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	ASSERT_RC(grace_poll_many(fds, 1, s, grace_after_ms(10)), -ETIMEDOUT);
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* ---- reports ---- */

struct recorded {
	int fd;
	grace_stop *stop;
	struct grace__blocked rec;
	int result;
};

static void *recorded_main(void *arg)
{
	struct recorded *r = arg;
	grace__self_blocked = &r->rec;
	struct pollfd fds[1] = {{.fd = r->fd, .events = POLLIN}};
	r->result = grace_poll_many(fds, 1, r->stop, GRACE_FOREVER);
	grace__self_blocked = NULL;
	return NULL;
}

TEST(blocked_call_is_recorded)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct recorded r = {.fd = p[0], .stop = new_stop()};
	pthread_t t;
	start_threads(&t, 1, recorded_main, &r, sizeof r);
	const char *op = NULL, *name = NULL;
	int64_t since = 0;
	WAIT_UNTIL((grace__blocked_read(&r.rec, &op, &name, &since), op != NULL));
	ASSERT_STR_EQ(op, "poll");
	ASSERT_GT(since, 0);
	ASSERT_RC(grace_stop_request(r.stop, 1), 1);
	join_threads(&t, 1);
	ASSERT_RC(r.result, -ECANCELED);
	grace__blocked_read(&r.rec, &op, &name, &since);
	ASSERT_TRUE(op == NULL);
	close(p[0]), close(p[1]);
	ASSERT_RC(grace_stop_free(r.stop), 0);
}

TEST_LIST(T(misuse_answers_einval_and_touches_nothing), T(answers_what_poll_answers),
          T(stop_already_requested_wins_over_ready_descriptors), T(past_deadline_is_a_try),
          T(deadline_returns_etimedout), T(stop_wakes_a_blocked_call_and_leaves_revents),
          T(data_wakes_a_blocked_call), T(concurrent_pollers_with_deadlines), T(eintr_retried_within_deadline),
          T(large_set_allocation_fails_with_enomem), T(descriptor_limit), T(stop_descriptor_failure_is_returned),
          T(blocked_call_is_recorded))
