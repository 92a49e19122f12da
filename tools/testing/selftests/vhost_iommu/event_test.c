// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the event queue ("Event queue" of
 * Documentation/requests.md). Fault reports are provoked with
 * VHOST_IOMMU_TRANSLATE and VHOST_IOMMU_TRANSLATE_F_REPORT, which returns
 * only once the report is posted or dropped: the tests look at the event
 * queue right after the ioctl, without waiting.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1	/* attached to D1: [0x10000, 0x1ffff] read-only */
#define EP2	2	/* not attached */
#define EP3	3	/* attached to a bypass domain */
#define D1	1
#define D3	3
#define EVQ	VHOST_IOMMU_VQ_EVENT

#define A_R	VHOST_IOMMU_ACCESS_READ
#define A_W	VHOST_IOMMU_ACCESS_WRITE
#define REPORT	VHOST_IOMMU_TRANSLATE_F_REPORT

#define F_R	VIRTIO_IOMMU_FAULT_F_READ
#define F_W	VIRTIO_IOMMU_FAULT_F_WRITE
#define F_ADDR	VIRTIO_IOMMU_FAULT_F_ADDRESS

FIXTURE(ev) {
	struct vmm v;
	int fd;
	struct vhost_iommu_stats s0;
};

FIXTURE_SETUP(ev)
{
	test_cmd(vmm_init(&self->v, NULL));
	self->fd = self->v.fd;
	test_cmd_add_endpoint(self->fd, EP1, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP2, NULL, 0);
	test_cmd_add_endpoint(self->fd, EP3, NULL, 0);
	test_cmd_attach(&self->v, D1, EP1, 0);
	test_cmd_map(&self->v, D1, 0x10000, 0x1ffff, 0x100000,
		     VIRTIO_IOMMU_MAP_F_READ);
	test_cmd_attach(&self->v, D3, EP3, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_cmd_get_stats(self->fd, &self->s0);
}

FIXTURE_TEARDOWN(ev)
{
	vmm_fini(&self->v);
}

/* The next report, which must be there already */
static void expect_report(struct __test_metadata *_metadata, struct vmm *v,
			  uint8_t reason, uint32_t flags, uint32_t ep,
			  uint64_t addr)
{
	struct virtio_iommu_fault f;
	uint32_t len;

	ASSERT_EQ(0, vmm_event_read(v, &f, &len, 0))
		TH_LOG("no report in the event queue");
	EXPECT_EQ(sizeof(f), len);
	EXPECT_EQ(reason, f.reason);
	EXPECT_EQ(flags, le32toh(f.flags));
	EXPECT_EQ(ep, le32toh(f.endpoint));
	EXPECT_EQ(addr, le64toh(f.address));
	EXPECT_EQ(0, f.reserved[0] | f.reserved[1] | f.reserved[2]);
	EXPECT_EQ(0, f.reserved2[0] | f.reserved2[1] | f.reserved2[2] |
		     f.reserved2[3]);
}

static void expect_no_report(struct __test_metadata *_metadata,
			     struct vmm *v)
{
	struct virtio_iommu_fault f;
	uint32_t len;

	EXPECT_EQ(-EAGAIN, vmm_event_read(v, &f, &len, 0));
}

TEST_F(ev, fault_unmapped_read)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT,
					 NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x50000);
	EXPECT_EQ(self->s0.faults + 1, vmm_stats(self->fd).faults);
	EXPECT_EQ(self->s0.faults_dropped, vmm_stats(self->fd).faults_dropped);
}

TEST_F(ev, fault_unmapped_read_write)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x20123, A_R | A_W,
					 REPORT, NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_W | F_ADDR, EP1, 0x20123);
}

/* A write through a mapping without MAP_F_WRITE */
TEST_F(ev, fault_permission)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(-EACCES, vmm_translate(self->fd, EP1, 0x18000, A_W, REPORT,
					 NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_W | F_ADDR, EP1, 0x18000);
}

TEST_F(ev, fault_domain)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, 0x18000, A_R, REPORT,
					NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_DOMAIN,
		      F_R | F_ADDR, EP2, 0x18000);
	EXPECT_EQ(self->s0.faults + 1, vmm_stats(self->fd).faults);
}

TEST_F(ev, no_fault_without_report_flag)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x50000, A_R, 0, NULL));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, 0x50000, A_R, 0, NULL));
	expect_no_report(_metadata, &self->v);
	EXPECT_EQ(self->s0.faults, vmm_stats(self->fd).faults);
}

