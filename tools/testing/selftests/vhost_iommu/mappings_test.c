// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: VHOST_IOMMU_GET_MAPPINGS, a domain's mappings
 * listed in chunks (include/uapi/linux/vhost_iommu.h, struct
 * vhost_iommu_mappings), as a VMM replays or compares a domain: the
 * guest's MAP requests and the VMM's IOTLB_UPDATE both show, in IOVA
 * order, every entry exactly once, whatever the chunk size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1
#define EP2	2
#define D1	1
#define D2	2
#define VD	100

#define RD	VIRTIO_IOMMU_MAP_F_READ
#define WR	VIRTIO_IOMMU_MAP_F_WRITE
#define MMIO	VIRTIO_IOMMU_MAP_F_MMIO
#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_W	VHOST_IOMMU_ACCESS_WRITE
#define A_MMIO	VHOST_IOMMU_ACCESS_MMIO

#define PG	0x1000ULL
#define S_INVAL	VIRTIO_IOMMU_S_INVAL
#define S_RANGE	VIRTIO_IOMMU_S_RANGE

FIXTURE(maps) {
	struct vmm v;
	int fd;
};

FIXTURE_SETUP(maps)
{
	ASSERT_EQ(0, vmm_init(&self->v, NULL)) TH_LOG("%s", vt_errmsg);
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
}

FIXTURE_TEARDOWN(maps)
{
	vmm_fini(&self->v);
}

/* One GET_MAPPINGS call: 0 or -errno, @l updated */
static int list(int fd, struct vhost_iommu_mappings *l, uint32_t domain,
		uint64_t iova, struct vhost_iommu_iotlb_entry *e, uint32_t nr)
{
	*l = (struct vhost_iommu_mappings){
		.size = sizeof(*l), .domain = domain, .nr = nr, .iova = iova,
		.entries = (uintptr_t)e,
	};
	return vmm_ioctl(fd, VHOST_IOMMU_GET_MAPPINGS, l);
}

/* The guest's mappings of D1, deliberately made out of order */
static const struct {
	uint64_t start, end, phys;
	uint32_t flags, access;
} want[] = {
	{ 0x1000, 0x1fff, 0x400000, RD, A_R },
	{ 0x2000, 0x5fff, 0x500000, RD | WR, A_R | A_W },
	{ 0x10000, 0x10fff, 0x600000, WR, A_W },
	{ 0x200000, 0x3fffff, 0x800000, RD | WR, A_R | A_W },
	{ 0xfee00000, 0xfee00fff, 0xfee00000, RD | WR | MMIO,
	  A_R | A_W | A_MMIO },
	{ 0x100000000ULL, 0x100000fffULL, 0x700000, RD, A_R },
	{ 0xfffffffffffff000ULL, ~0ULL, 0x900000, RD, A_R },
};

static void map_all(struct __test_metadata *_metadata, struct vmm *v)
{
	static const unsigned int order[] = { 3, 0, 6, 2, 5, 1, 4 };
	unsigned int i, k;

	test_cmd_attach(v, D1, EP1, 0);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		k = order[i];
		test_cmd_map(v, D1, want[k].start, want[k].end, want[k].phys,
			     want[k].flags);
	}
}

/* Every chunk size lists everything, once, in order; @done at the end. */
TEST_F(maps, chunks)
{
	struct vhost_iommu_iotlb_entry e[8];
	struct vhost_iommu_mappings l;
	unsigned int chunk, got, i, calls;
	uint64_t iova;

	map_all(_metadata, &self->v);
	for (chunk = 1; chunk <= 8; chunk++) {
		got = 0;
		iova = 0;
		for (calls = 0; calls < 16; calls++) {
			test_cmd(list(self->fd, &l, D1, iova, e, chunk));
			EXPECT_EQ(sizeof(l), l.size);
			EXPECT_EQ(0, l.domain_flags);
			ASSERT_GE(chunk, l.nr);
			for (i = 0; i < l.nr; i++, got++) {
				ASSERT_GT(ARRAY_SIZE(want), got);
				EXPECT_EQ(want[got].start, e[i].iova);
				EXPECT_EQ(want[got].end - want[got].start + 1,
					  e[i].size);
				EXPECT_EQ(want[got].phys, e[i].gpa);
				EXPECT_EQ(want[got].access, e[i].perm);
				EXPECT_EQ(0, e[i].__reserved);
			}
			iova = l.iova;
			if (l.done)
				break;
			/* Not done: a full chunk was listed */
			EXPECT_EQ(chunk, l.nr);
		}
		EXPECT_EQ(ARRAY_SIZE(want), got) TH_LOG("chunk %u", chunk);
		EXPECT_EQ(1, l.done);
	}
}

