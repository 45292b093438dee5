/* Frame copy cost of shadow buffers (not a test): full-damage 1920x1080 and 3840x2160
 * ARGB8888 frames through cw_shm_copy_region against a plain memcpy of the same bytes,
 * and a frame with 1 % of its pixels damaged (eight rectangles, none full-width) against
 * the full frame, with cold and with warm caches. Prints key=value lines for bench/run. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"

#define DEFAULT_ROUNDS 31
#define MAX_ROUNDS 1001
#define DAMAGE_RECTS 8 /* each (3/80 of the width) x (1/30 of the height): 1 % in all */

/* Cold runs start every timed copy from caches emptied by reading twice the L3 size
 * (within these bounds), so that the small copy gets no help from the cache that a full
 * frame, which does not fit, lacks. */
#define MIN_SWEEP_BYTES ((size_t)64 << 20)
#define MAX_SWEEP_BYTES ((size_t)256 << 20)

enum mode { MODE_MEMCPY, MODE_FULL, MODE_DAMAGE1, MODE_COUNT };

static const char *const mode_names[MODE_COUNT] = { "memcpy", "region_full", "region_damage1" };

static uint8_t *sweep_buf;
static size_t sweep_bytes;
static volatile uint64_t sweep_sink;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "shm_copy: %s\n", what);
	exit(1);
}

/* Anonymous memory, every page faulted in, so that page faults are not timed. */
static uint8_t *alloc_touched(size_t size, uint8_t fill)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		die("cannot allocate the frames");
	}
	memset(p, fill, size);
	return p;
}

/* The L3 size as the kernel reports it (what lscpu shows); glibc's sysconf figure can be
 * far off in a VM. 0 if unknown. */
static size_t l3_bytes(void)
{
	size_t kib = 0;
	char unit = 0;
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
	if (f) {
		if (fscanf(f, "%zu%c", &kib, &unit) < 1) {
			kib = 0;
		}
		fclose(f);
		kib *= unit == 'M' ? 1024 : 1;
	}
	if (kib == 0) {
		long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
		kib = v > 0 ? (size_t)v / 1024 : 0;
	}
	return kib * 1024;
}

static void flush_caches(void)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < sweep_bytes; i += 64) {
		sum += sweep_buf[i];
	}
	sweep_sink += sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* Eight rectangles in distinct cells of an 8x4 grid, placed anew each round so that
 * rounds do not copy the same bytes. Returns the damaged pixel count. */
static uint64_t damage1_region(pixman_region32_t *r, uint32_t w, uint32_t h)
{
	uint32_t rw = w * 3 / 80, rh = h / 30, cw = w / 8, ch = h / 4;
	bool used[32] = { false };
	pixman_region32_clear(r);
	for (int i = 0; i < DAMAGE_RECTS; i++) {
		uint32_t cell;
		do {
			cell = rnd() % 32;
		} while (used[cell]);
		used[cell] = true;
		uint32_t x = (cell % 8) * cw + rnd() % (cw - rw);
		uint32_t y = (cell / 8) * ch + rnd() % (ch - rh);
		pixman_region32_union_rect(r, r, (int)x, (int)y, rw, rh);
	}
	return (uint64_t)DAMAGE_RECTS * rw * rh;
}

