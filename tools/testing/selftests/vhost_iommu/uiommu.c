// SPDX-License-Identifier: GPL-2.0
/*
 * uiommu: a userspace virtio-iommu device model with the architecture of
 * QEMU 7.2, the baseline of the vhost-iommu benchmarks. See uiommu.h and
 * Documentation/bench.md.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "uiommu.h"
#include "vmm.h"

struct uiommu_domain {
	uint32_t id;
	bool bypass;
	void *maps;			/* tree of struct umap */
	uint64_t nmaps;
	struct uiommu_ep *eps;		/* attached endpoints */
};

/* A mapping: IOVA [low, high] -> GPA phys */
struct umap {
	uint64_t low;
	uint64_t high;
	uint64_t phys;
	uint32_t flags;
};

/* Overlapping intervals compare equal: a lookup finds any overlap. */
static int umap_cmp(const void *a, const void *b)
{
	const struct umap *x = a, *y = b;

	if (x->high < y->low)
		return -1;
	if (y->high < x->low)
		return 1;
	return 0;
}

static int domain_cmp(const void *a, const void *b)
{
	const struct uiommu_domain *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

uint64_t uiommu_chunk_mask(uint64_t start, uint64_t end)
{
	uint64_t span = end - start;
	uint64_t align = start ? (start & -start) - 1 : ~0ULL;
	uint64_t fit;

	if (span == ~0ULL)
		fit = ~0ULL;
	else
		fit = (1ULL << (63 - __builtin_clzll(span + 1))) - 1;
	return align < fit ? align : fit;
}

/* Guest memory */

static void *gpa_ptr(struct uiommu *u, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < u->nmem; i++) {
		struct vhost_memory_region *r = &u->mem[i];

		if (gpa >= r->guest_phys_addr &&
		    gpa - r->guest_phys_addr < r->memory_size &&
		    len <= r->memory_size - (gpa - r->guest_phys_addr))
			return (void *)(uintptr_t)(r->userspace_addr + gpa -
						   r->guest_phys_addr);
	}
	return NULL;
}

/* QEMU's vhost_memory_region_lookup(): a linear search of the table */
static int region_lookup(struct uiommu *u, uint64_t gpa, uint64_t *uaddr,
			 uint64_t *len)
{
	unsigned int i;

	for (i = 0; i < u->nmem; i++) {
		struct vhost_memory_region *r = &u->mem[i];

		if (gpa >= r->guest_phys_addr &&
		    gpa - r->guest_phys_addr < r->memory_size) {
			*uaddr = r->userspace_addr + gpa - r->guest_phys_addr;
			*len = r->memory_size - (gpa - r->guest_phys_addr);
			return 0;
		}
	}
	return -EFAULT;
}

/* Endpoints and domains */

static struct uiommu_ep *ep_find(struct uiommu *u, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < u->nep; i++)
		if (u->ep[i].id == id)
			return &u->ep[i];
	return NULL;
}

static struct uiommu_domain *domain_find(struct uiommu *u, uint32_t id)
{
	struct uiommu_domain key = { .id = id };
	void *p = tfind(&key, &u->domains, domain_cmp);

	return p ? *(struct uiommu_domain **)p : NULL;
}

static int iotlb_msg(struct uiommu *u, int fd, uint8_t type, uint64_t iova,
		     uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = perm;
	if (write(fd, &m, sizeof(m)) != sizeof(m)) {
		u->stats.errors++;
		return -EIO;
	}
	return 0;
}

/*
 * QEMU's UNMAP notification of [low, high] to the IOMMU memory region of
 * @ep: split in naturally aligned power-of-two chunks, each delivered to
 * every vhost device listening on the region, which writes one INVALIDATE.
 */
static void notify_unmap(struct uiommu *u, struct uiommu_ep *ep,
			 uint64_t low, uint64_t high)
{
	uint64_t start = low, mask;
	unsigned int i;

	do {
		mask = uiommu_chunk_mask(start, high);
		for (i = 0; i < ep->nnet; i++)
			if (!iotlb_msg(u, ep->net[i], VHOST_IOTLB_INVALIDATE,
				       start, mask + 1, 0, 0))
				u->stats.invalidations++;
		start += mask + 1;
	} while (start != high + 1);
}

