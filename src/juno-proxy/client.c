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
 *   Create Get Update Set Destroy             limits checked (BadParam, 7), the
 *                                             --acl (ServiceDenied, 2: auth.h), then
 *                                             replicate.c (any number in flight)
 *   Login (juno, 70)                          user (key) and password (value)
 *                                             checked against --acl: Ok, the
 *                                             connection is that user's; else
 *                                             ServiceDenied. Ok without --acl
 *   UDFGet, UDFSet, unknown client opcodes    NotSupported (28)
 *   storage opcodes (0x80 and up)             NotSupported (28), request echoed
 *
 * The connection is lib/conn's: replies go to its output buffer and are
 * written once per loop turn (the worker's check handle), so a pipelined
 * burst costs one write; a connection with too much in flight stops reading
 * until replies drain; it is freed only after its close callback, once no
 * request and no write refers to it. A message begun must be whole within
 * 5 s; --idle-timeout closes an idle connection.
 */
#include "pmetrics.h"
#include "preq.h"
#include "proxy.h"
#include "xdc.h"

#include "conn.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define FRAME_MS 5000 /* a message begun must be complete within this */

/* A JunoDB-protocol connection: lib/conn's, with who the client is (--acl). */
struct nconn {
    struct conn c; /* first */
    struct ident ident;
    uint8_t ident_ready;   /* set at the first request, after the TLS handshake */
    uint8_t denied_logged; /* a ServiceDenied was logged for this connection */
    uint64_t cur_batch;    /* the newest batch (lib/conn) with requests started */
    uint64_t cur_left;     /* ... its requests not answered yet */
    uint64_t out_batch;    /* the batch of the last reply put in the output */
};

/* 0, or ServiceDenied when the client may not run m (logged once a connection). */
static int
acl_check(struct conn *c, const struct wire_msg *m)
{
    struct worker *w = c->data;
    if (!auth_enabled(w->p)) return 0;
    struct nconn *nc = (struct nconn *)c;
    if (!nc->ident_ready) {
        nc->ident_ready = 1;
        ident_init(w->p, &nc->ident, conn_peer_subject(c));
    }
    /* a Get with a TTL extends the record's: a write */
    int write = m->opcode != WIRE_OP_GET || (wire_meta_has(&m->meta, WIRE_F_TTL) && m->meta.ttl);
    int st = ident_allows(w, &nc->ident, m->ns.ptr, m->ns.len, write);
    if (st == 0) return 0;
    pmetrics_acl_denied(w, PM_NATIVE);
    if (!nc->denied_logged) {
        nc->denied_logged = 1;
        const char *subject = conn_peer_subject(c);
        log_info("request refused by the acl (ServiceDenied) user=%s op=%s namespace=%.*s "
                 "certificate=\"%s\" peer=%s",
                 nc->ident.user ? nc->ident.name : "(none)", wire_opcode_name(m->opcode),
                 (int)m->ns.len, (const char *)m->ns.ptr, subject ? subject : "", c->peer);
    }
    return st;
}

/* Room for n bytes of reply; NULL when c is closing or out of memory (then
 * closed, logged). */
static uint8_t *
reserve(struct conn *c, size_t n)
{
    uint8_t *p = conn_reserve(c, n);
    if (p == NULL && !c->closing) {
        log_error("out of memory for replies, closing peer=%s", c->peer);
        conn_close(c);
    }
    return p;
}

/* Queue the encoded reply m on c. Dropped if c is closing. */
static void
reply(struct conn *c, const struct wire_msg *m)
{
    ((struct nconn *)c)->out_batch = c->batch;
    size_t n = wire_encoded_size(m);
    if (n == 0) {
        log_error("cannot encode reply op=%s peer=%s", wire_opcode_name(m->opcode), c->peer);
        return;
    }
    uint8_t *p = reserve(c, n);
    if (p == NULL) return;
    int len = wire_encode(m, p, c->out.cap - c->out.len);
    if (len > 0) c->out.len += (size_t)len;
}

static void
reply_raw(struct conn *c, const uint8_t *bytes, size_t n)
{
    ((struct nconn *)c)->out_batch = c->batch;
    uint8_t *p = reserve(c, n);
    if (p == NULL) return;
    memcpy(p, bytes, n);
    c->out.len += n;
}

/* ---- the native sink: a request holds its connection until it has replied ---- */

/* A request of this batch starts: its sink's tag. */
static uintptr_t
native_started(struct conn *c)
{
    struct nconn *nc = (struct nconn *)c;
    if (nc->cur_batch != c->batch) {
        nc->cur_batch = c->batch;
        nc->cur_left = 0;
    }
    nc->cur_left++;
    return (uintptr_t)c->batch;
}

/* A request of batch tag is answered (or never started). */
static void
native_done(struct nconn *nc, uintptr_t tag)
{
    if ((uint64_t)tag == nc->cur_batch && nc->cur_left > 0) nc->cur_left--;
}

static void
native_reply(void *obj, uintptr_t tag, const struct preq *rq, const struct preq_result *res)
{
    struct nconn *nc = obj;
    native_done(nc, tag);
    struct wire_msg r;
    preq_wire_reply(rq, res, &r);
    reply(obj, &r);
    nc->out_batch = (uint64_t)tag;
}

/* Keep the output back while requests of the batch of its last reply are
 * still out (lib/conn's gather; --gather bounds its time): a
 * pipelined batch is answered in one write, one TLS record. */
static int
native_gather(const struct conn *c)
{
    const struct nconn *nc = (const struct nconn *)c;
    return nc->cur_left > 0 && nc->out_batch == nc->cur_batch;
}

static void
native_ref(void *obj)
{
    conn_ref(obj);
}

static void
native_unref(void *obj)
{
    conn_unref(obj);
}

static const struct psink_ops native_sink = {native_reply, native_ref, native_unref};

/* A reply carrying only a status (and the RequestID, namespace and key of
 * the request when it had them). */
static void
reply_status(struct conn *c, const struct wire_msg *req, int status, uint64_t t0)
{
    pmetrics_request(c->data, req->opcode, status, t0);
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
    reply(c, &r);
}

/* The limits of a client request; NULL when it may go on. */
/* A write flagged 0x01 from another site's proxy (xdc.h): applied
 * last-writer-wins with --accept-replication, else ServiceDenied. Limits and
 * the ACL were checked as for any write. */
static void
replicated(struct conn *c, const struct wire_msg *m, uint64_t t0)
{
    struct worker *w = c->data;
    const char *why = xdc_apply_check(m);
    int st = !w->p->cfg.accept_replication ? WIRE_ST_SERVICE_DENIED
             : why != NULL                 ? WIRE_ST_BAD_PARAM
                                           : 0;
    if (st != 0) {
        w->stats.errors++;
        log_info("replicated write refused peer=%s op=%s reason=\"%s\"", c->peer,
                 wire_opcode_name(m->opcode), why ? why : "no --accept-replication");
        reply_status(c, m, st, t0);
        return;
    }
    struct psink sink = {&native_sink, c, native_started(c)};
    int rc = preq_start(w, &sink, m, PREQ_APPLY, t0);
    if (rc != 0) {
        native_done((struct nconn *)c, sink.tag);
        reply_status(c, m, rc == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER, t0);
    }
}

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

/* ---- Login: the password is checked on the thread pool (auth.c) ---- */

struct nlogin {
    struct conn *c;      /* a reference is held */
    struct wire_msg req; /* opaque, opcode and request id only */
    uint64_t t0;
};

static void
login_done(int ok, void *data)
{
    struct nlogin *l = data;
    struct conn *c = l->c;
    if (!c->closing) {
        if (!ok) {
            ((struct worker *)c->data)->stats.errors++;
            log_info("login refused peer=%s certificate=\"%s\"", c->peer, conn_peer_subject(c));
        }
        reply_status(c, &l->req, ok ? WIRE_ST_OK : WIRE_ST_SERVICE_DENIED, l->t0);
        conn_dirty(c);
    }
    conn_unref(c);
    free(l);
}

static void
handle_login(struct conn *c, const struct wire_msg *m, uint64_t t0)
{
    struct worker *w = c->data;
    if (!auth_enabled(w->p)) { /* everyone may do everything: any login is fine */
        reply_status(c, m, WIRE_ST_OK, t0);
        return;
    }
    struct nconn *nc = (struct nconn *)c;
    if (!nc->ident_ready) {
        nc->ident_ready = 1;
        ident_init(w->p, &nc->ident, conn_peer_subject(c));
    }
    struct nlogin *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        reply_status(c, m, WIRE_ST_OUT_OF_MEM, t0);
        return;
    }
    l->c = c;
    l->t0 = t0;
    l->req.opaque = m->opaque;
    l->req.opcode = m->opcode;
    if (wire_meta_has(&m->meta, WIRE_F_REQUEST_ID))
        wire_meta_set_request_id(&l->req.meta, m->meta.request_id);
    conn_ref(c);
    if (auth_check_password(w, &nc->ident, m->key.ptr, m->key.len, m->value.ptr, m->value.len,
                            login_done, l) != 0)
        login_done(0, l);
}

