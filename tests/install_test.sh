#!/bin/sh
# SPDX-License-Identifier: MIT
# Install grace into a temporary prefix and build a program against it the
# two ways a user would: with pkg-config, as README.md tells a user of a
# custom prefix (a run path, no LD_LIBRARY_PATH), and with
# find_package(grace) (both the static grace::grace and the shared
# grace::grace_shared). The licence is installed and named by grace.pc and
# the CMake package. Then check that `make install` honours PREFIX and
# DESTDIR, and runs ldconfig only where the Makefile says it does (a fake
# ldconfig and a fake id stand in for the real ones, so this machine's
# loader cache is never touched). Arguments: the build directory (its
# compiler is reused) and the source directory.
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

step "pkg-config, with the run path README.md gives for a custom prefix ($cc)"
# The command as README.md has it (cc being this build's compiler), and the
# program run with no LD_LIBRARY_PATH: the loader must find the installed
# library through the run path alone.
readme='cc -std=c11 app.c $(pkg-config --cflags --libs grace) -Wl,-rpath,$(pkg-config --variable=libdir grace)'
grep -qF -- "$readme" "$src/README.md" || fail "README.md no longer gives: $readme"
# shellcheck disable=SC2046
(cd "$tmp" && "$cc" -std=c11 app.c $(pkg-config --cflags --libs grace) -Wl,-rpath,$(pkg-config --variable=libdir grace) \
	-o app_pc) || fail "build with pkg-config"
readelf -d "$tmp/app_pc" | grep -q "NEEDED.*\[$soname\]" || fail "app_pc does not need $soname"
env -u LD_LIBRARY_PATH "$tmp/app_pc" || fail "app_pc failed"
loaded=$(env -u LD_LIBRARY_PATH ldd "$tmp/app_pc" | sed -n "s/^[[:space:]]*$soname => \([^ ]*\) .*/\1/p")
[ -n "$loaded" ] || { ldd "$tmp/app_pc"; fail "ldd does not resolve $soname"; }
[ "$(cd "$(dirname "$loaded")" && pwd -P)/$(basename "$loaded")" = "$(cd "$libdir" && pwd -P)/$soname" ] ||
	fail "app_pc loads $loaded, not $libdir/$soname"

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
env -u LD_LIBRARY_PATH "$tmp/consumer/build/app_shared" || fail "app_shared failed"

# The fakes: ldconfig records each call that would write the cache; asked
# which directories it reads (-v -N -X, read-only), it names those of
# FAKE_LDCONFIG_DIRS, or passes the question on to the real ldconfig when
# that is unset. id -u answers FAKE_UID.
mkdir -p "$tmp/fake"
real_ldconfig=$(command -v ldconfig || { [ -x /sbin/ldconfig ] && echo /sbin/ldconfig; } || true)
real_id=$(command -v id)
cat >"$tmp/fake/ldconfig" <<EOF
#!/bin/sh
case " \$* " in
*" -N "*)
	if [ -n "\${FAKE_LDCONFIG_DIRS+set}" ]; then
		for d in \$FAKE_LDCONFIG_DIRS; do echo "\$d: (from the test)"; done
	elif [ -n "$real_ldconfig" ]; then
		exec "$real_ldconfig" "\$@"
	fi
	exit 0 ;;
esac
echo "ldconfig \$*" >>"$tmp/ldconfig.calls"
EOF
cat >"$tmp/fake/id" <<EOF
#!/bin/sh
if [ "\$*" = "-u" ] && [ -n "\${FAKE_UID:-}" ]; then
	echo "\$FAKE_UID"
	exit 0
fi
exec "$real_id" "\$@"
EOF
chmod +x "$tmp/fake/ldconfig" "$tmp/fake/id"
# make_install NAME UID ARGS...: `make install ARGS` with the fakes, as the
# user UID; its output goes to $tmp/NAME.log, and whether it ran ldconfig
# to $tmp/NAME.ran.
make_install() {
	name=$1
	uid=$2
	shift 2
	rm -f "$tmp/ldconfig.calls"
	PATH="$tmp/fake:$PATH" FAKE_UID=$uid make -s -C "$src" install BUILD="$tmp/build" JOBS=2 \
		LDCONFIG="$tmp/fake/ldconfig" "$@" >"$tmp/$name.log" 2>&1 ||
		{ cat "$tmp/$name.log"; fail "make install $*"; }
	if [ -e "$tmp/ldconfig.calls" ]; then echo yes; else echo no; fi >"$tmp/$name.ran"
}
ran() { cat "$tmp/$1.ran"; }
# The library directory is lib, lib64 or lib/MULTIARCH, as GNUInstallDirs
# decides; the fake names all three as the loader's.
multiarch=$("$cc" -print-multiarch 2>/dev/null || true)
libdirs() { echo "$1/lib $1/lib64${multiarch:+ $1/lib/$multiarch}"; }

