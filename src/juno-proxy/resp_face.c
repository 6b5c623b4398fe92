/* resp_face.c: the RESP face's connections (see resp_face.h).
 *
 * Bytes read are parsed with lib/resp (multibulk or inline commands); each
 * whole command runs at once (resp_cmd.c). A protocol error is answered
 * "-ERR Protocol error: ..." after the replies due before it, then the
 * connection closes, as Redis does; a bulk string over --max-frame, more
 * than RFACE_MAX_ARGS arguments or a command over 8 x --max-frame are
 * refused from their header lines, before anything is buffered for them.
 * Replies are written once per loop turn (the worker's check handle), one
 * write in flight per connection with a second buffer filling meanwhile.
 * Reading pauses while too many commands wait or too much output is
 * unwritten. --idle-timeout and the 5 s limit on a half-received command
 * apply as on the native face. A connection is freed only after its close
 * callback, once no request and no write refers to it.
 */
#include "resp_face.h"

#include "error.h"
#include "log.h"
#include "uvout.h"
#include "net.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_CHUNK    (64 * 1024)
#define OUT_HIGH      (32u << 20) /* pause reading above this much unwritten output */
#define FRAME_MS      5000        /* a command begun must be complete within this */
#define SLOT_KEEP_MAX 4096        /* a slot buffer larger than this is freed after use */
#define WBUF_KEEP_MAX (1u << 20)

static const struct psink_ops rface_sink;
static uint64_t started; /* unix seconds: the first listener (atomic) */
static uint64_t next_id; /* client ids (atomic) */

uint64_t
rface_uptime(void)
{
    uint64_t s = __atomic_load_n(&started, __ATOMIC_RELAXED);
    uint64_t now = (uint64_t)time(NULL);
    return s && now > s ? now - s : 0;
}

/* ---- lifetime ---- */

static void
rconn_free_if_done(struct rconn *rc)
{
    if (!rc->closed || rc->inflight > 0 || rc->writing) return;
    struct worker *w = rc->w;
    for (uint32_t i = 0; i < rc->cap; i++) {
        resp_buf_deinit(&rc->slots[i].buf);
        free(rc->slots[i].pieces);
    }
    free(rc->slots);
    buf_free(&rc->in);
    resp_cmd_deinit(&rc->cmd);
    resp_buf_deinit(&rc->out);
    resp_buf_deinit(&rc->wbuf);
    free(rc);
    worker_maybe_finish(w);
}

static void
rconn_on_close(uv_handle_t *h)
{
    struct rconn *rc = h->data;
    rc->closed = 1;
    rconn_free_if_done(rc);
}

static void
rconn_close(struct rconn *rc)
{
    if (rc->closing) return;
    rc->closing = 1;
    struct worker *w = rc->w;
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        w->rconns = rc->next;
    if (rc->next) rc->next->prev = rc->prev;
    if (rc->dirty) {
        struct rconn **pp = &w->dirty_rconns;
        while (*pp && *pp != rc) pp = &(*pp)->dirty_next;
        if (*pp) *pp = rc->dirty_next;
        rc->dirty = 0;
    }
    RSTAT_ADD(w, open, (uint64_t)-1);
    uv_close((uv_handle_t *)&rc->tcp, rconn_on_close);
}

/* ---- reading ---- */

static void rconn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void rconn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void
rconn_start_reading(struct rconn *rc)
{
    if (uv_read_start((uv_stream_t *)&rc->tcp, rconn_on_alloc, rconn_on_read) == 0) rc->reading = 1;
}

static void
rconn_stop_reading(struct rconn *rc)
{
    if (rc->reading) uv_read_stop((uv_stream_t *)&rc->tcp);
    rc->reading = 0;
}

/* Read again once the backlog has halved. */
static void
rconn_maybe_resume(struct rconn *rc)
{
    if (rc->reading || rc->closing || rc->quitting || rc->barrier || rc->w->draining) return;
    if (rc->count <= rc->w->p->cfg.max_inflight / 2 && rc->out.len < OUT_HIGH / 2)
        rconn_start_reading(rc);
}

