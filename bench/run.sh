#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - build and run every benchmark in bench/ against its peers, one
# program after another, and make the tables.
#
#   sh bench/run.sh [BUILDDIR]        (`make bench` passes build/bench)
#
# What it does, in order:
#  1. scripts/deps.sh bench installs the peers' toolchains where missing
#     (needs root; without it, programs whose toolchain is absent are
#     skipped and said so).
#  2. The library is built in Release (-O2) in BUILDDIR/lib with CMake.
#  3. Every bench/*.c is built against BUILDDIR/lib/libgrace.a and
#     -lpthread (plus `pkg-config glib-2.0 gio-2.0` when it includes glib.h),
#     every bench/*.cc with g++ -std=c++20 -O2 (plus -DHAVE_BOOST_THREAD
#     -lboost_thread when it includes a Boost.Thread header and the
#     library links; otherwise without it), every bench/*.go with
#     `go build`; bench/*.py run under python3 (except the tools table.py,
#     chart.py and ab.py).
#  4. The programs run one after another, never in parallel. Their
#     `RESULT <scenario> <peer> <value> <unit> <better>` lines, with the
#     machine, the date and the command as `#` lines, go to
#     BUILDDIR/results.txt; each program's whole output to BUILDDIR/logs/.
#  5. bench/table.py prints a markdown table per scenario and writes the
#     results section of docs/benchmarks.md (BUILDDIR/benchmarks.md for a
#     BENCH_QUICK or BENCH_ONLY run; BENCH_DOC=path overrides, BENCH_DOC=
#     skips it).
#
# Environment: BENCH_QUICK=1 (every program uses shorter phases; passed
# through), BENCH_ONLY="core queue" (run only programs whose file name
# starts with one of these), BENCH_TIMEOUT (seconds per program, 600), CC,
# CXX, GO, PYTHON. Exits non-zero if a program failed to build or to run.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
bd=${1:-"$here/build/bench"}
mkdir -p "$bd"
bd=$(cd "$bd" && pwd)
bin="$bd/bin"
logs="$bd/logs"
rm -rf "$bin" "$logs"
mkdir -p "$bin" "$logs"

CC=${CC:-cc}
CXX=${CXX:-g++}
GO=${GO:-go}
PYTHON=${PYTHON:-python3}
timeout_s=${BENCH_TIMEOUT:-600}
quick=${BENCH_QUICK:-}
jobs=$(nproc 2>/dev/null || echo 2)
failed=""
skipped=""

say() { printf '%s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

sh "$here/scripts/deps.sh" bench ||
	say "run.sh: could not install every peer's toolchain; programs that need a missing one are skipped"

# ---- 1. the library, Release at -O2 ----
say "== building libgrace (Release, -O2) in $bd/lib"
cmake -S "$here" -B "$bd/lib" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
	-DBUILD_TESTING=OFF >"$logs/cmake.log" 2>&1 || { cat "$logs/cmake.log" >&2; exit 1; }
cmake --build "$bd/lib" -j "$jobs" --target grace >>"$logs/cmake.log" 2>&1 ||
	{ cat "$logs/cmake.log" >&2; exit 1; }
lib="$bd/lib/libgrace.a"

# ---- 2. build every program ----
selected() {
	[ -z "${BENCH_ONLY:-}" ] && return 0
	for p in $BENCH_ONLY; do
		case "$1" in "$p"*) return 0 ;; esac
	done
	return 1
}

# The Go build cache: the user's if it is usable, else one in the build dir.
gocache=$($GO env GOCACHE 2>/dev/null || true)
if [ -z "$gocache" ] || [ "$gocache" = off ] || ! mkdir -p "$gocache" 2>/dev/null; then
	gocache="$bd/go-cache"
fi

