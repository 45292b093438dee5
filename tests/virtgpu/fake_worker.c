/* The host model's per-context worker thread (docs/cross-domain.md 17.6, 17.7, 17.10,
 * 17.11): one reply per ring-1 fence, from the first ready source only (the compositor
 * socket, a proxied read pipe, the resample or kill event), written at offset 0 of the
 * channel ring before the fence completes. Any error ends the thread for good. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

/* epoll tags; read pipes are tagged with their id (> 0x80000000, below these). */
#define TAG_SOCK (1ull << 40)
#define TAG_RESAMPLE (2ull << 40)
#define TAG_KILL (3ull << 40)

#define RECV_BYTES 4096u

static int epoll_add(struct cw_fake_host *h, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void complete(struct cw_fake_host *h, uint64_t seq)
{
	h->ring1_pending--;
	cw_fake_file_signal(h->file, seq);
}

/* 17.7: what the host makes of an fd from the compositor. 0, or -1: unsupported kind. */
static int classify(int fd, uint32_t *type, uint64_t *size, bool *writable)
{
	char link[64], target[64];
	struct stat st;
	*size = 0;
	*writable = false;
	if (!cw_fake_cfg.fd_kinds_old) {
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		if (!strncmp(target, "anon_inode:[eventfd]", 20)) {
			*type = 5; /* EVENT */
			return 0;
		}
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
			*type = 7; /* SOCKET */
			return 0;
		}
	}
	off_t end = lseek(fd, 0, SEEK_END);
	if (end >= 0) {
		if ((uint64_t)end >= (1ull << 32)) {
			return -1;
		}
		int fl = cw_fake_real.fcntl(fd, F_GETFL);
		int seals = cw_fake_real.fcntl(fd, F_GET_SEALS);
		*type = CW_XD_ID_BLOB;
		*size = (uint64_t)end;
		*writable = fl >= 0 && (fl & O_ACCMODE) != O_RDONLY &&
			(seals < 0 || !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)));
		return 0;
	}
	if ((cw_fake_real.fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY) {
		*type = CW_XD_ID_WRITE_PIPE;
		return 0;
	}
	return -1;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static enum cw_fake_item_kind item_kind(uint32_t type)
{
	switch (type) {
	case CW_XD_ID_BLOB:
		return CW_FAKE_ITEM_BLOB;
	case CW_XD_ID_WRITE_PIPE:
		return CW_FAKE_ITEM_WRITE_PIPE;
	case 5:
		return CW_FAKE_ITEM_EVENT;
	default:
		return CW_FAKE_ITEM_SOCKET;
	}
}

/* The compositor socket is readable: one recvmsg becomes one RECEIVE. */
static int process_receive(struct cw_fake_host *h, uint64_t seq)
{
	size_t hdr_len = 16 + 12 * (size_t)h->max_ids;
	uint8_t msg[RECV_BYTES] = { 0 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CW_XD_MAX_IDS)];
	} cbuf;
	struct iovec iov = { .iov_base = msg + hdr_len, .iov_len = RECV_BYTES - hdr_len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * h->max_ids),
	};
	int fds[CW_XD_MAX_IDS];
	size_t nfds = 0;
	ssize_t n;

	do {
		n = recvmsg(h->sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		cw_fake_debug("context %u: worker: recvmsg: %s", h->ctx_id, strerror(errno));
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds < h->max_ids) {
				fds[nfds++] = cw_fake_fd_own(fd);
			} else {
				close(fd);
			}
		}
	}
	if (n == 0 && nfds == 0) {
		if (cw_fake_cfg.eof_drop) {
			/* Hosts up to 0.1.75 swallow the fence: the guest never hears of it. */
			cw_fake_debug("context %u: compositor EOF: fence dropped", h->ctx_id);
			return 0;
		}
		h->eof_sent = true;
	}
	uint8_t *ids = msg + 16, *types = ids + 4 * h->max_ids, *sizes = types + 4 * h->max_ids;
	for (size_t i = 0; i < nfds; i++) {
		uint32_t type;
		uint64_t size;
		bool writable;
		if (classify(fds[i], &type, &size, &writable) < 0) {
			cw_fake_debug("context %u: worker: the compositor sent an fd of an "
				"unsupported kind; the channel stops for good", h->ctx_id);
			for (size_t j = i; j < nfds; j++) {
				cw_fake_fd_close(&fds[j]);
			}
			return -1;
		}
		struct cw_fake_item *it = cw_fake_host_add_item(h, item_kind(type), fds[i], size);
		if (!it) {
			return -1;
		}
		it->writable = writable;
		put_u32(ids + 4 * i, it->id);
		put_u32(types + 4 * i, type);
		put_u32(sizes + 4 * i, (uint32_t)size);
	}
	msg[0] = CW_XD_CMD_RECEIVE;
	put_u32(msg + 8, (uint32_t)nfds);
	put_u32(msg + 12, (uint32_t)n);
	if (cw_fake_host_ring_write(h, h->channel_res, msg, hdr_len + (size_t)n) < 0) {
		cw_fake_debug("context %u: worker: channel ring missing or too small", h->ctx_id);
		return -1;
	}
	h->receives++;
	complete(h, seq);
	return 0;
}

