/* upstream.c: one persistent connection from a worker to a store, shared by
 * every client of that worker and pipelined: each storage request gets an
 * opaque of the upstream's own, and answers are matched by it in any order.
 *
 * States:   IDLE ──(connect)──► CONNECTING ──► CONNECTED
 *             ▲                      │              │ EOF, error, bad frame
 *             └──── backoff timer ◄──┴──────────────┘   (fail all in flight, mark down)
 *
 * Requests sent while CONNECTING wait in the output buffer. Every request has
 * --request-timeout: the in-flight list is in send order, so it is also in
 * deadline order and one timer per upstream serves them all; a late answer is
 * dropped. PROXY_DOWN_TIMEOUTS timeouts in a row, or a failed connection, mark
 * the store down for PROXY_DOWN_MS: upstream_send refuses at once and the
 * request counts that replica as failed. Reconnects back off from 50 ms to 2 s.
 *
 * An upstream lives while a route refers to it; once no route does (the store
 * left the map) it is closed as soon as nothing is in flight on it. Memory is
 * freed only after every handle's close callback.
 */
#include "pmetrics.h"
#include "proxy.h"

#include "cli.h"
#include "buf.h"
#include "error.h"
#include "log.h"
#include "uvout.h"

#include <stdlib.h>
#include <string.h>

#define UP_MAX_FRAME  (64u << 20)
#define UP_READ_CHUNK (64 * 1024)

enum up_state { UP_IDLE, UP_CONNECTING, UP_CONNECTED, UP_CLOSED };

struct upstream {
    struct worker *w;
    struct upstream *prev, *next; /* w->ups */
    struct upstream *hnext;       /* w->up_buckets chain (not when retired) */
    struct upstream *dirty_next;
    int dirty;
    char addr[MAP_ADDR_MAX + 1];
    char host[MAP_ADDR_MAX + 1];
    uint16_t port;
    enum up_state state;
    uv_tcp_t tcp;
    int tcp_open;    /* tcp initialised and its close callback not yet run */
    int tcp_closing; /* uv_close called on tcp */
    uv_connect_t creq;
    uv_getaddrinfo_t gai;
    int gai_busy;
    uv_timer_t retry_timer; /* reconnect backoff, connect timeout */
    uv_timer_t req_timer;   /* the oldest request's deadline */
    int handles;            /* open handles (timers, tcp) */
    int routes;             /* routes that refer to it */
    int retired;            /* in no route: close once idle */
    uint64_t backoff_ms;
    uint64_t down_until; /* uv_now ms */
    uint64_t marked_at;
    unsigned timeouts_in_row;
    int marked;    /* logged as down, not yet as recovered */
    int etcd_down; /* upstream_set_down: skipped until set up again */
    uint32_t next_opaque;
    struct ureq **table; /* owned: opaque hash, tmask + 1 buckets */
    size_t tmask, count;
    struct ureq *head, *tail;
    struct buf out; /* encoded requests not yet handed to uv_write */
    struct buf in;  /* bytes read, not yet handled */
    size_t need;    /* the frame being read needs this much */
    size_t writes;  /* uv_write requests in flight */
    struct pm_store pm;
    int pm_down; /* counted in juno_proxy_store_down: marked || etcd_down */
};

static void up_connect(struct upstream *up);
static void up_on_retry(uv_timer_t *t);
static void up_on_req_timer(uv_timer_t *t);
static void up_fail(struct upstream *up, const char *why, int err);

const char *
upstream_addr(const struct upstream *up)
{
    return up->addr;
}

int
upstream_connecting(const struct upstream *up)
{
    return up->state == UP_CONNECTING;
}

static uint64_t
addr_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* ---- freeing ---- */

