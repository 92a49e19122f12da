// SPDX-License-Identifier: GPL-2.0
/*
 * prof_plugin: a QEMU 7.2 TCG plugin that counts the guest instructions
 * executed at every address between marker instructions, for
 * 'make profile' (Documentation/bench.md, "Profile").
 *
 * A marker is a no-op the guest program executes on purpose:
 *
 *	nopw 0x56494fXY(%rax,%rax,1)	66 0f 1f 84 00 XY 4f 49 56
 *
 * X = 1 opens window Y (0 to 7): from there on, executed instructions
 * count for it; X = 2 closes it. A window may open and close many times
 * (slices of a benchmark taking turns with another), and only one is open
 * at a time. X = 3 writes every window that counted anything, for every
 * instruction address, "WINDOW ADDRESS COUNT" (hex address, decimal
 * count), then "# window W instructions N", and starts them all afresh.
 * profile-report.sh names the addresses (kernel: /proc/kallsyms of the
 * VM; user space: the symbols of the benchmark, a static binary) and adds
 * them up per function.
 *
 * Every translated block gets an inline counter of its executions (no
 * helper call, so the guest runs at nearly full TCG speed); opening a
 * window notes every counter, closing it adds what each grew by to the
 * block's count for that window. Counted per block: an exception in the
 * middle of a block (a page fault) counts the block's later instructions
 * once too often. The counters are plain adds: one vCPU (-smp 1), as
 * 'make profile' runs it; -icount makes the run reproducible (and the
 * guest's clock then reads one nanosecond per instruction counted here)
 * but does not change what is counted.
 *
 * Build: cc -shared -fPIC -I<dir of QEMU 7.2's include/qemu/qemu-plugin.h>,
 * the header of the QEMU that loads it (Debian's qemu-system-x86 7.2 is
 * built with plugin support).
 * Use: qemu-system-x86_64 -smp 1 -plugin prof_plugin.so,out=FILE ...
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARK_LEN	9
#define MARK_TAG	0x56494f00U	/* "VIO" in the displacement */
#define MARK_OPEN	0x10
#define MARK_CLOSE	0x20
#define MARK_DUMP	0x30
#define NWIN		8

/* One translated block: its executions and the address of every insn */
struct block {
	uint64_t count;		/* inline counter */
	uint64_t base;		/* @count when the open window opened */
	uint64_t *win;		/* NWIN counts, once a window counted it */
	unsigned int n;
	uint64_t vaddr[];
};

static struct {
	pthread_mutex_t lock;	/* @blocks, @nblocks, the windows */
	struct block **blocks;
	size_t nblocks, cap;
	int open;		/* the open window, or -1 */
	FILE *out;
} prof = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.open = -1,
};

static const uint8_t mark_prefix[5] = { 0x66, 0x0f, 0x1f, 0x84, 0x00 };

/* The marker's operation (MARK_* | window), or -1 */
static int mark_op(struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != MARK_LEN ||
	    memcmp(b, mark_prefix, sizeof(mark_prefix)))
		return -1;
	disp = b[5] | b[6] << 8 | b[7] << 16 | (uint32_t)b[8] << 24;
	if ((disp & ~0xffU) != MARK_TAG)
		return -1;
	return disp & 0xff;
}

static void window_open(int w)
{
	size_t i;

	if (prof.open >= 0)
		fprintf(prof.out, "# window %d opened in window %d\n", w,
			prof.open);
	for (i = 0; i < prof.nblocks; i++)
		prof.blocks[i]->base = prof.blocks[i]->count;
	prof.open = w;
}

static void window_close(int w)
{
	uint64_t d;
	size_t i;

	if (prof.open != w) {
		fprintf(prof.out, "# window %d closed, not open\n", w);
		return;
	}
	for (i = 0; i < prof.nblocks; i++) {
		struct block *b = prof.blocks[i];

		d = b->count - b->base;
		if (!d)
			continue;
		if (!b->win)
			b->win = calloc(NWIN, sizeof(*b->win));
		if (!b->win) {
			fprintf(prof.out, "# window %d: out of memory\n", w);
			continue;
		}
		b->win[w] += d;
	}
	prof.open = -1;
}

static void windows_dump(void)
{
	uint64_t total[NWIN] = { 0 };
	unsigned int j;
	size_t i;
	int w;

	for (i = 0; i < prof.nblocks; i++) {
		struct block *b = prof.blocks[i];

		for (w = 0; b->win && w < NWIN; w++) {
			if (!b->win[w])
				continue;
			for (j = 0; j < b->n; j++)
				fprintf(prof.out, "%d %016llx %llu\n", w,
					(unsigned long long)b->vaddr[j],
					(unsigned long long)b->win[w]);
			total[w] += b->win[w] * b->n;
			b->win[w] = 0;
		}
	}
	for (w = 0; w < NWIN; w++)
		if (total[w])
			fprintf(prof.out, "# window %d instructions %llu\n",
				w, (unsigned long long)total[w]);
	fflush(prof.out);
}

static void mark_exec(unsigned int vcpu, void *udata)
{
	int op = (int)(uintptr_t)udata;

	pthread_mutex_lock(&prof.lock);
	if ((op & 0xf0) == MARK_OPEN && (op & 0xf) < NWIN)
		window_open(op & 0xf);
	else if ((op & 0xf0) == MARK_CLOSE && (op & 0xf) < NWIN)
		window_close(op & 0xf);
	else if ((op & 0xf0) == MARK_DUMP)
		windows_dump();
	pthread_mutex_unlock(&prof.lock);
}

static int add_block(struct block *b)
{
	struct block **nb;

	if (prof.nblocks == prof.cap) {
		prof.cap = prof.cap ? 2 * prof.cap : 65536;
		nb = realloc(prof.blocks, prof.cap * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		prof.blocks = nb;
	}
	/* A block translated while a window is open counts from 0. */
	prof.blocks[prof.nblocks++] = b;
	return 0;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;
	struct qemu_plugin_insn *insn;
	struct block *b;
	int op;

	b = calloc(1, sizeof(*b) + n * sizeof(b->vaddr[0]));
	if (!b)
		return;
	b->n = n;
	for (i = 0; i < n; i++) {
		insn = qemu_plugin_tb_get_insn(tb, i);
		b->vaddr[i] = qemu_plugin_insn_vaddr(insn);
		op = mark_op(insn);
		if (op >= 0)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
							       QEMU_PLUGIN_CB_NO_REGS,
							       (void *)(uintptr_t)op);
	}
	pthread_mutex_lock(&prof.lock);
	if (add_block(b)) {
		pthread_mutex_unlock(&prof.lock);
		free(b);
		return;
	}
	pthread_mutex_unlock(&prof.lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	pthread_mutex_lock(&prof.lock);
	if (prof.open >= 0)
		fprintf(prof.out, "# window %d never closed\n", prof.open);
	windows_dump();
	fclose(prof.out);
	prof.out = NULL;
	pthread_mutex_unlock(&prof.lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info, int argc,
					   char **argv)
{
	const char *out = NULL;
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out = argv[i] + 4;
	if (!out) {
		fprintf(stderr, "prof_plugin: no out=FILE argument\n");
		return -1;
	}
	if (!info->system_emulation || info->system.max_vcpus != 1) {
		fprintf(stderr, "prof_plugin: needs system emulation, -smp 1\n");
		return -1;
	}
	prof.out = fopen(out, "w");
	if (!prof.out) {
		perror(out);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
