#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the test VM (L1: Debian's stock kernel, vhost_net and
# vhost_iommu.ko loaded), from the payload that tools/qemu/check-qemu.sh
# assembles: qemu/ (the patched QEMU of make qemu with its libraries and
# firmware), bzImage (the L2 kernel of make guest-kernel), l2-initrd.gz
# (busybox + l2-init + vsock-xfer), vsock-xfer.
#
# usage: l1.sh RUN...
#   RUN is VHOST:MODE[:OPTION...], VHOST "off" (QEMU 7.2's own
#   virtio-iommu, the control) or "on" (vhost=on: the requests executed by
#   vhost-iommu), MODE "strict" (iommu.strict=1) or "passthrough"
#   (iommu.passthrough=1). Options, for measurements: "nopush" (the module's
#   push_on_map off for this run), "smp2" (L2 with 2 vCPUs), "net" (the two
#   transfers only: no disk, no NIC removal; make bench-qemu), "pollN"
#   (vhost=on: poll-us=N, the kernel polls the request queue for N us),
#   "migrate" (alone: L2 migrated to a second QEMU mid-traffic, migrun()),
#   "mibN" (N MiB each way for this run instead of L2_MIB),
#   "vfio" (a test VM booted with VM_VFIO=1: L2 also gets L0's emulated
#   virtio-net at 00:04.0, bound to vfio-pci here, as -device vfio-pci
#   behind the same virtio-iommu, and moves L2_VFIO_MIB MiB each way over
#   it before its other transfers; vfiophase(), vfiochecks()).
#
# Each run boots L2 under QEMU (TCG) with virtio-iommu-pci, a virtio-net-pci
# NIC on a tap with vhost=on, a vhost-vsock-pci device (guest CID 3) and a
# virtio-blk-pci disk, all iommu_platform=on, and prints TAP lines for what
# L2 and L1 saw. For each
# run it also prints where L1's CPU time went during each transfer (per
# thread name, from /proc) and one "# summary" line of key=value pairs
# that tools/qemu/report.sh reads. The environment may set L2_MIB (MiB
# each way, default 16), L2_MEM (MiB, default 256), L2_TIMEOUT (seconds per
# run, default 900), L2_VFIO_MIB (MiB each way over the assigned NIC,
# default 4).
set -u

mib0=${L2_MIB:-16}
mib=$mib0
mem=${L2_MEM:-256}
tmo=${L2_TIMEOUT:-900}
l1ip=10.0.2.1
l2ip=10.0.2.2
vmib=${L2_VFIO_MIB:-4}
# The assigned NIC's wire (vfio.sh: L1's own NIC at 00:05.0) and where
# the NIC sits in L2.
vl1ip=10.0.3.1
vl2ip=10.0.3.2
vl2bdf=0000:00:08.1
work=/tmp/l2
here=$(pwd)
qemu=$here/qemu/run-qemu

. ./tap.sh
. ./vfio.sh
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
rate() { awk -v a="$1" -v b="$2" -v m="${3:-$mib}" 'BEGIN { if (b > a) printf "%.2f", m / (b - a); else print "-" }'; }

mkdir -p $work/www
for f in /dev/vhost-net /dev/vhost-vsock /dev/vhost-iommu /dev/net/tun; do
	[ -c $f ] || { echo "Bail out! no $f in L1"; exit 1; }
done
echo "# L1: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo)"
echo "# QEMU: $("$qemu" --version | head -n 1)"

# The file L2 fetches from L1, MIB MiB (a run's "mibN" changes it), and
# its md5.
downfile() { # downfile MIB
	[ "$1" = "${downmib:-}" ] && return
	dd if=/dev/urandom of=$work/www/down bs=1M count="$1" 2>/dev/null
	downsum=$(md5sum <$work/www/down | cut -d' ' -f1)
	downmib=$1
}
downfile "$mib"
dd if=/dev/urandom of=$work/vs.down bs=1M count=4 2>/dev/null
vdownsum=$(md5sum <$work/vs.down | cut -d' ' -f1)
httpd -p 8080 -h $work/www || { echo "Bail out! httpd"; exit 1; }

# QEMU's own trace of the control: its vhost IOTLB misses and the requests
# it executed.
printf '%s\n' vhost_iotlb_miss virtio_iommu_attach virtio_iommu_detach \
	virtio_iommu_map virtio_iommu_unmap virtio_iommu_report_fault \
	>$work/events