static void
rconn_maybe_quit(struct rconn *rc)
{
    if (rc->quitting && !rc->closing && rc->count == 0 && rc->out.len == 0 && !rc->writing)
        rconn_close(rc);
}

/* ---- writing ---- */

static void rconn_write(struct rconn *rc);

static void
rconn_on_write(uv_write_t *req, int status)
{
    struct rconn *rc = req->data;
    rc->writing = 0;
    rc->wbuf.len = 0;
    if (rc->wbuf.cap > WBUF_KEEP_MAX) resp_buf_deinit(&rc->wbuf);
    if (status < 0 && !rc->closing) {
        log_debug("write failed, closing peer=%s error=%s", rc->peer, uv_strerror(status));
        rconn_close(rc);
    }
    if (rc->closing) {
        rconn_free_if_done(rc);
        return;
    }
    rconn_write(rc);
    rconn_maybe_resume(rc);
    rconn_maybe_quit(rc);
    worker_maybe_finish(rc->w);
}

static void
rconn_write(struct rconn *rc)
{
    if (rc->writing || rc->out.len == 0 || rc->closing) return;
    /* what the socket takes at once goes without a write request (see
     * lib/uvout.h: a finished request costs an epoll_ctl) */
    int n = uvout_try((uv_stream_t *)&rc->tcp, rc->out.data, rc->out.len);
    if (n < 0) {
        log_debug("write failed, closing peer=%s error=%s", rc->peer, uv_strerror(n));
        rconn_close(rc);
        return;
    }
    if (n > 0) {
        memmove(rc->out.data, rc->out.data + n, rc->out.len - (size_t)n);
        rc->out.len -= (size_t)n;
    }
    if (rc->out.len == 0) {
        if (rc->out.cap > WBUF_KEEP_MAX) resp_buf_deinit(&rc->out);
        rconn_maybe_resume(rc);
        rconn_maybe_quit(rc);
        return;
    }
    struct resp_buf t = rc->wbuf; /* empty: the last write is done */
    rc->wbuf = rc->out;
    rc->out = t;
    uv_buf_t b = uv_buf_init((char *)rc->wbuf.data, (unsigned)rc->wbuf.len);
    rc->wreq.data = rc;
    rc->writing = 1;
    if (uv_write(&rc->wreq, (uv_stream_t *)&rc->tcp, &b, 1, rconn_on_write) < 0) {
        rc->writing = 0;
        rconn_close(rc);
    }
}

static void
rconn_dirty(struct rconn *rc)
{
    if (rc->dirty) return;
    rc->dirty = 1;
    rc->dirty_next = rc->w->dirty_rconns;
    rc->w->dirty_rconns = rc;
}

static void rconn_process(struct rconn *rc);

void
rface_flush_all(struct worker *w)
{
    while (w->dirty_rconns) {
        struct rconn *rc = w->dirty_rconns;
        w->dirty_rconns = rc->dirty_next;
        rc->dirty = 0;
        if (rc->resume) { /* a barrier is gone: run the commands behind it */
            rc->resume = 0;
            rconn_process(rc);
            if (rc->closing) continue;
            rconn_maybe_resume(rc);
        }
        rconn_write(rc);
    }
}

int
rface_output_pending(struct worker *w)
{
    if (w->dirty_rconns) return 1;
    for (struct rconn *rc = w->rconns; rc; rc = rc->next)
        if (rc->out.len > 0 || rc->writing) return 1;
    return 0;
}

/* ---- slots: replies in request order ---- */

static struct rslot *
slot_at(struct rconn *rc, uint32_t i)
{
    return &rc->slots[(rc->head + i) & (rc->cap - 1)];
}

static int
slots_grow(struct rconn *rc)
{
    uint32_t cap = rc->cap ? rc->cap * 2 : 16;
    struct rslot *s = calloc(cap, sizeof(*s));
    if (s == NULL) return JUNO_ENOMEM;
    for (uint32_t i = 0; i < rc->cap; i++) s[i] = *slot_at(rc, i); /* kept buffers too */
    free(rc->slots);
    rc->slots = s;
    rc->cap = cap;
    rc->head = 0;
    return 0;
}

