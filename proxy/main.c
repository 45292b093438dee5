/* crossway: the Wayland compositor guest apps see. Parses flags and CROSSWAY_*
 * variables into one read-only struct cw_config, sets up the listening socket and
 * runs the accept loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proxy/config.h"
#include "proxy/proto.h"
#include "proxy/server.h"
#include "shm/shm.h"
#include "util/log.h"
#include "virtgpu/virtgpu.h"

#ifndef CW_VERSION
#define CW_VERSION "0.1.0"
#endif

#define CW_BUSY_POLL_US_DEFAULT 100
#define CW_BUSY_POLL_US_MAX 100000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: crossway [OPTIONS] [-- PROGRAM [ARGS...]]\n"
		"Wayland proxy: apps connect to crossway's socket; crossway relays to a compositor.\n"
		"\n"
		"      --virtgpu[=DEVICE]   relay through a virtio-gpu cross-domain context\n"
		"                           [CROSSWAY_VIRTGPU; DEVICE default: the first capable\n"
		"                           /dev/dri/renderD*; used by default when one exists]\n"
		"      --cross-domain-ids=N identifiers per message the host expects: 28, or 4\n"
		"                           for hosts from before 2024 [CROSSWAY_CROSS_DOMAIN_IDS]\n"
		"      --host-timeout=SEC   give up on a host that leaves a request unanswered\n"
		"                           [CROSSWAY_HOST_TIMEOUT; default 30]\n"
		"      --shm=MODE           wl_shm buffers: copy (into shadow buffers, damage\n"
		"                           only) or passthrough (the app's fd; direct mode only)\n"
		"                           [CROSSWAY_SHM; default passthrough, copy with virtio-gpu]\n"
		"  -d, --display NAME|PATH  compositor socket to relay to (direct mode)\n"
		"                           [CROSSWAY_DISPLAY; default $WAYLAND_DISPLAY when\n"
		"                           there is no virtio-gpu]\n"
		"  -s, --socket NAME|PATH   socket to listen on, NAME under $XDG_RUNTIME_DIR\n"
		"                           [CROSSWAY_SOCKET; default wayland-0]\n"
		"      --no-fork            serve all clients in one process [CROSSWAY_NO_FORK=1]\n"
		"  -v, --verbose            more messages; twice for debug [CROSSWAY_VERBOSE=N]\n"
		"      --trace              log every relayed message [CROSSWAY_TRACE=1]\n"
		"      --busy-poll-us N     after relaying, poll N us without sleeping to cut\n"
		"                           round-trip latency; 0 disables [CROSSWAY_BUSY_POLL_US;\n"
		"                           default %u]\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n"
		"\n"
		"With -- PROGRAM, crossway runs PROGRAM with WAYLAND_DISPLAY set to its socket\n"
		"and exits with PROGRAM's exit status. See crossway(1).\n", CW_BUSY_POLL_US_DEFAULT);
}

static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0 && strcmp(v, "no") != 0 && strcmp(v, "false") != 0;
}

/* NAME -> $XDG_RUNTIME_DIR/NAME; an absolute PATH stays. NULL (logged) on failure. */
static char *runtime_path(const char *what, const char *name)
{
	if (name[0] == '/') {
		return strdup(name);
	}
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if (!rt || !*rt) {
		cw_log(CW_LOG_ERROR, "XDG_RUNTIME_DIR is not set; give the %s as an absolute path",
			what);
		return NULL;
	}
	size_t n = strlen(rt) + 1 + strlen(name) + 1;
	char *p = malloc(n);
	if (p) {
		snprintf(p, n, "%s/%s", rt, name);
	}
	return p;
}

static bool same_socket(const char *a, const char *b)
{
	if (strcmp(a, b) == 0) {
		return true;
	}
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
		sa.st_ino == sb.st_ino;
}

static bool is_auto(const char *v)
{
	return strcmp(v, "auto") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0;
}

/* Chooses the upstream and says which and why in one line:
 * --virtgpu (or CROSSWAY_VIRTGPU) forces virtio-gpu, --display (or CROSSWAY_DISPLAY)
 * forces direct mode; otherwise a capable virtio-gpu wins over $WAYLAND_DISPLAY. */
