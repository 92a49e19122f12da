// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the ioctl contract of include/uapi/linux/
 * vhost_iommu.h and of the vhost ioctls the device takes (ownership,
 * features, vrings), and the device ioctls' validation (config, endpoints,
 * statistics, translation).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

/* Ownership: every ioctl but the feature ones needs VHOST_SET_OWNER. */

FIXTURE(noowner) {
	int fd;
};

FIXTURE_SETUP(noowner)
{
	self->fd = vmm_open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("%s", vt_errmsg);
}

FIXTURE_TEARDOWN(noowner)
{
	close(self->fd);
}

static void device_ioctls_fail(struct __test_metadata *_metadata, int fd,
			       int err)
{
	struct vhost_iommu_config c = { .size = sizeof(c) };
	struct vhost_iommu_stats s = { .size = sizeof(s) };
	struct vhost_iommu_endpoint e = { .size = sizeof(e), .endpoint = 1 };
	struct vhost_iommu_translate t = {
		.size = sizeof(t), .endpoint = 1,
		.access = VHOST_IOMMU_ACCESS_READ,
	};

	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_GET_CONFIG, &c));
	EXPECT_EQ(err, errno);
	c.page_size_mask = ~0xfffULL;
	c.input_end = ~0ULL;
	c.domain_end = ~0U;
	c.probe_size = 512;
	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_SET_CONFIG, &c));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_ADD_ENDPOINT, &e));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_DEL_ENDPOINT, &e));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_GET_STATS, &s));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_IOMMU_TRANSLATE, &t));
	EXPECT_EQ(err, errno);
}

static void vring_ioctls_fail(struct __test_metadata *_metadata, int fd,
			      int err)
{
	struct vhost_vring_state st = { .index = 0, .num = 256 };
	struct vhost_vring_file f = { .index = 0, .fd = -1 };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_memory m = { .nregions = 0 };
	char *ring = aligned_alloc(4096, 4096);

	ASSERT_NE(NULL, ring);
	a.desc_user_addr = (uintptr_t)ring;
	a.avail_user_addr = (uintptr_t)ring + 2048;
	a.used_user_addr = (uintptr_t)ring + 3072;
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_MEM_TABLE, &m));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_NUM, &st));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(err, errno);
	st.num = 0;
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_BASE, &st));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_GET_VRING_BASE, &st));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_KICK, &f));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_CALL, &f));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(-1, ioctl(fd, VHOST_SET_VRING_ERR, &f));
	EXPECT_EQ(err, errno);
	free(ring);
}

TEST_F(noowner, device_ioctls_need_owner)
{
	device_ioctls_fail(_metadata, self->fd, EPERM);
}

TEST_F(noowner, vring_ioctls_need_owner)
{
	vring_ioctls_fail(_metadata, self->fd, EPERM);
}

TEST_F(noowner, features_without_owner)
{
	uint64_t f = 0;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	EXPECT_EQ(VMM_OFFERED_FEATURES, f);
	f = VMM_F(VIRTIO_F_VERSION_1) | VMM_F(VIRTIO_IOMMU_F_MAP_UNMAP);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
}

TEST_F(noowner, set_owner_twice)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(noowner, set_features_unknown_bits)
{
	static const int bits[] = {
		VIRTIO_IOMMU_F_BYPASS, 7, 24, 27, 30, 33, 34, 35, 40, 63,
	};
	unsigned int i;
	uint64_t f;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		f = VMM_ALL_FEATURES | VMM_F(bits[i]);
		EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &f))
			TH_LOG("feature bit %d accepted", bits[i]);
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
	f = VMM_ALL_FEATURES;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
}

TEST_F(noowner, set_features_bad_pointer)
{
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* Runs @fn in a child process (another mm); returns its exit status. */
static int in_child(int (*fn)(int fd), int fd)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(fd));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int child_set_owner(int fd)
{
	if (!ioctl(fd, VHOST_SET_OWNER, NULL))
		return 0;
	return errno == EBUSY ? 1 : 2;
}

static int child_ioctls(int fd)
{
	struct vhost_iommu_config c = { .size = sizeof(c) };
	struct vhost_iommu_stats s = { .size = sizeof(s) };
	struct vhost_vring_state st = { .index = 0, .num = 256 };
	uint64_t f;

	if (ioctl(fd, VHOST_IOMMU_GET_CONFIG, &c) != -1 || errno != EPERM)
		return 1;
	if (ioctl(fd, VHOST_IOMMU_GET_STATS, &s) != -1 || errno != EPERM)
		return 2;
	if (ioctl(fd, VHOST_SET_VRING_NUM, &st) != -1 || errno != EPERM)
		return 3;
	/* The feature ioctls need no ownership. */
	if (ioctl(fd, VHOST_GET_FEATURES, &f))
		return 4;
	return 0;
}

TEST_F(noowner, set_owner_from_other_mm)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1, in_child(child_set_owner, self->fd))
		TH_LOG("a child could take a device owned by its parent");
}

TEST_F(noowner, ioctls_from_other_mm)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, in_child(child_ioctls, self->fd));
}

