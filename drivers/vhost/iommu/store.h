/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the domain store, and the ops of its subscribers.
 */
#ifndef _VHOST_IOMMU_STORE_H
#define _VHOST_IOMMU_STORE_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/vhost_iommu.h>
#include <linux/virtio_iommu.h>
#include <linux/xarray.h>

/**
 * struct vhost_iommu_xlate - a translation, as the store hands it out
 * @iova: first IOVA
 * @last: last IOVA (inclusive)
 * @phys: guest-physical address of @iova
 * @perm: VIRTIO_IOMMU_MAP_F_* (READ, WRITE, MMIO)
 * @domain: id of the domain it comes from (lookups: the endpoint's domain,
 *	whatever the outcome, when it has one)
 * @vmm: that domain is VMM-managed
 * @identity: bypass: IOVA == GPA for the whole space, read and write
 *
 * A copy: it stays valid after the store's locks are dropped, but not true.
 */
struct vhost_iommu_xlate {
	u64 iova;
	u64 last;
	u64 phys;
	u32 perm;
	u32 domain;
	bool vmm;
	bool identity;
};

struct vhost_iommu_sub;

/**
 * struct vhost_iommu_sub_ops - what a consumer of the store is told
 * @invalidate_all: everything translated for the endpoint may have
 *	changed: it was attached, detached or moved, the bypass setting
 *	changed for it, or the memory table was replaced
 *	(vhost_iommu_store_invalidate_all())
 * @unmapped: [@first, @last] of the endpoint's domain was unmapped
 * @mapped: @map was created in the endpoint's domain; @push: the VMM
 *	made it (device IOTLB), hand it out at once
 *
 * Rules, for every op:
 * - Called with the store lock held (a mutex): the op is serialized with
 *   every change of the store and with every other op, and may sleep. It
 *   may look up (vhost_iommu_store_lookup(), vhost_iommu_store_granule())
 *   but must not change the store.
 * - It may take locks that come after the store lock in the lock order
 *   (device.h): a bound vhost-net device's mutexes, spinlocks.
 * - @unmapped and @invalidate_all return only once the consumer holds
 *   nothing of what they remove, and has told whatever it handed it to:
 *   the request that caused them completes after they return.
 * - Ops are called in the context of the change: the worker (a guest
 *   request) or an ioctl of the owner.
 */
struct vhost_iommu_sub_ops {
	void (*invalidate_all)(struct vhost_iommu_sub *sub);
	void (*unmapped)(struct vhost_iommu_sub *sub, u64 first, u64 last);
	void (*mapped)(struct vhost_iommu_sub *sub,
		       const struct vhost_iommu_xlate *map, bool push);
};

/**
 * struct vhost_iommu_sub - a consumer's subscription to an endpoint
 * @ops: its ops
 * @endpoint: the endpoint, set by vhost_iommu_store_subscribe()
 * @node: in the endpoint's list; protected by the store lock
 */
struct vhost_iommu_sub {
	const struct vhost_iommu_sub_ops *ops;
	u32 endpoint;
	struct list_head node;
};

/**
 * struct vhost_iommu_resv - a reserved region of an endpoint
 * @start: first address
 * @end: last address (inclusive)
 * @subtype: VIRTIO_IOMMU_RESV_MEM_T_*
 */
struct vhost_iommu_resv {
	u64 start;
	u64 end;
	u8 subtype;
};

/**
 * struct vhost_iommu_store - endpoints, domains and mappings of a device
 * @lock: the store lock: every change, and every op of a subscriber
 * @features: the negotiated features, which decide some checks; @lock
 * @config: the configuration space; @lock (bypass is also read locklessly)
 * @reset_bypass: what @config.bypass goes back to at a device reset: the
 *	VMM's last value, not the driver's; @lock
 * @domains: domain id -> domain; @lock
 * @endpoints: endpoint id -> endpoint; @lock, read under RCU
 * @nr_domains: live domains; @lock, read locklessly for statistics
 * @nr_endpoints: declared endpoints; as @nr_domains
 * @nr_report: declared endpoints with VHOST_IOMMU_ENDPOINT_F_REPORT; @lock
 * @nr_mappings: mappings of every domain; as @nr_domains
 * @last_domain: the domain the last lookup by id found, or NULL; @lock
 */
struct vhost_iommu_domain;

struct vhost_iommu_store {
	struct mutex lock; /* the store lock: see device.h for its place */
	u64 features;
	struct vhost_iommu_config config;
	u8 reset_bypass;
	struct xarray domains;
	struct xarray endpoints;
	unsigned int nr_domains;
	unsigned int nr_endpoints;
	u32 nr_report;
	unsigned long nr_mappings;
	struct vhost_iommu_domain *last_domain;
};

