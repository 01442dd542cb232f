/*
 * lot.c - futex-like word waits built from mutexes and condition variables.
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
 * back to when the kernel has no futex_waitv.
 */
#include "lot.h"

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

int grace__lot_wait(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *stopw, int64_t d)
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
			struct timespec ts = {.tv_sec = (time_t)(a / 1000000000), .tv_nsec = (long)(a % 1000000000)};
			if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == ETIMEDOUT)
				r = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

void grace__lot_wake(_Atomic uint32_t *w)
{
	struct bucket *b = bucket_of(w);
	pthread_mutex_lock(&b->lock);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}
