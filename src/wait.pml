/* SPDX-License-Identifier: MIT */
/*
 * wait.pml - a Promela model of grace's wait protocol, checked with spin.
 *
 * It models, step for step, grace_event_wait/set/clear (src/event.c), the
 * wait core grace__wait and sleep_with_stop (src/wait.c), and the parts of
 * the stop they meet (src/stop.c): the request, callbacks and
 * grace_stop_off. Each shared-memory access of the C code is one step here;
 * a read-modify-write (a CAS loop, fetch_or, fetch_add) is one atomic step.
 * The accesses the protocol depends on are seq_cst in the C code, so
 * spin's sequentially consistent interleavings are the executions to
 * check. A critical section under a mutex that holds at most one access to
 * anything shared without that mutex is one step too (Lipton's reduction:
 * the lock moves right, the unlock left); that is how the lot's bucket
 * mutexes and most of the stop's lock appear below. Keep this file beside the code it models and change both together:
 * the comments name the C lines each block stands for.
 *
 * Two engines, as in src/linux/platform.c:
 *  - default: futex_waitv. A futex word wait is "sleep while word == val",
 *    checked atomically with going to sleep; FUTEX_WAKE wakes every sleeper
 *    of that word; a two-word wait sleeps while both words hold their values
 *    and a wake of either word ends it.
 *  - LOT (spin -DLOT): the mutex + condvar buckets of src/lot.c, and
 *    the stop callback that wait.c registers to wake its object's bucket.
 * The spin phase of grace__wait is left out: it only returns early on the
 * same two conditions the code checks after sleeping, and skipping it only
 * means SLEEPERS is set in more runs, which costs the requester a wake.
 *
 * Properties (see docs/reliability.md):
 *  - no lost wake-up: when nothing in the system can move any more (spin's
 *    `timeout`), every waiter has returned or sleeps while its condition
 *    does not hold (no set since its first look, stop not requested);
 *  - no deadlock: at that moment the setter and the requester have ended,
 *    and no waiter is stuck anywhere but in its sleep;
 *  - results as documented: 0 only after a set since the first look,
 *    -ECANCELED only with the waiter's stop requested, -ETIMEDOUT only with
 *    a deadline; the event's waiter count returns to the sleepers' count;
 *  - a stop callback record is touched only while its owner keeps it alive.
 *
 * Protocol variants that drop one step, each of which spin must refute
 * (tests/model_test.sh checks that it does):
 *  - BUG_NO_SLEEPERS_BIT: the waiter does not set SLEEPERS before it sleeps
 *    on the stop's word, so a request does not wake it.
 *  - BUG_WAITERS_READ_BEFORE_SET: the setter looks at `waiters` before its
 *    RMW on the word instead of after it, so a waiter that announces itself
 *    and sleeps in between is not woken.
 *  - BUG_LOT_NO_STOP_CHECK (with LOT): the lot does not look at the stop's
 *    REQUESTED bit under the bucket mutex before sleeping.
 *  - BUG_WAKE_OUTSIDE_RLOCK (with LOT): the runner of a callback wakes an
 *    off-waiter's word after releasing the table's lock, so the waiter may
 *    have returned and its stack word be gone.
 *
 * The parent (spin -DPARENT, futex engine): the stop is the child of a
 * parent stop, and the requester requests the parent, whose phase 1 then
 * requests the child (stop.c flag_tree: claim the reason, set the flag,
 * wake the word if SLEEPERS). A waiter also sleeps on the parent's
 * word (watch_parent in wait.c) and, finding the parent requested before
 * its own stop, requests its stop itself (grace__stop_help_locked), unless
 * the stop has callbacks (-DHASCB), when it sleeps on its own word alone
 * and the parent's requester wakes it. The two race on the reason's CAS.
 * The child's callback may be removed at any moment (its owner's
 * grace_stop_off, under the stop's lock), after which a waiter may help.
 * A helper skips the wake of its stop's word when the stop's first sleeper
 * (grace_stop.sleeper) is itself and no other ever announced itself
 * (OTHERS); the model's waiters share one stop, so that is decided here.
 *  - BUG_PROPAGATE_NO_WAKE (with PARENT HASCB): the propagation does not
 *    wake the child's word, as if every waiter watched the parent.
 *  - BUG_NO_OTHERS (with PARENT HASCB ALL_STOP): a sleeper other than the
 *    first does not set OTHERS, so a helper that is the first sleeper
 *    skips the wake while the other sleeps on the stop's word alone.
 *
 * Size: NW waiters; the last has no stop (NULL), the others share the stop,
 * (-DALL_STOP: every waiter has it), and with -DTIMED waiter 0 also has a
 * deadline. NOPS bounds the setter's
 * set/clear operations. SPURIOUS gives each sleep one spurious wake-up.
 */

