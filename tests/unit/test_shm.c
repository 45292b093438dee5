/* shm/ through its header: damaged-region copies against a per-pixel reference, format
 * sizes, guest pools (growth, SIGBUS from a shrunk file, references) and memfd shadows.
 * Surface damage to buffer pixels has test_shm_damage.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <drm_fourcc.h>

#include "shm/shm.h"
#include "shm_cases.h"
#include "test.h"

static int n_run;

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* ---- formats ---- */

static void test_format_bpp(void)
{
	test_assert(cw_shm_format_bpp(0) == 4); /* wl_shm.format argb8888 */
	test_assert(cw_shm_format_bpp(1) == 4); /* wl_shm.format xrgb8888 */
	test_assert(cw_shm_format_bpp(DRM_FORMAT_RGB565) == 2);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ARGB2101010) == 4);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ABGR16161616F) == 8);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_ABGR16161616) == 8);
	test_assert(cw_shm_format_bpp(DRM_FORMAT_NV12) == 0); /* two planes */
	test_assert(cw_shm_format_bpp(DRM_FORMAT_YUV420) == 0);
	test_assert(cw_shm_format_bpp(fourcc_code('Z', 'Z', 'Z', 'Z')) == 0);
	test_assert(cw_shm_format_bpp(2) == 0); /* not a wl_shm code, not a fourcc */
}

/* ---- copies ---- */

struct copy_case {
	uint32_t width, height, stride_bytes, bpp;
	size_t offset; /* of the first pixel in the allocation: wl_shm offsets are arbitrary */
	struct rect r[8];
	int nr;
};

static bool rects_contain(const struct rect *r, int nr, int x, int y)
{
	for (int i = 0; i < nr; i++) {
		if (x >= r[i].x && x < r[i].x + r[i].w && y >= r[i].y && y < r[i].y + r[i].h) {
			return true;
		}
	}
	return false;
}

static void print_copy_case(const struct copy_case *c)
{
	fprintf(stderr, "case: %ux%u stride %u bpp %u offset %zu, rects:", c->width, c->height,
		c->stride_bytes, c->bpp, c->offset);
	for (int i = 0; i < c->nr; i++) {
		fprintf(stderr, " (%d,%d %dx%d)", c->r[i].x, c->r[i].y, c->r[i].w, c->r[i].h);
	}
	fprintf(stderr, "\n");
}

/* Runs one copy and checks every byte of dst against the reference: pixels in the region
 * come from src, all others keep their old value; a row's padding may only follow src
 * where the whole row is in the region (a band copy). */
