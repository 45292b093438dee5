/* Shadow buffers: crossway's own wl_buffers on the compositor side, each backed by
 * shm/ memory (a memfd, or a host blob with virtio-gpu), filled from the app's buffers
 * by damage-only copies. Also the per-client copy-mode state and its teardown. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/shadow.h"
#include "util/log.h"

struct cw_shm_client *cw_shm_client_get(struct cw_client *c)
{
	if (c->shm) {
		return c->shm;
	}
	struct cw_shm_client *cs = calloc(1, sizeof(*cs));
	if (!cs) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return NULL;
	}
	cw_list_init(&cs->pools);
	cw_list_init(&cs->buffers);
	cw_list_init(&cs->surfaces);
	cw_list_init(&cs->orphans);
	c->shm = cs;
	return cs;
}

void cw_shm_client_destroy(struct cw_client *c)
{
	struct cw_shm_client *cs = c->shm;
	if (!cs) {
		return;
	}
	struct cw_surface *s, *stmp;
	cw_list_for_each_safe(s, stmp, &cs->surfaces, link) {
		cw_surface_destroy(c, s, false);
	}
	struct cw_shadow *sh, *shtmp;
	cw_list_for_each_safe(sh, shtmp, &cs->orphans, link) {
		cw_shadow_destroy(c, sh, false);
	}
	struct cw_guest_buffer *gb, *gbtmp;
	cw_list_for_each_safe(gb, gbtmp, &cs->buffers, link) {
		if (gb->icon) {
			cw_shadow_destroy(c, gb->icon, false);
		}
		gb->obj->hook_data = NULL;
		cw_shm_pool_unref(gb->pool);
		cw_list_remove(&gb->link);
		free(gb);
	}
	struct cw_guest_pool *gp, *gptmp;
	cw_list_for_each_safe(gp, gptmp, &cs->pools, link) {
		gp->obj->hook_data = NULL;
		cw_shm_pool_unref(gp->pool);
		cw_list_remove(&gp->link);
		free(gp);
	}
	free(cs);
	c->shm = NULL;
}

bool cw_shadow_fits(const struct cw_shadow *sh, const struct cw_guest_buffer *gb)
{
	return sh->width == gb->width && sh->height == gb->height && sh->stride == gb->stride &&
		sh->format == gb->format;
}

struct cw_shadow *cw_shadow_create(struct cw_client *c, const struct cw_guest_buffer *gb)
{
	struct cw_shm_client *cs = c->shm;
	struct cw_object *shm = cs->shm;
	if (!shm || !shm->host_id) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_IMPLEMENTATION,
			"no wl_shm left to create shadow buffers with");
		return NULL;
	}
	struct cw_shadow *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return NULL;
	}
	cw_list_init(&sh->link);
	pixman_region32_init(&sh->missed);
	sh->width = gb->width;
	sh->height = gb->height;
	sh->stride = gb->stride;
	sh->format = gb->format;
	sh->bpp = gb->bpp;
	sh->fresh = true;
	size_t size = (size_t)gb->stride * gb->height;
	char why[320];
	if (cw_shm_mem_init(&sh->mem, c->gpu, size, why, sizeof(why)) < 0) {
		cw_clog(c->id, CW_LOG_ERROR, "cannot allocate a %ux%u shadow buffer: %s", gb->width,
			gb->height, why);
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY,
			"cannot allocate a %ux%u shadow buffer: %s", gb->width, gb->height, why);
		goto err;
	}
	/* The new_id interfaces come from the protocol tables: wl_shm.create_pool makes a
	 * wl_shm_pool, wl_shm_pool.create_buffer a wl_buffer. */
	const struct cw_iface *pool_iface = shm->iface->req[0].args[0].iface;
	const struct cw_iface *buffer_iface = pool_iface->req[0].args[0].iface;
	struct cw_object *pool = cw_client_own_new(c, pool_iface, shm->version);
	struct cw_object *buf = pool ? cw_client_own_new(c, buffer_iface, shm->version) : NULL;
	int fd = buf ? fcntl(sh->mem.fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0) {
		if (pool) {
			cw_client_object_unmap_host(c, pool);
			cw_client_object_release(c, pool);
		}
		if (buf) {
			cw_client_object_unmap_host(c, buf);
			cw_client_object_release(c, buf);
		}
		cw_client_post_error(c, 1, CW_DISPLAY_ERROR_NO_MEMORY, "out of memory (or fds)");
		cw_shm_mem_finish(&sh->mem, c->gpu);
		goto err;
	}
	union cw_arg create_pool[3] = { { .u = pool->host_id }, { .h = 0 }, { .i = (int32_t)size } };
	union cw_arg create_buffer[6] = { { .u = buf->host_id }, { .i = 0 },
		{ .i = (int32_t)gb->width }, { .i = (int32_t)gb->height },
		{ .i = (int32_t)gb->stride }, { .u = gb->format } };
	/* Room for all three was checked by the caller (CW_SHADOW_CREATE_BYTES). */
	cw_client_send_request(c, shm->host_id, shm->iface, 0, create_pool, &fd, 1);
	cw_client_send_request(c, pool->host_id, pool_iface, 0, create_buffer, NULL, 0);
	cw_client_send_request(c, pool->host_id, pool_iface, 1, NULL, NULL, 0);
	buf->hook_data = sh;
	sh->buffer = buf;
	return sh;
