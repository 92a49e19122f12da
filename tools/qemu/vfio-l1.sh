#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the test VM (L1) booted by tools/qemu/vfio-try.sh with VM_VFIO=1:
# Debian's stock kernel with intel_iommu=on on a q35 machine whose emulated
# Intel IOMMU translates the DMA of the NIC at 00:04.0. Prints TAP lines,
# one per step, each with the L1 uptime it took:
#   1. the IOMMU is on in L1, with interrupt remapping;
#   2. the NIC is alone in its IOMMU group, binds to vfio-pci and
#      /dev/vfio/<group> appears;
#   3. (not with "l1-only") Debian's QEMU 7.2 (dq/run-qemu) boots L2 with
#      -device virtio-iommu-pci and the NIC as -device vfio-pci behind it;
#      L2 (vfio-l2-init) drives the NIC with its own driver, pings L1 over
#      it and moves L2_MIB MiB each way over HTTP, checksummed. L1's end
#      of the wire is its own virtio-net NIC at 00:05.0, on the same QEMU
#      hub in L0.
#
# usage: vfio-l1.sh [l1-only]
# Environment: VFIO_NIC (e1000e or virtio), L2_MEM (MiB, default 256),
# L2_MIB (default 4), L2_TIMEOUT (seconds, default 900).
set -u

mib=${L2_MIB:-4}
mem=${L2_MEM:-256}
tmo=${L2_TIMEOUT:-900}
l1ip=10.0.3.1
l2ip=10.0.3.2
work=/tmp/l2
qemu=$(pwd)/dq/run-qemu

. ./tap.sh
. ./vfio.sh
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f s", b - a }'; }
finish() { echo "1..$nr"; [ "$fails" = 0 ]; exit; }
# L2's kernel messages, quoted: this output is on L1's console too, which
# run-vm.sh searches for L1's reports (vm/run-vm.sh, "splat"), so an L2
# report is reworded not to read as one of L1's. check counts them.
quote() {
	sed -E -e "s/^/# $1/" -e 's/(WARNING|BUG):/\1 (L2):/g' \
		-e 's/Oops/oops (L2)/g' -e 's/Kernel panic/kernel panic (L2)/g' \
		-e 's/general protection/general-protection/g' \
		-e 's/blocked for more than/blocked for more-than/g' \
		-e 's/(RCU|detected) stall/\1-stall/g' \
		-e 's/KASAN/kasan (L2)/g' -e 's/UBSAN/ubsan (L2)/g' \
		-e 's/kmemleak/kmem-leak/g' -e 's/possible (circular|recursive) locking/possible \1-locking/g' \
		-e 's/inconsistent lock state/inconsistent lock-state/g'
}

echo "# L1: $(uname -r), $(nproc) CPUs, up $(up) s at the start, cmdline: $(cat /proc/cmdline)"

# 1. The IOMMU; 2. the NIC to vfio-pci (vfio.sh).
t=$(up)
vfio_l1_iommu ""
vfio_l1_bind "" || finish
echo "# steps 1-2 (IOMMU, group, vfio-pci): $(since "$t")"
[ "${1:-}" = l1-only ] && finish
[ "$fails" = 0 ] || finish

# 3. L2. L1's end of the wire first.
t=$(up)
mkdir -p $work/www
vfio_l1_wire "" $l1ip/24 || finish
dd if=/dev/urandom of=$work/www/down bs=1M count="$mib" 2>/dev/null
downsum=$(md5sum <$work/www/down | cut -d' ' -f1)
httpd -p 8080 -h $work/www
log=$work/console
trace=$work/trace
# QEMU's trace: the requests its virtio-iommu executed and what its VFIO
# listener did with them (each MAP and UNMAP notified to VFIO becomes a
# VFIO_IOMMU_MAP_DMA or UNMAP_DMA on the container).
{ printf '%s\n' virtio_iommu_attach virtio_iommu_detach virtio_iommu_map \
	virtio_iommu_unmap virtio_iommu_report_fault; vfio_events; } >$work/events
echo "# QEMU: $("$qemu" --version | head -n 1)"
echo "# L2: $mem MiB, 1 vCPU, iommu.strict=1, -device virtio-iommu-pci -device vfio-pci,host=$vfio_bdf"
t0=$(up)
timeout -s KILL "$tmo" "$qemu" -accel tcg -M q35 -m "$mem" -smp 1 \
	-nodefaults -display none -no-reboot \
	-name l2,debug-threads=on -serial "file:$log" \
	-trace "events=$work/events,file=$trace" \
	-kernel bzImage -initrd l2-initrd.gz \
	-append "console=ttyS0 panic=-1 rdinit=/init iommu.strict=1 l2.l1=$l1ip l2.ip=$l2ip l2.mib=$mib" \
	-device virtio-iommu-pci,id=viommu \
	-device "vfio-pci,host=$vfio_bdf,rombar=0" \
	</dev/null >$work/qemu.out 2>&1 &
