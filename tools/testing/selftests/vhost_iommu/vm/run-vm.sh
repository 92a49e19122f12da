#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel under QEMU with a busybox initramfs, load the vhost modules
# and vhost_iommu.ko, run a command inside the VM and judge the run.
#
# usage: run-vm.sh [options] COMMAND
#   --kernel FILE     kernel image (default /boot/vmlinuz-$KVER)
#   --modules DIR     module tree of that kernel (default /lib/modules/$KVER)
#   --module FILE     an out-of-tree module to load last (repeatable)
#   --payload DIR     copied to /payload in the VM; COMMAND runs there
#   --out DIR         logs: console.log (kernel), results.log (command)
#   --timeout SEC     kill the VM after SEC seconds (default 900)
#   --tap             count TAP results and end with "N passed, N failed"
#   --append ARGS     extra kernel command line
#
# Environment: ACCEL (tcg, or kvm where it works), VM_MEM (MiB), VM_SMP,
# VM_MODULES (modules to load, in dependency order resolved here),
# VM_ICOUNT=1 (TCG only: -icount shift=0,sleep=off, the guest's clock
# counts its instructions, one per nanosecond, and skips idle time; any
# other value is passed to -icount as is), VM_QEMU_ARGS (more QEMU
# arguments, e.g. -plugin), VM_VFIO=1 (a device to assign with VFIO, below;
# default off).
#
# VM_VFIO=1 (tools/qemu/vfio-try.sh) changes the machine to q35 with an
# emulated Intel IOMMU and intel_iommu=on: two NICs joined by one QEMU hub,
# at 00:04.0 the one to assign to a nested guest (VM_VFIO_NIC: e1000e, the
# default, or virtio: a virtio-net-pci with iommu_platform=on, whose DMA
# the IOMMU translates too) and at 00:05.0 a virtio-net-pci for the VM's
# own end of that wire; vfio, vfio_iommu_type1, vfio-pci and virtio_net are
# loaded besides VM_MODULES. intremap=on because vfio_iommu_type1 refuses an
# IOMMU without interrupt remapping (unless allow_unsafe_interrupts).
# Under TCG there is no kernel irqchip, so kernel-irqchip=split is not
# needed (eim stays off: QEMU allows eim=on only with KVM's split irqchip),
# and caching-mode=on is not: QEMU requires it only for VFIO devices
# behind its own IOMMU, and the emulated NIC's DMA is translated on access.
#
# The command's output streams to stdout. The run fails (non-zero exit) when
# the command fails, when the kernel log shows a WARNING, BUG, Oops, KASAN,
# UBSAN, lockdep or kmemleak report, when the kernel is tainted beyond
# out-of-tree + unsigned, when vhost_iommu, vhost_net or vhost_vsock cannot
# be unloaded, on a hang (timeout) and when the success marker on the
# results channel is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
kver=${KVER:-$("$here/kver.sh")}
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
modules=""
payload=""
out=""
timeout=900
tap=0
append=""

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--modules) moddir=$2; shift 2 ;;
	--module) modules="$modules $2"; shift 2 ;;
	--payload) payload=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--tap) tap=1; shift ;;
	--append) append="$append $2"; shift 2 ;;
	--) shift; break ;;
	-*) echo "run-vm: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "run-vm: no command" >&2; exit 2; }
cmd="$*"
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"
[ -r "$kernel" ] || { echo "run-vm: no kernel image $kernel" >&2; exit 2; }

# Resolve the modules to load from modules.dep: dependencies first. A module
# that is built in (modules.builtin) needs nothing.
want=${VM_MODULES:-"vhost_iotlb vhost tun tap vhost_net vhost_vsock"}
machine=""
vfioargs=""
if [ "${VM_VFIO:-0}" = 1 ]; then
	want="$want vfio vfio_iommu_type1 vfio-pci virtio_pci virtio_net"
	case "${VM_VFIO_NIC:-e1000e}" in
	e1000e) nic="e1000e,romfile=" ;;
	virtio) nic="virtio-net-pci,iommu_platform=on,disable-legacy=on,romfile=" ;;
	*) echo "run-vm: VM_VFIO_NIC is e1000e or virtio" >&2; exit 2 ;;
	esac
	machine="-M q35"
	# The IOMMU first: QEMU gives a PCI device its address space when the
	# device is realized, so a device created before the IOMMU bypasses it.
	vfioargs="-device intel-iommu,intremap=on \
		-netdev hubport,id=vfio0,hubid=0 -device $nic,netdev=vfio0,addr=04.0 \
		-netdev hubport,id=vfio1,hubid=0 \
		-device virtio-net-pci,netdev=vfio1,addr=05.0,romfile="
	append="$append intel_iommu=on iommu.passthrough=0"