static int select_upstream(struct cw_config *cfg, const char *virtgpu, const char *display)
{
	struct cw_gpu_why why = { "" };
	char path[64];
	bool forced_gpu = virtgpu && *virtgpu && strcmp(virtgpu, "0") != 0 &&
		strcmp(virtgpu, "no") != 0;
	bool forced_direct = display && *display;
	if (forced_gpu && forced_direct) {
		cw_log(CW_LOG_ERROR, "--virtgpu and --display exclude each other");
		return -1;
	}
	if (forced_gpu) {
		int r = is_auto(virtgpu) ? cw_gpu_find(path, sizeof(path), &why)
					 : cw_gpu_probe(virtgpu, &why);
		if (r < 0) {
			cw_log(CW_LOG_ERROR, "virtio-gpu requested but unusable: %s", why.text);
			return -1;
		}
		cfg->virtgpu_device = strdup(is_auto(virtgpu) ? path : virtgpu);
		cw_log_line("upstream: virtio-gpu cross-domain context on %s (requested; %u "
			"identifiers per message)", cfg->virtgpu_device, cfg->cross_domain_ids);
		return cfg->virtgpu_device ? 0 : -1;
	}
	if (!forced_direct && cw_gpu_find(path, sizeof(path), &why) == 0) {
		cfg->virtgpu_device = strdup(path);
		cw_log_line("upstream: virtio-gpu cross-domain context on %s (found a capable "
			"render node; %u identifiers per message)", path, cfg->cross_domain_ids);
		return cfg->virtgpu_device ? 0 : -1;
	}
	const char *reason = forced_direct ? "requested" : "no usable virtio-gpu";
	if (!forced_direct) {
		display = getenv("WAYLAND_DISPLAY");
	}
	if (!display || !*display) {
		cw_log(CW_LOG_ERROR, "no compositor to relay to: no usable virtio-gpu (%s), and "
			"neither --display nor WAYLAND_DISPLAY is set", why.text);
		return -1;
	}
	cfg->upstream_path = runtime_path("compositor socket", display);
	if (!cfg->upstream_path) {
		return -1;
	}
	if (same_socket(cfg->upstream_path, cfg->socket_path)) {
		cw_log(CW_LOG_ERROR,
			"the compositor socket %s is crossway's own socket; choose another with "
			"--socket or --display", cfg->upstream_path);
		return -1;
	}
	cw_log_line("upstream: compositor socket %s (direct mode: %s%s%s)", cfg->upstream_path,
		reason, forced_direct ? "" : ": ", forced_direct ? "" : why.text);
	return 0;
}

enum {
	OPT_NO_FORK = 256,
	OPT_TRACE,
	OPT_BUSY_POLL,
	OPT_VIRTGPU,
	OPT_IDS,
	OPT_HOST_TIMEOUT,
	OPT_SHM,
};

/* --shm: copy is the only way across a VM boundary; passthrough is direct mode's
 * default (the compositor maps the app's pool, no copy). */
static int select_shm_mode(struct cw_config *cfg, const char *mode)
{
	bool gpu = cfg->virtgpu_device != NULL;
	if (!mode || !*mode) {
		cfg->shm_copy = gpu;
	} else if (strcmp(mode, "copy") == 0) {
		cfg->shm_copy = true;
	} else if (strcmp(mode, "passthrough") == 0) {
		if (gpu) {
			cw_log(CW_LOG_ERROR, "--shm=passthrough needs direct mode: guest memory cannot "
				"be shared with the host over virtio-gpu");
			return -1;
		}
		cfg->shm_copy = false;
	} else {
		cw_log(CW_LOG_ERROR, "--shm takes copy or passthrough, not '%s'", mode);
		return -1;
	}
	cw_log(CW_LOG_INFO, "wl_shm buffers: %s", cfg->shm_copy ?
		"copied into shadow buffers (damaged regions only)" : "passed through");
	return 0;
}

/* Parses a non-negative integer no larger than max; -1 if it is not one. */
static long parse_uint(const char *s, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max) {
		return -1;
	}
	return v;
}

