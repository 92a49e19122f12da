// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the dirty log (VHOST_F_LOG_ALL,
 * VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD, VHOST_VRING_F_LOG), as a VMM
 * migrating the guest uses it. Every write of the device into guest
 * memory (used rings, request tails, PROBE output, fault reports) must
 * mark its pages, and nothing else may be marked: the log is compared
 * page by page with the pages the test knows were written.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1
#define D1	1
#define PG	0x1000ULL
#define NPAGES	(VMM_MEM_SIZE / PG)
#define LOG_LEN	(NPAGES / 8)
#define F_LOG	VMM_F(VHOST_F_LOG_ALL)

/* Whether page @gpa / PG is marked in @log */
static bool logged(const uint8_t *log, uint64_t gpa)
{
	uint64_t pg = gpa / PG;

	return log[pg / 8] & (1 << (pg % 8));
}

static unsigned int nlogged(const uint8_t *log)
{
	unsigned int i, n = 0;

	for (i = 0; i < LOG_LEN; i++)
		n += __builtin_popcount(log[i]);
	return n;
}

/* VHOST_SET_VRING_ADDR of queue @q, as set up, with @flags and @log_addr */
static int set_addr(struct vmm *v, unsigned int q, uint32_t flags,
		    uint64_t log_addr)
{
	struct vhost_vring_addr a = {
		.index = q,
		.flags = flags,
		.desc_user_addr = vmm_hva(v, v->vq[q].desc_gpa),
		.avail_user_addr = vmm_hva(v, v->vq[q].avail_gpa),
		.used_user_addr = vmm_hva(v, v->vq[q].used_gpa),
		.log_guest_addr = log_addr,
	};

	return vmm_ioctl(v->fd, VHOST_SET_VRING_ADDR, &a);
}

static int set_features(struct vmm *v, uint64_t f)
{
	return vmm_ioctl(v->fd, VHOST_SET_FEATURES, &f);
}

static int set_log_base(struct vmm *v, const void *base)
{
	uint64_t p = (uintptr_t)base;

	return vmm_ioctl(v->fd, VHOST_SET_LOG_BASE, &p);
}

/*
 * Logging on as QEMU turns it on for a migration: the log, then
 * VHOST_F_LOG_ALL, then each used ring logged, while the rings run.
 */
static int log_start(struct vmm *v, void *log)
{
	unsigned int q;
	int ret;

	ret = set_log_base(v, log);
	if (!ret)
		ret = set_features(v, v->features | F_LOG);
	for (q = 0; q < VHOST_IOMMU_VQ_MAX && !ret; q++)
		ret = set_addr(v, q, 1 << VHOST_VRING_F_LOG, v->vq[q].used_gpa);
	return ret;
}

/* The pages of [gpa, gpa + len) are all marked */
static bool all_logged(const uint8_t *log, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	for (p = gpa & ~(PG - 1); p < gpa + len; p += PG)
		if (!logged(log, p))
			return false;
	return true;
}

/* The used ring's pages of queue @q (with avail_event) */
static bool in_used(struct vmm *v, unsigned int q, uint64_t gpa)
{
	uint64_t start = v->vq[q].used_gpa & ~(PG - 1);
	uint64_t end = v->vq[q].used_gpa + 6 + 8 * v->vq[q].num;

	return gpa >= start && gpa < end;
}

FIXTURE(log) {
	struct vmm v;
	uint8_t *log;
	int efd;
};

FIXTURE_SETUP(log)
{
	test_cmd(vmm_init(&self->v, NULL));
	self->log = mmap(NULL, LOG_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->log);
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
	test_cmd_add_endpoint(self->v.fd, EP1, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd(log_start(&self->v, self->log));
}

FIXTURE_TEARDOWN(log)
{
	vmm_fini(&self->v);
	munmap(self->log, LOG_LEN);
	close(self->efd);
}

/*
 * Every marked page is one the request wrote (its tail) or the request
 * queue's used ring; the tail's and the used index's are among them.
 */
TEST_F(log, request_logs_tail_and_used_ring)
{
	struct virtio_iommu_req_map m;
	struct vmm_req r;
	uint64_t p;

	memset(self->log, 0, LOG_LEN);
	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x100000,
		   VIRTIO_IOMMU_MAP_F_READ);
	ASSERT_EQ(0, vmm_request(&self->v, &m, VMM_MAP_LEN, 4, &r));
	ASSERT_EQ(VIRTIO_IOMMU_S_OK, r.status);
	EXPECT_TRUE(all_logged(self->log, r.wr_gpa, 4));
	EXPECT_TRUE(logged(self->log, self->v.vq[0].used_gpa));
	for (p = 0; p < VMM_MEM_SIZE; p += PG)
		if (logged(self->log, p))
			EXPECT_TRUE(in_used(&self->v, 0, p) ||
				    p == (r.wr_gpa & ~(PG - 1)))
				TH_LOG("page %#llx logged", (unsigned long long)p);
}

