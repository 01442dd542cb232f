/* SPDX-License-Identifier: MIT */
/*
 * cond.pml - a Promela model of grace_cond (src/cond.c) on the waiter
 * lists of src/word.c, checked with spin by tests/model_test.sh beside the
 * wait core's model (src/wait.pml).
 *
 * It models, step for step, grace_cond_wait, grace_cond_signal and
 * grace_cond_broadcast, the list operations they use (grace__wlist_link,
 * _sleep, _leave, _take), a caller's mutex, and consumers and a producer
 * that use them as the documentation says: the predicate (`items`) changes
 * only under the mutex, and a consumer re-checks it after every return and
 * leaves on any error. Each shared access of the C code is one step; an
 * RMW is one atomic step; the accesses the protocol depends on are seq_cst
 * in the code, so spin's sequentially consistent interleavings are the
 * executions to check. The bucket's lock is modelled as a lock; a step
 * under it that touches only what the lock guards (the list) is merged
 * with its neighbour.
 *
 * The wait core (grace__wait_nospin, src/wait.c) is taken as src/wait.pml
 * verifies it, and written here as what it promises: a waiter sleeps on
 * its record's state word while that word holds SLEEPING alone and, if it
 * has the stop, while the stop is not requested, checked atomically with
 * going to sleep; a stop request wakes every sleeper that has the stop
 * (futex_waitv, or the lot's stop callback) without any mutex; then it
 * answers what is true: the word first, then the stop, then the deadline.
 * A wake of a record's word ends that waiter's sleep; with -DLOT it ends
 * every sleep, as the lot's bucket broadcast may (spurious wake-ups). The
 * spin before sleeping may end as soon as the record is taken or the stop
 * requested, or run out at any moment.
 *
 * Properties:
 *  - no lost wake-up: when nothing can move any more (spin's `timeout`), no
 *    consumer sleeps while an item waits for it, and none that has the stop
 *    sleeps once the stop is requested (a stop always ends the wait);
 *  - no deadlock: the producer and the requester have ended (the requester
 *    may hold the caller's mutex while it requests: -DSTOP_LOCKED), and
 *    every consumer has returned or sleeps in the wait;
 *  - results as documented: a wait returns holding the mutex; 0 only for a
 *    waiter a signal or broadcast took; -ECANCELED only with the stop
 *    requested; -ETIMEDOUT only with a deadline; a signal takes the oldest
 *    record; every item put is taken or still there; the counts come back
 *    to the sleepers'.
 *
 * Protocol variants that drop one step, each of which spin must refute
 * (tests/model_test.sh checks that it does):
 *  - BUG_LINK_AFTER_UNLOCK: the waiter links its record after unlocking the
 *    caller's mutex, so a signal made in between finds no one.
 *  - BUG_COUNT_AFTER_UNLOCK: the waiter links under the mutex but counts
 *    itself in `waiters` only after unlocking, so a signal in between takes
 *    the fast path and does nothing.
 *  - BUG_WAKE_BY_LOOK: the waker reads SLEEPING with a load before its RMW
 *    that sets TAKEN, so a waiter that says it sleeps in between sleeps
 *    without a wake.
 *  - BUG_ERROR_DROPS_TAKEN: a waiter that its stop (or deadline) ends
 *    answers the error without looking whether a signal took it, so the
 *    signal's wake-up is lost and another waiter sleeps beside an item.
 *
 * Size: NC consumers, each taking one item; the last has no stop (NULL),
 * the others share the stop (-DALL_STOP: every one has it); -DTIMED gives
 * consumer 0 a deadline; -DSPURIOUS gives each sleep one spurious wake-up.
 * The producer puts NP items (default NC), each signalled under the mutex
 * or after unlocking it (both are tried), or broadcast (-DBCAST). The
 * requester may request the stop at any moment, or not at all (-DNO_STOP).
 */

#ifndef NC
#define NC 2
#endif
#ifndef NP
#define NP NC
#endif

#define REQ 1
#define TAKEN 1
#define SLEEPING 2
/* Results. */
#define R_OK 0
#define R_CANCELED 1
#define R_TIMEDOUT 2
/* Where a consumer is (ghost). */
#define C_RUN 1
#define C_ASLEEP 2
#define C_DONE 3

byte waiters;  /* grace_cond.waiters */
byte sw;       /* the stop's word: REQ */
byte mh;       /* the caller's mutex: 0 free, else holder's _pid + 1 */
byte bl;       /* the bucket's lock: 0 free, else holder's _pid + 1 */
byte items;    /* the predicate: items put and not yet taken */
byte tick;     /* link order, for the oldest-first check */

/* Each consumer's record. */
bool linked[NC]; /* in the bucket's list (guarded by bl) */
byte tk[NC];     /* its link order (guarded by bl) */
byte state[NC];  /* TAKEN, SLEEPING */