struct rslot *
rconn_slot(struct rconn *rc)
{
    if (rc->count == rc->cap && slots_grow(rc) != 0) {
        rc->nomem = 1;
        return NULL;
    }
    struct rslot *s = slot_at(rc, rc->count++);
    struct resp_buf b = s->buf;
    struct rpiece *pieces = s->pieces;
    size_t pcap = s->pieces_cap;
    memset(s, 0, sizeof(*s));
    s->buf = b;
    s->buf.len = 0;
    s->pieces = pieces;
    s->pieces_cap = pcap;
    s->seq = rc->next_seq++;
    return s;
}

struct resp_buf *
rconn_out(struct rconn *rc)
{
    if (rc->count == 0) {
        rconn_dirty(rc);
        return &rc->out;
    }
    struct rslot *s = rconn_slot(rc);
    if (s == NULL) return NULL;
    s->done = 1;
    return &s->buf;
}

struct resp_buf *
rconn_slot_buf(struct rconn *rc, struct rslot *s)
{
    if (s == slot_at(rc, 0)) {
        rconn_dirty(rc);
        return &rc->out;
    }
    return &s->buf;
}

/* Append a done slot's reply to the output. */
static void
slot_emit(struct rconn *rc, struct rslot *s)
{
    int rc_ = 0;
    if (s->use_pieces) {
        rc_ |= resp_array_header(&rc->out, s->nsub);
        for (uint32_t i = 0; i < s->nsub; i++)
            rc_ |= resp_raw(&rc->out, s->buf.data + s->pieces[i].off, s->pieces[i].len);
    } else if (s->buf.len > 0) {
        rc_ |= resp_raw(&rc->out, s->buf.data, s->buf.len);
    }
    if (rc_ != 0) rc->nomem = 1;
    s->buf.len = 0;
    if (s->buf.cap > SLOT_KEEP_MAX) resp_buf_deinit(&s->buf);
    if (s->pieces_cap > SLOT_KEEP_MAX / sizeof(struct rpiece)) {
        free(s->pieces);
        s->pieces = NULL;
        s->pieces_cap = 0;
    }
}

void
rconn_barrier(struct rconn *rc, struct rslot *s)
{
    rc->barrier = 1;
    rc->barrier_seq = s->seq;
    rconn_stop_reading(rc);
}

void
rconn_slot_done(struct rconn *rc, struct rslot *s)
{
    s->done = 1;
    if (rc->barrier && s->seq == rc->barrier_seq) {
        rc->barrier = 0;
        rc->resume = 1;
        rconn_dirty(rc);
    }
    if (rc->count == 0 || s != slot_at(rc, 0)) return;
    while (rc->count > 0 && slot_at(rc, 0)->done) {
        slot_emit(rc, slot_at(rc, 0));
        rc->head = (rc->head + 1) & (rc->cap - 1);
        rc->count--;
    }
    rconn_dirty(rc);
    rconn_maybe_resume(rc);
}

static struct rslot *
slot_of(struct rconn *rc, uint64_t seq)
{
    uint64_t first = rc->next_seq - rc->count;
    if (seq < first || seq >= rc->next_seq) return NULL;
    return slot_at(rc, (uint32_t)(seq - first));
}

/* ---- the sink of replicated requests ---- */

static void
rface_reply(void *obj, uintptr_t tag, const struct preq *rq, const struct preq_result *res)
{
    struct rconn *rc = obj;
    if (rc->closing) return;
    struct rslot *s = slot_of(rc, (uint64_t)tag >> RFACE_SUB_BITS);
    if (s == NULL || s->done) {
        log_error("RESP answer for no waiting command peer=%s", rc->peer); /* a bug */
        return;
    }
    rcmd_answer(rc, s, (uint32_t)(tag & ((1u << RFACE_SUB_BITS) - 1)), rq, res);
    if (rc->nomem) {
        log_error("out of memory for replies, closing peer=%s", rc->peer);
        rconn_close(rc);
    }
}

