/* The relay state machine between two socketpairs: the test plays both the app and the
 * compositor with raw messages and checks id mapping, delete_id and zombies, the
 * registry filter, errors, fd passing and backpressure. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "rig.h"

static int n_run;

static void test_registry_hides_and_clamps(void)
{
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	union cw_arg g1[3] = { { .u = 1 }, { .s = "wl_compositor" }, { .u = 99 } };
	union cw_arg g2[3] = { { .u = 2 }, { .s = "zz_unknown_v1" }, { .u = 3 } };
	union cw_arg g3[3] = { { .u = 3 }, { .s = "wl_output" }, { .u = 2 } };
	send_msg(r.comp, hreg, "wl_registry", false, 0, g1, NULL, 0);
	send_msg(r.comp, hreg, "wl_registry", false, 0, g2, NULL, 0);
	send_msg(r.comp, hreg, "wl_registry", false, 0, g3, NULL, 0);
	union cw_arg rm = { .u = 2 };
	send_msg(r.comp, hreg, "wl_registry", false, 1, &rm, NULL, 0); /* hidden: dropped */
	spin(&r);
	struct rx rx;
	recv_all(r.app, &rx);
	test_assert(msg_count(&rx) == 2);
	test_assert(MSG_ID(&rx, 0) == 2 && MSG_OP(&rx, 0) == 0 && MSG_ARG(&rx, 0, 0) == 1);
	test_assert(MSG_ARG(&rx, 0, 6) == 6); /* name, len, "wl_compositor\0" (4 words), version */
	test_assert(MSG_ARG(&rx, 1, 0) == 3);
	/* Binding at the clamped version works and gets a host id of its own. */
	union cw_arg b[4] = { { .u = 1 }, { .s = "wl_compositor" }, { .u = 6 }, { .u = 3 } };
	send_msg(r.app, 2, "wl_registry", true, 0, b, NULL, 0);
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_ID(&rx, 0) == hreg);
	test_assert(MSG_ARG(&rx, 0, 6) == 6 && MSG_ARG(&rx, 0, 7) == 3);
	rig_finish(&r);
}

static void test_bind_errors(void)
{
	static const struct {
		uint32_t name;
		const char *iface;
		uint32_t version;
	} cases[] = {
		{ 2, "zz_unknown_v1", 1 }, /* hidden global */
		{ 9, "wl_compositor", 1 }, /* no such global */
		{ 1, "wl_compositor", 7 }, /* above the advertised version */
		{ 1, "wl_compositor", 0 },
		{ 1, "wl_shm", 1 },        /* wrong interface */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig r;
		rig_init(&r);
		uint32_t hreg = setup_registry(&r, 2);
		union cw_arg g1[3] = { { .u = 1 }, { .s = "wl_compositor" }, { .u = 6 } };
		union cw_arg g2[3] = { { .u = 2 }, { .s = "zz_unknown_v1" }, { .u = 1 } };
		send_msg(r.comp, hreg, "wl_registry", false, 0, g1, NULL, 0);
		send_msg(r.comp, hreg, "wl_registry", false, 0, g2, NULL, 0);
		spin(&r);
		struct rx rx;
		recv_all(r.app, &rx);
		union cw_arg b[4] = { { .u = cases[i].name }, { .s = cases[i].iface },
			{ .u = cases[i].version }, { .u = 3 } };
		send_msg(r.app, 2, "wl_registry", true, 0, b, NULL, 0);
		expect_error(&r, 2, CW_DISPLAY_ERROR_INVALID_OBJECT);
		/* Nothing reached the compositor, and its connection is closed. */
		test_assert(!recv_all(r.comp, &rx) || msg_count(&rx) == 0);
		rig_finish(&r);
	}
}

static void test_sync_callback_and_delete_id(void)
{
	struct rig r;
	rig_init(&r);
	struct rx rx;
	for (int round = 0; round < 3; round++) {
		union cw_arg a = { .u = 2 }; /* the app reuses id 2 once it is deleted */
		send_msg(r.app, 1, "wl_display", true, 0, &a, NULL, 0);
		spin(&r);
		recv_all(r.comp, &rx);
		test_assert(msg_count(&rx) == 1 && MSG_OP(&rx, 0) == 0);
		uint32_t hcb = MSG_ARG(&rx, 0, 0);
		test_assert(hcb >= 2 && hcb < CW_SERVER_ID_START);
		union cw_arg done = { .u = 77 };
		send_msg(r.comp, hcb, "wl_callback", false, 0, &done, NULL, 0);
		union cw_arg del = { .u = hcb };
		send_msg(r.comp, 1, "wl_display", false, 1, &del, NULL, 0);
		spin(&r);
		recv_all(r.app, &rx);
		test_assert(msg_count(&rx) == 2);
		test_assert(MSG_ID(&rx, 0) == 2 && MSG_ARG(&rx, 0, 0) == 77);
		test_assert(MSG_ID(&rx, 1) == 1 && MSG_OP(&rx, 1) == 1 && MSG_ARG(&rx, 1, 0) == 2);
	}
	test_assert(r.c->pool.live == 1); /* only wl_display is left */
	rig_finish(&r);
}

