// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal VMM and guest driver for the vhost-iommu selftests: guest
 * memory, memory table, split virtqueues, requests and device ioctls.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define RING_DESC_OFF	0x0
#define RING_AVAIL_OFF	0x80000
#define RING_USED_OFF	0x92000
#define RING_AREA	0x100000ULL

int vmm_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

int vmm_open_dev(void)
{
	int fd = open(VMM_DEV_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? vt_fail(-errno, "open %s: %m", VMM_DEV_PATH) : fd;
}

void *vmm_ptr(struct vmm *v, uint64_t gpa)
{
	return v->gmem + gpa;
}

uint64_t vmm_hva(struct vmm *v, uint64_t gpa)
{
	if (gpa >= VMM_REGION_SIZE)
		return (uint64_t)(uintptr_t)v->hva[1] + gpa - VMM_REGION_SIZE;
	return (uint64_t)(uintptr_t)v->hva[0] + gpa;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* Every page of guest memory allocated and mapped writable in every view */
static int vmm_prefault(struct vmm *v)
{
	if (madvise(v->gmem, VMM_MEM_SIZE, MADV_POPULATE_WRITE) ||
	    madvise(v->hva[0], VMM_REGION_SIZE, MADV_POPULATE_WRITE) ||
	    madvise(v->hva[1], VMM_REGION_SIZE, MADV_POPULATE_WRITE))
		return vt_fail(-errno, "MADV_POPULATE_WRITE: %m");
	return 0;
}

int vmm_map_memory(struct vmm *v)
{
	uint8_t *base;

	v->memfd = memfd_create("vhost-iommu-guest", MFD_CLOEXEC);
	if (v->memfd < 0)
		return vt_fail(-errno, "memfd_create: %m");
	if (ftruncate(v->memfd, VMM_MEM_SIZE))
		return vt_fail(-errno, "ftruncate: %m");
	v->gmem = mmap(NULL, VMM_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       v->memfd, 0);
	if (v->gmem == MAP_FAILED)
		return vt_fail(-errno, "mmap guest view: %m");
	/*
	 * The kernel's view: region 1 below region 0, with an inaccessible
	 * gap between them, so nothing works by accident of adjacency.
	 */
	v->hva_reserve_len = VMM_MEM_SIZE + (1 << 20);
	base = mmap(NULL, v->hva_reserve_len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return vt_fail(-errno, "mmap reserve: %m");
	v->hva_reserve = base;
	v->hva[1] = mmap(base, VMM_REGION_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, v->memfd, VMM_REGION_SIZE);
	v->hva[0] = mmap(base + VMM_REGION_SIZE + (1 << 20), VMM_REGION_SIZE,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 v->memfd, 0);
	if (v->hva[0] == MAP_FAILED || v->hva[1] == MAP_FAILED)
		return vt_fail(-errno, "mmap regions: %m");
	v->data_next[0] = VMM_DATA_GPA;
	v->data_next[1] = VMM_DATA1_GPA;
	v->ind_next = VMM_IND_GPA;
	return v->opts.prefault ? vmm_prefault(v) : 0;
}

int vmm_set_mem_table(struct vmm *v)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2 + VMM_MAX_EXTRA];
	} mt;
	unsigned int i;

	if (v->opts.nextra > VMM_MAX_EXTRA)
		return vt_fail(-EINVAL, "%u extra regions", v->opts.nextra);
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 2 + v->opts.nextra;
	for (i = 0; i < v->opts.nextra; i++)
		mt.r[2 + i] = v->opts.extra[i];
	mt.r[0].guest_phys_addr = 0;
	mt.r[0].memory_size = VMM_REGION_SIZE;
	mt.r[0].userspace_addr = (uintptr_t)v->hva[0];
	mt.r[1].guest_phys_addr = VMM_REGION_SIZE;
	mt.r[1].memory_size = VMM_REGION_SIZE;
	mt.r[1].userspace_addr = (uintptr_t)v->hva[1];
	if (ioctl(v->fd, VHOST_SET_MEM_TABLE, &mt))
		return vt_fail(-errno, "VHOST_SET_MEM_TABLE: %m");
	return 0;
}

static int vq_set_addr(struct vmm *v, struct vq *vq)
{
	return vq_vhost_addr(v->fd, vq, vmm_hva(v, vq->desc_gpa),
			     vmm_hva(v, vq->avail_gpa), vmm_hva(v, vq->used_gpa));
}

