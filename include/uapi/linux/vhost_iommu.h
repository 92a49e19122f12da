/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost-iommu: the request and event queues of a virtio-iommu device,
 * executed in the host kernel.
 *
 * /dev/vhost-iommu is driven like the other vhost devices: the VMM opens it,
 * becomes its owner with VHOST_SET_OWNER, negotiates features with
 * VHOST_GET_FEATURES / VHOST_SET_FEATURES, describes guest memory with
 * VHOST_SET_MEM_TABLE and hands over its virtqueues with the
 * VHOST_SET_VRING_* ioctls of <linux/vhost.h>. Virtqueue 0 is the request
 * queue, virtqueue 1 the event queue (virtio spec, "IOMMU Device"). A
 * virtqueue runs once its size, addresses and kick eventfd are set;
 * VHOST_GET_VRING_BASE stops it and returns the next available index.
 * Descriptors carry guest-physical addresses, translated through the memory
 * table; ring addresses are the VMM's virtual addresses, as for vhost-net.
 * The rings are little-endian (virtio 1.0 and later).
 *
 * Dirty logging works as for vhost: VHOST_SET_LOG_BASE and
 * VHOST_SET_LOG_FD, VHOST_F_LOG_ALL in VHOST_SET_FEATURES, and
 * VHOST_VRING_F_LOG with the used ring's guest-physical address in
 * VHOST_SET_VRING_ADDR (which a running queue takes when its addresses are
 * unchanged). Every write of the device into guest memory is logged: used
 * rings, request tails, PROBE output, fault reports.
 *
 * The ioctls below configure what the VMM owns: the device configuration
 * space, the endpoints behind the IOMMU and their reserved regions. Every
 * argument struct starts with its size in bytes (@size): the kernel accepts
 * any size from the first published version of the struct up to the size it
 * knows, and a larger one when the bytes it does not know are zero (else
 * E2BIG), up to VHOST_IOMMU_ARG_MAX bytes (else E2BIG). Reserved fields and
 * flags must be zero (else EINVAL). Output structs are copied back up to
 * @size.
 *
 * Errors common to every device ioctl: EFAULT (bad pointer), EINVAL
 * (size too small, reserved field or unknown flag set), E2BIG (unknown
 * trailing bytes not zero, or @size above VHOST_IOMMU_ARG_MAX), EPERM
 * (the caller is not the owner's process: every ioctl but
 * VHOST_GET_FEATURES, VHOST_SET_FEATURES and VHOST_SET_OWNER requires
 * VHOST_SET_OWNER first, as vhost-net does).
 */
#ifndef _UAPI_LINUX_VHOST_IOMMU_H
#define _UAPI_LINUX_VHOST_IOMMU_H

#include <linux/types.h>
#include <linux/vhost.h>

/* The largest @size of a size-first argument struct */
#define VHOST_IOMMU_ARG_MAX	4096

/* The request and event virtqueues. */
#define VHOST_IOMMU_VQ_REQUEST	0
#define VHOST_IOMMU_VQ_EVENT	1
#define VHOST_IOMMU_VQ_MAX	2

/**
 * struct vhost_iommu_config - virtio-iommu configuration space
 * @size: sizeof(struct vhost_iommu_config)
 * @flags: SET_CONFIG: 0 or VHOST_IOMMU_CONFIG_F_DRIVER; GET_CONFIG: 0
 * @page_size_mask: page sizes the IOMMU supports; the lowest set bit is the
 *	granule, at least 4 KiB
 * @input_start: first valid IOVA (inclusive)
 * @input_end: last valid IOVA (inclusive)
 * @domain_start: first valid domain id (inclusive)
 * @domain_end: last valid domain id (inclusive)
 * @probe_size: size of the PROBE property buffer
 * @bypass: 1 lets unattached endpoints bypass translation, 0 blocks them
 *	(BYPASS_CONFIG is always offered, so this holds even when the driver
 *	did not accept it); kept across VHOST_RESET_OWNER; back to its reset
 *	value at VHOST_IOMMU_RESET_DEVICE
 * @__reserved: must be 0
 *
 * VHOST_IOMMU_GET_CONFIG reads the configuration; VHOST_IOMMU_SET_CONFIG
 * replaces it. The VMM serves the guest's reads of the configuration space
 * from it and forwards the guest's writes of @bypass with SET_CONFIG and
 * VHOST_IOMMU_CONFIG_F_DRIVER. Without that flag, the @bypass given is
 * also its reset value (the device's, as QEMU's boot-bypass); with it, it
 * is the driver's, which a device reset undoes, and every other field must
 * equal the current configuration (else EINVAL). Only @bypass may change
 * while endpoints exist (else EBUSY). EINVAL: a granule below 4 KiB, an
 * empty range, @bypass not 0 or 1, a @probe_size that is not a multiple of
 * 4 or larger than 64 KiB, an unknown flag.
 *
 * The default at open: 4 KiB granule with every larger power of two
 * (page_size_mask = ~0xfff), the whole 64-bit input range, every domain id,
 * probe_size 512, bypass 0. The ranges bind the guest only when
 * VIRTIO_IOMMU_F_INPUT_RANGE / VIRTIO_IOMMU_F_DOMAIN_RANGE are negotiated.
 */
