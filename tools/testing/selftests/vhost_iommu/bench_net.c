// SPDX-License-Identifier: GPL-2.0
/*
 * bench_net: virtio-net TX through the stock vhost-net behind a virtual
 * IOMMU, measured side by side in one process:
 *
 *	vhost-iommu	/dev/vhost-iommu runs the request queue and serves
 *			vhost-net's IOTLB in the kernel (VHOST_IOMMU_BIND_NET,
 *			vguest.c), with the module parameter push_on_map off
 *			and on (switched between runs)
 *	baseline	uiommu.c, QEMU 7.2's architecture: a userspace thread
 *			runs the virtio-iommu request queue and answers
 *			vhost-net's IOTLB misses one 4 KiB page at a time
 *	relay		vnet.c's relay thread (misses only, one page each)
 *	no vIOMMU	vhost-net without VIRTIO_F_ACCESS_PLATFORM
 *
 * Workloads, each repeated -r times after one warm-up round, the
 * configurations interleaved within a round:
 *
 *	strict	per packet, as a strict Linux guest: MAP the buffer (one
 *		synchronous request), transmit, UNMAP it (one synchronous
 *		request) once its used entry is back; -b packets in flight
 *	static	a pool of 2 MiB mappings mapped once, packets streamed
 *		through it page after page, -B per kick; twice: a pool of -p
 *		MiB (more pages than vhost-net's 2048 IOTLB entries) and one
 *		of -q MiB (fewer; one untimed pass over it first)
 *	latency	one packet per kick on a page vhost-net has not seen (one
 *		IOTLB miss), then again on the same page (a hit): the miss
 *		latency is the first round trip minus the median of the
 *		second (p50, p90, p99 of -l samples); each page is made
 *		cold again LAT_LAG samples later
 *	2 MiB	one 2 MiB mapping streamed page by page: misses counted
 *	unused	MAP + UNMAP of one page vhost-net never touches, pairs per
 *		second: what pushing at MAP time costs when nothing uses it
 *
 * Every frame is 1514 bytes; the tap's rx_packets counter must grow by the
 * number of frames sent. Output: '#' lines for people, and one CSV record
 * per figure (csv,section,figure,mode,config,unit,median,min,max,n), which
 * bench-report.sh turns into the table, CSV and JSON.
 *
 * usage: bench_net [-r reps] [-s strict packets] [-S static packets]
 *	[-b strict batch] [-B static batch] [-p pool MiB] [-q small pool MiB]
 *	[-l latency samples]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uiommu.h"
#include "vguest.h"
#include "vmm.h"
#include "vnet.h"

#define EP		VGUEST_EP
#define DOM		VGUEST_DOMAIN
#define PG		VNET_PAGE
#define RW		(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define FRAME_LEN	1514
#define TIMEOUT_MS	60000
/* Frames live in the upper half of the net window, 512 pages */
#define DATA_OFF	(2ULL << 20)
#define DATA_PAGES	512
#define HUGE		(2ULL << 20)
/* IOVA layout */
#define RING_IOVA	0x100000000ULL	/* the rings, window [0, 64 KiB) */
#define RING_SIZE	0x10000ULL
#define STRICT_IOVA	0x200000000ULL	/* one page per TX descriptor */
#define POOL_IOVA	0x300000000ULL	/* the static pools */
#define LAT_IOVA	0x400000000ULL	/* one page per latency sample */
#define HUGE_IOVA	0x500000000ULL	/* the 2 MiB mapping */
#define UNUSED_IOVA	0x600000000ULL	/* mapped, never used */
#define UNUSED_MODE	"MAP+UNMAP without traffic"
#define MAX_REPS	32
#define MAX_BATCH	VNET_NUM
#define MAX_LAT		2048
/* The latency samples whose pages are warm at once (run_latency()) */
#define LAT_LAG		16
/* Turns the configurations take within a round */
#define SLICES		16
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum kind { K_KERNEL, K_MODEL, K_RELAY, K_NONE, K_DEVIOTLB };

/* K_DEVIOTLB: the permission of its translations */
#define DEV_RW		(VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE)

/* The throughput workloads */
enum { M_STRICT, M_STATIC, M_SMALL, M_UNUSED, NM };

struct guest {
	const char *name;
	enum kind kind;
	struct vnet *net;	/* the virtio-net device */
	struct vmm *iommu;	/* where MAP and UNMAP go, or NULL */
	struct vguest vg;	/* K_KERNEL */
	struct vnet own;	/* the others' virtio-net device */
	struct vmm drv;		/* K_MODEL: the guest's virtio-iommu driver */
	struct uiommu model;	/* K_MODEL */
	uint32_t seq;
	uint64_t pool_next[2];	/* the next page of each static pool */
	char rx_path[96];	/* the tap's rx_packets counter */
};

