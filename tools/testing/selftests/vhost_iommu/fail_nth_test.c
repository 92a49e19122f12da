// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: allocation-failure sweeps with fail-nth.
 *
 * Every allocation reached by an operation is failed in turn: the operation
 * must fail with ENOMEM or survive, leave nothing behind (the debug kernel's
 * kmemleak and KASAN check that) and work on the next attempt. Skipped on a
 * kernel without CONFIG_FAULT_INJECTION, such as Debian's stock kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost_iommu.h>

#include "fail_nth.h"
#include "kselftest_harness.h"

#define DEV_PATH "/dev/vhost-iommu"

/*
 * Open the thread's fail-nth, or say why a sweep cannot run: no fail-nth
 * (CONFIG_FAULT_INJECTION), or failslab and fail_page_alloc set to ignore
 * the allocations that may sleep, which is nearly all of them.
 */
static const char *sweep_setup(struct fail_nth *fnth)
{
	static const char * const knobs[] = {
		"/sys/kernel/debug/failslab/ignore-gfp-wait",
		"/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait",
	};
	unsigned int i;
	char c;

	if (fail_nth_open(fnth))
		return "no fail-nth: kernel without CONFIG_FAULT_INJECTION";
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		int fd = open(knobs[i], O_RDONLY | O_CLOEXEC);
		ssize_t len;

		if (fd < 0)
			continue;
		len = read(fd, &c, 1);
		close(fd);
		if (len == 1 && c == 'Y') {
			fail_nth_close(fnth);
			return "fault injection ignores GFP_KERNEL: set ignore-gfp-wait to N";
		}
	}
	return NULL;
}

/* The device works: it answers VHOST_GET_FEATURES. */
static int dev_works(int fd)
{
	uint64_t features = 0;

	if (ioctl(fd, VHOST_GET_FEATURES, &features))
		return -errno;
	return features ? 0 : -EINVAL;
}

TEST(open_sweep)
{
	struct fail_nth fnth;
	const char *why;
	int fd, err, fd2;

	why = sweep_setup(&fnth);
	if (why)
		SKIP(return, "%s", why);
	fail_nth_sweep(&fnth) {
		ASSERT_EQ(0, fail_nth_arm(&fnth));
		fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		err = fd < 0 ? errno : 0;
		fail_nth_disarm(&fnth);
		if (fd >= 0) {
			/* Nothing injected, or a failure the kernel absorbed. */
			EXPECT_EQ(0, dev_works(fd));
			EXPECT_EQ(0, close(fd));
			continue;
		}
		EXPECT_TRUE(fnth.injected) {
			TH_LOG("open failed with nothing injected: %s",
			       strerror(err));
		}
		EXPECT_EQ(ENOMEM, err) {
			TH_LOG("allocation %u: open failed with %s",
			       fnth.n, strerror(err));
		}
		/* The failure left nothing behind: the next open works. */
		fd2 = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd2) {
			TH_LOG("allocation %u: open after the failure: %s",
			       fnth.n, strerror(errno));
		}
		EXPECT_EQ(0, dev_works(fd2));
		EXPECT_EQ(0, close(fd2));
	}
	ASSERT_EQ(0, fnth.error) {
		TH_LOG("fail-nth: %s", strerror(fnth.error));
	}
	/* open() allocates at least the struct file and our context. */
	EXPECT_LE(2, fnth.points);
	TH_LOG("open: %u allocations failed in turn", fnth.points);
	fail_nth_close(&fnth);
}

/*
 * VHOST_SET_OWNER creates the worker thread and attaches it to the owner's
 * cgroups. A failure must leave the device without an owner, so that the
 * same file can retry.
 */
TEST(set_owner_sweep)
{
	struct fail_nth fnth;
	const char *why;
	int fd, ret, err;

	why = sweep_setup(&fnth);
	if (why)
		SKIP(return, "%s", why);
	fail_nth_sweep(&fnth) {
		fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fail_nth_arm(&fnth));
		ret = ioctl(fd, VHOST_SET_OWNER, NULL);
		err = ret ? errno : 0;
		fail_nth_disarm(&fnth);
		if (ret) {
			EXPECT_TRUE(fnth.injected);
			EXPECT_EQ(ENOMEM, err) {
				TH_LOG("allocation %u: VHOST_SET_OWNER failed with %s",
				       fnth.n, strerror(err));
			}
			/* Not half owned: the same file takes the owner. */
			EXPECT_EQ(0, ioctl(fd, VHOST_SET_OWNER, NULL)) {
				TH_LOG("allocation %u: VHOST_SET_OWNER after the failure: %s",
				       fnth.n, strerror(errno));
			}
		}
		EXPECT_EQ(0, dev_works(fd));
		EXPECT_EQ(0, close(fd));
	}
	ASSERT_EQ(0, fnth.error) {
		TH_LOG("fail-nth: %s", strerror(fnth.error));
	}
	EXPECT_LE(1, fnth.points);
	TH_LOG("VHOST_SET_OWNER: %u allocations failed in turn", fnth.points);
	fail_nth_close(&fnth);
}

TEST_HARNESS_MAIN
