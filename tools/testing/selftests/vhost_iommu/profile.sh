#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The profile of 'make profile', run inside the VM (one vCPU, under
# prof_plugin.c): bench_requests -P runs MAP+UNMAP requests on vhost-iommu
# and on the userspace baseline, each in a window of the plugin; then the
# kernel's and the modules' text symbols go to the host, gzip'd and in
# base64 on the results channel, on lines the log stream hides
# (VHOST_IOMMU_VM_KSYM), for profile-report.sh. profile.env, written by
# 'make profile', holds bench_requests' arguments.
cd "$(dirname "$0")" || exit 1
args="-u -P -b 256 -b 1 -n 4096"
[ -r profile.env ] && . ./profile.env
echo "# profile: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPU," \
	"push_on_map $(cat /sys/module/vhost_iommu/parameters/push_on_map 2>/dev/null || echo absent)"
# shellcheck disable=SC2086
./bench_requests $args || exit 1
n=$(grep -c -E ' [tTwW] ' /proc/kallsyms)
echo "# profile: $n text symbols to the host"
grep -E ' [tTwW] ' /proc/kallsyms | gzip -c | base64 |
	sed 's/^/VHOST_IOMMU_VM_KSYM /' >/dev/ttyS1
