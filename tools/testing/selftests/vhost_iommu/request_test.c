// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the requests, as Documentation/requests.md
 * specifies them. Every test posts requests on the request queue from a
 * guest driver (vmm.c) and checks the status, the used length, what was
 * written in guest memory and the kernel's tables (VHOST_IOMMU_TRANSLATE,
 * VHOST_IOMMU_GET_STATS).
 *
 * Each test runs with the descriptors laid out in several ways (variants):
 * one descriptor per part, an indirect table, parts split over several
 * descriptors across both memory regions, and without EVENT_IDX.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1
#define EP2	2
#define EP3	3	/* with reserved regions */
#define D1	1
#define D2	2

#define PG	0x1000ULL
/* The spec's examples count in pages: [a, b] is pages a to b included. */
#define PSTART(a)	((uint64_t)(a) * PG)
#define PEND(b)		((uint64_t)((b) + 1) * PG - 1)

#define RD	VIRTIO_IOMMU_MAP_F_READ
#define WR	VIRTIO_IOMMU_MAP_F_WRITE
#define RW	(RD | WR)
#define MMIO	VIRTIO_IOMMU_MAP_F_MMIO

#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_W	VHOST_IOMMU_ACCESS_WRITE

#define S_OK		VIRTIO_IOMMU_S_OK
#define S_UNSUPP	VIRTIO_IOMMU_S_UNSUPP
#define S_INVAL		VIRTIO_IOMMU_S_INVAL
#define S_RANGE		VIRTIO_IOMMU_S_RANGE
#define S_NOENT		VIRTIO_IOMMU_S_NOENT
#define S_NOMEM		VIRTIO_IOMMU_S_NOMEM

/* The reserved regions of EP3 */
#define RESV_MSI_START	0xfee00000ULL
#define RESV_MSI_END	0xfeefffffULL
#define RESV_START	0x40000000ULL
#define RESV_END	0x4000ffffULL

static const struct vhost_iommu_resv_region ep3_resv[] = {
	{ .start = RESV_MSI_START, .end = RESV_MSI_END,
	  .subtype = VHOST_IOMMU_RESV_MSI },
	{ .start = RESV_START, .end = RESV_END,
	  .subtype = VHOST_IOMMU_RESV_RESERVED },
};

FIXTURE(req) {
	struct vmm v;
	int fd;
};

FIXTURE_VARIANT(req) {
	bool indirect;
	bool split;
	uint64_t drop_features;
};

FIXTURE_VARIANT_ADD(req, direct) {
};

FIXTURE_VARIANT_ADD(req, indirect) {
	.indirect = true,
};

FIXTURE_VARIANT_ADD(req, split) {
	.split = true,
};

FIXTURE_VARIANT_ADD(req, split_indirect) {
	.split = true,
	.indirect = true,
};

FIXTURE_VARIANT_ADD(req, no_event_idx) {
	.drop_features = VMM_F(VIRTIO_RING_F_EVENT_IDX),
};

static int add_endpoints(int fd)
{
	int ret;

	ret = vmm_add_endpoint(fd, EP1, NULL, 0);
	if (!ret)
		ret = vmm_add_endpoint(fd, EP2, NULL, 0);
	if (!ret)
		ret = vmm_add_endpoint(fd, EP3, ep3_resv, ARRAY_SIZE(ep3_resv));
	return ret;
}

/* (Re)starts the device with @features dropped from the variant's set. */
/* FIXTURE_DATA(req) and FIXTURE_VARIANT(req) */
static int start(struct _test_data_req *self,
		 const struct _fixture_variant_req *variant, uint64_t drop)
{
	struct vmm_opts o = {
		.indirect = variant->indirect,
		.split = variant->split,
		.features = VMM_ALL_FEATURES & ~variant->drop_features & ~drop,
		.num = { variant->split && !variant->indirect ? 2048 : 256 },
	};
	int ret;

	if (self->v.gmem)
		vmm_fini(&self->v);
	ret = vmm_init(&self->v, &o);
	self->fd = self->v.fd;
	if (ret)
		return ret;
	return add_endpoints(self->fd);
}

FIXTURE_SETUP(req)
{
	test_cmd(start(self, variant, 0));
}

FIXTURE_TEARDOWN(req)
{
	vmm_fini(&self->v);
}

#define RESTART(drop)	test_cmd(start(self, variant, (drop)))

/* Replaces the configuration (endpoints are removed and declared again). */
static int reconfig(int fd, const struct vhost_iommu_config *c)
{
	int ret;

	vmm_del_endpoint(fd, EP1);
	vmm_del_endpoint(fd, EP2);
	vmm_del_endpoint(fd, EP3);
	ret = vmm_set_config(fd, c);
	if (ret)
		return ret;
	return add_endpoints(fd);
}

/* TRANSLATE errors as a negative errno, else 0 with @t filled. */
static int xlate(int fd, uint32_t ep, uint64_t iova, uint32_t access,
		 struct vhost_iommu_translate *t)
{
	return vmm_translate(fd, ep, iova, access, 0, t);
}

/* @ep reaches [@first, @last] -> @phys with exactly @perm */
static void expect_mapped(struct __test_metadata *_metadata, int fd,
			  uint32_t ep, uint64_t first, uint64_t last,
			  uint64_t phys, uint32_t perm)
{
	uint32_t access = perm & RD ? A_R : A_W;
	struct vhost_iommu_translate t;

	ASSERT_EQ(0, xlate(fd, ep, first, access, &t))
		TH_LOG("iova %#llx", (unsigned long long)first);
	EXPECT_EQ(first, t.start);
	EXPECT_EQ(last, t.last);
	EXPECT_EQ(phys, t.phys);
	EXPECT_EQ(perm, t.perm);
	ASSERT_EQ(0, xlate(fd, ep, last, access, &t))
		TH_LOG("iova %#llx", (unsigned long long)last);
	EXPECT_EQ(first, t.start);
}

static void expect_unmapped(struct __test_metadata *_metadata, int fd,
			    uint32_t ep, uint64_t iova)
{
	EXPECT_EQ(-ENOENT, xlate(fd, ep, iova, A_R, NULL))
		TH_LOG("iova %#llx still mapped", (unsigned long long)iova);
}

/* Identity over the whole address space */
static void expect_bypass(struct __test_metadata *_metadata, int fd,
			  uint32_t ep, uint64_t iova)
{
	struct vhost_iommu_translate t;

	ASSERT_EQ(0, xlate(fd, ep, iova, A_R | A_W, &t));
	EXPECT_EQ(0, t.start);
	EXPECT_EQ(~0ULL, t.last);
	EXPECT_EQ(0, t.phys);
}

#define EXPECT_MAPPED(...)	expect_mapped(_metadata, self->fd, __VA_ARGS__)
#define EXPECT_UNMAPPED(...)	expect_unmapped(_metadata, self->fd, __VA_ARGS__)
#define EXPECT_BYPASS(...)	expect_bypass(_metadata, self->fd, __VA_ARGS__)

/* A request with a hand-made readable part; returns the status. */
static int raw_req(struct vmm *v, const void *rd, uint32_t len,
		   struct vmm_req *r)
{
	int ret = vmm_request(v, rd, len, 4, r);

	return ret ? ret : r->status;
}

/*
 * Request framing
 */

