#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The model demo, run inside the VM by 'make demo': what is loaded, then the
# guest-driver model moving frames through the stock vhost-net behind
# vhost-iommu (vhost_iommu_demo.c in the selftests directory).
echo "kernel: $(uname -r)"
echo "modules: $(lsmod | awk 'NR > 1 { printf "%s ", $1 }')"
./vhost_iommu_demo "${DEMO_FRAMES:-256}"
