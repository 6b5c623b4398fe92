/* ops_shard.c: ShardInfo (a shard's record counts and order-independent
 * hash, as JSON) and Compact (a full manual compaction), each on libuv's
 * thread pool; ops_shard_scan and ops_shard_json serve repair_ops.c and
 * migrate.c too. */
#include "ops_int.h"
#include "smetrics.h"

#include "error.h"
#include "htree.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- ShardInfo and Compact: worker-thread scans ---- */

void
ops_shard_scan(struct store *s, uint16_t shard, uint64_t info[6], int *rc)
{
    uint8_t start[2], end[3];
    size_t elen = record_shard_range(shard, start, end);
    struct engine_iter *it = engine_iter_create(s->engine, start, 2, end, elen);
    memset(info, 0, 6 * sizeof(*info));
    *rc = 0;
    if (it == NULL) {
        *rc = JUNO_ENOMEM;
        return;
    }
    uint64_t now = record_now_ms();
    const uint8_t *k, *v;
    size_t kl, vl;
    while (engine_iter_next(it, &k, &kl, &v, &vl)) {
        struct record_meta m;
        const uint8_t *data;
        size_t dlen;
        info[0]++;
        info[4] += kl + vl;
        if (record_value_decode(v, vl, &m, &data, &dlen) != 0) continue;
        if (record_expired(&m, now)) {
            info[3]++;
            continue; /* expiry is not synchronised between copies: leave it out of the hash */
        }
        if (m.tombstone)
            info[2]++;
        else
            info[1]++;
        info[5] += htree_digest(htree_key_hash(k, kl), v, vl); /* a sum: independent of order */
    }
    engine_iter_destroy(it);
}

int
ops_shard_json(const struct store *s, uint16_t shard, const uint64_t info[6], char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "{\"shard\":%u,\"records\":%" PRIu64 ",\"live\":%" PRIu64
                    ",\"tombstones\":%" PRIu64 ",\"expired\":%" PRIu64 ",\"bytes\":%" PRIu64
                    ",\"hash\":\"%016" PRIx64 "\",\"owned\":%s,\"rejoining\":%s,\"grace\":%" PRIu64
                    "}",
                    shard, info[0], info[1], info[2], info[3], info[4], info[5],
                    shard < s->nshards && s->owned[shard] ? "true" : "false",
                    s->rejoin.rejoining ? "true" : "false", s->cfg.tombstone_grace_s);
}

static void
op__work_shard_info(uv_work_t *w)
{
    struct op *op = w->data;
    /* a migration's target answers for what it holds durably: its copied
     * records (WIRE_FLAG_BULK) were written without an fsync of their own */
    op->get_rc = engine_sync_wal(op->s->engine);
    if (op->get_rc == 0) ops_shard_scan(op->s, op->shard, op->info, &op->get_rc);
}

static void
op__after_shard_info(uv_work_t *w, int status)
{
    struct op *op = w->data;
    if (status != 0 || op->get_rc != 0) {
        op__finish(op, WIRE_ST_SS_ERROR);
        return;
    }
    char json[384];
    int n = ops_shard_json(op->s, op->shard, op->info, json, sizeof(json));
    smetrics_scanned(op->opcode, op->info[0]);
    struct record_meta m;
    memset(&m, 0, sizeof(m));
    m.version = 1;
    op__reply(op, WIRE_ST_OK, &m, (const uint8_t *)json, (size_t)n, 1);
    op__done(op);
}

static void
op__work_compact(uv_work_t *w)
{
    struct op *op = w->data;
    engine_compact(op->s->engine);
}

static void
op__after_compact(uv_work_t *w, int status)
{
    struct op *op = w->data;
    log_info("manual compaction done");
    op__finish(op, status == 0 ? WIRE_ST_OK : WIRE_ST_SS_ERROR);
}

static void
scan_op(struct store *s, struct conn *c, const struct wire_msg *req, uv_work_cb work,
        uv_after_work_cb after)
{
    if (req->opcode == WIRE_OP_SHARD_INFO && req->shard_id >= s->nshards) {
        ops__reply_status(c, req, WIRE_ST_BAD_PARAM, "shard id out of range");
        return;
    }
    struct wire_msg bare = *req; /* not a keyed request: ignore any payload */
    bare.ns.len = bare.key.len = 0;
    struct op *op = op_create(s, c, &bare);
    if (op == NULL) {
        ops__reply_status(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    op->work.data = op;
    uv_queue_work(s->loop, &op->work, work, after);
}

void
ops__shard_info(struct store *s, struct conn *c, const struct wire_msg *req)
{
    scan_op(s, c, req, op__work_shard_info, op__after_shard_info);
}

void
ops__compact(struct store *s, struct conn *c, const struct wire_msg *req)
{
    log_info("manual compaction requested");
    scan_op(s, c, req, op__work_compact, op__after_compact);
}