TEST_F(req, tail_written)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;

	vmm_mk_attach(&a, D1, EP1, 0);
	ASSERT_EQ(S_OK, raw_req(&self->v, &a, VMM_ATTACH_LEN, &r));
	EXPECT_EQ(4, r.used_len);
	EXPECT_EQ(0, r.wr[1]);
	EXPECT_EQ(0, r.wr[2]);
	EXPECT_EQ(0, r.wr[3]);
}

TEST_F(req, head_reserved_ignored)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;

	vmm_mk_attach(&a, D1, EP1, 0);
	a.head.reserved[0] = 0xff;
	a.head.reserved[2] = 0x11;
	ASSERT_EQ(S_OK, raw_req(&self->v, &a, VMM_ATTACH_LEN, &r));
	EXPECT_EQ(4, r.used_len);
	/* attached (ENOENT, not ENXIO) and empty */
	EXPECT_UNMAPPED(EP1, 0);
}

TEST_F(req, readable_longer_ignored)
{
	uint8_t buf[VMM_MAP_LEN + 100];
	struct vmm_req r;

	memset(buf, 0xee, sizeof(buf));
	test_cmd_attach(&self->v, D1, EP1, 0);
	vmm_mk_map((void *)buf, D1, 0x10000, 0x1ffff, 0x200000, RW);
	ASSERT_EQ(S_OK, raw_req(&self->v, buf, sizeof(buf), &r));
	EXPECT_EQ(4, r.used_len);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x200000, RW);
}

TEST_F(req, writable_longer)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;
	unsigned int i;

	vmm_mk_attach(&a, D1, EP1, 0);
	ASSERT_EQ(0, vmm_request(&self->v, &a, VMM_ATTACH_LEN, 64, &r));
	EXPECT_EQ(4, r.used_len);
	EXPECT_EQ(S_OK, r.wr[0]);
	EXPECT_EQ(0, r.wr[1] | r.wr[2] | r.wr[3]);
	for (i = 4; i < 64; i++)
		ASSERT_EQ(VMM_PATTERN, r.wr[i]) TH_LOG("byte %u written", i);
}

static void unknown_type(struct __test_metadata *_metadata,
			 struct _test_data_req *self, uint8_t type)
{
	struct vhost_iommu_stats s0, s1;
	uint8_t buf[VMM_PROBE_LEN];
	struct vmm_req r;

	memset(buf, 0, sizeof(buf));
	buf[0] = type;
	s0 = vmm_stats(self->fd);
	ASSERT_EQ(0, vmm_request(&self->v, buf, sizeof(buf), 4 + 512, &r))
		TH_LOG("%s", vt_errmsg);
	EXPECT_EQ(0, r.used_len);
	EXPECT_TRUE(vmm_wr_untouched(&r));
	s1 = vmm_stats(self->fd);
	EXPECT_EQ(s0.requests[VHOST_IOMMU_STATS_T_UNKNOWN] + 1,
		  s1.requests[VHOST_IOMMU_STATS_T_UNKNOWN]);
	EXPECT_EQ(s0.malformed, s1.malformed);
}

TEST_F(req, unknown_type_0)
{
	unknown_type(_metadata, self, 0);
}

TEST_F(req, unknown_type_6)
{
	unknown_type(_metadata, self, 6);
}

TEST_F(req, unknown_type_ff)
{
	unknown_type(_metadata, self, 0xff);
}

TEST_F(req, unknown_type_short)
{
	struct vhost_iommu_stats s0, s1;
	uint8_t buf[4] = { 0x42 };
	struct vmm_req r;

	/* Only a head: still an unknown type, not a malformed request */
	s0 = vmm_stats(self->fd);
	ASSERT_EQ(0, vmm_request(&self->v, buf, sizeof(buf), 4, &r));
	EXPECT_EQ(0, r.used_len);
	EXPECT_TRUE(vmm_wr_untouched(&r));
	s1 = vmm_stats(self->fd);
	EXPECT_EQ(s0.requests[0] + 1, s1.requests[0]);
}

TEST_F(req, probe_without_feature)
{
	struct vhost_iommu_stats s0, s1;
	struct vmm_req r;

	RESTART(VMM_F(VIRTIO_IOMMU_F_PROBE));
	s0 = vmm_stats(self->fd);
	ASSERT_LE(0, vmm_probe(&self->v, EP3, 512 + 4, &r)) TH_LOG("%s", vt_errmsg);
	EXPECT_EQ(0, r.used_len);
	EXPECT_TRUE(vmm_wr_untouched(&r));
	s1 = vmm_stats(self->fd);
	EXPECT_EQ(s0.requests[0] + 1, s1.requests[0]);
	EXPECT_EQ(s0.requests[VIRTIO_IOMMU_T_PROBE],
		  s1.requests[VIRTIO_IOMMU_T_PROBE]);
}

/*
 * ATTACH
 */

TEST_F(req, attach_reserved)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;

	vmm_mk_attach(&a, D1, EP1, 0);
	a.reserved[3] = 1;
	EXPECT_EQ(S_INVAL, raw_req(&self->v, &a, VMM_ATTACH_LEN, &r));
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0, A_R, NULL));
	EXPECT_EQ(0, vmm_stats(self->fd).domains);
}

TEST_F(req, attach_unknown_flag)
{
	test_err_attach(S_INVAL, &self->v, D1, EP1, 1 << 1);
	test_err_attach(S_INVAL, &self->v, D1, EP1, 1u << 31);
	EXPECT_EQ(0, vmm_stats(self->fd).domains);
}

TEST_F(req, attach_bypass_without_feature)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	test_err_attach(S_INVAL, &self->v, D1, EP1,
			VIRTIO_IOMMU_ATTACH_F_BYPASS);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0, A_R, NULL));
}

TEST_F(req, attach_unknown_endpoint)
{
	test_err_attach(S_NOENT, &self->v, D1, 99, 0);
	EXPECT_EQ(0, vmm_stats(self->fd).domains);
}

/* Step 2 comes before step 3 */
TEST_F(req, attach_order_flag_before_endpoint)
{
	test_err_attach(S_INVAL, &self->v, D1, 99, 1 << 1);
}

static void set_domain_range(struct __test_metadata *_metadata, int fd,
			     uint32_t start, uint32_t end)
{
	struct vhost_iommu_config c;

	test_cmd_get_config(fd, &c);
	c.domain_start = start;
	c.domain_end = end;
	ASSERT_EQ(0, reconfig(fd, &c));
}

TEST_F(req, attach_domain_range)
{
	set_domain_range(_metadata, self->fd, 10, 20);
	test_err_attach(S_RANGE, &self->v, 9, EP1, 0);
	test_err_attach(S_RANGE, &self->v, 21, EP1, 0);
	test_err_attach(S_RANGE, &self->v, 0, EP1, 0);
	EXPECT_EQ(0, vmm_stats(self->fd).domains);
	test_cmd_attach(&self->v, 10, EP1, 0);
	test_cmd_attach(&self->v, 20, EP2, 0);
	EXPECT_EQ(2, vmm_stats(self->fd).domains);
}

/* Step 3 comes before step 4 */
TEST_F(req, attach_order_endpoint_before_range)
{
	set_domain_range(_metadata, self->fd, 10, 20);
	test_err_attach(S_NOENT, &self->v, 30, 99, 0);
}

