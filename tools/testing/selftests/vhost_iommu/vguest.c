// SPDX-License-Identifier: GPL-2.0
/*
 * A guest with a virtio-iommu device on /dev/vhost-iommu and a virtio-net
 * device behind it on the stock /dev/vhost-net, the IOTLB misses served
 * in the kernel. See vguest.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vguest.h"

#define MAP_BATCH	64

/* A failure of vmm.c or vnet.c: their message, with where it happened */
static int fail_vmm(int err, const char *what)
{
	return vt_fail_ctx(err, "%s", what);
}

static int fail_net(int err, unsigned int i, const char *what)
{
	return vt_fail_ctx(err, "net %u: %s", i, what);
}

/* A request's outcome: 0, a positive status, or a negative errno */
static int req_result(int ret, const char *what, uint64_t iova, uint64_t size)
{
	if (ret < 0)
		return vt_fail_ctx(ret, "%s %#llx+%#llx", what,
				   (unsigned long long)iova,
				   (unsigned long long)size);
	if (ret)
		return vt_fail(ret, "%s %#llx+%#llx: status %d", what,
			    (unsigned long long)iova,
			    (unsigned long long)size, ret);
	return 0;
}

/* Whether net @i's endpoint is the same as an earlier net's */
static bool ep_seen(struct vguest *g, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++)
		if (g->ep[j] == g->ep[i])
			return true;
	return false;
}

/* The device IOTLB's end of VGUEST_ATTACH_VMM: the miss eventfd */
static int setup_vmm_domain(struct vguest *g)
{
	struct vhost_iommu_iotlb_notify n = { .size = sizeof(n) };

	g->miss_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->miss_efd < 0)
		return vt_fail(-errno, "eventfd: %m");
	n.fd = g->miss_efd;
	if (ioctl(g->iommu.fd, VHOST_IOMMU_IOTLB_SET_NOTIFY, &n))
		return vt_fail(-errno, "IOTLB_SET_NOTIFY: %m");
	return 0;
}

static int vmm_domain_attach(struct vguest *g, uint32_t ep)
{
	struct vhost_iommu_iotlb_attach a = {
		.size = sizeof(a), .endpoint = ep, .domain = g->domain,
	};

	if (ioctl(g->iommu.fd, VHOST_IOMMU_IOTLB_ATTACH, &a))
		return vt_fail(-errno, "IOTLB_ATTACH %u: %m", ep);
	return 0;
}

static int setup_endpoints(struct vguest *g)
{
	uint32_t flags = 0;
	unsigned int i;
	int ret;

	if (g->opts.attach == VGUEST_ATTACH_VMM) {
		g->domain = VGUEST_VMM_DOMAIN;
		ret = setup_vmm_domain(g);
		if (ret)
			return ret;
	}
	for (i = 0; i < g->nnet; i++) {
		if (ep_seen(g, i))
			continue;
		ret = vmm_add_endpoint(g->iommu.fd, g->ep[i], NULL, 0);
		if (ret)
			return vt_fail(ret, "ADD_ENDPOINT %u: %s", g->ep[i],
				    strerror(-ret));
		if (g->opts.attach == VGUEST_NO_ATTACH)
			continue;
		if (g->opts.attach == VGUEST_ATTACH_VMM) {
			ret = vmm_domain_attach(g, g->ep[i]);
			if (ret)
				return ret;
			continue;
		}
		if (g->opts.attach == VGUEST_ATTACH_BYPASS)
			flags = VIRTIO_IOMMU_ATTACH_F_BYPASS;
		ret = vmm_attach(&g->iommu, g->domain, g->ep[i], flags);
		if (ret)
			return req_result(ret, "ATTACH", g->ep[i], 0);
	}
	return 0;
}

