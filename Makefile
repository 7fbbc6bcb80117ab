# zonetap: every target does all set-up first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)
NODE := $(CURDIR)/.tools/node/bin/node
TEST_DIRS := lib net pipeline receivers processors exporters cli sim test deploy
TEST_FILES = $(shell find $(TEST_DIRS) -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)

.PHONY: setup build check test demo bench clean

setup:
	@scripts/setup.sh

# ---- eBPF object and native addon (bpf/, native/) ----
# clang -target bpf with Debian's UAPI and libbpf headers; kernel types come from
# bpf/kernel.h (CO-RE), so no vmlinux.h is generated. The bench/ objects are the
# benchmark's baselines (no-op and kubezonnet-style reference programs).
BPF_OBJ := bpf/flows.bpf.o bench/noop.bpf.o bench/reference.bpf.o
NATIVE_ADDON := native/build/Release/zonetap_native.node
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/$(shell gcc -dumpmachine) -Ibpf

%.bpf.o: %.bpf.c bpf/*.h
	clang $(BPF_CFLAGS) -c $< -o $@

$(NATIVE_ADDON): native/*.cc native/binding.gyp bpf/*.h
	cd native && $(NODE) ../node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=$(CURDIR)/.tools/node --loglevel=warn

build: setup
	@$(MAKE) --no-print-directory $(BPF_OBJ) $(NATIVE_ADDON)

check: setup
	node_modules/.bin/tsc --noEmit -p .

test: build check
	$(NODE) --test --test-reporter=spec --test-timeout=300000 --test-force-exit --test-concurrency=1 $(TEST_FILES)

demo: build
	bin/zonetap demo

bench: build
	$(NODE) bench/run.ts

clean:
	rm -rf native/build $(BPF_OBJ)
