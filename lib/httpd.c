/* httpd.c: the metrics HTTP server (see httpd.h).
 *
 * A connection reads into a fixed HTTPD_MAX_HEADER buffer. Once a whole
 * header block is there it is parsed (lib/httpreq.c) and answered; while the
 * answer is being written the connection does not read, so a client
 * pipelining requests gets them answered one after the other and never makes
 * the server buffer more than one response per connection. A request line
 * that is already wrong (bytes that no request line holds) is refused without
 * waiting for the rest.
 */
#include "httpd.h"

#include "error.h"
#include "httpreq.h"
#include "log.h"
#include "net.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hconn {
    uv_tcp_t tcp;     /* embedded; freed after both close callbacks */
    uv_timer_t timer; /* a whole request within HTTPD_REQUEST_MS */
    struct httpd *h;
    struct hconn *prev, *next; /* h->conns */
    int handles;               /* tcp, timer: open */
    int writes;                /* responses being written (0 or 1) */
    int closing, reading, close_after;
    int lingering;    /* answered for the last time: reading and discarding until EOF */
    size_t discarded; /* bytes discarded while lingering */
    uv_shutdown_t shut;
    size_t len;
    char peer[64];
    char buf[HTTPD_MAX_HEADER];
};

#define LINGER_MS    2000
#define LINGER_BYTES (1u << 20)

struct hwrite {
    uv_write_t req;
    struct hconn *c; /* counted in c->writes */
    char head[320];
    char *body; /* owned, or NULL for a static body */
};

struct httpd {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listener_open;
    httpd_render_fn *render;
    void *arg;
    struct hconn *conns;
    unsigned nconns;
    int closing;
};

static void hconn_process(struct hconn *c);

/* ---- lifetime ---- */

static void
httpd_maybe_free(struct httpd *h)
{
    if (h->closing && !h->listener_open && h->conns == NULL) free(h);
}

static void
hconn_free_if_done(struct hconn *c)
{
    if (c->handles > 0 || c->writes > 0) return;
    struct httpd *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    h->nconns--;
    free(c);
    httpd_maybe_free(h);
}

static void
hconn_on_close(uv_handle_t *handle)
{
    struct hconn *c = handle->data;
    c->handles--;
    hconn_free_if_done(c);
}

static void
hconn_close(struct hconn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, hconn_on_close);
    uv_close((uv_handle_t *)&c->tcp, hconn_on_close);
}

static void
hconn_on_timeout(uv_timer_t *t)
{
    struct hconn *c = t->data;
    if (c->lingering) {
        hconn_close(c);
    } else if (c->writes == 0) {
        log_debug("metrics: closing connection: no whole request within %d ms peer=%s bytes=%zu",
                  HTTPD_REQUEST_MS, c->peer, c->len);
        hconn_close(c);
    }
}

/* ---- responses ---- */

static void hconn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
hconn_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct hconn *c = handle->data;
    buf->base = c->buf + c->len;
    buf->len = sizeof(c->buf) - c->len;
}

static void
hconn_read(struct hconn *c, int on)
{
    if (c->closing || c->reading == on) return;
    if (on)
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, hconn_on_alloc, hconn_on_read) == 0;
    else
        c->reading = uv_read_stop((uv_stream_t *)&c->tcp) != 0;
}

static void
hconn_on_shutdown(uv_shutdown_t *req, int status)
{
    struct hconn *c = req->data;
    c->writes--; /* the shutdown request holds the connection like a write */
    if (status < 0 && !c->closing) hconn_close(c);
    hconn_free_if_done(c);
}

/* After the last response: send FIN, then read and drop what the client still
 * sends until it closes (or for LINGER_MS, or LINGER_BYTES), so that closing
 * with unread bytes does not reset the connection before the client has read
 * the response (a 400 for an oversized header, a 405 with a body). */
static void
hconn_linger(struct hconn *c)
{
    c->lingering = 1;
    c->len = 0;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, hconn_on_shutdown) != 0) {
        hconn_close(c);
        return;
    }
    c->writes++;
    uv_timer_start(&c->timer, hconn_on_timeout, LINGER_MS, 0);
    hconn_read(c, 1);
}

