/* SPDX-License-Identifier: MIT */
/*
 * word.c - waiter lists, and on them stoppable waits on a caller's 32-bit
 * word, as C++20's atomic::wait and notify with a stop, a deadline and an
 * exact count. grace_cond (cond.c) waits on the same lists.
 *
 * Design. A waiter links a record on its own stack (struct grace__waiter)
 * into the list of a bucket that its key (the word's or the condition's
 * address) hashes to, under the bucket's lock, and waits, through the wait
 * core, on the record's own state word. A waker takes up to n records of
 * its key off the list, oldest first, under the same lock, marks each
 * TAKEN and wakes the state word of those that said they sleep. So a wake
 * reaches exactly the waiters it took, on every engine (the lot's own wake
 * cannot honour a count), the count it returns is exact, and a waker with
 * nothing to take makes no system call.
 *
 * The record's state: TAKEN (set by the waker, under the lock) and
 * SLEEPING (set by the waiter before it sleeps). Each side sets its bit
 * with an RMW on the same word and looks at the other's bit in the old
 * value: the waker wakes the word only if the waiter said it sleeps, and
 * the waiter sleeps only while the word holds SLEEPING alone, so neither
 * a wake-up nor a system call is lost or wasted. A waiter that spins first
 * (grace_cond) is taken without any system call.
 *
 * A waker wakes a record's state word after its RMW, outside the lock, in
 * batches: the record may be gone by then (its thread saw TAKEN and
 * returned), and a wake of an address that nothing sleeps on, or that now
 * holds another sleep, is harmless, a spurious wake-up that every grace
 * wait re-checks, as with a futex on freed memory. The waiter never
 * touches a record once it saw it TAKEN, and takes its own off the list
 * under the lock when it leaves for any other reason (its stop, its
 * deadline, for a word wait the word seen changed); finding it TAKEN there
 * instead, it reports the wake-up (0), so that none is lost.
 *
 * Word waits. The waiter counts itself in the bucket's `count` and then
 * reads the word, under the bucket's lock; the caller stores the word and
 * grace_wake_word then reads `count`, each side with a seq_cst fence
 * between its two accesses: the waker sees the count, and then finds the
 * record under the lock, or the waiter sees the new word and does not
 * sleep. A waker that sees a zero count returns at once. The count is per
 * bucket, so a word that shares a bucket only costs a lock, never a
 * wake-up.
 *
 * Lock order: a bucket's lock alone; no other lock is taken under it.
 */
#include "internal.h"

#include <limits.h>

#define NBUCKETS 256
#define BATCH 16

#define W_TAKEN 1u
#define W_SLEEPING 2u

struct bucket {
	pthread_mutex_t lock;
	_Atomic uint32_t count;     /* records linked in `records`, any key */
	struct grace__list records; /* oldest first, under `lock` */
	char pad[64 - (sizeof(pthread_mutex_t) + sizeof(uint32_t) + sizeof(struct grace__list)) % 64];
};

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "an atomic word is a plain word");

static struct bucket buckets[NBUCKETS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	for (int i = 0; i < NBUCKETS; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
}

static struct bucket *bucket_of(const void *key)
{
	uintptr_t h = (uintptr_t)key;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	pthread_once(&once, init);
	return &buckets[(h >> 32) % NBUCKETS];
}

/* ---- waiter lists ---- */

int grace__wlist_link(struct grace__waiter *w, const void *key, _Atomic uint32_t *word, uint32_t expected,
                      _Atomic uint32_t *count)
{
	struct bucket *b = bucket_of(key);
	w->key = key;
	atomic_store_explicit(&w->state, 0, memory_order_relaxed);
	grace__mutex_lock(&b->lock);
	atomic_fetch_add_explicit(&b->count, 1, memory_order_relaxed);
	if (word != NULL) {
		/* Pairs with the fence in grace_wake_word (see the top). */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(word, memory_order_acquire) != expected) {
			atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
			grace__mutex_unlock(&b->lock);
			return -EAGAIN;
		}
	}
	if (count != NULL)
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
	grace__list_insert_tail(&b->records, &w->link);
	grace__mutex_unlock(&b->lock);
	return 0;
}

bool grace__wlist_taken(struct grace__waiter *w)
{
	/* Acquire: pairs with the waker's RMW; what it wrote before is ours. */
	return (atomic_load_explicit(&w->state, memory_order_acquire) & W_TAKEN) != 0;
}

int grace__wlist_sleep(struct grace__waiter *w, grace_stop *stop, grace_deadline d, struct grace__site *site)
{
	/* Seq_cst RMW on the word the waker RMWs: it sees SLEEPING, or we
	 * see TAKEN (see the top of the file). */
	uint32_t old = atomic_fetch_or_explicit(&w->state, W_SLEEPING, memory_order_seq_cst);
	if (old & W_TAKEN)
		return 0;
	return grace__wait_nospin(&w->state, W_SLEEPING, stop, d, site);
}