fi
resolve() {
	for name in $want; do
		path=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | cut -d: -f1)
		if [ -z "$path" ]; then
			if grep -qE "(^|/)$name\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
				continue
			fi
			echo "run-vm: module $name not found in $moddir" >&2
			return 1
		fi
		deps=$(grep -E "^$path:" "$moddir/modules.dep" | cut -d: -f2)
		for d in $(echo $deps | tr ' ' '\n' | tac) $path; do
			echo "$d"
		done
	done | awk '!seen[$0]++'
}

root=$out/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
	"$root/etc/vm" "$root/opt/vhost_iommu" "$root/payload"
cp /bin/busybox "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
: >"$root/etc/vm/modules"
# busybox insmod takes plain ELF: 6.12's compressed modules are unpacked.
for m in $(resolve); do
	mkdir -p "$root/lib/modules/$(dirname "$m")"
	case "$m" in
	*.ko.xz) xz -dc "$moddir/$m" >"$root/lib/modules/${m%.xz}"; m=${m%.xz} ;;
	*.ko.zst) zstd -qdc "$moddir/$m" >"$root/lib/modules/${m%.zst}"; m=${m%.zst} ;;
	*.ko.gz) gzip -dc "$moddir/$m" >"$root/lib/modules/${m%.gz}"; m=${m%.gz} ;;
	*) cp "$moddir/$m" "$root/lib/modules/$m" ;;
	esac
	echo "/lib/modules/$m" >>"$root/etc/vm/modules"
done
for m in $modules; do
	cp "$m" "$root/opt/vhost_iommu/"
done
if [ -n "$payload" ]; then
	cp -a "$payload/." "$root/payload/"
fi
printf '%s\n' "$cmd" >"$root/etc/vm/cmd"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.gz"

accel=${ACCEL:-tcg}
cpu=""
[ "$accel" = kvm ] && cpu="-cpu host"
icount=""
case "${VM_ICOUNT:-0}" in
0|"") ;;
1) icount="-icount shift=0,sleep=off" ;;
*) icount="-icount $VM_ICOUNT" ;;
esac
if [ -n "$icount" ] && [ "$accel" != tcg ]; then
	echo "run-vm: VM_ICOUNT needs ACCEL=tcg" >&2
	exit 2
fi
console=$out/console.log
results=$out/results.log

# One boot of the VM: its exit status in vmrc.
boot() {
	: >"$console"
	: >"$results"
	vmrc=0
	# shellcheck disable=SC2086
	timeout -k 10 "$timeout" qemu-system-x86_64 \
		-accel "$accel" $machine $cpu $icount -smp "${VM_SMP:-2}" -m "${VM_MEM:-1024}" \
		-nodefaults -display none -no-reboot \
		-kernel "$kernel" -initrd "$out/initrd.gz" \
		-append "console=ttyS0 panic=-1 panic_on_warn=1 oops=panic softlockup_panic=1 hung_task_panic=1 rdinit=/init$append" \
		-serial "file:$console" -serial "file:$results" $vfioargs ${VM_QEMU_ARGS:-} </dev/null &
	qpid=$!
	# Stream the results channel while the VM runs; tail exits with QEMU.
	tail -n +1 -f --pid=$qpid "$results" | tr -d '\r' | grep -a -v '^VHOST_IOMMU_VM_' || true
	wait $qpid || vmrc=$?
}

# Whether the last boot ended, not killed, before /init wrote its first
# line: the kernel died while booting, before any module of ours or any
# test was loaded. Under TCG with several vCPUs, Debian's 6.12 kernel
# sometimes does (Documentation/testing.md, "Boot failures").
died_booting() {
	[ "$vmrc" != 124 ] && [ "$vmrc" != 137 ] &&
		! tr -d '\r' <"$results" | grep -aq '^VHOST_IOMMU_VM_BOOTED'
}

# Such a boot is tried again, up to VM_BOOT_RETRIES (1) times; its kernel
# log is kept as console-boot-N.log and the run says so.
boot
n=0
while died_booting && [ "$n" -lt "${VM_BOOT_RETRIES:-1}" ]; do
	n=$((n + 1))
	cp "$console" "$out/console-boot-$n.log"
	echo "# run-vm: the kernel died before /init ran (boot $n, log in" \
		"$out/console-boot-$n.log): booting again"
	boot
done

