// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: a removal whose allocations all fail (issue 11,
 * finding 5).
 *
 * When mappings lived in a maple tree, removing one allocated nodes:
 * mas_erase() tried without sleeping and, when that failed, once more with
 * GFP_KERNEL; when that failed too it returned without erasing, and the
 * mapping was freed while still in the tree. The interval tree that
 * replaced it allocates nothing to remove a node, so an UNMAP must now
 * succeed whatever fails; IOTLB_INVALIDATE still allocates its copy of the
 * entries and may fail with ENOMEM, cleanly.
 * fail-nth fails one allocation only, so the retry always works there.
 * failslab with a task filter fails them all: probability 100, interval 1,
 * a large times, and make-it-fail set on the one task that runs the
 * removal (the device's worker for UNMAP, the test thread for
 * IOTLB_INVALIDATE). "space" lets the first S bytes of that task's slab
 * allocations through, and the tests sweep S from 0 up, in steps, until a
 * run injects nothing (times unchanged): each run fails every allocation
 * from some point of the operation on.
 *
 * UNMAP must succeed with the mappings gone. IOTLB_INVALIDATE must fail
 * cleanly (ENOMEM) with the mappings still translatable, or succeed with
 * them gone; the retry must succeed, and mapping the range again too. A
 * mapping freed while still in the tree is a use-after-free on the next
 * TRANSLATE (KASAN in check-debug) and makes the range unmappable.
 *
 * Every failslab knob the tests change is restored in the teardown. Skipped
 * on a kernel without failslab (the stock kernel).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fail_nth.h"
#include "kselftest_harness.h"
#include "vmm_test.h"
#include "worker.h"

#define FS_DIR	"/sys/kernel/debug/failslab/"
#define EP1	1
#define EP2	2
#define D1	1
#define VD	70
#define PG	0x1000ULL
#define RW	(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_RW	(VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE)
#define S_OK	VIRTIO_IOMMU_S_OK
#define S_NOMEM	VIRTIO_IOMMU_S_NOMEM
#define PHYS(i)	(VMM_DATA1_GPA + (uint64_t)(i) * PG)
/* Mappings at pages 0, 2, ..., 2 * (NB - 1) (guest) or 1, 3, ... (VMM) */
#define NB	32
#define TIMES	1000000
/* Bytes more of space per run: one run per allocation or two (mappings) */
#define STEP(n)	((n) > 1 ? 256 : 64)
#define MAX_SPACE	0x100000
/* kfree_rcu() of a wrongly freed mapping has run by then */
#define GRACE_US	100000
#define IDLE_MS		10000

enum { K_PROB, K_INTERVAL, K_TIMES, K_SPACE, K_VERBOSE, K_FILTER, K_N };

static const char * const knob_name[K_N] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
};

static const char *kname(unsigned int k)
{
	return k < K_N ? knob_name[k] : "?";
}

static int knob_write(unsigned int k, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), FS_DIR "%s", kname(k));
	return worker_write_file(path, val);
}

static int knob_read(unsigned int k, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), FS_DIR "%s", kname(k));
	if (worker_read_file(path, buf, size) < 0)
		return -errno;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int set_flag(int fd, bool on)
{
	return pwrite(fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -errno;
}

FIXTURE(fs) {
	struct vmm v;
	pid_t worker;
	int worker_mif;		/* the worker's make-it-fail */
	int self_mif;		/* the test thread's */
	char saved[K_N][32];
	bool saved_ok;
	const char *skip;
	unsigned int space;	/* of the last run */
};

FIXTURE_SETUP(fs)
{
	char path[64];
	unsigned int k;

	self->worker_mif = -1;
	self->self_mif = -1;
	self->skip = fail_nth_unusable();
	if (!self->skip && access(FS_DIR "task-filter", W_OK))
		self->skip = "no failslab: kernel without CONFIG_FAILSLAB";
	if (self->skip)
		return;
	for (k = 0; k < K_N; k++) {
		ASSERT_EQ(0, knob_read(k, self->saved[k],
				       sizeof(self->saved[k])));
	}
	self->saved_ok = true;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/make-it-fail",
		 (long)syscall(SYS_gettid));
	self->self_mif = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->self_mif);
	/* Nothing to fault in while armed */
	mlockall(MCL_CURRENT | MCL_FUTURE);
	test_cmd(vmm_init(&self->v, NULL));
	self->worker = worker_find(getpid());
	ASSERT_LT(0, self->worker);
	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", self->worker);
	self->worker_mif = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->worker_mif);
}

FIXTURE_TEARDOWN(fs)
{
	unsigned int k;
	int ret;

	if (self->worker_mif >= 0) {
		set_flag(self->worker_mif, false);
		close(self->worker_mif);
	}
	if (self->self_mif >= 0) {
		set_flag(self->self_mif, false);
		close(self->self_mif);
	}
	/* Probability first: nothing fails from here on */
	for (k = 0; self->saved_ok && k < K_N; k++) {
		ret = knob_write(k, self->saved[k]);
		EXPECT_EQ(0, ret)
			TH_LOG("restoring %s to %s: %s", kname(k),
			       self->saved[k], strerror(-ret));
	}
	if (self->v.gmem)
		vmm_fini(&self->v);
}

