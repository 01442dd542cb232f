/* SPDX-License-Identifier: MIT */
/*
 * drd_detached_join.c - why tests/valgrind/grace.supp has the entry
 * thread-joined-outcome-drd. Plain pthreads, no grace:
 *
 *   cc -g -pthread tests/valgrind/drd_detached_join.c -o /tmp/dj
 *   valgrind --tool=drd --trace-fork-join=yes /tmp/dj
 *
 * A finishes, is then detached, and glibc hands its pthread_t to B. A third
 * thread joins B and reads what B wrote. DRD 3.19 still counts A as live
 * (it forgets a detached thread only when it was detached before it
 * finished), so it takes the join of B for a join of A ("joinee" in the
 * trace) and reports the read as a conflict. Helgrind reports nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int value;

static void *a_main(void *p)
{
	return p;
}

static void *b_main(void *p)
{
	value = 77;
	return p;
}

static void *c_main(void *p)
{
	pthread_join(*(pthread_t *)p, NULL);
	printf("value %d\n", value); /* ordered by the join */
	return NULL;
}

int main(void)
{
	pthread_t a, b, c;
	pthread_create(&a, NULL, a_main, NULL);
	usleep(200000); /* let A finish */
	pthread_detach(a);
	pthread_create(&b, NULL, b_main, NULL);
	printf("A %s B's pthread_t\n", pthread_equal(a, b) ? "shares" : "does not share");
	pthread_create(&c, NULL, c_main, &b);
	pthread_join(c, NULL);
	return 0;
}
