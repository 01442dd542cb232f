/* SPDX-License-Identifier: MIT */
/*
 * httpd.c - a small HTTP/1.1 server that shuts down without dropping a
 * request, the promise of Go's http.Server.Shutdown and nginx's graceful
 * quit, kept in C with grace.
 *
 * One acceptor thread puts accepted connections on a grace_queue; a group of
 * workers takes them and serves keep-alive requests. SIGINT and SIGTERM are
 * routed to one stop, the parent of the server's group. On the stop:
 *  - the acceptor takes what is already in the listen backlog, closes the
 *    listener (new connections are refused) and shuts the queue down with
 *    DRAIN, so the workers still get every connection accepted before;
 *  - a worker that has received any part of a request finishes it, with no
 *    stop but the shutdown deadline, and answers with "Connection: close";
 *  - a keep-alive connection idle between requests is closed: the worker
 *    sends FIN and lingers until the client closes, so that a request the
 *    client was sending at that moment is not answered with a reset;
 *  - main joins the group by one deadline (--grace-ms) and prints the report.
 *
 *   httpd [--port N] [--workers N] [--grace-ms N] [--work-us N]
 *   httpd --demo [--clients N] [--seconds N]   (what `make demo` runs)
 *
 * In demo mode it also runs client threads on 127.0.0.1 that check every
 * response, sends itself SIGTERM after --seconds, and exits 0 only if no
 * request was dropped, no response was cut short and no connection the
 * server accepted was reset. A connection whose handshake completes after
 * the acceptor's last sweep sits in the backlog until the listener closes,
 * and the kernel resets it then, as Go's Shutdown and nginx's quit do: the
 * clients tell those apart (the server counts the connections it accepted
 * per client port) and report them as refused, not dropped.
 */
#include <grace.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQUEST 8192

struct server {
	int lfd;
	int port;
	grace_queue *conns;
	int64_t grace_ns;
	int64_t work_ns;
	_Atomic int64_t stop_at; /* when the stop was requested, 0 before */
	/* Demo mode: connections accepted from each client port, so that a
	 * client can tell a reset by the server from a connection the server
	 * never accepted (one still in the backlog when the listener closed). */
	atomic_uint *accepted_from;
	atomic_long accepted, served, inflight_at_stop, completed_after_stop, dropped, client_aborted,
	    idle_closed;
};

static int64_t stop_time(struct server *srv)
{
	return atomic_load(&srv->stop_at);
}

/* Set by on_stop once stop_at holds the time of the stop. */
static grace_event stop_seen = GRACE_EVENT_INIT;

static void on_stop(void *arg)
{
	struct server *srv = arg;
	atomic_store(&srv->stop_at, grace_now());
	grace_event_set(&stop_seen);
}

/* Close a connection we are done with: send FIN, then read and discard
 * until the client closes too (bounded), so that bytes it sent meanwhile do
 * not turn our close into a reset. */
static void linger_close(int fd, int64_t linger_ns)
{
	char sink[1024];
	shutdown(fd, SHUT_WR);
	grace_deadline d = grace_after_ns(linger_ns);
	while (grace_recv(fd, sink, sizeof sink, 0, NULL, d) > 0)
		;
	close(fd);
}

static const char *find_header_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n')
			return buf + i + 1;
	return NULL;
}

static bool wants_close(const char *req, size_t len)
{
	static const char h[] = "Connection: close";
	if (len < sizeof h)
		return false;
	for (size_t i = 0; i + sizeof h - 1 <= len; i++)
		if (strncasecmp(req + i, h, sizeof h - 1) == 0)
			return true;
	return false;
}

/* Serve one connection until the client closes it, it idles through a
 * stop, or it breaks. */
