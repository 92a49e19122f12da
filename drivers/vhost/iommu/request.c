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

#include "common.h"
#include "request.h"

#define REQ_IN_SIZE(type) offsetof(struct virtio_iommu_req_##type, tail)

/* Size of the device-readable part of each request type; 0: unknown. */
static u32 vhost_iommu_req_in_size(struct vhost_iommu_vq *vq, u8 type)
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
		if (!vhost_iommu_vq_has(vq, VIRTIO_IOMMU_F_PROBE))
			return 0;
		return sizeof(struct virtio_iommu_req_probe);
	default:
		return 0;
	}
}

/*
 * Whether reserved bytes are zero. ATTACH's and UNMAP's four bytes are one
 * load (memchr_inv() costs a call and a byte loop, 16 instructions a
 * request in make profile); the copy is ours, so reading it is no fetch.
 */
static __always_inline bool vhost_iommu_zero(const u8 *p, size_t len)
{
	u32 word;

	if (len == sizeof(word)) {
		memcpy(&word, p, sizeof(word));
		return !word;
	}
	return !memchr_inv(p, 0, len);
}

/**
 * vhost_iommu_errno_to_status() - the status of a request the store failed
 * @err: 0 or what the store returned
 *
 * The one mapping between the store's errno and the wire's status.
 * Return: a VIRTIO_IOMMU_S_* status.
 */
static u8 vhost_iommu_errno_to_status(int err)
{
	switch (err) {
	case 0:
		return VIRTIO_IOMMU_S_OK;
	case -EINVAL:
		return VIRTIO_IOMMU_S_INVAL;
	case -ENOENT:
		return VIRTIO_IOMMU_S_NOENT;
	case -ERANGE:
		return VIRTIO_IOMMU_S_RANGE;
	case -EOPNOTSUPP:
		return VIRTIO_IOMMU_S_UNSUPP;
	case -ENOMEM:
	case -ENOSPC:
		return VIRTIO_IOMMU_S_NOMEM;
	default:
		return VIRTIO_IOMMU_S_DEVERR;
	}
}

/*
 * The guest requests that may concern a REPORT endpoint fill @rec for the
 * VMM and set *@report (in: the channel is open) as the store decides; it
 * means something only with VIRTIO_IOMMU_S_OK.
 */
static u8 vhost_iommu_do_attach(struct vhost_iommu_requests *rq,
				const struct virtio_iommu_req_attach *r,
				struct vhost_iommu_report *rec, bool *report)
{
	u32 flags = le32_to_cpu(r->flags);

	if (!vhost_iommu_zero(r->reserved, sizeof(r->reserved)) ||
	    (flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS))
		return VIRTIO_IOMMU_S_INVAL;
	rec->domain = le32_to_cpu(r->domain);
	rec->endpoint = le32_to_cpu(r->endpoint);
	rec->flags = flags;
	return vhost_iommu_errno_to_status(vhost_iommu_store_attach(rq->store,
				rec->domain, rec->endpoint,
				flags & VIRTIO_IOMMU_ATTACH_F_BYPASS, report));
}

static u8 vhost_iommu_do_detach(struct vhost_iommu_requests *rq,
				const struct virtio_iommu_req_detach *r,
				struct vhost_iommu_report *rec, bool *report)
{
	rec->domain = le32_to_cpu(r->domain);
	rec->endpoint = le32_to_cpu(r->endpoint);
	/* The spec: the device MUST ignore reserved. */
	return vhost_iommu_errno_to_status(vhost_iommu_store_detach(rq->store,
				rec->domain, rec->endpoint, report));
}

static u8 vhost_iommu_do_map(struct vhost_iommu_requests *rq,
			     const struct virtio_iommu_req_map *r,
			     struct vhost_iommu_report *rec, bool *report)
{
	u32 flags = le32_to_cpu(r->flags);

