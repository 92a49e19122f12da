/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bottom layer of the selftest library, below vq.c, vmm.c, vnet.c,
 * vguest.c and uiommu.c: what failed last, time, and the module's
 * parameters, closing a descriptor.
 *
 * Every library function returns 0 (or a non-negative value) on success
 * and a negative errno on failure, after saying what failed in vt_errmsg
 * (one buffer for every layer: a layer that adds context to the failure
 * of a lower one prefixes its message with vt_fail_ctx()).
 */
#ifndef VHOST_IOMMU_SELFTEST_COMMON_H
#define VHOST_IOMMU_SELFTEST_COMMON_H

#include <stdint.h>

#define VT_ERRMSG_SIZE	512

extern char vt_errmsg[VT_ERRMSG_SIZE];

/* Writes the message into vt_errmsg; returns @err. */
int vt_fail(int err, const char *fmt, ...);
/* Puts "<message>: " before what vt_errmsg holds; returns @err. */
int vt_fail_ctx(int err, const char *fmt, ...);

/* CLOCK_MONOTONIC */
uint64_t vt_now_ns(void);
uint64_t vt_now_ms(void);

/* Closes *@fd if open (>= 0), and sets it to -1 */
void vt_close_fd(int *fd);

/*
 * Module parameters of vhost_iommu (/sys/module/vhost_iommu/parameters):
 * the value (a bool reads as 0 or 1) or -errno; set: 0 or -errno.
 */
long long vt_param_get(const char *name);
int vt_param_set(const char *name, long long val);

#endif /* VHOST_IOMMU_SELFTEST_COMMON_H */
