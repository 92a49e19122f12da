// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the device ioctls of <linux/vhost_iommu.h>.
 *
 * One table, indexed by ioctl number: each entry gives the argument struct
 * and its last member in the first published version, so the size-first
 * copy is written once (vhost_iommu_ucmd_in()): a size below that first
 * version is EINVAL, a larger struct than this kernel knows is accepted
 * when the bytes it does not know are zero (else E2BIG). An ioctl the table
 * does not hold is ENOTTY, here and nowhere else. Each handler checks its
 * reserved fields and flags, then calls the unit that does the work.
 */
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "common.h"
#include "device.h"
#include "iotlb.h"
#include "ioctl.h"
#include "state.h"

/**
 * struct vhost_iommu_ucmd - one device ioctl being executed
 * @vi: the device
 * @ubuffer: the caller's argument
 * @user_size: its size, as the caller gave it
 * @locked: the device mutex is held
 * @cmd: the argument, copied in (struct vhost_iommu_*)
 */
struct vhost_iommu_ucmd {
	struct vhost_iommu *vi;
	void __user *ubuffer;
	u32 user_size;
	bool locked;
	void *cmd;
};

/* Copies a struct out, no more than the caller's size. */
static int vhost_iommu_ucmd_respond(struct vhost_iommu_ucmd *ucmd,
				    size_t ksize)
{
	u32 len = min_t(size_t, ucmd->user_size, ksize);

	*(u32 *)ucmd->cmd = len;
	return copy_to_user(ucmd->ubuffer, ucmd->cmd, len) ? -EFAULT : 0;
}

static bool vhost_iommu_config_valid(const struct vhost_iommu_config *c)
{
	u64 granule = c->page_size_mask & -c->page_size_mask;

	return !(c->flags & ~VHOST_IOMMU_CONFIG_F_DRIVER) &&
	       !memchr_inv(c->__reserved, 0, sizeof(c->__reserved)) &&
	       granule >= SZ_4K && c->input_start <= c->input_end &&
	       c->domain_start <= c->domain_end && c->bypass <= 1 &&
	       !(c->probe_size % 4) && c->probe_size <= SZ_64K;
}

static int vhost_iommu_ioctl_get_config(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_config *cfg = ucmd->cmd;

	if (cfg->flags || memchr_inv(cfg->__reserved, 0, sizeof(cfg->__reserved)))
		return -EINVAL;
	vhost_iommu_store_get_config(&ucmd->vi->store, cfg);
	return vhost_iommu_ucmd_respond(ucmd, sizeof(*cfg));
}

static int vhost_iommu_ioctl_set_config(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_config *cfg = ucmd->cmd;

	if (!vhost_iommu_config_valid(cfg))
		return -EINVAL;
	cfg->size = sizeof(*cfg);
	return vhost_iommu_store_set_config(&ucmd->vi->store, cfg);
}

static bool vhost_iommu_resv_valid(const struct vhost_iommu_resv_region *r,
				   u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		if (r[i].start > r[i].end ||
		    r[i].subtype > VHOST_IOMMU_RESV_MSI ||
		    memchr_inv(r[i].__reserved, 0, sizeof(r[i].__reserved)))
			return false;
		for (j = 0; j < i; j++)
			if (r[i].start <= r[j].end && r[j].start <= r[i].end)
				return false;
	}
	return true;
}

static int vhost_iommu_ioctl_add_endpoint(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_endpoint *arg = ucmd->cmd;
	struct vhost_iommu_resv_region *regions;
	int ret;

	if (arg->flags & ~VHOST_IOMMU_ENDPOINT_F_REPORT)
		return -EINVAL;
	if (arg->nr_resv > VHOST_IOMMU_MAX_RESV)
		return -E2BIG;
	regions = memdup_user(u64_to_user_ptr(arg->resv),
			      arg->nr_resv * sizeof(*regions));
	if (IS_ERR(regions))
		return PTR_ERR(regions);
	ret = -EINVAL;
	if (!vhost_iommu_resv_valid(regions, arg->nr_resv))
		goto out_free;
	ret = vhost_iommu_store_endpoint_add(&ucmd->vi->store, arg->endpoint,
					     regions, arg->nr_resv,
					     arg->flags & VHOST_IOMMU_ENDPOINT_F_REPORT);
out_free:
	kfree(regions);
	return ret;
}

static int vhost_iommu_ioctl_del_endpoint(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_endpoint *arg = ucmd->cmd;

	if (arg->flags || arg->nr_resv || arg->resv)
		return -EINVAL;
	/* The bindings unsubscribe first: the store refuses otherwise. */
	vhost_iommu_unbind_endpoint(&ucmd->vi->bridges, arg->endpoint);
	return vhost_iommu_store_endpoint_del(&ucmd->vi->store, arg->endpoint);
}

