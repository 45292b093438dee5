/* Copy mode's state, shared by the wl_shm hooks (hook_shm.c) and the surface hooks
 * (hook_surface.c): guest buffers backed by the app's mapped pools, and the shadow
 * buffers crossway creates on the compositor side and copies damage into. */
#ifndef CW_PROXY_SHADOW_H
#define CW_PROXY_SHADOW_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include "proxy/private.h"
#include "shm/shm.h"
#include "util/list.h"

/* wl_shm.error */
enum {
	CW_SHM_ERROR_INVALID_FORMAT = 0,
	CW_SHM_ERROR_INVALID_STRIDE = 1,
	CW_SHM_ERROR_INVALID_FD = 2,
};

#define CW_SHM_MAX_FORMATS 128

struct cw_shm_client {
	struct cw_list pools;    /* cw_guest_pool.link */
	struct cw_list buffers;  /* cw_guest_buffer.link */
	struct cw_list surfaces; /* cw_surface.link */
	struct cw_list orphans;  /* cw_shadow.link: retired, waiting for the compositor */
	/* The app's wl_shm, which crossway's shadow pools are created with. Borrowed: kept
	 * on the host as crossway's own when the app releases it. */
	struct cw_object *shm;
	uint32_t formats[CW_SHM_MAX_FORMATS]; /* advertised by the compositor and shadowable */
	unsigned nformats;
};

struct cw_guest_pool {
	struct cw_shm_pool *pool; /* owned reference */
	struct cw_object *obj;    /* borrowed: the app's wl_shm_pool (local) */
	struct cw_list link;      /* cw_shm_client.pools */
};

struct cw_shadow;

struct cw_guest_buffer {
	struct cw_object *obj;    /* borrowed: the app's wl_buffer (local) */
	struct cw_shm_pool *pool; /* owned reference */
	uint32_t offset, width, height, stride, format, bpp;
	struct cw_shadow *icon;   /* owned: the copy given to xdg_toplevel_icon_v1, or NULL */
	struct cw_list link;      /* cw_shm_client.buffers */
};

/* One of crossway's buffers on the compositor side. */
struct cw_shadow {
	struct cw_shm_mem mem;     /* owned */
	struct cw_object *buffer;  /* borrowed: crossway's own wl_buffer; the host's
				    * delete_id frees it after wl_buffer.destroy */
	uint32_t width, height, stride, format, bpp;
	pixman_region32_t missed;  /* buffer damage committed since it was last filled */
	bool busy;                 /* attached; the compositor has not released it */
	bool fresh;                /* never filled: the first copy is a full one */
	uint32_t filled_at;        /* cw_surface.copies when it was last filled */
	struct cw_list link;       /* cw_surface.shadows or cw_shm_client.orphans */
};

/* Double-buffered wp_viewport state. */
struct cw_viewport_state {
	bool has_src, has_dst;
	double src_x, src_y, src_w, src_h;
	int32_t dst_w, dst_h;
};

struct cw_surface {
	struct cw_object *obj;      /* borrowed: the app's wl_surface */
	struct cw_object *viewport; /* borrowed: its wp_viewport, or NULL */
	/* Pending state, applied by commit. */
	bool attached;                   /* attach since the last commit */
	struct cw_guest_buffer *pending; /* the shm buffer attached (NULL: another or none) */
	int32_t dx, dy;
	pixman_region32_t damage_surface, damage_buffer;
	int32_t pending_scale;
	uint32_t pending_transform;
	struct cw_viewport_state pending_vp;
	/* Committed state. */
	struct cw_guest_buffer *current; /* NULL: not an shm buffer of the app */
	int32_t scale;
	uint32_t transform;
	struct cw_viewport_state vp;
	struct cw_list shadows; /* cw_shadow.link */
	unsigned nshadows;
	uint32_t copies;        /* commits that filled a shadow */
	struct cw_list link;    /* cw_shm_client.surfaces */
};

/* The client's copy-mode state, created on first use; NULL (after posting an error) when
 * out of memory. */
struct cw_shm_client *cw_shm_client_get(struct cw_client *c);

/* Bytes (and fds) of requests one shadow creation queues on the host. */
#define CW_SHADOW_CREATE_BYTES 56
#define CW_SHADOW_DESTROY_BYTES 8

/* Creates a shadow for buffers like gb: allocates memory and queues wl_shm.create_pool,
 * create_buffer and the pool's destroy (the caller checked room). NULL after posting
 * an error to the app. */
struct cw_shadow *cw_shadow_create(struct cw_client *c, const struct cw_guest_buffer *gb);
/* Queues wl_buffer.destroy (if tell_host) and frees the shadow and its memory. */
void cw_shadow_destroy(struct cw_client *c, struct cw_shadow *sh, bool tell_host);
/* Whether sh can show gb (same size, stride and format). */
bool cw_shadow_fits(const struct cw_shadow *sh, const struct cw_guest_buffer *gb);
/* Copies region (or everything if the shadow is fresh) of gb into sh. Returns false
 * after posting an error (the app's file could not be read). */
bool cw_shadow_fill(struct cw_client *c, struct cw_shadow *sh, struct cw_guest_buffer *gb,
	const pixman_region32_t *region);
/* A retired shadow: destroyed now if the compositor released it, else when it does. */
void cw_shadow_retire(struct cw_client *c, struct cw_shadow *sh);
/* Destroys released orphans while host output has room. */
void cw_shadow_flush_orphans(struct cw_client *c);

/* The surface state of a wl_surface, created on first use; NULL after posting an
 * error. */
struct cw_surface *cw_surface_get(struct cw_client *c, struct cw_object *surface);
/* Frees a surface's state; with tell_host, queues the destroy of its shadows. */
void cw_surface_destroy(struct cw_client *c, struct cw_surface *s, bool tell_host);
/* A guest buffer is going away: surfaces forget it. */
void cw_surface_forget_buffer(struct cw_client *c, const struct cw_guest_buffer *gb);

#endif
