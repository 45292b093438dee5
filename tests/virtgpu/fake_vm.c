/* VM-wide state of the fake kernel: virtio-gpu resources (each backed by a memfd) and the
 * records of what the app holds on them (exported "dmabuf" fds, out-fence fds, mappings),
 * which the teardown of a context checks for leaks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/virtgpu/fake_common.h"

static pthread_mutex_t vm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cw_fake_obj *objs; /* owned */
static struct cw_fake_rec *recs; /* owned */
static unsigned nmaprecs;        /* MAP records, read without the lock by munmap */

void cw_fake_vm_lock(void)
{
	pthread_mutex_lock(&vm_lock);
}

void cw_fake_vm_unlock(void)
{
	pthread_mutex_unlock(&vm_lock);
}

struct cw_fake_obj *cw_fake_obj_create(uint32_t ctx_id, uint32_t blob_mem, uint32_t flags,
	uint64_t size, int fd_take, bool host_ok, bool writable)
{
	struct stat st;
	struct cw_fake_obj *o = calloc(1, sizeof(*o));
	if (!o || fstat(fd_take, &st) < 0) {
		free(o);
		cw_fake_fd_close(&fd_take);
		return NULL;
	}
	o->res_id = cw_fake_next_res_id();
	o->blob_mem = blob_mem;
	o->blob_flags = flags;
	o->size = size;
	o->fd = fd_take;
	o->host_ok = host_ok;
	o->writable = writable;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->ctx_id = ctx_id;
	cw_fake_vm_lock();
	o->next = objs;
	objs = o;
	cw_fake_vm_unlock();
	return o;
}

struct cw_fake_obj *cw_fake_obj_find_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		return NULL;
	}
	for (struct cw_fake_obj *o = objs; o; o = o->next) {
		if (o->dev == st.st_dev && o->ino == st.st_ino) {
			return o;
		}
	}
	return NULL;
}

struct cw_fake_obj *cw_fake_obj_find_res(uint32_t res_id)
{
	for (struct cw_fake_obj *o = objs; o; o = o->next) {
		if (o->res_id == res_id) {
			return o;
		}
	}
	return NULL;
}

void cw_fake_obj_unref(struct cw_fake_obj *o)
{
	if (--o->refs > 0) {
		return;
	}
	for (struct cw_fake_obj **p = &objs; *p; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			break;
		}
	}
	cw_fake_fd_close(&o->fd);
	free(o);
}

void cw_fake_rec_add(enum cw_fake_rec_kind kind, int fd, void *addr, size_t len,
	struct cw_fake_obj *obj, uint32_t ctx_id)
{
	struct stat st;
	struct cw_fake_rec *r = calloc(1, sizeof(*r));
	if (!r) {
		return; /* only leak checking suffers */
	}
	r->kind = kind;
	r->fd = fd;
	r->addr = addr;
	r->len = len;
	r->obj = obj;
	r->ctx_id = ctx_id;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		r->dev = st.st_dev;
		r->ino = st.st_ino;
	} else if (obj) {
		r->dev = obj->dev;
		r->ino = obj->ino;
	}
	cw_fake_vm_lock();
	if (obj) {
		obj->refs++;
	}
	r->next = recs;
	recs = r;
	if (kind == CW_FAKE_REC_MAP) {
		__atomic_add_fetch(&nmaprecs, 1, __ATOMIC_RELAXED);
	}
	cw_fake_vm_unlock();
}

/* vm_lock held */
static void rec_remove(struct cw_fake_rec **link)
{
	struct cw_fake_rec *r = *link;
	*link = r->next;
	if (r->kind == CW_FAKE_REC_MAP) {
		__atomic_sub_fetch(&nmaprecs, 1, __ATOMIC_RELAXED);
	}
	if (r->obj) {
		cw_fake_obj_unref(r->obj);
	}
	free(r);
}

void cw_fake_rec_fd_closed(int fd)
{
	cw_fake_vm_lock();
	for (struct cw_fake_rec **p = &recs; *p; p = &(*p)->next) {
		if ((*p)->kind != CW_FAKE_REC_MAP && (*p)->fd == fd) {
			rec_remove(p);
			break;
		}
	}
	cw_fake_vm_unlock();
}

void cw_fake_rec_fd_dup(int oldfd, int newfd)
{
	struct cw_fake_rec *found = NULL;
	cw_fake_vm_lock();
	for (struct cw_fake_rec *r = recs; r; r = r->next) {
		if (r->kind != CW_FAKE_REC_MAP && r->fd == oldfd) {
			found = r;
			break;
		}
	}
	struct cw_fake_rec copy = found ? *found : (struct cw_fake_rec){ 0 };
	cw_fake_vm_unlock();
	if (found) {
		cw_fake_rec_add(copy.kind, newfd, NULL, 0, copy.obj, copy.ctx_id);
	}
}

