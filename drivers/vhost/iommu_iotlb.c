// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the device IOTLB of VMM-managed domains.
 *
 * A VMM-managed domain holds translations the VMM writes with
 * VHOST_IOMMU_IOTLB_UPDATE, in the same tree as the mappings of a
 * guest-managed domain, so the vhost-net bridge and VHOST_IOMMU_TRANSLATE
 * serve both alike. A bound vhost-net device's miss that no translation
 * covers becomes a record in a bounded queue that the VMM reads from the
 * device file, after an eventfd signal. The queue never drops a miss: when
 * it is full, the bridge leaves further misses unread in vhost-net until a
 * read makes room.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "iommu.h"

unsigned int vhost_iommu_iotlb_queue_len = VHOST_IOMMU_MISS_QUEUE_MAX;
module_param_named(iotlb_queue_len, vhost_iommu_iotlb_queue_len, uint, 0644);
MODULE_PARM_DESC(iotlb_queue_len,
		 "Device IOTLB miss records waiting for the VMM (1-256)");

static unsigned int vhost_iommu_miss_queue_len(void)
{
	return clamp_t(unsigned int, READ_ONCE(vhost_iommu_iotlb_queue_len), 1,
		       VHOST_IOMMU_MISS_QUEUE_MAX);
}

static struct vhost_iommu_iotlb_miss *
vhost_iommu_miss_at(struct vhost_iommu *vi, unsigned int i)
{
	return &vi->missq[(vi->miss_head + i) % VHOST_IOMMU_MISS_QUEUE_MAX];
}

/**
 * vhost_iommu_iotlb_must_wait() - whether a miss could not be queued
 * @vi: the device
 * @dom: the domain of the endpoint about to miss, or NULL
 *
 * Context: vhost_iommu.domain_lock held.
 * Return: true when @dom is VMM-managed and the miss queue is full.
 */
bool vhost_iommu_iotlb_must_wait(struct vhost_iommu *vi,
				 struct vhost_iommu_domain *dom)
{
	lockdep_assert_held(&vi->domain_lock);
	return dom && dom->vmm &&
	       vi->miss_count >= vhost_iommu_miss_queue_len();
}

/**
 * vhost_iommu_iotlb_note_full() - a miss waits in vhost-net for room
 * @vi: the device
 *
 * Counted once per filling; the next record read is flagged.
 * Context: vhost_iommu.domain_lock held.
 */
void vhost_iommu_iotlb_note_full(struct vhost_iommu *vi)
{
	lockdep_assert_held(&vi->domain_lock);
	if (!vi->miss_full) {
		vi->miss_full = true;
		atomic64_inc(&vi->stats.iotlb_queue_full);
	}
}

/**
 * vhost_iommu_iotlb_queue_miss() - queue a miss for the VMM
 * @vi: the device
 * @dom: the VMM-managed domain
 * @endpoint: the endpoint that missed
 * @iova: the address
 * @access: VHOST_IOMMU_ACCESS_*
 *
 * Merged into an unread record of the same page if there is one. The
 * caller checked vhost_iommu_iotlb_must_wait() under the same lock hold.
 * Context: vhost_iommu.domain_lock held.
 */
void vhost_iommu_iotlb_queue_miss(struct vhost_iommu *vi,
				  struct vhost_iommu_domain *dom,
				  u32 endpoint, u64 iova, u32 access)
{
	struct vhost_iommu_iotlb_miss *rec;
	unsigned int i;

	lockdep_assert_held(&vi->domain_lock);
	iova &= ~(vhost_iommu_granule(vi) - 1);
	for (i = vi->miss_reading; i < vi->miss_count; i++) {
		rec = vhost_iommu_miss_at(vi, i);
		if (rec->domain == dom->id && rec->iova == iova) {
			rec->access |= access;
			atomic64_inc(&vi->stats.iotlb_coalesced);
			return;
		}
	}
	if (vi->miss_count >= VHOST_IOMMU_MISS_QUEUE_MAX)
		return;
	rec = vhost_iommu_miss_at(vi, vi->miss_count++);
	*rec = (struct vhost_iommu_iotlb_miss) {
		.size = sizeof(*rec),
		.endpoint = endpoint,
		.domain = dom->id,
		.iova = iova,
		.access = access,
	};
	atomic64_inc(&vi->stats.iotlb_queued);
	if (vi->miss_notify)
		vhost_iommu_eventfd_signal(vi->miss_notify);
}

/* Forgets the unread records that [first, last] of @dom now answers. */
static void vhost_iommu_iotlb_answered(struct vhost_iommu *vi,
				       struct vhost_iommu_domain *dom,
				       u64 first, u64 last)
{
	struct vhost_iommu_iotlb_miss *rec;
	unsigned int i, kept = 0;

	for (i = 0; i < vi->miss_count; i++) {
		rec = vhost_iommu_miss_at(vi, i);
		if (rec->domain == dom->id && rec->iova >= first &&
		    rec->iova <= last)
			continue;
		*vhost_iommu_miss_at(vi, kept++) = *rec;
	}
	vi->miss_count = kept;
	if (kept < vhost_iommu_miss_queue_len())
		vhost_iommu_bridge_resume(vi);
}

