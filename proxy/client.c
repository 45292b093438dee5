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

#define DRAIN_TIMEOUT_MS 2000

enum step {
	STEP_DONE,    /* one message handled */
	STEP_WAIT,    /* need more input */
	STEP_BLOCKED, /* the other side's output is full */
	STEP_STOP,    /* the client is going down */
};

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

static void client_set_state(struct cw_client *c, enum cw_client_state s)
{
	if (c->state == s) {
		return;
	}
	cw_clog(c->id, CW_LOG_DEBUG, "%s -> %s", state_name(c->state), state_name(s));
	c->state = s;
	if (s == CW_CLIENT_DRAINING) {
		c->deadline_ms = now_ms() + DRAIN_TIMEOUT_MS;
		/* Nothing more goes to the compositor; closing now frees its resources. */
		cw_conn_finish(&c->host);
		cw_conn_close_fds(&c->guest, c->guest.in_nfds);
		c->guest.in_head = c->guest.in_tail = 0;
	}
}

static struct cw_object *object_new(struct cw_client *c, const struct cw_iface *iface,
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
static void object_release(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id == 0 && o->host_id == 0) {
		cw_objpool_put(&c->pool, o);
	}
}

static void object_unmap_guest(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id) {
		/* Guest server-range ids are the ones crossway hands out. */
		cw_idmap_remove(&c->guest_ids, o->guest_id, o->guest_id >= CW_SERVER_ID_START);
		o->guest_id = 0;
	}
}

static void object_unmap_host(struct cw_client *c, struct cw_object *o)
{
	if (o->host_id) {
		cw_idmap_remove(&c->host_ids, o->host_id, o->host_id < CW_SERVER_ID_START);
		o->host_id = 0;
	}
}

