// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the virtqueue engine.
 *
 * Split virtqueues living in the owner's memory, driven from the device's
 * worker thread (which uses the owner's mm): the vring ioctls, the kick
 * eventfd hook, the guest memory table, descriptor chains (direct and
 * indirect) turned into segments of the owner's memory, the used ring and
 * interrupt suppression (VIRTIO_RING_F_EVENT_IDX). Built on public headers
 * only: nothing here depends on drivers/vhost/vhost.h. A kick queues the
 * work its consumer gave (the request handler); the ring knows nothing of
 * what the buffers carry.
 *
 * Everything the guest controls is checked: a defect in a chain is either
 * a malformed request (the chain is returned unwritten) or a ring error
 * (the queue stops and the error eventfd fires); neither prints.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "common.h"
#include "ring.h"

/*
 * The most bytes vhost_iommu_user_read() and vhost_iommu_user_write() move
 * in one user access window; longer copies take copy_{from,to}_user().
 */
#define VHOST_IOMMU_SMALL_COPY	128

/* Words of a kernel buffer with no alignment (vhost_iommu_user_read()) */
struct vhost_iommu_word {
	u64 v;
} __packed;

struct vhost_iommu_half {
	u32 v;
} __packed;

/*
 * Copies @n bytes of the owner's memory to @dst within one user access
 * window, eight bytes at a time: a descriptor, a request or a used entry
 * is a few words, and copy_from_user() costs a call, a string copy and,
 * for a size not known at build time, the hardened-usercopy walk of @dst
 * (a buffer of the caller, of at least @n bytes). From eight bytes on,
 * the last word ends at @n and may read a few bytes again; nothing past
 * @src + @n is read. Returns 0 or -EFAULT.
 */
static __always_inline int vhost_iommu_user_read(void *dst,
						 const void __user *src, u32 n)
{
	struct vhost_iommu_word *w;
	struct vhost_iommu_half *h;
	u64 v;
	u32 x;
	u8 b;

	if (n > VHOST_IOMMU_SMALL_COPY)
		return copy_from_user(dst, src, n) ? -EFAULT : 0;
	if (!user_read_access_begin(src, n))
		return -EFAULT;
	if (n >= sizeof(v)) {
		/* Whole words, the last one ending at @n: it may overlap */
		for (;;) {
			n -= sizeof(v);
			unsafe_get_user(v, (const u64 __user *)src, efault);
			w = dst;
			w->v = v;
			if (n < sizeof(v))
				break;
			src += sizeof(v);
			dst += sizeof(v);
		}
		if (n) {
			unsafe_get_user(v, (const u64 __user *)(src + n),
					efault);
			w = dst + n;
			w->v = v;
		}
		n = 0;
	}
	if (n >= sizeof(x)) {
		unsafe_get_user(x, (const u32 __user *)src, efault);
		h = dst;
		h->v = x;
		src += sizeof(x);
		dst += sizeof(x);
		n -= sizeof(x);
	}
	for (; n; n--) {
		unsafe_get_user(b, (const u8 __user *)src, efault);
		*(u8 *)dst = b;
		src++;
		dst++;
	}
	user_read_access_end();
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

/*
 * As vhost_iommu_user_read(), the other way: whole words, the last one
 * ending at @n (it may rewrite a few bytes with the same values), or for
 * less than a word two halves the same way, or bytes. Returns 0 or
 * -EFAULT.
 */
static __always_inline int vhost_iommu_user_write(void __user *dst,
						  const void *src, u32 n)
{
	const struct vhost_iommu_word *w;
	const struct vhost_iommu_half *h;
	u32 i;

	if (n > VHOST_IOMMU_SMALL_COPY)
		return copy_to_user(dst, src, n) ? -EFAULT : 0;
	if (!user_write_access_begin(dst, n))
		return -EFAULT;
	if (n >= sizeof(w->v)) {
		for (i = 0; i < n - sizeof(w->v); i += sizeof(w->v)) {
			w = src + i;
			unsafe_put_user(w->v, (u64 __user *)(dst + i), efault);
		}
		i = n - sizeof(w->v);
		w = src + i;
		unsafe_put_user(w->v, (u64 __user *)(dst + i), efault);
	} else if (n >= sizeof(h->v)) {
		h = src;
		unsafe_put_user(h->v, (u32 __user *)dst, efault);
		if (n > sizeof(h->v)) {
			i = n - sizeof(h->v);
			h = src + i;
			unsafe_put_user(h->v, (u32 __user *)(dst + i), efault);
		}
	} else {
		for (i = 0; i < n; i++)
			unsafe_put_user(((const u8 *)src)[i],
					(u8 __user *)dst + i, efault);
	}
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

/*
 * Reads a 16-bit field of the rings (the available index, a head) in one
 * user access window, inlined where get_user() calls out. Returns 0 or
 * -EFAULT.
 */
static __always_inline int vhost_iommu_get16(u16 *val,
					     const __virtio16 __user *p)
{
	__virtio16 v;

	if (!user_read_access_begin(p, sizeof(*p)))
		return -EFAULT;
	unsafe_get_user(v, p, efault);
	user_read_access_end();
	*val = le16_to_cpu((__force __le16)v);
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

static void vhost_iommu_poll_queue(struct vhost_iommu_poll *poll)
{
	vhost_iommu_work_queue(poll->worker, poll->work);
}

/*
 * Logs a write of the device into guest memory while the VMM migrates
 * (VHOST_F_LOG_ALL). Returns 0 or -EFAULT: a write the log misses would
 * corrupt the migrated guest, so its failure is the write's failure.
 */
static int vhost_iommu_vq_log(struct vhost_iommu_vq *vq, u64 gpa, u64 len)
{
	int ret;

	if (likely(!vhost_iommu_vq_has(vq, VHOST_F_LOG_ALL)))
		return 0;
	ret = vhost_iommu_log_write(vq->log_base, gpa, len);
	if (!ret && vq->log_ctx)
		vhost_iommu_eventfd_signal(vq->log_ctx);
	return ret;
}

/* Logs a write of @len bytes at @p, in the used ring (VHOST_VRING_F_LOG) */
static int vhost_iommu_vq_log_used(struct vhost_iommu_vq *vq,
				   const void __user *p, u32 len)
{
	if (likely(!vhost_iommu_vq_has(vq, VHOST_F_LOG_ALL)) || !vq->log_used)
		return 0;
	return vhost_iommu_vq_log(vq, vq->log_addr +
				  (p - (const void __user *)vq->used), len);
}

/* Writes the used ring's flags, logged. Returns 0 or -EFAULT. */
static int vhost_iommu_vq_put_flags(struct vhost_iommu_vq *vq, u16 flags)
{
	if (put_user((__force __virtio16)cpu_to_le16(flags), &vq->used->flags))
		return -EFAULT;
	return vhost_iommu_vq_log_used(vq, &vq->used->flags,
				       sizeof(vq->used->flags));
}

static int vhost_iommu_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
				   int sync, void *key)
{
	struct vhost_iommu_poll *poll;

	poll = container_of(wait, struct vhost_iommu_poll, wait);
	if (key_to_poll(key) & EPOLLIN)
		vhost_iommu_poll_queue(poll);
	return 0;
}

static void vhost_iommu_poll_func(struct file *file, wait_queue_head_t *wqh,
				  poll_table *pt)
{
	struct vhost_iommu_poll *poll;

	poll = container_of(pt, struct vhost_iommu_poll, table);
	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

static void vhost_iommu_poll_start(struct vhost_iommu_poll *poll,
				   struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return;
	mask = vfs_poll(file, &poll->table);
	if (mask & EPOLLIN)
		vhost_iommu_poll_queue(poll);
}

static void vhost_iommu_poll_stop(struct vhost_iommu_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}

/**
 * vhost_iommu_vq_init() - set up a queue
 * @vq: the queue
 * @index: VHOST_IOMMU_VQ_REQUEST or VHOST_IOMMU_VQ_EVENT
 * @worker: the device's worker
 * @mem: the device's memory table
 * @kick_work: queued on every kick, or NULL: kicks are not polled
 */
void vhost_iommu_vq_init(struct vhost_iommu_vq *vq, unsigned int index,
			 struct vhost_iommu_worker *worker,
			 struct vhost_iommu_mem *mem,
			 struct vhost_iommu_work *kick_work)
{
	mutex_init(&vq->mutex);
	vq->index = index;
	vq->mem = mem;
	vq->poll.worker = worker;
	vq->poll.work = kick_work;
	init_waitqueue_func_entry(&vq->poll.wait, vhost_iommu_poll_wakeup);
	init_poll_funcptr(&vq->poll.table, vhost_iommu_poll_func);
}

/**
 * vhost_iommu_vq_stop() - stop taking buffers from a queue
 * @vq: the queue
 *
 * Kicks no longer wake the worker. Work already queued may still run and
 * finds the queue stopped. Context: the device mutex held.
 */
void vhost_iommu_vq_stop(struct vhost_iommu_vq *vq)
{
	mutex_lock(&vq->mutex);
	vhost_iommu_poll_stop(&vq->poll);
	vq->running = false;
	mutex_unlock(&vq->mutex);
}

/* The queue's indexes and state back to a fresh ring's. @vq->mutex held. */
static void vhost_iommu_vq_rewind_locked(struct vhost_iommu_vq *vq)
{
	vq->broken = false;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->signalled_used_valid = false;
	vq->notify_off = false;
}

/**
 * vhost_iommu_vq_rewind() - a stopped queue's indexes back to 0
 * @vq: the queue, stopped
 *
 * For a device reset: the driver's next ring starts at 0. The size,
 * addresses and eventfds stay for the VMM to set again.
 */
void vhost_iommu_vq_rewind(struct vhost_iommu_vq *vq)
{
	mutex_lock(&vq->mutex);
	vhost_iommu_vq_rewind_locked(vq);
	mutex_unlock(&vq->mutex);
}

/**
 * vhost_iommu_vq_get_base() - a stopped queue's next available index
 * @vq: the queue
 * @idx: out: the index
 *
 * For the saved state. Return: 0, or -EBUSY when the queue runs.
 */
int vhost_iommu_vq_get_base(struct vhost_iommu_vq *vq, u16 *idx)
{
	int ret = -EBUSY;

	mutex_lock(&vq->mutex);
	if (!vq->running) {
		*idx = vq->last_avail_idx;
		ret = 0;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

/**
 * vhost_iommu_vq_set_base() - VHOST_SET_VRING_BASE, for a loaded state
 * @vq: the queue
 * @idx: the next available index
 *
 * Return: 0, or -EBUSY when the queue runs.
 */
int vhost_iommu_vq_set_base(struct vhost_iommu_vq *vq, u16 idx)
{
	int ret = -EBUSY;

	mutex_lock(&vq->mutex);
	if (!vq->running) {
		vq->last_avail_idx = idx;
		vq->avail_idx = idx;
		ret = 0;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

/* Forgets the ring setup and the eventfds. The queue must be stopped. */
void vhost_iommu_vq_reset(struct vhost_iommu_vq *vq)
{
	mutex_lock(&vq->mutex);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call)
		eventfd_ctx_put(vq->call);
	if (vq->err)
		eventfd_ctx_put(vq->err);
	kvfree(vq->segs);
	vq->kick = NULL;
	vq->call = NULL;
	vq->err = NULL;
	vq->segs = NULL;
	vq->num = 0;
	vq->addr_set = false;
	vhost_iommu_vq_rewind_locked(vq);
	vq->busyloop_timeout = 0;
	vq->log_base = NULL;
	vq->log_ctx = NULL;
	vq->log_used = false;
	mutex_unlock(&vq->mutex);
}

/* Bytes of the used ring, avail_event included when negotiated */
static size_t vhost_iommu_vq_used_size(struct vhost_iommu_vq *vq)
{
	size_t event = vhost_iommu_vq_has(vq, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;

	return sizeof(struct vring_used) +
	       vq->num * sizeof(struct vring_used_elem) + event;
}

static bool vhost_iommu_vq_access_ok(struct vhost_iommu_vq *vq)
{
	size_t event = vhost_iommu_vq_has(vq, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
	unsigned int num = vq->num;

	return access_ok(vq->desc, num * sizeof(struct vring_desc)) &&
	       access_ok(vq->avail, sizeof(struct vring_avail) +
			 num * sizeof(__virtio16) + event) &&
	       access_ok(vq->used, vhost_iommu_vq_used_size(vq));
}

/* Starts the queue once its size, addresses and kick are set. */
static int vhost_iommu_vq_try_start(struct vhost_iommu_vq *vq)
{
	__virtio16 used_idx;

	if (vq->running || !vq->num || !vq->addr_set || !vq->kick)
		return 0;
	if (!vhost_iommu_vq_access_ok(vq))
		return -EINVAL;
	if (!vq->segs) {
		vq->segs = kvmalloc_array(VHOST_IOMMU_MAX_SEGS,
					  sizeof(*vq->segs),
					  VHOST_IOMMU_GFP);
		if (!vq->segs)
			return -ENOMEM;
	}
	/*
	 * The used index in guest memory is the truth, as for vhost; kicks
	 * are asked for (a stop while busy polling may have left
	 * VRING_USED_F_NO_NOTIFY there, and the queue starts not polling).
	 */
	if (get_user(used_idx, &vq->used->idx) ||
	    vhost_iommu_vq_put_flags(vq, 0))
		return -EFAULT;
	vq->last_used_idx = le16_to_cpu((__force __le16)used_idx);
	vq->broken = false;
	vq->avail_idx = vq->last_avail_idx;
	vq->signalled_used_valid = false;
	vq->running = true;
	if (vq->poll.work) {
		vhost_iommu_poll_start(&vq->poll, vq->kick);
		/*
		 * Look at the ring once: the driver may have made buffers
		 * available while the queue was stopped without a kick it
		 * will repeat (kicks suppressed, or busy polling), and work
		 * may wait for the queue (the fault reports of a loaded
		 * state).
		 */
		vhost_iommu_poll_queue(&vq->poll);
	}
	return 0;
}

static long vhost_iommu_set_vring_addr(struct vhost_iommu_vq *vq,
				       struct vhost_vring_addr __user *argp)
{
	struct vhost_vring_addr a;

	bool log;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~BIT(VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	log = a.flags & BIT(VHOST_VRING_F_LOG);
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr)
		return -EFAULT;
	if ((a.desc_user_addr & (16 - 1)) || (a.avail_user_addr & (2 - 1)) ||
	    (a.used_user_addr & (4 - 1)) || (log && (a.log_guest_addr & 3)))
		return -EINVAL;
	/*
	 * A running queue takes only a change of its logging: the VMM turns
	 * the used ring's logging on and off around a migration.
	 */
	if (vq->running &&
	    (u64_to_user_ptr(a.desc_user_addr) != vq->desc ||
	     u64_to_user_ptr(a.avail_user_addr) != vq->avail ||
	     u64_to_user_ptr(a.used_user_addr) != vq->used))
		return -EBUSY;
	if (log && vq->num && vq->log_base &&
	    !vhost_iommu_log_access_ok(vq->log_base, a.log_guest_addr,
				       vhost_iommu_vq_used_size(vq)))
		return -EINVAL;
	vq->desc = u64_to_user_ptr(a.desc_user_addr);
	vq->avail = u64_to_user_ptr(a.avail_user_addr);
	vq->used = u64_to_user_ptr(a.used_user_addr);
	vq->addr_set = true;
	if (vq->num && !vhost_iommu_vq_access_ok(vq)) {
		vq->addr_set = false;
		return -EINVAL;
	}
	vq->log_used = log;
	vq->log_addr = a.log_guest_addr;
	return 0;
}

static long vhost_iommu_set_vring_kick(struct vhost_iommu_vq *vq, int fd)
{
	struct file *file = NULL;
	long r;

	if (fd != VHOST_FILE_UNBIND) {
		file = eventfd_fget(fd);
		if (IS_ERR(file))
			return PTR_ERR(file);
	}
	vhost_iommu_poll_stop(&vq->poll);
	if (vq->kick)
		fput(vq->kick);
	vq->kick = file;
	if (!file) {
		vq->running = false;
		return 0;
	}
	if (vq->running) {
		if (vq->poll.work)
			vhost_iommu_poll_start(&vq->poll, file);
		return 0;
	}
	r = vhost_iommu_vq_try_start(vq);
	return r;
}

static long vhost_iommu_set_eventfd(struct eventfd_ctx **slot, int fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	swap(*slot, ctx);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

/* The answer of a VHOST_GET_VRING_* ioctl: the queue's index and @num */
static long vhost_iommu_vq_put_state(struct vhost_iommu_vq *vq,
				     void __user *argp, unsigned int num)
{
	struct vhost_vring_state s = { .index = vq->index, .num = num };

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long vhost_iommu_vq_ioctl_locked(struct vhost_iommu_vq *vq,
					unsigned int ioctl, void __user *argp)
{
	struct vhost_vring_state s;
	struct vhost_vring_file f;

	switch (ioctl) {
	case VHOST_SET_VRING_NUM:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		if (vq->running)
			return -EBUSY;
		if (!s.num || s.num > 32768 || (s.num & (s.num - 1)))
			return -EINVAL;
		vq->num = s.num;
		return 0;
	case VHOST_SET_VRING_BASE:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		if (vq->running)
			return -EBUSY;
		if (s.num > 0xffff)
			return -EINVAL;
		vq->last_avail_idx = s.num;
		vq->avail_idx = s.num;
		return 0;
	case VHOST_GET_VRING_BASE:
		return vhost_iommu_vq_put_state(vq, argp, vq->last_avail_idx);
	case VHOST_SET_VRING_ADDR:
		return vhost_iommu_set_vring_addr(vq, argp);
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		/*
		 * Kept for any queue, as QEMU's vhost_dev_init() sets it on
		 * every queue; only the request queue's consumer polls.
		 */
		if (s.num > VHOST_IOMMU_BUSYLOOP_MAX_US)
			return -EINVAL;
		vq->busyloop_timeout = s.num;
		return 0;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return vhost_iommu_vq_put_state(vq, argp, vq->busyloop_timeout);
	}

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	switch (ioctl) {
	case VHOST_SET_VRING_KICK:
		return vhost_iommu_set_vring_kick(vq, f.fd);
	case VHOST_SET_VRING_CALL:
		return vhost_iommu_set_eventfd(&vq->call, f.fd);
	case VHOST_SET_VRING_ERR:
		return vhost_iommu_set_eventfd(&vq->err, f.fd);
	}
	return -ENOTTY;
}

/**
 * vhost_iommu_vq_ioctl() - a VHOST_*_VRING_* ioctl of one queue
 * @vq: the queue, chosen by the argument's index
 * @ioctl: the ioctl number
 * @argp: its argument
 *
 * Same argument checks and errno as vhost-net.
 * Context: the device mutex held.
 * Return: 0 or a negative errno.
 */
long vhost_iommu_vq_ioctl(struct vhost_iommu_vq *vq, unsigned int ioctl,
			  void __user *argp)
{
	long r;

	mutex_lock(&vq->mutex);
	r = vhost_iommu_vq_ioctl_locked(vq, ioctl, argp);
	mutex_unlock(&vq->mutex);
	return r;
}

/* Context: the device mutex and the vq mutex held. */
void vhost_iommu_vq_set_features(struct vhost_iommu_vq *vq, u64 features)
{
	lockdep_assert_held(&vq->mutex);
	vq->features = features;
}

/**
 * vhost_iommu_vq_log_ok() - whether a log covers the queue's used ring
 * @vq: the queue, its mutex held
 * @base: the log
 *
 * Return: true when the used ring is not logged or @base covers it.
 */
bool vhost_iommu_vq_log_ok(struct vhost_iommu_vq *vq, void __user *base)
{
	lockdep_assert_held(&vq->mutex);
	return !vq->log_used || !vq->num ||
	       vhost_iommu_log_access_ok(base, vq->log_addr,
					 vhost_iommu_vq_used_size(vq));
}

/**
 * vhost_iommu_vq_set_log() - VHOST_SET_LOG_BASE and VHOST_SET_LOG_FD
 * @vq: the queue, its mutex held
 * @base: the log, NULL: none
 * @ctx: the log's eventfd, the device's reference, or NULL
 */
void vhost_iommu_vq_set_log(struct vhost_iommu_vq *vq, void __user *base,
			    struct eventfd_ctx *ctx)
{
	lockdep_assert_held(&vq->mutex);
	vq->log_base = base;
	vq->log_ctx = ctx;
}

/**
 * vhost_iommu_vq_lock() - take a queue to consume it
 * @vq: the queue
 *
 * As mutex_lock(&vq->mutex), and the chains walked until
 * vhost_iommu_vq_unlock() look their memory regions up through a cache of
 * one region (@vq->region): the memory table is replaced only with every
 * vq mutex held, so a region found while the mutex is held stays true
 * until it is dropped.
 */
void vhost_iommu_vq_lock(struct vhost_iommu_vq *vq)
{
	mutex_lock(&vq->mutex);
	vq->region.memory_size = 0;
	vq->region_cache = true;
}

/* Drops what vhost_iommu_vq_lock() took; the region cache goes with it. */
void vhost_iommu_vq_unlock(struct vhost_iommu_vq *vq)
{
	vq->region_cache = false;
	mutex_unlock(&vq->mutex);
}

/*
 * vhost_iommu_mem_span() for the chain walk: the bytes of [@gpa, @gpa +
 * @len) that the region holding @gpa holds, from the region cache when
 * the queue was taken with vhost_iommu_vq_lock().
 */
static u32 vhost_iommu_vq_span(struct vhost_iommu_vq *vq, u64 gpa, u32 len,
			       u64 *hva)
{
	struct vhost_memory_region *r = &vq->region;
	u64 off;

	if (!vq->region_cache)
		return vhost_iommu_mem_span(vq->mem, gpa, len, hva);
	/* Below the region, off wraps past memory_size; 0: nothing cached */
	off = gpa - r->guest_phys_addr;
	if (off >= r->memory_size) {
		if (!vhost_iommu_mem_lookup(vq->mem, gpa, r)) {
			r->memory_size = 0;
			return 0;
		}
		off = gpa - r->guest_phys_addr;
	}
	*hva = r->userspace_addr + off;
	return min_t(u64, len, r->memory_size - off);
}

/*
 * Appends the owner's segments for guest range [gpa, gpa + len) to the
 * chain. Returns 0, or VQ_MALFORMED when part of the range is outside the
 * memory table or the chain has too many segments.
 */
static int vhost_iommu_chain_add(struct vhost_iommu_vq *vq,
				 struct vhost_iommu_chain *chain,
				 u64 gpa, u32 len)
{
	unsigned int nr = chain->nr_segs;
	struct vhost_iommu_seg *s;
	u64 hva;
	u32 n;

	while (len) {
		n = vhost_iommu_vq_span(vq, gpa, len, &hva);
		if (!n || nr >= VHOST_IOMMU_MAX_SEGS)
			return VQ_MALFORMED;
		s = &vq->segs[nr++];
		s->addr = u64_to_user_ptr(hva);
		s->gpa = gpa;
		s->len = n;
		gpa += n;
		len -= n;
	}
	chain->nr_segs = nr;
	return 0;
}

/*
 * Copies guest range [gpa, gpa + len) to @buf, region by region, or with
 * a NULL @buf only checks that the memory table holds all of it. Returns
 * 0, VQ_MALFORMED (outside the table) or -EIO (the owner's memory).
 */
static int vhost_iommu_gpa_read(struct vhost_iommu_vq *vq, u64 gpa,
				void *buf, u32 len)
{
	u64 hva;
	u32 n;

	while (len) {
		n = vhost_iommu_vq_span(vq, gpa, len, &hva);
		if (!n)
			return VQ_MALFORMED;
		if (buf && vhost_iommu_user_read(buf, u64_to_user_ptr(hva), n))
			return -EIO;
		if (buf)
			buf += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/*
 * Whether the region cache holds all of [@gpa, @gpa + @len), @len not 0,
 * the region of @gpa looked up on a miss; @off: @gpa's offset in it.
 * False sends the range to vhost_iommu_chain_add(), which splits it or
 * finds it outside the memory table.
 */
static __always_inline bool vhost_iommu_vq_holds(struct vhost_iommu_vq *vq,
						 u64 gpa, u32 len, u64 *off)
{
	struct vhost_memory_region *r = &vq->region;

	if (!vq->region_cache || !len)
		return false;
	/* Below the region, off wraps past memory_size; 0: nothing cached */
	*off = gpa - r->guest_phys_addr;
	if (*off >= r->memory_size) {
		if (!vhost_iommu_mem_lookup(vq->mem, gpa, r)) {
			r->memory_size = 0;
			return false;
		}
		*off = gpa - r->guest_phys_addr;
	}
	return len <= r->memory_size - *off;
}

/*
 * Adds one data descriptor, decoded from its copy, to the chain. A range
 * the cached region holds whole (the usual case) becomes one segment in
 * place; any other goes through vhost_iommu_chain_add(). Returns 0 or
 * VQ_MALFORMED.
 */
static __always_inline int vhost_iommu_chain_desc(struct vhost_iommu_vq *vq,
						  struct vhost_iommu_chain *chain,
						  u64 addr, u32 len, bool write)
{
	const struct vhost_memory_region *r = &vq->region;
	struct vhost_iommu_seg *s;
	u32 *total;
	u64 off;
	int ret;

	if (!write && chain->nr_segs != chain->nr_in)
		return VQ_MALFORMED;	/* readable after writable */
	total = write ? &chain->out_len : &chain->in_len;
	if (*total > U32_MAX - len)
		return VQ_MALFORMED;
	if (likely(vhost_iommu_vq_holds(vq, addr, len, &off) &&
		   chain->nr_segs < VHOST_IOMMU_MAX_SEGS)) {
		s = &vq->segs[chain->nr_segs++];
		s->addr = u64_to_user_ptr(r->userspace_addr + off);
		s->gpa = addr;
		s->len = len;
	} else {
		ret = vhost_iommu_chain_add(vq, chain, addr, len);
		if (ret)
			return ret;
	}
	*total += len;
	if (!write)
		chain->nr_in = chain->nr_segs;
	return 0;
}

/*
 * Walks an indirect table of @n descriptors at guest-physical @gpa (it
 * may span memory regions), from its first. At most @n descriptors,
 * zero-length ones included: more means a loop. An indirect descriptor
 * in it is a ring error. Returns 0, VQ_MALFORMED or -EIO.
 */
static int vhost_iommu_walk_table(struct vhost_iommu_vq *vq,
				  struct vhost_iommu_chain *chain,
				  u64 gpa, unsigned int n)
{
	unsigned int count = 0, i = 0;
	struct vring_desc d;
	u16 flags;
	int ret;

	for (;;) {
		if (++count > n)
			return -EIO;	/* loop or too long */
		chain->nr_desc++;
		/* A table has up to 32768 entries: yield now and then. */
		if (!(count % VHOST_IOMMU_BUDGET))
			cond_resched();
		if (vhost_iommu_gpa_read(vq, gpa + (u64)i * sizeof(d), &d,
					 sizeof(d)))
			return -EIO;
		flags = le16_to_cpu((__force __le16)d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EIO;
		ret = vhost_iommu_chain_desc(vq, chain,
					     le64_to_cpu((__force __le64)d.addr),
					     le32_to_cpu((__force __le32)d.len),
					     flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16_to_cpu((__force __le16)d.next);
		if (i >= n)
			return -EIO;
	}
}

/*
 * Checks an indirect descriptor (decoded from its copy) and walks its
 * table. The table is an ordinary guest buffer: contiguous in
 * guest-physical space, it may span memory regions. It holds at most as
 * many descriptors as the queue: the spec bounds a chain by the queue
 * size. Not inlined: its descriptor buffer would give the ring's walk a
 * stack canary.
 */
static noinline int vhost_iommu_walk_indirect(struct vhost_iommu_vq *vq,
					      struct vhost_iommu_chain *chain,
					      u64 addr, u32 len, u16 flags)
{
	unsigned int n = len / sizeof(struct vring_desc);
	int ret;

	if (!vhost_iommu_vq_has(vq, VIRTIO_RING_F_INDIRECT_DESC) ||
	    !len || len % sizeof(struct vring_desc) || n > vq->num ||
	    (flags & VRING_DESC_F_NEXT))
		return -EIO;
	ret = vhost_iommu_gpa_read(vq, addr, NULL, len);
	if (ret)
		return ret;
	return vhost_iommu_walk_table(vq, chain, addr, n);
}

/*
 * Walks the ring's descriptor table from index @i. Each descriptor is
 * read as two little-endian words in one user access window (the table
 * is 16-byte aligned) and only that copy is decoded: addr, then len,
 * flags and next. At most vq->num descriptors, zero-length ones
 * included: more means a loop. Returns 0, VQ_MALFORMED or -EIO.
 */
static int vhost_iommu_walk(struct vhost_iommu_vq *vq,
			    struct vhost_iommu_chain *chain, unsigned int i)
{
	const struct vring_desc __user *p;
	unsigned int count = 0;
	u64 addr, word;
	u16 flags;
	int ret;

	for (;;) {
		if (++count > vq->num)
			return -EIO;	/* loop or too long */
		chain->nr_desc++;
		/* A table has up to 32768 entries: yield now and then. */
		if (!(count % VHOST_IOMMU_BUDGET))
			cond_resched();
		p = vq->desc + i;
		if (!user_read_access_begin(p, sizeof(*p)))
			return -EIO;
		unsafe_get_user(addr, (const u64 __user *)&p->addr, efault);
		unsafe_get_user(word, (const u64 __user *)&p->len, efault);
		user_read_access_end();
		addr = le64_to_cpu((__force __le64)addr);
		word = le64_to_cpu((__force __le64)word);
		flags = (u16)(word >> 32);
		if (flags & VRING_DESC_F_INDIRECT)
			return vhost_iommu_walk_indirect(vq, chain, addr,
							 lower_32_bits(word),
							 flags);
		ret = vhost_iommu_chain_desc(vq, chain, addr,
					     lower_32_bits(word),
					     flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = word >> 48;
		if (i >= vq->num)
			return -EIO;
	}
efault:
	user_read_access_end();
	return -EIO;
}

/* Reads the driver's available index. Returns 0 or -EIO. */
static __always_inline int vhost_iommu_vq_avail(struct vhost_iommu_vq *vq)
{
	u16 avail;

	if (vhost_iommu_get16(&avail, &vq->avail->idx))
		return -EIO;
	if ((u16)(avail - vq->last_avail_idx) > vq->num)
		return -EIO;
	vq->avail_idx = avail;
	return 0;
}

/*
 * Asks for a kick at the next buffer (avail_event with EVENT_IDX, else
 * VRING_USED_F_NO_NOTIFY cleared if the worker set it); then looks again.
 */
static int vhost_iommu_vq_enable_notify(struct vhost_iommu_vq *vq)
{
	__virtio16 __user *avail_event;

	if (vhost_iommu_vq_has(vq, VIRTIO_RING_F_EVENT_IDX)) {
		avail_event = (__virtio16 __user *)&vq->used->ring[vq->num];
		if (put_user((__force __virtio16)cpu_to_le16(vq->last_avail_idx),
			     avail_event) ||
		    vhost_iommu_vq_log_used(vq, avail_event,
					    sizeof(*avail_event)))
			return -EIO;
	} else if (vq->notify_off) {
		if (vhost_iommu_vq_put_flags(vq, 0))
			return -EIO;
	}
	vq->notify_off = false;
	smp_mb(); /* publish avail_event or flags before reading the index */
	return vhost_iommu_vq_avail(vq);
}

/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): the ring is empty; waits
 * for the driver's next chain by reading the available index for up to
 * busyloop_timeout microseconds, its kicks suppressed meanwhile (with
 * EVENT_IDX, by leaving avail_event behind). Stops early when the CPU is
 * wanted, a signal (a flush) is pending or other work is queued. The
 * queue's mutex stays held: at most VHOST_IOMMU_BUSYLOOP_MAX_US, which
 * the owner chose. Returns 0 or -EIO.
 */
static int vhost_iommu_vq_busy_poll(struct vhost_iommu_vq *vq)
{
	u64 end;
	int ret;

	if (!vhost_iommu_vq_has(vq, VIRTIO_RING_F_EVENT_IDX) &&
	    !vq->notify_off &&
	    vhost_iommu_vq_put_flags(vq, VRING_USED_F_NO_NOTIFY))
		return -EIO;
	vq->notify_off = true;
	end = local_clock() + (u64)vq->busyloop_timeout * NSEC_PER_USEC;
	do {
		ret = vhost_iommu_vq_avail(vq);
		if (ret || vq->avail_idx != vq->last_avail_idx)
			return ret;
		cpu_relax();
	} while (!need_resched() && !signal_pending(current) &&
		 !vhost_iommu_worker_pending(vq->poll.worker) &&
		 local_clock() < end);
	return 0;
}

/**
 * vhost_iommu_vq_next() - take the next available chain
 * @vq: a running queue, its mutex held, in the worker
 * @chain: filled with the chain's segments (in @vq->segs)
 * @busy_poll: when the ring is empty, poll it for @vq->busyloop_timeout
 *	microseconds before asking for a kick
 *
 * Return: 0 with a chain to execute, VQ_EMPTY (1) when there is none,
 * VQ_MALFORMED (2) with @chain->head set when the chain must be returned
 * unwritten, or -EIO on a ring error (the caller stops the queue).
 */
int vhost_iommu_vq_next(struct vhost_iommu_vq *vq,
			struct vhost_iommu_chain *chain, bool busy_poll)
{
	u16 head;
	int ret;

	if (vq->avail_idx == vq->last_avail_idx) {
		ret = vhost_iommu_vq_avail(vq);
		if (!ret && vq->avail_idx == vq->last_avail_idx && busy_poll &&
		    vq->busyloop_timeout)
			ret = vhost_iommu_vq_busy_poll(vq);
		if (!ret && vq->avail_idx == vq->last_avail_idx)
			ret = vhost_iommu_vq_enable_notify(vq);
		if (ret)
			return ret;
		if (vq->avail_idx == vq->last_avail_idx)
			return VQ_EMPTY;
	}
	smp_rmb(); /* read the ring entry after the index */
	if (vhost_iommu_get16(&head, &vq->avail->ring[vq->last_avail_idx &
						     (vq->num - 1)]))
		return -EIO;
	memset(chain, 0, sizeof(*chain));
	chain->head = head;
	if (chain->head >= vq->num)
		return -EIO;
	ret = vhost_iommu_walk(vq, chain, chain->head);
	if (ret < 0)
		return ret;
	vq->last_avail_idx++;
	return ret;
}

/*
 * Copies @len bytes at @offset of the writable (or readable) segments:
 * the general case of vhost_iommu_chain_read() and _write(), for a range
 * past the first segment or a fill with zeroes.
 */
static int vhost_iommu_chain_copy(struct vhost_iommu_vq *vq,
				  unsigned int first, unsigned int end,
				  u32 offset, void *buf, const void *src,
				  u32 len)
{
	unsigned int i;
	u32 n;

	for (i = first; i < end && len; i++) {
		struct vhost_iommu_seg *s = &vq->segs[i];

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		n = min(len, s->len - offset);
		if (buf && vhost_iommu_user_read(buf, s->addr + offset, n))
			return -EFAULT;
		if (!buf && src && vhost_iommu_user_write(s->addr + offset, src, n))
			return -EFAULT;
		if (!buf && !src && clear_user(s->addr + offset, n))
			return -EFAULT;
		if (!buf && vhost_iommu_vq_log(vq, s->gpa + offset, n))
			return -EFAULT;
		if (buf)
			buf += n;
		if (src)
			src += n;
		len -= n;
		offset = 0;
	}
	return len ? -EFAULT : 0;
}

/**
 * vhost_iommu_chain_read() - read the start of a chain's readable part
 * @vq: the queue
 * @chain: the chain
 * @buf: destination
 * @len: bytes to read, at most @chain->in_len
 *
 * Return: 0 or -EFAULT.
 */
int vhost_iommu_chain_read(struct vhost_iommu_vq *vq,
			   const struct vhost_iommu_chain *chain,
			   void *buf, u32 len)
{
	/* A request lies in the first segment, as a rule */
	if (likely(chain->nr_in && len <= vq->segs[0].len))
		return vhost_iommu_user_read(buf, vq->segs[0].addr, len);
	return vhost_iommu_chain_copy(vq, 0, chain->nr_in, 0, buf, NULL, len);
}

/**
 * vhost_iommu_chain_write() - write into a chain's writable part
 * @vq: the queue
 * @chain: the chain
 * @offset: offset in the writable part
 * @buf: source, or NULL to write zeroes
 * @len: bytes; @offset + @len at most @chain->out_len
 *
 * Return: 0 or -EFAULT.
 */
int vhost_iommu_chain_write(struct vhost_iommu_vq *vq,
			    const struct vhost_iommu_chain *chain,
			    u32 offset, const void *buf, u32 len)
{
	const struct vhost_iommu_seg *s;

	/* The tail or the properties lie in the first writable segment */
	if (likely(buf && len && chain->nr_segs > chain->nr_in)) {
		s = &vq->segs[chain->nr_in];
		if (offset <= s->len && len <= s->len - offset) {
			if (vhost_iommu_user_write(s->addr + offset, buf, len))
				return -EFAULT;
			return vhost_iommu_vq_log(vq, s->gpa + offset, len);
		}
	}
	return vhost_iommu_chain_copy(vq, chain->nr_in, chain->nr_segs, offset,
				      NULL, buf, len);
}

/**
 * vhost_iommu_chain_hold() - keep a chain to complete it later
 * @vq: the queue
 * @chain: the chain
 * @len: bytes of the writable part to keep, at most VHOST_IOMMU_HELD_MAX
 *	and @chain->out_len
 * @held: out: the chain's head and where its first @len writable bytes
 *	are in guest memory
 */
void vhost_iommu_chain_hold(struct vhost_iommu_vq *vq,
			    const struct vhost_iommu_chain *chain, u32 len,
			    struct vhost_iommu_held *held)
{
	unsigned int i;
	u32 n;

	held->head = chain->head;
	held->nr = 0;
	/* Segments are never empty: each piece holds a byte at least. */
	for (i = chain->nr_in; i < chain->nr_segs && len &&
	     held->nr < VHOST_IOMMU_HELD_MAX; i++) {
		n = min(len, vq->segs[i].len);
		held->gpa[held->nr] = vq->segs[i].gpa;
		held->len[held->nr] = n;
		held->nr++;
		len -= n;
	}
}

/**
 * vhost_iommu_held_write() - write into a held chain
 * @vq: the queue, taken with vhost_iommu_vq_lock()
 * @held: the chain
 * @buf: what to write at the start of its writable part
 * @len: bytes, at most what vhost_iommu_chain_hold() kept
 *
 * Through the memory table as it is now, logged as chain writes are.
 * Return: 0 or -EFAULT (the memory is no longer in the table, or the
 * owner's memory failed).
 */
int vhost_iommu_held_write(struct vhost_iommu_vq *vq,
			   const struct vhost_iommu_held *held,
			   const void *buf, u32 len)
{
	unsigned int i;
	u32 n, span;
	u64 gpa, hva;

	for (i = 0; i < held->nr && len; i++) {
		gpa = held->gpa[i];
		n = min(len, held->len[i]);
		len -= n;
		while (n) {
			span = vhost_iommu_vq_span(vq, gpa, n, &hva);
			if (!span ||
			    vhost_iommu_user_write(u64_to_user_ptr(hva), buf,
						   span) ||
			    vhost_iommu_vq_log(vq, gpa, span))
				return -EFAULT;
			buf += span;
			gpa += span;
			n -= span;
		}
	}
	return len ? -EFAULT : 0;
}

/**
 * vhost_iommu_vq_add_used() - return a chain to the driver
 * @vq: the queue
 * @head: the chain's head index
 * @len: bytes written into the chain
 *
 * The entry becomes visible with vhost_iommu_vq_flush_used().
 * Return: 0 or -EIO (ring error).
 */
int vhost_iommu_vq_add_used(struct vhost_iommu_vq *vq, u16 head, u32 len)
{
	struct vring_used_elem __user *p =
		&vq->used->ring[vq->last_used_idx & (vq->num - 1)];

	if (!user_write_access_begin(p, sizeof(*p)))
		return -EIO;
	unsafe_put_user((__force __virtio32)cpu_to_le32(head), &p->id, efault);
	unsafe_put_user((__force __virtio32)cpu_to_le32(len), &p->len, efault);
	user_write_access_end();
	if (vhost_iommu_vq_log_used(vq, p, sizeof(*p)))
		return -EIO;
	vq->last_used_idx++;
	return 0;
efault:
	user_write_access_end();
	return -EIO;
}

static bool vhost_iommu_vq_need_signal(struct vhost_iommu_vq *vq)
{
	__virtio16 v;
	u16 old, new;
	bool valid;

	smp_mb(); /* the used index before the driver's suppression state */
	if (!vhost_iommu_vq_has(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (get_user(v, &vq->avail->flags))
			return true;
		return !(le16_to_cpu((__force __le16)v) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->last_used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	if (get_user(v, &vq->avail->ring[vq->num]))
		return true;
	return vring_need_event(le16_to_cpu((__force __le16)v), new, old);
}

/**
 * vhost_iommu_vq_flush_used() - publish used entries, interrupt if asked
 * @vq: the queue
 */
void vhost_iommu_vq_flush_used(struct vhost_iommu_vq *vq)
{
	smp_wmb(); /* the entries before the index */
	if (put_user((__force __virtio16)cpu_to_le16(vq->last_used_idx),
		     &vq->used->idx) ||
	    vhost_iommu_vq_log_used(vq, &vq->used->idx,
				    sizeof(vq->used->idx))) {
		vhost_iommu_vq_error(vq);
		return;
	}
	if (vq->call && vhost_iommu_vq_need_signal(vq))
		vhost_iommu_eventfd_signal(vq->call);
}

/**
 * vhost_iommu_vq_error() - a ring error: stop the queue, tell the VMM
 * @vq: the queue, its mutex held
 *
 * The VMM learns of it through the error eventfd and resets the device.
 */
void vhost_iommu_vq_error(struct vhost_iommu_vq *vq)
{
	atomic64_inc(&vq->ring_errors);
	vq->broken = true;
	if (vq->err)
		vhost_iommu_eventfd_signal(vq->err);
}
