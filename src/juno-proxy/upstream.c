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
 * dropped. PROXY_DOWN_TIMEOUTS timeouts in a row (which also close the
 * connection), or a failed connection, mark the store down for PROXY_DOWN_MS:
 * upstream_send refuses at once and the request counts that replica as
 * failed. Reconnects back off from 50 ms to 2 s.
 *
 * An upstream lives while a route refers to it; once no route does (the store
 * left the map) it is closed as soon as nothing is in flight on it. Memory is
 * freed only after its timers' close callbacks. The connection itself is a
 * lib/conn outgoing one (in w->ups): requests are written once per loop turn;
 * a connection that failed is closed and forgotten, and a new one is made
 * for the reconnect.
 */
#include "pmetrics.h"
#include "proxy.h"

#include "cli.h"
#include "conn.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define UP_MAX_FRAME (64u << 20)

enum up_state { UP_IDLE, UP_CONNECTING, UP_CONNECTED, UP_CLOSED };

struct upstream {
    struct worker *w;
    struct upstream *prev, *next; /* w->upstreams */
    struct upstream *hnext;       /* w->up_buckets chain (not when retired) */
    char addr[MAP_ADDR_MAX + 1];
    char host[MAP_ADDR_MAX + 1];
    uint16_t port;
    enum up_state state;
    struct conn *c;         /* CONNECTING, CONNECTED: the connection; else NULL */
    struct tls_ctx *tls;    /* borrowed: the proxy's (p->up_tls, p->xdc_tls), or NULL */
    uv_timer_t retry_timer; /* reconnect backoff, connect timeout */
    uv_timer_t req_timer;   /* the oldest request's deadline (or earlier) */
    int handles;            /* open timers */
    int routes;             /* routes that refer to it */
    int retired;            /* in no route: close once idle */
    uint64_t backoff_ms;
    uint64_t down_until; /* uv_now ms */
    uint64_t marked_at;
    unsigned timeouts_in_row;
    int marked;    /* logged as down, not yet as recovered */
    int timed_out; /* marked down for timeouts: a new connection is no sign of life */
    int etcd_down; /* upstream_set_down: skipped until set up again */
    uint32_t next_opaque;
    struct ureq **table; /* owned: opaque hash, tmask + 1 buckets */
    size_t tmask, count;
    struct ureq *head, *tail;
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
    if (up->state != UP_CLOSED || up->handles > 0) return;
    struct worker *w = up->w;
    if (up->pm_down) pmetrics_store_down(w, &up->pm, -1);
    if (up->prev)
        up->prev->next = up->next;
    else
        w->upstreams = up->next;
    if (up->next) up->next->prev = up->prev;
    free(up->table);
    free(up);
    worker_maybe_finish(w);
}

static void
up_on_handle_close(uv_handle_t *h)
{
    struct upstream *up = h->data;
    up->handles--;
    up_free_if_done(up);
}

