/* test_resp.c: the RESP2 codec: reply encodings byte for byte, multibulk and
 * inline requests (binary, pipelined, quoted), every command cut at every
 * byte and fed one byte at a time, the argument helpers, and a deterministic
 * mutation loop. Protocol errors and limits: test_resp_limits.c. */
#include "resp_test.h"

/* ---- replies ------------------------------------------------------------ */

UNIT_TEST(encode_every_reply)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_simple(&b, "OK"), 0);
    CHECK_EQ_I(resp_error(&b, "unknown command 'foo'"), 0);
    CHECK_EQ_I(resp_error(&b, "-WRONGTYPE Operation against a key"), 0);
    CHECK_EQ_I(resp_integer(&b, 0), 0);
    CHECK_EQ_I(resp_integer(&b, -42), 0);
    CHECK_EQ_I(resp_integer(&b, INT64_MAX), 0);
    CHECK_EQ_I(resp_integer(&b, INT64_MIN), 0);
    CHECK_EQ_I(resp_bulk(&b, "hello", 5), 0);
    CHECK_EQ_I(resp_bulk(&b, NULL, 0), 0);
    CHECK_EQ_I(resp_bulk(&b, "a\0\r\nb", 5), 0);
    CHECK_EQ_I(resp_null(&b), 0);
    CHECK_EQ_I(resp_array_header(&b, 2), 0);
    CHECK_EQ_I(resp_array_header(&b, 0), 0);
    CHECK_EQ_I(resp_null_array(&b), 0);
    CHECK_EQ_I(resp_raw(&b, "+PONG\r\n", 7), 0);
    CHECK_EQ_I(resp_raw(&b, NULL, 0), 0);
    static const char want[] = "+OK\r\n"
                               "-ERR unknown command 'foo'\r\n"
                               "-WRONGTYPE Operation against a key\r\n"
                               ":0\r\n:-42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"
                               "$5\r\nhello\r\n$0\r\n\r\n$5\r\na\0\r\nb\r\n$-1\r\n"
                               "*2\r\n*0\r\n*-1\r\n+PONG\r\n";
    CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

UNIT_TEST(encode_numbers_of_every_width)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_integer(&b, 9), 0);
    CHECK_EQ_I(resp_integer(&b, 10), 0);
    CHECK_EQ_I(resp_integer(&b, -1000000007), 0);
    CHECK_EQ_I(resp_integer(&b, INT64_MIN + 1), 0);
    CHECK_EQ_I(resp_array_header(&b, 1234567890123u), 0);
    CHECK_EQ_I(resp_array_header(&b, SIZE_MAX), 0);
    CHECK_EQ_I(resp_map_header(&b, 12, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_map_header(&b, 12, RESP_PROTO2), 0);
    static const char want[] = ":9\r\n:10\r\n:-1000000007\r\n:-9223372036854775807\r\n"
                               "*1234567890123\r\n*18446744073709551615\r\n%12\r\n*24\r\n";
    CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
    buf_free(&b);
}

UNIT_TEST(encode_error_and_simple_strip_crlf)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_error(&b, "bad\r\nthing\n"), 0);
    CHECK_EQ_I(resp_simple(&b, "a\rb"), 0);
    CHECK_EQ_I(resp_error(&b, ""), 0);
    static const char want[] = "-ERR bad  thing \r\n+a b\r\n-ERR \r\n";
    CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
    buf_free(&b);
}

UNIT_TEST(encode_set_command_and_large_bulk)
{
    struct buf b;
    struct resp_arg argv[3] = {
        {(const uint8_t *)"SET", 3}, {(const uint8_t *)"k", 1}, {(const uint8_t *)"v", 1}};
    b = (struct buf){0};
    encode_cmd(&b, argv, 3);
    static const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    CHECK_MEM(b.data, b.len, want, sizeof(want) - 1);
    b.len = 0;
    size_t n = 100000;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)i;
    CHECK_EQ_I(resp_bulk(&b, big, n), 0);
    CHECK_EQ_U(b.len, 9 + n + 2);
    CHECK_MEM(b.data, 9, "$100000\r\n", 9);
    CHECK_MEM(b.data + 9, n, big, n);
    free(big);
    buf_free(&b);
}

