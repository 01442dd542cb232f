/* SPDX-License-Identifier: MIT */
/*
 * queue_fuzz.c - a libFuzzer harness for queues.
 *
 * The input is read as a sequence of operations on a few queue slots
 * (bounded with small capacities, or unbounded) and stop slots: put and get
 * with deadlines in the past (tries), a few hundred microseconds ahead, or
 * none; puts and gets with a requested stop; a stop whose deadline fires
 * while a get, put or join sleeps; task_done (too many included), join,
 * shutdown in both modes (upgrades, repeats, the refused downgrade, unknown
 * modes), drain into small arrays (NULL with a count included), size,
 * set_name, free (refused while items remain) and free_items, failed
 * allocations, and a table of bad arguments (NULL, not a queue, not a
 * stop). Beside the library the harness keeps a shadow of each queue: a
 * FIFO of tokens, its shutdown state, and its put, get, done and drained
 * counts. After every operation it checks each code against the one the
 * contract documents, and that items are conserved: every token put comes
 * back exactly once (got, drained or disposed), in the order it went in.
 *
 * The harness is single-threaded apart from the library's deadline timer,
 * and a call is only ever made to sleep when the shadow says it must time
 * out or be stopped, so every run of an input does the same thing.
 */
#include "grace.h"
#include "internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NQ 4
#define NSTOP 4
#define MAXTOK 4096
/* Operations per input that really sleep (a fraction of a millisecond each). */
#define MAX_TIMED 4


/* Where a token is: never put (or its put failed), in a queue, or handed
 * back by a get, a drain or a free_items. */
enum where { T_NONE, T_QUEUED, T_GOT, T_DRAINED, T_DISPOSED };

struct squeue {
	grace_queue *q; /* NULL: the slot is empty */
	size_t cap;     /* 0: unbounded */
	size_t ucap;    /* unbounded: the ring's size, which the next put may grow */
	int state;      /* 0, GRACE_SHUTDOWN_DRAIN or GRACE_SHUTDOWN_IMMEDIATE */
	unsigned fifo[MAXTOK];
	size_t head, count;
	uint64_t puts, gets, done, drained;
};

struct sstop {
	grace_stop *s;
	bool req;
};

static struct squeue qs[NQ];
static struct sstop sts[NSTOP];
static enum where tok[MAXTOK];
static unsigned next_tok;
static int timed_left;
static uint64_t n_put, n_got, n_drained, n_disposed;

/* Not a queue: zeroed memory, larger than a queue and aligned as one, that
 * grace_queue_new never made (its magic word is 0). */
static _Alignas(64) unsigned char not_a_queue_mem[8192];
#define NOT_A_QUEUE ((grace_queue *)(void *)not_a_queue_mem)
static struct grace_stop not_a_stop; /* zeroed: no magic */

/* ---- the input: see fuzz.h ---- */

/* ---- tokens and the shadow ---- */

static void *item_of(unsigned t)
{
	return (void *)(uintptr_t)t; /* token 0 is NULL: a valid item */
}

static void shadow_push(struct squeue *s, unsigned t)
{
	CHECK(s->count < MAXTOK);
	s->fifo[(s->head + s->count) % MAXTOK] = t;
	s->count++;
	s->puts++;
	tok[t] = T_QUEUED;
	n_put++;
}

/* An item came out of the queue: it must be the shadow's oldest token, and
 * it must not have come out before. */
static void shadow_pop(struct squeue *s, void *item, enum where to)
{
	CHECK(s->count > 0);
	unsigned t = s->fifo[s->head];
	CHECK(item == item_of(t));
	CHECK(tok[t] == T_QUEUED);
	tok[t] = to;
	s->head = (s->head + 1) % MAXTOK;
	s->count--;
}

/* The queue's put would have to wait: bounded and full. */
static bool full(const struct squeue *s)
{
	return s->cap != 0 && s->count == s->cap;
}

static bool all_done(const struct squeue *s)
{
	return s->done + s->drained == s->puts;
}

