/* resp_face.c: the RESP face's connections (see resp_face.h), on lib/conn.
 *
 * Bytes read are parsed with lib/resp (multibulk or inline commands); each
 * whole command runs at once (resp_cmd.c). A protocol error is answered
 * "-ERR Protocol error: ..." after the replies due before it, then the
 * connection closes, as Redis does; a bulk string over 512 MiB (Redis's
 * proto-max-bulk-len) or more than RFACE_MAX_ARGS arguments are refused from
 * their header lines, before anything is buffered for them, and a command
 * over --resp-max-query closes the connection too. A command with a bulk
 * string over --resp-max-value is read and dropped as it comes (nothing of
 * it is buffered) and answered "string exceeds maximum allowed size"; the
 * connection goes on. So is one whose bulk data would take the proxy's
 * total arriving past --resp-max-buffered, answered -OOM (budget_* below).
 * Replies are written once per loop turn (the worker's check handle).
 * Reading pauses while too many commands wait or too much output is
 * unwritten. --idle-timeout applies as on the native face, and the 5 s limit
 * on a half-received command from its last 64 KiB: a value of tens of MB
 * may take longer than 5 s to arrive, as long as it keeps arriving. A client that half-closes after
 * its last command still gets its replies. A connection is freed only after its close callback,
 * once no request and no write refers to it.
 */
#include "resp_face.h"

#include "error.h"
#include "log.h"
#include "pmetrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME_MS      5000 /* a command begun must be complete within this */
#define SLOT_KEEP_MAX 4096 /* a slot buffer larger than this is freed after use */

static const struct psink_ops rface_sink;
static void budget_release(struct rconn *rc);
static uint64_t started; /* unix seconds: the first listener (atomic) */
static uint64_t next_id; /* client ids (atomic) */

uint64_t
rface_uptime(void)
{
    uint64_t s = __atomic_load_n(&started, __ATOMIC_RELAXED);
    uint64_t now = (uint64_t)time(NULL);
    return s && now > s ? now - s : 0;
}

/* ---- the connection's hooks ---- */

static int
rconn_open(struct conn *c)
{
    struct rconn *rc = (struct rconn *)c;
    struct worker *w = c->data;
    rc->w = w;
    resp_cmd_init(&rc->cmd);
    RSTAT_ADD(w, accepted, 1);
    RSTAT_ADD(w, open, 1);
    rc->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    rc->proto = RESP_PROTO2;
    return 0;
}

static void
rconn_close(struct conn *c)
{
    RSTAT_ADD((struct worker *)c->data, open, (uint64_t)-1);
}

static void
rconn_tls_refused(struct conn *c, int reason)
{
    pmetrics_tls_refused(c->data, PM_RESP, reason);
}

/* Free slot s's ext, by its kind's owner. */
static void
slot_ext_free(struct rconn *rc, struct rslot *s)
{
    if (s->kind == K_RENAME)
        rname_free(s->ext);
    else if (s->kind == K_LCS)
        rlcs_free(s->ext);
    else
        rmw_free(rc->w, s->ext);
}

static void
rconn_free(struct conn *c)
{
    struct rconn *rc = (struct rconn *)c;
    for (uint32_t i = 0; i < rc->cap; i++) {
        buf_free(&rc->slots[i].buf);
        free(rc->slots[i].pieces);
        slot_ext_free(rc, &rc->slots[i]);
        rwin_free(rc->slots[i].win);
    }
    free(rc->slots);
    budget_release(rc);
    resp_cmd_deinit(&rc->cmd);
    ident_deinit(&rc->ident);
    rmulti_free(rc);
}

/* Keep the output back while the first command still waiting for its reply
 * arrived in the same batch as the last reply in it: the batch's replies
 * leave together, as a redis-server, which handles a read's commands at
 * once, sends them. A reply that waits on a later batch goes at once. */
static int
rconn_gather(const struct conn *c)
{
    const struct rconn *rc = (const struct rconn *)c;
    return rc->count > 0 && rc->slots[rc->head].batch == rc->out_batch;
}

/* Commands waiting for their replies. */
static uint64_t
rconn_backlog(const struct conn *c)
{
    return ((const struct rconn *)c)->count;
}

static void
rconn_dirty(struct rconn *rc)
{
    conn_dirty(&rc->c);
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
    struct buf b = s->buf;
    struct rpiece *pieces = s->pieces;
    size_t pcap = s->pieces_cap;
    memset(s, 0, sizeof(*s));
    s->buf = b;
    s->buf.len = 0;
    s->pieces = pieces;
    s->pieces_cap = pcap;
    s->seq = rc->next_seq++;
    s->proto = rc->proto;
    s->cmd = rc->cur_cmd;
    s->t0 = rc->c.t0;
    s->batch = rc->c.batch;
    return s;
}

