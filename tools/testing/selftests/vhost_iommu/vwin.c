// SPDX-License-Identifier: GPL-2.0
/*
 * A stock vhost device's guest-memory window and its split rings, for the
 * vhost-iommu selftests' vnet.c and vsock.c. See vwin.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "vwin.h"

/* The window */

int vwin_init(struct vwin *w, uint64_t gpa_base, uint64_t size,
	      unsigned int max_num)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->memfd = -1;
	w->gpa_base = gpa_base;
	w->mem_size = size;
	w->max_num = max_num;
	if (gpa_base & (VWIN_PAGE - 1))
		return vt_fail(-EINVAL, "gpa_base not page aligned");
	return 0;
}

int vwin_map(struct vwin *w, const char *name, void *mem)
{
	if (mem) {
		w->caller_mem = mem;
		w->gmem = mem;
		w->kmem = mem;
		return 0;
	}
	w->memfd = memfd_create(name, MFD_CLOEXEC);
	if (w->memfd < 0)
		return vt_fail(-errno, "memfd_create: %m");
	if (ftruncate(w->memfd, w->mem_size))
		return vt_fail(-errno, "ftruncate: %m");
	/* Two views at different addresses: nothing works by accident. */
	w->gmem = mmap(NULL, w->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       w->memfd, 0);
	if (w->gmem == MAP_FAILED) {
		w->gmem = NULL;
		return vt_fail(-errno, "mmap guest view: %m");
	}
	w->kmem = mmap(NULL, w->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       w->memfd, 0);
	if (w->kmem == MAP_FAILED) {
		w->kmem = NULL;
		return vt_fail(-errno, "mmap kernel view: %m");
	}
	return 0;
}

void vwin_unmap(struct vwin *w)
{
	if (!w->caller_mem) {
		if (w->gmem)
			munmap(w->gmem, w->mem_size);
		if (w->kmem)
			munmap(w->kmem, w->mem_size);
	}
	w->gmem = NULL;
	w->kmem = NULL;
	vt_close_fd(&w->memfd);
}

void *vwin_ptr(struct vwin *w, uint64_t gpa)
{
	return w->gmem + (gpa - w->gpa_base);
}

uint64_t vwin_hva(struct vwin *w, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)w->kmem + (gpa - w->gpa_base);
}

uint64_t vwin_buf_gpa(struct vwin *w, unsigned int q, unsigned int id)
{
	return w->gpa_base + VWIN_BUF_OFF(w->max_num, q, id);
}

bool vwin_contains(struct vwin *w, uint64_t gpa, uint64_t len)
{
	return gpa >= w->gpa_base && len <= w->mem_size &&
	       gpa - w->gpa_base <= w->mem_size - len;
}

void vwin_mem_region(struct vwin *w, struct vhost_memory_region *r)
{
	memset(r, 0, sizeof(*r));
	r->guest_phys_addr = w->gpa_base;
	r->memory_size = w->mem_size;
	r->userspace_addr = (uintptr_t)w->kmem;
}

/* The vhost device */

int vwin_vhost_init(struct vwin *w, bool iommu, uint64_t backend_features)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mt;
	uint64_t offered, want, bf;

	if (ioctl(w->fd, VHOST_SET_OWNER, NULL))
		return vt_fail(-errno, "VHOST_SET_OWNER: %m");
	if (ioctl(w->fd, VHOST_GET_FEATURES, &offered))
		return vt_fail(-errno, "VHOST_GET_FEATURES: %m");
	want = 1ULL << VIRTIO_F_VERSION_1;
	if (iommu) {
		want |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
		if (ioctl(w->fd, VHOST_GET_BACKEND_FEATURES, &bf))
			return vt_fail(-errno, "VHOST_GET_BACKEND_FEATURES: %m");
		bf = backend_features;
		if (ioctl(w->fd, VHOST_SET_BACKEND_FEATURES, &bf))
			return vt_fail(-errno, "VHOST_SET_BACKEND_FEATURES: %m");
	}
	if ((offered & want) != want)
		return vt_fail(-EOPNOTSUPP, "features %#llx not in %#llx",
			       (unsigned long long)want,
			       (unsigned long long)offered);
	w->features = want;
	if (ioctl(w->fd, VHOST_SET_FEATURES, &w->features))
		return vt_fail(-errno, "VHOST_SET_FEATURES %#llx: %m",
			       (unsigned long long)want);
	/* vhost checks the rings against it, with ACCESS_PLATFORM too */
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 1;
	vwin_mem_region(w, &mt.r);
	if (ioctl(w->fd, VHOST_SET_MEM_TABLE, &mt))
		return vt_fail(-errno, "VHOST_SET_MEM_TABLE: %m");
	return 0;
}

