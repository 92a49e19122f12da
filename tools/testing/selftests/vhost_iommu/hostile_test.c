// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: hostile guests and VMMs (issue 11). Each test
 * reproduces one finding of the review: a second thread rewrites guest
 * memory while the device reads it (the request type byte, the event
 * queue's available index), or the VMM hands the kernel arguments at the
 * edge of what it accepts (argument sizes, memory tables, ring flags).
 *
 * Races are made likely with many iterations, never certain: a test that
 * passes on a broken kernel can happen, one that fails on a correct kernel
 * cannot. Where userfaultfd can hold the device in the middle of a guest
 * access (not on the debug kernel: those tests skip there), the race is
 * made certain. Waits are hang guards (VMM_TIMEOUT_MS, FLOOD_GUARD_MS),
 * never measurements.
 *
 * The findings of issue 11 and their tests:
 *   F1 request type read twice	flip.*.type_read_once (racing thread),
 *				flip.*.type_flipped_in_fault (userfaultfd)
 *   F2 event queue livelock	flood.*.vmm_answers
 *   F3 unbounded chains		chain.*
 *   F6 SET_MEM_TABLE mid-request	mem_table_waits_for_request
 *   F8 re-ATTACH unattached	reattach.never_unattached
 *   F9 vhost-net IOTLB at bind	plant.unmapped_iova_carries_nothing,
 *				plant.guest_map_wins
 *   F3/F4 ioctls while the worker waits on vhost-net
 *				plant.stats_while_invalidate_waits
 *   F11 uapi edges		argsize_over_page, argsize_4g,
 *				vring_addr_log_refused, mem_table_overlap_at_top
 *   F12 PROBE used length	probe.*; indirect tables across regions
 *				indirect_table_across_regions,
 *				indirect_table_desc_across_regions
 *
 * VHOST_IOMMU_RESET_DEVICE (issue 14 item 3), attacked:
 *   against busy polling	busyreset.nothing_taken_after
 *   the driver's bypass	rbypass.driver_bypass_gone
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vguest.h"
#include "vmm_test.h"

#define RQ	VHOST_IOMMU_VQ_REQUEST
#define EVQ	VHOST_IOMMU_VQ_EVENT
#define F_NEXT	VRING_DESC_F_NEXT
#define F_WRITE	VRING_DESC_F_WRITE
#define F_IND	VRING_DESC_F_INDIRECT

#define EP1	1
#define EP2	2
#define EP3	3
#define D1	1
#define D2	2

#define PAGE		4096
#define S_OK		VIRTIO_IOMMU_S_OK
#define S_INVAL		VIRTIO_IOMMU_S_INVAL
#define S_NOENT		VIRTIO_IOMMU_S_NOENT
#define A_R		VHOST_IOMMU_ACCESS_READ
#define REPORT		VHOST_IOMMU_TRANSLATE_F_REPORT

/*
 * How long an attacker keeps going when the VMM's ioctls do not come back:
 * a hang guard. A correct kernel answers them within milliseconds (seconds
 * on the debug kernel); a livelocked one only after the attacker gives up.
 * Below the soft lockup threshold (20 s): the VM panics on a soft lockup,
 * and a broken kernel should fail this test, not end the run.
 */
#define FLOOD_GUARD_MS	10000
/* Long enough to see that something does not happen (bridge_test.c) */
#define ABSENT_MS	500

static uint64_t sum(const __u64 *a, unsigned int n)
{
	uint64_t t = 0;

	while (n--)
		t += *a++;
	return t;
}

/*
 * Runs thread @tid (0: the caller) on CPU @cpu, when there are two: the
 * racing thread on CPU 1, the test and the device's worker on CPU 0, so
 * that the race does run in parallel with the device (the scheduler would
 * as well put the worker on the racing thread's CPU, where they take
 * turns). Best effort: a test does not depend on it.
 */
static void pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(tid, sizeof(set), &set);
}

static void pin_cpu(int cpu)
{
	pin_tid(0, cpu);
}

/* The device's worker, "vhost-iommu-<owner pid>", with the caller */
static void pin_worker(int cpu)
{
	char want[32], path[64], comm[32];
	struct dirent *e;
	ssize_t n;
	DIR *d;
	int fd;

	snprintf(want, sizeof(want), "vhost-iommu-%d", getpid());
	want[15] = 0;	/* TASK_COMM_LEN - 1 */
	d = opendir("/proc");
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", atoi(e->d_name));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n <= 0)
			continue;
		comm[n] = 0;
		comm[strcspn(comm, "\n")] = 0;
		if (!strcmp(comm, want))
			pin_tid(atoi(e->d_name), cpu);
	}
	closedir(d);
}

/*
 * F1: the request type is read once. A thread flips the type byte of a
 * readable part that every request of a batch shares, between ATTACH and
 * another type, while the device executes them. Each request must be
 * executed as one type: ATTACH (status OK, used length 4), the other type
 * when it is known (the status it gets alone), or an unknown type (used
 * length 0, nothing written, counted in requests[0]); the device never
 * writes a status it does not produce. To widen the window between two
 * reads of the type, the readable part is by default one descriptor per
 * byte, in an indirect table.
 */

#define FLIP_BATCH	128
#define FLIP_ROUNDS	128	/* 16384 requests */
#define FLIP_EP		0x1000	/* also a valid MAP virt_start */

struct flipper {
	pthread_t thread;
	uint8_t *type;
	uint8_t a, b;
	int stop;
	unsigned long flips;
};

static void *flip_fn(void *arg)
{
	struct flipper *f = arg;

	pin_cpu(1);
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(f->type, f->a, __ATOMIC_RELAXED);
		__atomic_store_n(f->type, f->b, __ATOMIC_RELAXED);
		f->flips++;
	}
	__atomic_store_n(f->type, f->a, __ATOMIC_RELAXED);
	return NULL;
}

FIXTURE(flip) {
	struct vmm v;
	int fd;
};

FIXTURE_VARIANT(flip) {
	uint8_t alt;		/* the type flipped with ATTACH */
	uint64_t drop;		/* features not negotiated */
	bool whole;		/* the readable part in one descriptor */
};

/* status[3] (DEVERR) through requests[11] on ca3bade */
FIXTURE_VARIANT_ADD(flip, attach_11) {
	.alt = 11,
};

FIXTURE_VARIANT_ADD(flip, attach_11_whole) {
	.alt = 11,
	.whole = true,
};

/* an unknown type inside requests[]: counted in [0], not in [6] */
FIXTURE_VARIANT_ADD(flip, attach_6) {
	.alt = 6,
};

FIXTURE_VARIANT_ADD(flip, attach_0) {
	.alt = 0,
};

/* PROBE without VIRTIO_IOMMU_F_PROBE is an unknown type */
FIXTURE_VARIANT_ADD(flip, attach_probe_no_feature) {
	.alt = VIRTIO_IOMMU_T_PROBE,
	.drop = VMM_F(VIRTIO_IOMMU_F_PROBE),
};

/* Both known: each request one or the other, never a mix */
FIXTURE_VARIANT_ADD(flip, attach_map) {
	.alt = VIRTIO_IOMMU_T_MAP,
};

FIXTURE_SETUP(flip)
{
	struct vmm_opts o = {
		.features = VMM_ALL_FEATURES & ~variant->drop,
	};

	test_cmd(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, FLIP_EP, NULL, 0);
}

FIXTURE_TEARDOWN(flip)
{
	vmm_fini(&self->v);
}

/*
 * The shared readable part, MAP-sized. As ATTACH: domain D1, endpoint
 * FLIP_EP, flags 0, reserved 0 (ATTACH succeeds, every time). As MAP:
 * domain D1, [0x1000, 0xffffffff00000000] (an unaligned end: refused, no
 * mapping), phys 0, flags READ.
 */
static uint64_t flip_rd(struct vmm *v)
{
	uint64_t gpa = vmm_alloc(v, 64, 1);
	uint8_t *p = vmm_ptr(v, gpa);

	memset(p, 0, 64);
	p[0] = VIRTIO_IOMMU_T_ATTACH;
	*(uint32_t *)(p + 4) = htole32(D1);
	*(uint32_t *)(p + 8) = htole32(FLIP_EP);
	*(uint32_t *)(p + 20) = htole32(0xffffffff);
	*(uint32_t *)(p + 32) = htole32(VIRTIO_IOMMU_MAP_F_READ);
	return gpa;
}

/* Posts a request on @rd (shared) with its tail at @wr; its head. */
static int flip_post(struct vmm *v, uint64_t rd, uint32_t rd_len,
		     uint64_t wr, bool whole)
{
	struct vmm_rdesc d[2] = {
		{ rd, rd_len, F_NEXT, 1 },
		{ wr, 4, F_WRITE, 0 },
	};
	struct vring_desc *tab;
	uint16_t head;
	uint64_t t;
	uint32_t i;
	int ret;

	if (whole) {
		ret = vmm_raw_chain(v, RQ, d, 2, &head);
	} else {
		t = vmm_alloc_ind(v, rd_len + 1);
		tab = vmm_ptr(v, t);
		for (i = 0; i < rd_len; i++) {
			tab[i].addr = htole64(rd + i);
			tab[i].len = htole32(1);
			tab[i].flags = htole16(F_NEXT);
			tab[i].next = htole16(i + 1);
		}
		tab[i].addr = htole64(wr);
		tab[i].len = htole32(4);
		tab[i].flags = htole16(F_WRITE);
		tab[i].next = 0;
		d[0] = (struct vmm_rdesc){ t, (rd_len + 1) * 16, F_IND, 0 };
		ret = vmm_raw_chain(v, RQ, d, 1, &head);
	}
	if (ret)
		return ret;
	vq_avail_push(&v->vq[RQ], head);
	return head;
}

