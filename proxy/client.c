/* One relayed connection: reads guest requests and host events, validates each against
 * the protocol tables, rewrites ids between the two id spaces, runs hooks and queues the
 * result on the other side. Backpressure: a side whose output is full stops the reading
 * of the other side. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/client.h"
#include "proxy/private.h"
#include "util/log.h"
#include "virtgpu/virtgpu.h"

#define DRAIN_TIMEOUT_MS 2000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *state_name(enum cw_client_state s)
{
	switch (s) {
	case CW_CLIENT_RELAYING:
		return "relaying";
	case CW_CLIENT_DRAINING:
		return "draining";
	case CW_CLIENT_DEAD:
		return "dead";
	}
	return "?";
}

void cw_client_set_state(struct cw_client *c, enum cw_client_state s)
{
	if (c->state == s) {
		return;
	}
	cw_clog(c->id, CW_LOG_DEBUG, "%s -> %s", state_name(c->state), state_name(s));
	c->state = s;
	if (s == CW_CLIENT_DRAINING) {
		c->deadline_ms = now_ms() + DRAIN_TIMEOUT_MS;
		/* The hook or relay step that got here may still hold shadow and object
		 * state: the host side goes at the end of this dispatch (release_host). */
		c->release_host = true;
	}
}

/* Draining: nothing more goes to the compositor; closing it frees its resources. Shadows
 * first: host blobs need the gpu context to be released. */
static void release_host(struct cw_client *c)
{
	c->release_host = false;
	cw_shm_client_destroy(c);
	cw_conn_finish(&c->host);
	cw_gpu_destroy(c->gpu);
	c->gpu = NULL;
	cw_conn_close_fds(&c->guest, c->guest.in_nfds);
	c->guest.in_head = c->guest.in_tail = 0;
}

struct cw_object *cw_client_object_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version)
{
	struct cw_object *o = cw_objpool_get(&c->pool);
	if (o) {
		o->iface = iface;
		o->version = version;
	}
	return o;
}

/* Frees the object once neither side refers to it. */
void cw_client_object_release(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id == 0 && o->host_id == 0) {
		cw_objpool_put(&c->pool, o);
	}
}

struct cw_object *cw_client_local_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version, uint32_t guest_id)
{
	struct cw_object *o = cw_client_object_new(c, iface, version);
	if (!o) {
		return NULL;
	}
	if (cw_idmap_insert_at(&c->guest_ids, guest_id, o, false) < 0) {
		cw_objpool_put(&c->pool, o);
		return NULL;
	}
	o->guest_id = guest_id;
	o->local = true;
	return o;
}

void cw_client_local_destroy(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id < CW_SERVER_ID_START) {
		if (cw_client_send_delete_id(c, o->guest_id) < 0) {
			/* The app cannot reuse this id; nothing else is lost. */
			cw_clog(c->id, CW_LOG_WARN, "app output full: no delete_id for %u", o->guest_id);
		}
	}
	o->hook_data = NULL;
	cw_client_object_unmap_guest(c, o);
	cw_client_object_release(c, o);
}

struct cw_object *cw_client_own_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version)
{
	struct cw_object *o = cw_client_object_new(c, iface, version);
	if (!o) {
		return NULL;
	}
	o->host_id = cw_idmap_alloc(&c->host_ids, false, o);
	if (o->host_id == 0) {
		cw_objpool_put(&c->pool, o);
		return NULL;
	}
	o->own = true;
	return o;
}

int cw_client_send_request(struct cw_client *c, uint32_t host_id, const struct cw_iface *iface,
	uint32_t opcode, const union cw_arg *args, const int *fds, size_t nfds)
{
	uint32_t buf[CW_MAX_MESSAGE_BYTES / 4];
	size_t n = cw_msg_encode(buf, sizeof(buf), host_id, opcode, &iface->req[opcode], args);
	uint8_t *dst = n ? cw_conn_out_reserve(&c->host, n, nfds) : NULL;
	if (!dst) {
		return -1;
	}
	memcpy(dst, buf, n);
	cw_conn_out_commit(&c->host, n, fds, nfds);
	if (c->cfg->trace) {
		cw_log_line("client %u: crossway -> compositor %s@%u.%s (%zu bytes, %zu fds)", c->id,
			iface->name, host_id, iface->req[opcode].name, n, nfds);
	}
	return 0;
}

void cw_client_object_unmap_guest(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id) {
		/* Guest server-range ids are the ones crossway hands out. */
		cw_idmap_remove(&c->guest_ids, o->guest_id, o->guest_id >= CW_SERVER_ID_START);
		o->guest_id = 0;
	}
}

void cw_client_object_unmap_host(struct cw_client *c, struct cw_object *o)
{
	if (o->host_id) {
		cw_idmap_remove(&c->host_ids, o->host_id, o->host_id < CW_SERVER_ID_START);
		o->host_id = 0;
	}
}

