/* The daemon's configuration, filled once from flags and CROSSWAY_* variables and then
 * passed around read-only. */
#ifndef CW_PROXY_CONFIG_H
#define CW_PROXY_CONFIG_H

#include <stdbool.h>

struct cw_config {
	char *upstream_path; /* owned: absolute path of the compositor socket (direct mode) */
	char *virtgpu_device; /* owned: render node (virtio-gpu mode), NULL in direct mode */
	unsigned cross_domain_ids; /* identifiers per SEND the host expects: 28 or 4 */
	int host_timeout_ms;  /* an unanswered request this old means the host is dead */
	char *socket_path;   /* owned: absolute path of our listening socket */
	/* Guest wl_shm buffers are copied into crossway's own shadow buffers instead of
	 * passing the app's pool fd (forced in virtio-gpu mode). */
	bool shm_copy;
	bool no_fork;
	bool trace;
	int verbosity; /* 0 warnings, 1 info, 2+ debug */
	unsigned busy_poll_us; /* poll without sleeping this long after activity; 0 = never */
	char **program; /* borrowed from argv: PROGRAM ARGS... or NULL */
};

#endif
