// SPDX-License-Identifier: GPL-2.0
/*
 * A virtio-net guest driver over the stock /dev/vhost-net with a tap
 * backend, and a userspace device-IOTLB relay, for the vhost-iommu
 * selftests. See vnet.h.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>

#include "vnet.h"

#define RING_USED_OFF	VWIN_USED_OFF

/* Guest memory (vwin.c) */

void *vnet_ptr(struct vnet *v, uint64_t gpa)
{
	return vwin_ptr(&v->win, gpa);
}

uint64_t vnet_hva(struct vnet *v, uint64_t gpa)
{
	return vwin_hva(&v->win, gpa);
}

uint64_t vnet_buf_gpa(struct vnet *v, unsigned int q, unsigned int id)
{
	return vwin_buf_gpa(&v->win, q, id);
}

void vnet_mem_region(struct vnet *v, struct vhost_memory_region *r)
{
	vwin_mem_region(&v->win, r);
}

/* The IOVA table */

int vnet_map_add(struct vnet *v, uint64_t iova, uint64_t gpa, uint64_t size)
{
	int ret = 0;

	if ((iova | gpa | size) & (VNET_PAGE - 1) || !size ||
	    iova + size - 1 < iova)
		return vt_fail(-EINVAL, "map %#llx+%#llx: not page aligned",
			    (unsigned long long)iova,
			    (unsigned long long)size);
	if (!vwin_contains(&v->win, gpa, size))
		return vt_fail(-EINVAL, "map to GPA %#llx+%#llx: outside memory",
			    (unsigned long long)gpa,
			    (unsigned long long)size);
	pthread_mutex_lock(&v->lock);
	if (v->nmaps == VNET_MAX_MAPS) {
		ret = vt_fail(-ENOSPC, "IOVA table full");
	} else {
		v->map[v->nmaps].iova = iova;
		v->map[v->nmaps].gpa = gpa;
		v->map[v->nmaps].size = size;
		v->nmaps++;
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void vnet_map_clear(struct vnet *v)
{
	pthread_mutex_lock(&v->lock);
	v->nmaps = 0;
	pthread_mutex_unlock(&v->lock);
}

/* Under lock */
static const struct vnet_map *map_by_iova(struct vnet *v, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < v->nmaps; i++)
		if (iova >= v->map[i].iova &&
		    iova - v->map[i].iova < v->map[i].size)
			return &v->map[i];
	return NULL;
}

uint64_t vnet_iova(struct vnet *v, uint64_t gpa)
{
	uint64_t iova = VNET_NO_IOVA;
	unsigned int i;

	if (!v->opts.iommu)
		return gpa;
	pthread_mutex_lock(&v->lock);
	for (i = 0; i < v->nmaps; i++) {
		if (gpa >= v->map[i].gpa &&
		    gpa - v->map[i].gpa < v->map[i].size) {
			iova = v->map[i].iova + gpa - v->map[i].gpa;
			break;
		}
	}
	pthread_mutex_unlock(&v->lock);
	return iova;
}

uint64_t vnet_buf_iova(struct vnet *v, unsigned int q, unsigned int id)
{
	return vnet_iova(v, vnet_buf_gpa(v, q, id));
}

int vnet_iova_to_gpa(struct vnet *v, uint64_t iova, uint64_t *gpa)
{
	const struct vnet_map *m;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	m = map_by_iova(v, iova);
	if (m)
		*gpa = m->gpa + iova - m->iova;
	else
		ret = -ENOENT;
	pthread_mutex_unlock(&v->lock);
	return ret;
}

static int fill_table(struct vnet *v)
{
	uint64_t npages = VNET_MEM_SIZE / VNET_PAGE, p;
	uint64_t base = v->opts.scatter_base ? v->opts.scatter_base :
			VNET_SCATTER_BASE;
	int ret = 0;

	switch (v->opts.mode) {
	case VNET_IOVA_IDENTITY:
		return vnet_map_add(v, v->gpa_base, v->gpa_base,
				    VNET_MEM_SIZE);
	case VNET_IOVA_OFFSET:
		return vnet_map_add(v, v->gpa_base + VNET_OFFSET,
				    v->gpa_base, VNET_MEM_SIZE);
	case VNET_IOVA_SCATTER:
		/*
		 * Page p at slot (p * 2053 + 7) mod 4 * npages: a permutation
		 * (2053 is odd, the modulus a power of 2) that leaves holes
		 * and puts neighbouring pages far apart.
		 */
		for (p = 0; p < npages && !ret; p++)
			ret = vnet_map_add(v, base +
					   ((p * 2053 + 7) % (4 * npages)) *
					   VNET_PAGE,
					   v->gpa_base + p * VNET_PAGE,
					   VNET_PAGE);
		return ret;
	case VNET_IOVA_MANUAL:
		return 0;
	}
	return vt_fail(-EINVAL, "unknown IOVA mode %d", v->opts.mode);
}

/* The device IOTLB */

int vnet_iotlb_msg(int fd, uint8_t type, uint64_t iova, uint64_t size,
		   uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = perm;
	n = write(fd, &m, sizeof(m));
	if (n < 0)
		return vt_fail(-errno, "IOTLB message %u %#llx+%#llx: %m", type,
			    (unsigned long long)iova,
			    (unsigned long long)size);
	if (n != sizeof(m))
		return vt_fail(-EIO, "IOTLB message: short write %zd", n);
	return 0;
}

/* Under lock: one UPDATE for the page holding @iova */
static int update_page(struct vnet *v, uint64_t iova)
{
	const struct vnet_map *m;
	uint64_t page = iova & ~(VNET_PAGE - 1);

	m = map_by_iova(v, page);
	if (!m)
		return vt_fail(-ENOENT, "IOVA %#llx not in the table",
			    (unsigned long long)iova);
	return vnet_iotlb_msg(v->fd, VHOST_IOTLB_UPDATE, page, VNET_PAGE,
			      vnet_hva(v, m->gpa + page - m->iova),
			      VHOST_ACCESS_RW);
}

int vnet_iotlb_update(struct vnet *v, uint64_t iova, uint64_t size)
{
	uint64_t a, end = iova + size;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	for (a = iova & ~(VNET_PAGE - 1); a < end && !ret; a += VNET_PAGE)
		ret = update_page(v, a);
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/*
 * Under the table lock, like the relay's lookup and UPDATE, so that no
 * UPDATE computed before the INVALIDATE is written after it.
 */
int vnet_iotlb_invalidate(struct vnet *v, uint64_t iova, uint64_t size)
{
	int ret;

	pthread_mutex_lock(&v->lock);
	ret = vnet_iotlb_msg(v->fd, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0);
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* The userspace relay */

static bool refused(struct vnet *v, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < v->nrefuse; i++)
		if (page < v->refuse[i].iova + v->refuse[i].size &&
		    v->refuse[i].iova < page + VNET_PAGE)
			return true;
	return false;
}

static void relay_serve(struct vnet *v, const struct vhost_iotlb_msg *msg)
{
	uint64_t page = msg->iova & ~(VNET_PAGE - 1);

	pthread_mutex_lock(&v->lock);
	v->stats.misses++;
	if (refused(v, page))
		v->stats.refused++;
	else if (!map_by_iova(v, page))
		v->stats.unmapped++;
	else if (update_page(v, page))
		v->stats.errors++;
	else
		v->stats.served++;
	pthread_mutex_unlock(&v->lock);
}

static void *relay_main(void *arg)
{
	struct vnet *v = arg;
	struct pollfd p[2] = {
		{ .fd = v->fd, .events = POLLIN },
		{ .fd = v->relay_stop, .events = POLLIN },
	};
	struct vhost_msg_v2 m;
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		for (;;) {
			n = read(v->fd, &m, sizeof(m));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n != sizeof(m) || m.type != VHOST_IOTLB_MSG_V2) {
				pthread_mutex_lock(&v->lock);
				v->stats.errors++;
				pthread_mutex_unlock(&v->lock);
				/* EBADFD and the like: do not spin */
				usleep(1000);
				break;
			}
			if (m.iotlb.type == VHOST_IOTLB_MISS)
				relay_serve(v, &m.iotlb);
		}
	}
	return NULL;
}

