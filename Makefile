# buzzradar — build, test, lint, bench.
#
#   make                      build build/buzzradar (installs missing Debian packages first)
#   make test                 build and run every unit and integration test
#   make SANITIZE=address,undefined test    the same, instrumented, in build/san-address-undefined/
#   make SANITIZE=thread test-pipeline      the threaded pipeline tests under ThreadSanitizer
#   make lint                 clang-format check + cppcheck
#   make bench                benchmarks (results: build/bench/, summary in BENCHMARKS.md)
#   make run                  the demo: redis + embedded Kafka + worker + live view
#   make deps                 install the Debian packages the project needs
#
# Sources are discovered by folder: every .c file in model/, consumers/, producers/
# and worker/ (but worker/main.c) goes into one static library; each
# tests/unit/test_*.c and tests/integration/test_*.c is its own cmocka program;
# tests/harness/*.c is linked into the integration tests and the benchmark
# programs (tests/bench/bench_*.c, bench_e2e starts servers through it); tests/tools/*.c are standalone helper programs
# (the mock Kafka broker among them).

CC       ?= cc
comma    := ,
SANITIZE ?=
OPT      ?= -O2

ifeq ($(SANITIZE),)
BUILD    := build
SANFLAGS :=
else
BUILD    := build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# ThreadSanitizer cannot see librdkafka's C11 threads: link worker/tsan_threads.c's
# pthread-based versions into every program of that build.
ifneq ($(findstring thread,$(SANITIZE)),)
SANFLAGS += -Wl,--undefined=thrd_create
endif

CFLAGS   := -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
            -MMD -MP -I. $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS     := -lrdkafka -lhiredis -lcjson -lopenblas -lstemmer -lmicrohttpd -lz -lm

LIB_SRC  := $(filter-out worker/main.c,$(wildcard model/*.c consumers/*.c producers/*.c worker/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libbuzzradar.a
BIN      := $(BUILD)/buzzradar

UNIT_SRC := $(wildcard tests/unit/test_*.c)
INTG_SRC := $(wildcard tests/integration/test_*.c)
HARN_SRC := $(wildcard tests/harness/*.c)
BENCH_SRC:= $(wildcard tests/bench/bench_*.c)
TOOL_SRC := $(wildcard tests/tools/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTG_BIN := $(INTG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
HARN_OBJ := $(HARN_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_BIN:= $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
DEPS_OK  := build/.deps-ok

.SECONDARY:
.PHONY: all deps test test-unit test-integration test-pipeline lint format bench run clean
all: $(BIN)

# ---- dependencies: installed once per machine, checked by a stamp ----------------
deps:
	@scripts/deps.sh
$(DEPS_OK): scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(@D) && touch $@

# ---- library and binary ------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/worker/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- tests -------------------------------------------------------------------------
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(HARN_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(HARN_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

test: $(BIN) $(UNIT_BIN) $(INTG_BIN) $(TOOL_BIN)
	@tests/run.sh $(BUILD) $(UNIT_BIN) $(INTG_BIN)

test-unit: $(BIN) $(UNIT_BIN) $(TOOL_BIN)
	@tests/run.sh $(BUILD) $(UNIT_BIN)

test-integration: $(BIN) $(INTG_BIN) $(TOOL_BIN)
	@tests/run.sh $(BUILD) $(INTG_BIN)

# The tests that exercise threads (pipeline, pool, worker) — run under SANITIZE=thread.
PIPELINE_TESTS := $(filter %pipeline %pool %worker %offsets,$(UNIT_BIN) $(INTG_BIN))
test-pipeline: $(BIN) $(PIPELINE_TESTS) $(TOOL_BIN)
	@tests/run.sh $(BUILD) $(PIPELINE_TESTS)

# ---- lint --------------------------------------------------------------------------
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
lint: | $(DEPS_OK)
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I. -D__GNUC__ \
	  -D__BYTE_ORDER__=1234 -D__ORDER_LITTLE_ENDIAN__=1234 $(C_FILES)

format:
	clang-format -i $(C_FILES)

# ---- bench and demo ----------------------------------------------------------------
bench: $(BIN) $(BENCH_BIN) $(TOOL_BIN)
	@tests/bench/run.sh $(BUILD)

run: $(BIN) $(TOOL_BIN)
	@scripts/demo.sh $(BUILD)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
