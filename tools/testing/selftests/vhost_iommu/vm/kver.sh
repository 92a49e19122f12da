#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# usage: kver.sh [SERIES]
# Print the release of the kernel the tests boot. Without SERIES: the one
# the installed linux-headers-amd64 metapackage points at (bookworm's 6.1).
# With SERIES (6.12): the one linux-headers-SERIES-amd64 points at. Either
# needs a matching image. Falls back to the newest release (of SERIES, if
# given) in /lib/modules with both an image and a build tree. Never
# hard-coded: Debian bumps the ABI number.

series=${1:-}
meta=linux-headers-amd64
[ -n "$series" ] && meta=linux-headers-$series-amd64

v=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null |
	sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p')
if [ -n "$v" ] && [ -e "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v/build" ]; then
	echo "$v"
	exit 0
fi
for d in $(ls -d /lib/modules/${series:+$series.}*/build 2>/dev/null | sort -rV); do
	v=$(basename "$(dirname "$d")")
	if [ -e "/boot/vmlinuz-$v" ]; then
		echo "$v"
		exit 0
	fi
done
exit 1
