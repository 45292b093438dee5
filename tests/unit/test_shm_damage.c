/* shm/damage.c through shm/shm.h: surface damage to buffer pixels, against a forward
 * mapping written from the Wayland spec (at random, for every transform, scale 1 to 3
 * and each kind of viewport) and against cases worked out by hand. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "shm/shm.h"
#include "shm_cases.h"
#include "test.h"

static int n_run;

/* Where a point of the buffer (in buffer pixels) lands in surface-local coordinates,
 * following the spec's order (viewporter.xml: buffer_transform, then buffer_scale, then
 * crop and scale). wl_surface.set_buffer_transform: the client has applied the transform
 * to the content and the compositor applies the inverse. wl_output.transform: rotations
 * are counter-clockwise, and flipped values are a flip around the vertical axis followed
 * by the rotation; so undo the rotation first, then the flip. */
static void buffer_point_to_surface(const struct cw_shm_view *v, double bx, double by, double *sx,
	double *sy)
{
	double bw = v->buffer_width, bh = v->buffer_height;
	double x = 0, y = 0, w = 0, h = 0; /* un-rotated content, w x h buffer pixels */
	switch (v->transform & 3) {
	case 0:
		x = bx, y = by, w = bw, h = bh;
		break;
	case 1: /* undo 90° counter-clockwise: turn 90° clockwise */
		x = bh - by, y = bx, w = bh, h = bw;
		break;
	case 2:
		x = bw - bx, y = bh - by, w = bw, h = bh;
		break;
	case 3: /* undo 270° counter-clockwise: turn 90° counter-clockwise */
		x = by, y = bw - bx, w = bh, h = bw;
		break;
	}
	if (v->transform & 4) {
		x = w - x;
	}
	/* set_buffer_scale: the buffer is scale times larger than the surface. */
	x /= v->scale, y /= v->scale, w /= v->scale, h /= v->scale;
	/* wp_viewport: the source rectangle (default: all of it) is scaled to the
	 * destination size (default: the source size). */
	double src_x = 0, src_y = 0, src_w = w, src_h = h;
	if (v->has_src) {
		src_x = v->src_x, src_y = v->src_y, src_w = v->src_w, src_h = v->src_h;
	}
	double dst_w = src_w, dst_h = src_h;
	if (v->has_dst) {
		dst_w = v->dst_w, dst_h = v->dst_h;
	}
	*sx = (x - src_x) * dst_w / src_w;
	*sy = (y - src_y) * dst_h / src_h;
}

/* The surface-space rectangle [x1,x2) x [y1,y2) that buffer pixel (bx, by) covers. */
struct frect {
	double x1, y1, x2, y2;
};

static struct frect pixel_footprint(const struct cw_shm_view *v, int bx, int by)
{
	double ax, ay, cx, cy;
	buffer_point_to_surface(v, bx, by, &ax, &ay);
	buffer_point_to_surface(v, bx + 1, by + 1, &cx, &cy);
	return (struct frect){ fmin(ax, cx), fmin(ay, cy), fmax(ax, cx), fmax(ay, cy) };
}

static void surface_size(const struct cw_shm_view *v, double *w, double *h)
{
	if (v->has_dst) {
		*w = v->dst_w, *h = v->dst_h;
	} else if (v->has_src) {
		*w = v->src_w, *h = v->src_h;
	} else {
		bool swap = v->transform & 1;
		*w = (double)(swap ? v->buffer_height : v->buffer_width) / v->scale;
		*h = (double)(swap ? v->buffer_width : v->buffer_height) / v->scale;
	}
}

#define EPS 1e-7

static void print_view(const struct cw_shm_view *v, const struct rect *d, int nd)
{
	fprintf(stderr, "view: buffer %dx%d scale %d transform %u", v->buffer_width,
		v->buffer_height, v->scale, v->transform);
	if (v->has_src) {
		fprintf(stderr, " src (%g,%g %gx%g)", v->src_x, v->src_y, v->src_w, v->src_h);
	}
	if (v->has_dst) {
		fprintf(stderr, " dst %dx%d", v->dst_w, v->dst_h);
	}
	fprintf(stderr, "\nsurface damage:");
	for (int i = 0; i < nd; i++) {
		fprintf(stderr, " (%d,%d %dx%d)", d[i].x, d[i].y, d[i].w, d[i].h);
	}
	fprintf(stderr, "\n");
}