/* One request alone, type @type: its used length and status */
static int flip_once(struct vmm *v, uint64_t rd, uint32_t rd_len, bool whole,
		     uint8_t type, uint32_t *len, uint8_t *status)
{
	uint64_t wr = vmm_alloc(v, 4, 0);
	uint8_t *w = vmm_ptr(v, wr);
	uint32_t id;
	int head;

	*(uint8_t *)vmm_ptr(v, rd) = type;
	memset(w, VMM_PATTERN, 4);
	head = flip_post(v, rd, rd_len, wr, whole);
	if (head < 0)
		return head;
	if (vmm_kick(v, RQ) ||
	    vmm_wait_used(v, RQ, &id, len, VMM_TIMEOUT_MS))
		return -EIO;
	*status = w[0];
	*(uint8_t *)vmm_ptr(v, rd) = VIRTIO_IOMMU_T_ATTACH;
	return id == (uint32_t)head ? 0 : -EPROTO;
}

TEST_F_TIMEOUT(flip, type_read_once, 300)
{
	uint32_t rd_len = variant->alt == VIRTIO_IOMMU_T_MAP ? VMM_MAP_LEN :
			  VMM_ATTACH_LEN;
	unsigned long bad_len = 0, bad_status = 0, unknown = 0, attach = 0;
	bool alt_known = variant->alt == VIRTIO_IOMMU_T_MAP;
	unsigned long alt = 0;
	struct vhost_iommu_stats s0, s1;
	int head[FLIP_BATCH], ret;
	uint64_t wr[FLIP_BATCH];
	uint64_t t0 = vt_now_ns();
	struct flipper f = { 0 };
	unsigned int round, i;
	uint8_t alt_status = 0, st;
	uint64_t rd, posted;
	uint32_t id, len;
	uint8_t *w;

	/* The domain exists: every ATTACH is a no-op that says OK */
	test_cmd_attach(&self->v, D1, FLIP_EP, 0);
	rd = flip_rd(&self->v);
	/* What the other type gets when it is alone */
	ASSERT_EQ(0, flip_once(&self->v, rd, rd_len, variant->whole,
			       variant->alt, &len, &alt_status));
	if (alt_known) {
		ASSERT_EQ(4, len);
		ASSERT_NE(S_OK, alt_status);
	} else {
		ASSERT_EQ(0, len);
	}
	ASSERT_EQ(0, flip_once(&self->v, rd, rd_len, variant->whole,
			       VIRTIO_IOMMU_T_ATTACH, &len, &st));
	ASSERT_EQ(4, len);
	ASSERT_EQ(S_OK, st);

	s0 = vmm_stats(self->fd);
	f.type = vmm_ptr(&self->v, rd);
	f.a = VIRTIO_IOMMU_T_ATTACH;
	f.b = variant->alt;
	pin_cpu(0);
	pin_worker(0);
	ASSERT_EQ(0, pthread_create(&f.thread, NULL, flip_fn, &f));

	ret = 0;
	for (round = 0; round < FLIP_ROUNDS && !ret; round++) {
		for (i = 0; i < FLIP_BATCH && !ret; i++) {
			wr[i] = vmm_alloc(&self->v, 4, 0);
			memset(vmm_ptr(&self->v, wr[i]), VMM_PATTERN, 4);
			head[i] = flip_post(&self->v, rd, rd_len, wr[i],
					    variant->whole);
			if (head[i] < 0)
				ret = head[i];
		}
		if (!ret)
			ret = vmm_kick(&self->v, RQ);
		for (i = 0; i < FLIP_BATCH && !ret; i++) {
			ret = vmm_wait_used(&self->v, RQ, &id, &len,
					    VMM_TIMEOUT_MS);
			if (!ret && id != (uint32_t)head[i])
				ret = -EPROTO;
			if (ret)
				break;
			w = vmm_ptr(&self->v, wr[i]);
			if (len == 0) {
				unknown++;
				if (w[0] != VMM_PATTERN || w[1] != VMM_PATTERN ||
				    w[2] != VMM_PATTERN || w[3] != VMM_PATTERN)
					bad_len++;
			} else if (len != 4) {
				bad_len++;
			} else if (w[1] | w[2] | w[3]) {
				bad_status++;
			} else if (w[0] == S_OK) {
				attach++;
			} else if (alt_known && w[0] == alt_status) {
				alt++;
			} else {
				bad_status++;
			}
		}
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(f.thread, NULL);
	ASSERT_EQ(0, ret) TH_LOG("round %u: %s", round, vt_errmsg);

	posted = (uint64_t)FLIP_ROUNDS * FLIP_BATCH;
	s1 = vmm_stats(self->fd);
	TH_LOG("%lu flips; %lu ATTACH, %lu other, %lu unknown, bad %lu length, %lu status; %llu ms",
	       f.flips, attach, alt, unknown, bad_len, bad_status,
	       (unsigned long long)(vt_now_ns() - t0) / 1000000);
	TH_LOG("requests[0..7] +%llu +%llu +%llu +%llu +%llu +%llu +%llu +%llu; DEVERR +%llu",
	       (unsigned long long)(s1.requests[0] - s0.requests[0]),
	       (unsigned long long)(s1.requests[1] - s0.requests[1]),
	       (unsigned long long)(s1.requests[2] - s0.requests[2]),
	       (unsigned long long)(s1.requests[3] - s0.requests[3]),
	       (unsigned long long)(s1.requests[4] - s0.requests[4]),
	       (unsigned long long)(s1.requests[5] - s0.requests[5]),
	       (unsigned long long)(s1.requests[6] - s0.requests[6]),
	       (unsigned long long)(s1.requests[7] - s0.requests[7]),
	       (unsigned long long)(s1.status[VIRTIO_IOMMU_S_DEVERR] -
				    s0.status[VIRTIO_IOMMU_S_DEVERR]));
	EXPECT_EQ(0, bad_len);
	EXPECT_EQ(0, bad_status);
	/* Statuses the device never produces */
	EXPECT_EQ(s0.status[VIRTIO_IOMMU_S_DEVERR],
		  s1.status[VIRTIO_IOMMU_S_DEVERR]);
	EXPECT_EQ(s0.status[VIRTIO_IOMMU_S_IOERR],
		  s1.status[VIRTIO_IOMMU_S_IOERR]);
	EXPECT_EQ(s0.status[VIRTIO_IOMMU_S_FAULT],
		  s1.status[VIRTIO_IOMMU_S_FAULT]);
	/* Every request counted once, in the slot of its type */
	EXPECT_EQ(posted, sum(s1.requests, 8) - sum(s0.requests, 8));
	EXPECT_EQ(attach, s1.requests[VIRTIO_IOMMU_T_ATTACH] -
			  s0.requests[VIRTIO_IOMMU_T_ATTACH]);
	if (variant->alt && variant->alt < 8)
		EXPECT_EQ(alt, s1.requests[variant->alt] -
			       s0.requests[variant->alt]);
	EXPECT_EQ(unknown, s1.requests[VHOST_IOMMU_STATS_T_UNKNOWN] -
			   s0.requests[VHOST_IOMMU_STATS_T_UNKNOWN]);
	/* A status written by every request that is not unknown */
	EXPECT_EQ(posted - unknown, sum(s1.status, 16) - sum(s0.status, 16));
	EXPECT_EQ(s0.status[S_OK] + attach, s1.status[S_OK]);
	EXPECT_EQ(0, s1.mappings);
	EXPECT_EQ(s0.malformed, s1.malformed);
	EXPECT_EQ(s0.ring_errors, s1.ring_errors);
	/* The queue still works */
	test_cmd_attach(&self->v, D1, FLIP_EP, 0);
}

/*
 * F1 without a race: the type byte alone in the first descriptor, the
 * rest of the readable part on a page of the kernel's view that
 * userfaultfd holds back. The device reads the type, then faults on the
 * next byte; the test then sets the type byte to the other type and lets
 * the device go on. A device that reads the type once executes an ATTACH
 * (or, reading in another order, an unknown type); one that reads it again
 * sees the other type.
 */

#define FAULT_ROUNDS	16

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0 && ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Replaces the kernel's view of the page at @gpa by one @uffd holds back */
static uint8_t *uffd_page(struct vmm *v, int uffd, uint64_t gpa)
{
	struct uffdio_register reg = { 0 };
	uint8_t *page = (uint8_t *)(uintptr_t)vmm_hva(v, gpa);

	if (mmap(page, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != page)
		return NULL;
	reg.range.start = (uintptr_t)page;
	reg.range.len = PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? NULL : page;
}

/* Waits for the fault on @page (a hang guard); 0 or -errno */
static int uffd_wait(int uffd, const uint8_t *page)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, VMM_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -errno;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    (msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1)) !=
	    (uintptr_t)page)
		return -EPROTO;
	return 0;
}