static void
hconn_on_write(uv_write_t *req, int status)
{
    struct hwrite *w = (struct hwrite *)req;
    struct hconn *c = w->c;
    free(w->body);
    free(w);
    c->writes--;
    if (c->closing) {
        hconn_free_if_done(c);
        return;
    }
    if (status < 0) {
        hconn_close(c);
        return;
    }
    if (c->close_after) {
        hconn_linger(c);
        return;
    }
    uv_timer_start(&c->timer, hconn_on_timeout, HTTPD_REQUEST_MS, 0);
    hconn_process(c); /* a pipelined request already buffered */
    if (c->writes == 0) hconn_read(c, 1);
}

/* Send a response: body (owned, or static when owned is 0) of blen bytes,
 * omitted for HEAD. */
static void
hconn_respond(struct hconn *c, const struct httpreq *rq, int code, const char *reason,
              const char *ctype, const char *body, size_t blen, int owned)
{
    struct hwrite *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        if (owned) free((void *)body);
        hconn_close(c);
        return;
    }
    w->c = c;
    w->body = owned ? (char *)body : NULL;
    int head_only = rq != NULL && rq->mlen == 4 && memcmp(rq->method, "HEAD", 4) == 0;
    int n = snprintf(w->head, sizeof(w->head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", code,
                     reason, ctype, blen, code == 405 ? "Allow: GET, HEAD\r\n" : "",
                     c->close_after ? "Connection: close\r\n" : "");
    uv_buf_t bufs[2] = {uv_buf_init(w->head, (unsigned)n),
                        uv_buf_init((char *)body, (unsigned)blen)};
    c->writes++;
    hconn_read(c, 0);
    uv_timer_stop(&c->timer);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, head_only || blen == 0 ? 1 : 2,
                 hconn_on_write) != 0) {
        c->writes--;
        free(w->body);
        free(w);
        hconn_close(c);
    }
}

static void
hconn_error(struct hconn *c, const struct httpreq *rq, int code, const char *reason,
            const char *why)
{
    c->close_after = 1;
    log_info("metrics: refused request peer=%s status=%d reason=\"%s\"", c->peer, code, why);
    size_t cap = strlen(reason) + strlen(why) + 4;
    char *b = malloc(cap);
    int n = b ? snprintf(b, cap, "%s: %s\n", reason, why) : 0;
    hconn_respond(c, rq, code, reason, "text/plain; charset=utf-8", b, n > 0 ? (size_t)n : 0, 1);
}

static void
hconn_answer(struct hconn *c, struct httpreq *rq)
{
    int get = rq->mlen == 3 && memcmp(rq->method, "GET", 3) == 0;
    int head = rq->mlen == 4 && memcmp(rq->method, "HEAD", 4) == 0;
    if (!get && !head) {
        c->close_after = 1;
        hconn_error(c, rq, 405, "Method Not Allowed", "only GET and HEAD are served");
        return;
    }
    if (rq->has_body) {
        hconn_error(c, rq, 400, "Bad Request", "a request body is not accepted");
        return;
    }
    if (rq->minor == 1 && rq->hosts != 1) {
        hconn_error(c, rq, 400, "Bad Request", "HTTP/1.1 needs one Host header");
        return;
    }
    if (rq->close || rq->minor == 0) c->close_after = 1;
    size_t plen = rq->tlen;
    const char *q = memchr(rq->target, '?', rq->tlen);
    if (q != NULL) plen = (size_t)(q - rq->target);
    if (plen == 8 && memcmp(rq->target, "/metrics", 8) == 0) {
        char *body = NULL;
        size_t blen = 0;
        int rc = c->h->render(c->h->arg, &body, &blen);
        if (rc != 0) {
            log_error("metrics: cannot render: %s", error_str(rc));
            c->close_after = 1;
            static const char e[] = "cannot render metrics\n";
            hconn_respond(c, rq, 500, "Internal Server Error", "text/plain; charset=utf-8", e,
                          sizeof(e) - 1, 0);
            return;
        }
        hconn_respond(c, rq, 200, "OK", HTTPD_METRICS_CT, body, blen, 1);
    } else if (plen == 7 && memcmp(rq->target, "/health", 7) == 0) {
        hconn_respond(c, rq, 200, "OK", "text/plain; charset=utf-8", "ok\n", 3, 0);
    } else {
        static const char nf[] = "not found: try /metrics or /health\n";
        hconn_respond(c, rq, 404, "Not Found", "text/plain; charset=utf-8", nf, sizeof(nf) - 1, 0);
    }
}

