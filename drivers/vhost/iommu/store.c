// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the domain store.
 *
 * Endpoints and domains live in xarrays indexed by their ids (charged to the
 * VMM's memcg, XA_FLAGS_ACCOUNT); a domain lists its endpoints. Each domain
 * keeps its mappings in a red-black tree ordered by IOVA whose nodes are the
 * mappings themselves: insert, remove and lookup are O(log n), and neither
 * insert nor remove allocates, so every byte a mapping costs is the one
 * charged allocation of the mapping, and a removal cannot fail. Mappings
 * never overlap, so the order of their first IOVAs is that of their last:
 * the lowest mapping that ends at or above an address is found by one
 * descent, and an interval tree's augmented subtree maximum (8 bytes a
 * mapping, and its upkeep at every rotation) would buy nothing. (A maple tree
 * allocates its nodes with GFP_NOWAIT first, uncharged, whatever flags the
 * caller passes; 6.1 does not export mas_preallocate() to modules.)
 *
 * The store is a leaf: it calls nothing of the module. Its consumers
 * subscribe to endpoints (struct vhost_iommu_sub) and are told of changes
 * through their ops; the rules are in store.h. Every change happens under
 * the store lock and, for a domain's tree, its tree_lock as well; the one
 * lookup (vhost_iommu_store_lookup()) finds endpoint and domain under RCU
 * and the mapping under tree_lock only. Endpoints and domains are freed
 * after an RCU grace period; a mapping as soon as it leaves its tree.
 *
 * Every function returns 0 or a -errno; for the guest's requests, the
 * request layer turns it into a VIRTIO_IOMMU_S_* status, and the checks
 * come in the order Documentation/requests.md gives.
 */
#include <linux/module.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "common.h"
#include "store.h"
#include "stream.h"

static unsigned int vhost_iommu_max_domains = 4096;
module_param_named(max_domains, vhost_iommu_max_domains, uint, 0644);
MODULE_PARM_DESC(max_domains,
		 "Domains per device; ATTACH past it fails with NOMEM");

/* One PCI segment's worth of requester ids */
static unsigned int vhost_iommu_max_endpoints = 65536;
module_param_named(max_endpoints, vhost_iommu_max_endpoints, uint, 0644);
MODULE_PARM_DESC(max_endpoints,
		 "Endpoints per device; ADD_ENDPOINT past it fails with ENOSPC");

static unsigned int vhost_iommu_max_mappings = 1U << 21;
module_param_named(max_mappings, vhost_iommu_max_mappings, uint, 0644);
MODULE_PARM_DESC(max_mappings,
		 "Mappings per device; MAP past it fails with NOMEM");

struct vhost_iommu_domain;

/**
 * struct vhost_iommu_ep - an endpoint behind the IOMMU
 * @id: the endpoint id
 * @domain: the domain it is attached to, or NULL. Written under the store
 *	lock; read under RCU by lookups.
 * @dom_node: in its domain's @endpoints; store lock
 * @subs: subscribers (struct vhost_iommu_sub.node); store lock
 * @nr_resv: number of reserved regions
 * @report: VHOST_IOMMU_ENDPOINT_F_REPORT, immutable
 * @rcu: frees the endpoint after RCU readers
 * @resv: reserved regions, immutable
 */
struct vhost_iommu_ep {
	u32 id;
	struct vhost_iommu_domain __rcu *domain;
	struct list_head dom_node;
	struct list_head subs;
	u32 nr_resv;
	bool report;
	struct rcu_head rcu;
	struct vhost_iommu_resv resv[];
};

/**
 * struct vhost_iommu_domain - an address space
 * @id: the domain id
 * @bypass: created with VIRTIO_IOMMU_ATTACH_F_BYPASS
 * @vmm: VMM-managed: created and filled through the device IOTLB ioctls
 * @nr_endpoints: endpoints attached; the domain dies at zero
 * @nr_report: endpoints attached that have @report set
 * @endpoints: the attached endpoints (struct vhost_iommu_ep.dom_node)
 * @tree_lock: protects @mappings together with the store lock: a change
 *	holds both, a lookup either one
 * @mappings: red-black tree of struct vhost_iommu_mapping by IOVA; they
 *	never overlap
 * @nr_mappings: entries in @mappings
 * @free: mappings UNMAP took out, kept for the next MAP (store lock):
 *	at most VHOST_IOMMU_MAP_CACHE, none while @mappings is empty
 * @nr_free: entries in @free
 * @rcu: frees the domain once lock-free readers are done
 *
 * Everything but @mappings is written under the store lock. A lookup
 * finds the domain under RCU, reads @bypass, @vmm and @id, and looks up
 * @mappings under @tree_lock.
 */
struct vhost_iommu_domain {
	u32 id;
	bool bypass;
	bool vmm;
	u32 nr_endpoints;
	u32 nr_report;
	struct list_head endpoints;
	spinlock_t tree_lock; /* @mappings, with the store lock */
	struct rb_root mappings;
	unsigned long nr_mappings;
	struct vhost_iommu_mapping *free;
	unsigned int nr_free;
	struct rcu_head rcu;
};

/**
 * struct vhost_iommu_mapping - what one MAP request created, immutable
 * @rb: node in vhost_iommu_domain.mappings
 * @next_free: out of the tree, next in vhost_iommu_domain.free
 * @iova: first IOVA
 * @last: last IOVA (inclusive)
 * @phys_perm: guest-physical address of @iova, aligned to the granule
 *	(4 KiB at least), with VIRTIO_IOMMU_MAP_F_* in its low bits
 *
 * Freed, or kept for the domain's next MAP, at once when it leaves the
 * tree: every reader holds a lock that the removal holds too. 48 bytes
 * from a cache of its own: with the memcg's 8 bytes per accounted object,
 * 56 bytes per mapping.
 */
struct vhost_iommu_mapping {
	union {
		struct rb_node rb;
		struct vhost_iommu_mapping *next_free;
	};
	u64 iova;
	u64 last;
	u64 phys_perm;
};

static_assert(sizeof(struct vhost_iommu_mapping) == 48);

/* The permission bits a mapping keeps below its address */
#define VHOST_IOMMU_MAP_PERM_MASK	(VIRTIO_IOMMU_MAP_F_READ |	\
					 VIRTIO_IOMMU_MAP_F_WRITE |	\
					 VIRTIO_IOMMU_MAP_F_MMIO)
static_assert(VHOST_IOMMU_MAP_PERM_MASK < SZ_4K);

static struct kmem_cache *vhost_iommu_mapping_cache;

static u64 vhost_iommu_map_phys(const struct vhost_iommu_mapping *map)
{
	return map->phys_perm & ~(u64)VHOST_IOMMU_MAP_PERM_MASK;
}

static u32 vhost_iommu_map_perm(const struct vhost_iommu_mapping *map)
{
	return map->phys_perm & VHOST_IOMMU_MAP_PERM_MASK;
}

/* Mappings removed per tree_lock hold in vhost_iommu_mappings_remove() */
#define VHOST_IOMMU_REMOVE_BATCH	32
/*
 * Mappings a domain keeps for its next MAPs instead of freeing them: as
 * many as one batch of requests unmaps, so that the MAPs of the next batch
 * neither allocate nor the UNMAPs free. They stay charged to the VMM.
 */
#define VHOST_IOMMU_MAP_CACHE		256

static bool vhost_iommu_ranges_overlap(u64 s1, u64 e1, u64 s2, u64 e2)
{
	return s1 <= e2 && s2 <= e1;
}

/*
 * The domain @id, or NULL. The store remembers the last one found: a
 * guest's requests mostly name one domain after another, and the cached
 * pointer saves the xarray's descent. Context: the store lock held.
 */
static struct vhost_iommu_domain *
vhost_iommu_domain_find(struct vhost_iommu_store *s, u32 id)
{
	struct vhost_iommu_domain *dom = s->last_domain;

	lockdep_assert_held(&s->lock);
	if (dom && dom->id == id)
		return dom;
	dom = xa_load(&s->domains, id);
	if (dom)
		s->last_domain = dom;
	return dom;
}

static bool vhost_iommu_store_has(struct vhost_iommu_store *s, int bit)
{
	return s->features & BIT_ULL(bit);
}

static struct vhost_iommu_mapping *vhost_iommu_map_of(struct rb_node *node)
{
	return rb_entry_safe(node, struct vhost_iommu_mapping, rb);
}

/*
 * The mapping with the lowest IOVA that meets [first, last], or NULL: the
 * lowest that ends at or above @first, if it starts at or below @last.
 * Context: the store lock or @dom->tree_lock held.
 */
static struct vhost_iommu_mapping *
vhost_iommu_mapping_first(struct vhost_iommu_domain *dom, u64 first, u64 last)
{
	struct rb_node *node = dom->mappings.rb_node;
	struct vhost_iommu_mapping *m, *found = NULL;

	while (node) {
		m = rb_entry(node, struct vhost_iommu_mapping, rb);
		if (m->last < first) {
			node = node->rb_right;
		} else {
			found = m;
			node = node->rb_left;
		}
	}
	return found && found->iova <= last ? found : NULL;
}

