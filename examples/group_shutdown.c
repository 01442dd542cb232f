/* SPDX-License-Identifier: MIT */
/*
 * group_shutdown.c - a supervisor shuts down its workers in one call, and
 * one worker does not answer.
 *
 * Four workers wait for jobs on an event with their stop, as they should;
 * a fifth, "legacy-poller", spins in its own code without ever looking at
 * its stop. main shuts the group down with a 200 ms deadline: the four stop
 * at once, the poller straggles and is abandoned (not killed), and the
 * report says who did what and what the straggler was doing. The poller
 * then ends on its own; its cleanup handler runs and it frees its own state.
 */
#include <grace.h>

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

static grace_event jobs = GRACE_EVENT_INIT; /* no jobs come in this example */
static grace_event poller_gone = GRACE_EVENT_INIT;
static atomic_int started;
static atomic_bool legacy_done;

static int worker(grace_stop *stop, void *arg)
{
	(void)arg;
	atomic_fetch_add(&started, 1);
	int rc = grace_event_wait(&jobs, stop, GRACE_FOREVER);
	return rc == -ECANCELED ? 0 : rc;
}

static void say_goodbye(void *arg)
{
	(void)arg;
	grace_event_set(&poller_gone);
}

static int legacy_poller(grace_stop *stop, void *arg)
{
	(void)stop; /* the bug: it never looks at its stop */
	(void)arg;
	grace_defer(say_goodbye, NULL);
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&legacy_done))
		sched_yield();
	return 0;
}

int main(void)
{
	grace_group *g;
	int rc = grace_group_new(&g, "ingest", NULL);
	if (rc < 0) {
		fprintf(stderr, "grace_group_new: %s\n", grace_strerror(rc));
		return 1;
	}
	char name[32];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "ingest-worker-%d", i);
		if ((rc = grace_group_spawn(g, name, worker, NULL)) < 0)
			break;
	}
	if (rc == 0)
		rc = grace_group_spawn(g, "legacy-poller", legacy_poller, NULL);
	if (rc < 0) {
		fprintf(stderr, "grace_group_spawn: %s\n", grace_strerror(rc));
		return 1;
	}
	while (atomic_load(&started) < 5)
		sched_yield();

	grace_report *report = NULL;
	rc = grace_group_shutdown(g, 1, grace_after_ms(200), &report);
	printf("grace_group_shutdown: %s\n\n", grace_strerror(rc));
	if (report != NULL) {
		grace_report_print(report, stdout);
		printf("\n");
		grace_report_json(report, stdout);
		grace_report_free(report);
	}
	/* The straggler was abandoned, so the group can go now. */
	rc = grace_group_free(g);
	printf("\ngrace_group_free: %s\n", grace_strerror(rc));

	/* Let the poller finish on its own, and see its cleanup run. */
	atomic_store(&legacy_done, true);
	rc = grace_event_wait(&poller_gone, NULL, grace_after_ms(5000));
	printf("legacy-poller ended on its own: %s\n", rc == 0 ? "yes" : grace_strerror(rc));
	return 0;
}
