#!/bin/sh
# Install grace into a temporary prefix and build a program against it the
# two ways a user would: with pkg-config and with find_package(grace) (both
# the static grace::grace and the shared grace::grace_shared). The licence
# is installed and named by grace.pc and the CMake package. Then check that
# `make install` honours PREFIX and DESTDIR. Arguments: the build
# directory (its compiler is reused) and the source directory.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ -n "$cc" ] || cc=cc
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grace-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "install_test: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "configure, build and install (Release) into $tmp/prefix"
cmake -S "$src" -B "$tmp/build/release" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc" \
	-DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "configure"; }
cmake --build "$tmp/build/release" -j 2 >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "build"; }
cmake --install "$tmp/build/release" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "install"; }

pc=$(find "$tmp/prefix" -name grace.pc)
[ -n "$pc" ] || fail "grace.pc not installed"
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir grace)
for f in "$tmp/prefix/include/grace.h" "$libdir/libgrace.a" "$libdir/libgrace.so" \
	"$tmp/prefix/share/man/man7/grace.7" "$libdir/cmake/grace/graceConfig.cmake" \
	"$libdir/cmake/grace/graceConfigVersion.cmake" "$tmp/prefix/share/doc/grace/LICENSE"; do
	[ -e "$f" ] || fail "not installed: $f"
done
soname=$(readelf -d "$libdir/libgrace.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
major=$(sed -n 's/^#define GRACE_VERSION_MAJOR //p' "$src/include/grace.h")
minor=$(sed -n 's/^#define GRACE_VERSION_MINOR //p' "$src/include/grace.h")
version=$(sed -n 's/^#define GRACE_VERSION_STRING "\(.*\)"/\1/p' "$src/include/grace.h")
# While the major version is 0 the soname carries the minor version too.
want=libgrace.so.$major
[ "$major" = 0 ] && want=libgrace.so.$major.$minor
[ "$soname" = "$want" ] || fail "SONAME is '$soname', want $want"
[ -e "$libdir/$soname" ] || fail "no $libdir/$soname"
[ "$(pkg-config --modversion grace)" = "$version" ] || fail "grace.pc version is not $version"
n3=$(ls "$tmp/prefix/share/man/man3" | wc -l)
[ "$n3" -eq "$(ls "$src"/docs/man/*.3 | wc -l)" ] || fail "$n3 pages in man3"

step "the licence: share/doc/grace/LICENSE and grace.pc's License field"
cmp -s "$src/LICENSE" "$tmp/prefix/share/doc/grace/LICENSE" || fail "the installed LICENSE differs from the source's"
head -n 1 "$src/LICENSE" | grep -q "^MIT License" || fail "LICENSE is no longer the MIT licence: update GRACE_LICENSE"
grep -qx "License: MIT" "$pc" || fail "grace.pc has no 'License: MIT'"
# pkgconf reads the field (1.9 and later) and pkg-config 0.29 ignores it;
# neither may refuse the file or say anything about it.
for tool in pkg-config pkgconf; do
	command -v $tool >/dev/null 2>&1 || continue
	$tool --validate grace || fail "$tool --validate grace"
	$tool --cflags --libs grace >"$tmp/flags" 2>"$tmp/err" || { cat "$tmp/err"; fail "$tool --cflags --libs grace"; }
	[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "$tool complained about grace.pc"; }
	grep -q -- "-lgrace" "$tmp/flags" || fail "$tool --libs grace: $(cat "$tmp/flags")"
done

# The program: a thread blocked on an event is woken by a stop request.
cat >"$tmp/app.c" <<'C'
#include <grace.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static grace_event ev = GRACE_EVENT_INIT;

static void *waiter(void *stop)
{
	return (void *)(intptr_t)grace_event_wait(&ev, stop, GRACE_FOREVER);
}

int main(void)
{
	grace_stop *stop;
	pthread_t t;
	void *rc;
	if (grace_stop_new(&stop, NULL) != 0 || pthread_create(&t, NULL, waiter, stop) != 0)
		return 1;
	grace_stop_request(stop, 7);
	pthread_join(t, &rc);
	if ((intptr_t)rc != -ECANCELED || grace_stop_reason(stop) != 7 || grace_stop_free(stop) != 0)
		return 2;
	printf("grace %s: %s\n", GRACE_VERSION_STRING, grace_strerror((int)(intptr_t)rc));
	return 0;
}
C

step "pkg-config --cflags --libs grace ($cc)"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror $(pkg-config --cflags grace) -o "$tmp/app_pc" "$tmp/app.c" \
	$(pkg-config --libs grace) -pthread || fail "build with pkg-config"
readelf -d "$tmp/app_pc" | grep -q "NEEDED.*\[$soname\]" || fail "app_pc does not need $soname"
LD_LIBRARY_PATH="$libdir" "$tmp/app_pc" || fail "app_pc failed"

step "find_package(grace)"
mkdir -p "$tmp/consumer"
cp "$tmp/app.c" "$tmp/consumer/app.c"
cat >"$tmp/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(grace @WANT@ REQUIRED)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE grace::grace)
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE grace::grace_shared)
set_target_properties(app_static app_shared PROPERTIES C_STANDARD 11)
if(NOT grace_LICENSE STREQUAL "MIT" OR NOT EXISTS "${grace_LICENSE_FILE}")
  message(FATAL_ERROR "grace_LICENSE '${grace_LICENSE}', grace_LICENSE_FILE '${grace_LICENSE_FILE}'")
