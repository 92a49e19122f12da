/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal VMM and guest driver for the vhost-iommu selftests.
 *
 * Guest memory is a memfd. The memory table handed to the kernel has two
 * regions (GPA [0, VMM_MEM_SIZE / 2) and [VMM_MEM_SIZE / 2, VMM_MEM_SIZE))
 * mapped at two HVAs that are not adjacent, so a buffer crossing the middle
 * of guest memory is split by the kernel. The guest side reaches all of it
 * through a third, contiguous mapping (vmm_ptr()).
 *
 * The driver side of the split virtqueues lives in guest memory; ring
 * addresses are handed to the kernel as HVAs, descriptors carry GPAs.
 *
 * Every function returns 0 (or a non-negative value) on success and a
 * negative errno on failure; the tests assert on these values. vt_errmsg
 * says what failed last.
 */
#ifndef VHOST_IOMMU_SELFTEST_VMM_H
#define VHOST_IOMMU_SELFTEST_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost.h>
#include <linux/vhost_iommu.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "common.h"
#include "vq.h"

#define VMM_DEV_PATH		"/dev/vhost-iommu"
#define VMM_MEM_SIZE		(16ULL << 20)
#define VMM_REGION_SIZE		(VMM_MEM_SIZE / 2)
/* A hang guard, never a measurement: the debug kernel is 30x slower */
#define VMM_TIMEOUT_MS		120000
#define VMM_DEFAULT_NUM		256
#define VMM_MAX_NUM		32768
#define VMM_MAX_CHAIN		4096	/* descriptors per vmm_post/raw chain */
#define VMM_MAX_EXTRA		8	/* extra memory table regions */

/* Guest-physical layout */
#define VMM_RING_GPA(q)		((uint64_t)(q) << 20)	/* 1 MiB per ring */
#define VMM_IND_GPA		(2ULL << 20)		/* indirect tables */
#define VMM_IND_SIZE		(2ULL << 20)
#define VMM_DATA_GPA		(4ULL << 20)		/* region 0 buffers */
#define VMM_DATA_END		VMM_REGION_SIZE
#define VMM_DATA1_GPA		VMM_REGION_SIZE		/* region 1 buffers */
#define VMM_DATA1_END		VMM_MEM_SIZE
/* A GPA no region holds */
#define VMM_BAD_GPA		0x100000000ULL

