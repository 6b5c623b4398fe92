/* ops_int.h: what ops.c (the keyed storage operations and dispatch),
 * ops_write.c (their writes) and ops_shard.c (ShardInfo and Compact, scans
 * on the thread pool) share: an operation in flight and the helpers that
 * answer it. */
#ifndef JUNO_STORE_OPS_INT_H
#define JUNO_STORE_OPS_INT_H

#include "store.h"

#include "record.h"
#include "wire.h"

#include <stdint.h>
#include <string.h>
#include <uv.h>

struct op {
    struct store *s;
    struct conn *c; /* ref (conn_ref) until op__done */
    uint32_t opaque;
    uint8_t opcode, flags;
    uint16_t shard;
    uint64_t t0;         /* uv_hrtime() at dispatch: juno_store_request_duration_seconds */
    struct wire_meta in; /* the request's fixed-size meta fields; byte fields cleared */
    int has_rid;
    uint8_t value_type;
    const uint8_t *value; /* borrowed from the request: valid during dispatch only */
    size_t vlen;
    struct lock *lock;      /* borrowed from s->locks: the lock this op holds busy */
    struct op *next_waiter; /* a Read waiting on a busy lock: the next one */
    char *got;              /* owned (engine_free): the stored value read */
    size_t glen;
    int get_rc;
    void (*after_read)(struct op *op);
    uv_work_t work;
    struct op *next_read; /* in s->reads, waiting for the turn's batch (ops_read.c) */
    struct engine_write w;
    uint8_t *rec;     /* owned: the encoded record being written */
    uint64_t info[6]; /* ShardInfo: records, live, tombstones, expired, bytes, hash */
    size_t nslen;
    size_t klen;
    uint8_t key[]; /* the storage key */
};

/* A new op for request req from c (c is referenced until op__done); NULL
 * when out of memory. */
struct op *op_create(struct store *s, struct conn *c, const struct wire_msg *req);
/* Free op and drop its connection reference. */
void op__done(struct op *op);
/* Queue op's reply: status and, when m is given, the record's metadata (and
 * data when with_value). */
void op__reply(struct op *op, int status, const struct record_meta *m, const uint8_t *data,
               size_t dlen, int with_value);
/* Reply status alone and finish op. */
void op__finish(struct op *op, int status);
/* Reply status to req on c without an op; why is logged. */
void ops__reply_status(struct conn *c, const struct wire_msg *req, int status, const char *why);

/* 1 when request ids a and b are the same. */
static inline int
same_id(const uint8_t a[16], const uint8_t b[16])
{
    return memcmp(a, b, 16) == 0;
}

/* Read op's record, then call after (at once when the answer is in memory,
 * else from the thread pool, in a batch: ops_read.c). */
void op__read(struct op *op, void (*after)(struct op *));
/* Decode what op__read found. Returns 1 with *m and data filled, 0 if there
 * is no record, -1 on a storage error (already replied and finished). */
int op__current(struct op *op, struct record_meta *m, const uint8_t **data, size_t *dlen);
/* A Read's answer, once its record is read. */
void op__read_done(struct op *op);

/* ---- ops_write.c ---- */

/* Write op->rec (encoded) as kind, op's lock (if any) busy meanwhile. */
void op__write(struct op *op, enum engine_op kind);
/* An engine write of an op is done: reply, free the lock, run the Reads
 * that waited on it. */
void op__write_done(struct engine_write *w, int status);
/* Commit: write the value prepared under this request id's lock. */
void op__commit(struct op *op);
/* A one-phase Prepare whose checks passed: write now (cur: the record read,
 * alive when it is live). */
void op__commit_now(struct op *op, const struct record_meta *cur, int alive);
/* Delete, MarkDelete: take over this request's lock, or refuse when another
 * writer holds a live one. Returns 0 or a status. */
int op__claim_lock(struct op *op);
/* MarkDelete (tombstone 1), Repair, Clone: write the record the request
 * carries if it is newer. */
void op__store_record(struct op *op, int tombstone);

/* ---- ops_shard.c ---- */

/* ShardInfo: the shard's counts and hash as JSON (on the thread pool). */
void ops__shard_info(struct store *s, struct conn *c, const struct wire_msg *req);
/* Compact: a full manual compaction (on the thread pool). */
void ops__compact(struct store *s, struct conn *c, const struct wire_msg *req);

#endif