/* The mapping after @map, if it starts at or below @last. */
static struct vhost_iommu_mapping *
vhost_iommu_mapping_next(struct vhost_iommu_mapping *map, u64 last)
{
	map = vhost_iommu_map_of(rb_next(&map->rb));
	return map && map->iova <= last ? map : NULL;
}

static void vhost_iommu_mapping_xlate(const struct vhost_iommu_mapping *map,
				      const struct vhost_iommu_domain *dom,
				      struct vhost_iommu_xlate *x)
{
	*x = (struct vhost_iommu_xlate) {
		.iova = map->iova,
		.last = map->last,
		.phys = vhost_iommu_map_phys(map),
		.perm = vhost_iommu_map_perm(map),
		.domain = dom->id,
		.vmm = dom->vmm,
	};
}

/* Tells @ep's subscribers that everything may have changed. */
static void vhost_iommu_ep_invalidate(struct vhost_iommu_ep *ep)
{
	struct vhost_iommu_sub *sub;

	list_for_each_entry(sub, &ep->subs, node)
		sub->ops->invalidate_all(sub);
}

/*
 * Endpoints between two resched points of a loop over a domain's
 * endpoints, whose number the VMM sets (up to max_endpoints): each step
 * is short, a few subscriber ops at most, and a MAP or UNMAP of the
 * common domain of one endpoint need not pay for the check.
 */
#define VHOST_IOMMU_EP_RESCHED	16

/* The resched point of such a loop; @n counts its endpoints. */
static void vhost_iommu_ep_resched(unsigned int *n)
{
	if (!(++*n % VHOST_IOMMU_EP_RESCHED))
		cond_resched();
}

/* Tells the subscribers of @dom's endpoints that [first, last] went. */
static __always_inline void
vhost_iommu_dom_unmapped(struct vhost_iommu_domain *dom, u64 first, u64 last)
{
	struct vhost_iommu_sub *sub;
	struct vhost_iommu_ep *ep;
	unsigned int n = 0;

	list_for_each_entry(ep, &dom->endpoints, dom_node) {
		list_for_each_entry(sub, &ep->subs, node)
			sub->ops->unmapped(sub, first, last);
		vhost_iommu_ep_resched(&n);
	}
}

/*
 * Tells the subscribers of @dom's endpoints that @map was created; the
 * translation they are given is made for the first one.
 */
static __always_inline void
vhost_iommu_dom_mapped(struct vhost_iommu_domain *dom,
		       const struct vhost_iommu_mapping *map, bool push)
{
	struct vhost_iommu_xlate x;
	struct vhost_iommu_sub *sub;
	struct vhost_iommu_ep *ep;
	unsigned int n = 0;
	bool made = false;

	list_for_each_entry(ep, &dom->endpoints, dom_node) {
		list_for_each_entry(sub, &ep->subs, node) {
			if (!made)
				vhost_iommu_mapping_xlate(map, dom, &x);
			made = true;
			sub->ops->mapped(sub, &x, push);
		}
		vhost_iommu_ep_resched(&n);
	}
}

void vhost_iommu_store_init(struct vhost_iommu_store *s)
{
	mutex_init(&s->lock);
	xa_init_flags(&s->domains, XA_FLAGS_ACCOUNT);
	xa_init_flags(&s->endpoints, XA_FLAGS_ACCOUNT);
	s->config = (struct vhost_iommu_config) {
		.size = sizeof(s->config),
		.page_size_mask = ~(u64)(SZ_4K - 1),
		.input_start = 0,
		.input_end = U64_MAX,
		.domain_start = 0,
		.domain_end = U32_MAX,
		.probe_size = 512,
	};
}

void vhost_iommu_store_lock(struct vhost_iommu_store *s)
{
	mutex_lock(&s->lock);
}

void vhost_iommu_store_unlock(struct vhost_iommu_store *s)
{
	mutex_unlock(&s->lock);
}

/* Context: the device mutex and every vq mutex held (see main.c). */
void vhost_iommu_store_set_features(struct vhost_iommu_store *s,
				    u64 features)
{
	mutex_lock(&s->lock);
	s->features = features;
	mutex_unlock(&s->lock);
}

/**
 * vhost_iommu_store_granule() - the smallest page size
 * @s: the store
 *
 * Context: the store lock or the device mutex held: the configuration
 * changes under both.
 * Return: the granule.
 */
u64 vhost_iommu_store_granule(struct vhost_iommu_store *s)
{
	return s->config.page_size_mask & -s->config.page_size_mask;
}

static struct vhost_iommu_domain *
vhost_iommu_domain_create(struct vhost_iommu_store *s, u32 id, bool bypass,
			  bool vmm)
{
	struct vhost_iommu_domain *dom;

	if (s->nr_domains >= READ_ONCE(vhost_iommu_max_domains))
		return NULL;
	dom = kzalloc(sizeof(*dom), VHOST_IOMMU_GFP);
	if (!dom)
		return NULL;
	dom->id = id;
	dom->bypass = bypass;
	dom->vmm = vmm;
	INIT_LIST_HEAD(&dom->endpoints);
	spin_lock_init(&dom->tree_lock);
	dom->mappings = RB_ROOT;
	if (xa_insert(&s->domains, id, dom, VHOST_IOMMU_GFP)) {
		kfree(dom);
		return NULL;
	}
	s->nr_domains++;
	return dom;
}

/* A mapping for @dom: one it kept, or a new one. Context: the store lock. */
static struct vhost_iommu_mapping *
vhost_iommu_mapping_alloc(struct vhost_iommu_domain *dom)
{
	struct vhost_iommu_mapping *map = dom->free;

	if (!map)
		return kmem_cache_alloc(vhost_iommu_mapping_cache,
					VHOST_IOMMU_GFP);
	dom->free = map->next_free;
	dom->nr_free--;
	return map;
}

/*
 * A mapping out of @dom's tree, @dom->nr_mappings already counting it
 * gone: kept while the domain keeps fewer than VHOST_IOMMU_MAP_CACHE and
 * fewer than it has mappings; every kept one is freed when the last
 * mapping goes (the domain's death included). Context: the store lock.
 */
static void vhost_iommu_mapping_free(struct vhost_iommu_domain *dom,
				     struct vhost_iommu_mapping *map)
{
	if (dom->nr_mappings && dom->nr_free < VHOST_IOMMU_MAP_CACHE &&
	    dom->nr_free < dom->nr_mappings) {
		map->next_free = dom->free;
		dom->free = map;
		dom->nr_free++;
		return;
	}
	kmem_cache_free(vhost_iommu_mapping_cache, map);
	if (dom->nr_mappings)
		return;
	while ((map = dom->free)) {
		dom->free = map->next_free;
		kmem_cache_free(vhost_iommu_mapping_cache, map);
	}
	dom->nr_free = 0;
}

/*
 * Takes up to VHOST_IOMMU_REMOVE_BATCH mappings that meet [@start, @end]
 * out of the tree, widens [*@first, *@last] to cover them, and frees them.
 * Returns how many: fewer than VHOST_IOMMU_REMOVE_BATCH when none is left.
 */
static unsigned int vhost_iommu_mappings_take(struct vhost_iommu_store *s,
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
		rb_erase(&map->rb, &dom->mappings);
		*first = min(*first, map->iova);
		*last = max(*last, map->last);
		batch[n++] = map;
	}
	spin_unlock(&dom->tree_lock);
	s->nr_mappings -= n;
	dom->nr_mappings -= n;
	/* No reader holds them: each lookup holds a lock held above. */
	for (i = 0; i < n; i++)
		vhost_iommu_mapping_free(dom, batch[i]);
	return n;
}

/*
 * Removes every mapping that meets [@start, @end], whole; returns the
 * range they covered in *@first and *@last (@start and @end if none). A
 * guest may remove millions of mappings in one request: tree_lock is held
 * a batch at a time, with a resched point between batches (the store lock
 * is a mutex). Nothing is allocated, so nothing can fail.
 * Context: the store lock held.
 */
static void vhost_iommu_mappings_remove(struct vhost_iommu_store *s,
					struct vhost_iommu_domain *dom,
					u64 start, u64 end,
					u64 *first, u64 *last)
{
	*first = start;
	*last = end;
	while (vhost_iommu_mappings_take(s, dom, start, end, first, last) ==
	       VHOST_IOMMU_REMOVE_BATCH)
		cond_resched();
}

/* Takes @map out of @dom's tree and frees it. Context: the store lock. */
static void vhost_iommu_mapping_remove(struct vhost_iommu_store *s,
				       struct vhost_iommu_domain *dom,
				       struct vhost_iommu_mapping *map)
{
	spin_lock(&dom->tree_lock);
	rb_erase(&map->rb, &dom->mappings);
	spin_unlock(&dom->tree_lock);
	s->nr_mappings--;
	dom->nr_mappings--;
	/* No reader holds it: each lookup holds a lock held above. */
	vhost_iommu_mapping_free(dom, map);
}

