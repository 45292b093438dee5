/* shm/ through its header: damaged-region copies against a per-pixel reference, surface
 * damage to buffer pixels against a forward mapping written from the Wayland spec, format
 * sizes, guest pools (growth, SIGBUS from a shrunk file, references) and memfd shadows. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <drm_fourcc.h>

#include "shm/shm.h"
#include "test.h"

static int n_run;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: fixed seed, so that a failing case is the same on every run. */
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717u) >> 32);
}

/* An integer in [lo, hi]. */
static int rnd_in(int lo, int hi)
{
	return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d))) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* ---- formats ---- */

static void test_format_bpp(void)
{
	test_assert(cw_shm_format_bpp(0) == 4); /* wl_shm.format argb8888 */
	test_assert(cw_shm_format_bpp(1) == 4); /* wl_shm.format xrgb8888 */
	test_assert(cw_shm_format_bpp(DRM_FORMAT_RGB565) == 2);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ARGB2101010) == 4);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ABGR16161616F) == 8);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ABGR16161616) == 8);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_NV12) == 0); /* two planes */
	test_assert(cw_shm_format_bpp(DRM_FORMAT_YUV420) == 0);
	test_assert(cw_shm_format_bpp(fourcc_code('Z', 'Z', 'Z', 'Z')) == 0);
	test_assert(cw_shm_format_bpp(2) == 0); /* not a wl_shm code, not a fourcc */
}

/* ---- copies ---- */

struct rect {
	int x, y, w, h;
};

struct copy_case {
	uint32_t width, height, stride_bytes, bpp;
	size_t offset; /* of the first pixel in the allocation: wl_shm offsets are arbitrary */
	struct rect r[8];
	int nr;
};

static bool rects_contain(const struct rect *r, int nr, int x, int y)
{
	for (int i = 0; i < nr; i++) {
		if (x >= r[i].x && x < r[i].x + r[i].w && y >= r[i].y && y < r[i].y + r[i].h) {
			return true;
		}
	}
	return false;
}

static void print_copy_case(const struct copy_case *c)
{
	fprintf(stderr, "case: %ux%u stride %u bpp %u offset %zu, rects:", c->width, c->height,
		c->stride_bytes, c->bpp, c->offset);
	for (int i = 0; i < c->nr; i++) {
		fprintf(stderr, " (%d,%d %dx%d)", c->r[i].x, c->r[i].y, c->r[i].w, c->r[i].h);
	}
	fprintf(stderr, "\n");
}

/* Runs one copy and checks every byte of dst against the reference: pixels in the region
 * come from src, all others keep their old value; a row's padding may only follow src
 * where the whole row is in the region (a band copy). */
