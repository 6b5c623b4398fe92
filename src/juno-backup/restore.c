/* restore.c: juno-backup restore DIR: a backup into a new cluster.
 *
 *   backup shard b ──► its owner's checkpoint in every zone (the manifest's
 *   "owned"), read side by side in key order ──► per key the newest copy
 *   (last-modified, then version); tombstones and expired records dropped
 *   ──► its shard in the new map (xxhash64(key) mod S: the new cluster may
 *   have another shard count, and any number of stores) ──► a Clone with
 *   the whole record (version, creation and expiration time, last-modified,
 *   originator and last request id) to the key's owner in every zone,
 *   pipelined, flagged bulk (the stores apply them behind other writes and
 *   make them durable before their next ShardInfo)
 *
 * Then every shard of the new cluster is compared (ShardInfo) with the
 * live records and the hash of what was sent. A Clone keeps the newer copy,
 * so a restore that was interrupted is run again with --force.
 */
#include "jbak.h"

#include "calls.h"
#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "hash.h"
#include "htree.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_BYTES (32u << 20) /* records copied for one batch of Clones */

struct expect {
    uint64_t live, hash;
    uint64_t min_exp; /* the earliest expiration among them, unix ms (0: none expire) */
};

struct rst {
    struct jbak *b;
    const struct map *to; /* the new cluster's map */
    struct expect *exp;   /* owned: per shard of the new map */
    struct call *calls;   /* owned: a batch */
    size_t ncalls, cap;
    uint8_t *arena; /* owned */
    size_t used;
    uint64_t records, bytes, sent;
    int code;
};

/* Send the batch and check every answer. */
static void
flush(struct rst *r)
{
    calls_run(r->calls, r->ncalls, r->b->timeout_ms);
    for (size_t i = 0; i < r->ncalls; i++) {
        const struct call *c = &r->calls[i];
        if (c->rc == 0 && c->status == WIRE_ST_OK) continue;
        if (r->code == 0) cli_error("unable to restore into %s: %s", c->addr, calls_why(c));
        int code = c->rc                                     ? EX_UNAVAILABLE
                   : c->status == WIRE_ST_SS_OUT_OF_RESOURCE ? EX_TEMPFAIL
                                                             : EX_DATAERR;
        if (r->code == 0) r->code = code;
    }
    r->sent += r->ncalls;
    calls_clear(r->calls, r->ncalls);
    r->ncalls = 0;
    r->used = 0;
}

/* Queue the record (k, v) of the backup to its owners in the new map. */
static void
send_record(struct rst *r, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    uint16_t oshard;
    const uint8_t *ns, *key, *data;
    size_t nslen, klen, dlen;
    struct record_meta m;
    if (record_key_decode(k, kl, &oshard, &ns, &nslen, &key, &klen) != 0 ||
        record_value_decode(v, vl, &m, &data, &dlen) != 0)
        return; /* not a record (juno-store writes none) */
    if (m.tombstone || record_expired(&m, record_now_ms())) return;
    if (r->used + kl + vl > ARENA_BYTES || r->ncalls + r->to->nzones > r->cap) flush(r);
    uint8_t *copy = r->arena + r->used; /* the calls borrow the bytes until the flush */
    memcpy(copy, k, kl);
    memcpy(copy + kl, v, vl);
    r->used += kl + vl;
    struct wire_msg msg; /* the record as a Clone, its bytes borrowed from the copy */
    record_clone_msg(copy, kl, copy + kl, vl, &msg);
    uint32_t shard = hash_shard(key, klen, r->to->shards);
    msg.shard_id = (uint16_t)shard;
    msg.flags = WIRE_FLAG_BULK;
    uint8_t nk[3 + 256 + 65536];
    int nkl = record_key_encode((uint16_t)shard, ns, nslen, key, klen, nk);
    struct expect *e = &r->exp[shard];
    e->live++;
    e->hash += htree_digest(htree_key_hash(nk, (size_t)nkl), copy + kl, vl);
    if (m.expiration_ms && (e->min_exp == 0 || m.expiration_ms < e->min_exp))
        e->min_exp = m.expiration_ms;
    for (uint32_t z = 0; z < r->to->nzones; z++) {
        struct call *c = &r->calls[r->ncalls++];
        memset(c, 0, sizeof(*c));
        c->addr = map_owner(r->to, z, shard)->addr;
        c->req = msg;
    }
    r->records++;
    r->bytes += kl + vl;
}

