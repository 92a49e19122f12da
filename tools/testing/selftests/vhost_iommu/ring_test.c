// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the virtqueue side of Documentation/requests.md.
 * One test per chain defect of the "Chain defects" table, with the rest of
 * the input valid: a virtqueue error stops the queue and signals its error
 * eventfd (ring_errors), a malformed chain comes back with used length 0
 * and nothing written (malformed). Also descriptor layouts that must work
 * (buffers across memory regions, a split tail, 1024 segments),
 * notification suppression (EVENT_IDX, NO_INTERRUPT) and stopping and
 * restarting a ring with VHOST_GET_VRING_BASE.
 */
#include <errno.h>
#include <poll.h>
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
#define RQ	VHOST_IOMMU_VQ_REQUEST
#define F_NEXT	VRING_DESC_F_NEXT
#define F_WRITE	VRING_DESC_F_WRITE
#define F_IND	VRING_DESC_F_INDIRECT
#define WR_SIZE	1024

FIXTURE(ring) {
	struct vmm v;
	uint64_t rd;		/* a valid ATTACH(D1, EP1), readable part */
	uint64_t wr;		/* a writable buffer of WR_SIZE, pattern-filled */
	struct vhost_iommu_stats s0;
};

static void ring_start(struct __test_metadata *_metadata,
		       struct _test_data_ring *self, uint64_t drop,
		       unsigned int num)
{
	struct virtio_iommu_req_attach a;
	struct vmm_opts o = {
		.features = VMM_ALL_FEATURES & ~drop,
		.num = { num },
	};

	if (self->v.gmem)
		vmm_fini(&self->v);
	test_cmd(vmm_init(&self->v, &o));
	test_cmd_add_endpoint(self->v.fd, EP1, NULL, 0);
	vmm_mk_attach(&a, D1, EP1, 0);
	self->rd = vmm_alloc(&self->v, 1024, 0);
	memset(vmm_ptr(&self->v, self->rd), 0, 1024);
	memcpy(vmm_ptr(&self->v, self->rd), &a, VMM_ATTACH_LEN);
	self->wr = vmm_alloc(&self->v, WR_SIZE, 0);
	memset(vmm_ptr(&self->v, self->wr), VMM_PATTERN, WR_SIZE);
	test_cmd_get_stats(self->v.fd, &self->s0);
}

FIXTURE_SETUP(ring)
{
	ring_start(_metadata, self, 0, 256);
}

FIXTURE_TEARDOWN(ring)
{
	if (self->v.gmem)
		vmm_fini(&self->v);
}

static bool wr_untouched(struct _test_data_ring *self, uint32_t len)
{
	const uint8_t *p = vmm_ptr(&self->v, self->wr);
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != VMM_PATTERN)
			return false;
	return true;
}

/* The queue still executes a valid request */
static void queue_works(struct __test_metadata *_metadata,
			struct _test_data_ring *self)
{
	test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ(-ENOENT, vmm_translate(self->v.fd, EP1, 0,
					 VHOST_IOMMU_ACCESS_READ, 0, NULL));
}

/*
 * Posts @d, kicks, expects the chain back with used length 0, the
 * writable buffer untouched, malformed counted once and no ring error.
 */
static void expect_malformed(struct __test_metadata *_metadata,
			     struct _test_data_ring *self,
			     const struct vmm_rdesc *d, unsigned int n)
{
	struct vhost_iommu_stats s;
	uint32_t id, len;
	uint16_t head;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, n, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(0, len);
	EXPECT_TRUE(wr_untouched(self, WR_SIZE));
	s = vmm_stats(self->v.fd);
	EXPECT_EQ(self->s0.malformed + 1, s.malformed);
	EXPECT_EQ(self->s0.ring_errors, s.ring_errors);
	/* Nothing was executed */
	EXPECT_EQ(self->s0.requests[VIRTIO_IOMMU_T_ATTACH],
		  s.requests[VIRTIO_IOMMU_T_ATTACH]);
	EXPECT_EQ(0, s.domains);
	queue_works(_metadata, self);
}

/* After a kick: the error eventfd fires, ring_errors counts one. */
static void expect_ring_error(struct __test_metadata *_metadata,
			      struct _test_data_ring *self)
{
	struct vhost_iommu_stats s;

	test_cmd(vmm_wait_err(&self->v, RQ, VMM_TIMEOUT_MS));
	s = vmm_stats(self->v.fd);
	EXPECT_EQ(self->s0.ring_errors + 1, s.ring_errors);
	EXPECT_EQ(self->s0.malformed, s.malformed);
	EXPECT_EQ(0, s.domains);
}

static void post_ring_error(struct __test_metadata *_metadata,
			    struct _test_data_ring *self,
			    const struct vmm_rdesc *d, unsigned int n)
{
	uint16_t head;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, n, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vq_notify(&self->v.vq[RQ]));
	expect_ring_error(_metadata, self);
}

#define RD_ATTACH(next) { self->rd, VMM_ATTACH_LEN, F_NEXT, (next) }
#define WR_TAIL		{ self->wr, 4, F_WRITE, 0 }

