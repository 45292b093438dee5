/* Hooks for wl_display and wl_registry: id retirement (delete_id), compositor errors,
 * and the registry filter that hides unknown globals and clamps versions. */
#include <string.h>

#include "protocols/hooks.h"
#include "proxy/private.h"
#include "util/log.h"

enum cw_hook_result cw_hook_wl_display_evt_error(struct cw_client *c, struct cw_relay *r)
{
	cw_clog(c->id, CW_LOG_WARN, "compositor protocol error on %s@%u (app id %u), code %u: %s",
		r->objs[0] ? r->objs[0]->iface->name : "unknown", r->msg.args[0].u, r->out_ids[0],
		r->msg.args[1].u, r->msg.args[2].s);
	if (r->out_ids[0] == 0) {
		/* The object is gone on the guest side; blame the display, never drop it. */
		r->out_ids[0] = 1;
		r->unresolved = false;
	}
	c->host_failed = true;
	return CW_HOOK_FORWARD;
}

enum cw_hook_result cw_hook_wl_display_evt_delete_id(struct cw_client *c, struct cw_relay *r)
{
	cw_client_host_delete_id(c, r->msg.args[0].u);
	return CW_HOOK_DROP;
}

enum cw_hook_result cw_hook_wl_registry_evt_global(struct cw_client *c, struct cw_relay *r)
{
	uint32_t name = r->msg.args[0].u;
	const char *iface_name = r->msg.args[1].s;
	uint32_t version = r->msg.args[2].u;
	const struct cw_iface *iface = cw_proto_find(iface_name);
	if (!iface) {
		cw_clog(c->id, CW_LOG_DEBUG, "hiding global %u (%s v%u): unknown interface", name,
			iface_name, version);
		return CW_HOOK_DROP;
	}
	if (version == 0) {
		cw_clog(c->id, CW_LOG_WARN, "compositor advertised %s with version 0; hidden",
			iface_name);
		return CW_HOOK_DROP;
	}
	uint32_t shown = version < iface->version ? version : iface->version;
	if (cw_client_add_global(c, name, iface, shown) < 0) {
		cw_clog(c->id, CW_LOG_ERROR, "out of memory; hiding global %s", iface_name);
		return CW_HOOK_DROP;
	}
	if (shown != version) {
		cw_clog(c->id, CW_LOG_DEBUG, "global %u %s: version %u clamped to %u", name,
			iface_name, version, shown);
		cw_msg_set_word(r->bytes, r->msg.word[2], shown);
		r->msg.args[2].u = shown;
	}
	return CW_HOOK_FORWARD;
}

enum cw_hook_result cw_hook_wl_registry_evt_global_remove(struct cw_client *c,
	struct cw_relay *r)
{
	struct cw_global *g = cw_client_find_global(c, r->msg.args[0].u);
	if (!g) {
		return CW_HOOK_DROP; /* the client never saw it */
	}
	g->removed = true;
	return CW_HOOK_FORWARD;
}

/* Mirrors libwayland's registry_bind checks and wording. */
enum cw_hook_result cw_hook_wl_registry_req_bind(struct cw_client *c, struct cw_relay *r)
{
	uint32_t name = r->msg.args[0].u;
	const char *iface = r->msg.args[1].s ? r->msg.args[1].s : "(null)";
	uint32_t version = r->msg.args[2].u;
	uint32_t reg = r->msg.hdr.id;
	struct cw_global *g = cw_client_find_global(c, name);

	if (!g) {
		cw_client_post_error(c, reg, CW_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid global %s (%u)", iface, name);
		return CW_HOOK_ERROR;
	}
	if (strcmp(g->iface->name, iface) != 0) {
		cw_client_post_error(c, reg, CW_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid interface for global %u: have %s, wanted %s", name, iface,
			g->iface->name);
		return CW_HOOK_ERROR;
	}
	if (version == 0) {
		cw_client_post_error(c, reg, CW_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid version for global %s (%u): 0 is not a valid version", iface, name);
		return CW_HOOK_ERROR;
	}
	if (version > g->version) {
		cw_client_post_error(c, reg, CW_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid version for global %s (%u): have %u, wanted %u", iface, name,
			g->version, version);
		return CW_HOOK_ERROR;
	}
	return CW_HOOK_FORWARD;
}