	if (!vhost_iommu_vq_has(rq->vq, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	rec->domain = le32_to_cpu(r->domain);
	rec->virt_start = le64_to_cpu(r->virt_start);
	rec->virt_end = le64_to_cpu(r->virt_end);
	rec->phys_start = le64_to_cpu(r->phys_start);
	/* The store refuses flags above the 16 bits of the record's */
	rec->flags = flags;
	return vhost_iommu_errno_to_status(vhost_iommu_store_map(rq->store,
				rec->domain, rec->virt_start, rec->virt_end,
				rec->phys_start, flags, report));
}

static u8 vhost_iommu_do_unmap(struct vhost_iommu_requests *rq,
			       const struct virtio_iommu_req_unmap *r,
			       struct vhost_iommu_report *rec, bool *report)
{
	if (!vhost_iommu_vq_has(rq->vq, VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIRTIO_IOMMU_S_UNSUPP;
	if (!vhost_iommu_zero(r->reserved, sizeof(r->reserved)))
		return VIRTIO_IOMMU_S_INVAL;
	rec->domain = le32_to_cpu(r->domain);
	rec->virt_start = le64_to_cpu(r->virt_start);
	rec->virt_end = le64_to_cpu(r->virt_end);
	return vhost_iommu_errno_to_status(vhost_iommu_store_unmap(rq->store,
				rec->domain, rec->virt_start, rec->virt_end,
				report));
}

/*
 * A MAP the VMM could not follow (or never heard of) is undone: the
 * guest's view stays what its status says. The queue is held since the
 * MAP, so the range holds exactly the mapping it made, unless the VMM
 * removed the domain meanwhile (DEL_ENDPOINT), which removed it too.
 */
static void vhost_iommu_undo(struct vhost_iommu_requests *rq,
			     const struct vhost_iommu_report *rec)
{
	bool report = true;

	if (rec->type == VIRTIO_IOMMU_T_MAP)
		vhost_iommu_store_unmap(rq->store, rec->domain,
					rec->virt_start, rec->virt_end,
					&report);
}

/*
 * A request done in the store that concerns a REPORT endpoint: posted to
 * the VMM and held, tail unwritten, until the VMM answers. Returns
 * -EINPROGRESS, or the status to write when the channel closed meanwhile.
 */
static int vhost_iommu_hold(struct vhost_iommu_requests *rq,
			    const struct vhost_iommu_chain *chain,
			    const struct vhost_iommu_report *rec)
{
	if (vhost_iommu_reports_post(rq->reports, rec)) {
		vhost_iommu_undo(rq, rec);
		return VIRTIO_IOMMU_S_DEVERR;
	}
	rq->rec = *rec;
	vhost_iommu_chain_hold(rq->vq, chain,
			       sizeof(struct virtio_iommu_req_tail), &rq->held);
	rq->holding = true;
	return -EINPROGRESS;
}

static int vhost_iommu_write_tail(struct vhost_iommu_requests *rq,
				  const struct vhost_iommu_chain *chain,
				  u32 offset, u8 status)
{
	struct virtio_iommu_req_tail tail = { .status = status };

	BUILD_BUG_ON(ARRAY_SIZE(rq->status) <= VIRTIO_IOMMU_S_NOMEM);
	atomic64_inc(&rq->status[status]);
	return vhost_iommu_chain_write(rq->vq, chain, offset, &tail,
				       sizeof(tail));
}

/*
 * PROBE: the properties, zero fill, then the tail at probe_size; with a
 * writable part too short for that, no property and the tail at its end.
 * Every byte before the tail is written (zeroes where there is no
 * property), so the used length never counts a byte left unwritten.
 * Returns the used length or -EFAULT.
 */
static int vhost_iommu_do_probe(struct vhost_iommu_requests *rq,
				const struct vhost_iommu_chain *chain,
				const struct virtio_iommu_req_probe *r)
{
	const u32 tail_len = sizeof(struct virtio_iommu_req_tail);
	struct virtio_iommu_probe_resv_mem *props;
	struct vhost_iommu_resv *resv;
	u32 size, nr = 0, len, i;
	u8 status;
	int ret;

	/* One allocation: the store's regions, then the wire's properties */
	BUILD_BUG_ON(sizeof(*resv) % __alignof__(*props));
	resv = kcalloc(VHOST_IOMMU_MAX_RESV, sizeof(*resv) + sizeof(*props),
		       VHOST_IOMMU_GFP);
	props = resv ? (void *)(resv + VHOST_IOMMU_MAX_RESV) : NULL;
	ret = vhost_iommu_store_resv(rq->store, le32_to_cpu(r->endpoint), resv,
				     &nr, &size);
	status = vhost_iommu_errno_to_status(ret);
	for (i = 0; i < nr; i++) {
		props[i].head.type = cpu_to_le16(VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		props[i].head.length = cpu_to_le16(sizeof(props[i]) -
						   sizeof(props[i].head));
		props[i].subtype = resv[i].subtype;
		props[i].start = cpu_to_le64(resv[i].start);
		props[i].end = cpu_to_le64(resv[i].end);
	}
	if (chain->out_len - tail_len < size) {
		if (status == VIRTIO_IOMMU_S_OK)
			status = VIRTIO_IOMMU_S_INVAL;
		size = chain->out_len - tail_len;
		nr = 0;
	}
	len = nr * sizeof(*props);
	ret = vhost_iommu_chain_write(rq->vq, chain, 0, props, len);
	if (!ret)
		ret = vhost_iommu_chain_write(rq->vq, chain, len, NULL,
					      size - len);
	if (!ret)
		ret = vhost_iommu_write_tail(rq, chain, size, status);
	kfree(resv);
	return ret ?: size + tail_len;
}

/* Counts a request by type; unknown types under VHOST_IOMMU_STATS_T_UNKNOWN. */
static void vhost_iommu_count_request(struct vhost_iommu_requests *rq,
				      u8 type)
{
	BUILD_BUG_ON(ARRAY_SIZE(rq->types) <= VIRTIO_IOMMU_T_PROBE);
	if (type > VIRTIO_IOMMU_T_PROBE)
		type = VHOST_IOMMU_STATS_T_UNKNOWN;
	atomic64_inc(&rq->types[type]);
}

/*
 * Executes one well-formed chain. The readable part is copied once, up to
 * the largest request, and only that copy is decoded: the guest may
 * rewrite its memory meanwhile. Returns the used length, or -EFAULT when
 * the owner's memory could not be accessed.
 */
static int vhost_iommu_execute(struct vhost_iommu_requests *rq,
			       const struct vhost_iommu_chain *chain)
{
	struct vhost_iommu_vq *vq = rq->vq;
	union vhost_iommu_req *req = &rq->req;
	struct vhost_iommu_report rec = {};
	bool report;
	u32 in_size;
	u8 status;
	int ret;

	if (chain->in_len < sizeof(req->head) ||
	    chain->out_len < sizeof(struct virtio_iommu_req_tail))
		goto malformed;
	ret = vhost_iommu_chain_read(vq, chain, req,
				     min_t(u32, chain->in_len, sizeof(*req)));
	if (ret)
		return ret;
	in_size = vhost_iommu_req_in_size(vq, req->head.type);
	if (!in_size) {
		vhost_iommu_count_request(rq, VHOST_IOMMU_STATS_T_UNKNOWN);
		return 0;
	}
	if (chain->in_len < in_size)
		goto malformed;
	vhost_iommu_count_request(rq, req->head.type);

	report = vhost_iommu_reports_ready(rq->reports);
	rec.type = req->head.type;
	switch (req->head.type) {
	case VIRTIO_IOMMU_T_ATTACH:
		status = vhost_iommu_do_attach(rq, &req->attach, &rec, &report);
		break;
	case VIRTIO_IOMMU_T_DETACH:
		status = vhost_iommu_do_detach(rq, &req->detach, &rec, &report);
		break;
	case VIRTIO_IOMMU_T_MAP:
		status = vhost_iommu_do_map(rq, &req->map, &rec, &report);
		break;
	case VIRTIO_IOMMU_T_UNMAP:
		status = vhost_iommu_do_unmap(rq, &req->unmap, &rec, &report);
		break;
	case VIRTIO_IOMMU_T_PROBE:
		return vhost_iommu_do_probe(rq, chain, &req->probe);
	default:	/* vhost_iommu_req_in_size() knows no other type */
		return 0;
	}
	if (status == VIRTIO_IOMMU_S_OK && report) {
		ret = vhost_iommu_hold(rq, chain, &rec);
		if (ret < 0)
			return ret;
		status = ret;
	}
	return vhost_iommu_write_tail(rq, chain, 0, status) ?:
		sizeof(struct virtio_iommu_req_tail);

malformed:
	atomic64_inc(&rq->malformed);
	return 0;
}

/*
 * Completes the held request once the VMM answered (or the channel
 * closed): the answer's status is the guest's, a failed MAP undone.
 * Returns 0 (its used entry added), -EAGAIN (still waiting) or -EIO.
 */
static int vhost_iommu_complete_held(struct vhost_iommu_requests *rq)
{
	struct virtio_iommu_req_tail tail = {};
	u8 status;

	if (vhost_iommu_reports_take(rq->reports, &status))
		return -EAGAIN;
	rq->holding = false;
	if (status != VIRTIO_IOMMU_S_OK)
		vhost_iommu_undo(rq, &rq->rec);
	tail.status = status;
	atomic64_inc(&rq->status[status]);
	if (vhost_iommu_held_write(rq->vq, &rq->held, &tail, sizeof(tail)) ||
	    vhost_iommu_vq_add_used(rq->vq, rq->held.head, sizeof(tail)))
		return -EIO;
	return 0;
}

/**
 * vhost_iommu_handle_requests() - the request queue's work
 * @work: vhost_iommu_requests.work, queued by kicks
 *
 * Executes up to VHOST_IOMMU_BUDGET requests, or as many as walk
 * VHOST_IOMMU_DESC_BUDGET descriptors, in ring order, then queues itself
 * again if more may be waiting, so that one guest cannot hold the worker
 * nor the queue's mutex, which GET_VRING_BASE, reset and release need.
 * A request held for the VMM's answer (the report channel) stops the
 * queue until the answer queues this work again: requests complete in
 * ring order, and the work waits for nothing.
 * Context: the device's worker.
 */
static void vhost_iommu_handle_requests(struct vhost_iommu_work *work)
{
	struct vhost_iommu_requests *rq = container_of(work,
					struct vhost_iommu_requests, work);
	struct vhost_iommu_vq *vq = rq->vq;
	struct vhost_iommu_chain chain = {};
	unsigned int done = 0, descs = 0;
	int ret, len;

	vhost_iommu_vq_lock(vq);
	if (!vq->running || vq->broken)
		goto out_unlock;
	if (rq->holding) {
		ret = vhost_iommu_complete_held(rq);
		if (ret == -EAGAIN)
			goto out_unlock;
		if (ret) {
			vhost_iommu_vq_error(vq);
			goto out_unlock;
		}
		done++;
	}
	while (done < VHOST_IOMMU_BUDGET && descs < VHOST_IOMMU_DESC_BUDGET) {
		ret = vhost_iommu_vq_next(vq, &chain, true);
		if (ret == VQ_EMPTY)
			break;
		descs += chain.nr_desc;
		if (ret == VQ_MALFORMED) {
			atomic64_inc(&rq->malformed);
			len = 0;
		} else if (ret == 0) {
			len = vhost_iommu_execute(rq, &chain);
			if (len == -EINPROGRESS)
				break;	/* held: nothing more until answered */
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
	    !vq->broken && !rq->holding)
		vhost_iommu_work_queue(rq->worker, work);
out_unlock:
	vhost_iommu_vq_unlock(vq);
}

void vhost_iommu_requests_init(struct vhost_iommu_requests *rq,
			       struct vhost_iommu_worker *worker,
			       struct vhost_iommu_vq *vq,
			       struct vhost_iommu_store *store,
			       struct vhost_iommu_reports *reports)
{
	vhost_iommu_work_init(&rq->work, vhost_iommu_handle_requests);
	rq->worker = worker;
	rq->vq = vq;
	rq->store = store;
	rq->reports = reports;
}

/**
 * vhost_iommu_requests_drop() - forget the request held for the VMM
 * @rq: the handler, its queue stopped
 *
 * For a reset and the release: the held request is dropped without a
 * status, with its record; nothing waits for the VMM.
 */
void vhost_iommu_requests_drop(struct vhost_iommu_requests *rq)
{
	mutex_lock(&rq->vq->mutex);
	rq->holding = false;
	vhost_iommu_reports_drop(rq->reports);
	mutex_unlock(&rq->vq->mutex);
}

/**
 * vhost_iommu_requests_holding() - whether a request waits for the VMM
 * @rq: the handler
 *
 * Return: true from the report of a request until its completion.
 */
bool vhost_iommu_requests_holding(struct vhost_iommu_requests *rq)
{
	bool holding;

	mutex_lock(&rq->vq->mutex);
	holding = rq->holding;
	mutex_unlock(&rq->vq->mutex);
	return holding;
}
