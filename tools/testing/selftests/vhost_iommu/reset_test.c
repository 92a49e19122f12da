// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: VHOST_IOMMU_RESET_DEVICE, the virtio reset
 * (include/uapi/linux/vhost_iommu.h, struct vhost_iommu_reset): what goes
 * (domains, mappings, the driver's bypass, the rings' progress) and what
 * stays (owner, features, memory table, configuration, endpoints). The
 * bindings' side is in bridge_test (teardown.reset_device_*) and
 * iotlb_net_test (inet.reset_*).
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1
#define EP2	2
#define D1	1
#define D2	2
#define VD	100	/* a VMM-managed domain */

#define RW	(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_RW	(VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE)

#define IOVA	0x100000ULL
#define IOVA_END	(IOVA + 0xfffff)
#define PHYS	VMM_DATA_GPA

FIXTURE(rst) {
	struct vmm v;
	int fd;
};

FIXTURE_SETUP(rst)
{
	ASSERT_EQ(0, vmm_init(&self->v, NULL)) TH_LOG("%s", vt_errmsg);
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
}

FIXTURE_TEARDOWN(rst)
{
	vmm_fini(&self->v);
}

/* The driver's write of bypass, as the VMM forwards it */
#define driver_bypass(fd, b) \
	vmm_set_bypass_flags((fd), (b), VHOST_IOMMU_CONFIG_F_DRIVER)

static uint8_t bypass_of(int fd)
{
	struct vhost_iommu_config c;

	return vmm_get_config(fd, &c) ? 0xff : c.bypass;
}

/* Domains and mappings go, endpoints stay; the guest can start over. */
TEST_F(rst, drops_domains_keeps_endpoints)
{
	struct vhost_iommu_stats s0, s1;
	uint64_t phys;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D2, EP2, 0);
	test_cmd_map(&self->v, D1, IOVA, IOVA_END, PHYS, RW);
	test_cmd(vmm_translate_phys(self->fd, EP1, IOVA, &phys));
	s0 = vmm_stats(self->fd);
	EXPECT_EQ(2, s0.domains);
	EXPECT_EQ(1, s0.mappings);

	test_cmd(vmm_reset_device(self->fd));
	s1 = vmm_stats(self->fd);
	EXPECT_EQ(0, s1.domains);
	EXPECT_EQ(0, s1.mappings);
	EXPECT_EQ(2, s1.endpoints);
	/* Counters keep counting */
	EXPECT_EQ(s0.requests[VIRTIO_IOMMU_T_ATTACH],
		  s1.requests[VIRTIO_IOMMU_T_ATTACH]);
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, IOVA, A_R, 0, NULL));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, IOVA, A_R, 0, NULL));

	test_cmd(vmm_rings_restart(&self->v));
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, IOVA, IOVA_END, PHYS, RW);
	test_cmd(vmm_translate_phys(self->fd, EP1, IOVA, &phys));
	EXPECT_EQ(PHYS, phys);
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
}

/*
 * The owner, the features and the memory table stay: the rings restart
 * without VHOST_SET_MEM_TABLE (the kernel reads them through it) and the
 * owner's ioctls go on.
 */
TEST_F(rst, keeps_owner_features_memory)
{
	struct vmm_req r;

	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, errno);
	test_cmd(vmm_rings_restart(&self->v));
	test_cmd_attach(&self->v, D1, EP1, 0);
	/* PROBE is UNSUPP without F_PROBE: the features stay negotiated */
	test_cmd_probe(&self->v, EP1, self->v.probe_size + 4, &r);
}

/*
 * The queues are stopped: a request posted and kicked after the reset is
 * not taken. VHOST_GET_VRING_BASE waits for the worker, so the answer is
 * final: index 0, the used ring untouched.
 */
TEST_F(rst, rings_stopped)
{
	struct virtio_iommu_req_attach a;
	struct vhost_vring_state st = { .index = VHOST_IOMMU_VQ_REQUEST };
	struct vmm_req r;
	uint16_t used;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd(vmm_reset_device(self->fd));
	used = le16toh(self->v.vq[VHOST_IOMMU_VQ_REQUEST].used->idx);

	vmm_mk_attach(&a, D1, EP1, 0);
	test_cmd(vmm_req_prepare(&self->v, &r, &a, VMM_ATTACH_LEN, 4));
	test_cmd(vmm_req_post(&self->v, &r));
	test_cmd(vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_BASE, &st));
	EXPECT_EQ(0, st.num);
	EXPECT_EQ(used, le16toh(self->v.vq[VHOST_IOMMU_VQ_REQUEST].used->idx));
	EXPECT_TRUE(vmm_wr_untouched(&r));
	EXPECT_EQ(0, vmm_stat(self->fd, domains));
}