qport=4444
qmp() { # qmp COMMAND: one QMP command to the QEMU at $qport, its answer
	# QEMU drops the queued commands of a connection that closes: keep it
	# open until the answer is in.
	{ printf '{"execute":"qmp_capabilities"}\n%s\n' "$1"; sleep 3; } |
		timeout 30 nc 127.0.0.1 $qport 2>/dev/null | grep -v '"QMP"\|"event"' |
		tail -n 1
}
# L1's CPU time by thread name (digits folded, so "vhost-1234" is
# "vhost-N"), in clock ticks, plus /proc/stat's idle, irq and softirq.
cpusnap() { # cpusnap FILE
	cat /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null | awk '{
		c = substr($0, index($0, "(") + 1)
		r = c
		sub(/\) [A-Za-z] .*/, "", c)
		sub(/.*\) /, "", r)
		n = split(r, f, " ")
		if (n < 13) next
		gsub(/[0-9]+/, "N", c)
		gsub(/ /, "_", c)
		t[c] += f[12] + f[13]
	} END { for (c in t) print c, t[c] }' >"$1"
	awk '$1 == "cpu" { print "[idle]", $5 + $6; print "[irq]", $7;
		print "[softirq]", $8 }' /proc/stat >>"$1"
}
cpuwhere() { # cpuwhere NAME FROM TO: the top of TO - FROM, in % of L1
	awk -v name="$1" -v cpus="$(nproc)" 'FNR == NR { a[$1] = $2; next }
		{ d[$1] = $2 - a[$1] }
		END {
			all = 0
			for (c in d) if (d[c] > 0) all += d[c]
			if (all == 0) exit
			line = ""
			n = 0
			while (n < 8) {
				best = ""
				for (c in d) if (d[c] > 0 && (best == "" || d[c] > d[best])) best = c
				if (best == "") break
				line = line sprintf(" %s %.0f%%", best, 100 * d[best] / all)
				d[best] = 0
				n++
			}
			printf "# %s: L1 CPU (%d CPUs, %.1f CPU-s):%s\n", name, cpus, all / 100, line
		}' "$2" "$3"
}
stat() { # stat NAME: a counter of vhost-stats, -1 if unread
	v=$(echo "$stats" | grep -o "\"$1\": [0-9]*" | head -n 1 | sed 's/.*: //')
	echo "${v:--1}"
}

