// SPDX-License-Identifier: GPL-2.0
/*
 * bench_requests: MAP + UNMAP requests per second through the request
 * queue of /dev/vhost-iommu, at batch sizes 1, 16 and 256 (requests posted
 * before one kick), with 10^3, 10^4, 10^5 and 10^6 live mappings in the
 * domain. Not a test: it prints numbers. With -u, the same requests also
 * go to the userspace baseline (uiommu.c, QEMU 7.2's architecture), a
 * repetition of each after the other, and the ratio is printed.
 *
 * A round posts B MAP requests of one granule each, kicks, waits for them,
 * then B UNMAP requests of the same ranges, kicks and waits. A repetition
 * runs rounds until it has executed at least -n requests, in 8 slices;
 * with -u the devices take turns slice by slice. Each point is
 * measured -r times after one untimed repetition; the median, min and max
 * are printed, and at the end
 * the cost ratio (ns per request) of 10^6 live mappings over 10^3.
 * Every figure is also printed as a CSV record (csv,requests,...), the
 * format of bench_net.
 *
 * With -P it profiles instead ('make profile', Documentation/bench.md):
 * the domains grown to -m live mappings (1000 if not given), for each
 * batch size given with -b (up to 3; 256 if none) one untimed repetition,
 * then one of -n requests per device in which each device's slices run
 * between marker instructions that prof_plugin.c (a QEMU plugin) counts
 * the guest's instructions between, in a window per device and batch
 * size; one line "prof,WINDOW,DEVICE,BATCH,LIVE,REQUESTS,NS" per window
 * (NS: the guest's time for them).
 *
 * usage: bench_requests [-r reps] [-n requests per rep] [-m max live] [-u]
 *	[-P [-b batch]...]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uiommu.h"
#include "vmm.h"

#define EP	1
#define DOM	1
#define PG	0x1000ULL
#define BASE	0x10000000000ULL	/* IOVAs of the measured requests */
#define MAXB	256
#define NBATCH	3
#define NLIVE	4
#define MAXREPS	64
/* Turns the devices take within a repetition */
#define SLICES	8

static const unsigned int batches[NBATCH] = { 1, 16, 256 };
static const unsigned long live_levels[NLIVE] = {
	1000, 10000, 100000, 1000000,
};

/* A device under test: the kernel's, or the userspace model */
struct target {
	const char *name;
	struct vmm v;
	bool user;
	struct uiommu model;
	double median[NLIVE][NBATCH];
	double rate[MAXREPS];
};

static struct target targets[2] = {
	{ .name = "vhost-iommu" },
	{ .name = "baseline", .user = true },
};

static struct vmm_req reqs[MAXB];

static void die(struct target *t, const char *what)
{
	fprintf(stderr, "bench_requests: %s: %s: %s%s\n", t->name, what,
		vt_errmsg, t->user ? vt_errmsg : "");
	exit(1);
}

/* Posts @n MAP (or UNMAP) requests of one page from @iova, one kick. */
static void run_batch(struct target *t, uint64_t iova, unsigned int n,
		      bool map)
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
			vmm_req_prepare(&t->v, &reqs[i], &m, VMM_MAP_LEN, 4);
		} else {
			vmm_mk_unmap(&u, DOM, s, s + PG - 1);
			vmm_req_prepare(&t->v, &reqs[i], &u, VMM_UNMAP_LEN,
					4);
		}
	}
	if (vmm_batch(&t->v, reqs, n))
		die(t, "batch");
	for (i = 0; i < n; i++) {
		if (reqs[i].used_len != 4 || reqs[i].status) {
			fprintf(stderr, "bench_requests: %s: %s %#llx: status %u, length %u\n",
				t->name, map ? "MAP" : "UNMAP",
				(unsigned long long)(iova + i * PG),
				reqs[i].status, reqs[i].used_len);
			exit(1);
		}
	}
}

