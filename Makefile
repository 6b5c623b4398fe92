# juno: build, test, fuzz and install every program.
#
#   make deps        install missing Debian packages (quiet when all are present)
#   make             build every program into build/
#   make test        build and run every test (unit + bats); last line "N passed, N failed"
#   make SAN=1 test  the same under AddressSanitizer + UBSan (objects in build/san/)
#   make fuzz        run each libFuzzer target for FUZZ_SECONDS, or FUZZ_RUNS
#                    executions (clang); FUZZ_TARGETS="fuzz_map ..." picks some
#   make fuzz-merge  add what the runs found to test/fuzz/seeds/ (docs/fuzzing.md)
#   make chaos       bin/juno-lab's whole fault matrix (root, about 9 minutes):
#                    the figures table, also in CHAOS_DIR/chaos.md
#   make install     PREFIX=/usr/local: programs, man pages, completions
#   V=1              show full commands

.DEFAULT_GOAL := all
PREFIX       ?= /usr/local
SAN          ?= 0
FUZZ_SECONDS ?= 30
CHAOS_DIR    ?= build/chaos
FUZZ_RUNS    ?=
CC           ?= cc
CFLAGS       ?= -O2 -g
VERSION      := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD    ?= build
SANFLAGS :=
endif

PKGS       := rocksdb libuv libcjson libxxhash libcurl libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -DJUNO_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) $(SANFLAGS) \
              -Ilib $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
# --as-needed: a program records only the libraries it calls (`juno` no libssl),
# also under SAN, whose link would otherwise record every one
LDLIBS     := -Wl,--as-needed $(PKG_LIBS) -lm -lpthread

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

# Debian packages the build, the tests and the cluster scripts need.
DEB_PKGS := build-essential pkg-config librocksdb-dev libuv1-dev libcurl4-openssl-dev libcjson-dev \
            libxxhash-dev libssl-dev openssl bats clang libclang-rt-14-dev curl python3 procps iproute2 \
            etcd-server etcd-client haproxy redis-tools redis-server python3-redis nftables

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIBJUNO  := $(BUILD)/libjuno.a

# Every directory under src/ (and bench/) holding C files is one program;
# src/juno-cli builds `juno`.
prog_name = $(if $(filter juno-cli,$(1)),juno,$(1))
PROG_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard src/*/*.c bench/*/*.c))))
PROGS :=
define PROGRAM
$(BUILD)/$(call prog_name,$(notdir $(1))): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIBJUNO)
	$$(quiet) LINK $$@
	$$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LDLIBS)
PROGS += $(BUILD)/$(call prog_name,$(notdir $(1)))
endef
$(foreach d,$(PROG_DIRS),$(eval $(call PROGRAM,$(d))))

# Unit tests: test/unit/test_<module>.c, each its own TAP-printing binary.
UNIT_SRCS  := $(wildcard test/unit/test_*.c)
UNIT_BINS  := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(UNIT_SRCS))
FUZZ_SRCS  := $(wildcard test/fuzz/fuzz_*.c)

# `juno` links no OpenSSL: its TLS is lib/tls*.c in a plugin it loads when
# told to speak TLS (lib/tls_api.h, src/juno-cli/tls_dl.c), beside it here
# and in $(PREFIX)/lib/juno once installed. Its objects are built -fPIC.
TLS_PLUGIN      := $(BUILD)/juno-tls.so
TLS_PLUGIN_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,lib/tls.c lib/tls_ctx.c lib/tls_plugin.c lib/buf.c)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(TLS_PLUGIN): $(TLS_PLUGIN_OBJS) lib/tls_plugin.map
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -shared -Wl,-z,defs -Wl,--version-script=lib/tls_plugin.map \
	    -o $@ $(TLS_PLUGIN_OBJS) $(LDLIBS)

$(BUILD)/juno: | $(TLS_PLUGIN)

