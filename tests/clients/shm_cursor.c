/* Test client for cursors on shadow buffers: a solid full-window toplevel whose pointer
 * cursor is an shm surface with a known pattern. Commands on stdin, each answered with
 * "ok <command>" once the compositor has seen it:
 *   wait      until the pointer has entered and the first cursor is set
 *   partial   a second cursor buffer with one square repainted, damage only that square
 *   scale     a new cursor buffer at buffer scale 2
 *   quit
 * Usage: shm_cursor (WAYLAND_DISPLAY names the compositor). */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define CURSOR 24
#define HOT_X 3
#define HOT_Y 2

struct buf {
	struct wl_buffer *wl;
	uint32_t *px;
	int w, h;
	bool busy;
};

struct app {
	struct wl_display *dpy;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct wl_seat *seat;
	struct xdg_wm_base *wm;
	struct wl_pointer *pointer;
	struct wl_surface *surface, *cursor;
	struct xdg_surface *xsurface;
	struct xdg_toplevel *toplevel;
	struct buf window, cursor_buf;
	int width, height;
	uint32_t enter_serial;
	bool entered, configured;
};

static void die(const char *what)
{
	fprintf(stderr, "shm_cursor: %s\n", what);
	exit(1);
}

static void buffer_release(void *data, struct wl_buffer *wl)
{
	((struct buf *)data)->busy = false;
}

static const struct wl_buffer_listener buffer_listener = { buffer_release };

static void buf_create(struct app *a, struct buf *b, int w, int h)
{
	size_t size = (size_t)w * h * 4;
	int fd = memfd_create("shm-cursor", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		die("memfd");
	}
	b->px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->px == MAP_FAILED) {
		die("mmap");
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(a->shm, fd, (int32_t)size);
	b->wl = wl_shm_pool_create_buffer(pool, 0, w, h, w * 4, WL_SHM_FORMAT_ARGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	wl_buffer_add_listener(b->wl, &buffer_listener, b);
	b->w = w;
	b->h = h;
}

static void buf_destroy(struct buf *b)
{
	if (b->wl) {
		wl_buffer_destroy(b->wl);
		munmap(b->px, (size_t)b->w * b->h * 4);
		b->wl = NULL;
	}
}

/* Quadrants in four opaque colours, a transparent border pixel row, and an
 * half-transparent diagonal: scaling, clipping or blending errors all show. */
static uint32_t cursor_pixel(int x, int y, int size)
{
	if (y == 0) {
		return 0;
	}
	if (x == y) {
		return 0x80ff00ff;
	}
	bool right = x >= size / 2, low = y >= size / 2;
	return right ? (low ? 0xff2080ff : 0xffff8020) : (low ? 0xff20ff80 : 0xffffffff);
}

static void set_cursor(struct app *a, int scale)
{
	int size = CURSOR * scale;
	buf_destroy(&a->cursor_buf);
	buf_create(a, &a->cursor_buf, size, size);
	for (int y = 0; y < size; y++) {
		for (int x = 0; x < size; x++) {
			a->cursor_buf.px[y * size + x] = cursor_pixel(x, y, size);
		}
	}
	wl_surface_set_buffer_scale(a->cursor, scale);
	wl_surface_attach(a->cursor, a->cursor_buf.wl, 0, 0);
	wl_surface_damage_buffer(a->cursor, 0, 0, size, size);
	wl_surface_commit(a->cursor);
	a->cursor_buf.busy = true;
	wl_pointer_set_cursor(a->pointer, a->enter_serial, a->cursor, HOT_X, HOT_Y);
}

static void pointer_enter(void *data, struct wl_pointer *p, uint32_t serial,
	struct wl_surface *s, wl_fixed_t x, wl_fixed_t y)
{
	struct app *a = data;
	a->enter_serial = serial;
	if (!a->entered) {
		a->entered = true;
		set_cursor(a, 1);
	}
}

static void pointer_leave(void *data, struct wl_pointer *p, uint32_t serial,
	struct wl_surface *s)
{
}

static void pointer_motion(void *data, struct wl_pointer *p, uint32_t t, wl_fixed_t x,
	wl_fixed_t y)
{
}

static void pointer_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t t,
	uint32_t button, uint32_t state)
{
}

static void pointer_axis(void *data, struct wl_pointer *p, uint32_t t, uint32_t axis,
	wl_fixed_t v)
{
}

static const struct wl_pointer_listener pointer_listener = {
	.enter = pointer_enter,
	.leave = pointer_leave,
	.motion = pointer_motion,
	.button = pointer_button,
	.axis = pointer_axis,
};

static void seat_caps(void *data, struct wl_seat *seat, uint32_t caps)
{
	struct app *a = data;
	if ((caps & WL_SEAT_CAPABILITY_POINTER) && !a->pointer) {
		a->pointer = wl_seat_get_pointer(seat);
		wl_pointer_add_listener(a->pointer, &pointer_listener, a);
	}
}

