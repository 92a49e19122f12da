# SPDX-License-Identifier: GPL-2.0
#
# TAP output for the scripts that run in the test VM (l1.sh, vfio-l1.sh),
# sourced from the payload. $log is the L2 console file l2val() reads.

nr=0
fails=0
ok() { nr=$((nr + 1)); echo "ok $nr - $*"; }
notok() { nr=$((nr + 1)); fails=$((fails + 1)); echo "not ok $nr - $*"; }
check() { # check NAME DETAIL COMMAND...: ok when COMMAND succeeds
	c_name=$1
	c_detail=$2
	shift 2
	if "$@"; then
		ok "$c_name${c_detail:+ # $c_detail}"
	else
		notok "$c_name${c_detail:+ # $c_detail}"
	fi
}
contains() { # contains STRING PART
	case "$1" in *"$2"*) return 0 ;; esac
	return 1
}
# A value from L2's console: the fields after "L2 <name>".
l2val() { grep -a "^L2 $1 " "$log" | tail -n 1 | cut -d' ' -f3-; }
# L1's end of a tap QEMU makes: waits (bounded) while QEMU runs, then
# gives it an address and brings it up.
tapup() { # tapup TAP ADDRESS/PREFIX QEMU_PID
	t_i=0
	while [ ! -e "/sys/class/net/$1" ] && [ $t_i -lt 600 ] && kill -0 "$3" 2>/dev/null; do
		sleep 0.1
		t_i=$((t_i + 1))
	done
	ip addr add "$2" dev "$1" 2>/dev/null
	ip link set "$1" up 2>/dev/null
}
