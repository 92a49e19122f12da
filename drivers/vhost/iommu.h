/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu internal definitions.
 *
 * Files:
 *   iommu_main.c     /dev/vhost-iommu: owner, worker, ioctl dispatch
 *   iommu_ring.c     the virtqueue engine: split rings, chains, used ring
 *   iommu_request.c  the request parser: wire format to domain store calls
 *   iommu_domain.c   the domain store: endpoints, domains, mappings
 *   iommu_ioctl.c    the device ioctls of <linux/vhost_iommu.h>
 *   iommu_event.c    the event queue: fault reports
 *   iommu_bridge.c   the vhost-net bridge: bound vhost-net devices' IOTLB
 *   iommu_iotlb.c    the device IOTLB of VMM-managed domains, miss queue
 *
 * Lock order, outermost first:
 *   vhost_iommu.mutex            (device: owner, features, memory, vq setup)
 *   vhost_iommu_vq.mutex         (request queue before event queue)
 *   vhost_iommu.domain_lock      (the domain store, the bridges' state)
 *   vhost-net's device and vq mutexes (taken inside kernel_write() of an
 *                                IOTLB message to a bound vhost-net file)
 *   vhost_iommu_domain.tree_lock, vhost_iommu.fault_lock, xarray locks
 *                                (spinlocks, innermost; none inside another)
 * The worker never takes vhost_iommu.mutex, so ioctls may flush it while
 * holding that mutex, but never while holding a vq mutex or domain_lock.
 * vhost-net calls back into this module only through the wake-up of its
 * file's wait queue, which takes no lock of ours.
 */
#ifndef _DRIVERS_VHOST_IOMMU_H
#define _DRIVERS_VHOST_IOMMU_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/eventfd.h>
#include <linux/kfifo.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rbtree_types.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/vhost_iommu.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "iommu_compat.h"

/* Features this device offers: transport bits, then virtio-iommu bits. */
#define VHOST_IOMMU_FEATURES					\
	(BIT_ULL(VIRTIO_F_VERSION_1) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_PROBE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MMIO) |				\
	 BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG))

/*
 * Every allocation the guest or the VMM causes: charged to the VMM's
 * memcg (the worker runs with it active), and failing at the limit
 * instead of invoking the OOM killer (__GFP_RETRY_MAYFAIL), quietly: the
 * guest gets VIRTIO_IOMMU_S_NOMEM, the VMM ENOMEM.
 */
#define VHOST_IOMMU_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Requests executed per worker wake-up before the queue yields. */
#define VHOST_IOMMU_BUDGET		64
/*
 * Descriptors walked per worker wake-up of a queue before it yields: a
 * chain may hold up to twice the queue size (an indirect table as long as
 * the queue), so VHOST_IOMMU_BUDGET chains alone would not bound the walk.
 * A run ends after the chain that reaches it.
 */
#define VHOST_IOMMU_DESC_BUDGET		4096
/* Guest-memory segments one request chain may have. */
#define VHOST_IOMMU_MAX_SEGS		1024
/* vhost_iommu_vq_next() outcomes besides 0 and -EIO */
#define VQ_EMPTY		1	/* nothing available */
#define VQ_MALFORMED		2	/* return the chain unwritten */

/* Largest device IOTLB miss queue (module parameter iotlb_queue_len) */
#define VHOST_IOMMU_MISS_QUEUE_MAX	256

/* Fault reports waiting for the worker. */
#define VHOST_IOMMU_FAULT_FIFO		64
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
/* vhost-net devices bound to one vhost-iommu device */
#define VHOST_IOMMU_MAX_BOUND		1024

extern unsigned int vhost_iommu_max_domains;
extern unsigned int vhost_iommu_max_endpoints;
extern unsigned int vhost_iommu_max_mappings;
extern unsigned int vhost_iommu_max_mem_regions;
extern bool vhost_iommu_push_on_map;
extern unsigned int vhost_iommu_iotlb_queue_len;
extern struct workqueue_struct *vhost_iommu_wq;

