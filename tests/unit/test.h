/* A minimal test harness: each test is a function; a failing check prints where and
 * exits non-zero. Every test program runs under ASan/UBSan (see the Makefile) with an
 * alarm so that a hang fails too. */
#ifndef CW_TEST_H
#define CW_TEST_H

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

#define RUN(fn) \
	do { \
		alarm(30); \
		fn(); \
		printf("ok - %s\n", #fn); \
		n_run++; \
	} while (0)

#endif
