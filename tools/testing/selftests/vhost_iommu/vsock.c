// SPDX-License-Identifier: GPL-2.0
/*
 * A virtio-vsock guest driver over the stock /dev/vhost-vsock and the
 * host's AF_VSOCK sockets, for the vhost-iommu selftests. See vsock.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "vsock.h"

/* Guest memory (vwin.c) */

void *vsock_ptr(struct vsock *v, uint64_t gpa)
{
	return vwin_ptr(&v->win, gpa);
}

uint64_t vsock_hva(struct vsock *v, uint64_t gpa)
{
	return vwin_hva(&v->win, gpa);
}

uint64_t vsock_buf_gpa(struct vsock *v, unsigned int q, unsigned int id)
{
	return vwin_buf_gpa(&v->win, q, id);
}

uint64_t vsock_addr(struct vsock *v, uint64_t gpa)
{
	if (!vwin_contains(&v->win, gpa, 1))
		return VSOCK_NO_ADDR;
	return v->opts.iommu ? gpa - v->gpa_base + v->opts.iova_base : gpa;
}

uint64_t vsock_buf_addr(struct vsock *v, unsigned int q, unsigned int id)
{
	return vsock_addr(v, vsock_buf_gpa(v, q, id));
}

void vsock_mem_region(struct vsock *v, struct vhost_memory_region *r)
{
	vwin_mem_region(&v->win, r);
}

/* Setup and teardown */

