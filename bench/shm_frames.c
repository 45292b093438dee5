/*
 * End-to-end wl_shm frame-rate benchmark client (not a test): maps one xdg_toplevel and
 * animates full-damage ARGB8888 frames from a few buffers of one pool, every pixel changing
 * every frame, against whatever WAYLAND_DISPLAY names. Uses only libwayland-client and
 * crossway's xdg-shell bindings; prints key=value lines on stdout.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define MAX_BUFS 3
#define WARMUP_FRAMES 10      /* not timed: first allocations, mapping, shadow creation */
#define WAIT_MS 10000         /* for any one event; past it the peer counts as hung */
#define ERROR_DRAIN_TIMEOUT_MS 1000

struct buf {
	struct wl_buffer *wl; /* owned */
	uint32_t *pixels;     /* borrowed: inside frames.pool_map */
	bool busy;            /* committed, no wl_buffer.release yet */
};

struct frames {
	struct wl_display *display;       /* owned */
	struct wl_registry *registry;     /* owned */
	struct wl_compositor *compositor; /* owned; NULL until the global is seen */
	uint32_t compositor_version;
	struct wl_shm *shm;               /* owned */
	struct xdg_wm_base *wm_base;      /* owned */
	struct wl_surface *surface;       /* owned */
	struct xdg_surface *xdg_surface;  /* owned */
	struct xdg_toplevel *toplevel;    /* owned */
	bool configured, closed;
	int width, height, nbufs;
	struct buf bufs[MAX_BUFS];
	uint8_t *pool_map; /* owned: all buffers */
	size_t pool_bytes;
	uint32_t frame;    /* content counter: every frame differs */
	bool frame_done;   /* the pending wl_surface.frame callback fired */
	uint64_t release_waits; /* times no buffer was free */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Say why the connection failed, including a wl_display.error the peer sent before closing. */
static void report_failure(struct frames *f, const char *what)
{
	int err = f->display ? wl_display_get_error(f->display) : 0;
	if (f->display && err == 0) {
		struct pollfd pfd = { .fd = wl_display_get_fd(f->display), .events = POLLIN };
		if (poll(&pfd, 1, ERROR_DRAIN_TIMEOUT_MS) > 0) {
			wl_display_dispatch(f->display);
		}
		err = wl_display_get_error(f->display);
	}
	if (err == EPROTO) {
		const struct wl_interface *iface = NULL;
		uint32_t id = 0;
		uint32_t code = wl_display_get_protocol_error(f->display, &iface, &id);
		fprintf(stderr, "shm_frames: %s: protocol error %u on %s@%u\n", what, code,
			iface ? iface->name : "?", id);
	} else {
		fprintf(stderr, "shm_frames: %s: %s\n", what, strerror(err ? err : errno));
	}
	printf("failed=%s\n", what);
	fflush(stdout);
	exit(1);
}

/* Flush until libwayland's output buffer is empty, riding out EAGAIN; 0 or -1. */
static int flush_all(struct wl_display *display)
{
	for (;;) {
		if (wl_display_flush(display) >= 0) {
			return 0;
		}
		if (errno != EAGAIN) {
			return -1;
		}
		struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLOUT };
		if (poll(&pfd, 1, WAIT_MS) <= 0 && errno != EINTR) {
			return -1;
		}
	}
}

/* Sends what is queued, then waits up to WAIT_MS for events and dispatches them. */
static int wait_events(struct frames *f)
{
	while (wl_display_prepare_read(f->display) != 0) {
		if (wl_display_dispatch_pending(f->display) < 0) {
			return -1;
		}
	}
	if (flush_all(f->display) < 0) {
		wl_display_cancel_read(f->display);
		return -1;
	}
	struct pollfd pfd = { .fd = wl_display_get_fd(f->display), .events = POLLIN };
	int r = poll(&pfd, 1, WAIT_MS);
	if (r <= 0) {
		wl_display_cancel_read(f->display);
		errno = r == 0 ? ETIMEDOUT : errno;
		return -1;
	}
	if (wl_display_read_events(f->display) < 0) {
		return -1;
	}
	return wl_display_dispatch_pending(f->display);
}

