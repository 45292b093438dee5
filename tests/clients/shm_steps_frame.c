/* shm_steps' frame model (see shm_steps_frame.h): what each pixel of a frame is, what
 * changed since the frame before, and the buffer-age repaint. Pure: no I/O, no Wayland. */
#include <stddef.h>
#include <string.h>

#include "shm_steps_frame.h"

/* Distinct per pixel (red = x, green = y, blue = the 256-pixel block), so that a row or a
 * column copied to the wrong place shows. The X byte of XRGB8888 varies too: a copy that
 * turned the format into ARGB8888 would blend it. */
uint32_t frame_main_bg(int x, int y)
{
	uint32_t block = (uint32_t)((((x >> 8) & 0xf) << 4) | ((y >> 8) & 0xf));
	uint32_t pad = (uint32_t)((x * 7 + y * 13) & 0xff);
	return pad << 24 | (uint32_t)(x & 0xff) << 16 | (uint32_t)(y & 0xff) << 8 |
		(block ^ 0x96);
}

/* Opaque except where a translucent sprite is, so the subsurface also checks blending. */
static uint32_t sub_bg(int x, int y)
{
	return 0xff000000u | (uint32_t)((y * 3) & 0xff) << 16 | (uint32_t)((x ^ 0x80) & 0xff) << 8 |
		(uint32_t)((x + y) & 0xff);
}

struct sprite {
	int w_pct, h_pct; /* of the buffer size */
	int vx, vy;       /* pixels per frame */
	int x0, y0;
	uint32_t main_color, sub_color; /* premultiplied ARGB */
};

static const struct sprite sprites[NSPRITES] = {
	{ 22, 18, 7, 5, 0, 11, 0xffe02828u, 0xff20c0c0u },
	{ 15, 25, -5, 9, 40, 3, 0xff28d040u, 0x80402000u },
	{ 30, 12, 11, -4, 17, 60, 0xff3040f0u, 0xfff0f0f0u },
};

/* A triangle wave over [0, span]: sprites bounce inside the buffer. */
static int tri(long t, int span)
{
	if (span <= 0) {
		return 0;
	}
	long p = t % (2L * span);
	if (p < 0) {
		p += 2L * span;
	}
	return (int)(p <= span ? p : 2L * span - p);
}

static struct rect sprite_rect(int i, long frame, int bw, int bh)
{
	const struct sprite *s = &sprites[i];
	struct rect r;
	r.w = bw * s->w_pct / 100;
	r.h = bh * s->h_pct / 100;
	r.w = r.w < 2 ? 2 : r.w;
	r.h = r.h < 2 ? 2 : r.h;
	r.x = tri(frame * s->vx + s->x0, bw - r.w);
	r.y = tri(frame * s->vy + s->y0, bh - r.h);
	return r;
}

static bool intersect(struct rect a, struct rect b, struct rect *out)
{
	int x1 = a.x > b.x ? a.x : b.x;
	int y1 = a.y > b.y ? a.y : b.y;
	int x2 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
	int y2 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
	if (x1 >= x2 || y1 >= y2) {
		return false;
	}
	*out = (struct rect){ x1, y1, x2 - x1, y2 - y1 };
	return true;
}

/* Paints the part r of frame `frame` into c: background, then the sprites in order. */
static void paint(const struct frame_layer *fl, struct canvas *c, struct rect r, long frame)
{
	struct rect all = { 0, 0, c->w, c->h };
	if (!intersect(r, all, &r)) {
		return;
	}
	for (int y = r.y; y < r.y + r.h; y++) {
		uint32_t *row = c->data + (size_t)y * (size_t)c->w;
		for (int x = r.x; x < r.x + r.w; x++) {
			row[x] = fl->is_sub ? sub_bg(x, y) : frame_main_bg(x, y);
		}
	}
	for (int i = 0; i < NSPRITES; i++) {
		struct rect s;
		if (!intersect(r, sprite_rect(i, frame, c->w, c->h), &s)) {
			continue;
		}
		uint32_t color = fl->is_sub ? sprites[i].sub_color : sprites[i].main_color;
		for (int y = s.y; y < s.y + s.h; y++) {
			uint32_t *row = c->data + (size_t)y * (size_t)c->w;
			for (int x = s.x; x < s.x + s.w; x++) {
				row[x] = color;
			}
		}
	}
}

void frame_layer_reset(struct frame_layer *fl)
{
	fl->frame = -1;
	for (int i = 0; i < HIST; i++) {
		fl->hist[i].frame = -1;
	}
}

struct frame_damage frame_damage(const struct frame_layer *fl, long frame)
{
	struct frame_damage d = { .frame = frame };
	struct rect all = { 0, 0, fl->bw, fl->bh };
	if (fl->dirty || fl->frame < 0 || fl->frame != frame - 1) {
		d.full = true;
		return d;
	}
	for (int i = 0; i < NSPRITES; i++) {
		struct rect r;
		if (intersect(sprite_rect(i, frame - 1, fl->bw, fl->bh), all, &r)) {
			d.r[d.n++] = r;
		}
		if (intersect(sprite_rect(i, frame, fl->bw, fl->bh), all, &r)) {
			d.r[d.n++] = r;
		}
	}
	return d;
}

void frame_repaint(const struct frame_layer *fl, struct canvas *c, long frame)
{
	struct rect all = { 0, 0, c->w, c->h };
	bool full = c->frame < 0 || frame - c->frame > HIST;
	for (long f = c->frame + 1; !full && f <= frame; f++) {
		const struct frame_damage *d = &fl->hist[f % HIST];
		full = d->frame != f || d->full;
	}
	if (full) {
		paint(fl, c, all, frame);
	} else {
		for (long f = c->frame + 1; f <= frame; f++) {
			const struct frame_damage *d = &fl->hist[f % HIST];
			for (int i = 0; i < d->n; i++) {
				paint(fl, c, d->r[i], frame);
			}
		}
	}
	c->frame = frame;
}

bool frame_diff_find(const struct frame_layer *fl, const struct canvas *c, uint32_t *scratch,
	struct frame_diff *diff)
{
	struct canvas s = { .data = scratch, .w = c->w, .h = c->h };
	paint(fl, &s, (struct rect){ 0, 0, c->w, c->h }, c->frame);
	if (memcmp(scratch, c->data, (size_t)c->w * (size_t)c->h * 4) == 0) {
		return false;
	}
	for (int i = 0; i < c->w * c->h; i++) {
		if (scratch[i] != c->data[i]) {
			*diff = (struct frame_diff){ i % c->w, i / c->w, c->data[i], scratch[i] };
			break;
		}
	}
	return true;
}
