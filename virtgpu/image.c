/* Host memory: image requirements queries on the query ring (cached, because every query
 * leaves a template on the host for the context's lifetime) and host blobs created from
 * those templates, mapped and exported. Spec section 14. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>

#include "virtgpu/private.h"

#define CW_GPU_QUERY_FLAGS 0x11u /* LINEAR | SCANOUT, as other guests send */

/* Bytes per pixel of plane 0 for the formats crossway shadows; 0 if unknown. */
static uint32_t format_bpp(uint32_t fourcc)
{
	switch (fourcc) {
	case 0x20203852: /* R8 */
		return 1;
	case 0x36314752: /* RGB565 */
		return 2;
	case 0x34324742: /* BGR888 */
		return 3;
	case 0x48344241: /* ABGR16161616F */
	case 0x48345258: /* XRGB16161616F */
	case 0x48345241: /* ARGB16161616F */
	case 0x48344258: /* XBGR16161616F */
		return 8;
	default:
		return 4;
	}
}

static int wait_query(struct cw_gpu *g)
{
	struct cw_virtgpu_wait w = { .handle = g->query_ring.bo_handle };
	for (int tries = 0; tries < 4; tries++) {
		if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_WAIT, &w) == 0) {
			return 0;
		}
		if (errno != EBUSY && errno != EINTR && errno != EAGAIN) {
			return -1;
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

static const struct cw_xd_image_reqs *query(struct cw_gpu *g, uint32_t width, uint32_t height,
	uint32_t fourcc, struct cw_gpu_why *why)
{
	for (unsigned i = 0; i < g->nqueries; i++) {
		struct cw_gpu_query *q = &g->queries[i];
		if (q->width == width && q->height == height && q->drm_format == fourcc &&
			q->flags == CW_GPU_QUERY_FLAGS) {
			return &q->reqs;
		}
	}
	if (g->nqueries == g->capqueries) {
		unsigned ncap = g->capqueries ? g->capqueries * 2 : 16;
		struct cw_gpu_query *p = realloc(g->queries, ncap * sizeof(*p));
		if (!p) {
			cw_gpu_why_set(why, "out of memory");
			return NULL;
		}
		g->queries = p;
		g->capqueries = ncap;
	}
	/* A failed query completes its fence without writing the ring: pre-fill it so
	 * that a stale reply cannot pass for a fresh one. */
	memset(g->query_ring.map, 0xff, sizeof(struct cw_xd_image_reqs));
	struct cw_xd_image_query cmd = {
		.hdr = { .cmd = CW_XD_CMD_GET_IMAGE_REQS, .cmd_size = sizeof(cmd) },
		.width = width,
		.height = height,
		.drm_format = fourcc,
		.flags = CW_GPU_QUERY_FLAGS,
	};
	uint32_t handle = g->query_ring.bo_handle;
	if (cw_gpu_submit(g, &cmd, sizeof(cmd), CW_XD_RING_QUERY, &handle, 1) < 0 ||
		wait_query(g) < 0) {
		cw_gpu_why_set(why, "image query failed: %s", strerror(errno));
		return NULL;
	}
	g->stats.queries++;
	struct cw_gpu_query *q = &g->queries[g->nqueries];
	memcpy(&q->reqs, g->query_ring.map, sizeof(q->reqs));
	uint64_t min_stride = (uint64_t)width * format_bpp(fourcc);
	if (q->reqs.blob_id == 0 || q->reqs.blob_id == 0xffffffffu || q->reqs.size == 0 ||
		q->reqs.strides[0] < min_stride ||
		q->reqs.size < (uint64_t)q->reqs.strides[0] * height) {
		cw_gpu_why_set(why, "the host cannot allocate %ux%u images of format 0x%08x", width,
			height, fourcc);
		return NULL;
	}
	q->width = width;
	q->height = height;
	q->drm_format = fourcc;
	q->flags = CW_GPU_QUERY_FLAGS;
	g->nqueries++;
	return &q->reqs;
}

static int own_handle(struct cw_gpu *g, uint32_t handle)
{
	if (g->nowned == g->capowned) {
		unsigned ncap = g->capowned ? g->capowned * 2 : 16;
		uint32_t *p = realloc(g->owned_handles, ncap * sizeof(*p));
		if (!p) {
			return -1;
		}
		g->owned_handles = p;
		g->capowned = ncap;
	}
	g->owned_handles[g->nowned++] = handle;
	return 0;
}

static void disown_handle(struct cw_gpu *g, uint32_t handle)
{
	for (unsigned i = 0; i < g->nowned; i++) {
		if (g->owned_handles[i] == handle) {
			g->owned_handles[i] = g->owned_handles[--g->nowned];
			return;
		}
	}
}

struct cw_gpu_image *cw_gpu_image_create(struct cw_gpu *g, uint32_t width, uint32_t height,
	uint32_t drm_format, bool map, struct cw_gpu_why *why)
{
	const struct cw_xd_image_reqs *reqs = query(g, width, height, drm_format, why);
	if (!reqs) {
		return NULL;
	}
	struct cw_gpu_image *img = calloc(1, sizeof(*img));
	if (!img) {
		cw_gpu_why_set(why, "out of memory");
		return NULL;
	}
	img->fd = -1;
	img->width = width;
	img->height = height;
	img->drm_format = drm_format;
	memcpy(img->strides, reqs->strides, sizeof(img->strides));
	memcpy(img->offsets, reqs->offsets, sizeof(img->offsets));
	img->size_bytes = reqs->size;
	struct cw_virtgpu_create_blob cb = {
		.blob_mem = CW_VIRTGPU_BLOB_MEM_HOST3D,
		.blob_flags = (map ? CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE : 0) |
			CW_VIRTGPU_BLOB_FLAG_USE_SHAREABLE,
		.size = reqs->size, /* exactly the template's size */
		.blob_id = reqs->blob_id,
	};
	if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_CREATE_BLOB, &cb) < 0) {
		cw_gpu_why_set(why, "cannot create a host blob: %s%s", strerror(errno),
			errno == ENOSPC ? " (host-visible memory window full)" : "");
		free(img);
		return NULL;
	}
	g->stats.live_handles++;
	img->bo_handle = cb.bo_handle;
	img->res_id = cb.res_handle;
	if (own_handle(g, img->bo_handle) < 0) {
		cw_gpu_why_set(why, "out of memory");
		goto err;
	}
	if (drmPrimeHandleToFD(g->fd, img->bo_handle, O_CLOEXEC | O_RDWR, &img->fd) < 0) {
		cw_gpu_why_set(why, "cannot export a host blob: %s", strerror(errno));
		goto err;
	}
	if (map) {
		struct cw_virtgpu_map m = { .handle = img->bo_handle };
		void *p = MAP_FAILED;
		if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_MAP, &m) == 0) {
			/* The whole object: older kernels refuse partial maps of host blobs. */
			p = mmap(NULL, img->size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd,
				(off_t)m.offset);
		}
		if (p == MAP_FAILED) {
			/* Blob creation is asynchronous: a host refusal shows up here. */
			cw_gpu_why_set(why, "cannot map a host blob (the host may have refused "
				"it): %s", strerror(errno));
			goto err;
		}
		img->map = p;
	}
	return img;
err:
	cw_gpu_image_destroy(g, img);
	return NULL;
}

void cw_gpu_image_destroy(struct cw_gpu *g, struct cw_gpu_image *img)
{
	if (!img) {
		return;
	}
	if (img->map) {
		munmap(img->map, img->size_bytes);
	}
	if (img->fd >= 0) {
		close(img->fd);
	}
	disown_handle(g, img->bo_handle);
	cw_gpu_close_handle(g, img->bo_handle);
	free(img);
}
