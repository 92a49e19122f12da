// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the saved state (VHOST_IOMMU_SAVE_STATE and _LOAD_STATE),
 * for live migration; the format is in Documentation/migration.md.
 *
 * A stream is a header (magic, version, length, CRC-32 of the rest) and
 * records, in this order: the store's (configuration, endpoints, domains
 * with their endpoints and mappings: store.c writes and reads them), one
 * per queue with its next available index, the fault reports not yet
 * posted, and an end record. Saving needs the queues stopped, so that no
 * request changes the store between sizing the stream and writing it (the
 * device mutex keeps the VMM's ioctls out). Loading checks the whole
 * stream, changing nothing, before it applies it.
 */
#include <linux/crc32.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "common.h"
#include "state.h"
#include "stream.h"

/* What a stream holds besides the store's records */
struct vhost_iommu_state_tail {
	u16 base[VHOST_IOMMU_VQ_MAX];
	struct virtio_iommu_fault faults[VHOST_IOMMU_FAULT_FIFO];
	unsigned int nr_faults;
};

static u32 vhost_iommu_state_crc(const u8 *buf, size_t len)
{
	const size_t hdr = sizeof(struct vhost_iommu_state_header);

	return ~crc32_le(~0U, buf + hdr, len - hdr);
}

/* Every record; a counting stream sizes them. Store lock held. */
static void vhost_iommu_state_records(const struct vhost_iommu_state_parts *p,
				      const struct vhost_iommu_state_tail *t,
				      struct vhost_iommu_stream *st)
{
	struct vhost_iommu_rec_vq *vq;
	void *f;
	int i;

	vhost_iommu_store_save(p->store, st);
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++) {
		vq = vhost_iommu_stream_put(st, VHOST_IOMMU_REC_VQ, sizeof(*vq));
		if (vq) {
			vq->index = cpu_to_le32(i);
			vq->last_avail = cpu_to_le32(t->base[i]);
		}
	}
	for (i = 0; i < t->nr_faults; i++) {
		f = vhost_iommu_stream_put(st, VHOST_IOMMU_REC_FAULT,
					   sizeof(t->faults[i]));
		if (f)
			memcpy(f, &t->faults[i], sizeof(t->faults[i]));
	}
	vhost_iommu_stream_put(st, VHOST_IOMMU_REC_END, 0);
}

