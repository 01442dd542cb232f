/* SPDX-License-Identifier: MIT */
/*
 * stop.c - the stop: a request flag with a reason, children, callbacks and a
 * wake descriptor; deadlines are in timer.c, and the flag word's wake
 * protocol has its one home in wait.c, beside its model src/wait.pml.
 *
 * A request runs in the thread whose compare-and-swap of the reason wins, in
 * two phases, with bounded stack at any depth: phase 1 sets every
 * descendant's flag and wakes their sleepers without running caller code
 * (waiting, on a descendant a concurrent request claimed, for that one's
 * phase 1: FLAGGED), so every request returns with the whole tree requested;
 * phase 2 runs the callbacks, deepest first, and marks each stop DONE, after
 * which the request never touches it and grace_stop_free, which waits for
 * DONE, may free it. A running callback is entered in a table of running
 * callbacks so that grace_stop_off can wait for fn on a word of its own
 * stack without touching the record or the stop once fn has returned.
 * docs/internals.md ("Stops") tells the design in full.
 *
 * Lock order: a stop's lock, then its children's one at a time (phase 1
 * waits for a child's FLAGGED under its parent's lock; that wait never needs
 * a lock above the child), then `rlock`. No lock is held while a callback
 * runs.
 */
#include "internal.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>

/* grace__stop_cb.state (internal.h); zeroed storage is CB_IDLE */
#define CB_IDLE 0u
#define CB_REGISTERED 0x52454749u /* unlikely in garbage: catches double registration */
#define CB_RUNNING 0x52554e4eu
#define CB_SELFOFF 0x53454c46u /* fn removed its own record and may still run */
#define CB_DONE 0x444f4e45u

/* A callback running now, on the runner's stack, in the table under rlock. */
struct offwait {
	_Atomic uint32_t word; /* set to 1 (and woken) when fn has returned */
	struct offwait *next;
};

struct running {
	struct grace__stop_cb *cb;
	uintptr_t runner; /* grace__self_id() of the thread running fn */
	bool selfoff;     /* fn removed its record: the runner must not touch it */
	struct offwait *waiters;
	struct grace__link link; /* in `running_tab` */
};

/* A request's phase 2, in progress in this thread (see the top comment). */
struct grace__req {
	grace_stop *cur;     /* the stop whose callbacks run now, then through wnext */
	struct running *run; /* the callback running now, if any */
	struct grace__req *outer;
	bool any_cbs; /* phase 1 saw callbacks somewhere */
};

static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
static struct grace__list running_tab; /* under rlock */
static _Thread_local struct grace__req *tls_req;

/* Bumped in a forked child: a descriptor made before belongs to the parent. */
static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	grace__mutex_lock(&rlock);
}

static void atfork_parent(void)
{
	grace__mutex_unlock(&rlock);
}

static void atfork_child(void)
{
	/* Only the calling thread exists here: keep its own entries. */
	uintptr_t self = grace__self_id();
	struct grace__link *it, *nx;
	grace__list_for_each_safe(&running_tab, it, nx) {
		if (grace__container_of(it, struct running, link)->runner != self)
			grace__list_remove(&running_tab, it);
	}
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
	grace__mutex_unlock(&rlock);
}

