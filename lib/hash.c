/* hash.c: key -> shard (see hash.h). */
#include "hash.h"

#include <xxhash.h>

uint64_t
hash_key(const void *key, size_t len)
{
    return XXH64(key, len, HASH_KEY_SEED);
}

uint32_t
hash_shard(const void *key, size_t len, uint32_t nshards)
{
    return (uint32_t)(hash_key(key, len) % nshards);
}
