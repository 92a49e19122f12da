#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: check-layers.sh [-t TABLE] [OBJDIR]
#
# The layering check of the module (issue 13): reads the "## Units" table of
# TABLE (default Documentation/design.md; columns | layer | unit | file |
# responsibility |, layer 0 lowest) and, from the object file of each file
# in it (OBJDIR/<file>.o, default OBJDIR drivers/vhost/iommu), the global
# symbols it defines and the undefined symbols it uses (nm). A used symbol
# defined by another listed file is an edge of the graph: a call, or a data
# reference such as a module parameter read elsewhere. Objects not in the
# table (vhost_iommu.o, *.mod.o) are not read.
#
# Prints the graph, then one line per violation:
#   upward call: ring.o -> bridge.o (vhost_iommu_bridge_x)
#   same-layer call: store.o -> mem.o (...)
#   cycle: a.o -> b.o -> a.o (2 files strongly connected: a.o b.o)
# Exit status: 0 clean, 1 violations, 2 usage, table or object errors.
set -eu

table=Documentation/design.md
while getopts t: opt; do
	case "$opt" in
	t) table=$OPTARG ;;
	*) echo "usage: $0 [-t TABLE] [OBJDIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
dir=${1:-drivers/vhost/iommu}

die() { echo "check-layers: $*" >&2; exit 2; }
[ -r "$table" ] || die "cannot read the table $table"
[ -d "$dir" ] || die "no directory $dir (build the module first: make modules)"

# The table's rows as "layer object", e.g. "1 ring.o": the rows of the
# "## Units" section (up to the next "## ") whose layer cell is a number.
rows=$(awk -F'|' '
	/^## / { in_units = ($0 ~ /^## Units[ \t]*$/); next }
	!in_units || !/^[ \t]*\|/ { next }
	{
		layer = $2; file = $4
		gsub(/[ \t`]/, "", layer); gsub(/[ \t`]/, "", file)
		if (layer !~ /^[0-9]+$/) next	# the header and |---| rows
		sub(/.*\//, "", file); sub(/\.c$/, "", file)
		if (file in seen) {
			print "check-layers: " file ".c is twice in the table" >"/dev/stderr"
			exit 2
		}
		seen[file] = 1; print layer, file ".o"
	}' "$table")
[ -n "$rows" ] || die "no \"## Units\" table with | layer | unit | file | rows in $table"

for f in "$dir"/*.o; do
	[ -e "$f" ] || continue
	o=${f##*/}
	case "$o" in vhost_iommu.o | *.mod.o) continue ;; esac
	echo "$rows" | awk -v o="$o" '$2 == o { found = 1 } END { exit !found }' ||
		echo "check-layers: not in the table, not checked: $f" >&2
done

# The input of the graph: "L layer object" per row, then "S object type
# symbol" per external symbol (nm -P -g: "name type [value size]").
input=""
while read -r layer o; do
	[ -f "$dir/$o" ] || die "no object $dir/$o for the table's row $o (build the module first: make modules)"
	syms=$(nm -P -g "$dir/$o") || die "nm failed on $dir/$o"
	input="$input
L $layer $o
$(printf '%s\n' "$syms" | awk -v o="$o" 'NF { print "S", o, $2, $1 }')"
done <<EOF
$rows
EOF

printf '%s\n' "$input" | awk '
$1 == "L" { layer[$3] = $2; file[++n] = $3; next }
# U, w and v are uses (w, v: weak undefined); any other upper case is a
# definition (T text, D/B data, R read-only, W/V weak, C common...).
$1 == "S" && ($3 == "U" || $3 == "w" || $3 == "v") { uses[$2] = uses[$2] " " $4; next }
$1 == "S" && $3 ~ /^[A-Z]$/ { def[$4] = def[$4] " " $2 }

# Tarjan: the strongly connected components of the graph, in comp[].
function strong(v,    j, w) {
	idx[v] = low[v] = ++count; stack[++sp] = v; on[v] = 1
	for (j = 1; j <= n; j++) {
		w = file[j]
		if (!((v, w) in syms)) continue
		if (!(w in idx)) {
			strong(w)
			if (low[w] < low[v]) low[v] = low[w]
		} else if (on[w] && idx[w] < low[v])
			low[v] = idx[w]
	}
	if (low[v] != idx[v]) return
	ncomp++
	do { w = stack[sp--]; on[w] = 0; comp[w] = ncomp } while (w != v)
}

# One cycle through s inside its component: a shortest path back to s.
function cycle(s,    q, head, tail, u, j, w, seen, from, path) {
	q[tail = 1] = s; seen[s] = 1
	for (head = 1; head <= tail; head++) {
		u = q[head]
		for (j = 1; j <= n; j++) {
			w = file[j]
			if (!((u, w) in syms) || comp[w] != comp[s]) continue
			if (w == s) {
				path = s
				for (; u != s; u = from[u]) path = u " -> " path
				return s " -> " path
			}
			if (!(w in seen)) { seen[w] = 1; from[w] = u; q[++tail] = w }
		}
	}
}

END {
	if (n == 0) exit 2
	# The edges: file -> file, with the symbols, in table order.
	for (i = 1; i <= n; i++) {
		f = file[i]
		k = split(uses[f], u, " ")
		for (j = 1; j <= k; j++) {
			m = split(def[u[j]], d, " ")
			for (l = 1; l <= m; l++) {
				if (d[l] == f) continue
				# (no "in" test here: mawk creates the element of the
				# left-hand side first)
				sep = ((f, d[l]) in syms) ? ", " : ""
				syms[f, d[l]] = syms[f, d[l]] sep u[j]
			}
		}
	}
	print "call graph (layer file -> layer file: symbols):"
	for (i = 1; i <= n; i++)
		for (j = 1; j <= n; j++)
			if ((file[i], file[j]) in syms) {
				edges++
				if (!((file[j], file[i]) in syms) || j > i) pairs++
				printf "  %d %s -> %d %s: %s\n", layer[file[i]], file[i],
					layer[file[j]], file[j], syms[file[i], file[j]]
			}
	printf "%d files, %d edges, %d of %d file pairs linked\n",
		n, edges, pairs, n * (n - 1) / 2

	bad = 0
	for (i = 1; i <= n; i++)
		for (j = 1; j <= n; j++) {
			f = file[i]; g = file[j]
			if (!((f, g) in syms) || layer[g] < layer[f]) continue
			kind = layer[g] > layer[f] ? "upward" : "same-layer"
			printf "%s call: %s -> %s (%s)\n", kind, f, g, syms[f, g]
			bad++
		}
	for (i = 1; i <= n; i++)
		if (!(file[i] in idx)) strong(file[i])
	for (c = 1; c <= ncomp; c++) {
		members = ""; size = 0
		for (i = 1; i <= n; i++)
			if (comp[file[i]] == c) {
				if (!size++) first = file[i]
				members = members " " file[i]
			}
		if (size < 2) continue
		printf "cycle: %s (%d files strongly connected:%s)\n",
			cycle(first), size, members
		bad++
	}
	if (bad) { print bad " layering violation(s)"; exit 1 }
	print "layers: clean"
}'
