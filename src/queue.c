/* SPDX-License-Identifier: MIT */
/*
 * queue.c - queue.Queue with stops, deadlines and a shutdown that loses
 * nothing.
 *
 * Design. A bounded queue is Vyukov's MPMC ring of sequence-numbered slots
 * with a CLOSED bit in its positions, so that a claim and a shutdown are
 * ordered by one CAS word; an unbounded queue keeps a growable ring under
 * `lock` with the same counters. Waiting, only when empty or full, is an
 * eventcount per side with wake-up tokens: one item wakes one getter, a
 * waiter that leaves passes a wake-up on, and a drain owes every item claimed
 * before it began. docs/internals.md ("Queue") tells the whole protocol;
 * src/queue.pml models it step for step (tests/model_test.sh checks it with
 * spin): change both together.
 *
 * Lock order: `lock` guards shutdown, the name and the unbounded ring; it is
 * never held while waiting or while another lock is taken.
 */
#include "internal.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAGIC 0x51554555u /* "QUEU" */
#define CLOSED (UINT64_C(1) << 63)
#define POS(x) ((x) & ~CLOSED)

/* Threads that find the queue empty (or full) re-try it this many times
 * with a CPU pause before they register as waiters: a hand-off between two
 * running threads then costs neither side a system call. */
#define OWN_SPIN 64

/* Allocation fault injection for the tests: when positive, the Nth queue
 * allocation from now fails (see tests/queue_test.c). */

/* Test hook: when set, called by a bounded put (side 0) or get (side 1)
 * between its claim and its publish, so a test can hold an operation in
 * flight; and by put_slow (2) and get_slow (3) once they count themselves
 * in `busy`, before their spin, so a test can hold a caller there. */
_Atomic(grace__queue_hook_fn) grace__queue_claim_hook;

static inline void claim_hook(int side)
{
	/* Relaxed: set by a test before the threads it observes start. */
	grace__queue_hook_fn h = atomic_load_explicit(&grace__queue_claim_hook, memory_order_relaxed);
	if (GRACE_UNLIKELY(h != NULL))
		h(side);
}

struct slot {
	_Atomic uint64_t seq;
	void *item; /* written before seq publishes it, read after */
};

/* One side's waiters: the word they sleep on, and in `count` the number of
 * registered waiters (low 32 bits) and of wake-ups issued that no waiter
 * has absorbed yet (high 32 bits). `drainers` counts the drains among the
 * getters' waiters: a drain waits for a given slot, which a getter may take
 * without passing anything on, so while one waits a signal wakes them all. */
struct waitq {
	_Atomic uint32_t word;
	_Atomic uint32_t drainers;
	_Atomic uint64_t count;
};

#define WQ_WAITERS(c) ((uint32_t)(c))
#define WQ_TOKENS(c) ((uint32_t)((c) >> 32))
#define WQ_TOKEN (UINT64_C(1) << 32)

struct name_node {
	struct name_node *next;
	char s[];
};

struct grace_queue {
	/* Read-mostly. */
	uint32_t magic;
	bool pow2;
	size_t cap; /* 0: unbounded */
	uint64_t mask;
	struct slot *slots;
	_Atomic(const char *) name;
	pthread_mutex_t lock;
	/* Guarded by lock. */
	struct name_node *names; /* every name set, freed with the queue */
	void **ubuf;             /* the unbounded ring */
	size_t ucap, uhead, ucount;
	_Atomic uint32_t state; /* 0, DRAIN or IMMEDIATE; written under lock */

	_Alignas(64) _Atomic uint64_t enq; /* items put (claimed), | CLOSED */
	_Alignas(64) _Atomic uint64_t deq; /* items taken, | CLOSED after IMMEDIATE */
	_Alignas(64) struct waitq getq;    /* getters waiting for an item */
	_Alignas(64) struct waitq putq;    /* putters waiting for room */
	_Alignas(64) _Atomic uint32_t join_word;
	_Atomic uint32_t joiners;
	_Atomic uint32_t busy;    /* threads in a call that waits (see busy_enter): free answers -EBUSY */
	_Atomic uint64_t done;    /* task_done calls */
	_Atomic uint64_t drained; /* items handed back by drain */
	_Atomic uint64_t dwin;    /* drains between a claim and its count: see task_done */
};