TEST_F(req, attach_domain_range_not_negotiated)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_DOMAIN_RANGE));
	set_domain_range(_metadata, self->fd, 10, 20);
	test_cmd_attach(&self->v, 30, EP1, 0);
}

TEST_F(req, attach_bypass_mismatch)
{
	test_cmd_attach(&self->v, D1, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_err_attach(S_INVAL, &self->v, D1, EP2, 0);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP2, 0, A_R, NULL));
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_err_attach(S_INVAL, &self->v, D2, EP1,
			VIRTIO_IOMMU_ATTACH_F_BYPASS);
	/* EP1 stays where it was */
	EXPECT_BYPASS(EP1, 0x1234000);
	EXPECT_EQ(2, vmm_stats(self->fd).domains);
}

TEST_F(req, attach_incompatible_resv)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, RESV_START - 0x10000, RESV_START + 0xfff,
		     0, RW);
	test_err_attach(S_UNSUPP, &self->v, D1, EP3, 0);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP3, 0, A_R, NULL));
	/* A domain without such a mapping takes it */
	test_cmd_attach(&self->v, D2, EP3, 0);
}

TEST_F(req, attach_incompatible_keeps_old_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, RESV_MSI_START, RESV_MSI_START + 0xfff,
		     0, RW);
	test_cmd_attach(&self->v, D2, EP3, 0);
	test_cmd_map(&self->v, D2, 0x10000, 0x10fff, 0x5000, RD);
	test_err_attach(S_UNSUPP, &self->v, D1, EP3, 0);
	/* Still attached to D2 */
	EXPECT_MAPPED(EP3, 0x10000, 0x10fff, 0x5000, RD);
}

TEST_F(req, attach_same_domain_twice)
{
	struct vhost_iommu_stats s;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_attach(&self->v, D1, EP1, 0);
	s = vmm_stats(self->fd);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(1, s.mappings);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x100000, RW);
}

/* Re-ATTACH is an implicit DETACH; D1 dies with its last endpoint. */
TEST_F(req, attach_other_domain)
{
	struct vhost_iommu_stats s;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_attach(&self->v, D2, EP1, 0);
	s = vmm_stats(self->fd);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(0, s.mappings);
	EXPECT_UNMAPPED(EP1, 0x10000);
	/* D1 is a new, empty domain */
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x10000);
	s = vmm_stats(self->fd);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(0, s.mappings);
}

TEST_F(req, attach_other_domain_shared)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_attach(&self->v, D2, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x10000);
	/* D1 lives on with EP2 */
	EXPECT_MAPPED(EP2, 0x10000, 0x1ffff, 0x100000, RW);
	EXPECT_EQ(2, vmm_stats(self->fd).domains);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

TEST_F(req, attach_bypass_to_normal)
{
	test_cmd_attach(&self->v, D1, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	EXPECT_BYPASS(EP1, 0x5000);
	test_cmd_attach(&self->v, D2, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x5000);
	EXPECT_EQ(1, vmm_stats(self->fd).domains);
}

/*
 * DETACH
 */

TEST_F(req, detach_ok)
{
	struct vhost_iommu_stats s;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_map(&self->v, D1, 0x40000, 0x7ffff, 0x100000, RD);
	test_cmd_detach(&self->v, D1, EP1);
	/* Neither attached nor in bypass: reaches nothing */
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0x10000, A_R, NULL));
	s = vmm_stats(self->fd);
	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(0, s.mappings);
	/* The domain died with its mappings */
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x10000);
	EXPECT_UNMAPPED(EP1, 0x40000);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, detach_reserved_ignored)
{
	struct virtio_iommu_req_detach d;
	struct vmm_req r;

	test_cmd_attach(&self->v, D1, EP1, 0);
	vmm_mk_detach(&d, D1, EP1);
	memset(d.reserved, 0xff, sizeof(d.reserved));
	EXPECT_EQ(S_OK, raw_req(&self->v, &d, VMM_DETACH_LEN, &r));
	EXPECT_EQ(0, vmm_stats(self->fd).domains);
}

TEST_F(req, detach_unknown_endpoint)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_detach(S_NOENT, &self->v, D1, 99);
	EXPECT_EQ(1, vmm_stats(self->fd).domains);
}

/* Step 1 comes before step 2 */
TEST_F(req, detach_order_endpoint_before_domain)
{
	test_err_detach(S_NOENT, &self->v, D2, 99);
}

TEST_F(req, detach_unknown_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_detach(S_INVAL, &self->v, D2, EP1);
	/* Still attached: ENOENT, not ENXIO */
	EXPECT_UNMAPPED(EP1, 0);
}

TEST_F(req, detach_wrong_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_err_detach(S_INVAL, &self->v, D2, EP1);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x100000, RW);
	EXPECT_EQ(2, vmm_stats(self->fd).domains);
}

TEST_F(req, detach_unattached)
{
	test_err_detach(S_INVAL, &self->v, D1, EP1);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_detach(&self->v, D1, EP1);
	test_err_detach(S_INVAL, &self->v, D1, EP1);
}

TEST_F(req, detach_keeps_shared_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_detach(&self->v, D1, EP1);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0x10000, A_R, NULL));
	EXPECT_MAPPED(EP2, 0x10000, 0x1ffff, 0x100000, RW);
	EXPECT_EQ(1, vmm_stats(self->fd).domains);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

TEST_F(req, detach_then_bypass_config)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_set_bypass(self->fd, 1);
	/* Attached: the domain decides, not the bypass config */
	EXPECT_UNMAPPED(EP1, 0x10000);
	test_cmd_detach(&self->v, D1, EP1);
	EXPECT_BYPASS(EP1, 0x10000);
}

/* DEL_ENDPOINT of the last endpoint kills the domain */
TEST_F(req, del_endpoint_kills_domain)
{
	struct vhost_iommu_stats s;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_del_endpoint(self->fd, EP1);
	s = vmm_stats(self->fd);
	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(2, s.endpoints);
	test_err_map(S_NOENT, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x10000);
}

/*
 * The store keeps the last domain it found by id (store.c): a domain
 * that dies by any path is forgotten with it, and another domain of the
 * same id starts empty. Every request below names a domain found just
 * before, so a stale pointer would be used at once.
 */
