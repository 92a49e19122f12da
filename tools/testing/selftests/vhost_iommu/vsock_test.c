// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the device IOTLB of the stock vhost-vsock served
 * in the kernel (VHOST_IOMMU_BIND_DEVICE), as bridge_test does for
 * vhost-net. A host AF_VSOCK stream socket connects to the guest's CID;
 * the guest side (vsock.c) reads and writes vhost-vsock's rings and
 * buffers at IOVAs that MAP requests on vhost-iommu's request queue
 * mapped; faults come back on the event queue.
 *
 * Every test uses its own guest CID (VSOCK_TEST_CID: the harness runs each
 * test in a process of its own), so a CID a test left registered never
 * meets another test.
 *
 * Waits on something that must happen are hang guards (T); a check that
 * something does not happen looks for ABSENT_MS, which can only let a bug
 * through, never fail a correct kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm.h"
#include "vmm_test.h"
#include "bind_test.h"
#include "vsock.h"

/* A hang guard, never a measurement */
#define T		60000
/* Long enough to see that something does not happen */
#define ABSENT_MS	500
#define EP		8
#define D		1
#define RW		(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define F_R		VIRTIO_IOMMU_FAULT_F_READ
#define F_W		VIRTIO_IOMMU_FAULT_F_WRITE
#define F_ADDR		VIRTIO_IOMMU_FAULT_F_ADDRESS
#define EVENTS		64	/* fault buffers kept posted */
#define PUSH		"push_on_map"
#define PORT		1234	/* the guest's port */
#define VSOCK_REFCNT	"/sys/module/vhost_vsock/refcnt"
/* A CID of this test's own (>= 3, below VMADDR_CID_ANY) */
#define VSOCK_TEST_CID	(0x10000ULL + (uint64_t)getpid())

/*
 * The layout: IOVA = GPA - window base + IOVA_BASE (never the GPA), one
 * mapping per ring, one for RX buffers 0 .. VICTIM - 1, one for RX buffer
 * VICTIM, the same for TX.
 */
#define VICTIM		(VSOCK_NUM - 1)
#define IOVA_BASE	0x700000000ULL
#define NMAPS		6

/* vhost-iommu and a vhost-vsock device behind endpoint EP */
struct vsg {
	struct vmm iommu;
	struct vsock vs;
	struct vsock_conn c;
	int host;		/* the host's socket, -1 */
	bool iommu_init, vs_init;
};

static uint64_t iova_of(struct vsg *g, uint64_t gpa)
{
	return vsock_addr(&g->vs, gpa);
}

static uint64_t buf_iova(struct vsg *g, unsigned int q, unsigned int id)
{
	return vsock_buf_addr(&g->vs, q, id);
}

static int map(struct vsg *g, uint64_t gpa, uint64_t size)
{
	uint64_t iova = iova_of(g, gpa);
	int ret;

	ret = vmm_map(&g->iommu, D, iova, iova + size - 1, gpa, RW);
	if (ret > 0)
		return vt_fail(-EIO, "MAP %#llx: status %d",
			       (unsigned long long)iova, ret);
	return ret;
}

static int unmap(struct vsg *g, uint64_t gpa, uint64_t size)
{
	uint64_t iova = iova_of(g, gpa);
	int ret;

	ret = vmm_unmap(&g->iommu, D, iova, iova + size - 1);
	if (ret > 0)
		return vt_fail(-EIO, "UNMAP %#llx: status %d",
			       (unsigned long long)iova, ret);
	return ret;
}

static int map_layout(struct vsg *g)
{
	struct vsock *v = &g->vs;
	unsigned int q;
	int ret = 0;

	for (q = 0; q < VSOCK_NQ && !ret; q++)
		ret = map(g, v->gpa_base + VSOCK_RING_OFF(q), VSOCK_RING_SIZE);
	for (q = 0; q < VSOCK_NQ && !ret; q++) {
		ret = map(g, vsock_buf_gpa(v, q, 0), VICTIM * VSOCK_PAGE);
		if (!ret)
			ret = map(g, vsock_buf_gpa(v, q, VICTIM), VSOCK_PAGE);
	}
	return ret;
}

/*
 * vhost-vsock with ACCESS_PLATFORM and its CID; vhost-iommu with the
 * vsock window in its memory table, fault buffers posted, endpoint EP
 * attached to domain D, the layout mapped; with @bypass, EP attached
 * with ATTACH_F_BYPASS instead, IOVA = GPA, nothing mapped.
 */
