/* Copy mode's wl_shm checks at the relay level, on the scene of shadow_scene.h: invalid
 * buffers, shrinking pools, unmappable and truncated pool files get the errors
 * hook_shm.c promises, and formats crossway cannot copy are never shown to the app. */
#include <errno.h>

#include "shadow_scene.h"

static int n_run;

/* ---- 1: validation ---- */

static void test_invalid_buffers_are_refused(void)
{
	struct scene s;
	char text[128];

	/* A format the compositor never offered (and that crossway cannot copy). */
	scene_init(&s);
	scene_pool(&s, 8192);
	send_create_buffer(&s, 0, 64, 32, 256, FMT_NV12);
	snprintf(text, sizeof(text), "invalid format 0x%x", FMT_NV12);
	expect_error_text(&s, APP_POOL, 0, text);

	/* A row that cannot hold width pixels of 4 bytes (though stride >= width). */
	scene_init(&s);
	scene_pool(&s, 8192);
	send_create_buffer(&s, 0, 64, 32, 200, FMT_ARGB8888);
	expect_error_text(&s, APP_POOL, 1, "invalid width, height or stride (64x32, 200)");

	/* Larger than the pool: 32 rows of 256 bytes in 4096. */
	scene_init(&s);
	scene_pool(&s, 4096);
	send_create_buffer(&s, 0, 64, 32, 256, FMT_ARGB8888);
	expect_error_text(&s, APP_POOL, 1, "invalid width, height or stride (64x32, 256)");

	/* Pools only grow. */
	scene_init(&s);
	scene_pool(&s, 8192);
	union cw_arg size = { .i = 4096 };
	app_req(&s, APP_POOL, "wl_shm_pool", "resize", &size, NULL, 0);
	expect_error_text(&s, APP_POOL, 2, "shrinking pool invalid");

	/* A pipe cannot be mapped. crossway receives it as the lowest free fd number, which
	 * libwayland's wording names. */
	scene_init(&s);
	int p[2];
	test_assert(pipe2(p, O_CLOEXEC) == 0);
	int next_fd = dup(p[0]);
	test_assert(next_fd >= 0);
	close(next_fd);
	union cw_arg cp[3] = { { .u = APP_POOL }, { .h = 0 }, { .i = 4096 } };
	app_req(&s, APP_SHM, "wl_shm", "create_pool", cp, &p[0], 1);
	spin(&s.r); /* before the pipe's own fds are freed for reuse */
	snprintf(text, sizeof(text), "failed mmap fd %d: %s", next_fd, strerror(ENODEV));
	close(p[0]);
	close(p[1]);
	expect_error_text(&s, APP_SHM, 2, text);
}

/* The app truncates its pool file after create_buffer: the copy at commit must not
 * crash crossway (SIGBUS is absorbed) and the app is told, on the buffer. */
static void test_truncated_pool_is_reported(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 3 * 4096, 0, 64, 32, 64 * 4 + 16, FMT_ARGB8888);
	scene_surface(&s);
	union cw_arg at[3] = { { .u = APP_BUFFER }, { .i = 0 }, { .i = 0 } };
	app_req(&s, APP_SURFACE, "wl_surface", "attach", at, NULL, 0);
	union cw_arg d[4] = { { .i = 0 }, { .i = 0 }, { .i = 64 }, { .i = 32 } };
	forwarded(&s, APP_SURFACE, s.hsurf, "wl_surface", "damage_buffer", d, 4);
	test_assert(ftruncate(s.pool_fd, 0) == 0);
	munmap(s.pool, s.pool_size); /* its pages are gone */
	s.pool = NULL;
	app_req(&s, APP_SURFACE, "wl_surface", "commit", NULL, NULL, 0);
	/* Nothing of the commit (no shadow, no attach) reaches the compositor. */
	expect_error_text(&s, APP_BUFFER, 2, "error accessing SHM buffer");
}

/* ---- 2: the format filter ---- */

static void test_formats_crossway_cannot_copy_are_hidden(void)
{
	static const uint32_t formats[] = { FMT_XRGB8888, FMT_XRGB2101010, FMT_NV12 };
	struct scene s;
	scene_init_formats(&s, formats, 3);
	struct rx rx;
	recv_app(&s, &rx, 4);
	test_assert(MSG_ID(&rx, 0) == 2 && MSG_ID(&rx, 1) == 2);
	EXPECT_EVT(&rx, 2, APP_SHM, "wl_shm", "format", FMT_XRGB8888);
	EXPECT_EVT(&rx, 3, APP_SHM, "wl_shm", "format", FMT_XRGB2101010);
	/* What was shown can be used, and is shadowed in that format. */
	scene_buffer(&s, 2 * 4096, 0, 64, 32, 64 * 4, FMT_XRGB2101010);
	scene_surface(&s);
	struct rect all = whole(&s);
	unsigned k = frame(&s, &all, 1, SHADOW_NEW);
	expect_shadow(&s, k, s.pool);
	scene_finish(&s);
}

int main(void)
{
	scene_program_init();
	RUN(test_invalid_buffers_are_refused);
	RUN(test_formats_crossway_cannot_copy_are_hidden);
	RUN(test_truncated_pool_is_reported);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