static void serve(struct server *srv, int fd, grace_stop *stop)
{
	char buf[MAX_REQUEST];
	size_t len = 0;
	long served_here = 0;
	for (;;) {
		const char *end;
		/* A pipelined request already in the buffer began now. */
		int64_t first_byte_at = len > 0 ? grace_now() : 0;
		while ((end = find_header_end(buf, len)) == NULL) {
			ssize_t n;
			if (len == 0 && !grace_stop_requested(stop)) {
				/* Idle between requests: the stop ends the wait. */
				n = grace_recv(fd, buf, sizeof buf, 0, stop, GRACE_FOREVER);
			} else if (len == 0) {
				/* Stopping, nothing received yet. A connection that has
				 * never sent a request gets a moment for its first one,
				 * an idle keep-alive one a shorter moment for its next
				 * (a client answers a response at once): what comes is
				 * served with "Connection: close", the rest closed. */
				grace_deadline d = grace_after_ms(served_here == 0 ? 200 : 50);
				n = grace_recv(fd, buf, sizeof buf, 0, NULL, d);
				if (n == -ETIMEDOUT)
					n = -ECANCELED;
			} else {
				/* Part of a request is here: finish it, stop or not. */
				n = grace_recv(fd, buf + len, sizeof buf - len, 0, NULL,
				               grace_after_ns(srv->grace_ns));
			}
			if (n == -ECANCELED) {
				atomic_fetch_add(&srv->idle_closed, 1);
				linger_close(fd, srv->grace_ns / 4);
				return;
			}
			if (n <= 0) {
				if (len > 0)
					atomic_fetch_add(&srv->client_aborted, 1);
				close(fd);
				return;
			}
			if (len == 0)
				first_byte_at = grace_now();
			len += (size_t)n;
			if (len == sizeof buf) { /* too large: refuse */
				close(fd);
				return;
			}
		}
		size_t req_len = (size_t)(end - buf);

		/* The "work": a few hundred microseconds of waiting on something. */
		if (srv->work_ns > 0)
			grace_sleep(NULL, grace_after_ns(srv->work_ns));

		bool close_after = wants_close(buf, req_len) || grace_stop_requested(stop);
		long n_req = atomic_fetch_add(&srv->served, 1) + 1;
		char body[96], resp[320];
		int blen = snprintf(body, sizeof body, "hello from grace: request %ld\n", n_req);
		int rlen = snprintf(resp, sizeof resp,
		                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s",
		                    blen, close_after ? "Connection: close\r\n" : "", body);
		ssize_t sent = grace_send(fd, resp, (size_t)rlen, MSG_NOSIGNAL, NULL, grace_after_ns(srv->grace_ns));
		/* In flight at the stop: begun before it, answered (or not) after. */
		int64_t done_at = grace_now(), stopped = stop_time(srv);
		bool in_flight_at_stop = stopped != 0 && first_byte_at < stopped && done_at >= stopped;
		if (in_flight_at_stop)
			atomic_fetch_add(&srv->inflight_at_stop, 1);
		if (sent != rlen) {
			atomic_fetch_sub(&srv->served, 1);
			atomic_fetch_add(&srv->dropped, 1);
			close(fd);
			return;
		}
		if (in_flight_at_stop)
			atomic_fetch_add(&srv->completed_after_stop, 1);
		served_here++;
		memmove(buf, buf + req_len, len - req_len);
		len -= req_len;
		if (close_after) {
			linger_close(fd, srv->grace_ns / 4);
			return;
		}
	}
}

/* Count one accepted connection (and, in demo mode, its client port). */
static void note_accepted(struct server *srv, int fd)
{
	atomic_fetch_add(&srv->accepted, 1);
	if (srv->accepted_from != NULL) {
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
			atomic_fetch_add(&srv->accepted_from[ntohs(peer.sin_port)], 1);
	}
}

