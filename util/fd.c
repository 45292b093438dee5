/* fd helpers: sealed read-only copies of memory-backed fds. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/fd.h"

int cw_fd_copy_sealed(int fd, size_t size, const char *name)
{
	off_t whole = lseek(fd, 0, SEEK_END);
	if (whole < 0 || (size_t)whole < size || size == 0) {
		errno = EINVAL;
		return -1;
	}
	/* Map the whole object: some kernels refuse partial maps of host blobs. */
	void *src = mmap(NULL, (size_t)whole, PROT_READ, MAP_SHARED, fd, 0);
	if (src == MAP_FAILED) {
		return -1;
	}
	int out = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (out < 0) {
		goto err_unmap;
	}
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(out, (const char *)src + off, size - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			goto err_close;
		}
		off += (size_t)n;
	}
	if (fcntl(out, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		goto err_close;
	}
	munmap(src, (size_t)whole);
	return out;
err_close:
	close(out);
err_unmap:
	munmap(src, (size_t)whole);
	return -1;
}
