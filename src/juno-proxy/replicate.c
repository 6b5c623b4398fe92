/* replicate.c: a client request's life in the proxy, and Get.
 *
 * preq_start copies what the request needs (namespace, key, value, request id),
 * finds the key's replicas in the route it starts with (zone z: the node
 * owners[shard] of zone z) and hands over to the operation's state machine:
 * Get below, Create/Update/Set/Destroy in twophase.c. Every storage answer (or
 * failure) comes back through rq_on_answer, which lets the machine advance;
 * the request is freed once nothing of it is in flight and the client has its
 * reply.
 *
 * Get:  Read ──► every replica not marked down
 *         R answers in ──► reply: the newest copy (last-modified, then
 *                          version) wins; a newest tombstone means NoKey
 *         too few can answer ──► NoStorageServer
 *         all answered (or failed) ──► read repair: every replica whose copy
 *                          is older or missing gets a Repair of the newest
 *                          (a tombstone with flags 0x02)
 *
 * Tombstones: stores report them on Read as MarkedDelete, and flag every reply
 * whose record metadata describes a tombstone with 0x02 (WIRE_FLAG_MARK_DELETE).
 */
#include "pmetrics.h"
#include "preq.h"
#include "xdc.h"

#include "clock.h"
#include "error.h"
#include "hash.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t
rq_now_ms(void)
{
    return clock_wall_ns() / 1000000u;
}

int
rmeta_cmp(const struct rmeta *a, const struct rmeta *b)
{
    if (a->lmt != b->lmt) return a->lmt > b->lmt ? 1 : -1;
    if (a->version != b->version) return a->version > b->version ? 1 : -1;
    return 0;
}

/* The record metadata in a store's reply (none when it carries no version). */
static void
rmeta_from(struct rmeta *m, const struct wire_msg *r, int tomb)
{
    memset(m, 0, sizeof(*m));
    const struct wire_meta *wm = &r->meta;
    if (!wire_meta_has(wm, WIRE_F_VERSION)) return;
    m->has = 1;
    m->version = wm->version;
    m->ctime = wire_meta_has(wm, WIRE_F_CREATION_TIME) ? wm->creation_time : 0;
    m->ems = wire_meta_expiration(wm);
    m->lmt = wire_meta_has(wm, WIRE_F_LAST_MODIFIED) ? wm->last_modified : 0;
    if (wire_meta_has(wm, WIRE_F_ORIGINATOR_ID)) {
        memcpy(m->origin, wm->originator_id, 16);
        m->has_origin = 1;
    }
    m->tomb = tomb || (r->flags & WIRE_FLAG_MARK_DELETE);
}

/* Take rq off its worker's list of unanswered requests. */
static void
rq_deadline_unlink(struct preq *rq)
{
    struct worker *w = rq->w;
    if (!rq->on_dl) return;
    if (rq->dl_prev)
        rq->dl_prev->dl_next = rq->dl_next;
    else
        w->dl_head = rq->dl_next;
    if (rq->dl_next)
        rq->dl_next->dl_prev = rq->dl_prev;
    else
        w->dl_tail = rq->dl_prev;
    rq->on_dl = 0;
}

void
rq_free(struct preq *rq)
{
    struct worker *w = rq->w;
    if (rq->key_queued == 1) pkey_release(rq);
    for (int i = 0; i < rq->n; i++) free(rq->rep[i].val);
    free(rq->xval);
    rq_deadline_unlink(rq);
    if (!rq->replied) pmetrics_inflight(w, -1);
    if (rq->sink.obj) rq->sink.ops->unref(rq->sink.obj);
    route_unref(rq->rt);
    free(rq);
    w->inflight--;
    worker_maybe_finish(w);
}

void
preq_expire(struct worker *w)
{
    uint64_t limit = w->p->cfg.deadline_ms * 1000000u, now = uv_hrtime();
    struct preq *next;
    for (struct preq *rq = w->dl_head; rq && now - rq->t0 >= limit; rq = next) {
        next = rq->dl_next;
        if (now - rq->t0 < limit + rq->slack_ns) continue; /* a large value: skipped over */
        log_info("request over its deadline, answering Busy op=%s shard=%u ms=%llu",
                 wire_opcode_name(rq->opcode), rq->shard,
                 (unsigned long long)((now - rq->t0) / 1000000u));
        rq_reply(rq, WIRE_ST_BUSY, NULL, NULL); /* unlinks; the storage work goes on */
        next = w->dl_head; /* a reply may unlink others (riders): from the start */
    }
}

