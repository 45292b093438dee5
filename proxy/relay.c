/* Relaying one message: decode it against the protocol tables, check its ids against
 * the object tables, run its hook, create the objects it names, rewrite its ids and
 * queue it with its fds on the other side. */
#include <stdio.h>
#include <string.h>

#include "proxy/private.h"
#include "util/log.h"
#include "virtgpu/virtgpu.h"

/* Error text helpers mirroring libwayland's wording. */
static enum cw_step guest_error_args(struct cw_client *c, const struct cw_relay *r,
	const char *why)
{
	/* libwayland reports malformed arguments on the display, not on the target. */
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_METHOD,
		"invalid arguments for %s@%u.%s: %s", r->target->iface->name, r->msg.hdr.id,
		r->msg.desc->name, why);
	return CW_STEP_STOP;
}

/* In virtio-gpu mode only GPU buffers and pipe write ends cross the VM boundary; any
 * other fd is refused here, where the message can be named, never dropped silently. */
static enum cw_step check_fds_cross(struct cw_client *c, struct cw_relay *r)
{
	const struct cw_msg_desc *d = r->msg.desc;
	for (uint32_t i = 0; i < d->nargs; i++) {
		if (d->args[i].type != 'h') {
			continue;
		}
		int fd = cw_conn_in_fd(&c->guest, (size_t)r->msg.args[i].h);
		char what[64], why[256];
		if (cw_gpu_classify_fd(c->gpu, fd, what, sizeof(what)) == CW_GPU_FD_OTHER) {
			snprintf(why, sizeof(why), "fd argument %u is %s, which cannot cross to the "
				"host (only GPU buffers and pipe write ends can)", i + 1, what);
			return guest_error_args(c, r, why);
		}
	}
	return CW_STEP_DONE;
}

/* Resolves the o arguments of a guest request and checks the n arguments. */
static enum cw_step resolve_request_args(struct cw_client *c, struct cw_relay *r)
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
			if (!o || o->guest_dead || (o->host_id == 0 && !o->local)) {
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
			r->local_args |= o->local;
		} else if (a->type == 'n') {
			if (id >= CW_SERVER_ID_START || cw_idmap_find(&c->guest_ids, id) ||
				id > c->guest_ids.nlo) {
				snprintf(why, sizeof(why), "invalid new id %u", id);
				return guest_error_args(c, r, why);
			}
		}
	}
	return CW_STEP_DONE;
}

/* Creates the objects named by n arguments and writes their ids into out_ids. */
bool cw_relay_create_objects(struct cw_client *c, struct cw_relay *r)
{
	const struct cw_msg_desc *d = r->msg.desc;
	if (r->created) {
		return true;
	}
	r->created = true;
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
				guest_error_args(c, r, why);
				return false;
			}
			version = r->msg.args[i - 1].u;
		}
		struct cw_object *o = cw_client_object_new(c, iface, version);
		if (!o) {
			goto nomem;
		}
		uint32_t gid = r->msg.args[i].u;
		if (cw_idmap_insert_at(&c->guest_ids, gid, o, false) < 0) {
			cw_objpool_put(&c->pool, o);
			goto nomem;
		}
		o->guest_id = gid;
		r->objs[i] = o;
		o->host_id = cw_idmap_alloc(&c->host_ids, false, o);
		if (o->host_id == 0) {
			goto nomem;
		}
		r->out_ids[i] = o->host_id;
	}
	return true;
nomem:
	cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory (too many objects?)");
	return false;
}

bool cw_relay_host_room(struct cw_client *c, const struct cw_relay *r, size_t extra_bytes,
	size_t extra_fds)
{
	return cw_conn_out_reserve(&c->host, r->msg.hdr.size_bytes + extra_bytes,
		r->msg.desc->nfds + extra_fds) != NULL;
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

/* Peeks at the next message: CW_STEP_DONE when it is complete, CW_STEP_WAIT when more bytes
 * are needed, CW_STEP_STOP (with *st set) when its header is invalid. */
static enum cw_step next_message(const struct cw_conn *in, struct cw_header *h,
	enum cw_wire_status *st)
{
	size_t avail = cw_conn_in_bytes(in);
	*st = CW_WIRE_OK;
	if (!cw_header_decode(cw_conn_in_data(in), avail, h)) {
		return CW_STEP_WAIT;
	}
	*st = cw_header_check(h);
	if (*st != CW_WIRE_OK) {
		return CW_STEP_STOP;
	}
	return avail < h->size_bytes ? CW_STEP_WAIT : CW_STEP_DONE;
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
		cw_client_object_unmap_guest(c, o);
		o->host_zombie = true;
	}
}

