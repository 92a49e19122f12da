// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu fuzzer: a hostile guest and a hostile VMM against
 * /dev/vhost-iommu, coverage-free but structure-aware.
 *
 * Device A (vmm.c, 16 MiB of guest memory in two regions, plus a third
 * region of 4 GiB of which only the first MiB is memory) is attacked by
 * several threads at once:
 *
 *   req    batches of request chains: valid requests of every type with
 *          random or mutated fields and sizes, descriptor layouts (split
 *          parts, zero-length descriptors, descriptors and indirect tables
 *          across the two regions, huge lengths, addresses outside the
 *          memory table, loops, nested and oversized indirect tables),
 *          storms of mappings removed by one UNMAP
 *   flip   rewrites guest memory while the device reads it: the readable
 *          part of some requests flips between several request images,
 *          and the indirect table of some chains between several tables
 *   event  the event queue: good, short, readable and malformed buffers,
 *          and floods of unusable buffers
 *   ioctl  random and mutated device ioctls and read() from several
 *          threads (sizes, flags, reserved fields, bad pointers)
 *   chaos  mid-traffic: VHOST_RESET_OWNER and set-up again,
 *          VHOST_IOMMU_RESET_DEVICE and the driver starting again (rings
 *          at index 0 handed back with the kick only), close and reopen,
 *          GET_VRING_BASE and restart, VHOST_SET_MEM_TABLE (same, another
 *          mapping, a region removed, invalid), eventfd changes
 *   net    device B (vguest.c) with stock vhost-net devices bound, frames
 *          both ways while mappings, attachments, bindings, the memory
 *          table and the owner change under them, and device resets
 *          (VHOST_IOMMU_RESET_DEVICE) while the VMM's miss server reads
 *          and answers
 *   report device R (a third one) and its report channel: a guest
 *          thread posting ATTACH, DETACH, MAP and UNMAP of endpoints
 *          added with VHOST_IOMMU_ENDPOINT_F_REPORT and ordinary ones, a
 *          VMM thread reading the records and answering them (OK, failures,
 *          late, wrong answers, never: a close or a reset instead), the
 *          channel closed, reopened and hung up by VHOST_RESET_OWNER
 *
 * Every outcome is checked against what Documentation/requests.md and
 * the uapi header promise (see check_rq(), check_errno() and the
 * comments there); the first failure stops the run. The seed printed at
 * the start (-s to replay it) fixes what every thread does, not how the
 * threads interleave.
 */
#include <endian.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "kselftest.h"
#include "vguest.h"

/* A hang guard, never a measurement: the debug kernel is 30x slower */
#define HANG_MS			VMM_TIMEOUT_MS
/* make check: at least this many requests */
#define CI_BUDGET		100000ULL

/* Guest-physical layout of device A, besides vmm.c's two rings */
#define L_IND0			0x200000ULL	/* indirect tables, region 0 */
#define L_IND0_END		0x300000ULL
#define L_FLIP			0x300000ULL	/* flip slots */
#define L_WILD			0x308000ULL	/* wild slots */
#define L_EV0			0x380000ULL	/* event buffers, region 0 */
#define L_EV0_END		0x400000ULL
#define L_DAT0			0x400000ULL	/* request buffers, region 0 */
#define L_DAT0_END		0x7e0000ULL
#define L_BOUND			VMM_REGION_SIZE	/* where region 1 starts */
#define L_DAT1			0x820000ULL	/* request buffers, region 1 */
#define L_DAT1_END		0xc00000ULL
#define L_IND1			0xc00000ULL	/* indirect tables, region 1 */
#define L_IND1_END		0xe00000ULL
#define L_EV1			0xe00000ULL	/* event buffers, region 1 */
#define L_EV1_END		VMM_MEM_SIZE
/* The third region: 4 GiB, memory only in the first MiB */
#define H_GPA			0x200000000ULL
#define H_SIZE			0x100000000ULL
#define H_MAPPED		0x100000ULL
#define H_DAT			(H_GPA + 0x1000)	/* buffers in it */
/* In no region */
#define BAD_GPA			0x100000000ULL

#define NFLIP			32
#define FLIP_SIZE		256
#define FLIP_IMGS		3
#define NWILD			16
#define WILD_SIZE		0x4000
#define WILD_NDESC		8

/* Endpoints 1..NEP exist in every instance of device A */
#define NEP			8
/* Always attached to domain 1 or 2, never in bypass (see pin_fix()) */
#define EP_PIN			1
#define EP_IOC			100	/* 100..107: the ioctl threads' own */
#define DOM_VMM			200	/* 200..203: VMM-managed domains */
#define IOVA_WIN		0x10000000ULL

#define BATCH			48
#define MAXCHK			8	/* segments recorded per part */
#define CHAIN_MAX		1200	/* descriptors of one chain */
#define CHECK_MAX		(128 << 10)	/* bytes checked per segment */
#define GUARD			16	/* pattern bytes after a buffer */
#define PAT			VMM_PATTERN
#define EVMAX			512	/* event buffers outstanding */

#define MS			1000000ULL

#define LOAD(p)			__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, x)		__atomic_store_n((p), (x), __ATOMIC_RELEASE)
#define ADD(p, x)		__atomic_add_fetch((p), (x), __ATOMIC_ACQ_REL)

enum comp { C_REQ, C_FLIP, C_EVENT, C_IOCTL, C_CHAOS, C_NET, C_REPORT,
	     C_MAX };

static const char * const comp_name[C_MAX] = {
	"req", "flip", "event", "ioctl", "chaos", "net", "report",
};

static struct {
	uint64_t seed;
	unsigned int seconds;	/* 0: no time limit */
	uint64_t budget;	/* requests; 0: no limit */
	unsigned int comps;	/* enabled components, bit per enum comp */
	unsigned int nioctl;	/* ioctl threads */
	int verbose;
	bool debug_kernel;
} opt;

/* Counters for the summary */
static struct {
	uint64_t requests;	/* request chains the devices returned */
	uint64_t ringerrs;	/* ring errors, expected ones */
	uint64_t ioctls;
	uint64_t events;	/* event buffers returned */
	uint64_t reports;	/* fault reports among them */
	uint64_t flips;		/* guest memory rewrites */
	uint64_t chaos;
	uint64_t frames;
	uint64_t episodes;	/* net devices set up and torn down */
} cnt;

static int stopping;
static unsigned int fails[C_MAX];
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* xoshiro256**, seeded with splitmix64 */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, unsigned int stream)
{
	uint64_t x = seed ^ ((uint64_t)stream * 0xd1342543de82ef95ULL);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rol64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct rng *r)
{
	uint64_t res = rol64(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rol64(r->s[3], 45);
	return res;
}

/* 0 .. n - 1 */
static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

/* true with probability p percent */
static bool pct(struct rng *r, unsigned int p)
{
	return below(r, 100) < p;
}

/* A 64-bit value fuzzers like */
static uint64_t wild64(struct rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 0xfff, 0x1000, 0x1001, 0xffffffff, 0x100000000ULL,
		~0ULL, ~0ULL - 0xfff, ~0ULL - 1, 1ULL << 63, (1ULL << 63) - 1,
		IOVA_WIN, IOVA_WIN + 0x1000, VMM_MEM_SIZE, L_BOUND,
	};

	if (pct(r, 50))
		return v[below(r, ARRAY_SIZE(v))];
	return pct(r, 50) ? rnd(r) : rnd(r) >> below(r, 64);
}

static uint32_t wild32(struct rng *r)
{
	static const uint32_t v[] = {
		0, 1, 2, 3, 4, 7, 8, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff,
		0x80000000, 0xfffffffe, 0xffffffff,
	};

	if (pct(r, 60))
		return v[below(r, ARRAY_SIZE(v))];
	return rnd(r);
}

static uint64_t umin(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t umax(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void fill_rnd(struct rng *r, void *p, size_t n)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = rnd(r);
}

static void msg(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	printf("# fuzz: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

#define vmsg(level, ...) do {				\
	if (opt.verbose >= (level))			\
		msg(__VA_ARGS__);			\
} while (0)

/* An invariant failed: say which, stop the run. */
static void fail(enum comp c, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	if (__atomic_fetch_add(&fails[c], 1, __ATOMIC_ACQ_REL) < 8) {
		printf("# fuzz: FAIL [%s] ", comp_name[c]);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(" (seed 0x%016llx)\n", (unsigned long long)opt.seed);
		fflush(stdout);
	}
	pthread_mutex_unlock(&print_lock);
	STORE(&stopping, 1);
}

static bool any_fail(void)
{
	unsigned int c, n = 0;

	for (c = 0; c < C_MAX; c++)
		n += LOAD(&fails[c]);
	return n;
}

static bool stop(void)
{
	return LOAD(&stopping);
}

/* The threads, each with its own random stream and a heartbeat */
struct thr {
	const char *name;
	enum comp comp;
	unsigned int stream;
	pthread_t tid;
	struct rng r;
	uint64_t beat;		/* ns */
	const char *doing;
	int done;
	bool started;
	void *(*fn)(void *arg);
};

/* What the thread starts doing now: the hang guard measures from here. */
static void beat(struct thr *t, const char *what)
{
	STORE(&t->doing, what);
	STORE(&t->beat, vt_now_ns());
}

static void msleep(unsigned int ms)
{
	usleep(ms * 1000);
}

/* Device A */

struct seg {
	uint64_t gpa;
	uint32_t len;
};

/* What the device may do with a request chain (struct rq.out) */
#define O_ZERO		0x01	/* returned unwritten, used length 0 */
#define O_TAIL		0x02	/* a tail at offset 0, used length 4 */
#define O_PROBE		0x04	/* PROBE: properties, then the tail */
#define O_RINGERR	0x08	/* the queue stops at it */
#define O_ANY		0x10	/* any used length up to ->wr_len */

/* One request chain posted */
struct rq {
	uint16_t head;
	uint8_t out;		/* O_* */
	uint16_t tailmask;	/* statuses O_TAIL may carry, bit per status */
	bool loose;		/* the buffers' content is not checked */
	bool flipped;		/* the readable part is being rewritten */
	bool exact_ep;		/* PROBE of endpoint ->ep of 1..NEP */
	bool inexact;		/* may be counted without a used entry */
	uint32_t ep;
	uint64_t rd_len, wr_len;
	unsigned int nrd, nwr;
	struct seg rd[MAXCHK], wr[MAXCHK];
	uint32_t rd_sum;
	const char *what;
	uint64_t table;		/* indirect table, or 0 */
	uint8_t type;		/* type byte of the request */
	unsigned int ndump;	/* descriptors recorded, for messages */
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
	} dump[12];
};

/* One event buffer posted */
enum { EV_GOOD, EV_UNUSABLE, EV_RINGERR, EV_ANY };

struct evr {
	uint16_t head;
	uint8_t kind;
	bool maybe_zero;	/* region 1 left the memory table meanwhile */
	unsigned int nwr;
	struct seg wr[4];
	uint32_t wr_len;
	const char *what;
};

struct dev {
	pthread_mutex_t lock;	/* everything below and the rings */
	pthread_rwlock_t fdlock; /* write: v.fd is being closed and reopened */
	/*
	 * Held by a reset from the reset until the pinned endpoint is
	 * attached again, and by an IOTLB_ATTACH naming domain 1 or 2: one
	 * landing in between would make that domain VMM-managed and the
	 * driver's ATTACH fail. Taken after lock.
	 */
	pthread_mutex_t pinlock;
	struct vmm v;
	uint64_t gen;		/* bumped when the rings are set up again */
	unsigned int qgen[2];	/* bumped when one ring is set up again */
	unsigned int inst;	/* bumped at every open */
	uint64_t owner_seq;	/* odd while the owner is being reset */
	int disrupt;		/* eventfd: the rings changed under you */
	struct vhost_iommu_config cfg;
	uint64_t granule;
	struct vhost_iommu_resv_region resv[NEP + 1][4];
	unsigned int nresv[NEP + 1];
	bool degraded;		/* region 1 is out of the memory table */
	bool logging;		/* VHOST_F_LOG_ALL negotiated (chaos_log()) */
	uint8_t *hres;		/* the 4 GiB region */
	int hmemfd;
	uint8_t *decoy;		/* F6: a replaced mapping of region 1 */
	const char *last_chaos;	/* for messages */

	/* The request queue's batch in flight */
	struct rq rq[BATCH + 2];
	unsigned int nrq, ndone;
	uint16_t avail0;	/* avail index of rq[0] */
	bool batch_live;

	/* Accounting of this instance, for the statistics */
	uint64_t used_total;	/* request chains returned */
	uint64_t tails_total;	/* ... with a used length */
	uint64_t ringerrs;
	bool inexact;

	/* The event queue: buffers in ring order */
	struct evr ev[EVMAX];
	unsigned int ev_first, ev_count;
	uint64_t reports;	/* used entries of 24 bytes */
};

static struct dev A;

/* The guest's pointer to @gpa of device A, or NULL outside its memory */
static uint8_t *gptr(struct dev *d, uint64_t gpa)
{
	if (gpa < VMM_MEM_SIZE)
		return d->v.gmem + gpa;
	if (gpa >= H_GPA && gpa - H_GPA < H_MAPPED)
		return d->hres + (gpa - H_GPA);
	return NULL;
}

static bool has(struct dev *d, unsigned int bit)
{
	return d->v.features & VMM_F(bit);
}

/* Size of the readable part of a request type (VIRTIO_IOMMU_T_*) */
static uint32_t in_size(unsigned int type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return VMM_ATTACH_LEN;
	case VIRTIO_IOMMU_T_DETACH:
		return VMM_DETACH_LEN;
	case VIRTIO_IOMMU_T_MAP:
		return VMM_MAP_LEN;
	case VIRTIO_IOMMU_T_UNMAP:
		return VMM_UNMAP_LEN;
	case VIRTIO_IOMMU_T_PROBE:
		return VMM_PROBE_LEN;
	}
	return 0;
}

#define S(x)	(1 << VIRTIO_IOMMU_S_##x)

/* The statuses each request type may return (Documentation/requests.md) */
static uint16_t status_mask(unsigned int type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return S(OK) | S(INVAL) | S(NOENT) | S(RANGE) | S(UNSUPP) |
		       S(NOMEM);
	case VIRTIO_IOMMU_T_DETACH:
		return S(OK) | S(NOENT) | S(INVAL);
	case VIRTIO_IOMMU_T_MAP:
		return S(OK) | S(UNSUPP) | S(INVAL) | S(NOENT) | S(RANGE) |
		       S(NOMEM);
	case VIRTIO_IOMMU_T_UNMAP:
		return S(OK) | S(UNSUPP) | S(INVAL) | S(NOENT) | S(RANGE) |
		       S(NOMEM);
	}
	return 0;
}

/* The type a type byte is executed as: 0 for an unknown one */
static unsigned int exec_type(struct dev *d, uint8_t t)
{
	if (t >= VIRTIO_IOMMU_T_ATTACH && t <= VIRTIO_IOMMU_T_UNMAP)
		return t;
	if (t == VIRTIO_IOMMU_T_PROBE && has(d, VIRTIO_IOMMU_F_PROBE))
		return t;
	return 0;
}

/* Adds what a request of type byte @t may do to @q. */
static void outcome(struct dev *d, struct rq *q, uint8_t t)
{
	unsigned int type = exec_type(d, t);

	if (q->rd_len < sizeof(struct virtio_iommu_req_head) ||
	    q->wr_len < sizeof(struct virtio_iommu_req_tail) || !type ||
	    q->rd_len < in_size(type)) {
		q->out |= O_ZERO;
	} else if (type == VIRTIO_IOMMU_T_PROBE) {
		q->out |= O_PROBE;
	} else {
		q->out |= O_TAIL;
		q->tailmask |= status_mask(type);
	}
}

/* The memory table: the two regions (or region 0 only), and the 4 GiB one */
enum { MT_NORMAL, MT_DECOY, MT_DEGRADED };

static int set_table(struct dev *d, int kind)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[3];
	} mt;
	unsigned int n = 0;

	memset(&mt, 0, sizeof(mt));
	mt.r[n].guest_phys_addr = 0;
	mt.r[n].memory_size = VMM_REGION_SIZE;
	mt.r[n++].userspace_addr = (uintptr_t)d->v.hva[0];
	if (kind != MT_DEGRADED) {
		mt.r[n].guest_phys_addr = VMM_REGION_SIZE;
		mt.r[n].memory_size = VMM_REGION_SIZE;
		mt.r[n++].userspace_addr = kind == MT_DECOY ?
			(uintptr_t)d->decoy : (uintptr_t)d->v.hva[1];
	}
	mt.r[n].guest_phys_addr = H_GPA;
	mt.r[n].memory_size = H_SIZE;
	mt.r[n++].userspace_addr = (uintptr_t)d->hres;
	mt.m.nregions = n;
	return vmm_ioctl(d->v.fd, VHOST_SET_MEM_TABLE, &mt);
}

/* The 4 GiB region: a reservation, its first MiB a memfd */
static int map_huge(struct dev *d)
{
	void *p;

	d->hmemfd = memfd_create("fuzz-huge", MFD_CLOEXEC);
	if (d->hmemfd < 0 || ftruncate(d->hmemfd, H_MAPPED))
		return -errno;
	d->hres = mmap(NULL, H_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->hres == MAP_FAILED)
		return -errno;
	p = mmap(d->hres, H_MAPPED, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, d->hmemfd, 0);
	return p == MAP_FAILED ? -errno : 0;
}

/* Features and ring sizes of the next set-up */
static void pick_setup(struct rng *r, struct dev *d)
{
	static const unsigned int nums[] = {
		1, 2, 4, 16, 64, 128, 256, 256, 256, 1024, 2048, 32768,
	};
	uint64_t f = VMM_F(VIRTIO_F_VERSION_1);

	if (pct(r, 85))
		f |= VMM_F(VIRTIO_RING_F_INDIRECT_DESC);
	if (pct(r, 50))
		f |= VMM_F(VIRTIO_RING_F_EVENT_IDX);
	if (pct(r, 90))
		f |= VMM_F(VIRTIO_IOMMU_F_MAP_UNMAP);
	if (pct(r, 85))
		f |= VMM_F(VIRTIO_IOMMU_F_PROBE);
	if (pct(r, 50))
		f |= VMM_F(VIRTIO_IOMMU_F_INPUT_RANGE);
	if (pct(r, 50))
		f |= VMM_F(VIRTIO_IOMMU_F_DOMAIN_RANGE);
	if (pct(r, 50))
		f |= VMM_F(VIRTIO_IOMMU_F_MMIO);
	if (pct(r, 60))
		f |= VMM_F(VIRTIO_IOMMU_F_BYPASS_CONFIG);
	d->v.opts.features = f;
	/* vmm_attach() needs two descriptors, a batch more most of the time */
	d->v.opts.num[0] = umax(nums[below(r, ARRAY_SIZE(nums))], 2);
	if (d->v.opts.num[0] < 64 && pct(r, 70))
		d->v.opts.num[0] = 256;
	d->v.opts.num[1] = nums[below(r, ARRAY_SIZE(nums))];
	d->v.opts.force_kick = pct(r, 20);
}

/* A configuration for a new instance, and the endpoints' regions */
static void pick_config(struct rng *r, struct dev *d)
{
	struct vhost_iommu_config *c = &d->cfg;
	unsigned int e, i;
	uint64_t at;

	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->page_size_mask = pct(r, 80) ? ~0xfffULL :
			    pct(r, 50) ? ~0xffffULL : 0x1000 | 0x200000;
	d->granule = c->page_size_mask & -c->page_size_mask;
	c->input_start = pct(r, 70) ? 0 : IOVA_WIN;
	c->input_end = pct(r, 70) ? ~0ULL : IOVA_WIN + (64ULL << 20) - 1;
	c->domain_start = pct(r, 70) ? 0 : 1;
	c->domain_end = pct(r, 70) ? ~0U : 16;
	c->probe_size = pct(r, 60) ? 512 : 4 * below(r, 64);
	if (pct(r, 3))
		c->probe_size = 65536;
	c->bypass = pct(r, 50);
	for (e = 1; e <= NEP; e++) {
		d->nresv[e] = below(r, 4);
		at = IOVA_WIN + (below(r, 64) << 20);
		for (i = 0; i < d->nresv[e]; i++) {
			struct vhost_iommu_resv_region *rv = &d->resv[e][i];

			memset(rv, 0, sizeof(*rv));
			rv->start = at;
			rv->end = at + d->granule * (1 + below(r, 4)) - 1;
			rv->subtype = below(r, 2);
			at = rv->end + 1 + d->granule * below(r, 8);
		}
		if (d->nresv[e] * sizeof(struct virtio_iommu_probe_resv_mem) >
		    c->probe_size)
			d->nresv[e] = 0;
	}
}

static void drain(int fd)
{
	uint64_t c;

	if (fd >= 0 && read(fd, &c, sizeof(c)) < 0 && errno != EAGAIN)
		msg("eventfd read: %m");
}

/* One request of the set-up, synchronously, counted like the others */
static int dev_attach(struct dev *d, uint32_t domain, uint32_t ep)
{
	int ret = vmm_attach(&d->v, domain, ep, 0);

	if (ret >= 0 || ret == -EPROTO) {
		d->used_total++;
		if (d->v.last_len)
			d->tails_total++;
		ADD(&cnt.requests, 1);
	}
	return ret;
}

/* Signals of the rings before they were set up again */
static void drain_all(struct dev *d)
{
	unsigned int q;

	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		drain(d->v.vq[q].call);
		drain(d->v.vq[q].err);
	}
}

/* The rings were set up again: nothing in flight, nothing signalled */
static int dev_rings_fresh(struct dev *d)
{
	drain_all(d);
	d->degraded = false;
	d->ev_first = 0;
	d->ev_count = 0;
	d->batch_live = false;
	return 0;
}

/*
 * Owner, features, memory table, rings (vmm_setup()), then the pinned
 * endpoint attached. The event queue starts empty.
 */
static int dev_setup(struct dev *d)
{
	int ret;

	ret = vmm_setup(&d->v);
	if (ret)
		return ret;
	d->degraded = false;
	drain_all(d);
	ret = dev_attach(d, 1, EP_PIN);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	return dev_rings_fresh(d);
}

/* A new instance on d->v.fd: set-up, configuration, endpoints */
static int dev_instance(struct rng *r, struct dev *d)
{
	struct vhost_iommu_config c;
	unsigned int e;
	int ret;

	d->inst++;
	d->used_total = 0;
	d->tails_total = 0;
	d->ringerrs = 0;
	d->inexact = false;
	d->reports = 0;
	pick_setup(r, d);
	pick_config(r, d);
	ret = vmm_setup(&d->v);
	if (ret)
		return ret;
	ret = vmm_set_config(d->v.fd, &d->cfg);
	if (ret) {
		msg("SET_CONFIG: %s", strerror(-ret));
		return ret;
	}
	ret = vmm_get_config(d->v.fd, &c);
	if (ret)
		return ret;
	d->v.probe_size = c.probe_size;
	for (e = 1; e <= NEP; e++) {
		ret = vmm_add_endpoint(d->v.fd, e, d->resv[e], d->nresv[e]);
		if (ret) {
			msg("ADD_ENDPOINT %u: %s", e, strerror(-ret));
			return ret;
		}
	}
	drain_all(d);
	ret = dev_attach(d, 1, EP_PIN);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	return dev_rings_fresh(d);
}

static int dev_init(struct rng *r, struct dev *d)
{
	pthread_rwlockattr_t ra;
	struct vmm_opts o;
	int ret;

	memset(d, 0, sizeof(*d));
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->pinlock, NULL);
	pthread_rwlockattr_init(&ra);
	/* The ioctl threads must not starve a close and reopen. */
	pthread_rwlockattr_setkind_np(&ra,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->fdlock, &ra);
	d->disrupt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = map_huge(d);
	if (ret || d->disrupt < 0)
		return ret ? ret : -errno;
	/* vmm_init() with no rings: dev_instance() sets up the rest. */
	o.no_rings = true;
	o.nextra = 1;
	o.extra[0].guest_phys_addr = H_GPA;
	o.extra[0].memory_size = H_SIZE;
	o.extra[0].userspace_addr = (uintptr_t)d->hres;
	ret = vmm_init(&d->v, &o);
	if (ret)
		return ret;
	d->v.opts.no_rings = false;
	/* vmm_init() made its owner; dev_instance() starts over. */
	ret = vmm_ioctl(d->v.fd, VHOST_RESET_OWNER, NULL);
	if (ret)
		return ret;
	return dev_instance(r, d);
}

/*
 * Slots of guest memory the flip thread rewrites while the device reads
 * them: the requester writes the images, arms the slot, and quiesces it
 * (waits until the flip thread has seen it disarmed) before reusing it.
 * The flip thread only ever copies bytes of the images, so whatever the
 * device reads is a mix, byte by byte, of what the requester wrote.
 */
struct slot {
	uint32_t gen, ack;
	int active;
	uint64_t gpa;
	uint32_t len;
	unsigned int nimg;
	uint8_t img[FLIP_IMGS][FLIP_SIZE];
};

static struct slot flips[NFLIP], wilds[NWILD];

static void slot_quiesce(struct thr *t, struct slot *s)
{
	uint32_t g;

	if (!LOAD(&s->active))
		return;
	STORE(&s->active, 0);
	g = ADD(&s->gen, 1);
	while (LOAD(&s->ack) != g) {
		if (!(opt.comps & (1 << C_FLIP)))
			break;
		sched_yield();
	}
	beat(t, "quiesced a slot");
}

static void slot_arm(struct dev *d, struct slot *s)
{
	memcpy(gptr(d, s->gpa), s->img[0], s->len);
	STORE(&s->active, 1);
	ADD(&s->gen, 1);
}

