/* State of one cross-domain context, shared by the files of virtgpu/. */
#ifndef CW_VIRTGPU_PRIVATE_H
#define CW_VIRTGPU_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtgpu/virtgpu.h"
#include "virtgpu/xd-wire.h"

#define CW_GPU_MAX_PIPES 64 /* relayed pipes per connection, each direction */
#define CW_GPU_PIPE_BUF_BYTES (64 * 1024) /* host data waiting for a slow app reader */

struct cw_gpu_ring {
	uint32_t bo_handle; /* owned GEM handle */
	uint32_t res_id;
	uint8_t *map;       /* owned mapping of ring_bytes */
};

/* Host -> guest pipe (READ_PIPE): the app passed a pipe write end; the host fills it. */
struct cw_gpu_read_pipe {
	uint32_t id;      /* 0x80000001.. */
	int fd;           /* owned dup of the app's write end; -1 once the app closed it */
	uint8_t *pending; /* owned; bytes not yet written to fd */
	size_t npending;
	bool hung_up;     /* the host sent hang_up: close once pending is written */
};

/* Guest -> host pipe (WRITE_PIPE): the host passed a pipe write end; the app got the
 * write end of a local pipe, whose read end we drain into WRITE commands. */
struct cw_gpu_write_pipe {
	uint32_t id; /* host item id */
	int fd;      /* owned read end */
};

struct cw_gpu_query {
	uint32_t width, height, drm_format, flags;
	struct cw_xd_image_reqs reqs;
};

struct cw_gpu {
	struct cw_gpu_options opt;
	int fd;            /* owned DRM fd */
	unsigned max_ids;
	size_t ring_bytes;
	struct cw_gpu_ring query_ring, channel_ring;
	bool poll_outstanding;
	bool eof;
	uint32_t next_read_pipe; /* last read-pipe id used */
	struct cw_gpu_read_pipe rpipes[CW_GPU_MAX_PIPES];
	unsigned nrpipes;
	struct cw_gpu_write_pipe wpipes[CW_GPU_MAX_PIPES];
	unsigned nwpipes;
	struct cw_gpu_query *queries; /* owned cache: every query leaks a host template */
	unsigned nqueries, capqueries;
	uint32_t *owned_handles; /* owned array: GEM handles of our images */
	unsigned nowned, capowned;
	int64_t waiting_since_ms; /* first send not yet followed by a reply; 0 if none */
	bool got_reply;
	int64_t last_reply_ms; /* the last reply, or the context's creation */
	struct cw_gpu_stats stats;
};

int64_t cw_gpu_now_ms(void);
int cw_gpu_ioctl(struct cw_gpu *g, unsigned long req, void *arg);
/* Submits one command in its own execbuffer. ring < 0: no ring index. */
int cw_gpu_submit(struct cw_gpu *g, const void *cmd, size_t size, int ring,
	const uint32_t *handles, unsigned nhandles);
void cw_gpu_close_handle(struct cw_gpu *g, uint32_t handle);
/* True for handles crossway holds for its own purposes (rings, images): an import that
 * returns one of them must not be closed after a SEND. */
bool cw_gpu_handle_is_owned(const struct cw_gpu *g, uint32_t handle);
int cw_gpu_arm_poll(struct cw_gpu *g);
void cw_gpu_why_set(struct cw_gpu_why *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
