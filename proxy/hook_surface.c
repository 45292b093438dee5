/* Hooks for wl_surface, wp_viewport and xdg_toplevel_icon_v1 in copy mode: they follow
 * each surface's double-buffered state (buffer, damage, scale, transform, viewport) so
 * that a commit can copy what changed into a shadow buffer the compositor has released,
 * attach that shadow upstream and release the app's buffer at once. */
#include <math.h>
#include <stdlib.h>

#include "protocols/hooks.h"
#include "proxy/shadow.h"
#include "util/log.h"

/* Per surface: kept shadows (compositors hold one or two), and the most that may
 * exist before a commit waits for the compositor to release one. Shadows past the
 * kept number go once unused for SHADOW_IDLE_COPIES frames: freeing them as soon as
 * they are released would allocate a new one for almost every frame of an app that
 * draws faster than the compositor releases. */
#define SHADOWS_KEPT 3
#define SHADOWS_MAX 6
#define SHADOW_IDLE_COPIES 120
/* Damage coordinates are clipped to this, which keeps pixman's 32-bit maths safe for
 * "damage everything" rectangles such as (0, 0, INT32_MAX, INT32_MAX). */
#define DAMAGE_LIMIT (1 << 24)
/* A commit queues at most: a shadow's creation, an attach, and the destruction of
 * every shadow it retires. */
#define COMMIT_EXTRA_BYTES (CW_SHADOW_CREATE_BYTES + 20 + SHADOWS_MAX * CW_SHADOW_DESTROY_BYTES)

struct cw_surface *cw_surface_get(struct cw_client *c, struct cw_object *surface)
{
	if (surface->hook_data) {
		return surface->hook_data;
	}
	struct cw_shm_client *cs = cw_shm_client_get(c);
	struct cw_surface *s = cs ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		if (cs) {
			cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		}
		return NULL;
	}
	s->obj = surface;
	s->scale = s->pending_scale = 1;
	pixman_region32_init(&s->damage_surface);
	pixman_region32_init(&s->damage_buffer);
	cw_list_init(&s->shadows);
	cw_list_insert_tail(&cs->surfaces, &s->link);
	surface->hook_data = s;
	return s;
}

void cw_surface_destroy(struct cw_client *c, struct cw_surface *s, bool tell_host)
{
	struct cw_shadow *sh, *tmp;
	cw_list_for_each_safe(sh, tmp, &s->shadows, link) {
		cw_shadow_destroy(c, sh, tell_host);
	}
	if (s->viewport) {
		s->viewport->hook_data = NULL;
	}
	s->obj->hook_data = NULL;
	pixman_region32_fini(&s->damage_surface);
	pixman_region32_fini(&s->damage_buffer);
	cw_list_remove(&s->link);
	free(s);
}

void cw_surface_forget_buffer(struct cw_client *c, const struct cw_guest_buffer *gb)
{
	struct cw_surface *s, *tmp;
	cw_list_for_each_safe(s, tmp, &c->shm->surfaces, link) {
		if (s->pending == gb) {
			s->pending = NULL;
		}
		if (s->current == gb) {
			s->current = NULL;
		}
	}
}

/* The surface state to update, or NULL when not in copy mode (or after an error:
 * *err is set then). */
static struct cw_surface *tracked(struct cw_client *c, struct cw_object *surface, bool *err)
{
	*err = false;
	if (!c->cfg->shm_copy) {
		return NULL;
	}
	struct cw_surface *s = cw_surface_get(c, surface);
	*err = s == NULL;
	return s;
}

static void add_damage(pixman_region32_t *region, int32_t x, int32_t y, int32_t w, int32_t h)
{
	if (w <= 0 || h <= 0) {
		return;
	}
	int64_t x1 = x < 0 ? 0 : x, y1 = y < 0 ? 0 : y;
	int64_t x2 = (int64_t)x + w, y2 = (int64_t)y + h;
	x2 = x2 > DAMAGE_LIMIT ? DAMAGE_LIMIT : x2;
	y2 = y2 > DAMAGE_LIMIT ? DAMAGE_LIMIT : y2;
	x1 = x1 > DAMAGE_LIMIT ? DAMAGE_LIMIT : x1;
	y1 = y1 > DAMAGE_LIMIT ? DAMAGE_LIMIT : y1;
	if (x1 < x2 && y1 < y2) {
		pixman_region32_union_rect(region, region, (int)x1, (int)y1, (unsigned)(x2 - x1),
			(unsigned)(y2 - y1));
	}
}

