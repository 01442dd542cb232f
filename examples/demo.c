/* SPDX-License-Identifier: MIT */
/*
 * demo.c - eight workers wait on one event; one stop request ends them all.
 *
 * Each worker blocks in grace_event_wait() with the shared stop. Nothing
 * polls: the workers sleep in the kernel until main requests the stop, and
 * then every one of them returns -ECANCELED at once. The demo prints how
 * long each took to notice.
 */
#include <grace.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define WORKERS 8

static grace_event work_ready = GRACE_EVENT_INIT; /* never set in this demo */
static grace_stop *stop;
static atomic_int started;
static grace_deadline requested_at;

struct worker {
	pthread_t thread;
	int id;
	int result;
	grace_deadline returned_at;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	atomic_fetch_add(&started, 1);
	w->result = grace_event_wait(&work_ready, stop, GRACE_FOREVER);
	w->returned_at = grace_now();
	return NULL;
}

int main(void)
{
	struct worker workers[WORKERS];
	int rc = grace_stop_new(&stop, NULL);
	if (rc < 0) {
		fprintf(stderr, "grace_stop_new: %s\n", grace_strerror(rc));
		return 1;
	}
	for (int i = 0; i < WORKERS; i++) {
		workers[i].id = i;
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
	}
	while (atomic_load(&started) < WORKERS)
		grace_sleep(NULL, grace_after_ms(1));
	/* Let them fall asleep in the kernel. */
	grace_sleep(NULL, grace_after_ms(50));

	printf("%d workers blocked in grace_event_wait; requesting the stop\n", WORKERS);
	requested_at = grace_now();
	grace_stop_request(stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i].thread, NULL);
	grace_deadline joined = grace_now();

	for (int i = 0; i < WORKERS; i++)
		printf("  worker %d: %-16s after %6.1f us\n", i, grace_strerror(workers[i].result),
		       (double)(workers[i].returned_at - requested_at) / 1e3);
	printf("all %d stopped and joined in %.1f us (reason %d)\n", WORKERS,
	       (double)(joined - requested_at) / 1e3, grace_stop_reason(stop));
	grace_stop_free(stop);
	return 0;
}
