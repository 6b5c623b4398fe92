/* test_resp_limits.c: the RESP2 codec's protocol errors and limits: every
 * malformed multibulk, limits judged from header lines alone, and resp_skip
 * dropping a command whose value is over the limit as it arrives (with the
 * unauthenticated limits and max_data). Parsing and replies: test_resp.c. */
#include "resp_test.h"

/* ---- errors and limits -------------------------------------------------- */

UNIT_TEST(multibulk_errors)
{
    const char *ml = "Protocol error: invalid multibulk length";
    const char *bl = "Protocol error: invalid bulk length";
    const char *crlf = "Protocol error: expected '\\r\\n' after bulk data";
    ERR("*abc\r\n", NULL, ml);
    ERR("*\r\n", NULL, ml);
    ERR("*01\r\n", NULL, ml);
    ERR("*+1\r\n", NULL, ml);
    ERR("*-0\r\n", NULL, ml);
    ERR("* 1\r\n", NULL, ml);
    ERR("*1 \r\n", NULL, ml);
    ERR("*3\rX", NULL, ml);
    ERR("*9223372036854775808\r\n", NULL, ml);
    ERR("*123456789012345678901", NULL, ml); /* 21 digits, no \r yet: already hopeless */
    ERR("*65537\r\n", NULL, ml);             /* over the default 65536 arguments */
    ERR("*1\r\n$-1\r\n", NULL, bl);
    ERR("*1\r\n$abc\r\n", NULL, bl);
    ERR("*1\r\n$\r\n", NULL, bl);
    ERR("*1\r\n$01\r\n", NULL, bl);
    ERR("*1\r\n$3\rx", NULL, bl);
    ERR("*1\r\n$1114113\r\n", NULL, bl); /* RESP_DEFAULT_MAX_BULK + 1 */
    ERR("*1\r\n$99999999999999999999\r\n", NULL, bl);
    ERR("*1\r\n:1\r\n", NULL, "Protocol error: expected '$', got ':'");
    ERR("*2\r\n$1\r\na\r\n*1\r\n", NULL, "Protocol error: expected '$', got '*'");
    ERR("*1\r\n\x00", NULL, "Protocol error: expected '$', got '\\x00'");
    ERR("*1\r\n\n", NULL, "Protocol error: expected '$', got '\\x0a'");
    ERR("*1\r\n$3\r\nabcX", NULL, crlf);
    ERR("*1\r\n$3\r\nabc\rX", NULL, crlf);
    ERR("*1\r\n$3\r\nabc\n\r", NULL, crlf);
    ERR("*1\r\n$3\r\nabcd\r\n", NULL, crlf);
}

UNIT_TEST(limits_from_header_line_only)
{
    struct resp_limits lim = {.max_args = 2, .max_bulk = 4, .max_inline = 8};
    const char *ml = "Protocol error: invalid multibulk length";
    const char *bl = "Protocol error: invalid bulk length";
    struct resp_cmd c;
    resp_cmd_init(&c);
    ERR("*3\r\n", &lim, ml);
    parse_rc(S("*2\r\n"), &lim, &c, RESP_AGAIN, NULL);
    ERR("*1\r\n$5\r\n", &lim, bl);
    parse_rc(S("*1\r\n$4\r\n"), &lim, &c, RESP_AGAIN, NULL);
    parse_rc(S("*1\r\n$4\r\nabcd\r\n"), &lim, &c, RESP_OK, NULL);
    ERR("a b c\n", &lim, "Protocol error: too many arguments in inline request");
    parse_rc(S("a b\n"), &lim, &c, RESP_OK, NULL);
    /* inline: at most max_inline bytes before the \n */
    parse_rc(S("12345678"), &lim, &c, RESP_AGAIN, NULL);
    parse_rc(S("1234567\r"), &lim, &c, RESP_AGAIN, NULL);
    parse_rc(S("1234567\r\n"), &lim, &c, RESP_OK, NULL);
    parse_rc(S("12345678\n"), &lim, &c, RESP_OK, NULL);
    ERR("123456789", &lim, "Protocol error: too big inline request");
    ERR("12345678\r\n", &lim, "Protocol error: too big inline request");
    /* the default inline limit: 64 KiB */
    size_t n = RESP_DEFAULT_MAX_INLINE + 1;
    uint8_t *big = malloc(n);
    memset(big, 'a', n);
    parse_rc(big, n - 1, NULL, &c, RESP_AGAIN, NULL);
    const char *w = NULL;
    parse_rc(big, n, NULL, &c, RESP_ERROR, &w);
    CHECK_STR(w, "Protocol error: too big inline request");
    big[n - 1] = '\n';
    CHECK_EQ_U(parse_rc(big, n, NULL, &c, RESP_OK, NULL), n);
    CHECK_EQ_U(c.argc, 1);
    CHECK_EQ_U(c.argv[0].len, n - 1);
    free(big);
    /* the default argument limit is accepted from the header */
    parse_rc(S("*65536\r\n"), NULL, &c, RESP_AGAIN, NULL);
    parse_rc(S("*1\r\n$1114112\r\n"), NULL, &c, RESP_AGAIN, NULL);
    resp_cmd_deinit(&c);
}