/* The valid chain the defects are made from */
TEST_F(ring, valid_chain)
{
	struct vmm_rdesc d[] = { RD_ATTACH(1), WR_TAIL };
	uint32_t id, len;
	uint16_t head;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, 2, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	EXPECT_EQ(4, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, *(uint8_t *)vmm_ptr(&self->v, self->wr));
	EXPECT_EQ(1, vmm_stats(self->v.fd).domains);
}

/*
 * Virtqueue errors
 */

TEST_F(ring, head_out_of_range)
{
	vq_avail_push(&self->v.vq[RQ], self->v.vq[RQ].num);
	test_cmd(vq_notify(&self->v.vq[RQ]));
	expect_ring_error(_metadata, self);
}

TEST_F(ring, head_far_out_of_range)
{
	vq_avail_push(&self->v.vq[RQ], 0xffff);
	test_cmd(vq_notify(&self->v.vq[RQ]));
	expect_ring_error(_metadata, self);
}

TEST_F(ring, avail_idx_jump)
{
	struct vq *vq = &self->v.vq[RQ];
	struct vmm_rdesc d[] = { RD_ATTACH(1), WR_TAIL };
	uint16_t head;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, 2, &head));
	vq->avail->ring[0] = head;
	__atomic_store_n(&vq->avail->idx, vq->num + 1, __ATOMIC_RELEASE);
	test_cmd(vq_notify(vq));
	expect_ring_error(_metadata, self);
}

TEST_F(ring, next_out_of_range)
{
	struct vmm_rdesc d[] = {
		{ self->rd, VMM_ATTACH_LEN, F_NEXT, 256, true },
	};

	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, loop_self)
{
	struct vmm_rdesc d[] = { RD_ATTACH(0) };

	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, loop_two)
{
	struct vmm_rdesc d[] = {
		{ self->rd, 12, F_NEXT, 1 },
		{ self->rd + 12, 12, F_NEXT, 0 },
	};

	post_ring_error(_metadata, self, d, 2);
}

/* A chain through every descriptor of a 4-entry queue, and on */
static void chain_4(struct __test_metadata *_metadata,
		    struct _test_data_ring *self)
{
	struct vmm_rdesc d[] = {
		{ self->rd, 8, F_NEXT, 1 },
		{ self->rd + 8, 8, F_NEXT, 2 },
		{ self->rd + 16, 8, F_NEXT, 3 },
		{ self->wr, 4, F_WRITE | F_NEXT, 1 },
	};

	post_ring_error(_metadata, self, d, 4);
}

TEST_F(ring, chain_longer_than_queue)
{
	ring_start(_metadata, self, 0, 4);
	chain_4(_metadata, self);
}

static uint64_t good_table(struct _test_data_ring *self)
{
	uint64_t t = vmm_alloc_ind(&self->v, 2);
	struct vring_desc *tab = vmm_ptr(&self->v, t);

	tab[0] = (struct vring_desc){ self->rd, VMM_ATTACH_LEN, F_NEXT, 1 };
	tab[1] = (struct vring_desc){ self->wr, 4, F_WRITE, 0 };
	return t;
}

static void indirect_2(struct __test_metadata *_metadata,
		       struct _test_data_ring *self)
{
	struct vmm_rdesc d[] = { { good_table(self), 32, F_IND, 0 } };

	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, indirect_without_feature)
{
	ring_start(_metadata, self, VMM_F(VIRTIO_RING_F_INDIRECT_DESC), 256);
	indirect_2(_metadata, self);
}

TEST_F(ring, indirect_valid)
{
	struct vmm_rdesc d[] = { { good_table(self), 32, F_IND, 0 } };
	uint32_t id, len;
	uint16_t head;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, 1, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(4, len);
	EXPECT_EQ(1, vmm_stats(self->v.fd).domains);
}

TEST_F(ring, indirect_len_zero)
{
	struct vmm_rdesc d[] = { { good_table(self), 0, F_IND, 0 } };

	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, indirect_len_unaligned)
{
	struct vmm_rdesc d[] = { { good_table(self), 24, F_IND, 0 } };

	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, indirect_nested)
{
	uint64_t inner = good_table(self);
	uint64_t t = vmm_alloc_ind(&self->v, 1);
	struct vring_desc *tab = vmm_ptr(&self->v, t);
	struct vmm_rdesc d[] = { { t, 16, F_IND, 0 } };

	tab[0] = (struct vring_desc){ inner, 32, F_IND, 0 };
	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, indirect_with_next)
{
	struct vmm_rdesc d[] = {
		{ good_table(self), 32, F_IND | F_NEXT, 1 },
		WR_TAIL,
	};

	post_ring_error(_metadata, self, d, 2);
}

