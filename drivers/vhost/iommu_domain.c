// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the domain store.
 *
 * Endpoints and domains live in xarrays indexed by their ids (charged to the
 * VMM's memcg, XA_FLAGS_ACCOUNT). Each domain keeps its mappings in an
 * interval tree whose nodes are the mappings themselves: insert, remove and
 * lookup are O(log n), and neither insert nor remove allocates, so every
 * byte a mapping costs is the one charged allocation of the mapping, and a
 * removal cannot fail. (A maple tree allocates its nodes with GFP_NOWAIT
 * first, uncharged, whatever flags the caller passes; 6.1 does not export
 * mas_preallocate() to modules.)
 *
 * Every change happens under vhost_iommu.domain_lock and, for a domain's
 * tree, its tree_lock as well; the translation path finds endpoint and
 * domain under RCU and looks up under tree_lock only. Endpoints and domains
 * are freed after an RCU grace period; a mapping is freed as soon as it
 * leaves its tree.
 *
 * The request functions return a VIRTIO_IOMMU_S_* status and implement the
 * checks of Documentation/requests.md in the order written there.
 */
#include <linux/interval_tree_generic.h>
#include <linux/slab.h>

#include "iommu.h"

#define VHOST_IOMMU_MAP_START(map)	((map)->iova)
#define VHOST_IOMMU_MAP_LAST(map)	((map)->last)

INTERVAL_TREE_DEFINE(struct vhost_iommu_mapping, rb, u64, subtree_last,
		     VHOST_IOMMU_MAP_START, VHOST_IOMMU_MAP_LAST, static inline,
		     vhost_iommu_map_tree);

static bool vhost_iommu_ranges_overlap(u64 s1, u64 e1, u64 s2, u64 e2)
{
	return s1 <= e2 && s2 <= e1;
}

/**
 * vhost_iommu_mapping_first() - the first mapping that meets a range
 * @dom: the domain
 * @first: first IOVA of the range
 * @last: last IOVA of the range (inclusive)
 *
 * Context: vhost_iommu.domain_lock or @dom->tree_lock held.
 * Return: the mapping with the lowest IOVA that intersects [@first, @last],
 * or NULL.
 */
struct vhost_iommu_mapping *
vhost_iommu_mapping_first(struct vhost_iommu_domain *dom, u64 first, u64 last)
{
	return vhost_iommu_map_tree_iter_first(&dom->mappings, first, last);
}

static bool vhost_iommu_domain_has_mapping(struct vhost_iommu_domain *dom,
					   u64 start, u64 end)
{
	return vhost_iommu_mapping_first(dom, start, end);
}

void vhost_iommu_domains_init(struct vhost_iommu *vi)
{
	mutex_init(&vi->domain_lock);
	xa_init_flags(&vi->domains, XA_FLAGS_ACCOUNT);
	xa_init_flags(&vi->endpoints, XA_FLAGS_ACCOUNT);
	vi->config = (struct vhost_iommu_config) {
		.size = sizeof(vi->config),
		.page_size_mask = ~(u64)(SZ_4K - 1),
		.input_start = 0,
		.input_end = U64_MAX,
		.domain_start = 0,
		.domain_end = U32_MAX,
		.probe_size = 512,
	};
}

static struct vhost_iommu_domain *
vhost_iommu_domain_create(struct vhost_iommu *vi, u32 id, bool bypass,
			  bool vmm)
{
	struct vhost_iommu_domain *dom;

	if (vi->nr_domains >= READ_ONCE(vhost_iommu_max_domains))
		return NULL;
	dom = kzalloc(sizeof(*dom), VHOST_IOMMU_GFP);
	if (!dom)
		return NULL;
	dom->id = id;
	dom->bypass = bypass;
	dom->vmm = vmm;
	xa_init_flags(&dom->endpoints, XA_FLAGS_ACCOUNT);
	spin_lock_init(&dom->tree_lock);
	dom->mappings = RB_ROOT_CACHED;
	if (xa_insert(&vi->domains, id, dom, VHOST_IOMMU_GFP)) {
		kfree(dom);
		return NULL;
	}
	vi->nr_domains++;
	return dom;
}

/*
 * Runs a grace period after the domain became unreachable, so that no
 * lock-free reader holds it any more. Its tree is empty already.
 */
static void vhost_iommu_domain_free(struct work_struct *work)
{
	struct vhost_iommu_domain *dom;

	dom = container_of(to_rcu_work(work), struct vhost_iommu_domain,
			   free_work);
	xa_destroy(&dom->endpoints);
	kfree(dom);
}

static void vhost_iommu_mappings_remove_all(struct vhost_iommu *vi,
					    struct vhost_iommu_domain *dom);

/*
 * The domain has no endpoint left: it dies with its mappings. They are
 * freed here, so that max_mappings counts every mapping still allocated.
 */
static void vhost_iommu_domain_destroy(struct vhost_iommu *vi,
				       struct vhost_iommu_domain *dom)
{
	xa_erase(&vi->domains, dom->id);
	vi->nr_domains--;
	vhost_iommu_mappings_remove_all(vi, dom);
	INIT_RCU_WORK(&dom->free_work, vhost_iommu_domain_free);
	queue_rcu_work(vhost_iommu_wq, &dom->free_work);
}

/*
 * @ep leaves @dom, which dies with it if it was its last endpoint. The
 * caller has already pointed ep->domain elsewhere (NULL or the new domain),
 * so that a lock-free reader sees the old domain or the new one, never an
 * unattached endpoint in between (with config bypass set, that would be
 * the identity).
 */
static void vhost_iommu_leave_locked(struct vhost_iommu *vi,
				     struct vhost_iommu_ep *ep,
				     struct vhost_iommu_domain *dom)
{
	xa_erase(&dom->endpoints, ep->id);
	vhost_iommu_bridge_ep_changed(vi, ep);
	if (!--dom->nr_endpoints)
		vhost_iommu_domain_destroy(vi, dom);
}

static void vhost_iommu_detach_locked(struct vhost_iommu *vi,
				      struct vhost_iommu_ep *ep)
{
	struct vhost_iommu_domain *dom;

	dom = rcu_dereference_protected(ep->domain,
					lockdep_is_held(&vi->domain_lock));
	rcu_assign_pointer(ep->domain, NULL);
	vhost_iommu_leave_locked(vi, ep, dom);
}

/* An endpoint whose reserved regions hold mappings cannot join. */
static bool vhost_iommu_compatible(struct vhost_iommu_domain *dom,
				   struct vhost_iommu_ep *ep)
{
	u32 i;

	for (i = 0; i < ep->nr_resv; i++)
		if (vhost_iommu_domain_has_mapping(dom, ep->resv[i].start,
						   ep->resv[i].end))
			return false;
	return true;
}

/*
 * Moves @ep into domain @domain, created as guest-managed (@vmm false,
 * @bypass as given) or VMM-managed if it does not exist. Returns a
 * VIRTIO_IOMMU_S_* status; S_INVAL when the domain exists and is of the
 * other kind.
 */
static u8 vhost_iommu_attach_ep(struct vhost_iommu *vi,
				struct vhost_iommu_ep *ep, u32 domain,
				bool bypass, bool vmm)
{
	struct vhost_iommu_domain *dom, *old;
	bool created = false;
	u32 endpoint = ep->id;

	old = rcu_dereference_protected(ep->domain,
					lockdep_is_held(&vi->domain_lock));
	dom = xa_load(&vi->domains, domain);
	if (dom) {
		if (dom->bypass != bypass || dom->vmm != vmm)
			return VIRTIO_IOMMU_S_INVAL;
		if (dom == old)
			return VIRTIO_IOMMU_S_OK;
		if (!vhost_iommu_compatible(dom, ep))
			return VIRTIO_IOMMU_S_UNSUPP;
	} else {
		dom = vhost_iommu_domain_create(vi, domain, bypass, vmm);
		if (!dom)
			return VIRTIO_IOMMU_S_NOMEM;
		created = true;
	}
	if (xa_insert(&dom->endpoints, endpoint, ep, VHOST_IOMMU_GFP)) {
		if (created) {
			/* nr_endpoints is 0: destroy it without detaching */
			vhost_iommu_domain_destroy(vi, dom);
		}
		return VIRTIO_IOMMU_S_NOMEM;
	}
	/*
	 * Re-attach: behave as a DETACH followed by this ATTACH, but switch
	 * the pointer at once, so lock-free readers never see it unattached.
	 */
	dom->nr_endpoints++;
	rcu_assign_pointer(ep->domain, dom);
	if (old)
		vhost_iommu_leave_locked(vi, ep, old);
	else
		vhost_iommu_bridge_ep_changed(vi, ep);
	return VIRTIO_IOMMU_S_OK;
}

static u8 vhost_iommu_attach_locked(struct vhost_iommu *vi, u32 domain,
				    u32 endpoint, u32 flags)
{
	bool bypass = flags & VIRTIO_IOMMU_ATTACH_F_BYPASS;
	struct vhost_iommu_ep *ep;

	if ((flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS) ||
	    (bypass && !vhost_iommu_has_feature(vi,
					VIRTIO_IOMMU_F_BYPASS_CONFIG)))
		return VIRTIO_IOMMU_S_INVAL;
	ep = xa_load(&vi->endpoints, endpoint);
	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	if (vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_DOMAIN_RANGE) &&
	    (domain < vi->config.domain_start || domain > vi->config.domain_end))
		return VIRTIO_IOMMU_S_RANGE;
	return vhost_iommu_attach_ep(vi, ep, domain, bypass, false);
}