#ifndef NW
#define NW 3
#endif
#ifndef NOPS
#define NOPS 3
#endif

/* The event's word (src/event.c). */
#define EV_SET 1
#define EV_DESTROYED 2
#define EV_GEN 4
/* The stop's word (src/internal.h). */
#define REQ 1
#define SLEEPERS 2
#define OTHERS 4
/* Results. */
#define R_OK 0
#define R_CANCELED 1
#define R_TIMEDOUT 2
#define R_INVAL 3
/* Where a waiter is (ghost). */
#define W_CALL 1
#define W_ASLEEP 2
#define W_DONE 3
/* grace_stop_cb.state (src/stop.c). */
#define CB_IDLE 0
#define CB_REGISTERED 1
#define CB_RUNNING 2
#define CB_DONE 3
/* Futex words a waiter may sleep on (bits of fx[i]). */
#define FX_EV 1
#define FX_SW 2
#define FX_PW 4

byte ev;       /* grace_event.word */
byte ewaiters; /* grace_event.waiters */
byte sw;       /* grace_stop.flag.word */
byte owner;    /* grace_stop.sleeper: the first sleeper, as i + 1; 0 none */
hidden byte ao; /* a d_step's scratch: the old value of an RMW */
#ifdef PARENT
byte pw;       /* the parent's grace_stop.flag.word */
bool claimed;  /* the child's reason has been claimed (its CAS) */
bool hascb;    /* the child has a callback (-DHASCB); its owner may remove it */
byte clk;      /* the child's grace_stop.lock: 0 free, else holder's i + 1 */
bool cbowner_done;
#endif

/* Ghost state: what the properties are stated in. */
byte sets;          /* sets that took effect so far */
byte set0[NW];      /* `sets` at the waiter's first look at the word */
byte st[NW];        /* W_CALL, W_ASLEEP, W_DONE */
bool hasstop[NW];   /* the waiter passes the stop (else NULL) */
bool timed[NW];     /* the waiter has a deadline (else GRACE_FOREVER) */
bool expired[NW];   /* its deadline has passed */
byte spur[NW];      /* spurious wake-ups left */
bool setter_done;
bool stopper_done;

#ifndef LOT
/* ---- the futex engine (futex, futex_waitv) ---- */

byte fx[NW]; /* the words waiter i sleeps on; 0: awake */
hidden byte wj;

/* FUTEX_WAKE of every sleeper on `word` (FX_EV or FX_SW). */
inline futex_wake(word)
{
	d_step {
		wj = 0;
		do
		:: wj < NW -> if
			:: (fx[wj] & word) != 0 -> fx[wj] = 0
			:: else -> skip
			fi;
			wj++
		:: else -> break
		od;
		skip
	}
}

/* The sleep itself: until woken, a spurious wake-up, or the deadline. */
inline futex_sleep()
{
	if
	:: fx[i] == 0 -> st[i] = W_CALL
	:: timed[i] && fx[i] != 0 -> d_step { fx[i] = 0; expired[i] = 1; r = R_TIMEDOUT; st[i] = W_CALL }
	:: spur[i] > 0 && fx[i] != 0 -> d_step { fx[i] = 0; spur[i]--; st[i] = W_CALL }
	fi
}

#ifdef PARENT
/* claim() in stop.c for the child: the reason's CAS, then the winner sets
 * the flag and wakes the word if SLEEPERS (grace__stop_raise in wait.c),
 * unless the winner is a sleeper of the stop (self = its i + 1; 0: the
 * parent's requester) that is the only one that ever announced itself; a
 * loser waits for the flag. */
inline claim_child(won, old, self)
{
	d_step {
		if
		:: !claimed -> claimed = 1; won = 1
		:: else -> won = 0
		fi
	};
	if
	:: won ->
		d_step { old = sw; sw = sw | REQ };
		if
		:: (old & SLEEPERS) != 0 && !(self != 0 && (old & OTHERS) == 0 && owner == self) ->
#ifdef BUG_PROPAGATE_NO_WAKE
			if
			:: self != 0 -> futex_wake(FX_SW)
			:: else -> skip
			fi
#else
			futex_wake(FX_SW)
#endif
		:: else -> skip
		fi
	:: else -> (sw & REQ) != 0
	fi
}
#endif

