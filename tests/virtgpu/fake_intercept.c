/* The interposed libc entry points: open of the configured render node returns the read
 * end of an event pipe; ioctl, mmap, close and dup on the fds we handed out go to the fake
 * kernel; everything else goes straight to libc. Also fork handling: a child sees the
 * parent's contexts as foreign and gets none of the host side's fds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests/virtgpu/fake_common.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

/* glibc's fortified and large-file entry points; <fcntl.h> declares them only sometimes. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int open64(const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...);
int fcntl64(int fd, int cmd, ...);
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);

struct devfd {
	int fd;
	struct cw_fake_file *file; /* one reference per entry */
};

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct devfd *devfds; /* owned */
static size_t ndevfds, capdevfds;
static struct cw_fake_file *files; /* every live file, including foreign ones */
static struct cw_fake_file *foreign_closed; /* kept reachable, never freed (see file_put) */

/* ---- the fd -> file table ---- */

static int devfd_add_locked(int fd, struct cw_fake_file *f)
{
	if (ndevfds == capdevfds) {
		size_t cap = capdevfds ? capdevfds * 2 : 16;
		struct devfd *n = realloc(devfds, cap * sizeof(*n));
		if (!n) {
			return -1;
		}
		devfds = n;
		capdevfds = cap;
	}
	devfds[ndevfds++] = (struct devfd){ .fd = fd, .file = f };
	f->refs++;
	cw_fake_fd_set(fd, CW_FAKE_FD_DEVICE);
	return 0;
}

static struct cw_fake_file *file_get(int fd)
{
	struct cw_fake_file *f = NULL;
	pthread_mutex_lock(&files_lock);
	for (size_t i = 0; i < ndevfds; i++) {
		if (devfds[i].fd == fd) {
			f = devfds[i].file;
			f->refs++;
			break;
		}
	}
	pthread_mutex_unlock(&files_lock);
	return f;
}

static void file_put(struct cw_fake_file *f)
{
	bool last;
	pthread_mutex_lock(&files_lock);
	last = --f->refs == 0;
	if (last) {
		for (struct cw_fake_file **p = &files; *p; p = &(*p)->next) {
			if (*p == f) {
				*p = f->next;
				break;
			}
		}
		if (f->foreign) {
			/* Its lock may be held by a thread that exists only in the parent: never
			 * touch it. Keep it reachable so that leak checkers stay quiet. */
			f->next = foreign_closed;
			foreign_closed = f;
		}
	}
	pthread_mutex_unlock(&files_lock);
	if (last && !f->foreign) {
		cw_fake_file_destroy(f);
	}
}

/* Drops the table entry for fd (which the caller is closing). */
static void devfd_closed(int fd)
{
	struct cw_fake_file *f = NULL;
	pthread_mutex_lock(&files_lock);
	for (size_t i = 0; i < ndevfds; i++) {
		if (devfds[i].fd == fd) {
			f = devfds[i].file;
			devfds[i] = devfds[--ndevfds];
			break;
		}
	}
	cw_fake_fd_set(fd, CW_FAKE_FD_NONE);
	pthread_mutex_unlock(&files_lock);
	if (f) {
		file_put(f); /* the entry's reference */
	}
}

/* Bookkeeping for an fd of ours that is going away (close, or dup2 over it). */
static void forget_fd(int fd, enum cw_fake_fd_kind kind)
{
	if (kind == CW_FAKE_FD_DEVICE) {
		devfd_closed(fd);
	} else if (kind == CW_FAKE_FD_EXPORT || kind == CW_FAKE_FD_FENCE) {
		cw_fake_fd_set(fd, CW_FAKE_FD_NONE);
		cw_fake_rec_fd_closed(fd);
	}
}