/* Feed resp_skip the bytes of in from off, cut every `step` bytes; the
 * offset where the dropped command ends, or 0 on RESP_ERROR. */
static size_t
skip_feed(const uint8_t *in, size_t len, size_t off, size_t step, const struct resp_limits *lim,
          struct resp_cmd *c)
{
    size_t avail = off;
    for (;;) {
        avail = avail + step < len ? avail + step : len;
        size_t used = 99;
        const char *w = NULL;
        int rc = resp_skip(in + off, avail - off, lim, c, &used, &w);
        CHECK(used <= avail - off);
        off += used;
        if (rc == RESP_OK) return off;
        if (rc == RESP_ERROR) {
            CHECK(w != NULL);
            return 0;
        }
        CHECK_EQ_I(rc, RESP_AGAIN);
        if (avail == len) return 0;
    }
}

UNIT_TEST(skip_bulk_over_max_keep)
{
    struct resp_limits lim = {.max_bulk = 64, .max_keep = 4};
    static const char in[] = "*4\r\n$3\r\nSET\r\n$10\r\n0123456789\r\n$2\r\nEX\r\n$1\r\n9\r\n"
                             "*1\r\n$4\r\nPING\r\n";
    size_t len = sizeof(in) - 1, first = len - 14;
    struct resp_cmd c;
    resp_cmd_init(&c);
    for (size_t step = 1; step <= len; step++) {
        size_t used = 0;
        const char *w = NULL;
        /* judged from the header line, before the value is there */
        CHECK_EQ_I(resp_parse((const uint8_t *)in, 18, &lim, &c, &used, &w), RESP_SKIP);
        CHECK_EQ_U(used, 18);
        CHECK_EQ_U(c.skip_bytes, 12);
        CHECK_EQ_U(c.skip_args, 2);
        CHECK_EQ_U(skip_feed((const uint8_t *)in, len, used, step, &lim, &c), first);
        CHECK_EQ_U(parse_rc((const uint8_t *)in + first, len - first, &lim, &c, RESP_OK, NULL), 14);
        CHECK(ARG_IS(&c, 0, "PING"));
    }
    /* within max_keep: parsed as usual */
    parse_rc(S("*1\r\n$4\r\nabcd\r\n"), &lim, &c, RESP_OK, NULL);
    /* a bad header after the dropped value, a length over max_bulk: errors */
    static const char bad[] = "*3\r\n$5\r\nabcde\r\n+x\r\n";
    size_t used = 0;
    CHECK_EQ_I(resp_parse(S(bad), &lim, &c, &used, NULL), RESP_SKIP);
    CHECK_EQ_U(skip_feed((const uint8_t *)bad, sizeof(bad) - 1, used, 3, &lim, &c), 0);
    static const char huge[] = "*2\r\n$5\r\nabcde\r\n$65\r\n";
    CHECK_EQ_I(resp_parse(S(huge), &lim, &c, &used, NULL), RESP_SKIP);
    CHECK_EQ_U(skip_feed((const uint8_t *)huge, sizeof(huge) - 1, used, 1, &lim, &c), 0);
    ERR("*1\r\n$65\r\n", &lim, "Protocol error: invalid bulk length");
    /* an unauthenticated client's limits: Redis's own texts */
    struct resp_limits ul = {.max_args = 2, .max_bulk = 4, .unauth = 1};
    ERR("*3\r\n", &ul, "Protocol error: unauthenticated multibulk length");
    ERR("*1\r\n$5\r\n", &ul, "Protocol error: unauthenticated bulk length");
    ERR("*x\r\n", &ul, "Protocol error: invalid multibulk length");
    /* max_data: the command's bulk data past it; announced on AGAIN */
    struct resp_limits dl = {.max_bulk = 64, .max_data = 10};
    parse_rc(S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nab"), &dl, &c, RESP_AGAIN, NULL);
    CHECK_EQ_U(c.announced, 10);
    CHECK_EQ_I(resp_parse(S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$7\r\n"), &dl, &c, &used, NULL),
               RESP_SKIP);
    CHECK_EQ_U(c.skip_data, 1);
    CHECK_EQ_U(c.skip_bytes, 9);
    CHECK_EQ_I(resp_parse(S("*2\r\n$3\r\nSET\r\n$5\r\n"), &lim, &c, &used, NULL), RESP_SKIP);
    CHECK_EQ_U(c.skip_data, 0); /* over max_keep */
    resp_cmd_deinit(&c);
}

int
main(void)
{
    RUN(multibulk_errors);
    RUN(limits_from_header_line_only);
    RUN(skip_bulk_over_max_keep);
    return unit_done();
}
