/* Self-test of the test double's switches (CW_FAKEGPU_*, docs/cross-domain.md 18.4, plus
 * failure injection). The switches are read when the library loads, so each case runs in
 * a child that re-executes this program with the case's variables and its own report;
 * the child checks its report like test_fakegpu does. Run with
 * LD_PRELOAD=build/tests/libcw-fakegpu.so. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "tests/virtgpu/guest.h"
#include "tests/virtgpu/test_harness.h"

#define XR24 0x34325258u

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int send_memfd(int comp, const char *data, size_t n, size_t file_size)
{
	int mfd = memfd_create("blob", MFD_CLOEXEC);
	int r = mfd < 0 || ftruncate(mfd, (off_t)file_size) < 0 ? -1 :
								   send_fds(comp, data, n, &mfd, 1);
	close(mfd);
	return r;
}

static int get_caps(int fd, struct cw_xd_caps *caps)
{
	struct cw_virtgpu_get_caps gc = { .cap_set_id = 5, .addr = (uintptr_t)caps, .size = 16 };
	return xioctl(fd, CW_IOCTL_VIRTGPU_GET_CAPS, &gc);
}

static int getparam(int fd, uint64_t param, int *value)
{
	struct cw_virtgpu_getparam gp = { .param = param, .value = (uintptr_t)value };
	return xioctl(fd, CW_IOCTL_VIRTGPU_GETPARAM, &gp);
}

/* CW_FAKEGPU_IDS=4: arrays at 16/32/48, data at 64, both ways. */
static void case_ids4(void)
{
	struct guest g;
	uint8_t buf[64 + 5] = { CW_XD_CMD_SEND, 0, sizeof(buf) };
	char got[16];
	int fds[28];
	size_t nfds;
	CHECK(guest_open(&g) == 0);
	CHECK(send_memfd(g.comp, "hello-4ids", 10, 100) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	CHECK(g.c[0] == CW_XD_CMD_RECEIVE && u32_at(g.c, 8) == 1 && u32_at(g.c, 12) == 10);
	CHECK(u32_at(g.c, 32) == CW_XD_ID_BLOB && u32_at(g.c, 48) == 100);
	CHECK(!memcmp(g.c + 64, "hello-4ids", 10));
	uint32_t five = 5;
	memcpy(buf + 12, &five, 4);
	memcpy(buf + 64, "abcde", 5);
	CHECK(submit(g.fd, buf, sizeof(buf), -1, NULL, 0) == 0);
	CHECK(recv_fds(g.comp, got, sizeof(got), fds, &nfds) == 5 && !memcmp(got, "abcde", 5));
	guest_close(&g);
}

/* INIT=prefix, ITEM_IDS=oddeven: a 16-byte INIT puts channel replies in the query ring;
 * received items get odd ids, templates even ones. */
static void case_legacy_oddeven(void)
{
	struct guest g;
	struct cw_xd_image_reqs r;
	CHECK(guest_open_rings(&g) == 0);
	uint32_t init[4] = { CW_XD_CMD_INIT | (16u << 16), 0, g.qres, CW_XD_CHANNEL_WAYLAND };
	CHECK(guest_connect(&g, init, sizeof(init)) == 0);
	CHECK(send_memfd(g.comp, "legacy", 6, 10) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *rq = (const void *)g.q;
	CHECK(rq->hdr.cmd == CW_XD_CMD_RECEIVE && rq->num_ids == 1 && rq->ids[0] == 3);
	CHECK(g.c[0] == 0); /* the channel ring was not used */
	CHECK(query(&g, 16, 16, XR24, &r) == 0 && r.blob_id == 4);
	CHECK(query(&g, 32, 16, XR24, &r) == 0 && r.blob_id == 6);
	guest_close(&g);
}

/* INIT=libkrun: 20 bytes means protocol version 0 (4 identifiers); 24 bytes with
 * version 1 means 28. */
static void case_libkrun(void)
{
	struct guest a, b;
	CHECK(guest_open(&a) == 0);
	CHECK(send_fds(a.comp, "v0", 2, NULL, 0) == 0);
	CHECK(wait_event(&a, GUEST_TIMEOUT_MS) == 1 && !memcmp(a.c + 64, "v0", 2));
	CHECK(guest_open_rings(&b) == 0);
	uint32_t init[6] = { CW_XD_CMD_INIT | (24u << 16), 0, b.qres, b.cres, 1, 1 };
	CHECK(guest_connect(&b, init, sizeof(init)) == 0);
	CHECK(send_fds(b.comp, "v1", 2, NULL, 0) == 0);
	CHECK(wait_event(&b, GUEST_TIMEOUT_MS) == 1 && !memcmp(b.c + 352, "v1", 2));
	guest_close(&a);
	guest_close(&b);
}

/* SILENT=1: a host that never answers, but still forwards SENDs. */
static void case_silent(void)
{
	struct guest g;
	char got[8];
	int fds[28];
	size_t nfds;
	CHECK(guest_open(&g) == 0);
	CHECK(send_fds(g.comp, "hello?", 6, NULL, 0) == 0);
	CHECK(wait_event(&g, 300) == 0);
	CHECK(send_cmd(&g, 0, NULL, NULL, "sync", 4) == 0);
	CHECK(recv_fds(g.comp, got, sizeof(got), fds, &nfds) == 4);
	guest_close(&g);
}

/* INIT_FAIL=1: no connection, POLL never completes, queries fail but still complete. */
static void case_init_fail(void)
{
	struct guest g;
	struct cw_xd_image_reqs r;
	CHECK(guest_open_rings(&g) == 0);
	CHECK(submit_init(&g) == 0 && submit_poll(&g) == 0);
	CHECK(comp_accept(300) < 0);
	CHECK(wait_event(&g, 200) == 0);
	CHECK(query(&g, 16, 16, XR24, &r) == -1); /* WAIT returned; the ring is untouched */
	guest_close(&g);
}

/* EOF=drop: compositor EOF swallows the POLL fence. */
static void case_eof_drop(void)
{
	struct guest g;
	CHECK(guest_open(&g) == 0);
	close(g.comp);
	g.comp = -1;
	CHECK(wait_event(&g, 300) == 0);
	guest_close(&g);
}

/* Default (new) fd kinds: an eventfd and a socket become types 5 and 7. */
static void case_fd_kinds_new(void)
{
	struct guest g;
	int sv[2];
	CHECK(guest_open(&g) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int fds[2] = { eventfd(0, EFD_CLOEXEC), sv[0] };
	CHECK(send_fds(g.comp, "ev", 2, fds, 2) == 0);
	close(fds[0]);
	close(sv[0]);
	close(sv[1]);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *r = (const void *)g.c;
	CHECK(r->num_ids == 2 && r->id_types[0] == 5 && r->id_types[1] == 7);
	CHECK(r->id_sizes[0] == 0 && r->id_sizes[1] == 0);
	guest_close(&g);
}

/* FD_KINDS=old: without the eventfd check, an eventfd is seekable (noop_llseek), so it
 * becomes a 0-byte blob; a socket is neither seekable nor write-only and stops the worker
 * for good. SENDs still reach the compositor. */
static void case_fd_kinds_old(void)
{
	struct guest g;
	char got[8];
	int fds[28], sv[2];
	size_t nfds;
	CHECK(guest_open(&g) == 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(send_fds(g.comp, "ev", 2, &efd, 1) == 0);
	close(efd);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *r = (const void *)g.c;
	CHECK(r->num_ids == 1 && r->id_types[0] == CW_XD_ID_BLOB && r->id_sizes[0] == 0);
	CHECK(submit_poll(&g) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(send_fds(g.comp, "so", 2, &sv[0], 1) == 0);
	close(sv[0]);
	close(sv[1]);
	CHECK(wait_event(&g, 300) == 0);
	CHECK(send_fds(g.comp, "more", 4, NULL, 0) == 0);
	CHECK(wait_event(&g, 200) == 0);
	CHECK(send_cmd(&g, 0, NULL, NULL, "zomb", 4) == 0);
	CHECK(recv_fds(g.comp, got, sizeof(got), fds, &nfds) == 4);
	guest_close(&g);
}

/* PARAM_4=0 PARAM_8=7 PARAM_7=EINVAL. */
static void case_params(void)
{
	struct cw_xd_caps caps;
	int v, fd = gpu_open();
	CHECK(fd >= 0);
	CHECK(getparam(fd, 4, &v) == 0 && v == 0);
	CHECK(getparam(fd, 8, &v) == 0 && v == 7);
	CHECK(getparam(fd, 7, &v) < 0 && errno == EINVAL);
	CHECK(get_caps(fd, &caps) < 0 && errno == ENOSYS);
	CHECK(ctx_init(fd, 5, 2, 2) < 0 && errno == EINVAL);
	close(fd);
}

/* CHANNELS_BUG=1: only the last configured channel (camera) is reported, yet Wayland
 * works when tried anyway. */
static void case_channels_bug(void)
{
	struct guest g;
	struct cw_xd_caps caps;
	CHECK(guest_open(&g) == 0);
	CHECK(get_caps(g.fd, &caps) == 0 && caps.supported_channels == 0x4);
	CHECK(send_fds(g.comp, "ok", 2, NULL, 0) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	guest_close(&g);
}

/* CAPS_CHANNELS=0: no channel configured, so INIT connects nowhere. */
static void case_no_channels(void)
{
	struct guest g;
	struct cw_xd_caps caps;
	CHECK(guest_open_rings(&g) == 0);
	CHECK(get_caps(g.fd, &caps) == 0 && caps.supported_channels == 0);
	CHECK(submit_init(&g) == 0 && comp_accept(300) < 0);
	guest_close(&g);
}

/* HOST_PAGE=16384 and PARTIAL_MMAP=1. */
static void case_host_page_partial(void)
{
	struct guest g;
	struct cw_xd_image_reqs r;
	uint32_t h, res;
	CHECK(guest_open(&g) == 0);
	CHECK(query(&g, 16, 16, XR24, &r) == 0 && r.size == 16384);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, r.size, r.blob_id, &h, &res) == 0);
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, g.fd, ((off_t)res << 32) + 4096);
	CHECK(p != MAP_FAILED);
	munmap(p, 4096);
	gem_close(g.fd, h);
	guest_close(&g);
}

/* RES_BASE=1000, GLOBAL_FENCES=0, KERNEL_FENCES=always, WAIT_MS=200: a SEND that lists a
 * buffer gets a global fence that this old host never completes. */
static void case_old_fences(void)
{
	struct guest g;
	struct cw_virtgpu_wait w;
	CHECK(guest_open(&g) == 0);
	CHECK(g.qres == 1000 && g.cres == 1001);
	uint8_t buf[352 + 2] = { CW_XD_CMD_SEND, 0, 0x62, 0x01 }; /* cmd_size 354 */
	buf[12] = 2;
	CHECK(submit(g.fd, buf, sizeof(buf), -1, &g.ch, 1) == 0);
	w = (struct cw_virtgpu_wait){ .handle = g.ch, .flags = CW_VIRTGPU_WAIT_NOWAIT };
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_WAIT, &w) < 0 && errno == EBUSY);
	w.flags = 0;
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_WAIT, &w) < 0 && errno == EBUSY); /* after 200 ms */
	CHECK(send_fds(g.comp, "still", 5, NULL, 0) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	guest_close(&g);
}

