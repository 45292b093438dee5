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

/* Takes ownership of both fds. host_fd may be -1 when the upstream could not be
 * reached: the guest is then told why (host_error) and disconnected. */
struct cw_client *cw_client_create(unsigned id, int guest_fd, int host_fd,
	const char *host_error, const struct cw_config *cfg);
void cw_client_destroy(struct cw_client *c);

/* Fills pfd[0] (guest) and pfd[1] (host) with fds and wanted events; fd -1 when none. */
void cw_client_want(struct cw_client *c, struct pollfd pfd[2]);
/* Handles what poll() returned for the two entries filled by cw_client_want. Returns
 * the number of message bytes relayed (both directions). */
size_t cw_client_dispatch(struct cw_client *c, const struct pollfd pfd[2]);
/* Milliseconds until the client has a deadline (draining), or -1. */
int cw_client_timeout_ms(const struct cw_client *c);
bool cw_client_is_dead(const struct cw_client *c);

#endif
