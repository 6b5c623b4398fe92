/* twophase.c: the two-phase writes (Create, Update, Set) and Destroy.
 *
 * Writes: Prepare{Create,Update,Set} (request id, value, for a conditional
 * Update the client's version) to every replica not marked down; each store
 * locks the record and checks the condition. Then, with W = floor(Z/2) + 1:
 *
 *   any AlreadyFulfilled          the write was done before (a retry): Ok with
 *                                 that replica's record, Abort the others
 *   Create  W prepared, no DupKey yet ──► Commit
 *           all in: a DupKey whose record is newer than every tombstone seen
 *           ──► Abort, DupKey (an older one is a stale replica: it is repaired)
 *   Update  no VersionConflict yet, Ok >= 1 and Ok + stale NoKey >= W ──► Commit
 *           all in: a VersionConflict not older than the prepared record ──►
 *           Abort, VersionConflict with that record; Ok + stale >= W ──►
 *           Commit; NoKey >= W ──► Abort, NoKey ("stale" = a NoKey without
 *           record or with a tombstone older than the prepared record, or a
 *           VersionConflict older than the prepared record or than a
 *           tombstone seen; a newer tombstone means deleted)
 *   Set     W prepared ──► Commit
 *   else (all in)                 Abort, RecordLocked if a store said so,
 *                                 else SSOutofResource if one refused the
 *                                 write for a full disk, else NoStorageServer
 *
 * A replica that answers an Update's Prepare with NoKey or VersionConflict
 * keeps the record locked for this request (two-phase only), because a
 * stale copy counts toward W above: the quorum's locks are what keep two
 * writers from both committing. Abort and Repair release it.
 *
 * Commit carries the new record's metadata: version max(seen, tombstones
 * included) + 1, creation time and originator kept from the live record (or
 * now and the request id),
 * expiration now + TTL (no TTL: the record's, or --default-ttl for a new one
 * or with PREQ_TTL_RESET),
 * last-modified a hybrid-clock stamp above every one seen. A replica whose
 * Commit fails, or that answered NoKey/DupKey/VersionConflict as a stale copy,
 * gets a Repair of the full record. The client gets Ok once W replicas hold
 * the write, CommitFailure (25) if in the end fewer do. Prepare answers that
 * arrive after the decision get a Commit (or Repair) or an Abort.
 *
 * One replica (a single zone): the Prepare goes out flagged one-phase and
 * the store commits it at once (one_phase_start); its answer is the client's.
 *
 * Destroy: PrepareDelete to every replica not down; all answered: W Ok ──►
 * MarkDelete (a tombstone, newer than every copy seen) on those; else Abort.
 * The originator learns whether the newest copy those W reported was live
 * (preq_result.existed: Redis's DEL counts deleted keys). A conditional
 * Destroy (PREQ_IF_VERSION) aborts with VersionConflict unless that copy is
 * live and of its version: the W locks keep it so until the tombstones.
 * Ok once W hold the tombstone. Destroy never deletes outright: a replica
 * whose copy is gone cannot tell that copy was newer than a stale one that
 * missed the Destroy, so a late Delete or a read repair of a stale copy would
 * bring the key back. Tombstones win by timestamp and are purged by the
 * stores' compaction after their grace period (--tombstone-grace).
 */
#include "preq.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

static int
prepare_class(int st)
{
    switch (st) {
    case WIRE_ST_OK: return C_OK;
    case WIRE_ST_ALREADY_FULFILLED: return C_AF;
    case WIRE_ST_DUP_KEY: return C_DUP;
    case WIRE_ST_NO_KEY: return C_NOKEY;
    case WIRE_ST_VERSION_CONFLICT: return C_VC;
    case WIRE_ST_RECORD_LOCKED: return C_LOCKED;
    default: return C_FAIL;
    }
}

/* Record metadata of a Prepare answer: a NoKey with a record is a tombstone. */
static void
prepare_meta(struct replica *r, const struct wire_msg *reply)
{
    memset(&r->m, 0, sizeof(r->m));
    if (reply == NULL) return;
    const struct wire_meta *wm = &reply->meta;
    if (!wire_meta_has(wm, WIRE_F_VERSION)) return;
    r->m.has = 1;
    r->m.version = wm->version;
    r->m.ctime = wm->creation_time;
    r->m.ems = wire_meta_expiration(wm);
    r->m.lmt = wire_meta_has(wm, WIRE_F_LAST_MODIFIED) ? wm->last_modified : 0;
    if (wire_meta_has(wm, WIRE_F_ORIGINATOR_ID)) {
        memcpy(r->m.origin, wm->originator_id, 16);
        r->m.has_origin = 1;
    }
    r->m.tomb = r->cls == C_NOKEY || (reply->flags & WIRE_FLAG_MARK_DELETE);
}

