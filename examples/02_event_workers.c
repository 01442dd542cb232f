/* SPDX-License-Identifier: MIT */
/*
 * 02_event_workers.c - the article's second tool: many workers watching one
 * Event. The article's workers call ev.wait(timeout=0.5) in a loop and
 * re-check a stop flag after each timeout; they wake twice a second for
 * nothing and answer a stop up to 500 ms late. grace_event_wait takes the
 * stop itself: the workers sleep until the event is set or the stop comes.
 */
#include <grace.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define WORKERS 8

static grace_event go = GRACE_EVENT_INIT; /* never set: no work arrives */
static grace_stop *stop;
static atomic_bool plain_flag;
static atomic_int awake, idle_wakeups;
static _Atomic int64_t last_exit;

static void *article_worker(void *arg)
{
	(void)arg;
	atomic_fetch_add(&awake, 1);
	while (!atomic_load(&plain_flag)) {
		if (grace_event_wait(&go, NULL, grace_after_ms(500)) == -ETIMEDOUT)
			atomic_fetch_add(&idle_wakeups, 1); /* woke for nothing */
	}
	atomic_store(&last_exit, grace_now());
	return NULL;
}

static void *grace_worker(void *arg)
{
	(void)arg;
	atomic_fetch_add(&awake, 1);
	while (grace_event_wait(&go, stop, GRACE_FOREVER) != -ECANCELED)
		atomic_fetch_add(&idle_wakeups, 1);
	atomic_store(&last_exit, grace_now());
	return NULL;
}

static void run(const char *label, void *(*worker)(void *), void (*request)(void))
{
	pthread_t t[WORKERS];
	atomic_store(&awake, 0);
	atomic_store(&idle_wakeups, 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	while (atomic_load(&awake) < WORKERS)
		grace_sleep(NULL, grace_after_ms(1));
	grace_sleep(NULL, grace_after_ms(1100)); /* idle for 1.1 s */
	int idle = atomic_load(&idle_wakeups);
	int64_t t0 = grace_now();
	request();
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	printf("  %-34s idle wake-ups in 1.1 s: %3d   all stopped after %9.3f ms\n", label, idle,
	       (double)(atomic_load(&last_exit) - t0) / 1e6);
}

static void set_plain(void) { atomic_store(&plain_flag, true); }
static void request_grace(void) { grace_stop_request(stop, 1); }

int main(void)
{
	if (grace_stop_new(&stop, NULL) < 0)
		return 1;
	printf("%d workers watching one event that is never set\n", WORKERS);
	run("article (wait(0.5) + flag):", article_worker, set_plain);
	run("grace   (grace_event_wait + stop):", grace_worker, request_grace);
	grace_stop_free(stop);
	return 0;
}
