// SPDX-License-Identifier: GPL-2.0
/*
 * bench_mem: the kernel memory one live mapping costs, as the VMM's memory
 * cgroup is charged for it: memory.current after -m one-page MAPs minus
 * before, divided by -m. Not a test: it prints numbers.
 *
 * Each configuration runs in a cgroup v2 memcg of its own, made under
 * /sys/fs/cgroup; the process moves into it before it opens any device,
 * so that what the devices allocate for the guest is charged there (the
 * device charges the memcg of its owner). Every page of guest memory is
 * touched first, through every view (the request buffers cycle through
 * guest memory and would otherwise be charged as they are first used),
 * and one batch is mapped and unmapped; then memory.current and the
 * "slab" line of memory.stat are read, the domain grown to -m mappings in
 * batches of 256 MAP requests of one page each, and both read again, after
 * a short sleep for RCU callbacks. The domain is then torn down.
 *
 *	none	/dev/vhost-iommu alone (vmm.c)
 *	bound	a vhost-net device bound to the endpoint (vguest.c) with
 *		push_on_map=1: every MAP is handed to vhost-net as an UPDATE
 *		and recorded in the binding's handed-out tree (which forgets
 *		everything past VHOST_IOMMU_MAX_HANDED ranges)
 *
 * vhost-net's own IOTLB entries (at most max_iotlb_entries, 2048) are not
 * charged to any memcg by vhost-net 6.1, so they are not in the figure.
 * Two CSV records per configuration (csv,memory,...; the format of
 * bench_net): memcg_bytes, the memory.current delta per mapping, and
 * slab_bytes, the delta of memory.stat's slab per mapping.
 *
 * usage: bench_mem [-m mappings]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uiommu.h"
#include "vguest.h"
#include "vmm.h"
#include "vnet.h"
#include "worker.h"

#define CG		"/sys/fs/cgroup"
#define EP		1
#define DOM		1
#define PG		0x1000ULL
#define BATCH		256
#define BASE		0x10000000000ULL	/* IOVAs of the mappings */
#define RING_IOVA	0x100000000ULL		/* vhost-net's rings */
#define RING_SIZE	0x10000ULL
#define DATA_OFF	(2ULL << 20)		/* in the net window */
#define DATA_PAGES	512
#define RW		(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)
#define TIMEOUT_MS	60000

static struct vmm_req reqs[BATCH];
static char cgdir[128];

static void die(const char *what)
{
	fprintf(stderr, "bench_mem: %s: %s\n", what, strerror(errno));
	fprintf(stderr, "bench_mem: vmm: %s\nbench_mem: vguest: %s\n",
		vt_errmsg, vt_errmsg);
	exit(1);
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return worker_write_file(path, val);
}

/* The number after @key (at a line start) in @file of @dir, or -1 */
static long long cg_read(const char *dir, const char *file, const char *key)
{
	char path[256], buf[8192], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!klen)
		return atoll(buf);
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return atoll(p + klen + 1);
	return -1;
}

/* Into a memcg of its own, @name; false where there is no memcg */
static bool cg_enter(const char *name)
{
	char buf[64];

	if (cg_write(CG, "cgroup.subtree_control", "+memory"))
		return false;
	snprintf(cgdir, sizeof(cgdir), CG "/bench_mem_%d_%s", getpid(), name);
	if (mkdir(cgdir, 0755) && errno != EEXIST)
		die("mkdir memcg");
	snprintf(buf, sizeof(buf), "%d", getpid());
	if (cg_write(cgdir, "cgroup.procs", buf))
		die("cgroup.procs");
	return true;
}

static void cg_leave(void)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (cg_write(CG, "cgroup.procs", buf))
		die("back to the root cgroup");
	rmdir(cgdir);
}

/* Every page of @len bytes at @p written (an atomic add of 0) */
static void touch(void *p, size_t len)
{
	uint8_t *b = p;
	size_t off;

	for (off = 0; off < len; off += PG)
		__atomic_fetch_add(b + off, 0, __ATOMIC_RELAXED);
}

static void touch_vmm(struct vmm *v)
{
	touch(v->gmem, VMM_MEM_SIZE);
	touch(v->hva[0], VMM_REGION_SIZE);
	touch(v->hva[1], VMM_REGION_SIZE);
}

/* @n MAPs (or UNMAPs) of one page from page @first, 256 per kick */
static void batch(struct vmm *v, unsigned long first, unsigned long n,
		  uint64_t gpa_base, bool map)
{
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_map m;
	unsigned long i, j, k;

	for (i = 0; i < n; i += k) {
		k = n - i < BATCH ? n - i : BATCH;
		for (j = 0; j < k; j++) {
			uint64_t s = BASE + (first + i + j) * PG;

			if (map) {
				vmm_mk_map(&m, DOM, s, s + PG - 1,
					   gpa_base + ((i + j) % DATA_PAGES) *
					   PG, RW);
				vmm_req_prepare(v, &reqs[j], &m, VMM_MAP_LEN,
						4);
			} else {
				vmm_mk_unmap(&u, DOM, s, s + PG - 1);
				vmm_req_prepare(v, &reqs[j], &u, VMM_UNMAP_LEN,
						4);
			}
		}
		if (vmm_batch(v, reqs, k))
			die("batch");
		for (j = 0; j < k; j++) {
			if (reqs[j].used_len != 4 || reqs[j].status) {
				fprintf(stderr, "bench_mem: %s %lu: status %u\n",
					map ? "MAP" : "UNMAP", first + i + j,
					reqs[j].status);
				exit(1);
			}
		}
	}
}

