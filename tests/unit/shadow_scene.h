/* The copy-mode scene shared by the test_shadow* programs, on the rig of rig.h: one app
 * with one wl_shm pool, one buffer and one surface, the compositor's view of it (the
 * shadows crossway makes), and checks of what each side receives. Functions are static
 * inline so that a test program may leave some unused. */
#ifndef CW_TEST_SHADOW_SCENE_H
#define CW_TEST_SHADOW_SCENE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rig.h"
#include "shm/shm.h"

/* The app's ids, allocated in this order by every scene. */
enum {
	APP_COMPOSITOR = 3,
	APP_SHM = 4,
	APP_POOL = 5,
	APP_BUFFER = 6,
	APP_SURFACE = 7,
	APP_NEXT = 8, /* the first id a test may use for anything else */
};

/* wl_shm formats: 0 and 1 are wl_shm's own codes, the others DRM fourccs. */
#define FMT_ARGB8888 0u
#define FMT_XRGB8888 1u
#define FMT_XRGB2101010 0x30335258u /* 'XR30' */
#define FMT_NV12 0x3231564eu        /* two planes: crossway cannot shadow it */

#define SHADOW_NEW (-1) /* a frame must create a shadow */
#define SHADOW_ANY (-2) /* a frame must reuse one of the live shadows, whichever */
#define DESTROY_ANY (-1) /* a frame may destroy any number of other shadows */
#define MAX_SHADOWS 16

struct rect {
	int32_t x, y, w, h;
};

/* A shadow buffer as the compositor sees it: crossway's ids and its memory, mapped. */
struct shadow {
	uint32_t pool, buffer;
	const uint8_t *map;
	size_t size;
	bool destroyed; /* crossway sent wl_buffer.destroy */
};

/* One app with one buffer and one surface, and the compositor's view of it. */
struct scene {
	struct rig r;
	int base_fds;
	uint32_t hreg, hcomp, hshm, hsurf; /* compositor-side ids */
	int pool_fd;                       /* the app's pool file, -1 if none */
	uint8_t *pool;                     /* its mapping, read-write */
	size_t pool_size;
	uint32_t offset, width, height, stride, format;
	struct shadow sh[MAX_SHADOWS];
	unsigned nsh;
};

/* ---- messages ---- */

static inline uint32_t opcode(const char *iface, const char *msg, bool request)
{
	const struct cw_iface *f = cw_proto_find(iface);
	test_assert(f);
	uint32_t n = request ? f->nreq : f->nevt;
	const struct cw_msg_desc *d = request ? f->req : f->evt;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(d[i].name, msg) == 0) {
			return i;
		}
	}
	fprintf(stderr, "no message %s.%s\n", iface, msg);
	test_assert(!"unknown message");
	return 0;
}

static inline void app_req(struct scene *s, uint32_t id, const char *iface, const char *msg,
	const union cw_arg *args, const int *fds, size_t nfds)
{
	send_msg(s->r.app, id, iface, true, opcode(iface, msg, true), args, fds, nfds);
}

static inline void comp_evt(struct scene *s, uint32_t id, const char *iface, const char *msg,
	const union cw_arg *args)
{
	send_msg(s->r.comp, id, iface, false, opcode(iface, msg, false), args, NULL, 0);
}

static inline void dump(const char *side, const struct rx *rx)
{
	fprintf(stderr, "%s received %d messages, %zu fds:\n", side, msg_count(rx), rx->nfds);
	for (int i = 0; i < msg_count(rx); i++) {
		int at = msg_at(rx, i);
		uint32_t size = rx->w[at + 1] >> 16;
		fprintf(stderr, "  [%d] object %u opcode %u size %u:", i, rx->w[at],
			rx->w[at + 1] & 0xffff, size);
		for (uint32_t k = 2; k < size / 4 && at + k < rx->nwords; k++) {
			fprintf(stderr, " %u", rx->w[at + k]);
		}
		fprintf(stderr, "\n");
	}
}

static inline void expect_count(const char *side, const struct rx *rx, int n, size_t nfds)
{
	if (msg_count(rx) != n || rx->nfds != nfds) {
		fprintf(stderr, "%s: expected %d messages and %zu fds\n", side, n, nfds);
		dump(side, rx);
		test_assert(!"unexpected message count");
	}
}