struct vhost_iommu_config {
	__u32 size;
	__u32 flags;
	__aligned_u64 page_size_mask;
	__aligned_u64 input_start;
	__aligned_u64 input_end;
	__u32 domain_start;
	__u32 domain_end;
	__u32 probe_size;
	__u8 bypass;
	__u8 __reserved[3];
};

/* Flags of struct vhost_iommu_config: a write of the driver (SET_CONFIG) */
#define VHOST_IOMMU_CONFIG_F_DRIVER	(1 << 0)

/* Reserved region subtypes, as VIRTIO_IOMMU_RESV_MEM_T_* */
#define VHOST_IOMMU_RESV_RESERVED	0
#define VHOST_IOMMU_RESV_MSI		1

/**
 * struct vhost_iommu_resv_region - a reserved region of an endpoint
 * @start: first address (inclusive)
 * @end: last address (inclusive), not below @start
 * @subtype: VHOST_IOMMU_RESV_RESERVED or VHOST_IOMMU_RESV_MSI
 * @__reserved: must be 0
 *
 * Reported to the guest by PROBE as a RESV_MEM property; MAP requests that
 * overlap a reserved region of an endpoint attached to the domain fail.
 */
struct vhost_iommu_resv_region {
	__aligned_u64 start;
	__aligned_u64 end;
	__u8 subtype;
	__u8 __reserved[7];
};

/* At most this many reserved regions per endpoint. */
#define VHOST_IOMMU_MAX_RESV	32

/**
 * struct vhost_iommu_endpoint - an endpoint behind the IOMMU
 * @size: sizeof(struct vhost_iommu_endpoint)
 * @flags: ADD_ENDPOINT: 0 or VHOST_IOMMU_ENDPOINT_F_REPORT (the guest's
 *	requests that change what the endpoint can reach are reported to the
 *	VMM and wait for its answer, see "report channel" below);
 *	DEL_ENDPOINT: must be 0
 * @endpoint: the endpoint id the guest uses (on PCI, the requester id)
 * @nr_resv: number of entries at @resv (DEL_ENDPOINT: must be 0)
 * @resv: user pointer to an array of struct vhost_iommu_resv_region
 *
 * VHOST_IOMMU_ADD_ENDPOINT declares an endpoint with its reserved regions
 * (EEXIST if the id exists, E2BIG past VHOST_IOMMU_MAX_RESV regions,
 * ENOSPC if their RESV_MEM properties do not fit in the configured
 * probe_size or if the device has as many endpoints as the max_endpoints
 * module parameter allows, EINVAL for an invalid region, overlapping
 * regions included).
 * VHOST_IOMMU_DEL_ENDPOINT removes one (ENOENT if unknown); an attached
 * endpoint is detached first, and its domain dies if it was the last one.
 */
struct vhost_iommu_endpoint {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__u32 nr_resv;
	__aligned_u64 resv;
};

/* Flags of struct vhost_iommu_endpoint (ADD_ENDPOINT) */
#define VHOST_IOMMU_ENDPOINT_F_REPORT	(1 << 0)

/* Access bits of struct vhost_iommu_translate */
#define VHOST_IOMMU_ACCESS_READ		(1 << 0)
#define VHOST_IOMMU_ACCESS_WRITE	(1 << 1)

/* Flags of struct vhost_iommu_translate */
#define VHOST_IOMMU_TRANSLATE_F_REPORT	(1 << 0)

/**
 * struct vhost_iommu_translate - translate an IOVA of an endpoint
 * @size: sizeof(struct vhost_iommu_translate)
 * @flags: VHOST_IOMMU_TRANSLATE_F_REPORT posts a fault report on the event
 *	queue when the translation fails, as the device would for a DMA
 *	fault of that endpoint
 * @endpoint: the endpoint id
 * @access: VHOST_IOMMU_ACCESS_READ and/or _WRITE, at least one
 * @iova: the address to translate
 * @start: out: first IOVA of the translation that holds @iova
 * @last: out: last IOVA (inclusive) of that translation
 * @phys: out: the guest-physical address @start translates to
 * @perm: out: VIRTIO_IOMMU_MAP_F_* of the translation
 * @__reserved: must be 0
 *
 * VHOST_IOMMU_TRANSLATE answers from the kernel's tables, for endpoints
 * the VMM emulates itself. An endpoint in bypass translates to itself over
 * the whole address space with read and write permission. Errors: ENODEV
 * for an unknown endpoint, ENXIO for an endpoint that is neither attached
 * nor in bypass, ENOENT when no mapping holds @iova, EACCES when the
 * mapping lacks a requested permission.
 */
