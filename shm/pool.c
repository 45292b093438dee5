/* Guest wl_shm pools: the app's file mapped read-only, grown by wl_shm_pool.resize, and
 * read only between begin/end access, where a SIGBUS (the app truncated its file under
 * us) is absorbed instead of killing the process, as libwayland-server does. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/shm.h"

struct cw_shm_pool {
	uint8_t *map; /* owned: read-only shared mapping of the app's file */
	size_t size;
	unsigned refs; /* the pool object and each buffer made from it */
	volatile sig_atomic_t faulted; /* a SIGBUS hit the mapping during an access */
};

/* The pool being read. A signal handler can reach nothing else, and accesses never
 * nest (the proxy is single-threaded), so one slot per process is enough. */
static struct cw_shm_pool *volatile accessing;
static struct sigaction previous_sigbus;

static void reraise(int sig)
{
	/* Not ours: restore the previous disposition; returning re-runs the faulting
	 * instruction, which then gets the default action (or the old handler). */
	sigaction(sig, &previous_sigbus, NULL);
}

static void handle_sigbus(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	struct cw_shm_pool *p = accessing;
	uint8_t *addr = info->si_addr;
	if (!p || addr < p->map || addr >= p->map + p->size) {
		reraise(sig);
		return;
	}
	p->faulted = 1;
	/* Replace the whole mapping with zero pages so the copy can finish; the app is
	 * told at end_access and its connection closed. */
	if (mmap(p->map, p->size, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) ==
		MAP_FAILED) {
		reraise(sig);
	}
}

int cw_shm_sigbus_install(void)
{
	struct sigaction sa = { .sa_sigaction = handle_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, &previous_sigbus);
}

struct cw_shm_pool *cw_shm_pool_create_take_fd(int fd, size_t size)
{
	struct cw_shm_pool *p = calloc(1, sizeof(*p));
	if (!p) {
		goto err;
	}
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		goto err;
	}
	/* The mapping keeps the file alive; the fd is not needed any more. */
	close(fd);
	p->map = map;
	p->size = size;
	p->refs = 1;
	return p;
err:;
	int e = errno;
	free(p);
	close(fd);
	errno = e;
	return NULL;
}

int cw_shm_pool_resize(struct cw_shm_pool *p, size_t size)
{
	void *map = mremap(p->map, p->size, size, MREMAP_MAYMOVE);
	if (map == MAP_FAILED) {
		return -1;
	}
	p->map = map;
	p->size = size;
	return 0;
}

size_t cw_shm_pool_size(const struct cw_shm_pool *p)
{
	return p->size;
}

struct cw_shm_pool *cw_shm_pool_ref(struct cw_shm_pool *p)
{
	p->refs++;
	return p;
}

void cw_shm_pool_unref(struct cw_shm_pool *p)
{
	if (!p || --p->refs > 0) {
		return;
	}
	munmap(p->map, p->size);
	free(p);
}

const uint8_t *cw_shm_pool_begin_access(struct cw_shm_pool *p)
{
	accessing = p;
	return p->map;
}

bool cw_shm_pool_end_access(struct cw_shm_pool *p)
{
	accessing = NULL;
	return !p->faulted;
}
