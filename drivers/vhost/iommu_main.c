// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the virtio-iommu device in the host kernel.
 *
 * This file holds the character device /dev/vhost-iommu: open and release,
 * the owner and its worker thread, and ioctl dispatch. The lock order is
 * written once, in iommu.h.
 */
#include <linux/cgroup.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "iommu.h"

unsigned int vhost_iommu_max_domains = 4096;
module_param_named(max_domains, vhost_iommu_max_domains, uint, 0644);
MODULE_PARM_DESC(max_domains,
		 "Domains per device; ATTACH past it fails with NOMEM");

/* One PCI segment's worth of requester ids */
unsigned int vhost_iommu_max_endpoints = 65536;
module_param_named(max_endpoints, vhost_iommu_max_endpoints, uint, 0644);
MODULE_PARM_DESC(max_endpoints,
		 "Endpoints per device; ADD_ENDPOINT past it fails with ENOSPC");

unsigned int vhost_iommu_max_mappings = 1U << 21;
module_param_named(max_mappings, vhost_iommu_max_mappings, uint, 0644);
MODULE_PARM_DESC(max_mappings,
		 "Mappings per device; MAP past it fails with NOMEM");

unsigned int vhost_iommu_max_mem_regions = 64;
module_param_named(max_mem_regions, vhost_iommu_max_mem_regions, uint, 0444);
MODULE_PARM_DESC(max_mem_regions, "Regions in a memory table");

/* Interrupts the worker's sleep in a vhost-net read: vhost_iommu_flush() */
#define VHOST_IOMMU_FLUSH_SIG	SIGUSR1

void vhost_iommu_work_init(struct vhost_iommu_work *work,
			   vhost_iommu_work_fn_t fn)
{
	work->queued = 0;
	work->fn = fn;
}

/* Callable from any context, the wait-queue wake-up callback included. */
void vhost_iommu_work_queue(struct vhost_iommu *vi,
			    struct vhost_iommu_work *work)
{
	struct task_struct *worker = READ_ONCE(vi->worker);

	if (!worker)
		return;
	if (!test_and_set_bit(0, &work->queued)) {
		llist_add(&work->node, &vi->work_list);
		wake_up_process(worker);
	}
}

struct vhost_iommu_flush_work {
	struct vhost_iommu_work work;
	struct vhost_iommu *vi;
	struct completion done;
};

static void vhost_iommu_flush_fn(struct vhost_iommu_work *work)
{
	struct vhost_iommu_flush_work *f;

	f = container_of(work, struct vhost_iommu_flush_work, work);
	/* Reads may start again: the works queued before us have run. */
	spin_lock(&f->vi->read_lock);
	f->vi->flushing = false;
	spin_unlock(&f->vi->read_lock);
	complete(&f->done);
}

/**
 * vhost_iommu_read_begin() - the worker is about to read a vhost-net file
 * @vi: the device
 *
 * A read of a bound vhost-net file may sleep until the next miss if the
 * VMM made that file blocking (see vhost_iommu_bridge_read()). While the
 * worker reads, a flush interrupts it with a signal; the signal is sent
 * and taken back under @vi->read_lock, so it is never pending outside the
 * read (a pending signal would turn a wait for a userfaultfd page of the
 * owner's memory into a busy loop).
 *
 * Context: the worker.
 * Return: false when a flush is waiting: do not read now.
 */
bool vhost_iommu_read_begin(struct vhost_iommu *vi)
{
	bool ok;

	spin_lock(&vi->read_lock);
	ok = !vi->flushing;
	vi->reading = ok;
	spin_unlock(&vi->read_lock);
	return ok;
}

/* The read is over: a signal a flush sent for it goes. Context: worker. */
void vhost_iommu_read_end(struct vhost_iommu *vi)
{
	spin_lock(&vi->read_lock);
	vi->reading = false;
	flush_signals(current);
	spin_unlock(&vi->read_lock);
}

/* No read starts from now on, and the one in progress is interrupted. */
static void vhost_iommu_stop_reads(struct vhost_iommu *vi,
				   struct task_struct *worker)
{
	spin_lock(&vi->read_lock);
	vi->flushing = true;
	if (vi->reading)
		send_sig(VHOST_IOMMU_FLUSH_SIG, worker, 1);
	spin_unlock(&vi->read_lock);
}

/**
 * vhost_iommu_flush() - wait until every work queued so far has run
 * @vi: the device
 *
 * Never waits on a vhost-net file: a read in progress is interrupted and
 * none starts until the flush is over (vhost_iommu_read_begin()).
 *
 * Context: process, vhost_iommu.mutex held (flushes are serialized), no vq
 * mutex, not domain_lock.
 */
