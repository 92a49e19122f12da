// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the report channel (include/uapi/linux/
 * vhost_iommu.h, "report channel"). The guest's ATTACH, DETACH, MAP and
 * UNMAP that concern an endpoint added with VHOST_IOMMU_ENDPOINT_F_REPORT
 * are executed, reported as one record and held until the VMM answers;
 * the answer's status is the guest's. Requests stay in ring order, a
 * failed MAP is undone, no channel or a closed one is DEVERR, and a VMM
 * that never answers blocks neither reset nor release.
 *
 * The guest's requests that wait for an answer are posted without waiting
 * (vmm_req_post()); the test then reads the record, as the VMM would, and
 * answers it. Every wait is a hang guard (VMM_TIMEOUT_MS), never a
 * measurement.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EPR	1	/* a REPORT endpoint (VFIO) */
#define EPN	2	/* an ordinary endpoint */
#define D1	1
#define D2	2

#define RD	VIRTIO_IOMMU_MAP_F_READ
#define WR	VIRTIO_IOMMU_MAP_F_WRITE
#define PG	0x1000ULL
#define RQ	VHOST_IOMMU_VQ_REQUEST

static int add_ep_flags(int fd, uint32_t ep, uint32_t flags)
{
	struct vhost_iommu_endpoint e = {
		.size = sizeof(e), .flags = flags, .endpoint = ep,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_ADD_ENDPOINT, &e);
}

/* VHOST_IOMMU_REPORT_OPEN: the channel's fd, or -errno */
static int report_open(int fd)
{
	struct vhost_iommu_report_open o = { .size = sizeof(o), .fd = -1 };
	int ret;

	ret = vmm_ioctl(fd, VHOST_IOMMU_REPORT_OPEN, &o);
	return ret ? ret : o.fd;
}

/* The next record, waiting for it (a hang guard): 0 or -errno */
static int report_wait(int rfd, struct vhost_iommu_report *rec)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, VMM_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	n = read(rfd, rec, sizeof(*rec));
	if (n < 0)
		return -errno;
	return n == sizeof(*rec) ? 0 : -EPROTO;
}

static int report_answer(int rfd, uint64_t seq, uint32_t status)
{
	struct vhost_iommu_report_answer a = {
		.size = sizeof(a), .status = status, .seq = seq,
	};
	ssize_t n = write(rfd, &a, sizeof(a));

	if (n < 0)
		return -errno;
	return n == sizeof(a) ? 0 : -EPROTO;
}

/* A read that must fail: -errno */
static int report_read_err(int rfd, size_t len)
{
	uint8_t buf[2 * sizeof(struct vhost_iommu_report)];

	return read(rfd, buf, len) < 0 ? -errno : 0;
}

/* Posts a request and kicks, without waiting for it */
static int post(struct vmm *v, struct vmm_req *r, const void *body,
		uint32_t len)
{
	int ret = vmm_req_prepare(v, r, body, len, 4);

	if (!ret)
		ret = vmm_req_post(v, r);
	if (!ret)
		ret = vmm_kick(v, RQ);
	return ret;
}

static int post_attach(struct vmm *v, struct vmm_req *r, uint32_t domain,
		       uint32_t ep, uint32_t flags)
{
	struct virtio_iommu_req_attach a;

	vmm_mk_attach(&a, domain, ep, flags);
	return post(v, r, &a, VMM_ATTACH_LEN);
}

static int post_detach(struct vmm *v, struct vmm_req *r, uint32_t domain,
		       uint32_t ep)
{
	struct virtio_iommu_req_detach d;

	vmm_mk_detach(&d, domain, ep);
	return post(v, r, &d, VMM_DETACH_LEN);
}

static int post_map(struct vmm *v, struct vmm_req *r, uint32_t domain,
		    uint64_t start, uint64_t end, uint64_t phys, uint32_t flags)
{
	struct virtio_iommu_req_map m;

	vmm_mk_map(&m, domain, start, end, phys, flags);
	return post(v, r, &m, VMM_MAP_LEN);
}

static int post_unmap(struct vmm *v, struct vmm_req *r, uint32_t domain,
		      uint64_t start, uint64_t end)
{
	struct virtio_iommu_req_unmap u;

	vmm_mk_unmap(&u, domain, start, end);
	return post(v, r, &u, VMM_UNMAP_LEN);
}

