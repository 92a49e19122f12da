// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the saved state (VHOST_IOMMU_SAVE_STATE and
 * VHOST_IOMMU_LOAD_STATE, Documentation/migration.md). A source device
 * with guest-managed, bypass and VMM-managed domains is saved and loaded
 * into a fresh destination device, which must then translate, list and
 * save exactly as the source did. Hostile streams (truncated, another
 * version, every byte flipped, with and without a CRC that matches) load
 * nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm_test.h"

#define EP1	1	/* a guest domain, many mappings */
#define EP2	2	/* a bypass domain */
#define EP3	3	/* a VMM-managed domain */
#define EP4	4	/* unattached */
#define D1	1
#define D2	2
#define VD	100

#define RD	VIRTIO_IOMMU_MAP_F_READ
#define WR	VIRTIO_IOMMU_MAP_F_WRITE
#define MMIO	VIRTIO_IOMMU_MAP_F_MMIO
#define PG	0x1000ULL
#define NMAP	3000

#define HDR	sizeof(struct vhost_iommu_state_header)

static const struct vhost_iommu_resv_region msi[] = {
	{ .start = 0xfee00000, .end = 0xfeefffff,
	  .subtype = VHOST_IOMMU_RESV_MSI },
};

/* CRC-32 (IEEE 802.3), as the kernel's stream header holds it */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0U;
	int k;

	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
}

/* Signs a stream edited by a test: length and CRC of what it now is */
static void resign(uint8_t *buf, size_t len)
{
	struct vhost_iommu_state_header *h = (void *)buf;

	h->length = htole64(len);
	h->crc = htole32(crc32_ieee(buf + HDR, len - HDR));
}

static int save(int fd, uint8_t **buf, size_t *len)
{
	struct vhost_iommu_state s = { .size = sizeof(s) };
	int ret;

	ret = vmm_ioctl(fd, VHOST_IOMMU_SAVE_STATE, &s);
	if (ret != -ENOSPC)
		return ret ? ret : -EPROTO;
	*buf = malloc(s.len);
	if (!*buf)
		return -ENOMEM;
	s.buf = (uintptr_t)*buf;
	ret = vmm_ioctl(fd, VHOST_IOMMU_SAVE_STATE, &s);
	*len = s.len;
	return ret;
}

static int load(int fd, const void *buf, size_t len)
{
	struct vhost_iommu_state s = {
		.size = sizeof(s), .buf = (uintptr_t)buf, .len = len,
	};

	return vmm_ioctl(fd, VHOST_IOMMU_LOAD_STATE, &s);
}

static int stop_queues(struct vmm *v, unsigned int base[2])
{
	unsigned int q;
	int ret;

	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		ret = vmm_vq_stop(v, q, &base[q]);
		if (ret)
			return ret;
	}
	return 0;
}

static int declare(int fd)
{
	int ret;

	ret = vmm_add_endpoint(fd, EP1, msi, ARRAY_SIZE(msi));
	if (!ret)
		ret = vmm_add_endpoint(fd, EP2, NULL, 0);
	if (!ret)
		ret = vmm_add_endpoint(fd, EP3, NULL, 0);
	if (!ret)
		ret = vmm_add_endpoint(fd, EP4, NULL, 0);
	return ret;
}

FIXTURE(st) {
	struct vmm src, dst;
	unsigned int src_base[2], dst_base[2];
	uint8_t *buf;
	size_t len;
};

