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
#include <unistd.h>

#include "vguest.h"

char vguest_errmsg[512];

#define MAP_BATCH	64

static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vguest_errmsg, sizeof(vguest_errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* A failure of vmm.c or vnet.c: their message, with where it happened */
static int fail_vmm(int err, const char *what)
{
	return fail(err, "%s: %s", what, vmm_errmsg);
}

static int fail_net(int err, unsigned int i, const char *what)
{
	return fail(err, "net %u: %s: %s", i, what, vnet_errmsg);
}

/* A request's outcome: 0, a positive status, or a negative errno */
static int req_result(int ret, const char *what, uint64_t iova, uint64_t size)
{
	if (ret < 0)
		return fail(ret, "%s %#llx+%#llx: %s", what,
			    (unsigned long long)iova,
			    (unsigned long long)size, vmm_errmsg);
	if (ret)
		return fail(ret, "%s %#llx+%#llx: status %d", what,
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

static int setup_endpoints(struct vguest *g)
{
	uint32_t flags = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < g->nnet; i++) {
		if (ep_seen(g, i))
			continue;
		ret = vmm_add_endpoint(g->iommu.fd, g->ep[i], NULL, 0);
		if (ret)
			return fail(ret, "ADD_ENDPOINT %u: %s", g->ep[i],
				    strerror(-ret));
		if (g->opts.attach == VGUEST_NO_ATTACH)
			continue;
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
	if (o)
		g->opts = *o;
	g->nnet = g->opts.nnet ? g->opts.nnet : 1;
	g->domain = VGUEST_DOMAIN;
	if (!g->opts.map_flags)
		g->opts.map_flags = VGUEST_RW;
	mo = g->opts.vmm;
	if (g->nnet > VGUEST_MAX_NET || mo.nextra + g->nnet > VMM_MAX_EXTRA)
		return fail(-EINVAL, "%u net devices", g->nnet);

	for (i = 0; i < g->nnet; i++) {
		struct vnet_opts no = {
			.iommu = true,
			.iotlb_v1 = g->opts.iotlb_v1,
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
		return fail(ret, "net %u: VHOST_IOMMU_BIND_NET: %s", i,
			    strerror(-ret));
	return 0;
}

int vguest_unbind(struct vguest *g, unsigned int i)
{
	int ret = vmm_unbind_net(g->iommu.fd, g->ep[i], g->net[i].fd);

	if (ret)
		return fail(ret, "net %u: VHOST_IOMMU_UNBIND_NET: %s", i,
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
		return fail(-ENOMEM, "calloc");
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

int vguest_stats(struct vguest *g, struct vhost_iommu_stats *s)
{
	int ret = vmm_get_stats(g->iommu.fd, s);

	return ret ? fail(ret, "GET_STATS: %s", strerror(-ret)) : 0;
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
				return fail(-errno, "poll vhost-net: %m");
			if (!ret || !(p.revents & POLLIN))
				break;
			if (waited >= timeout_ms)
				return fail(-ETIMEDOUT,
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
	return ret ? fail(ret, "GET_CONFIG: %s", strerror(-ret)) : 0;
}

int vguest_fault(struct vguest *g, struct virtio_iommu_fault *f,
		 int timeout_ms)
{
	uint32_t len;
	int ret;

	ret = vmm_event_read(&g->iommu, f, &len, timeout_ms);
	if (ret == -EAGAIN)
		return fail(ret, "no fault report within %d ms", timeout_ms);
	if (ret)
		return fail_vmm(ret, "event queue");
	ret = vmm_event_post(&g->iommu, 1, sizeof(*f));
	if (ret)
		return fail_vmm(ret, "event buffer");
	if (len != sizeof(*f))
		return fail(-EPROTO, "fault report of %u bytes", len);
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

int vguest_tx_complete(struct vguest *g, unsigned int i, unsigned int id,
		       uint32_t seq, int timeout_ms)
{
	struct vnet *v = &g->net[i];
	uint32_t uid, len;
	int ret;

	ret = vnet_wait_used(v, VNET_TXQ, &uid, &len, timeout_ms);
	if (ret)
		return fail_net(ret, i, "TX used");
	if (uid != id)
		return fail(-EPROTO, "net %u: TX used id %u, expected %u", i,
			    uid, id);
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
	uint32_t uid, len;
	int ret;

	ret = vnet_wait_used(v, VNET_RXQ, &uid, &len, timeout_ms);
	if (ret)
		return fail_net(ret, i, "RX used");
	if (uid != id)
		return fail(-EPROTO, "net %u: RX used id %u, expected %u", i,
			    uid, id);
	ret = vnet_rx_check(v, id, len, seq, vnet_frame_len(seq));
	return ret ? fail_net(ret, i, "RX check") : 0;
}

int vguest_rx(struct vguest *g, unsigned int i, unsigned int id, uint32_t seq,
	      int timeout_ms)
{
	int ret = vguest_rx_post(g, i, id, seq);

	return ret ? ret : vguest_rx_complete(g, i, id, seq, timeout_ms);
}