/* As vhost_iommu_mappings_remove(), and the subscribers drop the range. */
static void vhost_iommu_unmap_range(struct vhost_iommu_store *s,
				    struct vhost_iommu_domain *dom,
				    u64 start, u64 end)
{
	u64 first, last;

	lockdep_assert_held(&s->lock);
	vhost_iommu_mappings_remove(s, dom, start, end, &first, &last);
	vhost_iommu_dom_unmapped(dom, first, last);
}

/*
 * The domain has no endpoint left: it dies with its mappings, freed here
 * so that max_mappings counts every mapping still allocated; it has no
 * subscriber to tell. Lock-free readers may still hold the domain: it is
 * freed after a grace period, its tree empty.
 */
static void vhost_iommu_domain_destroy(struct vhost_iommu_store *s,
				       struct vhost_iommu_domain *dom)
{
	u64 first, last;

	xa_erase(&s->domains, dom->id);
	if (s->last_domain == dom)
		s->last_domain = NULL;
	s->nr_domains--;
	vhost_iommu_mappings_remove(s, dom, 0, U64_MAX, &first, &last);
	kfree_rcu(dom, rcu);
}

/*
 * @ep left @dom, which dies with it if it was its last endpoint. The
 * caller has already pointed ep->domain elsewhere (NULL or the new domain),
 * so that a lock-free reader sees the old domain or the new one, never an
 * unattached endpoint in between (with config bypass set, that would be
 * the identity), and taken @ep off @dom's list.
 */
static void vhost_iommu_leave_locked(struct vhost_iommu_store *s,
				     struct vhost_iommu_ep *ep,
				     struct vhost_iommu_domain *dom)
{
	vhost_iommu_ep_invalidate(ep);
	dom->nr_report -= ep->report;
	if (!--dom->nr_endpoints)
		vhost_iommu_domain_destroy(s, dom);
}

static void vhost_iommu_detach_locked(struct vhost_iommu_store *s,
				      struct vhost_iommu_ep *ep)
{
	struct vhost_iommu_domain *dom;

	dom = rcu_dereference_protected(ep->domain, lockdep_is_held(&s->lock));
	rcu_assign_pointer(ep->domain, NULL);
	list_del(&ep->dom_node);
	vhost_iommu_leave_locked(s, ep, dom);
}

/* Every endpoint detached: every domain dies. Context: the store lock. */
static void vhost_iommu_detach_all_locked(struct vhost_iommu_store *s)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	xa_for_each(&s->endpoints, index, ep) {
		if (rcu_access_pointer(ep->domain))
			vhost_iommu_detach_locked(s, ep);
		cond_resched();
	}
}

/* An endpoint whose reserved regions hold mappings cannot join. */
static bool vhost_iommu_compatible(struct vhost_iommu_domain *dom,
				   struct vhost_iommu_ep *ep)
{
	u32 i;

	for (i = 0; i < ep->nr_resv; i++)
		if (vhost_iommu_mapping_first(dom, ep->resv[i].start,
					      ep->resv[i].end))
			return false;
	return true;
}

/*
 * Moves @ep into domain @domain, created as guest-managed (@vmm false,
 * @bypass as given) or VMM-managed if it does not exist.
 * Return: 0, -EINVAL (the domain exists and is of the other kind),
 * -EOPNOTSUPP (reserved regions hold mappings of the domain) or -ENOMEM.
 */
static int vhost_iommu_attach_ep(struct vhost_iommu_store *s,
				 struct vhost_iommu_ep *ep, u32 domain,
				 bool bypass, bool vmm)
{
	struct vhost_iommu_domain *dom, *old;

	old = rcu_dereference_protected(ep->domain, lockdep_is_held(&s->lock));
	dom = vhost_iommu_domain_find(s, domain);
	if (dom) {
		if (dom->bypass != bypass || dom->vmm != vmm)
			return -EINVAL;
		if (dom == old)
			return 0;
		if (!vhost_iommu_compatible(dom, ep))
			return -EOPNOTSUPP;
	} else {
		dom = vhost_iommu_domain_create(s, domain, bypass, vmm);
		if (!dom)
			return -ENOMEM;
	}
	/*
	 * Re-attach: behave as a DETACH followed by this ATTACH, but switch
	 * the pointer at once, so lock-free readers never see it unattached.
	 */
	if (old)
		list_move_tail(&ep->dom_node, &dom->endpoints);
	else
		list_add_tail(&ep->dom_node, &dom->endpoints);
	dom->nr_endpoints++;
	dom->nr_report += ep->report;
	rcu_assign_pointer(ep->domain, dom);
	if (old)
		vhost_iommu_leave_locked(s, ep, old);
	else
		vhost_iommu_ep_invalidate(ep);
	return 0;
}

static int vhost_iommu_attach_locked(struct vhost_iommu_store *s, u32 domain,
				     u32 endpoint, bool bypass)
{
	struct vhost_iommu_ep *ep;

	if (bypass && !vhost_iommu_store_has(s, VIRTIO_IOMMU_F_BYPASS_CONFIG))
		return -EINVAL;
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep)
		return -ENOENT;
	if (vhost_iommu_store_has(s, VIRTIO_IOMMU_F_DOMAIN_RANGE) &&
	    (domain < s->config.domain_start || domain > s->config.domain_end))
		return -ERANGE;
	return vhost_iommu_attach_ep(s, ep, domain, bypass, false);
}

/*
 * Whether a guest request concerns an endpoint of the VMM's report channel
 * (VHOST_IOMMU_ENDPOINT_F_REPORT), decided under the store lock together
 * with its execution: see the @report argument of the guest requests.
 */
static int vhost_iommu_report_check(bool concerned, bool *report)
{
	if (concerned && !*report)
		return -ENOTCONN;
	*report = concerned;
	return 0;
}

/**
 * vhost_iommu_store_attach() - ATTACH
 * @s: the store
 * @domain: domain id
 * @endpoint: endpoint id
 * @bypass: VIRTIO_IOMMU_ATTACH_F_BYPASS
 * @report: in: the report channel is open; out, when 0 is returned: the
 *	endpoint is a REPORT endpoint (the VMM must be told)
 *
 * Return: 0, -EINVAL, -ENOENT (no such endpoint), -ERANGE (domain id out
 * of the range), -EOPNOTSUPP (reserved regions hold mappings), -ENOMEM,
 * or -ENOTCONN (a REPORT endpoint and no channel: nothing changed).
 */
int vhost_iommu_store_attach(struct vhost_iommu_store *s, u32 domain,
			     u32 endpoint, bool bypass, bool *report)
{
	struct vhost_iommu_ep *ep;
	int ret;

	mutex_lock(&s->lock);
	ep = xa_load(&s->endpoints, endpoint);
	ret = vhost_iommu_report_check(ep && ep->report, report);
	if (!ret)
		ret = vhost_iommu_attach_locked(s, domain, endpoint, bypass);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_detach() - DETACH
 * @s: the store
 * @domain: domain id
 * @endpoint: endpoint id
 * @report: as for vhost_iommu_store_attach()
 *
 * Return: 0, -ENOENT (no such endpoint), -EINVAL (not attached to that
 * domain of the guest) or -ENOTCONN.
 */
int vhost_iommu_store_detach(struct vhost_iommu_store *s, u32 domain,
			     u32 endpoint, bool *report)
{
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;
	int ret = 0;

	mutex_lock(&s->lock);
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep) {
		ret = -ENOENT;
		goto out;
	}
	ret = vhost_iommu_report_check(ep->report, report);
	if (ret)
		goto out;
	dom = rcu_dereference_protected(ep->domain, lockdep_is_held(&s->lock));
	if (!dom || dom->id != domain || dom->vmm) {
		ret = -EINVAL;
		goto out;
	}
	vhost_iommu_detach_locked(s, ep);
out:
	mutex_unlock(&s->lock);
	return ret;
}

/* A guest-managed, non-bypass domain, for MAP and UNMAP */
static int vhost_iommu_map_domain(struct vhost_iommu_store *s, u32 domain,
				  struct vhost_iommu_domain **dom)
{
	*dom = vhost_iommu_domain_find(s, domain);
	if (!*dom)
		return -ENOENT;
	if ((*dom)->bypass || (*dom)->vmm)
		return -EINVAL;
	return 0;
}

static bool vhost_iommu_hits_resv(struct vhost_iommu_domain *dom,
				  u64 start, u64 end)
{
	struct vhost_iommu_ep *ep;
	unsigned int n = 0;
	u32 i;

	list_for_each_entry(ep, &dom->endpoints, dom_node) {
		for (i = 0; i < ep->nr_resv; i++)
			if (vhost_iommu_ranges_overlap(start, end,
						       ep->resv[i].start,
						       ep->resv[i].end))
				return true;
		/* The VMM sets the number of endpoints (a mutex is held) */
		vhost_iommu_ep_resched(&n);
	}
	return false;
}