TEST_F_TIMEOUT(flip, type_flipped_in_fault, 120)
{
	uint32_t rd_len = variant->alt == VIRTIO_IOMMU_T_MAP ? VMM_MAP_LEN :
			  VMM_ATTACH_LEN;
	bool alt_known = variant->alt == VIRTIO_IOMMU_T_MAP;
	struct uffdio_copy copy = { 0 };
	struct vhost_iommu_stats s0, s1;
	unsigned int i, attach = 0, alt = 0, unknown = 0;
	uint8_t *type, *page, *src, *w, alt_status = 0, st;
	uint64_t rd, held, wr;
	struct vmm_rdesc d[3];
	uint32_t id, len;
	uint16_t head;
	int uffd;

	if (variant->whole)
		SKIP(return, "a fixed layout: the same test as attach_11");
	uffd = uffd_open();
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	test_cmd_attach(&self->v, D1, FLIP_EP, 0);
	rd = flip_rd(&self->v);
	if (alt_known) {
		ASSERT_EQ(0, flip_once(&self->v, rd, rd_len, true, variant->alt,
				       &len, &alt_status));
		ASSERT_EQ(4, len);
	}
	type = vmm_ptr(&self->v, rd);
	held = VMM_DATA1_GPA + (6ULL << 20);
	page = uffd_page(&self->v, uffd, held);
	ASSERT_NE(NULL, page) TH_LOG("%s", strerror(errno));
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memcpy(src, type + 1, rd_len - 1);
	s0 = vmm_stats(self->fd);

	for (i = 0; i < FAULT_ROUNDS; i++) {
		ASSERT_EQ(0, madvise(page, PAGE, MADV_DONTNEED));
		*type = VIRTIO_IOMMU_T_ATTACH;
		wr = vmm_alloc(&self->v, 4, 0);
		w = vmm_ptr(&self->v, wr);
		memset(w, VMM_PATTERN, 4);
		d[0] = (struct vmm_rdesc){ rd, 1, F_NEXT, 1 };
		d[1] = (struct vmm_rdesc){ held, rd_len - 1, F_NEXT, 2 };
		d[2] = (struct vmm_rdesc){ wr, 4, F_WRITE, 0 };
		test_cmd(vmm_raw_chain(&self->v, RQ, d, 3, &head));
		vq_avail_push(&self->v.vq[RQ], head);
		test_cmd(vmm_kick(&self->v, RQ));
		/* The device is in the middle of the readable part */
		ASSERT_EQ(0, uffd_wait(uffd, page));
		*type = variant->alt;
		copy.dst = (uintptr_t)page;
		copy.src = (uintptr_t)src;
		copy.len = PAGE;
		copy.mode = 0;
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
		test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
		ASSERT_EQ(head, id);
		if (len == 0 && w[0] == VMM_PATTERN) {
			unknown++;
			continue;
		}
		ASSERT_EQ(4, len) TH_LOG("round %u", i);
		st = w[0];
		if (st == S_OK)
			attach++;
		else if (alt_known && st == alt_status)
			alt++;
		else
			ASSERT_TRUE(false) TH_LOG("round %u: status %u", i, st);
	}
	*type = VIRTIO_IOMMU_T_ATTACH;
	s1 = vmm_stats(self->fd);
	TH_LOG("%u ATTACH, %u other, %u unknown", attach, alt, unknown);
	EXPECT_EQ(s0.status[VIRTIO_IOMMU_S_DEVERR],
		  s1.status[VIRTIO_IOMMU_S_DEVERR]);
	EXPECT_EQ(FAULT_ROUNDS, sum(s1.requests, 8) - sum(s0.requests, 8));
	EXPECT_EQ(attach, s1.requests[VIRTIO_IOMMU_T_ATTACH] -
			  s0.requests[VIRTIO_IOMMU_T_ATTACH]);
	EXPECT_EQ(unknown, s1.requests[VHOST_IOMMU_STATS_T_UNKNOWN] -
			   s0.requests[VHOST_IOMMU_STATS_T_UNKNOWN]);
	EXPECT_EQ(FAULT_ROUNDS - unknown, sum(s1.status, 16) -
					  sum(s0.status, 16));
	munmap(src, PAGE);
	close(uffd);
}

/*
 * F3: chains are bounded by the queue size. An indirect table with more
 * entries than the queue has descriptors is a ring error, whatever the
 * chain it holds; so is a walk of more than that many descriptors, zero
 * length ones included.
 */

#define SMALL_NUM	16
/* An extra memory region for a 2^20-entry table (16 MiB) */
#define HUGE_NDESC	0x100000U
#define HUGE_GPA	0x200000000ULL
#define HUGE_SIZE	((uint64_t)HUGE_NDESC * 16)

FIXTURE(chain) {
	struct vmm v;
	int fd;
	uint64_t rd, wr;
	void *huge;
	struct vhost_iommu_stats s0;
};

