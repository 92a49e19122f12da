# SPDX-License-Identifier: GPL-2.0
#
# The device set of the minimal qemu-system-x86_64 that `make qemu` builds
# (configure --without-default-devices --with-devices-x86_64=<this file>):
# a q35 machine, virtio over PCI, virtio-net, virtio-blk, virtio-iommu,
# vhost-vsock and vfio-pci (device assignment behind virtio-iommu).
# Q35 brings the ICH9 functions and the ISA serial port.

CONFIG_Q35=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_IOMMU=y
CONFIG_VHOST_VSOCK=y
CONFIG_VFIO_PCI=y