/* Every buffer pixel whose footprint overlaps the visible damage must be in the result
 * (completeness); none whose footprint is more than one surface pixel from all damage
 * may be (tightness); nothing outside the buffer. */
static void check_damage(const struct cw_shm_view *v, const struct rect *d, int nd)
{
	pixman_region32_t surf, buf;
	pixman_region32_init(&surf);
	pixman_region32_init(&buf);
	for (int i = 0; i < nd; i++) {
		pixman_region32_union_rect(&surf, &surf, d[i].x, d[i].y, (unsigned)d[i].w,
			(unsigned)d[i].h);
	}
	cw_shm_damage_surface_to_buffer(&buf, &surf, v);

	double sw, sh;
	surface_size(v, &sw, &sh);
	bool ok = true;
	const pixman_box32_t *ext = pixman_region32_extents(&buf);
	if (pixman_region32_not_empty(&buf) && (ext->x1 < 0 || ext->y1 < 0 ||
			ext->x2 > v->buffer_width || ext->y2 > v->buffer_height)) {
		fprintf(stderr, "result (%d,%d)-(%d,%d) is not clipped to the buffer\n", ext->x1,
			ext->y1, ext->x2, ext->y2);
		ok = false;
	}
	for (int by = 0; by < v->buffer_height && ok; by++) {
		for (int bx = 0; bx < v->buffer_width && ok; bx++) {
			struct frect f = pixel_footprint(v, bx, by);
			bool shows = false, near = false;
			for (int i = 0; i < nd; i++) {
				/* overlap with damage that lies inside the surface */
				double x1 = fmax(f.x1, fmax(d[i].x, 0));
				double x2 = fmin(f.x2, fmin(d[i].x + d[i].w, sw));
				double y1 = fmax(f.y1, fmax(d[i].y, 0));
				double y2 = fmin(f.y2, fmin(d[i].y + d[i].h, sh));
				shows |= x2 - x1 > EPS && y2 - y1 > EPS;
				/* within one surface pixel of the damage, on both axes */
				double mx1 = d[i].x - 1 - EPS, mx2 = d[i].x + d[i].w + 1 + EPS;
				double my1 = d[i].y - 1 - EPS, my2 = d[i].y + d[i].h + 1 + EPS;
				near |= f.x2 >= mx1 && f.x1 <= mx2 && f.y2 >= my1 && f.y1 <= my2;
			}
			bool in = pixman_region32_contains_point(&buf, bx, by, NULL);
			if ((shows && !in) || (in && !near)) {
				fprintf(stderr, "buffer pixel (%d,%d) covers surface "
					"(%g,%g)-(%g,%g): %s\n", bx, by, f.x1, f.y1, f.x2, f.y2,
					shows ? "shows damage but is missing" :
					"is in the result but farther than 1 from the damage");
				ok = false;
			}
		}
	}
	if (!ok) {
		print_view(v, d, nd);
	}
	test_assert(ok);
	pixman_region32_fini(&surf);
	pixman_region32_fini(&buf);
}

/* A multiple of 1/256, like the wl_fixed values of wp_viewport.set_source. */
static double rnd_fixed(double lo, double hi)
{
	int a = (int)ceil(lo * 256), b = (int)floor(hi * 256);
	return rnd_in(a, b) / 256.0;
}

enum viewport_kind { VP_NONE, VP_SRC, VP_DST, VP_BOTH };

