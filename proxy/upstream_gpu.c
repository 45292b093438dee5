/* The compositor side of a client in virtio-gpu mode: the host connection's buffers are
 * filled from RECEIVE replies and drained into SEND commands by virtgpu/, instead of a
 * socket. Messages keep their fds: each SEND carries the fds of the messages that start
 * in it, at most what the host accepts per SEND and at most one pipe. */
#include <stdio.h>
#include <string.h>

#include "proxy/private.h"
#include "util/log.h"
#include "virtgpu/virtgpu.h"

bool cw_client_gpu_flush(struct cw_client *c)
{
	struct cw_conn *o = &c->host;
	unsigned max_fds = cw_gpu_max_fds(c->gpu);
	bool sent = false;
	while (c->gpu && cw_conn_has_output(o)) {
		size_t len = o->out_tail - o->out_head;
		uint64_t head_pos = o->out_base + o->out_head;
		int fds[CW_GPU_MAX_FDS];
		size_t nfds = 0;
		bool have_pipe = false;
		if (len > CW_GPU_SEND_MAX_BYTES) {
			len = CW_GPU_SEND_MAX_BYTES;
		}
		for (size_t i = 0; i < o->out_nfds; i++) {
			const struct cw_conn_fd *f = &o->out_fds[(o->out_fds_head + i) % CW_CONN_MAX_FDS_OUT];
			if (f->pos >= head_pos + len) {
				break;
			}
			char what[64];
			bool is_pipe = cw_gpu_classify_fd(c->gpu, f->fd, what, sizeof(what)) ==
				CW_GPU_FD_PIPE_WRITE;
			if (nfds == max_fds || (is_pipe && have_pipe)) {
				/* This fd's message goes in the next SEND. */
				len = (size_t)(f->pos - head_pos);
				break;
			}
			have_pipe |= is_pipe;
			fds[nfds++] = f->fd;
		}
		if (len == 0) {
			cw_client_host_failure(c, "a message carries more fds than the host accepts "
				"in one SEND (%u, at most one pipe)", max_fds);
			return sent;
		}
		struct cw_gpu_why why;
		if (cw_gpu_send(c->gpu, o->out + o->out_head, len, fds, nfds, &why) < 0) {
			cw_client_host_failure(c, "cannot send to the host: %s", why.text);
			return sent;
		}
		cw_conn_out_pop(o, len, nfds);
		sent = true;
	}
	return sent;
}

size_t cw_client_gpu_want(struct cw_client *c, struct pollfd *pfd, size_t cap)
{
	size_t room, fd_room;
	cw_conn_in_space(&c->host, &room, &fd_room);
	/* Take a reply only when a whole RECEIVE fits; until then the host keeps it. */
	bool want_data = !c->host_blocked && !c->host.eof && room >= CW_GPU_RECV_MAX_BYTES &&
		fd_room >= CW_GPU_MAX_FDS;
	return cw_gpu_want(c->gpu, pfd, cap, want_data);
}

void cw_client_gpu_read(struct cw_client *c, const struct pollfd *pfd, size_t n)
{
	size_t room, fd_room, len = 0, nfds = 0;
	uint8_t *dst = cw_conn_in_space(&c->host, &room, &fd_room);
	int fds[CW_GPU_MAX_FDS];
	struct cw_gpu_why why;
	enum cw_gpu_status st = cw_gpu_dispatch(c->gpu, pfd, n, dst, room, &len, fds,
		fd_room < CW_GPU_MAX_FDS ? fd_room : CW_GPU_MAX_FDS, &nfds, &why);
	if (st == CW_GPU_ERROR) {
		cw_client_host_failure(c, "cross-domain channel failed: %s", why.text);
		return;
	}
	cw_conn_in_commit(&c->host, len, fds, nfds);
	if (st == CW_GPU_EOF) {
		c->host.eof = true;
	}
}

int cw_client_gpu_timeout_ms(const struct cw_client *c)
{
	int t = cw_gpu_timeout_ms(c->gpu);
	if (t >= 0) {
		return t;
	}
	int64_t left = c->cfg->host_timeout_ms - cw_gpu_idle_ms(c->gpu);
	return left < 0 ? 0 : (int)left;
}

/* A host that stopped serving the context (it may, silently: a compositor that died
 * with requests unread resets the socket, and the host's worker stops) answers nothing
 * again. An app waiting for a frame callback would wait forever: after host_timeout of
 * silence with nothing expected, crossway asks wl_display.sync itself. */
static void probe(struct cw_client *c)
{
	const struct cw_iface *display = cw_proto_wl_display();
	const struct cw_iface *callback = display->req[0].args[0].iface;
	if (!cw_conn_out_reserve(&c->host, 12, 0)) {
		return; /* output pending: that will be answered or time out itself */
	}
	struct cw_object *o = cw_client_own_new(c, callback, 1);
	if (!o) {
		return;
	}
	union cw_arg arg = { .u = o->host_id };
	cw_client_send_request(c, 1, display, 0, &arg, NULL, 0);
	cw_gpu_expect_reply(c->gpu);
	cw_clog(c->id, CW_LOG_DEBUG, "host silent for %d ms: probing with wl_display.sync",
		c->cfg->host_timeout_ms);
}

void cw_client_gpu_check_liveness(struct cw_client *c)
{
	if (!c->gpu || c->state != CW_CLIENT_RELAYING) {
		return;
	}
	int t = cw_gpu_timeout_ms(c->gpu);
	if (t == 0) {
		cw_client_host_failure(c, "the host did not answer in time: the cross-domain "
			"channel is dead (is the compositor running, and did the VMM accept the "
			"Wayland channel? see its log)");
	} else if (t < 0 && cw_gpu_idle_ms(c->gpu) >= c->cfg->host_timeout_ms) {
		probe(c);
	}
}
