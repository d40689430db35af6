/*
 * A stand-in for QEMU's side of the plugin API (version 1), to test
 * insncount.c without QEMU. Linked with the plugin's source into one
 * program, it calls qemu_plugin_install with a made-up qemu_info_t, then
 * reads blocks from stdin, one a line: "REPEAT ADDR ADDR ..." (decimal,
 * then hex instruction addresses). Each block is "translated" once (the
 * plugin's translation callback registers its inline additions and
 * callbacks) and "executed" REPEAT times, every instruction's registered
 * operations in the order the plugin registered them. At the end of input
 * it calls the atexit callback, as QEMU does when it exits.
 *
 * Usage: harness MIN CUR [PLUGIN-ARG...]; exit 2 when install refuses.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;

typedef struct qemu_info_t {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

#define MAX_INSNS 64
#define MAX_OPS 8

/* One registered operation: an inline addition, or a callback. */
struct op {
	uint64_t *ptr;
	uint64_t imm;
	void (*cb)(unsigned int vcpu_index, void *userdata);
	void *userdata;
};

struct qemu_plugin_insn {
	uint64_t vaddr;
	struct op ops[MAX_OPS];
	int nops;
};

struct qemu_plugin_tb {
	struct qemu_plugin_insn insns[MAX_INSNS];
	size_t n;
};

static void (*trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
static void (*exit_cb)(qemu_plugin_id_t id, void *userdata);
static void *exit_userdata;

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *))
{
	(void)id;
	trans_cb = cb;
}

void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *), void *userdata)
{
	(void)id;
	exit_cb = cb;
	exit_userdata = userdata;
}

static struct op *new_op(struct qemu_plugin_insn *insn)
{
	if (insn->nops == MAX_OPS) {
		fprintf(stderr, "harness: too many operations on one instruction\n");
		exit(3);
	}
	return &insn->ops[insn->nops++];
}

void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, int op, void *ptr, uint64_t imm)
{
	struct op *o = new_op(insn);

	if (op != 0) { /* QEMU_PLUGIN_INLINE_ADD_U64 */
		fprintf(stderr, "harness: unknown inline op %d\n", op);
		exit(3);
	}
	o->ptr = ptr;
	o->imm = imm;
}

void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, void (*cb)(unsigned int, void *),
					    int flags, void *userdata)
{
	struct op *o = new_op(insn);

	(void)flags;
	o->cb = cb;
	o->userdata = userdata;
}

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb)
{
	return tb->n;
}

struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx)
{
	return (struct qemu_plugin_insn *)&tb->insns[idx];
}

uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn)
{
	return insn->vaddr;
}

void qemu_plugin_outs(const char *string)
{
	printf("outs: %s", string);
}

int main(int argc, char **argv)
{
	qemu_info_t info = { .target_name = "x86_64", .system_emulation = true };
	char line[4096];

	if (argc < 3) {
		fprintf(stderr, "usage: harness MIN CUR [PLUGIN-ARG...]\n");
		return 3;
	}
	info.version.min = atoi(argv[1]);
	info.version.cur = atoi(argv[2]);
	info.system.smp_vcpus = info.system.max_vcpus = 1;
	if (qemu_plugin_install(1, &info, argc - 3, argv + 3) != 0)
		return 2;
	while (fgets(line, sizeof(line), stdin)) {
		static struct qemu_plugin_tb tb;
		char *tok = strtok(line, " \n");
		long repeat;
		size_t i;
		int k;

		if (!tok)
			continue;
		repeat = strtol(tok, NULL, 10);
		memset(&tb, 0, sizeof(tb));
		while ((tok = strtok(NULL, " \n")) && tb.n < MAX_INSNS)
			tb.insns[tb.n++].vaddr = strtoull(tok, NULL, 16);
		trans_cb(1, &tb);
		for (; repeat > 0; repeat--)
			for (i = 0; i < tb.n; i++)
				for (k = 0; k < tb.insns[i].nops; k++) {
					struct op *o = &tb.insns[i].ops[k];

					if (o->cb)
						o->cb(0, o->userdata);
					else
						*o->ptr += o->imm;
				}
	}
	if (exit_cb)
		exit_cb(1, exit_userdata);
	return 0;
}