void
rq_reply(struct preq *rq, int status, const struct rmeta *rec, const struct replica *with)
{
    if (rq->replied) return;
    rq->replied = 1;
    rq_deadline_unlink(rq);
    struct replica xv; /* a TTL extension answers with the record read */
    if (rq->extending && status != WIRE_ST_OK) {
        log_info("ttl extension failed shard=%u status=%s", rq->shard, wire_status_name(status));
        status = WIRE_ST_TTL_EXTEND_ERR;
        rec = NULL;
        with = NULL;
    } else if (rq->extending && with == NULL) {
        memset(&xv, 0, sizeof(xv));
        xv.val = rq->xval;
        xv.vlen = rq->vlen;
        xv.vtype = rq->vtype;
        with = &xv;
    }
    if (status != WIRE_ST_OK && status != WIRE_ST_NO_KEY) rq->w->stats.errors++;
    pmetrics_request(rq->w, rq->opcode, status, rq->t0);
    pmetrics_inflight(rq->w, -1);
    void *obj = rq->sink.obj;
    if (obj == NULL) return;
    rq->sink.obj = NULL;
    struct preq_result res = {.status = status, .rec = rec, .existed = rq->existed};
    if (with != NULL && with->vlen > 0) {
        res.val = with->val;
        res.vlen = with->vlen;
        res.vtype = with->vtype;
    }
    rq->sink.ops->reply(obj, rq->sink.tag, rq, &res);
    rq->sink.ops->unref(obj);
    if (status == WIRE_ST_OK) xdc_forward(rq); /* after the answer: no added latency */
    if (rq->riders) pkey_riders_reply(rq, status, rec);
}

void
preq_wire_reply(const struct preq *rq, const struct preq_result *res, struct wire_msg *r)
{
    int status = res->status;
    const struct rmeta *rec = res->rec;
    memset(r, 0, sizeof(*r));
    r->type_flag = WIRE_TF_RESPONSE;
    r->opaque = rq->opaque;
    r->opcode = rq->opcode;
    r->status = (uint8_t)status;
    wire_meta_set_request_id(&r->meta, rq->rid);
    int vc = status == WIRE_ST_VERSION_CONFLICT;
    if (status == WIRE_ST_OK) {
        uint64_t ms = (uv_hrtime() - rq->t0) / 1000000;
        wire_meta_set_u32(&r->meta, WIRE_F_HANDLING_TIME, ms >= 1 ? (uint32_t)ms : 1);
    }
    if (rec != NULL && rec->has && (status == WIRE_ST_OK || vc)) {
        uint64_t now = rq_now_ms(); /* JunoDB sees whole seconds, rounded up */
        if (rec->ems > now) wire_meta_set_u32(&r->meta, WIRE_F_TTL, wire_ms_to_s(rec->ems - now));
        wire_meta_set_u32(&r->meta, WIRE_F_VERSION, rec->version);
        wire_meta_set_u32(&r->meta, WIRE_F_CREATION_TIME, rec->ctime);
        wire_meta_set_u32(&r->meta, WIRE_F_EXPIRATION_TIME, wire_ms_to_s(rec->ems));
        if (!vc) {
            wire_meta_set_last_modified(&r->meta, rec->lmt);
            if (rec->has_origin) wire_meta_set_originator_id(&r->meta, rec->origin);
        }
    }
    if (res->vlen > 0) {
        r->value_type = res->vtype;
        r->value.ptr = res->val;
        r->value.len = res->vlen;
    }
    r->ns.ptr = rq->data;
    r->ns.len = rq->nslen;
    r->key.ptr = rq->data + rq->nslen;
    r->key.len = rq->klen;
}

