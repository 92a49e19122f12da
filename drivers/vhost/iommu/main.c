// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the virtio-iommu device in the host kernel.
 *
 * This file holds the character device /dev/vhost-iommu: open and release,
 * the owner, the standard vhost ioctls, reset, and the wiring of the units
 * that make a device (device.h, which also gives the lock order).
 */
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "common.h"
#include "device.h"
#include "ioctl.h"

/*
 * Tears down the devices of owners that exited (see vhost_iommu_release()).
 */
static struct workqueue_struct *vhost_iommu_wq;

static long vhost_iommu_set_owner(struct vhost_iommu *vi)
{
	if (vi->worker.mm)
		return -EBUSY;
	return vhost_iommu_worker_start(&vi->worker);
}

/* Takes every vq mutex, in index order. Context: vhost_iommu.mutex held. */
static void vhost_iommu_vqs_lock(struct vhost_iommu *vi)
{
	int i;

	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		mutex_lock_nested(&vi->vqs[i].mutex, i);
}

static void vhost_iommu_vqs_unlock(struct vhost_iommu *vi)
{
	int i;

	for (i = VHOST_IOMMU_VQ_MAX - 1; i >= 0; i--)
		mutex_unlock(&vi->vqs[i].mutex);
}

/*
 * Replaces the memory table (NULL: none). Every vq mutex: a chain being
 * executed holds owner addresses of the old table, and must be done with
 * them before the VMM may reuse them. The store lock: the store's
 * subscribers (the bridge) answer from the table, and drop everything
 * they handed out from the old one before anyone is answered from the new.
 */
static void vhost_iommu_mem_set(struct vhost_iommu *vi,
				struct vhost_iommu_mem_table *table)
{
	vhost_iommu_vqs_lock(vi);
	vhost_iommu_store_lock(&vi->store);
	vhost_iommu_mem_replace(&vi->mem, table);
	vhost_iommu_store_invalidate_all(&vi->store);
	vhost_iommu_store_unlock(&vi->store);
	vhost_iommu_vqs_unlock(vi);
}

/* Whether the device logs its writes (VHOST_F_LOG_ALL negotiated) */
static bool vhost_iommu_logging(struct vhost_iommu *vi)
{
	return vi->features & BIT_ULL(VHOST_F_LOG_ALL);
}

/*
 * Whether @base can log what the device writes: guest memory up to
 * @mem_end when logging, and the used rings logged (VHOST_VRING_F_LOG).
 * Context: vhost_iommu.mutex and every vq mutex held.
 */
static bool vhost_iommu_log_covers(struct vhost_iommu *vi, void __user *base,
				   u64 mem_end, bool logging)
{
	int i;

	if (logging && !vhost_iommu_log_access_ok(base, 0, mem_end))
		return false;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		if (!vhost_iommu_vq_log_ok(&vi->vqs[i], base))
			return false;
	return true;
}

static long vhost_iommu_set_mem_table(struct vhost_iommu *vi,
				      struct vhost_memory __user *m)
{
	struct vhost_iommu_mem_table *table;

	table = vhost_iommu_mem_table_from_user(m);
	if (IS_ERR(table))
		return PTR_ERR(table);
	if (vhost_iommu_logging(vi) &&
	    !vhost_iommu_log_access_ok(vi->log_base, 0,
				       vhost_iommu_table_end(table))) {
		vhost_iommu_mem_table_free(table);
		return -EFAULT;
	}
	vhost_iommu_mem_set(vi, table);
	return 0;
}

/* Gives every vq the device's log and its eventfd. */
static void vhost_iommu_log_set(struct vhost_iommu *vi)
{
	int i;

	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_set_log(&vi->vqs[i], vi->log_base, vi->log_ctx);
}

/* VHOST_SET_LOG_BASE: the log's address in the owner's memory */
static long vhost_iommu_set_log_base(struct vhost_iommu *vi,
				     u64 __user *argp)
{
	void __user *base;
	long r = 0;
	u64 p;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if ((u64)(unsigned long)p != p)
		return -EFAULT;
	base = u64_to_user_ptr(p);
	vhost_iommu_vqs_lock(vi);
	if (!vhost_iommu_log_covers(vi, base, vhost_iommu_mem_end(&vi->mem),
				    vhost_iommu_logging(vi))) {
		r = -EFAULT;
	} else {
		vi->log_base = base;
		vhost_iommu_log_set(vi);
	}
	vhost_iommu_vqs_unlock(vi);
	return r;
}