/* The queues */

void vwin_vqs_reset(struct vq *vq, unsigned int n)
{
	unsigned int q;

	for (q = 0; q < n; q++) {
		vq[q].kick = -1;
		vq[q].call = -1;
		vq[q].err = -1;
	}
}

int vwin_vqs_open(struct vq *vq, unsigned int n, unsigned int num)
{
	unsigned int q;
	int ret;

	for (q = 0; q < n; q++) {
		ret = vq_open_fds(&vq[q]);
		if (ret)
			return ret;
		vq[q].num = num;
	}
	return 0;
}

void vwin_vqs_fini(struct vq *vq, unsigned int n)
{
	unsigned int q;

	for (q = 0; q < n; q++) {
		vq_close_fds(&vq[q]);
		vq_fini(&vq[q]);
	}
}

void vwin_ring_gpa(struct vwin *w, unsigned int q, uint64_t gpa[3])
{
	uint64_t ring = w->gpa_base + VWIN_RING_OFF(q);

	gpa[0] = ring;
	gpa[1] = ring + VWIN_AVAIL_OFF;
	gpa[2] = ring + VWIN_USED_OFF;
}

int vwin_ring_setup(struct vwin *w, struct vq *vq, unsigned int q,
		    unsigned int num, const uint64_t addr[3])
{
	uint64_t gpa[3];
	unsigned int i;
	int ret;

	vwin_ring_gpa(w, q, gpa);
	memset(vwin_ptr(w, gpa[0]), 0, VWIN_RING_SIZE);
	ret = vq_init(vq, q, num, vwin_ptr(w, gpa[0]), vwin_ptr(w, gpa[1]),
		      vwin_ptr(w, gpa[2]), gpa[0], gpa[1], gpa[2]);
	if (ret)
		return ret;
	for (i = 0; i < 3; i++)
		if (addr[i] == VWIN_NO_ADDR)
			return vt_fail(-EFAULT, "queue %u: ring GPA %#llx has no IOVA",
				       q, (unsigned long long)gpa[i]);
	ret = vq_vhost_addr(w->fd, vq, addr[0], addr[1], addr[2]);
	return ret ? ret : vq_vhost_files(w->fd, vq);
}

/* Buffers */

int vwin_kick(struct vq *vq)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_notify(vq);
}

int vwin_wait_used(struct vq *vq, uint32_t *id, uint32_t *len,
		   int timeout_ms)
{
	int ret;

	ret = vq_wait_used(vq, false, false, id, len, timeout_ms);
	if (ret)
		return ret;
	if (*id >= vq->num || !vq->shadow[*id].ndesc)
		return vt_fail(-EPROTO, "queue %u: used id %u was not posted",
			       vq->index, *id);
	vq->shadow[*id].ndesc = 0;
	return 0;
}

int vwin_err_count(struct vq *vq, uint64_t *count)
{
	*count = 0;
	if (read(vq->err, count, sizeof(*count)) != sizeof(*count) &&
	    errno != EAGAIN)
		return vt_fail(-errno, "read err eventfd: %m");
	return 0;
}