struct cw_client *cw_client_create(unsigned id, int guest_fd, int host_fd,
	const char *host_error, const struct cw_config *cfg)
{
	struct cw_client *c = calloc(1, sizeof(*c));
	if (!c) {
		goto err_fds;
	}
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
	struct cw_object *display = object_new(c, cw_proto_wl_display(), 1);
	if (!display || cw_idmap_insert_at(&c->guest_ids, 1, display, false) < 0) {
		goto err_client;
	}
	display->guest_id = 1;
	if (host_fd < 0) {
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
	object_release(c, o);
}

void cw_client_destroy(struct cw_client *c)
{
	if (!c) {
		return;
	}
	cw_conn_finish(&c->guest);
	cw_conn_finish(&c->host);
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
	return c->state == CW_CLIENT_RELAYING &&
		((c->guest_blocked && !cw_conn_has_output(&c->host)) ||
			(c->host_blocked && !cw_conn_has_output(&c->guest)));
}

int cw_client_timeout_ms(const struct cw_client *c)
{
	if (needs_another_round(c)) {
		return 0;
	}
	if (c->state != CW_CLIENT_DRAINING) {
		return -1;
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
	client_set_state(c, CW_CLIENT_DRAINING);
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
	object_unmap_host(c, o);
	if (o->guest_id && o->guest_id < CW_SERVER_ID_START) {
		union cw_arg arg = { .u = o->guest_id };
		if (cw_client_send_event(c, 1, cw_proto_wl_display(), 1, &arg) < 0) {
			/* The caller reserved room for the delete_id it is replacing. */
			cw_clog(c->id, CW_LOG_ERROR, "no room for delete_id %u", o->guest_id);
		}
	}
	object_unmap_guest(c, o);
	object_release(c, o);
}

/* Error text helpers mirroring libwayland's wording. */
static enum step guest_error_args(struct cw_client *c, const struct cw_relay *r,
	const char *why)
{
	/* libwayland reports malformed arguments on the display, not on the target. */
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_METHOD,
		"invalid arguments for %s@%u.%s: %s", r->target->iface->name, r->msg.hdr.id,
		r->msg.desc->name, why);
	return STEP_STOP;
}

static void host_failure(struct cw_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void host_failure(struct cw_client *c, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cw_clog(c->id, CW_LOG_ERROR, "%s", text);
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_IMPLEMENTATION, "%s", text);
}

/* Resolves the o arguments of a guest request and checks the n arguments. */
static enum step resolve_request_args(struct cw_client *c, struct cw_relay *r)
{
	const struct cw_msg_desc *d = r->msg.desc;
	char why[160];
	for (uint32_t i = 0; i < d->nargs; i++) {
		const struct cw_arg_desc *a = &d->args[i];
		uint32_t id = r->msg.args[i].u;
		if (a->type == 'o') {
			r->objs[i] = NULL;
			r->out_ids[i] = 0;
			if (id == 0) {
				continue;
			}
			struct cw_object *o = cw_idmap_find(&c->guest_ids, id);
			if (!o || o->guest_dead || o->host_id == 0) {
				snprintf(why, sizeof(why), "unknown object %u", id);
				return guest_error_args(c, r, why);
			}
			if (a->iface && o->iface != a->iface) {
				snprintf(why, sizeof(why), "object %u is a %s, expected a %s", id,
					o->iface->name, a->iface->name);
				return guest_error_args(c, r, why);
			}
			r->objs[i] = o;
			r->out_ids[i] = o->host_id;
		} else if (a->type == 'n') {
			if (id >= CW_SERVER_ID_START || cw_idmap_find(&c->guest_ids, id) ||
				id > c->guest_ids.nlo) {
				snprintf(why, sizeof(why), "invalid new id %u", id);
				return guest_error_args(c, r, why);
			}
		}
	}
	return STEP_DONE;
}

/* Creates the objects named by n arguments and writes their ids into out_ids. */
static enum step create_request_objects(struct cw_client *c, struct cw_relay *r)
{
	const struct cw_msg_desc *d = r->msg.desc;
	for (uint32_t i = 0; i < d->nargs; i++) {
		const struct cw_arg_desc *a = &d->args[i];
		if (a->type != 'n') {
			continue;
		}
		const struct cw_iface *iface = a->iface;
		uint32_t version = r->target->version;
		if (!iface) {
			/* Untyped new_id (wl_registry.bind): interface and version precede it. */
			const char *name = i >= 2 ? r->msg.args[i - 2].s : NULL;
			iface = name ? cw_proto_find(name) : NULL;
			if (!iface) {
				char why[160];
				snprintf(why, sizeof(why), "unknown interface %s", name ? name : "(null)");
				return guest_error_args(c, r, why);
			}
			version = r->msg.args[i - 1].u;
		}
		struct cw_object *o = object_new(c, iface, version);
		if (!o) {
			goto nomem;
		}
		uint32_t gid = r->msg.args[i].u;
		if (cw_idmap_insert_at(&c->guest_ids, gid, o, false) < 0) {
			cw_objpool_put(&c->pool, o);
			goto nomem;
		}
		o->guest_id = gid;
		o->host_id = cw_idmap_alloc(&c->host_ids, false, o);
		if (o->host_id == 0) {
			goto nomem;
		}
		r->out_ids[i] = o->host_id;
	}
	return STEP_DONE;
nomem:
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory (too many objects?)");
	return STEP_STOP;
}

static void rewrite_ids(const struct cw_relay *r, uint8_t *dst, uint32_t target_id)
{
	cw_msg_set_word(dst, 0, target_id);
	if (!r->msg.desc->has_ids) {
		return;
	}
	for (uint32_t i = 0; i < r->msg.desc->nargs; i++) {
		char t = r->msg.desc->args[i].type;
		if (t == 'o' || t == 'n') {
			cw_msg_set_word(dst, r->msg.word[i], r->out_ids[i]);
		}
	}
}

/* Peeks at the next message: STEP_DONE when it is complete, STEP_WAIT when more bytes
 * are needed, STEP_STOP (with *st set) when its header is invalid. */
static enum step next_message(const struct cw_conn *in, struct cw_header *h,
	enum cw_wire_status *st)
{
	size_t avail = cw_conn_in_bytes(in);
	*st = CW_WIRE_OK;
	if (!cw_header_decode(cw_conn_in_data(in), avail, h)) {
		return STEP_WAIT;
	}
	*st = cw_header_check(h);
	if (*st != CW_WIRE_OK) {
		return STEP_STOP;
	}
	return avail < h->size_bytes ? STEP_WAIT : STEP_DONE;
}

/* Copies the message into reserved output, rewrites its ids, moves its fds along. */
static void forward(struct cw_client *c, const struct cw_relay *r, struct cw_conn *in,
	struct cw_conn *out, uint8_t *dst, uint32_t target_id)
{
	uint32_t size = r->msg.hdr.size_bytes;
	uint32_t nfds = r->msg.desc->nfds;
	int fds[CW_MAX_ARGS];
	memcpy(dst, r->bytes, size);
	rewrite_ids(r, dst, target_id);
	cw_conn_take_fds(in, nfds, fds);
	cw_conn_out_commit(out, size, fds, nfds);
	c->relayed_bytes += size;
	if (c->cfg->trace) {
		cw_trace_msg(c, r, NULL);
	}
	cw_conn_consume(in, size);
}

/* The app sent a destructor request for o. */
static void mark_guest_destroyed(struct cw_client *c, struct cw_object *o)
{
	if (o->guest_id < CW_SERVER_ID_START) {
		/* The guest id stays reserved until the compositor's delete_id. */
		o->guest_dead = true;
	} else {
		/* Server-created: the guest forgets it now; the host side is kept only to
		 * parse events already in flight, until the host reuses the id. */
		object_unmap_guest(c, o);
		o->host_zombie = true;
	}
}

static enum step relay_request(struct cw_client *c)
{
	struct cw_conn *in = &c->guest;
	/* Not zero-initialised: it is ~700 bytes and this runs per message. Fields are set
	 * as the message is decoded and resolved. */
	struct cw_relay r;
	r.from_guest = true;
	r.unresolved = false;
	struct cw_header h;
	enum cw_wire_status st;
	enum step s = next_message(in, &h, &st);
	if (s != STEP_DONE) {
		if (s == STEP_STOP) {
			cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_METHOD,
				"invalid message header (object %u, opcode %u, size %u): %s", h.id,
				h.opcode, h.size_bytes, cw_wire_status_str(st));
		}
		return s;
	}
	r.bytes = in->in + in->in_head;
	r.target = cw_idmap_find(&c->guest_ids, h.id);
	if (!r.target || r.target->guest_dead || r.target->host_id == 0) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_OBJECT, "invalid object %u", h.id);
		return STEP_STOP;
	}
	const struct cw_iface *iface = r.target->iface;
	if (h.opcode >= iface->nreq) {
		cw_client_post_error(c, h.id, CW_DISPLAY_ERROR_INVALID_METHOD,
			"invalid method %u, object %s@%u", h.opcode, iface->name, h.id);
		return STEP_STOP;
	}
	const struct cw_msg_desc *d = &iface->req[h.opcode];
	if (d->since > r.target->version) {
		cw_client_post_error(c, h.id, CW_DISPLAY_ERROR_INVALID_METHOD,
			"invalid method %u (since %u > version %u), object %s@%u", h.opcode, d->since,
			r.target->version, iface->name, h.id);
		return STEP_STOP;
	}
	if (d->scalar_only && !d->hook && !c->cfg->trace) {
		/* The hot path (damage, region rectangles, ...): nothing inside such a message
		 * needs checking or rewriting but its size. */
		r.msg.desc = d;
		if (h.size_bytes != 8 + 4 * d->nargs) {
			return guest_error_args(c, &r, cw_wire_status_str(h.size_bytes <
				8 + 4 * d->nargs ? CW_WIRE_TRUNCATED : CW_WIRE_TRAILING));
		}
		uint8_t *out = cw_conn_out_reserve(&c->host, h.size_bytes, 0);
		if (!out) {
			return STEP_BLOCKED;
		}
		memcpy(out, r.bytes, h.size_bytes);
		cw_msg_set_word(out, 0, r.target->host_id);
		cw_conn_out_commit(&c->host, h.size_bytes, NULL, 0);
		c->relayed_bytes += h.size_bytes;
		cw_conn_consume(in, h.size_bytes);
		if (d->destructor) {
			mark_guest_destroyed(c, r.target);
		}
		return STEP_DONE;
	}
	st = cw_msg_decode(r.bytes, &h, d, in->in_nfds, &r.msg);
	if (st != CW_WIRE_OK) {
		return guest_error_args(c, &r, cw_wire_status_str(st));
	}
	/* Everything that can block is checked before anything changes state. */
	uint8_t *dst = cw_conn_out_reserve(&c->host, h.size_bytes, d->nfds);
	if (!dst) {
		return STEP_BLOCKED;
	}
	if (d->has_ids && resolve_request_args(c, &r) != STEP_DONE) {
		return STEP_STOP;
	}
	if (d->hook) {
		enum cw_hook_result hr = d->hook(c, &r);
		if (hr == CW_HOOK_ERROR) {
			return STEP_STOP;
		}
		if (hr == CW_HOOK_DROP) {
			if (c->cfg->trace) {
				cw_trace_msg(c, &r, "dropped");
			}
			cw_conn_consume(in, h.size_bytes);
			return STEP_DONE;
		}
	}
	if (d->has_ids && create_request_objects(c, &r) != STEP_DONE) {
		return STEP_STOP;
	}
	forward(c, &r, in, &c->host, dst, r.target->host_id);

	if (d->destructor) {
		mark_guest_destroyed(c, r.target);
	}
	return STEP_DONE;
}

