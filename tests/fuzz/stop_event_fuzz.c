/* SPDX-License-Identifier: MIT */
/*
 * stop_event_fuzz.c - a libFuzzer harness for stops and events.
 *
 * The input is read as a sequence of operations on a few slots: stops
 * (made with or without a parent, requested with any reason, given
 * deadlines in the past, near or far, freed in any order, refused frees
 * included), callback records (registered, removed, tried off; their
 * callbacks count, remove themselves or request another stop), events
 * (init, set, clear, wait with past or near deadlines, destroy) and bad
 * arguments of every kind. Beside the library the harness keeps a shadow
 * of what the contract says the state must be, and after every operation
 * it checks each result code against the documented one and each stop,
 * record and event against the shadow. A difference aborts, which
 * libFuzzer reports with the input that caused it.
 *
 * The harness is single-threaded apart from the library's deadline timer,
 * so every run of an input does the same thing: a deadline that would fire
 * during a run is only ever set on a private stop that the operation then
 * waits for (see op_deadline_fires).
 *
 * Reasons in a cascade: every stop a request reaches (children, and stops
 * that callbacks request with their own stop's reason) gets the request's
 * reason, so the shadow does not depend on the order the library runs
 * callbacks in.
 */
#include "grace.h"
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NSTOP 8
#define NCB 8
#define NEV 4
/* Operations per input that really sleep (up to a millisecond each). */
#define MAX_TIMED 4


enum act { ACT_COUNT, ACT_SELF_OFF, ACT_SELF_TRY_OFF, ACT_REQUEST, ACT_COUNT_OF };

struct sstop {
	grace_stop *s; /* NULL: the slot is empty */
	int parent;    /* slot of the parent, or -1 */
	bool req;      /* shadow: requested */
	int reason;    /* shadow: its reason, when requested */
	int fd;        /* grace_stop_fd's answer, or -1 before the first call */
};

struct scb {
	grace_stop_cb *rec; /* the record, reused across registrations */
	int on;             /* shadow: slot it is registered on, or -1 */
	grace_stop *stop;   /* the stop it was last registered on */
	int runs;           /* how often fn ran (counted by fn) */
	int want;           /* shadow: how often it must have run */
	enum act act;
	int target; /* ACT_REQUEST: the slot whose stop fn requests */
};

struct sev {
	grace_event ev;
	bool destroyed; /* shadow */
	bool set;       /* shadow */
};

static struct sstop st[NSTOP];
static struct scb cbs[NCB];
static struct sev evs[NEV];
static int timed_left;

/* ---- the input: see fuzz.h ---- */

static int take_int(struct input *in)
{
	unsigned v = take(in);
	v = v << 8 | take(in);
	return (int)(int16_t)v;
}

/* ---- the shadow ---- */

static void shadow_request(int i, int reason)
{
	if (st[i].s == NULL || st[i].req)
		return;
	st[i].req = true;
	st[i].reason = reason;
	for (int c = 0; c < NCB; c++) {
		if (cbs[c].on != i)
			continue;
		cbs[c].on = -1;
		cbs[c].want++;
		if (cbs[c].act == ACT_REQUEST && reason > 0)
			shadow_request(cbs[c].target, reason);
	}
	for (int j = 0; j < NSTOP; j++)
		if (st[j].s != NULL && st[j].parent == i)
			shadow_request(j, reason);
}

static void cb_fn(void *arg)
{
	struct scb *c = arg;
	c->runs++;
	switch (c->act) {
	case ACT_SELF_OFF:
		/* From inside fn: answers at once, 0 (it is running). */
		CHECK_RC(grace_stop_off(c->rec), 0);
		break;
	case ACT_SELF_TRY_OFF:
		CHECK_RC(grace_stop_try_off(c->rec), 0);
		break;
	case ACT_REQUEST: {
		CHECK(grace_stop_requested(c->stop));
		int reason = grace_stop_reason(c->stop);
		grace_stop *t = st[c->target].s;
		if (t != NULL) {
			int r = grace_stop_request(t, reason);
			CHECK(reason > 0 ? (r == 0 || r == 1) : r == -EINVAL);
		}
		break;
	}
	default:
		break;
	}
}