static void check_all(void)
{
	uint64_t queued = 0;
	for (int i = 0; i < NQ; i++) {
		if (qs[i].q == NULL)
			continue;
		CHECK(grace_queue_size(qs[i].q) == qs[i].count);
		CHECK(qs[i].done <= qs[i].gets);
		queued += qs[i].count;
	}
	for (int i = 0; i < NSTOP; i++)
		if (sts[i].s != NULL)
			CHECK(grace_stop_requested(sts[i].s) == sts[i].req);
	/* Conservation: every item put is queued or was handed back once. */
	CHECK(n_put == queued + n_got + n_drained + n_disposed);
}

static int pick_queue(struct input *in)
{
	int i = (int)(take(in) % NQ);
	return qs[i].q != NULL ? i : -1;
}

/* A live stop's slot, or -1 (NULL stop). */
static int pick_stop(struct input *in)
{
	int i = (int)(take(in) % (NSTOP + 1));
	return i < NSTOP && sts[i].s != NULL ? i : -1;
}

static grace_stop *stop_of(int i)
{
	return i >= 0 ? sts[i].s : NULL;
}

static bool requested(int i)
{
	return i >= 0 && sts[i].req;
}

/* A deadline for a call the shadow expects to time out: in the past, or (a
 * few times per input) a few hundred microseconds ahead, which it really
 * waits for. */
static grace_deadline timeout_deadline(struct input *in, bool *timed)
{
	unsigned b = take(in);
	*timed = false;
	if (b % 4 == 0 && timed_left > 0) {
		timed_left--;
		*timed = true;
		return grace_after_ns(50000 + (int64_t)(b * 1000u));
	}
	if (b % 4 == 1)
		return 0; /* long past */
	return grace_now() - 1;
}

/* A deadline for a call that must not wait: anything. */
static grace_deadline any_deadline(struct input *in)
{
	switch (take(in) % 3) {
	case 0: return grace_now() - 1;
	case 1: return grace_after_ms(3600 * 1000);
	default: return GRACE_FOREVER;
	}
}

/* ---- operations ---- */

static void op_new(struct input *in)
{
	static const size_t caps[] = {0, 1, 2, 3, 4, 7, 8, 16};
	int i = (int)(take(in) % NQ);
	size_t cap = caps[take(in) % 8];
	if (qs[i].q != NULL)
		return;
	grace_queue *q = NOT_A_QUEUE; /* a sentinel: must be overwritten */
	CHECK_RC(grace_queue_new(&q, cap), 0);
	CHECK(q != NULL && q != NOT_A_QUEUE);
	memset(&qs[i], 0, sizeof qs[i]);
	qs[i].q = q;
	qs[i].cap = cap;
}

/* A failed allocation: a bounded queue makes two (the queue, its ring), an
 * unbounded one one. */
static void op_new_enomem(struct input *in)
{
	size_t cap = take(in) % 3;
	long nth = (long)(take(in) % 3) + 1;
	long allocs = cap != 0 ? 2 : 1;
	grace_queue *q = NOT_A_QUEUE;
	atomic_store(&grace__alloc_fail_countdown, nth);
	int r = grace_queue_new(&q, cap);
	atomic_store(&grace__alloc_fail_countdown, 0);
	if (nth <= allocs) {
		CHECK_RC(r, -ENOMEM);
		CHECK(q == NOT_A_QUEUE); /* *out untouched */
	} else {
		CHECK_RC(r, 0);
		CHECK_RC(grace_queue_free(q), 0);
	}
}

