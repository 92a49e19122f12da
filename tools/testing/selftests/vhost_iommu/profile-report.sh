#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: profile-report.sh PROF_OUT RESULTS_LOG BINARY OUTDIR [TOP]
#
# Names the instruction counts prof_plugin.c wrote (PROF_OUT: lines
# "WINDOW ADDRESS COUNT") and adds them up per function: kernel addresses
# with the VM's /proc/kallsyms (sent by profile.sh on the results channel,
# RESULTS_LOG), user-space ones with the symbols of BINARY (the static
# bench_requests that ran in the windows; glibc included). Writes
# OUTDIR/profile.csv (window,device,batch,live,requests,function,where,
# instructions,per_request) and prints, for every batch size, vhost-iommu
# and the baseline side by side: instructions per request by part, then
# the TOP (default 15) functions.
#
# "where": [k] the kernel image, [NAME] module NAME, [vmm] the guest driver
# (vmm.c, vguest.c, vnet.c, bench_requests.c), [uiommu] the userspace
# model, [libc] the rest of the binary (glibc, statically linked, and its
# PLT), [user] the vDSO or an address no symbol covers.
set -eu

prof=$1
log=$2
bin=$3
out=$4
top=${5:-15}
mkdir -p "$out"

tr -d '\r' <"$log" | grep -a '^VHOST_IOMMU_VM_KSYM ' | cut -d' ' -f2 |
	base64 -d | gunzip >"$out/kallsyms" || {
	echo "profile-report: no kernel symbols in $log" >&2
	exit 1
}
tr -d '\r' <"$log" | grep -a '^prof,' >"$out/windows" || {
	echo "profile-report: no windows in $log" >&2
	exit 1
}
if grep -q 'never closed\|opened again' "$prof"; then
	grep 'never closed\|opened again' "$prof" >&2
	exit 1
fi

# Symbols as "ADDRESS S NAME WHERE", samples as "ADDRESS X COUNT WINDOW";
# sorted together (16 hex digits sort as numbers), every sample falls to
# the symbol before it. A user symbol ends at its size: past it, and past
# the last kernel symbol, an "[outside]" marker takes over.
{
	awk '$2 ~ /^[tTwW]$/ {
		where = NF >= 4 ? $4 : "[k]"
		printf "%s S %s %s\n", $1, $3, where
	}' "$out/kallsyms"
	echo "ffffffffffffffff S (outside) [k]"
	nm -n -S -l --defined-only "$bin" | awk '
	function hex(s,    i, v) {
		v = 0
		for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	$3 ~ /^[tTwW]$/ && NF >= 4 {
		where = "[libc]"
		if ($5 ~ /\/uiommu\.c:/)
			where = "[uiommu]"
		else if ($5 ~ /\/(vmm|vguest|vnet|bench_requests)\.c:/)
			where = "[vmm]"
		printf "%s S %s %s\n", $1, $4, where
		end = sprintf("%016x", hex($1) + hex($2))
		printf "%s S (outside) [user]\n", end
	}'
	echo "0000000000000000 S (outside) [user]"
	# The vDSO (clock_gettime()) sits at a random address near the stack.
	echo "00007f0000000000 S (vdso) [user]"
	readelf -SW "$bin" |
		sed -n 's/.*\] \.i\{0,1\}plt  *PROGBITS  *\([0-9a-f]*\) .*/\1 S (plt) [libc]/p'
	grep -v '^#' "$prof" | awk '{ printf "%s X %s %s\n", $2, $3, $1 }'
} | LC_ALL=C sort -k1,1 -k2,2 -s >"$out/merged"

