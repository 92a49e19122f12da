// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-iommu selftests: the trace replay tool (replay.c, make replay).
 *
 * Replays the real-guest traces in data/ (the shared sample of a QEMU 7.2
 * guest's lifecycle and our own capture, see data/capture.sh) one request
 * at a time and in batches: every request must get the status the guest
 * got from QEMU, and the trace's live set must match the device's. Then
 * small traces written here: lines the tool does not understand are
 * counted, not fatal; a status the device does not give, a MAP the trace
 * claims succeeded although it cannot have, a live set the device does not
 * have, all end in exit status 1; an unreadable trace in 2.
 *
 * Runs ./replay, next to this binary; prints its output as TAP comments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define REPLAY		"./replay"
#define SAMPLE		"data/qemu72-virtio-iommu-lifecycle.trace.log.gz"
#define CAPTURE		"data/qemu72-linux61-strict-io.trace.log.gz"
#define TMP_TRACE	"/tmp/replay_test.trace"
#define OUT_MAX		(64 * 1024)
/*
 * A hang guard for the real traces, never a measurement: one request at a
 * time, the debug kernel replays our trace at about 300 requests/s.
 */
#define REAL_TIMEOUT	900

/*
 * Runs replay with @args (NULL-terminated, after the program name), its
 * output (stdout and stderr) in @out. Returns its exit status, or -1.
 */
static int run_replay(const char * const *args, char *out, size_t len)
{
	const char *argv[16] = { REPLAY };
	size_t n = 0, i;
	int pfd[2], st;
	pid_t pid;

	for (i = 0; args[i] && i + 2 < 16; i++)
		argv[i + 1] = args[i];
	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		/* A test killed by its timeout takes replay with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(REPLAY, (char * const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char sink[4096];
		ssize_t r;

		if (n + 1 < len)
			r = read(pfd[0], out + n, len - n - 1);
		else
			r = read(pfd[0], sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + 1 < len)
			n += r;
	}
	out[n] = 0;
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Shows the output as TAP comments. */
static void show(const char *out)
{
	const char *p = out, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		fprintf(stderr, "#   %.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

/* The number after @key in the output, or -1 */
static long long figure(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static int write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, buf, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

/*
 * Writes TMP_TRACE: the lines of @head (unless NULL), then those of @tail,
 * each with a line end.
 */
static int write_trace(const char * const *head, size_t nhead,
		       const char * const *tail, size_t ntail)
{
	FILE *f = fopen(TMP_TRACE, "w");
	size_t i;

	if (!f)
		return -1;
	for (i = 0; head && i < nhead; i++)
		fprintf(f, "%s\n", head[i]);
	for (i = 0; i < ntail; i++)
		fprintf(f, "%s\n", tail[i]);
	return fclose(f) ? -1 : 0;
}

/* Replays TMP_TRACE; its exit status, with the output in @out; or -1. */
static int replay_tmp(char *out)
{
	static const char * const args[] = { TMP_TRACE, NULL };

	return run_replay(args, out, OUT_MAX);
}

FIXTURE(replay) {
	char *out;
};

FIXTURE_SETUP(replay)
{
	self->out = malloc(OUT_MAX);
	ASSERT_NE(NULL, self->out);
	self->out[0] = 0;
}

FIXTURE_TEARDOWN(replay)
{
	show(self->out);
	free(self->out);
	unlink(TMP_TRACE);
}

/* A real guest's trace: everything succeeds, the live set matches. */
static void real_trace(struct __test_metadata *_metadata, char *out,
		       const char *path, const char *batch,
		       long long requests)
{
	const char *args[4];

	args[0] = "-b";
	args[1] = batch;
	args[2] = path;
	args[3] = NULL;
	ASSERT_EQ(0, run_replay(args, out, OUT_MAX));
	EXPECT_EQ(0, figure(out, "mismatches: "));
	EXPECT_EQ(0, figure(out, "not understood "));
	EXPECT_EQ(0, figure(out, "trace inconsistencies: "));
	EXPECT_NE(NULL, strstr(out, "status histogram: OK="));
	EXPECT_EQ(NULL, strstr(out, "status histogram: OK= "));
	if (requests >= 0)
		EXPECT_EQ(requests, figure(out, "requests replayed: "));
	EXPECT_LT(0, figure(out, "requests replayed: "));
}

TEST_F_TIMEOUT(replay, sample, REAL_TIMEOUT)
{
	if (access(SAMPLE, R_OK))
		SKIP(return, "no %s", SAMPLE);
	real_trace(_metadata, self->out, SAMPLE, "1", 9002);
	/* The summary's live set at the end: 251 + 3 + 2 mappings */
	EXPECT_EQ(256, figure(self->out, "live-set checks: "));
}

TEST_F_TIMEOUT(replay, sample_batch, REAL_TIMEOUT)
{
	if (access(SAMPLE, R_OK))
		SKIP(return, "no %s", SAMPLE);
	real_trace(_metadata, self->out, SAMPLE, "256", 9002);
}

TEST_F_TIMEOUT(replay, capture, REAL_TIMEOUT)
{
	if (access(CAPTURE, R_OK))
		SKIP(return, "no %s", CAPTURE);
	real_trace(_metadata, self->out, CAPTURE, "1", -1);
}

TEST_F_TIMEOUT(replay, capture_batch, REAL_TIMEOUT)
{
	if (access(CAPTURE, R_OK))
		SKIP(return, "no %s", CAPTURE);
	real_trace(_metadata, self->out, CAPTURE, "64", -1);
}

/* A small session: probe, attach, map, unmap, a second device, detach */
static const char * const good[] = {
	"1@1.000001:virtio_iommu_get_config page_size_mask=0xfffffffffffff000 input range start=0x0 input range end=0xffffffffffffffff domain range start=0 domain range end=-1 probe_size=0x200 bypass=0x1",
	"1@1.000002:virtio_iommu_fill_resv_property dev= 16, type=1 start=0xfee00000 end=0xfeefffff",
	"1@1.000003:virtio_iommu_attach domain=1 endpoint=16",
	"1@1.000004:virtio_iommu_switch_address_space Device 00:02.0 switching address space (iommu enabled=1)",
	"1@1.000005:virtio_iommu_map domain=1 virt_start=0xffffe000 virt_end=0xffffffff phys_start=0x1300000 flags=3",
	"1@1.000006:virtio_iommu_map domain=1 virt_start=0xffffd000 virt_end=0xffffdfff phys_start=0x1400000 flags=1",
	"1@1.000007:virtio_iommu_unmap domain=1 virt_start=0xffffe000 virt_end=0xffffffff",
	"1@1.000008:virtio_iommu_attach domain=2 endpoint=24",
	"1@1.000009:virtio_iommu_map domain=2 virt_start=0xfffff000 virt_end=0xffffffff phys_start=0x2000 flags=2",
	"1@1.000010:virtio_iommu_detach domain=2 endpoint=24",
};

#define GOOD_REQUESTS	8

TEST_F(replay, good)
{
	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), NULL, 0));
	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(GOOD_REQUESTS, figure(self->out, "requests replayed: "));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
	EXPECT_EQ(0, figure(self->out, "not understood "));
}

/* Lines that are not understood are counted and shown, never fatal. */
TEST_F(replay, garbage_counted)
{
	static const char * const junk[] = {
		"hello world",
		"virtio_iommu",
		"1@1.1:virtio_iommu_map domain=1 virt_start=0x1000",
		"1@1.1:virtio_iommu_map domain=1 virt_start=0x1000 virt_end=0x1fff phys_start=0x123456789abcdef0123 flags=3",
		"1@1.1:virtio_iommu_map domain=1 virt_start=0x1000 virt_end=0x1fff phys_start=0x0 flags=3x",
		"1@1.1:virtio_iommu_attach domain=-2147483649 endpoint=16",
		"1@1.1:virtio_iommu_attach domain=4294967296 endpoint=16",
		"1@1.1:virtio_iommu_attach domain=1 endpoint=16 status=SOMETIMES",
		"1@1.1:virtio_iommu_fill_resv_property dev= 16, type=1 start=0xfee00000",
		"1@1.1:virtio_iommu_switch_address_space Device zz:02.0 switching address space (iommu enabled=1)",
		"1@1.1:virtio_iommu_switch_address_space Device 00:02.0 switching address space (iommu enabled=2)",
		"1@1.1:virtio_iommu_get_config page_size_mask=0x1000",
		"1@1.1:virtio_iommu_frobnicate domain=1",
		"1@1.1:virtio_iommu_a_very_long_event_name_that_goes_on_and_on x=1",
		"1@1.1:vfio_region_read (0000:00:02.0:region0+0x0, 4) = 0x0",
		"12345:virtio_iommu_attach domain=1 endpoint=16",
		"1@:virtio_iommu_attach_ domain=1 endpoint=16",
	};
	static const char nul_line[] =
		"1@1.1:virtio_iommu_attach\0domain=1 endpoint=16\n";
	const size_t nlong = 20000, nrand = 64;
	unsigned int seed = 1, i, j;
	FILE *f;

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), NULL, 0));
	f = fopen(TMP_TRACE, "a");
	ASSERT_NE(NULL, f);
	/* Each junk line, then a blank line (ignored, not counted) */
	for (i = 0; i < ARRAY_SIZE(junk); i++)
		fprintf(f, "%s\n\n", junk[i]);
	/* Too long */
	for (i = 0; i < nlong; i++)
		fputc('x', f);
	fputc('\n', f);
	/* A NUL byte in a request line */
	fwrite(nul_line, 1, sizeof(nul_line) - 1, f);
	/* Random bytes */
	for (i = 0; i < nrand; i++) {
		fputc('X', f);
		for (j = 0; j < 200; j++) {
			char c;

			seed = seed * 1103515245 + 12345;
			c = seed >> 16;
			fputc(c == '\n' ? '.' : c, f);
		}
		fputc('\n', f);
	}
	/* The session goes on; the last line has no line end. */
	fputs("1@1.2:virtio_iommu_attach domain=2 endpoint=24", f);
	ASSERT_EQ(0, fclose(f));

	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(ARRAY_SIZE(junk) + 2 + nrand,
		  figure(self->out, "not understood "));
	EXPECT_EQ(GOOD_REQUESTS + 1, figure(self->out, "requests replayed: "));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
}