/* Every stop, record and event agrees with the shadow. */
static void check_all(void)
{
	for (int i = 0; i < NSTOP; i++) {
		if (st[i].s == NULL)
			continue;
		CHECK(grace_stop_requested(st[i].s) == st[i].req);
		CHECK(grace_stop_reason(st[i].s) == (st[i].req ? st[i].reason : 0));
		if (st[i].parent >= 0 && st[st[i].parent].req)
			CHECK(st[i].req); /* a child follows its parent */
		if (st[i].fd >= 0) {
			struct pollfd p = {.fd = st[i].fd, .events = POLLIN};
			CHECK(poll(&p, 1, 0) == (st[i].req ? 1 : 0));
		}
	}
	for (int c = 0; c < NCB; c++)
		CHECK(cbs[c].runs == cbs[c].want); /* each ran exactly when due, once */
	for (int e = 0; e < NEV; e++)
		CHECK(grace_event_is_set(&evs[e].ev) == (evs[e].set && !evs[e].destroyed));
}

static int empty_stop_slot(void)
{
	for (int i = 0; i < NSTOP; i++)
		if (st[i].s == NULL)
			return i;
	return -1;
}

/* A live stop's slot chosen by the input, or -1 (the caller passes NULL). */
static int pick_stop(struct input *in)
{
	unsigned b = take(in);
	int i = (int)(b % (NSTOP + 1));
	if (i == NSTOP || st[i].s == NULL)
		return -1;
	return i;
}

/* ---- operations ---- */

static void op_new(struct input *in)
{
	int i = empty_stop_slot();
	int p = pick_stop(in);
	if (i < 0)
		return;
	grace_stop *s = (grace_stop *)&st; /* a sentinel: must be overwritten */
	CHECK_RC(grace_stop_new(&s, p >= 0 ? st[p].s : NULL), 0);
	CHECK(s != NULL && s != (grace_stop *)&st);
	st[i] = (struct sstop){.s = s, .parent = p, .req = false, .reason = 0, .fd = -1};
	if (p >= 0 && st[p].req) {
		/* Made under a requested parent: starts requested. */
		st[i].req = true;
		st[i].reason = st[p].reason;
	}
}

static void op_new_enomem(struct input *in)
{
	int p = pick_stop(in);
	grace_stop *s = (grace_stop *)&st;
	atomic_store(&grace__alloc_fail_countdown, 1);
	CHECK_RC(grace_stop_new(&s, p >= 0 ? st[p].s : NULL), -ENOMEM);
	atomic_store(&grace__alloc_fail_countdown, 0);
	CHECK(s == (grace_stop *)&st); /* *out untouched */
}

static void op_request(struct input *in)
{
	int i = pick_stop(in);
	int reason = take_int(in);
	if (i < 0) {
		CHECK_RC(grace_stop_request(NULL, reason), -EINVAL);
		return;
	}
	if (reason <= 0) {
		CHECK_RC(grace_stop_request(st[i].s, reason), -EINVAL);
		return;
	}
	bool first = !st[i].req;
	CHECK_RC(grace_stop_request(st[i].s, reason), first ? 1 : 0);
	shadow_request(i, reason);
}

static void op_free(struct input *in)
{
	int i = pick_stop(in);
	if (i < 0) {
		CHECK_RC(grace_stop_free(NULL), 0);
		return;
	}
	bool busy = false;
	for (int j = 0; j < NSTOP; j++)
		busy |= st[j].s != NULL && st[j].parent == i;
	for (int c = 0; c < NCB; c++)
		busy |= cbs[c].on == i;
	CHECK_RC(grace_stop_free(st[i].s), busy ? -EBUSY : 0);
	if (!busy)
		st[i].s = NULL;
	/* A refused free changed nothing: check_all looks at the stop. */
}