/* Message i of rx must be iface.msg on object id with exactly these argument words. */
static inline void expect_msg(const char *side, const struct rx *rx, int i, uint32_t id,
	const char *iface, const char *msg, bool request, const uint32_t *args, size_t nargs)
{
	uint32_t op = opcode(iface, msg, request);
	int at = msg_at(rx, i);
	bool ok = at >= 0 && rx->w[at] == id && (rx->w[at + 1] & 0xffff) == op &&
		(rx->w[at + 1] >> 16) == 8 + 4 * nargs && (size_t)at + 2 + nargs <= rx->nwords;
	for (size_t k = 0; ok && k < nargs; k++) {
		ok = rx->w[at + 2 + k] == args[k];
	}
	if (!ok) {
		fprintf(stderr, "%s: message %d should be %s@%u.%s(", side, i, iface, id, msg);
		for (size_t k = 0; k < nargs; k++) {
			fprintf(stderr, "%s%u", k ? ", " : "", args[k]);
		}
		fprintf(stderr, ")\n");
		dump(side, rx);
		test_assert(!"unexpected message");
	}
}

/* Requests seen by the compositor and events seen by the app, argument words after the
 * message name (none for an empty list). */
#define EXPECT_REQ(rx, i, id, iface, msg, ...) \
	expect_msg("compositor", (rx), (i), (id), (iface), (msg), true, \
		(const uint32_t[]){ 0, __VA_ARGS__ } + 1, \
		sizeof((const uint32_t[]){ 0, __VA_ARGS__ }) / 4 - 1)
#define EXPECT_EVT(rx, i, id, iface, msg, ...) \
	expect_msg("app", (rx), (i), (id), (iface), (msg), false, \
		(const uint32_t[]){ 0, __VA_ARGS__ } + 1, \
		sizeof((const uint32_t[]){ 0, __VA_ARGS__ }) / 4 - 1)

static inline void recv_comp(struct scene *s, struct rx *rx, int n, size_t nfds)
{
	test_assert(recv_all(s->r.comp, rx));
	expect_count("compositor", rx, n, nfds);
}

static inline void recv_app(struct scene *s, struct rx *rx, int n)
{
	test_assert(recv_all(s->r.app, rx));
	expect_count("app", rx, n, 0);
}

/* Neither side received anything. */
static inline void expect_quiet(struct scene *s)
{
	struct rx rx;
	recv_comp(s, &rx, 0, 0);
	recv_app(s, &rx, 0);
}

/* ---- pixels ---- */

static inline uint32_t pattern(uint32_t seed, int32_t x, int32_t y)
{
	return seed << 24 | (uint32_t)y << 12 | (uint32_t)x;
}

static inline uint32_t pixel(const struct scene *s, const uint8_t *first, int32_t x, int32_t y)
{
	uint32_t v;
	memcpy(&v, first + (size_t)y * s->stride + (size_t)x * 4, 4);
	return v;
}

/* Paints pattern seed into r of the buffer inside pool (the app's, or a copy of it). */
static inline void paint(const struct scene *s, uint8_t *pool, uint32_t seed, struct rect r)
{
	for (int32_t y = r.y; y < r.y + r.h; y++) {
		for (int32_t x = r.x; x < r.x + r.w; x++) {
			uint32_t v = pattern(seed, x, y);
			memcpy(pool + s->offset + (size_t)y * s->stride + (size_t)x * 4, &v, 4);
		}
	}
}

static inline struct rect whole(const struct scene *s)
{
	return (struct rect){ 0, 0, (int32_t)s->width, (int32_t)s->height };
}

static inline uint8_t *snapshot(const struct scene *s)
{
	uint8_t *copy = malloc(s->pool_size);
	test_assert(copy);
	memcpy(copy, s->pool, s->pool_size);
	return copy;
}

/* Every pixel of shadow k equals the buffer inside pool (the app's, or an expected
 * image built like it). */
