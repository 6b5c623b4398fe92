/* ops.c: the storage operations, as the proxy and the migrator use them.
 *
 * Every keyed request is checked first (limits, shard id against the key,
 * ownership), then runs as a small state machine on the loop thread:
 *
 *   Read            read ──► reply (record, NoKey, or MarkedDelete for a tombstone)
 *   Prepare*        lock ──► read ──► check the condition ──► reply (lock kept on Ok,
 *                   and on an Update's NoKey or VersionConflict)
 *   Prepare* with the one-phase flag: ... check ──► write as a Commit would ──► unlock, reply
 *   Commit          lock held by this request id ──► write if newer ──► unlock, reply
 *   Abort           unlock, reply
 *   Delete          write a delete ──► unlock, reply
 *   MarkDelete      write a tombstone if newer ──► unlock, reply
 *   Repair, Clone   write the record carried if newer ──► reply (a Repair releases
 *                   the lock its request id holds)
 *   (the writes of Commit, Delete, MarkDelete, Repair and Clone: ops_write.c)
 *   DropShard       delete the shard's whole key range ──► reply
 *   ShardInfo       iterate the shard ──► reply with counts and a hash (JSON value; ops_shard.c)
 *   Compact         full manual compaction (runs the compaction filter) ──► reply
 *   ShardTree, Checkpoint, Rejoined: repair_ops.c (juno-repair, juno-backup)
 *
 * Reads are answered on the loop when RocksDB has them in memory, else on
 * libuv's thread pool; writes run on the engine's writer thread,
 * where "if newer" is decided atomically. A request id seen as the record's
 * last writer makes a replayed write answer AlreadyFulfilled.
 */
#include "copyprio.h"
#include "smetrics.h"
#include "ops_int.h"
#include "store.h"

#include "error.h"
#include "hash.h"
#include "log.h"
#include "record.h"

#include <stdlib.h>
#include <string.h>

void
op__done(struct op *op)
{
    if (op->got) engine_free(op->got);
    free(op->rec);
    conn_unref(op->c);
    free(op);
}

/* Reply to op with status and, when m is given, the record's metadata (and
 * data when with_value). */
void
op__reply(struct op *op, int status, const struct record_meta *m, const uint8_t *data, size_t dlen,
          int with_value)
{
    struct wire_msg r;
    memset(&r, 0, sizeof(r));
    r.type_flag = WIRE_TF_RESPONSE;
    r.opaque = op->opaque;
    r.opcode = op->opcode;
    r.status = (uint8_t)status;
    if (op->has_rid) wire_meta_set_request_id(&r.meta, op->in.request_id);
    if (m != NULL) {
        uint64_t now = record_now_ms();
        if (m->tombstone)
            r.flags |= WIRE_FLAG_MARK_DELETE; /* the record described is a tombstone */
        wire_meta_set_u32(&r.meta, WIRE_F_VERSION, m->version);
        wire_meta_set_u32(&r.meta, WIRE_F_CREATION_TIME, m->creation_time);
        wire_meta_set_expiration(&r.meta, m->expiration_ms);
        if (m->expiration_ms > now)
            wire_meta_set_u32(&r.meta, WIRE_F_TTL, wire_ms_to_s(m->expiration_ms - now));
        wire_meta_set_last_modified(&r.meta, m->last_modified);
        wire_meta_set_originator_id(&r.meta, m->origin_id);
        if (with_value) {
            r.value_type = m->value_type;
            r.value.ptr = data;
            r.value.len = dlen;
        }
    }
    if (op->klen > 0) {
        r.ns.ptr = op->key + 3;
        r.ns.len = op->nslen;
        r.key.ptr = op->key + 3 + op->nslen;
        r.key.len = op->klen - 3 - op->nslen;
    }
    r.shard_id = op->shard;
    conn_reply(op->c, &r);
    smetrics_latency(op->opcode, op->t0);
}

