/* The host model's GPU-thread side (docs/cross-domain.md 17.1-17.5, 17.8-17.9): the
 * context's resource and item tables, INIT, image queries on the system allocator, SEND,
 * WRITE, host3d blobs and fence routing, plus the checks of 18.5 on what the guest sends.
 * It runs inside the guest's execbuffer call, with the file's lock held. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

struct cw_fake_host *cw_fake_host_create(struct cw_fake_file *f)
{
	struct cw_fake_host *h = calloc(1, sizeof(*h));
	if (!h) {
		return NULL;
	}
	h->file = f;
	h->ctx_id = f->ctx_id;
	h->sock = h->epfd = h->resample_fd = h->kill_fd = -1;
	h->max_ids = cw_fake_cfg.max_ids;
	h->next_id = 1;   /* incremented before use: 2, 3, 4, ... */
	h->next_even = 2; /* odd/even scheme: templates 4, 6, ...; others 3, 5, ... */
	h->next_odd = 1;
	h->next_read_pipe = CW_XD_READ_PIPE_BASE;
	pthread_cond_init(&h->jobs_cond, NULL);
	return h;
}

void cw_fake_host_destroy(struct cw_fake_host *h)
{
	if (!h) {
		return;
	}
	if (h->thread_started) {
		cw_fake_worker_stop(h);
	}
	for (size_t i = 0; i < h->nitems; i++) {
		cw_fake_fd_close(&h->items[i].fd);
	}
	for (size_t i = 0; i < h->nattached; i++) {
		cw_fake_fd_close(&h->attached[i].fd);
	}
	while (h->jobs) {
		struct cw_fake_job *j = h->jobs;
		h->jobs = j->next;
		free(j);
	}
	cw_fake_fd_close(&h->sock); /* the compositor sees the client disconnect */
	cw_fake_fd_close(&h->epfd);
	cw_fake_fd_close(&h->resample_fd);
	cw_fake_fd_close(&h->kill_fd);
	pthread_cond_destroy(&h->jobs_cond);
	free(h->items);
	free(h->attached);
	free(h->gone);
	free(h);
}

/* ---- tables ---- */

static bool grow(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap) {
		return true;
	}
	size_t c = *cap ? *cap * 2 : 8;
	void *nv = realloc(*v, c * elem);
	if (!nv) {
		return false;
	}
	*v = nv;
	*cap = c;
	return true;
}

struct cw_fake_attach *cw_fake_host_find_attach(struct cw_fake_host *h, uint32_t res_id)
{
	for (size_t i = 0; i < h->nattached; i++) {
		if (h->attached[i].res_id == res_id) {
			return &h->attached[i];
		}
	}
	return NULL;
}

void cw_fake_host_attach(struct cw_fake_host *h, const struct cw_fake_obj *o)
{
	if (cw_fake_host_find_attach(h, o->res_id) ||
		!grow((void **)&h->attached, &h->capattached, h->nattached, sizeof(*h->attached))) {
		return;
	}
	h->attached[h->nattached++] = (struct cw_fake_attach){
		.res_id = o->res_id,
		.fd = cw_fake_fd_dup(o->fd),
		.size = o->size,
		.guest = o->blob_mem == CW_VIRTGPU_BLOB_MEM_GUEST,
	};
}

void cw_fake_host_detach(struct cw_fake_host *h, uint32_t res_id)
{
	struct cw_fake_attach *a = cw_fake_host_find_attach(h, res_id);
	if (a) {
		cw_fake_fd_close(&a->fd);
		*a = h->attached[--h->nattached];
	}
}

bool cw_fake_host_is_ring(const struct cw_fake_host *h, uint32_t res_id)
{
	return h->init_seen && (res_id == h->query_res || res_id == h->channel_res);
}