/**
 * vhost_iommu_vmm_attach() - VHOST_IOMMU_IOTLB_ATTACH
 * @vi: the device
 * @domain: domain id
 * @endpoint: endpoint id
 * @detach: detach instead
 *
 * Return: 0, -ENODEV, -EEXIST, -ENOENT (detach), -EINVAL (incompatible
 * reserved regions) or -ENOMEM.
 */
int vhost_iommu_vmm_attach(struct vhost_iommu *vi, u32 domain, u32 endpoint,
			   bool detach)
{
	struct vhost_iommu_domain *dom, *cur;
	struct vhost_iommu_ep *ep;
	int ret = 0;

	mutex_lock(&vi->domain_lock);
	ep = xa_load(&vi->endpoints, endpoint);
	if (!ep) {
		ret = -ENODEV;
		goto out;
	}
	cur = rcu_dereference_protected(ep->domain,
					lockdep_is_held(&vi->domain_lock));
	if (detach) {
		if (!cur || cur->id != domain || !cur->vmm)
			ret = -ENOENT;
		else
			vhost_iommu_detach_locked(vi, ep);
		goto out;
	}
	dom = xa_load(&vi->domains, domain);
	if (dom && !dom->vmm) {
		ret = -EEXIST;
		goto out;
	}
	switch (vhost_iommu_attach_ep(vi, ep, domain, false, true)) {
	case VIRTIO_IOMMU_S_OK:
		break;
	case VIRTIO_IOMMU_S_UNSUPP:
		ret = -EINVAL;
		break;
	default:
		ret = -ENOMEM;
	}
out:
	mutex_unlock(&vi->domain_lock);
	return ret;
}

