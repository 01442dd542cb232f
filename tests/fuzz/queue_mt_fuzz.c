/* SPDX-License-Identifier: MIT */
/*
 * queue_mt_fuzz.c - a multi-threaded libFuzzer harness for the queue.
 *
 * Four worker threads (an input uses two to four) run operations on one
 * queue in rounds: each round the input gives every worker one operation
 * (put, get, task_done, join, shutdown DRAIN or IMMEDIATE, drain), with a
 * deadline in the past (a try), a few hundred microseconds ahead, or none;
 * with the worker's own stop (which the input may request between rounds),
 * the round's stop, or none. The workers run their operations at once, so
 * they race. Three handshakes make the interesting orders certain rather
 * than lucky: a worker may start only once the worker before it has
 * finished, is held, or sleeps in the library; a put, get or drain may be
 * held by the queue's test hook between its claim and its publish (a put
 * in flight; a get in flight; a drain between its claim of an item and its
 * count of it, which a task_done waits out), and a put or get at the start
 * of its pre-sleep spin; and the controller acts only when every worker
 * has finished, is held or sleeps (quiescence, read from the threads'
 * blocked-on records).
 *
 * At quiescence the controller checks that no sleeper sleeps beside its
 * condition (an item, room, all tasks done, a shutdown: a lost wake-up
 * unless the sleeper wakes within a generous bound), may try grace_queue_free
 * and grace_queue_free_items, which must answer -EBUSY and change nothing
 * while a thread sleeps or spins in a call or a put is in flight, then
 * releases the held workers, and last requests the round's stop, which
 * ends the waits that nothing else will. Between rounds it may request or
 * renew a worker's stop, or free the queue (or free it with its items) and
 * start a new one.
 *
 * The shadow: each put offers a fresh token (its worker and a number);
 * every token whose put answered 0 must come out exactly once, by a get, a
 * drain or a free_items, and no other token ever; each worker sees each
 * producer's tokens in order, and so does each drain. Each code must be one
 * the contract allows given what happened before the round and what raced
 * in it (a stop requested before the call wins; a put after a shutdown and
 * a get after IMMEDIATE fail; a DRAIN after IMMEDIATE is -EINVAL; and so
 * on). At each round's end the queue's size and join's answer must match
 * the shadow, and a drain that returned less than it was allowed must have
 * left nothing behind that was put before it began (tickets from one
 * counter order a put's return before a drain's start); after a shutdown
 * such a drain must have emptied the queue. At the end of the input the
 * queue is shut down, drained and freed, and every token is accounted for.
 *
 * Inputs replay the same way as far as the handshakes fix the order; the
 * races left free are those whose every outcome the checks accept.
 */
#include "grace.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NW 4
#define MAX_ROUNDS 40
#define MAXK (MAX_ROUNDS + 1) /* tokens per worker: one put per round at most */
/* Rounds per input with a call that may sleep until a short deadline. */
#define MAX_SHORT 6
/* How long a sleeper beside its condition may take to wake, and how long a
 * round may take at all, before the harness calls it a lost wake-up or a
 * hang (generous: ASan, and a loaded machine). */
#define WAKE_NS INT64_C(3000000000)
#define ROUND_NS INT64_C(15000000000)

enum kind { K_NOP, K_PUT, K_GET, K_DONE, K_JOIN, K_SHUT, K_DRAIN, K_GET2 };
enum dl { DL_PAST, DL_SHORT, DL_FOREVER };
enum wstate { W_IDLE, W_RUN, W_HELD, W_DONE };
enum hold { H_NONE, H_CLAIM, H_SPIN };

struct worker {
	int id;
	pthread_t th;
	struct grace__blocked rec;
	grace_stop *ts; /* the worker's own stop */
	bool ts_req;    /* shadow: requested */
	/* This round's operation. */
	int kind, dl, max, mode;
	bool use_ts, after;
	int64_t short_ns;
	grace_stop *stop; /* what the call gets: NULL, ts or the round's stop */
	int hold_side;    /* the side chosen for this round, or -1 */
	_Atomic int hold; /* hook side to pause at once, or -1 once it has */
	_Atomic int release;
	_Atomic bool released; /* release set: the worker may still read HELD */
	_Atomic int state;
	/* Results. */
	int rc;
	ssize_t n;
	void *item;
	void *items[8];
	unsigned tok; /* the token a put offered */
	uint64_t t_start, t_end;
	/* Shadow: the next token number, and per producer the last number seen + 1. */
	unsigned next_k;
	unsigned last[NW];
};