/* Loops and bad indices inside an indirect table */
TEST_F(ring, indirect_loop)
{
	uint64_t t = vmm_alloc_ind(&self->v, 2);
	struct vring_desc *tab = vmm_ptr(&self->v, t);
	struct vmm_rdesc d[] = { { t, 32, F_IND, 0 } };

	tab[0] = (struct vring_desc){ self->rd, VMM_ATTACH_LEN, F_NEXT, 1 };
	tab[1] = (struct vring_desc){ self->wr, 4, F_WRITE | F_NEXT, 0 };
	post_ring_error(_metadata, self, d, 1);
}

TEST_F(ring, indirect_next_out_of_range)
{
	uint64_t t = vmm_alloc_ind(&self->v, 2);
	struct vring_desc *tab = vmm_ptr(&self->v, t);
	struct vmm_rdesc d[] = { { t, 32, F_IND, 0 } };

	tab[0] = (struct vring_desc){ self->rd, VMM_ATTACH_LEN, F_NEXT, 2 };
	tab[1] = (struct vring_desc){ self->wr, 4, F_WRITE, 0 };
	post_ring_error(_metadata, self, d, 1);
}

/*
 * Sets queue @q up again on fresh memory, then unmaps that memory: the
 * rings are addresses the VMM's mm cannot read.
 */
static void ring_on_unmapped_memory(struct __test_metadata *_metadata,
				    struct _test_data_ring *self, unsigned int q)
{
	struct vhost_vring_state s = { .index = q, .num = 256 };
	struct vhost_vring_file f = { .index = q };
	struct vhost_vring_addr a = { .index = q };
	int fd = self->v.fd;
	uint8_t *r;

	r = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	a.desc_user_addr = (uintptr_t)r;
	a.avail_user_addr = (uintptr_t)r + 0x80000;
	a.used_user_addr = (uintptr_t)r + 0x92000;
	ASSERT_EQ(0, vmm_vq_stop(&self->v, q, &s.num));
	s.num = 256;
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_VRING_NUM, &s));
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_VRING_ADDR, &a));
	s.num = 0;
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_VRING_BASE, &s));
	f.fd = self->v.vq[q].kick;
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_VRING_KICK, &f));
	ASSERT_EQ(0, munmap(r, 0x100000));
	test_cmd(vq_notify(&self->v.vq[q]));
}

/* Rings the VMM's mm cannot read: the event queue */
TEST_F(ring, ring_unreadable)
{
	ring_on_unmapped_memory(_metadata, self, 1);
	/* A fault report makes the device read the ring */
	EXPECT_EQ(-ENXIO, vmm_translate(self->v.fd, EP1, 0,
					VHOST_IOMMU_ACCESS_READ,
					VHOST_IOMMU_TRANSLATE_F_REPORT, NULL));
	test_cmd(vmm_wait_err(&self->v, 1, VMM_TIMEOUT_MS));
	EXPECT_EQ(self->s0.ring_errors + 1, vmm_stats(self->v.fd).ring_errors);
	/* The request queue is another queue: it works */
	queue_works(_metadata, self);
}

TEST_F(ring, request_ring_unreadable)
{
	ring_on_unmapped_memory(_metadata, self, 0);
	expect_ring_error(_metadata, self);
}

/* A ring error stops the queue; the VMM resets it and it runs again. */
TEST_F(ring, ring_error_then_reset)
{
	unsigned int base;

	vq_avail_push(&self->v.vq[RQ], 0xffff);
	test_cmd(vq_notify(&self->v.vq[RQ]));
	expect_ring_error(_metadata, self);
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	test_cmd(vmm_vq_setup(&self->v, RQ, 256));
	queue_works(_metadata, self);
}

/*
 * Malformed chains
 */

TEST_F(ring, readable_outside_memory)
{
	struct vmm_rdesc d[] = {
		{ VMM_BAD_GPA, VMM_ATTACH_LEN, F_NEXT, 1 },
		WR_TAIL,
	};

	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, readable_past_end_of_memory)
{
	struct vmm_rdesc d[] = {
		{ VMM_MEM_SIZE - 8, VMM_ATTACH_LEN, F_NEXT, 1 },
		WR_TAIL,
	};

	memcpy(vmm_ptr(&self->v, VMM_MEM_SIZE - 8),
	       vmm_ptr(&self->v, self->rd), 8);
	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, writable_outside_memory)
{
	struct vmm_rdesc d[] = {
		RD_ATTACH(1),
		{ VMM_BAD_GPA, 4, F_WRITE, 0 },
	};

	expect_malformed(_metadata, self, d, 2);
}

/* A good tail after a bad writable descriptor is not written either */
TEST_F(ring, writable_outside_memory_then_tail)
{
	struct vmm_rdesc d[] = {
		RD_ATTACH(1),
		{ VMM_BAD_GPA, 4, F_WRITE | F_NEXT, 2 },
		WR_TAIL,
	};

	expect_malformed(_metadata, self, d, 3);
}

TEST_F(ring, indirect_table_outside_memory)
{
	struct vmm_rdesc d[] = { { VMM_BAD_GPA, 32, F_IND, 0 } };

	expect_malformed(_metadata, self, d, 1);
}

