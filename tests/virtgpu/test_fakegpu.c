/* Self-test of the virtio-gpu test double (libcw-fakegpu.so, preloaded): a correct guest
 * proxy, written directly against the ioctls and structs of virtgpu/xd-wire.h, talks to
 * a "compositor" socket this program listens on; deliberate mistakes must show up as
 * VIOLATION and LEAK lines in the double's report. Run it with
 * LD_PRELOAD=build/tests/libcw-fakegpu.so; it sets the CW_FAKEGPU_* it needs and re-executes
 * itself. Prints "N passed, N failed"; exits 77 if the library is not preloaded. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <sys/wait.h>

#include "tests/virtgpu/guest.h"
#include "tests/virtgpu/test_harness.h"

#define XR24 0x34325258u
#define NV12 0x3231564Eu

struct drm_version_lp64 {
	int major, minor, patch;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

static int getparam(int fd, uint64_t param, int *value)
{
	struct cw_virtgpu_getparam gp = { .param = param, .value = (uintptr_t)value };
	return xioctl(fd, CW_IOCTL_VIRTGPU_GETPARAM, &gp);
}

static int get_caps(int fd, uint32_t id, uint32_t ver, struct cw_xd_caps *caps, uint32_t size)
{
	struct cw_virtgpu_get_caps gc = { .cap_set_id = id, .cap_set_ver = ver,
		.addr = (uintptr_t)caps, .size = size };
	return xioctl(fd, CW_IOCTL_VIRTGPU_GET_CAPS, &gc);
}

static void test_discovery(void)
{
	struct drm_version_lp64 v = { 0 };
	char name[32] = { 0 }, date[8] = { 0 }, desc[32] = { 0 };
	struct cw_xd_caps caps = { 0 };
	int fd = gpu_open(), value, n = -1;
	CHECK(fd >= 0);
	/* drmGetVersion: lengths first, then buffers. */
	CHECK(xioctl(fd, CW_IOCTL_DRM_VERSION, &v) == 0 && v.name_len == 10);
	v.name = name;
	v.date = date;
	v.desc = desc;
	CHECK(xioctl(fd, CW_IOCTL_DRM_VERSION, &v) == 0 && !strcmp(name, "virtio_gpu"));
	const uint64_t ones[] = { 1, 2, 3, 4, 6 };
	for (size_t i = 0; i < sizeof(ones) / sizeof(ones[0]); i++) {
		CHECK(getparam(fd, ones[i], &value) == 0 && value == 1);
	}
	CHECK(getparam(fd, 7, &value) == 0 && (value & 0x20));
	CHECK(getparam(fd, 8, &value) < 0 && errno == EINVAL);
	CHECK(get_caps(fd, 5, 0, &caps, 16) == 0);
	CHECK(caps.version == 1 && (caps.supported_channels & 2) && caps.supports_dmabuf == 0);
	CHECK(get_caps(fd, 5, 0, &caps, 0) < 0 && errno == EINVAL);
	CHECK(get_caps(fd, 4, 0, &caps, 16) < 0 && errno == EINVAL);
	CHECK(get_caps(fd, 5, 1, &caps, 16) < 0 && errno == EINVAL);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	CHECK(ioctl(fd, 0x80046402 /* DRM_IOCTL_GET_MAGIC */, &value) < 0 && errno == EINVAL);
	CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 0); /* non-DRM ioctls reach the pipe */
	int d = dup(fd);
	CHECK(d >= 0 && getparam(d, 3, &value) == 0 && value == 1);
	close(fd);
	CHECK(getparam(d, 3, &value) == 0); /* the file lives while an fd refers to it */
	CHECK(dup2(d, 100) == 100 && close(d) == 0);
	CHECK(getparam(100, 3, &value) == 0);
	close(100);
	CHECK(getparam(100, 3, &value) < 0 && errno == EBADF);
}

static void test_implicit_context(void)
{
	uint32_t h;
	int fd = gpu_open();
	CHECK(fd >= 0);
	CHECK(blob_create(fd, CW_VIRTGPU_BLOB_MEM_GUEST, 1, 4096, 0, &h, NULL) == 0);
	CHECK(ctx_init(fd, 5, 2, 2) < 0 && errno == EEXIST);
	close(fd);
	fd = gpu_open();
	struct cw_xd_poll p = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = 16 } };
	CHECK(submit(fd, &p, sizeof(p), -1, NULL, 0) == 0);
	CHECK(ctx_init(fd, 5, 2, 2) < 0 && errno == EEXIST);
	close(fd);
}

