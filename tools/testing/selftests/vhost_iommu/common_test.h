/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions on any call of the selftest library that returns 0 or a
 * negative errno (common.h), for tests built with kselftest_harness.h
 * (include this after it): test_cmd(call) asserts that it succeeds,
 * test_err(e, call) that it fails with errno @e, test_status(st, call)
 * that a virtio-iommu request completes with status @st. A failure logs
 * the call and vt_errmsg. vmm_test.h builds test_cmd_X()/test_err_X() of
 * each request and device ioctl on them.
 */
#ifndef VHOST_IOMMU_SELFTEST_COMMON_TEST_H
#define VHOST_IOMMU_SELFTEST_COMMON_TEST_H

#include "common.h"

#define test_cmd(call) do {						\
	int __ret = (call);						\
	ASSERT_EQ(0, __ret) TH_LOG("%s: %s", #call, vt_errmsg);	\
} while (0)

#define test_err(err, call) do {					\
	int __ret = (call);						\
	ASSERT_EQ(-(err), __ret) TH_LOG("%s: %s", #call, vt_errmsg);	\
} while (0)

/* A request that must complete with status @st (and used length 4) */
#define test_status(st, call) do {					\
	int __ret = (call);						\
	ASSERT_EQ((st), __ret) TH_LOG("%s: %s", #call,			\
				      __ret < 0 ? vt_errmsg : "status");\
} while (0)

#endif /* VHOST_IOMMU_SELFTEST_COMMON_TEST_H */
