/* scan_ops.c: KeyScan (lib/keyscan.h), the records of one namespace in one
 * shard, in scan-position order, for the RESP face's SCAN, KEYS, DBSIZE,
 * RANDOMKEY and FLUSHDB.
 *
 * Storage keys are shard | nsLen | ns | key, so a shard's records of a
 * namespace are one contiguous range: one iterator on libuv's thread pool
 * (the loop never waits on the disk) reads it from start to end and keeps,
 * in a max-heap on the position, the `limit` records with the smallest
 * positions at or after the request's `from`. Records of equal position stay
 * together (a reply may hold more than `limit` of them), so `next` = the
 * largest position kept + 1 never skips a record. Tombstones and expired
 * records are listed, flagged: the proxy merges the replicas' answers by the
 * read-repair rule. The reply is bounded by the limit (4096 keys of at most
 * 4 KiB) whatever the shard holds.
 */
#include "smetrics.h"
#include "store.h"

#include "buf.h"
#include "error.h"
#include "keyscan.h"
#include "log.h"
#include "record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kent {
    uint64_t pos;
    uint8_t *e; /* owned: the encoded entry */
    size_t len;
};

struct kop {
    struct store *s;
    struct conn *c; /* ref (conn_ref) until kop_finish */
    uint32_t opaque;
    uint16_t shard;
    uint64_t t0;
    uv_work_t work;
    struct keyscan_req q;
    uint8_t ns[RECORD_MAX_NS];
    size_t nslen;
    struct kent *heap; /* owned: a max-heap on pos, n entries */
    size_t n, cap;
    int overflowed; /* a record at or after `from` was left out */
    uint64_t scanned;
    int rc;
    struct buf out;
};

static void
heap_up(struct kent *h, size_t i)
{
    while (i > 0 && h[(i - 1) / 2].pos < h[i].pos) {
        struct kent t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void
heap_down(struct kent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].pos > h[m].pos) m = l;
        if (r < n && h[r].pos > h[m].pos) m = r;
        if (m == i) return;
        struct kent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static struct kent
heap_pop(struct kop *op)
{
    struct kent top = op->heap[0];
    op->heap[0] = op->heap[--op->n];
    heap_down(op->heap, op->n, 0);
    return top;
}

static int
heap_push(struct kop *op, struct kent e)
{
    if (op->n == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 64;
        struct kent *h = realloc(op->heap, cap * sizeof(*h));
        if (h == NULL) return JUNO_ENOMEM;
        op->heap = h;
        op->cap = cap;
    }
    op->heap[op->n] = e;
    heap_up(op->heap, op->n++);
    return 0;
}

/* Over the limit: drop the records of the largest position while what stays
 * still holds `limit` records (records of one position go together). */
static void
heap_trim(struct kop *op)
{
    while (op->n > op->q.limit) {
        uint64_t top = op->heap[0].pos;
        size_t same = 0;
        for (size_t i = 0; i < op->n; i++) same += op->heap[i].pos == top;
        if (op->n - same < op->q.limit) return;
        while (op->n > 0 && op->heap[0].pos == top) free(heap_pop(op).e);
        op->overflowed = 1;
    }
}

/* Consider the record (k, v): 0, or JUNO_ENOMEM. */
static int
kop_record(struct kop *op, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, uint64_t now)
{
    uint16_t shard;
    const uint8_t *ns, *key, *data;
    size_t nslen, klen, dlen;
    struct record_meta m;
    if (record_key_decode(k, kl, &shard, &ns, &nslen, &key, &klen) != 0 ||
        record_value_decode(v, vl, &m, &data, &dlen) != 0 || klen > KEYSCAN_MAX_KEY)
        return 0;
    uint64_t pos = keyscan_pos(key, klen);
    if (pos < op->q.from) return 0;
    if (op->n >= op->q.limit && pos > op->heap[0].pos) {
        op->overflowed = 1;
        return 0;
    }
    struct keyscan_entry e = {
        .last_modified = m.last_modified,
        .version = m.version,
        .flags = (uint8_t)((m.tombstone ? KEYSCAN_E_TOMBSTONE : 0) |
                           (record_expired(&m, now) ? KEYSCAN_E_EXPIRED : 0) |
                           ((op->q.flags & KEYSCAN_Q_TTL) && m.expiration_ms ? KEYSCAN_E_TTL : 0)),
        .key = key,
        .klen = klen};
    struct kent x = {.pos = pos, .len = keyscan_entry_size(klen)};
    if ((x.e = malloc(x.len)) == NULL) return JUNO_ENOMEM;
    keyscan_entry_put(x.e, &e);
    if (heap_push(op, x) != 0) {
        free(x.e);
        return JUNO_ENOMEM;
    }
    heap_trim(op);
    return 0;
}

static void
kop__work(uv_work_t *w)
{
    struct kop *op = w->data;
    uint8_t start[3 + RECORD_MAX_NS], end[3];
    start[0] = (uint8_t)(op->shard >> 8);
    start[1] = (uint8_t)op->shard;
    start[2] = (uint8_t)op->nslen;
    memcpy(start + 3, op->ns, op->nslen);
    size_t slen = 3 + op->nslen;
    uint8_t s2[2];
    size_t elen = record_shard_range(op->shard, s2, end);
    struct engine_iter *it = engine_iter_create(op->s->engine, start, slen, end, elen);
    if (it == NULL) {
        op->rc = JUNO_EIO;
        return;
    }
    uint64_t now = record_now_ms();
    const uint8_t *k, *v;
    size_t kl, vl;
    while (op->rc == 0 && engine_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl < slen || memcmp(k, start, slen) != 0) break; /* past the namespace */
        op->scanned++;
        op->rc = kop_record(op, k, kl, v, vl, now);
    }
    engine_iter_destroy(it);
    if (op->rc != 0) return;
    struct keyscan_reply r = {.flags = op->overflowed ? 0 : KEYSCAN_R_DONE,
                              .count = (uint16_t)op->n,
                              .scanned =
                                  op->scanned > UINT32_MAX ? UINT32_MAX : (uint32_t)op->scanned,
                              .next = KEYSCAN_POS_END};
    size_t total = KEYSCAN_HEADER_SIZE;
    uint64_t top = 0;
    for (size_t i = 0; i < op->n; i++) {
        total += op->heap[i].len;
        if (op->heap[i].pos > top) top = op->heap[i].pos;
    }
    if (op->overflowed) r.next = top + 1;
    if (op->n > UINT16_MAX || buf_reserve(&op->out, total) != 0) {
        op->rc = JUNO_ENOMEM;
        return;
    }
    keyscan_header_put(op->out.data, &r);
    op->out.len = KEYSCAN_HEADER_SIZE;
    for (size_t i = 0; i < op->n; i++) {
        memcpy(op->out.data + op->out.len, op->heap[i].e, op->heap[i].len);
        op->out.len += op->heap[i].len;
    }
}