int
rq_send(struct preq *rq, int i, uint8_t opcode, uint8_t flags, const struct rmeta *rec,
        uint8_t vtype, const uint8_t *val, size_t vlen)
{
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.opcode = opcode;
    m.flags = flags;
    if (rec != NULL) {
        wire_meta_set_u32(&m.meta, WIRE_F_VERSION, rec->version);
        wire_meta_set_u32(&m.meta, WIRE_F_CREATION_TIME, rec->ctime);
        wire_meta_set_expiration(&m.meta, rec->ems);
        wire_meta_set_last_modified(&m.meta, rec->lmt);
        if (rec->has_origin) wire_meta_set_originator_id(&m.meta, rec->origin);
    }
    if (val != NULL && vlen > 0) {
        m.value_type = vtype;
        m.value.ptr = val;
        m.value.len = vlen;
    }
    return rq_send_msg(rq, i, &m);
}

int
rq_send_msg(struct preq *rq, int i, struct wire_msg *m)
{
    struct replica *r = &rq->rep[i];
    m->type_flag = WIRE_TF_REQUEST;
    m->shard_id = rq->shard;
    wire_meta_set_request_id(&m->meta, rq->rid);
    m->ns.ptr = rq->data;
    m->ns.len = rq->nslen;
    m->key.ptr = rq->data + rq->nslen;
    m->key.len = rq->klen;
    r->op = m->opcode;
    if (upstream_send(r->up, &r->u, m) != 0) {
        log_debug("store unavailable, skipped store=%s op=%s shard=%u", upstream_addr(r->up),
                  wire_opcode_name(m->opcode), rq->shard);
        return 0;
    }
    r->busy = 1;
    rq->pending++;
    return 1;
}

/* Forget what every replica answered: the request runs again. */
static void
replicas_reset(struct preq *rq)
{
    for (int i = 0; i < rq->n; i++) {
        struct replica *r = &rq->rep[i];
        free(r->val);
        r->val = NULL;
        r->vlen = 0;
        r->cls = C_NONE;
        r->read_tried = 0;
        r->ws = WS_NONE;
        memset(&r->m, 0, sizeof(r->m));
    }
}

/* ---- Get ---- */

/* Send Reads to replicas not tried yet, in order from rq->read_first, until
 * `want` more are in flight (a store that cannot take one counts as failed). */
static void
get_send(struct preq *rq, int want)
{
    for (int k = 0; k < rq->n && want > 0; k++) {
        struct replica *r = &rq->rep[(rq->read_first + k) % rq->n];
        if (r->read_tried) continue;
        r->read_tried = 1;
        if (rq_send(rq, (int)(r - rq->rep), WIRE_OP_READ, 0, NULL, 0, NULL, 0))
            want--;
        else
            r->cls = C_FAIL;
    }
}

/* A Get reads R replicas (W + R > N: at least one holds the last acknowledged
 * write), a different first one each time so that reads spread over the zones;
 * a replica that fails is replaced by one not read yet. */
static void
get_start(struct preq *rq)
{
    rq->read_first = (int)(rq->w->reads++ % (uint64_t)rq->n);
    get_send(rq, rq->quorum);
}

static void
get_answer(struct preq *rq, struct replica *r, int st, const struct wire_msg *reply)
{
    (void)rq;
    if (r->op != WIRE_OP_READ) { /* a read repair */
        r->ws = st == WIRE_ST_OK ? WS_OK : WS_FAIL;
        return;
    }
    switch (st) {
    case WIRE_ST_OK:
        r->cls = C_OK;
        rmeta_from(&r->m, reply, 0);
        if (!r->m.has) {
            r->cls = C_FAIL;
            break;
        }
        if (reply->value.len > 0) {
            r->val = malloc(reply->value.len);
            if (r->val == NULL) {
                r->cls = C_FAIL;
                break;
            }
            memcpy(r->val, reply->value.ptr, reply->value.len);
            r->vlen = reply->value.len;
            r->vtype = reply->value_type;
        }
        break;
    case WIRE_ST_NO_KEY: r->cls = C_NOKEY; break;
    case WIRE_ST_MARKED_DELETE:
        r->cls = C_MARKED;
        rmeta_from(&r->m, reply, 1);
        if (!r->m.has) r->cls = C_NOKEY;
        break;
    default: r->cls = C_FAIL;
    }
}

