#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Copy an installed Debian kernel's modules into an L2 initramfs, in the
# order l2-init (or vfio-l2-init) loads them: ROOT/modules/<n>-<name>.ko,
# decompressed (the busybox insmod of L2 takes plain .ko files).
#
# usage: l2-modules.sh ROOT RELEASE MODULE...
set -eu

root=$1
rel=$2
shift 2
mkdir -p "$root/modules"
n=0
for m in "$@"; do
	f=$(find "/lib/modules/$rel/kernel" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || { echo "l2-modules: no $m in $rel" >&2; exit 1; }
	n=$((n + 1))
	case "$f" in
	*.xz) xz -dc "$f" >"$root/modules/$n-$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/modules/$n-$m.ko" ;;
	*) cp "$f" "$root/modules/$n-$m.ko" ;;
	esac
done