static void op_deadline(struct input *in)
{
	int i = pick_stop(in);
	unsigned kind = take(in) % 4;
	if (i < 0) {
		CHECK_RC(grace_stop_set_deadline(NULL, grace_now()), -EINVAL);
		return;
	}
	grace_deadline d;
	switch (kind) {
	case 0: d = grace_now() - take(in); break;             /* past (or now) */
	case 1: d = take(in) == 0 ? 0 : INT64_MIN + 1; break; /* long past */
	case 2: d = grace_after_ms(3600 * 1000); break;        /* never fires in a run */
	default: d = GRACE_FOREVER; break;                     /* removes it */
	}
	CHECK_RC(grace_stop_set_deadline(st[i].s, d), 0);
	if (kind <= 1)
		shadow_request(i, GRACE_REASON_DEADLINE);
}

/* A deadline a few hundred microseconds ahead, on a private stop (a child of
 * a slot's stop, or a root), fires and wakes a waiter on it; the stop is
 * then freed at once, maybe while the timer still finishes its request. */
static void op_deadline_fires(struct input *in)
{
	int p = pick_stop(in);
	unsigned us = take(in) * 4u;
	if (timed_left <= 0)
		return;
	timed_left--;
	grace_stop *s;
	CHECK_RC(grace_stop_new(&s, p >= 0 ? st[p].s : NULL), 0);
	bool pre = p >= 0 && st[p].req;
	CHECK_RC(grace_stop_set_deadline(s, grace_now() + (int64_t)us * 1000), 0);
	grace_event never = GRACE_EVENT_INIT;
	CHECK_RC(grace_event_wait(&never, s, grace_after_ms(10000)), -ECANCELED);
	CHECK(grace_stop_reason(s) == (pre ? st[p].reason : GRACE_REASON_DEADLINE));
	CHECK_RC(grace_stop_free(s), 0);
	CHECK_RC(grace_event_destroy(&never), 0);
}

static void op_on(struct input *in)
{
	int i = pick_stop(in);
	unsigned b = take(in);
	struct scb *c = &cbs[b % NCB];
	unsigned a = take(in);
	if (i < 0) {
		CHECK_RC(grace_stop_on(NULL, c->rec, cb_fn, c), -EINVAL);
		return;
	}
	if (c->on >= 0) {
		/* Already registered (here or on another stop). */
		CHECK_RC(grace_stop_on(st[i].s, c->rec, cb_fn, c), -EINVAL);
		return;
	}
	c->act = (enum act)(a % ACT_COUNT_OF);
	c->target = (int)(a / ACT_COUNT_OF) % NSTOP;
	c->stop = st[i].s;
	if (st[i].req) {
		/* Runs at once, in this thread, and answers 1. */
		c->want++;
		if (c->act == ACT_REQUEST && st[i].reason > 0)
			shadow_request(c->target, st[i].reason);
		CHECK_RC(grace_stop_on(st[i].s, c->rec, cb_fn, c), 1);
		return;
	}
	CHECK_RC(grace_stop_on(st[i].s, c->rec, cb_fn, c), 0);
	c->on = i;
}

static void op_off(struct input *in, bool try)
{
	unsigned b = take(in);
	struct scb *c = &cbs[b % NCB];
	int want = c->on >= 0 ? 1 : 0; /* removed before it ran, or not registered */
	CHECK_RC(try ? grace_stop_try_off(c->rec) : grace_stop_off(c->rec), want);
	c->on = -1;
}

static void op_fd(struct input *in)
{
	int i = pick_stop(in);
	if (i < 0) {
		CHECK_RC(grace_stop_fd(NULL), -EINVAL);
		return;
	}
	int fd = grace_stop_fd(st[i].s);
	CHECK(fd >= 0);
	CHECK(st[i].fd < 0 || st[i].fd == fd); /* one descriptor per stop */
	st[i].fd = fd;
}