static void
kop_finish(struct kop *op, int status, const uint8_t *v, size_t len)
{
    conn_reply_value(op->c, op->opaque, WIRE_OP_KEY_SCAN, op->shard, status, v, len);
    smetrics_latency(WIRE_OP_KEY_SCAN, op->t0);
    smetrics_scanned(WIRE_OP_KEY_SCAN, op->scanned);
    for (size_t i = 0; i < op->n; i++) free(op->heap[i].e);
    free(op->heap);
    buf_free(&op->out);
    conn_unref(op->c);
    free(op);
}

static void
kop__after(uv_work_t *w, int status)
{
    struct kop *op = w->data;
    if (status != 0 || op->rc != 0) {
        log_error("key scan failed shard=%u: %s", op->shard,
                  status ? uv_strerror(status) : error_str(op->rc));
        kop_finish(op, op->rc == JUNO_ENOMEM ? WIRE_ST_SS_OUT_OF_RESOURCE : WIRE_ST_SS_ERROR, NULL,
                   0);
        return;
    }
    kop_finish(op, WIRE_ST_OK, op->out.data, op->out.len);
}

void
scan_ops_key_scan(struct store *s, struct conn *c, const struct wire_msg *req)
{
    struct keyscan_req q;
    if (req->shard_id >= s->nshards) {
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM, "shard id out of range");
        return;
    }
    if (req->ns.len == 0 || req->ns.len > RECORD_MAX_NS ||
        keyscan_req_decode(req->value.ptr, req->value.len, &q) != 0) {
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM, "malformed KeyScan request (docs/protocol.md)");
        return;
    }
    /* a shard this store does not serve, or a rejoining store's possibly
     * stale copy: the proxy reads the other replicas (or a newer map) */
    if ((!s->owned[req->shard_id] && !migrate_serves(s, req->shard_id)) || s->rejoin.rejoining) {
        conn_reply_value(c, req->opaque, req->opcode, req->shard_id, WIRE_ST_NO_STORAGE_SERVER,
                         NULL, 0);
        return;
    }
    struct kop *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        conn_reply_error(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    op->s = s;
    op->c = c;
    op->opaque = req->opaque;
    op->shard = req->shard_id;
    op->t0 = uv_hrtime();
    op->q = q;
    memcpy(op->ns, req->ns.ptr, req->ns.len);
    op->nslen = req->ns.len;
    op->work.data = op;
    conn_ref(c);
    uv_queue_work(s->loop, &op->work, kop__work, kop__after);
}
