/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-iommu: the request and event queues of a virtio-iommu device,
 * executed in the host kernel.
 *
 * /dev/vhost-iommu is driven like the other vhost devices: the VMM opens it,
 * becomes its owner with VHOST_SET_OWNER, negotiates features with
 * VHOST_GET_FEATURES / VHOST_SET_FEATURES and hands over its virtqueues with
 * the VHOST_SET_VRING_* ioctls of <linux/vhost.h>. Virtqueue 0 is the
 * request queue, virtqueue 1 the event queue (virtio spec, "IOMMU Device").
 */
#ifndef _UAPI_LINUX_VHOST_IOMMU_H
#define _UAPI_LINUX_VHOST_IOMMU_H

#include <linux/types.h>
#include <linux/vhost.h>

#endif /* _UAPI_LINUX_VHOST_IOMMU_H */
