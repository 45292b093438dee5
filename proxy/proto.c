/* Builds the runtime protocol tables from wayland-scanner's wl_interface data and the
 * generated index. Signatures are parsed once here so the relay never re-parses a
 * signature string per message. */
#include <stdlib.h>
#include <string.h>

#include "proxy/proto.h"
#include "util/log.h"

static struct cw_iface *ifaces;
static unsigned n_ifaces;
static const struct cw_iface *display_iface;

static int parse_signature(const struct wl_message *m, struct cw_msg_desc *d, const char *iface)
{
	const char *s = m->signature;
	*d = (struct cw_msg_desc){ .name = m->name, .since = 1, .scalar_only = true };
	if (*s >= '0' && *s <= '9') {
		d->since = (uint32_t)strtoul(s, (char **)&s, 10);
	}
	bool nullable = false;
	for (; *s; s++) {
		if (*s == '?') {
			nullable = true;
			continue;
		}
		if (!strchr("iufsonah", *s) || d->nargs >= CW_MAX_ARGS) {
			cw_log(CW_LOG_ERROR, "bad signature '%s' for %s.%s", m->signature, iface,
				m->name);
			return -1;
		}
		struct cw_arg_desc *a = &d->args[d->nargs];
		a->type = *s;
		a->nullable = nullable;
		if (*s == 'o' || *s == 'n') {
			const struct wl_interface *t = m->types[d->nargs];
			d->has_ids = true;
			if (t) {
				a->iface = cw_proto_find_wl(t);
				if (!a->iface) {
					cw_log(CW_LOG_ERROR, "%s.%s refers to unknown interface %s",
						iface, m->name, t->name);
					return -1;
				}
			}
		}
		if (*s == 'h') {
			d->nfds++;
		}
		if (*s != 'i' && *s != 'u' && *s != 'f') {
			d->scalar_only = false;
		}
		d->nargs++;
		nullable = false;
	}
	return 0;
}

static int build_messages(const struct wl_message *msgs, int count, const char *destructors,
	const cw_hook_fn *hooks, struct cw_msg_desc *out, const char *iface)
{
	if (destructors == NULL || strlen(destructors) != (size_t)count) {
		cw_log(CW_LOG_ERROR, "index and tables disagree for %s", iface);
		return -1;
	}
	for (int i = 0; i < count; i++) {
		if (parse_signature(&msgs[i], &out[i], iface) < 0) {
			return -1;
		}
		out[i].destructor = destructors[i] == 'd';
		out[i].hook = hooks ? hooks[i] : NULL;
	}
	return 0;
}

int cw_proto_init(void)
{
	if (ifaces) {
		return 0;
	}
	n_ifaces = cw_proto_index_len;
	ifaces = calloc(n_ifaces, sizeof(*ifaces));
	if (!ifaces) {
		return -1;
	}
	/* First pass: names, so that signature parsing can resolve interface pointers. */
	for (unsigned i = 0; i < n_ifaces; i++) {
		const struct wl_interface *wl = cw_proto_index[i].wl;
		ifaces[i] = (struct cw_iface){
			.name = wl->name,
			.version = (uint32_t)wl->version,
			.nreq = (uint32_t)wl->method_count,
			.nevt = (uint32_t)wl->event_count,
			.wl = wl,
		};
	}
	for (unsigned i = 0; i < n_ifaces; i++) {
		const struct cw_proto_entry *e = &cw_proto_index[i];
		struct cw_iface *f = &ifaces[i];
		struct cw_msg_desc *req = calloc(f->nreq + 1, sizeof(*req));
		struct cw_msg_desc *evt = calloc(f->nevt + 1, sizeof(*evt));
		f->req = req;
		f->evt = evt;
		if (!req || !evt) {
			return -1;
		}
		if (build_messages(e->wl->methods, e->wl->method_count, e->req_destructors,
			    e->req_hooks, req, f->name) < 0 ||
			build_messages(e->wl->events, e->wl->event_count, e->evt_destructors,
				e->evt_hooks, evt, f->name) < 0) {
			return -1;
		}
	}
	display_iface = cw_proto_find("wl_display");
	return display_iface ? 0 : -1;
}

const struct cw_iface *cw_proto_find(const char *name)
{
	for (unsigned i = 0; i < n_ifaces; i++) {
		if (strcmp(ifaces[i].name, name) == 0) {
			return &ifaces[i];
		}
	}
	return NULL;
}

const struct cw_iface *cw_proto_find_wl(const struct wl_interface *wl)
{
	for (unsigned i = 0; i < n_ifaces; i++) {
		if (ifaces[i].wl == wl) {
			return &ifaces[i];
		}
	}
	/* The same interface may be declared by several generated files. */
	return cw_proto_find(wl->name);
}

const struct cw_iface *cw_proto_wl_display(void)
{
	return display_iface;
}

unsigned cw_proto_count(void)
{
	return n_ifaces;
}

const struct cw_iface *cw_proto_at(unsigned i)
{
	return i < n_ifaces ? &ifaces[i] : NULL;
}
