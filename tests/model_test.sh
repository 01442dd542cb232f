#!/bin/sh
# SPDX-License-Identifier: MIT
# Model-check the wait protocol (src/wait.pml), the bounded queue
# (src/queue.pml) and the condition variable (src/cond.pml) with spin: each configuration below must verify with no
# error over its whole (bounded) state space, and each protocol variant that
# drops one step must be refuted, which shows the properties can fail.
# Exits 77 (ctest: skipped) when spin or a C compiler for its verifier is
# missing.
#   Arguments: the build directory and the source directory.
#   GRACE_MODEL_FULL=1 adds the larger configurations (several minutes).
set -eu
build=$1
src=$2
model=wait.pml

if ! command -v spin >/dev/null 2>&1; then
	echo "skipped: spin not installed"
	exit 77
fi
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || cc=gcc
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "skipped: no C compiler for spin's verifier"
	exit 77
fi

work="$build/model"
rm -rf "$work"
mkdir -p "$work"
n=0

# run NAME EXPECT SPIN-DEFINES...: EXPECT is "pass" (verified, complete) or
# "fail" (an assertion violated: the variant's lost wake-up was found).
run() {
	name=$1
	expect=$2
	shift 2
	dir="$work/$name"
	mkdir -p "$dir"
	cp "$src/src/$model" "$dir/$model"
	(
		cd "$dir"
		spin "$@" -a "$model" >spin.log 2>&1 || { cat spin.log; exit 1; }
		# Safety properties only; COLLAPSE keeps the largest run near 1.5 GiB.
		"$cc" -O2 -w -DSAFETY -DNOFAIR -DCOLLAPSE -DMEMLIM=4096 -o pan pan.c ||
			exit 1
		# -E: the monitor's assertions state which ends are acceptable.
		./pan -m200000 -E >pan.log 2>&1 || true
	) || { echo "FAIL $name: spin or cc failed"; exit 1; }
	log="$dir/pan.log"
	states=$(awk '/states, stored/ {print $1; exit}' "$log")
	secs=$(awk '/elapsed time/ {print $4; exit}' "$log")
	if grep -q "max search depth too small" "$log"; then
		echo "FAIL $name: the depth bound cut the search"
		cat "$log"
		exit 1
	fi
	case $expect in
	pass)
		if ! grep -q "errors: 0" "$log" || grep -q "Search not completed" "$log"; then
			echo "FAIL $name ($*): spin found an error or did not finish"
			cat "$log"
			[ -f "$dir/$model.trail" ] && (cd "$dir" && spin "$@" -t -p "$model" | tail -60)
			exit 1
		fi
		echo "ok   $name: verified, $states states in ${secs}s ($*)"
		;;
	fail)
		if ! grep -q "assertion violated" "$log"; then
			echo "FAIL $name ($*): spin did not find the planted bug"
			cat "$log"
			exit 1
		fi
		what=$(grep -m1 "assertion violated" "$log" | sed 's/^pan:1: //; s/ (at depth.*//')
		echo "ok   $name: bug found as it must be: $what ($*)"
		;;
	esac
	n=$((n + 1))
}

# The protocol as written, futex_waitv engine: two waiters share the stop
# (the second finds SLEEPERS already set), a third has none.
run futex-3w pass -DNW=3 -DNOPS=2
# A deadline and spurious wake-ups, with a longer set/clear sequence.
run futex-timed pass -DNW=2 -DNOPS=3 -DTIMED -DSPURIOUS
# The fallback engine (lot + stop callback): two callbacks on one stop.
run lot-2stops pass -DLOT -DALL_STOP -DNW=2 -DNOPS=2
# The fallback engine with a deadline, spurious wake-ups and a stopless waiter.
run lot-timed pass -DLOT -DNW=2 -DNOPS=2 -DTIMED -DSPURIOUS
# The stop is a child: its waiters also watch the parent's word and request
# the stop themselves, racing the parent's propagation and each other.
run parent-2stops pass -DPARENT -DALL_STOP -DNW=2 -DNOPS=1
# A child with a callback that its owner may remove at any moment: until
# then its waiters leave the request to the parent's requester; with a
# deadline and spurious wake-ups, then two waiters sharing the stop.
run parent-cb-timed pass -DPARENT -DHASCB -DNW=2 -DNOPS=1 -DTIMED -DSPURIOUS
run parent-cb-2stops pass -DPARENT -DHASCB -DALL_STOP -DNW=2 -DNOPS=0

