#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs every selftest named in tests.list (inside the VM). A binary that
# dies before reporting every test of its plan, or exits non-zero without a
# failing test line, adds a "not ok" line of its own, so a crash is never
# counted as a pass.
cd "$(dirname "$0")" || exit 1
status=0
for t in $(cat tests.list); do
	echo "# selftest: $t"
	./"$t" >/tmp/$t.out 2>&1
	rc=$?
	cat /tmp/$t.out
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' /tmp/$t.out | head -n 1)
	got=$(grep -c -E '^(not )?ok ' /tmp/$t.out)
	bad=$(grep -c -E '^not ok ' /tmp/$t.out)
	if [ -z "$plan" ] || [ "$got" -lt "$plan" ]; then
		echo "not ok - $t: reported $got of ${plan:-?} tests, exit status $rc"
		status=1
	elif [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
		echo "not ok - $t: exit status $rc"
		status=1
	elif [ "$rc" != 0 ]; then
		status=1
	fi
done
exit $status