static void chain_start(struct __test_metadata *_metadata,
			struct _test_data_chain *self, unsigned int num,
			bool huge)
{
	struct virtio_iommu_req_attach a;
	struct vmm_opts o = { .num = { num } };

	if (huge) {
		self->huge = mmap(NULL, HUGE_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->huge);
		o.nextra = 1;
		o.extra[0].guest_phys_addr = HUGE_GPA;
		o.extra[0].memory_size = HUGE_SIZE;
		o.extra[0].userspace_addr = (uintptr_t)self->huge;
	}
	test_cmd(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	vmm_mk_attach(&a, D1, EP1, 0);
	self->rd = vmm_alloc(&self->v, 64, 0);
	memcpy(vmm_ptr(&self->v, self->rd), &a, VMM_ATTACH_LEN);
	self->wr = vmm_alloc(&self->v, 64, 0);
	memset(vmm_ptr(&self->v, self->wr), VMM_PATTERN, 64);
	self->s0 = vmm_stats(self->fd);
}

FIXTURE_SETUP(chain)
{
	self->huge = MAP_FAILED;
}

FIXTURE_TEARDOWN(chain)
{
	if (self->v.gmem)
		vmm_fini(&self->v);
	if (self->huge != MAP_FAILED)
		munmap(self->huge, HUGE_SIZE);
}

static void desc_set(struct vring_desc *d, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/*
 * Posts one indirect descriptor for the table at @table, @len bytes, and
 * expects a ring error: the error eventfd fires and no used entry comes.
 */
static void expect_indirect_ring_error(struct __test_metadata *_metadata,
				       struct _test_data_chain *self,
				       uint64_t table, uint32_t len)
{
	struct vmm_rdesc d = { table, len, F_IND, 0 };
	struct vhost_iommu_stats s;
	uint32_t id, ulen = ~0U;
	uint16_t head;
	int ret;

	test_cmd(vmm_raw_chain(&self->v, RQ, &d, 1, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vq_notify(&self->v.vq[RQ]));
	ret = vmm_wait_used(&self->v, RQ, &id, &ulen, VMM_TIMEOUT_MS);
	EXPECT_EQ(-EIO, ret) TH_LOG("used entry with length %u: %s", ulen,
				    ret ? vt_errmsg : "executed");
	s = vmm_stats(self->fd);
	EXPECT_EQ(self->s0.ring_errors + 1, s.ring_errors);
	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(self->s0.requests[VIRTIO_IOMMU_T_ATTACH],
		  s.requests[VIRTIO_IOMMU_T_ATTACH]);
}

/* A valid 2-descriptor chain in a table declared SMALL_NUM + 1 long */
TEST_F(chain, indirect_table_longer_than_queue)
{
	uint64_t t;
	struct vring_desc *tab;

	chain_start(_metadata, self, SMALL_NUM, false);
	t = vmm_alloc_ind(&self->v, SMALL_NUM + 1);
	tab = vmm_ptr(&self->v, t);
	memset(tab, 0, (SMALL_NUM + 1) * 16);
	desc_set(&tab[0], self->rd, VMM_ATTACH_LEN, F_NEXT, 1);
	desc_set(&tab[1], self->wr, 4, F_WRITE, 0);
	expect_indirect_ring_error(_metadata, self, t, (SMALL_NUM + 1) * 16);
}

/* The same table, SMALL_NUM entries: fine */
TEST_F(chain, indirect_table_as_long_as_queue)
{
	struct vmm_rdesc d;
	struct vring_desc *tab;
	uint32_t id, len;
	uint16_t head;
	uint64_t t;

	chain_start(_metadata, self, SMALL_NUM, false);
	t = vmm_alloc_ind(&self->v, SMALL_NUM);
	tab = vmm_ptr(&self->v, t);
	memset(tab, 0, SMALL_NUM * 16);
	desc_set(&tab[0], self->rd, VMM_ATTACH_LEN, F_NEXT, 1);
	desc_set(&tab[1], self->wr, 4, F_WRITE, 0);
	d = (struct vmm_rdesc){ t, SMALL_NUM * 16, F_IND, 0 };
	test_cmd(vmm_raw_chain(&self->v, RQ, &d, 1, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(4, len);
	EXPECT_EQ(S_OK, *(uint8_t *)vmm_ptr(&self->v, self->wr));
	EXPECT_EQ(1, vmm_stats(self->fd).domains);
}

/*
 * A chain of SMALL_NUM + 1 descriptors walked in the table: ATTACH in
 * four pieces, zero-length readable descriptors, the tail.
 */
TEST_F(chain, indirect_chain_longer_than_queue)
{
	const unsigned int n = SMALL_NUM + 1;
	struct vring_desc *tab;
	unsigned int i;
	uint64_t t;

	chain_start(_metadata, self, SMALL_NUM, false);
	t = vmm_alloc_ind(&self->v, n);
	tab = vmm_ptr(&self->v, t);
	for (i = 0; i < 4; i++)
		desc_set(&tab[i], self->rd + 5 * i, 5, F_NEXT, i + 1);
	for (; i < n - 1; i++)
		desc_set(&tab[i], self->rd, 0, F_NEXT, i + 1);
	desc_set(&tab[n - 1], self->wr, 4, F_WRITE, 0);
	expect_indirect_ring_error(_metadata, self, t, n * 16);
}

/*
 * A table declared 2^20 entries long (16 MiB, in a region of its own):
 * ATTACH, then 65534 zero-length descriptors (a 16-bit next reaches no
 * further), then the tail. A ring error, not a walk of that many
 * descriptors without a resched point.
 */
TEST_F_TIMEOUT(chain, indirect_zero_length_huge, 300)
{
	struct vring_desc *tab;
	unsigned int i;

	chain_start(_metadata, self, VMM_DEFAULT_NUM, true);
	tab = self->huge;
	desc_set(&tab[0], self->rd, VMM_ATTACH_LEN, F_NEXT, 1);
	for (i = 1; i < 0xffff; i++)
		desc_set(&tab[i], HUGE_GPA, 0, F_NEXT, i + 1);
	desc_set(&tab[0xffff], self->wr, 4, F_WRITE, 0);
	/* Unreached: loops back to the start */
	for (i = 0x10000; i < HUGE_NDESC; i++)
		desc_set(&tab[i], HUGE_GPA, 0, F_NEXT, 0);
	expect_indirect_ring_error(_metadata, self, HUGE_GPA, HUGE_SIZE);
}

/*
 * F2: the event queue is consumed within a budget. A thread keeps the
 * event queue's available index ahead of the device with readable-only
 * buffers (unusable for a report) while TRANSLATE with F_REPORT makes
 * faults; the VMM's ioctls, and then stopping the queue, resetting the
 * owner or closing the device, come back while the attack goes on.
 * FLOOD_GUARD_MS is the hang guard: the attacker gives up then, which
 * ends the livelock of a broken kernel, and the test fails.
 */

#define FLOOD_MARK	0xdeadbeefU
#define FLOOD_REPORTS	8

struct flood {
	pthread_t thread;
	struct vq *vq;
	int stop;
	bool timed_out;
	unsigned long consumed;
	/* When the error eventfd fired: the attacker's position, avail */
	bool ring_error;
	uint16_t err_pos, err_avail;
	int started;
};

/*
 * Every descriptor points to the same indirect table of FLOOD_TABLE
 * zero-length readable descriptors (a chain the device takes a while to
 * walk, and cannot use for a report), and avail ring entry i holds
 * descriptor i, so that moving the available index is all it takes to
 * make num more buffers available. The used entries the device writes are
 * found by their length, which the attacker sets to FLOOD_MARK.
 */
#define FLOOD_TABLE	128

static void flood_prepare(struct vmm *v, struct vq *vq)
{
	uint64_t buf = vmm_alloc(v, 64, 1);
	uint64_t t = vmm_alloc_ind(v, FLOOD_TABLE);
	struct vring_desc *tab = vmm_ptr(v, t);
	unsigned int i;

	for (i = 0; i < FLOOD_TABLE; i++)
		desc_set(&tab[i], buf, 0, i + 1 < FLOOD_TABLE ? F_NEXT : 0,
			 i + 1);
	for (i = 0; i < vq->num; i++) {
		desc_set(&vq->desc[i], t, FLOOD_TABLE * 16, F_IND, 0);
		vq->avail->ring[i] = htole16(i);
		vq->used->ring[i].len = htole32(FLOOD_MARK);
	}
}

static void *flood_fn(void *arg)
{
	struct flood *fl = arg;
	struct vq *vq = fl->vq;
	uint64_t deadline = vt_now_ns() + FLOOD_GUARD_MS * 1000000ULL;
	uint16_t pos = vq->last_used;
	unsigned int n = 0;
	uint32_t *len;

	pin_cpu(1);
	__atomic_store_n(&vq->avail->idx, htole16(pos + vq->num),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&fl->started, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&fl->stop, __ATOMIC_ACQUIRE)) {
		len = &vq->used->ring[pos % vq->num].len;
		if (__atomic_load_n(len, __ATOMIC_ACQUIRE) !=
		    htole32(FLOOD_MARK)) {
			__atomic_store_n(len, htole32(FLOOD_MARK),
					 __ATOMIC_RELAXED);
			pos++;
			fl->consumed++;
			continue;
		}
		/* The device took at most pos: num more are never too many */
		__atomic_store_n(&vq->avail->idx, htole16(pos + vq->num),
				 __ATOMIC_RELEASE);
		if (++n & 1023)
			continue;
		if (!fl->ring_error && !vq_drain_fd(vq->err, NULL)) {
			fl->ring_error = true;
			fl->err_pos = pos;
			fl->err_avail = le16toh(vq->avail->idx);
		}
		if (vt_now_ns() > deadline) {
			fl->timed_out = true;
			break;
		}
	}
	return NULL;
}

enum flood_last { LAST_GET_VRING_BASE, LAST_RESET_OWNER, LAST_CLOSE };

FIXTURE(flood) {
	struct vmm v;
	int fd;
	struct flood fl;
	bool running;
};

FIXTURE_VARIANT(flood) {
	enum flood_last last;
};

FIXTURE_VARIANT_ADD(flood, get_vring_base) {
	.last = LAST_GET_VRING_BASE,
};

FIXTURE_VARIANT_ADD(flood, reset_owner) {
	.last = LAST_RESET_OWNER,
};

FIXTURE_VARIANT_ADD(flood, close) {
	.last = LAST_CLOSE,
};

FIXTURE_SETUP(flood)
{
	/* The largest queue: the device never catches up with the attacker */
	struct vmm_opts o = { .num = { VMM_DEFAULT_NUM, VMM_MAX_NUM } };

	test_cmd(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	/* Neither attached nor in bypass: TRANSLATE faults (ENXIO) */
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
}

static void flood_stop(struct _test_data_flood *self)
{
	if (!self->running)
		return;
	__atomic_store_n(&self->fl.stop, 1, __ATOMIC_RELEASE);
	pthread_join(self->fl.thread, NULL);
	self->running = false;
}

FIXTURE_TEARDOWN(flood)
{
	flood_stop(self);
	vmm_fini(&self->v);
}

TEST_F_TIMEOUT(flood, vmm_answers, 120)
{
	struct vhost_iommu_stats s0, s;
	unsigned int i, base;
	uint64_t t0;

	s0 = vmm_stats(self->fd);
	self->fl.vq = &self->v.vq[EVQ];
	flood_prepare(&self->v, self->fl.vq);
	pin_cpu(0);
	pin_worker(0);
	ASSERT_EQ(0, pthread_create(&self->fl.thread, NULL, flood_fn,
				    &self->fl));
	self->running = true;
	while (!__atomic_load_n(&self->fl.started, __ATOMIC_ACQUIRE))
		usleep(1000);
	t0 = vt_now_ns();

	for (i = 0; i < FLOOD_REPORTS; i++) {
		EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, 0x1000 * i, A_R,
						REPORT, NULL));
		EXPECT_EQ(0, vmm_get_stats(self->fd, &s));
		EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, 0x1000 * i, A_R,
						0, NULL));
	}
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, 0, A_R, REPORT, NULL));
	switch (variant->last) {
	case LAST_GET_VRING_BASE:
		EXPECT_EQ(0, vmm_vq_stop(&self->v, EVQ, &base));
		break;
	case LAST_RESET_OWNER:
		EXPECT_EQ(0, vmm_ioctl(self->fd, VHOST_RESET_OWNER, NULL));
		break;
	case LAST_CLOSE:
		EXPECT_EQ(0, close(self->fd));
		self->v.fd = -1;
		break;
	}
	flood_stop(self);
	EXPECT_FALSE(self->fl.timed_out)
		TH_LOG("the VMM's ioctls waited for the attacker to give up (%d ms)",
		       FLOOD_GUARD_MS);
	/* The device did take the unusable buffers */
	EXPECT_LT(0, self->fl.consumed);
	TH_LOG("%lu unusable event buffers consumed in %llu ms",
	       self->fl.consumed,
	       (unsigned long long)(vt_now_ns() - t0) / 1000000);
	EXPECT_FALSE(self->fl.ring_error)
		TH_LOG("ring error at %u, avail %u, used idx %u",
		       self->fl.err_pos, self->fl.err_avail,
		       le16toh(self->fl.vq->used->idx));
	if (variant->last == LAST_GET_VRING_BASE) {
		s = vmm_stats(self->fd);
		EXPECT_EQ(s0.faults, s.faults);
		EXPECT_EQ(s0.faults_dropped + FLOOD_REPORTS + 1, s.faults_dropped);
		EXPECT_EQ(s0.ring_errors, s.ring_errors);
	}
}

