/* Accept loop. In the default mode each accepted connection gets its own process
 * (a crash or a leak in one app's relay cannot touch another's); --no-fork serves all
 * of them from this loop. Signals arrive through a signalfd so the loop never races. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/client.h"
#include "proxy/config.h"
#include "proxy/private.h"
#include "proxy/server.h"
#include "util/log.h"
#include "virtgpu/virtgpu.h"

#define CW_FIRST_REPLY_TIMEOUT_MS 5000 /* the first answer after INIT comes quickly */
#define CW_SPIN_MAX_BYTES 4096 /* more relayed per wake-up than this is bulk traffic */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct cw_server {
	const struct cw_config *cfg; /* borrowed */
	int listen_fd;               /* owned */
	int lock_fd;                 /* owned */
	int signal_fd;               /* owned */
	sigset_t old_mask;
	char *lock_path;             /* owned */
	bool bound;                  /* we created the socket file */
	unsigned next_client_id;
	struct cw_list clients;      /* cw_client.link, --no-fork only */
	pid_t *children;             /* owned: per-client processes */
	size_t nchildren, capchildren;
	pid_t program;               /* -- PROGRAM, or 0 */
	int program_status;
	bool program_done;
	bool stopping;
	int64_t spin_until_ns; /* CLOCK_MONOTONIC; 0 when not spinning */
};

static int make_signal_fd(struct cw_server *s)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &s->old_mask) < 0) {
		return -1;
	}
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return s->signal_fd < 0 ? -1 : 0;
}

struct cw_server *cw_server_create(const struct cw_config *cfg)
{
	struct cw_server *s = calloc(1, sizeof(*s));
	if (!s) {
		cw_log(CW_LOG_ERROR, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->listen_fd = s->lock_fd = s->signal_fd = -1;
	s->next_client_id = 1;
	cw_list_init(&s->clients);
	signal(SIGPIPE, SIG_IGN);
	if (make_signal_fd(s) < 0) {
		cw_log_errno(CW_LOG_ERROR, "cannot set up signal handling");
		goto err;
	}

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(cfg->socket_path) >= sizeof(addr.sun_path)) {
		cw_log(CW_LOG_ERROR, "socket path too long (max %zu bytes): %s",
			sizeof(addr.sun_path) - 1, cfg->socket_path);
		goto err;
	}
	strcpy(addr.sun_path, cfg->socket_path);
	size_t n = strlen(cfg->socket_path) + sizeof(".lock");
	s->lock_path = malloc(n);
	if (!s->lock_path) {
		goto err;
	}
	snprintf(s->lock_path, n, "%s.lock", cfg->socket_path);
	s->lock_fd = open(s->lock_path, O_CREAT | O_CLOEXEC | O_RDWR, 0660);
	if (s->lock_fd < 0) {
		cw_log_errno(CW_LOG_ERROR, "cannot open lock file %s", s->lock_path);
		free(s->lock_path);
		s->lock_path = NULL;
		goto err;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		cw_log(CW_LOG_ERROR, "socket %s is in use by another compositor or crossway",
			cfg->socket_path);
		close(s->lock_fd);
		s->lock_fd = -1;
		free(s->lock_path);
		s->lock_path = NULL; /* not ours to remove */
		goto err;
	}
	/* We hold the lock, so a socket left here is stale (as in libwayland). Anything
	 * else at that path is not ours to delete. */
	struct stat st;
	if (lstat(cfg->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			cw_log(CW_LOG_ERROR, "%s exists and is not a socket; not replacing it",
				cfg->socket_path);
			goto err;
		}
		if (unlink(cfg->socket_path) < 0) {
			cw_log_errno(CW_LOG_ERROR, "cannot remove stale socket %s", cfg->socket_path);
			goto err;
		}
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0) {
		cw_log_errno(CW_LOG_ERROR, "socket");
		goto err;
	}
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		cw_log_errno(CW_LOG_ERROR, "cannot bind %s", cfg->socket_path);
		goto err;
	}
	s->bound = true;
	if (listen(s->listen_fd, 128) < 0) {
		cw_log_errno(CW_LOG_ERROR, "cannot listen on %s", cfg->socket_path);
		goto err;
	}
	cw_log(CW_LOG_INFO, "listening on %s (%s)", cfg->socket_path,
		cfg->no_fork ? "one process for all clients" : "one process per client");
	return s;
err:
	cw_server_destroy(s);
	return NULL;
}

static void kill_children(struct cw_server *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		kill(s->children[i], SIGTERM);
	}
	if (s->program > 0 && !s->program_done) {
		kill(s->program, SIGTERM);
	}
}