/* Grows the domain to @live mappings, pages 0 .. live - 1 */
static void populate(struct target *t, unsigned long from, unsigned long live)
{
	unsigned long i;
	unsigned int n;

	for (i = from; i < live; i += n) {
		n = live - i < MAXB ? live - i : MAXB;
		run_batch(t, i * PG, n, true);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* At least @nreq requests: adds them to @done, returns nanoseconds */
static uint64_t measure(struct target *t, unsigned int batch,
			unsigned long nreq, unsigned long *done)
{
	unsigned long n = 0;
	uint64_t t0;

	t0 = vt_now_ns();
	while (n < nreq) {
		run_batch(t, BASE, batch, true);
		run_batch(t, BASE, batch, false);
		n += 2 * batch;
	}
	*done += n;
	return vt_now_ns() - t0;
}

/*
 * A no-op that prof_plugin.c recognises ("VIO" in the displacement, the
 * operation and the window in its low byte): 1w opens window w, 2w closes
 * it, 30 writes them all out.
 */
#define PROF_NOP(x)	"nopw 0x56494f" #x "(%%rax,%%rax,1)"

/* Opens (@open) or closes window @w, 0 to 5 */
static void prof_mark(bool open, unsigned int w)
{
	switch (w << 1 | open) {
	case 0:
		asm volatile(PROF_NOP(20) : : : "memory");
		break;
	case 1:
		asm volatile(PROF_NOP(10) : : : "memory");
		break;
	case 2:
		asm volatile(PROF_NOP(21) : : : "memory");
		break;
	case 3:
		asm volatile(PROF_NOP(11) : : : "memory");
		break;
	case 4:
		asm volatile(PROF_NOP(22) : : : "memory");
		break;
	case 5:
		asm volatile(PROF_NOP(12) : : : "memory");
		break;
	case 6:
		asm volatile(PROF_NOP(23) : : : "memory");
		break;
	case 7:
		asm volatile(PROF_NOP(13) : : : "memory");
		break;
	case 8:
		asm volatile(PROF_NOP(24) : : : "memory");
		break;
	case 9:
		asm volatile(PROF_NOP(14) : : : "memory");
		break;
	case 10:
		asm volatile(PROF_NOP(25) : : : "memory");
		break;
	case 11:
		asm volatile(PROF_NOP(15) : : : "memory");
		break;
	}
}

/* -L: VHOST_SET_VRING_BUSYLOOP_TIMEOUT of the kernel's request queue */
static unsigned int busyloop_us;

static void setup(struct target *t)
{
	struct vmm_opts o = {
		.features = UIOMMU_FEATURES,
		.num = { 1024 },
		.no_event_ring = true,
		.notify_batch_end = true,
		.prefault = true,
		.user_device = t->user,
		.busyloop_us = t->user ? 0 : busyloop_us,
	};
	int ret;

	if (vmm_init(&t->v, &o))
		die(t, "setup");
	if (t->user) {
		ret = uiommu_init(&t->model, UIOMMU_FEATURES);
		if (!ret)
			ret = uiommu_serve_vmm(&t->model, &t->v);
		if (!ret)
			ret = uiommu_add_endpoint(&t->model, EP);
		if (!ret)
			ret = uiommu_start(&t->model);
	} else {
		ret = vmm_add_endpoint(t->v.fd, EP, NULL, 0);
	}
	if (ret)
		die(t, "endpoint");
	if (vmm_attach(&t->v, DOM, EP, 0) != VIRTIO_IOMMU_S_OK)
		die(t, "ATTACH");
}

/*
 * The profile: for each batch size, the devices take turns in slices as
 * in the benchmark, one untimed repetition, then one in which each
 * device's slices count in a window of its own. Window numbers: batch
 * index * ntargets + device index.
 */
static void profile(unsigned int ntargets, const unsigned int *pb,
		    unsigned int npb, unsigned long live, unsigned long nreq)
{
	unsigned long done[2];
	unsigned int b, i, sl, w;
	uint64_t ns[2];

	for (i = 0; i < ntargets; i++)
		populate(&targets[i], 0, live);
	for (b = 0; b < npb; b++) {
		for (sl = 0; sl < SLICES; sl++)
			for (i = 0; i < ntargets; i++)
				measure(&targets[i], pb[b], nreq / SLICES,
					&done[i]);
		for (i = 0; i < ntargets; i++) {
			done[i] = 0;
			ns[i] = 0;
		}
		for (sl = 0; sl < SLICES; sl++) {
			for (i = 0; i < ntargets; i++) {
				prof_mark(true, b * ntargets + i);
				ns[i] += measure(&targets[i], pb[b],
						 nreq / SLICES, &done[i]);
				prof_mark(false, b * ntargets + i);
			}
		}
		for (i = 0; i < ntargets; i++) {
			w = b * ntargets + i;
			printf("prof,%u,%s,%u,%lu,%lu,%llu\n", w,
			       targets[i].name, pb[b], live, done[i],
			       (unsigned long long)ns[i]);
		}
		fflush(stdout);
	}
	asm volatile(PROF_NOP(30) : : : "memory");
}

static uint64_t live_mappings(struct target *t)
{
	struct vhost_iommu_stats st;
	struct uiommu_stats us;

	if (t->user) {
		uiommu_get_stats(&t->model, &us);
		return us.mappings;
	}
	if (vmm_get_stats(t->v.fd, &st))
		return ~0ULL;
	return st.mappings;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void record(const char *config, unsigned long live,
		   unsigned int batch, const char *figure, const char *unit,
		   double *v, unsigned int n)
{
	double med = median(v, n);

	printf("csv,requests,%s,batch %u / %lu live,%s,%s,%.6g,%.6g,%.6g,%u\n",
	       figure, batch, live, config, unit, med, v[0], v[n - 1], n);
}

int main(int argc, char **argv)
{
	unsigned long nreq = 8192, max_live = 1000000, have = 0, warm = 0;
	unsigned int reps = 5, l, b, r, i, sl, ntargets = 1, pb[NBATCH], npb = 0;
	bool prof = false, live_set = false;
	double ratio[MAXREPS];
	long long old_max = -1, cur;
	int c;

	while ((c = getopt(argc, argv, "r:n:m:uPb:L:h")) != -1) {
		switch (c) {
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			nreq = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			max_live = strtoul(optarg, NULL, 0);
			live_set = true;
			break;
		case 'u':
			ntargets = 2;
			break;
		case 'P':
			prof = true;
			break;
		case 'b':
			if (npb < NBATCH)
				pb[npb++] = strtoul(optarg, NULL, 0);
			break;
		case 'L':
			busyloop_us = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-r reps] [-n requests] [-m max live] [-u]\n"
				"\t[-P [-b batch]...] [-L busyloop us]\n", argv[0]);
			return 2;
		}
	}
	if (prof && !live_set)
		max_live = 1000;
	if (prof && !npb)
		pb[npb++] = MAXB;
	for (b = 0; b < npb; b++) {
		if (!pb[b] || pb[b] > MAXB) {
			fprintf(stderr, "bench_requests: batch 1 to %u\n", MAXB);
			return 2;
		}
	}
	if (!reps)
		reps = 1;
	if (reps > MAXREPS)
		reps = MAXREPS;

	/* max_mappings must hold the largest domain and the measured pages */
	cur = vt_param_get("max_mappings");
	if (cur >= 0 && (unsigned long long)cur < max_live + 2 * MAXB) {
		old_max = cur;
		if (vt_param_set("max_mappings", max_live + 4096)) {
			fprintf(stderr, "bench_requests: max_mappings is %lld, cannot raise it\n",
				cur);
			return 1;
		}
	}
	for (i = 0; i < ntargets; i++)
		setup(&targets[i]);
	if (prof) {
		profile(ntargets, pb, npb, max_live, nreq);
		goto out;
	}

	printf("# MAP+UNMAP through the request queue, %u reps of >= %lu requests\n",
	       reps, nreq);
	printf("# %-11s %-9s %6s %14s %14s %14s %8s %10s\n", "device", "live",
	       "batch", "req/s median", "min", "max", "spread", "ns/req");
	for (l = 0; l < NLIVE; l++) {
		if (live_levels[l] > max_live)
			break;
		for (i = 0; i < ntargets; i++) {
			struct target *t = &targets[i];
			uint64_t t0 = vt_now_ns();

			populate(t, have, live_levels[l]);
			if (live_mappings(t) != live_levels[l]) {
				fprintf(stderr, "bench_requests: %s: %llu mappings, not %lu\n",
					t->name,
					(unsigned long long)live_mappings(t),
					live_levels[l]);
				return 1;
			}
			printf("# %s: populated %lu mappings (%.1f s)\n",
			       t->name, live_levels[l],
			       (vt_now_ns() - t0) / 1e9);
		}
		have = live_levels[l];
		for (b = 0; b < NBATCH; b++) {
			/*
			 * Interleaved: within a repetition the devices take
			 * turns in slices, so that what the host does to the
			 * VM meanwhile falls on both alike. One untimed
			 * repetition first: what growing the domains left
			 * behind (deferred frees, the kernel's periodic work
			 * catching up) falls there.
			 */
			for (sl = 0; sl < SLICES; sl++)
				for (i = 0; i < ntargets; i++)
					measure(&targets[i], batches[b],
						nreq / SLICES, &warm);
			for (r = 0; r < reps; r++) {
				unsigned long done[2] = { 0, 0 };
				uint64_t ns[2] = { 0, 0 };

				for (sl = 0; sl < SLICES; sl++)
					for (i = 0; i < ntargets; i++)
						ns[i] += measure(&targets[i],
								 batches[b],
								 nreq / SLICES,
								 &done[i]);
				for (i = 0; i < ntargets; i++)
					targets[i].rate[r] = done[i] * 1e9 /
							     ns[i];
			}
			for (r = 0; ntargets > 1 && r < reps; r++)
				ratio[r] = targets[0].rate[r] /
					   targets[1].rate[r];
			for (i = 0; i < ntargets; i++) {
				struct target *t = &targets[i];
				double *rate = t->rate, med;

				med = median(rate, reps);
				t->median[l][b] = med;
				printf("  %-11s %-9lu %6u %14.0f %14.0f %14.0f %7.1f%% %10.0f\n",
				       t->name, have, batches[b], med, rate[0],
				       rate[reps - 1],
				       100.0 * (rate[reps - 1] - rate[0]) / med,
				       1e9 / med);
				record(t->name, have, batches[b], "req_per_s",
				       "requests/s", rate, reps);
			}
			if (ntargets > 1)
				record("vhost-iommu / baseline", have,
				       batches[b], "req_ratio", "x", ratio,
				       reps);
			fflush(stdout);
		}
	}
	if (l > 0) {
		printf("# cost(%lu live) / cost(%lu live), ns per request:\n",
		       live_levels[l - 1], live_levels[0]);
		for (i = 0; i < ntargets; i++)
			for (b = 0; b < NBATCH; b++)
				printf("  %-11s batch %-4u %.2f\n",
				       targets[i].name, batches[b],
				       targets[i].median[0][b] /
				       targets[i].median[l - 1][b]);
	}
out:
	for (i = 0; i < ntargets; i++) {
		if (targets[i].user)
			uiommu_fini(&targets[i].model);
		vmm_fini(&targets[i].v);
	}
	if (old_max >= 0)
		vt_param_set("max_mappings", old_max);
	return 0;
}