struct vhost_iommu_translate {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__u32 access;
	__aligned_u64 iova;
	__aligned_u64 start;
	__aligned_u64 last;
	__aligned_u64 phys;
	__u32 perm;
	__u32 __reserved;
};

/* Index of struct vhost_iommu_stats.requests for unknown request types */
#define VHOST_IOMMU_STATS_T_UNKNOWN	0

/**
 * struct vhost_iommu_stats - device statistics
 * @size: sizeof(struct vhost_iommu_stats)
 * @__reserved: must be 0
 * @requests: requests executed, indexed by VIRTIO_IOMMU_T_*; index 0
 *	counts requests of unknown type
 * @status: requests completed, indexed by VIRTIO_IOMMU_S_*
 * @malformed: request chains returned without a status because no tail
 *	could be written
 * @ring_errors: virtqueue errors (chain loops, indices out of range,
 *	unreadable rings); each stops the queue and signals its error eventfd
 * @faults: fault reports posted on the event queue
 * @faults_dropped: fault reports dropped for want of an event buffer
 * @domains: live domains
 * @mappings: live mappings
 * @endpoints: declared endpoints
 * @iotlb_misses: IOTLB misses read from bound vhost devices
 * @iotlb_served: misses answered with a translation (the others are
 *	faults: reported on the event queue, or counted as dropped)
 * @iotlb_updates: translations handed out to vhost devices, for
 *	misses and pushed at MAP time
 * @iotlb_invalidations: invalidations written to vhost devices
 * @iotlb_errors: reads and writes to a bound vhost device that failed
 *	(the device was reset, has no IOTLB, or its file was made blocking)
 * @bound: vhost devices bound
 * @iotlb_queued: miss records queued for the VMM (VMM-managed domains)
 * @iotlb_coalesced: misses merged into a pending record
 * @iotlb_queue_full: times the miss queue filled (misses then wait in
 *	the vhost device until the VMM reads)
 *
 * VHOST_IOMMU_GET_STATS copies the counters out; they only grow, except
 * @domains, @mappings, @endpoints and @bound, which count live objects
 * (@mappings includes the translations of VMM-managed domains).
 * The first version of the struct ended at @endpoints.
 */
struct vhost_iommu_stats {
	__u32 size;
	__u32 __reserved;
	__aligned_u64 requests[8];
	__aligned_u64 status[16];
	__aligned_u64 malformed;
	__aligned_u64 ring_errors;
	__aligned_u64 faults;
	__aligned_u64 faults_dropped;
	__aligned_u64 domains;
	__aligned_u64 mappings;
	__aligned_u64 endpoints;
	__aligned_u64 iotlb_misses;
	__aligned_u64 iotlb_served;
	__aligned_u64 iotlb_updates;
	__aligned_u64 iotlb_invalidations;
	__aligned_u64 iotlb_errors;
	__aligned_u64 bound;
	__aligned_u64 iotlb_queued;
	__aligned_u64 iotlb_coalesced;
	__aligned_u64 iotlb_queue_full;
};

/**
 * struct vhost_iommu_bind - a vhost device behind an endpoint
 * @size: sizeof(struct vhost_iommu_bind)
 * @flags: must be 0
 * @endpoint: the endpoint id of the device's virtio device
 * @fd: a file descriptor of /dev/vhost-net or /dev/vhost-vsock, open for
 *	reading and writing
 *
 * VHOST_IOMMU_BIND_DEVICE makes this device serve, in the kernel, the
 * device IOTLB of a vhost device that speaks the vhost IOTLB protocol
 * (misses read from its file, VHOST_IOTLB_UPDATE and _INVALIDATE written
 * to it): vhost-net and vhost-vsock. Its IOTLB misses are translated
 * through the endpoint's domain (IOVA -> guest-physical address) and this
 * device's memory table (-> the owner's virtual address), and answered
 * with the largest range that holds the address: the whole mapping, cut to
 * the memory region, with the mapping's permissions. An endpoint in bypass
 * gets identity translations of whole memory regions. A miss on an address
 * that is not mapped, or that the mapping does not permit, or from an
 * endpoint neither attached nor in bypass, is reported on the event queue
 * as a fault and left unanswered: that vhost queue stays blocked on the
 * access until the guest maps the address.
 * UNMAP and DETACH requests, and a domain's death, complete only after
 * every vhost device bound to an endpoint of the domain has dropped what
 * it was given of the range. Several vhost devices may be bound to one
 * endpoint (one vhost-net device per queue pair); one vhost device to one
 * endpoint of one vhost-iommu device only.
 *
 * The VMM must, on the vhost device: negotiate VIRTIO_F_ACCESS_PLATFORM
 * (else there is nothing to serve) and, with VHOST_SET_BACKEND_FEATURES,
 * preferably VHOST_BACKEND_F_IOTLB_MSG_V2 (answers use the message format
 * of the miss); set a memory table, as vhost requires; stop reading and
 * writing the vhost file while it is bound: the kernel reads the misses.
 * Binding sets O_NONBLOCK on the vhost file (the kernel must never sleep
 * in its read) and unbinding restores the flag; clearing it while bound
 * stops the service (counted in @iotlb_errors). The first
 * VHOST_NET_SET_BACKEND or VHOST_VSOCK_SET_RUNNING writes the used ring
 * through the IOTLB, and fails with EFAULT when that misses: bind before
 * it, with the rings mapped, and retry it once the miss is served.
 *
 * Binding asks the vhost device whether the caller owns it: it must belong
 * to the process that owns this device. Holding a vhost file descriptor
 * already allows writing any translation to it, so binding grants nothing
 * the caller could not do. The bound file is held until
 * VHOST_IOMMU_UNBIND_DEVICE, VHOST_IOMMU_DEL_ENDPOINT of its endpoint,
 * VHOST_RESET_OWNER or the release of this device, whichever comes first;
 * closing the VMM's descriptor alone does not unbind it.
 *
 * Errors: EBADF (@fd is not open, or not open for reading and writing),
 * EINVAL (@fd is neither vhost-net nor vhost-vsock), EPERM (the vhost
 * device has no owner or another process owns it), ENODEV (unknown
 * endpoint), EBUSY (the vhost device is bound already), ENOSPC (too many
 * bindings). VHOST_IOMMU_UNBIND_DEVICE: ENOENT when @fd is not bound to
 * @endpoint.
 */
