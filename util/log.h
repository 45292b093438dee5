/* Logging for every layer: one line per event on stderr, with level, file:line and,
 * where a client is involved, its id. Layers below proxy/ only return errors; the
 * caller that decides what to do logs once. */
#ifndef CW_UTIL_LOG_H
#define CW_UTIL_LOG_H

#include <errno.h>
#include <string.h>

enum cw_log_level {
	CW_LOG_ERROR = 0,
	CW_LOG_WARN = 1,
	CW_LOG_INFO = 2,
	CW_LOG_DEBUG = 3,
};

/* Messages above this level are dropped. Set once at start-up from the options. */
void cw_log_set_level(enum cw_log_level lvl);
enum cw_log_level cw_log_get_level(void);
static inline int cw_log_enabled(enum cw_log_level lvl)
{
	return lvl <= cw_log_get_level();
}

/* client_id 0 means "no client". */
void cw_log_at(enum cw_log_level lvl, const char *file, int line, unsigned client_id,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Raw line on stderr with the program prefix, used by --trace. */
void cw_log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define cw_log(lvl, fmt, ...) cw_log_at((lvl), __FILE__, __LINE__, 0, fmt, ##__VA_ARGS__)
#define cw_log_errno(lvl, fmt, ...) cw_log((lvl), fmt ": %s", ##__VA_ARGS__, strerror(errno))
#define cw_clog(client_id, lvl, fmt, ...) \
	cw_log_at((lvl), __FILE__, __LINE__, (client_id), fmt, ##__VA_ARGS__)

#endif