/*
 * The indexes go back to 0: after five requests, a driver that starts a
 * fresh ring at 0 (without VHOST_SET_VRING_BASE) is served. Were the
 * device still at 5, the fresh ring's index 1 would be a ring error.
 */
TEST_F(rst, rings_rewound)
{
	int i;

	for (i = 0; i < 5; i++)
		test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd(vmm_reset_device(self->fd));
	test_cmd(vmm_rings_restart(&self->v));
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(0, vmm_stat(self->fd, ring_errors));
}

/*
 * Reset after reset: each time the driver starts again at index 0 with the
 * kick only, and is served (vmm_rings_restart() once left its rings
 * marked not ready, so the second restart handed nothing back).
 */
TEST_F(rst, reset_again)
{
	int i;

	for (i = 0; i < 3; i++) {
		test_cmd_attach(&self->v, D1, EP1, 0);
		test_cmd(vmm_reset_device(self->fd));
		test_cmd(vmm_rings_restart(&self->v));
	}
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
	EXPECT_EQ(0, vmm_stat(self->fd, ring_errors));
}

/*
 * Bypass goes back to the VMM's value (SET_CONFIG without flags), not to
 * the driver's (VHOST_IOMMU_CONFIG_F_DRIVER), and translations follow it.
 */
TEST_F(rst, bypass_reset_value)
{
	struct vhost_iommu_translate t;

	test_cmd(vmm_set_bypass_flags(self->fd, 1, 0));
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(1, bypass_of(self->fd));

	test_cmd(driver_bypass(self->fd, 0));
	EXPECT_EQ(0, bypass_of(self->fd));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, IOVA, A_R, 0, NULL));
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(1, bypass_of(self->fd));
	test_cmd(vmm_translate(self->fd, EP1, IOVA, A_RW, 0, &t));
	EXPECT_EQ(0, t.start);
	EXPECT_EQ(~0ULL, t.last);

	test_cmd(vmm_set_bypass_flags(self->fd, 0, 0));
	test_cmd(driver_bypass(self->fd, 1));
	EXPECT_EQ(1, bypass_of(self->fd));
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(0, bypass_of(self->fd));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, IOVA, A_R, 0, NULL));
}

/* A driver's write changes bypass only; flags are checked. */
TEST_F(rst, driver_write_checks)
{
	struct vhost_iommu_config c0, c;

	test_cmd_get_config(self->fd, &c0);
	c = c0;
	c.flags = VHOST_IOMMU_CONFIG_F_DRIVER;
	c.probe_size += 4;
	test_err_set_config(EINVAL, self->fd, &c);
	c = c0;
	c.flags = 1u << 1;
	test_err_set_config(EINVAL, self->fd, &c);
	c.flags = 1u << 31;
	test_err_set_config(EINVAL, self->fd, &c);
	test_cmd_get_config(self->fd, &c);
	EXPECT_EQ(0, memcmp(&c0, &c, sizeof(c)));
	/* With endpoints declared: bypass may change, as without the flag */
	test_cmd(driver_bypass(self->fd, 1));
	test_cmd_get_config(self->fd, &c);
	EXPECT_EQ(1, c.bypass);
	EXPECT_EQ(0, c.flags);
}

/* VMM-managed domains go too, with their translations. */
TEST_F(rst, vmm_domains_go)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .endpoint = EP2, .domain = VD,
	};
	struct vhost_iommu_iotlb_entry e = {
		.iova = IOVA, .size = 0x1000, .gpa = PHYS, .perm = A_RW,
	};
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = VD, .nr = 1,
		.entries = (uintptr_t)&e,
	};

	test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
	test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_UPDATE, &b);
	test_cmd(vmm_translate(self->fd, EP2, IOVA, A_R, 0, NULL));
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(0, vmm_stat(self->fd, domains));
	EXPECT_EQ(0, vmm_stat(self->fd, mappings));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, IOVA, A_R, 0, NULL));
	test_err_ioctl(ENOENT, self->fd, VHOST_IOMMU_IOTLB_UPDATE, &b);
}

/* Unknown flags: EINVAL, and nothing changes. */
TEST_F(rst, flags_checked)
{
	struct vhost_iommu_reset r = { .size = sizeof(r) };

	test_cmd_attach(&self->v, D1, EP1, 0);
	r.flags = 1;
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_RESET_DEVICE, &r);
	r.flags = 1u << 31;
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_RESET_DEVICE, &r);
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
	test_cmd_attach(&self->v, D2, EP2, 0);
}

/* A reset of a device nobody owns, or another process's: EPERM. */
TEST(not_owner)
{
	int fd = vmm_open_dev();
	pid_t pid;
	int status;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, vmm_reset_device(fd));
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_OWNER, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(vmm_reset_device(fd) == -EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, vmm_reset_device(fd));
	close(fd);
}

TEST_HARNESS_MAIN
