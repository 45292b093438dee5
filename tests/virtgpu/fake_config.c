/* The test double's configuration (CW_FAKEGPU_* read once at load), its output (VIOLATION,
 * LEAK and summary lines), the real libc entry points, VM-wide counters shared with
 * forked children, and the table that tells which fds belong to the double. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

struct cw_fake_config cw_fake_cfg;
struct cw_fake_libc cw_fake_real;

/* VM-wide counters: one shared page, so forked children draw from the same sequence. */
struct shared_counters {
	uint32_t next_res_id;
	uint32_t next_ctx_id;
};

static struct shared_counters *counters; /* owned shared mapping, never unmapped */
static struct shared_counters counters_private; /* if the shared page cannot be made */
static uint8_t fd_kinds[CW_FAKE_FD_CAP];   /* enum cw_fake_fd_kind, atomic accesses */
static pthread_once_t libc_once = PTHREAD_ONCE_INIT;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static char config_errors[512];

static void config_error(const char *name, const char *value)
{
	size_t used = strlen(config_errors);
	snprintf(config_errors + used, sizeof(config_errors) - used, "%s%s=%s",
		used ? ", " : "", name, value);
}

static bool env_bool(const char *name, bool def)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		return def;
	}
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true")) {
		return true;
	}
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false")) {
		return false;
	}
	config_error(name, v);
	return def;
}

/* Returns the index of the value in choices (NULL-terminated), or def. */
static int env_choice(const char *name, const char *const *choices, int def)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		return def;
	}
	for (int i = 0; choices[i]; i++) {
		if (!strcmp(v, choices[i])) {
			return i;
		}
	}
	config_error(name, v);
	return def;
}

static bool parse_u32(const char *v, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || end == v || *end || x > UINT32_MAX) {
		return false;
	}
	*out = (uint32_t)x;
	return true;
}

static uint32_t env_u32(const char *name, uint32_t def)
{
	const char *v = getenv(name);
	uint32_t x;
	if (!v || !*v) {
		return def;
	}
	if (!parse_u32(v, &x)) {
		config_error(name, v);
		return def;
	}
	return x;
}

static void path_in_runtime_dir(char *out, size_t cap, const char *name)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	if (name[0] == '/') {
		snprintf(out, cap, "%s", name);
	} else if (dir && *dir) {
		snprintf(out, cap, "%s/%s", dir, name);
	} else {
		out[0] = '\0';
	}
}

static void read_params(struct cw_fake_config *c)
{
	static const int defaults[CW_FAKE_MAX_PARAM] = {
		[CW_VIRTGPU_PARAM_3D_FEATURES] = 1,
		[CW_VIRTGPU_PARAM_CAPSET_QUERY_FIX] = 1,
		[CW_VIRTGPU_PARAM_RESOURCE_BLOB] = 1,
		[CW_VIRTGPU_PARAM_HOST_VISIBLE] = 1,
		[CW_VIRTGPU_PARAM_CROSS_DEVICE] = 0,
		[CW_VIRTGPU_PARAM_CONTEXT_INIT] = 1,
		[CW_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS] = 1 << CW_XD_CAPSET_ID,
	};
	for (unsigned p = 0; p < CW_FAKE_MAX_PARAM; p++) {
		struct cw_fake_param *pa = &c->params[p];
		char name[64];
		pa->value = defaults[p];
		/* Parameters 1..7 exist; 8 (debug name) and others are unknown: EINVAL. */
		pa->fail = p < 1 || p > CW_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS;
		snprintf(name, sizeof(name), "CW_FAKEGPU_PARAM_%u", p);
		const char *v = getenv(name);
		uint32_t x;
		if (!v || !*v) {
			continue;
		}
		pa->set = true;
		if (!strcmp(v, "EINVAL")) {
			pa->fail = true;
		} else if (parse_u32(v, &x)) {
			pa->fail = false;
			pa->value = (int)x;
		} else {
			config_error(name, v);
		}
	}
}