# Name the functions behind the raw addresses of a kmemleak report: the VM
# scans after unloading the out-of-tree modules, and wrote down where their
# code was (VHOST_IOMMU_VM_TEXT module section base). Module addresses share
# their upper 32 bits, so the lower 32 are enough and fit sh arithmetic.
symbolize() {
	tr -d '\r' <"$results" | grep -a '^VHOST_IOMMU_VM_TEXT ' |
	while read -r _ name sec base; do
		ko=""
		for m in $modules; do
			[ "$(basename "$m" .ko | tr - _)" = "$name" ] && ko=$m
		done
		[ -n "$ko" ] || continue
		objdump -t "$ko" | awk -v s="$sec" '$3 == "F" && $4 == s { print $1, $5, $6 }' \
			>"$out/syms"
		tr -d '\r' <"$results" | grep -aoE '\] 0xffffffff[0-9a-f]{8}$' | cut -c 3- | sort -u |
		while read -r addr; do
			off=$((0x${addr#0xffffffff} - 0x${base#0xffffffff}))
			while read -r start size sym; do
				start=$((0x$start))
				size=$((0x$size))
				if [ "$off" -ge "$start" ] && [ "$off" -lt $((start + size)) ]; then
					printf '# %s is %s+0x%x/0x%x [%s]\n' "$addr" "$sym" \
						$((off - start)) "$size" "$name"
				fi
			done <"$out/syms"
		done
	done
}

# Judge the run. Every verdict is also a TAP line, so --tap counts it.
fails=0
passes=0
verdict() { # verdict OK|FAIL NAME [DETAIL]
	if [ "$1" = OK ]; then
		passes=$((passes + 1))
		echo "ok - vm: $2"
	else
		fails=$((fails + 1))
		echo "not ok - vm: $2${3:+ ($3)}"
	fi
}
marker=$(tr -d '\r' <"$results" | grep -a '^VHOST_IOMMU_VM_DONE' | tail -n 1 || true)
fatal=$(tr -d '\r' <"$results" | grep -a '^VHOST_IOMMU_VM_FATAL' | tail -n 1 || true)
splat='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|kmemleak|Kernel panic|blocked for more than|RCU stall|rcu_.*detected stall'
# kmemleak's own notices at boot are not reports.
benign='kmemleak: (Kernel memory leak detector initialized|Automatic memory scanning thread (started|ended))'
splats() { grep -anE "$splat" "$console" | grep -avE "$benign"; }
if [ "$vmrc" = 124 ] || [ "$vmrc" = 137 ]; then
	verdict FAIL "finished in time" "killed after ${timeout}s"
fi
if [ -n "$fatal" ]; then
	verdict FAIL "setup" "${fatal#VHOST_IOMMU_VM_FATAL }"
fi
if [ -n "$marker" ]; then
	verdict OK "success marker"
else
	verdict FAIL "success marker" "missing: the VM died or hung"
fi
if [ -n "$(splats | head -n 1)" ]; then
	verdict FAIL "kernel log clean"
	echo "# ---- kernel log around the first report ----"
	splats | head -n 1 | cut -d: -f1 | {
		read -r n
		sed -n "$((n > 5 ? n - 5 : 1)),$((n + 60))p" "$console" | tr -d '\r' | sed 's/^/# /'
	}
else
	verdict OK "kernel log clean"
fi
if [ -n "$marker" ]; then
	val() { echo "$marker" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	rc=$(val rc)
	taint=$(val taint)
	leaks=$(val leaks)
	if [ "$(val rmmod)" = 0 ]; then
		verdict OK "vhost_iommu unloads"
	else
		verdict FAIL "vhost_iommu unloads" "rmmod exit $(val rmmod)"
	fi
	case "$(val rmmod_net)" in
	0) verdict OK "vhost_net unloads" ;;
	-|"") ;;
	*) verdict FAIL "vhost_net unloads" "rmmod exit $(val rmmod_net)" ;;
	esac
	case "$(val rmmod_vsock)" in
	0) verdict OK "vhost_vsock unloads" ;;
	-|"") ;;
	*) verdict FAIL "vhost_vsock unloads" "rmmod exit $(val rmmod_vsock)" ;;
	esac
	if [ $((taint & ~12288)) = 0 ]; then
		verdict OK "taint"
	else
		verdict FAIL "taint" "tainted=$taint, allowed mask 12288"
	fi
	if [ "$leaks" != "-" ]; then
		if [ "$leaks" = 0 ]; then
			verdict OK "kmemleak"
		else
			verdict FAIL "kmemleak" "$leaks unreferenced objects"
			symbolize || true
		fi
	fi
	if [ "$rc" = 0 ]; then
		verdict OK "command"
	else
		verdict FAIL "command" "exit status $rc"
	fi
else
	echo "# ---- end of kernel log ----"
	tail -n 40 "$console" | tr -d '\r' | sed 's/^/# /'
fi

if [ "$tap" = 1 ]; then
	all=$( (tr -d '\r' <"$results"; echo) | grep -a -E '^(not )?ok ' || true)
	p=$(printf '%s\n' "$all" | grep -a -E '^ok ' | grep -a -v -c '# SKIP' || true)
	s=$(printf '%s\n' "$all" | grep -a -E '^ok .*# SKIP' -c || true)
	f=$(printf '%s\n' "$all" | grep -a -c -E '^not ok ' || true)
	p=$((p + passes))
	f=$((f + fails))
	if [ "$s" -gt 0 ]; then
		echo "$p passed, $f failed, $s skipped"
	else
		echo "$p passed, $f failed"
	fi
	[ "$f" = 0 ] || exit 1
fi
[ "$fails" = 0 ] || exit 1
exit "${rc:-1}"