/* cold: flush the caches before each timed copy; warm: copy back to back. */
static void bench_size(uint32_t w, uint32_t h, int rounds, bool cold)
{
	size_t stride = (size_t)w * 4, bytes = stride * h;
	uint8_t *src = alloc_touched(bytes, 0x11), *dst = alloc_touched(bytes, 0x22);
	for (size_t i = 0; i < bytes; i += 4096) {
		src[i] = (uint8_t)i; /* something a skipped copy would miss */
	}
	struct cw_shm_image si = { src, w, h, (uint32_t)stride, 4 };
	struct cw_shm_image di = { dst, w, h, (uint32_t)stride, 4 };
	pixman_region32_t full, part;
	pixman_region32_init_rect(&full, 0, 0, w, h);
	pixman_region32_init(&part);

	static double t[MODE_COUNT][MAX_ROUNDS];
	uint64_t damaged_px = 0;
	size_t damaged_copied = 0;
	for (int round = 0; round < rounds; round++) {
		damaged_px = damage1_region(&part, w, h);
		/* Rotate the order so that drift and ordering effects hit every mode alike. */
		for (int k = 0; k < MODE_COUNT; k++) {
			enum mode m = (enum mode)((k + round) % MODE_COUNT);
			if (cold) {
				flush_caches();
			}
			double t0 = now_s();
			switch (m) {
			case MODE_MEMCPY:
				memcpy(dst, src, bytes);
				break;
			case MODE_FULL:
				if (cw_shm_copy_region(&di, &si, &full) != bytes) {
					die("a full-damage copy did not copy the whole frame");
				}
				break;
			default:
				damaged_copied = cw_shm_copy_region(&di, &si, &part);
				break;
			}
			t[m][round] = now_s() - t0;
		}
	}
	memset(dst, 0, bytes);
	cw_shm_copy_region(&di, &si, &full);
	if (memcmp(dst, src, bytes) != 0) {
		die("the copied frame differs from its source");
	}

	double med[MODE_COUNT], lo[MODE_COUNT], hi[MODE_COUNT];
	for (int m = 0; m < MODE_COUNT; m++) {
		med[m] = median(t[m], (size_t)rounds); /* sorts: [0] is the fastest run */
		lo[m] = t[m][0];
		hi[m] = t[m][rounds - 1];
	}
	char key[48];
	snprintf(key, sizeof(key), "shm_copy_%s_%ux%u", cold ? "cold" : "warm", w, h);
	for (int m = 0; m < MODE_COUNT; m++) {
		printf("%s_%s_us=%.1f\n", key, mode_names[m], med[m] * 1e6);
		printf("%s_%s_spread_us=%.1f-%.1f\n", key, mode_names[m], lo[m] * 1e6, hi[m] * 1e6);
	}
	printf("%s_memcpy_gb_s=%.2f\n", key, bytes / med[MODE_MEMCPY] / 1e9);
	printf("%s_region_full_gb_s=%.2f\n", key, bytes / med[MODE_FULL] / 1e9);
	printf("%s_full_vs_memcpy=%.3f\n", key, med[MODE_MEMCPY] / med[MODE_FULL]);
	printf("%s_damage1_fraction=%.4f\n", key, (double)damaged_px / ((double)w * h));
	printf("%s_damage1_bytes=%zu\n", key, damaged_copied);
	printf("%s_damage1_vs_full=%.4f\n", key, med[MODE_DAMAGE1] / med[MODE_FULL]);
	fflush(stdout);

	pixman_region32_fini(&full);
	pixman_region32_fini(&part);
	munmap(src, bytes);
	munmap(dst, bytes);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : DEFAULT_ROUNDS;
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		die("usage: shm_copy [rounds (1..1001)]");
	}
	size_t l3 = l3_bytes();
	sweep_bytes = 2 * l3 < MIN_SWEEP_BYTES ? MIN_SWEEP_BYTES :
		2 * l3 > MAX_SWEEP_BYTES ? MAX_SWEEP_BYTES : 2 * l3;
	sweep_buf = alloc_touched(sweep_bytes, 1);
	printf("shm_copy_rounds=%d\n", rounds);
	printf("shm_copy_l3_kib=%zu\n", l3 >> 10);
	printf("shm_copy_sweep_mib=%zu\n", sweep_bytes >> 20);
	double t0 = now_s();
	for (int cold = 1; cold >= 0; cold--) {
		bench_size(1920, 1080, rounds, cold);
		bench_size(3840, 2160, rounds, cold);
	}
	printf("shm_copy_wall_s=%.1f\n", now_s() - t0);
	munmap(sweep_buf, sweep_bytes);
	return 0;
}