struct vhost_iommu_bind {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__s32 fd;
};

/**
 * DOC: device IOTLB for VMM-managed domains
 *
 * A domain is guest-managed (created by ATTACH requests, its mappings made
 * by MAP and UNMAP requests: the default) or VMM-managed: created by
 * VHOST_IOMMU_IOTLB_ATTACH, its translations written by the VMM with
 * VHOST_IOMMU_IOTLB_UPDATE and removed with VHOST_IOMMU_IOTLB_INVALIDATE,
 * for a VMM that emulates another IOMMU (VT-d, SMMU) or keeps domains to
 * itself. Both kinds serve the bound vhost devices in the kernel and
 * answer VHOST_IOMMU_TRANSLATE. The guest's requests cannot touch a
 * VMM-managed domain: ATTACH to it, DETACH from it, MAP and UNMAP in it
 * fail with VIRTIO_IOMMU_S_INVAL; a guest ATTACH of one of its endpoints
 * to a domain of the guest moves the endpoint, as the guest asked.
 *
 * A bound vhost device's miss in a VMM-managed domain that no translation
 * covers is queued as a struct vhost_iommu_iotlb_miss and the eventfd set with
 * VHOST_IOMMU_IOTLB_SET_NOTIFY is signalled; read() on the vhost-iommu
 * file descriptor fetches pending records (whole records only, as many as
 * fit; EAGAIN when none is pending, read() never blocks; EINVAL for a
 * buffer smaller than one record). A miss on a page that already has an
 * unfetched record is merged into it (the access bits are or-ed). The
 * queue holds iotlb_queue_len records (module parameter); when it is
 * full, the bridge stops reading that vhost device's misses, which wait
 * in the vhost device, and resumes when a read() makes room: nothing is
 * lost. Each time the queue fills is counted in iotlb_queue_full of the
 * statistics, and the next record fetched carries
 * VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL.
 */

/* Flags of struct vhost_iommu_iotlb_miss */
#define VHOST_IOMMU_IOTLB_MISS_F_QUEUE_FULL	(1 << 0)

/**
 * struct vhost_iommu_iotlb_miss - a miss for the VMM, read() from the device
 * @size: the size of this record, sizeof(struct vhost_iommu_iotlb_miss)
 *	of the running kernel. Records may grow at the end: a reader steps
 *	from record to record by @size and reads the fields it knows; the
 *	kernel writes whole records only.
 * @flags: VHOST_IOMMU_IOTLB_MISS_F_*
 * @endpoint: the endpoint whose vhost device missed
 * @domain: its VMM-managed domain
 * @iova: the address, aligned down to the granule
 * @access: VHOST_IOMMU_ACCESS_READ and/or _WRITE
 * @__reserved: zero
 */
struct vhost_iommu_iotlb_miss {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__u32 domain;
	__aligned_u64 iova;
	__u32 access;
	__u32 __reserved;
};

