/* virtgpu/ against the test double (run with LD_PRELOAD=libcw-fakegpu.so and
 * CW_FAKEGPU_WAYLAND/DEVICE/REPORT set, see the Makefile). The test plays the host
 * compositor on the far end of the channel: bytes both ways, a keymap-like memfd, a
 * host blob sent back, and 2 MiB through a relayed pipe in each direction. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test.h"
#include "virtgpu/virtgpu.h"

static int n_run;
static struct cw_gpu *g;
static int comp = -1; /* the compositor's end of the host's connection */

#define PIPE_BYTES (2u * 1024 * 1024)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

/* One round of the guest's event loop: whatever the transport wants, no waiting. */
static void guest_spin(uint8_t *buf, size_t *len, int *fds, size_t *nfds)
{
	struct pollfd pfd[1 + 2 * 64];
	size_t n = cw_gpu_want(g, pfd, sizeof(pfd) / sizeof(pfd[0]), true);
	*len = *nfds = 0;
	if (poll(pfd, n, 10) <= 0) {
		return;
	}
	struct cw_gpu_why why;
	enum cw_gpu_status st = cw_gpu_dispatch(g, pfd, n, buf, 4096, len, fds, 28, nfds, &why);
	if (st == CW_GPU_ERROR) {
		fprintf(stderr, "dispatch: %s\n", why.text);
	}
	test_assert(st == CW_GPU_OK);
}

/* Waits until the guest has received want bytes from the host; returns received fds. */
static size_t guest_recv(uint8_t *out, size_t want, int *fds_out)
{
	size_t got = 0, nfds_total = 0;
	for (int i = 0; i < 500 && got < want; i++) {
		uint8_t buf[4096];
		int fds[28];
		size_t len, nfds;
		guest_spin(buf, &len, fds, &nfds);
		memcpy(out + got, buf, len);
		got += len;
		memcpy(fds_out + nfds_total, fds, nfds * sizeof(int));
		nfds_total += nfds;
	}
	test_assert(got == want);
	return nfds_total;
}

static void comp_send(const void *data, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctrl;
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		msg.msg_control = ctrl.b;
		msg.msg_controllen = sizeof(ctrl.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	test_assert(sendmsg(comp, &msg, MSG_NOSIGNAL) == (ssize_t)len);
}

static int comp_recv(void *data, size_t len, int *fd)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr a;
	} ctrl;
	struct iovec iov = { data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
		.msg_controllen = sizeof(ctrl.b) };
	ssize_t n = recvmsg(comp, &msg, MSG_CMSG_CLOEXEC);
	*fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	}
	return (int)n;
}

static void test_bytes_both_ways(void)
{
	test_assert(cw_gpu_send(g, "hello", 5, NULL, 0, NULL) == 0);
	char buf[16];
	int fd;
	test_assert(comp_recv(buf, sizeof(buf), &fd) == 5 && memcmp(buf, "hello", 5) == 0);
	test_assert(fd < 0);
	uint8_t big[3000], got[3000];
	for (size_t i = 0; i < sizeof(big); i++) {
		big[i] = pattern(i);
	}
	comp_send(big, sizeof(big), -1);
	int fds[28];
	test_assert(guest_recv(got, sizeof(got), fds) == 0);
	test_assert(memcmp(big, got, sizeof(big)) == 0);
}

static void test_memfd_from_host_arrives_mappable(void)
{
	int mfd = memfd_create("keymap", MFD_CLOEXEC);
	test_assert(mfd >= 0 && write(mfd, "xkb_keymap { };", 16) == 16);
	comp_send("k", 1, mfd);
	close(mfd);
	uint8_t b;
	int fds[28];
	test_assert(guest_recv(&b, 1, fds) == 1 && b == 'k');
	char *p = mmap(NULL, 16, PROT_READ, MAP_SHARED, fds[0], 0);
	test_assert(p != MAP_FAILED && strcmp(p, "xkb_keymap { };") == 0);
	munmap(p, 16);
	close(fds[0]);
}

static void test_host_blob_goes_out_as_buffer(void)
{
	struct cw_gpu_why why;
	struct cw_gpu_image *img = cw_gpu_image_create(g, 64, 32, 0x34325258, true, &why);
	if (!img) {
		fprintf(stderr, "image: %s\n", why.text);
	}
	test_assert(img && img->strides[0] >= 256 && img->size_bytes >= 256u * 32);
	memset(img->map, 0x5a, 256 * 32);
	/* A second image of the same size reuses the cached template. */
	struct cw_gpu_image *img2 = cw_gpu_image_create(g, 64, 32, 0x34325258, false, &why);
	test_assert(img2);
	struct cw_gpu_stats st;
	cw_gpu_get_stats(g, &st);
	test_assert(st.queries == 1);
	char what[64];
	test_assert(cw_gpu_classify_fd(g, img->fd, what, sizeof(what)) == CW_GPU_FD_BUFFER);
	test_assert(cw_gpu_send(g, "b", 1, &img->fd, 1, &why) == 0);
	char c;
	int fd;
	test_assert(comp_recv(&c, 1, &fd) == 1 && fd >= 0);
	uint8_t *p = mmap(NULL, 256 * 32, PROT_READ, MAP_SHARED, fd, 0);
	test_assert(p != MAP_FAILED && p[0] == 0x5a && p[256 * 32 - 1] == 0x5a);
	munmap(p, 256 * 32);
	close(fd);
	cw_gpu_image_destroy(g, img2);
	cw_gpu_image_destroy(g, img);
}

