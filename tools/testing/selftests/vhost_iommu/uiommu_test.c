// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmarks' baseline (uiommu.c, a userspace virtio-iommu with QEMU
 * 7.2's architecture) does what it claims: the request outcomes, one 4 KiB
 * page per vhost-net miss, and one INVALIDATE per aligned power-of-two
 * chunk of every unmapped mapping.
 */
#include <errno.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common_test.h"
#include "uiommu.h"
#include "vmm.h"
#include "vnet.h"

#define EP	8
#define D1	1
#define PG	0x1000ULL
#define RW	(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define S_OK	VIRTIO_IOMMU_S_OK
#define RING_IOVA	0x100000000ULL
#define DATA_IOVA	0x200000000ULL
#define DATA_OFF	(2ULL << 20)

/* How QEMU splits [start, end] into invalidations */
TEST(chunks)
{
	EXPECT_EQ(PG - 1, uiommu_chunk_mask(0x1000, 0x3fff));
	EXPECT_EQ(2 * PG - 1, uiommu_chunk_mask(0x2000, 0x3fff));
	EXPECT_EQ((2ULL << 20) - 1, uiommu_chunk_mask(0x200000, 0x3fffff));
	EXPECT_EQ(PG - 1, uiommu_chunk_mask(0x3000, 0x8fff));
	EXPECT_EQ(4 * PG - 1, uiommu_chunk_mask(0x4000, 0x8fff));
	EXPECT_EQ(~0ULL, uiommu_chunk_mask(0, ~0ULL));
	EXPECT_EQ((1ULL << 63) - 1, uiommu_chunk_mask(0, ~0ULL - 1));
}

FIXTURE(model) {
	struct vmm v;
	struct uiommu u;
	struct vnet net;
	bool with_net;
};

FIXTURE_SETUP(model)
{
	struct vmm_opts o = {
		.features = UIOMMU_FEATURES,
		.no_event_ring = true,
		.user_device = true,
	};

	test_cmd(vmm_init(&self->v, &o));
	test_cmd(uiommu_init(&self->u, UIOMMU_FEATURES));
	test_cmd(uiommu_serve_vmm(&self->u, &self->v));
	test_cmd(uiommu_add_endpoint(&self->u, EP));
	test_cmd(uiommu_start(&self->u));
}

FIXTURE_TEARDOWN(model)
{
	uiommu_stop(&self->u);
	if (self->with_net)
		vnet_fini(&self->net);
	uiommu_fini(&self->u);
	vmm_fini(&self->v);
}

/* QEMU's outcomes for the requests the benchmarks send */
TEST_F(model, requests)
{
	struct uiommu_stats s;
	uint64_t gpa;

	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT, vmm_attach(&self->v, D1, EP + 1, 0));
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT,
		  vmm_map(&self->v, D1, 0, PG - 1, 0, RW));
	ASSERT_EQ(S_OK, vmm_attach(&self->v, D1, EP, 0));
	ASSERT_EQ(S_OK, vmm_map(&self->v, D1, PG, 3 * PG - 1, 0x5000, RW));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  vmm_map(&self->v, D1, 2 * PG, 4 * PG - 1, 0, RW));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL,
		  vmm_map(&self->v, D1, 8 * PG, 9 * PG - 1, 0, 0x100));
	ASSERT_EQ(0, uiommu_translate(&self->u, EP, 2 * PG + 5, &gpa));
	EXPECT_EQ(0x6005, gpa);
	EXPECT_EQ(-ENOENT, uiommu_translate(&self->u, EP, 0, &gpa));
	/* A split is refused, the mapping stays */
	EXPECT_EQ(VIRTIO_IOMMU_S_RANGE,
		  vmm_unmap(&self->v, D1, PG, 2 * PG - 1));
	EXPECT_EQ(0, uiommu_translate(&self->u, EP, PG, &gpa));
	EXPECT_EQ(S_OK, vmm_unmap(&self->v, D1, 0, 16 * PG - 1));
	EXPECT_EQ(-ENOENT, uiommu_translate(&self->u, EP, PG, &gpa));
	/* Unmapping nothing succeeds */
	EXPECT_EQ(S_OK, vmm_unmap(&self->v, D1, 0, PG - 1));
	EXPECT_EQ(VIRTIO_IOMMU_S_INVAL, vmm_detach(&self->v, D1 + 1, EP));
	ASSERT_EQ(S_OK, vmm_map(&self->v, D1, PG, 2 * PG - 1, 0, RW));
	/* The domain dies with its last endpoint, its mappings with it */
	EXPECT_EQ(S_OK, vmm_detach(&self->v, D1, EP));
	EXPECT_EQ(VIRTIO_IOMMU_S_NOENT,
		  vmm_map(&self->v, D1, 0, PG - 1, 0, RW));
	EXPECT_EQ(-ENXIO, uiommu_translate(&self->u, EP, PG, &gpa));
	uiommu_get_stats(&self->u, &s);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(0, s.errors);
	EXPECT_EQ(0, s.invalidations);	/* nothing bound */
}

