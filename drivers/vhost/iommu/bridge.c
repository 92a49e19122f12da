// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the vhost bridge.
 *
 * A vhost device with VIRTIO_F_ACCESS_PLATFORM (vhost-net, vhost-vsock: the
 * ones whose file speaks the vhost IOTLB protocol) translates IOVAs through
 * its device IOTLB and queues a MISS message, readable on its file, for an
 * IOVA it cannot translate. Bound to an endpoint here, it is served by this
 * device instead of the VMM, through its public file interface only: the
 * file's wait queue tells us a miss is queued, kernel_read() takes it and
 * kernel_write() of an UPDATE answers it with the largest range we can give
 * (the whole mapping, cut to the memory region). Misses we cannot serve
 * become fault reports and stay unanswered: the vhost device keeps the
 * queue stalled on that access, as a device would be blocked by an IOMMU.
 * Both devices share drivers/vhost/vhost.c's IOTLB and ioctl code; what
 * this file says of vhost-net holds for vhost-vsock.
 *
 * The bridge subscribes to its endpoint in the domain store (the ops at
 * the end of this file). Every UPDATE is computed and written under the
 * store lock, as are the INVALIDATEs of UNMAP, DETACH and ATTACH, so a stale translation never
 * overtakes the invalidation that removes it. What each vhost-net device
 * was handed is tracked per bridge (struct vhost_iommu_bridge.handed) so
 * that only those ranges are invalidated: a strict-mode guest pays nothing
 * for mappings vhost-net never used. vhost-net drops every entry that meets
 * an invalidated range, whole; so does @handed, an interval tree of one
 * charged node per UPDATE.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/interval_tree_generic.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/security.h>
#include <linux/slab.h>

#include "bridge.h"
#include "common.h"

/**
 * struct vhost_iommu_handed - one range written to vhost-net as an UPDATE
 * @rb: node in vhost_iommu_bridge.handed
 * @first: first IOVA
 * @last: last IOVA (inclusive)
 * @subtree_last: the largest @last below @rb (interval tree)
 */
struct vhost_iommu_handed {
	struct rb_node rb;
	u64 first;
	u64 last;
	u64 subtree_last;
};

#define VHOST_IOMMU_HANDED_FIRST(h)	((h)->first)
#define VHOST_IOMMU_HANDED_LAST(h)	((h)->last)

INTERVAL_TREE_DEFINE(struct vhost_iommu_handed, rb, u64, subtree_last,
		     VHOST_IOMMU_HANDED_FIRST, VHOST_IOMMU_HANDED_LAST,
		     static inline, vhost_iommu_handed_tree);

/* Misses a binding leaves unanswered in vhost-net, at most */
#define VHOST_IOMMU_MAX_BLOCKED		8
/*
 * Misses of one address a binding leaves unanswered before it denies it:
 * vhost-net may miss again without a kick (its handler runs on socket
 * wake-ups too), and a denial makes the access wait for the next kick.
 */
#define VHOST_IOMMU_BLOCKED_MISSES	3
/* Ranges a binding tracks as handed out before it forgets them all */
#define VHOST_IOMMU_MAX_HANDED		8192

/* struct vhost_iommu_bridge.flags: the file was woken since the last check */
#define VHOST_IOMMU_BRIDGE_VERIFY	0

/**
 * struct vhost_iommu_blocked - an address whose misses a binding left
 *	unanswered
 * @iova: the address vhost-net missed
 * @misses: how many times, at most VHOST_IOMMU_BLOCKED_MISSES
 */
struct vhost_iommu_blocked {
	u64 iova;
	unsigned int misses;
};

/**
 * struct vhost_iommu_bridge - a vhost-net device bound to an endpoint
 * @bs: the device's bindings
 * @sub: the subscription to the endpoint in the store (sub.endpoint: the
 *	endpoint id, immutable)
 * @file: the vhost-net file, held until unbind
 * @was_nonblock: O_NONBLOCK was set on @file before the bind
 * @node: in vhost_iommu_bridges.list
 * @all_node: in the module's hash of bound files; protected by its mutex
 * @flags: VHOST_IOMMU_BRIDGE_VERIFY: ask vhost-net who owns it before
 *	handing anything out (atomic bit operations)
 *
 * The fields below are protected by the store lock.
 * @dead: unbinding: hand nothing out, do not requeue
 * @stalled: waits for room in the miss queue
 * @held: a miss read from @file that waits for room in the miss queue
 * @has_held: @held is meaningful
 * @blocked: IOVAs of misses left unanswered (faults), most recent last;
 *	a MAP that covers one answers it. A miss that cannot join them is
 *	answered with a denial.
 * @nr_blocked: entries in @blocked
 * @handed: interval tree of the ranges written to @file as UPDATEs and
 *	not invalidated since (a superset of what vhost-net holds)
 * @nr_handed: nodes in @handed, at most VHOST_IOMMU_MAX_HANDED
 *
 * @table: poll table used to hook @wait on the file's wait queue
 * @wqh: the file's wait queue, NULL until hooked
 * @wait: our entry on @wqh
 * @work: reads and serves the misses, in the worker
 */
