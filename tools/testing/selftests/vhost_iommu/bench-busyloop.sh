#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench-busyloop, inside the VM (2 vCPUs, wall clock): busy polling
# of the request queue (VHOST_SET_VRING_BUSYLOOP_TIMEOUT) off and on, side
# by side. ROUNDS alternations of bench_requests (MAP+UNMAP through the
# request queue, batch 1/16/256, 10^3 live mappings) and bench_net (strict
# TX and the rest of its figures, the kernel guest), each run with -L 0
# then -L US. Every CSV record is tagged with the timeout it ran with
# ("csv-L0," or "csv-LUS,"); bench-busyloop-report.sh pairs them.
# busyloop.env, written by make bench-busyloop, sets US, ROUNDS and the
# programs' arguments.
cd "$(dirname "$0")" || exit 1
US=50
ROUNDS=3
requests_args="-r 1 -n 4096 -m 1000"
net_args="-r 1"
[ -r busyloop.env ] && . ./busyloop.env
echo "# bench-busyloop: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs," \
	"busyloop 0 and $US us, $ROUNDS rounds"
i=0
while [ $i -lt "$ROUNDS" ]; do
	for l in 0 "$US"; do
		# shellcheck disable=SC2086
		./bench_requests $requests_args -L "$l" | sed "s/^csv,/csv-L$l,/" || exit 1
		# shellcheck disable=SC2086
		./bench_net $net_args -L "$l" | sed "s/^csv,/csv-L$l,/" || exit 1
	done
	i=$((i + 1))
done