err:
	pixman_region32_fini(&sh->missed);
	free(sh);
	return NULL;
}

void cw_shadow_destroy(struct cw_client *c, struct cw_shadow *sh, bool tell_host)
{
	if (sh->buffer) {
		if (tell_host) {
			cw_client_send_request(c, sh->buffer->host_id, sh->buffer->iface, 0, NULL,
				NULL, 0);
		}
		sh->buffer->hook_data = NULL;
	}
	cw_shm_mem_finish(&sh->mem, c->gpu);
	pixman_region32_fini(&sh->missed);
	cw_list_remove(&sh->link);
	free(sh);
}

bool cw_shadow_fill(struct cw_client *c, struct cw_shadow *sh, struct cw_guest_buffer *gb,
	const pixman_region32_t *region)
{
	/* A fresh shadow gets everything, a filled one what it missed as well. */
	pixman_region32_t what;
	if (sh->fresh) {
		pixman_region32_init_rect(&what, 0, 0, gb->width, gb->height);
	} else {
		pixman_region32_init(&what);
		pixman_region32_union(&what, &sh->missed, region);
	}
	const uint8_t *base = cw_shm_pool_begin_access(gb->pool);
	struct cw_shm_image src = { (uint8_t *)base + gb->offset, gb->width, gb->height,
		gb->stride, gb->bpp };
	struct cw_shm_image dst = { sh->mem.map, sh->width, sh->height, sh->stride, sh->bpp };
	cw_shm_copy_region(&dst, &src, &what);
	bool ok = cw_shm_pool_end_access(gb->pool);
	pixman_region32_fini(&what);
	sh->fresh = false;
	pixman_region32_clear(&sh->missed);
	if (!ok) {
		/* As libwayland-server words it, on the buffer. */
		cw_client_post_error(c, gb->obj->guest_id, CW_SHM_ERROR_INVALID_FD,
			"error accessing SHM buffer");
	}
	return ok;
}

void cw_shadow_retire(struct cw_client *c, struct cw_shadow *sh)
{
	cw_list_remove(&sh->link);
	if (!sh->busy && cw_conn_out_reserve(&c->host, CW_SHADOW_DESTROY_BYTES, 0)) {
		cw_shadow_destroy(c, sh, true);
		return;
	}
	cw_list_insert_tail(&c->shm->orphans, &sh->link);
}

void cw_shadow_flush_orphans(struct cw_client *c)
{
	struct cw_shadow *sh, *tmp;
	cw_list_for_each_safe(sh, tmp, &c->shm->orphans, link) {
		if (!sh->busy && cw_conn_out_reserve(&c->host, CW_SHADOW_DESTROY_BYTES, 0)) {
			cw_shadow_destroy(c, sh, true);
		}
	}
}
