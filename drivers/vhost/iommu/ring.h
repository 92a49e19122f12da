/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the virtqueue engine (split rings in the owner's memory).
 */
#ifndef _VHOST_IOMMU_RING_H
#define _VHOST_IOMMU_RING_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/types.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "mem.h"
#include "worker.h"

/* Guest-memory segments one request chain may have. */
#define VHOST_IOMMU_MAX_SEGS		1024
/* The most VHOST_SET_VRING_BUSYLOOP_TIMEOUT takes, in microseconds */
#define VHOST_IOMMU_BUSYLOOP_MAX_US	10000
/* vhost_iommu_vq_next() outcomes besides 0 and -EIO */
#define VQ_EMPTY		1	/* nothing available */
#define VQ_MALFORMED		2	/* return the chain unwritten */

/**
 * struct vhost_iommu_poll - queues a work when an eventfd is signalled
 * @table: poll table used to register @wait
 * @wqh: the eventfd's wait queue, NULL when not polling
 * @wait: our entry on @wqh
 * @worker: the worker that runs @work
 * @work: queued on every EPOLLIN, or NULL: never polled
 */
struct vhost_iommu_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhost_iommu_worker *worker;
	struct vhost_iommu_work *work;
};

/**
 * struct vhost_iommu_seg - a piece of a request chain in the owner's memory
 * @addr: user address
 * @gpa: its guest-physical address, for the dirty log
 * @len: length in bytes
 */
struct vhost_iommu_seg {
	void __user *addr;
	u64 gpa;
	u32 len;
};

/**
 * struct vhost_iommu_chain - a parsed descriptor chain
 * @head: the head descriptor index, returned in the used ring
 * @nr_in: segments of the device-readable part (first in vq->segs)
 * @nr_segs: all segments, the device-writable ones after the readable ones
 * @nr_desc: descriptors walked to build it, indirect ones included
 * @in_len: bytes in the readable part
 * @out_len: bytes in the writable part
 */
struct vhost_iommu_chain {
	u16 head;
	unsigned int nr_in;
	unsigned int nr_segs;
	unsigned int nr_desc;
	u32 in_len;
	u32 out_len;
};

/* Pieces of guest memory a held chain keeps (VHOST_IOMMU_HELD_MAX bytes) */
#define VHOST_IOMMU_HELD_MAX	4

/**
 * struct vhost_iommu_held - a chain kept past the queue's mutex
 * @head: the head descriptor index, for the used ring
 * @nr: pieces in @gpa and @len
 * @gpa: guest-physical address of each piece of the start of the
 *	writable part
 * @len: bytes of each piece
 *
 * Guest-physical addresses, not the owner's: the memory table may be
 * replaced while the mutex is dropped.
 */
struct vhost_iommu_held {
	u16 head;
	unsigned int nr;
	u64 gpa[VHOST_IOMMU_HELD_MAX];
	u32 len[VHOST_IOMMU_HELD_MAX];
};

/**
 * struct vhost_iommu_vq - one virtqueue
 * @mutex: protects every field below but @index, @mem and @ring_errors
 * @index: VHOST_IOMMU_VQ_REQUEST or VHOST_IOMMU_VQ_EVENT
 * @mem: the device's memory table (descriptors are guest-physical)
 * @features: the negotiated features (the ring's bits matter here)
 * @num: ring size, a power of two; 0 when unset
 * @desc: descriptor table (owner's address)
 * @avail: available ring (owner's address)
 * @used: used ring (owner's address)
 * @addr_set: the three addresses above are set
 * @last_avail_idx: next available entry to take
 * @avail_idx: the driver's available index as last read
 * @last_used_idx: next used entry to fill
 * @signalled_used: used index at the last interrupt
 * @signalled_used_valid: @signalled_used means something
 * @notify_off: the driver's kicks are suppressed (VRING_USED_F_NO_NOTIFY
 *	set, or avail_event left behind): the worker is polling the ring or
 *	found a chain by polling, and asks for kicks again when it finds the
 *	ring empty
 * @busyloop_timeout: microseconds the worker polls the empty ring before it
 *	asks for a kick (VHOST_SET_VRING_BUSYLOOP_TIMEOUT), when the queue's
 *	consumer polls (the request queue's does); 0: never
 * @running: the queue runs (size, addresses and kick set)
 * @broken: a ring error stopped the queue until it is set up again
 * @kick: the kick eventfd, polled through @poll
 * @call: the call eventfd (interrupt), may be NULL
 * @err: the error eventfd, may be NULL
 * @poll: queues the consumer's work on kicks
 * @segs: scratch segments for the chain being executed
 * @region: the memory region a chain last used (memory_size 0: none),
 *	valid while @region_cache
 * @region_cache: the consumer holds @mutex through vhost_iommu_vq_lock()
 * @log_base: the dirty log (VHOST_SET_LOG_BASE), NULL when none; written
 *	to while VHOST_F_LOG_ALL is in @features
 * @log_ctx: signalled after the log is written (VHOST_SET_LOG_FD); the
 *	device's reference, may be NULL
 * @log_used: the used ring's writes are logged (VHOST_VRING_F_LOG)
 * @log_addr: the used ring's guest-physical address, for @log_used
 * @ring_errors: ring errors, for the statistics (atomic)
 */
