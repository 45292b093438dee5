/* Copy mode's objects at the relay level, on the scene of shadow_scene.h, as hook_shm.c
 * and hook_surface.c promise: the app's pools and buffers stay inside crossway, shadows
 * go with the surface or the buffer (icons included), wl_shm.release keeps crossway's
 * wl_shm, and without copy mode the app's own pool file reaches the compositor. */
#include "shadow_scene.h"

static int n_run;

/* ---- 1: lifetimes ---- */

/* Destroying local objects is answered by crossway; the surface takes its shadows
 * along; the compositor's delete_ids for crossway's own ids stay in crossway. */
static void test_local_and_own_object_lifetimes(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 2 * 4096, 0, 64, 32, 64 * 4, FMT_ARGB8888);
	scene_surface(&s);
	struct rect all = whole(&s);
	unsigned a = frame(&s, &all, 1, SHADOW_NEW);
	struct rect d = { 1, 2, 3, 4 };
	paint(&s, s.pool, 2, d);
	unsigned b = frame(&s, &d, 1, SHADOW_NEW);
	/* crossway destroyed both shadow pools at once; the compositor retires them. */
	uint32_t pools[2] = { s.sh[a].pool, s.sh[b].pool };
	comp_delete_ids(&s, pools, 2);

	struct rx rx;
	app_req(&s, APP_BUFFER, "wl_buffer", "destroy", NULL, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 0, 0);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 1, "wl_display", "delete_id", APP_BUFFER);
	app_req(&s, APP_POOL, "wl_shm_pool", "destroy", NULL, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 0, 0);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 1, "wl_display", "delete_id", APP_POOL);

	/* The surface goes: each shadow's wl_buffer.destroy first, then the surface's. */
	app_req(&s, APP_SURFACE, "wl_surface", "destroy", NULL, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 3, 0);
	EXPECT_REQ(&rx, 0, s.sh[a].buffer, "wl_buffer", "destroy");
	EXPECT_REQ(&rx, 1, s.sh[b].buffer, "wl_buffer", "destroy");
	EXPECT_REQ(&rx, 2, s.hsurf, "wl_surface", "destroy");
	recv_app(&s, &rx, 0);
	/* A release still in flight for a destroyed shadow is dropped. */
	comp_release(&s, a);
	uint32_t buffers[2] = { s.sh[a].buffer, s.sh[b].buffer };
	comp_delete_ids(&s, buffers, 2);
	union cw_arg del = { .u = s.hsurf };
	comp_evt(&s, 1, "wl_display", "delete_id", &del);
	spin(&s.r);
	recv_comp(&s, &rx, 0, 0);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 1, "wl_display", "delete_id", APP_SURFACE);
	scene_finish(&s);
}

/* wl_shm.release (v2): crossway answers it and keeps the compositor's wl_shm for its
 * shadows; the app may bind wl_shm again at the retired id. */
static void test_released_shm_still_makes_shadows(void)
{
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 2 * 4096, 0, 64, 32, 64 * 4, FMT_ARGB8888);
	scene_surface(&s);
	struct rx rx;
	app_req(&s, APP_SHM, "wl_shm", "release", NULL, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 0, 0);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 1, "wl_display", "delete_id", APP_SHM);
	union cw_arg f = { .u = FMT_XRGB2101010 };
	comp_evt(&s, s.hshm, "wl_shm", "format", &f); /* for crossway's wl_shm now */
	spin(&s.r);
	expect_quiet(&s);

	struct rect all = whole(&s);
	unsigned k = frame(&s, &all, 1, SHADOW_NEW); /* made with hshm, checked there */
	expect_shadow(&s, k, s.pool);
	comp_release(&s, k);
	struct rect d = { 60, 30, 4, 2 };
	paint(&s, s.pool, 2, d);
	test_assert(frame(&s, &d, 1, (int)k) == k);
	expect_shadow(&s, k, s.pool);

	union cw_arg b[4] = { { .u = 2 }, { .s = "wl_shm" }, { .u = 2 }, { .u = APP_SHM } };
	app_req(&s, 2, "wl_registry", "bind", b, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 1, 0);
	uint32_t hshm2 = MSG_ARG(&rx, 0, 5);
	EXPECT_REQ(&rx, 0, s.hreg, "wl_registry", "bind", 2, 7, MSG_ARG(&rx, 0, 2),
		MSG_ARG(&rx, 0, 3), 2, hshm2);
	test_assert(hshm2 != s.hshm && !is_our_id(&s, hshm2));
	recv_app(&s, &rx, 0);
	scene_finish(&s);
}

/* ---- 2: icons ---- */

/* xdg_toplevel_icon_v1.add_buffer names a shadow of its own, copied whole; the shadow
 * goes when the app's buffer does. */