/**
 * struct vhost_iommu_iotlb_attach - attach an endpoint to a VMM-managed domain
 * @size: sizeof(struct vhost_iommu_iotlb_attach)
 * @flags: 0 attaches, VHOST_IOMMU_IOTLB_ATTACH_F_DETACH detaches
 * @endpoint: the endpoint id
 * @domain: the domain id, from the same space as the guest's domain ids
 *
 * VHOST_IOMMU_IOTLB_ATTACH creates the VMM-managed domain on first use
 * and moves the endpoint into it (detaching it from any other domain
 * first, which invalidates what its vhost devices were given). A
 * VMM-managed domain dies, with its translations, when its last endpoint
 * leaves it. Errors: ENODEV (unknown endpoint), EEXIST (@domain is a
 * guest-managed domain), ENOENT (F_DETACH: the endpoint is not attached to
 * @domain), EINVAL (unknown flag; the domain has translations in a
 * reserved region of the endpoint), ENOMEM (max_domains reached, or out of
 * memory).
 */
struct vhost_iommu_iotlb_attach {
	__u32 size;
	__u32 flags;
	__u32 endpoint;
	__u32 domain;
};

#define VHOST_IOMMU_IOTLB_ATTACH_F_DETACH	(1 << 0)

/**
 * struct vhost_iommu_iotlb_entry - one translation of a VMM-managed domain
 * @iova: first IOVA, aligned to the granule
 * @size: bytes, a non-zero multiple of the granule; @iova + @size - 1 must
 *	not overflow
 * @gpa: guest-physical address of @iova, aligned to the granule
 *	(INVALIDATE: must be 0)
 * @perm: VHOST_IOMMU_ACCESS_READ and/or _WRITE (INVALIDATE: must be 0)
 * @__reserved: must be 0
 */
struct vhost_iommu_iotlb_entry {
	__aligned_u64 iova;
	__aligned_u64 size;
	__aligned_u64 gpa;
	__u32 perm;
	__u32 __reserved;
};

/* Entries in one VHOST_IOMMU_IOTLB_UPDATE or _INVALIDATE */
#define VHOST_IOMMU_IOTLB_MAX_BATCH	1024

/**
 * struct vhost_iommu_iotlb_batch - entries for a VMM-managed domain
 * @size: sizeof(struct vhost_iommu_iotlb_batch)
 * @flags: must be 0
 * @domain: a VMM-managed domain
 * @nr: entries at @entries, 1 to VHOST_IOMMU_IOTLB_MAX_BATCH
 * @entries: user pointer to an array of struct vhost_iommu_iotlb_entry
 *
 * VHOST_IOMMU_IOTLB_UPDATE adds the translations. They are handed at once
 * to every vhost device bound to an endpoint of the domain, which
 * completes the misses they cover: one update serves every queue pair.
 * An entry may not overlap an existing translation or another entry
 * (invalidate first).
 *
 * VHOST_IOMMU_IOTLB_INVALIDATE removes every translation that intersects
 * an entry's range, whole; before it returns, every bound vhost device
 * has dropped what it was given of them.
 *
 * The batch is checked entirely before anything changes: an error changes
 * nothing. Errors: EINVAL (zero @nr or @size, unknown @perm bits or no
 * permission, @iova, @size or @gpa not aligned to the granule, non-zero
 * reserved fields, INVALIDATE with @gpa or @perm set), E2BIG (@nr too
 * large), EOVERFLOW (@iova + @size - 1 or @gpa + @size - 1 wraps), ENOENT
 * (unknown domain), EPERM (@domain is guest-managed), EEXIST (UPDATE: an
 * overlap), ENOSPC (max_mappings reached), ENOMEM.
 */
struct vhost_iommu_iotlb_batch {
	__u32 size;
	__u32 flags;
	__u32 domain;
	__u32 nr;
	__aligned_u64 entries;
};

/* Flags of struct vhost_iommu_mappings.domain_flags */
#define VHOST_IOMMU_DOMAIN_F_BYPASS	(1 << 0)
#define VHOST_IOMMU_DOMAIN_F_VMM	(1 << 1)

/* In struct vhost_iommu_iotlb_entry.perm of a listing only */
#define VHOST_IOMMU_ACCESS_MMIO		(1 << 2)

/**
 * struct vhost_iommu_mappings - list a domain's mappings, in chunks
 * @size: sizeof(struct vhost_iommu_mappings)
 * @flags: must be 0
 * @domain: a domain id, guest- or VMM-managed
 * @nr: in: room at @entries, 1 to VHOST_IOMMU_IOTLB_MAX_BATCH; out:
 *	entries written
 * @iova: in: the listing starts at the mapping that holds @iova, or at the
 *	first one after it; out: where the next call goes on (the end of the
 *	last entry written, plus one)
 * @entries: user pointer to an array of struct vhost_iommu_iotlb_entry:
 *	@perm is VHOST_IOMMU_ACCESS_READ and/or _WRITE, with
 *	VHOST_IOMMU_ACCESS_MMIO for a mapping the guest made with
 *	VIRTIO_IOMMU_MAP_F_MMIO
 * @domain_flags: out: VHOST_IOMMU_DOMAIN_F_BYPASS (an identity domain of
 *	the guest, which has no mappings), VHOST_IOMMU_DOMAIN_F_VMM (created
 *	by VHOST_IOMMU_IOTLB_ATTACH)
 * @done: out: 1 when no mapping follows the entries written, else 0
 *
 * VHOST_IOMMU_GET_MAPPINGS lists the mappings in IOVA order, for a VMM
 * that must replay a domain (an endpoint it programs itself attached to a
 * domain that has mappings) or compare it. The entries of one call are one
 * snapshot; a domain that changes between calls is listed as it is at
 * each. Errors: EINVAL (unknown flags, @nr 0), E2BIG (@nr too large),
 * ENOENT (unknown domain), EFAULT.
 */