TEST_F(noowner, child_owner_parent_refused)
{
	struct vhost_iommu_stats s;

	ASSERT_EQ(0, in_child(child_set_owner, self->fd));
	/* The owner's process is gone; its mm still owns the device. */
	EXPECT_EQ(-EPERM, vmm_get_stats(self->fd, &s));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, errno);
}

/* Owned device, no memory */

FIXTURE(owned) {
	int fd;
};

FIXTURE_SETUP(owned)
{
	self->fd = vmm_open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
}

FIXTURE_TEARDOWN(owned)
{
	close(self->fd);
}

TEST_F(owned, config_default)
{
	struct vhost_iommu_config c;
	unsigned int i;

	memset(&c, 0xff, sizeof(c));
	c.size = sizeof(c);
	c.flags = 0;
	memset(c.__reserved, 0, sizeof(c.__reserved));
	test_cmd_ioctl(self->fd, VHOST_IOMMU_GET_CONFIG, &c);
	EXPECT_EQ(sizeof(c), c.size);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(~0xfffULL, c.page_size_mask);
	EXPECT_EQ(0, c.input_start);
	EXPECT_EQ(~0ULL, c.input_end);
	EXPECT_EQ(0, c.domain_start);
	EXPECT_EQ(~0U, c.domain_end);
	EXPECT_EQ(512, c.probe_size);
	EXPECT_EQ(0, c.bypass);
	for (i = 0; i < sizeof(c.__reserved); i++)
		EXPECT_EQ(0, c.__reserved[i]);
}

TEST_F(owned, config_roundtrip)
{
	struct vhost_iommu_config c = {
		.page_size_mask = 0x1ff000ULL | (1ULL << 30),
		.input_start = 0x10000,
		.input_end = 0xffffffffULL,
		.domain_start = 5,
		.domain_end = 100,
		.probe_size = 1024,
		.bypass = 1,
	}, r;

	test_cmd_set_config(self->fd, &c);
	test_cmd_get_config(self->fd, &r);
	EXPECT_EQ(c.page_size_mask, r.page_size_mask);
	EXPECT_EQ(c.input_start, r.input_start);
	EXPECT_EQ(c.input_end, r.input_end);
	EXPECT_EQ(c.domain_start, r.domain_start);
	EXPECT_EQ(c.domain_end, r.domain_end);
	EXPECT_EQ(c.probe_size, r.probe_size);
	EXPECT_EQ(c.bypass, r.bypass);
	/* Largest probe buffer, and a single-address input range */
	c.probe_size = 65536;
	c.input_start = 0x5000;
	c.input_end = 0x5000;
	c.domain_start = 7;
	c.domain_end = 7;
	test_cmd_set_config(self->fd, &c);
	test_cmd_get_config(self->fd, &r);
	EXPECT_EQ(65536, r.probe_size);
	EXPECT_EQ(7, r.domain_start);
}

/* SET_CONFIG: one invalid field per variant, EINVAL */
FIXTURE(cfg_inval) {
	int fd;
};

FIXTURE_VARIANT(cfg_inval) {
	uint64_t page_size_mask;
	uint64_t input_start, input_end;
	uint32_t domain_start, domain_end;
	uint32_t probe_size;
	uint8_t bypass;
	uint32_t flags;
	uint8_t reserved;
};

#define CFG_OK .page_size_mask = ~0xfffULL, .input_end = ~0ULL,	\
	.domain_end = ~0U, .probe_size = 512

FIXTURE_VARIANT_ADD(cfg_inval, granule_2k) {
	CFG_OK, .page_size_mask = ~0x7ffULL,
};

FIXTURE_VARIANT_ADD(cfg_inval, granule_none) {
	CFG_OK, .page_size_mask = 0,
};

FIXTURE_VARIANT_ADD(cfg_inval, input_range_empty) {
	CFG_OK, .input_start = 0x2000, .input_end = 0x1fff,
};

FIXTURE_VARIANT_ADD(cfg_inval, domain_range_empty) {
	CFG_OK, .domain_start = 10, .domain_end = 9,
};

FIXTURE_VARIANT_ADD(cfg_inval, bypass_2) {
	CFG_OK, .bypass = 2,
};

FIXTURE_VARIANT_ADD(cfg_inval, probe_size_unaligned) {
	CFG_OK, .probe_size = 510,
};

FIXTURE_VARIANT_ADD(cfg_inval, probe_size_too_big) {
	CFG_OK, .probe_size = 65536 + 4,
};

FIXTURE_VARIANT_ADD(cfg_inval, flags) {
	CFG_OK, .flags = 1 << 1,
};

/* A driver's write (VHOST_IOMMU_CONFIG_F_DRIVER) changes bypass only */
FIXTURE_VARIANT_ADD(cfg_inval, driver_write_probe_size) {
	CFG_OK, .flags = VHOST_IOMMU_CONFIG_F_DRIVER, .probe_size = 1024,
};

FIXTURE_VARIANT_ADD(cfg_inval, reserved) {
	CFG_OK, .reserved = 1,
};

FIXTURE_SETUP(cfg_inval)
{
	self->fd = vmm_open_dev();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
}

FIXTURE_TEARDOWN(cfg_inval)
{
	close(self->fd);
}

