// SPDX-License-Identifier: GPL-2.0
/*
 * bench_requests: MAP + UNMAP requests per second through the request
 * queue of /dev/vhost-iommu, at batch sizes 1, 16 and 256 (requests posted
 * before one kick), with 10^3, 10^4, 10^5 and 10^6 live mappings in the
 * domain. Not a test: it prints numbers.
 *
 * A round posts B MAP requests of one granule each, kicks, waits for them,
 * then B UNMAP requests of the same ranges, kicks and waits. A repetition
 * runs rounds until it has executed at least -n requests. Each point is
 * measured -r times; the median, min and max are printed, and at the end
 * the cost ratio (ns per request) of 10^6 live mappings over 10^3.
 *
 * usage: bench_requests [-r reps] [-n requests per rep] [-m max live]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

#define EP	1
#define DOM	1
#define PG	0x1000ULL
#define BASE	0x10000000000ULL	/* IOVAs of the measured requests */
#define MAXB	256
#define NBATCH	3
#define NLIVE	4

static const unsigned int batches[NBATCH] = { 1, 16, 256 };
static const unsigned long live_levels[NLIVE] = {
	1000, 10000, 100000, 1000000,
};

static struct vmm v;
static struct vmm_req reqs[MAXB];

static void die(const char *what)
{
	fprintf(stderr, "bench_requests: %s: %s\n", what, vmm_errmsg);
	exit(1);
}

/* Posts @n MAP (or UNMAP) requests of one page from @iova, one kick. */
static void run_batch(uint64_t iova, unsigned int n, bool map)
{
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t s = iova + i * PG;

		if (map) {
			vmm_mk_map(&m, DOM, s, s + PG - 1, 0,
				   VIRTIO_IOMMU_MAP_F_READ |
				   VIRTIO_IOMMU_MAP_F_WRITE);
			vmm_req_prepare(&v, &reqs[i], &m, VMM_MAP_LEN, 4);
		} else {
			vmm_mk_unmap(&u, DOM, s, s + PG - 1);
			vmm_req_prepare(&v, &reqs[i], &u, VMM_UNMAP_LEN, 4);
		}
	}
	if (vmm_batch(&v, reqs, n))
		die("batch");
	for (i = 0; i < n; i++) {
		if (reqs[i].used_len != 4 || reqs[i].status) {
			fprintf(stderr, "bench_requests: %s at %#llx: status %u, used length %u\n",
				map ? "MAP" : "UNMAP",
				(unsigned long long)(iova + i * PG),
				reqs[i].status, reqs[i].used_len);
			exit(1);
		}
	}
}

/* Grows the domain to @live mappings, pages 0 .. live - 1 */
static void populate(unsigned long from, unsigned long live)
{
	unsigned long i;
	unsigned int n;

	for (i = from; i < live; i += n) {
		n = live - i < MAXB ? live - i : MAXB;
		run_batch(i * PG, n, true);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Requests per second for one repetition */
static double measure(unsigned int batch, unsigned long nreq)
{
	unsigned long done = 0;
	uint64_t t0, t1;

	t0 = vmm_now_ns();
	while (done < nreq) {
		run_batch(BASE, batch, true);
		run_batch(BASE, batch, false);
		done += 2 * batch;
	}
	t1 = vmm_now_ns();
	return done * 1e9 / (double)(t1 - t0);
}

int main(int argc, char **argv)
{
	struct vmm_opts o = { .num = { 1024, 64 } };
	double median[NLIVE][NBATCH], *rate;
	unsigned long nreq = 8192, max_live = 1000000, have = 0;
	long long old_max = -1, cur;
	struct vhost_iommu_stats st;
	unsigned int reps = 5, l, b, r;
	int c;

	while ((c = getopt(argc, argv, "r:n:m:h")) != -1) {
		switch (c) {
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			nreq = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			max_live = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-n requests/rep] [-m max live]\n",
				argv[0]);
			return 2;
		}
	}
	if (!reps)
		reps = 1;
	rate = calloc(reps, sizeof(*rate));
	if (!rate)
		return 1;

	/* max_mappings must hold the largest domain and the measured pages */
	cur = vmm_param_get("max_mappings");
	if (cur >= 0 && (unsigned long long)cur < max_live + 2 * MAXB) {
		old_max = cur;
		if (vmm_param_set("max_mappings", max_live + 4096)) {
			fprintf(stderr, "bench_requests: max_mappings is %lld, cannot raise it\n",
				cur);
			return 1;
		}
	}
	if (vmm_init(&v, &o))
		die("setup");
	if (vmm_add_endpoint(v.fd, EP, NULL, 0))
		die("ADD_ENDPOINT");
	if (vmm_attach(&v, DOM, EP, 0) != VIRTIO_IOMMU_S_OK)
		die("ATTACH");

	printf("# MAP+UNMAP through the request queue, %u reps of >= %lu requests\n",
	       reps, nreq);
	printf("# %-9s %6s %14s %14s %14s %8s %10s\n", "live", "batch",
	       "req/s median", "min", "max", "spread", "ns/req");
	for (l = 0; l < NLIVE; l++) {
		uint64_t t0;

		if (live_levels[l] > max_live)
			break;
		t0 = vmm_now_ns();
		populate(have, live_levels[l]);
		have = live_levels[l];
		if (vmm_get_stats(v.fd, &st) || st.mappings != have) {
			fprintf(stderr, "bench_requests: %llu live mappings, expected %lu\n",
				(unsigned long long)st.mappings, have);
			return 1;
		}
		printf("# populated %lu mappings (%.1f s)\n", have,
		       (vmm_now_ns() - t0) / 1e9);
		for (b = 0; b < NBATCH; b++) {
			for (r = 0; r < reps; r++)
				rate[r] = measure(batches[b], nreq);
			qsort(rate, reps, sizeof(*rate), cmp_double);
			median[l][b] = reps % 2 ? rate[reps / 2] :
				       (rate[reps / 2 - 1] + rate[reps / 2]) / 2;
			printf("  %-9lu %6u %14.0f %14.0f %14.0f %7.1f%% %10.0f\n",
			       have, batches[b], median[l][b], rate[0],
			       rate[reps - 1],
			       100.0 * (rate[reps - 1] - rate[0]) / median[l][b],
			       1e9 / median[l][b]);
			fflush(stdout);
		}
	}
	if (l > 0) {
		printf("# cost(%lu live) / cost(%lu live), ns per request:\n",
		       live_levels[l - 1], live_levels[0]);
		for (b = 0; b < NBATCH; b++)
			printf("  batch %-4u %.2f\n", batches[b],
			       median[0][b] / median[l - 1][b]);
	}
	vmm_fini(&v);
	if (old_max >= 0)
		vmm_param_set("max_mappings", old_max);
	free(rate);
	return 0;
}
