#!/bin/sh
# SPDX-License-Identifier: MIT
# ldconfig.sh - the last step of `make install`: tell the dynamic loader of
# the library just installed, when that is this install's to do.
#
#   DESTDIR=... sh scripts/ldconfig.sh BUILD LDCONFIG
#
# BUILD is the build directory `make install` installed from (its
# CMakeCache.txt names the prefix and the library directory); LDCONFIG is
# the ldconfig to run. The rule, also in the Makefile: nothing for a staged
# install (DESTDIR set); for a library directory the loader searches by
# default (one `LDCONFIG -v -N -X` lists), LDCONFIG as root, and as another
# user the command to run; for any other directory, how to build against it.
set -u
build=$1
ldconfig=$2
say() { echo "make install: $*"; }
[ -z "${DESTDIR:-}" ] || exit 0

get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
prefix=$(get CMAKE_INSTALL_PREFIX)
libdir=$(get CMAKE_INSTALL_LIBDIR)
case $libdir in /*) ;; *) libdir="$prefix/$libdir" ;; esac

# ldconfig lists the directories it reads ("DIR: (from FILE:LINE)" or
# "DIR:"), each library in it indented below; -N and -X leave the cache
# and the links alone. Directories are compared with their links resolved
# (/lib is /usr/lib on a merged /usr).
real() { (cd "$1" 2>/dev/null && pwd -P); }
want=$(real "$libdir")
searched=no
for dir in $("$ldconfig" -v -N -X 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p'); do
	if [ "$(real "$dir")" = "$want" ]; then
		searched=yes
		break
	fi
done
if [ $searched = no ]; then
	say "the dynamic loader does not search $libdir by default;"
	say "build programs with -Wl,-rpath,$libdir (README.md, \"Installing and using it\", gives the other ways)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	say "run 'sudo $ldconfig' so that programs find libgrace in $libdir (only root can update the loader's cache)"
	exit 0
fi
"$ldconfig" || { say "$ldconfig failed"; exit 1; }
