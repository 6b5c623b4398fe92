/* conn.c: a connection's reading, framing, replies, backpressure, lingering
 * and lifetime (see conn.h); accepting is conn_listen.c, connecting
 * conn_connect.c, TLS conn_tls.c.
 *
 * A connection is on its group's list from creation until conn_close. Its
 * state is a few flags:
 *
 *   reading      uv_read_start is on: not closing, lingering, held or
 *                draining, and under the backpressure bounds
 *   lingering    no more reading or handling; closes once nothing is due
 *   held         no more handling until conn_release (then reprocess: the
 *                buffered frames are handled at the next flush)
 *   established  application data may flow (plaintext: from the start of an
 *                accepted connection, from connect for an outgoing one; TLS:
 *                after the handshake). Output queued before waits.
 *   handshaking  a TLS handshake is under way (its deadline runs)
 *   closing      conn_close ran; closed once the handle's callback ran
 */
#include "conn_int.h"

#include "error.h"
#include "log.h"
#include "tls.h"
#include "uvout.h"

#include <stdlib.h>
#include <string.h>

/* ---- groups ---- */

void
conn_group_init(struct conn_group *g, uv_loop_t *loop, void *data)
{
    memset(g, 0, sizeof(*g));
    g->loop = loop;
    g->data = data;
}

void
conn_group_deinit(struct conn_group *g)
{
    free(g->scratch);
    g->scratch = NULL;
}

struct conn *
conn__new(struct conn_group *g, const struct conn_proto *proto, const struct conn_limits *lim,
          void *data)
{
    size_t size = proto->size > sizeof(struct conn) ? proto->size : sizeof(struct conn);
    struct conn *c = calloc(1, size);
    if (c == NULL) return NULL;
    c->g = g;
    c->proto = proto;
    c->data = data;
    if (lim != NULL) c->lim = *lim;
    uv_tcp_init(g->loop, &c->tcp);
    c->tcp.data = c;
    c->last_active = uv_now(g->loop);
    c->next = g->conns;
    if (g->conns) g->conns->prev = c;
    g->conns = c;
    g->nconns++;
    return c;
}

/* ---- lifetime ---- */

static uint64_t
conn__backlog(const struct conn *c)
{
    return c->proto->backlog ? c->proto->backlog(c) : c->refs;
}

/* Bytes not yet written: buffered, and queued in libuv by uv_write. */
static size_t
conn__unsent(const struct conn *c)
{
    return c->out.len + c->tout.len + c->tcp.write_queue_size;
}

size_t
conn_pending_output(const struct conn *c)
{
    return conn__unsent(c);
}

void
conn__free_if_done(struct conn *c)
{
    if (!c->closed || c->refs > 0 || c->writes > 0 || c->resolving) return;
    struct conn_group *g = c->g;
    if (c->proto->free) c->proto->free(c);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->tout);
    tls_destroy(c->tls);
    free(c->gai);
    free(c);
    g->nconns--;
    if (g->progress) g->progress(g);
}

static void
conn__on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->closed = 1;
    conn__free_if_done(c);
}

static void conn__unkeep(struct conn *c);

void
conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    struct conn_group *g = c->g;
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->dirty) {
        struct conn **pp = &g->dirty;
        while (*pp && *pp != c) pp = &(*pp)->dirty_next;
        if (*pp) *pp = c->dirty_next;
        c->dirty = 0;
    }
    conn__unkeep(c);
    if (c->handshaking && c->l) c->l->handshakes--;
    c->handshaking = 0;
    if (c->opened && c->proto->close) c->proto->close(c);
    if (c->tls && c->established) conn__tls_close_notify(c);
    if (c->resolving) uv_cancel((uv_req_t *)c->gai);
    c->reading = 0;
    uv_close((uv_handle_t *)&c->tcp, conn__on_close);
}

