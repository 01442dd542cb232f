/* SPDX-License-Identifier: MIT */
/*
 * cond_test.c - grace_cond: every sentence of the contract, every error
 * path, and the races: a stop that wakes a waiter while the requester holds
 * the mutex, 64 waiters ended by one stop, broadcasts, and a ring whose
 * producers and consumers count every item through two grace_conds. Run
 * it on both engines (GRACE_NO_FUTEX_WAITV=1) and in the portable build.
 *
 * The mutexes are error-checking ones where a test asks whether the caller
 * holds the mutex on return: pthread_mutex_unlock answers 0 only then.
 */
#include "test.h"

#include "internal.h"
#include "fake_engine.h"

static struct grace_stop not_a_stop; /* zeroed: no magic */

static void mutex_init(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	ASSERT_EQ(pthread_mutex_init(m, &a), 0);
	pthread_mutexattr_destroy(&a);
}

/* The caller holds m (an error-checking mutex): unlock it, which says so. */
#define ASSERT_HELD_AND_UNLOCK(m) ASSERT_EQ(pthread_mutex_unlock(m), 0)

TEST(zeroed_and_static_are_valid)
{
	static grace_cond s = GRACE_COND_INIT;
	grace_cond z;
	memset(&z, 0, sizeof z);
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	grace_cond *cs[] = {&s, &z};
	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&m);
		ASSERT_RC(grace_cond_wait(cs[i], &m, NULL, grace_now() - 1), -ETIMEDOUT);
		ASSERT_HELD_AND_UNLOCK(&m);
		ASSERT_RC(grace_cond_signal(cs[i]), 0);
		ASSERT_RC(grace_cond_broadcast(cs[i]), 0);
	}
	pthread_mutex_destroy(&m);
}

/* With no waiter, signal and broadcast write nothing and wake nothing. */
TEST(signal_without_waiters_writes_nothing)
{
	for (size_t e = 0; e < 2; e++) {
		fake_install(fakes[e]);
		grace_cond c = GRACE_COND_INIT;
		for (int i = 0; i < 3; i++) {
			ASSERT_RC(grace_cond_signal(&c), 0);
			ASSERT_RC(grace_cond_broadcast(&c), 0);
		}
		ASSERT_EQ(atomic_load(&c.waiters), 0);
		ASSERT_EQ(fk.wakes, 0);
		grace__engine_install(NULL);
	}
}

TEST(misuse)
{
	grace_cond c = GRACE_COND_INIT;
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_lock(&m);
	ASSERT_RC(grace_cond_wait(NULL, &m, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_cond_wait(&c, NULL, NULL, GRACE_FOREVER), -EINVAL);
	ASSERT_RC(grace_cond_wait(&c, &m, &not_a_stop, GRACE_FOREVER), -EINVAL);
	/* Arguments first: before a past deadline too. */
	ASSERT_RC(grace_cond_wait(&c, &m, &not_a_stop, 0), -EINVAL);
	ASSERT_HELD_AND_UNLOCK(&m);
	ASSERT_RC(grace_cond_signal(NULL), -EINVAL);
	ASSERT_RC(grace_cond_broadcast(NULL), -EINVAL);
	ASSERT_EQ(atomic_load(&c.waiters), 0);
	ASSERT_EQ(grace__word_waiters(&c, false), 0);
	pthread_mutex_destroy(&m);
}

TEST(stop_already_requested_wins)
{
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	ASSERT_RC(grace_stop_request(s, 7), 1);
	grace_cond c = GRACE_COND_INIT;
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_lock(&m);
	/* Over a past deadline too; the mutex never left the caller. */
	ASSERT_RC(grace_cond_wait(&c, &m, s, GRACE_FOREVER), -ECANCELED);
	ASSERT_RC(grace_cond_wait(&c, &m, s, 0), -ECANCELED);
	ASSERT_HELD_AND_UNLOCK(&m);
	ASSERT_EQ(atomic_load(&c.waiters), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	pthread_mutex_destroy(&m);
}

TEST(past_deadline_is_a_try)
{
	grace_cond c = GRACE_COND_INIT;
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	grace_deadline past[] = {grace_now(), grace_now() - 1, 0, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		pthread_mutex_lock(&m);
		ASSERT_RC(grace_cond_wait(&c, &m, NULL, past[i]), -ETIMEDOUT);
		ASSERT_HELD_AND_UNLOCK(&m);
	}
	/* Never registered: a signal still finds no waiter. */
	ASSERT_EQ(atomic_load(&c.waiters), 0);
	pthread_mutex_destroy(&m);
}

TEST(real_timeout_holds_the_mutex)
{
	grace_cond c = GRACE_COND_INIT;
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	grace_stop *s;
	ASSERT_RC(grace_stop_new(&s, NULL), 0);
	grace_stop *stops[] = {NULL, s};
	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&m);
		grace_deadline t0 = grace_now();
		ASSERT_RC(grace_cond_wait(&c, &m, stops[i], t0 + 30 * MS), -ETIMEDOUT);
		ASSERT_GE(grace_now() - t0, 30 * MS);
		ASSERT_HELD_AND_UNLOCK(&m);
	}
	ASSERT_EQ(atomic_load(&c.waiters), 0);
	ASSERT_EQ(grace__word_waiters(&c, false), 0);
	ASSERT_RC(grace_stop_free(s), 0);
	pthread_mutex_destroy(&m);
}

