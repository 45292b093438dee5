/* The render node: discovery, capability checks with operator-facing explanations, and
 * the creation of one cross-domain context with its two rings (spec sections 6 to 9). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#include "virtgpu/private.h"

void cw_gpu_why_set(struct cw_gpu_why *why, const char *fmt, ...)
{
	if (!why) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

int64_t cw_gpu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cw_gpu_ioctl(struct cw_gpu *g, unsigned long req, void *arg)
{
	return drmIoctl(g->fd, req, arg);
}

int cw_gpu_submit(struct cw_gpu *g, const void *cmd, size_t size, int ring,
	const uint32_t *handles, unsigned nhandles)
{
	struct cw_virtgpu_execbuffer eb = {
		.size = (uint32_t)size,
		.command = (uintptr_t)cmd,
		.bo_handles = (uintptr_t)handles,
		.num_bo_handles = nhandles,
		.fence_fd = -1,
	};
	if (ring >= 0) {
		eb.flags = CW_VIRTGPU_EXECBUF_RING_IDX;
		eb.ring_idx = (uint32_t)ring;
	}
	return cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_EXECBUFFER, &eb);
}

void cw_gpu_close_handle(struct cw_gpu *g, uint32_t handle)
{
	struct cw_drm_gem_close arg = { .handle = handle };
	if (handle) {
		cw_gpu_ioctl(g, CW_IOCTL_GEM_CLOSE, &arg);
		g->stats.live_handles--;
	}
}

static int get_param(int fd, uint64_t param, int *value)
{
	*value = 0;
	struct cw_virtgpu_getparam gp = { .param = param, .value = (uintptr_t)value };
	return drmIoctl(fd, CW_IOCTL_VIRTGPU_GETPARAM, &gp);
}

/* What each parameter provides, and where it comes from, for the error message. */
static const struct {
	uint64_t param;
	const char *name;
	const char *fix;
} required_params[] = {
	{ CW_VIRTGPU_PARAM_3D_FEATURES, "3D features",
		"the VMM must expose a virtio-gpu with 3D contexts (crosvm: "
		"--gpu=context-types=cross-domain)" },
	{ CW_VIRTGPU_PARAM_RESOURCE_BLOB, "blob resources",
		"needs a guest kernel >= 5.11 and a VMM with blob support" },
	{ CW_VIRTGPU_PARAM_HOST_VISIBLE, "host-visible memory",
		"the VMM must map a host-visible memory window into the guest (crosvm enables it "
		"with --gpu=context-types=cross-domain)" },
	{ CW_VIRTGPU_PARAM_CONTEXT_INIT, "context types (context_init)",
		"needs a guest kernel >= 5.16 with virtio_gpu context init" },
};

static int check_device(int fd, const char *path, struct cw_xd_caps *caps,
	struct cw_gpu_why *why)
{
	drmVersionPtr v = drmGetVersion(fd);
	if (!v) {
		cw_gpu_why_set(why, "%s is not a DRM device: %s", path, strerror(errno));
		return -1;
	}
	bool is_virtio = v->name && strcmp(v->name, "virtio_gpu") == 0;
	if (!is_virtio) {
		cw_gpu_why_set(why, "%s is a '%s' device, not virtio_gpu", path,
			v->name ? v->name : "?");
	}
	drmFreeVersion(v);
	if (!is_virtio) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(required_params) / sizeof(required_params[0]); i++) {
		int val;
		if (get_param(fd, required_params[i].param, &val) < 0 || val != 1) {
			cw_gpu_why_set(why, "%s: virtio-gpu lacks %s: %s", path,
				required_params[i].name, required_params[i].fix);
			return -1;
		}
	}
	int mask;
	if (get_param(fd, CW_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS, &mask) < 0 ||
		!(mask & (1 << CW_XD_CAPSET_ID))) {
		cw_gpu_why_set(why, "%s: the host offers no cross-domain context type (capset 5): "
			"start the VM with crosvm --gpu=context-types=cross-domain (or the "
			"equivalent rutabaga option of your VMM)", path);
		return -1;
	}
	*caps = (struct cw_xd_caps){ 0 };
	struct cw_virtgpu_get_caps gc = {
		.cap_set_id = CW_XD_CAPSET_ID,
		.cap_set_ver = 0,
		.addr = (uintptr_t)caps,
		.size = sizeof(*caps),
	};
	if (drmIoctl(fd, CW_IOCTL_VIRTGPU_GET_CAPS, &gc) < 0) {
		cw_gpu_why_set(why, "%s: cannot read the cross-domain capabilities: %s", path,
			strerror(errno));
		return -1;
	}
	if (caps->version < 1) {
		cw_gpu_why_set(why, "%s: cross-domain capability version %u is unusable", path,
			caps->version);
		return -1;
	}
	if (!(caps->supported_channels & (1u << CW_XD_CHANNEL_WAYLAND))) {
		cw_gpu_why_set(why, "%s: the host has no Wayland channel for this VM: give the VMM "
			"the compositor socket (crosvm --wayland-sock=PATH)%s", path,
			caps->supported_channels ? "; hosts from before mid-2024 under-report "
			"channels when several sockets are configured" : "");
		return -1;
	}
	return 0;
}

