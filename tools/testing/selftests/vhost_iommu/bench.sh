#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks of 'make bench', run inside the VM (one vCPU): bench_net
# (vhost-net TX behind vhost-iommu, the QEMU 7.2 baseline and no vIOMMU;
# miss latency; misses per 2 MiB mapping), then bench_requests (request
# throughput against batch size and live mappings, vhost-iommu and the
# baseline), then bench_mem (the memcg charge per live mapping). Their CSV
# records are turned into the table, CSV and JSON by bench-report.sh on the
# host. bench.env, written by 'make bench', holds the programs' arguments
# and the clock (icount: the VM's time counts instructions; wall). See
# Documentation/bench.md.
cd "$(dirname "$0")" || exit 1
net_args=""
requests_args="-u -r 5 -n 4096"
mem_args=""
clock=wall
[ -r bench.env ] && . ./bench.env
start=$(date +%s)
echo "# bench: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPU," \
	"push_on_map $(cat /sys/module/vhost_iommu/parameters/push_on_map 2>/dev/null || echo absent)," \
	"clock $clock"
echo "csv,meta,kernel,-,-,-,$(uname -r),,,"
echo "csv,meta,clock,-,-,-,$clock,,,"
# shellcheck disable=SC2086
./bench_net $net_args || exit 1
# shellcheck disable=SC2086
./bench_requests $requests_args || exit 1
# shellcheck disable=SC2086
./bench_mem $mem_args || exit 1
echo "csv,meta,vm_seconds,-,-,s,$(($(date +%s) - start)),,,"
