/* test_batchline.c: the `juno batch` line format (batchline.h): escapes both
 * ways, lines parsed with a mode's commands, every refusal with its reason. */
#include "unit.h"

#include "batchline.h"

enum { GET, PUT, UPDATE, DEL };

static const struct batchline_cmd cmds[] = {
    {"get", GET, 2}, {"put", PUT, 3}, {"set", PUT, 3}, {"update", UPDATE, 4}, {"del", DEL, 2},
};
static const struct batchline_syntax syn = {cmds, sizeof(cmds) / sizeof(cmds[0]),
                                            "unknown command (get, put, update or del)"};

/* Parse text (copied: the parser writes into its line). */
static int
parse(const char *text, size_t len, struct batchline *out, const char **why, char *buf)
{
    memcpy(buf, text, len);
    buf[len] = '\0';
    *why = NULL;
    return batchline_parse(&syn, buf, len, out, why);
}

UNIT_TEST(escape_round_trip)
{
    uint8_t all[256];
    char esc[4 * 256], back[4 * 256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    size_t n = batchline_escape(all, sizeof(all), esc);
    for (size_t i = 0; i < n; i++) CHECK(esc[i] != '\t' && esc[i] != '\n' && esc[i] != '\0');
    long m = batchline_unescape(esc, n, back);
    CHECK_MEM(back, m, all, sizeof(all));
    char out[16];
    n = batchline_escape((const uint8_t *)"a\tb\n\\\x01", 6, out);
    CHECK_MEM(out, n, "a\\tb\\n\\\\\\x01", 12);
}

UNIT_TEST(unescape)
{
    char out[32];
    const char *in = "x\\t\\n\\r\\0\\\\\\x41\\xfF";
    long n = batchline_unescape(in, strlen(in), out);
    CHECK_MEM(out, n, "x\t\n\r\0\\A\xff", 8);
    CHECK_EQ_I(batchline_unescape("abc\\", 4, out), -1);
    CHECK_EQ_I(batchline_unescape("\\q", 2, out), -1);
    CHECK_EQ_I(batchline_unescape("\\x4", 3, out), -1);
    CHECK_EQ_I(batchline_unescape("\\x4g", 4, out), -1);
    CHECK_EQ_I(batchline_unescape("", 0, out), 0);
    char inplace[] = "a\\tb";
    CHECK_MEM(inplace, batchline_unescape(inplace, 4, inplace), "a\tb", 3);
}

UNIT_TEST(lines)
{
    char buf[128];
    struct batchline l;
    const char *why;
    const char *up = "update\tk\\tx\tv\\x00\t7";
    CHECK_EQ_I(parse(up, strlen(up), &l, &why, buf), 0);
    CHECK_EQ_I(l.kind, UPDATE);
    CHECK_MEM(l.key, l.klen, "k\tx", 3);
    CHECK_MEM(l.val, l.vlen, "v\0", 2);
    CHECK_EQ_U(l.version, 7);
    CHECK_EQ_I(parse("set\tk", 5, &l, &why, buf), 0);
    CHECK_EQ_I(l.kind, PUT);
    CHECK_MEM(l.val, l.vlen, "", 0);
    CHECK_EQ_U(l.version, 0);
    CHECK_EQ_I(parse("get\t", 4, &l, &why, buf), 0); /* an empty KEY is the server's to refuse */
    CHECK_EQ_U(l.klen, 0);
    CHECK_EQ_I(parse("put\tk\t", 6, &l, &why, buf), 0);
    CHECK_EQ_U(l.vlen, 0);
    CHECK_EQ_I(parse("update\tk\tv\t4294967295", 21, &l, &why, buf), 0);
    CHECK_EQ_U(l.version, 4294967295u);
}

UNIT_TEST(refusals)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "unknown command (get, put, update or del)"},
        {"GET\tk", "unknown command (get, put, update or del)"},
        {"get", "missing KEY"},
        {"get\tk\tv", "too many fields"},
        {"put\tk\tv\t1", "too many fields"},
        {"update\tk\tv\t0", "bad VERSION (1 to 4294967295)"},
        {"update\tk\tv\t4294967296", "bad VERSION (1 to 4294967295)"},
        {"update\tk\tv\t+1", "bad VERSION (1 to 4294967295)"},
        {"update\tk\tv\t", "bad VERSION (1 to 4294967295)"},
        {"update\tk\tv\t1\t", "too many fields"},
        {"update\tk\tv\tx\ty", "too many fields"},
        {"get\tk\\", "bad escape in KEY"},
        {"put\tk\t\\q", "bad escape in VALUE"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[64];
        struct batchline l;
        const char *why;
        CHECK_EQ_I(parse(bad[i].in, strlen(bad[i].in), &l, &why, buf), -1);
        CHECK(why != NULL && strcmp(why, bad[i].why) == 0);
    }
}

/* Found by test/fuzz/fuzz_batch: a raw NUL ended the line early, so what
 * followed it was dropped without a word: "update k v<NUL> 0" became an
 * unconditional update. A NUL is a byte like any other ("every other byte
 * stands for itself"); the VERSION and the command are plain text. */
UNIT_TEST(a_raw_nul_is_a_byte)
{
    char buf[64];
    struct batchline l;
    const char *why;
    CHECK_EQ_I(parse("update\tk\tv\0\t0", 13, &l, &why, buf), -1);
    CHECK(why != NULL && strcmp(why, "bad VERSION (1 to 4294967295)") == 0);
    CHECK_EQ_I(parse("update\tk\tv\t5\0", 13, &l, &why, buf), -1);
    CHECK(why != NULL && strcmp(why, "bad VERSION (1 to 4294967295)") == 0);
    CHECK_EQ_I(parse("put\tk\0x\tv\0w", 11, &l, &why, buf), 0);
    CHECK_MEM(l.key, l.klen, "k\0x", 3);
    CHECK_MEM(l.val, l.vlen, "v\0w", 3);
    CHECK_EQ_I(parse("get\0x\tk", 7, &l, &why, buf), -1);
    CHECK(why != NULL && strcmp(why, "unknown command (get, put, update or del)") == 0);
    CHECK_EQ_I(parse("get\tk\0\tv", 8, &l, &why, buf), -1);
    CHECK(why != NULL && strcmp(why, "too many fields") == 0);
}

int
main(void)
{
    RUN(escape_round_trip);
    RUN(unescape);
    RUN(lines);
    RUN(refusals);
    RUN(a_raw_nul_is_a_byte);
    return unit_done();
}
