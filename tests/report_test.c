/* SPDX-License-Identifier: MIT */
/*
 * report_test.c - shutdown reports: accessors, the order of entries, the
 * aligned text for people, the JSON for tools, write errors.
 */
#include "internal.h"
#include "test.h"

static char *capture_print(const grace_report *r, int (*print)(const grace_report *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_TRUE(f != NULL);
	ASSERT_RC(print(r, f), 0);
	fclose(f);
	return buf;
}

/* A report built by hand: exited ones out of order, two stragglers. */
static grace_report *sample(void)
{
	grace_report *r = grace__report_new("sample \"group\"", 7, 1);
	ASSERT_TRUE(r != NULL);
	grace_report_entry e[] = {
	    {.name = "slow-ender", .exited = true, .result = 0, .stop_ns = 3000000},
	    {.name = "spinner", .exited = false, .blocked_ns = 250000000},
	    {.name = "fast", .exited = true, .result = -ECANCELED, .stop_ns = 40000},
	    {.name = "a-much-longer-thread-name", .exited = false, .blocked_op = "queue_get",
	     .blocked_on = "jobs", .blocked_ns = 1500000000},
	    {.name = "tab\there", .exited = true, .result = 12, .stop_ns = 90000},
	};
	for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
		ASSERT_RC(grace__report_add(r, &e[i]), 0); /* grows past its first room */
	grace__report_finish(r, 251000000);
	return r;
}

TEST(order_and_accessors)
{
	grace_report *r = sample();
	ASSERT_EQ(grace_report_count(r), 5);
	static const char *want[] = {"spinner", "a-much-longer-thread-name", "fast", "tab\there", "slow-ender"};
	for (size_t i = 0; i < 5; i++)
		ASSERT_STR_EQ(grace_report_at(r, i)->name, want[i]);
	ASSERT_TRUE(grace_report_at(r, 5) == NULL);
	ASSERT_STR_EQ(grace_report_at(r, 1)->blocked_on, "jobs");
	grace_report_free(r);
}

TEST(print_aligned_stragglers_first)
{
	grace_report *r = sample();
	char *text = capture_print(r, grace_report_print);
	/* The summary, then one line per thread. */
	char *line[7] = {0};
	int n = 0;
	for (char *p = strtok(text, "\n"); p != NULL && n < 7; p = strtok(NULL, "\n"))
		line[n++] = p;
	ASSERT_EQ(n, 6);
	ASSERT_TRUE(strstr(line[0], "group 'sample \"group\"'") != NULL);
	ASSERT_TRUE(strstr(line[0], "3 of 5 threads stopped, 2 stragglers") != NULL);
	ASSERT_TRUE(strstr(line[0], "reason 7") != NULL);
	ASSERT_TRUE(strstr(line[1], "spinner") != NULL);
	ASSERT_TRUE(strstr(line[1], "STRAGGLER") != NULL);
	ASSERT_TRUE(strstr(line[1], "running its own code") != NULL);
	ASSERT_TRUE(strstr(line[1], "250.0 ms") != NULL);
	ASSERT_TRUE(strstr(line[2], "blocked in queue_get on 'jobs'") != NULL);
	ASSERT_TRUE(strstr(line[2], "1.50 s") != NULL);
	ASSERT_TRUE(strstr(line[3], "fast") != NULL);
	ASSERT_TRUE(strstr(line[3], "stopped") != NULL);
	ASSERT_TRUE(strstr(line[3], "40.0 us") != NULL);
	ASSERT_TRUE(strstr(line[3], "stop requested") != NULL); /* -ECANCELED named */
	ASSERT_TRUE(strstr(line[4], "result 12") != NULL);
	/* Aligned: the status column starts at the same place on every line. */
	size_t col = 0;
	for (int i = 1; i < n; i++) {
		char *s = strstr(line[i], "STRAGGLER");
		if (s == NULL)
			s = strstr(line[i], "stopped");
		ASSERT_TRUE(s != NULL);
		if (i == 1)
			col = (size_t)(s - line[i]);
		ASSERT_EQ((size_t)(s - line[i]), col);
	}
	free(text);
	grace_report_free(r);
}

TEST(json)
{
	grace_report *r = sample();
	char *text = capture_print(r, grace_report_json);
	const char *head = "{\"group\":\"sample \\\"group\\\"\",\"reason\":7,";
	ASSERT_TRUE(strncmp(text, head, strlen(head)) == 0);
	ASSERT_TRUE(strstr(text, "\"elapsed_ns\":251000000") != NULL);
	ASSERT_TRUE(strstr(text, "\"stragglers\":2") != NULL);
	ASSERT_TRUE(strstr(text, "{\"name\":\"spinner\",\"exited\":false,\"blocked_op\":null,"
	                         "\"blocked_on\":null,\"blocked_ns\":250000000}") != NULL);
	ASSERT_TRUE(strstr(text, "\"blocked_op\":\"queue_get\",\"blocked_on\":\"jobs\"") != NULL);
	char want[160];
	snprintf(want, sizeof want,
	         "{\"name\":\"fast\",\"exited\":true,\"result\":%d,\"result_name\":\"stop requested\","
	         "\"stop_ns\":40000}",
	         -ECANCELED);
	ASSERT_TRUE(strstr(text, want) != NULL);
	ASSERT_TRUE(strstr(text, "\"name\":\"tab\\u0009here\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"result\":12,\"result_name\":null") != NULL);
	size_t len = strlen(text);
	ASSERT_TRUE(len > 2 && text[len - 1] == '\n' && text[len - 2] == '}');
	free(text);
	grace_report_free(r);
}

TEST(write_error_and_null)
{
	grace_report *r = sample();
	FILE *ro = fopen("/dev/null", "r");
	ASSERT_TRUE(ro != NULL);
	ASSERT_RC(grace_report_print(r, ro), -EIO);
	ASSERT_RC(grace_report_json(r, ro), -EIO);
	fclose(ro);
	ASSERT_RC(grace_report_print(r, NULL), -EINVAL);
	ASSERT_RC(grace_report_json(r, NULL), -EINVAL);
	ASSERT_RC(grace_report_print(NULL, stdout), -EINVAL);
	ASSERT_EQ(grace_report_count(NULL), 0);
	grace_report_free(r);
	grace_report_free(NULL);
}

static int quick(grace_stop *stop, void *arg)
{
	(void)stop;
	return (int)(intptr_t)arg;
}

TEST(from_a_group)
{
	grace_group *g;
	ASSERT_RC(grace_group_new(&g, "real", NULL), 0);
	ASSERT_RC(grace_group_spawn(g, "q1", quick, (void *)(intptr_t)4), 0);
	ASSERT_RC(grace_group_spawn(g, "q2", quick, NULL), 0);
	grace_report *r;
	int64_t t0 = grace_now();
	ASSERT_RC(grace_group_shutdown(g, 3, GRACE_FOREVER, &r), 0);
	int64_t took = grace_now() - t0;
	ASSERT_EQ(grace_report_count(r), 2);
	ASSERT_LE(r->elapsed_ns, took);
	ASSERT_GE(r->elapsed_ns, 0);
	int results = 0;
	for (size_t i = 0; i < 2; i++) {
		const grace_report_entry *e = grace_report_at(r, i);
		ASSERT_TRUE(e->exited);
		ASSERT_GE(e->stop_ns, 0); /* they may have ended before the call: 0 */
		results += e->result;
	}
	ASSERT_EQ(results, 4);
	char *text = capture_print(r, grace_report_print);
	/* The reason that took effect: ours, or the errgroup's if q1's result
	 * of 4 stopped the group before our shutdown asked. */
	ASSERT_TRUE(strstr(text, "group 'real' shutdown (reason 3)") != NULL ||
	            strstr(text, "group 'real' shutdown (sibling failed)") != NULL);
	free(text);
	grace_report_free(r);
	ASSERT_RC(grace_group_free(g), 0);
}

TEST(reason_names)
{
	grace_report *r = grace__report_new("g", GRACE_REASON_SIGNAL(2), 0);
	ASSERT_TRUE(r != NULL);
	grace__report_finish(r, 0);
	char *text = capture_print(r, grace_report_print);
	ASSERT_TRUE(strstr(text, "(signal 2)") != NULL);
	ASSERT_TRUE(strstr(text, "0 of 0 threads stopped, 0 stragglers") != NULL);
	free(text);
	grace_report_free(r);
}

TEST_LIST(T(order_and_accessors), T(print_aligned_stragglers_first), T(json), T(write_error_and_null),
          T(from_a_group), T(reason_names))