struct vhost_iommu_bridge {
	struct vhost_iommu_bridges *bs;
	struct vhost_iommu_sub sub;
	struct file *file;
	bool was_nonblock;
	struct list_head node;
	struct hlist_node all_node;
	unsigned long flags;
	bool dead;
	bool stalled;
	struct vhost_msg_v2 held;
	bool has_held;
	struct vhost_iommu_blocked blocked[VHOST_IOMMU_MAX_BLOCKED];
	unsigned int nr_blocked;
	struct rb_root_cached handed;
	unsigned int nr_handed;
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhost_iommu_work work;
};

static void vhost_iommu_bridge_lock(struct vhost_iommu_bridge *b)
{
	vhost_iommu_store_lock(b->bs->store);
}

static void vhost_iommu_bridge_unlock(struct vhost_iommu_bridge *b)
{
	vhost_iommu_store_unlock(b->bs->store);
}

static void vhost_iommu_bridge_assert_locked(struct vhost_iommu_bridge *b)
{
	lockdep_assert_held(&b->bs->store->lock);
}

/* Default on: 1.25x in strict mode, measured (Documentation/vhost-net.md) */
static bool vhost_iommu_push_on_map = true;
module_param_named(push_on_map, vhost_iommu_push_on_map, bool, 0644);
MODULE_PARM_DESC(push_on_map,
		 "Hand new mappings to bound vhost-net devices at MAP time");

/*
 * Every bound vhost-net file, of any device, hashed by its struct file: a
 * file is bound once. Protected by vhost_iommu_bound_lock.
 */
static DEFINE_MUTEX(vhost_iommu_bound_lock);
static DEFINE_HASHTABLE(vhost_iommu_bound, 10);

/* vhost_chr_read_iter() needs no more; a shorter read returns 0. */
static_assert(sizeof(struct vhost_msg) == sizeof(struct vhost_msg_v2));

/*
 * /dev/vhost-net or /dev/vhost-vsock: both are drivers/vhost/vhost.c
 * devices, whose reads, writes, poll and vring ioctls we rely on. Others
 * (vhost-scsi: no ACCESS_PLATFORM; vhost-vdpa: its IOTLB maps, it never
 * misses) are refused.
 */
static bool vhost_iommu_is_iotlb_device(struct file *file)
{
	struct inode *inode = file_inode(file);

	return S_ISCHR(inode->i_mode) && imajor(inode) == MISC_MAJOR &&
	       (iminor(inode) == VHOST_NET_MINOR ||
		iminor(inode) == VHOST_VSOCK_MINOR);
}

/*
 * Whether the vhost device belongs to current->mm (the VMM at bind, the
 * owner's mm in the worker). vhost keeps its owner private; ask it: a
 * vring ioctl checks the owner under the vhost device mutex first (EPERM),
 * then fails to read its argument from an address no process can map
 * (EFAULT), changing nothing. A vring ioctl, because vhost-net and
 * vhost-vsock flush their worker after every other device ioctl.
 */
static int vhost_iommu_check_owner(struct file *file)
{
	long ret;

	ret = file->f_op->unlocked_ioctl(file, VHOST_GET_VRING_BASE, ~0UL);
	return ret == -EFAULT ? 0 : -EPERM;
}

static int vhost_iommu_iotlb_write(struct vhost_iommu_bridge *b, u32 type,
				   u8 op, u64 iova, u64 size, u64 uaddr,
				   u8 perm)
{
	struct vhost_msg_v2 msg = {
		.type = type,
		.iotlb = {
			.iova = iova,
			.size = size,
			.uaddr = uaddr,
			.perm = perm,
			.type = op,
		},
	};
	loff_t pos = 0;
	ssize_t ret;

	ret = kernel_write(b->file, &msg, sizeof(msg), &pos);
	if (ret == sizeof(msg))
		return 0;
	atomic64_inc(&b->bs->errors);
	return ret < 0 ? ret : -EIO;
}

/* Drops [first, last] from the vhost-net device and from @handed. */
static void vhost_iommu_bridge_inval(struct vhost_iommu_bridge *b,
				     u64 first, u64 last)
{
	u64 size = last - first + 1;
	u64 iova = first;

	struct vhost_iommu_handed *h;

	vhost_iommu_bridge_assert_locked(b);
	/* The whole 64-bit space does not fit in a size: two messages. */
	if (!size) {
		size = 1ULL << 63;
		vhost_iommu_iotlb_write(b, VHOST_IOTLB_MSG_V2,
					VHOST_IOTLB_INVALIDATE, iova, size,
					0, 0);
		atomic64_inc(&b->bs->invalidations);
		iova += size;
	}
	vhost_iommu_iotlb_write(b, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_INVALIDATE,
				iova, size, 0, 0);
	atomic64_inc(&b->bs->invalidations);
	/* At most VHOST_IOMMU_MAX_HANDED nodes: no resched point needed. */
	while ((h = vhost_iommu_handed_tree_iter_first(&b->handed, first,
						       last))) {
		vhost_iommu_handed_tree_remove(h, &b->handed);
		kfree(h);
		b->nr_handed--;
	}
}

/*
 * Empties vhost-net's IOTLB: two messages, as a size cannot hold 2^64.
 * Not counted: a file whose owner has not negotiated ACCESS_PLATFORM yet
 * has no IOTLB, refuses them, and holds nothing anyway.
 */
