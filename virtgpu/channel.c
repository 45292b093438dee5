/* The Wayland channel of a cross-domain context: SEND with fds turned into identifiers,
 * one POLL outstanding, RECEIVE with identifiers turned into fds, and the pipes that
 * carry clipboard data across (READ and WRITE). Spec sections 10 to 13. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xf86drm.h>

#include "virtgpu/private.h"

int cw_gpu_arm_poll(struct cw_gpu *g)
{
	if (g->poll_outstanding || g->eof) {
		return 0;
	}
	struct cw_xd_poll poll_cmd = { .hdr = { .cmd = CW_XD_CMD_POLL, .cmd_size = sizeof(poll_cmd) } };
	if (cw_gpu_submit(g, &poll_cmd, sizeof(poll_cmd), CW_XD_RING_CHANNEL, NULL, 0) < 0) {
		return -1;
	}
	g->poll_outstanding = true;
	return 0;
}

enum cw_gpu_fd_kind cw_gpu_classify_fd(struct cw_gpu *g, int fd, char *what, size_t len)
{
	uint32_t handle;
	if (drmPrimeFDToHandle(g->fd, fd, &handle) == 0) {
		/* An import returns the existing handle when this file has one, which may be
		 * one of ours; cw_gpu_send imports again when it sends. */
		if (!cw_gpu_handle_is_owned(g, handle)) {
			struct cw_drm_gem_close gc = { .handle = handle };
			cw_gpu_ioctl(g, CW_IOCTL_GEM_CLOSE, &gc);
		}
		return CW_GPU_FD_BUFFER;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(what, len, "an invalid fd");
		return CW_GPU_FD_OTHER;
	}
	int fl = fcntl(fd, F_GETFL);
	if (S_ISFIFO(st.st_mode) && fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) {
		return CW_GPU_FD_PIPE_WRITE;
	}
	const char *kind = S_ISFIFO(st.st_mode) ? "a pipe read end" :
		S_ISSOCK(st.st_mode) ? "a socket" :
		S_ISREG(st.st_mode) ? "a file or shared-memory fd" :
		S_ISCHR(st.st_mode) ? "a device fd" : "an fd of an unsupported kind";
	snprintf(what, len, "%s", kind);
	return CW_GPU_FD_OTHER;
}

int cw_gpu_send(struct cw_gpu *g, const void *data, size_t len, const int *fds, size_t nfds,
	struct cw_gpu_why *why)
{
	struct {
		struct cw_xd_send_recv hdr;
		uint8_t data[CW_GPU_SEND_MAX_BYTES];
	} cmd;
	/* Imported handles to close once the SEND is submitted (the host must see the
	 * resources attached while it processes it). */
	uint32_t imported[CW_XD_MAX_IDS];
	unsigned nimported = 0;
	int pipe_dup = -1;
	size_t hdr_bytes = g->max_ids == CW_XD_MAX_IDS ? sizeof(struct cw_xd_send_recv) : 64;
	uint32_t *ids, *types; /* identifier_sizes stay 0: the host ignores them */
	int ret = -1;