TEST_F(req, dead_domain_forgotten)
{
	struct vhost_iommu_mappings l;
	struct vhost_iommu_iotlb_entry e;

	/* DETACH of the last endpoint */
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_detach(&self->v, D1, EP1);
	test_err_map(S_NOENT, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_err_unmap(S_NOENT, &self->v, D1, 0, ~0ULL);
	l = (struct vhost_iommu_mappings){
		.size = sizeof(l), .domain = D1, .nr = 1,
		.entries = (uintptr_t)&e,
	};
	test_err_ioctl(ENOENT, self->fd, VHOST_IOMMU_GET_MAPPINGS, &l);

	/* An ATTACH that moves the last endpoint to another domain */
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_attach(&self->v, D2, EP1, 0);
	test_err_map(S_NOENT, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_cmd_map(&self->v, D2, 0x30000, 0x3ffff, 0x300000, RW);

	/* Two live domains named in turn: each MAP lands in its own */
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_map(&self->v, D2, 0x10000, 0x1ffff, 0x200000, RD);
	test_cmd_map(&self->v, D1, 0x30000, 0x3ffff, 0x400000, RD);
	EXPECT_MAPPED(EP2, 0x10000, 0x1ffff, 0x100000, RW);
	EXPECT_MAPPED(EP2, 0x30000, 0x3ffff, 0x400000, RD);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x200000, RD);
	EXPECT_MAPPED(EP1, 0x30000, 0x3ffff, 0x300000, RW);

	/* DEL_ENDPOINT of the last endpoint */
	test_cmd_map(&self->v, D1, 0x50000, 0x5ffff, 0x500000, RW);
	test_cmd_del_endpoint(self->fd, EP2);
	test_err_map(S_NOENT, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
	test_cmd_attach(&self->v, D1, EP2, 0);
	EXPECT_UNMAPPED(EP2, 0x10000);
	EXPECT_UNMAPPED(EP2, 0x50000);
	EXPECT_EQ(2, vmm_stats(self->fd).domains);

	/* The device reset */
	test_cmd_map(&self->v, D2, 0x50000, 0x5ffff, 0x500000, RW);
	test_cmd(vmm_reset_device(self->fd));
	test_cmd(vmm_rings_restart(&self->v));
	test_err_map(S_NOENT, &self->v, D2, 0x20000, 0x2ffff, 0, RW);
	test_err_map(S_NOENT, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_cmd_attach(&self->v, D2, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x10000);
	EXPECT_UNMAPPED(EP1, 0x50000);
	EXPECT_EQ(1, vmm_stats(self->fd).domains);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

/*
 * MAP
 */

TEST_F(req, map_ok)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x200000, RW);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x200000, RW);
	EXPECT_UNMAPPED(EP1, 0xffff);
	EXPECT_UNMAPPED(EP1, 0x20000);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_translate_middle)
{
	struct vhost_iommu_translate t;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x100000, 0x2fffff, 0x40000000, RD);
	ASSERT_EQ(0, xlate(self->fd, EP1, 0x123456, A_R, &t));
	EXPECT_EQ(0x100000, t.start);
	EXPECT_EQ(0x2fffff, t.last);
	EXPECT_EQ(0x40000000, t.phys);
}

TEST_F(req, map_top_of_address_space)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, ~0ULL - 0xffff, ~0ULL, 0x10000, RW);
	EXPECT_MAPPED(EP1, ~0ULL - 0xffff, ~0ULL, 0x10000, RW);
}

TEST_F(req, map_whole_address_space)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, ~0ULL, 0, RD);
	EXPECT_MAPPED(EP1, 0, ~0ULL, 0, RD);
	test_cmd_unmap(&self->v, D1, 0, ~0ULL);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_shared_by_endpoints)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x200000, RW);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x200000, RW);
	EXPECT_MAPPED(EP2, 0x10000, 0x1ffff, 0x200000, RW);
}

TEST_F(req, map_without_map_unmap)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_MAP_UNMAP));
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_UNSUPP, &self->v, D1, 0x10000, 0x1ffff, 0, RW);
	/* Step 1 before anything else */
	test_err_map(S_UNSUPP, &self->v, D2, 0x10001, 0x1ffff, 0, 1 << 7);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_unknown_flag)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, RW | 8);
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, 1u << 31);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_mmio_without_feature)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_MMIO));
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, RW | MMIO);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0, RW);
}

TEST_F(req, map_mmio)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0xfe000000,
		     RW | MMIO);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0xfe000000, RW | MMIO);
}

TEST_F(req, map_unknown_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_NOENT, &self->v, D2, 0x10000, 0x1ffff, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

/* Step 3 comes before steps 5 and 6 */
TEST_F(req, map_order_domain_before_range)
{
	test_err_map(S_NOENT, &self->v, D2, 0x20000, 0x1ffff, 0, RW);
	test_err_map(S_NOENT, &self->v, D2, 0x10001, 0x1ffff, 0, RW);
}

TEST_F(req, map_bypass_domain)
{
	test_cmd_attach(&self->v, D1, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, RW);
	/* Step 4 before step 6 */
	test_err_map(S_INVAL, &self->v, D1, 0x10001, 0x1ffff, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
	EXPECT_BYPASS(EP1, 0x10000);
}

TEST_F(req, map_end_below_start)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_INVAL, &self->v, D1, 0x20000, 0x1ffff, 0, RW);
	/* Step 5 before step 6 */
	test_err_map(S_INVAL, &self->v, D1, 0x20001, 0x1ffff, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_unaligned_start)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x10800, 0x1ffff, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_unaligned_end)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x1fffe, 0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x20000, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_unaligned_phys)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x1ffff, 0x100, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, map_phys_wraps)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x1ffff,
		     ~0ULL - 0x7fff, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

/* Up to the last byte of the physical space is no wrap */
TEST_F(req, map_phys_ends_at_top)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, ~0ULL - 0xffff, RW);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, ~0ULL - 0xffff, RW);
}

TEST_F(req, map_granule_64k)
{
	struct vhost_iommu_config c;

	test_cmd_get_config(self->fd, &c);
	c.page_size_mask = ~0xffffULL;
	ASSERT_EQ(0, reconfig(self->fd, &c));
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x1000, 0x10fff, 0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x1ffff, 0x1000, RW);
	test_err_map(S_RANGE, &self->v, D1, 0x10000, 0x10fff, 0, RW);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x20000, RW);
}

static void set_input_range(struct __test_metadata *_metadata, int fd,
			    uint64_t start, uint64_t end)
{
	struct vhost_iommu_config c;

	test_cmd_get_config(fd, &c);
	c.input_start = start;
	c.input_end = end;
	ASSERT_EQ(0, reconfig(fd, &c));
}

TEST_F(req, map_input_range)
{
	set_input_range(_metadata, self->fd, 0x100000, 0xffffffffULL);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0, 0xfff, 0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0xff000, 0x100fff, 0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0xfffff000ULL, 0x100000fffULL,
		     0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0x100000000ULL,
		     0x100000fffULL, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
	test_cmd_map(&self->v, D1, 0x100000, 0x100fff, 0, RW);
	test_cmd_map(&self->v, D1, 0xfffff000ULL, 0xffffffffULL, 0, RW);
}

TEST_F(req, map_input_range_not_negotiated)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_INPUT_RANGE));
	set_input_range(_metadata, self->fd, 0x100000, 0xffffffffULL);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, 0xfff, 0, RW);
}

/* Step 6 (alignment) comes before step 7 (range) */
TEST_F(req, map_order_alignment_before_range)
{
	set_input_range(_metadata, self->fd, 0x100000, 0xffffffffULL);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_map(S_RANGE, &self->v, D1, 0x800, 0xfff, 0, RW);
}

TEST_F(req, map_overlaps_resv)
{
	test_cmd_attach(&self->v, D1, EP3, 0);
	test_err_map(S_INVAL, &self->v, D1, RESV_MSI_START,
		     RESV_MSI_START + 0xfff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, RESV_MSI_START - 0x1000,
		     RESV_MSI_START + 0xfff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, RESV_END & ~0xfffULL,
		     RESV_END + 0x1000, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0, ~0ULL, 0, RW);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
	/* Right next to them is fine */
	test_cmd_map(&self->v, D1, RESV_MSI_START - 0x1000,
		     RESV_MSI_START - 1, 0, RW);
	test_cmd_map(&self->v, D1, RESV_END + 1, RESV_END + 0x1000, 0, RW);
}