struct vhost_iommu_mappings {
	__u32 size;
	__u32 flags;
	__u32 domain;
	__u32 nr;
	__aligned_u64 iova;
	__aligned_u64 entries;
	__u32 domain_flags;
	__u32 done;
};

/**
 * struct vhost_iommu_iotlb_notify - where to signal queued misses
 * @size: sizeof(struct vhost_iommu_iotlb_notify)
 * @flags: must be 0
 * @fd: an eventfd, signalled when a miss record is queued; -1 for none
 * @__reserved: must be 0
 *
 * VHOST_IOMMU_IOTLB_SET_NOTIFY; EBADF or EINVAL for an @fd that is not an
 * eventfd.
 */
struct vhost_iommu_iotlb_notify {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 __reserved;
};

/**
 * struct vhost_iommu_reset - reset the device, as a virtio reset does
 * @size: sizeof(struct vhost_iommu_reset)
 * @flags: must be 0
 *
 * VHOST_IOMMU_RESET_DEVICE is what a virtio device reset (the driver
 * writes 0 to the device status) and a system reset need. Before it
 * returns:
 * - both queues are stopped, as VHOST_GET_VRING_BASE stops them, and
 *   their indexes are back to 0; the request in flight has completed. Their
 *   size, addresses and eventfds stay until the VMM sets them again, and
 *   setting the kick eventfd starts a queue again;
 * - every domain is gone with its mappings, guest- and VMM-managed alike,
 *   so no endpoint is attached;
 * - @bypass of the configuration is back to its reset value (see
 *   struct vhost_iommu_config);
 * - every bound vhost device has dropped every translation it was given,
 *   bypass translations included;
 * - fault reports not yet posted and miss records not yet read are
 *   dropped (those of a read() in progress are its own).
 * What the VMM set up stays: the owner, the features, the memory table,
 * the rest of the configuration, the endpoints and their reserved regions,
 * the bindings, the miss eventfd, and the statistics' counters.
 * VHOST_RESET_OWNER stays the reset that forgets all of it.
 */
struct vhost_iommu_reset {
	__u32 size;
	__u32 flags;
};

/**
 * DOC: saved state
 *
 * VHOST_IOMMU_SAVE_STATE writes the device's state as a stream the VMM
 * keeps in its own migration stream; VHOST_IOMMU_LOAD_STATE loads it into
 * a fresh device before the guest resumes. The stream starts with a struct
 * vhost_iommu_state_header; records follow, each a struct
 * vhost_iommu_state_rec and its payload, padded to 8 bytes (their layout:
 * Documentation/migration.md). Everything is little-endian.
 *
 * Saved: the configuration (bypass with its reset value), the endpoints
 * and their reserved regions, every domain with its kind, its endpoints
 * and its mappings, the request and event queues' next available index,
 * and the fault reports not yet posted. Not saved: what the VMM sets up
 * again on the destination (owner, features, memory table, vring
 * addresses and eventfds, bindings, the miss eventfd) and the statistics.
 */
#define VHOST_IOMMU_STATE_MAGIC		0x73706976	/* "vips" */
#define VHOST_IOMMU_STATE_VERSION	1

/**
 * struct vhost_iommu_state_header - how a saved state starts
 * @magic: VHOST_IOMMU_STATE_MAGIC
 * @version: VHOST_IOMMU_STATE_VERSION of the kernel that saved it
 * @length: bytes in the stream, this header included
 * @crc: CRC-32 (IEEE 802.3, as zlib's crc32()) of the @length -
 *	sizeof(header) bytes after the header
 * @__reserved: zero
 */
struct vhost_iommu_state_header {
	__le32 magic;
	__le32 version;
	__le64 length;
	__le32 crc;
	__le32 __reserved;
};

/**
 * struct vhost_iommu_state_rec - a record of a saved state
 * @type: what the payload is
 * @__reserved: zero
 * @size: bytes of payload that follow (then padding to 8 bytes)
 */
struct vhost_iommu_state_rec {
	__le16 type;
	__le16 __reserved;
	__le32 size;
};