static void
up_free_if_done(struct upstream *up)
{
    if (up->state != UP_CLOSED || up->handles > 0 || up->writes > 0 || up->gai_busy) return;
    struct worker *w = up->w;
    if (up->pm_down) pmetrics_store_down(w, &up->pm, -1);
    if (up->prev)
        up->prev->next = up->next;
    else
        w->ups = up->next;
    if (up->next) up->next->prev = up->prev;
    free(up->table);
    buf_free(&up->out);
    buf_free(&up->in);
    free(up);
    worker_maybe_finish(w);
}

static void
up_on_handle_close(uv_handle_t *h)
{
    struct upstream *up = h->data;
    if (h == (uv_handle_t *)&up->tcp) {
        up->tcp_open = 0;
        up->tcp_closing = 0;
    }
    up->handles--;
    up_free_if_done(up);
}

static void
up_close_tcp(struct upstream *up)
{
    if (up->tcp_open && !up->tcp_closing) {
        up->tcp_closing = 1;
        uv_close((uv_handle_t *)&up->tcp, up_on_handle_close);
    }
}

/* ---- the in-flight table ---- */

static int
up_table_grow(struct upstream *up)
{
    size_t n = up->table ? (up->tmask + 1) * 2 : 64;
    struct ureq **t = calloc(n, sizeof(*t));
    if (t == NULL) return JUNO_ENOMEM;
    if (up->table) {
        for (size_t i = 0; i <= up->tmask; i++) {
            for (struct ureq *u = up->table[i], *nx; u; u = nx) {
                nx = u->hnext;
                u->hnext = t[u->opaque & (n - 1)];
                t[u->opaque & (n - 1)] = u;
            }
        }
    }
    free(up->table);
    up->table = t;
    up->tmask = n - 1;
    return 0;
}

static void
up_unlink(struct upstream *up, struct ureq *u)
{
    struct ureq **pp = &up->table[u->opaque & up->tmask];
    while (*pp && *pp != u) pp = &(*pp)->hnext;
    if (*pp) *pp = u->hnext;
    if (u->prev)
        u->prev->next = u->next;
    else
        up->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    else
        up->tail = u->prev;
    u->prev = u->next = u->hnext = NULL;
    u->up = NULL;
    up->count--;
}

static struct ureq *
up_find(struct upstream *up, uint32_t opaque)
{
    if (up->table == NULL) return NULL;
    for (struct ureq *u = up->table[opaque & up->tmask]; u; u = u->hnext)
        if (u->opaque == opaque) return u;
    return NULL;
}

/* A retired upstream closes once nothing is in flight. */
static void
up_maybe_close_retired(struct upstream *up)
{
    if (!up->retired || up->count > 0 || up->state == UP_CLOSED) return;
    if (!up->w->draining)
        log_info("store connection closed: no longer in the map addr=%s thread=%u", up->addr,
                 up->w->id);
    up->state = UP_CLOSED;
    up_close_tcp(up);
    uv_close((uv_handle_t *)&up->retry_timer, up_on_handle_close);
    uv_close((uv_handle_t *)&up->req_timer, up_on_handle_close);
    if (up->gai_busy) uv_cancel((uv_req_t *)&up->gai);
    up_free_if_done(up);
}

/* ---- marking down ---- */

/* Keep juno_proxy_store_down in step with whether this thread skips the store. */
static void
up_pm_down(struct upstream *up)
{
    int down = up->marked || up->etcd_down;
    if (down == up->pm_down) return;
    up->pm_down = down;
    pmetrics_store_down(up->w, &up->pm, down ? 1 : -1);
}

static void
up_mark_down(struct upstream *up, const char *why)
{
    uint64_t now = uv_now(&up->w->loop);
    up->down_until = now + PROXY_DOWN_MS;
    if (up->marked) return;
    up->marked = 1;
    up->marked_at = now;
    up_pm_down(up);
    log_warn("store marked down addr=%s thread=%u reason=\"%s\" for_ms=%d", up->addr, up->w->id,
             why, PROXY_DOWN_MS);
}