/*
 * F12: PROBE writes every byte of the used length it reports. The
 * writable part is filled with VMM_PATTERN, which no property or status
 * byte holds here: none of the first used_len bytes may still hold it.
 */

static const struct vhost_iommu_resv_region probe_resv[] = {
	{ .start = 0xfee00000ULL, .end = 0xfeefffffULL,
	  .subtype = VHOST_IOMMU_RESV_MSI },
	{ .start = 0x40000000ULL, .end = 0x4000ffffULL,
	  .subtype = VHOST_IOMMU_RESV_RESERVED },
};

FIXTURE(probe) {
	struct vmm v;
	int fd;
	uint32_t ps;
};

FIXTURE_VARIANT(probe) {
	bool split;
	bool indirect;
};

FIXTURE_VARIANT_ADD(probe, direct) {
};

FIXTURE_VARIANT_ADD(probe, split) {
	.split = true,
};

FIXTURE_VARIANT_ADD(probe, indirect) {
	.indirect = true,
};

FIXTURE_SETUP(probe)
{
	struct vmm_opts o = {
		.split = variant->split,
		.indirect = variant->indirect,
		.num = { variant->split ? 1024 : 256 },
	};

	test_cmd(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	self->ps = self->v.probe_size;
	test_cmd_add_endpoint(self->fd, EP3, probe_resv,
			      ARRAY_SIZE(probe_resv));
}

FIXTURE_TEARDOWN(probe)
{
	vmm_fini(&self->v);
}

static void expect_written(struct __test_metadata *_metadata,
			   const struct vmm_req *r)
{
	uint32_t i;

	EXPECT_LE(r->used_len, r->wr_len);
	for (i = 0; i < r->used_len && i < r->wr_len; i++)
		if (r->wr[i] == VMM_PATTERN)
			break;
	EXPECT_EQ(r->used_len, i)
		TH_LOG("used length %u, byte %u not written (buffer %u)",
		       r->used_len, i, r->wr_len);
}

TEST_F(probe, unknown_endpoint)
{
	struct vmm_req r;

	test_err_probe(S_NOENT, &self->v, 99, self->ps + 4, &r);
	expect_written(_metadata, &r);
}

TEST_F(probe, unknown_endpoint_short_buffer)
{
	struct vmm_req r;

	test_err_probe(S_NOENT, &self->v, 99, 64, &r);
	expect_written(_metadata, &r);
}

TEST_F(probe, short_buffer)
{
	static const uint32_t lens[] = { 4, 5, 28, 100 };
	struct vmm_req r;
	unsigned int i;

	test_err_probe(S_INVAL, &self->v, EP3, self->ps, &r);
	expect_written(_metadata, &r);
	test_err_probe(S_INVAL, &self->v, EP3, self->ps + 3, &r);
	expect_written(_metadata, &r);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		test_err_probe(S_INVAL, &self->v, EP3, lens[i], &r);
		expect_written(_metadata, &r);
	}
}

/* The normal case, which already wrote what it reported */
TEST_F(probe, normal)
{
	struct vmm_req r;

	test_cmd_probe(&self->v, EP3, self->ps + 4, &r);
	EXPECT_EQ(self->ps + 4, r.used_len);
	expect_written(_metadata, &r);
	test_cmd_probe(&self->v, EP3, self->ps + 4 + 100, &r);
	EXPECT_EQ(self->ps + 4, r.used_len);
	expect_written(_metadata, &r);
}

/*
 * F12: an indirect table contiguous in guest-physical memory across the
 * two memory regions (whose HVAs are not adjacent) is an ordinary table.
 */