TEST_F(cfg_inval, set_config)
{
	struct vhost_iommu_config c = {
		.size = sizeof(c),
		.flags = variant->flags,
		.page_size_mask = variant->page_size_mask,
		.input_start = variant->input_start,
		.input_end = variant->input_end,
		.domain_start = variant->domain_start,
		.domain_end = variant->domain_end,
		.probe_size = variant->probe_size,
		.bypass = variant->bypass,
	}, r;

	c.__reserved[2] = variant->reserved;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_SET_CONFIG, &c));
	/* Nothing changed */
	test_cmd_get_config(self->fd, &r);
	EXPECT_EQ(~0xfffULL, r.page_size_mask);
	EXPECT_EQ(512, r.probe_size);
	EXPECT_EQ(0, r.bypass);
	EXPECT_EQ(~0ULL, r.input_end);
	EXPECT_EQ(~0U, r.domain_end);
}

TEST_F(owned, set_config_busy_with_endpoints)
{
	struct vhost_iommu_config c;

	test_cmd_get_config(self->fd, &c);
	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	c.probe_size = 1024;
	EXPECT_EQ(-EBUSY, vmm_set_config(self->fd, &c));
	c.probe_size = 512;
	c.domain_end = 10;
	EXPECT_EQ(-EBUSY, vmm_set_config(self->fd, &c));
	c.domain_end = ~0U;
	c.page_size_mask = ~0xffffULL;
	EXPECT_EQ(-EBUSY, vmm_set_config(self->fd, &c));
	c.page_size_mask = ~0xfffULL;
	c.input_end = 0xffffffff;
	EXPECT_EQ(-EBUSY, vmm_set_config(self->fd, &c));
	c.input_end = ~0ULL;
	/* bypass alone may change */
	c.bypass = 1;
	EXPECT_EQ(0, vmm_set_config(self->fd, &c));
	test_cmd_get_config(self->fd, &c);
	EXPECT_EQ(1, c.bypass);
	EXPECT_EQ(0, vmm_set_bypass(self->fd, 0));
	/* With the endpoint gone, everything may change again */
	test_cmd_del_endpoint(self->fd, 1);
	c.probe_size = 1024;
	EXPECT_EQ(0, vmm_set_config(self->fd, &c));
}

TEST_F(owned, reset_owner_keeps_bypass)
{
	struct vhost_iommu_config c;

	test_cmd_set_bypass(self->fd, 1);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	/* A reset device may be owned again (vhost-net semantics). */
	ioctl(self->fd, VHOST_SET_OWNER, NULL);
	test_cmd_get_config(self->fd, &c);
	EXPECT_EQ(1, c.bypass);
}

/* Endpoints */

static void resv_fill(struct vhost_iommu_resv_region *r, unsigned int n)
{
	unsigned int i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].start = 0x100000ULL * (i + 1);
		r[i].end = r[i].start + 0xfff;
		r[i].subtype = i & 1 ? VHOST_IOMMU_RESV_MSI :
				       VHOST_IOMMU_RESV_RESERVED;
	}
}

TEST_F(owned, endpoint_add_del)
{
	struct vhost_iommu_resv_region r[2];
	struct vhost_iommu_stats s;

	resv_fill(r, 2);
	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	test_cmd_add_endpoint(self->fd, 0, r, 2);
	test_cmd_add_endpoint(self->fd, ~0U, r, 1);
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(3, s.endpoints);
	EXPECT_EQ(0, vmm_del_endpoint(self->fd, 0));
	EXPECT_EQ(0, vmm_del_endpoint(self->fd, ~0U));
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(1, s.endpoints);
	/* The id is free again */
	EXPECT_EQ(0, vmm_add_endpoint(self->fd, 0, NULL, 0));
}

TEST_F(owned, endpoint_duplicate)
{
	struct vhost_iommu_stats s;

	test_cmd_add_endpoint(self->fd, 3, NULL, 0);
	EXPECT_EQ(-EEXIST, vmm_add_endpoint(self->fd, 3, NULL, 0));
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(1, s.endpoints);
}

TEST_F(owned, endpoint_del_unknown)
{
	EXPECT_EQ(-ENOENT, vmm_del_endpoint(self->fd, 3));
	test_cmd_add_endpoint(self->fd, 3, NULL, 0);
	EXPECT_EQ(-ENOENT, vmm_del_endpoint(self->fd, 4));
	EXPECT_EQ(0, vmm_del_endpoint(self->fd, 3));
	EXPECT_EQ(-ENOENT, vmm_del_endpoint(self->fd, 3));
}

TEST_F(owned, endpoint_too_many_resv)
{
	struct vhost_iommu_resv_region r[VHOST_IOMMU_MAX_RESV + 1];
	struct vhost_iommu_config c;

	/* A probe buffer that would hold them all */
	test_cmd_get_config(self->fd, &c);
	c.probe_size = 4096;
	test_cmd_set_config(self->fd, &c);
	resv_fill(r, VHOST_IOMMU_MAX_RESV + 1);
	EXPECT_EQ(-E2BIG, vmm_add_endpoint(self->fd, 1, r,
					   VHOST_IOMMU_MAX_RESV + 1));
	EXPECT_EQ(0, vmm_add_endpoint(self->fd, 1, r, VHOST_IOMMU_MAX_RESV));
}

