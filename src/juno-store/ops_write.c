/* ops_write.c: the writes of the storage operations (ops.c dispatches them):
 * a Commit of the prepared value, a one-phase Prepare's write, Delete,
 * MarkDelete, Repair and Clone. Each encodes the record, then hands it to the
 * engine's writer thread (through migrate_submit, which holds it for a
 * moment while a move of its shard verifies); "if newer" is decided there,
 * atomically. When the write is done, the key's lock goes and the Reads that
 * waited for it run.
 */
#include "clock.h"
#include "ops_int.h"
#include "store.h"

#include "error.h"
#include "log.h"
#include "record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- writes: Commit, Delete, MarkDelete, Repair, Clone, DropShard ---- */

static void
op__write_finish(struct op *op, struct engine_write *w, int status)
{
    if (status != 0) { /* a full disk is SSOutofResource, as disk_refuses answers */
        op__finish(op, status == JUNO_ENOSPC ? WIRE_ST_SS_OUT_OF_RESOURCE : WIRE_ST_SS_ERROR);
        return;
    }
    if ((w->op == ENGINE_PUT || w->op == ENGINE_PUT_IF_NEWER) && w->applied) {
        struct record_meta m;
        const uint8_t *data;
        size_t dlen;
        record_value_decode(op->rec, w->vlen, &m, &data, &dlen);
        op__reply(op, WIRE_ST_OK, &m, NULL, 0, 0);
        op__done(op);
        return;
    }
    op__finish(op, WIRE_ST_OK);
}

void
op__write_done(struct engine_write *w, int status)
{
    struct op *op = w->data;
    migrate_written(op->s, op->shard, w, status); /* forwards it when the shard streams out */
    struct op *waiting = NULL;
    if (op->lock) {
        waiting = op->lock->waiters;
        locks_remove(&op->s->locks, op->lock);
    }
    op->lock = NULL;
    op__write_finish(op, w, status);
    while (waiting != NULL) { /* the Reads that came during the write */
        struct op *next = waiting->next_waiter;
        op__read(waiting, op__read_done);
        waiting = next;
    }
}

void
op__write(struct op *op, enum engine_op kind)
{
    if (op->lock) op->lock->busy = 1;
    op->w.op = kind;
    op->w.key = op->key;
    op->w.klen = op->klen;
    op->w.val = op->rec;
    op->w.cb = op__write_done;
    op->w.data = op;
    disk_note_write(op->s, op->klen + op->w.vlen);
    migrate_submit(op->s, op->shard, &op->w); /* held for a moment while a move verifies */
}

/* Encode the record to write into op->rec. Returns 0 or JUNO_ENOMEM. */
static int
op__encode(struct op *op, const struct record_meta *m, const uint8_t *data, size_t dlen)
{
    op->rec = malloc(RECORD_HEADER_SIZE + dlen);
    if (op->rec == NULL) return JUNO_ENOMEM;
    record_value_encode(m, data, dlen, op->rec);
    op->w.vlen = RECORD_HEADER_SIZE + dlen;
    return 0;
}

/* The record a Commit, Repair, Clone or MarkDelete request describes. */
static void
op__meta_from_request(const struct op *op, struct record_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->version = op->in.version;
    m->creation_time = op->in.creation_time ? op->in.creation_time : (uint32_t)time(NULL);
    m->expiration_ms = wire_meta_expiration(&op->in);
    m->last_modified = op->in.last_modified ? op->in.last_modified : clock_wall_ns();
    if (wire_meta_has(&op->in, WIRE_F_ORIGINATOR_ID))
        memcpy(m->origin_id, op->in.originator_id, 16);
    else
        memcpy(m->origin_id, op->in.request_id, 16);
    memcpy(m->last_req_id, op->in.request_id, 16);
}

static void
op__commit_missing_done(struct op *op)
{
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    int has = op__current(op, &m, &data, &dlen);
    if (has < 0) return;
    if (has && same_id(m.last_req_id, op->in.request_id)) {
        op__reply(op, WIRE_ST_ALREADY_FULFILLED, &m, NULL, 0, 0);
        op__done(op);
        return;
    }
    op__finish(op, WIRE_ST_NO_UNCOMMITTED);
}