/* Tokens: worker w's k-th put offers (w + 1) << 16 | k (never NULL). */
static void *tok_item(int w, unsigned k)
{
	return (void *)(uintptr_t)(((unsigned)(w + 1) << 16) | k);
}

static bool tok_decode(void *item, int *w, unsigned *k)
{
	uintptr_t v = (uintptr_t)item;
	if ((v >> 16) < 1 || (v >> 16) > NW || (v & 0xffff) >= MAXK)
		return false;
	*w = (int)(v >> 16) - 1;
	*k = (unsigned)(v & 0xffff);
	return true;
}

static struct worker ws[NW];
static int nw;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned gen;
static _Thread_local struct worker *self;
static _Atomic uint64_t ticket;

static grace_queue *q;
static size_t cap;
static int sstate; /* shadow: 0, DRAIN or IMMEDIATE */
static grace_stop *rs; /* the round's stop */
static _Atomic bool rs_req;

/* Per token: the put answered 0 (and when it returned), and how often the
 * token came out. */
static _Atomic bool put_ok[NW][MAXK];
static uint64_t put_end[NW][MAXK];
static _Atomic int outs[NW][MAXK];
/* The current queue's counts, kept by the workers as their calls return. */
static _Atomic uint64_t n_put, n_got, n_drained, n_done, n_out;

static const size_t caps[] = {0, 1, 2, 3, 4, 8};

/* ---- the workers ---- */

static void hook(int side)
{
	struct worker *w = self;
	if (w == NULL || atomic_load(&w->hold) != side)
		return;
	atomic_store(&w->hold, -1);
	atomic_store(&w->state, W_HELD);
	while (!atomic_load(&w->release))
		sched_yield();
	atomic_store(&w->state, W_RUN);
}

static bool asleep(struct worker *w)
{
	return grace__blocked_op(&w->rec) != NULL;
}

/* Whether a drain of the round is held between its claim of an item and
 * its count of it: a task_done waits that out. */
static bool drain_held(void)
{
	for (int i = 0; i < nw; i++)
		if (ws[i].kind == K_DRAIN && atomic_load(&ws[i].state) == W_HELD && !ws[i].released)
			return true;
	return false;
}

/* Worker w is as good as asleep: in a call, waiting for something only
 * another worker (or the controller) can do. */
static bool waiting(struct worker *w)
{
	return asleep(w) || (w->kind == K_DONE && drain_held());
}

/* Taken out of the queue by worker w (a get or a drain), in its order. */
static void came_out(struct worker *w, void *item)
{
	int p;
	unsigned k;
	CHECK(tok_decode(item, &p, &k));
	CHECK(atomic_fetch_add(&outs[p][k], 1) == 0);
	CHECK(k + 1 > w->last[p]); /* each producer's tokens in order */
	w->last[p] = k + 1;
	atomic_fetch_add(&n_out, 1);
}

static grace_deadline deadline(struct worker *w)
{
	if (w->dl == DL_PAST)
		return grace_now() - 1;
	if (w->dl == DL_SHORT)
		return grace_now() + w->short_ns;
	return GRACE_FOREVER;
}