/* The pinned endpoint is never detached, and only re-attached to 1 or 2. */
static void pin_fix(uint8_t *b, uint32_t len)
{
	uint32_t ep, dom;

	if (len < 16 || (b[0] != VIRTIO_IOMMU_T_ATTACH &&
			 b[0] != VIRTIO_IOMMU_T_DETACH))
		return;
	memcpy(&ep, b + 8, 4);
	if (le32toh(ep) != EP_PIN)
		return;
	if (b[0] == VIRTIO_IOMMU_T_DETACH) {
		b[8] = 2;
		return;
	}
	memcpy(&dom, b + 4, 4);
	dom = htole32(1 + (le32toh(dom) & 1));
	memcpy(b + 4, &dom, 4);
	memset(b + 12, 0, 4);		/* flags: never BYPASS */
}

static uint32_t pick_domain(struct rng *r)
{
	switch (below(r, 10)) {
	case 0:
		return DOM_VMM + below(r, 4);
	case 1:
		return wild32(r);
	default:
		return 1 + below(r, 16);
	}
}

static uint32_t pick_ep(struct rng *r)
{
	if (pct(r, 65))
		return 1 + below(r, NEP);
	if (pct(r, 70))
		return EP_IOC + below(r, 8);
	return wild32(r);
}

static uint64_t pick_iova(struct rng *r, struct dev *d)
{
	return IOVA_WIN + below(r, 4096) * d->granule;
}

static void put32(uint8_t *b, unsigned int off, uint32_t v)
{
	v = htole32(v);
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, unsigned int off, uint64_t v)
{
	v = htole64(v);
	memcpy(b + off, &v, 8);
}

static uint8_t pick_type(struct rng *r)
{
	static const uint8_t unknown[] = { 0, 6, 7, 8, 11, 36, 255 };

	switch (below(r, 20)) {
	case 0: case 1: case 2:
		return VIRTIO_IOMMU_T_ATTACH;
	case 3: case 4:
		return VIRTIO_IOMMU_T_DETACH;
	case 5: case 6: case 7: case 8: case 9: case 10:
		return VIRTIO_IOMMU_T_MAP;
	case 11: case 12: case 13: case 14:
		return VIRTIO_IOMMU_T_UNMAP;
	case 15: case 16: case 17:
		return VIRTIO_IOMMU_T_PROBE;
	case 18:
		return unknown[below(r, ARRAY_SIZE(unknown))];
	}
	return rnd(r);
}

/* A request of type @type in @b (zeroed, FLIP_SIZE bytes); its length */
static uint32_t mk_image(struct rng *r, struct dev *d, uint8_t type,
			 uint8_t *b)
{
	uint64_t start = pick_iova(r, d), size;
	uint32_t flags;

	memset(b, 0, FLIP_SIZE);
	b[0] = type;
	if (pct(r, 5))
		b[1 + below(r, 3)] = rnd(r);	/* head.reserved: ignored */
	size = d->granule * (1 + below(r, pct(r, 90) ? 32 : 4096));
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		put32(b, 4, pick_domain(r));
		put32(b, 8, pick_ep(r));
		flags = pct(r, 85) ? 0 : pct(r, 70) ?
			VIRTIO_IOMMU_ATTACH_F_BYPASS : wild32(r);
		put32(b, 12, flags);
		if (pct(r, 5))
			b[16 + below(r, 4)] = rnd(r);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		put32(b, 4, pick_domain(r));
		put32(b, 8, pick_ep(r));
		if (pct(r, 30))
			fill_rnd(r, b + 12, 8);	/* ignored */
		break;
	case VIRTIO_IOMMU_T_MAP:
		put32(b, 4, pick_domain(r));
		put64(b, 8, start);
		put64(b, 16, start + size - 1);
		put64(b, 24, pct(r, 80) ? below(r, VMM_MEM_SIZE / d->granule) *
			     d->granule : wild64(r));
		flags = VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE;
		if (pct(r, 30))
			flags = pct(r, 80) ? below(r, 8) : wild32(r);
		put32(b, 32, flags);
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		put32(b, 4, pick_domain(r));
		switch (below(r, 5)) {
		case 0:
			put64(b, 8, 0);
			put64(b, 16, ~0ULL);
			break;
		case 1:
			put64(b, 8, wild64(r));
			put64(b, 16, wild64(r));
			break;
		default:
			put64(b, 8, start);
			put64(b, 16, start + size - 1);
		}
		if (pct(r, 5))
			b[24 + below(r, 4)] = rnd(r);
		break;
	case VIRTIO_IOMMU_T_PROBE:
		put32(b, 4, pick_ep(r));
		if (pct(r, 30))
			fill_rnd(r, b + 8, 64);	/* reserved: ignored */
		break;
	default:
		fill_rnd(r, b + 1, 64);
		return 4 + below(r, 72);
	}
	return in_size(type);
}

/* Field and byte mutations of a request image of @len bytes */
static void mutate(struct rng *r, uint8_t *b, uint32_t len)
{
	unsigned int n = 1 + below(r, 4), off;

	while (n-- && len) {
		off = below(r, len);
		switch (below(r, 6)) {
		case 0:
			b[off] ^= 1 << below(r, 8);
			break;
		case 1:
			b[off] = rnd(r);
			break;
		case 2:
			if (len >= 8)
				put32(b, 4 * below(r, len / 4), wild32(r));
			break;
		case 3:
			if (len >= 16)
				put64(b, 4 + 8 * below(r, (len - 4) / 8),
				      wild64(r));
			break;
		case 4:
			b[0] = pct(r, 50) ? pick_type(r) : rnd(r);
			break;
		default:
			/* off by one in an address or a size */
			if (len >= 24)
				b[8 + 8 * below(r, 2)] += pct(r, 50) ? 1 : -1;
		}
	}
}

/* Allocation state of one batch */
struct arena {
	uint64_t next, end;
};

enum { P_R0, P_R1, P_STRADDLE, P_HUGE, P_MAX };

struct bal {
	struct arena dat[2], ind[2], huge;
	bool straddle_used, bigwr_used;
	unsigned int nflip, nwild;
	struct slot *used[NFLIP + NWILD];
	uint16_t perm[VMM_MAX_NUM];
	unsigned int pnum, pcur;
};

static uint64_t arena_alloc(struct arena *a, uint64_t len, uint64_t align)
{
	uint64_t gpa = (a->next + align - 1) & ~(align - 1);

	if (gpa + len + GUARD > a->end || len > a->end)
		return 0;
	a->next = gpa + len + GUARD;
	return gpa;
}

static void bal_reset(struct rng *r, struct dev *d, struct bal *b)
{
	unsigned int i, j;
	uint16_t x;

	b->dat[0] = (struct arena){ L_DAT0, L_DAT0_END };
	b->dat[1] = (struct arena){ L_DAT1, L_DAT1_END };
	b->ind[0] = (struct arena){ L_IND0, L_IND0_END };
	b->ind[1] = (struct arena){ L_IND1, L_IND1_END };
	b->huge = (struct arena){ H_GPA + 0x30000, H_GPA + H_MAPPED };
	b->straddle_used = false;
	b->bigwr_used = false;
	b->nflip = 0;
	b->nwild = 0;
	b->pnum = d->v.vq[0].num;
	b->pcur = 0;
	for (i = 0; i < b->pnum; i++)
		b->perm[i] = i;
	for (i = b->pnum - 1; i > 0 && pct(r, 80); i--) {
		j = below(r, i + 1);
		x = b->perm[i];
		b->perm[i] = b->perm[j];
		b->perm[j] = x;
	}
}

/* A buffer of @len bytes (+ GUARD bytes of pattern after it), or 0 */
static uint64_t place(struct rng *r, struct bal *b, uint64_t len, int where)
{
	uint64_t gpa = 0;
	int i;

	if (where == P_STRADDLE && !b->straddle_used && len >= 2 &&
	    len <= 0x10000) {
		b->straddle_used = true;
		return L_BOUND - 1 - below(r, len - 1);
	}
	if (where == P_HUGE)
		gpa = arena_alloc(&b->huge, len, 8);
	for (i = 0; !gpa && i < 2; i++)
		gpa = arena_alloc(&b->dat[(where + i) & 1], len, 8);
	return gpa;
}

static int pick_where(struct rng *r)
{
	static const int w[] = {
		P_R0, P_R0, P_R0, P_R0, P_R1, P_R1, P_R1, P_STRADDLE,
		P_STRADDLE, P_HUGE,
	};

	return w[below(r, ARRAY_SIZE(w))];
}

/* A chain before it is written into the ring or a table */
struct fdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct cbuild {
	struct fdesc d[CHAIN_MAX];
	unsigned int n;
	unsigned int zl;	/* percent: zero-length descriptors */
};

static void cb_add(struct cbuild *cb, uint64_t addr, uint32_t len,
		   uint16_t flags)
{
	if (cb->n < CHAIN_MAX)
		cb->d[cb->n++] = (struct fdesc){ addr, len, flags, 0 };
}

static void seg_add(struct rq *q, bool write, uint64_t gpa, uint32_t len)
{
	struct seg *s = write ? q->wr : q->rd;
	unsigned int *n = write ? &q->nwr : &q->nrd;

	if (*n < MAXCHK)
		s[(*n)++] = (struct seg){ gpa, len };
	else
		q->loose = true;
}

/*
 * Lays out a part of @len bytes (@src for a readable part, the pattern for
 * a writable one) in @pieces pieces at random places, with zero-length
 * descriptors among them, and records it in @q. Returns false when the
 * batch is out of memory.
 */
static bool put_part(struct rng *r, struct dev *d, struct bal *b,
		     struct cbuild *cb, struct rq *q, const uint8_t *src,
		     uint32_t len, bool write, unsigned int pieces)
{
	uint16_t flags = write ? VRING_DESC_F_WRITE : 0;
	uint32_t off = 0, plen;
	uint64_t gpa;
	unsigned int i;

	for (i = 0; off < len; i++) {
		plen = len - off;
		if (i + 1 < pieces && plen > 1)
			plen = 1 + below(r, plen - 1);
		gpa = place(r, b, plen, pick_where(r));
		if (!gpa)
			return false;
		if (write)
			memset(gptr(d, gpa), PAT, plen + GUARD);
		else
			memcpy(gptr(d, gpa), src + off, plen);
		if (!write)
			memset(gptr(d, gpa) + plen, PAT, GUARD);
		if (pct(r, cb->zl))
			cb_add(cb, gpa, 0, flags);
		cb_add(cb, gpa, plen, flags);
		seg_add(q, write, gpa, plen);
		off += plen;
	}
	if (write)
		q->wr_len += len;
	else
		q->rd_len += len;
	return true;
}

static void wdesc(struct vring_desc *p, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	p->addr = htole64(addr);
	p->len = htole32(len);
	p->flags = htole16(flags);
	p->next = htole16(next);
}

/* Writes the chain into descriptors of the ring: its head, or -1 */
static int put_direct(struct dev *d, struct bal *b, struct cbuild *cb)
{
	struct vq *vq = &d->v.vq[0];
	unsigned int i;
	uint16_t *idx;

	if (!cb->n || b->pcur + cb->n > b->pnum)
		return -1;
	idx = &b->perm[b->pcur];
	b->pcur += cb->n;
	for (i = 0; i < cb->n; i++) {
		bool more = i + 1 < cb->n;

		wdesc(&vq->desc[idx[i]], cb->d[i].addr, cb->d[i].len,
		      cb->d[i].flags | (more ? VRING_DESC_F_NEXT : 0),
		      more ? idx[i + 1] : cb->d[i].next);
	}
	return idx[0];
}

/* One descriptor of the ring */
static int put_one(struct dev *d, struct bal *b, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	struct vq *vq = &d->v.vq[0];
	uint16_t i;

	if (b->pcur >= b->pnum)
		return -1;
	i = b->perm[b->pcur++];
	wdesc(&vq->desc[i], addr, len, flags, next);
	return i;
}

/* Writes the chain into an indirect table at @where; the table's GPA */
static uint64_t put_table(struct rng *r, struct dev *d, struct bal *b,
			  struct cbuild *cb, int where, bool misalign)
{
	uint64_t len = (uint64_t)cb->n * 16, gpa = 0;
	struct vring_desc *t;
	unsigned int i;

	if (where == P_STRADDLE && !b->straddle_used && cb->n >= 2) {
		b->straddle_used = true;
		gpa = L_BOUND - 16 * (1 + below(r, cb->n - 1));
	} else if (where == P_HUGE) {
		gpa = arena_alloc(&b->huge, len, 16);
	} else {
		gpa = arena_alloc(&b->ind[where == P_R1], len,
				  misalign && pct(r, 5) ? 1 : 16);
	}
	if (!gpa)
		gpa = arena_alloc(&b->ind[0], len, 16);
	if (!gpa)
		return 0;
	t = (struct vring_desc *)gptr(d, gpa);
	for (i = 0; i < cb->n; i++) {
		bool more = i + 1 < cb->n;
		struct vring_desc e;

		wdesc(&e, cb->d[i].addr, cb->d[i].len,
		      cb->d[i].flags | (more ? VRING_DESC_F_NEXT : 0),
		      more ? i + 1 : cb->d[i].next);
		memcpy(&t[i], &e, sizeof(e));	/* may be unaligned */
	}
	return gpa;
}

/* Sum of the readable bytes, to see that the device never wrote them */
static uint32_t rd_sum(struct dev *d, struct rq *q)
{
	uint32_t h = 2166136261U;
	unsigned int i;
	uint32_t k;

	for (i = 0; i < q->nrd; i++) {
		const uint8_t *p = gptr(d, q->rd[i].gpa);

		for (k = 0; p && k < umin(q->rd[i].len, CHECK_MAX); k++)
			h = (h ^ p[k]) * 16777619U;
	}
	return h;
}

/* Byte @off of the writable part; -1 past what is recorded */
static int wbyte(struct dev *d, const struct rq *q, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < q->nwr; i++) {
		if (off < q->wr[i].len) {
			const uint8_t *p = gptr(d, q->wr[i].gpa);

			if (!p || off >= CHECK_MAX)
				return -1;
			return p[off];
		}
		off -= q->wr[i].len;
	}
	return -1;
}

/* First byte in [from, to) of the writable part that is not @val, or -1 */
static int64_t wr_not(struct dev *d, const struct rq *q, uint64_t from,
		      uint64_t to, uint8_t val)
{
	uint64_t off, base = 0;
	unsigned int i;

	for (i = 0; i < q->nwr; i++) {
		const uint8_t *p = gptr(d, q->wr[i].gpa);
		uint64_t end = base + umin(q->wr[i].len, CHECK_MAX);

		for (off = umax(from, base); p && off < umin(to, end); off++)
			if (p[off - base] != val)
				return off;
		base += q->wr[i].len;
	}
	return -1;
}

static bool guards_ok(struct dev *d, const struct rq *q)
{
	unsigned int i, k;

	for (i = 0; i < q->nwr; i++) {
		const uint8_t *p = gptr(d, q->wr[i].gpa + q->wr[i].len);

		if (q->wr[i].len > CHECK_MAX || !p)
			continue;
		for (k = 0; k < GUARD; k++)
			if (p[k] != PAT)
				return false;
	}
	return true;
}

static uint32_t le32at(struct dev *d, const struct rq *q, uint64_t off)
{
	uint32_t v = 0;
	int i;

	for (i = 3; i >= 0; i--)
		v = (v << 8) | (wbyte(d, q, off + i) & 0xff);
	return v;
}

static uint64_t le64at(struct dev *d, const struct rq *q, uint64_t off)
{
	return le32at(d, q, off) | (uint64_t)le32at(d, q, off + 4) << 32;
}

static bool tail_ok(struct dev *d, const struct rq *q, uint64_t off,
		    uint16_t mask, char *why, size_t n)
{
	int st = wbyte(d, q, off);

	if (st < 0 || st > 15 || !(mask & (1 << st))) {
		snprintf(why, n, "status %d at %llu (allowed %#x)",
			 st, (unsigned long long)off, mask);
		return false;
	}
	if (wr_not(d, q, off + 1, off + 4, 0) >= 0) {
		snprintf(why, n, "tail.reserved not zero");
		return false;
	}
	return true;
}

/* The properties of a full PROBE answer, the tail at probe_size */
static bool probe_ok(struct dev *d, const struct rq *q, char *why, size_t n)
{
	uint32_t ps = d->v.probe_size, off = 0, type, plen, k = 0;
	int st;

	if (!tail_ok(d, q, ps, S(OK) | S(NOENT) | S(NOMEM), why, n))
		return false;
	st = wbyte(d, q, ps);
	while (st == VIRTIO_IOMMU_S_OK && off + 24 <= ps) {
		type = le32at(d, q, off) & 0xffff;
		plen = le32at(d, q, off) >> 16;
		if (!type && !plen)
			break;
		if (type != VIRTIO_IOMMU_PROBE_T_RESV_MEM || plen != 20 ||
		    wbyte(d, q, off + 4) > 1 || le32at(d, q, off + 4) >> 8 ||
		    le64at(d, q, off + 8) > le64at(d, q, off + 16)) {
			snprintf(why, n, "bad property at %u", off);
			return false;
		}
		if (q->exact_ep && (k >= A.nresv[q->ep] ||
				    le64at(d, q, off + 8) != A.resv[q->ep][k].start ||
				    le64at(d, q, off + 16) != A.resv[q->ep][k].end ||
				    wbyte(d, q, off + 4) != A.resv[q->ep][k].subtype)) {
			snprintf(why, n, "property %u is not region %u of endpoint %u",
				 off, k, q->ep);
			return false;
		}
		off += 24;
		k++;
	}
	if (q->exact_ep && st == VIRTIO_IOMMU_S_OK && k != A.nresv[q->ep]) {
		snprintf(why, n, "%u properties for the %u regions of endpoint %u",
			 k, A.nresv[q->ep], q->ep);
		return false;
	}
	if (wr_not(d, q, off, ps, 0) >= 0) {
		snprintf(why, n, "byte %lld of the properties not zero (%s)",
			 (long long)wr_not(d, q, off, ps, 0),
			 st ? "no property: F12, zero-fill what is counted" :
			 "after the properties");
		return false;
	}
	return true;
}

/* The chain's layout, for messages */
static const char *describe(const struct rq *q)
{
	static __thread char buf[600];
	unsigned int i;
	int n;

	n = snprintf(buf, sizeof(buf), "type %u, head %u, table %#llx:",
		     q->type, q->head, (unsigned long long)q->table);
	for (i = 0; i < q->ndump && n < (int)sizeof(buf) - 40; i++)
		n += snprintf(buf + n, sizeof(buf) - n, " %s%#llx+%#x",
			      q->dump[i].flags & VRING_DESC_F_WRITE ? "W" : "R",
			      (unsigned long long)q->dump[i].addr,
			      q->dump[i].len);
	return buf;
}

/*
 * Checks a returned request chain against what it may do (->out): the
 * used length, the tail, the properties, what was left untouched, and the
 * readable part and the bytes around the writable part unwritten.
 */
static void check_rq(struct dev *d, struct rq *q, uint32_t len,
		     unsigned int pos)
{
	uint32_t ps = d->v.probe_size;
	uint64_t plen = q->wr_len >= ps + 4ULL ? ps + 4ULL : q->wr_len;
	char why[160] = "", why2[160] = "";
	bool ok = false;

	if (q->out & O_ANY) {
		if (len > 8 * 255)
			fail(C_REQ, "chain %u (%s): used length %u, the table can hold 2040",
			     pos, q->what, len);
		return;
	}
	if (!(q->out & ~O_RINGERR)) {
		fail(C_REQ, "chain %u (%s) returned (used length %u): it must stop the queue",
		     pos, q->what, len);
		return;
	}
	if (len > q->wr_len) {
		fail(C_REQ, "chain %u (%s): used length %u > writable part %llu",
		     pos, q->what, len, (unsigned long long)q->wr_len);
		return;
	}
	if (!len) {
		ok = q->out & O_ZERO;
		if (!ok) {
			snprintf(why, sizeof(why), "returned unwritten");
		} else if (!q->loose && wr_not(d, q, 0, q->wr_len, PAT) >= 0) {
			snprintf(why, sizeof(why),
				 "used length 0 but byte %lld written",
				 (long long)wr_not(d, q, 0, q->wr_len, PAT));
			ok = false;
		}
	} else {
		if ((q->out & O_PROBE) && len == plen) {
			if (q->loose)
				ok = true;
			else if (plen == ps + 4ULL)
				ok = probe_ok(d, q, why, sizeof(why));
			else
				ok = tail_ok(d, q, plen - 4,
					     S(INVAL) | S(NOENT) | S(NOMEM),
					     why, sizeof(why)) &&
				     (wr_not(d, q, 0, plen - 4, 0) < 0 ||
				      !snprintf(why, sizeof(why),
						"short PROBE: byte %lld counted but not written (F12)",
						(long long)wr_not(d, q, 0, plen - 4, 0)));
			if (ok && !q->loose &&
			    wr_not(d, q, plen, q->wr_len, PAT) >= 0) {
				snprintf(why, sizeof(why), "written past the used length");
				ok = false;
			}
		}
		if (!ok && (q->out & O_TAIL) && len == 4) {
			ok = q->loose ||
			     (tail_ok(d, q, 0, q->tailmask, why2, sizeof(why2)) &&
			      (wr_not(d, q, 4, q->wr_len, PAT) < 0 ||
			       !snprintf(why2, sizeof(why2), "written past the tail")));
		}
		if (!ok && !why[0] && !why2[0])
			snprintf(why, sizeof(why), "unexpected used length");
	}
	if (!ok) {
		fail(C_REQ,
		     "chain %u (%s, out %#x, rd %llu wr %llu, probe_size %u): used length %u: %s%s%s [%s]",
		     pos, q->what, q->out, (unsigned long long)q->rd_len,
		     (unsigned long long)q->wr_len, ps, len, why,
		     why[0] && why2[0] ? "; " : "", why2, describe(q));
		return;
	}
	if (q->loose)
		return;
	if (!guards_ok(d, q))
		fail(C_REQ, "chain %u (%s): written past its writable buffer",
		     pos, q->what);
	if (!q->flipped && rd_sum(d, q) != q->rd_sum)
		fail(C_REQ, "chain %u (%s): its readable part was written",
		     pos, q->what);
}

/* The requester's state across batches */
struct reqst {
	struct bal b;
	struct cbuild cb;
	bool jump;		/* the batch ends with the avail index far ahead */
	/* a storm: many mappings, then one UNMAP of them all */
	unsigned int storm_left;
	uint32_t storm_dom;
	uint64_t storm_iova, storm_start;
	bool storm_attached;
};

static unsigned int pick_pieces(struct rng *r, uint32_t len)
{
	unsigned int n = pct(r, 65) ? 1 : pct(r, 70) ? 2 + below(r, 3) :
			 5 + below(r, 12);

	return umin(n, umax(len, 1));
}

static uint32_t pick_wr(struct rng *r, struct dev *d, uint8_t type)
{
	uint32_t ps = d->v.probe_size;

	if (type == VIRTIO_IOMMU_T_PROBE || pct(r, 5)) {
		switch (below(r, 5)) {
		case 0: case 1:
			return ps + 4;
		case 2:
			return ps + 4 + below(r, 64);
		case 3:
			return below(r, ps + 4);
		default:
			return 4 + below(r, 8);
		}
	}
	switch (below(r, 10)) {
	case 7:
		return 4 + below(r, 60);
	case 8:
		return below(r, 4);
	case 9:
		return 4 + below(r, 600);
	}
	return 4;
}

static struct vq *rvq(struct dev *d)
{
	return &d->v.vq[VHOST_IOMMU_VQ_REQUEST];
}

static struct reqst RS;

/* Records the chain as posted at head @head. */
static void post(struct dev *d, struct rq *q, int head)
{
	struct cbuild *cb = &RS.cb;
	unsigned int i;

	q->ndump = umin(cb->n, ARRAY_SIZE(q->dump));
	for (i = 0; i < q->ndump; i++) {
		q->dump[i].addr = cb->d[i].addr;
		q->dump[i].len = cb->d[i].len;
		q->dump[i].flags = cb->d[i].flags;
	}
	q->head = head;
	q->rd_sum = rd_sum(d, q);
	if (d->degraded)
		q->out |= O_ZERO;
	if (q->inexact)
		d->inexact = true;
	vq_avail_push(rvq(d), head);
	d->nrq++;
}

/* A chain whose readable part flips between request images */
static bool gen_flipped(struct thr *t, struct dev *d, struct reqst *s,
			struct rq *q)
{
	static const uint8_t other[] = {
		VIRTIO_IOMMU_T_ATTACH, VIRTIO_IOMMU_T_DETACH,
		VIRTIO_IOMMU_T_MAP, VIRTIO_IOMMU_T_UNMAP,
		VIRTIO_IOMMU_T_PROBE, 11, 0, 6, 36, 255,
	};
	struct rng *r = &t->r;
	struct slot *sl = &flips[s->b.nflip];
	uint32_t len = 0, l;
	unsigned int k;
	int head;

	sl->nimg = 2 + below(r, FLIP_IMGS - 1);
	for (k = 0; k < sl->nimg; k++) {
		if (k == 1 && pct(r, 70)) {
			memcpy(sl->img[1], sl->img[0], FLIP_SIZE);
			sl->img[1][0] = other[below(r, ARRAY_SIZE(other))];
			l = in_size(sl->img[1][0]);
		} else {
			l = mk_image(r, d, pick_type(r), sl->img[k]);
		}
		if (pct(r, 20))
			mutate(r, sl->img[k], umax(l, 4));
		pin_fix(sl->img[k], FLIP_SIZE);
		if (sl->img[k][8] == EP_PIN)
			sl->img[k][8] = 0x81;	/* a mix never reads 1 */
		len = umax(len, umax(l, in_size(sl->img[k][0])));
	}
	len = umin(len + (pct(r, 30) ? below(r, 8) : 0), FLIP_SIZE);
	sl->len = len;
	sl->gpa = L_FLIP + (uint64_t)s->b.nflip * FLIP_SIZE;
	slot_arm(d, sl);
	s->b.used[s->b.nflip + s->b.nwild] = sl;
	s->b.nflip++;