static void op_put(struct input *in)
{
	int i = pick_queue(in);
	int si = pick_stop(in);
	bool fail_alloc = take(in) % 4 == 0;
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	CHECK(next_tok < MAXTOK);
	unsigned t = next_tok++;
	int want;
	if (requested(si))
		want = -ECANCELED;
	else if (s->state != 0)
		want = -ESHUTDOWN;
	else if (full(s))
		want = -ETIMEDOUT;
	else if (s->cap == 0 && s->count == s->ucap && fail_alloc)
		want = -ENOMEM;
	else
		want = 0;
	bool timed = false;
	grace_deadline d = want == -ETIMEDOUT ? timeout_deadline(in, &timed) : any_deadline(in);
	if (fail_alloc)
		atomic_store(&grace__alloc_fail_countdown, 1);
	int r = grace_queue_put(s->q, item_of(t), stop_of(si), d);
	atomic_store(&grace__alloc_fail_countdown, 0);
	CHECK_RC(r, want);
	if (timed)
		CHECK(grace_now() >= d); /* it waited out its deadline */
	if (r == 0) {
		if (s->cap == 0 && s->count == s->ucap)
			s->ucap = s->ucap != 0 ? s->ucap * 2 : 16;
		shadow_push(s, t);
	}
	/* A failed put did not enqueue: the token stays T_NONE (check_all and
	 * the pops would see it otherwise). */
}

static void op_get(struct input *in)
{
	int i = pick_queue(in);
	int si = pick_stop(in);
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	int want;
	if (requested(si))
		want = -ECANCELED;
	else if (s->state == GRACE_SHUTDOWN_IMMEDIATE)
		want = -ESHUTDOWN;
	else if (s->count > 0)
		want = 0;
	else if (s->state == GRACE_SHUTDOWN_DRAIN)
		want = -ESHUTDOWN;
	else
		want = -ETIMEDOUT;
	bool timed = false;
	grace_deadline d = want == -ETIMEDOUT ? timeout_deadline(in, &timed) : any_deadline(in);
	void *item = not_a_queue_mem; /* a sentinel: left alone on failure */
	int r = grace_queue_get(s->q, &item, stop_of(si), d);
	CHECK_RC(r, want);
	if (timed)
		CHECK(grace_now() >= d);
	if (r == 0) {
		shadow_pop(s, item, T_GOT);
		s->gets++;
		n_got++;
	} else {
		CHECK(item == not_a_queue_mem);
	}
}

static void op_task_done(struct input *in)
{
	int i = pick_queue(in);
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	/* Only items got by a get may be done; drained ones count already. */
	int want = s->done < s->gets ? 0 : -EINVAL;
	CHECK_RC(grace_queue_task_done(s->q), want);
	if (want == 0)
		s->done++;
}

static void op_join(struct input *in)
{
	int i = pick_queue(in);
	int si = pick_stop(in);
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	int want;
	if (requested(si))
		want = -ECANCELED;
	else if (s->state == GRACE_SHUTDOWN_IMMEDIATE)
		want = -ESHUTDOWN;
	else if (all_done(s))
		want = 0;
	else
		want = -ETIMEDOUT;
	bool timed = false;
	grace_deadline d = want == -ETIMEDOUT ? timeout_deadline(in, &timed) : any_deadline(in);
	CHECK_RC(grace_queue_join(s->q, stop_of(si), d), want);
	if (timed)
		CHECK(grace_now() >= d);
}

static void op_shutdown(struct input *in)
{
	static const int modes[] = {GRACE_SHUTDOWN_DRAIN, GRACE_SHUTDOWN_IMMEDIATE, GRACE_SHUTDOWN_DRAIN,
	                            GRACE_SHUTDOWN_IMMEDIATE, 0, 3, -1, INT32_MIN};
	int i = pick_queue(in);
	int mode = modes[take(in) % 8];
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	int want;
	if (mode != GRACE_SHUTDOWN_DRAIN && mode != GRACE_SHUTDOWN_IMMEDIATE)
		want = -EINVAL;
	else if (s->state == GRACE_SHUTDOWN_IMMEDIATE && mode == GRACE_SHUTDOWN_DRAIN)
		want = -EINVAL; /* the downgrade: nothing changes */
	else
		want = 0;
	CHECK_RC(grace_queue_shutdown(s->q, mode), want);
	if (want == 0)
		s->state = mode;
}