static void check_copy(const struct copy_case *c)
{
	size_t size = c->offset + (size_t)c->stride_bytes * c->height;
	/* Exact-size allocations: ASan catches a copy that reads or writes past the image. */
	uint8_t *src = malloc(size), *dst = malloc(size), *orig = malloc(size);
	test_assert(src && dst && orig);
	for (size_t i = 0; i < size; i++) {
		src[i] = (uint8_t)rnd();
		dst[i] = (uint8_t)(src[i] ^ (1 + rnd() % 255)); /* differs from src everywhere */
	}
	memcpy(orig, dst, size);
	pixman_region32_t region;
	pixman_region32_init(&region);
	for (int i = 0; i < c->nr; i++) {
		pixman_region32_union_rect(&region, &region, c->r[i].x, c->r[i].y,
			(unsigned)c->r[i].w, (unsigned)c->r[i].h);
	}
	struct cw_shm_image si = { src + c->offset, c->width, c->height, c->stride_bytes, c->bpp };
	struct cw_shm_image di = { dst + c->offset, c->width, c->height, c->stride_bytes, c->bpp };
	size_t copied = cw_shm_copy_region(&di, &si, &region);

	bool ok = memcmp(dst, orig, c->offset) == 0;
	size_t area = 0, full_rows = 0;
	size_t row_bytes = (size_t)c->width * c->bpp;
	for (uint32_t y = 0; y < c->height && ok; y++) {
		const uint8_t *s = src + c->offset + (size_t)y * c->stride_bytes;
		const uint8_t *d = dst + c->offset + (size_t)y * c->stride_bytes;
		const uint8_t *o = orig + c->offset + (size_t)y * c->stride_bytes;
		size_t in_row = 0;
		for (uint32_t x = 0; x < c->width; x++) {
			bool in = rects_contain(c->r, c->nr, (int)x, (int)y);
			in_row += in;
			const uint8_t *want = in ? s : o;
			if (memcmp(d + x * c->bpp, want + x * c->bpp, c->bpp) != 0) {
				fprintf(stderr, "pixel (%u,%u), %s the region: expected the %s "
					"value\n", x, y, in ? "inside" : "outside",
					in ? "source" : "old");
				ok = false;
				break;
			}
		}
		area += in_row;
		bool full = in_row == c->width;
		full_rows += full;
		for (size_t i = row_bytes; i < c->stride_bytes && ok; i++) {
			if (d[i] != o[i] && !(full && d[i] == s[i])) {
				fprintf(stderr, "row %u padding byte %zu changed (row %s)\n",
					y, i - row_bytes,
					full ? "fully damaged" : "not fully damaged");
				ok = false;
			}
		}
	}
	if (ok && (copied < area * c->bpp ||
			copied > area * c->bpp + full_rows * (c->stride_bytes - row_bytes))) {
		fprintf(stderr, "returned %zu bytes for %zu damaged pixels (%zu full rows)\n",
			copied, area, full_rows);
		ok = false;
	}
	if (!ok) {
		print_copy_case(c);
	}
	test_assert(ok);
	pixman_region32_fini(&region);
	free(src);
	free(dst);
	free(orig);
}

static void random_copy_case(struct copy_case *c, size_t offset)
{
	static const uint32_t bpps[] = { 2, 4, 8 };
	*c = (struct copy_case){ 0 };
	c->width = (uint32_t)rnd_in(1, 70);
	c->height = (uint32_t)rnd_in(1, 40);
	c->bpp = bpps[rnd() % 3];
	/* Mostly padded rows, as the stride of a wl_shm buffer may be anything >= width*bpp. */
	c->stride_bytes = c->width * c->bpp + (rnd() % 5 == 0 ? 0 : (uint32_t)rnd_in(1, 40));
	c->offset = offset;
	int w = (int)c->width, h = (int)c->height;
	c->nr = rnd_in(1, 6);
	for (int i = 0; i < c->nr; i++) {
		struct rect *r = &c->r[i];
		switch (rnd() % 4) {
		case 0: /* a full-width band, sometimes wider than the image */
			r->x = rnd() % 2 ? 0 : -rnd_in(1, 5);
			r->w = w - r->x + (rnd() % 2 ? 0 : rnd_in(1, 5));
			r->y = rnd_in(0, h - 1);
			r->h = rnd_in(1, h - r->y);
			break;
		case 1: /* sticks out of the image on some side */
			r->x = rnd_in(-10, w + 5);
			r->y = rnd_in(-10, h + 5);
			r->w = rnd_in(1, w + 20);
			r->h = rnd_in(1, h + 20);
			break;
		default: /* inside */
			r->x = rnd_in(0, w - 1);
			r->y = rnd_in(0, h - 1);
			r->w = rnd_in(1, w - r->x);
			r->h = rnd_in(1, h - r->y);
			break;
		}
	}
}

static void test_copy_random_regions(void)
{
	struct copy_case c;
	for (int iter = 0; iter < 3000; iter++) {
		random_copy_case(&c, 0);
		check_copy(&c);
	}
}

/* A guest chooses the buffer offset and stride, so pixels need not be aligned. */
static void test_copy_unaligned(void)
{
	struct copy_case c;
	for (int iter = 0; iter < 300; iter++) {
		random_copy_case(&c, (size_t)rnd_in(1, 7));
		c.stride_bytes += (uint32_t)rnd_in(0, 3);
		check_copy(&c);
	}
}

