#!/bin/sh
# SPDX-License-Identifier: MIT
# license_test.sh - every source, header, script and doc source names the
# license: an SPDX line among its first three lines. Generated man pages carry
# it too (docs/mkman.sh writes it). Data files (fuzz corpora, the chart) and
# LICENSE itself are exempt.
#
#   sh tests/license_test.sh BUILD_DIR SOURCE_DIR
set -eu
src=$2
tag='SPDX-License-Identifier: MIT'
cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files)
else
	files=$(find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||')
fi
[ -n "$files" ] || { echo "license_test: no files found under $src" >&2; exit 1; }
bad=0
n=0
for f in $files; do
	case "$f" in
	LICENSE|tests/fuzz/corpus/*|*.svg) continue ;;
	esac
	[ -f "$f" ] || continue
	n=$((n + 1))
	head -n 3 "$f" | grep -q "$tag" && continue
	echo "license_test: $f has no '$tag' line at its top" >&2
	bad=1
done
grep -q 'MIT License' LICENSE || { echo "license_test: LICENSE is not the MIT license" >&2; bad=1; }
[ "$bad" = 0 ] || exit 1
echo "license_test: $n files name the license"
