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
 *    deadline already in the past turns the call into a try: it completes if
 *    it can do so at once and answers -ETIMEDOUT otherwise.
 *  - Precedence: a stop that is already requested wins. The call answers
 *    -ECANCELED without touching its object.
 *  - Bad arguments answer -EINVAL with nothing changed; nothing aborts on a
 *    caller's mistake.
 */
#ifndef GRACE_H
#define GRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#define GRACE_VERSION_MAJOR 0
#define GRACE_VERSION_MINOR 1
#define GRACE_VERSION_PATCH 0
#define GRACE_VERSION_STRING "0.1.0"

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

/* A constant string naming `code` (a negative errno, or 0). Codes grace does
 * not know are named "unknown error". Never returns NULL. */
GRACE_API const char *grace_strerror(int code);

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

/* Free a stop. NULL is a no-op answering 0. Returns -EBUSY, freeing nothing,
 * while the stop has live children or registered callbacks; -EINVAL if `s`
 * is not a live stop (detected while its memory is still valid). Must not be
 * called while a thread is blocked on the stop. May wait briefly if the
 * deadline timer is requesting this very stop at that moment. */
GRACE_API int grace_stop_free(grace_stop *s);

/* Request the stop with `reason` (> 0). Idempotent: returns 1 for the one
 * request that took effect and 0 for every later one; the first reason
 * sticks. The request wakes every call blocked on the stop or on a
 * descendant, makes grace_stop_fd() readable, and runs the registered
 * callbacks in the calling thread. When it returns, grace_stop_requested() is
 * true in every thread that looks. Errors: -EINVAL for NULL, a dead stop or
 * reason <= 0. Does not block apart from running callbacks. */
GRACE_API int grace_stop_request(grace_stop *s, int reason);

/* Whether the stop has been requested: one atomic load (acquire), inline.
 * NULL is a stop never requested. Callable from any thread; never blocks.
 * Once true it stays true, and grace_stop_reason() is then non-zero. */
