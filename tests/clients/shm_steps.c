/* shm_steps: integration-test client for pixel-exact wl_shm checks. It maps one
 * xdg_toplevel (app_id "shm-steps") whose frames are pure functions of the frame number,
 * reads commands from stdin (one per line, see usage()) and answers "ok <command>" once
 * the result is on screen. Any failure prints one line on stderr and exits 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "viewporter-client-protocol.h"
#include "xdg-shell-client-protocol.h"

#define MAX_BUFS 3
#define HIST 8               /* frames of damage kept for the buffer-age repaint */
#define NSPRITES 3
#define MAX_DAMAGE (2 * NSPRITES)
#define WAIT_MS 10000        /* for any one event the client waits for */
#define SUB_X 24             /* subsurface position in the parent's surface coordinates */
#define SUB_Y 16
#define SUB_W 96
#define SUB_H 64
#define POISON 0xffff00ffu   /* magenta: a released lone buffer holds it for a while */
#define CYCLE_SIZE 256
#define CYCLE_FRAME_EVERY 10 /* cycles that also wait for a frame callback */

struct rect {
	int x, y, w, h;
};

struct buf {
	struct wl_buffer *wl; /* owned */
	uint32_t *data;       /* owned: the whole mapping of the buffer's own pool */
	size_t size_bytes;
	int w, h;
	bool busy;    /* attached and committed, no wl_buffer.release yet */
	bool retired; /* no longer in a layer's set: destroyed on release */
	long frame;   /* frame whose content the buffer holds; -1: none */
};

struct frame_damage {
	long frame; /* -1: empty slot */
	bool full;
	int n;
	struct rect r[MAX_DAMAGE];
};

/* A surface this client draws: the toplevel's or the subsurface's. */
struct layer {
	struct wl_surface *surface; /* owned */
	bool is_sub;
	uint32_t format;
	struct buf *bufs[MAX_BUFS]; /* owned; retired ones are owned by their release */
	int nbufs;
	int bw, bh;   /* buffer size in pixels */
	long frame;   /* last committed frame; -1 before the first */
	bool dirty;   /* the next frame damages everything (geometry changed) */
	struct frame_damage hist[HIST];
};

enum damage_mode {
	DAMAGE_SURFACE,
	DAMAGE_BUFFER,
	DAMAGE_FULL, /* reference: whole-surface damage on every frame */
};

struct state {
	struct wl_display *display;         /* owned */
	struct wl_compositor *compositor;   /* owned */
	struct wl_subcompositor *subcomp;   /* owned */
	struct wl_shm *shm;                 /* owned */
	struct xdg_wm_base *wm;             /* owned */
	struct wp_viewporter *viewporter;   /* owned */
	struct xdg_surface *xdg_surface;    /* owned */
	struct xdg_toplevel *toplevel;      /* owned */
	struct wp_viewport *viewport;       /* owned; NULL when off */
	struct wl_subsurface *subsurface;   /* owned; NULL when off */
	struct layer main, sub;
	bool configured;
	bool sub_on;
	/* Main surface geometry: the size is in surface units before the viewport. */
	int width, height, scale;
	int transform; /* enum wl_output_transform */
	double src_x, src_y, src_w, src_h;
	int dst_w, dst_h;
	int nbufs;
	enum damage_mode damage;
	long frame; /* the frame number the next frame gets */
	bool frame_done;
	char in[4096]; /* stdin bytes not yet consumed */
	size_t in_len;
	bool in_eof;
};

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "shm_steps: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* -- frame content -------------------------------------------------------------------- */

/* Distinct per pixel (red = x, green = y, blue = the 256-pixel block), so that a row or a
 * column copied to the wrong place shows. The X byte of XRGB8888 varies too: a copy that
 * turned the format into ARGB8888 would blend it. */
static uint32_t main_bg(int x, int y)
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

/* Paints the part r of frame `frame` into b: background, then the sprites in order. */
static void paint(const struct layer *l, struct buf *b, struct rect r, long frame)
{
	struct rect all = { 0, 0, b->w, b->h };
	if (!intersect(r, all, &r)) {
		return;
	}
	for (int y = r.y; y < r.y + r.h; y++) {
		uint32_t *row = b->data + (size_t)y * (size_t)b->w;
		for (int x = r.x; x < r.x + r.w; x++) {
			row[x] = l->is_sub ? sub_bg(x, y) : main_bg(x, y);
		}
	}
	for (int i = 0; i < NSPRITES; i++) {
		struct rect s;
		if (!intersect(r, sprite_rect(i, frame, b->w, b->h), &s)) {
			continue;
		}
		uint32_t c = l->is_sub ? sprites[i].sub_color : sprites[i].main_color;
		for (int y = s.y; y < s.y + s.h; y++) {
			uint32_t *row = b->data + (size_t)y * (size_t)b->w;
			for (int x = s.x; x < s.x + s.w; x++) {
				row[x] = c;
			}
		}
	}
}