run() { # run VHOST MODE [OPTIONS]
	vh=$1
	mode=$2
	opts=$3
	name="$vh/$mode${opts:+/$opts}"
	smp=1
	push=Y
	only=all
	pollus=0
	vfio=""
	mib=$mib0
	for o in $(echo "$opts" | tr ':' ' '); do
		case $o in
		nopush) push=N ;;
		smp2) smp=2 ;;
		net) only=net ;;
		poll[0-9]*) pollus=${o#poll} ;;
		vfio) vfio=yes ;;
		mib[0-9]*) mib=${o#mib} ;;
		*) echo "Bail out! unknown option $o"; exit 1 ;;
		esac
	done
	downfile "$mib"
	# QMP at 4444: a migration run before this one left qport at its
	# destination's 4445, and this QEMU would never be asked to quit.
	qport=4444
	if [ -n "$vfio" ] && ! vfiosetup; then
		notok "$name: the assigned NIC is ready in L1"
		return
	fi
	pom=/sys/module/vhost_iommu/parameters/push_on_map
	[ -w $pom ] && echo $push >$pom
	log=$work/$vh-$mode$opts.console
	trace=$work/$vh-$mode$opts.trace
	case $mode in
	strict) cmdline=iommu.strict=1 ;;
	passthrough) cmdline=iommu.passthrough=1 ;;
	*) echo "Bail out! unknown mode $mode"; exit 1 ;;
	esac
	iommu=virtio-iommu-pci,id=viommu
	[ "$vh" = on ] && iommu=$iommu,vhost=on
	[ "$vh" = on ] && [ "$pollus" != 0 ] && iommu=$iommu,poll-us=$pollus
	rm -f "$log" "$trace" $work/up $work/up.time $work/disk.img $work/qmp.out \
		$work/www/fetched $work/cpu.* $work/vs.up $work/vs.up.size \
		$work/vup $work/vup.time $work/www/vfio-fetched
	events=$work/events
	vfioargs=""
	blkaddr=""
	if [ -n "$vfio" ]; then
		events=$work/events.vfio
		{ cat $work/events; vfio_events; } >$events
		# rombar=0: L2 boots its kernel directly (-kernel), so no option
		# ROM; a fixed address, which l2-init is told: function 1 of
		# the disk's slot. Functions of one slot without ACS share an
		# IOMMU group, so a domain: when L2 removes the NIC and finds
		# it again, its ATTACH meets a domain with the disk's mappings,
		# which a vhost=on QEMU replays from the kernel to VFIO.
		vfioargs="-device vfio-pci,host=$vfio_bdf,rombar=0,addr=${vl2bdf#0000:00:},multifunction=on"
		blkaddr=",addr=${vl2bdf#0000:00:}"
		blkaddr="${blkaddr%.*}.0,multifunction=on"
		cmdline="$cmdline l2.vfio=$vl2bdf l2.vl1=$vl1ip l2.vip=$vl2ip l2.vmib=$vmib"
	fi
	# L2 sends over vsock first: listen before it boots.
	vlpid=""
	if [ $only != net ]; then
		./vsock-xfer listen 5000 $work/vs.up >$work/vs.up.size 2>&1 &
		vlpid=$!
	fi
	truncate -s 64M $work/disk.img
	echo "# run $name: L2 $mem MiB, $smp vCPU, $cmdline, $iommu${vfio:+, vfio-pci $vfio_bdf}, push_on_map $(cat $pom 2>/dev/null)"

	t0=$(date +%s)
	# shellcheck disable=SC2086
	timeout -s KILL "$tmo" "$qemu" -accel tcg -M q35 -m "$mem" -smp "$smp" \
		-nodefaults -display none -no-reboot -no-shutdown \
		-name l2,debug-threads=on -qmp tcp:127.0.0.1:4444,server=on,wait=off \
		-serial "file:$log" \
		-trace "events=$events,file=$trace" \
		-kernel bzImage -initrd l2-initrd.gz \
		-append "console=ttyS0 panic=-1 rdinit=/init $cmdline l2.l1=$l1ip l2.ip=$l2ip l2.mib=$mib l2.only=$only" \
		-device "$iommu" \
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on \
		-device virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on,romfile= \
		-device vhost-vsock-pci,guest-cid=3,iommu_platform=on,disable-legacy=on \
		-drive file=$work/disk.img,if=none,id=d0,format=raw \
		-device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on$blkaddr \
		$vfioargs </dev/null >$work/qemu.out 2>&1 &
	qpid=$!
	tapup tap0 $l1ip/24 $qpid
	[ -n "$vfio" ] && vfiophase
	# L1 to L2 runs from "netup" to "downtime"; L1's CPU is sampled at both
	# (0.2 s late at most) and around L1's fetch from L2.
	while kill -0 $qpid 2>/dev/null && ! grep -aq '^L2 netup' "$log" 2>/dev/null; do
		sleep 0.2
	done
	cpusnap $work/cpu.0
	while kill -0 $qpid 2>/dev/null && ! grep -aq '^L2 downtime' "$log" 2>/dev/null; do
		sleep 0.2
	done
	cpusnap $work/cpu.1
	# L2 to L1: L2 serves its file over HTTP, L1 fetches it and times it,
	# then tells L2 (which polls for it) that it may go on.
	while kill -0 $qpid 2>/dev/null && ! grep -aq '^L2 upready' "$log" 2>/dev/null; do
		sleep 1
	done
	if grep -aq '^L2 upready' "$log" 2>/dev/null; then
		cpusnap $work/cpu.2
		u0=$(cut -d' ' -f1 /proc/uptime)
		wget -q -O $work/up "http://$l2ip:8080/up"
		wrc=$?
		u1=$(cut -d' ' -f1 /proc/uptime)
		echo "$wrc $u0 $u1" >$work/up.time
		cpusnap $work/cpu.3
		: >$work/www/fetched
	fi
	# vsock, L1 to L2, once L2 listens.
	vsent=-
	if [ $only != net ]; then
		while kill -0 $qpid 2>/dev/null && ! grep -aqE '^L2 (vsockready|done)' "$log" 2>/dev/null; do
			sleep 1
		done
		grep -aq '^L2 vsockready' "$log" 2>/dev/null &&
			vsent=$(timeout 300 ./vsock-xfer send 3 5001 $work/vs.down)
	fi
	# L2 powers off; QEMU stays (-no-shutdown) until asked for what it
	# saw, then quits.
	while kill -0 $qpid 2>/dev/null && ! grep -aq '^L2 done' "$log" 2>/dev/null; do
		sleep 1
	done
	i=0
	while kill -0 $qpid 2>/dev/null && [ $i -lt 120 ]; do
		qmp '{"execute":"query-status"}' | grep -q '"status": *"shutdown"' && break
		sleep 1
		i=$((i + 1))
	done
	stats=""
	if [ "$vh" = on ]; then
		stats=$(qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/viommu/virtio-backend","property":"vhost-stats"}}' | grep '"return"')
		echo "$stats" >$work/qmp.out
	fi
	qmp '{"execute":"quit"}' >/dev/null
	wait $qpid
	qrc=$?
	t1=$(date +%s)
	sed 's/^/# qemu: /' $work/qemu.out
	tr -d '\r' <"$log" >"$log.txt"
	log=$log.txt

	check "$name: QEMU exits 0" "exit $qrc, $((t1 - t0)) s" [ "$qrc" = 0 ]
	init=$(l2val init)
	check "$name: L2 reaches init" "at ${init:-never} s (L2 clock)" [ -n "$init" ]
	n=$(l2val groups)
	check "$name: L2 has IOMMU groups" "${n:-0} groups" [ "${n:-0}" -gt 0 ]
	grep -a '^L2 device ' "$log" | sed 's/^/# /'
	# Every virtio device but the IOMMU (1057) is in a group.
	nogroup=$(grep -a '^L2 device ' "$log" | awk '$4 != "0x1057" && $6 == "-"' | wc -l)
	check "$name: every endpoint is in a group" "" [ "$nogroup" = 0 ]
	case $mode in
	strict) want=DMA ;;
	passthrough) want=identity ;;
	esac
	bad=$(grep -a '^L2 device ' "$log" | awk -v w=$want '$4 != "0x1057" && $8 != w' | wc -l)
	check "$name: the groups are $want domains" "" [ "$bad" = 0 ]
	check "$name: L2 pings L1" "" [ "$(l2val ping)" = ok ]
	set -- $(l2val down)
	downrate=$(rate "${3:-0}" "${4:-0}")
	check "$name: $mib MiB L1 -> L2, checksum" "${1:-none} vs $downsum, $downrate MiB/s" \
		[ "${1:-}" = "$downsum" ]
	[ "${1:-}" = "$downsum" ] || downrate=-
	[ $# -ge 4 ] && echo "# $name: L1 -> L2 $(secs "$3" "$4") s"
	cpuwhere "$name: L1 -> L2" $work/cpu.0 $work/cpu.1
	set -- $(l2val upready)
	upsum=${1:-none}
	got=$(md5sum 2>/dev/null <$work/up | cut -d' ' -f1)
	set -- $(cat $work/up.time 2>/dev/null)
	uprate=$(rate "${2:-0}" "${3:-0}")
	upok=no
	[ "$upsum" = "${got:-none}" ] && [ "${1:-1}" = 0 ] && upok=yes
	check "$name: $mib MiB L2 -> L1, checksum" "$upsum vs ${got:-none}, $uprate MiB/s" \
		[ $upok = yes ]
	[ $upok = yes ] || uprate=-
	[ $# -ge 3 ] && echo "# $name: L2 -> L1 $(secs "$2" "$3") s"
	[ -e $work/cpu.3 ] && cpuwhere "$name: L2 -> L1" $work/cpu.2 $work/cpu.3
	misses=$(tcount 'vhost_iotlb_miss.* step 1' "$trace")
	qmaps=$(tcount '(^|:)virtio_iommu_map ' "$trace")
	qunmaps=$(tcount '(^|:)virtio_iommu_unmap ' "$trace")
	[ -n "$vfio" ] && vfiochecks
	[ $only = net ] || checkvsock
	[ $only = net ] || checkdisk
	check "$name: L2 shuts down" "at $(l2val done) s" [ -n "$(l2val done)" ]
	echo "# $name: QEMU trace: ${misses:-0} vhost IOTLB misses answered in QEMU," \
		"${qmaps:-0} MAP, ${qunmaps:-0} UNMAP," \
		"$(grep -cE '(^|:)virtio_iommu_attach ' "$trace" 2>/dev/null) ATTACH," \
		"$(grep -cE '(^|:)virtio_iommu_report_fault ' "$trace" 2>/dev/null) faults executed in QEMU"
	summary="name=$name mib=$mib down=$downrate up=$uprate qemu-misses=${misses:-0}"
	summary="$summary qemu-map=${qmaps:-0} qemu-unmap=${qunmaps:-0}"
	[ -n "$vfio" ] && summary="$summary vfio-down=$vdownrate vfio-up=$vuprate vfio-map=$vmaps vfio-unmap=$vunmaps"
	[ -n "$vfio" ] && [ "$vh" = on ] &&
		summary="$summary reports=$rrecs report-map=$rmaps report-unmap=$runmaps replayed=$replayed"
	if [ "$vh" = on ]; then
		echo "# $name: vhost-stats: $stats"
		check "$name: vhost-stats readable" "" [ -n "$stats" ]
		for k in attach detach map unmap probe ok iotlb-misses iotlb-served \
			iotlb-updates iotlb-invalidations qemu-translations faults; do
			summary="$summary kernel-$k=$(stat $k)"
		done
		checkkernel
	fi
	echo "# summary $summary"
	grep -a -i -E 'iommu|error|fail|warn' "$log" | grep -av '^L2 ' | head -n 20 | sed 's/^/# L2: /'
}

# The migration run (RUN on:strict:migrate): L2 boots on a source QEMU
# (tap0) and, while it writes and reads back its disk round after round,
# moves to a destination QEMU (tap1, -incoming) over a unix socket; L1
# moves its address to tap1 and tells L2, which then runs the two
# transfers on the destination. The kernel's state travels in the device's
# stream; the destination saves it again and compares (the trace event
# virtio_iommu_vhost_state_check): the mappings must be identical. No
# vsock device: both QEMUs would claim guest CID 3 at once.
waitfor() { # waitfor REGEX FILE PID SECONDS: until FILE has a line, PID exits or time is up
	w_i=0
	while kill -0 "$3" 2>/dev/null && [ $w_i -lt "$4" ] &&
			! grep -aqE "$1" "$2" 2>/dev/null; do
		sleep 1
		w_i=$((w_i + 1))
	done
}
migrun() { # migrun VHOST MODE
	vh=$1
	name="$1/$2/migrate"
	mib=$mib0
	downfile "$mib"
	case $2 in
	strict) cmdline=iommu.strict=1 ;;
	*) cmdline=iommu.passthrough=1 ;;
	esac
	iommu=virtio-iommu-pci,id=viommu
	[ "$1" = on ] && iommu=$iommu,vhost=on
	slog=$work/mig-src.console
	dlog=$work/mig-dst.console
	strace=$work/mig-src.trace
	dtrace=$work/mig-dst.trace
	rm -f $slog $dlog $strace $dtrace $work/mig.sock $work/up $work/up.time \
		$work/www/fetched $work/www/migrated $work/disk.img
	printf '%s\n' 'virtio_iommu_vhost_state*' virtio_iommu_vhost_start \
		virtio_iommu_vhost_stop virtio_iommu_vhost_bind >$work/mig-events
	truncate -s 64M $work/disk.img
	echo "# run $name: L2 $mem MiB, 1 vCPU, $cmdline, $iommu"
	t0=$(date +%s)
	for side in src dst; do
		if [ $side = src ]; then
			tap=tap0 port=4444 slg=$slog trc=$strace inc=""
		else
			tap=tap1 port=4445 slg=$dlog trc=$dtrace inc="-incoming unix:$work/mig.sock"
		fi
		# shellcheck disable=SC2086
		timeout -s KILL "$tmo" "$qemu" -accel tcg -M q35 -m "$mem" -smp 1 \
			-nodefaults -display none -no-reboot -no-shutdown \
			-name l2-$side,debug-threads=on \
			-qmp tcp:127.0.0.1:$port,server=on,wait=off \
			-serial "file:$slg" \
			-trace "events=$work/mig-events,file=$trc" \
			-kernel bzImage -initrd l2-initrd.gz \
			-append "console=ttyS0 panic=-1 rdinit=/init $cmdline l2.l1=$l1ip l2.ip=$l2ip l2.mib=$mib l2.only=migrate" \
			-device "$iommu" \
			-netdev tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=on \
			-device virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on,romfile= \
			-drive file=$work/disk.img,if=none,id=d0,format=raw \
			-device virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on \
			$inc </dev/null >$work/qemu-$side.out 2>&1 &
		eval "${side}pid=\$!"
	done
	tapup tap0 $l1ip/24 $srcpid
	while kill -0 $srcpid 2>/dev/null && ! grep -aq '^L2 migready' $slog 2>/dev/null; do
		sleep 1
	done
	# A few disk rounds on the source first.
	sleep 5
	qport=4444
	qmp '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":1073741824,"downtime-limit":2000}}' >/dev/null
	m0=$(date +%s)
	mstart=$(qmp "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$work/mig.sock\"}}")
	mstatus=none
	i=0
	while [ $i -lt 600 ] && kill -0 $srcpid 2>/dev/null; do
		mstatus=$(qmp '{"execute":"query-migrate"}' | grep -o '"status": *"[a-z-]*"' | head -n 1 | sed 's/.*"\([a-z-]*\)"$/\1/')
		case $mstatus in completed|failed|cancelled) break ;; esac
		sleep 2
		i=$((i + 2))
	done
	m1=$(date +%s)
	minfo=$(qmp '{"execute":"query-migrate"}')
	# L1's end of the wire moves to the destination's tap, with its MAC
	# address: L2's neighbour entry for L1 stays right.
	mac=$(cat /sys/class/net/tap0/address)
	ip link set tap0 down 2>/dev/null
	ip addr del $l1ip/24 dev tap0 2>/dev/null
	ip link set tap1 address "$mac" 2>/dev/null
	ip addr add $l1ip/24 dev tap1 2>/dev/null
	ip link set tap1 up 2>/dev/null
	qmp '{"execute":"quit"}' >/dev/null
	wait $srcpid
	src_rc=$?
	qport=4445
	# A disk round on the destination before L2 hears that it moved.
	waitfor '^L2 round ' $dlog $dstpid 120
	: >$work/www/migrated
	# Bounded: a guest stuck on the destination is a failure, not a hang.
	waitfor '^L2 (upready|done)' $dlog $dstpid 300
	if grep -aq '^L2 upready' $dlog 2>/dev/null; then
		wget -q -O $work/up "http://$l2ip:8080/up"
		echo "$?" >$work/up.time
		: >$work/www/fetched
	fi
	waitfor '^L2 done' $dlog $dstpid 300
	i=0
	while kill -0 $dstpid 2>/dev/null && [ $i -lt 120 ] &&
			grep -aq '^L2 done' $dlog 2>/dev/null; do
		qmp '{"execute":"query-status"}' | grep -q '"status": *"shutdown"' && break
		sleep 1
		i=$((i + 1))
	done
	stats=""
	[ "$vh" = on ] && stats=$(qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/viommu/virtio-backend","property":"vhost-stats"}}' | grep '"return"')
	qmp '{"execute":"quit"}' >/dev/null
	wait $dstpid
	dst_rc=$?
	t1=$(date +%s)
	sed 's/^/# qemu src: /' $work/qemu-src.out
	sed 's/^/# qemu dst: /' $work/qemu-dst.out
	tr -d '\r' <$slog >$work/mig.console.txt
	tr -d '\r' <$dlog >>$work/mig.console.txt
	log=$work/mig.console.txt
	tr -d '\r' <$slog | grep -av '^\[' | tail -n 8 | sed 's/^/# source L2: /'
	tr -d '\r' <$dlog | tail -n 15 | sed 's/^/# destination L2: /'

	echo "# $name: migrate: $mstart; $minfo"
	check "$name: migration completed" "$mstatus after $((m1 - m0)) s" [ "$mstatus" = completed ]
	check "$name: source QEMU exits 0" "exit $src_rc" [ "$src_rc" = 0 ]
	check "$name: destination QEMU exits 0" "exit $dst_rc, $((t1 - t0)) s in all" [ "$dst_rc" = 0 ]
	set -- $(l2val migrated)
	check "$name: disk rounds across the migration, all read back" \
		"${1:-0} rounds ok, ${2:-?} bad" [ "${1:-0}" -gt 0 -a "${2:-1}" = 0 ]
	# Rounds ran on both sides: the disk's DMA went on through the move.
	nsrc=$(tr -d '\r' <$slog | grep -ac '^L2 round ')
	ndst=$(tr -d '\r' <$dlog | grep -ac '^L2 round ')
	check "$name: disk rounds on the source and on the destination" \
		"$nsrc and $ndst" [ "$nsrc" -gt 0 -a "$ndst" -gt 0 ]
	set -- $(l2val down)
	check "$name: $mib MiB L1 -> L2 on the destination, checksum" "${1:-none} vs $downsum" \
		[ "${1:-}" = "$downsum" ]
	set -- $(l2val upready)
	got=$(md5sum 2>/dev/null <$work/up | cut -d' ' -f1)
	check "$name: $mib MiB L2 -> L1 on the destination, checksum" \
		"${1:-none} vs ${got:-none}, wget $(cat $work/up.time 2>/dev/null)" \
		[ "${1:-none}" = "${got:-}" -a "$(cat $work/up.time 2>/dev/null)" = 0 ]
	check "$name: L2 shuts down on the destination" "at $(l2val done) s" [ -n "$(l2val done)" ]
	[ "$vh" = on ] || return 0
	sed 's/^/# src trace: /' $strace 2>/dev/null | head -n 5
	sed 's/^/# dst trace: /' $dtrace 2>/dev/null | head -n 5
	saved=$(grep -ao 'save len=[0-9]* crc=0x[0-9a-f]*' $strace 2>/dev/null | tail -n 1 | sed 's/^save //')
	loaded=$(grep -ao 'load len=[0-9]* crc=0x[0-9a-f]*' $dtrace 2>/dev/null | tail -n 1 | sed 's/^load //')
	same=$(grep -ao 'same=[01]' $dtrace 2>/dev/null | tail -n 1)
	check "$name: the kernel's state saved and loaded" "saved ${saved:-none}, loaded ${loaded:-none}" \
		[ -n "$saved" -a "$saved" = "$loaded" ]
	check "$name: the destination's kernel state is the source's" "${same:-no check}" \
		[ "$same" = same=1 ]
	echo "# $name: destination vhost-stats: $stats"
	check "$name: requests in the destination's kernel, all OK" \
		"map $(stat map) unmap $(stat unmap) ok $(stat ok)" \
		[ "$(stat map)" -gt 0 -a "$(stat ok)" = "$(( $(stat attach) + $(stat detach) + $(stat map) + $(stat unmap) + $(stat probe) ))" ]
	check "$name: every vhost-net miss served in the destination's kernel" \
		"misses $(stat iotlb-misses) served $(stat iotlb-served)" \
		sh -c '[ "$1" -ge 0 ] && [ "$1" = "$2" ]' - "$(stat iotlb-misses)" "$(stat iotlb-served)"
}