TEST_F(owned, endpoint_resv_no_space)
{
	/* 512 bytes hold 21 RESV_MEM properties of 24 bytes, not 22 */
	struct vhost_iommu_resv_region r[22];
	struct vhost_iommu_stats s;

	resv_fill(r, 22);
	EXPECT_EQ(-ENOSPC, vmm_add_endpoint(self->fd, 1, r, 22));
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(0, s.endpoints);
	EXPECT_EQ(0, vmm_add_endpoint(self->fd, 1, r, 21));
}

FIXTURE(resv_inval) {
	int fd;
};

FIXTURE_VARIANT(resv_inval) {
	struct vhost_iommu_resv_region r[2];
	unsigned int n;
};

FIXTURE_VARIANT_ADD(resv_inval, end_below_start) {
	.r = { { .start = 0x2000, .end = 0x1fff } }, .n = 1,
};

FIXTURE_VARIANT_ADD(resv_inval, subtype_unknown) {
	.r = { { .start = 0x2000, .end = 0x2fff, .subtype = 2 } }, .n = 1,
};

FIXTURE_VARIANT_ADD(resv_inval, reserved_field) {
	.r = { { .start = 0x2000, .end = 0x2fff, .__reserved = { 1 } } },
	.n = 1,
};

FIXTURE_VARIANT_ADD(resv_inval, overlap) {
	.r = { { .start = 0x2000, .end = 0x2fff },
	       { .start = 0x2fff, .end = 0x3fff } }, .n = 2,
};

FIXTURE_VARIANT_ADD(resv_inval, overlap_contained) {
	.r = { { .start = 0x0, .end = ~0ULL },
	       { .start = 0x2000, .end = 0x2fff, .subtype = 1 } }, .n = 2,
};

FIXTURE_SETUP(resv_inval)
{
	self->fd = vmm_open_dev();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
}

FIXTURE_TEARDOWN(resv_inval)
{
	close(self->fd);
}

TEST_F(resv_inval, add_endpoint)
{
	struct vhost_iommu_stats s;

	EXPECT_EQ(-EINVAL, vmm_add_endpoint(self->fd, 1, variant->r,
					    variant->n));
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(0, s.endpoints);
	EXPECT_EQ(-ENOENT, vmm_del_endpoint(self->fd, 1));
}

TEST_F(owned, endpoint_resv_bad_pointer)
{
	EXPECT_EQ(-EFAULT, vmm_add_endpoint(self->fd, 1, (void *)8, 1));
	EXPECT_EQ(-ENOENT, vmm_del_endpoint(self->fd, 1));
}

TEST_F(owned, endpoint_del_nr_resv)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e), .endpoint = 1, .nr_resv = 1,
	};

	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_DEL_ENDPOINT, &e));
	EXPECT_EQ(0, vmm_del_endpoint(self->fd, 1));
}

/* TRANSLATE without any domain: bypass and blocked endpoints */

TEST_F(owned, translate_unknown_endpoint)
{
	EXPECT_EQ(-ENODEV, vmm_translate(self->fd, 9, 0x1000,
					 VHOST_IOMMU_ACCESS_READ, 0, NULL));
}

TEST_F(owned, translate_blocked)
{
	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, 1, 0x1000,
					VHOST_IOMMU_ACCESS_READ, 0, NULL));
}

TEST_F(owned, translate_bypass_config)
{
	struct vhost_iommu_translate t;
	const uint64_t iova = 0x123456789000ULL;

	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	test_cmd_set_bypass(self->fd, 1);
	test_cmd_translate(self->fd, 1, iova, VHOST_IOMMU_ACCESS_READ |
				   VHOST_IOMMU_ACCESS_WRITE, 0, &t);
	EXPECT_EQ(0, t.start);
	EXPECT_EQ(~0ULL, t.last);
	EXPECT_EQ(0, t.phys);
	EXPECT_EQ(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE,
		  t.perm & (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE));
	test_cmd_set_bypass(self->fd, 0);
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, 1, iova,
					VHOST_IOMMU_ACCESS_READ, 0, NULL));
}

TEST_F(owned, translate_access_invalid)
{
	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	test_cmd_set_bypass(self->fd, 1);
	EXPECT_EQ(-EINVAL, vmm_translate(self->fd, 1, 0, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, vmm_translate(self->fd, 1, 0, 1 << 2, 0, NULL));
	EXPECT_EQ(-EINVAL, vmm_translate(self->fd, 1, 0,
					 VHOST_IOMMU_ACCESS_READ | (1 << 31),
					 0, NULL));
	EXPECT_EQ(0, vmm_translate(self->fd, 1, 0, VHOST_IOMMU_ACCESS_WRITE,
				   0, NULL));
}

TEST_F(owned, translate_reserved)
{
	struct vhost_iommu_translate t = {
		.size = sizeof(t), .endpoint = 1,
		.access = VHOST_IOMMU_ACCESS_READ, .__reserved = 1,
	};

	test_cmd_add_endpoint(self->fd, 1, NULL, 0);
	test_cmd_set_bypass(self->fd, 1);
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_TRANSLATE, &t));
}

/*
 * The size contract of every device ioctl (include/uapi/linux/
 * vhost_iommu.h): one variant per ioctl, the argument otherwise valid.
 * A size below the first version: EINVAL; above VHOST_IOMMU_ARG_MAX:
 * E2BIG, from the size alone; larger than the kernel's struct with a
 * non-zero tail: E2BIG and no effect; with a zero tail: accepted, up to
 * VHOST_IOMMU_ARG_MAX; an output struct is written up to the caller's
 * size and no further.
 */
