#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: no-skip.sh COMMAND [ARGS...]   (inside the VM)
# Runs COMMAND (./run_tests.sh) with its output streamed, then fails when a
# test reported "ok ... # SKIP": for a tier that exists to run tests some
# kernels skip (make check-debug-612: fault injection), a skip is a failure.
# The verdict is a TAP line of its own, which run-vm.sh --tap counts.
out=/tmp/no-skip.out
{
	"$@"
	echo $? >/tmp/no-skip.rc
} 2>&1 | tee $out
rc=$(cat /tmp/no-skip.rc)
skips=$(grep -c -E '^ok .*# SKIP' $out)
if [ "$skips" != 0 ]; then
	echo "not ok - no-skip: $skips tests skipped:"
	grep -E '^# selftest: |^ok .*# SKIP' $out | sed 's/^/#   /'
	exit 1
fi
echo "ok - no-skip: no test skipped"
exit "$rc"