/* Permissions between the uapi's VHOST_IOMMU_ACCESS_* and the store's */
static inline u32 vhost_iommu_access_to_perm(u32 access)
{
	return (access & VHOST_IOMMU_ACCESS_READ ? VIRTIO_IOMMU_MAP_F_READ : 0) |
	       (access & VHOST_IOMMU_ACCESS_WRITE ? VIRTIO_IOMMU_MAP_F_WRITE : 0);
}

static inline u32 vhost_iommu_perm_to_access(u32 perm)
{
	return (perm & VIRTIO_IOMMU_MAP_F_READ ? VHOST_IOMMU_ACCESS_READ : 0) |
	       (perm & VIRTIO_IOMMU_MAP_F_WRITE ? VHOST_IOMMU_ACCESS_WRITE : 0);
}

int vhost_iommu_store_module_init(void);
void vhost_iommu_store_module_exit(void);
void vhost_iommu_store_init(struct vhost_iommu_store *s);
void vhost_iommu_store_reset(struct vhost_iommu_store *s);
void vhost_iommu_store_device_reset(struct vhost_iommu_store *s);
void vhost_iommu_store_destroy(struct vhost_iommu_store *s);
void vhost_iommu_store_lock(struct vhost_iommu_store *s);
void vhost_iommu_store_unlock(struct vhost_iommu_store *s);
void vhost_iommu_store_set_features(struct vhost_iommu_store *s,
				    u64 features);

/* Guest requests */
int vhost_iommu_store_attach(struct vhost_iommu_store *s, u32 domain,
			     u32 endpoint, bool bypass, bool *report);
int vhost_iommu_store_detach(struct vhost_iommu_store *s, u32 domain,
			     u32 endpoint, bool *report);
int vhost_iommu_store_map(struct vhost_iommu_store *s, u32 domain,
			  u64 start, u64 end, u64 phys, u32 perm, bool *report);
int vhost_iommu_store_unmap(struct vhost_iommu_store *s, u32 domain,
			    u64 start, u64 end, bool *report);
int vhost_iommu_store_resv(struct vhost_iommu_store *s, u32 endpoint,
			   struct vhost_iommu_resv *resv, u32 *nr,
			   u32 *probe_size);

/* The one lookup */
int vhost_iommu_store_lookup(struct vhost_iommu_store *s, u32 endpoint,
			     u64 iova, u32 need, struct vhost_iommu_xlate *x);
bool vhost_iommu_store_ep_vmm(struct vhost_iommu_store *s, u32 endpoint);
u64 vhost_iommu_store_granule(struct vhost_iommu_store *s);

/* The VMM's configuration and endpoints */
int vhost_iommu_store_set_config(struct vhost_iommu_store *s,
				 const struct vhost_iommu_config *cfg);
struct vhost_iommu_stream;
size_t vhost_iommu_store_state_max(void);
void vhost_iommu_store_save(struct vhost_iommu_store *s,
			    struct vhost_iommu_stream *st);
int vhost_iommu_store_load(struct vhost_iommu_store *s,
			   struct vhost_iommu_stream *st, bool apply);
int vhost_iommu_store_list(struct vhost_iommu_store *s,
			   struct vhost_iommu_mappings *l,
			   struct vhost_iommu_iotlb_entry *out);
void vhost_iommu_store_get_config(struct vhost_iommu_store *s,
				  struct vhost_iommu_config *cfg);
int vhost_iommu_store_endpoint_add(struct vhost_iommu_store *s, u32 id,
				   const struct vhost_iommu_resv_region *regions,
				   u32 nr_resv, bool report);
int vhost_iommu_store_endpoint_del(struct vhost_iommu_store *s, u32 id);

/* VMM-managed domains */
int vhost_iommu_store_vmm_attach(struct vhost_iommu_store *s, u32 domain,
				 u32 endpoint, bool detach);
int vhost_iommu_store_vmm_check(struct vhost_iommu_store *s, u32 domain);
int vhost_iommu_store_vmm_map(struct vhost_iommu_store *s, u32 domain,
			      const struct vhost_iommu_xlate *maps, u32 nr);
int vhost_iommu_store_vmm_unmap(struct vhost_iommu_store *s, u32 domain,
				const struct vhost_iommu_xlate *ranges,
				u32 nr);

/* Subscribers */
int vhost_iommu_store_subscribe(struct vhost_iommu_store *s, u32 endpoint,
				struct vhost_iommu_sub *sub);
void vhost_iommu_store_unsubscribe(struct vhost_iommu_store *s,
				   struct vhost_iommu_sub *sub);
void vhost_iommu_store_invalidate_all(struct vhost_iommu_store *s);

#endif /* _VHOST_IOMMU_STORE_H */
