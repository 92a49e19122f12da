// SPDX-License-Identifier: GPL-2.0
/*
 * The main job of 'make run': a guest-driver model with a virtio-iommu
 * device on /dev/vhost-iommu and a virtio-net device on the stock
 * /dev/vhost-net with VIRTIO_F_ACCESS_PLATFORM, bound together, moving
 * real frames through a tap device both ways:
 *
 *   1. static: every buffer in one mapping, frames streamed;
 *   2. strict: each buffer mapped before its frame and unmapped after it,
 *      as a Linux guest in strict DMA mode does;
 *   3. fault: a frame from an unmapped buffer, reported on the event queue,
 *      then mapped and completed.
 *
 * Every frame is checked byte for byte. A progress line is printed while
 * it runs, a report at the end. Exit status 0 when everything worked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vguest.h"

#define DEMO_IOVA	0x7f0000000ULL	/* where the window's IOVAs start */
#define DEMO_PROGRESS	64		/* frames between progress lines */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct demo {
	struct vguest g;
	unsigned int frames;	/* per direction and phase */
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	uint32_t seq;
};

static uint64_t demo_iova(uint64_t gpa)
{
	return DEMO_IOVA + (gpa - VGUEST_NET_GPA(0));
}

static int fail(const char *what, int ret)
{
	fprintf(stderr, "demo: %s: %s (%s)\n", what, strerror(-ret),
		vt_errmsg);
	return ret;
}

static void progress(struct demo *d, const char *phase)
{
	struct vhost_iommu_stats s;

	if (vguest_stats(&d->g, &s))
		return;
	printf("  %-7s tx %4llu rx %4llu frames | ", phase,
	       (unsigned long long)d->tx_frames,
	       (unsigned long long)d->rx_frames);
	printf("misses served %llu, invalidations %llu, faults %llu\n",
	       (unsigned long long)s.iotlb_served,
	       (unsigned long long)s.iotlb_invalidations,
	       (unsigned long long)s.faults);
	fflush(stdout);
}

static int demo_tx(struct demo *d, unsigned int id)
{
	uint32_t seq = d->seq++;
	int ret = vguest_tx(&d->g, 0, id, seq, VGUEST_TIMEOUT_MS);

	if (ret)
		return fail("TX frame", ret);
	d->tx_frames++;
	d->tx_bytes += vnet_frame_len(seq);
	return 0;
}

static int demo_rx(struct demo *d, unsigned int id)
{
	uint32_t seq = d->seq++;
	int ret = vguest_rx(&d->g, 0, id, seq, VGUEST_TIMEOUT_MS);

	if (ret)
		return fail("RX frame", ret);
	d->rx_frames++;
	d->rx_bytes += vnet_frame_len(seq);
	return 0;
}

static uint64_t buf_gpa(unsigned int q, unsigned int id)
{
	return VGUEST_NET_GPA(0) + VNET_BUF_OFF(q, id);
}

/* Rings: one mapping per queue, for the whole run. */
static int demo_setup(struct demo *d)
{
	struct vguest_opts o = {
		.mode = VNET_IOVA_MANUAL,
		.attach = VGUEST_ATTACH,
		.num = 64,
	};
	uint64_t gpa;
	unsigned int q;
	int ret;

	ret = vguest_init(&d->g, &o);
	if (ret)
		return fail("setup", ret);
	for (q = 0; q < VNET_NQ; q++) {
		gpa = VGUEST_NET_GPA(0) + VNET_RING_OFF(q);
		ret = vguest_map(&d->g, demo_iova(gpa), gpa, VGUEST_RING_SIZE,
				 VGUEST_RW);
		if (ret)
			return fail("MAP rings", ret);
	}
	ret = vguest_start(&d->g);
	if (ret)
		return fail("start (bind, SET_BACKEND)", ret);
	return 0;
}

/* Phase 1: every buffer of both queues in one mapping. */
static int demo_static(struct demo *d)
{
	uint64_t first = buf_gpa(VNET_RXQ, 0);
	uint64_t size = buf_gpa(VNET_TXQ, VNET_NUM) - first;
	unsigned int i;
	int ret;

	ret = vguest_map(&d->g, demo_iova(first), first, size, VGUEST_RW);
	if (ret)
		return fail("MAP buffers", ret);
	for (i = 0; i < d->frames; i++) {
		ret = demo_tx(d, i % 64);
		if (!ret)
			ret = demo_rx(d, i % 64);
		if (ret)
			return ret;
		if (!((i + 1) % DEMO_PROGRESS))
			progress(d, "static");
	}
	ret = vguest_unmap(&d->g, demo_iova(first), size);
	return ret ? fail("UNMAP buffers", ret) : 0;
}

