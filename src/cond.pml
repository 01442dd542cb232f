/*
 * cond.pml - a Promela model of grace_cond (src/cond.c), checked with spin
 * by tests/model_test.sh beside the wait core's model (src/wait.pml).
 *
 * It models, step for step, grace_cond_wait, grace_cond_signal and
 * grace_cond_broadcast, a caller's mutex, and consumers and a producer that
 * use them as the documentation says: the predicate (`items`) changes only
 * under the mutex, a consumer re-checks it after every return and leaves on
 * any error. Each shared access of the C code is one step; an RMW is one
 * atomic step; the accesses are seq_cst in the code, so spin's sequentially
 * consistent interleavings are the executions to check.
 *
 * The wait core (grace__wait_nospin, src/wait.c) is taken as src/wait.pml
 * verifies it, and written here as what it promises: a sleeper sleeps while
 * the cond's word `seq` holds its value and, if it has the stop, while the
 * stop is not requested, checked atomically with going to sleep; a stop
 * request wakes every sleeper that has the stop (futex_waitv, or the lot's
 * stop callback: wait.pml checks that step) without any mutex; then it
 * answers what is true: the word first, then the stop, then the deadline.
 * The engines differ in what a wake of `seq` does:
 *  - default: futex_waitv. A wake of one (signal) ends the sleep of exactly
 *    one sleeper on `seq`, any one; a wake of all (broadcast) ends each.
 *  - LOT (spin -DLOT): the lot broadcasts the word's bucket: every wake
 *    ends every sleep on `seq`.
 * The spin before sleeping may end as soon as `seq` changed or the stop was
 * requested, or run out at any moment.
 *
 * Properties:
 *  - no lost wake-up: when nothing can move any more (spin's `timeout`), no
 *    consumer sleeps while an item waits for it, and none that has the stop
 *    sleeps once the stop is requested (a stop always ends the wait);
 *  - no deadlock: the producer and the requester have ended (the requester
 *    may hold the caller's mutex while it requests: -DSTOP_LOCKED), and
 *    every consumer has returned or sleeps in the wait;
 *  - results as documented: a wait returns holding the mutex; -ECANCELED
 *    only with the stop requested; -ETIMEDOUT only with a deadline; every
 *    item put is taken or still there; the counters come back to the
 *    sleepers' count.
 *
 * Protocol variants that drop one step, each of which spin must refute
 * (tests/model_test.sh checks that it does):
 *  - BUG_SEQ_AFTER_UNLOCK: the waiter reads `seq` after unlocking the
 *    caller's mutex, so a signal made in between is not seen.
 *  - BUG_REGISTER_AFTER_UNLOCK: the waiter counts itself in `waiters` after
 *    unlocking, so a signal in between finds no waiter and does nothing.
 *  - BUG_SLEEPERS_BEFORE_BUMP: the signaller reads `sleepers` before it
 *    bumps `seq`, so a waiter that counts itself and sleeps in between is
 *    not woken.
 *  - BUG_STOP_BEFORE_WORD: a waiter woken while its stop is requested
 *    answers -ECANCELED without looking at `seq` first, so a stopped waiter
 *    that took a wake-one leaves another asleep beside an item (the reason
 *    the wait core reports the word first, and cond.c does too).
 *
 * Size: NC consumers, each taking one item; the last has no stop (NULL),
 * the others share the stop (-DALL_STOP: every one has it); -DTIMED gives
 * consumer 0 a deadline; -DSPURIOUS gives each sleep one spurious wake-up.
 * The producer puts NP items (default NC), each signalled under the mutex
 * or after unlocking it (both are tried), or broadcast (-DBCAST). The
 * requester may request the stop at any moment, or not at all
 * (-DNO_STOP: never).
 */

#ifndef NC
#define NC 2
#endif
#ifndef NP
#define NP NC
#endif

#define REQ 1
/* Results. */
#define R_OK 0
#define R_CANCELED 1
#define R_TIMEDOUT 2
/* Where a consumer is (ghost). */
#define C_RUN 1
#define C_ASLEEP 2
#define C_DONE 3

byte seq;      /* grace_cond.seq */
byte waiters;  /* grace_cond.waiters */
byte sleepers; /* grace_cond.sleepers */
byte sw;       /* the stop's word: REQ */
byte mh;       /* the caller's mutex: 0 free, else holder's _pid + 1 */
byte items;    /* the predicate: items put and not yet taken */

/* Ghost state. */
byte st[NC];       /* C_RUN, C_ASLEEP, C_DONE */
bool asleep[NC];   /* in the engine's sleep on seq */
bool hasstop[NC];
bool timed[NC];
bool expired[NC];
byte spur[NC];
byte taken;
bool producer_done;
bool stopper_done;
hidden byte wj, wleft;

inline lock()
{
	atomic { mh == 0 -> mh = _pid + 1 }
}

inline unlock()
{
	assert(mh == _pid + 1);
	mh = 0
}