static void check_copy(const struct copy_case *c)
{
	size_t size = c->offset + (size_t)c->stride_bytes * c->height;
	/* Exact-size allocations: ASan catches a copy that reads or writes past the image. */
	uint8_t *src = malloc(size), *dst = malloc(size), *orig = malloc(size);
	test_assert(src && dst && orig);
	for (size_t i = 0; i < size; i++) {
		src[i] = (uint8_t)rnd();
		dst[i] = (uint8_t)(src[i] ^ (1 + rnd() % 255)); /* differs from src everywhere */
	}
	memcpy(orig, dst, size);
	pixman_region32_t region;
	pixman_region32_init(&region);
	for (int i = 0; i < c->nr; i++) {
		pixman_region32_union_rect(&region, &region, c->r[i].x, c->r[i].y,
			(unsigned)c->r[i].w, (unsigned)c->r[i].h);
	}
	struct cw_shm_image si = { src + c->offset, c->width, c->height, c->stride_bytes, c->bpp };
	struct cw_shm_image di = { dst + c->offset, c->width, c->height, c->stride_bytes, c->bpp };
	size_t copied = cw_shm_copy_region(&di, &si, &region);

	bool ok = memcmp(dst, orig, c->offset) == 0;
	size_t area = 0, full_rows = 0;
	size_t row_bytes = (size_t)c->width * c->bpp;
	for (uint32_t y = 0; y < c->height && ok; y++) {
		const uint8_t *s = src + c->offset + (size_t)y * c->stride_bytes;
		const uint8_t *d = dst + c->offset + (size_t)y * c->stride_bytes;
		const uint8_t *o = orig + c->offset + (size_t)y * c->stride_bytes;
		size_t in_row = 0;
		for (uint32_t x = 0; x < c->width; x++) {
			bool in = rects_contain(c->r, c->nr, (int)x, (int)y);
			in_row += in;
			const uint8_t *want = in ? s : o;
			if (memcmp(d + x * c->bpp, want + x * c->bpp, c->bpp) != 0) {
				fprintf(stderr, "pixel (%u,%u), %s the region: expected the %s "
					"value\n", x, y, in ? "inside" : "outside",
					in ? "source" : "old");
				ok = false;
				break;
			}
		}
		area += in_row;
		bool full = in_row == c->width;
		full_rows += full;
		for (size_t i = row_bytes; i < c->stride_bytes && ok; i++) {
			if (d[i] != o[i] && !(full && d[i] == s[i])) {
				fprintf(stderr, "row %u padding byte %zu changed (row %s)\n",
					y, i - row_bytes,
					full ? "fully damaged" : "not fully damaged");
				ok = false;
			}
		}
	}
	if (ok && (copied < area * c->bpp ||
			copied > area * c->bpp + full_rows * (c->stride_bytes - row_bytes))) {
		fprintf(stderr, "returned %zu bytes for %zu damaged pixels (%zu full rows)\n",
			copied, area, full_rows);
		ok = false;
	}
	if (!ok) {
		print_copy_case(c);
	}
	test_assert(ok);
	pixman_region32_fini(&region);
	free(src);
	free(dst);
	free(orig);
}

static void random_copy_case(struct copy_case *c, size_t offset)
{
	static const uint32_t bpps[] = { 2, 4, 8 };
	*c = (struct copy_case){ 0 };
	c->width = (uint32_t)rnd_in(1, 70);
	c->height = (uint32_t)rnd_in(1, 40);
	c->bpp = bpps[rnd() % 3];
	/* Mostly padded rows, as the stride of a wl_shm buffer may be anything >= width*bpp. */
	c->stride_bytes = c->width * c->bpp + (rnd() % 5 == 0 ? 0 : (uint32_t)rnd_in(1, 40));
	c->offset = offset;
	int w = (int)c->width, h = (int)c->height;
	c->nr = rnd_in(1, 6);
	for (int i = 0; i < c->nr; i++) {
		struct rect *r = &c->r[i];
		switch (rnd() % 4) {
		case 0: /* a full-width band, sometimes wider than the image */
			r->x = rnd() % 2 ? 0 : -rnd_in(1, 5);
			r->w = w - r->x + (rnd() % 2 ? 0 : rnd_in(1, 5));
			r->y = rnd_in(0, h - 1);
			r->h = rnd_in(1, h - r->y);
			break;
		case 1: /* sticks out of the image on some side */
			r->x = rnd_in(-10, w + 5);
			r->y = rnd_in(-10, h + 5);
			r->w = rnd_in(1, w + 20);
			r->h = rnd_in(1, h + 20);
			break;
		default: /* inside */
			r->x = rnd_in(0, w - 1);
			r->y = rnd_in(0, h - 1);
			r->w = rnd_in(1, w - r->x);
			r->h = rnd_in(1, h - r->y);
			break;
		}
	}
}

static void test_copy_random_regions(void)
{
	struct copy_case c;
	for (int iter = 0; iter < 3000; iter++) {
		random_copy_case(&c, 0);
		check_copy(&c);
	}
}

/* A guest chooses the buffer offset and stride, so pixels need not be aligned. */
static void test_copy_unaligned(void)
{
	struct copy_case c;
	for (int iter = 0; iter < 300; iter++) {
		random_copy_case(&c, (size_t)rnd_in(1, 7));
		c.stride_bytes += (uint32_t)rnd_in(0, 3);
		check_copy(&c);
	}
}