#define AS_EP		7
#define AS_DOMAIN	100
#define AS_BUF		(2 * VHOST_IOMMU_ARG_MAX)

FIXTURE(argsize) {
	int fd;
	int net;		/* BIND_NET, UNBIND_NET: a vhost-net device */
	uint8_t *buf;		/* AS_BUF bytes, then an inaccessible page */
	struct vhost_iommu_iotlb_entry entry;	/* IOTLB_UPDATE, _INVALIDATE */
	uint8_t stream[4096];	/* SAVE_STATE's output, LOAD_STATE's input */
	uint64_t stream_len;
};

FIXTURE_VARIANT(argsize) {
	unsigned long req;
	uint32_t size;		/* the size the kernel knows */
	uint32_t minsz;		/* size of the first version, 0: @size */
	bool out;		/* the kernel writes the struct back */
	uint32_t flags_off;	/* a u32 flags/reserved field */
	uint32_t flags_bad[2];	/* values of it that must be refused (0: none) */
};

FIXTURE_VARIANT_ADD(argsize, get_config) {
	.req = VHOST_IOMMU_GET_CONFIG,
	.size = sizeof(struct vhost_iommu_config), .out = true,
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, set_config) {
	.req = VHOST_IOMMU_SET_CONFIG,
	.size = sizeof(struct vhost_iommu_config),
	.flags_off = 4, .flags_bad = { 1u << 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, add_endpoint) {
	.req = VHOST_IOMMU_ADD_ENDPOINT,
	.size = sizeof(struct vhost_iommu_endpoint),
	.flags_off = 4, .flags_bad = { 1u << 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, del_endpoint) {
	.req = VHOST_IOMMU_DEL_ENDPOINT,
	.size = sizeof(struct vhost_iommu_endpoint),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, get_stats) {
	.req = VHOST_IOMMU_GET_STATS,
	.size = sizeof(struct vhost_iommu_stats),
	.minsz = offsetof(struct vhost_iommu_stats, iotlb_misses),
	.out = true, .flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, translate) {
	.req = VHOST_IOMMU_TRANSLATE,
	.size = sizeof(struct vhost_iommu_translate), .out = true,
	.flags_off = 4, .flags_bad = { 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, bind_net) {
	.req = VHOST_IOMMU_BIND_NET,
	.size = sizeof(struct vhost_iommu_bind),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, unbind_net) {
	.req = VHOST_IOMMU_UNBIND_NET,
	.size = sizeof(struct vhost_iommu_bind),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, iotlb_attach) {
	.req = VHOST_IOMMU_IOTLB_ATTACH,
	.size = sizeof(struct vhost_iommu_iotlb_attach),
	.flags_off = 4, .flags_bad = { 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, iotlb_update) {
	.req = VHOST_IOMMU_IOTLB_UPDATE,
	.size = sizeof(struct vhost_iommu_iotlb_batch),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, iotlb_invalidate) {
	.req = VHOST_IOMMU_IOTLB_INVALIDATE,
	.size = sizeof(struct vhost_iommu_iotlb_batch),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, iotlb_set_notify) {
	.req = VHOST_IOMMU_IOTLB_SET_NOTIFY,
	.size = sizeof(struct vhost_iommu_iotlb_notify),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, get_mappings) {
	.req = VHOST_IOMMU_GET_MAPPINGS,
	.size = sizeof(struct vhost_iommu_mappings), .out = true,
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, save_state) {
	.req = VHOST_IOMMU_SAVE_STATE,
	.size = sizeof(struct vhost_iommu_state), .out = true,
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, load_state) {
	.req = VHOST_IOMMU_LOAD_STATE,
	.size = sizeof(struct vhost_iommu_state),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

FIXTURE_VARIANT_ADD(argsize, reset_device) {
	.req = VHOST_IOMMU_RESET_DEVICE,
	.size = sizeof(struct vhost_iommu_reset),
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

/* Each test opens one channel at most: a second one would be EBUSY */
FIXTURE_VARIANT_ADD(argsize, report_open) {
	.req = VHOST_IOMMU_REPORT_OPEN,
	.size = sizeof(struct vhost_iommu_report_open), .out = true,
	.flags_off = 4, .flags_bad = { 1, 1u << 31 },
};

static int iotlb_batch(int fd, unsigned long req,
		       struct vhost_iommu_iotlb_entry *e)
{
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = AS_DOMAIN, .nr = 1,
		.entries = (uintptr_t)e,
	};

	return vmm_ioctl(fd, req, &b);
}

FIXTURE_SETUP(argsize)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .endpoint = AS_EP, .domain = AS_DOMAIN,
	};

	self->net = -1;
	self->buf = mmap(NULL, AS_BUF + 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, mprotect(self->buf + AS_BUF, 4096, PROT_NONE));
	self->fd = vmm_open_dev();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	if (variant->req == VHOST_IOMMU_SET_CONFIG)
		return;
	test_cmd_set_bypass(self->fd, 1);
	test_cmd_add_endpoint(self->fd, AS_EP, NULL, 0);
	switch (variant->req) {
	case VHOST_IOMMU_BIND_NET:
	case VHOST_IOMMU_UNBIND_NET:
		self->net = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, self->net);
		ASSERT_EQ(0, ioctl(self->net, VHOST_SET_OWNER, NULL));
		if (variant->req == VHOST_IOMMU_UNBIND_NET)
			test_cmd_bind_net(self->fd, AS_EP, self->net);
		break;
	case VHOST_IOMMU_GET_MAPPINGS:
		test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
		break;
	case VHOST_IOMMU_LOAD_STATE: {
		/* This device's own state: loading it changes nothing */
		struct vhost_iommu_state st = {
			.size = sizeof(st), .buf = (uintptr_t)self->stream,
			.len = sizeof(self->stream),
		};

		test_cmd_ioctl(self->fd, VHOST_IOMMU_SAVE_STATE, &st);
		self->stream_len = st.len;
		break;
	}
	case VHOST_IOMMU_IOTLB_UPDATE:
	case VHOST_IOMMU_IOTLB_INVALIDATE:
		test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
		self->entry.iova = 0x100000;
		self->entry.size = 0x1000;
		if (variant->req == VHOST_IOMMU_IOTLB_INVALIDATE) {
			self->entry.gpa = 0x200000;
			self->entry.perm = VHOST_IOMMU_ACCESS_READ;
			ASSERT_EQ(0, iotlb_batch(self->fd,
						 VHOST_IOMMU_IOTLB_UPDATE,
						 &self->entry));
			self->entry.gpa = 0;
			self->entry.perm = 0;
		} else {
			self->entry.gpa = 0x200000;
			self->entry.perm = VHOST_IOMMU_ACCESS_READ;
		}
		break;
	}
}

FIXTURE_TEARDOWN(argsize)
{
	close(self->fd);
	if (self->net >= 0)
		close(self->net);
	munmap(self->buf, AS_BUF + 4096);
}

/*
 * A valid argument of @size bytes at @arg (the bytes up to @size past the
 * struct zero; those after @size are left alone).
 */
static void *argbuf(struct _test_data_argsize *self,
		    const struct _fixture_variant_argsize *variant,
		    uint8_t *arg, uint32_t size)
{
	union {
		struct vhost_iommu_config c;
		struct vhost_iommu_endpoint e;
		struct vhost_iommu_translate t;
		struct vhost_iommu_bind b;
		struct vhost_iommu_iotlb_attach a;
		struct vhost_iommu_iotlb_batch ib;
		struct vhost_iommu_iotlb_notify n;
		struct vhost_iommu_mappings l;
		struct vhost_iommu_state st;
		struct vhost_iommu_report_open ro;
	} u;
	uint32_t ksize = variant->size;
	uint32_t n = size < ksize ? ksize : size;

	if (arg + n > self->buf + AS_BUF)
		n = self->buf + AS_BUF - arg;
	memset(arg, 0, n);
	memset(&u, 0, sizeof(u));
	switch (variant->req) {
	case VHOST_IOMMU_SET_CONFIG:
		vmm_get_config(self->fd, &u.c);
		u.c.probe_size = 1024;
		break;
	case VHOST_IOMMU_ADD_ENDPOINT:
		u.e.endpoint = AS_EP + 1;
		break;
	case VHOST_IOMMU_DEL_ENDPOINT:
		u.e.endpoint = AS_EP;
		break;
	case VHOST_IOMMU_TRANSLATE:
		u.t.endpoint = AS_EP;
		u.t.access = VHOST_IOMMU_ACCESS_READ;
		u.t.iova = 0x4000;
		break;
	case VHOST_IOMMU_BIND_NET:
	case VHOST_IOMMU_UNBIND_NET:
		u.b.endpoint = AS_EP;
		u.b.fd = self->net;
		break;
	case VHOST_IOMMU_IOTLB_ATTACH:
		u.a.endpoint = AS_EP;
		u.a.domain = AS_DOMAIN;
		break;
	case VHOST_IOMMU_IOTLB_UPDATE:
	case VHOST_IOMMU_IOTLB_INVALIDATE:
		u.ib.domain = AS_DOMAIN;
		u.ib.nr = 1;
		u.ib.entries = (uintptr_t)&self->entry;
		break;
	case VHOST_IOMMU_IOTLB_SET_NOTIFY:
		u.n.fd = -1;
		break;
	case VHOST_IOMMU_GET_MAPPINGS:
		u.l.domain = AS_DOMAIN;
		u.l.nr = 1;
		u.l.entries = (uintptr_t)&self->entry;
		break;
	case VHOST_IOMMU_SAVE_STATE:
		u.st.buf = (uintptr_t)self->stream;
		u.st.len = sizeof(self->stream);
		break;
	case VHOST_IOMMU_LOAD_STATE:
		u.st.buf = (uintptr_t)self->stream;
		u.st.len = self->stream_len;
		break;
	case VHOST_IOMMU_REPORT_OPEN:
		u.ro.fd = -1;	/* out only */
		break;
	}
	memcpy(arg, &u, ksize < sizeof(u) ? ksize : sizeof(u));
	*(uint32_t *)arg = size;
	return arg;
}

/* In TEST_F(argsize, ...): a valid argument of @sz bytes in self->buf */
#define ARG(sz)	argbuf(self, variant, self->buf, (sz))

/* What a refused call must leave as it was */
struct as_state {
	uint64_t endpoints, domains, mappings, bound;
	uint32_t probe_size;
};

static void as_state(int fd, struct as_state *st)
{
	struct vhost_iommu_stats s = vmm_stats(fd);
	struct vhost_iommu_config c;

	st->endpoints = s.endpoints;
	st->domains = s.domains;
	st->mappings = s.mappings;
	st->bound = s.bound;
	st->probe_size = vmm_get_config(fd, &c) ? 0 : c.probe_size;
}

TEST_F(argsize, exact)
{
	EXPECT_EQ(0, vmm_ioctl(self->fd, variant->req, ARG(variant->size)));
	if (variant->out)
		EXPECT_EQ(variant->size, *(uint32_t *)self->buf);
}

TEST_F(argsize, short_size)
{
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, variant->req,
				     ARG((variant->minsz ?: variant->size) - 1)));
	/* RESET_DEVICE's first version is 8 bytes: size and flags */
	if ((variant->minsz ?: variant->size) > 8)
		EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, variant->req, ARG(8)));
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, variant->req, ARG(4)));
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, variant->req, ARG(0)));
}

