#!/bin/sh
# SPDX-License-Identifier: MIT
# A project that adds grace with add_subdirectory (tests/embed/) gets the
# libraries and nothing else: its own targets named demo and httpd (and
# empty ones named like every other program of grace's) do not collide,
# none of grace's test, example or stress programs is built, grace's
# warning options, _GNU_SOURCE and -Werror stay off its targets, nothing of
# grace's is installed with it, and its demo (static grace::grace) and
# httpd (shared grace::grace_shared) link and run. Then, configured with
# GRACE_BUILD_TESTS and GRACE_BUILD_EXAMPLES on, every target grace adds
# is named grace_* and its tests are registered. Arguments: the build
# directory (its compiler is reused) and the source directory.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ -n "$cc" ] || cc=cc
command -v make >/dev/null 2>&1 || { echo "skipped: no make (the test uses CMake's Makefile generator)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grace-embed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "embed_test: $*" >&2; exit 1; }
step() { echo "--- $*"; }
b="$tmp/build"

step "configure and build tests/embed ($cc) in $b"
cmake -G "Unix Makefiles" -S "$src/tests/embed" -B "$b" -DCMAKE_C_COMPILER="$cc" \
	-DGRACE_SOURCE_DIR="$src" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; fail "configure"; }
cmake --build "$b" -j 2 >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "build"; }

step "its own warning stayed a warning, and grace's options did not reach it"
grep -q "the embedding project's own warning" "$tmp/log" || { cat "$tmp/log"; fail "warn.c was not compiled"; }
if grep -e "-Wstrict-prototypes" -e "-Wmissing-prototypes" "$tmp/log"; then
	fail "grace's warning options reached the embedding project's targets"
fi
cmds="$b/compile_commands.json"
grep -q '"command".*-Werror' "$cmds" && fail "-Werror in a compile command: $(grep -m1 -- -Werror "$cmds")"
grep '"command"' "$cmds" | grep "/tests/embed/" >"$tmp/own" || fail "no compile command for the project's own files"
grep -e "-Wall" -e "-Wextra" -e "-D_GNU_SOURCE" "$tmp/own" && fail "grace's options in the project's own compile commands"
# The same check finds them where they belong.
grep '"command"' "$cmds" | grep "/src/stop\.c" | grep -q -e "-Wmissing-prototypes" ||
	fail "no -Wmissing-prototypes in grace's own compile commands: the check above proves nothing"

step "only the libraries of grace were built"
for f in libgrace.a libgrace.so; do
	[ -e "$b/grace/$f" ] || fail "no $b/grace/$f"
done
built=$(cd "$b/grace" && find . -path ./CMakeFiles -prune -o -type f -perm -u+x -print | grep -v '^\./libgrace\.so' || true)
[ -z "$built" ] || fail "grace built programs: $built"
for p in "$src"/examples/*.c "$src"/tests/*_test.c "$src"/tests/errname.c "$src"/tests/progs/*.c \
	"$src"/tests/stress/*.c; do
	name=$(basename "$p" .c)
	[ ! -e "$b/grace/$name" ] || fail "grace built its program $name"
done

step "the project's demo and httpd run"
"$b/demo" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "demo failed"; }
grep -q "^embed demo: grace .*, 42$" "$tmp/out" || { cat "$tmp/out"; fail "demo is not the project's own"; }
readelf -d "$b/demo" | grep -q "NEEDED.*libgrace" && fail "demo is linked against the shared library"
"$b/httpd" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "httpd failed"; }
grep -q "^embed httpd: grace .*, 42$" "$tmp/out" || { cat "$tmp/out"; fail "httpd is not the project's own"; }
readelf -d "$b/httpd" | grep -q "NEEDED.*libgrace\.so" || fail "httpd is not linked against libgrace.so"

step "installing the project installs nothing of grace's"
cmake --install "$b" --prefix "$tmp/prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "install"; }
[ -x "$tmp/prefix/bin/demo" ] || fail "the project's demo was not installed"
others=$(cd "$tmp/prefix" && find . -type f ! -path ./bin/demo)
[ -z "$others" ] || fail "grace's files installed with the project: $others"

step "with GRACE_BUILD_TESTS and GRACE_BUILD_EXAMPLES on (configured, not built)"
cmake "$b" -DGRACE_BUILD_TESTS=ON -DGRACE_BUILD_EXAMPLES=ON >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; fail "configure with grace's tests and examples"; }
# The Makefile generator's help lists the targets of one directory (and a
# FILE.o, .i and .s for each source); all but its own must be grace's, and
# named grace_*.
make -s -C "$b/grace" help >"$tmp/targets" || fail "make help"
sed -n 's/^\.\.\. \([^ ]*\).*/\1/p' "$tmp/targets" | grep -v '\.[ois]$' |
	grep -v -x -e all -e clean -e depend -e edit_cache -e rebuild_cache -e test -e install \
		-e install/local -e install/strip -e list_install_components -e 'grace' -e 'grace_.*' \
		>"$tmp/bad" && fail "targets not named grace_*: $(tr '\n' ' ' <"$tmp/bad")"
grep -q -x '\.\.\. grace_stop_test' "$tmp/targets" || fail "no target grace_stop_test: the check above proves nothing"
grep -q -x '\.\.\. grace_httpd' "$tmp/targets" || fail "no target grace_httpd"
(cd "$b/grace" && ctest -N) >"$tmp/tests" || fail "ctest -N"
grep -q "stop_test$" "$tmp/tests" || { cat "$tmp/tests"; fail "grace's tests are not registered"; }
echo "embed: ok"
