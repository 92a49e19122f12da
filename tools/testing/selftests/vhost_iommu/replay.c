// SPDX-License-Identifier: GPL-2.0
/*
 * replay: replays a QEMU 7.2 virtio-iommu trace (the log backend's output
 * of -trace 'virtio_iommu_*', plain or gzip) against /dev/vhost-iommu
 * through its request queue, and compares what the device answers with
 * what the guest got from QEMU.
 *
 * usage: replay [-b batch] [-m shown] TRACE
 *
 * Two passes over the trace. The first collects the configuration (the
 * first get_config line), the endpoints (every endpoint id and every PCI
 * device the trace names) and their reserved regions (fill_resv_property
 * lines). The second sends the requests in trace order, one at a time as
 * the Linux driver does, or -b at a time before one kick: ATTACH, DETACH,
 * MAP and UNMAP from their lines, PROBE from each run of fill_resv_property
 * lines of one endpoint. ATTACH's flags are not traced: an attach is sent
 * with ATTACH_F_BYPASS when the last address space switch QEMU traced for
 * the endpoint before the next request left its IOMMU disabled. QEMU 7.2
 * does not trace statuses: every request is expected to succeed, unless
 * its line ends with status=NAME (or a number), an extension for tests.
 *
 * The trace's own live set (mappings added by MAP lines, removed by
 * unmap_done lines when the trace has them, else by the UNMAP semantics of
 * the specification, and with their domain) is checked against the device
 * with VHOST_IOMMU_TRANSLATE before every device reset and at the end of
 * the trace: every live mapping, the domain of every endpoint, and the
 * last REMOVED_RING unmapped ranges, which must be gone.
 *
 * The trace is untrusted: lines are at most MAX_LINE bytes, numbers are
 * range-checked, every table is bounded. A line that is not understood is
 * counted and the first few are shown; it is never fatal.
 *
 * Exit status: 0 when every request got the expected status and every
 * check passed, 1 on any mismatch, 2 on an error (usage, the trace cannot
 * be read or decompressed, the device fails).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "vmm.h"

#define MAX_LINE	4096		/* longer lines are not understood */
#define MAX_ENDPOINTS	1024
#define MAX_DOMAINS	65536
#define MAX_MAPPINGS	4194304
#define MAX_BATCH	1024
#define BATCH_BYTES	(2 << 20)	/* guest buffers of the requests in flight */
#define REMOVED_RING	4096		/* unmapped ranges checked at the end */
#define SHOWN_DEFAULT	20		/* mismatches printed */
#define BAD_SHOWN	5		/* lines not understood printed */
#define READ_CHUNK	(128 * 1024)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define S_NONE		256	/* histogram: no status (used length) */
#define NR_STATUS	257

static const char * const status_names[] = {
	"OK", "IOERR", "UNSUPP", "DEVERR", "INVAL", "RANGE", "NOENT",
	"FAULT", "NOMEM",
};

static const char * const req_names[] = {
	[VIRTIO_IOMMU_T_ATTACH] = "ATTACH",
	[VIRTIO_IOMMU_T_DETACH] = "DETACH",
	[VIRTIO_IOMMU_T_MAP] = "MAP",
	[VIRTIO_IOMMU_T_UNMAP] = "UNMAP",
	[VIRTIO_IOMMU_T_PROBE] = "PROBE",
};

/*
 * QEMU 7.2 virtio_iommu events the replay reads nothing from. Other
 * event names are not understood.
 */
static const char * const ignored_events[] = {
	"get_features", "device_status", "system_reset", "init_iommu_mr",
	"get_endpoint", "put_endpoint", "get_domain", "put_domain",
	"translate", "translate_out", "report_fault", "notify_map",
	"notify_unmap", "remap", "set_page_size_mask", "notify_flag_add",
	"notify_flag_del", "freeze_granule",
};

/* The trace reader: gzread is transparent for plain files. */
struct reader {
	void *gz;		/* the gzFile */
	char *chunk;
	int len, pos;
	char line[MAX_LINE + 1];
	unsigned long long lineno;
	bool eof;
};

static int reader_open(struct reader *rd, const char *path)
{
	struct stat st;
	int fd;

	memset(rd, 0, sizeof(*rd));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "replay: %s: %m\n", path);
		return -1;
	}
	if (fstat(fd, &st) || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "replay: %s: not a file\n", path);
		close(fd);
		return -1;
	}
	rd->gz = gzdopen(fd, "rb");
	rd->chunk = malloc(READ_CHUNK);
	if (!rd->gz || !rd->chunk) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		if (rd->gz)
			gzclose(rd->gz);
		else
			close(fd);
		free(rd->chunk);
		return -1;
	}
	gzbuffer(rd->gz, READ_CHUNK);
	return 0;
}

static void reader_close(struct reader *rd)
{
	if (rd->gz)
		gzclose(rd->gz);
	free(rd->chunk);
	rd->gz = NULL;
	rd->chunk = NULL;
}

/* Refills the chunk: 1 with data, 0 at the end, -1 on an error. */
static int reader_fill(struct reader *rd)
{
	const char *msg;
	int err;

	if (rd->eof)
		return 0;
	rd->len = gzread(rd->gz, rd->chunk, READ_CHUNK);
	rd->pos = 0;
	if (rd->len > 0)
		return 1;
	rd->len = 0;
	rd->eof = true;
	msg = gzerror(rd->gz, &err);
	if (err != Z_OK) {
		fprintf(stderr, "replay: reading the trace: %s\n",
			err == Z_ERRNO ? strerror(errno) : msg);
		return -1;
	}
	return 0;
}

/*
 * Next line, NUL-terminated, without its line end: 1, with *bad set when
 * the line was too long or held a NUL byte (its text is then cut); 0 at
 * the end; -1 on an error.
 */
static int reader_next(struct reader *rd, bool *bad)
{
	size_t n = 0;
	bool any = false;
	int ret;

	*bad = false;
	for (;;) {
		char c;

		if (rd->pos >= rd->len) {
			ret = reader_fill(rd);
			if (ret < 0)
				return -1;
			if (!ret) {
				if (!any)
					return 0;
				break;
			}
		}
		any = true;
		c = rd->chunk[rd->pos++];
		if (c == '\n')
			break;
		if (!c)
			*bad = true;
		if (n < MAX_LINE)
			rd->line[n++] = c ? c : ' ';
		else
			*bad = true;
	}
	while (n && (rd->line[n - 1] == '\r' || rd->line[n - 1] == ' ' ||
		     rd->line[n - 1] == '\t'))
		n--;
	rd->line[n] = 0;
	rd->lineno++;
	return 1;
}

/* A parsed line */
enum ev_type {
	EV_BAD,			/* not understood */
	EV_BLANK,
	EV_IGNORED,		/* a virtio_iommu event without use here */
	EV_ATTACH,
	EV_DETACH,
	EV_MAP,
	EV_UNMAP,
	EV_RESV,		/* fill_resv_property: part of a PROBE */
	EV_UNMAP_DONE,
	EV_GET_CONFIG,
	EV_SET_CONFIG,
	EV_RESET,
	EV_SWITCH,		/* switch_address_space */
};