struct buf *
rconn_out(struct rconn *rc)
{
    if (rc->count == 0) {
        rconn_dirty(rc);
        rc->out_batch = rc->c.batch;
        return &rc->c.out;
    }
    struct rslot *s = rconn_slot(rc);
    if (s == NULL) return NULL;
    s->done = 1;
    return &s->buf;
}

struct buf *
rconn_slot_buf(struct rconn *rc, struct rslot *s)
{
    if (s == slot_at(rc, 0)) {
        rconn_dirty(rc);
        rc->out_batch = s->batch;
        return &rc->c.out;
    }
    return &s->buf;
}

/* Append a done slot's reply to the output. */
static void
slot_emit(struct rconn *rc, struct rslot *s)
{
    int rc_ = 0;
    rc->out_batch = s->batch;
    if (s->use_pieces) {
        rc_ |= resp_array_header(&rc->c.out, s->nsub);
        for (uint32_t i = 0; i < s->nsub; i++)
            rc_ |= resp_raw(&rc->c.out, s->buf.data + s->pieces[i].off, s->pieces[i].len);
    } else if (s->buf.len > 0) {
        rc_ |= resp_raw(&rc->c.out, s->buf.data, s->buf.len);
    }
    if (rc_ != 0) rc->nomem = 1;
    slot_ext_free(rc, s);
    s->ext = NULL;
    rwin_free(s->win);
    s->win = NULL;
    s->buf.len = 0;
    if (s->buf.cap > SLOT_KEEP_MAX) buf_free(&s->buf);
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
    conn_hold(&rc->c);
}

void
rconn_slot_done(struct rconn *rc, struct rslot *s)
{
    if (s->wseq) rwatch_slot_done(rc, s); /* EXEC's header first */
    s->done = 1;
    rstat_slot_done(rc, s);
    if (rc->barrier && s->seq == rc->barrier_seq) {
        rc->barrier = 0;
        conn_release(&rc->c); /* the commands behind it run at this turn's flush */
    }
    if (rc->count == 0 || s != slot_at(rc, 0)) return;
    while (rc->count > 0 && slot_at(rc, 0)->done) {
        slot_emit(rc, slot_at(rc, 0));
        rc->head = (rc->head + 1) & (rc->cap - 1);
        rc->count--;
    }
    rconn_dirty(rc);
    conn_update(&rc->c);
}

struct rslot *
rconn_slot_find(struct rconn *rc, uint64_t seq)
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
    if (rc->c.closing) return;
    struct rslot *s = rconn_slot_find(rc, (uint64_t)tag >> RFACE_SUB_BITS);
    if (s == NULL || s->done) {
        log_error("RESP answer for no waiting command peer=%s", rc->c.peer); /* a bug */
        return;
    }
    rcmd_answer(rc, s, (uint32_t)(tag & ((1u << RFACE_SUB_BITS) - 1)), rq, res);
    if (rc->nomem && !rc->c.closing) {
        log_error("out of memory for replies, closing peer=%s", rc->c.peer);
        conn_close(&rc->c);
    }
}

static void
rface_ref(void *obj)
{
    conn_ref(obj);
}

static void
rface_unref(void *obj)
{
    conn_unref(obj);
}

static const struct psink_ops rface_sink = {rface_reply, rface_ref, rface_unref};

const char *
rconn_ns(const struct rconn *rc)
{
    if (rc->db != 0) return rc->dbns;
    return rc->ns[0] ? rc->ns : rc->w->p->cfg.resp_ns;
}

int
rconn_db_ns(const struct rconn *rc, uint32_t db, char *out)
{
    const char *base = rc->ns[0] ? rc->ns : rc->w->p->cfg.resp_ns;
    int n = db ? snprintf(out, ACL_MAX_NAME + 8, "%s/%u", base, db)
               : snprintf(out, ACL_MAX_NAME + 8, "%s", base);
    return n < 0 || (uint64_t)n > rc->w->p->cfg.max_ns ? -1 : 0;
}

int
rconn_select(struct rconn *rc, uint32_t db)
{
    char ns[ACL_MAX_NAME + 8];
    if (rconn_db_ns(rc, db, ns) != 0) return -1;
    rc->db = db;
    memcpy(rc->dbns, ns, sizeof(ns));
    return 0;
}

