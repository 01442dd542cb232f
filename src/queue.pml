/* SPDX-License-Identifier: MIT */
/*
 * queue.pml - a Promela model of grace's bounded queue (src/queue.c),
 * checked with spin beside the wait protocol's model (src/wait.pml).
 *
 * It models, step for step, grace_queue_put/get with their slow paths
 * (put_slow, get_slow), the ring's two try-operations (bounded_put: claim
 * by CAS on enq, publish by the slot's sequence; bounded_get: the same on
 * deq), the waiter accounting of each side (wq_register, wq_absorb,
 * wq_leave, wq_signal: registered waiters and wake-up tokens), the pass-on
 * of a wake-up by a waiter that leaves, after_put's wake-all into a closed
 * queue, grace_queue_shutdown (DRAIN and IMMEDIATE), grace_queue_drain
 * (which waits, as a getter does, for a put that claimed its place before
 * the drain began and has not published it; while it waits the getters'
 * signals wake every sleeper of getq), and the futex_waitv engine of the wait core (grace__wait and
 * sleep_with_stop in src/wait.c, the stop's word as in src/wait.pml).
 * Each shared-memory access of the C code is one step; a read-modify-write
 * is one atomic step. A CAS loop whose loaded value serves only the CAS is
 * one RMW too (wq_absorb, wq_leave, and wq_signal, which adds a token only
 * while waiters outnumber tokens). The accesses the protocol relies on are
 * seq_cst in the C code, so spin's interleavings are the executions to
 * check. A slot's item is written by the one put that claimed the slot and
 * read by the one get that claimed it, each between its claim and its
 * publish, so the write goes with the publishing exchange and the read with
 * the claiming CAS. The spin phases (the OWN_SPIN tries in put_slow and
 * get_slow, grace__spin in the wait core) are left out: they repeat the
 * fast path's try and the wait core's checks, and skipping them only makes
 * more runs register and sleep. join, task_done and the unbounded ring
 * (a mutex around the same counters) are not modelled.
 *
 * The futex: "sleep while the word holds this value", atomically; a
 * FUTEX_WAKE of n wakes n sleepers of that word, any of them (the choice is
 * spin's); futex_waitv sleeps on the side's word and the stop's word, and a
 * wake of either ends it.
 *
 * Properties (docs/reliability.md):
 *  - no lost wake-up: when nothing can move any more (spin's `timeout`),
 *    every getter and putter has returned or sleeps while its condition
 *    does not hold: a getter only while no item is queued, a putter only
 *    while the ring is full, neither after a shutdown nor with its stop
 *    requested; each side's waiter count equals its sleepers and no
 *    wake-up token is left over (so the next item or slot signals);
 *  - no deadlock: at that moment the shutdown, the drain and the requester
 *    have ended and nobody is stuck anywhere but in its sleep;
 *  - items conserved: each item is published once by its put and taken
 *    once, by a get or a drain (asserted at the claim); a put answers 0
 *    exactly when its item was enqueued, a get exactly when it took one;
 *    at the end every item put is got, drained or still queued, and the
 *    ring's positions count the queued ones;
 *  - results as documented: -ECANCELED only with the caller's stop
 *    requested, -ETIMEDOUT only with a deadline, a put's -ESHUTDOWN only
 *    after a shutdown, a get's -ESHUTDOWN only after an IMMEDIATE one or,
 *    after a DRAIN, with nothing queued and no put in flight (the
 *    in-flight put rule: a put that claimed before the shutdown completes
 *    and its item is delivered);
 *  - drain owes: when a drain returns, every item whose put had answered 0
 *    before the drain began has been got or drained (asserted at its
 *    return); and the drain returns (it is part of "no deadlock").
 *
 * Protocol variants that drop one step, each of which spin must refute
 * (tests/model_test.sh checks that it does):
 *  - BUG_NO_PASS_ON: a getter that leaves with an error (here: stopped)
 *    does not pass on a wake-up it may have absorbed.
 *  - BUG_NO_RECHECK: a getter registers and sleeps without re-trying the
 *    queue first, so a put between its try and its registration saw no
 *    waiter.
 *  - BUG_READ_WAITERS_BEFORE_PUBLISH: the put reads the getters' count
 *    before it publishes the slot (the Dekker pair in the wrong order).
 *  - BUG_CLOSED_PUT_SIGNALS_ONE: a put into a closed queue wakes one getter
 *    instead of all, so getters woken by a DRAIN shutdown while the last
 *    put was in flight sleep again and only one learns the end.
 *  - BUG_NO_PASS_ON_SUCCESS: a getter that leaves with an item does not
 *    signal for the next one, so a wake-up spent on a head slot that a
 *    slower put had claimed but not filled leaves the item behind it to a
 *    getter that sleeps on.
 *  - BUG_NO_ABSORB: a waiter re-tries without absorbing the tokens, so a
 *    token spent on a getter robbed of its item blocks later signals.
 *  - BUG_DRAIN_STOPS_AT_INFLIGHT: the drain stops at the first slot it
 *    cannot take, as it did before it waited: a put in flight at the head
 *    strands the items behind it, whose puts have returned 0.
 *  - BUG_DRAIN_WOKEN_AS_ONE: a signal wakes one sleeper even while a drain
 *    waits: the getter it wakes takes the item, and the drain, with nothing
 *    left to wait for, sleeps on.
 *
 * Size: CAP slots; NG getters and NP putters, each putter putting PUTS
 * distinct items, each getter getting until a call fails or (-DGETS=n)
 * after n calls. Getter 0 and putter 0 share the stop, the others have
 * none (-DALL_STOP: all have it; -DNO_STOP: nobody requests it). With
 * -DTIMED getter 0 and putter 0 also have a deadline; SPURIOUS gives each
 * sleep one spurious wake-up. The shutdown process does nothing, a DRAIN or
 * an IMMEDIATE shutdown (-DUPGRADE: also DRAIN then IMMEDIATE), then
 * grace_queue_drain or not; its drain sleeps as thread NT (no stop, no
 * deadline, no spurious wake-up).
 */