/* newfd now refers to what oldfd (of the given kind) refers to. */
static void track_dup(int oldfd, int newfd, enum cw_fake_fd_kind kind)
{
	if (newfd < 0) {
		return;
	}
	if (kind == CW_FAKE_FD_DEVICE) {
		struct cw_fake_file *f = file_get(oldfd);
		if (f) {
			pthread_mutex_lock(&files_lock);
			devfd_add_locked(newfd, f);
			pthread_mutex_unlock(&files_lock);
			file_put(f);
		}
	} else if (kind == CW_FAKE_FD_EXPORT || kind == CW_FAKE_FD_FENCE) {
		cw_fake_fd_set(newfd, kind);
		cw_fake_rec_fd_dup(oldfd, newfd);
	}
}

static int fail_errno(int err)
{
	errno = err;
	return -1;
}

/* ---- open ---- */

static bool is_device_path(int dirfd, const char *path)
{
	cw_fake_init();
	if (!path || !cw_fake_cfg.device[0] || (path[0] != '/' && dirfd != AT_FDCWD)) {
		return false; /* not configured yet, or relative to a directory fd */
	}
	return strcmp(path, cw_fake_cfg.device) == 0;
}

static int open_device(int flags)
{
	int p[2], ev_rd;
	struct cw_fake_file *f;

	if (pipe2(p, O_CLOEXEC) < 0) {
		return -1;
	}
	if (p[0] >= CW_FAKE_FD_CAP) {
		cw_fake_real.close(p[0]);
		cw_fake_real.close(p[1]);
		return fail_errno(EMFILE);
	}
	cw_fake_fd_own(p[1]);
	cw_fake_real.fcntl(p[1], F_SETFL, O_NONBLOCK);
	if (!(flags & O_CLOEXEC)) {
		cw_fake_real.fcntl(p[0], F_SETFD, 0);
	}
	if (flags & O_NONBLOCK) {
		cw_fake_real.fcntl(p[0], F_SETFL, O_NONBLOCK);
	}
	/* Our own reader: FIONREAD counts unread events, and writes never raise SIGPIPE. */
	ev_rd = cw_fake_fd_dup(p[0]);
	f = ev_rd < 0 ? NULL : cw_fake_file_create(ev_rd, p[1]);
	if (!f) {
		cw_fake_fd_close(&ev_rd);
		cw_fake_fd_close(&p[1]);
		cw_fake_real.close(p[0]);
		return fail_errno(ENOMEM);
	}
	pthread_mutex_lock(&files_lock);
	f->next = files;
	files = f;
	if (devfd_add_locked(p[0], f) < 0) {
		files = f->next;
		pthread_mutex_unlock(&files_lock);
		cw_fake_file_destroy(f);
		cw_fake_real.close(p[0]);
		return fail_errno(ENOMEM);
	}
	pthread_mutex_unlock(&files_lock);
	cw_fake_debug("open %s -> fd %d", cw_fake_cfg.device, p[0]);
	return p[0];
}

static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode) \
	do { \
		if (needs_mode(flags)) { \
			va_list ap; \
			va_start(ap, flags); \
			mode = va_arg(ap, int); \
			va_end(ap); \
		} \
	} while (0)