/* attach(buffer o?, x i, y i): an app shm buffer is attached at commit, as a shadow. */
enum cw_hook_result cw_hook_wl_surface_req_attach(struct cw_client *c, struct cw_relay *r)
{
	bool err;
	struct cw_surface *s = tracked(c, r->target, &err);
	if (!s) {
		return err ? CW_HOOK_ERROR : CW_HOOK_FORWARD;
	}
	struct cw_object *buf = r->objs[0];
	s->attached = true;
	s->dx = r->msg.args[1].i;
	s->dy = r->msg.args[2].i;
	if (buf && buf->local) {
		s->pending = buf->hook_data;
		return CW_HOOK_DROP;
	}
	s->pending = NULL; /* NULL or a compositor-side buffer (dmabuf, single-pixel) */
	return CW_HOOK_FORWARD;
}

static enum cw_hook_result track_damage(struct cw_client *c, struct cw_relay *r,
	bool buffer_coords)
{
	bool err;
	struct cw_surface *s = tracked(c, r->target, &err);
	if (s) {
		add_damage(buffer_coords ? &s->damage_buffer : &s->damage_surface,
			r->msg.args[0].i, r->msg.args[1].i, r->msg.args[2].i, r->msg.args[3].i);
	}
	return err ? CW_HOOK_ERROR : CW_HOOK_FORWARD;
}

/* damage(x, y, width, height), surface coordinates */
enum cw_hook_result cw_hook_wl_surface_req_damage(struct cw_client *c, struct cw_relay *r)
{
	return track_damage(c, r, false);
}

/* damage_buffer(x, y, width, height), buffer coordinates */
enum cw_hook_result cw_hook_wl_surface_req_damage_buffer(struct cw_client *c, struct cw_relay *r)
{
	return track_damage(c, r, true);
}

/* set_buffer_scale(scale i); the compositor judges the value. */
enum cw_hook_result cw_hook_wl_surface_req_set_buffer_scale(struct cw_client *c,
	struct cw_relay *r)
{
	bool err;
	struct cw_surface *s = tracked(c, r->target, &err);
	if (s) {
		s->pending_scale = r->msg.args[0].i;
	}
	return err ? CW_HOOK_ERROR : CW_HOOK_FORWARD;
}

/* set_buffer_transform(transform i) */
enum cw_hook_result cw_hook_wl_surface_req_set_buffer_transform(struct cw_client *c,
	struct cw_relay *r)
{
	bool err;
	struct cw_surface *s = tracked(c, r->target, &err);
	if (s) {
		s->pending_transform = (uint32_t)r->msg.args[0].i;
	}
	return err ? CW_HOOK_ERROR : CW_HOOK_FORWARD;
}

/* A released shadow that can show gb, a new one, or none (CW_HOOK_WAIT: all busy). */
static enum cw_hook_result pick_shadow(struct cw_client *c, struct cw_surface *s,
	const struct cw_guest_buffer *gb, struct cw_shadow **out)
{
	struct cw_shadow *sh, *tmp, *found = NULL;
	cw_list_for_each_safe(sh, tmp, &s->shadows, link) {
		if (!cw_shadow_fits(sh, gb)) {
			cw_shadow_retire(c, sh); /* the buffer changed size or format */
			s->nshadows--;
		} else if (!sh->busy && !found) {
			found = sh;
		}
	}
	if (!found && s->nshadows >= SHADOWS_MAX) {
		cw_clog(c->id, CW_LOG_DEBUG, "surface %u: all %u shadows held by the compositor; "
			"the commit waits for a release", s->obj->guest_id, s->nshadows);
		return CW_HOOK_WAIT;
	}
	if (!found) {
		found = cw_shadow_create(c, gb);
		if (!found) {
			return CW_HOOK_ERROR;
		}
		cw_list_insert_tail(&s->shadows, &found->link);
		s->nshadows++;
	}
	*out = found;
	return CW_HOOK_FORWARD;
}

static void retire_all(struct cw_client *c, struct cw_surface *s)
{
	struct cw_shadow *sh, *tmp;
	cw_list_for_each_safe(sh, tmp, &s->shadows, link) {
		cw_shadow_retire(c, sh);
	}
	s->nshadows = 0;
}

