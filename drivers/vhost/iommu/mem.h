/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the guest memory table (guest-physical to owner addresses).
 */
#ifndef _VHOST_IOMMU_MEM_H
#define _VHOST_IOMMU_MEM_H

#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/vhost_types.h>

struct vhost_iommu_mem_table;

/**
 * struct vhost_iommu_mem - the memory table of a device
 * @table: the table, immutable once published; replaced under the
 *	device mutex (see vhost_iommu_mem_replace()), read under RCU
 */
struct vhost_iommu_mem {
	struct vhost_iommu_mem_table __rcu *table;
};

struct vhost_iommu_mem_table *
vhost_iommu_mem_table_from_user(struct vhost_memory __user *m);
void vhost_iommu_mem_table_free(struct vhost_iommu_mem_table *t);
void vhost_iommu_mem_replace(struct vhost_iommu_mem *mem,
			     struct vhost_iommu_mem_table *table);
bool vhost_iommu_mem_lookup(struct vhost_iommu_mem *mem, u64 gpa,
			    struct vhost_memory_region *region);
u64 vhost_iommu_table_end(const struct vhost_iommu_mem_table *t);
u64 vhost_iommu_mem_end(struct vhost_iommu_mem *mem);
u32 vhost_iommu_mem_span(struct vhost_iommu_mem *mem, u64 gpa, u32 len,
			 u64 *hva);

#endif /* _VHOST_IOMMU_MEM_H */
