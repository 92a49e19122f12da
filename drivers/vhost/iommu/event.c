// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the event queue.
 *
 * Fault reports are queued from any context into a small FIFO and posted by
 * the worker into the event queue's buffers, in ring order. With no buffer
 * available a report is dropped and counted: the request queue never waits
 * for the event queue.
 */
#include "common.h"
#include "event.h"

/**
 * vhost_iommu_report_fault() - report a fault to the guest
 * @ev: the device's reports
 * @reason: VIRTIO_IOMMU_FAULT_R_*
 * @flags: VIRTIO_IOMMU_FAULT_F_*
 * @endpoint: the endpoint that faulted
 * @address: the address, meaningful with VIRTIO_IOMMU_FAULT_F_ADDRESS
 *
 * Context: any.
 */
void vhost_iommu_report_fault(struct vhost_iommu_events *ev, u8 reason,
			      u32 flags, u32 endpoint, u64 address)
{
	struct virtio_iommu_fault f = {
		.reason = reason,
		.flags = cpu_to_le32(flags),
		.endpoint = cpu_to_le32(endpoint),
		.address = cpu_to_le64(address),
	};
	unsigned long irqflags;
	bool queued;

	spin_lock_irqsave(&ev->lock, irqflags);
	queued = kfifo_put(&ev->faults, f);
	spin_unlock_irqrestore(&ev->lock, irqflags);
	if (!queued) {
		atomic64_inc(&ev->dropped);
		return;
	}
	vhost_iommu_work_queue(ev->worker, &ev->work);
}

static bool vhost_iommu_fault_peek(struct vhost_iommu_events *ev,
				   struct virtio_iommu_fault *f)
{
	unsigned long irqflags;
	bool found;

	spin_lock_irqsave(&ev->lock, irqflags);
	found = kfifo_peek(&ev->faults, f);
	spin_unlock_irqrestore(&ev->lock, irqflags);
	return found;
}

static void vhost_iommu_fault_skip(struct vhost_iommu_events *ev)
{
	unsigned long irqflags;

	spin_lock_irqsave(&ev->lock, irqflags);
	kfifo_skip(&ev->faults);
	spin_unlock_irqrestore(&ev->lock, irqflags);
}

/* What became of a report. */
enum vhost_iommu_post {
	VHOST_IOMMU_POSTED,
	VHOST_IOMMU_DROPPED,	/* no usable buffer, or the queue broke */
	VHOST_IOMMU_YIELD,	/* the budget ran out: try again later */
};

/*
 * Puts one report in the next usable buffer; unusable buffers (too short,
 * with a readable part, malformed) go back empty. Every buffer taken,
 * usable or not, spends one unit of *@budget.
 */
static enum vhost_iommu_post
vhost_iommu_post_fault(struct vhost_iommu_vq *vq,
		       const struct virtio_iommu_fault *f,
		       unsigned int *budget)
{
	struct vhost_iommu_chain chain;
	bool usable;
	int ret;

	for (;;) {
		if (!vq->running || vq->broken)
			return VHOST_IOMMU_DROPPED;
		if (!*budget)
			return VHOST_IOMMU_YIELD;
		ret = vhost_iommu_vq_next(vq, &chain, false);
		if (ret == VQ_EMPTY)
			return VHOST_IOMMU_DROPPED;
		if (ret < 0) {
			vhost_iommu_vq_error(vq);
			return VHOST_IOMMU_DROPPED;
		}
		/* A chain costs one unit per VHOST_IOMMU_DESC_BUDGET / 64 descs */
		*budget -= min(*budget, 1 + chain.nr_desc /
			       (VHOST_IOMMU_DESC_BUDGET / VHOST_IOMMU_BUDGET));
		usable = ret == 0 && !chain.nr_in && chain.out_len >= sizeof(*f);
		if (usable && vhost_iommu_chain_write(vq, &chain, 0, f,
						      sizeof(*f))) {
			vhost_iommu_vq_error(vq);
			return VHOST_IOMMU_DROPPED;
		}
		if (vhost_iommu_vq_add_used(vq, chain.head,
					    usable ? sizeof(*f) : 0)) {
			vhost_iommu_vq_error(vq);
			return VHOST_IOMMU_DROPPED;
		}
		if (usable)
			return VHOST_IOMMU_POSTED;
	}
}

