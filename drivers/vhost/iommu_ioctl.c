// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the device ioctls of <linux/vhost_iommu.h>.
 *
 * Argument handling only: every struct starts with its size, is copied with
 * copy_struct_from_user() (so newer, larger structs work when the bytes
 * this kernel does not know are zero) and has its reserved fields checked
 * before the domain store sees it.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommu.h"

/**
 * vhost_iommu_arg_in() - copy a size-first ioctl argument in
 * @dst: the kernel's struct
 * @ksize: its size
 * @minsz: the size of the struct's first version
 * @argp: the user's struct, its size in the first u32
 * @usize: set to the user's size
 *
 * Return: 0, -EFAULT, -EINVAL (smaller than @minsz) or -E2BIG (larger than
 * VHOST_IOMMU_ARG_MAX, or unknown trailing bytes not zero).
 */
int vhost_iommu_arg_in(void *dst, size_t ksize, size_t minsz,
		       void __user *argp, u32 *usize)
{
	if (get_user(*usize, (u32 __user *)argp))
		return -EFAULT;
	if (*usize < minsz)
		return -EINVAL;
	/* The zero-tail scan must not walk gigabytes under the mutex. */
	if (*usize > VHOST_IOMMU_ARG_MAX)
		return -E2BIG;
	return copy_struct_from_user(dst, ksize, argp, *usize);
}

/* Copies a struct out, no more than the caller's size. */
static int vhost_iommu_arg_out(void __user *argp, void *src, size_t ksize,
			       u32 usize)
{
	*(u32 *)src = min_t(size_t, usize, ksize);
	if (copy_to_user(argp, src, min_t(size_t, usize, ksize)))
		return -EFAULT;
	return 0;
}

static bool vhost_iommu_config_valid(const struct vhost_iommu_config *c)
{
	u64 granule = c->page_size_mask & -c->page_size_mask;

	return !c->flags && !memchr_inv(c->__reserved, 0, sizeof(c->__reserved)) &&
	       granule >= SZ_4K && c->input_start <= c->input_end &&
	       c->domain_start <= c->domain_end && c->bypass <= 1 &&
	       !(c->probe_size % 4) && c->probe_size <= SZ_64K;
}

static long vhost_iommu_ioctl_config(struct vhost_iommu *vi,
				     unsigned int ioctl, void __user *argp)
{
	struct vhost_iommu_config cfg;
	u32 usize;
	int ret;

	ret = vhost_iommu_arg_in(&cfg, sizeof(cfg), sizeof(cfg), argp, &usize);
	if (ret)
		return ret;
	if (ioctl == VHOST_IOMMU_GET_CONFIG) {
		if (cfg.flags ||
		    memchr_inv(cfg.__reserved, 0, sizeof(cfg.__reserved)))
			return -EINVAL;
		vhost_iommu_get_config(vi, &cfg);
		return vhost_iommu_arg_out(argp, &cfg, sizeof(cfg), usize);
	}
	if (!vhost_iommu_config_valid(&cfg))
		return -EINVAL;
	cfg.size = sizeof(cfg);
	return vhost_iommu_set_config(vi, &cfg);
}

static bool vhost_iommu_resv_valid(const struct vhost_iommu_resv_region *r,
				   u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		if (r[i].start > r[i].end ||
		    r[i].subtype > VHOST_IOMMU_RESV_MSI ||
		    memchr_inv(r[i].__reserved, 0, sizeof(r[i].__reserved)))
			return false;
		for (j = 0; j < i; j++)
			if (r[i].start <= r[j].end && r[j].start <= r[i].end)
				return false;
	}
	return true;
}

static struct vhost_iommu_ep *
vhost_iommu_endpoint_from_user(const struct vhost_iommu_endpoint *arg)
{
	struct vhost_iommu_resv_region *regions;
	struct vhost_iommu_ep *ep;
	u32 i;

	regions = memdup_user(u64_to_user_ptr(arg->resv),
			      arg->nr_resv * sizeof(*regions));
	if (IS_ERR(regions))
		return ERR_CAST(regions);
	ep = ERR_PTR(-EINVAL);
	if (!vhost_iommu_resv_valid(regions, arg->nr_resv))
		goto out_free;
	ep = kzalloc(struct_size(ep, resv, arg->nr_resv), VHOST_IOMMU_GFP);
	if (!ep) {
		ep = ERR_PTR(-ENOMEM);
		goto out_free;
	}
	ep->id = arg->endpoint;
	ep->nr_resv = arg->nr_resv;
	for (i = 0; i < arg->nr_resv; i++) {
		ep->resv[i].start = regions[i].start;
		ep->resv[i].end = regions[i].end;
		ep->resv[i].subtype = regions[i].subtype;
	}
out_free:
	kfree(regions);
	return ep;
}

static long vhost_iommu_ioctl_endpoint(struct vhost_iommu *vi,
				       unsigned int ioctl, void __user *argp)
{
	struct vhost_iommu_endpoint arg;
	struct vhost_iommu_ep *ep;
	u32 usize;
	int ret;

	ret = vhost_iommu_arg_in(&arg, sizeof(arg), sizeof(arg), argp, &usize);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	if (ioctl == VHOST_IOMMU_DEL_ENDPOINT) {
		if (arg.nr_resv || arg.resv)
			return -EINVAL;
		vhost_iommu_unbind_endpoint(vi, arg.endpoint);
		return vhost_iommu_endpoint_del(vi, arg.endpoint);
	}
	if (arg.nr_resv > VHOST_IOMMU_MAX_RESV)
		return -E2BIG;
	ep = vhost_iommu_endpoint_from_user(&arg);
	if (IS_ERR(ep))
		return PTR_ERR(ep);
	ret = vhost_iommu_endpoint_add(vi, ep);
	if (ret)
		kfree(ep);
	return ret;
}

