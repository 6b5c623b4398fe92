/* htree.h: the hash tree juno-repair compares replicas with, and the record
 * digest every shard hash is made of.
 *
 * A shard's records are placed in a binary tree by the 64-bit hash of their
 * storage key (htree_key_hash): a range is the records whose key hash starts
 * with the prefix_bits bits of prefix. The store answers a ShardTree request
 * (docs/protocol.md) for one range in one of two ways:
 *
 *   buckets  the range split into 2^split_bits children, for each the count
 *            of its records and the sum (mod 2^64) of their digests: the
 *            range's whole hash is the sum of its children's, and the root's
 *            is ShardInfo's "hash";
 *   list     every record of the range: namespace, key, version,
 *            last-modified, tombstone flag and digest (no value).
 *
 * juno-repair descends only into children whose count or hash differ
 * between replicas, and lists a range once it holds few records.
 *
 * A record's digest covers its storage key and its stored value except the
 * last request id: that id is each copy's own idempotency bookkeeping (a
 * read repair or a juno-repair stamps its own), so two replicas holding the
 * same record give the same digest. It is taken over the record's metadata
 * laid out as format 1 (record.h: bytes 0-39, format byte 1, the expiration
 * in seconds), then the expiration's u64 milliseconds when whole seconds do
 * not hold it exactly, then the data: a record gives the same digest in
 * either format, and the digest of a format 1 record is what it was before
 * format 2 (backups made then still verify).
 *
 * Wire formats (all integers big-endian, lib/pack.h):
 *
 *   request (16 bytes)       0 u8 format (1)   1 u8 kind (0 buckets, 1 list)
 *                            2 u8 prefix_bits  3 u8 split_bits (list: 0)
 *                            4 u32 limit (list: most entries; buckets: 0)
 *                            8 u64 prefix
 *   reply header (24 bytes)  0 u8 format  1 u8 kind  2 u8 prefix_bits
 *                            3 u8 split_bits  4 u32 count (buckets or entries)
 *                            8 u64 prefix  16 u32 flags (bit 0: truncated)
 *                            20 u32 records scanned by the store
 *   bucket (12 bytes)        u32 count, u64 hash
 *   entry (24 + ns + key)    u8 nslen (>= 1), ns, u16 keylen (>= 1), key,
 *                            u32 version, u64 last_modified, u8 flags
 *                            (bit 0: tombstone), u64 digest
 */
#ifndef JUNO_HTREE_H
#define JUNO_HTREE_H

#include <stddef.h>
#include <stdint.h>

#define HTREE_FORMAT      1
#define HTREE_REQ_SIZE    16
#define HTREE_HEADER_SIZE 24
#define HTREE_BUCKET_SIZE 12
#define HTREE_MAX_SPLIT   12 /* 4096 buckets, 48 KiB, per request */
#define HTREE_MAX_LIST    65536
#define HTREE_E_TOMBSTONE 0x01
#define HTREE_R_TRUNCATED 0x01

enum htree_kind { HTREE_BUCKETS = 0, HTREE_LIST = 1 };

struct htree_req {
    uint8_t kind;
    uint8_t prefix_bits; /* 0..64 */
    uint8_t split_bits;  /* buckets: 1..HTREE_MAX_SPLIT, prefix_bits + split_bits <= 64 */
    uint32_t limit;      /* list: 1..HTREE_MAX_LIST */
    uint64_t prefix;     /* < 2^prefix_bits */
};

struct htree_reply {
    uint8_t kind, prefix_bits, split_bits;
    uint32_t count; /* buckets: 2^split_bits; list: entries */
    uint64_t prefix;
    uint32_t flags;
    uint32_t scanned;
    const uint8_t *body; /* borrowed: the buckets or entries */
    size_t body_len;
};

struct htree_bucket {
    uint32_t count;
    uint64_t hash;
};

struct htree_entry {
    const uint8_t *ns; /* borrowed */
    size_t nslen;
    const uint8_t *key; /* borrowed */
    size_t klen;
    uint32_t version;
    uint64_t last_modified;
    uint8_t flags;
    uint64_t digest;
};

/* The hash that places a record: XXH64 of its storage key, seed 0. */
uint64_t htree_key_hash(const uint8_t *skey, size_t klen);

/* A record's digest from its key hash and its stored value (see above). */
uint64_t htree_digest(uint64_t key_hash, const uint8_t *v, size_t vlen);

/* Whether key hash kh lies in the range (prefix_bits, prefix). */
int htree_in_range(uint64_t kh, unsigned prefix_bits, uint64_t prefix);

/* The child of range prefix_bits that kh falls in, split split_bits ways
 * (prefix_bits + split_bits <= 64, split_bits >= 1). */
uint32_t htree_child(uint64_t kh, unsigned prefix_bits, unsigned split_bits);

/* Check a request's fields. Returns 0 or JUNO_EINVAL. */
int htree_req_check(const struct htree_req *r);

/* Encode r into out (HTREE_REQ_SIZE bytes). Returns 0 or JUNO_EINVAL. */
int htree_req_encode(const struct htree_req *r, uint8_t out[HTREE_REQ_SIZE]);

/* Decode a request of len bytes. Returns 0 or JUNO_EBADDATA (wrong size,
 * unknown format or kind, fields out of range). */
int htree_req_decode(const uint8_t *p, size_t len, struct htree_req *r);

/* Write a reply header (HTREE_HEADER_SIZE bytes) for h (body ignored). */
void htree_header_put(uint8_t *out, const struct htree_reply *h);

/* Write one bucket (HTREE_BUCKET_SIZE bytes). */
void htree_bucket_put(uint8_t *out, const struct htree_bucket *b);

/* The encoded size of an entry, and writing it (htree_entry_size bytes;
 * nslen 1..255, klen 1..65535, not checked here). */
size_t htree_entry_size(size_t nslen, size_t klen);
size_t htree_entry_put(uint8_t *out, const struct htree_entry *e);

/* Decode a whole reply value of len bytes into *r (body borrowed from p),
 * checking every field and, for a list, every entry's bounds. Returns 0 or
 * JUNO_EBADDATA. Never reads past len. */
int htree_reply_decode(const uint8_t *p, size_t len, struct htree_reply *r);

/* Bucket i (< r->count) of a decoded buckets reply. */
void htree_bucket_get(const struct htree_reply *r, uint32_t i, struct htree_bucket *b);

/* The next entry of a decoded list reply, from *off (start at 0). Returns 1
 * with *e filled (borrowed from the reply) and *off advanced, 0 at the end. */
int htree_entry_next(const struct htree_reply *r, size_t *off, struct htree_entry *e);

#endif