static struct {
	unsigned int reps, strict_pkts, static_pkts, strict_batch;
	unsigned int static_batch, pool_mib[2], lat_samples;
	unsigned int busyloop_us;	/* -L: the kernel guest's request queue */
} opt = { 11, 2048, 8192, 16, 64, { 16, 2 }, 1024 };

/* Static pool @i: its first IOVA, its pages */
#define POOL_BASE(i)	(POOL_IOVA + (uint64_t)(i) * (1ULL << 30))
#define POOL_PAGES(i)	((uint64_t)opt.pool_mib[i] * (1ULL << 20) / PG)

/* Requests per kick when mapping in bulk: 2 descriptors each */
#define MAP_BATCH	(VMM_DEFAULT_NUM / 2)

static struct vmm_req reqs[MAP_BATCH];

static void die(struct guest *g, const char *what, int err)
{
	fprintf(stderr, "bench_net: %s: %s: %s\n", g ? g->name : "-", what,
		err == -1 ? "" : strerror(-err));
	fprintf(stderr, "bench_net: vnet: %s\nbench_net: vmm: %s\n",
		vt_errmsg, vt_errmsg);
	fprintf(stderr, "bench_net: uiommu: %s\nbench_net: vguest: %s\n",
		vt_errmsg, vt_errmsg);
	exit(1);
}

static uint64_t data_gpa(struct guest *g, uint64_t page)
{
	return g->net->gpa_base + DATA_OFF + (page % DATA_PAGES) * PG;
}

static uint64_t read_counter(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtoull(buf, NULL, 0);
}

/* Requests: synchronous, through whichever device serves the guest */

static void map(struct guest *g, uint64_t iova, uint64_t gpa, uint64_t size)
{
	int ret = vmm_map(g->iommu, DOM, iova, iova + size - 1, gpa, RW);

	if (ret)
		die(g, "MAP", ret < 0 ? ret : -EIO);
}

static void unmap(struct guest *g, uint64_t iova, uint64_t size)
{
	int ret = vmm_unmap(g->iommu, DOM, iova, iova + size - 1);

	if (ret)
		die(g, "UNMAP", ret < 0 ? ret : -EIO);
}

/* @n one-page mappings from @iova, to data pages from 0, batched */
static void map_pages(struct guest *g, uint64_t iova, unsigned int n)
{
	struct virtio_iommu_req_map m;
	unsigned int i, j, k;

	for (i = 0; i < n; i += k) {
		k = n - i < MAP_BATCH ? n - i : MAP_BATCH;
		for (j = 0; j < k; j++) {
			vmm_mk_map(&m, DOM, iova + (i + j) * PG,
				   iova + (i + j + 1) * PG - 1,
				   data_gpa(g, i + j), RW);
			vmm_req_prepare(g->iommu, &reqs[j], &m, VMM_MAP_LEN, 4);
		}
		if (vmm_batch(g->iommu, reqs, k))
			die(g, "MAP batch", -EIO);
		for (j = 0; j < k; j++)
			if (reqs[j].status)
				die(g, "MAP batch status", -EIO);
	}
}

static uint64_t misses(struct guest *g)
{
	struct vnet_relay_stats rs;
	struct vhost_iommu_stats ks;
	struct uiommu_stats us;

	switch (g->kind) {
	case K_KERNEL:
	case K_DEVIOTLB:
		/* Every miss raised so far read and counted */
		if (vguest_settle(&g->vg, TIMEOUT_MS) ||
		    vguest_stats(&g->vg, &ks))
			die(g, "GET_STATS", -EIO);
		return ks.iotlb_misses;
	case K_MODEL:
		uiommu_get_stats(&g->model, &us);
		return us.misses;
	case K_RELAY:
		vnet_relay_stats(g->net, &rs);
		return rs.misses;
	default:
		return 0;
	}
}

/* Setup */

static void rx_path(struct guest *g)
{
	snprintf(g->rx_path, sizeof(g->rx_path),
		 "/sys/class/net/%s/statistics/rx_packets", g->net->ifname);
}

static void setup_net(struct guest *g, bool iommu, bool relay)
{
	struct vnet_opts o = {
		.iommu = iommu,
		.mode = VNET_IOVA_MANUAL,
		.relay = relay,
		.no_backend = true,
	};
	int ret;

	g->net = &g->own;
	ret = vnet_init(g->net, &o);
	if (ret)
		die(g, "vnet_init", ret);
	if (iommu) {
		ret = vnet_map_add(g->net, RING_IOVA, g->net->gpa_base,
				   RING_SIZE);
		if (ret)
			die(g, "IOVA table", ret);
	}
	rx_path(g);
}