/**
 * struct vhost_iommu_state - save or load the device state
 * @size: sizeof(struct vhost_iommu_state)
 * @flags: must be 0
 * @buf: user pointer to the stream
 * @len: SAVE: in, the room at @buf; out, the stream's length, also with
 *	ENOSPC. LOAD: the stream's length.
 *
 * VHOST_IOMMU_SAVE_STATE needs both queues stopped (VHOST_GET_VRING_BASE;
 * else EBUSY) and no request held for the report channel (else EBUSY),
 * and fails with ENOSPC, @len set, when @buf is too small.
 *
 * VHOST_IOMMU_LOAD_STATE needs both queues stopped and no domain (else
 * EBUSY), the configuration the stream was saved with (every field but
 * @bypass) and the same endpoints declared with the same reserved regions
 * (else EINVAL; ENODEV when one is missing); it sets @bypass, creates the
 * domains with their mappings and attachments, sets the queues' indexes
 * (as VHOST_SET_VRING_BASE) and queues the fault reports. The whole stream
 * is checked before anything changes: a stream that fails loads nothing.
 * Errors: EINVAL (not a stream: magic, @length), EPROTONOSUPPORT (a newer
 * version), EBADMSG (CRC, or a record that is malformed or out of
 * place), E2BIG (@len above what max_mappings allows), ENOSPC
 * (max_domains or max_mappings), ENOMEM, EFAULT.
 */
struct vhost_iommu_state {
	__u32 size;
	__u32 flags;
	__aligned_u64 buf;
	__aligned_u64 len;
};

/**
 * DOC: report channel
 *
 * An endpoint the VMM programs itself (a VFIO device: its host IOMMU) is
 * declared with VHOST_IOMMU_ENDPOINT_F_REPORT. The guest's requests that
 * change what such an endpoint can reach are then reported to the VMM,
 * synchronously, on the report channel that VHOST_IOMMU_REPORT_OPEN opens:
 * an ATTACH or DETACH of the endpoint, a MAP or UNMAP in a domain it is
 * attached to. The kernel executes the request; if it succeeds, it queues
 * one struct vhost_iommu_report and holds the request: its status is
 * written, and the request queue goes on, only once the VMM has written a
 * struct vhost_iommu_report_answer for it. The answer's status becomes the
 * guest's status. A MAP answered with a failure is undone (its range
 * unmapped); an ATTACH, DETACH or UNMAP answered with a failure stays done
 * in the kernel (removing access is the safe direction; a VMM that cannot
 * follow should reset the device). Requests are executed and reported in
 * ring order, one at a time: at most one record is outstanding.
 *
 * A request that needs a report while no channel is open fails with
 * VIRTIO_IOMMU_S_DEVERR and changes nothing. When the channel is closed
 * with a request held, the request completes with VIRTIO_IOMMU_S_DEVERR (a
 * MAP undone). A VMM that never answers stalls only its own request queue:
 * VHOST_IOMMU_RESET_DEVICE, VHOST_RESET_OWNER and the release of the device
 * drop the held request and the unread record at once (an answer to it
 * then fails with EINVAL). VHOST_GET_VRING_BASE stops the queue with the
 * request still held; an answer is applied when the queue runs again.
 * VHOST_IOMMU_SAVE_STATE fails with EBUSY while a request is held.
 *
 * The channel is its owner's. VHOST_RESET_OWNER and the release of the
 * device hang it up (VHOST_IOMMU_RESET_DEVICE does not: the owner stays):
 * its file stays open but never again carries a record, not even one of a
 * later owner of the device, and its holder can answer none. On a hung-up
 * file read() returns 0 (end of file), write() fails with EPIPE (no
 * SIGPIPE is sent) and poll() reports EPOLLHUP | EPOLLERR, as a pipe whose
 * other end is closed; its waiters are woken. Closing it changes nothing.
 * The owner that follows opens a new channel with VHOST_IOMMU_REPORT_OPEN.
 * For the replay of a domain that has mappings when a REPORT endpoint is
 * attached to it, see VHOST_IOMMU_GET_MAPPINGS.
 */

/**
 * struct vhost_iommu_report_open - open the report channel
 * @size: sizeof(struct vhost_iommu_report_open)
 * @flags: must be 0
 * @fd: out: the channel's file descriptor (O_RDWR, O_CLOEXEC)
 * @__reserved: must be 0
 *
 * VHOST_IOMMU_REPORT_OPEN returns a new file descriptor, the report
 * channel; a device has at most one open (EBUSY while one is; a hung-up
 * one does not count). Closing it closes the channel; it keeps no more of
 * the device than the channel needs, and the device's release does not
 * wait for it.
 *
 * read() on it fetches the pending struct vhost_iommu_report (one record
 * at most; EAGAIN when none is pending: read() never blocks; EINVAL for a
 * buffer smaller than a record). poll() reports EPOLLIN while a record is
 * unread, and EPOLLOUT always. write() takes one struct
 * vhost_iommu_report_answer (EINVAL: another size, a @seq that awaits no
 * answer, an unknown status). Once the channel is hung up (its owner gone,
 * see "report channel"), read() returns 0, write() fails with EPIPE and
 * poll() reports EPOLLHUP | EPOLLERR, whatever the arguments.
 */
