# pushwire: `make` needs only make and a C++ compiler. meson.build builds the same
# sources for packagers. Targets: all (libraries, tests, examples), test, demo, clean.
# `make test SANITIZE=1` builds into build-asan with ASan+UBSan.

CXX ?= g++
CC ?= cc
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

# The one version lives in meson.build.
VERSION := $(shell sed -n "s/^ *version: *'\([0-9][0-9.]*\)'.*/\1/p" meson.build | head -n 1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
VERSION_PATCH := $(word 3,$(subst ., ,$(VERSION)))
ABI_VERSION := 0

OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror
CPPFLAGS_ALL := -Icapi/include -I$(BUILD)/include -Icore $(CPPFLAGS)
CORE_CXXFLAGS := -std=c++17 $(OPT) $(WARN) -fPIC -fno-exceptions -fno-rtti -fno-threadsafe-statics \
  -fvisibility=hidden -fvisibility-inlines-hidden $(SANFLAGS) $(CXXFLAGS)
TEST_CXXFLAGS := -std=c++17 $(OPT) $(WARN) -fno-exceptions -fno-rtti $(SANFLAGS) $(CXXFLAGS)
C_CFLAGS := -std=c99 $(OPT) $(WARN) -pedantic $(SANFLAGS) $(CFLAGS)
LDLIBS_SAN := $(SANFLAGS)

CORE_SRCS := $(filter-out core/unity.cpp,$(wildcard core/*.cpp))
CAPI_SRCS := $(wildcard capi/*.cpp)
LIB_OBJS := $(CORE_SRCS:%.cpp=$(BUILD)/%.o) $(CAPI_SRCS:%.cpp=$(BUILD)/%.o)
UNIT_SRCS := tests/harness.cpp tests/vector_file.cpp $(wildcard tests/test_*.cpp)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/%.o)
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/%)

VERSION_H := $(BUILD)/include/pushwire/version.h
STATIC_LIB := $(BUILD)/libpushwire.a
SHARED_LIB := $(BUILD)/libpushwire.so.$(VERSION)
SONAME := libpushwire.so.$(ABI_VERSION)

.PHONY: all lib test test-aarch64 test-x86-baseline demo clean bench vendor
all: lib $(BUILD)/unity-check.o $(BUILD)/tests/unit $(BUILD)/tests/capi_c_test $(EXAMPLES) $(TOOLS)
lib: $(STATIC_LIB) $(SHARED_LIB)

$(VERSION_H): capi/include/pushwire/version.h.in meson.build
	@mkdir -p $(dir $@)
	sed -e 's/@PUSHWIRE_VERSION_MAJOR@/$(VERSION_MAJOR)/' -e 's/@PUSHWIRE_VERSION_MINOR@/$(VERSION_MINOR)/' \
	    -e 's/@PUSHWIRE_VERSION_PATCH@/$(VERSION_PATCH)/' -e 's/@PUSHWIRE_VERSION_STRING@/$(VERSION)/' $< > $@

$(BUILD)/core/%.o: core/%.cpp $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) $(CORE_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/capi/%.o: capi/%.cpp $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) -DPUSHWIRE_BUILDING $(CORE_CXXFLAGS) -MMD -MP -c $< -o $@

# Bindings and meson compile core/unity.cpp as one translation unit; build it here too so
# a file missing from it, or a name clash between files, shows up in every `make`.
$(BUILD)/unity-check.o: core/unity.cpp $(CORE_SRCS) $(CAPI_SRCS) $(VERSION_H)
	$(CXX) $(CPPFLAGS_ALL) -DPUSHWIRE_BUILDING $(CORE_CXXFLAGS) -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pushwire.map: capi/pushwire.sym
	@mkdir -p $(dir $@)
	{ echo '{ global:'; sed 's/.*/  &;/' $<; echo '  local: *; };'; } > $@

# Linked with the C driver: C consumers must not need the C++ runtime.
$(SHARED_LIB): $(LIB_OBJS) $(BUILD)/pushwire.map
	$(CC) -shared -o $@ $(LIB_OBJS) -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/pushwire.map \
	  -Wl,--no-undefined -Wl,--as-needed $(LDLIBS_SAN)
	ln -sf libpushwire.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libpushwire.so

$(BUILD)/tests/%.o: tests/%.cpp $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) -Itests $(TEST_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit: $(UNIT_OBJS) $(STATIC_LIB)
	$(CXX) -o $@ $(UNIT_OBJS) $(STATIC_LIB) $(LDLIBS_SAN)

# Pure C99, linked by the C driver against the static library: no C++ runtime.
$(BUILD)/tests/capi_c_test: tests/capi_c_test.c $(STATIC_LIB) $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(C_CFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS_SAN)

$(BUILD)/tests/%: tests/tools/%.c $(STATIC_LIB) $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -D_GNU_SOURCE -std=c11 $(OPT) $(WARN) $(SANFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS_SAN)

$(BUILD)/examples/%: examples/%.c $(STATIC_LIB) $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -D_GNU_SOURCE -std=c11 $(OPT) $(WARN) $(SANFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS_SAN)

test: all $(BUILD)/bench/pwbench
	BUILD=$(BUILD) sh tests/run_all.sh

# The NEON paths, cross-built for AArch64 and run under qemu (tests/run_aarch64.sh): not in
# `test`, whose time it would double on a loaded machine; .ci/run runs both.
test-aarch64:
	sh tests/run_aarch64.sh $(BUILD)

# The SSE2 twins of the AVX2 paths, end to end: the unit tests under qemu emulating an x86-64
# CPU without AVX2 (tests/run_x86_baseline.sh); .ci/run runs it after `make test`.
test-x86-baseline: $(BUILD)/tests/unit
	sh tests/run_x86_baseline.sh $(BUILD)

# ---- benchmarks: tests/bench, see tests/bench/README.md ----
# pwbench is test code (C++17 with exceptions, which Boost needs), not part of `all`.
# The peers are compiled in only when their headers are installed (__has_include), so
# it builds without them and reports them as unavailable.
BENCH_SRCS := $(wildcard tests/bench/*.cpp)
BENCH_OBJS := $(BENCH_SRCS:tests/bench/%.cpp=$(BUILD)/bench/%.o)
BENCH_CXXFLAGS := -std=c++17 $(OPT) $(WARN) -pthread $(SANFLAGS) $(CXXFLAGS)
BENCH_LIBS = $(if $(shell echo "#include <wslay/wslay.h>" | $(CXX) -E -x c++ - >/dev/null 2>&1 && echo y),-lwslay)

$(BUILD)/bench/%.o: tests/bench/%.cpp $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) $(BENCH_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bench/pwbench: $(BENCH_OBJS) $(STATIC_LIB)
	$(CXX) -pthread -o $@ $(BENCH_OBJS) $(STATIC_LIB) $(BENCH_LIBS) $(LDLIBS_SAN)

# The release build is meson's buildtype=release (-O3, NDEBUG), no -march: what packagers
# ship. BENCH_ROUNDS, BENCH_SUBSET, BENCH_MIN_TIME, BENCH_DIR tune the run.
bench:
	@$(MAKE) --no-print-directory BUILD=build/release OPT='-O3 -DNDEBUG' SANITIZE= build/release/bench/pwbench
	python3 tests/bench/driver.py --bin build/release/bench/pwbench --out build/bench \
	  --rounds $${BENCH_ROUNDS:-5} --subset $${BENCH_SUBSET:-full} --min-time $${BENCH_MIN_TIME:-0.5} \
	  --dir $${BENCH_DIR:-/tmp/pushwire-bench}

# The demo page, chat and live feed (examples/demo_server.c); PORT=0 picks a free port.
demo: $(BUILD)/examples/demo_server
	@$(BUILD)/examples/demo_server --port $${PORT:-8080} --page examples/demo/index.html

# sdists, gems and npm packages cannot reach ../../core: each binding gets a copy (gitignored)
# of core/, capi/ and the generated version.h. bindings/python/setup.py does the same itself.
vendor: $(VERSION_H)
	@for b in $(wildcard bindings/*/); do \
	  rm -rf $${b}vendor && mkdir -p $${b}vendor && cp -R core capi $${b}vendor/ && \
	  cp $(VERSION_H) $${b}vendor/capi/include/pushwire/ && echo "vendored into $${b}vendor"; \
	done

clean:
	rm -rf build build-asan build-fuzz build-cov

include fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
