/* fuzz_record.c: libFuzzer target for juno-store's stored record layout
 * (lib/record.c): a corrupted or foreign data directory hands these decoders
 * arbitrary bytes.
 *
 * The whole input is decoded both as a stored value and as a storage key.
 * A format 2 value that decodes must re-encode to the very same bytes (the
 * layout has no field the decoder may ignore), with its data lying inside the
 * input; a format 1 value must re-encode to format 2 bytes that decode to the
 * same metadata and data, and then re-encode to themselves; a
 * key that decodes must have its parts inside the input, re-encode to the same
 * bytes and fall inside its shard's key range. record_cmp must be
 * antisymmetric between the decoded value and one decoded from the input's
 * tail. Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_record/ (values and keys as test_record.c makes
 * them).
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c != 0 ? c : (al > bl) - (al < bl);
}

static int
inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
    return p >= data && p <= data + size && len <= (size_t)(data + size - p);
}

static void
check_value(const uint8_t *data, size_t size, struct record_meta *m, int *ok)
{
    const uint8_t *d = NULL;
    size_t dl = 0;
    *ok = record_value_decode(data, size, m, &d, &dl) == 0;
    if (!*ok) return;
    size_t hs = data[0] == RECORD_FORMAT_V1 ? RECORD_V1_HEADER_SIZE : RECORD_HEADER_SIZE;
    if (data[0] != RECORD_FORMAT && data[0] != RECORD_FORMAT_V1) abort();
    if (size < hs || !inside(d, dl, data, size)) abort();
    if (dl != size - hs || d != data + hs) abort();
    size_t osize = RECORD_HEADER_SIZE + dl;
    uint8_t *out = malloc(osize);
    if (out == NULL) abort();
    record_value_encode(m, d, dl, out);
    if (hs == RECORD_HEADER_SIZE && memcmp(out, data, size) != 0) abort();
    if (hs == RECORD_V1_HEADER_SIZE) { /* format 1 becomes format 2, losing nothing */
        struct record_meta n;
        const uint8_t *nd = NULL;
        size_t ndl = 0;
        if (record_value_decode(out, osize, &n, &nd, &ndl) != 0) abort();
        if (n.version != m->version || n.creation_time != m->creation_time ||
            n.expiration_ms != m->expiration_ms || n.last_modified != m->last_modified ||
            n.tombstone != m->tombstone || n.value_type != m->value_type ||
            memcmp(n.origin_id, m->origin_id, 16) || memcmp(n.last_req_id, m->last_req_id, 16) ||
            ndl != dl || memcmp(nd, d, dl) != 0)
            abort();
        if (m->expiration_ms % 1000 != 0) abort(); /* format 1 holds whole seconds */
    }
    free(out);
    (void)record_expired(m, (uint64_t)m->creation_time * 1000);
}

static void
check_key(const uint8_t *data, size_t size)
{
    uint16_t shard;
    const uint8_t *ns, *key;
    size_t nl, kl;
    if (record_key_decode(data, size, &shard, &ns, &nl, &key, &kl) != 0) return;
    if (!inside(ns, nl, data, size) || !inside(key, kl, data, size)) abort();
    if (nl == 0 || nl > RECORD_MAX_NS) abort(); /* an empty key is a key (RESP) */
    if (record_key_size(nl, kl) != size) abort();
    uint8_t *out = malloc(size);
    if (out == NULL) abort();
    if (record_key_encode(shard, ns, nl, key, kl, out) != (int)size) abort();
    if (memcmp(out, data, size) != 0) abort();
    free(out);
    uint8_t start[2], end[3];
    size_t el = record_shard_range(shard, start, end);
    if (bytes_cmp(data, size, start, 2) < 0 || bytes_cmp(data, size, end, el) >= 0) abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct record_meta a, b;
    int ok_a, ok_b;
    check_value(data, size, &a, &ok_a);
    check_key(data, size);
    /* a second record from the tail, to compare with the first */
    size_t off = size > RECORD_V1_HEADER_SIZE ? size - RECORD_V1_HEADER_SIZE : 0;
    check_value(data + off, size - off, &b, &ok_b);
    if (ok_a && ok_b) {
        int ab = record_cmp(&a, &b), ba = record_cmp(&b, &a);
        if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0)) abort();
        if (record_cmp(&a, &a) != 0) abort();
    }
    return 0;
}
