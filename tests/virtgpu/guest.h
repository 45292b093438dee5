/* A small, correct cross-domain guest for the test double's self-tests: ioctl wrappers on
 * the structs of virtgpu/xd-wire.h, a context with both rings and a POLL armed, and the
 * compositor's end of each context's connection (a socket the test listens on). Header
 * only, because each tests/virtgpu/test_*.c is linked on its own. */
#ifndef CW_TESTS_VIRTGPU_GUEST_H
#define CW_TESTS_VIRTGPU_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtgpu/xd-wire.h"

#define GUEST_RING_BYTES 4096u
#define GUEST_TIMEOUT_MS 3000

struct guest {
	int fd;         /* owned render-node fd */
	uint32_t qh, qres, ch, cres; /* ring GEM handles and resource ids */
	uint8_t *q, *c; /* owned ring mappings */
	int comp;       /* owned: the compositor's end of this context's connection */
};

static int g_listen = -1; /* the test's "compositor" socket */

static inline int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static inline int gpu_open(void)
{
	const char *dev = getenv("CW_FAKEGPU_DEVICE");
	return open(dev && *dev ? dev : "/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
}

static inline int ctx_init(int fd, uint64_t capset, uint64_t rings, uint64_t mask)
{
	struct cw_virtgpu_context_set_param p[3] = {
		{ CW_VIRTGPU_CONTEXT_PARAM_CAPSET_ID, capset },
		{ CW_VIRTGPU_CONTEXT_PARAM_NUM_RINGS, rings },
		{ CW_VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, mask },
	};
	struct cw_virtgpu_context_init ci = { .num_params = 3, .ctx_set_params = (uintptr_t)p };
	return xioctl(fd, CW_IOCTL_VIRTGPU_CONTEXT_INIT, &ci);
}

static inline int blob_create(int fd, uint32_t mem, uint32_t flags, uint64_t size,
	uint64_t blob_id, uint32_t *h, uint32_t *res)
{
	struct cw_virtgpu_create_blob cb = {
		.blob_mem = mem, .blob_flags = flags, .size = size, .blob_id = blob_id,
	};
	int r = xioctl(fd, CW_IOCTL_VIRTGPU_CREATE_BLOB, &cb);
	*h = cb.bo_handle;
	if (res) {
		*res = cb.res_handle;
	}
	return r;
}

static inline void *blob_map(int fd, uint32_t h, size_t size)
{
	struct cw_virtgpu_map m = { .handle = h };
	if (xioctl(fd, CW_IOCTL_VIRTGPU_MAP, &m) < 0) {
		return MAP_FAILED;
	}
	return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)m.offset);
}

static inline int gem_close(int fd, uint32_t h)
{
	struct cw_drm_gem_close gc = { .handle = h };
	return xioctl(fd, CW_IOCTL_GEM_CLOSE, &gc);
}

static inline int prime_export(int fd, uint32_t h)
{
	struct cw_drm_prime_handle ph = { .handle = h, .flags = O_CLOEXEC | O_RDWR, .fd = -1 };
	return xioctl(fd, CW_IOCTL_PRIME_HANDLE_TO_FD, &ph) < 0 ? -1 : ph.fd;
}

static inline int prime_import(int fd, int dmabuf, uint32_t *h)
{
	struct cw_drm_prime_handle ph = { .fd = dmabuf };
	int r = xioctl(fd, CW_IOCTL_PRIME_FD_TO_HANDLE, &ph);
	*h = ph.handle;
	return r;
}

/* One command in its own execbuffer; ring < 0: no ring index. */
static inline int submit(int fd, const void *cmd, size_t n, int ring, const uint32_t *hs,
	unsigned nh)
{
	struct cw_virtgpu_execbuffer eb = {
		.flags = ring >= 0 ? CW_VIRTGPU_EXECBUF_RING_IDX : 0,
		.size = (uint32_t)n,
		.command = (uintptr_t)cmd,
		.bo_handles = (uintptr_t)hs,
		.num_bo_handles = nh,
		.ring_idx = ring >= 0 ? (uint32_t)ring : 0,
	};
	return xioctl(fd, CW_IOCTL_VIRTGPU_EXECBUFFER, &eb);
}

