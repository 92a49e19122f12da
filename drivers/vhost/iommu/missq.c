// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the miss queue of the device IOTLB.
 *
 * A bound vhost-net device's miss in a VMM-managed domain that no
 * translation covers becomes a record in this bounded queue, which the VMM
 * reads from the device file after an eventfd signal. The queue never
 * drops a miss: when it is full, whoever has one waits
 * (vhost_iommu_missq_wait()) and is called back when a read or an answer
 * makes room.
 */
#include <linux/eventfd.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "common.h"
#include "missq.h"

static unsigned int vhost_iommu_iotlb_queue_len = VHOST_IOMMU_MISS_QUEUE_MAX;
module_param_named(iotlb_queue_len, vhost_iommu_iotlb_queue_len, uint, 0644);
MODULE_PARM_DESC(iotlb_queue_len,
		 "Device IOTLB miss records waiting for the VMM (1-256)");

static unsigned int vhost_iommu_missq_len(void)
{
	return clamp_t(unsigned int, READ_ONCE(vhost_iommu_iotlb_queue_len), 1,
		       VHOST_IOMMU_MISS_QUEUE_MAX);
}

static struct vhost_iommu_iotlb_miss *
vhost_iommu_missq_at(struct vhost_iommu_missq *q, unsigned int i)
{
	return &q->recs[(q->head + i) % VHOST_IOMMU_MISS_QUEUE_MAX];
}

void vhost_iommu_missq_init(struct vhost_iommu_missq *q,
			    void (*room)(void *arg), void *room_arg)
{
	spin_lock_init(&q->lock);
	q->room = room;
	q->room_arg = room_arg;
}

/**
 * vhost_iommu_missq_is_full() - whether a miss could not be queued now
 * @q: the queue
 *
 * Only the worker adds records, so false stays true until it adds one.
 * Return: true when the queue holds iotlb_queue_len records.
 */
bool vhost_iommu_missq_is_full(struct vhost_iommu_missq *q)
{
	bool full;

	spin_lock(&q->lock);
	full = q->count >= vhost_iommu_missq_len();
	spin_unlock(&q->lock);
	return full;
}

/**
 * vhost_iommu_missq_wait() - wait for room, if there is none
 * @q: the queue
 *
 * Counted once per filling; the next record read is flagged.
 * Return: true when the queue is full: @q->room will be called once it
 * has room. False when it has room already (a read made some since the
 * caller looked).
 */
bool vhost_iommu_missq_wait(struct vhost_iommu_missq *q)
{
	bool full;

	spin_lock(&q->lock);
	full = q->count >= vhost_iommu_missq_len();
	if (full) {
		q->waiting = true;
		if (!q->full) {
			q->full = true;
			atomic64_inc(&q->queue_full);
		}
	}
	spin_unlock(&q->lock);
	return full;
}

/* Calls the waiter back if the queue has room. Context: @q->lock held. */
static bool vhost_iommu_missq_wake(struct vhost_iommu_missq *q)
{
	if (!q->waiting || q->count >= vhost_iommu_missq_len())
		return false;
	q->waiting = false;
	return true;
}

/**
 * vhost_iommu_missq_add() - queue a miss for the VMM
 * @q: the queue
 * @endpoint: the endpoint that missed
 * @domain: its VMM-managed domain
 * @iova: the address, aligned down to the granule
 * @access: VHOST_IOMMU_ACCESS_*
 *
 * Merged into an unread record of the same page if there is one. The
 * caller found the queue not full (vhost_iommu_missq_is_full()).
 * Context: the worker.
 */
void vhost_iommu_missq_add(struct vhost_iommu_missq *q, u32 endpoint,
			   u32 domain, u64 iova, u32 access)
{
	struct vhost_iommu_iotlb_miss *rec;
	unsigned int i;

	spin_lock(&q->lock);
	for (i = q->reading; i < q->count; i++) {
		rec = vhost_iommu_missq_at(q, i);
		if (rec->domain == domain && rec->iova == iova) {
			rec->access |= access;
			atomic64_inc(&q->coalesced);
			goto out_unlock;
		}
	}
	if (q->count >= VHOST_IOMMU_MISS_QUEUE_MAX)
		goto out_unlock;
	rec = vhost_iommu_missq_at(q, q->count++);
	*rec = (struct vhost_iommu_iotlb_miss) {
		.size = sizeof(*rec),
		.endpoint = endpoint,
		.domain = domain,
		.iova = iova,
		.access = access,
	};
	atomic64_inc(&q->queued);
	if (q->notify)
		vhost_iommu_eventfd_signal(q->notify);
out_unlock:
	spin_unlock(&q->lock);
}