/* An object the app destroyed keeps its app id until the compositor's delete_id; events
 * still in flight for it are dropped and their fds closed. */
static void test_guest_destroy_waits_for_delete_id(void)
{
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	union cw_arg g[3] = { { .u = 5 }, { .s = "wl_seat" }, { .u = 10 } };
	send_msg(r.comp, hreg, "wl_registry", false, 0, g, NULL, 0);
	spin(&r);
	struct rx rx;
	recv_all(r.app, &rx);
	union cw_arg b[4] = { { .u = 5 }, { .s = "wl_seat" }, { .u = 10 }, { .u = 3 } };
	send_msg(r.app, 2, "wl_registry", true, 0, b, NULL, 0);
	union cw_arg kb = { .u = 4 };
	send_msg(r.app, 3, "wl_seat", true, 1, &kb, NULL, 0); /* get_keyboard */
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 2);
	uint32_t hkb = MSG_ARG(&rx, 1, 0);
	/* The app releases the keyboard (destructor) while the compositor sends a keymap. */
	int base = count_fds();
	send_msg(r.app, 4, "wl_keyboard", true, 0, NULL, NULL, 0);
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_ID(&rx, 0) == hkb && MSG_OP(&rx, 0) == 0);
	int keymap = open("/dev/null", O_RDONLY | O_CLOEXEC);
	union cw_arg km[3] = { { .u = 1 }, { .h = 0 }, { .u = 10 } };
	send_msg(r.comp, hkb, "wl_keyboard", false, 0, km, &keymap, 1);
	close(keymap);
	spin(&r);
	test_assert(!recv_all(r.app, &rx) || msg_count(&rx) == 0);
	test_assert(count_fds() == base); /* the zombie's fd was closed */
	/* The app cannot use id 4 until delete_id; a request on it is an error... */
	test_assert(r.c->guest_ids.lo[4] != NULL);
	union cw_arg del = { .u = hkb };
	send_msg(r.comp, 1, "wl_display", false, 1, &del, NULL, 0);
	spin(&r);
	recv_all(r.app, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_OP(&rx, 0) == 1 && MSG_ARG(&rx, 0, 0) == 4);
	/* ...and after it, id 4 is free for a new object with a fresh host id. */
	send_msg(r.app, 3, "wl_seat", true, 1, &kb, NULL, 0);
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 1);
	rig_finish(&r);
}

/* Server-created objects: the compositor's ids are mapped to ids crossway hands out, and
 * an id the compositor reuses after the app destroyed the object maps afresh. */