/*
 * A MAP request posted by hand: its body at @rd, its tail (@wr_len bytes,
 * one descriptor) at @wr. Returns the used length or -errno.
 */
static int post_map(struct vmm *v, uint64_t rd, uint64_t wr, uint32_t wr_len)
{
	struct vmm_seg seg[2] = {
		{ .gpa = rd, .len = VMM_MAP_LEN },
		{ .gpa = wr, .len = wr_len, .write = true },
	};
	struct virtio_iommu_req_map m;
	uint32_t id, len;
	int ret;

	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x100000,
		   VIRTIO_IOMMU_MAP_F_READ);
	memcpy(vmm_ptr(v, rd), &m, VMM_MAP_LEN);
	ret = vmm_post(v, 0, seg, 2, false);
	if (ret < 0)
		return ret;
	ret = vmm_kick(v, 0);
	if (ret)
		return ret;
	ret = vmm_wait_used(v, 0, &id, &len, VMM_TIMEOUT_MS);
	return ret ? ret : (int)len;
}

/* The readable part is not logged: the device only reads it */
TEST_F(log, readable_part_not_logged)
{
	uint64_t rd = (vmm_alloc(&self->v, 3 * PG, 0) + PG) & ~(PG - 1);

	memset(self->log, 0, LOG_LEN);
	EXPECT_EQ(4, post_map(&self->v, rd, rd + PG, 4));
	EXPECT_FALSE(logged(self->log, rd));
	EXPECT_TRUE(logged(self->log, rd + PG));
}

/*
 * A tail across the two memory regions (two segments of one descriptor):
 * the pages on both sides are marked, each at its own guest address.
 */
TEST_F(log, tail_across_regions_logged)
{
	uint64_t rd = vmm_alloc(&self->v, VMM_MAP_LEN, 0);
	uint64_t wr = VMM_REGION_SIZE - 2;

	ASSERT_LT(rd + PG, wr) TH_LOG("the allocator reached the end");
	memset(self->log, 0, LOG_LEN);
	EXPECT_EQ(4, post_map(&self->v, rd, wr, 4));
	EXPECT_TRUE(logged(self->log, VMM_REGION_SIZE - PG));
	EXPECT_TRUE(logged(self->log, VMM_REGION_SIZE));
	EXPECT_FALSE(logged(self->log, VMM_REGION_SIZE + PG));
	EXPECT_FALSE(logged(self->log, VMM_REGION_SIZE - 2 * PG));
}

/* PROBE writes its whole property buffer: every page of it is marked */
TEST_F(log, probe_output_logged)
{
	struct vmm_req r;

	memset(self->log, 0, LOG_LEN);
	test_cmd_probe(&self->v, EP1, self->v.probe_size + 4, &r);
	EXPECT_EQ(self->v.probe_size + 4, r.used_len);
	EXPECT_TRUE(all_logged(self->log, r.wr_gpa, r.used_len));
}

/* A fault report: the event buffer's page and the event used ring */
TEST_F(log, fault_report_logged)
{
	uint64_t first, last, p;
	struct virtio_iommu_fault f;
	uint32_t len;
	bool buf = false;

	first = self->v.data_next[1];	/* event buffers are in region 1 */
	test_cmd(vmm_event_post(&self->v, 1, sizeof(f)));
	last = self->v.data_next[1];
	ASSERT_LT(first, last) TH_LOG("the event buffer wrapped");
	memset(self->log, 0, LOG_LEN);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP1, 0x50000,
					 VHOST_IOMMU_ACCESS_READ,
					 VHOST_IOMMU_TRANSLATE_F_REPORT, NULL));
	ASSERT_EQ(0, vmm_event_read(&self->v, &f, &len, 5000));
	EXPECT_TRUE(logged(self->log, self->v.vq[1].used_gpa));
	for (p = 0; p < VMM_MEM_SIZE; p += PG) {
		if (!logged(self->log, p))
			continue;
		if (p >= (first & ~(PG - 1)) && p < last) {
			buf = true;
			continue;
		}
		EXPECT_TRUE(in_used(&self->v, 1, p))
			TH_LOG("page %#llx logged", (unsigned long long)p);
	}
	EXPECT_TRUE(buf) TH_LOG("the event buffer's page is not logged");
}