int vsock_init(struct vsock *v, const struct vsock_opts *o)
{
	uint64_t cid;
	int ret;

	memset(v, 0, sizeof(*v));
	vwin_vqs_reset(v->vq, VSOCK_NQ);
	if (o)
		v->opts = *o;
	ret = vwin_init(&v->win, v->opts.gpa_base ? v->opts.gpa_base :
			VSOCK_GPA_BASE, VSOCK_MEM_SIZE, VSOCK_NUM);
	if (ret)
		return ret;
	if (v->opts.iova_base & (VSOCK_PAGE - 1))
		return vt_fail(-EINVAL, "window or IOVA base not page aligned");

	ret = vwin_map(&v->win, "vsock-guest", NULL);
	if (ret)
		return ret;
	v->fd = open(VSOCK_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return vt_fail(-errno, "open %s: %m", VSOCK_DEV_PATH);
	ret = vwin_vhost_init(&v->win, v->opts.iommu,
			      1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2);
	if (ret)
		return ret;
	cid = v->opts.cid;
	if (ioctl(v->fd, VHOST_VSOCK_SET_GUEST_CID, &cid))
		return vt_fail(-errno, "VHOST_VSOCK_SET_GUEST_CID %llu: %m",
			       (unsigned long long)cid);
	return vwin_vqs_open(v->vq, VSOCK_NQ, VSOCK_NUM);
}

/* Ring @q at IOVAs with iommu, else at the kernel view's addresses */
static int ring_setup(struct vsock *v, unsigned int q)
{
	uint64_t gpa[3], addr[3];
	unsigned int i;

	vwin_ring_gpa(&v->win, q, gpa);
	for (i = 0; i < 3; i++)
		addr[i] = v->opts.iommu ? vsock_addr(v, gpa[i]) :
					  vsock_hva(v, gpa[i]);
	return vwin_ring_setup(&v->win, &v->vq[q], q, VSOCK_NUM, addr);
}

int vsock_start(struct vsock *v)
{
	unsigned int q;
	int ret;

	for (q = 0; q < VSOCK_NQ; q++) {
		ret = ring_setup(v, q);
		if (ret)
			return ret;
	}
	v->started = true;
	return 0;
}

int vsock_set_running(struct vsock *v, int start, int timeout_ms)
{
	uint64_t end = vt_now_ms() + timeout_ms, c;
	unsigned int efault = 0, q;

	/*
	 * Starting writes the used rings' flags through the device IOTLB:
	 * EFAULT, with a MISS queued, until whoever serves misses answers.
	 */
	while (ioctl(v->fd, VHOST_VSOCK_SET_RUNNING, &start)) {
		if (errno != EFAULT || !v->opts.iommu || vt_now_ms() >= end)
			return vt_fail(-errno, "VHOST_VSOCK_SET_RUNNING %d: %m",
				       start);
		v->running_efault++;
		efault++;
		usleep(2000);
	}
	/* The failed attempts signalled the error eventfds: expected. */
	for (q = 0; efault && q < VSOCK_NQ; q++)
		vsock_err_count(v, q, &c);
	return 0;
}

void vsock_close_vhost(struct vsock *v)
{
	vt_close_fd(&v->fd);
}

void vsock_fini(struct vsock *v)
{
	vsock_close_vhost(v);
	vwin_vqs_fini(v->vq, VSOCK_NQ);
	vwin_unmap(&v->win);
	v->started = false;
}

/* Rings */

int vsock_kick(struct vsock *v, unsigned int q)
{
	return vwin_kick(&v->vq[q]);
}

int vsock_wait_used(struct vsock *v, unsigned int q, uint32_t *id,
		    uint32_t *len, int timeout_ms)
{
	return vwin_wait_used(&v->vq[q], id, len, timeout_ms);
}

int vsock_err_count(struct vsock *v, unsigned int q, uint64_t *count)
{
	return vwin_err_count(&v->vq[q], count);
}

static int post(struct vsock *v, unsigned int q, unsigned int id,
		uint32_t len, uint16_t flags)
{
	uint64_t addr = vsock_buf_addr(v, q, id);

	if (!v->started)
		return vt_fail(-EINVAL, "vsock_start() first");
	if (id >= VSOCK_NUM)
		return vt_fail(-EINVAL, "queue %u: descriptor %u", q, id);
	return vq_post_id(&v->vq[q], id, addr, len, flags);
}

/* Packets */

int vsock_rx_post(struct vsock *v, unsigned int id)
{
	int ret;

	if (id >= VSOCK_NUM)
		return vt_fail(-EINVAL, "RX id %u", id);
	memset(vsock_ptr(v, vsock_buf_gpa(v, VSOCK_RXQ, id)), VSOCK_RX_FILL,
	       VSOCK_BUF_LEN);
	ret = post(v, VSOCK_RXQ, id, VSOCK_BUF_LEN, VRING_DESC_F_WRITE);
	return ret ? ret : vsock_kick(v, VSOCK_RXQ);
}

int vsock_rx_recv(struct vsock *v, unsigned int *id,
		  struct virtio_vsock_hdr *hdr, void *data, size_t size,
		  int timeout_ms)
{
	const uint8_t *b;
	uint32_t uid, len, plen, i;
	int ret;

	ret = vsock_wait_used(v, VSOCK_RXQ, &uid, &len, timeout_ms);
	if (ret)
		return vt_fail_ctx(ret, "RX");
	*id = uid;
	b = vsock_ptr(v, vsock_buf_gpa(v, VSOCK_RXQ, uid));
	if (len < VSOCK_HDR_LEN || len > VSOCK_BUF_LEN)
		return vt_fail(-EBADMSG, "RX buffer %u: used length %u", uid,
			       len);
	memcpy(hdr, b, VSOCK_HDR_LEN);
	plen = le32toh(hdr->len);
	if (len != VSOCK_HDR_LEN + plen)
		return vt_fail(-EBADMSG,
			       "RX buffer %u: used length %u, header says %u + %u",
			       uid, len, (unsigned int)VSOCK_HDR_LEN, plen);
	for (i = len; i < VSOCK_BUF_LEN; i++)
		if (b[i] != VSOCK_RX_FILL)
			return vt_fail(-EBADMSG,
				       "RX buffer %u: byte %u past the packet written",
				       uid, i);
	if (plen > size)
		return vt_fail(-EMSGSIZE, "RX buffer %u: %u payload bytes, room for %zu",
			       uid, plen, size);
	if (plen)
		memcpy(data, b + VSOCK_HDR_LEN, plen);
	return plen;
}

int vsock_tx_post(struct vsock *v, unsigned int id,
		  const struct virtio_vsock_hdr *hdr, const void *data)
{
	uint32_t plen = le32toh(hdr->len);
	uint8_t *b;
	int ret;

	if (id >= VSOCK_NUM || plen > VSOCK_MAX_PAYLOAD)
		return vt_fail(-EINVAL, "TX buffer %u: %u payload bytes", id,
			       plen);
	b = vsock_ptr(v, vsock_buf_gpa(v, VSOCK_TXQ, id));
	memcpy(b, hdr, VSOCK_HDR_LEN);
	if (plen)
		memcpy(b + VSOCK_HDR_LEN, data, plen);
	ret = post(v, VSOCK_TXQ, id, VSOCK_HDR_LEN + plen, 0);
	return ret ? ret : vsock_kick(v, VSOCK_TXQ);
}

int vsock_tx_complete(struct vsock *v, unsigned int id, int timeout_ms)
{
	uint32_t uid, len;
	int ret;

	ret = vsock_wait_used(v, VSOCK_TXQ, &uid, &len, timeout_ms);
	if (ret)
		return vt_fail_ctx(ret, "TX");
	if (uid != id)
		return vt_fail(-EPROTO, "TX used id %u, expected %u", uid, id);
	return 0;
}

int vsock_tx(struct vsock *v, unsigned int id,
	     const struct virtio_vsock_hdr *hdr, const void *data,
	     int timeout_ms)
{
	int ret = vsock_tx_post(v, id, hdr, data);

	return ret ? ret : vsock_tx_complete(v, id, timeout_ms);
}

/* The guest's end of a stream */

void vsock_hdr(struct vsock *v, const struct vsock_conn *c,
	       struct virtio_vsock_hdr *hdr, uint16_t op, uint32_t len)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = htole64(v->opts.cid);
	hdr->dst_cid = htole64(VSOCK_HOST_CID);
	hdr->src_port = htole32(c->guest_port);
	hdr->dst_port = htole32(c->host_port);
	hdr->len = htole32(len);
	hdr->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	hdr->op = htole16(op);
	hdr->buf_alloc = htole32(VSOCK_GUEST_BUF_ALLOC);
	hdr->fwd_cnt = htole32(c->fwd_cnt);
}