static void
up_mark_up(struct upstream *up)
{
    up->timeouts_in_row = 0;
    up->down_until = 0;
    if (!up->marked) return;
    up->marked = 0;
    up_pm_down(up);
    log_info("store recovered addr=%s thread=%u down_ms=%llu", up->addr, up->w->id,
             (unsigned long long)(uv_now(&up->w->loop) - up->marked_at));
}

void
upstream_set_down(struct upstream *up, int down)
{
    if (up->etcd_down == down) return;
    up->etcd_down = down;
    up_pm_down(up);
    if (down)
        log_warn("store marked down addr=%s thread=%u reason=\"etcd: unregistered or zone down\"",
                 up->addr, up->w->id);
    else
        log_info("store back up addr=%s thread=%u reason=\"etcd: registered\"", up->addr,
                 up->w->id);
    if (!down && up->state == UP_IDLE && !up->retired) { /* it is back: reconnect now */
        up->backoff_ms = PROXY_BACKOFF_MIN_MS;
        uv_timer_start(&up->retry_timer, up_on_retry, 0, 0);
    }
}

/* ---- timeouts ---- */

static void
up_arm_timer(struct upstream *up)
{
    if (up->state == UP_CLOSED) return;
    if (up->head == NULL) {
        uv_timer_stop(&up->req_timer);
        return;
    }
    uint64_t now = uv_now(&up->w->loop);
    uint64_t in = up->head->deadline > now ? up->head->deadline - now : 0;
    uv_timer_start(&up->req_timer, up_on_req_timer, in, 0);
}

static void
up_on_req_timer(uv_timer_t *t)
{
    struct upstream *up = t->data;
    uint64_t now = uv_now(&up->w->loop);
    int expired = 0;
    while (up->head && up->head->deadline <= now) {
        struct ureq *u = up->head;
        up_unlink(up, u);
        expired++;
        pmetrics_storage(up->w, &up->pm, PM_TIMEOUT);
        if (++up->timeouts_in_row >= PROXY_DOWN_TIMEOUTS) up_mark_down(up, "requests timed out");
        u->cb(u, JUNO_ETIMEDOUT, NULL);
    }
    if (expired) log_debug("storage requests timed out addr=%s count=%d", up->addr, expired);
    if (up->state == UP_CLOSED) return;
    if (up->head) {
        uint64_t in = up->head->deadline > now ? up->head->deadline - now : 0;
        uv_timer_start(&up->req_timer, up_on_req_timer, in, 0);
    }
    up_maybe_close_retired(up);
}

/* ---- failing a connection ---- */

static void
up_fail_all(struct upstream *up, int err)
{
    while (up->head) {
        struct ureq *u = up->head;
        up_unlink(up, u);
        if (err != JUNO_ECANCELED) pmetrics_storage(up->w, &up->pm, PM_FAILED);
        u->cb(u, err, NULL);
    }
}

static void
up_on_retry(uv_timer_t *t)
{
    struct upstream *up = t->data;
    if (up->state != UP_IDLE || up->retired) return;
    if (up->tcp_open) { /* the old handle is still closing */
        uv_timer_start(&up->retry_timer, up_on_retry, 10, 0);
        return;
    }
    up_connect(up);
}

/* The connection is lost or never came up: fail what is in flight, mark the
 * store down and schedule a reconnect. */
static void
up_fail(struct upstream *up, const char *why, int err)
{
    if (up->state == UP_CLOSED || up->state == UP_IDLE) return;
    int was_connected = up->state == UP_CONNECTED;
    up->state = UP_IDLE;
    up_close_tcp(up);
    up->out.len = 0;
    up->in.len = 0;
    up->need = 0;
    if (was_connected || !up->marked)
        log_debug("store connection failed addr=%s thread=%u reason=\"%s\"", up->addr, up->w->id,
                  why);
    up_mark_down(up, why);
    uv_timer_stop(&up->req_timer);
    up_fail_all(up, err);
    if (up->state == UP_CLOSED) return; /* a callback retired it */
    if (up->retired) {
        up_maybe_close_retired(up);
        return;
    }
    uv_timer_start(&up->retry_timer, up_on_retry, up->backoff_ms, 0);
    up->backoff_ms *= 2;
    if (up->backoff_ms > PROXY_BACKOFF_MAX_MS) up->backoff_ms = PROXY_BACKOFF_MAX_MS;
}

