/* SPDX-License-Identifier: MIT */
/*
 * lot.c - the lot engine: futex-like word waits built from mutexes and
 * condition variables.
 *
 * A fixed table of buckets, each a mutex and a CLOCK_MONOTONIC condvar;
 * a word hashes to one bucket. A sleeper takes the bucket's mutex, checks
 * that the word still holds its expected value (and, for a stop-aware wait,
 * that the stop's request bit is still clear), and only then sleeps on the
 * condvar, which releases the mutex atomically. A waker changes the word
 * first and then broadcasts the bucket under its mutex. The mutex orders the
 * two, so a wake-up is never lost. Broadcast, not signal: different words
 * share a bucket, and signal could wake a sleeper of another word.
 *
 * This is the portable engine (GRACE_PORTABLE) and also the one Linux falls
 * back to when the kernel has no futex_waitv, which is why it lives here and
 * not under posix/: both platforms see it through platform.h. It cannot
 * sleep on two words at once (watches_stop is false): its wait_stop checks
 * the stop's request bit under the bucket mutex, and wait.c makes the
 * request wake the object's bucket with a stop callback.
 */
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define NBUCKETS 256

struct bucket {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char pad[64 - (sizeof(pthread_mutex_t) + sizeof(pthread_cond_t)) % 64];
};

static struct bucket buckets[NBUCKETS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	for (int i = 0; i < NBUCKETS; i++) {
		pthread_mutex_init(&buckets[i].lock, NULL);
		pthread_cond_init(&buckets[i].cond, &a);
	}
	pthread_condattr_destroy(&a);
}

static struct bucket *bucket_of(const void *w)
{
	uintptr_t h = (uintptr_t)w;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	pthread_once(&once, init);
	return &buckets[(h >> 32) % NBUCKETS];
}

/* Sleep while *w == val and (stopw == NULL or bit 0 of *stopw is clear),
 * until d. Returns 0 or -ETIMEDOUT. */
static int lot_wait_or_stop(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *stopw, int64_t d)
{
	struct bucket *b = bucket_of(w);
	int r = 0;
	pthread_mutex_lock(&b->lock);
	if (atomic_load(w) == val && (stopw == NULL || (atomic_load(stopw) & 1u) == 0)) {
		if (d == INT64_MAX) {
			pthread_cond_wait(&b->cond, &b->lock);
		} else {
			/* A negative deadline (long past) would make a
			 * negative tv_nsec, which the condvar refuses. */
			int64_t a = d < 0 ? 0 : d;
			struct timespec ts = {.tv_sec = (time_t)(a / 1000000000),
			                      .tv_nsec = (long)(a % 1000000000)};
			if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == ETIMEDOUT)
				r = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

static int lot_wait(_Atomic uint32_t *w, uint32_t val, int64_t d)
{
	return lot_wait_or_stop(w, val, NULL, d);
}

/* Only the stop's request bit is compared, and the parent is not watched
 * (watches_stop is false, so wait.c never passes pw). */
static int lot_wait_stop(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sw, uint32_t sv,
                         _Atomic uint32_t *pw, uint32_t pv, int64_t d)
{
	(void)sv, (void)pw, (void)pv;
	return lot_wait_or_stop(w, val, sw, d);
}

/* Wake every sleeper on w (and, harmlessly, others sharing its bucket):
 * `n` cannot be honoured, see the top of the file. */
static void lot_wake(_Atomic uint32_t *w, int n)
{
	(void)n;
	struct bucket *b = bucket_of(w);
	pthread_mutex_lock(&b->lock);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

const struct grace__engine grace__lot_engine = {
	.name = "lot",
	.now = grace__clock_monotonic,
	.wait = lot_wait,
	.wait_stop = lot_wait_stop,
	.wake = lot_wake,
	.watches_stop = false,
};
