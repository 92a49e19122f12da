/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio-net guest driver over the stock /dev/vhost-net, moving real
 * frames through a tap device, for the vhost-iommu selftests.
 *
 * Guest memory is one window of VNET_MEM_SIZE bytes at guest-physical
 * address gpa_base: by default a memfd mapped twice (the guest's view, and
 * the view handed to the kernel in the memory table, at another address),
 * or memory the caller provides (vnet_opts.mem). Inside the window (offsets
 * from gpa_base), every ring part and every buffer has a 4 KiB page of its
 * own, so that one-page IOTLB entries never cover two of them:
 *
 *	VNET_RING_OFF(q)	desc, avail and used of queue q, one page each
 *	VNET_BUF_OFF(q, id)	buffer of descriptor id of queue q
 *
 * Queue 0 is RX, queue 1 TX (vhost-net's numbering). Descriptor id n always
 * points at buffer n of its queue.
 *
 * Addresses: without VIRTIO_F_ACCESS_PLATFORM the rings are handed over as
 * the kernel view's virtual addresses and descriptors carry GPAs. With it
 * (vnet_opts.iommu) both are IOVAs, translated by vhost through its device
 * IOTLB; the harness keeps an IOVA -> GPA table (vnet_map_add(), or filled
 * at vnet_init() according to vnet_opts.mode) and vnet_iova() picks the
 * IOVA of a GPA from it. Misses can be served by the userspace relay of this
 * library (vnet_relay_start(), one 4 KiB page per miss, as QEMU 7.2 does)
 * or by anything else that writes UPDATEs to the vhost-net fd.
 *
 * Frames: ethertype VNET_ETHERTYPE, a 32-bit big-endian sequence number
 * after the Ethernet header, then a pattern derived from the sequence
 * number; vnet_frame_len() gives every sequence number its own length
 * between 60 and 1514 bytes. TX frames are captured on an AF_PACKET socket
 * bound to the tap netdev; RX frames are sent out of the tap netdev by
 * another AF_PACKET socket (what the host stack transmits on a tap is what
 * the tap's reader, here vhost-net, receives).
 *
 * Functions return 0 (or a non-negative value) on success and a negative
 * errno on failure; vt_errmsg says what failed last. Waits are bounded by
 * a timeout in milliseconds (VNET_TIMEOUT_MS is a generous default).
 */
#ifndef VHOST_IOMMU_SELFTEST_VNET_H
#define VHOST_IOMMU_SELFTEST_VNET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/if.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>

#include "common.h"
#include "vq.h"
#include "vwin.h"

#define VNET_DEV_PATH		"/dev/vhost-net"
#define VNET_RXQ		0
#define VNET_TXQ		1
#define VNET_NQ			2
#define VNET_NUM		256	/* default and largest ring size */
#define VNET_PAGE		VWIN_PAGE
#define VNET_MEM_SIZE		(4ULL << 20)
#define VNET_GPA_BASE		0x40000000ULL	/* above the test VMM's memory */
#define VNET_RING_OFF(q)	VWIN_RING_OFF(q)
#define VNET_BUF_OFF(q, id)	VWIN_BUF_OFF(VNET_NUM, q, id)
#define VNET_BUF_LEN		2048	/* descriptor length of a buffer */
#define VNET_HDR_LEN		12	/* struct virtio_net_hdr_v1 */
#define VNET_ETHERTYPE		0x88b5
#define VNET_FRAME_MIN		60
#define VNET_FRAME_MAX		1514
#define VNET_TIMEOUT_MS		10000
/* Byte the RX buffers are filled with before they are posted */
#define VNET_RX_FILL		0xa5
/* IOVA = GPA + VNET_OFFSET in VNET_IOVA_OFFSET mode */
#define VNET_OFFSET		0x100000000ULL
/*
 * Base of the IOVA space of VNET_IOVA_SCATTER, which spans 4 times the
 * window (VNET_SCATTER_SPAN)
 */
#define VNET_SCATTER_BASE	0x800000000ULL
#define VNET_SCATTER_SPAN	(4 * VNET_MEM_SIZE)
#define VNET_NO_IOVA		VWIN_NO_ADDR
#define VNET_MAX_MAPS		2048
#define VNET_MAX_REFUSE		16

enum vnet_iova_mode {
	VNET_IOVA_IDENTITY,	/* IOVA = GPA */
	VNET_IOVA_OFFSET,	/* IOVA = GPA + VNET_OFFSET */
	VNET_IOVA_SCATTER,	/* each page at a scattered IOVA, reordered */
	VNET_IOVA_MANUAL,	/* empty table: the caller calls vnet_map_add() */
};

/*
 * vhost-net's worker (6.12, VHOST_SET_FORK_FROM_OWNER before SET_OWNER):
 * the kernel's default (a vhost_task on 6.12, a kthread on 6.1), or one
 * asked for; 6.1 has no such ioctl and refuses it.
 */
#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_SET_FORK_FROM_OWNER	_IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_FORK_OWNER_KTHREAD	0
#define VHOST_FORK_OWNER_TASK		1
#endif
enum vnet_worker {
	VNET_WORKER_DEFAULT,
	VNET_WORKER_KTHREAD,
	VNET_WORKER_TASK,
};

struct vnet_opts {
	bool iommu;		/* VIRTIO_F_ACCESS_PLATFORM + IOTLB_MSG_V2 */
	enum vnet_worker worker;	/* set before VHOST_SET_OWNER */
	bool iotlb_v1;		/* with iommu: without IOTLB_MSG_V2, misses in
				 * the first format (the relay needs V2)
				 */
	enum vnet_iova_mode mode;	/* with iommu: how the table is filled */
	bool relay;		/* vnet_start() starts the userspace relay */
	bool no_backend;	/* vnet_start() stops before SET_BACKEND */
	bool prefault;		/* UPDATE the used rings before SET_BACKEND */
	unsigned int num;	/* ring size (power of 2), 0: VNET_NUM */
	uint64_t gpa_base;	/* 0: VNET_GPA_BASE */
	uint64_t scatter_base;	/* VNET_IOVA_SCATTER's base, 0: VNET_SCATTER_BASE */
	void *mem;		/* VNET_MEM_SIZE bytes of caller memory, or NULL */
};

/* One IOVA -> GPA translation, page aligned */
struct vnet_map {
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
};

struct vnet_relay_stats {
	uint64_t misses;	/* MISS messages read */
	uint64_t served;	/* UPDATEs written for them */
	uint64_t refused;	/* misses in a refused range, not answered */
	uint64_t unmapped;	/* misses outside the table, not answered */
	uint64_t errors;	/* failed reads and writes, bad messages */
};

struct vnet {
	struct vnet_opts opts;
	/* fd (/dev/vhost-net), memfd, gmem, kmem, gpa_base, features */
	union {
		struct vwin win;
		struct {
			VWIN_MEMBERS;
		};
	};
	int tap;		/* the tap fd */
	int cap;		/* AF_PACKET capture socket (TX frames) */
	int inj;		/* AF_PACKET socket that injects RX frames */
	char ifname[IFNAMSIZ];
	int ifindex;
	struct vq vq[VNET_NQ];
	/* IOVA table and relay state, under lock */
	pthread_mutex_t lock;
	struct vnet_map map[VNET_MAX_MAPS];
	unsigned int nmaps;
	struct vnet_map refuse[VNET_MAX_REFUSE];	/* gpa unused */
	unsigned int nrefuse;
	struct vnet_relay_stats stats;
	pthread_t relay;
	bool relay_running;
	int relay_stop;		/* eventfd */
	bool started;
	unsigned int backend_efault;	/* SET_BACKEND attempts that failed */
};

/*
 * Setup and teardown. vnet_init(): guest memory, the IOVA table (mode),
 * open, SET_OWNER, backend features (IOTLB_MSG_V2 with iommu), features
 * (VERSION_1, + ACCESS_PLATFORM with iommu), memory table, eventfds, the
 * tap (up, IPv6 off) and the packet sockets. vnet_start(): the two rings
 * (addresses from the table with iommu), then the relay (opts.relay), the
 * used ring prefault (opts.prefault) and SET_BACKEND of both queues
 * unless opts.no_backend. vnet_set_backend(): VHOST_NET_SET_BACKEND, retried
 * on EFAULT for up to @timeout_ms with iommu (a miss being served); the
 * error eventfd signal of the failed attempts is drained. vnet_close_vhost()
 * stops the relay and closes vhost-net; vnet_close_tap() closes the tap fd;
 * vnet_fini() closes whatever is left, in that order.
 */
int vnet_init(struct vnet *v, const struct vnet_opts *o);
int vnet_start(struct vnet *v);
int vnet_set_backend(struct vnet *v, unsigned int q, int fd, int timeout_ms);
void vnet_close_vhost(struct vnet *v);
void vnet_close_tap(struct vnet *v);
void vnet_fini(struct vnet *v);

/*
 * Guest memory: the guest's pointer to a GPA, the kernel view's address of
 * a GPA (what a memory table or an UPDATE carries), the GPA of buffer @id
 * of queue @q, and the window as a memory table region (for another
 * device's memory table).
 */
void *vnet_ptr(struct vnet *v, uint64_t gpa);
uint64_t vnet_hva(struct vnet *v, uint64_t gpa);
uint64_t vnet_buf_gpa(struct vnet *v, unsigned int q, unsigned int id);
void vnet_mem_region(struct vnet *v, struct vhost_memory_region *r);

/*
 * The IOVA table: add a page-aligned IOVA -> GPA range; empty the table;
 * the address vhost is given for a GPA (the GPA itself without iommu, else
 * the first table entry holding it, or VNET_NO_IOVA); the same for a
 * buffer; IOVA -> GPA (-ENOENT if unmapped). Ring addresses are taken at
 * vnet_start(), buffer addresses at every post.
 */
int vnet_map_add(struct vnet *v, uint64_t iova, uint64_t gpa, uint64_t size);
void vnet_map_clear(struct vnet *v);
uint64_t vnet_iova(struct vnet *v, uint64_t gpa);
uint64_t vnet_buf_iova(struct vnet *v, unsigned int q, unsigned int id);
int vnet_iova_to_gpa(struct vnet *v, uint64_t iova, uint64_t *gpa);

/*
 * The device IOTLB, through the vhost-net fd: write one vhost_msg_v2
 * (any type, asid 0); UPDATE every page of a range from the table (a
 * prefault); INVALIDATE a range, under the table lock, so that no UPDATE
 * the relay computed before it is written after it.
 */
int vnet_iotlb_msg(int fd, uint8_t type, uint64_t iova, uint64_t size,
		   uint64_t uaddr, uint8_t perm);
int vnet_iotlb_update(struct vnet *v, uint64_t iova, uint64_t size);
int vnet_iotlb_invalidate(struct vnet *v, uint64_t iova, uint64_t size);

/*
 * The userspace IOTLB relay: a thread polling the vhost-net fd (made
 * O_NONBLOCK) that answers every MISS with an UPDATE of the one 4 KiB page
 * holding it (RW), from the table; start, stop (joins), counters;
 * refuse: misses whose page overlaps the range are read and dropped (the
 * queue stalls until an UPDATE covering them lands, e.g. after allow and a
 * kick); allow: forget every refused range.
 */
int vnet_relay_start(struct vnet *v);
void vnet_relay_stop(struct vnet *v);
void vnet_relay_stats(struct vnet *v, struct vnet_relay_stats *s);
int vnet_relay_refuse(struct vnet *v, uint64_t iova, uint64_t size);
void vnet_relay_allow(struct vnet *v);

/*
 * Frames: the length of frame @seq; build it; its sequence number; compare
 * a frame with the expected one (-EBADMSG, first difference in
 * vt_errmsg).
 */
uint32_t vnet_frame_len(uint32_t seq);
void vnet_frame_fill(uint8_t *f, uint32_t seq, uint32_t len);
uint32_t vnet_frame_seq(const uint8_t *f);
int vnet_frame_check(const uint8_t *f, uint32_t len, uint32_t seq,
		     uint32_t want_len);

/*
 * Rings: kick (always, no suppression); wait for the next used entry
 * (on the call eventfd, -ETIMEDOUT after @timeout_ms) and free its
 * descriptor; whether a used entry is waiting; read and clear the error
 * eventfd's count.
 */
int vnet_kick(struct vnet *v, unsigned int q);
int vnet_wait_used(struct vnet *v, unsigned int q, uint32_t *id,
		   uint32_t *len, int timeout_ms);
bool vnet_used_pending(struct vnet *v, unsigned int q);
int vnet_err_count(struct vnet *v, unsigned int q, uint64_t *count);

/*
 * TX, guest -> vhost-net -> tap netdev: post frame @seq (12-byte zero
 * header + frame, one descriptor) from TX buffer @id, no kick; receive the
 * next captured frame (its length); capture and compare frame @seq;
 * frames @seq .. @seq + @n - 1 end to end on the lowest free descriptors,
 * every used entry consumed and every frame compared byte for byte.
 */
int vnet_tx_post(struct vnet *v, unsigned int id, uint32_t seq,
		 uint32_t len);
/*
 * The same from any GPA of the window: the frame is written at @gpa, and
 * descriptor @id carries @addr (the IOVA @gpa is mapped at, or the GPA
 * itself without iommu).
 */
int vnet_tx_post_at(struct vnet *v, unsigned int id, uint64_t gpa,
		    uint64_t addr, uint32_t seq, uint32_t len);
int vnet_capture(struct vnet *v, uint8_t *f, size_t size, int timeout_ms);
int vnet_capture_expect(struct vnet *v, uint32_t seq, uint32_t len,
			int timeout_ms);
int vnet_tx_frames(struct vnet *v, uint32_t seq, unsigned int n);

/*
 * RX, tap netdev -> vhost-net -> guest: post RX buffer @id (filled with
 * VNET_RX_FILL, VNET_BUF_LEN bytes, device-writable), no kick; send frame
 * @seq out of the tap netdev (vhost-net receives it); check a used RX
 * buffer (used length 12 + frame, header, frame byte for byte, nothing
 * written past it); frames @seq .. @seq + @n - 1 end to end.
 */
int vnet_rx_post(struct vnet *v, unsigned int id);
int vnet_rx_inject(struct vnet *v, uint32_t seq, uint32_t len);
int vnet_rx_check(struct vnet *v, unsigned int id, uint32_t used_len,
		  uint32_t seq, uint32_t len);
int vnet_rx_frames(struct vnet *v, uint32_t seq, unsigned int n);

#endif /* VHOST_IOMMU_SELFTEST_VNET_H */