/* The driver side of queue @q: layout in guest memory, free list, eventfds */
static int vmm_vq_init(struct vmm *v, unsigned int q, unsigned int num)
{
	uint64_t ring = VMM_RING_GPA(q);
	int ret;

	memset(vmm_ptr(v, ring), 0, RING_AREA);
	ret = vq_init(&v->vq[q], q, num, vmm_ptr(v, ring + RING_DESC_OFF),
		      vmm_ptr(v, ring + RING_AVAIL_OFF),
		      vmm_ptr(v, ring + RING_USED_OFF), ring + RING_DESC_OFF,
		      ring + RING_AVAIL_OFF, ring + RING_USED_OFF);
	return ret ? ret : vq_open_fds(&v->vq[q]);
}

int vmm_vq_setup(struct vmm *v, unsigned int q, unsigned int num)
{
	struct vq *vq = &v->vq[q];
	int ret;

	ret = vmm_vq_init(v, q, num);
	if (ret)
		return ret;
	if (v->opts.user_device) {
		vq->ready = true;
		return 0;
	}
	ret = vq_set_addr(v, vq);
	if (!ret)
		ret = vq_vhost_files(v->fd, vq);
	if (ret)
		return ret;
	vq->ready = true;
	return 0;
}

int vmm_vq_stop(struct vmm *v, unsigned int q, unsigned int *base)
{
	struct vhost_vring_state s = { .index = q };

	if (ioctl(v->fd, VHOST_GET_VRING_BASE, &s))
		return vt_fail(-errno, "VHOST_GET_VRING_BASE: %m");
	*base = s.num;
	return 0;
}

int vmm_rings_restart(struct vmm *v)
{
	struct vhost_vring_file f;
	unsigned int q;
	int ret;

	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		if (!v->vq[q].ready)
			continue;
		ret = vmm_vq_init(v, q, v->vq[q].num);
		if (ret)
			return ret;
		f = (struct vhost_vring_file){ .index = q, .fd = v->vq[q].kick };
		if (ioctl(v->fd, VHOST_SET_VRING_KICK, &f))
			return vt_fail(-errno, "VHOST_SET_VRING_KICK %u: %m", q);
		/* vq_init() cleared it: a second restart would skip the ring */
		v->vq[q].ready = true;
	}
	return 0;
}

/* Hands the ring back to the device, to go on from avail index @base. */
int vmm_vq_restart(struct vmm *v, unsigned int q, unsigned int base)
{
	struct vq *vq = &v->vq[q];
	struct vhost_vring_state s = { .index = q, .num = base };
	struct vhost_vring_file f = { .index = q, .fd = vq->kick };
	int ret;

	ret = vq_set_addr(v, vq);
	if (ret)
		return ret;
	if (ioctl(v->fd, VHOST_SET_VRING_BASE, &s))
		return vt_fail(-errno, "VHOST_SET_VRING_BASE: %m");
	if (ioctl(v->fd, VHOST_SET_VRING_KICK, &f))
		return vt_fail(-errno, "VHOST_SET_VRING_KICK: %m");
	return 0;
}

/* Both virtqueues, as the options ask */
static int setup_rings(struct vmm *v)
{
	unsigned int q;
	int ret;

	if (v->opts.no_rings)
		return 0;
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		if (q == VHOST_IOMMU_VQ_EVENT && v->opts.no_event_ring)
			break;
		ret = vmm_vq_setup(v, q, v->opts.num[q] ? v->opts.num[q] :
				   VMM_DEFAULT_NUM);
		if (ret)
			return ret;
	}
	return 0;
}

int vmm_init(struct vmm *v, const struct vmm_opts *o)
{
	unsigned int q;
	int ret;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->memfd = -1;
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		v->vq[q].kick = -1;
		v->vq[q].call = -1;
		v->vq[q].err = -1;
	}
	if (o)
		v->opts = *o;
	ret = vmm_map_memory(v);
	if (ret)
		return ret;
	if (v->opts.user_device) {
		v->features = v->opts.features ? v->opts.features :
			      VMM_ALL_FEATURES;
		return setup_rings(v);
	}
	v->fd = vmm_open_dev();
	if (v->fd < 0)
		return v->fd;
	return vmm_setup(v);
}