/* Past the kept number, released shadows that have long been unused go. */
static void trim_shadows(struct cw_client *c, struct cw_surface *s)
{
	struct cw_shadow *sh, *tmp;
	cw_list_for_each_safe(sh, tmp, &s->shadows, link) {
		if (s->nshadows <= SHADOWS_KEPT) {
			break;
		}
		if (!sh->busy && s->copies - sh->filled_at > SHADOW_IDLE_COPIES) {
			cw_shadow_retire(c, sh);
			s->nshadows--;
		}
	}
}

static void committed_damage(const struct cw_surface *s, const struct cw_guest_buffer *gb,
	pixman_region32_t *out)
{
	struct cw_shm_view v = {
		.buffer_width = (int32_t)gb->width,
		.buffer_height = (int32_t)gb->height,
		.scale = s->scale > 0 ? s->scale : 1,
		.transform = s->transform & 7,
		.has_src = s->vp.has_src,
		.src_x = s->vp.src_x,
		.src_y = s->vp.src_y,
		.src_w = s->vp.src_w,
		.src_h = s->vp.src_h,
		.has_dst = s->vp.has_dst,
		.dst_w = s->vp.dst_w,
		.dst_h = s->vp.dst_h,
	};
	pixman_region32_copy(out, &s->damage_buffer);
	cw_shm_damage_surface_to_buffer(out, &s->damage_surface, &v);
}

/* commit(): copy, attach a shadow, release the app's buffer, then relay the commit. */
enum cw_hook_result cw_hook_wl_surface_req_commit(struct cw_client *c, struct cw_relay *r)
{
	struct cw_surface *s = c->cfg->shm_copy ? r->target->hook_data : NULL;
	if (!s) {
		return CW_HOOK_FORWARD;
	}
	bool newly = s->attached && s->pending;
	struct cw_guest_buffer *gb = s->attached ? s->pending : s->current;
	bool damaged = pixman_region32_not_empty(&s->damage_surface) ||
		pixman_region32_not_empty(&s->damage_buffer);
	bool copy = gb && (newly || damaged);
	/* Everything that can block is checked before anything changes. */
	if (!cw_relay_host_room(c, r, COMMIT_EXTRA_BYTES, copy ? 1 : 0)) {
		return CW_HOOK_BLOCKED;
	}
	if (newly && !cw_conn_out_reserve(&c->guest, 8, 0)) {
		return CW_HOOK_BLOCKED; /* no room for the release */
	}
	cw_shadow_flush_orphans(c);
	struct cw_shadow *sh = NULL;
	if (copy) {
		enum cw_hook_result res = pick_shadow(c, s, gb, &sh);
		if (res != CW_HOOK_FORWARD) {
			return res;
		}
	}
	s->scale = s->pending_scale;
	s->transform = s->pending_transform;
	s->vp = s->pending_vp;
	if (s->attached) {
		s->current = s->pending;
		if (!s->current) {
			retire_all(c, s); /* NULL or a compositor-side buffer now */
		}
	}
	if (copy) {
		pixman_region32_t damage;
		pixman_region32_init(&damage);
		committed_damage(s, gb, &damage);
		bool ok = cw_shadow_fill(c, sh, gb, &damage);
		sh->filled_at = ++s->copies;
		struct cw_shadow *other, *tmp;
		cw_list_for_each_safe(other, tmp, &s->shadows, link) {
			if (other != sh) {
				pixman_region32_union(&other->missed, &other->missed, &damage);
			}
		}
		pixman_region32_fini(&damage);
		if (!ok) {
			return CW_HOOK_ERROR;
		}
		sh->busy = true;
		union cw_arg attach[3] = { { .u = sh->buffer->host_id },
			{ .i = newly ? s->dx : 0 }, { .i = newly ? s->dy : 0 } };
		cw_client_send_request(c, r->target->host_id, r->target->iface, 1, attach, NULL, 0);
		if (newly) {
			/* The content is ours now: the app may reuse its buffer at once. */
			cw_client_send_event(c, gb->obj->guest_id, gb->obj->iface, 0, NULL);
		}
		trim_shadows(c, s);
	}
	pixman_region32_clear(&s->damage_surface);
	pixman_region32_clear(&s->damage_buffer);
	s->attached = false;
	s->pending = NULL;
	return CW_HOOK_FORWARD;
}

