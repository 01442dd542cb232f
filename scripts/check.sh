#!/bin/sh
# SPDX-License-Identifier: MIT
# check.sh - what `make check` runs: every configuration, then one line that
# says how many tests passed, failed and were skipped, in all of them.
#
#   sh scripts/check.sh BUILD JOBS CONFIG...
#
# First it makes sure the tools the tests need are here: scripts/deps.sh
# check installs the missing ones as root; without root it stops at once,
# naming them and the command that installs them (GRACE_ALLOW_SKIP=1 goes on
# instead, and the tests that need them report themselves skipped). Each
# configuration is then built and tested with `make check-CONFIG`, whose
# ctest output is kept in BUILD/CONFIG/check.log; a configuration that fails
# does not stop the others. A skipped test (exit 77: spin or wrk missing, a
# test that cannot run under a sanitizer) is counted and named on the last
# lines, never silent. Exits non-zero if any test failed or any
# configuration did not build.
set -u
build=$1 jobs=$2
shift 2

if ! sh scripts/deps.sh check --dry-run >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		sh scripts/deps.sh check || { echo "make check: scripts/deps.sh check failed" >&2; exit 1; }
	elif [ "${GRACE_ALLOW_SKIP:-}" != 1 ]; then
		echo "make check: missing:$(sh scripts/deps.sh check --dry-run 2>/dev/null | sed -n 's/^missing://p')" >&2
		echo "make check: run 'sudo sh scripts/deps.sh check' first (or GRACE_ALLOW_SKIP=1 make check" >&2
		echo "            to go on without them; the tests that need them are then counted skipped)" >&2
		exit 1
	fi
fi

passed=0 failed=0 skipped=0 broken="" skipnames=""
for c in "$@"; do
	mkdir -p "$build/$c"
	log="$build/$c/check.log"
	make --no-print-directory "check-$c" BUILD="$build" JOBS="$jobs" 2>&1 | tee "$log"
	# ctest's summary line: "NN% tests passed, F tests failed out of T".
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		broken="$broken $c"
		continue
	fi
	total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
	nfail=$(echo "$line" | sed -E 's/.*, ([0-9]+) tests? failed.*/\1/')
	nskip=$(grep -c '\*\*\*Skipped' "$log")
	passed=$((passed + total - nfail - nskip))
	failed=$((failed + nfail))
	skipped=$((skipped + nskip))
	for t in $(sed -n -E 's/.*Test +#[0-9]+: ([A-Za-z0-9_]+) .*\*\*\*Skipped.*/\1/p' "$log"); do
		skipnames="$skipnames $c/$t"
	done
done

[ -n "$skipnames" ] && echo "skipped (each says why in its configuration's check.log):$skipnames"
[ -n "$broken" ] && echo "configurations that did not build or run their tests:$broken"
echo "make check: $passed passed, $failed failed, $skipped skipped ($*)"
[ "$failed" -eq 0 ] && [ -z "$broken" ]
