/* Socket I/O for one side of a relayed connection: recvmsg/sendmsg with SCM_RIGHTS,
 * linear buffers compacted in place, and fd queues bounded like libwayland's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/conn.h"

int cw_conn_init(struct cw_conn *c, int fd)
{
	*c = (struct cw_conn){ .fd = -1 };
	c->in = malloc(CW_CONN_IN_BYTES);
	c->out = malloc(CW_CONN_OUT_BYTES);
	c->in_fds = malloc(CW_CONN_MAX_FDS_IN * sizeof(*c->in_fds));
	c->out_fds = malloc(CW_CONN_MAX_FDS_OUT * sizeof(*c->out_fds));
	if (!c->in || !c->out || !c->in_fds || !c->out_fds) {
		cw_conn_finish(c);
		errno = ENOMEM;
		return -1;
	}
	if (fd < 0) {
		return 0; /* buffers only: a transport other than a socket does the I/O */
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		cw_conn_finish(c);
		return -1;
	}
	c->fd = fd;
	return 0;
}

uint8_t *cw_conn_in_space(struct cw_conn *c, size_t *cap_bytes, size_t *cap_fds)
{
	if (c->in_head > 0) {
		memmove(c->in, c->in + c->in_head, c->in_tail - c->in_head);
		c->in_tail -= c->in_head;
		c->in_head = 0;
	}
	*cap_bytes = CW_CONN_IN_BYTES - c->in_tail;
	*cap_fds = CW_CONN_MAX_FDS_IN - c->in_nfds;
	return c->in + c->in_tail;
}

void cw_conn_in_commit(struct cw_conn *c, size_t n, const int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		c->in_fds[(c->in_fds_head + c->in_nfds) % CW_CONN_MAX_FDS_IN] = fds[i];
		c->in_nfds++;
	}
	c->in_tail += n;
}

void cw_conn_out_pop(struct cw_conn *c, size_t n, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		close(c->out_fds[c->out_fds_head].fd);
		c->out_fds_head = (c->out_fds_head + 1) % CW_CONN_MAX_FDS_OUT;
		c->out_nfds--;
	}
	c->out_head += n;
	if (c->out_head == c->out_tail) {
		c->out_base += c->out_head;
		c->out_head = c->out_tail = 0;
	}
}

void cw_conn_replace_in_fd(struct cw_conn *c, size_t i, int fd)
{
	int *slot = &c->in_fds[(c->in_fds_head + i) % CW_CONN_MAX_FDS_IN];
	close(*slot);
	*slot = fd;
}

void cw_conn_finish(struct cw_conn *c)
{
	if (c->in_fds) {
		cw_conn_close_fds(c, c->in_nfds);
	}
	if (c->out_fds) {
		for (size_t i = 0; i < c->out_nfds; i++) {
			close(c->out_fds[(c->out_fds_head + i) % CW_CONN_MAX_FDS_OUT].fd);
		}
	}
	if (c->fd >= 0) {
		close(c->fd);
	}
	free(c->in);
	free(c->out);
	free(c->in_fds);
	free(c->out_fds);
	*c = (struct cw_conn){ .fd = -1 };
}

int cw_conn_in_fd(const struct cw_conn *c, size_t i)
{
	return c->in_fds[(c->in_fds_head + i) % CW_CONN_MAX_FDS_IN];
}

void cw_conn_take_fds(struct cw_conn *c, size_t n, int *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = c->in_fds[c->in_fds_head];
		c->in_fds_head = (c->in_fds_head + 1) % CW_CONN_MAX_FDS_IN;
		c->in_nfds--;
	}
}

void cw_conn_close_fds(struct cw_conn *c, size_t n)
{
	for (size_t i = 0; i < n && c->in_nfds; i++) {
		close(c->in_fds[c->in_fds_head]);
		c->in_fds_head = (c->in_fds_head + 1) % CW_CONN_MAX_FDS_IN;
		c->in_nfds--;
	}
}

static void queue_in_fds(struct cw_conn *c, struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			/* Room was checked before reading: at most CW_CONN_FDS_PER_RECV arrive. */
			c->in_fds[(c->in_fds_head + c->in_nfds) % CW_CONN_MAX_FDS_IN] = fd;
			c->in_nfds++;
		}
	}
}