/* The reserved regions of endpoints of other domains do not matter */
TEST_F(req, map_resv_other_domain)
{
	test_cmd_attach(&self->v, D1, EP3, 0);
	test_cmd_attach(&self->v, D2, EP1, 0);
	test_cmd_map(&self->v, D2, RESV_MSI_START, RESV_MSI_START + 0xfff,
		     0, RW);
}

TEST_F(req, map_overlap)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x1f000, 0x2ffff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x0, 0x10fff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x14000, 0x14fff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x0, 0xfffff, 0, RW);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x100000, RW);
	/* Adjacent on both sides */
	test_cmd_map(&self->v, D1, 0xf000, 0xffff, 0, RD);
	test_cmd_map(&self->v, D1, 0x20000, 0x20fff, 0, WR);
	EXPECT_EQ(3, vmm_stats(self->fd).mappings);
}

/* The same IOVA in another domain is no overlap */
TEST_F(req, map_same_iova_other_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_cmd_map(&self->v, D2, 0x10000, 0x1ffff, 0x200000, RD);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x100000, RW);
	EXPECT_MAPPED(EP2, 0x10000, 0x1ffff, 0x200000, RD);
}

TEST_F(req, map_read_only_no_write)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RD);
	EXPECT_EQ(0, xlate(self->fd, EP1, 0x10000, A_R, NULL));
	EXPECT_EQ(-EACCES, xlate(self->fd, EP1, 0x10000, A_W, NULL));
	EXPECT_EQ(-EACCES, xlate(self->fd, EP1, 0x1f000, A_R | A_W, NULL));
}

TEST_F(req, map_write_only)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, WR);
	EXPECT_EQ(0, xlate(self->fd, EP1, 0x10000, A_W, NULL));
	EXPECT_EQ(-EACCES, xlate(self->fd, EP1, 0x10000, A_R, NULL));
}

TEST_F(req, map_no_permission)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, 0);
	EXPECT_EQ(-EACCES, xlate(self->fd, EP1, 0x10000, A_R, NULL));
	EXPECT_EQ(-EACCES, xlate(self->fd, EP1, 0x10000, A_W, NULL));
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

/*
 * UNMAP
 */

TEST_F(req, unmap_without_map_unmap)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_MAP_UNMAP));
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_err_unmap(S_UNSUPP, &self->v, D1, 0, ~0ULL);
	test_err_unmap(S_UNSUPP, &self->v, D2, 5, 4);
}

TEST_F(req, unmap_reserved)
{
	struct virtio_iommu_req_unmap u;
	struct vmm_req r;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	vmm_mk_unmap(&u, D1, 0x10000, 0x1ffff);
	u.reserved[0] = 1;
	EXPECT_EQ(S_INVAL, raw_req(&self->v, &u, VMM_UNMAP_LEN, &r));
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x100000, RW);
}

TEST_F(req, unmap_unknown_domain)
{
	test_err_unmap(S_NOENT, &self->v, D1, 0, ~0ULL);
	/* Step 3 before step 5 */
	test_err_unmap(S_NOENT, &self->v, D1, 5, 4);
}

TEST_F(req, unmap_bypass_domain)
{
	test_cmd_attach(&self->v, D1, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_err_unmap(S_INVAL, &self->v, D1, 0, ~0ULL);
	EXPECT_BYPASS(EP1, 0);
}

TEST_F(req, unmap_end_below_start)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	test_err_unmap(S_INVAL, &self->v, D1, 0x20000, 0x1ffff);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

/* The spec's examples */

TEST_F(req, unmap_empty_space)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_unmap(&self->v, D1, PSTART(0), PEND(9));
	test_cmd_unmap(&self->v, D1, 0, ~0ULL);
	/* Unaligned bounds touch no mapping: fine */
	test_cmd_unmap(&self->v, D1, 0x123, 0x4567);
}

TEST_F(req, unmap_two_mappings)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_map(&self->v, D1, PSTART(5), PEND(9), 0x200000, RW);
	test_cmd_unmap(&self->v, D1, PSTART(0), PEND(9));
	EXPECT_UNMAPPED(EP1, PSTART(0));
	EXPECT_UNMAPPED(EP1, PSTART(5));
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, unmap_split_refused)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(9), 0x100000, RW);
	test_err_unmap(S_RANGE, &self->v, D1, PSTART(0), PEND(4));
	EXPECT_MAPPED(EP1, PSTART(0), PEND(9), 0x100000, RW);
	test_err_unmap(S_RANGE, &self->v, D1, PSTART(5), PEND(14));
	test_err_unmap(S_RANGE, &self->v, D1, PSTART(2), PEND(3));
	EXPECT_MAPPED(EP1, PSTART(0), PEND(9), 0x100000, RW);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

/* Nothing is removed, not even the mappings the range covers entirely */
TEST_F(req, unmap_split_removes_nothing)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_map(&self->v, D1, PSTART(5), PEND(9), 0x200000, RW);
	test_cmd_map(&self->v, D1, PSTART(10), PEND(14), 0x300000, RW);
	test_err_unmap(S_RANGE, &self->v, D1, PSTART(0), PEND(12));
	test_err_unmap(S_RANGE, &self->v, D1, PSTART(2), PEND(14));
	EXPECT_EQ(3, vmm_stats(self->fd).mappings);
	EXPECT_MAPPED(EP1, PSTART(0), PEND(4), 0x100000, RW);
	EXPECT_MAPPED(EP1, PSTART(5), PEND(9), 0x200000, RW);
	EXPECT_MAPPED(EP1, PSTART(10), PEND(14), 0x300000, RW);
}

TEST_F(req, unmap_holes)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_map(&self->v, D1, PSTART(10), PEND(14), 0x200000, RW);
	test_cmd_unmap(&self->v, D1, PSTART(0), PEND(14));
	EXPECT_UNMAPPED(EP1, PSTART(0));
	EXPECT_UNMAPPED(EP1, PSTART(10));
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

TEST_F(req, unmap_one_of_two)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_map(&self->v, D1, PSTART(10), PEND(14), 0x200000, RW);
	test_cmd_unmap(&self->v, D1, PSTART(6), PEND(20));
	EXPECT_MAPPED(EP1, PSTART(0), PEND(4), 0x100000, RW);
	EXPECT_UNMAPPED(EP1, PSTART(10));
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

TEST_F(req, unmap_only_own_domain)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_map(&self->v, D2, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_unmap(&self->v, D2, 0, ~0ULL);
	EXPECT_MAPPED(EP1, PSTART(0), PEND(4), 0x100000, RW);
	EXPECT_UNMAPPED(EP2, PSTART(0));
}

TEST_F(req, unmap_remap)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, PSTART(0), PEND(4), 0x100000, RW);
	test_cmd_unmap(&self->v, D1, PSTART(0), PEND(4));
	test_cmd_map(&self->v, D1, PSTART(0), PEND(9), 0x200000, RD);
	EXPECT_MAPPED(EP1, PSTART(0), PEND(9), 0x200000, RD);
}

/*
 * PROBE
 */