struct walk_ctx {
	struct uiommu *u;
	struct uiommu_ep *ep;
};

static void unmap_walk(const void *node, VISIT which, void *closure)
{
	const struct umap *m = *(const struct umap * const *)node;
	struct walk_ctx *c = closure;

	if (which == postorder || which == leaf)
		notify_unmap(c->u, c->ep, m->low, m->high);
}

static void domain_put(struct uiommu *u, struct uiommu_domain *d)
{
	u->stats.mappings -= d->nmaps;
	tdelete(d, &u->domains, domain_cmp);
	tdestroy(d->maps, free);
	free(d);
}

/* Detaches @ep: every mapping of its domain is unmapped for it. */
static void ep_detach(struct uiommu *u, struct uiommu_ep *ep)
{
	struct uiommu_domain *d = ep->domain;
	struct walk_ctx c = { u, ep };
	struct uiommu_ep **pp;

	if (!d)
		return;
	twalk_r(d->maps, unmap_walk, &c);
	for (pp = &d->eps; *pp; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	ep->next = NULL;
	ep->domain = NULL;
	if (!d->eps)
		domain_put(u, d);
}

static struct uiommu_domain *domain_get(struct uiommu *u, uint32_t id,
					bool bypass)
{
	struct uiommu_domain *d = domain_find(u, id);

	if (d)
		return d->bypass == bypass ? d : NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->id = id;
	d->bypass = bypass;
	if (!tsearch(d, &u->domains, domain_cmp)) {
		free(d);
		return NULL;
	}
	return d;
}

/* Requests, with QEMU's outcomes */

static uint8_t req_attach(struct uiommu *u,
			  const struct virtio_iommu_req_attach *r)
{
	uint32_t flags = le32toh(r->flags);
	struct uiommu_domain *d;
	struct uiommu_ep *ep;

	if (flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS)
		return VIRTIO_IOMMU_S_INVAL;
	ep = ep_find(u, le32toh(r->endpoint));
	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	ep_detach(u, ep);
	d = domain_get(u, le32toh(r->domain),
		       flags & VIRTIO_IOMMU_ATTACH_F_BYPASS);
	if (!d)
		return VIRTIO_IOMMU_S_INVAL;
	ep->next = d->eps;
	d->eps = ep;
	ep->domain = d;
	/* MAP replay: nothing, vhost listens to UNMAP only */
	return VIRTIO_IOMMU_S_OK;
}

static uint8_t req_detach(struct uiommu *u,
			  const struct virtio_iommu_req_detach *r)
{
	struct uiommu_ep *ep = ep_find(u, le32toh(r->endpoint));

	if (!ep)
		return VIRTIO_IOMMU_S_NOENT;
	if (!ep->domain || ep->domain->id != le32toh(r->domain))
		return VIRTIO_IOMMU_S_INVAL;
	ep_detach(u, ep);
	return VIRTIO_IOMMU_S_OK;
}

static uint8_t req_map(struct uiommu *u, const struct virtio_iommu_req_map *r)
{
	uint32_t flags = le32toh(r->flags);
	struct uiommu_domain *d;
	struct umap *m;

	if (flags & ~VIRTIO_IOMMU_MAP_F_MASK)
		return VIRTIO_IOMMU_S_INVAL;
	d = domain_find(u, le32toh(r->domain));
	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return VIRTIO_IOMMU_S_NOMEM;
	m->low = le64toh(r->virt_start);
	m->high = le64toh(r->virt_end);
	m->phys = le64toh(r->phys_start);
	m->flags = flags;
	if (tfind(m, &d->maps, umap_cmp)) {
		free(m);
		return VIRTIO_IOMMU_S_INVAL;
	}
	if (!tsearch(m, &d->maps, umap_cmp)) {
		free(m);
		return VIRTIO_IOMMU_S_NOMEM;
	}
	d->nmaps++;
	u->stats.mappings++;
	u->stats.maps++;
	/* MAP notification: nothing, vhost listens to UNMAP only */
	return VIRTIO_IOMMU_S_OK;
}

static uint8_t req_unmap(struct uiommu *u,
			 const struct virtio_iommu_req_unmap *r)
{
	struct umap key = {
		.low = le64toh(r->virt_start),
		.high = le64toh(r->virt_end),
	};
	struct uiommu_domain *d = domain_find(u, le32toh(r->domain));
	struct uiommu_ep *ep;
	struct umap *m;
	void *p;

	if (!d)
		return VIRTIO_IOMMU_S_NOENT;
	if (d->bypass)
		return VIRTIO_IOMMU_S_INVAL;
	while ((p = tfind(&key, &d->maps, umap_cmp))) {
		m = *(struct umap **)p;
		if (m->low < key.low || m->high > key.high)
			return VIRTIO_IOMMU_S_RANGE;
		for (ep = d->eps; ep; ep = ep->next)
			notify_unmap(u, ep, m->low, m->high);
		tdelete(m, &d->maps, umap_cmp);
		free(m);
		d->nmaps--;
		u->stats.mappings--;
	}
	u->stats.unmaps++;
	return VIRTIO_IOMMU_S_OK;
}

/* The request queue */

struct seg {
	uint8_t *p;
	uint32_t len;
};

static uint16_t ring_load16(uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void ring_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static bool has(struct uiommu *u, unsigned int bit)
{
	return u->features & (1ULL << bit);
}

/* QEMU's virtio_should_notify() for a split ring */
static bool should_notify(struct uiommu *u)
{
	uint16_t old, new;
	bool valid;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!has(u, VIRTIO_RING_F_EVENT_IDX))
		return !(ring_load16(&u->avail->flags) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	valid = u->signalled_valid;
	u->signalled_valid = true;
	old = u->signalled_used;
	new = u->used_idx;
	u->signalled_used = new;
	return !valid || vring_need_event(ring_load16(&u->avail->ring[u->num]),
					  new, old);
}

static void push_used(struct uiommu *u, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &u->used->ring[u->used_idx % u->num];
	uint64_t one = 1;

	e->id = htole32(head);
	e->len = htole32(len);
	u->used_idx++;
	ring_store16(&u->used->idx, u->used_idx);
	if (should_notify(u) && write(u->call, &one, sizeof(one)) < 0)
		u->stats.errors++;
}

/* Copies up to @len readable bytes from offset 0 of the chain */
static uint32_t iov_to_buf(const struct seg *s, unsigned int n, void *buf,
			   uint32_t len)
{
	uint32_t done = 0, k;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		k = s[i].len < len - done ? s[i].len : len - done;
		memcpy((uint8_t *)buf + done, s[i].p, k);
		done += k;
	}
	return done;
}

static uint32_t iov_from_buf(const struct seg *s, unsigned int n,
			     const void *buf, uint32_t len)
{
	uint32_t done = 0, k;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		k = s[i].len < len - done ? s[i].len : len - done;
		memcpy(s[i].p, (const uint8_t *)buf + done, k);
		done += k;
	}
	return done;
}