TEST_F(ring, indirect_entry_outside_memory)
{
	uint64_t t = good_table(self);
	struct vring_desc *tab = vmm_ptr(&self->v, t);
	struct vmm_rdesc d[] = { { t, 32, F_IND, 0 } };

	tab[0].addr = VMM_BAD_GPA;
	expect_malformed(_metadata, self, d, 1);
}

TEST_F(ring, readable_after_writable)
{
	struct vmm_rdesc d[] = {
		{ self->wr, 4, F_WRITE | F_NEXT, 1 },
		{ self->rd, VMM_ATTACH_LEN, 0, 0 },
	};

	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, readable_between_writables)
{
	struct vmm_rdesc d[] = {
		{ self->rd, 12, F_NEXT, 1 },
		{ self->wr, 4, F_WRITE | F_NEXT, 2 },
		{ self->rd + 12, 12, F_NEXT, 3 },
		{ self->wr + 8, 4, F_WRITE, 0 },
	};

	expect_malformed(_metadata, self, d, 4);
}

TEST_F(ring, writable_short)
{
	struct vmm_rdesc d[] = { RD_ATTACH(1), { self->wr, 3, F_WRITE, 0 } };

	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, writable_short_split)
{
	struct vmm_rdesc d[] = {
		RD_ATTACH(1),
		{ self->wr, 1, F_WRITE | F_NEXT, 2 },
		{ self->wr + 1, 2, F_WRITE, 0 },
	};

	expect_malformed(_metadata, self, d, 3);
}

TEST_F(ring, writable_missing)
{
	struct vmm_rdesc d[] = { { self->rd, VMM_ATTACH_LEN, 0, 0 } };

	expect_malformed(_metadata, self, d, 1);
}

TEST_F(ring, readable_short_attach)
{
	struct vmm_rdesc d[] = {
		{ self->rd, VMM_ATTACH_LEN - 1, F_NEXT, 1 },
		WR_TAIL,
	};

	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, readable_head_only)
{
	struct vmm_rdesc d[] = { { self->rd, 4, F_NEXT, 1 }, WR_TAIL };

	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, readable_missing)
{
	struct vmm_rdesc d[] = { WR_TAIL };

	expect_malformed(_metadata, self, d, 1);
}

static void short_request(struct __test_metadata *_metadata,
			  struct _test_data_ring *self, const void *req,
			  uint32_t len, uint32_t wr_len)
{
	struct vmm_rdesc d[] = {
		{ self->rd, len, F_NEXT, 1 },
		{ self->wr, wr_len, F_WRITE, 0 },
	};

	memcpy(vmm_ptr(&self->v, self->rd), req, len + 1);
	expect_malformed(_metadata, self, d, 2);
}

TEST_F(ring, readable_short_detach)
{
	struct virtio_iommu_req_detach r;

	vmm_mk_detach(&r, D1, EP1);
	short_request(_metadata, self, &r, VMM_DETACH_LEN - 1, 4);
}

TEST_F(ring, readable_short_map)
{
	struct virtio_iommu_req_map r;

	vmm_mk_map(&r, D1, 0, 0xfff, 0, 3);
	short_request(_metadata, self, &r, VMM_MAP_LEN - 1, 4);
}

TEST_F(ring, readable_short_unmap)
{
	struct virtio_iommu_req_unmap r;

	vmm_mk_unmap(&r, D1, 0, 0xfff);
	short_request(_metadata, self, &r, VMM_UNMAP_LEN - 1, 4);
}

TEST_F(ring, readable_short_probe)
{
	struct virtio_iommu_req_probe r;

	vmm_mk_probe(&r, EP1);
	short_request(_metadata, self, &r, VMM_PROBE_LEN - 1,
		      self->v.probe_size + 4);
}

/* The readable part spread over many descriptors is fine... */
static void segments(struct __test_metadata *_metadata,
		     struct _test_data_ring *self, unsigned int nrd,
		     bool indirect, bool ok)
{
	struct vmm_seg *s = calloc(nrd + 1, sizeof(*s));
	struct vhost_iommu_stats st;
	uint32_t id, len;
	unsigned int i;
	uint16_t head;
	int ret;

	ASSERT_NE(NULL, s);
	for (i = 0; i < nrd; i++)
		s[i] = (struct vmm_seg){ self->rd + i, 1, false };
	s[nrd] = (struct vmm_seg){ self->wr, 4, true };
	if (indirect) {
		uint64_t t = vmm_alloc_ind(&self->v, nrd + 1);
		struct vring_desc *tab = vmm_ptr(&self->v, t);
		struct vmm_rdesc d = { t, (nrd + 1) * 16, F_IND, 0 };

		for (i = 0; i <= nrd; i++)
			tab[i] = (struct vring_desc){
				s[i].gpa, s[i].len,
				(s[i].write ? F_WRITE : 0) |
				(i < nrd ? F_NEXT : 0), i + 1 };
		test_cmd(vmm_raw_chain(&self->v, RQ, &d, 1, &head));
		vq_avail_push(&self->v.vq[RQ], head);
	} else {
		ret = vmm_post(&self->v, RQ, s, nrd + 1, false);
		ASSERT_LE(0, ret) TH_LOG("%s", vt_errmsg);
		head = ret;
	}
	free(s);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
	st = vmm_stats(self->v.fd);
	if (ok) {
		EXPECT_EQ(4, len);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK,
			  *(uint8_t *)vmm_ptr(&self->v, self->wr));
		EXPECT_EQ(1, st.domains);
		EXPECT_EQ(self->s0.malformed, st.malformed);
	} else {
		EXPECT_EQ(0, len);
		EXPECT_TRUE(wr_untouched(self, WR_SIZE));
		EXPECT_EQ(0, st.domains);
		EXPECT_EQ(self->s0.malformed + 1, st.malformed);
	}
	EXPECT_EQ(self->s0.ring_errors, st.ring_errors);
}

