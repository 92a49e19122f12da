/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the event queue (fault reports to the guest).
 */
#ifndef _VHOST_IOMMU_EVENT_H
#define _VHOST_IOMMU_EVENT_H

#include <linux/atomic.h>
#include <linux/kfifo.h>
#include <linux/spinlock.h>
#include <linux/virtio_iommu.h>

#include "ring.h"
#include "worker.h"

/* Fault reports waiting for the worker. */
#define VHOST_IOMMU_FAULT_FIFO		64

/**
 * struct vhost_iommu_events - the fault reports of a device
 * @lock: protects @faults
 * @faults: reports for the worker to post
 * @work: posts @faults on @vq
 * @worker: the device's worker
 * @vq: the event queue
 * @posted: reports posted
 * @dropped: reports dropped
 */
struct vhost_iommu_events {
	spinlock_t lock; /* @faults */
	DECLARE_KFIFO(faults, struct virtio_iommu_fault, VHOST_IOMMU_FAULT_FIFO);
	struct vhost_iommu_work work;
	struct vhost_iommu_worker *worker;
	struct vhost_iommu_vq *vq;
	atomic64_t posted;
	atomic64_t dropped;
};

void vhost_iommu_events_init(struct vhost_iommu_events *ev,
			     struct vhost_iommu_worker *worker,
			     struct vhost_iommu_vq *vq);
void vhost_iommu_events_reset(struct vhost_iommu_events *ev);
void vhost_iommu_events_drop(struct vhost_iommu_events *ev);
unsigned int vhost_iommu_events_save(struct vhost_iommu_events *ev,
				     struct virtio_iommu_fault *out,
				     unsigned int max);
void vhost_iommu_events_load(struct vhost_iommu_events *ev,
			     const struct virtio_iommu_fault *f,
			     unsigned int n);
void vhost_iommu_report_fault(struct vhost_iommu_events *ev, u8 reason,
			      u32 flags, u32 endpoint, u64 address);

#endif /* _VHOST_IOMMU_EVENT_H */