void
conn__fail(struct conn *c, int err, const char *why)
{
    if (c->closing) return;
    conn_close(c);
    if (c->proto->failed) {
        c->proto->failed(c, err, why);
    } else if (err == JUNO_ENOMEM) {
        log_error("out of memory, closing %s peer=%s", c->proto->what, c->peer);
    } else {
        log_debug("%s error, closing peer=%s error=\"%s\"", c->proto->what, c->peer, why);
    }
}

void
conn_ref(struct conn *c)
{
    c->refs++;
    c->g->refs++;
}

/* A lingering connection closes once everything due is written. */
static void
conn__linger_check(struct conn *c)
{
    if (c->lingering && !c->closing && c->refs == 0 && c->out.len == 0 && c->tout.len == 0 &&
        c->writes == 0 && conn__backlog(c) == 0)
        conn_close(c);
}

/* ---- reading ---- */

static int
conn__draining(const struct conn *c)
{
    return c->l != NULL && c->l->draining;
}

static void
conn__stop_reading(struct conn *c)
{
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* Read again when nothing holds reading back and the backlog is below half
 * of the bounds. */
static void
conn__maybe_read(struct conn *c)
{
    if (c->reading || c->closing || c->lingering || c->held || c->connecting || c->resolving ||
        conn__draining(c))
        return;
    if (c->lim.max_backlog && conn__backlog(c) > c->lim.max_backlog / 2) return;
    if (conn__unsent(c) >= CONN_OUT_HIGH / 2) return;
    conn__start_reading(c);
}

void
conn_unref(struct conn *c)
{
    c->refs--;
    c->g->refs--;
    if (c->closing) {
        conn__free_if_done(c);
        return;
    }
    if (!c->reading) conn__maybe_read(c);
    if (c->lingering) conn__linger_check(c);
}

void
conn_update(struct conn *c)
{
    if (c->closing) return;
    conn__maybe_read(c);
    conn__linger_check(c);
}

void
conn_linger(struct conn *c)
{
    c->lingering = 1;
    conn__stop_reading(c);
    conn__linger_check(c);
}

void
conn_hold(struct conn *c)
{
    c->held = 1;
    conn__stop_reading(c);
}

void
conn_dirty(struct conn *c)
{
    if (c->dirty || c->closing) return;
    c->dirty = 1;
    c->dirty_next = c->g->dirty;
    c->g->dirty = c;
}

void
conn_release(struct conn *c)
{
    c->held = 0;
    c->reprocess = 1;
    conn_dirty(c);
}

void
conn__process(struct conn *c)
{
    const struct conn_proto *p = c->proto;
    size_t off = 0;
    c->need = 0;
    c->t0 = uv_hrtime();
    c->batch++;
    while (off < c->in.len && !c->closing && !c->lingering && !c->held && !conn__draining(c)) {
        size_t flen = 0, need = 0;
        const char *why = NULL;
        int rc = p->frame(c, c->in.data + off, c->in.len - off, &flen, &need, &why);
        if (rc == CONN_FRAME_AGAIN) {
            c->need = need;
            break;
        }
        if (rc != CONN_FRAME_OK) {
            if (p->bad_frame) p->bad_frame(c, why ? why : "bad frame");
            if (!c->closing) conn_linger(c); /* the replies due before it still go out */
            break;
        }
        p->handle(c, c->in.data + off, flen);
        off += flen;
    }
    if (c->closing) return;
    if (c->lingering) { /* nothing after a bad frame or QUIT is read */
        c->in.len = 0;
        c->partial_since = 0;
        conn__linger_check(c);
        return;
    }
    buf_consume(&c->in, off);
    if (c->in.len == 0)
        c->partial_since = 0;
    else if (c->partial_since == 0 || off > 0)
        c->partial_since = uv_now(c->g->loop);
    if (c->need < CONN_READ_CHUNK) buf_trim(&c->in, CONN_READ_CHUNK); /* a large frame's memory */
    if (c->reading && ((c->lim.max_backlog && conn__backlog(c) > c->lim.max_backlog) ||
                       conn__unsent(c) > CONN_OUT_HIGH))
        conn__stop_reading(c);
}

static void
conn__on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct conn *c = h->data;
    if (c->tls) { /* ciphertext: fed to the session at once, so one buffer serves the loop */
        if (c->g->scratch == NULL) c->g->scratch = malloc(CONN_READ_CHUNK);
        *b = uv_buf_init((char *)c->g->scratch, c->g->scratch ? CONN_READ_CHUNK : 0);
        return;
    }
    size_t want = c->need > c->in.len + CONN_READ_CHUNK ? c->need - c->in.len : CONN_READ_CHUNK;
    if (buf_reserve(&c->in, want) != 0) {
        *b = uv_buf_init(NULL, 0);
        return;
    }
    *b = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

void
conn__eof(struct conn *c)
{
    if (c->handshaking) {
        conn__tls_refuse(c, TLS_R_CLOSED, "the peer closed the connection during the handshake");
    } else if (c->proto->eof) {
        c->proto->eof(c);
    } else if (c->proto->failed) {
        conn__fail(c, JUNO_EOF, "connection closed by the peer");
    } else {
        if (c->in.len > 0)
            log_info("%s closed mid-message peer=%s bytes=%zu", c->proto->what, c->peer, c->in.len);
        conn_close(c);
    }
}

static void
conn__on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = st->data;
    if (n == 0 || c->closing) return;
    if (n == UV_ENOBUFS) {
        conn__fail(c, JUNO_ENOMEM, "out of memory reading");
        return;
    }
    if (n == UV_EOF) {
        conn__eof(c);
        return;
    }
    if (n < 0) {
        if (c->handshaking)
            conn__tls_refuse(c, TLS_R_CLOSED, uv_strerror((int)n));
        else
            conn__fail(c, (int)n, uv_strerror((int)n));
        return;
    }
    c->last_active = uv_now(c->g->loop);
    if (c->tls) {
        conn__tls_input(c, (const uint8_t *)b->base, (size_t)n);
        return;
    }
    c->in.len += (size_t)n;
    conn__process(c);
}

