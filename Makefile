# SPDX-License-Identifier: GPL-2.0
#
# vhost-iommu: build the module, run the tests in a QEMU VM.
#
#   make            build vhost_iommu.ko against KDIR
#   make run        the main job: a real guest under the patched QEMU on
#                   vhost-iommu, against vhost=off, in the VM; the report
#   make demo       the guest-driver model through vhost-net, in the VM
#   make check      install what is missing, build, lint, run every test
#   make check-debug the tests again on a KASAN/lockdep/kmemleak kernel
#   make check-612  the tests on Debian's 6.12 (make check KVER=<release>: any)
#   make check-debug-612 the fault-injection tests on a 6.12 fault-injection kernel
#   make layers     the layering check on the built objects (make modules first)
#   make vm-run SCRIPT=path/to/script.sh
#   make bench      the benchmarks in the VM: table, build/bench/bench.{csv,json}
#   make profile    instructions per function of the request path, in the VM
#   make bench-busyloop busy polling of the request queue off and on, 2 vCPUs
#   make replay TRACE=file   replay a QEMU virtio-iommu trace in the VM
#   make fuzz SECONDS=N   the fuzzer in the VM for N seconds (SEED=0x... replays)
#   make qemu       the patched qemu-system-x86_64 (tools/qemu/), cached
#   make guest-kernel the L2 guest kernel (tools/qemu/guest.config), cached
#   make check-qemu QEMU and a Linux guest on vhost-iommu, in the VM
#   make bench-qemu vhost=on against vhost=off, alternating pairs, the ratio
#   make install    modules_install + depmod on this host
#
# KVER/KDIR default to the installed linux-image-amd64/linux-headers-amd64
# pair, detected at run time. ACCEL=kvm boots the VM with KVM.

SELFTESTS := tools/testing/selftests/vhost_iommu
VMDIR := $(SELFTESTS)/vm
KVER ?= $(shell $(VMDIR)/kver.sh)
KDIR ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
KSRC_TAR ?= /usr/src/linux-source-6.1.tar.xz
KSRC := $(BUILD)/ksrc
KO := drivers/vhost/iommu/vhost_iommu.ko
VM_TIMEOUT ?= 900
RUNVM = KVER=$(KVER) $(VMDIR)/run-vm.sh --timeout $(VM_TIMEOUT)

# Files the style and sparse gates look at: every C file and header we own.
SRCS := $(shell find drivers include tools -name '*.[ch]' ! -name '*.mod.c' | sort)

# MODSRC: the module's source tree; check-debug builds from a copy.
MODSRC ?= $(CURDIR)
KBUILD_ARGS = -C $(KDIR) M=$(MODSRC) CONFIG_VHOST_IOMMU=m

all: modules

modules:
	$(MAKE) $(KBUILD_ARGS) modules

# W=1 with every warning an error: what make check builds.
modules-strict:
	$(MAKE) $(KBUILD_ARGS) W=1 KCFLAGS=-Werror modules

# KVER given on the command line: that kernel's image and headers too.
deps:
	@$(VMDIR)/install-deps.sh $(if $(filter command line,$(origin KVER)),--kernel $(KVER))

# kselftest_harness.h, kselftest.h and checkpatch.pl come from Debian's
# linux-source-6.1, extracted once into the build directory.
KSRC_FILES := tools/testing/selftests/kselftest_harness.h \
	tools/testing/selftests/kselftest.h \
	scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch

$(KSRC)/.stamp: $(KSRC_TAR)
	@echo "  EXTRACT $(notdir $(KSRC_TAR)) -> $(KSRC)"
	@rm -rf $(KSRC) && mkdir -p $(KSRC)
	@tar -xJf $(KSRC_TAR) -C $(KSRC) --strip-components=1 \
		--wildcards $(addprefix '*/,$(addsuffix ',$(KSRC_FILES)))
	@touch $@

ksrc: $(KSRC)/.stamp

selftests: ksrc
	$(MAKE) -C $(SELFTESTS) OUTPUT=$(BUILD)/selftests \
		KSFT_INC=$(KSRC)/tools/testing/selftests

style: ksrc
	@echo "  CHECKPATCH --strict ($(words $(SRCS)) files)"
	@$(KSRC)/scripts/checkpatch.pl --strict --no-tree --quiet \
		--ignore FILE_PATH_CHANGES -f $(SRCS) && echo "  style: clean"