/* An indirect table holds at most the queue size of descriptors */
TEST_F(ring, segments_1024_indirect)
{
	ring_start(_metadata, self, 0, 2048);
	segments(_metadata, self, 1023, true, true);
}

/* ...up to 1024 segments */
TEST_F(ring, segments_1025_indirect)
{
	ring_start(_metadata, self, 0, 2048);
	segments(_metadata, self, 1024, true, false);
}

TEST_F(ring, segments_1024_direct)
{
	ring_start(_metadata, self, 0, 2048);
	segments(_metadata, self, 1023, false, true);
}

TEST_F(ring, segments_1025_direct)
{
	ring_start(_metadata, self, 0, 2048);
	segments(_metadata, self, 1024, false, false);
}

/*
 * Layouts that must work
 */

static void run_chain(struct __test_metadata *_metadata,
		      struct _test_data_ring *self, const struct vmm_rdesc *d,
		      unsigned int n, uint32_t *len)
{
	uint16_t head;
	uint32_t id;

	test_cmd(vmm_raw_chain(&self->v, RQ, d, n, &head));
	vq_avail_push(&self->v.vq[RQ], head);
	test_cmd(vmm_kick(&self->v, RQ));
	test_cmd(vmm_wait_used(&self->v, RQ, &id, len, VMM_TIMEOUT_MS));
	EXPECT_EQ(head, id);
}

/* One descriptor whose buffer crosses from memory region 0 into region 1 */
static void across_regions(struct __test_metadata *_metadata,
			   struct _test_data_ring *self, uint64_t rd,
			   uint64_t wr)
{
	struct vmm_rdesc d[] = {
		{ rd, VMM_ATTACH_LEN, F_NEXT, 1 },
		{ wr, 4, F_WRITE, 0 },
	};
	uint8_t *tail = vmm_ptr(&self->v, wr);
	uint32_t len;

	memcpy(vmm_ptr(&self->v, rd), vmm_ptr(&self->v, self->rd),
	       VMM_ATTACH_LEN);
	memset(tail, VMM_PATTERN, 4);
	run_chain(_metadata, self, d, 2, &len);
	EXPECT_EQ(4, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, tail[0]);
	EXPECT_EQ(0, tail[1] | tail[2] | tail[3]);
	EXPECT_EQ(1, vmm_stats(self->v.fd).domains);
}

TEST_F(ring, readable_across_regions)
{
	across_regions(_metadata, self, VMM_REGION_SIZE - 10, self->wr);
}

TEST_F(ring, tail_across_regions)
{
	across_regions(_metadata, self, self->rd, VMM_REGION_SIZE - 2);
}

/* The tail over two descriptors */
TEST_F(ring, tail_split)
{
	struct vmm_rdesc d[] = {
		RD_ATTACH(1),
		{ self->wr, 1, F_WRITE | F_NEXT, 2 },
		{ self->wr + 32, 3, F_WRITE, 0 },
	};
	uint8_t *w = vmm_ptr(&self->v, self->wr);
	uint32_t len;

	run_chain(_metadata, self, d, 3, &len);
	EXPECT_EQ(4, len);
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, w[0]);
	EXPECT_EQ(0, w[32] | w[33] | w[34]);
	EXPECT_EQ(VMM_PATTERN, w[1]);
	EXPECT_EQ(1, vmm_stats(self->v.fd).domains);
}

/* One byte per descriptor */
TEST_F(ring, request_byte_by_byte)
{
	struct vmm_rdesc d[VMM_ATTACH_LEN + 1];
	unsigned int i;
	uint32_t len;

	for (i = 0; i < VMM_ATTACH_LEN; i++)
		d[i] = (struct vmm_rdesc){ self->rd + i, 1, F_NEXT, i + 1 };
	d[i] = (struct vmm_rdesc)WR_TAIL;
	run_chain(_metadata, self, d, VMM_ATTACH_LEN + 1, &len);
	EXPECT_EQ(4, len);
	EXPECT_EQ(1, vmm_stats(self->v.fd).domains);
}

/*
 * Buffers that end where guest memory ends: the kernel's view of region
 * 1 is followed by an inaccessible gap, so a copy that touched a byte
 * past its buffer (a word rounded up, an overlapping last word placed
 * wrong) would fault and stop the queue. Every readable length from the
 * ATTACH to the largest request, each tail length from 4 to 11, and a
 * PROBE's writable part, each ending at the last byte of memory.
 */