#else
/* ---- the lot (src/lot.c) and the stop's callbacks ---- */

/* Buckets: the event's word, the stop's word, and each waiter's off-wait
 * word (struct offwait in stop.c, on the waiter's stack). Distinct buckets by default; -DSAME_BUCKET puts the
 * event and the stop in one (more broadcasts, never fewer). */
#define B_EV 0
#ifdef SAME_BUCKET
#define B_SW 0
#else
#define B_SW 1
#endif
#define B_OW(k) (2 + (k))
#define NB (2 + NW)

/* The bucket mutexes are not modelled one by one: each critical section
 * under a bucket mutex is one atomic step (see the top of this file), so
 * the mutex is never seen held. */
byte cv[NW];    /* waiter i sleeps on bucket cv[i] - 1's condvar; 0: awake */
byte slk;       /* grace_stop.lock: 0 free, else holder's _pid + 1 */
byte rlk;       /* stop.c's rlock (the table of running callbacks): 0 free, else _pid + 1 */
byte cbst[NW];  /* waiter i's grace_stop_cb.state */
bool ent[NW];   /* its fn is in the table of running callbacks */
bool owq[NW];   /* waiter i's offwait is queued on that entry */
bool oww[NW];   /* waiter i's offwait word */
bool alive[NW]; /* ghost: the record is in scope on waiter i's stack */
bool owlive[NW]; /* ghost: the offwait word is in scope (waiting in off) */
bool fnrun[NW]; /* ghost: the record's fn is running */
hidden byte wj;

/* grace__lot_wake: lock the bucket, broadcast, unlock. */
inline lot_wake(b)
{
	d_step {
		wj = 0;
		do
		:: wj < NW -> if
			:: cv[wj] == b + 1 -> cv[wj] = 0
			:: else -> skip
			fi;
			wj++
		:: else -> break
		od;
		skip
	}
}

/* grace__lot_wait: under the bucket mutex, sleep while `cond` holds
 * (pthread_cond_(timed)wait releases the mutex atomically with sleeping);
 * after waking, take the mutex again and leave. `tm`: the wait has the
 * waiter's deadline (else INT64_MAX). */
inline lot_wait(b, cond, tm)
{
	d_step {
		if
		:: cond -> cv[i] = b + 1; st[i] = W_ASLEEP
		:: else -> skip
		fi
	};
	if
	:: cv[i] == 0 -> st[i] = W_CALL
	:: tm && timed[i] && cv[i] != 0 -> d_step { cv[i] = 0; expired[i] = 1; r = R_TIMEDOUT; st[i] = W_CALL }
	:: spur[i] > 0 && cv[i] != 0 -> d_step { cv[i] = 0; spur[i]--; st[i] = W_CALL }
	fi
}
#endif

/* `now >= d` for waiter i: monotonic, and free to pass at any moment. */
inline clock_passed(res)
{
	if
	:: !timed[i] -> res = 0
	:: timed[i] && expired[i] -> res = 1
	:: timed[i] && !expired[i] -> res = 0
	:: timed[i] && !expired[i] -> expired[i] = 1; res = 1
	fi
}

/* ---- a waiter: grace_event_wait(ev, stop or NULL, d) ---- */

