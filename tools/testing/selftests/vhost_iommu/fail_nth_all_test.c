// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: allocation-failure sweeps of every ioctl, of
 * read() and of every request type, with fail-nth (fail_nth.h).
 *
 * ioctls and read() run in the calling thread: its own fail-nth fails
 * their allocations in turn. Requests (and fault reports) run in the
 * device's worker, the kthread "vhost-iommu-<owner pid>": the test thread's
 * fail-nth does not reach them, so those sweeps arm the worker's
 * /proc/<tid>/task/<tid>/fail-nth instead (worker.h finds it). That is
 * sound because the worker passes no injection point while it sleeps: the
 * request is posted first, the worker armed, then kicked; once the used
 * entry is there the test waits for the worker to sleep again (state S or
 * I, which it only enters when it has nothing to run) and disarms. What
 * the worker passed in between is the request's own allocations.
 *
 * Every run must either succeed (nothing injected, or a failure the kernel
 * absorbed) or fail with ENOMEM / VIRTIO_IOMMU_S_NOMEM after the failure
 * was injected; the state must be unchanged (GET_STATS, TRANSLATE) and the
 * next attempt must succeed. kmemleak (after the VM run) and KASAN check
 * that the error paths free what they allocated and nothing else. Skipped
 * on a kernel without fail-nth (the stock kernel), as fail_nth_test is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fail_nth.h"
#include "kselftest_harness.h"
#include "vguest.h"
#include "vmm_test.h"
#include "worker.h"

#define EP1	1
#define EP2	2
#define D1	1
#define D2	2
#define VD	70	/* a VMM-managed domain */
#define PG	0x1000ULL
#define RW	(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_RW	(VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE)
#define S_OK	VIRTIO_IOMMU_S_OK
#define S_NOMEM	VIRTIO_IOMMU_S_NOMEM
#define PHYS(i)	(VMM_DATA1_GPA + (uint64_t)(i) * PG)
/* Neighbours around the page a sweep works on: pages 0, 2, ..., 2 * 15 */
#define NB	16
#define RESV_START	0xfee00000ULL
#define RESV_END	0xfeefffffULL
/* The worker is back asleep within this (hang guard) */
#define IDLE_MS	10000

static const struct vhost_iommu_resv_region resv[2] = {
	{ .start = RESV_START, .end = RESV_END, .subtype = VHOST_IOMMU_RESV_MSI },
	{ .start = 0x80000000ULL, .end = 0x8fffffffULL,
	  .subtype = VHOST_IOMMU_RESV_RESERVED },
};

/* Every neighbour translates to its page: the failure hurt nothing else. */
static int neighbours_ok(int fd, uint32_t ep, unsigned int skip)
{
	uint64_t phys;
	unsigned int i;

	for (i = 0; i < NB; i++) {
		if (2 * i == skip)
			continue;
		if (vmm_translate_phys(fd, ep, 2 * i * PG, &phys) || phys != PHYS(2 * i))
			return -1;
	}
	return 0;
}

FIXTURE(fn) {
	struct vmm v;
	struct fail_nth me;	/* the test thread's fail-nth */
	struct fail_nth wk;	/* the worker's */
	pid_t worker;
	const char *skip;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2];
	} mt;
};

static int find_worker(struct _test_data_fn *self)
{
	fail_nth_close(&self->wk);
	self->worker = worker_find(getpid());
	if (self->worker < 0)
		return -1;
	return fail_nth_open_task(&self->wk, self->worker);
}

FIXTURE_SETUP(fn)
{
	self->me.fd = -1;
	self->wk.fd = -1;
	self->v.fd = -1;
	self->skip = fail_nth_unusable();
	if (self->skip)
		return;
	test_cmd(vmm_init(&self->v, NULL));
	ASSERT_EQ(0, vmm_event_post(&self->v, 16,
				    sizeof(struct virtio_iommu_fault)));
	test_cmd_add_endpoint(self->v.fd, EP1, resv, 2);
	ASSERT_EQ(0, find_worker(self)) TH_LOG("no worker for pid %d",
					       getpid());
	ASSERT_EQ(0, fail_nth_open(&self->me));
	self->mt.m.nregions = 2;
	self->mt.r[0].guest_phys_addr = 0;
	self->mt.r[0].memory_size = VMM_REGION_SIZE;
	self->mt.r[0].userspace_addr = (uintptr_t)self->v.hva[0];
	self->mt.r[1].guest_phys_addr = VMM_REGION_SIZE;
	self->mt.r[1].memory_size = VMM_REGION_SIZE;
	self->mt.r[1].userspace_addr = (uintptr_t)self->v.hva[1];
}

FIXTURE_TEARDOWN(fn)
{
	fail_nth_close(&self->me);
	fail_nth_close(&self->wk);
	if (self->v.gmem)
		vmm_fini(&self->v);
}

/*
 * One request with the worker's fail-nth armed (see the top of the file).
 * Returns the status, or a negative errno (ring, timeout, arming).
 */
static int armed_request(struct _test_data_fn *self, const void *rd,
			 uint32_t rd_len, uint32_t wr_len, uint32_t tail_off,
			 struct vmm_req *r)
{
	int ret;

	vmm_req_prepare(&self->v, r, rd, rd_len, wr_len);
	r->tail_off = tail_off;
	ret = vmm_req_post(&self->v, r);
	if (ret)
		return ret;
	if (worker_wait_idle(self->worker, IDLE_MS))
		return -EBUSY;
	if (fail_nth_arm(&self->wk))
		return -EIO;
	ret = vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST);
	if (!ret)
		ret = vmm_req_complete(&self->v, r);
	if (worker_wait_idle(self->worker, IDLE_MS) && !ret)
		ret = -EBUSY;
	fail_nth_disarm(&self->wk);
	return ret ? ret : r->status;
}

/* The end of a sweep: no error, at least @min injection points. */
static void sweep_end(struct __test_metadata *_metadata, struct fail_nth *f,
		      const char *what, unsigned int min)
{
	ASSERT_EQ(0, f->error) TH_LOG("fail-nth: %s", strerror(f->error));
	EXPECT_LE(min, f->points);
	TH_LOG("%s: %u allocations failed in turn", what, f->points);
}

/* A status the sweep accepts: OK, or NOMEM when a failure was injected */
static void check_status(struct __test_metadata *_metadata, int st,
			 struct fail_nth *f)
{
	ASSERT_LE(0, st) TH_LOG("allocation %u: %s", f->n, vt_errmsg);
	ASSERT_TRUE(st == S_OK || st == S_NOMEM)
		TH_LOG("allocation %u: status %d", f->n, st);
	if (st == S_NOMEM)
		EXPECT_TRUE(f->injected) TH_LOG("NOMEM with nothing injected");
}