static int vhost_iommu_ioctl_get_stats(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_stats *st = ucmd->cmd;
	struct vhost_iommu *vi = ucmd->vi;
	int i;

	if (st->__reserved)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(st->requests); i++)
		st->requests[i] = atomic64_read(&vi->requests.types[i]);
	for (i = 0; i < ARRAY_SIZE(st->status); i++)
		st->status[i] = atomic64_read(&vi->requests.status[i]);
	st->malformed = atomic64_read(&vi->requests.malformed);
	st->ring_errors = 0;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		st->ring_errors += atomic64_read(&vi->vqs[i].ring_errors);
	st->faults = atomic64_read(&vi->events.posted);
	st->faults_dropped = atomic64_read(&vi->events.dropped);
	st->iotlb_misses = atomic64_read(&vi->bridges.misses);
	st->iotlb_served = atomic64_read(&vi->bridges.served);
	st->iotlb_updates = atomic64_read(&vi->bridges.updates);
	st->iotlb_invalidations = atomic64_read(&vi->bridges.invalidations);
	st->iotlb_errors = atomic64_read(&vi->bridges.errors);
	st->iotlb_queued = atomic64_read(&vi->missq.queued);
	st->iotlb_coalesced = atomic64_read(&vi->missq.coalesced);
	st->iotlb_queue_full = atomic64_read(&vi->missq.queue_full);
	/*
	 * Without the store lock: a request may hold it for long (an UNMAP of
	 * millions of mappings) and the VMM must still see the counters.
	 * Each is read once; together they are not one snapshot.
	 */
	st->domains = READ_ONCE(vi->store.nr_domains);
	st->mappings = READ_ONCE(vi->store.nr_mappings);
	st->endpoints = READ_ONCE(vi->store.nr_endpoints);
	st->bound = READ_ONCE(vi->bridges.nr);
	return vhost_iommu_ucmd_respond(ucmd, sizeof(*st));
}

/* A failed translation's fault report, as the device would post it. */
static void vhost_iommu_translate_report(struct vhost_iommu *vi,
					 const struct vhost_iommu_translate *t,
					 int err)
{
	u32 flags = VIRTIO_IOMMU_FAULT_F_ADDRESS;
	u8 reason = err == -ENXIO ? VIRTIO_IOMMU_FAULT_R_DOMAIN :
				    VIRTIO_IOMMU_FAULT_R_MAPPING;

	if (t->access & VHOST_IOMMU_ACCESS_READ)
		flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (t->access & VHOST_IOMMU_ACCESS_WRITE)
		flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	vhost_iommu_report_fault(&vi->events, reason, flags, t->endpoint,
				 t->iova);
	/* A report is posted, or dropped, before the ioctl returns. */
	vhost_iommu_flush(&vi->worker);
}

/*
 * Without the device mutex unless a fault is to be reported: the report
 * queues work for the worker, which must not stop meanwhile (-EAGAIN: the
 * dispatcher takes the mutex and calls again).
 */
static int vhost_iommu_ioctl_translate(struct vhost_iommu_ucmd *ucmd)
{
	u32 access = VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE;
	struct vhost_iommu_translate *t = ucmd->cmd;
	struct vhost_iommu_xlate x;
	int ret;

	if ((t->flags & ~VHOST_IOMMU_TRANSLATE_F_REPORT) || t->__reserved ||
	    !t->access || (t->access & ~access))
		return -EINVAL;
	/* Decided on this copy: the VMM may rewrite the flags meanwhile. */
	if ((t->flags & VHOST_IOMMU_TRANSLATE_F_REPORT) && !ucmd->locked)
		return -EAGAIN;
	ret = vhost_iommu_store_lookup(&ucmd->vi->store, t->endpoint, t->iova,
				       vhost_iommu_access_to_perm(t->access),
				       &x);
	if (ret) {
		if (ret != -ENODEV && (t->flags & VHOST_IOMMU_TRANSLATE_F_REPORT))
			vhost_iommu_translate_report(ucmd->vi, t, ret);
		return ret;
	}
	t->start = x.iova;
	t->last = x.last;
	t->phys = x.phys;
	t->perm = x.perm;
	return vhost_iommu_ucmd_respond(ucmd, sizeof(*t));
}

static int vhost_iommu_ioctl_bind(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_bind *arg = ucmd->cmd;

	if (arg->flags)
		return -EINVAL;
	return vhost_iommu_bind(&ucmd->vi->bridges, arg->endpoint, arg->fd);
}