/* Above VHOST_IOMMU_ARG_MAX, the tail zero and readable: E2BIG */
TEST_F(argsize, over_max)
{
	static const uint32_t big[] = { VHOST_IOMMU_ARG_MAX + 1,
					VHOST_IOMMU_ARG_MAX + 8,
					2 * VHOST_IOMMU_ARG_MAX };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(big); i++)
		EXPECT_EQ(-E2BIG, vmm_ioctl(self->fd, variant->req,
					    ARG(big[i])))
			TH_LOG("size %u", big[i]);
}

/*
 * Sizes up to 4 GiB, the struct right before an inaccessible page: E2BIG
 * from the size alone, not EFAULT from a scan of the tail.
 */
TEST_F(argsize, over_max_unreadable_tail)
{
	static const uint32_t huge[] = { 0xffffffffU, 0x80000000U, 1U << 20,
					 VHOST_IOMMU_ARG_MAX + 1 };
	uint8_t *arg = self->buf + AS_BUF - 512;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(huge); i++)
		EXPECT_EQ(-E2BIG, vmm_ioctl(self->fd, variant->req,
					    argbuf(self, variant, arg,
						   huge[i])))
			TH_LOG("size %#x", huge[i]);
}

TEST_F(argsize, longer_zero_tail)
{
	uint32_t size = variant->size + 64;
	unsigned int i;

	EXPECT_EQ(0, vmm_ioctl(self->fd, variant->req, ARG(size)));
	/* What the kernel does not know stays zero */
	for (i = variant->size; i < size; i++)
		ASSERT_EQ(0, self->buf[i]) TH_LOG("byte %u", i);
	if (variant->req == VHOST_IOMMU_GET_CONFIG)
		EXPECT_EQ(512, ((struct vhost_iommu_config *)self->buf)->probe_size);
	if (variant->req == VHOST_IOMMU_GET_STATS)
		EXPECT_EQ(1, ((struct vhost_iommu_stats *)self->buf)->endpoints);
	if (variant->req == VHOST_IOMMU_TRANSLATE)
		EXPECT_EQ(0x4000, ((struct vhost_iommu_translate *)self->buf)->iova);
}

