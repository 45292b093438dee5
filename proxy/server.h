/* The listening side of the daemon: the socket and its lock file, the accept loop,
 * per-client processes (or, with --no-fork, all clients in one poll loop), signals. */
#ifndef CW_PROXY_SERVER_H
#define CW_PROXY_SERVER_H

#include <sys/types.h>

struct cw_config;
struct cw_server;

/* Locks and binds the socket; signals are routed to the server from here on. Logs and
 * returns NULL on failure. */
struct cw_server *cw_server_create(const struct cw_config *cfg);
/* Removes the socket and lock file, ends per-client processes. Accepts NULL. */
void cw_server_destroy(struct cw_server *s);
/* Starts PROGRAM with WAYLAND_DISPLAY pointing at the server; the run loop ends when
 * it exits. Returns 0 or -1. */
int cw_server_spawn(struct cw_server *s, char **argv);
/* Serves until SIGTERM/SIGINT or until the spawned program exits. Returns the process
 * exit status: 0, 1 on failure, or the program's status. */
int cw_server_run(struct cw_server *s);

#endif