static void atfork_register(void)
{
	/* Without it a forked child could signal its parent's descriptors;
	 * nothing else depends on it, so a failure is not fatal. */
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* A record's state is the one word read without a lock. Every store is a
 * release and the lockless loads are acquires, all through these two
 * functions, kept out of line so that the valgrind suppressions
 * (tests/valgrind/grace.supp) can name exactly these accesses: Helgrind and
 * DRD do not model C11 atomics. */
static __attribute__((noinline)) uint32_t cb_state_acquire(struct grace__stop_cb *cb)
{
	return atomic_load_explicit(&cb->state, memory_order_acquire);
}

static __attribute__((noinline)) void cb_state_release(struct grace__stop_cb *cb, uint32_t state)
{
	atomic_store_explicit(&cb->state, state, memory_order_release);
}

int grace_reason_signal(int reason)
{
	if (reason <= GRACE_REASON_SIGNAL(1) && reason > GRACE_REASON_SIGNAL(1024))
		return GRACE_REASON_SIGNAL(0) - reason;
	return 0;
}

/* ---- the progress bits: FLAGGED and DONE ---- */

/* Set bits in the word (release: what the request did before is visible to
 * whoever sees them) and wake whoever waits for them. After DONE the stop
 * may be freed at once; the wake is then a system call on a stale address,
 * which wakes no one or, at worst, makes another wait return spuriously. */
static void set_bits(grace_stop *s, uint32_t bits)
{
	uint32_t old = atomic_fetch_or_explicit(&s->flag.word, bits, memory_order_acq_rel);
	if (old & GRACE__STOP_AWAITED)
		grace__os_wake(&s->flag.word, INT32_MAX);
}

/* Wait until every bit of `bits` is set. Only ever called on a stop that is
 * requested, whose claimer is bound to set them without waiting on us. */
static void wait_bits(grace_stop *s, uint32_t bits)
{
	uint32_t v = atomic_load_explicit(&s->flag.word, memory_order_acquire);
	while ((v & bits) != bits) {
		if ((v & GRACE__STOP_AWAITED) == 0) {
			/* An RMW, ordered with set_bits's: it sees AWAITED, or we
			 * see its bits in the value our sleep compares. */
			v = atomic_fetch_or_explicit(&s->flag.word, GRACE__STOP_AWAITED,
			                             memory_order_acq_rel) |
			    GRACE__STOP_AWAITED;
			continue;
		}
		grace__os_wait(&s->flag.word, v, INT64_MAX);
		v = atomic_load_explicit(&s->flag.word, memory_order_acquire);
	}
}

/* ---- claiming: the reason, the flag, the sleepers ---- */

/* Claim the request of s: true for the one caller that wins the reason's
 * compare-and-swap, which then raises the flag and wakes the sleepers
 * (wait.c); a loser returns false once the flag is visible. `self`: as for
 * grace__stop_raise. */
static bool claim(grace_stop *s, int reason, bool self)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong_explicit(&s->reason, &expected, reason, memory_order_relaxed,
	                                             memory_order_relaxed)) {
		/* Lost: the winner sets the flag right after its CAS. */
		while (!(atomic_load_explicit(&s->flag.word, memory_order_acquire) & GRACE__STOP_REQUESTED))
			grace__os_pause();
		return false;
	}
	grace__stop_raise(s, self);
	atomic_store_explicit(&s->claimer, grace__self_id(), memory_order_relaxed);
	return true;
}

/* Signal the stop's descriptor, made in this process (lock held). A
 * descriptor inherited through fork() is the parent's: closed, not
 * signalled; grace_stop_fd makes the child its own. */
static void signal_fd_locked(grace_stop *s)
{
	if (s->fds[0] < 0)
		return;
	if (s->fd_gen == atomic_load_explicit(&fork_gen, memory_order_relaxed))
		grace__os_wakefd_signal(s->fds);
	else
		grace__os_wakefd_close(s->fds);
}

bool grace__stop_help_locked(grace_stop *s)
{
	/* Phase 1 and 2 have nothing to do (no children, callbacks or
	 * descriptor), and nothing can be added before the flag is set:
	 * grace_stop_on, grace_stop_new and grace_stop_fd take the lock we
	 * hold. A loser leaves the bits to the winner. */
	if (!grace__list_empty(&s->cbs) || !grace__list_empty(&s->kids) || s->fds[0] >= 0)
		return false;
	if (claim(s, grace_stop_reason(s->parent), true))
		set_bits(s, GRACE__STOP_FLAGGED | GRACE__STOP_DONE);
	return true;
}

/* ---- the request ---- */

