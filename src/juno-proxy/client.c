/* client.c: client connections: the JunoDB client protocol.
 *
 * Bytes read are framed with wire_frame: a bad magic, a msgSize below 12 or
 * over --max-frame closes the connection (one log line) before anything more
 * is buffered. Each whole message is then judged:
 *
 *   message type (type flag & 0x3F) not 0     no reply
 *   16-byte Nop                               echoed byte for byte
 *   other 16-byte message, undecodable body   BadMsg (1) with the opaque
 *   Nop                                       echoed (flags 01: keepalive, idle
 *                                             timeout of the connection 24 h)
 *   Create Get Update Set Destroy             limits checked (BadParam, 7), then
 *                                             replicate.c (any number in flight)
 *   UDFGet, UDFSet, unknown client opcodes    NotSupported (28)
 *   storage opcodes (0x80 and up)             NotSupported (28), request echoed
 *
 * Replies go to the connection's output buffer and are written once per loop
 * turn (the worker's check handle), so a pipelined burst costs one write. A
 * connection with too much in flight stops reading until replies drain. A
 * connection is freed only after its close callback, once no request and no
 * write refers to it.
 */
#include "pmetrics.h"
#include "preq.h"
#include "proxy.h"

#include "buf.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "uvout.h"

#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (64 * 1024)
#define OUT_HIGH   (32u << 20) /* pause reading above this much unwritten output */
#define FRAME_MS   5000        /* a message begun must be complete within this */

struct conn {
    uv_tcp_t tcp; /* embedded; the conn is freed after its close callback */
    struct worker *w;
    struct conn *prev, *next; /* w->conns */
    struct conn *dirty_next;  /* w->dirty_conns */
    int dirty, closing, closed, reading;
    int lingering;          /* a bad frame came: no more reading; close once replied */
    struct buf in;          /* bytes read, not yet handled */
    size_t need;            /* the frame being read needs this much */
    struct buf out;         /* encoded replies not yet handed to uv_write */
    uint64_t inflight;      /* requests not yet replied */
    size_t writes;          /* uv_write requests in flight */
    uint64_t last_active;   /* uv_now of the last bytes read */
    uint64_t partial_since; /* uv_now when a partial message began, 0 if none */
    uint64_t idle_ms;       /* 0 = never */
    char peer[80];
};

static void
conn_free_if_done(struct conn *c)
{
    if (!c->closed || c->inflight > 0 || c->writes > 0) return;
    struct worker *w = c->w;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    worker_maybe_finish(w);
}

static void
conn_on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->closed = 1;
    conn_free_if_done(c);
}