static void test_other_fds_are_refused(void)
{
	int mfd = memfd_create("shm", MFD_CLOEXEC);
	int p[2];
	test_assert(pipe2(p, O_CLOEXEC) == 0);
	char what[64];
	struct cw_gpu_why why;
	test_assert(cw_gpu_classify_fd(g, mfd, what, sizeof(what)) == CW_GPU_FD_OTHER);
	test_assert(cw_gpu_classify_fd(g, p[0], what, sizeof(what)) == CW_GPU_FD_OTHER);
	test_assert(strstr(what, "read end"));
	test_assert(cw_gpu_send(g, "x", 1, &mfd, 1, &why) == -1 && strstr(why.text, "cannot cross"));
	close(mfd);
	close(p[0]);
	close(p[1]);
}

/* Host writes, guest reads: the app passed a pipe write end (wl_data_offer.receive). */
static void test_read_pipe_carries_2mib(void)
{
	int p[2];
	test_assert(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	struct cw_gpu_why why;
	test_assert(cw_gpu_send(g, "r", 1, &p[1], 1, &why) == 0);
	close(p[1]); /* the transport keeps its own copy */
	char c;
	int hostw;
	test_assert(comp_recv(&c, 1, &hostw) == 1 && hostw >= 0);
	fcntl(hostw, F_SETFL, O_NONBLOCK);
	static uint8_t src[PIPE_BYTES], dst[PIPE_BYTES];
	for (size_t i = 0; i < PIPE_BYTES; i++) {
		src[i] = pattern(i);
	}
	size_t sent = 0, got = 0;
	bool eof = false;
	for (int iter = 0; iter < 200000 && !eof; iter++) {
		if (sent < PIPE_BYTES) {
			ssize_t n = write(hostw, src + sent, PIPE_BYTES - sent);
			if (n > 0) {
				sent += (size_t)n;
			}
			if (sent == PIPE_BYTES) {
				close(hostw);
			}
		}
		uint8_t buf[4096];
		int fds[28];
		size_t len, nfds;
		guest_spin(buf, &len, fds, &nfds);
		test_assert(len == 0);
		ssize_t n;
		while ((n = read(p[0], dst + got, PIPE_BYTES - got + 1)) > 0) {
			got += (size_t)n;
		}
		eof = n == 0;
	}
	test_assert(eof && got == PIPE_BYTES && memcmp(src, dst, PIPE_BYTES) == 0);
	close(p[0]);
}

/* Guest writes, host reads: the compositor passed a pipe write end (wl_data_source.send). */
static void test_write_pipe_carries_2mib(void)
{
	int q[2];
	test_assert(pipe2(q, O_CLOEXEC) == 0);
	comp_send("w", 1, q[1]);
	close(q[1]);
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	uint8_t b;
	int fds[28];
	test_assert(guest_recv(&b, 1, fds) == 1 && b == 'w');
	int appw = fds[0];
	fcntl(appw, F_SETFL, O_NONBLOCK);
	static uint8_t src[PIPE_BYTES], dst[PIPE_BYTES];
	for (size_t i = 0; i < PIPE_BYTES; i++) {
		src[i] = pattern(i + 7);
	}
	size_t sent = 0, got = 0;
	bool eof = false;
	for (int iter = 0; iter < 200000 && !eof; iter++) {
		if (appw >= 0) {
			ssize_t n = write(appw, src + sent, PIPE_BYTES - sent);
			if (n > 0) {
				sent += (size_t)n;
			}
			if (sent == PIPE_BYTES) {
				close(appw);
				appw = -1;
			}
		}
		uint8_t buf[4096];
		size_t len, nfds;
		guest_spin(buf, &len, fds, &nfds);
		ssize_t n;
		while ((n = read(q[0], dst + got, PIPE_BYTES - got + 1)) > 0) {
			got += (size_t)n;
		}
		eof = n == 0;
	}
	test_assert(eof && got == PIPE_BYTES && memcmp(src, dst, PIPE_BYTES) == 0);
	close(q[0]);
}

static void test_eof_ends_the_stream(void)
{
	close(comp);
	comp = -1;
	for (int i = 0; i < 500; i++) {
		struct pollfd pfd[8];
		size_t n = cw_gpu_want(g, pfd, 8, true);
		if (poll(pfd, n, 10) <= 0) {
			continue;
		}
		uint8_t buf[4096];
		int fds[28];
		size_t len, nfds;
		struct cw_gpu_why why;
		if (cw_gpu_dispatch(g, pfd, n, buf, sizeof(buf), &len, fds, 28, &nfds, &why) ==
			CW_GPU_EOF) {
			return;
		}
	}
	test_assert(!"no end of stream after the compositor closed");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *sock = getenv("CW_FAKEGPU_WAYLAND");
	const char *dev = getenv("CW_FAKEGPU_DEVICE");
	if (!sock || !dev || !getenv("LD_PRELOAD")) {
		printf("skip: needs the virtio-gpu double (see the Makefile)\n");
		return 77;
	}
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	unlink(sock);
	test_assert(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) == 0 && listen(lfd, 4) == 0);

	struct cw_gpu_why why;
	test_assert(cw_gpu_probe(dev, &why) == 0);
	struct cw_gpu_options opt = { .device = dev, .max_ids = 28, .reply_timeout_ms = 30000,
		.first_reply_timeout_ms = 5000 };
	g = cw_gpu_create(&opt, &why);
	if (!g) {
		fprintf(stderr, "create: %s\n", why.text);
	}
	test_assert(g);
	comp = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	test_assert(comp >= 0);

	RUN(test_bytes_both_ways);
	RUN(test_memfd_from_host_arrives_mappable);
	RUN(test_host_blob_goes_out_as_buffer);
	RUN(test_other_fds_are_refused);
	RUN(test_read_pipe_carries_2mib);
	RUN(test_write_pipe_carries_2mib);
	RUN(test_eof_ends_the_stream);
	cw_gpu_destroy(g);
	close(lfd);
	unlink(sock);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
