// SPDX-License-Identifier: GPL-2.0
/*
 * The bottom layer of the selftest library (common.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

char vt_errmsg[VT_ERRMSG_SIZE];

int vt_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vt_errmsg, sizeof(vt_errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int vt_fail_ctx(int err, const char *fmt, ...)
{
	char old[VT_ERRMSG_SIZE];
	va_list ap;
	int n;

	memcpy(old, vt_errmsg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(vt_errmsg, sizeof(vt_errmsg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(vt_errmsg))
		snprintf(vt_errmsg + n, sizeof(vt_errmsg) - n, ": %s", old);
	return err;
}

uint64_t vt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t vt_now_ms(void)
{
	return vt_now_ns() / 1000000;
}

void vt_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void param_path(char *path, size_t size, const char *name)
{
	snprintf(path, size, "/sys/module/vhost_iommu/parameters/%s", name);
}

long long vt_param_get(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	param_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* bool parameters read as Y or N */
	if (buf[0] == 'Y' || buf[0] == 'N')
		return buf[0] == 'Y';
	return strtoll(buf, NULL, 0);
}

int vt_param_set(const char *name, long long val)
{
	char path[128], buf[64];
	int fd, n, ret = 0;

	param_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%lld\n", val);
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}