# Sparse over the module: any warning fails.
sparse:
	@echo "  SPARSE C=2"
	@$(MAKE) $(KBUILD_ARGS) C=2 modules >$(BUILD)/sparse.log 2>&1 || \
		{ cat $(BUILD)/sparse.log; exit 1; }
	@if grep -E '(warning|error):' $(BUILD)/sparse.log; then exit 1; fi
	@echo "  sparse: clean"

# The layering check (Documentation/design.md, "## Units"): the self-test
# of scripts/check-layers.sh, then the check on the module's objects in
# $(MODSRC)/$(LAYERS_DIR), built by make modules (make check: in its copy).
LAYERS_DIR := drivers/vhost/iommu
LAYERS_TABLE := Documentation/design.md
layers:
	@echo "  LAYERS $(MODSRC)/$(LAYERS_DIR)"
	@scripts/check-layers-test.sh
	@scripts/check-layers.sh -t $(LAYERS_TABLE) $(MODSRC)/$(LAYERS_DIR)

$(BUILD):
	@mkdir -p $@

check: deps
	@$(MAKE) --no-print-directory check-nodeps

# The module sources, copied to $(1): a build for another kernel never
# mixes with the tree's own objects.
copy_module_src = rm -rf $(1) && mkdir -p $(1) && \
	find Kbuild drivers include -type f \( -name '*.[ch]' -o -name Kbuild \
		-o -name 'Kconfig*' -o -name Makefile \) ! -name '*.mod.c' \
		-exec cp --parents {} $(1)/ \;

# make check for the kernel $(KVER): module (W=1, sparse) built against its
# headers from a copy of the sources, selftests, then that kernel in the VM.
CHECK_SRC = $(BUILD)/kernel-$(KVER)/src
CHECK_OUT ?= $(BUILD)/vm-check

check-nodeps: | $(BUILD)
	@echo "  KVER $(KVER)"
	@test -n "$(KVER)" || { echo "check: no kernel (KVER)"; exit 1; }
	@$(call copy_module_src,$(CHECK_SRC))
	@$(MAKE) --no-print-directory modules-strict MODSRC=$(CHECK_SRC)
	@$(MAKE) --no-print-directory style
	@$(MAKE) --no-print-directory layers MODSRC=$(CHECK_SRC)
	@$(MAKE) --no-print-directory sparse MODSRC=$(CHECK_SRC)
	@$(MAKE) --no-print-directory selftests
	@echo "  RUN-VM self-test (the boot retry, a fake QEMU)"
	@$(VMDIR)/run-vm-test.sh
	@$(RUNVM) --module $(CHECK_SRC)/$(KO) --payload $(BUILD)/selftests \
		--out $(CHECK_OUT) --tap ./run_tests.sh

# The same tests on Debian's 6.12 (bookworm's linux-image-6.12-amd64; see
# Documentation/kernels.md): the other kernel the module supports.
check-612:
	@$(VMDIR)/install-deps.sh --kernel 6.12
	@$(MAKE) --no-print-directory check-nodeps \
		KVER=$$($(VMDIR)/kver.sh 6.12) CHECK_OUT=$(BUILD)/vm-check-612

# The debug kernel (KASAN, lockdep, kmemleak, UBSAN, fault injection), built
# once from linux-source-6.1 + $(VMDIR)/debug.config by debug-kernel.sh and
# cached outside the tree. The module is built against it from a copy of the
# sources in $(DEBUG_BUILD)/src, so the two builds never mix.
DEBUG_BUILD := $(BUILD)/debug
DEBUG_VM_TIMEOUT ?= 3600
DEBUG_VM_MEM ?= 2048

debug-kernel: deps
	@$(VMDIR)/debug-kernel.sh >/dev/null

check-debug: deps
	@$(MAKE) --no-print-directory check-debug-nodeps

check-debug-nodeps: | $(BUILD)
	@dir=$$($(VMDIR)/debug-kernel.sh) && rel=$$(cat $$dir/release) && \
	echo "  KVER $$rel (debug kernel $$dir)" && \
	$(call copy_module_src,$(DEBUG_BUILD)/src) && \
	$(MAKE) --no-print-directory modules-strict KDIR=$$dir/src \
		MODSRC=$(DEBUG_BUILD)/src && \
	$(MAKE) --no-print-directory selftests && \
	VM_MEM=$(DEBUG_VM_MEM) KVER=$$rel $(VMDIR)/run-vm.sh \
		--timeout $(DEBUG_VM_TIMEOUT) \
		--kernel $$dir/src/arch/x86/boot/bzImage \
		--modules $$dir/mods/lib/modules/$$rel \
		--module $(DEBUG_BUILD)/src/$(KO) --payload $(BUILD)/selftests \
		--out $(BUILD)/vm-check-debug --tap ./run_tests.sh