/**
 * vhost_iommu_attach() - execute an ATTACH request
 * @vi: the device
 * @domain: domain id
 * @endpoint: endpoint id
 * @flags: VIRTIO_IOMMU_ATTACH_F_*
 *
 * Return: a VIRTIO_IOMMU_S_* status.
 */
u8 vhost_iommu_attach(struct vhost_iommu *vi, u32 domain, u32 endpoint,
		      u32 flags)
{
	u8 status;

	mutex_lock(&vi->domain_lock);
	status = vhost_iommu_attach_locked(vi, domain, endpoint, flags);
	mutex_unlock(&vi->domain_lock);
	return status;
}

/**
 * vhost_iommu_detach() - execute a DETACH request
 * @vi: the device
 * @domain: domain id
 * @endpoint: endpoint id
 *
 * Return: a VIRTIO_IOMMU_S_* status.
 */
u8 vhost_iommu_detach(struct vhost_iommu *vi, u32 domain, u32 endpoint)
{
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;
	u8 status = VIRTIO_IOMMU_S_OK;

	mutex_lock(&vi->domain_lock);
	ep = xa_load(&vi->endpoints, endpoint);
	if (!ep) {
		status = VIRTIO_IOMMU_S_NOENT;
		goto out;
	}
	dom = rcu_dereference_protected(ep->domain,
					lockdep_is_held(&vi->domain_lock));
	if (!dom || dom->id != domain || dom->vmm) {
		status = VIRTIO_IOMMU_S_INVAL;
		goto out;
	}
	vhost_iommu_detach_locked(vi, ep);
out:
	mutex_unlock(&vi->domain_lock);
	return status;
}

