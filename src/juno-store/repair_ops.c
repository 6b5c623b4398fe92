/* repair_ops.c: the storage operations juno-repair and juno-backup use.
 *
 *   ShardTree   one range of a shard's hash tree (lib/htree.h): its buckets
 *               (count and hash of each child range) or its records (key,
 *               version, last-modified, tombstone flag, digest). One scan
 *               of the shard on a worker thread; the reply is binary.
 *   Checkpoint  a RocksDB checkpoint of the whole database in a directory
 *               (memtables flushed, SST files hard-linked), then the
 *               checkpoint read back (lib/ckpt.h) for its per-shard counts
 *               and hashes and its files: the backup manifest's figures.
 *   Rejoined    a rejoining store serves again (rejoin.c): juno-repair sends
 *               it once every shard the store owns was compared.
 *
 * Scans run on libuv's thread pool like ShardInfo; the loop only decodes,
 * replies and counts (juno_store_scanned_records_total).
 */
#include "smetrics.h"
#include "store.h"

#include "buf.h"
#include "ckpt.h"
#include "error.h"
#include "htree.h"
#include "log.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TREE_LIST_BYTES (4u << 20) /* a list reply stops (truncated) past this */

struct rop {
    struct store *s;
    struct conn *c; /* ref (conn_ref) until rop__done */
    uint32_t opaque;
    uint8_t opcode;
    uint16_t shard;
    uint64_t t0;
    uv_work_t work;
    struct htree_req q;
    struct buf out; /* the reply's value */
    int rc;
    uint64_t scanned;
    char err[512];
    char dir[4096];
};

static struct rop *
rop_create(struct store *s, struct conn *c, const struct wire_msg *req)
{
    struct rop *op = calloc(1, sizeof(*op));
    if (op == NULL) return NULL;
    op->s = s;
    op->c = c;
    op->opaque = req->opaque;
    op->opcode = req->opcode;
    op->shard = req->shard_id;
    op->t0 = uv_hrtime();
    op->work.data = op;
    conn_ref(c);
    return op;
}

static void
rop_finish(struct rop *op, int status, const uint8_t *v, size_t len)
{
    conn_reply_value(op->c, op->opaque, op->opcode, op->shard, status, v, len);
    smetrics_latency(op->opcode, op->t0);
    smetrics_scanned(op->opcode, op->scanned);
    buf_free(&op->out);
    conn_unref(op->c);
    free(op);
}

/* ---- ShardTree ---- */

/* Append a list entry for the record (k, v) with digest d; 0, or 1 when the
 * reply is full (truncated), or JUNO_ENOMEM. */
static int
tree__list(struct rop *op, struct htree_reply *h, const uint8_t *k, size_t kl,
           const struct record_meta *m, uint64_t d)
{
    uint16_t shard;
    struct htree_entry e;
    if (record_key_decode(k, kl, &shard, &e.ns, &e.nslen, &e.key, &e.klen) != 0) return 0;
    size_t n = htree_entry_size(e.nslen, e.klen);
    if (h->count >= op->q.limit || op->out.len + n > TREE_LIST_BYTES) {
        h->flags |= HTREE_R_TRUNCATED;
        return 1;
    }
    if (buf_reserve(&op->out, n) != 0) return JUNO_ENOMEM;
    e.version = m->version;
    e.last_modified = m->last_modified;
    e.flags = m->tombstone ? HTREE_E_TOMBSTONE : 0;
    e.digest = d;
    op->out.len += htree_entry_put(op->out.data + op->out.len, &e);
    h->count++;
    return 0;
}