# The ":vfio" runs. Once per boot: L1's IOMMU, the NIC to vfio-pci,
# L1's end of its wire and the file L2 fetches over it (vfio.sh).
vfiostate=""
vfiosetup() {
	if [ -z "$vfiostate" ]; then
		vfiostate=bad
		vfio_l1_iommu "vfio: " && vfio_l1_bind "vfio: " &&
			vfio_l1_wire "vfio: " $vl1ip/24 && vfiostate=ready
		dd if=/dev/urandom of=$work/www/vfio-down bs=1M count="$vmib" 2>/dev/null
		vfdownsum=$(md5sum <$work/www/vfio-down | cut -d' ' -f1)
	fi
	[ "$vfiostate" = ready ]
}
# L2 moves its data over the assigned NIC first: L1 fetches L2's file
# from L2's address on that wire once L2 serves it, then says so.
vfiophase() {
	waitfor '^L2 (vfio-upready|netup|done)' "$log" $qpid "$tmo"
	grep -aq '^L2 vfio-upready' "$log" 2>/dev/null || return 0
	u0=$(cut -d' ' -f1 /proc/uptime)
	wget -q -O $work/vup "http://$vl2ip:8080/vfio-up"
	wrc=$?
	echo "$wrc $u0 $(cut -d' ' -f1 /proc/uptime)" >$work/vup.time
	: >$work/www/vfio-fetched
}
# What L2 saw of the assigned NIC and what reached VFIO. Under vhost=off
# QEMU's virtio-iommu executes the guest's MAP and UNMAP and notifies
# them (virtio_iommu_notify_map/_unmap) to VFIO, whose listener maps
# them into L1's IOMMU (vfio_iommu_map_notify, then VFIO_IOMMU_MAP_DMA:
# a failed one is a "vfio_dma_map" error on QEMU's stderr). Under
# vhost=on (patch 0007) the kernel executes them and reports those of
# the assigned NIC's domain on the report channel; QEMU applies each
# record to its own domains with the same handlers (so the same
# notifications follow) and answers with their status
# (virtio_iommu_vhost_report ... status=N, type 1 ATTACH, 2 DETACH, 3 MAP,
# 4 UNMAP); an ATTACH to a domain QEMU has no mappings of replays the
# kernel's (virtio_iommu_vhost_replay ... mappings=N).
vfiochecks() {
	set -- $(l2val vfio-nic)
	check "$name: the assigned NIC is in an IOMMU group of type DMA" "$*" \
		[ "${4:--}" != - -a "${6:-}" = DMA ]
	check "$name: L2 pings L1 over the assigned NIC" "$(l2val vfio-ping)" \
		[ "$(l2val vfio-ping)" = ok ]
	set -- $(l2val vfio-down)
	vdownrate=$(rate "${3:-0}" "${4:-0}" "$vmib")
	check "$name: $vmib MiB L1 -> L2 over the assigned NIC, checksum" \
		"${1:-none} vs $vfdownsum, $vdownrate MiB/s" [ "${1:-}" = "$vfdownsum" ]
	[ "${1:-}" = "$vfdownsum" ] || vdownrate=-
	set -- $(l2val vfio-upready)
	vupsum=${1:-none}
	got=$(md5sum 2>/dev/null <$work/vup | cut -d' ' -f1)
	set -- $(cat $work/vup.time 2>/dev/null)
	vuprate=$(rate "${2:-0}" "${3:-0}" "$vmib")
	vok=no
	[ "$vupsum" = "${got:-none}" ] && [ "${1:-1}" = 0 ] && vok=yes
	check "$name: $vmib MiB L2 -> L1 over the assigned NIC, checksum" \
		"$vupsum vs ${got:-none}, $vuprate MiB/s" [ $vok = yes ]
	[ $vok = yes ] || vuprate=-
	check "$name: the assigned NIC shares its IOMMU group with the disk" \
		"$(l2val vfio-group)" contains "$(l2val vfio-group)" "${vl2bdf%.*}.0"
	check "$name: L2 pings L1 over the assigned NIC after its removal and rescan" \
		"$(l2val vfio-rescan)" [ "$(l2val vfio-rescan)" = ok ]
	check "$name: L2 unbinds the assigned NIC's driver" "$(l2val vfio-unbind)" \
		contains "$(l2val vfio-unbind)" ok
	nmaps=$(tcount '(^|:)virtio_iommu_notify_map ' "$trace")
	nunmaps=$(tcount '(^|:)virtio_iommu_notify_unmap ' "$trace")
	vmaps=$(tcount 'vfio_iommu_map_notify iommu MAP ' "$trace")
	vunmaps=$(tcount 'vfio_iommu_map_notify iommu UNMAP ' "$trace")
	verrs=$(grep -c 'vfio_dma_map\|vfio_dma_unmap\|vfio.*error' $work/qemu.out)
	echo "# $name: QEMU trace: notified ${nmaps} MAP, ${nunmaps} UNMAP;" \
		"VFIO mapped ${vmaps}, unmapped ${vunmaps}; ${verrs} VFIO errors"
	grep -E 'vfio_listener_region_add_iommu|set_page_size_mask' "$trace" 2>/dev/null |
		head -n 3 | sed "s|^|# $name: trace: |"
	check "$name: the guest's MAPs reached VFIO" "notified $nmaps, VFIO mapped $vmaps" \
		[ "$nmaps" -gt 0 -a "$vmaps" -gt 0 ]
	# (vhost=off: QEMU notifies vhost-net's UNMAP notifier too)
	check "$name: the guest's UNMAPs reached VFIO" "notified $nunmaps, VFIO unmapped $vunmaps" \
		[ "$nunmaps" -gt 0 -a "$vunmaps" -gt 0 ]
	check "$name: VFIO took every MAP and UNMAP" "$verrs errors on QEMU's stderr" [ "$verrs" = 0 ]
	dmar=$(dmesg | grep -c 'DMAR: \[DMA' || true)
	check "$name: no DMA remapping faults in L1" "$dmar" [ "$dmar" = 0 ]
	rrecs=0 rmaps=0 runmaps=0 rbad=0 replayed=0
	[ "$vh" = on ] || return 0
	rrecs=$(tcount '(^|:)virtio_iommu_vhost_report ' "$trace")
	rmaps=$(tcount '(^|:)virtio_iommu_vhost_report .* type=3 ' "$trace")
	runmaps=$(tcount '(^|:)virtio_iommu_vhost_report .* type=4 ' "$trace")
	ratt=$(tcount '(^|:)virtio_iommu_vhost_report .* type=1 ' "$trace")
	rbad=$(tcount '(^|:)virtio_iommu_vhost_report .* status=[1-9]' "$trace")
	replayed=$(grep -aoE '(^|:)virtio_iommu_vhost_replay .* mappings=[0-9]+' "$trace" 2>/dev/null |
		sed 's/.*mappings=//' | awk '{ n += $1 } END { print n + 0 }')
	echo "# $name: report channel: $rrecs records ($ratt ATTACH, $rmaps MAP, $runmaps UNMAP)," \
		"$rbad answered with a failure, $replayed mappings replayed;" \
		"vhost-stats reports $(stat reports), reports-failed $(stat reports-failed)"
	rdet=$(tcount '(^|:)virtio_iommu_vhost_report .* type=2 ' "$trace")
	check "$name: the kernel reported the assigned NIC's ATTACH, DETACH, MAP, UNMAP" \
		"$ratt ATTACH, $rdet DETACH, $rmaps MAP, $runmaps UNMAP" \
		[ "$ratt" -ge 2 -a "$rdet" -ge 1 -a "$rmaps" -gt 0 -a "$runmaps" -gt 0 ]
	check "$name: the rescan's ATTACH replayed the domain's mappings to VFIO" \
		"$replayed mappings replayed" [ "$replayed" -gt 0 ]
	check "$name: QEMU answered every record, all OK" \
		"$rrecs traced, $rbad failed; vhost-stats reports $(stat reports) failed $(stat reports-failed)" \
		[ "$rbad" = 0 -a "$(stat reports)" = "$rrecs" -a "$(stat reports-failed)" = 0 ]
	check "$name: QEMU executed only the reported MAP/UNMAP and the replay" \
		"QEMU: $qmaps MAP, $qunmaps UNMAP; records: $rmaps MAP + $replayed replayed, $runmaps UNMAP" \
		[ "$qmaps" = $((rmaps + replayed)) -a "$qunmaps" = "$runmaps" ]
}

