// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the virtio-net test harness (vnet.c) on the stock
 * vhost-net, with and without a device IOTLB served by the userspace relay.
 * Real frames cross vhost-net and a tap device and are compared byte for
 * byte.
 */
#include <errno.h>
#include <net/if.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common_test.h"
#include "vnet.h"

/* The TX buffer the invalidation tests take away: not one of the lowest. */
#define VICTIM		(VNET_NUM - 1)
/* Long enough to see that something does not happen */
#define ABSENT_MS	500

static void no_ring_errors(struct __test_metadata *_metadata, struct vnet *v)
{
	uint64_t c;
	unsigned int q;

	for (q = 0; q < VNET_NQ; q++) {
		test_cmd(vnet_err_count(v, q, &c));
		EXPECT_EQ(0, c) TH_LOG("queue %u signalled an error", q);
	}
}

/* Waits until the relay has counted @n refused misses, or 10 s. */
static uint64_t wait_refused(struct vnet *v, uint64_t n)
{
	struct vnet_relay_stats s;
	int i;

	for (i = 0; i < VNET_TIMEOUT_MS / 10; i++) {
		vnet_relay_stats(v, &s);
		if (s.refused >= n)
			break;
		usleep(10000);
	}
	return s.refused;
}

/* Waits until the tap netdev is gone, or 10 s. */
static bool netdev_gone(const char *ifname)
{
	int i;

	for (i = 0; i < VNET_TIMEOUT_MS / 10; i++) {
		if (!if_nametoindex(ifname))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Takes the victim TX buffer away (the relay refuses its page, then the
 * page is invalidated) and posts a frame from it: the queue stalls on it.
 */
static void stall_tx(struct __test_metadata *_metadata, struct vnet *v,
		     uint32_t seq)
{
	uint64_t iova = vnet_buf_iova(v, VNET_TXQ, VICTIM);
	struct vnet_relay_stats s;
	uint32_t id, len;

	vnet_relay_stats(v, &s);
	test_cmd(vnet_relay_refuse(v, iova, VNET_PAGE));
	test_cmd(vnet_iotlb_invalidate(v, iova, VNET_PAGE));
	test_cmd(vnet_tx_post(v, VICTIM, seq, vnet_frame_len(seq)));
	test_cmd(vnet_kick(v, VNET_TXQ));
	EXPECT_LT(s.refused, wait_refused(v, s.refused + 1));
	EXPECT_EQ(-ETIMEDOUT, vnet_wait_used(v, VNET_TXQ, &id, &len,
					     ABSENT_MS));
}

FIXTURE(vnet) {
	struct vnet v;
};

FIXTURE_VARIANT(vnet) {
	bool iommu;
	enum vnet_iova_mode mode;
	bool prefault;
};

/* (a) no vIOMMU: descriptors carry GPAs, rings are HVAs */
FIXTURE_VARIANT_ADD(vnet, plain) {
	.iommu = false,
};

/*
 * (b) ACCESS_PLATFORM: IOVA = GPA + 4 GiB, misses served by the relay,
 * SET_BACKEND retried until the relay has served its used ring miss
 */
FIXTURE_VARIANT_ADD(vnet, offset) {
	.iommu = true,
	.mode = VNET_IOVA_OFFSET,
};

/*
 * (b) ACCESS_PLATFORM: every page at a scattered IOVA, the used rings
 * prefaulted before SET_BACKEND as QEMU does
 */
FIXTURE_VARIANT_ADD(vnet, scatter) {
	.iommu = true,
	.mode = VNET_IOVA_SCATTER,
	.prefault = true,
};

FIXTURE_SETUP(vnet)
{
	struct vnet_opts o = {
		.iommu = variant->iommu,
		.mode = variant->mode,
		.relay = variant->iommu,
		.prefault = variant->prefault,
	};

	test_cmd(vnet_init(&self->v, &o));
	test_cmd(vnet_start(&self->v));
	if (variant->prefault)
		ASSERT_EQ(0, self->v.backend_efault);
}

FIXTURE_TEARDOWN(vnet)
{
	vnet_fini(&self->v);
}

TEST_F_TIMEOUT(vnet, traffic, 180)
{
	struct vnet *v = &self->v;
	struct vnet_relay_stats s;

	if (variant->iommu) {
		/* The addresses vhost sees are not the GPAs. */
		ASSERT_NE(vnet_buf_gpa(v, VNET_TXQ, 0),
			  vnet_buf_iova(v, VNET_TXQ, 0));
		ASSERT_NE(VNET_NO_IOVA, vnet_buf_iova(v, VNET_TXQ, 0));
	}
	test_cmd(vnet_tx_frames(v, 0, 64));
	test_cmd(vnet_rx_frames(v, 1000, 64));
	/* Both directions again, on descriptors used before. */
	test_cmd(vnet_tx_frames(v, 2000, 64));
	test_cmd(vnet_rx_frames(v, 3000, 64));
	EXPECT_FALSE(vnet_used_pending(v, VNET_TXQ));
	EXPECT_FALSE(vnet_used_pending(v, VNET_RXQ));
	no_ring_errors(_metadata, v);
	vnet_relay_stats(v, &s);
	if (variant->iommu) {
		EXPECT_LE(1, s.served);
		EXPECT_EQ(0, s.refused);
		EXPECT_EQ(0, s.unmapped);
		EXPECT_EQ(0, s.errors);
		TH_LOG("relay: %llu misses, %llu served",
		       (unsigned long long)s.misses,
		       (unsigned long long)s.served);
	} else {
		EXPECT_EQ(0, s.misses);
	}
}

/*
 * (d) vhost-net closed first, with RX buffers posted and, behind an
 * IOTLB, a TX stalled on a miss nobody answers. The tap fd still works on
 * its own afterwards; the netdev goes away with the tap fd.
 */
TEST_F_TIMEOUT(vnet, teardown_vhost_first, 120)
{
	struct vnet *v = &self->v;
	unsigned int i;

	test_cmd(vnet_tx_frames(v, 0, 8));
	test_cmd(vnet_rx_frames(v, 100, 8));
	for (i = 0; i < 16; i++)
		test_cmd(vnet_rx_post(v, i));
	test_cmd(vnet_kick(v, VNET_RXQ));
	if (variant->iommu)
		stall_tx(_metadata, v, 200);
	test_cmd(vnet_tx_post(v, 0, 201, vnet_frame_len(201)));
	test_cmd(vnet_kick(v, VNET_TXQ));

	vnet_close_vhost(v);
	/* A frame written to the tap fd is received by its netdev. */
	{
		uint8_t f[VNET_HDR_LEN + VNET_FRAME_MAX] = { 0 };
		uint32_t len = vnet_frame_len(300);
		uint8_t c[VNET_FRAME_MAX + 64];
		int n;

		vnet_frame_fill(f + VNET_HDR_LEN, 300, len);
		ASSERT_EQ(VNET_HDR_LEN + len,
			  write(v->tap, f, VNET_HDR_LEN + len));
		/* Skip what vhost-net sent before it was closed. */
		for (i = 0; i < 4; i++) {
			n = vnet_capture(v, c, sizeof(c), VNET_TIMEOUT_MS);
			ASSERT_LE(18, n) TH_LOG("%s", vt_errmsg);
			if (vnet_frame_seq(c) == 300)
				break;
		}
		EXPECT_EQ(0, vnet_frame_check(c, n, 300, len))
			TH_LOG("%s", vt_errmsg);
	}
	vnet_close_tap(v);
	EXPECT_TRUE(netdev_gone(v->ifname));
}

/*
 * (d) the tap fd closed first: vhost-net holds its own reference, so
 * frames still cross; the netdev goes away when vhost-net is closed.
 */
TEST_F_TIMEOUT(vnet, teardown_tap_first, 120)
{
	struct vnet *v = &self->v;
	unsigned int i;

	test_cmd(vnet_tx_frames(v, 0, 8));
	test_cmd(vnet_rx_frames(v, 100, 8));
	vnet_close_tap(v);
	test_cmd(vnet_tx_frames(v, 200, 8));
	test_cmd(vnet_rx_frames(v, 300, 8));
	EXPECT_NE(0, if_nametoindex(v->ifname));

	for (i = 0; i < 16; i++)
		test_cmd(vnet_rx_post(v, i));
	test_cmd(vnet_kick(v, VNET_RXQ));
	if (variant->iommu)
		stall_tx(_metadata, v, 400);
	test_cmd(vnet_tx_post(v, 0, 401, vnet_frame_len(401)));
	test_cmd(vnet_kick(v, VNET_TXQ));
	vnet_close_vhost(v);
	EXPECT_TRUE(netdev_gone(v->ifname));
}

/* Behind an IOTLB, the backend set by the test itself. */
FIXTURE(vnet_iommu) {
	struct vnet v;
};

FIXTURE_VARIANT(vnet_iommu) {
	enum vnet_iova_mode mode;
};

FIXTURE_VARIANT_ADD(vnet_iommu, offset) {
	.mode = VNET_IOVA_OFFSET,
};

FIXTURE_VARIANT_ADD(vnet_iommu, scatter) {
	.mode = VNET_IOVA_SCATTER,
};

FIXTURE_SETUP(vnet_iommu)
{
	struct vnet_opts o = {
		.iommu = true,
		.mode = variant->mode,
		.no_backend = true,
	};

	test_cmd(vnet_init(&self->v, &o));
	test_cmd(vnet_start(&self->v));
}

FIXTURE_TEARDOWN(vnet_iommu)
{
	vnet_fini(&self->v);
}

/*
 * SET_BACKEND writes the used ring's flags through the IOTLB: with no one
 * serving misses it fails with EFAULT; an UPDATE of the used ring's page
 * (what QEMU does in vhost_dev_start) lets it through.
 */
TEST_F_TIMEOUT(vnet_iommu, set_backend_needs_used_ring, 120)
{
	struct vnet *v = &self->v;
	struct vnet_relay_stats s;
	unsigned int q;

	for (q = 0; q < VNET_NQ; q++) {
		uint64_t used = vnet_iova(v, v->gpa_base + VNET_RING_OFF(q) +
					  2 * VNET_PAGE);

		uint64_t c;

		EXPECT_EQ(-EFAULT, vnet_set_backend(v, q, v->tap, 0));
		/* vhost reports the failed used ring access as a ring error. */
		test_cmd(vnet_err_count(v, q, &c));
		EXPECT_EQ(1, c);
		test_cmd(vnet_iotlb_update(v, used, VNET_PAGE));
		test_cmd(vnet_set_backend(v, q, v->tap, 0));
	}
	test_cmd(vnet_relay_start(v));
	test_cmd(vnet_tx_frames(v, 0, 16));
	test_cmd(vnet_rx_frames(v, 100, 16));
	no_ring_errors(_metadata, v);
	vnet_relay_stats(v, &s);
	EXPECT_LE(1, s.served);
}

/*
 * (c) After an INVALIDATE of a buffer's page that the relay refuses to
 * serve again, a TX from that buffer does not complete and nothing is
 * transmitted, while TX from other buffers before it and RX all along
 * keep working. Once the relay answers again, a kick sends the frame.
 */
TEST_F_TIMEOUT(vnet_iommu, invalidate_refused, 180)
{
	struct vnet *v = &self->v;
	uint64_t iova = vnet_buf_iova(v, VNET_TXQ, VICTIM);
	struct vnet_relay_stats s;
	uint8_t f[VNET_FRAME_MAX + 64];
	uint32_t id, len;
	unsigned int q;

	test_cmd(vnet_relay_start(v));
	for (q = 0; q < VNET_NQ; q++)
		test_cmd(vnet_set_backend(v, q, v->tap, VNET_TIMEOUT_MS));
	test_cmd(vnet_tx_frames(v, 0, 16));
	/* The victim's page is in the IOTLB before it is invalidated. */
	test_cmd(vnet_tx_post(v, VICTIM, 50, vnet_frame_len(50)));
	test_cmd(vnet_kick(v, VNET_TXQ));
	test_cmd(vnet_wait_used(v, VNET_TXQ, &id, &len, VNET_TIMEOUT_MS));
	ASSERT_EQ(VICTIM, id);
	test_cmd(vnet_capture_expect(v, 50, vnet_frame_len(50),
				     VNET_TIMEOUT_MS));

	test_cmd(vnet_relay_refuse(v, iova, VNET_PAGE));
	test_cmd(vnet_iotlb_invalidate(v, iova, VNET_PAGE));
	/*
	 * Only that page is gone. (A duplicate MISS of the victim's page
	 * from its first frame may still be read now, and be refused.)
	 */
	test_cmd(vnet_tx_frames(v, 100, 32));
	test_cmd(vnet_rx_frames(v, 200, 16));
	vnet_relay_stats(v, &s);

	test_cmd(vnet_tx_post(v, VICTIM, 300, vnet_frame_len(300)));
	test_cmd(vnet_kick(v, VNET_TXQ));
	EXPECT_LT(s.refused, wait_refused(v, s.refused + 1));
	EXPECT_EQ(-ETIMEDOUT, vnet_wait_used(v, VNET_TXQ, &id, &len,
					     ABSENT_MS));
	EXPECT_EQ(-ETIMEDOUT, vnet_capture(v, f, sizeof(f), 0));
	/* The other queue is not held up. */
	test_cmd(vnet_rx_frames(v, 400, 16));
	EXPECT_FALSE(vnet_used_pending(v, VNET_TXQ));

	/* Served again: the next kick retries the stalled frame. */
	vnet_relay_allow(v);
	test_cmd(vnet_kick(v, VNET_TXQ));
	test_cmd(vnet_wait_used(v, VNET_TXQ, &id, &len, VNET_TIMEOUT_MS));
	ASSERT_EQ(VICTIM, id);
	test_cmd(vnet_capture_expect(v, 300, vnet_frame_len(300),
				     VNET_TIMEOUT_MS));
	test_cmd(vnet_tx_frames(v, 500, 8));
	no_ring_errors(_metadata, v);
	vnet_relay_stats(v, &s);
	EXPECT_EQ(0, s.unmapped);
	EXPECT_EQ(0, s.errors);
}

TEST_HARNESS_MAIN