static void test_context_init_rules(void)
{
	int fd = gpu_open();
	CHECK(ctx_init(fd, 5, 2, 0x4) < 0 && errno == EINVAL); /* ring 2 of 2 */
	close(fd);
	fd = gpu_open();
	CHECK(ctx_init(fd, 4, 2, 0x2) < 0 && errno == EINVAL); /* capset not offered */
	close(fd);
	fd = gpu_open();
	struct cw_virtgpu_context_set_param p[2] = { { 1, 5 }, { 4, 0 } }; /* debug name: unknown */
	struct cw_virtgpu_context_init ci = { .num_params = 2, .ctx_set_params = (uintptr_t)p };
	CHECK(xioctl(fd, CW_IOCTL_VIRTGPU_CONTEXT_INIT, &ci) < 0 && errno == EINVAL);
	close(fd);
	fd = gpu_open();
	ci.num_params = 0;
	CHECK(xioctl(fd, CW_IOCTL_VIRTGPU_CONTEXT_INIT, &ci) < 0 && errno == EINVAL);
	CHECK(ctx_init(fd, 5, 2, 2) == 0);
	CHECK(ctx_init(fd, 5, 2, 2) < 0 && errno == EEXIST);
	struct cw_xd_poll poll_cmd = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = 16 } };
	CHECK(submit(fd, &poll_cmd, 16, 2, NULL, 0) < 0 && errno == EINVAL); /* ring 2 of 2 */
	struct cw_virtgpu_execbuffer eb = { .flags = 0x8 };
	CHECK(xioctl(fd, CW_IOCTL_VIRTGPU_EXECBUFFER, &eb) < 0 && errno == EINVAL);
	close(fd);
}

static void test_rings_and_init(void)
{
	struct guest g;
	struct cw_virtgpu_resource_info ri = { 0 };
	long mark = report_mark();
	CHECK(guest_open(&g) == 0);
	CHECK(g.qh == 1 && g.ch == 2 && g.qres != g.cres);
	ri.bo_handle = g.qh;
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == 0);
	CHECK(ri.res_handle == g.qres && ri.size == 4096 && ri.blob_mem == 1);
	ri.bo_handle = 77;
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) < 0 && errno == ENOENT);
	CHECK(wait_event(&g, 100) == 0); /* the POLL waits for the compositor */
	guest_close(&g);
	char *text = report_since(mark);
	bool ok = strstr(text, "closed: handles=2 (rings=2), mappings=0, fds=0") != NULL;
	free(text);
	CHECK(ok);
}

static void test_receive_keymap(void)
{
	struct guest g;
	uint8_t keymap[5000];
	uint32_t ev[4] = { 3, 16u << 16, 1, sizeof(keymap) }; /* wl_keyboard.keymap */
	uint32_t h, res;
	CHECK(guest_open(&g) == 0);
	for (size_t i = 0; i < sizeof(keymap); i++) {
		keymap[i] = (uint8_t)(i * 7);
	}
	int mfd = memfd_create("keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(mfd >= 0 && write(mfd, keymap, sizeof(keymap)) == (ssize_t)sizeof(keymap));
	CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0);
	CHECK(send_fds(g.comp, ev, sizeof(ev), &mfd, 1) == 0);
	close(mfd);

	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *r = (const void *)g.c;
	CHECK(r->hdr.cmd == CW_XD_CMD_RECEIVE && r->hdr.cmd_size == 0);
	CHECK(r->num_ids == 1 && r->opaque_data_size == 16);
	CHECK(r->id_types[0] == CW_XD_ID_BLOB && r->id_sizes[0] == sizeof(keymap));
	CHECK(memcmp(g.c + sizeof(*r), ev, sizeof(ev)) == 0);
	uint32_t id = r->ids[0];
	CHECK(submit_poll(&g) == 0); /* consumed: re-arm */

	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, sizeof(keymap), id, &h, &res) == 0);
	struct cw_virtgpu_resource_info ri = { .bo_handle = h };
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) == 0 && ri.size == 8192);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, g.fd, (off_t)res << 32) == MAP_FAILED);
	uint8_t *p = blob_map(g.fd, h, 8192); /* whole object; the sealed fd maps read-only */
	CHECK(p != MAP_FAILED);
	CHECK(memcmp(p, keymap, sizeof(keymap)) == 0);
	munmap(p, 8192);
	CHECK(gem_close(g.fd, h) == 0);
	CHECK(gem_close(g.fd, h) < 0 && errno == EINVAL);
	guest_close(&g);
}