/* Brings b from the frame it holds to `frame` by repainting the union of the damage of
 * the frames in between (buffer age); all of it when that history is not known. */
static void repaint(const struct layer *l, struct buf *b, long frame)
{
	struct rect all = { 0, 0, b->w, b->h };
	bool full = b->frame < 0 || frame - b->frame > HIST;
	for (long f = b->frame + 1; !full && f <= frame; f++) {
		const struct frame_damage *d = &l->hist[f % HIST];
		full = d->frame != f || d->full;
	}
	if (full) {
		paint(l, b, all, frame);
	} else {
		for (long f = b->frame + 1; f <= frame; f++) {
			const struct frame_damage *d = &l->hist[f % HIST];
			for (int i = 0; i < d->n; i++) {
				paint(l, b, d->r[i], frame);
			}
		}
	}
	b->frame = frame;
}

/* The buffer-age repaint must leave exactly the frame a full paint would: checked on
 * every frame against a scratch full paint, before the buffer is attached. */
static void verify(const struct layer *l, const struct buf *b, long frame)
{
	static uint32_t *scratch;
	static size_t scratch_bytes;
	if (scratch_bytes < b->size_bytes) {
		free(scratch);
		scratch = malloc(b->size_bytes);
		scratch_bytes = b->size_bytes;
		if (scratch == NULL) {
			die("out of memory");
		}
	}
	struct buf s = { .data = scratch, .size_bytes = b->size_bytes, .w = b->w, .h = b->h };
	paint(l, &s, (struct rect){ 0, 0, b->w, b->h }, frame);
	if (memcmp(scratch, b->data, (size_t)b->w * (size_t)b->h * 4) == 0) {
		return;
	}
	for (int i = 0; i < b->w * b->h; i++) {
		if (scratch[i] != b->data[i]) {
			die("frame %ld: buffer pixel (%d,%d) is %08x after the repaint, "
				"a full paint gives %08x", frame, i % b->w, i / b->w, b->data[i],
				scratch[i]);
		}
	}
}

/* -- buffers -------------------------------------------------------------------------- */

static void buf_destroy(struct buf *b)
{
	if (b == NULL) {
		return;
	}
	wl_buffer_destroy(b->wl);
	munmap(b->data, b->size_bytes);
	free(b);
}

static void handle_buffer_release(void *data, struct wl_buffer *wl)
{
	struct buf *b = data;
	if (!b->busy) {
		die("wl_buffer.release for a buffer that was not busy");
	}
	b->busy = false;
	if (b->retired) {
		buf_destroy(b);
	}
}

static const struct wl_buffer_listener buffer_listener = {
	.release = handle_buffer_release,
};

static struct wl_buffer *create_shm_buffer(struct state *st, int w, int h, uint32_t format,
	uint32_t **data, size_t *size_bytes)
{
	size_t size = (size_t)w * (size_t)h * 4;
	int fd = memfd_create("shm-steps", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		die("memfd for a %dx%d buffer: %s", w, h, strerror(errno));
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		die("mmap of a %zu-byte pool: %s", size, strerror(errno));
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(st->shm, fd, (int32_t)size);
	struct wl_buffer *wl = wl_shm_pool_create_buffer(pool, 0, w, h, w * 4, format);
	/* The buffer keeps the pool's memory alive on both sides. */
	wl_shm_pool_destroy(pool);
	close(fd);
	*data = p;
	*size_bytes = size;
	return wl;
}

static struct buf *buf_create(struct state *st, int w, int h, uint32_t format)
{
	struct buf *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		die("out of memory");
	}
	b->w = w;
	b->h = h;
	b->frame = -1;
	b->wl = create_shm_buffer(st, w, h, format, &b->data, &b->size_bytes);
	wl_buffer_add_listener(b->wl, &buffer_listener, b);
	return b;
}

/* Drops a layer's buffers; busy ones live on until the compositor releases them. */
static void layer_drop_buffers(struct layer *l)
{
	for (int i = 0; i < l->nbufs; i++) {
		struct buf *b = l->bufs[i];
		l->bufs[i] = NULL;
		if (b->busy) {
			b->retired = true;
		} else {
			buf_destroy(b);
		}
	}
	l->nbufs = 0;
}