	s->cb.n = 0;
	s->cb.zl = 0;
	cb_add(&s->cb, sl->gpa, len, 0);
	q->rd_len = len;
	q->flipped = true;
	if (!put_part(r, d, &s->b, &s->cb, q, NULL, pick_wr(r, d, sl->img[0][0]),
		      true, pick_pieces(r, 4)))
		return false;
	for (k = 0; k < sl->nimg; k++)
		outcome(d, q, sl->img[k][0]);
	q->what = "flipped";
	if (has(d, VIRTIO_RING_F_INDIRECT_DESC) && pct(r, 30) &&
	    s->cb.n <= rvq(d)->num) {
		uint64_t tab = put_table(r, d, &s->b, &s->cb, pick_where(r),
					 true);

		head = tab ? put_one(d, &s->b, tab, s->cb.n * 16,
				     VRING_DESC_F_INDIRECT, 0) : -1;
	} else {
		head = put_direct(d, &s->b, &s->cb);
	}
	if (head < 0)
		return false;
	post(d, q, head);
	return true;
}

/*
 * A chain through an indirect table that flips between table images that
 * differ in the low byte of lengths, flags and next fields: all of them
 * stay inside the slot, and any of them may be a ring error.
 */
static bool gen_wild(struct thr *t, struct dev *d, struct reqst *s,
		     struct rq *q)
{
	struct rng *r = &t->r;
	struct slot *sl = &wilds[s->b.nwild];
	uint64_t base = L_WILD + (uint64_t)s->b.nwild * WILD_SIZE;
	struct vring_desc e[WILD_NDESC];
	uint8_t req[FLIP_SIZE];
	uint32_t ilen;
	unsigned int i, k;
	int head;

	ilen = mk_image(r, d, pick_type(r), req);
	if (pct(r, 20))
		mutate(r, req, umax(ilen, 4));
	pin_fix(req, FLIP_SIZE);
	ilen = umin(umax(ilen, 4), 255);
	memset(gptr(d, base + 0x100), PAT, 0x900);
	memcpy(gptr(d, base + 0x100), req, ilen);
	for (i = 0; i < WILD_NDESC; i++)
		wdesc(&e[i], base + 0x100 * (i + 1), below(r, 256),
		      below(r, 8), below(r, 16));
	wdesc(&e[0], base + 0x100, ilen, VRING_DESC_F_NEXT, 1);
	wdesc(&e[1], base + 0x200, umin(d->v.probe_size + 4, 255),
	      VRING_DESC_F_WRITE, 0);
	sl->nimg = 2 + below(r, FLIP_IMGS - 1);
	memcpy(sl->img[0], e, sizeof(e));
	for (k = 1; k < sl->nimg; k++) {
		memcpy(sl->img[k], e, sizeof(e));
		for (i = 1 + below(r, 3); i; i--) {
			uint8_t *p = sl->img[k] + 16 * below(r, WILD_NDESC);

			switch (below(r, 3)) {
			case 0:
				p[8] = rnd(r);		/* len */
				break;
			case 1:
				p[12] = below(r, 8);	/* flags */
				break;
			default:
				p[14] = below(r, 16);	/* next */
			}
		}
	}
	sl->gpa = base;
	sl->len = sizeof(e);
	slot_arm(d, sl);
	s->b.used[s->b.nflip + s->b.nwild] = sl;
	s->b.nwild++;
	head = put_one(d, &s->b, base, sizeof(e), VRING_DESC_F_INDIRECT, 0);
	if (head < 0)
		return false;
	q->out = O_ANY | O_RINGERR;
	q->loose = true;
	q->rd[0] = (struct seg){ base + 0x900, 0x100 };	/* the guard */
	q->what = "wild";
	post(d, q, head);
	return true;
}

enum {
	M_RD_AFTER_WR, M_OUTSIDE, M_HUGELEN, M_LENOVF, M_SEGS, M_ZEROONLY,
	M_ZWR_IN_RD, M_BIGRD, M_BIGWR, M_MAX
};

static const char * const m_name[M_MAX] = {
	"readable after writable", "outside the memory table",
	"huge length", "readable length overflow", "1030 segments",
	"zero-length only", "zero-length writable among readable",
	"huge readable part", "huge writable part",
};

/* A bad address for a descriptor of @len bytes: outside every region */
static uint64_t bad_addr(struct rng *r, uint32_t len)
{
	uint64_t x = below(r, umax(len, 1));

	switch (below(r, 5)) {
	case 0:
		return BAD_GPA + below(r, 4096);
	case 1:
		return VMM_MEM_SIZE - x;
	case 2:
		return H_GPA + H_SIZE - x;
	case 3:
		return H_GPA - 1 - x;
	}
	return ~0ULL - x;
}

/* Applies malformation @m to the chain being built; false: not possible */
static bool malform(struct rng *r, struct dev *d, struct reqst *s,
		    struct rq *q, int m, const uint8_t *img)
{
	struct cbuild *cb = &s->cb;
	unsigned int i, nz = 0;
	uint64_t gpa;

	for (i = 0; i < cb->n; i++)
		nz += cb->d[i].len != 0;
	switch (m) {
	case M_RD_AFTER_WR:
		if (!q->wr_len)
			return false;
		gpa = place(r, &s->b, 8, P_R0);
		if (!gpa)
			return false;
		cb_add(cb, gpa, 1 + below(r, 8), 0);
		break;
	case M_OUTSIDE:
	case M_HUGELEN:
		if (!nz)
			return false;
		do {
			i = below(r, cb->n);
		} while (!cb->d[i].len);
		if (m == M_OUTSIDE)
			cb->d[i].addr = bad_addr(r, cb->d[i].len);
		else
			cb->d[i].len = 0xffffffff - below(r, 16);
		break;
	case M_LENOVF:
		memmove(&cb->d[2], &cb->d[0], cb->n * sizeof(cb->d[0]));
		cb->d[0] = (struct fdesc){ H_GPA + 0x1000, 0x80000000, 0, 0 };
		cb->d[1] = cb->d[0];
		cb->n += 2;
		break;
	case M_SEGS:
		if (rvq(d)->num < 1100)
			return false;
		cb->n = 0;
		for (i = 0; i < 1030; i++) {
			gpa = place(r, &s->b, 1, P_R0);
			if (!gpa)
				return false;
			*gptr(d, gpa) = i < q->rd_len ? img[i] : rnd(r);
			cb_add(cb, gpa, 1, 0);
		}
		gpa = place(r, &s->b, 4, P_R1);
		if (!gpa)
			return false;
		memset(gptr(d, gpa), PAT, 4 + GUARD);
		cb_add(cb, gpa, 4, VRING_DESC_F_WRITE);
		q->loose = true;
		break;
	case M_ZEROONLY:
		for (i = 0; i < cb->n; i++)
			cb->d[i].len = 0;
		break;
	case M_ZWR_IN_RD:
		/* a zero-length writable descriptor, then the readable part */
		if (!cb->n || (cb->d[0].flags & VRING_DESC_F_WRITE) ||
		    cb->n >= CHAIN_MAX)
			return false;
		memmove(&cb->d[1], &cb->d[0], cb->n * sizeof(cb->d[0]));
		cb->d[0].len = 0;
		cb->d[0].flags = VRING_DESC_F_WRITE;
		cb->n++;
		q->out |= O_ZERO;
		return true;
	case M_BIGRD:
		if (q->rd_len < in_size(img[0]) || !q->rd_len)
			return false;
		for (i = 0; i < cb->n && !(cb->d[i].flags & VRING_DESC_F_WRITE); i++)
			;
		memmove(&cb->d[i + 1], &cb->d[i], (cb->n - i) * sizeof(cb->d[0]));
		cb->d[i] = (struct fdesc){ H_GPA + 0x1000, 0xe0000000, 0, 0 };
		cb->n++;
		q->rd_len += 0xe0000000;
		q->out = 0;
		q->tailmask = 0;
		outcome(d, q, img[0]);
		return true;
	case M_BIGWR:
		if (s->b.bigwr_used)
			return false;
		s->b.bigwr_used = true;
		for (i = 0; i < cb->n && !(cb->d[i].flags & VRING_DESC_F_WRITE); i++)
			;
		cb->n = i;
		memset(gptr(d, H_GPA + 0x1000), PAT, CHECK_MAX);
		cb_add(cb, H_GPA + 0x1000, 0xe0000000, VRING_DESC_F_WRITE);
		q->nwr = 0;
		q->wr_len = 0xe0000000;
		seg_add(q, true, H_GPA + 0x1000, 0xe0000000);
		q->out = 0;
		q->tailmask = 0;
		outcome(d, q, img[0]);
		return true;
	}
	q->out = O_ZERO;
	return true;
}

enum {
	R_HEAD, R_NEXT, R_LOOP, R_ZLOOP, R_IND_NOFEAT, R_IND_LEN, R_IND_NEXT,
	R_NESTED, R_IND_NEXTOOR, R_IND_LOOP, R_IND_BIG, R_IND_HUGE,
	R_IND_INACC, R_DATA_INACC, R_JUMP, R_MAX
};

static const char * const r_name[R_MAX] = {
	"head out of the ring", "next out of the ring", "loop",
	"zero-length loop", "indirect without INDIRECT_DESC",
	"indirect table length", "INDIRECT with NEXT", "nested indirect",
	"next out of the indirect table", "loop in an indirect table",
	"indirect table larger than the ring",
	"indirect table of 2^28 entries", "indirect table not readable",
	"readable part not readable", "avail index ahead",
};

/*
 * Writes the chain in s->cb with ring defect @m; returns the head, or -1
 * (-2: the defect is not possible, post it normally).
 */
static int ring_defect(struct rng *r, struct dev *d, struct reqst *s,
		       struct rq *q, int m)
{
	struct vq *vq = rvq(d);
	bool ind = has(d, VIRTIO_RING_F_INDIRECT_DESC);
	struct cbuild *cb = &s->cb;
	struct vring_desc *t;
	uint64_t tab, len;
	int head, i;

	q->out = O_RINGERR;
	switch (m) {
	case R_HEAD:
		return vq->num + below(r, 0x10000 - vq->num);
	case R_NEXT:
	case R_LOOP:
		head = put_direct(d, &s->b, cb);
		if (head < 0)
			return head;
		i = s->b.perm[s->b.pcur - 1];
		vq->desc[i].flags |= htole16(VRING_DESC_F_NEXT);
		if (m == R_NEXT) {
			vq->desc[i].next = htole16(vq->num + below(r, 0x10000 - vq->num));
		} else {
			vq->desc[i].next = htole16(head);
			q->out |= O_ZERO;	/* segments may run out first */
		}
		return head;
	case R_ZLOOP:
		head = put_one(d, &s->b, L_DAT0, 0, VRING_DESC_F_NEXT, 0);
		if (head >= 0)
			vq->desc[head].next = htole16(head);
		return head;
	case R_IND_NOFEAT:
		if (ind)
			return -2;
		tab = put_table(r, d, &s->b, cb, P_R0, false);
		return tab ? put_one(d, &s->b, tab, cb->n * 16,
				     VRING_DESC_F_INDIRECT, 0) : -1;
	case R_IND_HUGE:
		/* the first entry loops on itself; F3: bounded by the ring */
		t = (struct vring_desc *)gptr(d, H_GPA);
		wdesc(t, H_GPA + 0x800, 0, VRING_DESC_F_NEXT, 0);
		return put_one(d, &s->b, H_GPA, 0xfffffff0,
			       VRING_DESC_F_INDIRECT, 0);
	case R_IND_INACC:
		q->out |= O_ZERO;
		return put_one(d, &s->b, H_GPA + H_MAPPED + 16 * below(r, 4096),
			       cb->n * 16, VRING_DESC_F_INDIRECT, 0);
	case R_DATA_INACC:
		if (!cb->n || (cb->d[0].flags & VRING_DESC_F_WRITE) ||
		    !cb->d[0].len)
			return -2;
		cb->d[0].addr = H_GPA + H_MAPPED + below(r, 1 << 20);
		q->out |= O_ZERO;
		q->inexact = true;
		return put_direct(d, &s->b, cb);
	}
	if (!ind)
		return -2;
	/* The indirect ones */
	len = cb->n * 16;
	if (m == R_IND_BIG) {
		/* F3: the chain, then zeroes: more entries than the ring */
		unsigned int n = umax(vq->num + 1 + below(r, 64), cb->n);

		len = (uint64_t)n * 16;
		tab = arena_alloc(&s->b.ind[0], len, 16);
		if (!tab)
			tab = arena_alloc(&s->b.ind[1], len, 16);
		if (!tab)
			return -1;
		memset(gptr(d, tab), 0, len);
		t = (struct vring_desc *)gptr(d, tab);
		for (i = 0; i < (int)cb->n; i++)
			wdesc(&t[i], cb->d[i].addr, cb->d[i].len,
			      cb->d[i].flags |
			      (i + 1 < (int)cb->n ? VRING_DESC_F_NEXT : 0),
			      i + 1);
		return put_one(d, &s->b, tab, len, VRING_DESC_F_INDIRECT, 0);
	}
	tab = put_table(r, d, &s->b, cb, pick_where(r), false);
	if (!tab)
		return -1;
	t = (struct vring_desc *)gptr(d, tab);
	switch (m) {
	case R_IND_LEN:
		len = pct(r, 30) ? 0 : len + 1 + below(r, 15);
		break;
	case R_IND_NEXT:
		return put_one(d, &s->b, tab, len,
			       VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
			       below(r, vq->num));
	case R_NESTED:
		i = below(r, cb->n);
		wdesc(&t[i], tab, len, VRING_DESC_F_INDIRECT, 0);
		break;
	case R_IND_NEXTOOR:
	case R_IND_LOOP:
		i = cb->n - 1;
		t[i].flags |= htole16(VRING_DESC_F_NEXT);
		t[i].next = htole16(m == R_IND_LOOP ? 0 : cb->n + below(r, 100));
		if (m == R_IND_LOOP)
			q->out |= O_ZERO;
		break;
	}
	return put_one(d, &s->b, tab, len, VRING_DESC_F_INDIRECT, 0);
}

/* One chain of the batch; false when the batch is full. */
static bool gen_chain(struct thr *t, struct dev *d, struct reqst *s,
		      bool last, bool ringerr)
{
	struct rng *r = &t->r;
	struct rq *q = &d->rq[d->nrq];
	bool flip = opt.comps & (1 << C_FLIP);
	uint8_t img[FLIP_SIZE];
	uint32_t ilen, rdl, wrl;
	int m = -1, re = -1, head;
	unsigned int k = below(r, 100);
	uint8_t type;

	memset(q, 0, sizeof(*q));
	q->what = "valid";
	if (s->storm_left) {
		type = s->storm_left == 1 ? VIRTIO_IOMMU_T_UNMAP :
		       !s->storm_attached ? VIRTIO_IOMMU_T_ATTACH :
		       VIRTIO_IOMMU_T_MAP;
		memset(img, 0, sizeof(img));
		img[0] = type;
		put32(img, 4, s->storm_dom);
		if (type == VIRTIO_IOMMU_T_ATTACH) {
			/* an endpoint in the domain, so that it exists */
			put32(img, 8, 2 + below(r, NEP - 1));
			s->storm_attached = true;
		} else if (type == VIRTIO_IOMMU_T_MAP) {
			put64(img, 8, s->storm_iova);
			put64(img, 16, s->storm_iova + d->granule - 1);
			put64(img, 24, below(r, VMM_MEM_SIZE / d->granule) *
				       d->granule);
			put32(img, 32, VIRTIO_IOMMU_MAP_F_READ);
			s->storm_iova += d->granule;
		} else {
			put64(img, 8, s->storm_start);
			put64(img, 16, s->storm_iova - 1);
		}
		s->storm_left--;
		s->cb.n = 0;
		s->cb.zl = 0;
		ilen = in_size(type);
		if (!put_part(r, d, &s->b, &s->cb, q, img, ilen, false, 1) ||
		    !put_part(r, d, &s->b, &s->cb, q, NULL, 4, true, 1))
			return false;
		outcome(d, q, type);
		q->what = "storm";
		head = put_direct(d, &s->b, &s->cb);
		if (head < 0)
			return false;
		post(d, q, head);
		return true;
	}
	if (flip && k < 8 && s->b.nflip < NFLIP)
		return gen_flipped(t, d, s, q);
	if (flip && k < 12 && s->b.nwild < NWILD &&
	    has(d, VIRTIO_RING_F_INDIRECT_DESC))
		return gen_wild(t, d, s, q);

	type = pick_type(r);
	ilen = mk_image(r, d, type, img);
	if (pct(r, 5)) {
		memset(img, 0, sizeof(img));
		type = VIRTIO_IOMMU_T_ATTACH;
		img[0] = type;
		put32(img, 4, 1 + below(r, 2));
		put32(img, 8, EP_PIN);
		ilen = in_size(type);
		q->what = "re-attach of the pinned endpoint";
	} else if (pct(r, 20)) {
		mutate(r, img, umax(ilen, 4));
		q->what = "mutated";
	}
	pin_fix(img, sizeof(img));
	type = img[0];
	switch (below(r, 20)) {
	case 0: case 1:
		rdl = ilen + 1 + below(r, 64);
		break;
	case 2: case 3:
		rdl = below(r, ilen + 1);
		break;
	default:
		rdl = ilen;
	}
	wrl = pick_wr(r, d, type);
	if (type == VIRTIO_IOMMU_T_PROBE && !strcmp(q->what, "valid")) {
		uint32_t ep = le32toh(*(uint32_t *)(img + 4));

		q->exact_ep = ep >= 1 && ep <= NEP;
		q->ep = ep;
	}
	s->cb.n = 0;
	s->cb.zl = pct(r, 15) ? 20 : 0;
	if (!put_part(r, d, &s->b, &s->cb, q, img, rdl, false,
		      pick_pieces(r, rdl)) ||
	    !put_part(r, d, &s->b, &s->cb, q, NULL, wrl, true,
		      pick_pieces(r, wrl)))
		return false;
	if (!s->cb.n)	/* nothing readable, nothing writable */
		cb_add(&s->cb, L_DAT0, 0, 0);
	outcome(d, q, type);
	if (pct(r, 12)) {
		m = below(r, M_MAX);
		if (!malform(r, d, s, q, m, img))
			m = -1;
		else
			q->what = m_name[m];
	}
	if (last && ringerr && m < 0) {
		re = below(r, R_MAX);
		if (re == R_IND_HUGE && pct(r, 70))
			re = R_ZLOOP;
		if (re == R_JUMP) {
			s->jump = true;
			re = -1;
		}
	}
	if (re >= 0) {
		head = ring_defect(r, d, s, q, re);
		if (head == -2) {
			re = -1;
			q->out = 0;
			q->tailmask = 0;
			outcome(d, q, type);
		} else {
			q->what = r_name[re];
		}
	}
	if (re < 0) {
		if (has(d, VIRTIO_RING_F_INDIRECT_DESC) &&
		    (pct(r, 30) || s->cb.n > s->b.pnum - s->b.pcur) &&
		    s->cb.n <= rvq(d)->num) {
			uint64_t tab = put_table(r, d, &s->b, &s->cb,
						 pick_where(r), true);

			head = tab ? put_one(d, &s->b, tab, s->cb.n * 16,
					     VRING_DESC_F_INDIRECT, 0) : -1;
			q->table = tab;
		} else {
			head = put_direct(d, &s->b, &s->cb);
		}
	}
	if (head < 0)
		return false;
	q->type = type;
	post(d, q, head);
	if (re < 0 && pct(r, 2) && d->nrq < umin(BATCH, rvq(d)->num)) {
		/* The same head twice: executed twice, contents overwritten */
		q->loose = true;
		d->rq[d->nrq] = *q;
		d->rq[d->nrq].what = "head posted twice";
		post(d, &d->rq[d->nrq], head);
	}
	return true;
}

/* GET_STATS when every chain of the batch is accounted for */
static void stats_check(struct dev *d)
{
	struct vhost_iommu_stats s;
	uint64_t req = 0, st = 0;
	int i, ret;

	ret = vmm_get_stats(d->v.fd, &s);
	if (ret) {
		fail(C_REQ, "GET_STATS: %s", strerror(-ret));
		return;
	}
	for (i = 0; i < 8; i++)
		req += s.requests[i];
	for (i = 0; i < 16; i++)
		st += s.status[i];
	if (s.status[VIRTIO_IOMMU_S_IOERR] || s.status[VIRTIO_IOMMU_S_DEVERR] ||
	    s.status[VIRTIO_IOMMU_S_FAULT])
		fail(C_REQ,
		     "statuses the device never writes: IOERR %llu DEVERR %llu FAULT %llu (F1)",
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_IOERR],
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_DEVERR],
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_FAULT]);
	for (i = VIRTIO_IOMMU_S_NOMEM + 1; i < 16; i++)
		if (s.status[i])
			fail(C_REQ, "status[%d] = %llu", i,
			     (unsigned long long)s.status[i]);
	if (d->inexact)
		return;
	if (req + s.malformed != d->used_total)
		fail(C_REQ, "requests %llu + malformed %llu != %llu chains returned",
		     (unsigned long long)req, (unsigned long long)s.malformed,
		     (unsigned long long)d->used_total);
	if (st != d->tails_total)
		fail(C_REQ, "%llu statuses counted, %llu tails written",
		     (unsigned long long)st,
		     (unsigned long long)d->tails_total);
	if (s.ring_errors < d->ringerrs)
		fail(C_REQ, "ring_errors %llu < %llu seen",
		     (unsigned long long)s.ring_errors,
		     (unsigned long long)d->ringerrs);
}

/* Takes and checks the used entries of the request queue. */
static void consume(struct dev *d)
{
	struct vq *vq = rvq(d);

	while (vq_used_pending(vq)) {
		struct vring_used_elem *e = &vq->used->ring[vq->last_used % vq->num];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);
		struct rq *q;

		vq->last_used++;
		if (d->ndone >= d->nrq) {
			fail(C_REQ, "used entry (id %u, length %u) for no chain posted",
			     id, len);
			continue;
		}
		q = &d->rq[d->ndone];
		if (!q->what) {
			fail(C_REQ,
			     "BUG: chain %u of %u not recorded (id %u len %u head %u avail0 %u used %u)",
			     d->ndone, d->nrq, id, len, q->head, d->avail0, vq->last_used);
			q->what = "?";
		}
		if (id != q->head)
			fail(C_REQ, "used entry %u: id %u, expected %u (%s)",
			     d->ndone, id, q->head, q->what);
		else
			check_rq(d, q, len, d->ndone);
		if (!strcmp(q->what, "wild")) {
			const uint8_t *g = gptr(d, q->rd[0].gpa);
			unsigned int k;

			for (k = 0; k < q->rd[0].len; k++)
				if (g[k] != PAT) {
					fail(C_REQ, "wild chain %u: written outside its slot",
					     d->ndone);
					break;
				}
		}
		d->ndone++;
		d->used_total++;
		if (len)
			d->tails_total++;
		ADD(&cnt.requests, 1);
	}
}

/*
 * The error eventfd of the request queue fired: the queue must have
 * stopped at a chain that may stop it, with every chain before it
 * returned. Sets the ring up again.
 */
static void ringerr_q0(struct dev *d)
{
	struct vq *vq = rvq(d);
	unsigned int base, pos;
	uint16_t used;
	int ret;

	ret = vmm_vq_stop(&d->v, 0, &base);
	if (ret) {
		fail(C_REQ, "GET_VRING_BASE after a ring error: %s", vt_errmsg);
		return;
	}
	consume(d);
	used = le16toh(LOAD(&vq->used->idx));
	pos = (uint16_t)(base - d->avail0);
	vmsg(2, "ring error: base %u, used %u, %u of %u chains returned", base,
	     used, d->ndone, d->nrq);
	/* The chain that failed may have been taken (inaccessible memory). */
	if (used != (uint16_t)base && used != (uint16_t)(base - 1))
		fail(C_REQ, "ring error: used index %u, avail base %u", used, base);
	if (pos == d->ndone + 1)
		pos--;
	if (pos != d->ndone)
		fail(C_REQ, "ring error at chain %u, %u chains returned", pos,
		     d->ndone);
	else if (pos < d->nrq &&
		 !(d->rq[pos].out & (O_RINGERR | O_ANY)) && !RS.jump)
		fail(C_REQ,
		     "ring error at chain %u (%s, out %#x), which must not stop the queue [%s] (base %u, used %u, num %u, features %#llx, last chaos: %s)",
		     pos, d->rq[pos].what, d->rq[pos].out,
		     describe(&d->rq[pos]), base, used, vq->num,
		     (unsigned long long)d->v.features,
		     d->last_chaos ?: "none");
	else if (pos >= d->nrq && !RS.jump)
		fail(C_REQ, "ring error after the last chain (%u)", pos);
	d->ringerrs++;
	ADD(&cnt.ringerrs, 1);
	d->batch_live = false;
	d->qgen[0]++;
	ret = vmm_vq_setup(&d->v, 0, vq->num);
	if (ret)
		fail(C_REQ, "request queue set-up after a ring error: %s",
		     vt_errmsg);
	drain(vq->call);
	drain(vq->err);
}

/*
 * Every chain of the batch returned, yet the error eventfd fired: a chain
 * stopped the queue, then a restart (GET_VRING_BASE chaos) walked it again
 * after the guest had rewritten it, and it passed. Only a chain that may
 * stop the queue can have done that.
 */
