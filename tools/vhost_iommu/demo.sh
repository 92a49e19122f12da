#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job, run inside the VM by 'make run': shows what is loaded.
echo "kernel: $(uname -r)"
echo "modules:"
lsmod | sed 's/^/  /'
echo "devices:"
ls -l /dev/vhost-* | sed 's/^/  /'
