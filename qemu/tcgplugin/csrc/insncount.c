/*
 * insncount: a QEMU TCG plugin that counts, for each kernel function, the
 * guest instructions executed in it and the times its first instruction
 * ran (its entries), and writes snapshots of those counters to a file.
 *
 * It is rflkit's qemu/tcgplugin package's plugin: the package embeds this
 * file, builds it with the host C compiler (cc -shared -fPIC -O2) and
 * documents the map and output formats (doc.go). Arguments:
 *
 *   map=PATH      the function ranges (required)
 *   out=PATH      the snapshot file, truncated at start (required)
 *   trigger=ADDR  write a snapshot each time the instruction at ADDR runs
 *
 * It needs only libc and pthreads: no glib, and no qemu-plugin.h (Debian
 * ships none), so the few declarations it uses from QEMU 7.2's
 * include/qemu/qemu-plugin.h (plugin API version 1) are repeated below.
 * QEMU resolves them from its own binary when it loads the plugin.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (as in QEMU 7.2) ---- */

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

typedef struct qemu_info_t {
	const char *target_name;
	struct {
		int min; /* oldest API version QEMU still accepts */
		int cur; /* the API version QEMU implements */
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
	QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
						void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

/* The API version this plugin is written against; QEMU checks it. */
EXPORT int qemu_plugin_version = 1;

/* ---- The plugin ---- */

#define MAP_MAGIC "rflkit-insncount-map"
#define OUT_MAGIC "rflkit-insncount"
#define FORMAT_VERSION 1
#define MAX_RANGES 10000000 /* bounds the allocation a bad map can ask for */
#define MAX_ID 2147483647L

/* One function: instructions at [start, end) belong to it. */
struct range {
	uint64_t start, end;
	long id;
};

/* A function's counters, bumped by inline code QEMU generates. */
struct counter {
	uint64_t insns;
	uint64_t entries;
};

/*
 * The plugin's state. QEMU loads a plugin's shared object once per
 * process, so one static instance is the plugin.
 */
static struct {
	struct range *ranges; /* sorted by start, not overlapping */
	size_t n;
	struct counter *counters; /* n functions, then the two buckets */
	bool has_trigger;
	uint64_t trigger;
	FILE *out;
	pthread_mutex_t lock; /* serialises snapshots */
	unsigned long snapshots;
	bool closed; /* the exit snapshot was written */
} st = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Indexes of the two buckets after the functions' counters. */
#define BUCKET_USER (st.n)
#define BUCKET_UNKNOWN (st.n + 1)

/* fail reports why the plugin cannot run, through QEMU and on stderr. */
static int fail(const char *fmt, ...)
{
	char msg[512];
	int len;
	va_list ap;

	len = snprintf(msg, sizeof(msg), "insncount: ");
	va_start(ap, fmt);
	vsnprintf(msg + len, sizeof(msg) - len - 1, fmt, ap);
	va_end(ap);
	strcat(msg, "\n");
	qemu_plugin_outs(msg);
	fputs(msg, stderr);
	return -1;
}

/* parse_u64 parses a whole string as an unsigned number (0x for hex). */
static bool parse_u64(const char *s, int base, uint64_t *v)
{
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	*v = strtoull(s, &end, base);
	return errno == 0 && *end == '\0';
}

/* read_map loads the function ranges from path (format: see doc.go). */
static int read_map(const char *path)
{
	char line[256], extra[2];
	unsigned long lineno = 1;
	int version;
	size_t n, i;
	FILE *f = fopen(path, "r");

	if (!f)
		return fail("map %s: %s", path, strerror(errno));
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, MAP_MAGIC " %d %zu %1s", &version, &n, extra) != 2) {
		fclose(f);
		return fail("map %s: line 1: not a \"" MAP_MAGIC " VERSION COUNT\" header", path);
	}
	if (version != FORMAT_VERSION || n == 0 || n > MAX_RANGES) {
		fclose(f);
		return fail("map %s: line 1: version %d with %zu ranges (want version %d, 1..%d ranges)",
			    path, version, n, FORMAT_VERSION, MAX_RANGES);
	}
	st.ranges = calloc(n, sizeof(*st.ranges));
	st.counters = calloc(n + 2, sizeof(*st.counters));
	if (!st.ranges || !st.counters) {
		fclose(f);
		return fail("map %s: no memory for %zu ranges", path, n);
	}
	for (i = 0; i < n; i++) {
		struct range *r = &st.ranges[i];

		lineno++;
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			return fail("map %s: line %lu: missing (the header announced %zu ranges)", path, lineno, n);
		}
		/* Hex digits and blanks only: sscanf alone would take signs and 0x. */
		if (strspn(line, "0123456789abcdefABCDEF \t\r\n") != strlen(line) ||
		    sscanf(line, "%" SCNx64 " %" SCNx64 " %ld %1s", &r->start, &r->end, &r->id, extra) != 3 ||
		    r->start >= r->end || r->id < 0 || r->id > MAX_ID ||
		    (i > 0 && r->start < st.ranges[i - 1].end)) {
			fclose(f);
			return fail("map %s: line %lu: want \"START END ID\", hex addresses, sorted, "
				    "START < END, not overlapping the line before, 0 <= ID < 2^31", path, lineno);
		}
	}
	if (fgets(line, sizeof(line), f)) {
		fclose(f);
		return fail("map %s: line %lu: more lines than the %zu announced", path, lineno + 1, n);
	}
	fclose(f);
	st.n = n;
	return 0;
}

