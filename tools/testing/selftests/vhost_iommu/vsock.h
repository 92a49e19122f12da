/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio-vsock guest driver over the stock /dev/vhost-vsock, talking to
 * AF_VSOCK stream sockets of this (the host's) kernel, for the vhost-iommu
 * selftests.
 *
 * Guest memory is one window of VSOCK_MEM_SIZE bytes at guest-physical
 * address gpa_base: a memfd mapped twice (the guest's view, and the view
 * handed to the kernel in the memory table), as in vnet.c (vwin.h). Inside the
 * window (offsets from gpa_base) every ring part and every buffer has a
 * 4 KiB page of its own:
 *
 *	VSOCK_RING_OFF(q)	desc, avail and used of queue q, one page each
 *	VSOCK_BUF_OFF(q, id)	buffer of descriptor id of queue q
 *
 * Queue 0 is RX (host -> guest, the device writes), queue 1 TX (guest ->
 * host); virtio-vsock's queue 2, the event queue, is not vhost's and is
 * not set up. Descriptor id n always points at buffer n of its queue, one
 * descriptor per buffer.
 *
 * Addresses: with VIRTIO_F_ACCESS_PLATFORM (vsock_opts.iommu) the rings
 * and descriptors carry IOVAs, IOVA = GPA - gpa_base + iova_base, which the
 * caller maps in its IOMMU (vhost-iommu: vsock_test.c); misses go to
 * whoever serves the vhost-vsock file (a vhost-iommu binding). Without it
 * the rings are the kernel view's addresses and descriptors carry GPAs.
 *
 * vhost-vsock's stream protocol, from the guest's side (struct
 * virtio_vsock_hdr, 44 bytes, then the payload, in one buffer): a host
 * socket connecting to the guest's CID puts an OP_REQUEST on RX; the guest
 * answers OP_RESPONSE on TX; then OP_RW both ways. Every guest packet
 * carries the guest's credit (buf_alloc VSOCK_GUEST_BUF_ALLOC, fwd_cnt:
 * payload bytes consumed so far). struct vsock_conn is one such stream.
 *
 * Functions return 0 (or a non-negative value) on success and a negative
 * errno on failure; vt_errmsg says what failed last. Waits are bounded by
 * a timeout in milliseconds (hang guards, never measurements).
 */
#ifndef VHOST_IOMMU_SELFTEST_VSOCK_H
#define VHOST_IOMMU_SELFTEST_VSOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <linux/vhost.h>
#include <linux/vm_sockets.h>
#include <linux/virtio_vsock.h>

#include "common.h"
#include "vq.h"
#include "vwin.h"

#define VSOCK_DEV_PATH		"/dev/vhost-vsock"
#define VSOCK_RXQ		0
#define VSOCK_TXQ		1
#define VSOCK_NQ		2	/* the queues vhost-vsock has */
#define VSOCK_NUM		64	/* ring size */
#define VSOCK_PAGE		VWIN_PAGE
#define VSOCK_MEM_SIZE		0x100000ULL	/* 1 MiB */
#define VSOCK_GPA_BASE		0x40000000ULL	/* above the test VMM's memory */
#define VSOCK_RING_OFF(q)	VWIN_RING_OFF(q)
#define VSOCK_BUF_OFF(q, id)	VWIN_BUF_OFF(VSOCK_NUM, q, id)
#define VSOCK_RING_SIZE		VWIN_RING_SIZE
#define VSOCK_BUF_LEN		4096	/* descriptor length of a buffer */
#define VSOCK_HDR_LEN		sizeof(struct virtio_vsock_hdr)
#define VSOCK_MAX_PAYLOAD	(VSOCK_BUF_LEN - VSOCK_HDR_LEN)
/* Byte the RX buffers are filled with before they are posted */
#define VSOCK_RX_FILL		0xa5
#define VSOCK_HOST_CID		2	/* VMADDR_CID_HOST */
#define VSOCK_GUEST_BUF_ALLOC	(256U << 10)
#define VSOCK_NO_ADDR		VWIN_NO_ADDR

struct vsock_opts {
	bool iommu;		/* VIRTIO_F_ACCESS_PLATFORM + IOTLB_MSG_V2 */
	uint64_t cid;		/* VHOST_VSOCK_SET_GUEST_CID, >= 3 */
	uint64_t gpa_base;	/* 0: VSOCK_GPA_BASE */
	uint64_t iova_base;	/* with iommu: IOVA of gpa_base */
};

struct vsock {
	struct vsock_opts opts;
	/* fd (/dev/vhost-vsock), memfd, gmem, kmem, gpa_base, features */
	union {
		struct vwin win;
		struct {
			VWIN_MEMBERS;
		};
	};
	struct vq vq[VSOCK_NQ];
	bool started;
	unsigned int running_efault;	/* SET_RUNNING attempts that failed */
};

/* One stream, as the guest sees it */
struct vsock_conn {
	uint32_t guest_port;
	uint32_t host_port;
	uint32_t fwd_cnt;	/* payload bytes the guest consumed */
	unsigned int tx_id;	/* TX buffer the guest sends from */
};

/*
 * Setup and teardown. vsock_init(): guest memory, open, SET_OWNER,
 * backend features (IOTLB_MSG_V2 with iommu), features (VERSION_1, +
 * ACCESS_PLATFORM with iommu), memory table, SET_GUEST_CID, eventfds.
 * vsock_start(): the two rings (SET_VRING_*), addresses as above.
 * vsock_set_running(): VHOST_VSOCK_SET_RUNNING 1 (0: stop), retried on
 * EFAULT for up to @timeout_ms with iommu (its write of the used rings
 * missed in the device IOTLB, a miss being served); the error eventfd
 * signals of the failed attempts are drained. vsock_close_vhost() closes
 * the vhost-vsock fd; vsock_fini() whatever is left.
 */
