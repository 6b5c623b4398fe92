/* migrate.c: a shard streaming from this store (the source) to another (the
 * target), for juno-migrate.
 *
 *   MigrateStart S {"target":"H:P","rate":B}
 *        │  forwarding on: from now every write applied to S is also sent
 *        │  to the target as a Clone (a Delete as a Delete)
 *        ▼
 *   copying ── an iterator over S's key range (a snapshot taken after
 *        │     forwarding began), on a copy thread at the lowest CPU
 *        │     priority (lib/bgq), produces chunks of Clones; the loop
 *        │     sends them, at most MIG_WINDOW bytes unacknowledged, at
 *        │     most B bytes/s when a rate is given
 *        ▼
 *   caught_up ── every copied record acknowledged; forwarding goes on
 *        │
 *        ├─ MigrateVerify S: hold new writes to S, wait for S's writes in
 *        │  flight and every forward to be acknowledged, scan S here and ask
 *        │  the target for its ShardInfo, release the writes, answer both
 *        ▼
 *   MigrateStop S ── waits for forwards in flight, then closes: stopped
 *
 * Any failure of the target connection (or a refused Clone) ends in failed;
 * juno-migrate starts the move again (Clone keeps the newer copy, so a
 * second pass is harmless). The first message on the connection is a
 * ShardAccept: the target then serves S to proxies even before the map
 * gives it S, and the source keeps serving S while it forwards, so proxies
 * on either side of a map change are answered.
 *
 * Messages to the target carry their own size in the opaque (the reply
 * gives it back, which is how the unacknowledged bytes are counted), bit 30
 * for a forwarded write, bit 31 for a control message. The connection is a
 * lib/conn outgoing one in s->streams: written once per loop turn.
 */
#include "migrate_int.h"
#include "smetrics.h"
#include "store.h"

#include "client.h"
#include "cli.h"
#include "buf.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const mig_state_name[] = {"copying", "caught_up", "failed", "stopped"};

struct migrate *
migrate__get(struct store *s)
{
    if (s->migrate != NULL || s->draining) return s->migrate;
    struct migrate *m = calloc(1, sizeof(*m));
    if (m == NULL) return NULL;
    m->out = calloc(MIG_SHARDS, sizeof(*m->out));
    m->incoming = calloc(MIG_SHARDS, 1);
    m->pending = calloc(MIG_SHARDS, sizeof(*m->pending));
    if (m->out == NULL || m->incoming == NULL || m->pending == NULL) {
        free(m->out), free(m->incoming), free(m->pending), free(m);
        return NULL;
    }
    s->migrate = m;
    return m;
}

int
mig__forwarding(const struct mig *g)
{
    return (!g->detached || g->draining) && (g->state == MIG_COPYING || g->state == MIG_CAUGHT_UP);
}

/* ---- replies to the juno-migrate connection ---- */

void
mig__reply_json(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard, int status,
                const char *json)
{
    conn_reply_value(c, opaque, opcode, shard, status, (const uint8_t *)json,
                     json ? strlen(json) : 0);
}