/* The largest version and the largest last-modified time any replica
 * reported, tombstones (and expired records, which stores report as such)
 * included; the clock observes the latter so the next stamp is above it. */
static void
seen_max(struct preq *rq, uint32_t *version, uint64_t *lmt)
{
    *version = 0;
    *lmt = 0;
    for (int i = 0; i < rq->n; i++) {
        const struct rmeta *m = &rq->rep[i].m;
        if (!m->has) continue;
        /* a tombstone's version carries over: a key created again continues
         * after it, so a version read is never written again while the
         * tombstone lives, and a conditional write of it cannot match a
         * record created since (docs/consistency.md) */
        if (m->version > *version) *version = m->version;
        if (m->lmt > *lmt) *lmt = m->lmt;
    }
    hlc_observe(&rq->w->p->clock, *lmt);
}

/* Whether replica r holds the record lock for this request: it prepared, or
 * (two-phase) it answered an Update with NoKey or VersionConflict, which a
 * store answers with the lock held, since such a copy may be stale and count
 * toward the quorum (docs/consistency.md). */
static int
holds_lock(const struct preq *rq, const struct replica *r)
{
    return r->cls == C_OK || (!rq->one_phase && r->op == WIRE_OP_PREPARE_UPDATE &&
                              (r->cls == C_VC || r->cls == C_NOKEY));
}

static void
abort_prepared(struct preq *rq)
{
    for (int i = 0; i < rq->n; i++)
        if (!rq->rep[i].busy && holds_lock(rq, &rq->rep[i]))
            rq_send(rq, i, WIRE_OP_ABORT, 0, NULL, 0, NULL, 0);
}

static void
abort_reply(struct preq *rq, int status, const struct replica *with)
{
    rq->decision = D_ABORT;
    abort_prepared(rq);
    rq_reply(rq, status, with ? &with->m : NULL, with);
}

static void
fail(struct preq *rq, int locked)
{
    if (locked && preq_retry(rq)) {
        rq->decision = D_RETRY;
        abort_prepared(rq);
        return;
    }
    abort_reply(rq,
                locked     ? WIRE_ST_RECORD_LOCKED
                : rq->full ? WIRE_ST_SS_OUT_OF_RESOURCE /* say why: a disk is full */
                           : WIRE_ST_NO_STORAGE_SERVER,
                NULL);
}

/* Write the new record to replica i: Commit where prepared, else Repair. */
static void
commit_one(struct preq *rq, int i)
{
    struct replica *r = &rq->rep[i];
    int sent;
    if (r->cls == C_OK)
        sent = rq_send(rq, i, WIRE_OP_COMMIT, 0, &rq->out, 0, NULL, 0);
    else if (r->cls == C_NOKEY || r->cls == C_VC || r->cls == C_DUP)
        sent = rq_send(rq, i, WIRE_OP_REPAIR, 0, &rq->out, rq->vtype, rq_value(rq), rq->vlen);
    else
        return;
    r->ws = sent ? WS_SENT : WS_FAIL;
}

static void
commit(struct preq *rq)
{
    const struct proxy_config *cfg = &rq->w->p->cfg;
    uint32_t maxv;
    uint64_t maxlmt;
    seen_max(rq, &maxv, &maxlmt);
    const struct rmeta *live = NULL; /* the record being updated, if it exists */
    for (int i = 0; i < rq->n; i++) {
        const struct replica *r = &rq->rep[i];
        if (r->cls == C_OK && r->m.has && !r->m.tomb && (!live || rmeta_cmp(&r->m, live) > 0))
            live = &r->m;
    }
    uint64_t now_ms = rq_now_ms();
    struct rmeta *o = &rq->out;
    if (rq->extending) { /* the record read, with a later expiration and a new stamp */
        *o = rq->x;
        o->ems = rq->exp_ms;
        o->lmt = hlc_now(&rq->w->p->clock);
        rq->decision = D_COMMIT;
        for (int i = 0; i < rq->n; i++) commit_one(rq, i);
        return;
    }
    memset(o, 0, sizeof(*o));
    o->has = 1;
    o->version = maxv + 1;
    o->ctime = live && live->ctime ? live->ctime : (uint32_t)(now_ms / 1000);
    if (rq->exp_ms)
        o->ems = rq->exp_ms;
    else if (live && !rq->ttl_reset)
        o->ems = live->ems;
    else
        o->ems = cfg->default_ttl ? now_ms + cfg->default_ttl * 1000 : 0;
    o->lmt = hlc_now(&rq->w->p->clock);
    memcpy(o->origin, live && live->has_origin ? live->origin : rq->rid, 16);
    o->has_origin = 1;
    rq->decision = D_COMMIT;
    for (int i = 0; i < rq->n; i++) commit_one(rq, i);
}