static void read_config(struct cw_fake_config *c)
{
	static const char *const init_modes[] = { "exact", "prefix", "libkrun", NULL };
	static const char *const item_ids[] = { "sequential", "oddeven", NULL };
	static const char *const eof[] = { "receive", "drop", NULL };
	static const char *const kinds[] = { "new", "old", NULL };
	static const char *const kfences[] = { "conditional", "always", NULL };
	const char *v;

	*c = (struct cw_fake_config){ 0 };
	v = getenv("CW_FAKEGPU_DEVICE");
	snprintf(c->device, sizeof(c->device), "%s", v && *v ? v : "/dev/dri/renderD128");
	v = getenv("CW_FAKEGPU_WAYLAND");
	if (v && *v) {
		path_in_runtime_dir(c->wayland, sizeof(c->wayland), v);
	} else {
		v = getenv("WAYLAND_DISPLAY");
		path_in_runtime_dir(c->wayland, sizeof(c->wayland), v && *v ? v : "wayland-0");
	}
	v = getenv("CW_FAKEGPU_REPORT");
	snprintf(c->report, sizeof(c->report), "%s", v ? v : "");

	v = getenv("CW_FAKEGPU_IDS");
	c->max_ids = CW_XD_MAX_IDS;
	if (v && *v) {
		c->max_ids_set = true;
		if (!strcmp(v, "4")) {
			c->max_ids = CW_XD_MAX_IDS_OLD;
		} else if (strcmp(v, "28")) {
			config_error("CW_FAKEGPU_IDS", v);
		}
	}
	c->init_mode = (enum cw_fake_init_mode)env_choice("CW_FAKEGPU_INIT", init_modes, 0);
	c->ids_oddeven = env_choice("CW_FAKEGPU_ITEM_IDS", item_ids, 0) == 1;
	c->eof_drop = env_choice("CW_FAKEGPU_EOF", eof, 0) == 1;
	c->fd_kinds_old = env_choice("CW_FAKEGPU_FD_KINDS", kinds, 0) == 1;
	c->channels_bug = env_bool("CW_FAKEGPU_CHANNELS_BUG", false);
	c->global_fences = env_bool("CW_FAKEGPU_GLOBAL_FENCES", true);
	c->fences_always = env_choice("CW_FAKEGPU_KERNEL_FENCES", kfences, 0) == 1;
	c->partial_mmap = env_bool("CW_FAKEGPU_PARTIAL_MMAP", false);
	c->guest_page = (uint32_t)sysconf(_SC_PAGESIZE);
	c->host_page = env_u32("CW_FAKEGPU_HOST_PAGE", 4096);
	if (c->host_page < 4096 || (c->host_page & (c->host_page - 1))) {
		config_error("CW_FAKEGPU_HOST_PAGE", getenv("CW_FAKEGPU_HOST_PAGE"));
		c->host_page = 4096;
	}
	read_params(c);
	/* With the bug, pretend the VMM also has a camera socket: only it gets reported. */
	c->channels = env_u32("CW_FAKEGPU_CAPS_CHANNELS",
		c->channels_bug ? (1u << 1) | (1u << 2) : 1u << CW_XD_CHANNEL_WAYLAND);
	c->silent = env_bool("CW_FAKEGPU_SILENT", false);
	c->init_fail = env_bool("CW_FAKEGPU_INIT_FAIL", false);
	c->strict_handles = env_bool("CW_FAKEGPU_STRICT_HANDLES", false);
	c->debug = env_bool("CW_FAKEGPU_DEBUG", false);
	c->res_base = env_u32("CW_FAKEGPU_RES_BASE", 2);
	if (c->res_base == 0) {
		config_error("CW_FAKEGPU_RES_BASE", "0");
		c->res_base = 2;
	}
	c->wait_ms = (int)env_u32("CW_FAKEGPU_WAIT_MS", 15000);
}

static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void resolve_libc(struct cw_fake_libc *r)
{
	r->open = next_sym("open");
	r->open64 = next_sym("open64");
	r->openat = next_sym("openat");
	r->openat64 = next_sym("openat64");
	r->open_2 = next_sym("__open_2");
	r->open64_2 = next_sym("__open64_2");
	r->openat_2 = next_sym("__openat_2");
	r->openat64_2 = next_sym("__openat64_2");
	r->close = next_sym("close");
	r->close_range = next_sym("close_range");
	r->dup = next_sym("dup");
	r->dup2 = next_sym("dup2");
	r->dup3 = next_sym("dup3");
	r->fcntl = next_sym("fcntl");
	r->fcntl64 = next_sym("fcntl64");
	r->ioctl = next_sym("ioctl");
	r->mmap = next_sym("mmap");
	r->mmap64 = next_sym("mmap64");
	r->munmap = next_sym("munmap");
}

static void libc_once_fn(void)
{
	resolve_libc(&cw_fake_real);
}

static void config_once_fn(void)
{
	read_config(&cw_fake_cfg);
	counters = cw_fake_real.mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counters == MAP_FAILED) {
		counters = &counters_private;
	}
	counters->next_res_id = cw_fake_cfg.res_base;
	counters->next_ctx_id = 1;
	if (config_errors[0]) {
		cw_fake_violation(0, "bad configuration: %s", config_errors);
	}
	cw_fake_debug("loaded: device %s, compositor %s, report %s", cw_fake_cfg.device,
		cw_fake_cfg.wayland[0] ? cw_fake_cfg.wayland : "(none)",
		cw_fake_cfg.report[0] ? cw_fake_cfg.report : "(none)");
}

