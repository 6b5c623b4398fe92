/* test_base.c: pack/unpack, error codes, key hashing and number parsing. */
#include "unit.h"

#include "cli.h"
#include "error.h"
#include "hash.h"
#include "net.h"
#include "pack.h"

UNIT_TEST(pack_roundtrip_big_endian)
{
    uint8_t b[8];
    pack_u16(b, 0x1234);
    CHECK(b[0] == 0x12 && b[1] == 0x34);
    CHECK_EQ_U(unpack_u16(b), 0x1234);
    pack_u32(b, 0xDEADBEEF);
    CHECK(b[0] == 0xDE && b[1] == 0xAD && b[2] == 0xBE && b[3] == 0xEF);
    CHECK_EQ_U(unpack_u32(b), 0xDEADBEEF);
    pack_u64(b, 0x0102030405060708ULL);
    for (int i = 0; i < 8; i++) CHECK_EQ_U(b[i], i + 1);
    CHECK_EQ_U(unpack_u64(b), 0x0102030405060708ULL);
}

UNIT_TEST(error_names_and_messages)
{
    CHECK_STR(error_name(JUNO_EINVAL), "EINVAL");
    CHECK_STR(error_str(JUNO_EINVAL), "invalid argument");
    CHECK_STR(error_name(JUNO_EBADMAP), "EBADMAP");
    CHECK_STR(error_name(0), "OK");
    CHECK_STR(error_name(-99999), "UNKNOWN");
    CHECK_EQ_I(error_from_errno(ENOENT), JUNO_ENOENT);
    CHECK_EQ_I(error_from_errno(0), 0);
}

/* Known answers: XXH64 with seed 0, computed independently (python3 xxhash /
 * the reference xxhsum -H1). */
UNIT_TEST(hash_known_answers)
{
    CHECK_EQ_U(hash_key("", 0), 0xEF46DB3751D8E999ULL);
    CHECK_EQ_U(hash_key("a", 1), 0xD24EC4F1A98C6E5BULL);
    CHECK_EQ_U(hash_key("abc", 3), 0x44BC2CF5AD770999ULL);
    CHECK_EQ_U(hash_shard("abc", 3, 1024), 0x44BC2CF5AD770999ULL % 1024);
    CHECK_EQ_U(hash_shard("abc", 3, 1), 0);
}

UNIT_TEST(hash_spreads_keys)
{
    /* 64k keys over 1024 shards: every shard used, none wildly overloaded. */
    static unsigned count[1024];
    char key[32];
    for (int i = 0; i < 65536; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        count[hash_shard(key, (size_t)n, 1024)]++;
    }
    unsigned min = ~0u, max = 0;
    for (int i = 0; i < 1024; i++) {
        if (count[i] < min) min = count[i];
        if (count[i] > max) max = count[i];
    }
    CHECK(min > 20);
    CHECK(max < 110);
}

UNIT_TEST(parse_numbers_and_addresses)
{
    uint64_t v;
    CHECK_EQ_I(cli_parse_u64("1024", 1, 65536, &v), 0);
    CHECK_EQ_U(v, 1024);
    CHECK_EQ_I(cli_parse_u64("0", 1, 65536, &v), JUNO_ERANGE);
    CHECK_EQ_I(cli_parse_u64("65537", 1, 65536, &v), JUNO_ERANGE);
    CHECK_EQ_I(cli_parse_u64("12x", 0, 100, &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_u64("-1", 0, 100, &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_u64("", 0, 100, &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), JUNO_ERANGE);
    CHECK_EQ_I(cli_parse_size("4096", &v), 0);
    CHECK_EQ_U(v, 4096);
    CHECK_EQ_I(cli_parse_size("8M", &v), 0);
    CHECK_EQ_U(v, 8u << 20);
    CHECK_EQ_I(cli_parse_size("2GiB", &v), 0);
    CHECK_EQ_U(v, 2ull << 30);
    CHECK_EQ_I(cli_parse_size("3kb", &v), 0);
    CHECK_EQ_U(v, 3072);
    CHECK_EQ_I(cli_parse_size("1T", &v), 0);
    CHECK_EQ_U(v, 1ull << 40);
    CHECK_EQ_I(cli_parse_size("0", &v), 0);
    CHECK_EQ_U(v, 0);
    CHECK_EQ_I(cli_parse_size("", &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_size("M", &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_size("5%", &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_size("5MX", &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_size("-5M", &v), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_size("16777216T", &v), JUNO_ERANGE);
    CHECK_EQ_I(cli_parse_size("123456789012345678901234567890", &v), JUNO_ERANGE);
    char host[64];
    uint16_t port;
    CHECK_EQ_I(cli_parse_hostport("127.0.0.1:9001", host, sizeof(host), &port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ_U(port, 9001);
    CHECK_EQ_I(cli_parse_hostport("[::1]:80", host, sizeof(host), &port), 0);
    CHECK_STR(host, "::1");
    CHECK_EQ_I(cli_parse_hostport("127.0.0.1", host, sizeof(host), &port), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_hostport("h:0", host, sizeof(host), &port), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_hostport(":80", host, sizeof(host), &port), JUNO_EINVAL);
    CHECK_EQ_I(cli_parse_hostport("h:70000", host, sizeof(host), &port), JUNO_EINVAL);
}

/* Protected mode's test: loopback only when every address the name gives is. */
UNIT_TEST(loopback_addresses_and_protected_mode)
{
    CHECK(net_is_loopback("127.0.0.1"));
    CHECK(net_is_loopback("127.1.2.3"));
    CHECK(net_is_loopback("::1"));
    CHECK(net_is_loopback("::ffff:127.0.0.1"));
    CHECK(!net_is_loopback("0.0.0.0"));
    CHECK(!net_is_loopback("::"));
    CHECK(!net_is_loopback("10.0.0.5"));
    CHECK(!net_is_loopback("128.0.0.1"));
    CHECK(!net_is_loopback("::ffff:10.0.0.5"));
    CHECK(!net_is_loopback("not an address"));
    char err[300];
    CHECK_EQ_I(net_protected_mode("127.0.0.1", 9, "x", 0, 0, "y", err, sizeof(err)), 0);
    CHECK_EQ_I(net_protected_mode("10.0.0.5", 9, "x", 1, 0, "y", err, sizeof(err)), 0);
    CHECK_EQ_I(net_protected_mode("10.0.0.5", 9, "x", 0, 1, "y", err, sizeof(err)), 0);
    CHECK_EQ_I(net_protected_mode("10.0.0.5", 9, "the port", 0, 0, "--tls-cert", err, sizeof(err)),
               JUNO_EPERM);
    CHECK(strstr(err, "the port on 10.0.0.5:9") != NULL && strstr(err, "--tls-cert") != NULL);
}

int
main(void)
{
    RUN(pack_roundtrip_big_endian);
    RUN(error_names_and_messages);
    RUN(hash_known_answers);
    RUN(hash_spreads_keys);
    RUN(parse_numbers_and_addresses);
    RUN(loopback_addresses_and_protected_mode);
    return unit_done();
}
