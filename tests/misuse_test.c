/* SPDX-License-Identifier: MIT */
/*
 * misuse_test.c - the misuse cases of docs/errors.md that the part tests
 * (stop_test.c, event_test.c, time_test.c, alloc_test.c) do not already
 * check: each calls the API the wrong way, checks the documented code, and
 * checks that nothing changed.
 *
 * "Not a stop" is memory that grace_stop_new never made (zeroed here): the
 * magic word tells it apart while the memory is valid. A freed stop cannot
 * be tested without undefined behaviour and is not. "Not a queue" is the
 * same for queues: zeroed memory larger than a queue and aligned as one.
 */
#include "test.h"
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

static struct grace_stop not_a_stop; /* zeroed: no magic */
static _Alignas(64) unsigned char not_a_queue_mem[8192];
#define NOT_A_QUEUE ((grace_queue *)(void *)not_a_queue_mem)

static grace_stop *new_stop(grace_stop *parent)
{
	grace_stop *s = NULL;
	ASSERT_RC(grace_stop_new(&s, parent), 0);
	return s;
}

static void count_cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

TEST(new_under_not_a_stop)
{
	grace_stop *out = (grace_stop *)&not_a_stop;
	ASSERT_RC(grace_stop_new(&out, &not_a_stop), -EINVAL);
	ASSERT_PTR_EQ(out, &not_a_stop); /* *out untouched */
}

TEST(request_not_a_stop)
{
	ASSERT_RC(grace_stop_request(&not_a_stop, 1), -EINVAL);
	ASSERT_FALSE(grace_stop_requested(&not_a_stop));
	ASSERT_EQ(grace_stop_reason(&not_a_stop), 0);
}

TEST(free_not_a_stop)
{
	ASSERT_RC(grace_stop_free(&not_a_stop), -EINVAL);
}

TEST(deadline_on_not_a_stop)
{
	ASSERT_RC(grace_stop_set_deadline(&not_a_stop, grace_now()), -EINVAL);
	ASSERT_FALSE(grace_stop_requested(&not_a_stop));
}

TEST(on_not_a_stop)
{
	grace_stop_cb cb = {0};
	atomic_int n = 0;
	ASSERT_RC(grace_stop_on(&not_a_stop, &cb, count_cb, &n), -EINVAL);
	ASSERT_RC(grace_stop_off(&cb), 0); /* it was never registered */
	ASSERT_EQ(atomic_load(&n), 0);
}

TEST(fd_of_not_a_stop)
{
	ASSERT_RC(grace_stop_fd(&not_a_stop), -EINVAL);
}

/* A refused free changes nothing: the stop still works, its child still
 * follows it, its callback still runs. */
TEST(refused_free_changes_nothing)
{
	grace_stop *parent = new_stop(NULL);
	grace_stop *child = new_stop(parent);
	grace_stop_cb cb = {0};
	atomic_int n = 0;
	ASSERT_RC(grace_stop_on(parent, &cb, count_cb, &n), 0);
	ASSERT_RC(grace_stop_free(parent), -EBUSY);
	ASSERT_RC(grace_stop_free(parent), -EBUSY);
	ASSERT_RC(grace_stop_request(parent, 3), 1);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_EQ(grace_stop_reason(child), 3);
	ASSERT_RC(grace_stop_free(parent), -EBUSY); /* the child is still there */
	ASSERT_RC(grace_stop_free(child), 0);
	ASSERT_RC(grace_stop_free(parent), 0); /* the record ran: no longer registered */
}