/* dwin: the number of drains inside their window (low 32 bits) and how
 * many windows have opened (high 32 bits). */
#define DWIN_ACTIVE(w) ((uint32_t)(w))
#define DWIN_OPEN (UINT64_C(1) + (UINT64_C(1) << 32))

static inline bool live(const grace_queue *q)
{
	return q != NULL && q->magic == Q_MAGIC;
}

static inline bool bad_stop(const grace_stop *s)
{
	return s != NULL && !grace__stop_live(s);
}

/* The item in a slot is published and taken by the slot's sequence word
 * (release, then acquire). These two and the name's pair below are
 * functions of their own so that the valgrind suppressions
 * (tests/valgrind/grace.supp) can name exactly these accesses: Helgrind and
 * DRD do not model C11 atomics. The item's pair is on the ring's fast path,
 * so it is inline: `make helgrind` builds without optimisation (Debug),
 * where it still has its own frame. */
static inline void slot_put_item(struct slot *s, void *item)
{
	s->item = item;
}

static inline void *slot_take_item(struct slot *s)
{
	return s->item;
}

static __attribute__((noinline)) void name_publish(grace_queue *q, const char *s)
{
	atomic_store_explicit(&q->name, s, memory_order_release);
}

static __attribute__((noinline)) const char *name_read(grace_queue *q)
{
	return atomic_load_explicit(&q->name, memory_order_acquire);
}

static inline struct slot *slot_at(grace_queue *q, uint64_t pos)
{
	return &q->slots[q->pow2 ? (size_t)(pos & q->mask) : (size_t)(pos % q->cap)];
}

static void wake_all(_Atomic uint32_t *w)
{
	/* Seq_cst: the change is ordered after whatever made the waiters'
	 * condition true, and before the wake, so no sleep can miss it. */
	atomic_fetch_add_explicit(w, 1, memory_order_seq_cst);
	grace__os_wake(w, INT32_MAX);
}

/* Wake one waiter, unless every registered waiter already has a wake-up
 * coming: then nothing (no system call while a woken waiter is on its
 * way). Seq_cst load: the second half of a waker's Dekker pair. While a
 * drain waits, wake every waiter: the drain must re-check even when a
 * getter takes the item. Seq_cst load of `drainers`, after the CAS: a
 * drain counts itself there before it registers, so a CAS that saw its
 * registration is followed by a load that sees it. */
static inline void wq_signal(struct waitq *wq)
{
	uint64_t c = atomic_load_explicit(&wq->count, memory_order_seq_cst);
	while (GRACE_UNLIKELY(WQ_WAITERS(c) > WQ_TOKENS(c))) {
		if (atomic_compare_exchange_weak_explicit(&wq->count, &c, c + WQ_TOKEN, memory_order_seq_cst,
		                                          memory_order_seq_cst)) {
			atomic_fetch_add_explicit(&wq->word, 1, memory_order_seq_cst);
			bool all = atomic_load_explicit(&wq->drainers, memory_order_seq_cst) != 0;
			grace__os_wake(&wq->word, all ? INT32_MAX : 1);
			return;
		}
	}
}

/* Register as a waiter. Seq_cst: the first half of a waiter's Dekker pair
 * (it is followed by the waiter's re-check of the queue). */
static void wq_register(struct waitq *wq)
{
	atomic_fetch_add_explicit(&wq->count, 1, memory_order_seq_cst);
}

/* Absorb every pending wake-up: the caller is awake and about to re-check
 * the queue, so any item those wake-ups announced is visible to it. After
 * this, a new item finds a waiter without a wake-up and signals again. */
static void wq_absorb(struct waitq *wq)
{
	uint64_t c = atomic_load_explicit(&wq->count, memory_order_seq_cst);
	while (WQ_TOKENS(c) != 0 &&
	       !atomic_compare_exchange_weak_explicit(&wq->count, &c, (uint64_t)WQ_WAITERS(c),
	                                              memory_order_seq_cst, memory_order_seq_cst))
		;
}