/* ThreadSanitizer reports the deliberate unlock of a mutex not held (the
 * misuse this test makes) as an error of its own; the plain and ASan runs
 * test the path. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* An error-checking mutex that the caller does not hold: nothing happens. */
TEST(unlock_refused_is_eperm)
{
#ifdef UNDER_TSAN
	printf("(skipped under ThreadSanitizer) ");
	return;
#endif
	grace_cond c = GRACE_COND_INIT;
	pthread_mutex_t m;
	mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
	ASSERT_RC(grace_cond_wait(&c, &m, NULL, GRACE_FOREVER), -EPERM);
	ASSERT_EQ(atomic_load(&c.waiters), 0);
	ASSERT_EQ(pthread_mutex_trylock(&m), 0); /* still free */
	ASSERT_HELD_AND_UNLOCK(&m);
	pthread_mutex_destroy(&m);
}

/* On the fake clock, exactly: woken 1 ns before its deadline, the waiter
 * sleeps again to the same deadline; at it, -ETIMEDOUT with the mutex. */
struct fwait {
	grace_cond *c;
	pthread_mutex_t *m;
	grace_deadline d;
	int rc;
	int unlock_rc;
};

static void *fwait_main(void *arg)
{
	struct fwait *x = arg;
	pthread_mutex_lock(x->m);
	x->rc = grace_cond_wait(x->c, x->m, NULL, x->d);
	x->unlock_rc = pthread_mutex_unlock(x->m);
	return NULL;
}

TEST(timeout_on_the_fake_clock)
{
	for (size_t e = 0; e < 2; e++) {
		fake_install(fakes[e]);
		grace_cond c = GRACE_COND_INIT;
		pthread_mutex_t m;
		mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
		struct fwait x = {&c, &m, grace_after_ms(30), 1, 1};
		pthread_t t;
		start_threads(&t, 1, fwait_main, &x, sizeof x);
		until_asleep(1);
		ASSERT_EQ(fk.d, T0 + 30 * MS);
		atomic_store(&fk.now, x.d - 1);
		release(0);
		until_asleep(2);
		atomic_store(&fk.now, x.d);
		release(-ETIMEDOUT);
		pthread_join(t, NULL);
		ASSERT_RC(x.rc, -ETIMEDOUT);
		ASSERT_EQ(x.unlock_rc, 0);
		ASSERT_EQ(fk.sleeps, 2);
		grace__engine_install(NULL);
		pthread_mutex_destroy(&m);
	}
}

/* A signal to a sleeper makes one wake, of the word it sleeps on; a second
 * signal, with the first waiter taken and not yet run, makes none. */