static void
tree__work(uv_work_t *w)
{
    struct rop *op = w->data;
    const struct htree_req *q = &op->q;
    struct htree_reply h = {.kind = q->kind,
                            .prefix_bits = q->prefix_bits,
                            .split_bits = q->split_bits,
                            .prefix = q->prefix};
    struct htree_bucket *b = NULL;
    if (q->kind == HTREE_BUCKETS && (b = calloc((size_t)1 << q->split_bits, sizeof(*b))) == NULL) {
        op->rc = JUNO_ENOMEM;
        return;
    }
    if (buf_reserve(&op->out, HTREE_HEADER_SIZE) != 0) {
        free(b);
        op->rc = JUNO_ENOMEM;
        return;
    }
    op->out.len = HTREE_HEADER_SIZE;
    uint8_t start[2], end[3];
    size_t elen = record_shard_range(op->shard, start, end);
    struct engine_iter *it = engine_iter_create(op->s->engine, start, 2, end, elen);
    if (it == NULL) {
        free(b);
        op->rc = JUNO_EIO;
        return;
    }
    uint64_t now = record_now_ms();
    const uint8_t *k, *v;
    size_t kl, vl;
    while (engine_iter_next(it, &k, &kl, &v, &vl)) {
        op->scanned++;
        uint64_t kh = htree_key_hash(k, kl);
        struct record_meta m;
        const uint8_t *data;
        size_t dlen;
        if (!htree_in_range(kh, q->prefix_bits, q->prefix) ||
            record_value_decode(v, vl, &m, &data, &dlen) != 0 || record_expired(&m, now))
            continue; /* expiry is per copy: left out, as ShardInfo does */
        uint64_t d = htree_digest(kh, v, vl);
        if (b != NULL) {
            struct htree_bucket *x = &b[htree_child(kh, q->prefix_bits, q->split_bits)];
            x->count++;
            x->hash += d;
            continue;
        }
        int rc = tree__list(op, &h, k, kl, &m, d);
        if (rc < 0) op->rc = rc;
        if (rc != 0) break;
    }
    engine_iter_destroy(it);
    if (b != NULL && op->rc == 0) {
        h.count = 1u << q->split_bits;
        if (buf_reserve(&op->out, (size_t)h.count * HTREE_BUCKET_SIZE) != 0) {
            op->rc = JUNO_ENOMEM;
        } else {
            for (uint32_t i = 0; i < h.count; i++)
                htree_bucket_put(op->out.data + op->out.len + (size_t)i * HTREE_BUCKET_SIZE, &b[i]);
            op->out.len += (size_t)h.count * HTREE_BUCKET_SIZE;
        }
    }
    free(b);
    h.scanned = op->scanned > UINT32_MAX ? UINT32_MAX : (uint32_t)op->scanned;
    htree_header_put(op->out.data, &h);
}

static void
tree__after(uv_work_t *w, int status)
{
    struct rop *op = w->data;
    if (status != 0 || op->rc != 0) {
        log_error("shard tree failed shard=%u: %s", op->shard,
                  status ? uv_strerror(status) : error_str(op->rc));
        rop_finish(op, op->rc == JUNO_ENOMEM ? WIRE_ST_SS_OUT_OF_RESOURCE : WIRE_ST_SS_ERROR, NULL,
                   0);
        return;
    }
    rop_finish(op, WIRE_ST_OK, op->out.data, op->out.len);
}

static void
shard_tree(struct store *s, struct conn *c, const struct wire_msg *req)
{
    struct htree_req q;
    if (req->shard_id >= s->nshards) {
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM, "shard id out of range");
        return;
    }
    if (htree_req_decode(req->value.ptr, req->value.len, &q) != 0) {
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM,
                         "malformed ShardTree request (docs/protocol.md)");
        return;
    }
    struct rop *op = rop_create(s, c, req);
    if (op == NULL) {
        conn_reply_error(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    op->q = q;
    uv_queue_work(s->loop, &op->work, tree__work, tree__after);
}

/* ---- Checkpoint ---- */

/* The files of the checkpoint, with their sizes, into arr. */
static int
ckpt__files(const char *dir, cJSON *arr, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        return JUNO_EIO;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[8192];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", e->d_name);
        cJSON_AddNumberToObject(f, "size", (double)st.st_size);
        cJSON_AddItemToArray(arr, f);
    }
    closedir(d);
    return 0;
}