/* ATTACH that creates the domain */
TEST_F_TIMEOUT(fn, req_attach, 600)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	vmm_mk_attach(&a, D1, EP1, 0);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &a, VMM_ATTACH_LEN, 4, 0, &r);
		check_status(_metadata, st, &self->wk);
		ASSERT_EQ(4, r.used_len);
		if (st == S_NOMEM) {
			/* Not attached, no domain */
			EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
			EXPECT_EQ(-ENXIO, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
			test_cmd_attach(&self->v, D1, EP1, 0);
		}
		EXPECT_EQ(1, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
		test_cmd_detach(&self->v, D1, EP1);
	}
	sweep_end(_metadata, &self->wk, "ATTACH", 2);
}

/* ATTACH of an attached endpoint to a new domain */
TEST_F_TIMEOUT(fn, req_reattach, 600)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;
	uint64_t phys;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_add_endpoint(self->v.fd, EP2, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
	vmm_mk_attach(&a, D2, EP1, 0);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &a, VMM_ATTACH_LEN, 4, 0, &r);
		check_status(_metadata, st, &self->wk);
		ASSERT_EQ(4, r.used_len);
		if (st == S_NOMEM) {
			/* Still in D1 */
			EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1, 0, &phys));
			EXPECT_EQ(PHYS(0), phys);
			EXPECT_EQ(1, vmm_stat(self->v.fd, domains));
			test_cmd_attach(&self->v, D2, EP1, 0);
		}
		EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
		EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP2, 0, NULL));
		EXPECT_EQ(2, vmm_stat(self->v.fd, domains));
		test_cmd_attach(&self->v, D1, EP1, 0);
		EXPECT_EQ(1, vmm_stat(self->v.fd, domains));
	}
	sweep_end(_metadata, &self->wk, "re-ATTACH", 1);
}

TEST_F_TIMEOUT(fn, req_detach, 600)
{
	struct virtio_iommu_req_detach d;
	struct vmm_req r;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
	vmm_mk_detach(&d, D1, EP1);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &d, VMM_DETACH_LEN, 4, 0, &r);
		check_status(_metadata, st, &self->wk);
		ASSERT_EQ(4, r.used_len);
		if (st == S_NOMEM) {
			EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
			EXPECT_EQ(1, vmm_stat(self->v.fd, mappings));
			test_cmd_detach(&self->v, D1, EP1);
		}
		EXPECT_EQ(-ENXIO, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
		EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
		test_cmd_attach(&self->v, D1, EP1, 0);
		test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
	}
	sweep_end(_metadata, &self->wk, "DETACH", 0);
}

/* D1 holds EP1 and one-page mappings at pages 0, 2, ..., 2 * (NB - 1) */
static void map_neighbours(struct __test_metadata *_metadata,
			   struct _test_data_fn *self)
{
	unsigned int i;

	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < NB; i++)
		test_cmd_map(&self->v, D1, 2 * i * PG, (2 * i + 1) * PG - 1,
			     PHYS(2 * i), RW);
}

TEST_F_TIMEOUT(fn, req_map, 600)
{
	struct virtio_iommu_req_map m;
	const unsigned int pg = 17;
	struct vmm_req r;
	uint64_t phys;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	map_neighbours(_metadata, self);
	vmm_mk_map(&m, D1, pg * PG, (pg + 1) * PG - 1, PHYS(pg), RW);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &m, VMM_MAP_LEN, 4, 0, &r);
		check_status(_metadata, st, &self->wk);
		ASSERT_EQ(4, r.used_len);
		if (st == S_NOMEM) {
			EXPECT_EQ(-ENOENT,
				  vmm_translate_phys(self->v.fd, EP1, pg * PG,
						     NULL));
			EXPECT_EQ(NB, vmm_stat(self->v.fd, mappings));
			test_cmd_map(&self->v, D1, pg * PG,
				     (pg + 1) * PG - 1, PHYS(pg), RW);
		}
		EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1, pg * PG, &phys));
		EXPECT_EQ(PHYS(pg), phys);
		EXPECT_EQ(NB + 1, vmm_stat(self->v.fd, mappings));
		EXPECT_EQ(0, neighbours_ok(self->v.fd, EP1, -1));
		test_cmd_unmap(&self->v, D1, pg * PG, (pg + 1) * PG - 1);
	}
	sweep_end(_metadata, &self->wk, "MAP", 1);
}

/*
 * UNMAP of one mapping between others: the tree needs new nodes to erase
 * it. One failed allocation is absorbed by the maple tree's retry; what a
 * failure may not do is leave the mapping half removed.
 */
TEST_F_TIMEOUT(fn, req_unmap, 600)
{
	struct virtio_iommu_req_unmap u;
	const unsigned int pg = 16;
	struct vmm_req r;
	uint64_t phys;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	map_neighbours(_metadata, self);
	vmm_mk_unmap(&u, D1, pg * PG, (pg + 1) * PG - 1);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &u, VMM_UNMAP_LEN, 4, 0, &r);
		check_status(_metadata, st, &self->wk);
		ASSERT_EQ(4, r.used_len);
		if (st == S_NOMEM) {
			EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1,
							pg * PG, &phys));
			EXPECT_EQ(PHYS(pg), phys);
			EXPECT_EQ(NB, vmm_stat(self->v.fd, mappings));
			test_cmd_unmap(&self->v, D1, pg * PG,
				       (pg + 1) * PG - 1);
		}
		EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EP1, pg * PG, NULL));
		EXPECT_EQ(NB - 1, vmm_stat(self->v.fd, mappings));
		EXPECT_EQ(0, neighbours_ok(self->v.fd, EP1, pg));
		test_cmd_map(&self->v, D1, pg * PG, (pg + 1) * PG - 1,
			     PHYS(pg), RW);
	}
	sweep_end(_metadata, &self->wk, "UNMAP", 0);
}

/*
 * PROBE of an endpoint with two reserved regions. On NOMEM the tail still
 * goes after the probe_size bytes of properties (where the driver reads
 * it, virtio-iommu's struct virtio_iommu_req_probe), with no property.
 */
TEST_F_TIMEOUT(fn, req_probe, 600)
{
	struct virtio_iommu_probe_resv_mem *p;
	struct virtio_iommu_req_probe pr;
	uint32_t ps = self->v.probe_size;
	struct vmm_req r;
	uint32_t i;
	int st;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	vmm_mk_probe(&pr, EP1);
	fail_nth_sweep(&self->wk) {
		st = armed_request(self, &pr, sizeof(pr), ps + 4, ps, &r);
		ASSERT_LE(0, st) TH_LOG("%s", vt_errmsg);
		ASSERT_EQ(ps + 4, r.used_len)
			TH_LOG("allocation %u: used length %u, status at 0: %u",
			       self->wk.n, r.used_len, r.wr[0]);
		check_status(_metadata, st, &self->wk);
		if (st == S_NOMEM) {
			for (i = 0; i < ps; i++)
				if (r.wr[i])
					break;
			EXPECT_EQ(ps, i) TH_LOG("property byte %u written", i);
			continue;
		}
		p = (void *)r.wr;
		EXPECT_EQ(VIRTIO_IOMMU_PROBE_T_RESV_MEM, le16toh(p[0].head.type));
		EXPECT_EQ(RESV_START, le64toh(p[0].start));
	}
	sweep_end(_metadata, &self->wk, "PROBE", 0);
}