static void op_drain(struct input *in)
{
	int i = pick_queue(in);
	size_t max = take(in) % 6;
	bool null_items = take(in) % 8 == 0;
	if (i < 0)
		return;
	struct squeue *s = &qs[i];
	void *items[8];
	for (int k = 0; k < 8; k++)
		items[k] = not_a_queue_mem;
	if (null_items) {
		CHECK_RC(grace_queue_drain(s->q, NULL, max), max != 0 ? -EINVAL : 0);
		return;
	}
	size_t want = max < s->count ? max : s->count;
	CHECK_RC(grace_queue_drain(s->q, items, max), (ssize_t)want);
	for (size_t k = 0; k < want; k++)
		shadow_pop(s, items[k], T_DRAINED);
	for (size_t k = want; k < 8; k++)
		CHECK(items[k] == not_a_queue_mem); /* nothing written past the count */
	s->drained += want;
	n_drained += want;
}

static void op_name(struct input *in)
{
	static const char *const names[] = {"", "q", "a rather longer name for a queue, to copy"};
	int i = pick_queue(in);
	unsigned how = take(in) % 5;
	if (i < 0)
		return;
	if (how == 3) {
		CHECK_RC(grace_queue_set_name(qs[i].q, NULL), -EINVAL);
		return;
	}
	if (how == 4) {
		atomic_store(&grace__alloc_fail_countdown, 1);
		int r = grace_queue_set_name(qs[i].q, "no room");
		atomic_store(&grace__alloc_fail_countdown, 0);
		CHECK_RC(r, -ENOMEM);
		return;
	}
	CHECK_RC(grace_queue_set_name(qs[i].q, names[how]), 0);
}

static void op_free(struct input *in)
{
	int i = pick_queue(in);
	if (i < 0) {
		CHECK_RC(grace_queue_free(NULL), 0);
		return;
	}
	struct squeue *s = &qs[i];
	int want = s->count != 0 ? -EBUSY : 0;
	CHECK_RC(grace_queue_free(s->q), want);
	if (want == 0)
		s->q = NULL;
	/* A refused free changed nothing: check_all looks at the size, and
	 * the queue goes on being used. */
}

static struct squeue *disposing;

static void dispose(void *item, void *arg)
{
	CHECK(arg == &disposing);
	shadow_pop(disposing, item, T_DISPOSED);
	n_disposed++;
}

static void free_items(int i)
{
	disposing = &qs[i];
	CHECK_RC(grace_queue_free_items(qs[i].q, dispose, &disposing), 0);
	CHECK(qs[i].count == 0); /* every item was disposed of, oldest first */
	qs[i].q = NULL;
	disposing = NULL;
}

static void op_free_items(struct input *in)
{
	int i = pick_queue(in);
	bool null_fn = take(in) % 4 == 0;
	if (i < 0)
		return;
	if (null_fn) {
		CHECK_RC(grace_queue_free_items(qs[i].q, NULL, NULL), -EINVAL);
		return;
	}
	free_items(i);
}

static void op_stop(struct input *in)
{
	int i = (int)(take(in) % NSTOP);
	unsigned how = take(in) % 3;
	if (sts[i].s == NULL) {
		CHECK_RC(grace_stop_new(&sts[i].s, NULL), 0);
		sts[i].req = false;
	} else if (how == 0) {
		CHECK_RC(grace_stop_free(sts[i].s), 0);
		sts[i].s = NULL;
	} else {
		CHECK_RC(grace_stop_request(sts[i].s, 1), sts[i].req ? 0 : 1);
		sts[i].req = true;
	}
}

/* A stop's deadline fires while a call sleeps: the call answers
 * -ECANCELED, the stop's reason is the deadline's. Made only when the
 * shadow says the call must sleep. */