step "make install PREFIX=/opt/grace DESTDIR=$tmp/stage: staged, no ldconfig"
had_opt=no
[ ! -e /opt/grace ] || had_opt=yes
# The fake says the loader searches /opt/grace/lib: DESTDIR alone must keep
# ldconfig from running.
FAKE_LDCONFIG_DIRS=$(libdirs /opt/grace) make_install staged 0 PREFIX=/opt/grace DESTDIR="$tmp/stage"
stage="$tmp/stage/opt/grace"
[ -e "$stage/include/grace.h" ] || fail "make install: no $stage/include/grace.h"
spc=$(find "$stage" -name grace.pc)
[ -n "$spc" ] || fail "make install: no grace.pc under $stage"
grep -qx "prefix=/opt/grace" "$spc" || fail "make install: grace.pc does not name the prefix /opt/grace"
ls "$(dirname "$(dirname "$spc")")/$soname" >/dev/null || fail "make install: no $soname"
[ $had_opt = yes ] || [ ! -e /opt/grace ] || fail "make install wrote /opt/grace outside DESTDIR"
[ "$(ran staged)" = no ] || fail "make install with DESTDIR ran ldconfig: $(cat "$tmp/ldconfig.calls")"

step "make install to a directory the loader searches: ldconfig as root, the command to run otherwise"
sys="$tmp/sys"
FAKE_LDCONFIG_DIRS=$(libdirs "$sys") make_install sysroot 0 PREFIX="$sys"
[ "$(ran sysroot)" = yes ] || { cat "$tmp/sysroot.log"; fail "make install as root to the loader's directory did not run ldconfig"; }
[ "$(cat "$tmp/ldconfig.calls")" = "ldconfig " ] || fail "ldconfig ran as: $(cat "$tmp/ldconfig.calls")"
ls "$(dirname "$(dirname "$(find "$sys" -name grace.pc)")")/$soname" >/dev/null || fail "make install: no $soname under $sys"
FAKE_LDCONFIG_DIRS=$(libdirs "$sys") make_install sysuser 1000 PREFIX="$sys"
[ "$(ran sysuser)" = no ] || fail "make install as another user ran ldconfig"
grep -q "sudo .*ldconfig" "$tmp/sysuser.log" || { cat "$tmp/sysuser.log"; fail "make install as another user does not name the command to run"; }

step "make install to a custom prefix: no ldconfig, the run path named"
# The real ldconfig answers which directories it reads (read-only).
make_install custom 0 PREFIX="$tmp/custom"
[ "$(ran custom)" = no ] || fail "make install to $tmp/custom ran ldconfig"
grep -q -- "-Wl,-rpath,$tmp/custom/" "$tmp/custom.log" || { cat "$tmp/custom.log"; fail "make install does not name the run path"; }
# The real answer for /usr/local/lib, which Debian's loader searches, through
# the same script (nothing is installed there).
if [ -n "$real_ldconfig" ] && "$real_ldconfig" -v -N -X 2>/dev/null | grep -q "^/usr/local/lib:"; then
	mkdir -p "$tmp/usrlocal"
	printf 'CMAKE_INSTALL_PREFIX:PATH=/usr/local\nCMAKE_INSTALL_LIBDIR:PATH=lib\n' >"$tmp/usrlocal/CMakeCache.txt"
	rm -f "$tmp/ldconfig.calls"
	PATH="$tmp/fake:$PATH" FAKE_UID=0 DESTDIR='' sh "$src/scripts/ldconfig.sh" "$tmp/usrlocal" "$tmp/fake/ldconfig" ||
		fail "scripts/ldconfig.sh for /usr/local"
	[ -e "$tmp/ldconfig.calls" ] || fail "scripts/ldconfig.sh does not see /usr/local/lib among the loader's directories"
else
	echo "(this machine's loader does not list /usr/local/lib: that check is left out)"
fi
echo "install: ok"
