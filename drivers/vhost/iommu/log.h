/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the dirty log (VHOST_F_LOG_ALL).
 */
#ifndef _VHOST_IOMMU_LOG_H
#define _VHOST_IOMMU_LOG_H

#include <linux/types.h>

/* Guest-physical bytes one bit of the log stands for, as for vhost */
#define VHOST_IOMMU_LOG_PAGE	0x1000

int vhost_iommu_log_write(void __user *base, u64 gpa, u64 len);
bool vhost_iommu_log_access_ok(void __user *base, u64 gpa, u64 len);

#endif /* _VHOST_IOMMU_LOG_H */
