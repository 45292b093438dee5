/* Runtime view of the protocols crossway relays: one struct cw_iface per interface in
 * the XML files of protocols/, built once at start-up from the wayland-scanner tables and the
 * generated index (destructor flags, hooks). Read-only after cw_proto_init(). */
#ifndef CW_PROXY_PROTO_H
#define CW_PROXY_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <wayland-util.h>

#define CW_MAX_ARGS 20 /* libwayland's WL_CLOSURE_MAX_ARGS */

struct cw_client;
struct cw_relay;
struct cw_iface;

enum cw_hook_result {
	CW_HOOK_FORWARD, /* relay the (possibly rewritten) message */
	CW_HOOK_DROP,    /* consumed; fds already taken care of by the hook */
	CW_HOOK_ERROR,   /* the hook reported an error; the client is going down */
	CW_HOOK_BLOCKED, /* nothing done: output is full, retry once it drains */
	CW_HOOK_WAIT,    /* nothing done: retry after the compositor releases something */
};

typedef enum cw_hook_result (*cw_hook_fn)(struct cw_client *c, struct cw_relay *r);

struct cw_arg_desc {
	char type;                   /* one of i u f s o n a h */
	bool nullable;
	const struct cw_iface *iface; /* for o and n; NULL = any (o) or named by args (n) */
};

struct cw_msg_desc {
	const char *name;
	uint32_t since;
	uint32_t nargs;
	uint32_t nfds;
	bool destructor;
	bool has_ids; /* any o or n argument: the relay has ids to rewrite */
	bool scalar_only; /* only i, u and f arguments: fixed size, nothing to check inside */
	cw_hook_fn hook;
	struct cw_arg_desc args[CW_MAX_ARGS];
};

struct cw_iface {
	const char *name;
	uint32_t version; /* the highest version crossway knows */
	uint32_t nreq, nevt;
	const struct cw_msg_desc *req, *evt;
	const struct wl_interface *wl;
};

/* Generated from protocols/ by build/protocols/index.c. */
struct cw_proto_entry {
	const struct wl_interface *wl;
	const char *req_destructors; /* one char per request: 'd' destructor, '.' not */
	const char *evt_destructors;
	const cw_hook_fn *req_hooks;  /* NULL or one entry per request */
	const cw_hook_fn *evt_hooks;
};
extern const struct cw_proto_entry cw_proto_index[];
extern const unsigned cw_proto_index_len;

/* Builds the tables; returns 0, or -1 if the generated data is inconsistent. */
int cw_proto_init(void);
const struct cw_iface *cw_proto_find(const char *name);
const struct cw_iface *cw_proto_find_wl(const struct wl_interface *wl);
const struct cw_iface *cw_proto_wl_display(void);
unsigned cw_proto_count(void);
const struct cw_iface *cw_proto_at(unsigned i);

#endif
