# mk/fuzz.mk - fuzzing with clang's libFuzzer (harnesses and seed corpora in tests/fuzz/).
#
#   make fuzz                  build every harness with -fsanitize=fuzzer,address,undefined and
#                              run each for FUZZ_SECONDS (default 60), at nice 10; new corpus
#                              entries go to $(FUZZ_BUILD)/corpus/<name>/ (not committed), crash
#                              inputs to $(FUZZ_BUILD)/crashes/<name>/; prints executions and
#                              crashes per harness and fails when any harness crashed
#   make fuzz-dataset          the same for one harness (fuzz-checkpoint, fuzz-config, fuzz-http)
#   make fuzz-build            only build the fuzzers
#   make fuzz-seeds            rewrite tests/fuzz/corpus/checkpoint/ with make_seed_checkpoint
#   make test                  replays the committed corpora and tests/fuzz/regressions/<name>/
#                              without clang: tests/test_fuzz_replay_<name>.c
#
# The library objects are compiled again with clang (coverage instrumentation and sanitizers)
# into $(FUZZ_BUILD). They are built without -fopenmp: clang's OpenMP runtime is not the one
# faiss links, and the harnesses need no threads; omp.h still comes from clang.

FUZZ_CC      ?= clang
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_FLAGS   ?=
FUZZ_NAMES    = dataset checkpoint config http
FUZZ_DEB_PACKAGES = clang libclang-rt-14-dev llvm

FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unknown-pragmas -O1 -g $(FUZZ_SAN) \
                -Icore -Iserver -Itests/fuzz
FUZZ_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-unknown-pragmas -O1 -g $(FUZZ_SAN) -Icore
FUZZ_LIB_OBJ  = $(CORE_C:%.c=$(FUZZ_BUILD)/%.o) $(CORE_CXX:%.cpp=$(FUZZ_BUILD)/%.o) \
                $(SRV_C:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN      = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_COMMON   = tests/fuzz/fuzz_util.h

.PHONY: fuzz fuzz-deps fuzz-build fuzz-seeds $(FUZZ_NAMES:%=fuzz-%)

# Like the Makefile's deps: install what is missing when root, else print the apt-get line.
fuzz-deps:
	@sh tools/debs.sh fuzzing $(FUZZ_DEB_PACKAGES)

$(FUZZ_BUILD)/%.o: %.c $(wildcard core/*.h) $(SRV_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/%.o: %.cpp $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libnclrec.a: $(FUZZ_LIB_OBJ)
	@rm -f $@; ar rcs $@ $^

# Linked by the C++ driver: a harness that reaches the faiss shim (fuzz_http builds an index)
# needs UBSan's C++ runtime for the shim's vptr checks.
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) $(FUZZ_BUILD)/libnclrec.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@.o $<
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $@.o $(FUZZ_BUILD)/libnclrec.a $(LDLIBS)

$(FUZZ_BUILD)/make_seed_checkpoint: tests/fuzz/make_seed_checkpoint.c $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcore.a $(LDFLAGS) $(LDLIBS)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

# One harness: FUZZ_SECONDS of fuzzing, then its figures. FUZZ_FLAGS passes libFuzzer options.
$(FUZZ_NAMES:%=fuzz-%): fuzz-%: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BUILD)/fuzz_$*
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	  tests/fuzz/run_fuzzer.sh $*

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	  tests/fuzz/run_fuzzer.sh $(FUZZ_NAMES)

fuzz-seeds: $(FUZZ_BUILD)/make_seed_checkpoint
	rm -f tests/fuzz/corpus/checkpoint/*.ckpt
	$(FUZZ_BUILD)/make_seed_checkpoint tests/fuzz/corpus/checkpoint

# The replay tests include their harness: rebuild them when it changes.
$(foreach h,$(FUZZ_NAMES),$(eval $(BUILD)/tests/test_fuzz_replay_$(h): tests/fuzz/fuzz_$(h).c \
  tests/fuzz/replay_main.c $(FUZZ_COMMON)))