# Each variant drops one step of the protocol; spin must find the failure.
run bug-no-sleepers-bit fail -DNW=2 -DNOPS=2 -DBUG_NO_SLEEPERS_BIT
run bug-waiters-read-early fail -DNW=2 -DNOPS=2 -DBUG_WAITERS_READ_BEFORE_SET
run bug-lot-no-stop-check fail -DLOT -DNW=2 -DNOPS=2 -DBUG_LOT_NO_STOP_CHECK
run bug-wake-outside-rlock fail -DLOT -DNW=2 -DNOPS=2 -DBUG_WAKE_OUTSIDE_RLOCK
run bug-propagate-no-wake fail -DPARENT -DHASCB -DNW=2 -DNOPS=1 -DBUG_PROPAGATE_NO_WAKE
run bug-no-others fail -DPARENT -DHASCB -DALL_STOP -DNW=2 -DNOPS=0 -DBUG_NO_OTHERS

if [ "${GRACE_MODEL_FULL:-0}" = 1 ]; then
	run full-futex-3w-timed pass -DNW=3 -DNOPS=2 -DTIMED
	run full-futex-2stops-timed pass -DALL_STOP -DNW=2 -DNOPS=3 -DTIMED -DSPURIOUS
	run full-lot-3w pass -DLOT -DNW=3 -DNOPS=1
	run full-lot-2stops-timed pass -DLOT -DALL_STOP -DNW=2 -DNOPS=2 -DTIMED -DSPURIOUS
	run full-parent-3w pass -DPARENT -DNW=3 -DNOPS=2
	run full-parent-cb-2stops pass -DPARENT -DHASCB -DALL_STOP -DNW=2 -DNOPS=2
fi

# The bounded queue (src/queue.pml), futex_waitv engine. Each run keeps the
# ring, the waiter accounting and the wake-ups whole and bounds the callers
# and the outside events, so that each side's hand-offs are covered with
# two callers on that side. NG getters, NP putters with PUTS items each,
# CAP slots, GETS get calls per getter (default: until one fails); STOPS: which callers (bit k: caller k, getters first) have the
# stop; the shutdown process makes no shutdown, a DRAIN or an IMMEDIATE one,
# then drains or not, unless NO_SHUTDOWN / NO_DRAIN.
model=queue.pml
# Two getters (one stoppable) and a stoppable putter: one item wakes one
# getter, a stopped getter passes its wake-up on.
run queue-getters-stop pass -DNG=2 -DNP=1 -DNO_SHUTDOWN -DNO_DRAIN
# Two putters (one stoppable) on a full ring of one slot.
run queue-putters-stop pass -DNG=1 -DNP=2 -DNO_SHUTDOWN -DNO_DRAIN -DSTOPS=2
# Both shutdown modes under two getters and a put in flight.
run queue-shutdown pass -DNG=2 -DNP=1 -DNO_STOP -DNO_DRAIN
# drain frees room for a sleeping putter, with and without a shutdown.
run queue-drain pass -DNG=0 -DNP=2 -DNO_STOP -DSTOPS=0
# Two slots, two putters, one getter.
run queue-cap2 pass -DNG=1 -DNP=2 -DCAP=2 -DNO_SHUTDOWN -DNO_DRAIN -DSTOPS=2
# DRAIN upgraded to IMMEDIATE, drain, the stop, deadlines and spurious
# wake-ups on one getter and one putter.
run queue-upgrade-timed pass -DNG=1 -DNP=1 -DUPGRADE -DTIMED -DSPURIOUS
# drain waits for puts in flight on two slots, and hands back all it owes.
run queue-drain-inflight pass -DNG=0 -DNP=2 -DCAP=2 -DNO_STOP -DSTOPS=0
# drain waits beside a getter that may take the item it waits for.
run queue-drain-get pass -DNG=1 -DNP=1 -DNO_STOP -DSTOPS=0