static inline int submit_poll(struct guest *g)
{
	struct cw_xd_poll p = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = sizeof(p) } };
	return submit(g->fd, &p, sizeof(p), CW_XD_RING_CHANNEL, NULL, 0);
}

static inline int submit_init(struct guest *g)
{
	struct cw_xd_init_v1 in = {
		.hdr = { .cmd = CW_XD_CMD_INIT, .cmd_size = sizeof(in) },
		.query_ring_res = g->qres,
		.channel_ring_res = g->cres,
		.channel_type = CW_XD_CHANNEL_WAYLAND,
	};
	return submit(g->fd, &in, sizeof(in), -1, NULL, 0);
}

/* Accepts the connection the host made for a context; -1 on timeout. */
static inline int comp_accept(int timeout_ms)
{
	struct pollfd p = { .fd = g_listen, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1) {
		return -1;
	}
	return accept4(g_listen, NULL, NULL, SOCK_CLOEXEC);
}

static inline int comp_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	g_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_listen < 0 || bind(g_listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		listen(g_listen, 16) < 0) {
		return -1;
	}
	return 0;
}

/* Opens the node, CONTEXT_INIT {5, 2 rings, mask 0x2}, two mapped one-page rings. */
static inline int guest_open_rings(struct guest *g)
{
	*g = (struct guest){ .fd = -1, .comp = -1 };
	g->fd = gpu_open();
	if (g->fd < 0 || ctx_init(g->fd, CW_XD_CAPSET_ID, 2, 1u << CW_XD_RING_CHANNEL) < 0) {
		return -1;
	}
	if (blob_create(g->fd, CW_VIRTGPU_BLOB_MEM_GUEST, CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		    GUEST_RING_BYTES, 0, &g->qh, &g->qres) < 0 ||
		blob_create(g->fd, CW_VIRTGPU_BLOB_MEM_GUEST, CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
			GUEST_RING_BYTES, 0, &g->ch, &g->cres) < 0) {
		return -1;
	}
	g->q = blob_map(g->fd, g->qh, GUEST_RING_BYTES);
	g->c = blob_map(g->fd, g->ch, GUEST_RING_BYTES);
	return g->q == MAP_FAILED || g->c == MAP_FAILED ? -1 : 0;
}

/* Submits init (NULL: the 20-byte form), accepts the host's connection, arms POLL. */
static inline int guest_connect(struct guest *g, const void *init, size_t init_len)
{
	if ((init ? submit(g->fd, init, init_len, -1, NULL, 0) : submit_init(g)) < 0) {
		return -1;
	}
	g->comp = comp_accept(GUEST_TIMEOUT_MS);
	return g->comp < 0 ? -1 : submit_poll(g);
}

/* What a proxy does per client: rings first, then INIT (20 bytes), then POLL. */
static inline int guest_open(struct guest *g)
{
	return guest_open_rings(g) < 0 ? -1 : guest_connect(g, NULL, 0);
}

static inline void guest_close(struct guest *g)
{
	if (g->q && g->q != MAP_FAILED) {
		munmap(g->q, GUEST_RING_BYTES);
	}
	if (g->c && g->c != MAP_FAILED) {
		munmap(g->c, GUEST_RING_BYTES);
	}
	if (g->comp >= 0) {
		close(g->comp);
	}
	if (g->fd >= 0) {
		close(g->fd);
	}
	*g = (struct guest){ .fd = -1, .comp = -1 };
}

/* Reads one DRM event: 1, 0 on timeout, -1 if it is not a fence event. */
static inline int wait_event(struct guest *g, int timeout_ms)
{
	struct pollfd p = { .fd = g->fd, .events = POLLIN };
	struct cw_drm_event ev;
	if (poll(&p, 1, timeout_ms) != 1) {
		return 0;
	}
	if (read(g->fd, &ev, sizeof(ev)) != sizeof(ev)) {
		return -1;
	}
	return ev.type == CW_XD_EVENT_FENCE && ev.length == sizeof(ev) ? 1 : -1;
}

static inline int send_fds(int sock, const void *data, size_t n, const int *fds, size_t nfds)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = n };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 28)];
	} cbuf;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* One recvmsg with a timeout; the received fds become the caller's. */