/* Every feature the device offers */
#define VMM_ALL_FEATURES					\
	((1ULL << VIRTIO_F_VERSION_1) |				\
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |		\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |			\
	 (1ULL << VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 (1ULL << VIRTIO_IOMMU_F_DOMAIN_RANGE) |		\
	 (1ULL << VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 (1ULL << VIRTIO_IOMMU_F_PROBE) |			\
	 (1ULL << VIRTIO_IOMMU_F_MMIO) |			\
	 (1ULL << VIRTIO_IOMMU_F_BYPASS_CONFIG))
#define VMM_F(bit)		(1ULL << (bit))
/* ... and the dirty log's, which the VMM negotiates only to migrate */
#define VMM_OFFERED_FEATURES	(VMM_ALL_FEATURES | VMM_F(VHOST_F_LOG_ALL))

/* Byte the writable parts are pre-filled with, to see what was written */
#define VMM_PATTERN		0xa5

struct vmm_opts {
	uint64_t features;	/* features to negotiate, 0: VMM_ALL_FEATURES */
	unsigned int num[2];	/* ring sizes, 0: VMM_DEFAULT_NUM */
	bool indirect;		/* requests through an indirect table */
	bool split;		/* every part in several descriptors, across regions */
	bool force_kick;	/* kick even when EVENT_IDX says not to */
	/*
	 * vmm_batch() waits for its batch as a whole (bench_requests): it
	 * yields the CPU once after the kick, so that the device, woken by
	 * it, runs before the driver looks, and with EVENT_IDX it asks for
	 * one notification, when the last request is used, not one per
	 * request it waits for. On one vCPU both otherwise depend on the
	 * scheduler's wake-up preemption, which varies from run to run; and
	 * a real guest's driver (Linux's) asks for no notification at all
	 * from the request queue: it polls the used ring.
	 */
	bool notify_batch_end;
	/*
	 * Guest memory faulted in at vmm_init(), in the guest's view and the
	 * kernel's: a running guest's memory is (bench_requests: otherwise the
	 * request buffers a benchmark window walks through fault in there,
	 * about 200 instructions a request on both devices' side).
	 */
	bool prefault;
	bool no_rings;		/* stop after the memory table */
	bool no_event_ring;	/* do not set up the event queue */
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of the request queue, 0: none */
	unsigned int busyloop_us;
	/*
	 * No /dev/vhost-iommu: only the driver side (guest memory, rings,
	 * eventfds) is set up, for a device model in this process to serve
	 * (uiommu.h); vmm.fd stays -1, @features are taken as negotiated.
	 */
	bool user_device;
	/*
	 * Regions appended to the memory table after the two of guest
	 * memory, e.g. the window of another device's guest memory
	 * (vnet_mem_region()): descriptors and translations may point there.
	 */
	unsigned int nextra;
	struct vhost_memory_region extra[VMM_MAX_EXTRA];
};

struct vmm {
	int fd;
	int memfd;
	uint8_t *gmem;		/* guest view, contiguous */
	uint8_t *hva[2];	/* the regions as the kernel sees them */
	void *hva_reserve;
	size_t hva_reserve_len;
	uint64_t features;
	struct vmm_opts opts;
	struct vq vq[VHOST_IOMMU_VQ_MAX];
	uint64_t data_next[2];
	uint64_t ind_next;
	uint32_t probe_size;
	uint32_t last_len;	/* used length of the last helper request */
	unsigned int split_toggle;
};

/*
 * Setup and teardown. vmm_init(): guest memory, open, then vmm_setup():
 * owner, features, memory table, configuration, rings. vmm_setup() alone
 * sets the device up again after VHOST_RESET_OWNER (the rings restart
 * empty, at index 0, with the same eventfds).
 */
int vmm_init(struct vmm *v, const struct vmm_opts *o);
int vmm_setup(struct vmm *v);
void vmm_fini(struct vmm *v);
int vmm_open_dev(void);
int vmm_map_memory(struct vmm *v);
int vmm_set_mem_table(struct vmm *v);
int vmm_vq_setup(struct vmm *v, unsigned int q, unsigned int num);
int vmm_vq_stop(struct vmm *v, unsigned int q, unsigned int *base);
int vmm_vq_restart(struct vmm *v, unsigned int q, unsigned int base);
/*
 * The driver starting again after VHOST_IOMMU_RESET_DEVICE: the rings that
 * were set up are laid out afresh at index 0 and handed back with
 * VHOST_SET_VRING_KICK only (size, addresses, indexes and the other
 * eventfds are what the reset left in the device).
 */
int vmm_rings_restart(struct vmm *v);

/* Guest memory */
void *vmm_ptr(struct vmm *v, uint64_t gpa);
uint64_t vmm_hva(struct vmm *v, uint64_t gpa);
uint64_t vmm_alloc(struct vmm *v, size_t len, int region);
uint64_t vmm_alloc_ind(struct vmm *v, unsigned int ndesc);

/* Descriptors and rings */
struct vmm_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

int vmm_post(struct vmm *v, unsigned int q, const struct vmm_seg *segs,
	     unsigned int n, bool indirect);
int vmm_kick(struct vmm *v, unsigned int q);
int vmm_wait_used(struct vmm *v, unsigned int q, uint32_t *id,
		  uint32_t *len, int timeout_ms);
int vmm_wait_err(struct vmm *v, unsigned int q, int timeout_ms);

/*
 * A raw chain: descriptors allocated from the free list; @next is an index
 * into the array (translated to the allocated descriptor index), or, with
 * abs_next, written as is. @flags are written as is.
 */
struct vmm_rdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
	bool abs_next;
};

int vmm_raw_chain(struct vmm *v, unsigned int q, const struct vmm_rdesc *d,
		  unsigned int n, uint16_t *head);

/* Requests */
struct vmm_req {
	uint64_t rd_gpa;	/* readable part */
	uint32_t rd_len;
	uint64_t wr_gpa;	/* writable part */
	uint32_t wr_len;
	uint32_t tail_off;	/* where the tail is expected */
	int head;
	uint32_t used_len;
	uint8_t status;
	uint8_t *wr;		/* guest view of the writable part */
};

int vmm_req_prepare(struct vmm *v, struct vmm_req *r, const void *rd,
		    uint32_t rd_len, uint32_t wr_len);
int vmm_req_post(struct vmm *v, struct vmm_req *r);
int vmm_req_complete(struct vmm *v, struct vmm_req *r);
int vmm_request(struct vmm *v, const void *rd, uint32_t rd_len,
		uint32_t wr_len, struct vmm_req *r);
bool vmm_wr_untouched(struct vmm_req *r);
int vmm_batch(struct vmm *v, struct vmm_req *r, unsigned int n);

/* Request bodies (the readable part, tail excluded) */
#define VMM_ATTACH_LEN	(sizeof(struct virtio_iommu_req_attach) - 4)
#define VMM_DETACH_LEN	(sizeof(struct virtio_iommu_req_detach) - 4)
#define VMM_MAP_LEN	(sizeof(struct virtio_iommu_req_map) - 4)
#define VMM_UNMAP_LEN	(sizeof(struct virtio_iommu_req_unmap) - 4)
#define VMM_PROBE_LEN	sizeof(struct virtio_iommu_req_probe)

void vmm_mk_attach(struct virtio_iommu_req_attach *a, uint32_t domain,
		   uint32_t ep, uint32_t flags);
void vmm_mk_detach(struct virtio_iommu_req_detach *d, uint32_t domain,
		   uint32_t ep);
void vmm_mk_map(struct virtio_iommu_req_map *m, uint32_t domain,
		uint64_t start, uint64_t end, uint64_t phys, uint32_t flags);
void vmm_mk_unmap(struct virtio_iommu_req_unmap *u, uint32_t domain,
		  uint64_t start, uint64_t end);
void vmm_mk_probe(struct virtio_iommu_req_probe *p, uint32_t ep);

/*
 * One request, synchronously. Returns the status when the used length is
 * the expected one (4), -EPROTO with v->last_len set when it is not, or
 * another negative errno (-ETIMEDOUT, -EIO on a ring error).
 */
int vmm_attach(struct vmm *v, uint32_t domain, uint32_t ep, uint32_t flags);
int vmm_detach(struct vmm *v, uint32_t domain, uint32_t ep);
int vmm_map(struct vmm *v, uint32_t domain, uint64_t start, uint64_t end,
	    uint64_t phys, uint32_t flags);
int vmm_unmap(struct vmm *v, uint32_t domain, uint64_t start, uint64_t end);
/* PROBE with a writable part of @wr_len bytes; @r keeps the result */
int vmm_probe(struct vmm *v, uint32_t ep, uint32_t wr_len,
	      struct vmm_req *r);

/* Device ioctls: 0 or -errno */
int vmm_get_config(int fd, struct vhost_iommu_config *c);
int vmm_set_config(int fd, const struct vhost_iommu_config *c);
int vmm_set_bypass(int fd, int bypass);
/* Bypass with SET_CONFIG's @flags (VHOST_IOMMU_CONFIG_F_DRIVER: the driver's) */
int vmm_set_bypass_flags(int fd, int bypass, uint32_t flags);
/* VHOST_IOMMU_RESET_DEVICE */
int vmm_reset_device(int fd);
int vmm_add_endpoint(int fd, uint32_t ep,
		     const struct vhost_iommu_resv_region *r, uint32_t n);
int vmm_del_endpoint(int fd, uint32_t ep);
int vmm_get_stats(int fd, struct vhost_iommu_stats *s);
int vmm_translate(int fd, uint32_t ep, uint64_t iova, uint32_t access,
		  uint32_t flags, struct vhost_iommu_translate *t);
/*
 * VHOST_IOMMU_BIND_DEVICE / UNBIND_DEVICE of a stock vhost file @vfd
 * (vhost-net, vhost-vsock); the _net names are the ioctls' first names.
 */
int vmm_bind_dev(int fd, uint32_t ep, int vfd);
int vmm_unbind_dev(int fd, uint32_t ep, int vfd);
int vmm_bind_net(int fd, uint32_t ep, int netfd);
int vmm_unbind_net(int fd, uint32_t ep, int netfd);
int vmm_ioctl(int fd, unsigned long req, void *arg);
/* A read TRANSLATE of @iova: 0 with the physical address in @phys, or -errno */
int vmm_translate_phys(int fd, uint32_t ep, uint64_t iova, uint64_t *phys);
/*
 * Statistics: every counter (all ~0 when GET_STATS fails); one counter
 * (vmm_stat(fd, mappings)); poll a counter until it is at least @min, for
 * up to @timeout_ms (a hang guard): its last value, 0 when GET_STATS fails.
 */
struct vhost_iommu_stats vmm_stats(int fd);
#define vmm_stat(fd, field)	(vmm_stats(fd).field)
uint64_t vmm_stat_wait_off(int fd, size_t off, uint64_t min, int timeout_ms);
#define vmm_stat_wait(fd, field, min, timeout_ms)			\
	vmm_stat_wait_off((fd), offsetof(struct vhost_iommu_stats, field), \
			  (min), (timeout_ms))

/* Event queue */
int vmm_event_post(struct vmm *v, unsigned int n, uint32_t len);
/*
 * Next used event buffer: 0 with its first 24 bytes in @f and its used
 * length in @len; -EAGAIN if none arrives within @timeout_ms (0: none yet).
 */
int vmm_event_read(struct vmm *v, struct virtio_iommu_fault *f,
		   uint32_t *len, int timeout_ms);

#endif /* VHOST_IOMMU_SELFTEST_VMM_H */