int vmm_setup(struct vmm *v)
{
	struct vhost_iommu_config c;
	uint64_t features;
	int ret;

	if (ioctl(v->fd, VHOST_SET_OWNER, NULL))
		return vt_fail(-errno, "VHOST_SET_OWNER: %m");
	if (ioctl(v->fd, VHOST_GET_FEATURES, &features))
		return vt_fail(-errno, "VHOST_GET_FEATURES: %m");
	v->features = v->opts.features ? v->opts.features : VMM_ALL_FEATURES;
	if (ioctl(v->fd, VHOST_SET_FEATURES, &v->features))
		return vt_fail(-errno, "VHOST_SET_FEATURES %#llx: %m",
			    (unsigned long long)v->features);
	ret = vmm_set_mem_table(v);
	if (ret)
		return ret;
	ret = vmm_get_config(v->fd, &c);
	if (ret)
		return vt_fail(ret, "VHOST_IOMMU_GET_CONFIG: %s", strerror(-ret));
	v->probe_size = c.probe_size;
	if (v->opts.busyloop_us) {
		struct vhost_vring_state st = {
			.index = VHOST_IOMMU_VQ_REQUEST,
			.num = v->opts.busyloop_us,
		};

		if (ioctl(v->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st))
			return vt_fail(-errno, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT: %m");
	}
	return setup_rings(v);
}

void vmm_fini(struct vmm *v)
{
	unsigned int q;

	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		vq_close_fds(&v->vq[q]);
		vq_fini(&v->vq[q]);
	}
	if (v->gmem && v->gmem != MAP_FAILED)
		munmap(v->gmem, VMM_MEM_SIZE);
	if (v->hva_reserve)
		munmap(v->hva_reserve, v->hva_reserve_len);
	if (v->memfd >= 0)
		close(v->memfd);
	v->gmem = NULL;
	v->hva_reserve = NULL;
	v->memfd = -1;
}

/* Bump allocators that wrap: requests complete in order. */
uint64_t vmm_alloc(struct vmm *v, size_t len, int region)
{
	uint64_t start = region ? VMM_DATA1_GPA : VMM_DATA_GPA;
	uint64_t end = region ? VMM_DATA1_END : VMM_DATA_END;
	uint64_t gpa;

	len = (len + 63) & ~63ULL;
	if (v->data_next[region] + len > end)
		v->data_next[region] = start;
	gpa = v->data_next[region];
	v->data_next[region] += len;
	return gpa;
}

uint64_t vmm_alloc_ind(struct vmm *v, unsigned int ndesc)
{
	uint64_t len = ((uint64_t)ndesc * 16 + 63) & ~63ULL;
	uint64_t gpa;

	if (v->ind_next + len > VMM_IND_GPA + VMM_IND_SIZE)
		v->ind_next = VMM_IND_GPA;
	gpa = v->ind_next;
	v->ind_next += len;
	return gpa;
}

