#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the patched qemu-system-x86_64 of `make qemu` once and print the
# directory it is cached in.
#
# usage: build.sh [--print]
#   --print   print the directory the build is (or would be) cached in and
#             exit, building nothing (needs the deb-src entry already)
#
# The source is the qemu source package of Debian bookworm (7.2.x, with
# Debian's own patches, as `apt-get source qemu` unpacks it). On top of it go
# tools/qemu/*.patch in name order (one that does not apply fails the build,
# naming it), each checked with QEMU's own scripts/checkpatch.pl, and this
# repository's include/uapi/linux/vhost_iommu.h as
# linux-headers/linux/vhost_iommu.h (QEMU's copy of the kernel uapi, where
# <linux/vhost.h> comes from too). The build is minimal: x86_64-softmmu, TCG,
# no default features or devices, the devices of tools/qemu/qemu-devices.mak
# (as configs/devices/x86_64-softmmu/vhost-iommu.mak),
# and only the qemu-system-x86_64 target, with warnings as errors.
#
# The result is cached in $VHOST_IOMMU_CACHE (default /var/cache/vhost-iommu)
# under qemu-<key>, the key hashed from the patches, the uapi header, this
# script, the device list, the source package version and the compiler
# version. The directory holds:
#   bin/qemu-system-x86_64   stripped
#   lib/                     the shared libraries it links and ld.so
#   share/                   the firmware a q35 -kernel boot reads
#   run-qemu                 runs the binary with lib/ and share/ only, so
#                            the directory can be copied into a VM that has
#                            no libc (the test VM's busybox initramfs)
#   version, source-version, build.log, build-seconds, patches
# A finished build is marked by .done. Concurrent callers wait on a lock.
# The unpacked source and the build tree are kept in $cache/qemu-work and
# reused: only the files that a new patch set changes are rewritten, so
# ninja rebuilds just those. Messages go to stderr; the only line on stdout
# is the directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
uapi=$top/include/uapi/linux/vhost_iommu.h
mak=$here/qemu-devices.mak
cache=${VHOST_IOMMU_CACHE:-/var/cache/vhost-iommu}
jobs=${JOBS:-$(nproc)}

log() { echo "  QEMU $*" >&2; }
die() { echo "make qemu: $*" >&2; exit 1; }

# The deb-src entry, in a file of its own (deb-src.sh).
add_deb_src() {
	"$here/deb-src.sh" || die "no deb-src entry"
}

# The source version `apt-get source qemu` fetches, e.g. 1:7.2+dfsg-7+deb12u18.
source_version() {
	apt-cache showsrc qemu 2>/dev/null |
		sed -n 's/^Version: //p' | sort -V | tail -n 1
}

