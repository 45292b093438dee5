/* The virtio-gpu cross-domain transport, guest side: the render node, one context per
 * client connection, its two rings, the Wayland channel as a byte stream with fds, and
 * host blobs. It knows nothing of Wayland; the proxy decides what the bytes mean. */
#ifndef CW_VIRTGPU_VIRTGPU_H
#define CW_VIRTGPU_VIRTGPU_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_GPU_SEND_MAX_BYTES 3744u /* Wayland bytes per SEND (one page per command) */
#define CW_GPU_RECV_MAX_BYTES 3744u /* Wayland bytes per RECEIVE */
#define CW_GPU_MAX_FDS 28u          /* identifiers per SEND/RECEIVE on current hosts */

struct cw_gpu;

struct cw_gpu_options {
	const char *device;     /* render node path */
	unsigned max_ids;       /* 28, or 4 for hosts from before 2024 */
	int reply_timeout_ms;   /* a sent request unanswered this long: the host is dead */
	int first_reply_timeout_ms; /* the same for the first reply after INIT */
};

/* Why a device cannot be used, for the operator. */
struct cw_gpu_why {
	char text[256];
};

/* Checks that path is a virtio-gpu render node whose kernel and host support the
 * cross-domain Wayland channel. Returns 0, or -1 with why->text naming what is missing
 * and how to provide it. */
int cw_gpu_probe(const char *path, struct cw_gpu_why *why);
/* Scans /dev/dri/renderD128..190 for a usable node. Returns 0 and fills path, or -1
 * with why->text describing the last candidate's problem (or that none exists). */
int cw_gpu_find(char *path, size_t path_len, struct cw_gpu_why *why);

/* Opens the node, creates the context (capset 5, 2 rings, poll mask 0x2), the rings,
 * sends INIT for the Wayland channel and the first POLL. NULL with why on failure. */
struct cw_gpu *cw_gpu_create(const struct cw_gpu_options *opt, struct cw_gpu_why *why);
/* Closes pipes, unmaps and closes everything; the host tears the context down. */
void cw_gpu_destroy(struct cw_gpu *g);

/* The kind of an fd as the transport sees it. */
enum cw_gpu_fd_kind {
	CW_GPU_FD_BUFFER,    /* a resource of this device: travels as its resource id */
	CW_GPU_FD_PIPE_WRITE, /* a pipe write end: the host fills it (READ_PIPE) */
	CW_GPU_FD_OTHER,     /* cannot cross the VM boundary */
};
/* Classifies an fd the app wants to send; for OTHER, describes it in what (for the
 * error sent to the app). */
enum cw_gpu_fd_kind cw_gpu_classify_fd(struct cw_gpu *g, int fd, char *what, size_t len);

/* Sends len (<= CW_GPU_SEND_MAX_BYTES) bytes with nfds (<= max_ids) fds, at most one of
 * them a pipe write end. The fds stay the caller's. Returns 0, or -1 with why. */
int cw_gpu_send(struct cw_gpu *g, const void *data, size_t len, const int *fds, size_t nfds,
	struct cw_gpu_why *why);

/* How many identifiers one SEND may carry with this host. */
unsigned cw_gpu_max_fds(const struct cw_gpu *g);

enum cw_gpu_status {
	CW_GPU_OK,    /* zero or more bytes were delivered */
	CW_GPU_EOF,   /* the compositor closed the connection */
	CW_GPU_ERROR, /* why says what went wrong; the context is unusable */
};

/* Fills pfd with what the transport needs watched: the DRM fd (only when want_data,
 * i.e. the caller has room for one RECEIVE) and the pipes it relays. Returns the count
 * (at most cw_gpu_npollfds()). */
size_t cw_gpu_want(struct cw_gpu *g, struct pollfd *pfd, size_t cap, bool want_data);
size_t cw_gpu_npollfds(const struct cw_gpu *g);

/* Handles what poll() reported for the entries filled by cw_gpu_want. A RECEIVE is
 * copied to buf (cap >= CW_GPU_RECV_MAX_BYTES) with its fds translated into local fds
 * (fd_cap >= CW_GPU_MAX_FDS), which become the caller's; READ data goes to the pipes. */
enum cw_gpu_status cw_gpu_dispatch(struct cw_gpu *g, const struct pollfd *pfd, size_t n,
	uint8_t *buf, size_t cap, size_t *len, int *fds, size_t fd_cap, size_t *nfds,
	struct cw_gpu_why *why);

/* The caller sent something the host must answer (a Wayland round trip): if no reply
 * at all arrives within the reply timeout, the channel is dead. Only the caller knows
 * which bytes demand an answer; plain requests may legitimately get none for hours. */
void cw_gpu_expect_reply(struct cw_gpu *g);
/* Milliseconds since the host last replied (or since the context was created). */
int64_t cw_gpu_idle_ms(const struct cw_gpu *g);
/* Milliseconds until the liveness deadline (an expected reply has not come), or -1 if
 * none. At 0 the caller reports the host dead. */
int cw_gpu_timeout_ms(const struct cw_gpu *g);

/* Host memory for shadow buffers: GET_IMAGE_REQUIREMENTS (cached per size, format and
 * flags: every query leaks a host template), then a mappable host blob. */
struct cw_gpu_image {
	uint32_t width, height, drm_format;
	uint32_t strides[4], offsets[4];
	uint64_t size_bytes;
	uint32_t bo_handle; /* GEM handle, owned */
	uint32_t res_id;    /* the identifier a SEND uses */
	int fd;             /* owned: exported dmabuf */
	void *map;          /* owned: whole-object mapping, NULL if not mapped */
};
struct cw_gpu_image *cw_gpu_image_create(struct cw_gpu *g, uint32_t width, uint32_t height,
	uint32_t drm_format, bool map, struct cw_gpu_why *why);
void cw_gpu_image_destroy(struct cw_gpu *g, struct cw_gpu_image *img);

/* Counters for tests and logs. */
struct cw_gpu_stats {
	uint64_t sends, receives, reads, writes, queries;
	uint32_t live_handles, live_pipes;
};
void cw_gpu_get_stats(const struct cw_gpu *g, struct cw_gpu_stats *st);

#endif