static inline void expect_shadow(const struct scene *s, unsigned k, const uint8_t *pool)
{
	test_assert(k < s->nsh);
	const uint8_t *want = pool + s->offset;
	unsigned bad = 0;
	for (int32_t y = 0; y < (int32_t)s->height; y++) {
		for (int32_t x = 0; x < (int32_t)s->width; x++) {
			uint32_t got = pixel(s, s->sh[k].map, x, y), exp = pixel(s, want, x, y);
			if (got != exp && bad++ < 4) {
				fprintf(stderr, "shadow %u pixel (%d, %d) is 0x%08x, "
					"expected 0x%08x\n", k, x, y, got, exp);
			}
		}
	}
	if (bad) {
		fprintf(stderr, "shadow %u: %u pixels differ\n", k, bad);
	}
	test_assert(bad == 0);
}

/* ---- scenes ---- */

/* Binds wl_compositor and wl_shm (v2), which the compositor advertises and then offers
 * formats for. The app's side of it is left unread. */
static inline void scene_init_formats(struct scene *s, const uint32_t *formats, size_t nformats)
{
	*s = (struct scene){ .pool_fd = -1 };
	s->base_fds = count_fds();
	rig_init(&s->r);
	s->hreg = setup_registry(&s->r, 2);
	advertise_and_bind(&s->r, s->hreg, 1, "wl_compositor", 6, APP_COMPOSITOR);
	advertise_and_bind(&s->r, s->hreg, 2, "wl_shm", 2, APP_SHM);
	spin(&s->r);
	struct rx rx;
	recv_comp(s, &rx, 2, 0);
	/* bind(name, "wl_compositor" in 4 words, version, id), bind(name, "wl_shm" in 2...) */
	EXPECT_REQ(&rx, 0, s->hreg, "wl_registry", "bind", 1, 14, MSG_ARG(&rx, 0, 2),
		MSG_ARG(&rx, 0, 3), MSG_ARG(&rx, 0, 4), MSG_ARG(&rx, 0, 5), 6, MSG_ARG(&rx, 0, 7));
	EXPECT_REQ(&rx, 1, s->hreg, "wl_registry", "bind", 2, 7, MSG_ARG(&rx, 1, 2),
		MSG_ARG(&rx, 1, 3), 2, MSG_ARG(&rx, 1, 5));
	s->hcomp = MSG_ARG(&rx, 0, 7);
	s->hshm = MSG_ARG(&rx, 1, 5);
	test_assert(s->hcomp && s->hshm && s->hcomp != s->hshm);
	for (size_t i = 0; i < nformats; i++) {
		union cw_arg f = { .u = formats[i] };
		comp_evt(s, s->hshm, "wl_shm", "format", &f);
	}
	spin(&s->r);
}

/* The usual scene: the compositor offers ARGB8888 and XRGB8888, which the app sees. */
static inline void scene_init(struct scene *s)
{
	static const uint32_t formats[] = { FMT_ARGB8888, FMT_XRGB8888 };
	scene_init_formats(s, formats, 2);
	struct rx rx;
	recv_app(s, &rx, 4);
	test_assert(MSG_ID(&rx, 0) == 2 && MSG_ID(&rx, 1) == 2); /* the two globals */
	EXPECT_EVT(&rx, 2, APP_SHM, "wl_shm", "format", FMT_ARGB8888);
	EXPECT_EVT(&rx, 3, APP_SHM, "wl_shm", "format", FMT_XRGB8888);
}

/* The app's pool file: a memfd of size bytes, sent with wl_shm.create_pool as
 * APP_POOL. Its bytes start as 0xa5. */
static inline void scene_pool(struct scene *s, size_t size)
{
	s->pool_fd = memfd_create("test-app-pool", MFD_CLOEXEC);
	test_assert(s->pool_fd >= 0 && ftruncate(s->pool_fd, (off_t)size) == 0);
	s->pool = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->pool_fd, 0);
	test_assert(s->pool != MAP_FAILED);
	s->pool_size = size;
	memset(s->pool, 0xa5, size);
	union cw_arg cp[3] = { { .u = APP_POOL }, { .h = 0 }, { .i = (int32_t)size } };
	app_req(s, APP_SHM, "wl_shm", "create_pool", cp, &s->pool_fd, 1);
}

static inline void send_create_buffer(struct scene *s, uint32_t offset, uint32_t width,
	uint32_t height, uint32_t stride, uint32_t format)
{
	union cw_arg cb[6] = { { .u = APP_BUFFER }, { .u = offset }, { .u = width },
		{ .u = height }, { .u = stride }, { .u = format } };
	app_req(s, APP_POOL, "wl_shm_pool", "create_buffer", cb, NULL, 0);
}

