#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug kernel of `make check-debug` once and print its directory.
#
# usage: debug-kernel.sh [--print]
#   --print   print the directory the kernel is (or would be) cached in
#             and exit, building nothing
#
# The kernel comes from Debian's linux-source-6.1 (KSRC_TAR), configured as
# allnoconfig + vm/debug.config, and is cached outside the source tree in
# $VHOST_IOMMU_CACHE (default /var/cache/vhost-iommu) under a key hashed from
# the fragment, the linux-source package version and the compiler version.
# The directory holds:
#   src/                the build tree: KDIR for out-of-tree modules
#   src/arch/x86/boot/bzImage
#   mods/lib/modules/<release>/   modules_install output, with modules.dep
#   build.log, build-seconds, release
# A finished build is marked by .done; an interrupted one resumes where it
# stopped. Concurrent callers wait on a lock. Messages go to stderr; the
# only line on stdout is the directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/debug.config
tar=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
cache=${VHOST_IOMMU_CACHE:-/var/cache/vhost-iommu}
jobs=${JOBS:-$(nproc)}

pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ -n "$pkgver" ] || pkgver=$(stat -c '%s-%Y' "$tar")
key=$( {
	cat "$frag"
	echo "linux-source-6.1 $pkgver"
	${CC:-gcc} --version | head -n 1
} | sha256sum | cut -c 1-16)
dir=$cache/debug-kernel-$key

if [ "${1:-}" = --print ]; then
	echo "$dir"
	exit 0
fi
if [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

log() { echo "  DEBUG-KERNEL $*" >&2; }
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

cp "$frag" "$dir/debug.config"
kmake() {
	make -C "$src" -j"$jobs" "$@" >>"$dir/build.log" 2>&1 || {
		log "make $* failed; the end of $dir/build.log:"
		tail -n 40 "$dir/build.log" >&2
		exit 1
	}
}
: >"$dir/build.log"
log "config: allnoconfig + $(basename "$frag")"
kmake KCONFIG_ALLCONFIG="$dir/debug.config" allnoconfig

# Every value the fragment asks for must have survived: a symbol whose
# dependencies are off is dropped silently by Kconfig.
bad=0
sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/&/p' \
	-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/&/p' "$frag" |
while read -r line; do
	case "$line" in
	"# "*)
		sym=${line#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" "$src/.config"; then
			log "$sym is set, the fragment wants it off"
			echo x
		fi
		;;
	*)
		if ! grep -qxF "$line" "$src/.config"; then
			got=$(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || true)
			log "wanted $line, got: ${got:-nothing}"
			echo x
		fi
		;;
	esac
done >"$dir/config-mismatch"
[ -s "$dir/config-mismatch" ] && bad=1
if [ "$bad" = 1 ]; then
	log "the fragment does not apply; fix $frag"
	exit 1
fi

log "make bzImage modules (log: $dir/build.log)"
kmake bzImage modules
rm -rf "$dir/mods"
kmake INSTALL_MOD_PATH="$dir/mods" modules_install
cat "$src/include/config/kernel.release" >"$dir/release"
end=$(date +%s)
echo $((end - start)) >"$dir/build-seconds"
log "built $(cat "$dir/release") in $((end - start))s"
touch "$dir/.done"
echo "$dir"