static void start_net(struct guest *g)
{
	unsigned int q;
	int ret;

	ret = vnet_start(g->net);
	if (ret)
		die(g, "vnet_start", ret);
	for (q = 0; q < VNET_NQ; q++) {
		ret = vnet_set_backend(g->net, q, g->net->tap, TIMEOUT_MS);
		if (ret)
			die(g, "SET_BACKEND", ret);
	}
}

static void setup_model(struct guest *g)
{
	struct vmm_opts o = {
		.features = UIOMMU_FEATURES,
		.no_event_ring = true,
		.user_device = true,
	};
	struct uiommu *u = &g->model;
	int ret;

	setup_net(g, true, false);
	ret = vmm_init(&g->drv, &o);
	if (ret)
		die(g, "vmm_init", ret);
	g->iommu = &g->drv;
	ret = uiommu_init(u, UIOMMU_FEATURES);
	if (!ret)
		ret = uiommu_serve_vmm(u, &g->drv);
	if (!ret)
		ret = uiommu_add_region(u, g->net->gpa_base, VNET_MEM_SIZE,
					g->net->kmem);
	if (!ret)
		ret = uiommu_add_endpoint(u, EP);
	if (!ret)
		ret = uiommu_bind_net(u, EP, g->net->fd);
	if (!ret)
		ret = uiommu_start(u);
	if (ret)
		die(g, "model", ret);
	ret = vmm_attach(g->iommu, DOM, EP, 0);
	if (ret)
		die(g, "ATTACH", ret < 0 ? ret : -EIO);
	map(g, RING_IOVA, g->net->gpa_base, RING_SIZE);
	start_net(g);
}

/*
 * vhost-iommu and vhost-net bound (vguest.c): the same features as the
 * baseline, the rings mapped like the baseline's, then SET_BACKEND (its
 * used-ring miss served in the kernel).
 */
static void setup_kernel(struct guest *g)
{
	struct vguest_opts o = {
		.mode = VNET_IOVA_MANUAL,
		.vmm = {
			.features = UIOMMU_FEATURES,
			.busyloop_us = opt.busyloop_us,
		},
	};
	int ret;

	ret = vguest_init(&g->vg, &o);
	if (ret)
		die(g, "vguest_init", ret);
	g->net = &g->vg.net[0];
	g->iommu = &g->vg.iommu;
	rx_path(g);
	ret = vguest_map(&g->vg, RING_IOVA, g->net->gpa_base, RING_SIZE,
			 VGUEST_RW);
	if (!ret)
		ret = vguest_start(&g->vg);
	if (ret)
		die(g, "vguest", ret);
}

/*
 * vhost-iommu's device IOTLB: the endpoint in a VMM-managed domain, the
 * vhost-net fd bound, every miss answered by a VMM thread with one page
 * (vguest_iotlb_serve(), as a VMM emulating its own IOMMU would).
 */
static void setup_deviotlb(struct guest *g)
{
	struct vguest_opts o = {
		.mode = VNET_IOVA_MANUAL,
		.attach = VGUEST_ATTACH_VMM,
		.no_backend = true,
		.vmm = { .features = UIOMMU_FEATURES },
	};
	unsigned int j;
	int ret;

	ret = vguest_init(&g->vg, &o);
	if (ret)
		die(g, "vguest_init", ret);
	g->net = &g->vg.net[0];
	rx_path(g);
	ret = vnet_map_add(g->net, RING_IOVA, g->net->gpa_base, RING_SIZE);
	for (j = 0; !ret && j < (opt.lat_samples + DATA_PAGES - 1) /
				DATA_PAGES; j++)
		ret = vnet_map_add(g->net, LAT_IOVA + j * HUGE,
				   data_gpa(g, 0), HUGE);
	if (!ret)
		ret = vnet_map_add(g->net, HUGE_IOVA, data_gpa(g, 0), HUGE);
	if (ret)
		die(g, "IOVA table", ret);
	ret = vguest_iotlb_update(&g->vg, RING_IOVA, RING_SIZE,
				  g->net->gpa_base, DEV_RW);
	if (!ret)
		ret = vguest_iotlb_serve(&g->vg);
	if (!ret)
		ret = vguest_start(&g->vg);
	if (!ret)
		ret = vguest_set_backend(&g->vg, 0, TIMEOUT_MS);
	if (ret)
		die(g, "device IOTLB guest", ret);
}

