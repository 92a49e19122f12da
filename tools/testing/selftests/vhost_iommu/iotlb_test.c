// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the device IOTLB of VMM-managed domains, its
 * ioctls and the miss queue's read() (the uapi header's "device IOTLB for
 * VMM-managed domains"). No vhost-net here: see iotlb_net_test.c for the
 * misses of bound vhost-net devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1	/* attached to the VMM-managed domain VD */
#define EP2	2	/* attached to the guest-managed domain GD */
#define EP3	3	/* not attached */
#define VD	70
#define GD	1
#define PG	0x1000ULL
#define R	VHOST_IOMMU_ACCESS_READ
#define W	VHOST_IOMMU_ACCESS_WRITE

static int iotlb_attach(int fd, uint32_t ep, uint32_t dom, uint32_t flags)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .flags = flags, .endpoint = ep, .domain = dom,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
}

static int batch_ioc(int fd, unsigned long req, uint32_t dom,
		     const struct vhost_iommu_iotlb_entry *e, uint32_t nr)
{
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = dom, .nr = nr,
		.entries = (uintptr_t)e,
	};

	return vmm_ioctl(fd, req, &b);
}

static int update1(int fd, uint32_t dom, uint64_t iova, uint64_t size,
		   uint64_t gpa, uint32_t perm)
{
	struct vhost_iommu_iotlb_entry e = {
		.iova = iova, .size = size, .gpa = gpa, .perm = perm,
	};

	return batch_ioc(fd, VHOST_IOMMU_IOTLB_UPDATE, dom, &e, 1);
}

static int inval1(int fd, uint32_t dom, uint64_t iova, uint64_t size)
{
	struct vhost_iommu_iotlb_entry e = { .iova = iova, .size = size };

	return batch_ioc(fd, VHOST_IOMMU_IOTLB_INVALIDATE, dom, &e, 1);
}

FIXTURE(iotlb) {
	struct vmm v;
	int fd;
};

FIXTURE_SETUP(iotlb)
{
	test_cmd(vmm_init(&self->v, NULL));
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP3, NULL, 0);
	ASSERT_EQ(0, iotlb_attach(self->fd, EP1, VD, 0));
	test_cmd_attach(&self->v, GD, EP2, 0);
	ASSERT_EQ(0, update1(self->fd, VD, 0x100000, 16 * PG, 0x400000, R));
	ASSERT_EQ(1, vmm_stat(self->fd, mappings));
}

FIXTURE_TEARDOWN(iotlb)
{
	vmm_fini(&self->v);
}

TEST_F(iotlb, translate_vmm_domain)
{
	struct vhost_iommu_translate t;

	test_cmd_translate(self->fd, EP1, 0x100000 + 5 * PG + 7, R, 0,
			   &t);
	EXPECT_EQ(0x100000, t.start);
	EXPECT_EQ(0x100000 + 16 * PG - 1, t.last);
	EXPECT_EQ(0x400000, t.phys);
	EXPECT_EQ(VIRTIO_IOMMU_MAP_F_READ, t.perm);
	EXPECT_EQ(-EACCES, vmm_translate(self->fd, EP1, 0x100000, W, 0, &t));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x100000 + 16 * PG, R,
					 0, &t));
}

TEST_F(iotlb, invalidate_removes_whole_entries)
{
	struct vhost_iommu_translate t;

	ASSERT_EQ(0, update1(self->fd, VD, 0x200000, PG, 0x500000, R | W));
	/* one page in the middle of the first entry takes all of it */
	ASSERT_EQ(0, inval1(self->fd, VD, 0x100000 + 3 * PG, PG));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x200000, W, 0, &t));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
	/* nothing there: not an error */
	EXPECT_EQ(0, inval1(self->fd, VD, 0x900000, PG));
}

