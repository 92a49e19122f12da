/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the report channel, guest requests the VMM must answer.
 */
#ifndef _VHOST_IOMMU_REPORT_H
#define _VHOST_IOMMU_REPORT_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vhost_iommu.h>
#include <linux/wait.h>

#include "worker.h"

struct file;

/**
 * struct vhost_iommu_reports - the report channel of a device
 * @lock: protects every field below but the ones set at init
 * @wqh: poll()ers of the channel's file
 * @file: the open channel's file, NULL: none. Set by
 *	vhost_iommu_reports_open() and cleared by the hang-up, both under the
 *	device mutex too, and by the file's release. Only compared: a file
 *	clears it in its release, before it is freed
 * @unread: @rec was not read yet
 * @awaiting: @rec awaits the VMM's answer
 * @answered: the answer (or the channel's closing) is in @status, for the
 *	request work to take
 * @status: the guest's status, VIRTIO_IOMMU_S_*
 * @seq: the last record's number
 * @rec: the one record: at most one request is held at a time
 * @worker: the device's worker
 * @work: queued when the held request can complete (the request work)
 * @put: drops the device reference the channel's file holds
 * @put_arg: its argument
 */
struct vhost_iommu_reports {
	spinlock_t lock; /* the channel's state */
	wait_queue_head_t wqh;
	struct file *file;
	bool unread;
	bool awaiting;
	bool answered;
	u8 status;
	u64 seq;
	struct vhost_iommu_report rec;
	struct vhost_iommu_worker *worker;
	struct vhost_iommu_work *work;
	void (*put)(void *arg);
	void *put_arg;
};

/*
 * Whether a channel is open. A hint, read at every request (inline: the
 * call cost more than the load): vhost_iommu_reports_post() decides.
 */
static inline bool vhost_iommu_reports_ready(struct vhost_iommu_reports *r)
{
	return READ_ONCE(r->file);
}

void vhost_iommu_reports_init(struct vhost_iommu_reports *r,
			      struct vhost_iommu_worker *worker,
			      struct vhost_iommu_work *work,
			      void (*put)(void *arg), void *put_arg);
struct file *vhost_iommu_reports_open(struct vhost_iommu_reports *r);
int vhost_iommu_reports_post(struct vhost_iommu_reports *r,
			     const struct vhost_iommu_report *rec);
int vhost_iommu_reports_take(struct vhost_iommu_reports *r, u8 *status);
void vhost_iommu_reports_drop(struct vhost_iommu_reports *r);
void vhost_iommu_reports_hangup(struct vhost_iommu_reports *r);

#endif /* _VHOST_IOMMU_REPORT_H */