static void handle_chain(struct uiommu *u, uint16_t head)
{
	struct seg rd[UIOMMU_MAX_CHAIN], wr[UIOMMU_MAX_CHAIN];
	struct virtio_iommu_req_tail tail = { 0 };
	unsigned int nrd = 0, nwr = 0, n = 0;
	union {
		struct virtio_iommu_req_head head;
		struct virtio_iommu_req_attach attach;
		struct virtio_iommu_req_detach detach;
		struct virtio_iommu_req_map map;
		struct virtio_iommu_req_unmap unmap;
	} req;
	uint32_t got, want, wrlen = 0;
	uint16_t i = head, flags;

	/* virtqueue_pop(): walk the chain, map every descriptor */
	do {
		struct vring_desc *d;
		uint64_t addr;
		uint32_t len;
		uint8_t *p;

		if (i >= u->num || n++ >= UIOMMU_MAX_CHAIN)
			goto bad;
		d = &u->desc[i];
		addr = le64toh(d->addr);
		len = le32toh(d->len);
		flags = le16toh(d->flags);
		if (flags & VRING_DESC_F_INDIRECT)
			goto bad;
		p = gpa_ptr(u, addr, len);
		if (!p)
			goto bad;
		if (flags & VRING_DESC_F_WRITE) {
			wr[nwr++] = (struct seg){ p, len };
			wrlen += len;
		} else {
			if (nwr)
				goto bad;
			rd[nrd++] = (struct seg){ p, len };
		}
		i = le16toh(d->next);
	} while (flags & VRING_DESC_F_NEXT);

	if (wrlen < sizeof(tail) ||
	    iov_to_buf(rd, nrd, &req, sizeof(req.head)) < sizeof(req.head))
		goto bad;
	switch (req.head.type) {
	case VIRTIO_IOMMU_T_ATTACH:
		want = sizeof(req.attach) - sizeof(tail);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		want = sizeof(req.detach) - sizeof(tail);
		break;
	case VIRTIO_IOMMU_T_MAP:
		want = sizeof(req.map) - sizeof(tail);
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		want = sizeof(req.unmap) - sizeof(tail);
		break;
	default:
		want = 0;
		tail.status = VIRTIO_IOMMU_S_UNSUPP;
		break;
	}
	if (want) {
		got = iov_to_buf(rd, nrd, &req, want);
		if (got != want)
			tail.status = VIRTIO_IOMMU_S_INVAL;
		else if (req.head.type == VIRTIO_IOMMU_T_ATTACH)
			tail.status = req_attach(u, &req.attach);
		else if (req.head.type == VIRTIO_IOMMU_T_DETACH)
			tail.status = req_detach(u, &req.detach);
		else if (req.head.type == VIRTIO_IOMMU_T_MAP)
			tail.status = req_map(u, &req.map);
		else
			tail.status = req_unmap(u, &req.unmap);
	}
	u->stats.requests++;
	push_used(u, head, iov_from_buf(wr, nwr, &tail, sizeof(tail)));
	return;
bad:
	/* QEMU marks the device broken; the model returns the chain empty. */
	u->stats.errors++;
	push_used(u, head, 0);
}

