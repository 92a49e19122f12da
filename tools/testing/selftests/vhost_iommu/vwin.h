/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A stock vhost device's guest-memory window and the split rings in it,
 * shared by the virtio-net model (vnet.c) and the virtio-vsock model
 * (vsock.c).
 *
 * The window is mem_size bytes at guest-physical address gpa_base: by
 * default a memfd mapped twice (the guest's view gmem, and the view kmem
 * handed to the kernel in the memory table, at another address), or
 * memory the caller provides (both views the same). Inside the window
 * (offsets from gpa_base) every ring part and every buffer has a 4 KiB
 * page of its own, so that one-page IOTLB entries never cover two of them:
 *
 *	VWIN_RING_OFF(q)		desc, avail and used of queue q
 *	VWIN_BUF_OFF(max, q, id)	buffer of descriptor id of queue q,
 *					@max buffers per queue
 *
 * A model embeds the window's members with VWIN_MEMBERS in an anonymous
 * union with a struct vwin, so that both v->gmem and &v->win work:
 *
 *	union { struct vwin win; struct { VWIN_MEMBERS }; };
 *
 * Functions return 0 or a negative errno (vt_errmsg).
 */
#ifndef VHOST_IOMMU_SELFTEST_VWIN_H
#define VHOST_IOMMU_SELFTEST_VWIN_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost.h>

#include "common.h"
#include "vq.h"

#define VWIN_PAGE		4096ULL
#define VWIN_RING_OFF(q)	((uint64_t)(q) * 4 * VWIN_PAGE)
#define VWIN_RING_SIZE		(3 * VWIN_PAGE)	/* desc, avail, used */
#define VWIN_AVAIL_OFF		VWIN_PAGE	/* in a ring's pages */
#define VWIN_USED_OFF		(2 * VWIN_PAGE)
#define VWIN_BUF_OFF(max, q, id) (0x10000ULL + (uint64_t)(q) * (max) * \
				  VWIN_PAGE + (uint64_t)(id) * VWIN_PAGE)
#define VWIN_NO_ADDR		(~0ULL)

#define VWIN_MEMBERS							\
	int fd;			/* the vhost device */			\
	int memfd;		/* -1: caller memory */			\
	uint8_t *gmem;		/* guest view of the window */		\
	uint8_t *kmem;		/* kernel view (memory table, UPDATEs) */ \
	void *caller_mem;	/* the caller's memory, or NULL */	\
	uint64_t gpa_base;						\
	uint64_t mem_size;	/* bytes of the window */		\
	unsigned int max_num;	/* buffers per queue */			\
	uint64_t features	/* negotiated */

struct vwin {
	VWIN_MEMBERS;
};

/*
 * The window, not mapped yet (fds -1): @size bytes at @gpa_base (page
 * aligned, else -EINVAL), @max_num buffers per queue; then mapped: a
 * memfd named @name mapped twice, or @mem (@size bytes of the caller's);
 * unmapped (the caller's memory stays), the memfd closed.
 */
int vwin_init(struct vwin *w, uint64_t gpa_base, uint64_t size,
	      unsigned int max_num);
int vwin_map(struct vwin *w, const char *name, void *mem);
void vwin_unmap(struct vwin *w);

/*
 * The guest's pointer to a GPA, the kernel view's address of a GPA, the
 * GPA of buffer @id of queue @q, whether [@gpa, @gpa + @len) is in the
 * window, the window as a memory table region.
 */
void *vwin_ptr(struct vwin *w, uint64_t gpa);
uint64_t vwin_hva(struct vwin *w, uint64_t gpa);
uint64_t vwin_buf_gpa(struct vwin *w, unsigned int q, unsigned int id);
bool vwin_contains(struct vwin *w, uint64_t gpa, uint64_t len);
void vwin_mem_region(struct vwin *w, struct vhost_memory_region *r);

/*
 * The vhost device w->fd (opened by the caller): SET_OWNER, features
 * (VERSION_1, + ACCESS_PLATFORM with @iommu, after the backend features
 * @backend_features, a mask of VHOST_BACKEND_F_* bits), the window as the
 * memory table (vhost checks the rings against it, with ACCESS_PLATFORM
 * too). w->features: what was set.
 */
int vwin_vhost_init(struct vwin *w, bool iommu, uint64_t backend_features);

/*
 * The queues: @n vqs with closed eventfds; their eventfds opened, @num
 * entries; closed and freed. Ring @q: its three GPAs; zeroed, initialized
 * and handed to the vhost device with the device addresses @addr (desc,
 * avail, used; VWIN_NO_ADDR: -EFAULT), base 0, call, err and kick.
 */
void vwin_vqs_reset(struct vq *vq, unsigned int n);
int vwin_vqs_open(struct vq *vq, unsigned int n, unsigned int num);
void vwin_vqs_fini(struct vq *vq, unsigned int n);
void vwin_ring_gpa(struct vwin *w, unsigned int q, uint64_t gpa[3]);
int vwin_ring_setup(struct vwin *w, struct vq *vq, unsigned int q,
		    unsigned int num, const uint64_t addr[3]);

/*
 * A queue's buffers, one descriptor each: kick (always, no suppression);
 * wait for the next used entry (on the call eventfd, -ETIMEDOUT after
 * @timeout_ms) and free its descriptor (-EPROTO if it was not posted);
 * read and clear the error eventfd's count.
 */
int vwin_kick(struct vq *vq);
int vwin_wait_used(struct vq *vq, uint32_t *id, uint32_t *len,
		   int timeout_ms);
int vwin_err_count(struct vq *vq, uint64_t *count);

#endif /* VHOST_IOMMU_SELFTEST_VWIN_H */