static void
rface_ref(void *obj)
{
    struct rconn *rc = obj;
    rc->inflight++;
}

static void
rface_unref(void *obj)
{
    struct rconn *rc = obj;
    rc->inflight--;
    if (rc->closing) rconn_free_if_done(rc);
}

static const struct psink_ops rface_sink = {rface_reply, rface_ref, rface_unref};

void
rconn_start(struct rconn *rc, struct rslot *s, uint32_t sub, struct wire_msg *m, unsigned flags)
{
    const char *ns = rc->w->p->cfg.resp_ns;
    m->type_flag = WIRE_TF_REQUEST;
    m->ns.ptr = (const uint8_t *)ns;
    m->ns.len = strlen(ns);
    struct psink sink = {&rface_sink, rc, (uintptr_t)(s->seq << RFACE_SUB_BITS | sub)};
    int r = preq_start(rc->w, &sink, m, flags | PREQ_RETRY_LOCKED | PREQ_KEY_QUEUE, rc->t0);
    if (r != 0) {
        struct preq_result res = {.status = r == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM
                                                             : WIRE_ST_NO_STORAGE_SERVER};
        rcmd_answer(rc, s, sub, NULL, &res);
    }
}

void
rconn_quit(struct rconn *rc)
{
    rc->quitting = 1;
    rconn_stop_reading(rc);
}

/* ---- parsing ---- */

static void
protocol_error(struct rconn *rc, const char *why)
{
    struct worker *w = rc->w;
    RSTAT_ADD(w, protocol_errors, 1);
    log_info("RESP protocol error, closing connection peer=%s reason=\"%s\"", rc->peer, why);
    struct resp_buf *b = rconn_out(rc);
    if (b == NULL || resp_error(b, why) != 0) rc->nomem = 1;
    rconn_quit(rc);
}

static void
rconn_process(struct rconn *rc)
{
    struct worker *w = rc->w;
    const struct proxy_config *cfg = &w->p->cfg;
    struct resp_limits lim = {.max_args = RFACE_MAX_ARGS, .max_bulk = cfg->max_frame};
    size_t max_cmd = 8 * cfg->max_frame;
    size_t off = 0;
    rc->t0 = uv_hrtime();
    while (!rc->closing && !rc->quitting && !rc->barrier && !w->draining && off < rc->in.len) {
        size_t used = 0;
        const char *why = NULL;
        int r = resp_parse(rc->in.data + off, rc->in.len - off, &lim, &rc->cmd, &used, &why);
        if (r == RESP_AGAIN) {
            if (rc->in.len - off > max_cmd) {
                char msg[96];
                snprintf(msg, sizeof(msg), "Protocol error: command over %zu bytes", max_cmd);
                protocol_error(rc, msg);
            }
            break;
        }
        if (r == RESP_ERROR) {
            protocol_error(rc, why);
            break;
        }
        off += used;
        if (rc->cmd.argc == 0) continue;
        RSTAT_ADD(w, commands, 1);
        rcmd_run(rc, &rc->cmd);
        if (rc->nomem) break;
    }
    if (rc->nomem) {
        log_error("out of memory for replies, closing peer=%s", rc->peer);
        rconn_close(rc);
        return;
    }
    if (rc->quitting) off = rc->in.len; /* nothing after QUIT or an error is read */
    buf_consume(&rc->in, off);
    if (rc->in.len == 0)
        rc->partial_since = 0;
    else if (rc->partial_since == 0 || off > 0)
        rc->partial_since = uv_now(&w->loop);
    buf_trim(&rc->in, READ_CHUNK); /* give back a large command's buffer */
    if (rc->reading && (rc->count > cfg->max_inflight || rc->out.len > OUT_HIGH))
        rconn_stop_reading(rc);
    rconn_maybe_quit(rc);
}

