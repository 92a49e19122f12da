/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A guest with a virtio-iommu device on /dev/vhost-iommu (vmm.c) and a
 * virtio-net device behind it on the stock /dev/vhost-net (vnet.c), with
 * VIRTIO_F_ACCESS_PLATFORM: vhost-net's IOTLB misses are served by
 * vhost-iommu in the kernel (VHOST_IOMMU_BIND_NET), not by a relay.
 *
 * Guest-physical memory: the test VMM's 16 MiB at 0, then the window of
 * every net device (VNET_MEM_SIZE each, adjacent, from VNET_GPA_BASE). The
 * memory table of vhost-iommu holds them all (vmm_opts.extra), so that it
 * translates IOVA -> GPA -> HVA for every window; vhost-net's own memory
 * table holds its window only.
 *
 * vguest_init():
 *	1. every net device: guest memory, open, SET_OWNER, IOTLB_MSG_V2,
 *	   ACCESS_PLATFORM, memory table, tap (vnet_init()); its IOVA table
 *	   filled according to vguest_opts.mode (empty in VNET_IOVA_MANUAL);
 *	2. vhost-iommu: vmm_init() with the windows as extra regions, and
 *	   VGUEST_EVENTS fault buffers posted on the event queue;
 *	3. ADD_ENDPOINT of the endpoint of every net device; ATTACH to
 *	   g->domain, VGUEST_DOMAIN (or with ATTACH_F_BYPASS, or not at all:
 *	   .attach);
 *	4. with a plain ATTACH, one MAP request per entry of every IOVA table
 *	   (not in VNET_IOVA_MANUAL: the caller maps with vguest_map()).
 * vguest_start(): the rings of every net device (their IOVAs taken from
 * the table, so map them first), VHOST_IOMMU_BIND_NET of every vhost-net
 * fd, then VHOST_NET_SET_BACKEND of both queues (its first access, the
 * used ring, is a miss served by the kernel).
 *
 * Functions return 0 (or a non-negative value) on success and a negative
 * errno on failure, with what failed in vt_errmsg; the request helpers
 * return a positive VIRTIO_IOMMU_S_* status when the device refused.
 */
#ifndef VHOST_IOMMU_SELFTEST_VGUEST_H
#define VHOST_IOMMU_SELFTEST_VGUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm.h"
#include "vnet.h"

#define VGUEST_MAX_NET		4
#define VGUEST_EP		8	/* endpoint id of the net device */
#define VGUEST_DOMAIN		1
#define VGUEST_VMM_DOMAIN	70	/* of VGUEST_ATTACH_VMM */
#define VGUEST_EVENTS		64	/* fault buffers kept posted */
/* GPA of the window of net device @i */
#define VGUEST_NET_GPA(i)	(VNET_GPA_BASE + (uint64_t)(i) * VNET_MEM_SIZE)
/* desc, avail and used of one queue, from vnet's VNET_RING_OFF(q) */
#define VGUEST_RING_SIZE	(3 * VNET_PAGE)
#define VGUEST_RW		(VIRTIO_IOMMU_MAP_F_READ | \
				 VIRTIO_IOMMU_MAP_F_WRITE)
/* A hang guard for waits on the kernel, never a measurement */
#define VGUEST_TIMEOUT_MS	60000

enum vguest_attach {
	VGUEST_ATTACH,		/* ATTACH to VGUEST_DOMAIN, MAP the tables */
	VGUEST_ATTACH_BYPASS,	/* ATTACH with ATTACH_F_BYPASS, no MAP */
	VGUEST_NO_ATTACH,	/* declared with ADD_ENDPOINT only */
	VGUEST_ATTACH_VMM,	/* VHOST_IOMMU_IOTLB_ATTACH to the VMM-managed
				 * VGUEST_VMM_DOMAIN, miss eventfd set, no MAP
				 */
};

struct vguest_opts {
	unsigned int nnet;	/* net devices (vhost-net fds), 0: 1 */
	bool ep_per_net;	/* net i behind endpoint VGUEST_EP + i, else
				 * all behind VGUEST_EP (queue pairs of one
				 * device)
				 */
	enum vnet_iova_mode mode;	/* IOVA table of every net device */
	enum vguest_attach attach;
	uint32_t map_flags;	/* MAP flags of the tables, 0: VGUEST_RW */
	unsigned int num;	/* vhost-net ring size, 0: VNET_NUM */
	bool iotlb_v1;		/* vhost-net without IOTLB_MSG_V2 */
	enum vnet_worker worker;	/* vhost-net's worker (vnet.h) */
	bool no_bind;		/* vguest_start() does not bind */
	bool no_backend;	/* vguest_start() stops before SET_BACKEND */
	struct vmm_opts vmm;	/* vhost-iommu (extra regions are added) */
};

/* The VMM's miss server of VGUEST_ATTACH_VMM (vguest_iotlb_serve()) */
struct vguest_server {
	pthread_t thread;
	int stop;		/* eventfd that ends the thread, or -1 */
	bool running;
	uint64_t records;	/* miss records read */
	uint64_t updates;	/* IOTLB_UPDATEs that succeeded */
	int error;		/* the last failure, 0 if none */
};

