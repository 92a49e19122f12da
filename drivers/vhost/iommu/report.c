// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the report channel.
 *
 * Guest requests that change what an endpoint of the VMM can reach
 * (VHOST_IOMMU_ENDPOINT_F_REPORT) are executed, then held until the VMM
 * answers: the request work posts one record here and stops taking
 * requests; the VMM read()s the record from the channel's file and
 * write()s its answer, which queues the request work again. One record at
 * most, so the channel is bounded by construction and allocates nothing.
 * Nothing here waits for the VMM: read() and write() never block, and a
 * reset or a release drops the record (vhost_iommu_reports_drop()).
 *
 * The channel belongs to the owner that opened it. When the owner goes
 * (VHOST_RESET_OWNER, the device's release), the channel is hung up
 * (vhost_iommu_reports_hangup()): its file stays, but is no longer the
 * channel's (@r->file), and every operation of a file checks that it is,
 * under the lock, before it looks at a record. A hung-up file reads EOF,
 * fails writes with EPIPE and polls EPOLLHUP | EPOLLERR, as a pipe whose
 * other end is gone; the next owner opens a channel of its own.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/virtio_iommu.h>

#include "report.h"

void vhost_iommu_reports_init(struct vhost_iommu_reports *r,
			      struct vhost_iommu_worker *worker,
			      struct vhost_iommu_work *work,
			      void (*put)(void *arg), void *put_arg)
{
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wqh);
	r->worker = worker;
	r->work = work;
	r->put = put;
	r->put_arg = put_arg;
}

/* The held request can complete with @status. Context: @r->lock held. */
static void vhost_iommu_reports_answer(struct vhost_iommu_reports *r,
				       u8 status)
{
	r->awaiting = false;
	r->unread = false;
	r->answered = true;
	r->status = status;
	/* A dropped record awaits nothing: no work is queued after a drop. */
	vhost_iommu_work_queue(r->worker, r->work);
}

/* Whether @f is the open channel's file. Context: @r->lock held. */
static bool vhost_iommu_reports_current(struct vhost_iommu_reports *r,
					struct file *f)
{
	lockdep_assert_held(&r->lock);
	return r->file == f;
}

/* One record, whole; never blocks. A hung-up file reads end of file. */
static ssize_t vhost_iommu_reports_read(struct file *f, char __user *buf,
					size_t count, loff_t *ppos)
{
	struct vhost_iommu_reports *r = f->private_data;
	struct vhost_iommu_report rec;
	bool mine, unread;

	spin_lock(&r->lock);
	mine = vhost_iommu_reports_current(r, f);
	unread = mine && r->unread;
	rec = r->rec;
	spin_unlock(&r->lock);
	if (!mine)
		return 0;
	if (count < sizeof(rec))
		return -EINVAL;
	if (!unread)
		return -EAGAIN;
	/* Copied without the lock: the copy may fault on the VMM's memory. */
	if (copy_to_user(buf, &rec, sizeof(rec)))
		return -EFAULT;
	spin_lock(&r->lock);
	if (vhost_iommu_reports_current(r, f) && r->unread &&
	    r->rec.seq == rec.seq)
		r->unread = false;
	spin_unlock(&r->lock);
	return sizeof(rec);
}

/* Whether @f is hung up; a hint: the answer is checked again. */
static bool vhost_iommu_reports_hung_up(struct vhost_iommu_reports *r,
					struct file *f)
{
	bool mine;

	spin_lock(&r->lock);
	mine = vhost_iommu_reports_current(r, f);
	spin_unlock(&r->lock);
	return !mine;
}

/*
 * One answer, whole, to the record that awaits it. A hung-up file's
 * answer is EPIPE (without SIGPIPE), whatever it holds.
 */
static ssize_t vhost_iommu_reports_write(struct file *f,
					 const char __user *buf, size_t count,
					 loff_t *ppos)
{
	struct vhost_iommu_reports *r = f->private_data;
	struct vhost_iommu_report_answer a;
	ssize_t ret = -EINVAL;

	if (vhost_iommu_reports_hung_up(r, f))
		return -EPIPE;
	if (count != sizeof(a))
		return -EINVAL;
	if (copy_from_user(&a, buf, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || a.status > VIRTIO_IOMMU_S_NOMEM)
		return -EINVAL;
	spin_lock(&r->lock);
	if (!vhost_iommu_reports_current(r, f)) {
		ret = -EPIPE;
	} else if (r->awaiting && a.seq == r->rec.seq) {
		vhost_iommu_reports_answer(r, a.status);
		ret = sizeof(a);
	}
	spin_unlock(&r->lock);
	return ret;
}

static __poll_t vhost_iommu_reports_poll(struct file *f, poll_table *pt)
{
	struct vhost_iommu_reports *r = f->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(f, &r->wqh, pt);
	spin_lock(&r->lock);
	if (!vhost_iommu_reports_current(r, f))
		mask = EPOLLHUP | EPOLLERR;
	else if (r->unread)
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&r->lock);
	return mask;
}

/*
 * The channel closes: a held request completes with DEVERR. A hung-up
 * file is no channel's: a newer channel stays as it is.
 */
