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

/*
 * Module parameter @name set to @val for a test: its old value goes to
 * *@saved first (-errno if it has none), for test_param_restore() in the
 * teardown, which runs even when an assertion here fails.
 */
static inline void test_param_set(struct __test_metadata *_metadata,
				  const char *name, long long val,
				  long long *saved)
{
	*saved = vt_param_get(name);
	ASSERT_LE(0, *saved) TH_LOG("no module parameter %s", name);
	ASSERT_EQ(0, vt_param_set(name, val)) TH_LOG("%s = %lld", name, val);
	ASSERT_EQ(val, vt_param_get(name));
}

static inline void test_param_restore(const char *name, long long saved)
{
	if (saved >= 0)
		vt_param_set(name, saved);
}

#endif /* VHOST_IOMMU_SELFTEST_COMMON_TEST_H */