TEST(signal_wakes_one_on_the_fake_engine)
{
	for (size_t e = 0; e < 2; e++) {
		fake_install(fakes[e]);
		grace_cond c = GRACE_COND_INIT;
		pthread_mutex_t m;
		mutex_init(&m, PTHREAD_MUTEX_ERRORCHECK);
		struct fwait x = {&c, &m, GRACE_FOREVER, 1, 1};
		pthread_t t;
		start_threads(&t, 1, fwait_main, &x, sizeof x);
		until_asleep(1);
		ASSERT_RC(grace_cond_signal(&c), 0);
		ASSERT_EQ(fk.wakes, 1);
		ASSERT_PTR_EQ(fk.woken[0], fk.w);
		ASSERT_RC(grace_cond_signal(&c), 0);
		ASSERT_RC(grace_cond_broadcast(&c), 0);
		ASSERT_EQ(fk.wakes, 1);
		release(0);
		pthread_join(t, NULL);
		ASSERT_RC(x.rc, 0);
		ASSERT_EQ(x.unlock_rc, 0);
		ASSERT_EQ(atomic_load(&c.waiters), 0);
		grace__engine_install(NULL);
		pthread_mutex_destroy(&m);
	}
}

/* ---- threads ---- */

struct shared {
	grace_cond c;
	pthread_mutex_t m;
	grace_stop *stop;
	bool ready; /* the predicate, under m */
	atomic_int returned;
};

struct w {
	struct shared *sh;
	int rc;
	int unlock_rc;
};

/* Wait for `ready` under the mutex, until an error. */
static void *waiter_main(void *arg)
{
	struct w *x = arg;
	struct shared *sh = x->sh;
	grace_deadline d = grace_after_ms(20000);
	pthread_mutex_lock(&sh->m);
	x->rc = 0;
	while (!sh->ready && x->rc == 0)
		x->rc = grace_cond_wait(&sh->c, &sh->m, sh->stop, d);
	x->unlock_rc = pthread_mutex_unlock(&sh->m);
	atomic_fetch_add(&sh->returned, 1);
	return NULL;
}

static void shared_init(struct shared *sh, bool with_stop)
{
	memset(sh, 0, sizeof *sh);
	mutex_init(&sh->m, PTHREAD_MUTEX_ERRORCHECK);
	if (with_stop)
		ASSERT_RC(grace_stop_new(&sh->stop, NULL), 0);
}

static void shared_fini(struct shared *sh)
{
	ASSERT_EQ(atomic_load(&sh->c.waiters), 0);
	ASSERT_EQ(grace__word_waiters(&sh->c, false), 0);
	ASSERT_RC(grace_stop_free(sh->stop), 0);
	pthread_mutex_destroy(&sh->m);
}

TEST(signal_wakes_a_waiter)
{
	struct shared sh;
	shared_init(&sh, true);
	struct w x = {&sh, 1, 1};
	pthread_t t;
	start_threads(&t, 1, waiter_main, &x, sizeof x);
	WAIT_UNTIL(grace__word_waiters(&sh.c, true) == 1);
	pthread_mutex_lock(&sh.m);
	sh.ready = true;
	ASSERT_RC(grace_cond_signal(&sh.c), 0); /* with the mutex held */
	pthread_mutex_unlock(&sh.m);
	WAIT_UNTIL(atomic_load(&sh.returned) == 1);
	pthread_join(t, NULL);
	ASSERT_RC(x.rc, 0);
	ASSERT_EQ(x.unlock_rc, 0);
	shared_fini(&sh);
}

/* The exact case: the requester holds the caller's mutex while it requests
 * the stop. The waiter must leave its sleep without the mutex (it is seen
 * no longer registered), and return -ECANCELED holding it once the
 * requester lets go. */
TEST(stop_wakes_waiter_while_requester_holds_the_mutex)
{
	for (int round = 0; round < 20; round++) {
		struct shared sh;
		shared_init(&sh, true);
		struct w x = {&sh, 1, 1};
		pthread_t t;
		start_threads(&t, 1, waiter_main, &x, sizeof x);
		/* Odd rounds catch it in its spin or before, even ones asleep. */
		if (round % 2 == 0)
			WAIT_UNTIL(grace__word_waiters(&sh.c, true) == 1);
		else
			WAIT_UNTIL(atomic_load(&sh.c.waiters) == 1);
		pthread_mutex_lock(&sh.m);
		ASSERT_RC(grace_stop_request(sh.stop, 1), 1);
		/* Out of the sleep while we hold m: no deadlock. */
		WAIT_UNTIL_MS(atomic_load(&sh.c.waiters) == 0, 5000);
		ASSERT_EQ(atomic_load(&sh.returned), 0); /* it waits for m */
		pthread_mutex_unlock(&sh.m);
		WAIT_UNTIL(atomic_load(&sh.returned) == 1);
		pthread_join(t, NULL);
		ASSERT_RC(x.rc, -ECANCELED);
		ASSERT_EQ(x.unlock_rc, 0);
		shared_fini(&sh);
	}
}