/* The replica with the newest copy among those that answered, or NULL. */
static struct replica *
newest_copy(struct preq *rq)
{
    struct replica *best = NULL;
    for (int i = 0; i < rq->n; i++) {
        struct replica *r = &rq->rep[i];
        if ((r->cls == C_OK || r->cls == C_MARKED) && r->m.has &&
            (best == NULL || rmeta_cmp(&r->m, &best->m) > 0))
            best = r;
    }
    return best;
}

static void
read_repair(struct preq *rq)
{
    struct replica *best = newest_copy(rq);
    if (best == NULL) return;
    int sent = 0;
    for (int i = 0; i < rq->n; i++) {
        struct replica *r = &rq->rep[i];
        if (r == best || (r->cls != C_OK && r->cls != C_NOKEY && r->cls != C_MARKED)) continue;
        if (r->m.has && rmeta_cmp(&best->m, &r->m) <= 0) continue;
        uint8_t flags = best->m.tomb ? WIRE_FLAG_MARK_DELETE : 0;
        if (rq_send(rq, i, WIRE_OP_REPAIR, flags, &best->m, best->vtype,
                    best->m.tomb ? NULL : best->val, best->m.tomb ? 0 : best->vlen))
            sent++;
    }
    if (sent > 0)
        log_debug("read repair shard=%u version=%u tombstone=%d replicas=%d", rq->shard,
                  best->m.version, best->m.tomb, sent);
}

/* A Get with a TTL extends the record's expiration to now + TTL when that is
 * later than its current one (a record that never expires is left alone). */
static int
wants_extension(const struct preq *rq, const struct replica *best)
{
    return rq->exp_ms > 0 && best->m.ems != 0 && rq->exp_ms > best->m.ems;
}

/* Run the extension as a conditional Update of the record read (same value,
 * same version, later expiration, new stamp): the record locks keep it from
 * overwriting a write that raced with the read. Stale replicas are repaired
 * by its Commit phase, so there is no separate read repair. */
static void
start_extension(struct preq *rq, const struct replica *best)
{
    rq->xval = malloc(best->vlen ? best->vlen : 1);
    if (rq->xval == NULL) {
        rq_reply(rq, WIRE_ST_TTL_EXTEND_ERR, NULL, NULL);
        rq->decision = D_READ;
        return;
    }
    memcpy(rq->xval, best->val, best->vlen);
    rq->vlen = best->vlen;
    rq->vtype = best->vtype;
    rq->x = best->m;
    replicas_reset(rq);
    rq->extending = 1;
    rq->wop = WIRE_OP_UPDATE;
    rq->cond_version = rq->x.version;
    rq->decision = D_NONE;
    write_start(rq);
    write_progress(rq); /* every store may be unavailable */
}

static void
get_progress(struct preq *rq)
{
    if (rq->extending) {
        write_progress(rq);
        return;
    }
    if (rq->decision != D_NONE) return; /* read repairs in flight */
    int valid = 0;
    for (int i = 0; i < rq->n; i++) {
        int c = rq->rep[i].cls;
        valid += c == C_OK || c == C_NOKEY || c == C_MARKED;
    }
    if (!rq->replied) {
        if (valid >= rq->quorum) {
            struct replica *best = newest_copy(rq);
            if (best != NULL && !best->m.tomb && wants_extension(rq, best)) {
                if (rq->pending == 0) start_extension(rq, best); /* once every copy is in */
                return;
            }
            if (best != NULL && !best->m.tomb)
                rq_reply(rq, WIRE_ST_OK, &best->m, best);
            else
                rq_reply(rq, WIRE_ST_NO_KEY, NULL, NULL);
        } else if (valid + rq->pending < rq->quorum) {
            get_send(rq, rq->quorum - valid - rq->pending); /* replace the failed ones */
            if (valid + rq->pending < rq->quorum)
                rq_reply(rq, WIRE_ST_NO_STORAGE_SERVER, NULL, NULL);
        }
    }
    if (rq->pending == 0) {
        rq->decision = D_READ;
        read_repair(rq);
    }
}