struct vhost_iommu;
struct vhost_iommu_work;

typedef void (*vhost_iommu_work_fn_t)(struct vhost_iommu_work *work);

/**
 * struct vhost_iommu_work - a unit of work for the device's worker
 * @node: link in vhost_iommu.work_list
 * @queued: bit 0 set while the work is on the list
 * @fn: what to run, in the worker, with the owner's mm
 */
struct vhost_iommu_work {
	struct llist_node node;
	unsigned long queued;
	vhost_iommu_work_fn_t fn;
};

/**
 * struct vhost_iommu_poll - wakes a work when an eventfd is signalled
 * @table: poll table used to register @wait
 * @wqh: the eventfd's wait queue, NULL when not polling
 * @wait: our entry on @wqh
 * @work: queued on every EPOLLIN
 * @vi: the device
 */
struct vhost_iommu_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct vhost_iommu_work work;
	struct vhost_iommu *vi;
};

/**
 * struct vhost_iommu_mem - the guest memory table, immutable once published
 * @rcu: frees the table after readers are done
 * @nregions: number of regions
 * @regions: sorted by guest_phys_addr, non-overlapping
 */
struct vhost_iommu_mem {
	struct rcu_head rcu;
	u32 nregions;
	struct vhost_memory_region regions[];
};

/**
 * struct vhost_iommu_seg - a piece of a request chain in the owner's memory
 * @addr: user address
 * @len: length in bytes
 */
