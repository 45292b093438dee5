/* One non-blocking Wayland socket with bounded input and output buffers and fd queues.
 * Messages are never split from their fds: an outgoing fd is sent no later than the
 * first byte of the message that carries it, at most 28 per sendmsg (what libwayland
 * peers accept in one control message). */
#ifndef CW_PROXY_CONN_H
#define CW_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_CONN_IN_BYTES (64 * 1024)
#define CW_CONN_OUT_BYTES (128 * 1024)
#define CW_CONN_MAX_FDS_IN 1024   /* queued, not yet consumed by a message */
#define CW_CONN_MAX_FDS_OUT 1024
#define CW_CONN_FDS_PER_SEND 28   /* libwayland's MAX_FDS_OUT */
#define CW_CONN_FDS_PER_RECV 253  /* SCM_MAX_FD: the most one recvmsg can carry */

struct cw_conn_fd {
	int fd;
	uint64_t pos; /* stream offset of the message that carries it */
};

struct cw_conn {
	int fd; /* owned */
	uint8_t *in;  /* owned; bytes [in_head, in_tail) are unread */
	size_t in_head, in_tail;
	int *in_fds;  /* owned ring of received fds */
	size_t in_fds_head, in_nfds;
	uint8_t *out; /* owned; bytes [out_head, out_tail) are queued */
	size_t out_head, out_tail;
	uint64_t out_base; /* stream offset of out[0] */
	struct cw_conn_fd *out_fds; /* owned FIFO */
	size_t out_fds_head, out_nfds;
	bool eof; /* the peer hung up (or reading failed) */
};

enum cw_io_result {
	CW_IO_DONE,     /* did what it could; nothing to report */
	CW_IO_AGAIN,    /* output remains queued: wait for POLLOUT */
	CW_IO_EOF,      /* peer hung up */
	CW_IO_ERROR,    /* errno is set */
	CW_IO_FD_FLOOD, /* too many fds queued without messages */
};

/* Takes ownership of fd (made non-blocking here); fd -1 gives buffers only, for a
 * transport that does its own I/O. Returns 0 or -1. */
int cw_conn_init(struct cw_conn *c, int fd);
/* Closes the socket and every queued fd. Safe on a zeroed struct. */
void cw_conn_finish(struct cw_conn *c);

/* Reads what is available into the input buffer. */
enum cw_io_result cw_conn_read(struct cw_conn *c);
/* Sends queued output. */
enum cw_io_result cw_conn_flush(struct cw_conn *c);

static inline size_t cw_conn_in_bytes(const struct cw_conn *c)
{
	return c->in_tail - c->in_head;
}
static inline const uint8_t *cw_conn_in_data(const struct cw_conn *c)
{
	return c->in + c->in_head;
}
static inline void cw_conn_consume(struct cw_conn *c, size_t n)
{
	c->in_head += n;
	if (c->in_head == c->in_tail) {
		c->in_head = c->in_tail = 0;
	}
}
static inline bool cw_conn_has_output(const struct cw_conn *c)
{
	return c->out_tail != c->out_head || c->out_nfds;
}

/* The i-th queued input fd (i < in_nfds). */
int cw_conn_in_fd(const struct cw_conn *c, size_t i);
/* Removes the first n queued input fds; they become the caller's. */
void cw_conn_take_fds(struct cw_conn *c, size_t n, int *out);
/* Closes the first n queued input fds. */
void cw_conn_close_fds(struct cw_conn *c, size_t n);

/* For transports without a socket: where received bytes go (compacting the buffer) and
 * how many bytes and fds fit; then commit what was received (fds become the conn's). */
uint8_t *cw_conn_in_space(struct cw_conn *c, size_t *cap_bytes, size_t *cap_fds);
void cw_conn_in_commit(struct cw_conn *c, size_t n, const int *fds, size_t nfds);
/* Drops n sent bytes and closes the first nfds queued output fds. */
void cw_conn_out_pop(struct cw_conn *c, size_t n, size_t nfds);
/* Replaces the i-th queued input fd (the old one is closed). */
void cw_conn_replace_in_fd(struct cw_conn *c, size_t i, int fd);

/* Reserves room for a message of size bytes carrying nfds fds; returns where to write it
 * or NULL when the output is full (the caller stops reading its source: backpressure). */
uint8_t *cw_conn_out_reserve(struct cw_conn *c, size_t size, size_t nfds);
/* Commits a reserved message; takes ownership of fds. */
void cw_conn_out_commit(struct cw_conn *c, size_t size, const int *fds, size_t nfds);

#endif
