/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the vhost bridge (the IOTLB of bound vhost-net and
 * vhost-vsock devices).
 */
#ifndef _VHOST_IOMMU_BRIDGE_H
#define _VHOST_IOMMU_BRIDGE_H

#include <linux/atomic.h>
#include <linux/list.h>

#include "event.h"
#include "mem.h"
#include "missq.h"
#include "store.h"
#include "worker.h"

/* vhost devices bound to one vhost-iommu device */
#define VHOST_IOMMU_MAX_BOUND		1024

/**
 * struct vhost_iommu_bridges - the vhost devices bound to a device
 * @store: the domain store, whose lock also protects @list and the state
 *	of each binding
 * @mem: the memory table (translations handed out are owner addresses)
 * @worker: the device's worker, which serves the misses
 * @missq: the miss queue, for misses of VMM-managed domains
 * @events: fault reports, for misses that cannot be served
 * @list: the bindings (struct vhost_iommu_bridge.node); changed under the
 *	device mutex and the store lock, read under either
 * @nr: bindings; written under the device mutex, read locklessly
 * @resume: requeues the bindings that waited for room in @missq
 * @misses: misses read from bound devices
 * @served: misses answered with a translation
 * @updates: translations handed out
 * @invalidations: invalidations written
 * @errors: failed reads and writes of bound devices
 */
struct vhost_iommu_bridges {
	struct vhost_iommu_store *store;
	struct vhost_iommu_mem *mem;
	struct vhost_iommu_worker *worker;
	struct vhost_iommu_missq *missq;
	struct vhost_iommu_events *events;
	struct list_head list;
	unsigned int nr;
	struct vhost_iommu_work resume;
	atomic64_t misses;
	atomic64_t served;
	atomic64_t updates;
	atomic64_t invalidations;
	atomic64_t errors;
};

void vhost_iommu_bridges_init(struct vhost_iommu_bridges *bs,
			      struct vhost_iommu_store *store,
			      struct vhost_iommu_mem *mem,
			      struct vhost_iommu_worker *worker,
			      struct vhost_iommu_missq *missq,
			      struct vhost_iommu_events *events);
void vhost_iommu_bridges_room(void *arg);
int vhost_iommu_bind(struct vhost_iommu_bridges *bs, u32 endpoint, int fd);
int vhost_iommu_unbind(struct vhost_iommu_bridges *bs, u32 endpoint, int fd);
void vhost_iommu_unbind_endpoint(struct vhost_iommu_bridges *bs, u32 endpoint);
void vhost_iommu_unbind_all(struct vhost_iommu_bridges *bs);

#endif /* _VHOST_IOMMU_BRIDGE_H */