/* ---- RecordLocked: run again (PREQ_RETRY_LOCKED) ---- */

#define RETRY_MAX_MS 16

static uint64_t
retry_delay_ms(const struct preq *rq)
{
    return rq->retries >= 4 ? RETRY_MAX_MS : 1u << rq->retries;
}

int
preq_retry(struct preq *rq)
{
    if (!rq->retry_locked || rq->replied || rq->extending) return 0;
    uint64_t spent = (uv_hrtime() - rq->t0) / 1000000u;
    return spent + retry_delay_ms(rq) < rq->w->p->cfg.deadline_ms;
}

static void rq_progress(struct preq *rq);

static void
on_retry_timer(uv_timer_t *t)
{
    struct worker *w = t->data;
    uint64_t now = uv_now(&w->loop), next = 0;
    struct preq *due = NULL;
    for (struct preq **pp = &w->retry_head; *pp;) {
        struct preq *rq = *pp;
        if (rq->retry_at <= now) {
            *pp = rq->retry_next;
            rq->retry_next = due;
            due = rq;
        } else {
            if (next == 0 || rq->retry_at < next) next = rq->retry_at;
            pp = &rq->retry_next;
        }
    }
    if (next) uv_timer_start(&w->retry_timer, on_retry_timer, next - now, 0);
    while (due) {
        struct preq *rq = due;
        due = rq->retry_next;
        rq->retry_queued = 0;
        if (rq->replied) { /* answered Busy at its deadline meanwhile */
            rq_free(rq);
            continue;
        }
        log_debug("running again after RecordLocked shard=%u tries=%d", rq->shard, rq->retries);
        replicas_reset(rq);
        rq->decision = D_NONE;
        if (rq->opcode == WIRE_OP_GET)
            get_start(rq);
        else if (rq->opcode == WIRE_OP_DESTROY)
            destroy_start(rq);
        else
            write_start(rq);
        rq_progress(rq);
    }
    /* the loop may sleep in poll before its check handle runs: write now */
    worker_flush(w);
}

/* rq has nothing in flight: run it again after delay ms. */
void
rq_retry_schedule(struct preq *rq, uint64_t delay)
{
    struct worker *w = rq->w;
    rq->retry_at = uv_now(&w->loop) + delay;
    rq->retry_queued = 1;
    rq->retry_next = w->retry_head;
    w->retry_head = rq;
    uint64_t due = uv_timer_get_due_in(&w->retry_timer);
    if (!uv_is_active((uv_handle_t *)&w->retry_timer) || due > delay)
        uv_timer_start(&w->retry_timer, on_retry_timer, delay, 0);
}

/* ---- dispatch ---- */

static void
rq_progress(struct preq *rq)
{
    if (rq->apply)
        xdc_apply_progress(rq);
    else if (rq->opcode == WIRE_OP_GET)
        get_progress(rq);
    else if (rq->opcode == WIRE_OP_DESTROY)
        destroy_progress(rq);
    else
        write_progress(rq);
    if (rq->decision == D_RETRY && rq->pending == 0 && !rq->retry_queued && !rq->replied) {
        rq_retry_schedule(rq, retry_delay_ms(rq));
        rq->retries++;
        return;
    }
    if (rq->pending == 0 && rq->replied && !rq->retry_queued) rq_free(rq);
}

static void
rq_on_answer(struct ureq *u, int rc, const struct wire_msg *reply)
{
    struct replica *r = (struct replica *)u;
    struct preq *rq = r->rq;
    r->busy = 0;
    rq->pending--;
    int st = rc < 0 ? -1 : reply->status;
    if (rc < 0) reply = NULL;
    if (rq->apply) {
        xdc_apply_answer(rq, r, st);
        rq_progress(rq);
        return;
    }
    switch (rq->opcode) {
    case WIRE_OP_GET:
        if (rq->extending)
            write_answer(rq, r, st, reply);
        else
            get_answer(rq, r, st, reply);
        break;
    case WIRE_OP_DESTROY: destroy_answer(rq, r, st, reply); break;
    default: write_answer(rq, r, st, reply); break;
    }
    rq_progress(rq);
}

