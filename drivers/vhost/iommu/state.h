/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the saved state, for live migration.
 */
#ifndef _VHOST_IOMMU_STATE_H
#define _VHOST_IOMMU_STATE_H

#include <linux/vhost_iommu.h>

#include "event.h"
#include "ring.h"
#include "store.h"

/**
 * struct vhost_iommu_state_parts - what the saved state is made of
 * @store: the domain store
 * @vqs: the request and event queues (VHOST_IOMMU_VQ_MAX)
 * @events: the fault reports not yet posted
 */
struct vhost_iommu_state_parts {
	struct vhost_iommu_store *store;
	struct vhost_iommu_vq *vqs;
	struct vhost_iommu_events *events;
};

int vhost_iommu_state_save(const struct vhost_iommu_state_parts *p,
			   struct vhost_iommu_state *arg);
int vhost_iommu_state_load(const struct vhost_iommu_state_parts *p,
			   const struct vhost_iommu_state *arg);

#endif /* _VHOST_IOMMU_STATE_H */