/* The listing starts at the mapping that holds @iova, or after it. */
TEST_F(maps, start_inside_and_between)
{
	struct vhost_iommu_iotlb_entry e[2];
	struct vhost_iommu_mappings l;

	map_all(_metadata, &self->v);
	test_cmd(list(self->fd, &l, D1, 0x3000, e, 2));
	ASSERT_EQ(2, l.nr);
	EXPECT_EQ(0x2000, e[0].iova);
	EXPECT_EQ(0x10000, e[1].iova);
	EXPECT_EQ(0x11000, l.iova);
	EXPECT_EQ(0, l.done);
	test_cmd(list(self->fd, &l, D1, 0x6000, e, 1));
	ASSERT_EQ(1, l.nr);
	EXPECT_EQ(0x10000, e[0].iova);
	/* The last one, at the top: done, and the cursor wraps to 0 */
	test_cmd(list(self->fd, &l, D1, 0xfffffffffffff800ULL, e, 2));
	ASSERT_EQ(1, l.nr);
	EXPECT_EQ(0xfffffffffffff000ULL, e[0].iova);
	EXPECT_EQ(1, l.done);
	EXPECT_EQ(0, l.iova);
}

/*
 * A mapping that ends at 2^64 - 1 ends the listing, even with room left;
 * past the last mapping there is nothing.
 */
TEST_F(maps, top_of_address_space)
{
	struct vhost_iommu_iotlb_entry e[4];
	struct vhost_iommu_mappings l;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0xfffffffffffff000ULL, ~0ULL, 0x900000, RD);
	test_cmd_map(&self->v, D1, 0x1000, 0x1fff, 0x400000, RD);
	test_cmd(list(self->fd, &l, D1, 0, e, 4));
	ASSERT_EQ(2, l.nr);
	EXPECT_EQ(PG, e[1].size);
	EXPECT_EQ(1, l.done);
	test_cmd_unmap(&self->v, D1, 0xfffffffffffff000ULL, ~0ULL);
	test_cmd(list(self->fd, &l, D1, 0x2000, e, 4));
	EXPECT_EQ(0, l.nr);
	EXPECT_EQ(1, l.done);
}

/* An empty domain and a bypass domain: nothing; their flags. */
TEST_F(maps, empty_and_bypass)
{
	struct vhost_iommu_iotlb_entry e[1];
	struct vhost_iommu_mappings l;

	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd(list(self->fd, &l, D1, 0, e, 1));
	EXPECT_EQ(0, l.nr);
	EXPECT_EQ(1, l.done);
	EXPECT_EQ(0, l.domain_flags);
	test_cmd_attach(&self->v, D2, EP2, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_cmd(list(self->fd, &l, D2, 0, e, 1));
	EXPECT_EQ(0, l.nr);
	EXPECT_EQ(1, l.done);
	EXPECT_EQ(VHOST_IOMMU_DOMAIN_F_BYPASS, l.domain_flags);
}

/* A VMM-managed domain lists what IOTLB_UPDATE wrote. */
TEST_F(maps, vmm_domain)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .endpoint = EP2, .domain = VD,
	};
	struct vhost_iommu_iotlb_entry in[2] = {
		{ .iova = 0x40000, .size = 2 * PG, .gpa = 0x300000,
		  .perm = A_R | A_W },
		{ .iova = 0x10000, .size = PG, .gpa = 0x200000, .perm = A_W },
	}, e[4];
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = VD, .nr = 2,
		.entries = (uintptr_t)in,
	};
	struct vhost_iommu_mappings l;

	test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
	test_cmd_ioctl(self->fd, VHOST_IOMMU_IOTLB_UPDATE, &b);
	test_cmd(list(self->fd, &l, VD, 0, e, 4));
	EXPECT_EQ(VHOST_IOMMU_DOMAIN_F_VMM, l.domain_flags);
	ASSERT_EQ(2, l.nr);
	EXPECT_EQ(1, l.done);
	EXPECT_EQ(0, memcmp(&in[1], &e[0], sizeof(e[0])));
	EXPECT_EQ(0, memcmp(&in[0], &e[1], sizeof(e[1])));
}