/* ---- multibulk ------------------------------------------------------------ */

UNIT_TEST(parse_set_multibulk)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    CHECK_EQ_U(parse_rc(S(in), NULL, &c, RESP_OK, NULL), sizeof(in) - 1);
    CHECK_EQ_U(c.argc, 3);
    CHECK(ARG_IS(&c, 0, "SET") && ARG_IS(&c, 1, "k") && ARG_IS(&c, 2, "v"));
    /* zero copy: the words point into the input */
    CHECK(c.argv[0].ptr == (const uint8_t *)in + 8);
    CHECK(c.argv[2].ptr == (const uint8_t *)in + 24);
    resp_cmd_deinit(&c);
}

UNIT_TEST(parse_binary_bulks)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] = "*3\r\n$3\r\nSET\r\n$4\r\n\0\r\n\0\r\n$6\r\n$1\r\n*\r\r\n";
    CHECK_EQ_U(parse_rc(S(in), NULL, &c, RESP_OK, NULL), sizeof(in) - 1);
    CHECK_EQ_U(c.argc, 3);
    CHECK(ARG_IS(&c, 1, "\0\r\n\0"));
    CHECK(ARG_IS(&c, 2, "$1\r\n*\r"));
    /* empty bulk strings */
    static const char e[] = "*2\r\n$0\r\n\r\n$0\r\n\r\n";
    CHECK_EQ_U(parse_rc(S(e), NULL, &c, RESP_OK, NULL), sizeof(e) - 1);
    CHECK_EQ_U(c.argc, 2);
    CHECK(c.argv[0].len == 0 && c.argv[1].len == 0);
    resp_cmd_deinit(&c);
}

UNIT_TEST(parse_empty_arrays_consumed)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    CHECK_EQ_U(parse_rc(S("*0\r\n*1\r\n"), NULL, &c, RESP_OK, NULL), 4);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(parse_rc(S("*-1\r\n"), NULL, &c, RESP_OK, NULL), 5);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(parse_rc(S("*-7\r\n"), NULL, &c, RESP_OK, NULL), 5);
    CHECK_EQ_U(c.argc, 0);
    resp_cmd_deinit(&c);
}

UNIT_TEST(parse_pipelined)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
                             "PING\r\n"
                             "\r\n"
                             "*1\r\n$4\r\nQUIT\r\n"
                             "set x 1\n"
                             "*2\r\n$3\r\nGET";
    const uint8_t *p = (const uint8_t *)in;
    size_t len = sizeof(in) - 1, n;
    n = parse_rc(p, len, NULL, &c, RESP_OK, NULL);
    CHECK(c.argc == 2 && ARG_IS(&c, 0, "GET") && ARG_IS(&c, 1, "a"));
    p += n, len -= n;
    n = parse_rc(p, len, NULL, &c, RESP_OK, NULL);
    CHECK(c.argc == 1 && ARG_IS(&c, 0, "PING"));
    CHECK_EQ_U(n, 6);
    p += n, len -= n;
    n = parse_rc(p, len, NULL, &c, RESP_OK, NULL);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(n, 2);
    p += n, len -= n;
    n = parse_rc(p, len, NULL, &c, RESP_OK, NULL);
    CHECK(c.argc == 1 && ARG_IS(&c, 0, "QUIT"));
    p += n, len -= n;
    n = parse_rc(p, len, NULL, &c, RESP_OK, NULL);
    CHECK(c.argc == 3 && ARG_IS(&c, 0, "set") && ARG_IS(&c, 1, "x") && ARG_IS(&c, 2, "1"));
    p += n, len -= n;
    parse_rc(p, len, NULL, &c, RESP_AGAIN, NULL);
    resp_cmd_deinit(&c);
}