struct config {
	uint64_t page_size_mask;
	uint64_t input_start, input_end;
	uint32_t domain_start, domain_end;
	uint32_t probe_size;
	uint8_t bypass;
};

struct event {
	enum ev_type type;
	uint32_t domain, endpoint, flags;
	uint64_t start, end, phys;
	uint8_t subtype;
	bool enabled;		/* EV_SWITCH: IOMMU enabled for the device */
	int expect;		/* expected status */
	struct config cfg;	/* EV_GET_CONFIG; EV_SET_CONFIG: bypass */
	const char *why;	/* EV_BAD: what is wrong */
};

/* Start of the value of "key=" in @args, the key a whole word; or NULL */
static const char *find_key(const char *args, const char *key)
{
	size_t n = strlen(key);
	const char *p = args;

	while ((p = strstr(p, key))) {
		if ((p == args || p[-1] == ' ' || p[-1] == ',' ||
		     p[-1] == '(') && p[n] == '=') {
			p += n + 1;
			while (*p == ' ')
				p++;
			return p;
		}
		p++;
	}
	return NULL;
}

static bool is_sep(char c)
{
	return !c || c == ' ' || c == ',' || c == ')';
}

/* An unsigned number, decimal or 0x-hexadecimal, ending at a separator */
static bool parse_num(const char *s, uint64_t *val)
{
	unsigned int base = 10, digits = 0;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; !is_sep(*s); s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
		digits++;
	}
	*val = v;
	return digits > 0;
}

static bool get_u64(const char *args, const char *key, uint64_t *val)
{
	const char *p = find_key(args, key);

	return p && parse_num(p, val);
}

/* A 32-bit id, which QEMU prints with %d: -1 is 0xffffffff */
static bool get_u32(const char *args, const char *key, uint32_t *val)
{
	const char *p = find_key(args, key);
	uint64_t v;

	if (!p)
		return false;
	if (*p == '-') {
		if (!parse_num(p + 1, &v) || v > 0x80000000ULL)
			return false;
		*val = (uint32_t)-(int64_t)v;
		return true;
	}
	if (!parse_num(p, &v) || v > UINT32_MAX)
		return false;
	*val = v;
	return true;
}

/* The replay's status=NAME|N extension; OK when absent */
static bool get_expect(const char *args, int *expect)
{
	const char *p = find_key(args, "status");
	unsigned int i;
	uint64_t v;

	*expect = VIRTIO_IOMMU_S_OK;
	if (!p)
		return true;
	for (i = 0; i < ARRAY_SIZE(status_names); i++) {
		size_t n = strlen(status_names[i]);

		if (!strncmp(p, status_names[i], n) && is_sep(p[n])) {
			*expect = i;
			return true;
		}
	}
	if (!parse_num(p, &v) || v > 255)
		return false;
	*expect = v;
	return true;
}

/* "Device 00:1f.3": the PCI requester id, the endpoint id QEMU uses */
static bool get_bdf(const char *args, uint32_t *ep)
{
	const char *p = strstr(args, "Device ");
	unsigned long bus, slot, fn;
	char *end;

	if (!p)
		return false;
	p += 7;
	if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
		return false;
	bus = strtoul(p, &end, 16);
	if (end - p > 2 || *end != ':' || bus > 0xff)
		return false;
	p = end + 1;
	if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
		return false;
	slot = strtoul(p, &end, 16);
	if (end - p > 2 || *end != '.' || slot > 0x1f)
		return false;
	p = end + 1;
	if (*p < '0' || *p > '7' || p[1] != ' ')
		return false;
	fn = *p - '0';
	*ep = bus << 8 | slot << 3 | fn;
	return true;
}

static int bad(struct event *ev, const char *why)
{
	ev->type = EV_BAD;
	ev->why = why;
	return EV_BAD;
}

static int parse_config(const char *args, struct event *ev)
{
	struct config *c = &ev->cfg;
	uint64_t v;

	if (!get_u64(args, "page_size_mask", &c->page_size_mask) ||
	    !get_u64(args, "input range start", &c->input_start) ||
	    !get_u64(args, "input range end", &c->input_end) ||
	    !get_u32(args, "domain range start", &c->domain_start) ||
	    !get_u32(args, "domain range end", &c->domain_end) ||
	    !get_u64(args, "probe_size", &v) || v > UINT32_MAX)
		return bad(ev, "get_config: a field missing or invalid");
	c->probe_size = v;
	if (!get_u64(args, "bypass", &v) || v > 255)
		return bad(ev, "get_config: bypass missing or invalid");
	c->bypass = v;
	return ev->type = EV_GET_CONFIG;
}

/*
 * Parses one line: "<tid>@<sec>.<usec>:virtio_iommu_<event> <args>" (the
 * prefix may be absent). Returns the event type, also in ev->type.
 */
static int parse_line(const char *line, struct event *ev)
{
	const char *p = line, *name, *args;
	char evname[32];
	unsigned int i;
	size_t n;
	uint64_t v;

	memset(ev, 0, sizeof(*ev));
	if (!*line)
		return ev->type = EV_BLANK;
	if (*p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != '@')
			return bad(ev, "no trace prefix");
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != ':')
			return bad(ev, "no trace prefix");
	}
	if (strncmp(p, "virtio_iommu_", 13))
		return bad(ev, "not a virtio_iommu event");
	name = p + 13;
	for (n = 0; (name[n] >= 'a' && name[n] <= 'z') || name[n] == '_' ||
	     (name[n] >= '0' && name[n] <= '9'); n++)
		if (n >= sizeof(evname) - 1)
			return bad(ev, "unknown event");
	if (name[n] && name[n] != ' ')
		return bad(ev, "unknown event");
	memcpy(evname, name, n);
	evname[n] = 0;
	args = name + n;

	if (!strcmp(evname, "attach") || !strcmp(evname, "detach")) {
		if (!get_u32(args, "domain", &ev->domain) ||
		    !get_u32(args, "endpoint", &ev->endpoint))
			return bad(ev, "attach/detach: a field missing or invalid");
		ev->type = evname[0] == 'a' ? EV_ATTACH : EV_DETACH;
	} else if (!strcmp(evname, "map")) {
		if (!get_u32(args, "domain", &ev->domain) ||
		    !get_u64(args, "virt_start", &ev->start) ||
		    !get_u64(args, "virt_end", &ev->end) ||
		    !get_u64(args, "phys_start", &ev->phys) ||
		    !get_u32(args, "flags", &ev->flags))
			return bad(ev, "map: a field missing or invalid");
		ev->type = EV_MAP;
	} else if (!strcmp(evname, "unmap") || !strcmp(evname, "unmap_done")) {
		if (!get_u32(args, "domain", &ev->domain) ||
		    !get_u64(args, "virt_start", &ev->start) ||
		    !get_u64(args, "virt_end", &ev->end))
			return bad(ev, "unmap: a field missing or invalid");
		ev->type = evname[5] ? EV_UNMAP_DONE : EV_UNMAP;
	} else if (!strcmp(evname, "fill_resv_property")) {
		if (!get_u32(args, "dev", &ev->endpoint) ||
		    !get_u64(args, "type", &v) || v > 255 ||
		    !get_u64(args, "start", &ev->start) ||
		    !get_u64(args, "end", &ev->end))
			return bad(ev, "fill_resv_property: a field missing or invalid");
		ev->subtype = v;
		ev->type = EV_RESV;
	} else if (!strcmp(evname, "get_config")) {
		return parse_config(args, ev);
	} else if (!strcmp(evname, "set_config")) {
		if (!get_u64(args, "bypass", &v) || v > 255)
			return bad(ev, "set_config: bypass missing or invalid");
		ev->cfg.bypass = v;
		return ev->type = EV_SET_CONFIG;
	} else if (!strcmp(evname, "device_reset")) {
		return ev->type = EV_RESET;
	} else if (!strcmp(evname, "switch_address_space")) {
		if (!get_bdf(args, &ev->endpoint) ||
		    !get_u64(args, "enabled", &v) || v > 1)
			return bad(ev, "switch_address_space: a field missing or invalid");
		ev->enabled = v;
		return ev->type = EV_SWITCH;
	}
	if (ev->type == EV_BAD) {
		for (i = 0; i < ARRAY_SIZE(ignored_events); i++)
			if (!strcmp(evname, ignored_events[i]))
				return ev->type = EV_IGNORED;
		return bad(ev, "unknown event");
	}
	if (ev->type != EV_UNMAP_DONE && !get_expect(args, &ev->expect))
		return bad(ev, "status=: not a status");
	return ev->type;
}