static void test_copy_edge_regions(void)
{
	struct copy_case c = { .width = 33, .height = 17, .stride_bytes = 33 * 4 + 12, .bpp = 4 };
	c.nr = 0; /* empty region: nothing copied */
	check_copy(&c);
	c.nr = 2; /* entirely outside */
	c.r[0] = (struct rect){ 33, 0, 10, 17 };
	c.r[1] = (struct rect){ -5, -9, 50, 9 };
	check_copy(&c);
	c.nr = 1; /* the whole image and more */
	c.r[0] = (struct rect){ -100, -100, 1000, 1000 };
	check_copy(&c);
	c.nr = 1; /* one pixel in each corner, one at a time */
	int corners[4][2] = { { 0, 0 }, { 32, 0 }, { 0, 16 }, { 32, 16 } };
	for (int i = 0; i < 4; i++) {
		c.r[0] = (struct rect){ corners[i][0], corners[i][1], 1, 1 };
		check_copy(&c);
	}
	c.stride_bytes = 33 * 4; /* no padding: bands are contiguous */
	c.nr = 2;
	c.r[0] = (struct rect){ 0, 3, 33, 5 };
	c.r[1] = (struct rect){ 0, 9, 40, 8 }; /* down to the last row */
	check_copy(&c);
}

/* ---- damage ---- */

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

/* ---- guest pools ---- */

static int make_memfd(size_t size, uint8_t seed)
{
	int fd = memfd_create("cw-test-pool", MFD_CLOEXEC);
	test_assert(fd >= 0);
	test_assert(ftruncate(fd, (off_t)size) == 0);
	uint8_t *buf = malloc(size);
	test_assert(buf);
	for (size_t i = 0; i < size; i++) {
		buf[i] = (uint8_t)(seed + i * 7);
	}
	test_assert(pwrite(fd, buf, size, 0) == (ssize_t)size);
	free(buf);
	return fd;
}

static bool pool_bytes_are(struct cw_shm_pool *p, size_t from, size_t to, uint8_t seed)
{
	const uint8_t *m = cw_shm_pool_begin_access(p);
	bool same = m != NULL;
	for (size_t i = from; i < to && same; i++) {
		same = m[i] == (uint8_t)(seed + i * 7);
	}
	return cw_shm_pool_end_access(p) && same;
}

static void test_pool_read_and_grow(void)
{
	int base = count_fds();
	int fd = make_memfd(8192, 1);
	int keep = dup(fd); /* the app's copy of the file */
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(fd, 8192);
	test_assert(p);
	test_assert(cw_shm_pool_size(p) == 8192);
	test_assert(pool_bytes_are(p, 0, 8192, 1));

	/* The app writes through its own mapping: the pool is shared, not a snapshot. */
	uint8_t b = 0xa5;
	test_assert(pwrite(keep, &b, 1, 100) == 1);
	const uint8_t *m = cw_shm_pool_begin_access(p);
	test_assert(m && m[100] == 0xa5);
	test_assert(cw_shm_pool_end_access(p));

	/* wl_shm_pool.resize: the app grows the file, then the pool. */
	size_t big = 3 * 1024 * 1024 + 123;
	test_assert(ftruncate(keep, (off_t)big) == 0);
	uint8_t *tail = malloc(big - 8192);
	test_assert(tail);
	for (size_t i = 8192; i < big; i++) {
		tail[i - 8192] = (uint8_t)(9 + i * 7);
	}
	test_assert(pwrite(keep, tail, big - 8192, 8192) == (ssize_t)(big - 8192));
	free(tail);
	test_assert(cw_shm_pool_resize(p, big) == 0);
	test_assert(cw_shm_pool_size(p) == big);
	test_assert(pool_bytes_are(p, 8192, big, 9));
	m = cw_shm_pool_begin_access(p);
	test_assert(m && m[100] == 0xa5 && m[101] == (uint8_t)(1 + 101 * 7));
	test_assert(cw_shm_pool_end_access(p));

	/* A mapping that cannot be made leaves the old one in place. */
	errno = 0;
	test_assert(cw_shm_pool_resize(p, (size_t)1 << 62) == -1 && errno != 0);
	test_assert(cw_shm_pool_size(p) == big);
	test_assert(pool_bytes_are(p, 8192, big, 9));

	cw_shm_pool_unref(p);
	close(keep);
	test_assert(count_fds() == base);
}