/* ---- reading answers ---- */

static void
up_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct upstream *up = h->data;
    size_t want = up->need > up->in.len + UP_READ_CHUNK ? up->need - up->in.len : UP_READ_CHUNK;
    if (buf_reserve(&up->in, want) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)up->in.data + up->in.len, (unsigned)(up->in.cap - up->in.len));
}

static void
up_process(struct upstream *up)
{
    size_t off = 0;
    up->need = 0;
    while (up->state == UP_CONNECTED) {
        uint32_t flen;
        const char *why = NULL;
        int rc = wire_frame(up->in.data + off, up->in.len - off, UP_MAX_FRAME, &flen, &why);
        if (rc == WIRE_AGAIN) {
            if (up->in.len - off >= 8) {
                const uint8_t *p = up->in.data + off + 4;
                up->need = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            }
            break;
        }
        if (rc == WIRE_ERROR) {
            log_error("bad frame from store addr=%s reason=\"%s\"", up->addr, why);
            up_fail(up, why, JUNO_EPROTO);
            return;
        }
        struct wire_msg m;
        if (wire_decode(up->in.data + off, flen, &m) != WIRE_ST_OK) {
            log_error("undecodable answer from store addr=%s opaque=%u", up->addr, m.opaque);
            up_fail(up, "undecodable answer", JUNO_EPROTO);
            return;
        }
        off += flen;
        struct ureq *u = up_find(up, m.opaque);
        if (u == NULL) {
            log_debug("late answer dropped addr=%s opaque=%u op=%s", up->addr, m.opaque,
                      wire_opcode_name(m.opcode));
            continue;
        }
        up_unlink(up, u);
        up_mark_up(up);
        pmetrics_storage(up->w, &up->pm, PM_ANSWERED);
        u->cb(u, 0, &m); /* m borrows from rbuf, which stays put during the call */
    }
    if (up->state != UP_CONNECTED) return;
    buf_consume(&up->in, off);
    if (up->need < UP_READ_CHUNK) buf_trim(&up->in, UP_READ_CHUNK);
    up_arm_timer(up);
    up_maybe_close_retired(up);
}

static void
up_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct upstream *up = st->data;
    if (up->state != UP_CONNECTED) return;
    if (n == UV_ENOBUFS) {
        up_fail(up, "out of memory", JUNO_ENOMEM);
        return;
    }
    if (n < 0) {
        up_fail(up, n == UV_EOF ? "connection closed by the store" : uv_strerror((int)n),
                JUNO_ECONNRESET);
        return;
    }
    up->in.len += (size_t)n;
    up_process(up);
}

/* ---- writing ---- */

static void
up_on_write(void *ctx, int status)
{
    struct upstream *up = ctx;
    up->writes--;
    if (status < 0 && status != UV_ECANCELED && up->state == UP_CONNECTED)
        up_fail(up, uv_strerror(status), JUNO_ECONNRESET);
    up_free_if_done(up);
}

static void
up_flush(struct upstream *up)
{
    if (up->state != UP_CONNECTED || up->out.len == 0) return;
    int rc = uvout_send((uv_stream_t *)&up->tcp, &up->out, up, up_on_write);
    if (rc == 1)
        up->writes++;
    else if (rc < 0)
        up_fail(up, uv_strerror(rc), JUNO_ECONNRESET);
}