/**
 * vhost_iommu_iotlb_read() - read() of the device: fetch miss records
 * @vi: the device
 * @buf: user buffer
 * @count: its size
 *
 * Context: vhost_iommu.mutex held (one reader at a time).
 * Return: bytes read, -EINVAL (buffer too small), -EAGAIN (nothing
 * pending) or -EFAULT, in which case the records stay queued.
 */
ssize_t vhost_iommu_iotlb_read(struct vhost_iommu *vi, char __user *buf,
			       size_t count)
{
	struct vhost_iommu_iotlb_miss *recs;
	unsigned int n, i;
	bool full;
	ssize_t ret;

	if (count < sizeof(*recs))
		return -EINVAL;
	n = min_t(size_t, count / sizeof(*recs), VHOST_IOMMU_MISS_QUEUE_MAX);
	recs = kmalloc_array(n, sizeof(*recs), VHOST_IOMMU_GFP);
	if (!recs)
		return -ENOMEM;

	/*
	 * The records are copied out without the lock (the copy may fault
	 * on the VMM's memory) and removed after: meanwhile the bridge may
	 * add records behind them, but must not merge an access into one
	 * of them (vi->miss_reading), or the VMM would never learn of it.
	 */
	mutex_lock(&vi->domain_lock);
	n = min(n, vi->miss_count);
	for (i = 0; i < n; i++)
		recs[i] = *vhost_iommu_miss_at(vi, i);
	full = n && vi->miss_full;
	if (full) {
		recs[0].flags |= VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL;
		vi->miss_full = false;
	}
	vi->miss_reading = n;
	mutex_unlock(&vi->domain_lock);

	ret = -EAGAIN;
	if (!n)
		goto out_free;
	ret = copy_to_user(buf, recs, n * sizeof(*recs)) ? -EFAULT : 0;

	/* Only this reader removes records (vhost_iommu.mutex). */
	mutex_lock(&vi->domain_lock);
	vi->miss_reading = 0;
	if (ret) {
		vi->miss_full |= full;
	} else {
		vi->miss_head = (vi->miss_head + n) %
				VHOST_IOMMU_MISS_QUEUE_MAX;
		vi->miss_count -= n;
		vhost_iommu_bridge_resume(vi);
		ret = n * sizeof(*recs);
	}
	mutex_unlock(&vi->domain_lock);
out_free:
	kfree(recs);
	return ret;
}

static int vhost_iommu_entry_cmp(const void *a, const void *b)
{
	const struct vhost_iommu_iotlb_entry *ea = a, *eb = b;

	if (ea->iova < eb->iova)
		return -1;
	return ea->iova > eb->iova;
}

/* Checks one entry on its own: alignment, size, permissions. */
static int vhost_iommu_entry_check(const struct vhost_iommu_iotlb_entry *e,
				   u64 granule, bool update)
{
	u32 perms = VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE;

	if (!e->size || e->__reserved || ((e->iova | e->size) & (granule - 1)))
		return -EINVAL;
	if (update ? (!e->perm || (e->perm & ~perms) ||
		      (e->gpa & (granule - 1))) : (e->perm || e->gpa))
		return -EINVAL;
	if (e->iova + (e->size - 1) < e->iova ||
	    e->gpa + (e->size - 1) < e->gpa)
		return -EOVERFLOW;
	return 0;
}

/*
 * Checks a batch, sorted by IOVA, against itself and the domain.
 * Context: domain_lock held.
 */
static int vhost_iommu_batch_check(struct vhost_iommu *vi,
				   struct vhost_iommu_domain *dom,
				   const struct vhost_iommu_iotlb_entry *e,
				   u32 nr, bool update)
{
	u64 granule = vhost_iommu_granule(vi);
	u32 i;
	int ret;

	for (i = 0; i < nr; i++) {
		ret = vhost_iommu_entry_check(&e[i], granule, update);
		if (ret)
			return ret;
	}
	if (!update)
		return 0;
	for (i = 0; i < nr; i++)
		if ((i && e[i - 1].iova + (e[i - 1].size - 1) >= e[i].iova) ||
		    vhost_iommu_mapping_first(dom, e[i].iova,
					      e[i].iova + (e[i].size - 1)))
			return -EEXIST;
	if (vi->nr_mappings + nr > READ_ONCE(vhost_iommu_max_mappings))
		return -ENOSPC;
	return 0;
}

static int vhost_iommu_iotlb_update(struct vhost_iommu *vi,
				    struct vhost_iommu_domain *dom,
				    const struct vhost_iommu_iotlb_entry *e,
				    u32 nr)
{
	struct vhost_iommu_mapping **maps;
	u32 i;

	maps = kcalloc(nr, sizeof(*maps), VHOST_IOMMU_GFP);
	if (!maps)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		maps[i] = vhost_iommu_mapping_insert(vi, dom, e[i].iova,
						     e[i].iova + (e[i].size - 1),
						     e[i].gpa, e[i].perm);
		if (IS_ERR(maps[i]))
			goto err_remove;
	}
	for (i = 0; i < nr; i++) {
		vhost_iommu_bridge_mapped(vi, dom, maps[i], true);
		vhost_iommu_iotlb_answered(vi, dom, maps[i]->iova,
					   maps[i]->last);
	}
	kfree(maps);
	return 0;