/* virtio_iommu_handle_command(): pop until the ring is empty */
static void handle_queue(struct uiommu *u)
{
	uint16_t head;

	if (!u->avail)
		return;
	while (ring_load16(&u->avail->idx) != u->last_avail) {
		head = le16toh(u->avail->ring[u->last_avail % u->num]);
		u->last_avail++;
		if (has(u, VIRTIO_RING_F_EVENT_IDX))
			ring_store16((uint16_t *)&u->used->ring[u->num],
				     u->last_avail);
		handle_chain(u, head);
	}
}

/* IOTLB misses */

static int translate(struct uiommu *u, struct uiommu_ep *ep, uint64_t iova,
		     bool write, uint64_t *gpa)
{
	struct umap key = { .low = iova, .high = iova }, *m;
	struct uiommu_domain *d = ep->domain;
	void *p;

	if (!d)
		return -ENXIO;
	if (d->bypass) {
		*gpa = iova;
		return 0;
	}
	p = tfind(&key, &d->maps, umap_cmp);
	if (!p)
		return -ENOENT;
	m = *(struct umap **)p;
	if (!(m->flags & (write ? VIRTIO_IOMMU_MAP_F_WRITE :
			  VIRTIO_IOMMU_MAP_F_READ)))
		return -EACCES;
	*gpa = iova - m->low + m->phys;
	return 0;
}

/*
 * QEMU's vhost_device_iotlb_miss(): one granule, read-write (what
 * address_space_get_iotlb_entry() returns), cut to the memory region.
 */
