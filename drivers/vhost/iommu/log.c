// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-iommu: the dirty log (VHOST_F_LOG_ALL).
 *
 * While the VMM migrates the guest, every write of the device into guest
 * memory marks its pages in the VMM's log: a bitmap in the owner's memory
 * (VHOST_SET_LOG_BASE), one bit per VHOST_IOMMU_LOG_PAGE bytes of
 * guest-physical address, bit n in byte n / 8 at bit n % 8: vhost's
 * format, for QEMU shares one log among all its vhost devices. So a bit is
 * set atomically, on the pinned page: other vhost devices set bits in the
 * same words, and the VMM takes and clears them, while we write.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "log.h"

/*
 * Sets bits [@bit, @bit + @n) of the log page at user address @page,
 * within the page. Returns 0 or -EFAULT.
 */
static int vhost_iommu_log_bits(unsigned long page, u64 bit, u64 n)
{
	struct page *p;
	void *map;
	u64 i;

	if (pin_user_pages_fast(page, 1, FOLL_WRITE, &p) != 1)
		return -EFAULT;
	map = kmap_local_page(p);
	for (i = 0; i < n; i++)
		set_bit(bit + i, map);
	kunmap_local(map);
	unpin_user_pages_dirty_lock(&p, 1, true);
	return 0;
}

/**
 * vhost_iommu_log_write() - log a write into guest memory
 * @base: the log (VHOST_SET_LOG_BASE), NULL when the VMM gave none
 * @gpa: guest-physical address written
 * @len: bytes written
 *
 * One pin per page of the log: a write of up to 128 MiB of guest memory
 * sets its bits with one. Context: the owner's mm, may sleep.
 * Return: 0 or -EFAULT (no log, or a log the owner cannot write).
 */
int vhost_iommu_log_write(void __user *base, u64 gpa, u64 len)
{
	unsigned long start = (unsigned long)base;
	u64 first, last, log, bit, n;
	int ret;

	if (!len)
		return 0;
	if (!base || gpa + (len - 1) < gpa)
		return -EFAULT;
	first = gpa / VHOST_IOMMU_LOG_PAGE;
	last = (gpa + (len - 1)) / VHOST_IOMMU_LOG_PAGE;
	for (;;) {
		log = start + first / 8;
		if (log < start || log != (unsigned long)log)
			return -EFAULT;
		bit = (log % PAGE_SIZE) * 8 + first % 8;
		n = min_t(u64, last - first + 1, PAGE_SIZE * 8 - bit);
		ret = vhost_iommu_log_bits(log & PAGE_MASK, bit, n);
		if (ret)
			return ret;
		if (last - first < n)
			return 0;
		first += n;
		cond_resched();
	}
}

/**
 * vhost_iommu_log_access_ok() - whether the log's bits of a range are
 *	user memory
 * @base: the log
 * @gpa: first guest-physical address
 * @len: bytes
 *
 * The check VHOST_SET_LOG_BASE and friends make, as vhost's: a log that
 * cannot cover guest memory is refused up front; one that covers it in
 * address but is not mapped fails at the write (a ring error).
 */
bool vhost_iommu_log_access_ok(void __user *base, u64 gpa, u64 len)
{
	u64 first, last;

	if (!len)
		return true;
	if (gpa + (len - 1) < gpa)
		return false;
	first = gpa / VHOST_IOMMU_LOG_PAGE / 8;
	last = (gpa + (len - 1)) / VHOST_IOMMU_LOG_PAGE / 8;
	if ((unsigned long)base + first < (unsigned long)base)
		return false;
	return access_ok(base + first, last - first + 1);
}