static void
conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    struct worker *w = c->w;
    pmetrics_conn(w, -1);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->dirty) {
        struct conn **pp = &w->dirty_conns;
        while (*pp && *pp != c) pp = &(*pp)->dirty_next;
        if (*pp) *pp = c->dirty_next;
        c->dirty = 0;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

static void conn_start_reading(struct conn *c);

/* In-flight accounting (the native sink): a request holds its connection
 * until it has replied. */
static void
conn_ref(void *obj)
{
    struct conn *c = obj;
    c->inflight++;
}

/* A lingering connection closes once every request read before the bad frame
 * has its reply written. */
static void
conn_close_if_replied(struct conn *c)
{
    if (c->lingering && !c->closing && c->inflight == 0 && c->out.len == 0 && c->writes == 0)
        conn_close(c);
}

/* After a bad frame: read nothing more, but answer what came before it. */
static void
conn_linger(struct conn *c)
{
    c->lingering = 1;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    conn_close_if_replied(c);
}

static void
conn_unref(void *obj)
{
    struct conn *c = obj;
    c->inflight--;
    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    if (!c->reading && !c->lingering && !c->w->draining &&
        c->inflight <= c->w->p->cfg.max_inflight / 2 && c->out.len < OUT_HIGH / 2)
        conn_start_reading(c);
    conn_close_if_replied(c);
}

static uint8_t *
conn_reserve(struct conn *c, size_t n)
{
    if (buf_reserve(&c->out, n) != 0) {
        log_error("out of memory for replies, closing peer=%s", c->peer);
        conn_close(c);
        return NULL;
    }
    if (!c->dirty) {
        c->dirty = 1;
        c->dirty_next = c->w->dirty_conns;
        c->w->dirty_conns = c;
    }
    return c->out.data + c->out.len;
}

/* Queue the encoded reply m on c. Dropped if c is closing. */
static void
conn_reply(struct conn *c, const struct wire_msg *m)
{
    if (c->closing) return;
    size_t n = wire_encoded_size(m);
    if (n == 0) {
        log_error("cannot encode reply op=%s peer=%s", wire_opcode_name(m->opcode), c->peer);
        return;
    }
    uint8_t *p = conn_reserve(c, n);
    if (p == NULL) return;
    int len = wire_encode(m, p, c->out.cap - c->out.len);
    if (len > 0) c->out.len += (size_t)len;
}

static void
conn_sink_reply(void *obj, uintptr_t tag, const struct preq *rq, const struct preq_result *res)
{
    (void)tag;
    struct wire_msg r;
    preq_wire_reply(rq, res, &r);
    conn_reply(obj, &r);
}

static const struct psink_ops conn_sink = {conn_sink_reply, conn_ref, conn_unref};

static void
conn_reply_raw(struct conn *c, const uint8_t *bytes, size_t n)
{
    if (c->closing) return;
    uint8_t *p = conn_reserve(c, n);
    if (p == NULL) return;
    memcpy(p, bytes, n);
    c->out.len += n;
}

static void
conn_on_write(void *ctx, int status)
{
    struct conn *c = ctx;
    c->writes--;
    if (status < 0 && !c->closing) {
        log_debug("write failed, closing peer=%s error=%s", c->peer, uv_strerror(status));
        conn_close(c);
    }
    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    conn_close_if_replied(c);
    if (!c->closing) worker_maybe_finish(c->w);
}

void
client_flush_all(struct worker *w)
{
    while (w->dirty_conns) {
        struct conn *c = w->dirty_conns;
        w->dirty_conns = c->dirty_next;
        c->dirty = 0;
        if (c->out.len == 0 || c->closing) continue;
        int rc = uvout_send((uv_stream_t *)&c->tcp, &c->out, c, conn_on_write);
        if (rc == 1)
            c->writes++;
        else if (rc < 0)
            conn_close(c);
        else
            conn_close_if_replied(c);
    }
}

int
client_output_pending(struct worker *w)
{
    if (w->dirty_conns) return 1;
    for (struct conn *c = w->conns; c; c = c->next)
        if (c->out.len > 0 || c->writes > 0) return 1;
    return 0;
}

/* A reply carrying only a status (and the RequestID, namespace and key of
 * the request when it had them). */
static void
reply_status(struct conn *c, const struct wire_msg *req, int status, uint64_t t0)
{
    pmetrics_request(c->w, req->opcode, status, t0);
    struct wire_msg r;
    memset(&r, 0, sizeof(r));
    r.type_flag = WIRE_TF_RESPONSE;
    r.opaque = req->opaque;
    r.opcode = req->opcode;
    r.status = (uint8_t)status;
    if (wire_meta_has(&req->meta, WIRE_F_REQUEST_ID))
        wire_meta_set_request_id(&r.meta, req->meta.request_id);
    r.ns = req->ns;
    r.key = req->key;
    conn_reply(c, &r);
}

/* The limits of a client request; NULL when it may go on. */
static const char *
check_limits(const struct proxy_config *cfg, const struct wire_msg *m)
{
    if (!m->has_payload) return "no payload component";
    if (m->ns.len == 0) return "empty namespace";
    if (m->ns.len > cfg->max_ns) return "namespace too long";
    if (m->key.len == 0) return "empty key";
    if (m->key.len > cfg->max_key) return "key too long";
    if (m->value.len > cfg->max_value) return "value too large";
    if (wire_meta_has(&m->meta, WIRE_F_TTL) && m->meta.ttl > cfg->max_ttl) return "ttl too large";
    return NULL;
}

static void
handle_frame(struct conn *c, const uint8_t *frame, uint32_t len, uint64_t t0)
{
    struct worker *w = c->w;
    struct wire_msg m;
    int st = wire_decode(frame, len, &m);
    w->stats.requests++;
    if (wire_type(m.type_flag) != 0) return; /* admin / cluster control: no reply */
    if (len == WIRE_HEADER_SIZE && m.opcode == WIRE_OP_NOP) {
        conn_reply_raw(c, frame, len); /* byte for byte, RQ bits included */
        pmetrics_request(w, WIRE_OP_NOP, WIRE_ST_OK, t0);
        return;
    }
    if (st != WIRE_ST_OK || m.header_only) {
        w->stats.errors++;
        log_debug("malformed message peer=%s opaque=%u op=%s", c->peer, m.opaque,
                  wire_opcode_name(m.opcode));
        struct wire_msg r = {.type_flag = WIRE_TF_RESPONSE,
                             .opaque = m.opaque,
                             .opcode = m.opcode,
                             .status = WIRE_ST_BADMSG};
        conn_reply(c, &r);
        pmetrics_request(w, m.opcode, WIRE_ST_BADMSG, t0);
        return;
    }
    switch (m.opcode) {
    case WIRE_OP_NOP: {
        struct wire_msg echo = m;
        echo.type_flag = WIRE_TF_RESPONSE; /* status = byte 15 of the request, as JunoDB */
        conn_reply(c, &echo);
        pmetrics_request(w, WIRE_OP_NOP, WIRE_ST_OK, t0);
        if (m.flags & WIRE_FLAG_REPLICATION) c->idle_ms = PROXY_KEEPALIVE_MS;
        return;
    }
    case WIRE_OP_CREATE:
    case WIRE_OP_GET:
    case WIRE_OP_UPDATE:
    case WIRE_OP_SET:
    case WIRE_OP_DESTROY: {
        const char *why = check_limits(&w->p->cfg, &m);
        if (why != NULL) {
            w->stats.errors++;
            log_debug("bad parameter peer=%s opaque=%u op=%s reason=\"%s\"", c->peer, m.opaque,
                      wire_opcode_name(m.opcode), why);
            reply_status(c, &m, WIRE_ST_BAD_PARAM, t0);
            return;
        }
        struct psink sink = {&conn_sink, c, 0};
        int rc = preq_start(w, &sink, &m, 0, t0);
        if (rc != 0)
            reply_status(c, &m, rc == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER,
                         t0);
        return;
    }
    default:
        w->stats.errors++;
        if (m.opcode >= 0x80) { /* a storage opcode: echoed with NotSupported */
            struct wire_msg echo = m;
            echo.type_flag = WIRE_TF_RESPONSE;
            echo.status = WIRE_ST_NOT_SUPPORTED;
            conn_reply(c, &echo);
            pmetrics_request(w, m.opcode, WIRE_ST_NOT_SUPPORTED, t0);
        } else {
            reply_status(c, &m, WIRE_ST_NOT_SUPPORTED, t0);
        }
        return;
    }
}

static void
conn_process(struct conn *c)
{
    struct worker *w = c->w;
    size_t off = 0;
    uint64_t t0 = uv_hrtime();
    c->need = 0;
    while (!c->closing && !w->draining) {
        uint32_t flen;
        const char *why = NULL;
        int rc = wire_frame(c->in.data + off, c->in.len - off, w->p->cfg.max_frame, &flen, &why);
        if (rc == WIRE_AGAIN) {
            if (c->in.len - off >= 8) {
                const uint8_t *p = c->in.data + off + 4;
                c->need = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            }
            break;
        }
        if (rc == WIRE_ERROR) {
            w->stats.bad_frames++;
            pmetrics_bad_frame(w);
            log_warn("bad frame, closing connection peer=%s reason=\"%s\"", c->peer, why);
            conn_linger(c); /* the replies to the frames before it still go out */
            return;
        }
        handle_frame(c, c->in.data + off, flen, t0);
        off += flen;
    }
    buf_consume(&c->in, off);
    if (c->in.len == 0)
        c->partial_since = 0;
    else if (c->partial_since == 0 || off > 0)
        c->partial_since = uv_now(&w->loop);
    if (c->need < READ_CHUNK) buf_trim(&c->in, READ_CHUNK); /* give back a large frame's buffer */
    if (c->reading && (c->inflight > w->p->cfg.max_inflight || c->out.len > OUT_HIGH)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void
conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
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
conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = st->data;
    if (n == UV_ENOBUFS) {
        log_error("out of memory reading, closing peer=%s", c->peer);
        conn_close(c);
        return;
    }
    if (n < 0) {
        if (n != UV_EOF)
            log_debug("connection error peer=%s error=%s", c->peer, uv_strerror((int)n));
        else if (c->in.len > 0)
            log_info("connection closed mid-message peer=%s bytes=%zu", c->peer, c->in.len);
        conn_close(c);
        return;
    }
    if (n == 0) return;
    c->in.len += (size_t)n;
    c->last_active = uv_now(&c->w->loop);
    conn_process(c);
}

static void
conn_start_reading(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) == 0) c->reading = 1;
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct worker *w = listener->data;
    if (status < 0) {
        log_warn("accept failed thread=%u: %s", w->id, uv_strerror(status));
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("out of memory accepting a connection");
        return;
    }
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    net_peer_name(&c->tcp, c->peer, sizeof(c->peer));
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->stats.connections++;
    pmetrics_conn(w, 1);
    c->last_active = uv_now(&w->loop);
    c->idle_ms = w->p->cfg.idle_timeout_s * 1000;
    conn_start_reading(c);
}

int
client_listen(struct worker *w)
{
    int rc = uv_tcp_init(&w->loop, &w->listener);
    if (rc == 0) {
        w->listener.data = w;
        rc = uv_tcp_open(&w->listener, w->listen_fd);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
    }
    return rc < 0 ? error_from_errno(-rc) : 0;
}

void
client_sweep(struct worker *w)
{
    uint64_t now = uv_now(&w->loop);
    for (struct conn *c = w->conns, *n; c; c = n) {
        n = c->next;
        if (c->partial_since && now - c->partial_since > FRAME_MS) {
            log_info("closing connection: message incomplete for %d ms peer=%s bytes=%zu", FRAME_MS,
                     c->peer, c->in.len);
            conn_close(c);
        } else if (c->idle_ms > 0 && c->inflight == 0 && now - c->last_active > c->idle_ms) {
            log_debug("closing idle connection peer=%s", c->peer);
            conn_close(c);
        }
    }
}

void
client_drain(struct worker *w)
{
    uv_close((uv_handle_t *)&w->listener, NULL);
    for (struct conn *c = w->conns; c; c = c->next) {
        if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void
client_close_all(struct worker *w)
{
    while (w->conns) conn_close(w->conns);
}