/* A status the device does not give: exit status 1 */
TEST_F(replay, wrong_status)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_map domain=1 virt_start=0x10000 virt_end=0x10fff phys_start=0x0 flags=1 status=INVAL",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(1, replay_tmp(self->out));
	EXPECT_EQ(1, figure(self->out, "(status "));
	EXPECT_NE(NULL, strstr(self->out, "line 11: MAP"));
	/* QEMU did not map it, the device did: the live sets differ too. */
	EXPECT_LT(0, figure(self->out, ", live set "));
}

/* A MAP over a live mapping cannot succeed: the trace is wrong. */
TEST_F(replay, overlap_claimed_ok)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_map domain=1 virt_start=0xffffc000 virt_end=0xffffdfff phys_start=0x0 flags=1",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(1, replay_tmp(self->out));
	EXPECT_EQ(1, figure(self->out, "(status "));
	EXPECT_EQ(1, figure(self->out, "trace inconsistencies: "));
}

/* Requests expected to fail, with status=NAME or a number */
TEST_F(replay, expected_failures)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_map domain=1 virt_start=0xffffc000 virt_end=0xffffdfff phys_start=0x0 flags=1 status=INVAL",
		"1@1.3:virtio_iommu_map domain=1 virt_start=0x1800 virt_end=0x1fff phys_start=0x0 flags=1 status=RANGE",
		"1@1.4:virtio_iommu_map domain=7 virt_start=0x1000 virt_end=0x1fff phys_start=0x0 flags=1 status=6",
		"1@1.5:virtio_iommu_unmap domain=1 virt_start=0xffffd000 virt_end=0xffffd7ff status=RANGE",
		"1@1.6:virtio_iommu_detach domain=1 endpoint=99 status=INVAL",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
	EXPECT_NE(NULL, strstr(self->out, " INVAL=2 RANGE=2 NOENT=1\n"));
}

