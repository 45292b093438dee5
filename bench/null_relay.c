/*
 * Benchmark reference (not a proxy): copies bytes between each accepted Unix-socket connection
 * and a fresh connection to the upstream socket, one forked process per client, no parsing and
 * no fd passing. It shows roughly what any out-of-process relay pays (two more hops and
 * wake-ups per round trip); bench/run reports it beside crossway. Only for wl_bench, which
 * sends no fds.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RELAY_BUF_BYTES 65536

static int fill_addr(struct sockaddr_un *addr, const char *path) {
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Write all of buf, blocking: the reference does no buffering of its own. */
static int write_all(int fd, const char *buf, size_t len) {
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void relay(int a, int b) {
	static char buf[RELAY_BUF_BYTES];
	struct pollfd pfd[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			return;
		}
		for (int i = 0; i < 2; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				continue;
			}
			ssize_t n = read(pfd[i].fd, buf, sizeof(buf));
			if (n <= 0 || write_all(pfd[1 - i].fd, buf, (size_t)n) < 0) {
				return;
			}
		}
	}
}

int main(int argc, char *argv[]) {
	if (argc != 3) {
		fprintf(stderr, "usage: null_relay LISTEN_PATH UPSTREAM_PATH\n");
		return 2;
	}
	struct sockaddr_un listen_addr, up_addr;
	if (fill_addr(&listen_addr, argv[1]) < 0 || fill_addr(&up_addr, argv[2]) < 0) {
		perror("null_relay: socket path");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("null_relay: socket");
		return 1;
	}
	unlink(argv[1]);
	if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
			listen(lfd, 16) < 0) {
		perror("null_relay: bind/listen");
		return 1;
	}
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("null_relay: accept");
			return 1;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			int ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (ufd < 0 || connect(ufd, (struct sockaddr *)&up_addr, sizeof(up_addr)) < 0) {
				perror("null_relay: connect upstream");
				_exit(1);
			}
			relay(cfd, ufd);
			_exit(0);
		}
		if (pid < 0) {
			perror("null_relay: fork");
		}
		close(cfd);
	}
}