/* The held request's status, once answered: the status or -errno */
static int complete(struct vmm *v, struct vmm_req *r)
{
	int ret = vmm_req_complete(v, r);

	if (ret)
		return ret;
	return r->used_len == 4 ? r->status : -EPROTO;
}

FIXTURE(rep) {
	struct vmm v;
	int fd;
	int rfd;
};

FIXTURE_SETUP(rep)
{
	self->rfd = -1;
	ASSERT_EQ(0, vmm_init(&self->v, NULL)) TH_LOG("%s", vt_errmsg);
	self->fd = self->v.fd;
	test_cmd(add_ep_flags(self->fd, EPR, VHOST_IOMMU_ENDPOINT_F_REPORT));
	test_cmd_add_endpoint(self->fd, EPN, NULL, 0);
	self->rfd = report_open(self->fd);
	ASSERT_LE(0, self->rfd) TH_LOG("%s", vt_errmsg);
}

FIXTURE_TEARDOWN(rep)
{
	if (self->rfd >= 0)
		close(self->rfd);
	vmm_fini(&self->v);
}

/* Posts an ATTACH of @ep, answers it OK, checks the guest's OK */
#define attach_answered(ep, domain) do {				\
	struct vhost_iommu_report __rec;				\
	struct vmm_req __r;						\
	test_cmd(post_attach(&self->v, &__r, (domain), (ep), 0));	\
	test_cmd(report_wait(self->rfd, &__rec));			\
	ASSERT_EQ(VHOST_IOMMU_REPORT_T_ATTACH, __rec.type);		\
	test_cmd(report_answer(self->rfd, __rec.seq, 0));		\
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &__r));	\
} while (0)

/* One record per type, with the request's fields; seq increasing. */
TEST_F(rep, records_each_type)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;
	uint64_t phys;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(sizeof(rec), rec.size);
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_ATTACH, rec.type);
	EXPECT_EQ(0, rec.flags);
	EXPECT_EQ(1, rec.seq);
	EXPECT_EQ(D1, rec.domain);
	EXPECT_EQ(EPR, rec.endpoint);
	EXPECT_EQ(0, rec.virt_start);
	EXPECT_EQ(0, rec.virt_end);
	EXPECT_EQ(0, rec.phys_start);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));

	test_cmd(post_map(&self->v, &r, D1, 0x10000, 0x11fff, 0x400000,
			  RD | WR));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_MAP, rec.type);
	EXPECT_EQ(RD | WR, rec.flags);
	EXPECT_EQ(2, rec.seq);
	EXPECT_EQ(D1, rec.domain);
	EXPECT_EQ(0, rec.endpoint);
	EXPECT_EQ(0x10000, rec.virt_start);
	EXPECT_EQ(0x11fff, rec.virt_end);
	EXPECT_EQ(0x400000, rec.phys_start);
	/* Executed in the kernel already: the VMM may translate it */
	test_cmd(vmm_translate_phys(self->fd, EPR, 0x11000, &phys));
	EXPECT_EQ(0x401000, phys);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));

	test_cmd(post_unmap(&self->v, &r, D1, 0x10000, 0x11fff));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_UNMAP, rec.type);
	EXPECT_EQ(0, rec.flags);
	EXPECT_EQ(3, rec.seq);
	EXPECT_EQ(D1, rec.domain);
	EXPECT_EQ(0x10000, rec.virt_start);
	EXPECT_EQ(0x11fff, rec.virt_end);
	EXPECT_EQ(0, rec.phys_start);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));

	test_cmd(post_detach(&self->v, &r, D1, EPR));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_DETACH, rec.type);
	EXPECT_EQ(4, rec.seq);
	EXPECT_EQ(D1, rec.domain);
	EXPECT_EQ(EPR, rec.endpoint);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	EXPECT_EQ(0, vmm_stat(self->fd, domains));

	test_cmd(post_attach(&self->v, &r, D2, EPR,
			     VIRTIO_IOMMU_ATTACH_F_BYPASS));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_ATTACH, rec.type);
	EXPECT_EQ(VIRTIO_IOMMU_ATTACH_F_BYPASS, rec.flags);
	EXPECT_EQ(D2, rec.domain);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
}

/*
 * An ordinary endpoint's requests are not reported, the channel open or
 * not; failed requests of a REPORT endpoint are not either.
 */