int
preq_start(struct worker *w, const struct psink *s, const struct wire_msg *req, unsigned flags,
           uint64_t t0)
{
    struct route *rt = w->route;
    if (rt == NULL) return JUNO_EUNAVAIL;
    int writes_value = req->opcode == WIRE_OP_CREATE || req->opcode == WIRE_OP_UPDATE ||
                       req->opcode == WIRE_OP_SET;
    size_t vlen = writes_value ? req->value.len : 0;
    struct preq *rq = calloc(1, sizeof(*rq) + req->ns.len + req->key.len + vlen);
    if (rq == NULL) return JUNO_ENOMEM;
    rq->w = w;
    rq->sink = *s;
    rq->rt = rt;
    rq->t0 = t0;
    rq->slack_ns = PROXY_SIZE_SLACK_MS(vlen) * 1000000u;
    /* appended: t0 order but for a loop turn's spread (a RESP command's keys
     * past its window start with t0 = now, after commands read earlier), so
     * preq_expire may answer one a turn late */
    rq->on_dl = 1;
    rq->dl_prev = w->dl_tail;
    if (w->dl_tail)
        w->dl_tail->dl_next = rq;
    else
        w->dl_head = rq;
    w->dl_tail = rq;
    rq->opaque = req->opaque;
    rq->opcode = req->opcode;
    rq->wop = req->opcode;
    if (wire_meta_has(&req->meta, WIRE_F_REQUEST_ID))
        memcpy(rq->rid, req->meta.request_id, 16);
    else
        worker_request_id(w, rq->rid);
    if (flags & PREQ_EXPIRY_MS)
        rq->exp_ms = wire_meta_expiration(&req->meta);
    else if (wire_meta_has(&req->meta, WIRE_F_TTL))
        rq->exp_ms = rq_now_ms() + (uint64_t)req->meta.ttl * 1000; /* to the ms: never early */
    rq->ttl_reset = (flags & PREQ_TTL_RESET) != 0;
    rq->retry_locked = (flags & PREQ_RETRY_LOCKED) != 0;
    if ((req->opcode == WIRE_OP_UPDATE ||
         (req->opcode == WIRE_OP_DESTROY && (flags & PREQ_IF_VERSION))) &&
        wire_meta_has(&req->meta, WIRE_F_VERSION))
        rq->cond_version = req->meta.version;
    rq->nslen = req->ns.len;
    rq->klen = req->key.len;
    rq->vlen = vlen;
    rq->vtype = writes_value && vlen > 0 ? req->value_type : 0;
    memcpy(rq->data, req->ns.ptr, rq->nslen);
    memcpy(rq->data + rq->nslen, req->key.ptr, rq->klen);
    if (vlen > 0) memcpy(rq->data + rq->nslen + rq->klen, req->value.ptr, vlen);
    const struct map *m = rt->pm->map;
    rq->n = (int)m->nzones;
    rq->quorum = rq->n / 2 + 1;
    rq->shard = (uint16_t)map_shard_of(m, req->key.ptr, req->key.len);
    for (int z = 0; z < rq->n; z++) {
        rq->rep[z].rq = rq;
        rq->rep[z].up = rt->ups[z][m->zones[z].owners[rq->shard]];
        rq->rep[z].u.cb = rq_on_answer;
    }
    route_ref(rt);
    s->ops->ref(s->obj);
    w->inflight++;
    pmetrics_inflight(w, 1);
    if (flags & PREQ_APPLY) { /* never queued per key: it must not ride on a local Set */
        xdc_apply_init(rq, req);
        xdc_apply_start(rq);
        rq_progress(rq);
        return 0;
    }
    if ((flags & PREQ_KEY_QUEUE) && !pkey_acquire(rq))
        return 0; /* runs when the request ahead of it is done */
    switch (rq->opcode) {
    case WIRE_OP_GET: get_start(rq); break;
    case WIRE_OP_DESTROY: destroy_start(rq); break;
    default: write_start(rq); break;
    }
    rq_progress(rq);
    return 0;
}
