/* Hooks for wl_shm, wl_shm_pool and wl_buffer in copy mode (--shm=copy, forced with
 * virtio-gpu): the app's pools and buffers become local objects, validated as
 * libwayland-server validates them, and never reach the compositor; wl_shm.format is
 * filtered to what crossway can shadow. In passthrough mode they are relayed as is. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/hooks.h"
#include "proxy/shadow.h"
#include "util/log.h"

static bool format_known(const struct cw_shm_client *cs, uint32_t format)
{
	if (format == 0 || format == 1) {
		return true; /* ARGB8888 and XRGB8888: every compositor must support them */
	}
	for (unsigned i = 0; i < cs->nformats; i++) {
		if (cs->formats[i] == format) {
			return true;
		}
	}
	return false;
}

/* format(format u) */
enum cw_hook_result cw_hook_wl_shm_evt_format(struct cw_client *c, struct cw_relay *r)
{
	if (!c->cfg->shm_copy) {
		return CW_HOOK_FORWARD;
	}
	uint32_t format = r->msg.args[0].u;
	if (r->target->own) {
		return CW_HOOK_DROP; /* the app released this wl_shm */
	}
	if (cw_shm_format_bpp(format) == 0) {
		cw_clog(c->id, CW_LOG_DEBUG, "hiding wl_shm format 0x%08x: crossway cannot shadow it",
			format);
		return CW_HOOK_DROP;
	}
	struct cw_shm_client *cs = cw_shm_client_get(c);
	if (!cs) {
		return CW_HOOK_ERROR;
	}
	if (!format_known(cs, format) && cs->nformats < CW_SHM_MAX_FORMATS) {
		cs->formats[cs->nformats++] = format;
	}
	return CW_HOOK_FORWARD;
}

/* create_pool(id n, fd h, size i) */
enum cw_hook_result cw_hook_wl_shm_req_create_pool(struct cw_client *c, struct cw_relay *r)
{
	if (!c->cfg->shm_copy) {
		return CW_HOOK_FORWARD;
	}
	struct cw_shm_client *cs = cw_shm_client_get(c);
	if (!cs) {
		return CW_HOOK_ERROR;
	}
	int fd;
	cw_conn_take_fds(&c->guest, 1, &fd);
	int32_t size = r->msg.args[2].i;
	if (size <= 0) {
		close(fd);
		cw_client_post_error(c, r->msg.hdr.id, CW_SHM_ERROR_INVALID_STRIDE,
			"invalid size (%d)", size);
		return CW_HOOK_ERROR;
	}
	struct cw_guest_pool *gp = calloc(1, sizeof(*gp));
	if (!gp) {
		close(fd);
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return CW_HOOK_ERROR;
	}
	int fd_num = fd;
	gp->pool = cw_shm_pool_create_take_fd(fd, (size_t)size);
	if (!gp->pool) {
		int e = errno;
		free(gp);
		cw_client_post_error(c, r->msg.hdr.id, CW_SHM_ERROR_INVALID_FD,
			"failed mmap fd %d: %s", fd_num, strerror(e));
		return CW_HOOK_ERROR;
	}
	const struct cw_iface *pool_iface = r->msg.desc->args[0].iface;
	gp->obj = cw_client_local_new(c, pool_iface, r->target->version, r->msg.args[0].u);
	if (!gp->obj) {
		cw_shm_pool_unref(gp->pool);
		free(gp);
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return CW_HOOK_ERROR;
	}
	gp->obj->hook_data = gp;
	cw_list_insert_tail(&cs->pools, &gp->link);
	cs->shm = r->target;
	return CW_HOOK_DROP;
}

/* release() (v2): crossway's shadows may still need this wl_shm on the host, so the
 * host keeps it as crossway's own and the app's id is retired here. */
enum cw_hook_result cw_hook_wl_shm_req_release(struct cw_client *c, struct cw_relay *r)
{
	if (!c->cfg->shm_copy || !c->shm || c->shm->shm != r->target) {
		return CW_HOOK_FORWARD;
	}
	struct cw_object *o = r->target;
	if (cw_client_send_delete_id(c, o->guest_id) < 0) {
		return CW_HOOK_BLOCKED;
	}
	cw_client_object_unmap_guest(c, o);
	o->own = true;
	return CW_HOOK_DROP;
}