/* Defaults: out-fences become readable when their fence completes. */
static void case_out_fences(void)
{
	struct guest g;
	struct cw_xd_image_query q = { .hdr = { .cmd = 2, .cmd_size = 24 }, .width = 8,
		.height = 8, .drm_format = XR24 };
	struct cw_xd_poll pl = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = 16 } };
	CHECK(guest_open_rings(&g) == 0);
	CHECK(guest_connect(&g, NULL, 0) == 0 && wait_event(&g, 100) == 0);
	struct cw_virtgpu_execbuffer eb = { .flags = CW_VIRTGPU_EXECBUF_FENCE_FD_OUT |
			CW_VIRTGPU_EXECBUF_RING_IDX, .size = sizeof(q), .command = (uintptr_t)&q };
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_EXECBUFFER, &eb) == 0 && eb.fence_fd >= 0);
	struct pollfd p = { .fd = eb.fence_fd, .events = POLLIN };
	CHECK(poll(&p, 1, 1000) == 1); /* ring 0: complete at once */
	close(eb.fence_fd);
	/* Drain the POLL armed by guest_connect, then arm one with an out-fence. */
	CHECK(send_fds(g.comp, "a", 1, NULL, 0) == 0 && wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	eb = (struct cw_virtgpu_execbuffer){ .flags = CW_VIRTGPU_EXECBUF_FENCE_FD_OUT |
			CW_VIRTGPU_EXECBUF_RING_IDX, .size = sizeof(pl), .command = (uintptr_t)&pl,
		.ring_idx = 1 };
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_EXECBUFFER, &eb) == 0 && eb.fence_fd >= 0);
	p.fd = eb.fence_fd;
	CHECK(poll(&p, 1, 200) == 0); /* pending until the compositor speaks */
	CHECK(send_fds(g.comp, "b", 1, NULL, 0) == 0);
	CHECK(poll(&p, 1, GUEST_TIMEOUT_MS) == 1 && wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	close(eb.fence_fd);
	guest_close(&g);
}

