/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The worker thread of a /dev/vhost-iommu device, seen from /proc: the
 * kthread VHOST_SET_OWNER creates, named "vhost-iommu-<pid of the owner>"
 * (/proc/<tid>/comm shows a kthread's full name). Requests, fault reports
 * and the vhost-net bridge run there, not in the VMM's threads, so
 * per-task fault injection (fail-nth, make-it-fail) must be armed on it.
 */
#ifndef VHOST_IOMMU_SELFTEST_WORKER_H
#define VHOST_IOMMU_SELFTEST_WORKER_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline ssize_t worker_read_file(const char *path, char *buf,
				       size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	return len;
}

/* Writes @val to @path (sysfs, cgroupfs, debugfs); 0 or -errno */
static inline int worker_write_file(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The tid of the worker of the device @owner (a tid) owns, or -1 when there
 * is none or more than one (the caller owns one device at a time).
 */
static inline pid_t worker_find(pid_t owner)
{
	char want[64], path[300], comm[128];
	struct dirent *de;
	pid_t found = -1;
	int n = 0;
	DIR *d;

	snprintf(want, sizeof(want), "vhost-iommu-%d\n", (int)owner);
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (worker_read_file(path, comm, sizeof(comm)) < 0)
			continue;
		if (strcmp(comm, want))
			continue;
		found = atoi(de->d_name);
		n++;
	}
	closedir(d);
	return n == 1 ? found : -1;
}

/* The scheduler state of @tid (R, S, D, ...), or 0. */
static inline char worker_state(pid_t tid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	if (worker_read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

/*
 * Waits until the worker sleeps waiting for work: state S (interruptible)
 * or I (TASK_IDLE), which it only enters in its main loop; a mutex, a
 * flush or an allocation sleeps in D. Returns 0, or -1 after @timeout_ms.
 * A hang guard, not a measurement.
 */
static inline int worker_wait_idle(pid_t tid, int timeout_ms)
{
	char st;
	int i;

	for (i = 0; i <= timeout_ms; i++) {
		st = worker_state(tid);
		if (st == 'S' || st == 'I')
			return 0;
		usleep(1000);
	}
	return -1;
}

#endif /* VHOST_IOMMU_SELFTEST_WORKER_H */