/* A pool and the buffer APP_BUFFER in it, painted with pattern 1: both stay local, so
 * neither side hears of them. */
static inline void scene_buffer(struct scene *s, size_t pool_size, uint32_t offset, uint32_t width,
	uint32_t height, uint32_t stride, uint32_t format)
{
	scene_pool(s, pool_size);
	s->offset = offset;
	s->width = width;
	s->height = height;
	s->stride = stride;
	s->format = format;
	paint(s, s->pool, 1, whole(s));
	send_create_buffer(s, offset, width, height, stride, format);
	spin(&s->r);
	expect_quiet(s);
}

static inline void scene_surface(struct scene *s)
{
	union cw_arg a = { .u = APP_SURFACE };
	app_req(s, APP_COMPOSITOR, "wl_compositor", "create_surface", &a, NULL, 0);
	spin(&s->r);
	struct rx rx;
	recv_comp(s, &rx, 1, 0);
	s->hsurf = MSG_ARG(&rx, 0, 0);
	EXPECT_REQ(&rx, 0, s->hcomp, "wl_compositor", "create_surface", s->hsurf);
	test_assert(s->hsurf != 0 && s->hsurf < CW_SERVER_ID_START);
	recv_app(s, &rx, 0);
}

/* An app request forwarded as is to the compositor, which gets it on hid. */
static inline void forwarded(struct scene *s, uint32_t id, uint32_t hid, const char *iface,
	const char *msg, const union cw_arg *args, size_t nargs)
{
	app_req(s, id, iface, msg, args, NULL, 0);
	spin(&s->r);
	struct rx rx;
	recv_comp(s, &rx, 1, 0);
	uint32_t w[8];
	test_assert(nargs <= 8);
	for (size_t i = 0; i < nargs; i++) {
		w[i] = args[i].u;
	}
	expect_msg("compositor", &rx, 0, hid, iface, msg, true, w, nargs);
	recv_app(s, &rx, 0);
}

static inline bool is_our_id(const struct scene *s, uint32_t id)
{
	if (id == s->hreg || id == s->hcomp || id == s->hshm || id == s->hsurf) {
		return true;
	}
	for (unsigned i = 0; i < s->nsh; i++) {
		if (!s->sh[i].destroyed && (id == s->sh[i].pool || id == s->sh[i].buffer)) {
			return true;
		}
	}
	return false;
}

/* Messages i..i+2 of rx must create a shadow for the app's buffer: wl_shm.create_pool
 * with the memfd fd, create_buffer with the buffer's geometry, and the pool's destroy.
 * Maps fd (then closes it) and returns the shadow's index. */
static inline unsigned expect_creation(struct scene *s, const struct rx *rx, int i, int fd)
{
	uint32_t pool = MSG_ARG(rx, i, 0), size = s->stride * s->height;
	EXPECT_REQ(rx, i, s->hshm, "wl_shm", "create_pool", pool, size);
	uint32_t buffer = MSG_ARG(rx, i + 1, 0);
	EXPECT_REQ(rx, i + 1, pool, "wl_shm_pool", "create_buffer", buffer, 0, s->width,
		s->height, s->stride, s->format);
	EXPECT_REQ(rx, i + 2, pool, "wl_shm_pool", "destroy");
	/* Ids of crossway's own on the compositor connection: client range, not in use. */
	test_assert(pool && pool < CW_SERVER_ID_START && buffer && buffer < CW_SERVER_ID_START);
	test_assert(pool != buffer && !is_our_id(s, pool) && !is_our_id(s, buffer));
	char path[64], link[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	test_assert(n > 0);
	link[n] = '\0';
	test_assert(strncmp(link, "/memfd:", 7) == 0);
	struct stat st, app;
	test_assert(fstat(fd, &st) == 0 && (size_t)st.st_size >= size);
	/* crossway's own file, not the app's (which is a memfd too). */
	test_assert(fstat(s->pool_fd, &app) == 0 && st.st_ino != app.st_ino);
	const uint8_t *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	test_assert(map != MAP_FAILED);
	close(fd);
	test_assert(s->nsh < MAX_SHADOWS);
	s->sh[s->nsh] = (struct shadow){ .pool = pool, .buffer = buffer, .map = map,
		.size = (size_t)st.st_size };
	return s->nsh++;
}

/* The compositor retires ids with delete_id; none may reach the app. */
static inline void comp_delete_ids(struct scene *s, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		union cw_arg a = { .u = ids[i] };
		comp_evt(s, 1, "wl_display", "delete_id", &a);
	}
	spin(&s->r);
	expect_quiet(s);
}

