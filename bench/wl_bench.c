/*
 * Relay-core benchmark client (not a test): measures wl_display.sync round-trip latency and
 * one-way request throughput against whatever WAYLAND_DISPLAY names (a compositor directly, or
 * a proxy in front of one). Uses only libwayland-client; prints key=value lines on stdout.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wayland-client.h>

/*
 * libwayland-client 1.21 keeps requests in a 4 KiB output buffer; when a marshalled request
 * does not fit it flushes, and if that flush hits EAGAIN the display is marked dead ("Error
 * sending request: Resource temporarily unavailable"). So the flood never lets the buffer
 * fill: it marshals FLOOD_BATCH requests (24 bytes each, 2400 bytes), then flushes until the
 * buffer is empty, waiting for POLLOUT whenever the peer is momentarily slow.
 */
#define FLOOD_BATCH 100
#define RTT_WARMUP_MAX 1000
#define FLOOD_WARMUP_MAX 50000
#define ERROR_DRAIN_TIMEOUT_MS 1000

struct bench {
	struct wl_display *display;       /* owned */
	struct wl_registry *registry;     /* owned */
	struct wl_compositor *compositor; /* owned; NULL until the global is seen */
	struct wl_region *region;         /* owned; target of the flood */
};

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Say why the connection failed, including a wl_display.error the peer sent before closing. */
static void report_failure(struct bench *b, const char *what) {
	int err = wl_display_get_error(b->display);
	if (err == 0) {
		/* A flush that failed with EPIPE does not read; an error event may still be queued. */
		struct pollfd pfd = { .fd = wl_display_get_fd(b->display), .events = POLLIN };
		if (poll(&pfd, 1, ERROR_DRAIN_TIMEOUT_MS) > 0) {
			wl_display_dispatch(b->display);
		}
		err = wl_display_get_error(b->display);
	}
	if (err == EPROTO) {
		const struct wl_interface *iface = NULL;
		uint32_t id = 0;
		uint32_t code = wl_display_get_protocol_error(b->display, &iface, &id);
		fprintf(stderr, "wl_bench: %s: protocol error %u on %s@%u\n", what, code,
			iface ? iface->name : "?", id);
	} else {
		fprintf(stderr, "wl_bench: %s: connection failed: %s\n", what,
			strerror(err ? err : errno));
	}
	printf("failed=%s\n", what);
	fflush(stdout);
}

static void handle_sync_done(void *data, struct wl_callback *cb, uint32_t serial) {
	(void)serial;
	*(bool *)data = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener sync_listener = {
	.done = handle_sync_done,
};

/* One wl_display.sync and the wait for its done event; 0 or -1. */
static int sync_roundtrip(struct wl_display *display) {
	bool done = false;
	struct wl_callback *cb = wl_display_sync(display);
	if (!cb) {
		return -1;
	}
	wl_callback_add_listener(cb, &sync_listener, &done);
	while (!done) {
		/* dispatch flushes first and waits for POLLOUT itself on EAGAIN */
		if (wl_display_dispatch(display) < 0) {
			wl_callback_destroy(cb);
			return -1;
		}
	}
	return 0;
}

/* Flush until libwayland's output buffer is empty, riding out EAGAIN; 0 or -1. */
static int flush_all(struct wl_display *display, uint64_t *stalls) {
	for (;;) {
		if (wl_display_flush(display) >= 0) {
			return 0; /* >= 0 only once everything queued was sent */
		}
		if (errno != EAGAIN) {
			return -1;
		}
		(*stalls)++;
		struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLOUT };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			return -1;
		}
	}
}

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct bench *b = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0 && !b->compositor) {
		b->compositor = wl_registry_bind(registry, name, &wl_compositor_interface,
			version < 4 ? version : 4);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name) {
	(void)data;
	(void)registry;
	(void)name;
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double percentile_us(const uint64_t *sorted, size_t n, double pct) {
	size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
	if (rank < 1) {
		rank = 1;
	}
	if (rank > n) {
		rank = n;
	}
	return (double)sorted[rank - 1] / 1000.0;
}

static int run_rtt(struct bench *b, size_t n) {
	uint64_t *samples = calloc(n, sizeof(*samples));
	if (!samples) {
		fprintf(stderr, "wl_bench: rtt: out of memory\n");
		return -1;
	}
	size_t warmup = n / 10 < RTT_WARMUP_MAX ? n / 10 : RTT_WARMUP_MAX;
	for (size_t i = 0; i < warmup; i++) {
		if (sync_roundtrip(b->display) < 0) {
			report_failure(b, "rtt");
			free(samples);
			return -1;
		}
	}
	uint64_t sum_ns = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (sync_roundtrip(b->display) < 0) {
			report_failure(b, "rtt");
			free(samples);
			return -1;
		}
		samples[i] = now_ns() - t0;
		sum_ns += samples[i];
	}
	qsort(samples, n, sizeof(*samples), cmp_u64);
	printf("rtt_n=%zu\n", n);
	printf("rtt_p50_us=%.2f\n", percentile_us(samples, n, 50.0));
	printf("rtt_p99_us=%.2f\n", percentile_us(samples, n, 99.0));
	printf("rtt_mean_us=%.2f\n", (double)sum_ns / (double)n / 1000.0);
	printf("rtt_min_us=%.2f\n", (double)samples[0] / 1000.0);
	printf("rtt_max_us=%.2f\n", (double)samples[n - 1] / 1000.0);
	fflush(stdout);
	free(samples);
	return 0;
}