int cw_fake_host_ring_write(struct cw_fake_host *h, uint32_t res_id, const void *buf,
	size_t len)
{
	struct cw_fake_attach *a = cw_fake_host_find_attach(h, res_id);
	if (!a || len > a->size) {
		return -1; /* the ring was detached (its handle closed) or is too small */
	}
	/* Replies always go at offset 0; bytes beyond len are left as they were. */
	return pwrite(a->fd, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static bool id_is_gone(const struct cw_fake_host *h, uint32_t id)
{
	for (size_t i = 0; i < h->ngone; i++) {
		if (h->gone[i] == id) {
			return true;
		}
	}
	return false;
}

struct cw_fake_item *cw_fake_host_find_item(struct cw_fake_host *h, uint32_t id)
{
	for (size_t i = 0; i < h->nitems; i++) {
		if (h->items[i].id == id) {
			return &h->items[i];
		}
	}
	return NULL;
}

/* Adds an item with the next id of the configured scheme (read pipes: the caller sets
 * the id). The pointer is valid until the next add or remove. */
struct cw_fake_item *cw_fake_host_add_item(struct cw_fake_host *h, enum cw_fake_item_kind kind,
	int fd, uint64_t size)
{
	if (!grow((void **)&h->items, &h->capitems, h->nitems, sizeof(*h->items))) {
		return NULL;
	}
	struct cw_fake_item *it = &h->items[h->nitems++];
	*it = (struct cw_fake_item){ .kind = kind, .fd = fd, .size = size };
	if (kind == CW_FAKE_ITEM_READ_PIPE) {
		it->id = 0;
	} else if (!cw_fake_cfg.ids_oddeven) {
		it->id = ++h->next_id;
	} else if (kind == CW_FAKE_ITEM_TEMPLATE) {
		it->id = h->next_even += 2;
	} else {
		it->id = h->next_odd += 2;
	}
	return it;
}

void cw_fake_host_remove_item(struct cw_fake_host *h, struct cw_fake_item *it)
{
	if (grow((void **)&h->gone, &h->capgone, h->ngone, sizeof(*h->gone))) {
		h->gone[h->ngone++] = it->id;
	}
	cw_fake_fd_close(&it->fd);
	*it = h->items[--h->nitems];
}

/* ---- INIT (9.3) ---- */

static int connect_compositor(struct cw_fake_host *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (cw_fake_cfg.init_fail) {
		cw_fake_debug("context %u: INIT fails (CW_FAKEGPU_INIT_FAIL)", h->ctx_id);
		return -1;
	}
	if (!cw_fake_cfg.wayland[0] || strlen(cw_fake_cfg.wayland) >= sizeof(sa.sun_path)) {
		cw_fake_debug(
			"context %u: INIT fails: no usable compositor socket path", h->ctx_id);
		return -1;
	}
	strcpy(sa.sun_path, cw_fake_cfg.wayland);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		return -1;
	}
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cw_fake_debug("context %u: INIT fails: connect %s: %s", h->ctx_id, sa.sun_path,
			strerror(errno));
		close(s);
		return -1;
	}
	h->sock = cw_fake_fd_own(s);
	return 0;
}

