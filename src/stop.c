/*
 * stop.c - the stop: a request flag with a reason, children, callbacks, a
 * wake descriptor and a deadline.
 *
 * Design. The flag is bit 0 of the first word, so grace_stop_requested() is
 * one inline acquire load. A request first claims the reason with a
 * compare-and-swap (the one caller that wins answers 1), then sets the bit
 * with a release RMW that pairs with that acquire load, wakes sleepers in the
 * wait core if any announced themselves (wait.c explains the protocol), and
 * finally runs the callbacks in the requesting thread. Children are ordinary
 * callbacks on their parent that request the child with the parent's reason.
 *
 * Callbacks follow C++20 std::stop_callback: each runs once; grace_stop_off
 * waits for one running in another thread but returns at once when called
 * from inside it, and never holds the stop's lock while a callback runs, so
 * a callback may call back into any stop function.
 *
 * Deadlines: one detached timer thread per process keeps the timed stops in
 * a list sorted by deadline and sleeps on a CLOCK_MONOTONIC condvar until
 * the earliest; with none it sleeps without a timeout (no idle wake-ups).
 *
 * Lock order: a stop's lock is never held while another lock is taken, and
 * never while a callback runs; the timer lock is never held while a stop is
 * requested.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>

/* grace_stop_cb.state */
#define CB_IDLE 0u
#define CB_REGISTERED 0x52454749u /* unlikely in garbage: catches double registration */
#define CB_RUNNING 0x52554e4eu
#define CB_DONE 0x444f4e45u

static void timer_remove(grace_stop *s, bool wait_firing);

/* A record's state is the one word grace_stop_off reads without the stop's
 * lock. Every store to it is a release and the lockless loads are acquires,
 * all through these two functions, kept out of line so that the valgrind
 * suppressions (tests/valgrind/grace.supp) can name exactly these accesses:
 * Helgrind and DRD do not model C11 atomics. A call costs a nanosecond on
 * paths that run callbacks or remove them, none of them hot. */
static __attribute__((noinline)) uint32_t cb_state_acquire(grace_stop_cb *cb)
{
	return atomic_load_explicit(&cb->state, memory_order_acquire);
}

static __attribute__((noinline)) void cb_state_release(grace_stop_cb *cb, uint32_t state)
{
	atomic_store_explicit(&cb->state, state, memory_order_release);
}

/* The stop's first sleeper (wait.c), relaxed both ways: a reader that
 * misses the store counts itself another sleeper, which costs a wake and
 * loses none. Out of line for the valgrind suppressions, as above. */
__attribute__((noinline)) uintptr_t grace__stop_sleeper(grace_stop *s)
{
	return atomic_load_explicit(&s->sleeper, memory_order_relaxed);
}

__attribute__((noinline)) void grace__stop_set_sleeper(grace_stop *s)
{
	atomic_store_explicit(&s->sleeper, grace__self_id(), memory_order_relaxed);
}

int grace_reason_signal(int reason)
{
	if (reason <= GRACE_REASON_SIGNAL(1) && reason > GRACE_REASON_SIGNAL(1024))
		return GRACE_REASON_SIGNAL(0) - reason;
	return 0;
}

static void propagate(void *arg)
{
	grace_stop *child = arg;
	grace__stop_request(child, grace_stop_reason(child->parent));
}

int grace_stop_new(grace_stop **out, grace_stop *parent)
{
	if (out == NULL || (parent != NULL && !grace__stop_live(parent)))
		return -EINVAL;
	grace_stop *s = grace__calloc(1, sizeof *s);
	if (s == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return -ENOMEM;
	}
	s->magic = GRACE__STOP_MAGIC;
	s->fds[0] = s->fds[1] = -1;
	s->deadline = GRACE_FOREVER;
	if (parent != NULL) {
		s->parent = parent;
		atomic_fetch_add_explicit(&parent->children, 1, memory_order_relaxed);
		grace_stop_on(parent, &s->parent_cb, propagate, s);
	}
	*out = s;
	return 0;
}

