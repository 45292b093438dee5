/* The fake guest kernel for one open render node (docs/cross-domain.md 18.2): version,
 * parameters, capset, context init, blobs, GEM handles, PRIME and mmap, plus the leak
 * checks and the summary line at teardown. Execbuffer and fences are in fake_submit.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

#define DRM_CLOEXEC_RDWR (O_CLOEXEC | O_RDWR)

static uint64_t page_round(uint64_t n, uint64_t page)
{
	return (n + page - 1) / page * page;
}

struct cw_fake_file *cw_fake_file_create(int ev_rd, int ev_wr)
{
	pthread_condattr_t ca;
	struct cw_fake_file *f = calloc(1, sizeof(*f));
	if (!f) {
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	f->ev_rd = ev_rd;
	f->ev_wr = ev_wr;
	f->next_seq = 1;
	return f;
}

struct cw_fake_handle *cw_fake_file_handle(struct cw_fake_file *f, uint32_t h)
{
	if (h == 0 || h >= f->nhandles || !f->handles[h].obj) {
		return NULL;
	}
	return &f->handles[h];
}

static uint32_t handle_of(struct cw_fake_file *f, const struct cw_fake_obj *o)
{
	for (uint32_t h = 1; h < f->nhandles; h++) {
		if (f->handles[h].obj == o) {
			return h;
		}
	}
	return 0;
}

/* A new GEM handle for o: the lowest free number >= 1, as the kernel's idr gives. */
static uint32_t handle_add(struct cw_fake_file *f, struct cw_fake_obj *o)
{
	uint32_t h = 1;
	while (h < f->nhandles && f->handles[h].obj) {
		h++;
	}
	if (h >= f->nhandles) {
		uint32_t n = f->nhandles ? f->nhandles * 2 : 16;
		struct cw_fake_handle *nh = realloc(f->handles, n * sizeof(*nh));
		if (!nh) {
			return 0;
		}
		memset(nh + f->nhandles, 0, (n - f->nhandles) * sizeof(*nh));
		f->handles = nh;
		f->nhandles = n;
	}
	cw_fake_vm_lock();
	o->refs++;
	cw_fake_vm_unlock();
	f->handles[h].obj = o;
	f->handles[h].nbusy = 0;
	/* Creating a handle attaches the resource to the context. */
	if (f->host && o->host_ok) {
		cw_fake_host_attach(f->host, o);
	}
	return h;
}

static void handle_remove(struct cw_fake_file *f, uint32_t h)
{
	struct cw_fake_handle *e = &f->handles[h];
	if (f->host) {
		cw_fake_host_detach(f->host, e->obj->res_id);
	}
	cw_fake_vm_lock();
	cw_fake_obj_unref(e->obj);
	cw_fake_vm_unlock();
	free(e->busy);
	*e = (struct cw_fake_handle){ 0 };
}

/* Creates the context on first use: explicitly by CONTEXT_INIT, or implicitly (a default
 * virgl context) by the first blob, import or execbuffer, as the kernel does. */
void cw_fake_file_context(struct cw_fake_file *f, bool explicit_init)
{
	if (f->ctx_id) {
		return;
	}
	f->ctx_id = cw_fake_next_ctx_id();
	f->ctx_explicit = explicit_init;
	if (f->capset == CW_XD_CAPSET_ID) {
		f->host = cw_fake_host_create(f);
	}
	cw_fake_report("context %u created: capset %u, %s (pid %d)", f->ctx_id, f->capset,
		explicit_init ? "CONTEXT_INIT" : "implicit", (int)getpid());
}

static void implicit_context(struct cw_fake_file *f, const char *what)
{
	if (f->ctx_id) {
		return;
	}
	cw_fake_file_context(f, false);
	cw_fake_violation(f->ctx_id, "%s before CONTEXT_INIT: the kernel created a default "
		"context, so CONTEXT_INIT will now fail with EEXIST", what);
}

/* ---- ioctls without file state ---- */

