/* shm_steps' client state, shared by shm_steps.c (the connection, the commands, main) and
 * shm_steps_display.c (the event loop, the buffers, and the frames on screen), with the
 * contract of the latter. */
#ifndef SHM_STEPS_H
#define SHM_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wayland-client.h>

#include "shm_steps_frame.h"

#define MAX_BUFS 3
#define WAIT_MS 10000 /* for any one event the client waits for */
#define SUB_X 24      /* subsurface position in the parent's surface coordinates */
#define SUB_Y 16
#define SUB_W 96
#define SUB_H 64

struct buf {
	struct wl_buffer *wl; /* owned */
	struct canvas px;     /* px.data is owned: the whole mapping of the buffer's own pool */
	size_t size_bytes;
	bool busy;    /* attached and committed, no wl_buffer.release yet */
	bool retired; /* no longer in a layer's set: destroyed on release */
};

/* A surface this client draws: the toplevel's or the subsurface's. */
struct layer {
	struct wl_surface *surface; /* owned */
	uint32_t format;
	struct buf *bufs[MAX_BUFS]; /* owned; retired ones are owned by their release */
	int nbufs;
	struct frame_layer model; /* what it has shown; model.bw x model.bh is the buffer size */
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

/* ---- shm_steps_display.c ---- */

/* Prints "shm_steps: <message>" on stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* One round of the event loop: flushes, waits up to timeout_ms for the compositor (and
 * stdin when want_stdin) and dispatches. Returns true if stdin became readable. */
bool pump(struct state *st, int timeout_ms, bool want_stdin);
/* Dispatches until *flag is true; gives up after WAIT_MS. */
void wait_flag(struct state *st, const bool *flag, const char *what);
void roundtrip(struct state *st);

/* Sets st->frame_done (data is the state) and destroys the callback. */
extern const struct wl_callback_listener frame_listener;

/* Drops a layer's buffers; busy ones live on until the compositor releases them. */
void layer_drop_buffers(struct layer *l);
/* Makes the layer's set n buffers of w x h, keeping the old ones if they fit. */
void layer_set_buffers(struct state *st, struct layer *l, int n, int w, int h);
/* Applies the main surface's geometry: buffer size from size, scale and transform. */
void apply_geometry(struct state *st);

/* Draws frame st->frame on the subsurface (if on) and the toplevel and commits both,
 * asking for a frame callback on the toplevel if want_frame. */
void draw_frame(struct state *st, bool want_frame);
/* Waits for the frame callback of the last frame, then for the compositor to be done. */
void wait_shown(struct state *st);

#endif