static int vhost_iommu_ioctl_unbind(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_bind *arg = ucmd->cmd;

	if (arg->flags)
		return -EINVAL;
	return vhost_iommu_unbind(&ucmd->vi->bridges, arg->endpoint, arg->fd);
}

static int vhost_iommu_ioctl_iotlb_attach(struct vhost_iommu_ucmd *ucmd)
{
	return vhost_iommu_iotlb_attach(&ucmd->vi->store, ucmd->cmd);
}

static int vhost_iommu_ioctl_iotlb_update(struct vhost_iommu_ucmd *ucmd)
{
	return vhost_iommu_iotlb_batch(&ucmd->vi->store, &ucmd->vi->missq,
				       ucmd->cmd, true);
}

static int vhost_iommu_ioctl_iotlb_invalidate(struct vhost_iommu_ucmd *ucmd)
{
	return vhost_iommu_iotlb_batch(&ucmd->vi->store, &ucmd->vi->missq,
				       ucmd->cmd, false);
}

static int vhost_iommu_ioctl_iotlb_notify(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_iotlb_notify *arg = ucmd->cmd;

	if (arg->flags || arg->__reserved)
		return -EINVAL;
	return vhost_iommu_missq_set_notify(&ucmd->vi->missq, arg->fd);
}

/*
 * The virtio reset. The queues stop first: once the request in flight is
 * done (the flush), no request changes the store; then the store resets,
 * which invalidates every binding under the store lock. A miss read
 * before that may still queue a record or a report from the worker: the
 * second flush waits for it, and both are dropped after.
 */
static int vhost_iommu_ioctl_reset_device(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_reset *arg = ucmd->cmd;
	struct vhost_iommu *vi = ucmd->vi;
	int i;

	if (arg->flags)
		return -EINVAL;
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_stop(&vi->vqs[i]);
	vhost_iommu_flush(&vi->worker);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		vhost_iommu_vq_rewind(&vi->vqs[i]);
	vhost_iommu_requests_drop(&vi->requests);
	vhost_iommu_store_device_reset(&vi->store);
	vhost_iommu_flush(&vi->worker);
	vhost_iommu_missq_drop(&vi->missq);
	vhost_iommu_events_drop(&vi->events);
	return 0;
}

/*
 * The store fills a kernel buffer under its lock; the copy to the VMM's
 * memory, which may fault and wait on it (userfaultfd), comes after.
 */
static int vhost_iommu_ioctl_get_mappings(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_mappings *l = ucmd->cmd;
	struct vhost_iommu_iotlb_entry *e;
	int ret;

	if (l->flags || l->domain_flags || l->done || !l->nr)
		return -EINVAL;
	if (l->nr > VHOST_IOMMU_IOTLB_MAX_BATCH)
		return -E2BIG;
	e = kvmalloc_array(l->nr, sizeof(*e), VHOST_IOMMU_GFP);
	if (!e)
		return -ENOMEM;
	ret = vhost_iommu_store_list(&ucmd->vi->store, l, e);
	if (ret)
		goto out_free;
	ret = -EFAULT;
	if (copy_to_user(u64_to_user_ptr(l->entries), e, l->nr * sizeof(*e)))
		goto out_free;
	ret = vhost_iommu_ucmd_respond(ucmd, sizeof(*l));
out_free:
	kvfree(e);
	return ret;
}

static void vhost_iommu_state_parts(struct vhost_iommu *vi,
				    struct vhost_iommu_state_parts *p)
{
	*p = (struct vhost_iommu_state_parts) {
		.store = &vi->store,
		.vqs = vi->vqs,
		.events = &vi->events,
	};
}

static int vhost_iommu_ioctl_save_state(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_state *arg = ucmd->cmd;
	struct vhost_iommu_state_parts p;
	int ret;

	if (arg->flags)
		return -EINVAL;
	/* A held request is neither done nor in the ring: it cannot be saved */
	if (vhost_iommu_requests_holding(&ucmd->vi->requests))
		return -EBUSY;
	vhost_iommu_state_parts(ucmd->vi, &p);
	ret = vhost_iommu_state_save(&p, arg);
	/* ENOSPC: the length needed goes back too */
	if (ret && ret != -ENOSPC)
		return ret;
	return vhost_iommu_ucmd_respond(ucmd, sizeof(*arg)) ?: ret;
}

static int vhost_iommu_ioctl_load_state(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_state *arg = ucmd->cmd;
	struct vhost_iommu_state_parts p;

	if (arg->flags)
		return -EINVAL;
	vhost_iommu_state_parts(ucmd->vi, &p);
	return vhost_iommu_state_load(&p, arg);
}

