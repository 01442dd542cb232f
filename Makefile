# The Makefile only wraps CMake. `make check` builds and tests every
# configuration; `make demo` builds and runs the demo; `make bench` runs the
# benchmarks against their peers. `make install` builds the release
# configuration and installs it under $(PREFIX) (default /usr/local), staged
# under $(DESTDIR) when that is set, as packagers expect.

BUILD  ?= build
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE  ?= cmake
CTEST  ?= ctest
PREFIX ?= /usr/local
DESTDIR ?=

# name:cmake-arguments:environment for each configuration `make check` runs.
CONFIGS = gcc clang asan tsan portable
gcc_ARGS      = -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug
clang_ARGS    = -DCMAKE_C_COMPILER=clang -DGRACE_TEST_ENV=GRACE_NO_FUTEX_WAITV=1
asan_ARGS     = -DCMAKE_C_COMPILER=gcc -DGRACE_SANITIZE=address,undefined
tsan_ARGS     = -DCMAKE_C_COMPILER=gcc -DGRACE_SANITIZE=thread
portable_ARGS = -DCMAKE_C_COMPILER=gcc -DGRACE_PORTABLE=ON

.PHONY: all demo check $(addprefix check-,$(CONFIGS)) bench stress deps clean

all:
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(CMAKE) --build $(BUILD)/release -j $(JOBS)

.PHONY: install
install:
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	$(CMAKE) --build $(BUILD)/release -j $(JOBS)
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(BUILD)/release

demo: all
	./$(BUILD)/release/demo

check: $(addprefix check-,$(CONFIGS))
	@echo "all configurations passed: $(CONFIGS)"

$(addprefix check-,$(CONFIGS)): check-%:
	@echo "=== $* ==="
	$(CMAKE) -S . -B $(BUILD)/$* $($*_ARGS) >/dev/null
	$(CMAKE) --build $(BUILD)/$* -j $(JOBS)
	cd $(BUILD)/$* && $(SETARCH) $(CTEST) --output-on-failure -j $(JOBS)

# ThreadSanitizer cannot map its shadow memory under the widest ASLR some
# kernels use; run its tests without address randomisation.
check-tsan: SETARCH = setarch $$(uname -m) -R

# The soak: every tests/stress/*.c program, SECONDS seconds each (default
# 600), in an optimised build with debug checks kept on.
SECONDS ?= 600
stress:
	$(CMAKE) -S . -B $(BUILD)/stress -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	$(CMAKE) --build $(BUILD)/stress -j $(JOBS)
	SECONDS=$(SECONDS) ./$(BUILD)/stress/queue_stress

bench:
	sh bench/run.sh $(BUILD)/bench

clean:
	rm -rf $(BUILD)