.PHONY: all deps test unit fuzz fuzz-build fuzz-merge chaos install clean format check-format
.SECONDARY:
all: $(PROGS) $(UNIT_BINS) $(TLS_PLUGIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBJUNO): $(LIB_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/test/%: $(BUILD)/test/unit/%.o $(LIBJUNO)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing" $$missing; \
	    sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
	        -o DPkg::Lock::Timeout=600 $$missing >/dev/null || exit 1; \
	fi
	@# test/node: ioredis and node-redis at the versions of package-lock.json
	@# (test/juno-resp-node.bats); Debian's nodejs and npm when there are none
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    echo "make deps: installing nodejs npm"; \
	    sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
	        -o DPkg::Lock::Timeout=600 nodejs npm >/dev/null || exit 1; \
	fi
	@if ! cmp -s test/node/package-lock.json test/node/node_modules/.juno-lock; then \
	    echo "make deps: npm ci in test/node"; \
	    (cd test/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null && \
	     cp package-lock.json node_modules/.juno-lock) || exit 1; \
	fi

test: all
	@BUILD=$(BUILD) test/run

# Run only the unit tests (fast).
unit: $(UNIT_BINS)
	@BUILD=$(BUILD) test/run --unit

# Every fault of bin/juno-lab in turn, each on a fresh lab, under a recorded
# workload checked by test/lab_check.py; exit 1 if a promise broke.
chaos: all
	@JUNO_BUILD=$(CURDIR)/$(BUILD) bin/juno-lab chaos --dir $(CHAOS_DIR) --out $(CHAOS_DIR)/chaos.md

FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS ?= $(patsubst test/fuzz/%.c,%,$(FUZZ_SRCS))
# A UBSan report must stop the fuzzer like a crash, hence no recovery.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -DJUNO_VERSION='"$(VERSION)"' $(WARN) -g -O1 -Ilib $(PKG_CFLAGS) \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(FUZZ_BUILD)/%: test/fuzz/%.c $(LIB_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) FUZZ $@
	$(Q)clang $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS)

# Build the targets only.
fuzz-build: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

# Each target for FUZZ_SECONDS, or FUZZ_RUNS executions when set (test/fuzz/run
# prints runs, exec/s, cov and ft per target: the figures of docs/fuzzing.md).
fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) \
	    test/fuzz/run $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

# Fold each target's working corpus (after a long run) into its committed
# seeds, test/fuzz/seeds/NAME/: only inputs that reach an edge the seeds do
# not are added (-use_counters=0: edges, not hit counts), so it stays small.
fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p test/fuzz/seeds/$$t; \
	    $(FUZZ_BUILD)/$$t -merge=1 -use_counters=0 test/fuzz/seeds/$$t $(FUZZ_BUILD)/corpus-$$t \
	        >$(FUZZ_BUILD)/$$t-merge.log 2>&1 || { tail -n 5 $(FUZZ_BUILD)/$$t-merge.log; exit 1; }; \
	    echo "fuzz-merge: $$t: $$(ls test/fuzz/seeds/$$t | wc -l) seeds"; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/juno
	install -m 0644 $(TLS_PLUGIN) $(DESTDIR)$(PREFIX)/lib/juno/
	for m in docs/man/*.1; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in docs/man/*.8; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done; true
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	for c in completions/*.bash; do install -m 0644 $$c $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$(basename $$c .bash); done
	for c in completions/_*; do install -m 0644 $$c $(DESTDIR)$(PREFIX)/share/zsh/site-functions/; done

format:
	clang-format -i lib/*.[ch] src/*/*.[ch] bench/*/*.c test/unit/*.[ch] test/fuzz/*.c

check-format:
	clang-format --dry-run -Werror lib/*.[ch] src/*/*.[ch] bench/*/*.c test/unit/*.[ch] test/fuzz/*.c

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(TLS_PLUGIN_OBJS:.o=.d) $(wildcard $(BUILD)/src/*/*.d $(BUILD)/bench/*/*.d $(BUILD)/test/unit/*.d)