/*
 * The channel's file is installed only once the caller has its number: a
 * failed copy out leaves no descriptor behind. The file holds a reference
 * to the device, dropped when it is released.
 */
static int vhost_iommu_ioctl_report_open(struct vhost_iommu_ucmd *ucmd)
{
	struct vhost_iommu_report_open *arg = ucmd->cmd;
	struct vhost_iommu *vi = ucmd->vi;
	struct file *file;
	int fd, ret;

	if (arg->flags || arg->__reserved)
		return -EINVAL;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	refcount_inc(&vi->refs);
	file = vhost_iommu_reports_open(&vi->reports);
	if (IS_ERR(file)) {
		refcount_dec(&vi->refs);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	arg->fd = fd;
	ret = vhost_iommu_ucmd_respond(ucmd, sizeof(*arg));
	if (ret) {
		put_unused_fd(fd);
		fput(file);
		return ret;
	}
	fd_install(fd, file);
	return 0;
}

/* Every argument struct, for the one copy in */
union vhost_iommu_ucmd_buffer {
	struct vhost_iommu_config config;
	struct vhost_iommu_endpoint endpoint;
	struct vhost_iommu_stats stats;
	struct vhost_iommu_translate translate;
	struct vhost_iommu_bind bind;
	struct vhost_iommu_iotlb_attach iotlb_attach;
	struct vhost_iommu_iotlb_batch iotlb_batch;
	struct vhost_iommu_iotlb_notify iotlb_notify;
	struct vhost_iommu_reset reset;
	struct vhost_iommu_mappings mappings;
	struct vhost_iommu_state state;
	struct vhost_iommu_report_open report_open;
};

/**
 * struct vhost_iommu_ioctl_op - one device ioctl
 * @size: the argument struct this kernel knows
 * @min_size: the size of its first version (up to its last member then)
 * @ioctl_num: the ioctl number
 * @lockless: runs without the device mutex (it may ask for it: -EAGAIN)
 * @execute: the handler
 */
struct vhost_iommu_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	bool lockless;
	int (*execute)(struct vhost_iommu_ucmd *ucmd);
};

#define VHOST_IOMMU_IOCTL_BASE	_IOC_NR(VHOST_IOMMU_GET_CONFIG)

/* In ioctl number order, from VHOST_IOMMU_GET_CONFIG, without gaps */
#define IOCTL_OP(_ioctl, _fn, _struct, _last, _lockless)		\
	{								\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union vhost_iommu_ucmd_buffer) < \
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.ioctl_num = _ioctl,					\
		.lockless = _lockless,					\
		.execute = _fn,						\
	}

static const struct vhost_iommu_ioctl_op vhost_iommu_ioctl_ops[] = {
	IOCTL_OP(VHOST_IOMMU_GET_CONFIG, vhost_iommu_ioctl_get_config,
		 struct vhost_iommu_config, __reserved, false),
	IOCTL_OP(VHOST_IOMMU_SET_CONFIG, vhost_iommu_ioctl_set_config,
		 struct vhost_iommu_config, __reserved, false),
	IOCTL_OP(VHOST_IOMMU_ADD_ENDPOINT, vhost_iommu_ioctl_add_endpoint,
		 struct vhost_iommu_endpoint, resv, false),
	IOCTL_OP(VHOST_IOMMU_DEL_ENDPOINT, vhost_iommu_ioctl_del_endpoint,
		 struct vhost_iommu_endpoint, resv, false),
	IOCTL_OP(VHOST_IOMMU_GET_STATS, vhost_iommu_ioctl_get_stats,
		 struct vhost_iommu_stats, endpoints, true),
	IOCTL_OP(VHOST_IOMMU_TRANSLATE, vhost_iommu_ioctl_translate,
		 struct vhost_iommu_translate, __reserved, true),
	IOCTL_OP(VHOST_IOMMU_BIND_DEVICE, vhost_iommu_ioctl_bind,
		 struct vhost_iommu_bind, fd, false),
	IOCTL_OP(VHOST_IOMMU_UNBIND_DEVICE, vhost_iommu_ioctl_unbind,
		 struct vhost_iommu_bind, fd, false),
	IOCTL_OP(VHOST_IOMMU_IOTLB_ATTACH, vhost_iommu_ioctl_iotlb_attach,
		 struct vhost_iommu_iotlb_attach, domain, false),
	IOCTL_OP(VHOST_IOMMU_IOTLB_UPDATE, vhost_iommu_ioctl_iotlb_update,
		 struct vhost_iommu_iotlb_batch, entries, false),
	IOCTL_OP(VHOST_IOMMU_IOTLB_INVALIDATE,
		 vhost_iommu_ioctl_iotlb_invalidate,
		 struct vhost_iommu_iotlb_batch, entries, false),
	IOCTL_OP(VHOST_IOMMU_IOTLB_SET_NOTIFY, vhost_iommu_ioctl_iotlb_notify,
		 struct vhost_iommu_iotlb_notify, __reserved, false),
	IOCTL_OP(VHOST_IOMMU_RESET_DEVICE, vhost_iommu_ioctl_reset_device,
		 struct vhost_iommu_reset, flags, false),
	IOCTL_OP(VHOST_IOMMU_GET_MAPPINGS, vhost_iommu_ioctl_get_mappings,
		 struct vhost_iommu_mappings, done, false),
	IOCTL_OP(VHOST_IOMMU_SAVE_STATE, vhost_iommu_ioctl_save_state,
		 struct vhost_iommu_state, len, false),
	IOCTL_OP(VHOST_IOMMU_LOAD_STATE, vhost_iommu_ioctl_load_state,
		 struct vhost_iommu_state, len, false),
	IOCTL_OP(VHOST_IOMMU_REPORT_OPEN, vhost_iommu_ioctl_report_open,
		 struct vhost_iommu_report_open, __reserved, false),
};