/* Makes the layer's set n buffers of w x h, keeping the old ones if they fit. */
static void layer_set_buffers(struct state *st, struct layer *l, int n, int w, int h)
{
	if (l->nbufs == n && l->bw == w && l->bh == h) {
		return;
	}
	if (l->bw != w || l->bh != h) {
		l->dirty = true;
	}
	layer_drop_buffers(l);
	l->bw = w;
	l->bh = h;
	for (int i = 0; i < n; i++) {
		l->bufs[i] = buf_create(st, w, h, l->format);
	}
	l->nbufs = n;
}

/* -- event loop ----------------------------------------------------------------------- */

/* One round of the event loop: flushes, waits up to timeout_ms for the compositor (and
 * stdin when want_stdin) and dispatches. Returns true if stdin became readable. */
static bool pump(struct state *st, int timeout_ms, bool want_stdin)
{
	while (wl_display_prepare_read(st->display) != 0) {
		if (wl_display_dispatch_pending(st->display) < 0) {
			goto err;
		}
	}
	short out = 0;
	if (wl_display_flush(st->display) < 0) {
		if (errno != EAGAIN) {
			wl_display_cancel_read(st->display);
			goto err;
		}
		out = POLLOUT; /* the rest goes once the socket drains */
	}
	struct pollfd fds[2] = {
		{ .fd = wl_display_get_fd(st->display), .events = POLLIN | out },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	int n = poll(fds, want_stdin ? 2 : 1, timeout_ms);
	if (n < 0 && errno != EINTR) {
		wl_display_cancel_read(st->display);
		die("poll: %s", strerror(errno));
	}
	if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
		if (wl_display_read_events(st->display) < 0) {
			goto err;
		}
	} else {
		wl_display_cancel_read(st->display);
	}
	if (wl_display_dispatch_pending(st->display) < 0) {
		goto err;
	}
	return want_stdin && n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));
err:;
	int e = wl_display_get_error(st->display);
	const struct wl_interface *iface = NULL;
	uint32_t id = 0;
	if (e == EPROTO) {
		uint32_t code = wl_display_get_protocol_error(st->display, &iface, &id);
		die("protocol error %u on %s@%u", code, iface ? iface->name : "?", id);
	}
	die("connection to the compositor failed: %s", strerror(e ? e : errno));
	return false;
}

/* Dispatches until *flag is true; gives up after WAIT_MS. */
static void wait_flag(struct state *st, const bool *flag, const char *what)
{
	long deadline = now_ms() + WAIT_MS;
	while (!*flag) {
		long left = deadline - now_ms();
		if (left <= 0) {
			die("timed out after %d ms waiting for %s", WAIT_MS, what);
		}
		pump(st, (int)left, false);
	}
}

static void roundtrip(struct state *st)
{
	if (wl_display_roundtrip(st->display) < 0) {
		pump(st, 0, false); /* reports the error */
		die("wl_display_roundtrip failed");
	}
}

static struct buf *free_buffer(struct layer *l)
{
	for (int i = 0; i < l->nbufs; i++) {
		if (!l->bufs[i]->busy) {
			return l->bufs[i];
		}
	}
	return NULL;
}

/* A buffer the compositor has released; waits for a wl_buffer.release if need be.
 * A lone buffer is then overwritten at once, first with poison and after a round trip
 * with the whole next frame: a proxy that released it before it had finished reading
 * would show the poison or the wrong frame. */
static struct buf *acquire(struct state *st, struct layer *l)
{
	long deadline = now_ms() + WAIT_MS;
	struct buf *b;
	while ((b = free_buffer(l)) == NULL) {
		long left = deadline - now_ms();
		if (left <= 0) {
			die("timed out after %d ms waiting for wl_buffer.release (%d buffers)",
				WAIT_MS, l->nbufs);
		}
		pump(st, (int)left, false);
	}
	if (l->nbufs == 1 && b->frame >= 0) {
		for (size_t i = 0; i < b->size_bytes / 4; i++) {
			b->data[i] = POISON;
		}
		b->frame = -1;
		roundtrip(st);
		if (b->busy) {
			die("the released buffer became busy again without a commit");
		}
	}
	return b;
}

/* -- protocol listeners --------------------------------------------------------------- */

static void handle_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = {
	.ping = handle_ping,
};

/* The suggested size is ignored: the client keeps its own. Once mapped, a configure is
 * answered by an ack and a commit without new content, so that the compositor's
 * transaction completes and the frames stay a function of the commands alone. */