/*
 * The flood request is wl_region.add(0, 0, 1, 1) on one region, always the same rectangle.
 * It has no reply and no side effect outside the region, and its server-side cost is tiny and
 * constant: weston unions the rectangle into the region, and pixman's union fast path returns
 * at once when a single-rectangle region already contains the new one. wl_surface.damage would
 * also grow pending surface state and interact with commits; wl_region does neither.
 */
static int send_flood(struct bench *b, size_t n, uint64_t *stalls) {
	size_t sent = 0;
	while (sent < n) {
		size_t batch = n - sent < FLOOD_BATCH ? n - sent : FLOOD_BATCH;
		for (size_t i = 0; i < batch; i++) {
			wl_region_add(b->region, 0, 0, 1, 1);
		}
		sent += batch;
		if (flush_all(b->display, stalls) < 0) {
			return -1;
		}
	}
	return sync_roundtrip(b->display);
}

static int run_flood(struct bench *b, size_t n) {
	uint64_t stalls = 0;
	size_t warmup = n / 20 < FLOOD_WARMUP_MAX ? n / 20 : FLOOD_WARMUP_MAX;
	if (send_flood(b, warmup, &stalls) < 0) {
		report_failure(b, "flood");
		return -1;
	}
	stalls = 0;
	uint64_t t0 = now_ns();
	if (send_flood(b, n, &stalls) < 0) {
		report_failure(b, "flood");
		return -1;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	printf("flood_n=%zu\n", n);
	printf("flood_s=%.4f\n", secs);
	printf("flood_msgs_per_s=%.0f\n", (double)n / secs);
	printf("flood_eagain_waits=%llu\n", (unsigned long long)stalls);
	fflush(stdout);
	return 0;
}

static void usage(void) {
	fprintf(stderr, "usage: wl_bench MODE N [MODE N...]\n"
		"  rtt N     N wl_display.sync round trips; prints rtt_p50_us, rtt_p99_us, ...\n"
		"  flood N   N wl_region.add requests then one sync; prints flood_msgs_per_s\n"
		"Connects to $WAYLAND_DISPLAY. Exit status 1 if the connection fails.\n");
}

static bool parse_count(const char *s, size_t *out) {
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > SIZE_MAX / sizeof(uint64_t)) {
		return false;
	}
	*out = (size_t)v;
	return true;
}

int main(int argc, char *argv[]) {
	if (argc < 3 || (argc - 1) % 2 != 0) {
		usage();
		return 2;
	}
	for (int i = 1; i < argc; i += 2) {
		size_t n;
		if ((strcmp(argv[i], "rtt") != 0 && strcmp(argv[i], "flood") != 0) ||
				!parse_count(argv[i + 1], &n)) {
			usage();
			return 2;
		}
	}

	struct bench b = {0};
	b.display = wl_display_connect(NULL);
	if (!b.display) {
		fprintf(stderr, "wl_bench: cannot connect to the Wayland display: %s\n", strerror(errno));
		printf("failed=connect\n");
		return 1;
	}
	int ret = 1;
	b.registry = wl_display_get_registry(b.display);
	wl_registry_add_listener(b.registry, &registry_listener, &b);
	if (wl_display_roundtrip(b.display) < 0) {
		report_failure(&b, "registry");
		goto out;
	}
	if (!b.compositor) {
		fprintf(stderr, "wl_bench: no wl_compositor global\n");
		printf("failed=registry\n");
		goto out;
	}
	b.region = wl_compositor_create_region(b.compositor);

	for (int i = 1; i < argc; i += 2) {
		size_t n;
		parse_count(argv[i + 1], &n);
		int r = strcmp(argv[i], "rtt") == 0 ? run_rtt(&b, n) : run_flood(&b, n);
		if (r < 0) {
			goto out;
		}
	}
	ret = 0;

out:
	if (b.region) {
		wl_region_destroy(b.region);
	}
	if (b.compositor) {
		wl_compositor_destroy(b.compositor);
	}
	wl_registry_destroy(b.registry);
	if (ret == 0) {
		wl_display_flush(b.display);
	}
	wl_display_disconnect(b.display);
	return ret;
}