TEST_F(ring, buffers_end_at_memory_end)
{
	const uint64_t top = VMM_MEM_SIZE;
	struct virtio_iommu_req_probe p;
	struct vhost_iommu_stats s;
	uint32_t n, len, wlen;
	uint8_t *w;

	memset(vmm_ptr(&self->v, top - 256), 0, 256);
	for (n = VMM_ATTACH_LEN; n <= VMM_PROBE_LEN; n++) {
		struct vmm_rdesc d[] = {
			{ top - n, n, F_NEXT, 1 },
			{ self->wr, 4, F_WRITE, 0 },
		};

		memset(vmm_ptr(&self->v, top - n), 0, n);
		memcpy(vmm_ptr(&self->v, top - n), vmm_ptr(&self->v, self->rd),
		       VMM_ATTACH_LEN);
		memset(vmm_ptr(&self->v, self->wr), VMM_PATTERN, 4);
		run_chain(_metadata, self, d, 2, &len);
		ASSERT_EQ(4, len) TH_LOG("readable length %u", n);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, *(uint8_t *)vmm_ptr(&self->v,
								 self->wr));
	}
	for (n = 4; n < 12; n++) {
		struct vmm_rdesc d[] = {
			RD_ATTACH(1),
			{ top - n, n, F_WRITE, 0 },
		};

		w = vmm_ptr(&self->v, top - n);
		memset(w, VMM_PATTERN, n);
		run_chain(_metadata, self, d, 2, &len);
		ASSERT_EQ(4, len) TH_LOG("writable length %u", n);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, w[0]);
		EXPECT_EQ(0, w[1] | w[2] | w[3]);
		if (n > 4)
			EXPECT_EQ(VMM_PATTERN, w[n - 1]);
	}
	/* PROBE: zeroes, then the tail in the last four bytes */
	vmm_mk_probe(&p, EP1);
	memcpy(vmm_ptr(&self->v, self->rd), &p, VMM_PROBE_LEN);
	wlen = self->v.probe_size + 4;
	{
		struct vmm_rdesc d[] = {
			{ self->rd, VMM_PROBE_LEN, F_NEXT, 1 },
			{ top - wlen, wlen, F_WRITE, 0 },
		};

		w = vmm_ptr(&self->v, top - wlen);
		memset(w, VMM_PATTERN, wlen);
		run_chain(_metadata, self, d, 2, &len);
		EXPECT_EQ(wlen, len);
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, w[wlen - 4]);
		EXPECT_EQ(0, w[0] | w[wlen - 5] | w[wlen - 1]);
	}
	s = vmm_stats(self->v.fd);
	EXPECT_EQ(self->s0.ring_errors, s.ring_errors);
	EXPECT_EQ(self->s0.malformed, s.malformed);
	EXPECT_EQ(1, s.domains);
}

/* Requests keep flowing as the indices wrap around 65535 */
TEST_F(ring, index_wrap)
{
	unsigned int base = 0, i;
	uint16_t *ev;

	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	ASSERT_EQ(0, base);
	/* Start both sides at 65530 */
	self->v.vq[RQ].avail_idx = 65530;
	self->v.vq[RQ].kicked_idx = 65530;
	self->v.vq[RQ].last_used = 65530;
	self->v.vq[RQ].avail->idx = 65530;
	self->v.vq[RQ].used->idx = 65530;
	/* as the device left it: avail_event where the next kick is due */
	ev = (void *)&self->v.vq[RQ].used->ring[256];
	*ev = 65530;
	test_cmd(vmm_vq_restart(&self->v, RQ, 65530));
	for (i = 0; i < 12; i++)
		test_cmd_attach(&self->v, D1, EP1, 0);
	EXPECT_EQ((uint16_t)(65530 + 12), self->v.vq[RQ].used->idx);
}

/*
 * Notification suppression
 */

