#!/bin/sh
# Model-check the wait protocol (src/wait.pml) with spin: each configuration
# below must verify with no error over its whole (bounded) state space, and
# each protocol variant that drops one step must be refuted, which shows the
# properties can fail. Exits 77 (ctest: skipped) when spin or a C compiler
# for its verifier is missing.
#   Arguments: the build directory and the source directory.
#   GRACE_MODEL_FULL=1 adds the larger configurations (several minutes).
set -eu
build=$1
src=$2
model="$src/src/wait.pml"

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
	cp "$model" "$dir/wait.pml"
	(
		cd "$dir"
		spin "$@" -a wait.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
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
			[ -f "$dir/wait.pml.trail" ] && (cd "$dir" && spin "$@" -t -p wait.pml | tail -60)
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

# Each variant drops one step of the protocol; spin must find the failure.
run bug-no-sleepers-bit fail -DNW=2 -DNOPS=2 -DBUG_NO_SLEEPERS_BIT
run bug-waiters-read-early fail -DNW=2 -DNOPS=2 -DBUG_WAITERS_READ_BEFORE_SET
run bug-lot-no-stop-check fail -DLOT -DNW=2 -DNOPS=2 -DBUG_LOT_NO_STOP_CHECK
run bug-late-waiting-off fail -DLOT -DNW=2 -DNOPS=2 -DBUG_LATE_WAITING_OFF_READ

if [ "${GRACE_MODEL_FULL:-0}" = 1 ]; then
	run full-futex-3w-timed pass -DNW=3 -DNOPS=2 -DTIMED
	run full-futex-2stops-timed pass -DALL_STOP -DNW=2 -DNOPS=3 -DTIMED -DSPURIOUS
	run full-lot-3w pass -DLOT -DNW=3 -DNOPS=1
	run full-lot-2stops-timed pass -DLOT -DALL_STOP -DNW=2 -DNOPS=2 -DTIMED -DSPURIOUS
fi

rm -rf "$work"
echo "model: $n runs as expected"