TEST_F(iotlb, batch)
{
	struct vhost_iommu_iotlb_entry e[3] = {
		{ .iova = 0x300000, .size = PG, .gpa = 0x10000, .perm = R },
		{ .iova = 0x200000, .size = 2 * PG, .gpa = 0x20000, .perm = W },
		{ .iova = 0x280000, .size = PG, .gpa = 0x30000, .perm = R | W },
	};
	struct vhost_iommu_translate t;

	ASSERT_EQ(0, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD, e, 3));
	EXPECT_EQ(4, vmm_stat(self->fd, mappings));
	test_cmd_translate(self->fd, EP1, 0x200000 + PG, W, 0, &t);
	EXPECT_EQ(0x20000, t.phys);
	struct vhost_iommu_iotlb_entry inv[2] = {
		{ .iova = 0x300000, .size = PG },
		{ .iova = 0x200000, .size = PG },
	};

	ASSERT_EQ(0, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_INVALIDATE, VD,
			       inv, 2));
	EXPECT_EQ(2, vmm_stat(self->fd, mappings));
}

/* Each defect: its errno, and nothing changed. */
FIXTURE(bad) {
	struct vmm v;
	int fd;
};

FIXTURE_VARIANT(bad) {
	bool update;
	uint32_t domain;
	struct vhost_iommu_iotlb_entry e;
	int err;
};

FIXTURE_VARIANT_ADD(bad, zero_size) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = 0,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, iova_wraps) {
	.update = true,
	.domain = VD,
	.err = EOVERFLOW,
	.e = {
		.iova = ~0xfffULL,
		.size = 2 * PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, gpa_wraps) {
	.update = true,
	.domain = VD,
	.err = EOVERFLOW,
	.e = {
		.iova = 0x800000,
		.size = 2 * PG,
		.gpa = ~0xfffULL,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, unknown_perm) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.perm = 4,
	},
};

FIXTURE_VARIANT_ADD(bad, no_perm) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.perm = 0,
	},
};

FIXTURE_VARIANT_ADD(bad, unaligned_iova) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800800,
		.size = PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, unaligned_size) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = 0x800,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, unaligned_gpa) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.gpa = 0x10,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, reserved) {
	.update = true,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.perm = R,
		.__reserved = 1,
	},
};