/*
 * A treap keyed by (k1, k2): the endpoints, domains and mappings of the
 * trace's state. The node is the first member of what it holds.
 */
struct tnode {
	struct tnode *l, *r;
	uint64_t k1, k2;
	uint32_t prio;
};

static uint32_t prio_state = 2463534242U;

static uint32_t next_prio(void)
{
	prio_state ^= prio_state << 13;
	prio_state ^= prio_state >> 17;
	prio_state ^= prio_state << 5;
	return prio_state;
}

static bool key_lt(const struct tnode *t, uint64_t k1, uint64_t k2)
{
	return t->k1 < k1 || (t->k1 == k1 && t->k2 < k2);
}

/* Splits @t into the keys below (k1, k2), in *a, and the others, in *b. */
static void tsplit(struct tnode *t, uint64_t k1, uint64_t k2,
		   struct tnode **a, struct tnode **b)
{
	if (!t) {
		*a = NULL;
		*b = NULL;
	} else if (key_lt(t, k1, k2)) {
		tsplit(t->r, k1, k2, &t->r, b);
		*a = t;
	} else {
		tsplit(t->l, k1, k2, a, &t->l);
		*b = t;
	}
}

/* Every key of @a is below every key of @b. */
static struct tnode *tmerge(struct tnode *a, struct tnode *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = tmerge(a->r, b);
		return a;
	}
	b->l = tmerge(a, b->l);
	return b;
}

/* The key is not in the tree yet. */
static void tinsert(struct tnode **root, struct tnode *n)
{
	struct tnode *a, *b;

	n->l = NULL;
	n->r = NULL;
	n->prio = next_prio();
	tsplit(*root, n->k1, n->k2, &a, &b);
	*root = tmerge(tmerge(a, n), b);
}

/* The smallest node at or above (k1, k2) */
static struct tnode *tfind_ge(struct tnode *t, uint64_t k1, uint64_t k2)
{
	struct tnode *best = NULL;

	while (t) {
		if (key_lt(t, k1, k2)) {
			t = t->r;
		} else {
			best = t;
			t = t->l;
		}
	}
	return best;
}

/* The largest node at or below (k1, k2) */
static struct tnode *tfind_le(struct tnode *t, uint64_t k1, uint64_t k2)
{
	struct tnode *best = NULL;

	while (t) {
		if (t->k1 > k1 || (t->k1 == k1 && t->k2 > k2)) {
			t = t->l;
		} else {
			best = t;
			t = t->r;
		}
	}
	return best;
}

static struct tnode *tfind(struct tnode *t, uint64_t k1, uint64_t k2)
{
	struct tnode *n = tfind_ge(t, k1, k2);

	return n && n->k1 == k1 && n->k2 == k2 ? n : NULL;
}

static struct tnode *tnext(struct tnode *root, const struct tnode *n)
{
	if (n->k2 == UINT64_MAX)
		return tfind_ge(root, n->k1 + 1, 0);
	return tfind_ge(root, n->k1, n->k2 + 1);
}

/* Takes the node with @n's key out of the tree. */
static void terase(struct tnode **root, struct tnode *n)
{
	struct tnode *a, *b, *m, *c;

	tsplit(*root, n->k1, n->k2, &a, &b);
	if (n->k2 == UINT64_MAX)
		tsplit(b, n->k1 + 1, 0, &m, &c);
	else
		tsplit(b, n->k1, n->k2 + 1, &m, &c);
	*root = tmerge(a, c);
}

/* Frees a tree; returns how many nodes it had. */
static unsigned long tfree(struct tnode *t)
{
	unsigned long n;

	if (!t)
		return 0;
	n = 1 + tfree(t->l) + tfree(t->r);
	free(t);
	return n;
}

/* The trace's state */
struct endpoint {
	struct tnode node;	/* k1: endpoint id */
	bool added;		/* the device has it */
	bool attached;
	uint32_t domain;
	unsigned int nresv;
	struct vhost_iommu_resv_region resv[VHOST_IOMMU_MAX_RESV];
};

struct domain {
	struct tnode node;	/* k1: domain id */
	bool bypass;
	unsigned int neps;
	bool has_rep;		/* rep: an endpoint to translate through */
	uint32_t rep;
};

struct mapping {
	struct tnode node;	/* k1: domain id, k2: virt_start */
	uint64_t end, phys;
	uint32_t flags;
};

struct removed {
	uint32_t domain;
	uint64_t start, end;
};

/* A request on its way to the device */
struct request {
	struct event ev;
	unsigned long long lineno;
	int bypass;		/* ATTACH: -1 when the trace does not say */
	unsigned int nresv;	/* PROBE: the regions the trace listed */
	struct vhost_iommu_resv_region resv[VHOST_IOMMU_MAX_RESV];
	struct vmm_req r;
};

struct replay {
	struct vmm v;
	const char *path;
	unsigned int batch, shown_max;
	struct config cfg;
	bool cfg_seen, has_unmap_done;
	uint8_t bypass;			/* the device's configuration */
	struct tnode *eps, *doms, *maps;
	unsigned int neps;
	unsigned long ndoms, nmaps;
	struct removed removed[REMOVED_RING];
	unsigned long long nremoved;
	struct request pending;
	bool has_pending;
	struct request *queue;
	unsigned int nqueue;
	size_t queue_bytes;