void
op__commit(struct op *op)
{
    struct lock *l = locks_find(&op->s->locks, op->key, op->klen);
    if (l == NULL || !same_id(l->request_id, op->in.request_id)) {
        op__read(op, op__commit_missing_done); /* a replayed commit, or none prepared */
        return;
    }
    if (l->busy) {
        op__finish(op, WIRE_ST_RECORD_LOCKED);
        return;
    }
    if (l->op == WIRE_OP_PREPARE_DELETE || op->in.version == 0) {
        op__finish(op, WIRE_ST_BAD_PARAM);
        return;
    }
    struct record_meta m;
    op__meta_from_request(op, &m);
    m.value_type = l->value_type;
    op->lock = l;
    if (op__encode(op, &m, l->value, l->vlen) != 0) {
        op->lock = NULL;
        op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
        return;
    }
    /* Under the lock no other Commit can write this key, and every Repair,
     * Clone or MarkDelete since the prepare raised seen_lm: a Commit newer
     * than that needs no read on the writer thread. */
    struct record_meta seen = {.last_modified = l->seen_lm, .version = l->seen_version};
    op__write(op, record_cmp(&m, &seen) > 0 ? ENGINE_PUT : ENGINE_PUT_IF_NEWER);
}

/* A one-phase write (a Prepare flagged WIRE_FLAG_ONE_PHASE, which a proxy
 * sends when the key has a single replica): the prepare's checks passed and
 * the lock is held, so write the new record now, with the metadata a proxy's
 * Commit would carry: version + 1 of the current record, live, expired or a
 * tombstone (1 for a new key), creation time and originator kept from a live
 * record, the expiration from the TTL or, flagged WIRE_FLAG_SET_EXPIRY, the
 * request's ExpirationTime (else the live record's; a new record's never
 * expires), and a last-modified stamp above the current record's. */
void
op__commit_now(struct op *op, const struct record_meta *cur, int alive)
{
    struct lock *l = locks_find(&op->s->locks, op->key, op->klen);
    uint64_t now_ms = record_now_ms();
    struct record_meta m;
    memset(&m, 0, sizeof(m));
    m.version = cur ? cur->version + 1 : 1; /* never a version again: docs/consistency.md */
    m.creation_time = alive && cur->creation_time ? cur->creation_time : (uint32_t)(now_ms / 1000);
    if (wire_meta_has(&op->in, WIRE_F_TTL) && op->in.ttl > 0)
        m.expiration_ms = now_ms + (uint64_t)op->in.ttl * 1000;
    else if (op->flags & WIRE_FLAG_SET_EXPIRY)
        m.expiration_ms = wire_meta_expiration(&op->in); /* set (0: never), live or new */
    else if (alive)
        m.expiration_ms = cur->expiration_ms;
    m.last_modified = op->in.last_modified ? op->in.last_modified : clock_wall_ns();
    if (l->seen_lm >= m.last_modified) m.last_modified = l->seen_lm + 1;
    memcpy(m.origin_id, alive ? cur->origin_id : op->in.request_id, 16);
    memcpy(m.last_req_id, op->in.request_id, 16);
    m.value_type = l->value_type;
    op->lock = l;
    if (op__encode(op, &m, l->value, l->vlen) != 0) {
        locks_remove(&op->s->locks, l);
        op->lock = NULL;
        op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
        return;
    }
    op__write(op, ENGINE_PUT); /* newer than everything seen under the lock */
}

/* For Delete and MarkDelete: take over this request's lock, or refuse when
 * another writer holds a live one. Returns 0 or a status. */
int
op__claim_lock(struct op *op)
{
    struct lock *l = locks_find(&op->s->locks, op->key, op->klen);
    if (l == NULL) return 0;
    if (same_id(l->request_id, op->in.request_id) && !l->busy) {
        op->lock = l;
        return 0;
    }
    if (l->busy || l->expires_ms > uv_now(op->s->loop)) return WIRE_ST_RECORD_LOCKED;
    locks_remove(&op->s->locks, l); /* expired */
    return 0;
}

void
op__store_record(struct op *op, int tombstone)
{
    struct record_meta m;
    op__meta_from_request(op, &m);
    struct lock *held = locks_find(&op->s->locks, op->key, op->klen);
    if (held != NULL && (m.last_modified > held->seen_lm ||
                         (m.last_modified == held->seen_lm && m.version > held->seen_version))) {
        held->seen_lm = m.last_modified; /* a Commit under this lock must beat it */
        held->seen_version = m.version;
    }
    m.tombstone = (uint8_t)tombstone;
    m.value_type = op->value_type;
    if (tombstone) m.expiration_ms = 0;
    if (op__encode(op, &m, tombstone ? NULL : op->value, tombstone ? 0 : op->vlen) != 0) {
        op->lock = NULL;
        op__finish(op, WIRE_ST_SS_OUT_OF_RESOURCE);
        return;
    }
    op__write(op, ENGINE_PUT_IF_NEWER);
}