TEST_F(rep, others_not_reported)
{
	struct vhost_iommu_report rec;

	test_cmd_attach(&self->v, D1, EPN, 0);
	test_cmd_map(&self->v, D1, 0, PG - 1, 0x400000, RD);
	test_cmd_unmap(&self->v, D1, 0, PG - 1);
	test_cmd_detach(&self->v, D1, EPN);
	/* Failures in the store: their status, no record */
	test_err_detach(VIRTIO_IOMMU_S_INVAL, &self->v, D1, EPR);
	test_err_attach(VIRTIO_IOMMU_S_INVAL, &self->v, D1, EPR, 1u << 5);
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
	close(self->rfd);
	self->rfd = -1;
	test_cmd_attach(&self->v, D1, EPN, 0);
	test_cmd_map(&self->v, D1, 0, PG - 1, 0x400000, RD);
	EXPECT_EQ(1, vmm_stat(self->fd, mappings));
}

/*
 * Ordering: of two MAPs posted together, the second is not executed (not
 * translatable, tail untouched) until the first is answered; one record
 * at a time.
 */
TEST_F(rep, ordering)
{
	struct vhost_iommu_report rec;
	struct vmm_req r1, r2;
	uint64_t phys;

	attach_answered(EPR, D1);
	{
		struct virtio_iommu_req_map m1, m2;

		vmm_mk_map(&m1, D1, 0x1000, 0x1fff, 0x400000, RD);
		vmm_mk_map(&m2, D1, 0x2000, 0x2fff, 0x500000, RD);
		test_cmd(vmm_req_prepare(&self->v, &r1, &m1, VMM_MAP_LEN, 4));
		test_cmd(vmm_req_prepare(&self->v, &r2, &m2, VMM_MAP_LEN, 4));
	}
	test_cmd(vmm_req_post(&self->v, &r1));
	test_cmd(vmm_req_post(&self->v, &r2));
	test_cmd(vmm_kick(&self->v, RQ));

	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_MAP, rec.type);
	EXPECT_EQ(0x1000, rec.virt_start);
	/* The first is done in the kernel, the second not even executed */
	test_cmd(vmm_translate_phys(self->fd, EPR, 0x1000, &phys));
	EXPECT_EQ(-ENOENT, vmm_translate_phys(self->fd, EPR, 0x2000, &phys));
	EXPECT_TRUE(vmm_wr_untouched(&r1));
	EXPECT_TRUE(vmm_wr_untouched(&r2));
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
	/* A kick changes nothing */
	test_cmd(vmm_kick(&self->v, RQ));
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
	EXPECT_TRUE(vmm_wr_untouched(&r2));

	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(0x2000, rec.virt_start);
	test_cmd(vmm_translate_phys(self->fd, EPR, 0x2000, &phys));
	EXPECT_EQ(0x500000, phys);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r1));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r2));
}

/*
 * The VMM's failure is the guest's status: a failed MAP is undone, a
 * failed UNMAP or ATTACH stays done in the kernel.
 */
TEST_F(rep, vmm_status)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;
	uint64_t phys;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(report_answer(self->rfd, rec.seq, VIRTIO_IOMMU_S_IOERR));
	test_status(VIRTIO_IOMMU_S_IOERR, complete(&self->v, &r));
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
	EXPECT_EQ(-ENOENT, vmm_translate_phys(self->fd, EPR, 0, &phys));

	test_cmd(post_map(&self->v, &r, D1, 0x1000, 0x1fff, 0x400000, RD));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(vmm_translate_phys(self->fd, EPR, 0x1000, &phys));
	test_cmd(report_answer(self->rfd, rec.seq, VIRTIO_IOMMU_S_NOMEM));
	test_status(VIRTIO_IOMMU_S_NOMEM, complete(&self->v, &r));
	EXPECT_EQ(-ENOENT, vmm_translate_phys(self->fd, EPR, 0x1000, &phys));
	EXPECT_EQ(0, vmm_stat(self->fd, mappings));

	/* The same range maps again, answered OK */
	test_cmd(post_map(&self->v, &r, D1, 0x1000, 0x1fff, 0x400000, RD));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));

	test_cmd(post_unmap(&self->v, &r, D1, 0x1000, 0x1fff));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(report_answer(self->rfd, rec.seq, VIRTIO_IOMMU_S_DEVERR));
	test_status(VIRTIO_IOMMU_S_DEVERR, complete(&self->v, &r));
	EXPECT_EQ(0, vmm_stat(self->fd, mappings));
}

