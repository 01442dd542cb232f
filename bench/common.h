/* SPDX-License-Identifier: MIT */
/*
 * common.h - what the C benchmark programs share: the clock, the median of
 * repeated runs, the RESULT line bench/run.sh collects, and what they read
 * of their own threads from /proc (a thread's scheduler state, to wait
 * until it really sleeps before a stop is requested, and its context
 * switches, to count idle wake-ups). Linux only, as the benchmarks are.
 */
#ifndef GRACE_BENCH_COMMON_H
#define GRACE_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of n values (sorts them in place). */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One measurement, in the line format bench/run.sh collects. */
static inline void result(const char *scenario, const char *peer, double value, const char *unit,
                          const char *better)
{
	fflush(stderr);
	printf("RESULT %s %s %.3f %s %s\n", scenario, peer, value, unit, better);
	fflush(stdout);
}

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
