/*
 * word.c - stoppable waits on a caller's 32-bit word, as C++20's
 * atomic::wait and notify, with a stop, a deadline and an exact count.
 *
 * Design. A waiter that finds the word at its expected value spins briefly
 * on it, then links a record on its own stack (struct node) into the list
 * of a bucket that the word's address hashes to, re-checking the word under
 * the bucket's lock, and sleeps, through the wait core, on a private word in
 * that record. A waker (grace_wake_word, called after the caller changed
 * the word) takes up to n records of that word off the list, oldest first,
 * under the same lock, marks each woken and wakes its private word. So the
 * count it returns is exact on every engine: the records it took, each a
 * thread asleep or about to sleep on the word; and `n` is honoured on every
 * engine, the lot included, whose own wake cannot honour it.
 *
 * Lost wake-ups. The waiter counts itself in the bucket's `count` and then
 * reads the word, under the bucket's lock; the waker's caller stores the
 * word and the waker then reads `count`, each side with a seq_cst fence
 * between its two accesses: the waker sees the count, and then finds the
 * record under the lock, or the waiter sees the new word and does not
 * sleep. A waker that sees a zero count returns at once, with no lock and
 * no system call. The count is per bucket, so a word that shares its
 * bucket only costs a lock, never a wake-up.
 *
 * A waker wakes a record's private word after storing `woken`, outside the
 * lock, in batches: the record may be gone by then (its thread saw `woken`
 * and returned), and a wake of an address that nothing sleeps on, or that
 * now holds another sleep, is harmless, a spurious wake-up that every
 * grace wait re-checks, as with a futex on freed memory. The waiter never
 * touches a record that a waker took, and takes its own off under the lock
 * when it leaves for any other reason (its stop, its deadline, the word
 * seen changed without a wake).
 *
 * Lock order: a bucket's lock alone; no other lock is taken under it.
 */
#include "internal.h"

#include <limits.h>

#define NBUCKETS 256
#define BATCH 16

struct node {
	struct grace__link link;
	const uint32_t *w;
	/* 0 while linked; 1 once a waker took the record off the list
	 * (stored under the bucket's lock, read outside it with acquire). */
	_Atomic uint32_t woken;
};

struct bucket {
	pthread_mutex_t lock;
	_Atomic uint32_t count; /* records linked in `nodes`, any word */
	struct grace__list nodes; /* oldest first, under `lock` */
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

static struct bucket *bucket_of(const uint32_t *w)
{
	uintptr_t h = (uintptr_t)w;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	pthread_once(&once, init);
	return &buckets[(h >> 32) % NBUCKETS];
}

static bool bad_word(const uint32_t *w)
{
	return w == NULL || ((uintptr_t)w & (sizeof *w - 1)) != 0;
}

/* The caller's word, read atomically (acquire: what the waker wrote before
 * its store is visible after we return). */
static _Atomic uint32_t *atomic_word(const uint32_t *w)
{
	return (_Atomic uint32_t *)(uintptr_t)w;
}

/* Take n off the list if it is still there (its waker did not). */
static void unlink_self(struct bucket *b, struct node *n)
{
	if (atomic_load_explicit(&n->woken, memory_order_acquire) != 0)
		return;
	grace__mutex_lock(&b->lock);
	if (atomic_load_explicit(&n->woken, memory_order_relaxed) == 0) {
		grace__list_remove(&b->nodes, &n->link);
		atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
	}
	grace__mutex_unlock(&b->lock);
}

int grace_wait_word(const uint32_t *w, uint32_t expected, grace_stop *stop, grace_deadline d)
{
	if (bad_word(w) || (stop != NULL && !grace__stop_live(stop)))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	_Atomic uint32_t *aw = atomic_word(w);
	if (atomic_load_explicit(aw, memory_order_acquire) != expected)
		return 0;
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;
	if (grace__spin(aw, expected, stop))
		return atomic_load_explicit(aw, memory_order_acquire) != expected ? 0 : -ECANCELED;

	struct bucket *b = bucket_of(w);
	struct grace__site site = {"wait_word", NULL, 0};
	struct node n = {.w = w};
	for (;;) {
		grace__mutex_lock(&b->lock);
		atomic_fetch_add_explicit(&b->count, 1, memory_order_relaxed);
		/* Pairs with the fence in grace_wake_word (see the top). */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(aw, memory_order_acquire) != expected) {
			atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
			grace__mutex_unlock(&b->lock);
			return 0;
		}
		atomic_store_explicit(&n.woken, 0, memory_order_relaxed);
		grace__list_insert_tail(&b->nodes, &n.link);
		grace__mutex_unlock(&b->lock);

		int r;
		do
			r = grace__wait_nospin(&n.woken, 0, stop, d, &site);
		while (r == 0 && atomic_load_explicit(&n.woken, memory_order_acquire) == 0 &&
		       atomic_load_explicit(aw, memory_order_acquire) == expected);
		unlink_self(b, &n);
		/* The word first: a change seen is reported, even beside a
		 * stop or a deadline, so a wake-up taken is never wasted. */
		if (atomic_load_explicit(aw, memory_order_acquire) != expected)
			return 0;
		if (r < 0)
			return r;
		/* Woken with the word back at `expected` (changed and changed
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
	if (n < 0)
		n = INT_MAX;
	struct bucket *b = bucket_of(w);
	/* Orders the caller's store to *w before our look at the count;
	 * pairs with the waiter's fence (see the top of the file). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&b->count, memory_order_relaxed) == 0)
		return 0;

	int woken = 0;
	_Atomic uint32_t *batch[BATCH];
	for (;;) {
		int k = 0;
		struct grace__link *it, *nx;
		grace__mutex_lock(&b->lock);
		grace__list_for_each_safe(&b->nodes, it, nx) {
			if (woken + k == n || k == BATCH)
				break;
			struct node *x = grace__container_of(it, struct node, link);
			if (x->w != w)
				continue;
			grace__list_remove(&b->nodes, it);
			atomic_fetch_sub_explicit(&b->count, 1, memory_order_relaxed);
			batch[k++] = &x->woken;
			/* Release: pairs with the waiter's acquire load. After
			 * this store the record may be gone. */
			atomic_store_explicit(&x->woken, 1, memory_order_release);
		}
		grace__mutex_unlock(&b->lock);
		/* Wake the addresses (see the top: harmless if gone). */
		for (int i = 0; i < k; i++)
			grace__wake(batch[i], 1);
		woken += k;
		if (k < BATCH || woken == n)
			return woken;
	}
}

int grace__word_waiters(const uint32_t *w)
{
	struct bucket *b = bucket_of(w);
	int k = 0;
	struct grace__link *it;
	grace__mutex_lock(&b->lock);
	grace__list_for_each(&b->nodes, it)
		k += grace__container_of(it, struct node, link)->w == w;
	grace__mutex_unlock(&b->lock);
	return k;
}