static int host_init(struct cw_fake_host *h, const uint8_t *p, size_t remaining,
	uint16_t cmd_size)
{
	size_t form;
	uint32_t version = 0, channel_type, query, channel;

	switch (cw_fake_cfg.init_mode) {
	case CW_FAKE_INIT_EXACT:
		if (cmd_size != 16 && cmd_size != 20 && cmd_size != 36) {
			cw_fake_violation(h->ctx_id,
				"INIT with cmd_size %u: this host accepts only 16, 20 or 36 bytes",
				cmd_size);
			return -1;
		}
		form = cmd_size;
		break;
	case CW_FAKE_INIT_PREFIX:
		form = remaining >= 20 ? 20 : 16;
		break;
	default: /* libkrun */
		form = remaining >= 24 ? 24 : remaining >= 20 ? 20 : 16;
		if (form == 24) {
			version = rd32(p + 20);
		}
		break;
	}
	if (remaining < form || cmd_size < 16) {
		cw_fake_violation(h->ctx_id, "INIT of %u bytes is too short", cmd_size);
		return -1;
	}
	if (h->init_seen) {
		cw_fake_violation(h->ctx_id, "a second INIT on the same context");
		return -1;
	}
	h->init_seen = true;
	query = rd32(p + 8);
	if (form == 16) {
		/* Legacy: one ring for queries and channel replies alike. */
		channel_type = rd32(p + 12);
		channel = query;
	} else {
		channel = rd32(p + 12);
		channel_type = rd32(p + 16);
	}
	if (cw_fake_cfg.init_mode == CW_FAKE_INIT_LIBKRUN && !cw_fake_cfg.max_ids_set) {
		h->max_ids = version >= 1 ? CW_XD_MAX_IDS : CW_XD_MAX_IDS_OLD;
	}
	h->query_res = query;
	h->channel_res = channel;
	if (!cw_fake_host_find_attach(h, query)) {
		cw_fake_violation(h->ctx_id, "INIT names query ring resource %u, which is not "
			"attached to this context", query);
		return -1;
	}
	if (channel_type == 0) {
		h->has_state = true; /* image queries only; ring-1 fences wait forever */
		return 0;
	}
	if (!cw_fake_host_find_attach(h, channel)) {
		cw_fake_violation(h->ctx_id, "INIT names channel ring resource %u, which is not "
			"attached to this context", channel);
		return -1;
	}
	if (channel_type >= 32 || !(cw_fake_cfg.channels & (1u << channel_type)) ||
		channel_type != CW_XD_CHANNEL_WAYLAND) {
		cw_fake_debug("context %u: INIT fails: channel type %u has no socket", h->ctx_id,
			channel_type);
		return -1;
	}
	if (connect_compositor(h) < 0 || cw_fake_worker_start(h) < 0) {
		return -1;
	}
	h->has_state = h->has_channel = true;
	cw_fake_debug("context %u: INIT (%zu-byte form, %u identifiers): query ring %u, channel "
		"ring %u", h->ctx_id, form, h->max_ids, query, channel);
	return 0;
}

/* ---- GET_IMAGE_REQUIREMENTS on the system allocator (18.3) ---- */

static int bytes_per_pixel(uint32_t fourcc)
{
	switch (fourcc) {
	case FOURCC('R', '8', ' ', ' '):
		return 1;
	case FOURCC('R', 'G', '1', '6'):
		return 2;
	case FOURCC('B', 'G', '2', '4'):
		return 3;
	case FOURCC('X', 'R', '2', '4'):
	case FOURCC('A', 'R', '2', '4'):
	case FOURCC('X', 'B', '2', '4'):
	case FOURCC('A', 'B', '2', '4'):
	case FOURCC('X', 'R', '3', '0'):
	case FOURCC('A', 'R', '3', '0'):
	case FOURCC('X', 'B', '3', '0'):
	case FOURCC('A', 'B', '3', '0'):
		return 4;
	case FOURCC('A', 'B', '4', 'H'):
		return 8;
	default:
		return 0;
	}
}

static int image_reqs(uint32_t w, uint32_t hgt, uint32_t fourcc, struct cw_xd_image_reqs *r)
{
	uint64_t total;
	*r = (struct cw_xd_image_reqs){ .map_info = 1, .memory_idx = -1,
		.physical_device_idx = -1 };
	if (!w || !hgt) {
		return -1;
	}
	uint64_t w64 = w, h64 = hgt, ch = (h64 + 1) / 2;
	if (fourcc == FOURCC('N', 'V', '1', '2')) {
		r->strides[0] = w;
		r->strides[1] = (uint32_t)(w64 + (w64 & 1)); /* interleaved UV, half height */
		r->offsets[1] = (uint32_t)(w64 * h64);
		total = w64 * h64 + r->strides[1] * ch;
	} else if (fourcc == FOURCC('Y', 'V', '1', '2')) {
		uint64_t cw = (w64 + 1) / 2;
		r->strides[0] = w;
		r->strides[1] = r->strides[2] = (uint32_t)cw;
		r->offsets[1] = (uint32_t)(w64 * h64);
		r->offsets[2] = (uint32_t)(w64 * h64 + cw * ch);
		total = w64 * h64 + 2 * cw * ch;
	} else {
		int bpp = bytes_per_pixel(fourcc);
		if (!bpp || w64 * (uint64_t)bpp > UINT32_MAX) {
			return -1;
		}
		r->strides[0] = (uint32_t)(w64 * (uint64_t)bpp);
		total = r->strides[0] * h64;
	}
	if (total > UINT32_MAX) {
		return -1;
	}
	uint64_t page = cw_fake_cfg.host_page;
	r->size = (total + page - 1) / page * page; /* rounded to the host page */
	return 0;
}