/* A wake of seq by the engine: one sleeper (any) or all of them. */
inline wake_seq(all)
{
#ifndef LOT
	if
	:: all ->
		d_step {
			wj = 0;
			do
			:: wj < NC -> asleep[wj] = 0; wj++
			:: else -> break
			od
		}
	:: else ->
		atomic {
			wj = 0;
			wleft = 0;
			do
			:: wj < NC -> wleft = wleft + asleep[wj]; wj++
			:: else -> break
			od;
			wj = 0;
			do
			:: wleft == 0 -> break
			:: wleft > 0 && asleep[wj] -> asleep[wj] = 0; break
			:: wleft > 1 && asleep[wj] -> wleft--; wj++
			:: wleft > 0 && !asleep[wj] -> wj++
			od;
			wj = 0;
			wleft = 0
		}
	fi
#else
	/* The lot broadcasts the bucket, whatever n says. */
	d_step {
		wj = 0;
		do
		:: wj < NC -> asleep[wj] = 0; wj++
		:: else -> break
		od
	}
#endif
}

/* ---- grace_cond_signal (all = 0) and grace_cond_broadcast (all = 1) ---- */
inline signal(all)
{
	/* if (load(&c->waiters) == 0) return 0; */
	if
	:: waiters == 0 -> skip
	:: else ->
#ifdef BUG_SLEEPERS_BEFORE_BUMP
		ns = sleepers;
#endif
		/* fetch_add(&c->seq, 1) */
		seq++;
#ifndef BUG_SLEEPERS_BEFORE_BUMP
		ns = sleepers;
#endif
		if
		:: ns != 0 -> wake_seq(all)
		:: else -> skip
		fi
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
	byte s, v, r;
	bool passed;

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
#ifndef BUG_REGISTER_AFTER_UNLOCK
		waiters++;
#endif
#ifndef BUG_SEQ_AFTER_UNLOCK
		s = seq;
#endif
		unlock();
#ifdef BUG_REGISTER_AFTER_UNLOCK
		waiters++;
#endif
#ifdef BUG_SEQ_AFTER_UNLOCK
		s = seq;
#endif
		/* grace__spin: ends when seq changed or the stop is requested,
		 * or runs out at any moment. */
		if
		:: seq != s -> r = R_OK; goto cw_woke
		:: hasstop[i] && (sw & REQ) != 0 ->
			if
			:: seq != s -> r = R_OK
			:: else -> r = R_CANCELED
			fi;
			goto cw_woke
		:: skip
		fi;
		/* ---- wait_asleep ---- */
		sleepers++;
		v = seq;
		r = R_OK;
		do
		:: v != s -> break
		:: else ->
			/* grace__wait_nospin(&c->seq, s, stop, d): the stop
			 * first, then the deadline (a try), then the sleep. */
			if
			:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto gw_done
			:: else -> skip
			fi;
			clock_passed(passed);
			if
			:: passed ->
				if
				:: seq != s -> r = R_OK
				:: else -> r = R_TIMEDOUT
				fi;
				goto gw_done
			:: else -> skip
			fi;
			d_step {
				if
				:: seq == s && !(hasstop[i] && (sw & REQ) != 0) -> asleep[i] = 1; st[i] = C_ASLEEP
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
#ifndef BUG_STOP_BEFORE_WORD
			:: seq != s -> r = R_OK
			:: seq == s && hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED
#else
			:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED
			:: !(hasstop[i] && (sw & REQ) != 0) && seq != s -> r = R_OK
#endif
			:: else ->
				clock_passed(passed);
				if
				:: r == R_TIMEDOUT || passed -> r = R_TIMEDOUT
				:: else -> r = R_OK
				fi
			fi;
gw_done:
			v = seq;
			if
			:: r != R_OK -> break
			:: else -> skip
			fi
		od;
		sleepers--;
#ifndef BUG_STOP_BEFORE_WORD
		if
		:: v != s -> r = R_OK
		:: else -> skip
		fi;
#endif
cw_woke:
		waiters--;
		lock();
cw_held:
		/* Back with the mutex, whatever happened. */
		assert(mh == _pid + 1);
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
	byte n = 0, ns;
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
#ifndef LOT
				:: hasstop[k] -> asleep[k] = 0
#else
				/* The lot: each stop callback wakes the
				 * cond's bucket, every sleeper of seq. */
				:: hasstop[k] -> asleep[0] = 0; asleep[NC - 1] = 0; asleep[k] = 0
#endif
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
		assert(mh == 0);
		assert(taken + items == NP);
		k = 0;
		nasleep = 0;
		do
		:: k < NC ->
			assert(st[k] == C_DONE || st[k] == C_ASLEEP);
			if
			:: st[k] == C_ASLEEP ->
				assert(asleep[k]);
				/* No item waits beside a sleeper... */
				assert(items == 0);
				/* ...and a stop requested has ended its wait. */
				assert(!hasstop[k] || (sw & REQ) == 0);
				nasleep++
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		assert(waiters == nasleep && sleepers == nasleep)
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
