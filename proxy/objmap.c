/* Id tables: two growable arrays per side (client and server ranges) and free lists
 * for the ids crossway itself hands out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/objmap.h"
#include "proxy/wire.h"

void cw_idmap_init(struct cw_idmap *m)
{
	*m = (struct cw_idmap){ 0 };
}

void cw_idmap_finish(struct cw_idmap *m)
{
	free(m->lo);
	free(m->hi);
	free(m->free_lo);
	free(m->free_hi);
	*m = (struct cw_idmap){ 0 };
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap) {
		return 0;
	}
	if (need > CW_MAX_OBJECTS) {
		errno = ENOMEM;
		return -1;
	}
	uint32_t ncap = *cap ? *cap : 64;
	while (ncap < need) {
		ncap *= 2;
	}
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}

struct cw_object *cw_idmap_find(const struct cw_idmap *m, uint32_t id)
{
	if (id < CW_SERVER_ID_START) {
		return id < m->nlo ? m->lo[id] : NULL;
	}
	id -= CW_SERVER_ID_START;
	return id < m->nhi ? m->hi[id] : NULL;
}

int cw_idmap_insert_at(struct cw_idmap *m, uint32_t id, struct cw_object *obj, bool replace)
{
	bool hi = id >= CW_SERVER_ID_START;
	uint32_t i = hi ? id - CW_SERVER_ID_START : id;
	struct cw_object ***arr = hi ? &m->hi : &m->lo;
	uint32_t *n = hi ? &m->nhi : &m->nlo;
	uint32_t *cap = hi ? &m->caphi : &m->caplo;

	if (!hi && *n == 0) {
		/* Slot 0 of the client range is id 0, never valid. */
		if (grow((void **)arr, cap, 1, sizeof(**arr)) < 0) {
			return -1;
		}
		*n = 1;
	}
	if (id == 0 || i > *n) {
		errno = EINVAL;
		return -1;
	}
	if (i == *n) {
		if (grow((void **)arr, cap, *n + 1, sizeof(**arr)) < 0) {
			return -1;
		}
		(*n)++;
	} else if ((*arr)[i] && !replace) {
		errno = EINVAL;
		return -1;
	}
	(*arr)[i] = obj;
	return 0;
}

uint32_t cw_idmap_alloc(struct cw_idmap *m, bool server_range, struct cw_object *obj)
{
	struct cw_object ***arr = server_range ? &m->hi : &m->lo;
	uint32_t *n = server_range ? &m->nhi : &m->nlo;
	uint32_t *cap = server_range ? &m->caphi : &m->caplo;
	uint32_t **fl = server_range ? &m->free_hi : &m->free_lo;
	uint32_t *nfl = server_range ? &m->nfree_hi : &m->nfree_lo;
	uint32_t base = server_range ? CW_SERVER_ID_START : 0;
	uint32_t i;

	if (*nfl) {
		i = (*fl)[--*nfl];
	} else {
		/* Slot 0 of the client range is id 0, never valid. */
		if (!server_range && *n == 0) {
			if (grow((void **)arr, cap, 1, sizeof(**arr)) < 0) {
				return 0;
			}
			*n = 1;
		}
		if (grow((void **)arr, cap, *n + 1, sizeof(**arr)) < 0) {
			return 0;
		}
		i = (*n)++;
	}
	(*arr)[i] = obj;
	return base + i;
}

void cw_idmap_remove(struct cw_idmap *m, uint32_t id, bool ours)
{
	bool hi = id >= CW_SERVER_ID_START;
	uint32_t i = hi ? id - CW_SERVER_ID_START : id;
	struct cw_object **arr = hi ? m->hi : m->lo;
	uint32_t n = hi ? m->nhi : m->nlo;

	if (id == 0 || i >= n || !arr[i]) {
		return;
	}
	arr[i] = NULL;
	if (!ours) {
		return;
	}
	uint32_t **fl = hi ? &m->free_hi : &m->free_lo;
	uint32_t *nfl = hi ? &m->nfree_hi : &m->nfree_lo;
	uint32_t *capfl = hi ? &m->capfree_hi : &m->capfree_lo;
	/* The free list never holds more entries than the table has slots, which grow()
	 * already bounded; if it cannot grow, the id is simply not reused. */
	if (grow((void **)fl, capfl, *nfl + 1, sizeof(**fl)) == 0) {
		(*fl)[(*nfl)++] = i;
	}
}

void cw_idmap_for_each(struct cw_idmap *m, void (*fn)(struct cw_object *obj, void *data),
	void *data)
{
	for (uint32_t i = 0; i < m->nlo; i++) {
		if (m->lo[i]) {
			fn(m->lo[i], data);
		}
	}
	for (uint32_t i = 0; i < m->nhi; i++) {
		if (m->hi[i]) {
			fn(m->hi[i], data);
		}
	}
}

struct cw_object *cw_objpool_get(struct cw_objpool *p)
{
	struct cw_object *obj = p->free;
	if (obj) {
		p->free = obj->next_free;
	} else {
		obj = malloc(sizeof(*obj));
		if (!obj) {
			return NULL;
		}
	}
	*obj = (struct cw_object){ 0 };
	p->live++;
	return obj;
}

void cw_objpool_put(struct cw_objpool *p, struct cw_object *obj)
{
	if (!obj) {
		return;
	}
	obj->next_free = p->free;
	p->free = obj;
	p->live--;
}

void cw_objpool_finish(struct cw_objpool *p)
{
	while (p->free) {
		struct cw_object *o = p->free;
		p->free = o->next_free;
		free(o);
	}
}
