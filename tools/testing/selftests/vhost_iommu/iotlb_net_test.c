// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the device IOTLB serving the stock vhost-net.
 * The net device's endpoint is in a VMM-managed domain; its vhost-net
 * misses reach the test (the VMM) as records read from /dev/vhost-iommu
 * after an eventfd signal, and the test answers with
 * VHOST_IOMMU_IOTLB_UPDATE (vguest's VGUEST_ATTACH_VMM and vguest_iotlb_*).
 * IOVA = GPA + VNET_OFFSET throughout.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vguest.h"

#define VD	VGUEST_VMM_DOMAIN
#define RW	(VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE)

/* IOVA = GPA + VNET_OFFSET in the tables of these tests */
static int update(struct vguest *g, uint64_t iova, uint64_t size,
		  uint32_t perm)
{
	return vguest_iotlb_update(g, iova, size, iova - VNET_OFFSET, perm);
}

FIXTURE(inet) {
	struct vguest g;
	int fd;		/* /dev/vhost-iommu */
	long long queue_len;	/* the module parameter, restored */
};

FIXTURE_VARIANT(inet) {
	unsigned int nnet;
};

FIXTURE_VARIANT_ADD(inet, one_queue_pair) {
	.nnet = 1,
};

FIXTURE_VARIANT_ADD(inet, two_queue_pairs) {
	.nnet = 2,
};

FIXTURE_SETUP(inet)
{
	struct vguest_opts o = {
		.nnet = variant->nnet,
		.mode = VNET_IOVA_OFFSET,
		.attach = VGUEST_ATTACH_VMM,
		.no_backend = true,
	};

	self->queue_len = vt_param_get("iotlb_queue_len");
	ASSERT_LE(1, self->queue_len);
	ASSERT_EQ(0, vguest_init(&self->g, &o)) TH_LOG("%s", vt_errmsg);
	self->fd = self->g.iommu.fd;
	ASSERT_EQ(0, vguest_start(&self->g)) TH_LOG("%s", vt_errmsg);
}

FIXTURE_TEARDOWN(inet)
{
	vguest_fini(&self->g);
	vt_param_set("iotlb_queue_len", self->queue_len);
}

/* First SET_BACKEND attempt of queue @q of net @i: raises the used ring's miss. */
static int try_backend(struct vguest *g, unsigned int i, unsigned int q)
{
	struct vhost_vring_file f = { .index = q, .fd = g->net[i].tap };

	return ioctl(g->net[i].fd, VHOST_NET_SET_BACKEND, &f) ? -errno : 0;
}

/* miss -> eventfd -> read -> UPDATE -> vhost-net runs, both directions. */
TEST_F_TIMEOUT(inet, traffic, 300)
{
	unsigned int i, n;

	ASSERT_EQ(0, vguest_iotlb_serve(&self->g)) TH_LOG("%s", vt_errmsg);
	for (n = 0; n < variant->nnet; n++)
		ASSERT_EQ(0, vguest_set_backend(&self->g, n, VGUEST_TIMEOUT_MS))
			TH_LOG("%s", vt_errmsg);
	for (n = 0; n < variant->nnet; n++) {
		for (i = 0; i < 8; i++) {
			ASSERT_EQ(0, vguest_tx(&self->g, n, i, i,
					       VGUEST_TIMEOUT_MS))
				TH_LOG("%s", vt_errmsg);
			ASSERT_EQ(0, vguest_rx(&self->g, n, i, 100 + i,
					       VGUEST_TIMEOUT_MS))
				TH_LOG("%s", vt_errmsg);
		}
	}
	vguest_iotlb_serve_stop(&self->g);
	EXPECT_EQ(0, self->g.server.error);
	EXPECT_LT(0, self->g.server.updates);
	/* The last records may be duplicates raised after the server left. */
	EXPECT_LE(self->g.server.records, vmm_stat(self->g.iommu.fd, iotlb_queued));
	EXPECT_LT(0, self->g.server.records);
	/* A domain of the VMM has no faults: its misses go to the VMM. */
	EXPECT_EQ(0, vmm_stat(self->g.iommu.fd, faults));
}

/* One UPDATE reaches every vhost-net device of the domain. */
TEST_F_TIMEOUT(inet, one_update_serves_all, 300)
{
	struct vhost_iommu_iotlb_miss m[4];
	uint64_t iova = VGUEST_NET_GPA(0) + VNET_OFFSET;
	unsigned int n;

	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_RXQ));
	ASSERT_EQ(1, vguest_iotlb_fetch(&self->g, m, 4, VGUEST_TIMEOUT_MS));
	/* Records carry their size, so that they can grow. */
	EXPECT_EQ(sizeof(m[0]), m[0].size);
	EXPECT_EQ(0, m[0].__reserved);
	EXPECT_EQ(VGUEST_EP, m[0].endpoint);
	EXPECT_EQ(VD, m[0].domain);
	EXPECT_NE(0, m[0].access);
	EXPECT_EQ(0, m[0].access & ~RW);
	ASSERT_EQ(0, update(&self->g, iova, variant->nnet * VNET_MEM_SIZE,
			    RW));
	for (n = 0; n < variant->nnet; n++) {
		ASSERT_EQ(0, vguest_set_backend(&self->g, n, VGUEST_TIMEOUT_MS))
			TH_LOG("%s", vt_errmsg);
		ASSERT_EQ(0, vguest_tx(&self->g, n, 0, n, VGUEST_TIMEOUT_MS))
			TH_LOG("%s", vt_errmsg);
	}
	ASSERT_EQ(0, vguest_settle(&self->g, VGUEST_TIMEOUT_MS));
	EXPECT_EQ(1, vmm_stat(self->g.iommu.fd, iotlb_queued));
	EXPECT_EQ(-1, read(self->fd, m, sizeof(m)));
	EXPECT_EQ(EAGAIN, errno);
}