int cw_gpu_probe(const char *path, struct cw_gpu_why *why)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		cw_gpu_why_set(why, "cannot open %s: %s%s", path, strerror(errno),
			errno == EACCES ? " (is the user in the render group?)" : "");
		return -1;
	}
	struct cw_xd_caps caps;
	int r = check_device(fd, path, &caps, why);
	close(fd);
	return r;
}

int cw_gpu_find(char *path, size_t path_len, struct cw_gpu_why *why)
{
	bool any = false;
	for (int minor = 128; minor <= 190; minor++) {
		char p[64];
		snprintf(p, sizeof(p), "/dev/dri/renderD%d", minor);
		/* Nodes are numbered densely from 128; the first is always probed by opening
		 * it (a test double may answer for a path that does not exist). */
		if (minor > 128 && access(p, F_OK) < 0 && errno == ENOENT) {
			break;
		}
		struct cw_gpu_why w;
		if (cw_gpu_probe(p, &w) == 0) {
			snprintf(path, path_len, "%s", p);
			return 0;
		}
		if (!any || strstr(w.text, "virtio-gpu") || strstr(w.text, "host")) {
			*why = w;
		}
		any = true;
	}
	if (!any) {
		cw_gpu_why_set(why, "no render node in /dev/dri");
	}
	return -1;
}

static int ring_create(struct cw_gpu *g, struct cw_gpu_ring *r, struct cw_gpu_why *why)
{
	struct cw_virtgpu_create_blob cb = {
		.blob_mem = CW_VIRTGPU_BLOB_MEM_GUEST,
		.blob_flags = CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = g->ring_bytes,
	};
	if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_CREATE_BLOB, &cb) < 0) {
		cw_gpu_why_set(why, "cannot create a ring page: %s", strerror(errno));
		return -1;
	}
	r->bo_handle = cb.bo_handle;
	r->res_id = cb.res_handle;
	g->stats.live_handles++;
	struct cw_virtgpu_map m = { .handle = r->bo_handle };
	if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_MAP, &m) < 0) {
		cw_gpu_why_set(why, "cannot map a ring page: %s", strerror(errno));
		return -1;
	}
	void *p = mmap(NULL, g->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd,
		(off_t)m.offset);
	if (p == MAP_FAILED) {
		cw_gpu_why_set(why, "cannot map a ring page: %s", strerror(errno));
		return -1;
	}
	r->map = p;
	return 0;
}

static void ring_destroy(struct cw_gpu *g, struct cw_gpu_ring *r)
{
	if (r->map) {
		munmap(r->map, g->ring_bytes);
		r->map = NULL;
	}
	cw_gpu_close_handle(g, r->bo_handle);
	r->bo_handle = 0;
}

bool cw_gpu_handle_is_owned(const struct cw_gpu *g, uint32_t handle)
{
	if (handle == g->query_ring.bo_handle || handle == g->channel_ring.bo_handle) {
		return true;
	}
	for (unsigned i = 0; i < g->nowned; i++) {
		if (g->owned_handles[i] == handle) {
			return true;
		}
	}
	return false;
}