/* Checks a domain id of a MAP or UNMAP request. */
static struct vhost_iommu_domain *
vhost_iommu_map_domain(struct vhost_iommu *vi, u32 domain, u8 *status)
{
	struct vhost_iommu_domain *dom = xa_load(&vi->domains, domain);

	if (!dom)
		*status = VIRTIO_IOMMU_S_NOENT;
	else if (dom->bypass || dom->vmm)
		*status = VIRTIO_IOMMU_S_INVAL;
	else
		return dom;
	return NULL;
}

static bool vhost_iommu_hits_resv(struct vhost_iommu_domain *dom,
				  u64 start, u64 end)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;
	u32 i;

	xa_for_each(&dom->endpoints, index, ep) {
		for (i = 0; i < ep->nr_resv; i++)
			if (vhost_iommu_ranges_overlap(start, end,
						       ep->resv[i].start,
						       ep->resv[i].end))
				return true;
		/* The VMM sets the number of endpoints (domain_lock: a mutex) */
		cond_resched();
	}
	return false;
}

static u8 vhost_iommu_map_check(struct vhost_iommu *vi, u64 start, u64 end,
				u64 phys)
{
	u64 mask = vhost_iommu_granule(vi) - 1;

	if (end < start)
		return VIRTIO_IOMMU_S_INVAL;
	if ((start & mask) || (phys & mask) || ((end + 1) & mask) ||
	    phys + (end - start) < phys)
		return VIRTIO_IOMMU_S_RANGE;
	if (vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_INPUT_RANGE) &&
	    (start < vi->config.input_start || end > vi->config.input_end))
		return VIRTIO_IOMMU_S_RANGE;
	return VIRTIO_IOMMU_S_OK;
}

/**
 * vhost_iommu_mapping_insert() - add a mapping to a domain
 * @vi: the device
 * @dom: the domain
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 * @phys: guest-physical address of @start
 * @flags: VIRTIO_IOMMU_MAP_F_*
 *
 * Context: vhost_iommu.domain_lock held; the range is free.
 * Return: the mapping, ERR_PTR(-ENOSPC) at max_mappings, or
 * ERR_PTR(-ENOMEM).
 */
struct vhost_iommu_mapping *
vhost_iommu_mapping_insert(struct vhost_iommu *vi,
			   struct vhost_iommu_domain *dom, u64 start, u64 end,
			   u64 phys, u32 flags)
{
	struct vhost_iommu_mapping *map;

	lockdep_assert_held(&vi->domain_lock);
	if (vi->nr_mappings >= READ_ONCE(vhost_iommu_max_mappings))
		return ERR_PTR(-ENOSPC);
	map = kmalloc(sizeof(*map), VHOST_IOMMU_GFP);
	if (!map)
		return ERR_PTR(-ENOMEM);
	map->iova = start;
	map->last = end;
	map->phys = phys;
	map->flags = flags;
	spin_lock(&dom->tree_lock);
	vhost_iommu_map_tree_insert(map, &dom->mappings);
	spin_unlock(&dom->tree_lock);
	vi->nr_mappings++;
	dom->nr_mappings++;
	return map;
}

/* Mappings removed per tree_lock hold in vhost_iommu_mappings_remove() */
#define VHOST_IOMMU_REMOVE_BATCH	32

/*
 * Takes up to VHOST_IOMMU_REMOVE_BATCH mappings that meet [@start, @end]
 * out of the tree, widens [*@first, *@last] to cover them, and frees them.
 * Returns how many.
 */