static void
handle_frame(struct conn *c, const uint8_t *frame, size_t len)
{
    struct worker *w = c->data;
    uint64_t t0 = c->t0;
    struct wire_msg m;
    int st = wire_decode(frame, (uint32_t)len, &m);
    w->stats.requests++;
    if (wire_type(m.type_flag) != 0) return; /* admin / cluster control: no reply */
    if (len == WIRE_HEADER_SIZE && m.opcode == WIRE_OP_NOP) {
        reply_raw(c, frame, len); /* byte for byte, RQ bits included */
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
        reply(c, &r);
        pmetrics_request(w, m.opcode, WIRE_ST_BADMSG, t0);
        return;
    }
    switch (m.opcode) {
    case WIRE_OP_NOP: {
        struct wire_msg echo = m;
        echo.type_flag = WIRE_TF_RESPONSE; /* status = byte 15 of the request, as JunoDB */
        reply(c, &echo);
        pmetrics_request(w, WIRE_OP_NOP, WIRE_ST_OK, t0);
        if (m.flags & WIRE_FLAG_REPLICATION) conn_set_idle(c, PROXY_KEEPALIVE_MS);
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
        int denied = acl_check(c, &m);
        if (denied != 0) {
            w->stats.errors++;
            reply_status(c, &m, denied, t0);
            return;
        }
        if (m.flags & WIRE_FLAG_REPLICATION) {
            replicated(c, &m, t0);
            return;
        }
        /* as on the RESP face: one write of a key at a time, and a
         * RecordLocked (another proxy's write of the key) run again within
         * --deadline, so that no client sees it for an unconditional write */
        struct psink sink = {&native_sink, c, native_started(c)};
        int rc = preq_start(w, &sink, &m, PREQ_RETRY_LOCKED | PREQ_KEY_QUEUE, t0);
        if (rc != 0) {
            native_done((struct nconn *)c, sink.tag);
            reply_status(c, &m, rc == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER,
                         t0);
        }
        return;
    }
    case WIRE_OP_LOGIN: handle_login(c, &m, t0); return;
    default:
        w->stats.errors++;
        if (m.opcode >= 0x80) { /* a storage opcode: echoed with NotSupported */
            struct wire_msg echo = m;
            echo.type_flag = WIRE_TF_RESPONSE;
            echo.status = WIRE_ST_NOT_SUPPORTED;
            reply(c, &echo);
            pmetrics_request(w, m.opcode, WIRE_ST_NOT_SUPPORTED, t0);
        } else {
            reply_status(c, &m, WIRE_ST_NOT_SUPPORTED, t0);
        }
        return;
    }
}

