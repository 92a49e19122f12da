// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests at scale: domains with 10^5 mappings, removed by
 * UNMAP, by the domain's death (DETACH) and by closing the device. Last in
 * tests.list, since a kernel crash here ends the VM run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1
#define D1	1
#define PG	0x1000ULL
#define RW	(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define A_R	VHOST_IOMMU_ACCESS_READ
#define S_OK	VIRTIO_IOMMU_S_OK
#define N	100000
#define BATCH	256

FIXTURE(big) {
	struct vmm v;
	struct vmm_req r[BATCH];
};

/* D1 holds EP1 and N one-page mappings at pages 0 .. N - 1 */
FIXTURE_SETUP(big)
{
	struct vmm_opts o = { .num = { 1024 } };
	struct virtio_iommu_req_map m;
	struct vhost_iommu_stats s;
	unsigned int i, j, k;

	test_cmd(vmm_init(&self->v, &o));
	test_cmd_add_endpoint(self->v.fd, EP1, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < N; i += k) {
		k = N - i < BATCH ? N - i : BATCH;
		for (j = 0; j < k; j++) {
			vmm_mk_map(&m, D1, (i + j) * PG, (i + j + 1) * PG - 1,
				   0, RW);
			vmm_req_prepare(&self->v, &self->r[j], &m,
					VMM_MAP_LEN, 4);
		}
		test_cmd(vmm_batch(&self->v, self->r, k));
		for (j = 0; j < k; j++)
			ASSERT_EQ(S_OK, self->r[j].status)
				TH_LOG("map %u", i + j);
	}
	test_cmd_get_stats(self->v.fd, &s);
	ASSERT_EQ(N, s.mappings);
}

FIXTURE_TEARDOWN(big)
{
	if (self->v.gmem)
		vmm_fini(&self->v);
	/* Let RCU free what the domain left while this test is the culprit */
	usleep(500000);
}

TEST_F_TIMEOUT(big, translate_all, 600)
{
	struct vhost_iommu_translate t;
	unsigned int i;

	for (i = 0; i < N; i += 97) {
		test_cmd_translate(self->v.fd, EP1, i * PG + 5, A_R, 0,
				   &t);
		ASSERT_EQ(i * PG, t.start);
	}
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP1, N * PG, A_R, 0,
					 NULL));
}

TEST_F_TIMEOUT(big, unmap_all, 600)
{
	struct vhost_iommu_stats s;

	test_cmd_unmap(&self->v, D1, 0, ~0ULL);
	test_cmd_get_stats(self->v.fd, &s);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP1, 0, A_R, 0, NULL));
	test_cmd_detach(&self->v, D1, EP1);
}

/* The domain dies with its last endpoint, its mappings with it */
TEST_F_TIMEOUT(big, domain_dies, 600)
{
	struct vhost_iommu_stats s;

	test_cmd_detach(&self->v, D1, EP1);
	test_cmd_get_stats(self->v.fd, &s);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(0, s.domains);
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP1, PG, A_R, 0, NULL));
}

/* Closing the device frees everything */
TEST_F_TIMEOUT(big, release, 600)
{
	vmm_fini(&self->v);
}

TEST_HARNESS_MAIN