struct cw_client *cw_client_create(unsigned id, int guest_fd, int host_fd, struct cw_gpu *gpu,
	const char *host_error, const struct cw_config *cfg)
{
	struct cw_client *c = calloc(1, sizeof(*c));
	if (!c) {
		cw_gpu_destroy(gpu);
		goto err_fds;
	}
	c->gpu = gpu;
	c->id = id;
	c->cfg = cfg;
	c->host.fd = -1;
	cw_list_init(&c->link);
	cw_idmap_init(&c->guest_ids);
	cw_idmap_init(&c->host_ids);
	if (cw_conn_init(&c->guest, guest_fd) < 0) {
		guest_fd = -1;
		goto err_client;
	}
	guest_fd = -1;
	struct cw_object *display = cw_client_object_new(c, cw_proto_wl_display(), 1);
	if (!display || cw_idmap_insert_at(&c->guest_ids, 1, display, false) < 0) {
		goto err_client;
	}
	display->guest_id = 1;
	if (host_fd < 0 && !gpu) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_IMPLEMENTATION, "%s",
			host_error ? host_error : "no compositor");
		return c;
	}
	if (cw_conn_init(&c->host, host_fd) < 0) {
		host_fd = -1;
		goto err_client;
	}
	host_fd = -1;
	if (cw_idmap_insert_at(&c->host_ids, 1, display, false) < 0) {
		goto err_client;
	}
	display->host_id = 1;
	return c;

err_client:
	cw_client_destroy(c);
err_fds:
	if (guest_fd >= 0) {
		close(guest_fd);
	}
	if (host_fd >= 0) {
		close(host_fd);
	}
	return NULL;
}

static void free_object_cb(struct cw_object *o, void *data)
{
	struct cw_client *c = data;
	/* Each object is in one or both maps; free it when the last mapping goes. */
	if (o->guest_id) {
		o->guest_id = 0;
	} else {
		o->host_id = 0;
	}
	cw_client_object_release(c, o);
}

void cw_client_destroy(struct cw_client *c)
{
	if (!c) {
		return;
	}
	cw_shm_client_destroy(c);
	cw_conn_finish(&c->guest);
	cw_conn_finish(&c->host);
	cw_gpu_destroy(c->gpu);
	cw_idmap_for_each(&c->guest_ids, free_object_cb, c);
	cw_idmap_for_each(&c->host_ids, free_object_cb, c);
	cw_idmap_finish(&c->guest_ids);
	cw_idmap_finish(&c->host_ids);
	cw_objpool_finish(&c->pool);
	free(c->globals);
	free(c);
}

bool cw_client_is_dead(const struct cw_client *c)
{
	return c->state == CW_CLIENT_DEAD;
}

/* A blocked direction is woken by POLLOUT on the side it waits for. If that side has
 * nothing queued any more (the round limit stopped the loop right after a flush), no
 * poll event will come: dispatch again at once. */
static bool needs_another_round(const struct cw_client *c)
{
	/* A guest request may also wait for room in guest output (a hook that answers the
	 * guest itself): POLLOUT there wakes it. */
	return c->state == CW_CLIENT_RELAYING &&
		((c->guest_blocked && !cw_conn_has_output(&c->host) &&
			!cw_conn_has_output(&c->guest)) ||
			(c->host_blocked && !cw_conn_has_output(&c->guest)));
}

int cw_client_timeout_ms(const struct cw_client *c)
{
	if (needs_another_round(c)) {
		return 0;
	}
	if (c->state != CW_CLIENT_DRAINING) {
		return c->gpu && c->state == CW_CLIENT_RELAYING ? cw_client_gpu_timeout_ms(c) : -1;
	}
	int64_t left = c->deadline_ms - now_ms();
	return left < 0 ? 0 : (int)left;
}

int cw_client_send_event(struct cw_client *c, uint32_t id, const struct cw_iface *iface,
	uint32_t opcode, const union cw_arg *args)
{
	/* Encode first so that only the exact size has to fit: a delete_id must find room
	 * wherever the 12 bytes of the one it replaces fitted. */
	uint32_t buf[CW_MAX_MESSAGE_BYTES / 4];
	size_t n = cw_msg_encode(buf, sizeof(buf), id, opcode, &iface->evt[opcode], args);
	uint8_t *dst = n ? cw_conn_out_reserve(&c->guest, n, 0) : NULL;
	if (!dst) {
		return -1;
	}
	memcpy(dst, buf, n);
	cw_conn_out_commit(&c->guest, n, NULL, 0);
	return 0;
}

int cw_client_send_delete_id(struct cw_client *c, uint32_t guest_id)
{
	union cw_arg arg = { .u = guest_id };
	return cw_client_send_event(c, 1, cw_proto_wl_display(), 1, &arg);
}