static void op_deadline_fires(struct input *in)
{
	int i = pick_queue(in);
	unsigned what = take(in) % 3;
	unsigned us = 50 + take(in) * 2u;
	if (i < 0 || timed_left <= 0)
		return;
	struct squeue *s = &qs[i];
	bool sleeps;
	switch (what) {
	case 0: sleeps = s->state == 0 && s->count == 0; break;
	case 1: sleeps = s->state == 0 && full(s); break;
	default: sleeps = s->state != GRACE_SHUTDOWN_IMMEDIATE && !all_done(s); break;
	}
	if (!sleeps)
		return;
	timed_left--;
	grace_stop *stop;
	CHECK_RC(grace_stop_new(&stop, NULL), 0);
	CHECK_RC(grace_stop_set_deadline(stop, grace_after_ns((int64_t)us * 1000)), 0);
	void *item = not_a_queue_mem;
	CHECK(next_tok < MAXTOK);
	unsigned t = next_tok++;
	switch (what) {
	case 0: CHECK_RC(grace_queue_get(s->q, &item, stop, GRACE_FOREVER), -ECANCELED); break;
	case 1: CHECK_RC(grace_queue_put(s->q, item_of(t), stop, GRACE_FOREVER), -ECANCELED); break;
	default: CHECK_RC(grace_queue_join(s->q, stop, GRACE_FOREVER), -ECANCELED); break;
	}
	CHECK(item == not_a_queue_mem);
	CHECK(grace_stop_reason(stop) == GRACE_REASON_DEADLINE);
	CHECK_RC(grace_stop_free(stop), 0);
}

static void dispose_never(void *item, void *arg)
{
	(void)item;
	(void)arg;
	CHECK(!"dispose called for a refused free_items");
}

/* Bad arguments: each answers its code and changes nothing (check_all looks
 * at the queue afterwards). */
static void op_misuse(struct input *in)
{
	unsigned which = take(in) % 20;
	int i = pick_queue(in);
	grace_queue *q = i >= 0 ? qs[i].q : NULL;
	void *item = not_a_queue_mem;
	grace_queue *out = NOT_A_QUEUE;
	switch (which) {
	case 0: CHECK_RC(grace_queue_new(NULL, 4), -EINVAL); break;
	case 1:
		CHECK_RC(grace_queue_new(&out, SIZE_MAX), -ENOMEM);
		CHECK(out == NOT_A_QUEUE);
		break;
	case 2:
		CHECK_RC(grace_queue_put(NULL, NULL, NULL, 0), -EINVAL);
		CHECK_RC(grace_queue_put(NOT_A_QUEUE, NULL, NULL, 0), -EINVAL);
		break;
	case 3:
		CHECK_RC(grace_queue_get(NULL, &item, NULL, 0), -EINVAL);
		CHECK_RC(grace_queue_get(NOT_A_QUEUE, &item, NULL, 0), -EINVAL);
		CHECK(item == not_a_queue_mem);
		break;
	case 4:
		if (q != NULL)
			CHECK_RC(grace_queue_get(q, NULL, NULL, 0), -EINVAL);
		break;
	case 5:
		/* Not a stop loses even to a requested-stop check: -EINVAL. */
		if (q != NULL) {
			CHECK_RC(grace_queue_put(q, NULL, &not_a_stop, 0), -EINVAL);
			CHECK_RC(grace_queue_get(q, &item, &not_a_stop, 0), -EINVAL);
			CHECK_RC(grace_queue_join(q, &not_a_stop, 0), -EINVAL);
			CHECK(item == not_a_queue_mem);
		}
		break;
	case 6:
		CHECK_RC(grace_queue_task_done(NULL), -EINVAL);
		CHECK_RC(grace_queue_task_done(NOT_A_QUEUE), -EINVAL);
		break;
	case 7:
		CHECK_RC(grace_queue_join(NULL, NULL, 0), -EINVAL);
		CHECK_RC(grace_queue_join(NOT_A_QUEUE, NULL, GRACE_FOREVER), -EINVAL);
		break;
	case 8:
		CHECK_RC(grace_queue_shutdown(NULL, GRACE_SHUTDOWN_DRAIN), -EINVAL);
		CHECK_RC(grace_queue_shutdown(NOT_A_QUEUE, GRACE_SHUTDOWN_IMMEDIATE), -EINVAL);
		break;
	case 9: {
		void *items[2];
		CHECK_RC(grace_queue_drain(NULL, items, 2), -EINVAL);
		CHECK_RC(grace_queue_drain(NOT_A_QUEUE, items, 2), -EINVAL);
		CHECK_RC(grace_queue_drain(NOT_A_QUEUE, NULL, 0), -EINVAL);
		break;
	}
	case 10:
		CHECK(grace_queue_size(NULL) == 0);
		CHECK(grace_queue_size(NOT_A_QUEUE) == 0);
		break;
	case 11:
		CHECK_RC(grace_queue_set_name(NULL, "x"), -EINVAL);
		CHECK_RC(grace_queue_set_name(NOT_A_QUEUE, "x"), -EINVAL);
		break;
	case 12: CHECK_RC(grace_queue_free(NOT_A_QUEUE), -EINVAL); break;
	case 13:
		CHECK_RC(grace_queue_free_items(NULL, dispose_never, NULL), -EINVAL);
		CHECK_RC(grace_queue_free_items(NOT_A_QUEUE, dispose_never, NULL), -EINVAL);
		break;
	case 14:
		/* Arguments are checked before the stop: not a queue is -EINVAL
		 * even with a requested stop. */
		if (sts[0].s != NULL) {
			CHECK_RC(grace_queue_put(NOT_A_QUEUE, NULL, sts[0].s, 0), -EINVAL);
			CHECK_RC(grace_queue_get(NOT_A_QUEUE, &item, sts[0].s, 0), -EINVAL);
			CHECK_RC(grace_queue_join(NOT_A_QUEUE, sts[0].s, 0), -EINVAL);
		}
		break;
	default:
		/* A queue's capacity too large for memory. */
		CHECK_RC(grace_queue_new(&out, (SIZE_MAX / 2) + which), -ENOMEM);
		CHECK(out == NOT_A_QUEUE);
		break;
	}
	/* Nothing wrote into the memory that is not a queue. */
	static const unsigned char zero[sizeof not_a_queue_mem];
	CHECK(memcmp(not_a_queue_mem, zero, sizeof zero) == 0);
}