int vguest_init(struct vguest *g, const struct vguest_opts *o)
{
	struct vmm_opts mo;
	unsigned int i;
	int ret;

	memset(g, 0, sizeof(*g));
	g->miss_efd = -1;
	g->server.stop = -1;
	if (o)
		g->opts = *o;
	g->nnet = g->opts.nnet ? g->opts.nnet : 1;
	g->domain = VGUEST_DOMAIN;
	if (!g->opts.map_flags)
		g->opts.map_flags = VGUEST_RW;
	mo = g->opts.vmm;
	if (g->nnet > VGUEST_MAX_NET || mo.nextra + g->nnet > VMM_MAX_EXTRA)
		return vt_fail(-EINVAL, "%u net devices", g->nnet);

	for (i = 0; i < g->nnet; i++) {
		struct vnet_opts no = {
			.iommu = true,
			.iotlb_v1 = g->opts.iotlb_v1,
			.worker = g->opts.worker,
			.mode = g->opts.mode,
			.no_backend = true,
			.num = g->opts.num,
			.gpa_base = VGUEST_NET_GPA(i),
			.scatter_base = VNET_SCATTER_BASE +
					i * VNET_SCATTER_SPAN,
		};

		g->ep[i] = g->opts.ep_per_net ? VGUEST_EP + i : VGUEST_EP;
		g->ninit = i + 1;
		ret = vnet_init(&g->net[i], &no);
		if (ret)
			return fail_net(ret, i, "vnet_init");
		vnet_mem_region(&g->net[i], &mo.extra[mo.nextra++]);
	}

	g->iommu_init = true;
	ret = vmm_init(&g->iommu, &mo);
	if (ret)
		return fail_vmm(ret, "vmm_init");
	if (!mo.no_rings && !mo.no_event_ring) {
		ret = vmm_event_post(&g->iommu, VGUEST_EVENTS,
				     sizeof(struct virtio_iommu_fault));
		if (ret)
			return fail_vmm(ret, "event buffers");
	}
	ret = setup_endpoints(g);
	if (ret)
		return ret;
	if (g->opts.attach != VGUEST_ATTACH ||
	    g->opts.mode == VNET_IOVA_MANUAL)
		return 0;
	for (i = 0; i < g->nnet; i++) {
		ret = vguest_map_table(g, i, g->opts.map_flags);
		if (ret)
			return ret;
	}
	return 0;
}

int vguest_bind(struct vguest *g, unsigned int i)
{
	int ret = vmm_bind_net(g->iommu.fd, g->ep[i], g->net[i].fd);

	if (ret)
		return vt_fail(ret, "net %u: VHOST_IOMMU_BIND_NET: %s", i,
			    strerror(-ret));
	return 0;
}

int vguest_unbind(struct vguest *g, unsigned int i)
{
	int ret = vmm_unbind_net(g->iommu.fd, g->ep[i], g->net[i].fd);

	if (ret)
		return vt_fail(ret, "net %u: VHOST_IOMMU_UNBIND_NET: %s", i,
			    strerror(-ret));
	return 0;
}

int vguest_set_backend(struct vguest *g, unsigned int i, int timeout_ms)
{
	struct vnet *v = &g->net[i];
	unsigned int q;
	int ret;

	for (q = 0; q < VNET_NQ; q++) {
		ret = vnet_set_backend(v, q, v->tap, timeout_ms);
		if (ret)
			return fail_net(ret, i, "SET_BACKEND");
	}
	return 0;
}

int vguest_start(struct vguest *g)
{
	unsigned int i;
	int ret;

	for (i = 0; i < g->nnet; i++) {
		ret = vnet_start(&g->net[i]);
		if (ret)
			return fail_net(ret, i, "rings");
		if (!g->opts.no_bind) {
			ret = vguest_bind(g, i);
			if (ret)
				return ret;
		}
	}
	if (g->opts.no_backend)
		return 0;
	for (i = 0; i < g->nnet; i++) {
		ret = vguest_set_backend(g, i, VGUEST_TIMEOUT_MS);
		if (ret)
			return ret;
	}
	return 0;
}

void vguest_fini(struct vguest *g)
{
	unsigned int i;

	vguest_iotlb_serve_stop(g);
	if (g->miss_efd >= 0)
		close(g->miss_efd);
	g->miss_efd = -1;
	if (g->iommu_init)
		vmm_fini(&g->iommu);
	g->iommu_init = false;
	for (i = 0; i < g->ninit; i++)
		vnet_fini(&g->net[i]);
	g->ninit = 0;
}

