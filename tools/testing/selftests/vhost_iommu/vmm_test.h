/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions on top of vmm.h, for tests built with kselftest_harness.h
 * (include this after it).
 */
#ifndef VHOST_IOMMU_SELFTEST_VMM_TEST_H
#define VHOST_IOMMU_SELFTEST_VMM_TEST_H

#include "vmm.h"

/* A call of the library that must succeed; logs what failed. */
#define VMM_OK(call) do {						\
	int __ret = (call);						\
	ASSERT_EQ(0, __ret) TH_LOG("%s: %s", #call, vt_errmsg);	\
} while (0)

/* A request that must complete with status @st and used length 4. */
#define REQ_ST(st, call) do {						\
	int __ret = (call);						\
	ASSERT_EQ((st), __ret) TH_LOG("%s: %s", #call,			\
				      __ret < 0 ? vt_errmsg : "status");\
} while (0)

#define REQ_OK(call)	REQ_ST(VIRTIO_IOMMU_S_OK, call)

/* An ioctl wrapper of vmm.h that must fail with -@err. */
#define IOC_ERR(err, call) ASSERT_EQ(-(err), (call))

#endif /* VHOST_IOMMU_SELFTEST_VMM_TEST_H */
