# vpnd - one strict Makefile.
#   make            build build/vpnd
#   make run        install missing packages, build, start vpnd on 127.0.0.1:8080 (data in ./var)
#   make test       install missing packages; unit + API tests under ASan+UBSan, unit tests
#                   under valgrind, every fuzzer briefly (= .ci/run)
#   make unit       C unit tests only (current build flavour)
#   make SANITIZE=address,undefined   sanitizer build
#   make valgrind   the unit tests, built without sanitizers in build/vg, under valgrind
#   make bench      the comparative benchmark suite (bench/run.py: vpnd vs nginx and raw SQLite,
#                   scale sweep, route filtering, real mode, soak; knobs in bench/README.md)
#   make bench-smoke  the same suite, BENCH_QUICK=1 (a short check that it runs)
#   make gen-spec   regenerate src/schema/spec_gen.c from ../shared/spec
#   make fuzz FUZZ_SECONDS=N   build the libFuzzer harnesses (clang) and run each N s (default 60)
#   make fuzz-ci    the same, ~10 s each; fails on any crash, leak or invariant failure

CC       ?= cc
BUILD    ?= build
SANITIZE ?=
PYTHON   ?= /usr/bin/python3
LISTEN   ?= 127.0.0.1:8080
DATA     ?= var

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wstrict-prototypes -Wmissing-prototypes -O2 -g -Isrc -MMD -MP
ifeq ($(CI),true)
CFLAGS_BASE += -Werror
endif
ifneq ($(WERROR),)
CFLAGS_BASE += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS_BASE += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=$(SANITIZE)
endif
CFLAGS  ?=
CFLAGS  := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS  := -lmicrohttpd -lgnutls -ljansson -lsqlite3 -lpthread
LDFLAGS += $(LDFLAGS_SAN)

LIB_SRCS := $(sort $(wildcard src/core/*.c src/schema/*.c src/store/*.c src/model/*.c \
	src/api/*.c src/http/*.c src/tls/*.c src/auth/*.c src/realize/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard src/cli_*.c)))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test unit api deps clean gen-spec bench bench-smoke valgrind valgrind-run \
	fuzz fuzz-ci fuzz-build fuzz-bins

all: $(BUILD)/vpnd

# keep the unit tests' object files between runs
.SECONDARY:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libvpnd.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vpnd: $(BUILD)/src/vpnd.o $(CLI_OBJS) $(BUILD)/libvpnd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libvpnd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@sh scripts/install-deps.sh

run: deps
	$(MAKE) all
	@mkdir -p $(DATA)
	$(BUILD)/vpnd --listen $(LISTEN) --data $(DATA)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

api: $(BUILD)/vpnd $(BUILD)/sqlite_raw
	VPND_BIN=$(abspath $(BUILD)/vpnd) $(PYTHON) -m pytest -q tests/api

# The README's test command: every test, -Werror builds. Unit and API tests under ASan+UBSan
# (leaks fail), the unit tests again under valgrind (unsanitized build), every fuzzer briefly.
test: deps
	$(MAKE) WERROR=1 BUILD=build/san SANITIZE=address,undefined unit api
	$(MAKE) WERROR=1 valgrind
	$(MAKE) WERROR=1 fuzz-ci

BENCH_BINS := $(BUILD)/vpnd $(BUILD)/sqlite_raw $(BUILD)/prefix_bench $(BUILD)/sim_bench

bench: $(BENCH_BINS)
	$(PYTHON) bench/run.py --build $(BUILD)

bench-smoke: $(BENCH_BINS)
	BENCH_QUICK=1 $(PYTHON) bench/run.py --build $(BUILD)

# the raw-SQLite reference of the durable PATCH benchmark (links only libsqlite3)
$(BUILD)/sqlite_raw: $(BUILD)/bench/sqlite_raw.o
	$(CC) $(LDFLAGS) -o $@ $^ -lsqlite3

# valgrind (memcheck) on every unit test: its own unsanitized build (valgrind and ASan do not
# mix); leaks (definite, indirect) and any report, also from forked children, fail it.
VG_BUILD ?= build/vg
valgrind: deps
	$(MAKE) BUILD=$(VG_BUILD) SANITIZE= valgrind-run

valgrind-run: $(UNIT_BINS)
	sh scripts/valgrind-unit.sh $(UNIT_BINS)

# route-filter benchmark (not a test); unsanitized unless SANITIZE is given
$(BUILD)/prefix_bench: $(BUILD)/bench/prefix_bench.o $(BUILD)/libvpnd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the emulator backend at scale (not a test): build/sim_bench [sessions]
$(BUILD)/sim_bench: $(BUILD)/bench/sim_bench.o $(BUILD)/libvpnd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

gen-spec:
	$(PYTHON) tools/gen_spec.py ../shared/spec/nsx-vmc-policy-ipsec-bgp-types.json \
		tools/extra-types.json > src/schema/spec_gen.c

# ---- fuzzing (docs/fuzz.md): clang + libFuzzer, in its own build dir ----
# The library is rebuilt there with clang, ASan+UBSan and -fsanitize=fuzzer-no-link; each
# harness tests/fuzz/fuzz_*.c links it with libFuzzer's main. A run works on a copy of the
# checked-in corpus (build/fuzz/corpus/NAME), so new inputs never dirty the tree; crashes land
# in build/fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/bin/%)
FUZZ_ARGS ?=

fuzz-build:
	CFLAGS="-fsanitize=fuzzer-no-link -O1" $(MAKE) BUILD=$(FUZZ_BUILD) CC=clang \
		SANITIZE=address,undefined fuzz-bins

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_BUILD)/bin/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/common.o $(BUILD)/libvpnd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) "$(FUZZ_ARGS)" $(FUZZ_NAMES)

fuzz-ci: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) 10 "$(FUZZ_ARGS)" $(FUZZ_NAMES)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
