/* htree.c: the hash tree's placement, digests and wire formats (htree.h). */
#include "htree.h"

#include "error.h"
#include "pack.h"
#include "record.h"

#include <string.h>
#include <xxhash.h>

uint64_t
htree_key_hash(const uint8_t *skey, size_t klen)
{
    return XXH64(skey, klen, 0);
}

uint64_t
htree_digest(uint64_t key_hash, const uint8_t *v, size_t vlen)
{
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    if (record_value_decode(v, vlen, &m, &data, &dlen) != 0)
        return XXH64(v, vlen, key_hash); /* not a record: all of it */
    uint8_t img[40];                     /* format 1's header up to the last request id */
    uint64_t s = m.expiration_ms / 1000;
    int whole = m.expiration_ms % 1000 == 0 && s <= UINT32_MAX;
    img[0] = RECORD_FORMAT_V1;
    img[1] = m.tombstone ? RECORD_F_TOMBSTONE : 0;
    img[2] = m.value_type;
    img[3] = 0;
    pack_u32(img + 4, m.version);
    pack_u32(img + 8, m.creation_time);
    pack_u32(img + 12, whole ? (uint32_t)s : 0);
    pack_u64(img + 16, m.last_modified);
    memcpy(img + 24, m.origin_id, 16);
    uint64_t h = XXH64(img, sizeof(img), key_hash);
    if (!whole) {
        uint8_t ms[8];
        pack_u64(ms, m.expiration_ms);
        h = XXH64(ms, sizeof(ms), h);
    }
    return XXH64(data, dlen, h);
}

int
htree_in_range(uint64_t kh, unsigned prefix_bits, uint64_t prefix)
{
    if (prefix_bits == 0) return 1;
    return (kh >> (64 - prefix_bits)) == prefix;
}

uint32_t
htree_child(uint64_t kh, unsigned prefix_bits, unsigned split_bits)
{
    return (uint32_t)((kh >> (64 - prefix_bits - split_bits)) & ((1u << split_bits) - 1));
}

static int
range_ok(unsigned prefix_bits, uint64_t prefix)
{
    return prefix_bits <= 64 && (prefix_bits == 64 || prefix >> prefix_bits == 0);
}

int
htree_req_check(const struct htree_req *r)
{
    if (!range_ok(r->prefix_bits, r->prefix)) return JUNO_EINVAL;
    if (r->kind == HTREE_BUCKETS)
        return r->split_bits >= 1 && r->split_bits <= HTREE_MAX_SPLIT &&
                       r->prefix_bits + r->split_bits <= 64 && r->limit == 0
                   ? 0
                   : JUNO_EINVAL;
    if (r->kind == HTREE_LIST)
        return r->split_bits == 0 && r->limit >= 1 && r->limit <= HTREE_MAX_LIST ? 0 : JUNO_EINVAL;
    return JUNO_EINVAL;
}

int
htree_req_encode(const struct htree_req *r, uint8_t out[HTREE_REQ_SIZE])
{
    if (htree_req_check(r) != 0) return JUNO_EINVAL;
    pack_u8(out, HTREE_FORMAT);
    pack_u8(out + 1, r->kind);
    pack_u8(out + 2, r->prefix_bits);
    pack_u8(out + 3, r->split_bits);
    pack_u32(out + 4, r->limit);
    pack_u64(out + 8, r->prefix);
    return 0;
}

int
htree_req_decode(const uint8_t *p, size_t len, struct htree_req *r)
{
    if (len != HTREE_REQ_SIZE || p[0] != HTREE_FORMAT) return JUNO_EBADDATA;
    r->kind = p[1];
    r->prefix_bits = p[2];
    r->split_bits = p[3];
    r->limit = unpack_u32(p + 4);
    r->prefix = unpack_u64(p + 8);
    return htree_req_check(r) == 0 ? 0 : JUNO_EBADDATA;
}

void
htree_header_put(uint8_t *out, const struct htree_reply *h)
{
    pack_u8(out, HTREE_FORMAT);
    pack_u8(out + 1, h->kind);
    pack_u8(out + 2, h->prefix_bits);
    pack_u8(out + 3, h->split_bits);
    pack_u32(out + 4, h->count);
    pack_u64(out + 8, h->prefix);
    pack_u32(out + 16, h->flags);
    pack_u32(out + 20, h->scanned);
}