void vhost_iommu_flush(struct vhost_iommu *vi)
{
	struct task_struct *worker = READ_ONCE(vi->worker);
	struct vhost_iommu_flush_work f;

	lockdep_assert_held(&vi->mutex);
	if (!worker)
		return;
	vhost_iommu_stop_reads(vi, worker);
	vhost_iommu_work_init(&f.work, vhost_iommu_flush_fn);
	f.vi = vi;
	init_completion(&f.done);
	vhost_iommu_work_queue(vi, &f.work);
	wait_for_completion(&f.done);
}

static void vhost_iommu_run_works(struct llist_node *node)
{
	struct vhost_iommu_work *work, *next;

	node = llist_reverse_order(node);
	llist_for_each_entry_safe(work, next, node, node) {
		/* A work may queue itself again while it runs. */
		clear_bit(0, &work->queued);
		/* Pairs with test_and_set_bit() in vhost_iommu_work_queue(). */
		smp_mb__after_atomic();
		work->fn(work);
		cond_resched();
	}
}

static int vhost_iommu_worker(void *data)
{
	struct vhost_iommu *vi = data;
	struct mem_cgroup *old_memcg;
	struct llist_node *node;

	allow_signal(VHOST_IOMMU_FLUSH_SIG);
	kthread_use_mm(vi->mm);
	old_memcg = set_active_memcg(vi->memcg);
	for (;;) {
		/* Not interruptible: the worker takes no signal but a flush's */
		set_current_state(TASK_IDLE);
		node = llist_del_all(&vi->work_list);
		if (node) {
			__set_current_state(TASK_RUNNING);
			vhost_iommu_run_works(node);
			continue;
		}
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		schedule();
	}
	set_active_memcg(old_memcg);
	kthread_unuse_mm(vi->mm);
	return 0;
}

static long vhost_iommu_set_owner(struct vhost_iommu *vi)
{
	struct task_struct *worker;
	struct mm_struct *mm;
	long r;

	if (vi->mm)
		return -EBUSY;
	mm = get_task_mm(current);
	if (!mm)
		return -EINVAL;
	worker = kthread_create(vhost_iommu_worker, vi, "vhost-iommu-%d",
				current->pid);
	if (IS_ERR(worker)) {
		r = PTR_ERR(worker);
		goto err_put_mm;
	}
	r = cgroup_attach_task_all(current, worker);
	if (r)
		goto err_stop_worker;

	WRITE_ONCE(vi->mm, mm);
	vi->memcg = get_mem_cgroup_from_mm(mm);
	WRITE_ONCE(vi->worker, worker);
	wake_up_process(worker);
	return 0;

err_stop_worker:
	kthread_stop(worker);
err_put_mm:
	mmput(mm);
	return r;
}

/* Stops the queues and the worker, forgets everything the owner set. */
static void vhost_iommu_reset_owner(struct vhost_iommu *vi)
{
	struct task_struct *worker = vi->worker;
	int i;

	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_stop(&vi->vqs[i]);
	vhost_iommu_unbind_all(vi);
	vhost_iommu_iotlb_reset(vi);
	if (worker) {
		vhost_iommu_flush(vi);
		WRITE_ONCE(vi->worker, NULL);
		kthread_stop(worker);
	}
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_reset(&vi->vqs[i]);
	vhost_iommu_mem_free(vi);
	vhost_iommu_domains_reset(vi);
	spin_lock(&vi->fault_lock);
	kfifo_reset(&vi->faults);
	spin_unlock(&vi->fault_lock);
	WRITE_ONCE(vi->features, 0);
	if (vi->mm) {
		mem_cgroup_put(vi->memcg);
		vi->memcg = NULL;
		mmput(vi->mm);
		WRITE_ONCE(vi->mm, NULL);
	}
}

static long vhost_iommu_set_features(struct vhost_iommu *vi,
				     u64 __user *argp)
{
	u64 features;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~VHOST_IOMMU_FEATURES)
		return -EOPNOTSUPP;

	mutex_lock(&vi->mutex);
	vhost_iommu_vqs_lock(vi);
	WRITE_ONCE(vi->features, features);
	vhost_iommu_vqs_unlock(vi);
	mutex_unlock(&vi->mutex);
	return 0;
}

/* The ioctls that need the owner, and that this device knows. */
static bool vhost_iommu_owner_ioctl(unsigned int ioctl)
{
	switch (ioctl) {
	case VHOST_RESET_OWNER:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		return true;
	default:
		return vhost_iommu_device_ioctl_nr(ioctl);
	}
}