# vsock both ways (not in "net" runs): L1 kills its listener if L2 never
# connected.
checkvsock() {
	[ -n "$vlpid" ] && kill "$vlpid" 2>/dev/null
	[ -n "$vlpid" ] && wait "$vlpid" 2>/dev/null
	set -- $(l2val vsockup)
	got=$(md5sum <$work/vs.up 2>/dev/null | cut -d' ' -f1)
	vok=no
	[ -n "${1:-}" ] && [ "$1" = "${got:-}" ] && [ "${2:-}" = 4194304 ] && vok=yes
	check "$name: vsock 4 MiB L2 -> L1, checksum" \
		"${1:-none} vs ${got:-none}, $(cat $work/vs.up.size 2>/dev/null) bytes" \
		[ $vok = yes ]
	set -- $(l2val vsockdown)
	vok=no
	[ "${1:-}" = "$vdownsum" ] && [ "${2:-}" = 4194304 ] && vok=yes
	check "$name: vsock 4 MiB L1 -> L2, checksum" \
		"${1:-none} vs $vdownsum, sent $vsent" [ $vok = yes ]
}

# The disk and the NIC's removal (not in "net" runs).
checkdisk() {
	set -- $(l2val blk)
	disk=$(dd if=$work/disk.img bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1)
	blk=no
	[ -n "${1:-}" ] && [ "$1" = "${2:-}" ] && [ "$1" = "$disk" ] && blk=yes
	check "$name: virtio-blk written and read back" "${1:-none} read ${2:-none} image $disk" \
		[ $blk = yes ]
	set -- $(l2val rescan)
	check "$name: NIC removed and rescanned, L2 pings L1 again" "$*" [ "${1:-}" = ok ]
}