/*
 * Frames through vhost-net: every page a miss answered with one page;
 * UNMAP of a 4-page mapping is 1 INVALIDATE, of a 3-page mapping at an odd
 * page 2 (4 + 8 KiB), and a frame there then stalls on an unanswered miss.
 */
TEST_F(model, net)
{
	struct vnet_opts no = {
		.iommu = true,
		.mode = VNET_IOVA_MANUAL,
		.no_backend = true,
	};
	struct vnet *n = &self->net;
	struct uiommu_stats s0, s;
	uint64_t data, iova;
	uint32_t id, len;
	unsigned int i, q;

	test_cmd(vnet_init(n, &no));
	self->with_net = true;
	test_cmd(vnet_map_add(n, RING_IOVA, n->gpa_base, 0x10000));
	test_cmd(uiommu_add_region(&self->u, n->gpa_base, VNET_MEM_SIZE, n->kmem));
	test_cmd(uiommu_bind_net(&self->u, EP, n->fd));
	ASSERT_EQ(S_OK, vmm_attach(&self->v, D1, EP, 0));
	ASSERT_EQ(S_OK, vmm_map(&self->v, D1, RING_IOVA,
				RING_IOVA + 0x10000 - 1, n->gpa_base, RW));
	test_cmd(vnet_start(n));
	for (q = 0; q < VNET_NQ; q++)
		test_cmd(vnet_set_backend(n, q, n->tap, VNET_TIMEOUT_MS));

	data = n->gpa_base + DATA_OFF;
	ASSERT_EQ(S_OK, vmm_map(&self->v, D1, DATA_IOVA,
				DATA_IOVA + 4 * PG - 1, data, RW));
	/* Frame 0 warms the ring pages up */
	for (i = 0; i < 4; i++) {
		if (i == 1)
			uiommu_get_stats(&self->u, &s0);
		iova = DATA_IOVA + i * PG;
		test_cmd(vnet_tx_post_at(n, 0, data + i * PG, iova, i,
					 vnet_frame_len(i)));
		test_cmd(vnet_kick(n, VNET_TXQ));
		test_cmd(vnet_wait_used(n, VNET_TXQ, &id, &len, VNET_TIMEOUT_MS));
		test_cmd(vnet_capture_expect(n, i, vnet_frame_len(i),
					     VNET_TIMEOUT_MS));
	}
	uiommu_get_stats(&self->u, &s);
	EXPECT_EQ(3, s.misses - s0.misses);
	EXPECT_EQ(3, s.updates - s0.updates);

	ASSERT_EQ(S_OK, vmm_unmap(&self->v, D1, DATA_IOVA,
				  DATA_IOVA + 8 * PG - 1));
	uiommu_get_stats(&self->u, &s0);
	EXPECT_EQ(1, s0.invalidations - s.invalidations);
	/* 3 pages at an odd page: 4 KiB, then 8 KiB */
	ASSERT_EQ(S_OK, vmm_map(&self->v, D1, DATA_IOVA + PG,
				DATA_IOVA + 4 * PG - 1, data + PG, RW));
	ASSERT_EQ(S_OK, vmm_unmap(&self->v, D1, DATA_IOVA,
				  DATA_IOVA + 8 * PG - 1));
	uiommu_get_stats(&self->u, &s);
	EXPECT_EQ(2, s.invalidations - s0.invalidations);
	s0 = s;

	test_cmd(vnet_tx_post_at(n, 0, data + PG, DATA_IOVA + PG, 9,
				 vnet_frame_len(9)));
	test_cmd(vnet_kick(n, VNET_TXQ));
	EXPECT_EQ(-ETIMEDOUT, vnet_wait_used(n, VNET_TXQ, &id, &len, 300));
	uiommu_get_stats(&self->u, &s);
	EXPECT_LE(1, s.faults - s0.faults);
	EXPECT_EQ(0, s.errors);
}

TEST_HARNESS_MAIN