/* The source's state: three kinds of domains, bypass set by the driver */
static void populate(struct __test_metadata *_metadata, struct vmm *v)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .endpoint = EP3, .domain = VD,
	};
	struct vhost_iommu_iotlb_entry e = {
		.iova = 0x80000000, .size = 16 * PG, .gpa = 0x300000,
		.perm = VHOST_IOMMU_ACCESS_READ,
	};
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = VD, .nr = 1,
		.entries = (uintptr_t)&e,
	};
	struct vhost_iommu_config c;
	unsigned int i;

	test_cmd_attach(v, D1, EP1, 0);
	for (i = 0; i < NMAP; i++)
		test_cmd_map(v, D1, i * 2 * PG, i * 2 * PG + PG - 1,
			     (i % 1024) * PG, i % 3 ? RD | WR : RD | MMIO);
	test_cmd_attach(v, D2, EP2, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	test_cmd_ioctl(v->fd, VHOST_IOMMU_IOTLB_ATTACH, &a);
	test_cmd_ioctl(v->fd, VHOST_IOMMU_IOTLB_UPDATE, &b);
	/* bypass: 1 as the VMM set it, 0 as the driver wrote it */
	test_cmd_get_config(v->fd, &c);
	c.bypass = 1;
	test_cmd_set_config(v->fd, &c);
	c.bypass = 0;
	c.flags = VHOST_IOMMU_CONFIG_F_DRIVER;
	test_cmd_set_config(v->fd, &c);
}

FIXTURE_SETUP(st)
{
	ASSERT_EQ(0, vmm_init(&self->src, NULL)) TH_LOG("%s", vt_errmsg);
	ASSERT_EQ(0, vmm_init(&self->dst, NULL)) TH_LOG("%s", vt_errmsg);
	test_cmd(declare(self->src.fd));
	test_cmd(declare(self->dst.fd));
	populate(_metadata, &self->src);
	test_cmd(stop_queues(&self->src, self->src_base));
	test_cmd(stop_queues(&self->dst, self->dst_base));
	test_cmd(save(self->src.fd, &self->buf, &self->len));
}

FIXTURE_TEARDOWN(st)
{
	free(self->buf);
	vmm_fini(&self->dst);
	vmm_fini(&self->src);
}

/* Every mapping of @domain on both devices, compared chunk by chunk */
static void same_mappings(struct __test_metadata *_metadata, int a, int b,
			  uint32_t domain)
{
	struct vhost_iommu_iotlb_entry ea[256], eb[256];
	struct vhost_iommu_mappings la = {
		.size = sizeof(la), .domain = domain, .nr = 256,
		.entries = (uintptr_t)ea,
	}, lb = la;

	lb.entries = (uintptr_t)eb;
	do {
		test_cmd_ioctl(a, VHOST_IOMMU_GET_MAPPINGS, &la);
		test_cmd_ioctl(b, VHOST_IOMMU_GET_MAPPINGS, &lb);
		ASSERT_EQ(la.nr, lb.nr);
		EXPECT_EQ(la.domain_flags, lb.domain_flags);
		EXPECT_EQ(0, memcmp(ea, eb, la.nr * sizeof(ea[0])));
		EXPECT_EQ(la.iova, lb.iova);
		ASSERT_EQ(la.done, lb.done);
		la.nr = 256;
		lb.nr = 256;
	} while (!la.done);
}

static void same_translation(struct __test_metadata *_metadata, int a, int b,
			     uint32_t ep, uint64_t iova)
{
	struct vhost_iommu_translate ta, tb;
	int ra, rb;

	ra = vmm_translate(a, ep, iova, VHOST_IOMMU_ACCESS_READ, 0, &ta);
	rb = vmm_translate(b, ep, iova, VHOST_IOMMU_ACCESS_READ, 0, &tb);
	ASSERT_EQ(ra, rb) TH_LOG("ep %u iova %#llx", ep,
				 (unsigned long long)iova);
	if (ra)
		return;
	EXPECT_EQ(ta.start, tb.start);
	EXPECT_EQ(ta.last, tb.last);
	EXPECT_EQ(ta.phys, tb.phys);
	EXPECT_EQ(ta.perm, tb.perm);
}

/* Nothing loaded: what a refused stream must leave */
static void still_fresh(struct __test_metadata *_metadata, int fd)
{
	struct vhost_iommu_stats s = vmm_stats(fd);

	EXPECT_EQ(0, s.domains);
	EXPECT_EQ(0, s.mappings);
	EXPECT_EQ(-ENXIO, vmm_translate(fd, EP1, 0, VHOST_IOMMU_ACCESS_READ,
					0, NULL));
}

/*
 * The round trip: the destination translates, lists and saves as the
 * source does, byte for byte; the rings go on at the source's indexes;
 * bypass and its reset value came along.
 */