bool grace__wlist_leave(struct grace__waiter *w, _Atomic uint32_t *count)
{
	if (grace__wlist_taken(w))
		return false;
	struct bucket *b = bucket_of(w->key);
	bool left = false;
	grace__mutex_lock(&b->lock);
	if ((atomic_load_explicit(&w->state, memory_order_acquire) & W_TAKEN) == 0) {
		grace__list_remove(&b->records, &w->link);
		atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
		if (count != NULL)
			atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
		left = true;
	}
	grace__mutex_unlock(&b->lock);
	return left;
}

int grace__wlist_take(const void *key, int n, _Atomic uint32_t *count)
{
	struct bucket *b = bucket_of(key);
	int taken = 0;
	_Atomic uint32_t *batch[BATCH];
	while (taken < n) {
		int k = 0, woken = 0;
		struct grace__link *it, *nx;
		grace__mutex_lock(&b->lock);
		grace__list_for_each_safe(&b->records, it, nx) {
			if (taken + k == n || woken == BATCH)
				break;
			struct grace__waiter *x = grace__container_of(it, struct grace__waiter, link);
			if (x->key != key)
				continue;
			grace__list_remove(&b->records, it);
			atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
			if (count != NULL)
				atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
			k++;
			/* Release: pairs with the waiter's acquire. After this
			 * RMW the record may be gone: keep only its address. */
			uint32_t old = atomic_fetch_or_explicit(&x->state, W_TAKEN, memory_order_seq_cst);
			if (old & W_SLEEPING)
				batch[woken++] = &x->state;
		}
		grace__mutex_unlock(&b->lock);
		/* Wake the addresses (see the top: harmless if gone). */
		for (int i = 0; i < woken; i++)
			grace__os_wake(batch[i], 1);
		taken += k;
		if (woken < BATCH)
			break; /* the scan ended, not the batch */
	}
	return taken;
}

int grace__word_waiters(const void *key, bool asleep)
{
	struct bucket *b = bucket_of(key);
	int k = 0;
	struct grace__link *it;
	grace__mutex_lock(&b->lock);
	grace__list_for_each(&b->records, it) {
		struct grace__waiter *x = grace__container_of(it, struct grace__waiter, link);
		k += x->key == key && (!asleep || (atomic_load(&x->state) & W_SLEEPING) != 0);
	}
	grace__mutex_unlock(&b->lock);
	return k;
}

/* ---- word waits ---- */

static bool bad_word(const uint32_t *w)
{
	return w == NULL || ((uintptr_t)w & (sizeof *w - 1)) != 0;
}

int grace_wait_word(const uint32_t *w, uint32_t expected, grace_stop *stop, grace_deadline d)
{
	if (bad_word(w) || (stop != NULL && !grace__stop_live(stop)))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	/* The caller's word, read atomically (acquire: what the waker wrote
	 * before its store is visible once we return). */
	_Atomic uint32_t *aw = (_Atomic uint32_t *)(uintptr_t)w;
	if (atomic_load_explicit(aw, memory_order_acquire) != expected)
		return 0;
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;
	if (grace__spin(aw, expected, stop))
		return atomic_load_explicit(aw, memory_order_acquire) != expected ? 0 : -ECANCELED;

	struct grace__site site = {"wait_word", NULL, 0};
	struct grace__waiter me;
	for (;;) {
		if (grace__wlist_link(&me, w, aw, expected, NULL) < 0)
			return 0; /* the word changed */
		int r;
		do
			r = grace__wlist_sleep(&me, stop, d, &site);
		while (r == 0 && !grace__wlist_taken(&me) &&
		       atomic_load_explicit(aw, memory_order_acquire) == expected);
		grace__wlist_leave(&me, NULL);
		/* The word first: a change seen is reported, even beside a
		 * stop or a deadline, so a wake-up taken is never wasted. */
		if (atomic_load_explicit(aw, memory_order_acquire) != expected)
			return 0;
		if (r < 0)
			return r;
		/* Taken with the word back at `expected` (changed and changed
		 * back, or woken without a change): wait again. */
		if (grace_stop_requested(stop))
			return -ECANCELED;
		if (d != GRACE_FOREVER && grace__os_now() >= d)
			return -ETIMEDOUT;
	}
}

int grace_wake_word(const uint32_t *w, int n)
{
	if (bad_word(w))
		return -EINVAL;
	if (n == 0)
		return 0;
	/* Orders the caller's store to *w before our look at the count;
	 * pairs with the waiter's fence (see the top of the file). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&bucket_of(w)->count, memory_order_relaxed) == 0)
		return 0;
	return grace__wlist_take(w, n < 0 ? INT_MAX : n, NULL);
}
