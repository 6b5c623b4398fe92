/* hash.h: key -> shard.
 *
 * shard = XXH64(key bytes, seed 0) mod S. Only the key's bytes are hashed: not
 * the namespace, no length prefix, no terminator. S is fixed when a cluster is
 * created (default 1024, at most 65536 so that a shard id fits in 2 bytes).
 */
#ifndef JUNO_HASH_H
#define JUNO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_KEY_SEED       0
#define HASH_MAX_SHARDS     65536
#define HASH_DEFAULT_SHARDS 1024

/* XXH64 of the key's bytes with HASH_KEY_SEED. */
uint64_t hash_key(const void *key, size_t len);

/* The shard of key among nshards (1..HASH_MAX_SHARDS). */
uint32_t hash_shard(const void *key, size_t len, uint32_t nshards);

#endif
