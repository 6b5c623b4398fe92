/* server.c: juno-store's listener and connections.
 *
 * Bytes read are framed with wire_frame (a frame over --max-frame is refused
 * from its first 8 bytes, before any buffering), decoded, and handed to
 * ops_dispatch. Replies are appended to the connection's output buffer and
 * written once per loop turn (uv_check), so a pipelined burst of requests
 * costs one write. A connection with too much in flight stops reading until
 * its replies drain. A connection is freed only after its handle has closed
 * and no request or write still refers to it.
 */
#include "smetrics.h"
#include "store.h"

#include "buf.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "uvout.h"

#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (64 * 1024)
#define OUT_HIGH   (32u << 20) /* pause reading above this much unwritten output */

struct conn {
    uv_tcp_t tcp; /* embedded; the conn is freed after its close callback */
    struct store *s;
    struct conn *prev, *next; /* s->conns */
    struct conn *dirty_next;  /* s->dirty */
    int dirty, closing, closed, reading;
    int lingering;        /* a bad frame came: no more reading; close once replied */
    struct buf in;        /* bytes read, not yet handled */
    size_t need;          /* the frame being read needs this much */
    struct buf out;       /* encoded replies not yet handed to uv_write */
    uint64_t inflight;    /* requests not yet replied */
    size_t writes;        /* uv_write requests in flight */
    uint64_t last_active; /* uv_now */
    char peer[64];
};

static void server__maybe_finish(struct store *s);

struct store *
conn_store(struct conn *c)
{
    return c->s;
}

static void
conn__free_if_done(struct conn *c)
{
    if (!c->closed || c->inflight > 0 || c->writes > 0) return;
    struct store *s = c->s;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    server__maybe_finish(s);
}

static void
conn__on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->closed = 1;
    conn__free_if_done(c);
}

static void
conn__close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    smetrics_conn(-1);
    struct store *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->dirty) { /* unlink from the dirty list */
        struct conn **pp = &s->dirty;
        while (*pp && *pp != c) pp = &(*pp)->dirty_next;
        if (*pp) *pp = c->dirty_next;
        c->dirty = 0;
    }
    uv_close((uv_handle_t *)&c->tcp, conn__on_close);
}

void
conn_ref(struct conn *c)
{
    c->inflight++;
    c->s->inflight++;
}

static void conn__start_reading(struct conn *c);

/* A lingering connection closes once every request read before the bad frame
 * has its reply written. */
static void
conn__close_if_replied(struct conn *c)
{
    if (c->lingering && !c->closing && c->inflight == 0 && c->out.len == 0 && c->writes == 0)
        conn__close(c);
}

/* After a bad frame: read nothing more, but answer what came before it. */
static void
conn__linger(struct conn *c)
{
    c->lingering = 1;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    conn__close_if_replied(c);
}

void
conn_unref(struct conn *c)
{
    c->inflight--;
    c->s->inflight--;
    if (c->closing) {
        conn__free_if_done(c);
        return;
    }
    if (!c->reading && !c->lingering && !c->s->draining &&
        c->inflight <= c->s->cfg.max_inflight / 2 && c->out.len < OUT_HIGH / 2)
        conn__start_reading(c);
    conn__close_if_replied(c);
    server__maybe_finish(c->s);
}

void
conn_reply(struct conn *c, const struct wire_msg *m)
{
    smetrics_reply(m->opcode, m->status);
    if (c->closing) return;
    size_t n = wire_encoded_size(m);
    if (buf_reserve(&c->out, n) != 0) {
        log_error("out of memory for replies, closing peer=%s", c->peer);
        conn__close(c);
        return;
    }
    int w = wire_encode(m, c->out.data + c->out.len, c->out.cap - c->out.len);
    if (w < 0) {
        log_error("cannot encode reply op=%s: %s", wire_opcode_name(m->opcode), error_str(w));
        return;
    }
    c->out.len += (size_t)w;
    if (!c->dirty) {
        c->dirty = 1;
        c->dirty_next = c->s->dirty;
        c->s->dirty = c;
    }
}

static void
conn__on_write(void *ctx, int status)
{
    struct conn *c = ctx;
    c->writes--;
    if (status < 0 && !c->closing) {
        log_info("write failed, closing peer=%s error=%s", c->peer, uv_strerror(status));
        conn__close(c);
    }
    if (c->closing) {
        conn__free_if_done(c);
        return;
    }
    conn__close_if_replied(c);
    if (!c->closing) server__maybe_finish(c->s);
}

/* uv_check: hand each connection's coalesced replies to one uv_write. */
static void
server__on_check(uv_check_t *h)
{
    struct store *s = h->data;
    migrate_flush(s);                      /* forwarded writes and copied records */
    if (s->engine) engine_kick(s->engine); /* this turn's writes: one lock, one wakeup */
    migrate_flush(s); /* --memory: writes applied in the kick may have forwarded */
    while (s->dirty) {
        struct conn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = 0;
        if (c->out.len == 0 || c->closing) continue;
        int rc = uvout_send((uv_stream_t *)&c->tcp, &c->out, c, conn__on_write);
        if (rc == 1)
            c->writes++;
        else if (rc < 0)
            conn__close(c);
        else
            conn__close_if_replied(c);
    }
    server__maybe_finish(s);
}

