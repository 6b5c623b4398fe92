/* ckpt.h: reading a juno-store database that is not running: a checkpoint
 * made by the Checkpoint operation (juno-backup), opened read-only with
 * RocksDB in the calling process.
 *
 *   struct ckpt *c;  ckpt_open(dir, &c, err, sizeof(err));
 *   ckpt_stats(c, stats);                  per shard: records, tombstones, bytes, hash
 *   struct ckpt_iter *it = ckpt_iter_create(c, shard);
 *   while (ckpt_iter_next(it, &k, &kl, &v, &vl)) ...   storage keys in order
 *   ckpt_iter_destroy(it); ckpt_close(c);
 *
 * The figures cover every record, expired ones included: a checkpoint never
 * changes, so its figures do not either (ShardInfo, on a live store, leaves
 * expired records out). The hash is the sum of lib/htree.h's record digests.
 */
#ifndef JUNO_CKPT_H
#define JUNO_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_SHARDS 65536

struct ckpt;
struct ckpt_iter;

struct ckpt_shard {
    uint64_t records; /* every entry of the shard, tombstones included */
    uint64_t tombstones;
    uint64_t bytes; /* keys and values */
    uint64_t hash;  /* sum of htree_digest over the entries */
};

/* Open the database in dir read-only. Returns 0, JUNO_ENOMEM, or JUNO_EIO
 * with RocksDB's reason in err. */
int ckpt_open(const char *dir, struct ckpt **out, char *err, size_t errlen);
void ckpt_close(struct ckpt *c);

/* Fill stats (CKPT_SHARDS entries, zeroed first) with one pass over the
 * whole database. Returns 0 or JUNO_EIO (err set: a read failed, e.g. a
 * corrupt file). */
int ckpt_stats(struct ckpt *c, struct ckpt_shard *stats, char *err, size_t errlen);

/* An iterator over one shard's key range, or NULL (out of memory). */
struct ckpt_iter *ckpt_iter_create(struct ckpt *c, uint16_t shard);
/* Returns 1 with the entry (borrowed until the next call), 0 at the end. */
int ckpt_iter_next(struct ckpt_iter *it, const uint8_t **k, size_t *klen, const uint8_t **v,
                   size_t *vlen);
/* 0, or JUNO_EIO with the reason in err if the iteration stopped on an error. */
int ckpt_iter_status(const struct ckpt_iter *it, char *err, size_t errlen);
void ckpt_iter_destroy(struct ckpt_iter *it);

/* Add one entry to a shard's figures (as ckpt_stats does). */
void ckpt_shard_add(struct ckpt_shard *s, const uint8_t *k, size_t klen, const uint8_t *v,
                    size_t vlen);

#endif