/* Arguments: each refusal with its errno, and nothing written. */
TEST_F(maps, refused)
{
	struct vhost_iommu_iotlb_entry e[2];
	struct vhost_iommu_mappings l;
	void *page;

	map_all(_metadata, &self->v);
	memset(e, 0x5a, sizeof(e));
	test_err(ENOENT, list(self->fd, &l, D2, 0, e, 2));
	test_err(EINVAL, list(self->fd, &l, D1, 0, e, 0));
	test_err(E2BIG, list(self->fd, &l, D1, 0, e,
			     VHOST_IOMMU_IOTLB_MAX_BATCH + 1));
	test_err(E2BIG, list(self->fd, &l, D1, 0, e, ~0U));
	l = (struct vhost_iommu_mappings){
		.size = sizeof(l), .domain = D1, .nr = 2,
		.entries = (uintptr_t)e, .done = 1,
	};
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_GET_MAPPINGS, &l);
	l.done = 0;
	l.domain_flags = 1;
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_GET_MAPPINGS, &l);
	EXPECT_EQ(0x5a5a5a5a, e[0].perm);
	/* Entries at an address that cannot be written */
	page = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	test_err(EFAULT, list(self->fd, &l, D1, 0, page, 2));
	test_err(EFAULT, list(self->fd, &l, D1, 0, (void *)16, 2));
	munmap(page, PG);
}

/* The largest chunk there is: accepted, the whole domain in one call. */
TEST_F(maps, largest_chunk)
{
	struct vhost_iommu_iotlb_entry *e;
	struct vhost_iommu_mappings l;

	e = calloc(VHOST_IOMMU_IOTLB_MAX_BATCH, sizeof(*e));
	ASSERT_NE(NULL, e);
	map_all(_metadata, &self->v);
	test_cmd(list(self->fd, &l, D1, 0, e, VHOST_IOMMU_IOTLB_MAX_BATCH));
	EXPECT_EQ(ARRAY_SIZE(want), l.nr);
	EXPECT_EQ(1, l.done);
	free(e);
}

/*
 * The tree by IOVA (store.c): adjacent one-page mappings made out of
 * order from IOVA 0, and one at the top of the 64-bit space. Every
 * listing, translation and UNMAP agrees with a model of them: UNMAPs of
 * runs of adjacent mappings starting and ending on their boundaries, ones
 * that would split a mapping at either end (nothing removed), the mapping
 * at IOVA 0 alone and a range up to 2^64 - 1.
 */
#define TREE_N		200
#define TREE_TOP	0xfffffffffffff000ULL
#define TREE_PHYS(i)	(0x100000ULL + (uint64_t)(i) * PG)

struct tree_model {
	bool page[TREE_N];
	bool top;
};

static unsigned int tree_count(const struct tree_model *m)
{
	unsigned int i, n = m->top;

	for (i = 0; i < TREE_N; i++)
		n += m->page[i];
	return n;
}