static int vsg_init(struct vsg *g, uint64_t cid, bool bypass)
{
	struct vsock_opts so = {
		.iommu = true, .cid = cid,
		.iova_base = bypass ? VSOCK_GPA_BASE : IOVA_BASE,
	};
	struct vmm_opts mo = { .nextra = 1 };
	int ret;

	memset(g, 0, sizeof(*g));
	g->host = -1;
	g->vs_init = true;
	ret = vsock_init(&g->vs, &so);
	if (ret)
		return ret;
	vsock_mem_region(&g->vs, &mo.extra[0]);
	g->iommu_init = true;
	ret = vmm_init(&g->iommu, &mo);
	if (!ret)
		ret = vmm_event_post(&g->iommu, EVENTS,
				     sizeof(struct virtio_iommu_fault));
	if (!ret)
		ret = vmm_add_endpoint(g->iommu.fd, EP, NULL, 0);
	if (ret)
		return ret;
	ret = vmm_attach(&g->iommu, D, EP,
			 bypass ? VIRTIO_IOMMU_ATTACH_F_BYPASS : 0);
	if (ret > 0)
		return vt_fail(-EIO, "ATTACH: status %d", ret);
	return ret || bypass ? ret : map_layout(g);
}

/* The rings, BIND_DEVICE, SET_RUNNING (retried while its misses wait) */
static int vsg_start(struct vsg *g)
{
	struct vhost_iommu_bind b = {
		.size = sizeof(b), .endpoint = EP, .fd = g->vs.fd,
	};
	int ret;

	ret = vsock_start(&g->vs);
	if (ret)
		return ret;
	if (ioctl(g->iommu.fd, VHOST_IOMMU_BIND_DEVICE, &b))
		return vt_fail(-errno, "VHOST_IOMMU_BIND_DEVICE: %m");
	return vsock_set_running(&g->vs, 1, T);
}

/*
 * The host connects to the guest's PORT, the guest accepts (RX buffers 0
 * and VICTIM posted, TX buffer 0 for its packets), the host is connected.
 */
static int vsg_connect(struct vsg *g)
{
	struct vsock_host_conn h;
	int ret;

	ret = vsock_rx_post(&g->vs, 0);
	if (ret)
		return ret;
	ret = vsock_host_connect(&h, g->vs.opts.cid, PORT, T);
	g->host = h.fd;
	if (ret)
		return ret;
	ret = vsock_accept(&g->vs, &g->c, PORT, 0, T);
	/* connect() ends once answered, or at its timeout (a hang guard) */
	if (ret)
		vsock_host_connected(&h);
	else
		ret = vsock_host_connected(&h);
	return ret;
}

/*
 * vhost-iommu first (it holds the bound vhost-vsock file), then
 * vhost-vsock (its release resets the host sockets connected to it), then
 * the host's socket.
 */
static void vsg_fini(struct vsg *g)
{
	if (g->iommu_init)
		vmm_fini(&g->iommu);
	g->iommu_init = false;
	if (g->vs_init)
		vsock_fini(&g->vs);
	g->vs_init = false;
	if (g->host >= 0)
		close(g->host);
	g->host = -1;
}

/* @len bytes of stream @seed, host -> guest, compared */
static int host_to_guest(struct vsg *g, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len), *got = malloc(len);
	int ret = -ENOMEM;

	if (want && got) {
		vsock_fill(want, len, seed);
		memset(got, 0, len);
		ret = vsock_host_send(g->host, want, len, T);
		if (!ret)
			ret = vsock_recv(&g->vs, &g->c, got, len, T);
		if (!ret && memcmp(want, got, len))
			ret = vt_fail(-EBADMSG, "host -> guest: %zu bytes differ",
				      len);
	}
	free(want);
	free(got);
	return ret;
}

/* @len bytes of stream @seed, guest -> host, compared */
static int guest_to_host(struct vsg *g, size_t len, uint32_t seed)
{
	uint8_t *want = malloc(len), *got = malloc(len);
	int ret = -ENOMEM;

	if (want && got) {
		vsock_fill(want, len, seed);
		memset(got, 0, len);
		ret = vsock_send(&g->vs, &g->c, want, len, T);
		if (!ret)
			ret = vsock_host_recv(g->host, got, len, T);
		if (!ret && memcmp(want, got, len))
			ret = vt_fail(-EBADMSG, "guest -> host: %zu bytes differ",
				      len);
	}
	free(want);
	free(got);
	return ret;
}