TEST_F_TIMEOUT(st, round_trip, 300)
{
	struct vhost_iommu_stats s0, s1;
	struct vhost_iommu_config c;
	unsigned int base[2], i;
	uint8_t *again;
	size_t len;

	test_cmd(load(self->dst.fd, self->buf, self->len));
	s0 = vmm_stats(self->src.fd);
	s1 = vmm_stats(self->dst.fd);
	EXPECT_EQ(s0.domains, s1.domains);
	EXPECT_EQ(s0.mappings, s1.mappings);
	EXPECT_EQ(3, s1.domains);
	EXPECT_EQ(NMAP + 1, s1.mappings);
	same_mappings(_metadata, self->src.fd, self->dst.fd, D1);
	same_mappings(_metadata, self->src.fd, self->dst.fd, D2);
	same_mappings(_metadata, self->src.fd, self->dst.fd, VD);
	for (i = 0; i < 2 * NMAP + 4; i += 7)
		same_translation(_metadata, self->src.fd, self->dst.fd, EP1,
				 i * PG + 0x10);
	same_translation(_metadata, self->src.fd, self->dst.fd, EP2, 0x1234);
	same_translation(_metadata, self->src.fd, self->dst.fd, EP3,
			 0x80000000 + 5 * PG);
	same_translation(_metadata, self->src.fd, self->dst.fd, EP4, 0);

	test_cmd(save(self->dst.fd, &again, &len));
	EXPECT_EQ(self->len, len);
	EXPECT_EQ(0, memcmp(self->buf, again, len));
	free(again);

	test_cmd(stop_queues(&self->dst, base));
	EXPECT_EQ(self->src_base[0], base[0]);
	EXPECT_EQ(self->src_base[1], base[1]);
	test_cmd_get_config(self->dst.fd, &c);
	EXPECT_EQ(0, c.bypass);
	test_cmd(vmm_reset_device(self->dst.fd));
	test_cmd_get_config(self->dst.fd, &c);
	EXPECT_EQ(1, c.bypass);
}

/* The source's request queue index is not 0: the round trip shows it. */
TEST_F(st, indexes_saved)
{
	EXPECT_LT(NMAP, self->src_base[VHOST_IOMMU_VQ_REQUEST]);
}

/* What the destination must be: stopped, no domain, same setup. */
TEST_F(st, destination_checked)
{
	struct vhost_iommu_config c;
	struct vmm other;

	/* A running queue */
	test_cmd(vmm_vq_restart(&self->dst, 0, self->dst_base[0]));
	test_err(EBUSY, load(self->dst.fd, self->buf, self->len));
	test_cmd(stop_queues(&self->dst, self->dst_base));
	/* A domain already */
	test_cmd(vmm_vq_restart(&self->dst, 0, self->dst_base[0]));
	test_cmd_attach(&self->dst, D1, EP4, 0);
	test_cmd(stop_queues(&self->dst, self->dst_base));
	test_err(EBUSY, load(self->dst.fd, self->buf, self->len));
	test_cmd(vmm_reset_device(self->dst.fd));
	/* Another configuration */
	test_cmd_get_config(self->dst.fd, &c);
	test_cmd(vmm_del_endpoint(self->dst.fd, EP1));
	test_cmd(vmm_del_endpoint(self->dst.fd, EP2));
	test_cmd(vmm_del_endpoint(self->dst.fd, EP3));
	test_cmd(vmm_del_endpoint(self->dst.fd, EP4));
	c.probe_size = 1024;
	test_cmd_set_config(self->dst.fd, &c);
	test_cmd(declare(self->dst.fd));
	test_err(EINVAL, load(self->dst.fd, self->buf, self->len));
	still_fresh(_metadata, self->dst.fd);

	/* An endpoint missing, or with other reserved regions */
	ASSERT_EQ(0, vmm_init(&other, NULL));
	test_cmd(stop_queues(&other, self->dst_base));
	test_cmd(vmm_add_endpoint(other.fd, EP1, msi, ARRAY_SIZE(msi)));
	test_cmd(vmm_add_endpoint(other.fd, EP2, NULL, 0));
	test_err(ENODEV, load(other.fd, self->buf, self->len));
	test_cmd(vmm_add_endpoint(other.fd, EP3, msi, ARRAY_SIZE(msi)));
	test_cmd(vmm_add_endpoint(other.fd, EP4, NULL, 0));
	test_err(EINVAL, load(other.fd, self->buf, self->len));
	still_fresh(_metadata, other.fd);
	vmm_fini(&other);
}

