/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the device IOTLB's miss queue, read() by the VMM.
 */
#ifndef _VHOST_IOMMU_MISSQ_H
#define _VHOST_IOMMU_MISSQ_H

#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vhost_iommu.h>

/* Largest miss queue (module parameter iotlb_queue_len) */
#define VHOST_IOMMU_MISS_QUEUE_MAX	256

struct eventfd_ctx;

/**
 * struct vhost_iommu_missq - misses of VMM-managed domains for the VMM
 * @lock: protects every field below but the counters and @room
 * @recs: a ring of records
 * @head: index of the oldest record
 * @count: records queued
 * @reading: the oldest records being copied out by read(), which must not
 *	change
 * @full: the queue filled since the last read (flag of the next record)
 * @waiting: someone waits for room (vhost_iommu_missq_wait())
 * @notify: eventfd signalled when a record is queued, or NULL
 * @room: called, without @lock, when the queue has room for a waiter
 * @room_arg: its argument
 * @queued: records queued
 * @coalesced: misses merged into a queued record
 * @queue_full: times the queue filled
 */
struct vhost_iommu_missq {
	spinlock_t lock; /* the queue */
	struct vhost_iommu_iotlb_miss recs[VHOST_IOMMU_MISS_QUEUE_MAX];
	unsigned int head;
	unsigned int count;
	unsigned int reading;
	bool full;
	bool waiting;
	struct eventfd_ctx *notify;
	void (*room)(void *arg);
	void *room_arg;
	atomic64_t queued;
	atomic64_t coalesced;
	atomic64_t queue_full;
};

void vhost_iommu_missq_init(struct vhost_iommu_missq *q,
			    void (*room)(void *arg), void *room_arg);
bool vhost_iommu_missq_is_full(struct vhost_iommu_missq *q);
bool vhost_iommu_missq_wait(struct vhost_iommu_missq *q);
void vhost_iommu_missq_add(struct vhost_iommu_missq *q, u32 endpoint,
			   u32 domain, u64 iova, u32 access);
void vhost_iommu_missq_answered(struct vhost_iommu_missq *q, u32 domain,
				u64 first, u64 last);
ssize_t vhost_iommu_missq_read(struct vhost_iommu_missq *q, char __user *buf,
			       size_t count);
int vhost_iommu_missq_set_notify(struct vhost_iommu_missq *q, int fd);
void vhost_iommu_missq_drop(struct vhost_iommu_missq *q);
void vhost_iommu_missq_reset(struct vhost_iommu_missq *q);

#endif /* _VHOST_IOMMU_MISSQ_H */