static void copy_field(size_t *len, char *buf, const char *value)
{
	size_t n = strlen(value);
	if (buf && *len) {
		memcpy(buf, value, n < *len ? n : *len);
	}
	*len = n;
}

static int do_version(struct cw_fake_drm_version *v)
{
	v->version_major = 0;
	v->version_minor = 1;
	v->version_patchlevel = 0;
	copy_field(&v->name_len, v->name, "virtio_gpu");
	copy_field(&v->date_len, v->date, "0");
	copy_field(&v->desc_len, v->desc, "virtio GPU");
	return 0;
}

static int do_getparam(struct cw_virtgpu_getparam *p)
{
	int value;
	if (p->param >= CW_FAKE_MAX_PARAM || cw_fake_param_get((unsigned)p->param, &value) < 0) {
		return -EINVAL;
	}
	if (!p->value) {
		return -EFAULT;
	}
	*(int *)(uintptr_t)p->value = value; /* the kernel writes an int, not 64 bits */
	return 0;
}

static uint32_t capset_mask(void)
{
	int mask;
	return cw_fake_param_get(CW_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS, &mask) < 0 ? 0 :
										     (uint32_t)mask;
}

static int do_get_caps(struct cw_virtgpu_get_caps *c)
{
	struct cw_xd_caps caps = { .version = 1 };
	uint32_t mask = capset_mask();
	if (!mask) {
		return -ENOSYS;
	}
	if (c->size == 0 || c->cap_set_id >= 32 || !(mask & (1u << c->cap_set_id)) ||
		c->cap_set_ver > 0) {
		return -EINVAL;
	}
	if (!c->addr) {
		return -EFAULT;
	}
	caps.supported_channels = cw_fake_cfg.channels;
	if (cw_fake_cfg.channels_bug && caps.supported_channels) {
		/* "=" instead of "|=": only the last configured channel survives. */
		caps.supported_channels = 1u << (31 - __builtin_clz(caps.supported_channels));
	}
	if (c->cap_set_id != CW_XD_CAPSET_ID) {
		memset(&caps, 0, sizeof(caps)); /* a capset we do not model */
	}
	memcpy((void *)(uintptr_t)c->addr, &caps, c->size < sizeof(caps) ? c->size : sizeof(caps));
	return 0;
}

bool cw_fake_ioctl_is_stateless(uint32_t req)
{
	return req == CW_IOCTL_DRM_VERSION || req == CW_IOCTL_VIRTGPU_GETPARAM ||
		req == CW_IOCTL_VIRTGPU_GET_CAPS;
}

/* ---- context init (section 7) ---- */

static int do_context_init(struct cw_fake_file *f, struct cw_virtgpu_context_init *ci)
{
	const struct cw_virtgpu_context_set_param *p =
		(const void *)(uintptr_t)ci->ctx_set_params;

	if (!cw_fake_param_is(CW_VIRTGPU_PARAM_3D_FEATURES, 1) ||
		!cw_fake_param_is(CW_VIRTGPU_PARAM_CONTEXT_INIT, 1)) {
		return -EINVAL;
	}
	if (ci->num_params == 0 || ci->num_params > 3) {
		return -EINVAL;
	}
	if (!p) {
		return -EFAULT;
	}
	if (f->ctx_id) {
		return -EEXIST;
	}
	/* Like the kernel, apply parameters as they come: a failed call leaves them set. */
	for (uint32_t i = 0; i < ci->num_params; i++) {
		uint64_t v = p[i].value;
		switch (p[i].param) {
		case CW_VIRTGPU_CONTEXT_PARAM_CAPSET_ID:
			if (v == 0 || v >= 32 || !(capset_mask() & (1u << v)) || f->capset) {
				return -EINVAL;
			}
			f->capset = (uint32_t)v;
			break;
		case CW_VIRTGPU_CONTEXT_PARAM_NUM_RINGS:
			if (f->num_rings || v > CW_FAKE_MAX_RINGS) {
				return -EINVAL;
			}
			f->num_rings = (uint32_t)v;
			break;
		case CW_VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK:
			if (f->poll_mask) {
				return -EINVAL;
			}
			f->poll_mask = (uint32_t)v;
			break;
		default:
			return -EINVAL;
		}
	}
	if (f->poll_mask) {
		uint64_t valid = f->num_rings >= 64 ? ~0ull : (1ull << f->num_rings) - 1;
		if (f->poll_mask & ~valid) {
			return -EINVAL;
		}
	}
	cw_fake_file_context(f, true);
	if (f->capset != CW_XD_CAPSET_ID) {
		cw_fake_violation(f->ctx_id, "CONTEXT_INIT with capset %u, not cross-domain (5)",
			f->capset);
	}
	if (f->poll_mask != 1u << CW_XD_RING_CHANNEL) {
		cw_fake_violation(f->ctx_id, "CONTEXT_INIT with poll ring mask 0x%x; it must be "
			"0x2 so that only channel replies raise events", f->poll_mask);
	}
	return 0;
}