	/* Figures */
	unsigned long long lines, lines_req, lines_used, lines_ignored;
	unsigned long long lines_bad, lines_limit;
	unsigned long long requests, by_type[8], status[NR_STATUS];
	unsigned long long mismatches, setup_errors, live_mismatches;
	unsigned long long inconsistent, resets, config_ignored;
	unsigned long long attach_bypass, attach_unknown;
	unsigned long long chk_maps, chk_unmapped, chk_eps, chk_stats;
	unsigned long long shown;
	uint64_t check_ns;
};

static struct replay rp;

static void fatal(const char *what)
{
	fprintf(stderr, "replay: %s: %s\n", what, vt_errmsg);
	exit(2);
}

/* One line of a mismatch, the first shown_max of them */
static void report(const char *fmt, ...)
{
	va_list ap;

	if (rp.shown++ >= rp.shown_max)
		return;
	fputs("mismatch: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *status_name(int s, char *buf, size_t len)
{
	if (s >= 0 && s < (int)ARRAY_SIZE(status_names))
		return status_names[s];
	if (s == S_NONE)
		return "none";
	snprintf(buf, len, "%d", s);
	return buf;
}

static struct endpoint *ep_find(uint32_t id)
{
	return (struct endpoint *)tfind(rp.eps, id, 0);
}

static struct endpoint *ep_get(uint32_t id)
{
	struct endpoint *ep = ep_find(id);

	if (ep)
		return ep;
	if (rp.neps >= MAX_ENDPOINTS)
		return NULL;
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		fprintf(stderr, "replay: out of memory\n");
		exit(2);
	}
	ep->node.k1 = id;
	tinsert(&rp.eps, &ep->node);
	rp.neps++;
	return ep;
}

static bool resv_same(const struct vhost_iommu_resv_region *r,
		      const struct event *ev)
{
	return r->start == ev->start && r->end == ev->end &&
	       r->subtype == ev->subtype;
}

/* Pass 1: a reserved region of an endpoint, once */
static void scan_resv(struct endpoint *ep, const struct event *ev)
{
	unsigned int i;

	for (i = 0; i < ep->nresv; i++) {
		if (resv_same(&ep->resv[i], ev))
			return;
		/* The device refuses overlapping regions. */
		if (ev->start <= ep->resv[i].end && ep->resv[i].start <= ev->end)
			goto drop;
	}
	if (ep->nresv >= VHOST_IOMMU_MAX_RESV || ev->start > ev->end ||
	    ev->subtype > VHOST_IOMMU_RESV_MSI)
		goto drop;
	ep->resv[ep->nresv].start = ev->start;
	ep->resv[ep->nresv].end = ev->end;
	ep->resv[ep->nresv].subtype = ev->subtype;
	ep->nresv++;
	return;
drop:
	rp.lines_limit++;
}

static void scan(void)
{
	struct reader rd;
	struct event ev;
	struct endpoint *ep;
	bool badline;
	int ret;

	if (reader_open(&rd, rp.path))
		exit(2);
	while ((ret = reader_next(&rd, &badline)) > 0) {
		if (badline)
			continue;
		switch (parse_line(rd.line, &ev)) {
		case EV_ATTACH:
		case EV_DETACH:
		case EV_SWITCH:
			ep_get(ev.endpoint);
			break;
		case EV_RESV:
			ep = ep_get(ev.endpoint);
			if (ep)
				scan_resv(ep, &ev);
			break;
		case EV_GET_CONFIG:
			if (!rp.cfg_seen)
				rp.cfg = ev.cfg;
			rp.cfg_seen = true;
			break;
		case EV_UNMAP_DONE:
			rp.has_unmap_done = true;
			break;
		default:
			break;
		}
	}
	reader_close(&rd);
	if (ret < 0)
		exit(2);
}

/* The device: configuration, endpoints, queues */
static void device_setup(void)
{
	struct vmm_opts o = { 0 };
	struct vhost_iommu_config c;
	struct tnode *n;
	int ret;

	o.num[0] = VMM_DEFAULT_NUM;
	while (o.num[0] < 2 * rp.batch)
		o.num[0] *= 2;
	if (vmm_init(&rp.v, &o))
		fatal("device set-up");
	if (rp.cfg_seen) {
		c = (struct vhost_iommu_config){
			.page_size_mask = rp.cfg.page_size_mask,
			.input_start = rp.cfg.input_start,
			.input_end = rp.cfg.input_end,
			.domain_start = rp.cfg.domain_start,
			.domain_end = rp.cfg.domain_end,
			.probe_size = rp.cfg.probe_size,
			.bypass = rp.cfg.bypass,
		};
		ret = vmm_set_config(rp.v.fd, &c);
		if (ret) {
			printf("setup: the device refuses the trace's configuration: %s\n",
			       strerror(-ret));
			rp.setup_errors++;
		}
	}
	if (vmm_get_config(rp.v.fd, &c))
		fatal("VHOST_IOMMU_GET_CONFIG");
	rp.v.probe_size = c.probe_size;
	rp.bypass = c.bypass;
	printf("config: page_size_mask=%#llx input=[%#llx, %#llx] ",
	       (unsigned long long)c.page_size_mask,
	       (unsigned long long)c.input_start,
	       (unsigned long long)c.input_end);
	printf("domains=[%u, %u] probe_size=%u bypass=%u%s\n", c.domain_start,
	       c.domain_end, c.probe_size, c.bypass,
	       rp.cfg_seen ? "" : " (device defaults)");

	for (n = tfind_ge(rp.eps, 0, 0); n; n = tnext(rp.eps, n)) {
		struct endpoint *ep = (struct endpoint *)n;

		ret = vmm_add_endpoint(rp.v.fd, n->k1, ep->resv, ep->nresv);
		if (ret) {
			printf("setup: endpoint %llu (%u reserved regions): %s\n",
			       (unsigned long long)n->k1, ep->nresv,
			       strerror(-ret));
			rp.setup_errors++;
			continue;
		}
		ep->added = true;
	}
}

/* Device reset (VHOST_RESET_OWNER), as QEMU's: domains go, endpoints stay */
static void device_reset(void)
{
	struct vmm *v = &rp.v;
	unsigned int q;

	if (ioctl(v->fd, VHOST_RESET_OWNER, NULL) ||
	    ioctl(v->fd, VHOST_SET_OWNER, NULL) ||
	    ioctl(v->fd, VHOST_SET_FEATURES, &v->features)) {
		snprintf(vt_errmsg, sizeof(vt_errmsg), "%m");
		fatal("device reset");
	}
	if (vmm_set_mem_table(v))
		fatal("device reset");
	for (q = 0; q < VHOST_IOMMU_VQ_MAX; q++)
		if (vmm_vq_setup(v, q, v->vq[q].num))
			fatal("device reset");
}

/* The model: what QEMU's state was after each successful request */
static struct domain *dom_find(uint32_t id)
{
	return (struct domain *)tfind(rp.doms, id, 0);
}

static void removed_add(uint32_t domain, uint64_t start, uint64_t end)
{
	struct removed *r = &rp.removed[rp.nremoved++ % REMOVED_RING];

	r->domain = domain;
	r->start = start;
	r->end = end;
}

static void map_remove(struct mapping *m, bool record)
{
	if (record)
		removed_add(m->node.k1, m->node.k2, m->end);
	terase(&rp.maps, &m->node);
	free(m);
	rp.nmaps--;
}

static void dom_kill(struct domain *d)
{
	uint64_t id = d->node.k1;
	struct tnode *a, *b, *m, *c;

	tsplit(rp.maps, id, 0, &a, &b);
	tsplit(b, id + 1, 0, &m, &c);
	rp.maps = tmerge(a, c);
	rp.nmaps -= tfree(m);
	terase(&rp.doms, &d->node);
	free(d);
	rp.ndoms--;
}

static void ep_detach(struct endpoint *ep)
{
	struct domain *d = dom_find(ep->domain);

	ep->attached = false;
	if (d && !--d->neps)
		dom_kill(d);
}

static void model_reset(void)
{
	struct tnode *n;

	for (n = tfind_ge(rp.eps, 0, 0); n; n = tnext(rp.eps, n))
		((struct endpoint *)n)->attached = false;
	tfree(rp.maps);
	tfree(rp.doms);
	rp.maps = NULL;
	rp.doms = NULL;
	rp.nmaps = 0;
	rp.ndoms = 0;
	rp.nremoved = 0;
}

/* The mapping holding @iova in @domain, or NULL */
static struct mapping *map_at(uint32_t domain, uint64_t iova)
{
	struct mapping *m;

	m = (struct mapping *)tfind_le(rp.maps, domain, iova);
	if (m && m->node.k1 == domain && m->end >= iova)
		return m;
	return NULL;
}

/* Applies a request the trace says succeeded; false: it cannot have. */
static bool model_apply(struct request *q)
{
	struct event *ev = &q->ev;
	struct endpoint *ep;
	struct domain *d;
	struct mapping *m;
	struct tnode *n;

	switch (ev->type) {
	case EV_ATTACH:
		ep = ep_find(ev->endpoint);
		if (!ep)
			return false;
		d = dom_find(ev->domain);
		if (d && d->bypass != !!q->bypass)
			return false;
		if (ep->attached && ep->domain == ev->domain)
			return true;
		if (!d && rp.ndoms >= MAX_DOMAINS) {
			rp.lines_limit++;
			return false;
		}
		if (ep->attached)
			ep_detach(ep);
		if (!d) {
			d = calloc(1, sizeof(*d));
			if (!d)
				return false;
			d->node.k1 = ev->domain;
			d->bypass = q->bypass;
			tinsert(&rp.doms, &d->node);
			rp.ndoms++;
		}
		d->neps++;
		ep->attached = true;
		ep->domain = ev->domain;
		return true;
	case EV_DETACH:
		ep = ep_find(ev->endpoint);
		if (!ep || !ep->attached || ep->domain != ev->domain)
			return false;
		ep_detach(ep);
		return true;
	case EV_MAP:
		d = dom_find(ev->domain);
		if (!d || d->bypass || ev->end < ev->start)
			return false;
		n = tfind_le(rp.maps, ev->domain, ev->end);
		if (n && n->k1 == ev->domain &&
		    ((struct mapping *)n)->end >= ev->start)
			return false;
		if (rp.nmaps >= MAX_MAPPINGS) {
			rp.lines_limit++;
			return false;
		}
		m = calloc(1, sizeof(*m));
		if (!m)
			return false;
		m->node.k1 = ev->domain;
		m->node.k2 = ev->start;
		m->end = ev->end;
		m->phys = ev->phys;
		m->flags = ev->flags;
		tinsert(&rp.maps, &m->node);
		rp.nmaps++;
		return true;
	case EV_UNMAP:
		d = dom_find(ev->domain);
		if (!d || d->bypass || ev->end < ev->start)
			return false;
		/* The trace says what QEMU removed: unmap_done lines. */
		if (rp.has_unmap_done)
			return true;
		m = map_at(ev->domain, ev->start);
		if (m && m->node.k2 < ev->start)
			return false;
		m = map_at(ev->domain, ev->end);
		if (m && m->end > ev->end)
			return false;
		while ((n = tfind_ge(rp.maps, ev->domain, ev->start)) &&
		       n->k1 == ev->domain && n->k2 <= ev->end)
			map_remove((struct mapping *)n, true);
		return true;
	default:
		return true;
	}
}

/* unmap_done: QEMU removed exactly this mapping */
static void model_unmap_done(const struct event *ev)
{
	struct mapping *m = (struct mapping *)tfind(rp.maps, ev->domain,
						    ev->start);

	if (!m || m->end != ev->end) {
		rp.inconsistent++;
		return;
	}
	map_remove(m, true);
}

/* Live-set checks through VHOST_IOMMU_TRANSLATE */
static void live_fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	rp.live_mismatches++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report("live set: %s", buf);
}