static void vhost_iommu_bridge_forget_all(struct vhost_iommu_bridge *b)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = {
			.size = 1ULL << 63,
			.type = VHOST_IOTLB_INVALIDATE,
		},
	};
	loff_t pos = 0;

	kernel_write(b->file, &msg, sizeof(msg), &pos);
	msg.iotlb.iova = 1ULL << 63;
	pos = 0;
	kernel_write(b->file, &msg, sizeof(msg), &pos);
}

/* Invalidates what was handed out within [first, last], if anything. */
static void vhost_iommu_bridge_drop(struct vhost_iommu_bridge *b,
				    u64 first, u64 last)
{
	if (vhost_iommu_handed_tree_iter_first(&b->handed, first, last))
		vhost_iommu_bridge_inval(b, first, last);
}

/*
 * Records [iova, iova + size) and writes it as an UPDATE. @type is the
 * message format of the miss, or V2.
 */
static int vhost_iommu_bridge_hand(struct vhost_iommu_bridge *b, u32 type,
				   u64 iova, u64 size, u64 uaddr, u8 perm)
{
	struct vhost_iommu_handed *h;
	int ret;

	vhost_iommu_bridge_assert_locked(b);
	/*
	 * vhost-net keeps at most max_iotlb_entries (2048 by default) and
	 * evicts the oldest: past VHOST_IOMMU_MAX_HANDED ranges, forget
	 * them all rather than track without bound.
	 */
	if (b->nr_handed >= VHOST_IOMMU_MAX_HANDED)
		vhost_iommu_bridge_inval(b, 0, U64_MAX);
	h = kmalloc(sizeof(*h), VHOST_IOMMU_GFP);
	if (!h)
		return -ENOMEM;
	h->first = iova;
	h->last = iova + size - 1;
	vhost_iommu_handed_tree_insert(h, &b->handed);
	b->nr_handed++;
	ret = vhost_iommu_iotlb_write(b, type, VHOST_IOTLB_UPDATE, iova, size,
				      uaddr, perm);
	if (!ret)
		atomic64_inc(&b->bs->updates);
	return ret;
}

/* vhost's VHOST_ACCESS_* to the store's VIRTIO_IOMMU_MAP_F_*, and back */
static u32 vhost_iommu_vhost_to_perm(u8 perm)
{
	return (perm & VHOST_ACCESS_RO ? VIRTIO_IOMMU_MAP_F_READ : 0) |
	       (perm & VHOST_ACCESS_WO ? VIRTIO_IOMMU_MAP_F_WRITE : 0);
}

static u8 vhost_iommu_perm_to_vhost(u32 perm)
{
	return (perm & VIRTIO_IOMMU_MAP_F_READ ? VHOST_ACCESS_RO : 0) |
	       (perm & VIRTIO_IOMMU_MAP_F_WRITE ? VHOST_ACCESS_WO : 0);
}

/* Hands out the part of @map that memory region @r backs. */
static int vhost_iommu_bridge_hand_map(struct vhost_iommu_bridge *b,
				       u32 type,
				       const struct vhost_iommu_xlate *map,
				       const struct vhost_memory_region *r)
{
	u64 rlast = r->guest_phys_addr + r->memory_size - 1;
	u64 first, last;

	first = max(map->phys, r->guest_phys_addr);
	last = min(map->phys + (map->last - map->iova), rlast);
	return vhost_iommu_bridge_hand(b, type, map->iova + (first - map->phys),
				       last - first + 1,
				       r->userspace_addr +
				       (first - r->guest_phys_addr),
				       vhost_iommu_perm_to_vhost(map->perm));
}

/* Bypass: the memory region holding @gpa, at IOVA == GPA. */
static int vhost_iommu_bridge_hand_identity(struct vhost_iommu_bridge *b,
					    u32 type, u64 gpa)
{
	struct vhost_memory_region r;

	if (!vhost_iommu_mem_lookup(b->bs->mem, gpa, &r))
		return -ENOENT;
	return vhost_iommu_bridge_hand(b, type, r.guest_phys_addr,
				       r.memory_size, r.userspace_addr,
				       VHOST_ACCESS_RW);
}

/*
 * Resolves one miss of access @perm (VHOST_ACCESS_*) at @iova. Returns 0
 * when answered, -EAGAIN when queued for the VMM (VMM-managed domain),
 * else the fault reason to report.
 */
static int vhost_iommu_bridge_resolve(struct vhost_iommu_bridge *b,
				      u32 type, u64 iova, u8 perm)
{
	struct vhost_iommu_bridges *bs = b->bs;
	u32 need = vhost_iommu_vhost_to_perm(perm);
	struct vhost_memory_region r;
	struct vhost_iommu_xlate x;
	u64 granule;
	int ret;

	ret = vhost_iommu_store_lookup(bs->store, b->sub.endpoint, iova, need,
				       &x);
	if (!ret && x.identity)
		return vhost_iommu_bridge_hand_identity(b, type, iova) ?
		       VIRTIO_IOMMU_FAULT_R_MAPPING : 0;
	if (ret == -ENXIO || ret == -ENODEV)
		return VIRTIO_IOMMU_FAULT_R_DOMAIN;
	if (need && ret && x.vmm) {
		granule = vhost_iommu_store_granule(bs->store);
		vhost_iommu_missq_add(bs->missq, b->sub.endpoint, x.domain,
				      iova & ~(granule - 1),
				      vhost_iommu_perm_to_access(need));
		return -EAGAIN;
	}
	if (ret || !need)
		return VIRTIO_IOMMU_FAULT_R_MAPPING;
	/* Not guest memory (MMIO): nothing vhost-net could access. */
	if (!vhost_iommu_mem_lookup(bs->mem, x.phys + (iova - x.iova), &r) ||
	    vhost_iommu_bridge_hand_map(b, type, &x, &r))
		return VIRTIO_IOMMU_FAULT_R_MAPPING;
	return 0;
}

