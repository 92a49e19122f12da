// SPDX-License-Identifier: GPL-2.0
/*
 * bench_net: virtio-net TX through the stock vhost-net behind a virtual
 * IOMMU, measured side by side in one process:
 *
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
 *	static	the pool (-p MiB of IOVA space in 2 MiB mappings) mapped
 *		once, packets streamed through it -B per kick
 *	latency	one packet per kick on a page vhost-net has not seen (one
 *		IOTLB miss), then again on the same page (a hit): the miss
 *		latency is the first round trip minus the median of the
 *		second
 *	2 MiB	one 2 MiB mapping streamed page by page: misses counted
 *
 * Every frame is 1514 bytes; the tap's rx_packets counter must grow by the
 * number of frames sent. Output: '#' lines for people, and one CSV record
 * per figure (csv,section,figure,mode,config,unit,median,min,max,n), which
 * bench-report.sh turns into the table, CSV and JSON.
 *
 * usage: bench_net [-r reps] [-s strict packets] [-S static packets]
 *	[-b strict batch] [-B static batch] [-p pool MiB] [-l latency samples]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uiommu.h"
#include "vmm.h"
#include "vnet.h"

#define EP		8
#define DOM		1
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
#define POOL_IOVA	0x300000000ULL	/* the static pool */
#define LAT_IOVA	0x400000000ULL	/* one page per latency sample */
#define HUGE_IOVA	0x500000000ULL	/* the 2 MiB mapping */
#define MAX_REPS	32
#define MAX_BATCH	VNET_NUM
#define MAX_LAT		2048

enum kind { K_MODEL, K_RELAY, K_NONE };

struct guest {
	const char *name;
	enum kind kind;
	struct vnet net;
	struct vmm drv;		/* K_MODEL: the guest's virtio-iommu driver */
	struct uiommu model;	/* K_MODEL */
	struct vmm *iommu;	/* where MAP and UNMAP go, or NULL */
	uint32_t seq;
	uint64_t pool_next;
	char rx_path[96];	/* the tap's rx_packets counter */
};

static struct {
	unsigned int reps, strict_pkts, static_pkts, strict_batch;
	unsigned int static_batch, pool_mib, lat_samples;
} opt = { 5, 1024, 8192, 16, 64, 16, 1024 };

/* Requests per kick when mapping in bulk: 2 descriptors each */
#define MAP_BATCH	(VMM_DEFAULT_NUM / 2)

static struct vmm_req reqs[MAP_BATCH];

static void die(struct guest *g, const char *what, int err)
{
	fprintf(stderr, "bench_net: %s: %s: %s\n", g ? g->name : "-", what,
		err == -1 ? "" : strerror(-err));
	fprintf(stderr, "bench_net: vnet: %s\nbench_net: vmm: %s\nbench_net: uiommu: %s\n",
		vnet_errmsg, vmm_errmsg, uiommu_errmsg);
	exit(1);
}

static uint64_t data_gpa(struct guest *g, uint64_t page)
{
	return g->net.gpa_base + DATA_OFF + (page % DATA_PAGES) * PG;
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
	struct uiommu_stats us;

	switch (g->kind) {
	case K_MODEL:
		uiommu_get_stats(&g->model, &us);
		return us.misses;
	case K_RELAY:
		vnet_relay_stats(&g->net, &rs);
		return rs.misses;
	default:
		return 0;
	}
}

/* Setup */

static void setup_net(struct guest *g, bool iommu, bool relay)
{
	struct vnet_opts o = {
		.iommu = iommu,
		.mode = VNET_IOVA_MANUAL,
		.relay = relay,
		.no_backend = true,
	};
	int ret;

	ret = vnet_init(&g->net, &o);
	if (ret)
		die(g, "vnet_init", ret);
	if (iommu) {
		ret = vnet_map_add(&g->net, RING_IOVA, g->net.gpa_base,
				   RING_SIZE);
		if (ret)
			die(g, "IOVA table", ret);
	}
	snprintf(g->rx_path, sizeof(g->rx_path),
		 "/sys/class/net/%s/statistics/rx_packets", g->net.ifname);
}