enum cw_step cw_relay_request(struct cw_client *c)
{
	struct cw_conn *in = &c->guest;
	/* Not zero-initialised: it is ~700 bytes and this runs per message. Fields are set
	 * as the message is decoded and resolved. */
	struct cw_relay r;
	r.from_guest = true;
	r.unresolved = false;
	r.local_args = false;
	r.created = false;
	struct cw_header h;
	enum cw_wire_status st;
	enum cw_step s = next_message(in, &h, &st);
	if (s != CW_STEP_DONE) {
		if (s == CW_STEP_STOP) {
			cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_METHOD,
				"invalid message header (object %u, opcode %u, size %u): %s", h.id,
				h.opcode, h.size_bytes, cw_wire_status_str(st));
		}
		return s;
	}
	r.bytes = in->in + in->in_head;
	r.target = cw_idmap_find(&c->guest_ids, h.id);
	if (!r.target || r.target->guest_dead || (r.target->host_id == 0 && !r.target->local)) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_INVALID_OBJECT, "invalid object %u", h.id);
		return CW_STEP_STOP;
	}
	const struct cw_iface *iface = r.target->iface;
	if (h.opcode >= iface->nreq) {
		cw_client_post_error(c, h.id, CW_DISPLAY_ERROR_INVALID_METHOD,
			"invalid method %u, object %s@%u", h.opcode, iface->name, h.id);
		return CW_STEP_STOP;
	}
	const struct cw_msg_desc *d = &iface->req[h.opcode];
	if (d->since > r.target->version) {
		cw_client_post_error(c, h.id, CW_DISPLAY_ERROR_INVALID_METHOD,
			"invalid method %u (since %u > version %u), object %s@%u", h.opcode, d->since,
			r.target->version, iface->name, h.id);
		return CW_STEP_STOP;
	}
	if (d->scalar_only && !d->hook && !c->cfg->trace && !r.target->local) {
		/* The hot path (damage, region rectangles, ...): nothing inside such a message
		 * needs checking or rewriting but its size. */
		r.msg.desc = d;
		if (h.size_bytes != 8 + 4 * d->nargs) {
			return guest_error_args(c, &r, cw_wire_status_str(h.size_bytes <
				8 + 4 * d->nargs ? CW_WIRE_TRUNCATED : CW_WIRE_TRAILING));
		}
		uint8_t *out = cw_conn_out_reserve(&c->host, h.size_bytes, 0);
		if (!out) {
			return CW_STEP_BLOCKED;
		}
		memcpy(out, r.bytes, h.size_bytes);
		cw_msg_set_word(out, 0, r.target->host_id);
		cw_conn_out_commit(&c->host, h.size_bytes, NULL, 0);
		c->relayed_bytes += h.size_bytes;
		cw_conn_consume(in, h.size_bytes);
		if (d->destructor) {
			mark_guest_destroyed(c, r.target);
		}
		return CW_STEP_DONE;
	}
	st = cw_msg_decode(r.bytes, &h, d, in->in_nfds, &r.msg);
	if (st != CW_WIRE_OK) {
		return guest_error_args(c, &r, cw_wire_status_str(st));
	}
	/* Everything that can block is checked before anything changes state. */
	uint8_t *dst = cw_conn_out_reserve(&c->host, h.size_bytes, d->nfds);
	if (!dst) {
		return CW_STEP_BLOCKED;
	}
	if (d->has_ids && resolve_request_args(c, &r) != CW_STEP_DONE) {
		return CW_STEP_STOP;
	}
	if (d->hook) {
		enum cw_hook_result hr = d->hook(c, &r);
		switch (hr) {
		case CW_HOOK_ERROR:
			return CW_STEP_STOP;
		case CW_HOOK_BLOCKED:
			return CW_STEP_BLOCKED;
		case CW_HOOK_WAIT:
			c->guest_stalled = true;
			return CW_STEP_WAIT;
		case CW_HOOK_DROP:
			if (c->cfg->trace) {
				cw_trace_msg(c, &r, "dropped");
			}
			cw_conn_consume(in, h.size_bytes);
			return CW_STEP_DONE;
		case CW_HOOK_FORWARD:
			break;
		}
		/* Hooks may have queued requests of their own (with room checked). */
		dst = cw_conn_out_reserve(&c->host, h.size_bytes, d->nfds);
		if (!dst) {
			cw_client_host_failure(c, "output to the compositor full after a hook");
			return CW_STEP_STOP;
		}
	}
	if (r.target->local || r.local_args) {
		/* Only hooks know what a local object means; one left for the compositor
		 * would name nothing there. */
		cw_client_post_error(c, h.id, CW_DISPLAY_ERROR_INVALID_OBJECT,
			"%s@%u.%s cannot be relayed: it names an object backed by guest memory "
			"(wl_shm in copy mode), which this request cannot use", iface->name, h.id,
			d->name);
		return CW_STEP_STOP;
	}
	/* After the hook, which may have taken the fds (wl_shm pools in copy mode). */
	if (c->gpu && d->nfds && check_fds_cross(c, &r) != CW_STEP_DONE) {
		return CW_STEP_STOP;
	}
	if (d->has_ids && !cw_relay_create_objects(c, &r)) {
		return CW_STEP_STOP;
	}
	forward(c, &r, in, &c->host, dst, r.target->host_id);
	if (c->gpu && r.target->host_id == 1) {
		/* wl_display.sync and get_registry are always answered: a host that stays
		 * silent after them is dead. */
		cw_gpu_expect_reply(c->gpu);
	}

	if (d->destructor) {
		mark_guest_destroyed(c, r.target);
	}
	return CW_STEP_DONE;
}

