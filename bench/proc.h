/*
 * proc.h - what the benchmarks read of their own threads from /proc: a
 * thread's scheduler state (to wait until it really sleeps before a stop is
 * requested) and its context switches (to count idle wake-ups). Shared by
 * the C benchmark programs; Linux only, as the benchmarks are.
 */
#ifndef GRACE_BENCH_PROC_H
#define GRACE_BENCH_PROC_H

#include <stdio.h>
#include <string.h>

/* The scheduler state letter of one of our threads, '?' if unreadable. */
static inline char task_state(int tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '?';
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Voluntary plus involuntary context switches of one of our threads. */
static inline long task_switches(int tid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long sum = 0, v;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			sum += v;
	}
	fclose(f);
	return sum;
}

#endif