/* Phase 1 from `s`, which the caller has claimed. */
static void flag_tree(grace_stop *s, struct grace__req *r)
{
	grace_stop *tail = s;
	bool any = false;
	s->wnext = NULL;
	for (grace_stop *x = s; x != NULL; x = x->wnext) {
		grace__mutex_lock(&x->lock);
		signal_fd_locked(x);
		int reason = atomic_load_explicit(&x->reason, memory_order_relaxed);
		struct grace__link *it;
		grace__list_for_each(&x->kids, it) {
			grace_stop *k = grace__container_of(it, grace_stop, sib);
			if (claim(k, reason, false)) {
				k->wnext = NULL;
				tail->wnext = k;
				tail = k;
			} else {
				/* Another request has it: wait for its phase 1. Under
				 * x's lock, which keeps k linked and so alive. */
				wait_bits(k, GRACE__STOP_FLAGGED);
			}
		}
		/* Exact: once the flag is set, grace_stop_on runs fn itself. */
		x->wcbs = !grace__list_empty(&x->cbs);
		any |= x->wcbs;
		grace__mutex_unlock(&x->lock);
	}
	r->any_cbs = any;
	if (s->wnext == NULL && !any) {
		/* The common case: one stop, nothing to run. */
		set_bits(s, GRACE__STOP_FLAGGED | GRACE__STOP_DONE);
		r->cur = NULL;
		return;
	}
	/* Every descendant is flagged: say so, and turn the list round so
	 * that phase 2 runs the deepest stops first. */
	grace_stop *rev = NULL;
	for (grace_stop *x = s, *next; x != NULL; x = next) {
		next = x->wnext;
		set_bits(x, GRACE__STOP_FLAGGED);
		x->wnext = rev;
		rev = x;
	}
	r->cur = rev;
}

static struct running *running_find_locked(struct grace__stop_cb *cb)
{
	struct grace__link *it;
	grace__list_for_each(&running_tab, it) {
		struct running *e = grace__container_of(it, struct running, link);
		if (e->cb == cb)
			return e;
	}
	return NULL;
}

/* Enter a callback in the table of running ones, state RUNNING. */
static void run_begin(struct running *e, struct grace__stop_cb *cb)
{
	e->cb = cb;
	e->runner = grace__self_id();
	e->selfoff = false;
	e->waiters = NULL;
	grace__mutex_lock(&rlock);
	grace__list_insert_head(&running_tab, &e->link);
	cb_state_release(cb, CB_RUNNING);
	grace__mutex_unlock(&rlock);
}

/* fn has returned (or left through grace_thread_exit): publish DONE unless
 * fn removed its record, and release the off-waiters. Under rlock, which an
 * off-waiter takes once more before it returns, so its word outlives the
 * wake. */
static void run_end(struct running *e)
{
	grace__mutex_lock(&rlock);
	grace__list_remove(&running_tab, &e->link);
	if (!e->selfoff)
		cb_state_release(e->cb, CB_DONE);
	for (struct offwait *w = e->waiters; w != NULL; w = w->next) {
		atomic_store_explicit(&w->word, 1, memory_order_release);
		grace__os_wake(&w->word, INT32_MAX);
	}
	grace__mutex_unlock(&rlock);
}

/* Phase 2: run the callbacks of r's stops, deepest first, and mark each
 * DONE. Resumable: grace_thread_exit from a callback continues it. */