void cw_server_destroy(struct cw_server *s)
{
	if (!s) {
		return;
	}
	struct cw_client *c, *tmp;
	cw_list_for_each_safe(c, tmp, &s->clients, link) {
		cw_list_remove(&c->link);
		cw_client_destroy(c);
	}
	kill_children(s);
	free(s->children);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
	}
	if (s->bound) {
		unlink(s->cfg->socket_path);
	}
	if (s->lock_path) {
		unlink(s->lock_path);
		free(s->lock_path);
	}
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
	}
	if (s->signal_fd >= 0) {
		close(s->signal_fd);
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	}
	free(s);
}

/* Connects to the compositor; on failure returns -1 and describes why in err. */
static int connect_upstream(const struct cw_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(cfg->upstream_path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "compositor socket path too long: %s", cfg->upstream_path);
		return -1;
	}
	strcpy(addr.sun_path, cfg->upstream_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "cannot connect to the compositor at %s: %s",
			cfg->upstream_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct cw_client *start_client(struct cw_server *s, unsigned id, int guest_fd)
{
	char err[400] = "";
	int host_fd = -1;
	struct cw_gpu *gpu = NULL;
	if (s->cfg->virtgpu_device) {
		struct cw_gpu_options opt = {
			.device = s->cfg->virtgpu_device,
			.max_ids = s->cfg->cross_domain_ids,
			.reply_timeout_ms = s->cfg->host_timeout_ms,
			.first_reply_timeout_ms = s->cfg->host_timeout_ms < CW_FIRST_REPLY_TIMEOUT_MS ?
				s->cfg->host_timeout_ms : CW_FIRST_REPLY_TIMEOUT_MS,
		};
		struct cw_gpu_why why;
		gpu = cw_gpu_create(&opt, &why);
		if (!gpu) {
			snprintf(err, sizeof(err), "cannot reach the host compositor: %s", why.text);
			cw_clog(id, CW_LOG_ERROR, "%s", err);
		} else {
			cw_clog(id, CW_LOG_INFO, "cross-domain context created on %s",
				s->cfg->virtgpu_device);
		}
	} else {
		host_fd = connect_upstream(s->cfg, err, sizeof(err));
		if (host_fd < 0) {
			cw_clog(id, CW_LOG_ERROR, "%s", err);
		} else {
			cw_clog(id, CW_LOG_INFO, "connected to the compositor");
		}
	}
	struct cw_client *c = cw_client_create(id, guest_fd, host_fd, gpu, err, s->cfg);
	if (!c) {
		cw_clog(id, CW_LOG_ERROR, "cannot create client: %s", strerror(errno));
	}
	return c;
}

/* Polls the given clients (and, in the parent, the listener and signals) once. */
static int poll_once(struct cw_server *s, bool with_listener)
{
	size_t nclients = 0, cap = 2;
	struct cw_client *c, *tmp;
	cw_list_for_each_safe(c, tmp, &s->clients, link) {
		nclients++;
		cap += cw_client_max_pollfds(c);
	}
	/* Per-client processes poll a handful of fds: no allocation on that path. */
	struct pollfd fixed[256];
	size_t fixed_counts[64];
	struct pollfd *pfd = fixed;
	size_t *counts = fixed_counts;
	if (cap > sizeof(fixed) / sizeof(fixed[0]) ||
		nclients > sizeof(fixed_counts) / sizeof(fixed_counts[0])) {
		pfd = malloc(cap * sizeof(*pfd));
		counts = malloc((nclients + 1) * sizeof(*counts));
		if (!pfd || !counts) {
			free(pfd);
			free(counts);
			return -1;
		}
	}
	size_t n = 0, k = 0;
	pfd[n++] = (struct pollfd){ .fd = s->signal_fd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = with_listener ? s->listen_fd : -1, .events = POLLIN };
	int timeout = -1;
	cw_list_for_each_safe(c, tmp, &s->clients, link) {
		counts[k] = cw_client_want(c, &pfd[n], cap - n);
		n += counts[k++];
		int t = cw_client_timeout_ms(c);
		if (t >= 0 && (timeout < 0 || t < timeout)) {
			timeout = t;
		}
	}
	/* Right after relaying, the reply is usually tens of microseconds away: poll
	 * without sleeping for a short while, which saves the wake-up latency of both
	 * directions on a round trip. Bounded, so an idle relay costs nothing. */
	int r = 0;
	if (s->spin_until_ns) {
		while ((r = poll(pfd, n, 0)) == 0 && now_ns() < s->spin_until_ns) {
		}
		s->spin_until_ns = 0;
	}
	if (r == 0) {
		r = poll(pfd, n, timeout);
	}
	if (r < 0 && errno != EINTR) {
		cw_log_errno(CW_LOG_ERROR, "poll");
		if (pfd != fixed) {
			free(pfd);
			free(counts);
		}
		return -1;
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			pfd[i].revents = 0;
		}
	}
	/* Clients first: the list may grow below. */
	size_t i = 2;
	size_t relayed = 0;
	k = 0;
	cw_list_for_each_safe(c, tmp, &s->clients, link) {
		relayed += cw_client_dispatch(c, &pfd[i], counts[k]);
		i += counts[k++];
		if (cw_client_is_dead(c)) {
			cw_clog(c->id, CW_LOG_INFO, "closed");
			cw_list_remove(&c->link);
			cw_client_destroy(c);
		}
	}
	/* Spin only for interactive traffic (a request waiting for its reply): during bulk
	 * transfers the other processes need the CPU more than we need the wake-up. */
	if (relayed > 0 && relayed < CW_SPIN_MAX_BYTES && s->cfg->busy_poll_us) {
		s->spin_until_ns = now_ns() + (int64_t)s->cfg->busy_poll_us * 1000;
	}
	short sig_rev = pfd[0].revents, listen_rev = pfd[1].revents;
	if (pfd != fixed) {
		free(pfd);
		free(counts);
	}
	return (sig_rev ? 1 : 0) | (listen_rev ? 2 : 0);
}