static void
fulfilled(struct preq *rq, const struct replica *af)
{
    rq->decision = D_FULFILLED;
    rq->out = af->m;
    abort_prepared(rq);
    rq_reply(rq, WIRE_ST_OK, af->m.has ? &af->m : NULL, NULL);
}

static void
write_decide(struct preq *rq)
{
    int ok = 0, dup = 0, nokey = 0, vc = 0, locked = 0, waiting = 0, W = rq->quorum;
    const struct replica *af = NULL, *newest_ok = NULL, *newest_tomb = NULL;
    const struct replica *newest_del = NULL; /* the newest tombstone a NoKey carried */
    for (int i = 0; i < rq->n; i++) {
        const struct replica *r = &rq->rep[i];
        if (r->busy) {
            waiting++;
            continue;
        }
        switch (r->cls) {
        case C_OK:
            ok++;
            if (r->m.has && (!newest_ok || rmeta_cmp(&r->m, &newest_ok->m) > 0)) newest_ok = r;
            if (r->m.has && r->m.tomb && (!newest_tomb || rmeta_cmp(&r->m, &newest_tomb->m) > 0))
                newest_tomb = r;
            break;
        case C_AF: af = r; break;
        case C_DUP: dup++; break;
        case C_NOKEY:
            nokey++;
            if (r->m.has && (!newest_del || rmeta_cmp(&r->m, &newest_del->m) > 0)) newest_del = r;
            break;
        case C_VC: vc++; break;
        case C_LOCKED: locked++; break;
        }
    }
    if (af != NULL) {
        fulfilled(rq, af);
        return;
    }
    if (rq->wop == WIRE_OP_CREATE) {
        if (dup == 0 && ok >= W) {
            commit(rq);
            return;
        }
        if (waiting) return;
        for (int i = 0; i < rq->n; i++) {
            const struct replica *r = &rq->rep[i];
            if (r->cls == C_DUP && (!newest_tomb || rmeta_cmp(&r->m, &newest_tomb->m) > 0)) {
                abort_reply(rq, WIRE_ST_DUP_KEY, NULL);
                return;
            }
        }
        if (ok >= W)
            commit(rq);
        else
            fail(rq, locked);
        return;
    }
    if (rq->wop == WIRE_OP_UPDATE) {
        int stale = 0, stale_vc = 0;
        const struct replica *real_vc = NULL;
        for (int i = 0; i < rq->n; i++) {
            const struct replica *r = &rq->rep[i];
            if (r->busy) continue;
            int older = newest_ok && r->m.has && rmeta_cmp(&r->m, &newest_ok->m) < 0;
            if (r->cls == C_NOKEY && (!r->m.has || older)) stale++;
            if (r->cls == C_VC) {
                /* a copy older than a tombstone seen missed that Destroy */
                if (older || (newest_del && rmeta_cmp(&r->m, &newest_del->m) < 0))
                    stale_vc++;
                else if (!real_vc || rmeta_cmp(&r->m, &real_vc->m) > 0)
                    real_vc = r;
            }
        }
        if (vc == 0 && ok >= 1 && ok + stale >= W) {
            commit(rq);
            return;
        }
        if (waiting) return;
        if (real_vc)
            abort_reply(rq, WIRE_ST_VERSION_CONFLICT, real_vc);
        else if (ok >= 1 && ok + stale + stale_vc >= W)
            commit(rq);
        else if (nokey >= W)
            abort_reply(rq, WIRE_ST_NO_KEY, NULL);
        else
            fail(rq, locked);
        return;
    }
    if (ok >= W)
        commit(rq); /* Set */
    else if (!waiting)
        fail(rq, locked);
}

