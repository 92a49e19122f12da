/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The binding tests every stock vhost device served by vhost-iommu
 * (VHOST_IOMMU_BIND_DEVICE) goes through, shared by bridge_test.c
 * (vhost-net) and vsock_test.c (vhost-vsock). For tests built with
 * kselftest_harness.h (include this after it and vmm_test.h).
 *
 * FIXTURE(bind) of each: a vhost-iommu device with an owner and endpoint
 * @ep (self->fd) and a vhost device of @path that this process opened and
 * owns (self->dev), from bind_fixture_setup(); neither needs more to be
 * bound. The bind_check_*() functions are the shared parts of its tests,
 * each on vhost-iommu device @fd, endpoint @ep and vhost device @dev (or
 * devices of @path it opens itself).
 */
#ifndef VHOST_IOMMU_SELFTEST_BIND_TEST_H
#define VHOST_IOMMU_SELFTEST_BIND_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "vmm.h"
#include "vmm_test.h"

/* A vhost device of @path, with this process as its owner if @owner */
static inline int bind_open_vhost(const char *path, int flags, bool owner)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0 && owner && ioctl(fd, VHOST_SET_OWNER, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A vhost-iommu device with an owner and endpoint @ep */
static inline int bind_open_iommu(uint32_t ep)
{
	int fd = vmm_open_dev();

	if (fd < 0)
		return fd;
	if (ioctl(fd, VHOST_SET_OWNER, NULL) ||
	    vmm_add_endpoint(fd, ep, NULL, 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* O_NONBLOCK of a file: 0, 1 or -errno */
static inline int bind_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -errno : !!(fl & O_NONBLOCK);
}

/* A child's exit status (128 + signal if killed), -1 if not reaped */
static inline int bind_reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * FIXTURE(bind)'s setup: a vhost-iommu device with an owner and endpoint
 * @ep in *@fd, a device of @path this process opened and owns in *@dev;
 * its teardown closes both.
 */
static inline void bind_fixture_setup(struct __test_metadata *_metadata,
				      int *fd, int *dev, const char *path,
				      uint32_t ep)
{
	*dev = -1;
	*fd = bind_open_iommu(ep);
	ASSERT_LE(0, *fd);
	*dev = bind_open_vhost(path, O_RDWR, true);
	ASSERT_LE(0, *dev);
}

static inline void bind_fixture_teardown(int fd, int dev)
{
	if (fd >= 0)
		close(fd);
	if (dev >= 0)
		close(dev);
}

/*
 * Bound and unbound (BIND_DEVICE), then bound again under the first
 * names (BIND_NET, an alias): left bound.
 */
static inline void bind_check_bind_unbind(struct __test_metadata *_metadata,
					  int fd, uint32_t ep, int dev)
{
	EXPECT_EQ(0, vmm_stat(fd, bound));
	test_cmd(vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(1, vmm_stat(fd, bound));
	test_cmd(vmm_unbind_dev(fd, ep, dev));
	EXPECT_EQ(0, vmm_stat(fd, bound));
	/* Unbound, it may be bound again. */
	test_cmd_bind_net(fd, ep, dev);
	EXPECT_EQ(1, vmm_stat(fd, bound));
}

/* Owned devices of @path opened read-only, write-only, O_PATH: EBADF */
static inline void bind_check_not_read_write(struct __test_metadata *_metadata,
					     int fd, uint32_t ep,
					     const char *path)
{
	int ro = bind_open_vhost(path, O_RDONLY, true);
	int wo = bind_open_vhost(path, O_WRONLY, true);
	int opath = open(path, O_PATH | O_CLOEXEC);

	ASSERT_LE(0, ro);
	ASSERT_LE(0, wo);
	ASSERT_LE(0, opath);
	EXPECT_EQ(-EBADF, vmm_bind_dev(fd, ep, ro));
	EXPECT_EQ(-EBADF, vmm_bind_dev(fd, ep, wo));
	EXPECT_EQ(-EBADF, vmm_bind_dev(fd, ep, opath));
	EXPECT_EQ(0, vmm_stat(fd, bound));
	close(ro);
	close(wo);
	close(opath);
}

/* A device of @path without an owner: EPERM; owned, the same file binds */
static inline void bind_check_no_owner(struct __test_metadata *_metadata,
				       int fd, uint32_t ep, const char *path)
{
	int dev = bind_open_vhost(path, O_RDWR, false);

	ASSERT_LE(0, dev);
	EXPECT_EQ(-EPERM, vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(0, vmm_stat(fd, bound));
	ASSERT_EQ(0, ioctl(dev, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(1, vmm_stat(fd, bound));
	close(dev);
}

/*
 * One vhost device to one endpoint of one vhost-iommu device: bound to
 * @ep, it is busy for @ep again (also through a dup), for endpoint @ep + 1
 * (added here) and for another vhost-iommu device; free again once
 * unbound.
 */
static inline void bind_check_double(struct __test_metadata *_metadata,
				     int fd, uint32_t ep, int dev)
{
	int dupfd = dup(dev);
	int other = bind_open_iommu(ep);

	ASSERT_LE(0, dupfd);
	ASSERT_LE(0, other);
	test_cmd_add_endpoint(fd, ep + 1, NULL, 0);
	test_cmd(vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(-EBUSY, vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(-EBUSY, vmm_bind_dev(fd, ep, dupfd));
	EXPECT_EQ(-EBUSY, vmm_bind_dev(fd, ep + 1, dev));
	EXPECT_EQ(-EBUSY, vmm_bind_dev(other, ep, dev));
	EXPECT_EQ(1, vmm_stat(fd, bound));
	EXPECT_EQ(0, vmm_stat(other, bound));
	/* Free again once unbound */
	test_cmd(vmm_unbind_dev(fd, ep, dev));
	EXPECT_EQ(0, vmm_bind_dev(other, ep, dev));
	EXPECT_EQ(1, vmm_stat(other, bound));
	EXPECT_EQ(0, vmm_stat(fd, bound));
	close(other);
	close(dupfd);
}

/*
 * The caller must own the vhost-iommu device: a child (sharing @fd) with
 * its own owned device of @path cannot bind it to @ep.
 */
static inline void bind_check_child_not_owner(struct __test_metadata *_metadata,
					      int fd, uint32_t ep,
					      const char *path)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		int dev = bind_open_vhost(path, O_RDWR, true);

		if (dev < 0)
			_exit(2);
		_exit(vmm_bind_dev(fd, ep, dev) == -EPERM ? 0 : 1);
	}
	EXPECT_EQ(0, bind_reap(pid));
	EXPECT_EQ(0, vmm_stat(fd, bound));
}

/* Binding sets O_NONBLOCK, unbinding clears it again: left unbound */
static inline void bind_check_nonblock(struct __test_metadata *_metadata,
				       int fd, uint32_t ep, int dev)
{
	ASSERT_EQ(0, bind_nonblock(dev));
	test_cmd(vmm_bind_dev(fd, ep, dev));
	EXPECT_EQ(1, bind_nonblock(dev));
	test_cmd(vmm_unbind_dev(fd, ep, dev));
	EXPECT_EQ(0, bind_nonblock(dev));
}

#endif /* VHOST_IOMMU_SELFTEST_BIND_TEST_H */