/* After INVALIDATE returns, vhost-net has dropped the page: it misses. */
TEST_F_TIMEOUT(inet, invalidate_reaches_vhost_net, 300)
{
	uint64_t buf = vnet_buf_iova(&self->g.net[0], VNET_TXQ, 0);
	struct vhost_iommu_iotlb_miss m[4];
	int i, got;

	ASSERT_EQ(0, vguest_iotlb_serve(&self->g)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vguest_set_backend(&self->g, 0, VGUEST_TIMEOUT_MS))
		TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vguest_tx(&self->g, 0, 0, 1, VGUEST_TIMEOUT_MS));
	vguest_iotlb_serve_stop(&self->g);
	ASSERT_EQ(0, vguest_settle(&self->g, VGUEST_TIMEOUT_MS));
	while (read(self->fd, m, sizeof(m)) > 0)
		;

	ASSERT_EQ(0, vguest_iotlb_invalidate(&self->g, buf, VNET_PAGE));
	EXPECT_LT(0, vmm_stat(self->g.iommu.fd, iotlb_invalidations));
	ASSERT_EQ(0, vguest_tx_post(&self->g, 0, 0, 2));
	got = vguest_iotlb_fetch(&self->g, m, 4, VGUEST_TIMEOUT_MS);
	ASSERT_LT(0, got);
	for (i = 0; i < got; i++)
		if (m[i].iova == buf)
			break;
	ASSERT_LT(i, got) TH_LOG("no miss for the invalidated page");
	EXPECT_EQ(VHOST_IOMMU_ACCESS_READ, m[i].access & RW);
	ASSERT_EQ(0, update(&self->g, buf, VNET_PAGE, VHOST_IOMMU_ACCESS_READ));
	ASSERT_EQ(0, vguest_tx_complete(&self->g, 0, 0, 2, VGUEST_TIMEOUT_MS))
		TH_LOG("%s", vt_errmsg);
}

