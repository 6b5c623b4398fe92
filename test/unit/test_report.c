/* test_report.c: the cluster tools' progress and event helpers (report.h)
 * and the log's timestamp. */
#include "unit.h"

#include "log.h"
#include "report.h"

UNIT_TEST(bytes_in_words)
{
    char b[32];
    report_bytes(0, b, sizeof(b));
    CHECK_STR(b, "0 kB");
    report_bytes(812 * 1024, b, sizeof(b));
    CHECK_STR(b, "812 kB");
    report_bytes(1258291, b, sizeof(b));
    CHECK_STR(b, "1.2 MB");
    report_bytes(48u << 20, b, sizeof(b));
    CHECK_STR(b, "48 MB");
}

UNIT_TEST(bar_fills_by_twentieths)
{
    char bar[REPORT_BAR_WIDTH + 1];
    report_bar(bar, 0, 10);
    CHECK_STR(bar, "--------------------");
    report_bar(bar, 512, 1024);
    CHECK_STR(bar, "##########----------");
    report_bar(bar, 10, 10);
    CHECK_STR(bar, "####################");
    report_bar(bar, 0, 0); /* nothing to do: done */
    CHECK_STR(bar, "####################");
    report_bar(bar, 1ull << 58, 1ull << 59); /* large counts */
    CHECK_STR(bar, "##########----------");
}

UNIT_TEST(plain_turns_members_into_key_values)
{
    char out[128];
    report_plain("\"shard\":3,\"store\":\"127.0.0.1:9001\",\"why\":\"a, b: {c}\"", out,
                 sizeof(out));
    CHECK_STR(out, "shard=3 store=127.0.0.1:9001 why=a, b: {c}");
    report_plain("\"replicas\":[{\"state\":\"live\"},{\"state\":\"absent\"}]", out, sizeof(out));
    CHECK_STR(out, "replicas=state=live state=absent");
    report_plain("\"k\":\"0123456789\"", out, 6); /* cut, terminated */
    CHECK_STR(out, "k=012");
    report_plain("", out, sizeof(out));
    CHECK_STR(out, "");
}

UNIT_TEST(json_str_escapes_and_cuts)
{
    char out[64];
    report_json_str(out, sizeof(out), (const uint8_t *)"a\"b\\c\n\x7f\xff", 8);
    CHECK_STR(out, "\"a\\\"b\\\\c\\u000a\\u007f\\u00ff\"");
    report_json_str(out, sizeof(out), (const uint8_t *)"", 0);
    CHECK_STR(out, "\"\"");
    char small[12];
    report_json_str(small, sizeof(small), (const uint8_t *)"abcdefghijkl", 12);
    CHECK(small[0] == '"' && small[strlen(small) - 1] == '"' && strlen(small) < sizeof(small));
}

UNIT_TEST(clocks_and_timestamp)
{
    uint64_t a = report_now_ms(), b = report_now_ms();
    CHECK(b >= a);
    CHECK(report_wall_ms() > 1700000000000ull); /* after 2023 */
    char ts[64];
    log_timestamp(ts, sizeof(ts));
    CHECK_EQ_U(strlen(ts), 24); /* 2026-11-24T10:00:00.123Z */
    CHECK(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
}

int
main(void)
{
    RUN(bytes_in_words);
    RUN(bar_fills_by_twentieths);
    RUN(plain_turns_members_into_key_values);
    RUN(json_str_escapes_and_cuts);
    RUN(clocks_and_timestamp);
    return unit_done();
}
