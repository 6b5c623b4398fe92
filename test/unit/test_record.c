/* test_record.c: storage key and value layout (record.h). */
#include "unit.h"

#include "error.h"
#include "record.h"
#include "wire.h"

UNIT_TEST(key_layout_known_answer)
{
    uint8_t k[64];
    int n = record_key_encode(0x0102, "ns", 2, "key", 3, k);
    CHECK_EQ_I(n, 8);
    static const uint8_t want[] = {0x01, 0x02, 0x02, 'n', 's', 'k', 'e', 'y'};
    CHECK_MEM(k, (size_t)n, want, sizeof(want));
    uint16_t shard;
    const uint8_t *ns, *key;
    size_t nl, kl;
    CHECK_EQ_I(record_key_decode(k, (size_t)n, &shard, &ns, &nl, &key, &kl), 0);
    CHECK_EQ_U(shard, 0x0102);
    CHECK_MEM(ns, nl, "ns", 2);
    CHECK_MEM(key, kl, "key", 3);
}

UNIT_TEST(key_limits)
{
    uint8_t k[400];
    char ns[RECORD_MAX_NS + 1];
    memset(ns, 'n', sizeof(ns));
    CHECK_EQ_I(record_key_encode(1, ns, 0, "k", 1, k), JUNO_EINVAL);
    CHECK_EQ_I(record_key_encode(1, ns, RECORD_MAX_NS + 1, "k", 1, k), JUNO_EINVAL);
    CHECK_EQ_I(record_key_encode(1, "n", 1, "k", 0, k), 4); /* "": a RESP key */
    {
        uint16_t s0;
        const uint8_t *n0, *k0;
        size_t nl0, kl0 = 9;
        CHECK_EQ_I(record_key_decode(k, 4, &s0, &n0, &nl0, &k0, &kl0), 0);
        CHECK_EQ_U(s0, 1);
        CHECK_MEM(n0, nl0, "n", 1);
        CHECK_EQ_U(kl0, 0);
    }
    CHECK(record_key_encode(1, ns, RECORD_MAX_NS, "k", 1, k) > 0);
    uint16_t s;
    const uint8_t *a, *b;
    size_t al, bl;
    CHECK_EQ_I(record_key_decode(k, 2, &s, &a, &al, &b, &bl), JUNO_EBADDATA);
    static const uint8_t short_ns[] = {0, 1, 3, 'n', 's'};
    CHECK_EQ_I(record_key_decode(short_ns, sizeof(short_ns), &s, &a, &al, &b, &bl), JUNO_EBADDATA);
    static const uint8_t big_ns[] = {0, 1, 200, 'n', 's', 'k'};
    CHECK_EQ_I(record_key_decode(big_ns, sizeof(big_ns), &s, &a, &al, &b, &bl), JUNO_EBADDATA);
}

static int
bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    return c != 0 ? c : (al > bl) - (al < bl);
}

UNIT_TEST(shard_range_bounds_every_key_of_the_shard)
{
    uint16_t shards[] = {0, 1, 255, 256, 1023, 65534, 65535};
    for (size_t i = 0; i < sizeof(shards) / sizeof(shards[0]); i++) {
        uint8_t start[2], end[3], k[400], other[400];
        size_t el = record_shard_range(shards[i], start, end);
        char ns[RECORD_MAX_NS];
        memset(ns, 0xFF, sizeof(ns));
        uint8_t keyhi[200];
        memset(keyhi, 0xFF, sizeof(keyhi));
        int n = record_key_encode(shards[i], ns, sizeof(ns), keyhi, sizeof(keyhi), k);
        CHECK(bytes_cmp(k, (size_t)n, start, 2) >= 0);
        CHECK(bytes_cmp(k, (size_t)n, end, el) < 0);
        n = record_key_encode(shards[i], "\x00", 1, "\x00", 1, k);
        CHECK(bytes_cmp(k, (size_t)n, start, 2) >= 0);
        CHECK(bytes_cmp(k, (size_t)n, end, el) < 0);
        if (shards[i] < 65535) { /* the next shard's smallest key is outside */
            n = record_key_encode((uint16_t)(shards[i] + 1), "\x00", 1, "\x00", 1, other);
            CHECK(bytes_cmp(other, (size_t)n, end, el) >= 0);
        }
    }
}