/**
 * vhost_iommu_handle_events() - the event work: post queued reports
 * @work: vhost_iommu_events.work
 *
 * Takes at most VHOST_IOMMU_BUDGET buffers per run, so a guest that keeps
 * making unusable buffers available cannot hold the worker: the work
 * queues itself again and the report waits at the head of the FIFO.
 * Context: the device's worker.
 */
static void vhost_iommu_handle_events(struct vhost_iommu_work *work)
{
	struct vhost_iommu_events *ev = container_of(work,
						     struct vhost_iommu_events,
						     work);
	struct vhost_iommu_vq *vq = ev->vq;
	unsigned int budget = VHOST_IOMMU_BUDGET;
	enum vhost_iommu_post res = VHOST_IOMMU_POSTED;
	struct virtio_iommu_fault f;

	mutex_lock(&vq->mutex);
	while (vhost_iommu_fault_peek(ev, &f)) {
		res = vhost_iommu_post_fault(vq, &f, &budget);
		if (res == VHOST_IOMMU_YIELD)
			break;
		vhost_iommu_fault_skip(ev);
		if (res == VHOST_IOMMU_POSTED)
			atomic64_inc(&ev->posted);
		else
			atomic64_inc(&ev->dropped);
	}
	if (budget != VHOST_IOMMU_BUDGET && !vq->broken)
		vhost_iommu_vq_flush_used(vq);
	if (res == VHOST_IOMMU_YIELD)
		vhost_iommu_work_queue(ev->worker, work);
	mutex_unlock(&vq->mutex);
}

void vhost_iommu_events_init(struct vhost_iommu_events *ev,
			     struct vhost_iommu_worker *worker,
			     struct vhost_iommu_vq *vq)
{
	spin_lock_init(&ev->lock);
	INIT_KFIFO(ev->faults);
	vhost_iommu_work_init(&ev->work, vhost_iommu_handle_events);
	ev->worker = worker;
	ev->vq = vq;
}

/* Forgets the reports not posted. Context: the worker is stopped. */
void vhost_iommu_events_reset(struct vhost_iommu_events *ev)
{
	spin_lock_irq(&ev->lock);
	kfifo_reset(&ev->faults);
	spin_unlock_irq(&ev->lock);
}

/**
 * vhost_iommu_events_drop() - drop the reports not posted
 * @ev: the fault reports
 *
 * For a device reset, the worker running: the handler peeks and skips
 * under the event queue's mutex, which excludes it here. Counted as
 * dropped.
 */
void vhost_iommu_events_drop(struct vhost_iommu_events *ev)
{
	unsigned int n;

	mutex_lock(&ev->vq->mutex);
	spin_lock_irq(&ev->lock);
	n = kfifo_len(&ev->faults);
	kfifo_reset(&ev->faults);
	spin_unlock_irq(&ev->lock);
	mutex_unlock(&ev->vq->mutex);
	atomic64_add(n, &ev->dropped);
}

/**
 * vhost_iommu_events_save() - the reports not posted, for the saved state
 * @ev: the fault reports
 * @out: room for @max reports
 * @max: at most this many
 *
 * They stay queued. Return: how many were copied.
 */
unsigned int vhost_iommu_events_save(struct vhost_iommu_events *ev,
				     struct virtio_iommu_fault *out,
				     unsigned int max)
{
	unsigned int n;

	spin_lock_irq(&ev->lock);
	n = kfifo_out_peek(&ev->faults, out, max);
	spin_unlock_irq(&ev->lock);
	return n;
}

/**
 * vhost_iommu_events_load() - queue the reports of a loaded state
 * @ev: the fault reports, none queued
 * @f: the reports
 * @n: how many, no more than the queue holds
 *
 * They are posted when the event queue starts: the queue's start runs
 * the event work (a run while it is stopped would drop them).
 */
void vhost_iommu_events_load(struct vhost_iommu_events *ev,
			     const struct virtio_iommu_fault *f,
			     unsigned int n)
{
	spin_lock_irq(&ev->lock);
	kfifo_in(&ev->faults, f, n);
	spin_unlock_irq(&ev->lock);
}