static void test_icon_buffer_is_a_shadow(void)
{
	enum { APP_MANAGER = APP_NEXT, APP_ICON };
	struct scene s;
	scene_init(&s);
	scene_buffer(&s, 2 * 4096, 0, 32, 32, 32 * 4, FMT_ARGB8888);
	scene_surface(&s); /* unused, but it takes its id */
	struct rx rx;
	advertise_and_bind(&s.r, s.hreg, 3, "xdg_toplevel_icon_manager_v1", 1, APP_MANAGER);
	spin(&s.r);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 2, "wl_registry", "global", 3, 29, MSG_ARG(&rx, 0, 2),
		MSG_ARG(&rx, 0, 3), MSG_ARG(&rx, 0, 4), MSG_ARG(&rx, 0, 5), MSG_ARG(&rx, 0, 6),
		MSG_ARG(&rx, 0, 7), MSG_ARG(&rx, 0, 8), MSG_ARG(&rx, 0, 9), 1);
	recv_comp(&s, &rx, 1, 0);
	uint32_t hmanager = MSG_ARG(&rx, 0, 11); /* after name, the string (1 + 8 words), version */
	test_assert(MSG_ARG(&rx, 0, 10) == 1 && hmanager && !is_our_id(&s, hmanager));

	union cw_arg ci = { .u = APP_ICON };
	app_req(&s, APP_MANAGER, "xdg_toplevel_icon_manager_v1", "create_icon", &ci, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 1, 0);
	uint32_t hicon = MSG_ARG(&rx, 0, 0);
	EXPECT_REQ(&rx, 0, hmanager, "xdg_toplevel_icon_manager_v1", "create_icon", hicon);

	union cw_arg ab[2] = { { .u = APP_BUFFER }, { .i = 1 } };
	app_req(&s, APP_ICON, "xdg_toplevel_icon_v1", "add_buffer", ab, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 4, 1);
	unsigned k = expect_creation(&s, &rx, 0, rx.fds[0]);
	EXPECT_REQ(&rx, 3, hicon, "xdg_toplevel_icon_v1", "add_buffer", s.sh[k].buffer, 1);
	recv_app(&s, &rx, 0);
	expect_shadow(&s, k, s.pool);

	app_req(&s, APP_BUFFER, "wl_buffer", "destroy", NULL, NULL, 0);
	spin(&s.r);
	recv_comp(&s, &rx, 1, 0);
	EXPECT_REQ(&rx, 0, s.sh[k].buffer, "wl_buffer", "destroy");
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, 1, "wl_display", "delete_id", APP_BUFFER);
	scene_finish(&s);
}

/* ---- 3: passthrough ---- */

/* Without copy mode the app's pool file itself reaches the compositor. */
static void test_passthrough_sends_the_apps_file(void)
{
	cfg.shm_copy = false;
	struct scene s;
	scene_init(&s);
	scene_pool(&s, 8192);
	spin(&s.r);
	struct rx rx;
	recv_comp(&s, &rx, 1, 1);
	uint32_t hpool = MSG_ARG(&rx, 0, 0);
	EXPECT_REQ(&rx, 0, s.hshm, "wl_shm", "create_pool", hpool, 8192);
	struct stat mine, theirs;
	test_assert(fstat(s.pool_fd, &mine) == 0 && fstat(rx.fds[0], &theirs) == 0);
	test_assert(mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino);
	close_rx_fds(&rx);
	recv_app(&s, &rx, 0);

	send_create_buffer(&s, 0, 64, 32, 256, FMT_ARGB8888);
	spin(&s.r);
	recv_comp(&s, &rx, 1, 0);
	uint32_t hbuffer = MSG_ARG(&rx, 0, 0);
	EXPECT_REQ(&rx, 0, hpool, "wl_shm_pool", "create_buffer", hbuffer, 0, 64, 32, 256,
		FMT_ARGB8888);
	scene_surface(&s);
	struct frame f = { .damage = &(struct rect){ 1, 2, 3, 4 }, .ndamage = 1 };
	send_frame(&s, &f);
	spin(&s.r);
	recv_comp(&s, &rx, 3, 0);
	EXPECT_REQ(&rx, 0, s.hsurf, "wl_surface", "attach", hbuffer, 0, 0);
	EXPECT_REQ(&rx, 1, s.hsurf, "wl_surface", "damage_buffer", 1, 2, 3, 4);
	EXPECT_REQ(&rx, 2, s.hsurf, "wl_surface", "commit");
	recv_app(&s, &rx, 0); /* the compositor releases it, not crossway */
	comp_evt(&s, hbuffer, "wl_buffer", "release", NULL);
	spin(&s.r);
	recv_app(&s, &rx, 1);
	EXPECT_EVT(&rx, 0, APP_BUFFER, "wl_buffer", "release");
	scene_finish(&s);
	cfg.shm_copy = true;
}

int main(void)
{
	scene_program_init();
	RUN(test_local_and_own_object_lifetimes);
	RUN(test_released_shm_still_makes_shadows);
	RUN(test_icon_buffer_is_a_shadow);
	RUN(test_passthrough_sends_the_apps_file);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
