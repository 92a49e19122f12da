// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the guest memory table.
 *
 * VHOST_SET_MEM_TABLE's regions, sorted by guest-physical address and
 * checked once (no overlap, accessible owner memory), published with RCU
 * and looked up by binary search: by the ring to reach descriptors and
 * request buffers, by the vhost-net bridge to turn a guest-physical
 * address into the owner's address vhost-net needs.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "common.h"
#include "mem.h"

static unsigned int vhost_iommu_max_mem_regions = 64;
module_param_named(max_mem_regions, vhost_iommu_max_mem_regions, uint, 0444);
MODULE_PARM_DESC(max_mem_regions, "Regions in a memory table");

/**
 * struct vhost_iommu_mem_table - a memory table, immutable once published
 * @rcu: frees the table after readers are done
 * @nregions: number of regions
 * @regions: sorted by guest_phys_addr, non-overlapping
 */
struct vhost_iommu_mem_table {
	struct rcu_head rcu;
	u32 nregions;
	struct vhost_memory_region regions[];
};

static int vhost_iommu_region_cmp(const void *a, const void *b)
{
	const struct vhost_memory_region *ra = a, *rb = b;

	if (ra->guest_phys_addr < rb->guest_phys_addr)
		return -1;
	return ra->guest_phys_addr > rb->guest_phys_addr;
}

static int vhost_iommu_mem_check(struct vhost_iommu_mem_table *t)
{
	struct vhost_memory_region *r, *prev = NULL;
	u32 i;

	sort(t->regions, t->nregions, sizeof(*r), vhost_iommu_region_cmp,
	     NULL);
	for (i = 0; i < t->nregions; i++) {
		r = &t->regions[i];
		if (!r->memory_size || r->flags_padding)
			return -EINVAL;
		if (r->guest_phys_addr + r->memory_size - 1 < r->guest_phys_addr ||
		    r->userspace_addr + r->memory_size - 1 < r->userspace_addr ||
		    (unsigned long)r->userspace_addr != r->userspace_addr ||
		    !access_ok(u64_to_user_ptr(r->userspace_addr),
			       r->memory_size))
			return -EFAULT;
		/* Last addresses: a region may end at 2^64 - 1. */
		if (prev && prev->guest_phys_addr + (prev->memory_size - 1) >=
			    r->guest_phys_addr)
			return -EINVAL;
		prev = r;
	}
	return 0;
}

/**
 * vhost_iommu_mem_table_from_user() - copy and check VHOST_SET_MEM_TABLE's
 *	argument
 * @m: the table in user memory
 *
 * Regions must not overlap in guest-physical space and must be accessible
 * user memory.
 * Return: the table, ERR_PTR(-E2BIG) past max_mem_regions, -EOPNOTSUPP
 * (padding), -EINVAL, -EFAULT or -ENOMEM.
 */