static void table_across_regions(struct __test_metadata *_metadata,
				 uint64_t table)
{
	struct virtio_iommu_req_attach a;
	struct vring_desc tab[2];
	struct vmm_rdesc d;
	struct vmm v;
	uint64_t rd, wr;
	uint32_t id, len;
	uint16_t head;
	uint8_t *w;

	test_cmd(vmm_init(&v, NULL));
	test_cmd_add_endpoint(v.fd, EP1, NULL, 0);
	vmm_mk_attach(&a, D1, EP1, 0);
	rd = vmm_alloc(&v, 64, 0);
	memcpy(vmm_ptr(&v, rd), &a, VMM_ATTACH_LEN);
	wr = vmm_alloc(&v, 64, 0);
	w = vmm_ptr(&v, wr);
	memset(w, VMM_PATTERN, 64);
	desc_set(&tab[0], rd, VMM_ATTACH_LEN, F_NEXT, 1);
	desc_set(&tab[1], wr, 4, F_WRITE, 0);
	memcpy(vmm_ptr(&v, table), tab, sizeof(tab));
	d = (struct vmm_rdesc){ table, sizeof(tab), F_IND, 0 };
	test_cmd(vmm_raw_chain(&v, RQ, &d, 1, &head));
	vq_avail_push(&v.vq[RQ], head);
	test_cmd(vmm_kick(&v, RQ));
	test_cmd(vmm_wait_used(&v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(4, len);
	EXPECT_EQ(S_OK, w[0]);
	EXPECT_EQ(0, w[1] | w[2] | w[3]);
	EXPECT_EQ(1, vmm_stats(v.fd).domains);
	EXPECT_EQ(0, vmm_stats(v.fd).malformed);
	vmm_fini(&v);
}

/* One descriptor in each region */
TEST(indirect_table_across_regions)
{
	table_across_regions(_metadata, VMM_REGION_SIZE - 16);
}

/* The first descriptor in region 0, the second cut in two */
TEST(indirect_table_desc_across_regions)
{
	table_across_regions(_metadata, VMM_REGION_SIZE - 24);
}

/*
 * F11: the uapi edges. The ring address LOG flag is refused; a memory
 * table whose regions overlap is refused, also when a region ends at
 * 2^64 - 1. (A size-first argument larger than VHOST_IOMMU_ARG_MAX is
 * refused with E2BIG before its tail is read: ioctl_test's argsize.)
 */

static int owned_dev(void)
{
	int fd = vmm_open_dev();

	if (fd >= 0 && ioctl(fd, VHOST_SET_OWNER, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * VHOST_VRING_F_LOG is taken with an aligned log_guest_addr; other flags
 * are refused (log_test has the logging itself)
 */
TEST(vring_addr_log_flags)
{
	struct vmm_opts o = { .no_rings = true };
	struct vhost_vring_state s = { .index = 0, .num = 256 };
	struct vhost_vring_addr a = { .index = 0 };
	struct vmm v;
	unsigned int q;

	test_cmd(vmm_init(&v, &o));
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		s.index = q;
		a.index = q;
		test_cmd_ioctl(v.fd, VHOST_SET_VRING_NUM, &s);
		a.desc_user_addr = vmm_hva(&v, VMM_RING_GPA(q));
		a.avail_user_addr = a.desc_user_addr + 0x80000;
		a.used_user_addr = a.desc_user_addr + 0x92000;
		a.log_guest_addr = 2;
		a.flags = 1U << VHOST_VRING_F_LOG;
		EXPECT_EQ(-EINVAL, vmm_ioctl(v.fd, VHOST_SET_VRING_ADDR,
					     &a)) TH_LOG("queue %u", q);
		a.flags = 2;
		EXPECT_EQ(-EOPNOTSUPP, vmm_ioctl(v.fd, VHOST_SET_VRING_ADDR,
						 &a)) TH_LOG("queue %u", q);
		a.log_guest_addr = VMM_RING_GPA(q) + 0x92000;
		a.flags = 1U << VHOST_VRING_F_LOG;
		EXPECT_EQ(0, vmm_ioctl(v.fd, VHOST_SET_VRING_ADDR, &a));
		a.flags = 0;
		EXPECT_EQ(0, vmm_ioctl(v.fd, VHOST_SET_VRING_ADDR, &a));
	}
	vmm_fini(&v);
}

struct mtab {
	struct vhost_memory m;
	struct vhost_memory_region r[2];
};

static int set_mtab(int fd, unsigned int n, uint64_t gpa0, uint64_t size0,
		    uint64_t hva0, uint64_t gpa1, uint64_t size1, uint64_t hva1)
{
	struct mtab t;

	memset(&t, 0, sizeof(t));
	t.m.nregions = n;
	t.r[0].guest_phys_addr = gpa0;
	t.r[0].memory_size = size0;
	t.r[0].userspace_addr = hva0;
	t.r[1].guest_phys_addr = gpa1;
	t.r[1].memory_size = size1;
	t.r[1].userspace_addr = hva1;
	return vmm_ioctl(fd, VHOST_SET_MEM_TABLE, &t);
}

#define MB	0x100000ULL
#define TOP(n)	(0ULL - (uint64_t)(n))	/* the last @n bytes of 2^64 */

TEST(mem_table_overlap_at_top)
{
	uint64_t hva;
	uint8_t *mem;
	int fd;

	fd = owned_dev();
	ASSERT_LE(0, fd);
	mem = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	hva = (uintptr_t)mem;

	/* Not overlapping: one region up to 2^64 - 1, one below it */
	EXPECT_EQ(0, set_mtab(fd, 1, TOP(2 * MB), 2 * MB, hva, 0, 0, 0));
	EXPECT_EQ(0, set_mtab(fd, 2, TOP(2 * MB), 2 * MB, hva,
			      TOP(4 * MB), 2 * MB, hva + 2 * MB));
	/* A region inside the one that ends at 2^64 - 1, in either order */
	EXPECT_EQ(-EINVAL, set_mtab(fd, 2, TOP(2 * MB), 2 * MB, hva,
				    TOP(MB), PAGE, hva + 4 * MB));
	EXPECT_EQ(-EINVAL, set_mtab(fd, 2, TOP(MB), PAGE, hva + 4 * MB,
				    TOP(2 * MB), 2 * MB, hva));
	/* Both ending at 2^64 - 1 */
	EXPECT_EQ(-EINVAL, set_mtab(fd, 2, TOP(2 * MB), 2 * MB, hva,
				    TOP(MB), MB, hva + 4 * MB));
	/* Overlapping below the top still refused */
	EXPECT_EQ(-EINVAL, set_mtab(fd, 2, TOP(4 * MB), 3 * MB, hva,
				    TOP(2 * MB), MB, hva + 4 * MB));
	munmap(mem, 8 * MB);
	close(fd);
}

/*
 * F8: a re-ATTACH from domain A to domain B never shows the endpoint
 * unattached. With config bypass=1 an unattached endpoint translates to
 * itself over the whole address space: a TRANSLATE thread must only ever
 * see the mapping of A or that of B while the guest moves the endpoint
 * back and forth.
 */

#define XL_IOVA		0x10000ULL
#define XL_PHYS1	0x100000ULL
#define XL_PHYS2	0x200000ULL
#define XL_BATCH	128
/*
 * At least XL_ROUNDS batches, then more until the TRANSLATE thread has
 * made XL_SEEN translations meanwhile (it only catches the window when it
 * runs at the same time as the worker), up to XL_MAX_ROUNDS.
 */
#define XL_ROUNDS	128
#define XL_MAX_ROUNDS	512
#define XL_SEEN		400000

struct xlator {
	pthread_t thread;
	int fd;
	int stop;
	unsigned long d1, d2, identity, other;
	int last_err;
};

static void *xlate_fn(void *arg)
{
	struct xlator *x = arg;
	struct vhost_iommu_translate t;
	int ret;

	pin_cpu(1);
	while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE)) {
		ret = vmm_translate(x->fd, EP1, XL_IOVA + 0x123, A_R, 0, &t);
		if (ret) {
			x->other++;
			x->last_err = ret;
		} else if (t.start == 0 && t.last == ~0ULL) {
			x->identity++;
		} else if (t.phys == XL_PHYS1 && t.start == XL_IOVA) {
			x->d1++;
		} else if (t.phys == XL_PHYS2 && t.start == XL_IOVA) {
			x->d2++;
		} else {
			x->other++;
		}
	}
	return NULL;
}

FIXTURE(reattach) {
	struct vmm v;
	int fd;
};

FIXTURE_SETUP(reattach)
{
	test_cmd(vmm_init(&self->v, NULL));
	self->fd = self->v.fd;
}

FIXTURE_TEARDOWN(reattach)
{
	vmm_fini(&self->v);
}

TEST_F_TIMEOUT(reattach, never_unattached, 300)
{
	struct virtio_iommu_req_attach a[2];
	struct vmm_req r[XL_BATCH];
	uint64_t t0 = vt_now_ns();
	struct xlator x = { 0 };
	unsigned int round, i;
	int ret = 0;

	test_cmd_set_bypass(self->fd, 1);
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP3, NULL, 0);
	/* EP2 and EP3 keep D1 and D2 alive while EP1 moves */
	test_cmd_attach(&self->v, D1, EP2, 0);
	test_cmd_attach(&self->v, D2, EP3, 0);
	test_cmd_map(&self->v, D1, XL_IOVA, XL_IOVA + 0xfff, XL_PHYS1,
		     VIRTIO_IOMMU_MAP_F_READ);
	test_cmd_map(&self->v, D2, XL_IOVA, XL_IOVA + 0xfff, XL_PHYS2,
		     VIRTIO_IOMMU_MAP_F_READ);
	test_cmd_attach(&self->v, D1, EP1, 0);
	vmm_mk_attach(&a[0], D2, EP1, 0);
	vmm_mk_attach(&a[1], D1, EP1, 0);

	x.fd = self->fd;
	pin_cpu(0);
	pin_worker(0);
	ASSERT_EQ(0, pthread_create(&x.thread, NULL, xlate_fn, &x));
	for (round = 0; round < XL_MAX_ROUNDS && !ret; round++) {
		if (round >= XL_ROUNDS &&
		    __atomic_load_n(&x.d1, __ATOMIC_RELAXED) +
		    __atomic_load_n(&x.d2, __ATOMIC_RELAXED) +
		    __atomic_load_n(&x.identity, __ATOMIC_RELAXED) >= XL_SEEN)
			break;
		for (i = 0; i < XL_BATCH; i++)
			vmm_req_prepare(&self->v, &r[i], &a[i % 2],
					VMM_ATTACH_LEN, 4);
		ret = vmm_batch(&self->v, r, XL_BATCH);
		for (i = 0; i < XL_BATCH && !ret; i++)
			if (r[i].used_len != 4 || r[i].status != S_OK)
				ret = -EPROTO;
	}
	__atomic_store_n(&x.stop, 1, __ATOMIC_RELEASE);
	pthread_join(x.thread, NULL);
	ASSERT_EQ(0, ret) TH_LOG("round %u: %s", round, vt_errmsg);
	TH_LOG("%u re-ATTACHes in %llu ms; seen: %lu D1, %lu D2, %lu identity, %lu other (%d)",
	       round * XL_BATCH,
	       (unsigned long long)(vt_now_ns() - t0) / 1000000,
	       x.d1, x.d2, x.identity, x.other, x.last_err);
	EXPECT_EQ(0, x.identity);
	EXPECT_EQ(0, x.other);
	EXPECT_LT(0, x.d1 + x.d2);
}

/*
 * F6: VHOST_SET_MEM_TABLE waits for the request in flight. The tail of an
 * ATTACH lands on a page of the old table that userfaultfd holds back:
 * the worker is stuck in the middle of the request, writing through the
 * old table's address. A new table must not be in place (the ioctl must
 * not return) before that request is done.
 */

struct mt_setter {
	pthread_t thread;
	int fd;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2];
	} t;
	int ret;
	int done;
};

