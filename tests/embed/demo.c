/* SPDX-License-Identifier: MIT */
/*
 * demo.c - the embedding project's own program named demo, linked with the
 * static library (grace::grace): a thread waiting on an event is woken by a
 * stop request, and main checks the wait's result and the stop's reason.
 */
#include <grace.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

int embed_warn(void);

static grace_event ev = GRACE_EVENT_INIT;

static void *waiter(void *stop)
{
	return (void *)(intptr_t)grace_event_wait(&ev, stop, GRACE_FOREVER);
}

int main(void)
{
	grace_stop *stop;
	pthread_t t;
	void *rc;

	if (grace_stop_new(&stop, NULL) != 0 || pthread_create(&t, NULL, waiter, stop) != 0)
		return 1;
	grace_stop_request(stop, 7);
	pthread_join(t, &rc);
	if ((intptr_t)rc != -ECANCELED || grace_stop_reason(stop) != 7 || grace_stop_free(stop) != 0)
		return 2;
	printf("embed demo: grace %s, %s, %d\n", GRACE_VERSION_STRING,
	       grace_strerror((int)(intptr_t)rc), embed_warn());
	return 0;
}