/* One backup shard: its copies merged by key, the newest of each sent. */
static int
restore_shard(struct rst *r, struct ckpt **ck, const size_t *src, size_t nsrc, uint32_t shard)
{
    struct ckpt_iter *it[64];
    const uint8_t *k[64], *v[64];
    size_t kl[64], vl[64];
    int live[64];
    char err[600];
    for (size_t i = 0; i < nsrc; i++) {
        if ((it[i] = ckpt_iter_create(ck[src[i]], (uint16_t)shard)) == NULL)
            cli_die(EX_SOFTWARE, "out of memory");
        live[i] = ckpt_iter_next(it[i], &k[i], &kl[i], &v[i], &vl[i]);
    }
    for (;;) {
        int lo = -1; /* the smallest key among the copies */
        for (size_t i = 0; i < nsrc; i++) {
            if (!live[i]) continue;
            if (lo < 0) {
                lo = (int)i;
                continue;
            }
            size_t n = kl[i] < kl[lo] ? kl[i] : kl[lo];
            int c = memcmp(k[i], k[lo], n);
            if (c < 0 || (c == 0 && kl[i] < kl[lo])) lo = (int)i;
        }
        if (lo < 0) break;
        int best = lo;
        struct record_meta bm, m;
        const uint8_t *d;
        size_t dl;
        int bok = record_value_decode(v[lo], vl[lo], &bm, &d, &dl) == 0;
        for (size_t i = 0; i < nsrc; i++) { /* the same key elsewhere: keep the newest */
            if (!live[i] || (int)i == lo || kl[i] != kl[lo] || memcmp(k[i], k[lo], kl[lo]) != 0)
                continue;
            if (record_value_decode(v[i], vl[i], &m, &d, &dl) == 0 &&
                (!bok || record_cmp(&m, &bm) > 0)) {
                best = (int)i;
                bm = m;
                bok = 1;
            }
        }
        send_record(r, k[best], kl[best], v[best], vl[best]);
        size_t key_len = kl[lo];
        uint8_t key[3 + 256 + 65536];
        memcpy(key, k[lo], key_len);
        for (size_t i = 0; i < nsrc; i++) /* past this key in every copy */
            if (live[i] && kl[i] == key_len && memcmp(k[i], key, key_len) == 0)
                live[i] = ckpt_iter_next(it[i], &k[i], &kl[i], &v[i], &vl[i]);
    }
    int rc = 0;
    for (size_t i = 0; i < nsrc; i++) {
        if (ckpt_iter_status(it[i], err, sizeof(err)) != 0) {
            cli_error("unable to read shard %u of the backup: %s", shard, err);
            rc = EX_IOERR;
        }
        ckpt_iter_destroy(it[i]);
    }
    return rc;
}

/* ShardInfo of every shard of the new map on every owner: records (live and
 * tombstones) into *held, or the comparison with what was sent. */
static int
check_target(struct rst *r, int compare, uint64_t *held)
{
    const struct map *to = r->to;
    size_t n = (size_t)to->shards * to->nzones, bad = 0, expiring = 0;
    struct call *c = calloc(n, sizeof(*c));
    if (c == NULL) cli_die(EX_SOFTWARE, "out of memory");
    for (uint32_t s = 0; s < to->shards; s++)
        for (uint32_t z = 0; z < to->nzones; z++) {
            struct call *x = &c[(size_t)s * to->nzones + z];
            x->addr = map_owner(to, z, s)->addr;
            x->req.opcode = WIRE_OP_SHARD_INFO;
            x->req.shard_id = (uint16_t)s;
        }
    calls_run(c, n, r->b->timeout_ms);
    uint64_t now = record_now_ms();
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = (uint32_t)(i / to->nzones);
        cJSON *o = c[i].rc == 0 && c[i].status == WIRE_ST_OK
                       ? cJSON_ParseWithLength((const char *)c[i].value, c[i].vlen)
                       : NULL;
        const cJSON *live = cJSON_GetObjectItemCaseSensitive(o, "live");
        const cJSON *tomb = cJSON_GetObjectItemCaseSensitive(o, "tombstones");
        const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "hash");
        if (!cJSON_IsNumber(live) || !cJSON_IsNumber(tomb) || !cJSON_IsString(hash)) {
            cli_error("unable to read shard %u of the new cluster from %s: %s", s, c[i].addr,
                      calls_why(&c[i]));
            code = c[i].rc ? EX_UNAVAILABLE : EX_PROTOCOL;
            cJSON_Delete(o);
            continue;
        }
        *held += (uint64_t)(live->valuedouble + tomb->valuedouble);
        const struct expect *e = &r->exp[s];
        uint64_t h = strtoull(hash->valuestring, NULL, 16);
        if (compare && ((uint64_t)live->valuedouble != e->live || h != e->hash)) {
            if (e->min_exp != 0 && e->min_exp <= now + 5000) {
                expiring++; /* records expired in between: not comparable */
            } else {
                if (bad++ < 10)
                    cli_error("unable to verify shard %u on %s: %.0f live records, hash %s; %llu "
                              "were sent, hash %016llx",
                              s, c[i].addr, live->valuedouble, hash->valuestring,
                              (unsigned long long)e->live, (unsigned long long)e->hash);
            }
        }
        cJSON_Delete(o);
    }
    calls_clear(c, n);
    free(c);
    if (compare)
        jbak_event(r->b, bad ? "mismatch" : "verified",
                   "\"shards\":%u,\"zones\":%u,\"mismatched\":%zu,\"expiring\":%zu", to->shards,
                   to->nzones, bad, expiring);
    if (code == 0 && bad) code = r->b->force ? 0 : EX_DATAERR;
    return code;
}

