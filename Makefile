# SPDX-License-Identifier: MIT
# The Makefile only wraps CMake. `make check` builds and tests every
# configuration, with warnings as errors (-DGRACE_WERROR=ON); `make demo`
# builds and runs the HTTP server demo; `make bench` runs the benchmarks
# against their peers. `make install` builds the release configuration and
# installs it under $(PREFIX) (default /usr/local), staged under $(DESTDIR)
# when that is set, as packagers expect. `make all`, `make demo` and `make
# install` build without -Werror: a newer compiler's new warning must not stop
# a user. `make fuzz`, `make helgrind` and `make model` are the longer
# reliability runs (docs/reliability.md).

BUILD  ?= build
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE  ?= cmake
CTEST  ?= ctest
PREFIX ?= /usr/local
DESTDIR ?=
LDCONFIG ?= $(shell command -v ldconfig 2>/dev/null || echo /sbin/ldconfig)

# name:cmake-arguments:environment for each configuration `make check` runs.
# The spin model check and the style check (clang-format and clang-tidy
# over src/ and include/) do not depend on the configuration, so only the
# gcc configuration runs them; the clang one builds the fuzz harnesses (where clang can link
# libFuzzer) and runs each briefly over its seed corpus. ThreadSanitizer
# runs each C test program on both engines (futex_waitv and the mutex +
# condvar fallback), since it is the one tool that models C11 atomics.
CONFIGS = gcc clang asan tsan portable
gcc_ARGS      = -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug
clang_ARGS    = -DCMAKE_C_COMPILER=clang -DGRACE_TEST_ENV=GRACE_NO_FUTEX_WAITV=1 -DGRACE_FUZZ=ON -DGRACE_MODEL_CHECK=OFF -DGRACE_STYLE_CHECK=OFF
asan_ARGS     = -DCMAKE_C_COMPILER=gcc -DGRACE_SANITIZE=address,undefined -DGRACE_MODEL_CHECK=OFF -DGRACE_STYLE_CHECK=OFF
tsan_ARGS     = -DCMAKE_C_COMPILER=gcc -DGRACE_SANITIZE=thread -DGRACE_MODEL_CHECK=OFF -DGRACE_TEST_FALLBACK_TOO=ON -DGRACE_STYLE_CHECK=OFF
portable_ARGS = -DCMAKE_C_COMPILER=gcc -DGRACE_PORTABLE=ON -DGRACE_MODEL_CHECK=OFF -DGRACE_STYLE_CHECK=OFF

# `make fuzz`: every harness for FUZZ_SECONDS each, after its seeds.
FUZZ_SECONDS ?= 300

.PHONY: all demo check $(addprefix check-,$(CONFIGS)) bench stress deps clean fuzz helgrind model

all:
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DGRACE_WERROR=OFF >/dev/null
	$(CMAKE) --build $(BUILD)/release -j $(JOBS)

# After installing, the dynamic loader must learn of the new library: it
# finds libraries in the directories of /etc/ld.so.conf (/usr/local/lib
# among them) only through the cache ldconfig writes. scripts/ldconfig.sh
# runs $(LDCONFIG) when all of these hold, and otherwise says what to do:
#  - DESTDIR is empty (a staged install is a packager's; the package runs
#    ldconfig when it is installed);
#  - the library directory is one the loader searches by default, that is,
#    one `ldconfig -v -N -X` lists (a custom PREFIX is not: README.md,
#    "Installing and using it", says how to build against one);
#  - we are root (ldconfig cannot write its cache otherwise; it names the
#    command to run instead).
.PHONY: install
install:
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DGRACE_WERROR=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	$(CMAKE) --build $(BUILD)/release -j $(JOBS)
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD)/release
	@DESTDIR="$(DESTDIR)" sh scripts/ldconfig.sh "$(BUILD)/release" "$(LDCONFIG)"

demo: all
	./$(BUILD)/release/httpd --demo

# scripts/check.sh installs what the tests need (as root) or names it, runs
# check-CONFIG for each configuration, and ends with one line: N passed,
# N failed, N skipped.
check:
	@sh scripts/check.sh $(BUILD) $(JOBS) $(CONFIGS)

$(addprefix check-,$(CONFIGS)): check-%:
	@echo "=== $* ==="
	$(CMAKE) -S . -B $(BUILD)/$* -DGRACE_WERROR=ON $($*_ARGS) >/dev/null
	$(CMAKE) --build $(BUILD)/$* -j $(JOBS)
	cd $(BUILD)/$* && $(SETARCH) $(CTEST) --output-on-failure -j $(JOBS)

# ThreadSanitizer cannot map its shadow memory under the widest ASLR some
# kernels use; run its tests without address randomisation.
check-tsan: SETARCH = setarch $$(uname -m) -R

# The soak: the queue pipeline, group shutdowns and signal storms
# (tests/stress/*.c) in turn, sharing SECONDS seconds (default 600), in an
# optimised build; tests/stress/run.sh prints one summary of all three.
SECONDS ?= 600
stress:
	$(CMAKE) -S . -B $(BUILD)/stress -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	$(CMAKE) --build $(BUILD)/stress -j $(JOBS)
	sh tests/stress/run.sh $(BUILD)/stress $(SECONDS)

bench:
	sh bench/run.sh $(BUILD)/bench

fuzz:
	$(CMAKE) -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DGRACE_FUZZ=ON -DGRACE_MODEL_CHECK=OFF >/dev/null
	$(CMAKE) --build $(BUILD)/fuzz -j $(JOBS) --target grace_fuzzers
	sh tests/fuzz/run.sh $(BUILD)/fuzz . $(FUZZ_SECONDS)

# The concurrency tests under Helgrind and DRD (tests/valgrind/run.sh says
# why they run on the mutex + condvar engine).
helgrind:
	$(CMAKE) -S . -B $(BUILD)/helgrind -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DGRACE_MODEL_CHECK=OFF >/dev/null
	$(CMAKE) --build $(BUILD)/helgrind -j $(JOBS)
	sh tests/valgrind/run.sh $(BUILD)/helgrind .

# The spin model with its larger configurations as well (several minutes).
model:
	mkdir -p $(BUILD)/model
	GRACE_MODEL_FULL=1 sh tests/model_test.sh $(BUILD)/model .

clean:
	rm -rf $(BUILD)
