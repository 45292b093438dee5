/* shm/: guest wl_shm memory and the host-visible shadow buffers it is copied into.
 * It knows pixels, regions and memory, not the wire: the proxy decides what to copy
 * and when. Shadows live in host blobs (virtio-gpu) or memfds (direct mode). */
#ifndef CW_SHM_SHM_H
#define CW_SHM_SHM_H

#include <pixman.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cw_gpu;

/* ---- formats ---- */

/* Bytes per pixel of a single-plane wl_shm format (wl_shm.format codes: 0 ARGB8888,
 * 1 XRGB8888, else DRM fourcc) that crossway can shadow; 0 for formats it cannot
 * (multi-planar, sub-byte, unknown). */
uint32_t cw_shm_format_bpp(uint32_t wl_format);

/* ---- guest pools ---- */

/* The app's pool file, mapped read-only and shared. */
struct cw_shm_pool;

/* Maps size bytes of fd (taken: closed on failure too). NULL with errno on failure. */
struct cw_shm_pool *cw_shm_pool_create_take_fd(int fd, size_t size);
/* Grows the mapping to size (wl_shm_pool.resize may only grow; the caller checks).
 * Returns 0, or -1 with errno (the old mapping stays valid). */
int cw_shm_pool_resize(struct cw_shm_pool *p, size_t size);
size_t cw_shm_pool_size(const struct cw_shm_pool *p);
/* Pools are shared by the pool object and each buffer made from it. */
struct cw_shm_pool *cw_shm_pool_ref(struct cw_shm_pool *p);
void cw_shm_pool_unref(struct cw_shm_pool *p);

/* Reading a pool whose file the app shrank would raise SIGBUS. Between begin and end
 * a SIGBUS inside the pool's mapping is absorbed: the pages read as zeros, and end
 * returns false so that the app can be told. cw_shm_sigbus_install() must have run
 * (once per process) first. Accesses do not nest. */
int cw_shm_sigbus_install(void);
const uint8_t *cw_shm_pool_begin_access(struct cw_shm_pool *p);
bool cw_shm_pool_end_access(struct cw_shm_pool *p);

/* ---- shadow memory ---- */

/* Writable memory the compositor can read: a memfd (gpu NULL) or a mappable host blob
 * of the virtio-gpu context. Host blobs are allocated in size classes (64 KiB
 * multiples, four classes per doubling) because every distinct size costs a host
 * template for the life of the context; size_bytes is the class size. */
struct cw_shm_mem {
	int fd;                   /* owned: memfd or exported blob; what the compositor gets */
	uint8_t *map;             /* owned: the whole object, read-write */
	size_t size_bytes;        /* mapped (and allocated) size, >= what was asked */
	struct cw_gpu_image *img; /* owned: the host blob, NULL for a memfd */
};

/* Allocates at least size_bytes. Returns 0, or -1 with why filled for the operator. */
int cw_shm_mem_init(struct cw_shm_mem *m, struct cw_gpu *gpu, size_t size_bytes, char *why,
	size_t why_len);
/* Safe on a zeroed struct with fd -1; gpu must be the one given to init. */
void cw_shm_mem_finish(struct cw_shm_mem *m, struct cw_gpu *gpu);
/* The size class a request of size_bytes is served from (virtio-gpu mode). */
size_t cw_shm_mem_class_bytes(size_t size_bytes);

/* ---- damage ---- */

/* How a surface shows its buffer (wl_surface and wp_viewport state after commit). */
struct cw_shm_view {
	int32_t buffer_width, buffer_height; /* pixels */
	int32_t scale;                       /* wl_surface.set_buffer_scale, >= 1 */
	uint32_t transform;                  /* wl_output.transform, 0..7 */
	bool has_src;                        /* wp_viewport.set_source */
	double src_x, src_y, src_w, src_h;   /* in buffer units after transform and scale */
	bool has_dst;                        /* wp_viewport.set_destination */
	int32_t dst_w, dst_h;                /* surface size */
};

/* Adds to buffer_damage (buffer pixels) the buffer pixels that can show inside
 * surface_damage (surface-local coordinates), rounding outward, clipped to the buffer. */
void cw_shm_damage_surface_to_buffer(pixman_region32_t *buffer_damage,
	const pixman_region32_t *surface_damage, const struct cw_shm_view *v);

/* ---- copies ---- */

/* One buffer's pixels in memory. */
struct cw_shm_image {
	uint8_t *data; /* first pixel of the buffer */
	uint32_t width, height, stride_bytes, bpp;
};

/* Copies the pixels of region (clipped to the image) from src to dst, which have the
 * same size, stride and bpp: row by row, whole bands at once where the rectangles span
 * the full width. No allocation. Returns the number of bytes copied. */
size_t cw_shm_copy_region(const struct cw_shm_image *dst, const struct cw_shm_image *src,
	const pixman_region32_t *region);

#endif