static int wait_used_idx(struct vq *vq, uint16_t idx)
{
	uint64_t end = vt_now_ns() + VMM_TIMEOUT_MS * 1000000ULL;

	while (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != idx) {
		if (vt_now_ns() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static void semaphore_call(struct __test_metadata *_metadata,
			   struct _test_data_ring *self, int *efd)
{
	struct vhost_vring_file f = { .index = RQ };

	*efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	ASSERT_LE(0, *efd);
	f.fd = *efd;
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_SET_VRING_CALL, &f));
}

static void post_attach(struct __test_metadata *_metadata,
			struct _test_data_ring *self)
{
	struct virtio_iommu_req_attach a;
	struct vmm_req r;

	vmm_mk_attach(&a, D1, EP1, 0);
	vmm_req_prepare(&self->v, &r, &a, VMM_ATTACH_LEN, 4);
	test_cmd(vmm_req_post(&self->v, &r));
	test_cmd(vq_notify(&self->v.vq[RQ]));
}

/*
 * A completion with notifications suppressed (used_event far away, or
 * NO_INTERRUPT) is not signalled, the next one is. VHOST_GET_VRING_BASE
 * serves as a barrier: once it returns, the device is done with the
 * completion it wrote.
 */
static void count_signals(struct __test_metadata *_metadata,
			  struct _test_data_ring *self, bool event_idx)
{
	struct vq *vq = &self->v.vq[RQ];
	unsigned int base;
	struct pollfd p;
	uint64_t c;
	int efd;

	/* A first request, signalled as usual */
	test_cmd_attach(&self->v, D1, EP1, 0);
	semaphore_call(_metadata, self, &efd);
	if (event_idx)
		vq->avail->ring[vq->num] = vq->last_used + 0x4000;
	else
		vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	post_attach(_metadata, self);
	ASSERT_EQ(0, wait_used_idx(vq, vq->last_used + 1));
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	EXPECT_EQ(-EAGAIN, vq_drain_fd(efd, &c))
		TH_LOG("completion signalled against the driver's wish");
	if (event_idx)
		vq->avail->ring[vq->num] = vq->last_used + 1;
	else
		vq->avail->flags = 0;
	test_cmd(vmm_vq_restart(&self->v, RQ, base));
	post_attach(_metadata, self);
	ASSERT_EQ(0, wait_used_idx(vq, vq->last_used + 2));
	p = (struct pollfd){ .fd = efd, .events = POLLIN };
	ASSERT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
	ASSERT_EQ(0, vq_drain_fd(efd, &c));
	EXPECT_EQ(1, c);
	close(efd);
}

TEST_F(ring, event_idx_suppresses_call)
{
	count_signals(_metadata, self, true);
}

TEST_F(ring, no_interrupt_suppresses_call)
{
	ring_start(_metadata, self, VMM_F(VIRTIO_RING_F_EVENT_IDX), 256);
	count_signals(_metadata, self, false);
}

/* The device publishes avail_event: where it wants the next kick */
TEST_F(ring, event_idx_avail_event)
{
	struct vq *vq = &self->v.vq[RQ];
	uint16_t *ev = (void *)&vq->used->ring[vq->num];
	uint64_t end = vt_now_ns() + VMM_TIMEOUT_MS * 1000000ULL;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	while (__atomic_load_n(ev, __ATOMIC_ACQUIRE) != vq->avail_idx &&
	       vt_now_ns() < end)
		usleep(1000);
	EXPECT_EQ(vq->avail_idx, *ev);
}

/* Many requests, each kicked only when avail_event asks for it */
TEST_F(ring, event_idx_kicks)
{
	struct virtio_iommu_req_map m;
	struct vmm_req r[64];
	unsigned int i;

	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < 64; i++) {
		vmm_mk_map(&m, D1, i * 0x1000ULL, i * 0x1000ULL + 0xfff, 0, 1);
		vmm_req_prepare(&self->v, &r[i], &m, VMM_MAP_LEN, 4);
		test_cmd(vmm_req_post(&self->v, &r[i]));
		test_cmd(vmm_kick(&self->v, RQ));
	}
	for (i = 0; i < 64; i++) {
		test_cmd(vmm_req_complete(&self->v, &r[i]));
		EXPECT_EQ(VIRTIO_IOMMU_S_OK, r[i].status);
	}
	EXPECT_EQ(64, vmm_stats(self->v.fd).mappings);
}

/*
 * VHOST_GET_VRING_BASE stops the ring and returns the next avail index;
 * the ring restarts after a new setup from there.
 */
TEST_F(ring, get_vring_base)
{
	struct vq *vq = &self->v.vq[RQ];
	struct virtio_iommu_req_map m;
	struct vmm_req r;
	unsigned int base;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, 0xfff, 0, 1);
	test_cmd_map(&self->v, D1, 0x1000, 0x1fff, 0, 1);
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	EXPECT_EQ(3, base);
	/* Stopped: a new request waits */
	vmm_mk_map(&m, D1, 0x2000, 0x2fff, 0, 1);
	vmm_req_prepare(&self->v, &r, &m, VMM_MAP_LEN, 4);
	test_cmd(vmm_req_post(&self->v, &r));
	test_cmd(vq_notify(vq));
	usleep(200000);
	EXPECT_EQ(3, vq->used->idx);
	EXPECT_EQ(2, vmm_stats(self->v.fd).mappings);
	/* Still stopped, still at 3 */
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	EXPECT_EQ(3, base);
	test_cmd(vmm_vq_restart(&self->v, RQ, base));
	test_cmd(vq_notify(vq));
	test_cmd(vmm_req_complete(&self->v, &r));
	EXPECT_EQ(VIRTIO_IOMMU_S_OK, r.status);
	EXPECT_EQ(3, vmm_stats(self->v.fd).mappings);
}

/* A device state survives a ring restart: domains, mappings */
TEST_F(ring, restart_keeps_state)
{
	unsigned int base;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0, 0xfff, 0x5000, 1);
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	EXPECT_EQ(2, base);
	test_cmd(vmm_vq_restart(&self->v, RQ, base));
	test_err_map(VIRTIO_IOMMU_S_INVAL, &self->v, D1, 0, 0xfff, 0, 1);
	EXPECT_EQ(1, vmm_stats(self->v.fd).mappings);
}

