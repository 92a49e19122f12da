/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions on top of the selftest library (vmm.h, vnet.h, vguest.h),
 * for tests built with kselftest_harness.h (include this after it), in
 * the style of iommufd's selftests. For an operation X of the library:
 *
 *	vmm_X(...)		the call itself (iommufd's _test_cmd_X()):
 *				0 or -errno, or for a virtio-iommu request
 *				its VIRTIO_IOMMU_S_* status
 *	test_cmd_X(...)		asserts that X succeeds
 *	test_err_X(e, ...)	asserts that X fails with errno @e (a
 *				request: with status @e)
 *
 * common_test.h's test_cmd(call) and test_err(e, call) do the same for
 * any call of the library that returns 0 or -errno (vnet_*(), vguest_*(),
 * uiommu_*(), vmm_init(), ...). Every failure logs the call and vt_errmsg.
 */
#ifndef VHOST_IOMMU_SELFTEST_VMM_TEST_H
#define VHOST_IOMMU_SELFTEST_VMM_TEST_H

#include "common_test.h"
#include "vmm.h"

/* Requests: VIRTIO_IOMMU_S_OK, or the status @st */
#define test_cmd_attach(...)	test_status(VIRTIO_IOMMU_S_OK, vmm_attach(__VA_ARGS__))
#define test_err_attach(st, ...) test_status((st), vmm_attach(__VA_ARGS__))
#define test_cmd_detach(...)	test_status(VIRTIO_IOMMU_S_OK, vmm_detach(__VA_ARGS__))
#define test_err_detach(st, ...) test_status((st), vmm_detach(__VA_ARGS__))
#define test_cmd_map(...)	test_status(VIRTIO_IOMMU_S_OK, vmm_map(__VA_ARGS__))
#define test_err_map(st, ...)	test_status((st), vmm_map(__VA_ARGS__))
#define test_cmd_unmap(...)	test_status(VIRTIO_IOMMU_S_OK, vmm_unmap(__VA_ARGS__))
#define test_err_unmap(st, ...)	test_status((st), vmm_unmap(__VA_ARGS__))
#define test_cmd_probe(...)	test_status(VIRTIO_IOMMU_S_OK, vmm_probe(__VA_ARGS__))
#define test_err_probe(st, ...)	test_status((st), vmm_probe(__VA_ARGS__))

/* Device ioctls: 0, or the errno @e */
#define test_cmd_add_endpoint(...)	test_cmd(vmm_add_endpoint(__VA_ARGS__))
#define test_err_add_endpoint(e, ...)	test_err(e, vmm_add_endpoint(__VA_ARGS__))
#define test_cmd_del_endpoint(...)	test_cmd(vmm_del_endpoint(__VA_ARGS__))
#define test_err_del_endpoint(e, ...)	test_err(e, vmm_del_endpoint(__VA_ARGS__))
#define test_cmd_get_config(...)	test_cmd(vmm_get_config(__VA_ARGS__))
#define test_cmd_set_config(...)	test_cmd(vmm_set_config(__VA_ARGS__))
#define test_err_set_config(e, ...)	test_err(e, vmm_set_config(__VA_ARGS__))
#define test_cmd_set_bypass(...)	test_cmd(vmm_set_bypass(__VA_ARGS__))
#define test_err_set_bypass(e, ...)	test_err(e, vmm_set_bypass(__VA_ARGS__))
#define test_cmd_get_stats(...)		test_cmd(vmm_get_stats(__VA_ARGS__))
#define test_cmd_translate(...)		test_cmd(vmm_translate(__VA_ARGS__))
#define test_err_translate(e, ...)	test_err(e, vmm_translate(__VA_ARGS__))
#define test_cmd_bind_net(...)		test_cmd(vmm_bind_net(__VA_ARGS__))
#define test_err_bind_net(e, ...)	test_err(e, vmm_bind_net(__VA_ARGS__))
#define test_cmd_unbind_net(...)	test_cmd(vmm_unbind_net(__VA_ARGS__))
#define test_err_unbind_net(e, ...)	test_err(e, vmm_unbind_net(__VA_ARGS__))
#define test_cmd_ioctl(...)		test_cmd(vmm_ioctl(__VA_ARGS__))
#define test_err_ioctl(e, ...)		test_err(e, vmm_ioctl(__VA_ARGS__))

#endif /* VHOST_IOMMU_SELFTEST_VMM_TEST_H */