FIXTURE_VARIANT_ADD(bad, unknown_domain) {
	.update = true,
	.domain = 99,
	.err = ENOENT,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, guest_domain) {
	.update = true,
	.domain = GD,
	.err = EPERM,
	.e = {
		.iova = 0x800000,
		.size = PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, overlap) {
	.update = true,
	.domain = VD,
	.err = EEXIST,
	.e = {
		.iova = 0x100000 + 15 * PG,
		.size = 2 * PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_zero_size) {
	.update = false,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x100000,
		.size = 0,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_wraps) {
	.update = false,
	.domain = VD,
	.err = EOVERFLOW,
	.e = {
		.iova = ~0xfffULL,
		.size = 2 * PG,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_unaligned) {
	.update = false,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x100800,
		.size = PG,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_with_perm) {
	.update = false,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x100000,
		.size = PG,
		.perm = R,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_with_gpa) {
	.update = false,
	.domain = VD,
	.err = EINVAL,
	.e = {
		.iova = 0x100000,
		.size = PG,
		.gpa = PG,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_unknown_domain) {
	.update = false,
	.domain = 99,
	.err = ENOENT,
	.e = {
		.iova = 0x100000,
		.size = PG,
	},
};

FIXTURE_VARIANT_ADD(bad, inval_guest_domain) {
	.update = false,
	.domain = GD,
	.err = EPERM,
	.e = {
		.iova = 0x100000,
		.size = PG,
	},
};

FIXTURE_SETUP(bad)
{
	test_cmd(vmm_init(&self->v, NULL));
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
	ASSERT_EQ(0, iotlb_attach(self->fd, EP1, VD, 0));
	test_cmd_attach(&self->v, GD, EP2, 0);
	test_cmd_map(&self->v, GD, 0x100000, 0x100fff, 0, 1);
	ASSERT_EQ(0, update1(self->fd, VD, 0x100000, 16 * PG, 0x400000, R));
}

FIXTURE_TEARDOWN(bad)
{
	vmm_fini(&self->v);
}

static unsigned long bad_req(const FIXTURE_VARIANT(bad) * variant)
{
	return variant->update ? VHOST_IOMMU_IOTLB_UPDATE :
				 VHOST_IOMMU_IOTLB_INVALIDATE;
}

TEST_F(bad, alone)
{
	struct vhost_iommu_translate t;

	EXPECT_EQ(-variant->err, batch_ioc(self->fd, bad_req(variant),
					   variant->domain, &variant->e, 1));
	EXPECT_EQ(2, vmm_stat(self->fd, mappings));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(0, vmm_translate(self->fd, EP2, 0x100000, R, 0, &t));
}

/* After a good entry, the bad one still changes nothing. */
TEST_F(bad, after_good)
{
	struct vhost_iommu_iotlb_entry e[2] = {
		{ .iova = 0x100000, .size = PG },
		variant->e,
	};
	struct vhost_iommu_translate t;

	if (variant->update)
		e[0] = (struct vhost_iommu_iotlb_entry) {
			.iova = 0x700000, .size = PG, .perm = R,
		};
	EXPECT_EQ(-variant->err, batch_ioc(self->fd, bad_req(variant),
					   variant->domain, e, 2));
	EXPECT_EQ(2, vmm_stat(self->fd, mappings));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x700000, R, 0, &t));
}

TEST_F(iotlb, batch_overlapping_itself)
{
	struct vhost_iommu_iotlb_entry e[2] = {
		{ .iova = 0x800000, .size = 2 * PG, .perm = R },
		{ .iova = 0x801000, .size = PG, .perm = R },
	};

	EXPECT_EQ(-EEXIST, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
				     e, 2));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
}

TEST_F(iotlb, batch_sizes)
{
	static struct vhost_iommu_iotlb_entry e[VHOST_IOMMU_IOTLB_MAX_BATCH + 1];
	unsigned int i;

	EXPECT_EQ(-EINVAL, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
				     e, 0));
	for (i = 0; i <= VHOST_IOMMU_IOTLB_MAX_BATCH; i++)
		e[i] = (struct vhost_iommu_iotlb_entry) {
			.iova = 0x1000000 + i * PG, .size = PG, .perm = R,
		};
	EXPECT_EQ(-E2BIG, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
				    e, VHOST_IOMMU_IOTLB_MAX_BATCH + 1));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
	EXPECT_EQ(0, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
			       e, VHOST_IOMMU_IOTLB_MAX_BATCH));
	EXPECT_EQ(1 + VHOST_IOMMU_IOTLB_MAX_BATCH, vmm_stat(self->fd, mappings));
	EXPECT_EQ(-EFAULT, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
				     (void *)16, 1));
}

TEST_F(iotlb, batch_flags)
{
	struct vhost_iommu_iotlb_entry e = { .iova = 0x800000, .size = PG,
					     .perm = R };
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .flags = 1, .domain = VD, .nr = 1,
		.entries = (uintptr_t)&e,
	};

	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_UPDATE, &b));
	b.flags = 0;
	b.size = 8;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_UPDATE, &b));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
}

TEST_F(iotlb, max_mappings)
{
	long long old = vt_param_get("max_mappings");

	ASSERT_LE(0, old);
	ASSERT_EQ(0, vt_param_set("max_mappings", 2));
	EXPECT_EQ(-ENOSPC, batch_ioc(self->fd, VHOST_IOMMU_IOTLB_UPDATE, VD,
				     (struct vhost_iommu_iotlb_entry[]) {
				     { .iova = 0x800000, .size = PG, .perm = R },
				     { .iova = 0x900000, .size = PG, .perm = R },
				     }, 2));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
	EXPECT_EQ(0, update1(self->fd, VD, 0x800000, PG, 0, R));
	ASSERT_EQ(0, vt_param_set("max_mappings", old));
}

