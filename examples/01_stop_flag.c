/* SPDX-License-Identifier: MIT */
/*
 * 01_stop_flag.c - the article's first tool: a worker loop that checks a
 * shared stop flag between rounds of work.
 *
 * The article's worker sleeps between rounds (time.sleep(0.5)) and so sees
 * the flag up to half a second late. With grace the flag is a grace_stop:
 * checking it costs one load, and the pause between rounds is grace_sleep,
 * which the request ends at once. Both are run here and timed.
 */
#include <grace.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_bool plain_flag;   /* the article's way */
static grace_stop *stop;         /* grace's way */
static _Atomic int64_t saw_it_at;

static void *article_worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&plain_flag)) {
		/* ... one round of work ... */
		struct timespec half = {0, 500 * 1000000};
		nanosleep(&half, NULL);
	}
	atomic_store(&saw_it_at, grace_now());
	return NULL;
}

static void *grace_worker(void *arg)
{
	(void)arg;
	while (!grace_stop_requested(stop)) {
		/* ... one round of work ... */
		grace_sleep(stop, grace_after_ms(500));
	}
	atomic_store(&saw_it_at, grace_now());
	return NULL;
}

static double run(void *(*worker)(void *), void (*request)(void))
{
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	grace_sleep(NULL, grace_after_ms(120)); /* let it get into its loop */
	int64_t t0 = grace_now();
	request();
	pthread_join(t, NULL);
	return (double)(atomic_load(&saw_it_at) - t0) / 1e6;
}

static void set_plain(void) { atomic_store(&plain_flag, true); }
static void request_grace(void) { grace_stop_request(stop, 1); }

int main(void)
{
	if (grace_stop_new(&stop, NULL) < 0)
		return 1;
	double a = run(article_worker, set_plain);
	double g = run(grace_worker, request_grace);
	printf("stop flag, worker pausing 500 ms between rounds\n");
	printf("  article (flag + sleep):       stopped after %9.3f ms\n", a);
	printf("  grace   (stop + grace_sleep): stopped after %9.3f ms\n", g);
	grace_stop_free(stop);
	return 0;
}
