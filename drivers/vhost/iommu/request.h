/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the request queue's handler (the virtio-iommu wire format).
 */
#ifndef _VHOST_IOMMU_REQUEST_H
#define _VHOST_IOMMU_REQUEST_H

#include <linux/atomic.h>

#include "report.h"
#include "ring.h"
#include "store.h"
#include "worker.h"

/* The readable part of any request, as copied from the guest */
union vhost_iommu_req {
	struct virtio_iommu_req_head head;
	struct virtio_iommu_req_attach attach;
	struct virtio_iommu_req_detach detach;
	struct virtio_iommu_req_map map;
	struct virtio_iommu_req_unmap unmap;
	struct virtio_iommu_req_probe probe;
};

/**
 * struct vhost_iommu_requests - the request queue's handler
 * @work: queued by kicks of @vq; runs the requests
 * @worker: the device's worker
 * @vq: the request queue
 * @store: where requests are executed
 * @reports: the report channel
 * @holding: a request waits for the VMM's answer, in @held and @rec;
 *	protected by @vq's mutex
 * @held: the held request's chain
 * @rec: what was reported of it
 * @req: the copy of the request being executed, the only one decoded;
 *	@vq's mutex. Not on the stack: the kernel would zero its 72 bytes
 *	at every request (INIT_STACK_ALL_ZERO) and guard the frame with a
 *	canary; only the bytes the guest's request has are decoded.
 * @types: requests by type, 0 for unknown types
 * @status: requests by status written
 * @malformed: chains returned unwritten
 */
struct vhost_iommu_requests {
	struct vhost_iommu_work work;
	struct vhost_iommu_worker *worker;
	struct vhost_iommu_vq *vq;
	struct vhost_iommu_store *store;
	struct vhost_iommu_reports *reports;
	bool holding;
	struct vhost_iommu_held held;
	struct vhost_iommu_report rec;
	union vhost_iommu_req req;
	atomic64_t types[8];
	atomic64_t status[16];
	atomic64_t malformed;
};

void vhost_iommu_requests_init(struct vhost_iommu_requests *rq,
			       struct vhost_iommu_worker *worker,
			       struct vhost_iommu_vq *vq,
			       struct vhost_iommu_store *store,
			       struct vhost_iommu_reports *reports);
void vhost_iommu_requests_drop(struct vhost_iommu_requests *rq);
bool vhost_iommu_requests_holding(struct vhost_iommu_requests *rq);

#endif /* _VHOST_IOMMU_REQUEST_H */