/* The guest's requests cannot touch a VMM-managed domain. */
TEST_F(iotlb, guest_requests_refused)
{
	struct vhost_iommu_translate t;

	test_err_map(VIRTIO_IOMMU_S_INVAL, &self->v, VD, 0x800000, 0x800fff,
		     0, 1);
	test_err_unmap(VIRTIO_IOMMU_S_INVAL, &self->v, VD, 0, ~0ULL);
	test_err_attach(VIRTIO_IOMMU_S_INVAL, &self->v, VD, EP3, 0);
	test_err_detach(VIRTIO_IOMMU_S_INVAL, &self->v, VD, EP1);
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP3, 0x100000, R, 0, &t));
}

/* A guest ATTACH moves the endpoint; the domain dies with its last one. */
TEST_F(iotlb, guest_attach_moves_endpoint)
{
	struct vhost_iommu_translate t;
	struct vhost_iommu_stats s;

	test_cmd_attach(&self->v, GD, EP1, 0);
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(-ENOENT, inval1(self->fd, VD, 0x100000, PG));
}

TEST_F(iotlb, attach_errors)
{
	EXPECT_EQ(-ENODEV, iotlb_attach(self->fd, 9, VD, 0));
	EXPECT_EQ(-EEXIST, iotlb_attach(self->fd, EP3, GD, 0));
	EXPECT_EQ(-ENOENT, iotlb_attach(self->fd, EP3, VD,
					VHOST_IOMMU_IOTLB_ATTACH_F_DETACH));
	EXPECT_EQ(-ENOENT, iotlb_attach(self->fd, EP2, GD,
					VHOST_IOMMU_IOTLB_ATTACH_F_DETACH));
	EXPECT_EQ(-EINVAL, iotlb_attach(self->fd, EP3, VD, 2));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
}

TEST_F(iotlb, attach_shares_and_detach_kills)
{
	struct vhost_iommu_translate t;
	struct vhost_iommu_stats s;

	ASSERT_EQ(0, iotlb_attach(self->fd, EP3, VD, 0));
	EXPECT_EQ(0, vmm_translate(self->fd, EP3, 0x100000, R, 0, &t));
	ASSERT_EQ(0, iotlb_attach(self->fd, EP1, VD,
				  VHOST_IOMMU_IOTLB_ATTACH_F_DETACH));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, 0x100000, R, 0, &t));
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
	ASSERT_EQ(0, iotlb_attach(self->fd, EP3, VD,
				  VHOST_IOMMU_IOTLB_ATTACH_F_DETACH));
	test_cmd_get_stats(self->fd, &s);
	EXPECT_EQ(1, s.domains);
	EXPECT_EQ(0, s.mappings);
}

/* Moving an endpoint from a guest domain to a VMM-managed one. */
TEST_F(iotlb, attach_moves_from_guest_domain)
{
	struct vhost_iommu_translate t;

	ASSERT_EQ(0, iotlb_attach(self->fd, EP2, VD, 0));
	EXPECT_EQ(0, vmm_translate(self->fd, EP2, 0x100000, R, 0, &t));
	EXPECT_EQ(0x400000, t.phys);
	test_err_map(VIRTIO_IOMMU_S_NOENT, &self->v, GD, 0x800000, 0x800fff,
		     0, 1);
}

TEST_F(iotlb, read_errors)
{
	struct vhost_iommu_iotlb_miss m[2];

	EXPECT_EQ(-1, read(self->fd, m, sizeof(m[0]) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(self->fd, m, sizeof(m)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(iotlb, read_not_owner)
{
	struct vhost_iommu_iotlb_miss m;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(read(self->fd, &m, sizeof(m)) == -1 && errno == EPERM ?
		      0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

TEST_F(iotlb, notify)
{
	struct vhost_iommu_iotlb_notify n = { .size = sizeof(n), .fd = -1 };
	int efd = eventfd(0, 0), nul = open("/dev/null", O_RDWR);

	ASSERT_LE(0, efd);
	ASSERT_LE(0, nul);
	EXPECT_EQ(0, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	n.fd = efd;
	EXPECT_EQ(0, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	n.fd = nul;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	n.fd = 1000;
	EXPECT_EQ(-EBADF, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	n.fd = efd;
	n.__reserved = 1;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	n.__reserved = 0;
	n.flags = 1;
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n));
	close(nul);
	close(efd);
}

TEST_HARNESS_MAIN