/* The errors of VHOST_IOMMU_TRANSLATE by name */
static const char *err_name(int err)
{
	switch (err) {
	case 0:
		return "translated";
	case ENOENT:
		return "ENOENT";
	case ENXIO:
		return "ENXIO";
	case EACCES:
		return "EACCES";
	case ENODEV:
		return "ENODEV";
	default:
		return strerror(err);
	}
}

static void check_identity(uint32_t ep, const char *what)
{
	struct vhost_iommu_translate t;
	const uint64_t iova = 0x1000;
	int ret;

	ret = vmm_translate(rp.v.fd, ep, iova, VHOST_IOMMU_ACCESS_READ |
			    VHOST_IOMMU_ACCESS_WRITE, 0, &t);
	if (ret || t.start > iova || t.last < iova ||
	    t.phys + (iova - t.start) != iova)
		live_fail("endpoint %u (%s): translate %#llx: %s, expected identity",
			  ep, what, (unsigned long long)iova,
			  ret ? err_name(-ret) : "not identity");
}

static void check_error(uint32_t ep, uint64_t iova, uint32_t access, int err,
			const char *what)
{
	struct vhost_iommu_translate t;
	int ret;

	ret = vmm_translate(rp.v.fd, ep, iova, access, 0, &t);
	if (ret != -err)
		live_fail("endpoint %u: translate %#llx (%s): %s, expected %s",
			  ep, (unsigned long long)iova, what,
			  err_name(-ret), err_name(err));
}

