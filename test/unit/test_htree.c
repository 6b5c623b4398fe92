/* test_htree.c: the hash tree's placement, digests and wire formats
 * (htree.h), and the flat state documents (jstate.h). */
#include "unit.h"

#include "error.h"
#include "htree.h"
#include "jstate.h"
#include "pack.h"
#include "record.h"

#include <stdlib.h>
#include <xxhash.h>

UNIT_TEST(key_hash_is_xxh64_seed_0)
{
    /* XXH64's published answers: the empty input and "a" */
    CHECK_EQ_U(htree_key_hash((const uint8_t *)"", 0), 0xEF46DB3751D8E999ull);
    CHECK_EQ_U(htree_key_hash((const uint8_t *)"a", 1), 0xD24EC4F1A98C6E5Bull);
}

UNIT_TEST(digest_ignores_the_last_request_id_only)
{
    struct record_meta m = {.version = 3, .creation_time = 10, .last_modified = 99};
    memset(m.last_req_id, 0xAA, 16);
    uint8_t a[RECORD_HEADER_SIZE + 5], b[sizeof(a)];
    record_value_encode(&m, "hello", 5, a);
    memset(m.last_req_id, 0xBB, 16); /* another repair's own request id */
    record_value_encode(&m, "hello", 5, b);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_EQ_U(htree_digest(7, a, sizeof(a)), htree_digest(7, b, sizeof(b)));
    CHECK(htree_digest(7, a, sizeof(a)) != htree_digest(8, a, sizeof(a))); /* another key */
    for (size_t i = 0; i < sizeof(a); i++) {
        if (i >= 44 && i < RECORD_HEADER_SIZE) continue; /* the last request id */
        memcpy(b, a, sizeof(a));
        b[i] ^= 1;
        CHECK(htree_digest(7, a, sizeof(a)) != htree_digest(7, b, sizeof(b)));
    }
    CHECK(htree_digest(7, a, 10) != htree_digest(7, a, 11)); /* not a record: every byte */
}

/* The digest does not depend on the record's format, and a format 1
 * record's is what it was when format 1 was current (its first 40 bytes,
 * then the data): backups made then still verify. */
UNIT_TEST(digest_is_the_same_in_both_formats)
{
    struct record_meta m = {.version = 3,
                            .creation_time = 10,
                            .last_modified = 99,
                            .expiration_ms = 1800000000000ULL,
                            .value_type = 1};
    memset(m.origin_id, 0x5A, 16);
    memset(m.last_req_id, 0xAA, 16);
    uint8_t v2[RECORD_HEADER_SIZE + 5], v1[RECORD_V1_HEADER_SIZE + 5];
    record_value_encode(&m, "hello", 5, v2);
    /* the same record in format 1: the format 2 bytes with the expiration cut to u32 seconds */
    memcpy(v1, v2, 12);
    v1[0] = RECORD_FORMAT_V1;
    pack_u32(v1 + 12, 1800000000u);
    memcpy(v1 + 16, v2 + 20, 40 + 5);
    uint64_t old = XXH64(v1 + RECORD_V1_HEADER_SIZE, 5, XXH64(v1, 40, 7));
    CHECK_EQ_U(htree_digest(7, v1, sizeof(v1)), old);
    CHECK_EQ_U(htree_digest(7, v2, sizeof(v2)), old);
    m.expiration_ms += 1; /* not whole seconds: the milliseconds count */
    record_value_encode(&m, "hello", 5, v2);
    CHECK(htree_digest(7, v2, sizeof(v2)) != old);
}

UNIT_TEST(ranges_and_children)
{
    uint64_t kh = 0xA5C3000000000001ull;
    CHECK(htree_in_range(kh, 0, 0));
    CHECK(htree_in_range(kh, 4, 0xA));
    CHECK(!htree_in_range(kh, 4, 0xB));
    CHECK(htree_in_range(kh, 8, 0xA5));
    CHECK(htree_in_range(kh, 64, kh));
    CHECK_EQ_U(htree_child(kh, 0, 4), 0xA);
    CHECK_EQ_U(htree_child(kh, 4, 4), 0x5);
    CHECK_EQ_U(htree_child(kh, 8, 8), 0xC3);
    CHECK_EQ_U(htree_child(kh, 60, 4), 0x1);
    /* every key hash falls in exactly one child, and the child's range holds it */
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t h = htree_key_hash((const uint8_t *)&i, sizeof(i));
        uint32_t c = htree_child(h, 3, 5);
        CHECK(htree_in_range(h, 8, (h >> 61) << 5 | c));
    }
}

