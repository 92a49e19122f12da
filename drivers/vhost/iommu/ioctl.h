/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the VHOST_IOMMU_* ioctls.
 */
#ifndef _VHOST_IOMMU_IOCTL_H
#define _VHOST_IOMMU_IOCTL_H

struct vhost_iommu;

long vhost_iommu_device_ioctl(struct vhost_iommu *vi, unsigned int cmd,
			      void __user *argp);

#endif /* _VHOST_IOMMU_IOCTL_H */