static void setup_relay(struct guest *g)
{
	unsigned int j;
	int ret;

	setup_net(g, true, true);
	for (j = 0; j < (opt.lat_samples + DATA_PAGES - 1) / DATA_PAGES; j++) {
		ret = vnet_map_add(g->net, LAT_IOVA + j * HUGE,
				   data_gpa(g, 0), HUGE);
		if (ret)
			die(g, "IOVA table", ret);
	}
	ret = vnet_map_add(g->net, HUGE_IOVA, data_gpa(g, 0), HUGE);
	if (ret)
		die(g, "IOVA table", ret);
	start_net(g);
}

static void setup(struct guest *g)
{
	switch (g->kind) {
	case K_KERNEL:
		setup_kernel(g);
		break;
	case K_MODEL:
		setup_model(g);
		break;
	case K_RELAY:
		setup_relay(g);
		break;
	case K_DEVIOTLB:
		setup_deviotlb(g);
		break;
	case K_NONE:
		setup_net(g, false, false);
		start_net(g);
		break;
	}
}

static void teardown(struct guest *g)
{
	if (g->kind == K_KERNEL || g->kind == K_DEVIOTLB) {
		vguest_fini(&g->vg);
	} else if (g->kind == K_MODEL) {
		uiommu_stop(&g->model);
		vnet_fini(g->net);
		uiommu_fini(&g->model);
		vmm_fini(&g->drv);
	} else {
		vnet_fini(g->net);
	}
}

/* Traffic */

static void tx_post(struct guest *g, unsigned int id, uint64_t gpa,
		    uint64_t iova)
{
	int ret = vnet_tx_post_at(g->net, id, gpa,
				  g->kind == K_NONE ? gpa : iova, g->seq++,
				  FRAME_LEN);

	if (ret)
		die(g, "TX post", ret);
}

static void tx_kick(struct guest *g)
{
	int ret = vnet_kick(g->net, VNET_TXQ);

	if (ret)
		die(g, "kick", ret);
}

static void tx_wait(struct guest *g, unsigned int n)
{
	uint32_t id, len;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vnet_wait_used(g->net, VNET_TXQ, &id, &len, TIMEOUT_MS);
		if (ret)
			die(g, "TX used", ret);
	}
}

/* A frame sent and captured byte for byte: the path works end to end */
static void check_path(struct guest *g)
{
	uint64_t iova = POOL_IOVA;

	if (g->iommu)
		map(g, iova, data_gpa(g, 0), PG);
	else if (g->kind == K_RELAY || g->kind == K_DEVIOTLB)
		iova = HUGE_IOVA;
	tx_post(g, 0, data_gpa(g, 0), iova);
	tx_kick(g);
	tx_wait(g, 1);
	if (vnet_capture_expect(g->net, g->seq - 1, FRAME_LEN, TIMEOUT_MS))
		die(g, "capture", -EBADMSG);
	if (g->iommu)
		unmap(g, iova, PG);
	/* From now on frames are counted, not captured. */
	close(g->net->cap);
	g->net->cap = -1;
}

/* Strict mode: nanoseconds for @npkts packets */
static uint64_t run_strict(struct guest *g, unsigned int npkts,
			   unsigned int batch)
{
	uint64_t t0, t1, rx0 = read_counter(g->rx_path);
	unsigned int done, i, n;

	t0 = vt_now_ns();
	for (done = 0; done < npkts; done += n) {
		n = npkts - done < batch ? npkts - done : batch;
		for (i = 0; i < n; i++) {
			uint64_t iova = STRICT_IOVA + i * PG;
			uint64_t gpa = data_gpa(g, done + i);

			if (g->iommu)
				map(g, iova, gpa, PG);
			tx_post(g, i, gpa, iova);
		}
		tx_kick(g);
		tx_wait(g, n);
		for (i = 0; g->iommu && i < n; i++)
			unmap(g, STRICT_IOVA + i * PG, PG);
	}
	t1 = vt_now_ns();
	if (read_counter(g->rx_path) - rx0 != npkts)
		die(g, "strict: frames lost", -1);
	return t1 - t0;
}