/* A packet of the host to the guest's CID, on a stream */
static int check_addr(struct vsock *v, const struct virtio_vsock_hdr *hdr)
{
	if (le64toh(hdr->src_cid) != VSOCK_HOST_CID ||
	    le64toh(hdr->dst_cid) != v->opts.cid)
		return vt_fail(-EPROTO, "packet from CID %llu to %llu",
			       (unsigned long long)le64toh(hdr->src_cid),
			       (unsigned long long)le64toh(hdr->dst_cid));
	if (le16toh(hdr->type) != VIRTIO_VSOCK_TYPE_STREAM)
		return vt_fail(-EPROTO, "packet of type %u",
			       le16toh(hdr->type));
	return 0;
}

int vsock_conn_recv(struct vsock *v, struct vsock_conn *c,
		    struct virtio_vsock_hdr *hdr, void *data, size_t size,
		    int timeout_ms)
{
	unsigned int id;
	int ret, plen;

	plen = vsock_rx_recv(v, &id, hdr, data, size, timeout_ms);
	if (plen < 0)
		return plen;
	ret = vsock_rx_post(v, id);
	if (ret)
		return ret;
	ret = check_addr(v, hdr);
	if (ret)
		return ret;
	if (le32toh(hdr->src_port) != c->host_port ||
	    le32toh(hdr->dst_port) != c->guest_port)
		return vt_fail(-EPROTO, "packet from port %u to %u, expected %u to %u",
			       le32toh(hdr->src_port), le32toh(hdr->dst_port),
			       c->host_port, c->guest_port);
	return plen;
}

int vsock_accept(struct vsock *v, struct vsock_conn *c, uint32_t port,
		 unsigned int tx_id, int timeout_ms)
{
	struct virtio_vsock_hdr hdr;
	unsigned int id;
	int ret;

	memset(c, 0, sizeof(*c));
	c->guest_port = port;
	c->tx_id = tx_id;
	ret = vsock_rx_recv(v, &id, &hdr, NULL, 0, timeout_ms);
	if (ret < 0)
		return vt_fail_ctx(ret, "waiting for OP_REQUEST");
	ret = vsock_rx_post(v, id);
	if (!ret)
		ret = check_addr(v, &hdr);
	if (ret)
		return ret;
	if (le16toh(hdr.op) != VIRTIO_VSOCK_OP_REQUEST ||
	    le32toh(hdr.dst_port) != port)
		return vt_fail(-EPROTO, "op %u to port %u, expected a request to %u",
			       le16toh(hdr.op), le32toh(hdr.dst_port), port);
	c->host_port = le32toh(hdr.src_port);
	vsock_hdr(v, c, &hdr, VIRTIO_VSOCK_OP_RESPONSE, 0);
	ret = vsock_tx(v, tx_id, &hdr, NULL, timeout_ms);
	return ret ? vt_fail_ctx(ret, "OP_RESPONSE") : 0;
}

int vsock_send(struct vsock *v, struct vsock_conn *c, const void *data,
	       size_t len, int timeout_ms)
{
	struct virtio_vsock_hdr hdr;
	const uint8_t *p = data;
	size_t n;
	int ret;

	while (len) {
		n = len < VSOCK_MAX_PAYLOAD ? len : VSOCK_MAX_PAYLOAD;
		vsock_hdr(v, c, &hdr, VIRTIO_VSOCK_OP_RW, n);
		ret = vsock_tx(v, c->tx_id, &hdr, p, timeout_ms);
		if (ret)
			return vt_fail_ctx(ret, "OP_RW");
		p += n;
		len -= n;
	}
	return 0;
}