int vnet_relay_start(struct vnet *v)
{
	int fl, ret;

	if (v->relay_running)
		return 0;
	fl = fcntl(v->fd, F_GETFL);
	if (fl < 0 || fcntl(v->fd, F_SETFL, fl | O_NONBLOCK))
		return vt_fail(-errno, "O_NONBLOCK on vhost-net: %m");
	if (v->relay_stop < 0) {
		v->relay_stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->relay_stop < 0)
			return vt_fail(-errno, "eventfd: %m");
	}
	ret = pthread_create(&v->relay, NULL, relay_main, v);
	if (ret)
		return vt_fail(-ret, "pthread_create: %s", strerror(ret));
	v->relay_running = true;
	return 0;
}

void vnet_relay_stop(struct vnet *v)
{
	uint64_t one = 1, c;

	if (!v->relay_running)
		return;
	if (write(v->relay_stop, &one, sizeof(one)) != sizeof(one))
		abort();
	pthread_join(v->relay, NULL);
	v->relay_running = false;
	if (read(v->relay_stop, &c, sizeof(c)) != sizeof(c))
		c = 0;
}

void vnet_relay_stats(struct vnet *v, struct vnet_relay_stats *s)
{
	pthread_mutex_lock(&v->lock);
	*s = v->stats;
	pthread_mutex_unlock(&v->lock);
}