static void handle_xdg_surface_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct state *st = data;
	xdg_surface_ack_configure(xs, serial);
	if (st->configured) {
		wl_surface_commit(st->main.surface);
	}
	st->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_surface_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *tl, int32_t w,
	int32_t h, struct wl_array *states)
{
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *tl)
{
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void handle_frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct state *st = data;
	st->frame_done = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void handle_global(void *data, struct wl_registry *reg, uint32_t name,
	const char *iface, uint32_t version)
{
	struct state *st = data;
	if (strcmp(iface, wl_compositor_interface.name) == 0) {
		/* Version 4 has wl_surface.damage_buffer. */
		if (version < 4) {
			die("wl_compositor version %u, need 4 for damage_buffer", version);
		}
		st->compositor = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	} else if (strcmp(iface, wl_subcompositor_interface.name) == 0) {
		st->subcomp = wl_registry_bind(reg, name, &wl_subcompositor_interface, 1);
	} else if (strcmp(iface, wl_shm_interface.name) == 0) {
		st->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	} else if (strcmp(iface, xdg_wm_base_interface.name) == 0) {
		st->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface,
			min_u32(version, 3));
		xdg_wm_base_add_listener(st->wm, &wm_listener, st);
	} else if (strcmp(iface, wp_viewporter_interface.name) == 0) {
		st->viewporter = wl_registry_bind(reg, name, &wp_viewporter_interface, 1);
	}
}

static void handle_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

/* -- damage --------------------------------------------------------------------------- */

static bool is_swapping(int transform)
{
	return transform & 1; /* 90, 270 and their flipped forms */
}

/* Inverse of the buffer transform for a point in scaled buffer coordinates (bx, by):
 * the point of the untransformed surface (w x h) that lands there. The forward mapping
 * is the one of weston_transformed_coord and wlroots' wlr_region_transform. */
static void untransform(int transform, double w, double h, double bx, double by, double *sx,
	double *sy)
{
	switch (transform) {
	default:
	case WL_OUTPUT_TRANSFORM_NORMAL:
		*sx = bx, *sy = by;
		break;
	case WL_OUTPUT_TRANSFORM_90:
		*sx = w - by, *sy = bx;
		break;
	case WL_OUTPUT_TRANSFORM_180:
		*sx = w - bx, *sy = h - by;
		break;
	case WL_OUTPUT_TRANSFORM_270:
		*sx = by, *sy = h - bx;
		break;
	case WL_OUTPUT_TRANSFORM_FLIPPED:
		*sx = w - bx, *sy = by;
		break;
	case WL_OUTPUT_TRANSFORM_FLIPPED_90:
		*sx = by, *sy = bx;
		break;
	case WL_OUTPUT_TRANSFORM_FLIPPED_180:
		*sx = bx, *sy = h - by;
		break;
	case WL_OUTPUT_TRANSFORM_FLIPPED_270:
		*sx = w - by, *sy = h - bx;
		break;
	}
}

/* A buffer-space rectangle of the main surface in surface coordinates, rounded outwards:
 * scale, then transform, then the viewport's crop and stretch. False if it falls outside
 * the viewport's source. */
static bool buffer_to_surface(const struct state *st, struct rect r, struct rect *out)
{
	int nw = st->width, nh = st->height; /* before the viewport */
	double s = st->scale;
	double ax, ay, bx, by;
	untransform(st->transform, nw, nh, r.x / s, r.y / s, &ax, &ay);
	untransform(st->transform, nw, nh, (r.x + r.w) / s, (r.y + r.h) / s, &bx, &by);
	double x1 = fmin(ax, bx), x2 = fmax(ax, bx);
	double y1 = fmin(ay, by), y2 = fmax(ay, by);
	double sw = nw, sh = nh;
	if (st->viewport != NULL) {
		x1 = (x1 - st->src_x) * st->dst_w / st->src_w;
		x2 = (x2 - st->src_x) * st->dst_w / st->src_w;
		y1 = (y1 - st->src_y) * st->dst_h / st->src_h;
		y2 = (y2 - st->src_y) * st->dst_h / st->src_h;
		sw = st->dst_w;
		sh = st->dst_h;
	}
	int ix1 = (int)floor(fmax(x1, 0)), iy1 = (int)floor(fmax(y1, 0));
	int ix2 = (int)ceil(fmin(x2, sw)), iy2 = (int)ceil(fmin(y2, sh));
	if (ix1 >= ix2 || iy1 >= iy2) {
		return false;
	}
	*out = (struct rect){ ix1, iy1, ix2 - ix1, iy2 - iy1 };
	return true;
}

