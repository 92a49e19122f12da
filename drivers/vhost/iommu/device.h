/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: one device, made of its units.
 *
 * Units, lowest first (Documentation/design.md; a unit calls only units
 * below it, scripts/check-layers.sh checks it):
 *   worker.c   the worker thread and its works
 *   mem.c      the guest memory table
 *   store.c    the domain store: endpoints, domains, mappings, the one
 *              lookup; tells its subscribers through their ops
 *   missq.c    the device IOTLB's miss queue
 *   log.c      the dirty log (VHOST_F_LOG_ALL)
 *   ring.c     the virtqueue engine
 *   report.c   the report channel: requests the VMM must answer
 *   event.c    fault reports on the event queue
 *   request.c  the request queue: the wire format
 *   iotlb.c    the device IOTLB of VMM-managed domains
 *   bridge.c   the vhost-net bridge, a subscriber of the store
 *   ioctl.c    the VHOST_IOMMU_* ioctl table
 *   main.c     /dev/vhost-iommu: fops, owner, standard vhost ioctls, reset
 *
 * Lock order, outermost first:
 *   vhost_iommu.mutex            (the device: owner, features, memory
 *                                table, vq setup, bindings)
 *   vhost_iommu_vq.mutex         (request queue before event queue)
 *   vhost_iommu_store.lock       (the store lock: the store, the ops of
 *                                its subscribers, the bridges' state)
 *   vhost-net's device and vq mutexes (taken inside kernel_write() of an
 *                                IOTLB message to a bound vhost-net file,
 *                                from a subscriber's op)
 *   the domains' tree_lock, vhost_iommu_missq.lock,
 *   vhost_iommu_events.lock, vhost_iommu_worker.read_lock,
 *   vhost_iommu_reports.lock, xarray locks
 *                                (spinlocks, innermost; none inside another
 *                                but the worker's wake-up under
 *                                vhost_iommu_reports.lock)
 * The worker never takes vhost_iommu.mutex, so ioctls may flush it while
 * holding that mutex, but never while holding a vq mutex or the store
 * lock. vhost-net calls back into this module only through the wake-up of
 * its file's wait queue, which takes no lock of ours. Nothing waits for the
 * VMM's answer on the report channel: a request held for it holds no lock
 * (the request work returns), and reset and release drop it.
 */
#ifndef _VHOST_IOMMU_DEVICE_H
#define _VHOST_IOMMU_DEVICE_H

#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/vhost_iommu.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/workqueue.h>

#include "bridge.h"
#include "event.h"
#include "mem.h"
#include "missq.h"
#include "report.h"
#include "request.h"
#include "ring.h"
#include "store.h"
#include "worker.h"

/* Features this device offers: transport bits, then virtio-iommu bits. */
#define VHOST_IOMMU_FEATURES					\
	(BIT_ULL(VIRTIO_F_VERSION_1) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VHOST_F_LOG_ALL) |				\
	 BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_PROBE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MMIO) |				\
	 BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG))

/**
 * struct vhost_iommu - one virtio-iommu device, one per open file
 * @mutex: the device mutex, see the lock order above
 * @refs: the file, the teardown work and the report channel's file; the
 *	last one frees the device
 * @teardown: what release does, from the workqueue (see main.c)
 * @torn_down: completed by @teardown
 * @features: the negotiated features; protected by @mutex (and copied
 *	into each vq and the store)
 * @log_base: the dirty log (VHOST_SET_LOG_BASE), NULL: none; protected by
 *	@mutex (and copied into each vq)
 * @log_ctx: the log's eventfd (VHOST_SET_LOG_FD), NULL: none; protected by
 *	@mutex (each vq borrows it)
 * @worker: the owner's worker; started and stopped under @mutex
 * @mem: the memory table; replaced under @mutex, every vq mutex and the
 *	store lock
 * @vqs: the request and event queues
 * @store: the domain store
 * @requests: the request queue's handler
 * @events: fault reports
 * @missq: the device IOTLB's miss queue
 * @reports: the report channel
 * @bridges: the bound vhost-net devices
 */
struct vhost_iommu {
	struct mutex mutex; /* the device, see the lock order */
	refcount_t refs;
	struct work_struct teardown;
	struct completion torn_down;
	u64 features;
	void __user *log_base;
	struct eventfd_ctx *log_ctx;
	struct vhost_iommu_worker worker;
	struct vhost_iommu_mem mem;
	struct vhost_iommu_vq vqs[VHOST_IOMMU_VQ_MAX];
	struct vhost_iommu_store store;
	struct vhost_iommu_requests requests;
	struct vhost_iommu_events events;
	struct vhost_iommu_missq missq;
	struct vhost_iommu_reports reports;
	struct vhost_iommu_bridges bridges;
};

#endif /* _VHOST_IOMMU_DEVICE_H */