int open(const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	if (is_device_path(AT_FDCWD, path)) {
		return open_device(flags);
	}
	return cw_fake_real.open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	if (is_device_path(AT_FDCWD, path)) {
		return open_device(flags);
	}
	return cw_fake_real.open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	if (is_device_path(dirfd, path)) {
		return open_device(flags);
	}
	return cw_fake_real.openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	if (is_device_path(dirfd, path)) {
		return open_device(flags);
	}
	return cw_fake_real.openat64(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
	return is_device_path(AT_FDCWD, path) ? open_device(flags) :
						cw_fake_real.open_2(path, flags);
}

int __open64_2(const char *path, int flags)
{
	return is_device_path(AT_FDCWD, path) ? open_device(flags) :
						cw_fake_real.open64_2(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	return is_device_path(dirfd, path) ? open_device(flags) :
					     cw_fake_real.openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	return is_device_path(dirfd, path) ? open_device(flags) :
					     cw_fake_real.openat64_2(dirfd, path, flags);
}

/* ---- close and dup ---- */

int close(int fd)
{
	cw_fake_init();
	enum cw_fake_fd_kind kind = cw_fake_fd_kind(fd);
	if (kind == CW_FAKE_FD_INTERNAL) {
		/* Not the app's fd: in a real VM it would not exist in this process. */
		cw_fake_debug("close(%d): an fd of the host model; refused with EBADF", fd);
		return fail_errno(EBADF);
	}
	forget_fd(fd, kind);
	return cw_fake_real.close(fd);
}

int close_range(unsigned first, unsigned last, int flags)
{
	cw_fake_init();
	if (flags & (int)CLOSE_RANGE_CLOEXEC) {
		return cw_fake_real.close_range ? cw_fake_real.close_range(first, last, flags) :
						  (int)syscall(SYS_close_range, first, last, flags);
	}
	/* Close the range piecewise around the host model's own fds. */
	unsigned start = first;
	int rc = 0;
	for (unsigned fd = first; fd <= last && fd < CW_FAKE_FD_CAP; fd++) {
		enum cw_fake_fd_kind kind = cw_fake_fd_kind((int)fd);
		if (kind != CW_FAKE_FD_INTERNAL) {
			forget_fd((int)fd, kind);
			continue;
		}
		if (fd > start) {
			rc |= (int)syscall(SYS_close_range, start, fd - 1, flags);
		}
		start = fd + 1;
	}
	if (start <= last) {
		rc |= (int)syscall(SYS_close_range, start, last, flags);
	}
	return rc ? -1 : 0;
}

int dup(int fd)
{
	cw_fake_init();
	enum cw_fake_fd_kind kind = cw_fake_fd_kind(fd);
	if (kind == CW_FAKE_FD_INTERNAL) {
		return fail_errno(EBADF);
	}
	int n = cw_fake_real.dup(fd);
	track_dup(fd, n, kind);
	return n;
}

static int dup_onto(int oldfd, int newfd, int flags, bool is_dup2)
{
	cw_fake_init();
	enum cw_fake_fd_kind okind = cw_fake_fd_kind(oldfd);
	enum cw_fake_fd_kind nkind = cw_fake_fd_kind(newfd);
	if (okind == CW_FAKE_FD_INTERNAL) {
		return fail_errno(EBADF);
	}
	if (nkind == CW_FAKE_FD_INTERNAL) {
		return fail_errno(EBUSY); /* what Linux says when newfd is being opened */
	}
	int r = is_dup2 ? cw_fake_real.dup2(oldfd, newfd) : cw_fake_real.dup3(oldfd, newfd, flags);
	if (r < 0 || oldfd == newfd) {
		return r;
	}
	forget_fd(newfd, nkind); /* dup2 closed it */
	track_dup(oldfd, newfd, okind);
	return r;
}

int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, 0, true);
}

int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, flags, false);
}

static int fcntl_common(int fd, int cmd, unsigned long arg, bool is64)
{
	cw_fake_init();
	int (*real)(int, int, ...) = is64 && cw_fake_real.fcntl64 ? cw_fake_real.fcntl64 :
								     cw_fake_real.fcntl;
	enum cw_fake_fd_kind kind = cw_fake_fd_kind(fd);
	if (kind == CW_FAKE_FD_NONE) {
		return real(fd, cmd, arg);
	}
	if (kind == CW_FAKE_FD_INTERNAL) {
		return fail_errno(EBADF);
	}
	int r = real(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		track_dup(fd, r, kind);
	} else if (cmd == F_GETFL && kind == CW_FAKE_FD_DEVICE && r >= 0) {
		r = (r & ~O_ACCMODE) | O_RDWR; /* a render node is opened read-write */
	}
	return r;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, false);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, true);
}

