/*
 * misuse_test.c - the misuse cases of docs/errors.md that the part tests
 * (stop_test.c, event_test.c, time_test.c, alloc_test.c) do not already
 * check: each calls the API the wrong way, checks the documented code, and
 * checks that nothing changed.
 *
 * "Not a stop" is memory that grace_stop_new never made (zeroed here): the
 * magic word tells it apart while the memory is valid. A freed stop cannot
 * be tested without undefined behaviour and is not.
 */
#include "test.h"
#include "internal.h"

#include <fcntl.h>

static struct grace_stop not_a_stop; /* zeroed: no magic */

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

TEST_LIST(T(new_under_not_a_stop), T(request_not_a_stop), T(free_not_a_stop), T(deadline_on_not_a_stop),
          T(on_not_a_stop), T(fd_of_not_a_stop), T(refused_free_changes_nothing),
          T(deadline_on_requested_stop_changes_nothing), T(record_registered_on_another_stop),
          T(free_with_fd_open_closes_it), T(wait_on_destroyed_event_with_requested_stop),
          T(set_event_with_requested_stop), T(strerror_of_any_int), T(reason_signal_of_any_int))