static void test_copy_edge_regions(void)
{
	struct copy_case c = { .width = 33, .height = 17, .stride_bytes = 33 * 4 + 12, .bpp = 4 };
	c.nr = 0; /* empty region: nothing copied */
	check_copy(&c);
	c.nr = 2; /* entirely outside */
	c.r[0] = (struct rect){ 33, 0, 10, 17 };
	c.r[1] = (struct rect){ -5, -9, 50, 9 };
	check_copy(&c);
	c.nr = 1; /* the whole image and more */
	c.r[0] = (struct rect){ -100, -100, 1000, 1000 };
	check_copy(&c);
	c.nr = 1; /* one pixel in each corner, one at a time */
	int corners[4][2] = { { 0, 0 }, { 32, 0 }, { 0, 16 }, { 32, 16 } };
	for (int i = 0; i < 4; i++) {
		c.r[0] = (struct rect){ corners[i][0], corners[i][1], 1, 1 };
		check_copy(&c);
	}
	c.stride_bytes = 33 * 4; /* no padding: bands are contiguous */
	c.nr = 2;
	c.r[0] = (struct rect){ 0, 3, 33, 5 };
	c.r[1] = (struct rect){ 0, 9, 40, 8 }; /* down to the last row */
	check_copy(&c);
}

/* ---- guest pools ---- */

static int make_memfd(size_t size, uint8_t seed)
{
	int fd = memfd_create("cw-test-pool", MFD_CLOEXEC);
	test_assert(fd >= 0);
	test_assert(ftruncate(fd, (off_t)size) == 0);
	uint8_t *buf = malloc(size);
	test_assert(buf);
	for (size_t i = 0; i < size; i++) {
		buf[i] = (uint8_t)(seed + i * 7);
	}
	test_assert(pwrite(fd, buf, size, 0) == (ssize_t)size);
	free(buf);
	return fd;
}

static bool pool_bytes_are(struct cw_shm_pool *p, size_t from, size_t to, uint8_t seed)
{
	const uint8_t *m = cw_shm_pool_begin_access(p);
	bool same = m != NULL;
	for (size_t i = from; i < to && same; i++) {
		same = m[i] == (uint8_t)(seed + i * 7);
	}
	return cw_shm_pool_end_access(p) && same;
}

static void test_pool_read_and_grow(void)
{
	int base = count_fds();
	int fd = make_memfd(8192, 1);
	int keep = dup(fd); /* the app's copy of the file */
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(fd, 8192);
	test_assert(p);
	test_assert(cw_shm_pool_size(p) == 8192);
	test_assert(pool_bytes_are(p, 0, 8192, 1));

	/* The app writes through its own mapping: the pool is shared, not a snapshot. */
	uint8_t b = 0xa5;
	test_assert(pwrite(keep, &b, 1, 100) == 1);
	const uint8_t *m = cw_shm_pool_begin_access(p);
	test_assert(m && m[100] == 0xa5);
	test_assert(cw_shm_pool_end_access(p));

	/* wl_shm_pool.resize: the app grows the file, then the pool. */
	size_t big = 3 * 1024 * 1024 + 123;
	test_assert(ftruncate(keep, (off_t)big) == 0);
	uint8_t *tail = malloc(big - 8192);
	test_assert(tail);
	for (size_t i = 8192; i < big; i++) {
		tail[i - 8192] = (uint8_t)(9 + i * 7);
	}
	test_assert(pwrite(keep, tail, big - 8192, 8192) == (ssize_t)(big - 8192));
	free(tail);
	test_assert(cw_shm_pool_resize(p, big) == 0);
	test_assert(cw_shm_pool_size(p) == big);
	test_assert(pool_bytes_are(p, 8192, big, 9));
	m = cw_shm_pool_begin_access(p);
	test_assert(m && m[100] == 0xa5 && m[101] == (uint8_t)(1 + 101 * 7));
	test_assert(cw_shm_pool_end_access(p));

	/* A mapping that cannot be made leaves the old one in place. */
	errno = 0;
	test_assert(cw_shm_pool_resize(p, (size_t)1 << 62) == -1 && errno != 0);
	test_assert(cw_shm_pool_size(p) == big);
	test_assert(pool_bytes_are(p, 8192, big, 9));

	cw_shm_pool_unref(p);
	close(keep);
	test_assert(count_fds() == base);
}

