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
 * cannot. Waits are hang guards (VMM_TIMEOUT_MS, FLOOD_GUARD_MS), never
 * measurements.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
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

#define S_OK		VIRTIO_IOMMU_S_OK
#define S_INVAL		VIRTIO_IOMMU_S_INVAL
#define S_NOENT		VIRTIO_IOMMU_S_NOENT
#define A_R		VHOST_IOMMU_ACCESS_READ
#define REPORT		VHOST_IOMMU_TRANSLATE_F_REPORT

/*
 * How long an attacker keeps going when the VMM's ioctls do not come back:
 * a hang guard. A correct kernel answers them within milliseconds (seconds
 * on the debug kernel); a livelocked one only after the attacker gives up.
 */
#define FLOOD_GUARD_MS	20000

static struct vhost_iommu_stats stats(int fd)
{
	struct vhost_iommu_stats s;

	if (vmm_get_stats(fd, &s))
		memset(&s, 0xff, sizeof(s));
	return s;
}

static uint64_t sum(const __u64 *a, unsigned int n)
{
	uint64_t t = 0;

	while (n--)
		t += *a++;
	return t;
}

/*
 * F1: the request type is read once. A thread flips the type byte of a
 * readable part that every request of a batch shares, between ATTACH and
 * another type, while the device executes them. Each request must be
 * executed as one type: ATTACH (status OK, used length 4), or an unknown
 * type (used length 0, nothing written, counted in requests[0]); the
 * device never writes a status it does not produce.
 */

#define FLIP_BATCH	128
#define FLIP_ROUNDS	128	/* 16384 requests */
#define FLIP_EP		0x1000	/* also a valid MAP virt_start */

struct flipper {
	pthread_t thread;
	volatile uint8_t *type;
	uint8_t a, b;
	int stop;
	unsigned long flips;
};

static void *flip_fn(void *arg)
{
	struct flipper *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		*f->type = f->a;
		*f->type = f->b;
		f->flips++;
	}
	*f->type = f->a;
	return NULL;
}

FIXTURE(flip) {
	struct vmm v;
	int fd;
};

FIXTURE_VARIANT(flip) {
	uint8_t alt;		/* the type flipped with ATTACH */
	uint64_t drop;		/* features not negotiated */
	bool indirect;
};

/* status[3] (DEVERR) through requests[11] on ca3bade */
FIXTURE_VARIANT_ADD(flip, attach_11) {
	.alt = 11,
};

FIXTURE_VARIANT_ADD(flip, attach_11_indirect) {
	.alt = 11,
	.indirect = true,
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
		.indirect = variant->indirect,
	};

	VMM_OK(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	ASSERT_EQ(0, vmm_add_endpoint(self->fd, FLIP_EP, NULL, 0));
}

FIXTURE_TEARDOWN(flip)
{
	vmm_fini(&self->v);
}