static long vhost_iommu_owner_ioctl_locked(struct vhost_iommu *vi,
					   unsigned int ioctl,
					   void __user *argp)
{
	switch (ioctl) {
	case VHOST_RESET_OWNER:
		vhost_iommu_reset_owner(vi);
		return 0;
	case VHOST_SET_MEM_TABLE:
		return vhost_iommu_set_mem_table(vi, argp);
	default:
		if (vhost_iommu_device_ioctl_nr(ioctl))
			return vhost_iommu_device_ioctl(vi, ioctl, argp);
		return vhost_iommu_vring_ioctl(vi, ioctl, argp);
	}
}

/* GET_STATS, and TRANSLATE without a report; -EAGAIN: take the mutex */
static long vhost_iommu_lockless_ioctl(struct vhost_iommu *vi,
				       unsigned int ioctl, void __user *argp)
{
	if (READ_ONCE(vi->mm) != current->mm)
		return -EPERM;
	if (ioctl == VHOST_IOMMU_GET_STATS)
		return vhost_iommu_ioctl_stats(vi, argp);
	return vhost_iommu_ioctl_translate(vi, argp, false);
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
	}
	/*
	 * Lock-free, without vhost_iommu.mutex: the VMM must get answers
	 * while another ioctl waits for a request that holds the store long
	 * (an UNMAP of millions of mappings). The owner check reads the mm
	 * once; the device cannot go away under an ioctl of its file. A
	 * TRANSLATE that reports a fault takes the mutex (below).
	 */
	if (ioctl == VHOST_IOMMU_GET_STATS || ioctl == VHOST_IOMMU_TRANSLATE) {
		r = vhost_iommu_lockless_ioctl(vi, ioctl, argp);
		if (r != -EAGAIN)
			return r;
	}
	if (!vhost_iommu_owner_ioctl(ioctl))
		return -ENOTTY;

	mutex_lock(&vi->mutex);
	if (vi->mm != current->mm)
		r = -EPERM;
	else
		r = vhost_iommu_owner_ioctl_locked(vi, ioctl, argp);
	mutex_unlock(&vi->mutex);
	return r;
}

/* Device IOTLB miss records of VMM-managed domains; never blocks. */
static ssize_t vhost_iommu_read(struct file *f, char __user *buf,
				size_t count, loff_t *ppos)
{
	struct vhost_iommu *vi = f->private_data;
	ssize_t r;

	mutex_lock(&vi->mutex);
	if (!vi->mm || vi->mm != current->mm)
		r = -EPERM;
	else
		r = vhost_iommu_iotlb_read(vi, buf, count);
	mutex_unlock(&vi->mutex);
	return r;
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
	init_llist_head(&vi->work_list);
	spin_lock_init(&vi->read_lock);
	INIT_LIST_HEAD(&vi->bridges);
	spin_lock_init(&vi->fault_lock);
	INIT_KFIFO(vi->faults);
	vhost_iommu_work_init(&vi->event_work, vhost_iommu_handle_events);
	vhost_iommu_vq_init(vi, VHOST_IOMMU_VQ_REQUEST,
			    vhost_iommu_handle_requests);
	vhost_iommu_vq_init(vi, VHOST_IOMMU_VQ_EVENT, NULL);
	vhost_iommu_domains_init(vi);
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
	vhost_iommu_domains_destroy(vi);
	/* Readers of the memory table and the domain store are RCU. */
	synchronize_rcu();
	complete(&vi->torn_down);
	if (refcount_dec_and_test(&vi->refs))
		kfree(vi);
}

/*
 * The teardown may wait for a bound vhost-net device's mutexes (the
 * bridge writes to it under domain_lock), which vhost-net holds across
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
	if (refcount_dec_and_test(&vi->refs))
		kfree(vi);
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

/*
 * Frees dead domains, a grace period after they die, and tears down the
 * devices of owners that exited.
 */
struct workqueue_struct *vhost_iommu_wq;

static int __init vhost_iommu_init(void)
{
	int ret;

	vhost_iommu_wq = alloc_workqueue("vhost_iommu", 0, 0);
	if (!vhost_iommu_wq)
		return -ENOMEM;
	ret = misc_register(&vhost_iommu_misc);
	if (ret)
		destroy_workqueue(vhost_iommu_wq);
	return ret;
}
module_init(vhost_iommu_init);

static void __exit vhost_iommu_exit(void)
{
	misc_deregister(&vhost_iommu_misc);
	/* Teardowns of exited owners, which queue dead domains' frees */
	flush_workqueue(vhost_iommu_wq);
	/* Let pending queue_rcu_work() reach the queue, then drain it. */
	rcu_barrier();
	destroy_workqueue(vhost_iommu_wq);
}
module_exit(vhost_iommu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Host kernel accelerator for virtio-iommu");
