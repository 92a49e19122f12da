#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: deb-src.sh
#
# Makes 'apt-get source' work: adds a deb-src entry, the stanzas of
# /etc/apt/sources.list.d/debian.sources with Types: deb-src, in a file of
# its own (vhost-iommu-deb-src.sources), and updates apt's lists. Does
# nothing when that file exists. Used by tools/qemu/build.sh ('make qemu')
# and by the selftests' qemu-plugin-header.sh ('make profile').
set -eu

srclist=/etc/apt/sources.list.d/vhost-iommu-deb-src.sources

die() { echo "deb-src: $*" >&2; exit 1; }

[ -e "$srclist" ] && exit 0
[ "$(id -u)" = 0 ] || die "no deb-src entry ($srclist); run as root"
[ -r /etc/apt/sources.list.d/debian.sources ] ||
	die "no /etc/apt/sources.list.d/debian.sources to copy"
echo "  DEB-SRC adding $srclist" >&2
{
	echo "# Added by vhost-iommu's tools/qemu/deb-src.sh: the sources of"
	echo "# debian.sources, for 'apt-get source qemu'."
	sed -e '/^#/d' -e 's/^Types:.*/Types: deb-src/' \
		/etc/apt/sources.list.d/debian.sources
} >"$srclist.tmp"
mv "$srclist.tmp" "$srclist"
apt-get update -qq >&2