/* ---- blobs ---- */

static int new_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -1;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return cw_fake_fd_own(fd);
}

static int do_create_blob(struct cw_fake_file *f, struct cw_virtgpu_create_blob *cb)
{
	bool host3d = cb->blob_mem == CW_VIRTGPU_BLOB_MEM_HOST3D ||
		cb->blob_mem == CW_VIRTGPU_BLOB_MEM_HOST3D_GUEST;
	bool host_ok = true, writable = true;
	int fd = -1;

	if (!cw_fake_param_is(CW_VIRTGPU_PARAM_RESOURCE_BLOB, 1)) {
		return -EINVAL;
	}
	if (cb->blob_flags & ~0x7u) {
		return -EINVAL;
	}
	if ((cb->blob_flags & CW_VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE) &&
		!cw_fake_param_is(CW_VIRTGPU_PARAM_CROSS_DEVICE, 1)) {
		return -EINVAL;
	}
	if (cb->blob_mem == CW_VIRTGPU_BLOB_MEM_GUEST) {
		if (cb->blob_id || cb->cmd_size) {
			return -EINVAL;
		}
	} else if (host3d) {
		if (!cw_fake_param_is(CW_VIRTGPU_PARAM_3D_FEATURES, 1) || cb->cmd_size % 4) {
			return -EINVAL;
		}
		if ((cb->blob_flags & CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE) &&
			!cw_fake_param_is(CW_VIRTGPU_PARAM_HOST_VISIBLE, 1)) {
			return -EINVAL;
		}
	} else {
		return -EINVAL;
	}
	if (cb->size == 0) {
		return -EINVAL;
	}
	uint64_t size = page_round(cb->size, cw_fake_cfg.guest_page);
	implicit_context(f, "RESOURCE_CREATE_BLOB");

	if (host3d && cb->cmd_size && cb->cmd && f->host) {
		/* The kernel submits the attached command before creating the blob. */
		cw_fake_host_submit(f->host, (const uint8_t *)(uintptr_t)cb->cmd, cb->cmd_size,
			&(struct cw_fake_submit){ 0 });
	}
	if (cb->blob_mem == CW_VIRTGPU_BLOB_MEM_GUEST) {
		fd = new_memfd("cw-fakegpu-guest", size);
	} else if (cb->blob_mem == CW_VIRTGPU_BLOB_MEM_HOST3D && f->host) {
		fd = cw_fake_host_create_blob(f->host, size, cb->blob_id, &writable);
	} else {
		cw_fake_debug("context %u: host3d blob on a context without a cross-domain host "
			"model: the host refuses it", f->ctx_id);
	}
	if (fd < 0 && cb->blob_mem == CW_VIRTGPU_BLOB_MEM_GUEST) {
		return -ENOMEM;
	}
	if (fd < 0) {
		/* The ioctl succeeds anyway: creation is asynchronous on a real VM. A 0-byte
		 * placeholder gives the object an identity for PRIME. */
		host_ok = false;
		fd = new_memfd("cw-fakegpu-failed", 0);
		if (fd < 0) {
			return -ENOMEM;
		}
	}
	struct cw_fake_obj *o = cw_fake_obj_create(f->ctx_id, cb->blob_mem, cb->blob_flags, size,
		fd, host_ok, writable);
	if (!o) {
		return -ENOMEM;
	}
	cw_fake_vm_lock();
	o->refs++; /* held across handle_add */
	cw_fake_vm_unlock();
	uint32_t h = handle_add(f, o);
	cw_fake_vm_lock();
	cw_fake_obj_unref(o);
	cw_fake_vm_unlock();
	if (!h) {
		return -ENOMEM;
	}
	cb->bo_handle = h;
	cb->res_handle = o->res_id;
	f->nblobs++;
	cw_fake_debug("context %u: blob mem %u flags 0x%x size %llu -> handle %u res %u%s",
		f->ctx_id, cb->blob_mem, cb->blob_flags, (unsigned long long)size, h, o->res_id,
		host_ok ? "" : " (failed on the host)");
	return 0;
}

