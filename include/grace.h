/* SPDX-License-Identifier: MIT */
/*
 * grace.h - stop worker threads safely, promptly and completely.
 *
 * This header is the whole public contract of the library. Every function
 * documents what it does, what it returns, its errors, whether it may block
 * and who owns what afterwards. What is not declared here is not API.
 *
 * Conventions used throughout:
 *  - Results are 0 (or a count, for I/O) on success and a negative errno on
 *    failure; grace never sets errno. grace_strerror() names every code.
 *  - Every blocking call takes a stop (NULL: never stopped) and an absolute
 *    CLOCK_MONOTONIC deadline in nanoseconds (GRACE_FOREVER: none). A
 *    deadline already in the past, however far (INT64_MIN and any negative
 *    value too), turns the call into a try: it completes if it can do so at
 *    once and answers -ETIMEDOUT otherwise.
 *  - Precedence: a stop that is already requested wins. The call answers
 *    -ECANCELED without touching its object.
 *  - Bad arguments answer -EINVAL with nothing changed; nothing aborts on a
 *    caller's mistake.
 */
#ifndef GRACE_H
#define GRACE_H

#include <errno.h> /* the codes grace returns, negated: -ECANCELED, -ETIMEDOUT, ... */
#include <poll.h>  /* struct pollfd, nfds_t: grace_poll_many */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#define GRACE_VERSION_MAJOR 0
#define GRACE_VERSION_MINOR 2
#define GRACE_VERSION_PATCH 0
#define GRACE_VERSION_STRING "0.2.0"

#if defined(GRACE_BUILDING) && defined(__GNUC__)
#define GRACE_API __attribute__((visibility("default")))
#else
#define GRACE_API
#endif

