/* ckpt.c: a juno-store database read offline (ckpt.h). */
#include "ckpt.h"

#include "error.h"
#include "htree.h"
#include "record.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ckpt {
    rocksdb_t *db;             /* owned */
    rocksdb_options_t *opts;   /* owned */
    rocksdb_readoptions_t *ro; /* owned */
};

struct ckpt_iter {
    rocksdb_iterator_t *it;    /* owned */
    rocksdb_readoptions_t *ro; /* owned: carries the upper bound */
    uint8_t end[3];
    int started;
};

int
ckpt_open(const char *dir, struct ckpt **out, char *err, size_t errlen)
{
    struct ckpt *c = calloc(1, sizeof(*c));
    if (c == NULL) return JUNO_ENOMEM;
    c->opts = rocksdb_options_create();
    c->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(c->ro, 0); /* one pass over everything */
    char *rerr = NULL;
    c->db = rocksdb_open_for_read_only(c->opts, dir, 0, &rerr);
    if (rerr != NULL) {
        snprintf(err, errlen, "%s", rerr);
        rocksdb_free(rerr);
        c->db = NULL;
        ckpt_close(c);
        return JUNO_EIO;
    }
    *out = c;
    return 0;
}

void
ckpt_close(struct ckpt *c)
{
    if (c == NULL) return;
    if (c->db) rocksdb_close(c->db);
    rocksdb_readoptions_destroy(c->ro);
    rocksdb_options_destroy(c->opts);
    free(c);
}

void
ckpt_shard_add(struct ckpt_shard *s, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    s->records++;
    s->bytes += klen + vlen;
    if (vlen > 1 && (v[0] == RECORD_FORMAT || v[0] == RECORD_FORMAT_V1) &&
        (v[1] & RECORD_F_TOMBSTONE))
        s->tombstones++;
    s->hash += htree_digest(htree_key_hash(k, klen), v, vlen);
}

static int
iter_error(rocksdb_iterator_t *it, char *err, size_t errlen)
{
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr == NULL) return 0;
    snprintf(err, errlen, "%s", rerr);
    rocksdb_free(rerr);
    return JUNO_EIO;
}

int
ckpt_stats(struct ckpt *c, struct ckpt_shard *stats, char *err, size_t errlen)
{
    memset(stats, 0, CKPT_SHARDS * sizeof(*stats));
    rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
        if (kl < 2) continue; /* not a record's key: juno-store writes none */
        ckpt_shard_add(&stats[(uint32_t)k[0] << 8 | k[1]], k, kl, v, vl);
    }
    int rc = iter_error(it, err, errlen);
    rocksdb_iter_destroy(it);
    return rc;
}

struct ckpt_iter *
ckpt_iter_create(struct ckpt *c, uint16_t shard)
{
    struct ckpt_iter *it = calloc(1, sizeof(*it));
    if (it == NULL) return NULL;
    uint8_t start[2];
    size_t elen = record_shard_range(shard, start, it->end);
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(it->ro, 0);
    rocksdb_readoptions_set_iterate_upper_bound(it->ro, (const char *)it->end, elen);
    it->it = rocksdb_create_iterator(c->db, it->ro);
    rocksdb_iter_seek(it->it, (const char *)start, 2);
    return it;
}

int
ckpt_iter_next(struct ckpt_iter *it, const uint8_t **k, size_t *klen, const uint8_t **v,
               size_t *vlen)
{
    if (it->started) rocksdb_iter_next(it->it);
    it->started = 1;
    if (!rocksdb_iter_valid(it->it)) return 0;
    *k = (const uint8_t *)rocksdb_iter_key(it->it, klen);
    *v = (const uint8_t *)rocksdb_iter_value(it->it, vlen);
    return 1;
}

int
ckpt_iter_status(const struct ckpt_iter *it, char *err, size_t errlen)
{
    return iter_error(it->it, err, errlen);
}

void
ckpt_iter_destroy(struct ckpt_iter *it)
{
    if (it == NULL) return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}
