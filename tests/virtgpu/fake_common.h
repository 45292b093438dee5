/* The virtio-gpu test double (docs/cross-domain.md, section 18), shared by its files: a
 * preloaded library that plays the guest kernel for one device path (fake_intercept.c,
 * fake_kernel.c, fake_submit.c) and the host model behind it (fake_host.c, fake_worker.c).
 * Nothing here is part of crossway; crossway only ever sees the syscalls. */
#ifndef CW_FAKE_COMMON_H
#define CW_FAKE_COMMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtgpu/xd-wire.h"

#define CW_FAKE_FD_CAP 65536      /* fd numbers the double can track */
#define CW_FAKE_MAX_PARAM 16      /* CW_FAKEGPU_PARAM_<N>, N below this */
#define CW_FAKE_EVENT_SPACE 4096u /* unread DRM event bytes per file, as in the kernel */
#define CW_FAKE_MAX_RINGS 64u     /* VIRTGPU_CONTEXT_PARAM_NUM_RINGS limit */
#define CW_FAKE_READ_PIPE_MAX 4072u

/* struct drm_version (LP64); xd-wire.h has only the request number. */
struct cw_fake_drm_version {
	int version_major, version_minor, version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};
_Static_assert(sizeof(struct cw_fake_drm_version) == 64, "drm_version");

/* ---- configuration (fake_config.c), read once at load from CW_FAKEGPU_* ---- */

enum cw_fake_init_mode {
	CW_FAKE_INIT_EXACT,   /* rutabaga_gfx 0.1.80+: cmd_size 16, 20 or 36 */
	CW_FAKE_INIT_PREFIX,  /* crosvm era: >= 20 bytes left -> v1, else legacy */
	CW_FAKE_INIT_LIBKRUN, /* try 24 (protocol_version), 20, 16 */
};

struct cw_fake_param {
	bool set;  /* overridden by CW_FAKEGPU_PARAM_<N> */
	bool fail; /* ... with "EINVAL" */
	int value;
};

struct cw_fake_config {
	char device[PATH_MAX];   /* the render node path we answer for */
	char wayland[PATH_MAX];  /* compositor socket for channel type 1; "" if unknown */
	char report[PATH_MAX];   /* file for VIOLATION/LEAK/summary lines; "" if none */
	unsigned max_ids;        /* identifiers per SEND/RECEIVE: 28 or 4 */
	bool max_ids_set;        /* CW_FAKEGPU_IDS given (overrides libkrun's version rule) */
	enum cw_fake_init_mode init_mode;
	bool ids_oddeven;        /* templates even from 4, other items odd from 3 */
	bool eof_drop;           /* compositor EOF swallows the POLL fence */
	bool fd_kinds_old;       /* eventfds and sockets from the compositor stop the worker */
	bool channels_bug;       /* supported_channels reports only the last channel */
	bool global_fences;      /* host completes global-timeline fences at once */
	bool fences_always;      /* pre-6.6 kernel: a fence for every execbuffer */
	bool partial_mmap;       /* 2025+ kernel: partial mmap of host blobs allowed */
	uint32_t host_page;
	uint32_t guest_page;
	struct cw_fake_param params[CW_FAKE_MAX_PARAM];
	uint32_t channels;       /* configured channel types, bit t = type t */
	bool silent;             /* host never completes ring-1 fences */
	bool init_fail;          /* INIT fails silently (connect refused) */
	bool strict_handles;     /* non-ring GEM handles open at close are LEAKs */
	bool debug;              /* trace to stderr */
	uint32_t res_base;
	int wait_ms;             /* DRM_IOCTL_VIRTGPU_WAIT timeout */
};

extern struct cw_fake_config cw_fake_cfg;

/* The libc functions we interpose, resolved with dlsym(RTLD_NEXT). The double itself
 * calls only these, never its own interposers. */
struct cw_fake_libc {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
};

extern struct cw_fake_libc cw_fake_real;

