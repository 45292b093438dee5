/* One guest client connection and its upstream connection: the relay state machine.
 * The event loop owns the poll set; it asks each client which events it wants and
 * hands back what poll() reported. */
#ifndef CW_PROXY_CLIENT_H
#define CW_PROXY_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

struct cw_client;
struct cw_config;
struct cw_gpu;

/* Takes ownership of both fds and of gpu. The upstream is the socket host_fd (direct
 * mode) or the cross-domain context gpu (virtio-gpu mode). With neither (host_fd -1,
 * gpu NULL) the upstream could not be reached: the app is told why (host_error) and
 * disconnected. */
struct cw_client *cw_client_create(unsigned id, int guest_fd, int host_fd, struct cw_gpu *gpu,
	const char *host_error, const struct cw_config *cfg);
void cw_client_destroy(struct cw_client *c);

/* The most poll entries cw_client_want fills. */
size_t cw_client_max_pollfds(const struct cw_client *c);
/* Fills pfd (the app's socket first) with fds and wanted events; returns the count. */
size_t cw_client_want(struct cw_client *c, struct pollfd *pfd, size_t cap);
/* Handles what poll() returned for the entries filled by cw_client_want. Returns the
 * number of message bytes relayed (both directions). */
size_t cw_client_dispatch(struct cw_client *c, const struct pollfd *pfd, size_t n);
/* Milliseconds until the client has a deadline (draining, host liveness), or -1. */
int cw_client_timeout_ms(const struct cw_client *c);
bool cw_client_is_dead(const struct cw_client *c);

#endif