# The fault-injection sweeps on 6.12 (Documentation/kernels.md): a kernel
# built once from linux-source-6.12 + debug.config + debug-6.12.config by
# debug-kernel.sh --series 6.12 (fault injection, fail-nth, lockdep; no
# KASAN, UBSAN or kmemleak), booted with slub_debug's poison and red zones.
# Only the binaries that stock kernels skip run (memcg_test runs on the
# stock 6.12 in check-612: slub_debug's red zones are slab the memcg is not
# charged for); a skip fails the tier (vm/no-skip.sh).
DEBUG612_BUILD := $(BUILD)/debug-612
DEBUG612_TESTS := fail_nth_test fail_nth_all_test failslab_test
DEBUG612_VM_TIMEOUT ?= 3600
DEBUG612_VM_MEM ?= 2048
DEBUG612_APPEND ?= slub_debug=FZP

debug-kernel-612:
	@$(VMDIR)/install-deps.sh --source 6.12
	@$(VMDIR)/debug-kernel.sh --series 6.12 >/dev/null

check-debug-612:
	@$(VMDIR)/install-deps.sh --source 6.12
	@$(MAKE) --no-print-directory check-debug-612-nodeps

check-debug-612-nodeps: | $(BUILD)
	@dir=$$($(VMDIR)/debug-kernel.sh --series 6.12) && rel=$$(cat $$dir/release) && \
	echo "  KVER $$rel (fault-injection kernel $$dir)" && \
	$(call copy_module_src,$(DEBUG612_BUILD)/src) && \
	$(MAKE) --no-print-directory modules-strict KDIR=$$dir/src \
		MODSRC=$(DEBUG612_BUILD)/src && \
	$(MAKE) --no-print-directory selftests && \
	rm -rf $(DEBUG612_BUILD)/payload && mkdir -p $(DEBUG612_BUILD)/payload && \
	cp $(addprefix $(BUILD)/selftests/,$(DEBUG612_TESTS) run_tests.sh) \
		$(VMDIR)/no-skip.sh $(DEBUG612_BUILD)/payload/ && \
	printf '%s\n' $(DEBUG612_TESTS) >$(DEBUG612_BUILD)/payload/tests.list && \
	VM_MEM=$(DEBUG612_VM_MEM) KVER=$$rel $(VMDIR)/run-vm.sh \
		--timeout $(DEBUG612_VM_TIMEOUT) --append "$(DEBUG612_APPEND)" \
		--kernel $$dir/src/arch/x86/boot/bzImage \
		--modules $$dir/mods/lib/modules/$$rel \
		--module $(DEBUG612_BUILD)/src/$(KO) \
		--payload $(DEBUG612_BUILD)/payload \
		--out $(BUILD)/vm-check-debug-612 --tap sh ./no-skip.sh ./run_tests.sh

# The patched QEMU 7.2 (tools/qemu/build.sh: Debian's qemu source package +
# tools/qemu/*.patch + this repo's uapi header, minimal x86_64 build) and the
# L2 guest kernel (tools/qemu/guest-kernel.sh: linux-source-6.1, allnoconfig
# + tools/qemu/guest.config), each built once and cached in
# /var/cache/vhost-iommu; both print the directory.
qemu:
	@dir=$$(tools/qemu/build.sh) && echo "  QEMU $$dir"

guest-kernel: deps
	@dir=$$(tools/qemu/guest-kernel.sh) && echo "  GUEST-KERNEL $$dir"

# A real VMM and a real guest (Documentation/qemu.md): in one boot of the
# test VM, the patched QEMU boots the L2 kernel once per run in RUNS
# (VHOST:MODE, VHOST on or off, MODE strict or passthrough) and checks its
# IOMMU groups, ping, 16 MiB each way and its disk; TAP, N passed, N failed.
RUNS ?=
check-qemu: deps
	@$(MAKE) --no-print-directory modules
	@KVER=$(KVER) tools/qemu/check-qemu.sh $(RUNS)

