/* Copy mode (--shm=copy) at the relay level, on the scene of shadow_scene.h: each commit
 * must copy exactly what is due into a shadow buffer of crossway's own (whole frames,
 * damage only, what a reused shadow missed, surface-coordinate damage), and a commit must
 * wait while the compositor holds every shadow. */
#include "shadow_scene.h"

static int n_run;

/* Frames within which shadows past the three kept must have gone once unused (the
 * commit hook may keep an idle one for a while before freeing it). */
#define TRIM_FRAMES 300

/* ---- 1: a frame ---- */

/* The pools and buffers stay in crossway; the compositor gets a memfd shadow with the
 * app's pixels, attached in place of the app's buffer, which comes back at once. */
static void test_frame_is_copied_into_a_shadow(void)
{
	struct scene s;
	scene_init(&s);
	/* Padding after each row, and a buffer that does not start the pool. */
	scene_buffer(&s, 3 * 4096, 512, 64, 32, 64 * 4 + 16, FMT_ARGB8888);
	scene_surface(&s);
	struct rect all = whole(&s);
	unsigned k = frame(&s, &all, 1, SHADOW_NEW);
	expect_shadow(&s, k, s.pool);
	scene_finish(&s);
}

/* ---- 2: damage only ---- */

/* The app changes every pixel but damages three rectangles (one touching the right
 * edge, one spanning the width): only those reach the released shadow. */
static void test_only_damage_is_copied(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 3 * 4096, 0, 64, 32, 64 * 4 + 16, FMT_XRGB8888);
	scene_surface(&s);
	struct rect all = whole(&s);
	unsigned a = frame(&s, &all, 1, SHADOW_NEW);
	comp_release(&s, a);
	uint8_t *want = snapshot(&s);
	paint(&s, s.pool, 2, all);
	const struct rect damage[] = { { 10, 5, 7, 9 }, { 40, 20, 24, 3 }, { 0, 28, 64, 2 } };
	for (size_t i = 0; i < 3; i++) {
		paint(&s, want, 2, damage[i]);
	}
	test_assert(frame(&s, damage, 3, (int)a) == a);
	expect_shadow(&s, a, want);
	free(want);
	scene_finish(&s);
}

/* ---- 3: rotation and missed damage ---- */

/* A shadow the compositor holds is never written; one reused later gets what it missed
 * as well as the new damage. */
static void test_reused_shadow_gets_missed_damage(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 4 * 4096, 4096, 64, 32, 64 * 4, FMT_ARGB8888);
	scene_surface(&s);
	struct rect all = whole(&s);
	unsigned a = frame(&s, &all, 1, SHADOW_NEW); /* kept by the compositor */

	const struct rect r2 = { 5, 3, 20, 10 }, r3 = { 30, 15, 20, 12 }, r4 = { 0, 0, 8, 8 };
	paint(&s, s.pool, 2, r2);
	unsigned b = frame(&s, &r2, 1, SHADOW_NEW); /* a is busy: a new one, copied whole */
	test_assert(b != a);
	expect_shadow(&s, b, s.pool);
	uint8_t *frame2 = snapshot(&s);

	comp_release(&s, a);
	paint(&s, s.pool, 3, r3);
	test_assert(frame(&s, &r3, 1, (int)a) == a); /* a gets r2 (missed) and r3 */
	expect_shadow(&s, a, s.pool);
	expect_shadow(&s, b, frame2); /* held: untouched */

	comp_release(&s, b);
	paint(&s, s.pool, 4, r4);
	test_assert(frame(&s, &r4, 1, (int)b) == b); /* b gets r3 (missed) and r4 */
	expect_shadow(&s, b, s.pool);
	free(frame2);
	scene_finish(&s);
}

/* ---- 4: exhaustion ---- */

/* Six shadows at most: a seventh commit waits (and what the app sends after it waits
 * too) until the compositor releases one. Past three, released shadows are destroyed. */
