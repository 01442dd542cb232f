#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual agrees with the header and the library: the pages in docs/man
# are what docs/mkman.sh makes of docs/*.md; every function declared in
# include/grace.h and every function libgrace.so exports has a page whose
# SYNOPSIS repeats the header's declaration; every page names a declared
# function, and every page it refers to exists; every error code a page lists
# is one grace_strerror() names in grace's own words, and grace(7) lists
# every such code; the examples compile; and every page renders without a warning from groff.
# Arguments: the build directory and the source directory.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
man="$src/docs/man"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grace-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
bad=0
err() { echo "man_test: $*"; bad=1; }

# 1. The generated pages are up to date, and there is no page without a source.
sh "$src/docs/mkman.sh" "$tmp/man" || err "docs/mkman.sh failed"
diff -r "$tmp/man" "$man" >"$tmp/diff" || { cat "$tmp/diff"; err "docs/man is stale: run sh docs/mkman.sh"; }

# 2. Declarations: "name<TAB>prototype" with whitespace normalised, from the
# header (GRACE_API and static inline functions) and from each page's
# SYNOPSIS. The header's attribute macros read as what they stand for in C
# (GRACE__NORETURN is _Noreturn); GRACE_API is dropped.
norm='{ gsub(/[ \t]+/, " "); gsub(/\( /, "("); gsub(/ \)/, ")"); gsub(/ ;/, ";"); sub(/^ /, "") }'
awk '
	/^(GRACE__[A-Z]+ )*(GRACE_API|static inline) / { decl = ""; on = 1 }
	on {
		decl = decl " " $0
		if ($0 ~ /[;{)]$/ && $0 !~ /,$/) {
			gsub(/GRACE__NORETURN/, "_Noreturn", decl)
			sub(/GRACE_API /, "", decl)
			sub(/^ static inline /, " ", decl)
			sub(/^ /, "", decl)
			sub(/[ ]*\{$/, "", decl)
			if (decl !~ /;$/)
				decl = decl ";"
			gsub(/[ \t]+/, " ", decl); gsub(/\( /, "(", decl); gsub(/ \)/, ")", decl)
			n = decl; sub(/\(.*/, "", n); sub(/.*[ *]/, "", n)
			print n "\t" decl
			on = 0
		}
	}' "$src/include/grace.h" | sort >"$tmp/header"
cut -f1 "$tmp/header" >"$tmp/declared"
[ -s "$tmp/declared" ] || err "no declarations found in include/grace.h"

for f in $(cat "$tmp/declared"); do
	[ -f "$man/$f.3" ] || err "$f is declared in grace.h but has no page docs/man/$f.3"
done
if [ -f "$build/libgrace.so" ]; then
	for f in $(nm -D --defined-only "$build/libgrace.so" | awk '$2 == "T" {print $3}'); do
		[ -f "$man/$f.3" ] || err "$f is exported but has no page"
	done
else
	err "no $build/libgrace.so"
fi

for md in "$src"/docs/*.md; do
	page=$(grep -v '^<!--.*-->$' "$md" | head -n 1)
	printf '%s\n' "$page" | grep -q '^# [A-Za-z0-9_.]*([1-9])$' || continue
	page=${page#\# }
	name=${page%(*}
	sec=${page#*(}
	sec=${sec%)}
	for s in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" ERRORS EXAMPLE "SEE ALSO"; do
		[ "$sec" = 3 ] || [ "$s" = NAME ] || [ "$s" = "SEE ALSO" ] || [ "$s" = ERRORS ] || [ "$s" = DESCRIPTION ] || continue
		grep -qx "## $s" "$md" || err "$md: no section $s"
	done
	[ "$sec" = 3 ] || continue
	grep -qx "$name" "$tmp/declared" || err "$md: $name is not declared in grace.h"
	# The NAME line names declared functions only.
	for f in $(awk '/^## NAME$/ {getline; sub(/ - .*/, ""); gsub(/,/, " "); print}' "$md"); do
		grep -qx "$f" "$tmp/declared" || err "$md: NAME lists $f, not declared in grace.h"
	done
	# The SYNOPSIS prototype of the page's function is the header's.
	awk '/^## SYNOPSIS$/ {on = 1; next} on && /^## / {on = 0} on && !/^```/ && !/^#/' "$md" |
		awk -v name="$name" '
		{ decl = decl " " $0 }
		/;[ \t]*$/ {
			gsub(/[ \t]+/, " ", decl); gsub(/\( /, "(", decl); gsub(/ \)/, ")", decl); sub(/^ /, "", decl)
			n = decl; sub(/\(.*/, "", n); sub(/.*[ *]/, "", n)
			if (n == name) print n "\t" decl
			decl = ""
		}' | sed 's/[ ]*$//' >"$tmp/synopsis"
	want=$(grep "^$name	" "$tmp/header" | sed 's/[ ]*$//' || true)
	[ -s "$tmp/synopsis" ] || err "$md: the SYNOPSIS does not declare $name"
	if [ -s "$tmp/synopsis" ] && [ "$(cat "$tmp/synopsis")" != "$want" ]; then
		err "$md: SYNOPSIS disagrees with grace.h:"
		echo "  page:   $(cut -f2 "$tmp/synopsis")"
		echo "  header: $(echo "$want" | cut -f2)"
	fi
	# The example compiles against the header.
	awk '/^## EXAMPLE$/ {on = 1; next} on && /^## / {on = 0} on && /^```/ {inb = !inb; next} on && inb' "$md" >"$tmp/example.c"
	if [ -s "$tmp/example.c" ]; then
		${CC:-cc} -std=c11 -Wall -Wextra -Werror -fsyntax-only -I "$src/include" "$tmp/example.c" \
			>"$tmp/cc" 2>&1 || { cat "$tmp/cc"; err "$md: the example does not compile"; }
	fi
done

# 3. Every page referred to exists.
for ref in $(cat "$src"/docs/*.md | grep -o 'grace[a-z0-9_]*([37])' | sort -u); do
	n=${ref%(*}
	s=${ref#*(}
	s=${s%)}
	[ -f "$man/$n.$s" ] || err "a page refers to $ref, which does not exist"
done

# 4. Error codes: every code listed in an ERRORS section is one
# grace_strerror names in grace's own words; grace(7) lists every such code.
# (Every other errno value is named after the system; time_test checks that.)
[ -x "$build/errname" ] || err "no $build/errname"
codes=$(awk '/^## / {on = ($0 == "## ERRORS")} on && /^- `-E[A-Z0-9]+`/' "$src"/docs/*.md |
	sed 's/^- `-\(E[A-Z0-9]*\)`.*/\1/' | sort -u)
if [ -x "$build/errname" ]; then
	"$build/errname" $codes >"$tmp/codes" || { grep -e "does not name" -e "not an errno name" "$tmp/codes"; err "pages list codes grace_strerror does not name in its own words"; }
	for c in $("$build/errname"); do
		awk '/^## / {on = ($0 == "## ERRORS")} on' "$src/docs/grace.md" | grep -q "^- \`-$c\`" ||
			err "grace(7) does not list $c, which grace_strerror names in its own words"
	done
fi

# 5. Every page renders without a warning.
if command -v groff >/dev/null 2>&1; then
	for p in "$man"/*.[37]; do
		LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p" >"$tmp/groff" 2>&1 || err "$p: groff failed"
		[ ! -s "$tmp/groff" ] || { cat "$tmp/groff"; err "$p: groff warns"; }
	done
else
	err "groff is not installed (scripts/deps.sh installs it)"
fi

[ $bad -eq 0 ] || exit 1
echo "$(ls "$man" | wc -l) pages, $(wc -l <"$tmp/declared") declared functions: ok"
