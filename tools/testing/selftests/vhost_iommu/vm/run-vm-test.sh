#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: run-vm-test.sh
# The self-test of run-vm.sh's boot retry, on the host, with a fake
# qemu-system-x86_64 first in PATH: each boot is a script (console lines,
# results lines, exit status) the fake plays by writing the two serial
# files run-vm.sh names. A kernel that dies before /init wrote its first
# line is booted once more, and the run is judged on that boot; a death
# after it, a hang and a second death before /init are not retried; and
# /init writes that first line before it loads any module.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

mkdir -p "$tmp/bin" "$tmp/mod" "$tmp/payload"
: >"$tmp/vmlinuz"
: >"$tmp/mod/modules.dep"
# The fake: plays boot N of the case from $FAKE_DIR/boot-N.{console,results,rc}
cat >"$tmp/bin/qemu-system-x86_64" <<'EOF'
#!/bin/sh
con="" res=""
while [ $# -gt 0 ]; do
	case "$1" in
	-serial)
		if [ -z "$con" ]; then con=${2#file:}; else res=${2#file:}; fi
		shift 2 ;;
	*) shift ;;
	esac
done
n=$(($(cat "$FAKE_DIR/boots" 2>/dev/null || echo 0) + 1))
echo "$n" >"$FAKE_DIR/boots"
b=$FAKE_DIR/boot-$n
[ -e "$b.rc" ] || { echo "fake qemu: no boot $n" >&2; exit 99; }
cat "$b.console" >"$con" 2>/dev/null || true
cat "$b.results" >"$res" 2>/dev/null || true
[ "$(cat "$b.rc")" = hang ] && exec sleep 60
exit "$(cat "$b.rc")"
EOF
chmod 755 "$tmp/bin/qemu-system-x86_64"

done_line='VHOST_IOMMU_VM_DONE rc=0 rmmod=0 rmmod_net=0 rmmod_vsock=0 taint=12288 leaks=-'
oops='[    2.6] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI'

# boot CASE N RC CONSOLE RESULTS: what boot N of CASE shows
boot() {
	mkdir -p "$tmp/$1"
	echo "$3" >"$tmp/$1/boot-$2.rc"
	printf '%s\n' "$4" >"$tmp/$1/boot-$2.console"
	printf '%s\n' "$5" >"$tmp/$1/boot-$2.results"
}

# expect CASE RC BOOTS LINE...: run-vm.sh exits with RC after BOOTS boots
# and prints each LINE
expect() {
	c=$1 want=$2 boots=$3
	shift 3
	rc=0
	FAKE_DIR=$tmp/$c PATH=$tmp/bin:$PATH VM_MODULES=" " KVER=fake \
		"$here/run-vm.sh" --kernel "$tmp/vmlinuz" --modules "$tmp/mod" \
		--payload "$tmp/payload" --out "$tmp/$c/out" --timeout 5 \
		true >"$tmp/$c/log" 2>&1 || rc=$?
	ok=1
	[ "$rc" = "$want" ] || { echo "# $c: exit $rc, want $want"; ok=0; }
	got=$(cat "$tmp/$c/boots" 2>/dev/null || echo 0)
	[ "$got" = "$boots" ] || { echo "# $c: $got boots, want $boots"; ok=0; }
	for line; do
		grep -qF -- "$line" "$tmp/$c/log" ||
			{ echo "# $c: no line '$line'"; ok=0; }
	done
	if [ "$ok" = 1 ]; then
		echo "ok - run-vm: $c"
	else
		sed 's/^/#   /' "$tmp/$c/log"
		echo "not ok - run-vm: $c"
		failed=1
	fi
}

# A clean boot: one boot, judged clean.
boot clean 1 0 "[    1.0] booted" "VHOST_IOMMU_VM_BOOTED
$done_line"
expect clean 0 1 "ok - vm: success marker" "ok - vm: kernel log clean"

# The kernel dies before /init, then boots: the second boot is judged.
boot retried 1 0 "$oops" ""
boot retried 2 0 "[    1.0] booted" "VHOST_IOMMU_VM_BOOTED
$done_line"
expect retried 0 2 "the kernel died before /init ran (boot 1" \
	"ok - vm: success marker" "ok - vm: kernel log clean"
[ -s "$tmp/retried/out/console-boot-1.log" ] ||
	{ echo "not ok - run-vm: retried: no console-boot-1.log"; failed=1; }

# It dies before /init twice: not tried a third time, and it fails.
boot twice 1 0 "$oops" ""
boot twice 2 0 "$oops" ""
expect twice 1 2 "not ok - vm: success marker" "not ok - vm: kernel log clean"

# A death after /init began (a test's, or the module's): never retried.
boot after 1 0 "$oops" "VHOST_IOMMU_VM_BOOTED"
expect after 1 1 "not ok - vm: success marker" "not ok - vm: kernel log clean"

# A hang before /init (killed at the timeout): not retried.
boot hang 1 hang "" ""
expect hang 1 1 "not ok - vm: finished in time"

# /init writes the marker before it loads any module.
first_insmod=$(grep -n 'insmod' "$here/init" | head -n 1 | cut -d: -f1)
# shellcheck disable=SC2016 # a literal $res
marker=$(grep -n '^echo "VHOST_IOMMU_VM_BOOTED" >\$res$' "$here/init" |
	head -n 1 | cut -d: -f1)
if [ -n "$marker" ] && [ -n "$first_insmod" ] && [ "$marker" -lt "$first_insmod" ]; then
	echo "ok - run-vm: init marks the boot before loading modules"
else
	echo "not ok - run-vm: init marks the boot before loading modules"
	failed=1
fi

exit $failed