static void run_op(struct worker *w)
{
	if (w->after && w->id > 0) {
		/* Start once the worker before has finished, is held or sleeps. */
		struct worker *b = &ws[w->id - 1];
		for (;;) {
			int st = atomic_load(&b->state);
			if (st == W_DONE || st == W_HELD || (st == W_RUN && waiting(b)))
				break;
			sched_yield();
		}
	}
	w->t_start = atomic_fetch_add(&ticket, 1);
	switch (w->kind) {
	case K_PUT:
		w->tok = w->next_k++;
		w->rc = grace_queue_put(q, tok_item(w->id, w->tok), w->stop, deadline(w));
		if (w->rc == 0) {
			put_end[w->id][w->tok] = atomic_fetch_add(&ticket, 1);
			atomic_store(&put_ok[w->id][w->tok], true);
			atomic_fetch_add(&n_put, 1);
		}
		break;
	case K_GET:
	case K_GET2:
		w->item = (void *)(uintptr_t)0xdead;
		w->rc = grace_queue_get(q, &w->item, w->stop, deadline(w));
		if (w->rc == 0) {
			came_out(w, w->item);
			atomic_fetch_add(&n_got, 1);
		} else {
			CHECK(w->item == (void *)(uintptr_t)0xdead); /* a failed get took nothing */
		}
		break;
	case K_DONE:
		w->rc = grace_queue_task_done(q);
		if (w->rc == 0)
			atomic_fetch_add(&n_done, 1);
		break;
	case K_JOIN:
		w->rc = grace_queue_join(q, w->stop, deadline(w));
		break;
	case K_SHUT:
		w->rc = grace_queue_shutdown(q, w->mode);
		break;
	case K_DRAIN:
		w->n = grace_queue_drain(q, w->items, (size_t)w->max);
		CHECK(w->n >= 0 && w->n <= w->max);
		for (ssize_t i = 0; i < w->n; i++)
			came_out(w, w->items[i]);
		atomic_fetch_add(&n_drained, (uint64_t)w->n);
		break;
	default:
		break;
	}
	w->t_end = atomic_fetch_add(&ticket, 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	self = w;
	grace__self_blocked = &w->rec;
	unsigned seen = 0;
	for (;;) {
		pthread_mutex_lock(&m);
		while (gen == seen)
			pthread_cond_wait(&cv, &m);
		seen = gen;
		pthread_mutex_unlock(&m);
		if (atomic_load(&w->state) != W_RUN)
			continue; /* not in this round */
		run_op(w);
		atomic_store(&w->state, W_DONE);
	}
	return NULL;
}

static void start_workers(void)
{
	static bool started;
	if (started)
		return;
	started = true;
	atomic_store(&grace__queue_claim_hook, hook);
	for (int i = 0; i < NW; i++) {
		ws[i].id = i;
		atomic_store(&ws[i].hold, -1);
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
			abort();
	}
}

/* ---- the shadow's view ---- */

static size_t queued(void)
{
	return (size_t)(atomic_load(&n_put) - atomic_load(&n_out));
}

static bool all_done(void)
{
	return atomic_load(&n_done) + atomic_load(&n_drained) == atomic_load(&n_put);
}

static int disposed_calls;

static void dispose_check(void *item, void *arg)
{
	struct worker *ctl = arg;
	disposed_calls++;
	if (ctl != NULL)
		came_out(ctl, item);
}

/* The controller's own order check for items it disposes of or drains. */
static struct worker ctl;

/* Every token came out at most once, and only if its put answered 0. With
 * `all`, every token put has come out. */
static void check_tokens(bool all)
{
	for (int p = 0; p < NW; p++)
		for (unsigned k = 0; k < MAXK; k++) {
			int o = atomic_load(&outs[p][k]);
			bool ok = atomic_load(&put_ok[p][k]);
			CHECK(o <= 1);
			CHECK(o == 0 || ok);
			if (all)
				CHECK(o == (ok ? 1 : 0));
		}
}

/* The queue's life ends (freed): everything put into it has come out. */
static void queue_gone(void)
{
	q = NULL;
	CHECK(atomic_load(&n_out) == atomic_load(&n_put));
	check_tokens(false);
}

static void queue_begin(size_t c)
{
	cap = c;
	CHECK_RC(grace_queue_new(&q, cap), 0);
	sstate = 0;
	atomic_store(&n_put, 0);
	atomic_store(&n_got, 0);
	atomic_store(&n_drained, 0);
	atomic_store(&n_done, 0);
	atomic_store(&n_out, 0);
}

/* ---- quiescence: every worker of the round done, held or asleep ---- */

static bool quiescent(bool *held, bool *held_get_claim, bool *sleeping, bool sl[NW])
{
	*held = *held_get_claim = *sleeping = false;
	bool dh = drain_held();
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		sl[i] = false;
		int st = atomic_load(&w->state);
		if (st == W_HELD && w->released)
			return false; /* on its way: running */
		if (st == W_HELD) {
			*held = true;
			/* A get or drain between its claim and its hand-off, in a
			 * call that free does not see (grace.h). */
			*held_get_claim |= w->hold_side == 1;
		} else if (st == W_RUN) {
			if (w->kind == K_DONE && dh)
				continue; /* waits out the drain */
			if (!asleep(w))
				return false;
			*sleeping = sl[i] = true;
		}
	}
	return true;
}