static void test_commit_waits_when_all_shadows_are_held(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 2 * 4096, 0, 64, 32, 64 * 4, FMT_ARGB8888);
	scene_surface(&s);
	for (int i = 0; i < 6; i++) {
		struct rect d = { 8 * i, 2 * i, 8, 4 };
		paint(&s, s.pool, (uint32_t)(10 + i), d);
		test_assert(frame(&s, &d, 1, SHADOW_NEW) == (unsigned)i);
		expect_shadow(&s, (unsigned)i, s.pool);
	}
	/* The 7th: its damage is relayed on arrival; the commit and the sync after it wait. */
	struct rect d7 = { 50, 20, 10, 10 };
	paint(&s, s.pool, 16, d7);
	struct frame f7 = { .damage = &d7, .ndamage = 1 };
	send_frame(&s, &f7);
	union cw_arg cb = { .u = APP_NEXT };
	app_req(&s, 1, "wl_display", "sync", &cb, NULL, 0);
	spin(&s.r);
	struct rx rx;
	recv_comp(&s, &rx, 1, 0);
	EXPECT_REQ(&rx, 0, s.hsurf, "wl_surface", "damage_buffer", 50, 20, 10, 10);
	recv_app(&s, &rx, 0);
	spin(&s.r);
	expect_quiet(&s);

	/* A release lets it go, into the released shadow, which gets all it missed. */
	comp_evt(&s, s.sh[2].buffer, "wl_buffer", "release", NULL);
	spin(&s.r);
	recv_comp(&s, &rx, 3, 0);
	EXPECT_REQ(&rx, 0, s.hsurf, "wl_surface", "attach", s.sh[2].buffer, 0, 0);
	EXPECT_REQ(&rx, 1, s.hsurf, "wl_surface", "commit");
	EXPECT_REQ(&rx, 2, 1, "wl_display", "sync", MSG_ARG(&rx, 2, 0));
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, APP_BUFFER, "wl_buffer", "release");
	expect_shadow(&s, 2, s.pool);

	/* All released. Past three, shadows left unused go: not at once (an app that draws
	 * faster than the compositor releases would churn), but within TRIM_FRAMES frames
	 * that each reuse a released shadow. */
	for (unsigned i = 0; i < 6; i++) {
		comp_release(&s, i);
	}
	size_t destroyed = 0;
	for (int i = 0; i < TRIM_FRAMES && destroyed < 3; i++) {
		struct rect d = { i % 60, 20, 4, 4 };
		paint(&s, s.pool, (uint32_t)(20 + i % 200), d);
		struct frame f = { .damage = &d, .ndamage = 1, .shadow = SHADOW_ANY,
			.ndestroy = DESTROY_ANY };
		unsigned k = frame_ex(&s, &f);
		expect_shadow(&s, k, s.pool);
		comp_release(&s, k);
		for (size_t j = 0; j < f.ndestroyed; j++) {
			/* The compositor retires the buffer, and the pool destroyed at creation. */
			const struct shadow *sh = &s.sh[f.destroyed[j]];
			uint32_t gone[2] = { sh->buffer, sh->pool };
			comp_delete_ids(&s, gone, 2);
		}
		destroyed += f.ndestroyed;
	}
	test_assert(destroyed == 3);

	/* The three left stay: more frames neither create nor destroy shadows. */
	for (int i = 0; i < 8; i++) {
		struct rect d = { 4 * i, 24, 4, 4 };
		paint(&s, s.pool, (uint32_t)(230 + i), d);
		unsigned k = frame(&s, &d, 1, SHADOW_ANY);
		expect_shadow(&s, k, s.pool);
		comp_release(&s, k);
	}
	scene_finish(&s);
}

/* ---- 5: surface-coordinate damage ---- */

/* wl_surface.damage(3, 4, 1, 1) (or 3, 4, 2, 1) under a buffer scale and transform must
 * copy exactly the buffer pixels given in want, worked out by hand from the protocol:
 * scale multiplies, and transform 90 maps surface (x, y) to buffer (y, W - x) where W is
 * the surface width in buffer pixels (the buffer's height). */
static void check_surface_damage(int32_t scale, int32_t transform, struct rect damage,
	struct rect want_rect)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 2 * 4096, 0, 64, 32, 64 * 4, FMT_ARGB8888);
	scene_surface(&s);
	if (scale != 1) {
		union cw_arg a = { .i = scale };
		forwarded(&s, APP_SURFACE, s.hsurf, "wl_surface", "set_buffer_scale", &a, 1);
	}
	if (transform != 0) {
		union cw_arg a = { .i = transform };
		forwarded(&s, APP_SURFACE, s.hsurf, "wl_surface", "set_buffer_transform", &a, 1);
	}
	struct rect all = whole(&s);
	unsigned a = frame(&s, &all, 1, SHADOW_NEW);
	comp_release(&s, a);
	uint8_t *want = snapshot(&s);
	paint(&s, s.pool, 2, all);
	paint(&s, want, 2, want_rect);
	struct frame f = { .damage_req = "damage", .damage = &damage, .ndamage = 1,
		.shadow = (int)a };
	frame_ex(&s, &f);
	expect_shadow(&s, a, want);
	free(want);
	scene_finish(&s);
}

static void test_surface_damage_is_mapped_to_buffer_pixels(void)
{
	/* Scale 2: surface (3, 4) 1x1 is buffer x 6..7, y 8..9. */
	check_surface_damage(2, 0, (struct rect){ 3, 4, 1, 1 }, (struct rect){ 6, 8, 2, 2 });
	/* 90: surface x 3..5, y 4..5 is buffer x 4..5, y 32-5..32-3: pixels (4, 27..28). */
	check_surface_damage(1, 1, (struct rect){ 3, 4, 2, 1 }, (struct rect){ 4, 27, 1, 2 });
	/* Both: surface (3, 4) 1x1 is x 6..8, y 8..10 before the turn: buffer x 8..9,
	 * y 24..25. */
	check_surface_damage(2, 1, (struct rect){ 3, 4, 1, 1 }, (struct rect){ 8, 24, 2, 2 });
}

int main(void)
{
	scene_program_init();
	RUN(test_frame_is_copied_into_a_shadow);
	RUN(test_only_damage_is_copied);
	RUN(test_reused_shadow_gets_missed_damage);
	RUN(test_commit_waits_when_all_shadows_are_held);
	RUN(test_surface_damage_is_mapped_to_buffer_pixels);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
