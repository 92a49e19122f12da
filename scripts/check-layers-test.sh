#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: check-layers-test.sh
# The self-test of check-layers.sh: tiny C files compiled with gcc -c into a
# temporary directory, one directory per case, each with its own table. The
# check must pass a clean layering (calls and a data reference going down,
# objects outside the table ignored) and fail on an upward call, a
# same-layer call and a cycle, naming them.
set -eu

check=$(cd "$(dirname "$0")" && pwd)/check-layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# obj CASE NAME SOURCE: compile SOURCE into CASE/NAME.o
obj() {
	mkdir -p "$tmp/$1"
	printf '%s\n' "$3" >"$tmp/$1/$2.c"
	gcc -c -O2 -o "$tmp/$1/$2.o" "$tmp/$1/$2.c"
}

# table CASE "LAYER FILE"...: CASE/design.md, its "## Units" table between
# two other sections (whose rows must not be read)
# shellcheck disable=SC2016 # the backquotes are markdown
table() {
	c=$1; shift
	{
		printf '# design\n\n## Files\n| 9 | x | `out.c` | not a unit |\n\n'
		printf '## Units\n| layer | unit | file | responsibility |\n|---|---|---|---|\n'
		for row; do
			printf '| %s | %s | `%s.c` | test |\n' "${row% *}" "${row#* }" "${row#* }"
		done
		printf '\n## Locking\n| 0 | y | ignored.c | not a unit |\n'
	} >"$tmp/$c/design.md"
}

# expect CASE RC [-v] LINE...: the check exits with RC and prints each LINE
# (after -v: does not print it)
expect() {
	c=$1 rc=$2 got=0; shift 2
	"$check" -t "$tmp/$c/design.md" "$tmp/$c" >"$tmp/$c.out" 2>&1 || got=$?
	if [ "$got" != "$rc" ]; then
		echo "FAIL $c: exit $got, expected $rc"; failed=1
	fi
	want=1
	for line; do
		[ "$line" = -v ] && { want=0; continue; }
		if grep -qxF -- "$line" "$tmp/$c.out"; then has=1; else has=0; fi
		if [ "$has" != "$want" ]; then
			echo "FAIL $c: $([ "$want" = 1 ] || echo "un")expected line: $line"
			failed=1
		fi
	done
	[ "$failed" = 0 ] || { sed 's/^/  | /' "$tmp/$c.out"; exit 1; }
	echo "ok $c"
}

# Clean: top -> mid -> low, top -> low, mid reads low's variable; out.o
# (not in the table) and the module's link objects call upward: ignored.
obj clean low 'int low_var; int low_fn(void) { return low_var; }'
obj clean mid 'extern int low_var; int low_fn(void);
int mid_fn(void) { return low_fn() + low_var; }'
obj clean top 'int mid_fn(void); int low_fn(void);
int top_fn(void) { return mid_fn() + low_fn(); }'
obj clean out 'int top_fn(void); int out_fn(void) { return top_fn(); }'
cp "$tmp/clean/out.o" "$tmp/clean/vhost_iommu.o"
cp "$tmp/clean/out.o" "$tmp/clean/vhost_iommu.mod.o"
table clean "0 low" "1 mid" "2 top"
expect clean 0 "  1 mid.o -> 0 low.o: low_fn, low_var" \
	"  2 top.o -> 0 low.o: low_fn" "  2 top.o -> 1 mid.o: mid_fn" \
	"3 files, 3 edges, 3 of 3 file pairs linked" "layers: clean"

# (1) An upward call: low calls top, nothing calls back.
obj up low 'int top_fn(void); int low_fn(void) { return top_fn(); }'
obj up top 'int top_fn(void) { return 1; }'
table up "0 low" "1 top"
expect up 1 "upward call: low.o -> top.o (top_fn)" -v "layers: clean"

# (2) A same-layer call: a and b both in layer 0, a calls b.
obj same a 'int b_fn(void); int a_fn(void) { return b_fn(); }'
obj same b 'int b_fn(void) { return 2; }'
table same "0 a" "0 b"
expect same 1 "same-layer call: a.o -> b.o (b_fn)" -v "layers: clean"

# (3) A cycle: a calls b, b reads a's variable; and a three-file cycle
# c -> d -> e -> c beside it.
obj cycle a 'int a_var; int b_fn(void); int a_fn(void) { return b_fn(); }'
obj cycle b 'extern int a_var; int b_fn(void) { return a_var; }'
obj cycle c 'int d_fn(void); int c_fn(void) { return d_fn(); }'
obj cycle d 'int e_fn(void); int d_fn(void) { return e_fn(); }'
obj cycle e 'int c_fn(void); int e_fn(void) { return c_fn(); }'
table cycle "0 a" "1 b" "2 c" "3 d" "4 e"
expect cycle 1 "cycle: a.o -> b.o -> a.o (2 files strongly connected: a.o b.o)" \
	"cycle: c.o -> d.o -> e.o -> c.o (3 files strongly connected: c.o d.o e.o)" \
	"upward call: a.o -> b.o (b_fn)" -v "layers: clean"

# A table row without its object is an error, not a pass.
obj missing low 'int low_fn(void) { return 0; }'
table missing "0 low" "1 gone"
expect missing 2 -v "layers: clean"

echo "check-layers-test: all cases passed"