# The main job (Documentation/qemu.md): a real Linux guest (L2) under the
# patched QEMU with virtio-iommu-pci,vhost=on, in the test VM, 16 MiB each
# way over virtio-net on vhost-net, its disk and its NIC's removal, then
# the same under vhost=off (QEMU's own virtio-iommu, the control); the
# report: requests by type and misses served in the kernel, throughput
# against the control (tools/qemu/report.sh).
RUN_OUT := $(BUILD)/run
run: deps
	@$(MAKE) --no-print-directory modules
	@KVER=$(KVER) tools/qemu/check-qemu.sh --out $(RUN_OUT) on:strict off:strict
	@tools/qemu/report.sh $(RUN_OUT)/vm/results.log

# The guest-driver model demo (the main job before make run drove a real
# guest): frames through the stock vhost-net behind vhost-iommu.
demo: deps
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo/payload && \
		cp tools/vhost_iommu/demo.sh \
		   $(BUILD)/selftests/vhost_iommu_demo $(BUILD)/demo/payload/
	@$(RUNVM) --module $(KO) --payload $(BUILD)/demo/payload \
		--out $(BUILD)/vm-demo ./demo.sh

# vhost=on against stock QEMU 7.2 (Documentation/qemu.md, "make
# bench-qemu"): in one boot of the test VM, BENCH_PAIRS pairs of L2 runs,
# vhost=on then vhost=off, strict mode, BENCH_MIB MiB over TCP each way
# and nothing else; each run's throughput, where L1's CPU went, and the
# ratio with its spread (tools/qemu/report.sh).
# BENCH_ON: more l1.sh options for the vhost=on runs (e.g. poll50: the
# kernel polls the request queue for 50 us, QEMU's poll-us=50). A last
# pair in passthrough mode (BENCH_CEILING=0: none) is the ceiling: the
# guest with no MAP and UNMAP at all.
BENCH_PAIRS ?= 3
BENCH_MIB ?= 16
BENCH_ON ?=
BENCH_CEILING ?= 1
BENCH_QEMU_OUT := $(BUILD)/bench-qemu
bench-qemu: deps
	@$(MAKE) --no-print-directory modules
	@runs=$$(for i in $$(seq $(BENCH_PAIRS)); do \
		printf 'on:strict:net%s off:strict:net ' \
			"$(if $(BENCH_ON),:$(BENCH_ON))"; done; \
		[ "$(BENCH_CEILING)" = 0 ] || \
		printf 'on:passthrough:net off:passthrough:net') && \
		KVER=$(KVER) L2_MIB=$(BENCH_MIB) \
		tools/qemu/check-qemu.sh --out $(BENCH_QEMU_OUT) $$runs
	@tools/qemu/report.sh $(BENCH_QEMU_OUT)/vm/results.log | \
		tee $(BENCH_QEMU_OUT)/report.txt

vm-run: deps
	@test -n "$(SCRIPT)" || { echo "usage: make vm-run SCRIPT=path/to/script.sh"; exit 2; }
	@$(MAKE) --no-print-directory modules selftests
	@$(MAKE) --no-print-directory vm-run-nodeps

vm-run-nodeps:
	@$(RUNVM) --module $(KO) --payload $(dir $(SCRIPT)) \
		--out $(BUILD)/vm-script sh ./$(notdir $(SCRIPT))

# The benchmarks (Documentation/bench.md): one VM run with one vCPU, the
# payload being the benchmark binaries and bench.sh; bench-report.sh turns
# the CSV records of the results log into the table, CSV and JSON.
# BENCH_CLOCK=icount (the default) runs the VM under -icount
# shift=0,sleep=off: its clock counts instructions, the figures are
# reproducible and fewer rounds suffice; BENCH_CLOCK=wall runs it on the
# host's time, as before icount. BENCH_NET_ARGS, BENCH_REQUESTS_ARGS and
# BENCH_MEM_ARGS replace the programs' arguments.
BENCH_OUT := $(BUILD)/bench
BENCH_VM_TIMEOUT ?= 900
BENCH_CLOCK ?= icount
ifeq ($(BENCH_CLOCK),wall)
BENCH_NET_ARGS ?=
BENCH_REQUESTS_ARGS ?= -u -r 5 -n 4096
else
BENCH_NET_ARGS ?= -r 5
BENCH_REQUESTS_ARGS ?= -u -r 3 -n 4096
endif
BENCH_MEM_ARGS ?=