int vsock_recv(struct vsock *v, struct vsock_conn *c, void *data,
	       size_t len, int timeout_ms)
{
	uint8_t buf[VSOCK_MAX_PAYLOAD];
	struct virtio_vsock_hdr hdr;
	uint8_t *p = data;
	size_t got = 0;
	int n;

	while (got < len) {
		n = vsock_conn_recv(v, c, &hdr, buf, sizeof(buf), timeout_ms);
		if (n < 0)
			return n;
		switch (le16toh(hdr.op)) {
		case VIRTIO_VSOCK_OP_RW:
			break;
		case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
			continue;
		case VIRTIO_VSOCK_OP_RST:
		case VIRTIO_VSOCK_OP_SHUTDOWN:
			return vt_fail(-ECONNRESET, "op %u after %zu of %zu bytes",
				       le16toh(hdr.op), got, len);
		default:
			return vt_fail(-EPROTO, "op %u", le16toh(hdr.op));
		}
		if ((size_t)n > len - got)
			return vt_fail(-EMSGSIZE, "%d bytes, %zu expected", n,
				       len - got);
		memcpy(p + got, buf, n);
		got += n;
		c->fwd_cnt += n;
	}
	return 0;
}

int vsock_close_reset(struct vsock *v, struct vsock_conn *c, int timeout_ms)
{
	struct virtio_vsock_hdr hdr;
	int n;

	do {
		n = vsock_conn_recv(v, c, &hdr, NULL, 0, timeout_ms);
		if (n < 0)
			return vt_fail_ctx(n, "waiting for OP_SHUTDOWN");
	} while (le16toh(hdr.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	if (le16toh(hdr.op) != VIRTIO_VSOCK_OP_SHUTDOWN)
		return vt_fail(-EPROTO, "op %u, expected a shutdown",
			       le16toh(hdr.op));
	vsock_hdr(v, c, &hdr, VIRTIO_VSOCK_OP_RST, 0);
	n = vsock_tx(v, c->tx_id, &hdr, NULL, timeout_ms);
	return n ? vt_fail_ctx(n, "OP_RST") : 0;
}

/* The host's end */

static void *connect_main(void *arg)
{
	struct vsock_host_conn *h = arg;

	if (connect(h->fd, (struct sockaddr *)&h->addr, sizeof(h->addr)))
		h->err = -errno;
	return NULL;
}

int vsock_host_connect(struct vsock_host_conn *h, uint64_t cid,
		       uint32_t port, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	int ret;

	memset(h, 0, sizeof(*h));
	h->addr.svm_family = AF_VSOCK;
	h->addr.svm_cid = cid;
	h->addr.svm_port = port;
	h->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return vt_fail(-errno, "socket AF_VSOCK: %m");
	if (setsockopt(h->fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
		       sizeof(tv)))
		return vt_fail(-errno, "SO_VM_SOCKETS_CONNECT_TIMEOUT: %m");
	ret = pthread_create(&h->thread, NULL, connect_main, h);
	if (ret)
		return vt_fail(-ret, "pthread_create: %s", strerror(ret));
	h->running = true;
	return 0;
}

int vsock_host_connected(struct vsock_host_conn *h)
{
	if (!h->running)
		return vt_fail(-EINVAL, "no connect() running");
	pthread_join(h->thread, NULL);
	h->running = false;
	if (h->err)
		return vt_fail(h->err, "connect to %u:%u: %s", h->addr.svm_cid,
			       h->addr.svm_port, strerror(-h->err));
	return 0;
}

/* Waits for @events on @fd until @end (ms) */
static int wait_fd(int fd, short events, uint64_t end)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now = vt_now_ms();
	int ret;

	if (now >= end)
		return -ETIMEDOUT;
	ret = poll(&p, 1, end - now);
	if (ret < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int vsock_host_send(int fd, const void *data, size_t len, int timeout_ms)
{
	uint64_t end = vt_now_ms() + timeout_ms;
	const uint8_t *p = data;
	ssize_t n;
	int ret;

	while (len) {
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return vt_fail(-errno, "send: %m");
		ret = wait_fd(fd, POLLOUT, end);
		if (ret)
			return vt_fail(ret, "send: %zu bytes left after %d ms",
				       len, timeout_ms);
	}
	return 0;
}

int vsock_host_recv(int fd, void *data, size_t len, int timeout_ms)
{
	uint64_t end = vt_now_ms() + timeout_ms;
	uint8_t *p = data;
	ssize_t n;
	int ret;

	while (len) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (!n)
			return vt_fail(-ECONNRESET, "recv: end of stream, %zu bytes missing",
				       len);
		if (errno != EAGAIN && errno != EINTR)
			return vt_fail(-errno, "recv: %m");
		ret = wait_fd(fd, POLLIN, end);
		if (ret)
			return vt_fail(ret, "recv: %zu bytes missing after %d ms",
				       len, timeout_ms);
	}
	return 0;
}

void vsock_fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}
