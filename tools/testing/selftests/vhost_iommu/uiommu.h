/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uiommu: a userspace virtio-iommu device model with the architecture of
 * QEMU 7.2, the baseline of the vhost-iommu benchmarks.
 *
 * One thread plays QEMU's main loop: it sleeps in poll() on the request
 * queue's kick eventfd (QEMU's ioeventfd) and on the file of every bound
 * vhost-net device, and does all the work itself:
 *
 *  - the request queue: pops each chain, copies the request out, executes
 *    ATTACH / DETACH / MAP / UNMAP against its domains (each domain's
 *    mappings in a balanced tree keyed by IOVA interval, as QEMU's GTree),
 *    writes the tail, pushes the used entry and signals the call eventfd
 *    (one notification per request, EVENT_IDX permitting);
 *  - UNMAP and DETACH: for every mapping removed, every endpoint of the
 *    domain and every vhost-net device bound to it, one
 *    VHOST_IOTLB_INVALIDATE per naturally aligned power-of-two chunk of
 *    the mapping, written before the request completes;
 *  - vhost-net IOTLB misses: read until EAGAIN, translated through the
 *    endpoint's domain and the memory table, answered with one
 *    VHOST_IOTLB_UPDATE of one 4 KiB granule, read-write whatever the
 *    mapping's permissions.
 *
 * Documentation/bench.md says where this is faithful to QEMU and where it
 * is kinder or harsher. Only what the benchmarks need is modelled: no
 * event queue (faults are counted), no PROBE, no bypass mode, no indirect
 * descriptors; MAP notifications are not modelled because QEMU's vhost
 * does not listen to them.
 *
 * Functions return 0 or a negative errno; vt_errmsg says what failed.
 */
#ifndef VHOST_IOMMU_SELFTEST_UIOMMU_H
#define VHOST_IOMMU_SELFTEST_UIOMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "common.h"

#define UIOMMU_GRANULE		4096ULL
#define UIOMMU_MAX_REGIONS	8
#define UIOMMU_MAX_EP		8
#define UIOMMU_MAX_NET		4	/* vhost-net devices per endpoint */
#define UIOMMU_MAX_CHAIN	16	/* segments of one request chain */

/* Features the model offers; the driver must negotiate a subset */
#define UIOMMU_FEATURES						\
	((1ULL << VIRTIO_F_VERSION_1) |				\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |			\
	 (1ULL << VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 (1ULL << VIRTIO_IOMMU_F_DOMAIN_RANGE) |		\
	 (1ULL << VIRTIO_IOMMU_F_MAP_UNMAP))

struct uiommu_stats {
	uint64_t requests;	/* request chains executed */
	uint64_t maps;		/* MAP requests that succeeded */
	uint64_t unmaps;	/* UNMAP requests that succeeded */
	uint64_t misses;	/* MISS messages read */
	uint64_t updates;	/* UPDATEs written */
	uint64_t invalidations;	/* INVALIDATEs written */
	uint64_t faults;	/* misses left unanswered */
	uint64_t errors;	/* bad chains, failed reads and writes */
	uint64_t mappings;	/* live mappings */
	uint64_t wakeups;	/* returns from poll() */
};

struct uiommu_domain;

struct uiommu_ep {
	uint32_t id;
	struct uiommu_domain *domain;
	struct uiommu_ep *next;		/* in the domain's endpoint list */
	int net[UIOMMU_MAX_NET];	/* bound vhost-net files */
	unsigned int nnet;
};

struct uiommu {
	uint64_t features;
	struct vhost_memory_region mem[UIOMMU_MAX_REGIONS];
	unsigned int nmem;
	/* The request queue */
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_valid;
	int kick, call;
	/* Endpoints (few: an array) and domains (a tree keyed by id) */
	struct uiommu_ep ep[UIOMMU_MAX_EP];
	unsigned int nep;
	void *domains;
	/* The main loop: everything it touches is under @lock */
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	int stop;		/* eventfd */
	struct uiommu_stats stats;
};

/*
 * Setup: init with the negotiated features (a subset of UIOMMU_FEATURES);
 * memory regions (GPA -> this process's address, as a vhost memory table);
 * the request queue (ring GPAs, eventfds); endpoints; vhost-net devices
 * behind an endpoint (the model takes over reading the file, which it
 * makes O_NONBLOCK; the caller keeps it open). Then start the thread;
 * stop joins it; fini frees everything (stopping first).
 */
int uiommu_init(struct uiommu *u, uint64_t features);
int uiommu_add_region(struct uiommu *u, uint64_t gpa, uint64_t size,
		      void *hva);
int uiommu_set_queue(struct uiommu *u, unsigned int num, uint64_t desc_gpa,
		     uint64_t avail_gpa, uint64_t used_gpa, int kick,
		     int call);
int uiommu_add_endpoint(struct uiommu *u, uint32_t ep);
int uiommu_bind_net(struct uiommu *u, uint32_t ep, int fd);
int uiommu_start(struct uiommu *u);
void uiommu_stop(struct uiommu *u);
void uiommu_fini(struct uiommu *u);
void uiommu_get_stats(struct uiommu *u, struct uiommu_stats *s);

struct vmm;

/*
 * Serves the request queue of a test VMM set up with vmm_opts.user_device:
 * its guest memory becomes memory regions, its request queue the model's.
 */
int uiommu_serve_vmm(struct uiommu *u, struct vmm *v);

/* IOVA -> GPA through @ep's domain, as a miss would: 0 or -ENOENT */
int uiommu_translate(struct uiommu *u, uint32_t ep, uint64_t iova,
		     uint64_t *gpa);

/*
 * The mask of the largest naturally aligned power-of-two range starting
 * at @start and ending at or before @end (inclusive): QEMU's splitting of
 * an unmapped range into invalidations.
 */
uint64_t uiommu_chunk_mask(uint64_t start, uint64_t end);

#endif /* VHOST_IOMMU_SELFTEST_UIOMMU_H */