/* Close the connection (what it had not written is dropped) and forget it. */
static void
up_close_conn(struct upstream *up)
{
    if (up->c == NULL) return;
    conn_close(up->c);
    up->c = NULL;
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
    up_close_conn(up);
    uv_close((uv_handle_t *)&up->retry_timer, up_on_handle_close);
    uv_close((uv_handle_t *)&up->req_timer, up_on_handle_close);
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
    up->timed_out = 0;
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

/* ---- timeouts ----
 *
 * The timer is armed for the oldest request when the first one is sent;
 * answers do not move it (no timer operation per answer): when it fires it
 * fails what is past its deadline and is armed again for the oldest left. */

static void
up_on_req_timer(uv_timer_t *t)
{
    struct upstream *up = t->data;
    uint64_t now = uv_now(&up->w->loop);
    int expired = 0, down = 0;
    while (up->head && up->head->deadline <= now) {
        struct ureq *u = up->head;
        up_unlink(up, u);
        expired++;
        pmetrics_storage(up->w, &up->pm, PM_TIMEOUT);
        if (++up->timeouts_in_row >= PROXY_DOWN_TIMEOUTS) down = 1;
        u->cb(u, JUNO_ETIMEDOUT, NULL);
    }
    if (expired) log_debug("storage requests timed out addr=%s count=%d", up->addr, expired);
    if (up->state == UP_CLOSED) return;
    if (down) {
        up->timed_out = 1;
        /* Drop the connection too: behind a partition its unacknowledged
         * bytes back off in TCP's retransmission for seconds after the
         * network heals, and every request queued behind them waits; a new
         * connection (reconnects back off to 2 s) starts clean. */
        up_fail(up, "requests timed out", JUNO_ETIMEDOUT);
        return;
    }
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
    up_close_conn(up);
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

/* ---- the connection's protocol ---- */

/* One answer. */
static void
up_handle(struct conn *c, const uint8_t *frame, size_t len)
{
    struct upstream *up = c->data;
    struct wire_msg m;
    if (wire_decode(frame, (uint32_t)len, &m) != WIRE_ST_OK) {
        log_error("undecodable answer from store addr=%s opaque=%u", up->addr, m.opaque);
        up_fail(up, "undecodable answer", JUNO_EPROTO);
        return;
    }
    struct ureq *u = up_find(up, m.opaque);
    if (u == NULL) {
        log_debug("late answer dropped addr=%s opaque=%u op=%s", up->addr, m.opaque,
                  wire_opcode_name(m.opcode));
        return;
    }
    up_unlink(up, u);
    up_mark_up(up);
    pmetrics_storage(up->w, &up->pm, PM_ANSWERED);
    u->cb(u, 0, &m); /* m borrows from the connection's buffer, which stays put meanwhile */
    if (up->retired) up_maybe_close_retired(up);
}

static void
up_bad_frame(struct conn *c, const char *why)
{
    struct upstream *up = c->data;
    log_error("bad frame from store addr=%s reason=\"%s\"", up->addr, why);
    up_fail(up, why, JUNO_EPROTO);
}

static void
up_connected(struct conn *c)
{
    struct upstream *up = c->data;
    uv_timer_stop(&up->retry_timer);
    up->state = UP_CONNECTED;
    up->backoff_ms = PROXY_BACKOFF_MIN_MS;
    /* marked down for timeouts, it is up once it answers (after down_until):
     * the kernel of a frozen process still accepts connections */
    if (up->marked && !up->timed_out)
        up_mark_up(up);
    else if (!up->marked)
        log_info("store connected addr=%s thread=%u", up->addr, up->w->id);
    up->timeouts_in_row = 0;
    route_maybe_swap(up->w);
}

/* The connection could not be made, or is lost (it is closing already). */
static void
up_failed(struct conn *c, int err, const char *why)
{
    struct upstream *up = c->data;
    up->c = NULL;
    if (up->state == UP_CONNECTING) {
        uv_timer_stop(&up->retry_timer);
        up_fail(up, why, err == JUNO_ENOTFOUND ? JUNO_ENOTFOUND : JUNO_ECONNREFUSED);
        route_maybe_swap(up->w);
    } else if (err == JUNO_EOF) {
        up_fail(up, "connection closed by the store", JUNO_ECONNRESET);
    } else {
        up_fail(up, why, err == JUNO_ENOMEM ? JUNO_ENOMEM : JUNO_ECONNRESET);
    }
}

static void
up_tls_refused(struct conn *c, int reason)
{
    struct upstream *up = c->data;
    pmetrics_tls_refused(up->w, PM_UPSTREAM, reason);
}

static const struct conn_proto up_proto = {
    .what = "store connection",
    .frame = conn_wire_frame,
    .handle = up_handle,
    .bad_frame = up_bad_frame,
    .connected = up_connected,
    .failed = up_failed,
    .tls_refused = up_tls_refused,
};

/* ---- sending ---- */

static int
up_send(struct upstream *up, struct ureq *u, struct wire_msg *req)
{
    uint64_t now = uv_now(&up->w->loop);
    if (up->retired || up->c == NULL || now < up->down_until || up->etcd_down) return JUNO_EUNAVAIL;
    if (up->table == NULL || up->count >= up->tmask + 1) {
        if (up_table_grow(up) != 0) return JUNO_EUNAVAIL;
    }
    req->opaque = up->next_opaque++;
    size_t n = wire_encoded_size(req);
    if (n == 0) return JUNO_EUNAVAIL;
    uint8_t *p = conn_reserve(up->c, n); /* written once connected, and once per turn */
    if (p == NULL) return JUNO_EUNAVAIL;
    struct buf *out = conn_out(up->c);
    int len = wire_encode(req, p, out->cap - out->len);
    if (len < 0) return JUNO_EUNAVAIL;
    out->len += (size_t)len;
    u->opaque = req->opaque;
    /* A large request gets more time, and those queued behind it on the
     * connection as much: deadlines stay in send order for the timer. */
    u->deadline = now + up->w->p->cfg.request_timeout_ms + PROXY_SIZE_SLACK_MS(n);
    if (up->tail && up->tail->deadline > u->deadline) u->deadline = up->tail->deadline;
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
up_on_connect_timeout(uv_timer_t *t)
{
    struct upstream *up = t->data;
    if (up->state == UP_CONNECTING) up_fail(up, "connect timed out", JUNO_ETIMEDOUT);
    route_maybe_swap(up->w);
}

static void
up_connect(struct upstream *up)
{
    up->state = UP_CONNECTING;
    struct conn_limits lim = {.max_frame = UP_MAX_FRAME};
    int rc = conn_connect(&up->w->ups, &up_proto, &lim, up->host, up->port, up->tls, up, &up->c);
    if (rc != 0) {
        up->c = NULL;
        up_fail(up, error_str(rc), JUNO_ECONNREFUSED);
        return;
    }
    uint64_t ct = up->w->p->cfg.request_timeout_ms * 2;
    uv_timer_start(&up->retry_timer, up_on_connect_timeout, ct < 1000 ? 1000 : ct, 0);
}

/* ---- lifetime ---- */

struct upstream *
upstream_get(struct worker *w, const char *addr)
{
    return upstream_get_tls(w, addr, w->p->up_tls);
}

struct upstream *
upstream_get_tls(struct worker *w, const char *addr, struct tls_ctx *tls)
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
    up->tls = tls;
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
    up->next = w->upstreams;
    if (w->upstreams) w->upstreams->prev = up;
    w->upstreams = up;
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
    for (struct upstream *up = w->upstreams; up; up = up->next) {
        if (up->state == UP_CLOSED) continue;
        up->retired = 1;
        up->state = UP_CLOSED; /* callbacks below cannot send to it or close it twice */
        up_fail_all(up, JUNO_ECANCELED);
        up_close_conn(up);
        uv_close((uv_handle_t *)&up->retry_timer, up_on_handle_close);
        uv_close((uv_handle_t *)&up->req_timer, up_on_handle_close);
    }
}