/* Saving needs the queues stopped; a short buffer says what it needs. */
TEST_F(st, save_checked)
{
	struct vhost_iommu_state s = { .size = sizeof(s), .len = 16 };
	uint8_t *buf = malloc(self->len);

	ASSERT_NE(NULL, buf);
	s.buf = (uintptr_t)buf;
	test_err_ioctl(ENOSPC, self->src.fd, VHOST_IOMMU_SAVE_STATE, &s);
	EXPECT_EQ(self->len, s.len);
	s.len = self->len - 1;
	test_err_ioctl(ENOSPC, self->src.fd, VHOST_IOMMU_SAVE_STATE, &s);
	s.len = self->len;
	s.buf = 16;
	test_err_ioctl(EFAULT, self->src.fd, VHOST_IOMMU_SAVE_STATE, &s);
	s.buf = (uintptr_t)buf;
	s.flags = 1;
	test_err_ioctl(EINVAL, self->src.fd, VHOST_IOMMU_SAVE_STATE, &s);
	s.flags = 0;
	test_cmd(vmm_vq_restart(&self->src, 1, self->src_base[1]));
	test_err_ioctl(EBUSY, self->src.fd, VHOST_IOMMU_SAVE_STATE, &s);
	free(buf);
}

/* Truncated, or with bytes added: not this stream. */
TEST_F(st, truncated)
{
	static const size_t cut[] = { 0, 1, HDR - 1, HDR, HDR + 8, 64 };
	uint8_t *b = malloc(self->len + 64);
	unsigned int i;

	ASSERT_NE(NULL, b);
	memcpy(b, self->buf, self->len);
	for (i = 0; i < ARRAY_SIZE(cut); i++)
		EXPECT_EQ(-EINVAL, load(self->dst.fd, b, cut[i]))
			TH_LOG("%zu bytes", cut[i]);
	EXPECT_EQ(-EINVAL, load(self->dst.fd, b, self->len - 8));
	EXPECT_EQ(-EINVAL, load(self->dst.fd, b, self->len + 8));
	/* Cut at a record boundary and signed again: no end record */
	for (i = 1; i <= 4; i++) {
		resign(b, self->len - 8 * i);
		EXPECT_EQ(-EBADMSG, load(self->dst.fd, b, self->len - 8 * i));
	}
	still_fresh(_metadata, self->dst.fd);
	free(b);
}

/* A newer version: EPROTONOSUPPORT, whatever it holds. */
TEST_F(st, newer_version)
{
	struct vhost_iommu_state_header *h = (void *)self->buf;

	h->version = htole32(VHOST_IOMMU_STATE_VERSION + 1);
	EXPECT_EQ(-EPROTONOSUPPORT, load(self->dst.fd, self->buf, self->len));
	h->version = htole32(~0U);
	EXPECT_EQ(-EPROTONOSUPPORT, load(self->dst.fd, self->buf, self->len));
	h->version = 0;
	EXPECT_EQ(-EINVAL, load(self->dst.fd, self->buf, self->len));
	still_fresh(_metadata, self->dst.fd);
	h->version = htole32(VHOST_IOMMU_STATE_VERSION);
	test_cmd(load(self->dst.fd, self->buf, self->len));
}

/*
 * Every byte of the header and of the first records flipped, then a few
 * thousand more across the stream: the CRC refuses each one, and nothing
 * is loaded.
 */