/* The next fault report must come (hang guard) and be this one */
static void expect_fault(struct __test_metadata *_metadata, struct vsg *g,
			 uint8_t reason, uint32_t flags, uint64_t addr)
{
	struct virtio_iommu_fault f;
	uint32_t len;

	ASSERT_EQ(0, vmm_event_read(&g->iommu, &f, &len, T))
		TH_LOG("no fault report: %s", vt_errmsg);
	ASSERT_EQ(0, vmm_event_post(&g->iommu, 1, sizeof(f)));
	EXPECT_EQ(sizeof(f), len);
	EXPECT_EQ(reason, f.reason);
	EXPECT_EQ(flags, le32toh(f.flags));
	EXPECT_EQ(EP, le32toh(f.endpoint));
	EXPECT_EQ(addr, le64toh(f.address));
}

static void no_ring_errors(struct __test_metadata *_metadata, struct vsg *g)
{
	unsigned int q;
	uint64_t c;

	for (q = 0; q < VSOCK_NQ; q++) {
		test_cmd(vsock_err_count(&g->vs, q, &c));
		EXPECT_EQ(0, c) TH_LOG("queue %u error", q);
	}
}

/*
 * No payload reaches the guest within ABSENT_MS; credit updates may (the
 * stock host sends one whenever its socket's receive queue runs empty):
 * 0, or -EEXIST.
 */
static int no_rx_data(struct vsg *g)
{
	struct virtio_vsock_hdr hdr;
	int n;

	for (;;) {
		n = vsock_conn_recv(&g->vs, &g->c, &hdr, NULL, 0, ABSENT_MS);
		if (n == -ETIMEDOUT)
			return 0;
		if (n < 0)
			return n == -EMSGSIZE ? -EEXIST : n;
		if (le16toh(hdr.op) != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			return vt_fail(-EEXIST, "op %u reached the guest",
				       le16toh(hdr.op));
	}
}

/* Whether the host socket has nothing to read within ABSENT_MS */
static bool host_quiet(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ABSENT_MS) == 0;
}

static int open_vsock(int flags, bool owner)
{
	return bind_open_vhost(VSOCK_DEV_PATH, flags, owner);
}