static void check_resv_prop(struct __test_metadata *_metadata,
			    const uint8_t *p,
			    const struct vhost_iommu_resv_region *r)
{
	const struct virtio_iommu_probe_resv_mem *m = (const void *)p;

	EXPECT_EQ(VIRTIO_IOMMU_PROBE_T_RESV_MEM, le16toh(m->head.type));
	EXPECT_EQ(20, le16toh(m->head.length));
	EXPECT_EQ(r->subtype, m->subtype);
	EXPECT_EQ(0, m->reserved[0] | m->reserved[1] | m->reserved[2]);
	EXPECT_EQ(r->start, le64toh(m->start));
	EXPECT_EQ(r->end, le64toh(m->end));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

TEST_F(req, probe_resv_mem)
{
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;

	ASSERT_EQ(512, ps);
	test_cmd_probe(&self->v, EP3, ps + 4, &r);
	EXPECT_EQ(ps + 4, r.used_len);
	check_resv_prop(_metadata, r.wr, &ep3_resv[0]);
	check_resv_prop(_metadata, r.wr + 24, &ep3_resv[1]);
	/* The rest of the buffer is zero */
	EXPECT_TRUE(all_zero(r.wr + 48, ps - 48));
	EXPECT_EQ(0, r.wr[ps + 1] | r.wr[ps + 2] | r.wr[ps + 3]);
}

TEST_F(req, probe_no_property)
{
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;

	test_cmd_probe(&self->v, EP1, ps + 4, &r);
	EXPECT_EQ(ps + 4, r.used_len);
	EXPECT_TRUE(all_zero(r.wr, ps));
}

TEST_F(req, probe_reserved_ignored)
{
	uint32_t ps = self->v.probe_size;
	struct virtio_iommu_req_probe p;
	struct vmm_req r;

	vmm_mk_probe(&p, EP3);
	memset(p.reserved, 0xff, sizeof(p.reserved));
	vmm_req_prepare(&self->v, &r, &p, sizeof(p), ps + 4);
	r.tail_off = ps;
	test_cmd(vmm_req_post(&self->v, &r));
	test_cmd(vmm_kick(&self->v, 0));
	test_cmd(vmm_req_complete(&self->v, &r));
	EXPECT_EQ(S_OK, r.status);
	EXPECT_EQ(ps + 4, r.used_len);
	check_resv_prop(_metadata, r.wr, &ep3_resv[0]);
}

TEST_F(req, probe_unknown_endpoint)
{
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;

	test_err_probe(S_NOENT, &self->v, 99, ps + 4, &r);
	EXPECT_EQ(ps + 4, r.used_len);
	/* Every byte the used length counts was written: zeroes */
	EXPECT_TRUE(all_zero(r.wr, ps));
}

TEST_F(req, probe_short_buffer)
{
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;

	test_err_probe(S_INVAL, &self->v, EP3, ps, &r);
	/*
	 * The tail is in the last 4 bytes; no property was written, and the
	 * bytes before the tail, which the used length counts, are zeroes
	 * (virtio 1.2, 2.7.8: the device wrote at least the used length).
	 */
	EXPECT_EQ(ps, r.used_len);
	EXPECT_EQ(0, r.wr[ps - 3] | r.wr[ps - 2] | r.wr[ps - 1]);
	EXPECT_TRUE(all_zero(r.wr, ps - 4));
	test_err_probe(S_INVAL, &self->v, EP3, ps + 3, &r);
	EXPECT_EQ(ps + 3, r.used_len);
	EXPECT_TRUE(all_zero(r.wr, ps - 1));
	test_err_probe(S_INVAL, &self->v, EP3, 4, &r);
	EXPECT_EQ(4, r.used_len);
}

/* Step 1 comes before step 2 */
TEST_F(req, probe_order_endpoint_before_size)
{
	struct vmm_req r;

	test_err_probe(S_NOENT, &self->v, 99, 16, &r);
}

TEST_F(req, probe_longer_buffer)
{
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;
	unsigned int i;

	test_cmd_probe(&self->v, EP3, ps + 4 + 256, &r);
	EXPECT_EQ(ps + 4, r.used_len);
	check_resv_prop(_metadata, r.wr, &ep3_resv[0]);
	for (i = ps + 4; i < ps + 4 + 256; i++)
		ASSERT_EQ(VMM_PATTERN, r.wr[i]) TH_LOG("byte %u written", i);
}

TEST_F(req, probe_full_buffer)
{
	struct vhost_iommu_resv_region rr[21];
	struct vmm_req r;
	unsigned int i;

	memset(rr, 0, sizeof(rr));
	for (i = 0; i < 21; i++) {
		/* declared in decreasing address order */
		rr[i].start = 0x10000000ULL * (21 - i);
		rr[i].end = rr[i].start + 0xffff;
		rr[i].subtype = i % 2;
	}
	test_cmd_add_endpoint(self->fd, 10, rr, 21);
	test_cmd_probe(&self->v, 10, 512 + 4, &r);
	for (i = 0; i < 21; i++)
		check_resv_prop(_metadata, r.wr + 24 * i, &rr[i]);
	EXPECT_TRUE(all_zero(r.wr + 504, 8));
}

TEST_F(req, probe_size_config)
{
	struct vhost_iommu_config c;
	struct vmm_req r;

	test_cmd_get_config(self->fd, &c);
	c.probe_size = 64;
	ASSERT_EQ(0, reconfig(self->fd, &c));
	self->v.probe_size = 64;
	test_cmd_probe(&self->v, EP3, 64 + 4, &r);
	EXPECT_EQ(68, r.used_len);
	check_resv_prop(_metadata, r.wr, &ep3_resv[0]);
	check_resv_prop(_metadata, r.wr + 24, &ep3_resv[1]);
	EXPECT_TRUE(all_zero(r.wr + 48, 16));
	test_err_probe(S_INVAL, &self->v, EP3, 64, &r);
}

/*
 * Bypass
 */

TEST_F(req, bypass_config)
{
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0x1000, A_R, NULL));
	test_cmd_set_bypass(self->fd, 1);
	EXPECT_BYPASS(EP1, 0x1000);
	EXPECT_BYPASS(EP1, ~0ULL);
	test_cmd_set_bypass(self->fd, 0);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0x1000, A_R, NULL));
}

/* The config's bypass holds even when BYPASS_CONFIG was not negotiated */
TEST_F(req, bypass_config_not_negotiated)
{
	RESTART(VMM_F(VIRTIO_IOMMU_F_BYPASS_CONFIG));
	test_cmd_set_bypass(self->fd, 1);
	EXPECT_BYPASS(EP1, 0x1000);
}

TEST_F(req, bypass_attach_flag)
{
	test_cmd_attach(&self->v, D1, EP1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	EXPECT_BYPASS(EP1, 0x1000);
	EXPECT_BYPASS(EP1, 0xfedcba9876543000ULL);
	test_cmd_attach(&self->v, D1, EP2, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	EXPECT_BYPASS(EP2, 0x1000);
	test_cmd_detach(&self->v, D1, EP1);
	EXPECT_EQ(-ENXIO, xlate(self->fd, EP1, 0x1000, A_R, NULL));
}

TEST_F(req, bypass_attached_not_bypassed)
{
	test_cmd_set_bypass(self->fd, 1);
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_UNMAPPED(EP1, 0x1000);
	EXPECT_BYPASS(EP2, 0x1000);
}

/*
 * Ordering: requests execute strictly in ring order.
 */

TEST_F(req, order_unmap_then_map)
{
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	struct vmm_req r[2];

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000, RW);
	vmm_mk_unmap(&u, D1, 0x10000, 0x1ffff);
	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x200000, RD);
	vmm_req_prepare(&self->v, &r[0], &u, VMM_UNMAP_LEN, 4);
	vmm_req_prepare(&self->v, &r[1], &m, VMM_MAP_LEN, 4);
	test_cmd(vmm_batch(&self->v, r, 2));
	EXPECT_EQ(S_OK, r[0].status);
	EXPECT_EQ(S_OK, r[1].status);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x200000, RD);
}