static int host_query(struct cw_fake_host *h, const uint8_t *p)
{
	struct cw_xd_image_query q;
	struct cw_xd_image_reqs r;
	memcpy(&q, p, sizeof(q));
	if (!h->has_state) {
		cw_fake_debug("context %u: query fails: no INIT state", h->ctx_id);
		return -1;
	}
	if (image_reqs(q.width, q.height, q.drm_format, &r) < 0) {
		cw_fake_debug("context %u: query %ux%u format 0x%08x fails", h->ctx_id, q.width,
			q.height, q.drm_format);
		return -1;
	}
	struct cw_fake_item *it = cw_fake_host_add_item(h, CW_FAKE_ITEM_TEMPLATE, -1, r.size);
	if (!it) {
		return -1;
	}
	r.blob_id = it->id;
	it->reqs = r;
	h->queries++;
	return cw_fake_host_ring_write(h, h->query_res, &r, sizeof(r));
}

/* ---- host3d blobs (17.2) ---- */

int cw_fake_host_create_blob(struct cw_fake_host *h, uint64_t size, uint64_t blob_id,
	bool *writable)
{
	uint32_t id = (uint32_t)blob_id; /* the host truncates it to 32 bits */
	struct cw_fake_item *it = cw_fake_host_find_item(h, id);
	int fd;

	if (!it) {
		if (id_is_gone(h, id)) {
			cw_fake_violation(h->ctx_id, "host3d blob from item %u, which was already "
				"materialised (received blobs can be used once)", id);
		} else {
			cw_fake_violation(h->ctx_id, "host3d blob from unknown item id %u", id);
		}
		return -1;
	}
	if (it->kind == CW_FAKE_ITEM_TEMPLATE) {
		if (size != it->reqs.size) {
			cw_fake_violation(h->ctx_id,
				"host3d blob of %llu bytes from template %u of %llu bytes: sizes "
				"must match",
				(unsigned long long)size, id, (unsigned long long)it->reqs.size);
			return -1;
		}
		fd = memfd_create("cw-fakegpu-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			if (fd >= 0) {
				close(fd);
			}
			return -1;
		}
		*writable = true;
		return cw_fake_fd_own(fd);
	}
	if (it->kind != CW_FAKE_ITEM_BLOB) {
		cw_fake_violation(h->ctx_id, "host3d blob from item %u, which is not a blob or "
			"template (kind %d)", id, (int)it->kind);
		return -1;
	}
	/* A received fd becomes the resource; the item is consumed. */
	fd = it->fd;
	it->fd = -1;
	*writable = it->writable;
	cw_fake_host_remove_item(h, it);
	return fd;
}

/* ---- SEND and WRITE (17.5, 17.3) ---- */

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cw_fake_fd_close(&fds[i]);
	}
}

