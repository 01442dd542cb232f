#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/table.py over several runs: each peer's median and min-max spread,
# the ratio of the medians, and target verdicts that say "within noise"
# when the spreads overlap the threshold ("met" and "missed" only when the
# whole spread agrees); one run still gives a plain table; --doc writes
# between the markers and keeps the prose around them.
# Arguments: the build directory and the source directory.
set -u
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
want() { grep -qF -- "$2" "$1" || { echo "table_test: no line with: $2"; bad=1; }; }
run() { # NAME LOAD GRACE_ALL8 RAW_ALL8 GRACE_CHECK IDLE MUTEX_1P1C
	cat >"$tmp/$1" <<R
# date: day $1
# command: sh bench/run.sh build/bench
# commit: abc1234
# load: $2 1.00 1.00 (1, 5, 15 min, at the start)
RESULT stop_check grace $5 ns lower
RESULT stop_check inline_load 1.0 ns lower
RESULT stop_all_8 grace $3 us lower
RESULT stop_all_8 raw_futex $4 us lower
RESULT stop_all_8 cxx_stop_cv_any 500 us lower
RESULT stop_all_8 glib_cancellable_cond $4 us lower
RESULT idle_wakeups_64 grace $6 wakeups/s lower
RESULT queue_1p1c grace 30 Mitems/s higher
RESULT queue_1p1c go_select_ctx 10 Mitems/s higher
RESULT queue_1p1c lockfree_futex 100 Mitems/s higher
RESULT queue_1p1c mutex_condvar $7 Mitems/s higher
R
}
# stop_all_8: grace 100..130 against raw 100..110: within noise of 1.2x;
# stop_check: grace 1.1..1.4 against 1.0: met; idle: one run not 0: missed.
# queue_1p1c: grace 30 against go 10 (met), mutex 20..35 (within noise),
# and not within 3x of the floor's 100 (missed).
run r1 0.50 100 100 1.1 0 20
run r2 3.00 130 110 1.4 0 35
run r3 1.00 120 105 1.2 2 25
python3 "$2/bench/table.py" "$tmp/r1" "$tmp/r2" "$tmp/r3" --command "loop x3" >"$tmp/out" ||
	{ echo "table.py failed"; exit 1; }
want "$tmp/out" "- command: loop x3"
want "$tmp/out" "- runs: 3"
want "$tmp/out" "- run 2: day r2, commit abc1234, load 3.00 1.00 1.00"
want "$tmp/out" "| stop_check | grace <= 1.5 x inline_load | grace 1.200 [1.100–1.400] vs inline_load 1.000 [1.000–1.000]: 1.20x of the medians | met |"
want "$tmp/out" "| stop_all_8 | grace <= 1.2 x raw_futex | grace 120.0 [100.0–130.0] vs raw_futex 105.0 [100.0–110.0]: 1.14x of the medians | within noise |"
want "$tmp/out" "| stop_all_8 | grace < cxx_stop_cv_any | grace 120.0 [100.0–130.0] vs cxx_stop_cv_any 500.0 [500.0–500.0] | met |"
want "$tmp/out" "| stop_all_8 | grace < glib_cancellable_cond | grace 120.0 [100.0–130.0] vs glib_cancellable_cond 105.0 [100.0–110.0] | within noise |"
want "$tmp/out" "| idle_wakeups_64 | grace == 0 | grace 0.000 [0.000–2.000] (3 runs) | **missed** |"
want "$tmp/out" "| **grace** | 120.0 | 100.0–130.0 | 3 | us | 1.00 |"
want "$tmp/out" "| raw_futex | 105.0 | 100.0–110.0 | 3 | us | 0.88 |"
want "$tmp/out" "| go_select_ctx | 10.00 | 10.00–10.00 | 3 | Mitems/s | 3.00 |"
want "$tmp/out" "| queue_1p1c | grace >= 2 x go_select_ctx | grace 30.00 [30.00–30.00] vs go_select_ctx 10.00 [10.00–10.00]: 3.00x of the medians | met |"
want "$tmp/out" "| queue_1p1c | grace ahead of every peer but the lock-free floor | grace 30.00 [30.00–30.00]; next best mutex_condvar 25.00 [20.00–35.00] | within noise |"
want "$tmp/out" "| queue_1p1c | grace >= lockfree_futex / 3 | grace 30.00 [30.00–30.00] vs lockfree_futex 100.0 [100.0–100.0]: 0.30x of the medians | **missed** |"
# Missed across the whole spread.
run s1 1 200 100 1.0 0 20
run s2 1 210 110 1.0 0 20
python3 "$2/bench/table.py" "$tmp/s1" "$tmp/s2" >"$tmp/out2" || { echo "table.py failed"; exit 1; }
want "$tmp/out2" "| stop_all_8 | grace <= 1.2 x raw_futex | grace 205.0 [200.0–210.0] vs raw_futex 105.0 [100.0–110.0]: 1.95x of the medians | **missed** |"
want "$tmp/out2" "- command: sh bench/run.sh build/bench"
# One run: no spread, and the run's own lines.
python3 "$2/bench/table.py" "$tmp/r1" >"$tmp/out1" || { echo "table.py failed"; exit 1; }
want "$tmp/out1" "- date: day r1"
want "$tmp/out1" "| **grace** | 100.0 | (1 run) | 1 | us | 1.00 |"
want "$tmp/out1" "| stop_all_8 | grace <= 1.2 x raw_futex | grace 100.0 vs raw_futex 100.0: 1.00x of the medians | met |"
# --doc replaces only what lies between the markers.
printf 'before\n<!-- results:begin -->\nold\n<!-- results:end -->\nafter\n' >"$tmp/doc.md"
python3 "$2/bench/table.py" "$tmp/r1" "$tmp/r2" --doc "$tmp/doc.md" >/dev/null || { echo "table.py --doc failed"; exit 1; }
want "$tmp/doc.md" "before"
want "$tmp/doc.md" "after"
want "$tmp/doc.md" "- runs: 2"
grep -qx old "$tmp/doc.md" && { echo "table_test: --doc kept the old tables"; bad=1; }
[ $bad -eq 0 ] || exit 1
echo "table_test: ok"