static void run_callbacks(struct grace__req *r)
{
	while (r->cur != NULL) {
		grace_stop *x = r->cur;
		if (x->wcbs) {
			grace__mutex_lock(&x->lock);
			struct grace__link *l;
			while ((l = x->cbs.first) != NULL) {
				struct grace__stop_cb *cb =
					grace__container_of(l, struct grace__stop_cb, link);
				/* On the list exactly while registered (both under x's lock). */
				GRACE_ASSERT(atomic_load_explicit(&cb->state, memory_order_relaxed) ==
				             CB_REGISTERED);
				grace__list_remove(&x->cbs, l);
				void (*fn)(void *) = cb->fn;
				void *arg = cb->arg;
				struct running e;
				run_begin(&e, cb);
				r->run = &e;
				grace__mutex_unlock(&x->lock);
				fn(arg);
				r->run = NULL;
				run_end(&e);
				grace__mutex_lock(&x->lock);
			}
			grace__mutex_unlock(&x->lock);
		}
		/* Read before DONE: after it the stop may be freed. */
		r->cur = x->wnext;
		set_bits(x, GRACE__STOP_DONE);
	}
}

bool grace__stop_request_begin(grace_stop *s, int reason, struct grace__req **out)
{
	if (!claim(s, reason, false))
		return false;
	struct grace__req *r = NULL;
	struct grace__req tmp = {0};
	flag_tree(s, &tmp);
	if (tmp.cur != NULL && !tmp.any_cbs) {
		run_callbacks(&tmp); /* none to run: only the DONE bits */
	} else if (tmp.cur != NULL) {
		r = grace__malloc(sizeof *r);
		if (r == NULL) {
			/* Run it here, then: late, but never lost. */
			tmp.run = NULL;
			tmp.outer = tls_req;
			tls_req = &tmp;
			run_callbacks(&tmp);
			tls_req = tmp.outer;
		} else {
			*r = tmp;
			r->run = NULL;
		}
	}
	*out = r;
	return true;
}

void grace__stop_request_end(struct grace__req *r)
{
	if (r == NULL)
		return;
	r->outer = tls_req;
	tls_req = r;
	run_callbacks(r);
	tls_req = r->outer;
	free(r);
}

int grace__stop_request(grace_stop *s, int reason)
{
	if (!claim(s, reason, false)) {
		/* Every request returns with every descendant requested. */
		wait_bits(s, GRACE__STOP_FLAGGED);
		return 0;
	}
	struct grace__req r = {0};
	flag_tree(s, &r);
	if (r.cur != NULL) {
		r.outer = tls_req;
		tls_req = &r;
		run_callbacks(&r);
		tls_req = r.outer;
	}
	return 1;
}

void grace__stop_finish_requests(void)
{
	struct grace__req *r;
	while ((r = tls_req) != NULL) {
		if (r->run != NULL) {
			struct running *e = r->run;
			r->run = NULL;
			run_end(e);
		}
		run_callbacks(r);
		tls_req = r->outer;
	}
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

/* ---- creation, the parent link, freeing ---- */

int grace_stop_new(grace_stop **out, grace_stop *parent)
{
	if (out == NULL || (parent != NULL && !grace__stop_live(parent)))
		return -EINVAL;
	pthread_once(&atfork_once, atfork_register);
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
		atomic_store_explicit(&s->parent, parent, memory_order_relaxed);
		grace__mutex_lock(&parent->lock);
		if (atomic_load_explicit(&parent->flag.word, memory_order_relaxed) & GRACE__STOP_REQUESTED) {
			/* Phase 1 of the parent is past its children (it sets the
			 * flag before it takes this lock): start requested. */
			claim(s, grace_stop_reason(parent), false);
			set_bits(s, GRACE__STOP_FLAGGED | GRACE__STOP_DONE);
		}
		grace__list_insert_head(&parent->kids, &s->sib);
		grace__mutex_unlock(&parent->lock);
	}
	*out = s;
	return 0;
}

/* Take s out of its parent's children, so that no request of the parent
 * reaches it any more; the parent may then be freed. */
static void unlink_parent(grace_stop *s)
{
	grace_stop *p = atomic_load_explicit(&s->parent, memory_order_relaxed);
	if (p == NULL)
		return;
	grace__mutex_lock(&p->lock);
	grace__list_remove(&p->kids, &s->sib);
	grace__mutex_unlock(&p->lock);
	/* Under s's lock: a waiter of s reads the parent under it (wait.c). */
	grace__mutex_lock(&s->lock);
	atomic_store_explicit(&s->parent, NULL, memory_order_relaxed);
	grace__mutex_unlock(&s->lock);
}