# Per window and function: instructions. A function that ends where
# another starts at the same address keeps the last name sorted.
awk -v out="$out" '
FNR == 1 && FILENAME ~ /windows$/ { file = 1 }
FNR == 1 && FILENAME ~ /merged$/ { file = 2 }
file == 1 {
	split($0, f, ",")
	dev[f[2]] = f[3]; batch[f[2]] = f[4]; live[f[2]] = f[5]
	reqs[f[2]] = f[6]
	next
}
$2 == "S" { sym = $3; where = $4; next }
{
	key = $4 SUBSEP sym SUBSEP where
	if (!(key in n))
		keys[nk++] = key
	n[key] += $3
}
END {
	for (i = 0; i < nk; i++) {
		split(keys[i], k, SUBSEP)
		w = k[1]
		printf "%s,%s,%s,%s,%s,%s,%s,%d,%.1f\n", w, dev[w], batch[w],
			live[w], reqs[w], k[2], k[3], n[keys[i]],
			n[keys[i]] / reqs[w]
	}
}' "$out/windows" "$out/merged" | sort -t, -k1,1n -k8,8nr >"$out/body"
{
	echo "window,device,batch,live,requests,function,where,instructions,per_request"
	cat "$out/body"
} >"$out/profile.csv"
rm -f "$out/body" "$out/merged"

# The side-by-side tables: windows of the same batch size and live count.
awk -F, -v top="$top" '
FILENAME ~ /windows$/ { ns[$2] = $7; next }
FNR == 1 { next }
{
	w = $1
	if (!(w in dev)) {
		order[nw++] = w
		dev[w] = $2; batch[w] = $3; live[w] = $4; reqs[w] = $5
	}
	rank = ++cnt[w]
	fn[w, rank] = $6 " " $7
	per[w, rank] = $9
	tot[w] += $8
	part = $7
	parts[w, part] += $8
	if (!(part in seen)) {
		seen[part] = 1
		plist[np++] = part
	}
}
function line(f, p, n, t) {
	return sprintf("%-44s %7.0f %5.1f%%", substr(f, 1, 44), p, 100 * p * n / t)
}
END {
	for (i = 0; i < nw; i++) {
		a = order[i]
		if (done[a])
			continue
		b = ""
		for (j = i + 1; j < nw; j++)
			if (!done[order[j]] && batch[order[j]] == batch[a] &&
			    live[order[j]] == live[a]) {
				b = order[j]
				break
			}
		done[a] = 1
		if (b != "")
			done[b] = 1
		printf "\n== MAP+UNMAP, batch %s, %s live mappings: guest instructions per request ==\n",
			batch[a], live[a]
		printf "%-34s %12s", "", dev[a]
		if (b != "")
			printf " %12s", dev[b]
		printf "\n%-34s %12.0f", "guest time (ns, 1 per instruction)",
			ns[a] / reqs[a]
		if (b != "")
			printf " %12.0f", ns[b] / reqs[b]
		printf "\n%-34s %12.0f", "instructions counted", tot[a] / reqs[a]
		if (b != "")
			printf " %12.0f", tot[b] / reqs[b]
		printf "\n"
		for (p = 0; p < np; p++) {
			q = plist[p]
			if (!((a, q) in parts) && (b == "" || !((b, q) in parts)))
				continue
			printf "  %-32s %12.0f", q, parts[a, q] / reqs[a]
			if (b != "")
				printf " %12.0f", parts[b, q] / reqs[b]
			printf "\n"
		}
		printf "(%s requests in each window, in slices taking turns as in make bench;\n", reqs[a]
		printf " [k] kernel image, [vmm] guest driver, [uiommu] model, [libc] glibc)\n"
		printf "\n%3s %-44s %7s %6s", "#", dev[a] " function", "/req", "%"
		if (b != "")
			printf "   %-44s %7s %6s", dev[b] " function", "/req", "%"
		printf "\n"
		for (r = 1; r <= top; r++) {
			la = ""
			lb = ""
			if ((a, r) in fn)
				la = line(fn[a, r], per[a, r], reqs[a], tot[a])
			if (b != "" && (b, r) in fn)
				lb = line(fn[b, r], per[b, r], reqs[b], tot[b])
			printf "%3d %-59s   %s\n", r, la, lb
		}
	}
}' "$out/windows" "$out/profile.csv"
echo
echo "CSV: $out/profile.csv"