/* STRICT_HANDLES=1: a non-ring handle left open at close is a LEAK. */
static void case_strict_handles(void)
{
	struct guest g;
	uint32_t h;
	CHECK(guest_open(&g) == 0);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_GUEST, 1, 4096, 0, &h, NULL) == 0);
	guest_close(&g);
}

struct switch_case {
	const char *name;
	void (*fn)(void);
	const char *env;    /* "NAME=value NAME=value", without the CW_FAKEGPU_ prefix */
	const char *expect; /* a report text that must appear in a LEAK/VIOLATION line */
};

static const struct switch_case cases[] = {
	{ "ids4", case_ids4, "IDS=4", NULL },
	{ "legacy_oddeven", case_legacy_oddeven, "INIT=prefix ITEM_IDS=oddeven", NULL },
	{ "libkrun", case_libkrun, "INIT=libkrun", NULL },
	{ "silent", case_silent, "SILENT=1", NULL },
	{ "init_fail", case_init_fail, "INIT_FAIL=1", NULL },
	{ "eof_drop", case_eof_drop, "EOF=drop", NULL },
	{ "fd_kinds_new", case_fd_kinds_new, "FD_KINDS=new", NULL },
	{ "fd_kinds_old", case_fd_kinds_old, "FD_KINDS=old", NULL },
	{ "params", case_params, "PARAM_4=0 PARAM_8=7 PARAM_7=EINVAL", NULL },
	{ "channels_bug", case_channels_bug, "CHANNELS_BUG=1", NULL },
	{ "no_channels", case_no_channels, "CAPS_CHANNELS=0", NULL },
	{ "host_page_partial", case_host_page_partial, "HOST_PAGE=16384 PARTIAL_MMAP=1", NULL },
	{ "old_fences", case_old_fences,
		"RES_BASE=1000 GLOBAL_FENCES=0 KERNEL_FENCES=always WAIT_MS=200", NULL },
	{ "out_fences", case_out_fences, "", NULL },
	{ "strict_handles", case_strict_handles, "STRICT_HANDLES=1", "GEM handle 3" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* In the child: export the case's variables and re-execute, so the library sees them. */
static void exec_case(const struct switch_case *c, char **argv)
{
	char env[256], name[300], path[512];
	snprintf(env, sizeof(env), "%s", c->env);
	for (char *tok = strtok(env, " "); tok; tok = strtok(NULL, " ")) {
		snprintf(name, sizeof(name), "CW_FAKEGPU_%s", tok);
		putenv(strdup(name));
	}
	snprintf(path, sizeof(path), "%s/report-%s", test_dir, c->name);
	setenv("CW_FAKEGPU_REPORT", path, 1);
	snprintf(path, sizeof(path), "%s/wayland-%s", test_dir, c->name);
	setenv("CW_FAKEGPU_WAYLAND", path, 1);
	setenv("CW_FAKEGPU_CASE", c->name, 1);
	execv("/proc/self/exe", argv);
	_exit(127);
}

static const struct switch_case *current;

static void run_current(void)
{
	current->fn();
}

int main(int argc, char **argv)
{
	const char *which = getenv("CW_FAKEGPU_CASE");
	harness_setup(argc, argv);
	if (which) {
		for (size_t i = 0; i < NCASES; i++) {
			if (!strcmp(cases[i].name, which)) {
				current = &cases[i];
			}
		}
		if (!current) {
			return 2;
		}
		run_test(current->name, run_current, &current->expect, current->expect ? 1 : 0);
		if (!n_failed) {
			unlink(getenv("CW_FAKEGPU_REPORT"));
			unlink(getenv("CW_FAKEGPU_WAYLAND"));
		}
		return n_failed ? 1 : 0;
	}
	for (size_t i = 0; i < NCASES; i++) {
		int status;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			exec_case(&cases[i], argv);
		}
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			WEXITSTATUS(status) == 0) {
			n_passed++;
		} else {
			printf("FAIL - %s (case process)\n", cases[i].name);
			n_failed++;
		}
	}
	return harness_finish();
}