static int host_send(struct cw_fake_host *h, const uint8_t *p, size_t remaining,
	uint16_t cmd_size)
{
	size_t hdr_len = 16 + 12 * (size_t)h->max_ids;
	const uint8_t *ids = p + 16, *types = ids + 4 * h->max_ids;
	int fds[CW_XD_MAX_IDS];
	size_t nfds = 0;
	bool read_pipe = false;

	if (cmd_size < hdr_len) {
		cw_fake_violation(h->ctx_id, "SEND with cmd_size %u, shorter than its %zu-byte "
			"header", cmd_size, hdr_len);
		return -1;
	}
	uint32_t num = rd32(p + 8), n = rd32(p + 12);
	if (cmd_size != hdr_len + n) {
		cw_fake_violation(h->ctx_id, "SEND with cmd_size %u, but %zu + opaque_data_size "
			"%u = %zu", cmd_size, hdr_len, n, hdr_len + n);
	}
	if (num > h->max_ids) {
		cw_fake_violation(h->ctx_id, "SEND with %u identifiers; this host takes at most %u",
			num, h->max_ids);
		return -1;
	}
	if (hdr_len + n > remaining) {
		return -1; /* data past the end of the buffer */
	}
	if (!h->init_seen) {
		cw_fake_violation(h->ctx_id, "SEND before INIT");
		return -1;
	}
	if (!h->has_channel) {
		return -1; /* INIT failed: nothing to send on */
	}
	for (uint32_t i = 0; i < num; i++) {
		uint32_t id = rd32(ids + 4 * i), type = rd32(types + 4 * i);
		if (type == CW_XD_ID_BLOB) {
			struct cw_fake_attach *a = cw_fake_host_find_attach(h, id);
			if (!a) {
				cw_fake_violation(h->ctx_id, "SEND names resource %u, which is not "
					"attached to the context (no GEM handle at SEND time)", id);
				goto fail;
			}
			if (a->guest) {
				cw_fake_violation(h->ctx_id,
					"SEND names resource %u, a guest blob the host cannot "
					"forward", id);
				goto fail;
			}
			if ((fds[nfds] = cw_fake_fd_dup(a->fd)) < 0) {
				goto fail;
			}
			nfds++;
		} else if (type == CW_XD_ID_READ_PIPE) {
			int pp[2];
			if (read_pipe) {
				cw_fake_violation(h->ctx_id,
					"two READ_PIPE identifiers in one SEND");
				goto fail;
			}
			read_pipe = true;
			if (pipe2(pp, O_CLOEXEC) < 0) {
				goto fail;
			}
			/* Stored before the check, as the real host does: a bad id leaks it. */
			struct cw_fake_item *it = cw_fake_host_add_item(h, CW_FAKE_ITEM_READ_PIPE,
				cw_fake_fd_own(pp[0]), 0);
			if (it) {
				it->id = ++h->next_read_pipe;
			}
			fds[nfds++] = cw_fake_fd_own(pp[1]);
			if (!it || id != h->next_read_pipe) {
				cw_fake_violation(h->ctx_id,
					"READ_PIPE id 0x%08x out of sequence: the host expected "
					"0x%08x", id, h->next_read_pipe);
				goto fail;
			}
		} else {
			cw_fake_violation(h->ctx_id, "SEND with identifier type %u (only 1 and 3 "
				"may be sent)", type);
			goto fail;
		}
	}

	struct iovec iov = { .iov_base = (void *)(p + hdr_len), .iov_len = n };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CW_XD_MAX_IDS)];
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
	ssize_t sent;
	do {
		sent = sendmsg(h->sock, &mh, MSG_NOSIGNAL); /* one call; a partial send is final */
	} while (sent < 0 && errno == EINTR);
	close_all(fds, nfds);
	if (sent < 0) {
		cw_fake_debug("context %u: SEND fails: %s", h->ctx_id, strerror(errno));
		return -1;
	}
	h->sends++;
	if (read_pipe) {
		cw_fake_worker_push(h, CW_FAKE_JOB_ADD_PIPE, h->next_read_pipe);
		uint64_t one = 1;
		ssize_t r = write(h->resample_fd, &one, sizeof(one));
		(void)r;
	}
	return 0;
fail:
	close_all(fds, nfds);
	return -1;
}