void cw_fake_init(void);
int cw_fake_param_get(unsigned param, int *value); /* 0, or -EINVAL */
bool cw_fake_param_is(unsigned param, int want);
uint32_t cw_fake_next_res_id(void);  /* VM-wide, shared with forked processes */
uint32_t cw_fake_next_ctx_id(void);

/* Output. Every line is one write(), so forked processes do not interleave. */
void cw_fake_violation(uint32_t ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cw_fake_leak(uint32_t ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cw_fake_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cw_fake_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- fd bookkeeping (fake_config.c) ---- */

enum cw_fake_fd_kind {
	CW_FAKE_FD_NONE = 0,
	CW_FAKE_FD_DEVICE,   /* a render-node fd we returned */
	CW_FAKE_FD_EXPORT,   /* a "dmabuf" from PRIME_HANDLE_TO_FD */
	CW_FAKE_FD_FENCE,    /* a sync-file stand-in from FENCE_FD_OUT */
	CW_FAKE_FD_INTERNAL, /* the double's own (host side); invisible to the app */
};

enum cw_fake_fd_kind cw_fake_fd_kind(int fd);
void cw_fake_fd_set(int fd, enum cw_fake_fd_kind kind);
int cw_fake_fd_own(int fd);       /* marks fd internal and returns it */
void cw_fake_fd_close(int *fd);   /* closes an internal fd; sets it to -1 */
int cw_fake_fd_dup(int fd);       /* an internal CLOEXEC duplicate, or -1 */
void cw_fake_fds_after_fork(void); /* in a forked child: close the parent's host fds */

/* ---- the VM-wide resource table and what the app holds (fake_kernel.c) ---- */

struct cw_fake_obj {
	struct cw_fake_obj *next; /* cw_fake_vm.objs */
	uint32_t res_id, blob_mem, blob_flags;
	uint64_t size;            /* page aligned */
	int fd;                   /* owned backing memfd; a 0-byte placeholder if !host_ok */
	bool host_ok;             /* guest memory, or the host created it */
	bool writable;            /* host access allows writing */
	dev_t dev;
	ino_t ino;
	uint32_t ctx_id;          /* the context that created it */
	unsigned refs;            /* GEM handles + exported fds + mappings */
};

enum cw_fake_rec_kind { CW_FAKE_REC_EXPORT, CW_FAKE_REC_FENCE, CW_FAKE_REC_MAP };

/* Something the double handed to the app, checked for leaks at context teardown. */
struct cw_fake_rec {
	struct cw_fake_rec *next; /* cw_fake_vm.recs */
	enum cw_fake_rec_kind kind;
	int fd;                   /* EXPORT, FENCE */
	dev_t dev;
	ino_t ino;
	void *addr;               /* MAP */
	size_t len;
	struct cw_fake_obj *obj;  /* owned reference; NULL for FENCE */
	uint32_t ctx_id;
};

/* Global bookkeeping; vm_lock is a leaf lock (never held while taking another). */
void cw_fake_vm_lock(void);
void cw_fake_vm_unlock(void);
struct cw_fake_obj *cw_fake_obj_create(uint32_t ctx_id, uint32_t blob_mem, uint32_t flags,
	uint64_t size, int fd_take, bool host_ok, bool writable);
struct cw_fake_obj *cw_fake_obj_find_fd(int fd);  /* by (st_dev, st_ino); vm_lock held */
struct cw_fake_obj *cw_fake_obj_find_res(uint32_t res_id); /* vm_lock held */
void cw_fake_obj_unref(struct cw_fake_obj *o);     /* vm_lock held */
void cw_fake_rec_add(enum cw_fake_rec_kind kind, int fd, void *addr, size_t len,
	struct cw_fake_obj *obj, uint32_t ctx_id);
void cw_fake_rec_fd_closed(int fd);
void cw_fake_rec_fd_dup(int oldfd, int newfd);
void cw_fake_rec_unmapped(void *addr, size_t len);
struct cw_fake_obj *cw_fake_rec_obj(int fd); /* behind an exported fd, with a reference */
unsigned cw_fake_rec_check(uint32_t ctx_id, bool report, unsigned *nfds, unsigned *nmaps);
void cw_fake_vm_forget_all(void); /* in a forked child */

/* ---- one open render-node file (fake_kernel.c, fake_submit.c) ---- */

struct cw_fake_handle {
	struct cw_fake_obj *obj; /* owned reference; NULL if the number is free */
	uint64_t *busy;          /* owned: fence seqs attached by execbuffer */
	size_t nbusy, capbusy;
};

struct cw_fake_fence {
	struct cw_fake_fence *next; /* cw_fake_file.fences, ascending seq */
	uint64_t seq;
	int timeline;               /* -1 global, else the ring index */
	bool event;                 /* a DRM event is reserved for it */
	int sync_wr;                /* owned: our end of the FENCE_FD_OUT stand-in, or -1 */
};

struct cw_fake_host;

struct cw_fake_file {
	struct cw_fake_file *next; /* the file list in fake_intercept.c */
	pthread_mutex_t lock;      /* guards everything below, and the host model */
	pthread_cond_t cond;       /* a fence was signalled */
	unsigned refs;             /* fds and calls in flight (under the file-list lock) */
	bool foreign;              /* inherited across fork: the context is the parent's */
	bool closing;              /* being torn down: no more events */
	int ev_wr;                 /* owned: write end of the event pipe */
	int ev_rd;                 /* owned: internal dup of the read end (for FIONREAD) */
	uint32_t ctx_id;           /* 0 until a context exists */
	bool ctx_explicit;         /* made by CONTEXT_INIT (not implicitly) */
	uint32_t capset, num_rings, poll_mask;
	struct cw_fake_handle *handles; /* owned; index = GEM handle, 0 unused */
	uint32_t nhandles;
	struct cw_fake_fence *fences;   /* owned: pending fences only */
	uint64_t next_seq;
	unsigned events_reserved;       /* fences with an event not yet signalled */
	struct cw_fake_host *host;      /* owned; NULL unless a cross-domain context */
	uint64_t nblobs, nexports, nimports, nexecbufs;
};

struct cw_fake_file *cw_fake_file_create(int ev_rd, int ev_wr);
void cw_fake_file_destroy(struct cw_fake_file *f); /* last reference gone */
int cw_fake_file_ioctl(struct cw_fake_file *f, uint32_t req, void *arg); /* 0 or -errno */
bool cw_fake_ioctl_is_stateless(uint32_t req);
void *cw_fake_file_mmap(struct cw_fake_file *f, void *addr, size_t len, int prot, int flags,
	off_t off, int *err);
void *cw_fake_export_mmap(int fd, void *addr, size_t len, int prot, int flags, off_t off,
	int *err);
void cw_fake_file_summary(struct cw_fake_file *f, const char *how);
void cw_fake_file_context(struct cw_fake_file *f, bool explicit_init); /* f->lock held */
struct cw_fake_handle *cw_fake_file_handle(struct cw_fake_file *f, uint32_t h);

/* fake_submit.c; f->lock held */
int cw_fake_execbuffer(struct cw_fake_file *f, struct cw_virtgpu_execbuffer *eb);
int cw_fake_wait(struct cw_fake_file *f, struct cw_virtgpu_wait *w);
void cw_fake_file_signal(struct cw_fake_file *f, uint64_t seq); /* and earlier ones on its ring */
unsigned cw_fake_file_unread_events(struct cw_fake_file *f);
void cw_fake_fences_free(struct cw_fake_file *f);

/* ---- the host model (fake_host.c, fake_worker.c); f->lock held unless noted ---- */

enum cw_fake_item_kind {
	CW_FAKE_ITEM_TEMPLATE,
	CW_FAKE_ITEM_BLOB,
	CW_FAKE_ITEM_WRITE_PIPE,
	CW_FAKE_ITEM_READ_PIPE,
	CW_FAKE_ITEM_EVENT,
	CW_FAKE_ITEM_SOCKET,
};

struct cw_fake_item {
	uint32_t id;
	enum cw_fake_item_kind kind;
	int fd;                 /* owned, -1 for templates */
	uint64_t size;
	struct cw_xd_image_reqs reqs; /* templates */
	bool writable;          /* received blobs */
	bool watched;           /* read pipes: in the worker's epoll set */
};

/* A resource attached to the context: what the host keeps per GEM handle. */
struct cw_fake_attach {
	uint32_t res_id;
	int fd;       /* owned dup of the backing (guest pages or host memory) */
	uint64_t size;
	bool guest;   /* guest memory: no host handle, cannot be sent */
};

enum cw_fake_job_kind { CW_FAKE_JOB_FENCE, CW_FAKE_JOB_ADD_PIPE, CW_FAKE_JOB_FINISH };

struct cw_fake_job {
	struct cw_fake_job *next;
	enum cw_fake_job_kind kind;
	uint64_t arg; /* fence seq or pipe id */
};

struct cw_fake_host {
	struct cw_fake_file *file; /* borrowed: owns us; its lock guards us */
	uint32_t ctx_id;
	bool init_seen, has_state, has_channel;
	uint32_t query_res, channel_res;
	unsigned max_ids;
	int sock;                  /* owned: the compositor connection */
	struct cw_fake_item *items;
	size_t nitems, capitems;
	uint32_t next_id, next_even, next_odd, next_read_pipe;
	uint32_t *gone;            /* ids materialised or hung up, for precise messages */
	size_t ngone, capgone;
	struct cw_fake_attach *attached;
	size_t nattached, capattached;
	/* worker (fake_worker.c) */
	pthread_t thread;
	bool thread_started, worker_dead;
	int epfd, resample_fd, kill_fd; /* owned */
	struct cw_fake_job *jobs, *jobs_tail;
	pthread_cond_t jobs_cond;
	unsigned ring1_pending;    /* ring-1 fences not completed */
	bool eof_sent;             /* an empty RECEIVE was written */
	uint64_t sends, receives, reads, writes, queries, polls;
};

struct cw_fake_submit {
	bool ring_set;
	uint32_t ring_idx;
	unsigned nhandles;
	bool fence_out;
};

enum cw_fake_fence_fate { CW_FAKE_FENCE_NOW, CW_FAKE_FENCE_LATER, CW_FAKE_FENCE_NEVER };

struct cw_fake_host *cw_fake_host_create(struct cw_fake_file *f);
void cw_fake_host_destroy(struct cw_fake_host *h); /* f->lock NOT held (joins the worker) */
void cw_fake_host_attach(struct cw_fake_host *h, const struct cw_fake_obj *o);
void cw_fake_host_detach(struct cw_fake_host *h, uint32_t res_id);
bool cw_fake_host_is_ring(const struct cw_fake_host *h, uint32_t res_id);
int cw_fake_host_create_blob(struct cw_fake_host *h, uint64_t size, uint64_t blob_id,
	bool *writable);
void cw_fake_host_submit(struct cw_fake_host *h, const uint8_t *buf, size_t len,
	const struct cw_fake_submit *s);
enum cw_fake_fence_fate cw_fake_host_fence(struct cw_fake_host *h, uint64_t seq, int timeline);
struct cw_fake_attach *cw_fake_host_find_attach(struct cw_fake_host *h, uint32_t res_id);
struct cw_fake_item *cw_fake_host_find_item(struct cw_fake_host *h, uint32_t id);
struct cw_fake_item *cw_fake_host_add_item(struct cw_fake_host *h, enum cw_fake_item_kind kind,
	int fd, uint64_t size);
void cw_fake_host_remove_item(struct cw_fake_host *h, struct cw_fake_item *it);
int cw_fake_host_ring_write(struct cw_fake_host *h, uint32_t res_id, const void *buf,
	size_t len);

int cw_fake_worker_start(struct cw_fake_host *h);
void cw_fake_worker_push(struct cw_fake_host *h, enum cw_fake_job_kind kind, uint64_t arg);
void cw_fake_worker_stop(struct cw_fake_host *h); /* f->lock NOT held */

#endif