int vnet_relay_refuse(struct vnet *v, uint64_t iova, uint64_t size)
{
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	if (v->nrefuse == VNET_MAX_REFUSE) {
		ret = vt_fail(-ENOSPC, "too many refused ranges");
	} else {
		v->refuse[v->nrefuse].iova = iova;
		v->refuse[v->nrefuse].size = size;
		v->nrefuse++;
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void vnet_relay_allow(struct vnet *v)
{
	pthread_mutex_lock(&v->lock);
	v->nrefuse = 0;
	pthread_mutex_unlock(&v->lock);
}

/* Frames */

static const uint8_t vnet_dst[ETH_ALEN] = { 0x02, 0x76, 0x6e, 0x65, 0x74, 0x02 };
static const uint8_t vnet_src[ETH_ALEN] = { 0x02, 0x76, 0x6e, 0x65, 0x74, 0x01 };

#define FRAME_SEQ_OFF	ETH_HLEN
#define FRAME_DATA_OFF	(ETH_HLEN + 4)

uint32_t vnet_frame_len(uint32_t seq)
{
	return VNET_FRAME_MIN +
	       (seq * 397u) % (VNET_FRAME_MAX - VNET_FRAME_MIN + 1);
}

static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

void vnet_frame_fill(uint8_t *f, uint32_t seq, uint32_t len)
{
	uint32_t be = htonl(seq), i;

	memcpy(f, vnet_dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, vnet_src, ETH_ALEN);
	f[12] = VNET_ETHERTYPE >> 8;
	f[13] = VNET_ETHERTYPE & 0xff;
	memcpy(f + FRAME_SEQ_OFF, &be, 4);
	for (i = FRAME_DATA_OFF; i < len; i++)
		f[i] = pattern(seq, i);
}

uint32_t vnet_frame_seq(const uint8_t *f)
{
	uint32_t be;

	memcpy(&be, f + FRAME_SEQ_OFF, 4);
	return ntohl(be);
}

int vnet_frame_check(const uint8_t *f, uint32_t len, uint32_t seq,
		     uint32_t want_len)
{
	uint8_t ref[VNET_FRAME_MAX];
	uint32_t i;

	if (len != want_len)
		return vt_fail(-EBADMSG, "frame %u: %u bytes, expected %u", seq,
			    len, want_len);
	if (want_len > VNET_FRAME_MAX || want_len < FRAME_DATA_OFF)
		return vt_fail(-EINVAL, "frame %u: bad length %u", seq, want_len);
	vnet_frame_fill(ref, seq, want_len);
	for (i = 0; i < len; i++)
		if (f[i] != ref[i])
			return vt_fail(-EBADMSG,
				    "frame %u: byte %u is %#x, expected %#x",
				    seq, i, f[i], ref[i]);
	return 0;
}

/* Rings */

bool vnet_used_pending(struct vnet *v, unsigned int q)
{
	return vq_used_pending(&v->vq[q]);
}

int vnet_kick(struct vnet *v, unsigned int q)
{
	return vwin_kick(&v->vq[q]);
}

int vnet_err_count(struct vnet *v, unsigned int q, uint64_t *count)
{
	return vwin_err_count(&v->vq[q], count);
}

int vnet_wait_used(struct vnet *v, unsigned int q, uint32_t *id,
		   uint32_t *len, int timeout_ms)
{
	return vwin_wait_used(&v->vq[q], id, len, timeout_ms);
}

static int post(struct vnet *v, unsigned int q, unsigned int id,
		uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vq *vq = &v->vq[q];

	if (!v->started)
		return vt_fail(-EINVAL, "vnet_start() first");
	if (id >= vq->num || vq->shadow[id].ndesc)
		return vt_fail(-EBUSY, "queue %u: descriptor %u busy or invalid",
			       q, id);
	if (addr == VNET_NO_IOVA)
		return vt_fail(-EFAULT, "queue %u: buffer %u has no IOVA", q, id);
	return vq_post_id(vq, id, addr, len, flags);
}

/* Ring @q at the IOVAs the table gives its GPAs with iommu */
static int ring_setup(struct vnet *v, unsigned int q)
{
	uint64_t gpa[3], addr[3];
	unsigned int i;

	vwin_ring_gpa(&v->win, q, gpa);
	for (i = 0; i < 3; i++)
		addr[i] = v->opts.iommu ? vnet_iova(v, gpa[i]) :
					  vnet_hva(v, gpa[i]);
	return vwin_ring_setup(&v->win, &v->vq[q], q, v->opts.num, addr);
}

/* The tap device and the packet sockets */

static int ipv6_off(const char *ifname)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : vt_fail(-errno, "open %s: %m", path);
	if (write(fd, "1\n", 2) != 2) {
		close(fd);
		return vt_fail(-errno, "write %s: %m", path);
	}
	close(fd);
	return 0;
}

static int tap_open(struct vnet *v)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int hdr = VNET_HDR_LEN, one = 1, rcvbuf = 8 << 20, ret;

	v->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (v->tap < 0)
		return vt_fail(-errno, "open /dev/net/tun: %m");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strcpy(ifr.ifr_name, "vnettap%d");
	if (ioctl(v->tap, TUNSETIFF, &ifr))
		return vt_fail(-errno, "TUNSETIFF: %m");
	memcpy(v->ifname, ifr.ifr_name, IFNAMSIZ);
	v->ifname[IFNAMSIZ - 1] = 0;
	if (ioctl(v->tap, TUNSETVNETHDRSZ, &hdr))
		return vt_fail(-errno, "TUNSETVNETHDRSZ: %m");
	ret = ipv6_off(v->ifname);
	if (ret)
		return ret;

	/* Protocol 0: this socket sends only, it never receives. */
	v->inj = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (v->inj < 0)
		return vt_fail(-errno, "socket AF_PACKET: %m");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, v->ifname);
	if (ioctl(v->inj, SIOCGIFINDEX, &ifr))
		return vt_fail(-errno, "SIOCGIFINDEX %s: %m", v->ifname);
	v->ifindex = ifr.ifr_ifindex;
	if (ioctl(v->inj, SIOCGIFFLAGS, &ifr))
		return vt_fail(-errno, "SIOCGIFFLAGS %s: %m", v->ifname);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(v->inj, SIOCSIFFLAGS, &ifr))
		return vt_fail(-errno, "SIOCSIFFLAGS %s up: %m", v->ifname);

	/* Bound after IFF_UP: a socket bound to a down device is ENETDOWN. */
	v->cap = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
			htons(VNET_ETHERTYPE));
	if (v->cap < 0)
		return vt_fail(-errno, "socket AF_PACKET: %m");
	setsockopt(v->cap, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		   sizeof(one));
	if (setsockopt(v->cap, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)))
		setsockopt(v->cap, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			   sizeof(rcvbuf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(VNET_ETHERTYPE);
	sll.sll_ifindex = v->ifindex;
	if (bind(v->cap, (struct sockaddr *)&sll, sizeof(sll)))
		return vt_fail(-errno, "bind capture socket to %s: %m",
			    v->ifname);
	return 0;
}

/* Setup and teardown */

int vnet_init(struct vnet *v, const struct vnet_opts *o)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->tap = -1;
	v->cap = -1;
	v->inj = -1;
	v->relay_stop = -1;
	vwin_vqs_reset(v->vq, VNET_NQ);
	pthread_mutex_init(&v->lock, NULL);
	if (o)
		v->opts = *o;
	if (!v->opts.num)
		v->opts.num = VNET_NUM;
	ret = vwin_init(&v->win, v->opts.gpa_base ? v->opts.gpa_base :
			VNET_GPA_BASE, VNET_MEM_SIZE, VNET_NUM);
	if (ret)
		return ret;
	if (v->opts.num > VNET_NUM || v->opts.num & (v->opts.num - 1))
		return vt_fail(-EINVAL, "ring size %u", v->opts.num);

	ret = vwin_map(&v->win, "vnet-guest", v->opts.mem);
	if (ret)
		return ret;
	if (v->opts.iommu) {
		ret = fill_table(v);
		if (ret)
			return ret;
	}

	v->fd = open(VNET_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return vt_fail(-errno, "open %s: %m", VNET_DEV_PATH);
	if (v->opts.worker != VNET_WORKER_DEFAULT) {
		__u8 fork = v->opts.worker == VNET_WORKER_TASK ?
			    VHOST_FORK_OWNER_TASK : VHOST_FORK_OWNER_KTHREAD;

		if (ioctl(v->fd, VHOST_SET_FORK_FROM_OWNER, &fork))
			return vt_fail(-errno, "VHOST_SET_FORK_FROM_OWNER: %m");
	}
	/* A mask of feature bits, not the bit number. */
	ret = vwin_vhost_init(&v->win, v->opts.iommu, v->opts.iotlb_v1 ? 0 :
			      1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2);
	if (ret)
		return ret;
	ret = vwin_vqs_open(v->vq, VNET_NQ, v->opts.num);
	return ret ? ret : tap_open(v);
}

int vnet_set_backend(struct vnet *v, unsigned int q, int fd, int timeout_ms)
{
	struct vhost_vring_file f = { .index = q, .fd = fd };
	uint64_t end = vt_now_ms() + timeout_ms, c;
	unsigned int efault = 0;

	/*
	 * SET_BACKEND writes the used ring's flags through the device
	 * IOTLB: EFAULT with a MISS queued until whoever serves misses
	 * answers it.
	 */
	while (ioctl(v->fd, VHOST_NET_SET_BACKEND, &f)) {
		if (errno != EFAULT || !v->opts.iommu || vt_now_ms() >= end)
			return vt_fail(-errno, "VHOST_NET_SET_BACKEND %u: %m", q);
		v->backend_efault++;
		efault++;
		usleep(2000);
	}
	/* The failed attempts signalled the error eventfd: expected. */
	if (efault)
		vnet_err_count(v, q, &c);
	return 0;
}

int vnet_start(struct vnet *v)
{
	unsigned int q;
	int ret;

	for (q = 0; q < VNET_NQ; q++) {
		ret = ring_setup(v, q);
		if (ret)
			return ret;
	}
	v->started = true;
	if (v->opts.relay) {
		ret = vnet_relay_start(v);
		if (ret)
			return ret;
	}
	if (v->opts.no_backend)
		return 0;
	for (q = 0; q < VNET_NQ; q++) {
		if (v->opts.iommu && v->opts.prefault) {
			ret = vnet_iotlb_update(v, vnet_iova(v, v->gpa_base +
					VNET_RING_OFF(q) + RING_USED_OFF),
					VNET_PAGE);
			if (ret)
				return ret;
		}
		ret = vnet_set_backend(v, q, v->tap, VNET_TIMEOUT_MS);
		if (ret)
			return ret;
	}
	return 0;
}

void vnet_close_vhost(struct vnet *v)
{
	vnet_relay_stop(v);
	vt_close_fd(&v->fd);
}

void vnet_close_tap(struct vnet *v)
{
	vt_close_fd(&v->tap);
}

void vnet_fini(struct vnet *v)
{
	vnet_close_vhost(v);
	vnet_close_tap(v);
	vt_close_fd(&v->cap);
	vt_close_fd(&v->inj);
	vt_close_fd(&v->relay_stop);
	vwin_vqs_fini(v->vq, VNET_NQ);
	vwin_unmap(&v->win);
	v->started = false;
}

/* TX */

int vnet_tx_post(struct vnet *v, unsigned int id, uint32_t seq, uint32_t len)
{
	uint64_t gpa = vnet_buf_gpa(v, VNET_TXQ, id);

	return vnet_tx_post_at(v, id, gpa, vnet_iova(v, gpa), seq, len);
}

int vnet_tx_post_at(struct vnet *v, unsigned int id, uint64_t gpa,
		    uint64_t addr, uint32_t seq, uint32_t len)
{
	uint8_t *p;

	if (len < FRAME_DATA_OFF || len > VNET_FRAME_MAX || id >= v->opts.num)
		return vt_fail(-EINVAL, "TX frame %u: bad length %u or id %u",
			    seq, len, id);
	if (!vwin_contains(&v->win, gpa, VNET_HDR_LEN + len))
		return vt_fail(-EINVAL, "TX frame %u at GPA %#llx: outside memory",
			    seq, (unsigned long long)gpa);
	p = vnet_ptr(v, gpa);
	memset(p, 0, VNET_HDR_LEN);
	vnet_frame_fill(p + VNET_HDR_LEN, seq, len);
	return post(v, VNET_TXQ, id, addr, VNET_HDR_LEN + len, 0);
}

int vnet_capture(struct vnet *v, uint8_t *f, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = v->cap, .events = POLLIN };
	uint64_t end = vt_now_ms() + timeout_ms, now;
	ssize_t n;

	for (;;) {
		n = recv(v->cap, f, size, MSG_DONTWAIT | MSG_TRUNC);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return vt_fail(-errno, "recv on %s: %m", v->ifname);
		now = vt_now_ms();
		if (now >= end)
			return vt_fail(-ETIMEDOUT, "no frame on %s in %d ms",
				    v->ifname, timeout_ms);
		if (poll(&p, 1, end - now) < 0 && errno != EINTR)
			return vt_fail(-errno, "poll capture: %m");
	}
}