static int vhost_iommu_map_check(struct vhost_iommu_store *s, u64 start,
				 u64 end, u64 phys)
{
	u64 mask = vhost_iommu_store_granule(s) - 1;

	if (end < start)
		return -EINVAL;
	if ((start & mask) || (phys & mask) || ((end + 1) & mask) ||
	    phys + (end - start) < phys)
		return -ERANGE;
	if (vhost_iommu_store_has(s, VIRTIO_IOMMU_F_INPUT_RANGE) &&
	    (start < s->config.input_start || end > s->config.input_end))
		return -ERANGE;
	return 0;
}

/*
 * Adds a mapping to a domain. Context: the store lock held; @phys aligned
 * to the granule, @perm within VHOST_IOMMU_MAP_PERM_MASK. One descent both
 * finds where the mapping goes and checks that the range is free: mappings
 * do not overlap, so one that meets [@start, @end] lies on the path of any
 * search for it. Returns it, ERR_PTR(-EEXIST) when the range is not free, ERR_PTR(-ENOSPC)
 * at max_mappings or ERR_PTR(-ENOMEM), checked in that order.
 */
static struct vhost_iommu_mapping *
vhost_iommu_mapping_insert(struct vhost_iommu_store *s,
			   struct vhost_iommu_domain *dom, u64 start, u64 end,
			   u64 phys, u32 perm)
{
	struct rb_node **link = &dom->mappings.rb_node;
	struct vhost_iommu_mapping *map, *m;
	struct rb_node *parent = NULL;
	int err = -ENOSPC;

	lockdep_assert_held(&s->lock);
	if (s->nr_mappings >= READ_ONCE(vhost_iommu_max_mappings))
		goto err_check;
	err = -ENOMEM;
	map = vhost_iommu_mapping_alloc(dom);
	if (!map)
		goto err_check;
	map->iova = start;
	map->last = end;
	/* Both checked: phys on the granule, perm within the mask */
	map->phys_perm = phys | perm;
	spin_lock(&dom->tree_lock);
	while (*link) {
		m = rb_entry(*link, struct vhost_iommu_mapping, rb);
		if (end < m->iova) {
			link = &m->rb.rb_left;
		} else if (start > m->last) {
			link = &m->rb.rb_right;
		} else {
			spin_unlock(&dom->tree_lock);
			vhost_iommu_mapping_free(dom, map);
			return ERR_PTR(-EEXIST);
		}
		parent = &m->rb;
	}
	rb_link_node(&map->rb, parent, link);
	rb_insert_color(&map->rb, &dom->mappings);
	spin_unlock(&dom->tree_lock);
	s->nr_mappings++;
	dom->nr_mappings++;
	return map;

err_check:
	return ERR_PTR(vhost_iommu_mapping_first(dom, start, end) ? -EEXIST :
		       err);
}

static int vhost_iommu_map_locked(struct vhost_iommu_store *s, u32 domain,
				  u64 start, u64 end, u64 phys, u32 perm)
{
	u32 known = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	int ret;

	if (vhost_iommu_store_has(s, VIRTIO_IOMMU_F_MMIO))
		known |= VIRTIO_IOMMU_MAP_F_MMIO;
	if (perm & ~known)
		return -EINVAL;
	ret = vhost_iommu_map_domain(s, domain, &dom);
	if (ret)
		return ret;
	ret = vhost_iommu_map_check(s, start, end, phys);
	if (ret)
		return ret;
	if (vhost_iommu_hits_resv(dom, start, end))
		return -EINVAL;
	/* The range must be free: the insert checks it first */
	map = vhost_iommu_mapping_insert(s, dom, start, end, phys, perm);
	if (IS_ERR(map))
		return PTR_ERR(map) == -EEXIST ? -EINVAL : PTR_ERR(map);
	vhost_iommu_dom_mapped(dom, map, false);
	return 0;
}

/**
 * vhost_iommu_store_map() - MAP
 * @s: the store
 * @domain: domain id
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 * @phys: guest-physical address of @start
 * @perm: VIRTIO_IOMMU_MAP_F_*
 * @report: in: the report channel is open; out, when 0 is returned: a
 *	REPORT endpoint is attached to the domain
 *
 * Return: 0, -EINVAL, -ENOENT (no such domain), -ERANGE (alignment,
 * overflow, input range), -ENOSPC (max_mappings), -ENOMEM or -ENOTCONN
 * (a REPORT endpoint and no channel: nothing changed).
 */
int vhost_iommu_store_map(struct vhost_iommu_store *s, u32 domain,
			  u64 start, u64 end, u64 phys, u32 perm, bool *report)
{
	struct vhost_iommu_domain *dom;
	int ret;

	mutex_lock(&s->lock);
	/* No REPORT endpoint declared (the common case): no lookup */
	dom = s->nr_report ? vhost_iommu_domain_find(s, domain) : NULL;
	ret = vhost_iommu_report_check(dom && dom->nr_report, report);
	if (!ret)
		ret = vhost_iommu_map_locked(s, domain, start, end, phys,
					     perm);
	mutex_unlock(&s->lock);
	return ret;
}

static int vhost_iommu_unmap_locked(struct vhost_iommu_store *s, u32 domain,
				    u64 start, u64 end)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	int ret;

	ret = vhost_iommu_map_domain(s, domain, &dom);
	if (ret)
		return ret;
	if (end < start)
		return -EINVAL;
	/*
	 * A mapping is removed whole or not at all. The lowest mapping that
	 * meets the range holds @start if any does; if it also reaches @end,
	 * it holds @end and is the only one (mappings do not overlap): the
	 * common UNMAP of one mapping costs one search.
	 */
	map = vhost_iommu_mapping_first(dom, start, end);
	if (map && map->iova < start)
		return -ERANGE;
	if (map && map->last >= end) {
		if (map->last > end)
			return -ERANGE;
		vhost_iommu_mapping_remove(s, dom, map);
		vhost_iommu_dom_unmapped(dom, start, end);
		return 0;
	}
	if (map) {
		map = vhost_iommu_mapping_first(dom, end, end);
		if (map && map->last > end)
			return -ERANGE;
	}
	vhost_iommu_unmap_range(s, dom, start, end);
	return 0;
}

/**
 * vhost_iommu_store_unmap() - UNMAP
 * @s: the store
 * @domain: domain id
 * @start: first IOVA
 * @end: last IOVA (inclusive)
 * @report: as for vhost_iommu_store_map()
 *
 * Returns once every subscriber dropped the range.
 * Return: 0, -EINVAL, -ENOENT (no such domain), -ERANGE (it would split
 * a mapping) or -ENOTCONN.
 */
int vhost_iommu_store_unmap(struct vhost_iommu_store *s, u32 domain,
			    u64 start, u64 end, bool *report)
{
	struct vhost_iommu_domain *dom;
	int ret;

	mutex_lock(&s->lock);
	dom = s->nr_report ? vhost_iommu_domain_find(s, domain) : NULL;
	ret = vhost_iommu_report_check(dom && dom->nr_report, report);
	if (!ret)
		ret = vhost_iommu_unmap_locked(s, domain, start, end);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_resv() - an endpoint's reserved regions, for PROBE
 * @s: the store
 * @endpoint: endpoint id
 * @resv: room for VHOST_IOMMU_MAX_RESV regions; NULL (no memory for it)
 *	fails with -ENOMEM
 * @nr: set to the number of regions, 0 on failure
 * @probe_size: set to the configured probe_size, whatever the outcome
 *
 * Return: 0, -ENOMEM or -ENOENT.
 */
int vhost_iommu_store_resv(struct vhost_iommu_store *s, u32 endpoint,
			   struct vhost_iommu_resv *resv, u32 *nr,
			   u32 *probe_size)
{
	struct vhost_iommu_ep *ep;
	int ret = 0;

	*nr = 0;
	mutex_lock(&s->lock);
	*probe_size = s->config.probe_size;
	ep = xa_load(&s->endpoints, endpoint);
	if (!resv) {
		ret = -ENOMEM;
		goto out;
	}
	if (!ep) {
		ret = -ENOENT;
		goto out;
	}
	memcpy(resv, ep->resv, ep->nr_resv * sizeof(*resv));
	*nr = ep->nr_resv;
out:
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_lookup() - translate an IOVA of an endpoint
 * @s: the store
 * @endpoint: endpoint id
 * @iova: the address
 * @need: VIRTIO_IOMMU_MAP_F_READ and/or _WRITE that the access needs
 * @x: the translation on success; on -ENOENT and -EACCES, @x->domain and
 *	@x->vmm give the endpoint's domain
 *
 * The only lookup of the module: VHOST_IOMMU_TRANSLATE, the vhost-net
 * bridge and the device IOTLB use it. Takes no mutex: the endpoint and its
 * domain are found under RCU, the mapping under the domain's tree_lock.
 * Context: any process context; the store lock may be held.
 * Return: 0, -ENODEV (no such endpoint), -ENXIO (not attached, no
 * bypass), -ENOENT (no mapping) or -EACCES (a permission is missing).
 */
int vhost_iommu_store_lookup(struct vhost_iommu_store *s, u32 endpoint,
			     u64 iova, u32 need, struct vhost_iommu_xlate *x)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;
	int ret = -ENODEV;

	rcu_read_lock();
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep)
		goto out_unlock;
	dom = rcu_dereference(ep->domain);
	if (dom ? dom->bypass : READ_ONCE(s->config.bypass)) {
		*x = (struct vhost_iommu_xlate) {
			.last = U64_MAX,
			.perm = VIRTIO_IOMMU_MAP_F_READ |
				VIRTIO_IOMMU_MAP_F_WRITE,
			.identity = true,
		};
		ret = 0;
		goto out_unlock;
	}
	ret = -ENXIO;
	if (!dom)
		goto out_unlock;
	x->domain = dom->id;
	x->vmm = dom->vmm;
	x->identity = false;
	/* A dead domain's tree is empty; the domain outlives this section. */
	spin_lock(&dom->tree_lock);
	map = vhost_iommu_mapping_first(dom, iova, iova);
	if (map)
		vhost_iommu_mapping_xlate(map, dom, x);
	spin_unlock(&dom->tree_lock);
	if (!map)
		ret = -ENOENT;
	else if ((x->perm & need) != need)
		ret = -EACCES;
	else
		ret = 0;
out_unlock:
	rcu_read_unlock();
	return ret;
}

