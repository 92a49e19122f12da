#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check-qemu: a real VMM and a real guest on vhost-iommu. Boots the
# test VM (L1: Debian's stock kernel, vhost_net and vhost_iommu.ko loaded)
# with a payload of the patched QEMU (make qemu), the L2 kernel (make
# guest-kernel) and a busybox initramfs for L2 (l2-init), and runs l1.sh
# there, which boots L2 once per RUN and prints TAP lines.
#
# usage: check-qemu.sh [--out DIR] [RUN...]
#   RUN: VHOST:MODE[:OPTION...] as l1.sh takes it (default: on:strict
#   off:strict on:passthrough:poll50 on:strict:migrate: the passthrough
#   run has the kernel poll the request queue, poll-us=50; the next
#   migrates L2 between two QEMUs mid-traffic; on:strict:vfio:net:mib4
#   gives L2 a NIC assigned with VFIO besides its virtio-net on vhost-net,
#   both behind the one virtio-iommu, and moves 4 MiB each way over each)
#
# A run with the "vfio" option boots the test VM with VM_VFIO=1 and
# VM_VFIO_NIC=virtio (vm/run-vm.sh: q35, an emulated Intel IOMMU, a
# virtio-net NIC at 00:04.0 for L1 to assign and one at 00:05.0 for L1's
# end of its wire); the other runs then run on that machine too, in the
# same boot.
#
# Environment: KVER, VM_TIMEOUT (seconds, default 1800), VM_MEM (MiB,
# default 2048), L2_MIB, L2_MEM, L2_TIMEOUT, L2_VFIO_MIB (passed to
# l1.sh), QEMU_DIR (a build of make qemu to use instead of the current
# one, e.g. an unpatched one), L2_KERNEL: "small" (default: make guest-kernel) or a release of an
# installed Debian kernel (e.g. 6.12.117+deb12-amd64), whose
# /boot/vmlinuz is L2's kernel and whose virtio-iommu, virtio_net (with
# failover, net_failover), virtio_blk and virtio vsock modules go into L2's
# initramfs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vm=$top/tools/testing/selftests/vhost_iommu/vm
out=$top/build/qemu-check

while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift 2 ;;
	-*) echo "check-qemu: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || set -- on:strict off:strict on:passthrough:poll50 on:strict:migrate \
	on:strict:vfio:net:mib4
vfio=0
for r in "$@"; do
	case ":$r:" in *:vfio:*) vfio=1 ;; esac
done

qemu=${QEMU_DIR:-$("$here/build.sh")}
l2k=${L2_KERNEL:-small}
if [ "$l2k" = small ]; then
	kernel=$("$here/guest-kernel.sh")
	bzimage=$kernel/bzImage
	echo "  L2 KERNEL $(cat "$kernel/release") ($kernel)"
else
	bzimage=/boot/vmlinuz-$l2k
	[ -r "$bzimage" ] || { echo "check-qemu: no $bzimage" >&2; exit 1; }
	echo "  L2 KERNEL $l2k ($bzimage, modules from /lib/modules/$l2k)"
fi
echo "  QEMU $(cat "$qemu/version") ($qemu)"

payload=$out/payload
rm -rf "$out"
mkdir -p "$payload/qemu"
cp -a "$qemu/bin" "$qemu/lib" "$qemu/share" "$qemu/run-qemu" "$payload/qemu/"
cp "$bzimage" "$payload/bzImage"
cp "$here/l1.sh" "$here/tap.sh" "$here/vfio.sh" "$payload/"
# The vsock transfers' tool, for both ends (busybox has no vsock).
${CC:-cc} -O2 -Wall -Werror -static -o "$out/vsock-xfer" "$here/vsock-xfer.c"
cp "$out/vsock-xfer" "$payload/vsock-xfer"

# L2's initramfs, built the way vm/run-vm.sh builds L1's.
root=$out/l2-initramfs
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
cp "$out/vsock-xfer" "$root/bin/vsock-xfer"
cp "$here/l2-init" "$root/init"
chmod 755 "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
# A distribution kernel: the modules l2-init loads, in that order.
if [ "$l2k" != small ]; then
	"$here/l2-modules.sh" "$root" "$l2k" virtio-iommu failover \
		net_failover virtio_net virtio_blk vsock \
		vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
fi
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$payload/l2-initrd.gz"

env=""
for v in L2_MIB L2_MEM L2_TIMEOUT L2_VFIO_MIB; do
	eval "val=\${$v:-}"
	[ -n "$val" ] && env="$env $v=$val"
done
VM_VFIO=$vfio VM_VFIO_NIC=virtio VM_MEM=${VM_MEM:-2048} "$vm/run-vm.sh" --timeout "${VM_TIMEOUT:-1800}" \
	--module "$top/drivers/vhost/iommu/vhost_iommu.ko" --payload "$payload" \
	--out "$out/vm" --tap "env$env sh ./l1.sh $*"