void cw_fake_rec_unmapped(void *addr, size_t len)
{
	if (__atomic_load_n(&nmaprecs, __ATOMIC_RELAXED) == 0) {
		return;
	}
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	cw_fake_vm_lock();
	for (struct cw_fake_rec **p = &recs; *p;) {
		uintptr_t a = (uintptr_t)(*p)->addr;
		if ((*p)->kind == CW_FAKE_REC_MAP && a >= lo && a + (*p)->len <= hi) {
			rec_remove(p);
		} else {
			p = &(*p)->next;
		}
	}
	cw_fake_vm_unlock();
}

struct map_range {
	uintptr_t lo, hi;
	ino_t ino;
};

/* The file-backed mappings of this process, from /proc/self/maps. */
static struct map_range *read_maps(size_t *n)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	struct map_range *v = NULL;
	size_t cap = 0;
	char line[512];
	*n = 0;
	if (!fp) {
		return NULL;
	}
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi, ino;
		if (sscanf(line, "%lx-%lx %*s %*x %*x:%*x %lu", &lo, &hi, &ino) != 3 || !ino) {
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			struct map_range *nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				break;
			}
			v = nv;
		}
		v[(*n)++] = (struct map_range){ lo, hi, (ino_t)ino };
	}
	fclose(fp);
	return v;
}

static bool still_mapped(const struct cw_fake_rec *r, const struct map_range *m, size_t n)
{
	uintptr_t lo = (uintptr_t)r->addr, hi = lo + r->len;
	for (size_t i = 0; i < n; i++) {
		if (m[i].ino == r->ino && m[i].lo < hi && lo < m[i].hi) {
			return true;
		}
	}
	return false;
}

static bool still_open(const struct cw_fake_rec *r)
{
	struct stat st;
	return fstat(r->fd, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino;
}

/* Counts what the app still holds from context ctx_id; records of things it released
 * behind our back (munmap, close_range, exec) are dropped. Reports each live one as a
 * LEAK if asked. Returns the number of live records. */
unsigned cw_fake_rec_check(uint32_t ctx_id, bool report, unsigned *nfds, unsigned *nmaps)
{
	size_t nm;
	struct map_range *maps = read_maps(&nm);
	*nfds = *nmaps = 0;
	cw_fake_vm_lock();
	for (struct cw_fake_rec **p = &recs; *p;) {
		struct cw_fake_rec *r = *p;
		bool live;
		if (r->ctx_id != ctx_id) {
			p = &r->next;
			continue;
		}
		live = r->kind == CW_FAKE_REC_MAP ? still_mapped(r, maps, nm) : still_open(r);
		if (!live) {
			rec_remove(p);
			continue;
		}
		if (r->kind == CW_FAKE_REC_MAP) {
			(*nmaps)++;
			if (report) {
				cw_fake_leak(ctx_id,
					"resource %u is still mapped (%zu bytes at %p) when its "
					"context closes; a real kernel keeps the context alive "
					"until munmap", r->obj->res_id, r->len, r->addr);
			}
		} else {
			(*nfds)++;
			if (report && r->kind == CW_FAKE_REC_EXPORT) {
				cw_fake_leak(ctx_id,
					"exported fd %d of resource %u is still open when its "
					"context closes", r->fd, r->obj->res_id);
			} else if (report) {
				cw_fake_leak(ctx_id,
					"out-fence fd %d is still open when its context closes",
					r->fd);
			}
		}
		p = &r->next;
	}
	cw_fake_vm_unlock();
	free(maps);
	return *nfds + *nmaps;
}

/* The obj behind an exported fd, with a reference for the caller, or NULL. */
struct cw_fake_obj *cw_fake_rec_obj(int fd)
{
	struct cw_fake_obj *o = NULL;
	cw_fake_vm_lock();
	for (struct cw_fake_rec *r = recs; r; r = r->next) {
		if (r->kind == CW_FAKE_REC_EXPORT && r->fd == fd) {
			o = r->obj;
			o->refs++;
			break;
		}
	}
	cw_fake_vm_unlock();
	return o;
}

/* In a forked child, vm_lock held: the objects belong to the parent's contexts. Their
 * fds are internal and get closed by the caller; free the rest. */
void cw_fake_vm_forget_all(void)
{
	while (recs) {
		struct cw_fake_rec *r = recs;
		recs = r->next;
		free(r);
	}
	nmaprecs = 0;
	while (objs) {
		struct cw_fake_obj *o = objs;
		objs = o->next;
		free(o);
	}
}
