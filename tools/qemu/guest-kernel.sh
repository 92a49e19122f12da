#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the L2 guest kernel of `make guest-kernel` once and print the
# directory it is cached in.
#
# usage: guest-kernel.sh [--print]
#   --print   print the directory the kernel is (or would be) cached in
#             and exit, building nothing
#
# The kernel comes from Debian's linux-source-6.1 (KSRC_TAR), configured as
# allnoconfig + tools/qemu/guest.config (the one fragment, which the
# selftests' data/capture.sh uses too), and is cached outside the source tree
# in $VHOST_IOMMU_CACHE (default /var/cache/vhost-iommu) under
# guest-kernel-<key>, the key hashed from the fragment, this script, the
# linux-source package version and the compiler version. The directory
# holds:
#   bzImage, config, release, build.log, build-seconds
# A finished build is marked by .done; an interrupted one resumes where it
# stopped (the tree, src/, is deleted once the build is done). Concurrent
# callers wait on a lock. Messages go to stderr; the only line on stdout is
# the directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/guest.config
tar=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
cache=${VHOST_IOMMU_CACHE:-/var/cache/vhost-iommu}
jobs=${JOBS:-$(nproc)}

pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ -n "$pkgver" ] || pkgver=$(stat -c '%s-%Y' "$tar")
key=$( {
	cat "$frag" "$here/guest-kernel.sh"
	echo "linux-source-6.1 $pkgver"
	${CC:-gcc} --version | head -n 1
} | sha256sum | cut -c 1-16)
dir=$cache/guest-kernel-$key

if [ "${1:-}" = --print ] || [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

log() { echo "  GUEST-KERNEL $*" >&2; }
mkdir -p "$dir"
exec 9>"$dir.lock"
if ! flock -n 9; then
	log "waiting for another build of $dir"
	flock 9
fi
if [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

log "building in $dir (linux-source-6.1 $pkgver, $jobs jobs)"
start=$(date +%s)
src=$dir/src
if [ ! -e "$src/.extracted" ]; then
	log "extract $(basename "$tar")"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tar" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi

kmake() {
	make -C "$src" -j"$jobs" "$@" >>"$dir/build.log" 2>&1 || {
		log "make $* failed; the end of $dir/build.log:"
		tail -n 40 "$dir/build.log" >&2
		exit 1
	}
}
: >"$dir/build.log"
log "config: allnoconfig + $(basename "$frag")"
kmake KCONFIG_ALLCONFIG="$frag" allnoconfig

# Kconfig drops a symbol whose dependencies are off without a word: every
# value the fragment asks for must have survived.
grep -E '^CONFIG_[A-Za-z0-9_]+=' "$frag" | while read -r line; do
	grep -qxF "$line" "$src/.config" ||
		log "wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo nothing)"
done >"$dir/config-mismatch" 2>&1
if [ -s "$dir/config-mismatch" ]; then
	cat "$dir/config-mismatch" >&2
	log "the fragment does not apply; fix $frag"
	exit 1
fi

log "make bzImage (log: $dir/build.log)"
kmake bzImage
cp "$src/arch/x86/boot/bzImage" "$dir/bzImage"
cp "$src/.config" "$dir/config"
cat "$src/include/config/kernel.release" >"$dir/release"
end=$(date +%s)
echo $((end - start)) >"$dir/build-seconds"
log "built $(cat "$dir/release") in $((end - start))s"
touch "$dir/.done"
rm -rf "$src"
echo "$dir"