/*
 * The shared readable part, MAP-sized. As ATTACH: domain D1, endpoint
 * FLIP_EP, flags 0, reserved 0 (ATTACH succeeds, every time). As MAP:
 * domain D1, [0x1000, 0xffffffff00000000] (an unaligned end: S_INVAL, and
 * no mapping), phys 0, flags READ.
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

TEST_F_TIMEOUT(flip, type_read_once, 300)
{
	uint32_t rd_len = variant->alt == VIRTIO_IOMMU_T_MAP ? VMM_MAP_LEN :
			  VMM_ATTACH_LEN;
	unsigned long bad_len = 0, bad_status = 0, unknown = 0, attach = 0;
	bool map_ok = variant->alt == VIRTIO_IOMMU_T_MAP;
	struct vhost_iommu_stats s0, s1;
	struct vmm_req r[FLIP_BATCH];
	struct flipper f = { 0 };
	unsigned int round, i;
	uint64_t rd, posted;
	uint8_t *w;

	/* The domain exists: every ATTACH is a no-op that says OK */
	REQ_OK(vmm_attach(&self->v, D1, FLIP_EP, 0));
	rd = flip_rd(&self->v);
	s0 = stats(self->fd);
	f.type = vmm_ptr(&self->v, rd);
	f.a = VIRTIO_IOMMU_T_ATTACH;
	f.b = variant->alt;
	ASSERT_EQ(0, pthread_create(&f.thread, NULL, flip_fn, &f));

	for (round = 0; round < FLIP_ROUNDS; round++) {
		for (i = 0; i < FLIP_BATCH; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].rd_gpa = rd;
			r[i].rd_len = rd_len;
			r[i].wr_len = 4;
			r[i].wr_gpa = vmm_alloc(&self->v, 4, 0);
			r[i].wr = vmm_ptr(&self->v, r[i].wr_gpa);
			memset(r[i].wr, VMM_PATTERN, 4);
			if (vmm_req_post(&self->v, &r[i]))
				break;
		}
		if (i < FLIP_BATCH)
			break;
		if (vmm_kick(&self->v, RQ))
			break;
		for (i = 0; i < FLIP_BATCH; i++) {
			if (vmm_req_complete(&self->v, &r[i]))
				break;
			w = r[i].wr;
			if (r[i].used_len == 0) {
				unknown++;
				if (w[0] != VMM_PATTERN || w[1] != VMM_PATTERN ||
				    w[2] != VMM_PATTERN || w[3] != VMM_PATTERN)
					bad_len++;
			} else if (r[i].used_len != 4) {
				bad_len++;
			} else if (w[1] | w[2] | w[3]) {
				bad_status++;
			} else if (w[0] == S_OK) {
				attach++;
			} else if (!(map_ok && w[0] == S_INVAL)) {
				bad_status++;
			}
		}
		if (i < FLIP_BATCH)
			break;
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(f.thread, NULL);
	ASSERT_EQ(FLIP_ROUNDS, round) TH_LOG("round %u: %s", round, vmm_errmsg);

	posted = (uint64_t)FLIP_ROUNDS * FLIP_BATCH;
	s1 = stats(self->fd);
	TH_LOG("%lu flips; %lu ATTACH OK, %lu unknown; %lu bad length, %lu bad status",
	       f.flips, attach, unknown, bad_len, bad_status);
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
	if (map_ok) {
		EXPECT_EQ(posted - attach, s1.requests[VIRTIO_IOMMU_T_MAP] -
					   s0.requests[VIRTIO_IOMMU_T_MAP]);
		EXPECT_EQ(0, s1.mappings);
	} else {
		EXPECT_EQ(unknown, s1.requests[VHOST_IOMMU_STATS_T_UNKNOWN] -
				   s0.requests[VHOST_IOMMU_STATS_T_UNKNOWN]);
	}
	EXPECT_EQ(s0.requests[VIRTIO_IOMMU_T_PROBE],
		  s1.requests[VIRTIO_IOMMU_T_PROBE]);
	EXPECT_EQ(s0.requests[6], s1.requests[6]);
	EXPECT_EQ(s0.requests[7], s1.requests[7]);
	/* Statuses written == requests that write one */
	EXPECT_EQ(posted - unknown, sum(s1.status, 16) - sum(s0.status, 16));
	EXPECT_EQ(s0.malformed, s1.malformed);
	EXPECT_EQ(s0.ring_errors, s1.ring_errors);
	/* The queue still works */
	REQ_OK(vmm_attach(&self->v, D1, FLIP_EP, 0));
}

/*
 * F3: chains are bounded by the queue size. An indirect table with more
 * entries than the queue has descriptors is a ring error, whatever the
 * chain it holds; so is a walk of more than that many descriptors, zero
 * length ones included.
 */

#define SMALL_NUM	16
/* An extra memory region for a 2^20-entry table (16 MiB) */
#define HUGE_NDESC	(1U << 20)
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
	VMM_OK(vmm_init(&self->v, &o));
	self->fd = self->v.fd;
	ASSERT_EQ(0, vmm_add_endpoint(self->fd, EP1, NULL, 0));
	vmm_mk_attach(&a, D1, EP1, 0);
	self->rd = vmm_alloc(&self->v, 64, 0);
	memcpy(vmm_ptr(&self->v, self->rd), &a, VMM_ATTACH_LEN);
	self->wr = vmm_alloc(&self->v, 64, 0);
	memset(vmm_ptr(&self->v, self->wr), VMM_PATTERN, 64);
	self->s0 = stats(self->fd);
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

	VMM_OK(vmm_raw_chain(&self->v, RQ, &d, 1, &head));
	vmm_avail_push(&self->v.vq[RQ], head);
	VMM_OK(vmm_notify(&self->v.vq[RQ]));
	ret = vmm_wait_used(&self->v, RQ, &id, &ulen, VMM_TIMEOUT_MS);
	EXPECT_EQ(-EIO, ret) TH_LOG("used entry with length %u: %s", ulen,
				    ret ? vmm_errmsg : "executed");
	s = stats(self->fd);
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
	VMM_OK(vmm_raw_chain(&self->v, RQ, &d, 1, &head));
	vmm_avail_push(&self->v.vq[RQ], head);
	VMM_OK(vmm_kick(&self->v, RQ));
	VMM_OK(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(4, len);
	EXPECT_EQ(S_OK, *(uint8_t *)vmm_ptr(&self->v, self->wr));
	EXPECT_EQ(1, stats(self->fd).domains);
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

TEST_HARNESS_MAIN
