/*
 * internal.h - declarations shared between grace's source files. Nothing
 * here is API. Non-static internal names carry the grace__ prefix.
 */
#ifndef GRACE_INTERNAL_H
#define GRACE_INTERNAL_H

#include "grace.h"
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Our own invariants (never a caller's mistake). Compiled out in release. */
#ifdef GRACE_DEBUG
#include <stdlib.h>
#define GRACE_ASSERT(x)                                                                      \
	do {                                                                                 \
		if (!(x)) {                                                                  \
			fprintf(stderr, "grace: invariant failed at %s:%d: %s\n", __FILE__, \
			        __LINE__, #x);                                               \
			abort();                                                             \
		}                                                                            \
	} while (0)
#else
#define GRACE_ASSERT(x) ((void)0)
#endif

#define GRACE_LIKELY(x) __builtin_expect(!!(x), 1)
#define GRACE_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- stop (src/stop.c) ---- */

/* Bits of grace_stop.flag.word. REQUESTED is the public bit 0; SLEEPERS is
 * set by a waiter before it sleeps on the word with futex_waitv, so that a
 * request knows whether the wake system call is needed (see wait.c). */
#define GRACE__STOP_REQUESTED 1u
#define GRACE__STOP_SLEEPERS 2u

#define GRACE__STOP_MAGIC 0x53544f50u /* "STOP" */

struct grace_stop {
	struct grace__stop_flag flag; /* must stay first: grace_stop_requested reads it */
	uint32_t magic;
	_Atomic int reason; /* written once, before REQUESTED (release) */
	pthread_mutex_t lock; /* guards everything below */
	grace_stop_cb *cbs;   /* registered callbacks, newest first */
	pthread_t runner;     /* the thread running callbacks, when running */
	bool running;
	int fds[2]; /* grace_stop_fd, -1 until asked for */
	grace_stop *parent;
	grace_stop_cb parent_cb; /* our link in the parent's callbacks */
	_Atomic int children;
	/* The deadline timer's list (src/stop.c), guarded by its lock. */
	int64_t deadline;
	grace_stop *tnext, *tprev;
	bool timed;
};

/* A request that may carry grace's own (negative) reasons. */
int grace__stop_request(grace_stop *s, int reason);

static inline bool grace__stop_live(const grace_stop *s)
{
	return s != NULL && s->magic == GRACE__STOP_MAGIC;
}

/* ---- the wait core (src/wait.c) ---- */

/* Sleep while *w == val, until the stop is requested or the deadline passes.
 * Spins briefly first. Returns 0 when *w changed or on a spurious wake-up
 * (the caller re-checks its own condition), -ECANCELED when the stop is
 * requested, -ETIMEDOUT at the deadline. `op` and `name` say what the
 * calling thread is blocked on, for reports; they are recorded only when the
 * thread really sleeps. */
int grace__wait(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d, const char *op,
                const char *name);

/* As grace__wait, without the spin: for waits that expect nothing to change
 * the word soon (grace_sleep), where spinning would only burn CPU. */
int grace__wait_nospin(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d, const char *op,
                       const char *name);

/* Wake up to n sleepers of grace__wait on w (INT32_MAX: all). */
static inline void grace__wake(_Atomic uint32_t *w, int n)
{
	grace__os_wake(w, n);
}

/* What a grace thread is blocked on, read by reports from other threads.
 * `seq` is odd while the record is being written. */
struct grace__blocked {
	_Atomic uint32_t seq;
	_Atomic(const char *) op;   /* NULL: running its own code */
	_Atomic(const char *) name; /* the object's name, or NULL */
	_Atomic int64_t since;      /* CLOCK_MONOTONIC ns */
};

/* The calling thread's record, or NULL outside a grace thread. */
extern _Thread_local struct grace__blocked *grace__self_blocked;

void grace__blocked_begin(const char *op, const char *name);
void grace__blocked_end(void);

/* Read a record consistently (from any thread). */
void grace__blocked_read(struct grace__blocked *b, const char **op, const char **name, int64_t *since);

/* ---- threads (src/thread.c) ---- */

/* Print every live grace thread, one line each: its name and what it is
 * blocked on, since when. Used by the signal escalation (outside any signal
 * handler). */
void grace__threads_print(FILE *f);

#endif /* GRACE_INTERNAL_H */