static void
rconn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct rconn *rc = h->data;
    if (rc->in.cap - rc->in.len < READ_CHUNK / 2 && buf_reserve(&rc->in, READ_CHUNK) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)rc->in.data + rc->in.len, (unsigned)(rc->in.cap - rc->in.len));
}

static void
rconn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct rconn *rc = st->data;
    if (n == UV_ENOBUFS) {
        log_error("out of memory reading, closing peer=%s", rc->peer);
        rconn_close(rc);
        return;
    }
    if (n < 0) {
        if (n != UV_EOF)
            log_debug("connection error peer=%s error=%s", rc->peer, uv_strerror((int)n));
        /* a client that half-closes after its last command still gets its replies */
        rconn_quit(rc);
        if (n != UV_EOF)
            rconn_close(rc);
        else
            rconn_maybe_quit(rc);
        return;
    }
    if (n == 0) return;
    rc->in.len += (size_t)n;
    rc->last_active = uv_now(&rc->w->loop);
    rconn_process(rc);
}

/* ---- accepting ---- */

static void
on_rconn(uv_stream_t *listener, int status)
{
    struct worker *w = listener->data;
    if (status < 0) {
        log_warn("RESP accept failed thread=%u: %s", w->id, uv_strerror(status));
        return;
    }
    struct rconn *rc = calloc(1, sizeof(*rc));
    if (rc == NULL) {
        log_error("out of memory accepting a RESP connection");
        return;
    }
    rc->w = w;
    resp_cmd_init(&rc->cmd);
    uv_tcp_init(&w->loop, &rc->tcp);
    rc->tcp.data = rc;
    if (uv_accept(listener, (uv_stream_t *)&rc->tcp) != 0) {
        rc->closing = 1;
        uv_close((uv_handle_t *)&rc->tcp, rconn_on_close);
        return;
    }
    uv_tcp_nodelay(&rc->tcp, 1);
    net_peer_name(&rc->tcp, rc->peer, sizeof(rc->peer));
    rc->next = w->rconns;
    if (w->rconns) w->rconns->prev = rc;
    w->rconns = rc;
    RSTAT_ADD(w, accepted, 1);
    RSTAT_ADD(w, open, 1);
    rc->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    rc->last_active = uv_now(&w->loop);
    rc->idle_ms = w->p->cfg.idle_timeout_s * 1000;
    rconn_start_reading(rc);
}

int
rface_listen(struct worker *w)
{
    if (w->resp_fd < 0) return 0;
    uint64_t zero = 0, now = (uint64_t)time(NULL);
    __atomic_compare_exchange_n(&started, &zero, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    int rc = uv_tcp_init(&w->loop, &w->resp_listener);
    if (rc == 0) {
        w->resp_listener.data = w;
        rc = uv_tcp_open(&w->resp_listener, w->resp_fd);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&w->resp_listener, 1024, on_rconn);
    }
    return rc < 0 ? error_from_errno(-rc) : 0;
}

void
rface_sweep(struct worker *w)
{
    uint64_t now = uv_now(&w->loop);
    for (struct rconn *rc = w->rconns, *n; rc; rc = n) {
        n = rc->next;
        if (rc->partial_since && !rc->barrier && now - rc->partial_since > FRAME_MS) {
            log_info("closing RESP connection: command incomplete for %d ms peer=%s bytes=%zu",
                     FRAME_MS, rc->peer, rc->in.len);
            rconn_close(rc);
        } else if (rc->idle_ms > 0 && rc->count == 0 && rc->inflight == 0 &&
                   now - rc->last_active > rc->idle_ms) {
            log_debug("closing idle RESP connection peer=%s", rc->peer);
            rconn_close(rc);
        }
    }
}

void
rface_drain(struct worker *w)
{
    if (w->resp_fd >= 0) uv_close((uv_handle_t *)&w->resp_listener, NULL);
    for (struct rconn *rc = w->rconns; rc; rc = rc->next) rconn_stop_reading(rc);
}

void
rface_close_all(struct worker *w)
{
    while (w->rconns) rconn_close(w->rconns);
}