/* Static mode: nanoseconds for @npkts packets, cycling through pool @pl */
static uint64_t run_static(struct guest *g, unsigned int pl,
			   unsigned int npkts, unsigned int batch)
{
	uint64_t t0, t1, rx0 = read_counter(g->rx_path), p;
	unsigned int done, i, n;

	t0 = vt_now_ns();
	for (done = 0; done < npkts; done += n) {
		n = npkts - done < batch ? npkts - done : batch;
		for (i = 0; i < n; i++) {
			p = g->pool_next[pl]++ % POOL_PAGES(pl);
			tx_post(g, i, data_gpa(g, p), POOL_BASE(pl) + p * PG);
		}
		tx_kick(g);
		tx_wait(g, n);
	}
	t1 = vt_now_ns();
	if (read_counter(g->rx_path) - rx0 != npkts)
		die(g, "static: frames lost", -1);
	return t1 - t0;
}

static void map_pools(struct guest *g)
{
	unsigned int i;
	uint64_t off;

	for (i = 0; g->iommu && i < 2; i++)
		for (off = 0; off < POOL_PAGES(i) * PG; off += HUGE)
			map(g, POOL_BASE(i) + off, data_gpa(g, 0), HUGE);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double quantile(double *v, unsigned int n, double q)
{
	unsigned int i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (unsigned int)(q * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double median(const double *v, unsigned int n)
{
	double s[MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Miss latency, sample @i: a frame on a page vhost-net has not seen (one
 * miss), then on the same page again (a hit); round trips in microseconds.
 */
static void latency_prepare(struct guest *g, unsigned int n)
{
	if (g->iommu)
		map_pages(g, LAT_IOVA, n);
}

static void latency_sample(struct guest *g, unsigned int i, double *miss,
			   double *hit)
{
	uint64_t iova = LAT_IOVA + i * PG, gpa = data_gpa(g, i), t0;

	t0 = vt_now_ns();
	tx_post(g, 0, gpa, iova);
	tx_kick(g);
	tx_wait(g, 1);
	*miss = (vt_now_ns() - t0) / 1e3;
	t0 = vt_now_ns();
	tx_post(g, 0, gpa, iova);
	tx_kick(g);
	tx_wait(g, 1);
	*hit = (vt_now_ns() - t0) / 1e3;
}

/*
 * Makes the pages of samples [@first, @first + @n) cold again: vhost-net
 * forgets them, and so does the vIOMMU or the device IOTLB. Untimed.
 */
static void latency_forget(struct guest *g, unsigned int first, unsigned int n)
{
	uint64_t iova = LAT_IOVA + (uint64_t)first * PG, size = (uint64_t)n * PG;
	int ret;

	if (!n)
		return;
	if (g->iommu) {
		unmap(g, iova, size);
		return;
	}
	if (g->kind == K_DEVIOTLB)
		ret = vguest_iotlb_invalidate(&g->vg, iova, size);
	else
		ret = vnet_iotlb_invalidate(g->net, iova, size);
	if (ret)
		die(g, "IOTLB invalidation", ret < 0 ? ret : -EIO);
}

/*
 * Into @q: the p50, p90 and p99 of the @n miss round trips minus the
 * median hit round trip, then that median. The pages still warm are made
 * cold again.
 */
static void latency_finish(struct guest *g, unsigned int n, double *miss,
			   double *hit, double q[4])
{
	unsigned int i, first = n > LAT_LAG ? n - LAT_LAG : 0;
	double h;

	h = quantile(hit, n, 0.5);
	for (i = 0; i < n; i++)
		miss[i] -= h;
	q[0] = quantile(miss, n, 0.5);
	q[1] = quantile(miss, n, 0.9);
	q[2] = quantile(miss, n, 0.99);
	q[3] = h;
	latency_forget(g, first, n - first);
}

/* MAP + UNMAP pairs vhost-net never sees: nanoseconds for @n */
static uint64_t run_unused(struct guest *g, unsigned int n)
{
	uint64_t t0 = vt_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		map(g, UNUSED_IOVA, data_gpa(g, i), PG);
		unmap(g, UNUSED_IOVA, PG);
	}
	return vt_now_ns() - t0;
}

/*
 * Before workload @m, untimed: the other workloads on the device evicted
 * the small pool from vhost-net's IOTLB meanwhile, one pass over it.
 */
static void warm_mode(struct guest *g, unsigned int m)
{
	if (m == M_SMALL)
		run_static(g, 1, POOL_PAGES(1), opt.static_batch);
}

/* Nanoseconds for @n packets (or pairs) of workload @m */
static uint64_t run_mode(struct guest *g, unsigned int m, unsigned int n)
{
	switch (m) {
	case M_STRICT:
		return run_strict(g, n, opt.strict_batch);
	case M_STATIC:
		return run_static(g, 0, n, opt.static_batch);
	case M_SMALL:
		return run_static(g, 1, n, opt.static_batch);
	default:
		return g->iommu ? run_unused(g, n) : 0;
	}
}

/* Misses to stream one 2 MiB mapping, every page once */
static double run_huge(struct guest *g)
{
	unsigned int done, i, n, batch = opt.static_batch;
	uint64_t m0;

	if (g->iommu)
		map(g, HUGE_IOVA, data_gpa(g, 0), HUGE);
	m0 = misses(g);
	for (done = 0; done < DATA_PAGES; done += n) {
		n = DATA_PAGES - done < batch ? DATA_PAGES - done : batch;
		for (i = 0; i < n; i++)
			tx_post(g, i, data_gpa(g, done + i),
				HUGE_IOVA + (done + i) * PG);
		tx_kick(g);
		tx_wait(g, n);
	}
	m0 = misses(g) - m0;
	if (g->iommu)
		unmap(g, HUGE_IOVA, HUGE);
	else if (vnet_iotlb_invalidate(g->net, HUGE_IOVA, HUGE))
		die(g, "INVALIDATE", -EIO);
	return m0;
}

/* Output */

static void record(const char *section, const char *figure, const char *mode,
		   const char *config, const char *unit, const double *v,
		   unsigned int n)
{
	double s[MAX_REPS];

	if (strchr(mode, ',') || strchr(config, ',')) {
		fprintf(stderr, "bench_net: a comma in '%s' or '%s'\n", mode,
			config);
		exit(1);
	}

	if (!n) {
		printf("csv,%s,%s,%s,%s,%s,n/a,n/a,n/a,0\n", section, figure,
		       mode, config, unit);
		return;
	}
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	printf("csv,%s,%s,%s,%s,%s,%.6g,%.6g,%.6g,%u\n", section, figure, mode,
	       config, unit, median(v, n), s[0], s[n - 1], n);
	fflush(stdout);
}

static void ratio(const char *figure, const char *mode, const char *name,
		  const double *a, const double *b, unsigned int n)
{
	double r[MAX_REPS];
	unsigned int i;

	for (i = 0; i < n; i++)
		r[i] = a[i] / b[i];
	record("ratio", figure, mode, name, "x", r, n);
}

enum { G_KERNEL, G_MODEL, G_NONE, G_RELAY, G_DEVIOTLB, NG };

static struct guest guests[NG] = {
	[G_KERNEL] = { .name = "vhost-iommu", .kind = K_KERNEL },
	[G_MODEL] = { .name = "baseline", .kind = K_MODEL },
	[G_NONE] = { .name = "no-viommu", .kind = K_NONE },
	[G_RELAY] = { .name = "relay", .kind = K_RELAY },
	[G_DEVIOTLB] = { .name = "device-iotlb", .kind = K_DEVIOTLB },
};

/* A configuration: a guest, and push_on_map for vhost-iommu (or -1) */
struct conf {
	const char *name;
	unsigned int guest;
	int push;
};

/* Throughput: these, interleaved */
static const struct conf tput[] = {
	{ "vhost-iommu push_on_map=0", G_KERNEL, 0 },
	{ "vhost-iommu push_on_map=1", G_KERNEL, 1 },
	{ "baseline", G_MODEL, -1 },
	{ "no-viommu", G_NONE, -1 },
};

#define NT	ARRAY_SIZE(tput)

/* Miss latency (push_on_map off: the misses are the point) */
static const struct conf lat_conf[] = {
	{ "vhost-iommu", G_KERNEL, 0 },
	{ "baseline", G_MODEL, -1 },
	{ "relay", G_RELAY, -1 },
	{ "device-iotlb-eventfd", G_DEVIOTLB, -1 },
};

#define NL	ARRAY_SIZE(lat_conf)

/* Misses to stream a 2 MiB mapping */
static const struct conf huge_conf[] = {
	{ "vhost-iommu push_on_map=0", G_KERNEL, 0 },
	{ "vhost-iommu push_on_map=1", G_KERNEL, 1 },
	{ "baseline", G_MODEL, -1 },
	{ "relay", G_RELAY, -1 },
};

#define NH	ARRAY_SIZE(huge_conf)

/* The ratios printed, of the throughput configurations' indices */
static const unsigned int ratios[][2] = {
	{ 0, 2 }, { 1, 2 }, { 0, 3 }, { 1, 3 }, { 2, 3 }, { 1, 0 },
};

static struct guest *use(const struct conf *c)
{
	struct guest *g = &guests[c->guest];
	int ret;

	if (c->push >= 0) {
		ret = vt_param_set("push_on_map", c->push);
		if (ret)
			die(g, "push_on_map", ret);
	}
	return g;
}

/*
 * One round of the latency workload into @lat[.][.][@k]: the samples of
 * the configurations alternate. Each sample's page is made cold again
 * LAT_LAG samples later, so that the kernel's caches hold as many
 * translations at every sample (Documentation/bench.md, "Miss latency
 * in the steady state"). Every miss round trip must miss exactly once.
 */
static void run_latency(double lat[][4][MAX_REPS], unsigned int k)
{
	static double miss[NL][MAX_LAT], hit[NL][MAX_LAT];
	unsigned int t, i, n = opt.lat_samples;
	uint64_t m0[NL];
	struct guest *g;
	double q[4];

	for (t = 0; t < NL; t++) {
		g = use(&lat_conf[t]);
		latency_prepare(g, n);
		m0[t] = misses(g);
	}
	for (i = 0; i < n; i++) {
		for (t = 0; t < NL; t++) {
			g = &guests[lat_conf[t].guest];
			latency_sample(g, i, &miss[t][i], &hit[t][i]);
			if (i >= LAT_LAG)
				latency_forget(g, i - LAT_LAG, 1);
		}
	}
	for (t = 0; t < NL; t++) {
		g = &guests[lat_conf[t].guest];
		if (misses(g) - m0[t] != n)
			die(g, "latency: a sample did not miss exactly once", -1);
		latency_finish(g, n, miss[t], hit[t], q);
		for (i = 0; i < 4; i++)
			lat[t][i][k] = q[i];
	}
}

int main(int argc, char **argv)
{
	static double pps[NM][NT][MAX_REPS], mpp[NM][NT][MAX_REPS];
	static double lat[NL][4][MAX_REPS], huge[NH][MAX_REPS];
	static const char * const lat_fig[] = {
		"p50", "p90", "p99", "hit_rtt",
	};
	unsigned int r, t, m, reps, k;
	uint64_t t0 = vt_now_ns();
	long long push0;
	char mode[NM][64], name[96];
	int c;

	while ((c = getopt(argc, argv, "r:s:S:b:B:p:q:l:L:h")) != -1) {
		unsigned int val = strtoul(optarg ? optarg : "0", NULL, 0);

		switch (c) {
		case 'r':
			opt.reps = val;
			break;
		case 's':
			opt.strict_pkts = val;
			break;
		case 'S':
			opt.static_pkts = val;
			break;
		case 'b':
			opt.strict_batch = val;
			break;
		case 'B':
			opt.static_batch = val;
			break;
		case 'p':
			opt.pool_mib[0] = val;
			break;
		case 'q':
			opt.pool_mib[1] = val;
			break;
		case 'l':
			opt.lat_samples = val;
			break;
		case 'L':
			opt.busyloop_us = val;
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-p pool MiB] [-q pool MiB]\n"
				"\t[-s strict packets] [-b strict batch]\n"
				"\t[-S static packets] [-B static batch]\n"
				"\t[-l latency samples] [-L busyloop us]\n", argv[0]);
			return 2;
		}
	}
	if (!opt.reps || opt.reps > MAX_REPS || !opt.strict_batch ||
	    opt.strict_batch > MAX_BATCH || !opt.static_batch ||
	    opt.static_batch > MAX_BATCH || !opt.lat_samples ||
	    opt.lat_samples > MAX_LAT || opt.pool_mib[0] < 2 ||
	    opt.pool_mib[0] % 2 || opt.pool_mib[0] > 1024 ||
	    opt.pool_mib[1] < 2 || opt.pool_mib[1] % 2 ||
	    opt.pool_mib[1] > 1024 || opt.strict_pkts < SLICES ||
	    opt.static_pkts < SLICES) {
		fprintf(stderr, "bench_net: bad option\n");
		return 2;
	}
	reps = opt.reps;
	snprintf(mode[M_STRICT], sizeof(mode[0]), "strict");
	for (m = 0; m < 2; m++)
		snprintf(mode[M_STATIC + m], sizeof(mode[0]),
			 "static %u MiB pool", opt.pool_mib[m]);
	snprintf(mode[M_UNUSED], sizeof(mode[0]), "%s", UNUSED_MODE);
	push0 = vt_param_get("push_on_map");
	if (push0 < 0) {
		fprintf(stderr, "bench_net: no push_on_map parameter\n");
		return 1;
	}

	vt_param_set("push_on_map", 0);
	for (t = 0; t < NG; t++) {
		setup(&guests[t]);
		check_path(&guests[t]);
		map_pools(&guests[t]);
	}
	printf("# set up in %.1f s; %u rounds (1 warm-up)\n",
	       (vt_now_ns() - t0) / 1e9, reps + 1);
	fflush(stdout);

	/*
	 * Round 0 warms up and is not recorded. Within a round the
	 * configurations take turns in slices, so that what the host does
	 * to the VM meanwhile falls on all of them alike.
	 */
	for (r = 0; r <= reps; r++) {
		uint64_t ns[NM][NT] = { { 0 } }, nm[NM][NT] = { { 0 } };
		unsigned int sl, pk[NM];

		pk[M_STRICT] = opt.strict_pkts / SLICES;
		pk[M_STATIC] = opt.static_pkts / SLICES;
		pk[M_SMALL] = opt.static_pkts / SLICES;
		pk[M_UNUSED] = opt.strict_pkts / SLICES;
		k = r ? r - 1 : 0;
		for (sl = 0; sl < SLICES; sl++) {
			for (m = 0; m < NM; m++) {
				for (t = 0; t < NT; t++) {
					struct guest *g = use(&tput[t]);
					uint64_t m0;

					warm_mode(g, m);
					m0 = misses(g);
					ns[m][t] += run_mode(g, m, pk[m]);
					nm[m][t] += misses(g) - m0;
				}
			}
		}
		for (m = 0; m < NM; m++) {
			for (t = 0; t < NT; t++) {
				if (!ns[m][t])
					continue;
				pps[m][t][k] = pk[m] * SLICES * 1e9 / ns[m][t];
				mpp[m][t][k] = (double)nm[m][t] /
					       (pk[m] * SLICES);
			}
		}

		run_latency(lat, k);

		for (t = 0; t < NH; t++)
			huge[t][k] = run_huge(use(&huge_conf[t]));
		printf("# round %u done at %.1f s\n", r,
		       (vt_now_ns() - t0) / 1e9);
		fflush(stdout);
	}
	vt_param_set("push_on_map", push0);

	for (m = 0; m < M_UNUSED; m++) {
		for (t = 0; t < NT; t++) {
			double bps[MAX_REPS];

			for (r = 0; r < reps; r++)
				bps[r] = pps[m][t][r] * FRAME_LEN;
			record("net", "pps", mode[m], tput[t].name,
			       "packets/s", pps[m][t], reps);
			record("net", "bytes_per_s", mode[m], tput[t].name,
			       "bytes/s", bps, reps);
		}
		for (t = 0; t < NT; t++)
			if (guests[tput[t].guest].kind != K_NONE)
				record("net", "misses_per_pkt", mode[m],
				       tput[t].name, "misses", mpp[m][t],
				       reps);
	}
	for (m = 0; m < NM; m++) {
		for (k = 0; k < ARRAY_SIZE(ratios); k++) {
			const unsigned int *rt = ratios[k];

			if (m == M_UNUSED && (!guests[tput[rt[0]].guest].iommu ||
					      !guests[tput[rt[1]].guest].iommu))
				continue;
			snprintf(name, sizeof(name), "%s / %s",
				 tput[rt[0]].name, tput[rt[1]].name);
			ratio("pps_ratio", mode[m], name, pps[m][rt[0]],
			      pps[m][rt[1]], reps);
		}
	}
	/* vhost-iommu's miss latency over the others', per round */
	for (m = 0; m < 2; m++) {
		char fig[32];

		snprintf(fig, sizeof(fig), "%s_ratio", lat_fig[m]);
		for (t = 1; t < NL; t++) {
			snprintf(name, sizeof(name), "%s / %s",
				 lat_conf[0].name, lat_conf[t].name);
			ratio(fig, "1 page per miss", name, lat[0][m],
			      lat[t][m], reps);
		}
	}
	for (m = 0; m < 4; m++) {
		for (t = 0; t < NL; t++)
			record("miss_latency", lat_fig[m],
			       m < 3 ? "1 page per miss" : "1 packet per kick",
			       lat_conf[t].name, "us", lat[t][m], reps);
	}
	for (t = 0; t < NH; t++)
		record("misses_2mib", "misses", "2 MiB mapping (512 pages)",
		       huge_conf[t].name, "misses", huge[t], reps);
	for (t = 0; t < NT; t++)
		if (guests[tput[t].guest].iommu)
			record("unused", "pairs_per_s", UNUSED_MODE,
			       tput[t].name, "pairs/s", pps[M_UNUSED][t], reps);

	for (t = 0; t < NG; t++)
		teardown(&guests[t]);
	printf("# bench_net done in %.1f s\n", (vt_now_ns() - t0) / 1e9);
	return 0;
}
