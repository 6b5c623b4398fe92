/* kvcache.h: a byte-bounded LRU map of key -> value bytes, for one thread.
 *
 * juno-store keeps its recently read and written records here, in front of
 * RocksDB: a hit is one hash lookup where RocksDB searches its memtables'
 * skip lists (and SST blocks). The cache only mirrors what its owner tells it;
 * keeping it true to the database is the owner's job (see engine.c).
 *
 * Each entry carries a tag that its owner chooses (juno-store: a generation
 * of the key's shard): a get asking for another tag misses and drops the
 * entry, so bumping a generation forgets a whole group of keys at once.
 *
 * Each entry is charged sizeof(struct kvcache_entry) + key + value bytes;
 * putting past the budget evicts the least recently used entries. A budget of
 * 0 disables the cache (every get misses, puts are dropped).
 *
 *   struct kvcache c;
 *   kvcache_init(&c, 64u << 20);
 *   kvcache_put(&c, k, klen, tag, v, vlen);
 *   const uint8_t *v = kvcache_get(&c, k, klen, tag, &vlen);   // borrowed
 *   kvcache_deinit(&c);
 */
#ifndef JUNO_KVCACHE_H
#define JUNO_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

struct kvcache_entry {
    struct kvcache_entry *chain;       /* hash bucket chain */
    struct kvcache_entry *prev, *next; /* recency list: head is the most recent */
    uint64_t hash;
    uint32_t klen, vlen, tag;
    uint8_t data[]; /* the key, then the value */
};

struct kvcache {
    struct kvcache_entry **buckets; /* owned; NULL while disabled */
    size_t nbuckets;                /* power of two */
    size_t count;
    size_t bytes, cap; /* charged bytes, budget */
    struct kvcache_entry *head, *tail;
    uint64_t hits, misses, evictions;
};

/* Returns 0 or JUNO_ENOMEM. */
int kvcache_init(struct kvcache *c, size_t cap_bytes);
void kvcache_deinit(struct kvcache *c);

/* key's value (borrowed until the next put or delete), marked most recently
 * used, or NULL on a miss; an entry put with another tag is dropped and
 * misses. Counts the hit or miss. */
const uint8_t *kvcache_get(struct kvcache *c, const uint8_t *key, size_t klen, uint32_t tag,
                           size_t *vlen);

/* Set key's value to a copy of val, evicting old entries past the budget. A
 * value that would take more than an eighth of the budget is not kept (and
 * any older value of key is dropped). Returns 0, or JUNO_ENOMEM with key
 * absent from the cache. */
int kvcache_put(struct kvcache *c, const uint8_t *key, size_t klen, uint32_t tag,
                const uint8_t *val, size_t vlen);

/* Drop key, if cached. */
void kvcache_del(struct kvcache *c, const uint8_t *key, size_t klen);

#endif