/*
 * Remembers a miss left unanswered, to answer it when it gets mapped.
 * False when it cannot stay unanswered: the same address missed more than
 * VHOST_IOMMU_BLOCKED_MISSES times, or VHOST_IOMMU_MAX_BLOCKED addresses
 * wait already. vhost-net keeps every miss until an UPDATE covers it: at
 * most VHOST_IOMMU_MAX_BLOCKED x VHOST_IOMMU_BLOCKED_MISSES per binding.
 */
static bool vhost_iommu_bridge_block(struct vhost_iommu_bridge *b, u64 iova)
{
	unsigned int i;

	for (i = 0; i < b->nr_blocked; i++)
		if (b->blocked[i].iova == iova)
			return b->blocked[i].misses < VHOST_IOMMU_BLOCKED_MISSES &&
			       ++b->blocked[i].misses;
	if (b->nr_blocked == ARRAY_SIZE(b->blocked))
		return false;
	b->blocked[b->nr_blocked].iova = iova;
	b->blocked[b->nr_blocked].misses = 1;
	b->nr_blocked++;
	return true;
}

/*
 * Answers a miss with a translation that permits nothing. vhost-net 6.1
 * allocates a message for every miss and frees it only when an UPDATE
 * covers it, so a guest kicking on an unmapped address (or packets
 * arriving for an unmapped RX buffer) would grow its lists without bound.
 * This UPDATE frees the misses of that page; vhost-net then fails the
 * access (EPERM, its vring error eventfd) at every retry, without a new
 * miss, until a MAP replaces the entry (vhost_iommu_bridge_mapped()).
 */
static void vhost_iommu_bridge_deny(struct vhost_iommu_bridge *b, u32 type,
				    u64 iova)
{
	u64 granule = vhost_iommu_store_granule(b->bs->store);

	vhost_iommu_bridge_hand(b, type, iova & ~(granule - 1), granule, 0, 0);
}

/* Serves one miss. Context: the store lock held. */
static void vhost_iommu_bridge_miss(struct vhost_iommu_bridge *b,
				    const struct vhost_msg_v2 *msg)
{
	u32 flags = VIRTIO_IOMMU_FAULT_F_ADDRESS;
	u64 iova = msg->iotlb.iova;
	u8 perm = msg->iotlb.perm;
	int reason;

	reason = vhost_iommu_bridge_resolve(b, msg->type, iova, perm);
	if (!reason)
		atomic64_inc(&b->bs->served);
	if (reason <= 0)
		return;
	if (!vhost_iommu_bridge_block(b, iova))
		vhost_iommu_bridge_deny(b, msg->type, iova);
	if (perm & VHOST_ACCESS_RO)
		flags |= VIRTIO_IOMMU_FAULT_F_READ;
	if (perm & VHOST_ACCESS_WO)
		flags |= VIRTIO_IOMMU_FAULT_F_WRITE;
	vhost_iommu_report_fault(b->bs->events, reason, flags, b->sub.endpoint,
				 iova);
}

/*
 * Whether the next miss might need a slot of the full miss queue: it then
 * waits until the VMM reads. Context: the store lock held.
 */
static bool vhost_iommu_bridge_must_wait(struct vhost_iommu_bridge *b)
{
	return vhost_iommu_store_ep_vmm(b->bs->store, b->sub.endpoint) &&
	       vhost_iommu_missq_is_full(b->bs->missq);
}

/*
 * The work stops until the queue has room (vhost_iommu_bridges_room()).
 * False when it has room already. Context: the store lock held.
 */
static bool vhost_iommu_bridge_stall(struct vhost_iommu_bridge *b)
{
	if (!vhost_iommu_missq_wait(b->bs->missq))
		return false;
	b->stalled = true;
	return true;
}

/*
 * Whether the work may read a message now: not while unbinding, nor while
 * the miss queue is full (a miss that is there then waits in vhost-net).
 */
static bool vhost_iommu_bridge_may_read(struct vhost_iommu_bridge *b)
{
	bool ok;

	vhost_iommu_bridge_lock(b);
	ok = !b->dead && !vhost_iommu_bridge_must_wait(b);
	if (!b->dead && !ok && (vfs_poll(b->file, NULL) & EPOLLIN))
		ok = !vhost_iommu_bridge_stall(b);
	vhost_iommu_bridge_unlock(b);
	return ok;
}

/* What vhost_iommu_bridge_read() found. */
enum vhost_iommu_bridge_rd {
	VHOST_IOMMU_RD_MSG,
	VHOST_IOMMU_RD_NONE,	/* nothing queued, or reading failed */
	VHOST_IOMMU_RD_AGAIN,	/* interrupted by a flush: read later */
};

