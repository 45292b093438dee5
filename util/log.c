/* Logging sink: formats one line and writes it with a single write(2), so lines from
 * forked per-client processes sharing stderr do not interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "util/log.h"

static enum cw_log_level log_level = CW_LOG_WARN;

static const char *const level_names[] = {
	[CW_LOG_ERROR] = "error",
	[CW_LOG_WARN] = "warning",
	[CW_LOG_INFO] = "info",
	[CW_LOG_DEBUG] = "debug",
};

void cw_log_set_level(enum cw_log_level lvl)
{
	log_level = lvl;
}

enum cw_log_level cw_log_get_level(void)
{
	return log_level;
}

static void emit(char *buf, size_t cap, int len)
{
	if (len < 0) {
		return;
	}
	if ((size_t)len >= cap - 1) {
		len = (int)cap - 2;
	}
	buf[len++] = '\n';
	ssize_t off = 0;
	while (off < len) {
		ssize_t n = write(STDERR_FILENO, buf + off, (size_t)(len - off));
		if (n <= 0) {
			if (n < 0 && errno == EINTR) {
				continue;
			}
			return;
		}
		off += n;
	}
}

/* Appends the message to the prefix of len bytes already in buf and writes the line. */
static void emit_formatted(char *buf, size_t cap, int len, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf + len, cap - (size_t)len, fmt, ap);
	emit(buf, cap, n < 0 ? len : len + n);
}

void cw_log_at(enum cw_log_level lvl, const char *file, int line, unsigned client_id,
	const char *fmt, ...)
{
	if (lvl > log_level) {
		return;
	}
	int saved_errno = errno;
	char buf[1024];
	int len;
	if (client_id) {
		len = snprintf(buf, sizeof(buf), "crossway[%d]: %s [%s:%d] client %u: ", (int)getpid(),
			level_names[lvl], file, line, client_id);
	} else {
		len = snprintf(buf, sizeof(buf), "crossway[%d]: %s [%s:%d] ", (int)getpid(),
			level_names[lvl], file, line);
	}
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		errno = saved_errno;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	emit_formatted(buf, sizeof(buf), len, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void cw_log_line(const char *fmt, ...)
{
	int saved_errno = errno;
	char buf[4096];
	int len = snprintf(buf, sizeof(buf), "crossway[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	emit_formatted(buf, sizeof(buf), len, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}