/**
 * vhost_iommu_missq_answered() - forget the unread records a range answers
 * @q: the queue
 * @domain: the domain of the new translations
 * @first: first IOVA
 * @last: last IOVA (inclusive)
 */
void vhost_iommu_missq_answered(struct vhost_iommu_missq *q, u32 domain,
				u64 first, u64 last)
{
	struct vhost_iommu_iotlb_miss *rec;
	unsigned int i, kept = 0;
	bool wake;

	spin_lock(&q->lock);
	for (i = 0; i < q->count; i++) {
		rec = vhost_iommu_missq_at(q, i);
		if (i >= q->reading && rec->domain == domain &&
		    rec->iova >= first && rec->iova <= last)
			continue;
		*vhost_iommu_missq_at(q, kept++) = *rec;
	}
	q->count = kept;
	wake = vhost_iommu_missq_wake(q);
	spin_unlock(&q->lock);
	if (wake)
		q->room(q->room_arg);
}

/**
 * vhost_iommu_missq_read() - read() of the device: fetch records
 * @q: the queue
 * @buf: user buffer
 * @count: its size
 *
 * Context: the device mutex held (one reader at a time).
 * Return: bytes read, -EINVAL (buffer too small), -EAGAIN (nothing
 * pending), -ENOMEM or -EFAULT, in which case the records stay queued.
 */
ssize_t vhost_iommu_missq_read(struct vhost_iommu_missq *q, char __user *buf,
			       size_t count)
{
	struct vhost_iommu_iotlb_miss *recs;
	unsigned int n, i;
	bool full, wake;
	ssize_t ret;

	if (count < sizeof(*recs))
		return -EINVAL;
	n = min_t(size_t, count / sizeof(*recs), VHOST_IOMMU_MISS_QUEUE_MAX);
	recs = kmalloc_array(n, sizeof(*recs), VHOST_IOMMU_GFP);
	if (!recs)
		return -ENOMEM;

	/*
	 * The records are copied out without the lock (the copy may fault
	 * on the VMM's memory) and removed after: meanwhile misses may be
	 * added behind them, but not merged into one of them (@reading),
	 * or the VMM would never learn of it.
	 */
	spin_lock(&q->lock);
	n = min(n, q->count);
	for (i = 0; i < n; i++)
		recs[i] = *vhost_iommu_missq_at(q, i);
	full = n && q->full;
	if (full) {
		recs[0].flags |= VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL;
		q->full = false;
	}
	q->reading = n;
	spin_unlock(&q->lock);

	ret = -EAGAIN;
	if (!n)
		goto out_free;
	ret = copy_to_user(buf, recs, n * sizeof(*recs)) ? -EFAULT : 0;

	/* Only this reader removes the records being read. */
	spin_lock(&q->lock);
	q->reading = 0;
	wake = false;
	if (ret) {
		q->full |= full;
	} else {
		q->head = (q->head + n) % VHOST_IOMMU_MISS_QUEUE_MAX;
		q->count -= n;
		wake = vhost_iommu_missq_wake(q);
		ret = n * sizeof(*recs);
	}
	spin_unlock(&q->lock);
	if (wake)
		q->room(q->room_arg);
out_free:
	kfree(recs);
	return ret;
}

/**
 * vhost_iommu_missq_set_notify() - VHOST_IOMMU_IOTLB_SET_NOTIFY
 * @q: the queue
 * @fd: an eventfd, or -1 for none
 *
 * Return: 0 or the errno of eventfd_ctx_fdget().
 */
int vhost_iommu_missq_set_notify(struct vhost_iommu_missq *q, int fd)
{
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	spin_lock(&q->lock);
	old = q->notify;
	q->notify = ctx;
	spin_unlock(&q->lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

/**
 * vhost_iommu_missq_drop() - forget the records no read() is copying out
 * @q: the queue
 *
 * For a device reset: their domains are gone. The records a read() is
 * copying out are the oldest, and its own to remove.
 */
void vhost_iommu_missq_drop(struct vhost_iommu_missq *q)
{
	bool wake;

	spin_lock(&q->lock);
	q->count = q->reading;
	q->full = false;
	wake = vhost_iommu_missq_wake(q);
	spin_unlock(&q->lock);
	if (wake)
		q->room(q->room_arg);
}

/**
 * vhost_iommu_missq_reset() - forget the records and the eventfd
 * @q: the queue
 *
 * Context: the device mutex held, nothing adds records any more.
 */
void vhost_iommu_missq_reset(struct vhost_iommu_missq *q)
{
	vhost_iommu_missq_set_notify(q, -1);
	spin_lock(&q->lock);
	q->head = 0;
	q->count = 0;
	q->reading = 0;
	q->full = false;
	q->waiting = false;
	spin_unlock(&q->lock);
}
