/* SPDX-License-Identifier: MIT */
/*
 * queue_stress.c - the queue's soak: the conservation rounds of
 * tests/queue_stress.h with more threads and items, for SECONDS seconds
 * (default 600), cycling through producer/consumer shapes. Built by CMake,
 * run by `make stress`, not by ctest. Prints one line per shape and a
 * summary: rounds, items, lost and duplicated (both must be 0), and the
 * line "SUMMARY queue ..." that tests/stress/run.sh collects; exits 1 if
 * anything was lost, duplicated, reordered or mis-counted.
 */
#include "../queue_stress.h"

#include <inttypes.h>

int main(void)
{
	const char *e = getenv("SECONDS");
	double seconds = e != NULL ? atof(e) : 600;
	if (seconds <= 0)
		seconds = 600;
	static const int shapes[][3] = {{1, 1, 2000}, {2, 2, 1000}, {4, 4, 500}, {6, 2, 500}, {2, 6, 1000}, {8, 8, 250}};
	const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
	grace_deadline end = grace_after_ms((int64_t)(seconds * 1000));
	struct qs_totals all;
	memset(&all, 0, sizeof all);
	unsigned seed = (unsigned)grace_now();
	printf("queue_stress: %.0f s, seed %u\n", seconds, seed);
	for (int round = 0; grace_now() < end; round++) {
		const int *sh = shapes[round % nshapes];
		struct qs s;
		if (qs_init(&s, sh[0], sh[1], sh[2], seed + (unsigned)round) != 0) {
			fprintf(stderr, "queue_stress: cannot start threads\n");
			return 2;
		}
		/* A slice of the time per shape. */
		grace_deadline slice = grace_after_ms(2000);
		while (grace_now() < slice && grace_now() < end)
			qs_round(&s);
		printf("%dP/%dC: rounds %" PRIu64 " items %" PRIu64 " (got %" PRIu64 ", drained %" PRIu64
		       ") lost %" PRIu64 " duplicated %" PRIu64 " phantom %" PRIu64 " disordered %" PRIu64
		       " join %" PRIu64 " free %" PRIu64 "\n",
		       sh[0], sh[1], s.t.rounds, s.t.put, s.t.got, s.t.drained, s.t.lost, s.t.duplicated,
		       s.t.phantom, s.t.disordered, s.t.join_wrong, s.t.free_failed);
		all.rounds += s.t.rounds;
		all.put += s.t.put;
		all.got += s.t.got;
		all.drained += s.t.drained;
		all.lost += s.t.lost;
		all.duplicated += s.t.duplicated;
		all.phantom += s.t.phantom;
		all.disordered += s.t.disordered;
		all.join_wrong += s.t.join_wrong;
		all.free_failed += s.t.free_failed;
		qs_fini(&s);
	}
	printf("rounds %" PRIu64 " items %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64 "\n", all.rounds, all.put,
	       all.lost, all.duplicated + all.phantom);
	bool bad = all.lost + all.duplicated + all.phantom + all.disordered + all.join_wrong + all.free_failed != 0 ||
	           all.got + all.drained != all.put;
	printf("%s\n", bad ? "FAILED" : "ok");
	printf("SUMMARY queue rounds %" PRIu64 " items %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64
	       " wrong %" PRIu64 " %s\n",
	       all.rounds, all.put, all.lost, all.duplicated + all.phantom,
	       all.disordered + all.join_wrong + all.free_failed, bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