/*
 * counter_for returns the counter of the instruction at pc and whether pc
 * is the first instruction of its function.
 */
static struct counter *counter_for(uint64_t pc, bool *entry)
{
	size_t lo = 0, hi = st.n;

	*entry = false;
	if (pc < st.ranges[0].start)
		return &st.counters[BUCKET_USER];
	/* Find the last range starting at or before pc. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (st.ranges[mid].start <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (pc >= st.ranges[lo].end)
		return &st.counters[BUCKET_UNKNOWN];
	*entry = pc == st.ranges[lo].start;
	return &st.counters[lo];
}

/*
 * snapshot writes every non-zero counter to the output file and flushes
 * it. reason is "trigger" or "exit".
 */
static void snapshot(const char *reason)
{
	size_t i;

	pthread_mutex_lock(&st.lock);
	if (st.closed) {
		pthread_mutex_unlock(&st.lock);
		return;
	}
	fprintf(st.out, "snapshot %lu %s\n", st.snapshots, reason);
	fprintf(st.out, "user %" PRIu64 "\n", st.counters[BUCKET_USER].insns);
	fprintf(st.out, "unknown %" PRIu64 "\n", st.counters[BUCKET_UNKNOWN].insns);
	for (i = 0; i < st.n; i++) {
		const struct counter *c = &st.counters[i];

		if (c->insns || c->entries)
			fprintf(st.out, "%ld %" PRIu64 " %" PRIu64 "\n", st.ranges[i].id, c->insns, c->entries);
	}
	fprintf(st.out, "end %lu\n", st.snapshots);
	fflush(st.out);
	st.snapshots++;
	pthread_mutex_unlock(&st.lock);
}

static void on_trigger(unsigned int vcpu_index, void *userdata)
{
	(void)vcpu_index;
	(void)userdata;
	snapshot("trigger");
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	snapshot("exit");
	pthread_mutex_lock(&st.lock);
	st.closed = true;
	fclose(st.out);
	pthread_mutex_unlock(&st.lock);
}

/*
 * on_translate instruments a translation block: each instruction adds 1
 * to its function's instruction counter, and a function's first one also
 * to its entry counter. Per instruction, not per block: QEMU's count of a
 * block's instructions can differ from the instructions it executes
 * (one crossing a page boundary).
 */
static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t pc = qemu_plugin_insn_vaddr(insn);
		bool entry;
		struct counter *c = counter_for(pc, &entry);

		qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &c->insns, 1);
		if (entry)
			qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &c->entries, 1);
		if (st.has_trigger && pc == st.trigger)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_trigger, QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	const char *map = NULL, *out = NULL;
	int i, vcpus = 1;

	if (info->version.min > qemu_plugin_version || info->version.cur < qemu_plugin_version)
		return fail("QEMU's plugin API is version %d (it accepts %d..%d); this plugin is written "
			    "for version %d (QEMU 7.2's)", info->version.cur, info->version.min,
			    info->version.cur, qemu_plugin_version);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "map=", 4) == 0) {
			map = a + 4;
		} else if (strncmp(a, "out=", 4) == 0) {
			out = a + 4;
		} else if (strncmp(a, "trigger=", 8) == 0) {
			if (!parse_u64(a + 8, 0, &st.trigger))
				return fail("argument %s: not an address", a);
			st.has_trigger = true;
		} else {
			return fail("unknown argument \"%s\" (want map=PATH, out=PATH, trigger=ADDR)", a);
		}
	}
	if (!map || !*map || !out || !*out)
		return fail("map=PATH and out=PATH are required");
	if (read_map(map) != 0)
		return -1;
	st.out = fopen(out, "w");
	if (!st.out)
		return fail("out %s: %s", out, strerror(errno));
	if (info->system_emulation)
		vcpus = info->system.smp_vcpus;
	fprintf(st.out, OUT_MAGIC " %d functions=%zu vcpus=%d\n", FORMAT_VERSION, st.n, vcpus);
	fflush(st.out);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
	return 0;
}