/* Leave, absorbing the pending wake-ups (one may have been meant for us);
 * the caller then passes one on if there is something to wake for. */
static void wq_leave(struct waitq *wq)
{
	uint64_t c = atomic_load_explicit(&wq->count, memory_order_seq_cst);
	do {
		/* Registered, so counted; never more wake-ups than waiters. */
		GRACE_ASSERT(WQ_WAITERS(c) != 0 && WQ_TOKENS(c) <= WQ_WAITERS(c));
	} while (!atomic_compare_exchange_weak_explicit(&wq->count, &c, (uint64_t)(WQ_WAITERS(c) - 1),
	                                                memory_order_seq_cst, memory_order_seq_cst));
}

static inline bool wq_has_waiters(struct waitq *wq)
{
	return WQ_WAITERS(atomic_load_explicit(&wq->count, memory_order_seq_cst)) != 0;
}

/* A call that is going to wait (spin, then sleep) counts itself in `busy`
 * from before its first spin until its last touch of the queue, so that
 * free and free_items answer -EBUSY while it is inside. The first try of a
 * put or get, and the calls that never wait, are not counted: the fast
 * path costs no shared write (see grace_queue_free in grace.h). Relaxed:
 * a free that must see the count is ordered after it by whatever told its
 * caller that this thread is inside the call. */
static inline void busy_enter(grace_queue *q)
{
	atomic_fetch_add_explicit(&q->busy, 1, memory_order_relaxed);
}

/* Release, the caller's last touch of q: pairs with free's acquire. */
static inline void busy_leave(grace_queue *q)
{
	atomic_fetch_sub_explicit(&q->busy, 1, memory_order_release);
}

/* ---- the two try-operations: 0, -EAGAIN (full/empty), -ESHUTDOWN ---- */

static int bounded_put(grace_queue *q, void *item)
{
	uint64_t w = atomic_load_explicit(&q->enq, memory_order_relaxed);
	for (;;) {
		if (w & CLOSED)
			return -ESHUTDOWN;
		struct slot *s = slot_at(q, w);
		/* Seq_cst load (a plain load on x86): acquire pairs with the
		 * get's release of the slot; seq_cst for a waiting putter's
		 * re-check against a get's exchange (the Dekker pair above). */
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_seq_cst);
		int64_t dif = (int64_t)(seq - 2 * w);
		if (dif == 0) {
			/* Relaxed CAS: the slot's seq carries the ordering. A failed
			 * CAS reloads w, CLOSED included. */
			if (atomic_compare_exchange_weak_explicit(&q->enq, &w, w + 1, memory_order_relaxed,
			                                          memory_order_relaxed)) {
				claim_hook(0);
				slot_put_item(s, item);
				/* Publish: release for the item, seq_cst against the
				 * getq count load that follows (see the top comment). */
				atomic_exchange_explicit(&s->seq, 2 * w + 1, memory_order_seq_cst);
				return 0;
			}
		} else if (dif < 0) {
			return -EAGAIN; /* the get of the previous lap has not freed it */
		} else {
			w = atomic_load_explicit(&q->enq, memory_order_relaxed);
		}
	}
}

/* `drain` ignores an IMMEDIATE shutdown and never answers -ESHUTDOWN. */
static int bounded_get(grace_queue *q, void **item, bool drain)
{
	uint64_t w = atomic_load_explicit(&q->deq, memory_order_relaxed);
	for (;;) {
		if ((w & CLOSED) && !drain)
			return -ESHUTDOWN;
		uint64_t pos = POS(w);
		struct slot *s = slot_at(q, pos);
		/* Pairs with the put's publishing exchange (acquire), and with it
		 * in the Dekker pair for a waiting getter (seq_cst). */
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_seq_cst);
		int64_t dif = (int64_t)(seq - (2 * pos + 1));
		if (dif == 0) {
			/* Relaxed for a get; seq_cst for a drain, whose claim must
			 * fall inside its window (dwin) in the total order. */
			if (atomic_compare_exchange_weak_explicit(
				    &q->deq, &w, w + 1, drain ? memory_order_seq_cst : memory_order_relaxed,
				    memory_order_relaxed)) {
				*item = slot_take_item(s);
				claim_hook(1);
				/* Hand the slot to the put one lap later: release for
				 * our read of the item, seq_cst against the putq count
				 * load that follows. */
				atomic_exchange_explicit(&s->seq, 2 * (pos + q->cap), memory_order_seq_cst);
				return 0;
			}
		} else if (dif < 0) {
			/* Empty, or the put at pos has claimed but not published.
			 * Closed and nothing claimed beyond us: really the end. */
			uint64_t e = atomic_load_explicit(&q->enq, memory_order_seq_cst);
			if (!drain && (e & CLOSED) && POS(e) == pos)
				return -ESHUTDOWN;
			return -EAGAIN;
		} else {
			w = atomic_load_explicit(&q->deq, memory_order_relaxed);
		}
	}
}

