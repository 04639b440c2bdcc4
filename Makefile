# nclrec - build, test and run. `make run` and `make test` work on a fresh Debian 12 machine:
# the `deps` step installs the Debian packages below when they are missing (as root), or prints
# the exact apt-get line to run. Node.js's npm (from the machine, else Debian's nodejs and npm)
# installs the OpenAPI linter of the tests once into $(BUILD)/redocly (tools/redocly.sh);
# Debian's chromium runs the page's test (tests/test_ui.sh).

CC      ?= cc
CXX     ?= g++
ARCH    ?= -march=native
OPT     ?= -O3
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(OPT) $(ARCH) -g -fopenmp -Icore -Iserver
CXXFLAGS += -std=c++17 -Wall -Wextra $(OPT) $(ARCH) -g -fopenmp -Icore
LDLIBS  = -lmicrohttpd -ljansson -lsqlite3 -lfaiss -lopenblas -lgomp -lstdc++ -lm -lpthread
BUILD   ?= build

DEB_PACKAGES = build-essential pkg-config xz-utils libfaiss-dev libopenblas-dev \
               libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3 curl strace \
               chromium chromium-driver

CORE_C   = $(wildcard core/*.c)
CORE_CXX = $(wildcard core/*.cpp)
SRV_DIRS = base http config store model replica api
SRV_C    = $(filter-out server/main.c,$(wildcard server/*.c $(SRV_DIRS:%=server/%/*.c)))
SRV_H    = $(wildcard server/*.h $(SRV_DIRS:%=server/%/*.h))
TEST_C   = $(wildcard tests/test_*.c)

CORE_OBJ = $(CORE_C:%.c=$(BUILD)/%.o) $(CORE_CXX:%.cpp=$(BUILD)/%.o)
SRV_OBJ  = $(SRV_C:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_C:tests/%.c=$(BUILD)/tests/%)
BENCH_C  = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_C:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test run asan bench bench-train bench-quality check-layering clean
all: deps $(BUILD)/nclrec $(TEST_BIN)

# Every compile waits for deps (an order-only prerequisite: it never makes a file out of date),
# so `make -j2 all` on a machine still missing the packages does not compile before they are in.
deps:
	@sh tools/debs.sh "make test and make run" $(DEB_PACKAGES) $$(command -v npm >/dev/null 2>&1 || echo nodejs npm)

$(BUILD)/%.o: %.c $(wildcard core/*.h) $(SRV_H) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cpp $(wildcard core/*.h) | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The migrations are compiled into the binary: the daemon needs no SQL files at run time.
server/store/sql_embed.c: tools/embed_sql.sh $(wildcard sql/migrations/*.sql)
	sh tools/embed_sql.sh sql/migrations > $@.tmp && mv $@.tmp $@

# The OpenAPI spec is compiled into the binary (served at /openapi.yaml).
$(BUILD)/server/api/spec.o: openapi.yaml
# So is the operator's page (served at /ui/).
$(BUILD)/server/api/ui.o: $(wildcard server/api/ui/*)

$(BUILD)/libcore.a: $(CORE_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/libserver.a: $(SRV_OBJ)
	@mkdir -p $(dir $@); rm -f $@; ar rcs $@ $(SRV_OBJ)

$(BUILD)/nclrec: $(BUILD)/server/main.o $(BUILD)/libserver.a $(BUILD)/libcore.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libserver.a $(BUILD)/libcore.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libserver.a $(BUILD)/libcore.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libserver.a $(BUILD)/libcore.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libserver.a $(BUILD)/libcore.a $(LDFLAGS) $(LDLIBS)

# Benchmarks read the public datasets from ../shared/data (DATA_DIR) when present.
DATA_DIR ?= ../shared/data
bench: bench-train bench-quality bench-serve bench-scaling bench-blocked
bench-train: all $(BENCH_BIN)
	BUILD=$(BUILD) DATA_DIR=$(DATA_DIR) bench/bench_train.sh
bench-quality: all
	BUILD=$(BUILD) DATA_DIR=$(DATA_DIR) bench/bench_quality.sh

# Every include points down: core/ never reaches into the server or its libraries, and each
# server/ folder includes only the folders below it (tools/check_layering.sh has the order).
check-layering:
	@sh tools/check_layering.sh

test: all check-layering
	@BUILD=$(BUILD) tests/run.sh

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer, in a build dir of their own.
SAN ?=
CFLAGS += $(SAN)
CXXFLAGS += $(SAN)
LDFLAGS += $(SAN)
asan: deps
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' test

run: all
	$(BUILD)/nclrec run

clean:
	rm -rf build build-asan

# Further targets live in make fragments of their own (fuzzing, images, clusters).
-include mk/*.mk