static void test_write_pipe(void)
{
	struct guest g;
	int p[2];
	char buf[64];
	uint32_t ev[3] = { 9, (12u << 16) | 1, 0 }; /* wl_data_source.send, say */
	CHECK(guest_open(&g) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(send_fds(g.comp, ev, sizeof(ev), &p[1], 1) == 0);
	close(p[1]);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *r = (const void *)g.c;
	CHECK(r->hdr.cmd == CW_XD_CMD_RECEIVE && r->num_ids == 1);
	CHECK(r->id_types[0] == CW_XD_ID_WRITE_PIPE && r->id_sizes[0] == 0);
	uint32_t id = r->ids[0];
	CHECK(submit_poll(&g) == 0);
	CHECK(write_cmd(&g, id, 0, "hello", 5) == 0);
	CHECK(write_cmd(&g, id, 1, "!", 1) == 0); /* hang_up may carry data */
	size_t got = 0;
	ssize_t n;
	while ((n = read(p[0], buf + got, sizeof(buf) - got)) > 0) {
		got += (size_t)n;
	}
	CHECK(n == 0 && got == 6 && !memcmp(buf, "hello!", 6)); /* EOF after hang_up */
	close(p[0]);
	guest_close(&g);
}

static void test_read_pipe(void)
{
	struct guest g;
	int pp[2], fds[28];
	size_t nfds;
	char buf[64];
	uint32_t id = CW_XD_READ_PIPE_BASE + 1, type = CW_XD_ID_READ_PIPE;
	CHECK(guest_open(&g) == 0);
	CHECK(pipe2(pp, O_CLOEXEC) == 0); /* the client's pipe; it sent us pp[1] */
	CHECK(send_cmd(&g, 1, &id, &type, "receive", 7) == 0);
	CHECK(recv_fds(g.comp, buf, sizeof(buf), fds, &nfds) == 7 && nfds == 1);
	CHECK(!memcmp(buf, "receive", 7));
	CHECK(write(fds[0], "clipboard", 9) == 9);
	close(fds[0]);

	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_read_write *rw = (const void *)g.c;
	CHECK(rw->hdr.cmd == CW_XD_CMD_READ && rw->id == id && rw->hang_up == 0);
	CHECK(rw->opaque_data_size == 9 && !memcmp(g.c + sizeof(*rw), "clipboard", 9));
	CHECK(write(pp[1], g.c + sizeof(*rw), 9) == 9);
	CHECK(submit_poll(&g) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	CHECK(rw->hdr.cmd == CW_XD_CMD_READ && rw->id == id && rw->hang_up == 1);
	CHECK(rw->opaque_data_size == 0);
	close(pp[1]);
	CHECK(read(pp[0], buf, sizeof(buf)) == 9 && read(pp[0], buf, sizeof(buf)) == 0);
	close(pp[0]);

	/* The next id in sequence; the host app closes without writing. */
	id++;
	CHECK(submit_poll(&g) == 0);
	CHECK(send_cmd(&g, 1, &id, &type, "again", 5) == 0);
	CHECK(recv_fds(g.comp, buf, sizeof(buf), fds, &nfds) == 5 && nfds == 1);
	close(fds[0]);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	CHECK(rw->hdr.cmd == CW_XD_CMD_READ && rw->id == id && rw->hang_up == 1);
	guest_close(&g);
}

static void test_send_blob(void)
{
	struct guest g;
	struct cw_xd_image_reqs r;
	uint32_t h, h2, res, type = CW_XD_ID_BLOB;
	int fds[28];
	size_t nfds;
	char buf[64];
	CHECK(guest_open(&g) == 0);
	CHECK(query(&g, 64, 64, XR24, &r) == 0);
	CHECK(r.strides[0] == 256 && r.offsets[0] == 0 && r.size == 16384 && r.blob_id != 0);
	CHECK(r.map_info == 1 && r.modifier == 0 && r.memory_idx == -1);
	CHECK(r.physical_device_idx == -1);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, r.size, r.blob_id, &h, &res) == 0);
	int d = prime_export(g.fd, h);
	CHECK(d >= 0);
	uint8_t *p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
	CHECK(p != MAP_FAILED);
	memset(p, 0x5a, r.size);
	munmap(p, r.size);
	CHECK(prime_import(g.fd, d, &h2) == 0 && h2 == h); /* the existing handle */
	int foreign = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
	CHECK(prime_import(g.fd, foreign, &h2) < 0 && errno == EINVAL);
	close(foreign);

	CHECK(send_cmd(&g, 1, &res, &type, "attach!!", 8) == 0);
	CHECK(recv_fds(g.comp, buf, sizeof(buf), fds, &nfds) == 8 && nfds == 1);
	struct stat st;
	CHECK(fstat(fds[0], &st) == 0 && st.st_size == (off_t)r.size);
	p = mmap(NULL, r.size, PROT_READ, MAP_SHARED, fds[0], 0);
	CHECK(p != MAP_FAILED && p[0] == 0x5a && p[r.size - 1] == 0x5a);
	munmap(p, r.size);
	close(fds[0]);
	CHECK(gem_close(g.fd, h) == 0);
	close(d);

	/* Handle numbers are reused, lowest first. */
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_GUEST, 1, 100, 0, &h2, NULL) == 0 && h2 == h);
	CHECK(gem_close(g.fd, h2) == 0);
	/* Planar: chroma follows the luma plane, no row alignment. */
	CHECK(query(&g, 63, 31, NV12, &r) == 0);
	CHECK(r.strides[0] == 63 && r.strides[1] == 64 && r.offsets[1] == 63 * 31);
	CHECK(r.size == 4096);
	guest_close(&g);
}