enum cw_io_result cw_conn_read(struct cw_conn *c)
{
	if (c->eof) {
		return CW_IO_EOF;
	}
	if (CW_CONN_MAX_FDS_IN - c->in_nfds < CW_CONN_FDS_PER_RECV) {
		return CW_IO_FD_FLOOD;
	}
	if (c->in_head > 0 && (c->in_tail == CW_CONN_IN_BYTES || c->in_head > CW_CONN_IN_BYTES / 2)) {
		memmove(c->in, c->in + c->in_head, c->in_tail - c->in_head);
		c->in_tail -= c->in_head;
		c->in_head = 0;
	}
	if (c->in_tail == CW_CONN_IN_BYTES) {
		return CW_IO_DONE;
	}
	union {
		char buf[CMSG_SPACE(CW_CONN_FDS_PER_RECV * sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { c->in + c->in_tail, CW_CONN_IN_BYTES - c->in_tail };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return CW_IO_DONE;
		}
		c->eof = true;
		return errno == ECONNRESET ? CW_IO_EOF : CW_IO_ERROR;
	}
	queue_in_fds(c, &msg);
	if (msg.msg_flags & MSG_CTRUNC) {
		/* The kernel closed fds that did not fit: messages would lose their fds. */
		c->eof = true;
		errno = EMSGSIZE;
		return CW_IO_ERROR;
	}
	if (n == 0) {
		c->eof = true;
		return CW_IO_EOF;
	}
	c->in_tail += (size_t)n;
	return CW_IO_DONE;
}

enum cw_io_result cw_conn_flush(struct cw_conn *c)
{
	while (cw_conn_has_output(c)) {
		size_t len = c->out_tail - c->out_head;
		size_t nfds = c->out_nfds < CW_CONN_FDS_PER_SEND ? c->out_nfds : CW_CONN_FDS_PER_SEND;
		uint64_t head_pos = c->out_base + c->out_head;
		if (c->out_nfds > nfds) {
			/* Stop before the message that owns the first fd we cannot send now. */
			const struct cw_conn_fd *next =
				&c->out_fds[(c->out_fds_head + nfds) % CW_CONN_MAX_FDS_OUT];
			len = (size_t)(next->pos - head_pos);
		}
		union {
			char buf[CMSG_SPACE(CW_CONN_FDS_PER_SEND * sizeof(int))];
			struct cmsghdr align;
		} ctrl;
		struct iovec iov = { c->out + c->out_head, len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (nfds) {
			msg.msg_control = ctrl.buf;
			msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			for (size_t i = 0; i < nfds; i++) {
				int fd = c->out_fds[(c->out_fds_head + i) % CW_CONN_MAX_FDS_OUT].fd;
				memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof(int));
			}
		}
		ssize_t n;
		do {
			n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return CW_IO_AGAIN;
			}
			return errno == EPIPE || errno == ECONNRESET ? CW_IO_EOF : CW_IO_ERROR;
		}
		/* The fds went with the first byte; our copies can go. */
		cw_conn_out_pop(c, (size_t)n, nfds);
	}
	return CW_IO_DONE;
}

uint8_t *cw_conn_out_reserve(struct cw_conn *c, size_t size, size_t nfds)
{
	if (CW_CONN_MAX_FDS_OUT - c->out_nfds < nfds) {
		return NULL;
	}
	if (CW_CONN_OUT_BYTES - c->out_tail < size) {
		if (c->out_head == 0 || CW_CONN_OUT_BYTES - (c->out_tail - c->out_head) < size) {
			return NULL;
		}
		memmove(c->out, c->out + c->out_head, c->out_tail - c->out_head);
		c->out_base += c->out_head;
		c->out_tail -= c->out_head;
		c->out_head = 0;
	}
	return c->out + c->out_tail;
}

void cw_conn_out_commit(struct cw_conn *c, size_t size, const int *fds, size_t nfds)
{
	uint64_t pos = c->out_base + c->out_tail;
	for (size_t i = 0; i < nfds; i++) {
		struct cw_conn_fd *f =
			&c->out_fds[(c->out_fds_head + c->out_nfds) % CW_CONN_MAX_FDS_OUT];
		f->fd = fds[i];
		f->pos = pos;
		c->out_nfds++;
	}
	c->out_tail += size;
}