	if (len > CW_GPU_SEND_MAX_BYTES || nfds > g->max_ids) {
		cw_gpu_why_set(why, "internal: SEND of %zu bytes and %zu fds is too large", len, nfds);
		return -1;
	}
	memset(&cmd.hdr, 0, hdr_bytes);
	ids = (uint32_t *)((uint8_t *)&cmd + 16);
	types = ids + g->max_ids;
	for (size_t i = 0; i < nfds; i++) {
		uint32_t handle;
		if (drmPrimeFDToHandle(g->fd, fds[i], &handle) == 0) {
			struct cw_virtgpu_resource_info ri = { .bo_handle = handle };
			if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_RESOURCE_INFO, &ri) < 0) {
				cw_gpu_why_set(why, "cannot identify a GPU buffer: %s", strerror(errno));
				goto out;
			}
			bool seen = cw_gpu_handle_is_owned(g, handle);
			for (unsigned k = 0; k < nimported && !seen; k++) {
				seen = imported[k] == handle;
			}
			if (!seen) {
				imported[nimported++] = handle;
				g->stats.live_handles++;
			}
			ids[i] = ri.res_handle;
			types[i] = CW_XD_ID_BLOB;
			continue;
		}
		char what[64];
		enum cw_gpu_fd_kind kind = cw_gpu_classify_fd(g, fds[i], what, sizeof(what));
		if (kind != CW_GPU_FD_PIPE_WRITE) {
			cw_gpu_why_set(why, "%s cannot cross to the host", what);
			goto out;
		}
		if (pipe_dup >= 0) {
			cw_gpu_why_set(why, "internal: two pipes in one SEND");
			goto out;
		}
		if (g->nrpipes == CW_GPU_MAX_PIPES) {
			cw_gpu_why_set(why, "too many clipboard transfers at once (%d)", CW_GPU_MAX_PIPES);
			goto out;
		}
		pipe_dup = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (pipe_dup < 0) {
			cw_gpu_why_set(why, "cannot keep a pipe: %s", strerror(errno));
			goto out;
		}
		/* Allocated only now that the SEND will be submitted: the host checks that
		 * read-pipe ids come in order with none skipped. */
		ids[i] = g->next_read_pipe + 1;
		types[i] = CW_XD_ID_READ_PIPE;
	}
	cmd.hdr.hdr.cmd = CW_XD_CMD_SEND;
	cmd.hdr.hdr.cmd_size = (uint16_t)(hdr_bytes + len);
	cmd.hdr.num_ids = (uint32_t)nfds;
	cmd.hdr.opaque_data_size = (uint32_t)len;
	memcpy((uint8_t *)&cmd + hdr_bytes, data, len);
	if (cw_gpu_submit(g, &cmd, hdr_bytes + len, -1, NULL, 0) < 0) {
		cw_gpu_why_set(why, "cannot submit SEND: %s", strerror(errno));
		goto out;
	}
	g->stats.sends++;
	if (pipe_dup >= 0) {
		struct cw_gpu_read_pipe *p = &g->rpipes[g->nrpipes++];
		*p = (struct cw_gpu_read_pipe){ .id = ++g->next_read_pipe, .fd = pipe_dup };
		fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
		pipe_dup = -1;
	}
	ret = 0;
out:
	if (pipe_dup >= 0) {
		close(pipe_dup);
	}
	for (unsigned k = 0; k < nimported; k++) {
		cw_gpu_close_handle(g, imported[k]);
	}
	return ret;
}

/* RECEIVE identifiers -> local fds. Returns 0, or -1 (fds created so far are closed). */
static int translate_ids(struct cw_gpu *g, const uint32_t *ids, const uint32_t *types,
	const uint32_t *sizes, uint32_t n, int *fds, struct cw_gpu_why *why)
{
	uint32_t i;
	for (i = 0; i < n; i++) {
		fds[i] = -1;
		if (types[i] == CW_XD_ID_BLOB && sizes[i] > 0) {
			struct cw_virtgpu_create_blob cb = {
				.blob_mem = CW_VIRTGPU_BLOB_MEM_HOST3D,
				.blob_flags = CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE |
					CW_VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
				.size = sizes[i],
				.blob_id = ids[i],
			};
			if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_CREATE_BLOB, &cb) < 0) {
				cw_gpu_why_set(why, "cannot create a blob for host item %u: %s", ids[i],
					strerror(errno));
				goto err;
			}
			g->stats.live_handles++;
			int fd = -1;
			int r = drmPrimeHandleToFD(g->fd, cb.bo_handle, O_CLOEXEC | O_RDWR, &fd);
			cw_gpu_close_handle(g, cb.bo_handle); /* the dmabuf keeps it alive */
			if (r < 0) {
				cw_gpu_why_set(why, "cannot export a blob: %s", strerror(errno));
				goto err;
			}
			fds[i] = fd;
		} else if (types[i] == CW_XD_ID_WRITE_PIPE) {
			if (g->nwpipes == CW_GPU_MAX_PIPES) {
				cw_gpu_why_set(why, "too many clipboard transfers at once (%d)",
					CW_GPU_MAX_PIPES);
				goto err;
			}
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				cw_gpu_why_set(why, "pipe: %s", strerror(errno));
				goto err;
			}
			fcntl(p[0], F_SETFL, O_NONBLOCK);
			g->wpipes[g->nwpipes++] = (struct cw_gpu_write_pipe){ .id = ids[i], .fd = p[0] };
			fds[i] = p[1];
		} else {
			cw_gpu_why_set(why, "the host sent an fd of identifier type %u (size %u), "
				"which cannot be passed to the app", types[i], sizes[i]);
			goto err;
		}
	}
	return 0;