proctype waiter(byte i)
{
	byte w, v, sv, r, t;
	bool passed;
#ifdef LOT
	byte cs;
#endif
#ifdef PARENT
	byte pv, cold;
	bool pwatch, won;
#endif

	/* if (grace_stop_requested(stop)) return -ECANCELED; */
	if
	:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto ret
	:: else -> skip
	fi;
	/* w = atomic_load(&ev->word, acquire), the first look. */
	d_step { w = ev; set0[i] = sets };
	if
	:: (w & EV_DESTROYED) != 0 -> r = R_INVAL; goto ret
	:: (w & EV_SET) != 0 -> r = R_OK; goto ret
	:: else -> skip
	fi;
	/* fetch_add(&ev->waiters, 1, seq_cst); v = load(&ev->word, seq_cst); */
	ewaiters++;
	v = ev;
loop:
	if
	:: v != w -> if
		:: (v & EV_DESTROYED) != 0 -> r = R_INVAL
		:: else -> r = R_OK
		fi;
		goto leave
	:: else -> skip
	fi;

	/* ---- r = grace__wait(&ev->word, w, stop, d) ---- */
	r = R_OK;
	clock_passed(passed);
	if
	:: passed -> if
		:: ev != w -> r = R_OK
		:: else -> r = R_TIMEDOUT
		fi;
		goto gw_done
	:: else -> skip
	fi;
	if
	:: hasstop[i] ->
		/* ---- sleep_with_stop ---- */
#ifdef PARENT
sl_loop:
#endif
		/* announce(stop) */
		sv = sw;
		if
		:: (sv & SLEEPERS) == 0 ->
#ifndef BUG_NO_SLEEPERS_BIT
			/* old = fetch_or(sw, SLEEPERS, seq_cst); sv = old | SLEEPERS;
			 * with PARENT, the first also records itself (the relaxed
			 * store that follows the RMW in the code is folded into it:
			 * a sleeper that read the record before the store would
			 * only set OTHERS, which costs a wake and loses none). */
			d_step {
				ao = sw; sv = sw | SLEEPERS; sw = sv;
#ifdef PARENT
				if
				:: (ao & SLEEPERS) == 0 -> owner = i + 1
				:: else -> skip
				fi
#endif
			}
#else
			skip
#endif
		:: else -> skip
		fi;
#ifdef PARENT
		/* Any other sets OTHERS. Only a helper reads OTHERS and the
		 * record, so the runs without a parent leave both out. */
		if
		:: (sv & OTHERS) == 0 && owner != i + 1 ->
#ifndef BUG_NO_OTHERS
			d_step { sv = sw | OTHERS; sw = sv }
#else
			skip
#endif
		:: else -> skip
		fi;
#endif
		if
		:: (sv & REQ) != 0 -> r = R_CANCELED; goto sleep_done
		:: else -> skip
		fi;
#ifndef LOT
#ifndef PARENT
		/* the engine's wait_stop: futex_waitv on both words. */
		d_step {
			if
			:: ev == w && sw == sv -> fx[i] = FX_EV | FX_SW; st[i] = W_ASLEEP
			:: else -> skip
			fi
		};
		futex_sleep();
#else
		/* watch_parent, under the stop's lock: announce_child on the
		 * parent's word. */
		atomic { clk == 0 -> clk = i + 1 };
		pwatch = 0;
		pv = pw;
		if
		:: (pv & (SLEEPERS | OTHERS)) != (SLEEPERS | OTHERS) ->
			d_step { pv = pw | SLEEPERS | OTHERS; pw = pv }
		:: else -> skip
		fi;
		if
		:: (pv & REQ) == 0 -> clk = 0; pwatch = 1
		:: (pv & REQ) != 0 && hascb -> clk = 0 /* left to the requester */
		:: (pv & REQ) != 0 && !hascb ->
			/* grace__stop_help_locked: request our stop ourselves. */
			claim_child(won, cold, i + 1);
			clk = 0;
			r = R_CANCELED;
			goto sleep_done
		fi;
		/* the engine's wait_stop: futex_waitv on the object, the stop and,
		 * when watched, the parent. */
		d_step {
			if
			:: ev == w && sw == sv && (!pwatch || pw == pv) ->
				fx[i] = FX_EV | FX_SW | (pwatch -> FX_PW : 0); st[i] = W_ASLEEP
			:: else -> skip
			fi
		};
		futex_sleep();
		/* Woken with the object and the stop unchanged while watching
		 * the parent: look at the parent again. */
		if
		:: r != R_TIMEDOUT && pwatch && ev == w && (sw & REQ) == 0 -> goto sl_loop
		:: else -> skip
		fi;
#endif
#else
		/* an engine that does not watch the stop (the lot): the callback path.
		 * grace_stop_cb cb = {0}; grace_stop_on(stop, &cb, wake_word, w) */
		d_step { cbst[i] = CB_IDLE; alive[i] = 1 };
		atomic {
			slk == 0;
			if
			:: (sw & REQ) != 0 -> cs = CB_DONE
			:: else -> cbst[i] = CB_REGISTERED; cs = CB_REGISTERED
			fi
		};
		if
		:: cs == CB_DONE ->
			/* Requested: run fn here, answer 1. */
			cbst[i] = CB_DONE;
			lot_wake(B_EV);
			alive[i] = 0;
			r = R_CANCELED;
			goto sleep_done
		:: else -> skip
		fi;
		/* r = e->wait_stop(w, val, sw, sv, NULL, 0, d): the lot compares REQUESTED */
#ifndef BUG_LOT_NO_STOP_CHECK
		lot_wait(B_EV, ev == w && (sw & REQ) == 0, 1);
#else
		lot_wait(B_EV, ev == w, 1);
#endif
		/* grace_stop_off(&cb): first the state without a lock; a
		 * registered record is taken off under the stop's lock. */
		cs = cbst[i];
		if
		:: cs == CB_REGISTERED ->
			atomic {
				slk == 0;
				if
				:: cbst[i] == CB_REGISTERED -> cbst[i] = CB_IDLE; cs = CB_IDLE
				:: else -> cs = CB_RUNNING
				fi
			};
			if
			:: cs == CB_IDLE -> goto off_done
			:: else -> skip
			fi
		:: cs != CB_REGISTERED && cs != CB_RUNNING -> goto off_done
		:: else -> skip
		fi;
		/* Running (or run since): the table says, under rlock; queue
		 * an offwait on the entry if fn still runs. */
		atomic {
			rlk == 0;
			if
			:: cbst[i] == CB_RUNNING -> assert(ent[i]); owq[i] = 1; oww[i] = 0; owlive[i] = 1; cs = CB_RUNNING
			:: else -> cs = CB_DONE
			fi
		};
		if
		:: cs != CB_RUNNING -> goto off_done
		:: else -> skip
		fi;
		t = r;
		do
		:: oww[i] == 0 -> lot_wait(B_OW(i), oww[i] == 0, 0)
		:: else -> break
		od;
		r = t;
		/* Lock and unlock rlock: the runner's wake, under it, is over. */
		rlk == 0;
		owlive[i] = 0;
off_done:
		/* Off returns only once fn has returned. */
		assert(!fnrun[i]);
		alive[i] = 0;
#endif
sleep_done:
		skip
	:: else ->
		/* grace__os_wait(w, val, d) */
#ifndef LOT
		d_step {
			if
			:: ev == w -> fx[i] = FX_EV; st[i] = W_ASLEEP
			:: else -> skip
			fi
		};
		futex_sleep();
#else
		lot_wait(B_EV, ev == w, 1);
#endif
	fi;
	/* Whatever woke us, report what is true now: the object first. */
	if
	:: ev != w -> r = R_OK; goto gw_done
	:: else -> skip
	fi;
	if
	:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto gw_done
	:: else -> skip
	fi;
	clock_passed(passed);
	if
	:: r == R_TIMEDOUT || passed -> r = R_TIMEDOUT
	:: else -> r = R_OK
	fi;
gw_done:
	/* ---- back in grace_event_wait ---- */
	v = ev;
	if
	:: r != R_OK && v == w -> goto leave
	:: else -> goto loop
	fi;
leave:
	ewaiters--;
ret:
	/* The documented results. */
	assert(r != R_OK || sets > set0[i] || (w & EV_SET) != 0);
	assert(r != R_CANCELED || (hasstop[i] && (sw & REQ) != 0));
	assert(r != R_TIMEDOUT || timed[i]);
	assert(r != R_INVAL);
	st[i] = W_DONE
}