patches=$(ls "$here"/*.patch 2>/dev/null | LC_ALL=C sort || true)

if [ "${1:-}" != --print ]; then
	add_deb_src
fi
ver=$(source_version)
[ -n "$ver" ] || die "apt-cache showsrc qemu: no source package (deb-src entry missing?)"
key=$( {
	for p in $patches; do
		echo "patch $(basename "$p")"
		cat "$p"
	done
	cat "$uapi" "$here/build.sh" "$mak"
	echo "qemu source $ver"
	${CC:-gcc} --version | head -n 1
} | sha256sum | cut -c 1-16)
dir=$cache/qemu-$key

if [ "${1:-}" = --print ] || [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/qemu-work.lock"
if ! flock -n 9; then
	log "waiting for another QEMU build"
	flock 9
fi
if [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
log "building $dir (qemu $ver, $jobs jobs)"

# Build dependencies of the minimal build, installed when missing.
need=""
for pkg in meson ninja-build pkgconf libglib2.0-dev libpixman-1-dev \
	libfdt-dev zlib1g-dev dpkg-dev rsync; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
		need="$need $pkg"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing:$need (run as root)"
	log "installing:$need"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $need >/dev/null
fi

# The unpacked source, once per version.
work=$cache/qemu-work
pristine=$work/source-$ver
if [ ! -e "$pristine/.unpacked" ]; then
	log "apt-get source qemu=$ver"
	rm -rf "$work/download"
	mkdir -p "$work/download"
	(cd "$work/download" && apt-get source -qq "qemu=$ver" >&2) ||
		die "apt-get source qemu=$ver failed"
	rm -rf "$pristine"
	mv "$(find "$work/download" -mindepth 1 -maxdepth 1 -type d | head -n 1)" \
		"$pristine"
	rm -rf "$work/download"
	touch "$pristine/.unpacked"
fi

# The patched tree, staged from scratch every time.
stage=$work/stage
rm -rf "$stage"
cp -a "$pristine" "$stage"
rm -f "$stage/.unpacked"
for p in $patches; do
	log "apply $(basename "$p")"
	(cd "$stage" && git apply --whitespace=error-all "$p") >&2 ||
		die "patch $(basename "$p") does not apply to qemu $ver"
done
cp "$uapi" "$stage/linux-headers/linux/vhost_iommu.h"
# configure takes a device list by name, from configs/devices/<target>/.
cp "$mak" "$stage/configs/devices/x86_64-softmmu/vhost-iommu.mak"
for p in $patches; do
	if ! (cd "$stage" && ./scripts/checkpatch.pl "$p") >"$work/checkpatch.log" 2>&1; then
		cat "$work/checkpatch.log" >&2
		die "patch $(basename "$p") is not clean under QEMU's scripts/checkpatch.pl"
	fi
	grep -q '^total: 0 errors, 0 warnings' "$work/checkpatch.log" || {
		cat "$work/checkpatch.log" >&2
		die "patch $(basename "$p"): checkpatch warnings"
	}
done

# Into the build tree, rewriting only the files whose content changed (their
# mtime moves, the others' does not), so ninja rebuilds only what changed.
src=$work/src
mkdir -p "$src"
rsync -rlp --checksum --no-times --delete --exclude=/build "$stage/" "$src/"
rm -rf "$stage"

conf="--target-list=x86_64-softmmu --without-default-features
--without-default-devices --with-devices-x86_64=vhost-iommu --enable-tcg
--enable-kvm --enable-vhost-kernel --enable-vhost-net --disable-docs
--audio-drv-list= --disable-install-blobs --enable-werror"
confkey=$( (echo "$conf"; cat "$mak") | sha256sum | cut -c 1-16)
if [ "$(cat "$src/build/.confkey" 2>/dev/null)" != "$confkey" ]; then
	log "configure"
	rm -rf "$src/build"
	mkdir -p "$src/build"
	# Debian's python3 and meson, not whatever python3 is first on PATH.
	# shellcheck disable=SC2086
	(cd "$src/build" && PATH=/usr/sbin:/usr/bin:/sbin:/bin ../configure $conf) >"$work/configure.log" 2>&1 || {
		tail -n 40 "$work/configure.log" >&2
		die "configure failed (log: $work/configure.log)"
	}
	echo "$confkey" >"$src/build/.confkey"
fi

log "ninja -j$jobs qemu-system-x86_64 (log: $work/build.log)"
ninja -C "$src/build" -j"$jobs" qemu-system-x86_64 >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	die "build failed (log: $work/build.log)"
}

# The cache entry: the binary, its libraries and firmware, a runner.
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib" "$dir/share"
cp "$src/build/qemu-system-x86_64" "$dir/bin/"
strip "$dir/bin/qemu-system-x86_64"
ldd "$dir/bin/qemu-system-x86_64" | awk '/=> \//{ print $3 } /^\t\//{ print $1 }' |
while read -r lib; do
	cp -L "$lib" "$dir/lib/"
done
for fw in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/kvmvapic.bin; do
	[ -r "$fw" ] || die "no $fw (qemu-system-data / seabios)"
	cp "$fw" "$dir/share/"
done
cat >"$dir/run-qemu" <<'EOF'
#!/bin/sh
# qemu-system-x86_64 of `make qemu` with its own libraries and firmware.
d=$(cd "$(dirname "$0")" && pwd)
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib" \
	"$d/bin/qemu-system-x86_64" -L "$d/share" "$@"
EOF
chmod 755 "$dir/run-qemu"
"$dir/run-qemu" --version | head -n 1 >"$dir/version"
echo "$ver" >"$dir/source-version"
for p in $patches; do basename "$p"; done >"$dir/patches"
cp "$work/build.log" "$dir/build.log"
end=$(date +%s)
echo $((end - start)) >"$dir/build-seconds"
log "built $(cat "$dir/version") in $((end - start))s"
touch "$dir/.done"
echo "$dir"