/* Pages of [p, p + len) not resident, or -1 when mincore() fails */
static long not_resident(void *p, size_t len)
{
	size_t n = len / 4096, i;
	unsigned char *vec = calloc(n, 1);
	long missing = 0;

	if (!vec || mincore(p, len, vec)) {
		free(vec);
		return -1;
	}
	for (i = 0; i < n; i++)
		missing += !(vec[i] & 1);
	free(vec);
	return missing;
}

/* vmm_opts.prefault: every page of every view is there before any use */
TEST(prefault_resident)
{
	struct vmm_opts o = { .prefault = true };
	struct vmm v;

	ASSERT_EQ(0, vmm_init(&v, &o));
	EXPECT_EQ(0, not_resident(v.gmem, VMM_MEM_SIZE));
	EXPECT_EQ(0, not_resident(v.hva[0], VMM_REGION_SIZE));
	EXPECT_EQ(0, not_resident(v.hva[1], VMM_REGION_SIZE));
	vmm_fini(&v);
	/* Without it, the guest memory is still untouched */
	ASSERT_EQ(0, vmm_init(&v, NULL));
	EXPECT_LT(VMM_MEM_SIZE / 4096 / 2,
		  not_resident(v.gmem, VMM_MEM_SIZE));
	vmm_fini(&v);
}

/*
 * A driver that asks to be woken once, when the last request of its batch
 * is used (bench_requests): the device must wake it then, with every
 * request done in order; a wake-up index one too far would leave the
 * driver asleep until VMM_TIMEOUT_MS.
 */
TEST_F(req, batch_end_notification)
{
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	struct vmm_req r[64];
	unsigned int i, round;

	self->v.opts.notify_batch_end = true;
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < ARRAY_SIZE(r); i++) {
			uint64_t iova = 0x100000 + i * 0x1000;

			if (round % 2) {
				vmm_mk_unmap(&u, D1, iova, iova + 0xfff);
				vmm_req_prepare(&self->v, &r[i], &u,
						VMM_UNMAP_LEN, 4);
			} else {
				vmm_mk_map(&m, D1, iova, iova + 0xfff, iova,
					   RW);
				vmm_req_prepare(&self->v, &r[i], &m,
						VMM_MAP_LEN, 4);
			}
		}
		test_cmd(vmm_batch(&self->v, r, ARRAY_SIZE(r)));
		for (i = 0; i < ARRAY_SIZE(r); i++)
			EXPECT_EQ(S_OK, r[i].status);
		EXPECT_EQ(round % 2 ? 0 : ARRAY_SIZE(r),
			  vmm_stats(self->fd).mappings);
		EXPECT_FALSE(self->v.vq[VHOST_IOMMU_VQ_REQUEST].wake_at_set);
	}
}

TEST_F(req, order_map_unmap_map)
{
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m1, m2;
	struct vmm_req r[3];

	test_cmd_attach(&self->v, D1, EP1, 0);
	vmm_mk_map(&m1, D1, 0x10000, 0x1ffff, 0x100000, RW);
	vmm_mk_unmap(&u, D1, 0x10000, 0x1ffff);
	vmm_mk_map(&m2, D1, 0x10000, 0x1ffff, 0x300000, WR);
	vmm_req_prepare(&self->v, &r[0], &m1, VMM_MAP_LEN, 4);
	vmm_req_prepare(&self->v, &r[1], &u, VMM_UNMAP_LEN, 4);
	vmm_req_prepare(&self->v, &r[2], &m2, VMM_MAP_LEN, 4);
	test_cmd(vmm_batch(&self->v, r, 3));
	EXPECT_EQ(S_OK, r[0].status);
	EXPECT_EQ(S_OK, r[1].status);
	EXPECT_EQ(S_OK, r[2].status);
	EXPECT_MAPPED(EP1, 0x10000, 0x1ffff, 0x300000, WR);
	EXPECT_EQ(1, vmm_stats(self->fd).mappings);
}

TEST_F(req, order_attach_map_detach)
{
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_detach d;
	struct virtio_iommu_req_map m;
	struct vmm_req r[4];

	vmm_mk_attach(&a, D1, EP1, 0);
	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x100000, RW);
	vmm_mk_detach(&d, D1, EP1);
	vmm_req_prepare(&self->v, &r[0], &a, VMM_ATTACH_LEN, 4);
	vmm_req_prepare(&self->v, &r[1], &m, VMM_MAP_LEN, 4);
	vmm_req_prepare(&self->v, &r[2], &d, VMM_DETACH_LEN, 4);
	/* The domain died with the DETACH */
	vmm_req_prepare(&self->v, &r[3], &m, VMM_MAP_LEN, 4);
	test_cmd(vmm_batch(&self->v, r, 4));
	EXPECT_EQ(S_OK, r[0].status);
	EXPECT_EQ(S_OK, r[1].status);
	EXPECT_EQ(S_OK, r[2].status);
	EXPECT_EQ(S_NOENT, r[3].status);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
}

/* More than one worker round (64 requests) in one kick */
TEST_F(req, order_large_batch)
{
	const unsigned int n = 300;
	struct virtio_iommu_req_map m;
	struct vmm_req *r;
	unsigned int i;

	r = calloc(n + 1, sizeof(*r));
	ASSERT_NE(NULL, r);
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < n; i++) {
		/* every 10th overlaps the one before it */
		uint64_t s = (i % 10 == 9 ? i - 1 : i) * 0x10000ULL;

		vmm_mk_map(&m, D1, s, s + 0xffff, i * 0x1000ULL, RW);
		vmm_req_prepare(&self->v, &r[i], &m, VMM_MAP_LEN, 4);
	}
	for (i = 0; i < n; i += 100)
		test_cmd(vmm_batch(&self->v, r + i, 100));
	for (i = 0; i < n; i++)
		ASSERT_EQ(i % 10 == 9 ? S_INVAL : S_OK, r[i].status)
			TH_LOG("request %u", i);
	EXPECT_EQ(n - n / 10, vmm_stats(self->fd).mappings);
	EXPECT_MAPPED(EP1, 0x80000, 0x8ffff, 0x8000, RW);
	free(r);
}

/*
 * Statistics
 */