/* Each signal takes exactly one waiter, the oldest, on both engines. */
struct once {
	struct shared *sh;
	int rc;
	atomic_int *order; /* the next rank to hand out */
	int rank;
};

static void *once_main(void *arg)
{
	struct once *x = arg;
	pthread_mutex_lock(&x->sh->m);
	x->rc = grace_cond_wait(&x->sh->c, &x->sh->m, NULL, grace_after_ms(20000));
	x->rank = atomic_fetch_add(x->order, 1);
	pthread_mutex_unlock(&x->sh->m);
	return NULL;
}

TEST(signal_takes_exactly_the_oldest)
{
	struct shared sh;
	shared_init(&sh, false);
	atomic_int order = 0;
	struct once xs[3];
	pthread_t ts[3];
	for (int i = 0; i < 3; i++) {
		xs[i] = (struct once){&sh, 1, &order, -1};
		start_threads(&ts[i], 1, once_main, &xs[i], sizeof xs[i]);
		WAIT_UNTIL(grace__word_waiters(&sh.c, true) == i + 1);
	}
	ASSERT_RC(grace_cond_signal(&sh.c), 0);
	ASSERT_EQ(grace__word_waiters(&sh.c, false), 2);
	ASSERT_EQ(atomic_load(&sh.c.waiters), 2);
	pthread_join(ts[0], NULL);
	ASSERT_RC(xs[0].rc, 0);
	ASSERT_EQ(xs[0].rank, 0);
	ASSERT_RC(grace_cond_signal(&sh.c), 0);
	pthread_join(ts[1], NULL);
	ASSERT_RC(xs[1].rc, 0);
	ASSERT_EQ(grace__word_waiters(&sh.c, false), 1);
	ASSERT_RC(grace_cond_broadcast(&sh.c), 0);
	pthread_join(ts[2], NULL);
	ASSERT_RC(xs[2].rc, 0);
	ASSERT_EQ(xs[2].rank, 2);
	shared_fini(&sh);
}

#define NMANY 64

static void many(bool by_stop)
{
	struct shared sh;
	shared_init(&sh, true);
	struct w xs[NMANY];
	pthread_t ts[NMANY];
	for (int i = 0; i < NMANY; i++)
		xs[i] = (struct w){&sh, 1, 1};
	start_threads(ts, NMANY, waiter_main, xs, sizeof xs[0]);
	WAIT_UNTIL(grace__word_waiters(&sh.c, true) == NMANY);
	grace_deadline t0 = grace_now();
	if (by_stop) {
		ASSERT_RC(grace_stop_request(sh.stop, 3), 1);
	} else {
		pthread_mutex_lock(&sh.m);
		sh.ready = true;
		pthread_mutex_unlock(&sh.m);
		ASSERT_RC(grace_cond_broadcast(&sh.c), 0); /* after the unlock */
	}
	WAIT_UNTIL_MS(atomic_load(&sh.returned) == NMANY, 10000);
	int64_t took = grace_now() - t0;
	join_threads(ts, NMANY);
	for (int i = 0; i < NMANY; i++) {
		ASSERT_RC(xs[i].rc, by_stop ? -ECANCELED : 0);
		ASSERT_EQ(xs[i].unlock_rc, 0);
	}
	ASSERT_LT(took, 5000 * MS);
	shared_fini(&sh);
}

TEST(stop_ends_64_waiters)
{
	many(true);
}

TEST(broadcast_wakes_64_waiters)
{
	many(false);
}

/* A robust mutex whose owner died while the waiter slept: the waiter comes
 * back with it held (-EOWNERDEAD); once made unrecoverable, without it
 * (-ENOTRECOVERABLE). */
struct robust {
	grace_cond c;
	pthread_mutex_t m;
	int rc;
	int after; /* what the waiter did with m afterwards */
	atomic_int returned;
};