void cw_client_post_error(struct cw_client *c, uint32_t object_id, uint32_t code,
	const char *fmt, ...)
{
	if (c->state != CW_CLIENT_RELAYING) {
		return;
	}
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cw_clog(c->id, CW_LOG_WARN, "protocol error for the app: object %u, code %u: %s",
		object_id, code, text);
	union cw_arg args[3] = { { .u = object_id }, { .u = code }, { .s = text } };
	if (cw_client_send_event(c, 1, cw_proto_wl_display(), 0, args) < 0) {
		cw_clog(c->id, CW_LOG_WARN, "app output full; disconnecting without the error");
	}
	cw_client_set_state(c, CW_CLIENT_DRAINING);
}

struct cw_global *cw_client_find_global(struct cw_client *c, uint32_t name)
{
	for (uint32_t i = 0; i < c->nglobals; i++) {
		if (c->globals[i].name == name) {
			return &c->globals[i];
		}
	}
	return NULL;
}

int cw_client_add_global(struct cw_client *c, uint32_t name, const struct cw_iface *iface,
	uint32_t version)
{
	struct cw_global *g = cw_client_find_global(c, name);
	if (!g) {
		if (c->nglobals == c->capglobals) {
			uint32_t ncap = c->capglobals ? c->capglobals * 2 : 32;
			struct cw_global *p = realloc(c->globals, ncap * sizeof(*p));
			if (!p) {
				return -1;
			}
			c->globals = p;
			c->capglobals = ncap;
		}
		g = &c->globals[c->nglobals++];
	}
	*g = (struct cw_global){ .name = name, .iface = iface, .version = version };
	return 0;
}

void cw_client_host_delete_id(struct cw_client *c, uint32_t host_id)
{
	struct cw_object *o = cw_idmap_find(&c->host_ids, host_id);
	if (!o || host_id >= CW_SERVER_ID_START) {
		cw_clog(c->id, CW_LOG_DEBUG, "compositor deleted unknown id %u", host_id);
		return;
	}
	cw_client_object_unmap_host(c, o);
	if (o->guest_id && o->guest_id < CW_SERVER_ID_START) {
		if (cw_client_send_delete_id(c, o->guest_id) < 0) {
			/* The caller reserved room for the delete_id it is replacing. */
			cw_clog(c->id, CW_LOG_ERROR, "no room for delete_id %u", o->guest_id);
		}
	}
	cw_client_object_unmap_guest(c, o);
	cw_client_object_release(c, o);
}

void cw_client_host_failure(struct cw_client *c, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cw_clog(c->id, CW_LOG_ERROR, "%s", text);
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_IMPLEMENTATION, "%s", text);
}

/* Relays messages from one side until input runs out or the other side is full.
 * Returns true if anything was relayed. */
static bool pump(struct cw_client *c, bool from_guest)
{
	bool progress = false;
	bool *blocked = from_guest ? &c->guest_blocked : &c->host_blocked;
	*blocked = false;
	while (c->state == CW_CLIENT_RELAYING) {
		enum cw_step s = from_guest ? cw_relay_request(c) : cw_relay_event(c);
		if (s == CW_STEP_DONE) {
			progress = true;
			continue;
		}
		if (s == CW_STEP_BLOCKED) {
			*blocked = true;
		}
		break;
	}
	return progress;
}

/* Returns true if anything was sent. */
static bool flush_side(struct cw_client *c, bool guest)
{
	struct cw_conn *conn = guest ? &c->guest : &c->host;
	if (!guest && c->state != CW_CLIENT_RELAYING) {
		return false; /* draining: what is queued for the compositor is dropped */
	}
	if (!guest && c->gpu) {
		return cw_client_gpu_flush(c);
	}
	if (conn->fd < 0 || !cw_conn_has_output(conn)) {
		return false;
	}
	uint64_t before = conn->out_base + conn->out_head;
	size_t fds_before = conn->out_nfds;
	enum cw_io_result res = cw_conn_flush(conn);
	if (res == CW_IO_EOF || res == CW_IO_ERROR) {
		if (guest) {
			cw_clog(c->id, CW_LOG_INFO, "app went away while writing to it");
			cw_client_set_state(c, CW_CLIENT_DEAD);
		} else {
			conn->eof = true;
		}
		return false;
	}
	return conn->out_base + conn->out_head != before || conn->out_nfds != fds_before;
}

static void read_side(struct cw_client *c, bool guest)
{
	struct cw_conn *conn = guest ? &c->guest : &c->host;
	enum cw_io_result res = cw_conn_read(conn);
	if (res == CW_IO_FD_FLOOD) {
		if (guest) {
			cw_client_post_error(c, 1, CW_DISPLAY_ERROR_IMPLEMENTATION,
				"too many file descriptors sent without messages");
		} else {
			cw_client_host_failure(c, "compositor sent too many file descriptors");
		}
	} else if (res == CW_IO_ERROR && !guest) {
		cw_clog(c->id, CW_LOG_WARN, "reading from the compositor failed: %s",
			strerror(errno));
	}
}