/* ---- the setter: grace_event_set / grace_event_clear ---- */

active proctype setter()
{
	byte n = 0, nw;
	bool did;
	do
	:: n < NOPS ->
#ifdef BUG_WAITERS_READ_BEFORE_SET
		nw = ewaiters;
#endif
		/* grace_event_set: the CAS loop is one RMW. */
		d_step {
			did = 0;
			if
			:: (ev & (EV_SET | EV_DESTROYED)) == 0 -> ev = (ev + EV_GEN) | EV_SET; sets++; did = 1
			:: else -> skip
			fi
		};
		/* if (load(&ev->waiters, seq_cst) != 0) grace__os_wake(&ev->word) */
#ifndef BUG_WAITERS_READ_BEFORE_SET
		nw = ewaiters;
#endif
		if
		:: did && nw != 0 ->
#ifndef LOT
			futex_wake(FX_EV)
#else
			lot_wake(B_EV)
#endif
		:: else -> skip
		fi;
		n++
	:: n < NOPS ->
		/* grace_event_clear */
		d_step {
			if
			:: (ev & EV_SET) != 0 -> ev = ev & ~EV_SET
			:: else -> skip
			fi
		};
		n++
	:: break
	od;
	setter_done = 1
}

/* ---- the requester: grace_stop_request (the winner of the reason CAS) ---- */