/* The shutdown state now: the shadow's, and this round's shutdowns that
 * have returned 0. */
static int state_now(void)
{
	int st = sstate;
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		if (w->kind == K_SHUT && atomic_load(&w->state) == W_DONE && w->rc == 0 && w->mode > st)
			st = w->mode;
	}
	return st;
}

/* Whether a worker of the round is held between a put's claim and its
 * publish. */
static bool put_held(void)
{
	for (int i = 0; i < nw; i++)
		if (atomic_load(&ws[i].state) == W_HELD && ws[i].hold_side == 0 && !ws[i].released)
			return true;
	return false;
}

/* Whether a worker seen asleep at quiescence should not be asleep, or may
 * wake by itself, or is no longer asleep (nothing else runs; a put held in flight counts in the size, so
 * a getter beside it is counted as beside its condition, which only makes
 * the caller more careful). */
static bool beside_its_condition(struct worker *w)
{
	/* The conditions first, then the record, unchanged since before
	 * them: a sleeper that takes an item clears its record first, so an
	 * empty queue read while the record stood is one it slept beside. */
	uint32_t seq = atomic_load(&w->rec.seq);
	int st = state_now();
	size_t n = grace_queue_size(q);
	bool done = all_done();
	const char *op = grace__blocked_op(&w->rec);
	if (op == NULL || atomic_load(&w->rec.seq) != seq)
		return true; /* awake since it was seen asleep: it may be leaving */
	if (w->dl == DL_SHORT || grace_stop_requested(w->stop))
		return true;
	if (strcmp(op, "queue_get") == 0)
		return n > 0 || st != 0;
	if (strcmp(op, "queue_put") == 0)
		return cap == 0 || n < cap || st != 0;
	if (strcmp(op, "queue_join") == 0)
		return st == GRACE_SHUTDOWN_IMMEDIATE || done;
	if (strcmp(op, "queue_drain") == 0)
		return !put_held(); /* no put in flight: it owes nothing more */
	return false;
}

/* What each worker is doing, for a failure's report. */
static void report_workers(void)
{
	fprintf(stderr, "queue: capacity %zu, size %zu, shutdown %d, round's stop %s\n", cap, grace_queue_size(q),
	        state_now(), atomic_load(&rs_req) ? "requested" : "not requested");
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		const char *op = grace__blocked_op(&w->rec);
		fprintf(stderr, "worker %d: kind %d dl %d hold %d%s state %d asleep in %s\n", i, w->kind, w->dl,
		        w->hold_side, w->released ? " released" : "", atomic_load(&w->state), op ? op : "-");
	}
}

/* free and free_items while a worker sleeps or spins in a call, or a put
 * is in flight: -EBUSY, nothing changed. */
static void try_free_busy(void)
{
	size_t n = grace_queue_size(q);
	CHECK_RC(grace_queue_free(q), -EBUSY);
	disposed_calls = 0;
	CHECK_RC(grace_queue_free_items(q, dispose_check, NULL), -EBUSY);
	CHECK(disposed_calls == 0);
	CHECK(grace_queue_size(q) == n);
}

/* ---- one round ---- */

/* The round's first byte: bits 0-2 what the controller does after the
 * round (1: request a worker's stop, 2: renew it, 3: free, 4: free_items),
 * bit 3 whether it tries free at quiescence, bits 4-7 its argument. Then
 * two bytes per worker: the operation (bits 0-2 its kind, 3 start after
 * the worker before, 4-5 hold: 1 between claim and publish, 2 at the
 * start of the spin, 6 the worker's own stop) and its argument (bits 0-1
 * the deadline: past, short, none; bits 2-4 the short deadline, or with
 * bits 5-7 a drain's max; bit 5 IMMEDIATE for a shutdown). */
