// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the request parser.
 *
 * Takes request chains off the request queue in ring order, decodes the
 * wire format (little-endian, struct virtio_iommu_req_*), hands the request
 * to the domain store and writes the tail. Documentation/requests.md is the
 * contract this file implements for malformed chains.
 */
#include <linux/slab.h>

#include "iommu.h"

union vhost_iommu_req {
	struct virtio_iommu_req_head head;
	struct virtio_iommu_req_attach attach;
	struct virtio_iommu_req_detach detach;
	struct virtio_iommu_req_map map;
	struct virtio_iommu_req_unmap unmap;
	struct virtio_iommu_req_probe probe;
};

#define REQ_IN_SIZE(type) offsetof(struct virtio_iommu_req_##type, tail)

/* Size of the device-readable part of each request type; 0: unknown. */
static u32 vhost_iommu_req_in_size(struct vhost_iommu *vi, u8 type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return REQ_IN_SIZE(attach);
	case VIRTIO_IOMMU_T_DETACH:
		return REQ_IN_SIZE(detach);
	case VIRTIO_IOMMU_T_MAP:
		return REQ_IN_SIZE(map);
	case VIRTIO_IOMMU_T_UNMAP:
		return REQ_IN_SIZE(unmap);
	case VIRTIO_IOMMU_T_PROBE:
		if (!vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_PROBE))
			return 0;
		return sizeof(struct virtio_iommu_req_probe);
	default:
		return 0;
	}
}

