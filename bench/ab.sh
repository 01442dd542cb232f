#!/bin/sh
# SPDX-License-Identifier: MIT
# ab.sh - before/after: the same C benchmarks against two builds of the
# library, interleaved, in one run.
#
#   sh bench/ab.sh BASE-REV [ROUNDS] [PROGRAM[:ARGS]...]
#
# Builds libgrace (Release, -O2) from git revision BASE-REV (a throw-away
# worktree) and from the working tree, compiles each named bench/*.c program
# (default: core_bench thread_bench) against both, and runs them alternately
# ROUNDS times (default 5): base, new, base, new... so that the machine's
# drift hits both alike. A program's arguments, if any, follow a colon
# (core_bench:stop_all_64). Each run's RESULT lines are tagged base or new;
# bench/ab.py prints, per scenario and peer, the median and range of each
# side and the ratio of the medians, "within noise" when the ranges overlap.
# Output: BUILDDIR (build/ab) holds the binaries, results.txt and the table.
set -eu
[ $# -ge 1 ] || { echo "usage: sh bench/ab.sh BASE-REV [ROUNDS] [PROGRAM[:ARGS]...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
base=$1
shift
rounds=5
if [ $# -ge 1 ] && [ "$1" -eq "$1" ] 2>/dev/null; then
	rounds=$1
	shift
fi
progs=${*:-"core_bench thread_bench"}
bd=${AB_BUILD:-"$here/build/ab"}
mkdir -p "$bd"
bd=$(cd "$bd" && pwd)
CC=${CC:-cc}

rm -rf "$bd/base-src"
git -C "$here" worktree prune
git -C "$here" worktree add --detach "$bd/base-src" "$base" >/dev/null 2>&1 ||
	{ echo "ab.sh: cannot check out $base" >&2; exit 1; }
trap 'git -C "$here" worktree remove --force "$bd/base-src" >/dev/null 2>&1 || true' EXIT

build_lib() { # SRC OUT
	cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
		-DBUILD_TESTING=OFF >/dev/null
	cmake --build "$2" -j "$(nproc)" --target grace >/dev/null
}
build_lib "$bd/base-src" "$bd/lib-base"
build_lib "$here" "$bd/lib-new"

for side in base new; do
	inc="$here/include"
	[ "$side" = base ] && inc="$bd/base-src/include"
	for p in $progs; do
		name=${p%%:*}
		$CC -std=gnu11 -O2 -D_GNU_SOURCE -I"$inc" -I"$here/bench" -o "$bd/$name-$side" \
			"$here/bench/$name.c" "$bd/lib-$side/libgrace.a" -lpthread
	done
done

out="$bd/results.txt"
{
	echo "# $(uname -srm), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# sh bench/ab.sh $base $rounds $progs  (base $(git -C "$here" rev-parse --short "$base"), new $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet || echo '+changes'))"
} >"$out"
r=1
while [ "$r" -le "$rounds" ]; do
	for p in $progs; do
		name=${p%%:*}
		args=""
		[ "$p" != "$name" ] && args=$(echo "${p#*:}" | tr ',' ' ')
		for side in base new; do
			echo "== round $r/$rounds $name $side" >&2
			# shellcheck disable=SC2086
			"$bd/$name-$side" $args | sed -n "s/^RESULT /$side /p" >>"$out"
		done
	done
	r=$((r + 1))
done
python3 "$here/bench/ab.py" "$out" | tee "$bd/table.md"