err:
	for (uint32_t k = 0; k < i; k++) {
		if (fds[k] >= 0) {
			close(fds[k]);
		}
	}
	return -1;
}

static struct cw_gpu_read_pipe *find_rpipe(struct cw_gpu *g, uint32_t id)
{
	for (unsigned i = 0; i < g->nrpipes; i++) {
		if (g->rpipes[i].id == id) {
			return &g->rpipes[i];
		}
	}
	return NULL;
}

static void remove_rpipe(struct cw_gpu *g, struct cw_gpu_read_pipe *p)
{
	if (p->fd >= 0) {
		close(p->fd);
	}
	free(p->pending);
	*p = g->rpipes[--g->nrpipes];
	g->rpipes[g->nrpipes] = (struct cw_gpu_read_pipe){ .fd = -1 };
}

/* Writes what is pending to the app's pipe; closes it at hang-up once drained. */
static void drain_rpipe(struct cw_gpu *g, struct cw_gpu_read_pipe *p)
{
	while (p->npending && p->fd >= 0) {
		ssize_t n = write(p->fd, p->pending, p->npending);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == EAGAIN) {
				return;
			}
			/* The app closed its end: discard until the host hangs up (12.3). */
			close(p->fd);
			p->fd = -1;
			break;
		}
		memmove(p->pending, p->pending + n, p->npending - (size_t)n);
		p->npending -= (size_t)n;
	}
	if (p->fd < 0) {
		p->npending = 0;
	}
	if (p->hung_up && p->npending == 0) {
		remove_rpipe(g, p);
	}
}

/* rw is the reply's header, copied out of the ring; data follows it in the ring. */
static int handle_read(struct cw_gpu *g, const struct cw_xd_read_write *rw,
	const uint8_t *data, struct cw_gpu_why *why)
{
	struct cw_gpu_read_pipe *p = find_rpipe(g, rw->id);
	size_t max = g->ring_bytes - sizeof(*rw);
	if (!p || p->hung_up) {
		cw_gpu_why_set(why, "the host sent READ for unknown pipe %u", rw->id);
		return -1;
	}
	if (rw->opaque_data_size > max) {
		cw_gpu_why_set(why, "the host sent a READ of %u bytes (ring holds %zu)",
			rw->opaque_data_size, max);
		return -1;
	}
	g->stats.reads++;
	if (rw->opaque_data_size && p->fd >= 0) {
		if (p->npending + rw->opaque_data_size > CW_GPU_PIPE_BUF_BYTES) {
			/* Cannot happen while POLL is held for full pipes (cw_gpu_want). */
			cw_gpu_why_set(why, "pipe buffer overflow");
			return -1;
		}
		if (!p->pending) {
			p->pending = malloc(CW_GPU_PIPE_BUF_BYTES);
			if (!p->pending) {
				cw_gpu_why_set(why, "out of memory");
				return -1;
			}
		}
		memcpy(p->pending + p->npending, data, rw->opaque_data_size);
		p->npending += rw->opaque_data_size;
	}
	if (rw->hang_up) {
		p->hung_up = true;
	}
	drain_rpipe(g, p);
	return 0;
}