static void start_net(struct guest *g)
{
	unsigned int q;
	int ret;

	ret = vnet_start(&g->net);
	if (ret)
		die(g, "vnet_start", ret);
	for (q = 0; q < VNET_NQ; q++) {
		ret = vnet_set_backend(&g->net, q, g->net.tap, TIMEOUT_MS);
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
		ret = uiommu_add_region(u, g->net.gpa_base, VNET_MEM_SIZE,
					g->net.kmem);
	if (!ret)
		ret = uiommu_add_endpoint(u, EP);
	if (!ret)
		ret = uiommu_bind_net(u, EP, g->net.fd);
	if (!ret)
		ret = uiommu_start(u);
	if (ret)
		die(g, "model", ret);
	ret = vmm_attach(g->iommu, DOM, EP, 0);
	if (ret)
		die(g, "ATTACH", ret < 0 ? ret : -EIO);
	map(g, RING_IOVA, g->net.gpa_base, RING_SIZE);
	start_net(g);
}

static void setup_relay(struct guest *g)
{
	unsigned int j;
	int ret;

	setup_net(g, true, true);
	for (j = 0; j < (opt.lat_samples + DATA_PAGES - 1) / DATA_PAGES; j++) {
		ret = vnet_map_add(&g->net, LAT_IOVA + j * HUGE,
				   data_gpa(g, 0), HUGE);
		if (ret)
			die(g, "IOVA table", ret);
	}
	ret = vnet_map_add(&g->net, HUGE_IOVA, data_gpa(g, 0), HUGE);
	if (ret)
		die(g, "IOVA table", ret);
	start_net(g);
}

static void setup(struct guest *g)
{
	switch (g->kind) {
	case K_MODEL:
		setup_model(g);
		break;
	case K_RELAY:
		setup_relay(g);
		break;
	case K_NONE:
		setup_net(g, false, false);
		start_net(g);
		break;
	}
}

static void teardown(struct guest *g)
{
	if (g->kind == K_MODEL) {
		uiommu_stop(&g->model);
		vnet_fini(&g->net);
		uiommu_fini(&g->model);
		vmm_fini(&g->drv);
	} else {
		vnet_fini(&g->net);
	}
}

/* Traffic */

static void tx_post(struct guest *g, unsigned int id, uint64_t gpa,
		    uint64_t iova)
{
	int ret = vnet_tx_post_at(&g->net, id, gpa,
				  g->kind == K_NONE ? gpa : iova, g->seq++,
				  FRAME_LEN);

	if (ret)
		die(g, "TX post", ret);
}

static void tx_kick(struct guest *g)
{
	int ret = vnet_kick(&g->net, VNET_TXQ);

	if (ret)
		die(g, "kick", ret);
}

static void tx_wait(struct guest *g, unsigned int n)
{
	uint32_t id, len;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = vnet_wait_used(&g->net, VNET_TXQ, &id, &len, TIMEOUT_MS);
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
	else if (g->kind == K_RELAY)
		iova = HUGE_IOVA;
	tx_post(g, 0, data_gpa(g, 0), iova);
	tx_kick(g);
	tx_wait(g, 1);
	if (vnet_capture_expect(&g->net, g->seq - 1, FRAME_LEN, TIMEOUT_MS))
		die(g, "capture", -EBADMSG);
	if (g->iommu)
		unmap(g, iova, PG);
	/* From now on frames are counted, not captured. */
	close(g->net.cap);
	g->net.cap = -1;
}

/* Strict mode: packets per second */
static double run_strict(struct guest *g, unsigned int npkts,
			 unsigned int batch)
{
	uint64_t t0, t1, rx0 = read_counter(g->rx_path);
	unsigned int done, i, n;

	t0 = vmm_now_ns();
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
	t1 = vmm_now_ns();
	if (read_counter(g->rx_path) - rx0 != npkts)
		die(g, "strict: frames lost", -1);
	return npkts * 1e9 / (t1 - t0);
}

/* Static mode: packets per second, cycling through the pool */
static double run_static(struct guest *g, unsigned int npkts,
			 unsigned int batch)
{
	uint64_t t0, t1, rx0 = read_counter(g->rx_path);
	uint64_t pool = opt.pool_mib * (1ULL << 20) / PG, p;
	unsigned int done, i, n;

	t0 = vmm_now_ns();
	for (done = 0; done < npkts; done += n) {
		n = npkts - done < batch ? npkts - done : batch;
		for (i = 0; i < n; i++) {
			p = g->pool_next++ % pool;
			tx_post(g, i, data_gpa(g, p), POOL_IOVA + p * PG);
		}
		tx_kick(g);
		tx_wait(g, n);
	}
	t1 = vmm_now_ns();
	if (read_counter(g->rx_path) - rx0 != npkts)
		die(g, "static: frames lost", -1);
	return npkts * 1e9 / (t1 - t0);
}

static void map_pool(struct guest *g)
{
	uint64_t off;

	if (!g->iommu)
		return;
	for (off = 0; off < opt.pool_mib * (1ULL << 20); off += HUGE)
		map(g, POOL_IOVA + off, data_gpa(g, 0), HUGE);
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
 * Miss latency: @n samples; p50 and p99 (microseconds) of a round trip
 * with one miss minus the median round trip of a hit, into @p50 / @p99.
 */
static void run_latency(struct guest *g, unsigned int n, double *p50,
			double *p99, double *hit)
{
	static double miss_rtt[MAX_LAT], hit_rtt[MAX_LAT];
	uint64_t t0, iova, gpa;
	unsigned int i;
	double h;

	if (g->iommu)
		map_pages(g, LAT_IOVA, n);
	for (i = 0; i < n; i++) {
		iova = LAT_IOVA + i * PG;
		gpa = data_gpa(g, i);
		t0 = vmm_now_ns();
		tx_post(g, 0, gpa, iova);
		tx_kick(g);
		tx_wait(g, 1);
		miss_rtt[i] = (vmm_now_ns() - t0) / 1e3;
		t0 = vmm_now_ns();
		tx_post(g, 0, gpa, iova);
		tx_kick(g);
		tx_wait(g, 1);
		hit_rtt[i] = (vmm_now_ns() - t0) / 1e3;
	}
	h = quantile(hit_rtt, n, 0.5);
	for (i = 0; i < n; i++)
		miss_rtt[i] -= h;
	*p50 = quantile(miss_rtt, n, 0.5);
	*p99 = quantile(miss_rtt, n, 0.99);
	*hit = h;
	/* Cold again for the next round */
	if (g->iommu)
		unmap(g, LAT_IOVA, (uint64_t)n * PG);
	else if (vnet_iotlb_invalidate(&g->net, LAT_IOVA, (uint64_t)n * PG))
		die(g, "INVALIDATE", -EIO);
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
	else if (vnet_iotlb_invalidate(&g->net, HUGE_IOVA, HUGE))
		die(g, "INVALIDATE", -EIO);
	return m0;
}

/* Output */

static void record(const char *section, const char *figure, const char *mode,
		   const char *config, const char *unit, const double *v,
		   unsigned int n)
{
	double s[MAX_REPS];

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

static void ratio(const char *mode, const char *name, const double *a,
		  const double *b, unsigned int n)
{
	double r[MAX_REPS];
	unsigned int i;

	for (i = 0; i < n; i++)
		r[i] = a[i] / b[i];
	record("ratio", "pps_ratio", mode, name, "x", r, n);
}

enum { G_MODEL, G_NONE, G_RELAY, NG };

static struct guest guests[NG] = {
	[G_MODEL] = { .name = "baseline", .kind = K_MODEL },
	[G_NONE] = { .name = "no-viommu", .kind = K_NONE },
	[G_RELAY] = { .name = "relay", .kind = K_RELAY },
};

/* The configurations of the throughput runs */
#define NT	2
static const unsigned int tput[NT] = { G_MODEL, G_NONE };

int main(int argc, char **argv)
{
	static double pps[2][NT][MAX_REPS];
	static double lat[NG][3][MAX_REPS], huge[NG][MAX_REPS];
	unsigned int r, t, m, reps;
	uint64_t t0 = vmm_now_ns();
	char mode[64];
	int c;

	while ((c = getopt(argc, argv, "r:s:S:b:B:p:l:h")) != -1) {
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
			opt.pool_mib = val;
			break;
		case 'l':
			opt.lat_samples = val;
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-p pool MiB]\n"
				"\t[-s strict packets] [-b strict batch]\n"
				"\t[-S static packets] [-B static batch]\n"
				"\t[-l latency samples]\n", argv[0]);
			return 2;
		}
	}
	if (!opt.reps || opt.reps > MAX_REPS || !opt.strict_batch ||
	    opt.strict_batch > MAX_BATCH || !opt.static_batch ||
	    opt.static_batch > MAX_BATCH || !opt.lat_samples ||
	    opt.lat_samples > MAX_LAT || opt.pool_mib < 2 ||
	    opt.pool_mib % 2) {
		fprintf(stderr, "bench_net: bad option\n");
		return 2;
	}
	reps = opt.reps;

	for (t = 0; t < NG; t++) {
		setup(&guests[t]);
		check_path(&guests[t]);
	}
	for (t = 0; t < NT; t++)
		map_pool(&guests[tput[t]]);
	printf("# set up in %.1f s; %u rounds (1 warm-up)\n",
	       (vmm_now_ns() - t0) / 1e9, reps + 1);
	fflush(stdout);

	/* Round 0 warms up and is not recorded */
	for (r = 0; r <= reps; r++) {
		for (t = 0; t < NT; t++) {
			struct guest *g = &guests[tput[t]];
			double s, st;

			s = run_strict(g, opt.strict_pkts, opt.strict_batch);
			st = run_static(g, opt.static_pkts, opt.static_batch);
			if (r) {
				pps[0][t][r - 1] = s;
				pps[1][t][r - 1] = st;
			}
		}
		for (t = 0; t < NG; t++) {
			struct guest *g = &guests[t];
			double p50, p99, hit;

			if (g->kind == K_NONE)
				continue;
			run_latency(g, opt.lat_samples, &p50, &p99, &hit);
			huge[t][r ? r - 1 : 0] = run_huge(g);
			if (r) {
				lat[t][0][r - 1] = p50;
				lat[t][1][r - 1] = p99;
				lat[t][2][r - 1] = hit;
			}
		}
		printf("# round %u done at %.1f s\n", r,
		       (vmm_now_ns() - t0) / 1e9);
		fflush(stdout);
	}

	for (m = 0; m < 2; m++) {
		if (m)
			snprintf(mode, sizeof(mode), "static %u MiB pool",
				 opt.pool_mib);
		else
			snprintf(mode, sizeof(mode), "strict");
		for (t = 0; t < NT; t++) {
			double bps[MAX_REPS];

			for (r = 0; r < reps; r++)
				bps[r] = pps[m][t][r] * FRAME_LEN;
			record("net", "pps", mode, guests[tput[t]].name,
			       "packets/s", pps[m][t], reps);
			record("net", "bytes_per_s", mode,
			       guests[tput[t]].name, "bytes/s", bps, reps);
		}
		ratio(mode, "baseline / no-viommu", pps[m][0], pps[m][1],
		      reps);
	}
	for (m = 0; m < 3; m++) {
		static const char * const fig[] = { "p50", "p99", "hit_rtt" };

		for (t = 0; t < NG; t++)
			if (guests[t].kind != K_NONE)
				record("miss_latency", fig[m], "1 page per miss",
				       guests[t].name, "us", lat[t][m], reps);
		if (m < 2)
			record("miss_latency", fig[m], "1 page per miss",
			       "device-iotlb-eventfd", "us", NULL, 0);
	}
	for (t = 0; t < NG; t++)
		if (guests[t].kind != K_NONE)
			record("misses_2mib", "misses",
			       "2 MiB mapping (512 pages)", guests[t].name,
			       "misses", huge[t], reps);

	for (t = 0; t < NG; t++)
		teardown(&guests[t]);
	printf("# bench_net done in %.1f s\n", (vmm_now_ns() - t0) / 1e9);
	return 0;
}
