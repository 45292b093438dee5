/* The relay test rig shared by the unit tests that link the whole proxy: one client
 * between two socketpairs, the test playing both the app and the compositor with raw
 * encoded messages, plus helpers to read what each side received. Functions are static
 * inline so that a test program may leave some unused. */
#ifndef CW_TEST_RIG_H
#define CW_TEST_RIG_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/client.h"
#include "proxy/private.h"
#include "test.h"

/* The configuration every rig's client gets; a test sets fields before rig_init. */
static struct cw_config cfg;

struct rig {
	struct cw_client *c;
	int app;  /* the app's end */
	int comp; /* the compositor's end */
};

struct rx {
	uint32_t w[16384];
	size_t nwords;
	int fds[64];
	size_t nfds;
};

static inline void rig_init(struct rig *r)
{
	int g[2], h[2];
	test_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g) == 0);
	test_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h) == 0);
	r->app = g[0];
	r->comp = h[0];
	r->c = cw_client_create(1, g[1], h[1], NULL, NULL, &cfg);
	test_assert(r->c);
}

static inline void rig_finish(struct rig *r)
{
	cw_client_destroy(r->c);
	close(r->app);
	close(r->comp);
}

/* Runs the client's loop until nothing happens for a moment. */
static inline void spin(struct rig *r)
{
	/* Socketpairs deliver synchronously: when poll reports nothing, we are done. */
	for (int i = 0; i < 1000 && !cw_client_is_dead(r->c); i++) {
		struct pollfd p[2];
		size_t n = cw_client_want(r->c, p, 2);
		if (poll(p, n, 0) <= 0) {
			break;
		}
		cw_client_dispatch(r->c, p, n);
	}
}

static inline void send_msg(int fd, uint32_t id, const char *iface, bool request, uint32_t opcode,
	const union cw_arg *args, const int *fds, size_t nfds)
{
	const struct cw_iface *f = cw_proto_find(iface);
	test_assert(f);
	uint32_t buf[1024];
	const struct cw_msg_desc *d = request ? &f->req[opcode] : &f->evt[opcode];
	size_t n = cw_msg_encode(buf, sizeof(buf), id, opcode, d, args);
	test_assert(n > 0);
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr a;
	} ctrl;
	struct iovec iov = { buf, n };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		msg.msg_control = ctrl.b;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	test_assert(sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)n);
}

static inline void send_raw(int fd, const uint32_t *w, size_t nwords)
{
	test_assert(send(fd, w, nwords * 4, MSG_NOSIGNAL) == (ssize_t)(nwords * 4));
}

/* Reads whatever is pending (non-blocking). Returns false on EOF with nothing read. */
static inline bool recv_all(int fd, struct rx *rx)
{
	*rx = (struct rx){ 0 };
	size_t off = 0;
	for (;;) {
		union {
			char b[CMSG_SPACE(32 * sizeof(int))];
			struct cmsghdr a;
		} ctrl;
		struct iovec iov = { (char *)rx->w + off, sizeof(rx->w) - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
			.msg_controllen = sizeof(ctrl.b) };
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0) {
			rx->nwords = off / 4;
			return n == 0 && off == 0 ? false : true;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(&rx->fds[rx->nfds], CMSG_DATA(cm), k * sizeof(int));
			rx->nfds += k;
		}
		off += (size_t)n;
	}
}

/* Finds the i-th message in rx; returns its first word index or -1. */
static inline int msg_at(const struct rx *rx, int idx)
{
	size_t w = 0;
	for (int i = 0; w + 2 <= rx->nwords; i++) {
		if (i == idx) {
			return (int)w;
		}
		w += (rx->w[w + 1] >> 16) / 4;
	}
	return -1;
}

static inline int msg_count(const struct rx *rx)
{
	int n = 0;
	while (msg_at(rx, n) >= 0) {
		n++;
	}
	return n;
}

#define MSG_ID(rx, i) ((rx)->w[msg_at((rx), (i))])
#define MSG_OP(rx, i) ((rx)->w[msg_at((rx), (i)) + 1] & 0xffff)
#define MSG_ARG(rx, i, k) ((rx)->w[msg_at((rx), (i)) + 2 + (k)])

static inline void close_rx_fds(struct rx *rx)
{
	for (size_t i = 0; i < rx->nfds; i++) {
		close(rx->fds[i]);
	}
	rx->nfds = 0;
}

/* get_registry on both sides and one advertised global; returns the host registry id. */
static inline uint32_t setup_registry(struct rig *r, uint32_t guest_reg)
{
	union cw_arg a = { .u = guest_reg };
	send_msg(r->app, 1, "wl_display", true, 1, &a, NULL, 0);
	spin(r);
	struct rx rx;
	recv_all(r->comp, &rx);
	test_assert(msg_count(&rx) == 1);
	test_assert(MSG_ID(&rx, 0) == 1 && MSG_OP(&rx, 0) == 1);
	return MSG_ARG(&rx, 0, 0);
}

/* The compositor advertises one global on registry hreg; the app binds it as id on its
 * registry 2. */
static inline void advertise_and_bind(struct rig *r, uint32_t hreg, uint32_t name,
	const char *iface, uint32_t version, uint32_t id)
{
	union cw_arg g[3] = { { .u = name }, { .s = iface }, { .u = version } };
	send_msg(r->comp, hreg, "wl_registry", false, 0, g, NULL, 0);
	spin(r);
	union cw_arg b[4] = { { .u = name }, { .s = iface }, { .u = version }, { .u = id } };
	send_msg(r->app, 2, "wl_registry", true, 0, b, NULL, 0);
}

static inline void expect_error(struct rig *r, uint32_t object, uint32_t code)
{
	struct rx rx;
	spin(r);
	recv_all(r->app, &rx);
	int n = msg_count(&rx);
	test_assert(n >= 1);
	n--;
	if (MSG_ID(&rx, n) != 1 || MSG_OP(&rx, n) != 0 || MSG_ARG(&rx, n, 0) != object ||
		MSG_ARG(&rx, n, 1) != code) {
		fprintf(stderr, "got error object %u code %u\n", MSG_ARG(&rx, n, 0),
			MSG_ARG(&rx, n, 1));
		test_assert(!"unexpected error event");
	}
	test_assert(cw_client_is_dead(r->c));
	close_rx_fds(&rx);
}

#endif
