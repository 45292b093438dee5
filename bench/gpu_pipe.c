/* Clipboard-path throughput of the cross-domain transport on the virtio-gpu test double:
 * 64 MiB through a relayed pipe host -> guest (READ_PIPE: an app pasting host data) and
 * guest -> host (WRITE_PIPE: a host app pasting guest data). Run by bench/run with the
 * double preloaded; this process plays both crossway's transport and the compositor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "virtgpu/virtgpu.h"

#define TOTAL_BYTES (64u * 1024 * 1024)

static struct cw_gpu *g;
static int comp = -1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "gpu_pipe: %s\n", what);
	exit(1);
}

/* One round of crossway's loop for the transport; returns fds received, if any. */
static size_t spin(int *fds)
{
	struct pollfd pfd[1 + 128];
	size_t n = cw_gpu_want(g, pfd, 1 + 128, true);
	if (poll(pfd, n, 10) <= 0) {
		return 0;
	}
	uint8_t buf[4096];
	size_t len, nfds;
	struct cw_gpu_why why;
	if (cw_gpu_dispatch(g, pfd, n, buf, sizeof(buf), &len, fds, 28, &nfds, &why) !=
		CW_GPU_OK) {
		die(why.text);
	}
	return nfds;
}

static int send_fd(int sock, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctrl;
	struct iovec iov = { "p", 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
		.msg_controllen = sizeof(ctrl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr a;
	} ctrl;
	char c;
	struct iovec iov = { &c, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b,
		.msg_controllen = sizeof(ctrl.b) };
	int fd = -1;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) {
		return -1;
	}
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (cm) {
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	return fd;
}

/* Moves TOTAL_BYTES from writer to reader, spinning the transport in between. */
static double transfer(int writer, int reader, uint8_t *buf)
{
	size_t sent = 0, got = 0;
	double t0 = now_s();
	int fds[28];
	while (1) {
		if (writer >= 0) {
			ssize_t n = write(writer, buf, TOTAL_BYTES - sent < 65536 ? TOTAL_BYTES - sent
									  : 65536);
			if (n > 0) {
				sent += (size_t)n;
			}
			if (sent == TOTAL_BYTES) {
				close(writer);
				writer = -1;
			}
		}
		spin(fds);
		ssize_t n;
		while ((n = read(reader, buf, 65536)) > 0) {
			got += (size_t)n;
		}
		if (n == 0) {
			break;
		}
	}
	double dt = now_s() - t0;
	if (got != TOTAL_BYTES) {
		die("transfer lost data");
	}
	return TOTAL_BYTES / dt / (1024.0 * 1024.0);
}

int main(void)
{
	const char *sock = getenv("CW_FAKEGPU_WAYLAND"), *dev = getenv("CW_FAKEGPU_DEVICE");
	if (!sock || !dev) {
		die("run with the virtio-gpu double preloaded (see bench/run)");
	}
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	unlink(sock);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0) {
		die("cannot listen");
	}
	struct cw_gpu_options opt = { .device = dev, .max_ids = 28, .reply_timeout_ms = 30000,
		.first_reply_timeout_ms = 5000 };
	struct cw_gpu_why why;
	g = cw_gpu_create(&opt, &why);
	if (!g) {
		die(why.text);
	}
	comp = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	uint8_t *buf = malloc(65536);
	if (comp < 0 || !buf) {
		die("setup");
	}
	memset(buf, 0xa5, 65536);

	/* Host -> guest: the app passes a pipe write end; the host fills it. */
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0 || cw_gpu_send(g, "r", 1, &p[1], 1, &why) < 0) {
		die("read pipe");
	}
	close(p[1]);
	int hostw = recv_fd(comp);
	fcntl(hostw, F_SETFL, O_NONBLOCK);
	double down = transfer(hostw, p[0], buf);
	close(p[0]);

	/* Guest -> host: the compositor passes a pipe write end; the app fills it. */
	int q[2];
	if (pipe2(q, O_CLOEXEC) < 0 || send_fd(comp, q[1]) < 0) {
		die("write pipe");
	}
	close(q[1]);
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	int fds[28];
	size_t nfds = 0;
	for (int i = 0; i < 1000 && nfds == 0; i++) {
		nfds = spin(fds);
	}
	if (nfds != 1) {
		die("no write pipe arrived");
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	double up = transfer(fds[0], q[0], buf);
	close(q[0]);

	printf("gpu_pipe_host_to_guest_mib_s=%.1f\n", down);
	printf("gpu_pipe_guest_to_host_mib_s=%.1f\n", up);
	cw_gpu_destroy(g);
	close(comp);
	close(lfd);
	unlink(sock);
	free(buf);
	return 0;
}