int vmm_post(struct vmm *v, unsigned int q, const struct vmm_seg *segs,
	     unsigned int n, bool indirect)
{
	struct vq *vq = &v->vq[q];
	struct vq_shadow *sh;
	uint16_t ids[VMM_MAX_CHAIN];
	unsigned int i;
	int ret;

	if (n > VMM_MAX_CHAIN)
		return vt_fail(-E2BIG, "too many segments");
	ret = vq_desc_alloc(vq, indirect ? 1 : n, ids);
	if (ret)
		return ret;
	if (indirect) {
		uint64_t table = vmm_alloc_ind(v, n);
		struct vring_desc *t = vmm_ptr(v, table);

		for (i = 0; i < n; i++)
			vq_desc_write(&t[i], segs[i].gpa, segs[i].len,
				      (segs[i].write ? VRING_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				      i + 1);
		vq_desc_write(&vq->desc[ids[0]], table, n * 16,
			      VRING_DESC_F_INDIRECT, 0);
	} else {
		for (i = 0; i < n; i++)
			vq_desc_write(&vq->desc[ids[i]], segs[i].gpa,
				      segs[i].len,
				      (segs[i].write ? VRING_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				      i + 1 < n ? ids[i + 1] : 0);
	}
	sh = &vq->shadow[ids[0]];
	sh->wr_gpa = 0;
	sh->wr_len = 0;
	for (i = 0; i < n; i++) {
		if (segs[i].write) {
			sh->wr_gpa = segs[i].gpa;
			sh->wr_len = segs[i].len;
			break;
		}
	}
	vq_avail_push(vq, ids[0]);
	return ids[0];
}

int vmm_raw_chain(struct vmm *v, unsigned int q, const struct vmm_rdesc *d,
		  unsigned int n, uint16_t *head)
{
	struct vq *vq = &v->vq[q];
	uint16_t ids[VMM_MAX_CHAIN];
	unsigned int i;
	int ret;

	if (n > VMM_MAX_CHAIN)
		return vt_fail(-E2BIG, "too many descriptors");
	ret = vq_desc_alloc(vq, n, ids);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		uint16_t next = d[i].abs_next ? d[i].next :
				d[i].next < n ? ids[d[i].next] : 0;

		vq_desc_write(&vq->desc[ids[i]], d[i].addr, d[i].len,
			      d[i].flags, next);
	}
	vq->shadow[ids[0]].wr_gpa = 0;
	vq->shadow[ids[0]].wr_len = 0;
	*head = ids[0];
	return 0;
}

int vmm_kick(struct vmm *v, unsigned int q)
{
	struct vq *vq = &v->vq[q];

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!v->opts.force_kick) {
		if (v->features & VMM_F(VIRTIO_RING_F_EVENT_IDX)) {
			uint16_t ev = vq_avail_event(vq);

			if (!vring_need_event(ev, vq->avail_idx,
					      vq->kicked_idx)) {
				vq->kicked_idx = vq->avail_idx;
				return 0;
			}
		} else if (le16toh(__atomic_load_n(&vq->used->flags,
						   __ATOMIC_ACQUIRE)) &
			   VRING_USED_F_NO_NOTIFY) {
			vq->kicked_idx = vq->avail_idx;
			return 0;
		}
	}
	return vq_notify(vq);
}

int vmm_wait_used(struct vmm *v, unsigned int q, uint32_t *id,
		  uint32_t *len, int timeout_ms)
{
	struct vq *vq = &v->vq[q];
	int ret;

	ret = vq_wait_used(vq, v->features & VMM_F(VIRTIO_RING_F_EVENT_IDX),
			   true, id, len, timeout_ms);
	if (!ret && *id < vq->num)
		vq_desc_free(vq, *id);
	return ret;
}

int vmm_wait_err(struct vmm *v, unsigned int q, int timeout_ms)
{
	struct pollfd p = { .fd = v->vq[q].err, .events = POLLIN };
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return vt_fail(-errno, "poll: %m");
	if (!ret)
		return vt_fail(-ETIMEDOUT, "vq %u: error eventfd not signalled", q);
	return vq_drain_fd(v->vq[q].err, NULL);
}

/* Requests */

int vmm_req_prepare(struct vmm *v, struct vmm_req *r, const void *rd,
		    uint32_t rd_len, uint32_t wr_len)
{
	memset(r, 0, sizeof(*r));
	r->head = -1;
	r->rd_len = rd_len;
	r->wr_len = wr_len;
	if (rd_len) {
		r->rd_gpa = vmm_alloc(v, rd_len, 0);
		memcpy(vmm_ptr(v, r->rd_gpa), rd, rd_len);
	}
	if (wr_len) {
		r->wr_gpa = vmm_alloc(v, wr_len, v->opts.split ? 1 : 0);
		r->wr = vmm_ptr(v, r->wr_gpa);
		memset(r->wr, VMM_PATTERN, wr_len);
	}
	return 0;
}

/*
 * Split mode: the readable part is copied into pieces of at most 8 bytes
 * (at least rd_len / 16), alternately in region 0 and region 1; the
 * writable part (in region 1) is cut in up to three descriptors.
 */
static unsigned int split_segs(struct vmm *v, struct vmm_req *r,
			       struct vmm_seg *s)
{
	const uint8_t *src = vmm_ptr(v, r->rd_gpa);
	uint32_t piece = r->rd_len / 16 > 8 ? r->rd_len / 16 : 8;
	unsigned int n = 0;
	uint32_t off, len;

	for (off = 0; off < r->rd_len; off += len) {
		len = r->rd_len - off < piece ? r->rd_len - off : piece;
		s[n].gpa = vmm_alloc(v, len, v->split_toggle++ & 1);
		memcpy(vmm_ptr(v, s[n].gpa), src + off, len);
		s[n].len = len;
		s[n].write = false;
		n++;
	}
	if (!r->wr_len)
		return n;
	if (r->wr_len < 3) {
		s[n++] = (struct vmm_seg){ r->wr_gpa, r->wr_len, true };
		return n;
	}
	len = r->wr_len - 1;
	s[n++] = (struct vmm_seg){ r->wr_gpa, 1, true };
	s[n++] = (struct vmm_seg){ r->wr_gpa + 1, len / 2, true };
	s[n++] = (struct vmm_seg){ r->wr_gpa + 1 + len / 2, len - len / 2, true };
	return n;
}