static void handle_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = handle_ping,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct frames *f = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0 && !f->compositor) {
		/* 4 for damage_buffer */
		f->compositor_version = version < 4 ? version : 4;
		f->compositor = wl_registry_bind(registry, name, &wl_compositor_interface,
			f->compositor_version);
	} else if (strcmp(interface, wl_shm_interface.name) == 0 && !f->shm) {
		f->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, xdg_wm_base_interface.name) == 0 && !f->wm_base) {
		f->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(f->wm_base, &wm_base_listener, f);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static void handle_xdg_surface_configure(void *data, struct xdg_surface *xdg_surface,
	uint32_t serial)
{
	struct frames *f = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	f->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_surface_configure,
};

/* The size suggested is ignored: the benchmark's frames have one fixed size. */
static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t width,
	int32_t height, struct wl_array *states)
{
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel)
{
	struct frames *f = data;
	f->closed = true;
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void handle_buffer_release(void *data, struct wl_buffer *wl_buffer)
{
	struct buf *b = data;
	b->busy = false;
}

static const struct wl_buffer_listener buffer_listener = {
	.release = handle_buffer_release,
};

static void handle_frame_done(void *data, struct wl_callback *cb, uint32_t time_ms)
{
	struct frames *f = data;
	f->frame_done = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

static void create_buffers(struct frames *f)
{
	size_t stride = (size_t)f->width * 4, size = stride * (size_t)f->height;
	f->pool_bytes = size * (size_t)f->nbufs;
	int fd = memfd_create("shm-frames", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)f->pool_bytes) < 0) {
		report_failure(f, "pool");
	}
	f->pool_map = mmap(NULL, f->pool_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f->pool_map == MAP_FAILED) {
		report_failure(f, "pool");
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(f->shm, fd, (int32_t)f->pool_bytes);
	for (int i = 0; i < f->nbufs; i++) {
		struct buf *b = &f->bufs[i];
		b->pixels = (uint32_t *)(f->pool_map + size * (size_t)i);
		b->wl = wl_shm_pool_create_buffer(pool, (int32_t)(size * (size_t)i), f->width,
			f->height, (int32_t)stride, WL_SHM_FORMAT_ARGB8888);
		wl_buffer_add_listener(b->wl, &buffer_listener, b);
	}
	wl_shm_pool_destroy(pool); /* the buffers keep the pool alive */
	close(fd);
}

static void setup(struct frames *f)
{
	f->display = wl_display_connect(NULL);
	if (!f->display) {
		report_failure(f, "connect");
	}
	f->registry = wl_display_get_registry(f->display);
	wl_registry_add_listener(f->registry, &registry_listener, f);
	if (wl_display_roundtrip(f->display) < 0) {
		report_failure(f, "registry");
	}
	if (!f->compositor || !f->shm || !f->wm_base) {
		errno = ENOENT;
		report_failure(f, "globals (need wl_compositor, wl_shm, xdg_wm_base)");
	}
	f->surface = wl_compositor_create_surface(f->compositor);
	f->xdg_surface = xdg_wm_base_get_xdg_surface(f->wm_base, f->surface);
	xdg_surface_add_listener(f->xdg_surface, &xdg_surface_listener, f);
	f->toplevel = xdg_surface_get_toplevel(f->xdg_surface);
	xdg_toplevel_add_listener(f->toplevel, &toplevel_listener, f);
	xdg_toplevel_set_title(f->toplevel, "shm_frames");
	xdg_toplevel_set_app_id(f->toplevel, "shm-frames");
	wl_surface_commit(f->surface);
	while (!f->configured) {
		if (wait_events(f) < 0) {
			report_failure(f, "configure");
		}
	}
	create_buffers(f);
}

/* A buffer the compositor is not using, waiting for a release if all are busy. */
static struct buf *free_buffer(struct frames *f, const char *mode)
{
	for (;;) {
		for (int i = 0; i < f->nbufs; i++) {
			if (!f->bufs[i].busy) {
				return &f->bufs[i];
			}
		}
		f->release_waits++;
		if (wait_events(f) < 0) {
			report_failure(f, mode);
		}
	}
}

/* Draws the next frame into b (every pixel changes) and commits it with full damage. */
static void submit(struct frames *f, struct buf *b, bool want_frame)
{
	uint32_t n = ++f->frame;
	for (int y = 0; y < f->height; y++) {
		uint32_t v = 0xff000000u | ((n * 0x030507u + (uint32_t)y * 0x0101u) & 0xffffffu);
		uint32_t *row = b->pixels + (size_t)y * (size_t)f->width;
		for (int x = 0; x < f->width; x++) {
			row[x] = v;
		}
	}
	wl_surface_attach(f->surface, b->wl, 0, 0);
	if (f->compositor_version >= 4) {
		wl_surface_damage_buffer(f->surface, 0, 0, f->width, f->height);
	} else {
		wl_surface_damage(f->surface, 0, 0, f->width, f->height);
	}
	if (want_frame) {
		f->frame_done = false;
		struct wl_callback *cb = wl_surface_frame(f->surface);
		wl_callback_add_listener(cb, &frame_listener, f);
	}
	wl_surface_commit(f->surface);
	b->busy = true;
}

/* What a normal app does: one frame per frame callback. Timed from the callback that
 * ends the warm-up to the last one. */
static void run_paced(struct frames *f, double seconds)
{
	uint64_t t0 = 0, t_last = 0;
	long frames = 0;
	f->release_waits = 0;
	for (long i = 0;; i++) {
		submit(f, free_buffer(f, "paced"), true);
		while (!f->frame_done) {
			if (wait_events(f) < 0) {
				report_failure(f, "paced");
			}
		}
		uint64_t t = now_ns();
		if (i + 1 == WARMUP_FRAMES) {
			t0 = t;
			f->release_waits = 0;
		} else if (i + 1 > WARMUP_FRAMES) {
			frames++;
			t_last = t;
			if ((double)(t - t0) / 1e9 >= seconds) {
				break;
			}
		}
		if (f->closed) {
			errno = ECONNRESET;
			report_failure(f, "paced (toplevel closed)");
		}
	}
	double s = (double)(t_last - t0) / 1e9;
	printf("paced_frames=%ld\npaced_s=%.3f\npaced_fps=%.2f\npaced_release_waits=%llu\n",
		frames, s, frames / s, (unsigned long long)f->release_waits);
	fflush(stdout);
}

/* Throughput: a new frame as soon as a buffer is free, no frame callbacks. Timed from the
 * end of the warm-up to the reply of a sync sent after the last commit, so that every
 * counted frame has reached the compositor. */
static void run_unpaced(struct frames *f, double seconds)
{
	for (int i = 0; i < WARMUP_FRAMES; i++) {
		submit(f, free_buffer(f, "unpaced"), false);
	}
	if (wl_display_roundtrip(f->display) < 0) {
		report_failure(f, "unpaced");
	}
	f->release_waits = 0;
	uint64_t t0 = now_ns();
	long frames = 0;
	while ((double)(now_ns() - t0) / 1e9 < seconds) {
		submit(f, free_buffer(f, "unpaced"), false);
		frames++;
		/* Send without blocking; releases are read when no buffer is free. */
		if (wl_display_flush(f->display) < 0 && errno != EAGAIN) {
			report_failure(f, "unpaced");
		}
	}
	if (wl_display_roundtrip(f->display) < 0) {
		report_failure(f, "unpaced");
	}
	double s = (double)(now_ns() - t0) / 1e9;
	printf("unpaced_frames=%ld\nunpaced_s=%.3f\nunpaced_fps=%.2f\nunpaced_release_waits=%llu\n",
		frames, s, frames / s, (unsigned long long)f->release_waits);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: shm_frames [--size WxH] [--buffers 2|3] (paced|unpaced) SECONDS "
		"[(paced|unpaced) SECONDS ...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct frames f = { .width = 1920, .height = 1080, .nbufs = 2 };
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc) {
			usage();
		}
		if (strcmp(argv[i], "--size") == 0) {
			if (sscanf(argv[i + 1], "%dx%d", &f.width, &f.height) != 2 || f.width < 1 ||
					f.height < 1 || f.width > 8192 || f.height > 8192) {
				usage();
			}
		} else if (strcmp(argv[i], "--buffers") == 0) {
			f.nbufs = atoi(argv[i + 1]);
			if (f.nbufs < 2 || f.nbufs > MAX_BUFS) {
				usage();
			}
		} else {
			usage();
		}
	}
	if (i >= argc || (argc - i) % 2 != 0) {
		usage();
	}
	for (int j = i; j < argc; j += 2) {
		bool known = strcmp(argv[j], "paced") == 0 || strcmp(argv[j], "unpaced") == 0;
		if (!known || atof(argv[j + 1]) <= 0) {
			usage();
		}
	}
	setup(&f);
	printf("size=%dx%d\nbuffers=%d\n", f.width, f.height, f.nbufs);
	for (; i < argc; i += 2) {
		if (strcmp(argv[i], "paced") == 0) {
			run_paced(&f, atof(argv[i + 1]));
		} else {
			run_unpaced(&f, atof(argv[i + 1]));
		}
	}
	for (int k = 0; k < f.nbufs; k++) {
		wl_buffer_destroy(f.bufs[k].wl);
	}
	xdg_toplevel_destroy(f.toplevel);
	xdg_surface_destroy(f.xdg_surface);
	wl_surface_destroy(f.surface);
	xdg_wm_base_destroy(f.wm_base);
	wl_shm_destroy(f.shm);
	wl_compositor_destroy(f.compositor);
	wl_registry_destroy(f.registry);
	if (wl_display_roundtrip(f.display) < 0) {
		report_failure(&f, "teardown");
	}
	wl_display_disconnect(f.display);
	munmap(f.pool_map, f.pool_bytes);
	return 0;
}