static void check_mapping(uint32_t ep, const struct mapping *m)
{
	const uint32_t perm = VIRTIO_IOMMU_MAP_F_READ |
			      VIRTIO_IOMMU_MAP_F_WRITE |
			      VIRTIO_IOMMU_MAP_F_MMIO;
	struct vhost_iommu_translate t;
	uint64_t iova[2] = { m->node.k2, m->end };
	char want[96], got[96];
	uint32_t acc = 0;
	unsigned int i;
	int ret;

	rp.chk_maps++;
	if (m->flags & VIRTIO_IOMMU_MAP_F_READ)
		acc |= VHOST_IOMMU_ACCESS_READ;
	if (m->flags & VIRTIO_IOMMU_MAP_F_WRITE)
		acc |= VHOST_IOMMU_ACCESS_WRITE;
	if (!acc) {
		check_error(ep, m->node.k2, VHOST_IOMMU_ACCESS_READ, EACCES,
			    "mapping without permission");
		return;
	}
	for (i = 0; i < 2; i++) {
		ret = vmm_translate(rp.v.fd, ep, iova[i], acc, 0, &t);
		if (ret || t.start != m->node.k2 || t.last != m->end ||
		    t.phys != m->phys || (t.perm & perm) != (m->flags & perm)) {
			snprintf(want, sizeof(want),
				 "[%#llx, %#llx] -> %#llx flags %u",
				 (unsigned long long)m->node.k2,
				 (unsigned long long)m->end,
				 (unsigned long long)m->phys, m->flags);
			snprintf(got, sizeof(got),
				 "[%#llx, %#llx] -> %#llx perm %u",
				 (unsigned long long)t.start,
				 (unsigned long long)t.last,
				 (unsigned long long)t.phys, t.perm);
			live_fail("domain %llu endpoint %u: mapping %s: translate %#llx: %s",
				  (unsigned long long)m->node.k1, ep, want,
				  (unsigned long long)iova[i],
				  ret ? err_name(-ret) : got);
			return;
		}
	}
	if (!(m->flags & VIRTIO_IOMMU_MAP_F_WRITE))
		check_error(ep, m->node.k2, VHOST_IOMMU_ACCESS_WRITE, EACCES,
			    "write through a read-only mapping");
}

static void verify(const char *when)
{
	unsigned long long before = rp.live_mismatches;
	struct vhost_iommu_stats st;
	uint64_t t0 = vt_now_ns();
	unsigned long long i, first;
	struct tnode *n;

	/* An endpoint of each domain to translate through */
	for (n = tfind_ge(rp.doms, 0, 0); n; n = tnext(rp.doms, n))
		((struct domain *)n)->has_rep = false;
	for (n = tfind_ge(rp.eps, 0, 0); n; n = tnext(rp.eps, n)) {
		struct endpoint *ep = (struct endpoint *)n;
		struct domain *d;

		if (!ep->added || !ep->attached)
			continue;
		d = dom_find(ep->domain);
		if (d && !d->has_rep) {
			d->has_rep = true;
			d->rep = n->k1;
		}
	}

	rp.chk_stats++;
	if (vmm_get_stats(rp.v.fd, &st))
		fatal("VHOST_IOMMU_GET_STATS");
	if (st.mappings != rp.nmaps || st.domains != rp.ndoms)
		live_fail("%s: device %llu domains, %llu mappings; trace %lu, %lu",
			  when, (unsigned long long)st.domains,
			  (unsigned long long)st.mappings, rp.ndoms, rp.nmaps);

	/* Every live mapping, through the first endpoint of its domain */
	for (n = tfind_ge(rp.maps, 0, 0); n; n = tnext(rp.maps, n)) {
		struct domain *d = dom_find(n->k1);

		if (d && d->has_rep)
			check_mapping(d->rep, (struct mapping *)n);
	}

	/* Every endpoint reaches its domain, or is blocked or in bypass. */
	for (n = tfind_ge(rp.eps, 0, 0); n; n = tnext(rp.eps, n)) {
		struct endpoint *ep = (struct endpoint *)n;
		struct tnode *m;
		struct domain *d;

		if (!ep->added)
			continue;
		rp.chk_eps++;
		d = ep->attached ? dom_find(ep->domain) : NULL;
		if (!d) {
			if (rp.bypass)
				check_identity(n->k1, "not attached, bypass");
			else
				check_error(n->k1, 0x1000,
					    VHOST_IOMMU_ACCESS_READ, ENXIO,
					    "not attached");
		} else if (d->bypass) {
			check_identity(n->k1, "bypass domain");
		} else {
			m = tfind_ge(rp.maps, ep->domain, 0);
			if (m && m->k1 == ep->domain) {
				if (d->rep != n->k1)
					check_mapping(n->k1,
						      (struct mapping *)m);
			} else {
				check_error(n->k1, 0x1000,
					    VHOST_IOMMU_ACCESS_READ, ENOENT,
					    "empty domain");
			}
		}
	}

	/* The last unmapped ranges are gone, unless mapped again. */
	first = rp.nremoved > REMOVED_RING ? rp.nremoved - REMOVED_RING : 0;
	for (i = first; i < rp.nremoved; i++) {
		const struct removed *r = &rp.removed[i % REMOVED_RING];
		struct domain *d = dom_find(r->domain);

		if (!d || d->bypass || !d->has_rep)
			continue;
		rp.chk_unmapped++;
		if (!map_at(r->domain, r->start))
			check_error(d->rep, r->start, VHOST_IOMMU_ACCESS_READ,
				    ENOENT, "unmapped");
		if (r->end != r->start && !map_at(r->domain, r->end))
			check_error(d->rep, r->end, VHOST_IOMMU_ACCESS_READ,
				    ENOENT, "unmapped");
	}
	printf("check %s: %lu domains, %lu mappings, %llu mismatches\n", when,
	       rp.ndoms, rp.nmaps, rp.live_mismatches - before);
	rp.check_ns += vt_now_ns() - t0;
}

/* Requests */
static void request_prepare(struct request *q)
{
	struct virtio_iommu_req_attach a;
	struct virtio_iommu_req_detach d;
	struct virtio_iommu_req_unmap u;
	struct virtio_iommu_req_probe p;
	struct virtio_iommu_req_map m;
	struct event *ev = &q->ev;

	switch (ev->type) {
	case EV_ATTACH:
		vmm_mk_attach(&a, ev->domain, ev->endpoint,
			      q->bypass > 0 ? VIRTIO_IOMMU_ATTACH_F_BYPASS : 0);
		vmm_req_prepare(&rp.v, &q->r, &a, VMM_ATTACH_LEN, 4);
		break;
	case EV_DETACH:
		vmm_mk_detach(&d, ev->domain, ev->endpoint);
		vmm_req_prepare(&rp.v, &q->r, &d, VMM_DETACH_LEN, 4);
		break;
	case EV_MAP:
		vmm_mk_map(&m, ev->domain, ev->start, ev->end, ev->phys,
			   ev->flags);
		vmm_req_prepare(&rp.v, &q->r, &m, VMM_MAP_LEN, 4);
		break;
	case EV_UNMAP:
		vmm_mk_unmap(&u, ev->domain, ev->start, ev->end);
		vmm_req_prepare(&rp.v, &q->r, &u, VMM_UNMAP_LEN, 4);
		break;
	default:
		vmm_mk_probe(&p, ev->endpoint);
		vmm_req_prepare(&rp.v, &q->r, &p, VMM_PROBE_LEN,
				rp.v.probe_size + 4);
		q->r.tail_off = rp.v.probe_size;
		break;
	}
}

static int req_type(const struct request *q)
{
	switch (q->ev.type) {
	case EV_ATTACH:
		return VIRTIO_IOMMU_T_ATTACH;
	case EV_DETACH:
		return VIRTIO_IOMMU_T_DETACH;
	case EV_MAP:
		return VIRTIO_IOMMU_T_MAP;
	case EV_UNMAP:
		return VIRTIO_IOMMU_T_UNMAP;
	default:
		return VIRTIO_IOMMU_T_PROBE;
	}
}