UNIT_TEST(parse_many_args_heap_argv)
{
    struct resp_cmd c;
    struct buf b;
    struct resp_arg argv[300];
    char words[300][8];
    resp_cmd_init(&c);
    b = (struct buf){0};
    for (size_t i = 0; i < 300; i++) {
        int n = snprintf(words[i], sizeof(words[i]), "w%zu", i);
        argv[i] = (struct resp_arg){(const uint8_t *)words[i], (size_t)n};
    }
    size_t counts[] = {16, 17, 300, 5, 200};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        b.len = 0;
        encode_cmd(&b, argv, counts[k]);
        CHECK_EQ_U(parse_rc(b.data, b.len, NULL, &c, RESP_OK, NULL), b.len);
        CHECK_EQ_U(c.argc, counts[k]);
        for (size_t i = 0; i < c.argc; i++) CHECK(arg_is(&c, i, argv[i].ptr, argv[i].len));
        CHECK((c.argc <= RESP_INLINE_ARGS) == (c.argv == c.inline_argv));
    }
    /* an inline line with 40 words */
    b.len = 0;
    for (size_t i = 0; i < 40; i++) {
        CHECK_EQ_I(resp_simple(&b, words[i]), 0); /* "+wN\r\n": reuse as text */
        b.data[b.len - 2] = ' ', b.data[b.len - 1] = ' ';
    }
    b.data[b.len - 1] = '\n';
    CHECK_EQ_U(parse_rc(b.data, b.len, NULL, &c, RESP_OK, NULL), b.len);
    CHECK_EQ_U(c.argc, 40);
    CHECK(ARG_IS(&c, 0, "+w0") && ARG_IS(&c, 39, "+w39"));
    buf_free(&b);
    resp_cmd_deinit(&c);
}

/* ---- every cut, one byte at a time --------------------------------------- */

static const char *const GOOD[] = {
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    "*1\r\n$4\r\nPING\r\n",
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
    "*0\r\n",
    "*-1\r\n",
    "*2\r\n$3\r\nGET\r\n$10\r\n\r\n\r\n$1\r\n\r\n\r\n",
    "PING\r\n",
    "PING\n",
    "\r\n",
    "\n",
    "set k \"a b\\x41\\n\\\"\" 'it\\'s'\r\n",
    "  get    key  \t\n",
};

static const uint8_t *
good(size_t i, size_t *len)
{
    *len = strlen(GOOD[i]);
    return (const uint8_t *)GOOD[i];
}

UNIT_TEST(every_prefix_is_again)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    for (size_t i = 0; i < sizeof(GOOD) / sizeof(GOOD[0]); i++) {
        size_t len;
        const uint8_t *m = good(i, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* copy so that a read past cut is caught by ASan */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, m, cut);
            size_t used = 7;
            int rc = resp_parse(p, cut, NULL, &c, &used, NULL);
            if (rc != RESP_AGAIN) printf("# GOOD[%zu] cut at %zu: %d\n", i, cut, rc);
            CHECK_EQ_I(rc, RESP_AGAIN);
            CHECK_EQ_U(used, 0);
            free(p);
        }
        uint8_t *p = malloc(len);
        memcpy(p, m, len);
        CHECK_EQ_U(parse_rc(p, len, NULL, &c, RESP_OK, NULL), len);
        free(p);
    }
    resp_cmd_deinit(&c);
}

/* All GOOD commands back to back, fed one byte at a time into a growing
 * buffer: each command comes out exactly when its last byte arrives. */