/* Ghost state. */
byte st[NC];       /* C_RUN, C_ASLEEP, C_DONE */
bool asleep[NC];   /* in the engine's sleep on state[i] */
bool hasstop[NC];
bool timed[NC];
bool expired[NC];
byte spur[NC];
byte taken;
bool producer_done;
bool stopper_done;
hidden byte wj;

inline lock()
{
	atomic { mh == 0 -> mh = _pid + 1 }
}

inline unlock()
{
	assert(mh == _pid + 1);
	mh = 0
}

inline block()
{
	atomic { bl == 0 -> bl = _pid + 1 }
}

inline bunlock()
{
	assert(bl == _pid + 1);
	bl = 0
}

/* The engine's wake of record j's state word. */
inline wake_record(j)
{
#ifndef LOT
	asleep[j] = 0
#else
	d_step {
		wj = 0;
		do
		:: wj < NC -> asleep[wj] = 0; wj++
		:: else -> break
		od
	}
#endif
}

/* ---- grace__wlist_take(c, all ? INT_MAX : 1, &c->waiters), after the
 * fast path (waiters != 0) ---- */
inline take(all)
{
	block();
	do
	:: true ->
		/* The oldest linked record (the list's first), or none. */
		d_step {
			j = NC;
			wj = 0;
			do
			:: wj < NC -> if
				:: linked[wj] && (j == NC || tk[wj] < tk[j]) -> j = wj
				:: else -> skip
				fi;
				wj++
			:: else -> break
			od
		};
		if
		:: j == NC -> break
		:: else -> skip
		fi;
		/* It is the oldest waiter: none linked before it is left. */
		linked[j] = 0;
		waiters--;
#ifndef BUG_WAKE_BY_LOOK
		d_step { wo = state[j]; state[j] = state[j] | TAKEN };
#else
		wo = state[j];
		state[j] = state[j] | TAKEN;
#endif
		if
		:: (wo & SLEEPING) != 0 -> nw++; wake_record(j)
		:: else -> skip
		fi;
		if
		:: !all -> break
		:: else -> skip
		fi
	od;
	bunlock()
}

/* ---- grace_cond_signal (all = 0) and grace_cond_broadcast (all = 1) ---- */
inline signal(all)
{
	if
	:: waiters == 0 -> skip
	:: else -> take(all)
	fi
}

/* `now >= d` for consumer i: monotonic, and free to pass at any moment. */
inline clock_passed(res)
{
	if
	:: !timed[i] -> res = 0
	:: timed[i] && expired[i] -> res = 1
	:: timed[i] && !expired[i] -> res = 0
	:: timed[i] && !expired[i] -> expired[i] = 1; res = 1
	fi
}