/* A mapping as the uapi lists it (struct vhost_iommu_iotlb_entry) */
static void vhost_iommu_mapping_entry(const struct vhost_iommu_mapping *map,
				      struct vhost_iommu_iotlb_entry *e)
{
	u32 perm = vhost_iommu_map_perm(map);

	*e = (struct vhost_iommu_iotlb_entry) {
		.iova = map->iova,
		.size = map->last - map->iova + 1,
		.gpa = vhost_iommu_map_phys(map),
		.perm = vhost_iommu_perm_to_access(perm) |
			(perm & VIRTIO_IOMMU_MAP_F_MMIO ?
			 VHOST_IOMMU_ACCESS_MMIO : 0),
	};
}

/**
 * vhost_iommu_store_list() - a domain's mappings, in IOVA order
 * @s: the store
 * @l: in: the domain, the IOVA to start from and the room in @out; out:
 *	what was listed (struct vhost_iommu_mappings of the uapi)
 * @out: at least @l->nr entries
 *
 * Lists the mapping that holds @l->iova, or the first after it, and those
 * after it, up to @l->nr. Nothing is copied to user space here: the store
 * lock is not held across a fault on the caller's memory.
 *
 * Return: 0, or -ENOENT for an unknown domain.
 */
int vhost_iommu_store_list(struct vhost_iommu_store *s,
			   struct vhost_iommu_mappings *l,
			   struct vhost_iommu_iotlb_entry *out)
{
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	unsigned int n = 0;
	int ret = -ENOENT;

	mutex_lock(&s->lock);
	dom = vhost_iommu_domain_find(s, l->domain);
	if (!dom)
		goto out_unlock;
	l->domain_flags = (dom->bypass ? VHOST_IOMMU_DOMAIN_F_BYPASS : 0) |
			  (dom->vmm ? VHOST_IOMMU_DOMAIN_F_VMM : 0);
	map = vhost_iommu_mapping_first(dom, l->iova, U64_MAX);
	for (; map && n < l->nr; n++) {
		vhost_iommu_mapping_entry(map, &out[n]);
		l->iova = map->last + 1;
		/* At the last IOVA there is, nothing can follow. */
		map = l->iova ? vhost_iommu_mapping_next(map, U64_MAX) : NULL;
	}
	l->nr = n;
	l->done = !map;
	ret = 0;
out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

/* Whether the endpoint is attached to a VMM-managed domain. Store lock. */
bool vhost_iommu_store_ep_vmm(struct vhost_iommu_store *s, u32 endpoint)
{
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;

	lockdep_assert_held(&s->lock);
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep)
		return false;
	dom = rcu_dereference_protected(ep->domain, lockdep_is_held(&s->lock));
	return dom && dom->vmm;
}

/*
 * Sets bypass. Unattached endpoints were translated by the old setting:
 * their subscribers forget it. Context: the store lock held.
 */
static void vhost_iommu_set_bypass_locked(struct vhost_iommu_store *s,
					  u8 bypass)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	if (s->config.bypass == bypass)
		return;
	xa_for_each(&s->endpoints, index, ep) {
		if (!rcu_access_pointer(ep->domain))
			vhost_iommu_ep_invalidate(ep);
		cond_resched();
	}
	WRITE_ONCE(s->config.bypass, bypass);
}

/**
 * vhost_iommu_store_set_config() - replace the configuration
 * @s: the store
 * @cfg: the new configuration, already checked field by field; @flags 0
 *	or VHOST_IOMMU_CONFIG_F_DRIVER
 *
 * Context: the device mutex held.
 * Return: 0; -EBUSY when endpoints exist and more than bypass changes;
 * -EINVAL when a write of the driver would change more than bypass.
 */
int vhost_iommu_store_set_config(struct vhost_iommu_store *s,
				 const struct vhost_iommu_config *cfg)
{
	bool driver = cfg->flags & VHOST_IOMMU_CONFIG_F_DRIVER;
	struct vhost_iommu_config cur, new = *cfg;
	int ret = 0;

	new.flags = 0;
	mutex_lock(&s->lock);
	cur = s->config;
	cur.bypass = new.bypass;
	if ((driver || s->nr_endpoints) && memcmp(&cur, &new, sizeof(cur))) {
		ret = driver ? -EINVAL : -EBUSY;
		goto out;
	}
	vhost_iommu_set_bypass_locked(s, new.bypass);
	s->config = new;
	if (!driver)
		s->reset_bypass = new.bypass;
out:
	mutex_unlock(&s->lock);
	return ret;
}

void vhost_iommu_store_get_config(struct vhost_iommu_store *s,
				  struct vhost_iommu_config *cfg)
{
	mutex_lock(&s->lock);
	*cfg = s->config;
	mutex_unlock(&s->lock);
}

/**
 * vhost_iommu_store_endpoint_add() - declare an endpoint
 * @s: the store
 * @id: the endpoint id
 * @regions: its reserved regions, checked
 * @nr_resv: how many, at most VHOST_IOMMU_MAX_RESV
 * @report: VHOST_IOMMU_ENDPOINT_F_REPORT
 *
 * Return: 0, -EEXIST, -ENOSPC (properties exceed probe_size, or the device
 * has max_endpoints) or -ENOMEM.
 */
int vhost_iommu_store_endpoint_add(struct vhost_iommu_store *s, u32 id,
				   const struct vhost_iommu_resv_region *regions,
				   u32 nr_resv, bool report)
{
	struct vhost_iommu_ep *ep;
	int ret;
	u32 i;

	ep = kzalloc(struct_size(ep, resv, nr_resv), VHOST_IOMMU_GFP);
	if (!ep)
		return -ENOMEM;
	ep->id = id;
	ep->report = report;
	INIT_LIST_HEAD(&ep->subs);
	ep->nr_resv = nr_resv;
	for (i = 0; i < nr_resv; i++)
		ep->resv[i] = (struct vhost_iommu_resv) {
			.start = regions[i].start,
			.end = regions[i].end,
			.subtype = regions[i].subtype,
		};
	mutex_lock(&s->lock);
	if (nr_resv * sizeof(struct virtio_iommu_probe_resv_mem) >
	    s->config.probe_size ||
	    s->nr_endpoints >= READ_ONCE(vhost_iommu_max_endpoints)) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	ret = xa_insert(&s->endpoints, id, ep, VHOST_IOMMU_GFP);
	if (ret == -EBUSY)
		ret = -EEXIST;
	if (!ret) {
		s->nr_endpoints++;
		s->nr_report += report;
	}
out_unlock:
	mutex_unlock(&s->lock);
	if (ret)
		kfree(ep);
	return ret;
}

static void vhost_iommu_endpoint_del_locked(struct vhost_iommu_store *s,
					    struct vhost_iommu_ep *ep)
{
	if (rcu_access_pointer(ep->domain))
		vhost_iommu_detach_locked(s, ep);
	xa_erase(&s->endpoints, ep->id);
	s->nr_endpoints--;
	s->nr_report -= ep->report;
	kfree_rcu(ep, rcu);
}

/**
 * vhost_iommu_store_endpoint_del() - remove an endpoint, detaching it first
 * @s: the store
 * @id: the endpoint id
 *
 * Return: 0, -ENOENT, or -EBUSY while a consumer is subscribed to it
 * (consumers unsubscribe first).
 */