endif()
CM
# The version the header says; while the major version is 0, another minor
# version must be refused (the ABI may differ).
sed -i "s/@WANT@/$major.$minor/" "$tmp/consumer/CMakeLists.txt"
if [ "$major" = 0 ]; then
	mkdir -p "$tmp/older"
	sed "s/find_package(grace $major.$minor /find_package(grace 0.$((minor - 1)) /" \
		"$tmp/consumer/CMakeLists.txt" >"$tmp/older/CMakeLists.txt"
	cp "$tmp/app.c" "$tmp/older/app.c"
	if cmake -S "$tmp/older" -B "$tmp/older/build" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/log" 2>&1; then
		fail "find_package(grace 0.$((minor - 1))) accepted $version"
	fi
fi
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "find_package(grace)"; }
cmake --build "$tmp/consumer/build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "consumer build"; }
if readelf -d "$tmp/consumer/build/app_static" | grep -q "NEEDED.*libgrace"; then
	fail "app_static is linked against the shared library"
fi
readelf -d "$tmp/consumer/build/app_shared" | grep -q "NEEDED.*\[$soname\]" || fail "app_shared does not need $soname"
"$tmp/consumer/build/app_static" || fail "app_static failed"
"$tmp/consumer/build/app_shared" || fail "app_shared failed"

step "make install PREFIX=/opt/grace DESTDIR=$tmp/stage"
had_opt=no
[ ! -e /opt/grace ] || had_opt=yes
make -s -C "$src" install BUILD="$tmp/build" JOBS=2 PREFIX=/opt/grace DESTDIR="$tmp/stage" \
	>"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make install"; }
stage="$tmp/stage/opt/grace"
[ -e "$stage/include/grace.h" ] || fail "make install: no $stage/include/grace.h"
spc=$(find "$stage" -name grace.pc)
[ -n "$spc" ] || fail "make install: no grace.pc under $stage"
grep -qx "prefix=/opt/grace" "$spc" || fail "make install: grace.pc does not name the prefix /opt/grace"
ls "$(dirname "$(dirname "$spc")")/$soname" >/dev/null || fail "make install: no $soname"
[ $had_opt = yes ] || [ ! -e /opt/grace ] || fail "make install wrote /opt/grace outside DESTDIR"
echo "install: ok"