struct vhost_iommu_mem_table *
vhost_iommu_mem_table_from_user(struct vhost_memory __user *m)
{
	struct vhost_iommu_mem_table *t;
	struct vhost_memory hdr;
	int ret;

	if (copy_from_user(&hdr, m, sizeof(hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr.padding)
		return ERR_PTR(-EOPNOTSUPP);
	if (hdr.nregions > vhost_iommu_max_mem_regions)
		return ERR_PTR(-E2BIG);
	t = kvzalloc(struct_size(t, regions, hdr.nregions), VHOST_IOMMU_GFP);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->nregions = hdr.nregions;
	ret = -EFAULT;
	if (copy_from_user(t->regions, m->regions,
			   hdr.nregions * sizeof(*t->regions)))
		goto err_free;
	ret = vhost_iommu_mem_check(t);
	if (ret)
		goto err_free;
	return t;

err_free:
	kvfree(t);
	return ERR_PTR(ret);
}

/* Frees a table vhost_iommu_mem_table_from_user() gave, never published */
void vhost_iommu_mem_table_free(struct vhost_iommu_mem_table *t)
{
	kvfree(t);
}

/**
 * vhost_iommu_mem_replace() - publish a table, free the old one
 * @mem: the device's memory
 * @table: the new table, or NULL
 *
 * Context: the device mutex held (writers are serialized), and whatever
 * the readers that must not see the change in the middle of their work
 * hold (see the caller).
 */
void vhost_iommu_mem_replace(struct vhost_iommu_mem *mem,
			     struct vhost_iommu_mem_table *table)
{
	struct vhost_iommu_mem_table *old;

	/* Writers are serialized by the device mutex: see above. */
	old = rcu_replace_pointer(mem->table, table, true);
	if (old)
		kvfree_rcu(old, rcu);
}

/*
 * The region holding @gpa, by binary search over the sorted regions,
 * open-coded: bsearch() calls its comparison through a pointer, which
 * costs more than the search on the request path. Context: RCU read lock.
 */
static const struct vhost_memory_region *
vhost_iommu_mem_find(struct vhost_iommu_mem *mem, u64 gpa)
{
	struct vhost_iommu_mem_table *t = rcu_dereference(mem->table);
	const struct vhost_memory_region *r;
	u32 lo = 0, hi;

	if (!t)
		return NULL;
	hi = t->nregions;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		r = &t->regions[mid];
		if (gpa < r->guest_phys_addr)
			hi = mid;
		else if (gpa - r->guest_phys_addr >= r->memory_size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/**
 * vhost_iommu_mem_lookup() - the memory region holding a guest address
 * @mem: the device's memory
 * @gpa: guest-physical address
 * @region: filled with a copy of the region
 *
 * Context: any; takes the RCU read lock.
 * Return: true if a region of the memory table holds @gpa.
 */
bool vhost_iommu_mem_lookup(struct vhost_iommu_mem *mem, u64 gpa,
			    struct vhost_memory_region *region)
{
	const struct vhost_memory_region *r;

	rcu_read_lock();
	r = vhost_iommu_mem_find(mem, gpa);
	if (r)
		*region = *r;
	rcu_read_unlock();
	return r;
}

/**
 * vhost_iommu_table_end() - where a table's guest memory ends
 * @t: a table, or NULL
 *
 * Return: the last guest-physical address a region holds, plus one (0
 * for no table or no region); saturates at U64_MAX.
 */
u64 vhost_iommu_table_end(const struct vhost_iommu_mem_table *t)
{
	const struct vhost_memory_region *r;

	if (!t || !t->nregions)
		return 0;
	r = &t->regions[t->nregions - 1];
	return r->guest_phys_addr + (r->memory_size - 1) == U64_MAX ?
	       U64_MAX : r->guest_phys_addr + r->memory_size;
}

/**
 * vhost_iommu_mem_end() - where the device's guest memory ends
 * @mem: the device's memory
 *
 * Context: the device mutex held (the table does not change).
 * Return: as vhost_iommu_table_end() of the current table.
 */
u64 vhost_iommu_mem_end(struct vhost_iommu_mem *mem)
{
	return vhost_iommu_table_end(rcu_dereference_protected(mem->table,
							       true));
}

/**
 * vhost_iommu_mem_span() - the part of a guest range one region holds
 * @mem: the device's memory
 * @gpa: first guest-physical address
 * @len: length of the range
 * @hva: set to the owner's address of @gpa
 *
 * Context: any; the caller keeps the owner's addresses only as long as
 * the table cannot change (the ring holds a vq mutex, which a replacement
 * takes).
 * Return: the bytes of [@gpa, @gpa + @len) that the region holding @gpa
 * holds from @gpa on, 0 when no region holds @gpa.
 */
u32 vhost_iommu_mem_span(struct vhost_iommu_mem *mem, u64 gpa, u32 len,
			 u64 *hva)
{
	const struct vhost_memory_region *r;
	u64 off, n = 0;

	rcu_read_lock();
	r = vhost_iommu_mem_find(mem, gpa);
	if (r) {
		off = gpa - r->guest_phys_addr;
		n = min_t(u64, len, r->memory_size - off);
		*hva = r->userspace_addr + off;
	}
	rcu_read_unlock();
	return n;
}
