/* File descriptor helpers that know nothing of Wayland. */
#ifndef CW_UTIL_FD_H
#define CW_UTIL_FD_H

#include <stddef.h>

/* Copies the first size bytes of fd (mapped whole, read-only) into a new sealed memfd
 * (no writes, no resizing), which any client can mmap read-only. Returns the new fd or
 * -1 with errno set. fd stays the caller's. */
int cw_fd_copy_sealed(int fd, size_t size, const char *name);

#endif