bench: deps
	@case "$(BENCH_CLOCK)" in icount|wall) ;; *) \
		echo "make bench: BENCH_CLOCK is icount or wall"; exit 2 ;; esac
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)/payload
	@cp $(BUILD)/selftests/bench_net $(BUILD)/selftests/bench_requests \
		$(BUILD)/selftests/bench_mem $(SELFTESTS)/bench.sh \
		$(BENCH_OUT)/payload/
	@printf 'net_args="%s"\nrequests_args="%s"\nmem_args="%s"\nclock=%s\n' \
		"$(BENCH_NET_ARGS)" "$(BENCH_REQUESTS_ARGS)" \
		"$(BENCH_MEM_ARGS)" "$(BENCH_CLOCK)" >$(BENCH_OUT)/payload/bench.env
	@echo "  BENCH clock $(BENCH_CLOCK)"
	@t0=$$(date +%s) && \
	VM_SMP=1 VM_ICOUNT=$(if $(filter icount,$(BENCH_CLOCK)),1,0) \
		$(MAKE) --no-print-directory vm-run-nodeps \
		SCRIPT=$(BENCH_OUT)/payload/bench.sh VM_TIMEOUT=$(BENCH_VM_TIMEOUT) && \
	echo $$(($$(date +%s) - t0)) >$(BENCH_OUT)/host_seconds
	@$(SELFTESTS)/bench-report.sh $(BUILD)/vm-script/results.log $(BENCH_OUT)

# Busy polling of the request queue (Documentation/bench.md, "Busy
# polling"): one VM run with 2 vCPUs on the host's clock (polling only
# pays with a CPU of its own, which icount's one-at-a-time vCPUs do not
# model), BUSYLOOP_ROUNDS alternations of bench_requests and bench_net
# with VHOST_SET_VRING_BUSYLOOP_TIMEOUT 0 and BUSYLOOP_US; the report
# pairs them.
BUSYLOOP_US ?= 50
BUSYLOOP_ROUNDS ?= 3
BUSYLOOP_OUT := $(BUILD)/bench-busyloop
bench-busyloop: deps
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BUSYLOOP_OUT) && mkdir -p $(BUSYLOOP_OUT)/payload
	@cp $(BUILD)/selftests/bench_net $(BUILD)/selftests/bench_requests \
		$(SELFTESTS)/bench-busyloop.sh $(BUSYLOOP_OUT)/payload/
	@printf 'US=%s\nROUNDS=%s\n' "$(BUSYLOOP_US)" "$(BUSYLOOP_ROUNDS)" \
		>$(BUSYLOOP_OUT)/payload/busyloop.env
	@VM_SMP=2 $(RUNVM) --module $(KO) --payload $(BUSYLOOP_OUT)/payload \
		--timeout 1800 --out $(BUSYLOOP_OUT)/vm ./bench-busyloop.sh
	@$(SELFTESTS)/bench-busyloop-report.sh $(BUSYLOOP_OUT)/vm/results.log \
		$(BUSYLOOP_US) | tee $(BUSYLOOP_OUT)/report.txt

# The instruction profile of the request path (Documentation/bench.md,
# "Profile"): bench_requests -P in the VM (one vCPU, icount) under
# prof_plugin.c, a TCG plugin built here against the plugin header of the
# installed QEMU's Debian source (qemu-plugin-header.sh fetches it into
# $(BUILD)/qemu-plugin); profile-report.sh names the addresses and prints
# the top PROFILE_TOP functions of vhost-iommu and of the userspace model
# side by side. PROFILE_ARGS: bench_requests' arguments (-b batch, several
# allowed; -m live mappings; -n requests per window, as make bench's -n:
# the model's cost depends on how long its slices are, see bench.md).
PROFILE_OUT := $(BUILD)/profile
PROFILE_ARGS ?= -u -P -b 256 -b 1 -m 1000 -n 4096
PROFILE_TOP ?= 15
PROFILE_VM_TIMEOUT ?= 900
QEMU_PLUGIN_DIR := $(BUILD)/qemu-plugin
PROF_PLUGIN := $(QEMU_PLUGIN_DIR)/prof_plugin.so

$(QEMU_PLUGIN_DIR)/qemu-plugin.h:
	@$(SELFTESTS)/qemu-plugin-header.sh $(QEMU_PLUGIN_DIR)

