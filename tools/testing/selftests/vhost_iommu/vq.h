/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver side of a split virtqueue, shared by the virtio-iommu model
 * (vmm.c) and the virtio-net model (vnet.c): the three ring parts in
 * guest memory (reached through the guest's pointers), the free list of
 * descriptors, what was posted per head, the kick/call/err eventfds, and
 * the vhost ioctls that hand the ring to a vhost device.
 *
 * Descriptors are either taken from the free list (vq_desc_alloc(), given
 * back by vq_desc_free() when their head is used), as vmm.c does, or
 * posted at a fixed id (vq_post_id()), as vnet.c does with one descriptor
 * per buffer. Functions return 0 or a negative errno (vt_errmsg).
 */
#ifndef VHOST_IOMMU_SELFTEST_VQ_H
#define VHOST_IOMMU_SELFTEST_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "common.h"

/* Per-head record of what the driver posted */
struct vq_shadow {
	uint16_t ndesc;		/* descriptors taken; 0: the head is free */
	uint64_t wr_gpa;	/* first writable byte, for event buffers */
	uint32_t wr_len;
};

struct vq {
	unsigned int index;
	unsigned int num;
	struct vring_desc *desc;	/* guest views */
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;	/* next avail index the driver publishes */
	uint16_t kicked_idx;	/* avail index at the last notification */
	uint16_t last_used;	/* next used index to consume */
	/* With EVENT_IDX: vq_wait_used() asks to be woken at this used index */
	uint16_t wake_at;
	bool wake_at_set;	/* wake_at is set; else the next used entry */
	int kick, call, err;	/* eventfds, -1 when closed */
	uint16_t free_head, nfree;
	uint16_t *free_next;
	struct vq_shadow *shadow;
	bool ready;
};

/*
 * The eventfds (non-blocking), opened once and kept across vq_init();
 * closed by vq_close_fds(). vq_fini() frees the free list and the shadow.
 */
int vq_open_fds(struct vq *vq);
void vq_close_fds(struct vq *vq);
void vq_fini(struct vq *vq);

/*
 * Ring @index of @num entries at the given guest pointers and GPAs (the
 * caller zeroes the memory): indexes at 0, every descriptor free.
 */
int vq_init(struct vq *vq, unsigned int index, unsigned int num,
	    void *desc, void *avail, void *used,
	    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);

/*
 * The vhost side: SET_VRING_NUM and SET_VRING_ADDR with the addresses the
 * device is given (HVAs or IOVAs); SET_VRING_BASE 0, CALL, ERR and KICK.
 */
int vq_vhost_addr(int fd, struct vq *vq, uint64_t desc, uint64_t avail,
		  uint64_t used);
int vq_vhost_files(int fd, struct vq *vq);

/* Descriptors */
int vq_desc_alloc(struct vq *vq, unsigned int n, uint16_t *ids);
void vq_desc_free(struct vq *vq, uint16_t head);
void vq_desc_write(struct vring_desc *d, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);
/* One descriptor at id @id, outside the free list; -EBUSY if posted */
int vq_post_id(struct vq *vq, uint16_t id, uint64_t addr, uint32_t len,
	       uint16_t flags);

/* The avail ring: publish @head; the device's avail_event */
void vq_avail_push(struct vq *vq, uint16_t head);
uint16_t vq_avail_event(struct vq *vq);

/* Notify the device (always); read and clear an eventfd's count */
int vq_notify(struct vq *vq);
int vq_drain_fd(int fd, uint64_t *count);

/* The used ring: its index; whether an entry waits */
uint16_t vq_used_idx(struct vq *vq);
bool vq_used_pending(struct vq *vq);

/*
 * Waits for the next used entry, on the call eventfd, up to @timeout_ms
 * (-ETIMEDOUT), and consumes it: its id and length. @event_idx: the
 * driver publishes used_event (VIRTIO_RING_F_EVENT_IDX). @err_fails: a
 * signal on the error eventfd with no entry used ends the wait (-EIO).
 * The head's shadow is not released (vq_desc_free(), or ndesc = 0).
 */
int vq_wait_used(struct vq *vq, bool event_idx, bool err_fails,
		 uint32_t *id, uint32_t *len, int timeout_ms);

#endif /* VHOST_IOMMU_SELFTEST_VQ_H */