/*
 * Reads one message, holding no lock: vhost-net's read sleeps until the
 * next miss when its file is blocking, and the VMM can make it so (clear
 * O_NONBLOCK from one thread while another steals the queued miss between
 * our poll and our read). Such a sleep holds up only this device's
 * worker, and vhost_iommu_flush() interrupts it (vhost_iommu_read_begin()),
 * so release, reset and the other ioctls never wait on it.
 */
static enum vhost_iommu_bridge_rd
vhost_iommu_bridge_read(struct vhost_iommu_bridge *b, struct vhost_msg_v2 *msg)
{
	loff_t pos = 0;
	ssize_t ret;

	if (!(READ_ONCE(b->file->f_flags) & O_NONBLOCK)) {
		atomic64_inc(&b->bs->errors);
		return VHOST_IOMMU_RD_NONE;
	}
	if (!(vfs_poll(b->file, NULL) & EPOLLIN))
		return VHOST_IOMMU_RD_NONE;
	if (!vhost_iommu_read_begin(b->bs->worker))
		return VHOST_IOMMU_RD_AGAIN;
	ret = kernel_read(b->file, msg, sizeof(*msg), &pos);
	vhost_iommu_read_end(b->bs->worker);
	if (ret == sizeof(*msg))
		return VHOST_IOMMU_RD_MSG;
	if (ret == -ERESTARTSYS || ret == -EINTR)
		return VHOST_IOMMU_RD_AGAIN;
	if (ret != -EAGAIN)
		atomic64_inc(&b->bs->errors);
	return VHOST_IOMMU_RD_NONE;
}

/*
 * Serves one message read from the file. The lookup and the answer are
 * one step under the store lock, so UNMAP and DETACH come wholly before or
 * wholly after. A miss that finds the miss queue full (the VMM moved the
 * endpoint to a VMM-managed domain since vhost_iommu_bridge_may_read())
 * is kept in @b->held until there is room: it left vhost-net already.
 * Returns false when the work must stop.
 */
static bool vhost_iommu_bridge_serve(struct vhost_iommu_bridge *b,
				     const struct vhost_msg_v2 *msg)
{
	bool more = false;

	if ((msg->type != VHOST_IOTLB_MSG && msg->type != VHOST_IOTLB_MSG_V2) ||
	    msg->iotlb.type != VHOST_IOTLB_MISS)
		return true;
	vhost_iommu_bridge_lock(b);
	if (b->dead)
		goto out_unlock;
	if (vhost_iommu_bridge_must_wait(b) && vhost_iommu_bridge_stall(b)) {
		b->held = *msg;
		b->has_held = true;
		goto out_unlock;
	}
	atomic64_inc(&b->bs->misses);
	vhost_iommu_bridge_miss(b, msg);
	more = true;
out_unlock:
	vhost_iommu_bridge_unlock(b);
	return more;
}

/* Serves the miss kept by vhost_iommu_bridge_serve(), if any. */
static bool vhost_iommu_bridge_serve_held(struct vhost_iommu_bridge *b)
{
	struct vhost_msg_v2 msg;
	bool held;

	vhost_iommu_bridge_lock(b);
	held = b->has_held;
	msg = b->held;
	b->has_held = false;
	vhost_iommu_bridge_unlock(b);
	return !held || vhost_iommu_bridge_serve(b, &msg);
}

/*
 * Whether the vhost-net device still belongs to the owner of this device.
 * The VMM may reset it after the bind and let another process own it: our
 * translations hold the owner's addresses, and must not reach it. Asked
 * again (one round trip through vhost-net's device mutex) only after a
 * wake-up of its file, since its reset wakes it.
 * Context: the owner's mm (the worker, or an ioctl of the owner); the
 * store lock may be held.
 */
static bool vhost_iommu_bridge_owned(struct vhost_iommu_bridge *b)
{
	if (!test_bit(VHOST_IOMMU_BRIDGE_VERIFY, &b->flags))
		return true;
	clear_bit(VHOST_IOMMU_BRIDGE_VERIFY, &b->flags);
	/* vhost-net's mutex orders the clear before the question */
	if (!vhost_iommu_check_owner(b->file))
		return true;
	set_bit(VHOST_IOMMU_BRIDGE_VERIFY, &b->flags);
	atomic64_inc(&b->bs->errors);
	return false;
}

/*
 * Runs the work again later, unless the bridge is being released: its
 * release sets @dead under the store lock before it flushes the worker,
 * so a work queued here runs before that flush returns.
 */
static void vhost_iommu_bridge_requeue(struct vhost_iommu_bridge *b)
{
	vhost_iommu_bridge_lock(b);
	if (!b->dead)
		vhost_iommu_work_queue(b->bs->worker, &b->work);
	vhost_iommu_bridge_unlock(b);
}