int vnet_capture_expect(struct vnet *v, uint32_t seq, uint32_t len,
			int timeout_ms)
{
	uint8_t f[VNET_FRAME_MAX + 64];
	int n = vnet_capture(v, f, sizeof(f), timeout_ms);

	if (n < 0)
		return n;
	if (n < FRAME_DATA_OFF)
		return vt_fail(-EBADMSG, "captured a %d-byte frame", n);
	if (vnet_frame_seq(f) != seq)
		return vt_fail(-EBADMSG, "captured frame %u, expected %u",
			    vnet_frame_seq(f), seq);
	return vnet_frame_check(f, n, seq, len);
}

static unsigned int free_ids(struct vnet *v, unsigned int q, unsigned int *ids,
			     unsigned int max)
{
	struct vq *vq = &v->vq[q];
	unsigned int id, n = 0;

	for (id = 0; id < vq->num && n < max; id++)
		if (!vq->shadow || !vq->shadow[id].ndesc)
			ids[n++] = id;
	return n;
}

/*
 * Frames seq .. seq + n - 1 in batches on the lowest free descriptors, one
 * kick per batch; every used entry is consumed and every frame captured
 * and compared.
 */
int vnet_tx_frames(struct vnet *v, uint32_t seq, unsigned int n)
{
	uint8_t f[VNET_FRAME_MAX + 64];
	unsigned int ids[VNET_NUM], done = 0, batch, i;
	bool seen[VNET_NUM];
	uint32_t id, len, s;
	int ret;

	while (done < n) {
		batch = free_ids(v, VNET_TXQ, ids, n - done);
		if (!batch)
			return vt_fail(-ENOSPC, "no free TX descriptor");
		for (i = 0; i < batch; i++) {
			s = seq + done + i;
			ret = vnet_tx_post(v, ids[i], s, vnet_frame_len(s));
			if (ret)
				return ret;
		}
		ret = vnet_kick(v, VNET_TXQ);
		if (ret)
			return ret;
		for (i = 0; i < batch; i++) {
			ret = vnet_wait_used(v, VNET_TXQ, &id, &len,
					     VNET_TIMEOUT_MS);
			if (ret)
				return ret;
		}
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < batch; i++) {
			ret = vnet_capture(v, f, sizeof(f), VNET_TIMEOUT_MS);
			if (ret < 0)
				return ret;
			if (ret < FRAME_DATA_OFF)
				return vt_fail(-EBADMSG, "captured %d bytes", ret);
			s = vnet_frame_seq(f) - seq - done;
			if (s >= batch || seen[s])
				return vt_fail(-EBADMSG,
					    "captured frame %u, not expected",
					    vnet_frame_seq(f));
			seen[s] = true;
			ret = vnet_frame_check(f, ret, vnet_frame_seq(f),
					       vnet_frame_len(vnet_frame_seq(f)));
			if (ret)
				return ret;
		}
		done += batch;
	}
	return 0;
}