static void test_query_failures(void)
{
	struct guest g;
	struct cw_xd_image_reqs r;
	uint32_t h, h2;
	CHECK(guest_open(&g) == 0);
	CHECK(query(&g, 64, 64, 0x12345678, &r) == -1); /* fence completed, ring untouched */
	CHECK(query(&g, 64, 64, XR24, &r) == 0);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, r.size + 4096, r.blob_id, &h,
		      NULL) == 0); /* succeeds in the guest; the host refused it */
	CHECK(blob_map(g.fd, h, r.size + 4096) == MAP_FAILED && errno == EINVAL);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, r.size, r.blob_id, &h2, NULL) == 0);
	struct cw_virtgpu_map m = { .handle = h2 };
	CHECK(xioctl(g.fd, CW_IOCTL_VIRTGPU_MAP, &m) == 0);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, g.fd, (off_t)m.offset) == MAP_FAILED &&
		errno == EINVAL); /* partial mapping: rejected before 2025 */
	gem_close(g.fd, h);
	gem_close(g.fd, h2);
	guest_close(&g);
}

static void test_eof(void)
{
	struct guest g;
	CHECK(guest_open(&g) == 0);
	close(g.comp);
	g.comp = -1;
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	const struct cw_xd_send_recv *r = (const void *)g.c;
	CHECK(r->hdr.cmd == CW_XD_CMD_RECEIVE && r->num_ids == 0 && r->opaque_data_size == 0);
	guest_close(&g); /* no new POLL after EOF */
}

static void test_violations_early(void)
{
	struct guest g = { .fd = gpu_open() };
	CHECK(ctx_init(g.fd, 5, 2, 2) == 0);
	CHECK(blob_create(g.fd, 1, 1, 4096, 0, &g.qh, &g.qres) == 0);
	CHECK(submit_poll(&g) == 0);
	struct cw_xd_init_v1 in = { .hdr = { .cmd = 1, .cmd_size = 20 }, .query_ring_res = 999,
		.channel_ring_res = g.qres, .channel_type = 1 };
	CHECK(submit(g.fd, &in, sizeof(in), -1, NULL, 0) == 0);
	close(g.fd);
	g.fd = gpu_open();
	CHECK(ctx_init(g.fd, 5, 2, 3) == 0);
	close(g.fd);
}