static void test_pool_create_failure_closes_fd(void)
{
	int base = count_fds();
	int pipefd[2];
	test_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	errno = 0;
	test_assert(cw_shm_pool_create_take_fd(pipefd[0], 4096) == NULL); /* cannot be mapped */
	test_assert(errno != 0);
	test_assert(!fd_is_open(pipefd[0]));
	close(pipefd[1]);
	test_assert(count_fds() == base);
}

static void test_pool_refcount(void)
{
	int base = count_fds();
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(make_memfd(4096, 3), 4096);
	test_assert(p);
	/* the pool object and two buffers */
	test_assert(cw_shm_pool_ref(p) == p);
	test_assert(cw_shm_pool_ref(p) == p);
	cw_shm_pool_unref(p);
	cw_shm_pool_unref(p);
	test_assert(pool_bytes_are(p, 0, 4096, 3)); /* ASan: still alive */
	cw_shm_pool_unref(p);
	test_assert(count_fds() == base);
}

static void test_pool_sigbus_is_absorbed(void)
{
	int base = count_fds();
	long page = sysconf(_SC_PAGESIZE);
	size_t size = 4 * (size_t)page;
	int fd = make_memfd(size, 5);
	int keep = dup(fd);
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(fd, size);
	test_assert(p);
	test_assert(pool_bytes_are(p, 0, size, 5));

	/* The app shrinks its file under the mapping. */
	test_assert(ftruncate(keep, page) == 0);
	const uint8_t *m = cw_shm_pool_begin_access(p);
	test_assert(m);
	bool head_ok = true, tail_zero = true;
	for (size_t i = 0; i < (size_t)page; i++) {
		head_ok &= m[i] == (uint8_t)(5 + i * 7);
	}
	for (size_t i = (size_t)page; i < size; i += 64) { /* would raise SIGBUS */
		tail_zero &= *(volatile const uint8_t *)(m + i) == 0;
	}
	test_assert(!cw_shm_pool_end_access(p));
	test_assert(head_ok);
	test_assert(tail_zero);

	/* Another pool, read afterwards, is not tainted by the earlier fault. */
	struct cw_shm_pool *q = cw_shm_pool_create_take_fd(make_memfd(4096, 6), 4096);
	test_assert(q && pool_bytes_are(q, 0, 4096, 6));
	cw_shm_pool_unref(q);
	cw_shm_pool_unref(p);
	close(keep);
	test_assert(count_fds() == base);
}

/* Only faults inside the accessed pool are absorbed: any other SIGBUS is a real bug and
 * must still kill the process. */
static void test_sigbus_elsewhere_is_not_absorbed(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(make_memfd(4096, 7), 4096);
	test_assert(p);
	int other = make_memfd(2 * (size_t)page, 8);
	uint8_t *om = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, other, 0);
	test_assert(om != MAP_FAILED);
	test_assert(ftruncate(other, 0) == 0);
	fflush(NULL);
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		alarm(10); /* a handler that retries the fault forever must not leave us spinning */
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2); /* the sanitizer's report of the crash is expected */
		if (!cw_shm_pool_begin_access(p)) {
			_exit(3);
		}
		volatile uint8_t v = *(volatile uint8_t *)(om + page);
		(void)v;
		_exit(0);
	}
	int status;
	test_assert(waitpid(pid, &status, 0) == pid);
	bool survived = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	test_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 3));
	test_assert(!survived);
	munmap(om, 2 * (size_t)page);
	close(other);
	cw_shm_pool_unref(p);
}

/* ---- shadow memory ---- */