/* Every slab allocation of the task with make-it-fail past @space bytes */
static int failslab_arm(struct _test_data_fs *self, int mif, unsigned int space)
{
	char buf[32];
	int ret;

	self->space = space;
	ret = knob_write(K_PROB, "0");
	ret = ret ?: knob_write(K_INTERVAL, "1");
	snprintf(buf, sizeof(buf), "%d", TIMES);
	ret = ret ?: knob_write(K_TIMES, buf);
	snprintf(buf, sizeof(buf), "%u", space);
	ret = ret ?: knob_write(K_SPACE, buf);
	ret = ret ?: knob_write(K_VERBOSE, "0");
	ret = ret ?: knob_write(K_FILTER, "Y");
	ret = ret ?: knob_write(K_PROB, "100");
	return ret ?: set_flag(mif, true);
}

/* Stops it; returns how many failures were injected, or -errno. */
static int failslab_disarm(int mif)
{
	char buf[32];
	int ret;

	ret = set_flag(mif, false);
	ret = ret ?: knob_write(K_PROB, "0");
	ret = ret ?: knob_read(K_TIMES, buf, sizeof(buf));
	return ret ?: TIMES - atoi(buf);
}

/*
 * Of the mappings at pages @first, @first + 2, ..., @last of @ep: how many
 * translate to their page (-1 if one translates elsewhere).
 */
static int present(int fd, uint32_t ep, unsigned int first, unsigned int last)
{
	unsigned int i;
	uint64_t phys;
	int n = 0;

	for (i = first; i <= last; i += 2) {
		if (vmm_translate_phys(fd, ep, i * PG, &phys))
			continue;
		if (phys != PHYS(i))
			return -1;
		n++;
	}
	return n;
}

/* One UNMAP with the worker's make-it-fail set; returns the status */
static int armed_unmap(struct _test_data_fs *self, uint64_t start, uint64_t end,
		       unsigned int space, int *injected)
{
	struct virtio_iommu_req_unmap u;
	struct vmm_req r;
	int ret;

	*injected = 0;
	vmm_mk_unmap(&u, D1, start, end);
	vmm_req_prepare(&self->v, &r, &u, VMM_UNMAP_LEN, 4);
	ret = vmm_req_post(&self->v, &r);
	if (ret)
		return ret;
	if (worker_wait_idle(self->worker, IDLE_MS))
		return -EBUSY;
	ret = failslab_arm(self, self->worker_mif, space);
	if (ret)
		return ret;
	ret = vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST);
	if (!ret)
		ret = vmm_req_complete(&self->v, &r);
	if (!ret && worker_wait_idle(self->worker, IDLE_MS))
		ret = -EBUSY;
	*injected = failslab_disarm(self->worker_mif);
	if (ret)
		return ret;
	if (*injected < 0)
		return *injected;
	if (r.used_len != 4)
		return -EPROTO;
	return r.status;
}

static void map_guest(struct __test_metadata *_metadata,
		      struct _test_data_fs *self)
{
	unsigned int i;

	test_cmd_add_endpoint(self->v.fd, EP1, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < NB; i++)
		test_cmd_map(&self->v, D1, 2 * i * PG, (2 * i + 1) * PG - 1,
			     PHYS(2 * i), RW);
}

/*
 * UNMAP of pages [@first, @last] (even pages are mapped) by the worker,
 * every allocation failing from the space-th byte on.
 */
static void unmap_sweep(struct __test_metadata *_metadata,
			struct _test_data_fs *self, unsigned int first,
			unsigned int last)
{
	unsigned int want = (last - first) / 2 + 1, space, i, runs = 0;
	unsigned int failed = 0;
	int st, injected, n;

	for (space = 0; space <= MAX_SPACE; space += STEP(want)) {
		st = armed_unmap(self, first * PG, (last + 1) * PG - 1, space,
				 &injected);
		ASSERT_LE(0, st) TH_LOG("space %u: %s (%d)", space, vt_errmsg,
					st);
		runs++;
		/* Removal allocates nothing: it cannot fail. */
		ASSERT_EQ(S_OK, st)
			TH_LOG("space %u: status %d", space, st);
		if (st == S_NOMEM) {
			failed++;
			EXPECT_LT(0, injected);
			/* Whole mappings, the books right */
			n = present(self->v.fd, EP1, first, last);
			ASSERT_LE(0, n);
			EXPECT_EQ(NB - want + n, vmm_stat(self->v.fd, mappings))
				TH_LOG("space %u: %d of %u left", space, n,
				       want);
			test_cmd_unmap(&self->v, D1, first * PG,
				       (last + 1) * PG - 1);
		} else if (injected) {
			/* Freed while still in the tree? Let RCU free it. */
			usleep(GRACE_US);
		}
		EXPECT_EQ(0, present(self->v.fd, EP1, first, last))
			TH_LOG("%s: space %u, %d failures injected, status %d",
			       "unmapped range still translates", space,
			       injected, st);
		EXPECT_EQ(NB - want, vmm_stat(self->v.fd, mappings));
		EXPECT_EQ(NB - want, present(self->v.fd, EP1, 0, 2 * NB - 2));
		for (i = first; i <= last; i += 2)
			test_cmd_map(&self->v, D1, i * PG, (i + 1) * PG - 1,
				     PHYS(i), RW);
		EXPECT_EQ(NB, vmm_stat(self->v.fd, mappings));
		if (!injected)
			break;
	}
	ASSERT_GE(MAX_SPACE, space);
	TH_LOG("UNMAP of %u mappings: %u runs, %u failed with NOMEM",
	       want, runs, failed);
}