/* VHOST_SET_LOG_FD: an eventfd signalled after the log is written */
static long vhost_iommu_set_log_fd(struct vhost_iommu *vi, int __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	vhost_iommu_vqs_lock(vi);
	swap(vi->log_ctx, ctx);
	vhost_iommu_log_set(vi);
	vhost_iommu_vqs_unlock(vi);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

/* Stops the queues and the worker, forgets everything the owner set. */
static void vhost_iommu_reset_owner(struct vhost_iommu *vi)
{
	int i;

	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_stop(&vi->vqs[i]);
	/* Before the worker stops: the channel queues no work after it */
	vhost_iommu_requests_drop(&vi->requests);
	/* The channel was this owner's: no later owner's record reaches it */
	vhost_iommu_reports_hangup(&vi->reports);
	vhost_iommu_unbind_all(&vi->bridges);
	vhost_iommu_missq_reset(&vi->missq);
	vhost_iommu_worker_stop(&vi->worker);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_reset(&vi->vqs[i]);
	vhost_iommu_mem_set(vi, NULL);
	vhost_iommu_store_reset(&vi->store);
	vhost_iommu_events_reset(&vi->events);
	vhost_iommu_vqs_lock(vi);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_set_features(&vi->vqs[i], 0);
	vhost_iommu_store_set_features(&vi->store, 0);
	vhost_iommu_vqs_unlock(vi);
	vi->features = 0;
	vi->log_base = NULL;
	if (vi->log_ctx)
		eventfd_ctx_put(vi->log_ctx);
	vi->log_ctx = NULL;
}

static long vhost_iommu_set_features(struct vhost_iommu *vi,
				     u64 __user *argp)
{
	bool logging;
	u64 features;
	long r = 0;
	int i;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~VHOST_IOMMU_FEATURES)
		return -EOPNOTSUPP;
	logging = features & BIT_ULL(VHOST_F_LOG_ALL);

	mutex_lock(&vi->mutex);
	vhost_iommu_vqs_lock(vi);
	/* As vhost: a log that cannot cover guest memory is refused */
	if (logging &&
	    !vhost_iommu_log_covers(vi, vi->log_base,
				    vhost_iommu_mem_end(&vi->mem), true)) {
		r = -EFAULT;
		goto out_unlock;
	}
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_set_features(&vi->vqs[i], features);
	vhost_iommu_store_set_features(&vi->store, features);
	vi->features = features;
out_unlock:
	vhost_iommu_vqs_unlock(vi);
	mutex_unlock(&vi->mutex);
	return r;
}

/*
 * The VHOST_*_VRING_* ioctls. VHOST_GET_VRING_BASE also stops the queue
 * and waits for the request in flight, so the index it returns is final;
 * setting the kick eventfd again restarts the queue.
 * Context: vhost_iommu.mutex held.
 */
static long vhost_iommu_vring_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
				    void __user *argp)
{
	struct vhost_iommu_vq *vq;
	u32 idx;

	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= VHOST_IOMMU_VQ_MAX)
		return -ENOBUFS;
	vq = &vi->vqs[array_index_nospec(idx, VHOST_IOMMU_VQ_MAX)];
	if (ioctl == VHOST_GET_VRING_BASE) {
		vhost_iommu_vq_stop(vq);
		vhost_iommu_flush(&vi->worker);
	}
	return vhost_iommu_vq_ioctl(vq, ioctl, argp);
}

/* The standard vhost ioctls of the owner, under vhost_iommu.mutex */
static long vhost_iommu_owner_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
				    void __user *argp)
{
	long r;

	mutex_lock(&vi->mutex);
	r = -EPERM;
	if (!vhost_iommu_worker_is_owner(&vi->worker))
		goto out_unlock;
	switch (ioctl) {
	case VHOST_RESET_OWNER:
		vhost_iommu_reset_owner(vi);
		r = 0;
		break;
	case VHOST_SET_MEM_TABLE:
		r = vhost_iommu_set_mem_table(vi, argp);
		break;
	case VHOST_SET_LOG_BASE:
		r = vhost_iommu_set_log_base(vi, argp);
		break;
	case VHOST_SET_LOG_FD:
		r = vhost_iommu_set_log_fd(vi, argp);
		break;
	default:
		r = vhost_iommu_vring_ioctl(vi, ioctl, argp);
	}
out_unlock:
	mutex_unlock(&vi->mutex);
	return r;
}

