/* cli.c: shared command-line plumbing (see cli.h). */
#include "cli.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *cli_name = "juno";

void
cli_init(const char *prog)
{
    cli_name = prog;
    log_init(prog);
}

const char *
cli_prog(void)
{
    return cli_name;
}

static void
cli_verror(const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "%s: error: %s\n", cli_name, msg);
}

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(fmt, ap);
    va_end(ap);
}

void
cli_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(fmt, ap);
    va_end(ap);
    exit(code);
}

void
cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", cli_name);
    exit(EX_USAGE);
}

void
cli_help(const char *text)
{
    fflush(stdout);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(STDOUT_FILENO, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the reader has gone: nothing more to say */
        off += (size_t)n;
    }
    exit(0);
}

void
cli_tls_env(struct tls_config *tc)
{
    const char *env[3] = {getenv("JUNO_TLS_CA"), getenv("JUNO_TLS_CERT"), getenv("JUNO_TLS_KEY")};
    const char **f[3] = {&tc->ca, &tc->cert, &tc->key};
    for (int i = 0; i < 3; i++)
        if (*f[i] == NULL && env[i] != NULL && env[i][0] != '\0') *f[i] = env[i];
}

void
cli_tls_stores(struct tls_config *tc)
{
    cli_tls_env(tc);
    if (tc->ca == NULL && tc->cert == NULL && tc->key == NULL) return;
    if ((tc->cert == NULL) != (tc->key == NULL))
        cli_usage("unable to run: --tls-cert and --tls-key go together");
    char err[600];
    struct tls_ctx *ctx = tls_ctx_create(TLS_CLIENT, tc, err, sizeof(err));
    if (ctx == NULL) cli_die(EX_CONFIG, "%s", err);
    client_tls(ctx);
}

void
cli_version(void)
{
    printf("%s %s\n", cli_name, JUNO_VERSION);
}

int
cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') return JUNO_EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return JUNO_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return JUNO_ERANGE;
        v = v * 10 + d;
    }
    if (v < min || v > max) return JUNO_ERANGE;
    *out = v;
    return 0;
}

int
cli_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL) return JUNO_EINVAL;
    size_t n = 0;
    char digits[24];
    while (s[n] >= '0' && s[n] <= '9' && n < sizeof(digits) - 1) digits[n] = s[n], n++;
    digits[n] = '\0';
    if (s[n] >= '0' && s[n] <= '9') return JUNO_ERANGE; /* more digits than 2^64 has */
    uint64_t v;
    int rc = cli_parse_u64(digits, 0, UINT64_MAX, &v);
    if (rc != 0) return rc;
    const char *u = s + n;
    static const char units[] = "KMGT";
    unsigned shift = 0;
    if (*u != '\0') {
        const char *p = strchr(units, *u >= 'a' ? *u - 32 : *u);
        if (p == NULL) return JUNO_EINVAL;
        shift = 10u * (unsigned)(p - units + 1);
        u++;
        if ((*u == 'i' || *u == 'I') && (u[1] == 'B' || u[1] == 'b'))
            u += 2; /* KiB */
        else if (*u == 'B' || *u == 'b')
            u++; /* KB: binary too */
        if (*u != '\0') return JUNO_EINVAL;
    }
    if (shift && v > UINT64_MAX >> shift) return JUNO_ERANGE;
    *out = v << shift;
    return 0;
}

uint64_t
cli_opt_u64(const char *name, const char *arg, uint64_t min, uint64_t max)
{
    uint64_t v = 0;
    int rc = cli_parse_u64(arg, min, max, &v);
    if (rc == JUNO_ERANGE)
        cli_usage("invalid --%s '%s': must be between %llu and %llu", name, arg,
                  (unsigned long long)min, (unsigned long long)max);
    if (rc != 0) cli_usage("invalid --%s '%s': not a number", name, arg);
    return v;
}

void
cli_opt_log_level(const char *arg)
{
    enum log_level lv;
    if (log_parse_level(arg, &lv) != 0)
        cli_usage("invalid --log-level '%s': use debug, info, warn, error or off", arg);
    log_set_level(lv);
}

int
cli_parse_hostport(const char *s, char *host, size_t hostcap, uint16_t *port)
{
    const char *colon, *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') return JUNO_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) return JUNO_EINVAL;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostcap) return JUNO_EINVAL;
    uint64_t p;
    if (cli_parse_u64(colon + 1, 1, 65535, &p) != 0) return JUNO_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int
cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = STDIN_FILENO;
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return error_from_errno(errno);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (buf == NULL) rc = JUNO_ENOMEM;
    while (rc == 0) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                rc = JUNO_EMSGSIZE;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                rc = JUNO_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = error_from_errno(errno);
        if (r <= 0) break;
        n += (size_t)r;
        if (n > max) rc = JUNO_EMSGSIZE;
    }
    if (fd != STDIN_FILENO) close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int
cli_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return error_from_errno(errno);
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int
cli_write_file(const char *path, const void *data, size_t len)
{
    if (strcmp(path, "-") == 0) return cli_write_all(STDOUT_FILENO, data, len);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL) return JUNO_ENOMEM;
    snprintf(tmp, plen + 16, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? error_from_errno(errno) : cli_write_all(fd, data, len);
    if (fd >= 0 && rc == 0 && fsync(fd) != 0) rc = error_from_errno(errno);
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = error_from_errno(errno);
    if (rc == 0 && rename(tmp, path) != 0) rc = error_from_errno(errno);
    if (rc != 0) unlink(tmp);
    free(tmp);
    return rc;
}