/* Answer the buffered request if it is whole (or already wrong). */
static void
hconn_process(struct hconn *c)
{
    if (c->closing || c->writes > 0 || c->close_after) return;
    struct httpreq rq;
    size_t used = 0;
    const char *why = NULL;
    int rc = httpreq_parse(c->buf, c->len, sizeof(c->buf), &rq, &used, &why);
    if (rc == HTTPREQ_ERROR) {
        hconn_error(c, NULL, 400, "Bad Request", why);
        return;
    }
    if (rc == HTTPREQ_OK) hconn_answer(c, &rq); /* uses rq's pointers into buf: consume after */
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

static void
hconn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct hconn *c = s->data;
    if (n < 0) {
        if (n == UV_EOF && c->writes > 0 && !c->lingering) { /* half-closed: answer first */
            c->close_after = 1;
            hconn_read(c, 0);
            return;
        }
        hconn_close(c);
        return;
    }
    if (c->lingering) {
        c->discarded += (size_t)n;
        if (c->discarded > LINGER_BYTES) hconn_close(c);
        return;
    }
    c->len += (size_t)n;
    hconn_process(c);
}

/* ---- listening ---- */

static void
on_refused_close(uv_handle_t *handle)
{
    free(handle);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct httpd *h = listener->data;
    if (status < 0 || h->closing) return;
    if (h->nconns >= HTTPD_MAX_CONNS) {
        uv_tcp_t *t = malloc(sizeof(*t));
        if (t == NULL) return;
        uv_tcp_init(h->loop, t);
        if (uv_accept(listener, (uv_stream_t *)t) == 0)
            log_warn("metrics: too many connections, refusing one limit=%d", HTTPD_MAX_CONNS);
        uv_close((uv_handle_t *)t, on_refused_close);
        return;
    }
    struct hconn *c = calloc(1, sizeof(*c));
    if (c == NULL) return;
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        hconn_close(c);
        return;
    }
    net_peer_name(&c->tcp, c->peer, sizeof(c->peer));
    uv_timer_start(&c->timer, hconn_on_timeout, HTTPD_REQUEST_MS, 0);
    hconn_read(c, 1);
}

int
httpd_start(uv_loop_t *loop, const char *host, uint16_t port, httpd_render_fn *render, void *arg,
            struct httpd **out, char *err, size_t errlen)
{
    struct addrinfo *res;
    int rc = net_resolve_listen(host, port, &res, err, errlen);
    if (rc != 0) return rc;
    struct httpd *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return JUNO_ENOMEM;
    }
    h->loop = loop;
    h->render = render;
    h->arg = arg;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    h->listener_open = 1;
    rc = uv_tcp_bind(&h->listener, res->ai_addr, 0);
    freeaddrinfo(res);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, uv_strerror(rc));
        httpd_close(h);
        return error_from_errno(-rc);
    }
    *out = h;
    return 0;
}

static void
on_listener_close(uv_handle_t *handle)
{
    struct httpd *h = handle->data;
    h->listener_open = 0;
    httpd_maybe_free(h);
}

void
httpd_close(struct httpd *h)
{
    if (h == NULL || h->closing) return;
    h->closing = 1;
    for (struct hconn *c = h->conns; c; c = c->next) hconn_close(c);
    uv_close((uv_handle_t *)&h->listener, on_listener_close);
}