static void op_event(struct input *in)
{
	unsigned b = take(in);
	struct sev *e = &evs[b % NEV];
	switch (take(in) % 6) {
	case 0:
		CHECK_RC(grace_event_init(&e->ev), 0);
		e->destroyed = e->set = false;
		break;
	case 1:
		CHECK_RC(grace_event_destroy(&e->ev), e->destroyed ? -EINVAL : 0);
		e->destroyed = true;
		break;
	case 2:
		CHECK_RC(grace_event_set(&e->ev), e->destroyed ? -EINVAL : 0);
		e->set = !e->destroyed;
		break;
	case 3:
		CHECK_RC(grace_event_clear(&e->ev), e->destroyed ? -EINVAL : 0);
		e->set = false;
		break;
	default: {
		/* Wait with a stop (or NULL) and a deadline past, or a little ahead. */
		int i = pick_stop(in);
		bool near = (take(in) & 1) && timed_left > 0;
		grace_deadline d = grace_now() - 1;
		if (near) {
			timed_left--;
			d = grace_now() + 200000;
		}
		int want;
		if (i >= 0 && st[i].req)
			want = -ECANCELED; /* a requested stop wins, even over a destroyed event */
		else if (e->destroyed)
			want = -EINVAL;
		else if (e->set)
			want = 0; /* completes at once, even with a past deadline */
		else
			want = -ETIMEDOUT;
		CHECK_RC(grace_event_wait(&e->ev, i >= 0 ? st[i].s : NULL, d), want);
		if (want == -ETIMEDOUT)
			CHECK(grace_now() >= d); /* never early */
		break;
	}
	}
}

/* Bad arguments of every kind: the documented code, and nothing changed
 * (check_all compares every object with the shadow afterwards). */
static struct grace_stop not_a_stop; /* zeroed: no magic, never made by grace_stop_new */

static void noop(void *arg)
{
	(void)arg;
}

static void op_misuse(struct input *in)
{
	int i = pick_stop(in);
	grace_stop *s = i >= 0 ? st[i].s : NULL;
	grace_stop_cb fresh = {0};
	grace_stop *out = (grace_stop *)&st;
	unsigned what = take(in);
	switch (what % 16) {
	case 0: CHECK_RC(grace_stop_new(NULL, s), -EINVAL); break;
	case 1:
		CHECK_RC(grace_stop_new(&out, &not_a_stop), -EINVAL);
		CHECK(out == (grace_stop *)&st);
		break;
	case 2: CHECK_RC(grace_stop_request(&not_a_stop, 1), -EINVAL); break;
	case 3: CHECK_RC(grace_stop_free(&not_a_stop), -EINVAL); break;
	case 4: CHECK_RC(grace_stop_set_deadline(&not_a_stop, 0), -EINVAL); break;
	case 5: CHECK_RC(grace_stop_fd(&not_a_stop), -EINVAL); break;
	case 6: CHECK_RC(grace_stop_on(&not_a_stop, &fresh, noop, NULL), -EINVAL); break;
	case 7:
		if (s != NULL)
			CHECK_RC(grace_stop_on(s, NULL, noop, NULL), -EINVAL);
		break;
	case 8:
		if (s != NULL)
			CHECK_RC(grace_stop_on(s, &fresh, NULL, NULL), -EINVAL);
		break;
	case 9: CHECK_RC(grace_stop_off(NULL), -EINVAL); break;
	case 10: CHECK_RC(grace_stop_try_off(NULL), -EINVAL); break;
	case 11: CHECK_RC(grace_stop_off(&fresh), 0); break; /* never registered */
	case 12:
		CHECK(!grace_stop_requested(NULL));
		CHECK(grace_stop_reason(NULL) == 0);
		CHECK(!grace_stop_requested(&not_a_stop));
		CHECK(grace_stop_reason(&not_a_stop) == 0);
		break;
	case 13:
		CHECK_RC(grace_event_init(NULL), -EINVAL);
		CHECK_RC(grace_event_destroy(NULL), -EINVAL);
		CHECK_RC(grace_event_set(NULL), -EINVAL);
		CHECK_RC(grace_event_clear(NULL), -EINVAL);
		CHECK(!grace_event_is_set(NULL));
		CHECK_RC(grace_event_wait(NULL, s, GRACE_FOREVER), -EINVAL);
		break;
	case 14: {
		/* Names for any code; reasons back to signals. */
		int code = take_int(in);
		const char *name = grace_strerror(code);
		CHECK(name != NULL && name[0] != '\0');
		int sig = take(in) % 65;
		if (sig > 0)
			CHECK(grace_reason_signal(GRACE_REASON_SIGNAL(sig)) == sig);
		CHECK(grace_reason_signal(code > 0 ? code : -code) == 0);
		CHECK(grace_reason_signal(GRACE_REASON_DEADLINE) == 0);
		break;
	}
	default: {
		/* Deadlines from any count saturate and never go back in time. */
		int64_t v = take_int(in);
		unsigned shift = take(in) % 48;
		int64_t ms = (int64_t)((uint64_t)v << shift);
		grace_deadline now = grace_now();
		grace_deadline d = grace_after_ms(ms);
		CHECK(d >= now);
		if (ms <= 0)
			CHECK(d - now < 1000000000);
		grace_deadline dn = grace_after_ns(ms);
		CHECK(dn >= now);
		break;
	}
	}
}