TEST(deadline_on_requested_stop_changes_nothing)
{
	grace_stop *s = new_stop(NULL);
	ASSERT_RC(grace_stop_request(s, 8), 1);
	ASSERT_RC(grace_stop_set_deadline(s, grace_now() - 1), 0);
	ASSERT_RC(grace_stop_set_deadline(s, grace_after_ms(1)), 0);
	ASSERT_EQ(grace_stop_reason(s), 8); /* the first reason sticks */
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(record_registered_on_another_stop)
{
	grace_stop *a = new_stop(NULL);
	grace_stop *b = new_stop(NULL);
	grace_stop_cb cb = {0};
	atomic_int n = 0;
	ASSERT_RC(grace_stop_on(a, &cb, count_cb, &n), 0);
	ASSERT_RC(grace_stop_on(b, &cb, count_cb, &n), -EINVAL);
	ASSERT_RC(grace_stop_request(b, 1), 1);
	ASSERT_EQ(atomic_load(&n), 0); /* the record stayed with a */
	ASSERT_RC(grace_stop_request(a, 1), 1);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_RC(grace_stop_free(a), 0);
	ASSERT_RC(grace_stop_free(b), 0);
}

TEST(free_with_fd_open_closes_it)
{
	grace_stop *s = new_stop(NULL);
	int fd = grace_stop_fd(s);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(grace_stop_fd(s), fd); /* one descriptor per stop */
	ASSERT_RC(grace_stop_free(s), 0);
	ASSERT_EQ(fcntl(fd, F_GETFD), -1); /* closed by the free (one thread here) */
}

TEST(wait_on_destroyed_event_with_requested_stop)
{
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *s = new_stop(NULL);
	ASSERT_RC(grace_event_destroy(&ev), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	/* A requested stop wins without the object being looked at. */
	ASSERT_RC(grace_event_wait(&ev, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_event_wait(&ev, NULL, 0), -EINVAL);
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(set_event_with_requested_stop)
{
	grace_event ev = GRACE_EVENT_INIT;
	grace_stop *s = new_stop(NULL);
	ASSERT_RC(grace_event_set(&ev), 0);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_RC(grace_event_wait(&ev, s, 0), -ECANCELED); /* stop wins over set */
	ASSERT_TRUE(grace_event_is_set(&ev));                /* untouched */
	ASSERT_RC(grace_stop_free(s), 0);
}

TEST(strerror_of_any_int)
{
	static const int odd[] = {1, -1, 77, -77, 4096, -4096, 2147483647, -2147483647 - 1};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		const char *s = grace_strerror(odd[i]);
		ASSERT_TRUE(s != NULL && s[0] != '\0');
	}
	ASSERT_STR_EQ(grace_strerror(ECANCELED), "unknown error"); /* codes are negative */
}

TEST(reason_signal_of_any_int)
{
	static const int odd[] = {0, 1, -1, -2, -1000, -2025, -2024 - 1000, 2147483647, -2147483647 - 1};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		int sig = grace_reason_signal(odd[i]);
		ASSERT_TRUE(sig >= 0 && sig <= 1024);
	}
	ASSERT_EQ(grace_reason_signal(-1000), 0); /* GRACE_REASON_SIGNAL(0) is no signal */
}


/* ---- queues, threads, groups, reports, signals ---- */

static void dispose_none(void *item, void *arg)
{
	(void)item;
	atomic_fetch_add((atomic_int *)arg, 1);
}

TEST(queue_new_bad_arguments)
{
	grace_queue *q = NOT_A_QUEUE;
	ASSERT_RC(grace_queue_new(NULL, 4), -EINVAL);
	ASSERT_RC(grace_queue_new(NULL, 0), -EINVAL);
	ASSERT_RC(grace_queue_new(&q, SIZE_MAX), -ENOMEM);
	ASSERT_RC(grace_queue_new(&q, SIZE_MAX / 2), -ENOMEM);
	ASSERT_PTR_EQ(q, NOT_A_QUEUE); /* *out untouched */
}

TEST(queue_calls_on_not_a_queue)
{
	void *it = &it, *items[2];
	atomic_int disposed = 0;
	ASSERT_RC(grace_queue_put(NOT_A_QUEUE, it, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_get(NOT_A_QUEUE, &it, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_PTR_EQ(it, &it);
	ASSERT_RC(grace_queue_task_done(NOT_A_QUEUE), -EINVAL);
	ASSERT_RC(grace_queue_join(NOT_A_QUEUE, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_queue_shutdown(NOT_A_QUEUE, GRACE_SHUTDOWN_DRAIN), -EINVAL);
	ASSERT_RC(grace_queue_drain(NOT_A_QUEUE, items, 2), -EINVAL);
	ASSERT_RC(grace_queue_set_name(NOT_A_QUEUE, "x"), -EINVAL);
	ASSERT_EQ(grace_queue_size(NOT_A_QUEUE), 0);
	ASSERT_RC(grace_queue_free(NOT_A_QUEUE), -EINVAL);
	ASSERT_RC(grace_queue_free_items(NOT_A_QUEUE, dispose_none, &disposed), -EINVAL);
	ASSERT_EQ(atomic_load(&disposed), 0);
	static const unsigned char zero[sizeof not_a_queue_mem];
	ASSERT_TRUE(memcmp(not_a_queue_mem, zero, sizeof zero) == 0); /* nothing written */
}

/* Arguments come before the stop: not a stop is -EINVAL, and a requested
 * stop does not hide a queue that is not one. */
TEST(queue_with_not_a_stop)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 2), 0);
	ASSERT_RC(grace_queue_put(q, NULL, NULL, 0), 0);
	void *it = &it;
	ASSERT_RC(grace_queue_put(q, &it, &not_a_stop, 0), -EINVAL);
	ASSERT_RC(grace_queue_get(q, &it, &not_a_stop, 0), -EINVAL);
	ASSERT_RC(grace_queue_join(q, &not_a_stop, 0), -EINVAL);
	ASSERT_PTR_EQ(it, &it);
	ASSERT_EQ(grace_queue_size(q), 1); /* nothing changed */
	grace_stop *s = new_stop(NULL);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_RC(grace_queue_put(NOT_A_QUEUE, NULL, s, 0), -EINVAL);
	ASSERT_RC(grace_queue_get(NOT_A_QUEUE, &it, s, 0), -EINVAL);
	ASSERT_RC(grace_queue_join(NOT_A_QUEUE, s, 0), -EINVAL);
	ASSERT_RC(grace_queue_get(q, &it, s, 0), -ECANCELED); /* the stop wins over the item */
	ASSERT_RC(grace_queue_get(q, &it, NULL, 0), 0);
	ASSERT_PTR_EQ(it, NULL);
	ASSERT_RC(grace_queue_free(q), 0);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* A refused free changes nothing: the queue keeps its items in order and
 * goes on working, shut down or not. */
TEST(queue_refused_free_changes_nothing)
{
	grace_queue *q;
	ASSERT_RC(grace_queue_new(&q, 0), 0);
	ASSERT_RC(grace_queue_put(q, not_a_queue_mem, NULL, 0), 0);
	ASSERT_RC(grace_queue_put(q, &not_a_stop, NULL, 0), 0);
	ASSERT_RC(grace_queue_free(q), -EBUSY);
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
	ASSERT_RC(grace_queue_free(q), -EBUSY);
	ASSERT_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN), -EINVAL); /* no downgrade */
	void *items[3] = {NULL, NULL, NULL};
	ASSERT_RC(grace_queue_drain(q, items, 3), 2);
	ASSERT_PTR_EQ(items[0], not_a_queue_mem);
	ASSERT_PTR_EQ(items[1], &not_a_stop);
	ASSERT_RC(grace_queue_free(q), 0);
}

static int return_zero(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return 0;
}

TEST(thread_start_under_not_a_stop)
{
	grace_thread *t = (grace_thread *)&t;
	long base = atomic_load(&grace__thread_states);
	ASSERT_RC(grace_thread_start(&t, "x", return_zero, NULL, &not_a_stop), -EINVAL);
	ASSERT_RC(grace_thread_start_opts(&t, "x", return_zero, NULL, &not_a_stop, NULL), -EINVAL);
	ASSERT_PTR_EQ(t, &t); /* *out untouched, no thread made */
	ASSERT_EQ(atomic_load(&grace__thread_states), base);
}

static int defer_null(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	return grace_defer(NULL, NULL);
}

TEST(defer_null_fn_in_a_grace_thread)
{
	grace_thread *t;
	int result = 0;
	ASSERT_RC(grace_thread_start(&t, "defer", defer_null, NULL, NULL), 0);
	ASSERT_RC(grace_thread_join(t, GRACE_FOREVER, &result), 0);
	ASSERT_RC(result, -EINVAL);
}

TEST(group_new_under_not_a_stop)
{
	grace_group *g = (grace_group *)&g;
	ASSERT_RC(grace_group_new(&g, "x", &not_a_stop), -EINVAL);
	ASSERT_PTR_EQ(g, &g);
}

/* A group whose stop carries a caller's callback refuses to be freed, and
 * the refusal changes nothing. */
TEST(group_free_with_a_callback_on_its_stop)
{
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "cb", NULL), 0);
	grace_stop_cb cb = {0};
	atomic_int n = 0;
	ASSERT_RC(grace_stop_on(grace_group_get_stop(g), &cb, count_cb, &n), 0);
	ASSERT_RC(grace_group_free(g), -EBUSY);
	ASSERT_RC(grace_group_spawn(g, "w", return_zero, NULL), 0); /* still usable */
	ASSERT_RC(grace_group_shutdown(g, 4, GRACE_FOREVER, NULL), 0);
	ASSERT_EQ(atomic_load(&n), 1);
	ASSERT_RC(grace_stop_off(&cb), 0);
	ASSERT_RC(grace_group_free(g), 0);
}