static void *robust_waiter(void *arg)
{
	struct robust *r = arg;
	ASSERT_EQ(pthread_mutex_lock(&r->m), 0);
	r->rc = grace_cond_wait(&r->c, &r->m, NULL, grace_after_ms(20000));
	if (r->rc == -EOWNERDEAD) {
		r->after = pthread_mutex_consistent(&r->m);
		if (r->after == 0)
			r->after = pthread_mutex_unlock(&r->m);
	}
	atomic_store(&r->returned, 1);
	return NULL;
}

static void *lock_and_die(void *arg)
{
	pthread_mutex_lock(arg);
	return NULL; /* the owner dies holding it */
}

TEST(robust_mutex_owner_died)
{
	for (int unrecoverable = 0; unrecoverable < 2; unrecoverable++) {
		struct robust r;
		memset(&r, 0, sizeof r);
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		ASSERT_EQ(pthread_mutex_init(&r.m, &a), 0);
		pthread_mutexattr_destroy(&a);
		r.after = -1;
		pthread_t w, d;
		start_threads(&w, 1, robust_waiter, &r, sizeof r);
		WAIT_UNTIL(grace__word_waiters(&r.c, true) == 1);
		start_threads(&d, 1, lock_and_die, &r.m, sizeof r.m);
		pthread_join(d, NULL);
		if (unrecoverable) {
			ASSERT_EQ(pthread_mutex_lock(&r.m), EOWNERDEAD);
			pthread_mutex_unlock(&r.m); /* not made consistent */
		}
		ASSERT_RC(grace_cond_signal(&r.c), 0);
		WAIT_UNTIL(atomic_load(&r.returned) == 1);
		pthread_join(w, NULL);
		if (unrecoverable) {
			ASSERT_RC(r.rc, -ENOTRECOVERABLE);
			ASSERT_EQ(r.after, -1);
		} else {
			ASSERT_RC(r.rc, -EOWNERDEAD);
			ASSERT_EQ(r.after, 0);
		}
		pthread_mutex_destroy(&r.m);
	}
}

/* ---- a ring through two grace_conds, every item counted ---- */

#define RING 8
#define PRODUCERS 3
#define CONSUMERS 3

struct ring {
	pthread_mutex_t m;
	grace_cond not_empty, not_full;
	uint64_t slot[RING];
	unsigned head, count;
	bool closed;
	/* What came out, and the stopped consumers. */
	uint64_t got_sum, got_n;
	grace_stop *stops[CONSUMERS];
	atomic_int stopped;
	long per_producer;
};

struct pc {
	struct ring *r;
	int id;
	int rc;
};

static void *producer_main(void *arg)
{
	struct pc *p = arg;
	struct ring *r = p->r;
	grace_deadline d = grace_after_ms(60000);
	for (long i = 0; i < r->per_producer; i++) {
		uint64_t v = (uint64_t)p->id << 32 | (uint64_t)i;
		pthread_mutex_lock(&r->m);
		while (r->count == RING) {
			int rc = grace_cond_wait(&r->not_full, &r->m, NULL, d);
			if (rc == -ETIMEDOUT)
				FAIL_AT(__FILE__, __LINE__, "producer %d: a lost wake-up (full ring)", p->id);
			ASSERT_RC(rc, 0);
		}
		r->slot[(r->head + r->count) % RING] = v;
		r->count++;
		/* Alternate: signal under the mutex, and after unlocking it. */
		if (i % 2 == 0) {
			grace_cond_signal(&r->not_empty);
			pthread_mutex_unlock(&r->m);
		} else {
			pthread_mutex_unlock(&r->m);
			grace_cond_signal(&r->not_empty);
		}
	}
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct pc *p = arg;
	struct ring *r = p->r;
	grace_deadline d = grace_after_ms(60000);
	grace_stop *stop = r->stops[p->id];
	pthread_mutex_lock(&r->m);
	for (;;) {
		int rc = 0;
		while (r->count == 0 && !r->closed && rc == 0)
			rc = grace_cond_wait(&r->not_empty, &r->m, stop, d);
		if (rc == -ETIMEDOUT)
			FAIL_AT(__FILE__, __LINE__, "consumer %d: a lost wake-up (items: %u)", p->id, r->count);
		if (rc == -ECANCELED) {
			atomic_fetch_add(&r->stopped, 1);
			break;
		}
		ASSERT_RC(rc, 0);
		if (r->count == 0)
			break; /* closed and empty */
		uint64_t v = r->slot[r->head];
		r->head = (r->head + 1) % RING;
		r->count--;
		r->got_sum += v;
		r->got_n++;
		grace_cond_signal(&r->not_full);
	}
	p->rc = pthread_mutex_unlock(&r->m);
	return NULL;
}

