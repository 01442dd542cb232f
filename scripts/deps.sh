#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages a task needs, only those missing.
#   deps.sh check   what `make check` needs (compilers, CMake, sanitizer runtimes,
#                   curl and wrk for the HTTP demo's tests, clang-format and
#                   clang-tidy for the style check)
#   deps.sh bench   what `make bench` needs as well (C++20, GLib, Go, Python, Boost.Thread)
#   deps.sh check --dry-run   only say what is missing ("missing: ..."), and
#                   exit 1 if anything is
set -eu
what=${1:-check}
dry=${2:-}
pkgs="make cmake gcc clang libc6-dev libasan8 libubsan1 libtsan2 util-linux python3 curl"
pkgs="$pkgs groff-base pkg-config"
pkgs="$pkgs wrk"
pkgs="$pkgs spin"
pkgs="$pkgs libclang-rt-14-dev"
pkgs="$pkgs clang-format clang-tidy"
if [ "$what" = bench ]; then
	pkgs="$pkgs g++ libglib2.0-dev pkg-config golang-go python3 libboost-thread-dev"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$dry" = --dry-run ]; then
	echo "missing:$missing"
	exit 1
fi
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