static void test_violations(void)
{
	struct guest g;
	uint32_t h, bad_pipe = CW_XD_READ_PIPE_BASE + 5, type = CW_XD_ID_READ_PIPE;
	CHECK(guest_open(&g) == 0);
	int mfd = memfd_create("blob", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, 100) == 0);
	CHECK(send_fds(g.comp, "abcd", 4, &mfd, 1) == 0);
	close(mfd);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	uint32_t id = ((const struct cw_xd_send_recv *)g.c)->ids[0];
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, 100, id, &h, NULL) == 0);
	CHECK(gem_close(g.fd, h) == 0);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, 100, id, &h, NULL) == 0);
	CHECK(gem_close(g.fd, h) == 0);
	CHECK(blob_create(g.fd, CW_VIRTGPU_BLOB_MEM_HOST3D, 3, 100, 999, &h, NULL) == 0);
	CHECK(gem_close(g.fd, h) == 0);

	CHECK(submit_poll(&g) == 0);
	CHECK(submit_poll(&g) == 0); /* two outstanding */
	CHECK(send_cmd_raw(&g, 0, NULL, NULL, "wxyz", 4, -4) == 0);
	int fds[28];
	size_t nfds;
	char buf[16];
	/* Drained: a socket closed with unread data resets its peer (ECONNRESET). */
	CHECK(recv_fds(g.comp, buf, sizeof(buf), fds, &nfds) == 4);
	struct cw_xd_hdr zero = { .cmd = CW_XD_CMD_SEND, .cmd_size = 0 };
	CHECK(submit(g.fd, &zero, sizeof(zero), -1, NULL, 0) == 0);
	CHECK(send_cmd(&g, 1, &bad_pipe, &type, "x", 1) == 0);
	CHECK(write_cmd(&g, 12345, 0, "x", 1) == 0);
	struct cw_xd_image_query q = { .hdr = { .cmd = 2, .cmd_size = 24 }, .width = 1,
		.height = 1, .drm_format = XR24 };
	CHECK(submit(g.fd, &q, sizeof(q), 0, NULL, 0) == 0);
	CHECK(submit_init(&g) == 0);
	struct cw_xd_poll p = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = 16 } };
	CHECK(submit(g.fd, &p, sizeof(p), -1, NULL, 0) == 0);

	close(g.comp); /* both pending POLLs get an empty RECEIVE */
	g.comp = -1;
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1 && wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	CHECK(submit_poll(&g) == 0);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);

	int d = prime_export(g.fd, g.qh);
	CHECK(d >= 0);
	close(g.fd); /* rings still mapped, d still open */
	g.fd = -1;
	close(d);
	guest_close(&g);
}