int vhost_iommu_store_endpoint_del(struct vhost_iommu_store *s, u32 id)
{
	struct vhost_iommu_ep *ep;
	int ret = 0;

	mutex_lock(&s->lock);
	ep = xa_load(&s->endpoints, id);
	if (!ep)
		ret = -ENOENT;
	else if (!list_empty(&ep->subs))
		ret = -EBUSY;
	else
		vhost_iommu_endpoint_del_locked(s, ep);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_vmm_attach() - VHOST_IOMMU_IOTLB_ATTACH
 * @s: the store
 * @domain: domain id
 * @endpoint: endpoint id
 * @detach: detach instead
 *
 * Return: 0, -ENODEV, -EEXIST (a domain of the guest), -ENOENT (detach:
 * not attached there), -EINVAL (reserved regions hold mappings) or
 * -ENOMEM.
 */
int vhost_iommu_store_vmm_attach(struct vhost_iommu_store *s, u32 domain,
				 u32 endpoint, bool detach)
{
	struct vhost_iommu_domain *dom, *cur;
	struct vhost_iommu_ep *ep;
	int ret = 0;

	mutex_lock(&s->lock);
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep) {
		ret = -ENODEV;
		goto out;
	}
	cur = rcu_dereference_protected(ep->domain, lockdep_is_held(&s->lock));
	if (detach) {
		if (!cur || cur->id != domain || !cur->vmm)
			ret = -ENOENT;
		else
			vhost_iommu_detach_locked(s, ep);
		goto out;
	}
	dom = vhost_iommu_domain_find(s, domain);
	if (dom && !dom->vmm) {
		ret = -EEXIST;
		goto out;
	}
	ret = vhost_iommu_attach_ep(s, ep, domain, false, true);
	if (ret == -EOPNOTSUPP)
		ret = -EINVAL;
out:
	mutex_unlock(&s->lock);
	return ret;
}

/* A VMM-managed domain. Context: the store lock held. */
static int vhost_iommu_vmm_domain(struct vhost_iommu_store *s, u32 domain,
				  struct vhost_iommu_domain **dom)
{
	*dom = vhost_iommu_domain_find(s, domain);
	if (!*dom)
		return -ENOENT;
	return (*dom)->vmm ? 0 : -EPERM;
}

/* Checks a batch, sorted by IOVA, against itself and the domain. */
static int vhost_iommu_vmm_check(struct vhost_iommu_store *s,
				 struct vhost_iommu_domain *dom,
				 const struct vhost_iommu_xlate *m, u32 nr)
{
	u32 i;

	for (i = 0; i < nr; i++)
		if ((i && m[i - 1].last >= m[i].iova) ||
		    vhost_iommu_mapping_first(dom, m[i].iova, m[i].last))
			return -EEXIST;
	if (s->nr_mappings + nr > READ_ONCE(vhost_iommu_max_mappings))
		return -ENOSPC;
	return 0;
}

static int vhost_iommu_vmm_map_locked(struct vhost_iommu_store *s,
				      struct vhost_iommu_domain *dom,
				      const struct vhost_iommu_xlate *m,
				      u32 nr)
{
	struct vhost_iommu_mapping **maps;
	u64 first, last;
	u32 i;

	maps = kcalloc(nr, sizeof(*maps), VHOST_IOMMU_GFP);
	if (!maps)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		maps[i] = vhost_iommu_mapping_insert(s, dom, m[i].iova,
						     m[i].last, m[i].phys,
						     m[i].perm);
		if (IS_ERR(maps[i]))
			goto err_remove;
	}
	for (i = 0; i < nr; i++)
		vhost_iommu_dom_mapped(dom, maps[i], true);
	kfree(maps);
	return 0;

err_remove:
	/* Nobody was told yet: removing them tells nobody either. */
	while (i--)
		vhost_iommu_mappings_remove(s, dom, m[i].iova, m[i].last,
					    &first, &last);
	kfree(maps);
	return -ENOMEM;
}

/**
 * vhost_iommu_store_vmm_check() - whether a domain is VMM-managed
 * @s: the store
 * @domain: domain id
 *
 * Return: 0, -ENOENT or -EPERM (a domain of the guest).
 */