/* ---- one input ---- */

static void setup(void)
{
	memset(qs, 0, sizeof qs);
	memset(sts, 0, sizeof sts);
	memset(tok, 0, sizeof tok);
	next_tok = 0;
	n_put = n_got = n_drained = n_disposed = 0;
	timed_left = MAX_TIMED;
}

/* Take everything apart: a queue that still holds items is refused by
 * grace_queue_free and emptied by grace_queue_free_items; then every token
 * put must have come back exactly once. */
static void teardown(void)
{
	for (int i = 0; i < NQ; i++) {
		if (qs[i].q == NULL)
			continue;
		if (qs[i].count == 0) {
			CHECK_RC(grace_queue_free(qs[i].q), 0);
			qs[i].q = NULL;
		} else {
			CHECK_RC(grace_queue_free(qs[i].q), -EBUSY);
			free_items(i);
		}
	}
	for (int i = 0; i < NSTOP; i++)
		if (sts[i].s != NULL)
			CHECK_RC(grace_stop_free(sts[i].s), 0);
	uint64_t back = 0;
	for (unsigned t = 0; t < next_tok; t++) {
		CHECK(tok[t] != T_QUEUED);
		back += tok[t] != T_NONE;
	}
	CHECK(back == n_put);
	CHECK(n_put == n_got + n_drained + n_disposed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	setup();
	while (in.n > 0 && next_tok + 1 < MAXTOK) {
		switch (take(&in) % 16) {
		case 0: op_new(&in); break;
		case 1: op_new_enomem(&in); break;
		case 2: op_put(&in); break;
		case 3: op_put(&in); break;
		case 4: op_get(&in); break;
		case 5: op_get(&in); break;
		case 6: op_task_done(&in); break;
		case 7: op_join(&in); break;
		case 8: op_shutdown(&in); break;
		case 9: op_drain(&in); break;
		case 10: op_name(&in); break;
		case 11: op_free(&in); break;
		case 12: op_free_items(&in); break;
		case 13: op_stop(&in); break;
		case 14: op_deadline_fires(&in); break;
		default: op_misuse(&in); break;
		}
		check_all();
	}
	teardown();
	return 0;
}