void
conn__start_reading(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, conn__on_alloc, conn__on_read) == 0) c->reading = 1;
}

/* ---- writing ---- */

uint8_t *
conn_reserve(struct conn *c, size_t n)
{
    if (c->closing) return NULL;
    if (buf_reserve(&c->out, n) != 0) {
        conn__fail(c, JUNO_ENOMEM, "out of memory for output");
        return NULL;
    }
    conn_dirty(c);
    return c->out.data + c->out.len;
}

static void
conn__on_write(void *ctx, int status)
{
    struct conn *c = ctx;
    c->writes--;
    if (status < 0 && !c->closing) conn__fail(c, status, uv_strerror(status));
    if (c->closing) {
        conn__free_if_done(c);
        return;
    }
    conn__linger_check(c);
    if (c->closing) return;
    if (!c->reading) conn__maybe_read(c);
    if (c->g->progress) c->g->progress(c->g);
}

/* Hand c's output to the socket: what it takes at once, one uv_write for the
 * rest (lib/uvout). */
static void
conn__send(struct conn *c)
{
    struct buf *o = &c->out;
    if (c->tls) { /* the turn's output as one encryption; handshake records before it */
        if (conn__tls_encrypt(c) != 0) return;
        o = &c->tout;
    } else if (!c->established) {
        return; /* sent once connected (conn__established) */
    }
    if (o->len > 0) {
        int rc = uvout_send((uv_stream_t *)&c->tcp, o, c, conn__on_write);
        if (rc < 0) {
            conn__fail(c, rc, uv_strerror(rc));
            return;
        }
        if (rc == 1) {
            c->writes++;
            return;
        }
    }
    conn__linger_check(c);
    if (!c->reading && !c->closing) conn__maybe_read(c);
}

void
conn__established(struct conn *c)
{
    c->established = 1;
    if (c->l == NULL && c->proto->connected) c->proto->connected(c);
    if (!c->closing && c->out.len > 0) conn_dirty(c);
}

