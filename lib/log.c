/* log.c: timestamped one-line log records (see log.h). */
#include "log.h"
#include "error.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "juno";
static enum log_level log_min = LOG_INFO;
static int log_fd = STDERR_FILENO;
static char log_path[4096];

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

void
log_init(const char *prog)
{
    log_prog = prog;
}

void
log_set_level(enum log_level level)
{
    log_min = level;
}

int
log_parse_level(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return JUNO_EINVAL;
}

int
log_enabled(enum log_level level)
{
    return level >= log_min && log_min != LOG_OFF;
}

int
log_open(const char *path)
{
    if (path == NULL) {
        if (log_fd != STDERR_FILENO) close(log_fd);
        log_fd = STDERR_FILENO;
        log_path[0] = '\0';
        return 0;
    }
    if (strlen(path) >= sizeof(log_path)) return JUNO_ERANGE;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error_from_errno(errno);
    if (log_fd != STDERR_FILENO) close(log_fd);
    log_fd = fd;
    memcpy(log_path, path, strlen(path) + 1);
    return 0;
}

int
log_reopen(void)
{
    if (log_path[0] == '\0') return 0;
    char path[sizeof(log_path)];
    memcpy(path, log_path, sizeof(path));
    return log_open(path);
}

void
log_timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level)) return;
    char line[2048], ts[64];
    log_timestamp(ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s %s %s: ", ts, log_names[level], log_prog);
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2; /* truncated */
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w; /* nowhere left to report a failed log write */
}
