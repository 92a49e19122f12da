#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Issue 14, item 6: can a VFIO device be assigned end to end here? Boots
# the test VM (L1) with VM_VFIO=1 (vm/run-vm.sh: q35, an emulated Intel
# IOMMU with interrupt remapping, an emulated NIC at 00:04.0 to assign and
# a virtio-net NIC at 00:05.0 for L1, both on one QEMU hub) and runs
# vfio-l1.sh there: L1 binds the NIC to vfio-pci and boots L2 under
# Debian's stock QEMU 7.2 with the NIC as -device vfio-pci behind
# -device virtio-iommu-pci (QEMU's own virtio-iommu: VFIO needs every MAP
# and UNMAP, which vhost=on does not report), and L2 moves data over it.
#
# usage: vfio-try.sh [--out DIR] [--l1-only]
#   --l1-only   stop after binding the NIC to vfio-pci in L1 (no L2)
#
# Environment: VFIO_NIC (e1000e, the default, or virtio: the NIC that
# L0 emulates and L1 assigns), L2_KERNEL ("small": make guest-kernel's
# bzImage, which has virtio-net but no e1000e; or the release of an
# installed Debian kernel, default the newest 6.12, whose virtio-iommu
# and NIC modules go into L2's initramfs: Debian's 6.1 has no
# VIRTIO_IOMMU), L2_MEM (MiB, default 256), L2_MIB (MiB each way, default
# 4), L2_TIMEOUT (seconds, default 900), VM_TIMEOUT (default 1800).
#
# The patched QEMU of make qemu cannot be L1's VMM here: its minimal build
# has neither vfio-pci nor e1000e. Debian's own qemu-system-x86_64 (the one
# that runs L1) is carried into L1 instead, with every library it links,
# the dynamically loaded TCG accelerator (Debian builds TCG as a module:
# accel-tcg-x86_64.so, found through QEMU_MODULE_DIR) and its firmware.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vm=$top/tools/testing/selftests/vhost_iommu/vm
out=$top/build/vfio-try
l1only=""

while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--l1-only) l1only=l1-only; shift ;;
	*) echo "vfio-try: unknown option $1" >&2; exit 2 ;;
	esac
done

nic=${VFIO_NIC:-e1000e}
case "$nic" in
e1000e) nicmods="e1000e" ;;
virtio) nicmods="failover net_failover virtio_net" ;;
*) echo "vfio-try: VFIO_NIC is e1000e or virtio" >&2; exit 2 ;;
esac
l2k=${L2_KERNEL:-$(ls /boot/vmlinuz-6.12.* 2>/dev/null | sed 's|.*/vmlinuz-||' | sort -V | tail -n 1)}
[ -n "$l2k" ] || { echo "vfio-try: no Debian 6.12 kernel; set L2_KERNEL" >&2; exit 1; }

payload=$out/payload
rm -rf "$out"
mkdir -p "$payload/dq/bin" "$payload/dq/lib" "$payload/dq/mod" "$payload/dq/share"

# Debian's QEMU and everything it loads, run through its own ld.so.
qbin=$(command -v qemu-system-x86_64)
tcg=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
cp "$qbin" "$payload/dq/bin/"
cp "$tcg" "$payload/dq/mod/"
for lib in $( (ldd "$qbin"; ldd "$tcg") | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }' | sort -u); do
	cp -L "$lib" "$payload/dq/lib/"
done
cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin \
	/usr/share/qemu/linuxboot_dma.bin "$payload/dq/share/"
cat >"$payload/dq/run-qemu" <<'EOF'
#!/bin/sh
# Debian's qemu-system-x86_64 with its own libraries, modules and firmware.
d=$(cd "$(dirname "$0")" && pwd)
export QEMU_MODULE_DIR=$d/mod
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib" \
	"$d/bin/qemu-system-x86_64" -L "$d/share" "$@"
EOF
chmod 755 "$payload/dq/run-qemu"
echo "  QEMU $("$qbin" --version | head -n 1) ($(du -sh "$payload/dq" | cut -f1) with its libraries)"

# L2's kernel and initramfs.
root=$out/l2-initramfs
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
cp "$here/vfio-l2-init" "$root/init"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
if [ "$l2k" = small ]; then
	kernel=$("$here/guest-kernel.sh")
	cp "$kernel/bzImage" "$payload/bzImage"
	echo "  L2 KERNEL $(cat "$kernel/release") ($kernel)"
	if [ "$nic" = e1000e ] && ! grep -q '^CONFIG_E1000E=y' "$kernel/config"; then
		echo "vfio-try: the small L2 kernel has no CONFIG_E1000E (tools/qemu/guest.config)" >&2
		exit 1
	fi
else
	bz=/boot/vmlinuz-$l2k
	[ -r "$bz" ] || { echo "vfio-try: no $bz" >&2; exit 1; }
	cp "$bz" "$payload/bzImage"
	echo "  L2 KERNEL $l2k ($bz, modules from /lib/modules/$l2k)"
	# The IOMMU's module first, so that the NIC's probe finds it.
	# shellcheck disable=SC2086
	"$here/l2-modules.sh" "$root" "$l2k" virtio-iommu $nicmods
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$payload/l2-initrd.gz"
cp "$here/vfio-l1.sh" "$here/tap.sh" "$here/vfio.sh" "$payload/"

env="VFIO_NIC=$nic"
for v in L2_MIB L2_MEM L2_TIMEOUT; do
	eval "val=\${$v:-}"
	[ -n "$val" ] && env="$env $v=$val"
done
t0=$(date +%s)
rc=0
VM_VFIO=1 VM_VFIO_NIC=$nic VM_MEM=${VM_MEM:-2048} "$vm/run-vm.sh" \
	--timeout "${VM_TIMEOUT:-1800}" --payload "$payload" --out "$out/vm" \
	--tap "env $env sh ./vfio-l1.sh $l1only" || rc=$?
echo "# vfio-try: L0 wall time $(($(date +%s) - t0)) s (L1 boot to power-off)"
exit $rc