static void record(const char *figure, const char *mode, const char *config,
		   const char *unit, double v)
{
	printf("csv,memory,%s,%s,%s,%s,%.6g,%.6g,%.6g,1\n", figure, mode,
	       config, unit, v, v, v);
	fflush(stdout);
}

/*
 * Grows @v's domain to @n mappings to GPAs from @gpa_base; records the
 * memcg's charge per mapping as configuration @config.
 */
static void measure(struct vmm *v, uint64_t gpa_base, unsigned long n,
		    const char *config)
{
	long long cur0, slab0, cur1, slab1;
	uint64_t t0 = vt_now_ns(), m0;
	char mode[64];

	touch_vmm(v);
	batch(v, 0, BATCH, gpa_base, true);
	batch(v, 0, BATCH, gpa_base, false);
	usleep(200000);
	cur0 = cg_read(cgdir, "memory.current", "");
	slab0 = cg_read(cgdir, "memory.stat", "slab");
	m0 = vmm_stat(v->fd, mappings);
	batch(v, 0, n, gpa_base, true);
	if (vmm_stat(v->fd, mappings) != m0 + n) {
		fprintf(stderr, "bench_mem: %s: %llu mappings, not %llu\n",
			config, (unsigned long long)vmm_stat(v->fd, mappings),
			(unsigned long long)(m0 + n));
		exit(1);
	}
	usleep(200000);
	cur1 = cg_read(cgdir, "memory.current", "");
	slab1 = cg_read(cgdir, "memory.stat", "slab");
	if (cur0 < 0 || cur1 < 0 || slab0 < 0 || slab1 < 0) {
		fprintf(stderr, "bench_mem: cannot read %s\n", cgdir);
		exit(1);
	}
	printf("# %s: %lu mappings in %.1f s; memory.current %lld -> %lld, slab %lld -> %lld\n",
	       config, n, (vt_now_ns() - t0) / 1e9, cur0, cur1, slab0, slab1);
	snprintf(mode, sizeof(mode), "per mapping / %lu live", n);
	record("memcg_bytes", mode, config, "bytes",
	       (double)(cur1 - cur0) / n);
	record("slab_bytes", mode, config, "bytes",
	       (double)(slab1 - slab0) / n);
}

static void run_none(unsigned long n)
{
	struct vmm_opts o = {
		.features = UIOMMU_FEATURES,
		.num = { 1024 },
		.no_event_ring = true,
	};
	struct vmm v;

	if (vmm_init(&v, &o) || vmm_add_endpoint(v.fd, EP, NULL, 0))
		die("vhost-iommu");
	if (vmm_attach(&v, DOM, EP, 0) != VIRTIO_IOMMU_S_OK)
		die("ATTACH");
	measure(&v, VMM_DATA_GPA, n, "no binding");
	vmm_fini(&v);
}

static void run_bound(unsigned long n)
{
	static struct vguest g;
	struct vguest_opts o = {
		.mode = VNET_IOVA_MANUAL,
		.vmm = { .features = UIOMMU_FEATURES, .num = { 1024 } },
	};

	if (vguest_init(&g, &o))
		die("vguest_init");
	if (vguest_map(&g, RING_IOVA, g.net[0].gpa_base, RING_SIZE,
		       VGUEST_RW) || vguest_start(&g))
		die("vguest_start");
	touch(g.net[0].gmem, VNET_MEM_SIZE);
	touch(g.net[0].kmem, VNET_MEM_SIZE);
	/* The binding's domain is VGUEST_DOMAIN, which is DOM. */
	measure(&g.iommu, g.net[0].gpa_base + DATA_OFF, n,
		"one binding push_on_map=1");
	vguest_fini(&g);
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000;
	long long max0, push0;
	int c;

	while ((c = getopt(argc, argv, "m:h")) != -1) {
		switch (c) {
		case 'm':
			n = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-m mappings]\n", argv[0]);
			return 2;
		}
	}
	if (n < BATCH) {
		fprintf(stderr, "bench_mem: at least %u mappings\n", BATCH);
		return 2;
	}
	max0 = vt_param_get("max_mappings");
	push0 = vt_param_get("push_on_map");
	if (max0 < 0 || push0 < 0) {
		fprintf(stderr, "bench_mem: no vhost_iommu parameters\n");
		return 1;
	}
	if ((unsigned long long)max0 < n + BATCH &&
	    vt_param_set("max_mappings", n + BATCH))
		die("max_mappings");

	if (!cg_enter("none")) {
		printf("# bench_mem: no cgroup v2 memory controller at %s\n", CG);
		return 0;
	}
	run_none(n);
	cg_leave();

	if (!cg_enter("bound") || vt_param_set("push_on_map", 1))
		die("push_on_map");
	run_bound(n);
	cg_leave();

	vt_param_set("push_on_map", push0);
	vt_param_set("max_mappings", max0);
	return 0;
}