static int acceptor_main(grace_stop *stop, void *arg)
{
	struct server *srv = arg;
	for (;;) {
		int fd = grace_accept(srv->lfd, NULL, NULL, stop, GRACE_FOREVER);
		if (fd == -ECANCELED) {
			/* Take what the kernel has already accepted for us. A
			 * connection completed after this sweep is reset by the
			 * close below: it arrived after the stop, like one refused. */
			while ((fd = grace_accept(srv->lfd, NULL, NULL, NULL, 0)) >= 0) {
				note_accepted(srv, fd);
				if (grace_queue_put(srv->conns, (void *)(intptr_t)fd, NULL, 0) < 0)
					close(fd);
			}
			break;
		}
		if (fd < 0) {
			fprintf(stderr, "httpd: accept: %s\n", grace_strerror(fd));
			grace_sleep(stop, grace_after_ms(10)); /* e.g. out of descriptors */
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		note_accepted(srv, fd);
		if (grace_queue_put(srv->conns, (void *)(intptr_t)fd, NULL, GRACE_FOREVER) < 0)
			close(fd);
	}
	close(srv->lfd);
	srv->lfd = -1;
	grace_queue_shutdown(srv->conns, GRACE_SHUTDOWN_DRAIN);
	return 0;
}

static int worker_main(grace_stop *stop, void *arg)
{
	struct server *srv = arg;
	void *item;
	int rc;
	/* No stop on the get: the acceptor's DRAIN shutdown ends it once every
	 * connection accepted before the stop has been handed out. */
	while ((rc = grace_queue_get(srv->conns, &item, NULL, GRACE_FOREVER)) == 0)
		serve(srv, (int)(intptr_t)item, stop);
	return rc == -ESHUTDOWN ? 0 : rc;
}

/* ---- demo clients ---- */

struct client_stats {
	atomic_long sent, complete, incomplete, resets, refused_late, closed_before_response, connects;
};

struct client {
	int port;
	struct client_stats *st;
	const atomic_uint *accepted_from; /* the server's count per client port */
};

/* Connect from a port bound first, so that *accepted_before can hold how
 * many times the server had accepted a connection from it before this one. */
static int connect_to(const struct client *c, grace_stop *stop, unsigned *accepted_before,
                      int *local_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*local_port = ntohs(a.sin_port);
	*accepted_before = atomic_load(&c->accepted_from[*local_port]);
	a.sin_port = htons((uint16_t)c->port);
	int rc = grace_connect(fd, (struct sockaddr *)&a, sizeof a, stop, grace_after_ms(2000));
	if (rc < 0) {
		close(fd);
		return rc;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Read one response; returns 1 complete (sets *closing), 0 closed before any
 * byte, -1 cut short, -2 reset. */
static int read_response(int fd, bool *closing, grace_stop *stop)
{
	char buf[1024];
	size_t len = 0;
	for (;;) {
		const char *end = find_header_end(buf, len);
		if (end != NULL) {
			const char *cl = strstr(buf, "Content-Length: ");
			if (cl == NULL || cl > end)
				return -1;
			size_t need = (size_t)(end - buf) + (size_t)atoi(cl + 16);
			if (len >= need) {
				*closing = wants_close(buf, (size_t)(end - buf));
				return 1;
			}
		}
		if (len == sizeof buf)
			return -1;
		ssize_t n = grace_recv(fd, buf + len, sizeof buf - len, 0, stop, grace_after_ms(10000));
		if (n == -ECONNRESET)
			return -2;
		if (n <= 0)
			return len == 0 ? 0 : -1;
		len += (size_t)n;
		buf[len < sizeof buf ? len : sizeof buf - 1] = '\0';
	}
}

static int client_main(grace_stop *stop, void *arg)
{
	struct client *c = arg;
	static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	unsigned seed = (unsigned)(uintptr_t)&seed;
	while (!grace_stop_requested(stop)) {
		unsigned accepted_before = 0;
		int local_port = 0;
		int fd = connect_to(c, stop, &accepted_before, &local_port);
		if (fd < 0)
			return 0; /* refused: the server has stopped accepting */
		atomic_fetch_add(&c->st->connects, 1);
		/* Keep the connection for 1 to 64 requests, then hang up, so
		 * that more clients than workers all get served. */
		int left = 1 + (int)(rand_r(&seed) % 64);
		for (bool first = true; left > 0; left--, first = false) {
			if (grace_send(fd, req, sizeof req - 1, MSG_NOSIGNAL, stop, grace_after_ms(2000)) !=
			    (ssize_t)(sizeof req - 1))
				break;
			atomic_fetch_add(&c->st->sent, 1);
			bool closing = false;
			int r = read_response(fd, &closing, NULL);
			if (r == 1)
				atomic_fetch_add(&c->st->complete, 1);
			else if (r == 0)
				atomic_fetch_add(&c->st->closed_before_response, 1);
			else if (r == -1)
				atomic_fetch_add(&c->st->incomplete, 1);
			else if (first && atomic_load(&c->accepted_from[local_port]) == accepted_before)
				/* Never accepted: it reached the backlog after the
				 * stop's last sweep and was reset as the listener
				 * closed, which is a refusal, not a dropped request. */
				atomic_fetch_add(&c->st->refused_late, 1);
			else
				atomic_fetch_add(&c->st->resets, 1);
			if (r != 1 || closing || grace_stop_requested(stop))
				break;
		}
		close(fd);
	}
	return 0;
}

/* ---- main ---- */

static int listen_on(int port, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

static long arg_long(int argc, char **argv, const char *name, long dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return strtol(argv[i + 1], NULL, 10);
	return dflt;
}

static bool arg_flag(int argc, char **argv, const char *name)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

#define CHECK(call)                                                                           \
	do {                                                                                  \
		int rc_ = (call);                                                             \
		if (rc_ < 0) {                                                                \
			fprintf(stderr, "httpd: %s: %s\n", #call, grace_strerror(rc_));        \
			return 2;                                                             \
		}                                                                             \
	} while (0)

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* lines reach a pipe before any _exit */
	bool demo = arg_flag(argc, argv, "--demo");
	int workers = (int)arg_long(argc, argv, "--workers", 4);
	int nclients = (int)arg_long(argc, argv, "--clients", 8);
	long seconds = arg_long(argc, argv, "--seconds", 3);
	struct server srv = {0};
	srv.grace_ns = arg_long(argc, argv, "--grace-ms", 5000) * 1000000LL;
	srv.work_ns = arg_long(argc, argv, "--work-us", 200) * 1000LL;
	if (workers < 1 || workers > 1024 || nclients < 1 || nclients > 1024 || srv.grace_ns < 0) {
		fprintf(stderr, "usage: httpd [--port N] [--workers N] [--grace-ms N] [--work-us N] "
		                "[--demo [--clients N] [--seconds N]]\n");
		return 2;
	}

	/* Route the signals before any thread starts; grace is safe either way. */
	grace_stop *root;
	grace_stop_cb stop_cb;
	CHECK(grace_stop_new(&root, NULL));
	CHECK(grace_signals_route(root, NULL, 0));
	CHECK(grace_stop_on(root, &stop_cb, on_stop, &srv));

	if (demo && (srv.accepted_from = calloc(65536, sizeof *srv.accepted_from)) == NULL)
		CHECK(-ENOMEM);
	srv.lfd = listen_on((int)arg_long(argc, argv, "--port", demo ? 0 : 8080), &srv.port);
	CHECK(srv.lfd);
	CHECK(grace_queue_new(&srv.conns, 0));
	CHECK(grace_queue_set_name(srv.conns, "connections"));

	grace_group *server;
	CHECK(grace_group_new(&server, "server", root));
	CHECK(grace_group_spawn(server, "acceptor", acceptor_main, &srv));
	for (int i = 0; i < workers; i++) {
		char name[32];
		snprintf(name, sizeof name, "worker-%d", i);
		CHECK(grace_group_spawn(server, name, worker_main, &srv));
	}
	printf("httpd: listening on 127.0.0.1:%d with %d workers (grace %lld ms)\n", srv.port, workers,
	       (long long)(srv.grace_ns / 1000000));
	fflush(stdout);

	/* Demo clients live in their own group, outside the routed stop, so
	 * that they keep the server under load through its shutdown. */
	struct client_stats cst = {0};
	struct client cl = {srv.port, &cst, srv.accepted_from};
	grace_group *clients = NULL;
	if (demo) {
		CHECK(grace_group_new(&clients, "clients", NULL));
		for (int i = 0; i < nclients; i++) {
			char name[32];
			snprintf(name, sizeof name, "client-%d", i);
			CHECK(grace_group_spawn(clients, name, client_main, &cl));
		}
		printf("demo: %d clients on keep-alive connections for %ld s, then SIGTERM\n", nclients,
		       seconds);
		fflush(stdout);
		if (grace_sleep(root, grace_after_ms(seconds * 1000)) == 0)
			kill(getpid(), SIGTERM);
	}

	/* Wait for the routed signal (its stop callback sets the event). */
	grace_event_wait(&stop_seen, NULL, GRACE_FOREVER);
	int64_t t_stop = stop_time(&srv);
	int sig = grace_reason_signal(grace_stop_reason(root));
	printf("\n%s received: stopping accepts, finishing requests in flight\n",
	       sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "stop");

	grace_report *report = NULL;
	int rc = grace_group_shutdown(server, 1, t_stop + srv.grace_ns, &report);
	int64_t t_exit = grace_now();

	printf("\nrequests served:              %ld\n", atomic_load(&srv.served));
	printf("in flight at the stop:        %ld (completed: %ld)\n", atomic_load(&srv.inflight_at_stop),
	       atomic_load(&srv.completed_after_stop));
	printf("requests dropped:             %ld\n", atomic_load(&srv.dropped));
	printf("idle connections closed:      %ld\n", atomic_load(&srv.idle_closed));
	printf("aborted by their clients:     %ld\n", atomic_load(&srv.client_aborted));
	printf("time from signal to exit:     %.2f ms%s\n", (double)(t_exit - t_stop) / 1e6,
	       rc == 0 ? "" : " (stragglers abandoned)");
	printf("\n");
	if (report != NULL)
		grace_report_print(report, stdout);
	grace_report_free(report);

	bool ok = rc == 0 && atomic_load(&srv.dropped) == 0;
	bool clients_gone = true;
	if (demo) {
		grace_group_shutdown(clients, 1, grace_after_ms(5000), NULL);
		printf("\nclients: %ld connections, %ld requests, %ld complete responses, %ld cut short, "
		       "%ld reset, %ld closed idle before a response and %ld reset unaccepted after "
		       "the stop (both retryable)\n",
		       atomic_load(&cst.connects), atomic_load(&cst.sent), atomic_load(&cst.complete),
		       atomic_load(&cst.incomplete), atomic_load(&cst.resets),
		       atomic_load(&cst.closed_before_response), atomic_load(&cst.refused_late));
		ok = ok && atomic_load(&cst.incomplete) == 0 && atomic_load(&cst.resets) == 0 &&
		     atomic_load(&cst.complete) > 0;
		if (grace_group_free(clients) < 0)
			ok = clients_gone = false;
	}
	printf("%s\n", ok ? "clean shutdown: nothing dropped" : "UNCLEAN SHUTDOWN");
	if (grace_group_free(server) == 0) {
		grace_queue_free(srv.conns);
		grace_stop_off(&stop_cb);
		grace_signals_unroute();
		grace_stop_free(root);
		if (clients_gone)
			free(srv.accepted_from);
	}
	return ok ? 0 : 1;
}