static void serve_miss(struct uiommu *u, struct uiommu_ep *ep, int fd,
		       const struct vhost_iotlb_msg *miss)
{
	uint64_t gpa, uaddr, len;

	u->stats.misses++;
	if (translate(u, ep, miss->iova, miss->perm != VHOST_ACCESS_RO, &gpa)) {
		u->stats.faults++;
		return;
	}
	gpa &= ~(UIOMMU_GRANULE - 1);
	if (region_lookup(u, gpa, &uaddr, &len)) {
		u->stats.faults++;
		return;
	}
	if (len > UIOMMU_GRANULE)
		len = UIOMMU_GRANULE;
	if (!iotlb_msg(u, fd, VHOST_IOTLB_UPDATE,
		       miss->iova & ~(UIOMMU_GRANULE - 1), len, uaddr,
		       VHOST_ACCESS_RW))
		u->stats.updates++;
}

/* QEMU's vhost_kernel_iotlb_read(): read until the file is empty */
static void iotlb_read(struct uiommu *u, struct uiommu_ep *ep, int fd)
{
	struct vhost_msg_v2 m;
	ssize_t n;

	for (;;) {
		n = read(fd, &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				u->stats.errors++;
			return;
		}
		if (n != sizeof(m) || m.type != VHOST_IOTLB_MSG_V2) {
			u->stats.errors++;
			return;
		}
		if (m.iotlb.type == VHOST_IOTLB_MISS)
			serve_miss(u, ep, fd, &m.iotlb);
	}
}

/* The main loop */

#define MAX_POLL	(2 + UIOMMU_MAX_EP * UIOMMU_MAX_NET)

static void *main_loop(void *arg)
{
	struct uiommu_ep *owner[MAX_POLL];
	struct pollfd p[MAX_POLL];
	struct uiommu *u = arg;
	unsigned int n, i, j;
	uint64_t c;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		p[0] = (struct pollfd){ .fd = u->stop, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = u->kick, .events = POLLIN };
		n = 2;
		for (i = 0; i < u->nep; i++) {
			for (j = 0; j < u->ep[i].nnet; j++) {
				owner[n] = &u->ep[i];
				p[n++] = (struct pollfd){
					.fd = u->ep[i].net[j],
					.events = POLLIN,
				};
			}
		}
		pthread_mutex_unlock(&u->lock);
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		pthread_mutex_lock(&u->lock);
		u->stats.wakeups++;
		if (p[1].revents & POLLIN) {
			if (read(u->kick, &c, sizeof(c)) < 0)
				u->stats.errors++;
			handle_queue(u);
		}
		for (i = 2; i < n; i++)
			if (p[i].revents & (POLLIN | POLLERR))
				iotlb_read(u, owner[i], p[i].fd);
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

/* Setup */

int uiommu_init(struct uiommu *u, uint64_t features)
{
	memset(u, 0, sizeof(*u));
	u->kick = -1;
	u->call = -1;
	if (features & ~UIOMMU_FEATURES)
		return vt_fail(-EOPNOTSUPP, "features %#llx not offered",
			    (unsigned long long)(features & ~UIOMMU_FEATURES));
	u->features = features;
	pthread_mutex_init(&u->lock, NULL);
	u->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->stop < 0)
		return vt_fail(-errno, "eventfd: %m");
	return 0;
}

int uiommu_add_region(struct uiommu *u, uint64_t gpa, uint64_t size,
		      void *hva)
{
	struct vhost_memory_region *r;

	if (u->nmem == UIOMMU_MAX_REGIONS)
		return vt_fail(-ENOSPC, "too many memory regions");
	r = &u->mem[u->nmem++];
	r->guest_phys_addr = gpa;
	r->memory_size = size;
	r->userspace_addr = (uintptr_t)hva;
	return 0;
}

int uiommu_set_queue(struct uiommu *u, unsigned int num, uint64_t desc_gpa,
		     uint64_t avail_gpa, uint64_t used_gpa, int kick, int call)
{
	if (!num || num & (num - 1) || num > 32768)
		return vt_fail(-EINVAL, "queue size %u", num);
	u->desc = gpa_ptr(u, desc_gpa, 16ULL * num);
	u->avail = gpa_ptr(u, avail_gpa, 6 + 2ULL * num);
	u->used = gpa_ptr(u, used_gpa, 6 + 8ULL * num);
	if (!u->desc || !u->avail || !u->used)
		return vt_fail(-EFAULT, "ring outside the memory regions");
	u->num = num;
	u->kick = kick;
	u->call = call;
	u->last_avail = 0;
	u->used_idx = 0;
	u->signalled_valid = false;
	return 0;
}