static void test_mem_memfd(void)
{
	int base = count_fds();
	static const size_t sizes[] = { 1, 4095, 4096, 65537, 1920 * 1080 * 4,
		3 * 1024 * 1024 + 5 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct cw_shm_mem m;
		char why[256] = "";
		memset(&m, 0xff, sizeof(m));
		test_assert(cw_shm_mem_init(&m, NULL, sizes[k], why, sizeof(why)) == 0);
		test_assert(m.fd >= 0 && m.map != NULL && m.img == NULL);
		test_assert(m.size_bytes >= sizes[k]);
		test_assert(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
		char path[64], target[256];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", m.fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		test_assert(n > 0);
		target[n] = '\0';
		test_assert(strncmp(target, "/memfd:", 7) == 0);
		struct stat st;
		test_assert(fstat(m.fd, &st) == 0 && (size_t)st.st_size >= sizes[k]);
		/* Writable over all of size_bytes, and what is written is what the fd holds. */
		memset(m.map, 0x5a, m.size_bytes);
		m.map[0] = 1;
		m.map[sizes[k] - 1] = 2;
		uint8_t got[2];
		test_assert(pread(m.fd, &got[0], 1, 0) == 1);
		test_assert(pread(m.fd, &got[1], 1, (off_t)sizes[k] - 1) == 1);
		test_assert(sizes[k] == 1 ? got[0] == 2 : got[0] == 1 && got[1] == 2);
		cw_shm_mem_finish(&m, NULL);
		test_assert(count_fds() == base);
	}
	struct cw_shm_mem z = { .fd = -1 };
	cw_shm_mem_finish(&z, NULL);
	test_assert(count_fds() == base);
}

static void test_mem_classes(void)
{
	const size_t kib = 1024, mib = 1024 * 1024;
	size_t prev = 0;
	size_t distinct = 0, last = 0;
	/* every 64 KiB step and one byte past it, up to 256 MiB */
	for (size_t k = 0; k <= 4096; k++) {
		size_t reqs[2] = { k * 64 * kib + (k == 0), k * 64 * kib + 1 };
		for (int j = 0; j < 2; j++) {
			size_t req = reqs[j];
			if (req > 256 * mib) {
				continue;
			}
			size_t c = cw_shm_mem_class_bytes(req);
			bool ok = c >= req && c % 65536 == 0 && c >= prev;
			/* Four classes per doubling waste at most 25 %; rounding the classes
			 * to 64 KiB adds a little just above 256 KiB. */
			ok = ok && (req <= 256 * kib || c * 100 <= req * 127);
			if (!ok) {
				fprintf(stderr, "class of %zu bytes is %zu (previous class %zu)\n",
					req, c, prev);
			}
			test_assert(ok);
			prev = c;
			if (req >= 64 * kib) {
				distinct += c != last;
				last = c;
			}
		}
	}
	if (distinct >= 50) {
		fprintf(stderr, "%zu distinct classes between 64 KiB and 256 MiB\n", distinct);
	}
	test_assert(distinct < 50);
	test_assert(cw_shm_mem_class_bytes(65536) == 65536);
	/* a spread of odd sizes, monotonic too */
	prev = 0;
	for (size_t req = 1; req < 64 * mib; req = req * 5 / 4 + 4093) {
		size_t c = cw_shm_mem_class_bytes(req);
		test_assert(c >= req && c % 65536 == 0 && c >= prev);
		prev = c;
	}
}

int main(void)
{
	int fds_at_start = count_fds();
	test_assert(cw_shm_sigbus_install() == 0);
	RUN(test_format_bpp);
	RUN(test_copy_random_regions);
	RUN(test_copy_unaligned);
	RUN(test_copy_edge_regions);
	RUN(test_damage_by_hand);
	RUN(test_damage_brute_force);
	RUN(test_damage_adds_and_clips);
	RUN(test_pool_read_and_grow);
	RUN(test_pool_create_failure_closes_fd);
	RUN(test_pool_refcount);
	RUN(test_pool_sigbus_is_absorbed);
	RUN(test_sigbus_elsewhere_is_not_absorbed);
	RUN(test_mem_memfd);
	RUN(test_mem_classes);
	test_assert(count_fds() == fds_at_start);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
