#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/chart.py draws one bar per peer of each charted scenario from a
# results file, grace included, and refuses a file with nothing to draw.
# Arguments: the build directory and the source directory.
set -u
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/results.txt" <<'R'
# date: test
RESULT stop_all_64 grace 850 us lower
RESULT stop_all_64 raw_futex 840 us lower
RESULT stop_all_64 python_sleep_loop 998000 us lower
RESULT queue_1p1c grace 21.1 Mitems/s higher
RESULT queue_1p1c go_select_ctx 7.7 Mitems/s higher
RESULT not_charted grace 1 ns lower
R
python3 "$2/bench/chart.py" "$tmp/results.txt" "$tmp/c.svg" || { echo "chart.py failed"; exit 1; }
n=$(grep -c '<rect x=' "$tmp/c.svg")
[ "$n" -eq 5 ] || { echo "want 5 bars, got $n"; exit 1; }
for label in grace raw_futex python_sleep_loop go_select_ctx 998,000; do
	grep -q ">$label<" "$tmp/c.svg" || { echo "missing $label"; exit 1; }
done
grep -q "not_charted" "$tmp/c.svg" && { echo "drew an uncharted scenario"; exit 1; }
echo "RESULT x y 1 ns lower" > "$tmp/empty.txt"
python3 "$2/bench/chart.py" "$tmp/empty.txt" "$tmp/e.svg" 2>/dev/null && { echo "accepted a file with nothing to draw"; exit 1; }
echo "chart_test: ok"