static void ringerr_rewalked(struct dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nrq; i++)
		if (d->rq[i].out & (O_RINGERR | O_ANY))
			break;
	if (i == d->nrq)
		fail(C_REQ,
		     "ring error signalled in a batch of %u chains that all returned and none of which may stop the queue (last chaos: %s)",
		     d->nrq, d->last_chaos ?: "none");
	d->ringerrs++;
	ADD(&cnt.ringerrs, 1);
}

/*
 * With EVENT_IDX, asks for an interrupt at the next used entry; true if
 * one arrived meanwhile (look again before sleeping).
 */
static bool need_interrupt(struct dev *d, struct vq *vq)
{
	if (!has(d, VIRTIO_RING_F_EVENT_IDX))
		return false;
	STORE(&vq->avail->ring[vq->num], htole16(vq->last_used));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_used_pending(vq);
}

static void wait_batch(struct thr *t, struct dev *d, uint64_t gen0)
{
	uint64_t c;

	for (;;) {
		struct pollfd p[3];
		unsigned int n0;

		pthread_mutex_lock(&d->lock);
		if (d->gen != gen0 || !d->batch_live || stop()) {
			pthread_mutex_unlock(&d->lock);
			return;
		}
		drain(rvq(d)->call);
		n0 = d->ndone;
		consume(d);
		if (d->ndone != n0)
			beat(t, "waiting for request chains");
		/* After a jump of the avail index, the queue must stop. */
		if (d->ndone == d->nrq && !RS.jump) {
			if (read(rvq(d)->err, &c, sizeof(c)) == sizeof(c))
				ringerr_rewalked(d);
			d->batch_live = false;
			stats_check(d);
			pthread_mutex_unlock(&d->lock);
			return;
		}
		if (read(rvq(d)->err, &c, sizeof(c)) == sizeof(c)) {
			ringerr_q0(d);
			pthread_mutex_unlock(&d->lock);
			return;
		}
		if (need_interrupt(d, rvq(d))) {
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		p[0] = (struct pollfd){ .fd = rvq(d)->call, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = rvq(d)->err, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = d->disrupt, .events = POLLIN };
		pthread_mutex_unlock(&d->lock);
		/* the fds may be replaced meanwhile: only wait on them */
		poll(p, 3, 50);
	}
}

static void req_batch(struct thr *t, struct dev *d, struct reqst *s)
{
	struct rng *r = &t->r;
	unsigned int i, n;
	bool ringerr;
	uint64_t gen0;

	pthread_mutex_lock(&d->lock);
	beat(t, "posting a batch");
	for (i = 0; i < s->b.nflip + s->b.nwild; i++)
		slot_quiesce(t, s->b.used[i]);
	bal_reset(r, d, &s->b);
	d->nrq = 0;
	d->ndone = 0;
	d->avail0 = rvq(d)->avail_idx;
	s->jump = false;
	if (!s->storm_left && pct(r, 1)) {
		/* A storm: an endpoint in a domain, mappings, one UNMAP */
		s->storm_dom = 3 + below(r, 14);
		s->storm_left = (opt.debug_kernel ? 256 : 512) <<
				below(r, opt.debug_kernel ? 3 : 5);
		s->storm_start = IOVA_WIN + (1ULL << 32);
		s->storm_iova = s->storm_start;
		s->storm_attached = false;
		vmsg(1, "storm of %u mappings in domain %u", s->storm_left,
		     s->storm_dom);
	}
	n = 1 + below(r, s->storm_left ? BATCH : pct(r, 50) ? 4 : BATCH);
	ringerr = !s->storm_left && pct(r, 6);
	/* No more chains in flight than the ring has entries */
	for (i = 0; i < n && d->nrq < umin(BATCH, rvq(d)->num); i++)
		if (!gen_chain(t, d, s, i + 1 == n, ringerr))
			break;
	if (s->jump) {
		struct vq *vq = rvq(d);

		vq->avail_idx += vq->num + 1 + below(r, 1000);
		STORE(&vq->avail->idx, htole16(vq->avail_idx));
	}
	vmsg(2, "batch: %u chains from avail %u%s%s", d->nrq, d->avail0,
	     s->jump ? ", avail index ahead" : "",
	     s->storm_left ? ", storm" : "");
	if (!d->nrq && !s->jump) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (pct(r, 10) || s->jump)
		vq_notify(rvq(d));
	else
		vmm_kick(&d->v, VHOST_IOMMU_VQ_REQUEST);
	d->batch_live = true;
	gen0 = d->gen;
	beat(t, "waiting for request chains");
	pthread_mutex_unlock(&d->lock);
	wait_batch(t, d, gen0);
}

static void *req_main(void *arg)
{
	struct thr *t = arg;

	while (!stop())
		req_batch(t, &A, &RS);
	return NULL;
}

/* The flip thread: rewrites armed slots, byte by byte, from their images */

static int req_done;

static void flip_once(struct rng *r, struct dev *d, struct slot *s)
{
	const uint8_t *img = s->img[below(r, s->nimg)];
	uint8_t *g = gptr(d, s->gpa);
	uint32_t i, k;

	switch (below(r, 4)) {
	case 0:		/* the whole image, forwards */
		for (i = 0; i < s->len; i++)
			__atomic_store_n(&g[i], img[i], __ATOMIC_RELAXED);
		break;
	case 1:		/* backwards */
		for (i = s->len; i; i--)
			__atomic_store_n(&g[i - 1], img[i - 1], __ATOMIC_RELAXED);
		break;
	case 2:		/* the type byte, or the first byte of an entry */
		k = s->len > 16 && pct(r, 50) ? 16 * below(r, s->len / 16) : 0;
		__atomic_store_n(&g[k], img[k], __ATOMIC_RELAXED);
		break;
	default:
		k = below(r, s->len);
		__atomic_store_n(&g[k], img[k], __ATOMIC_RELAXED);
	}
}

static void *flip_main(void *arg)
{
	struct thr *t = arg;
	unsigned int i, active;
	uint64_t n = 0;

	for (;;) {
		beat(t, "rewriting guest memory");
		active = 0;
		for (i = 0; i < NFLIP + NWILD; i++) {
			struct slot *s = i < NFLIP ? &flips[i] : &wilds[i - NFLIP];
			uint32_t g = LOAD(&s->gen);

			if (LOAD(&s->active)) {
				flip_once(&t->r, &A, s);
				active++;
				n++;
			}
			STORE(&s->ack, g);
		}
		if (stop() && LOAD(&req_done))
			break;
		if (!active || !(n & 1023))
			usleep(200);
	}
	ADD(&cnt.flips, n);
	return NULL;
}

/* The event queue: buffers of every shape, posted and checked in order */

static struct vq *evq(struct dev *d)
{
	return &d->v.vq[VHOST_IOMMU_VQ_EVENT];
}

/* Descriptors of the event queue, taken and given back in ring order */
static unsigned int ev_desc_next, ev_desc_used;

struct evq_rec {
	uint16_t aidx;		/* avail index */
	uint16_t ndesc;
};

static struct evq_rec ev_pos[EVMAX];
static uint64_t ev_next[2];

static uint64_t ev_alloc(struct dev *d, uint32_t len, int region)
{
	uint64_t start = region ? L_EV1 : L_EV0, end = region ? L_EV1_END :
			 L_EV0_END, gpa;
	uint64_t *next = &ev_next[region];

	len = (len + GUARD + 15) & ~15U;
	if (*next < start || *next + len > end)
		*next = start;
	gpa = *next;
	*next += len;
	return gpa;
}

static void ev_reset(struct dev *d)
{
	d->ev_first = 0;
	d->ev_count = 0;
	ev_desc_next = 0;
	ev_desc_used = 0;
	ev_next[0] = L_EV0;
	ev_next[1] = L_EV1;
}

static void ev_check(struct dev *d, struct evr *e, uint32_t id, uint32_t len)
{
	struct rq q = { .nwr = e->nwr, .wr_len = e->wr_len };
	struct virtio_iommu_fault f;
	unsigned int i;
	uint8_t *p;

	memcpy(q.wr, e->wr, sizeof(e->wr));
	ADD(&cnt.events, 1);
	if (id != e->head) {
		fail(C_EVENT, "event used entry: id %u, expected %u (%s)", id,
		     e->head, e->what);
		return;
	}
	if (e->kind == EV_ANY)
		return;
	if (e->kind == EV_RINGERR) {
		fail(C_EVENT, "event buffer (%s) returned: it must stop the queue",
		     e->what);
		return;
	}
	if (len == sizeof(f) && e->kind == EV_GOOD) {
		d->reports++;
		ADD(&cnt.reports, 1);
		p = (uint8_t *)&f;
		for (i = 0; i < sizeof(f); i++)
			p[i] = wbyte(d, &q, i);
		if (f.reason != VIRTIO_IOMMU_FAULT_R_DOMAIN &&
		    f.reason != VIRTIO_IOMMU_FAULT_R_MAPPING)
			fail(C_EVENT, "fault report: reason %u", f.reason);
		if (le32toh(f.flags) & ~(VIRTIO_IOMMU_FAULT_F_READ |
					 VIRTIO_IOMMU_FAULT_F_WRITE |
					 VIRTIO_IOMMU_FAULT_F_EXEC |
					 VIRTIO_IOMMU_FAULT_F_ADDRESS))
			fail(C_EVENT, "fault report: flags %#x",
			     le32toh(f.flags));
		if (f.reserved[0] || f.reserved[1] || f.reserved[2] ||
		    f.reserved2[0] || f.reserved2[1] || f.reserved2[2] ||
		    f.reserved2[3])
			fail(C_EVENT, "fault report: reserved bytes set");
		if (wr_not(d, &q, sizeof(f), e->wr_len, PAT) >= 0)
			fail(C_EVENT, "event buffer (%s): written past the report",
			     e->what);
	} else if (!len && (e->kind == EV_UNUSABLE || e->maybe_zero)) {
		if (wr_not(d, &q, 0, e->wr_len, PAT) >= 0)
			fail(C_EVENT, "event buffer (%s) returned unused but written",
			     e->what);
	} else {
		fail(C_EVENT, "event buffer (%s, %u writable bytes): used length %u",
		     e->what, e->wr_len, len);
		return;
	}
	if (!guards_ok(d, &q))
		fail(C_EVENT, "event buffer (%s): written past it", e->what);
}

/* Takes and checks the event queue's used entries. */
static void ev_consume(struct dev *d)
{
	struct vq *vq = evq(d);

	while (vq->ready && vq_used_pending(vq)) {
		struct vring_used_elem *u = &vq->used->ring[vq->last_used % vq->num];
		unsigned int i = d->ev_first;

		vq->last_used++;
		if (!d->ev_count) {
			fail(C_EVENT, "event used entry (id %u) for no buffer",
			     le32toh(u->id));
			continue;
		}
		ev_check(d, &d->ev[i], le32toh(u->id), le32toh(u->len));
		ev_desc_used -= ev_pos[i].ndesc;
		d->ev_first = (i + 1) % EVMAX;
		d->ev_count--;
	}
}

/* Posts one event buffer; false when there is no room. */
static bool ev_post(struct rng *r, struct dev *d, bool flood)
{
	struct vq *vq = evq(d);
	unsigned int slot = (d->ev_first + d->ev_count) % EVMAX, i, n = 0;
	struct evr *e = &d->ev[slot];
	struct fdesc f[4];
	uint16_t ids[4];
	int kind = flood ? 4 : below(r, 12);
	uint32_t len;
	uint64_t gpa;
	bool ind = false;

	if (d->ev_count >= EVMAX - 1 || !vq->ready)
		return false;
	memset(e, 0, sizeof(*e));
	e->kind = EV_GOOD;
	e->what = "good";
	switch (kind) {
	case 0: case 1: case 2: case 3:		/* one writable buffer */
		len = 24 + (pct(r, 50) ? 0 : below(r, 40));
		gpa = ev_alloc(d, len, below(r, 2));
		f[n++] = (struct fdesc){ gpa, len, VRING_DESC_F_WRITE, 0 };
		break;
	case 4:					/* readable only */
		len = 24 + below(r, 40);
		gpa = ev_alloc(d, len, below(r, 2));
		f[n++] = (struct fdesc){ gpa, len, 0, 0 };
		e->kind = EV_UNUSABLE;
		e->what = "readable";
		break;
	case 5:					/* too short */
		len = below(r, 24);
		gpa = ev_alloc(d, len, below(r, 2));
		f[n++] = (struct fdesc){ gpa, len, VRING_DESC_F_WRITE, 0 };
		e->kind = EV_UNUSABLE;
		e->what = "short";
		break;
	case 6:					/* readable, then writable */
		gpa = ev_alloc(d, 8, 0);
		f[n++] = (struct fdesc){ gpa, 8, 0, 0 };
		gpa = ev_alloc(d, 32, 1);
		f[n++] = (struct fdesc){ gpa, 32, VRING_DESC_F_WRITE, 0 };
		e->kind = EV_UNUSABLE;
		e->what = "readable and writable";
		break;
	case 7:					/* outside the memory table */
		f[n++] = (struct fdesc){ bad_addr(r, 24), 24,
					 VRING_DESC_F_WRITE, 0 };
		e->kind = EV_UNUSABLE;
		e->what = "outside";
		break;
	case 8:					/* in both regions */
		gpa = ev_alloc(d, 12, 0);
		f[n++] = (struct fdesc){ gpa, 12, VRING_DESC_F_WRITE, 0 };
		gpa = ev_alloc(d, 12 + below(r, 20), 1);
		f[n++] = (struct fdesc){ gpa, 12, VRING_DESC_F_WRITE, 0 };
		e->what = "in both regions";
		break;
	case 9:					/* split in three */
		for (i = 0; i < 3; i++) {
			len = i < 2 ? 1 + below(r, 12) : 24;
			gpa = ev_alloc(d, len, below(r, 2));
			f[n++] = (struct fdesc){ gpa, len, VRING_DESC_F_WRITE, 0 };
		}
		e->what = "split";
		break;
	case 10:				/* indirect */
		len = 24 + below(r, 8);
		gpa = ev_alloc(d, len, below(r, 2));
		f[n++] = (struct fdesc){ gpa, len, VRING_DESC_F_WRITE, 0 };
		ind = true;
		e->what = "indirect";
		if (!has(d, VIRTIO_RING_F_INDIRECT_DESC)) {
			e->kind = EV_RINGERR;
			e->what = "indirect without INDIRECT_DESC";
		}
		break;
	default:				/* a ring error, now and then */
		len = 24;
		gpa = ev_alloc(d, len, 0);
		f[n++] = (struct fdesc){ gpa, len, VRING_DESC_F_WRITE, 0 };
		if (pct(r, 3)) {
			e->kind = EV_RINGERR;
			e->what = "next out of the ring";
			f[0].flags |= VRING_DESC_F_NEXT;
			f[0].next = vq->num + below(r, 0x10000 - vq->num);
		}
	}
	if (ev_desc_used + n > vq->num || (ind && ev_desc_used + 1 > vq->num))
		return false;
	for (i = 0; i < n; i++) {
		uint8_t *p = gptr(d, f[i].addr);

		if (p && f[i].addr + f[i].len + GUARD <= VMM_MEM_SIZE)
			memset(p, PAT, f[i].len + GUARD);
		if ((f[i].flags & VRING_DESC_F_WRITE) && e->nwr < 4) {
			e->wr[e->nwr++] = (struct seg){ f[i].addr, f[i].len };
			e->wr_len += f[i].len;
		}
	}
	if (kind == 7)
		e->nwr = 0;	/* outside: nothing to look at */
	if (ind) {
		struct vring_desc *t;

		gpa = ev_alloc(d, 16, below(r, 2));
		t = (struct vring_desc *)gptr(d, gpa);
		wdesc(t, f[0].addr, f[0].len, f[0].flags, 0);
		f[0] = (struct fdesc){ gpa, 16, VRING_DESC_F_INDIRECT, 0 };
		n = 1;
	}
	for (i = 0; i < n; i++)
		ids[i] = ev_desc_next++ % vq->num;
	for (i = 0; i < n; i++) {
		bool more = i + 1 < n;

		wdesc(&vq->desc[ids[i]], f[i].addr, f[i].len,
		      f[i].flags | (more ? VRING_DESC_F_NEXT : 0),
		      more ? ids[i + 1] : f[i].next);
	}
	ev_desc_used += n;
	e->head = ids[0];
	if (d->degraded)
		e->maybe_zero = true;
	ev_pos[slot].aidx = vq->avail_idx;
	ev_pos[slot].ndesc = n;
	d->ev_count++;
	vq_avail_push(vq, ids[0]);
	return !(e->kind == EV_RINGERR);
}

/* Ring errors after which used entries were found unpublished */
static unsigned int unpublished;

/* The event queue stopped: at a buffer that may stop it. */
static void ringerr_q1(struct dev *d)
{
	struct vq *vq = evq(d);
	unsigned int base;
	uint16_t used;
	int ret;

	ret = vmm_vq_stop(&d->v, 1, &base);
	if (ret) {
		fail(C_EVENT, "GET_VRING_BASE after a ring error: %s", vt_errmsg);
		return;
	}
	ev_consume(d);
	used = le16toh(LOAD(&vq->used->idx));
	/*
	 * The buffers taken in the run that hit the error have used entries
	 * written but not published (the request queue publishes them):
	 * check them from the ring.
	 */
	while ((uint16_t)(base - used) && d->ev_count) {
		struct vring_used_elem *u = &vq->used->ring[used % vq->num];
		struct evr *e = &d->ev[d->ev_first];

		if (le32toh(u->id) != e->head)
			break;
		if (!unpublished++)
			vmsg(1, "event queue: used entries not published before a ring error");
		ev_check(d, e, le32toh(u->id), le32toh(u->len));
		ev_desc_used -= ev_pos[d->ev_first].ndesc;
		d->ev_first = (d->ev_first + 1) % EVMAX;
		d->ev_count--;
		used++;
	}
	if (used != (uint16_t)base && used != (uint16_t)(base - 1))
		fail(C_EVENT, "ring error: used index %u, avail base %u", used,
		     base);
	if (used == (uint16_t)(base - 1))
		base--;
	if (!d->ev_count || ev_pos[d->ev_first].aidx != (uint16_t)base) {
		fail(C_EVENT, "ring error at avail %u: no buffer there", base);
	} else if (d->ev[d->ev_first].kind != EV_RINGERR &&
		 d->ev[d->ev_first].kind != EV_ANY) {
		struct evr *e = &d->ev[d->ev_first];
		struct vring_desc *x = &vq->desc[e->head % vq->num];

		fail(C_EVENT,
		     "ring error at a %s buffer (avail %u, head %u, ring entry %u, desc %#llx+%#x flags %#x next %u, num %u, %u outstanding)",
		     e->what, base, e->head,
		     le16toh(vq->avail->ring[base % vq->num]),
		     (unsigned long long)le64toh(x->addr), le32toh(x->len),
		     le16toh(x->flags), le16toh(x->next), vq->num, d->ev_count);
	}
	d->ringerrs++;
	ADD(&cnt.ringerrs, 1);
	ev_reset(d);
	d->qgen[1]++;
	ret = vmm_vq_setup(&d->v, 1, vq->num);
	if (ret)
		fail(C_EVENT, "event queue set-up: %s", vt_errmsg);
	drain(vq->call);
	drain(vq->err);
}

static void *event_main(void *arg)
{
	struct thr *t = arg;
	struct rng *r = &t->r;
	struct dev *d = &A;
	unsigned int flood = 0, target = 8;
	uint64_t gen = ~0ULL, c;

	while (!stop()) {
		struct pollfd p[3];
		bool ringerr = false;

		beat(t, "event queue");
		pthread_mutex_lock(&d->lock);
		if (gen != d->gen) {
			gen = d->gen;
			ev_reset(d);
		}
		drain(evq(d)->call);
		ev_consume(d);
		if (read(evq(d)->err, &c, sizeof(c)) == sizeof(c)) {
			ringerr_q1(d);
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		if (!flood && pct(r, 1)) {
			flood = 500 + below(r, 4000);	/* F2 */
			vmsg(1, "event queue flood of %u buffers", flood);
		} else if (!flood && pct(r, 5)) {
			target = 1 + below(r, 64);
		}
		while (d->ev_count < (flood ? EVMAX - 1 : target) && !ringerr) {
			if (!ev_post(r, d, flood)) {
				ringerr = true;
				break;
			}
			if (flood)
				flood--;
		}
		vmm_kick(&d->v, VHOST_IOMMU_VQ_EVENT);
		if (evq(d)->ready && need_interrupt(d, evq(d))) {
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		p[0] = (struct pollfd){ .fd = evq(d)->call, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = evq(d)->err, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = d->disrupt, .events = POLLIN };
		pthread_mutex_unlock(&d->lock);
		poll(p, 3, flood ? 1 : 20);
	}
	return NULL;
}

/*
 * The ioctl threads: random and mutated device ioctls on device A, checked
 * against the errors the uapi header documents for each.
 */

/* A bit for each errno a device ioctl may return */
static uint64_t E(int e)
{
	switch (e) {
	case EOVERFLOW:
		return 1ULL << 60;
	case EOPNOTSUPP:
		return 1ULL << 61;
	case ENOBUFS:
		return 1ULL << 62;
	}
	return e > 0 && e < 60 ? 1ULL << e : 1ULL << 63;
}

/* Errors every size-first device ioctl may return */
#define E_COMMON	(E(EFAULT) | E(EINVAL) | E(E2BIG))

struct ioc {
	struct thr *t;
	uint8_t *page;		/* two pages, then a page that is not mapped */
	uint8_t *guard;
	int spare_net;		/* a vhost-net device we own */
	int foreign_net;	/* one nobody owns */
	int pipe[2];
	int efd;
	struct vhost_iommu_stats last;
	unsigned int last_inst;
};

/* Two buffers: one message may name two errors */
static const char *errname(int e)
{
	static __thread char buf[2][32];
	static __thread unsigned int n;
	char *b = buf[n++ & 1];

	if (!e)
		return "success";
	snprintf(b, sizeof(buf[0]), "%s", strerrorname_np(e) ?: "?");
	return b;
}

/*
 * The argument of a size-first ioctl: @arg (@ksize bytes, the size field
 * set here) copied into the scratch pages with a random user size, a
 * random tail and at a random place. *exp: the error the size and the
 * place decide (0 if they do not): EINVAL below the first version, E2BIG
 * past PAGE_SIZE (F11) or for a tail that is not zero, EFAULT across the
 * unmapped page.
 */
static void *sized(struct ioc *c, void *arg, uint32_t ksize, uint32_t minsz,
		   int *exp)
{
	struct rng *r = &c->t->r;
	uint32_t usize = ksize, room = c->guard - c->page;
	bool tail = false, cross = false;
	uint8_t *p = c->page;

	switch (below(r, 20)) {
	case 0:
		usize = below(r, minsz);
		break;
	case 1:
		usize = minsz;
		break;
	case 2:
		usize = ksize + 4 * (1 + below(r, 8));
		break;
	case 3:
		usize = ksize + 4 * (1 + below(r, 8));
		tail = true;
		break;
	case 4:
		usize = pct(r, 50) ? 4097 + below(r, 4000) :
			pct(r, 50) ? 65536 : 0xffffffff - below(r, 2);
		break;
	case 5:
		usize = ksize + below(r, 4096 - ksize);
		break;
	}
	memset(p, 0, room);
	if (usize >= 4 && usize <= room && pct(r, 20)) {
		/* Ends at the unmapped page, or crosses it */
		unsigned int k = usize >= 8 && pct(r, 40) ? 1 + below(r, 4) : 0;

		p = c->guard - usize + k;
		cross = k;
	}
	*(uint32_t *)arg = usize;
	memcpy(p, arg, umin(ksize, (uint32_t)(c->guard - p)));
	if (tail && !cross)
		p[ksize + below(r, usize - ksize)] = 1 + below(r, 255);
	if (usize < minsz)
		*exp = EINVAL;
	else if (usize > 4096)
		*exp = E2BIG;		/* F11: before looking at the tail */
	else if (cross)
		*exp = EFAULT;
	else if (tail)
		*exp = E2BIG;
	else
		*exp = 0;
	return p;
}

/*
 * Checks an ioctl's outcome: the error the size decided, or one of
 * @allowed. EPERM is allowed only while the owner is reset.
 */
static bool check_errno(struct ioc *c, const char *what, int ret, int exp,
			uint64_t allowed, uint64_t seq0)
{
	int e = ret < 0 ? -ret : 0;

	ADD(&cnt.ioctls, 1);
	if (e == EPERM && (seq0 & 1 || LOAD(&A.owner_seq) != seq0))
		return false;
	if (exp && e != exp) {
		fail(C_IOCTL, "%s: %s, expected %s", what, errname(e),
		     errname(exp));
		return false;
	}
	if (e && !(allowed & E(e)) && e != exp) {
		fail(C_IOCTL, "%s: %s, not a documented error", what,
		     errname(e));
		return false;
	}
	return !e;
}

static int xioctl(int fd, unsigned long nr, void *arg)
{
	return ioctl(fd, nr, arg) ? -errno : 0;
}

static void ioc_config(struct ioc *c, bool set)
{
	struct rng *r = &c->t->r;
	struct vhost_iommu_config cf, old, *u;
	uint64_t seq = LOAD(&A.owner_seq);
	uint64_t allowed = E_COMMON;
	bool change = false, driver;
	int exp, ret;

	ret = vmm_get_config(A.v.fd, &cf);
	if (ret)
		return;
	old = cf;
	if (set) {
		if (pct(r, 70)) {
			cf.bypass = below(r, 2);
		} else {
			switch (below(r, 5)) {
			case 0:
				cf.probe_size += 4;
				break;
			case 1:
				cf.page_size_mask = wild64(r);
				break;
			case 2:
				cf.input_end = wild64(r);
				break;
			case 3:
				cf.bypass = 2 + below(r, 254);
				break;
			default:
				cf.domain_start = wild32(r);
			}
		}
		allowed |= E(EBUSY);
		old.bypass = cf.bypass;
		change = memcmp(&old, &cf, sizeof(cf));
	}
	/*
	 * The guest's write of bypass, as the VMM forwards it: it may change
	 * bypass only (EINVAL, not EBUSY, for anything else), and leaves the
	 * bypass a device reset goes back to alone. GET_CONFIG takes no flag.
	 */
	driver = pct(r, set ? 30 : 3);
	if (driver)
		cf.flags = VHOST_IOMMU_CONFIG_F_DRIVER;
	if (pct(r, 5))
		cf.flags |= wild32(r) | 2;
	if (pct(r, 5))
		cf.__reserved[below(r, 3)] = 1 + below(r, 255);
	u = sized(c, &cf, sizeof(cf), sizeof(cf), &exp);
	if (!exp && ((cf.flags & ~(set ? VHOST_IOMMU_CONFIG_F_DRIVER : 0)) ||
		     cf.__reserved[0] || cf.__reserved[1] || cf.__reserved[2]))
		exp = EINVAL;
	if (!exp && set && driver && change)
		exp = EINVAL;
	ret = xioctl(A.v.fd, set ? VHOST_IOMMU_SET_CONFIG :
		     VHOST_IOMMU_GET_CONFIG, u);
	if (!check_errno(c, set ? "SET_CONFIG" : "GET_CONFIG", ret, exp,
			 allowed, seq))
		return;
	if (set && change) {
		fail(C_IOCTL, "SET_CONFIG changed more than bypass with endpoints declared");
		return;
	}
	if (!set && (u->probe_size != A.cfg.probe_size ||
		     u->page_size_mask != A.cfg.page_size_mask ||
		     u->input_start != A.cfg.input_start ||
		     u->input_end != A.cfg.input_end ||
		     u->domain_start != A.cfg.domain_start ||
		     u->domain_end != A.cfg.domain_end || u->bypass > 1) &&
	    *(uint32_t *)u >= sizeof(cf))
		fail(C_IOCTL, "GET_CONFIG: the configuration changed");
}

static void ioc_endpoint(struct ioc *c, bool add)
{
	struct rng *r = &c->t->r;
	struct vhost_iommu_resv_region *rv = (void *)(c->page + 4096);
	uint64_t seq = LOAD(&A.owner_seq), at = pick_iova(r, &A);
	struct vhost_iommu_endpoint e, *u;
	unsigned int i, n;
	int exp, ret;

	memset(&e, 0, sizeof(e));
	e.endpoint = pct(r, 75) ? EP_IOC + below(r, 8) : wild32(r);
	if (!add && e.endpoint >= 1 && e.endpoint <= NEP)
		e.endpoint = EP_IOC;
	if (add && pct(r, 10))
		e.endpoint = 1 + below(r, NEP);		/* EEXIST */
	n = pct(r, 90) ? below(r, 4) : pct(r, 50) ? VHOST_IOMMU_MAX_RESV + 1 :
	    below(r, VHOST_IOMMU_MAX_RESV);
	for (i = 0; i < umin(n, 64); i++) {
		memset(&rv[i], 0, sizeof(rv[i]));
		rv[i].start = at;
		rv[i].end = at + A.granule * (1 + below(r, 4)) - 1;
		rv[i].subtype = below(r, 2);
		at = rv[i].end + 1 + A.granule * below(r, 4);
		if (pct(r, 3))
			rv[i].subtype = 2 + below(r, 250);
		if (pct(r, 3))
			rv[i].start = rv[i].end + 1;
		if (pct(r, 3) && i)
			rv[i].start = rv[i - 1].end;	/* overlap */
	}
	e.nr_resv = add || pct(r, 5) ? n : 0;
	e.resv = add || pct(r, 5) ? (uintptr_t)rv : 0;
	if (pct(r, 5))
		e.resv = pct(r, 50) ? 0 : (uintptr_t)c->guard;
	if (pct(r, 3))
		e.flags = wild32(r) | 2;	/* bit 1: unknown */
	u = sized(c, &e, sizeof(e), sizeof(e), &exp);
	if (!add) {
		ret = xioctl(A.v.fd, VHOST_IOMMU_DEL_ENDPOINT, u);
		check_errno(c, "DEL_ENDPOINT", ret, exp,
			    E_COMMON | E(ENOENT), seq);
		return;
	}
	ret = xioctl(A.v.fd, VHOST_IOMMU_ADD_ENDPOINT, u);
	check_errno(c, "ADD_ENDPOINT", ret, exp, E_COMMON | E(EEXIST) |
		    E(ENOSPC) | E(ENOMEM), seq);
}

static bool monotonic(const struct vhost_iommu_stats *a,
		      const struct vhost_iommu_stats *b)
{
	const uint64_t *x = (const void *)&a->requests, *y = (const void *)&b->requests;
	size_t i, n = offsetof(struct vhost_iommu_stats, domains) / 8 - 1;

	for (i = 0; i < n; i++)
		if (y[i] < x[i])
			return false;
	x = (const void *)&a->iotlb_misses;
	y = (const void *)&b->iotlb_misses;
	n = (sizeof(*a) - offsetof(struct vhost_iommu_stats, iotlb_misses)) / 8;
	for (i = 0; i < n; i++)
		if (y[i] < x[i] && i != (offsetof(struct vhost_iommu_stats, bound) -
					 offsetof(struct vhost_iommu_stats, iotlb_misses)) / 8)
			return false;
	return true;
}

static void ioc_stats(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_stats s, *u;
	int exp, ret;

	memset(&s, 0, sizeof(s));
	if (pct(r, 5))
		s.__reserved = 1 + below(r, 1000);
	/* The first version ended at @endpoints */
	u = sized(c, &s, sizeof(s), offsetof(struct vhost_iommu_stats,
					     iotlb_misses), &exp);
	if (!exp && s.__reserved)
		exp = EINVAL;
	ret = xioctl(A.v.fd, VHOST_IOMMU_GET_STATS, u);
	if (!check_errno(c, "GET_STATS", ret, exp, E_COMMON, seq) ||
	    u->size < sizeof(s))
		return;
	memcpy(&s, u, sizeof(s));
	if (s.status[VIRTIO_IOMMU_S_IOERR] || s.status[VIRTIO_IOMMU_S_DEVERR] ||
	    s.status[VIRTIO_IOMMU_S_FAULT])
		fail(C_IOCTL,
		     "GET_STATS: statuses the device never writes: IOERR %llu DEVERR %llu FAULT %llu (F1)",
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_IOERR],
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_DEVERR],
		     (unsigned long long)s.status[VIRTIO_IOMMU_S_FAULT]);
	if (c->last_inst == A.inst && !monotonic(&c->last, &s))
		fail(C_IOCTL, "GET_STATS: a counter went down");
	c->last = s;
	c->last_inst = A.inst;
}

static void ioc_translate(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq), iova;
	struct vhost_iommu_translate tr, *u;
	int exp, ret;

	memset(&tr, 0, sizeof(tr));
	tr.endpoint = pct(r, 40) ? EP_PIN : pick_ep(r);
	tr.access = pct(r, 90) ? 1 + below(r, 3) : wild32(r);
	tr.flags = pct(r, 40) ? VHOST_IOMMU_TRANSLATE_F_REPORT : 0;
	if (pct(r, 3))
		tr.flags |= wild32(r);
	if (pct(r, 3))
		tr.__reserved = 1 + below(r, 1000);
	iova = pct(r, 80) ? pick_iova(r, &A) + below(r, A.granule) : wild64(r);
	tr.iova = iova;
	u = sized(c, &tr, sizeof(tr), sizeof(tr), &exp);
	if (!exp && ((tr.flags & ~VHOST_IOMMU_TRANSLATE_F_REPORT) ||
		     tr.__reserved || !tr.access || (tr.access & ~3U)))
		exp = EINVAL;
	ret = xioctl(A.v.fd, VHOST_IOMMU_TRANSLATE, u);
	if (tr.endpoint == EP_PIN && ret == -ENXIO && !exp &&
	    !(seq & 1) && LOAD(&A.owner_seq) == seq) {
		fail(C_IOCTL, "TRANSLATE of endpoint %u, always attached, saw it unattached (F8)",
		     EP_PIN);
		return;
	}
	if (!check_errno(c, "TRANSLATE", ret, exp, E_COMMON | E(ENODEV) |
			 E(ENXIO) | E(ENOENT) | E(EACCES), seq))
		return;
	if (u->size >= sizeof(tr) &&
	    (u->start > iova || u->last < iova || (u->perm & ~7U)))
		fail(C_IOCTL, "TRANSLATE %#llx: [%#llx, %#llx] perm %#x",
		     (unsigned long long)iova, (unsigned long long)u->start,
		     (unsigned long long)u->last, u->perm);
}