struct vhost_iommu_vq {
	struct mutex mutex; /* the queue's state, see @mutex above */
	unsigned int index;
	struct vhost_iommu_mem *mem;
	u64 features;
	unsigned int num;
	struct vring_desc __user *desc;
	struct vring_avail __user *avail;
	struct vring_used __user *used;
	bool addr_set;
	u16 last_avail_idx;
	u16 avail_idx;
	u16 last_used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	bool notify_off;
	u32 busyloop_timeout;
	bool running;
	bool broken;
	struct file *kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct vhost_iommu_poll poll;
	struct vhost_iommu_seg *segs;
	struct vhost_memory_region region;
	bool region_cache;
	void __user *log_base;
	struct eventfd_ctx *log_ctx;
	bool log_used;
	u64 log_addr;
	atomic64_t ring_errors;
};

/* Whether a feature was negotiated. Context: @vq->mutex held. */
static inline bool vhost_iommu_vq_has(struct vhost_iommu_vq *vq, int bit)
{
	return vq->features & BIT_ULL(bit);
}

void vhost_iommu_vq_init(struct vhost_iommu_vq *vq, unsigned int index,
			 struct vhost_iommu_worker *worker,
			 struct vhost_iommu_mem *mem,
			 struct vhost_iommu_work *kick_work);
long vhost_iommu_vq_ioctl(struct vhost_iommu_vq *vq, unsigned int ioctl,
			  void __user *argp);
void vhost_iommu_vq_set_features(struct vhost_iommu_vq *vq, u64 features);
bool vhost_iommu_vq_log_ok(struct vhost_iommu_vq *vq, void __user *base);
void vhost_iommu_vq_set_log(struct vhost_iommu_vq *vq, void __user *base,
			    struct eventfd_ctx *ctx);
void vhost_iommu_vq_stop(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_rewind(struct vhost_iommu_vq *vq);
int vhost_iommu_vq_get_base(struct vhost_iommu_vq *vq, u16 *idx);
int vhost_iommu_vq_set_base(struct vhost_iommu_vq *vq, u16 idx);
void vhost_iommu_vq_reset(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_lock(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_unlock(struct vhost_iommu_vq *vq);
int vhost_iommu_vq_next(struct vhost_iommu_vq *vq,
			struct vhost_iommu_chain *chain, bool busy_poll);
int vhost_iommu_chain_read(struct vhost_iommu_vq *vq,
			   const struct vhost_iommu_chain *chain,
			   void *buf, u32 len);
int vhost_iommu_chain_write(struct vhost_iommu_vq *vq,
			    const struct vhost_iommu_chain *chain,
			    u32 offset, const void *buf, u32 len);
void vhost_iommu_chain_hold(struct vhost_iommu_vq *vq,
			    const struct vhost_iommu_chain *chain, u32 len,
			    struct vhost_iommu_held *held);
int vhost_iommu_held_write(struct vhost_iommu_vq *vq,
			   const struct vhost_iommu_held *held,
			   const void *buf, u32 len);
int vhost_iommu_vq_add_used(struct vhost_iommu_vq *vq, u16 head, u32 len);
void vhost_iommu_vq_flush_used(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_error(struct vhost_iommu_vq *vq);

#endif /* _VHOST_IOMMU_RING_H */