static void *set_mt_fn(void *arg)
{
	struct mt_setter *ms = arg;

	ms->ret = vmm_ioctl(ms->fd, VHOST_SET_MEM_TABLE, &ms->t);
	__atomic_store_n(&ms->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST(mem_table_waits_for_request)
{
	struct virtio_iommu_req_attach a;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	struct mt_setter ms = { 0 };
	struct uffd_msg msg;
	struct vmm_rdesc d[2];
	uint64_t rd, wr, waited = 0;
	uint8_t *page, *src, *new1;
	struct pollfd pfd;
	uint32_t id, len;
	bool early;
	uint16_t head;
	struct vmm v;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	test_cmd(vmm_init(&v, NULL));
	test_cmd_add_endpoint(v.fd, EP1, NULL, 0);
	vmm_mk_attach(&a, D1, EP1, 0);
	rd = vmm_alloc(&v, 64, 0);
	memcpy(vmm_ptr(&v, rd), &a, VMM_ATTACH_LEN);

	/* The kernel's view of a page of region 1, replaced and held back */
	wr = VMM_DATA1_GPA + (4ULL << 20);
	page = (uint8_t *)(uintptr_t)vmm_hva(&v, wr);
	ASSERT_EQ(page, mmap(page, PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	reg.range.start = (uintptr_t)page;
	reg.range.len = PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	d[0] = (struct vmm_rdesc){ rd, VMM_ATTACH_LEN, F_NEXT, 1 };
	d[1] = (struct vmm_rdesc){ wr, 4, F_WRITE, 0 };
	test_cmd(vmm_raw_chain(&v, RQ, d, 2, &head));
	vq_avail_push(&v.vq[RQ], head);
	test_cmd(vmm_kick(&v, RQ));

	/* The worker writes the tail: it faults on the held page */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, VMM_TIMEOUT_MS));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	/* Region 1 moves to another address of the same memory */
	new1 = mmap(NULL, VMM_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    v.memfd, VMM_REGION_SIZE);
	ASSERT_NE(MAP_FAILED, new1);
	ms.fd = v.fd;
	ms.t.m.nregions = 2;
	ms.t.r[0].guest_phys_addr = 0;
	ms.t.r[0].memory_size = VMM_REGION_SIZE;
	ms.t.r[0].userspace_addr = (uintptr_t)v.hva[0];
	ms.t.r[1].guest_phys_addr = VMM_REGION_SIZE;
	ms.t.r[1].memory_size = VMM_REGION_SIZE;
	ms.t.r[1].userspace_addr = (uintptr_t)new1;
	ASSERT_EQ(0, pthread_create(&ms.thread, NULL, set_mt_fn, &ms));
	while (!__atomic_load_n(&ms.done, __ATOMIC_ACQUIRE) &&
	       waited < ABSENT_MS) {
		usleep(10000);
		waited += 10;
	}
	early = __atomic_load_n(&ms.done, __ATOMIC_ACQUIRE);

	/* Let the request finish */
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, VMM_PATTERN, PAGE);
	copy.dst = (uintptr_t)page;
	copy.src = (uintptr_t)src;
	copy.len = PAGE;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(ms.thread, NULL);
	EXPECT_EQ(0, ms.ret);
	EXPECT_FALSE(early)
		TH_LOG("SET_MEM_TABLE returned with a request in flight on the old table");
	test_cmd(vmm_wait_used(&v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(4, len);
	EXPECT_EQ(S_OK, page[0]);
	munmap(src, PAGE);
	munmap(new1, VMM_REGION_SIZE);
	close(uffd);
	vmm_fini(&v);
}

/*
 * F9: at VHOST_IOMMU_BIND_NET, what vhost-net's IOTLB already holds is
 * forgotten. Before the bind, the VMM writes an UPDATE into vhost-net for
 * an IOVA the guest never maps (pointing at a TX buffer the VMM filled);
 * after the bind, that IOVA carries no traffic: a frame posted there
 * stays, with a fault report; and when the guest maps that IOVA itself,
 * its mapping is the one used.
 */

#define HB_IOVA_BASE	0x700000000ULL
#define HB_IOVA_RING(q)	(HB_IOVA_BASE + (uint64_t)(q) * 0x100000)
#define HB_IOVA_RXBUF	(HB_IOVA_BASE + 0x1000000)
#define HB_IOVA_TXBUF	(HB_IOVA_BASE + 0x2000000)
#define HB_IOVA_PLANT	(HB_IOVA_BASE + 0x5000000)
#define HB_PLANTED	(VNET_NUM - 1)	/* the TX buffer the plant points at */
#define HB_SPARE_OFF	0x300000ULL	/* in the window, past every buffer */
#define HB_T		VGUEST_TIMEOUT_MS
#define HB_SEQ_PLANT	9999

FIXTURE(plant) {
	struct vguest g;
	long long push;
};

FIXTURE_SETUP(plant)
{
	struct vguest_opts o = { .mode = VNET_IOVA_MANUAL };
	struct vnet *v;
	unsigned int q;
	uint64_t gpa;
	int ret;

	test_param_set(_metadata, "push_on_map", 0, &self->push);
	ret = vguest_init(&self->g, &o);
	ASSERT_EQ(0, ret) TH_LOG("%s", vt_errmsg);
	v = &self->g.net[0];
	for (q = 0; q < VNET_NQ; q++)
		ASSERT_EQ(0, vguest_map(&self->g, HB_IOVA_RING(q),
					v->gpa_base + VNET_RING_OFF(q),
					VGUEST_RING_SIZE, VGUEST_RW));
	ASSERT_EQ(0, vguest_map(&self->g, HB_IOVA_RXBUF,
				vnet_buf_gpa(v, VNET_RXQ, 0),
				(uint64_t)VNET_NUM * VNET_PAGE, VGUEST_RW));
	ASSERT_EQ(0, vguest_map(&self->g, HB_IOVA_TXBUF,
				vnet_buf_gpa(v, VNET_TXQ, 0),
				(uint64_t)HB_PLANTED * VNET_PAGE, VGUEST_RW));
	/* The VMM's plant, in vhost-net before the bind */
	/* A frame of its own there: a frame sent from it is seen at once */
	gpa = vnet_buf_gpa(v, VNET_TXQ, HB_PLANTED);
	memset(vnet_ptr(v, gpa), 0, VNET_HDR_LEN);
	vnet_frame_fill((uint8_t *)vnet_ptr(v, gpa) + VNET_HDR_LEN, HB_SEQ_PLANT,
			vnet_frame_len(HB_SEQ_PLANT));
	ASSERT_EQ(0, vnet_iotlb_msg(v->fd, VHOST_IOTLB_UPDATE, HB_IOVA_PLANT,
				    VNET_PAGE, vnet_hva(v, gpa),
				    VHOST_ACCESS_RW)) TH_LOG("%s", vt_errmsg);
	ret = vguest_start(&self->g);
	ASSERT_EQ(0, ret) TH_LOG("%s", vt_errmsg);
}

FIXTURE_TEARDOWN(plant)
{
	vguest_fini(&self->g);
	test_param_restore("push_on_map", self->push);
}

TEST_F_TIMEOUT(plant, unmapped_iova_carries_nothing, 300)
{
	struct vnet *v = &self->g.net[0];
	uint8_t f[VNET_FRAME_MAX + 64];
	struct virtio_iommu_fault ft;
	uint64_t gpa = vnet_buf_gpa(v, VNET_TXQ, HB_PLANTED);

	/* Traffic works */
	ASSERT_EQ(0, vnet_tx_frames(v, 0, 8)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vnet_rx_frames(v, 100, 8)) TH_LOG("%s", vt_errmsg);
	/* A frame at the planted IOVA does not go out */
	ASSERT_EQ(0, vnet_tx_post_at(v, HB_PLANTED, gpa, HB_IOVA_PLANT, 1000,
				     vnet_frame_len(1000)));
	ASSERT_EQ(0, vnet_kick(v, VNET_TXQ));
	ASSERT_EQ(-ETIMEDOUT, vnet_capture(v, f, sizeof(f), ABSENT_MS))
		TH_LOG("a frame went out through an IOVA the guest never mapped");
	/* It faulted, as an unmapped IOVA does */
	ASSERT_EQ(0, vguest_fault(&self->g, &ft, HB_T))
		TH_LOG("no fault report: %s", vt_errmsg);
	EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_MAPPING, ft.reason);
	EXPECT_EQ(HB_IOVA_PLANT, le64toh(ft.address));
}

TEST_F_TIMEOUT(plant, guest_map_wins, 300)
{
	struct vnet *v = &self->g.net[0];
	uint64_t spare = v->gpa_base + HB_SPARE_OFF;
	uint32_t id, len;
	int ret;

	ASSERT_EQ(0, vguest_map(&self->g, HB_IOVA_PLANT, spare, VNET_PAGE,
				VGUEST_RW)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vnet_tx_post_at(v, HB_PLANTED, spare, HB_IOVA_PLANT, 2000,
				     vnet_frame_len(2000)));
	ASSERT_EQ(0, vnet_kick(v, VNET_TXQ));
	ASSERT_EQ(0, vnet_wait_used(v, VNET_TXQ, &id, &len, HB_T))
		TH_LOG("%s", vt_errmsg);
	EXPECT_EQ(HB_PLANTED, id);
	/* The frame is the guest's, from the page the guest mapped */
	ret = vnet_capture_expect(v, 2000, vnet_frame_len(2000), HB_T);
	EXPECT_EQ(0, ret) TH_LOG("%s", vt_errmsg);
}

/*
 * F3/F4: GET_STATS and TRANSLATE answer while the worker waits on
 * vhost-net. vhost-net's TX handler is held by userfaultfd in the middle
 * of a frame (holding its TX vq mutex); the guest then UNMAPs the RX
 * buffers vhost-net was given, so the worker writes an INVALIDATE that
 * waits for that mutex. Meanwhile the VMM's GET_STATS and TRANSLATE must
 * come back: neither may wait for a lock held across a call into
 * vhost-net. (The INVALIDATE is given ABSENT_MS to be reached: a kernel
 * that is slower than that lets a bug through, never fails the test.)
 */

#define HOLD_GUARD_MS	10000	/* hang guard, below the soft lockup's */
#define HOLD_TX_ID	100

struct stats_caller {
	pthread_t thread;
	int fd;
	int ret_stats, ret_xlate;
	int done;
};

static void *stats_fn(void *arg)
{
	struct stats_caller *c = arg;
	struct vhost_iommu_stats st;

	c->ret_stats = vmm_get_stats(c->fd, &st);
	c->ret_xlate = vmm_translate(c->fd, VGUEST_EP, HB_IOVA_TXBUF, A_R, 0,
				     NULL);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(plant, stats_while_invalidate_waits, 300)
{
	struct vguest *g = &self->g;
	struct vnet *v = &g->net[0];
	uint64_t gpa = vnet_buf_gpa(v, VNET_TXQ, HOLD_TX_ID);
	struct virtio_iommu_req_unmap u;
	struct stats_caller c = { 0 };
	struct uffdio_register reg = { 0 };
	struct uffdio_copy copy = { 0 };
	uint64_t waited = 0;
	uint8_t *page;
	uint32_t id, len;
	struct vmm_req r;
	bool answered;
	int uffd;

	uffd = uffd_open();
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	/* vhost-net is given the TX and RX buffer mappings */
	ASSERT_EQ(0, vnet_tx_frames(v, 0, 8)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vnet_rx_frames(v, 100, 8)) TH_LOG("%s", vt_errmsg);

	/* vhost-net's view of TX buffer HOLD_TX_ID, held back */
	page = (uint8_t *)(uintptr_t)vnet_hva(v, gpa);
	ASSERT_EQ(page, mmap(page, PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	reg.range.start = (uintptr_t)page;
	reg.range.len = PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, vnet_tx_post(v, HOLD_TX_ID, 1000, vnet_frame_len(1000)));
	ASSERT_EQ(0, vnet_kick(v, VNET_TXQ));
	ASSERT_EQ(0, uffd_wait(uffd, page));

	/* The UNMAP's INVALIDATE waits for vhost-net's TX vq mutex */
	vmm_mk_unmap(&u, VGUEST_DOMAIN, HB_IOVA_RXBUF,
		     HB_IOVA_RXBUF + (uint64_t)VNET_NUM * VNET_PAGE - 1);
	vmm_req_prepare(&g->iommu, &r, &u, VMM_UNMAP_LEN, 4);
	test_cmd(vmm_req_post(&g->iommu, &r));
	test_cmd(vmm_kick(&g->iommu, RQ));
	usleep(ABSENT_MS * 1000);

	c.fd = g->iommu.fd;
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, stats_fn, &c));
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) &&
	       waited < HOLD_GUARD_MS) {
		usleep(10000);
		waited += 10;
	}
	answered = __atomic_load_n(&c.done, __ATOMIC_ACQUIRE);
	/* The UNMAP did not complete meanwhile: the test held what it meant */
	EXPECT_FALSE(vq_used_pending(&g->iommu.vq[RQ]));

	/* vhost-net goes on with the guest's frame, then the INVALIDATE */
	copy.dst = (uintptr_t)page;
	copy.src = (uintptr_t)vnet_ptr(v, gpa);
	copy.len = PAGE;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(c.thread, NULL);
	EXPECT_TRUE(answered)
		TH_LOG("GET_STATS or TRANSLATE waited %d ms for vhost-net",
		       HOLD_GUARD_MS);
	EXPECT_EQ(0, c.ret_stats);
	EXPECT_EQ(0, c.ret_xlate);
	test_cmd(vmm_req_complete(&g->iommu, &r));
	EXPECT_EQ(S_OK, r.status);
	ASSERT_EQ(0, vnet_wait_used(v, VNET_TXQ, &id, &len, HB_T))
		TH_LOG("%s", vt_errmsg);
	EXPECT_EQ(HOLD_TX_ID, id);
	EXPECT_EQ(0, vnet_capture_expect(v, 1000, vnet_frame_len(1000), HB_T))
		TH_LOG("%s", vt_errmsg);
	close(uffd);
}