TEST(report_at_out_of_range)
{
	grace_group *g;
	grace_report *rep;
	ASSERT_RC(grace_group_new(&g, "r", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "w", return_zero, NULL), 0);
	ASSERT_RC(grace_group_shutdown(g, 1, GRACE_FOREVER, &rep), 0);
	ASSERT_EQ(grace_report_count(rep), 1);
	ASSERT_TRUE(grace_report_at(rep, 0) != NULL);
	ASSERT_TRUE(grace_report_at(rep, 1) == NULL);
	ASSERT_TRUE(grace_report_at(rep, SIZE_MAX) == NULL);
	grace_report_free(rep);
	ASSERT_RC(grace_group_free(g), 0);
}

TEST(route_to_not_a_stop)
{
	int u1[] = {SIGUSR1};
	struct sigaction before;
	ASSERT_EQ(sigaction(SIGUSR1, NULL, &before), 0);
	ASSERT_RC(grace_signals_route(&not_a_stop, u1, 1), -EINVAL);
	ASSERT_RC(grace_signals_route(&not_a_stop, NULL, 0), -EINVAL);
	struct sigaction after;
	ASSERT_EQ(sigaction(SIGUSR1, NULL, &after), 0);
	ASSERT_TRUE(after.sa_handler == before.sa_handler); /* nothing installed */
	ASSERT_RC(grace_signals_unroute(), -EINVAL);      /* nothing routed */
}

