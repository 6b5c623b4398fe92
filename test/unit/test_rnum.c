/* test_rnum.c: Redis's number rules: string2ll and string2ld's verdicts on
 * good, malformed and out-of-range texts, ld2string's human form (the
 * strings INCRBYFLOAT stores, as Redis's own tests expect them), and
 * INCRBY's overflow rule at both ends. */
#include "unit.h"

#include "error.h"
#include "rnum.h"

#include <float.h>
#include <math.h>

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static int
ll(const char *s, int64_t *v)
{
    return rnum_parse_ll((const uint8_t *)s, strlen(s), v);
}

static int
ld(const char *s, long double *v)
{
    return rnum_parse_ld((const uint8_t *)s, strlen(s), v);
}

/* The human form of v. */
static const char *
fmt(long double v)
{
    static char out[RNUM_LD_CHARS];
    return rnum_format_ld(out, sizeof(out), v) > 0 ? out : "(no room)";
}

UNIT_TEST(parse_ll_good)
{
    int64_t v = 99;
    CHECK(ll("0", &v) == 0 && v == 0);
    CHECK(ll("1", &v) == 0 && v == 1);
    CHECK(ll("-1", &v) == 0 && v == -1);
    CHECK(ll("1234567890", &v) == 0 && v == 1234567890);
    /* 18 digits (the fast path's longest) and 19 (the checked one) */
    CHECK(ll("999999999999999999", &v) == 0 && v == 999999999999999999LL);
    CHECK(ll("-999999999999999999", &v) == 0 && v == -999999999999999999LL);
    CHECK(ll("1000000000000000000", &v) == 0 && v == 1000000000000000000LL);
    CHECK(ll("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(ll("-9223372036854775808", &v) == 0 && v == INT64_MIN);
}

UNIT_TEST(parse_ll_bad)
{
    int64_t v = 7;
    const char *bad[] = {"",    "-",    "-0",  "+1",  " 1",
                         "1 ",  "01",   "00",  "1a",  "1.0",
                         "1e3", "0x10", "--1", "\t1", "123456789012345678901" /* 21 bytes */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = ll(bad[i], &v);
        if (rc != JUNO_EINVAL) printf("# \"%s\": %d\n", bad[i], rc);
        CHECK_EQ_I(rc, JUNO_EINVAL);
    }
    CHECK_EQ_I(rnum_parse_ll(S("1\0002"), &v), JUNO_EINVAL);
    CHECK_EQ_I(ll("12a", &v), JUNO_EINVAL);
    CHECK_EQ_I(ll("12/", &v), JUNO_EINVAL); /* '/' and ':' border the digits */
    CHECK_EQ_I(ll("12:", &v), JUNO_EINVAL);
    CHECK_EQ_I(v, 7); /* untouched on failure */
}

UNIT_TEST(parse_ll_range)
{
    int64_t v = 7;
    CHECK_EQ_I(ll("9223372036854775808", &v), JUNO_ERANGE);
    CHECK_EQ_I(ll("-9223372036854775809", &v), JUNO_ERANGE);
    CHECK_EQ_I(ll("18446744073709551615", &v), JUNO_ERANGE);
    CHECK_EQ_I(ll("99999999999999999999", &v), JUNO_ERANGE);
    CHECK_EQ_I(ll("-99999999999999999999", &v), JUNO_EINVAL); /* 21 bytes */
    CHECK_EQ_I(v, 7);
}

UNIT_TEST(parse_ld_good)
{
    long double v = 0;
    CHECK(ld("1.5", &v) == 0 && v == 1.5L);
    CHECK(ld("10", &v) == 0 && v == 10);
    CHECK(ld("-3", &v) == 0 && v == -3);
    CHECK(ld("5.0e3", &v) == 0 && v == 5000);
    CHECK(ld("0x1p3", &v) == 0 && v == 8);
    CHECK(ld(".5", &v) == 0 && v == 0.5L);
    CHECK(ld("+7", &v) == 0 && v == 7);
    CHECK(ld("inf", &v) == 0 && isinf(v) && v > 0);
    CHECK(ld("-infinity", &v) == 0 && isinf(v) && v < 0);
    CHECK(ld("1e-4940", &v) == 0 && v > 0); /* a subnormal: ERANGE, but not 0 */
}

UNIT_TEST(parse_ld_bad)
{
    long double v = 42;
    const char *bad[] = {"",     " 1",  "\t1",    "\n1",     "1 ",      "abc", "1.5x", "nan",
                         "-nan", "NaN", "1e5000", "-1e5000", "1e-5000", "--1", "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = ld(bad[i], &v);
        if (rc != JUNO_EINVAL) printf("# \"%s\": %d\n", bad[i], rc);
        CHECK_EQ_I(rc, JUNO_EINVAL);
    }
    CHECK_EQ_I(rnum_parse_ld(S("1\0002"), &v), JUNO_EINVAL); /* Redis: "with null terminator" */
    CHECK_EQ_I(rnum_parse_ld(S("1\000"), &v), JUNO_EINVAL);
    CHECK(v == 42);
    static char big[RNUM_LD_CHARS + 1];
    memset(big, '0', sizeof(big) - 1); /* 0 in many digits: long, but a number */
    CHECK_EQ_I(rnum_parse_ld((const uint8_t *)big, RNUM_LD_CHARS, &v), JUNO_EINVAL);
    CHECK_EQ_I(rnum_parse_ld((const uint8_t *)big, RNUM_LD_CHARS - 1, &v), 0);
}

/* The strings Redis's unit/type/incr.tcl expects from INCRBYFLOAT. */
UNIT_TEST(format_ld)
{
    CHECK_STR(fmt(0), "0");
    CHECK_STR(fmt(-0.0L), "0");
    CHECK_STR(fmt(1), "1");
    CHECK_STR(fmt(1.25L), "1.25");
    CHECK_STR(fmt(1.5L + 1.5L), "3");
    CHECK_STR(fmt(10.5L + 0.1L), "10.6");
    CHECK_STR(fmt(17179869184.0L + 1.5L), "17179869185.5");
    CHECK_STR(fmt(17179869184.0L * 2), "34359738368");
    long double a, b;
    CHECK(ld("1", &a) == 0 && ld("-1.1", &b) == 0);
    CHECK_STR(fmt(a + b), "-0.1");
    CHECK(ld("5.0e3", &a) == 0 && ld("2.0e2", &b) == 0);
    CHECK_STR(fmt(a + b), "5200");
    CHECK_STR(fmt(-5), "-5");
    CHECK_STR(fmt(1e20L), "100000000000000000000");
    CHECK_STR(fmt(0.00000000000000001L), "0.00000000000000001");
    CHECK_STR(fmt(0.000000000000000001L), "0"); /* under 17 decimals */
    CHECK_STR(fmt(HUGE_VALL), "inf");
    CHECK_STR(fmt(-HUGE_VALL), "-inf");
    size_t n = strlen(fmt(LDBL_MAX));
    CHECK(n > 4900 && n < RNUM_LD_CHARS);
    char small[4];
    CHECK_EQ_U(rnum_format_ld(small, sizeof(small), 1234), 0);
    CHECK_EQ_U(rnum_format_ld(small, sizeof(small), 1), 0); /* "1.00000000000000000" first */
    CHECK_EQ_U(rnum_format_ld(small, sizeof(small), HUGE_VALL), 3);
    CHECK_STR(small, "inf");
    CHECK_EQ_U(rnum_format_ld(small, 4, -HUGE_VALL), 0);
}

UNIT_TEST(add_ll)
{
    int64_t s = 5;
    CHECK(rnum_add_ll(1, 2, &s) == 0 && s == 3);
    CHECK(rnum_add_ll(INT64_MAX - 1, 1, &s) == 0 && s == INT64_MAX);
    CHECK(rnum_add_ll(INT64_MIN + 1, -1, &s) == 0 && s == INT64_MIN);
    CHECK(rnum_add_ll(INT64_MAX, INT64_MIN, &s) == 0 && s == -1);
    CHECK(rnum_add_ll(-1, INT64_MIN + 1, &s) == 0 && s == INT64_MIN);
    s = 5;
    CHECK_EQ_I(rnum_add_ll(INT64_MAX, 1, &s), JUNO_ERANGE);
    CHECK_EQ_I(rnum_add_ll(1, INT64_MAX, &s), JUNO_ERANGE);
    CHECK_EQ_I(rnum_add_ll(INT64_MIN, -1, &s), JUNO_ERANGE);
    CHECK_EQ_I(rnum_add_ll(-2, INT64_MIN + 1, &s), JUNO_ERANGE);
    CHECK_EQ_I(s, 5);
}

int
main(void)
{
    RUN(parse_ll_good);
    RUN(parse_ll_bad);
    RUN(parse_ll_range);
    RUN(parse_ld_good);
    RUN(parse_ld_bad);
    RUN(format_ld);
    RUN(add_ll);
    return unit_done();
}