/* The bridge's work: serves up to VHOST_IOMMU_BUDGET misses per run. */
static void vhost_iommu_bridge_work(struct vhost_iommu_work *work)
{
	struct vhost_iommu_bridge *b;
	enum vhost_iommu_bridge_rd rd;
	struct vhost_msg_v2 msg;
	unsigned int n;

	b = container_of(work, struct vhost_iommu_bridge, work);
	if (!vhost_iommu_bridge_serve_held(b))
		return;
	for (n = 0; n < VHOST_IOMMU_BUDGET; n++) {
		if (!vhost_iommu_bridge_may_read(b))
			return;
		rd = vhost_iommu_bridge_read(b, &msg);
		if (rd == VHOST_IOMMU_RD_NONE)
			return;
		if (rd == VHOST_IOMMU_RD_AGAIN)
			break;
		/* A foreign owner's misses are left unanswered. */
		if (!vhost_iommu_bridge_owned(b))
			return;
		if (!vhost_iommu_bridge_serve(b, &msg))
			return;
	}
	/* More may be queued: run again after the other works. */
	vhost_iommu_bridge_requeue(b);
}

/* The miss queue has room again: the stalled bindings go on. Worker. */
static void vhost_iommu_bridges_resume(struct vhost_iommu_work *work)
{
	struct vhost_iommu_bridges *bs;
	struct vhost_iommu_bridge *b;

	bs = container_of(work, struct vhost_iommu_bridges, resume);
	vhost_iommu_store_lock(bs->store);
	list_for_each_entry(b, &bs->list, node)
		if (b->stalled && !b->dead) {
			b->stalled = false;
			vhost_iommu_work_queue(bs->worker, &b->work);
		}
	vhost_iommu_store_unlock(bs->store);
}

/**
 * vhost_iommu_bridges_room() - the miss queue's room callback
 * @arg: the device's bindings
 *
 * Context: any (it queues a work).
 */
void vhost_iommu_bridges_room(void *arg)
{
	struct vhost_iommu_bridges *bs = arg;

	vhost_iommu_work_queue(bs->worker, &bs->resume);
}

/*
 * Wake-up of the vhost-net file: IRQs off, its wait-queue lock held. A
 * reset of the vhost-net device wakes it too (vhost_dev_cleanup()), and a
 * reset is the only way to another owner: the owner is asked again before
 * the next answer or push (vhost_iommu_bridge_owned()).
 */
static int vhost_iommu_bridge_wake(wait_queue_entry_t *wait,
				   unsigned int mode, int sync, void *key)
{
	struct vhost_iommu_bridge *b;

	b = container_of(wait, struct vhost_iommu_bridge, wait);
	if (!key || (key_to_poll(key) & EPOLLIN)) {
		set_bit(VHOST_IOMMU_BRIDGE_VERIFY, &b->flags);
		vhost_iommu_work_queue(b->bs->worker, &b->work);
	}
	return 0;
}

static void vhost_iommu_bridge_queue_proc(struct file *file,
					  wait_queue_head_t *wqh,
					  poll_table *table)
{
	struct vhost_iommu_bridge *b;

	b = container_of(table, struct vhost_iommu_bridge, table);
	b->wqh = wqh;
	add_wait_queue(wqh, &b->wait);
}

/* Makes reads of the file non-blocking; unbind restores the flag. */
static void vhost_iommu_bridge_set_nonblock(struct vhost_iommu_bridge *b,
					    bool nonblock)
{
	struct file *file = b->file;

	spin_lock(&file->f_lock);
	if (nonblock) {
		b->was_nonblock = file->f_flags & O_NONBLOCK;
		file->f_flags |= O_NONBLOCK;
	} else if (!b->was_nonblock) {
		file->f_flags &= ~O_NONBLOCK;
	}
	spin_unlock(&file->f_lock);
}

static int vhost_iommu_bound_add(struct vhost_iommu_bridge *b)
{
	struct vhost_iommu_bridge *other;
	int ret = 0;

	mutex_lock(&vhost_iommu_bound_lock);
	hash_for_each_possible(vhost_iommu_bound, other, all_node,
			       (unsigned long)b->file)
		if (other->file == b->file)
			ret = -EBUSY;
	if (!ret)
		hash_add(vhost_iommu_bound, &b->all_node, (unsigned long)b->file);
	mutex_unlock(&vhost_iommu_bound_lock);
	return ret;
}

static void vhost_iommu_bound_del(struct vhost_iommu_bridge *b)
{
	mutex_lock(&vhost_iommu_bound_lock);
	hash_del(&b->all_node);
	mutex_unlock(&vhost_iommu_bound_lock);
}

static const struct vhost_iommu_sub_ops vhost_iommu_bridge_ops;

/* Subscribes the bridge to its endpoint; it serves misses from now on. */
static int vhost_iommu_bridge_link(struct vhost_iommu_bridge *b, u32 endpoint)
{
	struct vhost_iommu_bridges *bs = b->bs;
	int ret = -ENOSPC;

	vhost_iommu_store_lock(bs->store);
	if (bs->nr < VHOST_IOMMU_MAX_BOUND)
		ret = vhost_iommu_store_subscribe(bs->store, endpoint, &b->sub);
	if (!ret) {
		list_add_tail(&b->node, &bs->list);
		WRITE_ONCE(bs->nr, bs->nr + 1);
	}
	vhost_iommu_store_unlock(bs->store);
	return ret;
}