static int pick_fd(struct ioc *c, int *kind)
{
	struct rng *r = &c->t->r;

	*kind = below(r, 6);
	switch (*kind) {
	case 0: case 1:
		return c->spare_net;
	case 2:
		return c->foreign_net;
	case 3:
		return c->pipe[0];
	case 4:
		return A.v.fd;
	}
	return pct(r, 50) ? -1 : 1000 + below(r, 1000);
}

static void ioc_bind(struct ioc *c, bool bind)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_bind b, *u;
	int exp, ret, kind;

	memset(&b, 0, sizeof(b));
	b.endpoint = pct(r, 60) ? EP_IOC + below(r, 8) : pick_ep(r);
	b.fd = pick_fd(c, &kind);
	if (pct(r, 3))
		b.flags = wild32(r) | 1;
	u = sized(c, &b, sizeof(b), sizeof(b), &exp);
	if (!exp && b.flags)
		exp = EINVAL;
	ret = xioctl(A.v.fd, bind ? VHOST_IOMMU_BIND_NET :
		     VHOST_IOMMU_UNBIND_NET, u);
	check_errno(c, bind ? "BIND_NET" : "UNBIND_NET", ret, exp,
		    E_COMMON | E(EBADF) | E(ENODEV) | E(EBUSY) | E(ENOSPC) |
		    E(ENOMEM) | (bind ? E(EPERM) : E(ENOENT)), seq);
	if (bind && !ret && kind > 1)
		fail(C_IOCTL, "BIND_NET of a file that is not an owned vhost-net device (%d)",
		     kind);
}

static void ioc_iotlb_attach(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_iotlb_attach a, *u;
	int exp, ret;
	bool pin;

	memset(&a, 0, sizeof(a));
	a.endpoint = pct(r, 70) ? EP_IOC + below(r, 8) : 2 + below(r, NEP - 1);
	a.domain = pct(r, 80) ? DOM_VMM + below(r, 4) : pick_domain(r);
	a.flags = pct(r, 70) ? 0 : pct(r, 80) ?
		  VHOST_IOMMU_IOTLB_ATTACH_F_DETACH : wild32(r);
	u = sized(c, &a, sizeof(a), sizeof(a), &exp);
	if (!exp && (a.flags & ~VHOST_IOMMU_IOTLB_ATTACH_F_DETACH))
		exp = EINVAL;
	pin = a.domain == 1 || a.domain == 2;
	if (pin)
		pthread_mutex_lock(&A.pinlock);
	ret = xioctl(A.v.fd, VHOST_IOMMU_IOTLB_ATTACH, u);
	if (pin)
		pthread_mutex_unlock(&A.pinlock);
	check_errno(c, "IOTLB_ATTACH", ret, exp, E_COMMON | E(ENODEV) |
		    E(EEXIST) | E(ENOENT) | E(ENOMEM), seq);
}

static void ioc_iotlb_batch(struct ioc *c, bool update)
{
	struct rng *r = &c->t->r;
	struct vhost_iommu_iotlb_entry *en = (void *)(c->page + 4096);
	unsigned int max = (c->guard - (uint8_t *)en) / sizeof(*en), i;
	uint64_t seq = LOAD(&A.owner_seq), g = A.granule;
	struct vhost_iommu_iotlb_batch b, *u;
	int exp, ret;

	memset(&b, 0, sizeof(b));
	b.domain = pct(r, 85) ? DOM_VMM + below(r, 4) : pick_domain(r);
	b.nr = pct(r, 90) ? 1 + below(r, 8) : pct(r, 50) ? 0 :
	       VHOST_IOMMU_IOTLB_MAX_BATCH + 1;
	b.entries = (uintptr_t)en;
	for (i = 0; i < umin(b.nr, max); i++) {
		memset(&en[i], 0, sizeof(en[i]));
		en[i].iova = pick_iova(r, &A);
		en[i].size = g * (1 + below(r, 8));
		if (update) {
			en[i].gpa = below(r, VMM_MEM_SIZE / g) * g;
			en[i].perm = 1 + below(r, 3);
		}
		switch (below(r, 40)) {
		case 0:
			en[i].iova += 1 + below(r, g - 1);
			break;
		case 1:
			en[i].size = below(r, 2) ? 0 : ~0ULL - below(r, 2) * g;
			break;
		case 2:
			en[i].perm = pct(r, 50) ? 0 : 4 + below(r, 100);
			break;
		case 3:
			en[i].__reserved = 1;
			break;
		case 4:
			en[i].gpa = ~0ULL & ~(g - 1);
			break;
		case 5:
			en[i].iova = ~0ULL & ~(g - 1);
			break;
		}
	}
	if (b.nr > max && b.nr <= VHOST_IOMMU_IOTLB_MAX_BATCH)
		b.nr = max;
	if (pct(r, 3))
		b.entries = pct(r, 50) ? 0 : (uintptr_t)(c->guard - 8);
	if (pct(r, 3))
		b.flags = 1 + below(r, 100);
	u = sized(c, &b, sizeof(b), sizeof(b), &exp);
	if (!exp && b.flags)
		exp = EINVAL;
	ret = xioctl(A.v.fd, update ? VHOST_IOMMU_IOTLB_UPDATE :
		     VHOST_IOMMU_IOTLB_INVALIDATE, u);
	check_errno(c, update ? "IOTLB_UPDATE" : "IOTLB_INVALIDATE", ret, exp,
		    E_COMMON | E(EOVERFLOW) | E(ENOENT) | E(EEXIST) |
		    E(ENOSPC) | E(ENOMEM) | E(EPERM), seq);
}

static void ioc_notify(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_iotlb_notify n, *u;
	int exp, ret, kind;

	memset(&n, 0, sizeof(n));
	n.fd = pct(r, 50) ? c->efd : pct(r, 30) ? -1 : pick_fd(c, &kind);
	if (pct(r, 3))
		n.__reserved = 1;
	u = sized(c, &n, sizeof(n), sizeof(n), &exp);
	if (!exp && n.__reserved)
		exp = EINVAL;
	ret = xioctl(A.v.fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, u);
	check_errno(c, "IOTLB_SET_NOTIFY", ret, exp, E_COMMON | E(EBADF), seq);
}

static void ioc_read(struct ioc *c)
{
	static const size_t sizes[] = { 0, 1, 23, 24, 25, 47, 48, 240, 4096 };
	struct rng *r = &c->t->r;
	size_t n = sizes[below(r, ARRAY_SIZE(sizes))], i;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_iotlb_miss *m;
	uint8_t *p = c->page;
	ssize_t ret;
	int exp = n < sizeof(*m) ? EINVAL : 0;

	if (pct(r, 5) && n >= sizeof(*m)) {
		p = c->guard - sizeof(*m) + 8;	/* the record cannot fit */
		n = sizeof(*m);
	}
	ret = read(A.v.fd, p, n);
	if (!check_errno(c, "read", ret < 0 ? -errno : 0, exp,
			 E(EAGAIN) | E(EFAULT) | E(EINVAL) | E(ENOMEM), seq))
		return;
	if (ret % sizeof(*m) || (size_t)ret > n || !ret) {
		fail(C_IOCTL, "read of %zu bytes: %zd", n, ret);
		return;
	}
	m = (void *)p;
	for (i = 0; i < ret / sizeof(*m); i++)
		if (!m[i].access || (m[i].access & ~3U) ||
		    (m[i].flags & ~VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL) ||
		    (m[i].iova & (A.granule - 1)))
			fail(C_IOCTL, "miss record: access %#x flags %#x iova %#llx",
			     m[i].access, m[i].flags,
			     (unsigned long long)m[i].iova);
}

/*
 * VHOST_IOMMU_RESET_DEVICE with an argument it must refuse (an unknown
 * flag, a bad size or place), changing nothing: the chaos thread resets
 * for real, with the model's state.
 */
static void ioc_reset(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_reset rs, *u;
	int exp, ret;

	memset(&rs, 0, sizeof(rs));
	rs.flags = wild32(r) | 1u << below(r, 32);
	u = sized(c, &rs, sizeof(rs), sizeof(rs), &exp);
	if (!exp)
		exp = EINVAL;
	ret = xioctl(A.v.fd, VHOST_IOMMU_RESET_DEVICE, u);
	if (!ret) {
		fail(C_IOCTL, "RESET_DEVICE with flags %#x (size %u) succeeded",
		     rs.flags, rs.size);
		return;
	}
	check_errno(c, "RESET_DEVICE", ret, exp, E_COMMON, seq);
}

/*
 * VHOST_IOMMU_REPORT_OPEN with any argument: refused ones change nothing;
 * a channel opened is closed at once (device A has no REPORT endpoint: it
 * carries nothing), or is EBUSY while another ioctl thread holds one.
 */
static void ioc_report_open(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq);
	struct vhost_iommu_report_open o, *u;
	int exp, ret;

	memset(&o, 0, sizeof(o));
	if (pct(r, 30))
		o.flags = wild32(r) | 1u << below(r, 32);
	else if (pct(r, 30))
		o.__reserved = wild32(r) | 1u << below(r, 32);
	u = sized(c, &o, sizeof(o), sizeof(o), &exp);
	if (!exp && (o.flags || o.__reserved))
		exp = EINVAL;
	ret = xioctl(A.v.fd, VHOST_IOMMU_REPORT_OPEN, u);
	if (!ret) {
		ADD(&cnt.ioctls, 1);
		if (exp)
			fail(C_IOCTL, "REPORT_OPEN with flags %#x reserved %#x (size %u) succeeded",
			     o.flags, o.__reserved, o.size);
		else if (close(u->fd))
			fail(C_IOCTL, "REPORT_OPEN: fd %d: %m", u->fd);
		return;
	}
	check_errno(c, "REPORT_OPEN", ret, exp, E_COMMON | E(EBUSY), seq);
}

/* Ioctls this device does not know, whatever their argument */
static void ioc_unknown(struct ioc *c)
{
	static const unsigned long nrs[] = {
		VHOST_GET_BACKEND_FEATURES,
		VHOST_SET_BACKEND_FEATURES, VHOST_SET_VRING_ENDIAN,
		VHOST_GET_VRING_ENDIAN, VHOST_NET_SET_BACKEND,
		_IOW(VHOST_VIRTIO, 0xa0, __u64), _IOWR(VHOST_VIRTIO, 0xa4, __u32),
		_IOR(VHOST_VIRTIO, 0xa5, struct vhost_iommu_translate),
		_IO('x', 0xa0),
	};
	struct rng *r = &c->t->r;
	unsigned long nr = pct(r, 50) ? nrs[below(r, ARRAY_SIZE(nrs))] :
			   _IO(VHOST_VIRTIO, 0xb1 + below(r, 0x4f));
	uint64_t seq = LOAD(&A.owner_seq);
	int ret;

	fill_rnd(r, c->page, 64);
	ret = xioctl(A.v.fd, nr, pct(r, 50) ? (void *)c->page :
		     (void *)(uintptr_t)wild64(r));
	check_errno(c, "an unknown ioctl", ret, ENOTTY, 0, seq);
}

/* Feature, vring and memory table ioctls that must fail, changing nothing */
static void ioc_vhost(struct ioc *c)
{
	struct rng *r = &c->t->r;
	uint64_t seq = LOAD(&A.owner_seq), f;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[2];
	} mt;
	struct vhost_vring_state *vs = (void *)c->page;
	unsigned long nr;
	void *arg = c->page;
	int ret, exp;

	switch (below(r, 6)) {
	case 3: {
		/* Busy polling: the request queue, up to 10 ms, mid-traffic */
		bool set = pct(r, 70);

		vs->index = pct(r, 80) ? VHOST_IOMMU_VQ_REQUEST :
			    pct(r, 50) ? VHOST_IOMMU_VQ_EVENT : wild32(r) | 2;
		vs->num = pct(r, 60) ? below(r, 200) :
			  pct(r, 50) ? 10001 + below(r, 1000000) : wild32(r);
		exp = 0;
		if (vs->index >= VHOST_IOMMU_VQ_MAX)
			exp = ENOBUFS;
		else if (set && vs->num > 10000)
			exp = EINVAL;
		ret = xioctl(A.v.fd, set ? VHOST_SET_VRING_BUSYLOOP_TIMEOUT :
			     VHOST_GET_VRING_BUSYLOOP_TIMEOUT, vs);
		check_errno(c, "BUSYLOOP_TIMEOUT", ret, exp, 0, seq);
		return;
	}
	case 0:
		ret = xioctl(A.v.fd, VHOST_GET_FEATURES, &f);
		if (check_errno(c, "GET_FEATURES", ret, 0, 0, seq) &&
		    f != VMM_OFFERED_FEATURES)
			fail(C_IOCTL, "GET_FEATURES: %#llx", (unsigned long long)f);
		return;
	case 1:
		f = VMM_ALL_FEATURES | (1ULL << (35 + below(r, 28)));
		ret = xioctl(A.v.fd, VHOST_SET_FEATURES, &f);
		check_errno(c, "SET_FEATURES of an unknown bit", ret,
			    EOPNOTSUPP, 0, seq);
		return;
	case 2: {
		static const unsigned long vr[] = {
			VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE,
			VHOST_GET_VRING_BASE, VHOST_SET_VRING_ADDR,
			VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
			VHOST_SET_VRING_ERR,
		};

		nr = vr[below(r, ARRAY_SIZE(vr))];
		fill_rnd(r, c->page, 64);
		vs->index = VHOST_IOMMU_VQ_MAX + below(r, 1000);
		if (pct(r, 20))
			vs->index = wild32(r) | 2;
		exp = ENOBUFS;
		if (pct(r, 20)) {
			arg = pct(r, 50) ? NULL : c->guard - 2;
			exp = EFAULT;
		}
		ret = xioctl(A.v.fd, nr, arg);
		check_errno(c, "a vring ioctl", ret, exp, 0, seq);
		return;
	}
	}
	/* VHOST_SET_MEM_TABLE that must fail */
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 2;
	mt.r[0].memory_size = VMM_REGION_SIZE;
	mt.r[0].userspace_addr = (uintptr_t)A.v.hva[0];
	mt.r[1].guest_phys_addr = VMM_REGION_SIZE;
	mt.r[1].memory_size = VMM_REGION_SIZE;
	mt.r[1].userspace_addr = (uintptr_t)A.v.hva[1];
	switch (below(r, 6)) {
	case 0:
		mt.m.nregions = 65 + below(r, 100000);
		exp = E2BIG;
		break;
	case 1:
		mt.m.padding = 1 + below(r, 100);
		exp = EOPNOTSUPP;
		break;
	case 2:
		mt.r[below(r, 2)].memory_size = 0;
		exp = EINVAL;
		break;
	case 3:
		mt.r[1].guest_phys_addr = ~0ULL - below(r, 4096);
		exp = EFAULT;
		break;
	case 4:
		mt.r[1].userspace_addr = 0xffff800000000000ULL;
		exp = EFAULT;
		break;
	default:
		mt.r[1].guest_phys_addr = VMM_REGION_SIZE - 4096;	/* overlap */
		exp = EINVAL;
	}
	arg = &mt;
	if (pct(r, 10)) {
		memcpy(c->guard - sizeof(mt.m) - 8, &mt, sizeof(mt.m) + 8);
		arg = c->guard - sizeof(mt.m) - 8;
		if (exp != E2BIG && exp != EOPNOTSUPP)
			exp = EFAULT;
	}
	ret = xioctl(A.v.fd, VHOST_SET_MEM_TABLE, arg);
	if (!ret)
		fail(C_IOCTL, "VHOST_SET_MEM_TABLE of an invalid table (expected %s) succeeded",
		     errname(exp));
	check_errno(c, "VHOST_SET_MEM_TABLE", ret, exp, E(ENOMEM), seq);
}

static int ioc_init(struct ioc *c, struct thr *t)
{
	c->t = t;
	c->page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->page == MAP_FAILED)
		return -errno;
	c->guard = c->page + 2 * 4096;
	if (mprotect(c->guard, 4096, PROT_NONE))
		return -errno;
	c->spare_net = open(VNET_DEV_PATH, O_RDWR | O_CLOEXEC);
	c->foreign_net = open(VNET_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (c->spare_net < 0 || c->foreign_net < 0 ||
	    ioctl(c->spare_net, VHOST_SET_OWNER, NULL))
		return -errno;
	if (pipe2(c->pipe, O_CLOEXEC))
		return -errno;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->efd < 0 ? -errno : 0;
}

static void ioc_fini(struct ioc *c)
{
	close(c->spare_net);
	close(c->foreign_net);
	close(c->pipe[0]);
	close(c->pipe[1]);
	close(c->efd);
	munmap(c->page, 3 * 4096);
}

