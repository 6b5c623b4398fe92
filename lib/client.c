/* client.c: blocking JunoDB wire client over non-blocking sockets (see
 * client.h); TLS sessions are client_tls.c's. */
#include "clock.h"
#include "client_int.h"

#include "cli.h"
#include "error.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_CHUNK (64 * 1024)

/* Milliseconds left until deadline (-1: none) for poll; 0 once passed. */
static int
remaining(int64_t deadline)
{
    if (deadline < 0) return -1;
    int64_t left = deadline - clock_mono_ms();
    if (left <= 0) return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

int
client__wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, remaining(deadline));
        if (rc > 0) return 0; /* readable, writable, or an error the next call reports */
        if (rc == 0) return JUNO_ETIMEDOUT;
        if (errno != EINTR) return error_from_errno(errno);
    }
}

void
client_buf_init(struct client_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void
client_buf_deinit(struct client_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Make room for n more bytes. Returns 0 or JUNO_ENOMEM. */
static int
cbuf_reserve(struct client_buf *b, size_t n)
{
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) return JUNO_ENOMEM;
        cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) return JUNO_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* Try one address: 0 with *fd connected, or a negative code. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *fd)
{
    int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (s < 0) return error_from_errno(errno);
    int rc = 0;
    if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            rc = error_from_errno(errno);
        } else if ((rc = client__wait(s, POLLOUT, deadline)) == 0) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
            rc = error_from_errno(soerr);
        }
    }
    if (rc != 0) {
        close(s);
        return rc;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fd = s;
    return 0;
}

int
client_connect(const char *hostport, int timeout_ms, char *err, size_t errlen)
{
    char host[256], port[8];
    uint16_t p;
    if (errlen > 0) err[0] = '\0';
    if (cli_parse_hostport(hostport, host, sizeof(host), &p) != 0) {
        if (errlen > 0) snprintf(err, errlen, "invalid address '%s': expected HOST:PORT", hostport);
        return JUNO_EINVAL;
    }
    snprintf(port, sizeof(port), "%u", p);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        if (errlen > 0) snprintf(err, errlen, "unable to resolve %s: %s", host, gai_strerror(gai));
        return JUNO_ENOTFOUND;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    int rc = JUNO_ENOTFOUND, fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, deadline, &fd);
        if (rc == 0 || rc == JUNO_ETIMEDOUT) break;
    }
    freeaddrinfo(res);
    if (rc != 0) {
        if (errlen > 0)
            snprintf(err, errlen, "unable to connect to %s: %s", hostport, error_str(rc));
        return rc;
    }
    if (client__tls_ctx() != NULL) {
        char why[400];
        rc = client__tls_open(fd, host, deadline, why, sizeof(why));
        if (rc != 0) {
            if (errlen > 0) snprintf(err, errlen, "unable to connect to %s: %s", hostport, why);
            close(fd);
            return rc;
        }
    }
    char why[400];
    if ((rc = client__login(fd, deadline, why, sizeof(why))) != 0) {
        if (errlen > 0) snprintf(err, errlen, "%s: %s", hostport, why);
        client_close(fd);
        return rc;
    }
    return fd;
}

void
client_close(int fd)
{
    if (fd < 0) return;
    client__tls_close(fd);
    close(fd);
}

int
client__write_all(int fd, const uint8_t *p, size_t len, int64_t deadline, size_t *done)
{
    *done = 0;
    while (*done < len) {
        ssize_t w = send(fd, p + *done, len - *done, MSG_NOSIGNAL);
        if (w >= 0) {
            *done += (size_t)w;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return error_from_errno(errno);
        int rc = client__wait(fd, POLLOUT, deadline);
        if (rc != 0) return rc;
    }
    return 0;
}

int
client_queue(struct client_buf *out, const struct wire_msg *m)
{
    size_t n = wire_encoded_size(m);
    if (n == 0) return JUNO_EINVAL;
    int rc = cbuf_reserve(out, n);
    if (rc != 0) return rc;
    int w = wire_encode(m, out->data + out->len, out->cap - out->len);
    if (w < 0) return w;
    out->len += (size_t)w;
    return 0;
}

int
client_flush(struct client_buf *out, int fd, int timeout_ms)
{
    size_t done;
    int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    int rc = client__tls_on(fd) ? client__tls_send(fd, out->data, out->len, deadline, &done)
                                : client__write_all(fd, out->data, out->len, deadline, &done);
    if (done > 0 && done < out->len) memmove(out->data, out->data + done, out->len - done);
    out->len -= done;
    return rc;
}

int
client_send(int fd, const struct wire_msg *m)
{
    struct client_buf out;
    client_buf_init(&out);
    int rc = client_queue(&out, m);
    if (rc == 0) rc = client_flush(&out, fd, -1);
    client_buf_deinit(&out);
    return rc;
}

int
client_recv(struct client_buf *b, int fd, int timeout_ms, struct wire_msg *out)
{
    if (b->used > 0) { /* drop the message handed out last time */
        memmove(b->data, b->data + b->used, b->len - b->used);
        b->len -= b->used;
        b->used = 0;
    }
    size_t max = b->max_frame ? b->max_frame : CLIENT_MAX_FRAME;
    int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    for (;;) {
        uint32_t flen;
        int fr = wire_frame(b->data, b->len, max, &flen, NULL);
        if (fr == WIRE_ERROR) return JUNO_EPROTO;
        if (fr == WIRE_OK) {
            if (wire_decode(b->data, flen, out) != WIRE_ST_OK) return JUNO_EPROTO;
            b->used = flen;
            return 0;
        }
        int rc = cbuf_reserve(b, RECV_CHUNK);
        if (rc != 0) return rc;
        if (client__tls_on(fd)) {
            ssize_t r = client__tls_recv(fd, b->data + b->len, b->cap - b->len);
            if (r < 0) return (int)r;
            b->len += (size_t)r;
            if (r > 0) continue;
        } else {
            ssize_t r = recv(fd, b->data + b->len, b->cap - b->len, 0);
            if (r > 0) {
                b->len += (size_t)r;
                continue;
            }
            if (r == 0) return JUNO_EOF;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return error_from_errno(errno);
        }
        if ((rc = client__wait(fd, POLLIN, deadline)) != 0) return rc;
    }
}

int
client_new_request_id(uint8_t id[16])
{
    size_t n = 0;
    while (n < 16) {
        ssize_t r = getrandom(id + n, 16 - n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return error_from_errno(errno);
        n += (size_t)r;
    }
    id[6] = (uint8_t)((id[6] & 0x0F) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    return 0;
}
