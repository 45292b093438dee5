/* Damage-only copies from a guest buffer into its shadow: one memcpy per row of each
 * damaged rectangle, or one per band of whole rows when a rectangle spans the width.
 * No per-pixel work and no allocation: this runs on every frame. */
#include <string.h>

#include "shm/shm.h"

size_t cw_shm_copy_region(const struct cw_shm_image *dst, const struct cw_shm_image *src,
	const pixman_region32_t *region)
{
	int n = 0;
	const pixman_box32_t *b = pixman_region32_rectangles((pixman_region32_t *)region, &n);
	const size_t stride = src->stride_bytes, bpp = src->bpp;
	const int32_t w = (int32_t)src->width, h = (int32_t)src->height;
	size_t copied = 0;
	for (int i = 0; i < n; i++) {
		int32_t x1 = b[i].x1 < 0 ? 0 : b[i].x1, y1 = b[i].y1 < 0 ? 0 : b[i].y1;
		int32_t x2 = b[i].x2 > w ? w : b[i].x2, y2 = b[i].y2 > h ? h : b[i].y2;
		if (x1 >= x2 || y1 >= y2) {
			continue;
		}
		size_t off = (size_t)y1 * stride + (size_t)x1 * bpp;
		size_t row = (size_t)(x2 - x1) * bpp;
		if (x1 == 0 && x2 == w) {
			/* Whole rows are contiguous, padding included (both sides share the
			 * stride); the last row stops at its last pixel. */
			size_t len = (size_t)(y2 - y1 - 1) * stride + row;
			memcpy(dst->data + off, src->data + off, len);
			copied += len;
			continue;
		}
		for (int32_t y = y1; y < y2; y++, off += stride) {
			memcpy(dst->data + off, src->data + off, row);
		}
		copied += row * (size_t)(y2 - y1);
	}
	return copied;
}
