# zonetap: every target does all set-up first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)
NODE := $(CURDIR)/.tools/node/bin/node
TEST_DIRS := bpf native lib net pipeline receivers processors exporters advice cli sim test deploy
TEST_FILES = $(shell find $(TEST_DIRS) -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)

.PHONY: setup build check test demo bench clean

setup:
	@scripts/setup.sh

# ---- eBPF objects, their skeletons and the native addon (bpf/, native/) ----
# clang -target bpf with Debian's UAPI and libbpf headers; the netfilter
# program's kernel types come from bpf/kernel.h (CO-RE), so no vmlinux.h is
# generated. `bpftool gen skeleton` turns each flow-table object into a header
# the addon is compiled against (maps, programs and settings named at compile
# time). bpf/reach checks every object against the kernels it promises. The
# bench/ objects are the benchmarks' baselines; sim/ has the simulated eBPF
# host-routing datapath.
FLOW_OBJ := bpf/netfilter.bpf.o bpf/cgroup.bpf.o
BPF_OBJ := $(FLOW_OBJ) bench/noop.bpf.o bench/reference.bpf.o bench/noop-cgroup.bpf.o bench/reference-cgroup.bpf.o sim/host-routing.bpf.o
SKELETONS := native/generated/netfilter_flows.skel.h native/generated/cgroup_flows.skel.h
NATIVE_ADDON := native/build/Release/zonetap_native.node
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/$(shell gcc -dumpmachine) -Ibpf

%.bpf.o: %.bpf.c bpf/*.h bench/*.h
	clang $(BPF_CFLAGS) -c $< -o $@

native/generated/%_flows.skel.h: bpf/%.bpf.o
	@mkdir -p native/generated
	bpftool gen skeleton $< name $*_flows > $@.tmp && mv $@.tmp $@

$(NATIVE_ADDON): native/src/*.cc native/src/*.h native/binding.gyp bpf/*.h $(SKELETONS)
	cd native && $(NODE) ../node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=$(CURDIR)/.tools/node --loglevel=warn

.reach-checked: $(FLOW_OBJ) bpf/reach/*.ts
	$(NODE) bpf/reach/check.ts $(FLOW_OBJ)
	@touch $@

# ---- build/zonetap.mjs and its chunks: the command bundled and minified, which bin/zonetap runs while it is
# newer than every file it was built from (scripts/bundle.ts; README "The agent's footprint") ----
BUNDLE := build/zonetap.mjs
BUNDLE_SOURCES := $(shell find cli pipeline receivers processors exporters advice net native lib bpf -name '*.ts' -not -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null)

$(BUNDLE): $(BUNDLE_SOURCES) package.json package-lock.json scripts/bundle.ts
	$(NODE) scripts/bundle.ts

build: setup
	@$(MAKE) --no-print-directory $(BPF_OBJ) $(NATIVE_ADDON) .reach-checked $(BUNDLE)

check: setup
	node_modules/.bin/tsc --noEmit -p .

test: build check
	$(NODE) --test --test-reporter=spec --test-timeout=300000 --test-force-exit --test-concurrency=1 $(TEST_FILES)

demo: build
	bin/zonetap demo

bench: build
	$(NODE) bench/run.ts

clean:
	rm -rf native/build native/generated .reach-checked $(BPF_OBJ) build
