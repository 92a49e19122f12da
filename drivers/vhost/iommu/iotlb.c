// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the device IOTLB of VMM-managed domains.
 *
 * A VMM-managed domain holds translations the VMM writes with
 * VHOST_IOMMU_IOTLB_UPDATE, in the same store as the mappings of a
 * guest-managed domain, so the vhost-net bridge and VHOST_IOMMU_TRANSLATE
 * serve both alike through the store's one lookup. A bound vhost-net
 * device's miss that no translation covers becomes a record of the miss
 * queue (missq.c); an UPDATE answers the records it covers.
 */
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "common.h"
#include "iotlb.h"

/**
 * vhost_iommu_iotlb_attach() - VHOST_IOMMU_IOTLB_ATTACH
 * @s: the store
 * @arg: the argument, copied in
 *
 * Return: 0 or a negative errno, as documented in the uapi header.
 */
int vhost_iommu_iotlb_attach(struct vhost_iommu_store *s,
			     const struct vhost_iommu_iotlb_attach *arg)
{
	if (arg->flags & ~VHOST_IOMMU_IOTLB_ATTACH_F_DETACH)
		return -EINVAL;
	return vhost_iommu_store_vmm_attach(s, arg->domain, arg->endpoint,
					    arg->flags);
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
 * Checks every entry, sorted by IOVA, and turns it into the store's
 * form. Context: the device mutex held (the granule cannot change).
 */
static int vhost_iommu_entries_to_xlate(struct vhost_iommu_store *s,
					const struct vhost_iommu_iotlb_entry *e,
					struct vhost_iommu_xlate *x, u32 nr,
					bool update)
{
	u64 granule = vhost_iommu_store_granule(s);
	u32 i;
	int ret;

	for (i = 0; i < nr; i++) {
		ret = vhost_iommu_entry_check(&e[i], granule, update);
		if (ret)
			return ret;
		x[i] = (struct vhost_iommu_xlate) {
			.iova = e[i].iova,
			.last = e[i].iova + (e[i].size - 1),
			.phys = e[i].gpa,
			.perm = vhost_iommu_access_to_perm(e[i].perm),
		};
	}
	return 0;
}

static int vhost_iommu_iotlb_apply(struct vhost_iommu_store *s,
				   struct vhost_iommu_missq *q, u32 domain,
				   struct vhost_iommu_iotlb_entry *e, u32 nr,
				   bool update)
{
	struct vhost_iommu_xlate *x;
	int ret;
	u32 i;

	x = kvmalloc_array(nr, sizeof(*x), VHOST_IOMMU_GFP);
	if (!x)
		return -ENOMEM;
	sort(e, nr, sizeof(*e), vhost_iommu_entry_cmp, NULL);
	/* The domain is checked first, then the entries (the uapi's order) */
	ret = vhost_iommu_store_vmm_check(s, domain);
	if (!ret)
		ret = vhost_iommu_entries_to_xlate(s, e, x, nr, update);
	if (!ret && !update)
		ret = vhost_iommu_store_vmm_unmap(s, domain, x, nr);
	if (!ret && update)
		ret = vhost_iommu_store_vmm_map(s, domain, x, nr);
	/*
	 * Misses of the new translations need no record any more. A miss is
	 * looked up and queued under the store lock, so none of them is
	 * queued after the UPDATE and before this.
	 */
	for (i = 0; !ret && update && i < nr; i++)
		vhost_iommu_missq_answered(q, domain, x[i].iova, x[i].last);
	kvfree(x);
	return ret;
}

/**
 * vhost_iommu_iotlb_batch() - VHOST_IOMMU_IOTLB_UPDATE and _INVALIDATE
 * @s: the store
 * @q: the miss queue
 * @arg: the argument, copied in
 * @update: UPDATE, else INVALIDATE
 *
 * Context: the device mutex held, the caller is the owner.
 * Return: 0 or a negative errno, as documented in the uapi header.
 */
int vhost_iommu_iotlb_batch(struct vhost_iommu_store *s,
			    struct vhost_iommu_missq *q,
			    const struct vhost_iommu_iotlb_batch *arg,
			    bool update)
{
	struct vhost_iommu_iotlb_entry *e;
	int ret;

	if (arg->flags || !arg->nr)
		return -EINVAL;
	if (arg->nr > VHOST_IOMMU_IOTLB_MAX_BATCH)
		return -E2BIG;
	e = memdup_user(u64_to_user_ptr(arg->entries),
			array_size(arg->nr, sizeof(*e)));
	if (IS_ERR(e))
		return PTR_ERR(e);
	ret = vhost_iommu_iotlb_apply(s, q, arg->domain, e, arg->nr, update);
	kfree(e);
	return ret;
}