static void handle_eofs(struct cw_client *c)
{
	if (c->state != CW_CLIENT_RELAYING) {
		return;
	}
	if (c->guest.eof && !c->guest_blocked) {
		/* Everything complete the app sent has been relayed; give it one chance to go
		 * out, then close both sides. */
		cw_clog(c->id, CW_LOG_INFO, "app disconnected");
		flush_side(c, false);
		cw_client_set_state(c, CW_CLIENT_DEAD);
		return;
	}
	if (c->host.eof && !c->host_blocked) {
		cw_client_host_failure(c, "compositor disconnected");
	}
}

size_t cw_client_max_pollfds(const struct cw_client *c)
{
	return 1 + (c->gpu ? cw_gpu_npollfds(c->gpu) : 1);
}

size_t cw_client_want(struct cw_client *c, struct pollfd *pfd, size_t cap)
{
	if (c->state == CW_CLIENT_DEAD || cap < 2) {
		return 0;
	}
	pfd[0] = (struct pollfd){ .fd = c->guest.fd };
	if (cw_conn_has_output(&c->guest)) {
		pfd[0].events |= POLLOUT;
	}
	if (c->state == CW_CLIENT_DRAINING) {
		return 1;
	}
	if (!c->guest_blocked && !c->guest_stalled && !c->guest.eof) {
		pfd[0].events |= POLLIN;
	}
	if (c->gpu) {
		/* SENDs complete synchronously: the gpu side never waits for POLLOUT. */
		return 1 + cw_client_gpu_want(c, pfd + 1, cap - 1);
	}
	pfd[1] = (struct pollfd){ .fd = c->host.fd };
	if (!c->host_blocked && !c->host.eof) {
		pfd[1].events |= POLLIN;
	}
	if (cw_conn_has_output(&c->host)) {
		pfd[1].events |= POLLOUT;
	}
	return 2;
}

static void dispatch(struct cw_client *c, const struct pollfd *pfd, size_t n);

size_t cw_client_dispatch(struct cw_client *c, const struct pollfd *pfd, size_t n)
{
	uint64_t before = c->relayed_bytes;
	dispatch(c, pfd, n);
	if (c->release_host) {
		release_host(c);
	}
	return (size_t)(c->relayed_bytes - before);
}

static void dispatch(struct cw_client *c, const struct pollfd *pfd, size_t n)
{
	short guest_rev = n > 0 ? pfd[0].revents : 0;
	short host_rev = n > 1 && !c->gpu ? pfd[1].revents : 0;
	if (c->state == CW_CLIENT_DRAINING) {
		if (guest_rev & (POLLERR | POLLHUP | POLLNVAL)) {
			cw_client_set_state(c, CW_CLIENT_DEAD);
			return;
		}
		flush_side(c, true);
		if (c->state == CW_CLIENT_DRAINING &&
			(!cw_conn_has_output(&c->guest) || now_ms() >= c->deadline_ms)) {
			cw_client_set_state(c, CW_CLIENT_DEAD);
		}
		return;
	}
	if (c->state != CW_CLIENT_RELAYING) {
		return;
	}
	if (host_rev & POLLOUT) {
		flush_side(c, false);
	}
	if (guest_rev & POLLOUT) {
		flush_side(c, true);
	}
	if (c->state == CW_CLIENT_RELAYING && (guest_rev & (POLLIN | POLLHUP | POLLERR))) {
		read_side(c, true);
	}
	if (c->state == CW_CLIENT_RELAYING && (host_rev & (POLLIN | POLLHUP | POLLERR))) {
		read_side(c, false);
	}
	if (c->state == CW_CLIENT_RELAYING && c->gpu && n > 1) {
		cw_client_gpu_read(c, pfd + 1, n - 1);
	}
	cw_client_gpu_check_liveness(c);
	/* Relay both ways. A flush that frees room unblocks the direction that fills it, so
	 * go round while anything moves, messages or bytes. */
	for (int round = 0; round < 16 && c->state == CW_CLIENT_RELAYING; round++) {
		bool moved = pump(c, true);
		moved |= flush_side(c, false);
		moved |= pump(c, false);
		moved |= flush_side(c, true);
		if (!moved) {
			break;
		}
	}
	handle_eofs(c);
	if (c->state == CW_CLIENT_DRAINING) {
		flush_side(c, true);
		if (c->state == CW_CLIENT_DRAINING && !cw_conn_has_output(&c->guest)) {
			cw_client_set_state(c, CW_CLIENT_DEAD);
		}
	}
}
