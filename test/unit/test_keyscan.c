/* test_keyscan.c: KeyScan's request and reply codec, scan positions and
 * Redis's glob (keyscan.h). */
#include "unit.h"

#include "error.h"
#include "keyscan.h"

#include <stdlib.h>
#include <string.h>

UNIT_TEST(position_is_xxh64_high_48_bits)
{
    CHECK_EQ_U(keyscan_pos((const uint8_t *)"a", 1), 0xD24EC4F1A98C6E5Bull >> 16);
    CHECK(keyscan_pos((const uint8_t *)"a", 1) < KEYSCAN_POS_END);
}

UNIT_TEST(request_known_answer_and_checks)
{
    struct keyscan_req q = {.limit = 10, .from = 0x123456789ABCull}, d;
    uint8_t out[KEYSCAN_REQ_SIZE];
    static const uint8_t want[KEYSCAN_REQ_SIZE] = {1, 0, 0,    10,   0,    0,    0,    0,
                                                   0, 0, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC};
    CHECK_EQ_I(keyscan_req_encode(&q, out), 0);
    CHECK(memcmp(out, want, sizeof(want)) == 0);
    CHECK_EQ_I(keyscan_req_decode(out, sizeof(out), &d), 0);
    CHECK_EQ_U(d.limit, 10);
    CHECK_EQ_U(d.from, 0x123456789ABCull);
    for (size_t n = 0; n < sizeof(out); n++)
        CHECK_EQ_I(keyscan_req_decode(out, n, &d), JUNO_EBADDATA);
    q.limit = 0;
    CHECK_EQ_I(keyscan_req_encode(&q, out), JUNO_EINVAL);
    q.limit = KEYSCAN_MAX_LIMIT + 1;
    CHECK_EQ_I(keyscan_req_encode(&q, out), JUNO_EINVAL);
    q.limit = 1;
    q.from = KEYSCAN_POS_END;
    CHECK_EQ_I(keyscan_req_encode(&q, out), JUNO_EINVAL);
    for (size_t i = 0; i < 8; i++) { /* format, flags, limit 0, reserved, from too big */
        uint8_t b[KEYSCAN_REQ_SIZE];
        memcpy(b, want, sizeof(b));
        if (i == 2 || i == 3)
            b[2] = b[3] = 0;
        else if (i < 2 || i >= 4)
            b[i < 2 ? i : i] ^= 0x40;
        CHECK_EQ_I(keyscan_req_decode(b, sizeof(b), &d), JUNO_EBADDATA);
    }
    uint8_t b[KEYSCAN_REQ_SIZE];
    memcpy(b, want, sizeof(b));
    b[9] = 1; /* from = 2^48 + ... */
    CHECK_EQ_I(keyscan_req_decode(b, sizeof(b), &d), JUNO_EBADDATA);
    /* KEYSCAN_Q_TTL is the one known flag, both ways */
    q.from = 7;
    q.flags = KEYSCAN_Q_TTL;
    CHECK_EQ_I(keyscan_req_encode(&q, out), 0);
    CHECK_EQ_U(out[1], KEYSCAN_Q_TTL);
    CHECK_EQ_I(keyscan_req_decode(out, sizeof(out), &d), 0);
    CHECK_EQ_U(d.flags, KEYSCAN_Q_TTL);
    q.flags = 0x02;
    CHECK_EQ_I(keyscan_req_encode(&q, out), JUNO_EINVAL);
    out[1] = 0x02;
    CHECK_EQ_I(keyscan_req_decode(out, sizeof(out), &d), JUNO_EBADDATA);
}