static inline bool grace_stop_requested(const grace_stop *s)
{
	const struct grace__stop_flag *f = (const struct grace__stop_flag *)(const void *)s;
	if (f == NULL)
		return false;
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
 * it; a deadline already past requests the stop at once. Returns 0; -EINVAL
 * for NULL or a dead stop; -EAGAIN if the timer thread could not be started.
 * Never blocks. */
GRACE_API int grace_stop_set_deadline(grace_stop *s, grace_deadline d);

/* A stop callback record, owned by the caller (embed it or keep it on the
 * stack). Its fields are private to the library. */
typedef struct grace_stop_cb {
	void (*fn)(void *arg);
	void *arg;
	struct grace_stop_cb *next, *prev;
	grace_stop *stop;
	bool *removed_while_running; /* private: set when fn removes its own record */
	GRACE__ATOMIC(uint32_t) state;
	uint32_t waiting_off;
} grace_stop_cb;

/* Register `fn(arg)` to run once when `s` is requested. If `s` already is,
 * fn runs at once in the caller and the call returns 1; otherwise it returns
 * 0 and fn will run in the thread that requests the stop. `cb` must stay
 * valid until grace_stop_off() (or a successful grace_stop_try_off()) has
 * answered; fn itself may call grace_stop_off(cb) and then free the record. Errors: -EINVAL for NULL arguments, a dead stop, or a record
 * that is already registered. Never blocks apart from running fn. */
GRACE_API int grace_stop_on(grace_stop *s, grace_stop_cb *cb, void (*fn)(void *arg), void *arg);

/* Remove a callback. Returns 1 if it was removed before it ran (it never
 * will); 0 if it has run, or was never registered. If fn is running in
 * another thread, waits for it to return first; called from inside fn itself
 * it returns at once. After it returns the record may be freed or reused.
 * Because it may wait for fn, do not call it while holding a lock that fn
 * takes: use grace_stop_try_off() there. Errors: -EINVAL for NULL. */
GRACE_API int grace_stop_off(grace_stop_cb *cb);

/* As grace_stop_off(), but never waits: answers -EBUSY while fn runs in
 * another thread (the record stays in use; try again later). */
GRACE_API int grace_stop_try_off(grace_stop_cb *cb);

/* A file descriptor that becomes readable (and stays readable) once the stop
 * is requested, for poll/epoll loops. It belongs to the stop: do not read it
 * or close it; it is closed by grace_stop_free(). Created on first call
 * (Linux: an eventfd; elsewhere: a pipe). Returns the descriptor; -EINVAL
 * for NULL or a dead stop; -EMFILE, -ENFILE or -ENOMEM from the system. */
GRACE_API int grace_stop_fd(grace_stop *s);

/* ------------------------------------------------------------------------
 * Event: threading.Event
 * ------------------------------------------------------------------------ */

/* An event, owned and embedded by the caller. Zeroed memory and
 * GRACE_EVENT_INIT are valid clear events. Fields are private. */
typedef struct grace_event {
	GRACE__ATOMIC(uint32_t) word;
	GRACE__ATOMIC(uint32_t) waiters;
} grace_event;

#define GRACE_EVENT_INIT {0, 0}

/* Initialise (or re-initialise a destroyed) event as clear. -EINVAL for
 * NULL. Must not be called while the event is in use. */
GRACE_API int grace_event_init(grace_event *ev);

/* Destroy an event. Returns -EBUSY while a thread waits on it (nothing
 * changes); -EINVAL for NULL or an event already destroyed. Afterwards every
 * call on it but grace_event_init answers -EINVAL (is_set answers false). */
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
 * if the stop was requested first (or already); -ETIMEDOUT; -EINVAL for NULL
 * or a destroyed event. Blocks (a brief spin, then asleep in the kernel). */
GRACE_API int grace_event_wait(grace_event *ev, grace_stop *stop, grace_deadline d);

/* ------------------------------------------------------------------------
 * Queue: queue.Queue with a shutdown that loses nothing
 * ------------------------------------------------------------------------ */

typedef struct grace_queue grace_queue;

#define GRACE_SHUTDOWN_DRAIN 1
#define GRACE_SHUTDOWN_IMMEDIATE 2

/* Create a queue of `void *` items holding at most `capacity` (0 =
 * unbounded). Returns 0; -EINVAL for NULL `out`; -ENOMEM. */
GRACE_API int grace_queue_new(grace_queue **out, size_t capacity);

/* Name the queue for reports ("blocked in get on queue 'jobs'"). The name
 * is copied. -EINVAL for NULL arguments; -ENOMEM. */
GRACE_API int grace_queue_set_name(grace_queue *q, const char *name);

/* Append `item` (any value, NULL included). Blocks while the queue is full.
 * Returns 0; -ECANCELED; -ETIMEDOUT; -ESHUTDOWN after a shutdown; -EINVAL.
 * A put that fails did not enqueue: the item stays with the caller. */
GRACE_API int grace_queue_put(grace_queue *q, void *item, grace_stop *stop, grace_deadline d);

/* Take the oldest item into *item. Blocks while the queue is empty. Returns
 * 0; -ECANCELED; -ETIMEDOUT; -ESHUTDOWN (after DRAIN: once empty; after
 * IMMEDIATE: at once); -EINVAL. A get that fails took nothing. */
GRACE_API int grace_queue_get(grace_queue *q, void **item, grace_stop *stop, grace_deadline d);

/* Mark one item got earlier as processed. -EINVAL for NULL or more calls
 * than items got. Never blocks. */
GRACE_API int grace_queue_task_done(grace_queue *q);

/* Wait until every item put has been marked done (items handed back by
 * grace_queue_drain count as done). Returns 0; -ESHUTDOWN at once after an
 * IMMEDIATE shutdown; -ECANCELED; -ETIMEDOUT; -EINVAL. */
GRACE_API int grace_queue_join(grace_queue *q, grace_stop *stop, grace_deadline d);

/* Shut the queue down (GRACE_SHUTDOWN_DRAIN or GRACE_SHUTDOWN_IMMEDIATE) and
 * wake every blocked caller. DRAIN may be upgraded to IMMEDIATE, never the
 * reverse (-EINVAL). Never blocks. */
GRACE_API int grace_queue_shutdown(grace_queue *q, int mode);

/* Move up to `max` leftover items, oldest first, into items[], handing them
 * back to the caller. Returns the count moved; -EINVAL. Never blocks. */
GRACE_API ssize_t grace_queue_drain(grace_queue *q, void **items, size_t max);

/* The number of items in the queue at this moment (0 for NULL). */
GRACE_API size_t grace_queue_size(const grace_queue *q);

/* Free the queue. -EBUSY while it holds items or a thread waits on it;
 * NULL is a no-op answering 0. */
GRACE_API int grace_queue_free(grace_queue *q);

/* Call dispose(item, arg) on every leftover item, then free the queue.
 * -EBUSY, changing nothing, while a thread waits on it; -EINVAL. */
GRACE_API int grace_queue_free_items(grace_queue *q, void (*dispose)(void *item, void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Threads and cleanup
 * ------------------------------------------------------------------------ */

typedef struct grace_thread grace_thread;

/* A thread's function: it receives the thread's own stop (a child of the
 * parent given at start) and its argument, and returns the thread's result. */
typedef int (*grace_thread_fn)(grace_stop *stop, void *arg);

/* Options for grace_thread_start_opts. Zero every field you do not set:
 * zero means the default. */
typedef struct grace_thread_opts {
	size_t stack_size; /* bytes; 0: the library default (see docs) */
	size_t reserved[7];
} grace_thread_opts;

/* Start a thread running fn(stop, arg), where `stop` is a new child of
 * `parent` (may be NULL) owned by the thread. `name` (copied; NULL gives
 * "thread") reaches the OS, truncated there, and the reports in full.
 * Returns 0 and the handle in *out; -EINVAL; -ENOMEM; -EAGAIN. */
GRACE_API int grace_thread_start(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                                 grace_stop *parent);

/* As grace_thread_start, with options (NULL: defaults). */
GRACE_API int grace_thread_start_opts(grace_thread **out, const char *name, grace_thread_fn fn, void *arg,
                                      grace_stop *parent, const grace_thread_opts *opts);

/* Request the thread's stop with `reason` (> 0). Returns 1 or 0 as
 * grace_stop_request; -EINVAL. Never blocks. */
GRACE_API int grace_thread_stop(grace_thread *t, int reason);

/* The thread's own stop (valid until the handle is joined or abandoned). */
GRACE_API grace_stop *grace_thread_get_stop(grace_thread *t);

/* Wait for the thread to end by `d`, store its result in *result (may be
 * NULL) and free the handle. -ETIMEDOUT leaves the handle valid for another
 * join or an abandon; -EINVAL for NULL, a joined or an abandoned handle. */
GRACE_API int grace_thread_join(grace_thread *t, grace_deadline d, int *result);

/* Give the thread up: it frees its own state when it ends. The handle is
 * invalid afterwards. -EINVAL for NULL or a handle already given up. */
GRACE_API int grace_thread_abandon(grace_thread *t);

/* The calling grace thread's handle, or NULL outside a grace thread. */
GRACE_API grace_thread *grace_thread_self(void);

/* End the calling grace thread with `result`, running its cleanup handlers.
 * Outside a grace thread it ends the calling thread with pthread_exit. */
GRACE_API _Noreturn void grace_thread_exit(int result);

/* Push a cleanup handler on the calling grace thread: handlers run last-in
 * first-out when its function returns or calls grace_thread_exit. -EINVAL
 * outside a grace thread or for NULL fn; -ENOMEM. */
GRACE_API int grace_defer(void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Groups and reports
 * ------------------------------------------------------------------------ */

typedef struct grace_group grace_group;
typedef struct grace_report grace_report;

/* Create a group named `name` (copied) whose stop is a child of `parent`.
 * -EINVAL; -ENOMEM. */
GRACE_API int grace_group_new(grace_group **out, const char *name, grace_stop *parent);

/* Start a thread in the group; its stop is a child of the group's stop.
 * -EINVAL (NULL, or the group is shutting down); -ENOMEM; -EAGAIN. */
GRACE_API int grace_group_spawn(grace_group *g, const char *name, grace_thread_fn fn, void *arg);

/* The group's stop. */
GRACE_API grace_stop *grace_group_get_stop(grace_group *g);

/* Wait for every thread. The first thread to return non-zero stops its
 * siblings (GRACE_REASON_SIBLING_FAILED) and its result is returned; 0 when
 * all returned 0; -ETIMEDOUT at the deadline (the threads go on). Threads
 * seen to end are joined. -EINVAL. */
GRACE_API int grace_group_wait(grace_group *g, grace_deadline d);

/* Request the group's stop with `reason`, join every thread by `d`, abandon
 * the rest, and store a report in *report (may be NULL). Returns 0 when every
 * thread ended by the deadline; -ETIMEDOUT when any straggled; -EINVAL;
 * -ENOMEM (the shutdown still happened; no report). */
GRACE_API int grace_group_shutdown(grace_group *g, int reason, grace_deadline d, grace_report **report);

/* Free the group. -EBUSY while a thread is neither joined nor abandoned;
 * NULL is a no-op answering 0. */
GRACE_API int grace_group_free(grace_group *g);

/* One thread of a report. */
typedef struct grace_report_entry {
	const char *name;       /* the thread's full name */
	bool exited;            /* ended by the deadline */
	int result;             /* its result, when exited */
	int64_t stop_ns;        /* exited: time from the request to its exit */
	const char *blocked_op; /* straggler: the grace call it sleeps in, or NULL (own code) */
	const char *blocked_on; /* straggler: the object's name, or NULL */
	int64_t blocked_ns;     /* straggler: how long it has been so */
} grace_report_entry;

/* The number of threads in the report (0 for NULL). */
GRACE_API size_t grace_report_count(const grace_report *r);

/* Entry `i`, or NULL when out of range. Owned by the report. */
GRACE_API const grace_report_entry *grace_report_at(const grace_report *r, size_t i);

/* Print the report for people: one aligned line per thread, stragglers
 * first. Returns 0; -EINVAL; -EIO on a write error. */
GRACE_API int grace_report_print(const grace_report *r, FILE *f);

/* Print the report as one JSON object. Returns 0; -EINVAL; -EIO. */
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
 *    buffer (even with a length of 0) or a length above SSIZE_MAX, -EBADF for
 *    a negative descriptor. Then a stop already requested wins: -ECANCELED
 *    before the descriptor is touched. Then the call completes at once if it
 *    can, even with a deadline in the past (a try); it answers -ETIMEDOUT
 *    only when it would have to wait past `d`. GRACE_FOREVER: no deadline.
 *  - A ready descriptor costs one system call: the transfer is tried first
 *    without blocking, and the call waits (ppoll on the descriptor and on
 *    grace_stop_fd(stop), the deadline as its timeout) only on EAGAIN. (In
 *    the portable build grace_read and grace_write first ask fcntl whether
 *    the descriptor blocks: a ready non-blocking one then costs two calls,
 *    a blocking one three, as it is polled before the transfer.)
 *    EINTR is retried within the same absolute deadline. Other errors of the
 *    system call come back as negative errno values (-EBADF for a closed
 *    descriptor, -EPIPE, -ECONNRESET, -ENOTSOCK, ...).
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
 * -ECANCELED if the stop is requested first (or already was). With a NULL
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

/* accept(2), stoppable. Returns the new descriptor (owned by the caller; its
 * flags are accept(2)'s); -ECANCELED; -ETIMEDOUT; -EINVAL when `addr` is
 * given without `addrlen`, when the socket is not listening, or once the
 * listener is shut down (shutdown(2) on a listener wakes a thread blocked
 * here with -EINVAL on Linux); -ENOTSOCK; -EBADF for a negative or closed
 * descriptor; other errors from accept(2). A ready non-blocking listener
 * costs two system calls (fcntl, accept); a blocking one four. A connection taken by another
 * thread first, or aborted before it was taken, is waited past within the
 * same deadline. May block. */
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
 * until grace_signals_unroute() has returned. Returns 0; -EINVAL for a NULL
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

#ifdef __cplusplus
}
#endif

#endif /* GRACE_H */
