// SPDX-License-Identifier: GPL-2.0
/*
 * vsock-xfer: one stream over AF_VSOCK, for make check-qemu (busybox has no
 * vsock). Built static, for L1 (the test VM, vhost-vsock) and for L2 (the
 * guest, virtio-vsock behind the IOMMU).
 *
 * usage: vsock-xfer listen PORT OUT     accept one connection, write what
 *                                       it sends to OUT, print its size
 *        vsock-xfer send CID PORT IN    connect (retrying for up to 60 s
 *                                       while nobody listens), send IN
 *
 * Exit 0 when the whole stream went through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define RETRIES	600	/* connect attempts, 100 ms apart */

static int copy(int in, int out, unsigned long long *total)
{
	static char buf[65536];
	ssize_t n, w, off;

	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		for (off = 0; off < n; off += w) {
			w = write(out, buf + off, n - off);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return -1;
		}
		*total += n;
	}
}

static struct sockaddr_vm vsock_addr(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a;

	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_cid = cid;
	a.svm_port = port;
	return a;
}

static int do_listen(unsigned int port, const char *path)
{
	struct sockaddr_vm a = vsock_addr(VMADDR_CID_ANY, port);
	unsigned long long total = 0;
	int s, c, out;

	s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		perror("vsock-xfer: listen");
		return 1;
	}
	c = accept(s, NULL, NULL);
	if (c < 0) {
		perror("vsock-xfer: accept");
		return 1;
	}
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || copy(c, out, &total) || close(out)) {
		perror("vsock-xfer: receive");
		return 1;
	}
	printf("%llu\n", total);
	return 0;
}

static int do_send(unsigned int cid, unsigned int port, const char *path)
{
	struct sockaddr_vm a = vsock_addr(cid, port);
	unsigned long long total = 0;
	int s = -1, in, i;

	in = open(path, O_RDONLY);
	if (in < 0) {
		perror("vsock-xfer: open");
		return 1;
	}
	for (i = 0; i < RETRIES; i++) {
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0) {
			perror("vsock-xfer: socket");
			return 1;
		}
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(s);
		s = -1;
		usleep(100000);
	}
	if (s < 0) {
		perror("vsock-xfer: connect");
		return 1;
	}
	if (copy(in, s, &total) || shutdown(s, SHUT_WR)) {
		perror("vsock-xfer: send");
		return 1;
	}
	/* The peer closes once it has everything. */
	while (read(s, &i, sizeof(i)) > 0)
		;
	printf("%llu\n", total);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return do_listen(strtoul(argv[2], NULL, 0), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send(strtoul(argv[2], NULL, 0),
			       strtoul(argv[3], NULL, 0), argv[4]);
	fprintf(stderr, "usage: vsock-xfer listen PORT OUT | send CID PORT IN\n");
	return 2;
}
