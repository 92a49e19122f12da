// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the worker.
 *
 * One kernel thread per owner, created at VHOST_SET_OWNER like vhost's: it
 * joins the owner's cgroups, uses the owner's mm, so that rings and
 * descriptors are plain user addresses, and runs with the owner's memory
 * cgroup active, so that every allocation it makes is charged to the VMM.
 * Works are queued lock-free from any context (an eventfd or vhost-net
 * wake-up included) and run in queueing order.
 */
#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "worker.h"

/* Interrupts the worker's sleep in a vhost-net read: vhost_iommu_flush() */
#define VHOST_IOMMU_FLUSH_SIG	SIGUSR1

void vhost_iommu_worker_init(struct vhost_iommu_worker *w,
			     struct mutex *serial)
{
	w->serial = serial;
	init_llist_head(&w->list);
	spin_lock_init(&w->read_lock);
}

void vhost_iommu_work_init(struct vhost_iommu_work *work,
			   vhost_iommu_work_fn_t fn)
{
	work->queued = 0;
	work->fn = fn;
}

/* Callable from any context, the wait-queue wake-up callback included. */
void vhost_iommu_work_queue(struct vhost_iommu_worker *w,
			    struct vhost_iommu_work *work)
{
	struct task_struct *task = READ_ONCE(w->task);

	if (!task)
		return;
	if (!test_and_set_bit(0, &work->queued)) {
		llist_add(&work->node, &w->list);
		wake_up_process(task);
	}
}

struct vhost_iommu_flush_work {
	struct vhost_iommu_work work;
	struct vhost_iommu_worker *w;
	struct completion done;
};

static void vhost_iommu_flush_fn(struct vhost_iommu_work *work)
{
	struct vhost_iommu_flush_work *f;

	f = container_of(work, struct vhost_iommu_flush_work, work);
	/* Reads may start again: the works queued before us have run. */
	spin_lock(&f->w->read_lock);
	f->w->flushing = false;
	spin_unlock(&f->w->read_lock);
	complete(&f->done);
}

/**
 * vhost_iommu_read_begin() - the worker is about to read a file that may
 *	block
 * @w: the worker
 *
 * A read of a bound vhost-net file may sleep until the next miss if the
 * VMM made that file blocking. While the worker reads, a flush interrupts
 * it with a signal; the signal is sent and taken back under @w->read_lock,
 * so it is never pending outside the read (a pending signal would turn a
 * wait for a userfaultfd page of the owner's memory into a busy loop).
 *
 * Context: the worker.
 * Return: false when a flush is waiting: do not read now.
 */
bool vhost_iommu_read_begin(struct vhost_iommu_worker *w)
{
	bool ok;

	spin_lock(&w->read_lock);
	ok = !w->flushing;
	w->reading = ok;
	spin_unlock(&w->read_lock);
	return ok;
}

/* The read is over: a signal a flush sent for it goes. Context: worker. */
void vhost_iommu_read_end(struct vhost_iommu_worker *w)
{
	spin_lock(&w->read_lock);
	w->reading = false;
	flush_signals(current);
	spin_unlock(&w->read_lock);
}

/* No read starts from now on, and the one in progress is interrupted. */
static void vhost_iommu_stop_reads(struct vhost_iommu_worker *w,
				   struct task_struct *task)
{
	spin_lock(&w->read_lock);
	w->flushing = true;
	if (w->reading)
		send_sig(VHOST_IOMMU_FLUSH_SIG, task, 1);
	spin_unlock(&w->read_lock);
}

/**
 * vhost_iommu_flush() - wait until every work queued so far has run
 * @w: the worker
 *
 * Never waits on a vhost-net file: a read in progress is interrupted and
 * none starts until the flush is over (vhost_iommu_read_begin()).
 *
 * Context: process, @w->serial held (flushes are serialized); no lock a
 * work takes (no vq mutex, not the store lock).
 */
void vhost_iommu_flush(struct vhost_iommu_worker *w)
{
	struct task_struct *task = READ_ONCE(w->task);
	struct vhost_iommu_flush_work f;

	lockdep_assert_held(w->serial);
	if (!task)
		return;
	vhost_iommu_stop_reads(w, task);
	vhost_iommu_work_init(&f.work, vhost_iommu_flush_fn);
	f.w = w;
	init_completion(&f.done);
	vhost_iommu_work_queue(w, &f.work);
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

static int vhost_iommu_worker_fn(void *data)
{
	struct vhost_iommu_worker *w = data;
	struct mem_cgroup *old_memcg;
	struct llist_node *node;

	allow_signal(VHOST_IOMMU_FLUSH_SIG);
	kthread_use_mm(w->mm);
	old_memcg = set_active_memcg(w->memcg);
	for (;;) {
		/* Not interruptible: the worker takes no signal but a flush's */
		set_current_state(TASK_IDLE);
		node = llist_del_all(&w->list);
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
	kthread_unuse_mm(w->mm);
	return 0;
}

/**
 * vhost_iommu_worker_start() - the caller becomes the owner
 * @w: the worker, not started
 *
 * Context: @w->serial held, the owner's process.
 * Return: 0, -EINVAL (no mm) or the errno of the thread's creation or of
 * its joining the caller's cgroups.
 */
int vhost_iommu_worker_start(struct vhost_iommu_worker *w)
{
	struct task_struct *task;
	struct mm_struct *mm;
	int ret;

	lockdep_assert_held(w->serial);
	mm = get_task_mm(current);
	if (!mm)
		return -EINVAL;
	task = kthread_create(vhost_iommu_worker_fn, w, "vhost-iommu-%d",
			      current->pid);
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err_put_mm;
	}
	ret = cgroup_attach_task_all(current, task);
	if (ret)
		goto err_stop_task;

	WRITE_ONCE(w->mm, mm);
	w->memcg = get_mem_cgroup_from_mm(mm);
	WRITE_ONCE(w->task, task);
	wake_up_process(task);
	return 0;

err_stop_task:
	kthread_stop(task);
err_put_mm:
	mmput(mm);
	return ret;
}

/**
 * vhost_iommu_worker_stop() - run what is queued, stop, forget the owner
 * @w: the worker, started or not
 *
 * Context: @w->serial held; nothing may queue works any more.
 */
void vhost_iommu_worker_stop(struct vhost_iommu_worker *w)
{
	struct task_struct *task = w->task;

	if (!task)
		return;
	vhost_iommu_flush(w);
	WRITE_ONCE(w->task, NULL);
	kthread_stop(task);
	mem_cgroup_put(w->memcg);
	w->memcg = NULL;
	mmput(w->mm);
	WRITE_ONCE(w->mm, NULL);
}

/**
 * vhost_iommu_worker_pending() - whether works wait for the worker
 * @w: the worker
 *
 * For a work that polls: it should make way. Context: any.
 */
bool vhost_iommu_worker_pending(struct vhost_iommu_worker *w)
{
	return !llist_empty(&w->list);
}

/* Whether current is the owner. Context: any; reads @w->mm once. */
bool vhost_iommu_worker_is_owner(struct vhost_iommu_worker *w)
{
	struct mm_struct *mm = READ_ONCE(w->mm);

	return mm && mm == current->mm;
}
