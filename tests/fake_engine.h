/* SPDX-License-Identifier: MIT */
/*
 * fake_engine.h - a fake sleep engine and clock for tests (see
 * grace__engine_install in src/internal.h). Include after test.h and
 * internal.h; one copy per test program (static state).
 *
 * The fake keeps its own clock, which only the test moves (fk.now), and
 * holds every sleeper until the test releases it with the result a real
 * engine would have given (0: woken, -ETIMEDOUT: its deadline passed). It
 * records each sleep (the words and the deadline) and each wake. There are
 * two: fake_words watches the stop's word as futex_waitv does, fake_bit
 * does not, as the lot does not, and is reached through a stop callback.
 * One sleeper at a time.
 */
#ifndef GRACE_FAKE_ENGINE_H
#define GRACE_FAKE_ENGINE_H

#include <time.h>

/* Not every program uses every helper. */
#define FAKE __attribute__((unused)) static

#define MS 1000000LL
#define T0 (1000 * 1000 * MS) /* the fake clock's start: 1000 s */

FAKE struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	_Atomic int64_t now;
	/* The sleep in progress (one sleeper at a time in these tests). */
	int sleeps;         /* sleeps begun since reset */
	bool asleep;        /* a sleeper waits for its release */
	int release;        /* 1: the test released it with `result` */
	int result;
	_Atomic uint32_t *w, *sw, *pw;
	int64_t d;
	/* Wakes since reset, and the words they woke. */
	int wakes;
	_Atomic uint32_t *woken[64];
} fk = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};

FAKE int64_t fake_now(void)
{
	return atomic_load(&fk.now);
}

/* Sleep until the test releases us, if the words still hold what the
 * caller expects (checked under the fake's mutex, which wake takes too, as
 * a futex compares atomically with going to sleep). */
FAKE int fake_sleep(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, bool same_stop,
                      _Atomic uint32_t *pw, int64_t d)
{
	pthread_mutex_lock(&fk.m);
	int r = 0;
	if (atomic_load(w) == val && same_stop) {
		fk.sleeps++;
		fk.asleep = true;
		fk.release = 0;
		fk.w = w, fk.sw = sw, fk.pw = pw, fk.d = d;
		pthread_cond_broadcast(&fk.c);
		while (!fk.release)
			pthread_cond_wait(&fk.c, &fk.m);
		fk.asleep = false;
		r = fk.result;
	}
	pthread_mutex_unlock(&fk.m);
	return r;
}

FAKE int fake_wait(_Atomic uint32_t *w, uint32_t val, int64_t d)
{
	return fake_sleep(w, val, NULL, true, NULL, d);
}

FAKE int fake_wait_stop_words(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, uint32_t sv,
                                _Atomic uint32_t *pw, uint32_t pv, int64_t d)
{
	bool same = atomic_load(sw) == sv && (pw == NULL || atomic_load(pw) == pv);
	return fake_sleep(w, val, sw, same, pw, d);
}

FAKE int fake_wait_stop_bit(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, uint32_t sv,
                              _Atomic uint32_t *pw, uint32_t pv, int64_t d)
{
	(void)sv, (void)pv;
	ASSERT_PTR_EQ(pw, NULL);
	return fake_sleep(w, val, sw, (atomic_load(sw) & 1u) == 0, pw, d);
}

FAKE void fake_wake(_Atomic uint32_t *w, int n)
{
	(void)n;
	pthread_mutex_lock(&fk.m);
	if (fk.wakes < 64)
		fk.woken[fk.wakes] = w;
	fk.wakes++;
	pthread_mutex_unlock(&fk.m);
}

FAKE const struct grace__engine fake_words = {
    .name = "fake, watches the stop",
    .now = fake_now,
    .wait = fake_wait,
    .wait_stop = fake_wait_stop_words,
    .wake = fake_wake,
    .watches_stop = true,
};

FAKE const struct grace__engine fake_bit = {
    .name = "fake, stop callback",
    .now = fake_now,
    .wait = fake_wait,
    .wait_stop = fake_wait_stop_bit,
    .wake = fake_wake,
    .watches_stop = false,
};

FAKE const struct grace__engine *const fakes[] = {&fake_words, &fake_bit};

FAKE void fake_install(const struct grace__engine *e)
{
	pthread_mutex_lock(&fk.m);
	atomic_store(&fk.now, T0);
	fk.sleeps = 0;
	fk.asleep = false;
	fk.wakes = 0;
	pthread_mutex_unlock(&fk.m);
	grace__engine_install(e);
}

/* Wait (on the real clock: the fake one stands still) until the sleeper
 * has begun sleep number n. */
FAKE void until_asleep(int n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&fk.m);
	while (!(fk.asleep && fk.sleeps == n)) {
		if (pthread_cond_timedwait(&fk.c, &fk.m, &ts) != 0)
			FAIL_AT(__FILE__, __LINE__, "no sleep number %d (%d begun)", n, fk.sleeps);
	}
	pthread_mutex_unlock(&fk.m);
}

FAKE void release(int result)
{
	pthread_mutex_lock(&fk.m);
	fk.result = result;
	fk.release = 1;
	pthread_cond_broadcast(&fk.c);
	pthread_mutex_unlock(&fk.m);
}

FAKE int wakes_of(_Atomic uint32_t *w)
{
	pthread_mutex_lock(&fk.m);
	int n = 0;
	for (int i = 0; i < fk.wakes && i < 64; i++)
		n += fk.woken[i] == w;
	pthread_mutex_unlock(&fk.m);
	return n;
}

#endif /* GRACE_FAKE_ENGINE_H */