/* The body of a per-client process: serve one connection, then exit. */
static void run_child(struct cw_server *s, unsigned id, int guest_fd)
{
	close(s->listen_fd);
	s->listen_fd = -1;
	close(s->lock_fd);
	s->lock_fd = -1;
	s->bound = false;
	free(s->lock_path);
	s->lock_path = NULL;
	s->nchildren = 0;
	s->program = 0;
	struct cw_client *c = start_client(s, id, guest_fd);
	if (c) {
		cw_list_insert_tail(&s->clients, &c->link);
	}
	while (!cw_list_is_empty(&s->clients)) {
		int r = poll_once(s, false);
		if (r < 0) {
			break;
		}
		if (r & 1) {
			struct signalfd_siginfo si;
			while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					cw_clog(id, CW_LOG_INFO, "terminated");
					cw_server_destroy(s);
					_exit(0);
				}
			}
		}
	}
	cw_server_destroy(s);
	_exit(0);
}

static void add_child(struct cw_server *s, pid_t pid)
{
	if (s->nchildren == s->capchildren) {
		size_t ncap = s->capchildren ? s->capchildren * 2 : 16;
		pid_t *p = realloc(s->children, ncap * sizeof(*p));
		if (!p) {
			return; /* it still runs; it just is not signalled at shutdown */
		}
		s->children = p;
		s->capchildren = ncap;
	}
	s->children[s->nchildren++] = pid;
}

static void accept_clients(struct cw_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				errno != ECONNABORTED) {
				cw_log_errno(CW_LOG_WARN, "accept");
			}
			return;
		}
		unsigned id = s->next_client_id++;
		if (s->cfg->no_fork) {
			struct cw_client *c = start_client(s, id, fd);
			if (c) {
				cw_list_insert_tail(&s->clients, &c->link);
			}
			continue;
		}
		pid_t pid = fork();
		if (pid < 0) {
			cw_log_errno(CW_LOG_ERROR, "fork");
			close(fd);
			continue;
		}
		if (pid == 0) {
			run_child(s, id, fd);
		}
		cw_clog(id, CW_LOG_INFO, "accepted; served by process %d", (int)pid);
		add_child(s, pid);
		close(fd);
	}
}

static void reap(struct cw_server *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->program) {
			s->program_done = true;
			s->program_status = WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status);
			cw_log(CW_LOG_INFO, "program exited with status %d", s->program_status);
			continue;
		}
		for (size_t i = 0; i < s->nchildren; i++) {
			if (s->children[i] == pid) {
				s->children[i] = s->children[--s->nchildren];
				break;
			}
		}
		if (WIFSIGNALED(status)) {
			cw_log(CW_LOG_ERROR, "client process %d died from signal %d", (int)pid,
				WTERMSIG(status));
		}
	}
}

int cw_server_spawn(struct cw_server *s, char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		cw_log_errno(CW_LOG_ERROR, "fork");
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
		const char *rt = getenv("XDG_RUNTIME_DIR");
		const char *path = s->cfg->socket_path;
		size_t rl = rt ? strlen(rt) : 0;
		/* A bare name works with every libwayland; absolute paths need 1.15+. */
		if (rt && rl && strncmp(path, rt, rl) == 0 && path[rl] == '/' &&
			!strchr(path + rl + 1, '/')) {
			path += rl + 1;
		}
		setenv("WAYLAND_DISPLAY", path, 1);
		unsetenv("WAYLAND_SOCKET");
		execvp(argv[0], argv);
		fprintf(stderr, "crossway: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	s->program = pid;
	return 0;
}

int cw_server_run(struct cw_server *s)
{
	while (!s->stopping && !s->program_done) {
		int r = poll_once(s, true);
		if (r < 0) {
			return 1;
		}
		if (r & 1) {
			struct signalfd_siginfo si;
			while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					reap(s);
				} else {
					cw_log(CW_LOG_INFO, "signal %u: shutting down", si.ssi_signo);
					s->stopping = true;
				}
			}
		}
		if (r & 2) {
			accept_clients(s);
		}
	}
	return s->program_done ? s->program_status : 0;
}
