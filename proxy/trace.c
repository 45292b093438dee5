/* --trace: one line per relayed message, in WAYLAND_DEBUG's style, with the ids of both
 * sides: "app#7/host#12". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proxy/private.h"
#include "util/log.h"

static size_t put(char *buf, size_t cap, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t put(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
	if (off >= cap) {
		return off;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + off, cap - off, fmt, ap);
	va_end(ap);
	return n < 0 ? off : off + (size_t)n;
}

void cw_trace_msg(const struct cw_client *c, const struct cw_relay *r, const char *note)
{
	char buf[2048];
	size_t off = 0;
	struct timespec ts;
	const struct cw_msg_desc *d = r->msg.desc;
	const struct cw_object *t = r->target;
	uint32_t in_id = r->msg.hdr.id;
	uint32_t out_id = r->from_guest ? t->host_id : t->guest_id;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	off = put(buf, sizeof(buf), off, "[%7lld.%03ld] client %u %s %s@%u/%u.%s(",
		(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, (ts.tv_nsec / 1000) % 1000, c->id,
		r->from_guest ? "app ->" : "app <-", t->iface->name, r->from_guest ? in_id : out_id,
		r->from_guest ? out_id : in_id, d->name);
	for (uint32_t i = 0; i < d->nargs; i++) {
		const union cw_arg *v = &r->msg.args[i];
		const struct cw_arg_desc *a = &d->args[i];
		uint32_t g = r->from_guest ? v->u : r->out_ids[i];
		uint32_t h = r->from_guest ? r->out_ids[i] : v->u;
		if (i) {
			off = put(buf, sizeof(buf), off, ", ");
		}
		switch (a->type) {
		case 'i':
			off = put(buf, sizeof(buf), off, "%d", v->i);
			break;
		case 'u':
			off = put(buf, sizeof(buf), off, "%u", v->u);
			break;
		case 'f':
			off = put(buf, sizeof(buf), off, "%f", v->i / 256.0);
			break;
		case 's':
			off = v->s ? put(buf, sizeof(buf), off, "\"%.200s\"", v->s)
				   : put(buf, sizeof(buf), off, "nil");
			break;
		case 'a':
			off = put(buf, sizeof(buf), off, "array[%u]", v->a.size);
			break;
		case 'h':
			off = put(buf, sizeof(buf), off, "fd");
			break;
		case 'o':
			if (v->u == 0) {
				off = put(buf, sizeof(buf), off, "nil");
			} else {
				off = put(buf, sizeof(buf), off, "%s@%u/%u",
					r->objs[i] ? r->objs[i]->iface->name : "[unknown]", g, h);
			}
			break;
		case 'n':
			off = put(buf, sizeof(buf), off, "new id %s@%u/%u",
				a->iface ? a->iface->name : (i >= 2 && r->msg.args[i - 2].s ?
					r->msg.args[i - 2].s : "[unknown]"), g, h);
			break;
		}
	}
	off = put(buf, sizeof(buf), off, ")%s%s", note ? " " : "", note ? note : "");
	(void)off;
	cw_log_line("%s", buf);
}
