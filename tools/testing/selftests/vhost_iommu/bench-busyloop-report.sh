#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: bench-busyloop-report.sh RESULTS_LOG US
#
# The report of make bench-busyloop: for every figure of the vhost-iommu
# device (records whose config names it), the median with busy polling
# off (csv-L0) and on (csv-LUS) in each round, the ratio on / off per
# round, their geometric mean and spread ((max - min) / mean). Rounds ran
# in one VM boot, alternating, so the machine's load hits both sides.
set -eu

[ $# = 2 ] || { echo "usage: bench-busyloop-report.sh RESULTS_LOG US" >&2; exit 2; }
tr -d '\r' <"$1" | grep -a '^csv-L' | awk -F, -v us="$2" '
$5 !~ /vhost-iommu/ { next }
{
	l = substr($1, 6)
	key = $2 "," $3 "," $4 "," $5
	if (!(key in seen)) { seen[key] = 1; keys[nk++] = key }
	if (l == 0) off[key, ++noff[key]] = $7
	else if (l == us) on[key, ++non[key]] = $7
	unit[key] = $6
}
END {
	printf "%-58s %-6s %12s %12s %7s %7s\n", "figure (section, figure, row, config)",
		"unit", "off median", "on median", "on/off", "spread"
	for (k = 0; k < nk; k++) {
		key = keys[k]
		n = noff[key] < non[key] ? noff[key] : non[key]
		if (n == 0) continue
		g = 0; lo = hi = 0; mo = mn = 0
		for (i = 1; i <= n; i++) {
			if (off[key, i] + 0 == 0) { n = 0; break }
			r = on[key, i] / off[key, i]
			g += log(r)
			if (i == 1 || r < lo) lo = r
			if (i == 1 || r > hi) hi = r
			mo += off[key, i]; mn += on[key, i]
		}
		if (n == 0) continue
		g = exp(g / n)
		printf "%-58s %-6s %12.4g %12.4g %7.3f %6.0f%%\n", substr(key, 1, 58),
			unit[key], mo / n, mn / n, g, 100 * (hi - lo) / g
	}
	printf "(means of %s rounds; on/off is the geometric mean of the rounds'"'"' ratios)\n", n
}'