/*
 * RESET_DEVICE against busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 10
 * ms): after each request the worker keeps the request queue's mutex and
 * takes what the driver posts without a kick. The reset comes while
 * chains are being posted that way. Once it returns: every request the
 * device counted has its used entry in the old ring (none executed
 * unseen, none after the rewind), no domain is left, and nothing more is
 * taken from the ring, kicked or not (VHOST_GET_VRING_BASE flushes the
 * worker and answers 0). The next round's fresh ring, handed back with
 * the kick only, is served from index 0. Races made likely, not certain.
 */
#define BUSY_US		10000
#define BUSY_ROUNDS	32

FIXTURE(busyreset) {
	struct vmm v;
};

FIXTURE_SETUP(busyreset)
{
	struct vmm_opts o = { .busyloop_us = BUSY_US };

	ASSERT_EQ(0, vmm_init(&self->v, &o)) TH_LOG("%s", vt_errmsg);
	test_cmd_add_endpoint(self->v.fd, EP1, NULL, 0);
}

FIXTURE_TEARDOWN(busyreset)
{
	vmm_fini(&self->v);
}

/* Requests the device executed or found malformed, so far */
static uint64_t nr_taken(int fd)
{
	struct vhost_iommu_stats s = vmm_stats(fd);

	return sum(s.requests, ARRAY_SIZE(s.requests)) + s.malformed;
}

TEST_F_TIMEOUT(busyreset, nothing_taken_after, 300)
{
	struct vq *vq = &self->v.vq[RQ];
	struct vhost_vring_state st;
	struct virtio_iommu_req_unmap um;
	struct virtio_iommu_req_map m;
	unsigned int round, i, n;
	uint64_t n0, taken;
	uint16_t used;
	struct vmm_req r;

	for (round = 0; round < BUSY_ROUNDS; round++) {
		n0 = nr_taken(self->v.fd);
		/* Answered: the worker polls the empty ring now */
		test_cmd_attach(&self->v, D1, EP1, 0);
		n = 1 + round % 8;
		for (i = 0; i < n; i++) {
			if (i % 2)
				vmm_mk_unmap(&um, D1, 0, 0xfff);
			else
				vmm_mk_map(&m, D1, 0, 0xfff, 0,
					   VIRTIO_IOMMU_MAP_F_READ);
			test_cmd(vmm_req_prepare(&self->v, &r,
						 i % 2 ? (void *)&um : (void *)&m,
						 i % 2 ? VMM_UNMAP_LEN : VMM_MAP_LEN,
						 4));
			test_cmd(vmm_req_post(&self->v, &r));
		}
		test_cmd(vmm_reset_device(self->v.fd));
		used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
		taken = nr_taken(self->v.fd) - n0;
		EXPECT_EQ(used, taken) TH_LOG("round %u", round);
		EXPECT_GE(n + 1, used) TH_LOG("round %u", round);
		EXPECT_EQ(0, vmm_stats(self->v.fd).domains);

		/* Kicked now: not taken */
		vmm_mk_map(&m, D1, 0, 0xfff, 0, VIRTIO_IOMMU_MAP_F_READ);
		test_cmd(vmm_req_prepare(&self->v, &r, &m, VMM_MAP_LEN, 4));
		test_cmd(vmm_req_post(&self->v, &r));
		test_cmd(vmm_kick(&self->v, RQ));
		st = (struct vhost_vring_state){ .index = RQ, .num = ~0U };
		ASSERT_EQ(0, ioctl(self->v.fd, VHOST_GET_VRING_BASE, &st));
		EXPECT_EQ(0, st.num);
		EXPECT_EQ(used, le16toh(vq->used->idx)) TH_LOG("round %u", round);
		EXPECT_EQ(taken, nr_taken(self->v.fd) - n0);
		EXPECT_TRUE(vmm_wr_untouched(&r));
		if (!_metadata->passed)
			return;

		test_cmd(vmm_rings_restart(&self->v));
	}
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(0, vmm_stats(self->v.fd).ring_errors);
}

/*
 * The driver's bypass (SET_CONFIG with VHOST_IOMMU_CONFIG_F_DRIVER) lets
 * an endpoint attached nowhere reach guest memory at IOVA = GPA, and a
 * bound vhost-net device is handed whole memory regions for it. A device
 * reset puts back the VMM's bypass (0): what the device handed out under
 * the driver's must be gone from vhost-net when the reset returns, so a
 * frame from a buffer vhost-net translated before does not go out. The
 * driver's write again lets it out.
 */
FIXTURE(rbypass) {
	struct vguest g;
	long long push;
};

FIXTURE_SETUP(rbypass)
{
	struct vguest_opts o = {
		.mode = VNET_IOVA_IDENTITY,
		.attach = VGUEST_NO_ATTACH,
		.no_backend = true,
	};

	test_param_set(_metadata, "push_on_map", 0, &self->push);
	ASSERT_EQ(0, vguest_init(&self->g, &o)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vguest_start(&self->g)) TH_LOG("%s", vt_errmsg);
}

FIXTURE_TEARDOWN(rbypass)
{
	vguest_fini(&self->g);
	test_param_restore("push_on_map", self->push);
}

static int driver_bypass(int fd, uint8_t bypass)
{
	return vmm_set_bypass_flags(fd, bypass, VHOST_IOMMU_CONFIG_F_DRIVER);
}

TEST_F_TIMEOUT(rbypass, driver_bypass_gone, 300)
{
	struct vguest *g = &self->g;
	struct vnet *v = &g->net[0];
	struct vhost_iommu_config c;
	struct vhost_iommu_stats s0, s1;

	test_cmd(driver_bypass(g->iommu.fd, 1));
	test_cmd(vguest_set_backend(g, 0, HB_T));
	test_cmd(vnet_tx_frames(v, 0, 8));
	test_cmd(vnet_rx_frames(v, 100, 8));
	test_cmd(vguest_settle(g, HB_T));
	s0 = vmm_stats(g->iommu.fd);
	EXPECT_LE(1, s0.iotlb_served);

	test_cmd(vmm_reset_device(g->iommu.fd));
	test_cmd_get_config(g->iommu.fd, &c);
	EXPECT_EQ(0, c.bypass);
	s1 = vmm_stats(g->iommu.fd);
	EXPECT_LT(s0.iotlb_invalidations, s1.iotlb_invalidations);
	/* TX buffer 0 and the rings were translated before the reset */
	test_cmd(vguest_tx_post(g, 0, 0, 500));
	EXPECT_EQ(-ETIMEDOUT, vguest_tx_complete(g, 0, 0, 500, ABSENT_MS))
		TH_LOG("a frame went out through the driver's bypass after the reset");

	/* The driver starts again and writes bypass: the kick is served */
	test_cmd(vmm_rings_restart(&g->iommu));
	test_cmd(vmm_event_post(&g->iommu, VGUEST_EVENTS,
				sizeof(struct virtio_iommu_fault)));
	test_cmd(driver_bypass(g->iommu.fd, 1));
	test_cmd(vnet_kick(v, VNET_TXQ));
	test_cmd(vguest_tx_complete(g, 0, 0, 500, HB_T));
}

TEST_HARNESS_MAIN
