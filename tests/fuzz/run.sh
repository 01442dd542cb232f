#!/bin/sh
# SPDX-License-Identifier: MIT
# Run libFuzzer harnesses.
#   run.sh BUILD SRC SECONDS [NAME...]
# Each harness BUILD/NAME (default: every tests/fuzz/*_fuzz.c) first replays
# its committed seed corpus (SRC/tests/fuzz/corpus/NAME) under both wait
# engines, then fuzzes for SECONDS. New inputs go to BUILD/fuzz/NAME/corpus
# (the committed corpus is only read; merge finds into it with
# `NAME -merge=1 SRC/tests/fuzz/corpus/NAME BUILD/fuzz/NAME/corpus`), and a
# crashing input to BUILD/fuzz/NAME/. Any failure exits non-zero.
set -eu
build=$1
src=$2
secs=$3
shift 3
if [ $# -eq 0 ]; then
	for f in "$src"/tests/fuzz/*_fuzz.c; do
		n=$(basename "$f" .c)
		set -- "$@" "$n"
	done
fi
for name in "$@"; do
	bin="$build/$name"
	[ -x "$bin" ] || { echo "no $bin: configure with -DGRACE_FUZZ=ON (clang)"; exit 1; }
	seeds="$src/tests/fuzz/corpus/$name"
	out="$build/fuzz/$name"
	mkdir -p "$out/corpus"
	opts="-timeout=20 -rss_limit_mb=2048 -artifact_prefix=$out/ -print_final_stats=1"
	echo "== $name: replay $(ls "$seeds" | wc -l) seeds under the fallback engine"
	# shellcheck disable=SC2086
	GRACE_NO_FUTEX_WAITV=1 "$bin" $opts -runs=0 "$seeds" >"$out/replay.log" 2>&1 ||
		{ tail -50 "$out/replay.log"; exit 1; }
	echo "== $name: fuzz ${secs}s from the seeds"
	# shellcheck disable=SC2086
	"$bin" $opts -max_total_time="$secs" "$out/corpus" "$seeds" >"$out/fuzz.log" 2>&1 ||
		{ tail -60 "$out/fuzz.log"; exit 1; }
	grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$out/fuzz.log" || true
	tail -1 "$out/fuzz.log"
done
echo "fuzz: $# harnesses ran clean"
