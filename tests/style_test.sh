#!/bin/sh
# SPDX-License-Identifier: MIT
# style_test.sh - src/ and include/ follow the house style: no difference
# from .clang-format, and no clang-tidy warning under .clang-tidy (with the
# build's own compile commands, so each file is checked as it is compiled).
#
#   sh tests/style_test.sh BUILD_DIR SOURCE_DIR
#
# The formatter's output changes between major versions, so the check needs
# clang-format 14 (Debian 12's, which scripts/deps.sh installs); with another
# version, or without the tools, it answers 77 (skipped) and says why.
# To fix a difference: clang-format -i FILE (the same version).
set -eu
build=$1
src=$2
skip() { echo "style_test: skipped: $*"; exit 77; }

fmt=
for c in clang-format-14 clang-format; do
	if command -v "$c" >/dev/null 2>&1 && "$c" --version | grep -q 'version 14\.'; then
		fmt=$c
		break
	fi
done
[ -n "$fmt" ] || skip "no clang-format 14 (sh scripts/deps.sh check installs it)"
tidy=
for c in clang-tidy-14 clang-tidy; do
	command -v "$c" >/dev/null 2>&1 && { tidy=$c; break; }
done
[ -n "$tidy" ] || skip "no clang-tidy (sh scripts/deps.sh check installs it)"
[ -f "$build/compile_commands.json" ] || skip "no $build/compile_commands.json (configure grace as the top-level project)"

cd "$src"
files=$(find src include -name '*.[ch]' | sort)
bad=0
for f in $files; do
	if ! "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "style_test: $f differs from .clang-format:" >&2
		"$fmt" "$f" | diff -u "$f" - | head -n 40 >&2 || true
		bad=1
	fi
done

# Each compiled source once (headers are checked through them, as
# HeaderFilterRegex says); the platform directory not built here is left to
# the build that compiles it.
n=0
for f in $(find src -name '*.c' | sort); do
	grep -q "\"file\": *\"[^\"]*/$f\"" "$build/compile_commands.json" || continue
	n=$((n + 1))
	if ! out=$("$tidy" -p "$build" --quiet "$f" 2>/dev/null); then
		echo "style_test: clang-tidy: $f:" >&2
		echo "$out" | grep 'error:' | sort -u | head -n 20 >&2
		bad=1
	fi
done
[ "$n" -gt 0 ] || { echo "style_test: no source of src/ in $build/compile_commands.json" >&2; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "style_test: $(echo "$files" | wc -l) files formatted, $n sources clean under clang-tidy"