static bool object_reaches_guest(const struct cw_object *o)
{
	return o->guest_id != 0 && !o->guest_dead && !o->host_zombie;
}

/* Resolves o arguments of a host event, and creates objects for n arguments: on the
 * guest side too if the event will reach the guest, else as host zombies. */
static enum step resolve_event_args(struct cw_client *c, struct cw_relay *r, bool to_guest)
{
	const struct cw_msg_desc *d = r->msg.desc;
	for (uint32_t i = 0; i < d->nargs; i++) {
		const struct cw_arg_desc *a = &d->args[i];
		uint32_t id = r->msg.args[i].u;
		if (a->type == 'o') {
			struct cw_object *o = id ? cw_idmap_find(&c->host_ids, id) : NULL;
			r->objs[i] = o;
			r->out_ids[i] = 0;
			/* A guest-destroyed object keeps its guest id until delete_id: libwayland
			 * clients treat events naming it as naming a destroyed proxy. */
			if (o && o->guest_id && !o->host_zombie) {
				r->out_ids[i] = o->guest_id;
			} else if (id && !a->nullable) {
				r->unresolved = true;
			}
		} else if (a->type == 'n') {
			if (id < CW_SERVER_ID_START) {
				host_failure(c, "compositor sent %s.%s with client-range new id %u",
					r->target->iface->name, d->name, id);
				return STEP_STOP;
			}
			/* The compositor may reuse one of its ids once we destroyed the old
			 * object; the old one was a host zombie. */
			struct cw_object *old = cw_idmap_find(&c->host_ids, id);
			if (old) {
				object_unmap_host(c, old);
				object_release(c, old);
			}
			struct cw_object *o = object_new(c, a->iface, r->target->version);
			if (!o || cw_idmap_insert_at(&c->host_ids, id, o, true) < 0) {
				cw_objpool_put(&c->pool, o);
				host_failure(c, "cannot track compositor object %u", id);
				return STEP_STOP;
			}
			o->host_id = id;
			if (to_guest) {
				o->guest_id = cw_idmap_alloc(&c->guest_ids, true, o);
				if (o->guest_id == 0) {
					cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY,
						"out of memory (too many objects?)");
					return STEP_STOP;
				}
			} else {
				o->host_zombie = true;
			}
			r->out_ids[i] = o->guest_id;
		}
	}
	return STEP_DONE;
}