err_remove:
	/* Nothing was handed out yet: removing invalidates nothing. */
	while (i--)
		vhost_iommu_mappings_remove(vi, dom, e[i].iova,
					    e[i].iova + (e[i].size - 1));
	kfree(maps);
	return -ENOMEM;
}

static int vhost_iommu_iotlb_batch(struct vhost_iommu *vi, u32 domain,
				   struct vhost_iommu_iotlb_entry *e, u32 nr,
				   bool update)
{
	struct vhost_iommu_domain *dom;
	int ret;
	u32 i;

	sort(e, nr, sizeof(*e), vhost_iommu_entry_cmp, NULL);
	mutex_lock(&vi->domain_lock);
	dom = xa_load(&vi->domains, domain);
	ret = -ENOENT;
	if (!dom)
		goto out;
	ret = -EPERM;
	if (!dom->vmm)
		goto out;
	ret = vhost_iommu_batch_check(vi, dom, e, nr, update);
	if (ret)
		goto out;
	if (update) {
		ret = vhost_iommu_iotlb_update(vi, dom, e, nr);
		goto out;
	}
	for (i = 0; i < nr; i++)
		vhost_iommu_mappings_remove(vi, dom, e[i].iova,
					    e[i].iova + (e[i].size - 1));
out:
	mutex_unlock(&vi->domain_lock);
	return ret;
}

static long vhost_iommu_ioctl_batch(struct vhost_iommu *vi,
				    const struct vhost_iommu_iotlb_batch *arg,
				    bool update)
{
	struct vhost_iommu_iotlb_entry *e;
	long ret;

	if (arg->flags || !arg->nr)
		return -EINVAL;
	if (arg->nr > VHOST_IOMMU_IOTLB_MAX_BATCH)
		return -E2BIG;
	e = memdup_user(u64_to_user_ptr(arg->entries),
			array_size(arg->nr, sizeof(*e)));
	if (IS_ERR(e))
		return PTR_ERR(e);
	ret = vhost_iommu_iotlb_batch(vi, arg->domain, e, arg->nr, update);
	kfree(e);
	return ret;
}

static long vhost_iommu_set_notify(struct vhost_iommu *vi, int fd)
{
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	mutex_lock(&vi->domain_lock);
	old = vi->miss_notify;
	vi->miss_notify = ctx;
	mutex_unlock(&vi->domain_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

/**
 * vhost_iommu_iotlb_ioctl() - the VHOST_IOMMU_IOTLB_* ioctls
 * @vi: the device
 * @ioctl: the ioctl number
 * @argp: its argument, size first
 *
 * Context: vhost_iommu.mutex held, the caller is the owner.
 * Return: 0 or a negative errno, as documented in the uapi header.
 */
long vhost_iommu_iotlb_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
			     void __user *argp)
{
	union {
		struct vhost_iommu_iotlb_attach attach;
		struct vhost_iommu_iotlb_batch batch;
		struct vhost_iommu_iotlb_notify notify;
	} u;
	size_t ksize;
	u32 usize;
	int ret;

	switch (ioctl) {
	case VHOST_IOMMU_IOTLB_ATTACH:
		ksize = sizeof(u.attach);
		break;
	case VHOST_IOMMU_IOTLB_UPDATE:
	case VHOST_IOMMU_IOTLB_INVALIDATE:
		ksize = sizeof(u.batch);
		break;
	default:
		ksize = sizeof(u.notify);
	}
	ret = vhost_iommu_arg_in(&u, ksize, ksize, argp, &usize);
	if (ret)
		return ret;

	switch (ioctl) {
	case VHOST_IOMMU_IOTLB_ATTACH:
		if (u.attach.flags & ~VHOST_IOMMU_IOTLB_ATTACH_F_DETACH)
			return -EINVAL;
		return vhost_iommu_vmm_attach(vi, u.attach.domain,
					      u.attach.endpoint,
					      u.attach.flags);
	case VHOST_IOMMU_IOTLB_UPDATE:
	case VHOST_IOMMU_IOTLB_INVALIDATE:
		return vhost_iommu_ioctl_batch(vi, &u.batch,
					       ioctl == VHOST_IOMMU_IOTLB_UPDATE);
	default:
		if (u.notify.flags || u.notify.__reserved)
			return -EINVAL;
		return vhost_iommu_set_notify(vi, u.notify.fd);
	}
}

/**
 * vhost_iommu_iotlb_reset() - forget queued misses and the eventfd
 * @vi: the device
 *
 * Context: vhost_iommu.mutex held, no binding left.
 */
void vhost_iommu_iotlb_reset(struct vhost_iommu *vi)
{
	vhost_iommu_set_notify(vi, -1);
	mutex_lock(&vi->domain_lock);
	vi->miss_head = 0;
	vi->miss_count = 0;
	vi->miss_reading = 0;
	vi->miss_full = false;
	mutex_unlock(&vi->domain_lock);
}
