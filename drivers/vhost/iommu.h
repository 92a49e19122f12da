/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu internal definitions.
 */
#ifndef _DRIVERS_VHOST_IOMMU_H
#define _DRIVERS_VHOST_IOMMU_H

#include <linux/types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

/* Features this device offers: transport bits, then virtio-iommu bits. */
#define VHOST_IOMMU_FEATURES					\
	(BIT_ULL(VIRTIO_F_VERSION_1) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_PROBE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MMIO) |				\
	 BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG))

/**
 * struct vhost_iommu - one virtio-iommu device, one per open file
 */
struct vhost_iommu {
	int unused;
};

#endif /* _DRIVERS_VHOST_IOMMU_H */