/* create_buffer(id n, offset i, width i, height i, stride i, format u) */
enum cw_hook_result cw_hook_wl_shm_pool_req_create_buffer(struct cw_client *c,
	struct cw_relay *r)
{
	struct cw_guest_pool *gp = r->target->local ? r->target->hook_data : NULL;
	if (!gp) {
		return CW_HOOK_FORWARD; /* passthrough: the compositor checks */
	}
	struct cw_shm_client *cs = c->shm;
	uint32_t id = r->msg.hdr.id;
	int32_t offset = r->msg.args[1].i, width = r->msg.args[2].i, height = r->msg.args[3].i;
	int32_t stride = r->msg.args[4].i;
	uint32_t format = r->msg.args[5].u;
	uint32_t bpp = cw_shm_format_bpp(format);
	if (!format_known(cs, format) || bpp == 0) {
		cw_client_post_error(c, id, CW_SHM_ERROR_INVALID_FORMAT, "invalid format 0x%x",
			format);
		return CW_HOOK_ERROR;
	}
	/* libwayland-server's checks, plus a stride that holds a row of pixels: crossway
	 * copies width * bpp bytes per row. */
	size_t pool_size = cw_shm_pool_size(gp->pool);
	if (offset < 0 || width <= 0 || height <= 0 || stride < width ||
		INT32_MAX / stride <= height || (int64_t)width * bpp > stride ||
		(uint64_t)offset + (uint64_t)stride * (uint64_t)height > pool_size) {
		cw_client_post_error(c, id, CW_SHM_ERROR_INVALID_STRIDE,
			"invalid width, height or stride (%dx%d, %u)", width, height, (uint32_t)stride);
		return CW_HOOK_ERROR;
	}
	struct cw_guest_buffer *gb = calloc(1, sizeof(*gb));
	const struct cw_iface *buffer_iface = r->msg.desc->args[0].iface;
	struct cw_object *o = gb ? cw_client_local_new(c, buffer_iface, r->target->version,
		r->msg.args[0].u) : NULL;
	if (!o) {
		free(gb);
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return CW_HOOK_ERROR;
	}
	*gb = (struct cw_guest_buffer){ .obj = o, .pool = cw_shm_pool_ref(gp->pool),
		.offset = (uint32_t)offset, .width = (uint32_t)width, .height = (uint32_t)height,
		.stride = (uint32_t)stride, .format = format, .bpp = bpp };
	o->hook_data = gb;
	cw_list_insert_tail(&cs->buffers, &gb->link);
	return CW_HOOK_DROP;
}

/* resize(size i): pools only grow. */
enum cw_hook_result cw_hook_wl_shm_pool_req_resize(struct cw_client *c, struct cw_relay *r)
{
	struct cw_guest_pool *gp = r->target->local ? r->target->hook_data : NULL;
	if (!gp) {
		return CW_HOOK_FORWARD;
	}
	int32_t size = r->msg.args[0].i;
	if (size <= 0 || (size_t)size < cw_shm_pool_size(gp->pool)) {
		cw_client_post_error(c, r->msg.hdr.id, CW_SHM_ERROR_INVALID_FD,
			"shrinking pool invalid");
		return CW_HOOK_ERROR;
	}
	if ((size_t)size > cw_shm_pool_size(gp->pool) &&
		cw_shm_pool_resize(gp->pool, (size_t)size) < 0) {
		cw_client_post_error(c, r->msg.hdr.id, CW_SHM_ERROR_INVALID_FD,
			"failed to grow the pool to %d bytes: %s", size, strerror(errno));
		return CW_HOOK_ERROR;
	}
	return CW_HOOK_DROP;
}

/* destroy(): buffers made from the pool keep its memory. */
enum cw_hook_result cw_hook_wl_shm_pool_req_destroy(struct cw_client *c, struct cw_relay *r)
{
	struct cw_guest_pool *gp = r->target->local ? r->target->hook_data : NULL;
	if (!gp) {
		return CW_HOOK_FORWARD;
	}
	cw_shm_pool_unref(gp->pool);
	cw_list_remove(&gp->link);
	free(gp);
	cw_client_local_destroy(c, r->target);
	return CW_HOOK_DROP;
}

/* destroy() */
enum cw_hook_result cw_hook_wl_buffer_req_destroy(struct cw_client *c, struct cw_relay *r)
{
	struct cw_guest_buffer *gb = r->target->local ? r->target->hook_data : NULL;
	if (!gb) {
		return CW_HOOK_FORWARD;
	}
	if (gb->icon) {
		if (!cw_conn_out_reserve(&c->host, CW_SHADOW_DESTROY_BYTES, 0)) {
			return CW_HOOK_BLOCKED;
		}
		cw_shadow_destroy(c, gb->icon, true);
	}
	cw_surface_forget_buffer(c, gb);
	cw_shm_pool_unref(gb->pool);
	cw_list_remove(&gb->link);
	free(gb);
	cw_client_local_destroy(c, r->target);
	return CW_HOOK_DROP;
}

/* release(): for crossway's shadows, the compositor is done with one. */
enum cw_hook_result cw_hook_wl_buffer_evt_release(struct cw_client *c, struct cw_relay *r)
{
	if (!r->target->own) {
		return CW_HOOK_FORWARD;
	}
	struct cw_shadow *sh = r->target->hook_data;
	if (sh) {
		sh->busy = false;
		/* A commit waiting for a free shadow can go on. */
		c->guest_stalled = false;
		cw_shadow_flush_orphans(c);
	}
	return CW_HOOK_DROP;
}