int vhost_iommu_store_vmm_check(struct vhost_iommu_store *s, u32 domain)
{
	struct vhost_iommu_domain *dom;
	int ret;

	mutex_lock(&s->lock);
	ret = vhost_iommu_vmm_domain(s, domain, &dom);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_vmm_map() - VHOST_IOMMU_IOTLB_UPDATE
 * @s: the store
 * @domain: a VMM-managed domain
 * @maps: the translations (@iova, @last, @phys, @perm), each checked,
 *	sorted by IOVA
 * @nr: how many
 *
 * All or nothing; the subscribers are told of each with @push set.
 * Return: 0, -ENOENT, -EPERM, -EEXIST (overlap), -ENOSPC (max_mappings)
 * or -ENOMEM.
 */
int vhost_iommu_store_vmm_map(struct vhost_iommu_store *s, u32 domain,
			      const struct vhost_iommu_xlate *maps, u32 nr)
{
	struct vhost_iommu_domain *dom;
	int ret;

	mutex_lock(&s->lock);
	ret = vhost_iommu_vmm_domain(s, domain, &dom);
	if (!ret)
		ret = vhost_iommu_vmm_check(s, dom, maps, nr);
	if (!ret)
		ret = vhost_iommu_vmm_map_locked(s, dom, maps, nr);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_vmm_unmap() - VHOST_IOMMU_IOTLB_INVALIDATE
 * @s: the store
 * @domain: a VMM-managed domain
 * @ranges: the ranges (@iova, @last), each checked
 * @nr: how many
 *
 * Removes every translation that meets a range, whole, and returns once
 * the subscribers dropped them.
 * Return: 0, -ENOENT or -EPERM.
 */
int vhost_iommu_store_vmm_unmap(struct vhost_iommu_store *s, u32 domain,
				const struct vhost_iommu_xlate *ranges,
				u32 nr)
{
	struct vhost_iommu_domain *dom;
	int ret;
	u32 i;

	mutex_lock(&s->lock);
	ret = vhost_iommu_vmm_domain(s, domain, &dom);
	for (i = 0; !ret && i < nr; i++)
		vhost_iommu_unmap_range(s, dom, ranges[i].iova,
					ranges[i].last);
	mutex_unlock(&s->lock);
	return ret;
}

/**
 * vhost_iommu_store_subscribe() - tell @sub of the changes of an endpoint
 * @s: the store
 * @endpoint: the endpoint id
 * @sub: the subscription, its ops set
 *
 * Context: the store lock held.
 * Return: 0 or -ENODEV.
 */
int vhost_iommu_store_subscribe(struct vhost_iommu_store *s, u32 endpoint,
				struct vhost_iommu_sub *sub)
{
	struct vhost_iommu_ep *ep;

	lockdep_assert_held(&s->lock);
	ep = xa_load(&s->endpoints, endpoint);
	if (!ep)
		return -ENODEV;
	sub->endpoint = endpoint;
	list_add_tail(&sub->node, &ep->subs);
	return 0;
}

/* No op of @sub is called once this returns. Context: store lock held. */
void vhost_iommu_store_unsubscribe(struct vhost_iommu_store *s,
				   struct vhost_iommu_sub *sub)
{
	lockdep_assert_held(&s->lock);
	list_del(&sub->node);
}

/**
 * vhost_iommu_store_invalidate_all() - every subscriber forgets everything
 * @s: the store
 *
 * For a change outside the store that every translation depends on (the
 * memory table): the caller makes it under the store lock, then calls this.
 * Context: the store lock held.
 */
void vhost_iommu_store_invalidate_all(struct vhost_iommu_store *s)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	lockdep_assert_held(&s->lock);
	xa_for_each(&s->endpoints, index, ep) {
		vhost_iommu_ep_invalidate(ep);
		cond_resched();
	}
}

/**
 * vhost_iommu_store_reset() - device reset: every endpoint detached
 * @s: the store
 *
 * Every domain dies with its mappings; endpoints and the configuration,
 * which the VMM owns, stay.
 */
void vhost_iommu_store_reset(struct vhost_iommu_store *s)
{
	mutex_lock(&s->lock);
	vhost_iommu_detach_all_locked(s);
	mutex_unlock(&s->lock);
}

/**
 * vhost_iommu_store_device_reset() - the virtio device reset
 * @s: the store
 *
 * Every domain dies with its mappings, bypass goes back to the VMM's
 * value, and every subscriber forgets everything it was given, bypass
 * translations included. Endpoints, their subscribers and the rest of the
 * configuration stay.
 */
void vhost_iommu_store_device_reset(struct vhost_iommu_store *s)
{
	mutex_lock(&s->lock);
	vhost_iommu_detach_all_locked(s);
	WRITE_ONCE(s->config.bypass, s->reset_bypass);
	vhost_iommu_store_invalidate_all(s);
	mutex_unlock(&s->lock);
}

/* Release: everything goes. No subscriber is left. */
void vhost_iommu_store_destroy(struct vhost_iommu_store *s)
{
	struct vhost_iommu_ep *ep;
	unsigned long index;

	mutex_lock(&s->lock);
	xa_for_each(&s->endpoints, index, ep) {
		vhost_iommu_endpoint_del_locked(s, ep);
		cond_resched();
	}
	mutex_unlock(&s->lock);
	xa_destroy(&s->endpoints);
	xa_destroy(&s->domains);
}

/*
 * The saved state (Documentation/migration.md): the configuration, the
 * endpoints and the domains with their endpoints and mappings.
 */

static void vhost_iommu_save_config(struct vhost_iommu_store *s,
				    struct vhost_iommu_stream *st)
{
	struct vhost_iommu_rec_config *r;

	r = vhost_iommu_stream_put(st, VHOST_IOMMU_REC_CONFIG, sizeof(*r));
	if (!r)
		return;
	r->page_size_mask = cpu_to_le64(s->config.page_size_mask);
	r->input_start = cpu_to_le64(s->config.input_start);
	r->input_end = cpu_to_le64(s->config.input_end);
	r->domain_start = cpu_to_le32(s->config.domain_start);
	r->domain_end = cpu_to_le32(s->config.domain_end);
	r->probe_size = cpu_to_le32(s->config.probe_size);
	r->bypass = s->config.bypass;
	r->reset_bypass = s->reset_bypass;
}

static void vhost_iommu_save_endpoint(struct vhost_iommu_stream *st,
				      const struct vhost_iommu_ep *ep)
{
	struct vhost_iommu_rec_endpoint *r;
	u32 i;

	r = vhost_iommu_stream_put(st, VHOST_IOMMU_REC_ENDPOINT,
				   struct_size(r, resv, ep->nr_resv));
	if (!r)
		return;
	r->id = cpu_to_le32(ep->id);
	r->nr_resv = cpu_to_le32(ep->nr_resv);
	for (i = 0; i < ep->nr_resv; i++) {
		r->resv[i].start = cpu_to_le64(ep->resv[i].start);
		r->resv[i].end = cpu_to_le64(ep->resv[i].end);
		r->resv[i].subtype = cpu_to_le32(ep->resv[i].subtype);
	}
}

/* Bytes of a domain record's payload; SIZE_MAX when it cannot be one */
static size_t vhost_iommu_rec_domain_size(u64 nr_endpoints, u64 nr_mappings)
{
	if (nr_endpoints > U32_MAX ||
	    nr_mappings > VHOST_IOMMU_STATE_REC_MAX /
			  sizeof(struct vhost_iommu_rec_mapping))
		return SIZE_MAX;
	return sizeof(struct vhost_iommu_rec_domain) +
	       ALIGN(nr_endpoints * sizeof(__le32), 8) +
	       nr_mappings * sizeof(struct vhost_iommu_rec_mapping);
}

static void vhost_iommu_save_domain(struct vhost_iommu_stream *st,
				    struct vhost_iommu_domain *dom)
{
	struct vhost_iommu_rec_mapping *m;
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_rec_domain *r;
	struct vhost_iommu_ep *ep;
	unsigned long n = 0;
	__le32 *ids;

	r = vhost_iommu_stream_put(st, VHOST_IOMMU_REC_DOMAIN,
				   vhost_iommu_rec_domain_size(dom->nr_endpoints,
							       dom->nr_mappings));
	if (!r)
		return;
	r->id = cpu_to_le32(dom->id);
	r->flags = cpu_to_le32((dom->bypass ? VHOST_IOMMU_REC_DOMAIN_BYPASS : 0) |
			       (dom->vmm ? VHOST_IOMMU_REC_DOMAIN_VMM : 0));
	r->nr_endpoints = cpu_to_le32(dom->nr_endpoints);
	r->nr_mappings = cpu_to_le64(dom->nr_mappings);
	ids = (__le32 *)(r + 1);
	list_for_each_entry(ep, &dom->endpoints, dom_node) {
		*ids = cpu_to_le32(ep->id);
		ids++;
	}
	m = (void *)((u8 *)(r + 1) + ALIGN(dom->nr_endpoints * sizeof(*ids), 8));
	for (map = vhost_iommu_mapping_first(dom, 0, U64_MAX); map;
	     map = vhost_iommu_mapping_next(map, U64_MAX), m++) {
		m->iova = cpu_to_le64(map->iova);
		m->last = cpu_to_le64(map->last);
		m->phys_perm = cpu_to_le64(map->phys_perm);
		if (!(++n % 1024))
			cond_resched();
	}
}

/**
 * vhost_iommu_store_save() - the store's records of the saved state
 * @s: the store
 * @st: the stream; a counting one (no buffer) sizes them
 *
 * Context: the store lock held, by the caller, across the sizing and the
 * writing, so that both see the same store.
 */
void vhost_iommu_store_save(struct vhost_iommu_store *s,
			    struct vhost_iommu_stream *st)
{
	struct vhost_iommu_domain *dom;
	struct vhost_iommu_ep *ep;
	unsigned long index;

	lockdep_assert_held(&s->lock);
	vhost_iommu_save_config(s, st);
	xa_for_each(&s->endpoints, index, ep) {
		vhost_iommu_save_endpoint(st, ep);
		cond_resched();
	}
	xa_for_each(&s->domains, index, dom) {
		vhost_iommu_save_domain(st, dom);
		cond_resched();
	}
}

/**
 * vhost_iommu_store_state_max() - the longest saved state there can be
 *
 * With every limit reached: max_endpoints endpoints of VHOST_IOMMU_MAX_RESV
 * regions, each in a domain of its own, max_mappings mappings, and 1 MiB
 * for the rest. Return: bytes.
 */
size_t vhost_iommu_store_state_max(void)
{
	size_t ep = sizeof(struct vhost_iommu_state_rec) +
		    struct_size_t(struct vhost_iommu_rec_endpoint, resv,
				  VHOST_IOMMU_MAX_RESV);
	size_t dom = sizeof(struct vhost_iommu_state_rec) +
		     vhost_iommu_rec_domain_size(1, 0);

	return SZ_1M + (size_t)READ_ONCE(vhost_iommu_max_endpoints) * (ep + dom) +
	       (size_t)READ_ONCE(vhost_iommu_max_mappings) *
	       sizeof(struct vhost_iommu_rec_mapping);
}

/**
 * struct vhost_iommu_load - what loading the store's records keeps
 * @s: the store
 * @apply: false: check only; true: the records were checked, apply them
 * @seen: endpoint ids of the stream: xa_mk_value(1) listed, 2 attached
 * @last_ep: the last endpoint id, for their order
 * @last_dom: the last domain id, for their order
 * @nr_domains: domains in the stream
 * @nr_mappings: mappings in the stream
 * @config: the configuration record came
 * @bypass: its bypass
 * @reset_bypass: and bypass's reset value
 */
struct vhost_iommu_load {
	struct vhost_iommu_store *s;
	bool apply;
	struct xarray seen;
	s64 last_ep;
	s64 last_dom;
	unsigned long nr_domains;
	unsigned long nr_mappings;
	bool config;
	u8 bypass;
	u8 reset_bypass;
};

static int vhost_iommu_load_config(struct vhost_iommu_load *l,
				   const struct vhost_iommu_rec_config *r,
				   u32 size)
{
	const struct vhost_iommu_config *c = &l->s->config;

	if (l->config || size != sizeof(*r) || memchr_inv(r->__pad, 0, 2) ||
	    r->bypass > 1 || r->reset_bypass > 1)
		return -EBADMSG;
	l->config = true;
	l->bypass = r->bypass;
	l->reset_bypass = r->reset_bypass;
	if (le64_to_cpu(r->page_size_mask) != c->page_size_mask ||
	    le64_to_cpu(r->input_start) != c->input_start ||
	    le64_to_cpu(r->input_end) != c->input_end ||
	    le32_to_cpu(r->domain_start) != c->domain_start ||
	    le32_to_cpu(r->domain_end) != c->domain_end ||
	    le32_to_cpu(r->probe_size) != c->probe_size)
		return -EINVAL;
	return 0;
}

/* An endpoint of the stream: declared here, with the same regions. */
static int vhost_iommu_load_endpoint(struct vhost_iommu_load *l,
				     const struct vhost_iommu_rec_endpoint *r,
				     u32 size)
{
	u32 id = le32_to_cpu(r->id), nr, i;
	const struct vhost_iommu_ep *ep;

	if (size < sizeof(*r))
		return -EBADMSG;
	nr = le32_to_cpu(r->nr_resv);
	if (nr > VHOST_IOMMU_MAX_RESV || size != struct_size(r, resv, nr) ||
	    (s64)id <= l->last_ep)
		return -EBADMSG;
	l->last_ep = id;
	if (l->apply)
		return 0;
	ep = xa_load(&l->s->endpoints, id);
	if (!ep)
		return -ENODEV;
	if (ep->nr_resv != nr)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		if (r->resv[i].__pad ||
		    ep->resv[i].start != le64_to_cpu(r->resv[i].start) ||
		    ep->resv[i].end != le64_to_cpu(r->resv[i].end) ||
		    ep->resv[i].subtype != le32_to_cpu(r->resv[i].subtype))
			return -EINVAL;
	return xa_err(xa_store(&l->seen, id, xa_mk_value(1), VHOST_IOMMU_GFP));
}

/* A domain's mappings: ascending, apart, aligned, known permissions. */
static int vhost_iommu_load_check_mappings(struct vhost_iommu_load *l,
					   const struct vhost_iommu_rec_mapping *m,
					   u64 nr)
{
	u64 granule = vhost_iommu_store_granule(l->s), iova, last, phys;
	u64 next = 0, i;

	for (i = 0; i < nr; i++, m++) {
		iova = le64_to_cpu(m->iova);
		last = le64_to_cpu(m->last);
		phys = le64_to_cpu(m->phys_perm) & ~(u64)VHOST_IOMMU_MAP_PERM_MASK;
		if ((i && !next) || iova < next || last < iova ||
		    (iova | phys) & (granule - 1) ||
		    (last + 1) & (granule - 1) ||
		    phys + (last - iova) < phys ||
		    (le64_to_cpu(m->phys_perm) & (granule - 1) &
		     ~(u64)VHOST_IOMMU_MAP_PERM_MASK))
			return -EBADMSG;
		next = last + 1;
		if (!(i % 1024))
			cond_resched();
	}
	return 0;
}

static int vhost_iommu_load_check_domain(struct vhost_iommu_load *l,
					 const struct vhost_iommu_rec_domain *r,
					 const __le32 *ids,
					 const struct vhost_iommu_rec_mapping *m)
{
	u32 flags = le32_to_cpu(r->flags), nr_ep = le32_to_cpu(r->nr_endpoints);
	u64 nr_map = le64_to_cpu(r->nr_mappings);
	u32 i;
	int ret;

	if ((flags & ~(VHOST_IOMMU_REC_DOMAIN_BYPASS |
		       VHOST_IOMMU_REC_DOMAIN_VMM)) ||
	    flags == (VHOST_IOMMU_REC_DOMAIN_BYPASS | VHOST_IOMMU_REC_DOMAIN_VMM) ||
	    ((flags & VHOST_IOMMU_REC_DOMAIN_BYPASS) && nr_map) || !nr_ep)
		return -EBADMSG;
	for (i = 0; i < nr_ep; i++) {
		u32 id = le32_to_cpu(ids[i]);

		/* Listed in the stream, and attached once */
		if (xa_load(&l->seen, id) != xa_mk_value(1))
			return -EBADMSG;
		ret = xa_err(xa_store(&l->seen, id, xa_mk_value(2),
				      VHOST_IOMMU_GFP));
		if (ret)
			return ret;
		if (!(i % 1024))
			cond_resched();
	}
	if (++l->nr_domains > READ_ONCE(vhost_iommu_max_domains))
		return -ENOSPC;
	l->nr_mappings += nr_map;
	if (l->nr_mappings > READ_ONCE(vhost_iommu_max_mappings))
		return -ENOSPC;
	return vhost_iommu_load_check_mappings(l, m, nr_map);
}

static int vhost_iommu_load_apply_domain(struct vhost_iommu_load *l,
					 const struct vhost_iommu_rec_domain *r,
					 const __le32 *ids,
					 const struct vhost_iommu_rec_mapping *m)
{
	struct vhost_iommu_store *s = l->s;
	u32 flags = le32_to_cpu(r->flags), id = le32_to_cpu(r->id), i;
	bool bypass = flags & VHOST_IOMMU_REC_DOMAIN_BYPASS;
	bool vmm = flags & VHOST_IOMMU_REC_DOMAIN_VMM;
	struct vhost_iommu_mapping *map;
	struct vhost_iommu_domain *dom;
	u64 nr = le64_to_cpu(r->nr_mappings), k;
	u64 phys_perm;
	int ret;

	dom = vhost_iommu_domain_create(s, id, bypass, vmm);
	if (!dom)
		return -ENOMEM;
	for (k = 0; k < nr; k++, m++) {
		phys_perm = le64_to_cpu(m->phys_perm);
		map = vhost_iommu_mapping_insert(s, dom, le64_to_cpu(m->iova),
						 le64_to_cpu(m->last),
						 phys_perm & ~(u64)VHOST_IOMMU_MAP_PERM_MASK,
						 phys_perm & VHOST_IOMMU_MAP_PERM_MASK);
		if (IS_ERR(map))
			return PTR_ERR(map);
		if (!(k % 1024))
			cond_resched();
	}
	for (i = 0; i < le32_to_cpu(r->nr_endpoints); i++) {
		/* Checked: every id is a declared endpoint */
		ret = vhost_iommu_attach_ep(s, xa_load(&s->endpoints,
						       le32_to_cpu(ids[i])),
					    id, bypass, vmm);
		/* A reserved region that holds a mapping of the domain */
		if (ret)
			return ret == -EOPNOTSUPP ? -EINVAL : ret;
	}
	return 0;
}

static int vhost_iommu_load_domain(struct vhost_iommu_load *l,
				   const struct vhost_iommu_rec_domain *r,
				   u32 size)
{
	const struct vhost_iommu_rec_mapping *m;
	const __le32 *ids;
	u32 nr_ep;

	if (size < sizeof(*r) || r->__pad ||
	    (s64)le32_to_cpu(r->id) <= l->last_dom)
		return -EBADMSG;
	nr_ep = le32_to_cpu(r->nr_endpoints);
	if (vhost_iommu_rec_domain_size(nr_ep, le64_to_cpu(r->nr_mappings)) !=
	    size)
		return -EBADMSG;
	l->last_dom = le32_to_cpu(r->id);
	ids = (const __le32 *)(r + 1);
	m = (const void *)((const u8 *)ids + ALIGN(nr_ep * sizeof(*ids), 8));
	if (l->apply)
		return vhost_iommu_load_apply_domain(l, r, ids, m);
	return vhost_iommu_load_check_domain(l, r, ids, m);
}

/* Back to no domain, as before a failed load. */
static void vhost_iommu_load_unwind(struct vhost_iommu_store *s)
{
	struct vhost_iommu_domain *dom;
	unsigned long index;

	vhost_iommu_detach_all_locked(s);
	/* Created, but no endpoint joined before the failure */
	xa_for_each(&s->domains, index, dom)
		vhost_iommu_domain_destroy(s, dom);
}

static int vhost_iommu_load_records(struct vhost_iommu_load *l,
				    struct vhost_iommu_stream *st)
{
	size_t pos = st->pos;
	const void *p;
	u16 type;
	u32 size;
	int ret;

	while ((p = vhost_iommu_stream_get(st, &type, &size))) {
		switch (type) {
		case VHOST_IOMMU_REC_CONFIG:
			ret = vhost_iommu_load_config(l, p, size);
			break;
		case VHOST_IOMMU_REC_ENDPOINT:
			ret = l->config && l->last_dom < 0 ?
			      vhost_iommu_load_endpoint(l, p, size) : -EBADMSG;
			break;
		case VHOST_IOMMU_REC_DOMAIN:
			ret = l->config ? vhost_iommu_load_domain(l, p, size) :
					  -EBADMSG;
			break;
		default:
			/* The next part's: leave it to the caller */
			st->pos = pos;
			return l->config ? 0 : -EBADMSG;
		}
		if (ret)
			return ret;
		pos = st->pos;
		cond_resched();
	}
	return st->error ? -EBADMSG : 0;
}

/**
 * vhost_iommu_store_load() - load the store's records of a saved state
 * @s: the store, with no domain
 * @st: the stream, at the store's first record; left at the first record
 *	that is not the store's
 * @apply: false: check the records, changing nothing; true: apply records
 *	that a check passed
 *
 * Return: 0; -EBUSY (the store has domains), -EBADMSG (a malformed record,
 * or one out of order), -EINVAL (another configuration, or endpoints with
 * other regions), -ENODEV (an endpoint not declared), -ENOSPC, -ENOMEM.
 * A failed apply leaves the store as it was.
 */
int vhost_iommu_store_load(struct vhost_iommu_store *s,
			   struct vhost_iommu_stream *st, bool apply)
{
	struct vhost_iommu_load l = {
		.s = s,
		.apply = apply,
		.last_ep = -1,
		.last_dom = -1,
	};
	int ret = -EBUSY;

	xa_init(&l.seen);
	mutex_lock(&s->lock);
	if (s->nr_domains)
		goto out_unlock;
	ret = vhost_iommu_load_records(&l, st);
	if (ret && apply)
		vhost_iommu_load_unwind(s);
	if (!ret && apply) {
		vhost_iommu_set_bypass_locked(s, l.bypass);
		s->reset_bypass = l.reset_bypass;
	}
out_unlock:
	mutex_unlock(&s->lock);
	xa_destroy(&l.seen);
	return ret;
}

/**
 * vhost_iommu_store_module_init() - the module's mapping cache
 *
 * Return: 0 or -ENOMEM.
 */
int vhost_iommu_store_module_init(void)
{
	vhost_iommu_mapping_cache = KMEM_CACHE(vhost_iommu_mapping,
					       SLAB_ACCOUNT);
	return vhost_iommu_mapping_cache ? 0 : -ENOMEM;
}

/* After every store is destroyed: mappings are freed synchronously. */
void vhost_iommu_store_module_exit(void)
{
	kmem_cache_destroy(vhost_iommu_mapping_cache);
}
