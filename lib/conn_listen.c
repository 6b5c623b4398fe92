/* conn_listen.c: accepting connections (see conn.h): with TLS, at most the
 * context's cap of handshakes run at once per listener; a connection beyond
 * it is accepted and refused at once (closed, logged, counted), so a flood
 * of handshakes that never finish cannot hold the loop or the memory of
 * the clients already served. */
#include "conn_int.h"

#include "error.h"
#include "log.h"
#include "net.h"
#include "tls.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
conn__on_connection(uv_stream_t *server, int status)
{
    struct conn_listener *l = server->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    struct conn *c = conn__new(l->g, l->proto, &l->lim, l->data);
    if (c == NULL) {
        log_error("out of memory accepting a %s", l->proto->what);
        return;
    }
    c->l = l;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    net_peer_name(&c->tcp, c->peer, sizeof(c->peer));
    if (l->proto->open != NULL && l->proto->open(c) != 0) {
        conn_close(c);
        return;
    }
    c->opened = 1;
    if (l->tls == NULL) {
        c->established = 1;
    } else if (l->handshakes >= tls_ctx_max_handshakes(l->tls)) {
        char why[96];
        snprintf(why, sizeof(why), "%u handshakes in progress, the most this listener runs",
                 l->handshakes);
        conn__tls_refuse(c, TLS_R_BUSY, why);
        return;
    } else if (conn__tls_start(c, l->tls) != 0) {
        log_error("out of memory accepting a %s", l->proto->what);
        conn_close(c);
        return;
    } else {
        conn__tls_begin(c);
    }
    conn__start_reading(c);
}

static int
conn__listen(struct conn_listener *l, struct conn_group *g, const struct conn_proto *proto,
             const struct conn_limits *lim, int fd, const struct sockaddr *addr,
             struct tls_ctx *tls, void *data)
{
    memset(l, 0, sizeof(*l));
    l->g = g;
    l->proto = proto;
    l->lim = *lim;
    l->tls = tls;
    l->data = data;
    int rc = uv_tcp_init(g->loop, &l->tcp);
    if (rc != 0) return error_from_errno(-rc);
    l->tcp.data = l;
    rc = fd >= 0 ? uv_tcp_open(&l->tcp, fd) : uv_tcp_bind(&l->tcp, addr, 0);
    if (rc != 0 && fd >= 0) close(fd); /* not the handle's: closing it would not */
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 1024, conn__on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&l->tcp, NULL);
        return error_from_errno(-rc);
    }
    l->open = 1;
    return 0;
}

int
conn_listen_fd(struct conn_listener *l, struct conn_group *g, const struct conn_proto *proto,
               const struct conn_limits *lim, int fd, struct tls_ctx *tls, void *data)
{
    return conn__listen(l, g, proto, lim, fd, NULL, tls, data);
}

int
conn_listen_addr(struct conn_listener *l, struct conn_group *g, const struct conn_proto *proto,
                 const struct conn_limits *lim, const struct sockaddr *addr, struct tls_ctx *tls,
                 void *data)
{
    return conn__listen(l, g, proto, lim, -1, addr, tls, data);
}

void
conn_listener_drain(struct conn_listener *l)
{
    if (l->draining) return;
    l->draining = 1;
    if (l->g == NULL) return; /* never started */
    if (l->open) uv_close((uv_handle_t *)&l->tcp, NULL);
    l->open = 0;
    for (struct conn *c = l->g->conns; c; c = c->next) {
        if (c->l != l || !c->reading) continue;
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}
