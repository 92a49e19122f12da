/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the device IOTLB of VMM-managed domains.
 */
#ifndef _VHOST_IOMMU_IOTLB_H
#define _VHOST_IOMMU_IOTLB_H

#include <linux/vhost_iommu.h>

#include "missq.h"
#include "store.h"

int vhost_iommu_iotlb_attach(struct vhost_iommu_store *s,
			     const struct vhost_iommu_iotlb_attach *arg);
int vhost_iommu_iotlb_batch(struct vhost_iommu_store *s,
			    struct vhost_iommu_missq *q,
			    const struct vhost_iommu_iotlb_batch *arg,
			    bool update);

#endif /* _VHOST_IOMMU_IOTLB_H */
