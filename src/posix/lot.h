/* lot.h - mutex + condvar word waits (see lot.c). */
#ifndef GRACE_LOT_H
#define GRACE_LOT_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleep while *w == val and (stopw == NULL or bit 0 of *stopw is clear),
 * until d. Returns 0 or -ETIMEDOUT. */
int grace__lot_wait(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *stopw, int64_t d);

/* Wake every sleeper on w (and, harmlessly, others sharing its bucket). */
void grace__lot_wake(_Atomic uint32_t *w);

#endif
