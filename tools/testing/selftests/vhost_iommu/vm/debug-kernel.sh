#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build a debug kernel once and print its directory.
#
# usage: debug-kernel.sh [--series 6.1|6.12] [--print]
#   --series  the kernel series (default 6.1):
#             6.1   the debug kernel of `make check-debug`: Debian's
#                   linux-source-6.1 (KSRC_TAR), allnoconfig + vm/debug.config
#             6.12  the fault-injection kernel of `make check-debug-612`:
#                   Debian's linux-source-6.12 (install-deps.sh --source 6.12),
#                   allnoconfig + vm/debug.config + vm/debug-6.12.config (the
#                   later fragment wins: no KASAN, kmemleak or UBSAN)
#   --print   print the directory the kernel is (or would be) cached in
#             and exit, building nothing
#
# The kernel is cached outside the source tree in $VHOST_IOMMU_CACHE
# (default /var/cache/vhost-iommu) under a key hashed from the fragments,
# the linux-source package version and the compiler version: 6.1 in
# debug-kernel-<key>, another series in debug-kernel-<series>-<key>.
# The directory holds:
#   src/                the build tree: KDIR for out-of-tree modules
#   src/arch/x86/boot/bzImage
#   mods/lib/modules/<release>/   modules_install output, with modules.dep
#   build.log, build-seconds, release, debug.config (the merged fragment)
# A finished build is marked by .done; an interrupted one resumes where it
# stopped. Concurrent callers wait on a lock. Messages go to stderr; the
# only line on stdout is the directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
series=6.1
print=0
while [ $# -gt 0 ]; do
	case "$1" in
	--series) series=${2:?--series needs 6.1 or 6.12}; shift 2 ;;
	--print) print=1; shift ;;
	*) echo "debug-kernel: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$series" in
6.1)
	frags=$here/debug.config
	tar=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
	name=debug-kernel
	;;
6.12)
	frags="$here/debug.config $here/debug-6.12.config"
	tar=/usr/src/linux-source-6.12.tar.xz
	name=debug-kernel-6.12
	;;
*) echo "debug-kernel: unknown series $series (6.1 or 6.12)" >&2; exit 2 ;;
esac
cache=${VHOST_IOMMU_CACHE:-/var/cache/vhost-iommu}
jobs=${JOBS:-$(nproc)}
[ -r "$tar" ] || {
	echo "debug-kernel: no $tar (vm/install-deps.sh --source $series)" >&2
	exit 1
}

# The key of 6.1 is hashed from exactly what it always was: changing the
# way it is computed would rebuild the 6.1 kernel everywhere.
pkgver=$(dpkg-query -W -f='${Version}' "linux-source-$series" 2>/dev/null || true)
[ -n "$pkgver" ] || pkgver=$(stat -c '%s-%Y' "$tar")
# shellcheck disable=SC2086
key=$( {
	cat $frags
	echo "linux-source-$series $pkgver"
	${CC:-gcc} --version | head -n 1
} | sha256sum | cut -c 1-16)
dir=$cache/$name-$key

if [ "$print" = 1 ]; then
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

log "building in $dir (linux-source-$series $pkgver, $jobs jobs)"
start=$(date +%s)
src=$dir/src
if [ ! -e "$src/.extracted" ]; then
	log "extract $(basename "$tar")"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tar" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi

# The fragments, in order, as one file: Kconfig takes the last value it
# reads for a symbol ("override: reassigning to symbol" in build.log).
# shellcheck disable=SC2086
cat $frags >"$dir/debug.config"
kmake() {
	make -C "$src" -j"$jobs" "$@" >>"$dir/build.log" 2>&1 || {
		log "make $* failed; the end of $dir/build.log:"
		tail -n 40 "$dir/build.log" >&2
		exit 1
	}
}
: >"$dir/build.log"
log "config: allnoconfig +$(for f in $frags; do printf ' %s' "$(basename "$f")"; done)"
kmake KCONFIG_ALLCONFIG="$dir/debug.config" allnoconfig

# Every value the fragments ask for must have survived: a symbol whose
# dependencies are off is dropped silently by Kconfig. Where the fragments
# name a symbol more than once, the last value is the one asked for.
bad=0
sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/&/p' \
	-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/&/p' "$dir/debug.config" |
awk '{ s = $1 == "#" ? $2 : $1; sub(/=.*/, "", s); last[s] = $0; order[NR] = s }
	END { for (i = 1; i <= NR; i++) if (!done[order[i]]++) print last[order[i]] }' |
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
	log "the fragments do not apply; fix$(for f in $frags; do printf ' %s' "$f"; done)"
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
