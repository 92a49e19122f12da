#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: qemu-plugin-header.sh DIR
#
# Puts QEMU's plugin API header, include/qemu/qemu-plugin.h, in
# DIR/qemu-plugin.h, for prof_plugin.c ('make profile'), from the Debian
# source of the qemu-system-x86 installed here, so that the plugin's API
# version is the one of the QEMU that loads it: taken from the unpacked
# source tools/qemu/build.sh keeps in $VHOST_IOMMU_CACHE (default
# /var/cache/vhost-iommu) if it is there, else from 'apt-get source
# --download-only' into DIR (the deb-src entry from tools/qemu/deb-src.sh).
# Nothing from QEMU is part of this repository. Fails when the
# installed QEMU was built without plugin support.
set -eu

dir=$1
cache=${VHOST_IOMMU_CACHE:-/var/cache/vhost-iommu}
hdr=include/qemu/qemu-plugin.h

die() { echo "qemu-plugin-header: $*" >&2; exit 1; }

qemu=$(command -v qemu-system-x86_64) || die "no qemu-system-x86_64"
# A QEMU built with --enable-plugins exports the plugin API to plugins.
nm -D "$qemu" 2>/dev/null | grep -q ' T qemu_plugin_register_vcpu_tb_trans_cb$' ||
	die "$qemu was built without TCG plugin support"
ver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null) ||
	die "qemu-system-x86 is not installed from a Debian package"
mkdir -p "$dir"
[ -s "$dir/qemu-plugin.h" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$ver" ] &&
	exit 0

if [ -r "$cache/qemu-work/source-$ver/$hdr" ]; then
	cp "$cache/qemu-work/source-$ver/$hdr" "$dir/qemu-plugin.h"
	echo "$ver" >"$dir/version"
	echo "  QEMU-PLUGIN-H from $cache/qemu-work/source-$ver"
	exit 0
fi

top=$(cd "$(dirname "$0")/../../../.." && pwd)
"$top/tools/qemu/deb-src.sh" || die "no deb-src entry"
echo "  QEMU-PLUGIN-H apt-get source --download-only qemu=$ver"
(cd "$dir" && apt-get source -qq --download-only "qemu=$ver" >/dev/null) ||
	die "apt-get source qemu=$ver failed"
orig=$(ls "$dir"/qemu_*.orig.tar.* | head -n 1)
tar -xf "$orig" -C "$dir" --wildcards --strip-components=3 "*/$hdr" ||
	die "no $hdr in $orig"
# Debian's patches (the stable point releases) do not touch it in 7.2;
# say so if one ever does.
deb=$(ls "$dir"/qemu_*.debian.tar.* | head -n 1)
if tar -xOf "$deb" --wildcards 'debian/patches/*' | grep -q "^+++ [^ ]*/$hdr"; then
	die "a patch in $deb changes $hdr: apply it first"
fi
rm -f "$dir"/qemu_*
echo "$ver" >"$dir/version"