int main(int argc, char **argv)
{
	struct cw_config cfg = { 0 };
	const char *display = getenv("CROSSWAY_DISPLAY");
	const char *socket_name = getenv("CROSSWAY_SOCKET");
	cfg.no_fork = env_flag("CROSSWAY_NO_FORK");
	cfg.trace = env_flag("CROSSWAY_TRACE");
	if (getenv("CROSSWAY_VERBOSE")) {
		cfg.verbosity = atoi(getenv("CROSSWAY_VERBOSE"));
	}
	const char *busy_poll = getenv("CROSSWAY_BUSY_POLL_US");
	const char *virtgpu = getenv("CROSSWAY_VIRTGPU");
	const char *ids = getenv("CROSSWAY_CROSS_DOMAIN_IDS");
	const char *host_timeout = getenv("CROSSWAY_HOST_TIMEOUT");
	const char *shm_mode = getenv("CROSSWAY_SHM");

	static const struct option opts[] = {
		{ "display", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "no-fork", no_argument, NULL, OPT_NO_FORK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "busy-poll-us", required_argument, NULL, OPT_BUSY_POLL },
		{ "virtgpu", optional_argument, NULL, OPT_VIRTGPU },
		{ "cross-domain-ids", required_argument, NULL, OPT_IDS },
		{ "host-timeout", required_argument, NULL, OPT_HOST_TIMEOUT },
		{ "shm", required_argument, NULL, OPT_SHM },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool verbose_flag = false;
	int o;
	while ((o = getopt_long(argc, argv, "+d:s:vhV", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			display = optarg;
			break;
		case 's':
			socket_name = optarg;
			break;
		case OPT_NO_FORK:
			cfg.no_fork = true;
			break;
		case 'v':
			if (!verbose_flag) {
				cfg.verbosity = 0;
				verbose_flag = true;
			}
			cfg.verbosity++;
			break;
		case OPT_TRACE:
			cfg.trace = true;
			break;
		case OPT_BUSY_POLL:
			busy_poll = optarg;
			break;
		case OPT_VIRTGPU:
			virtgpu = optarg ? optarg : "auto";
			break;
		case OPT_IDS:
			ids = optarg;
			break;
		case OPT_HOST_TIMEOUT:
			host_timeout = optarg;
			break;
		case OPT_SHM:
			shm_mode = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("crossway %s\n", CW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		cfg.program = &argv[optind];
	}
	cw_log_set_level(cfg.verbosity >= 2 ? CW_LOG_DEBUG
				: cfg.verbosity == 1 ? CW_LOG_INFO : CW_LOG_WARN);

	cfg.busy_poll_us = CW_BUSY_POLL_US_DEFAULT;
	if (busy_poll && *busy_poll) {
		long v = parse_uint(busy_poll, CW_BUSY_POLL_US_MAX);
		if (v < 0) {
			cw_log(CW_LOG_ERROR, "--busy-poll-us takes microseconds from 0 to %d, not '%s'",
				CW_BUSY_POLL_US_MAX, busy_poll);
			return 2;
		}
		cfg.busy_poll_us = (unsigned)v;
	}
	cfg.cross_domain_ids = 28;
	if (ids && *ids) {
		long v = parse_uint(ids, 28);
		if (v != 4 && v != 28) {
			cw_log(CW_LOG_ERROR, "--cross-domain-ids takes 28 or 4, not '%s'", ids);
			return 2;
		}
		cfg.cross_domain_ids = (unsigned)v;
	}
	cfg.host_timeout_ms = 30000;
	if (host_timeout && *host_timeout) {
		long v = parse_uint(host_timeout, 3600);
		if (v < 1) {
			cw_log(CW_LOG_ERROR, "--host-timeout takes seconds from 1 to 3600, not '%s'",
				host_timeout);
			return 2;
		}
		cfg.host_timeout_ms = (int)v * 1000;
	}
	if (!socket_name || !*socket_name) {
		socket_name = "wayland-0";
	}
	cfg.socket_path = runtime_path("listening socket", socket_name);
	if (!cfg.socket_path || select_upstream(&cfg, virtgpu, display) < 0) {
		return 1;
	}
	if (select_shm_mode(&cfg, shm_mode) < 0) {
		free(cfg.upstream_path);
		free(cfg.virtgpu_device);
		free(cfg.socket_path);
		return 2;
	}
	if (cfg.shm_copy && cw_shm_sigbus_install() < 0) {
		cw_log_errno(CW_LOG_ERROR, "cannot install the SIGBUS handler for app pools");
		return 1;
	}
	if (cw_proto_init() < 0) {
		cw_log(CW_LOG_ERROR, "protocol tables are inconsistent (build problem)");
		return 1;
	}

	struct cw_server *s = cw_server_create(&cfg);
	if (!s) {
		return 1;
	}
	int status = 0;
	if (cfg.program && cw_server_spawn(s, cfg.program) < 0) {
		status = 1;
	} else {
		status = cw_server_run(s);
	}
	cw_server_destroy(s);
	free(cfg.upstream_path);
	free(cfg.virtgpu_device);
	free(cfg.socket_path);
	return status;
}