/* Checkpoint, then read it back: every shard's figures, and the files. */
static void
ckpt__work(uv_work_t *w)
{
    struct rop *op = w->data;
    uint64_t t0 = uv_hrtime();
    if ((op->rc = engine_checkpoint(op->s->engine, op->dir, op->err, sizeof(op->err))) != 0) return;
    uint64_t made_ms = (uv_hrtime() - t0) / 1000000;
    struct ckpt *cp;
    struct ckpt_shard *st = malloc(CKPT_SHARDS * sizeof(*st));
    if (st == NULL) {
        op->rc = JUNO_ENOMEM;
        return;
    }
    char why[400];
    if ((op->rc = ckpt_open(op->dir, &cp, why, sizeof(why))) == 0) {
        op->rc = ckpt_stats(cp, st, why, sizeof(why));
        ckpt_close(cp);
    }
    if (op->rc != 0) {
        snprintf(op->err, sizeof(op->err), "cannot read the checkpoint back: %s", why);
        free(st);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *shards = cJSON_CreateArray(), *files = cJSON_CreateArray();
    uint64_t records = 0, bytes = 0;
    for (uint32_t i = 0; i < CKPT_SHARDS; i++) {
        if (st[i].records == 0) continue;
        char hash[17];
        snprintf(hash, sizeof(hash), "%016" PRIx64, st[i].hash);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "shard", i);
        cJSON_AddNumberToObject(x, "records", (double)st[i].records);
        cJSON_AddNumberToObject(x, "tombstones", (double)st[i].tombstones);
        cJSON_AddNumberToObject(x, "bytes", (double)st[i].bytes);
        cJSON_AddStringToObject(x, "hash", hash);
        cJSON_AddItemToArray(shards, x);
        records += st[i].records;
        bytes += st[i].bytes;
    }
    op->scanned = records;
    free(st);
    op->rc = ckpt__files(op->dir, files, op->err, sizeof(op->err));
    cJSON_AddStringToObject(o, "dir", op->dir);
    cJSON_AddNumberToObject(o, "records", (double)records);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddNumberToObject(o, "checkpoint_ms", (double)made_ms);
    cJSON_AddNumberToObject(o, "ms", (double)((uv_hrtime() - t0) / 1000000));
    cJSON_AddItemToObject(o, "files", files);
    cJSON_AddItemToObject(o, "shards", shards);
    char *json = op->rc == 0 ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (op->rc == 0 && json == NULL) op->rc = JUNO_ENOMEM;
    if (json != NULL && buf_reserve(&op->out, strlen(json)) == 0) {
        memcpy(op->out.data, json, strlen(json));
        op->out.len = strlen(json);
    } else if (op->rc == 0) {
        op->rc = JUNO_ENOMEM;
    }
    free(json);
}

static void
ckpt__after(uv_work_t *w, int status)
{
    struct rop *op = w->data;
    if (status != 0 || op->rc != 0) {
        const char *why = status ? uv_strerror(status) : op->err[0] ? op->err : error_str(op->rc);
        log_error("checkpoint failed dir=%s reason=\"%s\"", op->dir, why);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", why);
        char *json = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        rop_finish(op, op->rc == JUNO_ENOMEM ? WIRE_ST_SS_OUT_OF_RESOURCE : WIRE_ST_SS_ERROR,
                   (const uint8_t *)json, json ? strlen(json) : 0);
        free(json);
        return;
    }
    log_info("checkpoint made dir=%s records=%" PRIu64 " ms=%llu", op->dir, op->scanned,
             (unsigned long long)((uv_hrtime() - op->t0) / 1000000));
    rop_finish(op, WIRE_ST_OK, op->out.data, op->out.len);
}

static void
checkpoint(struct store *s, struct conn *c, const struct wire_msg *req)
{
    cJSON *o = cJSON_ParseWithLength((const char *)req->value.ptr, req->value.len);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dir");
    const char *why = NULL;
    struct stat st;
    if (s->cfg.memory)
        why = "a --memory store keeps nothing on disk to checkpoint";
    else if (!cJSON_IsString(d) || d->valuestring[0] != '/' || strlen(d->valuestring) >= 4000)
        why = "expected {\"dir\":\"/ABSOLUTE/PATH\"}";
    else if (stat(d->valuestring, &st) == 0)
        why = "the checkpoint directory exists already";
    if (why != NULL) {
        cJSON_Delete(o);
        conn_reply_error(c, req, s->cfg.memory ? WIRE_ST_NOT_SUPPORTED : WIRE_ST_BAD_PARAM, why);
        return;
    }
    struct rop *op = rop_create(s, c, req);
    if (op == NULL) {
        cJSON_Delete(o);
        conn_reply_error(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    snprintf(op->dir, sizeof(op->dir), "%s", d->valuestring);
    cJSON_Delete(o);
    log_info("checkpoint requested dir=%s", op->dir);
    uv_queue_work(s->loop, &op->work, ckpt__work, ckpt__after);
}

/* ---- dispatch ---- */

void
repair_ops_dispatch(struct store *s, struct conn *c, const struct wire_msg *req)
{
    switch (req->opcode) {
    case WIRE_OP_SHARD_TREE: shard_tree(s, c, req); break;
    case WIRE_OP_CHECKPOINT: checkpoint(s, c, req); break;
    case WIRE_OP_REJOINED: {
        rejoin_done(s);
        static const char ok[] = "{\"rejoining\":false}";
        conn_reply_value(c, req->opaque, req->opcode, req->shard_id, WIRE_ST_OK,
                         (const uint8_t *)ok, sizeof(ok) - 1);
        break;
    }
    default: conn_reply_error(c, req, WIRE_ST_NOT_SUPPORTED, "unknown opcode");
    }
}
