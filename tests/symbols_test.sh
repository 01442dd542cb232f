#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports grace_* and nothing else: no internal grace__
# names, no helpers. Arguments: the build directory and the source directory.
set -eu
lib="$1/libgrace.so"
[ -f "$lib" ] || { echo "no $lib"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
	grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
[ -n "$syms" ] || { echo "no symbols exported"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v -E '^grace_[a-z]' || true)
if [ -n "$bad" ]; then
	echo "exported beyond the API:"; printf '%s\n' "$bad"; exit 1
fi
# Every exported function is declared in the header.
for s in $syms; do
	grep -q "\\b$s(" "$2/include/grace.h" || { echo "exported but not in grace.h: $s"; exit 1; }
done
echo "$(printf '%s\n' "$syms" | wc -l) symbols, all grace_*: ok"