/* The queues' indexes, which also says that both are stopped */
static int vhost_iommu_state_bases(const struct vhost_iommu_state_parts *p,
				   struct vhost_iommu_state_tail *t)
{
	int i, ret;

	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++) {
		ret = vhost_iommu_vq_get_base(&p->vqs[i], &t->base[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The stream, in a kernel buffer: sized first, then written. */
static u8 *vhost_iommu_state_write(const struct vhost_iommu_state_parts *p,
				   const struct vhost_iommu_state_tail *t,
				   size_t *len, u64 room)
{
	struct vhost_iommu_stream st = {
		.pos = sizeof(struct vhost_iommu_state_header),
	};
	struct vhost_iommu_state_header *h;

	vhost_iommu_store_lock(p->store);
	vhost_iommu_state_records(p, t, &st);
	vhost_iommu_store_unlock(p->store);
	*len = st.pos;
	if (st.error)
		return ERR_PTR(-E2BIG);
	if (*len > room)
		return ERR_PTR(-ENOSPC);
	st = (struct vhost_iommu_stream) {
		.buf = kvmalloc(*len, VHOST_IOMMU_GFP),
		.len = *len,
		.pos = sizeof(*h),
	};
	if (!st.buf)
		return ERR_PTR(-ENOMEM);
	vhost_iommu_store_lock(p->store);
	vhost_iommu_state_records(p, t, &st);
	vhost_iommu_store_unlock(p->store);
	/* Nothing changes the store meanwhile: see the top of this file. */
	if (WARN_ON_ONCE(st.error || st.pos != *len)) {
		kvfree(st.buf);
		return ERR_PTR(-EAGAIN);
	}
	h = (void *)st.buf;
	*h = (struct vhost_iommu_state_header) {
		.magic = cpu_to_le32(VHOST_IOMMU_STATE_MAGIC),
		.version = cpu_to_le32(VHOST_IOMMU_STATE_VERSION),
		.length = cpu_to_le64(*len),
		.crc = cpu_to_le32(vhost_iommu_state_crc(st.buf, *len)),
	};
	return st.buf;
}

/**
 * vhost_iommu_state_save() - VHOST_IOMMU_SAVE_STATE
 * @p: the device's parts
 * @arg: the argument: @len is set to the stream's length
 *
 * Context: the device mutex held. Return: 0 or a -errno of the uapi.
 */
int vhost_iommu_state_save(const struct vhost_iommu_state_parts *p,
			   struct vhost_iommu_state *arg)
{
	struct vhost_iommu_state_tail *t;
	size_t len = 0;
	int ret;
	u8 *buf;

	t = kzalloc(sizeof(*t), VHOST_IOMMU_GFP);
	if (!t)
		return -ENOMEM;
	ret = vhost_iommu_state_bases(p, t);
	if (ret)
		goto out_free_tail;
	t->nr_faults = vhost_iommu_events_save(p->events, t->faults,
					       ARRAY_SIZE(t->faults));
	buf = vhost_iommu_state_write(p, t, &len, arg->len);
	arg->len = len;
	ret = PTR_ERR_OR_ZERO(buf);
	if (ret)
		goto out_free_tail;
	if (copy_to_user(u64_to_user_ptr(arg->buf), buf, len))
		ret = -EFAULT;
	kvfree(buf);
out_free_tail:
	kfree(t);
	return ret;
}

/* The queues' and the faults' records, then the end: checked, kept in @t */
static int vhost_iommu_state_read_tail(struct vhost_iommu_stream *st,
				       struct vhost_iommu_state_tail *t)
{
	const struct vhost_iommu_rec_vq *vq;
	unsigned int seen = 0, index;
	const void *rec;
	u16 type;
	u32 size;

	while ((rec = vhost_iommu_stream_get(st, &type, &size))) {
		switch (type) {
		case VHOST_IOMMU_REC_VQ:
			vq = rec;
			index = le32_to_cpu(vq->index);
			if (size != sizeof(*vq) || t->nr_faults ||
			    index >= VHOST_IOMMU_VQ_MAX || (seen & BIT(index)) ||
			    le32_to_cpu(vq->last_avail) > U16_MAX)
				return -EBADMSG;
			seen |= BIT(index);
			t->base[index] = le32_to_cpu(vq->last_avail);
			break;
		case VHOST_IOMMU_REC_FAULT:
			if (size != sizeof(t->faults[0]) ||
			    t->nr_faults >= ARRAY_SIZE(t->faults))
				return -EBADMSG;
			memcpy(&t->faults[t->nr_faults++], rec, size);
			break;
		case VHOST_IOMMU_REC_END:
			/* Both queues, and nothing after the end */
			if (size || seen != BIT(VHOST_IOMMU_VQ_MAX) - 1 ||
			    st->pos != st->len)
				return -EBADMSG;
			return 0;
		default:
			return -EBADMSG;
		}
	}
	return -EBADMSG;
}

/* The header: a stream of a version we read, whole and intact */
static int vhost_iommu_state_check_header(const u8 *buf, size_t len)
{
	const struct vhost_iommu_state_header *h = (const void *)buf;
	u32 version = le32_to_cpu(h->version);

	if (le32_to_cpu(h->magic) != VHOST_IOMMU_STATE_MAGIC ||
	    le64_to_cpu(h->length) != len || !version)
		return -EINVAL;
	if (version > VHOST_IOMMU_STATE_VERSION)
		return -EPROTONOSUPPORT;
	if (h->__reserved ||
	    le32_to_cpu(h->crc) != vhost_iommu_state_crc(buf, len))
		return -EBADMSG;
	return 0;
}

/* Checks everything, then applies it; a failure changes nothing. */
static int vhost_iommu_state_apply(const struct vhost_iommu_state_parts *p,
				   u8 *buf, size_t len,
				   struct vhost_iommu_state_tail *t)
{
	struct vhost_iommu_stream st = {
		.buf = buf,
		.len = len,
		.pos = sizeof(struct vhost_iommu_state_header),
	};
	int i, ret;

	/* Both queues stopped; the stream's indexes replace these. */
	ret = vhost_iommu_state_bases(p, t);
	if (ret)
		return ret;
	ret = vhost_iommu_store_load(p->store, &st, false);
	if (ret)
		return ret;
	ret = vhost_iommu_state_read_tail(&st, t);
	if (ret)
		return ret;
	st.pos = sizeof(struct vhost_iommu_state_header);
	ret = vhost_iommu_store_load(p->store, &st, true);
	if (ret)
		return ret;
	/* Stopped, under the device mutex: nothing can start them. */
	for (i = 0; i < VHOST_IOMMU_VQ_MAX; i++)
		WARN_ON_ONCE(vhost_iommu_vq_set_base(&p->vqs[i], t->base[i]));
	vhost_iommu_events_load(p->events, t->faults, t->nr_faults);
	return 0;
}

/**
 * vhost_iommu_state_load() - VHOST_IOMMU_LOAD_STATE
 * @p: the device's parts
 * @arg: the argument
 *
 * Context: the device mutex held. Return: 0 or a -errno of the uapi.
 */
int vhost_iommu_state_load(const struct vhost_iommu_state_parts *p,
			   const struct vhost_iommu_state *arg)
{
	struct vhost_iommu_state_tail *t;
	int ret;
	u8 *buf;

	if (arg->len < sizeof(struct vhost_iommu_state_header))
		return -EINVAL;
	if (arg->len > vhost_iommu_store_state_max())
		return -E2BIG;
	buf = kvmalloc(arg->len, VHOST_IOMMU_GFP);
	t = kzalloc(sizeof(*t), VHOST_IOMMU_GFP);
	ret = -ENOMEM;
	if (!buf || !t)
		goto out_free;
	ret = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(arg->buf), arg->len))
		goto out_free;
	ret = vhost_iommu_state_check_header(buf, arg->len);
	if (!ret)
		ret = vhost_iommu_state_apply(p, buf, arg->len, t);
out_free:
	kfree(t);
	kvfree(buf);
	return ret;
}
