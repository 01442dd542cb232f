#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the test programs under valgrind's Helgrind and DRD.
#   run.sh BUILD SRC [PROGRAM...]   (default: every BUILD/*_test program)
# Each must finish with no error reported beyond the suppressions in
# tests/valgrind/grace.supp, each of which says why it is there.
#
# Which engine: valgrind does not know futex_waitv (it answers ENOSYS, and
# the library would fall back by itself), and it cannot see the ordering a
# raw futex wait gives, so it would report every hand-off through the futex
# engine as a race. GRACE_NO_FUTEX_WAITV=1 selects the mutex + condvar
# engine (src/lot.c) from the start: the same lot the portable build
# uses, and one whose ordering both tools understand. GRACE_TEST_SLOW=1
# shortens the stress loops and widens the timing bounds (valgrind runs the
# threads one at a time, tens of times slower).
set -eu
build=$1
src=$2
shift 2
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind is not installed (apt-get install valgrind)"
	exit 1
fi
if [ $# -eq 0 ]; then
	for f in "$build"/*_test; do
		[ -x "$f" ] && set -- "$@" "$(basename "$f")"
	done
fi
[ $# -gt 0 ] || { echo "no test programs in $build"; exit 1; }
supp="$src/tests/valgrind/grace.supp"
out="$build/valgrind"
mkdir -p "$out"
fail=0
for tool in helgrind drd; do
	for t in "$@"; do
		log="$out/$tool-$t.log"
		start=$(date +%s)
		if GRACE_NO_FUTEX_WAITV=1 GRACE_TEST_SLOW=1 valgrind --tool="$tool" --error-exitcode=99 \
			--suppressions="$supp" --gen-suppressions=all ${VALGRIND_OPTS:-} \
			"$build/$t" >"$log" 2>&1; then
			echo "ok   $tool $t ($(($(date +%s) - start))s)"
		else
			echo "FAIL $tool $t: see $log"
			grep -E "Possible data race|Conflicting|lock order|Thread #|ERROR SUMMARY|assertion" "$log" | head -20
			fail=1
		fi
	done
done
[ $fail -eq 0 ] || exit 1
echo "helgrind and drd: clean"
