/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: what every unit shares. Nothing here calls anything.
 */
#ifndef _VHOST_IOMMU_COMMON_H
#define _VHOST_IOMMU_COMMON_H

#include <linux/gfp.h>

#include "compat.h"

/*
 * Every allocation the guest or the VMM causes: charged to the VMM's
 * memcg (the worker runs with it active), and failing at the limit
 * instead of invoking the OOM killer (__GFP_RETRY_MAYFAIL), quietly: the
 * guest gets VIRTIO_IOMMU_S_NOMEM, the VMM ENOMEM.
 */
#define VHOST_IOMMU_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Requests, buffers or misses handled per worker run before a work yields */
#define VHOST_IOMMU_BUDGET		64
/*
 * Descriptors walked per worker run of a queue before it yields: a chain
 * may hold up to twice the queue size (an indirect table as long as the
 * queue), so VHOST_IOMMU_BUDGET chains alone would not bound the walk. A
 * run ends after the chain that reaches it.
 */
#define VHOST_IOMMU_DESC_BUDGET		4096

#endif /* _VHOST_IOMMU_COMMON_H */