static void submit_damage(struct state *st, struct layer *l, const struct frame_damage *d)
{
	enum damage_mode mode = st->damage;
	if (d->full || mode == DAMAGE_FULL) {
		/* INT32_MAX is what clients commonly send for "all of it". */
		if (mode == DAMAGE_BUFFER) {
			wl_surface_damage_buffer(l->surface, 0, 0, INT32_MAX, INT32_MAX);
		} else {
			wl_surface_damage(l->surface, 0, 0, INT32_MAX, INT32_MAX);
		}
		return;
	}
	for (int i = 0; i < d->n; i++) {
		struct rect r = d->r[i];
		if (mode == DAMAGE_BUFFER) {
			wl_surface_damage_buffer(l->surface, r.x, r.y, r.w, r.h);
			continue;
		}
		/* The subsurface has scale 1, no transform and no viewport. */
		if (!l->is_sub && !buffer_to_surface(st, r, &r)) {
			continue;
		}
		wl_surface_damage(l->surface, r.x, r.y, r.w, r.h);
	}
}

/* -- frames --------------------------------------------------------------------------- */

static struct frame_damage frame_damage(struct layer *l, long frame)
{
	struct frame_damage d = { .frame = frame };
	struct rect all = { 0, 0, l->bw, l->bh };
	if (l->dirty || l->frame < 0 || l->frame != frame - 1) {
		d.full = true;
		return d;
	}
	for (int i = 0; i < NSPRITES; i++) {
		struct rect r;
		if (intersect(sprite_rect(i, frame - 1, l->bw, l->bh), all, &r)) {
			d.r[d.n++] = r;
		}
		if (intersect(sprite_rect(i, frame, l->bw, l->bh), all, &r)) {
			d.r[d.n++] = r;
		}
	}
	return d;
}

/* Draws frame st->frame into b and commits it on l (the caller acquired b). */
static void commit_layer(struct state *st, struct layer *l, struct buf *b, bool want_frame)
{
	long frame = st->frame;
	struct frame_damage d = frame_damage(l, frame);
	l->hist[frame % HIST] = d;
	repaint(l, b, frame);
	verify(l, b, frame);
	wl_surface_attach(l->surface, b->wl, 0, 0);
	submit_damage(st, l, &d);
	if (want_frame) {
		struct wl_callback *cb = wl_surface_frame(l->surface);
		wl_callback_add_listener(cb, &frame_listener, st);
		st->frame_done = false;
	}
	wl_surface_commit(l->surface);
	b->busy = true;
	l->frame = frame;
	l->dirty = false;
}

/* One frame: the subsurface first (its state waits for the parent's commit), then the
 * parent. Both buffers are acquired before either commit so that no event (a configure
 * answered by a commit) can split the frame. */
static void draw_frame(struct state *st, bool want_frame)
{
	struct buf *sb = st->sub_on ? acquire(st, &st->sub) : NULL;
	struct buf *mb = acquire(st, &st->main);
	if (sb != NULL && sb->busy) {
		die("subsurface buffer became busy while waiting for the parent's");
	}
	if (sb != NULL) {
		commit_layer(st, &st->sub, sb, false);
	}
	commit_layer(st, &st->main, mb, want_frame);
	st->frame++;
}

static void wait_shown(struct state *st)
{
	wait_flag(st, &st->frame_done, "the frame callback");
	roundtrip(st);
}

/* Applies the main surface's geometry: buffer size from size, scale and transform. */
static void apply_geometry(struct state *st)
{
	int bw = st->width * st->scale, bh = st->height * st->scale;
	if (is_swapping(st->transform)) {
		int t = bw;
		bw = bh;
		bh = t;
	}
	layer_set_buffers(st, &st->main, st->nbufs, bw, bh);
	if (st->sub_on) {
		layer_set_buffers(st, &st->sub, st->nbufs, SUB_W, SUB_H);
	}
}

