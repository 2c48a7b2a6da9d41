/* Logging for the top layer only (daemon and CLI mains, the event loop).
 * Lines go to stderr; under systemd (JOURNAL_STREAM set) each line gets
 * a <N> priority prefix that journald understands. */
#ifndef BULLHORN_LOG_H
#define BULLHORN_LOG_H

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_INFO = 6, LOG_DEBUG = 7 };

void log_init(const char *ident, enum log_level max_level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
