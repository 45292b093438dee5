/* The fake kernel's command submission: DRM_IOCTL_VIRTGPU_EXECBUFFER (validation, the
 * fence rules of docs/cross-domain.md 10.3, out-fences), fence completion with DRM events,
 * and DRM_IOCTL_VIRTGPU_WAIT. The host model runs synchronously inside execbuffer, as the
 * VMM's GPU thread would, before the fence is created. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

static struct cw_fake_fence *fence_find(struct cw_fake_file *f, uint64_t seq)
{
	for (struct cw_fake_fence *fe = f->fences; fe; fe = fe->next) {
		if (fe->seq == seq) {
			return fe;
		}
	}
	return NULL;
}

unsigned cw_fake_file_unread_events(struct cw_fake_file *f)
{
	int n = 0;
	if (cw_fake_real.ioctl(f->ev_rd, FIONREAD, &n) < 0) {
		return 0;
	}
	return (unsigned)n / (unsigned)sizeof(struct cw_drm_event);
}

static void fence_complete(struct cw_fake_file *f, struct cw_fake_fence *fe)
{
	if (fe->event) {
		struct cw_drm_event ev = { .type = CW_XD_EVENT_FENCE, .length = sizeof(ev) };
		f->events_reserved--;
		if (!f->closing) {
			ssize_t r = write(f->ev_wr, &ev, sizeof(ev));
			(void)r; /* event space was reserved, so the pipe has room */
		}
	}
	if (fe->sync_wr >= 0) {
		/* A sync file polls readable once signalled. */
		send(fe->sync_wr, "s", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		cw_fake_fd_close(&fe->sync_wr);
	}
}

void cw_fake_file_signal(struct cw_fake_file *f, uint64_t seq)
{
	struct cw_fake_fence *target = fence_find(f, seq);
	if (!target) {
		return;
	}
	int timeline = target->timeline;
	/* Completing a fence completes every earlier one on its timeline. */
	for (struct cw_fake_fence **p = &f->fences; *p;) {
		struct cw_fake_fence *fe = *p;
		if (fe->seq <= seq && fe->timeline == timeline) {
			*p = fe->next;
			fence_complete(f, fe);
			free(fe);
		} else {
			p = &fe->next;
		}
	}
	pthread_cond_broadcast(&f->cond);
}

void cw_fake_fences_free(struct cw_fake_file *f)
{
	while (f->fences) {
		struct cw_fake_fence *fe = f->fences;
		f->fences = fe->next;
		cw_fake_fd_close(&fe->sync_wr);
		free(fe);
	}
}

static void busy_prune(struct cw_fake_file *f, struct cw_fake_handle *e)
{
	size_t j = 0;
	for (size_t i = 0; i < e->nbusy; i++) {
		if (fence_find(f, e->busy[i])) {
			e->busy[j++] = e->busy[i];
		}
	}
	e->nbusy = j;
}

static void busy_add(struct cw_fake_file *f, struct cw_fake_handle *e, uint64_t seq)
{
	busy_prune(f, e);
	if (e->nbusy == e->capbusy) {
		size_t cap = e->capbusy ? e->capbusy * 2 : 4;
		uint64_t *n = realloc(e->busy, cap * sizeof(*n));
		if (!n) {
			return;
		}
		e->busy = n;
		e->capbusy = cap;
	}
	e->busy[e->nbusy++] = seq;
}

static int check_handles(struct cw_fake_file *f, const struct cw_virtgpu_execbuffer *eb,
	const uint32_t **out)
{
	const uint32_t *hs = (const uint32_t *)(uintptr_t)eb->bo_handles;
	*out = hs;
	if (!eb->num_bo_handles) {
		return 0;
	}
	if (!hs) {
		return -EFAULT;
	}
	for (uint32_t i = 0; i < eb->num_bo_handles; i++) {
		if (!cw_fake_file_handle(f, hs[i])) {
			return -ENOENT;
		}
	}
	return 0;
}