TEST_F(ev, no_fault_on_success)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x10000, A_R, REPORT, NULL));
	EXPECT_EQ(0, vmm_translate(self->fd, EP3, 0x50000, A_R | A_W, REPORT,
				   NULL));
	expect_no_report(_metadata, &self->v);
	EXPECT_EQ(self->s0.faults, vmm_stats(self->fd).faults);
}

TEST_F(ev, no_fault_in_bypass_config)
{
	test_cmd(vmm_event_post(&self->v, 4, 24));
	test_cmd_set_bypass(self->fd, 1);
	EXPECT_EQ(0, vmm_translate(self->fd, EP2, 0x50000, A_W, REPORT, NULL));
	expect_no_report(_metadata, &self->v);
}

/* With no buffer the report is dropped; requests go on. */
TEST_F(ev, dropped_without_buffer)
{
	struct vhost_iommu_stats s;

	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT,
					 NULL));
	s = vmm_stats(self->fd);
	EXPECT_EQ(self->s0.faults_dropped + 1, s.faults_dropped);
	EXPECT_EQ(self->s0.faults, s.faults);
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, 0x50000, A_R, REPORT,
					NULL));
	EXPECT_EQ(self->s0.faults_dropped + 2, vmm_stats(self->fd).faults_dropped);
	/* The request queue does not wait for the event queue */
	test_cmd_map(&self->v, D1, 0x50000, 0x50fff, 0, 1);
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT, NULL));
	/* A buffer posted later takes the next report, not the old ones */
	test_cmd(vmm_event_post(&self->v, 1, 24));
	expect_no_report(_metadata, &self->v);
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x60000, A_R, REPORT,
					 NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x60000);
}

TEST_F_TIMEOUT(ev, dropped_many, 120)
{
	unsigned int i;

	for (i = 0; i < 1000; i++)
		test_err_translate(ENOENT, self->fd, EP1, 0x50000 + i,
				   A_R, REPORT, NULL);
	EXPECT_EQ(self->s0.faults_dropped + 1000,
		  vmm_stats(self->fd).faults_dropped);
	test_cmd_attach(&self->v, D1, EP2, 0);
}

/* Without an event queue at all */
TEST(no_event_queue)
{
	struct vmm_opts o = { .no_event_ring = true };
	struct vhost_iommu_stats s;
	struct vmm v;

	test_cmd(vmm_init(&v, &o));
	test_cmd_add_endpoint(v.fd, EP1, NULL, 0);
	EXPECT_EQ(-ENXIO, vmm_translate(v.fd, EP1, 0, A_R, REPORT, NULL));
	test_cmd_get_stats(v.fd, &s);
	EXPECT_EQ(1, s.faults_dropped);
	EXPECT_EQ(0, s.faults);
	test_cmd_attach(&v, D1, EP1, 0);
	vmm_fini(&v);
}

TEST_F(ev, reports_in_ring_order)
{
	static const uint64_t addr[] = { 0x50000, 0x1000, 0xdead000, 0x70000 };
	struct vq *vq = &self->v.vq[EVQ];
	unsigned int i;
	uint16_t first;

	test_cmd(vmm_event_post(&self->v, 4, 24));
	first = vq->last_used;
	for (i = 0; i < 4; i++)
		test_err_translate(ENOENT, self->fd, EP1, addr[i], A_R,
				   REPORT, NULL);
	/* Used entries in posting order, each in its own buffer */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(vq->avail->ring[(first + i) % vq->num],
			  vq->used->ring[(first + i) % vq->num].id);
	for (i = 0; i < 4; i++)
		expect_report(_metadata, &self->v,
			      VIRTIO_IOMMU_FAULT_R_MAPPING, F_R | F_ADDR, EP1,
			      addr[i]);
	expect_no_report(_metadata, &self->v);
	EXPECT_EQ(self->s0.faults + 4, vmm_stats(self->fd).faults);
}

TEST_F(ev, more_faults_than_buffers)
{
	struct vhost_iommu_stats s;
	unsigned int i;

	test_cmd(vmm_event_post(&self->v, 2, 24));
	for (i = 0; i < 3; i++)
		test_err_translate(ENOENT, self->fd, EP1, 0x50000 + i *
						 0x1000, A_R, REPORT, NULL);
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x50000);
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x51000);
	expect_no_report(_metadata, &self->v);
	s = vmm_stats(self->fd);
	EXPECT_EQ(self->s0.faults + 2, s.faults);
	EXPECT_EQ(self->s0.faults_dropped + 1, s.faults_dropped);
}