void
upstream_flush_all(struct worker *w)
{
    while (w->dirty_ups) {
        struct upstream *up = w->dirty_ups;
        w->dirty_ups = up->dirty_next;
        up->dirty = 0;
        up_flush(up);
    }
}

static void
up_mark_dirty(struct upstream *up)
{
    if (up->dirty) return;
    up->dirty = 1;
    up->dirty_next = up->w->dirty_ups;
    up->w->dirty_ups = up;
}

static int
up_send(struct upstream *up, struct ureq *u, struct wire_msg *req)
{
    uint64_t now = uv_now(&up->w->loop);
    if (up->retired || (up->state != UP_CONNECTED && up->state != UP_CONNECTING) ||
        now < up->down_until || up->etcd_down)
        return JUNO_EUNAVAIL;
    if (up->table == NULL || up->count >= up->tmask + 1) {
        if (up_table_grow(up) != 0) return JUNO_EUNAVAIL;
    }
    req->opaque = up->next_opaque++;
    size_t n = wire_encoded_size(req);
    if (n == 0) return JUNO_EUNAVAIL;
    if (buf_reserve(&up->out, n) != 0) return JUNO_EUNAVAIL;
    int len = wire_encode(req, up->out.data + up->out.len, up->out.cap - up->out.len);
    if (len < 0) return JUNO_EUNAVAIL;
    up->out.len += (size_t)len;
    u->opaque = req->opaque;
    u->deadline = now + up->w->p->cfg.request_timeout_ms;
    u->up = up;
    u->hnext = up->table[u->opaque & up->tmask];
    up->table[u->opaque & up->tmask] = u;
    u->next = NULL;
    u->prev = up->tail;
    if (up->tail)
        up->tail->next = u;
    else
        up->head = u;
    up->tail = u;
    up->count++;
    if (!uv_is_active((uv_handle_t *)&up->req_timer))
        uv_timer_start(&up->req_timer, up_on_req_timer, up->w->p->cfg.request_timeout_ms, 0);
    if (up->state == UP_CONNECTED) up_mark_dirty(up);
    return 0;
}

int
upstream_send(struct upstream *up, struct ureq *u, struct wire_msg *req)
{
    int rc = up_send(up, u, req);
    if (rc != 0) pmetrics_storage(up->w, &up->pm, PM_UNAVAILABLE);
    return rc;
}

/* ---- connecting ---- */

static void
up_on_connect(uv_connect_t *req, int status)
{
    struct upstream *up = req->data;
    if (status == UV_ECANCELED || up->state != UP_CONNECTING) return;
    uv_timer_stop(&up->retry_timer);
    if (status < 0) {
        up_fail(up, uv_strerror(status), JUNO_ECONNREFUSED);
        route_maybe_swap(up->w);
        return;
    }
    up->state = UP_CONNECTED;
    up->backoff_ms = PROXY_BACKOFF_MIN_MS;
    uv_tcp_nodelay(&up->tcp, 1);
    uv_read_start((uv_stream_t *)&up->tcp, up_on_alloc, up_on_read);
    if (up->marked)
        up_mark_up(up);
    else
        log_info("store connected addr=%s thread=%u", up->addr, up->w->id);
    up->timeouts_in_row = 0;
    if (up->out.len > 0) up_mark_dirty(up);
    route_maybe_swap(up->w);
}

static void
up_on_connect_timeout(uv_timer_t *t)
{
    struct upstream *up = t->data;
    if (up->state == UP_CONNECTING) up_fail(up, "connect timed out", JUNO_ETIMEDOUT);
    route_maybe_swap(up->w);
}

static void
up_connect_addr(struct upstream *up, const struct sockaddr *sa)
{
    uv_tcp_init(&up->w->loop, &up->tcp);
    up->tcp.data = up;
    up->tcp_open = 1;
    up->handles++;
    up->creq.data = up;
    int rc = uv_tcp_connect(&up->creq, &up->tcp, sa, up_on_connect);
    if (rc < 0) {
        up_fail(up, uv_strerror(rc), JUNO_ECONNREFUSED);
        return;
    }
    uint64_t ct = up->w->p->cfg.request_timeout_ms * 2;
    uv_timer_start(&up->retry_timer, up_on_connect_timeout, ct < 1000 ? 1000 : ct, 0);
}