UNIT_TEST(value_roundtrip_and_layout)
{
    struct record_meta m = {.version = 7,
                            .creation_time = 1497375598,
                            .expiration_ms = 1497377398123ULL,
                            .last_modified = 1516608721123456789ULL,
                            .tombstone = 1,
                            .value_type = 3};
    for (int i = 0; i < 16; i++) {
        m.origin_id[i] = (uint8_t)i;
        m.last_req_id[i] = (uint8_t)(0xF0 | i);
    }
    uint8_t v[RECORD_HEADER_SIZE + 5];
    record_value_encode(&m, "hello", 5, v);
    CHECK_EQ_U(v[0], RECORD_FORMAT);
    CHECK_EQ_U(v[1], RECORD_F_TOMBSTONE);
    CHECK_EQ_U(v[2], 3);
    CHECK_EQ_U(RECORD_HEADER_SIZE, 60);
    CHECK(v[4] == 0 && v[5] == 0 && v[6] == 0 && v[7] == 7);
    static const uint8_t exp_ms[8] = {0x00, 0x00, 0x01, 0x5C, 0xA2, 0xA5, 0xDD, 0x6B};
    CHECK_MEM(v + 12, 8, exp_ms, 8); /* 1497377398123 */
    CHECK(v[20] == 0x15 && v[21] == 0x0C && v[27] == 0x15);
    CHECK_EQ_U(v[28], 0);
    CHECK_EQ_U(v[44], 0xF0);
    CHECK_MEM(v + RECORD_HEADER_SIZE, 5, "hello", 5);
    struct record_meta d;
    const uint8_t *data;
    size_t dl;
    CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), 0);
    CHECK_EQ_U(d.version, 7);
    CHECK_EQ_U(d.creation_time, 1497375598);
    CHECK_EQ_U(d.expiration_ms, 1497377398123ULL);
    CHECK_EQ_U(d.last_modified, 1516608721123456789ULL);
    CHECK_EQ_U(d.tombstone, 1);
    CHECK_EQ_U(d.value_type, 3);
    CHECK_MEM(d.origin_id, 16, m.origin_id, 16);
    CHECK_MEM(d.last_req_id, 16, m.last_req_id, 16);
    CHECK_MEM(data, dl, "hello", 5);
    CHECK_EQ_I(record_value_decode(v, RECORD_HEADER_SIZE - 1, &d, &data, &dl), JUNO_EBADDATA);
    v[0] = 3;
    CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), JUNO_EBADDATA);
    v[0] = 0;
    CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), JUNO_EBADDATA);
}

/* A record juno wrote before millisecond TTLs (format 1, bytes as that
 * version's record_value_encode laid them out) decodes, and re-encodes to
 * format 2 with the same metadata and data. */
UNIT_TEST(format_1_still_decodes)
{
    /* clang-format off */
    static const uint8_t v1[RECORD_V1_HEADER_SIZE + 5] = {
        0x01, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x07, /* format, tombstone, type, version 7 */
        0x59, 0x40, 0x23, 0x6E, 0x59, 0x40, 0x2A, 0x76, /* created 1497375598, expires 1497377398 */
        0x15, 0x0C, 0x13, 0x98, 0xB5, 0xD2, 0xB7, 0x15, /* last modified 1516608721123456789 */
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, /* originator id */
        0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
        0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, /* last request id */
        0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF,
        'h', 'e', 'l', 'l', 'o'};
    /* clang-format on */
    struct record_meta d;
    const uint8_t *data;
    size_t dl;
    CHECK_EQ_I(record_value_decode(v1, sizeof(v1), &d, &data, &dl), 0);
    CHECK_EQ_U(d.version, 7);
    CHECK_EQ_U(d.creation_time, 1497375598);
    CHECK_EQ_U(d.expiration_ms, 1497377398000ULL);
    CHECK_EQ_U(d.last_modified, 1516608721123456789ULL);
    CHECK_EQ_U(d.tombstone, 1);
    CHECK_EQ_U(d.value_type, 3);
    CHECK_EQ_U(d.origin_id[15], 15);
    CHECK_EQ_U(d.last_req_id[0], 0xF0);
    CHECK_EQ_U(d.last_req_id[15], 0xFF);
    CHECK(data == v1 + RECORD_V1_HEADER_SIZE);
    CHECK_MEM(data, dl, "hello", 5);
    CHECK(record_expired(&d, 1497377398000ULL) && !record_expired(&d, 1497377397999ULL));
    uint8_t v2[RECORD_HEADER_SIZE + 5];
    record_value_encode(&d, data, dl, v2);
    CHECK_EQ_U(v2[0], RECORD_FORMAT);
    struct record_meta e;
    CHECK_EQ_I(record_value_decode(v2, sizeof(v2), &e, &data, &dl), 0);
    CHECK(e.version == d.version && e.creation_time == d.creation_time &&
          e.expiration_ms == d.expiration_ms && e.last_modified == d.last_modified &&
          e.tombstone == d.tombstone && e.value_type == d.value_type);
    CHECK_MEM(e.origin_id, 16, d.origin_id, 16);
    CHECK_MEM(e.last_req_id, 16, d.last_req_id, 16);
    CHECK_MEM(data, dl, "hello", 5);
    /* a format 1 header cut short, or format 1 bytes too short for format 2 */
    CHECK_EQ_I(record_value_decode(v1, RECORD_V1_HEADER_SIZE - 1, &d, &data, &dl), JUNO_EBADDATA);
    CHECK_EQ_I(record_value_decode(v1, RECORD_V1_HEADER_SIZE, &d, &data, &dl), 0);
    CHECK_EQ_U(dl, 0);
    CHECK_EQ_I(record_value_decode(v2, RECORD_HEADER_SIZE - 1, &d, &data, &dl), JUNO_EBADDATA);
}