/* RX */

int vnet_rx_post(struct vnet *v, unsigned int id)
{
	uint64_t gpa = vnet_buf_gpa(v, VNET_RXQ, id);

	if (id >= v->opts.num)
		return vt_fail(-EINVAL, "RX id %u", id);
	memset(vnet_ptr(v, gpa), VNET_RX_FILL, VNET_BUF_LEN);
	return post(v, VNET_RXQ, id, vnet_iova(v, gpa), VNET_BUF_LEN,
		    VRING_DESC_F_WRITE);
}

int vnet_rx_inject(struct vnet *v, uint32_t seq, uint32_t len)
{
	uint8_t f[VNET_FRAME_MAX];
	struct sockaddr_ll sll;
	ssize_t n;

	if (len < FRAME_DATA_OFF || len > VNET_FRAME_MAX)
		return vt_fail(-EINVAL, "RX frame %u: bad length %u", seq, len);
	vnet_frame_fill(f, seq, len);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(VNET_ETHERTYPE);
	sll.sll_ifindex = v->ifindex;
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, vnet_dst, ETH_ALEN);
	n = sendto(v->inj, f, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	if (n < 0)
		return vt_fail(-errno, "send frame %u on %s: %m", seq, v->ifname);
	if (n != len)
		return vt_fail(-EIO, "send frame %u: %zd of %u bytes", seq, n,
			    len);
	return 0;
}