static void test_server_created_objects(void)
{
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	union cw_arg gs[3] = { { .u = 1 }, { .s = "wl_seat" }, { .u = 10 } };
	union cw_arg gd[3] = { { .u = 2 }, { .s = "wl_data_device_manager" }, { .u = 3 } };
	send_msg(r.comp, hreg, "wl_registry", false, 0, gs, NULL, 0);
	send_msg(r.comp, hreg, "wl_registry", false, 0, gd, NULL, 0);
	spin(&r);
	struct rx rx;
	recv_all(r.app, &rx);
	union cw_arg bs[4] = { { .u = 1 }, { .s = "wl_seat" }, { .u = 10 }, { .u = 3 } };
	union cw_arg bd[4] = { { .u = 2 }, { .s = "wl_data_device_manager" }, { .u = 3 }, { .u = 4 } };
	union cw_arg gdd[2] = { { .u = 5 }, { .u = 3 } };
	send_msg(r.app, 2, "wl_registry", true, 0, bs, NULL, 0);
	send_msg(r.app, 2, "wl_registry", true, 0, bd, NULL, 0);
	send_msg(r.app, 4, "wl_data_device_manager", true, 1, gdd, NULL, 0);
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 3);
	uint32_t hseat = MSG_ARG(&rx, 0, 5); /* name, len, "wl_seat\0", version, id */
	uint32_t hdd = MSG_ARG(&rx, 2, 0);
	test_assert(MSG_ARG(&rx, 2, 1) == hseat);

	const uint32_t hoffer = CW_SERVER_ID_START + 7; /* any server id */
	/* The compositor's ids need not start where ours do. */
	for (uint32_t id = CW_SERVER_ID_START; id < hoffer; id++) {
		union cw_arg n = { .u = id };
		send_msg(r.comp, hdd, "wl_data_device", false, 0, &n, NULL, 0);
	}
	spin(&r);
	recv_all(r.app, &rx);
	test_assert(msg_count(&rx) == 7);
	test_assert(MSG_ARG(&rx, 0, 0) == CW_SERVER_ID_START);
	union cw_arg n = { .u = hoffer };
	send_msg(r.comp, hdd, "wl_data_device", false, 0, &n, NULL, 0);
	union cw_arg mime = { .s = "text/plain" };
	send_msg(r.comp, hoffer, "wl_data_offer", false, 0, &mime, NULL, 0);
	spin(&r);
	recv_all(r.app, &rx);
	test_assert(msg_count(&rx) == 2);
	uint32_t goffer = MSG_ARG(&rx, 0, 0);
	test_assert(goffer == CW_SERVER_ID_START + 7 && MSG_ID(&rx, 1) == goffer);
	/* The app destroys it; an offer event in flight is dropped. */
	send_msg(r.app, goffer, "wl_data_offer", true, 2, NULL, NULL, 0);
	send_msg(r.comp, hoffer, "wl_data_offer", false, 0, &mime, NULL, 0);
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_ID(&rx, 0) == hoffer && MSG_OP(&rx, 0) == 2);
	test_assert(!recv_all(r.app, &rx) || msg_count(&rx) == 0);
	/* Requests on the destroyed id are now invalid... but first the compositor reuses
	 * its id for a new offer, which the app sees under the recycled id. */
	send_msg(r.comp, hdd, "wl_data_device", false, 0, &n, NULL, 0);
	spin(&r);
	recv_all(r.app, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_ARG(&rx, 0, 0) == goffer);
	rig_finish(&r);
}

static void test_invalid_requests(void)
{
	struct rig r;
	/* Unknown object. */
	rig_init(&r);
	uint32_t w1[] = { 9, 8u << 16 };
	send_raw(r.app, w1, 2);
	expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_OBJECT);
	rig_finish(&r);
	/* Unknown opcode. */
	rig_init(&r);
	uint32_t w2[] = { 1, (8u << 16) | 9 };
	send_raw(r.app, w2, 2);
	expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_METHOD);
	rig_finish(&r);
	/* Header size below 8. */
	rig_init(&r);
	uint32_t w3[] = { 1, 4u << 16 };
	send_raw(r.app, w3, 2);
	expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_METHOD);
	rig_finish(&r);
	/* A new id that skips ahead. */
	rig_init(&r);
	uint32_t w4[] = { 1, (12u << 16) | 0, 50 };
	send_raw(r.app, w4, 3);
	expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_METHOD);
	rig_finish(&r);
	/* A request on an interface that has none (wl_callback). */
	rig_init(&r);
	union cw_arg a = { .u = 2 };
	send_msg(r.app, 1, "wl_display", true, 0, &a, NULL, 0);  /* callback 2 */
	uint32_t w5[] = { 2, (8u << 16) | 0 };                   /* wl_callback has no requests */
	send_raw(r.app, w5, 2);
	expect_error(&r, 2, CW_DISPLAY_ERROR_INVALID_METHOD);
	rig_finish(&r);
	/* A fixed-size request (the fast path) with a wrong size. */
	for (int extra = -1; extra <= 1; extra += 2) {
		rig_init(&r);
		uint32_t hreg2 = setup_registry(&r, 2);
		advertise_and_bind(&r, hreg2, 1, "wl_compositor", 6, 3);
		union cw_arg cr = { .u = 4 };
		send_msg(r.app, 3, "wl_compositor", true, 1, &cr, NULL, 0);
		uint32_t add[7] = { 4, ((uint32_t)(24 + 4 * extra) << 16) | 1, 0, 0, 1, 1, 0 };
		send_raw(r.app, add, (size_t)(6 + extra));
		expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_METHOD);
		rig_finish(&r);
	}
	/* A message with an fd but none sent. */
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	advertise_and_bind(&r, hreg, 1, "wl_shm", 2, 3);
	uint32_t w6[] = { 3, (16u << 16) | 0, 4, 4096 }; /* create_pool(new id, fd, size) */
	send_raw(r.app, w6, 4);
	expect_error(&r, 1, CW_DISPLAY_ERROR_INVALID_METHOD);
	rig_finish(&r);
}