/* ---- one input ---- */

static void setup(void)
{
	memset(st, 0, sizeof st);
	for (int i = 0; i < NSTOP; i++)
		st[i].parent = st[i].fd = -1;
	for (int c = 0; c < NCB; c++) {
		cbs[c] = (struct scb){.on = -1};
		cbs[c].rec = calloc(1, sizeof *cbs[c].rec);
		CHECK(cbs[c].rec != NULL);
	}
	for (int e = 0; e < NEV; e++) {
		evs[e] = (struct sev){0};
		/* Zeroed memory is a valid clear event; half of them use init. */
		if (e % 2 == 0)
			CHECK_RC(grace_event_init(&evs[e].ev), 0);
	}
	timed_left = MAX_TIMED;
}

/* Take everything apart: every registered record comes off (answering 1),
 * then stops leaves first; each free must succeed. */
static void teardown(void)
{
	for (int c = 0; c < NCB; c++) {
		CHECK_RC(grace_stop_off(cbs[c].rec), cbs[c].on >= 0 ? 1 : 0);
		cbs[c].on = -1;
	}
	bool any = true;
	while (any) {
		any = false;
		for (int i = 0; i < NSTOP; i++) {
			if (st[i].s == NULL)
				continue;
			bool leaf = true;
			for (int j = 0; j < NSTOP; j++)
				leaf &= !(st[j].s != NULL && st[j].parent == i);
			if (!leaf) {
				any = true;
				continue;
			}
			CHECK_RC(grace_stop_free(st[i].s), 0);
			st[i].s = NULL;
		}
	}
	for (int c = 0; c < NCB; c++)
		free(cbs[c].rec);
	for (int e = 0; e < NEV; e++)
		CHECK_RC(grace_event_destroy(&evs[e].ev), evs[e].destroyed ? -EINVAL : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	setup();
	while (in.n > 0) {
		switch (take(&in) % 13) {
		case 0: op_new(&in); break;
		case 1: op_new(&in); break;
		case 2: op_request(&in); break;
		case 3: op_free(&in); break;
		case 4: op_deadline(&in); break;
		case 5: op_deadline_fires(&in); break;
		case 6: op_on(&in); break;
		case 7: op_off(&in, false); break;
		case 8: op_off(&in, true); break;
		case 9: op_fd(&in); break;
		case 10: op_event(&in); break;
		case 11: op_misuse(&in); break;
		default: op_new_enomem(&in); break;
		}
		check_all();
	}
	teardown();
	return 0;
}