/*
 * TRANSLATE with F_REPORT: the ioctl queues a fault report and waits for
 * the worker to post it; the worker's allocations fail in turn. The report
 * is posted or counted as dropped, once.
 */
TEST_F_TIMEOUT(fn, report_worker, 600)
{
	struct vhost_iommu_translate t = {
		.size = sizeof(t),
		.flags = VHOST_IOMMU_TRANSLATE_F_REPORT,
		.endpoint = EP1,
		.access = A_R,
		.iova = 0x1000,
	};
	struct vhost_iommu_stats s0, s1;
	struct virtio_iommu_fault f;
	uint32_t len;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_attach(&self->v, D1, EP1, 0);
	fail_nth_sweep(&self->wk) {
		test_cmd_get_stats(self->v.fd, &s0);
		ASSERT_EQ(0, worker_wait_idle(self->worker, IDLE_MS));
		ASSERT_EQ(0, fail_nth_arm(&self->wk));
		ret = ioctl(self->v.fd, VHOST_IOMMU_TRANSLATE, &t);
		err = errno;
		worker_wait_idle(self->worker, IDLE_MS);
		fail_nth_disarm(&self->wk);
		ASSERT_EQ(-1, ret);
		EXPECT_EQ(ENOENT, err);
		test_cmd_get_stats(self->v.fd, &s1);
		EXPECT_EQ(s0.faults + s0.faults_dropped + 1,
			  s1.faults + s1.faults_dropped);
		if (s1.faults > s0.faults) {
			ASSERT_EQ(0, vmm_event_read(&self->v, &f, &len, 1000));
			EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_MAPPING, f.reason);
			ASSERT_EQ(0, vmm_event_post(&self->v, 1, sizeof(f)));
		}
	}
	sweep_end(_metadata, &self->wk, "fault report", 0);
}

/* The ioctls, swept in the test thread */

/*
 * One ioctl with the test thread's fail-nth armed; errno in *err. The
 * argument is built before: nothing but the call between arm and disarm.
 */
static int armed_ioctl(struct _test_data_fn *self, unsigned long req, void *arg,
		       int *err)
{
	int ret;

	if (fail_nth_arm(&self->me)) {
		*err = EIO;
		return -1;
	}
	ret = ioctl(self->v.fd, req, arg);
	*err = ret < 0 ? errno : 0;
	fail_nth_disarm(&self->me);
	return ret;
}

/* A failed run (@ret not 0): injected, ENOMEM. */
static void check_failed(struct __test_metadata *_metadata, int ret, int err,
			 struct fail_nth *f, const char *what)
{
	if (!ret)
		return;
	EXPECT_TRUE(f->injected)
		TH_LOG("%s failed with nothing injected: %s", what,
		       strerror(err));
	EXPECT_EQ(ENOMEM, err)
		TH_LOG("allocation %u: %s failed with %s", f->n, what,
		       strerror(err));
}

/*
 * The report channel: a MAP in a domain that holds a REPORT endpoint is
 * executed, reported and held until the VMM answers (uapi "report
 * channel"). Swept in the worker: each of its allocations fails in turn;
 * the MAP then completes with NOMEM, no record and nothing mapped, or is
 * held with its record, and the answer (OK, or IOERR in every other run)
 * is the guest's status, a failed MAP undone. No request is lost.
 */
#define EPR	3	/* a REPORT endpoint */

static int report_open(int fd)
{
	struct vhost_iommu_report_open o = { .size = sizeof(o), .fd = -1 };
	int ret = vmm_ioctl(fd, VHOST_IOMMU_REPORT_OPEN, &o);

	return ret ? ret : o.fd;
}

static int report_answer(int rfd, uint64_t seq, uint32_t status)
{
	struct vhost_iommu_report_answer a = {
		.size = sizeof(a), .status = status, .seq = seq,
	};

	return write(rfd, &a, sizeof(a)) == sizeof(a) ? 0 : -errno;
}

/* Posts @rd, answers its record with @status: the guest's status or -errno */
static int report_request(struct _test_data_fn *self, int rfd, const void *rd,
			  uint32_t len, uint32_t status)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	struct vhost_iommu_report rec;
	struct vmm_req r;
	int ret;

	vmm_req_prepare(&self->v, &r, rd, len, 4);
	ret = vmm_req_post(&self->v, &r) ?:
	      vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST);
	if (ret)
		return ret;
	if (poll(&p, 1, VMM_TIMEOUT_MS) != 1 ||
	    read(rfd, &rec, sizeof(rec)) != sizeof(rec))
		return -ETIMEDOUT;
	ret = report_answer(rfd, rec.seq, status) ?:
	      vmm_req_complete(&self->v, &r);
	return ret ? ret : r.status;
}

/* Whether the record is there, or the used entry: the worker is done */
static bool report_or_used(struct _test_data_fn *self, int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 ||
	       vq_used_pending(&self->v.vq[VHOST_IOMMU_VQ_REQUEST]);
}

/*
 * Kicks the MAP posted with the worker armed; the worker is done when the
 * record is readable or the used entry is there (the call eventfd may be
 * suppressed: EVENT_IDX). Returns 0 or -errno (hang guard, arming).
 */
static int armed_report_kick(struct _test_data_fn *self, int rfd)
{
	int ret, ms;

	if (worker_wait_idle(self->worker, IDLE_MS))
		return -EBUSY;
	if (fail_nth_arm(&self->wk))
		return -EIO;
	ret = vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST);
	for (ms = 0; !ret && !report_or_used(self, rfd); ms++) {
		if (ms > VMM_TIMEOUT_MS)
			ret = -ETIMEDOUT;
		usleep(1000);	/* a hang guard's step */
	}
	if (worker_wait_idle(self->worker, IDLE_MS) && !ret)
		ret = -EBUSY;
	fail_nth_disarm(&self->wk);
	return ret;
}