static void seat_name(void *data, struct wl_seat *seat, const char *name)
{
}

static const struct wl_seat_listener seat_listener = { seat_caps, seat_name };

static void wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = { wm_ping };

static void draw_window(struct app *a)
{
	buf_destroy(&a->window);
	buf_create(a, &a->window, a->width, a->height);
	for (int i = 0; i < a->width * a->height; i++) {
		a->window.px[i] = 0xff405060;
	}
	wl_surface_attach(a->surface, a->window.wl, 0, 0);
	wl_surface_damage_buffer(a->surface, 0, 0, a->width, a->height);
	wl_surface_commit(a->surface);
}

static void xsurface_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct app *a = data;
	xdg_surface_ack_configure(xs, serial);
	draw_window(a);
	a->configured = true;
}

static const struct xdg_surface_listener xsurface_listener = { xsurface_configure };

static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
	struct wl_array *states)
{
	struct app *a = data;
	a->width = w > 0 ? w : 320;
	a->height = h > 0 ? h : 240;
}

static void toplevel_close(void *data, struct xdg_toplevel *t)
{
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

static void global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
	uint32_t version)
{
	struct app *a = data;
	if (strcmp(iface, "wl_compositor") == 0) {
		a->compositor = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	} else if (strcmp(iface, "wl_shm") == 0) {
		a->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	} else if (strcmp(iface, "wl_seat") == 0 && !a->seat) {
		a->seat = wl_registry_bind(reg, name, &wl_seat_interface, 1);
		wl_seat_add_listener(a->seat, &seat_listener, a);
	} else if (strcmp(iface, "xdg_wm_base") == 0) {
		a->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(a->wm, &wm_listener, a);
	}
}

static void global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = { global, global_remove };

static void dispatch(struct app *a)
{
	if (wl_display_dispatch(a->dpy) < 0) {
		die("connection lost");
	}
}

static void roundtrip(struct app *a)
{
	if (wl_display_roundtrip(a->dpy) < 0) {
		die("connection lost");
	}
}

/* Repaints the middle square of the cursor into a second buffer holding a copy of the
 * first (the compositor keeps the shown cursor buffer), damaging only that square. */
static void partial(struct app *a)
{
	struct buf old = a->cursor_buf;
	int size = old.w, x0 = size / 2 - 4, y0 = size / 2 - 4;
	buf_create(a, &a->cursor_buf, size, size);
	memcpy(a->cursor_buf.px, old.px, (size_t)size * size * 4);
	for (int y = y0; y < y0 + 8; y++) {
		for (int x = x0; x < x0 + 8; x++) {
			a->cursor_buf.px[y * size + x] = 0xff000000 | (uint32_t)(x * 9) << 8 | (uint32_t)y;
		}
	}
	wl_surface_attach(a->cursor, a->cursor_buf.wl, 0, 0);
	wl_surface_damage_buffer(a->cursor, x0, y0, 8, 8);
	wl_surface_commit(a->cursor);
	a->cursor_buf.busy = true;
	roundtrip(a);
	buf_destroy(&old); /* replaced: no longer shown */
}

int main(void)
{
	struct app a = { 0 };
	a.dpy = wl_display_connect(NULL);
	if (!a.dpy) {
		die("cannot connect");
	}
	struct wl_registry *reg = wl_display_get_registry(a.dpy);
	wl_registry_add_listener(reg, &registry_listener, &a);
	roundtrip(&a);
	if (!a.compositor || !a.shm || !a.seat || !a.wm) {
		die("missing wl_compositor, wl_shm, wl_seat or xdg_wm_base");
	}
	a.surface = wl_compositor_create_surface(a.compositor);
	a.cursor = wl_compositor_create_surface(a.compositor);
	a.xsurface = xdg_wm_base_get_xdg_surface(a.wm, a.surface);
	xdg_surface_add_listener(a.xsurface, &xsurface_listener, &a);
	a.toplevel = xdg_surface_get_toplevel(a.xsurface);
	xdg_toplevel_add_listener(a.toplevel, &toplevel_listener, &a);
	xdg_toplevel_set_app_id(a.toplevel, "shm-cursor");
	wl_surface_commit(a.surface);
	while (!a.configured) {
		dispatch(&a);
	}
	roundtrip(&a);
	printf("mapped\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "wait") == 0) {
			while (!a.entered) {
				dispatch(&a);
			}
		} else if (strcmp(line, "partial") == 0) {
			partial(&a);
		} else if (strcmp(line, "scale") == 0) {
			set_cursor(&a, 2);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			die("unknown command");
		}
		roundtrip(&a);
		roundtrip(&a);
		printf("ok %s\n", line);
		fflush(stdout);
	}
	wl_display_disconnect(a.dpy);
	return 0;
}