/* The compositor releases shadow k; the app hears nothing of it. */
static inline void comp_release(struct scene *s, unsigned k)
{
	comp_evt(s, s->sh[k].buffer, "wl_buffer", "release", NULL);
	spin(&s->r);
	expect_quiet(s);
}

struct frame {
	const char *damage_req; /* "damage_buffer" (NULL) or "damage" (surface coordinates) */
	const struct rect *damage;
	size_t ndamage;
	int shadow;      /* the index of the shadow expected, SHADOW_NEW or SHADOW_ANY */
	/* Other shadows whose wl_buffer.destroy follows the attach: this many, or any number
	 * with DESTROY_ANY. */
	int ndestroy;
	size_t ndestroyed;               /* out: how many were destroyed */
	unsigned destroyed[MAX_SHADOWS]; /* out: their indices */
};

static inline const char *damage_req(const struct frame *f)
{
	return f->damage_req ? f->damage_req : "damage_buffer";
}

static inline void send_frame(struct scene *s, const struct frame *f)
{
	union cw_arg at[3] = { { .u = APP_BUFFER }, { .i = 0 }, { .i = 0 } };
	app_req(s, APP_SURFACE, "wl_surface", "attach", at, NULL, 0);
	for (size_t i = 0; i < f->ndamage; i++) {
		const struct rect *d = &f->damage[i];
		union cw_arg a[4] = { { .i = d->x }, { .i = d->y }, { .i = d->w }, { .i = d->h } };
		app_req(s, APP_SURFACE, "wl_surface", damage_req(f), a, NULL, 0);
	}
	app_req(s, APP_SURFACE, "wl_surface", "commit", NULL, NULL, 0);
}

static inline int shadow_index(const struct scene *s, uint32_t buffer)
{
	for (unsigned i = 0; i < s->nsh; i++) {
		if (s->sh[i].buffer == buffer && !s->sh[i].destroyed) {
			return (int)i;
		}
	}
	return -1;
}

/* One frame of the app: attach its buffer, damage, commit. The compositor must get the
 * damage as sent (it is relayed on arrival), then a new shadow's creation if one is
 * due, the attach of the shadow at (0, 0), any destroys, and the commit; the app must
 * get its buffer back at once. Returns the index of the shadow attached. */
static inline unsigned frame_ex(struct scene *s, struct frame *f)
{
	send_frame(s, f);
	spin(&s->r);
	bool created = f->shadow == SHADOW_NEW;
	int n = (int)f->ndamage + (created ? 3 : 0) + 2;
	struct rx rx;
	test_assert(recv_all(s->r.comp, &rx));
	if (f->ndestroy == DESTROY_ANY && msg_count(&rx) > n) {
		n = msg_count(&rx);
	} else if (f->ndestroy != DESTROY_ANY) {
		n += f->ndestroy;
	}
	expect_count("compositor", &rx, n, created ? 1 : 0);
	int i = 0;
	for (; i < (int)f->ndamage; i++) {
		const struct rect *d = &f->damage[i];
		EXPECT_REQ(&rx, i, s->hsurf, "wl_surface", damage_req(f), (uint32_t)d->x,
			(uint32_t)d->y, (uint32_t)d->w, (uint32_t)d->h);
	}
	int k;
	if (created) {
		k = (int)expect_creation(s, &rx, i, rx.fds[0]);
		i += 3;
	} else {
		k = shadow_index(s, MSG_ARG(&rx, i, 0));
		test_assert(k >= 0);
		if (f->shadow != SHADOW_ANY && k != f->shadow) {
			fprintf(stderr, "attached shadow %d, expected shadow %d\n", k, f->shadow);
			test_assert(!"wrong shadow");
		}
	}
	EXPECT_REQ(&rx, i, s->hsurf, "wl_surface", "attach", s->sh[k].buffer, 0, 0);
	i++;
	f->ndestroyed = 0;
	for (; i < n - 1; i++) {
		int victim = shadow_index(s, MSG_ID(&rx, i));
		if (victim < 0 || victim == k) {
			dump("compositor", &rx);
			test_assert(!"a destroy of another live shadow expected");
		}
		EXPECT_REQ(&rx, i, s->sh[victim].buffer, "wl_buffer", "destroy");
		s->sh[victim].destroyed = true;
		f->destroyed[f->ndestroyed++] = (unsigned)victim;
	}
	EXPECT_REQ(&rx, i, s->hsurf, "wl_surface", "commit");
	recv_app(s, &rx, 1);
	EXPECT_EVT(&rx, 0, APP_BUFFER, "wl_buffer", "release");
	return (unsigned)k;
}