static void tree_check(struct __test_metadata *_metadata, struct vmm *v,
		       const struct tree_model *m, uint32_t chunk)
{
	struct vhost_iommu_iotlb_entry e[64];
	struct vhost_iommu_translate t;
	struct vhost_iommu_mappings l;
	unsigned int i = 0, k, calls;
	uint64_t iova = 0;
	int ret;

	ASSERT_GE(ARRAY_SIZE(e), chunk);
	EXPECT_EQ(tree_count(m), vmm_stats(v->fd).mappings);
	for (calls = 0; calls <= TREE_N + 1; calls++) {
		test_cmd(list(v->fd, &l, D1, iova, e, chunk));
		ASSERT_GE(chunk, l.nr);
		for (k = 0; k < l.nr; k++) {
			while (i < TREE_N && !m->page[i])
				i++;
			if (i < TREE_N) {
				EXPECT_EQ(i * PG, e[k].iova);
				EXPECT_EQ(PG, e[k].size);
				EXPECT_EQ(TREE_PHYS(i), e[k].gpa);
				i++;
			} else {
				ASSERT_TRUE(m->top);
				EXPECT_EQ(TREE_TOP, e[k].iova);
				EXPECT_EQ(PG, e[k].size);
				i++;
			}
		}
		iova = l.iova;
		if (l.done)
			break;
		EXPECT_EQ(chunk, l.nr);
	}
	ASSERT_EQ(1, l.done);
	while (i < TREE_N && !m->page[i])
		i++;
	/* Everything listed: past the pages, and the top if there is one */
	EXPECT_EQ(TREE_N + m->top, i) TH_LOG("chunk %u", chunk);
	for (i = 0; i < TREE_N; i++) {
		ret = vmm_translate(v->fd, EP1, i * PG + (i % 2 ? PG - 1 : 0),
				    A_R, 0, &t);
		if (!m->page[i]) {
			EXPECT_EQ(-ENOENT, ret) TH_LOG("page %u", i);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("page %u", i);
		EXPECT_EQ(i * PG, t.start);
		EXPECT_EQ(i * PG + PG - 1, t.last);
		EXPECT_EQ(TREE_PHYS(i), t.phys);
	}
	EXPECT_EQ(m->top ? 0 : -ENOENT,
		  vmm_translate(v->fd, EP1, ~0ULL, A_R, 0, NULL));
	EXPECT_EQ(-ENOENT,
		  vmm_translate(v->fd, EP1, TREE_N * PG, A_R, 0, NULL));
}

static void tree_unmap(struct __test_metadata *_metadata, struct vmm *v,
		       struct tree_model *m, unsigned int first,
		       unsigned int last)
{
	unsigned int i;

	test_cmd_unmap(v, D1, first * PG, (last + 1) * PG - 1);
	for (i = first; i <= last; i++)
		m->page[i] = false;
}

TEST_F(maps, tree_adjacent)
{
	struct tree_model m = {};
	unsigned int i, k;

	test_cmd_attach(&self->v, D1, EP1, 0);
	/* 7 is prime to TREE_N: every page once, far from in order */
	for (i = 0; i < TREE_N; i++) {
		k = (i * 7 + 3) % TREE_N;
		test_cmd_map(&self->v, D1, k * PG, k * PG + PG - 1,
			     TREE_PHYS(k), RD);
		m.page[k] = true;
		if (i == TREE_N / 2) {
			test_cmd_map(&self->v, D1, TREE_TOP, ~0ULL, 0x900000,
				     RD);
			m.top = true;
		}
	}
	tree_check(_metadata, &self->v, &m, 1);
	tree_check(_metadata, &self->v, &m, 3);
	tree_check(_metadata, &self->v, &m, 64);

	/* Overlaps with the neighbours on either side are refused */
	test_err_map(S_INVAL, &self->v, D1, 5 * PG, 6 * PG - 1, 0, RD);
	test_err_map(S_INVAL, &self->v, D1, 0, PG - 1, 0, RD);
	test_err_map(S_INVAL, &self->v, D1, TREE_TOP, ~0ULL, 0, RD);
	test_err_map(S_INVAL, &self->v, D1, (TREE_N - 1) * PG, ~0ULL, 0, RD);
	test_err_map(S_INVAL, &self->v, D1, TREE_N * PG, ~0ULL, 0, RD);

	/* Runs of adjacent mappings, on their boundaries */
	tree_unmap(_metadata, &self->v, &m, 10, 19);
	tree_unmap(_metadata, &self->v, &m, 0, 0);
	tree_unmap(_metadata, &self->v, &m, 1, 1);
	tree_unmap(_metadata, &self->v, &m, 100, 163);
	tree_check(_metadata, &self->v, &m, 3);

	/* Ranges that would split a mapping at one end remove nothing */
	test_err_unmap(S_RANGE, &self->v, D1, 30 * PG, 40 * PG - 0x801);
	test_err_unmap(S_RANGE, &self->v, D1, 40 * PG + 0x800, 50 * PG - 1);
	test_err_unmap(S_RANGE, &self->v, D1, 2 * PG + 1, 2 * PG + 2);
	test_err_unmap(S_RANGE, &self->v, D1, 50 * PG, ~0ULL - 1);
	test_err_unmap(S_RANGE, &self->v, D1, 2 * PG + 1, ~0ULL);
	tree_check(_metadata, &self->v, &m, 1);

	/* Across holes and up to 2^64 - 1: the top one goes too */
	test_cmd_unmap(&self->v, D1, 150 * PG, ~0ULL);
	for (i = 150; i < TREE_N; i++)
		m.page[i] = false;
	m.top = false;
	tree_check(_metadata, &self->v, &m, 64);

	/* A range that meets nothing, then back at IOVA 0 and at the top */
	test_cmd_unmap(&self->v, D1, 10 * PG, 20 * PG - 1);
	test_cmd_map(&self->v, D1, 0, PG - 1, TREE_PHYS(0), RD);
	m.page[0] = true;
	test_cmd_map(&self->v, D1, TREE_TOP, ~0ULL, 0x900000, RD);
	m.top = true;
	tree_check(_metadata, &self->v, &m, 2);

	test_cmd_unmap(&self->v, D1, 0, ~0ULL);
	EXPECT_EQ(0, vmm_stats(self->fd).mappings);
	memset(&m, 0, sizeof(m));
	tree_check(_metadata, &self->v, &m, 8);
}

TEST_HARNESS_MAIN