void
rconn_start(struct rconn *rc, struct rslot *s, uint32_t sub, struct wire_msg *m, unsigned flags)
{
    const char *ns = s->ns != NULL ? s->ns : rconn_ns(rc);
    m->type_flag = WIRE_TF_REQUEST;
    m->ns.ptr = (const uint8_t *)ns;
    m->ns.len = strlen(ns);
    struct psink sink = {&rface_sink, rc, (uintptr_t)(s->seq << RFACE_SUB_BITS | sub)};
    /* --deadline bounds each request from its start: the keys of a command
     * past its first RFACE_WINDOW start as earlier ones are answered, so a
     * command of 100,000 keys may take longer than one deadline in all */
    uint64_t t0 = sub < RFACE_WINDOW ? rc->c.t0 : uv_hrtime();
    int r = preq_start(rc->w, &sink, m, flags | PREQ_RETRY_LOCKED | PREQ_KEY_QUEUE, t0);
    if (r != 0) {
        struct preq_result res = {.status = r == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM
                                                             : WIRE_ST_NO_STORAGE_SERVER};
        rcmd_answer(rc, s, sub, NULL, &res);
    }
}

void
rconn_quit(struct rconn *rc)
{
    conn_linger(&rc->c);
}

/* ---- parsing ---- */

static void
protocol_error(struct conn *c, const char *why)
{
    struct rconn *rc = (struct rconn *)c;
    RSTAT_ADD(rc->w, protocol_errors, 1);
    log_info("RESP protocol error, closing connection peer=%s reason=\"%s\"", c->peer, why);
    struct buf *b = rconn_out(rc);
    if (b == NULL || resp_error(b, why) != 0) rc->nomem = 1;
    if (rc->nomem) {
        log_error("out of memory for replies, closing peer=%s", c->peer);
        conn_close(c);
    }
}

/* The RESP limits a frame() applies now (CONFIG SET may have changed them).
 * Under --acl, a client not yet authenticated gets Redis 7's: 10 arguments,
 * bulk strings of 16 KiB, so it cannot make the proxy hold much. */
static struct resp_limits
rconn_limits(struct rconn *rc)
{
    const struct proxy_config *cfg = &rc->w->p->cfg;
    struct resp_limits l = {.max_args = RFACE_MAX_ARGS,
                            .max_bulk = RESP_PROTO_MAX_BULK,
                            .max_keep = rface_limit(&cfg->resp_max_value)};
    if (rauth_unauthenticated(rc)) l.max_args = 10, l.max_bulk = 16384, l.unauth = 1;
    return l;
}

/* ---- the proxy's budget of bulk data arriving (--resp-max-buffered) ----
 *
 * Past RFACE_FREE_DATA, the bulk data a command's headers announce is
 * reserved from p->resp_buffered before it is buffered; a command that would
 * take the total over --resp-max-buffered is dropped as it arrives (as one
 * over --resp-max-value) and answered Redis's -OOM: memory stays bounded
 * however many clients send large values at once, and no connection waits
 * on another. The reservation is given back when the command is whole,
 * dropped, or its connection goes. */

static void
budget_release(struct rconn *rc)
{
    if (rc->reserved == 0) return;
    __atomic_sub_fetch(&rc->w->p->resp_buffered, rc->reserved, __ATOMIC_RELAXED);
    rc->reserved = 0;
}

/* The most bulk data the command arriving may announce now. */
static uint64_t
budget_max_data(const struct rconn *rc)
{
    const struct proxy *p = rc->w->p;
    uint64_t cap = p->cfg.resp_max_buffered;
    uint64_t used = __atomic_load_n(&p->resp_buffered, __ATOMIC_RELAXED);
    return RFACE_FREE_DATA + rc->reserved + (used < cap ? cap - used : 0);
}

/* After AGAIN: reserve what the headers read so far announce. */
static void
budget_take(struct rconn *rc)
{
    uint64_t a = rc->cmd.announced, need = a > RFACE_FREE_DATA ? a - RFACE_FREE_DATA : 0;
    if (need <= rc->reserved) return;
    __atomic_add_fetch(&rc->w->p->resp_buffered, need - rc->reserved, __ATOMIC_RELAXED);
    rc->reserved = need;
}

/* A command with a bulk string over --resp-max-value is dropped as it
 * arrives: each piece is a "frame" that rconn_handle ignores, the last one
 * answers RFACE_E_TOOBIG. */
