/* Object tables. Each connection side has its own id space; a cw_object pairs the
 * guest id and the host id of one protocol object. A cw_idmap maps the ids of one side
 * to objects: the client range (< 0xff000000) and the server range are kept apart,
 * like libwayland's wl_map. */
#ifndef CW_PROXY_OBJMAP_H
#define CW_PROXY_OBJMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/proto.h"

#define CW_MAX_OBJECTS (1u << 20) /* per side and range: bounds what a client can pin */

struct cw_object {
	const struct cw_iface *iface; /* borrowed: static protocol tables */
	uint32_t version;
	uint32_t guest_id; /* 0: not (or no longer) known to the guest */
	uint32_t host_id;  /* 0: not (or no longer) known to the host */
	/* The guest destroyed it (or the host sent a destructor event): requests on it are
	 * invalid, the guest id stays reserved until the host's delete_id. */
	bool guest_dead;
	/* The host side only tracks it to parse in-flight events, which are dropped. */
	bool host_zombie;
	/* Implemented by crossway on the guest side only (a guest wl_shm pool or buffer in
	 * copy mode): never known to the host, requests go to hooks alone. */
	bool local;
	/* Created by crossway on the host side (a shadow buffer): no guest counterpart,
	 * its events go to hooks alone. */
	bool own;
	void *hook_data; /* owned by the hook family that set it */
	struct cw_object *next_free; /* cw_objpool.free */
};

struct cw_idmap {
	struct cw_object **lo; /* owned array; entries borrowed from the pool */
	uint32_t nlo, caplo;
	struct cw_object **hi;
	uint32_t nhi, caphi;
	uint32_t *free_lo, nfree_lo, capfree_lo; /* ids we allocate (LIFO, like wl_map) */
	uint32_t *free_hi, nfree_hi, capfree_hi;
};

/* Objects are recycled through a free list so that a frame callback per frame costs no
 * allocation in steady state. */
struct cw_objpool {
	struct cw_object *free;
	uint32_t live;
};

void cw_idmap_init(struct cw_idmap *m);
void cw_idmap_finish(struct cw_idmap *m);

/* NULL if the id is unused. */
struct cw_object *cw_idmap_find(const struct cw_idmap *m, uint32_t id);

/* Inserts at an id chosen by the peer. Follows wl_map_reserve_new: the id must be free
 * and at most one past the highest id in use, so a peer cannot make us allocate
 * arbitrarily large tables. If replace is set, an occupied slot is overwritten (the
 * host reusing one of its server ids). Returns 0 or -1 (errno EINVAL or ENOMEM). */
int cw_idmap_insert_at(struct cw_idmap *m, uint32_t id, struct cw_object *obj, bool replace);

/* Allocates an id in the range we own (server range if server_range) for obj. Returns
 * the id, or 0 with errno ENOMEM. */
uint32_t cw_idmap_alloc(struct cw_idmap *m, bool server_range, struct cw_object *obj);

/* Frees the slot; an id in the range we allocate goes back to the free list. */
void cw_idmap_remove(struct cw_idmap *m, uint32_t id, bool ours);

/* Calls fn for every object of the map (each slot once). */
void cw_idmap_for_each(struct cw_idmap *m, void (*fn)(struct cw_object *obj, void *data),
	void *data);

struct cw_object *cw_objpool_get(struct cw_objpool *p);
void cw_objpool_put(struct cw_objpool *p, struct cw_object *obj);
void cw_objpool_finish(struct cw_objpool *p);

#endif