static void test_fds_pass_through_and_leak_nothing(void)
{
	int base = count_fds();
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	advertise_and_bind(&r, hreg, 1, "wl_shm", 2, 3);
	spin(&r);
	struct rx rx;
	recv_all(r.app, &rx);
	recv_all(r.comp, &rx);
	/* 40 pools, one fd each: more than one sendmsg's worth of fds. */
	for (uint32_t i = 0; i < 40; i++) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		union cw_arg cp[3] = { { .u = 4 + i }, { .h = 0 }, { .u = 4096 } };
		send_msg(r.app, 3, "wl_shm", true, 0, cp, &fd, 1);
		close(fd);
	}
	spin(&r);
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 40);
	test_assert(rx.nfds == 40);
	close_rx_fds(&rx);
	/* An fd with no message, then the app hangs up: nothing leaks. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	union cw_arg cp[3] = { { .u = 44 }, { .h = 0 }, { .u = 4096 } };
	send_msg(r.app, 3, "wl_shm", true, 0, cp, &fd, 1);
	close(fd);
	shutdown(r.app, SHUT_WR);
	spin(&r);
	test_assert(cw_client_is_dead(r.c));
	rig_finish(&r);
	test_assert(count_fds() == base);
}

/* The compositor stops reading: crossway must stop reading the app instead of buffering
 * without bound or dropping the client, and deliver everything once it drains. */
static void test_backpressure(void)
{
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	advertise_and_bind(&r, hreg, 1, "wl_compositor", 6, 3);
	union cw_arg cr = { .u = 4 };
	send_msg(r.app, 3, "wl_compositor", true, 1, &cr, NULL, 0); /* create_region */
	spin(&r);
	struct rx rx;
	recv_all(r.app, &rx);
	recv_all(r.comp, &rx);
	uint32_t hregion = MSG_ARG(&rx, 1, 0);

	fcntl(r.app, F_SETFL, O_NONBLOCK);
	uint32_t add[] = { 4, (24u << 16) | 1, 0, 0, 1, 1 }; /* wl_region.add */
	const long total = 200000;
	long sent = 0, seen = 0;
	bool comp_reads = false;
	static char pending[64 * 1024];
	size_t npending = 0;
	while (seen < total) {
		while (sent < total && send(r.app, add, sizeof(add), MSG_NOSIGNAL) == sizeof(add)) {
			sent++;
		}
		spin(&r);
		test_assert(!cw_client_is_dead(r.c));
		test_assert(r.c->host.out_tail - r.c->host.out_head <= CW_CONN_OUT_BYTES);
		if (!comp_reads && sent < total) {
			/* Everything is full: the app cannot write and crossway does not read it. */
			test_assert(r.c->guest_blocked || cw_conn_in_bytes(&r.c->guest) < 24);
			comp_reads = true;
		}
		if (comp_reads) {
			ssize_t n;
			while ((n = recv(r.comp, pending + npending, sizeof(pending) - npending,
					MSG_DONTWAIT)) > 0) {
				npending += (size_t)n;
				size_t off = 0;
				for (; npending - off >= 24; off += 24) {
					uint32_t w[2];
					memcpy(w, pending + off, 8);
					test_assert(w[0] == hregion && w[1] == ((24u << 16) | 1));
					seen++;
				}
				memmove(pending, pending + off, npending - off);
				npending -= off;
			}
		}
	}
	test_assert(seen == total && sent == total);
	rig_finish(&r);
}

/* With the app's output full, events wait; a delete_id that crossway rewrites must never
 * be lost for want of room. */