static void random_view(struct cw_shm_view *v, uint32_t transform, int32_t scale,
	enum viewport_kind kind)
{
	*v = (struct cw_shm_view){ .scale = scale, .transform = transform };
	/* the un-rotated content in surface units; buffer sizes are multiples of the scale
	 * (wl_surface.attach: invalid_size otherwise) */
	int cw = rnd_in(1, 16), ch = rnd_in(1, 16);
	v->buffer_width = (transform & 1 ? ch : cw) * scale;
	v->buffer_height = (transform & 1 ? cw : ch) * scale;
	if (kind == VP_SRC) {
		/* without a destination the source size must be integral (bad_size) */
		v->has_src = true;
		v->src_x = rnd_fixed(0, cw - 1);
		v->src_y = rnd_fixed(0, ch - 1);
		v->src_w = rnd_in(1, (int)floor(cw - v->src_x));
		v->src_h = rnd_in(1, (int)floor(ch - v->src_y));
	} else if (kind == VP_BOTH) {
		v->has_src = true;
		v->src_x = rnd_fixed(0, cw - 1.0 / 256);
		v->src_y = rnd_fixed(0, ch - 1.0 / 256);
		v->src_w = rnd_fixed(1.0 / 256, cw - v->src_x);
		v->src_h = rnd_fixed(1.0 / 256, ch - v->src_y);
	}
	if (kind == VP_DST || kind == VP_BOTH) {
		v->has_dst = true;
		v->dst_w = rnd_in(1, 40);
		v->dst_h = rnd_in(1, 40);
	}
}

static int random_damage(const struct cw_shm_view *v, struct rect *d)
{
	double sw, sh;
	surface_size(v, &sw, &sh);
	int w = (int)ceil(sw), h = (int)ceil(sh);
	int nd = rnd_in(1, 4);
	for (int i = 0; i < nd; i++) {
		if (rnd() % 5 == 0) { /* partly outside the surface */
			d[i] = (struct rect){ rnd_in(-4, w), rnd_in(-4, h), rnd_in(1, w + 8),
				rnd_in(1, h + 8) };
		} else {
			d[i].x = rnd_in(0, w - 1);
			d[i].y = rnd_in(0, h - 1);
			d[i].w = rnd_in(1, w - d[i].x < 6 ? w - d[i].x : 6);
			d[i].h = rnd_in(1, h - d[i].y < 6 ? h - d[i].y : 6);
		}
	}
	return nd;
}

static void test_damage_brute_force(void)
{
	for (uint32_t t = 0; t < 8; t++) {
		for (int32_t scale = 1; scale <= 3; scale++) {
			for (int kind = VP_NONE; kind <= VP_BOTH; kind++) {
				for (int iter = 0; iter < 60; iter++) {
					struct cw_shm_view v;
					struct rect d[4];
					random_view(&v, t, scale, (enum viewport_kind)kind);
					int nd = random_damage(&v, d);
					check_damage(&v, d, nd);
				}
			}
		}
	}
}

/* A few cases worked out by hand, so that a wrong turning direction reads plainly. */
static void expect_damage(const struct cw_shm_view *v, struct rect d, struct rect want)
{
	pixman_region32_t surf, buf;
	pixman_region32_init_rect(&surf, d.x, d.y, (unsigned)d.w, (unsigned)d.h);
	pixman_region32_init(&buf);
	cw_shm_damage_surface_to_buffer(&buf, &surf, v);
	const pixman_box32_t *e = pixman_region32_extents(&buf);
	bool ok = pixman_region32_n_rects(&buf) == 1 && e->x1 == want.x && e->y1 == want.y &&
		e->x2 == want.x + want.w && e->y2 == want.y + want.h;
	if (!ok) {
		print_view(v, &d, 1);
		fprintf(stderr, "expected buffer (%d,%d %dx%d), got %d rects, extents "
			"(%d,%d)-(%d,%d)\n", want.x, want.y, want.w, want.h,
			pixman_region32_n_rects(&buf), e->x1, e->y1, e->x2, e->y2);
	}
	test_assert(ok);
	pixman_region32_fini(&surf);
	pixman_region32_fini(&buf);
}