static unsigned int vhost_iommu_mappings_take(struct vhost_iommu *vi,
					      struct vhost_iommu_domain *dom,
					      u64 start, u64 end,
					      u64 *first, u64 *last)
{
	struct vhost_iommu_mapping *batch[VHOST_IOMMU_REMOVE_BATCH];
	struct vhost_iommu_mapping *map;
	unsigned int n = 0, i;

	spin_lock(&dom->tree_lock);
	while (n < VHOST_IOMMU_REMOVE_BATCH &&
	       (map = vhost_iommu_mapping_first(dom, start, end))) {
		vhost_iommu_map_tree_remove(map, &dom->mappings);
		*first = min(*first, map->iova);
		*last = max(*last, map->last);
		batch[n++] = map;
	}
	spin_unlock(&dom->tree_lock);
	/* No reader holds them: each lookup holds a lock held above. */
	for (i = 0; i < n; i++)
		kfree(batch[i]);
	vi->nr_mappings -= n;
	dom->nr_mappings -= n;
	return n;
}

/**
 * vhost_iommu_mappings_remove() - remove the mappings that meet a range
 * @vi: the device
 * @dom: the domain
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 *
 * Removes every mapping that intersects [@start, @end], whole, and returns
 * once the bound vhost-net devices dropped them. A guest may remove
 * millions of mappings in one request: the loop takes tree_lock for a batch
 * at a time and yields between batches (domain_lock is a mutex). Nothing
 * is allocated, so nothing can fail.
 * Context: vhost_iommu.domain_lock held.
 */
void vhost_iommu_mappings_remove(struct vhost_iommu *vi,
				 struct vhost_iommu_domain *dom,
				 u64 start, u64 end)
{
	u64 first = start, last = end;

	lockdep_assert_held(&vi->domain_lock);
	while (vhost_iommu_mappings_take(vi, dom, start, end, &first, &last))
		cond_resched();
	vhost_iommu_bridge_unmapped(vi, dom, first, last);
}

/*
 * Frees every mapping of a domain that has no endpoint left, hence no
 * binding to tell.
 */
static void vhost_iommu_mappings_remove_all(struct vhost_iommu *vi,
					    struct vhost_iommu_domain *dom)
{
	u64 first = 0, last = U64_MAX;

	while (vhost_iommu_mappings_take(vi, dom, 0, U64_MAX, &first, &last))
		cond_resched();
}

static u8 vhost_iommu_map_locked(struct vhost_iommu *vi, u32 domain,
				 u64 start, u64 end, u64 phys, u32 flags)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	u8 status;

	u32 known = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;

	if (vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_MMIO))
		known |= VIRTIO_IOMMU_MAP_F_MMIO;
	if (flags & ~known)
		return VIRTIO_IOMMU_S_INVAL;
	dom = vhost_iommu_map_domain(vi, domain, &status);
	if (!dom)
		return status;
	status = vhost_iommu_map_check(vi, start, end, phys);
	if (status != VIRTIO_IOMMU_S_OK)
		return status;
	if (vhost_iommu_hits_resv(dom, start, end))
		return VIRTIO_IOMMU_S_INVAL;
	if (vhost_iommu_domain_has_mapping(dom, start, end))
		return VIRTIO_IOMMU_S_INVAL;
	map = vhost_iommu_mapping_insert(vi, dom, start, end, phys, flags);
	if (IS_ERR(map))
		return VIRTIO_IOMMU_S_NOMEM;
	vhost_iommu_bridge_mapped(vi, dom, map, false);
	return VIRTIO_IOMMU_S_OK;
}

/**
 * vhost_iommu_map() - execute a MAP request
 * @vi: the device
 * @domain: domain id
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 * @phys: guest-physical address of @start
 * @flags: VIRTIO_IOMMU_MAP_F_*
 *
 * Return: a VIRTIO_IOMMU_S_* status.
 */
u8 vhost_iommu_map(struct vhost_iommu *vi, u32 domain, u64 start, u64 end,
		   u64 phys, u32 flags)
{
	u8 status;

	mutex_lock(&vi->domain_lock);
	status = vhost_iommu_map_locked(vi, domain, start, end, phys, flags);
	mutex_unlock(&vi->domain_lock);
	return status;
}