void
op__finish(struct op *op, int status)
{
    op__reply(op, status, NULL, NULL, 0, 0);
    op__done(op);
}

/* A short reply for a request that never became an op. */
void
ops__reply_status(struct conn *c, const struct wire_msg *req, int status, const char *why)
{
    if (why != NULL)
        log_info("rejected request op=%s opaque=%u status=%s reason=\"%s\"",
                 wire_opcode_name(req->opcode), req->opaque, wire_status_name(status), why);
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

/* ---- reading the current record (op__read: ops_read.c) ---- */

/* Decode what op__read found. Returns 1 with *m and data filled, 0 if there is
 * no record, -1 on a storage error (already replied and finished). */
int
op__current(struct op *op, struct record_meta *m, const uint8_t **data, size_t *dlen)
{
    if (op->get_rc == JUNO_ENOTFOUND) return 0;
    if (op->get_rc == 0 &&
        record_value_decode((const uint8_t *)op->got, op->glen, m, data, dlen) == 0)
        return 1;
    log_error("cannot read record op=%s shard=%u: %s", wire_opcode_name(op->opcode), op->shard,
              op->get_rc ? error_str(op->get_rc) : "corrupt record header");
    if (op->lock && !op->lock->busy) locks_remove(&op->s->locks, op->lock);
    op->lock = NULL;
    op__finish(op, WIRE_ST_SS_ERROR);
    return -1;
}

static int
live(const struct record_meta *m)
{
    return !m->tombstone && !record_expired(m, record_now_ms());
}

/* ---- Read ---- */

void
op__read_done(struct op *op)
{
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    int has = op__current(op, &m, &data, &dlen);
    if (has < 0) return;
    if (has == 0 || record_expired(&m, record_now_ms())) {
        op__finish(op, WIRE_ST_NO_KEY);
        return;
    }
    if (m.tombstone)
        op__reply(op, WIRE_ST_MARKED_DELETE, &m, NULL, 0, 0);
    else
        op__reply(op, WIRE_ST_OK, &m, data, dlen, 1);
    op__done(op);
}

/* A Read of a key whose write is in flight waits for that write to finish:
 * with --sync batch a write is in RocksDB's memtable before its fsync, and a
 * Read must not see what is not yet durable (nor what may yet fail). */
static void
op__start_read(struct op *op)
{
    struct lock *l = locks_find(&op->s->locks, op->key, op->klen);
    if (l != NULL && l->busy) {
        op->next_waiter = l->waiters;
        l->waiters = op;
        return;
    }
    op__read(op, op__read_done);
}

/* ---- Prepare ---- */

static void
op__prepare_done(struct op *op)
{
    struct store *s = op->s;
    struct lock *l = locks_find(&s->locks, op->key, op->klen);
    op->lock = NULL;
    if (l == NULL || l->busy || !same_id(l->request_id, op->in.request_id)) {
        op__finish(op, WIRE_ST_RECORD_LOCKED); /* our lock expired and was taken */
        return;
    }
    op->lock = l;
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    int has = op__current(op, &m, &data, &dlen);
    if (has < 0) return;
    int alive = has && live(&m);
    int status = WIRE_ST_OK, keep = 1, with_value = 0;
    if (alive && same_id(m.last_req_id, op->in.request_id)) {
        status = WIRE_ST_ALREADY_FULFILLED;
        keep = 0;
    } else if (op->opcode == WIRE_OP_PREPARE_CREATE && alive) {
        status = WIRE_ST_DUP_KEY;
        keep = 0;
    } else if (op->opcode == WIRE_OP_PREPARE_UPDATE && !alive) {
        status = WIRE_ST_NO_KEY;
    } else if (op->opcode == WIRE_OP_PREPARE_UPDATE && op->in.version != 0 &&
               op->in.version != m.version) {
        status = WIRE_ST_VERSION_CONFLICT;
        with_value = 1;
    }
    /* An Update's NoKey or VersionConflict keeps the lock (two-phase only):
     * this copy may be a stale replica, which the proxy counts toward its
     * quorum and repairs, so it must hold the record against a concurrent
     * writer as a prepared copy does. The proxy's Abort or Repair (same
     * request id) releases it. */
    if (status != WIRE_ST_OK && (op->flags & WIRE_FLAG_ONE_PHASE)) keep = 0;
    if (!keep) {
        locks_remove(&s->locks, l);
    } else if (has && (m.last_modified > l->seen_lm ||
                       (m.last_modified == l->seen_lm && m.version > l->seen_version))) {
        /* a Repair or Clone applied while the read was in flight raised it */
        l->seen_lm = m.last_modified;
        l->seen_version = m.version;
    }
    if (status == WIRE_ST_OK && (op->flags & WIRE_FLAG_ONE_PHASE) &&
        op->opcode != WIRE_OP_PREPARE_DELETE) {
        op__commit_now(op, has ? &m : NULL, alive);
        return;
    }
    /* an expired record is described as a tombstone: gone, but its version
     * is the one the next record continues after */
    if (has && !alive) m.tombstone = 1;
    op__reply(op, status, has ? &m : NULL, data, dlen, with_value);
    op__done(op);
}

static void
op__prepare(struct op *op)
{
    struct store *s = op->s;
    uint64_t now = uv_now(s->loop);
    struct lock *l = locks_find(&s->locks, op->key, op->klen);
    if (l != NULL &&
        (l->busy || (l->expires_ms > now && !same_id(l->request_id, op->in.request_id)))) {
        op__finish(op, WIRE_ST_RECORD_LOCKED);
        return;
    }
    if (l == NULL) {
        if (s->locks.count >= 1000000 || (l = locks_add(&s->locks, op->key, op->klen)) == NULL) {
            log_warn("too many record locks, refusing prepare locks=%zu", s->locks.count);
            op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
            return;
        }
    }
    memcpy(l->request_id, op->in.request_id, 16);
    l->expires_ms = now + s->cfg.lock_ms;
    l->op = op->opcode;
    if (locks_set_value(l, op->value_type, op->value, op->vlen) != 0) {
        locks_remove(&s->locks, l);
        op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
        return;
    }
    op__read(op, op__prepare_done);
}

/* ---- dispatch ---- */

/* The keyed writes: every keyed operation but Read. */
static int
needs_request_id(int opcode)
{
    switch (opcode) {
    case WIRE_OP_PREPARE_CREATE:
    case WIRE_OP_PREPARE_UPDATE:
    case WIRE_OP_PREPARE_SET:
    case WIRE_OP_PREPARE_DELETE:
    case WIRE_OP_COMMIT:
    case WIRE_OP_ABORT:
    case WIRE_OP_DELETE:
    case WIRE_OP_MARK_DELETE:
    case WIRE_OP_REPAIR:
    case WIRE_OP_CLONE: return 1;
    default: return 0;
    }
}

/* Check a keyed request. Returns 0, or a status after which reply_status has
 * been sent. */
static int
check_request(struct store *s, struct conn *c, const struct wire_msg *req)
{
    const struct store_config *cfg = &s->cfg;
    const char *why = NULL;
    int st = WIRE_ST_BAD_PARAM;
    if (req->ns.len == 0 || req->ns.len > cfg->max_ns)
        why = "namespace length out of range";
    else if (req->key.len > cfg->max_key) /* "": a RESP key (the proxy checks) */
        why = "key length out of range";
    else if (req->value.len > cfg->max_value)
        why = "value too large";
    else if (wire_meta_has(&req->meta, WIRE_F_TTL) && req->meta.ttl > cfg->max_ttl)
        why = "ttl over the limit";
    else if (needs_request_id(req->opcode) && !wire_meta_has(&req->meta, WIRE_F_REQUEST_ID))
        why = "request id missing";
    else if (req->shard_id >= s->nshards ||
             req->shard_id != hash_shard(req->key.ptr, req->key.len, s->nshards))
        why = "shard id does not match the key";
    else if (!s->owned[req->shard_id] && req->opcode != WIRE_OP_CLONE &&
             !migrate_serves(s, req->shard_id)) {
        st = WIRE_ST_NO_STORAGE_SERVER;
        why = "shard not owned by this store";
    }
    if (why == NULL) return 0;
    s->stats.errors++;
    ops__reply_status(c, req, st, why);
    return st;
}

struct op *
op_create(struct store *s, struct conn *c, const struct wire_msg *req)
{
    size_t klen = req->ns.len ? record_key_size(req->ns.len, req->key.len) : 0;
    struct op *op = calloc(1, sizeof(*op) + klen);
    if (op == NULL) return NULL;
    op->s = s;
    op->c = c;
    op->opaque = req->opaque;
    op->opcode = req->opcode;
    op->flags = req->flags;
    op->shard = req->shard_id;
    op->t0 = uv_hrtime();
    op->in = req->meta;
    memset(&op->in.source, 0, sizeof(op->in.source));
    memset(&op->in.correlation_id, 0, sizeof(op->in.correlation_id));
    memset(&op->in.udf_name, 0, sizeof(op->in.udf_name));
    op->has_rid = wire_meta_has(&req->meta, WIRE_F_REQUEST_ID);
    op->value_type = req->value_type;
    op->value = req->value.ptr;
    op->vlen = req->value.len;
    if (klen > 0) {
        record_key_encode(req->shard_id, req->ns.ptr, req->ns.len, req->key.ptr, req->key.len,
                          op->key);
        op->klen = klen;
        op->nslen = req->ns.len;
    }
    conn_ref(c);
    return op;
}

static void
drop_shard(struct store *s, struct conn *c, const struct wire_msg *req)
{
    if (req->shard_id >= s->nshards) {
        ops__reply_status(c, req, WIRE_ST_BAD_PARAM, "shard id out of range");
        return;
    }
    if (s->owned[req->shard_id]) {
        ops__reply_status(c, req, WIRE_ST_BAD_PARAM, "refusing to drop a shard this store owns");
        return;
    }
    struct op *op = op_create(s, c, req);
    if (op == NULL || (op->rec = malloc(2 + 3)) == NULL) { /* start key, then end key */
        if (op)
            op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
        else
            ops__reply_status(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    size_t elen = record_shard_range(req->shard_id, op->rec, op->rec + 2);
    log_info("dropping shard shard=%u", req->shard_id);
    migrate_dropped(s, req->shard_id);
    op->w.op = ENGINE_DELETE_RANGE;
    op->w.key = op->rec;
    op->w.klen = 2;
    op->w.val = op->rec + 2;
    op->w.vlen = elen;
    op->w.cb = op__write_done;
    op->w.data = op;
    engine_submit(s->engine, &op->w);
}

void
ops_dispatch(struct store *s, struct conn *c, const struct wire_msg *req)
{
    if (wire_type(req->type_flag) != 0) return; /* admin / cluster control: no reply */
    if (req->header_only) {
        if (req->opcode == WIRE_OP_NOP) {
            struct wire_msg echo = *req; /* the 16 bytes as they came, RQ bits included */
            conn_reply(c, &echo);
        } else {
            ops__reply_status(c, req, WIRE_ST_BADMSG, "header-only message that is not a Nop");
        }
        return;
    }
    if (req->opcode == WIRE_OP_NOP) {
        struct wire_msg echo = *req;
        echo.type_flag = WIRE_TF_RESPONSE;
        conn_reply(c, &echo); /* status = byte 15 of the request, as JunoDB does */
        return;
    }
    if (req->opcode == WIRE_OP_DROP_SHARD) {
        drop_shard(s, c, req);
        return;
    }
    if (req->opcode == WIRE_OP_SHARD_INFO) {
        ops__shard_info(s, c, req);
        return;
    }
    if (req->opcode >= WIRE_OP_MIGRATE_START && req->opcode <= WIRE_OP_SHARD_ACCEPT) {
        migrate_dispatch(s, c, req);
        return;
    }
    if (req->opcode >= WIRE_OP_SHARD_TREE && req->opcode <= WIRE_OP_REJOINED) {
        repair_ops_dispatch(s, c, req);
        return;
    }
    if (req->opcode == WIRE_OP_KEY_SCAN) {
        scan_ops_key_scan(s, c, req);
        return;
    }
    if (req->opcode == WIRE_OP_COMPACT) {
        ops__compact(s, c, req);
        return;
    }
    if (req->opcode != WIRE_OP_READ && !needs_request_id(req->opcode)) {
        ops__reply_status(c, req, WIRE_ST_NOT_SUPPORTED,
                          "unknown opcode"); /* keyed ops only below */
        return;
    }
    if (req->opcode != WIRE_OP_CLONE) { /* a copy yields to it */
        s->fg_last_ms = uv_now(s->loop);
        copyprio_foreground(s);
    } else {
        copyprio_clone(s, uv_now(s->loop));
    }
    if (check_request(s, c, req) != 0) return;
    int refused = rejoin_refuses(s, req); /* rejoin.c: stale until juno-repair ran */
    if (refused == 0) refused = disk_refuses(s, req->opcode);
    if (refused != 0) { /* disk.c logged the cause once; the count is in /metrics */
        ops__reply_status(c, req, refused, NULL);
        return;
    }
    struct op *op = op_create(s, c, req);
    if (op == NULL) {
        ops__reply_status(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    int st;
    switch (req->opcode) {
    case WIRE_OP_READ: op__start_read(op); break;
    case WIRE_OP_PREPARE_CREATE:
    case WIRE_OP_PREPARE_UPDATE:
    case WIRE_OP_PREPARE_SET:
    case WIRE_OP_PREPARE_DELETE: op__prepare(op); break;
    case WIRE_OP_COMMIT: op__commit(op); break;
    case WIRE_OP_ABORT: {
        struct lock *l = locks_find(&s->locks, op->key, op->klen);
        if (l && !l->busy && same_id(l->request_id, op->in.request_id)) locks_remove(&s->locks, l);
        op__finish(op, WIRE_ST_OK);
        break;
    }
    case WIRE_OP_DELETE:
        if ((st = op__claim_lock(op)) != 0) {
            op__finish(op, st);
            break;
        }
        op__write(op, ENGINE_DELETE);
        break;
    case WIRE_OP_MARK_DELETE:
        if ((st = op__claim_lock(op)) != 0) {
            op__finish(op, st);
            break;
        }
        op__store_record(op, 1);
        break;
    case WIRE_OP_REPAIR:
    case WIRE_OP_CLONE:
        if (op->in.version == 0 || !wire_meta_has(&op->in, WIRE_F_LAST_MODIFIED)) {
            op__finish(op, WIRE_ST_BAD_PARAM);
            break;
        }
        if (req->opcode == WIRE_OP_REPAIR) { /* a stale copy's Update lock, if it is ours */
            struct lock *l = locks_find(&s->locks, op->key, op->klen);
            if (l && !l->busy && same_id(l->request_id, op->in.request_id)) op->lock = l;
        }
        if (req->opcode == WIRE_OP_CLONE && !s->owned[op->shard])
            engine_set_droppable(s->engine, op->shard, 0); /* being moved in: keep it */
        op->w.bulk = req->opcode == WIRE_OP_CLONE && (req->flags & WIRE_FLAG_BULK) != 0;
        op__store_record(op, (req->flags & WIRE_FLAG_MARK_DELETE) != 0);
        break;
    }
}
