#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Captures the virtio-iommu trace of a real Linux guest under QEMU 7.2 (TCG):
# how qemu72-linux61-strict-io.trace.log.gz was made.
#
# usage: capture.sh [--kernel bzImage] [--out FILE] [--work DIR]
#
# The guest kernel is Linux 6.1 with CONFIG_VIRTIO_IOMMU (Debian's kernel
# has none): without --kernel it is the one of `make guest-kernel`
# (tools/qemu/guest-kernel.sh: Debian's linux-source-6.1, allnoconfig +
# tools/qemu/guest.config, cached in /var/cache/vhost-iommu). The guest runs
# guest-init (busybox) behind a virtio-iommu-pci device with two
# virtio-net NICs wired to each other and a virtio-blk disk, all with
# iommu_platform=on; QEMU traces the virtio_iommu_* events with the log
# backend, "<tid>@<seconds>.<us>:" before each (-msg timestamp=on). The
# trace is written gzip-compressed to --out (default: next to this
# script), the guest's console to the work directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=/tmp/vhost-iommu-capture
kernel=""
out=$here/qemu72-linux61-strict-io.trace.log.gz

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	*) echo "usage: capture.sh [--kernel bzImage] [--out FILE] [--work DIR]" >&2
	   exit 2 ;;
	esac
done
mkdir -p "$work"

if [ -z "$kernel" ]; then
	# The L2 kernel of make guest-kernel (tools/qemu/guest.config), built
	# once and cached.
	kernel=$("$here/../../../../qemu/guest-kernel.sh")/bzImage
fi

root=$work/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
cp "$here/guest-init" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"
rm -f "$work/disk.img"
truncate -s 64M "$work/disk.img"
# Every virtio_iommu event but the translations of QEMU's own DMA (four in
# five lines of the log, and nothing a request depends on).
printf '%s\n' 'virtio_iommu_*' -virtio_iommu_translate \
	-virtio_iommu_translate_out >"$work/events"
rm -f "$work/trace.log"

# The two NICs meet on a loopback socket; a port per run.
port=$((20000 + $$ % 20000))
echo "capture: booting the guest (console: $work/console.log)"
timeout 900 qemu-system-x86_64 -accel tcg -M q35 -m 1G -smp 2 \
	-nodefaults -display none -no-reboot -msg timestamp=on \
	-serial "file:$work/console.log" \
	-trace "events=$work/events" -D "$work/trace.log" \
	-kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 iommu.strict=1 rdinit=/init" \
	-device virtio-iommu-pci \
	-netdev "socket,id=n0,listen=127.0.0.1:$port" \
	-device virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on,romfile= \
	-netdev "socket,id=n1,connect=127.0.0.1:$port" \
	-device virtio-net-pci,netdev=n1,iommu_platform=on,disable-legacy=on,romfile= \
	-drive "file=$work/disk.img,if=none,id=d0,format=raw" \
	-device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on \
	</dev/null
grep -q 'MARK [0-9.]* done' "$work/console.log" ||
	{ echo "capture: the guest did not finish, see $work/console.log" >&2; exit 1; }
gzip -9 -n -c "$work/trace.log" >"$out"
summary=${out%.trace.log.gz}.summary.txt
{
	echo "# $(basename "$out"), made by capture.sh"
	echo "qemu: $(qemu-system-x86_64 --version | head -n 1)"
	grep -m 1 'Linux version' "$work/console.log" | sed 's/^\[[^]]*\] /guest: /'
	echo
	echo "## The guest's console (kernel messages left out)"
	grep -av '^\[' "$work/console.log" | grep -v '^$'
	echo
	echo "## Trace events"
	sed 's/^[0-9]*@[0-9.]*://; s/ .*//' "$work/trace.log" | sort |
		uniq -c | sort -rn
} >"$summary"
echo "capture: $out ($(wc -c <"$out") bytes), $summary"
