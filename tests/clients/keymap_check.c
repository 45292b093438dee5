/* keymap_check: integration-test client. Binds wl_seat, waits for the keyboard
 * capability, gets a wl_keyboard, maps the keymap fd it receives (MAP_PRIVATE) and
 * compiles it with xkbcommon. Prints "keymap ok: N keys, M layouts" and exits 0 only
 * if all of that worked; any failure or the timeout prints one line and exits 1. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>
#include <xkbcommon/xkbcommon.h>

#define TIMEOUT_MS_DEFAULT 5000

struct state {
	struct wl_seat *seat; /* owned */
	uint32_t seat_version;
	struct wl_keyboard *keyboard; /* owned */
	bool have_keyboard_cap;
	bool done;
	bool failed;
	int nkeys;
	int nlayouts;
};

static int fail(struct state *st, const char *fmt, const char *arg)
{
	fprintf(stderr, "keymap_check: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	st->failed = true;
	return -1;
}

static void count_key(struct xkb_keymap *keymap, xkb_keycode_t key, void *data)
{
	int *n = data;
	if (xkb_keymap_key_get_name(keymap, key) != NULL) {
		(*n)++;
	}
}

static int compile_keymap(struct state *st, const char *text)
{
	struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_DEFAULT_INCLUDES |
		XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
	if (ctx == NULL) {
		return fail(st, "%s", "xkb_context_new failed");
	}
	struct xkb_keymap *keymap = xkb_keymap_new_from_string(ctx, text,
		XKB_KEYMAP_FORMAT_TEXT_V1, XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (keymap == NULL) {
		xkb_context_unref(ctx);
		return fail(st, "%s", "xkb_keymap_new_from_string failed to compile the keymap");
	}
	st->nkeys = 0;
	xkb_keymap_key_for_each(keymap, count_key, &st->nkeys);
	st->nlayouts = (int)xkb_keymap_num_layouts(keymap);
	xkb_keymap_unref(keymap);
	xkb_context_unref(ctx);
	if (st->nkeys <= 0 || st->nlayouts <= 0) {
		return fail(st, "%s", "compiled keymap has no keys or no layouts");
	}
	return 0;
}

static void handle_keymap(void *data, struct wl_keyboard *kb, uint32_t format, int32_t fd,
	uint32_t size)
{
	struct state *st = data;
	(void)kb;
	st->done = true;
	if (format != WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%u", format);
		fail(st, "keymap format %s is not xkb_v1", buf);
		close(fd);
		return;
	}
	if (size == 0) {
		fail(st, "%s", "keymap size is 0");
		close(fd);
		return;
	}
	char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fail(st, "mmap of the keymap fd failed: %s", strerror(errno));
		return;
	}
	/* The keymap is a NUL-terminated string inside size bytes. */
	if (memchr(map, '\0', size) == NULL) {
		fail(st, "%s", "keymap is not NUL-terminated within its size");
	} else {
		compile_keymap(st, map);
	}
	munmap(map, size);
}

static void handle_enter(void *data, struct wl_keyboard *kb, uint32_t serial,
	struct wl_surface *surface, struct wl_array *keys)
{
	(void)data, (void)kb, (void)serial, (void)surface, (void)keys;
}

static void handle_leave(void *data, struct wl_keyboard *kb, uint32_t serial,
	struct wl_surface *surface)
{
	(void)data, (void)kb, (void)serial, (void)surface;
}

static void handle_key(void *data, struct wl_keyboard *kb, uint32_t serial, uint32_t time,
	uint32_t key, uint32_t state)
{
	(void)data, (void)kb, (void)serial, (void)time, (void)key, (void)state;
}

static void handle_modifiers(void *data, struct wl_keyboard *kb, uint32_t serial,
	uint32_t depressed, uint32_t latched, uint32_t locked, uint32_t group)
{
	(void)data, (void)kb, (void)serial, (void)depressed, (void)latched, (void)locked;
	(void)group;
}

static void handle_repeat_info(void *data, struct wl_keyboard *kb, int32_t rate,
	int32_t delay)
{
	(void)data, (void)kb, (void)rate, (void)delay;
}

static const struct wl_keyboard_listener keyboard_listener = {
	.keymap = handle_keymap,
	.enter = handle_enter,
	.leave = handle_leave,
	.key = handle_key,
	.modifiers = handle_modifiers,
	.repeat_info = handle_repeat_info,
};

static void handle_capabilities(void *data, struct wl_seat *seat, uint32_t caps)
{
	struct state *st = data;
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && st->keyboard == NULL) {
		st->have_keyboard_cap = true;
		st->keyboard = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(st->keyboard, &keyboard_listener, st);
	}
}