# What the kernel did in a vhost=on run.
checkkernel() {
	req=$(( $(stat attach) + $(stat detach) + $(stat map) + $(stat unmap) + $(stat probe) ))
	check "$name: requests executed in the kernel" \
		"attach $(stat attach) map $(stat map) unmap $(stat unmap) probe $(stat probe)" \
		[ "$req" -gt 0 ]
	# The NIC's removal sent a DETACH, its rescan an ATTACH and a PROBE.
	rescanned=no
	[ "$(stat detach)" -ge 1 ] && [ "$(stat attach)" -ge 3 ] &&
		[ "$(stat probe)" -ge 3 ] && rescanned=yes
	[ $only = net ] ||
		check "$name: the rescan's DETACH, ATTACH, PROBE in the kernel" \
			"detach $(stat detach) attach $(stat attach) probe $(stat probe)" \
			[ $rescanned = yes ]
	case $mode in
	strict) check "$name: MAP and UNMAP in the kernel" "" [ "$(stat map)" -gt 0 ] ;;
	passthrough) check "$name: no MAP in passthrough" "" [ "$(stat map)" = 0 ] ;;
	esac
	check "$name: every vhost-net miss served in the kernel" \
		"misses $(stat iotlb-misses) served $(stat iotlb-served) updates $(stat iotlb-updates)" \
		sh -c '[ "$1" -ge 0 ] && [ "$1" = "$2" ]' - "$(stat iotlb-misses)" "$(stat iotlb-served)"
	check "$name: QEMU answered 0 misses" "" [ "${misses:-0}" = 0 ]
	# With an assigned device QEMU applies the reported ones (vfiochecks).
	[ -n "$vfio" ] ||
		check "$name: QEMU executed 0 MAP/UNMAP" "" [ $((${qmaps:-0} + ${qunmaps:-0})) = 0 ]
	check "$name: 0 faults" "faults $(stat faults) dropped $(stat faults-dropped)" \
		[ "$(stat faults)/$(stat faults-dropped)" = 0/0 ]
	check "$name: requests all OK" "ok $(stat ok) inval $(stat inval) noent $(stat noent) range $(stat range)" \
		[ "$(( $(stat ok) ))" = "$req" ]
}

