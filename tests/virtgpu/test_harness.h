/* The harness of the test double's self-tests: a private directory with the compositor
 * socket, the report and the device path (set in the environment, then the program
 * re-executes itself so that the preloaded library reads them at load), checks that fail
 * the current test, and a report check after each test: RUN_CLEAN wants no VIOLATION or
 * LEAK line, RUN_EXPECT wants each given text in some line and no line without one. */
#ifndef CW_TESTS_VIRTGPU_HARNESS_H
#define CW_TESTS_VIRTGPU_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/virtgpu/guest.h"

static int n_passed, n_failed;
static bool test_failed;
static char test_dir[256];

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: %s: check failed: %s (errno: %s)\n", __FILE__, \
				__LINE__, __func__, #cond, strerror(errno)); \
			test_failed = true; \
			return; \
		} \
	} while (0)

static inline int count_lines_with(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) {
		n++;
	}
	return n;
}

/* Every VIOLATION/LEAK line must contain one of expect[], and each expect[] must occur. */
static inline bool report_matches(const char *text, const char *const *expect, int nexpect)
{
	bool ok = true;
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		if (strstr(buf, "VIOLATION") || strstr(buf, "LEAK")) {
			bool known = false;
			for (int i = 0; i < nexpect; i++) {
				known = known || strstr(buf, expect[i]);
			}
			if (!known) {
				fprintf(stderr, "unexpected report line: %s\n", buf);
				ok = false;
			}
		}
		line += len + (end ? 1 : 0);
	}
	for (int i = 0; i < nexpect; i++) {
		if (!strstr(text, expect[i])) {
			fprintf(stderr, "expected a report line with \"%s\"\n", expect[i]);
			ok = false;
		}
	}
	/* Every context a test creates must also be closed within it. */
	if (count_lines_with(text, " created: ") != count_lines_with(text, " closed: ")) {
		fprintf(stderr, "contexts created and closed differ in the report\n");
		ok = false;
	}
	return ok;
}

static inline void run_test(const char *name, void (*fn)(void), const char *const *expect,
	int nexpect)
{
	long mark = report_mark();
	test_failed = false;
	alarm(30);
	fn();
	alarm(0);
	char *text = report_since(mark);
	if (!test_failed && !report_matches(text, expect, nexpect)) {
		test_failed = true;
	}
	free(text);
	printf("%s - %s\n", test_failed ? "FAIL" : "ok", name);
	fflush(stdout);
	if (test_failed) {
		n_failed++;
	} else {
		n_passed++;
	}
}

#define RUN_CLEAN(fn) run_test(#fn, fn, NULL, 0)
#define RUN_EXPECT(fn, ...) \
	do { \
		static const char *const expect_[] = { __VA_ARGS__ }; \
		run_test(#fn, fn, expect_, (int)(sizeof(expect_) / sizeof(expect_[0]))); \
	} while (0)

static inline void set_env_in_dir(const char *name, const char *file)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", test_dir, file);
	setenv(name, path, 1);
}

/* First run: make the directory, export CW_FAKEGPU_*, re-execute. Second run: listen. */
static inline void harness_setup(int argc, char **argv)
{
	const char *dir = getenv("CW_FAKEGPU_TEST_DIR");
	(void)argc;
	if (!dir) {
		snprintf(test_dir, sizeof(test_dir), "/tmp/cw-fakegpu-XXXXXX");
		if (!mkdtemp(test_dir)) {
			perror("mkdtemp");
			exit(1);
		}
		setenv("CW_FAKEGPU_TEST_DIR", test_dir, 1);
		set_env_in_dir("CW_FAKEGPU_WAYLAND", "wayland-test");
		set_env_in_dir("CW_FAKEGPU_REPORT", "report");
		set_env_in_dir("CW_FAKEGPU_DEVICE", "renderD128");
		execv("/proc/self/exe", argv);
		perror("execv");
		exit(1);
	}
	snprintf(test_dir, sizeof(test_dir), "%s", dir);
	signal(SIGPIPE, SIG_IGN);
	int fd = gpu_open();
	if (fd < 0) {
		printf("skip: %s is not there; run with LD_PRELOAD=libcw-fakegpu.so\n",
			getenv("CW_FAKEGPU_DEVICE"));
		if (!getenv("CW_FAKEGPU_CASE")) {
			rmdir(test_dir);
		}
		exit(77);
	}
	close(fd);
	if (comp_listen(getenv("CW_FAKEGPU_WAYLAND")) < 0) {
		perror("listen");
		exit(1);
	}
	if (!getenv("CW_FAKEGPU_CASE")) {
		printf("# cw-fakegpu VIOLATION/LEAK lines on stderr are provoked on purpose; each "
			"test checks its own in %s\n", getenv("CW_FAKEGPU_REPORT"));
	}
}

static inline int harness_finish(void)
{
	char path[512];
	printf("%d passed, %d failed\n", n_passed, n_failed);
	if (n_failed == 0 && !getenv("CW_FAKEGPU_KEEP")) {
		close(g_listen);
		const char *files[] = { "wayland-test", "report" };
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", test_dir, files[i]);
			unlink(path);
		}
		rmdir(test_dir);
	} else {
		printf("report and sockets kept in %s\n", test_dir);
	}
	return n_failed ? 1 : 0;
}

#endif