int vsock_init(struct vsock *v, const struct vsock_opts *o);
int vsock_start(struct vsock *v);
int vsock_set_running(struct vsock *v, int start, int timeout_ms);
void vsock_close_vhost(struct vsock *v);
void vsock_fini(struct vsock *v);

/*
 * Guest memory: the guest's pointer to a GPA, the kernel view's address of
 * a GPA, the GPA of buffer @id of queue @q, the address vhost-vsock is
 * given for a GPA (IOVA with iommu, else the GPA) and for a ring part, the
 * window as a memory table region (for another device's memory table).
 */
void *vsock_ptr(struct vsock *v, uint64_t gpa);
uint64_t vsock_hva(struct vsock *v, uint64_t gpa);
uint64_t vsock_buf_gpa(struct vsock *v, unsigned int q, unsigned int id);
uint64_t vsock_addr(struct vsock *v, uint64_t gpa);
uint64_t vsock_buf_addr(struct vsock *v, unsigned int q, unsigned int id);
void vsock_mem_region(struct vsock *v, struct vhost_memory_region *r);

/*
 * Rings: kick queue @q (always); wait for its next used entry (on the call
 * eventfd, -ETIMEDOUT after @timeout_ms), which frees the descriptor; read
 * and clear the error eventfd's count.
 */
int vsock_kick(struct vsock *v, unsigned int q);
int vsock_wait_used(struct vsock *v, unsigned int q, uint32_t *id,
		    uint32_t *len, int timeout_ms);
int vsock_err_count(struct vsock *v, unsigned int q, uint64_t *count);

/*
 * Packets. RX: post buffer @id (filled with VSOCK_RX_FILL, VSOCK_BUF_LEN
 * bytes, device-writable) and kick; wait for the next used RX buffer and
 * check it: used length 44 + hdr.len, nothing written past it; the header
 * to @hdr, up to @size payload bytes to @data (-EMSGSIZE if more); its id
 * to @id; the buffer is free again (post it anew). TX: write @hdr and
 * hdr->len bytes of @data into buffer @id, post it and kick; wait for its
 * used entry (-ETIMEDOUT; the buffer stays posted); both.
 */
int vsock_rx_post(struct vsock *v, unsigned int id);
int vsock_rx_recv(struct vsock *v, unsigned int *id,
		  struct virtio_vsock_hdr *hdr, void *data, size_t size,
		  int timeout_ms);
int vsock_tx_post(struct vsock *v, unsigned int id,
		  const struct virtio_vsock_hdr *hdr, const void *data);
int vsock_tx_complete(struct vsock *v, unsigned int id, int timeout_ms);
int vsock_tx(struct vsock *v, unsigned int id,
	     const struct virtio_vsock_hdr *hdr, const void *data,
	     int timeout_ms);

/*
 * The guest's end of a stream. A header of @c from the guest (op, payload
 * length); the next packet for @c (an RX buffer is posted again once
 * read; -EPROTO for a packet of another stream or type); accept: the
 * next packet must be an OP_REQUEST of a host socket to @port, answered
 * with OP_RESPONSE from TX buffer @tx_id; send @len bytes as OP_RW packets
 * of at most VSOCK_MAX_PAYLOAD bytes; receive exactly @len payload bytes
 * of OP_RW packets (credit updates are skipped; OP_RST or OP_SHUTDOWN:
 * -ECONNRESET); expect the host's OP_SHUTDOWN and answer OP_RST (the
 * host socket is then gone at once, without the stock 8-second close
 * timeout).
 */
void vsock_hdr(struct vsock *v, const struct vsock_conn *c,
	       struct virtio_vsock_hdr *hdr, uint16_t op, uint32_t len);
int vsock_conn_recv(struct vsock *v, struct vsock_conn *c,
		    struct virtio_vsock_hdr *hdr, void *data, size_t size,
		    int timeout_ms);
int vsock_accept(struct vsock *v, struct vsock_conn *c, uint32_t port,
		 unsigned int tx_id, int timeout_ms);
int vsock_send(struct vsock *v, struct vsock_conn *c, const void *data,
	       size_t len, int timeout_ms);
int vsock_recv(struct vsock *v, struct vsock_conn *c, void *data,
	       size_t len, int timeout_ms);
int vsock_close_reset(struct vsock *v, struct vsock_conn *c, int timeout_ms);

/*
 * The host's end: an AF_VSOCK stream socket connecting to @cid:@port with
 * a blocking connect() in a thread of its own (its connect timeout raised
 * to @timeout_ms, the stock 2 seconds being too short for a slow kernel),
 * while the caller plays the guest; the end of that connect(): 0 with the
 * connected socket in h->fd, or -errno. (Not a non-blocking connect():
 * stock vsock then holds the socket, and with it vhost_vsock, until the
 * connect timeout expires, connected or not.) Then send and receive
 * exactly @len bytes.
 */
struct vsock_host_conn {
	pthread_t thread;
	bool running;
	int fd;
	struct sockaddr_vm addr;
	int err;		/* of connect(): 0 or -errno */
};

int vsock_host_connect(struct vsock_host_conn *h, uint64_t cid,
		       uint32_t port, int timeout_ms);
int vsock_host_connected(struct vsock_host_conn *h);
int vsock_host_send(int fd, const void *data, size_t len, int timeout_ms);
int vsock_host_recv(int fd, void *data, size_t len, int timeout_ms);

/* Test data: @len bytes of stream @seed */
void vsock_fill(uint8_t *p, size_t len, uint32_t seed);

#endif /* VHOST_IOMMU_SELFTEST_VSOCK_H */