static int vhost_iommu_reports_release(struct inode *inode, struct file *f)
{
	struct vhost_iommu_reports *r = f->private_data;

	spin_lock(&r->lock);
	if (vhost_iommu_reports_current(r, f)) {
		WRITE_ONCE(r->file, NULL);
		r->unread = false;
		if (r->awaiting)
			vhost_iommu_reports_answer(r, VIRTIO_IOMMU_S_DEVERR);
	}
	spin_unlock(&r->lock);
	r->put(r->put_arg);
	return 0;
}

static const struct file_operations vhost_iommu_reports_fops = {
	.owner		= THIS_MODULE,
	.read		= vhost_iommu_reports_read,
	.write		= vhost_iommu_reports_write,
	.poll		= vhost_iommu_reports_poll,
	.release	= vhost_iommu_reports_release,
	.llseek		= noop_llseek,
};

/**
 * vhost_iommu_reports_open() - VHOST_IOMMU_REPORT_OPEN
 * @r: the channel
 *
 * The caller took the device reference the file holds, dropped by @r->put
 * when the file is released; on failure, the caller drops it.
 * Context: the device mutex held, which also serializes
 * vhost_iommu_reports_hangup(): a channel is never half open.
 * Return: the channel's file, not yet installed; ERR_PTR(-EBUSY) when one
 * is open, or the errno of anon_inode_getfile().
 */
struct file *vhost_iommu_reports_open(struct vhost_iommu_reports *r)
{
	struct file *f;

	/* Only the device mutex sets @r->file: no race from here on */
	if (READ_ONCE(r->file))
		return ERR_PTR(-EBUSY);
	f = anon_inode_getfile("vhost-iommu-report", &vhost_iommu_reports_fops,
			       r, O_RDWR | O_CLOEXEC);
	if (IS_ERR(f))
		return f;
	spin_lock(&r->lock);
	WRITE_ONCE(r->file, f);
	spin_unlock(&r->lock);
	return f;
}

/**
 * vhost_iommu_reports_post() - a request is held for the VMM
 * @r: the channel
 * @rec: the record; its @size and @seq are set here
 *
 * Context: the request work, which holds nothing else meanwhile.
 * Return: 0, or -ENOTCONN when no channel is open.
 */
int vhost_iommu_reports_post(struct vhost_iommu_reports *r,
			     const struct vhost_iommu_report *rec)
{
	int ret = -ENOTCONN;

	spin_lock(&r->lock);
	if (r->file) {
		r->rec = *rec;
		r->rec.size = sizeof(r->rec);
		r->rec.seq = ++r->seq;
		r->unread = true;
		r->awaiting = true;
		r->answered = false;
		ret = 0;
	}
	spin_unlock(&r->lock);
	if (!ret)
		wake_up_interruptible_poll(&r->wqh, EPOLLIN | EPOLLRDNORM);
	return ret;
}

/**
 * vhost_iommu_reports_take() - the held request's status, if it has one
 * @r: the channel
 * @status: out: the guest's status
 *
 * Return: 0 with @status, or -EAGAIN while the VMM has not answered.
 */
int vhost_iommu_reports_take(struct vhost_iommu_reports *r, u8 *status)
{
	int ret = -EAGAIN;

	spin_lock(&r->lock);
	if (r->answered) {
		*status = r->status;
		r->answered = false;
		ret = 0;
	} else if (!r->awaiting) {
		/* Not posted (dropped meanwhile): nobody will answer */
		*status = VIRTIO_IOMMU_S_DEVERR;
		ret = 0;
	}
	spin_unlock(&r->lock);
	return ret;
}

/**
 * vhost_iommu_reports_drop() - forget the record and its answer
 * @r: the channel
 *
 * For a reset or the release: the held request is gone; a later answer to
 * it fails with EINVAL. The channel stays open.
 */
void vhost_iommu_reports_drop(struct vhost_iommu_reports *r)
{
	spin_lock(&r->lock);
	r->unread = false;
	r->awaiting = false;
	r->answered = false;
	spin_unlock(&r->lock);
}

/**
 * vhost_iommu_reports_hangup() - the owner is gone: hang the channel up
 * @r: the channel
 *
 * For VHOST_RESET_OWNER and the release, after the held request was
 * dropped (vhost_iommu_reports_drop()): the open channel's file is no
 * longer the channel's, so its holder never sees nor answers a record of
 * a later owner, and its release leaves a later channel alone. Its
 * waiters are woken with EPOLLHUP | EPOLLERR. The next
 * VHOST_IOMMU_REPORT_OPEN opens a new channel.
 * Context: the device mutex held (see vhost_iommu_reports_open()).
 */
void vhost_iommu_reports_hangup(struct vhost_iommu_reports *r)
{
	bool was_open;

	spin_lock(&r->lock);
	was_open = r->file;
	WRITE_ONCE(r->file, NULL);
	r->unread = false;
	r->awaiting = false;
	r->answered = false;
	spin_unlock(&r->lock);
	if (was_open)
		wake_up_interruptible_poll(&r->wqh, EPOLLHUP | EPOLLERR);
}