TEST(io_past_deadline_and_requested_stop_on_bad_fd)
{
	/* The descriptor is an argument: -EBADF before the stop and the
	 * deadline are looked at. */
	grace_stop *s = new_stop(NULL);
	ASSERT_RC(grace_stop_request(s, 1), 1);
	ASSERT_RC(grace_sleep(s, grace_now() - 1), -ECANCELED); /* the stop wins over a past deadline */
	char c;
	ASSERT_RC(grace_read(-7, &c, 1, s, 0), -EBADF);
	ASSERT_RC(grace_poll(-7, POLLIN, s, 0), -EBADF);
	ASSERT_RC(grace_stop_free(s), 0);
}

/* grace_sleep, grace_event_wait and the I/O calls take a stop like every
 * other blocking call: memory that is not a live stop is -EINVAL, checked
 * before anything else, and nothing is written into it (a waiter must not
 * announce itself in a word that is not a stop's). A not-a-stop whose first
 * word happens to read "requested" is still not a stop. */
static void check_untouched(const struct grace_stop *bad, const struct grace_stop *copy)
{
	ASSERT_TRUE(memcmp(bad, copy, sizeof *bad) == 0);
}

TEST(sleep_event_and_io_with_not_a_stop)
{
	for (int requested = 0; requested < 2; requested++) {
		struct grace_stop bad, copy;
		memset(&bad, 0, sizeof bad);
		atomic_store(&bad.flag.word, requested ? GRACE__STOP_REQUESTED : 0);
		memcpy(&copy, &bad, sizeof bad);

		ASSERT_RC(grace_sleep(&bad, grace_after_ms(20)), -EINVAL);
		ASSERT_RC(grace_sleep(&bad, 0), -EINVAL);
		check_untouched(&bad, &copy);

		grace_event ev = GRACE_EVENT_INIT;
		ASSERT_RC(grace_event_wait(&ev, &bad, grace_after_ms(20)), -EINVAL);
		ASSERT_RC(grace_event_wait(&ev, &bad, 0), -EINVAL);
		ASSERT_RC(grace_event_set(&ev), 0);
		ASSERT_RC(grace_event_wait(&ev, &bad, 0), -EINVAL); /* even when set */
		ASSERT_TRUE(grace_event_is_set(&ev));
		ASSERT_EQ(atomic_load(&ev.waiters), 0);
		check_untouched(&bad, &copy);

		/* I/O: a ready descriptor is not read, a waiting one not waited on. */
		int p[2];
		ASSERT_EQ(pipe(p), 0);
		ASSERT_EQ(write(p[1], "x", 1), 1);
		char c = 0;
		ASSERT_RC(grace_read(p[0], &c, 1, &bad, 0), -EINVAL);
		ASSERT_RC(grace_write(p[1], "y", 1, &bad, 0), -EINVAL);
		ASSERT_RC(grace_poll(p[0], POLLIN, &bad, 0), -EINVAL);
		ASSERT_EQ(c, 0);
		ASSERT_EQ(read(p[0], &c, 1), 1); /* the byte is still there, alone */
		ASSERT_EQ(c, 'x');
		ASSERT_RC(grace_poll(p[0], POLLIN, NULL, 0), -ETIMEDOUT);
		close(p[0]);
		close(p[1]);
		check_untouched(&bad, &copy);
	}
}

TEST_LIST(T(new_under_not_a_stop), T(request_not_a_stop), T(free_not_a_stop), T(deadline_on_not_a_stop),
          T(on_not_a_stop), T(fd_of_not_a_stop), T(refused_free_changes_nothing),
          T(deadline_on_requested_stop_changes_nothing), T(record_registered_on_another_stop),
          T(free_with_fd_open_closes_it), T(wait_on_destroyed_event_with_requested_stop),
          T(set_event_with_requested_stop), T(strerror_of_any_int), T(reason_signal_of_any_int),
          T(queue_new_bad_arguments), T(queue_calls_on_not_a_queue), T(queue_with_not_a_stop), T(queue_refused_free_changes_nothing),
          T(thread_start_under_not_a_stop), T(defer_null_fn_in_a_grace_thread), T(group_new_under_not_a_stop),
          T(group_free_with_a_callback_on_its_stop), T(report_at_out_of_range), T(route_to_not_a_stop),
          T(io_past_deadline_and_requested_stop_on_bad_fd), T(sleep_event_and_io_with_not_a_stop))