/* Without VHOST_F_LOG_ALL nothing is logged, the log and F_LOG set */
TEST_F(log, nothing_without_log_all)
{
	memset(self->log, 0, LOG_LEN);
	test_cmd(set_features(&self->v, self->v.features));
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
	EXPECT_EQ(0, nlogged(self->log));
	/* ... and again once it is negotiated */
	test_cmd(set_features(&self->v, self->v.features | F_LOG));
	test_cmd_unmap(&self->v, D1, 0x10000, 0x1ffff);
	EXPECT_LT(0, nlogged(self->log));
}

/* Without VHOST_VRING_F_LOG the used ring is not logged, the tail is */
TEST_F(log, used_ring_needs_vring_log)
{
	struct virtio_iommu_req_map m;
	struct vmm_req r;

	test_cmd(set_addr(&self->v, 0, 0, 0));
	memset(self->log, 0, LOG_LEN);
	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x100000,
		   VIRTIO_IOMMU_MAP_F_READ);
	ASSERT_EQ(0, vmm_request(&self->v, &m, VMM_MAP_LEN, 4, &r));
	EXPECT_TRUE(logged(self->log, r.wr_gpa));
	EXPECT_FALSE(logged(self->log, self->v.vq[0].used_gpa));
	EXPECT_EQ(1, nlogged(self->log));
}

/* The used ring is logged at log_guest_addr, wherever the VMM says */
TEST_F(log, used_ring_at_log_guest_addr)
{
	uint64_t at = VMM_DATA1_GPA + 0x40000;

	test_cmd(set_addr(&self->v, 0, 1 << VHOST_VRING_F_LOG, at));
	memset(self->log, 0, LOG_LEN);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
	EXPECT_TRUE(logged(self->log, at));
	EXPECT_FALSE(logged(self->log, self->v.vq[0].used_gpa));
}

/* VHOST_SET_LOG_FD: signalled once the log is written; unbound with -1 */
TEST_F(log, log_fd_signalled)
{
	uint64_t c = 0;
	int fd = -1;

	ASSERT_EQ(0, vmm_ioctl(self->v.fd, VHOST_SET_LOG_FD, &self->efd));
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
	ASSERT_EQ(sizeof(c), read(self->efd, &c, sizeof(c)));
	EXPECT_LT(0, c);
	ASSERT_EQ(0, vmm_ioctl(self->v.fd, VHOST_SET_LOG_FD, &fd));
	test_cmd_unmap(&self->v, D1, 0x10000, 0x1ffff);
	EXPECT_EQ(-1, read(self->efd, &c, sizeof(c)));
	EXPECT_EQ(EAGAIN, errno);
	fd = self->v.fd;	/* not an eventfd */
	EXPECT_EQ(-EINVAL, vmm_ioctl(self->v.fd, VHOST_SET_LOG_FD, &fd));
	fd = 100000;
	EXPECT_EQ(-EBADF, vmm_ioctl(self->v.fd, VHOST_SET_LOG_FD, &fd));
}

/*
 * A log the owner cannot write (unmapped): the write it would log fails,
 * a ring error, not a write the log misses.
 */
