// SPDX-License-Identifier: GPL-2.0
/*
 * The driver side of a split virtqueue (vq.h).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "vq.h"

int vq_open_fds(struct vq *vq)
{
	if (vq->kick > 0)
		return 0;
	vq->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick < 0 || vq->call < 0 || vq->err < 0)
		return vt_fail(-errno, "eventfd: %m");
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd > 0)
		close(*fd);
	*fd = -1;
}

void vq_close_fds(struct vq *vq)
{
	close_fd(&vq->kick);
	close_fd(&vq->call);
	close_fd(&vq->err);
}

void vq_fini(struct vq *vq)
{
	free(vq->free_next);
	free(vq->shadow);
	vq->free_next = NULL;
	vq->shadow = NULL;
	vq->ready = false;
}

int vq_init(struct vq *vq, unsigned int index, unsigned int num,
	    void *desc, void *avail, void *used,
	    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	unsigned int i;

	vq_fini(vq);
	vq->index = index;
	vq->num = num;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	vq->avail_idx = 0;
	vq->kicked_idx = 0;
	vq->last_used = 0;
	vq->free_next = calloc(num, sizeof(*vq->free_next));
	vq->shadow = calloc(num, sizeof(*vq->shadow));
	if (!vq->free_next || !vq->shadow)
		return vt_fail(-ENOMEM, "calloc");
	for (i = 0; i < num; i++)
		vq->free_next[i] = i + 1;
	vq->free_head = 0;
	vq->nfree = num;
	return 0;
}

int vq_vhost_addr(int fd, struct vq *vq, uint64_t desc, uint64_t avail,
		  uint64_t used)
{
	struct vhost_vring_state s = { .index = vq->index, .num = vq->num };
	struct vhost_vring_addr a = {
		.index = vq->index,
		.desc_user_addr = desc,
		.avail_user_addr = avail,
		.used_user_addr = used,
	};

	if (ioctl(fd, VHOST_SET_VRING_NUM, &s))
		return vt_fail(-errno, "VHOST_SET_VRING_NUM %u: %m", vq->num);
	if (ioctl(fd, VHOST_SET_VRING_ADDR, &a))
		return vt_fail(-errno, "VHOST_SET_VRING_ADDR %u: %m", vq->index);
	return 0;
}

int vq_vhost_files(int fd, struct vq *vq)
{
	struct vhost_vring_state s = { .index = vq->index, .num = 0 };
	struct vhost_vring_file f = { .index = vq->index };

	if (ioctl(fd, VHOST_SET_VRING_BASE, &s))
		return vt_fail(-errno, "VHOST_SET_VRING_BASE %u: %m", vq->index);
	f.fd = vq->call;
	if (ioctl(fd, VHOST_SET_VRING_CALL, &f))
		return vt_fail(-errno, "VHOST_SET_VRING_CALL %u: %m", vq->index);
	f.fd = vq->err;
	if (ioctl(fd, VHOST_SET_VRING_ERR, &f))
		return vt_fail(-errno, "VHOST_SET_VRING_ERR %u: %m", vq->index);
	f.fd = vq->kick;
	if (ioctl(fd, VHOST_SET_VRING_KICK, &f))
		return vt_fail(-errno, "VHOST_SET_VRING_KICK %u: %m", vq->index);
	return 0;
}

int vq_desc_alloc(struct vq *vq, unsigned int n, uint16_t *ids)
{
	unsigned int i;
	uint16_t d;

	if (n > vq->nfree || !n)
		return vt_fail(-ENOSPC, "vq %u: %u descriptors wanted, %u free",
			       vq->index, n, vq->nfree);
	d = vq->free_head;
	for (i = 0; i < n; i++) {
		ids[i] = d;
		d = vq->free_next[d];
	}
	vq->free_head = d;
	vq->nfree -= n;
	vq->shadow[ids[0]].ndesc = n;
	return 0;
}

void vq_desc_free(struct vq *vq, uint16_t head)
{
	uint16_t last = head;
	unsigned int i, n;

	if (head >= vq->num || !vq->shadow[head].ndesc)
		return;
	n = vq->shadow[head].ndesc;
	for (i = 1; i < n; i++)
		last = vq->free_next[last];
	vq->free_next[last] = vq->free_head;
	vq->free_head = head;
	vq->nfree += n;
	vq->shadow[head].ndesc = 0;
}

void vq_desc_write(struct vring_desc *d, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

int vq_post_id(struct vq *vq, uint16_t id, uint64_t addr, uint32_t len,
	       uint16_t flags)
{
	if (id >= vq->num || vq->shadow[id].ndesc)
		return vt_fail(-EBUSY, "queue %u: descriptor %u busy or invalid",
			       vq->index, id);
	vq_desc_write(&vq->desc[id], addr, len, flags, 0);
	vq->shadow[id].ndesc = 1;
	vq->shadow[id].wr_gpa = 0;
	vq->shadow[id].wr_len = 0;
	vq_avail_push(vq, id);
	return 0;
}

void vq_avail_push(struct vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
}

/* The device's avail_event, after the used ring */
uint16_t vq_avail_event(struct vq *vq)
{
	uint16_t *p = (void *)&vq->used->ring[vq->num];

	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

int vq_notify(struct vq *vq)
{
	uint64_t one = 1;

	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kick, &one, sizeof(one)) != sizeof(one))
		return vt_fail(-errno, "kick %u: %m", vq->index);
	return 0;
}

int vq_drain_fd(int fd, uint64_t *count)
{
	uint64_t c = 0;

	if (read(fd, &c, sizeof(c)) != sizeof(c))
		return -errno;
	if (count)
		*count = c;
	return 0;
}

uint16_t vq_used_idx(struct vq *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

bool vq_used_pending(struct vq *vq)
{
	return vq_used_idx(vq) != vq->last_used;
}

int vq_wait_used(struct vq *vq, bool event_idx, bool err_fails,
		 uint32_t *id, uint32_t *len, int timeout_ms)
{
	uint64_t deadline = vt_now_ns() + timeout_ms * 1000000ULL;
	struct vring_used_elem *e;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = vq->call, .events = POLLIN },
			{ .fd = vq->err, .events = POLLIN },
		};
		uint64_t now;
		int ret;

		if (vq_used_pending(vq))
			break;
		if (event_idx) {
			vq->avail->ring[vq->num] =
				htole16(vq->wake_at_set ? vq->wake_at :
					vq->last_used);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (vq_used_pending(vq))
				break;
		}
		now = vt_now_ns();
		if (now >= deadline)
			return vt_fail(-ETIMEDOUT,
				       "vq %u: no used entry %u within %d ms (used idx %u, avail idx %u)",
				       vq->index, vq->last_used, timeout_ms,
				       vq_used_idx(vq), vq->avail_idx);
		ret = poll(p, err_fails ? 2 : 1,
			   (deadline - now) / 1000000 + 1);
		if (ret < 0 && errno != EINTR)
			return vt_fail(-errno, "poll: %m");
		if (ret > 0 && err_fails && (p[1].revents & POLLIN) &&
		    !vq_used_pending(vq))
			return vt_fail(-EIO, "vq %u: error eventfd signalled",
				       vq->index);
		if (ret > 0 && (p[0].revents & POLLIN))
			vq_drain_fd(vq->call, NULL);
	}
	e = &vq->used->ring[vq->last_used % vq->num];
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	vq->last_used++;
	return 0;
}