static bool object_reaches_guest(const struct cw_object *o)
{
	return o->guest_id != 0 && !o->guest_dead && !o->host_zombie;
}

/* Resolves o arguments of a host event, and creates objects for n arguments: on the
 * guest side too if the event will reach the guest, else as host zombies. */
static enum cw_step resolve_event_args(struct cw_client *c, struct cw_relay *r, bool to_guest)
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
				cw_client_host_failure(c, "compositor sent %s.%s with client-range new id %u",
					r->target->iface->name, d->name, id);
				return CW_STEP_STOP;
			}
			/* The compositor may reuse one of its ids once we destroyed the old
			 * object; the old one was a host zombie. */
			struct cw_object *old = cw_idmap_find(&c->host_ids, id);
			if (old) {
				cw_client_object_unmap_host(c, old);
				cw_client_object_release(c, old);
			}
			struct cw_object *o = cw_client_object_new(c, a->iface, r->target->version);
			if (!o || cw_idmap_insert_at(&c->host_ids, id, o, true) < 0) {
				cw_objpool_put(&c->pool, o);
				cw_client_host_failure(c, "cannot track compositor object %u", id);
				return CW_STEP_STOP;
			}
			o->host_id = id;
			if (to_guest) {
				o->guest_id = cw_idmap_alloc(&c->guest_ids, true, o);
				if (o->guest_id == 0) {
					cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY,
						"out of memory (too many objects?)");
					return CW_STEP_STOP;
				}
			} else {
				o->host_zombie = true;
			}
			r->out_ids[i] = o->guest_id;
		}
	}
	return CW_STEP_DONE;
}

enum cw_step cw_relay_event(struct cw_client *c)
{
	struct cw_conn *in = &c->host;
	struct cw_relay r; /* see relay_request */
	r.from_guest = false;
	r.unresolved = false;
	struct cw_header h;
	enum cw_wire_status st;
	enum cw_step s = next_message(in, &h, &st);
	if (s != CW_STEP_DONE) {
		if (s == CW_STEP_STOP) {
			cw_client_host_failure(c, "compositor sent an invalid message header: %s",
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
		return CW_STEP_DONE;
	}
	const struct cw_iface *iface = r.target->iface;
	if (h.opcode >= iface->nevt) {
		cw_client_host_failure(c, "compositor sent invalid event %u for %s@%u", h.opcode,
			iface->name, h.id);
		return CW_STEP_STOP;
	}
	const struct cw_msg_desc *d = &iface->evt[h.opcode];
	st = cw_msg_decode(r.bytes, &h, d, in->in_nfds, &r.msg);
	if (st != CW_WIRE_OK) {
		cw_client_host_failure(c, "compositor sent invalid arguments for %s@%u.%s: %s", iface->name,
			h.id, d->name, cw_wire_status_str(st));
		return CW_STEP_STOP;
	}
	bool to_guest = object_reaches_guest(r.target);
	if (d->since > r.target->version) {
		cw_clog(c->id, CW_LOG_WARN, "compositor sent %s.%s (since %u) to version %u; dropped",
			iface->name, d->name, d->since, r.target->version);
		to_guest = false;
	}
	uint8_t *dst = cw_conn_out_reserve(&c->guest, h.size_bytes, d->nfds);
	if (!dst) {
		return CW_STEP_BLOCKED;
	}
	if (d->has_ids && resolve_event_args(c, &r, to_guest) != CW_STEP_DONE) {
		return CW_STEP_STOP;
	}
	enum cw_hook_result hr = CW_HOOK_FORWARD;
	if (!to_guest) {
		if (r.target->own && d->hook && d->since <= r.target->version) {
			/* crossway's own object: the hook consumes the event. */
			d->hook(c, &r);
		}
		hr = CW_HOOK_DROP;
	} else if (d->hook) {
		hr = d->hook(c, &r);
		if (hr == CW_HOOK_ERROR) {
			return CW_STEP_STOP;
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
			cw_client_object_unmap_guest(c, o);
			cw_client_object_unmap_host(c, o);
			cw_client_object_release(c, o);
		}
	}
	if (c->host_failed) {
		cw_client_set_state(c, CW_CLIENT_DRAINING);
		return CW_STEP_STOP;
	}
	return CW_STEP_DONE;
}