static void *ioctl_main(void *arg)
{
	struct thr *t = arg;
	struct rng *r = &t->r;
	struct ioc c;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = ioc_init(&c, t);
	if (ret) {
		fail(C_IOCTL, "set-up: %s", strerror(-ret));
		return NULL;
	}
	while (!stop()) {
		beat(t, "an ioctl");
		pthread_rwlock_rdlock(&A.fdlock);
		switch (below(r, 22)) {
		case 0:
			ioc_config(&c, false);
			break;
		case 1:
			ioc_config(&c, true);
			break;
		case 2:
			ioc_endpoint(&c, true);
			break;
		case 3:
			ioc_endpoint(&c, false);
			break;
		case 4: case 5:
			ioc_stats(&c);
			break;
		case 6: case 7: case 8: case 9:
			ioc_translate(&c);
			break;
		case 10:
			ioc_bind(&c, true);
			break;
		case 11:
			ioc_bind(&c, false);
			break;
		case 12:
			ioc_iotlb_attach(&c);
			break;
		case 13:
			ioc_iotlb_batch(&c, true);
			break;
		case 14:
			ioc_iotlb_batch(&c, false);
			break;
		case 15:
			ioc_notify(&c);
			break;
		case 16:
			ioc_read(&c);
			break;
		case 17:
			ioc_unknown(&c);
			break;
		case 18:
			ioc_reset(&c);
			break;
		case 19:
			ioc_report_open(&c);
			break;
		default:
			ioc_vhost(&c);
		}
		pthread_rwlock_unlock(&A.fdlock);
		/* Leave the CPUs to the traffic, mostly */
		usleep(pct(r, 90) ? below(r, 1000) : below(r, 10000));
	}
	ioc_fini(&c);
	return NULL;
}

/*
 * The chaos thread: what a VMM does to the device while the guest's
 * requests are in flight. Everything here holds A.lock, so the requester
 * and the event thread see the rings change only between their steps;
 * the kernel sees it mid-traffic.
 */

/* The rings are gone: check what the device returned, forget the rest. */
static void harvest(struct dev *d)
{
	consume(d);
	ev_consume(d);
	d->batch_live = false;
	d->gen++;
	if (write(d->disrupt, &(uint64_t){ 1 }, 8) != 8)
		msg("disrupt: %m");
}

static void chaos_reset(struct thr *t, struct dev *d)
{
	int ret;

	d->last_chaos = "reset";
	d->logging = false;
	beat(t, "VHOST_RESET_OWNER");
	ADD(&d->owner_seq, 1);
	ret = vmm_ioctl(d->v.fd, VHOST_RESET_OWNER, NULL);
	if (ret)
		fail(C_CHAOS, "VHOST_RESET_OWNER: %s", strerror(-ret));
	harvest(d);
	pick_setup(&t->r, d);
	beat(t, "set-up after VHOST_RESET_OWNER");
	ret = dev_setup(d);
	if (ret)
		fail(C_CHAOS, "set-up after VHOST_RESET_OWNER: %s (%s)",
		     strerror(-ret), vt_errmsg);
	ADD(&d->owner_seq, 1);
}

/*
 * VHOST_IOMMU_RESET_DEVICE mid-traffic, the virtio reset: what the device
 * returned before it is checked and the rest forgotten; then the driver
 * starts again as after a reset, the owner's set-up untouched: rings laid
 * out afresh at index 0 and handed back with the kick only, the pinned
 * endpoint attached again. The domains went, so the pinned endpoint is
 * unattached until then: owner_seq is odd meanwhile (see ioc_translate()).
 */
static void chaos_reset_device(struct thr *t, struct dev *d)
{
	struct vhost_vring_state st;
	struct vhost_iommu_translate tr;
	unsigned int q;
	int ret;

	d->last_chaos = "RESET_DEVICE";
	beat(t, "VHOST_IOMMU_RESET_DEVICE");
	ADD(&d->owner_seq, 1);
	ret = vmm_reset_device(d->v.fd);
	if (ret)
		fail(C_CHAOS, "VHOST_IOMMU_RESET_DEVICE: %s", strerror(-ret));
	harvest(d);
	/* Both queues stopped at index 0; the pinned endpoint's domain gone */
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++) {
		st = (struct vhost_vring_state){ .index = q, .num = ~0U };
		ret = vmm_ioctl(d->v.fd, VHOST_GET_VRING_BASE, &st);
		if (ret || st.num)
			fail(C_CHAOS, "GET_VRING_BASE %u after RESET_DEVICE: %s, base %u",
			     q, errname(-ret), st.num);
	}
	ret = vmm_translate(d->v.fd, EP_PIN, IOVA_WIN, VHOST_IOMMU_ACCESS_READ,
			    0, &tr);
	if (ret != -ENXIO && !(ret == 0 && tr.start == 0 && tr.last == ~0ULL))
		fail(C_CHAOS,
		     "TRANSLATE of endpoint %u after RESET_DEVICE: %s [%#llx, %#llx], expected unattached",
		     EP_PIN, errname(-ret), (unsigned long long)tr.start,
		     (unsigned long long)tr.last);
	beat(t, "the driver after RESET_DEVICE");
	ret = vmm_rings_restart(&d->v);
	if (ret)
		fail(C_CHAOS, "rings after RESET_DEVICE: %s", vt_errmsg);
	drain_all(d);
	ret = dev_attach(d, 1, EP_PIN);
	if (ret < 0)
		fail(C_CHAOS, "ATTACH after RESET_DEVICE: %s", vt_errmsg);
	else if (ret)
		fail(C_CHAOS, "ATTACH after RESET_DEVICE: status %d", ret);
	dev_rings_fresh(d);
	ADD(&d->owner_seq, 1);
}

static void chaos_reopen(struct thr *t, struct dev *d)
{
	int ret;

	d->last_chaos = "reopen";
	d->logging = false;
	beat(t, "close");
	ADD(&d->owner_seq, 1);
	close(d->v.fd);
	harvest(d);
	beat(t, "reopen");
	d->v.fd = vmm_open_dev();
	if (d->v.fd < 0) {
		fail(C_CHAOS, "reopen: %s", vt_errmsg);
		return;
	}
	ret = dev_instance(&t->r, d);
	if (ret)
		fail(C_CHAOS, "set-up after reopen: %s (%s)", strerror(-ret),
		     vt_errmsg);
	ADD(&d->owner_seq, 1);
}

/* Ring ioctls that must fail on a stopped queue, changing nothing */
static void chaos_bad_vring(struct thr *t, struct dev *d, unsigned int q)
{
	struct vq *vq = &d->v.vq[q];
	struct vhost_vring_state st = { .index = q };
	struct vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = vmm_hva(&d->v, vq->desc_gpa),
		.avail_user_addr = vmm_hva(&d->v, vq->avail_gpa),
		.used_user_addr = vmm_hva(&d->v, vq->used_gpa),
	};
	int ret, exp;
	const char *what;

	switch (below(&t->r, 5)) {
	case 0:
		a.flags = 1 << VHOST_VRING_F_LOG;
		a.log_guest_addr = vq->used_gpa + 1 + below(&t->r, 3);
		exp = EINVAL;
		what = "VHOST_SET_VRING_ADDR with a misaligned log_guest_addr";
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_ADDR, &a);
		break;
	case 1:
		a.desc_user_addr += 1 + below(&t->r, 15);
		exp = EINVAL;
		what = "VHOST_SET_VRING_ADDR misaligned";
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_ADDR, &a);
		break;
	case 2:
		st.num = pct(&t->r, 50) ? 0 : pct(&t->r, 50) ? 3 : 65536;
		exp = EINVAL;
		what = "VHOST_SET_VRING_NUM";
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_NUM, &st);
		break;
	case 3:
		st.num = 0x10000 + below(&t->r, 1000);
		exp = EINVAL;
		what = "VHOST_SET_VRING_BASE";
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_BASE, &st);
		break;
	default:
		a.flags = 1 << (1 + below(&t->r, 31));
		exp = EOPNOTSUPP;
		what = "VHOST_SET_VRING_ADDR with an unknown flag";
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_ADDR, &a);
	}
	ADD(&cnt.ioctls, 1);
	if (ret != -exp)
		fail(C_CHAOS, "%s: %s, expected %s", what, errname(-ret),
		     errname(exp));
}

/*
 * GET_VRING_BASE stops a queue after the request in flight: the used
 * index is the avail base then. Some traffic piles up; the queue restarts
 * where it stopped.
 */
static void chaos_stop_start(struct thr *t, struct dev *d)
{
	unsigned int q = below(&t->r, 2), base;
	struct vq *vq = &d->v.vq[q];
	struct pollfd perr;
	uint16_t used;
	int ret;

	if (!vq->ready)
		return;
	d->last_chaos = q ? "stop and restart of queue 1" :
			"stop and restart of queue 0";
	beat(t, "VHOST_GET_VRING_BASE");
	ret = vmm_vq_stop(&d->v, q, &base);
	if (ret) {
		fail(C_CHAOS, "GET_VRING_BASE %u: %s", q, vt_errmsg);
		return;
	}
	used = le16toh(LOAD(&vq->used->idx));
	perr.fd = vq->err;
	perr.events = POLLIN;
	if (used != (uint16_t)base &&
	    !((uint16_t)(base - used) <= EVMAX && poll(&perr, 1, 0) == 1))
		fail(C_CHAOS, "queue %u stopped at avail %u with used index %u",
		     q, base, used);
	if (pct(&t->r, 50))
		chaos_bad_vring(t, d, q);
	/* Traffic piles up (the lock is held: nobody waits on this queue) */
	if (pct(&t->r, 50))
		msleep(below(&t->r, 20));
	ret = vmm_vq_restart(&d->v, q, base);
	if (ret)
		fail(C_CHAOS, "restart of queue %u: %s", q, vt_errmsg);
}

/* F6: nothing may reach the replaced mapping of region 1. */
static void decoy_check(struct dev *d)
{
	const uint64_t *p = (const uint64_t *)d->decoy;
	size_t i;

	if (!d->decoy)
		return;
	for (i = 0; i < VMM_REGION_SIZE / 8; i++)
		if (p[i]) {
			fail(C_CHAOS,
			     "the device wrote at %#zx of region 1 through a memory table it had replaced (F6)",
			     i * 8);
			break;
		}
	munmap(d->decoy, VMM_REGION_SIZE);
	d->decoy = NULL;
}

static void mark_degraded(struct dev *d)
{
	unsigned int i;

	for (i = d->ndone; i < d->nrq; i++)
		d->rq[i].out |= O_ZERO;
	for (i = 0; i < d->ev_count; i++)
		d->ev[(d->ev_first + i) % EVMAX].maybe_zero = true;
}

static void chaos_mem_table(struct thr *t, struct dev *d)
{
	struct rng *r = &t->r;
	int ret, k = below(r, 10);
	void *p;

	beat(t, "VHOST_SET_MEM_TABLE");
	d->last_chaos = k < 4 ? "same memory table" : k < 7 ?
			"memory table with region 1 elsewhere" : k < 9 ?
			"memory table without region 1" : "invalid memory table";
	decoy_check(d);
	if (k < 4) {
		ret = set_table(d, MT_NORMAL);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_MEM_TABLE: %s", strerror(-ret));
		return;
	}
	if (k < 7) {
		/* Region 1 through another mapping of the same memory, then back */
		d->decoy = mmap(NULL, VMM_REGION_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED, d->v.memfd, VMM_REGION_SIZE);
		if (d->decoy == MAP_FAILED) {
			d->decoy = NULL;
			return;
		}
		ret = set_table(d, MT_DECOY);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_MEM_TABLE (region 1 elsewhere): %s",
			     strerror(-ret));
		pthread_mutex_unlock(&d->lock);
		msleep(below(r, 30));
		pthread_mutex_lock(&d->lock);
		beat(t, "VHOST_SET_MEM_TABLE back");
		ret = set_table(d, MT_NORMAL);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_MEM_TABLE back: %s", strerror(-ret));
		/* From now on nothing may write through the old mapping. */
		p = mmap(d->decoy, VMM_REGION_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED)
			fail(C_CHAOS, "mmap over the decoy: %m");
		return;
	}
	if (k < 9) {
		/* Region 1 leaves the memory table for a while */
		ret = set_table(d, MT_DEGRADED);
		if (ret) {
			fail(C_CHAOS, "VHOST_SET_MEM_TABLE without region 1: %s",
			     strerror(-ret));
			return;
		}
		d->degraded = true;
		mark_degraded(d);
		pthread_mutex_unlock(&d->lock);
		msleep(below(r, 30));
		pthread_mutex_lock(&d->lock);
		beat(t, "VHOST_SET_MEM_TABLE back");
		if (!d->degraded)	/* a reset restored it meanwhile */
			return;
		ret = set_table(d, MT_NORMAL);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_MEM_TABLE back: %s", strerror(-ret));
		d->degraded = false;
		return;
	}
	/*
	 * F11: overlapping regions, one ending at 2^64 - 1, where the end of
	 * the other wraps to 0. Must fail; if it does not, the table is
	 * broken: put ours back and say so.
	 */
	{
		struct {
			struct vhost_memory m;
			struct vhost_memory_region r[4];
		} mt;

		memset(&mt, 0, sizeof(mt));
		mt.m.nregions = 4;
		mt.r[0].memory_size = VMM_REGION_SIZE;
		mt.r[0].userspace_addr = (uintptr_t)d->v.hva[0];
		mt.r[1].guest_phys_addr = VMM_REGION_SIZE;
		mt.r[1].memory_size = VMM_REGION_SIZE;
		mt.r[1].userspace_addr = (uintptr_t)d->v.hva[1];
		mt.r[2].guest_phys_addr = 0xfffffffffff00000ULL;
		mt.r[2].memory_size = 0x100000;
		mt.r[2].userspace_addr = (uintptr_t)d->hres;
		mt.r[3].guest_phys_addr = 0xffffffffffe00000ULL;
		mt.r[3].memory_size = 0x200000;
		mt.r[3].userspace_addr = (uintptr_t)d->hres + 0x200000;
		ret = vmm_ioctl(d->v.fd, VHOST_SET_MEM_TABLE, &mt);
		ADD(&cnt.ioctls, 1);
		if (ret != -EINVAL) {
			fail(C_CHAOS,
			     "VHOST_SET_MEM_TABLE with overlapping regions ending at 2^64-1: %s, expected EINVAL (F11)",
			     errname(-ret));
			if (!ret)
				set_table(d, d->degraded ? MT_DEGRADED : MT_NORMAL);
		}
	}
}

/*
 * A new eventfd for the call, error or kick of a queue; a signal the old
 * one had is passed on. Or no call eventfd for a while.
 */
static void chaos_eventfd(struct thr *t, struct dev *d)
{
	static const unsigned long nr[] = {
		VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR, VHOST_SET_VRING_KICK,
	};
	unsigned int q = below(&t->r, 2), w = below(&t->r, 3);
	struct vq *vq = &d->v.vq[q];
	int *slot = w == 0 ? &vq->call : w == 1 ? &vq->err : &vq->kick;
	struct vhost_vring_file f = { .index = q };
	uint64_t c = 0;
	int ret;

	if (!vq->ready)
		return;
	d->last_chaos = w == 0 ? "new call eventfd" : w == 1 ?
			"new err eventfd" : "new kick eventfd";
	beat(t, "a new eventfd");
	if (w == 0 && pct(&t->r, 30)) {
		f.fd = VHOST_FILE_UNBIND;
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_CALL, &f);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_VRING_CALL -1: %s", strerror(-ret));
		msleep(below(&t->r, 20));
		f.fd = vq->call;
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_CALL, &f);
		if (ret)
			fail(C_CHAOS, "VHOST_SET_VRING_CALL: %s", strerror(-ret));
		return;
	}
	f.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f.fd < 0)
		return;
	ret = vmm_ioctl(d->v.fd, nr[w], &f);
	ADD(&cnt.ioctls, 1);
	if (ret) {
		fail(C_CHAOS, "a new eventfd for queue %u: %s", q, strerror(-ret));
		close(f.fd);
		return;
	}
	if (read(*slot, &c, sizeof(c)) == sizeof(c) || w == 2)
		if (write(f.fd, &(uint64_t){ 1 }, 8) != 8)
			msg("eventfd: %m");
	close(*slot);
	*slot = f.fd;
}

/* SET_FEATURES of what was negotiated, mid-traffic; SET_OWNER again */
static void chaos_features(struct thr *t, struct dev *d)
{
	uint64_t f = d->v.features;
	int ret;

	d->logging = false;

	beat(t, "VHOST_SET_FEATURES");
	d->last_chaos = "SET_FEATURES";
	ret = vmm_ioctl(d->v.fd, VHOST_SET_FEATURES, &f);
	if (ret)
		fail(C_CHAOS, "VHOST_SET_FEATURES %#llx: %s",
		     (unsigned long long)f, strerror(-ret));
	ret = vmm_ioctl(d->v.fd, VHOST_SET_OWNER, NULL);
	if (ret != -EBUSY)
		fail(C_CHAOS, "VHOST_SET_OWNER of an owned device: %s, expected EBUSY",
		     errname(-ret));
	ADD(&cnt.ioctls, 2);
}

/* A reset, the pinned endpoint's domain kept from the ioctl thread */
static void chaos_reset_pinned(struct thr *t, struct dev *d, bool owner)
{
	pthread_mutex_lock(&d->pinlock);
	if (owner)
		chaos_reset(t, d);
	else
		chaos_reset_device(t, d);
	pthread_mutex_unlock(&d->pinlock);
}

/* Guest-physical bytes the log covers: 2 TiB */
#define LOG_SPAN	0x20000000000ULL

/*
 * Dirty logging turned on, or off, mid-traffic, as QEMU does around a
 * migration: the log, VHOST_F_LOG_ALL, then each used ring logged
 * (VHOST_VRING_F_LOG on the running queue). Every step must succeed, and
 * the traffic goes on, logged.
 */
static void chaos_log(struct thr *t, struct dev *d)
{
	static uint8_t *log;
	uint64_t f = d->v.features, base;
	struct vhost_vring_addr a;
	unsigned int q;
	int ret;

	d->last_chaos = "dirty log";
	beat(t, "dirty log");
	if (!log) {
		log = mmap(NULL, LOG_SPAN / 0x1000 / 8, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (log == MAP_FAILED) {
			log = NULL;
			fail(C_CHAOS, "the log: %m");
			return;
		}
	}
	d->logging = !d->logging;
	base = (uintptr_t)log;
	ret = vmm_ioctl(d->v.fd, VHOST_SET_LOG_BASE, &base);
	if (d->logging)
		f |= VMM_F(VHOST_F_LOG_ALL);
	if (!ret)
		ret = vmm_ioctl(d->v.fd, VHOST_SET_FEATURES, &f);
	for (q = 0; q < VHOST_IOMMU_VQ_MAX && !ret; q++) {
		if (!d->v.vq[q].num)
			continue;
		a = (struct vhost_vring_addr){
			.index = q,
			.flags = d->logging ? 1 << VHOST_VRING_F_LOG : 0,
			.desc_user_addr = vmm_hva(&d->v, d->v.vq[q].desc_gpa),
			.avail_user_addr = vmm_hva(&d->v, d->v.vq[q].avail_gpa),
			.used_user_addr = vmm_hva(&d->v, d->v.vq[q].used_gpa),
			.log_guest_addr = d->v.vq[q].used_gpa,
		};
		ret = vmm_ioctl(d->v.fd, VHOST_SET_VRING_ADDR, &a);
	}
	ADD(&cnt.ioctls, 4);
	if (ret)
		fail(C_CHAOS, "dirty log %s: %s", d->logging ? "on" : "off",
		     strerror(-ret));
}

static void *chaos_main(void *arg)
{
	struct thr *t = arg;
	struct rng *r = &t->r;
	struct dev *d = &A;

	while (!stop()) {
		unsigned int k;

		beat(t, "idle");
		msleep(10 + below(r, pct(r, 80) ? 100 : 500));
		if (stop())
			break;
		k = below(r, 100);
		if (k < 5) {
			pthread_rwlock_wrlock(&d->fdlock);
			pthread_mutex_lock(&d->lock);
			chaos_reopen(t, d);
			pthread_mutex_unlock(&d->lock);
			pthread_rwlock_unlock(&d->fdlock);
			ADD(&cnt.chaos, 1);
			continue;
		}
		pthread_mutex_lock(&d->lock);
		if (k < 22)
			chaos_reset_pinned(t, d, k < 12);
		else if (k < 45)
			chaos_stop_start(t, d);
		else if (k < 70)
			chaos_mem_table(t, d);
		else if (k < 85)
			chaos_eventfd(t, d);
		else if (k < 93)
			chaos_log(t, d);
		else
			chaos_features(t, d);
		pthread_mutex_unlock(&d->lock);
		ADD(&cnt.chaos, 1);
	}
	return NULL;
}

/*
 * The net thread: device B (vguest.c), stock vhost-net devices bound to
 * it, frames both ways. Mappings, attachments, bindings, the memory table
 * and the owner change under the traffic: a frame must never go out
 * while its translation is gone (UNMAP, DETACH, unbind and reset complete
 * only once vhost-net has dropped what it was given), and must go out
 * once it is back.
 */

#define NET_T			VGUEST_TIMEOUT_MS	/* hang guard */
#define NET_ABSENT_MS		200	/* watched for what must not happen */
#define PLANT_IOVA(i)		(0x500000000000ULL + (uint64_t)(i) * 0x100000)
#define SPARE_IOVA		0x600000000000ULL
#define PLANT_ID		200

static struct vguest NG;

struct netst {
	uint32_t seq;
	unsigned int txid[VGUEST_MAX_NET], rxid[VGUEST_MAX_NET];
	bool vmm;		/* VGUEST_ATTACH_VMM */
};

static bool ep_first(struct vguest *g, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++)
		if (g->ep[j] == g->ep[i])
			return false;
	return true;
}

/* The IOVA range net @i's table spans */
static void net_span(struct vguest *g, unsigned int i, uint64_t *iova,
		     uint64_t *size)
{
	if (g->opts.mode == VNET_IOVA_SCATTER) {
		*iova = VNET_SCATTER_BASE + i * VNET_SCATTER_SPAN;
		*size = VNET_SCATTER_SPAN;
	} else {
		*iova = VGUEST_NET_GPA(i) + VNET_OFFSET;
		*size = VNET_MEM_SIZE;
	}
}

static bool net_ok(int ret, const char *what)
{
	if (!ret)
		return true;
	fail(C_NET, "%s: %s", what, ret > 0 ? "status not OK" : vt_errmsg);
	return false;
}

static bool net_req(int ret, const char *what)
{
	if (ret == 0)
		return true;
	fail(C_NET, "%s: %s", what, ret > 0 ? "status not OK" : vt_errmsg);
	return false;
}

static bool net_traffic(struct thr *t, struct vguest *g, struct netst *ns)
{
	struct rng *r = &t->r;
	unsigned int i, n;

	for (i = 0; i < g->nnet; i++) {
		for (n = 1 + below(r, 4); n; n--) {
			beat(t, "a frame");
			if (pct(r, 50)) {
				if (!net_ok(vguest_tx(g, i, ns->txid[i]++ % 64,
						      ns->seq++, NET_T), "TX"))
					return false;
			} else {
				if (!net_ok(vguest_rx(g, i, ns->rxid[i]++ % 64,
						      ns->seq++, NET_T), "RX"))
					return false;
			}
			ADD(&cnt.frames, 1);
		}
	}
	return true;
}

static bool net_map_all(struct vguest *g)
{
	unsigned int i;

	for (i = 0; i < g->nnet; i++)
		if (!net_ok(vguest_map_table(g, i, VGUEST_RW), "MAP of a table"))
			return false;
	return true;
}

static bool net_attach_all(struct vguest *g)
{
	unsigned int i;

	for (i = 0; i < g->nnet; i++)
		if (ep_first(g, i) &&
		    !net_req(vmm_attach(&g->iommu, g->domain, g->ep[i], 0),
			     "ATTACH"))
			return false;
	return net_map_all(g);
}

static bool net_bind_all(struct vguest *g)
{
	unsigned int i;

	for (i = 0; i < g->nnet; i++)
		if (!net_ok(vguest_bind(g, i), "BIND_NET"))
			return false;
	return true;
}

static bool net_vmm_attach_all(struct vguest *g, uint32_t flags)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .domain = g->domain, .flags = flags,
	};
	unsigned int i;

	for (i = 0; i < g->nnet; i++) {
		if (!ep_first(g, i))
			continue;
		a.endpoint = g->ep[i];
		if (ioctl(g->iommu.fd, VHOST_IOMMU_IOTLB_ATTACH, &a)) {
			fail(C_NET, "IOTLB_ATTACH %#x: %m", flags);
			return false;
		}
	}
	return true;
}

enum {
	D_UNMAP, D_DETACH, D_UNBIND, D_MEMTABLE, D_RESET, D_RESET_DEVICE, D_MAX
};

static const char * const d_name[D_MAX] = {
	"UNMAP", "DETACH", "UNBIND_NET", "VHOST_SET_MEM_TABLE",
	"VHOST_RESET_OWNER", "VHOST_IOMMU_RESET_DEVICE",
};

/*
 * Takes the translations away, or the binding; returns whether a frame
 * posted now must stay in vhost-net until they are back.
 */