/* The largest size there is, its tail zero: accepted */
TEST_F(argsize, max_zero_tail)
{
	EXPECT_EQ(0, vmm_ioctl(self->fd, variant->req,
			       ARG(VHOST_IOMMU_ARG_MAX)));
}

TEST_F(argsize, longer_nonzero_tail)
{
	uint8_t *a;

	a = ARG(variant->size + 8);
	a[variant->size + 7] = 1;
	EXPECT_EQ(-E2BIG, vmm_ioctl(self->fd, variant->req, a));
	a = ARG(variant->size + 8);
	a[variant->size] = 0x80;
	EXPECT_EQ(-E2BIG, vmm_ioctl(self->fd, variant->req, a));
	a = ARG(VHOST_IOMMU_ARG_MAX);
	a[VHOST_IOMMU_ARG_MAX - 1] = 1;
	EXPECT_EQ(-E2BIG, vmm_ioctl(self->fd, variant->req, a));
}

TEST_F(argsize, flags_or_reserved)
{
	struct as_state st0, st1;
	unsigned int i;
	uint8_t *a;

	as_state(self->fd, &st0);
	for (i = 0; i < ARRAY_SIZE(variant->flags_bad); i++) {
		if (!variant->flags_bad[i])
			continue;
		a = ARG(variant->size);
		*(uint32_t *)(a + variant->flags_off) = variant->flags_bad[i];
		EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, variant->req, a))
			TH_LOG("%#x", variant->flags_bad[i]);
	}
	as_state(self->fd, &st1);
	EXPECT_EQ(0, memcmp(&st0, &st1, sizeof(st0)));
}

TEST_F(argsize, bad_pointer)
{
	EXPECT_EQ(-EFAULT, vmm_ioctl(self->fd, variant->req, (void *)16));
	EXPECT_EQ(-EFAULT, vmm_ioctl(self->fd, variant->req, NULL));
}