static void
conn__on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    size_t want = c->need > c->in.len + READ_CHUNK ? c->need - c->in.len : READ_CHUNK;
    if (buf_reserve(&c->in, want) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void
conn__process(struct conn *c)
{
    struct store *s = c->s;
    size_t off = 0;
    c->need = 0;
    while (!c->closing && !s->draining) {
        uint32_t flen;
        const char *why = NULL;
        int rc = wire_frame(c->in.data + off, c->in.len - off, s->cfg.max_frame, &flen, &why);
        if (rc == WIRE_AGAIN) {
            if (c->in.len - off >= 8)
                c->need = (c->in.data[off + 4] << 24 | c->in.data[off + 5] << 16 |
                           c->in.data[off + 6] << 8 | c->in.data[off + 7]);
            break;
        }
        if (rc == WIRE_ERROR) {
            s->stats.bad_frames++;
            smetrics_bad_frame();
            log_warn("bad frame, closing connection peer=%s reason=\"%s\"", c->peer, why);
            conn__linger(c); /* the replies to the frames before it still go out */
            return;
        }
        struct wire_msg m;
        int st = wire_decode(c->in.data + off, flen, &m);
        s->stats.requests++;
        if (st != WIRE_ST_OK) {
            s->stats.errors++;
            log_warn("malformed message peer=%s opaque=%u op=%s", c->peer, m.opaque,
                     wire_opcode_name(m.opcode));
            struct wire_msg r = {.type_flag = WIRE_TF_RESPONSE,
                                 .opaque = m.opaque,
                                 .opcode = m.opcode,
                                 .status = (uint8_t)st};
            conn_reply(c, &r);
        } else {
            ops_dispatch(s, c, &m);
        }
        off += flen;
    }
    buf_consume(&c->in, off);
    if (c->need < READ_CHUNK) buf_trim(&c->in, READ_CHUNK); /* give back a large frame's buffer */
    if (c->reading && (c->inflight > s->cfg.max_inflight || c->out.len > OUT_HIGH)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void
conn__on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = st->data;
    if (n == UV_ENOBUFS) {
        log_error("out of memory reading, closing peer=%s", c->peer);
        conn__close(c);
        return;
    }
    if (n < 0) {
        if (n != UV_EOF)
            log_info("connection error peer=%s error=%s", c->peer, uv_strerror((int)n));
        else if (c->in.len > 0)
            log_warn("connection closed mid-frame peer=%s bytes=%zu", c->peer, c->in.len);
        conn__close(c);
        return;
    }
    if (n == 0) return;
    c->in.len += (size_t)n;
    c->last_active = uv_now(c->s->loop);
    conn__process(c);
}

static void
conn__start_reading(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, conn__on_alloc, conn__on_read) == 0) c->reading = 1;
}

static void
server__on_connection(uv_stream_t *listener, int status)
{
    struct store *s = listener->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("out of memory accepting a connection");
        return;
    }
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn__on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    net_peer_name(&c->tcp, c->peer, sizeof(c->peer));
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->stats.connections++;
    smetrics_conn(1);
    c->last_active = uv_now(s->loop);
    conn__start_reading(c);
}

/* Once a second: reclaim expired locks, close idle connections, finish a drain. */
static void
server__on_sweep(uv_timer_t *t)
{
    struct store *s = t->data;
    uint64_t now = uv_now(s->loop);
    locks_sweep(&s->locks, now);
    if (s->cfg.idle_timeout_s > 0) {
        for (struct conn *c = s->conns, *n; c; c = n) {
            n = c->next;
            if (c->inflight == 0 && now - c->last_active > s->cfg.idle_timeout_s * 1000) {
                log_info("closing idle connection peer=%s", c->peer);
                conn__close(c);
            }
        }
    }
    server__maybe_finish(s);
}

int
server_start(struct store *s, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        snprintf(err, errlen, "bad listen address %s: %s", s->cfg.listen_host, uv_strerror(rc));
        return JUNO_EINVAL;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 1024, server__on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", s->cfg.listen_host, s->cfg.listen_port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        return error_from_errno(-rc);
    }
    uv_check_init(s->loop, &s->flush_check);
    s->flush_check.data = s;
    uv_check_start(&s->flush_check, server__on_check);
    uv_timer_init(s->loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, server__on_sweep, 1000, 1000);
    return 0;
}

void
server_drain(struct store *s)
{
    if (s->draining) return;
    s->draining = 1;
    log_info("draining: no new connections or requests in_flight=%llu",
             (unsigned long long)s->inflight);
    uv_close((uv_handle_t *)&s->listener, NULL);
    migrate_shutdown(s);
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    server__maybe_finish(s);
}

/* When draining and nothing is in flight or unwritten: close everything, so
 * that uv_run returns. */
static void
server__maybe_finish(struct store *s)
{
    if (!s->draining || s->finished || s->inflight > 0 || engine_pending(s->engine) > 0) return;
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->out.len > 0 || c->writes > 0) return;
    if (s->dirty) return;
    s->finished = 1;
    while (s->conns) conn__close(s->conns);
    uv_close((uv_handle_t *)&s->sweep_timer, NULL);
    uv_close((uv_handle_t *)&s->flush_check, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    smetrics_stop();
    disk_stop(s);
    engine_close(s->engine); /* syncs the WAL; its handle closes with the rest */
    s->engine = NULL;
    log_info("drained, exiting");
}