/* No channel: DEVERR, nothing executed. */
TEST_F(rep, no_channel)
{
	uint64_t phys;

	attach_answered(EPR, D1);
	close(self->rfd);
	self->rfd = -1;
	test_err_map(VIRTIO_IOMMU_S_DEVERR, &self->v, D1, 0, PG - 1,
		     0x400000, RD);
	EXPECT_EQ(-ENOENT, vmm_translate_phys(self->fd, EPR, 0, &phys));
	EXPECT_EQ(0, vmm_stat(self->fd, mappings));
	test_err_detach(VIRTIO_IOMMU_S_DEVERR, &self->v, D1, EPR);
	test_err_attach(VIRTIO_IOMMU_S_DEVERR, &self->v, D2, EPR, 0);
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
	/* The domain still holds EPR: MAP and UNMAP there are refused too */
	test_cmd_attach(&self->v, D1, EPN, 0);
	test_err_unmap(VIRTIO_IOMMU_S_DEVERR, &self->v, D1, 0, ~0ULL);
	/* A channel opened again serves */
	self->rfd = report_open(self->fd);
	ASSERT_LE(0, self->rfd);
	attach_answered(EPR, D2);
	test_cmd_map(&self->v, D1, 0, PG - 1, 0x400000, RD);
}

/* The channel closed while a request is held: DEVERR, a MAP undone. */
TEST_F(rep, closed_while_held)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;
	uint64_t phys;

	attach_answered(EPR, D1);
	test_cmd(post_map(&self->v, &r, D1, 0x1000, 0x1fff, 0x400000, RD));
	test_cmd(report_wait(self->rfd, &rec));
	close(self->rfd);
	self->rfd = -1;
	test_status(VIRTIO_IOMMU_S_DEVERR, complete(&self->v, &r));
	EXPECT_EQ(-ENOENT, vmm_translate_phys(self->fd, EPR, 0x1000, &phys));
	EXPECT_EQ(0, vmm_stat(self->fd, mappings));

	/* ... and unread: the same */
	self->rfd = report_open(self->fd);
	ASSERT_LE(0, self->rfd);
	test_cmd(post_detach(&self->v, &r, D1, EPR));
	test_cmd(report_wait(self->rfd, &rec));
	close(self->rfd);
	self->rfd = -1;
	test_status(VIRTIO_IOMMU_S_DEVERR, complete(&self->v, &r));
}

/*
 * VHOST_IOMMU_RESET_DEVICE with a request held returns without an answer;
 * the answer then is EINVAL, the record gone, and the device serves again.
 */
TEST_F(rep, reset_while_held)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, rec.seq, 0));
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
	EXPECT_TRUE(vmm_wr_untouched(&r));
	EXPECT_EQ(0, vmm_stat(self->fd, domains));

	/* Unread this time */
	test_cmd(vmm_rings_restart(&self->v));
	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	{
		struct pollfd p = { .fd = self->rfd, .events = POLLIN };

		ASSERT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
	}
	test_cmd(vmm_reset_device(self->fd));
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));

	test_cmd(vmm_rings_restart(&self->v));
	test_cmd_attach(&self->v, D1, EPN, 0);
	test_cmd(post_attach(&self->v, &r, D2, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(3, rec.seq);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	EXPECT_EQ(2, vmm_stat(self->fd, domains));
}

/* Whether @rfd is hung up: poll() HUP and ERR, read() EOF, write() EPIPE */
#define expect_hung_up(rfd, seq) do {					\
	int __rfd = (rfd);						\
	struct pollfd __p = { .fd = __rfd, .events = POLLIN | POLLOUT };	\
	uint8_t __buf[sizeof(struct vhost_iommu_report)];		\
	EXPECT_EQ(1, poll(&__p, 1, 0));					\
	EXPECT_EQ(POLLHUP | POLLERR, __p.revents);			\
	EXPECT_EQ(0, read(__rfd, __buf, sizeof(__buf)));		\
	EXPECT_EQ(-EPIPE, report_answer(__rfd, (seq), 0));		\
} while (0)

/*
 * VHOST_RESET_OWNER with a request held returns without an answer and
 * hangs the channel up: its file sees no record of the next owner, whose
 * channel is a new one; the old file's release leaves that one alone.
 */
