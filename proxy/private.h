/* Structures shared by the relay (client.c), the hook families (hook_*.c) and the
 * tracer. Not for use outside proxy/. */
#ifndef CW_PROXY_PRIVATE_H
#define CW_PROXY_PRIVATE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "proxy/config.h"
#include "proxy/conn.h"
#include "proxy/objmap.h"
#include "proxy/proto.h"
#include "proxy/wire.h"
#include "util/list.h"

enum cw_client_state {
	CW_CLIENT_RELAYING,
	CW_CLIENT_DRAINING, /* an error was sent to the guest; flushing it, then closing */
	CW_CLIENT_DEAD,     /* reaped after this loop iteration */
};

/* One global advertised by the compositor and shown to this client. */
struct cw_global {
	uint32_t name;
	const struct cw_iface *iface; /* borrowed: static tables */
	uint32_t version;             /* min(compositor, crossway) */
	bool removed;
};

struct cw_client {
	unsigned id;
	enum cw_client_state state;
	const struct cw_config *cfg; /* borrowed: lives as long as the daemon */
	struct cw_conn guest;        /* the app */
	struct cw_conn host;         /* the compositor (buffers only in virtio-gpu mode) */
	struct cw_gpu *gpu;          /* owned: the cross-domain context, NULL in direct mode */
	struct cw_idmap guest_ids, host_ids;
	struct cw_objpool pool;
	struct cw_global *globals; /* owned array */
	uint32_t nglobals, capglobals;
	bool guest_blocked; /* a guest message waits for room in host output */
	bool host_blocked;  /* a host event waits for room in guest output */
	bool host_failed;   /* the compositor sent wl_display.error: drain after it */
	/* A guest request waits for the compositor to release a shadow buffer: the guest
	 * is not read until a release arrives (see CW_HOOK_WAIT). */
	bool guest_stalled;
	bool release_host; /* draining: the host side is closed after this dispatch */
	struct cw_shm_client *shm; /* owned: shadow-buffer state (hook_shm.c), may be NULL */
	int64_t deadline_ms; /* CLOCK_MONOTONIC, while draining */
	uint64_t relayed_bytes; /* message bytes relayed, both directions */
	struct cw_list link; /* cw_server.clients */
};

/* A message being relayed, as hooks see it. */
struct cw_relay {
	bool from_guest;
	uint8_t *bytes;            /* the message in the input buffer; hooks may patch words */
	struct cw_msg msg;
	struct cw_object *target;  /* the object the message is addressed to */
	struct cw_object *objs[CW_MAX_ARGS]; /* resolved o arguments (NULL: null or gone) */
	uint32_t out_ids[CW_MAX_ARGS];       /* ids written for o arguments on the other side */
	bool unresolved; /* a non-nullable o argument has no counterpart: dropped unless cleared */
	/* A request names a local object (objs[i] set, out_ids[i] 0); its hook must rewrite
	 * the argument and clear this, or the request is refused. */
	bool local_args;
	bool created; /* the objects of n arguments exist (objs[i]), see cw_relay_create_objects */
};

/* Creates the objects named by a request's n arguments now (a hook that needs them);
 * otherwise the relay does it after the hook. Returns false after posting an error. */
bool cw_relay_create_objects(struct cw_client *c, struct cw_relay *r);
/* Whether host output has room for the request being relayed plus extra_bytes and
 * extra_fds of messages a hook adds before it. */
bool cw_relay_host_room(struct cw_client *c, const struct cw_relay *r, size_t extra_bytes,
	size_t extra_fds);

/* Sends wl_display.error to the guest and starts draining. object_id is a guest id. */
void cw_client_post_error(struct cw_client *c, uint32_t object_id, uint32_t code,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Queues an event of our own to the guest. Returns 0 or -1 when the output is full. */
int cw_client_send_event(struct cw_client *c, uint32_t id, const struct cw_iface *iface,
	uint32_t opcode, const union cw_arg *args);
/* Queues a request of crossway's own to the compositor, taking the fds. Returns 0, or
 * -1 when host output is full (callers check room first: cw_relay_host_room). */
int cw_client_send_request(struct cw_client *c, uint32_t host_id, const struct cw_iface *iface,
	uint32_t opcode, const union cw_arg *args, const int *fds, size_t nfds);
/* An object crossway implements for the guest alone, at the guest's new id (already
 * validated by the relay). NULL when out of memory. */
struct cw_object *cw_client_local_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version, uint32_t guest_id);
/* The guest destroyed a local object: retire its id as the compositor would
 * (delete_id) and free it. */
void cw_client_local_destroy(struct cw_client *c, struct cw_object *o);
/* An object crossway creates on the host with no guest counterpart; its host id is
 * o->host_id. The host's delete_id frees it after crossway destroys it. */
struct cw_object *cw_client_own_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version);
/* Queues wl_display.delete_id(guest_id) to the guest. Returns 0 or -1 (output full). */
int cw_client_send_delete_id(struct cw_client *c, uint32_t guest_id);
/* Releases an object whose host id the compositor retired with delete_id. */
void cw_client_host_delete_id(struct cw_client *c, uint32_t host_id);

struct cw_global *cw_client_find_global(struct cw_client *c, uint32_t name);
int cw_client_add_global(struct cw_client *c, uint32_t name, const struct cw_iface *iface,
	uint32_t version);

/* Outcome of relaying one message. */
enum cw_step {
	CW_STEP_DONE,    /* one message handled */
	CW_STEP_WAIT,    /* need more input */
	CW_STEP_BLOCKED, /* the other side's output is full */
	CW_STEP_STOP,    /* the client is going down */
};
enum cw_step cw_relay_request(struct cw_client *c);
enum cw_step cw_relay_event(struct cw_client *c);

void cw_client_set_state(struct cw_client *c, enum cw_client_state s);
/* The compositor side failed: logs, tells the app (implementation error), drains. */
void cw_client_host_failure(struct cw_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct cw_object *cw_client_object_new(struct cw_client *c, const struct cw_iface *iface,
	uint32_t version);
/* Frees the object once neither side refers to it. */
void cw_client_object_release(struct cw_client *c, struct cw_object *o);
void cw_client_object_unmap_guest(struct cw_client *c, struct cw_object *o);
void cw_client_object_unmap_host(struct cw_client *c, struct cw_object *o);

/* virtio-gpu upstream (upstream_gpu.c). */
bool cw_client_gpu_flush(struct cw_client *c);
size_t cw_client_gpu_want(struct cw_client *c, struct pollfd *pfd, size_t cap);
void cw_client_gpu_read(struct cw_client *c, const struct pollfd *pfd, size_t n);
void cw_client_gpu_check_liveness(struct cw_client *c);
/* Milliseconds until the liveness check has something to do. */
int cw_client_gpu_timeout_ms(const struct cw_client *c);

/* Shadow buffers (hook_shm.c): frees every shadow, mapping and pool of the client;
 * called before the host connection or the gpu context goes away. */
void cw_shm_client_destroy(struct cw_client *c);

/* --trace output for one relayed message. */
void cw_trace_msg(const struct cw_client *c, const struct cw_relay *r, const char *note);

/* wl_display error codes (wayland.xml). */
enum {
	CW_DISPLAY_ERROR_INVALID_OBJECT = 0,
	CW_DISPLAY_ERROR_INVALID_METHOD = 1,
	CW_DISPLAY_ERROR_NO_MEMORY = 2,
	CW_DISPLAY_ERROR_IMPLEMENTATION = 3,
};

#endif
