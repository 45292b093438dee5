/* shm_steps: integration-test client for pixel-exact wl_shm checks. It maps one
 * xdg_toplevel (app_id "shm-steps") whose frames are pure functions of the frame number
 * (shm_steps_frame.c), reads commands from stdin (one per line, see usage()) and answers
 * "ok <command>" once the result is on screen (shm_steps_display.c). Any failure prints
 * one line on stderr and exits 1. This file holds the connection, the commands and main. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm_steps.h"
#include "viewporter-client-protocol.h"
#include "xdg-shell-client-protocol.h"

#define CYCLE_SIZE 256
#define CYCLE_FRAME_EVERY 10 /* cycles that also wait for a frame callback */

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
		frame_layer_reset(&st->sub.model);
		st->sub.model.dirty = true;
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
		st->sub.model.bw = st->sub.model.bh = 0;
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
		st->main.model.dirty = true;
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
	st->main.model.dirty = true;
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
			px[y * CYCLE_SIZE + x] = 0xff000000u | frame_main_bg(x, y);
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
		st->main.model.dirty = true;
		apply_geometry(st);
	} else if (strcmp(line, "transform") == 0) {
		st->transform = (int)parse_count(line, args, 0, 7);
		wl_surface_set_buffer_transform(st->main.surface, st->transform);
		st->main.model.dirty = true;
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
	st->sub.model.is_sub = true;
	frame_layer_reset(&st->main.model);
	frame_layer_reset(&st->sub.model);
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