static struct vhost_iommu_bridge *
vhost_iommu_bridge_alloc(struct vhost_iommu_bridges *bs, struct file *file)
{
	struct vhost_iommu_bridge *b;

	b = kzalloc(sizeof(*b), VHOST_IOMMU_GFP);
	if (!b)
		return NULL;
	b->bs = bs;
	b->sub.ops = &vhost_iommu_bridge_ops;
	b->file = file;
	b->handed = RB_ROOT_CACHED;
	init_waitqueue_func_entry(&b->wait, vhost_iommu_bridge_wake);
	init_poll_funcptr(&b->table, vhost_iommu_bridge_queue_proc);
	vhost_iommu_work_init(&b->work, vhost_iommu_bridge_work);
	return b;
}

static struct file *vhost_iommu_device_fget(int fd)
{
	struct file *file = fget(fd);
	int ret;

	if (!file)
		return ERR_PTR(-EBADF);
	ret = -EINVAL;
	if (!vhost_iommu_is_iotlb_device(file))
		goto err_put;
	/* kernel_read() and kernel_write() need both. */
	ret = -EBADF;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		goto err_put;
	/* We ask vhost-net on the caller's behalf: the LSM may refuse. */
	ret = security_file_ioctl(file, VHOST_GET_VRING_BASE, ~0UL);
	if (ret)
		goto err_put;
	ret = vhost_iommu_check_owner(file);
	if (ret)
		goto err_put;
	return file;

err_put:
	fput(file);
	return ERR_PTR(ret);
}

/**
 * vhost_iommu_bind() - VHOST_IOMMU_BIND_DEVICE
 * @bs: the device's bindings
 * @endpoint: endpoint id
 * @fd: a vhost-net or vhost-vsock file descriptor of the caller
 *
 * Context: the device mutex held, the owner's process, worker running.
 * Return: 0 or a negative errno, as documented in the uapi header.
 */
int vhost_iommu_bind(struct vhost_iommu_bridges *bs, u32 endpoint, int fd)
{
	struct vhost_iommu_bridge *b;
	struct file *file;
	__poll_t mask;
	int ret;

	file = vhost_iommu_device_fget(fd);
	if (IS_ERR(file))
		return PTR_ERR(file);
	ret = -ENOMEM;
	b = vhost_iommu_bridge_alloc(bs, file);
	if (!b)
		goto err_fput;
	ret = vhost_iommu_bound_add(b);
	if (ret)
		goto err_free;
	/*
	 * What vhost-net holds already (the VMM may have answered misses
	 * before the bind) would escape every UNMAP: it all goes before we
	 * serve anything.
	 */
	vhost_iommu_bridge_forget_all(b);
	ret = vhost_iommu_bridge_link(b, endpoint);
	if (ret)
		goto err_bound_del;

	vhost_iommu_bridge_set_nonblock(b, true);
	mask = vfs_poll(file, &b->table);
	/* Misses queued before the hook raised no wake-up. */
	if (mask & EPOLLIN)
		vhost_iommu_work_queue(bs->worker, &b->work);
	return 0;

err_bound_del:
	vhost_iommu_bound_del(b);
err_free:
	kfree(b);
err_fput:
	fput(file);
	return ret;
}

/* Unhooks, forgets and releases a bridge. Context: as vhost_iommu_bind(). */
static void vhost_iommu_bridge_release(struct vhost_iommu_bridge *b)
{
	struct vhost_iommu_bridges *bs = b->bs;

	if (b->wqh)
		remove_wait_queue(b->wqh, &b->wait);
	vhost_iommu_store_lock(bs->store);
	b->dead = true;
	vhost_iommu_store_unsubscribe(bs->store, &b->sub);
	list_del(&b->node);
	WRITE_ONCE(bs->nr, bs->nr - 1);
	/* What vhost-net keeps would escape every later UNMAP. */
	vhost_iommu_bridge_drop(b, 0, U64_MAX);
	vhost_iommu_store_unlock(bs->store);
	/* The work may be running or queued: it does nothing once dead. */
	vhost_iommu_flush(bs->worker);
	vhost_iommu_bridge_set_nonblock(b, false);
	vhost_iommu_bound_del(b);
	fput(b->file);
	kfree(b);
}

/**
 * vhost_iommu_unbind() - VHOST_IOMMU_UNBIND_DEVICE
 * @bs: the device's bindings
 * @endpoint: endpoint id
 * @fd: the vhost file descriptor that was bound
 *
 * Context: as vhost_iommu_bind().
 * Return: 0, -EBADF or -ENOENT.
 */
int vhost_iommu_unbind(struct vhost_iommu_bridges *bs, u32 endpoint, int fd)
{
	struct vhost_iommu_bridge *b;
	struct file *file = fget(fd);

	if (!file)
		return -EBADF;
	/* The list changes only under the device mutex, which we hold. */
	list_for_each_entry(b, &bs->list, node) {
		if (b->file == file && b->sub.endpoint == endpoint) {
			vhost_iommu_bridge_release(b);
			fput(file);
			return 0;
		}
	}
	fput(file);
	return -ENOENT;
}

/**
 * vhost_iommu_unbind_endpoint() - unbind every vhost-net device of an endpoint
 * @bs: the device's bindings
 * @endpoint: endpoint id
 *
 * Context: as vhost_iommu_bind().
 */
void vhost_iommu_unbind_endpoint(struct vhost_iommu_bridges *bs, u32 endpoint)
{
	struct vhost_iommu_bridge *b, *next;

	list_for_each_entry_safe(b, next, &bs->list, node)
		if (b->sub.endpoint == endpoint)
			vhost_iommu_bridge_release(b);
}