/* Adds the part of [iova, iova + size) -> gpa in net @i's window */
static int table_add(struct vguest *g, unsigned int i, uint64_t iova,
		     uint64_t gpa, uint64_t size)
{
	struct vnet *v = &g->net[i];
	uint64_t lo = gpa > v->gpa_base ? gpa : v->gpa_base;
	uint64_t hi = gpa + size < v->gpa_base + VNET_MEM_SIZE ?
		      gpa + size : v->gpa_base + VNET_MEM_SIZE;
	uint64_t have;
	int ret;

	if (lo >= hi)
		return 0;
	iova += lo - gpa;
	if (!vnet_iova_to_gpa(v, iova, &have) && have == lo)
		return 0;
	ret = vnet_map_add(v, iova, lo, hi - lo);
	return ret ? fail_net(ret, i, "IOVA table") : 0;
}

int vguest_map(struct vguest *g, uint64_t iova, uint64_t gpa, uint64_t size,
	       uint32_t flags)
{
	unsigned int i;
	int ret;

	ret = vmm_map(&g->iommu, g->domain, iova, iova + size - 1, gpa, flags);
	ret = req_result(ret, "MAP", iova, size);
	for (i = 0; i < g->ninit && !ret; i++)
		ret = table_add(g, i, iova, gpa, size);
	return ret;
}

int vguest_map_table(struct vguest *g, unsigned int i, uint32_t flags)
{
	struct virtio_iommu_req_map m;
	struct vnet *v = &g->net[i];
	struct vmm_req *r;
	unsigned int k, j, n;
	int ret = 0;

	r = calloc(MAP_BATCH, sizeof(*r));
	if (!r)
		return vt_fail(-ENOMEM, "calloc");
	for (k = 0; k < v->nmaps && !ret; k += n) {
		n = v->nmaps - k < MAP_BATCH ? v->nmaps - k : MAP_BATCH;
		for (j = 0; j < n; j++) {
			const struct vnet_map *e = &v->map[k + j];

			vmm_mk_map(&m, g->domain, e->iova,
				   e->iova + e->size - 1, e->gpa, flags);
			vmm_req_prepare(&g->iommu, &r[j], &m, VMM_MAP_LEN, 4);
		}
		ret = vmm_batch(&g->iommu, r, n);
		if (ret) {
			ret = fail_vmm(ret, "MAP batch");
			break;
		}
		for (j = 0; j < n && !ret; j++)
			if (r[j].used_len != 4 || r[j].status)
				ret = req_result(r[j].used_len != 4 ? -EPROTO :
						 r[j].status, "MAP",
						 v->map[k + j].iova,
						 v->map[k + j].size);
	}
	free(r);
	return ret;
}

int vguest_unmap(struct vguest *g, uint64_t iova, uint64_t size)
{
	return req_result(vmm_unmap(&g->iommu, g->domain, iova,
				    iova + size - 1), "UNMAP", iova, size);
}

static int iotlb_batch(struct vguest *g, unsigned long req,
		       const struct vhost_iommu_iotlb_entry *e)
{
	struct vhost_iommu_iotlb_batch b = {
		.size = sizeof(b), .domain = g->domain, .nr = 1,
		.entries = (uintptr_t)e,
	};

	if (ioctl(g->iommu.fd, req, &b))
		return vt_fail(-errno, "%s %#llx+%#llx: %m",
			    req == VHOST_IOMMU_IOTLB_UPDATE ? "IOTLB_UPDATE" :
			    "IOTLB_INVALIDATE", (unsigned long long)e->iova,
			    (unsigned long long)e->size);
	return 0;
}

int vguest_iotlb_update(struct vguest *g, uint64_t iova, uint64_t size,
			uint64_t gpa, uint32_t perm)
{
	struct vhost_iommu_iotlb_entry e = {
		.iova = iova, .size = size, .gpa = gpa, .perm = perm,
	};

	return iotlb_batch(g, VHOST_IOMMU_IOTLB_UPDATE, &e);
}

int vguest_iotlb_invalidate(struct vguest *g, uint64_t iova, uint64_t size)
{
	struct vhost_iommu_iotlb_entry e = { .iova = iova, .size = size };

	return iotlb_batch(g, VHOST_IOMMU_IOTLB_INVALIDATE, &e);
}