int grace_stop_free(grace_stop *s)
{
	if (s == NULL)
		return 0;
	if (!grace__stop_live(s))
		return -EINVAL;
	if (atomic_load_explicit(&s->children, memory_order_acquire) != 0)
		return -EBUSY;
	pthread_mutex_lock(&s->lock);
	bool busy = s->cbs != NULL;
	pthread_mutex_unlock(&s->lock);
	if (busy)
		return -EBUSY;
	timer_remove(s, true);
	if (s->parent != NULL) {
		/* Waits if the parent's request is propagating into us right now. */
		grace_stop_off(&s->parent_cb);
		atomic_fetch_sub_explicit(&s->parent->children, 1, memory_order_release);
	}
	grace__os_wakefd_close(s->fds);
	s->magic = 0;
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

/* The first half of a request: claim the reason, set the flag and wake the
 * wait core's sleepers. True for the one caller that wins; a loser returns
 * false once the flag is visible. `self`: the caller is a sleeper of s
 * itself (grace__stop_help_locked), so no wake is needed if it is the only
 * one that ever announced itself. */
static bool claim(grace_stop *s, int reason, bool self)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong_explicit(&s->reason, &expected, reason, memory_order_relaxed,
	                                             memory_order_relaxed)) {
		/* Lost: the winner sets the flag right after its CAS. Wait for it
		 * so that every request returns with the flag visible. */
		while ((atomic_load_explicit(&s->flag.word, memory_order_acquire) & GRACE__STOP_REQUESTED) == 0)
			grace__os_pause();
		return false;
	}
	/* Release: pairs with grace_stop_requested's acquire (the reason is
	 * visible). Seq_cst RMW: ordered against a waiter's SLEEPERS RMW. */
	uint32_t old = atomic_fetch_or_explicit(&s->flag.word, GRACE__STOP_REQUESTED, memory_order_seq_cst);
	/* Any other sleeper set OTHERS with an RMW before it slept, ordered
	 * with ours: we see it, or its sleep sees REQUESTED (wait.c). */
	bool alone = self && (old & GRACE__STOP_OTHERS) == 0 &&
	             grace__stop_sleeper(s) == grace__self_id();
	if ((old & GRACE__STOP_SLEEPERS) && !alone)
		grace__os_wake(&s->flag.word, INT32_MAX);
	return true;
}

bool grace__stop_help_locked(grace_stop *s)
{
	/* The second half of a request (descriptor, callbacks, children) has
	 * nothing to do, and nothing can be added before the flag is set:
	 * grace_stop_on and grace_stop_fd take the lock we hold. */
	if (s->cbs != NULL || s->fds[0] >= 0)
		return false;
	claim(s, grace_stop_reason(s->parent), true);
	return true;
}