static void
up_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct upstream *up = req->data;
    up->gai_busy = 0;
    if (up->state != UP_CONNECTING) {
        if (res) uv_freeaddrinfo(res);
        up_free_if_done(up);
        return;
    }
    if (status < 0 || res == NULL) {
        if (res) uv_freeaddrinfo(res);
        up_fail(up, status < 0 ? uv_strerror(status) : "no address", JUNO_ENOTFOUND);
        route_maybe_swap(up->w);
        return;
    }
    up_connect_addr(up, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void
up_connect(struct upstream *up)
{
    up->state = UP_CONNECTING;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(up->host, up->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(up->host, up->port, (struct sockaddr_in6 *)&ss) == 0) {
        up_connect_addr(up, (struct sockaddr *)&ss);
        return;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", up->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    up->gai.data = up;
    if (uv_getaddrinfo(&up->w->loop, &up->gai, up_on_resolved, up->host, port, &hints) == 0)
        up->gai_busy = 1;
    else
        up_fail(up, "cannot resolve", JUNO_ENOTFOUND);
}

/* ---- lifetime ---- */

struct upstream *
upstream_get(struct worker *w, const char *addr)
{
    uint64_t h = addr_hash(addr);
    for (struct upstream *up = w->up_buckets[h & (w->nbuckets - 1)]; up; up = up->hnext)
        if (strcmp(up->addr, addr) == 0) return up;
    struct upstream *up = calloc(1, sizeof(*up));
    if (up == NULL) return NULL;
    if (cli_parse_hostport(addr, up->host, sizeof(up->host), &up->port) != 0) {
        free(up);
        return NULL;
    }
    up->w = w;
    snprintf(up->addr, sizeof(up->addr), "%s", addr);
    pmetrics_store_init(w, up->addr, &up->pm);
    up->backoff_ms = PROXY_BACKOFF_MIN_MS;
    up->next_opaque = 1;
    uv_timer_init(&w->loop, &up->retry_timer);
    uv_timer_init(&w->loop, &up->req_timer);
    up->retry_timer.data = up->req_timer.data = up;
    up->handles = 2;
    up->hnext = w->up_buckets[h & (w->nbuckets - 1)];
    w->up_buckets[h & (w->nbuckets - 1)] = up;
    up->next = w->ups;
    if (w->ups) w->ups->prev = up;
    w->ups = up;
    up_connect(up);
    return up;
}

void
upstream_route_ref(struct upstream *up)
{
    up->routes++;
}

void
upstream_route_unref(struct upstream *up)
{
    if (--up->routes > 0) return;
    struct worker *w = up->w;
    struct upstream **pp = &w->up_buckets[addr_hash(up->addr) & (w->nbuckets - 1)];
    while (*pp && *pp != up) pp = &(*pp)->hnext;
    if (*pp) *pp = up->hnext;
    up->retired = 1;
    uv_timer_stop(&up->retry_timer);
    up_maybe_close_retired(up);
}

void
upstream_close_all(struct worker *w)
{
    for (struct upstream *up = w->ups; up; up = up->next) {
        if (up->state == UP_CLOSED) continue;
        up->retired = 1;
        up->state = UP_CLOSED; /* callbacks below cannot send to it or close it twice */
        up_fail_all(up, JUNO_ECANCELED);
        up_close_tcp(up);
        uv_close((uv_handle_t *)&up->retry_timer, up_on_handle_close);
        uv_close((uv_handle_t *)&up->req_timer, up_on_handle_close);
        if (up->gai_busy) uv_cancel((uv_req_t *)&up->gai);
    }
}