struct vhost_iommu_seg {
	void __user *addr;
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

/**
 * struct vhost_iommu_vq - one virtqueue
 * @mutex: protects every field below but @vi and @index
 * @vi: the device
 * @index: VHOST_IOMMU_VQ_REQUEST or VHOST_IOMMU_VQ_EVENT
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
 * @running: the queue runs (size, addresses and kick set)
 * @broken: a ring error stopped the queue until it is set up again
 * @kick: the kick eventfd, polled through @poll
 * @call: the call eventfd (interrupt), may be NULL
 * @err: the error eventfd, may be NULL
 * @poll: wakes the worker on kicks
 * @segs: scratch segments for the chain being executed
 */
struct vhost_iommu_vq {
	struct mutex mutex; /* the queue's state, see @mutex above */
	struct vhost_iommu *vi;
	unsigned int index;
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
	bool running;
	bool broken;
	struct file *kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct vhost_iommu_poll poll;
	struct vhost_iommu_seg *segs;
};

/**
 * struct vhost_iommu_resv - a reserved region of an endpoint
 * @start: first address
 * @end: last address (inclusive)
 * @subtype: VIRTIO_IOMMU_RESV_MEM_T_*
 */
struct vhost_iommu_resv {
	u64 start;
	u64 end;
	u8 subtype;
};

struct vhost_iommu_domain;

/**
 * struct vhost_iommu_ep - an endpoint behind the IOMMU
 * @id: the endpoint id
 * @domain: the domain it is attached to, or NULL. Written under
 *	vhost_iommu.domain_lock; read under RCU by the translation path.
 * @bridges: the vhost-net devices bound to it (struct
 *	vhost_iommu_bridge.ep_node); protected by vhost_iommu.domain_lock
 * @nr_resv: number of reserved regions
 * @rcu: frees the endpoint after RCU readers
 * @resv: reserved regions, immutable
 */
struct vhost_iommu_ep {
	u32 id;
	struct vhost_iommu_domain __rcu *domain;
	struct list_head bridges;
	u32 nr_resv;
	struct rcu_head rcu;
	struct vhost_iommu_resv resv[];
};

/**
 * struct vhost_iommu_domain - an address space
 * @id: the domain id
 * @bypass: created with VIRTIO_IOMMU_ATTACH_F_BYPASS
 * @vmm: VMM-managed: created and filled through the device IOTLB ioctls
 * @nr_endpoints: endpoints attached; the domain dies at zero
 * @endpoints: id -> struct vhost_iommu_ep of the attached endpoints
 * @tree_lock: protects @mappings together with vhost_iommu.domain_lock:
 *	a change holds both, a lookup either one
 * @mappings: interval tree of struct vhost_iommu_mapping, which never
 *	overlap
 * @nr_mappings: entries in @mappings
 * @free_work: frees the domain once RCU readers are done
 *
 * Everything else is written under vhost_iommu.domain_lock. The
 * translation path finds the domain under RCU, reads @bypass, and looks up
 * @mappings under @tree_lock. The tree allocates nothing: its nodes are
 * the mappings themselves, charged to the VMM.
 */
struct vhost_iommu_domain {
	u32 id;
	bool bypass;
	bool vmm;
	u32 nr_endpoints;
	struct xarray endpoints;
	spinlock_t tree_lock; /* @mappings, with domain_lock */
	struct rb_root_cached mappings;
	unsigned long nr_mappings;
	struct rcu_work free_work;
};

/**
 * struct vhost_iommu_mapping - what one MAP request created, immutable
 * @rb: node in vhost_iommu_domain.mappings
 * @iova: first IOVA
 * @last: last IOVA (inclusive)
 * @subtree_last: the largest @last below @rb (interval tree)
 * @phys: guest-physical address of @iova
 * @flags: VIRTIO_IOMMU_MAP_F_*
 *
 * Freed at once when it leaves the tree: every reader holds a lock that
 * the removal holds too. 60 bytes, in a 64-byte slab.
 */
struct vhost_iommu_mapping {
	struct rb_node rb;
	u64 iova;
	u64 last;
	u64 subtree_last;
	u64 phys;
	u32 flags;
};

/**
 * struct vhost_iommu_stats_k - counters behind VHOST_IOMMU_GET_STATS
 * @requests: by request type, 0 for unknown types
 * @status: by status code
 * @malformed: chains returned unwritten
 * @ring_errors: virtqueue errors
 * @faults: fault reports posted
 * @faults_dropped: fault reports dropped
 * @iotlb_misses: IOTLB misses read from bound vhost-net devices
 * @iotlb_served: misses answered
 * @iotlb_updates: translations handed out
 * @iotlb_invalidations: invalidations written
 * @iotlb_errors: failed reads and writes of bound vhost-net files
 * @iotlb_queued: miss records queued for the VMM
 * @iotlb_coalesced: misses merged into a pending record
 * @iotlb_queue_full: times the miss queue filled
 */
struct vhost_iommu_stats_k {
	atomic64_t requests[8];
	atomic64_t status[16];
	atomic64_t malformed;
	atomic64_t ring_errors;
	atomic64_t faults;
	atomic64_t faults_dropped;
	atomic64_t iotlb_misses;
	atomic64_t iotlb_served;
	atomic64_t iotlb_updates;
	atomic64_t iotlb_invalidations;
	atomic64_t iotlb_errors;
	atomic64_t iotlb_queued;
	atomic64_t iotlb_coalesced;
	atomic64_t iotlb_queue_full;
};

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
 * @vi: the device
 * @endpoint: the endpoint id, immutable
 * @file: the vhost-net file, held until unbind
 * @was_nonblock: O_NONBLOCK was set on @file before the bind
 * @ep_node: in vhost_iommu_ep.bridges; protected by vhost_iommu.domain_lock
 * @dev_node: in vhost_iommu.bridges; protected by vhost_iommu.mutex
 * @all_node: in the module's hash of bound files; protected by its mutex
 * @flags: VHOST_IOMMU_BRIDGE_VERIFY: ask vhost-net who owns it before
 *	handing anything out (atomic bit operations)
 * @dead: unbinding: hand nothing out, do not requeue; protected by
 *	vhost_iommu.domain_lock
 * @stalled: waits for room in the miss queue; protected by
 *	vhost_iommu.domain_lock, as are @held and @has_held
 * @held: a miss read from @file that waits for room in the miss queue
 * @has_held: @held is meaningful
 * @blocked: IOVAs of misses left unanswered (faults), most recent last;
 *	a MAP that covers one answers it. A miss that cannot join them is
 *	answered with a denial. Protected by domain_lock, as is @nr_blocked
 * @nr_blocked: entries in @blocked
 * @handed: interval tree of the ranges written to @file as UPDATEs and
 *	not invalidated since (a superset of what vhost-net holds);
 *	protected by vhost_iommu.domain_lock, as is @nr_handed
 * @nr_handed: nodes in @handed, at most VHOST_IOMMU_MAX_HANDED
 * @table: poll table used to hook @wait on the file's wait queue
 * @wqh: the file's wait queue, NULL until hooked
 * @wait: our entry on @wqh
 * @work: reads and serves the misses, in the worker
 */
struct vhost_iommu_bridge {
	struct vhost_iommu *vi;
	u32 endpoint;
	struct file *file;
	bool was_nonblock;
	struct list_head ep_node;
	struct list_head dev_node;
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

/**
 * struct vhost_iommu - one virtio-iommu device, one per open file
 * @mutex: the device mutex, see the lock order above
 * @refs: the file and the teardown work; the last one frees the device
 * @teardown: what release does, from the workqueue (see
 *	vhost_iommu_release())
 * @torn_down: completed by @teardown
 * @mm: the owner's mm; protected by @mutex
 * @memcg: the owner's memory cgroup, charged for the worker's allocations;
 *	protected by @mutex
 * @worker: the worker thread, NULL without owner; protected by @mutex
 * @work_list: works queued for @worker (lock-free)
 * @read_lock: protects @reading and @flushing
 * @reading: the worker reads a bound vhost-net file
 * @flushing: vhost_iommu_flush() waits: the worker must not start a read
 * @features: acked features; written under @mutex and every vq mutex
 * @mem: the memory table; written under @mutex, read under RCU
 * @vqs: the request and event queues
 * @domain_lock: protects the domain store: @config, @domains,
 *	@endpoints, the three counters, and every domain
 * @config: the configuration space (bypass is also read locklessly)
 * @domains: domain id -> struct vhost_iommu_domain
 * @endpoints: endpoint id -> struct vhost_iommu_ep
 * @nr_domains: live domains
 * @nr_endpoints: declared endpoints
 * @nr_mappings: live mappings in all domains
 * @nr_bound: vhost-net devices bound (domain_lock)
 * @bridges: the bound vhost-net devices; protected by @mutex
 * @missq: device IOTLB misses for the VMM, a ring; protected by
 *	@domain_lock, as are the three fields below
 * @miss_head: index of the oldest record in @missq
 * @miss_count: records in @missq
 * @miss_reading: the oldest records being copied out by read(), which
 *	must not change
 * @miss_full: the queue filled since the last read
 * @miss_notify: eventfd signalled when a record is queued, or NULL;
 *	protected by @domain_lock
 * @fault_lock: protects @faults
 * @faults: fault reports for the worker to post
 * @event_work: posts @faults on the event queue
 * @stats: counters
 */
struct vhost_iommu {
	struct mutex mutex; /* the device, see the lock order */
	refcount_t refs;
	struct work_struct teardown;
	struct completion torn_down;
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	struct task_struct *worker;
	struct llist_head work_list;
	spinlock_t read_lock; /* @reading, @flushing */
	bool reading;
	bool flushing;
	u64 features;
	struct vhost_iommu_mem __rcu *mem;
	struct vhost_iommu_vq vqs[VHOST_IOMMU_VQ_MAX];