/* -- commands ------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: shm_steps < commands\n"
		"commands, one per line; each answers \"ok <command>\" once shown:\n"
		"  buffers N                      1-3 buffers in rotation (1: reuse on release)\n"
		"  damage surface|buffer|full     wl_surface.damage, damage_buffer, or everything\n"
		"  frames N                       N frames, each waiting for its frame callback\n"
		"  burst N                        N frames without waiting for frame callbacks\n"
		"  size W H                       surface size before scale, transform, viewport\n"
		"  scale S                        set_buffer_scale (the buffer grows with it)\n"
		"  transform T                    set_buffer_transform (wl_output.transform T)\n"
		"  viewport SX SY SW SH DW DH     wp_viewport source and destination\n"
		"  viewport off\n"
		"  subsurface on|off              a subsurface with its own buffers at (%d,%d)\n"
		"  cycles N                       N create/draw/destroy cycles of a toplevel\n"
		"  quit\n",
		SUB_X, SUB_Y);
}

static void cmd_subsurface(struct state *st, bool on)
{
	if (on == st->sub_on) {
		return;
	}
	if (on) {
		st->sub.surface = wl_compositor_create_surface(st->compositor);
		st->subsurface = wl_subcompositor_get_subsurface(st->subcomp, st->sub.surface,
			st->main.surface);
		wl_subsurface_set_position(st->subsurface, SUB_X, SUB_Y);
		st->sub.frame = -1;
		st->sub.dirty = true;
		for (int i = 0; i < HIST; i++) {
			st->sub.hist[i].frame = -1;
		}
		st->sub_on = true;
		layer_set_buffers(st, &st->sub, st->nbufs, SUB_W, SUB_H);
	} else {
		wl_subsurface_destroy(st->subsurface);
		st->subsurface = NULL;
		wl_surface_destroy(st->sub.surface);
		st->sub.surface = NULL;
		/* The buffers go with the surface: nothing writes into them again, and
		 * libwayland drops a release that comes for a destroyed wl_buffer. */
		for (int i = 0; i < st->sub.nbufs; i++) {
			st->sub.bufs[i]->busy = false;
		}
		layer_drop_buffers(&st->sub);
		st->sub.bw = st->sub.bh = 0;
		st->sub_on = false;
	}
}

static void cmd_viewport(struct state *st, const char *args)
{
	double sx, sy, sw, sh;
	int dw, dh;
	if (strcmp(args, "off") == 0) {
		if (st->viewport != NULL) {
			wp_viewport_destroy(st->viewport);
			st->viewport = NULL;
		}
		st->main.dirty = true;
		return;
	}
	if (sscanf(args, "%lf %lf %lf %lf %d %d", &sx, &sy, &sw, &sh, &dw, &dh) != 6) {
		die("viewport needs SX SY SW SH DW DH or off, got %s", args);
	}
	int nw = st->width, nh = st->height;
	if (sx < 0 || sy < 0 || sw <= 0 || sh <= 0 || sx + sw > nw || sy + sh > nh || dw <= 0 ||
		dh <= 0) {
		die("viewport source %g,%g %gx%g must lie inside the %dx%d surface, destination "
			"%dx%d must be positive", sx, sy, sw, sh, nw, nh, dw, dh);
	}
	if (st->viewporter == NULL) {
		die("the compositor offers no wp_viewporter");
	}
	if (st->viewport == NULL) {
		st->viewport = wp_viewporter_get_viewport(st->viewporter, st->main.surface);
	}
	wp_viewport_set_source(st->viewport, wl_fixed_from_double(sx), wl_fixed_from_double(sy),
		wl_fixed_from_double(sw), wl_fixed_from_double(sh));
	wp_viewport_set_destination(st->viewport, dw, dh);
	/* What the client computes with must be what the compositor got. */
	st->src_x = wl_fixed_to_double(wl_fixed_from_double(sx));
	st->src_y = wl_fixed_to_double(wl_fixed_from_double(sy));
	st->src_w = wl_fixed_to_double(wl_fixed_from_double(sw));
	st->src_h = wl_fixed_to_double(wl_fixed_from_double(sh));
	st->dst_w = dw;
	st->dst_h = dh;
	st->main.dirty = true;
}

struct cycle_configure {
	bool got;
	uint32_t serial;
};

static void handle_cycle_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct cycle_configure *c = data;
	c->got = true;
	c->serial = serial;
}

static const struct xdg_surface_listener cycle_xdg_listener = {
	.configure = handle_cycle_configure,
};

/* n times: a new toplevel with a new pool and buffer, shown, then all of it destroyed.
 * A memory check runs this through the proxy and watches the proxy's fds and RSS. */