/* write() to a pipe whose reader may be gone, without SIGPIPE for the app. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t r = write(fd, buf, len);
	if (r < 0 && errno == EPIPE) {
		sigtimedwait(&pipe_set, NULL, &(struct timespec){ 0 });
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int host_write(struct cw_fake_host *h, const uint8_t *p, size_t remaining,
	uint16_t cmd_size)
{
	if (cmd_size < sizeof(struct cw_xd_read_write)) {
		cw_fake_violation(h->ctx_id, "WRITE with cmd_size %u, shorter than its header",
			cmd_size);
		return -1;
	}
	uint32_t id = rd32(p + 8), hang_up = rd32(p + 12), n = rd32(p + 16);
	if (cmd_size != 24 + n) {
		cw_fake_violation(h->ctx_id, "WRITE with cmd_size %u, but 24 + opaque_data_size %u "
			"= %u", cmd_size, n, 24 + n);
	}
	if (n > CW_XD_WRITE_MAX_DATA) {
		cw_fake_violation(h->ctx_id, "WRITE chunk of %u bytes; at most %u fit one page "
			"and stay below PIPE_BUF", n, CW_XD_WRITE_MAX_DATA);
	}
	if (24 + (size_t)n > remaining) {
		return -1;
	}
	struct cw_fake_item *it = cw_fake_host_find_item(h, id);
	if (!it || it->kind != CW_FAKE_ITEM_WRITE_PIPE) {
		if (!it && id_is_gone(h, id)) {
			cw_fake_violation(h->ctx_id, "WRITE to pipe %u after its hang_up", id);
		} else {
			cw_fake_violation(h->ctx_id,
				"WRITE to id %u, which is not a host write pipe", id);
		}
		return -1;
	}
	if (n > 0) {
		write_nosigpipe(it->fd, p + 24, n); /* short writes are not retried */
	}
	h->writes++;
	if (hang_up) {
		cw_fake_host_remove_item(h, it); /* closes it: the host reader sees EOF */
	}
	return 0;
}

/* ---- dispatch (17.3) ---- */

static void check_poll(struct cw_fake_host *h, const struct cw_fake_submit *s, uint16_t size)
{
	if (size != sizeof(struct cw_xd_poll)) {
		cw_fake_violation(h->ctx_id, "POLL with cmd_size %u (it is 16 bytes)", size);
	}
	if (!s->ring_set || s->ring_idx != CW_XD_RING_CHANNEL) {
		cw_fake_violation(h->ctx_id, "POLL not submitted on ring 1 (RING_IDX unset or "
			"another ring): no reply can come back");
	}
	if (!h->init_seen) {
		cw_fake_violation(h->ctx_id, "POLL before INIT");
	}
	if (h->eof_sent) {
		cw_fake_violation(h->ctx_id, "POLL re-armed after an empty RECEIVE (compositor "
			"EOF): every new POLL gets another one at once");
	}
	if (cw_fake_file_unread_events(h->file) > 0) {
		cw_fake_violation(h->ctx_id, "POLL submitted while a previous reply's event is "
			"still unread on the DRM fd");
	}
	h->polls++;
}

static void check_query(struct cw_fake_host *h, const struct cw_fake_submit *s, uint16_t size)
{
	if (size != sizeof(struct cw_xd_image_query)) {
		cw_fake_violation(h->ctx_id, "GET_IMAGE_REQUIREMENTS with cmd_size %u (it is 24 "
			"bytes)", size);
	}
	if (!s->ring_set || s->ring_idx != CW_XD_RING_QUERY) {
		cw_fake_violation(h->ctx_id, "GET_IMAGE_REQUIREMENTS not on ring 0");
	}
	if (!s->nhandles && !s->fence_out) {
		cw_fake_violation(h->ctx_id, "GET_IMAGE_REQUIREMENTS without the query ring handle "
			"or FENCE_FD_OUT: nothing to wait on with a 6.6+ kernel");
	}
}

