#!/bin/sh
# SPDX-License-Identifier: MIT
# The soak behind `make stress`: run the stress programs in turn, sharing a
# budget of SECONDS seconds (the queue pipeline half of it, group shutdowns
# and signal storms a quarter each), then print one summary with a row per
# part: rounds, items, lost and duplicated (both must be 0), and other
# mismatches (wrong). Exits non-zero if any part failed or lost anything.
#   run.sh BUILD SECONDS
set -u
build=$1
secs=$2
case $secs in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac
[ "$secs" -ge 4 ] || secs=4
q=$((secs / 2))
g=$((secs / 4))
s=$((secs - q - g))
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for part in queue:$q group:$g signal:$s; do
	name=${part%%:*}
	t=${part#*:}
	echo "=== ${name}_stress: $t s"
	SECONDS=$t "$build/${name}_stress" | tee -a "$log"
	rc=$?
	# tee hides the program's status; its SUMMARY line says FAILED instead.
	if ! grep -q "^SUMMARY $name .* ok\$" "$log"; then
		echo "${name}_stress failed" >&2
		grep -q "^SUMMARY $name " "$log" || echo "SUMMARY $name rounds 0 items 0 lost 1 duplicated 0 wrong 0 FAILED (no summary; exit $rc)" >>"$log"
		status=1
	fi
done
echo
echo "=== stress summary ($secs s)"
printf '%-8s %10s %12s %6s %11s %6s %s\n' part rounds items lost duplicated wrong verdict
grep "^SUMMARY " "$log" | while read -r _ part _ rounds _ items _ lost _ dup _ wrong verdict; do
	printf '%-8s %10s %12s %6s %11s %6s %s\n' "$part" "$rounds" "$items" "$lost" "$dup" "$wrong" "$verdict"
done
if [ $status -eq 0 ]; then echo "stress: ok"; else echo "stress: FAILED"; fi
exit $status