TEST_F(req, stats_requests)
{
	struct vhost_iommu_stats s0, s1;
	uint8_t unknown[8] = { 0x77 };
	struct vmm_req r;

	s0 = vmm_stats(self->fd);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0, RW);
	test_cmd_map(&self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_err_map(S_INVAL, &self->v, D1, 0x20000, 0x2ffff, 0, RW);
	test_err_map(S_RANGE, &self->v, D1, 0x20001, 0x2ffff, 0, RW);
	test_cmd_unmap(&self->v, D1, 0x10000, 0x1ffff);
	test_cmd_probe(&self->v, EP1, self->v.probe_size + 4, &r);
	test_err_probe(S_NOENT, &self->v, 99, self->v.probe_size + 4, &r);
	test_cmd_detach(&self->v, D1, EP1);
	ASSERT_EQ(0, vmm_request(&self->v, unknown, sizeof(unknown), 4, &r));
	s1 = vmm_stats(self->fd);
	EXPECT_EQ(1, s1.requests[0] - s0.requests[0]);
	EXPECT_EQ(1, s1.requests[VIRTIO_IOMMU_T_ATTACH] -
		     s0.requests[VIRTIO_IOMMU_T_ATTACH]);
	EXPECT_EQ(1, s1.requests[VIRTIO_IOMMU_T_DETACH] -
		     s0.requests[VIRTIO_IOMMU_T_DETACH]);
	EXPECT_EQ(4, s1.requests[VIRTIO_IOMMU_T_MAP] -
		     s0.requests[VIRTIO_IOMMU_T_MAP]);
	EXPECT_EQ(1, s1.requests[VIRTIO_IOMMU_T_UNMAP] -
		     s0.requests[VIRTIO_IOMMU_T_UNMAP]);
	EXPECT_EQ(2, s1.requests[VIRTIO_IOMMU_T_PROBE] -
		     s0.requests[VIRTIO_IOMMU_T_PROBE]);
	EXPECT_EQ(6, s1.status[S_OK] - s0.status[S_OK]);
	EXPECT_EQ(1, s1.status[S_INVAL] - s0.status[S_INVAL]);
	EXPECT_EQ(1, s1.status[S_RANGE] - s0.status[S_RANGE]);
	EXPECT_EQ(1, s1.status[S_NOENT] - s0.status[S_NOENT]);
	EXPECT_EQ(0, s1.malformed - s0.malformed);
	EXPECT_EQ(0, s1.ring_errors - s0.ring_errors);
}

TEST_F(req, stats_live_objects)
{
	struct vhost_iommu_stats s;

	s = vmm_stats(self->fd);
	EXPECT_EQ(3, s.endpoints);
	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(0, s.mappings);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0, RW);
	test_cmd_map(&self->v, D2, 0x10000, 0x1ffff, 0, RW);
	test_cmd_map(&self->v, D2, 0x20000, 0x2ffff, 0, RW);
	s = vmm_stats(self->fd);
	EXPECT_EQ(2, s.domains);
	EXPECT_EQ(3, s.mappings);
	test_cmd_unmap(&self->v, D2, 0x20000, 0x2ffff);
	EXPECT_EQ(2, vmm_stats(self->fd).mappings);
	test_cmd_detach(&self->v, D2, EP2);
	s = vmm_stats(self->fd);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(1, s.mappings);
	test_cmd_del_endpoint(self->fd, EP1);
	s = vmm_stats(self->fd);
	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(2, s.endpoints);
}

/*
 * Module parameters: max_domains and max_mappings (NOMEM), max_endpoints
 * (ENOSPC)
 */

FIXTURE(limits) {
	struct vmm v;
	long long max_domains, max_mappings, max_endpoints;
};

FIXTURE_SETUP(limits)
{
	self->max_domains = vt_param_get("max_domains");
	self->max_mappings = vt_param_get("max_mappings");
	self->max_endpoints = vt_param_get("max_endpoints");
	if (self->max_domains < 0 || self->max_mappings < 0 ||
	    self->max_endpoints < 0)
		return;
	test_cmd(vmm_init(&self->v, NULL));
	ASSERT_EQ(0, add_endpoints(self->v.fd));
}

FIXTURE_TEARDOWN(limits)
{
	if (self->max_domains >= 0)
		vt_param_set("max_domains", self->max_domains);
	if (self->max_mappings >= 0)
		vt_param_set("max_mappings", self->max_mappings);
	if (self->max_endpoints >= 0)
		vt_param_set("max_endpoints", self->max_endpoints);
	if (self->v.gmem)
		vmm_fini(&self->v);
}

TEST_F(limits, max_mappings)
{
	struct vhost_iommu_stats s;

	if (self->max_mappings < 0 || vt_param_set("max_mappings", 3))
		SKIP(return, "max_mappings is not writable");
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0, RW);
	test_cmd_map(&self->v, D1, 0x20000, 0x2ffff, 0, RW);
	/* The limit is per device, not per domain */
	test_cmd_map(&self->v, D2, 0x20000, 0x2ffff, 0, RW);
	test_err_map(S_NOMEM, &self->v, D2, 0x30000, 0x3ffff, 0, RW);
	test_err_map(S_NOMEM, &self->v, D1, 0x30000, 0x3ffff, 0, RW);
	test_cmd_get_stats(self->v.fd, &s);
	EXPECT_EQ(3, s.mappings);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP2, 0x30000, A_R, 0,
					 NULL));
	/* Step 9 (overlap) comes before step 10 */
	test_err_map(S_INVAL, &self->v, D1, 0x10000, 0x1ffff, 0, RW);
	test_cmd_unmap(&self->v, D1, 0x10000, 0x1ffff);
	test_cmd_map(&self->v, D2, 0x30000, 0x3ffff, 0, RW);
}

TEST_F(limits, max_domains)
{
	if (self->max_domains < 0 || vt_param_set("max_domains", 2))
		SKIP(return, "max_domains is not writable");
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_err_attach(S_NOMEM, &self->v, 3, EP3, 0);
	EXPECT_EQ(-ENXIO, vmm_translate(self->v.fd, EP3, 0, A_R, 0, NULL));
	/* An existing domain takes more endpoints */
	test_cmd_attach(&self->v, D1, EP3, 0);
	/*
	 * Step 7 comes before step 8: the new domain is refused before EP2
	 * leaves D2, and EP2 stays in D2.
	 */
	test_err_attach(S_NOMEM, &self->v, 4, EP2, 0);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP2, 0, A_R, 0, NULL));
	/* A dead domain frees its slot */
	test_cmd_detach(&self->v, D2, EP2);
	test_cmd_attach(&self->v, 4, EP2, 0);
}

/* The VMM's endpoints are bounded per device too (issue 11, review) */
TEST_F(limits, max_endpoints)
{
	struct vhost_iommu_stats s;
	uint64_t n0;

	test_cmd_get_stats(self->v.fd, &s);
	n0 = s.endpoints;
	if (self->max_endpoints < 0 ||
	    vt_param_set("max_endpoints", n0 + 2))
		SKIP(return, "max_endpoints is not writable");
	test_cmd_add_endpoint(self->v.fd, 100, NULL, 0);
	test_cmd_add_endpoint(self->v.fd, 101, NULL, 0);
	EXPECT_EQ(-ENOSPC, vmm_add_endpoint(self->v.fd, 102, NULL, 0));
	test_cmd_get_stats(self->v.fd, &s);
	EXPECT_EQ(n0 + 2, s.endpoints);
	EXPECT_EQ(-ENODEV, vmm_translate(self->v.fd, 102, 0, A_R, 0, NULL));
	/* Removing one makes room */
	test_cmd_del_endpoint(self->v.fd, 100);
	EXPECT_EQ(0, vmm_add_endpoint(self->v.fd, 102, NULL, 0));
	test_cmd_attach(&self->v, D1, 102, 0);
}

TEST_HARNESS_MAIN