static bool got_at_least(struct ring *r, uint64_t n)
{
	pthread_mutex_lock(&r->m);
	bool h = r->got_n >= n;
	pthread_mutex_unlock(&r->m);
	return h;
}

/* `stopped` consumers have stops that are requested half-way: the others
 * must still get every item (a stopped one that took a wake-up reports it,
 * so none is lost). */
static void ring_run(int stopped)
{
	static struct ring r;
	memset(&r, 0, sizeof r);
	pthread_mutex_init(&r.m, NULL);
	r.per_producer = getenv("GRACE_TEST_SLOW") ? 5000 : 20000;
	for (int i = 0; i < stopped; i++)
		ASSERT_RC(grace_stop_new(&r.stops[i], NULL), 0);
	struct pc ps[PRODUCERS], cs[CONSUMERS];
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	for (int i = 0; i < PRODUCERS; i++)
		ps[i] = (struct pc){&r, i, 0};
	for (int i = 0; i < CONSUMERS; i++)
		cs[i] = (struct pc){&r, i, 0};
	start_threads(ct, CONSUMERS, consumer_main, cs, sizeof cs[0]);
	start_threads(pt, PRODUCERS, producer_main, ps, sizeof ps[0]);
	if (stopped > 0) {
		long half = PRODUCERS * r.per_producer / 2;
		WAIT_UNTIL_MS(got_at_least(&r, (uint64_t)half), 60000);
		for (int i = 0; i < stopped; i++)
			grace_stop_request(r.stops[i], 1);
	}
	join_threads(pt, PRODUCERS);
	pthread_mutex_lock(&r.m);
	r.closed = true;
	pthread_mutex_unlock(&r.m);
	grace_cond_broadcast(&r.not_empty);
	join_threads(ct, CONSUMERS);

	uint64_t want_sum = 0;
	for (int i = 0; i < PRODUCERS; i++)
		for (long k = 0; k < r.per_producer; k++)
			want_sum += (uint64_t)i << 32 | (uint64_t)k;
	ASSERT_EQ(r.got_n, (uint64_t)PRODUCERS * (uint64_t)r.per_producer);
	ASSERT_EQ(r.got_sum, want_sum);
	ASSERT_EQ(r.count, 0);
	ASSERT_LE(atomic_load(&r.stopped), stopped);
	for (int i = 0; i < CONSUMERS; i++)
		ASSERT_EQ(cs[i].rc, 0);
	ASSERT_EQ(atomic_load(&r.not_empty.waiters), 0);
	ASSERT_EQ(atomic_load(&r.not_full.waiters), 0);
	for (int i = 0; i < stopped; i++)
		ASSERT_RC(grace_stop_free(r.stops[i]), 0);
	pthread_mutex_destroy(&r.m);
}

TEST(ring_counts_every_item)
{
	ring_run(0);
}

TEST(ring_with_consumers_stopped_half_way)
{
	ring_run(2);
}

TEST_LIST(T(zeroed_and_static_are_valid), T(signal_without_waiters_writes_nothing), T(misuse),
          T(stop_already_requested_wins), T(past_deadline_is_a_try), T(real_timeout_holds_the_mutex),
          T(unlock_refused_is_eperm), T(timeout_on_the_fake_clock), T(signal_wakes_one_on_the_fake_engine),
          T(signal_wakes_a_waiter), T(signal_takes_exactly_the_oldest), T(stop_wakes_waiter_while_requester_holds_the_mutex),
          T(stop_ends_64_waiters), T(broadcast_wakes_64_waiters), T(robust_mutex_owner_died),
          T(ring_counts_every_item), T(ring_with_consumers_stopped_half_way))