static void test_delete_id_with_full_output(void)
{
	struct rig r;
	rig_init(&r);
	enum { N = 20000 };
	static uint32_t hids[N];
	static char buf[256 * 1024];
	size_t nbuf = 0;
	struct rx rx;
	for (uint32_t i = 0; i < N; i++) {
		union cw_arg a = { .u = 2 + i };
		send_msg(r.app, 1, "wl_display", true, 0, &a, NULL, 0);
		/* Each small send is one socket buffer entry: drain often. */
		if (i % 100 == 99) {
			spin(&r);
			recv_all(r.comp, &rx);
			for (int k = 0; k < msg_count(&rx); k++) {
				hids[i - 99 + (uint32_t)k] = MSG_ARG(&rx, k, 0);
			}
			test_assert(msg_count(&rx) == 100);
		}
	}
	fcntl(r.comp, F_SETFL, O_NONBLOCK);
	long dones = 0, deletes = 0;
	uint32_t next = 0;
	while (dones < N || deletes < N) {
		/* Send as much as the socket takes; the app reads only once nothing moves, so
		 * crossway's output to it runs full. */
		uint32_t before = next;
		while (next < N) {
			uint32_t m[6] = { hids[next], (12u << 16) | 0, 1, 1, (12u << 16) | 1, hids[next] };
			if (send(r.comp, m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof(m)) {
				break;
			}
			next++;
		}
		spin(&r);
		test_assert(!cw_client_is_dead(r.c));
		if (next != before && next < N) {
			continue;
		}
		ssize_t n = recv(r.app, buf + nbuf, 4096, MSG_DONTWAIT);
		if (n > 0) {
			nbuf += (size_t)n;
			size_t off = 0;
			for (; nbuf - off >= 12; off += 12) {
				uint32_t w[3];
				memcpy(w, buf + off, 12);
				if (w[0] == 1) {
					test_assert((w[1] & 0xffff) == 1 && w[2] >= 2 && w[2] < 2 + N);
					deletes++;
				} else {
					test_assert(w[0] >= 2 && w[0] < 2 + N && w[2] == 1);
					dones++;
				}
			}
			memmove(buf, buf + off, nbuf - off);
			nbuf -= off;
		}
	}
	test_assert(r.c->pool.live == 1);
	rig_finish(&r);
}

/* A direction left blocked while the side it waits for has already drained must not
 * sleep forever: the client asks for an immediate dispatch and then relays. */
static void test_blocked_direction_is_never_stranded(void)
{
	struct rig r;
	rig_init(&r);
	union cw_arg a = { .u = 2 };
	send_msg(r.app, 1, "wl_display", true, 0, &a, NULL, 0);
	/* Let crossway read it, but pretend the last pump found the host output full. */
	struct pollfd p[2];
	cw_client_want(r.c, p, 2);
	p[0].revents = POLLIN;
	p[1].revents = 0;
	test_assert(cw_conn_read(&r.c->guest) == CW_IO_DONE);
	test_assert(cw_conn_in_bytes(&r.c->guest) == 12);
	r.c->guest_blocked = true;
	test_assert(!cw_conn_has_output(&r.c->host));
	test_assert(cw_client_timeout_ms(r.c) == 0);
	test_assert(cw_client_want(r.c, p, 2) == 2);
	test_assert(!(p[0].events & POLLIN) && !(p[1].events & POLLOUT));
	p[0].revents = p[1].revents = 0;
	cw_client_dispatch(r.c, p, 2);
	struct rx rx;
	recv_all(r.comp, &rx);
	test_assert(msg_count(&rx) == 1 && MSG_OP(&rx, 0) == 0);
	test_assert(!r.c->guest_blocked && cw_client_timeout_ms(r.c) == -1);
	rig_finish(&r);
}

static void test_compositor_error_is_relayed(void)
{
	struct rig r;
	rig_init(&r);
	uint32_t hreg = setup_registry(&r, 2);
	union cw_arg e[3] = { { .u = hreg }, { .u = 3 }, { .s = "boom" } };
	send_msg(r.comp, 1, "wl_display", false, 0, e, NULL, 0);
	expect_error(&r, 2, 3);
	rig_finish(&r);
	/* Compositor hang-up: implementation error on the display. */
	rig_init(&r);
	shutdown(r.comp, SHUT_RDWR);
	expect_error(&r, 1, CW_DISPLAY_ERROR_IMPLEMENTATION);
	rig_finish(&r);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_assert(cw_proto_init() == 0);
	RUN(test_registry_hides_and_clamps);
	RUN(test_bind_errors);
	RUN(test_sync_callback_and_delete_id);
	RUN(test_guest_destroy_waits_for_delete_id);
	RUN(test_server_created_objects);
	RUN(test_invalid_requests);
	RUN(test_fds_pass_through_and_leak_nothing);
	RUN(test_backpressure);
	RUN(test_delete_id_with_full_output);
	RUN(test_blocked_direction_is_never_stranded);
	RUN(test_compositor_error_is_relayed);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