int vguest_iotlb_fetch(struct vguest *g, struct vhost_iommu_iotlb_miss *m,
		       unsigned int n, int timeout_ms)
{
	struct pollfd p = { .fd = g->miss_efd, .events = POLLIN };
	uint64_t count;
	ssize_t ret;

	for (;;) {
		ret = read(g->iommu.fd, m, n * sizeof(*m));
		if (ret > 0 && (ret % sizeof(*m) || m->size != sizeof(*m)))
			return vt_fail(-EPROTO, "miss records of %u bytes",
				    m->size);
		if (ret > 0)
			return ret / sizeof(*m);
		if (errno != EAGAIN)
			return vt_fail(-errno, "read misses: %m");
		if (poll(&p, 1, timeout_ms) != 1)
			return vt_fail(-ETIMEDOUT, "no miss in %d ms", timeout_ms);
		if (read(g->miss_efd, &count, sizeof(count)) != sizeof(count))
			return vt_fail(-errno, "miss eventfd: %m");
	}
}

/* The GPA of @iova in the IOVA table of a net device */
static int table_gpa(struct vguest *g, uint64_t iova, uint64_t *gpa)
{
	unsigned int i;

	for (i = 0; i < g->nnet; i++)
		if (!vnet_iova_to_gpa(&g->net[i], iova, gpa))
			return 0;
	return -ENOENT;
}

/* Answers one miss record with its page, read-write. */
static void serve_record(struct vguest *g,
			 const struct vhost_iommu_iotlb_miss *m)
{
	uint64_t page = m->iova & ~(VNET_PAGE - 1), gpa;
	int ret;

	g->server.records++;
	ret = table_gpa(g, page, &gpa);
	if (!ret)
		ret = vguest_iotlb_update(g, page, VNET_PAGE, gpa,
					  VHOST_IOMMU_ACCESS_READ |
					  VHOST_IOMMU_ACCESS_WRITE);
	if (ret)
		g->server.error = ret;
	else
		g->server.updates++;
}

/* Answers every miss record, until told to stop. */
static void *serve_main(void *arg)
{
	struct vguest *g = arg;
	struct vhost_iommu_iotlb_miss m[16];
	struct pollfd p[2] = {
		{ .fd = g->miss_efd, .events = POLLIN },
		{ .fd = g->server.stop, .events = POLLIN },
	};
	uint64_t count;
	ssize_t n;
	int i;

	for (;;) {
		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			return NULL;
		if (read(g->miss_efd, &count, sizeof(count)) != sizeof(count))
			continue;
		while ((n = read(g->iommu.fd, m, sizeof(m))) > 0)
			for (i = 0; i < n / (int)sizeof(m[0]); i++)
				serve_record(g, &m[i]);
	}
}

int vguest_iotlb_serve(struct vguest *g)
{
	struct vguest_server *s = &g->server;
	int ret;

	if (s->running)
		return 0;
	s->records = 0;
	s->updates = 0;
	s->error = 0;
	if (s->stop < 0)
		s->stop = eventfd(0, EFD_CLOEXEC);
	if (s->stop < 0)
		return vt_fail(-errno, "eventfd: %m");
	ret = pthread_create(&s->thread, NULL, serve_main, g);
	if (ret)
		return vt_fail(-ret, "pthread_create: %s", strerror(ret));
	s->running = true;
	return 0;
}

void vguest_iotlb_serve_stop(struct vguest *g)
{
	struct vguest_server *s = &g->server;
	uint64_t one = 1;

	if (s->running && write(s->stop, &one, sizeof(one)) == sizeof(one))
		pthread_join(s->thread, NULL);
	s->running = false;
	if (s->stop >= 0)
		close(s->stop);
	s->stop = -1;
}

int vguest_stats(struct vguest *g, struct vhost_iommu_stats *s)
{
	int ret = vmm_get_stats(g->iommu.fd, s);

	return ret ? vt_fail(ret, "GET_STATS: %s", strerror(-ret)) : 0;
}

int vguest_settle(struct vguest *g, int timeout_ms)
{
	struct vhost_iommu_config c;
	unsigned int i, waited = 0;
	struct pollfd p;
	int ret;

	for (i = 0; i < g->ninit; i++) {
		p.fd = g->net[i].fd;
		p.events = POLLIN;
		if (p.fd < 0)
			continue;
		for (;;) {
			ret = poll(&p, 1, 0);
			if (ret < 0)
				return vt_fail(-errno, "poll vhost-net: %m");
			if (!ret || !(p.revents & POLLIN))
				break;
			if (waited >= timeout_ms)
				return vt_fail(-ETIMEDOUT,
					    "net %u: a miss unread for %d ms",
					    i, timeout_ms);
			usleep(1000);
			waited++;
		}
	}
	/*
	 * The kernel reads, counts and answers a miss under the lock that
	 * GET_CONFIG takes: once it returns, the last one read is counted.
	 */
	ret = vmm_get_config(g->iommu.fd, &c);
	return ret ? vt_fail(ret, "GET_CONFIG: %s", strerror(-ret)) : 0;
}