# Refused at startup, before any guest runs.
refused() { # refused NAME MESSAGE DEVICE...: QEMU fails with MESSAGE
	r_name=$1
	r_msg=$2
	shift 2
	r_out=$(timeout 60 "$qemu" -accel tcg -M q35 -nodefaults -display none \
		-S "$@" 2>&1 </dev/null)
	r_rc=$?
	check "refused: $r_name" "exit $r_rc: $(echo "$r_out" | tail -n 1)" \
		contains "$r_out" "$r_msg"
}
refused "poll-us without vhost=on" "vhostfd and poll-us need vhost=on" \
	-device virtio-iommu-pci,poll-us=50
refused "vhostfd without vhost=on" "vhostfd and poll-us need vhost=on" \
	-device virtio-iommu-pci,vhostfd=3

for r in "$@"; do
	vh=${r%%:*}
	rest=${r#*:}
	mode=${rest%%:*}
	opts=""
	[ "$rest" != "$mode" ] && opts=${rest#*:}
	if [ "$opts" = migrate ]; then
		migrun "$vh" "$mode"
	else
		run "$vh" "$mode" "$opts"
	fi
done
echo "# L1 kernel log, virtio/vhost lines:"
dmesg | grep -i -E 'vhost|virtio|tap0|iommu' | tail -n 20 | sed 's/^/# /'
[ "$fails" = 0 ]