/**
 * vhost_iommu_ioctl_stats() - VHOST_IOMMU_GET_STATS
 * @vi: the device
 * @argp: the argument
 *
 * Context: the owner, without vhost_iommu.mutex (see vhost_iommu_ioctl()).
 * Return: 0 or a negative errno.
 */
long vhost_iommu_ioctl_stats(struct vhost_iommu *vi, void __user *argp)
{
	struct vhost_iommu_stats st;
	u32 usize;
	int ret;

	ret = vhost_iommu_arg_in(&st, sizeof(st),
				 offsetofend(struct vhost_iommu_stats, endpoints),
				 argp, &usize);
	if (ret)
		return ret;
	if (st.__reserved)
		return -EINVAL;
	vhost_iommu_fill_stats(vi, &st);
	return vhost_iommu_arg_out(argp, &st, sizeof(st), usize);
}

/**
 * vhost_iommu_ioctl_translate() - VHOST_IOMMU_TRANSLATE
 * @vi: the device
 * @argp: the argument
 * @locked: vhost_iommu.mutex is held
 *
 * Context: the owner. A fault report (VHOST_IOMMU_TRANSLATE_F_REPORT)
 * queues work for the worker, which must not stop meanwhile: it needs
 * vhost_iommu.mutex. Without a report, the mutex is not needed (see
 * vhost_iommu_ioctl()).
 * Return: 0 or a negative errno; -EAGAIN without @locked for a report.
 */
long vhost_iommu_ioctl_translate(struct vhost_iommu *vi, void __user *argp,
				 bool locked)
{
	u32 access = VHOST_IOMMU_ACCESS_READ | VHOST_IOMMU_ACCESS_WRITE;
	struct vhost_iommu_translate t;
	u32 usize;
	int ret;

	ret = vhost_iommu_arg_in(&t, sizeof(t), sizeof(t), argp, &usize);
	if (ret)
		return ret;
	if ((t.flags & ~VHOST_IOMMU_TRANSLATE_F_REPORT) || t.__reserved ||
	    !t.access || (t.access & ~access))
		return -EINVAL;
	/* Decided on this copy: the VMM may rewrite the flags meanwhile. */
	if ((t.flags & VHOST_IOMMU_TRANSLATE_F_REPORT) && !locked)
		return -EAGAIN;
	ret = vhost_iommu_translate(vi, &t);
	if (ret) {
		/* A report is posted, or dropped, before we return. */
		if (t.flags & VHOST_IOMMU_TRANSLATE_F_REPORT)
			vhost_iommu_flush(vi);
		return ret;
	}
	return vhost_iommu_arg_out(argp, &t, sizeof(t), usize);
}

static long vhost_iommu_ioctl_bind(struct vhost_iommu *vi, unsigned int ioctl,
				   void __user *argp)
{
	struct vhost_iommu_bind arg;
	u32 usize;
	int ret;

	ret = vhost_iommu_arg_in(&arg, sizeof(arg), sizeof(arg), argp, &usize);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	if (ioctl == VHOST_IOMMU_UNBIND_NET)
		return vhost_iommu_unbind(vi, arg.endpoint, arg.fd);
	return vhost_iommu_bind(vi, arg.endpoint, arg.fd);
}

/**
 * vhost_iommu_device_ioctl() - the VHOST_IOMMU_* ioctls
 * @vi: the device
 * @ioctl: the ioctl number
 * @argp: its argument
 *
 * Context: vhost_iommu.mutex held, the caller is the owner.
 * Return: 0 or a negative errno, as documented in the uapi header.
 */
long vhost_iommu_device_ioctl(struct vhost_iommu *vi, unsigned int ioctl,
			      void __user *argp)
{
	switch (ioctl) {
	case VHOST_IOMMU_GET_CONFIG:
	case VHOST_IOMMU_SET_CONFIG:
		return vhost_iommu_ioctl_config(vi, ioctl, argp);
	case VHOST_IOMMU_ADD_ENDPOINT:
	case VHOST_IOMMU_DEL_ENDPOINT:
		return vhost_iommu_ioctl_endpoint(vi, ioctl, argp);
	case VHOST_IOMMU_TRANSLATE:
		return vhost_iommu_ioctl_translate(vi, argp, true);
	case VHOST_IOMMU_BIND_NET:
	case VHOST_IOMMU_UNBIND_NET:
		return vhost_iommu_ioctl_bind(vi, ioctl, argp);
	case VHOST_IOMMU_IOTLB_ATTACH:
	case VHOST_IOMMU_IOTLB_UPDATE:
	case VHOST_IOMMU_IOTLB_INVALIDATE:
	case VHOST_IOMMU_IOTLB_SET_NOTIFY:
		return vhost_iommu_iotlb_ioctl(vi, ioctl, argp);
	default:
		return -ENOTTY;
	}
}