static void cmd_cycles(struct state *st, long n)
{
	size_t size = (size_t)CYCLE_SIZE * CYCLE_SIZE * 4;
	int fd = memfd_create("shm-cycles", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		die("memfd for the cycles: %s", strerror(errno));
	}
	uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED) {
		die("mmap for the cycles: %s", strerror(errno));
	}
	for (int y = 0; y < CYCLE_SIZE; y++) {
		for (int x = 0; x < CYCLE_SIZE; x++) {
			px[y * CYCLE_SIZE + x] = 0xff000000u | main_bg(x, y);
		}
	}
	for (long i = 0; i < n; i++) {
		struct cycle_configure conf = { 0 };
		struct wl_surface *s = wl_compositor_create_surface(st->compositor);
		struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(st->wm, s);
		xdg_surface_add_listener(xs, &cycle_xdg_listener, &conf);
		struct xdg_toplevel *tl = xdg_surface_get_toplevel(xs);
		xdg_toplevel_set_app_id(tl, "shm-cycles");
		wl_surface_commit(s);
		/* wlroots sends the first configure from an idle callback, after the reply
		 * to a sync sent with the commit: wait for the event itself. */
		wait_flag(st, &conf.got, "a cycle's first xdg_surface.configure");
		xdg_surface_ack_configure(xs, conf.serial);
		struct wl_shm_pool *pool = wl_shm_create_pool(st->shm, fd, (int32_t)size);
		struct wl_buffer *b = wl_shm_pool_create_buffer(pool, 0, CYCLE_SIZE, CYCLE_SIZE,
			CYCLE_SIZE * 4, WL_SHM_FORMAT_ARGB8888);
		wl_surface_attach(s, b, 0, 0);
		wl_surface_damage_buffer(s, 0, 0, CYCLE_SIZE, CYCLE_SIZE);
		bool framed = i % CYCLE_FRAME_EVERY == 0;
		if (framed) {
			struct wl_callback *cb = wl_surface_frame(s);
			wl_callback_add_listener(cb, &frame_listener, st);
			st->frame_done = false;
		}
		wl_surface_commit(s);
		if (framed) {
			wait_flag(st, &st->frame_done, "a cycle's frame callback");
		}
		roundtrip(st);
		/* The surface goes first, which releases the buffer; the rest in reverse. */
		xdg_toplevel_destroy(tl);
		xdg_surface_destroy(xs);
		wl_surface_destroy(s);
		wl_buffer_destroy(b);
		wl_shm_pool_destroy(pool);
	}
	roundtrip(st);
	munmap(px, size);
	close(fd);
}

static long parse_count(const char *cmd, const char *arg, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
		die("%s: expected a number in [%ld, %ld], got \"%s\"", cmd, lo, hi, arg);
	}
	return v;
}

/* Runs one command; returns false for quit. Every command that changes what is shown
 * commits a frame and waits until it is on screen. */
static bool run_command(struct state *st, char *line)
{
	char *args = strchr(line, ' ');
	if (args != NULL) {
		*args++ = '\0';
	} else {
		args = line + strlen(line);
	}
	if (strcmp(line, "quit") == 0) {
		return false;
	} else if (strcmp(line, "buffers") == 0) {
		st->nbufs = (int)parse_count(line, args, 1, MAX_BUFS);
		apply_geometry(st);
	} else if (strcmp(line, "damage") == 0) {
		if (strcmp(args, "surface") == 0) {
			st->damage = DAMAGE_SURFACE;
		} else if (strcmp(args, "buffer") == 0) {
			st->damage = DAMAGE_BUFFER;
		} else if (strcmp(args, "full") == 0) {
			st->damage = DAMAGE_FULL;
		} else {
			die("damage: expected surface, buffer or full, got \"%s\"", args);
		}
		return true; /* takes effect with the next frame */
	} else if (strcmp(line, "frames") == 0 || strcmp(line, "burst") == 0) {
		bool paced = line[0] == 'f';
		long n = parse_count(line, args, 1, 10000);
		for (long i = 0; i < n; i++) {
			draw_frame(st, paced || i == n - 1);
			if (paced || i == n - 1) {
				wait_flag(st, &st->frame_done, "the frame callback");
			}
		}
		roundtrip(st);
		return true;
	} else if (strcmp(line, "size") == 0) {
		int w, h;
		if (sscanf(args, "%d %d", &w, &h) != 2 || w < 8 || h < 8 || w > 2048 || h > 2048) {
			die("size: expected W H in [8, 2048], got \"%s\"", args);
		}
		if (st->viewport != NULL &&
			(st->src_x + st->src_w > w || st->src_y + st->src_h > h)) {
			die("size %dx%d would put the viewport's source outside the surface", w, h);
		}
		st->width = w;
		st->height = h;
		apply_geometry(st);
	} else if (strcmp(line, "scale") == 0) {
		st->scale = (int)parse_count(line, args, 1, 4);
		wl_surface_set_buffer_scale(st->main.surface, st->scale);
		st->main.dirty = true;
		apply_geometry(st);
	} else if (strcmp(line, "transform") == 0) {
		st->transform = (int)parse_count(line, args, 0, 7);
		wl_surface_set_buffer_transform(st->main.surface, st->transform);
		st->main.dirty = true;
		apply_geometry(st);
	} else if (strcmp(line, "viewport") == 0) {
		cmd_viewport(st, args);
	} else if (strcmp(line, "subsurface") == 0) {
		if (strcmp(args, "on") != 0 && strcmp(args, "off") != 0) {
			die("subsurface: expected on or off, got \"%s\"", args);
		}
		if (st->subcomp == NULL) {
			die("the compositor offers no wl_subcompositor");
		}
		cmd_subsurface(st, strcmp(args, "on") == 0);
	} else if (strcmp(line, "cycles") == 0) {
		cmd_cycles(st, parse_count(line, args, 1, 100000));
		return true;
	} else {
		usage();
		die("unknown command \"%s\"", line);
	}
	draw_frame(st, true);
	wait_shown(st);
	return true;
}