/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): at most
 * VHOST_IOMMU_BUSYLOOP_MAX_US (10 ms), off by default. Every queue keeps
 * it (QEMU's vhost_dev_init() sets it on all), the request queue uses it.
 */
#define BUSYLOOP_MAX_US	10000

static int busyloop(int fd, unsigned int index, unsigned int us)
{
	struct vhost_vring_state st = { .index = index, .num = us };

	return ioctl(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st) ? -errno : 0;
}

static unsigned int busyloop_get(struct __test_metadata *_metadata,
				 int fd, unsigned int index)
{
	struct vhost_vring_state st = { .index = index, .num = 12345 };

	EXPECT_EQ(0, ioctl(fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &st));
	EXPECT_EQ(index, st.index);
	return st.num;
}

TEST_F(ring, busyloop_timeout)
{
	EXPECT_EQ(0, busyloop_get(_metadata, self->v.fd, RQ));
	EXPECT_EQ(0, busyloop(self->v.fd, RQ, 50));
	EXPECT_EQ(50, busyloop_get(_metadata, self->v.fd, RQ));
	EXPECT_EQ(0, busyloop(self->v.fd, RQ, BUSYLOOP_MAX_US));
	EXPECT_EQ(BUSYLOOP_MAX_US, busyloop_get(_metadata, self->v.fd, RQ));
	EXPECT_EQ(-EINVAL, busyloop(self->v.fd, RQ, BUSYLOOP_MAX_US + 1));
	EXPECT_EQ(-EINVAL, busyloop(self->v.fd, RQ, UINT32_MAX));
	EXPECT_EQ(BUSYLOOP_MAX_US, busyloop_get(_metadata, self->v.fd, RQ));
	/* Per queue */
	EXPECT_EQ(0, busyloop(self->v.fd, VHOST_IOMMU_VQ_EVENT, 50));
	EXPECT_EQ(50, busyloop_get(_metadata, self->v.fd,
				   VHOST_IOMMU_VQ_EVENT));
	EXPECT_EQ(BUSYLOOP_MAX_US, busyloop_get(_metadata, self->v.fd, RQ));
	EXPECT_EQ(-ENOBUFS, busyloop(self->v.fd, 2, 50));
	EXPECT_EQ(0, busyloop(self->v.fd, RQ, 0));
	EXPECT_EQ(0, busyloop_get(_metadata, self->v.fd, RQ));
}

/* VHOST_RESET_OWNER forgets it, as vhost does */
TEST_F(ring, busyloop_reset_owner)
{
	EXPECT_EQ(0, busyloop(self->v.fd, RQ, 50));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_RESET_OWNER, NULL));
	ASSERT_EQ(0, ioctl(self->v.fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, busyloop_get(_metadata, self->v.fd, RQ));
}

/*
 * With polling on, requests flow whether the worker caught them polling
 * (the driver's kick suppressed) or not; once the worker is done with the
 * ring (VHOST_GET_VRING_BASE waits for it), it has asked for kicks again:
 * NO_NOTIFY cleared, or avail_event at the next buffer. A device that
 * left kicks off would hang the next request of a real driver.
 */
static void busyloop_flow(struct __test_metadata *_metadata,
			  struct _test_data_ring *self, bool event_idx)
{
	struct vq *vq = &self->v.vq[RQ];
	uint16_t *ev = (void *)&vq->used->ring[vq->num];
	unsigned int base, i;

	ASSERT_EQ(0, busyloop(self->v.fd, RQ, BUSYLOOP_MAX_US));
	test_cmd_attach(&self->v, D1, EP1, 0);
	for (i = 0; i < 200; i++) {
		test_cmd_map(&self->v, D1, 0, 0xfff, 0, 1);
		test_cmd_unmap(&self->v, D1, 0, 0xfff);
	}
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	EXPECT_EQ(401, base);
	/* avail_event at the next buffer, or NO_NOTIFY clear */
	EXPECT_EQ(event_idx ? vq->avail_idx : 0,
		  event_idx ? *ev : vq->used->flags & VRING_USED_F_NO_NOTIFY);
	/* And after a restart */
	test_cmd(vmm_vq_restart(&self->v, RQ, base));
	test_cmd_map(&self->v, D1, 0, 0xfff, 0, 1);
	EXPECT_EQ(1, vmm_stats(self->v.fd).mappings);
	EXPECT_EQ(0, vmm_stats(self->v.fd).ring_errors);
}

TEST_F(ring, busyloop_event_idx)
{
	busyloop_flow(_metadata, self, true);
}

TEST_F(ring, busyloop_no_notify)
{
	ring_start(_metadata, self, VMM_F(VIRTIO_RING_F_EVENT_IDX), 256);
	busyloop_flow(_metadata, self, false);
}

TEST_HARNESS_MAIN
