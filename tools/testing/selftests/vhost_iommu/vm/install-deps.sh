#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: install-deps.sh [--kernel SERIES|RELEASE] [--source SERIES]
# Install what the build and the VM tests need on a Debian machine, saying
# what is installed. Does nothing when everything is present.
# --source also installs linux-source-SERIES (/usr/src/linux-source-SERIES.tar.xz),
# for vm/debug-kernel.sh --series SERIES (6.1's is always installed).
# --kernel also installs another kernel's image and headers: a series
# (6.12: the linux-image-6.12-amd64 metapackage, which bookworm-security
# carries) or a release (6.12.95+deb12-amd64). A package that the
# configured archives lack is looked for in bookworm-backports, added in a
# sources file of its own; nothing else comes from there.
set -eu

kernel=""
source=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?--kernel needs a series or a release}; shift 2 ;;
	--source) source=${2:?--source needs a series}; shift 2 ;;
	*) echo "install-deps: unknown argument $1" >&2; exit 2 ;;
	esac
done

need=""
want() { # want PACKAGE [COMMAND-OR-FILE]
	if [ -n "${2:-}" ]; then
		case "$2" in
		/*) [ -e "$2" ] && return 0 ;;
		*) command -v "$2" >/dev/null 2>&1 && return 0 ;;
		esac
	elif dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; then
		return 0
	fi
	need="$need $1"
}

want qemu-system-x86 qemu-system-x86_64
want linux-image-amd64
want linux-headers-amd64
want busybox-static /bin/busybox
want cpio cpio
want linux-source-6.1 /usr/src/linux-source-6.1.tar.xz
want sparse sparse
want gcc gcc
# nm, for the layering check (scripts/check-layers.sh).
want binutils nm
want make make
want libc6-dev /usr/lib/x86_64-linux-gnu/libc.a
want xz-utils xz
want kmod modinfo
want perl perl
want gzip gzip
# zlib, linked statically into the trace replay tool (replay.c).
want zlib1g-dev /usr/lib/x86_64-linux-gnu/libz.a
# The debug kernel of make check-debug (vm/debug-kernel.sh).
want bc bc
want flex flex
want bison bison
want libelf-dev /usr/include/libelf.h
want libssl-dev /usr/include/openssl/ssl.h
want dwarves pahole
want util-linux flock
[ -z "$source" ] ||
	want "linux-source-$source" "/usr/src/linux-source-$source.tar.xz"
case "$kernel" in
"") ;;
*.*.*) want "linux-image-$kernel" "/boot/vmlinuz-$kernel"
	want "linux-headers-$kernel" "/lib/modules/$kernel/build/Makefile" ;;
*) want "linux-image-$kernel-amd64"
	want "linux-headers-$kernel-amd64" ;;
esac

if [ -z "$need" ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing:$need (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing:$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

backports=/etc/apt/sources.list.d/vhost-iommu-backports.sources
available() {
	for p in $need; do
		apt-cache show "$p" >/dev/null 2>&1 || return 1
	done
}
if ! available && [ ! -e "$backports" ]; then
	echo "install-deps: adding bookworm-backports ($backports)"
	cat >"$backports" <<-EOF
	# Added by vhost-iommu's vm/install-deps.sh, for kernels that only
	# bookworm-backports carries. Nothing is installed from it unless named.
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: bookworm-backports
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
echo "install-deps: done"