static long vhost_iommu_ioctl(struct file *f, unsigned int ioctl,
			      unsigned long arg)
{
	struct vhost_iommu *vi = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 features = VHOST_IOMMU_FEATURES;
	long r;

	switch (ioctl) {
	case VHOST_GET_FEATURES:
		if (copy_to_user(argp, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_FEATURES:
		return vhost_iommu_set_features(vi, argp);
	case VHOST_SET_OWNER:
		mutex_lock(&vi->mutex);
		r = vhost_iommu_set_owner(vi);
		mutex_unlock(&vi->mutex);
		return r;
	case VHOST_RESET_OWNER:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return vhost_iommu_owner_ioctl(vi, ioctl, argp);
	default:
		/* The device's own ioctls; ENOTTY for any other */
		return vhost_iommu_device_ioctl(vi, ioctl, argp);
	}
}

/* Device IOTLB miss records of VMM-managed domains; never blocks. */
static ssize_t vhost_iommu_read(struct file *f, char __user *buf,
				size_t count, loff_t *ppos)
{
	struct vhost_iommu *vi = f->private_data;
	ssize_t r;

	mutex_lock(&vi->mutex);
	if (!vhost_iommu_worker_is_owner(&vi->worker))
		r = -EPERM;
	else
		r = vhost_iommu_missq_read(&vi->missq, buf, count);
	mutex_unlock(&vi->mutex);
	return r;
}

/* Drops a reference to the device; the last one frees it. */
static void vhost_iommu_put(void *arg)
{
	struct vhost_iommu *vi = arg;

	if (refcount_dec_and_test(&vi->refs))
		kfree(vi);
}

static int vhost_iommu_open(struct inode *inode, struct file *f)
{
	struct vhost_iommu *vi;

	vi = kzalloc(sizeof(*vi), VHOST_IOMMU_GFP);
	if (!vi)
		return -ENOMEM;
	mutex_init(&vi->mutex);
	refcount_set(&vi->refs, 2);	/* the file and its teardown */
	init_completion(&vi->torn_down);
	vhost_iommu_worker_init(&vi->worker, &vi->mutex);
	vhost_iommu_store_init(&vi->store);
	vhost_iommu_reports_init(&vi->reports, &vi->worker, &vi->requests.work,
				 vhost_iommu_put, vi);
	vhost_iommu_requests_init(&vi->requests, &vi->worker,
				  &vi->vqs[VHOST_IOMMU_VQ_REQUEST], &vi->store,
				  &vi->reports);
	vhost_iommu_vq_init(&vi->vqs[VHOST_IOMMU_VQ_REQUEST],
			    VHOST_IOMMU_VQ_REQUEST, &vi->worker, &vi->mem,
			    &vi->requests.work);
	/* A kick on the event queue (new buffers) posts waiting reports */
	vhost_iommu_vq_init(&vi->vqs[VHOST_IOMMU_VQ_EVENT], VHOST_IOMMU_VQ_EVENT,
			    &vi->worker, &vi->mem, &vi->events.work);
	vhost_iommu_events_init(&vi->events, &vi->worker,
				&vi->vqs[VHOST_IOMMU_VQ_EVENT]);
	vhost_iommu_missq_init(&vi->missq, vhost_iommu_bridges_room,
			       &vi->bridges);
	vhost_iommu_bridges_init(&vi->bridges, &vi->store, &vi->mem,
				 &vi->worker, &vi->missq, &vi->events);
	f->private_data = vi;
	return 0;
}

/* Everything goes; then whoever holds the last reference frees @vi. */
static void vhost_iommu_teardown(struct work_struct *work)
{
	struct vhost_iommu *vi = container_of(work, struct vhost_iommu,
					      teardown);

	mutex_lock(&vi->mutex);
	vhost_iommu_reset_owner(vi);
	mutex_unlock(&vi->mutex);
	vhost_iommu_store_destroy(&vi->store);
	/* Readers of the memory table and the domain store are RCU. */
	synchronize_rcu();
	complete(&vi->torn_down);
	vhost_iommu_put(vi);
}

/*
 * The teardown may wait for a bound vhost-net device's mutexes (the
 * bridge writes to it under the store lock), which vhost-net holds across
 * page faults on the VMM's memory; when that memory is userfaultfd-backed,
 * the fault is resolved only once the VMM's userfaultfd file is released,
 * which may come after this file in the exiting VMM's list. So an exiting
 * process does not wait: the teardown runs from the workqueue, and the
 * VMM's exit goes on. A live process waits for it (killably), as close()
 * users expect, and module exit flushes the workqueue.
 */
static int vhost_iommu_release(struct inode *inode, struct file *f)
{
	struct vhost_iommu *vi = f->private_data;

	INIT_WORK(&vi->teardown, vhost_iommu_teardown);
	queue_work(vhost_iommu_wq, &vi->teardown);
	if (!(current->flags & PF_EXITING))
		wait_for_completion_killable(&vi->torn_down);
	vhost_iommu_put(vi);
	return 0;
}

static const struct file_operations vhost_iommu_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_iommu_open,
	.release	= vhost_iommu_release,
	.read		= vhost_iommu_read,
	.unlocked_ioctl	= vhost_iommu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhost_iommu_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "vhost-iommu",
	.fops		= &vhost_iommu_fops,
	.mode		= 0600,
};

static int __init vhost_iommu_init(void)
{
	int ret;

	ret = vhost_iommu_store_module_init();
	if (ret)
		return ret;
	ret = -ENOMEM;
	vhost_iommu_wq = alloc_workqueue("vhost_iommu", 0, 0);
	if (!vhost_iommu_wq)
		goto err_store_exit;
	ret = misc_register(&vhost_iommu_misc);
	if (ret)
		goto err_destroy_wq;
	return 0;

err_destroy_wq:
	destroy_workqueue(vhost_iommu_wq);
err_store_exit:
	vhost_iommu_store_module_exit();
	return ret;
}
module_init(vhost_iommu_init);

static void __exit vhost_iommu_exit(void)
{
	misc_deregister(&vhost_iommu_misc);
	/* Teardowns of exited owners */
	flush_workqueue(vhost_iommu_wq);
	destroy_workqueue(vhost_iommu_wq);
	/* kvfree_rcu() and kfree_rcu() of the tables and the store */
	rcu_barrier();
	vhost_iommu_store_module_exit();
}
module_exit(vhost_iommu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Host kernel accelerator for virtio-iommu");