int vmm_req_post(struct vmm *v, struct vmm_req *r)
{
	struct vmm_seg s[24];
	unsigned int n = 0;
	int head;

	if (v->opts.split) {
		n = split_segs(v, r, s);
	} else {
		if (r->rd_len)
			s[n++] = (struct vmm_seg){ r->rd_gpa, r->rd_len, false };
		if (r->wr_len)
			s[n++] = (struct vmm_seg){ r->wr_gpa, r->wr_len, true };
	}
	head = vmm_post(v, VHOST_IOMMU_VQ_REQUEST, s, n, v->opts.indirect);
	if (head < 0)
		return head;
	r->head = head;
	return 0;
}

int vmm_req_complete(struct vmm *v, struct vmm_req *r)
{
	uint32_t id, len;
	int ret;

	ret = vmm_wait_used(v, VHOST_IOMMU_VQ_REQUEST, &id, &len,
			    VMM_TIMEOUT_MS);
	if (ret)
		return ret;
	if ((int)id != r->head)
		return vt_fail(-EPROTO, "used id %u, expected head %d", id,
			    r->head);
	r->used_len = len;
	r->status = r->wr_len > r->tail_off ? r->wr[r->tail_off] : 0xff;
	return 0;
}

int vmm_request(struct vmm *v, const void *rd, uint32_t rd_len,
		uint32_t wr_len, struct vmm_req *r)
{
	int ret;

	vmm_req_prepare(v, r, rd, rd_len, wr_len);
	ret = vmm_req_post(v, r);
	if (ret)
		return ret;
	ret = vmm_kick(v, VHOST_IOMMU_VQ_REQUEST);
	if (ret)
		return ret;
	return vmm_req_complete(v, r);
}

bool vmm_wr_untouched(struct vmm_req *r)
{
	uint32_t i;

	for (i = 0; i < r->wr_len; i++)
		if (r->wr[i] != VMM_PATTERN)
			return false;
	return true;
}

int vmm_batch(struct vmm *v, struct vmm_req *r, unsigned int n)
{
	struct vq *vq = &v->vq[VHOST_IOMMU_VQ_REQUEST];
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vmm_req_post(v, &r[i]);
		if (ret)
			return ret;
	}
	ret = vmm_kick(v, VHOST_IOMMU_VQ_REQUEST);
	if (ret)
		return ret;
	/* Every chain posted is done when the used index reaches avail's */
	vq->wake_at = vq->avail_idx - 1;
	vq->wake_at_set = v->opts.notify_batch_end && n;
	if (vq->wake_at_set && vq_used_idx(vq) != vq->avail_idx)
		sched_yield();
	for (i = 0; i < n && !ret; i++)
		ret = vmm_req_complete(v, &r[i]);
	vq->wake_at_set = false;
	return ret;
}

void vmm_mk_attach(struct virtio_iommu_req_attach *a, uint32_t domain,
		   uint32_t ep, uint32_t flags)
{
	memset(a, 0, sizeof(*a));
	a->head.type = VIRTIO_IOMMU_T_ATTACH;
	a->domain = htole32(domain);
	a->endpoint = htole32(ep);
	a->flags = htole32(flags);
}

void vmm_mk_detach(struct virtio_iommu_req_detach *d, uint32_t domain,
		   uint32_t ep)
{
	memset(d, 0, sizeof(*d));
	d->head.type = VIRTIO_IOMMU_T_DETACH;
	d->domain = htole32(domain);
	d->endpoint = htole32(ep);
}

void vmm_mk_map(struct virtio_iommu_req_map *m, uint32_t domain,
		uint64_t start, uint64_t end, uint64_t phys, uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	m->head.type = VIRTIO_IOMMU_T_MAP;
	m->domain = htole32(domain);
	m->virt_start = htole64(start);
	m->virt_end = htole64(end);
	m->phys_start = htole64(phys);
	m->flags = htole32(flags);
}