static bool net_disrupt(struct thr *t, struct vguest *g, struct netst *ns,
			int d, bool *ok)
{
	struct vhost_iommu_iotlb_notify nt = { .size = sizeof(nt) };
	uint64_t iova, size;
	unsigned int i;

	*ok = false;
	beat(t, d_name[d]);
	switch (d) {
	case D_UNMAP:
		for (i = 0; i < g->nnet; i++) {
			net_span(g, i, &iova, &size);
			/* and the planted IOVA, which the tables hold too */
			if (!ns->vmm &&
			    !net_ok(vguest_unmap(g, PLANT_IOVA(i), VNET_PAGE),
				    "UNMAP"))
				return false;
			if (ns->vmm) {
				if (!net_ok(vguest_iotlb_invalidate(g, iova, size),
					    "IOTLB_INVALIDATE"))
					return false;
			} else if (!net_ok(vguest_unmap(g, iova, size), "UNMAP")) {
				return false;
			}
		}
		*ok = true;
		return !ns->vmm;	/* the VMM's server answers at once */
	case D_DETACH:
		if (ns->vmm) {
			*ok = net_vmm_attach_all(g, VHOST_IOMMU_IOTLB_ATTACH_F_DETACH) &&
			      net_vmm_attach_all(g, 0);
			return false;
		}
		for (i = 0; i < g->nnet; i++)
			if (ep_first(g, i) &&
			    !net_req(vmm_detach(&g->iommu, g->domain, g->ep[i]),
				     "DETACH"))
				return false;
		*ok = true;
		return true;
	case D_UNBIND:
		for (i = 0; i < g->nnet; i++)
			if (!net_ok(vguest_unbind(g, i), "UNBIND_NET"))
				return false;
		*ok = true;
		return true;
	case D_MEMTABLE:
		*ok = net_req(vmm_set_mem_table(&g->iommu), "SET_MEM_TABLE");
		return false;
	case D_RESET_DEVICE:
		/*
		 * The domains go, the bindings stay. The VMM's miss server
		 * goes on reading and answering meanwhile: an UPDATE after
		 * the reset finds no domain, and nothing it wrote before may
		 * survive in vhost-net.
		 */
		*ok = net_req(vmm_reset_device(g->iommu.fd),
			      "VHOST_IOMMU_RESET_DEVICE");
		return true;
	}
	/* D_RESET: the owner goes, with the domains and the bindings */
	if (ns->vmm)
		vguest_iotlb_serve_stop(g);
	if (!net_req(vmm_ioctl(g->iommu.fd, VHOST_RESET_OWNER, NULL),
		     "VHOST_RESET_OWNER"))
		return false;
	if (!net_req(vmm_setup(&g->iommu), "set-up after VHOST_RESET_OWNER") ||
	    !net_req(vmm_event_post(&g->iommu, VGUEST_EVENTS,
				    sizeof(struct virtio_iommu_fault)),
		     "event buffers"))
		return false;
	if (ns->vmm) {
		nt.fd = g->miss_efd;
		if (ioctl(g->iommu.fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &nt)) {
			fail(C_NET, "IOTLB_SET_NOTIFY: %m");
			return false;
		}
	}
	*ok = true;
	return true;
}

static bool net_restore(struct thr *t, struct vguest *g, struct netst *ns,
			int d)
{
	beat(t, "restoring the translations");
	switch (d) {
	case D_UNMAP:
		return ns->vmm || net_map_all(g);
	case D_DETACH:
		return ns->vmm || net_attach_all(g);
	case D_UNBIND:
		return net_bind_all(g);
	case D_MEMTABLE:
		return true;
	case D_RESET_DEVICE:
		/* The driver starts again: rings at 0, event buffers, ATTACH */
		if (!net_req(vmm_rings_restart(&g->iommu),
			     "rings after RESET_DEVICE") ||
		    !net_req(vmm_event_post(&g->iommu, VGUEST_EVENTS,
					    sizeof(struct virtio_iommu_fault)),
			     "event buffers after RESET_DEVICE"))
			return false;
		return ns->vmm ? net_vmm_attach_all(g, 0) : net_attach_all(g);
	}
	if (ns->vmm)
		return net_vmm_attach_all(g, 0) && net_bind_all(g) &&
		       net_ok(vguest_iotlb_serve(g), "miss server");
	return net_attach_all(g) && net_bind_all(g);
}

/* A frame posted while the translations are gone: out only once back. */
static bool net_stall(struct thr *t, struct vguest *g, struct netst *ns)
{
	struct rng *r = &t->r;
	unsigned int i = below(r, g->nnet), id = ns->txid[i]++ % 64;
	uint32_t seq = ns->seq++;
	int d = below(r, D_MAX), ret;
	bool held, ok;

	held = net_disrupt(t, g, ns, d, &ok);
	if (!ok)
		return false;
	if (!net_ok(vguest_tx_post(g, i, id, seq), "TX post"))
		return false;
	if (held) {
		beat(t, "a frame that must wait");
		ret = vguest_tx_complete(g, i, id, seq, NET_ABSENT_MS);
		if (ret != -ETIMEDOUT) {
			fail(C_NET, "a frame went out after %s completed: %s (F9)",
			     d_name[d], ret ? vt_errmsg : "sent");
			return false;
		}
	}
	if (!net_restore(t, g, ns, d))
		return false;
	vnet_kick(&g->net[i], VNET_TXQ);
	beat(t, "a frame after the translations came back");
	if (!net_ok(vguest_tx_complete(g, i, id, seq, NET_T),
		    "TX after the translations came back"))
		return false;
	ADD(&cnt.frames, 1);
	return true;
}

/* Requests and ioctls on device B beside the traffic */
static bool net_misc(struct thr *t, struct vguest *g)
{
	struct rng *r = &t->r;
	struct virtio_iommu_fault f;
	uint64_t iova = SPARE_IOVA + below(r, 64) * VNET_PAGE;
	int ret;

	beat(t, "requests beside the traffic");
	switch (below(r, 3)) {
	case 0:
		ret = vmm_map(&g->iommu, g->domain, iova,
			      iova + VNET_PAGE * (1 + below(r, 8)) - 1,
			      VGUEST_NET_GPA(0), VGUEST_RW);
		return ret >= 0 || net_req(ret, "MAP beside the traffic");
	case 1:
		ret = vmm_unmap(&g->iommu, g->domain, iova,
				iova + VNET_PAGE * (1 + below(r, 8)) - 1);
		return ret >= 0 || net_req(ret, "UNMAP beside the traffic");
	}
	ret = vmm_translate(g->iommu.fd, g->ep[0], pct(r, 50) ? iova :
			    wild64(r), 1 + below(r, 3),
			    VHOST_IOMMU_TRANSLATE_F_REPORT, NULL);
	if (ret && ret != -ENOENT && ret != -EACCES && ret != -ENXIO) {
		fail(C_NET, "TRANSLATE: %s", errname(-ret));
		return false;
	}
	while (!(ret = vguest_fault(g, &f, 0)))
		;
	if (ret != -EAGAIN) {
		fail(C_NET, "fault reports: %s", vt_errmsg);
		return false;
	}
	return true;
}

/*
 * F9: a translation the VMM wrote into vhost-net before the bind is
 * unreachable after it: a frame from that IOVA stays until the guest
 * maps it.
 */
static bool net_plant_check(struct thr *t, struct vguest *g, struct netst *ns)
{
	unsigned int i;
	int ret;

	for (i = 0; i < g->nnet; i++) {
		struct vnet *v = &g->net[i];
		uint64_t gpa = vnet_buf_gpa(v, VNET_TXQ, PLANT_ID);
		uint32_t seq = ns->seq++;

		beat(t, "a frame from a planted translation");
		if (!net_ok(vnet_tx_post_at(v, PLANT_ID, gpa, PLANT_IOVA(i), seq,
					    vnet_frame_len(seq)), "TX post") ||
		    !net_ok(vnet_kick(v, VNET_TXQ), "kick"))
			return false;
		ret = vguest_tx_complete(g, i, PLANT_ID, seq, NET_ABSENT_MS);
		if (ret != -ETIMEDOUT) {
			fail(C_NET,
			     "a frame went out through a translation written into vhost-net before VHOST_IOMMU_BIND_NET (F9): %s",
			     ret ? vt_errmsg : "sent");
			return false;
		}
		if (!net_ok(vguest_map(g, PLANT_IOVA(i), gpa, VNET_PAGE,
				       VGUEST_RW), "MAP of the planted IOVA"))
			return false;
		vnet_kick(v, VNET_TXQ);
		if (!net_ok(vguest_tx_complete(g, i, PLANT_ID, seq, NET_T),
			    "TX after the MAP of the planted IOVA"))
			return false;
		ADD(&cnt.frames, 1);
	}
	return true;
}

static void net_episode(struct thr *t)
{
	struct rng *r = &t->r;
	struct vguest *g = &NG;
	struct vguest_opts o;
	struct netst ns;
	unsigned int i, k;
	bool plant, ok = true;

	memset(&o, 0, sizeof(o));
	memset(&ns, 0, sizeof(ns));
	o.nnet = 1 + below(r, 2);
	o.ep_per_net = pct(r, 50);
	o.mode = pct(r, 60) ? VNET_IOVA_OFFSET : VNET_IOVA_SCATTER;
	ns.vmm = pct(r, 30);
	o.attach = ns.vmm ? VGUEST_ATTACH_VMM : VGUEST_ATTACH;
	o.iotlb_v1 = !ns.vmm && pct(r, 15);
	o.no_backend = true;
	plant = !ns.vmm && !o.iotlb_v1 && pct(r, 40);
	o.no_bind = plant;
	vt_param_set("push_on_map", below(r, 2));
	beat(t, "vguest_init");
	if (!net_ok(vguest_init(g, &o), "vguest_init") ||
	    !net_ok(vguest_start(g), "vguest_start"))
		goto out;
	for (i = 0; plant && i < g->nnet; i++) {
		struct vnet *v = &g->net[i];

		/* vhost-net holds a translation the guest never made */
		if (vnet_iotlb_msg(v->fd, VHOST_IOTLB_UPDATE, PLANT_IOVA(i),
				   VNET_PAGE,
				   vnet_hva(v, vnet_buf_gpa(v, VNET_TXQ, PLANT_ID)),
				   VHOST_ACCESS_RW)) {
			fail(C_NET, "IOTLB update of vhost-net: %s", vt_errmsg);
			goto out;
		}
		if (!net_ok(vguest_bind(g, i), "BIND_NET"))
			goto out;
	}
	if (ns.vmm && !net_ok(vguest_iotlb_serve(g), "miss server"))
		goto out;
	for (i = 0; i < g->nnet; i++) {
		beat(t, "VHOST_NET_SET_BACKEND");
		if (!net_ok(vguest_set_backend(g, i, NET_T), "SET_BACKEND"))
			goto out;
	}
	if (plant && !net_plant_check(t, g, &ns))
		goto out;
	for (k = 5 + below(r, 20); k && ok && !stop(); k--) {
		switch (below(r, 4)) {
		case 0:
			ok = net_stall(t, g, &ns);
			break;
		case 1:
			ok = net_misc(t, g);
			break;
		default:
			ok = net_traffic(t, g, &ns);
		}
	}
	if (ok && pct(r, 40)) {
		/* Close mid-traffic */
		for (i = 0; i < g->nnet; i++) {
			vguest_tx_post(g, i, ns.txid[i]++ % 64, ns.seq++);
			vguest_rx_post(g, i, ns.rxid[i]++ % 64, ns.seq++);
		}
	}
out:
	beat(t, "vguest_fini");
	vguest_fini(g);
	ADD(&cnt.episodes, 1);
}

static void *net_main(void *arg)
{
	struct thr *t = arg;
	long long push = vt_param_get("push_on_map");

	while (!stop())
		net_episode(t);
	if (push >= 0)
		vt_param_set("push_on_map", push);
	return NULL;
}

/* The report channel */

/*
 * The report channel (component "report"): device R, a vmm.c device of
 * its own, with endpoints 1..RP_NREP added with
 * VHOST_IOMMU_ENDPOINT_F_REPORT and the others ordinary. Two threads:
 *
 *   rguest posts batches of ATTACH, DETACH, MAP and UNMAP (fresh IOVAs for
 *          every MAP) and checks each completion, in ring order, against a
 *          model of the attachments: a request that concerns a REPORT
 *          endpoint (an ATTACH or DETACH of one, a MAP or UNMAP in a domain
 *          one is attached to) and succeeded in the kernel was recorded;
 *          one that concerns none was not; a recorded request's status is
 *          the VMM's answer (DEVERR when the channel closed with it held);
 *          a concerned request without a record is DEVERR only while no
 *          channel was open. After a batch, no MAP whose status is a
 *          failure is mapped (VHOST_IOMMU_GET_MAPPINGS). It resets the
 *          device (VHOST_IOMMU_RESET_DEVICE or VHOST_RESET_OWNER) when
 *          rvmm asks, with a request held.
 *   rvmm   the VMM: reads the records, matches each with the first request
 *          of the batch after the last one recorded (ring order; the
 *          request and the next one not yet completed), and answers: OK,
 *          a failure, late, wrong answers first (EINVAL, nothing changed),
 *          twice (EINVAL), or never: it closes the channel and opens
 *          another, or asks for a reset and may answer late anyway, racing
 *          it. A hung-up channel (after VHOST_RESET_OWNER) must read EOF,
 *          refuse answers with EPIPE and poll EPOLLHUP | EPOLLERR; a new
 *          channel is opened, sometimes before the old file is closed.
 *
 * R.lock orders the two: rvmm marks a record read, and an answer or a
 * close as coming, before it writes or closes, so rguest never sees a
 * completion it cannot explain; rguest resets and starts a batch under it.
 */
#define RP_NEP		5	/* endpoints 1..RP_NEP */
#define RP_NREP		3	/* 1..RP_NREP: REPORT endpoints */
#define RP_NDOM		4	/* domains 1..RP_NDOM */
#define RP_BATCH	12
#define RP_IOVA		0x1000000ULL
#define RP_WAIT_MS	20	/* a slice of waiting, not a synchronization */

enum { RP_NONE, RP_RESET_DEVICE, RP_RESET_OWNER };

struct rpreq {
	struct vmm_req r;
	uint8_t type;
	uint32_t domain, ep, flags;
	uint64_t start, end, phys;
	bool recorded;		/* rvmm read its record */
	bool answering;		/* rvmm answers it with @ans */
	bool closed;		/* rvmm closed the channel with it held */
	uint8_t ans;
};

static struct {
	pthread_mutex_t lock;	/* everything below; v's rings are rguest's */
	struct vmm v;
	struct rpreq q[RP_BATCH];
	unsigned int n;		/* requests in the batch */
	unsigned int next;	/* the next record is of q[next] or later */
	uint64_t resets;	/* RESET_DEVICE and RESET_OWNER done */
	uint64_t owner_resets;	/* RESET_OWNER done */
	uint64_t last_seq;
	int rfd;		/* rvmm's channel, -1: none; closed under R.lock */
	bool chan_ok;		/* a channel is open (rvmm's, of this owner) */
	bool nochan;		/* no channel for part of this batch */
	int want;		/* RP_*: rvmm asks rguest for a reset */
	uint32_t ep_dom[RP_NEP + 1];	/* the model: 0, or the domain */
	uint64_t iova;		/* the next MAP's */
	uint64_t recent[16][2];	/* ranges of recent MAPs, for UNMAPs */
	unsigned int nrecent;
	bool ready;
} R;

static struct {
	uint64_t requests, records, answers, closes, resets, hangups;
} rpcnt;

static bool rp_is_report(uint32_t ep)
{
	return ep >= 1 && ep <= RP_NREP;
}

/* Whether a request concerns a REPORT endpoint. Context: R.lock held. */
static bool rp_concerned(const struct rpreq *q)
{
	unsigned int e;

	if (q->type == VIRTIO_IOMMU_T_ATTACH || q->type == VIRTIO_IOMMU_T_DETACH)
		return rp_is_report(q->ep);
	for (e = 1; e <= RP_NREP; e++)
		if (R.ep_dom[e] && R.ep_dom[e] == q->domain)
			return true;
	return false;
}

/* A request the kernel executed (and did not undo). Context: R.lock held. */
static void rp_apply(const struct rpreq *q)
{
	if (q->type == VIRTIO_IOMMU_T_ATTACH)
		R.ep_dom[q->ep] = q->domain;
	else if (q->type == VIRTIO_IOMMU_T_DETACH)
		R.ep_dom[q->ep] = 0;
}

static int rp_add_endpoints(int fd)
{
	struct vhost_iommu_endpoint e = { .size = sizeof(e) };
	unsigned int i;
	int ret;

	for (i = 1; i <= RP_NEP; i++) {
		e.endpoint = i;
		e.flags = rp_is_report(i) ? VHOST_IOMMU_ENDPOINT_F_REPORT : 0;
		ret = vmm_ioctl(fd, VHOST_IOMMU_ADD_ENDPOINT, &e);
		if (ret)
			return ret;
	}
	return 0;
}

static int rp_init(void)
{
	int ret;

	pthread_mutex_init(&R.lock, NULL);
	ret = vmm_init(&R.v, NULL);
	if (!ret)
		ret = rp_add_endpoints(R.v.fd);
	R.iova = RP_IOVA;
	R.rfd = -1;
	R.ready = !ret;
	return ret;
}

static void rp_fini(void)
{
	if (R.rfd >= 0)
		close(R.rfd);
	if (R.ready)
		vmm_fini(&R.v);
}

/* One random request of the batch, its fields in @q */
static void rp_pick(struct rng *r, struct rpreq *q)
{
	unsigned int k;

	memset(q, 0, sizeof(*q));
	q->type = VIRTIO_IOMMU_T_ATTACH + below(r, 4);
	q->domain = 1 + below(r, RP_NDOM);
	q->ep = pct(r, 5) ? RP_NEP + 1 + below(r, 3) : 1 + below(r, RP_NEP);
	switch (q->type) {
	case VIRTIO_IOMMU_T_ATTACH:
		q->flags = pct(r, 10) ? VIRTIO_IOMMU_ATTACH_F_BYPASS : 0;
		break;
	case VIRTIO_IOMMU_T_DETACH:
		if (q->ep <= RP_NEP && R.ep_dom[q->ep] && pct(r, 80))
			q->domain = R.ep_dom[q->ep];
		break;
	case VIRTIO_IOMMU_T_MAP:
		q->start = R.iova;
		q->end = q->start + (pct(r, 50) ? 0x1000 : 0x2000) - 1;
		R.iova += 0x2000;
		q->phys = VMM_DATA_GPA + below(r, 256) * 0x1000;
		q->flags = VIRTIO_IOMMU_MAP_F_READ |
			   (pct(r, 50) ? VIRTIO_IOMMU_MAP_F_WRITE : 0);
		k = R.nrecent++ % ARRAY_SIZE(R.recent);
		R.recent[k][0] = q->start;
		R.recent[k][1] = q->end;
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		k = umin(R.nrecent, ARRAY_SIZE(R.recent));
		if (k && pct(r, 60)) {
			k = below(r, k);
			q->start = R.recent[k][0];
			q->end = R.recent[k][1];
		} else if (pct(r, 50)) {
			q->end = ~0ULL;
		} else {
			q->start = RP_IOVA + below(r, 64) * 0x1000;
			q->end = q->start + below(r, 64) * 0x1000 + 0xfff;
		}
		break;
	}
}

static void rp_prepare(struct rpreq *q)
{
	union {
		struct virtio_iommu_req_attach a;
		struct virtio_iommu_req_detach d;
		struct virtio_iommu_req_map m;
		struct virtio_iommu_req_unmap u;
	} b;
	uint32_t len = in_size(q->type);

	switch (q->type) {
	case VIRTIO_IOMMU_T_ATTACH:
		vmm_mk_attach(&b.a, q->domain, q->ep, q->flags);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		vmm_mk_detach(&b.d, q->domain, q->ep);
		break;
	case VIRTIO_IOMMU_T_MAP:
		vmm_mk_map(&b.m, q->domain, q->start, q->end, q->phys, q->flags);
		break;
	default:
		vmm_mk_unmap(&b.u, q->domain, q->start, q->end);
	}
	vmm_req_prepare(&R.v, &q->r, &b, len, sizeof(struct virtio_iommu_req_tail));
}

/* After VHOST_RESET_OWNER: rvmm's channel is hung up. R.lock held. */
static void rp_check_hung_up(void)
{
	struct pollfd p = { .fd = R.rfd, .events = POLLIN | POLLOUT };

	if (R.rfd < 0)
		return;
	if (poll(&p, 1, 0) != 1 || p.revents != (POLLHUP | POLLERR))
		fail(C_REPORT, "the channel after VHOST_RESET_OWNER polls %#x",
		     p.revents);
}

/*
 * rvmm asked for a reset (a request held that it will not answer), or
 * rguest resets on its own between batches. Context: R.lock held.
 */
static void rp_reset(struct thr *t, int kind)
{
	int ret;

	R.resets++;
	ADD(&rpcnt.resets, 1);
	if (kind == RP_RESET_OWNER) {
		R.owner_resets++;
		R.chan_ok = false;
		beat(t, "report: VHOST_RESET_OWNER");
		ret = vmm_ioctl(R.v.fd, VHOST_RESET_OWNER, NULL);
		if (!ret)
			rp_check_hung_up();
		if (!ret)
			ret = vmm_setup(&R.v);
	} else {
		beat(t, "report: VHOST_IOMMU_RESET_DEVICE");
		ret = vmm_reset_device(R.v.fd);
		if (!ret)
			ret = vmm_rings_restart(&R.v);
	}
	if (ret)
		fail(C_REPORT, "%s: %s (%s)", kind == RP_RESET_OWNER ?
		     "VHOST_RESET_OWNER" : "RESET_DEVICE", errname(-ret),
		     vt_errmsg);
	/* Every domain went; the endpoints stay */
	memset(R.ep_dom, 0, sizeof(R.ep_dom));
	R.n = 0;
	R.next = 0;
	R.want = RP_NONE;
}

/* Request @i completed with @st: is that what the channel allows? */
static void rp_check(unsigned int i, uint8_t st)
{
	struct rpreq *q = &R.q[i];
	bool concerned = rp_concerned(q);
	const char *what = NULL;
	int exp = -1;

	if (q->recorded) {
		if (!concerned)
			what = "recorded, of no REPORT endpoint";
		else if (q->answering)
			exp = q->ans;
		else if (q->closed)
			exp = VIRTIO_IOMMU_S_DEVERR;
		else
			what = "completed without an answer";
		if (exp >= 0 && st != exp)
			what = "its status is not the answer's";
		/* Executed in the kernel; a MAP not answered OK undone */
		rp_apply(q);
	} else {
		if (concerned && st == VIRTIO_IOMMU_S_OK)
			what = "executed without a record";
		else if (concerned && st == VIRTIO_IOMMU_S_DEVERR && !R.nochan)
			what = "DEVERR with the channel open";
		else if (!(status_mask(q->type) & 1u << st) &&
			 !(concerned && st == VIRTIO_IOMMU_S_DEVERR))
			what = "a status its type never has";
		if (st == VIRTIO_IOMMU_S_OK)
			rp_apply(q);
	}
	if (what)
		fail(C_REPORT,
		     "request %u of %u (type %u, domain %u, endpoint %u, [%#llx, %#llx]): status %u, expected %d: %s",
		     i, R.n, q->type, q->domain, q->ep,
		     (unsigned long long)q->start, (unsigned long long)q->end,
		     st, exp, what);
}

/* No MAP of the batch that failed is mapped. Context: R.lock held. */
static void rp_check_mappings(void)
{
	struct vhost_iommu_iotlb_entry e;
	struct vhost_iommu_mappings l;
	unsigned int i;
	int ret;

	for (i = 0; i < R.n; i++) {
		struct rpreq *q = &R.q[i];

		if (q->type != VIRTIO_IOMMU_T_MAP ||
		    q->r.status == VIRTIO_IOMMU_S_OK)
			continue;
		l = (struct vhost_iommu_mappings){
			.size = sizeof(l), .domain = q->domain, .nr = 1,
			.iova = q->start, .entries = (uintptr_t)&e,
		};
		ret = vmm_ioctl(R.v.fd, VHOST_IOMMU_GET_MAPPINGS, &l);
		if (ret == -ENOENT)
			continue;
		if (ret) {
			fail(C_REPORT, "GET_MAPPINGS of domain %u: %s",
			     q->domain, errname(-ret));
		} else if (l.nr && e.iova <= q->end &&
			   e.iova + e.size - 1 >= q->start) {
			fail(C_REPORT,
			     "MAP [%#llx, %#llx] of domain %u failed with status %u, but [%#llx, +%#llx] is mapped",
			     (unsigned long long)q->start,
			     (unsigned long long)q->end, q->domain,
			     q->r.status, (unsigned long long)e.iova,
			     (unsigned long long)e.size);
		}
	}
}

/*
 * Waits for request @i's used entry, in ring order. Returns 1 when done,
 * 0 when rguest reset the device instead (rvmm asked), -1 on a failure.
 */
static int rp_wait(struct thr *t, unsigned int i)
{
	struct rpreq *q = &R.q[i];
	uint64_t t0 = vt_now_ns();
	uint32_t id, len;
	int ret, want;

	for (;;) {
		ret = vmm_wait_used(&R.v, VHOST_IOMMU_VQ_REQUEST, &id, &len,
				    RP_WAIT_MS);
		if (!ret)
			break;
		if (ret != -ETIMEDOUT) {
			fail(C_REPORT, "request %u: %s", i, vt_errmsg);
			return -1;
		}
		pthread_mutex_lock(&R.lock);
		want = R.want;
		if (want)
			rp_reset(t, want);
		pthread_mutex_unlock(&R.lock);
		if (want)
			return 0;
		if (stop())
			return -1;
		if (vt_now_ns() - t0 > HANG_MS * MS) {
			fail(C_REPORT, "request %u (type %u) never completed",
			     i, q->type);
			return -1;
		}
	}
	if ((int)id != q->r.head || len != sizeof(struct virtio_iommu_req_tail)) {
		fail(C_REPORT, "used entry %u (length %u), expected request %u's head %d, length 4",
		     id, len, i, q->r.head);
		return -1;
	}
	q->r.status = q->r.wr[0];
	ADD(&rpcnt.requests, 1);
	return 1;
}