static int grow_locked(grace_queue *q)
{
	size_t ncap = q->ucap != 0 ? q->ucap * 2 : 16;
	if (ncap < q->ucap || ncap > SIZE_MAX / sizeof(void *))
		return -ENOMEM;
	void **nb = grace__malloc(ncap * sizeof(void *));
	if (nb == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < q->ucount; i++)
		nb[i] = q->ubuf[(q->uhead + i) % q->ucap];
	free(q->ubuf);
	q->ubuf = nb;
	q->ucap = ncap;
	q->uhead = 0;
	return 0;
}

static int unbounded_put(grace_queue *q, void *item)
{
	int r = 0;
	pthread_mutex_lock(&q->lock);
	/* Shutdown sets CLOSED under this lock: read it here, relaxed. */
	if (atomic_load_explicit(&q->enq, memory_order_relaxed) & CLOSED)
		r = -ESHUTDOWN;
	else if (q->ucount == q->ucap)
		r = grow_locked(q);
	if (r == 0) {
		q->ubuf[(q->uhead + q->ucount) % q->ucap] = item;
		q->ucount++;
		/* The lock orders the item for getters; the counter is atomic
		 * for size() and join, which read it without the lock. */
		atomic_fetch_add_explicit(&q->enq, 1, memory_order_seq_cst);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int unbounded_get(grace_queue *q, void **item, bool drain)
{
	int r = 0;
	pthread_mutex_lock(&q->lock);
	if (!drain && (atomic_load_explicit(&q->deq, memory_order_relaxed) & CLOSED)) {
		r = -ESHUTDOWN;
	} else if (q->ucount > 0) {
		*item = q->ubuf[q->uhead];
		q->uhead = (q->uhead + 1) % q->ucap;
		q->ucount--;
		atomic_fetch_add_explicit(&q->deq, 1, memory_order_seq_cst);
	} else {
		bool closed = atomic_load_explicit(&q->enq, memory_order_relaxed) & CLOSED;
		r = (closed && !drain) ? -ESHUTDOWN : -EAGAIN;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

static inline int try_put(grace_queue *q, void *item)
{
	return q->cap != 0 ? bounded_put(q, item) : unbounded_put(q, item);
}

static inline int try_get(grace_queue *q, void **item, bool drain)
{
	return q->cap != 0 ? bounded_get(q, item, drain) : unbounded_get(q, item, drain);
}

/* Whether the head item is ready to be taken (seq_cst loads). */
static bool has_item(grace_queue *q)
{
	uint64_t pos = POS(atomic_load_explicit(&q->deq, memory_order_seq_cst));
	if (q->cap == 0)
		return POS(atomic_load_explicit(&q->enq, memory_order_seq_cst)) > pos;
	return atomic_load_explicit(&slot_at(q, pos)->seq, memory_order_seq_cst) == 2 * pos + 1;
}

/* Whether the next put's slot is free (seq_cst loads). */
static bool has_room(grace_queue *q)
{
	if (q->cap == 0)
		return true;
	uint64_t pos = POS(atomic_load_explicit(&q->enq, memory_order_seq_cst));
	return atomic_load_explicit(&slot_at(q, pos)->seq, memory_order_seq_cst) == 2 * pos;
}

/* After a successful put: wake one registered getter. Seq_cst load, the
 * second half of the put's Dekker pair. Into a closed queue, wake them all:
 * this may be the last item of a DRAIN shutdown. */
static inline void after_put(grace_queue *q)
{
	if (GRACE_UNLIKELY(atomic_load_explicit(&q->enq, memory_order_relaxed) & CLOSED)) {
		if (wq_has_waiters(&q->getq))
			wake_all(&q->getq.word);
		return;
	}
	wq_signal(&q->getq);
}

/* After a successful get: wake one registered putter. */
static inline void after_get(grace_queue *q)
{
	wq_signal(&q->putq);
}

/* ---- creation, naming, destruction ---- */

int grace_queue_new(grace_queue **out, size_t capacity)
{
	if (out == NULL)
		return -EINVAL;
	/* The first bound matters where size_t is 32 bits, the second where it
	 * is 64 (the counters' room): each is redundant on the other. */
	if (capacity > SIZE_MAX / sizeof(struct slot) || // NOLINT(misc-redundant-expression)
	    capacity > (UINT64_C(1) << 56))
		return -ENOMEM;
	grace_queue *q = grace__aligned_alloc(_Alignof(grace_queue), sizeof *q);
	if (q == NULL)
		return -ENOMEM;
	memset(q, 0, sizeof *q);
	if (capacity != 0) {
		q->slots = grace__aligned_alloc(64, capacity * sizeof(struct slot));
		if (q->slots == NULL) {
			free(q);
			return -ENOMEM;
		}
		for (size_t i = 0; i < capacity; i++) {
			atomic_init(&q->slots[i].seq, 2 * (uint64_t)i);
			q->slots[i].item = NULL;
		}
		q->cap = capacity;
		q->pow2 = (capacity & (capacity - 1)) == 0;
		q->mask = capacity - 1;
	}
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q->slots);
		free(q);
		return -ENOMEM;
	}
	q->magic = Q_MAGIC;
	*out = q;
	return 0;
}

int grace_queue_set_name(grace_queue *q, const char *name)
{
	if (!live(q) || name == NULL)
		return -EINVAL;
	size_t len = strlen(name);
	struct name_node *n = grace__malloc(sizeof *n + len + 1);
	if (n == NULL)
		return -ENOMEM;
	memcpy(n->s, name, len + 1);
	pthread_mutex_lock(&q->lock);
	/* Old names stay allocated until the queue is freed: a waiter's
	 * blocked-on record may still point at one. */
	n->next = q->names;
	q->names = n;
	/* Release: a waiter that loads the pointer sees the characters. */
	name_publish(q, n->s);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static void destroy(grace_queue *q)
{
	q->magic = 0;
	struct name_node *n = q->names;
	while (n != NULL) {
		struct name_node *next = n->next;
		free(n);
		n = next;
	}
	pthread_mutex_destroy(&q->lock);
	free(q->ubuf);
	free(q->slots);
	free(q);
}

size_t grace_queue_size(const grace_queue *q)
{
	if (!live(q))
		return 0;
	grace_queue *m = (grace_queue *)(uintptr_t)q;
	/* deq first: both only grow, so the difference never goes negative
	 * by more than a concurrent get, which the clamp hides. */
	uint64_t d = POS(atomic_load_explicit(&m->deq, memory_order_acquire));
	uint64_t e = POS(atomic_load_explicit(&m->enq, memory_order_acquire));
	return e > d ? (size_t)(e - d) : 0;
}

int grace_queue_free(grace_queue *q)
{
	if (q == NULL)
		return 0;
	if (!live(q))
		return -EINVAL;
	/* Acquire: pairs with a waiter's final release decrement. */
	if (atomic_load_explicit(&q->busy, memory_order_acquire) != 0 || grace_queue_size(q) != 0)
		return -EBUSY;
	destroy(q);
	return 0;
}

/* Whether a put has claimed a place in the ring and not yet stored its
 * item there (an unbounded put stores under the lock: never). Acquire
 * loads: a slot seen published has its item visible. */
static bool put_in_flight(grace_queue *q)
{
	if (q->cap == 0)
		return false;
	uint64_t p = POS(atomic_load_explicit(&q->deq, memory_order_acquire));
	uint64_t e = POS(atomic_load_explicit(&q->enq, memory_order_acquire));
	for (; p < e; p++)
		if (atomic_load_explicit(&slot_at(q, p)->seq, memory_order_acquire) != 2 * p + 1)
			return true;
	return false;
}

int grace_queue_free_items(grace_queue *q, void (*dispose)(void *item, void *arg), void *arg)
{
	if (!live(q) || dispose == NULL)
		return -EINVAL;
	/* An item still arriving would be missed, and so would every item
	 * behind it, while its put writes into the freed ring. */
	if (atomic_load_explicit(&q->busy, memory_order_acquire) != 0 || put_in_flight(q))
		return -EBUSY;
	void *item;
	while (try_get(q, &item, true) == 0)
		dispose(item, arg);
	destroy(q);
	return 0;
}

/* ---- put and get ---- */

static int put_slow(grace_queue *q, void *item, grace_stop *stop, grace_deadline d)
{
	int r;
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT; /* a try: no spin, no registration */
	busy_enter(q);
	claim_hook(2);
	for (int i = 0; i < OWN_SPIN; i++) {
		grace__os_pause();
		if (grace_stop_requested(stop)) {
			r = -ECANCELED;
			goto out;
		}
		r = try_put(q, item);
		if (r == 0)
			after_put(q);
		if (r != -EAGAIN)
			goto out;
	}

	wq_register(&q->putq);
	struct grace__site site = {"queue_put", name_read(q), 0};
	for (;;) {
		if (grace_stop_requested(stop)) {
			r = -ECANCELED; /* stop wins, even over room or a shutdown */
			break;
		}
		uint32_t v = atomic_load_explicit(&q->putq.word, memory_order_seq_cst);
		wq_absorb(&q->putq);
		r = try_put(q, item);
		if (r != -EAGAIN)
			break;
		r = grace__wait(&q->putq.word, v, stop, d, &site);
		if (r < 0)
			break;
	}
	wq_leave(&q->putq);
	if (r == 0)
		after_put(q);
	/* Pass on a wake-up we may have absorbed (on failure), or one the
	 * next free slot deserves (on success). -ESHUTDOWN woke everyone. */
	if (r != -ESHUTDOWN && has_room(q))
		wq_signal(&q->putq);
out:
	busy_leave(q);
	return r;
}

int grace_queue_put(grace_queue *q, void *item, grace_stop *stop, grace_deadline d)
{
	if (!live(q) || bad_stop(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	int r = try_put(q, item);
	if (GRACE_LIKELY(r == 0)) {
		after_put(q);
		return 0;
	}
	if (r != -EAGAIN)
		return r;
	return put_slow(q, item, stop, d);
}

static int get_slow(grace_queue *q, void **item, grace_stop *stop, grace_deadline d)
{
	int r;
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;
	busy_enter(q);
	claim_hook(3);
	for (int i = 0; i < OWN_SPIN; i++) {
		grace__os_pause();
		if (grace_stop_requested(stop)) {
			r = -ECANCELED;
			goto out;
		}
		r = try_get(q, item, false);
		if (r == 0)
			after_get(q);
		if (r != -EAGAIN)
			goto out;
	}

	wq_register(&q->getq);
	struct grace__site site = {"queue_get", name_read(q), 0};
	for (;;) {
		if (grace_stop_requested(stop)) {
			r = -ECANCELED; /* stop wins, even over an item or a shutdown */
			break;
		}
		uint32_t v = atomic_load_explicit(&q->getq.word, memory_order_seq_cst);
		wq_absorb(&q->getq);
		r = try_get(q, item, false);
		if (r != -EAGAIN)
			break;
		r = grace__wait(&q->getq.word, v, stop, d, &site);
		if (r < 0)
			break;
	}
	wq_leave(&q->getq);
	if (r == 0)
		after_get(q);
	if (r != -ESHUTDOWN && has_item(q))
		wq_signal(&q->getq);
out:
	busy_leave(q);
	return r;
}

int grace_queue_get(grace_queue *q, void **item, grace_stop *stop, grace_deadline d)
{
	if (!live(q) || item == NULL || bad_stop(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	int r = try_get(q, item, false);
	if (GRACE_LIKELY(r == 0)) {
		after_get(q);
		return 0;
	}
	if (r != -EAGAIN)
		return r;
	return get_slow(q, item, stop, d);
}

/* ---- task_done and join ---- */

/* Every item put has been done or drained. done and drained are read
 * before enq: done + drained <= enq at every moment and enq only grows,
 * so equality means it held when done and drained were read. */
static bool all_done(grace_queue *q)
{
	uint64_t dn = atomic_load_explicit(&q->done, memory_order_seq_cst);
	uint64_t dr = atomic_load_explicit(&q->drained, memory_order_seq_cst);
	uint64_t e = POS(atomic_load_explicit(&q->enq, memory_order_seq_cst));
	GRACE_ASSERT(dn + dr <= e);
	return dn + dr == e;
}

static void wake_joiners_if_done(grace_queue *q)
{
	/* Seq_cst: pairs with a joiner's registration (joiners++ then its
	 * all_done check), as the get and put pairs above. */
	if (atomic_load_explicit(&q->joiners, memory_order_seq_cst) != 0 && all_done(q))
		wake_all(&q->join_word);
}

int grace_queue_task_done(grace_queue *q)
{
	if (!live(q))
		return -EINVAL;
	uint64_t dn = atomic_load_explicit(&q->done, memory_order_relaxed);
	for (int spins = 0;; spins++) {
		/* deq - drained counts the items got only while no drain is
		 * between a claim and its count: read both between two looks
		 * at dwin that see no window open and none opened since (a
		 * seqlock read; the drain's window is a few instructions).
		 * Seq_cst, as the window's RMWs and the drain's claim: a claim
		 * seen in deq was made in a window that the second look sees. */
		uint64_t w1 = atomic_load_explicit(&q->dwin, memory_order_seq_cst);
		uint64_t dr = atomic_load_explicit(&q->drained, memory_order_seq_cst);
		uint64_t got = POS(atomic_load_explicit(&q->deq, memory_order_seq_cst)) - dr;
		if (DWIN_ACTIVE(w1) != 0 || atomic_load_explicit(&q->dwin, memory_order_seq_cst) != w1) {
			/* A drainer descheduled in its window: let it run. */
			if (spins < OWN_SPIN)
				grace__os_pause();
			else
				sched_yield();
			continue;
		}
		if (dn >= got)
			return -EINVAL;
		if (atomic_compare_exchange_weak_explicit(&q->done, &dn, dn + 1, memory_order_seq_cst,
		                                          memory_order_relaxed))
			break;
	}
	wake_joiners_if_done(q);
	return 0;
}

int grace_queue_join(grace_queue *q, grace_stop *stop, grace_deadline d)
{
	if (!live(q) || bad_stop(stop))
		return -EINVAL;
	if (grace_stop_requested(stop))
		return -ECANCELED;
	if (atomic_load_explicit(&q->state, memory_order_acquire) == GRACE_SHUTDOWN_IMMEDIATE)
		return -ESHUTDOWN;
	if (all_done(q))
		return 0;
	if (d != GRACE_FOREVER && grace__os_now() >= d)
		return -ETIMEDOUT;

	int r;
	busy_enter(q);
	atomic_fetch_add_explicit(&q->joiners, 1, memory_order_seq_cst);
	struct grace__site site = {"queue_join", name_read(q), 0};
	for (;;) {
		if (grace_stop_requested(stop)) {
			r = -ECANCELED;
			break;
		}
		uint32_t v = atomic_load_explicit(&q->join_word, memory_order_seq_cst);
		if (atomic_load_explicit(&q->state, memory_order_seq_cst) == GRACE_SHUTDOWN_IMMEDIATE) {
			r = -ESHUTDOWN;
			break;
		}
		if (all_done(q)) {
			r = 0;
			break;
		}
		r = grace__wait(&q->join_word, v, stop, d, &site);
		if (r < 0)
			break;
	}
	atomic_fetch_sub_explicit(&q->joiners, 1, memory_order_seq_cst);
	busy_leave(q);
	return r;
}

/* ---- shutdown and drain ---- */

int grace_queue_shutdown(grace_queue *q, int mode)
{
	if (!live(q) || (mode != GRACE_SHUTDOWN_DRAIN && mode != GRACE_SHUTDOWN_IMMEDIATE))
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	uint32_t st = atomic_load_explicit(&q->state, memory_order_relaxed);
	if (st == GRACE_SHUTDOWN_IMMEDIATE && mode == GRACE_SHUTDOWN_DRAIN) {
		pthread_mutex_unlock(&q->lock);
		return -EINVAL;
	}
	/* Seq_cst RMWs: a claim's CAS either precedes them (and completes)
	 * or fails on the new bit. */
	atomic_fetch_or_explicit(&q->enq, CLOSED, memory_order_seq_cst);
	if (mode == GRACE_SHUTDOWN_IMMEDIATE)
		atomic_fetch_or_explicit(&q->deq, CLOSED, memory_order_seq_cst);
	atomic_store_explicit(&q->state, (uint32_t)mode, memory_order_seq_cst);
	pthread_mutex_unlock(&q->lock);
	/* After the flags: a waiter that read its word before this bump finds
	 * it changed and re-checks; one that read it after sees the flags. */
	wake_all(&q->getq.word);
	wake_all(&q->putq.word);
	wake_all(&q->join_word);
	return 0;
}

ssize_t grace_queue_drain(grace_queue *q, void **items, size_t max)
{
	if (!live(q) || (items == NULL && max != 0))
		return -EINVAL;
	if (max > SSIZE_MAX)
		max = SSIZE_MAX;
	/* What the drain owes: every place claimed before it began, so every
	 * item whose put has returned. Seq_cst, as the loads below. */
	uint64_t end = POS(atomic_load_explicit(&q->enq, memory_order_seq_cst));
	size_t n = 0;
	bool waiting = false;
	struct grace__site site = {"queue_drain", NULL, 0};
	uint32_t v = 0;
	while (n < max) {
		if (waiting) {
			v = atomic_load_explicit(&q->getq.word, memory_order_seq_cst);
			wq_absorb(&q->getq);
		}
		/* The claim and its count in drained, inside a window that
		 * task_done waits out (seq_cst RMWs, as the claim). */
		atomic_fetch_add_explicit(&q->dwin, DWIN_OPEN, memory_order_seq_cst);
		int r = try_get(q, &items[n], true);
		if (r == 0)
			atomic_fetch_add_explicit(&q->drained, 1, memory_order_seq_cst);
		atomic_fetch_sub_explicit(&q->dwin, 1, memory_order_seq_cst);
		if (r == 0) {
			n++;
			continue;
		}
		/* Taken by gets, or never claimed before we began: done. */
		if (POS(atomic_load_explicit(&q->deq, memory_order_seq_cst)) >= end)
			break;
		/* The head's put has claimed its place and has not stored its
		 * item yet: a few instructions away, unless its thread is
		 * descheduled. Wait for it as a getter does (its publish signals
		 * a registered getter, or wakes all into a closed queue), and
		 * re-try once registered: the Dekker pair of the top comment. */
		if (!waiting) {
			busy_enter(q);
			atomic_fetch_add_explicit(&q->getq.drainers, 1, memory_order_seq_cst);
			wq_register(&q->getq);
			site.name = name_read(q);
			waiting = true;
			continue;
		}
		grace__wait(&q->getq.word, v, NULL, GRACE_FOREVER, &site);
	}
	if (waiting) {
		wq_leave(&q->getq);
		atomic_fetch_sub_explicit(&q->getq.drainers, 1, memory_order_seq_cst);
		/* Pass on a wake-up we may have absorbed, as a getter does. */
		if (has_item(q))
			wq_signal(&q->getq);
	}
	if (n > 0) {
		/* One freed slot, one putter. */
		for (size_t i = 0; i < n && wq_has_waiters(&q->putq); i++)
			wq_signal(&q->putq);
		wake_joiners_if_done(q);
	}
	if (waiting)
		busy_leave(q);
	return (ssize_t)n;
}