TEST_F(ev, longer_buffer)
{
	struct vq *vq = &self->v.vq[EVQ];
	uint16_t head;
	uint8_t *b;
	unsigned int i;

	test_cmd(vmm_event_post(&self->v, 1, 64));
	head = vq->avail->ring[(vq->avail_idx - 1) % vq->num];
	b = vmm_ptr(&self->v, vq->shadow[head].wr_gpa);
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT,
					 NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x50000);
	for (i = 24; i < 64; i++)
		ASSERT_EQ(VMM_PATTERN, b[i]) TH_LOG("byte %u written", i);
}

TEST_F(ev, short_buffer)
{
	struct vq *vq = &self->v.vq[EVQ];
	struct virtio_iommu_fault f;
	uint16_t head;
	uint32_t len;
	uint8_t *b;
	unsigned int i;

	test_cmd(vmm_event_post(&self->v, 1, 16));
	head = vq->avail->ring[(vq->avail_idx - 1) % vq->num];
	b = vmm_ptr(&self->v, vq->shadow[head].wr_gpa);
	vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT, NULL);
	ASSERT_EQ(0, vmm_event_read(&self->v, &f, &len, VMM_TIMEOUT_MS));
	EXPECT_EQ(0, len);
	for (i = 0; i < 16; i++)
		ASSERT_EQ(VMM_PATTERN, b[i]) TH_LOG("byte %u written", i);
	EXPECT_EQ(0, self->v.vq[EVQ].used->ring[0].len);
}

/* A report across two descriptors of one buffer, in both regions */
TEST_F(ev, split_buffer)
{
	struct vmm_seg s[2] = {
		{ VMM_REGION_SIZE - 10, 10, true },
		{ VMM_DATA1_GPA + 0x10000, 14, true },
	};
	struct virtio_iommu_fault f;
	uint8_t *p0 = vmm_ptr(&self->v, s[0].gpa);
	uint8_t *p1 = vmm_ptr(&self->v, s[1].gpa);
	uint32_t len;

	ASSERT_LE(0, vmm_post(&self->v, EVQ, s, 2, false));
	test_cmd(vmm_kick(&self->v, EVQ));
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP2, 0x1234567000ULL,
					A_R | A_W, REPORT, NULL));
	ASSERT_EQ(0, vmm_event_read(&self->v, &f, &len, 0));
	EXPECT_EQ(24, len);
	memcpy(&f, p0, 10);
	memcpy((uint8_t *)&f + 10, p1, 14);
	EXPECT_EQ(VIRTIO_IOMMU_FAULT_R_DOMAIN, f.reason);
	EXPECT_EQ(F_R | F_W | F_ADDR, le32toh(f.flags));
	EXPECT_EQ(EP2, le32toh(f.endpoint));
	EXPECT_EQ(0x1234567000ULL, le64toh(f.address));
}

/* The event queue's call eventfd is signalled for a report */
TEST_F(ev, report_signalled)
{
	struct pollfd p = { .fd = self->v.vq[EVQ].call, .events = POLLIN };

	test_cmd(vmm_event_post(&self->v, 1, 24));
	vq_drain_fd(p.fd, NULL);
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x50000, A_R, REPORT,
					 NULL));
	EXPECT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
}

/* A fault after the endpoint's domain died reports DOMAIN */
TEST_F(ev, fault_after_detach)
{
	test_cmd(vmm_event_post(&self->v, 2, 24));
	EXPECT_EQ(0, vmm_translate(self->fd, EP1, 0x10000, A_R, REPORT, NULL));
	test_cmd_detach(&self->v, D1, EP1);
	EXPECT_EQ(-ENXIO, vmm_translate(self->fd, EP1, 0x10000, A_R, REPORT,
					NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_DOMAIN,
		      F_R | F_ADDR, EP1, 0x10000);
}

/* After UNMAP the range is unreachable: MAPPING fault */
TEST_F(ev, fault_after_unmap)
{
	test_cmd(vmm_event_post(&self->v, 2, 24));
	test_cmd_unmap(&self->v, D1, 0, ~0ULL);
	EXPECT_EQ(-ENOENT, vmm_translate(self->fd, EP1, 0x10000, A_R, REPORT,
					 NULL));
	expect_report(_metadata, &self->v, VIRTIO_IOMMU_FAULT_R_MAPPING,
		      F_R | F_ADDR, EP1, 0x10000);
}

TEST_HARNESS_MAIN