/* ATTACH's bypass flag, from the last address space switch of the device */
TEST_F(replay, bypass_attach)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_attach domain=4 endpoint=16",
		"1@1.3:virtio_iommu_switch_address_space Device 00:02.0 switching address space (iommu enabled=0)",
		"1@1.4:virtio_iommu_put_domain Free domain=1",
		"1@1.5:virtio_iommu_switch_address_space Device 00:02.0 switching address space (iommu enabled=0)",
		"1@1.6:virtio_iommu_map domain=4 virt_start=0x1000 virt_end=0x1fff phys_start=0x0 flags=1 status=INVAL",
		"1@1.7:virtio_iommu_attach domain=5 endpoint=24",
		"1@1.8:virtio_iommu_switch_address_space Device 00:03.0 switching address space (iommu enabled=0)",
		"1@1.9:virtio_iommu_switch_address_space Device 00:03.0 switching address space (iommu enabled=1)",
		"1@1.10:virtio_iommu_map domain=5 virt_start=0x1000 virt_end=0x1fff phys_start=0x0 flags=1",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
	EXPECT_NE(NULL, strstr(self->out, "attach flags: 1 bypass, 3 translated"));
}

/* After a device reset every domain is gone and ids are reused. */
TEST_F(replay, device_reset)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_device_reset reset!",
		"1@1.3:virtio_iommu_attach domain=1 endpoint=16",
		"1@1.4:virtio_iommu_map domain=1 virt_start=0xffffd000 virt_end=0xffffdfff phys_start=0x1400000 flags=1",
		"1@1.5:virtio_iommu_map domain=2 virt_start=0x0 virt_end=0xfff phys_start=0x0 flags=1 status=NOENT",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
	EXPECT_EQ(1, figure(self->out, "device resets: "));
}