static int
rconn_skip(struct rconn *rc, const uint8_t *data, size_t len, size_t *flen, const char **why)
{
    struct resp_limits lim = rconn_limits(rc);
    int r = resp_skip(data, len, &lim, &rc->cmd, flen, why);
    if (r == RESP_ERROR) return CONN_FRAME_ERROR;
    if (r == RESP_OK) {
        rc->skipping = 0;
        rc->skip_done = 1;
    }
    return *flen > 0 ? CONN_FRAME_OK : CONN_FRAME_AGAIN; /* RESP_OK comes with bytes */
}

static int
rconn_frame(struct conn *c, const uint8_t *data, size_t len, size_t *flen, size_t *need,
            const char **why)
{
    (void)need;
    struct rconn *rc = (struct rconn *)c;
    if (rc->skipping) return rconn_skip(rc, data, len, flen, why);
    struct resp_limits lim = rconn_limits(rc);
    lim.max_data = budget_max_data(rc);
    int r = resp_parse(data, len, &lim, &rc->cmd, flen, why);
    if (r != RESP_AGAIN) {
        budget_release(rc);
        rc->progress = 0;
    }
    if (r == RESP_OK) return CONN_FRAME_OK;
    if (r == RESP_ERROR) return CONN_FRAME_ERROR;
    if (r == RESP_SKIP) {
        rc->skipping = 1;
        rc->cmd.argc = 0;
        RSTAT_ADD(rc->w, commands, 1);
        if (rc->cmd.skip_data)
            log_info("RESP command dropped: bulk data arriving over --resp-max-buffered %llu "
                     "peer=%s",
                     (unsigned long long)rc->w->p->cfg.resp_max_buffered, c->peer);
        else
            log_info("RESP command with a bulk string over --resp-max-value %llu dropped peer=%s",
                     (unsigned long long)lim.max_keep, c->peer);
        return CONN_FRAME_OK;
    }
    budget_take(rc);
    if (len >= rc->progress + CONN_READ_CHUNK) { /* a large command moving on: more time */
        c->partial_since = uv_now(c->g->loop);
        rc->progress = len;
    }
    uint64_t max_query = rface_limit(&rc->w->p->cfg.resp_max_query);
    if (len > max_query) {
        snprintf(rc->why, sizeof(rc->why),
                 "Protocol error: command over %llu bytes (client-query-buffer-limit)",
                 (unsigned long long)max_query);
        *why = rc->why;
        return CONN_FRAME_ERROR;
    }
    return CONN_FRAME_AGAIN;
}

static void
rconn_handle(struct conn *c, const uint8_t *frame, size_t len)
{
    (void)frame, (void)len; /* resp_parse left the command in rc->cmd */
    struct rconn *rc = (struct rconn *)c;
    if (rc->skip_done) {
        rc->skip_done = 0;
        struct buf *b = rconn_out(rc);
        const char *e = rc->cmd.skip_data ? RFACE_E_OOM : RFACE_E_TOOBIG;
        rstat_error(rc, NULL, e);
        if (b == NULL || resp_error(b, e) != 0) rc->nomem = 1;
    } else if (rc->skipping || rc->cmd.argc == 0) {
        return;
    } else {
        RSTAT_ADD(rc->w, commands, 1);
        rcmd_run(rc, &rc->cmd);
    }
    if (rc->nomem && !c->closing) {
        log_error("out of memory for replies, closing peer=%s", c->peer);
        conn_close(c);
    }
}

static const struct conn_proto rface_proto = {
    .size = sizeof(struct rconn),
    .what = "RESP connection",
    .frame = rconn_frame,
    .handle = rconn_handle,
    .bad_frame = protocol_error,
    .open = rconn_open,
    .close = rconn_close,
    .free = rconn_free,
    .eof = conn_linger, /* a half-close after the last command still gets its replies */
    .backlog = rconn_backlog,
    .tls_refused = rconn_tls_refused,
    .gather = rconn_gather,
};

int
rface_listen(struct worker *w)
{
    if (w->resp_fd < 0) return 0;
    uint64_t zero = 0, now = (uint64_t)time(NULL);
    __atomic_compare_exchange_n(&started, &zero, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    const struct proxy_config *cfg = &w->p->cfg;
    struct conn_limits lim = {.max_frame = cfg->resp_max_query,
                              .max_backlog = cfg->max_inflight,
                              .idle_ms = cfg->idle_timeout_s * 1000,
                              .frame_ms = FRAME_MS};
    int rc = conn_listen_fd(&w->resp_listener, &w->clients, &rface_proto, &lim, w->resp_fd,
                            w->p->tls, w);
    w->resp_fd = -1; /* the listener has it (or closed it) */
    return rc;
}