active proctype stopper()
{
	byte old;
#ifdef PARENT
	bool won;
#endif
#ifdef LOT
	byte j;
	bool ow;
#endif
	if
	:: skip
#ifdef PARENT
	:: /* The parent's request: fetch_or, wake if SLEEPERS... */
		d_step { old = pw; pw = pw | REQ };
		if
		:: (old & SLEEPERS) != 0 -> futex_wake(FX_PW)
		:: else -> skip
		fi;
		/* ...then its callback propagate(): request the child. */
		claim_child(won, old, 0)
#else
	:: /* old = fetch_or(&s->flag.word, REQUESTED, seq_cst) */
		d_step { old = sw; sw = sw | REQ };
		if
		:: (old & SLEEPERS) != 0 ->
#ifndef LOT
			futex_wake(FX_SW)
#else
			lot_wake(B_SW)
#endif
		:: else -> skip
		fi;
#endif
#ifdef LOT
		/* Run the callbacks, each with the lock dropped. The stop's
		 * lock is held from the pick of a record to its unlock before
		 * fn, and from the relock after fn to the next pick. */
		do
		:: atomic {
				(slk == 0 || slk == _pid + 1);
				slk = _pid + 1;
				j = 0;
				do
				:: j < NW && cbst[j] != CB_REGISTERED -> j++
				:: else -> break
				od;
				skip
			};
			if
			:: j == NW -> break
			:: else -> skip
			fi;
			/* run_begin, with the stop's lock held: the entry in the
			 * table and RUNNING, under rlock; then the stop's unlock. */
			atomic { rlk == 0 -> assert(alive[j]); cbst[j] = CB_RUNNING; ent[j] = 1; fnrun[j] = 1; slk = 0 };
			/* cb->fn(cb->arg): wake_word(w) */
			assert(alive[j]);
			lot_wake(B_EV);
			fnrun[j] = 0;
			/* run_end: under rlock, leave the table, publish DONE,
			 * set each queued offwait word and wake it. */
			atomic {
				rlk == 0 -> rlk = _pid + 1; ent[j] = 0; assert(alive[j]); cbst[j] = CB_DONE;
				ow = owq[j]; owq[j] = 0;
				if
				:: ow -> oww[j] = 1
				:: else -> skip
				fi
			};
#ifndef BUG_WAKE_OUTSIDE_RLOCK
			if
			:: ow -> assert(owlive[j]); lot_wake(B_OW(j))
			:: else -> skip
			fi;
			rlk = 0
#else
			rlk = 0;
			if
			:: ow -> assert(owlive[j]); lot_wake(B_OW(j))
			:: else -> skip
			fi
#endif
		od;
		slk = 0
#endif
	fi;
	stopper_done = 1
}

#ifdef PARENT
/* ---- the child's callback owner: grace_stop_off, under the stop's lock ---- */

active proctype cbowner()
{
	if
	:: skip
	:: hascb -> atomic { clk == 0 -> hascb = 0 }
	fi;
	cbowner_done = 1
}
#endif

/* ==== The queue's protocol is modelled in src/queue.pml ====
 * It copies the futex part above (futex_wake, futex_sleep, the stop's
 * word and sleep_with_stop) rather than including this file, since its
 * processes, ghost state and monitor are its own; a change to the wait
 * core changes both files. */

/* ---- the monitor: nothing can move any more; check who is left ---- */

active proctype monitor()
{
	byte k, asleep;
	atomic {
		timeout ->
		assert(setter_done && stopper_done);
#ifdef PARENT
		/* The parent's request reached the child. */
		assert(cbowner_done);
		assert((pw & REQ) == 0 || (sw & REQ) != 0);
#endif
		k = 0;
		asleep = 0;
		do
		:: k < NW ->
			/* Returned, or asleep while its condition does not hold. */
			assert(st[k] == W_DONE || st[k] == W_ASLEEP);
			if
			:: st[k] == W_ASLEEP ->
				assert(sets == set0[k]);
				assert(!hasstop[k] || (sw & REQ) == 0);
				asleep++
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		assert(ewaiters == asleep)
	}
}

init
{
	atomic {
		byte k = 0;
		do
		:: k < NW ->
#ifdef ALL_STOP
			hasstop[k] = 1;
#else
			hasstop[k] = (k < NW - 1 || NW == 1);
#endif
#ifdef TIMED
			timed[k] = (k == 0);
#endif
#if defined(PARENT) && defined(HASCB)
			hascb = 1;
#endif
#ifdef SPURIOUS
			spur[k] = 1;
#endif
			st[k] = W_CALL;
			run waiter(k);
			k++
		:: else -> break
		od;
		skip
	}
}