void vmm_mk_unmap(struct virtio_iommu_req_unmap *u, uint32_t domain,
		  uint64_t start, uint64_t end)
{
	memset(u, 0, sizeof(*u));
	u->head.type = VIRTIO_IOMMU_T_UNMAP;
	u->domain = htole32(domain);
	u->virt_start = htole64(start);
	u->virt_end = htole64(end);
}

void vmm_mk_probe(struct virtio_iommu_req_probe *p, uint32_t ep)
{
	memset(p, 0, sizeof(*p));
	p->head.type = VIRTIO_IOMMU_T_PROBE;
	p->endpoint = htole32(ep);
}

static int simple(struct vmm *v, const void *rd, uint32_t rd_len)
{
	struct vmm_req r;
	int ret;

	ret = vmm_request(v, rd, rd_len, 4, &r);
	if (ret)
		return ret;
	v->last_len = r.used_len;
	if (r.used_len != 4)
		return vt_fail(-EPROTO, "used length %u, expected 4", r.used_len);
	if (r.wr[1] || r.wr[2] || r.wr[3])
		return vt_fail(-EPROTO, "tail.reserved not zero");
	return r.status;
}

int vmm_attach(struct vmm *v, uint32_t domain, uint32_t ep, uint32_t flags)
{
	struct virtio_iommu_req_attach a;

	vmm_mk_attach(&a, domain, ep, flags);
	return simple(v, &a, VMM_ATTACH_LEN);
}

int vmm_detach(struct vmm *v, uint32_t domain, uint32_t ep)
{
	struct virtio_iommu_req_detach d;

	vmm_mk_detach(&d, domain, ep);
	return simple(v, &d, VMM_DETACH_LEN);
}

int vmm_map(struct vmm *v, uint32_t domain, uint64_t start, uint64_t end,
	    uint64_t phys, uint32_t flags)
{
	struct virtio_iommu_req_map m;

	vmm_mk_map(&m, domain, start, end, phys, flags);
	return simple(v, &m, VMM_MAP_LEN);
}

int vmm_unmap(struct vmm *v, uint32_t domain, uint64_t start, uint64_t end)
{
	struct virtio_iommu_req_unmap u;

	vmm_mk_unmap(&u, domain, start, end);
	return simple(v, &u, VMM_UNMAP_LEN);
}

int vmm_probe(struct vmm *v, uint32_t ep, uint32_t wr_len, struct vmm_req *r)
{
	struct virtio_iommu_req_probe p;
	int ret;

	vmm_mk_probe(&p, ep);
	vmm_req_prepare(v, r, &p, sizeof(p), wr_len);
	r->tail_off = wr_len >= v->probe_size + 4 ? v->probe_size :
		      wr_len >= 4 ? wr_len - 4 : 0;
	ret = vmm_req_post(v, r);
	if (ret)
		return ret;
	ret = vmm_kick(v, VHOST_IOMMU_VQ_REQUEST);
	if (ret)
		return ret;
	ret = vmm_req_complete(v, r);
	if (ret)
		return ret;
	v->last_len = r->used_len;
	return r->status;
}

/* Device ioctls */

int vmm_get_config(int fd, struct vhost_iommu_config *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	return vmm_ioctl(fd, VHOST_IOMMU_GET_CONFIG, c);
}

int vmm_set_config(int fd, const struct vhost_iommu_config *c)
{
	struct vhost_iommu_config tmp = *c;

	tmp.size = sizeof(tmp);
	return vmm_ioctl(fd, VHOST_IOMMU_SET_CONFIG, &tmp);
}

int vmm_reset_device(int fd)
{
	struct vhost_iommu_reset r = { .size = sizeof(r) };

	return vmm_ioctl(fd, VHOST_IOMMU_RESET_DEVICE, &r);
}

int vmm_set_bypass_flags(int fd, int bypass, uint32_t flags)
{
	struct vhost_iommu_config c;
	int ret;

	ret = vmm_get_config(fd, &c);
	if (ret)
		return ret;
	c.bypass = bypass;
	c.flags = flags;
	return vmm_set_config(fd, &c);
}

int vmm_set_bypass(int fd, int bypass)
{
	return vmm_set_bypass_flags(fd, bypass, 0);
}

int vmm_add_endpoint(int fd, uint32_t ep,
		     const struct vhost_iommu_resv_region *r, uint32_t n)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.endpoint = ep,
		.nr_resv = n,
		.resv = (uintptr_t)r,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_ADD_ENDPOINT, &e);
}