static void test_pool_create_failure_closes_fd(void)
{
	int base = count_fds();
	int pipefd[2];
	test_assert(pipe2(pipefd, O_CLOEXEC) == 0);
	errno = 0;
	test_assert(cw_shm_pool_create_take_fd(pipefd[0], 4096) == NULL); /* cannot be mapped */
	test_assert(errno != 0);
	test_assert(!fd_is_open(pipefd[0]));
	close(pipefd[1]);
	test_assert(count_fds() == base);
}

static void test_pool_refcount(void)
{
	int base = count_fds();
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(make_memfd(4096, 3), 4096);
	test_assert(p);
	/* the pool object and two buffers */
	test_assert(cw_shm_pool_ref(p) == p);
	test_assert(cw_shm_pool_ref(p) == p);
	cw_shm_pool_unref(p);
	cw_shm_pool_unref(p);
	test_assert(pool_bytes_are(p, 0, 4096, 3)); /* ASan: still alive */
	cw_shm_pool_unref(p);
	test_assert(count_fds() == base);
}

static void test_pool_sigbus_is_absorbed(void)
{
	int base = count_fds();
	long page = sysconf(_SC_PAGESIZE);
	size_t size = 4 * (size_t)page;
	int fd = make_memfd(size, 5);
	int keep = dup(fd);
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(fd, size);
	test_assert(p);
	test_assert(pool_bytes_are(p, 0, size, 5));

	/* The app shrinks its file under the mapping. */
	test_assert(ftruncate(keep, page) == 0);
	const uint8_t *m = cw_shm_pool_begin_access(p);
	test_assert(m);
	bool head_ok = true, tail_zero = true;
	for (size_t i = 0; i < (size_t)page; i++) {
		head_ok &= m[i] == (uint8_t)(5 + i * 7);
	}
	for (size_t i = (size_t)page; i < size; i += 64) { /* would raise SIGBUS */
		tail_zero &= *(volatile const uint8_t *)(m + i) == 0;
	}
	test_assert(!cw_shm_pool_end_access(p));
	test_assert(head_ok);
	test_assert(tail_zero);

	/* Another pool, read afterwards, is not tainted by the earlier fault. */
	struct cw_shm_pool *q = cw_shm_pool_create_take_fd(make_memfd(4096, 6), 4096);
	test_assert(q && pool_bytes_are(q, 0, 4096, 6));
	cw_shm_pool_unref(q);
	cw_shm_pool_unref(p);
	close(keep);
	test_assert(count_fds() == base);
}

/* Only faults inside the accessed pool are absorbed: any other SIGBUS is a real bug and
 * must still kill the process. */
static void test_sigbus_elsewhere_is_not_absorbed(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cw_shm_pool *p = cw_shm_pool_create_take_fd(make_memfd(4096, 7), 4096);
	test_assert(p);
	int other = make_memfd(2 * (size_t)page, 8);
	uint8_t *om = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, other, 0);
	test_assert(om != MAP_FAILED);
	test_assert(ftruncate(other, 0) == 0);
	fflush(NULL);
	pid_t pid = fork();
	test_assert(pid >= 0);
	if (pid == 0) {
		alarm(10); /* a handler that retries the fault forever must not leave us spinning */
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2); /* the sanitizer's report of the crash is expected */
		if (!cw_shm_pool_begin_access(p)) {
			_exit(3);
		}
		volatile uint8_t v = *(volatile uint8_t *)(om + page);
		(void)v;
		_exit(0);
	}
	int status;
	test_assert(waitpid(pid, &status, 0) == pid);
	bool survived = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	test_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 3));
	test_assert(!survived);
	munmap(om, 2 * (size_t)page);
	close(other);
	cw_shm_pool_unref(p);
}

/* ---- shadow memory ---- */

