/* SPDX-License-Identifier: MIT */
/*
 * 04_join_timeout.c - the article's fourth tool: join every thread with a
 * timeout, and log and abandon the one that does not answer instead of
 * killing it. grace does it for a whole group against one deadline and
 * names the straggler, with what it is doing and since when.
 */
#include <grace.h>

#include <stdio.h>

static grace_event never = GRACE_EVENT_INIT;

/* A well-behaved worker: blocked in a grace call, it answers at once. */
static int polite(grace_stop *stop, void *arg)
{
	(void)arg;
	return grace_event_wait(&never, stop, GRACE_FOREVER) == -ECANCELED ? 0 : 1;
}

/* A worker stuck in its own code: it does not look at its stop for 700 ms. */
static int stubborn(grace_stop *stop, void *arg)
{
	(void)stop;
	(void)arg;
	grace_deadline until = grace_after_ms(700);
	while (grace_now() < until)
		; /* busy in code that never checks */
	return 0;
}

int main(void)
{
	grace_group *g;
	if (grace_group_new(&g, "workers", NULL) < 0)
		return 1;
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof name, "polite-%d", i);
		grace_group_spawn(g, name, polite, NULL);
	}
	grace_group_spawn(g, "stubborn", stubborn, NULL);
	grace_sleep(NULL, grace_after_ms(50));

	grace_report *report = NULL;
	grace_deadline t0 = grace_now();
	int rc = grace_group_shutdown(g, 1, grace_after_ms(200), &report);
	printf("shutdown with a 200 ms deadline: %s after %.1f ms\n", grace_strerror(rc),
	       (double)(grace_now() - t0) / 1e6);
	grace_report_print(report, stdout);
	grace_report_free(report);
	/* The straggler was abandoned, not killed: it frees itself when done. */
	return grace_group_free(g) == 0 ? 0 : 1;
}