/* Repeated misses of one page make one record. */
TEST_F_TIMEOUT(inet, coalesced, 300)
{
	struct vhost_iommu_iotlb_miss m[4];
	int i;

	for (i = 0; i < 3; i++)
		EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_RXQ));
	ASSERT_TRUE(vmm_stat_wait(self->g.iommu.fd, iotlb_misses, 3,
				  VGUEST_TIMEOUT_MS) >= 3);
	EXPECT_EQ(1, vmm_stat(self->g.iommu.fd, iotlb_queued));
	EXPECT_EQ(2, vmm_stat(self->g.iommu.fd, iotlb_coalesced));
	ASSERT_EQ(1, vguest_iotlb_fetch(&self->g, m, 4, VGUEST_TIMEOUT_MS));
	EXPECT_EQ(0, m[0].flags);
}

/*
 * VHOST_IOMMU_RESET_DEVICE drops the records not read: their domain is
 * gone. The binding stays.
 */
TEST_F_TIMEOUT(inet, reset_drops_records, 300)
{
	struct vhost_iommu_iotlb_miss m[4];

	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_RXQ));
	ASSERT_LE(1, vmm_stat_wait(self->fd, iotlb_queued, 1,
				   VGUEST_TIMEOUT_MS));
	ASSERT_EQ(0, vmm_reset_device(self->fd));
	EXPECT_EQ(-1, read(self->fd, m, sizeof(m)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, vmm_stat(self->fd, domains));
	EXPECT_EQ(variant->nnet, vmm_stat(self->fd, bound));
}

/*
 * A binding that waits for room in a full miss queue goes on after the
 * reset empties it: its waiting miss is read (and, its endpoint attached
 * nowhere now, faults) instead of waiting forever.
 */
TEST_F_TIMEOUT(inet, reset_resumes_waiting, 300)
{
	ASSERT_EQ(0, vt_param_set("iotlb_queue_len", 1));
	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_RXQ));
	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_TXQ));
	ASSERT_LE(1, vmm_stat_wait(self->fd, iotlb_queue_full, 1,
				   VGUEST_TIMEOUT_MS));
	EXPECT_EQ(1, vmm_stat(self->fd, iotlb_misses));
	ASSERT_EQ(0, vmm_reset_device(self->fd));
	EXPECT_LE(2, vmm_stat_wait(self->fd, iotlb_misses, 2,
				   VGUEST_TIMEOUT_MS));
	EXPECT_EQ(1, vmm_stat(self->fd, iotlb_queued));
}

/* A full queue leaves misses in vhost-net; nothing is lost. */
TEST_F_TIMEOUT(inet, queue_full_loses_nothing, 300)
{
	struct vhost_iommu_iotlb_miss m[4], first;

	ASSERT_EQ(0, vt_param_set("iotlb_queue_len", 1));
	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_RXQ));
	EXPECT_EQ(-EFAULT, try_backend(&self->g, 0, VNET_TXQ));
	EXPECT_TRUE(vmm_stat_wait(self->g.iommu.fd, iotlb_queue_full, 1,
				  VGUEST_TIMEOUT_MS) >= 1);
	EXPECT_EQ(1, vmm_stat(self->g.iommu.fd, iotlb_queued));
	ASSERT_EQ(1, vguest_iotlb_fetch(&self->g, m, 4, VGUEST_TIMEOUT_MS));
	first = m[0];
	EXPECT_EQ(VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL, first.flags);
	/* The read made room: the waiting miss comes in. */
	ASSERT_EQ(1, vguest_iotlb_fetch(&self->g, m, 4, VGUEST_TIMEOUT_MS));
	EXPECT_NE(first.iova, m[0].iova);
	EXPECT_EQ(0, m[0].flags);
	EXPECT_EQ(2, vmm_stat(self->g.iommu.fd, iotlb_queued));
}

TEST_HARNESS_MAIN
