#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the release of the kernel the tests boot: the one that the installed
# linux-headers-amd64 metapackage points at, when it has a matching image.
# Falls back to the newest release in /lib/modules with both an image and
# a build tree. Never hard-coded: Debian bumps the ABI number.

v=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
	sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p')
if [ -n "$v" ] && [ -e "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v/build" ]; then
	echo "$v"
	exit 0
fi
for d in $(ls -d /lib/modules/*/build 2>/dev/null | sort -rV); do
	v=$(basename "$(dirname "$d")")
	if [ -e "/boot/vmlinuz-$v" ]; then
		echo "$v"
		exit 0
	fi
done
exit 1