static inline ssize_t recv_fds(int sock, void *buf, size_t cap, int *fds, size_t *nfds)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 28)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf) };
	*nfds = 0;
	if (poll(&p, 1, GUEST_TIMEOUT_MS) != 1) {
		return -1;
	}
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
		*nfds += k;
	}
	return n;
}

/* SEND in the 28-identifier layout; cmd_size_delta falsifies cmd_size on purpose. */
static inline int send_cmd_raw(struct guest *g, uint32_t nids, const uint32_t *ids,
	const uint32_t *types, const void *data, size_t n, int cmd_size_delta)
{
	uint8_t buf[4096];
	struct cw_xd_send_recv *s = (struct cw_xd_send_recv *)buf;
	if (n > sizeof(buf) - sizeof(*s)) {
		return -1;
	}
	memset(s, 0, sizeof(*s));
	s->hdr.cmd = CW_XD_CMD_SEND;
	s->hdr.cmd_size = (uint16_t)((int)(sizeof(*s) + n) + cmd_size_delta);
	s->num_ids = nids;
	s->opaque_data_size = (uint32_t)n;
	for (uint32_t i = 0; i < nids; i++) {
		s->ids[i] = ids[i];
		s->id_types[i] = types[i];
	}
	if (n) {
		memcpy(buf + sizeof(*s), data, n);
	}
	return submit(g->fd, buf, sizeof(*s) + n, -1, NULL, 0);
}

static inline int send_cmd(struct guest *g, uint32_t nids, const uint32_t *ids,
	const uint32_t *types, const void *data, size_t n)
{
	return send_cmd_raw(g, nids, ids, types, data, n, 0);
}

static inline int write_cmd(struct guest *g, uint32_t id, uint32_t hang_up, const void *data,
	size_t n)
{
	uint8_t buf[8192];
	struct cw_xd_read_write *w = (struct cw_xd_read_write *)buf;
	if (n > sizeof(buf) - sizeof(*w)) {
		return -1;
	}
	*w = (struct cw_xd_read_write){
		.hdr = { .cmd = CW_XD_CMD_WRITE, .cmd_size = (uint16_t)(sizeof(*w) + n) },
		.id = id,
		.hang_up = hang_up,
		.opaque_data_size = (uint32_t)n,
	};
	if (n) {
		memcpy(buf + sizeof(*w), data, n);
	}
	return submit(g->fd, buf, sizeof(*w) + n, -1, NULL, 0);
}

/* GET_IMAGE_REQUIREMENTS on ring 0 with the query ring's handle, then WAIT. Returns 0 if
 * the host wrote a reply (the ring was pre-filled with 0xff), -1 if not. */
static inline int query(struct guest *g, uint32_t w, uint32_t h, uint32_t fourcc,
	struct cw_xd_image_reqs *out)
{
	struct cw_xd_image_query q = {
		.hdr = { .cmd = CW_XD_CMD_GET_IMAGE_REQS, .cmd_size = sizeof(q) },
		.width = w, .height = h, .drm_format = fourcc, .flags = 0x11,
	};
	struct cw_virtgpu_wait wt = { .handle = g->qh };
	memset(g->q, 0xff, sizeof(*out));
	if (submit(g->fd, &q, sizeof(q), CW_XD_RING_QUERY, &g->qh, 1) < 0 ||
		xioctl(g->fd, CW_IOCTL_VIRTGPU_WAIT, &wt) < 0) {
		return -2;
	}
	memcpy(out, g->q, sizeof(*out));
	return out->blob_id == 0xffffffffu ? -1 : 0;
}

/* The report file written by the double: its size now, and what was appended since. */
static inline long report_mark(void)
{
	struct stat st;
	const char *path = getenv("CW_FAKEGPU_REPORT");
	return path && stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static inline char *report_since(long mark)
{
	const char *path = getenv("CW_FAKEGPU_REPORT");
	FILE *fp = path ? fopen(path, "re") : NULL;
	char *text = calloc(1, 1 << 20);
	if (fp && text && fseek(fp, mark, SEEK_SET) == 0) {
		size_t n = fread(text, 1, (1 << 20) - 1, fp);
		text[n] = '\0';
	}
	if (fp) {
		fclose(fp);
	}
	return text;
}

#endif
