/* test_wire_expiry.c: juno's ExpirationMs meta field (tag 16, u64 unix ms)
 * and the seconds JunoDB is shown (lib/wire.h: wire_meta_set_expiration,
 * wire_meta_expiration, wire_ms_to_s). */
#include "unit.h"

#include "error.h"
#include "wire.h"

#include <stdlib.h>

/* A Get request for ns "n", key "k" with meta m, encoded into buf. */
static int
encode_get(const struct wire_meta *m, uint8_t *buf, size_t cap)
{
    struct wire_msg q;
    memset(&q, 0, sizeof(q));
    q.type_flag = WIRE_TF_REQUEST;
    q.opcode = WIRE_OP_GET;
    q.opaque = 7;
    q.meta = *m;
    q.ns.ptr = (const uint8_t *)"n";
    q.ns.len = 1;
    q.key.ptr = (const uint8_t *)"k";
    q.key.len = 1;
    return wire_encode(&q, buf, cap);
}

UNIT_TEST(seconds_round_up)
{
    CHECK_EQ_U(wire_ms_to_s(0), 0);
    CHECK_EQ_U(wire_ms_to_s(1), 1);
    CHECK_EQ_U(wire_ms_to_s(999), 1);
    CHECK_EQ_U(wire_ms_to_s(1000), 1);
    CHECK_EQ_U(wire_ms_to_s(1001), 2);
    CHECK_EQ_U(wire_ms_to_s(1800000000001ULL), 1800000001u);
    CHECK_EQ_U(wire_ms_to_s(4294967295000ULL), UINT32_MAX);
    CHECK_EQ_U(wire_ms_to_s(4294967295001ULL), UINT32_MAX); /* capped, past 2106 */
    CHECK_EQ_U(wire_ms_to_s(UINT64_MAX), UINT32_MAX);
}

UNIT_TEST(set_and_read_back)
{
    struct wire_meta m;
    memset(&m, 0, sizeof(m));
    CHECK_EQ_U(wire_meta_expiration(&m), 0);
    wire_meta_set_u32(&m, WIRE_F_EXPIRATION_TIME, 1700000000);
    CHECK_EQ_U(wire_meta_expiration(&m), 1700000000000ULL); /* seconds only: a JunoDB peer's */
    wire_meta_set_expiration(&m, 1700000000123ULL);
    CHECK(wire_meta_has(&m, WIRE_F_EXPIRATION_MS) && wire_meta_has(&m, WIRE_F_EXPIRATION_TIME));
    CHECK_EQ_U(m.expiration_time, 1700000001u);
    CHECK_EQ_U(wire_meta_expiration(&m), 1700000000123ULL);
    wire_meta_set_expiration(&m, 0); /* never: neither field */
    CHECK(!wire_meta_has(&m, WIRE_F_EXPIRATION_MS) && !wire_meta_has(&m, WIRE_F_EXPIRATION_TIME));
    CHECK_EQ_U(wire_meta_expiration(&m), 0);
}

/* The meta component: ExpirationTime then ExpirationMs (descriptor 0x50:
 * sizeType 2, 8 bytes, tag 16), after every JunoDB field. */
UNIT_TEST(known_answer_and_roundtrip)
{
    struct wire_meta m;
    memset(&m, 0, sizeof(m));
    wire_meta_set_expiration(&m, 1800000000001ULL); /* 0x1A3185C5001 */
    uint8_t buf[256];
    int n = encode_get(&m, buf, sizeof(buf));
    CHECK(n > 0);
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x18, 0x02, 0x02, 0x24, 0x50, 0x6B, 0x49, 0xD2, 0x01, /* 1800000001 s */
        0x00, 0x00, 0x01, 0xA3, 0x18, 0x5C, 0x50, 0x01, 0x00, 0x00, 0x00, 0x00};
    CHECK_MEM(buf + 16, sizeof(want), want, sizeof(want));
    struct wire_msg d;
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
    CHECK_EQ_U(d.meta.present, 1u << WIRE_F_EXPIRATION_TIME | 1u << WIRE_F_EXPIRATION_MS);
    CHECK_EQ_U(d.meta.expiration_ms, 1800000000001ULL);
    CHECK_EQ_U(d.meta.expiration_time, 1800000001u);
    /* with the JunoDB fields: ExpirationMs comes last */
    wire_meta_set_u32(&m, WIRE_F_TTL, 5);
    wire_meta_set_u32(&m, WIRE_F_VERSION, 2);
    n = encode_get(&m, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_EQ_U(buf[16 + 5], 4);
    CHECK(buf[16 + 6] == 0x21 && buf[16 + 7] == 0x22 && buf[16 + 8] == 0x24 && buf[16 + 9] == 0x50);
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
    CHECK_EQ_U(wire_meta_expiration(&d.meta), 1800000000001ULL);
    /* cut anywhere before its end, the frame is incomplete, never an error */
    for (int cut = 0; cut < n; cut++) {
        uint32_t fl;
        CHECK_EQ_I(wire_frame(buf, (size_t)cut, 0, &fl, NULL), WIRE_AGAIN);
    }
}

/* Tag 16 with another size than 8 bytes is malformed, as any defined tag;
 * tags 12..15 (undefined) are still skipped by their size. */
UNIT_TEST(wrong_size_type_and_undefined_tags)
{
    struct wire_meta m;
    memset(&m, 0, sizeof(m));
    wire_meta_set_expiration(&m, 1800000000001ULL);
    uint8_t buf[256];
    int n = encode_get(&m, buf, sizeof(buf));
    CHECK(n > 0);
    struct wire_msg d;
    buf[16 + 7] = 0x30; /* sizeType 1 (4 bytes), tag 16 */
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_BADMSG);
    for (int tag = 12; tag <= 15; tag++) {
        buf[16 + 7] = (uint8_t)(0x40 | tag); /* an undefined tag of 8 bytes: skipped */
        CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
        CHECK_EQ_U(d.meta.present, 1u << WIRE_F_EXPIRATION_TIME);
        CHECK_EQ_U(wire_meta_expiration(&d.meta), 1800000001000ULL);
    }
    buf[16 + 7] = 0x50;
    memset(buf + 16 + 12, 0, 8); /* ExpirationMs 0: absent, as every numeric field */
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
    CHECK(!wire_meta_has(&d.meta, WIRE_F_EXPIRATION_MS));
    CHECK_EQ_U(wire_meta_expiration(&d.meta), 1800000001000ULL);
}

int
main(void)
{
    RUN(seconds_round_up);
    RUN(set_and_read_back);
    RUN(known_answer_and_roundtrip);
    RUN(wrong_size_type_and_undefined_tags);
    return unit_done();
}
