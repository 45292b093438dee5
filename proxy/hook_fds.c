/* Hooks for read-only host memory sent to apps: keymaps and dmabuf format tables. In
 * virtio-gpu mode they arrive as host blobs, which some kernels cannot map partially
 * and which occupy the host-visible window; a sealed guest memfd copy avoids both.
 * In direct mode the compositor's fd passes unchanged. */
#include <errno.h>
#include <string.h>

#include "protocols/hooks.h"
#include "proxy/private.h"
#include "util/fd.h"
#include "util/log.h"

static enum cw_hook_result copy_fd_arg(struct cw_client *c, struct cw_relay *r,
	unsigned fd_arg, unsigned size_arg, const char *what)
{
	if (!c->gpu) {
		return CW_HOOK_FORWARD;
	}
	size_t idx = (size_t)r->msg.args[fd_arg].h;
	int copy = cw_fd_copy_sealed(cw_conn_in_fd(&c->host, idx), r->msg.args[size_arg].u, what);
	if (copy < 0) {
		cw_client_host_failure(c, "cannot copy the %s from the host (%u bytes): %s", what,
			r->msg.args[size_arg].u, strerror(errno));
		return CW_HOOK_ERROR;
	}
	cw_conn_replace_in_fd(&c->host, idx, copy);
	return CW_HOOK_FORWARD;
}

/* keymap(format u, fd h, size u) */
enum cw_hook_result cw_hook_wl_keyboard_evt_keymap(struct cw_client *c, struct cw_relay *r)
{
	return copy_fd_arg(c, r, 1, 2, "keymap");
}

/* format_table(fd h, size u) */
enum cw_hook_result cw_hook_zwp_linux_dmabuf_feedback_v1_evt_format_table(struct cw_client *c,
	struct cw_relay *r)
{
	return copy_fd_arg(c, r, 0, 1, "format table");
}