/**
 * vhost_iommu_unbind_all() - unbind every vhost-net device
 * @bs: the device's bindings
 *
 * Context: the device mutex held, before the worker stops.
 */
void vhost_iommu_unbind_all(struct vhost_iommu_bridges *bs)
{
	struct vhost_iommu_bridge *b, *next;

	list_for_each_entry_safe(b, next, &bs->list, node)
		vhost_iommu_bridge_release(b);
}

/*
 * Everything the vhost-net device was handed came from the old state of
 * its endpoint, or from the old memory table.
 */
static void vhost_iommu_bridge_invalidate_all(struct vhost_iommu_sub *sub)
{
	struct vhost_iommu_bridge *b;

	b = container_of(sub, struct vhost_iommu_bridge, sub);
	vhost_iommu_bridge_drop(b, 0, U64_MAX);
	cond_resched();
}

/* Returns once the vhost-net device dropped what it had of the range. */
static void vhost_iommu_bridge_unmapped(struct vhost_iommu_sub *sub,
					u64 first, u64 last)
{
	struct vhost_iommu_bridge *b;

	b = container_of(sub, struct vhost_iommu_bridge, sub);
	vhost_iommu_bridge_drop(b, first, last);
	cond_resched();
}

/* Hands @map out: one UPDATE per memory region, up to the first hole. */
static void vhost_iommu_bridge_hand_all(struct vhost_iommu_bridge *b,
					const struct vhost_iommu_xlate *map)
{
	u64 glast = map->phys + (map->last - map->iova);
	struct vhost_memory_region r;
	u64 gpa;

	for (gpa = map->phys; gpa <= glast; gpa += r.memory_size) {
		if (!vhost_iommu_mem_lookup(b->bs->mem, gpa, &r))
			return;
		vhost_iommu_bridge_hand_map(b, VHOST_IOTLB_MSG_V2, map, &r);
		gpa = r.guest_phys_addr;
		if (gpa + r.memory_size < gpa)
			return;
	}
}

/*
 * Whether @map answers misses left blocked by a fault: vhost-net keeps
 * such a queue stalled until an UPDATE covers the miss. Forgets them.
 */
static bool vhost_iommu_bridge_unblocks(struct vhost_iommu_bridge *b,
					const struct vhost_iommu_xlate *map)
{
	unsigned int i, kept = 0;
	bool hit = false;

	for (i = 0; i < b->nr_blocked; i++) {
		if (b->blocked[i].iova >= map->iova &&
		    b->blocked[i].iova <= map->last) {
			hit = true;
			continue;
		}
		b->blocked[kept++] = b->blocked[i];
	}
	b->nr_blocked = kept;
	return hit;
}

/*
 * Whether @b is handed @map when it is created: pushed, answering misses
 * it left blocked (which it forgets), or replacing a denial. Anything
 * handed out in a range that was unmapped is a denial, which would win
 * over the mapping in vhost-net's IOTLB.
 */
static bool vhost_iommu_bridge_wants(struct vhost_iommu_bridge *b,
				     const struct vhost_iommu_xlate *map,
				     bool push)
{
	if (vhost_iommu_bridge_unblocks(b, map))
		return true;
	return push || vhost_iommu_handed_tree_iter_first(&b->handed,
							  map->iova,
							  map->last);
}

/*
 * A mapping was created in the endpoint's domain. With push_on_map or
 * @push (the VMM's UPDATE), hands it to the vhost-net device without
 * waiting for its misses; else only if it answers a miss that faulted
 * before, or replaces a denial.
 */
static void vhost_iommu_bridge_mapped(struct vhost_iommu_sub *sub,
				      const struct vhost_iommu_xlate *map,
				      bool push)
{
	struct vhost_iommu_bridge *b;

	b = container_of(sub, struct vhost_iommu_bridge, sub);
	push = push || READ_ONCE(vhost_iommu_push_on_map);
	if (!vhost_iommu_bridge_wants(b, map, push))
		return;
	if (!vhost_iommu_bridge_owned(b))
		return;
	/* A denial (vhost_iommu_bridge_deny()) would win. */
	vhost_iommu_bridge_drop(b, map->iova, map->last);
	vhost_iommu_bridge_hand_all(b, map);
	cond_resched();
}

static const struct vhost_iommu_sub_ops vhost_iommu_bridge_ops = {
	.invalidate_all = vhost_iommu_bridge_invalidate_all,
	.unmapped = vhost_iommu_bridge_unmapped,
	.mapped = vhost_iommu_bridge_mapped,
};

void vhost_iommu_bridges_init(struct vhost_iommu_bridges *bs,
			      struct vhost_iommu_store *store,
			      struct vhost_iommu_mem *mem,
			      struct vhost_iommu_worker *worker,
			      struct vhost_iommu_missq *missq,
			      struct vhost_iommu_events *events)
{
	bs->store = store;
	bs->mem = mem;
	bs->worker = worker;
	bs->missq = missq;
	bs->events = events;
	INIT_LIST_HEAD(&bs->list);
	vhost_iommu_work_init(&bs->resume, vhost_iommu_bridges_resume);
}
