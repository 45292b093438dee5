/* Surface damage to buffer damage. A surface shows its buffer through, in order from
 * the buffer: the buffer transform (the inverse of what the client applied, see
 * wl_surface.set_buffer_transform), the division by the buffer scale, the viewport's
 * source crop and its scaling to the destination size. Damage goes the other way. */
#include <math.h>

#include "shm/shm.h"

/* Buffer size after transform, in buffer pixels. */
static void transformed_size(const struct cw_shm_view *v, double *w, double *h)
{
	bool swap = v->transform & 1; /* 90, 270 and their flipped forms */
	*w = swap ? v->buffer_height : v->buffer_width;
	*h = swap ? v->buffer_width : v->buffer_height;
}

/* Maps a point of the transformed buffer (tw x th) to the buffer. */
static void untransform(uint32_t t, double tw, double th, double x, double y, double *bx,
	double *by)
{
	switch (t & 7) {
	case 0: /* normal */
		*bx = x, *by = y;
		break;
	case 1: /* 90: the content was turned counter-clockwise into the buffer */
		*bx = y, *by = tw - x;
		break;
	case 2: /* 180 */
		*bx = tw - x, *by = th - y;
		break;
	case 3: /* 270 */
		*bx = th - y, *by = x;
		break;
	case 4: /* flipped around the vertical axis */
		*bx = tw - x, *by = y;
		break;
	case 5: /* flipped, then 90 */
		*bx = y, *by = x;
		break;
	case 6: /* flipped, then 180 */
		*bx = x, *by = th - y;
		break;
	default: /* flipped, then 270 */
		*bx = th - y, *by = tw - x;
		break;
	}
}

static int32_t clamp_floor(double v, double hi)
{
	v = floor(v);
	return (int32_t)(v < 0 ? 0 : v > hi ? hi : v);
}

static int32_t clamp_ceil(double v, double hi)
{
	v = ceil(v);
	return (int32_t)(v < 0 ? 0 : v > hi ? hi : v);
}

void cw_shm_damage_surface_to_buffer(pixman_region32_t *buffer_damage,
	const pixman_region32_t *surface_damage, const struct cw_shm_view *v)
{
	double scale = v->scale > 0 ? v->scale : 1;
	double tw, th;
	transformed_size(v, &tw, &th);
	/* Surface units to the viewport source rectangle (buffer units / scale). */
	double sx = 0, sy = 0, sw = tw / scale, sh = th / scale;
	if (v->has_src) {
		sx = v->src_x, sy = v->src_y, sw = v->src_w, sh = v->src_h;
	}
	double kx = 1, ky = 1;
	if (v->has_dst && v->dst_w > 0 && v->dst_h > 0) {
		kx = sw / v->dst_w;
		ky = sh / v->dst_h;
	}
	int n = 0;
	const pixman_box32_t *b =
		pixman_region32_rectangles((pixman_region32_t *)surface_damage, &n);
	for (int i = 0; i < n; i++) {
		/* Into the transformed buffer, rounded outward to whole pixels there. */
		int32_t x1 = clamp_floor((sx + b[i].x1 * kx) * scale, tw);
		int32_t y1 = clamp_floor((sy + b[i].y1 * ky) * scale, th);
		int32_t x2 = clamp_ceil((sx + b[i].x2 * kx) * scale, tw);
		int32_t y2 = clamp_ceil((sy + b[i].y2 * ky) * scale, th);
		if (x1 >= x2 || y1 >= y2) {
			continue;
		}
		double ax, ay, bx, by;
		untransform(v->transform, tw, th, x1, y1, &ax, &ay);
		untransform(v->transform, tw, th, x2, y2, &bx, &by);
		pixman_region32_union_rect(buffer_damage, buffer_damage, (int)fmin(ax, bx),
			(int)fmin(ay, by), (unsigned)fabs(bx - ax), (unsigned)fabs(by - ay));
	}
	pixman_region32_intersect_rect(buffer_damage, buffer_damage, 0, 0,
		(unsigned)v->buffer_width, (unsigned)v->buffer_height);
}