UNIT_TEST(one_byte_at_a_time)
{
    struct resp_cmd c;
    size_t total = 0, n = sizeof(GOOD) / sizeof(GOOD[0]);
    for (size_t i = 0; i < n; i++) total += strlen(GOOD[i]);
    uint8_t *stream = malloc(total);
    size_t *ends = malloc(n * sizeof(*ends)), off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(stream + off, GOOD[i], strlen(GOOD[i]));
        off += strlen(GOOD[i]);
        ends[i] = off;
    }
    resp_cmd_init(&c);
    size_t start = 0, next = 0;
    for (size_t have = start + 1; have <= total; have++) {
        uint8_t *p = malloc(have - start);
        memcpy(p, stream + start, have - start);
        size_t used = 0;
        int rc = resp_parse(p, have - start, NULL, &c, &used, NULL);
        if (have == ends[next]) {
            CHECK_EQ_I(rc, RESP_OK);
            CHECK_EQ_U(start + used, ends[next]);
            /* the words are those the command alone gives */
            struct resp_cmd alone;
            size_t len, u2;
            const uint8_t *m = good(next, &len);
            resp_cmd_init(&alone);
            CHECK_EQ_I(resp_parse(m, len, NULL, &alone, &u2, NULL), RESP_OK);
            CHECK_EQ_U(alone.argc, c.argc);
            for (size_t k = 0; k < c.argc && k < alone.argc; k++)
                CHECK(arg_is(&c, k, alone.argv[k].ptr, alone.argv[k].len));
            resp_cmd_deinit(&alone);
            start = ends[next++];
        } else {
            CHECK_EQ_I(rc, RESP_AGAIN);
        }
        free(p);
    }
    CHECK_EQ_U(next, n);
    free(stream);
    free(ends);
    resp_cmd_deinit(&c);
}

/* ---- inline ------------------------------------------------------------- */

UNIT_TEST(inline_plain_is_zero_copy)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] = "  SET  key\tvalue  \r\n";
    CHECK_EQ_U(parse_rc(S(in), NULL, &c, RESP_OK, NULL), sizeof(in) - 1);
    CHECK(c.argc == 3 && ARG_IS(&c, 0, "SET") && ARG_IS(&c, 1, "key") && ARG_IS(&c, 2, "value"));
    CHECK(c.argv[0].ptr == (const uint8_t *)in + 2);
    /* \v and \f separate words between them but not inside an unquoted word */
    CHECK_EQ_U(parse_rc(S("\va\vb \fc\n"), NULL, &c, RESP_OK, NULL), 8);
    CHECK(c.argc == 2 && ARG_IS(&c, 0, "a\vb") && ARG_IS(&c, 1, "c"));
    /* a \r inside the line ends a word */
    CHECK_EQ_U(parse_rc(S("a\rb\r\n"), NULL, &c, RESP_OK, NULL), 5);
    CHECK(c.argc == 2 && ARG_IS(&c, 0, "a") && ARG_IS(&c, 1, "b"));
    /* a NUL ends the line's content, as in Redis */
    CHECK_EQ_U(parse_rc(S("get a\0b \"\n"), NULL, &c, RESP_OK, NULL), 10);
    CHECK(c.argc == 2 && ARG_IS(&c, 1, "a"));
    resp_cmd_deinit(&c);
}

UNIT_TEST(inline_empty_lines)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    CHECK_EQ_U(parse_rc(S("\n"), NULL, &c, RESP_OK, NULL), 1);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(parse_rc(S("\r\nPING\r\n"), NULL, &c, RESP_OK, NULL), 2);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(parse_rc(S("  \t \r\n"), NULL, &c, RESP_OK, NULL), 6);
    CHECK_EQ_U(c.argc, 0);
    CHECK_EQ_U(parse_rc(S("\0junk\n"), NULL, &c, RESP_OK, NULL), 6);
    CHECK_EQ_U(c.argc, 0);
    resp_cmd_deinit(&c);
}