TEST_F(rep, reset_owner_hangs_up)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;
	int rfd2;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	expect_hung_up(self->rfd, rec.seq);
	EXPECT_TRUE(vmm_wr_untouched(&r));

	/* The next owner: the old file is no channel of its */
	test_cmd(vmm_setup(&self->v));
	EXPECT_EQ(0, vmm_stat(self->fd, domains));
	test_err_attach(VIRTIO_IOMMU_S_DEVERR, &self->v, D1, EPR, 0);
	expect_hung_up(self->rfd, rec.seq + 1);
	rfd2 = report_open(self->fd);
	ASSERT_LE(0, rfd2);
	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(rfd2, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_ATTACH, rec.type);
	expect_hung_up(self->rfd, rec.seq);
	/* The old file's release: the new channel's request stays held */
	EXPECT_EQ(0, close(self->rfd));
	self->rfd = rfd2;
	EXPECT_TRUE(vmm_wr_untouched(&r));
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	EXPECT_EQ(1, vmm_stat(self->fd, domains));
}

/* An unread record is gone with the owner: the old file reads EOF. */
TEST_F(rep, reset_owner_unread)
{
	struct pollfd p = { .fd = self->rfd, .events = POLLIN };
	struct vmm_req r;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	ASSERT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	expect_hung_up(self->rfd, 1);
	/* No owner, no channel */
	EXPECT_EQ(-EPERM, report_open(self->fd));
}

/*
 * The hang-up wakes the channel's waiters: epoll's ready list is filled
 * only by a wake-up, so an event seen without waiting proves it.
 */
TEST_F(rep, reset_owner_wakes)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->rfd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	ev.events = 0;
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLHUP | EPOLLERR, ev.events);
	close(ep);
}

/*
 * The device's release with a request held (and the channel open) does
 * not wait for the VMM; the channel's file outlives it, hung up.
 */
TEST_F(rep, release_while_held)
{
	struct vhost_iommu_report rec;
	struct vmm_req r;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	ASSERT_EQ(0, close(self->v.fd));
	self->v.fd = -1;
	expect_hung_up(self->rfd, rec.seq);
}

/*
 * VHOST_GET_VRING_BASE with a request held: it stays held, counted in the
 * index; the answer is applied when the queue runs again. SAVE_STATE is
 * EBUSY until the request completes.
 */
TEST_F(rep, stopped_while_held)
{
	uint8_t stream[16384];
	struct vhost_iommu_state st = {
		.size = sizeof(st), .buf = (uintptr_t)stream,
		.len = sizeof(stream),
	};
	struct vhost_iommu_report rec;
	unsigned int base, ebase;
	struct vmm_req r;

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	test_cmd(vmm_vq_stop(&self->v, VHOST_IOMMU_VQ_EVENT, &ebase));
	EXPECT_EQ(1, base);
	test_err_ioctl(EBUSY, self->fd, VHOST_IOMMU_SAVE_STATE, &st);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	/* Answered, not completed: the queue is stopped */
	test_err_ioctl(EBUSY, self->fd, VHOST_IOMMU_SAVE_STATE, &st);
	EXPECT_TRUE(vmm_wr_untouched(&r));

	test_cmd(vmm_vq_restart(&self->v, RQ, base));
	test_cmd(vmm_vq_restart(&self->v, VHOST_IOMMU_VQ_EVENT, ebase));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	test_cmd(vmm_vq_stop(&self->v, RQ, &base));
	test_cmd(vmm_vq_stop(&self->v, VHOST_IOMMU_VQ_EVENT, &ebase));
	test_cmd_ioctl(self->fd, VHOST_IOMMU_SAVE_STATE, &st);
}

