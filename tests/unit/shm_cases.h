/* The random cases of the shm/ unit tests (test_shm.c, test_shm_damage.c): a fixed-seed
 * generator and the rectangle the cases are made of. Each program starts from the same
 * seed. Functions are static inline so that a test program may leave some unused. */
#ifndef CW_TEST_SHM_CASES_H
#define CW_TEST_SHM_CASES_H

#include <stdint.h>

struct rect {
	int x, y, w, h;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: fixed seed, so that a failing case is the same on every run. */
static inline uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717u) >> 32);
}

/* An integer in [lo, hi]. */
static inline int rnd_in(int lo, int hi)
{
	return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

#endif