programs="" # "name:how:path" entries (no spaces in paths), run in this order
for src in "$here"/bench/*; do
	file=$(basename "$src")
	selected "$file" || continue
	case "$file" in
	table.py | chart.py | ab.py) continue ;;
	*.c)
		name="${file%.c}_c"
		extra=""
		if grep -q '#[[:space:]]*include[[:space:]]*[<"]glib\.h[>"]' "$src" ||
			grep -q '#[[:space:]]*include[[:space:]]*[<"]gio/gio\.h[>"]' "$src"; then
			if ! pkg-config --exists glib-2.0 gio-2.0 2>/dev/null; then
				skipped="$skipped $file(no-glib)"
				continue
			fi
			extra=$(pkg-config --cflags --libs glib-2.0 gio-2.0)
		fi
		have "$CC" || { skipped="$skipped $file(no-$CC)"; continue; }
		say "== cc $file"
		# shellcheck disable=SC2086
		if $CC -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -I"$here/include" -I"$here/bench" \
			-o "$bin/$name" "$src" "$lib" -lpthread $extra >"$logs/$name.build" 2>&1; then
			programs="$programs $name:exe:$bin/$name"
		else
			cat "$logs/$name.build" >&2
			failed="$failed $file(build)"
		fi
		;;
	*.cc)
		name="${file%.cc}_cc"
		have "$CXX" || { skipped="$skipped $file(no-$CXX)"; continue; }
		say "== c++ $file"
		extra=""
		# Boost.Thread peers are built only where the library links.
		if grep -q '#[[:space:]]*include[[:space:]]*<boost/thread' "$src"; then
			if printf '#include <boost/thread/thread.hpp>\nint main() { return 0; }\n' |
				$CXX -std=c++20 -x c++ - -o "$bin/.boost-probe" -lboost_thread >/dev/null 2>&1; then
				extra="-DHAVE_BOOST_THREAD -lboost_thread"
			else
				say "run.sh: $file: Boost.Thread not found; its Boost peers are left out"
				skipped="$skipped $file(no-boost-peer)"
			fi
			rm -f "$bin/.boost-probe"
		fi
		# shellcheck disable=SC2086
		if $CXX -std=c++20 -O2 -Wall -Wextra -pthread -I"$here/include" -I"$here/bench" \
			-o "$bin/$name" "$src" "$lib" $extra >"$logs/$name.build" 2>&1; then
			programs="$programs $name:exe:$bin/$name"
		else
			cat "$logs/$name.build" >&2
			failed="$failed $file(build)"
		fi
		;;
	*.go)
		name="${file%.go}_go"
		have "$GO" || { skipped="$skipped $file(no-go)"; continue; }
		say "== go $file"
		if (cd "$bd" && GOCACHE="$gocache" GOTOOLCHAIN=local GOFLAGS='' \
			$GO build -o "$bin/$name" "$src") >"$logs/$name.build" 2>&1; then
			programs="$programs $name:exe:$bin/$name"
		else
			cat "$logs/$name.build" >&2
			failed="$failed $file(build)"
		fi
		;;
	*.py)
		name="${file%.py}_py"
		have "$PYTHON" || { skipped="$skipped $file(no-python)"; continue; }
		programs="$programs $name:py:$src"
		;;
	esac
done

# ---- 3. run them one after another ----
results="$bd/results.txt"
cmd="sh bench/run.sh ${1:-build/bench}"
[ -n "${MAKELEVEL:-}" ] && cmd="make bench"
[ -n "$quick" ] && cmd="BENCH_QUICK=$quick $cmd"
[ -n "${BENCH_ONLY:-}" ] && cmd="BENCH_ONLY=\"$BENCH_ONLY\" $cmd"
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
{
	echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# command: $cmd"
	echo "# commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "# machine: nproc $(nproc 2>/dev/null || echo '?'), ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (1, 5, 15 min, at the start)"
	echo "# compilers: $($CC --version 2>/dev/null | head -n 1); $($CXX --version 2>/dev/null | head -n 1)"
	echo "# peers: $($GO version 2>/dev/null || echo 'no go'); $($PYTHON --version 2>&1 || echo 'no python'); glib $(pkg-config --modversion glib-2.0 2>/dev/null || echo none); boost $(dpkg-query -W -f='${Version}' libboost-thread-dev 2>/dev/null || echo none)"
} >"$results"

export BENCH_QUICK="$quick"
for entry in $programs; do
	name=${entry%%:*}
	how=${entry#*:}
	how=${how%%:*}
	path=${entry#*:*:}
	run=$path
	[ "$how" = py ] && run="$PYTHON $path"
	say "== run $name"
	start=$(date +%s)
	# The exit status travels through a file: a pipe would hide it.
	# shellcheck disable=SC2086
	(
		set +e
		timeout "$timeout_s" $run </dev/null
		echo $? >"$logs/$name.rc"
	) 2>&1 | tee "$logs/$name.log" >&2
	rc=$(cat "$logs/$name.rc" 2>/dev/null || echo 1)
	echo "# $name: exit $rc after $(($(date +%s) - start)) s" >>"$results"
	grep '^RESULT ' "$logs/$name.log" >>"$results" || true
	if [ "$rc" -ne 0 ]; then
		failed="$failed $name(exit-$rc)"
	fi
	# A line that looks like a result but is malformed is a bug to show.
	grep '^RESULT' "$logs/$name.log" | awk -v n="$name" \
		'NF != 6 || ($6 != "lower" && $6 != "higher") || $4 !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ { print "run.sh: " n ": malformed: " $0 > "/dev/stderr" }'
done

[ -n "$skipped" ] && echo "# skipped:$skipped" >>"$results"
[ -n "$failed" ] && echo "# failed:$failed" >>"$results"

# ---- 4. the tables ----
if [ -z "${BENCH_DOC+set}" ]; then
	if { [ -n "$quick" ] && [ "$quick" != 0 ]; } || [ -n "${BENCH_ONLY:-}" ]; then
		BENCH_DOC="$bd/benchmarks.md"
	else
		BENCH_DOC="$here/docs/benchmarks.md"
	fi
fi
echo
if [ -n "$BENCH_DOC" ]; then
	$PYTHON "$here/bench/table.py" "$results" --doc "$BENCH_DOC"
	# The chart goes beside the document the tables went to.
	$PYTHON "$here/bench/chart.py" "$results" "${BENCH_DOC%.md}.svg" || true
	say "run.sh: raw results in $results; tables written to $BENCH_DOC, chart to ${BENCH_DOC%.md}.svg"
else
	$PYTHON "$here/bench/table.py" "$results"
	say "run.sh: raw results in $results"
fi
[ -n "$skipped" ] && say "run.sh: skipped:$skipped"
if [ -n "$failed" ]; then
	say "run.sh: FAILED:$failed"
	exit 1
fi
exit 0