/* Reads app data from a guest -> host pipe and sends it as WRITE commands. */
static int pump_wpipe(struct cw_gpu *g, unsigned idx, struct cw_gpu_why *why)
{
	struct cw_gpu_write_pipe *p = &g->wpipes[idx];
	struct {
		struct cw_xd_read_write hdr;
		uint8_t data[CW_XD_WRITE_MAX_DATA];
	} cmd;
	ssize_t n;
	do {
		n = read(p->fd, cmd.data, sizeof(cmd.data));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		return 0;
	}
	/* hang_up only at real end of file (a short read is not one). */
	bool eof = n <= 0;
	cmd.hdr = (struct cw_xd_read_write){
		.hdr = { .cmd = CW_XD_CMD_WRITE,
			.cmd_size = (uint16_t)(sizeof(cmd.hdr) + (n > 0 ? (size_t)n : 0)) },
		.id = p->id,
		.hang_up = eof,
		.opaque_data_size = n > 0 ? (uint32_t)n : 0,
	};
	if (cw_gpu_submit(g, &cmd, cmd.hdr.hdr.cmd_size, -1, NULL, 0) < 0) {
		cw_gpu_why_set(why, "cannot submit WRITE: %s", strerror(errno));
		return -1;
	}
	g->stats.writes++;
	if (eof) {
		close(p->fd);
		*p = g->wpipes[--g->nwpipes];
		g->wpipes[g->nwpipes] = (struct cw_gpu_write_pipe){ .fd = -1 };
	}
	return 0;
}

size_t cw_gpu_npollfds(const struct cw_gpu *g)
{
	return 1 + CW_GPU_MAX_PIPES * 2;
}

static bool pipes_congested(const struct cw_gpu *g)
{
	for (unsigned i = 0; i < g->nrpipes; i++) {
		if (g->rpipes[i].npending + (g->ring_bytes - 24) > CW_GPU_PIPE_BUF_BYTES) {
			return true;
		}
	}
	return false;
}

size_t cw_gpu_want(struct cw_gpu *g, struct pollfd *pfd, size_t cap, bool want_data)
{
	size_t n = 0;
	if (cap == 0) {
		return 0;
	}
	/* The DRM fd signals one reply per POLL. Not watching it holds the reply (and so
	 * the host's reading from the compositor) until there is room: backpressure. */
	pfd[n++] = (struct pollfd){
		.fd = g->fd,
		.events = (want_data && g->poll_outstanding && !pipes_congested(g)) ? POLLIN : 0,
	};
	for (unsigned i = 0; i < g->nrpipes && n < cap; i++) {
		if (g->rpipes[i].npending && g->rpipes[i].fd >= 0) {
			pfd[n++] = (struct pollfd){ .fd = g->rpipes[i].fd, .events = POLLOUT };
		}
	}
	for (unsigned i = 0; i < g->nwpipes && n < cap; i++) {
		pfd[n++] = (struct pollfd){ .fd = g->wpipes[i].fd, .events = POLLIN };
	}
	return n;
}

void cw_gpu_expect_reply(struct cw_gpu *g)
{
	if (!g->waiting_since_ms) {
		g->waiting_since_ms = cw_gpu_now_ms();
	}
}

int64_t cw_gpu_idle_ms(const struct cw_gpu *g)
{
	return cw_gpu_now_ms() - g->last_reply_ms;
}

int cw_gpu_timeout_ms(const struct cw_gpu *g)
{
	if (!g->waiting_since_ms || g->eof) {
		return -1;
	}
	int limit = g->got_reply ? g->opt.reply_timeout_ms : g->opt.first_reply_timeout_ms;
	if (limit <= 0) {
		return -1;
	}
	int64_t left = g->waiting_since_ms + limit - cw_gpu_now_ms();
	return left < 0 ? 0 : (int)left;
}