static inline unsigned frame(struct scene *s, const struct rect *damage, size_t ndamage, int shadow)
{
	struct frame f = { .damage = damage, .ndamage = ndamage, .shadow = shadow };
	return frame_ex(s, &f);
}

static inline void scene_unmap(struct scene *s)
{
	for (unsigned i = 0; i < s->nsh; i++) {
		munmap((void *)s->sh[i].map, s->sh[i].size);
	}
	if (s->pool) {
		munmap(s->pool, s->pool_size);
	}
	if (s->pool_fd >= 0) {
		close(s->pool_fd);
	}
}

/* Ends a scene in which nothing went wrong: no error, no fd left behind. */
static inline void scene_finish(struct scene *s)
{
	test_assert(!cw_client_is_dead(s->r.c));
	rig_finish(&s->r);
	scene_unmap(s);
	test_assert(count_fds() == s->base_fds);
}

/* The app must get exactly wl_display.error(object, code, text), as its only message,
 * the compositor must have got nothing more and be disconnected, and the client must
 * be gone. Ends the scene. */
static inline void expect_error_text(struct scene *s, uint32_t object, uint32_t code,
	const char *text)
{
	struct rx rx;
	spin(&s->r);
	test_assert(recv_all(s->r.app, &rx));
	size_t len = strlen(text) + 1;
	if (msg_count(&rx) != 1 || MSG_ID(&rx, 0) != 1 ||
		MSG_OP(&rx, 0) != opcode("wl_display", "error", false) ||
		MSG_ARG(&rx, 0, 0) != object || MSG_ARG(&rx, 0, 1) != code ||
		MSG_ARG(&rx, 0, 2) != len ||
		(rx.w[msg_at(&rx, 0) + 1] >> 16) != 20 + (len + 3) / 4 * 4 ||
		memcmp(&rx.w[msg_at(&rx, 0) + 5], text, len) != 0) {
		fprintf(stderr, "expected error object %u code %u \"%s\"\n", object, code, text);
		if (msg_count(&rx) >= 1 && MSG_ID(&rx, 0) == 1 && MSG_OP(&rx, 0) == 0) {
			fprintf(stderr, "got error object %u code %u \"%.*s\"\n",
				MSG_ARG(&rx, 0, 0), MSG_ARG(&rx, 0, 1), (int)MSG_ARG(&rx, 0, 2),
				(const char *)&rx.w[msg_at(&rx, 0) + 5]);
		}
		dump("app", &rx);
		test_assert(!"unexpected error");
	}
	test_assert(cw_client_is_dead(s->r.c));
	bool data = recv_all(s->r.comp, &rx);
	if (data) {
		dump("compositor", &rx);
		close_rx_fds(&rx);
	}
	test_assert(!data); /* end of file, nothing before it */
	cw_client_destroy(s->r.c);
	s->r.c = NULL;
	test_assert(!recv_all(s->r.app, &rx)); /* the app's connection is closed */
	rig_finish(&s->r);
	scene_unmap(s);
	test_assert(count_fds() == s->base_fds);
}

/* Once per program, before its first scene: the protocol tables, the SIGBUS handler that
 * absorbs faults on the app's pools, and copy mode (which a test may turn off for a
 * while). */
static inline void scene_program_init(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_assert(cw_proto_init() == 0);
	test_assert(cw_shm_sigbus_install() == 0);
	cfg.shm_copy = true;
}

#endif