/* Found by test/fuzz/fuzz_record: a header with bits the format does not
 * define (reserved byte, unknown flags) was accepted, and those bits silently
 * dropped by the next write: corruption must be refused, not half-read. */
UNIT_TEST(value_with_undefined_bits_is_refused)
{
    struct record_meta m = {.version = 1, .creation_time = 1, .last_modified = 1};
    uint8_t v[RECORD_HEADER_SIZE + 1], good[sizeof(v)];
    record_value_encode(&m, "x", 1, good);
    struct record_meta d;
    const uint8_t *data;
    size_t dl;
    CHECK_EQ_I(record_value_decode(good, sizeof(good), &d, &data, &dl), 0);
    memcpy(v, good, sizeof(v));
    v[3] = 0xF1; /* reserved */
    CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), JUNO_EBADDATA);
    for (int bit = 1; bit < 8; bit++) { /* flags other than the tombstone */
        memcpy(v, good, sizeof(v));
        v[1] = (uint8_t)(1u << bit);
        CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), JUNO_EBADDATA);
        v[1] |= RECORD_F_TOMBSTONE;
        CHECK_EQ_I(record_value_decode(v, sizeof(v), &d, &data, &dl), JUNO_EBADDATA);
    }
}

UNIT_TEST(newer_and_expired)
{
    struct record_meta a = {.version = 1, .last_modified = 100}, b = a;
    CHECK_EQ_I(record_cmp(&a, &b), 0);
    b.version = 2;
    CHECK(record_cmp(&b, &a) > 0);
    a.last_modified = 101;
    CHECK(record_cmp(&a, &b) > 0);
    CHECK(!record_expired(&a, 1u << 31));
    a.expiration_ms = 50100; /* ms */
    CHECK(!record_expired(&a, 50099));
    CHECK(record_expired(&a, 50100));
}

UNIT_TEST(clone_msg_carries_the_record)
{
    struct record_meta m = {.version = 4,
                            .creation_time = 1700000000,
                            .expiration_ms = 1800000000001ULL,
                            .last_modified = 1700000000123456789ULL,
                            .value_type = 2};
    memset(m.origin_id, 0x11, 16);
    memset(m.last_req_id, 0x22, 16);
    uint8_t k[64], v[RECORD_HEADER_SIZE + 3];
    int kl = record_key_encode(513, "ns", 2, "key", 3, k);
    record_value_encode(&m, "abc", 3, v);
    struct wire_msg q;
    CHECK_EQ_I(record_clone_msg(k, (size_t)kl, v, sizeof(v), &q), 0);
    CHECK_EQ_U(q.opcode, WIRE_OP_CLONE);
    CHECK_EQ_U(q.type_flag, WIRE_TF_REQUEST);
    CHECK_EQ_U(q.shard_id, 513);
    CHECK_EQ_U(q.flags, 0);
    CHECK_EQ_U(q.value_type, 2);
    CHECK_MEM(q.ns.ptr, q.ns.len, "ns", 2);
    CHECK_MEM(q.key.ptr, q.key.len, "key", 3);
    CHECK_MEM(q.value.ptr, q.value.len, "abc", 3);
    CHECK(q.value.ptr == v + RECORD_HEADER_SIZE); /* borrowed */
    CHECK_EQ_U(q.meta.version, 4);
    CHECK_EQ_U(q.meta.creation_time, 1700000000);
    CHECK_EQ_U(q.meta.expiration_ms, 1800000000001ULL);
    CHECK_EQ_U(q.meta.expiration_time, 1800000001); /* rounded up for JunoDB */
    CHECK_EQ_U(wire_meta_expiration(&q.meta), 1800000000001ULL);
    CHECK_EQ_U(q.meta.last_modified, 1700000000123456789ULL);
    CHECK_MEM(q.meta.originator_id, 16, m.origin_id, 16);
    CHECK_MEM(q.meta.request_id, 16, m.last_req_id, 16);
    m.tombstone = 1;
    record_value_encode(&m, "", 0, v);
    CHECK_EQ_I(record_clone_msg(k, (size_t)kl, v, RECORD_HEADER_SIZE, &q), 0);
    CHECK_EQ_U(q.flags, WIRE_FLAG_MARK_DELETE);
    CHECK_EQ_I(record_clone_msg(k, (size_t)kl, v, 10, &q), JUNO_EBADDATA);        /* not a value */
    CHECK_EQ_I(record_clone_msg(k, 2, v, RECORD_HEADER_SIZE, &q), JUNO_EBADDATA); /* nor a key */
}

int
main(void)
{
    RUN(key_layout_known_answer);
    RUN(key_limits);
    RUN(shard_range_bounds_every_key_of_the_shard);
    RUN(value_roundtrip_and_layout);
    RUN(format_1_still_decodes);
    RUN(value_with_undefined_bits_is_refused);
    RUN(newer_and_expired);
    RUN(clone_msg_carries_the_record);
    return unit_done();
}
