/* ops_int.h: what ops.c (the keyed storage operations and dispatch) and
 * ops_shard.c (ShardInfo and Compact, scans on the thread pool) share: an
 * operation in flight and the helpers that answer it. */
#ifndef JUNO_STORE_OPS_INT_H
#define JUNO_STORE_OPS_INT_H

#include "store.h"

#include "record.h"
#include "wire.h"

#include <stdint.h>
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

/* ---- ops_shard.c ---- */

/* ShardInfo: the shard's counts and hash as JSON (on the thread pool). */
void ops__shard_info(struct store *s, struct conn *c, const struct wire_msg *req);
/* Compact: a full manual compaction (on the thread pool). */
void ops__compact(struct store *s, struct conn *c, const struct wire_msg *req);

#endif