static enum step relay_event(struct cw_client *c)
{
	struct cw_conn *in = &c->host;
	struct cw_relay r; /* see relay_request */
	r.from_guest = false;
	r.unresolved = false;
	struct cw_header h;
	enum cw_wire_status st;
	enum step s = next_message(in, &h, &st);
	if (s != STEP_DONE) {
		if (s == STEP_STOP) {
			host_failure(c, "compositor sent an invalid message header: %s",
				cw_wire_status_str(st));
		}
		return s;
	}
	r.bytes = in->in + in->in_head;
	r.target = cw_idmap_find(&c->host_ids, h.id);
	if (!r.target) {
		/* Cannot be parsed, so its fds (if any) cannot be attributed either. */
		cw_clog(c->id, CW_LOG_WARN, "compositor sent event %u for unknown object %u",
			h.opcode, h.id);
		cw_conn_consume(in, h.size_bytes);
		return STEP_DONE;
	}
	const struct cw_iface *iface = r.target->iface;
	if (h.opcode >= iface->nevt) {
		host_failure(c, "compositor sent invalid event %u for %s@%u", h.opcode,
			iface->name, h.id);
		return STEP_STOP;
	}
	const struct cw_msg_desc *d = &iface->evt[h.opcode];
	st = cw_msg_decode(r.bytes, &h, d, in->in_nfds, &r.msg);
	if (st != CW_WIRE_OK) {
		host_failure(c, "compositor sent invalid arguments for %s@%u.%s: %s", iface->name,
			h.id, d->name, cw_wire_status_str(st));
		return STEP_STOP;
	}
	bool to_guest = object_reaches_guest(r.target);
	if (d->since > r.target->version) {
		cw_clog(c->id, CW_LOG_WARN, "compositor sent %s.%s (since %u) to version %u; dropped",
			iface->name, d->name, d->since, r.target->version);
		to_guest = false;
	}
	uint8_t *dst = cw_conn_out_reserve(&c->guest, h.size_bytes, d->nfds);
	if (!dst) {
		return STEP_BLOCKED;
	}
	if (d->has_ids && resolve_event_args(c, &r, to_guest) != STEP_DONE) {
		return STEP_STOP;
	}
	enum cw_hook_result hr = CW_HOOK_FORWARD;
	if (!to_guest) {
		hr = CW_HOOK_DROP;
	} else if (d->hook) {
		hr = d->hook(c, &r);
		if (hr == CW_HOOK_ERROR) {
			return STEP_STOP;
		}
		/* Hooks may have queued their own output. */
		dst = cw_conn_out_reserve(&c->guest, h.size_bytes, d->nfds);
		if (!dst) {
			hr = CW_HOOK_DROP;
			cw_clog(c->id, CW_LOG_ERROR, "app output full after hook; event dropped");
		}
	}
	if (hr == CW_HOOK_FORWARD && r.unresolved) {
		cw_clog(c->id, CW_LOG_DEBUG, "%s.%s names a destroyed object; dropped",
			iface->name, d->name);
		hr = CW_HOOK_DROP;
	}
	if (hr == CW_HOOK_DROP) {
		if (c->cfg->trace) {
			cw_trace_msg(c, &r, "dropped");
		}
		cw_conn_close_fds(in, d->nfds);
		cw_conn_consume(in, h.size_bytes);
	} else {
		forward(c, &r, in, &c->guest, dst, r.target->guest_id);
	}