#ifndef CAP
#define CAP 1
#endif
#ifndef NG
#define NG 2
#endif
#ifndef NP
#define NP 2
#endif
#ifndef PUTS
#define PUTS 1
#endif
#ifndef STOPS
#define STOPS (1 | (1 << NG)) /* bit k: thread k has the stop */
#endif
#define NT (NG + NP) /* threads: getters 0..NG-1, putters NG..NT-1 */
#define NTH (NT + 1) /* and thread NT, the shutdown process, whose drain may sleep */
#define NI (NP * PUTS) /* items 1..NI */

/* Positions (src/queue.c): bit 7 here stands for bit 63. */
#define CLOSED 128
#define POS(x) ((x) & 127)
/* grace_queue.state */
#define S_DRAIN 1
#define S_IMMEDIATE 2
/* The stop's word (src/internal.h). */
#define REQ 1
#define SLEEPERS 2
/* Results. */
#define R_OK 0
#define R_CANCELED 1
#define R_TIMEDOUT 2
#define R_SHUT 3
#define R_AGAIN 4
/* Where a caller is (ghost). */
#define W_CALL 1
#define W_ASLEEP 2
#define W_DONE 3
/* An item's life (ghost). */
#define I_NONE 0
#define I_QUEUED 1
#define I_GOT 2
#define I_DRAINED 3
/* Futex words a thread may sleep on (bits of fx[i]). */
#define FX_GW 1 /* getq.word */
#define FX_PW 2 /* putq.word */
#define FX_SW 4 /* the stop's word */

byte enq, deq;    /* grace_queue.enq, .deq (| CLOSED) */
byte seq[CAP];    /* slot.seq */
byte item[CAP];   /* slot.item */
byte gword, gwaiters, gtokens; /* getq.word, and getq.count's halves */
byte gdrainers;   /* getq.drainers: drains among the getters' waiters */
byte pword, pwaiters, ptokens; /* putq */
byte sw;          /* grace_stop.flag.word */