int vmm_del_endpoint(int fd, uint32_t ep)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.endpoint = ep,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_DEL_ENDPOINT, &e);
}

int vmm_get_stats(int fd, struct vhost_iommu_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return vmm_ioctl(fd, VHOST_IOMMU_GET_STATS, s);
}

int vmm_translate(int fd, uint32_t ep, uint64_t iova, uint32_t access,
		  uint32_t flags, struct vhost_iommu_translate *t)
{
	struct vhost_iommu_translate tmp;

	if (!t)
		t = &tmp;
	memset(t, 0, sizeof(*t));
	t->size = sizeof(*t);
	t->flags = flags;
	t->endpoint = ep;
	t->access = access;
	t->iova = iova;
	return vmm_ioctl(fd, VHOST_IOMMU_TRANSLATE, t);
}

int vmm_bind_dev(int fd, uint32_t ep, int vfd)
{
	struct vhost_iommu_bind b = {
		.size = sizeof(b),
		.endpoint = ep,
		.fd = vfd,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_BIND_DEVICE, &b);
}

int vmm_unbind_dev(int fd, uint32_t ep, int vfd)
{
	struct vhost_iommu_bind b = {
		.size = sizeof(b),
		.endpoint = ep,
		.fd = vfd,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_UNBIND_DEVICE, &b);
}

/* VHOST_IOMMU_BIND_NET is VHOST_IOMMU_BIND_DEVICE, UNBIND_NET likewise */
int vmm_bind_net(int fd, uint32_t ep, int netfd)
{
	return vmm_bind_dev(fd, ep, netfd);
}

int vmm_unbind_net(int fd, uint32_t ep, int netfd)
{
	return vmm_unbind_dev(fd, ep, netfd);
}

/* Event queue */

int vmm_event_post(struct vmm *v, unsigned int n, uint32_t len)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		struct vmm_seg s = { .len = len, .write = true };

		s.gpa = vmm_alloc(v, len ? len : 1, 1);
		memset(vmm_ptr(v, s.gpa), VMM_PATTERN, len ? len : 1);
		ret = vmm_post(v, VHOST_IOMMU_VQ_EVENT, &s, 1, false);
		if (ret < 0)
			return ret;
	}
	return vmm_kick(v, VHOST_IOMMU_VQ_EVENT);
}

int vmm_event_read(struct vmm *v, struct virtio_iommu_fault *f,
		   uint32_t *len, int timeout_ms)
{
	struct vq *vq = &v->vq[VHOST_IOMMU_VQ_EVENT];
	uint32_t id, l;
	int ret;

	if (!timeout_ms && !vq_used_pending(vq))
		return -EAGAIN;
	ret = vmm_wait_used(v, VHOST_IOMMU_VQ_EVENT, &id, &l, timeout_ms);
	if (ret == -ETIMEDOUT)
		return -EAGAIN;
	if (ret)
		return ret;
	if (id >= vq->num)
		return vt_fail(-EPROTO, "event used id %u out of range", id);
	memcpy(f, vmm_ptr(v, vq->shadow[id].wr_gpa),
	       vq->shadow[id].wr_len < sizeof(*f) ? vq->shadow[id].wr_len :
	       sizeof(*f));
	*len = l;
	return 0;
}

int vmm_translate_phys(int fd, uint32_t ep, uint64_t iova, uint64_t *phys)
{
	struct vhost_iommu_translate t;
	int ret;

	ret = vmm_translate(fd, ep, iova, VHOST_IOMMU_ACCESS_READ, 0, &t);
	if (!ret && phys)
		*phys = t.phys + (iova - t.start);
	return ret;
}

struct vhost_iommu_stats vmm_stats(int fd)
{
	struct vhost_iommu_stats s;

	if (vmm_get_stats(fd, &s))
		memset(&s, 0xff, sizeof(s));
	return s;
}

uint64_t vmm_stat_wait_off(int fd, size_t off, uint64_t min, int timeout_ms)
{
	uint64_t end = vt_now_ms() + timeout_ms, val = 0;
	struct vhost_iommu_stats s;

	for (;;) {
		if (vmm_get_stats(fd, &s))
			return 0;
		memcpy(&val, (uint8_t *)&s + off, sizeof(val));
		if (val >= min || vt_now_ms() >= end)
			return val;
		usleep(10000);
	}
}