	if (d->destructor) {
		struct cw_object *o = r.target;
		if (o->host_id < CW_SERVER_ID_START) {
			/* delete_id follows and releases both ids. */
			o->guest_dead = true;
		} else {
			object_unmap_guest(c, o);
			object_unmap_host(c, o);
			object_release(c, o);
		}
	}
	if (c->host_failed) {
		client_set_state(c, CW_CLIENT_DRAINING);
		return STEP_STOP;
	}
	return STEP_DONE;
}

/* Relays messages from one side until input runs out or the other side is full.
 * Returns true if anything was relayed. */
static bool pump(struct cw_client *c, bool from_guest)
{
	bool progress = false;
	bool *blocked = from_guest ? &c->guest_blocked : &c->host_blocked;
	*blocked = false;
	while (c->state == CW_CLIENT_RELAYING) {
		enum step s = from_guest ? relay_request(c) : relay_event(c);
		if (s == STEP_DONE) {
			progress = true;
			continue;
		}
		if (s == STEP_BLOCKED) {
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
	if (conn->fd < 0 || !cw_conn_has_output(conn)) {
		return false;
	}
	uint64_t before = conn->out_base + conn->out_head;
	size_t fds_before = conn->out_nfds;
	enum cw_io_result res = cw_conn_flush(conn);
	if (res == CW_IO_EOF || res == CW_IO_ERROR) {
		if (guest) {
			cw_clog(c->id, CW_LOG_INFO, "app went away while writing to it");
			client_set_state(c, CW_CLIENT_DEAD);
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
			host_failure(c, "compositor sent too many file descriptors");
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
		client_set_state(c, CW_CLIENT_DEAD);
		return;
	}
	if (c->host.eof && !c->host_blocked) {
		host_failure(c, "compositor disconnected");
	}
}

void cw_client_want(struct cw_client *c, struct pollfd pfd[2])
{
	pfd[0] = (struct pollfd){ .fd = -1 };
	pfd[1] = (struct pollfd){ .fd = -1 };
	if (c->state == CW_CLIENT_DEAD) {
		return;
	}
	pfd[0].fd = c->guest.fd;
	if (cw_conn_has_output(&c->guest)) {
		pfd[0].events |= POLLOUT;
	}
	if (c->state == CW_CLIENT_DRAINING) {
		return;
	}
	if (!c->guest_blocked && !c->guest.eof) {
		pfd[0].events |= POLLIN;
	}
	pfd[1].fd = c->host.fd;
	if (!c->host_blocked && !c->host.eof) {
		pfd[1].events |= POLLIN;
	}
	if (cw_conn_has_output(&c->host)) {
		pfd[1].events |= POLLOUT;
	}
}

static void dispatch(struct cw_client *c, const struct pollfd pfd[2]);

size_t cw_client_dispatch(struct cw_client *c, const struct pollfd pfd[2])
{
	uint64_t before = c->relayed_bytes;
	dispatch(c, pfd);
	return (size_t)(c->relayed_bytes - before);
}

static void dispatch(struct cw_client *c, const struct pollfd pfd[2])
{
	if (c->state == CW_CLIENT_DRAINING) {
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			client_set_state(c, CW_CLIENT_DEAD);
			return;
		}
		flush_side(c, true);
		if (c->state == CW_CLIENT_DRAINING &&
			(!cw_conn_has_output(&c->guest) || now_ms() >= c->deadline_ms)) {
			client_set_state(c, CW_CLIENT_DEAD);
		}
		return;
	}
	if (c->state != CW_CLIENT_RELAYING) {
		return;
	}
	if (pfd[1].revents & POLLOUT) {
		flush_side(c, false);
	}
	if (pfd[0].revents & POLLOUT) {
		flush_side(c, true);
	}
	if (c->state == CW_CLIENT_RELAYING && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
		read_side(c, true);
	}
	if (c->state == CW_CLIENT_RELAYING && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
		read_side(c, false);
	}
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
			client_set_state(c, CW_CLIENT_DEAD);
		}
	}
}