/* A key with a single replica (one zone) is written in one round trip: a
 * Prepare flagged one-phase, which the store commits as soon as its checks
 * pass, computing the new record's metadata as commit() would. The proxy
 * sends what only it knows: the condition, the expiration when the write sets
 * one (a TTL, or a reset to --default-ttl), and a hybrid-clock stamp. A new
 * record without a TTL under --default-ttl needs the two phases: the store
 * could not tell a new record's expiration from a kept one. */
static int
one_phase_start(struct preq *rq, uint8_t op)
{
    const struct proxy_config *cfg = &rq->w->p->cfg;
    if (rq->n != 1 || rq->extending || (!rq->exp_ms && !rq->ttl_reset && cfg->default_ttl))
        return 0;
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.opcode = op;
    m.flags = WIRE_FLAG_ONE_PHASE;
    if (rq->cond_version) wire_meta_set_u32(&m.meta, WIRE_F_VERSION, rq->cond_version);
    uint64_t ems = 0;
    if (rq->exp_ms)
        ems = rq->exp_ms;
    else if (rq->ttl_reset && cfg->default_ttl)
        ems = rq_now_ms() + cfg->default_ttl * 1000;
    if (rq->exp_ms || rq->ttl_reset) m.flags |= WIRE_FLAG_SET_EXPIRY; /* ems 0: never */
    wire_meta_set_expiration(&m.meta, ems);
    wire_meta_set_last_modified(&m.meta, hlc_now(&rq->w->p->clock));
    if (rq->vlen > 0) {
        m.value_type = rq->vtype;
        m.value.ptr = rq_value(rq);
        m.value.len = rq->vlen;
    }
    rq->one_phase = 1;
    if (!rq_send_msg(rq, 0, &m)) rq->rep[0].cls = C_FAIL;
    return 1;
}

void
write_start(struct preq *rq)
{
    uint8_t op = rq->wop == WIRE_OP_CREATE   ? WIRE_OP_PREPARE_CREATE
                 : rq->wop == WIRE_OP_UPDATE ? WIRE_OP_PREPARE_UPDATE
                                             : WIRE_OP_PREPARE_SET;
    rq->one_phase = 0;
    if (one_phase_start(rq, op)) return;
    struct rmeta cond;
    memset(&cond, 0, sizeof(cond));
    cond.version = rq->cond_version; /* only Version is sent: the other fields are 0 */
    for (int i = 0; i < rq->n; i++)
        if (!rq_send(rq, i, op, 0, rq->cond_version ? &cond : NULL, rq->vtype, rq_value(rq),
                     rq->vlen))
            rq->rep[i].cls = C_FAIL;
}

void
write_answer(struct preq *rq, struct replica *r, int st, const struct wire_msg *reply)
{
    switch (r->op) {
    case WIRE_OP_PREPARE_CREATE:
    case WIRE_OP_PREPARE_UPDATE:
    case WIRE_OP_PREPARE_SET:
        r->cls = (uint8_t)prepare_class(st);
        if (st == WIRE_ST_SS_OUT_OF_RESOURCE) rq->full = 1;
        prepare_meta(r, reply);
        log_debug("prepare answer store=%s op=%s shard=%u status=%d", upstream_addr(r->up),
                  wire_opcode_name(r->op), rq->shard, st);
        if (r->cls == C_VC && reply && reply->value.len > 0 &&
            (r->val = malloc(reply->value.len)) != NULL) {
            memcpy(r->val, reply->value.ptr, reply->value.len);
            r->vlen = reply->value.len;
            r->vtype = reply->value_type;
        }
        if (rq->one_phase && r->cls == C_OK && rq->decision == D_NONE) {
            r->ws = WS_OK; /* committed by the store: the answer carries the record */
            rq->out = r->m;
            hlc_observe(&rq->w->p->clock, r->m.lmt);
            rq->decision = D_COMMIT;
        } else if (rq->decision == D_COMMIT)
            commit_one(rq, (int)(r - rq->rep)); /* late answer */
        else if (rq->decision != D_NONE && holds_lock(rq, r))
            rq_send(rq, (int)(r - rq->rep), WIRE_OP_ABORT, 0, NULL, 0, NULL, 0);
        break;
    case WIRE_OP_COMMIT:
        if (st == WIRE_ST_OK || st == WIRE_ST_ALREADY_FULFILLED) {
            r->ws = WS_OK;
            break;
        }
        log_debug("commit failed, repairing store=%s shard=%u status=%d", upstream_addr(r->up),
                  rq->shard, st);
        r->ws = rq_send(rq, (int)(r - rq->rep), WIRE_OP_REPAIR, 0, &rq->out, rq->vtype,
                        rq_value(rq), rq->vlen)
                    ? WS_SENT
                    : WS_FAIL;
        break;
    case WIRE_OP_REPAIR:
        r->ws = st == WIRE_ST_OK || st == WIRE_ST_ALREADY_FULFILLED ? WS_OK : WS_FAIL;
        break;
    default: /* Abort */ break;
    }
}