/* The next line from stdin, serving the compositor while none is complete; NULL at EOF. */
static char *read_line(struct state *st, char *out, size_t out_size)
{
	for (;;) {
		char *nl = memchr(st->in, '\n', st->in_len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - st->in);
			if (n >= out_size) {
				die("command line longer than %zu bytes", out_size - 1);
			}
			memcpy(out, st->in, n);
			out[n] = '\0';
			memmove(st->in, nl + 1, st->in_len - n - 1);
			st->in_len -= n + 1;
			if (n > 0 && out[n - 1] == '\r') {
				out[n - 1] = '\0';
			}
			return out;
		}
		if (st->in_eof) {
			return NULL;
		}
		if (st->in_len == sizeof(st->in)) {
			die("command line longer than %zu bytes", sizeof(st->in));
		}
		if (!pump(st, -1, true)) {
			continue;
		}
		ssize_t r = read(STDIN_FILENO, st->in + st->in_len, sizeof(st->in) - st->in_len);
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			die("reading stdin: %s", strerror(errno));
		}
		if (r == 0) {
			st->in_eof = true;
		}
		st->in_len += r > 0 ? (size_t)r : 0;
	}
}

static void setup(struct state *st)
{
	st->display = wl_display_connect(NULL);
	if (st->display == NULL) {
		const char *name = getenv("WAYLAND_DISPLAY");
		die("cannot connect to the compositor (WAYLAND_DISPLAY=%s): %s", name ? name : "",
			strerror(errno));
	}
	struct wl_registry *reg = wl_display_get_registry(st->display);
	wl_registry_add_listener(reg, &registry_listener, st);
	roundtrip(st);
	wl_registry_destroy(reg);
	if (st->compositor == NULL || st->shm == NULL || st->wm == NULL) {
		die("the compositor lacks wl_compositor, wl_shm or xdg_wm_base");
	}
	st->main.format = WL_SHM_FORMAT_XRGB8888;
	st->sub.format = WL_SHM_FORMAT_ARGB8888;
	st->sub.is_sub = true;
	st->main.frame = st->sub.frame = -1;
	for (int i = 0; i < HIST; i++) {
		st->main.hist[i].frame = st->sub.hist[i].frame = -1;
	}
	st->main.surface = wl_compositor_create_surface(st->compositor);
	st->xdg_surface = xdg_wm_base_get_xdg_surface(st->wm, st->main.surface);
	xdg_surface_add_listener(st->xdg_surface, &xdg_surface_listener, st);
	st->toplevel = xdg_surface_get_toplevel(st->xdg_surface);
	xdg_toplevel_add_listener(st->toplevel, &toplevel_listener, st);
	xdg_toplevel_set_app_id(st->toplevel, "shm-steps");
	xdg_toplevel_set_title(st->toplevel, "shm-steps");
	wl_surface_commit(st->main.surface);
	wait_flag(st, &st->configured, "the first xdg_surface.configure");
	st->width = 200;
	st->height = 150;
	st->scale = 1;
	st->nbufs = 2;
	st->damage = DAMAGE_SURFACE;
	apply_geometry(st);
	draw_frame(st, true);
	wait_shown(st);
}

static void teardown(struct state *st)
{
	if (st->sub_on) {
		cmd_subsurface(st, false);
	}
	if (st->viewport != NULL) {
		wp_viewport_destroy(st->viewport);
	}
	xdg_toplevel_destroy(st->toplevel);
	xdg_surface_destroy(st->xdg_surface);
	wl_surface_destroy(st->main.surface);
	for (int i = 0; i < st->main.nbufs; i++) {
		st->main.bufs[i]->busy = false;
	}
	layer_drop_buffers(&st->main);
	roundtrip(st);
	wl_display_disconnect(st->display);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		usage();
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	static struct state st;
	setup(&st);
	printf("ok start\n");
	fflush(stdout);
	char line[256];
	while (read_line(&st, line, sizeof(line)) != NULL) {
		char echo[sizeof(line)];
		snprintf(echo, sizeof(echo), "%s", line);
		if (line[0] == '\0') {
			continue;
		}
		if (!run_command(&st, line)) {
			break;
		}
		printf("ok %s\n", echo);
		fflush(stdout);
	}
	teardown(&st);
	printf("ok quit\n");
	fflush(stdout);
	return 0;
}