/* Hostile use of the channel: every misuse is refused, nothing blocks. */
TEST_F(rep, hostile)
{
	struct vhost_iommu_report_open o = { .size = sizeof(o) };
	struct vhost_iommu_report_answer a, big[2] = {};
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	struct vhost_iommu_report rec;
	struct pollfd p = { .fd = self->rfd, .events = POLLIN | POLLOUT };
	struct vmm_req r;

	ASSERT_NE(MAP_FAILED, bad);
	EXPECT_EQ(-EBUSY, report_open(self->fd));
	o.flags = 1;
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_REPORT_OPEN, &o);
	o.flags = 0;
	o.__reserved = 1;
	test_err_ioctl(EINVAL, self->fd, VHOST_IOMMU_REPORT_OPEN, &o);

	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 0, 0));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 1, 0));

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	/* POLLOUT is always ready: wait for POLLIN alone, then look */
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, VMM_TIMEOUT_MS));
	p.events = POLLIN | POLLOUT;
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, p.revents);
	EXPECT_EQ(-EINVAL, report_read_err(self->rfd, sizeof(rec) - 1));
	EXPECT_EQ(-EINVAL, report_read_err(self->rfd, 0));
	/* Answered before it is read: fine, but wrong answers first */
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 2, 0));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 0, 0));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 1,
					 VIRTIO_IOMMU_S_NOMEM + 1));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 1, ~0u));
	a = (struct vhost_iommu_report_answer){ .size = sizeof(a) - 1, .seq = 1 };
	EXPECT_EQ(-1, write(self->rfd, &a, sizeof(a)));
	EXPECT_EQ(EINVAL, errno);
	a.size = sizeof(a);
	EXPECT_EQ(-1, write(self->rfd, &a, sizeof(a) - 1));
	EXPECT_EQ(EINVAL, errno);
	big[0] = a;
	EXPECT_EQ(-1, write(self->rfd, big, sizeof(big)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->rfd, bad, sizeof(a)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, read(self->rfd, bad, sizeof(rec)));
	EXPECT_EQ(EFAULT, errno);
	/* Still unread after the failed copy */
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(1, rec.seq);
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, 2 * sizeof(rec)));
	EXPECT_TRUE(vmm_wr_untouched(&r));
	test_cmd(report_answer(self->rfd, 1, 0));
	EXPECT_EQ(-EINVAL, report_answer(self->rfd, 1, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
}

/* ADD_ENDPOINT: only bit 0 of @flags is known. */
TEST_F(rep, endpoint_flags)
{
	test_err(EINVAL, add_ep_flags(self->fd, 10, 1u << 1));
	test_err(EINVAL, add_ep_flags(self->fd, 10, 1u << 31));
	test_cmd(add_ep_flags(self->fd, 10, VHOST_IOMMU_ENDPOINT_F_REPORT));
	test_err(EEXIST, add_ep_flags(self->fd, 10, 0));
}

/*
 * Replay: a REPORT endpoint attached to a domain that has mappings is
 * reported as an ATTACH, and GET_MAPPINGS lists what the VMM must
 * program; from then on the domain's MAPs are reported too.
 */
TEST_F(rep, replay)
{
	struct vhost_iommu_iotlb_entry e[4];
	struct vhost_iommu_mappings l = {
		.size = sizeof(l), .domain = D1, .nr = 4,
		.entries = (uintptr_t)e,
	};
	struct vhost_iommu_report rec;
	struct vmm_req r;

	test_cmd_attach(&self->v, D1, EPN, 0);
	test_cmd_map(&self->v, D1, 0x1000, 0x1fff, 0x400000, RD);
	test_cmd_map(&self->v, D1, 0x8000, 0x9fff, 0x500000, RD | WR);
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));

	test_cmd(post_attach(&self->v, &r, D1, EPR, 0));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_ATTACH, rec.type);
	EXPECT_EQ(D1, rec.domain);
	test_cmd_ioctl(self->fd, VHOST_IOMMU_GET_MAPPINGS, &l);
	ASSERT_EQ(2, l.nr);
	EXPECT_EQ(1, l.done);
	EXPECT_EQ(0x1000, e[0].iova);
	EXPECT_EQ(0x400000, e[0].gpa);
	EXPECT_EQ(0x8000, e[1].iova);
	EXPECT_EQ(0x2000, e[1].size);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));

	test_cmd(post_unmap(&self->v, &r, D1, 0x1000, 0x1fff));
	test_cmd(report_wait(self->rfd, &rec));
	EXPECT_EQ(VHOST_IOMMU_REPORT_T_UNMAP, rec.type);
	test_cmd(report_answer(self->rfd, rec.seq, 0));
	test_status(VIRTIO_IOMMU_S_OK, complete(&self->v, &r));
	/* EPN leaving is not reported; EPR still makes D1 reported */
	test_cmd_detach(&self->v, D1, EPN);
	EXPECT_EQ(-EAGAIN, report_read_err(self->rfd, sizeof(rec)));
}

/* The channel's file outlives the device's teardown, hung up. */
TEST(channel_outlives_device)
{
	struct vmm v;
	int rfd;

	ASSERT_EQ(0, vmm_init(&v, NULL)) TH_LOG("%s", vt_errmsg);
	rfd = report_open(v.fd);
	ASSERT_LE(0, rfd);
	vmm_fini(&v);
	expect_hung_up(rfd, 1);
	EXPECT_EQ(0, close(rfd));
}

TEST_HARNESS_MAIN