void
htree_bucket_put(uint8_t *out, const struct htree_bucket *b)
{
    pack_u32(out, b->count);
    pack_u64(out + 4, b->hash);
}

size_t
htree_entry_size(size_t nslen, size_t klen)
{
    return 24 + nslen + klen;
}

size_t
htree_entry_put(uint8_t *out, const struct htree_entry *e)
{
    uint8_t *p = out;
    pack_u8(p++, (uint8_t)e->nslen);
    memcpy(p, e->ns, e->nslen);
    p += e->nslen;
    pack_u16(p, (uint16_t)e->klen);
    memcpy(p + 2, e->key, e->klen);
    p += 2 + e->klen;
    pack_u32(p, e->version);
    pack_u64(p + 4, e->last_modified);
    pack_u8(p + 12, e->flags);
    pack_u64(p + 13, e->digest);
    return (size_t)(p + 21 - out);
}

/* Decode the entry at off (bounds checked). Returns its size, or 0 if it
 * does not fit in the body or is malformed. */
static size_t
entry_at(const struct htree_reply *r, size_t off, struct htree_entry *e)
{
    const uint8_t *p = r->body + off;
    size_t left = r->body_len - off;
    if (left < 1) return 0;
    size_t nslen = p[0];
    if (nslen == 0 || left < 1 + nslen + 2) return 0;
    size_t klen = unpack_u16(p + 1 + nslen);
    if (left < htree_entry_size(nslen, klen)) return 0;
    e->ns = p + 1;
    e->nslen = nslen;
    e->key = p + 3 + nslen;
    e->klen = klen;
    const uint8_t *q = e->key + klen;
    e->version = unpack_u32(q);
    e->last_modified = unpack_u64(q + 4);
    e->flags = q[12];
    e->digest = unpack_u64(q + 13);
    return htree_entry_size(nslen, klen);
}

int
htree_reply_decode(const uint8_t *p, size_t len, struct htree_reply *r)
{
    memset(r, 0, sizeof(*r));
    if (len < HTREE_HEADER_SIZE || p[0] != HTREE_FORMAT) return JUNO_EBADDATA;
    r->kind = p[1];
    r->prefix_bits = p[2];
    r->split_bits = p[3];
    r->count = unpack_u32(p + 4);
    r->prefix = unpack_u64(p + 8);
    r->flags = unpack_u32(p + 16);
    r->scanned = unpack_u32(p + 20);
    r->body = p + HTREE_HEADER_SIZE;
    r->body_len = len - HTREE_HEADER_SIZE;
    struct htree_req q = {.kind = r->kind,
                          .prefix_bits = r->prefix_bits,
                          .split_bits = r->split_bits,
                          .limit = r->kind == HTREE_LIST ? HTREE_MAX_LIST : 0,
                          .prefix = r->prefix};
    if (htree_req_check(&q) != 0 || (r->flags & ~(uint32_t)HTREE_R_TRUNCATED) != 0)
        return JUNO_EBADDATA;
    if (r->kind == HTREE_BUCKETS) {
        if (r->count != 1u << r->split_bits || r->body_len != (size_t)r->count * HTREE_BUCKET_SIZE)
            return JUNO_EBADDATA;
        return 0;
    }
    if (r->count > HTREE_MAX_LIST) return JUNO_EBADDATA;
    size_t off = 0;
    struct htree_entry e;
    for (uint32_t i = 0; i < r->count; i++) {
        size_t n = entry_at(r, off, &e);
        if (n == 0) return JUNO_EBADDATA;
        off += n;
    }
    return off == r->body_len ? 0 : JUNO_EBADDATA;
}

void
htree_bucket_get(const struct htree_reply *r, uint32_t i, struct htree_bucket *b)
{
    const uint8_t *p = r->body + (size_t)i * HTREE_BUCKET_SIZE;
    b->count = unpack_u32(p);
    b->hash = unpack_u64(p + 4);
}

int
htree_entry_next(const struct htree_reply *r, size_t *off, struct htree_entry *e)
{
    if (r->kind != HTREE_LIST || *off >= r->body_len) return 0;
    size_t n = entry_at(r, *off, e);
    if (n == 0) return 0;
    *off += n;
    return 1;
}