struct round {
	bool free_check;
	int ctl;
	int arg;
};

static void decode_op(struct worker *w, unsigned o, unsigned a, int *shorts)
{
	w->kind = (int)(o & 7);
	w->after = (o >> 3) & 1;
	int h = (int)((o >> 4) & 3);
	w->use_ts = (o >> 6) & 1;
	w->dl = (int)(a & 3);
	if (w->dl > DL_FOREVER)
		w->dl = DL_FOREVER;
	if (w->dl == DL_SHORT && (*shorts)++ >= MAX_SHORT)
		w->dl = DL_PAST;
	w->short_ns = (int64_t)((a >> 2) & 7) * 50000 + 20000;
	w->max = (int)((a >> 2) % 9);
	w->mode = (a >> 5) & 1 ? GRACE_SHUTDOWN_IMMEDIATE : GRACE_SHUTDOWN_DRAIN;
	w->stop = w->dl == DL_FOREVER ? rs : (w->use_ts ? w->ts : NULL);
	int hold = -1;
	if (w->kind == K_PUT && h == H_CLAIM)
		hold = 0;
	else if ((w->kind == K_GET || w->kind == K_GET2 || w->kind == K_DRAIN) && h == H_CLAIM)
		hold = 1;
	else if (w->kind == K_PUT && h == H_SPIN)
		hold = 2;
	else if ((w->kind == K_GET || w->kind == K_GET2) && h == H_SPIN)
		hold = 3;
	w->hold_side = hold;
	atomic_store(&w->hold, hold);
	atomic_store(&w->release, 0);
	w->released = false;
	w->rc = 1;
	w->n = -1;
}

/* Check a worker's code against the contract, given the state before the
 * round (s0) and what raced in it. */
static void check_op(struct worker *w, int s0, bool shut_in_round, bool imm_in_round, bool done0,
                     bool puts_in_round)
{
	bool stopped = w->stop != NULL && w->stop == w->ts && w->ts_req;
	bool rs_may = w->stop == rs && atomic_load(&rs_req);
	int r = w->rc;
	switch (w->kind) {
	case K_PUT:
		if (stopped) {
			CHECK_RC(r, -ECANCELED);
		} else if (s0 != 0) {
			CHECK_RC(r, -ESHUTDOWN);
		} else if (cap == 0 && !shut_in_round) {
			CHECK_RC(r, 0);
		} else {
			CHECK(r == 0 || (r == -ESHUTDOWN && shut_in_round) ||
			      (r == -ETIMEDOUT && w->dl != DL_FOREVER) || (r == -ECANCELED && rs_may));
		}
		break;
	case K_GET:
	case K_GET2:
		if (stopped) {
			CHECK_RC(r, -ECANCELED);
		} else if (s0 == GRACE_SHUTDOWN_IMMEDIATE) {
			CHECK_RC(r, -ESHUTDOWN);
		} else {
			CHECK(r == 0 || (r == -ESHUTDOWN && (s0 != 0 || shut_in_round)) ||
			      (r == -ETIMEDOUT && w->dl != DL_FOREVER) || (r == -ECANCELED && rs_may));
		}
		/* "Closed and empty" after DRAIN: empty for good. */
		if (r == -ESHUTDOWN && s0 != GRACE_SHUTDOWN_IMMEDIATE && !imm_in_round)
			CHECK(grace_queue_size(q) == 0);
		break;
	case K_DONE:
		CHECK(r == 0 || r == -EINVAL);
		break;
	case K_JOIN:
		if (stopped) {
			CHECK_RC(r, -ECANCELED);
		} else if (s0 == GRACE_SHUTDOWN_IMMEDIATE) {
			CHECK_RC(r, -ESHUTDOWN);
		} else if (done0 && !puts_in_round && !imm_in_round) {
			CHECK_RC(r, 0);
		} else {
			CHECK(r == 0 || (r == -ESHUTDOWN && imm_in_round) ||
			      (r == -ETIMEDOUT && w->dl != DL_FOREVER) || (r == -ECANCELED && rs_may));
		}
		break;
	case K_SHUT:
		if (w->mode == GRACE_SHUTDOWN_IMMEDIATE)
			CHECK_RC(r, 0);
		else if (s0 == GRACE_SHUTDOWN_IMMEDIATE)
			CHECK_RC(r, -EINVAL);
		else
			CHECK(r == 0 || (r == -EINVAL && imm_in_round));
		break;
	case K_DRAIN: {
		/* It owes every item whose put returned before it began. */
		if (w->n < w->max) {
			for (int p = 0; p < NW; p++)
				for (unsigned k = 0; k < MAXK; k++)
					if (atomic_load(&put_ok[p][k]) && put_end[p][k] < w->t_start)
						CHECK(atomic_load(&outs[p][k]) == 1);
		}
		break;
	}
	default:
		break;
	}
}

