// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the virtio-iommu device in the host kernel.
 *
 * This file holds the character device /dev/vhost-iommu: open, release and
 * ioctl dispatch.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/vhost_iommu.h>
#include <linux/virtio_config.h>
#include <linux/virtio_iommu.h>
#include <linux/virtio_ring.h>

#include "iommu.h"

static int vhost_iommu_open(struct inode *inode, struct file *f)
{
	struct vhost_iommu *vi;

	vi = kzalloc(sizeof(*vi), GFP_KERNEL_ACCOUNT);
	if (!vi)
		return -ENOMEM;
	f->private_data = vi;
	return 0;
}

static int vhost_iommu_release(struct inode *inode, struct file *f)
{
	struct vhost_iommu *vi = f->private_data;

	kfree(vi);
	return 0;
}

static long vhost_iommu_ioctl(struct file *f, unsigned int ioctl,
			      unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	u64 features;

	switch (ioctl) {
	case VHOST_GET_FEATURES:
		features = VHOST_IOMMU_FEATURES;
		if (copy_to_user(argp, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vhost_iommu_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_iommu_open,
	.release	= vhost_iommu_release,
	.unlocked_ioctl	= vhost_iommu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhost_iommu_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "vhost-iommu",
	.fops		= &vhost_iommu_fops,
	.mode		= 0600,
};

module_misc_device(vhost_iommu_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Host kernel accelerator for virtio-iommu");