static void test_mem_memfd(void)
{
	int base = count_fds();
	static const size_t sizes[] = { 1, 4095, 4096, 65537, 1920 * 1080 * 4,
		3 * 1024 * 1024 + 5 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct cw_shm_mem m;
		char why[256] = "";
		memset(&m, 0xff, sizeof(m));
		test_assert(cw_shm_mem_init(&m, NULL, sizes[k], why, sizeof(why)) == 0);
		test_assert(m.fd >= 0 && m.map != NULL && m.img == NULL);
		test_assert(m.size_bytes >= sizes[k]);
		test_assert(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
		char path[64], target[256];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", m.fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		test_assert(n > 0);
		target[n] = '\0';
		test_assert(strncmp(target, "/memfd:", 7) == 0);
		struct stat st;
		test_assert(fstat(m.fd, &st) == 0 && (size_t)st.st_size >= sizes[k]);
		/* Writable over all of size_bytes, and what is written is what the fd holds. */
		memset(m.map, 0x5a, m.size_bytes);
		m.map[0] = 1;
		m.map[sizes[k] - 1] = 2;
		uint8_t got[2];
		test_assert(pread(m.fd, &got[0], 1, 0) == 1);
		test_assert(pread(m.fd, &got[1], 1, (off_t)sizes[k] - 1) == 1);
		test_assert(sizes[k] == 1 ? got[0] == 2 : got[0] == 1 && got[1] == 2);
		cw_shm_mem_finish(&m, NULL);
		test_assert(count_fds() == base);
	}
	struct cw_shm_mem z = { .fd = -1 };
	cw_shm_mem_finish(&z, NULL);
	test_assert(count_fds() == base);
}

static void test_mem_classes(void)
{
	const size_t kib = 1024, mib = 1024 * 1024;
	size_t prev = 0;
	size_t distinct = 0, last = 0;
	/* every 64 KiB step and one byte past it, up to 256 MiB */
	for (size_t k = 0; k <= 4096; k++) {
		size_t reqs[2] = { k * 64 * kib + (k == 0), k * 64 * kib + 1 };
		for (int j = 0; j < 2; j++) {
			size_t req = reqs[j];
			if (req > 256 * mib) {
				continue;
			}
			size_t c = cw_shm_mem_class_bytes(req);
			bool ok = c >= req && c % 65536 == 0 && c >= prev;
			/* Four classes per doubling waste at most 25 %; rounding the classes
			 * to 64 KiB adds a little just above 256 KiB. */
			ok = ok && (req <= 256 * kib || c * 100 <= req * 127);
			if (!ok) {
				fprintf(stderr, "class of %zu bytes is %zu (previous class %zu)\n",
					req, c, prev);
			}
			test_assert(ok);
			prev = c;
			if (req >= 64 * kib) {
				distinct += c != last;
				last = c;
			}
		}
	}
	if (distinct >= 50) {
		fprintf(stderr, "%zu distinct classes between 64 KiB and 256 MiB\n", distinct);
	}
	test_assert(distinct < 50);
	test_assert(cw_shm_mem_class_bytes(65536) == 65536);
	/* a spread of odd sizes, monotonic too */
	prev = 0;
	for (size_t req = 1; req < 64 * mib; req = req * 5 / 4 + 4093) {
		size_t c = cw_shm_mem_class_bytes(req);
		test_assert(c >= req && c % 65536 == 0 && c >= prev);
		prev = c;
	}
}

int main(void)
{
	int fds_at_start = count_fds();
	test_assert(cw_shm_sigbus_install() == 0);
	RUN(test_format_bpp);
	RUN(test_copy_random_regions);
	RUN(test_copy_unaligned);
	RUN(test_copy_edge_regions);
	RUN(test_pool_read_and_grow);
	RUN(test_pool_create_failure_closes_fd);
	RUN(test_pool_refcount);
	RUN(test_pool_sigbus_is_absorbed);
	RUN(test_sigbus_elsewhere_is_not_absorbed);
	RUN(test_mem_memfd);
	RUN(test_mem_classes);
	test_assert(count_fds() == fds_at_start);
	printf("%d passed, 0 failed\n", n_run);
	return 0;
}