static void run_round(struct input *in, int *shorts)
{
	unsigned c = take(in);
	struct round rd = {.free_check = (c >> 3) & 1, .ctl = (int)(c & 7), .arg = (int)(c >> 4)};
	CHECK_RC(grace_stop_new(&rs, NULL), 0);
	atomic_store(&rs_req, false);
	int s0 = sstate;
	bool done0 = all_done();
	bool puts_in_round = false;
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		unsigned o = take(in), a = take(in);
		decode_op(w, o, a, shorts);
		puts_in_round |= w->kind == K_PUT;
		atomic_store(&w->state, W_RUN);
	}
	for (int i = nw; i < NW; i++)
		atomic_store(&ws[i].state, W_IDLE);
	pthread_mutex_lock(&m);
	gen++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&m);

	grace_deadline limit = grace_now() + ROUND_NS;
	grace_deadline beside_since = 0;
	bool checked = false;
	for (;;) {
		bool held, held_get, sleeping, sl[NW];
		int done = 0;
		for (int i = 0; i < nw; i++)
			done += atomic_load(&ws[i].state) == W_DONE;
		if (done == nw)
			break;
		if (grace_now() >= limit) {
			report_workers();
			CHECK(!"a round that does not end");
		}
		if (!quiescent(&held, &held_get, &sleeping, sl)) {
			beside_since = 0;
			sched_yield();
			continue;
		}
		/* free while workers sleep or are held in their calls: only
		 * while none of them can leave on its own before free looks (a
		 * wake-up on its way, a deadline), and none is a get held in
		 * flight, maybe in its first try, which free does not see. */
		bool settled = !held_get;
		for (int i = 0; i < nw && settled; i++)
			if (sl[i] && (atomic_load(&ws[i].state) != W_RUN || beside_its_condition(&ws[i])))
				settled = false;
		if (rd.free_check && !checked && settled && (held || sleeping)) {
			try_free_busy();
			checked = true;
		}
		if (held) {
			for (int i = 0; i < nw; i++)
				if (atomic_load(&ws[i].state) == W_HELD) {
					ws[i].released = true;
					atomic_store(&ws[i].release, 1);
				}
			sched_yield();
			continue;
		}
		/* Only sleepers are left: each must sleep for want of its
		 * condition, or wake soon; then the round's stop ends them. */
		bool beside = !settled;
		if (beside) {
			if (beside_since == 0)
				beside_since = grace_now();
			if (grace_now() - beside_since > WAKE_NS) {
				report_workers();
				CHECK(!"lost wake-up");
			}
			sched_yield();
			continue;
		}
		if (!atomic_load(&rs_req)) {
			atomic_store(&rs_req, true);
			grace_stop_request(rs, 1);
		}
		sched_yield();
	}

	/* Everyone has returned: the shutdowns first (their codes only race
	 * each other), then every code. */
	bool shut_in_round = false, imm_in_round = false;
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		if (w->kind == K_SHUT && w->rc == 0) {
			shut_in_round = true;
			if (w->mode == GRACE_SHUTDOWN_IMMEDIATE)
				imm_in_round = true;
		}
	}
	for (int i = 0; i < nw; i++)
		check_op(&ws[i], s0, shut_in_round, imm_in_round, done0, puts_in_round);
	if (imm_in_round)
		sstate = GRACE_SHUTDOWN_IMMEDIATE;
	else if (shut_in_round && sstate == 0)
		sstate = GRACE_SHUTDOWN_DRAIN;
	/* A drain that stopped short after a shutdown left the queue empty. */
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		if (w->kind == K_DRAIN && w->n < w->max && s0 != 0)
			CHECK(grace_queue_size(q) == 0);
	}
	/* The state at the boundary. */
	check_tokens(false);
	/* No more task_done calls than gets, drains racing them included. */
	CHECK(atomic_load(&n_done) <= atomic_load(&n_got));
	CHECK(grace_queue_size(q) == queued());
	int jr = grace_queue_join(q, NULL, grace_now() - 1);
	CHECK_RC(jr, sstate == GRACE_SHUTDOWN_IMMEDIATE ? -ESHUTDOWN : all_done() ? 0 : -ETIMEDOUT);
	for (int i = 0; i < nw; i++)
		atomic_store(&ws[i].state, W_IDLE);
	CHECK_RC(grace_stop_free(rs), 0);
	rs = NULL;

	/* The controller, with nothing running. */
	struct worker *t = &ws[rd.arg % nw];
	switch (rd.ctl) {
	case 1: /* request a worker's stop */
		CHECK_RC(grace_stop_request(t->ts, 1), t->ts_req ? 0 : 1);
		t->ts_req = true;
		break;
	case 2: /* a fresh stop for it */
		CHECK_RC(grace_stop_free(t->ts), 0);
		CHECK_RC(grace_stop_new(&t->ts, NULL), 0);
		t->ts_req = false;
		break;
	case 3: /* free: refused while items remain */
		if (queued() != 0) {
			CHECK_RC(grace_queue_free(q), -EBUSY);
		} else {
			CHECK_RC(grace_queue_free(q), 0);
			queue_gone();
			queue_begin(caps[(unsigned)rd.arg % (sizeof caps / sizeof caps[0])]);
		}
		break;
	case 4: { /* free_items: every item left, oldest first */
		size_t n = queued();
		disposed_calls = 0;
		CHECK_RC(grace_queue_free_items(q, dispose_check, &ctl), 0);
		CHECK(disposed_calls == (int)n);
		queue_gone();
		queue_begin(caps[(unsigned)rd.arg % (sizeof caps / sizeof caps[0])]);
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	start_workers();
	struct input in = {data, size};
	unsigned c = take(&in);
	nw = 2 + (int)(c % 3);
	memset(put_ok, 0, sizeof put_ok);
	memset(outs, 0, sizeof outs);
	memset(&ctl, 0, sizeof ctl);
	for (int i = 0; i < NW; i++) {
		struct worker *w = &ws[i];
		CHECK_RC(grace_stop_new(&w->ts, NULL), 0);
		w->ts_req = false;
		w->next_k = 0;
		memset(w->last, 0, sizeof w->last);
	}
	/* The controller's checks of order restart with each queue. */
	queue_begin(caps[(c / 3) % (sizeof caps / sizeof caps[0])]);
	int shorts = 0;
	for (int r = 0; r < MAX_ROUNDS && in.n >= 1 + 2 * (size_t)nw; r++) {
		run_round(&in, &shorts);
		if (q == NULL)
			break;
	}
	/* The end: shut down, hand everything back, free. */
	CHECK_RC(grace_queue_shutdown(q, GRACE_SHUTDOWN_IMMEDIATE), 0);
	void *items[8];
	ssize_t n;
	while ((n = grace_queue_drain(q, items, 8)) > 0)
		for (ssize_t i = 0; i < n; i++)
			came_out(&ctl, items[i]);
	CHECK(n == 0);
	CHECK(grace_queue_size(q) == 0);
	CHECK_RC(grace_queue_free(q), 0);
	queue_gone();
	check_tokens(true);
	for (int i = 0; i < NW; i++)
		CHECK_RC(grace_stop_free(ws[i].ts), 0);
	return 0;
}