struct cw_gpu *cw_gpu_create(const struct cw_gpu_options *opt, struct cw_gpu_why *why)
{
	struct cw_gpu *g = calloc(1, sizeof(*g));
	if (!g) {
		cw_gpu_why_set(why, "out of memory");
		return NULL;
	}
	g->opt = *opt;
	g->max_ids = opt->max_ids == CW_XD_MAX_IDS_OLD ? CW_XD_MAX_IDS_OLD : CW_XD_MAX_IDS;
	g->next_read_pipe = CW_XD_READ_PIPE_BASE;
	g->last_reply_ms = cw_gpu_now_ms();
	long page = sysconf(_SC_PAGESIZE);
	g->ring_bytes = page > 4096 ? (size_t)page : 4096;
	for (unsigned i = 0; i < CW_GPU_MAX_PIPES; i++) {
		g->rpipes[i].fd = -1;
		g->wpipes[i].fd = -1;
	}
	g->fd = open(opt->device, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (g->fd < 0) {
		cw_gpu_why_set(why, "cannot open %s: %s", opt->device, strerror(errno));
		goto err;
	}
	/* CONTEXT_INIT must be the first context-related ioctl on this file. */
	struct cw_virtgpu_context_set_param params[3] = {
		{ CW_VIRTGPU_CONTEXT_PARAM_CAPSET_ID, CW_XD_CAPSET_ID },
		{ CW_VIRTGPU_CONTEXT_PARAM_NUM_RINGS, 2 },
		{ CW_VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK, 1u << CW_XD_RING_CHANNEL },
	};
	struct cw_virtgpu_context_init ci = { .num_params = 3,
		.ctx_set_params = (uintptr_t)params };
	if (cw_gpu_ioctl(g, CW_IOCTL_VIRTGPU_CONTEXT_INIT, &ci) < 0) {
		cw_gpu_why_set(why, "cannot create a cross-domain context on %s: %s", opt->device,
			strerror(errno));
		goto err;
	}
	if (ring_create(g, &g->query_ring, why) < 0 || ring_create(g, &g->channel_ring, why) < 0) {
		goto err;
	}
	/* The 20-byte form: accepted by crosvm-era, current rutabaga_gfx and libkrun hosts,
	 * and it keeps query replies off the channel ring. Alone in its execbuffer, since
	 * some hosts parse INIT by the bytes remaining. */
	struct cw_xd_init_v1 init = {
		.hdr = { .cmd = CW_XD_CMD_INIT, .cmd_size = sizeof(init) },
		.query_ring_res = g->query_ring.res_id,
		.channel_ring_res = g->channel_ring.res_id,
		.channel_type = CW_XD_CHANNEL_WAYLAND,
	};
	if (cw_gpu_submit(g, &init, sizeof(init), -1, NULL, 0) < 0) {
		cw_gpu_why_set(why, "cannot submit INIT: %s", strerror(errno));
		goto err;
	}
	if (cw_gpu_arm_poll(g) < 0) {
		cw_gpu_why_set(why, "cannot submit POLL: %s", strerror(errno));
		goto err;
	}
	return g;
err:
	cw_gpu_destroy(g);
	return NULL;
}

void cw_gpu_destroy(struct cw_gpu *g)
{
	if (!g) {
		return;
	}
	for (unsigned i = 0; i < g->nrpipes; i++) {
		if (g->rpipes[i].fd >= 0) {
			close(g->rpipes[i].fd);
		}
		free(g->rpipes[i].pending);
	}
	for (unsigned i = 0; i < g->nwpipes; i++) {
		close(g->wpipes[i].fd);
	}
	if (g->fd >= 0) {
		ring_destroy(g, &g->channel_ring);
		ring_destroy(g, &g->query_ring);
		/* Closing the file destroys the context; the host completes a pending POLL
		 * and drops its items. */
		close(g->fd);
	}
	free(g->queries);
	free(g->owned_handles);
	free(g);
}

unsigned cw_gpu_max_fds(const struct cw_gpu *g)
{
	return g->max_ids;
}

void cw_gpu_get_stats(const struct cw_gpu *g, struct cw_gpu_stats *st)
{
	*st = g->stats;
	st->live_pipes = g->nrpipes + g->nwpipes;
}