UNIT_TEST(reply_roundtrip_every_cut_and_garbage)
{
    uint8_t buf[256];
    struct keyscan_reply r = {.flags = 0, .count = 2, .scanned = 7, .next = 0xABCDEF};
    keyscan_header_put(buf, &r);
    size_t len = KEYSCAN_HEADER_SIZE;
    struct keyscan_entry e1 = {
        .last_modified = 99, .version = 3, .flags = 0, .key = (const uint8_t *)"k1", .klen = 2};
    struct keyscan_entry e2 = {.last_modified = 5,
                               .version = 1,
                               .flags = KEYSCAN_E_TOMBSTONE,
                               .key = (const uint8_t *)"key-two",
                               .klen = 7};
    len += keyscan_entry_put(buf + len, &e1);
    len += keyscan_entry_put(buf + len, &e2);
    CHECK_EQ_U(len, KEYSCAN_HEADER_SIZE + 16 + 2 + 16 + 7);
    struct keyscan_reply d;
    CHECK_EQ_I(keyscan_reply_decode(buf, len, &d), 0);
    CHECK_EQ_U(d.count, 2);
    CHECK_EQ_U(d.scanned, 7);
    CHECK_EQ_U(d.next, 0xABCDEF);
    size_t off = 0;
    struct keyscan_entry e;
    CHECK(keyscan_entry_next(&d, &off, &e));
    CHECK(e.klen == 2 && memcmp(e.key, "k1", 2) == 0 && e.version == 3 && e.last_modified == 99);
    CHECK(keyscan_entry_next(&d, &off, &e));
    CHECK(e.klen == 7 && e.flags == KEYSCAN_E_TOMBSTONE);
    CHECK(!keyscan_entry_next(&d, &off, &e));
    for (size_t n = 0; n < len; n++) { /* every cut, in a buffer of exactly n bytes */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        CHECK_EQ_I(keyscan_reply_decode(p, n, &d), JUNO_EBADDATA);
        free(p);
    }
    uint8_t g[256];
    memcpy(g, buf, len);
    g[1] = 0x02; /* unknown flag */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
    memcpy(g, buf, len);
    g[KEYSCAN_HEADER_SIZE + 12] = 0x08; /* unknown entry flag */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
    memcpy(g, buf, len);
    g[KEYSCAN_HEADER_SIZE + 12] = KEYSCAN_E_TTL | KEYSCAN_E_EXPIRED; /* known ones */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), 0);
    off = 0;
    CHECK(keyscan_entry_next(&d, &off, &e) && e.flags == (KEYSCAN_E_TTL | KEYSCAN_E_EXPIRED));
    memcpy(g, buf, len);
    g[KEYSCAN_HEADER_SIZE + 13] = 1; /* reserved byte */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
    memcpy(g, buf, len);
    g[KEYSCAN_HEADER_SIZE + 15] = 0; /* key length 0 */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
    memcpy(g, buf, len);
    g[3] = 3; /* one entry more than there is */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
    memcpy(g, buf, len);
    g[8] = 1; /* next past the end */
    CHECK_EQ_I(keyscan_reply_decode(g, len, &d), JUNO_EBADDATA);
}

static int
glob(const char *p, const char *s)
{
    return keyscan_glob((const uint8_t *)p, strlen(p), (const uint8_t *)s, strlen(s));
}

UNIT_TEST(glob_is_redis_stringmatchlen)
{
    CHECK(!glob("*", "") && glob("*", "anything") &&
          glob("**", "x")); /* as Redis: KEYS * skips matching */
    CHECK(glob("h?llo", "hello") && !glob("h?llo", "hllo"));
    CHECK(glob("h*llo", "hllo") && glob("h*llo", "heeeello") && !glob("h*llo", "hellx"));
    CHECK(glob("h[ae]llo", "hallo") && !glob("h[ae]llo", "hillo"));
    CHECK(glob("h[^e]llo", "hallo") && !glob("h[^e]llo", "hello"));
    CHECK(glob("h[a-b]llo", "hbllo") && !glob("h[a-b]llo", "hcllo"));
    CHECK(glob("h[b-a]llo", "hallo")); /* a reversed range */
    CHECK(glob("\\*", "*") && !glob("\\*", "a"));
    CHECK(glob("[\\]]", "]") && glob("a\\", "a\\"));
    CHECK(glob("[abc", "c") && !glob("[abc", "d")); /* no closing bracket */
    CHECK(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxbyy"));
    CHECK(glob("*a", "bba") && !glob("*a", "ab"));
    CHECK(!glob("", "a") && glob("", "") && glob("a*", "a"));
    CHECK(keyscan_glob((const uint8_t *)"a?c", 3, (const uint8_t *)"a\0c", 3)); /* binary */
    /* an abusive pattern ends (the skip rule), with the right answer */
    char p[64], s[64];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 30; i++) p[i] = i % 2 ? 'a' : '*';
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = '\0';
    CHECK(!glob(p, s));
}

int
main(void)
{
    RUN(position_is_xxh64_high_48_bits);
    RUN(request_known_answer_and_checks);
    RUN(reply_roundtrip_every_cut_and_garbage);
    RUN(glob_is_redis_stringmatchlen);
    return unit_done();
}