$(PROF_PLUGIN): $(SELFTESTS)/prof_plugin.c $(QEMU_PLUGIN_DIR)/qemu-plugin.h
	$(CC) -O2 -g -Wall -Werror -shared -fPIC -I$(QEMU_PLUGIN_DIR) -o $@ $<

profile: deps
	@$(MAKE) --no-print-directory modules selftests $(PROF_PLUGIN)
	@rm -rf $(PROFILE_OUT) && mkdir -p $(PROFILE_OUT)/payload
	@cp $(BUILD)/selftests/bench_requests $(SELFTESTS)/profile.sh \
		$(PROFILE_OUT)/payload/
	@printf 'args="%s"\n' "$(PROFILE_ARGS)" >$(PROFILE_OUT)/payload/profile.env
	@echo "  PROFILE bench_requests $(PROFILE_ARGS)"
	@VM_SMP=1 VM_ICOUNT=1 \
		VM_QEMU_ARGS="-plugin $(PROF_PLUGIN),out=$(PROFILE_OUT)/prof.out" \
		$(RUNVM) --timeout $(PROFILE_VM_TIMEOUT) --module $(KO) \
		--payload $(PROFILE_OUT)/payload --out $(PROFILE_OUT)/vm \
		sh ./profile.sh
	@$(SELFTESTS)/profile-report.sh $(PROFILE_OUT)/prof.out \
		$(PROFILE_OUT)/vm/results.log $(PROFILE_OUT)/payload/bench_requests \
		$(PROFILE_OUT) $(PROFILE_TOP)

# Replays a QEMU 7.2 virtio_iommu trace (plain or gzip) against the module
# in the VM: tools/testing/selftests/vhost_iommu/replay.c, see
# Documentation/replay.md. REPLAY_ARGS: its options, e.g. -b 64.
REPLAY_ARGS ?=
replay: deps
	@test -n "$(TRACE)" || { echo "usage: make replay TRACE=file [REPLAY_ARGS='-b N']"; exit 2; }
	@test -f "$(TRACE)" && test -r "$(TRACE)" || { echo "make replay: cannot read $(TRACE)"; exit 2; }
	@$(MAKE) --no-print-directory modules selftests
	@echo "  REPLAY $(TRACE) $(REPLAY_ARGS)"
	@rm -rf $(BUILD)/replay && mkdir -p $(BUILD)/replay/payload && \
		cp $(BUILD)/selftests/replay $(BUILD)/replay/payload/ && \
		cp "$(TRACE)" $(BUILD)/replay/payload/trace
	@$(RUNVM) --module $(KO) --payload $(BUILD)/replay/payload \
		--out $(BUILD)/replay/vm ./replay $(REPLAY_ARGS) ./trace

# The structure-aware fuzzer (tools/testing/selftests/vhost_iommu/fuzz.c)
# in the VM for SECONDS seconds; SEED replays a printed seed, FUZZ_ARGS adds
# options (-c components, -j threads, -v). The VM runner fails the run on a
# kernel report or a module that does not unload.
SECONDS ?= 60
SEED ?=
FUZZ_ARGS ?=
fuzz: deps
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BUILD)/fuzz && mkdir -p $(BUILD)/fuzz/payload && \
		cp $(BUILD)/selftests/fuzz $(BUILD)/fuzz/payload/
	@echo "  FUZZ $(SECONDS) s $(if $(SEED),seed $(SEED))"
	@$(RUNVM) --timeout $$(( $(SECONDS) * 2 + 600 )) --module $(KO) \
		--payload $(BUILD)/fuzz/payload --out $(BUILD)/fuzz/vm \
		./fuzz -t $(SECONDS) -n 0 $(if $(SEED),-s $(SEED)) $(FUZZ_ARGS)

install: modules
	$(MAKE) $(KBUILD_ARGS) modules_install
	depmod -a $(KVER)

clean:
	$(MAKE) $(KBUILD_ARGS) clean
	rm -rf $(BUILD)

.PHONY: all modules modules-strict deps ksrc selftests style sparse layers check \
	check-nodeps check-612 debug-kernel check-debug check-debug-nodeps run vm-run \
	debug-kernel-612 check-debug-612 check-debug-612-nodeps \
	vm-run-nodeps install clean
.PHONY: replay
.PHONY: bench bench-busyloop
.PHONY: profile
.PHONY: fuzz
.PHONY: qemu guest-kernel check-qemu run demo bench-qemu