/* ---- a consumer: take one item, or leave on the first error ---- */
proctype consumer(byte i)
{
	byte r, old;
	bool passed, left;

	lock();
	do
	:: items > 0 -> items--; taken++; r = R_OK; break
	:: items == 0 ->
		/* ---- r = grace_cond_wait(&c, &m, stop, d) ---- */
		if
		:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto cw_held
		:: else -> skip
		fi;
		clock_passed(passed);
		if
		:: passed -> r = R_TIMEDOUT; goto cw_held
		:: else -> skip
		fi;
#ifdef BUG_LINK_AFTER_UNLOCK
		unlock();
#endif
		/* grace__wlist_link(&me, c, NULL, 0, &c->waiters) */
		block();
		d_step { state[i] = 0; linked[i] = 1; tk[i] = tick; tick++ };
#ifndef BUG_COUNT_AFTER_UNLOCK
		waiters++;
#endif
		bunlock();
#ifndef BUG_LINK_AFTER_UNLOCK
		unlock();
#endif
#ifdef BUG_COUNT_AFTER_UNLOCK
		waiters++;
#endif
		r = R_OK;
		/* grace__spin(&me.state, 0, stop), then, unless taken, sleep. */
		if
		:: (state[i] & TAKEN) != 0 -> goto cw_woke
		:: skip
		fi;
		do
		:: true ->
			/* grace__wlist_sleep: fetch_or(SLEEPING)... */
			d_step { old = state[i]; state[i] = state[i] | SLEEPING };
			if
			:: (old & TAKEN) != 0 -> r = R_OK; goto sl_done
			:: else -> skip
			fi;
			/* ...then grace__wait_nospin(&me.state, SLEEPING, stop, d):
			 * the stop, the deadline (a try), the sleep. */
			if
			:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto sl_done
			:: else -> skip
			fi;
			clock_passed(passed);
			if
			:: passed ->
				if
				:: state[i] != SLEEPING -> r = R_OK
				:: else -> r = R_TIMEDOUT
				fi;
				goto sl_done
			:: else -> skip
			fi;
			d_step {
				if
				:: state[i] == SLEEPING && !(hasstop[i] && (sw & REQ) != 0) -> asleep[i] = 1; st[i] = C_ASLEEP
				:: else -> skip
				fi
			};
			if
			:: !asleep[i] -> st[i] = C_RUN
			:: timed[i] && asleep[i] -> d_step { asleep[i] = 0; expired[i] = 1; r = R_TIMEDOUT; st[i] = C_RUN }
			:: spur[i] > 0 && asleep[i] -> d_step { asleep[i] = 0; spur[i]--; st[i] = C_RUN }
			fi;
			/* Report what is true now: the word first. */
			if
			:: state[i] != SLEEPING -> r = R_OK
			:: state[i] == SLEEPING && hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED
			:: else ->
				clock_passed(passed);
				if
				:: r == R_TIMEDOUT || passed -> r = R_TIMEDOUT
				:: else -> r = R_OK
				fi
			fi;
sl_done:
			/* while (r == 0 && !taken) */
			if
			:: r == R_OK && (state[i] & TAKEN) == 0 -> skip
			:: else -> break
			fi
		od;
		if
		:: r != R_OK ->
#ifndef BUG_ERROR_DROPS_TAKEN
			/* grace__wlist_leave: false (taken) makes it 0. */
			left = 0;
			if
			:: (state[i] & TAKEN) == 0 ->
				block();
				if
				:: (state[i] & TAKEN) == 0 -> linked[i] = 0; waiters--; left = 1
				:: else -> skip
				fi;
				bunlock()
			:: else -> skip
			fi;
			if
			:: !left -> r = R_OK
			:: else -> skip
			fi
#else
			block();
			if
			:: (state[i] & TAKEN) == 0 -> linked[i] = 0; waiters--
			:: else -> skip
			fi;
			bunlock()
#endif
		:: else -> skip
		fi;
cw_woke:
		lock();
cw_held:
		/* Back with the mutex, whatever happened. */
		assert(mh == _pid + 1);
		assert(r != R_OK || (state[i] & TAKEN) != 0);
		assert(r != R_CANCELED || (hasstop[i] && (sw & REQ) != 0));
		assert(r != R_TIMEDOUT || timed[i]);
		if
		:: r != R_OK -> break
		:: else -> skip
		fi
	od;
	unlock();
	st[i] = C_DONE
}

/* ---- the producer ---- */
active proctype producer()
{
	byte n = 0, j, nw, wo;
	do
	:: n < NP ->
		lock();
		items++;
#ifndef BCAST
		if
		:: signal(0); unlock()
		:: unlock(); signal(0)
		fi;
#else
		unlock();
		signal(1);
#endif
		n++
	:: else -> break
	od;
	producer_done = 1
}

/* ---- the requester: grace_stop_request, the wait core's part ---- */
active proctype stopper()
{
	byte k;
#ifndef NO_STOP
	if
	:: skip
	::
#ifdef STOP_LOCKED
		lock();
#endif
		/* Set the flag, then every sleeper that has the stop wakes;
		 * no mutex of the caller's is needed. */
		sw = sw | REQ;
		d_step {
			k = 0;
			do
			:: k < NC -> if
				:: hasstop[k] -> asleep[k] = 0
				:: else -> skip
				fi;
				k++
			:: else -> break
			od
		};
#ifdef STOP_LOCKED
		unlock();
#endif
		skip
	fi;
#endif
	stopper_done = 1
}

/* ---- the monitor: nothing can move any more; check who is left ---- */
active proctype monitor()
{
	byte k, nasleep;
	atomic {
		timeout ->
		assert(producer_done && stopper_done);
		assert(mh == 0 && bl == 0);
		assert(taken + items == NP);
		k = 0;
		nasleep = 0;
		do
		:: k < NC ->
			assert(st[k] == C_DONE || st[k] == C_ASLEEP);
			if
			:: st[k] == C_ASLEEP ->
				assert(asleep[k] && linked[k]);
				/* No item waits beside a sleeper... */
				assert(items == 0);
				/* ...and a stop requested has ended its wait. */
				assert(!hasstop[k] || (sw & REQ) == 0);
				nasleep++
			:: else -> assert(!linked[k])
			fi;
			k++
		:: else -> break
		od;
		assert(waiters == nasleep)
	}
}

init
{
	atomic {
		byte k = 0;
		do
		:: k < NC ->
#ifdef ALL_STOP
			hasstop[k] = 1;
#else
			hasstop[k] = (k < NC - 1 || NC == 1);
#endif
#ifdef TIMED
			timed[k] = (k == 0);
#endif
#ifdef SPURIOUS
			spur[k] = 1;
#endif
			st[k] = C_RUN;
			run consumer(k);
			k++
		:: else -> break
		od;
		skip
	}
}