TEST_F_TIMEOUT(st, flipped_bytes, 600)
{
	size_t i, step;
	int ret;

	step = self->len / 2000 + 1;
	for (i = 0; i < self->len; i += i < 512 ? 1 : step) {
		self->buf[i] ^= 0x5a;
		ret = load(self->dst.fd, self->buf, self->len);
		self->buf[i] ^= 0x5a;
		ASSERT_TRUE(ret == -EINVAL || ret == -EBADMSG ||
			    ret == -EPROTONOSUPPORT)
			TH_LOG("byte %zu: %d", i, ret);
	}
	still_fresh(_metadata, self->dst.fd);
	test_cmd(load(self->dst.fd, self->buf, self->len));
}

/*
 * The same, signed again: the records' own checks. A flip may give a
 * stream that is still valid (another physical address); it loads, and
 * the device is reset for the next one. One that fails loads nothing.
 */
TEST_F_TIMEOUT(st, flipped_bytes_resigned, 900)
{
	size_t i, step, limit;
	unsigned int loaded = 0, refused = 0;
	uint8_t bit;
	int ret;

	/* Header, config, endpoints, the first domains' start, the end */
	limit = self->len < 4096 ? self->len : 4096;
	step = 1;
	for (i = HDR; i < self->len; i += i < limit ? step : 97) {
		bit = 1 << (i % 8);
		self->buf[i] ^= bit;
		resign(self->buf, self->len);
		ret = load(self->dst.fd, self->buf, self->len);
		self->buf[i] ^= bit;
		if (!ret) {
			loaded++;
			test_cmd(vmm_reset_device(self->dst.fd));
			test_cmd(stop_queues(&self->dst, self->dst_base));
			continue;
		}
		refused++;
		ASSERT_TRUE(ret == -EINVAL || ret == -EBADMSG ||
			    ret == -ENODEV || ret == -ENOSPC)
			TH_LOG("byte %zu: %d", i, ret);
		ASSERT_EQ(0, vmm_stat(self->dst.fd, domains))
			TH_LOG("byte %zu", i);
		ASSERT_EQ(0, vmm_stat(self->dst.fd, mappings))
			TH_LOG("byte %zu", i);
	}
	TH_LOG("%u loaded, %u refused", loaded, refused);
	EXPECT_LT(0, refused);
	resign(self->buf, self->len);
	test_cmd(load(self->dst.fd, self->buf, self->len));
}

/*
 * A fault report not yet posted travels with the state: spliced in before
 * the end record, it is posted on the destination's event queue once that
 * runs.
 */
TEST_F(st, fault_travels)
{
	struct virtio_iommu_fault f = {
		.reason = VIRTIO_IOMMU_FAULT_R_MAPPING,
		.flags = htole32(VIRTIO_IOMMU_FAULT_F_READ),
		.endpoint = htole32(EP1),
		.address = htole64(0xdead000),
	}, got;
	struct vhost_iommu_state_rec rec = {
		.type = htole16(5), .size = htole32(sizeof(f)),
	};
	size_t end = self->len - sizeof(rec), len;
	uint8_t *b = malloc(self->len + sizeof(rec) + sizeof(f));
	uint32_t ulen;

	ASSERT_NE(NULL, b);
	len = self->len + sizeof(rec) + sizeof(f);
	memcpy(b, self->buf, end);
	memcpy(b + end, &rec, sizeof(rec));
	memcpy(b + end + sizeof(rec), &f, sizeof(f));
	memcpy(b + end + sizeof(rec) + sizeof(f), self->buf + end, sizeof(rec));
	resign(b, len);
	test_cmd(load(self->dst.fd, b, len));
	/*
	 * The driver's buffer is in the ring already, as the migrated
	 * guest's are; the queue's start posts the report (a report that
	 * finds no buffer is dropped, as on the source).
	 */
	test_cmd(vmm_event_post(&self->dst, 1, sizeof(got)));
	test_cmd(vmm_vq_restart(&self->dst, VHOST_IOMMU_VQ_EVENT,
				self->src_base[VHOST_IOMMU_VQ_EVENT]));
	test_cmd(vmm_event_read(&self->dst, &got, &ulen, VMM_TIMEOUT_MS));
	EXPECT_EQ(sizeof(got), ulen);
	EXPECT_EQ(0, memcmp(&f, &got, sizeof(f)));
	free(b);
}

TEST_HARNESS_MAIN