static void test_damage_by_hand(void)
{
	/* A 20x10 buffer; the surface's top-left pixel is damaged. */
	struct cw_shm_view v = { .buffer_width = 20, .buffer_height = 10, .scale = 1 };
	struct rect tl = { 0, 0, 1, 1 };
	expect_damage(&v, tl, (struct rect){ 0, 0, 1, 1 });
	v.transform = 2; /* 180: bottom-right */
	expect_damage(&v, tl, (struct rect){ 19, 9, 1, 1 });
	v.transform = 4; /* flipped: top-right */
	expect_damage(&v, tl, (struct rect){ 19, 0, 1, 1 });
	v.transform = 6; /* flipped 180: bottom-left */
	expect_damage(&v, tl, (struct rect){ 0, 9, 1, 1 });
	/* Turned a quarter: the surface is 10x20. The content was turned counter-clockwise,
	 * so the surface's top-left corner went to the buffer's bottom-left. */
	v.transform = 1;
	expect_damage(&v, tl, (struct rect){ 0, 9, 1, 1 });
	v.transform = 3; /* 270: top-right */
	expect_damage(&v, tl, (struct rect){ 19, 0, 1, 1 });
	v.transform = 5; /* flipped 90: the flip takes it to the top-right, the turn to top-left */
	expect_damage(&v, tl, (struct rect){ 0, 0, 1, 1 });
	v.transform = 7; /* flipped 270: bottom-right */
	expect_damage(&v, tl, (struct rect){ 19, 9, 1, 1 });
	/* The surface's top row (10 wide) under 90 is the buffer's left column. */
	v.transform = 1;
	expect_damage(&v, (struct rect){ 0, 0, 10, 1 }, (struct rect){ 0, 0, 1, 10 });

	/* Scale 2: each surface pixel is 2x2 buffer pixels. */
	v = (struct cw_shm_view){ .buffer_width = 20, .buffer_height = 10, .scale = 2 };
	expect_damage(&v, (struct rect){ 1, 1, 2, 2 }, (struct rect){ 2, 2, 4, 4 });
	/* A viewport source at (4.5, 2) of 3x3 shown at 6x6: surface pixel (0,0) covers
	 * source (4.5,2)-(5,2.5), buffer pixels x 9..10, y 4..5 at scale 2. */
	v.has_src = true, v.src_x = 4.5, v.src_y = 2, v.src_w = 3, v.src_h = 3;
	v.has_dst = true, v.dst_w = 6, v.dst_h = 6;
	expect_damage(&v, tl, (struct rect){ 9, 4, 1, 1 });
}

/* The result is added to what buffer_damage held, and damage beyond the surface is clipped
 * to the buffer. */
static void test_damage_adds_and_clips(void)
{
	struct cw_shm_view v = { .buffer_width = 30, .buffer_height = 20, .scale = 1 };
	pixman_region32_t surf, buf;
	pixman_region32_init_rect(&buf, 25, 15, 2, 2);
	pixman_region32_init(&surf);
	cw_shm_damage_surface_to_buffer(&buf, &surf, &v);
	test_assert(pixman_region32_n_rects(&buf) == 1);
	test_assert(pixman_region32_contains_point(&buf, 26, 16, NULL));
	test_assert(!pixman_region32_contains_point(&buf, 0, 0, NULL));

	pixman_region32_union_rect(&surf, &surf, -100, -100, 1000, 1000);
	cw_shm_damage_surface_to_buffer(&buf, &surf, &v);
	const pixman_box32_t *e = pixman_region32_extents(&buf);
	test_assert(pixman_region32_n_rects(&buf) == 1);
	test_assert(e->x1 == 0 && e->y1 == 0 && e->x2 == 30 && e->y2 == 20);

	pixman_region32_clear(&buf);
	pixman_region32_fini(&surf);
	pixman_region32_init_rect(&surf, 500, 500, 10, 10); /* entirely outside */
	v.transform = 3;
	v.scale = 2;
	cw_shm_damage_surface_to_buffer(&buf, &surf, &v);
	test_assert(!pixman_region32_not_empty(&buf));
	pixman_region32_fini(&surf);
	pixman_region32_fini(&buf);
}

int main(void)
{
	RUN(test_damage_by_hand);
	RUN(test_damage_brute_force);
	RUN(test_damage_adds_and_clips);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
