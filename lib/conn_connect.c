/* conn_connect.c: outgoing connections (see conn.h): resolve, connect, the
 * TLS handshake when a context is given (the ClientHello goes out with the
 * turn's flush), then the connection is established. Reconnecting is the
 * caller's: a failed connection is closed and reported once (proto->failed).
 */
#include "conn_int.h"

#include "error.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
conn__on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    c->connecting = 0;
    if (status == UV_ECANCELED || c->closing) return;
    if (status < 0) {
        conn__fail(c, status, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn__start_reading(c);
    if (c->tls) {
        conn__tls_begin(c);
        conn__tls_step(c); /* the ClientHello */
    } else {
        conn__established(c);
    }
}

/* Start connecting to sa. Returns 0 or a negative code. */
static int
conn__tcp_connect(struct conn *c, const struct sockaddr *sa)
{
    c->creq.data = c;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, conn__on_connect);
    if (rc == 0) c->connecting = 1;
    return rc;
}

static void
conn__on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct conn *c = req->data;
    c->resolving = 0;
    if (c->closing) {
        if (res) uv_freeaddrinfo(res);
        conn__free_if_done(c);
        return;
    }
    if (status < 0 || res == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host,
                 status < 0 ? uv_strerror(status) : "no address");
        if (res) uv_freeaddrinfo(res);
        conn__fail(c, JUNO_ENOTFOUND, why);
        return;
    }
    int rc = conn__tcp_connect(c, res->ai_addr);
    uv_freeaddrinfo(res);
    if (rc < 0) conn__fail(c, rc, uv_strerror(rc));
}

int
conn_connect(struct conn_group *g, const struct conn_proto *proto, const struct conn_limits *lim,
             const char *host, uint16_t port, struct tls_ctx *tls, void *data, struct conn **out)
{
    struct conn *c = conn__new(g, proto, lim, data);
    if (c == NULL) return JUNO_ENOMEM;
    snprintf(c->host, sizeof(c->host), "%s", host);
    if (tls != NULL && conn__tls_start(c, tls) != 0) {
        conn_close(c);
        return JUNO_ENOMEM;
    }
    snprintf(c->peer, sizeof(c->peer), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    struct sockaddr_storage ss;
    int rc;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        rc = conn__tcp_connect(c, (struct sockaddr *)&ss);
    } else {
        char portstr[8];
        snprintf(portstr, sizeof(portstr), "%u", port);
        struct addrinfo hints;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        c->gai = malloc(sizeof(*c->gai));
        rc = JUNO_ENOMEM;
        if (c->gai != NULL) {
            c->gai->data = c;
            rc = uv_getaddrinfo(g->loop, c->gai, conn__on_resolved, host, portstr, &hints);
            if (rc == 0) c->resolving = 1;
        }
    }
    if (rc != 0) {
        conn_close(c); /* not opened: no hook runs */
        return rc;
    }
    c->opened = 1;
    *out = c;
    return 0;
}