static void test_pipe_violations(void)
{
	struct guest g;
	static char big[5000];
	int p[2], fds[28];
	size_t nfds;
	char buf[16];
	uint32_t ids[2] = { CW_XD_READ_PIPE_BASE + 1, CW_XD_READ_PIPE_BASE + 2 };
	uint32_t types[2] = { CW_XD_ID_READ_PIPE, CW_XD_ID_READ_PIPE };
	CHECK(guest_open(&g) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(send_fds(g.comp, "send", 4, &p[1], 1) == 0);
	close(p[1]);
	CHECK(wait_event(&g, GUEST_TIMEOUT_MS) == 1);
	uint32_t id = ((const struct cw_xd_send_recv *)g.c)->ids[0];
	CHECK(write_cmd(&g, id, 0, big, sizeof(big)) == 0); /* over 4072 */
	CHECK(write_cmd(&g, id, 1, NULL, 0) == 0);
	CHECK(write_cmd(&g, id, 0, "late", 4) == 0);
	CHECK(read(p[0], big, sizeof(big)) == (ssize_t)sizeof(big) && read(p[0], buf, 1) == 0);
	close(p[0]);
	CHECK(send_cmd(&g, 2, ids, types, "two", 3) == 0);
	CHECK(recv_fds(g.comp, buf, sizeof(buf), fds, &nfds) < 0); /* nothing was sent */
	guest_close(&g);
}

static void test_two_contexts(void)
{
	struct guest a, b;
	char buf[16];
	int fds[28];
	size_t nfds;
	CHECK(guest_open(&a) == 0 && guest_open(&b) == 0);
	CHECK(send_fds(b.comp, "to-b", 4, NULL, 0) == 0);
	CHECK(send_fds(a.comp, "to-a", 4, NULL, 0) == 0);
	CHECK(wait_event(&a, GUEST_TIMEOUT_MS) == 1 && wait_event(&b, GUEST_TIMEOUT_MS) == 1);
	CHECK(!memcmp(a.c + 352, "to-a", 4) && !memcmp(b.c + 352, "to-b", 4));
	CHECK(send_cmd(&a, 0, NULL, NULL, "from-a", 6) == 0);
	CHECK(send_cmd(&b, 0, NULL, NULL, "from-b", 6) == 0);
	CHECK(recv_fds(a.comp, buf, sizeof(buf), fds, &nfds) == 6 && !memcmp(buf, "from-a", 6));
	CHECK(recv_fds(b.comp, buf, sizeof(buf), fds, &nfds) == 6 && !memcmp(buf, "from-b", 6));
	guest_close(&a);
	guest_close(&b);
}

static int fork_child(struct guest *parent, int hold)
{
	struct guest b;
	char buf[16];
	int fds[28], value;
	size_t nfds;
	bool ok = getparam(parent->fd, 3, &value) == 0; /* stateless: fine on an inherited fd */
	close(parent->fd);
	ok = ok && guest_open(&b) == 0 && send_cmd(&b, 0, NULL, NULL, "child", 5) == 0;
	ok = ok && recv_fds(b.comp, buf, sizeof(buf), fds, &nfds) == 5 && !memcmp(buf, "child", 5);
	guest_close(&b);
	ok = ok && write(hold, "d", 1) == 1;
	ok = ok && read(hold, buf, 1) == 0; /* stay alive until the parent is done */
	return ok ? 0 : 1;
}

static void test_fork(void)
{
	struct guest a;
	int status, sv[2];
	char c;
	int fds[28];
	size_t nfds;
	CHECK(guest_open(&a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		exit(fork_child(&a, sv[1])); /* exit(), so that LeakSanitizer checks the child */
	}
	close(sv[1]);
	CHECK(read(sv[0], &c, 1) == 1); /* the child's own context worked */
	CHECK(send_fds(a.comp, "parent", 6, NULL, 0) == 0);
	CHECK(wait_event(&a, GUEST_TIMEOUT_MS) == 1 && !memcmp(a.c + 352, "parent", 6));
	/* The child is still alive; it must not hold our host side's compositor socket. */
	int comp = a.comp;
	a.comp = -1;
	guest_close(&a);
	CHECK(recv_fds(comp, &c, 1, fds, &nfds) == 0);
	close(comp);
	close(sv[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	harness_setup(argc, argv);
	RUN_CLEAN(test_discovery);
	RUN_EXPECT(test_implicit_context, "RESOURCE_CREATE_BLOB before CONTEXT_INIT",
		"EXECBUFFER before CONTEXT_INIT");
	RUN_CLEAN(test_context_init_rules);
	RUN_CLEAN(test_rings_and_init);
	RUN_CLEAN(test_receive_keymap);
	RUN_CLEAN(test_write_pipe);
	RUN_CLEAN(test_read_pipe);
	RUN_CLEAN(test_send_blob);
	RUN_EXPECT(test_query_failures, "sizes must match");
	RUN_CLEAN(test_eof);
	RUN_EXPECT(test_violations_early, "POLL before INIT", "query ring resource 999",
		"poll ring mask 0x3");
	RUN_EXPECT(test_violations, "already materialised", "unknown item id 999",
		"two POLLs outstanding", "SEND with cmd_size", "too short for a command header",
		"cmd_size 0: FATAL", "out of sequence", "WRITE to id 12345",
		"without the query ring handle", "a second INIT", "POLL not submitted on ring 1",
		"re-armed after an empty RECEIVE", "is still mapped", "exported fd");
	RUN_EXPECT(test_pipe_violations, "WRITE chunk of 5000 bytes", "after its hang_up",
		"two READ_PIPE identifiers in one SEND");
	RUN_CLEAN(test_two_contexts);
	RUN_CLEAN(test_fork);
	return harness_finish();
}