/* destroy(): the shadows go with the surface. */
enum cw_hook_result cw_hook_wl_surface_req_destroy(struct cw_client *c, struct cw_relay *r)
{
	struct cw_surface *s = r->target->hook_data;
	if (!s) {
		return CW_HOOK_FORWARD;
	}
	if (!cw_relay_host_room(c, r, s->nshadows * CW_SHADOW_DESTROY_BYTES, 0)) {
		return CW_HOOK_BLOCKED;
	}
	cw_surface_destroy(c, s, true);
	return CW_HOOK_FORWARD;
}

/* get_viewport(id n, surface o) */
enum cw_hook_result cw_hook_wp_viewporter_req_get_viewport(struct cw_client *c,
	struct cw_relay *r)
{
	bool err = false;
	struct cw_surface *s = r->objs[1] ? tracked(c, r->objs[1], &err) : NULL;
	if (!s) {
		return err ? CW_HOOK_ERROR : CW_HOOK_FORWARD;
	}
	if (!cw_relay_create_objects(c, r)) {
		return CW_HOOK_ERROR;
	}
	if (!s->viewport) {
		/* A second viewport is the compositor's error to report (viewport_exists). */
		s->viewport = r->objs[0];
		s->viewport->hook_data = s;
	}
	return CW_HOOK_FORWARD;
}

static double fixed_to_double(int32_t f)
{
	return f / 256.0;
}

/* set_source(x f, y f, width f, height f); all -1 unsets it. */
enum cw_hook_result cw_hook_wp_viewport_req_set_source(struct cw_client *c, struct cw_relay *r)
{
	struct cw_surface *s = r->target->hook_data;
	if (s) {
		struct cw_viewport_state *vp = &s->pending_vp;
		const union cw_arg *a = r->msg.args;
		vp->has_src = !(a[0].i == -256 && a[1].i == -256 && a[2].i == -256 && a[3].i == -256);
		vp->src_x = fixed_to_double(a[0].i);
		vp->src_y = fixed_to_double(a[1].i);
		vp->src_w = fixed_to_double(a[2].i);
		vp->src_h = fixed_to_double(a[3].i);
	}
	return CW_HOOK_FORWARD;
}

/* set_destination(width i, height i); -1, -1 unsets it. */
enum cw_hook_result cw_hook_wp_viewport_req_set_destination(struct cw_client *c,
	struct cw_relay *r)
{
	struct cw_surface *s = r->target->hook_data;
	if (s) {
		struct cw_viewport_state *vp = &s->pending_vp;
		vp->has_dst = !(r->msg.args[0].i == -1 && r->msg.args[1].i == -1);
		vp->dst_w = r->msg.args[0].i;
		vp->dst_h = r->msg.args[1].i;
	}
	return CW_HOOK_FORWARD;
}

/* destroy(): the crop and scale go away at the next commit. */
enum cw_hook_result cw_hook_wp_viewport_req_destroy(struct cw_client *c, struct cw_relay *r)
{
	struct cw_surface *s = r->target->hook_data;
	if (s) {
		s->pending_vp.has_src = s->pending_vp.has_dst = false;
		s->viewport = NULL;
		r->target->hook_data = NULL;
	}
	return CW_HOOK_FORWARD;
}

/* add_buffer(buffer o, scale i): icons are never attached to a surface, so the copy is
 * made here, once: the protocol forbids changing the buffer afterwards. */
enum cw_hook_result cw_hook_xdg_toplevel_icon_v1_req_add_buffer(struct cw_client *c,
	struct cw_relay *r)
{
	struct cw_object *buf = r->objs[0];
	struct cw_guest_buffer *gb = buf && buf->local ? buf->hook_data : NULL;
	if (!gb) {
		return CW_HOOK_FORWARD;
	}
	if (!gb->icon) {
		if (!cw_relay_host_room(c, r, CW_SHADOW_CREATE_BYTES, 1)) {
			return CW_HOOK_BLOCKED;
		}
		gb->icon = cw_shadow_create(c, gb);
		pixman_region32_t none;
		pixman_region32_init(&none);
		bool ok = gb->icon && cw_shadow_fill(c, gb->icon, gb, &none);
		pixman_region32_fini(&none);
		if (!ok) {
			return CW_HOOK_ERROR;
		}
	}
	r->out_ids[0] = gb->icon->buffer->host_id;
	r->local_args = false;
	return CW_HOOK_FORWARD;
}