void grace__stop_detach(grace_stop *s)
{
	grace_stop *p = atomic_load_explicit(&s->parent, memory_order_relaxed);
	if (p == NULL || !grace_stop_requested(p))
		return;
	int reason = grace_stop_reason(p);
	unlink_parent(s);
	/* The parent's phase 1 had reached s (it is requested), or never will:
	 * do its work here. */
	grace__stop_request(s, reason);
}

int grace__stop_pin(grace_stop *s, int delta)
{
	if (!grace__stop_live(s))
		return -EINVAL;
	grace__mutex_lock(&s->lock);
	/* Routes are counted in and out in pairs (signal.c). */
	GRACE_ASSERT(delta > 0 || s->pins >= (unsigned)-delta);
	s->pins += delta;
	grace__mutex_unlock(&s->lock);
	return 0;
}

int grace_stop_free(grace_stop *s)
{
	if (s == NULL)
		return 0;
	if (!grace__stop_live(s))
		return -EINVAL;
	grace__mutex_lock(&s->lock);
	uint32_t w = atomic_load_explicit(&s->flag.word, memory_order_acquire);
	bool requested = (w & GRACE__STOP_REQUESTED) != 0;
	/* Callbacks of a requested stop are its request's to run, not ours. */
	bool busy =
		!grace__list_empty(&s->kids) || s->pins != 0 || (!requested && !grace__list_empty(&s->cbs));
	/* Freed from inside its own request (a callback): the request would
	 * touch it afterwards. */
	if (requested && (w & GRACE__STOP_DONE) == 0 &&
	    atomic_load_explicit(&s->claimer, memory_order_relaxed) == grace__self_id())
		busy = true;
	grace__mutex_unlock(&s->lock);
	if (busy)
		return -EBUSY;
	grace__timer_remove(s, true);
	unlink_parent(s);
	/* Requested (before, or by the parent until the unlink): wait for the
	 * request to be over. Nothing new can claim s now (its parent no
	 * longer sees it) but its owner's own calls. */
	if (atomic_load_explicit(&s->flag.word, memory_order_acquire) & GRACE__STOP_REQUESTED)
		wait_bits(s, GRACE__STOP_DONE);
	grace__os_wakefd_close(s->fds);
	s->magic = 0;
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

/* ---- callbacks ---- */

/* Run fn for a record registered on a stop already requested, in the
 * caller, with the same guarantees as a request's run. */
static void run_now(struct grace__stop_cb *cb, void (*fn)(void *), void *arg)
{
	struct running e;
	run_begin(&e, cb);
	struct grace__req r = {.cur = NULL, .run = &e, .outer = tls_req};
	tls_req = &r;
	fn(arg);
	tls_req = r.outer;
	run_end(&e);
}

int grace_stop_on(grace_stop *s, grace_stop_cb *rec, void (*fn)(void *arg), void *arg)
{
	if (!grace__stop_live(s) || rec == NULL || fn == NULL)
		return -EINVAL;
	struct grace__stop_cb *cb = grace__stop_cb_of(rec);
	uint32_t st = atomic_load_explicit(&cb->state, memory_order_relaxed);
	if (st == CB_REGISTERED)
		return -EINVAL;
	if (st == CB_RUNNING || st == CB_SELFOFF) {
		/* Its fn is running: refused, unless fn itself removed the
		 * record first (it is then fn's to use again). */
		grace__mutex_lock(&rlock);
		struct running *e = running_find_locked(cb);
		bool busy = e != NULL && !(e->selfoff && e->runner == grace__self_id());
		grace__mutex_unlock(&rlock);
		if (busy)
			return -EBUSY;
	}
	cb->fn = fn;
	cb->arg = arg;
	cb->stop = s;
	grace__mutex_lock(&s->lock);
	if (atomic_load_explicit(&s->flag.word, memory_order_relaxed) & GRACE__STOP_REQUESTED) {
		/* Phase 1 has looked at the callbacks already: run it here. */
		grace__mutex_unlock(&s->lock);
		run_now(cb, fn, arg);
		return 1;
	}
	grace__list_insert_head(&s->cbs, &cb->link);
	cb_state_release(cb, CB_REGISTERED);
	grace__mutex_unlock(&s->lock);
	return 0;
}

static int cb_off(grace_stop_cb *rec, bool wait)
{
	if (rec == NULL)
		return -EINVAL;
	struct grace__stop_cb *cb = grace__stop_cb_of(rec);
	uint32_t st = cb_state_acquire(cb);
	if (st == CB_REGISTERED) {
		/* Registered: its stop is alive (free refuses it). */
		grace_stop *s = cb->stop;
		grace__mutex_lock(&s->lock);
		if (atomic_load_explicit(&cb->state, memory_order_relaxed) == CB_REGISTERED) {
			grace__list_remove(&s->cbs, &cb->link);
			cb_state_release(cb, CB_IDLE);
			grace__mutex_unlock(&s->lock);
			return 1;
		}
		grace__mutex_unlock(&s->lock); /* a request took it: see below */
	} else if (st != CB_RUNNING && st != CB_SELFOFF) {
		return 0; /* never registered, removed, or run */
	}
	/* Running (or removed by fn, which may still run): the table says. The
	 * stop is not touched: it may be gone. */
	grace__mutex_lock(&rlock);
	st = atomic_load_explicit(&cb->state, memory_order_relaxed);
	struct running *e = NULL;
	if (st == CB_RUNNING || st == CB_SELFOFF)
		e = running_find_locked(cb);
	if (e == NULL) {
		if (st == CB_SELFOFF)
			cb_state_release(cb, CB_IDLE); /* fn has returned since */
		grace__mutex_unlock(&rlock);
		return 0;
	}
	if (e->runner == grace__self_id()) {
		/* From inside fn: the runner must not touch the record again. */
		e->selfoff = true;
		cb_state_release(cb, CB_SELFOFF);
		grace__mutex_unlock(&rlock);
		return 0;
	}
	if (!wait) {
		grace__mutex_unlock(&rlock);
		return -EBUSY;
	}
	struct offwait w = {.next = e->waiters};
	atomic_init(&w.word, 0);
	e->waiters = &w;
	grace__mutex_unlock(&rlock);
	/* Acquire: pairs with run_end's release (fn's effects are visible). */
	while (atomic_load_explicit(&w.word, memory_order_acquire) == 0)
		grace__os_wait(&w.word, 0, INT64_MAX);
	/* The runner wakes us under rlock: once we hold it, it is done with w. */
	grace__mutex_lock(&rlock);
	grace__mutex_unlock(&rlock);
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

/* ---- the wake descriptor ---- */

int grace_stop_fd(grace_stop *s)
{
	if (!grace__stop_live(s))
		return -EINVAL;
	grace__mutex_lock(&s->lock);
	unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	if (s->fds[0] >= 0 && s->fd_gen != gen)
		grace__os_wakefd_close(s->fds); /* the parent's, inherited through fork() */
	if (s->fds[0] < 0) {
		int r = grace__os_wakefd_open(s->fds);
		if (r < 0) {
			grace__mutex_unlock(&s->lock);
			return r;
		}
		s->fd_gen = gen;
		/* Phase 1 signals under this lock once REQUESTED is set; if it
		 * is set already, it may have looked before the descriptor existed. */
		if (atomic_load_explicit(&s->flag.word, memory_order_relaxed) & GRACE__STOP_REQUESTED)
			grace__os_wakefd_signal(s->fds);
	}
	int fd = s->fds[0];
	grace__mutex_unlock(&s->lock);
	return fd;
}
