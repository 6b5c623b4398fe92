/* client_tls.c: TLS for lib/client's blocking connections (see client.h).
 *
 * One session per descriptor, kept in a table indexed by the descriptor, so
 * the fd-based API stays as it is. The session runs on a memory BIO (lib/tls)
 * like every other connection: ciphertext is read from the socket and fed,
 * plaintext comes out of tls_read; what tls_write makes is queued and
 * written with the same poll deadlines as plaintext.
 */
#include "client_int.h"

#include "buf.h"
#include "error.h"
#include "tls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct csess {
    struct tls *t;    /* owned */
    struct buf pend;  /* ciphertext not yet written */
    struct buf plain; /* plaintext decrypted, not yet handed out */
    int eof;          /* close_notify came */
};

static struct tls_ctx *client_ctx; /* borrowed */
static struct csess **sessions;    /* owned: indexed by descriptor */
static size_t nsessions;
static char last_error[320];

void
client_tls(struct tls_ctx *ctx)
{
    client_ctx = ctx;
}

struct tls_ctx *
client__tls_ctx(void)
{
    return client_ctx;
}

const char *
client_tls_error(void)
{
    return last_error;
}

static struct csess *
sess(int fd)
{
    return fd >= 0 && (size_t)fd < nsessions ? sessions[fd] : NULL;
}

int
client__tls_on(int fd)
{
    return sess(fd) != NULL;
}

size_t
client_pending(int fd)
{
    struct csess *s = sess(fd);
    return s ? s->pend.len : 0;
}

static void
sess_free(struct csess *s)
{
    if (s == NULL) return;
    tls_destroy(s->t);
    buf_free(&s->pend);
    buf_free(&s->plain);
    free(s);
}

void
client__tls_close(int fd)
{
    struct csess *s = sess(fd);
    if (s == NULL) return;
    tls_shutdown(s->t);
    size_t done;
    if (tls_output(s->t, &s->pend) == 0)
        client__write_all(fd, s->pend.data, s->pend.len, 0, &done); /* if it fits now */
    sess_free(s);
    sessions[fd] = NULL;
}

/* Write what is queued, until deadline. */
static int
pend_flush(int fd, struct csess *s, int64_t deadline)
{
    size_t done = 0;
    int rc = client__write_all(fd, s->pend.data, s->pend.len, deadline, &done);
    buf_consume(&s->pend, done);
    return rc;
}

static void
set_error(const char *fmt, const char *a, const char *b)
{
    snprintf(last_error, sizeof(last_error), fmt, a, b);
}

int
client__tls_open(int fd, const char *host, int64_t deadline, char *err, size_t errlen)
{
    if ((size_t)fd >= nsessions) {
        size_t n = (size_t)fd + 16;
        struct csess **t = realloc(sessions, n * sizeof(*t));
        if (t == NULL) return JUNO_ENOMEM;
        memset(t + nsessions, 0, (n - nsessions) * sizeof(*t));
        sessions = t;
        nsessions = n;
    }
    sess_free(sessions[fd]); /* a descriptor closed without client_close */
    sessions[fd] = NULL;
    struct csess *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->t = tls_create(client_ctx, host)) == NULL) {
        free(s);
        return JUNO_ENOMEM;
    }
    int rc;
    uint8_t in[16384];
    for (;;) {
        int hs = tls_handshake(s->t);
        rc = tls_output(s->t, &s->pend);
        if (rc == 0) rc = pend_flush(fd, s, deadline);
        if (rc != 0 || hs == TLS_OK) break;
        if (hs < 0) {
            set_error("%s: %s", tls_reason_name(tls_reason(s->t)), tls_detail(s->t));
            rc = JUNO_EPROTO;
            break;
        }
        if ((rc = client__wait(fd, POLLIN, deadline)) != 0) break;
        ssize_t n = recv(fd, in, sizeof(in), 0);
        if (n == 0) {
            set_error("%s: %s", "closed", "the peer closed the connection during the handshake");
            rc = JUNO_EPROTO;
            break;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            rc = error_from_errno(errno);
            break;
        }
        if (n > 0 && (rc = tls_feed(s->t, in, (size_t)n)) != 0) break;
    }
    if (rc != 0) {
        if (errlen > 0)
            snprintf(err, errlen, "TLS handshake failed: %s",
                     rc == JUNO_EPROTO ? last_error : error_str(rc));
        sess_free(s);
        return rc;
    }
    sessions[fd] = s;
    return 0;
}

int
client__tls_send(int fd, const uint8_t *p, size_t len, int64_t deadline, size_t *consumed)
{
    struct csess *s = sess(fd);
    *consumed = 0;
    if (len > 0) {
        int rc = tls_write(s->t, p, len, &s->pend);
        if (rc != 0) {
            if (rc == JUNO_EPROTO) set_error("%s: %s", "protocol", tls_detail(s->t));
            return rc;
        }
        *consumed = len;
    }
    return pend_flush(fd, s, deadline);
}

ssize_t
client__tls_recv(int fd, uint8_t *dst, size_t cap)
{
    struct csess *s = sess(fd);
    while (s->plain.len == 0 && !s->eof) {
        uint8_t in[16384];
        ssize_t n = recv(fd, in, sizeof(in), 0);
        if (n == 0) return JUNO_EOF;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : error_from_errno(errno);
        int rc = tls_feed(s->t, in, (size_t)n);
        if (rc == 0) rc = tls_read(s->t, &s->plain);
        if (tls_output(s->t, &s->pend) == 0 && s->pend.len > 0) pend_flush(fd, s, 0);
        if (rc == JUNO_EOF) {
            s->eof = 1;
        } else if (rc == JUNO_EPROTO) {
            set_error("%s: %s", tls_reason_name(tls_reason(s->t)), tls_detail(s->t));
            return rc;
        } else if (rc != 0) {
            return rc;
        }
    }
    if (s->plain.len == 0) return JUNO_EOF;
    size_t n = s->plain.len < cap ? s->plain.len : cap;
    memcpy(dst, s->plain.data, n);
    buf_consume(&s->plain, n);
    return (ssize_t)n;
}