/* Phase 2: map, transfer, unmap, for every frame. */
static int demo_strict(struct demo *d)
{
	uint64_t gpa;
	unsigned int i, q;
	int ret;

	for (i = 0; i < d->frames; i++) {
		for (q = 0; q < VNET_NQ; q++) {
			gpa = buf_gpa(q, i % 64);
			ret = vguest_map(&d->g, demo_iova(gpa), gpa, VNET_PAGE,
					 q == VNET_TXQ ?
					 VIRTIO_IOMMU_MAP_F_READ :
					 VIRTIO_IOMMU_MAP_F_WRITE);
			if (ret)
				return fail("MAP buffer", ret);
			ret = q == VNET_TXQ ? demo_tx(d, i % 64) :
					      demo_rx(d, i % 64);
			if (ret)
				return ret;
			ret = vguest_unmap(&d->g, demo_iova(gpa), VNET_PAGE);
			if (ret)
				return fail("UNMAP buffer", ret);
		}
		if (!((i + 1) % DEMO_PROGRESS))
			progress(d, "strict");
	}
	return 0;
}

/* Phase 3: DMA from an unmapped buffer faults, then completes once mapped. */
static int demo_fault(struct demo *d)
{
	uint64_t gpa = buf_gpa(VNET_TXQ, 0);
	struct virtio_iommu_fault f;
	uint32_t seq = d->seq++;
	int ret;

	ret = vguest_tx_post(&d->g, 0, 0, seq);
	if (ret)
		return fail("TX post", ret);
	ret = vguest_fault(&d->g, &f, VGUEST_TIMEOUT_MS);
	if (ret)
		return fail("fault report", ret);
	printf("  fault   reason %u flags 0x%x endpoint %u address 0x%llx\n",
	       f.reason, f.flags, f.endpoint,
	       (unsigned long long)f.address);
	ret = vguest_map(&d->g, demo_iova(gpa), gpa, VNET_PAGE,
			 VIRTIO_IOMMU_MAP_F_READ);
	if (ret)
		return fail("MAP buffer", ret);
	ret = vguest_tx_complete(&d->g, 0, 0, seq, VGUEST_TIMEOUT_MS);
	if (ret)
		return fail("TX after MAP", ret);
	d->tx_frames++;
	d->tx_bytes += vnet_frame_len(seq);
	return 0;
}

static const char *const req_names[] = {
	[VIRTIO_IOMMU_T_ATTACH] = "ATTACH", [VIRTIO_IOMMU_T_DETACH] = "DETACH",
	[VIRTIO_IOMMU_T_MAP] = "MAP", [VIRTIO_IOMMU_T_UNMAP] = "UNMAP",
	[VIRTIO_IOMMU_T_PROBE] = "PROBE",
};

static const char *const status_names[] = {
	[VIRTIO_IOMMU_S_OK] = "OK", [VIRTIO_IOMMU_S_IOERR] = "IOERR",
	[VIRTIO_IOMMU_S_UNSUPP] = "UNSUPP", [VIRTIO_IOMMU_S_DEVERR] = "DEVERR",
	[VIRTIO_IOMMU_S_INVAL] = "INVAL", [VIRTIO_IOMMU_S_RANGE] = "RANGE",
	[VIRTIO_IOMMU_S_NOENT] = "NOENT", [VIRTIO_IOMMU_S_FAULT] = "FAULT",
	[VIRTIO_IOMMU_S_NOMEM] = "NOMEM",
};

static void report(struct demo *d)
{
	struct vhost_iommu_stats s;
	unsigned int i;

	if (vguest_settle(&d->g, VGUEST_TIMEOUT_MS) || vguest_stats(&d->g, &s))
		return;
	printf("summary\n  requests:");
	for (i = 1; i < ARRAY_SIZE(req_names); i++)
		if (req_names[i])
			printf(" %s %llu", req_names[i],
			       (unsigned long long)s.requests[i]);
	printf("\n  statuses:");
	for (i = 0; i < ARRAY_SIZE(status_names); i++)
		if (s.status[i] || !i)
			printf(" %s %llu", status_names[i],
			       (unsigned long long)s.status[i]);
	printf("\n  vhost-net IOTLB: %llu misses, %llu served in the kernel,",
	       (unsigned long long)s.iotlb_misses,
	       (unsigned long long)s.iotlb_served);
	printf(" %llu translations handed out, %llu invalidations\n",
	       (unsigned long long)s.iotlb_updates,
	       (unsigned long long)s.iotlb_invalidations);
	printf("  faults reported: %llu (dropped %llu)\n",
	       (unsigned long long)s.faults,
	       (unsigned long long)s.faults_dropped);
	printf("  moved: TX %llu frames %llu bytes, RX %llu frames %llu bytes",
	       (unsigned long long)d->tx_frames,
	       (unsigned long long)d->tx_bytes,
	       (unsigned long long)d->rx_frames,
	       (unsigned long long)d->rx_bytes);
	printf(", every one checked byte for byte\n");
}

int main(int argc, char **argv)
{
	static struct demo d;
	int ret;

	d.frames = argc > 1 ? atoi(argv[1]) : 256;
	if (!d.frames)
		d.frames = 256;
	printf("vhost-iommu demo: virtio-iommu on /dev/vhost-iommu, ");
	printf("virtio-net on the stock vhost-net with ACCESS_PLATFORM, ");
	printf("%u frames per phase and direction\n", d.frames);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = demo_setup(&d);
	if (!ret)
		ret = demo_static(&d);
	if (!ret)
		ret = demo_strict(&d);
	if (!ret)
		ret = demo_fault(&d);
	report(&d);
	vguest_fini(&d.g);
	printf("demo: %s\n", ret ? "FAILED" : "ok");
	return ret ? 1 : 0;
}