static u8 vhost_iommu_unmap_locked(struct vhost_iommu *vi, u32 domain,
				   u64 start, u64 end)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	u8 status;

	dom = vhost_iommu_map_domain(vi, domain, &status);
	if (!dom)
		return status;
	if (end < start)
		return VIRTIO_IOMMU_S_INVAL;
	/* A mapping is removed whole or not at all. */
	map = vhost_iommu_mapping_first(dom, start, start);
	if (map && map->iova < start)
		return VIRTIO_IOMMU_S_RANGE;
	map = vhost_iommu_mapping_first(dom, end, end);
	if (map && map->last > end)
		return VIRTIO_IOMMU_S_RANGE;

	vhost_iommu_mappings_remove(vi, dom, start, end);
	return VIRTIO_IOMMU_S_OK;
}

/**
 * vhost_iommu_unmap() - execute an UNMAP request
 * @vi: the device
 * @domain: domain id
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 *
 * Return: a VIRTIO_IOMMU_S_* status.
 */
u8 vhost_iommu_unmap(struct vhost_iommu *vi, u32 domain, u64 start, u64 end)
{
	u8 status;

	mutex_lock(&vi->domain_lock);
	status = vhost_iommu_unmap_locked(vi, domain, start, end);
	mutex_unlock(&vi->domain_lock);
	return status;
}

/**
 * vhost_iommu_probe() - execute a PROBE request
 * @vi: the device
 * @endpoint: endpoint id
 * @props: filled with one RESV_MEM property per reserved region; room for
 *	VHOST_IOMMU_MAX_RESV. NULL (no memory for it) fails with NOMEM.
 * @nr: set to the number of properties, 0 unless the status is OK
 * @size: set to the configured probe_size, whatever the status
 *
 * Return: a VIRTIO_IOMMU_S_* status.
 */
u8 vhost_iommu_probe(struct vhost_iommu *vi, u32 endpoint,
		     struct virtio_iommu_probe_resv_mem *props, u32 *nr,
		     u32 *size)
{
	struct vhost_iommu_ep *ep;
	u8 status = VIRTIO_IOMMU_S_OK;
	u32 i;

	*nr = 0;
	mutex_lock(&vi->domain_lock);
	*size = vi->config.probe_size;
	ep = xa_load(&vi->endpoints, endpoint);
	if (!props) {
		status = VIRTIO_IOMMU_S_NOMEM;
		goto out;
	}
	if (!ep) {
		status = VIRTIO_IOMMU_S_NOENT;
		goto out;
	}
	for (i = 0; i < ep->nr_resv; i++) {
		props[i].head.type = cpu_to_le16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		props[i].head.length = cpu_to_le16(sizeof(props[i]) -
						   sizeof(props[i].head));
		props[i].subtype = ep->resv[i].subtype;
		props[i].start = cpu_to_le64(ep->resv[i].start);
		props[i].end = cpu_to_le64(ep->resv[i].end);
	}
	*nr = ep->nr_resv;
out:
	mutex_unlock(&vi->domain_lock);
	return status;
}

static int vhost_iommu_translate_rcu(struct vhost_iommu *vi,
				     struct vhost_iommu_translate *t,
				     u8 *reason)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;
	u32 need = 0;

	ep = xa_load(&vi->endpoints, t->endpoint);
	if (!ep)
		return -ENODEV;
	dom = rcu_dereference(ep->domain);
	if (dom ? dom->bypass : READ_ONCE(vi->config.bypass)) {
		t->start = 0;
		t->last = U64_MAX;
		t->phys = 0;
		t->perm = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
		return 0;
	}
	*reason = VIRTIO_IOMMU_FAULT_R_DOMAIN;
	if (!dom)
		return -ENXIO;
	*reason = VIRTIO_IOMMU_FAULT_R_MAPPING;
	if (t->access & VHOST_IOMMU_ACCESS_READ)
		need |= VIRTIO_IOMMU_MAP_F_READ;
	if (t->access & VHOST_IOMMU_ACCESS_WRITE)
		need |= VIRTIO_IOMMU_MAP_F_WRITE;
	/* A dead domain's tree is empty; the domain outlives this section. */
	spin_lock(&dom->tree_lock);
	map = vhost_iommu_mapping_first(dom, t->iova, t->iova);
	if (map) {
		t->start = map->iova;
		t->last = map->last;
		t->phys = map->phys;
		t->perm = map->flags;
	}
	spin_unlock(&dom->tree_lock);
	if (!map)
		return -ENOENT;
	if ((t->perm & need) != need)
		return -EACCES;
	return 0;
}