static void rp_batch(struct thr *t)
{
	struct rng *r = &t->r;
	unsigned int i, n = 1 + below(r, RP_BATCH);
	int ret = 1;

	beat(t, "report: a batch");
	pthread_mutex_lock(&R.lock);
	if (R.want)
		rp_reset(t, R.want);
	else if (pct(r, 2))
		rp_reset(t, pct(r, 50) ? RP_RESET_DEVICE : RP_RESET_OWNER);
	R.n = n;
	R.next = 0;
	R.nochan = !R.chan_ok;
	for (i = 0; i < n; i++) {
		rp_pick(r, &R.q[i]);
		rp_prepare(&R.q[i]);
	}
	for (i = 0; i < n && ret > 0; i++)
		if (vmm_req_post(&R.v, &R.q[i].r))
			ret = -1;
	if (ret > 0 && vmm_kick(&R.v, VHOST_IOMMU_VQ_REQUEST))
		ret = -1;
	pthread_mutex_unlock(&R.lock);
	if (ret < 0) {
		fail(C_REPORT, "posting a batch: %s", vt_errmsg);
		return;
	}
	for (i = 0; i < n && ret > 0; i++) {
		beat(t, "report: a request");
		ret = rp_wait(t, i);
		if (ret <= 0)
			break;
		pthread_mutex_lock(&R.lock);
		rp_check(i, R.q[i].r.status);
		pthread_mutex_unlock(&R.lock);
	}
	if (ret <= 0)
		return;
	pthread_mutex_lock(&R.lock);
	rp_check_mappings();
	pthread_mutex_unlock(&R.lock);
}

static void *rguest_main(void *arg)
{
	struct thr *t = arg;

	while (!stop()) {
		rp_batch(t);
		/* With device A's traffic: leave it the CPUs, mostly */
		if (opt.comps & (1 << C_REQ))
			usleep(below(&t->r, 4000));
	}
	return NULL;
}

/* rvmm's side */

struct rpv {
	struct thr *t;
	int fd;			/* the channel, -1: none */
	uint64_t owner_resets;	/* R.owner_resets when it was opened */
};

static int rp_answer(int fd, uint64_t seq, uint32_t status, uint32_t size,
		     size_t count)
{
	struct vhost_iommu_report_answer a[2] = {
		{ .size = size, .status = status, .seq = seq },
	};
	ssize_t n = write(fd, a, count);

	if (n < 0)
		return -errno;
	return n == (ssize_t)count ? 0 : -EPROTO;
}

/* A hung-up file: EOF, EPIPE, EPOLLHUP | EPOLLERR; then closed */
static void rp_hung_up(struct rpv *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN | POLLOUT };
	struct vhost_iommu_report rec;
	ssize_t n;
	int ret;

	ADD(&rpcnt.hangups, 1);
	if (poll(&p, 1, 0) != 1 || p.revents != (POLLHUP | POLLERR))
		fail(C_REPORT, "a hung-up channel polls %#x", p.revents);
	n = read(s->fd, &rec, sizeof(rec));
	if (n)
		fail(C_REPORT, "a hung-up channel reads %zd (%s)", n,
		     errname(n < 0 ? errno : 0));
	ret = rp_answer(s->fd, below(&s->t->r, 1000), 0,
			sizeof(struct vhost_iommu_report_answer),
			sizeof(struct vhost_iommu_report_answer));
	if (ret != -EPIPE)
		fail(C_REPORT, "a hung-up channel takes an answer: %s",
		     errname(-ret));
	pthread_mutex_lock(&R.lock);
	R.chan_ok = false;
	R.nochan = true;
	pthread_mutex_unlock(&R.lock);
}

/*
 * Opens a channel; after a hang-up, before the hung-up file is closed
 * (whose release must leave the new channel alone).
 */
static void rp_open(struct rpv *s)
{
	struct vhost_iommu_report_open o = { .size = sizeof(o), .fd = -1 };
	struct pollfd p;
	int ret;

	beat(s->t, "report: REPORT_OPEN");
	ret = vmm_ioctl(R.v.fd, VHOST_IOMMU_REPORT_OPEN, &o);
	if (ret == -EPERM)
		return;		/* between RESET_OWNER and the set-up */
	if (ret) {
		fail(C_REPORT, "REPORT_OPEN: %s", errname(-ret));
		return;
	}
	/*
	 * No reset runs meanwhile (rguest resets under R.lock): a channel
	 * opened before the last RESET_OWNER is hung up already.
	 */
	pthread_mutex_lock(&R.lock);
	p = (struct pollfd){ .fd = o.fd, .events = POLLIN };
	if (poll(&p, 1, 0) < 0)
		fail(C_REPORT, "poll: %s", errname(errno));
	R.chan_ok = !(p.revents & POLLHUP);
	s->owner_resets = R.owner_resets;
	if (s->fd >= 0)
		close(s->fd);	/* the hung-up one */
	s->fd = o.fd;
	R.rfd = o.fd;
	pthread_mutex_unlock(&R.lock);
}

/* Whether @rec is the record of @q */
static bool rp_rec_is(const struct vhost_iommu_report *rec,
		      const struct rpreq *q)
{
	bool ep = q->type == VIRTIO_IOMMU_T_ATTACH ||
		  q->type == VIRTIO_IOMMU_T_DETACH;
	bool map = q->type == VIRTIO_IOMMU_T_MAP;

	return rec->type == q->type && rec->domain == q->domain &&
	       rec->endpoint == (ep ? q->ep : 0) &&
	       rec->virt_start == q->start && rec->virt_end == q->end &&
	       rec->phys_start == (map ? q->phys : 0) &&
	       rec->flags == (map || q->type == VIRTIO_IOMMU_T_ATTACH ?
			      q->flags : 0);
}

/*
 * Matches a record with the batch; its index, or -1. Context: R.lock held
 * since before the record was read: it is of this batch.
 */
static int rp_match(const struct vhost_iommu_report *rec)
{
	unsigned int i;

	if (rec->size != sizeof(*rec) || rec->seq <= R.last_seq) {
		fail(C_REPORT, "record size %u seq %llu after seq %llu",
		     rec->size, (unsigned long long)rec->seq,
		     (unsigned long long)R.last_seq);
		return -1;
	}
	R.last_seq = rec->seq;
	/*
	 * Requests complete in ring order and the held one stops the queue:
	 * the record is of the first request whose tail is unwritten, and
	 * the next one has not completed either.
	 */
	for (i = R.next; i < R.n && !vmm_wr_untouched(&R.q[i].r); i++)
		;
	if (i == R.n || !rp_rec_is(rec, &R.q[i]) ||
	    (i + 1 < R.n && !vmm_wr_untouched(&R.q[i + 1].r))) {
		fail(C_REPORT,
		     "record seq %llu (type %u, domain %u, endpoint %u, [%#llx, %#llx]) is not of request %u of %u, the first not completed, or the next one completed",
		     (unsigned long long)rec->seq, rec->type, rec->domain,
		     rec->endpoint, (unsigned long long)rec->virt_start,
		     (unsigned long long)rec->virt_end, i, R.n);
		return -1;
	}
	R.q[i].recorded = true;
	R.next = i + 1;
	return i;
}

/* Whether @err may come of an answer to a record read at @resets */
static bool rp_answer_ok(int err, uint64_t resets, uint64_t ors, int exp)
{
	bool reset, owner;

	pthread_mutex_lock(&R.lock);
	reset = R.resets != resets;
	owner = R.owner_resets != ors;
	pthread_mutex_unlock(&R.lock);
	if (err == exp)
		return true;
	if (err == -EPIPE)
		return owner;
	return reset && (err == -EINVAL || (exp == -EINVAL && !err));
}

/* Wrong answers: each EINVAL, the request still held */
static void rp_bad_answers(struct rpv *s, uint64_t seq, int i,
			   uint64_t resets)
{
	const size_t asz = sizeof(struct vhost_iommu_report_answer);
	struct rng *r = &s->t->r;
	unsigned int k;
	int ret;

	for (k = 0; k < 4; k++) {
		switch (below(r, 5)) {
		case 0:
			ret = rp_answer(s->fd, seq + 1 + below(r, 3), 0, asz, asz);
			break;
		case 1:
			ret = rp_answer(s->fd, pct(r, 50) ? seq - 1 : ~0ULL, 0,
					asz, asz);
			break;
		case 2:
			ret = rp_answer(s->fd, seq, 0, pct(r, 50) ? asz - 1 :
					asz + 1 + below(r, 64), asz);
			break;
		case 3:
			ret = rp_answer(s->fd, seq, 0, asz, pct(r, 50) ?
					asz - 1 - below(r, asz - 1) :
					asz + 1 + below(r, asz - 1));
			break;
		default:
			ret = rp_answer(s->fd, seq, VIRTIO_IOMMU_S_NOMEM + 1 +
					below(r, 300), asz, asz);
		}
		if (!rp_answer_ok(ret, resets, s->owner_resets, -EINVAL))
			fail(C_REPORT, "a wrong answer: %s", errname(-ret));
	}
	pthread_mutex_lock(&R.lock);
	if (R.resets == resets && !vmm_wr_untouched(&R.q[i].r))
		fail(C_REPORT, "a wrong answer completed request %d", i);
	pthread_mutex_unlock(&R.lock);
}

/* Closes the channel. Context: R.lock held. */
static void rp_close(struct rpv *s)
{
	/* A request held completes with DEVERR */
	R.chan_ok = false;
	R.nochan = true;
	close(s->fd);
	s->fd = -1;
	R.rfd = -1;
}

/* Never answered: the channel closed, or a reset asked for */
static void rp_never(struct rpv *s, const struct vhost_iommu_report *rec,
		     int i, uint64_t resets)
{
	struct rng *r = &s->t->r;
	int ret, kind = below(r, 3);

	if (kind == 0) {
		ADD(&rpcnt.closes, 1);
		if (pct(r, 30)) {
			struct vhost_iommu_report_open o = { .size = sizeof(o) };

			ret = vmm_ioctl(R.v.fd, VHOST_IOMMU_REPORT_OPEN, &o);
			if (ret != -EBUSY)
				fail(C_REPORT, "a second REPORT_OPEN: %s",
				     errname(-ret));
			if (!ret)
				close(o.fd);
		}
		pthread_mutex_lock(&R.lock);
		if (R.resets == resets)
			R.q[i].closed = true;
		rp_close(s);
		pthread_mutex_unlock(&R.lock);
		return;
	}
	pthread_mutex_lock(&R.lock);
	if (R.resets == resets)
		R.want = kind == 1 ? RP_RESET_DEVICE : RP_RESET_OWNER;
	pthread_mutex_unlock(&R.lock);
	/* Late, racing the reset: taken, dropped, or the channel hung up */
	if (pct(r, 50)) {
		uint8_t st = pct(r, 70) ? 0 : 1 + below(r, VIRTIO_IOMMU_S_NOMEM);

		pthread_mutex_lock(&R.lock);
		if (R.resets == resets) {
			R.q[i].answering = true;
			R.q[i].ans = st;
		}
		pthread_mutex_unlock(&R.lock);
		ret = rp_answer(s->fd, rec->seq, st,
				sizeof(struct vhost_iommu_report_answer),
				sizeof(struct vhost_iommu_report_answer));
		if (!rp_answer_ok(ret, resets, s->owner_resets, 0))
			fail(C_REPORT, "a late answer: %s", errname(-ret));
	}
}

/*
 * One record: read, matched, answered (or not). @polled: R.resets before
 * the poll that saw it.
 */
static void rp_serve(struct rpv *s, uint64_t polled)
{
	struct rng *r = &s->t->r;
	struct vhost_iommu_report rec;
	uint64_t resets;
	uint8_t st;
	ssize_t n;
	int i, ret;

	if (pct(r, 3)) {
		/* EINVAL; 0 if hung up meanwhile */
		n = read(s->fd, &rec, sizeof(rec) - 1 - below(r, sizeof(rec) - 1));
		if (n > 0 || (n < 0 && errno != EINVAL))
			fail(C_REPORT, "a short read: %zd (%s)", n,
			     errname(n < 0 ? errno : 0));
	}
	/* No reset between the read and the match: rguest resets under it */
	pthread_mutex_lock(&R.lock);
	n = read(s->fd, &rec, sizeof(rec));
	ret = n < 0 ? errno : 0;
	resets = R.resets;
	i = n == sizeof(rec) ? rp_match(&rec) : -1;
	pthread_mutex_unlock(&R.lock);
	if (n == 0) {
		rp_hung_up(s);
		return;
	}
	if (n < 0) {
		/* Dropped by a reset since the poll */
		if (ret != EAGAIN || resets == polled)
			fail(C_REPORT, "read: %s", errname(ret));
		return;
	}
	ADD(&rpcnt.records, 1);
	if (n != sizeof(rec))
		fail(C_REPORT, "read %zd bytes", n);
	if (i < 0)
		return;
	if (pct(r, 5)) {
		struct vhost_iommu_report again;

		/* EAGAIN; 0 if hung up meanwhile */
		n = read(s->fd, &again, sizeof(again));
		if (n > 0 || (n < 0 && errno != EAGAIN))
			fail(C_REPORT, "a record read twice: %zd (%s)", n,
			     errname(n < 0 ? errno : 0));
	}
	if (pct(r, 8))
		rp_bad_answers(s, rec.seq, i, resets);
	if (pct(r, 10)) {
		rp_never(s, &rec, i, resets);
		return;
	}
	if (pct(r, 20))
		usleep(below(r, 3000));	/* late: the guest's queue waits */
	st = pct(r, 75) ? 0 : 1 + below(r, VIRTIO_IOMMU_S_NOMEM);
	pthread_mutex_lock(&R.lock);
	if (R.resets == resets) {
		R.q[i].answering = true;
		R.q[i].ans = st;
	}
	pthread_mutex_unlock(&R.lock);
	ret = rp_answer(s->fd, rec.seq, st,
			sizeof(struct vhost_iommu_report_answer),
			sizeof(struct vhost_iommu_report_answer));
	if (!rp_answer_ok(ret, resets, s->owner_resets, 0))
		fail(C_REPORT, "the answer to seq %llu: %s",
		     (unsigned long long)rec.seq, errname(-ret));
	ADD(&rpcnt.answers, 1);
	if (!ret && pct(r, 5)) {
		ret = rp_answer(s->fd, rec.seq, 0,
				sizeof(struct vhost_iommu_report_answer),
				sizeof(struct vhost_iommu_report_answer));
		if (!rp_answer_ok(ret, resets, s->owner_resets, -EINVAL))
			fail(C_REPORT, "a second answer: %s", errname(-ret));
	}
}

static void *rvmm_main(void *arg)
{
	struct rpv s = { .t = arg, .fd = -1 };
	struct pollfd p;
	uint64_t resets;

	while (!stop()) {
		beat(s.t, "report: poll");
		pthread_mutex_lock(&R.lock);
		resets = R.resets;
		pthread_mutex_unlock(&R.lock);
		if (s.fd < 0) {
			rp_open(&s);
			if (s.fd < 0)
				usleep(1000);	/* no owner yet: pacing */
			continue;
		}
		p = (struct pollfd){ .fd = s.fd, .events = POLLIN };
		if (poll(&p, 1, RP_WAIT_MS) < 0) {
			fail(C_REPORT, "poll: %m");
			break;
		}
		if (p.revents & POLLHUP) {
			rp_hung_up(&s);
			rp_open(&s);
		} else if (p.revents & POLLIN) {
			rp_serve(&s, resets);
		}
	}
	/* The channel stays open for rp_fini(): a request held stays so */
	return NULL;
}

/* Main: options, threads, the hang guard, the summary */

static struct thr thrs[16];
static unsigned int nthr;

static void add_thr(const char *name, enum comp c, void *(*fn)(void *))
{
	struct thr *t = &thrs[nthr];

	if (!(opt.comps & (1 << c)))
		return;
	t->name = name;
	t->comp = c;
	t->stream = nthr + 1;
	t->fn = fn;
	rng_seed(&t->r, opt.seed, t->stream);
	nthr++;
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;

	beat(t, "starting");
	t->fn(t);
	if (t->comp == C_REQ)
		STORE(&req_done, 1);
	beat(t, "done");
	STORE(&t->done, 1);
	return NULL;
}

static uint64_t start_ns;

/*
 * The budget: the req thread's requests, else device R's; with both, R's
 * at least a five-hundredth of it too, so that make check exercises the
 * report channel (its requests are much slower: a thread answers each).
 */
static bool budget_met(void)
{
	bool req = opt.comps & (1 << C_REQ);
	bool rep = opt.comps & (1 << C_REPORT);

	if (!opt.budget)
		return false;
	if (!req)
		return LOAD(&rpcnt.requests) >= opt.budget;
	return LOAD(&cnt.requests) >= opt.budget &&
	       (!rep || LOAD(&rpcnt.requests) >= opt.budget / 500);
}

static double elapsed(void)
{
	return (vt_now_ns() - start_ns) / 1e9;
}

static void summary(void)
{
	double s = elapsed();

	msg("%llu requests in %.1f s (%.0f/s), %llu ring errors, %llu ioctls,",
	    (unsigned long long)LOAD(&cnt.requests), s,
	    LOAD(&cnt.requests) / (s > 0 ? s : 1),
	    (unsigned long long)LOAD(&cnt.ringerrs),
	    (unsigned long long)LOAD(&cnt.ioctls));
	msg("  %llu event buffers (%llu reports), %llu rewrites, %llu chaos,",
	    (unsigned long long)LOAD(&cnt.events),
	    (unsigned long long)LOAD(&cnt.reports),
	    (unsigned long long)LOAD(&cnt.flips),
	    (unsigned long long)LOAD(&cnt.chaos));
	msg("  %llu frames, %llu net set-ups",
	    (unsigned long long)LOAD(&cnt.frames),
	    (unsigned long long)LOAD(&cnt.episodes));
	msg("  report: %llu requests, %llu records, %llu answers,",
	    (unsigned long long)LOAD(&rpcnt.requests),
	    (unsigned long long)LOAD(&rpcnt.records),
	    (unsigned long long)LOAD(&rpcnt.answers));
	msg("  %llu closes, %llu resets, %llu hang-ups",
	    (unsigned long long)LOAD(&rpcnt.closes),
	    (unsigned long long)LOAD(&rpcnt.resets),
	    (unsigned long long)LOAD(&rpcnt.hangups));
}

/* A thread that stopped making progress: say where, give up at once. */
static bool hang_guard(void)
{
	uint64_t now = vt_now_ns();
	unsigned int i;

	for (i = 0; i < nthr; i++) {
		struct thr *t = &thrs[i];

		if (!t->started || LOAD(&t->done))
			continue;
		if ((int64_t)(now - LOAD(&t->beat)) > (int64_t)(HANG_MS * MS)) {
			fail(t->comp, "hang guard: thread %s made no progress for %u s in \"%s\"",
			     t->name, HANG_MS / 1000, LOAD(&t->doing));
			return true;
		}
	}
	return false;
}

static void tap(int hung)
{
	unsigned int c;

	for (c = 0; c < C_MAX; c++) {
		if (!(opt.comps & (1 << c)))
			ksft_test_result_skip("fuzz: %s (not selected)\n",
					      comp_name[c]);
		else
			ksft_test_result(!fails[c] && !hung, "fuzz: %s\n",
					 comp_name[c]);
	}
}

static unsigned int parse_comps(const char *s)
{
	unsigned int m = 0, c;
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (c = 0; c < C_MAX; c++)
			if (!strcmp(tok, comp_name[c]))
				m |= 1 << c;
		if (!strcmp(tok, "all"))
			m |= (1 << C_MAX) - 1;
	}
	return m;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s SEED] [-t SECONDS] [-n REQUESTS] [-c COMPONENTS] [-j N] [-v]\n"
		"  -s SEED        replay the run of a printed seed\n"
		"  -t SECONDS     run that long (0: no limit)\n"
		"  -n REQUESTS    stop after that many request chains (0: no limit)\n"
		"  -c LIST        components, comma-separated (default all):\n"
		"                 req,flip,event,ioctl,chaos,net,report\n"
		"  -j N           ioctl threads (default 2)\n"
		"  -v             say more (twice: more still)\n"
		"Without -t and -n: %llu requests (make check), fewer on a debug kernel.\n",
		prog, (unsigned long long)CI_BUDGET);
}

/* A crash of the fuzzer itself: where, and the seed to replay it */
static void on_crash(int sig)
{
	void *bt[32];
	char buf[160];
	int n, len;

	len = snprintf(buf, sizeof(buf),
		       "# fuzz: the fuzzer got signal %d (seed 0x%016llx); backtrace:\n",
		       sig, (unsigned long long)opt.seed);
	if (write(1, buf, len) < 0)
		_exit(3);
	n = backtrace(bt, 32);
	backtrace_symbols_fd(bt, n, 1);
	_exit(3);
}

int main(int argc, char **argv)
{
	bool seeded = false, limited = false;
	uint64_t last_print = 0;
	struct rng r0;
	unsigned int i;
	int o, ret, hung = 0;

	opt.comps = (1 << C_MAX) - 1;
	opt.nioctl = 2;
	while ((o = getopt(argc, argv, "s:t:n:c:j:vh")) != -1) {
		switch (o) {
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 't':
			opt.seconds = strtoul(optarg, NULL, 0);
			limited = true;
			break;
		case 'n':
			opt.budget = strtoull(optarg, NULL, 0);
			limited = true;
			break;
		case 'c':
			opt.comps = parse_comps(optarg);
			break;
		case 'j':
			opt.nioctl = umin(strtoul(optarg, NULL, 0), 8);
			break;
		case 'v':
			opt.verbose++;
			break;
		default:
			print_usage(argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	if (!seeded && getrandom(&opt.seed, sizeof(opt.seed), 0) !=
	    sizeof(opt.seed))
		opt.seed = vt_now_ns();
	/* The debug kernel (kmemleak, fault injection) is 30x slower. */
	opt.debug_kernel = !access("/sys/kernel/debug/kmemleak", F_OK);
	if (!limited)
		opt.budget = opt.debug_kernel ? CI_BUDGET / 5 : CI_BUDGET;
	if (!(opt.comps & (1 << C_REQ)))
		opt.comps &= ~(1 << C_FLIP);

	ksft_print_header();
	ksft_set_plan(C_MAX);
	msg("seed 0x%016llx", (unsigned long long)opt.seed);
	msg("%s kernel, budget %llu requests, %u s, components %#x",
	    opt.debug_kernel ? "debug" : "stock",
	    (unsigned long long)opt.budget, opt.seconds, opt.comps);
	if (access(VMM_DEV_PATH, R_OK | W_OK))
		ksft_exit_skip("no %s\n", VMM_DEV_PATH);

	rng_seed(&r0, opt.seed, 0);
	ret = dev_init(&r0, &A);
	if (ret)
		ksft_exit_fail_msg("device set-up: %s (%s)\n", strerror(-ret),
				   vt_errmsg);
	add_thr("req", C_REQ, req_main);
	add_thr("flip", C_FLIP, flip_main);
	add_thr("event", C_EVENT, event_main);
	for (i = 0; i < opt.nioctl; i++)
		add_thr("ioctl", C_IOCTL, ioctl_main);
	add_thr("chaos", C_CHAOS, chaos_main);
	add_thr("net", C_NET, net_main);
	if (opt.comps & (1 << C_REPORT)) {
		ret = rp_init();
		if (ret)
			ksft_exit_fail_msg("device R set-up: %s (%s)\n",
					   strerror(-ret), vt_errmsg);
	}
	add_thr("rguest", C_REPORT, rguest_main);
	add_thr("rvmm", C_REPORT, rvmm_main);

	start_ns = vt_now_ns();
	for (i = 0; i < nthr; i++) {
		beat(&thrs[i], "starting");
		thrs[i].started = !pthread_create(&thrs[i].tid, NULL, thr_main,
						  &thrs[i]);
	}
	while (!stop()) {
		msleep(100);
		if (budget_met())
			break;
		if (opt.seconds && elapsed() >= opt.seconds)
			break;
		if (hang_guard()) {
			hung = 1;
			break;
		}
		if (vt_now_ns() - last_print > 10000 * MS) {
			last_print = vt_now_ns();
			if (elapsed() > 5)
				summary();
		}
	}
	STORE(&stopping, 1);
	/* The threads finish what they do; the hang guard still watches. */
	for (i = 0; i < nthr && !hung; i++) {
		while (thrs[i].started && !LOAD(&thrs[i].done)) {
			msleep(100);
			if (hang_guard()) {
				hung = 1;
				break;
			}
		}
	}
	summary();
	if (hung) {
		/* A thread is stuck in the kernel: report, and leave it. */
		tap(hung);
		ksft_print_cnts();
		fflush(stdout);
		_exit(KSFT_FAIL);
	}
	for (i = 0; i < nthr; i++)
		if (thrs[i].started)
			pthread_join(thrs[i].tid, NULL);
	pthread_mutex_lock(&A.lock);
	decoy_check(&A);
	consume(&A);
	ev_consume(&A);
	if (!A.batch_live)
		stats_check(&A);
	pthread_mutex_unlock(&A.lock);
	vmm_fini(&A.v);
	rp_fini();
	/* A long run that never answered a record tested nothing */
	if ((opt.comps & (1 << C_REPORT)) && LOAD(&rpcnt.requests) >= 1000 &&
	    !LOAD(&rpcnt.answers) && !any_fail())
		fail(C_REPORT, "%llu requests, no record answered",
		     (unsigned long long)LOAD(&rpcnt.requests));
	if (unpublished)
		msg("note: %u event queue ring errors left used entries written but not published",
		    unpublished);
	msg("requests: %llu", (unsigned long long)LOAD(&cnt.requests));
	if ((opt.comps & (1 << C_REQ)) && opt.budget && !opt.seconds &&
	    LOAD(&cnt.requests) < opt.budget && !any_fail())
		fail(C_REQ, "%llu requests, fewer than the budget",
		     (unsigned long long)LOAD(&cnt.requests));
	tap(0);
	ksft_finished();
	return 0;
}
