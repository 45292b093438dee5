/* Shadow memory: memfds in direct mode, mappable host blobs in virtio-gpu mode. Host
 * blobs are one-row R8 images (any wl_shm format fits in bytes, and the host's system
 * allocator supports R8) in size classes, since each distinct size leaves a template
 * on the host until the context ends (spec 14.1). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/shm.h"
#include "virtgpu/virtgpu.h"

#define CLASS_UNIT_BYTES (64u * 1024) /* covers 4, 16 and 64 KiB guest pages (14.2) */
#define FOURCC_R8 0x20203852u

size_t cw_shm_mem_class_bytes(size_t size_bytes)
{
	size_t unit = CLASS_UNIT_BYTES;
	if (size_bytes <= 4 * unit) {
		return size_bytes <= unit ? unit : (size_bytes + unit - 1) / unit * unit;
	}
	/* Four classes per doubling: at most 25 % above the request. */
	size_t p = 4 * unit;
	while (p <= size_bytes / 2) {
		p *= 2;
	}
	size_t step = p / 4;
	return (size_bytes + step - 1) / step * step;
}

static int init_memfd(struct cw_shm_mem *m, size_t size_bytes, char *why, size_t why_len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (size_bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
	int fd = memfd_create("crossway-shadow", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		snprintf(why, why_len, "cannot create a %zu-byte memfd: %s", size, strerror(errno));
		goto err;
	}
	/* Nobody may shrink it under a mapping (the compositor would get SIGBUS). */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL);
	void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(why, why_len, "cannot map a %zu-byte memfd: %s", size, strerror(errno));
		goto err;
	}
	*m = (struct cw_shm_mem){ .fd = fd, .map = map, .size_bytes = size };
	return 0;
err:
	if (fd >= 0) {
		close(fd);
	}
	return -1;
}

int cw_shm_mem_init(struct cw_shm_mem *m, struct cw_gpu *gpu, size_t size_bytes, char *why,
	size_t why_len)
{
	*m = (struct cw_shm_mem){ .fd = -1 };
	if (size_bytes == 0 || size_bytes > UINT32_MAX) {
		snprintf(why, why_len, "a %zu-byte shadow cannot be allocated", size_bytes);
		return -1;
	}
	if (!gpu) {
		return init_memfd(m, size_bytes, why, why_len);
	}
	size_t class = cw_shm_mem_class_bytes(size_bytes);
	struct cw_gpu_why gwhy;
	struct cw_gpu_image *img = cw_gpu_image_create(gpu, (uint32_t)class, 1, FOURCC_R8, true,
		&gwhy);
	if (!img) {
		snprintf(why, why_len, "cannot allocate a %zu-byte host blob: %s", class, gwhy.text);
		return -1;
	}
	*m = (struct cw_shm_mem){ .fd = img->fd, .map = img->map, .size_bytes = img->size_bytes,
		.img = img };
	return 0;
}

void cw_shm_mem_finish(struct cw_shm_mem *m, struct cw_gpu *gpu)
{
	if (m->img) {
		cw_gpu_image_destroy(gpu, m->img); /* owns fd and map */
	} else {
		if (m->map) {
			munmap(m->map, m->size_bytes);
		}
		if (m->fd >= 0) {
			close(m->fd);
		}
	}
	*m = (struct cw_shm_mem){ .fd = -1 };
}