int vguest_fault(struct vguest *g, struct virtio_iommu_fault *f,
		 int timeout_ms)
{
	uint32_t len;
	int ret;

	ret = vmm_event_read(&g->iommu, f, &len, timeout_ms);
	if (ret == -EAGAIN)
		return vt_fail(ret, "no fault report within %d ms", timeout_ms);
	if (ret)
		return fail_vmm(ret, "event queue");
	ret = vmm_event_post(&g->iommu, 1, sizeof(*f));
	if (ret)
		return fail_vmm(ret, "event buffer");
	if (len != sizeof(*f))
		return vt_fail(-EPROTO, "fault report of %u bytes", len);
	return 0;
}

/* TX */

int vguest_tx_post(struct vguest *g, unsigned int i, unsigned int id,
		   uint32_t seq)
{
	struct vnet *v = &g->net[i];
	int ret;

	ret = vnet_tx_post(v, id, seq, vnet_frame_len(seq));
	if (!ret)
		ret = vnet_kick(v, VNET_TXQ);
	return ret ? fail_net(ret, i, "TX post") : 0;
}

/* The next used entry of queue @q of net @i, which must be buffer @id */
static int wait_used_id(struct vguest *g, unsigned int i, unsigned int q,
			unsigned int id, uint32_t *len, int timeout_ms)
{
	const char *name = q == VNET_TXQ ? "TX" : "RX";
	uint32_t uid;
	int ret;

	ret = vnet_wait_used(&g->net[i], q, &uid, len, timeout_ms);
	if (ret)
		return vt_fail_ctx(ret, "net %u: %s used", i, name);
	if (uid != id)
		return vt_fail(-EPROTO, "net %u: %s used id %u, expected %u", i,
			    name, uid, id);
	return 0;
}

int vguest_tx_complete(struct vguest *g, unsigned int i, unsigned int id,
		       uint32_t seq, int timeout_ms)
{
	struct vnet *v = &g->net[i];
	uint32_t len;
	int ret;

	ret = wait_used_id(g, i, VNET_TXQ, id, &len, timeout_ms);
	if (ret)
		return ret;
	ret = vnet_capture_expect(v, seq, vnet_frame_len(seq), timeout_ms);
	return ret ? fail_net(ret, i, "TX capture") : 0;
}

int vguest_tx(struct vguest *g, unsigned int i, unsigned int id, uint32_t seq,
	      int timeout_ms)
{
	int ret = vguest_tx_post(g, i, id, seq);

	return ret ? ret : vguest_tx_complete(g, i, id, seq, timeout_ms);
}

/* RX */

int vguest_rx_post(struct vguest *g, unsigned int i, unsigned int id,
		   uint32_t seq)
{
	struct vnet *v = &g->net[i];
	int ret;

	ret = vnet_rx_post(v, id);
	if (!ret)
		ret = vnet_kick(v, VNET_RXQ);
	if (!ret)
		ret = vnet_rx_inject(v, seq, vnet_frame_len(seq));
	return ret ? fail_net(ret, i, "RX post") : 0;
}

int vguest_rx_complete(struct vguest *g, unsigned int i, unsigned int id,
		       uint32_t seq, int timeout_ms)
{
	struct vnet *v = &g->net[i];
	uint32_t len;
	int ret;

	ret = wait_used_id(g, i, VNET_RXQ, id, &len, timeout_ms);
	if (ret)
		return ret;
	ret = vnet_rx_check(v, id, len, seq, vnet_frame_len(seq));
	return ret ? fail_net(ret, i, "RX check") : 0;
}

int vguest_rx(struct vguest *g, unsigned int i, unsigned int id, uint32_t seq,
	      int timeout_ms)
{
	int ret = vguest_rx_post(g, i, id, seq);

	return ret ? ret : vguest_rx_complete(g, i, id, seq, timeout_ms);
}