int cw_fake_execbuffer(struct cw_fake_file *f, struct cw_virtgpu_execbuffer *eb)
{
	const uint32_t flags_known = CW_VIRTGPU_EXECBUF_FENCE_FD_IN |
		CW_VIRTGPU_EXECBUF_FENCE_FD_OUT | CW_VIRTGPU_EXECBUF_RING_IDX;
	bool ring_set = eb->flags & CW_VIRTGPU_EXECBUF_RING_IDX;
	bool fence_out = eb->flags & CW_VIRTGPU_EXECBUF_FENCE_FD_OUT;
	const uint32_t *hs;
	int sv[2] = { -1, -1 };
	int r;

	if (!cw_fake_param_is(CW_VIRTGPU_PARAM_3D_FEATURES, 1)) {
		return -ENOSYS;
	}
	if (eb->flags & ~flags_known) {
		return -EINVAL;
	}
	if (eb->num_in_syncobjs || eb->num_out_syncobjs) {
		cw_fake_debug("execbuffer with syncobjs: not emulated, EINVAL");
		return -EINVAL;
	}
	if (ring_set && eb->ring_idx >= f->num_rings) {
		return -EINVAL;
	}
	if (!f->ctx_id) {
		cw_fake_file_context(f, false);
		cw_fake_violation(f->ctx_id, "EXECBUFFER before CONTEXT_INIT: the kernel created a "
			"default context, so CONTEXT_INIT will now fail with EEXIST");
	}
	if ((r = check_handles(f, eb, &hs)) < 0) {
		return r;
	}
	if ((eb->flags & CW_VIRTGPU_EXECBUF_FENCE_FD_IN) &&
		cw_fake_fd_kind(eb->fence_fd) != CW_FAKE_FD_FENCE) {
		return -EINVAL; /* not a sync file; ours are signalled in order anyway */
	}
	if (eb->size && !eb->command) {
		return -EFAULT;
	}

	bool in_mask = ring_set && eb->ring_idx < 32 && ((f->poll_mask >> eb->ring_idx) & 1);
	bool need_fence, event;
	if (cw_fake_cfg.fences_always) {
		/* Before 6.6 every submission got a fence; ring 0 counted without RING_IDX. */
		need_fence = true;
		event = ring_set ? in_mask : (f->poll_mask & 1);
	} else {
		need_fence = fence_out || eb->num_bo_handles || in_mask;
		event = in_mask;
	}
	if (event && (cw_fake_file_unread_events(f) + f->events_reserved + 1) *
				sizeof(struct cw_drm_event) > CW_FAKE_EVENT_SPACE) {
		return -ENOMEM; /* the DRM file's event space is full */
	}
	if (fence_out) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			return -errno;
		}
		cw_fake_fd_own(sv[1]);
	}

	if (f->host) {
		struct cw_fake_submit s = {
			.ring_set = ring_set,
			.ring_idx = eb->ring_idx,
			.nhandles = eb->num_bo_handles,
			.fence_out = fence_out,
		};
		cw_fake_host_submit(f->host, (const uint8_t *)(uintptr_t)eb->command, eb->size, &s);
	} else if (eb->size) {
		cw_fake_debug("context %u is not cross-domain: %u command bytes ignored", f->ctx_id,
			eb->size);
	}
	f->nexecbufs++;

	if (need_fence) {
		struct cw_fake_fence *fe = calloc(1, sizeof(*fe));
		if (!fe) {
			cw_fake_fd_close(&sv[1]);
			if (sv[0] >= 0) {
				cw_fake_real.close(sv[0]);
			}
			return -ENOMEM;
		}
		fe->seq = f->next_seq++;
		fe->timeline = ring_set ? (int)eb->ring_idx : -1;
		fe->event = event;
		fe->sync_wr = sv[1];
		f->events_reserved += event;
		struct cw_fake_fence **tail = &f->fences;
		while (*tail) {
			tail = &(*tail)->next;
		}
		*tail = fe;
		for (uint32_t i = 0; i < eb->num_bo_handles; i++) {
			busy_add(f, cw_fake_file_handle(f, hs[i]), fe->seq);
		}
		enum cw_fake_fence_fate fate = f->host ?
			cw_fake_host_fence(f->host, fe->seq, fe->timeline) : CW_FAKE_FENCE_NOW;
		if (fate == CW_FAKE_FENCE_NOW) {
			cw_fake_file_signal(f, fe->seq);
		}
	}
	if (fence_out) {
		cw_fake_fd_set(sv[0], CW_FAKE_FD_FENCE);
		cw_fake_rec_add(CW_FAKE_REC_FENCE, sv[0], NULL, 0, NULL, f->ctx_id);
		eb->fence_fd = sv[0];
	} else {
		eb->fence_fd = -1;
	}
	return 0;
}

int cw_fake_wait(struct cw_fake_file *f, struct cw_virtgpu_wait *w)
{
	struct cw_fake_handle *e = cw_fake_file_handle(f, w->handle);
	struct timespec deadline;
	if (!e) {
		return -ENOENT;
	}
	busy_prune(f, e);
	if (e->nbusy == 0) {
		return 0;
	}
	if (w->flags & CW_VIRTGPU_WAIT_NOWAIT) {
		return -EBUSY;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += cw_fake_cfg.wait_ms / 1000;
	deadline.tv_nsec += (long)(cw_fake_cfg.wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT) {
			return -EBUSY;
		}
		/* The handle may have been closed by another thread meanwhile. */
		if (!(e = cw_fake_file_handle(f, w->handle))) {
			return 0;
		}
		busy_prune(f, e);
		if (e->nbusy == 0) {
			return 0;
		}
	}
}