struct vguest {
	struct vguest_opts opts;
	struct vmm iommu;
	struct vnet net[VGUEST_MAX_NET];
	unsigned int nnet;
	uint32_t ep[VGUEST_MAX_NET];	/* endpoint of net i */
	uint32_t domain;	/* of ATTACH and vguest_map(), VGUEST_DOMAIN */
	unsigned int ninit;	/* net devices vnet_init() was called on */
	bool iommu_init;	/* vmm_init() was called */
	int miss_efd;		/* VGUEST_ATTACH_VMM: the miss eventfd, or -1 */
	struct vguest_server server;
};

/* Setup (see above) and teardown: vhost-iommu first, then vhost-net. */
int vguest_init(struct vguest *g, const struct vguest_opts *o);
int vguest_start(struct vguest *g);
void vguest_fini(struct vguest *g);

/*
 * VHOST_IOMMU_BIND_NET / UNBIND_NET of net @i's vhost-net fd to its
 * endpoint; VHOST_NET_SET_BACKEND of both queues of net @i (retried while
 * it fails with EFAULT, for up to @timeout_ms: a miss being served).
 */
int vguest_bind(struct vguest *g, unsigned int i);
int vguest_unbind(struct vguest *g, unsigned int i);
int vguest_set_backend(struct vguest *g, unsigned int i, int timeout_ms);

/*
 * MAP [@iova, @iova + @size) to @gpa in g->domain, and add the range to
 * the IOVA table of every net device whose window it overlaps (the part in
 * that window), unless the table has it already: the table is what the
 * guest driver puts in rings and descriptors, so it keeps an IOVA across
 * UNMAP and MAP. MAP every entry of net @i's table (batched). UNMAP
 * [@iova, @iova + @size) (the tables are left alone).
 */
int vguest_map(struct vguest *g, uint64_t iova, uint64_t gpa, uint64_t size,
	       uint32_t flags);
int vguest_map_table(struct vguest *g, unsigned int i, uint32_t flags);
int vguest_unmap(struct vguest *g, uint64_t iova, uint64_t size);

/*
 * The device IOTLB of VGUEST_ATTACH_VMM, from the VMM's side:
 * IOTLB_UPDATE of [@iova, @iova + @size) -> @gpa with @perm
 * (VHOST_IOMMU_ACCESS_*); IOTLB_INVALIDATE of a range; up to @n miss
 * records, waiting on the miss eventfd while there are none (-ETIMEDOUT
 * when a wait exceeds @timeout_ms); a thread answering every record with
 * its page read-write, the GPA from the IOVA tables of the net devices
 * (its counters in g->server), and its end (joined; vguest_fini() ends it
 * too).
 */
int vguest_iotlb_update(struct vguest *g, uint64_t iova, uint64_t size,
			uint64_t gpa, uint32_t perm);
int vguest_iotlb_invalidate(struct vguest *g, uint64_t iova, uint64_t size);
int vguest_iotlb_fetch(struct vguest *g, struct vhost_iommu_iotlb_miss *m,
		       unsigned int n, int timeout_ms);
int vguest_iotlb_serve(struct vguest *g);
void vguest_iotlb_serve_stop(struct vguest *g);

/* VHOST_IOMMU_GET_STATS */
int vguest_stats(struct vguest *g, struct vhost_iommu_stats *s);

/*
 * Waits (up to @timeout_ms, -ETIMEDOUT) until no bound vhost-net device
 * has a message queued, then for the kernel to be done with the last one
 * it read: the IOTLB counters then account for every miss raised so far
 * (vhost-net raises duplicates of a miss until it is answered, and the
 * last may still be queued when the frame that caused it has completed).
 */
int vguest_settle(struct vguest *g, int timeout_ms);

/*
 * The next fault report on the event queue, within @timeout_ms (-EAGAIN
 * when none came; 0: do not wait); the buffer is posted again. -EPROTO if
 * its used length is not that of a report.
 */
int vguest_fault(struct vguest *g, struct virtio_iommu_fault *f,
		 int timeout_ms);

/*
 * One TX frame of net @i: post frame @seq from TX buffer @id and kick;
 * wait for its used entry (-ETIMEDOUT after @timeout_ms; the buffer stays
 * posted) and compare the frame captured on the tap byte for byte;
 * vguest_tx() does both.
 */
int vguest_tx_post(struct vguest *g, unsigned int i, unsigned int id,
		   uint32_t seq);
int vguest_tx_complete(struct vguest *g, unsigned int i, unsigned int id,
		       uint32_t seq, int timeout_ms);
int vguest_tx(struct vguest *g, unsigned int i, unsigned int id, uint32_t seq,
	      int timeout_ms);

/*
 * One RX frame of net @i: post RX buffer @id, kick, send frame @seq out
 * of the tap netdev; wait for the used entry of buffer @id (-ETIMEDOUT
 * after @timeout_ms) and check it byte for byte; vguest_rx() does both.
 */
int vguest_rx_post(struct vguest *g, unsigned int i, unsigned int id,
		   uint32_t seq);
int vguest_rx_complete(struct vguest *g, unsigned int i, unsigned int id,
		       uint32_t seq, int timeout_ms);
int vguest_rx(struct vguest *g, unsigned int i, unsigned int id, uint32_t seq,
	      int timeout_ms);

#endif /* VHOST_IOMMU_SELFTEST_VGUEST_H */