int
restore_run(struct jbak *b)
{
    struct bmanifest m;
    int code = backup_load(b, &m);
    if (code != 0) return code;
    for (size_t i = 0; i < m.nstores; i++)
        if (backup_check_files(b, &m.stores[i]) != 0) {
            bmanifest_deinit(&m);
            return EX_DATAERR;
        }
    char err[1200];
    struct map *to;
    int rc = livemap_map(&b->lm, &to, err, sizeof(err));
    if (rc != 0) {
        cli_error("unable to read the new cluster's map: %s", err);
        bmanifest_deinit(&m);
        return rc == JUNO_EBADMAP ? EX_DATAERR : EX_UNAVAILABLE;
    }
    struct rst r = {.b = b, .to = to, .cap = (size_t)b->window * to->nzones};
    r.exp = calloc(to->shards, sizeof(*r.exp));
    r.calls = calloc(r.cap + to->nzones, sizeof(*r.calls));
    r.arena = malloc(ARENA_BYTES);
    struct ckpt **ck = calloc(m.nstores, sizeof(*ck));
    size_t *src = calloc(m.nstores, sizeof(*src));
    if (!r.exp || !r.calls || !r.arena || !ck || !src) cli_die(EX_SOFTWARE, "out of memory");
    uint64_t held = 0;
    if ((code = check_target(&r, 0, &held)) == 0 && held > 0 && !b->force) {
        cli_error("unable to restore: the new cluster holds %llu records; restore into an empty "
                  "cluster, or give --force (a record is written only where it is newer)",
                  (unsigned long long)held);
        code = EX_DATAERR;
    }
    for (size_t i = 0; code == 0 && i < m.nstores; i++) {
        char dir[4400];
        backup_store_path(b, &m.stores[i], dir, sizeof(dir));
        if (ckpt_open(dir, &ck[i], err, sizeof(err)) != 0) {
            cli_error("unable to open checkpoint %s: %s", dir, err);
            code = EX_IOERR;
        }
    }
    uint64_t t0 = report_now_ms();
    char q[8200];
    report_json_str(q, sizeof(q), (const uint8_t *)b->dir, strlen(b->dir));
    if (code == 0)
        jbak_event(b, "start",
                   "\"dir\":%s,\"from_shards\":%u,\"from_stores\":%zu,\"to_shards\":%u,"
                   "\"to_zones\":%u,\"map_version\":%llu",
                   q, m.shards, m.nstores, to->shards, to->nzones, (unsigned long long)to->version);
    for (uint32_t s = 0; code == 0 && s < m.shards; s++) {
        size_t nsrc = 0; /* the stores that owned s at the backup: one per zone */
        for (size_t i = 0; i < m.nstores && nsrc < 64; i++) {
            const struct bm_store *st = &m.stores[i];
            for (size_t x = 0; x < st->nowned; x++)
                if (st->owned[x] == s) src[nsrc++] = i;
        }
        if (nsrc == 0) {
            cli_error("unable to restore shard %u: no store of the backup owned it", s);
            code = EX_DATAERR;
            break;
        }
        code = restore_shard(&r, ck, src, nsrc, s);
        if (code == 0) code = r.code;
        jbak_progress(b, "restore", s + 1, m.shards, r.records, r.bytes, t0, 0);
    }
    if (code == 0) flush(&r);
    if (code == 0) code = r.code;
    if (code == 0) jbak_progress(b, "restore", m.shards, m.shards, r.records, r.bytes, t0, 1);
    double secs = (report_now_ms() - t0) / 1000.0;
    if (code == 0) code = check_target(&r, 1, &held);
    if (code == 0)
        jbak_event(b, "restored",
                   "\"records\":%llu,\"bytes\":%llu,\"clones\":%llu,\"seconds\":%.3f,"
                   "\"verify_seconds\":%.3f",
                   (unsigned long long)r.records, (unsigned long long)r.bytes,
                   (unsigned long long)r.sent, secs, (report_now_ms() - t0) / 1000.0 - secs);
    for (size_t i = 0; i < m.nstores; i++) ckpt_close(ck[i]);
    free(ck), free(src), free(r.exp), free(r.calls), free(r.arena);
    map_destroy(to);
    bmanifest_deinit(&m);
    return code;
}
