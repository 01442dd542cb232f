/* SPDX-License-Identifier: MIT */
/*
 * timer.c - deadlines: grace_stop_set_deadline, served by one process-wide
 * timer thread.
 *
 * The timer keeps the timed stops in a list sorted by deadline and sleeps
 * on a CLOCK_MONOTONIC condvar until the earliest; with none it sleeps
 * without a timeout (no idle wake-ups). At a deadline it does the first half
 * of the request itself (stop.c: the flags of the stop and its descendants,
 * their sleepers, their descriptors: no caller code, so it is quick) and
 * hands the callbacks, if there are any, to a thread of their own with the
 * system's default stack. So a slow callback delays no other deadline, a
 * callback may wait for another deadline, and a callback's stack is what a
 * request from main would give it. Only if that thread cannot be started do
 * the callbacks run in the timer thread.
 *
 * fork(): the child has no timer thread. The lock is held across fork (an
 * atfork handler), so the child's list is consistent; the child's handler
 * starts a new timer thread if deadlines are pending, and a later
 * grace_stop_set_deadline starts one otherwise.
 *
 * Lock order: `tlock` is never held while a stop is requested or while a
 * stop's lock is taken.
 */
#include "internal.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcond;
static bool tstarted;
static struct grace__list tlist; /* through tlink, sorted by deadline, earliest first */
static grace_stop *tfiring;      /* the stop whose first half the timer is doing */
static pthread_once_t once = PTHREAD_ONCE_INIT;

int grace__start_background(void *(*fn)(void *), void *arg, pthread_t *joinable)
{
	/* A background thread takes no signals: they belong to the program.
	 * (pthread_sigmask fails only for a bad `how`.) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t a;
	int r = pthread_attr_init(&a);
	if (r == 0) {
		if (joinable == NULL)
			r = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_t t;
		if (r == 0)
			r = pthread_create(joinable != NULL ? joinable : &t, &a, fn, arg);
		pthread_attr_destroy(&a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r == 0 ? 0 : -EAGAIN;
}

static void unlink_timed_locked(grace_stop *s)
{
	if (!s->timed)
		return;
	grace__list_remove(&tlist, &s->tlink);
	s->timed = false;
}

static void *callbacks_main(void *arg)
{
	grace__stop_request_end(arg);
	return NULL;
}

static void fire(grace_stop *s)
{
	struct grace__req *r;
	if (!grace__stop_request_begin(s, GRACE_REASON_DEADLINE, &r) || r == NULL)
		return;
	if (grace__start_background(callbacks_main, r, NULL) < 0)
		grace__stop_request_end(r); /* late for the others, never lost */
}

/* pthread_cond_wait, _timedwait and _broadcast fail only on objects that
 * are not condvars and mutexes; a timeout (ETIMEDOUT) just goes round the
 * loop, which looks at the clock itself. */
static void *timer_main(void *arg)
{
	(void)arg;
	grace__mutex_lock(&tlock);
	for (;;) {
		if (grace__list_empty(&tlist)) {
			pthread_cond_wait(&tcond, &tlock);
			continue;
		}
		grace_stop *s = grace__container_of(tlist.first, grace_stop, tlink);
		if (s->deadline > grace__os_now()) {
			/* Clamped where time_t is narrower than the deadline; the
			 * loop waits again until the real one. */
			int64_t sec = s->deadline / 1000000000;
			struct timespec ts = {.tv_sec = sizeof(time_t) < sizeof(int64_t) && sec > INT32_MAX
			                                        ? (time_t)INT32_MAX
			                                        : (time_t)sec,
			                      .tv_nsec = s->deadline % 1000000000};
			pthread_cond_timedwait(&tcond, &tlock, &ts);
			continue;
		}
		unlink_timed_locked(s);
		tfiring = s;
		grace__mutex_unlock(&tlock);
		fire(s);
		grace__mutex_lock(&tlock);
		tfiring = NULL;
		pthread_cond_broadcast(&tcond);
	}
	return NULL;
}

/* The condvar times out on CLOCK_MONOTONIC, the clock of every deadline;
 * where that cannot be had the timer does not start (-EAGAIN) rather than
 * fire on the wrong clock. */
static bool tcond_ok;

static void cond_init(void)
{
	pthread_condattr_t ca;
	tcond_ok = false;
	if (pthread_condattr_init(&ca) != 0)
		return;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&tcond, &ca) == 0)
		tcond_ok = true;
	(void)pthread_condattr_destroy(&ca); /* cannot fail on an initialised attribute */
}

static int start_locked(void)
{
	if (tstarted)
		return 0;
	if (!tcond_ok)
		return -EAGAIN;
	if (grace__start_background(timer_main, NULL, NULL) < 0)
		return -EAGAIN;
	tstarted = true;
	return 0;
}

static void atfork_prepare(void)
{
	grace__mutex_lock(&tlock);
}

static void atfork_parent(void)
{
	grace__mutex_unlock(&tlock);
}

static void atfork_child(void)
{
	/* The parent's timer thread does not exist here, and the condvar may
	 * hold its state: start afresh. A stop the timer was requesting at
	 * the fork is flagged and never finished in the child (see grace.h). */
	cond_init();
	tstarted = false;
	tfiring = NULL;
	if (!grace__list_empty(&tlist))
		(void)start_locked();
	grace__mutex_unlock(&tlock);
}

static void init(void)
{
	cond_init();
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void grace__timer_remove(grace_stop *s, bool wait_firing)
{
	grace__mutex_lock(&tlock);
	unlink_timed_locked(s);
	s->deadline = GRACE_FOREVER;
	while (wait_firing && tfiring == s)
		pthread_cond_wait(&tcond, &tlock);
	grace__mutex_unlock(&tlock);
}

int grace__timer_set(grace_stop *s, int64_t d)
{
	pthread_once(&once, init);
	grace__mutex_lock(&tlock);
	int r = start_locked();
	if (r == 0) {
		unlink_timed_locked(s);
		s->deadline = d;
		/* After every deadline not later than d, so that equal
		 * deadlines fire in the order they were set. */
		struct grace__link *it;
		grace__list_for_each(&tlist, it) {
			if (grace__container_of(it, grace_stop, tlink)->deadline > d)
				break;
		}
		grace__list_insert_before(&tlist, it, &s->tlink);
		s->timed = true;
		if (tlist.first == &s->tlink)
			pthread_cond_broadcast(&tcond);
	}
	grace__mutex_unlock(&tlock);
	return r;
}

int grace_stop_set_deadline(grace_stop *s, grace_deadline d)
{
	if (!grace__stop_live(s))
		return -EINVAL;
	if (grace_stop_requested(s))
		return 0;
	if (d == GRACE_FOREVER) {
		grace__timer_remove(s, false);
		return 0;
	}
	if (d <= grace__os_now()) {
		grace__timer_remove(s, false);
		grace__stop_request(s, GRACE_REASON_DEADLINE);
		return 0;
	}
	return grace__timer_set(s, d);
}