/* The status JSON of g (or of no stream for shard): owned string. */
static char *
mig__status_json(const struct mig *g, uint16_t shard, uint64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "shard", g ? g->shard : shard);
    if (g == NULL) {
        cJSON_AddStringToObject(o, "state", "none");
    } else {
        cJSON_AddStringToObject(o, "target", g->target);
        cJSON_AddStringToObject(o, "state", mig_state_name[g->state]);
        cJSON_AddNumberToObject(o, "records", (double)g->records);
        cJSON_AddNumberToObject(o, "bytes", (double)g->bytes);
        cJSON_AddNumberToObject(o, "forwarded", (double)g->forwarded);
        uint64_t end = g->finished_ms ? g->finished_ms : now;
        cJSON_AddNumberToObject(o, "copy_ms", (double)(end - g->started_ms));
        cJSON_AddNumberToObject(o, "rate", (double)g->rate);
        cJSON_AddStringToObject(o, "error", g->error);
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

void
mig__reply_status_json(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard, int status,
                       const struct mig *g)
{
    char *json = mig__status_json(g, shard, uv_now(conn_store(c)->loop));
    mig__reply_json(c, opaque, opcode, shard, json ? status : WIRE_ST_SS_OUT_OF_RESOURCE, json);
    free(json);
}

/* ---- lifetime ---- */

void
mig__maybe_free(struct mig *g)
{
    if (!g->detached || g->handles > 0 || g->working || g->scanning) return;
    struct store *s = g->s;
    struct migrate *m = s->migrate;
    for (struct mig **pp = &m->all; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    if (g->copy_queued) {
        struct mig *prev = NULL;
        for (struct mig *q = m->copy_wait; q; prev = q, q = q->wait_next) {
            if (q != g) continue;
            if (prev)
                prev->wait_next = q->wait_next;
            else
                m->copy_wait = q->wait_next;
            if (m->copy_wait_tail == g) m->copy_wait_tail = prev;
            break;
        }
    }
    if (g->it) engine_iter_destroy(g->it);
    buf_free(&g->chunk);
    free(g);
    if (m->shutting_down && m->all == NULL) {
        free(m->out), free(m->incoming), free(m->pending), free(m);
        s->migrate = NULL;
    }
}

static void
mig__on_handle_closed(uv_handle_t *h)
{
    struct mig *g = h->data;
    g->handles--;
    mig__maybe_free(g);
}

/* Release the writes a Verify held, in their order. */
void
mig__release(struct mig *g)
{
    struct migrate *m = g->s->migrate;
    g->holding = 0;
    while (g->held_head) {
        struct engine_write *w = g->held_head;
        g->held_head = w->next;
        m->pending[g->shard]++;
        engine_submit(g->s->engine, w);
    }
    g->held_tail = NULL;
}

/* Close the connection and the timer (the stream's state stays readable). */
void
mig__close(struct mig *g)
{
    if (g->closed) return;
    g->closed = 1;
    struct migrate *m = g->s->migrate;
    if (m->shutting_down) { /* nobody will ask for its state again */
        if (m->out[g->shard] == g) m->out[g->shard] = NULL;
        g->detached = 1;
    }
    if (g->holding) mig__release(g);
    if (g->it && !g->working) {
        engine_iter_destroy(g->it);
        g->it = NULL;
    }
    if (g->conn != NULL) {
        conn_close(g->conn); /* unsent output is dropped; no callback of its comes */
        g->conn = NULL;
    }
    if (g->handles > 0 && !uv_is_closing((uv_handle_t *)&g->timer))
        uv_close((uv_handle_t *)&g->timer, mig__on_handle_closed);
}

void
mig__finish_waiter(struct mig *g, int status, const char *json)
{
    struct conn *c = g->waiter;
    if (c == NULL) return;
    g->waiter = NULL;
    if (g->holding) mig__release(g);
    if (!g->closed) {
        uv_timer_stop(&g->timer);
        mig__copy_next(g); /* the timer may have been the copy's rate limit */
    }
    if (json != NULL)
        mig__reply_json(c, g->wopaque, g->wop, g->shard, status, json);
    else
        mig__reply_status_json(c, g->wopaque, g->wop, g->shard, status, g);
    conn_unref(c);
}

void
mig__fail(struct mig *g, const char *fmt, ...)
{
    if (!mig__forwarding(g)) {
        mig__close(g);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error, sizeof(g->error), fmt, ap);
    va_end(ap);
    g->state = MIG_FAILED;
    if (!g->finished_ms) g->finished_ms = uv_now(g->s->loop);
    log_warn("shard stream failed shard=%u target=%s reason=\"%s\"", g->shard, g->target, g->error);
    mig__finish_waiter(g, WIRE_ST_SS_ERROR, NULL);
    mig__close(g);
}

/* ---- output to the target ---- */

/* Queue m for the target; its opaque becomes its size | kind. */
int
mig__queue(struct mig *g, struct wire_msg *m, uint32_t kind)
{
    size_t n = wire_encoded_size(m);
    if (n == 0 || n > OPQ_SIZE) return JUNO_EINVAL;
    if (g->conn == NULL) return JUNO_ECONNRESET;
    uint8_t *p = conn_reserve(g->conn, n);
    if (p == NULL) return JUNO_ENOMEM;
    struct buf *out = conn_out(g->conn);
    m->opaque = (kind & OPQ_CTL) ? kind : (uint32_t)n | kind;
    int w = wire_encode(m, p, out->cap - out->len);
    if (w < 0) return w;
    out->len += (size_t)w;
    if (!(kind & OPQ_CTL)) g->unacked += (size_t)w;
    return 0;
}

/* ---- replies from the target ---- */

static void
mig__check_caught_up(struct mig *g)
{
    if (g->state != MIG_COPYING || !g->copy_done || g->copy_unacked > 0 || g->working) return;
    g->state = MIG_CAUGHT_UP;
    g->finished_ms = uv_now(g->s->loop);
    log_info("shard stream caught up shard=%u target=%s records=%" PRIu64 " bytes=%" PRIu64
             " ms=%" PRIu64 " forwarded=%" PRIu64,
             g->shard, g->target, g->records, g->bytes, g->finished_ms - g->started_ms,
             g->forwarded);
}

static void
mig__on_reply(struct mig *g, const struct wire_msg *r)
{
    if (r->opaque & OPQ_CTL) {
        if (r->opaque == OPQ_INFO && g->waiter && g->info_sent) {
            if (r->status != WIRE_ST_OK || r->value.len == 0 || r->value.len > 1024) {
                mig__fail(g, "target answered %s to ShardInfo", wire_status_name(r->status));
                return;
            }
            cJSON *t = cJSON_ParseWithLength((const char *)r->value.ptr, r->value.len);
            char src[300];
            ops_shard_json(g->s, g->shard, g->src_info, src, sizeof(src));
            cJSON *so = cJSON_Parse(src);
            int match = t != NULL && so != NULL;
            static const char *const keys[] = {"live", "tombstones", "hash"};
            for (int i = 0; match && i < 3; i++) {
                cJSON *a = cJSON_GetObjectItem(so, keys[i]), *b = cJSON_GetObjectItem(t, keys[i]);
                char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
                match = x && y && strcmp(x, y) == 0;
                free(x), free(y);
            }
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "shard", g->shard);
            cJSON_AddBoolToObject(o, "match", match);
            cJSON_AddItemToObject(o, "source", so ? so : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "target", t ? t : cJSON_CreateNull());
            char *json = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            log_info("shard verified shard=%u target=%s match=%s", g->shard, g->target,
                     match ? "yes" : "no");
            mig__finish_waiter(g, json ? WIRE_ST_OK : WIRE_ST_SS_OUT_OF_RESOURCE, json);
            free(json);
        } else if (r->opaque == OPQ_ACCEPT && r->status != WIRE_ST_OK) {
            mig__fail(g, "target refused the shard: %s", wire_status_name(r->status));
        }
        return;
    }
    uint64_t size = r->opaque & OPQ_SIZE;
    g->unacked -= size < g->unacked ? size : g->unacked;
    if (!(r->opaque & OPQ_FORWARD))
        g->copy_unacked -= size < g->copy_unacked ? size : g->copy_unacked;
    if (r->status != WIRE_ST_OK) {
        mig__fail(g, "target answered %s to a %s", wire_status_name(r->status),
                  wire_opcode_name(r->opcode));
        return;
    }
    mig__check_caught_up(g);
    mig__copy_next(g);
    mig__step(g);
}

/* ---- the connection's protocol ---- */

static void
mig__handle(struct conn *c, const uint8_t *frame, size_t len)
{
    struct mig *g = c->data;
    struct wire_msg r;
    if (wire_decode(frame, len, &r) != WIRE_ST_OK) {
        mig__fail(g, "bad reply from the target: undecodable");
        return;
    }
    mig__on_reply(g, &r);
}

static void
mig__bad_frame(struct conn *c, const char *why)
{
    mig__fail(c->data, "bad reply from the target: %s", why);
}

static void
mig__connected(struct conn *c)
{
    struct mig *g = c->data;
    g->connected = 1;
}

static void
mig__failed(struct conn *c, int err, const char *why)
{
    struct mig *g = c->data;
    g->conn = NULL; /* closing already */
    if (!g->connected)
        mig__fail(g, "cannot connect to %s: %s", g->target, why);
    else if (err == JUNO_EOF)
        mig__fail(g, "target connection lost: closed");
    else
        mig__fail(g, "target connection lost: %s", why);
}

static void
mig__tls_refused(struct conn *c, int reason)
{
    (void)c;
    smetrics_tls_refused(1, reason);
}

const struct conn_proto mig__proto = {
    .what = "shard stream",
    .frame = conn_wire_frame,
    .handle = mig__handle,
    .bad_frame = mig__bad_frame,
    .connected = mig__connected,
    .failed = mig__failed,
    .tls_refused = mig__tls_refused,
};

/* ---- the copy ---- */

static void
mig__work_copy(struct bgq_job *w)
{
    struct mig *g = w->data;
    g->chunk.len = 0;
    g->chunk_records = g->chunk_bytes = 0;
    g->chunk_end = 0;
    if (g->it == NULL) {
        uint8_t start[2], end[3];
        size_t elen = record_shard_range(g->shard, start, end);
        g->it = engine_iter_create(g->s->engine, start, 2, end, elen);
        if (g->it == NULL) return;
    }
    uint64_t now = record_now_ms();
    const uint8_t *k, *v;
    size_t kl, vl;
    while (g->chunk.len < g->pass_limit && g->chunk_records < MIG_CHUNK_RECORDS) {
        if (!engine_iter_next(g->it, &k, &kl, &v, &vl)) {
            g->chunk_end = 1;
            break;
        }
        struct wire_msg msg;
        if (record_clone_msg(k, kl, v, vl, &msg) != 0) continue;
        msg.flags |= WIRE_FLAG_BULK; /* forwarded writes are not: they sync as usual */
        uint64_t exp = wire_meta_expiration(&msg.meta);
        if (exp && exp <= now) continue;
        size_t n = wire_encoded_size(&msg);
        if (n == 0 || n > OPQ_SIZE) continue;
        if (buf_reserve(&g->chunk, n) != 0) break;
        msg.opaque = (uint32_t)n;
        int wn = wire_encode(&msg, g->chunk.data + g->chunk.len, g->chunk.cap - g->chunk.len);
        if (wn < 0) continue;
        g->chunk.len += (size_t)wn;
        g->chunk_records++;
        g->chunk_bytes += kl + vl;
    }
}

static void
mig__after_copy(struct bgq_job *w)
{
    struct mig *g = w->data;
    struct store *s = g->s;
    struct migrate *m = s->migrate;
    g->working = 0;
    s->inflight--;
    m->copy_running--;
    if (g->pass_busy && g->chunk.len < g->pass_limit) /* a short pass: less to wait for */
        m->busy_next_us -= (g->pass_limit - g->chunk.len) * 1000000 / s->cfg.busy_copy_rate;
    else if (g->pass_busy) /* a pass ends after the record that crosses the limit */
        m->busy_next_us += (g->chunk.len - g->pass_limit) * 1000000 / s->cfg.busy_copy_rate;
    /* the waiting streams' turn, in order; those that cannot start yet queue
     * again (each is looked at once) */
    struct mig *waiting = m->copy_wait;
    m->copy_wait = m->copy_wait_tail = NULL;
    while (waiting) {
        struct mig *next = waiting;
        waiting = next->wait_next;
        next->copy_queued = 0;
        if (next != g) mig__copy_next(next);
    }
    if (g->closed || g->detached) {
        if (g->it) engine_iter_destroy(g->it);
        g->it = NULL;
        mig__maybe_free(g);
        return;
    }
    if (g->it == NULL) {
        mig__fail(g, "cannot iterate the shard");
        return;
    }
    if (g->chunk.len > 0) {
        uint8_t *p = g->conn ? conn_reserve(g->conn, g->chunk.len) : NULL;
        if (p == NULL) {
            mig__fail(g, "out of memory");
            return;
        }
        memcpy(p, g->chunk.data, g->chunk.len);
        conn_out(g->conn)->len += g->chunk.len;
        g->unacked += g->chunk.len;
        g->copy_unacked += g->chunk.len;
        g->copy_sent += g->chunk.len;
        g->records += g->chunk_records;
        g->bytes += g->chunk_bytes;
    }
    if (g->chunk_end) {
        g->copy_done = 1;
        engine_iter_destroy(g->it);
        g->it = NULL;
        mig__check_caught_up(g);
        return;
    }
    mig__copy_next(g);
}

void
mig__on_timer(uv_timer_t *t)
{
    struct mig *g = t->data;
    mig__copy_next(g);
    mig__step(g);
    if (!g->closed && (g->waiter || g->draining) && !uv_is_active((uv_handle_t *)t))
        uv_timer_start(t, mig__on_timer, 50, 50); /* keep watching the deadline */
}

/* Queue the next chunk of the copy when the window and the rate allow. */
void
mig__copy_next(struct mig *g)
{
    struct store *s = g->s;
    if (g->state != MIG_COPYING || g->copy_done || g->working || g->closed ||
        s->migrate->shutting_down || (g->waiter && g->wop == WIRE_OP_MIGRATE_STOP))
        return;
    if (g->copy_unacked >= MIG_WINDOW) return; /* resumed by the next acknowledgement */
    if (g->rate > 0) {
        uint64_t elapsed = uv_now(s->loop) - g->started_ms;
        uint64_t allowed = g->rate * elapsed / 1000; /* no burst beyond the first chunk */
        if (g->copy_sent > allowed) {
            uint64_t wait = (g->copy_sent - allowed) * 1000 / g->rate + 1;
            uv_timer_start(&g->timer, mig__on_timer, wait, 0);
            return;
        }
    }
    /* Foreground first: while the store serves foreground requests, the copy
     * goes at most at busy_copy_rate (store-wide, one small pass at a time;
     * a stream's own rate still applies); at full speed again once they stop. */
    struct migrate *m = s->migrate;
    uint64_t now = uv_now(s->loop);
    uint64_t busy_rate = s->cfg.busy_copy_rate;
    int busy = busy_rate > 0 && now < s->fg_last_ms + MIG_BUSY_MS;
    uint64_t now_us = uv_hrtime() / 1000;
    if (busy && m->copy_running == 0 && m->busy_next_us > now_us) {
        uv_timer_start(&g->timer, mig__on_timer, (m->busy_next_us - now_us + 999) / 1000, 0);
        return;
    }
    if (m->copy_running >= (busy ? 1u : MIG_COPY_WORKERS)) { /* wait for a turn */
        if (!g->copy_queued) {
            g->copy_queued = 1;
            g->wait_next = NULL;
            if (m->copy_wait_tail)
                m->copy_wait_tail->wait_next = g;
            else
                m->copy_wait = g;
            m->copy_wait_tail = g;
        }
        return;
    }
    g->pass_busy = busy;
    g->pass_limit = g->chunk_limit;
    if (busy) {
        uint64_t slice = busy_rate / MIG_BUSY_SLICE < 1024 ? 1024 : busy_rate / MIG_BUSY_SLICE;
        if (slice < g->pass_limit) g->pass_limit = slice;
        m->busy_next_us = (m->busy_next_us > now_us ? m->busy_next_us : now_us) +
                          g->pass_limit * 1000000 / busy_rate;
    }
    if (!s->copyq_on) {
        if (bgq_init(&s->copyq, s->loop, MIG_COPY_WORKERS) != 0) {
            mig__fail(g, "cannot start the copy threads: out of memory");
            return;
        }
        s->copyq_on = 1;
    }
    m->copy_running++;
    g->working = 1;
    s->inflight++; /* a drain waits for the pass */
    g->cjob.data = g;
    g->cjob.work = mig__work_copy;
    g->cjob.done = mig__after_copy;
    bgq_submit(&s->copyq, &g->cjob);
}

/* ---- Verify and Stop ---- */

static void
mig__work_scan(uv_work_t *w)
{
    struct mig *g = w->data;
    ops_shard_scan(g->s, g->shard, g->src_info, &g->src_rc);
}

static void
mig__after_scan(uv_work_t *w, int status)
{
    struct mig *g = w->data;
    g->scanning = 0;
    g->s->inflight--;
    if (status != 0 || g->src_rc != 0) {
        mig__finish_waiter(g, WIRE_ST_SS_ERROR, NULL);
        mig__maybe_free(g);
        return;
    }
    g->scanned = 1;
    mig__step(g);
    mig__maybe_free(g);
}

/* Whether every write to the shard is applied and acknowledged by the target. */
static int
mig__quiet(const struct mig *g)
{
    return g->s->migrate->pending[g->shard] == 0 && g->unacked == 0 &&
           (g->conn == NULL || conn_pending_output(g->conn) == 0);
}

/* Move a waiting Verify or Stop (or a draining stream) along. */
void
mig__step(struct mig *g)
{
    uint64_t now = uv_now(g->s->loop);
    if (g->draining && !g->closed) {
        if ((server_inflight(g->s) == 0 && mig__quiet(g)) || now > g->wdeadline) mig__detach(g);
        return;
    }
    if (g->waiter == NULL) return;
    if (now > g->wdeadline) {
        if (g->wop == WIRE_OP_MIGRATE_STOP) {
            snprintf(g->error, sizeof(g->error), "stopped with writes still in flight");
            g->state = MIG_STOPPED;
            mig__finish_waiter(g, WIRE_ST_OK, NULL);
            mig__close(g);
        } else {
            mig__finish_waiter(g, WIRE_ST_BUSY, NULL);
        }
        return;
    }
    if (g->wop == WIRE_OP_MIGRATE_STOP) {
        if (!mig__quiet(g) && mig__forwarding(g)) return;
        if (mig__forwarding(g)) g->state = MIG_STOPPED;
        log_info("shard stream stopped shard=%u target=%s forwarded=%" PRIu64, g->shard, g->target,
                 g->forwarded);
        if (!g->s->owned[g->shard]) engine_set_droppable(g->s->engine, g->shard, 1);
        mig__finish_waiter(g, WIRE_ST_OK, NULL);
        mig__close(g);
        return;
    }
    /* Verify */
    if (!g->scanned && !g->scanning) {
        if (!mig__quiet(g)) return;
        g->scanning = 1;
        g->s->inflight++;
        g->vwork.data = g;
        uv_queue_work(g->s->loop, &g->vwork, mig__work_scan, mig__after_scan);
        return;
    }
    if (g->scanned && !g->info_sent) {
        struct wire_msg q;
        memset(&q, 0, sizeof(q));
        q.type_flag = WIRE_TF_REQUEST;
        q.opcode = WIRE_OP_SHARD_INFO;
        q.shard_id = g->shard;
        if (mig__queue(g, &q, OPQ_INFO) != 0) {
            mig__finish_waiter(g, WIRE_ST_SS_OUT_OF_RESOURCE, NULL);
            return;
        }
        g->info_sent = 1;
    }
}

void
mig__wait(struct mig *g, struct conn *c, const struct wire_msg *req)
{
    g->waiter = c;
    conn_ref(c);
    g->wopaque = req->opaque;
    g->wop = req->opcode;
    g->wdeadline = uv_now(g->s->loop) + MIG_WAIT_MS;
    g->scanned = g->scanning = g->info_sent = 0;
    if (req->opcode == WIRE_OP_MIGRATE_VERIFY) g->holding = 1;
    uv_timer_start(&g->timer, mig__on_timer, 50, 50);
    mig__step(g);
}
