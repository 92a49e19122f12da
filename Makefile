# SPDX-License-Identifier: GPL-2.0
#
# vhost-iommu: build the module, run the tests in a QEMU VM.
#
#   make            build vhost_iommu.ko against KDIR
#   make run        boot the VM and run the main job
#   make check      install what is missing, build, lint, run every test
#   make check-debug the tests again on a KASAN/lockdep/kmemleak kernel
#   make vm-run SCRIPT=path/to/script.sh
#   make bench      the benchmarks in the VM: table, build/bench/bench.{csv,json}
#   make replay TRACE=file   replay a QEMU virtio-iommu trace in the VM
#   make fuzz SECONDS=N   the fuzzer in the VM for N seconds (SEED=0x... replays)
#   make qemu       the patched qemu-system-x86_64 (tools/qemu/), cached
#   make guest-kernel the L2 guest kernel (tools/qemu/guest.config), cached
#   make check-qemu QEMU and a Linux guest on vhost-iommu, in the VM
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
KO := drivers/vhost/vhost_iommu.ko
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

deps:
	@$(VMDIR)/install-deps.sh

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

$(BUILD):
	@mkdir -p $@

check: deps
	@$(MAKE) --no-print-directory check-nodeps

check-nodeps: | $(BUILD)
	@echo "  KVER $(KVER)"
	@$(MAKE) --no-print-directory modules-strict
	@$(MAKE) --no-print-directory style
	@$(MAKE) --no-print-directory sparse
	@$(MAKE) --no-print-directory selftests
	@$(RUNVM) --module $(KO) --payload $(BUILD)/selftests \
		--out $(BUILD)/vm-check --tap ./run_tests.sh

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
	rm -rf $(DEBUG_BUILD)/src && mkdir -p $(DEBUG_BUILD)/src && \
	find Kbuild drivers include -type f \( -name '*.[ch]' -o -name Kbuild \
		-o -name 'Kconfig*' -o -name Makefile \) ! -name '*.mod.c' \
		-exec cp --parents {} $(DEBUG_BUILD)/src/ \; && \
	$(MAKE) --no-print-directory modules-strict KDIR=$$dir/src \
		MODSRC=$(DEBUG_BUILD)/src && \
	$(MAKE) --no-print-directory selftests && \
	VM_MEM=$(DEBUG_VM_MEM) KVER=$$rel $(VMDIR)/run-vm.sh \
		--timeout $(DEBUG_VM_TIMEOUT) \
		--kernel $$dir/src/arch/x86/boot/bzImage \
		--modules $$dir/mods/lib/modules/$$rel \
		--module $(DEBUG_BUILD)/src/$(KO) --payload $(BUILD)/selftests \
		--out $(BUILD)/vm-check-debug --tap ./run_tests.sh

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

run: deps
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BUILD)/run && mkdir -p $(BUILD)/run/payload && \
		cp tools/vhost_iommu/demo.sh \
		   $(BUILD)/selftests/vhost_iommu_demo $(BUILD)/run/payload/
	@$(RUNVM) --module $(KO) --payload $(BUILD)/run/payload \
		--out $(BUILD)/vm-run ./demo.sh

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
# BENCH_NET_ARGS and BENCH_REQUESTS_ARGS replace the programs' arguments.
BENCH_OUT := $(BUILD)/bench
BENCH_VM_TIMEOUT ?= 600
BENCH_NET_ARGS ?=
BENCH_REQUESTS_ARGS ?= -u -r 5 -n 4096

bench: deps
	@$(MAKE) --no-print-directory modules selftests
	@rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)/payload
	@cp $(BUILD)/selftests/bench_net $(BUILD)/selftests/bench_requests \
		$(SELFTESTS)/bench.sh $(BENCH_OUT)/payload/
	@printf 'net_args="%s"\nrequests_args="%s"\n' "$(BENCH_NET_ARGS)" \
		"$(BENCH_REQUESTS_ARGS)" >$(BENCH_OUT)/payload/bench.env
	@VM_SMP=1 $(MAKE) --no-print-directory vm-run-nodeps \
		SCRIPT=$(BENCH_OUT)/payload/bench.sh VM_TIMEOUT=$(BENCH_VM_TIMEOUT)
	@$(SELFTESTS)/bench-report.sh $(BUILD)/vm-script/results.log $(BENCH_OUT)

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

.PHONY: all modules modules-strict deps ksrc selftests style sparse check \
	check-nodeps debug-kernel check-debug check-debug-nodeps run vm-run \
	vm-run-nodeps install clean
.PHONY: replay
.PHONY: bench
.PHONY: fuzz
.PHONY: qemu guest-kernel check-qemu