qpid=$!
# L2 to L1: L1 fetches L2's file once L2 serves it, then says so.
while kill -0 $qpid 2>/dev/null && ! grep -aq '^L2 upready' "$log" 2>/dev/null; do
	sleep 1
done
if grep -aq '^L2 upready' "$log" 2>/dev/null; then
	u0=$(up)
	wget -q -O $work/up "http://$l2ip:8080/up"
	wrc=$?
	echo "$wrc $u0 $(up)" >$work/up.time
	: >$work/www/fetched
fi
wait $qpid
qrc=$?
t1=$(up)
sed 's/^/# qemu: /' $work/qemu.out
tr -d '\r' <"$log" >"$log.txt"
log=$log.txt
grep -a -v '^L2 ' "$log" | grep -a -i -E 'iommu|e1000e|virtio_net|DMAR|error|fail|warn|call trace' |
	head -n 40 | quote "L2 console: "
grep -a '^L2 ' "$log" | quote ""

check "QEMU exits 0" "exit $qrc, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s" [ "$qrc" = 0 ]
init=$(l2val init)
check "L2 reaches init" "at ${init:-never} s (L2 clock)" [ -n "$init" ]
set -- $(l2val nic)
check "L2's NIC is in an IOMMU group of type DMA" "$*" [ "${4:--}" != - -a "${6:-}" = DMA ]
check "L2's NIC has its driver" "$*" [ "${8:--}" != - ]
check "L2 pings L1 over the assigned NIC" "$(l2val ping)" [ "$(l2val ping)" = ok ]
set -- $(l2val down)
check "$mib MiB L1 -> L2, checksum" "${1:-none} vs $downsum, ${2:-?} s" [ "${1:-}" = "$downsum" ]
set -- $(l2val upready)
upsum=${1:-none}
got=$(md5sum <$work/up 2>/dev/null | cut -d' ' -f1)
set -- $(cat $work/up.time 2>/dev/null)
check "$mib MiB L2 -> L1, checksum" \
	"$upsum vs ${got:-none}, $(awk -v a="${2:-0}" -v b="${3:-0}" 'BEGIN { printf "%.1f", b - a }') s" \
	[ "$upsum" = "${got:-none}" -a "${1:-1}" = 0 ]
set -- $(l2val unbind)
check "L2 unbinds its NIC's driver" "$*" [ "${1:-}" = ok ]
check "L2 shuts down" "at $(l2val done) s (L2 clock)" [ -n "$(l2val done)" ]
warns=$(grep -a -c -E 'WARNING:|BUG:|Oops' "$log")
check "L2's kernel log is clean" "$warns reports" [ "$warns" = 0 ]
maps=$(tcount '(^|:)virtio_iommu_map ' "$trace")
unmaps=$(tcount '(^|:)virtio_iommu_unmap ' "$trace")
vmaps=$(tcount 'vfio_iommu_map_notify iommu MAP ' "$trace")
vunmaps=$(tcount 'vfio_iommu_map_notify iommu UNMAP ' "$trace")
echo "# QEMU trace: $(tcount '(^|:)virtio_iommu_attach ' "$trace") ATTACH, $maps MAP, $unmaps UNMAP," \
	"$(tcount '(^|:)virtio_iommu_report_fault ' "$trace") faults;" \
	"VFIO notified $vmaps map, $vunmaps unmap"
grep -E 'vfio_listener_region_add_iommu|set_page_size_mask' "$trace" 2>/dev/null | head -n 5 | sed 's/^/# trace: /'
check "VFIO programmed L1's IOMMU from the guest's MAPs" "$vmaps map notifications" \
	[ "$vmaps" -gt 0 ]
dmar=$(dmesg | grep -c 'DMAR: \[DMA' || true)
check "no DMA remapping faults in L1" "$dmar" [ "$dmar" = 0 ]
dmesg | grep -E 'DMAR: \[|DRHD|vfio' | tail -n 20 | sed 's/^/# L1 dmesg: /'
echo "# step 3 (L2 boot, traffic, shutdown): $(since "$t")"
finish