/* The module's reference count (open files, sockets), -1 if none */
static long vsock_refcnt(void)
{
	char buf[32];
	long n = -1;
	int fd = open(VSOCK_REFCNT, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	if (len > 0) {
		buf[len] = 0;
		n = strtol(buf, NULL, 10);
	}
	close(fd);
	return n;
}

/* Waits (a hang guard) until the module's count is back to @want */
static long vsock_refcnt_wait(long want)
{
	long n = vsock_refcnt();
	int i;

	for (i = 0; i < T / 10 && n != want; i++) {
		usleep(10000);
		n = vsock_refcnt();
	}
	return n;
}

/*
 * Binding errors and bookkeeping (bind_test.h): a vhost-iommu device with
 * an owner and endpoint EP, a vhost-vsock device this process owns
 * (self->dev).
 */
FIXTURE(bind) {
	int fd;		/* vhost-iommu */
	int dev;	/* vhost-vsock, owned */
};

FIXTURE_SETUP(bind)
{
	bind_fixture_setup(_metadata, &self->fd, &self->dev, VSOCK_DEV_PATH, EP);
}

FIXTURE_TEARDOWN(bind)
{
	bind_fixture_teardown(self->fd, self->dev);
}

TEST_F(bind, bind_unbind)
{
	/* Bound, unbound, bound under the first names (aliases), unbound */
	bind_check_bind_unbind(_metadata, self->fd, EP, self->dev);
	test_cmd_unbind_net(self->fd, EP, self->dev);
	EXPECT_EQ(0, vmm_stat(self->fd, bound));
}

/* One vhost-vsock device to one endpoint of one vhost-iommu device */
TEST_F(bind, double_bind)
{
	bind_check_double(_metadata, self->fd, EP, self->dev);
}

/* Opened read-only, write-only, O_PATH */
TEST_F(bind, fd_not_read_write)
{
	bind_check_not_read_write(_metadata, self->fd, EP, VSOCK_DEV_PATH);
}

TEST_F(bind, no_owner)
{
	bind_check_no_owner(_metadata, self->fd, EP, VSOCK_DEV_PATH);
}

/*
 * A vhost-vsock file opened here but owned by another process (a child
 * that shares the file), alive and then exited: EPERM both times.
 */
TEST_F(bind, foreign_owner)
{
	int vs = open_vsock(O_RDWR, false);
	int go[2], done[2];
	pid_t pid;
	char c = 0;

	ASSERT_LE(0, vs);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(go[0]);
		close(done[1]);
		if (ioctl(vs, VHOST_SET_OWNER, NULL) ||
		    write(go[1], &c, 1) != 1)
			_exit(1);
		/* Owner until the parent has tried */
		while (read(done[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	ASSERT_EQ(1, read(go[0], &c, 1));
	EXPECT_EQ(-EPERM, vmm_bind_dev(self->fd, EP, vs));
	EXPECT_EQ(0, vmm_stat(self->fd, bound));
	/* The device is the child's: this process cannot own it either. */
	EXPECT_EQ(-1, ioctl(vs, VHOST_SET_OWNER, NULL));
	close(done[1]);
	EXPECT_EQ(0, bind_reap(pid));
	EXPECT_EQ(-EPERM, vmm_bind_dev(self->fd, EP, vs));
	EXPECT_EQ(0, vmm_stat(self->fd, bound));
	close(go[0]);
	close(vs);
}

/* The caller must own the vhost-iommu device (a child shares its fd) */
TEST_F(bind, iommu_not_owner)
{
	bind_check_child_not_owner(_metadata, self->fd, EP, VSOCK_DEV_PATH);
}

/* vhost-net and vhost-vsock behind the same device and endpoint */
TEST_F(bind, with_vhost_net)
{
	int net = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, net);
	ASSERT_EQ(0, ioctl(net, VHOST_SET_OWNER, NULL));
	test_cmd_add_endpoint(self->fd, EP + 1, NULL, 0);
	EXPECT_EQ(0, vmm_bind_dev(self->fd, EP, net));
	EXPECT_EQ(0, vmm_bind_dev(self->fd, EP, self->dev));
	EXPECT_EQ(2, vmm_stat(self->fd, bound));
	/* Bound, but to another endpoint */
	EXPECT_EQ(-ENOENT, vmm_unbind_dev(self->fd, EP + 1, self->dev));
	EXPECT_EQ(0, vmm_unbind_dev(self->fd, EP, self->dev));
	EXPECT_EQ(-ENOENT, vmm_unbind_dev(self->fd, EP, self->dev));
	EXPECT_EQ(1, vmm_stat(self->fd, bound));
	close(net);
}

/* Binding sets O_NONBLOCK, unbinding and DEL_ENDPOINT restore it */
TEST_F(bind, nonblock_and_del_endpoint)
{
	bind_check_nonblock(_metadata, self->fd, EP, self->dev);

	ASSERT_EQ(0, vmm_bind_dev(self->fd, EP, self->dev));
	test_cmd_del_endpoint(self->fd, EP);
	EXPECT_EQ(0, vmm_stat(self->fd, bound));
	EXPECT_EQ(0, bind_nonblock(self->dev));
	EXPECT_EQ(-ENOENT, vmm_unbind_dev(self->fd, EP, self->dev));
	EXPECT_EQ(-ENODEV, vmm_bind_dev(self->fd, EP, self->dev));
}

/*
 * A guest connection through the IOVA layout, every miss served by the
 * kernel (push_on_map off: each mapping costs a miss on first use).
 */
FIXTURE(vsock) {
	struct vsg g;
	struct vhost_iommu_stats s0;	/* before the start */
	long long push;
};

FIXTURE_SETUP(vsock)
{
	self->push = -1;
	test_param_set(_metadata, PUSH, 0, &self->push);
	test_cmd(vsg_init(&self->g, VSOCK_TEST_CID, false));
	self->s0 = vmm_stats(self->g.iommu.fd);
	test_cmd(vsg_start(&self->g));
	test_cmd(vsg_connect(&self->g));
}

FIXTURE_TEARDOWN(vsock)
{
	vsg_fini(&self->g);
	test_param_restore(PUSH, self->push);
}

/*
 * The connection (OP_REQUEST read through the IOVA mapping, OP_RESPONSE
 * written back), then bytes both ways, compared: one byte, a full buffer,
 * a packet split over buffers by vhost-vsock. vhost-vsock never saw a GPA;
 * the kernel read and answered its misses; nothing faulted.
 */
TEST_F_TIMEOUT(vsock, traffic, 300)
{
	struct vsg *g = &self->g;
	struct vhost_iommu_stats s;

	EXPECT_NE(g->vs.gpa_base, iova_of(g, g->vs.gpa_base));
	EXPECT_EQ(1, vmm_stat(g->iommu.fd, bound));
	test_cmd(host_to_guest(g, 1, 1));
	test_cmd(host_to_guest(g, VSOCK_MAX_PAYLOAD, 2));
	test_cmd(host_to_guest(g, 3 * VSOCK_MAX_PAYLOAD + 100, 3));
	test_cmd(guest_to_host(g, 1, 4));
	test_cmd(guest_to_host(g, 10000, 5));
	/* The buffers of the RX and TX mappings that no packet used yet */
	test_cmd(vsock_rx_post(&g->vs, 1));
	test_cmd(host_to_guest(g, 20000, 6));
	g->c.tx_id = 2;
	test_cmd(guest_to_host(g, 20000, 7));

	s = vmm_stats(g->iommu.fd);
	EXPECT_LT(self->s0.iotlb_misses, s.iotlb_misses);
	EXPECT_LT(self->s0.iotlb_served, s.iotlb_served);
	EXPECT_LE(s.iotlb_served, s.iotlb_misses);
	EXPECT_LT(self->s0.iotlb_updates, s.iotlb_updates);
	EXPECT_EQ(0, s.faults);
	EXPECT_EQ(0, s.iotlb_errors);
	no_ring_errors(_metadata, g);
	TH_LOG("%llu misses, %llu served, %llu updates; SET_RUNNING failed %u times",
	       (unsigned long long)s.iotlb_misses,
	       (unsigned long long)s.iotlb_served,
	       (unsigned long long)s.iotlb_updates, g->vs.running_efault);
}

/*
 * UNMAP of the RX buffer vhost-vsock last wrote: the translation it was
 * given is invalidated before the request completes; the next packet for
 * the guest faults (WRITE, at the buffer's IOVA) and waits in
 * vhost-vsock, the buffer untouched; the MAP of the same range answers
 * the miss and the packet lands, without a kick from the guest. A packet
 * sent while it waits (vhost-vsock runs its RX handler again, and misses
 * again) follows it in order.
 */
TEST_F_TIMEOUT(vsock, unmap_rx_buffer, 300)
{
	struct vsg *g = &self->g;
	struct vsock *v = &g->vs;
	uint64_t gpa = vsock_buf_gpa(v, VSOCK_RXQ, VICTIM);
	uint8_t want[200], got[200];
	struct vhost_iommu_stats s0, s1;
	const uint8_t *b = vsock_ptr(v, gpa);
	uint32_t id, len;
	unsigned int i;

	vsock_fill(want, sizeof(want), 3);
	/* Only the victim posted from here on: it carries every packet. */
	test_cmd(vsock_rx_post(v, VICTIM));
	test_cmd(host_to_guest(g, 100, 1));	/* in buffer 0 */
	test_cmd(host_to_guest(g, 100, 2));	/* in the victim */
	/* Buffer 0 was posted again; take it off the ring for good. */
	test_cmd(vsock_host_send(g->host, &b[0], 1, T));
	test_cmd(vsock_wait_used(v, VSOCK_RXQ, &id, &len, T));
	ASSERT_EQ(0, id);
	ASSERT_EQ(VSOCK_HDR_LEN + 1, len);
	g->c.fwd_cnt += 1;
	s0 = vmm_stats(g->iommu.fd);
	test_cmd(unmap(g, gpa, VSOCK_PAGE));
	s1 = vmm_stats(g->iommu.fd);
	EXPECT_LT(s0.iotlb_invalidations, s1.iotlb_invalidations);

	test_cmd(vsock_host_send(g->host, want, 100, T));
	expect_fault(_metadata, g, VIRTIO_IOMMU_FAULT_R_MAPPING, F_W | F_ADDR,
		     buf_iova(g, VSOCK_RXQ, VICTIM));
	EXPECT_LT(s1.faults, vmm_stats(g->iommu.fd).faults);
	EXPECT_EQ(-ETIMEDOUT, vsock_wait_used(v, VSOCK_RXQ, &id, &len,
					      ABSENT_MS));
	for (i = 0; i < VSOCK_BUF_LEN; i++)
		ASSERT_EQ(VSOCK_RX_FILL, b[i]) TH_LOG("byte %u written", i);
	/* More for the guest while the first waits */
	test_cmd(vsock_host_send(g->host, want + 100, 100, T));
	EXPECT_EQ(-ETIMEDOUT, vsock_wait_used(v, VSOCK_RXQ, &id, &len,
					      ABSENT_MS));

	test_cmd(map(g, gpa, VSOCK_PAGE));
	test_cmd(vsock_recv(v, &g->c, got, sizeof(got), T));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	test_cmd(host_to_guest(g, 5000, 4));
	test_cmd(guest_to_host(g, 5000, 5));
	no_ring_errors(_metadata, g);
}

/*
 * UNMAP of the TX buffer vhost-vsock last read: a packet posted there
 * faults (READ) and does not reach the host socket; the MAP sends it.
 */
TEST_F_TIMEOUT(vsock, unmap_tx_buffer, 300)
{
	struct vsg *g = &self->g;
	struct vsock *v = &g->vs;
	uint64_t gpa = vsock_buf_gpa(v, VSOCK_TXQ, VICTIM);
	struct virtio_vsock_hdr hdr;
	uint8_t want[300], got[300];
	struct vhost_iommu_stats s0;

	g->c.tx_id = VICTIM;
	test_cmd(guest_to_host(g, 1000, 1));
	s0 = vmm_stats(g->iommu.fd);
	test_cmd(unmap(g, gpa, VSOCK_PAGE));
	EXPECT_LT(s0.iotlb_invalidations,
		  vmm_stats(g->iommu.fd).iotlb_invalidations);

	vsock_fill(want, sizeof(want), 2);
	vsock_hdr(v, &g->c, &hdr, VIRTIO_VSOCK_OP_RW, sizeof(want));
	test_cmd(vsock_tx_post(v, VICTIM, &hdr, want));
	expect_fault(_metadata, g, VIRTIO_IOMMU_FAULT_R_MAPPING, F_R | F_ADDR,
		     buf_iova(g, VSOCK_TXQ, VICTIM));
	EXPECT_EQ(-ETIMEDOUT, vsock_tx_complete(v, VICTIM, ABSENT_MS));
	EXPECT_TRUE(host_quiet(g->host));

	test_cmd(map(g, gpa, VSOCK_PAGE));
	test_cmd(vsock_tx_complete(v, VICTIM, T));
	test_cmd(vsock_host_recv(g->host, got, sizeof(got), T));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	g->c.tx_id = 0;
	test_cmd(host_to_guest(g, 5000, 3));
	test_cmd(guest_to_host(g, 5000, 4));
	no_ring_errors(_metadata, g);
}

/*
 * DETACH of the endpoint: everything vhost-vsock was given is dropped
 * before the request completes; the next packet for the guest faults on
 * the first thing vhost-vsock reads, the RX descriptor ring (the endpoint
 * is attached nowhere, bypass 0); ATTACH, the MAPs and a kick let it
 * through.
 */
TEST_F_TIMEOUT(vsock, detach_stops_traffic, 300)
{
	struct vsg *g = &self->g;
	struct vsock *v = &g->vs;
	uint8_t got[100], want[100];
	struct vhost_iommu_stats s0, s1;

	test_cmd(host_to_guest(g, 100, 1));
	test_cmd(guest_to_host(g, 100, 2));
	s0 = vmm_stats(g->iommu.fd);
	test_cmd_detach(&g->iommu, D, EP);
	s1 = vmm_stats(g->iommu.fd);
	EXPECT_LT(s0.iotlb_invalidations, s1.iotlb_invalidations);
	EXPECT_EQ(0, s1.mappings);

	vsock_fill(want, sizeof(want), 3);
	test_cmd(vsock_host_send(g->host, want, sizeof(want), T));
	expect_fault(_metadata, g, VIRTIO_IOMMU_FAULT_R_DOMAIN, F_R | F_ADDR,
		     iova_of(g, v->gpa_base + VSOCK_RING_OFF(VSOCK_RXQ)));
	test_cmd(no_rx_data(g));

	test_cmd_attach(&g->iommu, D, EP, 0);
	test_cmd(map_layout(g));
	test_cmd(vsock_kick(v, VSOCK_RXQ));
	test_cmd(vsock_recv(v, &g->c, got, sizeof(got), T));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	test_cmd(guest_to_host(g, 1000, 4));
	no_ring_errors(_metadata, g);
}

/*
 * An endpoint attached with ATTACH_F_BYPASS: vhost-vsock's misses get
 * identity translations of the memory region (the vsock window in
 * vhost-iommu's memory table), nothing is mapped, nothing faults.
 */
FIXTURE(bypass) {
	struct vsg g;
};

FIXTURE_SETUP(bypass)
{
	test_cmd(vsg_init(&self->g, VSOCK_TEST_CID, true));
	test_cmd(vsg_start(&self->g));
	test_cmd(vsg_connect(&self->g));
}

FIXTURE_TEARDOWN(bypass)
{
	vsg_fini(&self->g);
}

TEST_F_TIMEOUT(bypass, traffic, 300)
{
	struct vsg *g = &self->g;
	struct vhost_iommu_stats s;

	EXPECT_EQ(0, vmm_stat(g->iommu.fd, mappings));
	test_cmd(host_to_guest(g, 3 * VSOCK_MAX_PAYLOAD + 100, 1));
	test_cmd(guest_to_host(g, 10000, 2));
	s = vmm_stats(g->iommu.fd);
	EXPECT_LT(0, s.iotlb_served);
	EXPECT_EQ(0, s.faults);
	no_ring_errors(_metadata, g);
}

/*
 * Release: the vhost_vsock module's count is back where it was once
 * everything is closed, so that it unloads (vm/init checks the unload).
 */
FIXTURE(release) {
	struct vsg g;
	long base;	/* the module's count before */
};

FIXTURE_SETUP(release)
{
	self->base = vsock_refcnt();
	if (self->base < 0)
		SKIP(return, "vhost_vsock is not a module");
	test_cmd(vsg_init(&self->g, VSOCK_TEST_CID, false));
	test_cmd(vsg_start(&self->g));
	test_cmd(vsg_connect(&self->g));
	test_cmd(host_to_guest(&self->g, 1000, 1));
	test_cmd(guest_to_host(&self->g, 1000, 2));
	/* The vhost-vsock file and the host's socket */
	EXPECT_LE(self->base + 2, vsock_refcnt());
}

FIXTURE_TEARDOWN(release)
{
	vsg_fini(&self->g);
}

/*
 * The host closes (OP_SHUTDOWN, answered with OP_RST: the socket goes at
 * once), then vhost-iommu, then vhost-vsock.
 */
TEST_F_TIMEOUT(release, in_order, 300)
{
	struct vsg *g = &self->g;

	close(g->host);
	g->host = -1;
	test_cmd(vsock_close_reset(&g->vs, &g->c, T));
	vmm_fini(&g->iommu);
	vsock_fini(&g->vs);
	EXPECT_EQ(self->base, vsock_refcnt_wait(self->base));
}

/*
 * The VMM closes its vhost-vsock fd while it is bound: the binding holds
 * the file (traffic still flows: kicks and calls are eventfds); closing
 * vhost-iommu lets it go, and the host's socket, reset by vhost-vsock's
 * release, goes with its close.
 */
TEST_F_TIMEOUT(release, vsock_closed_while_bound, 300)
{
	struct vsg *g = &self->g;

	vsock_close_vhost(&g->vs);
	EXPECT_EQ(1, vmm_stat(g->iommu.fd, bound));
	test_cmd(host_to_guest(g, 3000, 3));
	test_cmd(guest_to_host(g, 3000, 4));
	EXPECT_LE(self->base + 2, vsock_refcnt());
	vmm_fini(&g->iommu);
	close(g->host);
	g->host = -1;
	EXPECT_EQ(self->base, vsock_refcnt_wait(self->base));
	vsock_fini(&g->vs);
}

/*
 * vhost-iommu closed first while the connection is up: the file is
 * unbound and blocking again; closing vhost-vsock resets the host's
 * socket (ECONNRESET on its next read).
 */
TEST_F_TIMEOUT(release, iommu_closed_first, 300)
{
	struct vsg *g = &self->g;
	uint8_t c;

	ASSERT_EQ(1, bind_nonblock(g->vs.fd));
	vmm_fini(&g->iommu);
	EXPECT_EQ(0, bind_nonblock(g->vs.fd));
	vsock_fini(&g->vs);
	EXPECT_EQ(-1, recv(g->host, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
	close(g->host);
	g->host = -1;
	EXPECT_EQ(self->base, vsock_refcnt_wait(self->base));
}

TEST_HARNESS_MAIN