struct vhost_iommu_report_open {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 __reserved;
};

/* Types of struct vhost_iommu_report, as VIRTIO_IOMMU_T_* */
#define VHOST_IOMMU_REPORT_T_ATTACH	1
#define VHOST_IOMMU_REPORT_T_DETACH	2
#define VHOST_IOMMU_REPORT_T_MAP	3
#define VHOST_IOMMU_REPORT_T_UNMAP	4

/**
 * struct vhost_iommu_report - a guest request for the VMM, read() from the
 *	report channel
 * @size: the size of this record, sizeof(struct vhost_iommu_report) of the
 *	running kernel. Records may grow at the end: a reader reads the
 *	fields it knows.
 * @type: VHOST_IOMMU_REPORT_T_*
 * @flags: MAP: its VIRTIO_IOMMU_MAP_F_* flags; ATTACH: its
 *	VIRTIO_IOMMU_ATTACH_F_BYPASS flag; else 0
 * @seq: the record's number, increasing per device; the answer names it
 * @domain: the domain
 * @endpoint: ATTACH, DETACH: the endpoint; else 0
 * @virt_start: MAP, UNMAP: the first IOVA; else 0
 * @virt_end: MAP, UNMAP: the last IOVA (inclusive); else 0
 * @phys_start: MAP: the guest-physical address of @virt_start; else 0
 *
 * The request was executed in the kernel and waits for the answer.
 */
struct vhost_iommu_report {
	__u32 size;
	__u16 type;
	__u16 flags;
	__aligned_u64 seq;
	__u32 domain;
	__u32 endpoint;
	__aligned_u64 virt_start;
	__aligned_u64 virt_end;
	__aligned_u64 phys_start;
};

/**
 * struct vhost_iommu_report_answer - the VMM's answer, write() to the
 *	report channel
 * @size: sizeof(struct vhost_iommu_report_answer)
 * @status: the guest's status: VIRTIO_IOMMU_S_OK (0), or a failure up to
 *	VIRTIO_IOMMU_S_NOMEM
 * @seq: the @seq of the record it answers
 */
struct vhost_iommu_report_answer {
	__u32 size;
	__u32 status;
	__aligned_u64 seq;
};

/*
 * Device ioctls. Mainline's VHOST_* ioctls use numbers 0x00 to 0x8f of the
 * VHOST_VIRTIO type; these start at 0xa0.
 */
#define VHOST_IOMMU_GET_CONFIG		_IO(VHOST_VIRTIO, 0xa0)
#define VHOST_IOMMU_SET_CONFIG		_IO(VHOST_VIRTIO, 0xa1)
#define VHOST_IOMMU_ADD_ENDPOINT	_IO(VHOST_VIRTIO, 0xa2)
#define VHOST_IOMMU_DEL_ENDPOINT	_IO(VHOST_VIRTIO, 0xa3)
#define VHOST_IOMMU_GET_STATS		_IO(VHOST_VIRTIO, 0xa4)
#define VHOST_IOMMU_TRANSLATE		_IO(VHOST_VIRTIO, 0xa5)
#define VHOST_IOMMU_BIND_DEVICE		_IO(VHOST_VIRTIO, 0xa6)
#define VHOST_IOMMU_UNBIND_DEVICE	_IO(VHOST_VIRTIO, 0xa7)
#define VHOST_IOMMU_IOTLB_ATTACH	_IO(VHOST_VIRTIO, 0xa8)
#define VHOST_IOMMU_IOTLB_UPDATE	_IO(VHOST_VIRTIO, 0xa9)
#define VHOST_IOMMU_IOTLB_INVALIDATE	_IO(VHOST_VIRTIO, 0xaa)
#define VHOST_IOMMU_IOTLB_SET_NOTIFY	_IO(VHOST_VIRTIO, 0xab)
#define VHOST_IOMMU_RESET_DEVICE	_IO(VHOST_VIRTIO, 0xac)
#define VHOST_IOMMU_GET_MAPPINGS	_IO(VHOST_VIRTIO, 0xad)
#define VHOST_IOMMU_SAVE_STATE		_IO(VHOST_VIRTIO, 0xae)
#define VHOST_IOMMU_LOAD_STATE		_IO(VHOST_VIRTIO, 0xaf)
#define VHOST_IOMMU_REPORT_OPEN		_IO(VHOST_VIRTIO, 0xb0)

/* The names of the first version, which bound vhost-net only */
#define VHOST_IOMMU_BIND_NET		VHOST_IOMMU_BIND_DEVICE
#define VHOST_IOMMU_UNBIND_NET		VHOST_IOMMU_UNBIND_DEVICE

#endif /* _UAPI_LINUX_VHOST_IOMMU_H */