/**
 * vhost_iommu_translate() - translate an IOVA of an endpoint
 * @vi: the device
 * @t: in: endpoint, iova, access, flags; out: start, last, phys, perm
 *
 * Takes no mutex: the endpoint and its domain are found under RCU, the
 * mapping under the domain's tree_lock. With VHOST_IOMMU_TRANSLATE_F_REPORT, a
 * failure of a known endpoint queues a fault report.
 *
 * Return: 0, -ENODEV, -ENXIO, -ENOENT or -EACCES (see the uapi header).
 */
int vhost_iommu_translate(struct vhost_iommu *vi,
			  struct vhost_iommu_translate *t)
{
	u8 reason = VIRTIO_IOMMU_FAULT_R_UNKNOWN;
	u32 flags = VIRTIO_IOMMU_FAULT_F_ADDRESS;
	int ret;

	rcu_read_lock();
	ret = vhost_iommu_translate_rcu(vi, t, &reason);
	rcu_read_unlock();
	if (!ret || ret == -ENODEV ||
	    !(t->flags & VHOST_IOMMU_TRANSLATE_F_REPORT))
		return ret;
	if (t->access & VHOST_IOMMU_ACCESS_READ)
		flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (t->access & VHOST_IOMMU_ACCESS_WRITE)
		flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	vhost_iommu_report_fault(vi, reason, flags, t->endpoint, t->iova);
	return ret;
}

/**
 * vhost_iommu_set_config() - replace the configuration
 * @vi: the device
 * @cfg: the new configuration, already checked field by field
 *
 * Return: 0, or -EBUSY when endpoints exist and more than bypass changes.
 */
int vhost_iommu_set_config(struct vhost_iommu *vi,
			   const struct vhost_iommu_config *cfg)
{
	struct vhost_iommu_config cur;
	struct vhost_iommu_ep *ep;
	unsigned long index;
	int ret = 0;

	mutex_lock(&vi->domain_lock);
	cur = vi->config;
	cur.bypass = cfg->bypass;
	if (vi->nr_endpoints && memcmp(&cur, cfg, sizeof(cur))) {
		ret = -EBUSY;
		goto out;
	}
	/* Unattached endpoints were translated by the old bypass setting. */
	if (vi->config.bypass != cfg->bypass)
		xa_for_each(&vi->endpoints, index, ep) {
			if (!rcu_access_pointer(ep->domain))
				vhost_iommu_bridge_ep_changed(vi, ep);
			cond_resched();
		}
	vi->config = *cfg;
out:
	mutex_unlock(&vi->domain_lock);
	return ret;
}

void vhost_iommu_get_config(struct vhost_iommu *vi,
			    struct vhost_iommu_config *cfg)
{
	mutex_lock(&vi->domain_lock);
	*cfg = vi->config;
	mutex_unlock(&vi->domain_lock);
}

/**
 * vhost_iommu_endpoint_add() - declare an endpoint
 * @vi: the device
 * @ep: the endpoint, its reserved regions checked; owned by the store on
 *	success
 *
 * Return: 0, -EEXIST, -ENOSPC (properties exceed probe_size, or the device
 * has max_endpoints) or -ENOMEM.
 */
int vhost_iommu_endpoint_add(struct vhost_iommu *vi,
			     struct vhost_iommu_ep *ep)
{
	int ret;

	INIT_LIST_HEAD(&ep->bridges);
	mutex_lock(&vi->domain_lock);
	if (ep->nr_resv * sizeof(struct virtio_iommu_probe_resv_mem) >
	    vi->config.probe_size ||
	    vi->nr_endpoints >= READ_ONCE(vhost_iommu_max_endpoints)) {
		ret = -ENOSPC;
		goto out;
	}
	ret = xa_insert(&vi->endpoints, ep->id, ep, VHOST_IOMMU_GFP);
	if (ret == -EBUSY)
		ret = -EEXIST;
	if (!ret)
		vi->nr_endpoints++;
out:
	mutex_unlock(&vi->domain_lock);
	return ret;
}

