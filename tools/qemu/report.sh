#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The report of make run and make bench-qemu: reads the "# summary" lines
# that tools/qemu/l1.sh prints, one per L2 run, from the results log of a
# check-qemu.sh boot, and prints
#   - per run: throughput each way and, for vhost=on, the requests the
#     kernel executed by type, the vhost-net misses it served, the
#     translations it pushed, and what QEMU still answered;
#   - per pair (a vhost=on run next to a vhost=off run of the same mode,
#     strict or passthrough, in the order they ran): vhost=on / vhost=off
#     throughput, each way;
#   - over the pairs of each mode: the geometric mean of those ratios, their
#     minimum and maximum, and the spread ((max - min) / mean);
#   - with passthrough runs of vhost=off: both strict paths' mean throughput
#     against it, the ceiling of any strict-mode gain.
#
# usage: report.sh RESULTS_LOG
# Exits 1 when a run has no throughput (a transfer failed) or no pair ran.
set -eu

[ $# = 1 ] || { echo "usage: report.sh RESULTS_LOG" >&2; exit 2; }
tr -d '\r' <"$1" | sed -n 's/^# summary //p' | awk '
function v(i, k) { return (i SUBSEP k) in val ? val[i, k] : "-" }
function ratio(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : a / b }
function stats(what, md, r, n,   i, g, lo, hi) {
	if (n == 0) return
	g = 0
	lo = hi = r[md, 1]
	for (i = 1; i <= n; i++) {
		g += log(r[md, i])
		if (r[md, i] < lo) lo = r[md, i]
		if (r[md, i] > hi) hi = r[md, i]
	}
	g = exp(g / n)
	printf "  %-8s %.2f (geometric mean of %d; min %.2f, max %.2f, spread %.0f%%)\n",
		what, g, n, lo, hi, 100 * (hi - lo) / g
}
{
	runs++
	for (i = 1; i <= NF; i++) {
		k = $i
		sub(/=.*/, "", k)
		x = $i
		sub(/^[^=]*=/, "", x)
		val[runs, k] = x
	}
	if (v(runs, "down") == "-" || v(runs, "up") == "-") bad++
}
END {
	if (runs == 0) { print "report: no run summary in the log"; exit 1 }
	print ""
	printf "%-24s %10s %10s   %s\n", "run", "L1->L2", "L2->L1", "(MiB/s, " v(1, "mib") " MiB each way)"
	for (i = 1; i <= runs; i++)
		printf "%-24s %10s %10s\n", v(i, "name"), v(i, "down"), v(i, "up")
	for (i = 1; i <= runs; i++) {
		if (v(i, "kernel-map") == "-") {
			printf "%s: QEMU answered %d vhost-net misses and executed %d MAP, %d UNMAP\n",
				v(i, "name"), v(i, "qemu-misses"), v(i, "qemu-map"), v(i, "qemu-unmap")
			continue
		}
		printf "%s: in the kernel: %d ATTACH, %d DETACH, %d MAP, %d UNMAP, %d PROBE (%d OK);\n",
			v(i, "name"), v(i, "kernel-attach"), v(i, "kernel-detach"), v(i, "kernel-map"),
			v(i, "kernel-unmap"), v(i, "kernel-probe"), v(i, "kernel-ok")
		printf "  %d of %d vhost-net misses served, %d translations pushed, %d invalidated, %d QEMU lookups, %d faults;\n",
			v(i, "kernel-iotlb-served"), v(i, "kernel-iotlb-misses"), v(i, "kernel-iotlb-updates"),
			v(i, "kernel-iotlb-invalidations"), v(i, "kernel-qemu-translations"), v(i, "kernel-faults")
		printf "  QEMU answered %d misses and executed %d MAP, %d UNMAP\n",
			v(i, "qemu-misses"), v(i, "qemu-map"), v(i, "qemu-unmap")
	}
	# Pairs: a run and the next one, of the same mode, one vhost=on and
	# one vhost=off (whose options may differ: poll, nopush).
	n = 0
	for (i = 1; i < runs; i++) {
		a = v(i, "name")
		b = v(i + 1, "name")
		split(a, pa, "/")
		split(b, pb, "/")
		if (pa[2] != pb[2]) continue
		if (a ~ /^on\// && b ~ /^off\//) { on = i; off = i + 1 }
		else if (a ~ /^off\// && b ~ /^on\//) { on = i + 1; off = i }
		else continue
		rd = ratio(v(on, "down"), v(off, "down"))
		ru = ratio(v(on, "up"), v(off, "up"))
		if (n == 0) print "\nvhost=on / vhost=off, each pair (runs in the order they ran):"
		n++
		printf "  pair %d (%s, %s): L1->L2 %s, L2->L1 %s\n", n, v(i, "name"), v(i + 1, "name"),
			rd == "-" ? "-" : sprintf("%.2f", rd), ru == "-" ? "-" : sprintf("%.2f", ru)
		md = pa[2]
		if (!(md in modes)) { modes[md] = 1; mlist[nm++] = md }
		if (rd != "-") down[md, ++nd[md]] = rd
		if (ru != "-") up[md, ++nu[md]] = ru
		if (rd != "-" && ru != "-") both[md, ++nb[md]] = sqrt(rd * ru)
		i++
	}
	if (n == 0) { print "report: no vhost=on / vhost=off pair"; exit 1 }
	for (k = 0; k < nm; k++) {
		md = mlist[k]
		printf "\nvhost=on / vhost=off throughput, %s:\n", md
		stats("L1->L2", md, down, nd[md])
		stats("L2->L1", md, up, nu[md])
		stats("both", md, both, nb[md])
	}
	# The ceiling: the guest with no IOMMU work at all (passthrough) against
	# both strict paths, means over the runs.
	for (i = 1; i <= runs; i++) {
		split(v(i, "name"), pn, "/")
		k = pn[1] "/" pn[2]
		for (d = 0; d < 2; d++) {
			x = v(i, d ? "up" : "down")
			if (x == "-") continue
			sum[k, d] += x
			cnt[k, d]++
		}
	}
	if (cnt["off/passthrough", 0] && cnt["off/strict", 0] && cnt["on/strict", 0]) {
		print "\nmean throughput against off/passthrough (the guest sends no MAP or UNMAP):"
		for (d = 0; d < 2; d++) {
			pt = sum["off/passthrough", d] / cnt["off/passthrough", d]
			printf "  %s: off/strict %.2f, on/strict %.2f\n", d ? "L2->L1" : "L1->L2",
				sum["off/strict", d] / cnt["off/strict", d] / pt,
				sum["on/strict", d] / cnt["on/strict", d] / pt
		}
	}
	if (bad) { printf "report: %d run(s) without a throughput\n", bad; exit 1 }
}'