int uiommu_serve_vmm(struct uiommu *u, struct vmm *v)
{
	struct vq *vq = &v->vq[VHOST_IOMMU_VQ_REQUEST];
	int ret;

	ret = uiommu_add_region(u, 0, VMM_REGION_SIZE, v->hva[0]);
	if (!ret)
		ret = uiommu_add_region(u, VMM_REGION_SIZE, VMM_REGION_SIZE,
					v->hva[1]);
	if (!ret)
		ret = uiommu_set_queue(u, vq->num, vq->desc_gpa,
				       vq->avail_gpa, vq->used_gpa, vq->kick,
				       vq->call);
	return ret;
}

int uiommu_add_endpoint(struct uiommu *u, uint32_t id)
{
	int ret = 0;

	pthread_mutex_lock(&u->lock);
	if (ep_find(u, id)) {
		ret = vt_fail(-EEXIST, "endpoint %u exists", id);
	} else if (u->nep == UIOMMU_MAX_EP) {
		ret = vt_fail(-ENOSPC, "too many endpoints");
	} else {
		memset(&u->ep[u->nep], 0, sizeof(u->ep[0]));
		u->ep[u->nep++].id = id;
	}
	pthread_mutex_unlock(&u->lock);
	return ret;
}

int uiommu_bind_net(struct uiommu *u, uint32_t id, int fd)
{
	struct uiommu_ep *ep;
	int fl, ret = 0;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return vt_fail(-errno, "O_NONBLOCK on vhost-net: %m");
	pthread_mutex_lock(&u->lock);
	ep = ep_find(u, id);
	if (!ep)
		ret = vt_fail(-ENODEV, "no endpoint %u", id);
	else if (ep->nnet == UIOMMU_MAX_NET)
		ret = vt_fail(-ENOSPC, "too many vhost-net devices");
	else
		ep->net[ep->nnet++] = fd;
	pthread_mutex_unlock(&u->lock);
	/* Wake the loop, so that it polls the new file */
	if (!ret && u->running && write(u->kick, &(uint64_t){ 1 }, 8) < 0)
		ret = vt_fail(-errno, "kick: %m");
	return ret;
}

int uiommu_start(struct uiommu *u)
{
	int ret;

	if (u->running)
		return 0;
	if (u->kick < 0)
		return vt_fail(-EINVAL, "no request queue");
	ret = pthread_create(&u->thread, NULL, main_loop, u);
	if (ret)
		return vt_fail(-ret, "pthread_create: %s", strerror(ret));
	u->running = true;
	return 0;
}

void uiommu_stop(struct uiommu *u)
{
	uint64_t c;

	if (!u->running)
		return;
	if (write(u->stop, &(uint64_t){ 1 }, 8) != 8)
		abort();
	pthread_join(u->thread, NULL);
	u->running = false;
	if (read(u->stop, &c, sizeof(c)) < 0)
		c = 0;
}

static void domain_free(void *p)
{
	struct uiommu_domain *d = p;

	tdestroy(d->maps, free);
	free(d);
}

void uiommu_fini(struct uiommu *u)
{
	uiommu_stop(u);
	tdestroy(u->domains, domain_free);
	u->domains = NULL;
	u->nep = 0;
	if (u->stop >= 0)
		close(u->stop);
	u->stop = -1;
	pthread_mutex_destroy(&u->lock);
}

void uiommu_get_stats(struct uiommu *u, struct uiommu_stats *s)
{
	pthread_mutex_lock(&u->lock);
	*s = u->stats;
	pthread_mutex_unlock(&u->lock);
}

int uiommu_translate(struct uiommu *u, uint32_t id, uint64_t iova,
		     uint64_t *gpa)
{
	struct uiommu_ep *ep;
	int ret;

	pthread_mutex_lock(&u->lock);
	ep = ep_find(u, id);
	ret = ep ? translate(u, ep, iova, false, gpa) : -ENODEV;
	pthread_mutex_unlock(&u->lock);
	return ret;
}