static void describe(const struct request *q, char *buf, size_t len)
{
	const struct event *ev = &q->ev;

	switch (ev->type) {
	case EV_ATTACH:
		snprintf(buf, len, "ATTACH domain=%u endpoint=%u%s",
			 ev->domain, ev->endpoint,
			 q->bypass > 0 ? " flags=BYPASS" : "");
		break;
	case EV_DETACH:
		snprintf(buf, len, "DETACH domain=%u endpoint=%u", ev->domain,
			 ev->endpoint);
		break;
	case EV_MAP:
		snprintf(buf, len, "MAP domain=%u [%#llx, %#llx] -> %#llx flags=%u",
			 ev->domain, (unsigned long long)ev->start,
			 (unsigned long long)ev->end,
			 (unsigned long long)ev->phys, ev->flags);
		break;
	case EV_UNMAP:
		snprintf(buf, len, "UNMAP domain=%u [%#llx, %#llx]",
			 ev->domain, (unsigned long long)ev->start,
			 (unsigned long long)ev->end);
		break;
	default:
		snprintf(buf, len, "PROBE endpoint=%u (%u regions)",
			 ev->endpoint, q->nresv);
		break;
	}
}

/* PROBE: the RESV_MEM properties the trace listed, then zeroes */
static const char *probe_defect(const struct request *q)
{
	const uint8_t *p = q->r.wr;
	uint32_t off = 0, i;

	for (i = 0; i < q->nresv; i++, off += 24) {
		struct virtio_iommu_probe_resv_mem r;

		if (off + 24 > rp.v.probe_size)
			return "properties past probe_size";
		memcpy(&r, p + off, sizeof(r));
		if (le16toh(r.head.type) != VIRTIO_IOMMU_PROBE_T_RESV_MEM ||
		    le16toh(r.head.length) != 20)
			return "a reserved region missing";
		if (r.subtype != q->resv[i].subtype ||
		    le64toh(r.start) != q->resv[i].start ||
		    le64toh(r.end) != q->resv[i].end || r.reserved[0] ||
		    r.reserved[1] || r.reserved[2])
			return "a reserved region differs";
	}
	for (; off < rp.v.probe_size; off++)
		if (p[off])
			return "more properties than the trace's";
	return NULL;
}

static void request_check(struct request *q)
{
	uint32_t want_len = 4, tail = 0;
	const char *defect = NULL;
	char desc[160], b1[8], b2[8];
	int got;

	if (q->ev.type == EV_RESV) {
		want_len = rp.v.probe_size + 4;
		tail = rp.v.probe_size;
	}
	if (q->r.used_len != want_len) {
		got = S_NONE;
	} else {
		got = q->r.wr[tail];
		if (q->r.wr[tail + 1] || q->r.wr[tail + 2] ||
		    q->r.wr[tail + 3])
			defect = "tail.reserved not zero";
		else if (q->ev.type == EV_RESV && got == VIRTIO_IOMMU_S_OK)
			defect = probe_defect(q);
	}
	rp.status[got]++;
	if (got == q->ev.expect && !defect)
		return;
	rp.mismatches++;
	describe(q, desc, sizeof(desc));
	if (got != q->ev.expect)
		report("line %llu: %s: %s (used length %u), trace %s",
		       q->lineno, desc, status_name(got, b1, sizeof(b1)),
		       q->r.used_len, status_name(q->ev.expect, b2, sizeof(b2)));
	else
		report("line %llu: %s: %s", q->lineno, desc, defect);
}

static void queue_flush(void)
{
	unsigned int i;

	if (!rp.nqueue)
		return;
	for (i = 0; i < rp.nqueue; i++)
		if (vmm_req_post(&rp.v, &rp.queue[i].r))
			fatal("posting a request");
	if (vmm_kick(&rp.v, VHOST_IOMMU_VQ_REQUEST))
		fatal("kick");
	for (i = 0; i < rp.nqueue; i++) {
		if (vmm_req_complete(&rp.v, &rp.queue[i].r))
			fatal("waiting for a request");
		request_check(&rp.queue[i]);
	}
	rp.nqueue = 0;
	rp.queue_bytes = 0;
}

/* Sends the pending request (into the queue with -b). */
static void pending_flush(void)
{
	struct request *q = &rp.pending;
	struct domain *d;
	size_t len;

	if (!rp.has_pending)
		return;
	rp.has_pending = false;
	if (q->ev.type == EV_ATTACH && q->bypass < 0) {
		d = dom_find(q->ev.domain);
		q->bypass = d ? d->bypass : 0;
		rp.attach_unknown++;
	}
	if (q->ev.type == EV_ATTACH && q->bypass)
		rp.attach_bypass++;
	if (q->ev.expect == VIRTIO_IOMMU_S_OK && !model_apply(q))
		rp.inconsistent++;
	rp.requests++;
	rp.by_type[req_type(q)]++;
	/*
	 * The test VMM's buffers wrap around a 4 MiB area: a batch must not
	 * reach its own first buffers again (PROBE buffers can be 64 KiB).
	 */
	len = 128 + (q->ev.type == EV_RESV ? rp.v.probe_size + 68 : 64);
	if (rp.queue_bytes + len > BATCH_BYTES)
		queue_flush();
	rp.queue_bytes += len;
	rp.queue[rp.nqueue] = *q;
	request_prepare(&rp.queue[rp.nqueue]);
	if (++rp.nqueue >= rp.batch)
		queue_flush();
}

static void flush_all(void)
{
	pending_flush();
	queue_flush();
}

static void pending_set(const struct event *ev, unsigned long long lineno)
{
	pending_flush();
	memset(&rp.pending, 0, sizeof(rp.pending));
	rp.pending.ev = *ev;
	rp.pending.lineno = lineno;
	rp.pending.bypass = -1;
	rp.has_pending = true;
}

static void on_resv(const struct event *ev, unsigned long long lineno)
{
	struct request *q = &rp.pending;
	unsigned int i;

	if (rp.has_pending && q->ev.type == EV_RESV &&
	    q->ev.endpoint == ev->endpoint && q->nresv < VHOST_IOMMU_MAX_RESV) {
		for (i = 0; i < q->nresv; i++)
			if (resv_same(&q->resv[i], ev))
				break;
		if (i == q->nresv)
			goto add;
	}
	pending_set(ev, lineno);
add:
	q->resv[q->nresv].start = ev->start;
	q->resv[q->nresv].end = ev->end;
	q->resv[q->nresv].subtype = ev->subtype;
	q->nresv++;
	/* A status= on any of its lines is the PROBE's */
	if (ev->expect != VIRTIO_IOMMU_S_OK)
		q->ev.expect = ev->expect;
}

static void set_bypass(uint8_t bypass)
{
	int ret;

	if (bypass == rp.bypass)
		return;
	flush_all();
	ret = vmm_set_bypass(rp.v.fd, bypass);
	if (ret) {
		rp.setup_errors++;
		report("the device refuses bypass=%u: %s", bypass,
		       strerror(-ret));
		return;
	}
	rp.bypass = bypass;
}

