/*
 * thread.c - grace threads (placeholder until the threads part lands).
 */
#include "internal.h"

void grace__threads_print(FILE *f)
{
	(void)f;
}