TEST_F_TIMEOUT(fn, report_held_map, 600)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e), .flags = VHOST_IOMMU_ENDPOINT_F_REPORT,
		.endpoint = EPR,
	};
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_map m;
	struct virtio_iommu_req_unmap u;
	struct vhost_iommu_report rec;
	const unsigned int pg = 17;
	unsigned int runs = 0;
	struct vmm_req r;
	uint32_t answer;
	ssize_t n;
	int rfd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_ADD_ENDPOINT, &e);
	rfd = report_open(self->v.fd);
	ASSERT_LE(0, rfd);
	map_neighbours(_metadata, self);
	vmm_mk_attach(&a, D1, EPR, 0);
	test_status(S_OK, report_request(self, rfd, &a, VMM_ATTACH_LEN, S_OK));
	vmm_mk_map(&m, D1, pg * PG, (pg + 1) * PG - 1, PHYS(pg), RW);
	vmm_mk_unmap(&u, D1, pg * PG, (pg + 1) * PG - 1);
	fail_nth_sweep(&self->wk) {
		answer = runs++ & 1 ? VIRTIO_IOMMU_S_IOERR : S_OK;
		vmm_req_prepare(&self->v, &r, &m, VMM_MAP_LEN, 4);
		ASSERT_EQ(0, vmm_req_post(&self->v, &r));
		ASSERT_EQ(0, armed_report_kick(self, rfd)) TH_LOG("%s", vt_errmsg);
		n = read(rfd, &rec, sizeof(rec));
		if (n < 0) {
			/* Failed in the store: NOMEM, no record, not mapped */
			EXPECT_EQ(EAGAIN, errno);
			test_cmd(vmm_req_complete(&self->v, &r));
			EXPECT_EQ(S_NOMEM, r.status);
			EXPECT_TRUE(self->wk.injected);
			EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EPR,
							      pg * PG, NULL));
			EXPECT_EQ(NB, vmm_stat(self->v.fd, mappings));
			continue;
		}
		/* Held: mapped in the kernel, the tail unwritten */
		ASSERT_EQ(sizeof(rec), n);
		EXPECT_EQ(VHOST_IOMMU_REPORT_T_MAP, rec.type);
		EXPECT_EQ(pg * PG, rec.virt_start);
		EXPECT_TRUE(vmm_wr_untouched(&r));
		EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EPR, pg * PG, NULL));
		ASSERT_EQ(0, report_answer(rfd, rec.seq, answer));
		test_cmd(vmm_req_complete(&self->v, &r));
		EXPECT_EQ(answer, r.status);
		EXPECT_EQ(0, neighbours_ok(self->v.fd, EPR, -1));
		if (answer != S_OK) {
			EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EPR,
							      pg * PG, NULL));
			EXPECT_EQ(NB, vmm_stat(self->v.fd, mappings));
			continue;
		}
		EXPECT_EQ(NB + 1, vmm_stat(self->v.fd, mappings));
		test_status(S_OK, report_request(self, rfd, &u, VMM_UNMAP_LEN,
						 S_OK));
	}
	sweep_end(_metadata, &self->wk, "MAP held for a report", 1);
	EXPECT_EQ(0, close(rfd));
}

/*
 * VHOST_IOMMU_REPORT_OPEN, swept in the test thread: a failure leaves no
 * channel (the next one opens) and no descriptor behind. read() and
 * write() of the channel allocate nothing: a record read and an answer
 * written with the thread armed pass no injection point.
 */
TEST_F_TIMEOUT(fn, report_channel, 600)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e), .flags = VHOST_IOMMU_ENDPOINT_F_REPORT,
		.endpoint = EPR,
	};
	struct vhost_iommu_report_open o;
	struct virtio_iommu_req_attach a;
	struct vhost_iommu_report rec;
	int ret, err, next, rfd = -1;
	struct pollfd p;
	struct vmm_req r;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_ADD_ENDPOINT, &e);
	next = dup(self->v.fd);
	ASSERT_LE(0, next);
	close(next);
	fail_nth_sweep(&self->me) {
		o = (struct vhost_iommu_report_open){ .size = sizeof(o), .fd = -1 };
		ret = armed_ioctl(self, VHOST_IOMMU_REPORT_OPEN, &o, &err);
		check_failed(_metadata, ret, err, &self->me, "REPORT_OPEN");
		if (ret) {
			EXPECT_EQ(-1, o.fd);
			/* No descriptor left, no channel open */
			ret = dup(self->v.fd);
			EXPECT_EQ(next, ret);
			close(ret);
			test_cmd_ioctl(self->v.fd, VHOST_IOMMU_REPORT_OPEN, &o);
		}
		EXPECT_EQ(next, o.fd);
		EXPECT_EQ(-1, read(o.fd, &rec, sizeof(rec)));
		EXPECT_EQ(EAGAIN, errno);
		close(o.fd);
	}
	sweep_end(_metadata, &self->me, "REPORT_OPEN", 1);

	rfd = report_open(self->v.fd);
	ASSERT_LE(0, rfd);
	vmm_mk_attach(&a, D1, EPR, 0);
	vmm_req_prepare(&self->v, &r, &a, VMM_ATTACH_LEN, 4);
	ASSERT_EQ(0, vmm_req_post(&self->v, &r));
	ASSERT_EQ(0, vmm_kick(&self->v, VHOST_IOMMU_VQ_REQUEST));
	p = (struct pollfd){ .fd = rfd, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
	fail_nth_sweep(&self->me) {
		ASSERT_EQ(0, fail_nth_arm(&self->me));
		ret = read(rfd, &rec, sizeof(rec));
		fail_nth_disarm(&self->me);
		ASSERT_EQ(sizeof(rec), ret);
		/* Unread again for the next run: answered only after */
		ASSERT_EQ(0, fail_nth_arm(&self->me));
		ret = report_answer(rfd, rec.seq + 1, S_OK);
		fail_nth_disarm(&self->me);
		EXPECT_EQ(-EINVAL, ret);
	}
	sweep_end(_metadata, &self->me, "report channel read() and write()", 0);
	EXPECT_EQ(0, self->me.points);
	ASSERT_EQ(0, fail_nth_arm(&self->me));
	ret = report_answer(rfd, rec.seq, S_OK);
	fail_nth_disarm(&self->me);
	EXPECT_EQ(0, ret);
	test_cmd(vmm_req_complete(&self->v, &r));
	EXPECT_EQ(S_OK, r.status);
	EXPECT_EQ(0, close(rfd));
}

/* A request still works: the queues and the memory table are intact. */
static int requests_work(struct vmm *v)
{
	int ret;

	ret = vmm_map(v, D2, 0, PG - 1, PHYS(1), RW);
	if (ret != VIRTIO_IOMMU_S_NOENT)
		return ret ? ret : -1;
	return 0;
}

TEST_F_TIMEOUT(fn, set_mem_table, 600)
{
	uint64_t phys;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_attach(&self->v, D1, EP1, 0);
	fail_nth_sweep(&self->me) {
		ret = armed_ioctl(self, VHOST_SET_MEM_TABLE, &self->mt, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_SET_MEM_TABLE");
		/* The old table, or the new one: requests go on */
		test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
		EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1, 0, &phys));
		EXPECT_EQ(PHYS(0), phys);
		test_cmd_unmap(&self->v, D1, 0, PG - 1);
		if (ret)
			EXPECT_EQ(0, ioctl(self->v.fd, VHOST_SET_MEM_TABLE,
					   &self->mt));
	}
	sweep_end(_metadata, &self->me, "VHOST_SET_MEM_TABLE", 1);
}

