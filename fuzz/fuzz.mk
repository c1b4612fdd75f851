# Fuzzing, coverage and memcheck (included by the top-level Makefile; see fuzz/README.md).
# Every fuzz/fuzz_*.cpp is one target, linked two ways:
#   $(BUILD)/fuzz/NAME         with fuzz/driver_main.cpp (any compiler): replays
#                              fuzz/corpus/NAME in `make test` (tests/suites/fuzz_regress.sh)
#   build-fuzz/fuzz/NAME.fuzzer with libFuzzer, ASan and UBSan (clang): `make fuzz`
# The other builds reuse the ordinary rules through a sub-make with another BUILD,
# compiler and SANFLAGS.

FUZZ_TARGETS ?= $(patsubst fuzz/%.cpp,%,$(wildcard fuzz/fuzz_*.cpp))
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_ENGINES := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%.fuzzer)
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
COV_BUILD := build-cov
COV_FLAGS := -fprofile-instr-generate -fcoverage-mapping
LLVM_PROFDATA ?= $(firstword $(shell command -v llvm-profdata llvm-profdata-14 2>/dev/null) llvm-profdata)
LLVM_COV ?= $(firstword $(shell command -v llvm-cov llvm-cov-14 2>/dev/null) llvm-cov)
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
  --suppressions=fuzz/valgrind.supp

.PHONY: fuzz-replay fuzz-engines fuzz fuzz-merge fuzz-seeds coverage memcheck
all: fuzz-replay
fuzz-replay: $(FUZZ_REPLAYS)
fuzz-engines: $(FUZZ_ENGINES)

$(BUILD)/fuzz/%.o: fuzz/%.cpp $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) -Ifuzz -Itests $(TEST_CXXFLAGS) -MMD -MP -c $< -o $@

# A target whose library functions have not landed yet is skipped (NAME.missing lists
# them for the regression suite) rather than breaking the build.
$(FUZZ_REPLAYS): $(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(BUILD)/fuzz/driver_main.o $(STATIC_LIB)
	@nm --defined-only $(STATIC_LIB) | awk 'NF == 3 {print $$3}' | sort -u > $@.defined; \
	missing=$$(nm -u $< | awk '{print $$NF}' | grep pushwire | sort -u | grep -vxF -f $@.defined); \
	rm -f $@.defined; \
	if [ -n "$$missing" ]; then echo "$@: skipped, $$(echo $$missing | wc -w) functions not in the library yet"; \
	  printf '%s\n' $$missing > $@.missing; rm -f $@; \
	else rm -f $@.missing; echo "$(CXX) -o $@ $^"; $(CXX) -o $@ $^ $(LDLIBS_SAN); fi

$(FUZZ_ENGINES): $(BUILD)/fuzz/%.fuzzer: $(BUILD)/fuzz/%.o $(STATIC_LIB)
	$(CXX) $(SANFLAGS) -fsanitize=fuzzer -o $@ $^

# Seeds from the RFC/WHATWG examples and tests/vectors, filed by SHA-256 into fuzz/corpus.
$(BUILD)/fuzz/seeds: $(BUILD)/fuzz/seeds.o $(BUILD)/tests/vector_file.o
	$(CXX) -o $@ $^ $(LDLIBS_SAN)

fuzz-seeds: $(BUILD)/fuzz/seeds
	@rm -rf $(BUILD)/fuzz/seeds.out
	$(BUILD)/fuzz/seeds $(BUILD)/fuzz/seeds.out tests/vectors
	@sh fuzz/run.sh file $(BUILD)/fuzz/seeds.out

# Each target in turn (one process: the machine is shared; FUZZ_JOBS=N runs N side by side,
# as CI does), new inputs kept in build-fuzz/corpus/NAME; `make fuzz-merge` moves the ones
# adding coverage into the seeds. Every target runs; any failure fails the whole.
FUZZ_JOBS ?= 1
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CXX=clang++ CC=clang SANFLAGS="$(FUZZ_SANFLAGS)" fuzz-engines
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh fuzz/run.sh run {} $(FUZZ_SECONDS)

fuzz-merge:
	$(MAKE) BUILD=$(FUZZ_BUILD) CXX=clang++ CC=clang SANFLAGS="$(FUZZ_SANFLAGS)" fuzz-engines
	@for t in $(FUZZ_TARGETS); do sh fuzz/run.sh merge $$t || exit 1; done

# Source-based line coverage of core/ from the unit tests plus every corpus replay.
coverage:
	$(MAKE) BUILD=$(COV_BUILD) CXX=clang++ CC=clang OPT="-O1 -g" SANFLAGS="$(COV_FLAGS)" \
	  $(COV_BUILD)/tests/unit fuzz-replay
	@rm -rf $(COV_BUILD)/prof && mkdir -p $(COV_BUILD)/prof
	@LLVM_PROFILE_FILE=$(COV_BUILD)/prof/unit-%p.profraw $(COV_BUILD)/tests/unit > $(COV_BUILD)/unit.log 2>&1 || \
	  echo "coverage: unit tests failed (see $(COV_BUILD)/unit.log); counting what ran"
	@objs="$(COV_BUILD)/tests/unit"; for t in $(FUZZ_TARGETS); do \
	  [ -x $(COV_BUILD)/fuzz/$$t ] || continue; objs="$$objs -object $(COV_BUILD)/fuzz/$$t"; \
	  LLVM_PROFILE_FILE=$(COV_BUILD)/prof/$$t-%p.profraw $(COV_BUILD)/fuzz/$$t fuzz/corpus/$$t > /dev/null || exit 1; \
	done; \
	$(LLVM_PROFDATA) merge -sparse $(COV_BUILD)/prof/*.profraw -o $(COV_BUILD)/all.profdata && \
	$(LLVM_COV) report $$objs -instr-profile=$(COV_BUILD)/all.profdata $(CORE_SRCS) | \
	  awk 'BEGIN {print "line coverage of core/ (unit tests + fuzz corpora):"} \
	       $$1 ~ /\.cpp$$/ || $$1 == "TOTAL" {printf "  %-24s %6s lines %5s missed  %s\n", $$1, $$8, $$9, $$10}'

# valgrind memcheck of the unit tests, the C test and every corpus replay (default build).
memcheck: all
	$(VALGRIND) $(BUILD)/tests/unit > $(BUILD)/memcheck-unit.log 2>&1 || { tail -n 40 $(BUILD)/memcheck-unit.log; exit 1; }
	$(VALGRIND) $(BUILD)/tests/capi_c_test > /dev/null
	@for t in $(FUZZ_TARGETS); do [ -x $(BUILD)/fuzz/$$t ] || continue; \
	  $(VALGRIND) $(BUILD)/fuzz/$$t fuzz/corpus/$$t > /dev/null || exit 1; done
	@echo "memcheck: no errors, no leaks"