/* ---- the connection's hooks ---- */

static void
native_bad_frame(struct conn *c, const char *why)
{
    struct worker *w = c->data;
    w->stats.bad_frames++;
    pmetrics_bad_frame(w);
    log_warn("bad frame, closing connection peer=%s reason=\"%s\"", c->peer, why);
}

static int
native_open(struct conn *c)
{
    struct worker *w = c->data;
    w->stats.connections++;
    pmetrics_conn(w, 1);
    return 0;
}

static void
native_close(struct conn *c)
{
    pmetrics_conn(c->data, -1);
}

static void
native_free(struct conn *c)
{
    ident_deinit(&((struct nconn *)c)->ident);
}

static void
native_tls_refused(struct conn *c, int reason)
{
    pmetrics_tls_refused(c->data, PM_NATIVE, reason);
}

static const struct conn_proto native_proto = {
    .size = sizeof(struct nconn),
    .what = "connection",
    .free = native_free,
    .frame = conn_wire_frame,
    .handle = handle_frame,
    .bad_frame = native_bad_frame,
    .open = native_open,
    .close = native_close,
    .tls_refused = native_tls_refused,
    .gather = native_gather,
};

int
client_listen(struct worker *w)
{
    const struct proxy_config *cfg = &w->p->cfg;
    struct conn_limits lim = {.max_frame = cfg->max_frame,
                              .max_backlog = cfg->max_inflight,
                              .idle_ms = cfg->idle_timeout_s * 1000,
                              .frame_ms = FRAME_MS};
    int rc =
        conn_listen_fd(&w->listener, &w->clients, &native_proto, &lim, w->listen_fd, w->p->tls, w);
    w->listen_fd = -1; /* the listener has it (or closed it) */
    return rc;
}