static void handle_seat_name(void *data, struct wl_seat *seat, const char *name)
{
	(void)data, (void)seat, (void)name;
}

static const struct wl_seat_listener seat_listener = {
	.capabilities = handle_capabilities,
	.name = handle_seat_name,
};

static void handle_global(void *data, struct wl_registry *reg, uint32_t name,
	const char *iface, uint32_t version)
{
	struct state *st = data;
	if (strcmp(iface, wl_seat_interface.name) == 0 && st->seat == NULL) {
		/* version 4 has everything this client uses (repeat_info). */
		st->seat_version = version < 4 ? version : 4;
		st->seat = wl_registry_bind(reg, name, &wl_seat_interface, st->seat_version);
		wl_seat_add_listener(st->seat, &seat_listener, st);
	}
}

static void handle_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data, (void)reg, (void)name;
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Dispatches until st->done or the deadline; returns -1 on timeout or error. */
static int dispatch_until_done(struct wl_display *dpy, struct state *st, long deadline_ms)
{
	while (!st->done) {
		while (wl_display_prepare_read(dpy) != 0) {
			if (wl_display_dispatch_pending(dpy) < 0) {
				return -1;
			}
		}
		if (st->done) {
			wl_display_cancel_read(dpy);
			break;
		}
		if (wl_display_flush(dpy) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(dpy);
			return -1;
		}
		long left = deadline_ms - now_ms();
		if (left <= 0) {
			wl_display_cancel_read(dpy);
			return -1;
		}
		struct pollfd pfd = { .fd = wl_display_get_fd(dpy), .events = POLLIN };
		int n = poll(&pfd, 1, (int)left);
		if (n <= 0) {
			wl_display_cancel_read(dpy);
			if (n < 0 && errno == EINTR) {
				continue;
			}
			return -1;
		}
		if (wl_display_read_events(dpy) < 0) {
			return -1;
		}
		if (wl_display_dispatch_pending(dpy) < 0) {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long timeout_ms = TIMEOUT_MS_DEFAULT;
	if (argc > 1) {
		timeout_ms = strtol(argv[1], NULL, 10);
	}
	struct state st = {0};
	struct wl_display *dpy = wl_display_connect(NULL);
	if (dpy == NULL) {
		fprintf(stderr, "keymap_check: cannot connect to the Wayland display: %s\n",
			strerror(errno));
		return 1;
	}
	struct wl_registry *reg = wl_display_get_registry(dpy);
	wl_registry_add_listener(reg, &registry_listener, &st);
	long deadline_ms = now_ms() + timeout_ms;
	int ret = 1;
	if (wl_display_roundtrip(dpy) < 0) {
		fprintf(stderr, "keymap_check: roundtrip failed: %s\n", strerror(errno));
	} else if (st.seat == NULL) {
		fprintf(stderr, "keymap_check: no wl_seat global\n");
	} else if (dispatch_until_done(dpy, &st, deadline_ms) < 0) {
		int err = wl_display_get_error(dpy);
		if (err != 0) {
			fprintf(stderr, "keymap_check: display error: %s\n", strerror(err));
		} else if (!st.have_keyboard_cap) {
			fprintf(stderr, "keymap_check: timeout after %ld ms: the seat never "
				"announced the keyboard capability\n", timeout_ms);
		} else {
			fprintf(stderr, "keymap_check: timeout after %ld ms: no "
				"wl_keyboard.keymap event\n", timeout_ms);
		}
	} else if (!st.failed) {
		printf("keymap ok: %d keys, %d layouts\n", st.nkeys, st.nlayouts);
		ret = 0;
	}
	if (st.keyboard != NULL) {
		wl_keyboard_destroy(st.keyboard);
	}
	if (st.seat != NULL) {
		wl_seat_destroy(st.seat);
	}
	wl_registry_destroy(reg);
	wl_display_disconnect(dpy);
	return ret;
}