static bool vhost_iommu_zero(const u8 *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static u8 vhost_iommu_do_attach(struct vhost_iommu *vi,
				const struct virtio_iommu_req_attach *r)
{
	if (!vhost_iommu_zero(r->reserved, sizeof(r->reserved)))
		return VIRTIO_IOMMU_S_INVAL;
	return vhost_iommu_attach(vi, le32_to_cpu(r->domain),
				  le32_to_cpu(r->endpoint),
				  le32_to_cpu(r->flags));
}

static u8 vhost_iommu_do_map(struct vhost_iommu *vi,
			     const struct virtio_iommu_req_map *r)
{
	if (!vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	return vhost_iommu_map(vi, le32_to_cpu(r->domain),
			       le64_to_cpu(r->virt_start),
			       le64_to_cpu(r->virt_end),
			       le64_to_cpu(r->phys_start),
			       le32_to_cpu(r->flags));
}

static u8 vhost_iommu_do_unmap(struct vhost_iommu *vi,
			       const struct virtio_iommu_req_unmap *r)
{
	if (!vhost_iommu_has_feature(vi, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	if (!vhost_iommu_zero(r->reserved, sizeof(r->reserved)))
		return VIRTIO_IOMMU_S_INVAL;
	return vhost_iommu_unmap(vi, le32_to_cpu(r->domain),
				 le64_to_cpu(r->virt_start),
				 le64_to_cpu(r->virt_end));
}

static int vhost_iommu_write_tail(struct vhost_iommu_vq *vq,
				  const struct vhost_iommu_chain *chain,
				  u32 offset, u8 status)
{
	struct virtio_iommu_req_tail tail = { .status = status };

	BUILD_BUG_ON(ARRAY_SIZE(vq->vi->stats.status) <= VIRTIO_IOMMU_S_NOMEM);
	atomic64_inc(&vq->vi->stats.status[status]);
	return vhost_iommu_chain_write(vq, chain, offset, &tail, sizeof(tail));
}

/*
 * PROBE: the properties, zero fill, then the tail at probe_size; with a
 * writable part too short for that, no property and the tail at its end.
 * Every byte before the tail is written (zeroes where there is no
 * property), so the used length never counts a byte left unwritten.
 * Returns the used length or -EFAULT.
 */
static int vhost_iommu_do_probe(struct vhost_iommu_vq *vq,
				const struct vhost_iommu_chain *chain,
				const struct virtio_iommu_req_probe *r)
{
	const u32 tail_len = sizeof(struct virtio_iommu_req_tail);
	struct virtio_iommu_probe_resv_mem *props;
	u32 size, nr = 0, len;
	u8 status;
	int ret;

	props = kcalloc(VHOST_IOMMU_MAX_RESV, sizeof(*props),
			VHOST_IOMMU_GFP);
	status = vhost_iommu_probe(vq->vi, le32_to_cpu(r->endpoint), props,
				   &nr, &size);
	if (chain->out_len - tail_len < size) {
		if (status == VIRTIO_IOMMU_S_OK)
			status = VIRTIO_IOMMU_S_INVAL;
		size = chain->out_len - tail_len;
		nr = 0;
	}
	len = nr * sizeof(*props);
	ret = vhost_iommu_chain_write(vq, chain, 0, props, len);
	if (!ret)
		ret = vhost_iommu_chain_write(vq, chain, len, NULL, size - len);
	if (!ret)
		ret = vhost_iommu_write_tail(vq, chain, size, status);
	kfree(props);
	return ret ?: size + tail_len;
}

/* Counts a request by type; unknown types under VHOST_IOMMU_STATS_T_UNKNOWN. */
static void vhost_iommu_count_request(struct vhost_iommu *vi, u8 type)
{
	BUILD_BUG_ON(ARRAY_SIZE(vi->stats.requests) <= VIRTIO_IOMMU_T_PROBE);
	if (type > VIRTIO_IOMMU_T_PROBE)
		type = VHOST_IOMMU_STATS_T_UNKNOWN;
	atomic64_inc(&vi->stats.requests[type]);
}

/*
 * Executes one well-formed chain. The readable part is copied once, up to
 * the largest request, and only that copy is decoded: the guest may
 * rewrite its memory meanwhile. Returns the used length, or -EFAULT when
 * the owner's memory could not be accessed.
 */
static int vhost_iommu_execute(struct vhost_iommu_vq *vq,
			       const struct vhost_iommu_chain *chain)
{
	struct vhost_iommu *vi = vq->vi;
	union vhost_iommu_req req;
	u32 in_size;
	u8 status;
	int ret;

	if (chain->in_len < sizeof(req.head) ||
	    chain->out_len < sizeof(struct virtio_iommu_req_tail))
		goto malformed;
	ret = vhost_iommu_chain_read(vq, chain, &req,
				     min_t(u32, chain->in_len, sizeof(req)));
	if (ret)
		return ret;
	in_size = vhost_iommu_req_in_size(vi, req.head.type);
	if (!in_size) {
		vhost_iommu_count_request(vi, VHOST_IOMMU_STATS_T_UNKNOWN);
		return 0;
	}
	if (chain->in_len < in_size)
		goto malformed;
	vhost_iommu_count_request(vi, req.head.type);

	switch (req.head.type) {
	case VIRTIO_IOMMU_T_ATTACH:
		status = vhost_iommu_do_attach(vi, &req.attach);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		/* The spec: the device MUST ignore reserved. */
		status = vhost_iommu_detach(vi, le32_to_cpu(req.detach.domain),
					    le32_to_cpu(req.detach.endpoint));
		break;
	case VIRTIO_IOMMU_T_MAP:
		status = vhost_iommu_do_map(vi, &req.map);
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		status = vhost_iommu_do_unmap(vi, &req.unmap);
		break;
	case VIRTIO_IOMMU_T_PROBE:
		return vhost_iommu_do_probe(vq, chain, &req.probe);
	default:	/* vhost_iommu_req_in_size() knows no other type */
		return 0;
	}
	return vhost_iommu_write_tail(vq, chain, 0, status) ?:
		sizeof(struct virtio_iommu_req_tail);

malformed:
	atomic64_inc(&vi->stats.malformed);
	return 0;
}

/**
 * vhost_iommu_handle_requests() - the request queue's work
 * @work: the request queue's poll work
 *
 * Executes up to VHOST_IOMMU_BUDGET requests, or as many as walk
 * VHOST_IOMMU_DESC_BUDGET descriptors, in ring order, then queues itself
 * again if more may be waiting, so that one guest cannot hold the worker
 * nor the queue's mutex, which GET_VRING_BASE, reset and release need.
 * Context: the device's worker.
 */
void vhost_iommu_handle_requests(struct vhost_iommu_work *work)
{
	struct vhost_iommu_vq *vq = container_of(work, struct vhost_iommu_vq,
						 poll.work);
	struct vhost_iommu_chain chain = {};
	unsigned int done = 0, descs = 0;
	int ret, len;

	mutex_lock(&vq->mutex);
	if (!vq->running || vq->broken)
		goto out_unlock;
	while (done < VHOST_IOMMU_BUDGET && descs < VHOST_IOMMU_DESC_BUDGET) {
		ret = vhost_iommu_vq_next(vq, &chain);
		if (ret == VQ_EMPTY)
			break;
		descs += chain.nr_desc;
		if (ret == VQ_MALFORMED) {
			atomic64_inc(&vq->vi->stats.malformed);
			len = 0;
		} else if (ret == 0) {
			len = vhost_iommu_execute(vq, &chain);
		} else {
			len = ret;
		}
		if (len < 0 || vhost_iommu_vq_add_used(vq, chain.head, len)) {
			vhost_iommu_vq_error(vq);
			break;
		}
		done++;
	}
	if (done)
		vhost_iommu_vq_flush_used(vq);
	if ((done == VHOST_IOMMU_BUDGET || descs >= VHOST_IOMMU_DESC_BUDGET) &&
	    !vq->broken)
		vhost_iommu_work_queue(vq->vi, work);
out_unlock:
	mutex_unlock(&vq->mutex);
}
