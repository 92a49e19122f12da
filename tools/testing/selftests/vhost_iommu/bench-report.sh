#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: bench-report.sh RESULTS_LOG OUTDIR
#
# Turns the CSV records the benchmarks printed in the VM (lines
# "csv,section,figure,mode,config,unit,median,min,max,n" in the VM's
# results log) into OUTDIR/bench.csv and OUTDIR/bench.json, and prints
# them as a table. The last line printed names the JSON file.
#
# The spread of a figure is (max - min) / median over the rounds; a ratio
# (a figure named *ratio) whose spread exceeds 5% is flagged with "!" and
# counted at the end. OUTDIR/host_seconds, if there, is the VM run's host
# time; the VM's own run time is in instructions under icount.
set -eu

log=$1
out=$2
mkdir -p "$out"
csv=$out/bench.csv
json=$out/bench.json
commit=$(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo unknown)

tr -d '\r' <"$log" | grep -a '^csv,' | cut -d, -f2- >"$out/records" || true
if ! grep -q -v '^meta,' "$out/records"; then
	echo "bench-report: no figures in $log" >&2
	exit 1
fi

{
	echo "section,figure,mode,config,unit,median,min,max,n"
	grep -v '^meta,' "$out/records"
} >"$csv"

awk -F, -v commit="$commit" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
function num(x) { return (x == "n/a" || x == "") ? "null" : x + 0 }
function str(x) { gsub(/\\/, "\\\\", x); gsub(/"/, "\\\"", x); return "\"" x "\"" }
$1 == "meta" { meta[$2] = $6; next }
{ rec[n++] = $0 }
END {
	printf "{\n  \"commit\": %s,\n  \"date\": %s,\n", str(commit), str(date)
	printf "  \"kernel\": %s,\n", str(meta["kernel"])
	printf "  \"clock\": %s,\n", str(meta["clock"] == "" ? "wall" : meta["clock"])
	printf "  \"vm_seconds\": %s,\n", num(meta["vm_seconds"])
	printf "  \"figures\": [\n"
	for (i = 0; i < n; i++) {
		split(rec[i], f, ",")
		printf "    {\"section\": %s, \"figure\": %s, \"mode\": %s, \"config\": %s, \"unit\": %s, \"median\": %s, \"min\": %s, \"max\": %s, \"n\": %d}%s\n",
			str(f[1]), str(f[2]), str(f[3]), str(f[4]), str(f[5]),
			num(f[6]), num(f[7]), num(f[8]), f[9], i + 1 < n ? "," : ""
	}
	printf "  ]\n}\n"
}' "$out/records" >"$json"

# The table: one block per section, the spread is (max - min) / median.
awk -F, '
BEGIN {
	title["net"] = "vhost-net TX, 1514-byte frames"
	title["ratio"] = "throughput ratios (per round, then median)"
	title["miss_latency"] = "IOTLB miss latency (round trip with a miss minus a hit)"
	title["misses_2mib"] = "IOTLB misses to stream a 2 MiB mapping"
	title["unused"] = "MAP+UNMAP of a page vhost-net never touches (the cost of pushing)"
	title["requests"] = "MAP+UNMAP request throughput"
	title["memory"] = "kernel memory per live mapping (memcg charge)"
	nflag = 0
	nratio = 0
}
NR == 1 { next }
{
	if (!($1 in count))
		order[nsec++] = $1
	rec[$1, count[$1]++] = $0
}
END {
	for (s = 0; s < nsec; s++) {
		sec = order[s]
		printf "\n== %s ==\n", (sec in title) ? title[sec] : sec
		printf "%-14s %-26s %-40s %11s %11s %11s %7s %3s  %s\n", "figure",
			"mode", "config", "median", "min", "max", "spread", "n", "unit"
		for (i = 0; i < count[sec]; i++) {
			split(rec[sec, i], f, ",")
			flag = ""
			if (f[6] == "n/a") {
				spread = "-"
			} else if (f[6] + 0 != 0) {
				sp = 100 * (f[8] - f[7]) / f[6]
				spread = sprintf("%.1f%%", sp)
				if (f[2] ~ /ratio$/) {
					nratio++
					if (sp > 5) {
						flag = " !"
						nflag++
					}
				}
			} else {
				spread = "0%"
			}
			printf "%-14s %-26s %-40s %11s %11s %11s %7s %3s  %s%s\n", f[2],
				f[3], f[4], fmt(f[6]), fmt(f[7]), fmt(f[8]), spread,
				f[9], f[5], flag
		}
	}
}
END {
	if (nflag)
		printf "\n! %d of %d ratios have a spread above 5%%\n", nflag, nratio
	else if (nratio)
		printf "\nEvery ratio (%d) has a spread within 5%%\n", nratio
}
function fmt(x) {
	if (x == "n/a") return x
	x += 0
	if (x >= 1e6) return sprintf("%.3g", x)
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 1) return sprintf("%.2f", x)
	return sprintf("%.3f", x)
}' "$csv"

vmsec=$(grep '^meta,vm_seconds,' "$out/records" | cut -d, -f6 || true)
clock=$(grep '^meta,clock,' "$out/records" | cut -d, -f6 || true)
host=$(cat "$out/host_seconds" 2>/dev/null || true)
echo
if [ "$clock" = icount ]; then
	echo "Clock: icount (the VM's time counts its instructions, 1 ns each: us" \
		"are thousands of instructions)"
	echo "VM run: ${vmsec:-?} s of guest time, ${host:-?} s on the host;" \
		"commit $commit"
else
	echo "Clock: wall (host time)"
	echo "VM run: ${vmsec:-?} s; commit $commit"
fi
echo "CSV: $csv"
echo "JSON: $json"