/* Everything but bypass, which may change */
static bool config_same(const struct config *a, const struct config *b)
{
	return a->page_size_mask == b->page_size_mask &&
	       a->input_start == b->input_start &&
	       a->input_end == b->input_end &&
	       a->domain_start == b->domain_start &&
	       a->domain_end == b->domain_end &&
	       a->probe_size == b->probe_size;
}

static void show_bad(const struct reader *rd, const char *why)
{
	char buf[101];
	size_t i;

	if (rp.lines_bad > BAD_SHOWN)
		return;
	for (i = 0; i < sizeof(buf) - 1 && rd->line[i]; i++)
		buf[i] = rd->line[i] >= 0x20 && rd->line[i] < 0x7f ?
			 rd->line[i] : '?';
	buf[i] = 0;
	printf("not understood: line %llu (%s): %s%s\n", rd->lineno, why, buf,
	       rd->line[i] ? "..." : "");
}

static void replay(void)
{
	struct reader rd;
	struct event ev;
	bool badline;
	char when[64];
	int ret;

	if (reader_open(&rd, rp.path))
		exit(2);
	while ((ret = reader_next(&rd, &badline)) > 0) {
		rp.lines++;
		if (badline) {
			rp.lines_bad++;
			show_bad(&rd, "too long or binary");
			continue;
		}
		switch (parse_line(rd.line, &ev)) {
		case EV_BAD:
			rp.lines_bad++;
			show_bad(&rd, ev.why);
			break;
		case EV_BLANK:
		case EV_IGNORED:
			rp.lines_ignored++;
			break;
		case EV_ATTACH:
		case EV_DETACH:
		case EV_MAP:
		case EV_UNMAP:
			rp.lines_req++;
			pending_set(&ev, rd.lineno);
			break;
		case EV_RESV:
			rp.lines_req++;
			on_resv(&ev, rd.lineno);
			break;
		case EV_UNMAP_DONE:
			rp.lines_used++;
			model_unmap_done(&ev);
			break;
		case EV_SWITCH:
			rp.lines_used++;
			if (rp.has_pending && rp.pending.ev.type == EV_ATTACH &&
			    rp.pending.ev.endpoint == ev.endpoint)
				rp.pending.bypass = !ev.enabled;
			break;
		case EV_GET_CONFIG:
			rp.lines_used++;
			if (!config_same(&ev.cfg, &rp.cfg))
				rp.config_ignored++;
			set_bypass(ev.cfg.bypass);
			break;
		case EV_SET_CONFIG:
			rp.lines_used++;
			set_bypass(ev.cfg.bypass);
			break;
		case EV_RESET:
			rp.lines_used++;
			flush_all();
			rp.resets++;
			if (rp.requests) {
				snprintf(when, sizeof(when),
					 "before the reset at line %llu",
					 rd.lineno);
				verify(when);
			}
			device_reset();
			model_reset();
			break;
		}
	}
	reader_close(&rd);
	if (ret < 0)
		exit(2);
	flush_all();
	verify("at the end of the trace");
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: replay [-b batch] [-m shown] TRACE\n"
		"  TRACE  a QEMU virtio_iommu trace log, plain or gzip\n"
		"  -b N   N requests per kick (default 1, at most %u)\n"
		"  -m N   print the first N mismatches (default %u)\n",
		MAX_BATCH, SHOWN_DEFAULT);
	exit(2);
}

static unsigned int parse_opt(const char *s, unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		print_usage();
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long total;
	uint64_t t0, ns;
	unsigned int i;
	char b[8];
	int opt;

	rp.batch = 1;
	rp.shown_max = SHOWN_DEFAULT;
	while ((opt = getopt(argc, argv, "b:m:h")) != -1) {
		switch (opt) {
		case 'b':
			rp.batch = parse_opt(optarg, MAX_BATCH);
			if (!rp.batch)
				print_usage();
			break;
		case 'm':
			rp.shown_max = parse_opt(optarg, 1000000);
			break;
		default:
			print_usage();
		}
	}
	if (optind != argc - 1)
		print_usage();
	rp.path = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	rp.queue = calloc(rp.batch, sizeof(*rp.queue));
	if (!rp.queue) {
		fprintf(stderr, "replay: out of memory\n");
		return 2;
	}

	scan();
	printf("trace: %s\n", rp.path);
	device_setup();
	printf("endpoints: %u; mode: %s", rp.neps,
	       rp.batch > 1 ? "batches of " : "one request at a time");
	if (rp.batch > 1)
		printf("%u requests per kick", rp.batch);
	printf("; live set from %s\n", rp.has_unmap_done ?
	       "unmap_done lines" : "UNMAP semantics");

	t0 = vt_now_ns();
	replay();
	ns = vt_now_ns() - t0 - rp.check_ns;

	printf("lines: %llu (requests %llu, other events used %llu, ", rp.lines,
	       rp.lines_req, rp.lines_used);
	printf("ignored %llu, not understood %llu, over limits %llu)\n",
	       rp.lines_ignored, rp.lines_bad, rp.lines_limit);
	printf("requests replayed: %llu (", rp.requests);
	for (i = 1; i <= VIRTIO_IOMMU_T_PROBE; i++)
		printf("%s%s %llu", i > 1 ? ", " : "", req_names[i],
		       rp.by_type[i]);
	printf(")\nattach flags: %llu bypass, %llu translated (%llu not traced)\n",
	       rp.attach_bypass, rp.by_type[VIRTIO_IOMMU_T_ATTACH] -
	       rp.attach_bypass, rp.attach_unknown);
	printf("status histogram:");
	total = 0;
	for (i = 0; i < NR_STATUS; i++) {
		if (!rp.status[i])
			continue;
		printf(" %s=%llu", status_name(i, b, sizeof(b)), rp.status[i]);
		total += rp.status[i];
	}
	printf("%s\n", total ? "" : " (none)");
	printf("device resets: %llu\n", rp.resets);
	printf("live-set checks: %llu mappings, %llu unmapped ranges, ",
	       rp.chk_maps, rp.chk_unmapped);
	printf("%llu endpoints, %llu stats; %llu mismatches\n", rp.chk_eps,
	       rp.chk_stats, rp.live_mismatches);
	printf("trace inconsistencies: %llu%s\n", rp.inconsistent,
	       rp.config_ignored ? " (configuration changes ignored)" : "");
	total = rp.mismatches + rp.live_mismatches + rp.setup_errors;
	printf("mismatches: %llu (status %llu, live set %llu, setup %llu)\n",
	       total, rp.mismatches, rp.live_mismatches, rp.setup_errors);
	printf("rate: %.0f requests/s (%llu requests in %.3f s)\n",
	       ns ? rp.requests * 1e9 / ns : 0.0, rp.requests, ns / 1e9);

	tfree(rp.maps);
	tfree(rp.doms);
	tfree(rp.eps);
	free(rp.queue);
	vmm_fini(&rp.v);
	return total ? 1 : 0;
}
