/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: what differs between the kernels the module is built for,
 * Debian's 6.1 and 6.12, each difference stated once. drivers/vhost/iommu/Kbuild
 * probes the kernel's headers and defines the VHOST_IOMMU_* macros tested
 * here; nothing else in the module depends on the kernel it is built for.
 */
#ifndef _VHOST_IOMMU_COMPAT_H
#define _VHOST_IOMMU_COMPAT_H

#include <linux/eventfd.h>

/* 6.1 only: eventfd_signal() takes a count; 6.8 dropped it (always 1). */
#ifdef VHOST_IOMMU_EVENTFD_SIGNAL_N
#define vhost_iommu_eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#else
#define vhost_iommu_eventfd_signal(ctx)	eventfd_signal(ctx)
#endif

#endif /* _VHOST_IOMMU_COMPAT_H */
