/* The display side of shm_steps: the event loop on the wl_display, wl_shm buffers and
 * their release, and each frame's repaint (shm_steps_frame.c), self-check, damage in the
 * mode asked for and commit, on the toplevel and the subsurface. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shm_steps.h"

#define POISON 0xffff00ffu /* magenta: a released lone buffer holds it for a while */

void die(const char *fmt, ...)
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

/* -- buffers -------------------------------------------------------------------------- */

static void buf_destroy(struct buf *b)
{
	if (b == NULL) {
		return;
	}
	wl_buffer_destroy(b->wl);
	munmap(b->px.data, b->size_bytes);
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
	b->px.w = w;
	b->px.h = h;
	b->px.frame = -1;
	b->wl = create_shm_buffer(st, w, h, format, &b->px.data, &b->size_bytes);
	wl_buffer_add_listener(b->wl, &buffer_listener, b);
	return b;
}

void layer_drop_buffers(struct layer *l)
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

void layer_set_buffers(struct state *st, struct layer *l, int n, int w, int h)
{
	if (l->nbufs == n && l->model.bw == w && l->model.bh == h) {
		return;
	}
	if (l->model.bw != w || l->model.bh != h) {
		l->model.dirty = true;
	}
	layer_drop_buffers(l);
	l->model.bw = w;
	l->model.bh = h;
	for (int i = 0; i < n; i++) {
		l->bufs[i] = buf_create(st, w, h, l->format);
	}
	l->nbufs = n;
}

/* -- event loop ----------------------------------------------------------------------- */

bool pump(struct state *st, int timeout_ms, bool want_stdin)
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

void wait_flag(struct state *st, const bool *flag, const char *what)
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

void roundtrip(struct state *st)
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
	if (l->nbufs == 1 && b->px.frame >= 0) {
		for (size_t i = 0; i < b->size_bytes / 4; i++) {
			b->px.data[i] = POISON;
		}
		b->px.frame = -1;
		roundtrip(st);
		if (b->busy) {
			die("the released buffer became busy again without a commit");
		}
	}
	return b;
}

static void handle_frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct state *st = data;
	st->frame_done = true;
	wl_callback_destroy(cb);
}

const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
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
		if (!l->model.is_sub && !buffer_to_surface(st, r, &r)) {
			continue;
		}
		wl_surface_damage(l->surface, r.x, r.y, r.w, r.h);
	}
}

/* -- frames --------------------------------------------------------------------------- */

/* The buffer-age repaint must leave exactly the frame a full paint would: checked on
 * every frame against a scratch full paint, before the buffer is attached. */
static void verify(const struct layer *l, const struct buf *b)
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
	struct frame_diff d;
	if (frame_diff_find(&l->model, &b->px, scratch, &d)) {
		die("frame %ld: buffer pixel (%d,%d) is %08x after the repaint, "
			"a full paint gives %08x", b->px.frame, d.x, d.y, d.got, d.want);
	}
}

/* Draws frame st->frame into b and commits it on l (the caller acquired b). */
static void commit_layer(struct state *st, struct layer *l, struct buf *b, bool want_frame)
{
	long frame = st->frame;
	struct frame_damage d = frame_damage(&l->model, frame);
	l->model.hist[frame % HIST] = d;
	frame_repaint(&l->model, &b->px, frame);
	verify(l, b);
	wl_surface_attach(l->surface, b->wl, 0, 0);
	submit_damage(st, l, &d);
	if (want_frame) {
		struct wl_callback *cb = wl_surface_frame(l->surface);
		wl_callback_add_listener(cb, &frame_listener, st);
		st->frame_done = false;
	}
	wl_surface_commit(l->surface);
	b->busy = true;
	l->model.frame = frame;
	l->model.dirty = false;
}

/* One frame: the subsurface first (its state waits for the parent's commit), then the
 * parent. Both buffers are acquired before either commit so that no event (a configure
 * answered by a commit) can split the frame. */
void draw_frame(struct state *st, bool want_frame)
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

void wait_shown(struct state *st)
{
	wait_flag(st, &st->frame_done, "the frame callback");
	roundtrip(st);
}

void apply_geometry(struct state *st)
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
