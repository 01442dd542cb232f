/* SPDX-License-Identifier: MIT */
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
#include <string.h>

/* Our own invariants (never a caller's mistake). Compiled out in release. */
#ifdef GRACE_DEBUG
#include <stdlib.h>
#define GRACE_ASSERT(x)                                                                                     \
	do {                                                                                                \
		if (!(x)) {                                                                                 \
			(void)fprintf(stderr, "grace: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
			              #x);                                                                  \
			abort();                                                                            \
		}                                                                                           \
	} while (0)
#else
#define GRACE_ASSERT(x) ((void)0)
#endif

/* After GRACE_ASSERT: a removal checks that the link is in the list. */
#include "list.h"

#define GRACE_LIKELY(x) __builtin_expect(!!(x), 1)
#define GRACE_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Lock and unlock a library mutex. A default mutex
 * fails only when it is not one (never initialised, or destroyed), which
 * is our own bug: checked in debug builds. */
static inline void grace__mutex_lock(pthread_mutex_t *m)
{
	int r = pthread_mutex_lock(m);
	GRACE_ASSERT(r == 0);
	(void)r;
}

static inline void grace__mutex_unlock(pthread_mutex_t *m)
{
	int r = pthread_mutex_unlock(m);
	GRACE_ASSERT(r == 0);
	(void)r;
}

/* ---- allocation (src/alloc.c) ---- */

/* Every allocation goes through these, so that tests can fail the Nth one:
 * setting grace__alloc_fail_countdown to n makes the nth allocation from
 * then on fail (once). Free with free(). */
extern _Atomic long grace__alloc_fail_countdown;
void *grace__malloc(size_t n);
void *grace__calloc(size_t n, size_t size);
void *grace__realloc(void *p, size_t n);
/* Aligned to `align` (0 or up to _Alignof(max_align_t): plain malloc);
 * size is rounded up to a multiple of align. */
void *grace__aligned_alloc(size_t align, size_t size);

/* ---- error names (src/error.c) ---- */

/* grace's own wording for `code` (the codes grace(7) lists), or NULL where
 * grace_strerror names it after the system. tests/errname.c asks it. */
const char *grace__strerror_own(int code);

/* ---- stop (src/stop.c) ---- */

/* Bits of grace_stop.flag.word. REQUESTED is the public bit 0. SLEEPERS and
 * OTHERS belong to the wake protocol, told in wait.c. FLAGGED, DONE and AWAITED
 * belong to the request (stop.c): every descendant's flag is set; the
 * request is over and never touches the stop again; someone sleeps on the
 * word until one of those two. All three are set only after REQUESTED. */
#define GRACE__STOP_REQUESTED 1u
#define GRACE__STOP_SLEEPERS 2u
#define GRACE__STOP_OTHERS 4u
#define GRACE__STOP_FLAGGED 8u
#define GRACE__STOP_DONE 16u
#define GRACE__STOP_AWAITED 32u

#define GRACE__STOP_MAGIC 0x53544f50u /* "STOP" */

struct grace_stop {
	struct grace__stop_flag flag; /* must stay first: grace_stop_requested reads it */
	uint32_t magic;
	_Atomic int reason;           /* written once, before REQUESTED (release) */
	pthread_mutex_t lock;         /* guards cbs, kids, fds, fd_gen, pins */
	struct grace__list cbs;       /* registered callbacks (grace__stop_cb.link), newest first */
	struct grace__list kids;      /* children, newest first */
	struct grace__link sib;       /* our link in the parent's kids, under its lock */
	int fds[2];                   /* grace_stop_fd, -1 until asked for */
	unsigned fd_gen;              /* the fork generation that made fds (stop.c) */
	unsigned pins;                /* signal routes to this stop: free answers -EBUSY */
	_Atomic(grace_stop *) parent; /* cleared under the lock (wait.c reads it there) */
	_Atomic uintptr_t sleeper;    /* grace__self_id() of the thread that set SLEEPERS */
	_Atomic uintptr_t claimer;    /* grace__self_id() of the request's thread */
	/* The request's own, from its claim to DONE (stop.c). */
	grace_stop *wnext;
	bool wcbs;
	/* The deadline timer's (timer.c), guarded by its lock. */
	int64_t deadline;
	struct grace__link tlink; /* in the timer's list, while `timed` */
	bool timed;
};

/* A callback record: what a grace_stop_cb really holds (stop.c). The public
 * type is opaque storage that this must fit in, checked below, so that the
 * record can change without changing the ABI. Zeroed storage is an idle
 * record (state 0, not in a list). */
struct grace__stop_cb {
	void (*fn)(void *arg);
	void *arg;
	grace_stop *stop;        /* where it is registered, while REGISTERED */
	struct grace__link link; /* in stop->cbs, under the stop's lock, while REGISTERED */
	_Atomic uint32_t state;  /* CB_* in stop.c: the one field read without a lock */
};

_Static_assert(sizeof(struct grace__stop_cb) <= sizeof(grace_stop_cb),
               "the callback record outgrew grace_stop_cb: raising GRACE_STOP_CB_WORDS changes the ABI");
_Static_assert(_Alignof(struct grace__stop_cb) <= _Alignof(grace_stop_cb),
               "the callback record needs more alignment than grace_stop_cb has");

static inline struct grace__stop_cb *grace__stop_cb_of(grace_stop_cb *cb)
{
	return (struct grace__stop_cb *)(void *)cb;
}

/* Raise REQUESTED in the stop's word and wake its sleepers (wait.c tells
 * the protocol); called once, by the winner of the reason's CAS. `self`:
 * the caller is itself a sleeper of s (grace__stop_help_locked), so no wake
 * is needed if it is the only one that ever announced itself. */
void grace__stop_raise(grace_stop *s, bool self);

/* A request that may carry grace's own (negative) reasons, run wholly in the
 * calling thread. 1 if it took effect, 0 if another request had. */
int grace__stop_request(grace_stop *s, int reason);

/* The same in two halves, for the deadline timer: begin claims the stop and
 * sets every descendant's flag (false: another request had it); if
 * callbacks remain to run, *out receives them for grace__stop_request_end,
 * which runs them in any thread and frees *out (NULL: nothing to do). */
struct grace__req;
bool grace__stop_request_begin(grace_stop *s, int reason, struct grace__req **out);
void grace__stop_request_end(struct grace__req *r);

/* Finish the requests the calling thread is running callbacks of (called
 * by grace_thread_exit, which may be called from inside one). */
void grace__stop_finish_requests(void);

/* Called with s->lock held by a waiter of s that found s's parent requested
 * before the parent's request reached s: if a request of s is only its flag
 * (no children, callbacks or descriptor), request s here with the parent's
 * reason and answer true; otherwise answer false and leave it to the
 * parent's requester. See wait.c. */
bool grace__stop_help_locked(grace_stop *s);

/* Cut the link from s to its parent once the parent is requested (s is
 * then requested too), so that the parent can be freed while s lives on:
 * an abandoned thread's stop (thread.c). */
void grace__stop_detach(grace_stop *s);

/* Count a signal route to s (+1, -1): grace_stop_free refuses a pinned stop. */
int grace__stop_pin(grace_stop *s, int delta);

/* ---- the deadline timer (src/timer.c) ---- */

/* Arm (d) or disarm (GRACE_FOREVER) s's deadline; 0 or -EAGAIN. */
int grace__timer_set(grace_stop *s, int64_t d);

/* Disarm s's deadline; with `wait_firing`, also wait until the timer is no
 * longer requesting s (grace_stop_free). */
void grace__timer_remove(grace_stop *s, bool wait_firing);

/* Start a background thread (the timer, a deadline's callbacks, the signal
 * thread) with every signal blocked and the default stack: detached, or
 * joinable into *joinable. 0 or -EAGAIN. */
int grace__start_background(void *(*fn)(void *), void *arg, pthread_t *joinable);

static inline bool grace__stop_live(const grace_stop *s)
{
	return s != NULL && s->magic == GRACE__STOP_MAGIC;
}

/* ---- the wait core (src/wait.c) ---- */

/* What a waiting call says it is blocked on, for reports: the operation,
 * the object's name (or NULL), and when the call first slept (0 until it
 * does). One per call, kept across the call's re-sleeps, so that a spurious
 * wake-up does not restart the time a report gives. */
struct grace__site {
	const char *op;
	const char *name;
	int64_t since;
};

/* Sleep while *w == val, until the stop is requested or the deadline passes.
 * Spins briefly first. Returns 0 when *w changed or on a spurious wake-up
 * (the caller re-checks its own condition), -ECANCELED when the stop is
 * requested, -ETIMEDOUT at the deadline. The calling thread's record names
 * `site` only while it really sleeps. */
int grace__wait(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d, struct grace__site *site);

/* Spin briefly (the policy is in wait.c) until *w != val or the stop is
 * requested: true if either happened, false if the spin ran out. */
bool grace__spin(_Atomic uint32_t *w, uint32_t val, grace_stop *stop);

/* As grace__wait, without the spin: for waits that expect nothing to change
 * the word soon (grace_sleep), where spinning would only burn CPU. */
int grace__wait_nospin(_Atomic uint32_t *w, uint32_t val, grace_stop *stop, int64_t d,
                       struct grace__site *site);

/* For tests only: make `e` the sleep engine and clock of the process, or,
 * with NULL, put back the one chosen at load. Call it with no thread
 * inside grace (none asleep, none about to be, no timer or signal thread
 * busy): sleepers of one engine are never woken by another. A test's
 * engine lets it decide when each sleeper wakes and what time it is, and
 * so replay a race in an exact order (tests/engine_test.c). The timer
 * thread (grace_stop_set_deadline) and the I/O waits keep the system's
 * clock. */
void grace__engine_install(const struct grace__engine *e);

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

/* A number that tells the calling thread from every other live thread: the
 * address of a thread-local byte (a dead thread's may come back). */
extern _Thread_local char grace__id_anchor;
static inline uintptr_t grace__self_id(void)
{
	return (uintptr_t)&grace__id_anchor;
}

/* Record that the calling thread is blocked in `op` on `name` since `since`
 * (0: since now); returns the time recorded. */
int64_t grace__blocked_begin(const char *op, const char *name, int64_t since);
void grace__blocked_end(void);

/* Read a record consistently (from any thread). */
void grace__blocked_read(struct grace__blocked *b, const char **op, const char **name, int64_t *since);

/* What the record's thread is blocked in now, or NULL (tests wait on it). */
static inline const char *grace__blocked_op(struct grace__blocked *b)
{
	const char *op, *name;
	int64_t since;
	grace__blocked_read(b, &op, &name, &since);
	return op;
}

/* ---- queue (src/queue.c) ---- */

/* Test hook: called, when set, by a bounded put (side 0) or get (side 1)
 * between claiming its position and publishing its slot, and by a put
 * (side 2) or get (side 3) at the start of its pre-sleep spin. */
typedef void (*grace__queue_hook_fn)(int side);
extern _Atomic(grace__queue_hook_fn) grace__queue_claim_hook;

/* ---- waiter lists (src/word.c) ---- */

/* A waiter's record on a list of waiters for a key (an object's address),
 * on the waiting thread's stack: grace_wait_word and grace_cond_wait.
 * word.c tells the protocol. */
struct grace__waiter {
	struct grace__link link; /* in the key's bucket, under its lock */
	const void *key;
	_Atomic uint32_t state; /* TAKEN (by a waker), SLEEPING (by the waiter) */
};

/* Link w as the newest waiter on `key`. With `word`, first check under the
 * bucket's lock (after a seq_cst fence) that *word == expected: -EAGAIN,
 * not linked, when it differs. *count, when not NULL, counts the records
 * linked for the object (raised here, lowered by take and leave). 0. */
int grace__wlist_link(struct grace__waiter *w, const void *key, _Atomic uint32_t *word, uint32_t expected,
                      _Atomic uint32_t *count);

/* Whether a waker has taken w off its list (acquire). */
bool grace__wlist_taken(struct grace__waiter *w);

/* Sleep until w is taken (0), the stop is requested (-ECANCELED), `d`
 * passes (-ETIMEDOUT), or spuriously (0): check grace__wlist_taken. */
int grace__wlist_sleep(struct grace__waiter *w, grace_stop *stop, grace_deadline d, struct grace__site *site);

/* Take w off its list unless a waker did: true if we did, false if it was
 * taken (the caller then owns a wake-up). After it, w may go. */
bool grace__wlist_leave(struct grace__waiter *w, _Atomic uint32_t *count);

/* Take up to n waiters of `key` off its list, oldest first, and wake those
 * that sleep; the number taken. No system call for a waiter still spinning. */
int grace__wlist_take(const void *key, int n, _Atomic uint32_t *count);

/* For tests: the records linked for `key` now (with `asleep`, only those
 * whose waiter said it sleeps), read under the lock. */
int grace__word_waiters(const void *key, bool asleep);

/* ---- threads (src/thread.c) ---- */

/* Bits of grace_thread.state (see thread.c for the protocol). */
#define GRACE__T_EXITED 1u    /* fn and the handlers are done; result is valid */
#define GRACE__T_WAITING 2u   /* a joiner may sleep on the word: wake it */
#define GRACE__T_BUSY 4u      /* a join or an abandon owns the handle now */
#define GRACE__T_ABANDONED 8u /* the handle was given up */
#define GRACE__T_RELEASED 16u /* the thread will not touch its state again */

#define GRACE__THREAD_MAGIC 0x54485244u /* "THRD" */

struct grace__defer {
	void (*fn)(void *arg);
	void *arg;
};

/* A thread's place in its group: embedded in the thread, which never
 * touches it; group.c owns it, under the group's lock. */
struct grace__member {
	struct grace__link link; /* in the group's members, spawn order */
	grace_thread *thread;
};

/* The fields are thread.c's (and its test's): every other file goes through
 * the functions below, and group.c through `member` alone. */
struct grace_thread {
	_Atomic uint32_t magic; /* cleared when the state is freed */
	_Atomic uint32_t state; /* GRACE__T_* bits */
	grace_thread_fn fn;
	void *arg;
	grace_stop *stop; /* the thread's own stop, a child of the parent */
	pthread_t tid;
	struct grace__blocked blocked; /* what the thread is blocked on */
	int result;                    /* written before EXITED (release) */
	int64_t exit_ns;               /* when it exited; written before EXITED */
	bool finishing;                /* the thread's own: its way out has begun */
	bool finished;                 /* the thread's own: its handlers are done, the bookkeeping begun */
	struct grace_group *reporting; /* the thread's own: the group its failure report pinned */
	struct grace_group *home;      /* fixed at start: the group that owns the handle */
	/* Cleanup handlers, a stack: the thread's own, no lock. */
	struct grace__defer *defers;
	size_t ndefers, capdefers;
	struct grace__defer inline_defers[4];
	struct grace__link rlink; /* in the registry of live threads, under its lock */
	/* `group` is the link to the group that the exit reports to, guarded
	 * by `lock` (the exit path reads it, an abandon clears it). */
	pthread_mutex_t lock;
	struct grace_group *group;
	struct grace__member member; /* group.c's */
	char name[];                 /* the full name */
};

/* Thread states allocated and not yet freed (for tests; see thread.c). */
extern _Atomic long grace__thread_states;

/* Check options (NULL: the defaults) and give the stack size they ask for,
 * rounded up to the page size: 0, or -EINVAL for bad ones. */
int grace__thread_opts_check(const grace_thread_opts *opts, size_t *stack);

/* Start a thread; with `g`, as a member of that group (the caller holds the
 * group's lock and links grace__thread_member(*out) into its members). */
int grace__thread_start(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                        grace_stop *parent, const grace_thread_opts *opts, struct grace_group *g);

/* Join a thread whose EXITED bit has been seen, store its result and exit
 * time, and free it. Never fails; waits at most for the last microseconds of
 * the thread's way out. */
void grace__thread_reap(grace_thread *t, int *result, int64_t *exit_ns);

/* Give a thread up (it frees itself when it ends), cutting its group link
 * first, so that it never touches the group afterwards. */
void grace__thread_release(grace_thread *t);

/* What the thread's group may know of it, valid while the caller owns the
 * handle (a group: while the member is on its list or taken off it and not
 * yet reaped or released). */
const char *grace__thread_name(const grace_thread *t);
struct grace__member *grace__thread_member(grace_thread *t);
/* The group the thread was started in (NULL: none); fixed at start. */
struct grace_group *grace__thread_home(const grace_thread *t);
/* Whether it has exited; an acquire, after which grace__thread_outcome
 * reads its result and exit time (CLOCK_MONOTONIC ns). */
bool grace__thread_exited(const grace_thread *t);
void grace__thread_outcome(const grace_thread *t, int *result, int64_t *exit_ns);
/* What it is blocked on, and since when (see grace__blocked_read). */
void grace__thread_blocked(grace_thread *t, const char **op, const char **on, int64_t *since);

/* Walk the registry of live grace threads: between lock and unlock,
 * next(NULL) gives the newest and next(t) the one started before t, NULL at
 * the end. Hold nothing else meanwhile (the registry lock is taken alone or
 * under a group's lock). */
void grace__threads_lock(void);
grace_thread *grace__threads_next(grace_thread *t);
void grace__threads_unlock(void);

/* ---- groups (src/group.c) ---- */

struct grace_group {
	_Atomic uint32_t magic;
	grace_stop *stop;
	pthread_mutex_t lock;       /* guards the members, shutting_down and the outcome */
	struct grace__list members; /* struct grace__member, in spawn order */
	size_t nmembers;
	bool shutting_down;
	_Atomic uint32_t word;    /* members running: a spawn raises it, an exit lowers it */
	_Atomic uint32_t waiters; /* callers that may sleep on word */
	/* Members between grace__group_pin and the end of their failure
	 * report: grace_group_free waits for 0 (it sleeps on the word when
	 * `freeing`). Raised under the member's lock, lowered under ours. */
	_Atomic uint32_t pins;
	bool freeing;
	/* The outcome grace_group_wait gives, under the lock. */
	int first_result; /* the first non-zero result, 0 until then */
	char *failed;     /* that member's name (in failed_buf), NULL until then */
	char *failed_buf; /* room for the longest member name, reserved at spawn */
	size_t failed_cap;
	size_t abandoned; /* members a shutdown gave up at its deadline */
	char name[];
};

/* What a member's way out tells its group (thread.c calls these; no other
 * field of the group is the thread's business). */

/* Called by an exiting member with its group link held: count the exit in
 * the group's word. */
void grace__group_member_exited(struct grace_group *g);

/* Called by a member with its group link held, on its way out with a
 * non-zero result: keep the group alive until grace__group_member_failed
 * returns, even if a shutdown gives the member up meanwhile. */
void grace__group_pin(struct grace_group *g);

/* Called by a pinned member, holding no lock and still known to itself as
 * a member: record `result` and `name` if they are the group's first
 * failure and, if so, request the group's stop (running the callbacks on
 * it). The member then unpins. */
void grace__group_member_failed(struct grace_group *g, const char *name, int result);

/* Drop a member's pin; the member must not touch `g` afterwards. */
void grace__group_unpin(struct grace_group *g);

/* Called by the abandon of a member that has not exited, link held. */
void grace__group_member_abandoned(struct grace_group *g);

/* ---- reports (src/report.c) ---- */

struct grace_report {
	char *group;        /* the group's name */
	int reason;         /* the shutdown's reason */
	int64_t elapsed_ns; /* from the shutdown call to its return */
	size_t count, cap;
	grace_report_entry *entries; /* stragglers first, then in exit order */
};

/* Print every live grace thread, one line each: its name and what it is
 * blocked on, since when. Used by the signal escalation (outside any signal
 * handler). */
void grace__threads_print(FILE *f);

/* A new empty report with room for `cap` entries; NULL when out of memory. */
grace_report *grace__report_new(const char *group, int reason, size_t cap);

/* Append an entry, copying its strings. 0 or -ENOMEM (nothing added). */
int grace__report_add(grace_report *r, const grace_report_entry *e);

/* Put the stragglers first (in spawn order), then the others by stop time. */
void grace__report_finish(grace_report *r, int64_t elapsed_ns);

/* ---- descriptors (src/io.c) ---- */

#include <poll.h>

/* Wait until one of p[0..n-1] is ready, the stop is requested or `d` passes,
 * in ppoll(2); `op` names the wait in the calling thread's record. `p` has
 * room for n + 1 entries: the stop's wake descriptor goes in p[n]. Returns
 * the count of ready entries among the first n (revents filled in), which
 * wins over the stop when both are ready; -ECANCELED; -ETIMEDOUT; the
 * stop's descriptor's error (-EMFILE, ...); another error of ppoll. EINTR
 * is retried against the same absolute deadline. */
int grace__poll(struct pollfd *p, nfds_t n, grace_stop *stop, int64_t d, const char *op);

/* ---- child processes (src/proc.c) ---- */

/* For tests: when set, grace_waitpid finds pidfd_open missing, as on a
 * kernel older than 5.3 (without remembering it), and takes the watcher
 * path. The counts are of watcher threads started and still waiting. */
extern _Atomic bool grace__waitpid_no_pidfd;
extern _Atomic long grace__waitpid_watchers_started;
extern _Atomic long grace__waitpid_watchers_live;

#endif /* GRACE_INTERNAL_H */