/*
 * The used buffer @id holds the 12-byte header (a plain frame: no flags,
 * no GSO), then the frame, then the fill byte up to the buffer's end.
 * num_buffers (bytes 10-11) is not checked: without MRG_RXBUF neither tap
 * nor vhost-net writes it.
 */
int vnet_rx_check(struct vnet *v, unsigned int id, uint32_t used_len,
		  uint32_t seq, uint32_t len)
{
	const uint8_t *b = vnet_ptr(v, vnet_buf_gpa(v, VNET_RXQ, id));
	uint32_t i;
	int ret;

	if (used_len != VNET_HDR_LEN + len)
		return vt_fail(-EBADMSG, "RX frame %u: used length %u, expected %u",
			    seq, used_len, VNET_HDR_LEN + len);
	for (i = 0; i < 10; i++)
		if (b[i])
			return vt_fail(-EBADMSG, "RX frame %u: header byte %u is %#x",
				    seq, i, b[i]);
	ret = vnet_frame_check(b + VNET_HDR_LEN, len, seq, len);
	if (ret)
		return ret;
	for (i = VNET_HDR_LEN + len; i < VNET_BUF_LEN; i++)
		if (b[i] != VNET_RX_FILL)
			return vt_fail(-EBADMSG,
				    "RX frame %u: byte %u past the frame written",
				    seq, i);
	return 0;
}

