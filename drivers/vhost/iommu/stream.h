/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vhost-iommu: the saved state's records (VHOST_IOMMU_SAVE_STATE,
 * Documentation/migration.md). Header only: the units that save and load
 * a part of the state write and read their records with these.
 *
 * A record is a struct vhost_iommu_state_rec (type, payload size) and its
 * payload, padded to 8 bytes. A writer without a buffer only counts: the
 * same code sizes the stream and writes it.
 */
#ifndef _VHOST_IOMMU_STREAM_H
#define _VHOST_IOMMU_STREAM_H

#include <linux/align.h>
#include <linux/bits.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/vhost_iommu.h>

/**
 * struct vhost_iommu_stream - a stream being written or read
 * @buf: the bytes; NULL for a writer that only counts
 * @len: their number (a counting writer: unbounded)
 * @pos: where the next record starts
 * @error: a record did not fit, or a read one is malformed
 */
struct vhost_iommu_stream {
	u8 *buf;
	size_t len;
	size_t pos;
	bool error;
};

/* Record types, in the order they must come */
enum vhost_iommu_rec_type {
	VHOST_IOMMU_REC_CONFIG = 1,
	VHOST_IOMMU_REC_ENDPOINT,
	VHOST_IOMMU_REC_DOMAIN,
	VHOST_IOMMU_REC_VQ,
	VHOST_IOMMU_REC_FAULT,
	VHOST_IOMMU_REC_END,
};

/* VHOST_IOMMU_REC_CONFIG: the configuration, with bypass's reset value */
struct vhost_iommu_rec_config {
	__le64 page_size_mask;
	__le64 input_start;
	__le64 input_end;
	__le32 domain_start;
	__le32 domain_end;
	__le32 probe_size;
	u8 bypass;
	u8 reset_bypass;
	u8 __pad[2];
};

struct vhost_iommu_rec_resv {
	__le64 start;
	__le64 end;
	__le32 subtype;
	__le32 __pad;
};

/* VHOST_IOMMU_REC_ENDPOINT: one endpoint, ids ascending */
struct vhost_iommu_rec_endpoint {
	__le32 id;
	__le32 nr_resv;
	struct vhost_iommu_rec_resv resv[];
};

/* Flags of a domain record */
#define VHOST_IOMMU_REC_DOMAIN_BYPASS	BIT(0)
#define VHOST_IOMMU_REC_DOMAIN_VMM	BIT(1)

struct vhost_iommu_rec_mapping {
	__le64 iova;
	__le64 last;
	__le64 phys_perm;	/* guest-physical address | VIRTIO_IOMMU_MAP_F_* */
};

/*
 * VHOST_IOMMU_REC_DOMAIN: one domain, ids ascending; then @nr_endpoints
 * __le32 endpoint ids (padded to 8 bytes), then @nr_mappings struct
 * vhost_iommu_rec_mapping, IOVAs ascending
 */
struct vhost_iommu_rec_domain {
	__le32 id;
	__le32 flags;
	__le32 nr_endpoints;
	__le32 __pad;
	__le64 nr_mappings;
};

/* VHOST_IOMMU_REC_VQ: a stopped queue's next available index */
struct vhost_iommu_rec_vq {
	__le32 index;
	__le32 last_avail;
};

/* VHOST_IOMMU_REC_FAULT: a struct virtio_iommu_fault not yet posted */

/* Largest payload of one record */
#define VHOST_IOMMU_STATE_REC_MAX	BIT(30)

/*
 * Room for a record of @type with @size bytes of payload: returns where
 * the payload goes (zeroed), or NULL when only counting or out of room.
 */
static inline void *vhost_iommu_stream_put(struct vhost_iommu_stream *st,
					   u16 type, size_t size)
{
	size_t need = sizeof(struct vhost_iommu_state_rec) + ALIGN(size, 8);
	struct vhost_iommu_state_rec *rec;

	if (st->error || size > VHOST_IOMMU_STATE_REC_MAX)
		goto out_error;
	if (!st->buf) {
		st->pos += need;
		return NULL;
	}
	if (need > st->len - st->pos)
		goto out_error;
	rec = (void *)(st->buf + st->pos);
	rec->type = cpu_to_le16(type);
	rec->__reserved = 0;
	rec->size = cpu_to_le32(size);
	st->pos += need;
	memset(rec + 1, 0, ALIGN(size, 8));
	return rec + 1;

out_error:
	st->error = true;
	return NULL;
}

/*
 * The next record: its payload, with its type and size, or NULL at the end
 * of the stream; a record that runs past the end (or a reserved field that
 * is not zero) sets @error.
 */
static inline const void *vhost_iommu_stream_get(struct vhost_iommu_stream *st,
						 u16 *type, u32 *size)
{
	const struct vhost_iommu_state_rec *rec;
	size_t left = st->len - st->pos;

	if (st->error || !left)
		return NULL;
	if (left < sizeof(*rec))
		goto out_error;
	rec = (const void *)(st->buf + st->pos);
	*type = le16_to_cpu(rec->type);
	*size = le32_to_cpu(rec->size);
	if (rec->__reserved || *size > VHOST_IOMMU_STATE_REC_MAX ||
	    ALIGN((size_t)*size, 8) > left - sizeof(*rec))
		goto out_error;
	st->pos += sizeof(*rec) + ALIGN((size_t)*size, 8);
	return rec + 1;

out_error:
	st->error = true;
	return NULL;
}

#endif /* _VHOST_IOMMU_STREAM_H */