/* Consumes one reply from the channel ring. */
static enum cw_gpu_status take_reply(struct cw_gpu *g, uint8_t *buf, size_t cap, size_t *len,
	int *fds, size_t fd_cap, size_t *nfds, struct cw_gpu_why *why)
{
	struct cw_drm_event ev;
	ssize_t r = read(g->fd, &ev, sizeof(ev));
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
		return CW_GPU_OK;
	}
	if (r != (ssize_t)sizeof(ev) || ev.type != CW_XD_EVENT_FENCE || ev.length != sizeof(ev)) {
		cw_gpu_why_set(why, "unexpected event from the GPU device (%zd bytes)", r);
		return CW_GPU_ERROR;
	}
	g->poll_outstanding = false;
	g->got_reply = true;
	g->waiting_since_ms = 0;
	g->last_reply_ms = cw_gpu_now_ms();
	const uint8_t *ring = g->channel_ring.map;
	uint8_t cmd = ring[0];
	if (cmd == CW_XD_CMD_RECEIVE) {
		size_t hdr_bytes = g->max_ids == CW_XD_MAX_IDS ? sizeof(struct cw_xd_send_recv) : 64;
		uint32_t nids, size;
		memcpy(&nids, ring + 8, 4);
		memcpy(&size, ring + 12, 4);
		if (nids == 0 && size == 0) {
			/* End of stream: the socket stays readable on the host, so do not poll
			 * again (each POLL would get another empty RECEIVE). */
			g->eof = true;
			return CW_GPU_EOF;
		}
		if (nids > g->max_ids || size > g->ring_bytes - hdr_bytes || size > cap ||
			nids > fd_cap) {
			cw_gpu_why_set(why, "malformed RECEIVE from the host (%u ids, %u bytes)", nids,
				size);
			return CW_GPU_ERROR;
		}
		uint32_t ids[CW_XD_MAX_IDS], types[CW_XD_MAX_IDS], sizes[CW_XD_MAX_IDS];
		memcpy(ids, ring + 16, nids * 4);
		memcpy(types, ring + 16 + 4 * g->max_ids, nids * 4);
		memcpy(sizes, ring + 16 + 8 * g->max_ids, nids * 4);
		memcpy(buf, ring + hdr_bytes, size);
		if (translate_ids(g, ids, types, sizes, nids, fds, why) < 0) {
			return CW_GPU_ERROR;
		}
		*len = size;
		*nfds = nids;
		g->stats.receives++;
	} else if (cmd == CW_XD_CMD_READ) {
		struct cw_xd_read_write rw;
		memcpy(&rw, ring, sizeof(rw));
		if (handle_read(g, &rw, ring + sizeof(rw), why) < 0) {
			return CW_GPU_ERROR;
		}
	} else {
		cw_gpu_why_set(why, "the host wrote command %u into the channel ring", cmd);
		return CW_GPU_ERROR;
	}
	/* Everything needed is copied out: the host may write the next reply. */
	if (cw_gpu_arm_poll(g) < 0) {
		cw_gpu_why_set(why, "cannot submit POLL: %s", strerror(errno));
		return CW_GPU_ERROR;
	}
	return CW_GPU_OK;
}

enum cw_gpu_status cw_gpu_dispatch(struct cw_gpu *g, const struct pollfd *pfd, size_t n,
	uint8_t *buf, size_t cap, size_t *len, int *fds, size_t fd_cap, size_t *nfds,
	struct cw_gpu_why *why)
{
	*len = 0;
	*nfds = 0;
	for (size_t i = 1; i < n; i++) {
		if (!pfd[i].revents) {
			continue;
		}
		for (unsigned k = 0; k < g->nrpipes; k++) {
			if (g->rpipes[k].fd == pfd[i].fd) {
				drain_rpipe(g, &g->rpipes[k]);
				break;
			}
		}
		for (unsigned k = 0; k < g->nwpipes; k++) {
			if (g->wpipes[k].fd == pfd[i].fd) {
				if (pump_wpipe(g, k, why) < 0) {
					return CW_GPU_ERROR;
				}
				break;
			}
		}
	}
	if (n > 0 && (pfd[0].revents & POLLIN)) {
		return take_reply(g, buf, cap, len, fds, fd_cap, nfds, why);
	}
	return g->eof ? CW_GPU_EOF : CW_GPU_OK;
}