#ifdef __cplusplus
#define GRACE__ATOMIC(T) T
extern "C" {
#else
#include <stdatomic.h>
#define GRACE__ATOMIC(T) _Atomic T
#endif

/* ------------------------------------------------------------------------
 * Time and results
 * ------------------------------------------------------------------------ */

/* An absolute point on CLOCK_MONOTONIC, in nanoseconds. Absolute deadlines
 * let retries and multi-step operations share one budget: nothing stretches
 * the total wait. */
typedef int64_t grace_deadline;

/* No deadline at all. */
#define GRACE_FOREVER INT64_MAX

/* The current CLOCK_MONOTONIC time in nanoseconds. Never blocks. */
GRACE_API grace_deadline grace_now(void);

/* The deadline `ms` milliseconds from now, saturating at GRACE_FOREVER. A
 * negative count is now (a try). Never blocks. */
GRACE_API grace_deadline grace_after_ms(int64_t ms);

/* The deadline `ns` nanoseconds from now, saturating at GRACE_FOREVER. A
 * negative count is now. Never blocks. */
GRACE_API grace_deadline grace_after_ns(int64_t ns);

/* A constant string naming `code` (a negative errno, or 0): grace's own
 * wording for the codes grace answers by itself (-ETIMEDOUT: "deadline
 * passed"), the system's meaning for every other errno value. A positive
 * code, or one that is no errno value, is "unknown error". Never returns
 * NULL; static strings, callable from any thread. */
GRACE_API const char *grace_strerror(int code);

/* The version of the library the program runs with, as "MAJOR.MINOR.PATCH":
 * GRACE_VERSION_STRING of the grace.h it was built from, which may differ
 * from the one the program was compiled against (a shared library updated
 * since). While the major version is 0, each minor version may change the
 * API and the ABI (CHANGELOG.md says how), and the shared library's soname
 * carries it (libgrace.so.0.2). Never NULL; never blocks. */
GRACE_API const char *grace_version(void);

/* ------------------------------------------------------------------------
 * Stop reasons
 *
 * A reason is an int. Positive values belong to the caller; grace's own are
 * negative. 0 means "not requested".
 * ------------------------------------------------------------------------ */

/* The stop's deadline (grace_stop_set_deadline) passed. */
#define GRACE_REASON_DEADLINE (-1)
/* A sibling in the same group returned non-zero. */
#define GRACE_REASON_SIBLING_FAILED (-2)
/* Signal `signo` was routed to the stop (grace_signals_route). */
#define GRACE_REASON_SIGNAL(signo) (-1000 - (signo))

/* The signal number carried by `reason`, or 0 if it is not a signal reason. */
GRACE_API int grace_reason_signal(int reason);

/* ------------------------------------------------------------------------
 * Stop: a flag that many threads watch, done right
 * ------------------------------------------------------------------------ */

typedef struct grace_stop grace_stop;

/* The first member of every stop: the only part of it this header shows, so
 * that grace_stop_requested() can be a single inline load. Bit 0 is the
 * request; the other bits belong to the library. */
struct grace__stop_flag {
	GRACE__ATOMIC(uint32_t) word;
};

/* Create a stop, not requested, as a child of `parent` (may be NULL). A child
 * is requested when its parent is, with the parent's reason; made under a
 * parent already requested, it starts requested. The parent must outlive its
 * children: grace_stop_free() refuses a parent that still has any.
 * Returns 0 and stores the stop in *out; -EINVAL if `out` is NULL or `parent`
 * is not a live stop; -ENOMEM. Never blocks. The caller owns *out. */
GRACE_API int grace_stop_new(grace_stop **out, grace_stop *parent);

/* Free a stop. NULL is a no-op answering 0. Safe as soon as the caller has
 * seen the stop requested: if a request is still running (its callbacks, in
 * the requesting thread), it waits for that request to finish first. Returns
 * -EBUSY, freeing nothing, while the stop has live children, callbacks
 * registered on a stop not requested, signals routed to it
 * (grace_signals_route), or when called from inside the request that is
 * requesting it (a callback of that request); -EINVAL if `s` is not a live
 * stop (detected while its memory is still valid). Must not be called while
 * a thread is blocked on the stop. Blocks only while a request of the stop
 * runs in another thread. */
GRACE_API int grace_stop_free(grace_stop *s);

/* Request the stop with `reason` (> 0). Idempotent: returns 1 for the one
 * request that took effect and 0 for every later one; the first reason
 * sticks. The request first sets the flag of the stop and of every
 * descendant, wakes every call blocked on them and makes their
 * grace_stop_fd() readable; then it runs the registered callbacks in the
 * calling thread, the descendants' before the stop's own. It uses bounded
 * stack whatever the depth of the tree. When it returns (with 1 or 0),
 * grace_stop_requested() is true for the stop and every descendant in every
 * thread that looks, even when another thread is requesting a stop in
 * between at that moment (its callbacks then run in that thread). Errors:
 * -EINVAL for NULL, a dead stop or reason <= 0. Does not block apart from
 * running callbacks. */
GRACE_API int grace_stop_request(grace_stop *s, int reason);

/* Whether the stop has been requested: one atomic load (acquire), inline.
 * NULL is a stop never requested. Callable from any thread; never blocks.
 * Once true it stays true, and grace_stop_reason() is then non-zero. */
static inline bool grace_stop_requested(const grace_stop *s)
{
	/* NULL reads a flag that is never set: no branch in the caller's loop,
	 * so a compiler can keep the check to the one load. */
	static const struct grace__stop_flag never = {0};
	const struct grace__stop_flag *f =
		s != NULL ? (const struct grace__stop_flag *)(const void *)s : &never;
#ifdef __cplusplus
	return (__atomic_load_n(&f->word, __ATOMIC_ACQUIRE) & 1u) != 0;
#else
	/* Pairs with the release in grace_stop_request: the reason is visible. */
	return (atomic_load_explicit(&f->word, memory_order_acquire) & 1u) != 0;
#endif
}

/* The reason of the request that took effect; 0 while not requested and for
 * NULL. Never blocks. */
GRACE_API int grace_stop_reason(const grace_stop *s);

/* Make the stop request itself, with GRACE_REASON_DEADLINE, at `d`, whether
 * or not anyone is blocked on it. One process-wide timer thread serves every
 * deadline (started on first use; it sleeps without waking while there is
 * nothing to do). A later call replaces the deadline; GRACE_FOREVER removes
 * it; a deadline already past requests the stop at once. At the deadline
 * the timer thread sets the flags and wakes the waiters itself and runs the
 * callbacks, if any, in a thread of their own with the system's default
 * stack, so one slow callback delays no other deadline. Deadlines keep
 * working in a child made by fork(): pending ones fire there too (a stop
 * whose request was in progress in another thread at the fork stays
 * unfinished in the child). Returns 0; -EINVAL for NULL or a dead stop;
 * -EAGAIN if the timer thread could not be started. Never blocks. */
GRACE_API int grace_stop_set_deadline(grace_stop *s, grace_deadline d);

/* A stop callback record, owned by the caller (embed it or keep it on the
 * stack). Its contents are private: it is opaque storage, sized and aligned
 * to hold the library's own record with room to spare, so that the record
 * can grow without changing this type.
 *
 * Size and ABI: GRACE_STOP_CB_WORDS pointer-sized words (96 bytes on 64-bit
 * systems, 48 on 32-bit ones), aligned for both a pointer and an int64_t.
 * The library checks at compile time that its record fits. The size and
 * the alignment are part of the ABI: they change only in a release that may
 * change the ABI (a new minor version while the major version is 0, and
 * CHANGELOG.md says so), never in a patch release. Do not read or write the
 * storage; take its size with sizeof.
 *
 * Zero it (= {0}) before its first use: zeroed memory is an idle record;
 * leftover memory may look like a registered record and be refused with
 * -EINVAL. After grace_stop_off() (or a successful grace_stop_try_off())
 * it is idle again and may be reused or freed. */
#define GRACE_STOP_CB_WORDS 12

#if defined(__GNUC__)
/* Callers touch the storage only as this type (zeroing it); the library
 * reads it as its own record. may_alias keeps type-based alias analysis
 * from separating the two, even across link-time inlining. */
#define GRACE__MAY_ALIAS __attribute__((__may_alias__))
#else
#define GRACE__MAY_ALIAS
#endif

typedef struct GRACE__MAY_ALIAS grace_stop_cb {
	union {
		void *words[GRACE_STOP_CB_WORDS];
		int64_t align_; /* 8-byte alignment on 32-bit systems too */
	} private_;
} grace_stop_cb;

/* Register `fn(arg)` to run once when `s` is requested. If `s` already is,
 * fn runs at once in the caller and the call returns 1; otherwise it returns
 * 0 and fn will run in the thread that requests the stop (for a deadline: a
 * thread of the timer's, with the system's default stack). `cb` must stay
 * valid until grace_stop_off() (or a successful grace_stop_try_off()) has
 * answered; fn itself may call grace_stop_off(cb) and then free the record,
 * or register it again elsewhere. Errors: -EINVAL for NULL arguments, a dead
 * stop, or a record that is already registered; -EBUSY for a record whose
 * fn is running (unless fn itself removed it first). Never blocks apart from
 * running fn. */
GRACE_API int grace_stop_on(grace_stop *s, grace_stop_cb *cb, void (*fn)(void *arg), void *arg);

/* Remove a callback. Returns 1 if it was removed before it ran (it never
 * will); 0 if it has run, or was never registered. If fn is running in
 * another thread, waits for it to return first, whether or not fn removes
 * its own record meanwhile; called from inside fn itself it returns at once.
 * After it returns the record may be freed or reused, and the stop is not
 * touched once fn has run (it may have been freed). Because it may wait for
 * fn, do not call it while holding a lock that fn takes: use
 * grace_stop_try_off() there. Errors: -EINVAL for NULL. */
GRACE_API int grace_stop_off(grace_stop_cb *cb);

/* As grace_stop_off(), but never waits: answers -EBUSY while fn runs in
 * another thread (the record stays in use; try again later). */
GRACE_API int grace_stop_try_off(grace_stop_cb *cb);

/* A file descriptor that becomes readable (and stays readable) once the stop
 * is requested, for poll/epoll loops. It belongs to the stop: do not read it
 * or close it; it is closed by grace_stop_free(). Created on first call
 * (Linux: an eventfd; elsewhere: a pipe), non-blocking and close-on-exec
 * from the moment it exists (where the system has pipe2). In a child made by
 * fork() the stop's descriptor is the child's own: the first call there
 * makes a new one (the inherited copy is closed, never signalled), so a
 * request in the parent does not reach the child's stop or its waits.
 * Returns the descriptor; -EINVAL for NULL or a dead stop; -EMFILE, -ENFILE
 * or -ENOMEM from the system. */
GRACE_API int grace_stop_fd(grace_stop *s);

/* ------------------------------------------------------------------------
 * Event: threading.Event
 * ------------------------------------------------------------------------ */

/* An event, owned and embedded by the caller. Zeroed memory and
 * GRACE_EVENT_INIT are valid clear events. Fields are private. */
typedef struct grace_event {
	GRACE__ATOMIC(uint32_t) word;
	GRACE__ATOMIC(uint32_t) waiters; /* threads that may sleep */
	GRACE__ATOMIC(uint32_t) inside;  /* threads inside grace_event_wait */
} grace_event;

/* clang-format off */
#define GRACE_EVENT_INIT {0, 0, 0}
/* clang-format on */

/* Initialise (or re-initialise a destroyed) event as clear. -EINVAL for
 * NULL. Must not be called while the event is in use. */
GRACE_API int grace_event_init(grace_event *ev);

/* Destroy an event. Returns -EBUSY while a thread waits on it (from the
 * moment its grace_event_wait finds the event clear until it returns, the
 * spin before it sleeps included; nothing changes); -EINVAL for NULL or an
 * event already destroyed. Afterwards every call on it but grace_event_init
 * answers -EINVAL (is_set answers false). */
GRACE_API int grace_event_destroy(grace_event *ev);

/* Set the event and wake every waiter. Idempotent. -EINVAL for NULL or a
 * destroyed event. Never blocks. */
GRACE_API int grace_event_set(grace_event *ev);

/* Clear the event. A waiter that was already woken by an earlier set still
 * returns 0. -EINVAL for NULL or a destroyed event. Never blocks. */
GRACE_API int grace_event_clear(grace_event *ev);

/* Whether the event is set (false for NULL or a destroyed event). */
GRACE_API bool grace_event_is_set(const grace_event *ev);

/* Wait until the event is set, the stop is requested, or the deadline
 * passes. Returns 0 if the event is set, or was set at any moment after the
 * call began (a set followed at once by a clear is not missed); -ECANCELED
 * if the stop was requested first (or already); -ETIMEDOUT; -EINVAL for NULL,
 * a destroyed event or a stop that is not one (checked first: nothing is
 * touched). Blocks (a brief spin, then asleep in the kernel). */
GRACE_API int grace_event_wait(grace_event *ev, grace_stop *stop, grace_deadline d);

/* ------------------------------------------------------------------------
 * Queue: queue.Queue with a shutdown that loses nothing
 * ------------------------------------------------------------------------ */

typedef struct grace_queue grace_queue;

/* Shutdown modes (grace_queue_shutdown). */
#define GRACE_SHUTDOWN_DRAIN 1
#define GRACE_SHUTDOWN_IMMEDIATE 2

/* Create a queue of `void *` items holding at most `capacity` items exactly
 * (0: unbounded). A bounded queue is a lock-free ring: puts and gets that
 * need not wait take no lock and make no system call. An unbounded queue
 * keeps a growable ring under a mutex (puts then never wait, but may answer
 * -ENOMEM). Returns 0 and stores the queue in *out (the caller owns it and
 * frees it with grace_queue_free or grace_queue_free_items); -EINVAL for
 * NULL `out`; -ENOMEM, also for a capacity too large to allocate. Never
 * blocks. */
GRACE_API int grace_queue_new(grace_queue **out, size_t capacity);

/* Name the queue for reports: a thread blocked in a queue call is reported
 * as blocked in "queue_get", "queue_put", "queue_join" or "queue_drain" on
 * this name. The name is copied; renaming keeps earlier copies until the
 * queue is freed, so a report never reads freed memory. Returns 0; -EINVAL
 * for NULL arguments or a freed queue; -ENOMEM (the old name stays).
 * Thread-safe; never blocks. */
GRACE_API int grace_queue_set_name(grace_queue *q, const char *name);

/* Append `item` (any value, NULL included), waiting while the queue is full
 * until there is room, `stop` is requested or deadline `d` passes
 * (GRACE_FOREVER: no deadline; a deadline already past makes a try).
 * Returns 0: the queue owns the item. Errors, in order of precedence:
 * -EINVAL (NULL or freed queue, freed stop); -ECANCELED when the stop is
 * requested, before the call or while it waits, even if the queue is also
 * shut down; -ESHUTDOWN after any shutdown; -ETIMEDOUT when it would have to
 * wait past `d`; -ENOMEM (unbounded queue only). A put that fails did not
 * enqueue: the item stays with the caller. Puts from one thread are got in
 * the order they were put. A blocked put is woken by the get that frees its
 * slot (one slot wakes one putter), by its stop, or by a shutdown.
 * Thread-safe; blocks only while full (a brief spin, then asleep in the
 * kernel, woken directly, never by polling). */
GRACE_API int grace_queue_put(grace_queue *q, void *item, grace_stop *stop, grace_deadline d);

/* Take the oldest item into *item, waiting while the queue is empty until
 * an item arrives, `stop` is requested or `d` passes (a past deadline makes
 * a try). Returns 0: the caller owns the item (count it with
 * grace_queue_task_done when processed, if anyone joins). Errors: -EINVAL
 * (NULL queue or `item`, freed queue or stop); -ECANCELED (stop wins over
 * items and shutdown); -ESHUTDOWN after GRACE_SHUTDOWN_DRAIN once the queue
 * is empty, after GRACE_SHUTDOWN_IMMEDIATE at once; -ETIMEDOUT. A get that
 * fails took nothing and leaves *item alone. One item wakes one blocked
 * getter; a getter that is stopped or times out just as it was woken passes
 * the wake-up on, so no getter sleeps beside an available item.
 * Thread-safe; blocks only while empty. */
GRACE_API int grace_queue_get(grace_queue *q, void **item, grace_stop *stop, grace_deadline d);

/* Mark one item got earlier as processed, as Python's task_done. Returns 0;
 * -EINVAL for NULL, a freed queue, or more calls than items got by
 * grace_queue_get (items a drain takes never count as got, even while the
 * drain runs). Thread-safe; never sleeps: beside a drain that has taken an
 * item and not yet counted it, it waits those few instructions out. */
GRACE_API int grace_queue_task_done(grace_queue *q);

/* Wait until every item ever put has been marked done with
 * grace_queue_task_done or handed back by grace_queue_drain. Returns 0 then;
 * -ECANCELED; -ESHUTDOWN at once after GRACE_SHUTDOWN_IMMEDIATE (also for a
 * join already waiting: the shutdown wakes it); -ETIMEDOUT; -EINVAL. A DRAIN
 * shutdown does not end a join: the remaining items still get done.
 * Thread-safe; blocks. */
GRACE_API int grace_queue_join(grace_queue *q, grace_stop *stop, grace_deadline d);

/* Shut the queue down and wake every blocked caller. GRACE_SHUTDOWN_DRAIN:
 * puts fail with -ESHUTDOWN; gets return what is left, then -ESHUTDOWN.
 * GRACE_SHUTDOWN_IMMEDIATE: gets fail at once too and join answers
 * -ESHUTDOWN; the items left stay in the queue for grace_queue_drain (or
 * grace_queue_free_items): nothing is discarded. A put that had already
 * claimed its place completes (it happened before the shutdown), and
 * grace_queue_drain waits for its item. Repeating a mode is a no-op; DRAIN
 * may be upgraded to IMMEDIATE, never the reverse. Returns 0; -EINVAL for
 * NULL, a freed queue, an unknown mode, or DRAIN after IMMEDIATE (nothing
 * changes). Thread-safe; never blocks. */
GRACE_API int grace_queue_shutdown(grace_queue *q, int mode);

/* Move up to `max` leftover items, oldest first, into items[], handing them
 * back to the caller, who owns them afterwards. Works before or after a
 * shutdown, IMMEDIATE included. The drain owes every item whose put had
 * claimed its place before the drain began, every put that has returned 0
 * among them: it hands them all back, as far as `max` allows and unless
 * gets take them first. Where such a put has claimed its place but not yet
 * stored its item, the drain waits for it, asleep until that put wakes it.
 * So an answer below `max` means that every item put before the call has
 * come out, and after a shutdown that the queue is empty for good. Drained
 * items count as done for join, and the freed slots wake blocked putters.
 * Returns the count moved (0 when empty or `max` is 0); -EINVAL for a NULL
 * or freed queue, or NULL `items` with max > 0. Thread-safe; blocks only
 * for a put already under way, which is a few instructions from done
 * unless its thread is descheduled (no stop or deadline applies: the wait
 * ends when that put does). */
GRACE_API ssize_t grace_queue_drain(grace_queue *q, void **items, size_t max);

/* The number of items in the queue at this moment, counting puts still
 * completing (0 for NULL or a freed queue). Never blocks. */
GRACE_API size_t grace_queue_size(const grace_queue *q);

/* Free the queue. Returns 0; NULL is a no-op answering 0; -EBUSY, freeing
 * nothing, while it holds items (drain them first, or use
 * grace_queue_free_items) or a thread waits in a get, put or join on it;
 * -EINVAL for a queue already freed (detected while its memory is still
 * valid). A thread waits, for this rule, from the moment its call finds
 * that it must wait (a get finds the queue empty, a put finds it full, a
 * join finds tasks not done, with a deadline not yet past) until the call
 * returns: its brief spin before it sleeps included. A call that does not
 * wait (a put or get that completes or fails at its first try, a try with
 * a past deadline, task_done, shutdown, size, set_name) is not counted, so
 * that the fast path writes nothing shared: the caller must know that none
 * is running, as it must know that no call starts afterwards. A drain that
 * waits for a put under way (see grace_queue_drain) is counted too. */
GRACE_API int grace_queue_free(grace_queue *q);

/* Call dispose(item, arg) on every leftover item, oldest first, then free
 * the queue. Returns 0; -EBUSY, changing nothing, while a thread waits on
 * it (as grace_queue_free counts them, a drain that waits included) or an
 * item is still arriving (a put has claimed its place and not yet stored
 * its item: that thread is inside its call); -EINVAL for a NULL or freed
 * queue or NULL `dispose`. */
GRACE_API int grace_queue_free_items(grace_queue *q, void (*dispose)(void *item, void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Threads and cleanup
 *
 * A grace thread is a pthread with a name, its own stop, cleanup handlers,
 * and a record of what it is blocked on (any grace call that really sleeps
 * notes its operation, its object's name and the time; the calls that do
 * not sleep write nothing). Join it with a deadline; give up a thread that
 * does not answer with grace_thread_abandon rather than killing it.
 * ------------------------------------------------------------------------ */

typedef struct grace_thread grace_thread;

/* A thread's function: it receives the thread's own stop (a child of the
 * parent given at start) and its argument, and returns the thread's result. */
typedef int (*grace_thread_fn)(grace_stop *stop, void *arg);

/* Options for grace_thread_start_opts and grace_group_spawn_opts. Zero every field you do not set:
 * zero means the default, and a non-zero reserved field is -EINVAL (so that
 * later fields can be given meaning safely). */
typedef struct grace_thread_opts {
	/* Bytes, rounded up to the page size; 0: the library default, 256 KiB,
	 * which suits workers that block in grace calls and makes many threads
	 * quicker to end than the C library's default (docs/internals.md,
	 * "Costs", has the measurements). Ask for more for deep recursion or
	 * big stack buffers. Below PTHREAD_STACK_MIN: -EINVAL. */
	size_t stack_size;
	size_t reserved[7];
} grace_thread_opts;

/* Start a thread running fn(stop, arg), where `stop` is a new child of
 * `parent` (may be NULL) owned by the thread: a request of the parent
 * reaches it. `name` (copied; NULL gives "thread") reaches the OS, truncated
 * there to 15 bytes, and in full the reports and the list of running
 * threads that a second signal prints (grace_signals_route).
 * Returns 0 and the handle in *out, which the caller must join or abandon;
 * -EINVAL for NULL `out` or `fn`, a dead parent, bad options; -ENOMEM;
 * -EAGAIN when the system cannot start a thread (or make the one
 * thread-specific key grace needs to see a pthread_exit from fn). Nothing
 * is left behind on failure. A thread that cannot store its thread-specific
 * value (out of memory) ends at once with the result -ENOMEM, fn not run.
 * Never blocks. */
GRACE_API int grace_thread_start(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                                 grace_stop *parent);

/* As grace_thread_start, with options (NULL: defaults). */
GRACE_API int grace_thread_start_opts(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                                      grace_stop *parent, const grace_thread_opts *opts);

/* Request the thread's stop with `reason` (> 0). Returns 1 or 0 as
 * grace_stop_request; -EINVAL for NULL, a joined or abandoned handle, or
 * reason <= 0. Never blocks (apart from running the stop's callbacks). */
GRACE_API int grace_thread_stop(grace_thread *t, int reason);

/* The thread's own stop (valid until the handle is joined or abandoned);
 * NULL for NULL or a joined or abandoned handle. Callbacks and children a
 * caller puts on it must be removed before the thread ends. */
GRACE_API grace_stop *grace_thread_get_stop(grace_thread *t);

/* Wait for the thread to end by `d`, store its result in *result (may be
 * NULL) and free the handle. The wait sleeps (no polling) until the thread's
 * exit wakes it; a deadline in the past makes it a try. Returns 0;
 * -ETIMEDOUT leaves the handle valid for another join or an abandon;
 * -EINVAL for NULL, a joined or abandoned handle (detected while the
 * handle's memory has not been reused: the library keeps the last 64 freed
 * handles aside for that), a handle being joined by another thread, the
 * calling thread's own handle, or a thread of a group (the group joins it).
 * Blocks until the thread ends or the deadline passes. */
GRACE_API int grace_thread_join(grace_thread *t, grace_deadline d, int *result);

/* Give the thread up without stopping it: it goes on, and frees its own
 * state, its stop included, when it ends. If the stop's parent has been
 * requested, the stop is cut from it, so the parent may be freed at once;
 * otherwise the parent must outlive the thread as it must any child. The
 * handle is invalid afterwards. Returns 0; -EINVAL as grace_thread_join
 * (except that a thread may abandon itself). Never blocks. */
GRACE_API int grace_thread_abandon(grace_thread *t);

/* The calling grace thread's handle, or NULL outside a grace thread. */
GRACE_API grace_thread *grace_thread_self(void);

/* End the calling grace thread with `result`: its cleanup handlers run, its
 * joiner wakes. Outside a grace thread it ends the calling thread with
 * pthread_exit. A grace thread that calls pthread_exit itself ends as if by
 * grace_thread_exit(0). Called from a cleanup handler, it runs the handlers
 * left and keeps the first result. Called from inside a stop callback (in
 * any thread), it first finishes the request that ran it, as if the
 * callback had returned: the other callbacks run, and the request's stops
 * are left requested and free to be freed; then the handlers run (and a
 * group member whose failure ran the group's callbacks is counted out as
 * usual). A bare pthread_exit from a callback does not: the request is left
 * half-run. */
#ifdef __cplusplus
#define GRACE__NORETURN [[noreturn]]
#else
#define GRACE__NORETURN _Noreturn
#endif
GRACE__NORETURN GRACE_API void grace_thread_exit(int result);

/* Push a cleanup handler on the calling grace thread: the handlers run
 * last-in first-out, each exactly once, on every way out: its function
 * returns (after a stop, too) or it calls grace_thread_exit. A handler may
 * push another (it runs next). Returns 0; -EINVAL outside a grace thread,
 * for NULL fn, or once the thread's handlers have all run (from a callback
 * on its group's stop that its failure runs on its way out); -ENOMEM. Never
 * blocks. */
GRACE_API int grace_defer(void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Groups and reports
 *
 * A group supervises threads: wait for them all as Go's errgroup does, or
 * shut them all down by one deadline and get a report on each.
 * ------------------------------------------------------------------------ */

typedef struct grace_group grace_group;
typedef struct grace_report grace_report;

/* Create a group named `name` (copied; NULL gives "group") whose stop is a
 * child of `parent` (may be NULL). Returns 0 and the group in *out, owned by
 * the caller; -EINVAL for NULL `out` or a dead parent; -ENOMEM. */
GRACE_API int grace_group_new(grace_group **out, const char *name, grace_stop *parent);

/* Start a thread in the group, named as grace_thread_start names it, with
 * the default options (grace_group_spawn_opts with NULL options); its stop
 * is a child of the group's stop. The group owns the thread: it is joined
 * by grace_group_wait or grace_group_shutdown.
 * Returns 0; -EINVAL for NULL g or fn; -ESHUTDOWN once grace_group_shutdown
 * has begun (as a queue answers a put after its shutdown; a spawn that
 * answered 0 before is one the shutdown joins or reports); -ENOMEM;
 * -EAGAIN. Nothing is started on failure. Never blocks (beyond the
 * group's lock). */
GRACE_API int grace_group_spawn(grace_group *g, const char *name, grace_thread_fn fn, void *arg);

/* As grace_group_spawn, with options for the member's thread (NULL: the
 * defaults), checked as grace_thread_start_opts checks them: a stack size
 * below PTHREAD_STACK_MIN or a non-zero reserved field is -EINVAL. The
 * options are read during the call only. Errors: -EINVAL for NULL g or fn,
 * or bad options (checked before the group's state, so even after a
 * shutdown); -ESHUTDOWN once grace_group_shutdown has begun; -ENOMEM;
 * -EAGAIN. Nothing is started on failure. Never blocks (beyond the group's
 * lock). */
GRACE_API int grace_group_spawn_opts(grace_group *g, const char *name, grace_thread_fn fn, void *arg,
                                     const grace_thread_opts *opts);

/* The group's stop (NULL for NULL). Requesting it stops every thread. */
GRACE_API grace_stop *grace_group_get_stop(grace_group *g);

/* What the threads of a group came to, as grace_group_wait tells it. The
 * return value of the wait speaks only of the wait; this says how the
 * threads ended, so that "thread X returned r", "a thread was given up
 * without a result" and "the wait's deadline passed" never look alike. */
typedef struct grace_group_outcome {
	int result;         /* the first non-zero result a thread returned (which
	                       may be any int, -ETIMEDOUT included); 0 if none did */
	const char *failed; /* that thread's full name, owned by the group and
	                       valid until grace_group_free; NULL if none */
	size_t abandoned;   /* threads grace_group_shutdown gave up at its
	                       deadline: what they return later is never heard */
} grace_group_outcome;

/* Wait for every thread by `d`. The first thread to return non-zero
 * requests the group's stop with GRACE_REASON_SIBLING_FAILED from its own
 * way out, whether or not anyone waits, as Go's errgroup does. Returns 0
 * when no thread is left to wait for: each one ended and was joined, or was
 * abandoned by grace_group_shutdown; -ETIMEDOUT at the deadline (the threads
 * go on: wait again or shut down); -EINVAL for NULL or when called by a
 * thread of the group (it would wait for itself), a callback on the group's
 * stop run by the failing thread included. If `out` is not NULL it receives
 * the outcome on 0 and on -ETIMEDOUT (so far, then); it is untouched on
 * -EINVAL. The threads it saw end are joined either way. Sleeps on the
 * group (no polling); may be called from several threads at once. */
GRACE_API int grace_group_wait(grace_group *g, grace_deadline d, grace_group_outcome *out);

/* Shut the group down: request its stop with `reason` (> 0), join every
 * thread that ends by `d`, and abandon the rest (they free themselves when
 * they end). Spawning fails (-ESHUTDOWN) from the moment it begins. If
 * `report` is not NULL it receives a report, owned by the caller
 * (grace_report_free), on every thread the group still held at the call:
 * name, result and time from the call to its exit, or, for a straggler, what
 * it is blocked on and for how long. Returns 0 when every thread ended by
 * the deadline, whatever their results (those are in the report); -ETIMEDOUT
 * when any straggled; -EINVAL for NULL, reason <= 0, a second shutdown, or a
 * call from a thread of the group (a callback on the group's stop run by a
 * failing thread included); -ENOMEM when the report could not be made (the
 * shutdown still happened; *report is NULL). Blocks until every thread ends
 * or the deadline passes. */
GRACE_API int grace_group_shutdown(grace_group *g, int reason, grace_deadline d, grace_report **report);

/* Free the group and its stop. Returns 0; -EBUSY, freeing nothing, while a
 * thread is neither joined nor abandoned, or while the group's stop still
 * has children or callbacks of the caller's; NULL is a no-op answering 0.
 * Abandoned stragglers go on after it: their state is their own. Blocks
 * only while a straggler that failed is still requesting the group's stop
 * (running the callbacks on it), which it does before it counts as ended. */
GRACE_API int grace_group_free(grace_group *g);

/* One thread of a report. Strings are owned by the report. */
typedef struct grace_report_entry {
	const char *name;       /* the thread's full name */
	bool exited;            /* ended by the deadline */
	int result;             /* its result, when exited */
	int64_t stop_ns;        /* exited: time from the shutdown call to its exit */
	const char *blocked_op; /* straggler: the grace call it sleeps in, or NULL (own code) */
	const char *blocked_on; /* straggler: the object's name, or NULL */
	int64_t blocked_ns;     /* straggler: how long it has been so (since it started or
	                           its last grace call returned, for its own code) */
} grace_report_entry;

/* The number of threads in the report (0 for NULL). */
GRACE_API size_t grace_report_count(const grace_report *r);

/* Entry `i`: the stragglers first, then the others in the order they
 * exited. NULL for NULL or out of range. Owned by the report. */
GRACE_API const grace_report_entry *grace_report_at(const grace_report *r, size_t i);

/* Print the report for people: a summary line, then one aligned line per
 * thread, stragglers first. Returns 0; -EINVAL for NULL; -EIO on a write
 * error. A report is immutable: any thread may print it. */
GRACE_API int grace_report_print(const grace_report *r, FILE *f);

/* Print the report as one JSON object and a newline:
 * {"group","reason","elapsed_ns","stragglers","threads":[{"name","exited",
 * "result","result_name","stop_ns"} or {"name","exited","blocked_op",
 * "blocked_on","blocked_ns"}]}. Returns 0; -EINVAL; -EIO. */
GRACE_API int grace_report_json(const grace_report *r, FILE *f);

/* Free a report. NULL is a no-op. */
GRACE_API void grace_report_free(grace_report *r);

/* ------------------------------------------------------------------------
 * Interruptible sleep and I/O
 *
 * Every call below returns as soon as its stop is requested or its deadline
 * passes, including while it waits on a descriptor: a thread blocked in
 * grace_recv() is woken by the request itself, never by a timeout loop.
 *
 * Shared rules:
 *  - Argument errors come first and change nothing: -EINVAL for a NULL
 *    buffer (even with a length of 0), a length above SSIZE_MAX or a stop
 *    that is not one (neither NULL nor a live stop), -EBADF for a negative
 *    descriptor. Then a stop already requested wins: -ECANCELED
 *    before the descriptor is touched. Then the call completes at once if it
 *    can, even with a deadline in the past (a try); it answers -ETIMEDOUT
 *    only when it would have to wait past `d`. GRACE_FOREVER: no deadline.
 *  - A ready descriptor is served at once, without a wait: the transfer is
 *    tried first without blocking, and the call waits (ppoll on the
 *    descriptor and on grace_stop_fd(stop), the deadline as its timeout)
 *    only on EAGAIN. (Where the system cannot make one transfer
 *    non-blocking, the portable build's read and write and accept on a
 *    blocking listener, the call first asks whether the descriptor blocks
 *    and polls a blocking one before the transfer; docs/internals.md,
 *    "Costs", counts the system calls of each case.) EINTR is retried
 *    within the same absolute deadline. Other errors of the system call
 *    come back as negative errno values (-EBADF for a closed descriptor,
 *    -EPIPE, -ECONNRESET, -ENOTSOCK, ...).
 *  - Blocking and non-blocking descriptors both work; nothing changes their
 *    O_NONBLOCK flag, except grace_connect for the length of the call. On a
 *    blocking descriptor grace transfers without blocking where the system
 *    lets it choose per call: MSG_DONTWAIT on sockets, and on Linux
 *    preadv2/pwritev2 with RWF_NOWAIT for read and write (pipes, FIFOs,
 *    sockets, eventfds, ...). Where it cannot (the portable build, or a
 *    descriptor that refuses RWF_NOWAIT, such as some terminals) it polls
 *    first and then makes one plain call. That call cannot be interrupted:
 *    if another thread or process reads the same blocking descriptor and
 *    takes the data between the poll and the read, the read blocks until
 *    more data comes, whatever the stop. Writes in that case go out at most
 *    PIPE_BUF bytes per call, which POLLOUT promises room for on a pipe.
 *    accept(2) has no per-call flag, so grace_accept() polls a blocking
 *    listener first, and the same holds for one shared between threads:
 *    the thread that loses the race for a connection blocks in accept(2)
 *    until the next one. Make shared descriptors non-blocking and every
 *    guarantee holds.
 *  - When the descriptor and the stop become ready together, the descriptor
 *    wins: whatever can be transferred at once is.
 *  - Closing a descriptor does not wake a thread blocked on it (the kernel
 *    does not end a poll on close); request the stop instead.
 *  - The stop, when not NULL, gets its wake descriptor on the first call
 *    that has to wait (grace_stop_fd: one descriptor per stop, kept until
 *    grace_stop_free); if that fails the call answers -EMFILE or -ENFILE.
 *  - A call that really waits records what the calling grace thread is
 *    blocked on ("recv", "accept", ...) for reports.
 *  - Thread-safety: every call may be made from any thread, on any
 *    descriptor; nothing allocates and nothing is shared but the stop.
 * ------------------------------------------------------------------------ */

/* Sleep until `d`. Returns 0 at the deadline (at once for a past one);
 * -ECANCELED if the stop is requested first (or already was); -EINVAL if
 * `stop` is not a stop (neither NULL nor a live stop). With a NULL
 * stop and GRACE_FOREVER it never returns. Blocks, asleep in the kernel,
 * without a spin: a sleeping thread costs no CPU and wakes exactly once. */
GRACE_API int grace_sleep(grace_stop *stop, grace_deadline d);

/* Wait until `fd` reports one of `events` (POLLIN, POLLOUT, ...; POLLERR and
 * POLLHUP are always reported). Returns the revents (> 0); -ECANCELED;
 * -ETIMEDOUT; -EBADF for a negative or closed descriptor (POLLNVAL); other
 * errors from ppoll(2). May block. */
GRACE_API int grace_poll(int fd, short events, grace_stop *stop, grace_deadline d);

/* read(2), stoppable: reads what is available, up to `len` bytes, waiting
 * for some if there is none. Returns the count read (0 at end of file);
 * -ECANCELED; -ETIMEDOUT; -EINVAL for a NULL buffer; -EBADF; other errors
 * from read(2). Data already there is read even with a past deadline. May
 * block. The buffer stays the caller's. */
GRACE_API ssize_t grace_read(int fd, void *buf, size_t len, grace_stop *stop, grace_deadline d);

/* write(2) of every byte, stoppable: goes on until all `len` bytes are
 * written, the stop is requested or the deadline passes. Returns `len`; when
 * the stop or the deadline (or an error) ends it after some bytes went out,
 * the count written (exactly the bytes the reader will receive; a later call
 * reports the error again); otherwise -ECANCELED, -ETIMEDOUT, -EINVAL for a
 * NULL buffer, -EBADF, or another error from write(2) (-EPIPE: mind SIGPIPE,
 * which grace does not block). May block. */
GRACE_API ssize_t grace_write(int fd, const void *buf, size_t len, grace_stop *stop, grace_deadline d);

/* recv(2), stoppable. As grace_read, with recv's `flags` (MSG_DONTWAIT is
 * added to each attempt). With MSG_WAITALL it goes on until `len` bytes, end
 * of file, the stop or the deadline, and returns the count received if some
 * bytes came; otherwise the code. -ENOTSOCK for a descriptor that is not a
 * socket. May block. */
GRACE_API ssize_t grace_recv(int fd, void *buf, size_t len, int flags, grace_stop *stop, grace_deadline d);

/* send(2) of every byte, stoppable. As grace_write, with send's `flags`
 * (MSG_DONTWAIT is added to each attempt; pass MSG_NOSIGNAL to get -EPIPE
 * without SIGPIPE). May block. */
GRACE_API ssize_t grace_send(int fd, const void *buf, size_t len, int flags, grace_stop *stop,
                             grace_deadline d);

/* accept(2), stoppable. Returns the new descriptor (owned by the caller;
 * its flags are accept(2)'s: blocking and not close-on-exec); -ECANCELED;
 * -ETIMEDOUT; -EINVAL when `addr` is given without `addrlen`, when the
 * socket is not listening, or once the listener is shut down (shutdown(2)
 * on a listener wakes a thread blocked here with -EINVAL on Linux);
 * -ENOTSOCK; -EBADF for a negative or closed descriptor; other errors from
 * accept(2). accept(2) has no per-call non-blocking flag, so the call asks
 * whether the listener blocks: a non-blocking one is tried at once, a
 * blocking one is polled first. A connection taken by another thread
 * first, or aborted before it was taken, is waited past within the same
 * deadline. May block. */
GRACE_API int grace_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, grace_stop *stop,
                           grace_deadline d);

/* connect(2), stoppable. A blocking socket is made non-blocking for the
 * length of the call and restored before it returns (do not change its flags
 * from another thread meanwhile). Returns 0 once connected; -ECANCELED or
 * -ETIMEDOUT when the stop or the deadline ends the attempt: the attempt is
 * then aborted (a connect to AF_UNSPEC, which on Linux returns the socket to
 * the unconnected state, so no half-open connection stays behind; elsewhere
 * close the socket); -EINVAL for a NULL `addr`; -EBADF; the attempt's own
 * error (-ECONNREFUSED, -ENETUNREACH, ...); -EAGAIN where the system refuses
 * to wait (a Unix-domain listener with a full backlog); other errors from
 * connect(2). May block. */
GRACE_API int grace_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, grace_stop *stop,
                            grace_deadline d);

/* ------------------------------------------------------------------------
 * Signals
 *
 * The handlers grace installs only write the signal number into a pipe
 * (async-signal-safe); one internal thread, which takes no signals itself,
 * does the rest. The handlers are process-wide, so routing works whatever
 * the order in which the program's threads were created and whichever
 * thread the kernel delivers to. They are installed with SA_RESTART, so the
 * program's own blocking calls go on; grace's calls retry EINTR anyway.
 * ------------------------------------------------------------------------ */

/* Route `signals` (count 0: SIGINT and SIGTERM, `signals` ignored) to
 * `stop`: the first routed signal to arrive requests it with
 * GRACE_REASON_SIGNAL(signo) (a stop already requested keeps its reason);
 * every routed signal after that one escalates (grace_signals_on_escalate).
 * The stop's callbacks run in grace's signal thread. `stop` must stay alive
 * until grace_signals_unroute() has returned: grace_stop_free() refuses it
 * (-EBUSY) while it is routed. Returns 0; -EINVAL for a NULL
 * or dead stop, NULL `signals` with a non-zero count, more than 32 signals,
 * a duplicate, or a signal that cannot be routed (SIGKILL, SIGSTOP, the
 * synchronous faults SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, or a number
 * out of range); -EBUSY if signals are already routed (unroute first);
 * -ENOMEM, -EMFILE, -EAGAIN from the system. Nothing is changed on failure.
 * Thread-safe; never blocks. A child made by fork() starts unrouted, with
 * the dispositions from before routing; it may route again. */
GRACE_API int grace_signals_route(grace_stop *stop, const int *signals, size_t count);

/* Undo grace_signals_route: restore the dispositions it saved and end its
 * thread. Signals still queued are dropped; a routed signal arriving after
 * the restore meets the old disposition. Returns 0; -EINVAL if nothing is
 * routed. Thread-safe. Waits for an escalation callback running in another
 * thread to return; called from inside that callback (or from a stop
 * callback run by the signal thread) it returns at once. */
GRACE_API int grace_signals_unroute(void);

/* Replace the default escalation with fn(signo, arg), called in grace's
 * signal thread (never in a handler) once for every routed signal after the
 * first. It may call any grace function, grace_signals_unroute included.
 * NULL fn restores the default: print which grace threads are still running
 * and what each is blocked on to stderr, then _exit(128 + signo). Applies to
 * the current and later routings. Returns 0. Thread-safe; never blocks. */
GRACE_API int grace_signals_on_escalate(void (*fn)(int signo, void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Condition variable and word waits: stop any wait in existing code
 *
 * grace_cond is a condition variable for the caller's own pthread_mutex_t,
 * whose waits a stop or a deadline also end; grace_wait_word() and
 * grace_wake_word() are C++20's atomic::wait and notify on a caller's
 * 32-bit word, stoppable. Both keep the shared rules: a stop already
 * requested wins (-ECANCELED at once), a deadline already past makes a try
 * (-ETIMEDOUT without sleeping), -EINVAL for a stop that is not one.
 * ------------------------------------------------------------------------ */

#include <pthread.h>

/* A condition variable, owned and embedded by the caller. Zeroed memory and
 * GRACE_COND_INIT are valid; there is nothing to initialise or destroy. Its
 * memory may be freed or reused once no thread is inside grace_cond_wait on
 * it (a thread is inside until that call returns; a signal or broadcast in
 * flight must also have returned). Fields are private. */
typedef struct grace_cond {
	GRACE__ATOMIC(uint32_t) waiters; /* waiters not yet taken by a signal */
} grace_cond;

/* clang-format off */
#define GRACE_COND_INIT {0}
/* clang-format on */

/* Atomically unlock `m`, which the caller holds, and wait until the
 * condition is signalled, `stop` is requested or deadline `d` passes; then
 * lock `m` again. As with pthread_cond_wait, change the predicate only
 * while holding `m` (signal or broadcast with it held or after unlocking),
 * and call this in a loop that re-checks the predicate: a return of 0 says
 * that a signal or broadcast chose this waiter (each signal chooses one,
 * the oldest), but another thread may have taken what it announced first.
 * grace itself never returns 0 spuriously; callers should still loop, as
 * with pthreads, which allow it. No signal made after the caller's
 * predicate check under `m` is missed. A stop request
 * wakes the waiter without taking `m`: the requester may hold it; the
 * waiter then waits for `m` as any returning waiter does.
 * Returns, always with `m` held again (the two robust-mutex errors aside):
 * 0 on a signal or broadcast (also when the stop was requested or the
 * deadline passed at the same moment: the wake-up is reported, so that it
 * is never lost to another waiter; the next call answers -ECANCELED at
 * once); -ECANCELED if the stop was requested first, or already (then at
 * once, `m` never released); -ETIMEDOUT at the deadline (at once, `m` never
 * released, for a deadline already past); -EINVAL for NULL `c` or `m`, or a
 * stop that is not one (nothing touched); -EPERM if unlocking `m` failed
 * so (an error-checking or recursive mutex the caller does not hold;
 * nothing happened; with a default mutex that is undefined, as for
 * pthreads); -EOWNERDEAD (a robust mutex whose owner died: `m` is held, make
 * it consistent) or -ENOTRECOVERABLE (`m` is not held) from re-locking `m`.
 * A recursive mutex must be locked exactly once. Blocks: a brief spin, then
 * asleep in the kernel; a thread blocked here is reported as in
 * "cond_wait". Thread-safe. */
GRACE_API int grace_cond_wait(grace_cond *c, pthread_mutex_t *m, grace_stop *stop, grace_deadline d);

/* Wake one thread waiting on `c`, the one that has waited longest, if any
 * waits that no earlier signal chose; on both engines exactly one. With no
 * such waiter it writes nothing, takes no lock and makes no system call;
 * it makes none either when the waiter it chooses has not gone to sleep
 * yet (a waiter spins briefly first), and at most one otherwise. Returns 0;
 * -EINVAL for NULL. Call it with `m` held or after changing the predicate
 * under `m`. Never blocks, apart from a brief internal lock; thread-safe. */
GRACE_API int grace_cond_signal(grace_cond *c);

/* Wake every thread waiting on `c`; they then take `m` one after another
 * (one wake system call per waiter asleep: no requeue onto `m`, which is
 * the C library's). With no waiter it writes nothing and makes no system
 * call. Returns 0; -EINVAL for NULL. Never blocks, apart from a brief
 * internal lock; thread-safe. */
GRACE_API int grace_cond_broadcast(grace_cond *c);

/* Wait while the 32-bit word at `w` holds `expected`, until another thread
 * changes it and calls grace_wake_word(), `stop` is requested or `d`
 * passes. The word is the caller's: declare it _Atomic uint32_t (or
 * std::atomic<uint32_t>, or write it only with __atomic builtins or
 * std::atomic_ref) and pass its address; grace reads it with atomic loads
 * (acquire: what the waker wrote before its store is visible once this
 * returns 0). A plain store to it racing with the wait is a data race
 * (undefined in C11): store atomically. A waker must call
 * grace_wake_word() after every change that a waiter may wait for, as with
 * a futex: a change alone wakes no sleeper. Returns 0 at once if the word
 * differs from `expected`, and otherwise 0 only after reading a value other
 * than `expected` (never spuriously; a change and a change back between two
 * looks is not seen, as with atomic::wait), even if the stop or the
 * deadline fired at the same moment; -ECANCELED if the stop was requested
 * first (or already, before the word is read); -ETIMEDOUT at the deadline
 * (at once for one already past, when the word holds `expected`); -EINVAL
 * for NULL or a `w` not aligned to 4 bytes, or a stop that is not one.
 * Blocks: a brief spin, then asleep; a thread blocked here is reported as
 * in "wait_word". Thread-safe. */
GRACE_API int grace_wait_word(const uint32_t *w, uint32_t expected, grace_stop *stop, grace_deadline d);

/* Wake up to `n` threads blocked in grace_wait_word() on `w`, oldest first
 * (n < 0: all; 0: none). Returns the number it woke: exactly the threads
 * that were asleep on `w`, or past their spin and about to sleep, that this
 * call took off the word's list, on every engine (a waiter that sees the
 * change by itself first is not counted: one still in its spin, or, on the
 * fallback engine, one woken spuriously by a wake of another word that
 * shares its sleep bucket; a woken waiter that finds the word back at its
 * expected value waits again). With no waiter it
 * returns 0 at once, with no lock and no system call. -EINVAL for NULL or a
 * `w` not aligned to 4 bytes. It wakes only grace_wait_word() waiters: a
 * C++ atomic::wait or a raw futex wait on the same word is not woken, and a
 * raw futex wake does not wake grace's waiters. Never blocks apart from a
 * brief internal lock; thread-safe. */
GRACE_API int grace_wake_word(const uint32_t *w, int n);

/* ------------------------------------------------------------------------
 * Many descriptors and child processes
 *
 * Two more waits of existing code made stoppable, under the shared rules of
 * the I/O calls above (argument errors first, then a stop already requested
 * wins, then a past deadline is a try; EINTR is retried within the same
 * absolute deadline; a stop, when not NULL, gets its wake descriptor on the
 * first call that has to wait).
 * ------------------------------------------------------------------------ */

/* poll(2) of `n` descriptors, stoppable: waits until one of `fds` reports
 * one of its events, the stop is requested or `d` passes. The stop's wake
 * descriptor is polled beside the caller's (grace_stop_fd), so a request
 * wakes the call at once and an idle call never wakes. Entries are as for
 * poll(2): a negative fd is ignored (its revents 0); POLLERR, POLLHUP and
 * POLLNVAL (a closed descriptor) are reported and counted, as poll does.
 * Returns the count of entries with non-zero revents (> 0), every revents
 * filled in as poll(2) fills them; -ECANCELED; -ETIMEDOUT; -EINVAL for NULL
 * `fds` with `n` > 0, a stop that is not one, or `n` too large (INT_MAX or
 * more, or above the descriptor limit RLIMIT_NOFILE less the one place the
 * stop's descriptor takes); -ENOMEM; -EMFILE or -ENFILE for the stop's
 * descriptor; other errors from ppoll(2). On any negative result the array
 * is left as it was: revents are written only with a count. When the stop
 * and a descriptor are ready together the descriptor wins. `n` 0 (fds may
 * then be NULL) waits for the stop or the deadline only. Up to 128 entries
 * it allocates nothing (the set is copied on the calling thread's stack); a
 * larger set is copied into one allocation for the length of the call. The
 * array stays the caller's and is not touched after the call returns. May
 * block; records "poll" for reports. Thread-safe. */
GRACE_API int grace_poll_many(struct pollfd *fds, nfds_t n, grace_stop *stop, grace_deadline d);

/* waitpid(2), stoppable: waits until a child selected by `pid` (> 0: that
 * child; -1: any child; 0: any child in the caller's process group; < -1:
 * any child in the process group -pid) changes state as `options` asks
 * (exits; with WUNTRACED, stops; with WCONTINUED, continues), the stop is
 * requested or `d` passes. Returns what waitpid(2) returns: the pid of the
 * child reaped (or whose stop or continuation is reported), its status in
 * `*status` when `status` is not NULL; 0 with WNOHANG when no child is
 * ready; -ECANCELED; -ETIMEDOUT; -EINVAL for `options` other than WNOHANG,
 * WUNTRACED and WCONTINUED, or a stop that is not one; -ECHILD when no
 * selected child exists (or it is not the caller's); -ENOMEM, -EAGAIN (no
 * watcher thread, below), -EMFILE or -ENFILE; other errors from waitpid(2).
 * `*status` is written only with a pid. A stop or a deadline leaves every
 * child unreaped: wait again, or kill it and wait. grace never reaps a
 * child the call did not select (it looks with WNOWAIT and reaps with
 * waitpid(pid, WNOHANG) only). A child already waitable is reaped at once,
 * even with a past deadline; WNOHANG never waits.
 *
 * How it waits. It first tries waitpid(pid, options | WNOHANG): a child
 * that has exited costs one system call. Then, on Linux 5.3 and later, for
 * pid > 0 and without WUNTRACED or WCONTINUED, it polls a pidfd of the child
 * (pidfd_open, closed before returning) beside the stop's wake descriptor,
 * and reaps once the pidfd is readable: no thread, no allocation, no signal
 * handler, no wake-up until something happens. Otherwise (any child or a
 * process group, which a pidfd cannot name; WUNTRACED or WCONTINUED, which a
 * pidfd does not report; a kernel without pidfd_open, which answers ENOSYS,
 * or EPERM under a seccomp filter, and is asked once; the portable build) a
 * watcher thread blocks in waitid(2) with WNOWAIT, which reports a state
 * change without reaping, and wakes the call, which then reaps with waitpid
 * WNOHANG. Calls that wait on the same selection share one watcher. The
 * cost: one thread start and one small allocation for the first call that
 * waits (-EAGAIN, -ENOMEM when they fail), and a watcher left blocked after
 * a call ended by its stop or deadline, until a selected child changes
 * state (or none is left), when it ends by itself; still no polling and no
 * SIGCHLD handler, so the program's SIGCHLD disposition is its own. The
 * watcher takes no signals. A child made by fork() starts with no watcher
 * of its parent's.
 *
 * As with waitpid(2), a child reaped by another thread or a SIGCHLD set to
 * SIG_IGN makes the call answer -ECHILD; two calls waiting on one child
 * both wake, one reaps and the other answers -ECHILD. May block; records
 * "waitpid" for reports. Thread-safe. */
GRACE_API pid_t grace_waitpid(pid_t pid, int *status, int options, grace_stop *stop, grace_deadline d);

#ifdef __cplusplus
}
#endif

#endif /* GRACE_H */
