/* The frames of shm_steps as pure functions of the frame number: each layer's pattern and
 * sprites, the damage between two frames, and the buffer-age repaint that brings a buffer
 * up to date from that damage, with its self-check. No Wayland here: shm_steps_surface.c
 * puts the frames on screen. */
#ifndef SHM_STEPS_FRAME_H
#define SHM_STEPS_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define HIST 8 /* frames of damage kept for the buffer-age repaint */
#define NSPRITES 3
#define MAX_DAMAGE (2 * NSPRITES)

struct rect {
	int x, y, w, h;
};

/* The pixels of one buffer (4 bytes each, rows without padding) and the frame they hold. */
struct canvas {
	uint32_t *data; /* borrowed: a buffer's mapping or a scratch image, w * h pixels */
	int w, h;
	long frame; /* frame whose content the pixels hold; -1: none */
};

struct frame_damage {
	long frame; /* -1: empty slot */
	bool full;
	int n;
	struct rect r[MAX_DAMAGE];
};

/* What the damage of a layer's next frame depends on. */
struct frame_layer {
	bool is_sub; /* the subsurface's pattern, else the toplevel's */
	int bw, bh;  /* buffer size in pixels */
	long frame;  /* last committed frame; -1 before the first */
	bool dirty;  /* the next frame damages everything (geometry changed) */
	struct frame_damage hist[HIST];
};

/* A pixel where a repainted canvas differs from a full paint of its frame. */
struct frame_diff {
	int x, y;
	uint32_t got, want;
};

/* The toplevel's background at buffer pixel (x, y), XRGB8888. */
uint32_t frame_main_bg(int x, int y);

/* Forgets what the layer has shown: its next frame is damaged and repainted whole. */
void frame_layer_reset(struct frame_layer *fl);

/* The damage of `frame` on the layer: the sprites' old and new places, or everything when
 * the previous frame was not the one before or the geometry changed. */
struct frame_damage frame_damage(const struct frame_layer *fl, long frame);

/* Brings c from the frame it holds to `frame` by repainting the union of the damage of
 * the frames in between (buffer age); all of it when that history is not known. The
 * damage of `frame` must already be in fl->hist. */
void frame_repaint(const struct frame_layer *fl, struct canvas *c, long frame);

/* Paints c's frame whole into scratch (c->w * c->h pixels) and compares: false if c holds
 * exactly that, else true with the first pixel that differs in *diff. */
bool frame_diff_find(const struct frame_layer *fl, const struct canvas *c, uint32_t *scratch,
	struct frame_diff *diff);

#endif