/* A proxied read pipe is readable (or hung up): one READ. */
static int process_pipe(struct cw_fake_host *h, uint32_t id, uint64_t seq)
{
	struct cw_fake_item *it = cw_fake_host_find_item(h, id);
	struct cw_fake_attach *a = cw_fake_host_find_attach(h, h->channel_res);
	if (!it || it->kind != CW_FAKE_ITEM_READ_PIPE || !a || a->size <= 24) {
		cw_fake_debug("context %u: worker: read pipe %u or channel ring missing", h->ctx_id,
			id);
		return -1;
	}
	uint8_t *msg = calloc(1, a->size);
	if (!msg) {
		return -1;
	}
	ssize_t n;
	do {
		n = read(it->fd, msg + 24, a->size - 24);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		free(msg);
		return -1;
	}
	n = n < 0 ? 0 : n;
	msg[0] = CW_XD_CMD_READ;
	put_u32(msg + 8, id);
	put_u32(msg + 12, n == 0);
	put_u32(msg + 16, (uint32_t)n);
	int rc = cw_fake_host_ring_write(h, h->channel_res, msg, 24 + (size_t)n);
	free(msg);
	if (rc < 0) {
		return -1;
	}
	if (n == 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, it->fd, NULL);
		cw_fake_host_remove_item(h, it); /* forgotten after hang_up */
	}
	h->reads++;
	complete(h, seq);
	return 0;
}

static struct cw_fake_job *pop_job(struct cw_fake_host *h)
{
	struct cw_fake_job *j = h->jobs;
	h->jobs = j->next;
	if (!h->jobs) {
		h->jobs_tail = NULL;
	}
	return j;
}

/* One "handle fence" job; f->lock held except while waiting. */
static int handle_fence(struct cw_fake_host *h, uint64_t seq)
{
	struct epoll_event ev;
	int n;
	pthread_mutex_unlock(&h->file->lock);
	do {
		n = epoll_wait(h->epfd, &ev, 1, -1); /* the first ready source only */
	} while (n < 0 && errno == EINTR);
	pthread_mutex_lock(&h->file->lock);
	if (n < 0) {
		return -1;
	}
	switch (ev.data.u64) {
	case TAG_SOCK:
		return process_receive(h, seq);
	case TAG_RESAMPLE: {
		uint64_t v;
		ssize_t r = read(h->resample_fd, &v, sizeof(v));
		(void)r;
		/* Requeue at the end so that pending "add read pipe" jobs run first. */
		cw_fake_worker_push(h, CW_FAKE_JOB_FENCE, seq);
		return 0;
	}
	case TAG_KILL:
		complete(h, seq); /* context destruction: no reply */
		return 0;
	default:
		return process_pipe(h, (uint32_t)ev.data.u64, seq);
	}
}

static void *worker_main(void *arg)
{
	struct cw_fake_host *h = arg;
	pthread_mutex_lock(&h->file->lock);
	for (;;) {
		while (!h->jobs) {
			pthread_cond_wait(&h->jobs_cond, &h->file->lock);
		}
		struct cw_fake_job *j = pop_job(h);
		enum cw_fake_job_kind kind = j->kind;
		uint64_t arg64 = j->arg;
		free(j);
		int rc = 0;
		if (kind == CW_FAKE_JOB_FINISH) {
			break;
		} else if (kind == CW_FAKE_JOB_ADD_PIPE) {
			struct cw_fake_item *it = cw_fake_host_find_item(h, (uint32_t)arg64);
			if (it && !it->watched) {
				rc = epoll_add(h, it->fd, arg64);
				it->watched = rc == 0;
			}
		} else {
			rc = handle_fence(h, arg64);
		}
		if (rc < 0) {
			h->worker_dead = true;
			cw_fake_debug("context %u: worker stopped: later POLLs never complete",
				h->ctx_id);
			break;
		}
	}
	pthread_mutex_unlock(&h->file->lock);
	return NULL;
}

int cw_fake_worker_start(struct cw_fake_host *h)
{
	sigset_t all, old;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->kill_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cw_fake_fd_own(h->epfd);
	cw_fake_fd_own(h->resample_fd);
	cw_fake_fd_own(h->kill_fd);
	if (h->epfd < 0 || h->resample_fd < 0 || h->kill_fd < 0 ||
		epoll_add(h, h->sock, TAG_SOCK) < 0 ||
		epoll_add(h, h->resample_fd, TAG_RESAMPLE) < 0 ||
		epoll_add(h, h->kill_fd, TAG_KILL) < 0) {
		return -1;
	}
	/* Signals are for the app's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&h->thread, NULL, worker_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		return -1;
	}
	h->thread_started = true;
	return 0;
}

void cw_fake_worker_push(struct cw_fake_host *h, enum cw_fake_job_kind kind, uint64_t arg)
{
	struct cw_fake_job *j = calloc(1, sizeof(*j));
	if (!j) {
		return;
	}
	j->kind = kind;
	j->arg = arg;
	if (h->jobs_tail) {
		h->jobs_tail->next = j;
	} else {
		h->jobs = j;
	}
	h->jobs_tail = j;
	pthread_cond_signal(&h->jobs_cond);
}

void cw_fake_worker_stop(struct cw_fake_host *h)
{
	uint64_t one = 1;
	pthread_mutex_lock(&h->file->lock);
	cw_fake_worker_push(h, CW_FAKE_JOB_FINISH, 0);
	pthread_mutex_unlock(&h->file->lock);
	/* Never consumed: a worker blocked on a fence wakes, and so does every later one. */
	ssize_t r = write(h->kill_fd, &one, sizeof(one));
	(void)r;
	pthread_join(h->thread, NULL);
}