/* QEMU says it removed a mapping the UNMAP did not cover: the device kept it. */
TEST_F(replay, live_set_differs)
{
	static const char * const lines[] = {
		"1@1.1:virtio_iommu_attach domain=1 endpoint=16",
		"1@1.2:virtio_iommu_map domain=1 virt_start=0x1000 virt_end=0x1fff phys_start=0x0 flags=1",
		"1@1.3:virtio_iommu_map domain=1 virt_start=0x10000 virt_end=0x10fff phys_start=0x0 flags=1",
		"1@1.4:virtio_iommu_unmap domain=1 virt_start=0x1000 virt_end=0x1fff",
		"1@1.5:virtio_iommu_unmap_done domain=1 virt_start=0x1000 virt_end=0x1fff",
		"1@1.6:virtio_iommu_unmap_done domain=1 virt_start=0x10000 virt_end=0x10fff",
	};

	ASSERT_EQ(0, write_trace(NULL, 0, lines, ARRAY_SIZE(lines)));
	ASSERT_EQ(1, replay_tmp(self->out));
	EXPECT_EQ(0, figure(self->out, "(status "));
	/* The mapping counts differ; 0x10000 and 0x10fff still translate. */
	EXPECT_EQ(3, figure(self->out, ", live set "));
}

/*
 * PROBEs whose regions differ from the endpoint's: the device has the
 * union of what the trace's PROBEs showed, so both differ.
 */
TEST_F(replay, probe_differs)
{
	static const char * const tail[] = {
		"1@1.2:virtio_iommu_fill_resv_property dev= 16, type=0 start=0x1000 end=0x1fff",
	};

	ASSERT_EQ(0, write_trace(good, ARRAY_SIZE(good), tail, ARRAY_SIZE(tail)));
	ASSERT_EQ(1, replay_tmp(self->out));
	EXPECT_EQ(2, figure(self->out, "(status "));
	EXPECT_NE(NULL, strstr(self->out, "PROBE endpoint=16"));
}

/*
 * PROBE buffers of 64 KiB, 1024 requests per kick: a batch is cut before
 * its buffers wrap around the guest memory of the test VMM.
 */
TEST_F(replay, probe_batch_64k)
{
	static const char * const args[] = { "-b", "1024", TMP_TRACE, NULL };
	static const char * const config[] = {
		"1@1.1:virtio_iommu_get_config page_size_mask=0xfffffffffffff000 input range start=0x0 input range end=0xffffffffffffffff domain range start=0 domain range end=-1 probe_size=0x10000 bypass=0x0",
	};
	unsigned int i;
	FILE *f;

	ASSERT_EQ(0, write_trace(config, ARRAY_SIZE(config), NULL, 0));
	f = fopen(TMP_TRACE, "a");
	ASSERT_NE(NULL, f);
	/* The same region again: a PROBE of its own */
	for (i = 0; i < 300; i++)
		fprintf(f,
			"1@1.2:virtio_iommu_fill_resv_property dev= %u, type=1 start=0xfee00000 end=0xfeefffff\n",
			8 + i % 3);
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, run_replay(args, self->out, OUT_MAX));
	EXPECT_EQ(300, figure(self->out, "PROBE "));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
}

/* An unreadable trace is an error, not a replay: exit status 2 */
TEST_F(replay, truncated_gzip)
{
	struct stat st;
	char *buf;
	int fd;

	if (access(SAMPLE, R_OK))
		SKIP(return, "no %s", SAMPLE);
	ASSERT_EQ(0, stat(SAMPLE, &st));
	buf = malloc(st.st_size);
	ASSERT_NE(NULL, buf);
	fd = open(SAMPLE, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(st.st_size, read(fd, buf, st.st_size));
	close(fd);
	ASSERT_EQ(0, write_file(TMP_TRACE, buf, st.st_size / 2));
	free(buf);
	ASSERT_EQ(2, replay_tmp(self->out));
	EXPECT_NE(NULL, strstr(self->out, "reading the trace"));
}

TEST_F(replay, no_file)
{
	static const char * const args[] = { "/nonexistent/trace", NULL };

	ASSERT_EQ(2, run_replay(args, self->out, OUT_MAX));
}

TEST_F(replay, empty_trace)
{
	ASSERT_EQ(0, write_trace(NULL, 0, NULL, 0));
	ASSERT_EQ(0, replay_tmp(self->out));
	EXPECT_EQ(0, figure(self->out, "requests replayed: "));
	EXPECT_EQ(0, figure(self->out, "mismatches: "));
}

TEST_HARNESS_MAIN