/* Interposed calls can arrive before libc has set up environ (ASan, for one, re-executes
 * the program and calls mmap that early): resolve libc then, read the configuration
 * only once the environment exists. Until then no path is ours. */
void cw_fake_init(void)
{
	pthread_once(&libc_once, libc_once_fn);
	if (environ) {
		pthread_once(&config_once, config_once_fn);
	}
}

__attribute__((constructor)) static void fake_load(void)
{
	cw_fake_init();
}

int cw_fake_param_get(unsigned param, int *value)
{
	if (param >= CW_FAKE_MAX_PARAM || cw_fake_cfg.params[param].fail) {
		return -EINVAL;
	}
	*value = cw_fake_cfg.params[param].value;
	return 0;
}

bool cw_fake_param_is(unsigned param, int want)
{
	int v;
	return cw_fake_param_get(param, &v) == 0 && v == want;
}

uint32_t cw_fake_next_res_id(void)
{
	return __atomic_fetch_add(&counters->next_res_id, 1, __ATOMIC_RELAXED);
}

uint32_t cw_fake_next_ctx_id(void)
{
	return __atomic_fetch_add(&counters->next_ctx_id, 1, __ATOMIC_RELAXED);
}

/* ---- output ---- */

static void emit(bool to_stderr, bool to_report, const char *line, size_t len)
{
	if (to_stderr) {
		ssize_t r = write(STDERR_FILENO, line, len);
		(void)r;
	}
	if (to_report && cw_fake_cfg.report[0]) {
		/* Opened per line: the app may close fds it does not know (closefrom). */
		int fd = cw_fake_real.open(cw_fake_cfg.report,
			O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			ssize_t r = write(fd, line, len);
			(void)r;
			cw_fake_real.close(fd);
		}
	}
}

static void vline(bool to_stderr, bool to_report, const char *prefix, uint32_t ctx,
	const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "cw-fakegpu: %s", prefix);
	if (ctx) {
		n += snprintf(line + n, sizeof(line) - (size_t)n, "context %u (pid %d): ", ctx,
			(int)getpid());
	}
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	emit(to_stderr, to_report, line, len);
}

void cw_fake_violation(uint32_t ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(true, true, "VIOLATION: ", ctx, fmt, ap);
	va_end(ap);
}

void cw_fake_leak(uint32_t ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(true, true, "LEAK: ", ctx, fmt, ap);
	va_end(ap);
}

void cw_fake_report(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(cw_fake_cfg.debug, true, "", 0, fmt, ap);
	va_end(ap);
}

void cw_fake_debug(const char *fmt, ...)
{
	va_list ap;
	if (!cw_fake_cfg.debug) {
		return;
	}
	va_start(ap, fmt);
	vline(true, false, "", 0, fmt, ap);
	va_end(ap);
}

/* ---- fd kinds ---- */

enum cw_fake_fd_kind cw_fake_fd_kind(int fd)
{
	if (fd < 0 || fd >= CW_FAKE_FD_CAP) {
		return CW_FAKE_FD_NONE;
	}
	return (enum cw_fake_fd_kind)__atomic_load_n(&fd_kinds[fd], __ATOMIC_ACQUIRE);
}

void cw_fake_fd_set(int fd, enum cw_fake_fd_kind kind)
{
	if (fd >= 0 && fd < CW_FAKE_FD_CAP) {
		__atomic_store_n(&fd_kinds[fd], (uint8_t)kind, __ATOMIC_RELEASE);
	}
}

int cw_fake_fd_own(int fd)
{
	cw_fake_fd_set(fd, CW_FAKE_FD_INTERNAL);
	return fd;
}

void cw_fake_fd_close(int *fd)
{
	if (*fd < 0) {
		return;
	}
	/* Unmark first: once closed, the number may be handed to someone else. */
	cw_fake_fd_set(*fd, CW_FAKE_FD_NONE);
	cw_fake_real.close(*fd);
	*fd = -1;
}

int cw_fake_fd_dup(int fd)
{
	int d = cw_fake_real.fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return d < 0 ? -1 : cw_fake_fd_own(d);
}

/* In a forked child: the host side of the parent's contexts lives in the parent; close
 * our copies so that compositor sockets and pipes see EOF when the parent closes them. */
void cw_fake_fds_after_fork(void)
{
	for (int fd = 0; fd < CW_FAKE_FD_CAP; fd++) {
		enum cw_fake_fd_kind k = (enum cw_fake_fd_kind)fd_kinds[fd];
		if (k == CW_FAKE_FD_INTERNAL) {
			cw_fake_real.close(fd);
		}
		if (k != CW_FAKE_FD_DEVICE) {
			fd_kinds[fd] = CW_FAKE_FD_NONE;
		}
	}
}