int grace__stop_request(grace_stop *s, int reason)
{
	if (!claim(s, reason, false))
		return 0;

	pthread_mutex_lock(&s->lock);
	if (s->fds[0] >= 0)
		grace__os_wakefd_signal(s->fds);
	s->running = true;
	s->runner = pthread_self();
	grace_stop_cb *cb;
	while ((cb = s->cbs) != NULL) {
		s->cbs = cb->next;
		if (s->cbs != NULL)
			s->cbs->prev = NULL;
		bool removed = false;
		cb->removed_while_running = &removed;
		cb_state_release(cb, CB_RUNNING);
		pthread_mutex_unlock(&s->lock);
		cb->fn(cb->arg);
		pthread_mutex_lock(&s->lock);
		if (!removed) {
			/* fn did not remove its own record: it is still ours, but
			 * only until CB_DONE is visible. grace_stop_off reads the
			 * state without the lock and, seeing CB_DONE, lets its
			 * caller free the record at once, so read waiting_off
			 * before the store and touch nothing of the record after
			 * it but the wake below. waiting_off is written only under
			 * the lock we hold, so it cannot change in between. */
			cb->removed_while_running = NULL;
			bool off_waits = cb->waiting_off != 0;
			cb_state_release(cb, CB_DONE);
			if (off_waits) {
				/* Under the lock: the off-waiter takes the lock once
				 * more before it returns, so the record outlives the
				 * wake. */
				grace__os_wake(&cb->state, INT32_MAX);
			}
		}
	}
	s->running = false;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

int grace_stop_request(grace_stop *s, int reason)
{
	if (!grace__stop_live(s) || reason <= 0)
		return -EINVAL;
	return grace__stop_request(s, reason);
}

int grace_stop_reason(const grace_stop *s)
{
	if (!grace_stop_requested(s))
		return 0;
	return atomic_load_explicit(&((grace_stop *)(uintptr_t)s)->reason, memory_order_relaxed);
}

int grace_stop_on(grace_stop *s, grace_stop_cb *cb, void (*fn)(void *arg), void *arg)
{
	if (!grace__stop_live(s) || cb == NULL || fn == NULL)
		return -EINVAL;
	if (atomic_load_explicit(&cb->state, memory_order_relaxed) == CB_REGISTERED)
		return -EINVAL;
	cb->fn = fn;
	cb->arg = arg;
	cb->stop = s;
	cb->removed_while_running = NULL;
	cb->waiting_off = 0;
	pthread_mutex_lock(&s->lock);
	if (atomic_load_explicit(&s->flag.word, memory_order_relaxed) & GRACE__STOP_REQUESTED) {
		/* The request has set the flag, so it will not look at this
		 * record: run it here, exactly once. */
		pthread_mutex_unlock(&s->lock);
		cb_state_release(cb, CB_DONE);
		fn(arg);
		return 1;
	}
	cb->prev = NULL;
	cb->next = s->cbs;
	if (s->cbs != NULL)
		s->cbs->prev = cb;
	s->cbs = cb;
	cb_state_release(cb, CB_REGISTERED);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int cb_off(grace_stop_cb *cb, bool wait)
{
	if (cb == NULL)
		return -EINVAL;
	uint32_t st = cb_state_acquire(cb);
	if (st != CB_REGISTERED && st != CB_RUNNING)
		return 0; /* never registered, or done */
	grace_stop *s = cb->stop;
	pthread_mutex_lock(&s->lock);
	st = atomic_load_explicit(&cb->state, memory_order_relaxed);
	if (st == CB_REGISTERED) {
		if (cb->prev != NULL)
			cb->prev->next = cb->next;
		else
			s->cbs = cb->next;
		if (cb->next != NULL)
			cb->next->prev = cb->prev;
		cb_state_release(cb, CB_IDLE);
		pthread_mutex_unlock(&s->lock);
		return 1;
	}
	if (st != CB_RUNNING) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (s->running && pthread_equal(s->runner, pthread_self())) {
		/* From inside fn: the runner must not touch the record again. */
		*cb->removed_while_running = true;
		cb_state_release(cb, CB_IDLE);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (!wait) {
		pthread_mutex_unlock(&s->lock);
		return -EBUSY;
	}
	cb->waiting_off = 1;
	pthread_mutex_unlock(&s->lock);
	/* Acquire: pairs with the runner's release store of CB_DONE. */
	while (cb_state_acquire(cb) == CB_RUNNING)
		grace__os_wait(&cb->state, CB_RUNNING, INT64_MAX);
	/* Let the runner finish its wake under the lock before the record may
	 * be freed by our caller. */
	pthread_mutex_lock(&s->lock);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int grace_stop_off(grace_stop_cb *cb)
{
	return cb_off(cb, true);
}

int grace_stop_try_off(grace_stop_cb *cb)
{
	return cb_off(cb, false);
}

int grace_stop_fd(grace_stop *s)
{
	if (!grace__stop_live(s))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->fds[0] < 0) {
		int r = grace__os_wakefd_open(s->fds);
		if (r < 0) {
			pthread_mutex_unlock(&s->lock);
			return r;
		}
		/* The request signals under this lock once REQUESTED is set; if it
		 * is set already, it may have looked before the descriptor existed. */
		if (atomic_load_explicit(&s->flag.word, memory_order_relaxed) & GRACE__STOP_REQUESTED)
			grace__os_wakefd_signal(s->fds);
	}
	int fd = s->fds[0];
	pthread_mutex_unlock(&s->lock);
	return fd;
}

/* ---- the deadline timer ---- */

static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcond;
static bool tstarted;
static grace_stop *thead;   /* sorted by deadline, earliest first */
static grace_stop *tfiring; /* the stop being requested by the timer */

static void unlink_timed_locked(grace_stop *s)
{
	if (!s->timed)
		return;
	if (s->tprev != NULL)
		s->tprev->tnext = s->tnext;
	else
		thead = s->tnext;
	if (s->tnext != NULL)
		s->tnext->tprev = s->tprev;
	s->tnext = s->tprev = NULL;
	s->timed = false;
}

static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&tlock);
	for (;;) {
		grace_stop *s = thead;
		if (s == NULL) {
			pthread_cond_wait(&tcond, &tlock);
			continue;
		}
		if (s->deadline > grace__os_now()) {
			struct timespec ts = {.tv_sec = s->deadline / 1000000000,
			                      .tv_nsec = s->deadline % 1000000000};
			pthread_cond_timedwait(&tcond, &tlock, &ts);
			continue;
		}
		unlink_timed_locked(s);
		tfiring = s;
		pthread_mutex_unlock(&tlock);
		grace__stop_request(s, GRACE_REASON_DEADLINE);
		pthread_mutex_lock(&tlock);
		tfiring = NULL;
		pthread_cond_broadcast(&tcond);
	}
	return NULL;
}

static int timer_start_locked(void)
{
	if (tstarted)
		return 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tcond, &ca);
	pthread_condattr_destroy(&ca);

	/* The timer thread takes no signals: they belong to the program. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_t t;
	int r = pthread_create(&t, &a, timer_main, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&tcond);
		return -EAGAIN;
	}
	tstarted = true;
	return 0;
}

static void timer_remove(grace_stop *s, bool wait_firing)
{
	pthread_mutex_lock(&tlock);
	unlink_timed_locked(s);
	s->deadline = GRACE_FOREVER;
	while (wait_firing && tfiring == s)
		pthread_cond_wait(&tcond, &tlock);
	pthread_mutex_unlock(&tlock);
}

int grace_stop_set_deadline(grace_stop *s, grace_deadline d)
{
	if (!grace__stop_live(s))
		return -EINVAL;
	if (grace_stop_requested(s))
		return 0;
	if (d == GRACE_FOREVER) {
		timer_remove(s, false);
		return 0;
	}
	if (d <= grace__os_now()) {
		timer_remove(s, false);
		grace__stop_request(s, GRACE_REASON_DEADLINE);
		return 0;
	}
	pthread_mutex_lock(&tlock);
	int r = timer_start_locked();
	if (r == 0) {
		unlink_timed_locked(s);
		s->deadline = d;
		grace_stop *prev = NULL, *it = thead;
		while (it != NULL && it->deadline <= d) {
			prev = it;
			it = it->tnext;
		}
		s->tprev = prev;
		s->tnext = it;
		if (prev != NULL)
			prev->tnext = s;
		else
			thead = s;
		if (it != NULL)
			it->tprev = s;
		s->timed = true;
		if (thead == s)
			pthread_cond_broadcast(&tcond);
	}
	pthread_mutex_unlock(&tlock);
	return r;
}