/* The vring ioctls in the order a VMM restarts a queue */
enum { V_GET_BASE, V_NUM, V_ADDR, V_BASE, V_CALL, V_ERR, V_KICK, V_N };

static const unsigned long vring_req[V_N] = {
	VHOST_GET_VRING_BASE, VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_BASE, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
	VHOST_SET_VRING_KICK,
};

static const char * const vring_name[V_N] = {
	"VHOST_GET_VRING_BASE", "VHOST_SET_VRING_NUM", "VHOST_SET_VRING_ADDR",
	"VHOST_SET_VRING_BASE", "VHOST_SET_VRING_CALL", "VHOST_SET_VRING_ERR",
	"VHOST_SET_VRING_KICK",
};

static const char *vname(unsigned int i)
{
	return i < V_N ? vring_name[i] : "?";
}

struct vring_args {
	struct vhost_vring_state get, num, base;
	struct vhost_vring_addr addr;
	struct vhost_vring_file call, err, kick;
	void *arg[V_N];
};

static void vring_args(struct vmm *v, unsigned int q, struct vring_args *a)
{
	struct vq *vq = &v->vq[q];

	memset(a, 0, sizeof(*a));
	a->get.index = q;
	a->num.index = q;
	a->num.num = vq->num;
	a->addr.index = q;
	a->addr.desc_user_addr = vmm_hva(v, vq->desc_gpa);
	a->addr.avail_user_addr = vmm_hva(v, vq->avail_gpa);
	a->addr.used_user_addr = vmm_hva(v, vq->used_gpa);
	a->base.index = q;
	a->call.index = q;
	a->call.fd = vq->call;
	a->err.index = q;
	a->err.fd = vq->err;
	a->kick.index = q;
	a->kick.fd = vq->kick;
	a->arg[V_GET_BASE] = &a->get;
	a->arg[V_NUM] = &a->num;
	a->arg[V_ADDR] = &a->addr;
	a->arg[V_BASE] = &a->base;
	a->arg[V_CALL] = &a->call;
	a->arg[V_ERR] = &a->err;
	a->arg[V_KICK] = &a->kick;
}

/*
 * The request queue stopped and restarted, one ioctl of the sequence swept
 * at a time; the ring goes on from where it stopped.
 */
TEST_F_TIMEOUT(fn, vring_ioctls, 600)
{
	struct vring_args a;
	unsigned int k, i;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	vring_args(&self->v, VHOST_IOMMU_VQ_REQUEST, &a);
	for (k = 0; k < V_N; k++) {
		fail_nth_sweep(&self->me) {
			for (i = 0; i < V_N; i++) {
				if (i != k) {
					ret = ioctl(self->v.fd, vring_req[i],
						    a.arg[i]);
					ASSERT_EQ(0, ret)
						TH_LOG("%s: %m", vname(i));
				} else {
					ret = armed_ioctl(self, vring_req[k],
							  a.arg[k], &err);
					check_failed(_metadata, ret, err, &self->me,
						     vname(k));
					if (ret)
						ASSERT_EQ(0,
							  ioctl(self->v.fd,
								vring_req[k],
								a.arg[k]))
							TH_LOG("%s again: %m",
							       vname(k));
				}
				/* The ring goes on where it stopped */
				if (i == V_GET_BASE)
					a.base.num = a.get.num;
			}
			ASSERT_EQ(0, requests_work(&self->v))
				TH_LOG("%s", vt_errmsg);
		}
		sweep_end(_metadata, &self->me, vname(k), 0);
	}
}

/*
 * The first VHOST_SET_VRING_KICK of a device starts the queue and
 * allocates its segment array: a fresh device every run.
 */
TEST_F_TIMEOUT(fn, vring_first_kick, 600)
{
	struct vmm_opts o = { .no_rings = true };
	struct vring_args a;
	unsigned int i;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		vmm_fini(&self->v);
		test_cmd(vmm_init(&self->v, &o));
		/* The driver side of the rings only */
		self->v.opts.user_device = true;
		test_cmd(vmm_vq_setup(&self->v, VHOST_IOMMU_VQ_REQUEST,
				      VMM_DEFAULT_NUM));
		self->v.opts.user_device = false;
		vring_args(&self->v, VHOST_IOMMU_VQ_REQUEST, &a);
		for (i = V_NUM; i < V_KICK; i++) {
			ASSERT_EQ(0, ioctl(self->v.fd, vring_req[i], a.arg[i]))
				TH_LOG("%s: %m", vname(i));
		}
		ret = armed_ioctl(self, VHOST_SET_VRING_KICK, &a.kick, &err);
		check_failed(_metadata, ret, err, &self->me, "first VHOST_SET_VRING_KICK");
		if (ret)
			ASSERT_EQ(0, ioctl(self->v.fd, VHOST_SET_VRING_KICK,
					   &a.kick));
		ASSERT_EQ(0, requests_work(&self->v)) TH_LOG("%s", vt_errmsg);
	}
	sweep_end(_metadata, &self->me, "first VHOST_SET_VRING_KICK", 1);
}