static const struct vhost_iommu_ioctl_op *vhost_iommu_ioctl_op(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd) - VHOST_IOMMU_IOCTL_BASE;
	const struct vhost_iommu_ioctl_op *op;

	if (_IOC_NR(cmd) < VHOST_IOMMU_IOCTL_BASE ||
	    nr >= ARRAY_SIZE(vhost_iommu_ioctl_ops))
		return NULL;
	op = &vhost_iommu_ioctl_ops[array_index_nospec(nr,
				ARRAY_SIZE(vhost_iommu_ioctl_ops))];
	/* Another type, direction or size than ours; or a table out of order */
	return op->ioctl_num == cmd ? op : NULL;
}

/*
 * The size-first copy: the size is read first, then the struct, up to
 * what this kernel knows, with any longer tail required to be zero.
 */
static int vhost_iommu_ucmd_in(const struct vhost_iommu_ioctl_op *op,
			       void __user *argp, void *buf, u32 *usize)
{
	if (get_user(*usize, (u32 __user *)argp))
		return -EFAULT;
	if (*usize < op->min_size)
		return -EINVAL;
	/* The zero-tail scan must not walk gigabytes under the mutex. */
	if (*usize > VHOST_IOMMU_ARG_MAX)
		return -E2BIG;
	return copy_struct_from_user(buf, op->size, argp, *usize);
}

static long vhost_iommu_ucmd_run(struct vhost_iommu *vi,
				 const struct vhost_iommu_ioctl_op *op,
				 void __user *argp, bool locked)
{
	union vhost_iommu_ucmd_buffer buf;
	struct vhost_iommu_ucmd ucmd = {
		.vi = vi,
		.ubuffer = argp,
		.locked = locked,
		.cmd = &buf,
	};
	int ret;

	if (!vhost_iommu_worker_is_owner(&vi->worker))
		return -EPERM;
	ret = vhost_iommu_ucmd_in(op, argp, &buf, &ucmd.user_size);
	if (ret)
		return ret;
	return op->execute(&ucmd);
}

/**
 * vhost_iommu_device_ioctl() - a VHOST_IOMMU_* ioctl
 * @vi: the device
 * @cmd: the ioctl number
 * @argp: its argument, size first
 *
 * The owner's ioctls run under the device mutex, but GET_STATS and
 * TRANSLATE without a report: the VMM must get answers while another
 * ioctl waits for a request that holds the store long (an UNMAP of
 * millions of mappings). The owner check reads the owner's mm once; the
 * device cannot go away under an ioctl of its file.
 *
 * Return: 0 or a negative errno, as documented in the uapi header;
 * -ENOTTY for an ioctl the device does not know.
 */
long vhost_iommu_device_ioctl(struct vhost_iommu *vi, unsigned int cmd,
			      void __user *argp)
{
	const struct vhost_iommu_ioctl_op *op = vhost_iommu_ioctl_op(cmd);
	long ret;

	if (!op)
		return -ENOTTY;
	if (op->lockless) {
		ret = vhost_iommu_ucmd_run(vi, op, argp, false);
		if (ret != -EAGAIN)
			return ret;
	}
	mutex_lock(&vi->mutex);
	ret = vhost_iommu_ucmd_run(vi, op, argp, true);
	mutex_unlock(&vi->mutex);
	return ret;
}