UNIT_TEST(inline_quotes_and_escapes)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] =
        "set \"a b\" \"\\x41\\x7a\\xZZ\\n\\r\\t\\b\\a\\\"\\\\\\q\" 'x \"y\\' \\n' "
        "\"\" '' k\"q q\"\r\n";
    CHECK_EQ_U(parse_rc(S(in), NULL, &c, RESP_OK, NULL), sizeof(in) - 1);
    CHECK_EQ_U(c.argc, 7);
    CHECK(ARG_IS(&c, 0, "set"));
    CHECK(ARG_IS(&c, 1, "a b"));
    CHECK(ARG_IS(&c, 2, "AzxZZ\n\r\t\b\a\"\\q")); /* \xZZ is not hex: \x is x */
    CHECK(ARG_IS(&c, 3, "x \"y' \\n"));           /* only \' in single quotes */
    CHECK(ARG_IS(&c, 4, ""));
    CHECK(ARG_IS(&c, 5, ""));
    CHECK(ARG_IS(&c, 6, "kq q")); /* a quote may open inside a word */
    /* the words live in the scratch buffer */
    CHECK(c.argv[1].ptr >= c.scratch && c.argv[1].ptr < c.scratch + c.scratch_cap);
    /* binary bytes through \x, including NUL */
    CHECK_EQ_U(parse_rc(S("\"\\x00\\xff\"\n"), NULL, &c, RESP_OK, NULL), 11);
    CHECK(c.argc == 1 && ARG_IS(&c, 0, "\0\xff"));
    /* a quoted word followed by \v (a space to isspace) */
    CHECK_EQ_U(parse_rc(S("'a'\vb\n"), NULL, &c, RESP_OK, NULL), 6);
    CHECK(c.argc == 2 && ARG_IS(&c, 0, "a") && ARG_IS(&c, 1, "b"));
    resp_cmd_deinit(&c);
}

UNIT_TEST(inline_unbalanced_quotes)
{
    const char *q = "Protocol error: unbalanced quotes in request";
    ERR("set \"abc\r\n", NULL, q);
    ERR("set 'abc\n", NULL, q);
    ERR("set \"a\"b\n", NULL, q); /* closing quote not followed by a space */
    ERR("set 'a'b\n", NULL, q);
    ERR("set \"a\\\"\n", NULL, q); /* the escaped quote does not close */
    ERR("set \"a\\\n", NULL, q);   /* a backslash at the end */
    ERR("\"\n", NULL, q);
    ERR("'\0'\n", NULL, q); /* the NUL ends the line inside the quotes */
}

/* ---- argument helpers -------------------------------------------------- */

UNIT_TEST(arg_eq_and_i64)
{
    struct resp_cmd c;
    resp_cmd_init(&c);
    static const char in[] = "SeT ex EXX 0 -1 123 9223372036854775807 -9223372036854775808 "
                             "9223372036854775808 -9223372036854775809 01 -0 +1 1a \"\" - "
                             "99999999999999999999 \" 1\"\n";
    parse_rc(S(in), NULL, &c, RESP_OK, NULL);
    CHECK_EQ_U(c.argc, 18);
    CHECK(resp_arg_eq(&c, 0, "set") && resp_arg_eq(&c, 0, "SET") && !resp_arg_eq(&c, 0, "se"));
    CHECK(resp_arg_eq(&c, 1, "EX") && !resp_arg_eq(&c, 2, "EX") && !resp_arg_eq(&c, 99, "EX"));
    int64_t v = 77;
    CHECK(resp_arg_i64(&c, 3, &v) == 0 && v == 0);
    CHECK(resp_arg_i64(&c, 4, &v) == 0 && v == -1);
    CHECK(resp_arg_i64(&c, 5, &v) == 0 && v == 123);
    CHECK(resp_arg_i64(&c, 6, &v) == 0 && v == INT64_MAX);
    CHECK(resp_arg_i64(&c, 7, &v) == 0 && v == INT64_MIN);
    CHECK_EQ_I(resp_arg_i64(&c, 8, &v), JUNO_ERANGE);
    CHECK_EQ_I(resp_arg_i64(&c, 9, &v), JUNO_ERANGE);
    for (size_t i = 10; i < 18; i++) {
        int rc = resp_arg_i64(&c, i, &v);
        CHECK(rc == JUNO_EINVAL || (i == 16 && rc == JUNO_ERANGE));
    }
    CHECK_EQ_I(resp_arg_i64(&c, 18, &v), JUNO_EINVAL);
    CHECK_EQ_I(v, INT64_MIN); /* untouched by failures */
    resp_cmd_deinit(&c);
}