TEST_F_TIMEOUT(fn, features_config_stats, 600)
{
	struct vhost_iommu_config c, c2;
	struct vhost_iommu_stats s;
	uint64_t features = self->v.features;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_get_config(self->v.fd, &c);
	fail_nth_sweep(&self->me) {
		ret = armed_ioctl(self, VHOST_SET_FEATURES, &features, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_SET_FEATURES");
	}
	sweep_end(_metadata, &self->me, "VHOST_SET_FEATURES", 0);
	fail_nth_sweep(&self->me) {
		ret = armed_ioctl(self, VHOST_GET_FEATURES, &features, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_GET_FEATURES");
	}
	sweep_end(_metadata, &self->me, "VHOST_GET_FEATURES", 0);
	fail_nth_sweep(&self->me) {
		memset(&c2, 0, sizeof(c2));
		c2.size = sizeof(c2);
		ret = armed_ioctl(self, VHOST_IOMMU_GET_CONFIG, &c2, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_GET_CONFIG");
		if (!ret)
			EXPECT_EQ(0, memcmp(&c, &c2, sizeof(c)));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_GET_CONFIG", 0);
	/* bypass flips with endpoints declared; all of it without */
	fail_nth_sweep(&self->me) {
		c2 = c;
		c2.bypass = 1;
		ret = armed_ioctl(self, VHOST_IOMMU_SET_CONFIG, &c2, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_SET_CONFIG");
		EXPECT_EQ(ret ? -ENXIO : 0,
			  vmm_translate_phys(self->v.fd, EP1, 0, NULL));
		test_cmd_set_bypass(self->v.fd, 0);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_SET_CONFIG (bypass)", 0);
	test_cmd_del_endpoint(self->v.fd, EP1);
	fail_nth_sweep(&self->me) {
		c2 = c;
		c2.probe_size = 1024;
		c2.input_end = 0xffffffffffULL;
		ret = armed_ioctl(self, VHOST_IOMMU_SET_CONFIG, &c2, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_SET_CONFIG");
		test_cmd_set_config(self->v.fd, &c);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_SET_CONFIG", 0);
	fail_nth_sweep(&self->me) {
		memset(&s, 0, sizeof(s));
		s.size = sizeof(s);
		ret = armed_ioctl(self, VHOST_IOMMU_GET_STATS, &s, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_GET_STATS");
		if (!ret)
			EXPECT_EQ(0, s.endpoints);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_GET_STATS", 0);
}

TEST_F_TIMEOUT(fn, endpoints, 600)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e),
		.endpoint = EP2,
		.nr_resv = 2,
		.resv = (uintptr_t)resv,
	};
	struct vhost_iommu_endpoint d = {
		.size = sizeof(d),
		.endpoint = EP2,
	};
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		ret = armed_ioctl(self, VHOST_IOMMU_ADD_ENDPOINT, &e, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_ADD_ENDPOINT");
		if (ret) {
			EXPECT_EQ(1, vmm_stat(self->v.fd, endpoints));
			EXPECT_EQ(-ENODEV, vmm_translate_phys(self->v.fd, EP2, 0, NULL));
			test_cmd_add_endpoint(self->v.fd, EP2, resv,
					      2);
		}
		EXPECT_EQ(2, vmm_stat(self->v.fd, endpoints));
		EXPECT_EQ(-ENXIO, vmm_translate_phys(self->v.fd, EP2, 0, NULL));
		test_cmd_del_endpoint(self->v.fd, EP2);
	}
	/*
	 * The regions' copy and the endpoint; the xarray's node only when
	 * the index needs one. (The 6.1 debug kernel counts twice as many:
	 * kmemleak allocates a record per allocation, Documentation/testing.md)
	 */
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_ADD_ENDPOINT", 2);

	/* DEL_ENDPOINT of an attached endpoint, its domain dying with it */
	fail_nth_sweep(&self->me) {
		test_cmd_add_endpoint(self->v.fd, EP2, resv, 2);
		test_cmd_attach(&self->v, D2, EP2, 0);
		test_cmd_map(&self->v, D2, 0, PG - 1, PHYS(0), RW);
		ret = armed_ioctl(self, VHOST_IOMMU_DEL_ENDPOINT, &d, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_DEL_ENDPOINT");
		if (ret) {
			EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP2, 0, NULL));
			test_cmd_del_endpoint(self->v.fd, EP2);
		}
		EXPECT_EQ(-ENODEV, vmm_translate_phys(self->v.fd, EP2, 0, NULL));
		EXPECT_EQ(1, vmm_stat(self->v.fd, endpoints));
		EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_DEL_ENDPOINT", 0);
}

TEST_F_TIMEOUT(fn, translate, 600)
{
	struct vhost_iommu_translate t;
	struct vhost_iommu_stats s0, s1;
	struct virtio_iommu_fault f;
	uint32_t len;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
	fail_nth_sweep(&self->me) {
		memset(&t, 0, sizeof(t));
		t.size = sizeof(t);
		t.endpoint = EP1;
		t.access = A_RW;
		t.iova = 0x10;
		ret = armed_ioctl(self, VHOST_IOMMU_TRANSLATE, &t, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_TRANSLATE");
		if (!ret)
			EXPECT_EQ(PHYS(0), t.phys);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_TRANSLATE", 0);
	/* A failed translation with F_REPORT: ENOENT, one report */
	fail_nth_sweep(&self->me) {
		test_cmd_get_stats(self->v.fd, &s0);
		memset(&t, 0, sizeof(t));
		t.size = sizeof(t);
		t.flags = VHOST_IOMMU_TRANSLATE_F_REPORT;
		t.endpoint = EP1;
		t.access = A_R;
		t.iova = 0x5000;
		ret = armed_ioctl(self, VHOST_IOMMU_TRANSLATE, &t, &err);
		ASSERT_EQ(-1, ret);
		EXPECT_EQ(ENOENT, err)
			TH_LOG("allocation %u: %s", self->me.n, strerror(err));
		test_cmd_get_stats(self->v.fd, &s1);
		EXPECT_EQ(s0.faults + s0.faults_dropped + 1,
			  s1.faults + s1.faults_dropped);
		if (s1.faults > s0.faults) {
			ASSERT_EQ(0, vmm_event_read(&self->v, &f, &len, 1000));
			EXPECT_EQ(0x5000, le64toh(f.address));
			ASSERT_EQ(0, vmm_event_post(&self->v, 1, sizeof(f)));
		}
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_TRANSLATE F_REPORT", 0);
}

/* VHOST_RESET_OWNER cannot fail; the device must be usable afterwards. */
TEST_F_TIMEOUT(fn, reset_owner, 600)
{
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		test_cmd_attach(&self->v, D1, EP1, 0);
		test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
		ret = armed_ioctl(self, VHOST_RESET_OWNER, NULL, &err);
		EXPECT_EQ(0, ret) TH_LOG("allocation %u: %s", self->me.n,
					 strerror(err));
		test_cmd(vmm_setup(&self->v));
		EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
		EXPECT_EQ(1, vmm_stat(self->v.fd, endpoints));
		EXPECT_EQ(-ENXIO, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
	}
	sweep_end(_metadata, &self->me, "VHOST_RESET_OWNER", 0);
}

/* VHOST_IOMMU_RESET_DEVICE allocates nothing: it cannot fail. */
TEST_F_TIMEOUT(fn, reset_device, 600)
{
	int ret, err;
	struct vhost_iommu_reset r = { .size = sizeof(r) };

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		test_cmd_attach(&self->v, D1, EP1, 0);
		test_cmd_map(&self->v, D1, 0, PG - 1, PHYS(0), RW);
		ret = armed_ioctl(self, VHOST_IOMMU_RESET_DEVICE, &r, &err);
		EXPECT_EQ(0, ret) TH_LOG("allocation %u: %s", self->me.n,
					 strerror(err));
		EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
		test_cmd(vmm_rings_restart(&self->v));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_RESET_DEVICE", 0);
}

#define NS	24	/* mappings of the saved state */

/*
 * GET_MAPPINGS, SAVE_STATE and LOAD_STATE: a failed listing or save
 * changes nothing; a failed load, wherever it fails (the stream's copy,
 * the check's scratch, a domain, a mapping, an attachment), leaves the
 * device without a domain, and the next load succeeds.
 */
TEST_F_TIMEOUT(fn, state, 600)
{
	struct vhost_iommu_iotlb_attach at = {
		.size = sizeof(at), .endpoint = EP2, .domain = VD,
	};
	struct vhost_iommu_iotlb_entry e = {
		.iova = 0x40000000, .size = 4 * PG, .gpa = PHYS(0), .perm = A_RW,
	};
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = VD, .nr = 1,
		.entries = (uintptr_t)&e,
	};
	struct vhost_iommu_iotlb_entry list[NS];
	struct vhost_iommu_mappings l;
	struct vhost_iommu_state st = { .size = sizeof(st) };
	static uint8_t stream[64 * 1024];
	unsigned int i, base;
	uint64_t len, phys;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	test_cmd_add_endpoint(self->v.fd, EP2, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < NS; i++)
		test_cmd_map(&self->v, D1, i * 2 * PG, i * 2 * PG + PG - 1,
			     PHYS(i), RW);
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_IOTLB_ATTACH, &at);
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_IOTLB_UPDATE, &b);
	test_cmd(vmm_vq_stop(&self->v, 0, &base));
	test_cmd(vmm_vq_stop(&self->v, 1, &base));

	fail_nth_sweep(&self->me) {
		l = (struct vhost_iommu_mappings){
			.size = sizeof(l), .domain = D1, .nr = NS,
			.entries = (uintptr_t)list,
		};
		ret = armed_ioctl(self, VHOST_IOMMU_GET_MAPPINGS, &l, &err);
		check_failed(_metadata, ret, err, &self->me,
			     "VHOST_IOMMU_GET_MAPPINGS");
		if (!ret)
			EXPECT_EQ(NS, l.nr);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_GET_MAPPINGS", 1);

	fail_nth_sweep(&self->me) {
		st.buf = (uintptr_t)stream;
		st.len = sizeof(stream);
		ret = armed_ioctl(self, VHOST_IOMMU_SAVE_STATE, &st, &err);
		check_failed(_metadata, ret, err, &self->me,
			     "VHOST_IOMMU_SAVE_STATE");
		EXPECT_EQ(NS + 1, vmm_stat(self->v.fd, mappings));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_SAVE_STATE", 2);
	st.len = sizeof(stream);
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_SAVE_STATE, &st);
	len = st.len;

	test_cmd(vmm_reset_device(self->v.fd));
	fail_nth_sweep(&self->me) {
		st.len = len;
		ret = armed_ioctl(self, VHOST_IOMMU_LOAD_STATE, &st, &err);
		check_failed(_metadata, ret, err, &self->me,
			     "VHOST_IOMMU_LOAD_STATE");
		if (ret) {
			EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
			EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
			test_cmd_ioctl(self->v.fd, VHOST_IOMMU_LOAD_STATE, &st);
		}
		EXPECT_EQ(2, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(NS + 1, vmm_stat(self->v.fd, mappings));
		EXPECT_EQ(0, vmm_translate_phys(self->v.fd, EP1, 2 * PG, &phys));
		EXPECT_EQ(PHYS(1), phys);
		test_cmd(vmm_reset_device(self->v.fd));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_LOAD_STATE", 4);
}

/* The device IOTLB of a VMM-managed domain */

static int iotlb_batch(int fd, unsigned long req,
		       struct vhost_iommu_iotlb_batch *b,
		       struct vhost_iommu_iotlb_entry *e, unsigned int n)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->domain = VD;
	b->nr = n;
	b->entries = (uintptr_t)e;
	return req ? vmm_ioctl(fd, req, b) : 0;
}

/* Entries for pages 1, 3, ..., 2 * n - 1 (update) or without gpa/perm */
static void iotlb_entries(struct vhost_iommu_iotlb_entry *e, unsigned int n,
			  bool update)
{
	unsigned int i;

	memset(e, 0, n * sizeof(*e));
	for (i = 0; i < n; i++) {
		e[i].iova = (2 * i + 1) * PG;
		e[i].size = PG;
		if (update) {
			e[i].gpa = PHYS(2 * i + 1);
			e[i].perm = A_RW;
		}
	}
}

/* How many of the n entries translate (to the right page) */
static unsigned int iotlb_present(int fd, unsigned int n)
{
	unsigned int i, got = 0;
	uint64_t phys;

	for (i = 0; i < n; i++)
		if (!vmm_translate_phys(fd, EP1, (2 * i + 1) * PG, &phys) &&
		    phys == PHYS(2 * i + 1))
			got++;
	return got;
}

#define NE	8

TEST_F_TIMEOUT(fn, iotlb, 600)
{
	struct vhost_iommu_iotlb_attach at = {
		.size = sizeof(at),
		.endpoint = EP1,
		.domain = VD,
	};
	struct vhost_iommu_iotlb_entry up[NE], inv[NE];
	struct vhost_iommu_iotlb_batch b;
	struct vhost_iommu_iotlb_notify nt = { .size = sizeof(nt) };
	int ret, err, efd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		at.flags = 0;
		ret = armed_ioctl(self, VHOST_IOMMU_IOTLB_ATTACH, &at, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_IOTLB_ATTACH");
		if (ret) {
			EXPECT_EQ(0, vmm_stat(self->v.fd, domains));
			EXPECT_EQ(-ENXIO, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
			test_cmd_ioctl(self->v.fd,
				       VHOST_IOMMU_IOTLB_ATTACH, &at);
		}
		EXPECT_EQ(1, vmm_stat(self->v.fd, domains));
		EXPECT_EQ(-ENOENT, vmm_translate_phys(self->v.fd, EP1, 0, NULL));
		at.flags = VHOST_IOMMU_IOTLB_ATTACH_F_DETACH;
		test_cmd_ioctl(self->v.fd, VHOST_IOMMU_IOTLB_ATTACH,
			       &at);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_IOTLB_ATTACH", 2);

	at.flags = 0;
	test_cmd_ioctl(self->v.fd, VHOST_IOMMU_IOTLB_ATTACH, &at);
	/* UPDATE of NE entries: all or nothing */
	fail_nth_sweep(&self->me) {
		iotlb_entries(up, NE, true);
		iotlb_batch(self->v.fd, 0, &b, up, NE);
		ret = armed_ioctl(self, VHOST_IOMMU_IOTLB_UPDATE, &b, &err);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_IOTLB_UPDATE");
		if (ret) {
			EXPECT_EQ(0, iotlb_present(self->v.fd, NE));
			EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
			iotlb_entries(up, NE, true);
			ASSERT_EQ(0, iotlb_batch(self->v.fd,
						 VHOST_IOMMU_IOTLB_UPDATE, &b,
						 up, NE));
		}
		EXPECT_EQ(NE, iotlb_present(self->v.fd, NE));
		EXPECT_EQ(NE, vmm_stat(self->v.fd, mappings));
		iotlb_entries(inv, NE, false);
		ASSERT_EQ(0, iotlb_batch(self->v.fd,
					 VHOST_IOMMU_IOTLB_INVALIDATE, &b, inv,
					 NE));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_IOTLB_UPDATE", 2);

	/* INVALIDATE of the first half of them: all or nothing */
	fail_nth_sweep(&self->me) {
		iotlb_entries(up, NE, true);
		ASSERT_EQ(0, iotlb_batch(self->v.fd, VHOST_IOMMU_IOTLB_UPDATE,
					 &b, up, NE));
		iotlb_entries(inv, NE / 2, false);
		iotlb_batch(self->v.fd, 0, &b, inv, NE / 2);
		ret = armed_ioctl(self, VHOST_IOMMU_IOTLB_INVALIDATE, &b, &err);
		check_failed(_metadata, ret, err, &self->me,
			     "VHOST_IOMMU_IOTLB_INVALIDATE");
		if (ret) {
			EXPECT_EQ(NE, iotlb_present(self->v.fd, NE));
			EXPECT_EQ(NE, vmm_stat(self->v.fd, mappings));
			iotlb_entries(inv, NE / 2, false);
			ASSERT_EQ(0, iotlb_batch(self->v.fd,
						 VHOST_IOMMU_IOTLB_INVALIDATE,
						 &b, inv, NE / 2));
		}
		EXPECT_EQ(NE / 2, iotlb_present(self->v.fd, NE));
		EXPECT_EQ(NE - NE / 2, vmm_stat(self->v.fd, mappings));
		iotlb_entries(inv, NE, false);
		ASSERT_EQ(0, iotlb_batch(self->v.fd,
					 VHOST_IOMMU_IOTLB_INVALIDATE, &b, inv,
					 NE));
		EXPECT_EQ(0, vmm_stat(self->v.fd, mappings));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_IOTLB_INVALIDATE", 1);

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	fail_nth_sweep(&self->me) {
		nt.fd = efd;
		ret = armed_ioctl(self, VHOST_IOMMU_IOTLB_SET_NOTIFY, &nt, &err);
		check_failed(_metadata, ret, err, &self->me,
			     "VHOST_IOMMU_IOTLB_SET_NOTIFY");
		nt.fd = -1;
		test_cmd_ioctl(self->v.fd, VHOST_IOMMU_IOTLB_SET_NOTIFY,
			       &nt);
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_IOTLB_SET_NOTIFY", 0);
	close(efd);
}

/*
 * BIND_NET, UNBIND_NET and read() of miss records need a vhost-net device:
 * vguest's, its endpoint in the VMM-managed domain, not bound until the
 * test binds it.
 */
FIXTURE(net) {
	struct vguest g;
	struct fail_nth me;
	const char *skip;
};

FIXTURE_SETUP(net)
{
	struct vguest_opts o = {
		.mode = VNET_IOVA_OFFSET,
		.attach = VGUEST_ATTACH_VMM,
		.no_bind = true,
		.no_backend = true,
	};

	self->me.fd = -1;
	self->skip = fail_nth_unusable();
	if (self->skip)
		return;
	ASSERT_EQ(0, vguest_init(&self->g, &o)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vguest_start(&self->g)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, fail_nth_open(&self->me));
}

FIXTURE_TEARDOWN(net)
{
	fail_nth_close(&self->me);
	if (!self->skip)
		vguest_fini(&self->g);
}

static uint64_t net_bound(struct vguest *g)
{
	struct vhost_iommu_stats s;

	return vguest_stats(g, &s) ? ~0ULL : s.bound;
}

TEST_F_TIMEOUT(net, bind_unbind, 600)
{
	struct vhost_iommu_bind b = {
		.size = sizeof(b),
		.endpoint = VGUEST_EP,
		.fd = self->g.net[0].fd,
	};
	int fd = self->g.iommu.fd;
	int ret, err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fail_nth_sweep(&self->me) {
		ASSERT_EQ(0, fail_nth_arm(&self->me));
		ret = ioctl(fd, VHOST_IOMMU_BIND_NET, &b);
		err = ret ? errno : 0;
		fail_nth_disarm(&self->me);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_BIND_NET");
		if (ret) {
			EXPECT_EQ(0, net_bound(&self->g));
			ASSERT_EQ(0, vguest_bind(&self->g, 0))
				TH_LOG("%s", vt_errmsg);
		}
		EXPECT_EQ(1, net_bound(&self->g));
		ASSERT_EQ(0, vguest_unbind(&self->g, 0))
			TH_LOG("%s", vt_errmsg);
		EXPECT_EQ(0, net_bound(&self->g));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_BIND_NET", 1);

	fail_nth_sweep(&self->me) {
		ASSERT_EQ(0, vguest_bind(&self->g, 0)) TH_LOG("%s",
							      vt_errmsg);
		ASSERT_EQ(0, fail_nth_arm(&self->me));
		ret = ioctl(fd, VHOST_IOMMU_UNBIND_NET, &b);
		err = ret ? errno : 0;
		fail_nth_disarm(&self->me);
		check_failed(_metadata, ret, err, &self->me, "VHOST_IOMMU_UNBIND_NET");
		if (ret) {
			EXPECT_EQ(1, net_bound(&self->g));
			ASSERT_EQ(0, vguest_unbind(&self->g, 0))
				TH_LOG("%s", vt_errmsg);
		}
		EXPECT_EQ(0, net_bound(&self->g));
	}
	sweep_end(_metadata, &self->me, "VHOST_IOMMU_UNBIND_NET", 0);
}

/* A miss of vhost-net's used ring, queued as a record for the VMM */
static int raise_miss(struct vguest *g, uint64_t queued)
{
	struct vhost_vring_file f = { .index = VNET_RXQ, .fd = g->net[0].tap };
	struct vhost_iommu_stats s;
	int i;

	if (!ioctl(g->net[0].fd, VHOST_NET_SET_BACKEND, &f) || errno != EFAULT)
		return -EPROTO;
	for (i = 0; i < VGUEST_TIMEOUT_MS / 10; i++) {
		if (vguest_stats(g, &s))
			return -EIO;
		if (s.iotlb_queued > queued)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

TEST_F_TIMEOUT(net, read_misses, 600)
{
	struct vhost_iommu_iotlb_miss m[4];
	struct vhost_iommu_stats s;
	int fd = self->g.iommu.fd;
	ssize_t ret;
	int err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, vguest_bind(&self->g, 0)) TH_LOG("%s", vt_errmsg);
	fail_nth_sweep(&self->me) {
		ASSERT_EQ(0, vguest_stats(&self->g, &s));
		ASSERT_EQ(0, raise_miss(&self->g, s.iotlb_queued));
		ASSERT_EQ(0, fail_nth_arm(&self->me));
		ret = read(fd, m, sizeof(m));
		err = ret < 0 ? errno : 0;
		fail_nth_disarm(&self->me);
		if (ret < 0) {
			check_failed(_metadata, ret, err, &self->me, "read()");
			/* The record is still there */
			ret = read(fd, m, sizeof(m));
		}
		ASSERT_LT(0, ret) TH_LOG("allocation %u: %m", self->me.n);
		EXPECT_EQ(0, ret % sizeof(m[0]));
		EXPECT_EQ(VGUEST_EP, m[0].endpoint);
		EXPECT_EQ(VD, m[0].domain);
		/* Duplicates the miss raised meanwhile */
		while (read(fd, m, sizeof(m)) > 0)
			;
	}
	sweep_end(_metadata, &self->me, "read()", 0);
}

TEST_HARNESS_MAIN