/* Ghost state: what the properties are stated in. */
byte ist[NI + 1];  /* each item's life */
byte pres[NI + 1]; /* its put's result + 1; 0 while the put runs */
byte queued;       /* items published and not yet claimed by a get */
byte inflight;     /* puts that claimed and have not published */
byte st[NTH];       /* W_CALL, W_ASLEEP, W_DONE */
bool hasstop[NTH];
bool timed[NTH];
bool expired[NTH];
byte spur[NTH];
byte fx[NTH];       /* the futex words thread i sleeps on; 0: awake */
bool shut_done;
bool stop_done;
hidden byte wj, wn;

/* FUTEX_WAKE(word, INT32_MAX) */
inline futex_wake_all(fxb)
{
	d_step {
		wj = 0;
		do
		:: wj < NTH -> if
			:: (fx[wj] & fxb) != 0 -> fx[wj] = 0
			:: else -> skip
			fi;
			wj++
		:: else -> break
		od;
		wj = 0
	}
}

/* FUTEX_WAKE(word, 1): any one sleeper of the word, if there is one. */
inline futex_wake_one(fxb)
{
	atomic {
		wj = 0;
		wn = 0;
		do
		:: wj < NTH -> if
			:: (fx[wj] & fxb) != 0 -> wn++
			:: else -> skip
			fi;
			wj++
		:: else -> break
		od;
		wj = 0;
		do
		:: wn == 0 -> break
		:: wn > 0 && (fx[wj] & fxb) != 0 -> fx[wj] = 0; break
		:: wn > 1 && (fx[wj] & fxb) != 0 -> wn--; wj++
		:: wn > 0 && (fx[wj] & fxb) == 0 -> wj++
		od;
		wj = 0;
		wn = 0
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

/* `now >= d` for thread i: monotonic, and free to pass at any moment. */
inline clock_passed(res)
{
	if
	:: !timed[i] -> res = 0
	:: timed[i] && expired[i] -> res = 1
	:: timed[i] && !expired[i] -> res = 0
	:: timed[i] && !expired[i] -> expired[i] = 1; res = 1
	fi
}

/* r = grace__wait(&word, v, stop, d), futex_waitv engine, without the spin
 * phase (see the top of this file and src/wait.pml). */
inline gwait(word, fxb)
{
	r = R_OK;
	clock_passed(passed);
	if
	:: passed -> if
		:: word != v -> r = R_OK
		:: else -> r = R_TIMEDOUT
		fi
	:: else ->
		if
		:: hasstop[i] ->
			/* sleep_with_stop */
			sv = sw;
			if
			:: (sv & SLEEPERS) == 0 -> d_step { sv = sw | SLEEPERS; sw = sv }
			:: else -> skip
			fi;
			if
			:: (sv & REQ) != 0 -> r = R_CANCELED
			:: else ->
				/* the engine's wait_stop: futex_waitv on both words (a stop
				 * without a parent; wait.pml models the parent's word). */
				d_step {
					if
					:: word == v && sw == sv -> fx[i] = fxb | FX_SW; st[i] = W_ASLEEP
					:: else -> skip
					fi
				};
				futex_sleep()
			fi
		:: else ->
			/* grace__os_wait */
			d_step {
				if
				:: word == v -> fx[i] = fxb; st[i] = W_ASLEEP
				:: else -> skip
				fi
			};
			futex_sleep()
		fi;
		/* Whatever woke us, report what is true now: the object first. */
		if
		:: word != v -> r = R_OK
		:: else ->
			if
			:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED
			:: else ->
				clock_passed(passed);
				if
				:: r == R_TIMEDOUT || passed -> r = R_TIMEDOUT
				:: else -> r = R_OK
				fi
			fi
		fi
	fi
}

/* wq_signal: wake one waiter unless every waiter has a wake-up coming.
 * The load and CAS loop is one conditional RMW; then the word, then the
 * wake. */
inline wq_signal(word, waiters, tokens, drainers, fxb)
{
	d_step {
		if
		:: waiters > tokens -> tokens++; ok = 1
		:: else -> ok = 0
		fi
	};
	if
	:: ok -> word++;
#ifndef BUG_DRAIN_WOKEN_AS_ONE
		/* A drain waits among the getters: wake them all. */
		if
		:: drainers != 0 -> futex_wake_all(fxb)
		:: else -> futex_wake_one(fxb)
		fi;
#else
		futex_wake_one(fxb);
#endif
		ok = 0
	:: else -> skip
	fi
}

/* wake_all: bump the word, then wake every sleeper of it. */
inline wake_all(word, fxb)
{
	word++;
	futex_wake_all(fxb)
}

/* ---- the two try-operations: R_OK, R_AGAIN, R_SHUT ---- */

/* bounded_put(q, it) */
inline try_put()
{
	w = enq;
	do
	:: (w & CLOSED) != 0 -> r = R_SHUT; break
	:: else ->
		s = seq[w % CAP];
		if
		:: s == 2 * w ->
			/* CAS(enq, w, w + 1); a failure reloads w, CLOSED included. */
			d_step {
				if
				:: enq == w -> enq = w + 1; ok = 1; inflight++
				:: else -> w = enq; ok = 0
				fi
			};
			if
			:: ok ->
				/* s->item = it; exchange(&s->seq, 2w + 1) */
				d_step {
					item[w % CAP] = it;
					seq[w % CAP] = 2 * w + 1;
					assert(ist[it] == I_NONE);
					ist[it] = I_QUEUED;
					queued++;
					inflight--;
					ok = 0
				};
				r = R_OK;
				break
			:: else -> skip
			fi
		:: s < 2 * w -> r = R_AGAIN; break
		:: s > 2 * w -> w = enq
		fi
	od;
	w = 0;
	s = 0
}

/* bounded_get(q, &gi, drain): `mark` is what a taken item becomes. */
inline try_get(drain, mark)
{
	w = deq;
	do
	:: (w & CLOSED) != 0 && !drain -> r = R_SHUT; break
	:: else ->
		s = seq[POS(w) % CAP];
		if
		:: s == 2 * POS(w) + 1 ->
			/* CAS(deq, w, w + 1), then *item = s->item */
			d_step {
				if
				:: deq == w ->
					deq = w + 1;
					ok = 1;
					gi = item[POS(w) % CAP];
					assert(ist[gi] == I_QUEUED);
					ist[gi] = mark;
					queued--;
					took++
				:: else -> w = deq; ok = 0
				fi
			};
			if
			:: ok ->
				/* exchange(&s->seq, 2(pos + cap)): hand the slot on. */
				seq[POS(w) % CAP] = 2 * (POS(w) + CAP);
				ok = 0;
				r = R_OK;
				break
			:: else -> skip
			fi
		:: s < 2 * POS(w) + 1 ->
			/* Empty, or the head is claimed but not published. */
			d_step {
				e = enq;
				if
				:: !drain && (e & CLOSED) != 0 && POS(e) == POS(w) ->
					/* The end: nothing queued, no put in flight. */
					assert(queued == 0 && inflight == 0);
					r = R_SHUT
				:: else -> r = R_AGAIN
				fi;
				e = 0
			};
			break
		:: s > 2 * POS(w) + 1 -> w = deq
		fi
	od;
	w = 0;
	s = 0
}

/* after_put: into a closed queue wake every getter (this may be the last
 * item of a DRAIN shutdown), else signal one. */
inline after_put()
{
	e = enq;
	if
#ifndef BUG_CLOSED_PUT_SIGNALS_ONE
	:: (e & CLOSED) != 0 ->
		if
		:: gwaiters != 0 -> wake_all(gword, FX_GW)
		:: else -> skip
		fi
#endif
	:: else ->
#ifndef BUG_READ_WAITERS_BEFORE_PUBLISH
		wq_signal(gword, gwaiters, gtokens, gdrainers, FX_GW)
#else
		/* The waiter count was read before the publish (in put). */
		if
		:: early > gtokens -> gtokens++; gword++; futex_wake_one(FX_GW)
		:: else -> skip
		fi
#endif
	fi;
	e = 0
}

/* ---- a getter: grace_queue_get(q, &gi, stop or NULL, d) until it fails ---- */

proctype getter(byte i)
{
	byte w, s, e, v, sv, r, gi, took, p, calls;
	bool ok, passed;

	do
#ifdef GETS
	:: calls == GETS -> break
	:: calls < GETS ->
		calls++;
#else
	:: true ->
#endif
		took = 0;
		gi = 0;
		if
		:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto ret
		:: else -> skip
		fi;
		try_get(0, I_GOT);
		if
		:: r == R_OK -> wq_signal(pword, pwaiters, ptokens, 0, FX_PW); goto ret
		:: r != R_OK && r != R_AGAIN -> goto ret
		:: else -> skip
		fi;
		/* ---- get_slow ---- */
		clock_passed(passed);
		if
		:: passed -> r = R_TIMEDOUT; goto ret
		:: else -> skip
		fi;
		gwaiters++;
loop:
		if
		:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto leave
		:: else -> skip
		fi;
		v = gword;
#ifndef BUG_NO_ABSORB
		gtokens = 0;
#endif
#ifdef BUG_NO_RECHECK
		if
		:: p == 0 -> p = 1; r = R_AGAIN
		:: else -> try_get(0, I_GOT)
		fi;
#else
		try_get(0, I_GOT);
#endif
		if
		:: r != R_AGAIN -> goto leave
		:: else -> skip
		fi;
		gwait(gword, FX_GW);
		if
		:: r != R_OK -> goto leave
		:: else -> goto loop
		fi;
leave:
		p = 0;
		d_step { gwaiters--; gtokens = 0 };
		if
		:: r == R_OK -> wq_signal(pword, pwaiters, ptokens, 0, FX_PW)
		:: else -> skip
		fi;
#if defined(BUG_NO_PASS_ON)
		if
		:: r == R_OK ->
#elif defined(BUG_NO_PASS_ON_SUCCESS)
		if
		:: r != R_SHUT && r != R_OK ->
#else
		if
		:: r != R_SHUT ->
#endif
			/* has_item(q): the head slot is published. */
			w = POS(deq);
			if
			:: seq[w % CAP] == 2 * w + 1 -> w = 0; wq_signal(gword, gwaiters, gtokens, gdrainers, FX_GW)
			:: else -> w = 0
			fi
		:: else -> skip
		fi;
ret:
		skip;
		/* The documented results (one step: they only read). */
		d_step {
			assert((r == R_OK) == (took == 1) && took <= 1);
			assert(r != R_CANCELED || (hasstop[i] && (sw & REQ) != 0));
			assert(r != R_TIMEDOUT || timed[i]);
			assert(r != R_SHUT || (enq & CLOSED) != 0);
			assert(r != R_AGAIN)
		};
		if
		:: r != R_OK -> break
		:: else -> skip
		fi
	od;
	st[i] = W_DONE
}

/* ---- a putter: PUTS items with grace_queue_put(q, it, stop or NULL, d) ---- */

proctype putter(byte i)
{
	byte w, s, e, v, sv, r, it, k, early;
	bool ok, passed;

	k = 0;
	do
	:: k < PUTS ->
		it = (i - NG) * PUTS + k + 1;
		k++;
		if
		:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto ret
		:: else -> skip
		fi;
#ifdef BUG_READ_WAITERS_BEFORE_PUBLISH
		early = gwaiters;
#endif
		try_put();
		if
		:: r == R_OK -> after_put(); goto ret
		:: r != R_OK && r != R_AGAIN -> goto ret
		:: else -> skip
		fi;
		/* ---- put_slow ---- */
		clock_passed(passed);
		if
		:: passed -> r = R_TIMEDOUT; goto ret
		:: else -> skip
		fi;
		pwaiters++;
loop:
		if
		:: hasstop[i] && (sw & REQ) != 0 -> r = R_CANCELED; goto leave
		:: else -> skip
		fi;
		v = pword;
#ifndef BUG_NO_ABSORB
		ptokens = 0;
#endif
#ifdef BUG_READ_WAITERS_BEFORE_PUBLISH
		early = gwaiters;
#endif
		try_put();
		if
		:: r != R_AGAIN -> goto leave
		:: else -> skip
		fi;
		gwait(pword, FX_PW);
		if
		:: r != R_OK -> goto leave
		:: else -> goto loop
		fi;
leave:
		skip;
		d_step { pwaiters--; ptokens = 0 };
		if
		:: r == R_OK -> after_put()
		:: else -> skip
		fi;
		if
		:: r != R_SHUT ->
			/* has_room(q): the next put's slot is free. */
			w = POS(enq);
			if
			:: seq[w % CAP] == 2 * w -> w = 0; wq_signal(pword, pwaiters, ptokens, 0, FX_PW)
			:: else -> w = 0
			fi
		:: else -> skip
		fi;
ret:
		early = 0;
		d_step {
			pres[it] = r + 1;
			/* Enqueued exactly when the put answered 0. */
			assert((r == R_OK) == (ist[it] != I_NONE));
			assert(r != R_CANCELED || (hasstop[i] && (sw & REQ) != 0));
			assert(r != R_TIMEDOUT || timed[i]);
			assert(r != R_SHUT || (enq & CLOSED) != 0);
			assert(r != R_AGAIN)
		};
		if
		:: r != R_OK -> break
		:: else -> skip
		fi
	:: else -> break
	od;
	st[i] = W_DONE
}

/* ---- grace_queue_shutdown(q, mode) ---- */

inline shutdown(mode)
{
	/* Under the queue's lock, which only serializes shutdowns (one
	 * process here) and the unbounded ring (not modelled). */
	if
	:: state == S_IMMEDIATE && mode == S_DRAIN -> skip /* -EINVAL */
	:: else ->
		enq = enq | CLOSED;
		if
		:: mode == S_IMMEDIATE -> deq = deq | CLOSED
		:: else -> skip
		fi;
		/* grace_queue.state: read by join (not modelled) and by the
		 * next shutdown, which only this process makes. */
		state = mode;
		/* After the flags: a waiter that read its word before the bump
		 * finds it changed; one that read it after sees the flags. */
		wake_all(gword, FX_GW);
		wake_all(pword, FX_PW)
	fi
}

active proctype shutter()
{
	byte w, s, e, r, gi, took, n, m, state;
	byte i = NT, v, sv, dend, k;
	byte owed; /* bit k: item k was owed to the drain */
	bool ok, passed, dwaiting; /* i: the drain's thread (no stop, deadline or spurious wake-up) */

#ifndef NO_SHUTDOWN
	if
	:: m = 0
	:: m = S_DRAIN
	:: m = S_IMMEDIATE
	fi;
#endif
	if
	:: m != 0 -> shutdown(m)
	:: else -> skip
	fi;
#ifdef UPGRADE
	if
	:: m == S_DRAIN -> m = S_IMMEDIATE; shutdown(m)
	:: else -> skip
	fi;
#endif
	m = 0;
	if
	:: skip
#ifndef NO_DRAIN
	:: /* grace_queue_drain(q, items, NI) */
		/* What it owes: the places claimed before it began (ghost: the
		 * items whose puts have answered 0 by now are among them). */
		d_step {
			dend = POS(enq);
			k = 1;
			do
			:: k <= NI ->
				if
				:: pres[k] == R_OK + 1 -> owed = owed | (1 << k)
				:: else -> skip
				fi;
				k++
			:: else -> break
			od;
			k = 0
		};
dloop:
		if
		:: dwaiting -> v = gword; gtokens = 0 /* wq_absorb */
		:: else -> skip
		fi;
		try_get(1, I_DRAINED);
		if
		:: r == R_OK -> goto dloop
		:: else -> skip
		fi;
#ifdef BUG_DRAIN_STOPS_AT_INFLIGHT
		goto dleave;
#endif
		/* Gets took the rest, or nothing was claimed before it began. */
		if
		:: POS(deq) >= dend -> goto dleave
		:: else -> skip
		fi;
		/* The head's put is in flight: wait for it as a getter does. */
		if
		:: !dwaiting -> gdrainers++; gwaiters++; dwaiting = 1; goto dloop
		:: else -> skip
		fi;
		gwait(gword, FX_GW);
		goto dloop;
dleave:
		if
		:: dwaiting ->
			d_step { gwaiters--; gtokens = 0 };
			gdrainers--;
			dwaiting = 0;
			/* Pass a wake-up on: has_item(q). */
			w = POS(deq);
			if
			:: seq[w % CAP] == 2 * w + 1 -> w = 0; wq_signal(gword, gwaiters, gtokens, gdrainers, FX_GW)
			:: else -> w = 0
			fi
		:: else -> skip
		fi;
		/* Every item owed has come out: drained now, or got. */
		d_step {
			k = 1;
			do
			:: k <= NI ->
				assert(((owed >> k) & 1) == 0 || ist[k] != I_QUEUED);
				k++
			:: else -> break
			od;
			k = 0;
			owed = 0;
			dend = 0
		};
		n = took;
		/* One freed slot, one putter. */
		do
		:: n > 0 && pwaiters != 0 -> n--; wq_signal(pword, pwaiters, ptokens, 0, FX_PW)
		:: else -> break
		od;
		took = 0
#endif
	fi;
	shut_done = 1
}

/* ---- the requester: grace_stop_request (the winner of the reason CAS) ---- */

active proctype stopper()
{
	byte old;
#ifndef NO_STOP
	if
	:: skip
	:: d_step { old = sw; sw = sw | REQ };
		if
		:: (old & SLEEPERS) != 0 -> futex_wake_all(FX_SW)
		:: else -> skip
		fi;
		old = 0
	fi;
#endif
	stop_done = 1
}

/* ---- the monitor: nothing can move any more; check who is left ---- */

active proctype monitor()
{
	byte k, gs, ps, n;
	atomic {
		timeout ->
		assert(shut_done && stop_done);
		assert(inflight == 0);
		k = 0;
		gs = 0;
		ps = 0;
		do
		:: k < NT ->
			/* Returned, or asleep while its condition does not hold. */
			assert(st[k] == W_DONE || st[k] == W_ASLEEP);
			if
			:: st[k] == W_ASLEEP ->
				assert((enq & CLOSED) == 0);
				assert(!hasstop[k] || (sw & REQ) == 0);
				if
				:: k < NG -> assert(queued == 0); gs++
				:: else -> assert(POS(enq) - POS(deq) == CAP); ps++
				fi
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		assert(gwaiters == gs && pwaiters == ps);
		assert(gtokens == 0 && ptokens == 0);
		/* Items conserved: each put that answered 0 is got, drained or
		 * queued; a failed put enqueued nothing. */
		k = 1;
		n = 0;
		do
		:: k <= NI ->
			/* pres 0: the put has not answered (it sleeps) or was
			 * never made (its putter stopped at an error). */
			assert((pres[k] == R_OK + 1) == (ist[k] != I_NONE));
			if
			:: ist[k] == I_QUEUED -> n++
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		assert(n == queued && POS(enq) - POS(deq) == queued)
	}
}

init
{
	atomic {
		byte k = 0;
		do
		:: k < CAP -> seq[k] = 2 * k; k++
		:: else -> break
		od;
		k = 0;
		do
		:: k < NT ->
			hasstop[k] = (STOPS >> k) & 1;
#ifdef TIMED
			timed[k] = (k == 0 || k == NG);
#endif
#ifdef SPURIOUS
			spur[k] = 1;
#endif
			st[k] = W_CALL;
			if
			:: k < NG -> run getter(k)
			:: else -> run putter(k)
			fi;
			k++
		:: else -> break
		od;
		k = 0
	}
}