	struct mutex domain_lock; /* the domain store */
	struct vhost_iommu_config config;
	struct xarray domains;
	struct xarray endpoints;
	unsigned int nr_domains;
	unsigned int nr_endpoints;
	unsigned long nr_mappings;
	unsigned int nr_bound;
	struct list_head bridges;
	struct vhost_iommu_iotlb_miss missq[VHOST_IOMMU_MISS_QUEUE_MAX];
	unsigned int miss_head;
	unsigned int miss_count;
	unsigned int miss_reading;
	bool miss_full;
	struct eventfd_ctx *miss_notify;

	spinlock_t fault_lock; /* @faults */
	DECLARE_KFIFO(faults, struct virtio_iommu_fault, VHOST_IOMMU_FAULT_FIFO);
	struct vhost_iommu_work event_work;

	struct vhost_iommu_stats_k stats;
};

/* The smallest page size. Context: vhost_iommu.domain_lock held. */
static inline u64 vhost_iommu_granule(struct vhost_iommu *vi)
{
	return vi->config.page_size_mask & -vi->config.page_size_mask;
}

static inline bool vhost_iommu_has_feature(struct vhost_iommu *vi, int bit)
{
	return READ_ONCE(vi->features) & BIT_ULL(bit);
}

/* iommu_main.c */
void vhost_iommu_work_queue(struct vhost_iommu *vi,
			    struct vhost_iommu_work *work);
void vhost_iommu_work_init(struct vhost_iommu_work *work,
			   vhost_iommu_work_fn_t fn);
void vhost_iommu_flush(struct vhost_iommu *vi);
bool vhost_iommu_read_begin(struct vhost_iommu *vi);
void vhost_iommu_read_end(struct vhost_iommu *vi);

/* iommu_ring.c */
void vhost_iommu_vq_init(struct vhost_iommu *vi, unsigned int index,
			 vhost_iommu_work_fn_t fn);
long vhost_iommu_vring_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
			     void __user *argp);
void vhost_iommu_vq_stop(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_reset(struct vhost_iommu_vq *vq);
int vhost_iommu_vq_next(struct vhost_iommu_vq *vq,
			struct vhost_iommu_chain *chain);
int vhost_iommu_chain_read(struct vhost_iommu_vq *vq,
			   const struct vhost_iommu_chain *chain,
			   void *buf, u32 len);
int vhost_iommu_chain_write(struct vhost_iommu_vq *vq,
			    const struct vhost_iommu_chain *chain,
			    u32 offset, const void *buf, u32 len);
int vhost_iommu_vq_add_used(struct vhost_iommu_vq *vq, u16 head, u32 len);
void vhost_iommu_vq_flush_used(struct vhost_iommu_vq *vq);
void vhost_iommu_vq_error(struct vhost_iommu_vq *vq);
long vhost_iommu_set_mem_table(struct vhost_iommu *vi,
			       struct vhost_memory __user *m);
void vhost_iommu_vqs_lock(struct vhost_iommu *vi);
void vhost_iommu_vqs_unlock(struct vhost_iommu *vi);
void vhost_iommu_mem_free(struct vhost_iommu *vi);
bool vhost_iommu_mem_lookup(struct vhost_iommu *vi, u64 gpa,
			    struct vhost_memory_region *region);

/* iommu_request.c */
void vhost_iommu_handle_requests(struct vhost_iommu_work *work);

/* iommu_domain.c */
void vhost_iommu_domains_init(struct vhost_iommu *vi);
void vhost_iommu_domains_reset(struct vhost_iommu *vi);
void vhost_iommu_domains_destroy(struct vhost_iommu *vi);
u8 vhost_iommu_attach(struct vhost_iommu *vi, u32 domain, u32 endpoint,
		      u32 flags);
u8 vhost_iommu_detach(struct vhost_iommu *vi, u32 domain, u32 endpoint);
u8 vhost_iommu_map(struct vhost_iommu *vi, u32 domain, u64 start, u64 end,
		   u64 phys, u32 flags);
u8 vhost_iommu_unmap(struct vhost_iommu *vi, u32 domain, u64 start, u64 end);
u8 vhost_iommu_probe(struct vhost_iommu *vi, u32 endpoint,
		     struct virtio_iommu_probe_resv_mem *props, u32 *nr,
		     u32 *size);
int vhost_iommu_translate(struct vhost_iommu *vi,
			  struct vhost_iommu_translate *t);
int vhost_iommu_set_config(struct vhost_iommu *vi,
			   const struct vhost_iommu_config *cfg);
void vhost_iommu_get_config(struct vhost_iommu *vi,
			    struct vhost_iommu_config *cfg);
int vhost_iommu_endpoint_add(struct vhost_iommu *vi,
			     struct vhost_iommu_ep *ep);
int vhost_iommu_endpoint_del(struct vhost_iommu *vi, u32 id);
int vhost_iommu_vmm_attach(struct vhost_iommu *vi, u32 domain, u32 endpoint,
			   bool detach);
struct vhost_iommu_mapping *
vhost_iommu_mapping_insert(struct vhost_iommu *vi,
			   struct vhost_iommu_domain *dom, u64 start, u64 end,
			   u64 phys, u32 flags);
void vhost_iommu_mappings_remove(struct vhost_iommu *vi,
				 struct vhost_iommu_domain *dom,
				 u64 start, u64 end);
struct vhost_iommu_mapping *
vhost_iommu_mapping_first(struct vhost_iommu_domain *dom, u64 first, u64 last);
void vhost_iommu_fill_stats(struct vhost_iommu *vi,
			    struct vhost_iommu_stats *st);

/* The VHOST_IOMMU_* ioctls: one block of numbers, no size encoded. */
static inline bool vhost_iommu_device_ioctl_nr(unsigned int ioctl)
{
	return ioctl >= VHOST_IOMMU_GET_CONFIG &&
	       ioctl <= VHOST_IOMMU_IOTLB_SET_NOTIFY;
}

/* iommu_ioctl.c */
long vhost_iommu_device_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
			      void __user *argp);
int vhost_iommu_arg_in(void *dst, size_t ksize, size_t minsz,
		       void __user *argp, u32 *usize);
long vhost_iommu_ioctl_stats(struct vhost_iommu *vi, void __user *argp);
long vhost_iommu_ioctl_translate(struct vhost_iommu *vi, void __user *argp,
				 bool locked);

/* iommu_event.c */
void vhost_iommu_report_fault(struct vhost_iommu *vi, u8 reason, u32 flags,
			      u32 endpoint, u64 address);
void vhost_iommu_handle_events(struct vhost_iommu_work *work);

/* iommu_bridge.c */
int vhost_iommu_bind(struct vhost_iommu *vi, u32 endpoint, int fd);
int vhost_iommu_unbind(struct vhost_iommu *vi, u32 endpoint, int fd);
void vhost_iommu_unbind_endpoint(struct vhost_iommu *vi, u32 endpoint);
void vhost_iommu_unbind_all(struct vhost_iommu *vi);
void vhost_iommu_bridge_mem_changed(struct vhost_iommu *vi);
void vhost_iommu_bridge_ep_changed(struct vhost_iommu *vi,
				   struct vhost_iommu_ep *ep);
void vhost_iommu_bridge_unmapped(struct vhost_iommu *vi,
				 struct vhost_iommu_domain *dom,
				 u64 start, u64 end);
void vhost_iommu_bridge_mapped(struct vhost_iommu *vi,
			       struct vhost_iommu_domain *dom,
			       const struct vhost_iommu_mapping *map, bool push);
void vhost_iommu_bridge_resume(struct vhost_iommu *vi);

/* iommu_iotlb.c */
bool vhost_iommu_iotlb_must_wait(struct vhost_iommu *vi,
				 struct vhost_iommu_domain *dom);
void vhost_iommu_iotlb_note_full(struct vhost_iommu *vi);
void vhost_iommu_iotlb_queue_miss(struct vhost_iommu *vi,
				  struct vhost_iommu_domain *dom,
				  u32 endpoint, u64 iova, u32 access);
long vhost_iommu_iotlb_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
			     void __user *argp);
ssize_t vhost_iommu_iotlb_read(struct vhost_iommu *vi, char __user *buf,
			       size_t count);
void vhost_iommu_iotlb_reset(struct vhost_iommu *vi);

#endif /* _DRIVERS_VHOST_IOMMU_H */