void cw_fake_host_submit(struct cw_fake_host *h, const uint8_t *buf, size_t len,
	const struct cw_fake_submit *s)
{
	size_t pos = 0;
	while (pos < len) {
		struct cw_xd_hdr hdr;
		const uint8_t *p = buf + pos;
		int rc = 0;
		if (len - pos < sizeof(hdr)) {
			cw_fake_violation(h->ctx_id,
				"execbuffer ends with %zu bytes, too short for a command header",
				len - pos);
			return;
		}
		memcpy(&hdr, p, sizeof(hdr));
		if (hdr.cmd_size == 0) {
			cw_fake_violation(h->ctx_id,
				"command %u with cmd_size 0: FATAL, the real host would process "
				"it forever and hang the VMM's GPU thread", hdr.cmd);
			return;
		}
		if (hdr.cmd_size < sizeof(hdr) || hdr.cmd_size > len - pos) {
			cw_fake_violation(h->ctx_id,
				"command %u with cmd_size %u (%zu bytes left in the execbuffer)",
				hdr.cmd, hdr.cmd_size, len - pos);
			return;
		}
		if (s->ring_set && hdr.cmd != CW_XD_CMD_POLL &&
			hdr.cmd != CW_XD_CMD_GET_IMAGE_REQS) {
			cw_fake_violation(h->ctx_id, "command %u submitted with a ring index (only "
				"queries and POLL use rings)", hdr.cmd);
		}
		switch (hdr.cmd) {
		case CW_XD_CMD_INIT:
			if (pos != 0 || hdr.cmd_size != len) {
				cw_fake_violation(h->ctx_id,
					"INIT shares its execbuffer with other commands");
			}
			rc = host_init(h, p, len - pos, hdr.cmd_size);
			break;
		case CW_XD_CMD_GET_IMAGE_REQS:
			check_query(h, s, hdr.cmd_size);
			rc = hdr.cmd_size < sizeof(struct cw_xd_image_query) ? -1 :
								      host_query(h, p);
			break;
		case CW_XD_CMD_POLL:
			check_poll(h, s, hdr.cmd_size);
			break;
		case CW_XD_CMD_SEND:
			rc = host_send(h, p, len - pos, hdr.cmd_size);
			break;
		case CW_XD_CMD_WRITE:
			rc = host_write(h, p, len - pos, hdr.cmd_size);
			break;
		default:
			cw_fake_violation(h->ctx_id,
				"unknown or host-to-guest command %u sent by the guest", hdr.cmd);
			rc = -1;
			break;
		}
		if (rc < 0) {
			/* The rest of the execbuffer is skipped; the guest is not told. */
			cw_fake_debug(
				"context %u: command %u failed on the host", h->ctx_id, hdr.cmd);
			return;
		}
		pos += hdr.cmd_size;
	}
}

/* ---- fences (17.4) ---- */

enum cw_fake_fence_fate cw_fake_host_fence(struct cw_fake_host *h, uint64_t seq, int timeline)
{
	if (timeline < 0) {
		return cw_fake_cfg.global_fences ? CW_FAKE_FENCE_NOW : CW_FAKE_FENCE_NEVER;
	}
	if (timeline == CW_XD_RING_QUERY) {
		return CW_FAKE_FENCE_NOW; /* after the command was processed, even if it failed */
	}
	if (timeline != CW_XD_RING_CHANNEL) {
		cw_fake_debug("context %u: fence on ring %d: host error, never completed",
			h->ctx_id, timeline);
		return CW_FAKE_FENCE_NEVER;
	}
	if (h->ring1_pending > 0) {
		cw_fake_violation(h->ctx_id, "two POLLs outstanding: a ring-1 fence was submitted "
			"while another one is pending, and both replies go to offset 0");
	}
	h->ring1_pending++;
	if (!h->has_state || !h->has_channel) {
		cw_fake_debug("context %u: ring-1 fence without a channel: never completed",
			h->ctx_id);
		return CW_FAKE_FENCE_NEVER;
	}
	if (cw_fake_cfg.silent) {
		return CW_FAKE_FENCE_NEVER;
	}
	cw_fake_worker_push(h, CW_FAKE_JOB_FENCE, seq);
	return CW_FAKE_FENCE_LATER;
}
