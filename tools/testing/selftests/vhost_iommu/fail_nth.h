/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation-failure sweeps with the per-task fail-nth knob of a kernel
 * built with CONFIG_FAULT_INJECTION (the debug kernel of make check-debug).
 *
 * Writing N to /proc/self/task/<tid>/fail-nth makes the N-th fault-injection
 * site that the thread passes from then on fail: with CONFIG_FAILSLAB and
 * CONFIG_FAIL_PAGE_ALLOC, the N-th slab or page allocation. Reading the file
 * back gives what is left of the count: 0 when the failure was injected.
 * A sweep runs an operation with N = 1, 2, ... until a run passes every
 * allocation without the failure being injected; every earlier run failed
 * one allocation of the operation, each a different one.
 *
 * failslab and fail_page_alloc skip allocations that may sleep unless
 * /sys/kernel/debug/{failslab,fail_page_alloc}/ignore-gfp-wait is N, which
 * the VM's init sets. Usage, in a kselftest_harness test:
 *
 *	struct fail_nth fnth;
 *
 *	if (fail_nth_open(&fnth))
 *		SKIP(return, "no fail-nth: %s", strerror(errno));
 *	fail_nth_sweep(&fnth) {
 *		(set-up, not swept)
 *		ASSERT_EQ(0, fail_nth_arm(&fnth));
 *		fd = open("/dev/vhost-iommu", O_RDWR);
 *		fail_nth_disarm(&fnth);
 *		if (fd >= 0) {
 *			close(fd);		(passed, or survived the failure)
 *			continue;
 *		}
 *		EXPECT_EQ(ENOMEM, errno);	(errno is kept by disarm)
 *	}
 *	ASSERT_EQ(0, fnth.error);
 *	fail_nth_close(&fnth);
 *
 * The loop body runs once more than there are injection points: the last
 * run is the one where nothing was injected (fnth.injected false), and
 * fnth.points counts the runs where a failure was injected. Between the arm
 * and the disarm the thread should do nothing but the operation: a page
 * fault or a printf there can take the failure instead. fail_nth_open() locks the
 * process' memory (mlockall) so that its pages are already present.
 */
#ifndef VHOST_IOMMU_FAIL_NTH_H
#define VHOST_IOMMU_FAIL_NTH_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A sweep that reaches this many injection points is considered stuck. */
#define FAIL_NTH_MAX 100000

struct fail_nth {
	int fd;			/* /proc/self/task/<tid>/fail-nth */
	unsigned int n;		/* the allocation failed in this run, from 1 */
	unsigned int points;	/* runs in which a failure was injected */
	bool injected;		/* the last run's failure was injected */
	int error;		/* errno of a failed arm or disarm, or 0 */
};

/*
 * Open the calling thread's fail-nth. Returns 0, or -1 with errno set:
 * ENOENT on a kernel without CONFIG_FAULT_INJECTION.
 */
static inline int fail_nth_open(struct fail_nth *f)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	f->n = 0;
	f->points = 0;
	f->injected = false;
	f->error = 0;
	if (f->fd < 0)
		return -1;
	/* Best effort: no page faults inside a sweep's window. */
	mlockall(MCL_CURRENT | MCL_FUTURE);
	return 0;
}

/*
 * Open the fail-nth of another task, e.g. a device's worker thread, whose
 * allocations the caller's fail-nth does not reach. The kernel lets root
 * write any task's fail-nth; the count is that task's injection points.
 * Returns 0, or -1 with errno set (ENOENT: no such task, or no
 * CONFIG_FAULT_INJECTION).
 */
static inline int fail_nth_open_task(struct fail_nth *f, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/fail-nth", (int)tid,
		 (int)tid);
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	f->n = 0;
	f->points = 0;
	f->injected = false;
	f->error = 0;
	if (f->fd < 0)
		return -1;
	mlockall(MCL_CURRENT | MCL_FUTURE);
	return 0;
}

/*
 * NULL when the kernel can run a sweep, else why not: no fail-nth
 * (CONFIG_FAULT_INJECTION), or failslab and fail_page_alloc set to ignore
 * the allocations that may sleep, which is nearly all of them.
 */
static inline const char *fail_nth_unusable(void)
{
	static const char * const knobs[] = {
		"/sys/kernel/debug/failslab/ignore-gfp-wait",
		"/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait",
		NULL
	};
	unsigned int i;
	ssize_t len;
	char c;
	int fd;

	if (access("/proc/self/fail-nth", F_OK))
		return "no fail-nth: kernel without CONFIG_FAULT_INJECTION";
	for (i = 0; knobs[i]; i++) {
		fd = open(knobs[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, &c, 1);
		close(fd);
		if (len == 1 && c == 'Y')
			return "fault injection ignores GFP_KERNEL: set ignore-gfp-wait to N";
	}
	return NULL;
}

static inline void fail_nth_close(struct fail_nth *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Fail the f->n-th allocation from now on. Returns 0, or -1. */
static inline int fail_nth_arm(struct fail_nth *f)
{
	char buf[16];
	int len;

	len = snprintf(buf, sizeof(buf), "%u", f->n);
	if (pwrite(f->fd, buf, len, 0) != len) {
		f->error = errno;
		return -1;
	}
	return 0;
}

/*
 * Stop injecting and record whether the failure was injected. Keeps errno
 * as the operation left it. Returns f->injected.
 */
static inline bool fail_nth_disarm(struct fail_nth *f)
{
	int saved = errno;
	char buf[16] = "";
	ssize_t len;

	len = pread(f->fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0) {
		f->error = len < 0 ? errno : EIO;
		f->injected = false;
	} else {
		buf[len] = '\0';
		f->injected = strtoul(buf, NULL, 10) == 0;
	}
	if (pwrite(f->fd, "0", 1, 0) != 1 && !f->error)
		f->error = errno;
	if (f->injected)
		f->points++;
	errno = saved;
	return f->injected;
}

/*
 * One step of a sweep: false when it is over (the last run injected
 * nothing, or an error), otherwise moves on to the next allocation.
 */
static inline bool fail_nth_next(struct fail_nth *f)
{
	if (f->n && !f->injected)
		return false;
	if (f->error)
		return false;
	if (f->n >= FAIL_NTH_MAX) {
		f->error = E2BIG;
		return false;
	}
	f->n++;
	f->injected = false;
	return true;
}

static inline struct fail_nth *fail_nth_begin(struct fail_nth *f)
{
	f->n = 0;
	f->points = 0;
	f->injected = false;
	f->error = 0;
	return f;
}

/*
 * Run the loop body for n = 1, 2, ...; the body brackets the operation
 * with fail_nth_arm() and fail_nth_disarm(). Ends after the first run in
 * which nothing was injected, on an error (f->error), or after
 * FAIL_NTH_MAX runs (f->error = E2BIG).
 */
#define fail_nth_sweep(f)						\
	for (struct fail_nth *__fnth = fail_nth_begin(f);		\
	     fail_nth_next(__fnth);)

#endif /* VHOST_IOMMU_FAIL_NTH_H */