/*
 * Frames seq .. seq + n - 1: buffers posted on the lowest free descriptors
 * (one kick per batch), the frames sent out of the tap netdev, every used
 * entry consumed and compared. Buffers posted earlier may take frames.
 */
int vnet_rx_frames(struct vnet *v, uint32_t seq, unsigned int n)
{
	unsigned int ids[VNET_NUM], done = 0, batch, i;
	bool seen[VNET_NUM];
	uint32_t id, len, s;
	const uint8_t *b;
	int ret;

	while (done < n) {
		batch = free_ids(v, VNET_RXQ, ids, n - done);
		if (!batch)
			return vt_fail(-ENOSPC, "no free RX descriptor");
		for (i = 0; i < batch; i++) {
			ret = vnet_rx_post(v, ids[i]);
			if (ret)
				return ret;
		}
		ret = vnet_kick(v, VNET_RXQ);
		if (ret)
			return ret;
		for (i = 0; i < batch; i++) {
			s = seq + done + i;
			ret = vnet_rx_inject(v, s, vnet_frame_len(s));
			if (ret)
				return ret;
		}
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < batch; i++) {
			ret = vnet_wait_used(v, VNET_RXQ, &id, &len,
					     VNET_TIMEOUT_MS);
			if (ret)
				return ret;
			b = vnet_ptr(v, vnet_buf_gpa(v, VNET_RXQ, id));
			if (len < VNET_HDR_LEN + FRAME_DATA_OFF)
				return vt_fail(-EBADMSG, "RX used length %u", len);
			s = vnet_frame_seq(b + VNET_HDR_LEN) - seq - done;
			if (s >= batch || seen[s])
				return vt_fail(-EBADMSG,
					    "RX frame %u, not expected",
					    vnet_frame_seq(b + VNET_HDR_LEN));
			seen[s] = true;
			s += seq + done;
			ret = vnet_rx_check(v, id, len, s, vnet_frame_len(s));
			if (ret)
				return ret;
		}
		done += batch;
	}
	return 0;
}