static int do_map(struct cw_fake_file *f, struct cw_virtgpu_map *m)
{
	struct cw_fake_handle *e = cw_fake_file_handle(f, m->handle);
	if (!e) {
		return -ENOENT;
	}
	m->offset = (uint64_t)e->obj->res_id << 32; /* our fake mmap offset: res id, high bits */
	return 0;
}

static int do_resource_info(struct cw_fake_file *f, struct cw_virtgpu_resource_info *ri)
{
	struct cw_fake_handle *e = cw_fake_file_handle(f, ri->bo_handle);
	if (!e) {
		return -ENOENT;
	}
	ri->res_handle = e->obj->res_id;
	ri->size = (uint32_t)e->obj->size;
	ri->blob_mem = e->obj->blob_mem;
	return 0;
}

static int do_gem_close(struct cw_fake_file *f, struct cw_drm_gem_close *gc)
{
	if (!cw_fake_file_handle(f, gc->handle)) {
		return -EINVAL;
	}
	handle_remove(f, gc->handle);
	return 0;
}

static int do_handle_to_fd(struct cw_fake_file *f, struct cw_drm_prime_handle *ph)
{
	if (ph->flags & ~(uint32_t)DRM_CLOEXEC_RDWR) {
		return -EINVAL;
	}
	struct cw_fake_handle *e = cw_fake_file_handle(f, ph->handle);
	if (!e) {
		return -ENOENT;
	}
	int fd = cw_fake_real.fcntl(e->obj->fd, (ph->flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD,
		0);
	if (fd < 0) {
		return -errno;
	}
	if (fd >= CW_FAKE_FD_CAP) {
		cw_fake_real.close(fd);
		return -EMFILE;
	}
	cw_fake_fd_set(fd, CW_FAKE_FD_EXPORT);
	cw_fake_rec_add(CW_FAKE_REC_EXPORT, fd, NULL, 0, e->obj, f->ctx_id);
	ph->fd = fd;
	f->nexports++;
	return 0;
}

static int do_fd_to_handle(struct cw_fake_file *f, struct cw_drm_prime_handle *ph)
{
	cw_fake_vm_lock();
	struct cw_fake_obj *o = cw_fake_obj_find_fd(ph->fd);
	if (o) {
		o->refs++;
	}
	cw_fake_vm_unlock();
	if (!o) {
		/* Not a dmabuf of ours (a memfd, a pipe, another device's buffer). */
		return cw_fake_real.fcntl(ph->fd, F_GETFD) < 0 ? -EBADF : -EINVAL;
	}
	uint32_t h = handle_of(f, o);
	if (!h) {
		implicit_context(f, "PRIME_FD_TO_HANDLE");
		h = handle_add(f, o);
	}
	cw_fake_vm_lock();
	cw_fake_obj_unref(o);
	cw_fake_vm_unlock();
	if (!h) {
		return -ENOMEM;
	}
	ph->handle = h;
	f->nimports++;
	return 0;
}

int cw_fake_file_ioctl(struct cw_fake_file *f, uint32_t req, void *arg)
{
	int r;
	if (!arg) {
		return -EFAULT;
	}
	switch (req) {
	case CW_IOCTL_DRM_VERSION:
		return do_version(arg);
	case CW_IOCTL_VIRTGPU_GETPARAM:
		return do_getparam(arg);
	case CW_IOCTL_VIRTGPU_GET_CAPS:
		return do_get_caps(arg);
	default:
		break;
	}
	pthread_mutex_lock(&f->lock);
	switch (req) {
	case CW_IOCTL_VIRTGPU_CONTEXT_INIT:
		r = do_context_init(f, arg);
		break;
	case CW_IOCTL_VIRTGPU_CREATE_BLOB:
		r = do_create_blob(f, arg);
		break;
	case CW_IOCTL_VIRTGPU_MAP:
		r = do_map(f, arg);
		break;
	case CW_IOCTL_VIRTGPU_RESOURCE_INFO:
		r = do_resource_info(f, arg);
		break;
	case CW_IOCTL_GEM_CLOSE:
		r = do_gem_close(f, arg);
		break;
	case CW_IOCTL_PRIME_HANDLE_TO_FD:
		r = do_handle_to_fd(f, arg);
		break;
	case CW_IOCTL_PRIME_FD_TO_HANDLE:
		r = do_fd_to_handle(f, arg);
		break;
	case CW_IOCTL_VIRTGPU_EXECBUFFER:
		r = cw_fake_execbuffer(f, arg);
		break;
	case CW_IOCTL_VIRTGPU_WAIT:
		r = cw_fake_wait(f, arg);
		break;
	default:
		cw_fake_debug("unknown DRM ioctl 0x%08x: EINVAL", req);
		r = -EINVAL;
		break;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* ---- mmap ---- */

/* The kernel's rules for mapping len bytes at inner of o (0 or an errno). */
static int map_check(const struct cw_fake_obj *o, size_t len, uint64_t inner)
{
	uint64_t span = page_round(len, cw_fake_cfg.guest_page);
	if (o->blob_mem == CW_VIRTGPU_BLOB_MEM_GUEST) {
		return inner + span <= o->size ? 0 : EINVAL;
	}
	if (!o->host_ok || !(o->blob_flags & CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE)) {
		return EINVAL;
	}
	if (!cw_fake_cfg.partial_mmap && (inner != 0 || span != o->size)) {
		return EINVAL; /* kernels before 2025 map host blobs whole or not at all */
	}
	return inner + span <= o->size ? 0 : EINVAL;
}

static void *map_obj(struct cw_fake_obj *o, void *addr, size_t len, int prot, int flags,
	int fd, uint64_t inner, uint32_t ctx_id, int *err)
{
	void *p = cw_fake_real.mmap(addr, len, prot, flags, fd, (off_t)inner);
	if (p == MAP_FAILED && (errno == EACCES || errno == EPERM) && (prot & PROT_WRITE) &&
		!o->writable) {
		/* The host maps a sealed or read-only fd read-only. */
		p = cw_fake_real.mmap(addr, len, prot & ~PROT_WRITE, flags, fd, (off_t)inner);
	}
	if (p == MAP_FAILED) {
		*err = errno;
		return p;
	}
	cw_fake_rec_add(CW_FAKE_REC_MAP, -1, p, len, o, ctx_id);
	return p;
}

void *cw_fake_file_mmap(struct cw_fake_file *f, void *addr, size_t len, int prot, int flags,
	off_t off, int *err)
{
	uint32_t res = (uint32_t)((uint64_t)off >> 32);
	uint64_t inner = (uint64_t)off & 0xffffffffu;
	struct cw_fake_obj *o = NULL;
	void *p = MAP_FAILED;

	pthread_mutex_lock(&f->lock);
	for (uint32_t h = 1; h < f->nhandles; h++) {
		if (f->handles[h].obj && f->handles[h].obj->res_id == res) {
			o = f->handles[h].obj;
		}
	}
	if (!o) {
		cw_fake_vm_lock();
		*err = cw_fake_obj_find_res(res) ? EACCES : EINVAL;
		cw_fake_vm_unlock();
	} else if ((*err = map_check(o, len, inner)) == 0) {
		if ((flags & MAP_TYPE) != MAP_SHARED) {
			cw_fake_violation(f->ctx_id, "mmap of resource %u without MAP_SHARED", res);
		}
		p = map_obj(o, addr, len, prot, flags, o->fd, inner, f->ctx_id, err);
	}
	pthread_mutex_unlock(&f->lock);
	return p;
}

void *cw_fake_export_mmap(int fd, void *addr, size_t len, int prot, int flags, off_t off,
	int *err)
{
	struct cw_fake_obj *o = cw_fake_rec_obj(fd);
	void *p = MAP_FAILED;
	if (!o) {
		return cw_fake_real.mmap(addr, len, prot, flags, fd, off);
	}
	*err = off < 0 ? EINVAL : map_check(o, len, (uint64_t)off);
	if (*err == 0) {
		p = map_obj(o, addr, len, prot, flags, fd, (uint64_t)off, o->ctx_id, err);
	}
	cw_fake_vm_lock();
	cw_fake_obj_unref(o);
	cw_fake_vm_unlock();
	return p;
}

/* ---- teardown ---- */

void cw_fake_file_summary(struct cw_fake_file *f, const char *how)
{
	unsigned handles = 0, rings = 0, nfds, nmaps;
	struct cw_fake_host none = { 0 };
	const struct cw_fake_host *h = f->host ? f->host : &none;
	for (uint32_t i = 1; i < f->nhandles; i++) {
		const struct cw_fake_obj *o = f->handles[i].obj;
		if (o) {
			handles++;
			rings += f->host && cw_fake_host_is_ring(f->host, o->res_id);
		}
	}
	cw_fake_rec_check(f->ctx_id, false, &nfds, &nmaps);
	cw_fake_report("context %u closed%s%s: handles=%u (rings=%u), mappings=%u, fds=%u, "
		"sends=%llu, receives=%llu, reads=%llu, writes=%llu, queries=%llu, polls=%llu, "
		"blobs=%llu, imports=%llu, exports=%llu, pid=%d", f->ctx_id, how[0] ? " " : "", how,
		handles, rings, nmaps, nfds, (unsigned long long)h->sends,
		(unsigned long long)h->receives, (unsigned long long)h->reads,
		(unsigned long long)h->writes, (unsigned long long)h->queries,
		(unsigned long long)h->polls, (unsigned long long)f->nblobs,
		(unsigned long long)f->nimports, (unsigned long long)f->nexports, (int)getpid());
}

static void check_leaks(struct cw_fake_file *f)
{
	unsigned nfds, nmaps;
	cw_fake_rec_check(f->ctx_id, true, &nfds, &nmaps);
	if (!cw_fake_cfg.strict_handles) {
		return; /* close() releases handles as the kernel does; the summary counts them */
	}
	for (uint32_t i = 1; i < f->nhandles; i++) {
		struct cw_fake_obj *o = f->handles[i].obj;
		if (o && !(f->host && cw_fake_host_is_ring(f->host, o->res_id))) {
			cw_fake_leak(f->ctx_id,
				"GEM handle %u (resource %u) is still open when the context "
				"closes", i, o->res_id);
		}
	}
}

void cw_fake_file_destroy(struct cw_fake_file *f)
{
	struct cw_fake_host *h;
	pthread_mutex_lock(&f->lock);
	f->closing = true;
	if (f->ctx_id) {
		check_leaks(f);
		cw_fake_file_summary(f, "");
	}
	h = f->host;
	pthread_mutex_unlock(&f->lock);
	/* Context destruction: the worker completes a pending fence and exits. */
	cw_fake_host_destroy(h);
	pthread_mutex_lock(&f->lock);
	f->host = NULL;
	for (uint32_t i = 1; i < f->nhandles; i++) {
		if (f->handles[i].obj) {
			handle_remove(f, i);
		}
	}
	free(f->handles);
	cw_fake_fences_free(f);
	pthread_mutex_unlock(&f->lock);
	cw_fake_fd_close(&f->ev_rd);
	cw_fake_fd_close(&f->ev_wr);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