/* One mapping between others */
TEST_F_TIMEOUT(fs, unmap_one, 900)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	map_guest(_metadata, self);
	unmap_sweep(_metadata, self, 2 * 20, 2 * 20);
}

/* Five mappings: what is left must be whole mappings, counted right */
TEST_F_TIMEOUT(fs, unmap_five, 1800)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	map_guest(_metadata, self);
	unmap_sweep(_metadata, self, 2 * 20, 2 * 24);
}

static int iotlb(int fd, unsigned long req, unsigned int first,
		 unsigned int last)
{
	struct vhost_iommu_iotlb_entry e[NB];
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b),
		.domain = VD,
		.entries = (uintptr_t)e,
	};
	unsigned int i;

	memset(e, 0, sizeof(e));
	for (i = first; i <= last; i += 2) {
		e[b.nr].iova = i * PG;
		e[b.nr].size = PG;
		if (req == VHOST_IOMMU_IOTLB_UPDATE) {
			e[b.nr].gpa = PHYS(i);
			e[b.nr].perm = A_RW;
		}
		b.nr++;
	}
	return vmm_ioctl(fd, req, &b);
}

/* IOTLB_INVALIDATE by the test thread, the same sweep */
static void invalidate_sweep(struct __test_metadata *_metadata,
			     struct _test_data_fs *self, unsigned int first,
			     unsigned int last)
{
	unsigned int want = (last - first) / 2 + 1, space, i, runs = 0;
	struct vhost_iommu_iotlb_entry e[NB];
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b),
		.domain = VD,
		.entries = (uintptr_t)e,
	};
	struct vhost_iommu_iotlb_attach at = {
		.size = sizeof(at),
		.endpoint = EP2,
		.domain = VD,
	};
	int fd = self->v.fd, ret, err, injected, n;
	unsigned int failed = 0;

	test_cmd_add_endpoint(fd, EP2, NULL, 0);
	test_cmd_ioctl(fd, VHOST_IOMMU_IOTLB_ATTACH, &at);
	ASSERT_EQ(0, iotlb(fd, VHOST_IOMMU_IOTLB_UPDATE, 1, 2 * NB - 1));
	memset(e, 0, sizeof(e));
	for (i = first; i <= last; i += 2) {
		e[b.nr].iova = i * PG;
		e[b.nr].size = PG;
		b.nr++;
	}
	for (space = 0; space <= MAX_SPACE; space += STEP(want)) {
		ASSERT_EQ(0, failslab_arm(self, self->self_mif, space));
		ret = ioctl(fd, VHOST_IOMMU_IOTLB_INVALIDATE, &b);
		err = ret ? errno : 0;
		injected = failslab_disarm(self->self_mif);
		ASSERT_LE(0, injected);
		runs++;
		if (ret) {
			failed++;
			EXPECT_EQ(ENOMEM, err) TH_LOG("space %u: %s", space,
						      strerror(err));
			EXPECT_LT(0, injected);
			n = present(fd, EP2, first, last);
			ASSERT_LE(0, n);
			EXPECT_EQ(NB - want + n, vmm_stat(fd, mappings))
				TH_LOG("space %u: %d of %u left", space, n,
				       want);
			ASSERT_EQ(0, iotlb(fd, VHOST_IOMMU_IOTLB_INVALIDATE,
					   first, last));
		} else if (injected) {
			usleep(GRACE_US);
		}
		EXPECT_EQ(0, present(fd, EP2, first, last))
			TH_LOG("%s: space %u, %d failures injected, returned %d",
			       "invalidated range still translates", space,
			       injected, ret);
		EXPECT_EQ(NB - want, vmm_stat(fd, mappings));
		EXPECT_EQ(NB - want, present(fd, EP2, 1, 2 * NB - 1));
		EXPECT_EQ(0, iotlb(fd, VHOST_IOMMU_IOTLB_UPDATE, first, last));
		EXPECT_EQ(NB, vmm_stat(fd, mappings));
		if (!injected)
			break;
	}
	ASSERT_GE(MAX_SPACE, space);
	TH_LOG("IOTLB_INVALIDATE of %u translations: %u runs, %u failed with ENOMEM",
	       want, runs, failed);
}

TEST_F_TIMEOUT(fs, invalidate_one, 900)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	invalidate_sweep(_metadata, self, 2 * 20 + 1, 2 * 20 + 1);
}

TEST_F_TIMEOUT(fs, invalidate_five, 1800)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	invalidate_sweep(_metadata, self, 2 * 20 + 1, 2 * 24 + 1);
}

TEST_HARNESS_MAIN