/* c's output goes at this turn's flush, or is sent already: off g->kept
 * (the timer stops with the list empty). */
static void
conn__unkeep(struct conn *c)
{
    if (!c->gathering) return;
    struct conn_group *g = c->g;
    c->gathering = 0;
    if (c->kept_prev)
        c->kept_prev->kept_next = c->kept_next;
    else
        g->kept = c->kept_next;
    if (c->kept_next) c->kept_next->kept_prev = c->kept_prev;
    c->kept_prev = c->kept_next = NULL;
    if (g->kept == NULL) uv_timer_stop(g->gather_timer);
}

static void
conn__on_gather_timer(uv_timer_t *t)
{
    struct conn_group *g = t->data;
    unsigned n = 0;
    while (g->kept) {
        struct conn *c = g->kept;
        conn__unkeep(c);
        c->gather_due = 1;
        conn_dirty(c);
        n++;
    }
    if (n > 0 && g->gather_late) g->gather_late(g, n);
}

void
conn_group_gather(struct conn_group *g, uv_timer_t *t, uint64_t ms)
{
    t->data = g;
    g->gather_timer = ms > 0 ? t : NULL;
    g->gather_ms = ms;
}

/* Keep c's output back this turn (proto->gather): 1, with the timer armed
 * that sends it at the latest. */
static int
conn__gather(struct conn *c)
{
    uv_timer_t *t = c->g->gather_timer;
    if (c->gather_due || t == NULL || c->proto->gather == NULL || c->closing || c->lingering ||
        c->out.len == 0 || c->out.len >= CONN_GATHER_MAX || !c->proto->gather(c)) {
        conn__unkeep(c);
        c->gather_due = 0;
        return 0;
    }
    if (c->gathering) return 1;
    struct conn_group *g = c->g;
    c->gathering = 1;
    c->kept_next = g->kept;
    if (g->kept) g->kept->kept_prev = c;
    g->kept = c;
    if (!uv_is_active((uv_handle_t *)t)) uv_timer_start(t, conn__on_gather_timer, g->gather_ms, 0);
    return 1;
}

void
conn_group_flush(struct conn_group *g)
{
    while (g->dirty) {
        struct conn *c = g->dirty;
        g->dirty = c->dirty_next;
        c->dirty = 0;
        if (c->reprocess) { /* released: the frames that waited */
            c->reprocess = 0;
            conn__process(c);
            if (c->closing) continue;
            conn__maybe_read(c);
        }
        if (conn__gather(c)) continue;
        conn__send(c);
    }
}

int
conn_group_output_pending(const struct conn_group *g)
{
    if (g->dirty) return 1;
    for (const struct conn *c = g->conns; c; c = c->next)
        if (c->out.len > 0 || c->tout.len > 0 || c->writes > 0) return 1;
    return 0;
}

/* ---- deadlines ---- */

void
conn_group_sweep(struct conn_group *g)
{
    uint64_t now = uv_now(g->loop);
    for (struct conn *c = g->conns, *n; c; c = n) {
        n = c->next;
        if (c->handshaking && now - c->hs_start > c->hs_ms) {
            char why[80];
            snprintf(why, sizeof(why), "not finished within %llu ms", (unsigned long long)c->hs_ms);
            conn__tls_refuse(c, TLS_R_TIMEOUT, why);
        } else if (c->partial_since && !c->held && c->lim.frame_ms &&
                   now - c->partial_since > c->lim.frame_ms) {
            log_info("closing %s: message incomplete for %llu ms peer=%s bytes=%zu", c->proto->what,
                     (unsigned long long)c->lim.frame_ms, c->peer, c->in.len);
            conn_close(c);
        } else if (c->lim.idle_ms && c->refs == 0 && now - c->last_active > c->lim.idle_ms &&
                   conn__backlog(c) == 0) {
            log_debug("closing idle %s peer=%s", c->proto->what, c->peer);
            conn_close(c);
        }
    }
}

void
conn_group_close_all(struct conn_group *g)
{
    while (g->conns) conn_close(g->conns);
}