void
write_progress(struct preq *rq)
{
    if (rq->decision == D_NONE) write_decide(rq);
    if (rq->decision != D_COMMIT || rq->replied) return;
    int confirmed = 0;
    for (int i = 0; i < rq->n; i++) confirmed += rq->rep[i].ws == WS_OK;
    if (confirmed >= rq->quorum)
        rq_reply(rq, WIRE_ST_OK, &rq->out, NULL);
    else if (rq->pending == 0)
        rq_reply(rq, WIRE_ST_COMMIT_FAILURE, NULL, NULL);
}

/* ---- Destroy ---- */

void
destroy_start(struct preq *rq)
{
    for (int i = 0; i < rq->n; i++)
        if (!rq_send(rq, i, WIRE_OP_PREPARE_DELETE, 0, NULL, 0, NULL, 0)) rq->rep[i].cls = C_FAIL;
}

void
destroy_answer(struct preq *rq, struct replica *r, int st, const struct wire_msg *reply)
{
    (void)rq;
    switch (r->op) {
    case WIRE_OP_PREPARE_DELETE:
        r->cls = (uint8_t)prepare_class(st);
        if (st == WIRE_ST_SS_OUT_OF_RESOURCE) rq->full = 1;
        if (r->cls == C_AF)
            r->cls = C_OK;
        else if (r->cls != C_OK && r->cls != C_LOCKED)
            r->cls = C_FAIL;
        prepare_meta(r, r->cls == C_OK ? reply : NULL);
        break;
    case WIRE_OP_MARK_DELETE: r->ws = st == WIRE_ST_OK ? WS_OK : WS_FAIL; break;
    default: /* Abort */ break;
    }
}

/* The tombstone a Destroy writes. */
static void
tombstone(struct preq *rq, struct rmeta *t)
{
    uint32_t maxv;
    uint64_t maxlmt;
    seen_max(rq, &maxv, &maxlmt);
    memset(t, 0, sizeof(*t));
    t->has = t->tomb = 1;
    t->version = maxv + 1;
    t->lmt = hlc_now(&rq->w->p->clock);
}

void
destroy_progress(struct preq *rq)
{
    if (rq->decision == D_NONE) {
        if (rq->pending > 0) return;
        int ok = 0, locked = 0;
        for (int i = 0; i < rq->n; i++) {
            ok += rq->rep[i].cls == C_OK;
            locked += rq->rep[i].cls == C_LOCKED;
        }
        if (ok < rq->quorum) {
            fail(rq, locked);
            return;
        }
        const struct rmeta *newest = NULL; /* W prepared: they see every acknowledged write */
        for (int i = 0; i < rq->n; i++) {
            const struct rmeta *m = &rq->rep[i].m;
            if (rq->rep[i].cls == C_OK && m->has && (!newest || rmeta_cmp(m, newest) > 0))
                newest = m;
        }
        rq->existed = newest != NULL && !newest->tomb;
        if (rq->cond_version && (!rq->existed || newest->version != rq->cond_version)) {
            abort_reply(rq, WIRE_ST_VERSION_CONFLICT, NULL); /* written or deleted since */
            return;
        }
        rq->decision = D_MARK;
        tombstone(rq, &rq->out);
        for (int i = 0; i < rq->n; i++) {
            if (rq->rep[i].cls != C_OK) continue;
            int sent = rq_send(rq, i, WIRE_OP_MARK_DELETE, 0, &rq->out, 0, NULL, 0);
            rq->rep[i].ws = sent ? WS_SENT : WS_FAIL;
        }
    }
    if (rq->decision != D_MARK) return;
    int confirmed = 0;
    for (int i = 0; i < rq->n; i++) confirmed += rq->rep[i].ws == WS_OK;
    if (!rq->replied && confirmed >= rq->quorum) rq_reply(rq, WIRE_ST_OK, NULL, NULL);
    if (rq->pending == 0 && !rq->replied) rq_reply(rq, WIRE_ST_COMMIT_FAILURE, NULL, NULL);
}
