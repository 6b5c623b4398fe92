/* log.h: one line per event for daemons and tools.
 *
 *   2026-11-24T10:00:00.123Z info juno-store: listening addr=127.0.0.1:9001
 *
 * Lines go to stderr, or to a file that log_reopen() reopens (SIGHUP).
 * Each line is written with one write(2), so threads may log concurrently.
 */
#ifndef JUNO_LOG_H
#define JUNO_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Set the program name printed on every line (borrowed; must outlive logging). */
void log_init(const char *prog);

/* Lines below level are dropped. The default is LOG_INFO. */
void log_set_level(enum log_level level);

/* Parse "debug", "info", "warn", "error", "off". Returns 0 or JUNO_EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Log to path (appending) instead of stderr; NULL means stderr.
 * Returns 0 or a negative JUNO_E* code (the previous target stays). */
int log_open(const char *path);

/* Reopen the current log file (after rotation). No-op for stderr. */
int log_reopen(void);

int log_enabled(enum log_level level);

/* The time as log lines show it, "2026-11-24T10:00:00.123Z" (UTC), into
 * buf (cap >= 25). For programs that write such lines themselves. */
void log_timestamp(char *buf, size_t cap);

/* Write one line: fmt is the message, conventionally "what happened key=value ...". */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__);                             \
    } while (0)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