/* ---- ioctl and mmap ---- */

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	cw_fake_init();

	enum cw_fake_fd_kind kind = cw_fake_fd_kind(fd);
	uint32_t req = (uint32_t)request; /* the kernel's cmd is 32 bits */
	if (kind == CW_FAKE_FD_INTERNAL) {
		return fail_errno(EBADF);
	}
	/* Non-DRM ioctls (FIONBIO, FIONREAD, ...) act on the event pipe, as the VFS would. */
	if (kind != CW_FAKE_FD_DEVICE || ((req >> 8) & 0xff) != 'd') {
		return cw_fake_real.ioctl(fd, request, arg);
	}
	struct cw_fake_file *f = file_get(fd);
	if (!f) {
		return fail_errno(EBADF);
	}
	int r;
	if (f->foreign && !cw_fake_ioctl_is_stateless(req)) {
		cw_fake_violation(f->ctx_id, "ioctl 0x%08x on a render-node fd inherited across "
			"fork: its context belongs to the parent process", req);
		r = -EIO;
	} else {
		r = cw_fake_file_ioctl(f, req, arg);
	}
	file_put(f);
	return r < 0 ? fail_errno(-r) : r;
}

static void *mmap_common(void *addr, size_t len, int prot, int flags, int fd, off_t off,
	bool is64)
{
	cw_fake_init();
	void *(*real)(void *, size_t, int, int, int, off_t) =
		is64 && cw_fake_real.mmap64 ? cw_fake_real.mmap64 : cw_fake_real.mmap;
	enum cw_fake_fd_kind kind = (flags & MAP_ANONYMOUS) ? CW_FAKE_FD_NONE : cw_fake_fd_kind(fd);
	void *p;
	int err = 0;

	if (kind == CW_FAKE_FD_NONE || kind == CW_FAKE_FD_FENCE) {
		return real(addr, len, prot, flags, fd, off);
	}
	if (kind == CW_FAKE_FD_INTERNAL) {
		errno = EBADF;
		return MAP_FAILED;
	}
	if (kind == CW_FAKE_FD_EXPORT) {
		p = cw_fake_export_mmap(fd, addr, len, prot, flags, off, &err);
	} else {
		struct cw_fake_file *f = file_get(fd);
		if (!f) {
			errno = EBADF;
			return MAP_FAILED;
		}
		if (f->foreign) {
			cw_fake_violation(f->ctx_id,
				"mmap of a render-node fd inherited across fork");
			p = MAP_FAILED;
			err = EIO;
		} else {
			p = cw_fake_file_mmap(f, addr, len, prot, flags, off, &err);
		}
		file_put(f);
	}
	if (p == MAP_FAILED) {
		errno = err;
	}
	return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap_common(addr, len, prot, flags, fd, off, false);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap_common(addr, len, prot, flags, fd, off, true);
}

int munmap(void *addr, size_t len)
{
	cw_fake_init();
	cw_fake_rec_unmapped(addr, len);
	return cw_fake_real.munmap(addr, len);
}

/* ---- fork and exit ---- */

static void before_fork(void)
{
	pthread_mutex_lock(&files_lock);
	cw_fake_vm_lock();
}

static void after_fork_parent(void)
{
	cw_fake_vm_unlock();
	pthread_mutex_unlock(&files_lock);
}

static void after_fork_child(void)
{
	for (struct cw_fake_file *f = files; f; f = f->next) {
		f->foreign = true;
	}
	cw_fake_vm_forget_all();
	cw_fake_fds_after_fork();
	cw_fake_vm_unlock();
	pthread_mutex_unlock(&files_lock);
}

__attribute__((constructor)) static void intercept_load(void)
{
	cw_fake_init();
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* At exit the kernel would close every fd: write the summaries of contexts still open so
 * that tests can count contexts even when a process exits without closing its node. */
__attribute__((destructor)) static void intercept_unload(void)
{
	pthread_mutex_lock(&files_lock);
	for (struct cw_fake_file *f = files; f; f = f->next) {
		if (f->foreign || !f->ctx_id) {
			continue;
		}
		bool locked = false;
		for (int i = 0; i < 100 && !locked; i++) {
			locked = pthread_mutex_trylock(&f->lock) == 0;
			if (!locked) {
				nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			}
		}
		cw_fake_file_summary(f, "at exit");
		if (locked) {
			pthread_mutex_unlock(&f->lock);
		}
	}
	pthread_mutex_unlock(&files_lock);
}