/* The argument was not applied when refused */
TEST_F(argsize, refused_has_no_effect)
{
	struct as_state st0, st1;
	uint8_t *a;

	as_state(self->fd, &st0);
	a = ARG(variant->size + 8);
	a[variant->size + 1] = 1;
	test_err_ioctl(E2BIG, self->fd, variant->req, a);
	test_err_ioctl(EINVAL, self->fd, variant->req,
		       ARG((variant->minsz ?: variant->size) - 1));
	as_state(self->fd, &st1);
	EXPECT_EQ(st0.endpoints, st1.endpoints);
	EXPECT_EQ(st0.domains, st1.domains);
	EXPECT_EQ(st0.mappings, st1.mappings);
	EXPECT_EQ(st0.bound, st1.bound);
	EXPECT_EQ(512, st1.probe_size);
	/* No channel was opened: one opens now */
	if (variant->req == VHOST_IOMMU_REPORT_OPEN)
		EXPECT_EQ(0, vmm_ioctl(self->fd, variant->req,
				       ARG(variant->size)));
}

/*
 * A caller built against the first version of the struct (its size:
 * @minsz, else the current one) gets that much back, no more: what
 * follows its argument stays untouched, and is not read either.
 */
TEST_F(argsize, first_version_not_written_past)
{
	uint32_t min = variant->minsz ?: variant->size;
	unsigned int i;
	uint8_t *a;

	a = ARG(min);
	memset(a + min, 0x5a, 64);
	EXPECT_EQ(0, vmm_ioctl(self->fd, variant->req, a));
	EXPECT_EQ(min, *(uint32_t *)a);
	for (i = min; i < min + 64; i++)
		ASSERT_EQ(0x5a, a[i]) TH_LOG("byte %u", i);
	if (variant->req == VHOST_IOMMU_GET_STATS)
		EXPECT_EQ(1, ((struct vhost_iommu_stats *)a)->endpoints);
}

/* vrings, with a memory table */

FIXTURE(vring) {
	struct vmm v;
};

FIXTURE_SETUP(vring)
{
	struct vmm_opts o = { .no_rings = true };

	test_cmd(vmm_init(&self->v, &o));
}

FIXTURE_TEARDOWN(vring)
{
	vmm_fini(&self->v);
}

TEST_F(vring, num_invalid)
{
	static const unsigned int bad[] = { 0, 3, 100, 255, 32769, 65535,
					    65536, 1u << 20 };
	struct vhost_vring_state s = { .index = 0 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		s.num = bad[i];
		EXPECT_EQ(-EINVAL, vmm_ioctl(self->v.fd, VHOST_SET_VRING_NUM,
					     &s)) TH_LOG("num %u", bad[i]);
	}
	for (s.num = 1; s.num <= VMM_MAX_NUM; s.num <<= 1)
		EXPECT_EQ(0, vmm_ioctl(self->v.fd, VHOST_SET_VRING_NUM, &s))
			TH_LOG("num %u", s.num);
}

TEST_F(vring, index_out_of_range)
{
	struct vhost_vring_state s = { .index = 2, .num = 256 };
	struct vhost_vring_file f = { .index = 2, .fd = -1 };
	struct vhost_vring_addr a = { .index = 2 };
	unsigned int idx[] = { 2, 3, 255, 0xffff, 0x10000 };
	unsigned int i;

	a.desc_user_addr = vmm_hva(&self->v, VMM_RING_GPA(0));
	a.avail_user_addr = a.desc_user_addr + 0x80000;
	a.used_user_addr = a.desc_user_addr + 0x92000;
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		s.index = idx[i];
		f.index = idx[i];
		a.index = idx[i];
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_NUM, &s));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &a));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_BASE, &s));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_GET_VRING_BASE, &s));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_KICK, &f));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_CALL, &f));
		EXPECT_EQ(-ENOBUFS, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ERR, &f));
	}
}

TEST_F(vring, addr_misaligned)
{
	struct vhost_vring_state s = { .index = 0, .num = 256 };
	struct vhost_vring_addr a = { .index = 0 }, ok;
	uint64_t base = vmm_hva(&self->v, VMM_RING_GPA(0));

	test_cmd_ioctl(self->v.fd, VHOST_SET_VRING_NUM, &s);
	a.desc_user_addr = base;
	a.avail_user_addr = base + 0x80000;
	a.used_user_addr = base + 0x92000;
	ok = a;
	a.desc_user_addr += 8;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &a));
	a = ok;
	a.avail_user_addr += 1;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &a));
	a = ok;
	a.used_user_addr += 2;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(0, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &ok));
}

TEST_F(vring, both_queues_setup)
{
	test_cmd(vmm_vq_setup(&self->v, 0, 256));
	test_cmd(vmm_vq_setup(&self->v, 1, 64));
}

TEST_F(vring, get_base_idle)
{
	unsigned int base = 1234;

	test_cmd(vmm_vq_setup(&self->v, 0, 256));
	test_cmd(vmm_vq_stop(&self->v, 0, &base));
	EXPECT_EQ(0, base);
	test_cmd(vmm_vq_restart(&self->v, 0, base));
}

TEST_HARNESS_MAIN
