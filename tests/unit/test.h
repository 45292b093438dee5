/* A minimal test harness: each test is a function; a failing check prints where and
 * exits non-zero. Every test program runs under ASan/UBSan (see the Makefile) with an
 * alarm so that a hang fails too. */
#ifndef CW_TEST_H
#define CW_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define test_assert(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, \
				__func__, #cond); \
			exit(1); \
		} \
	} while (0)

/* Open fds of this process, for leak checks around a test. */
static inline int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d))) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

#define RUN(fn) \
	do { \
		alarm(30); \
		fn(); \
		printf("ok - %s\n", #fn); \
		n_run++; \
	} while (0)

#endif