TEST_F(log, unwritable_log_is_ring_error)
{
	struct virtio_iommu_req_map m;
	struct vmm_req r;
	void *hole;

	hole = mmap(NULL, LOG_LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	test_cmd(set_log_base(&self->v, hole));
	vmm_mk_map(&m, D1, 0x10000, 0x1ffff, 0x100000,
		   VIRTIO_IOMMU_MAP_F_READ);
	EXPECT_EQ(-EIO, vmm_request(&self->v, &m, VMM_MAP_LEN, 4, &r));
	EXPECT_EQ(1, vmm_stat(self->v.fd, ring_errors));
	munmap(hole, LOG_LEN);
}

/* A log that cannot cover guest memory is refused while logging */
TEST_F(log, log_base_must_cover_memory)
{
	/* The top of the address space: the bitmap would run past it */
	void *top = (void *)(0x800000000000ULL - LOG_LEN / 2);

	EXPECT_EQ(-EFAULT, set_log_base(&self->v, top));
	/* Not logging: only the logged used rings are checked */
	test_cmd(set_addr(&self->v, 0, 0, 0));
	test_cmd(set_addr(&self->v, 1, 0, 0));
	test_cmd(set_features(&self->v, self->v.features));
	EXPECT_EQ(0, set_log_base(&self->v, top));
	EXPECT_EQ(-EFAULT, set_features(&self->v, self->v.features | F_LOG));
	test_cmd(set_log_base(&self->v, self->log));
	test_cmd(set_features(&self->v, self->v.features | F_LOG));
	EXPECT_EQ(-EFAULT, set_log_base(&self->v, top));
	/*
	 * Guest memory at 2^62: its bits would be 2^47 bytes past the log,
	 * past the top of user space. Refused while logging, taken when not.
	 */
	self->v.opts.nextra = 1;
	self->v.opts.extra[0] = (struct vhost_memory_region){
		.guest_phys_addr = 1ULL << 62,
		.memory_size = PG,
		.userspace_addr = vmm_hva(&self->v, VMM_DATA_GPA),
	};
	EXPECT_EQ(-EFAULT, vmm_set_mem_table(&self->v));
	test_cmd(set_features(&self->v, self->v.features));
	EXPECT_EQ(0, vmm_set_mem_table(&self->v));
	EXPECT_EQ(-EFAULT, set_features(&self->v, self->v.features | F_LOG));
	self->v.opts.nextra = 0;
	test_cmd(vmm_set_mem_table(&self->v));
	test_cmd(set_features(&self->v, self->v.features | F_LOG));
	/* and the device still logs into the good one */
	memset(self->log, 0, LOG_LEN);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
	EXPECT_LT(0, nlogged(self->log));
}

/* A used ring logged past what the log covers is refused */
TEST_F(log, vring_log_addr_checked)
{
	void *top = (void *)(0x800000000000ULL - 0x2000);

	test_cmd(set_features(&self->v, self->v.features));
	test_cmd(set_addr(&self->v, 0, 0, 0));
	test_cmd(set_addr(&self->v, 1, 0, 0));
	test_cmd(set_log_base(&self->v, top));
	/* Bit of guest page 2^40 / 4 KiB: 32 MiB past the log's start */
	EXPECT_EQ(-EINVAL, set_addr(&self->v, 0, 1 << VHOST_VRING_F_LOG,
				    1ULL << 40));
	EXPECT_EQ(0, set_addr(&self->v, 0, 1 << VHOST_VRING_F_LOG, 0));
	/* Misaligned, unknown flags */
	EXPECT_EQ(-EINVAL, set_addr(&self->v, 0, 1 << VHOST_VRING_F_LOG, 2));
	EXPECT_EQ(-EOPNOTSUPP, set_addr(&self->v, 0, 2, 0));
	/* The log moves to where the used ring's log is not covered */
	test_cmd(set_log_base(&self->v, self->log));
	EXPECT_EQ(0, set_addr(&self->v, 0, 1 << VHOST_VRING_F_LOG, 1ULL << 40));
	EXPECT_EQ(-EFAULT, set_log_base(&self->v, top));
}

/* A running queue takes a change of its logging, not of its addresses */
TEST_F(log, running_queue_addresses_fixed)
{
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = vmm_hva(&self->v, self->v.vq[0].desc_gpa),
		.avail_user_addr = vmm_hva(&self->v, self->v.vq[0].avail_gpa),
		.used_user_addr = vmm_hva(&self->v, self->v.vq[0].used_gpa) +
				  0x1000,
	};

	EXPECT_EQ(-EBUSY, vmm_ioctl(self->v.fd, VHOST_SET_VRING_ADDR, &a));
	EXPECT_EQ(0, set_addr(&self->v, 0, 0, 0));
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
}

/* VHOST_IOMMU_RESET_DEVICE keeps the log: the VMM's set-up */
TEST_F(log, reset_device_keeps_log)
{
	test_cmd(vmm_reset_device(self->v.fd));
	test_cmd(vmm_rings_restart(&self->v));
	memset(self->log, 0, LOG_LEN);
	test_cmd_add_endpoint(self->v.fd, EP1 + 1, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1 + 1, 0);
	EXPECT_TRUE(logged(self->log, self->v.vq[0].used_gpa));
}

/*
 * VHOST_RESET_OWNER forgets the log: set up again with VHOST_F_LOG_ALL
 * and no log, the first logged write into guest memory (a request's
 * tail) fails, a ring error, as a vhost device's would.
 */
TEST_F(log, reset_owner_forgets_log)
{
	uint64_t c;

	memset(self->log, 0, LOG_LEN);
	ASSERT_EQ(0, vmm_ioctl(self->v.fd, VHOST_RESET_OWNER, NULL));
	self->v.opts.features = VMM_ALL_FEATURES | F_LOG;
	test_cmd(vmm_setup(&self->v));
	self->v.opts.features = 0;
	EXPECT_EQ(-EIO, vmm_attach(&self->v, D1, EP1, 0));
	EXPECT_EQ(1, vmm_stat(self->v.fd, ring_errors));
	/* Consume the error's signal, as the VMM does before a reset */
	EXPECT_EQ(sizeof(c), read(self->v.vq[0].err, &c, sizeof(c)));
	/* Not logging: the log given before is not written either */
	ASSERT_EQ(0, vmm_ioctl(self->v.fd, VHOST_RESET_OWNER, NULL));
	test_cmd(vmm_setup(&self->v));
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(0, nlogged(self->log));
}

TEST_HARNESS_MAIN