run queue-bug-no-pass-on fail -DNG=2 -DNP=1 -DNO_SHUTDOWN -DNO_DRAIN -DSTOPS=1 -DBUG_NO_PASS_ON
run queue-bug-no-recheck fail -DNG=1 -DNP=1 -DNO_STOP -DNO_SHUTDOWN -DNO_DRAIN -DBUG_NO_RECHECK
run queue-bug-waiters-read-early fail -DNG=1 -DNP=1 -DNO_STOP -DNO_SHUTDOWN -DNO_DRAIN \
	-DBUG_READ_WAITERS_BEFORE_PUBLISH
run queue-bug-closed-put-signals-one fail -DNG=2 -DNP=1 -DNO_STOP -DNO_DRAIN -DBUG_CLOSED_PUT_SIGNALS_ONE
run queue-bug-no-pass-on-success fail -DNG=2 -DNP=2 -DCAP=2 -DGETS=1 -DNO_STOP -DNO_SHUTDOWN -DNO_DRAIN \
	-DSTOPS=0 -DBUG_NO_PASS_ON_SUCCESS
run queue-bug-no-absorb fail -DNG=2 -DNP=1 -DPUTS=2 -DNO_STOP -DNO_SHUTDOWN -DNO_DRAIN -DBUG_NO_ABSORB
run queue-bug-drain-stops-at-inflight fail -DNG=0 -DNP=2 -DCAP=2 -DNO_STOP -DSTOPS=0 -DBUG_DRAIN_STOPS_AT_INFLIGHT
run queue-bug-drain-woken-as-one fail -DNG=1 -DNP=1 -DNO_STOP -DSTOPS=0 -DBUG_DRAIN_WOKEN_AS_ONE

if [ "${GRACE_MODEL_FULL:-0}" = 1 ]; then
	run full-queue-timed pass -DNG=2 -DNP=1 -DNO_SHUTDOWN -DNO_DRAIN -DTIMED -DSPURIOUS
	run full-queue-drain-get pass -DNG=1 -DNP=1 -DPUTS=2 -DNO_STOP
	# Two puts in flight on two slots under two getters (one get each).
	run full-queue-get2-put2 pass -DNG=2 -DNP=2 -DCAP=2 -DGETS=1 -DNO_STOP -DNO_SHUTDOWN -DNO_DRAIN -DSTOPS=0
	# 68 M states, 3.8 GiB: the largest that fits the memory bound.
	run full-queue-stop-shutdown pass -DNG=2 -DNP=1 -DNO_DRAIN -DSTOPS=1
fi

# The condition variable (src/cond.pml) on the waiter lists and the wait
# core's promises: NC consumers (the last without the stop) each take one of
# NP items put by a producer that signals under the mutex or after it.
model=cond.pml
run cond-futex pass -DNC=2
# One item for two consumers, with a deadline and spurious wake-ups: a
# consumer that is stopped or times out never loses the other's wake-up.
run cond-futex-timed pass -DNC=2 -DNP=1 -DTIMED -DSPURIOUS
# The lot: a wake of one record's word may end every sleep.
run cond-lot-timed pass -DNC=2 -DNP=1 -DLOT -DTIMED -DSPURIOUS
# Broadcast, with the requester holding the caller's mutex while it requests.
run cond-bcast-stop-locked pass -DNC=2 -DBCAST -DSTOP_LOCKED

run cond-bug-link-after-unlock fail -DNC=2 -DBUG_LINK_AFTER_UNLOCK
run cond-bug-count-after-unlock fail -DNC=2 -DBUG_COUNT_AFTER_UNLOCK
run cond-bug-wake-by-look fail -DNC=2 -DBUG_WAKE_BY_LOOK
run cond-bug-error-drops-taken fail -DNC=2 -DNP=1 -DBUG_ERROR_DROPS_TAKEN

if [ "${GRACE_MODEL_FULL:-0}" = 1 ]; then
	# 50 M states, 3 GiB, about 2.5 minutes.
	run full-cond-3c pass -DNC=3 -DNP=2
	run full-cond-3c-bcast-stop-locked pass -DNC=3 -DNP=2 -DALL_STOP -DBCAST -DSTOP_LOCKED
fi

rm -rf "$work"
echo "model: $n runs as expected"
