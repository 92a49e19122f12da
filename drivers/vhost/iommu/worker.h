/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the worker, one kernel thread per owner, and its works.
 */
#ifndef _VHOST_IOMMU_WORKER_H
#define _VHOST_IOMMU_WORKER_H

#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct mem_cgroup;
struct mm_struct;
struct task_struct;
struct vhost_iommu_work;

typedef void (*vhost_iommu_work_fn_t)(struct vhost_iommu_work *work);

/**
 * struct vhost_iommu_work - a unit of work for the worker
 * @node: link in vhost_iommu_worker.list
 * @queued: bit 0 set while the work is on the list
 * @fn: what to run, in the worker, with the owner's mm
 */
struct vhost_iommu_work {
	struct llist_node node;
	unsigned long queued;
	vhost_iommu_work_fn_t fn;
};

/**
 * struct vhost_iommu_worker - the thread that runs a device's works
 * @serial: the mutex that serializes start, stop and flushes (the
 *	device's); @task, @mm and @memcg are written under it
 * @task: the thread, NULL without owner; read locklessly to queue works
 * @mm: the owner's mm, NULL without owner; read locklessly by the owner
 *	checks of lock-free ioctls
 * @memcg: the owner's memory cgroup, active in the thread
 * @list: works queued (lock-free)
 * @read_lock: protects @reading and @flushing
 * @reading: the thread reads a file that may block (a vhost-net file)
 * @flushing: a flush waits: the thread must not start such a read
 */
struct vhost_iommu_worker {
	struct mutex *serial; /* serializes start, stop, flushes */
	struct task_struct *task;
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	struct llist_head list;
	spinlock_t read_lock; /* @reading, @flushing */
	bool reading;
	bool flushing;
};

void vhost_iommu_worker_init(struct vhost_iommu_worker *w,
			     struct mutex *serial); /* see @serial */
int vhost_iommu_worker_start(struct vhost_iommu_worker *w);
void vhost_iommu_worker_stop(struct vhost_iommu_worker *w);
bool vhost_iommu_worker_is_owner(struct vhost_iommu_worker *w);
void vhost_iommu_work_init(struct vhost_iommu_work *work,
			   vhost_iommu_work_fn_t fn);
void vhost_iommu_work_queue(struct vhost_iommu_worker *w,
			    struct vhost_iommu_work *work);
void vhost_iommu_flush(struct vhost_iommu_worker *w);
bool vhost_iommu_worker_pending(struct vhost_iommu_worker *w);
bool vhost_iommu_read_begin(struct vhost_iommu_worker *w);
void vhost_iommu_read_end(struct vhost_iommu_worker *w);

#endif /* _VHOST_IOMMU_WORKER_H */
