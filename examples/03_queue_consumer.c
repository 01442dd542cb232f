/* SPDX-License-Identifier: MIT */
/*
 * 03_queue_consumer.c - the article's third tool: a consumer blocked on a
 * queue. The article's consumer loops on q.get(timeout=0.5) and re-checks a
 * flag; grace_queue_get takes the stop, so the consumer sleeps until an item
 * or the stop comes, and nothing it did not take is lost: what is left is
 * handed back by grace_queue_drain after the shutdown.
 */
#include <grace.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static grace_queue *q;
static grace_stop *stop;
static atomic_bool plain_flag;
static atomic_long consumed;
static _Atomic int64_t exited_at;

static void *article_consumer(void *arg)
{
	(void)arg;
	void *item;
	while (!atomic_load(&plain_flag))
		if (grace_queue_get(q, &item, NULL, grace_after_ms(500)) == 0)
			atomic_fetch_add(&consumed, 1);
	atomic_store(&exited_at, grace_now());
	return NULL;
}

static void *grace_consumer(void *arg)
{
	(void)arg;
	void *item;
	while (grace_queue_get(q, &item, stop, GRACE_FOREVER) == 0)
		atomic_fetch_add(&consumed, 1);
	atomic_store(&exited_at, grace_now());
	return NULL;
}

static void run(const char *label, void *(*consumer)(void *), void (*request)(void))
{
	pthread_t t;
	atomic_store(&consumed, 0);
	if (grace_queue_new(&q, 64) < 0)
		return;
	pthread_create(&t, NULL, consumer, NULL);
	for (intptr_t i = 1; i <= 1000; i++)
		grace_queue_put(q, (void *)i, NULL, GRACE_FOREVER);
	while (grace_queue_size(q) > 0) /* let the consumer empty it */
		grace_sleep(NULL, grace_after_ms(1));
	grace_sleep(NULL, grace_after_ms(100));
	int64_t t0 = grace_now();
	request();
	pthread_join(t, NULL);
	grace_queue_shutdown(q, GRACE_SHUTDOWN_DRAIN);
	void *left[64];
	ssize_t n = grace_queue_drain(q, left, 64);
	printf("  %-30s consumed %ld, handed back %zd, stopped after %9.3f ms\n", label,
	       atomic_load(&consumed), n, (double)(atomic_load(&exited_at) - t0) / 1e6);
	grace_queue_free(q);
}

static void set_plain(void) { atomic_store(&plain_flag, true); }
static void request_grace(void) { grace_stop_request(stop, 1); }

int main(void)
{
	if (grace_stop_new(&stop, NULL) < 0)
		return 1;
	printf("a consumer blocked on an empty queue after 1000 items\n");
	run("article (get(0.5) + flag):", article_consumer, set_plain);
	run("grace   (get with the stop):", grace_consumer, request_grace);
	grace_stop_free(stop);
	return 0;
}