UNIT_TEST(request_known_answer_and_checks)
{
    struct htree_req q = {.kind = HTREE_BUCKETS, .prefix_bits = 4, .split_bits = 6, .prefix = 9};
    uint8_t out[HTREE_REQ_SIZE];
    CHECK_EQ_I(htree_req_encode(&q, out), 0);
    static const uint8_t want[] = {1, 0, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    CHECK_MEM(out, sizeof(out), want, sizeof(want));
    struct htree_req d;
    CHECK_EQ_I(htree_req_decode(out, sizeof(out), &d), 0);
    CHECK_EQ_U(d.kind, q.kind);
    CHECK_EQ_U(d.prefix_bits, 4);
    CHECK_EQ_U(d.split_bits, 6);
    CHECK_EQ_U(d.prefix, 9);
    for (size_t n = 0; n < sizeof(out); n++)
        CHECK_EQ_I(htree_req_decode(out, n, &d), JUNO_EBADDATA);
    struct htree_req bad[] = {
        {.kind = HTREE_BUCKETS, .prefix_bits = 4, .split_bits = 6, .prefix = 16}, /* prefix */
        {.kind = HTREE_BUCKETS, .split_bits = 0},                                 /* no split */
        {.kind = HTREE_BUCKETS, .split_bits = 13},                                /* too wide */
        {.kind = HTREE_BUCKETS, .prefix_bits = 60, .split_bits = 5},              /* past 64 */
        {.kind = HTREE_LIST, .split_bits = 1, .limit = 1},                        /* split */
        {.kind = HTREE_LIST, .limit = 0},                                         /* no limit */
        {.kind = HTREE_LIST, .limit = HTREE_MAX_LIST + 1},
        {.kind = 2, .limit = 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_I(htree_req_encode(&bad[i], out), JUNO_EINVAL);
    struct htree_req l = {.kind = HTREE_LIST, .prefix_bits = 64, .limit = 5, .prefix = ~0ull};
    CHECK_EQ_I(htree_req_encode(&l, out), 0);
    out[0] = 2;
    CHECK_EQ_I(htree_req_decode(out, sizeof(out), &d), JUNO_EBADDATA);
}

/* A list reply with two entries. */
static size_t
make_list(uint8_t *buf)
{
    struct htree_reply h = {.kind = HTREE_LIST, .prefix_bits = 2, .prefix = 1, .count = 2};
    h.scanned = 7;
    htree_header_put(buf, &h);
    size_t off = HTREE_HEADER_SIZE;
    struct htree_entry a = {(const uint8_t *)"ns", 2, (const uint8_t *)"k1", 2, 3, 1000, 0, 42};
    struct htree_entry b = {(const uint8_t *)"n", 1, (const uint8_t *)"key", 3, 1, 5, 1, 43};
    off += htree_entry_put(buf + off, &a);
    off += htree_entry_put(buf + off, &b);
    return off;
}

UNIT_TEST(list_reply_known_answer_every_cut_and_garbage)
{
    uint8_t buf[256];
    size_t n = make_list(buf);
    CHECK_EQ_U(n, HTREE_HEADER_SIZE + 28 + 28);
    static const uint8_t first[] = {2, 'n', 's', 0, 2,    'k', '1', 0, 0, 0, 3, 0, 0, 0,
                                    0, 0,   0,   3, 0xE8, 0,   0,   0, 0, 0, 0, 0, 0, 42};
    CHECK_MEM(buf + HTREE_HEADER_SIZE, sizeof(first), first, sizeof(first));
    struct htree_reply r;
    CHECK_EQ_I(htree_reply_decode(buf, n, &r), 0);
    CHECK_EQ_U(r.count, 2);
    CHECK_EQ_U(r.scanned, 7);
    size_t off = 0;
    struct htree_entry e;
    CHECK_EQ_I(htree_entry_next(&r, &off, &e), 1);
    CHECK_MEM(e.key, e.klen, "k1", 2);
    CHECK_EQ_U(e.last_modified, 1000);
    CHECK_EQ_U(e.digest, 42);
    CHECK_EQ_I(htree_entry_next(&r, &off, &e), 1);
    CHECK_MEM(e.ns, e.nslen, "n", 1);
    CHECK_EQ_U(e.flags, HTREE_E_TOMBSTONE);
    CHECK_EQ_I(htree_entry_next(&r, &off, &e), 0);
    /* every cut, in a buffer of exactly that size: refused, never read past */
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        CHECK_EQ_I(htree_reply_decode(p, cut, &r), JUNO_EBADDATA);
        free(p);
    }
    uint8_t more[257];
    memcpy(more, buf, n);
    more[n] = 0;
    CHECK_EQ_I(htree_reply_decode(more, n + 1, &r), JUNO_EBADDATA); /* a byte left over */
    buf[HTREE_HEADER_SIZE] = 0;                                     /* an empty namespace */
    CHECK_EQ_I(htree_reply_decode(buf, n, &r), JUNO_EBADDATA);
    n = make_list(buf);
    buf[19] = 2; /* an unknown flag */
    CHECK_EQ_I(htree_reply_decode(buf, n, &r), JUNO_EBADDATA);
}

UNIT_TEST(bucket_reply_roundtrip)
{
    uint8_t buf[HTREE_HEADER_SIZE + 4 * HTREE_BUCKET_SIZE];
    struct htree_reply h = {.kind = HTREE_BUCKETS, .split_bits = 2, .count = 4};
    htree_header_put(buf, &h);
    for (uint32_t i = 0; i < 4; i++) {
        struct htree_bucket b = {i, 0x0102030405060708ull * i};
        htree_bucket_put(buf + HTREE_HEADER_SIZE + i * HTREE_BUCKET_SIZE, &b);
    }
    struct htree_reply r;
    CHECK_EQ_I(htree_reply_decode(buf, sizeof(buf), &r), 0);
    struct htree_bucket b;
    htree_bucket_get(&r, 3, &b);
    CHECK_EQ_U(b.count, 3);
    CHECK_EQ_U(b.hash, 0x0102030405060708ull * 3);
    CHECK_EQ_I(htree_reply_decode(buf, sizeof(buf) - 1, &r), JUNO_EBADDATA);
    buf[4 + 3] = 5; /* count says 5 buckets for 2 bits */
    CHECK_EQ_I(htree_reply_decode(buf, sizeof(buf), &r), JUNO_EBADDATA);
}

UNIT_TEST(jstate_reads_and_writes_flat_documents)
{
    uint64_t a = 0, b = 0, c = 77;
    struct jstate_field f[] = {{"a", 100, &a, 0}, {"b", 1, &b, 0}, {"c", 5, &c, 0}};
    const char *t = "{\"a\":42,\"b\":true,\"other\":\"x\"}";
    CHECK_EQ_I(jstate_parse(t, strlen(t), f, 3), 0);
    CHECK_EQ_U(a, 42);
    CHECK_EQ_U(b, 1);
    CHECK_EQ_U(c, 77);
    CHECK(f[0].present && f[1].present && !f[2].present);
    char out[64];
    c = 5;
    CHECK_EQ_I(jstate_format(out, sizeof(out), f, 3), 20);
    CHECK(strcmp(out, "{\"a\":42,\"b\":1,\"c\":5}") == 0);
    CHECK_EQ_I(jstate_format(out, 10, f, 3), JUNO_EMSGSIZE);
    static const char *const bad[] = {"[1]",           "{\"a\":101}",   "{\"a\":-1}", "{\"a\":1.5}",
                                      "{\"a\":\"1\"}", "{\"a\":1e300}", "{",          ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_I(jstate_parse(bad[i], strlen(bad[i]), f, 3), JUNO_EBADDATA);
}

int
main(void)
{
    RUN(key_hash_is_xxh64_seed_0);
    RUN(digest_ignores_the_last_request_id_only);
    RUN(digest_is_the_same_in_both_formats);
    RUN(ranges_and_children);
    RUN(request_known_answer_and_checks);
    RUN(list_reply_known_answer_every_cut_and_garbage);
    RUN(bucket_reply_roundtrip);
    RUN(jstate_reads_and_writes_flat_documents);
    return unit_done();
}
