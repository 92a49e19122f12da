// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the character device and its ioctl contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vhost_iommu.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "vmm.h"

#define DEV_PATH "/dev/vhost-iommu"

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(10, major(st.st_rdev)); /* misc */
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, get_features)
{
	uint64_t features = 0;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &features));
	EXPECT_EQ(VMM_OFFERED_FEATURES, features);
	/* The legacy bypass feature is never offered next to BYPASS_CONFIG. */
	EXPECT_EQ(0, features & (1ULL << VIRTIO_IOMMU_F_BYPASS));
}

TEST_F(dev, get_features_bad_pointer)
{
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_GET_FEATURES, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, unknown_ioctl)
{
	uint64_t v = 0;

	EXPECT_EQ(-1, ioctl(self->fd, _IOR(VHOST_VIRTIO, 0xff, uint64_t), &v));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 1), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(open_many)
{
	int fds[64];
	unsigned int i;

	for (i = 0; i < 64; i++) {
		fds[i] = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, close(fds[i]));
}

/*
 * Module defaults an operator relies on (Documentation/vhost-net.md).
 * run_tests.sh runs this binary first, before any test changes them.
 */
TEST(module_defaults)
{
	EXPECT_EQ(1, vt_param_get("push_on_map"));
	EXPECT_EQ(256, vt_param_get("iotlb_queue_len"));
	EXPECT_EQ(4096, vt_param_get("max_domains"));
	EXPECT_EQ(65536, vt_param_get("max_endpoints"));
	EXPECT_EQ(1 << 21, vt_param_get("max_mappings"));
}

TEST_HARNESS_MAIN