static void vhost_iommu_endpoint_del_locked(struct vhost_iommu *vi,
					    struct vhost_iommu_ep *ep)
{
	if (rcu_access_pointer(ep->domain))
		vhost_iommu_detach_locked(vi, ep);
	xa_erase(&vi->endpoints, ep->id);
	vi->nr_endpoints--;
	kfree_rcu(ep, rcu);
}

/**
 * vhost_iommu_endpoint_del() - remove an endpoint, detaching it first
 * @vi: the device
 * @id: the endpoint id
 *
 * Return: 0 or -ENOENT.
 */
int vhost_iommu_endpoint_del(struct vhost_iommu *vi, u32 id)
{
	struct vhost_iommu_ep *ep;
	int ret = 0;

	mutex_lock(&vi->domain_lock);
	ep = xa_load(&vi->endpoints, id);
	if (ep)
		vhost_iommu_endpoint_del_locked(vi, ep);
	else
		ret = -ENOENT;
	mutex_unlock(&vi->domain_lock);
	return ret;
}

/**
 * vhost_iommu_domains_reset() - device reset: every endpoint detached
 * @vi: the device
 *
 * Every domain dies with its mappings; endpoints and the configuration,
 * which the VMM owns, stay.
 */
void vhost_iommu_domains_reset(struct vhost_iommu *vi)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	mutex_lock(&vi->domain_lock);
	xa_for_each(&vi->endpoints, index, ep) {
		if (rcu_access_pointer(ep->domain))
			vhost_iommu_detach_locked(vi, ep);
		cond_resched();
	}
	mutex_unlock(&vi->domain_lock);
}

/* Release: everything goes. */
void vhost_iommu_domains_destroy(struct vhost_iommu *vi)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	mutex_lock(&vi->domain_lock);
	xa_for_each(&vi->endpoints, index, ep) {
		vhost_iommu_endpoint_del_locked(vi, ep);
		cond_resched();
	}
	mutex_unlock(&vi->domain_lock);
	xa_destroy(&vi->endpoints);
	xa_destroy(&vi->domains);
}

void vhost_iommu_fill_stats(struct vhost_iommu *vi,
			    struct vhost_iommu_stats *st)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(st->requests); i++)
		st->requests[i] = atomic64_read(&vi->stats.requests[i]);
	for (i = 0; i < ARRAY_SIZE(st->status); i++)
		st->status[i] = atomic64_read(&vi->stats.status[i]);
	st->malformed = atomic64_read(&vi->stats.malformed);
	st->ring_errors = atomic64_read(&vi->stats.ring_errors);
	st->faults = atomic64_read(&vi->stats.faults);
	st->faults_dropped = atomic64_read(&vi->stats.faults_dropped);
	st->iotlb_misses = atomic64_read(&vi->stats.iotlb_misses);
	st->iotlb_served = atomic64_read(&vi->stats.iotlb_served);
	st->iotlb_updates = atomic64_read(&vi->stats.iotlb_updates);
	st->iotlb_invalidations = atomic64_read(&vi->stats.iotlb_invalidations);
	st->iotlb_errors = atomic64_read(&vi->stats.iotlb_errors);
	st->iotlb_queued = atomic64_read(&vi->stats.iotlb_queued);
	st->iotlb_coalesced = atomic64_read(&vi->stats.iotlb_coalesced);
	st->iotlb_queue_full = atomic64_read(&vi->stats.iotlb_queue_full);
	/*
	 * Without domain_lock: a request may hold it for long (an UNMAP of
	 * millions of mappings) and the VMM must still see the counters.
	 * Each is read once; together they are not one snapshot.
	 */
	st->domains = READ_ONCE(vi->nr_domains);
	st->mappings = READ_ONCE(vi->nr_mappings);
	st->endpoints = READ_ONCE(vi->nr_endpoints);
	st->bound = READ_ONCE(vi->nr_bound);
}