/* ---- mutations ---------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Parse the whole buffer command after command; every OK re-encodes as
 * multibulk and parses back to the same words. Returns the commands seen. */
static size_t
check_stream(const uint8_t *buf, size_t len, struct resp_cmd *c, struct resp_cmd *c2, struct buf *b)
{
    size_t off = 0, cmds = 0;
    for (;;) {
        size_t used = 0;
        const char *why = NULL;
        int rc = resp_parse(buf + off, len - off, NULL, c, &used, &why);
        if (rc == RESP_ERROR) {
            if (why == NULL) CHECK(why != NULL);
            return cmds;
        }
        if (rc == RESP_AGAIN) return cmds;
        if (rc != RESP_OK || used == 0 || used > len - off) {
            CHECK(rc == RESP_OK && used > 0 && used <= len - off);
            return cmds;
        }
        off += used;
        cmds++;
        b->len = 0;
        encode_cmd(b, c->argv, c->argc);
        size_t u2 = 0;
        int ok = resp_parse(b->data, b->len, NULL, c2, &u2, NULL) == RESP_OK && u2 == b->len &&
                 c2->argc == c->argc;
        for (size_t i = 0; ok && i < c->argc; i++)
            ok = arg_is(c2, i, c->argv[i].ptr, c->argv[i].len);
        if (!ok) {
            CHECK(ok);
            return cmds;
        }
    }
}

UNIT_TEST(mutation_loop_100k)
{
    static const char *const extra = "*$\r\n-0123456789 \"'\\x";
    struct resp_cmd c, c2;
    struct buf b;
    resp_cmd_init(&c);
    resp_cmd_init(&c2);
    b = (struct buf){0};
    size_t n = sizeof(GOOD) / sizeof(GOOD[0]), oks = 0;
    uint8_t buf[512];
    for (int iter = 0; iter < 100000; iter++) {
        /* two or three GOOD commands back to back, then 1..4 mutations */
        size_t len = 0, parts = 2 + rng() % 2;
        for (size_t k = 0; k < parts; k++) {
            size_t l;
            const uint8_t *m = good(rng() % n, &l);
            memcpy(buf + len, m, l);
            len += l;
        }
        for (int k = 1 + (int)(rng() % 4); k > 0 && len > 0; k--) {
            size_t at = rng() % len;
            uint8_t byte = rng() % 2 ? (uint8_t)extra[rng() % strlen(extra)] : (uint8_t)rng();
            switch (rng() % 4) {
            case 0: buf[at] = byte; break;
            case 1: /* insert */
                if (len < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = byte;
                    len++;
                }
                break;
            case 2: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: len = at; break; /* truncate */
            }
        }
        uint8_t *p = malloc(len ? len : 1); /* exact size: ASan catches over-reads */
        memcpy(p, buf, len);
        oks += check_stream(p, len, &c, &c2, &b);
        free(p);
    }
    CHECK(oks > 10000);
    printf("# %zu commands parsed from 100000 mutated streams\n", oks);
    buf_free(&b);
    resp_cmd_deinit(&c);
    resp_cmd_deinit(&c2);
}

int
main(void)
{
    RUN(encode_every_reply);
    RUN(encode_numbers_of_every_width);
    RUN(encode_error_and_simple_strip_crlf);
    RUN(encode_set_command_and_large_bulk);
    RUN(parse_set_multibulk);
    RUN(parse_binary_bulks);
    RUN(parse_empty_arrays_consumed);
    RUN(parse_pipelined);
    RUN(parse_many_args_heap_argv);
    RUN(every_prefix_is_again);
    RUN(one_byte_at_a_time);
    RUN(inline_plain_is_zero_copy);
    RUN(inline_empty_lines);
    RUN(inline_quotes_and_escapes);
    RUN(inline_unbalanced_quotes);
    RUN(arg_eq_and_i64);
    RUN(mutation_loop_100k);
    return unit_done();
}
