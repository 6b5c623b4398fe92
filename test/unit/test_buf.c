/* test_buf.c: the growable byte buffer behind the daemons' connections. */
#include "unit.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <string.h>

UNIT_TEST(reserve_grows_by_doubling_and_keeps_the_bytes)
{
    struct buf b = {0};
    CHECK_EQ_I(buf_reserve(&b, 10), 0);
    CHECK_EQ_U(b.cap, BUF_MIN_CAP);
    memcpy(b.data, "0123456789", 10);
    b.len = 10;
    CHECK_EQ_I(buf_reserve(&b, BUF_MIN_CAP), 0); /* 10 + 16384 > 16384 */
    CHECK_EQ_U(b.cap, 2 * BUF_MIN_CAP);
    CHECK(memcmp(b.data, "0123456789", 10) == 0);
    size_t cap = b.cap;
    CHECK_EQ_I(buf_reserve(&b, cap - b.len), 0); /* fits: no change */
    CHECK_EQ_U(b.cap, cap);
    CHECK_EQ_I(buf_reserve(&b, 5 * BUF_MIN_CAP), 0);
    CHECK_EQ_U(b.cap, 8 * BUF_MIN_CAP);
    CHECK_EQ_I(buf_reserve(&b, SIZE_MAX - 4), JUNO_ENOMEM);
    CHECK_EQ_U(b.cap, 8 * BUF_MIN_CAP); /* unchanged on failure */
    CHECK_EQ_U(b.len, 10);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

UNIT_TEST(consume_drops_the_front)
{
    struct buf b = {0};
    CHECK_EQ_I(buf_reserve(&b, 6), 0);
    memcpy(b.data, "abcdef", 6);
    b.len = 6;
    buf_consume(&b, 0);
    CHECK_EQ_U(b.len, 6);
    buf_consume(&b, 4);
    CHECK_EQ_U(b.len, 2);
    CHECK(memcmp(b.data, "ef", 2) == 0);
    buf_consume(&b, 2);
    CHECK_EQ_U(b.len, 0);
    buf_free(&b);
}

UNIT_TEST(trim_gives_back_only_a_large_nearly_empty_buffer)
{
    struct buf b = {0};
    size_t chunk = 1024;
    CHECK_EQ_I(buf_reserve(&b, 4 * chunk), 0); /* 16384 = 16 chunks */
    b.len = chunk;                             /* not under chunk: kept */
    buf_trim(&b, chunk);
    CHECK_EQ_U(b.cap, BUF_MIN_CAP);
    memset(b.data, 'x', 10);
    b.len = 10;
    buf_trim(&b, chunk);
    CHECK_EQ_U(b.cap, 2 * chunk);
    CHECK(b.data[9] == 'x');
    buf_trim(&b, chunk); /* 2 chunks: not over 4 */
    CHECK_EQ_U(b.cap, 2 * chunk);
    buf_free(&b);
}

int
main(void)
{
    RUN(reserve_grows_by_doubling_and_keeps_the_bytes);
    RUN(consume_drops_the_front);
    RUN(trim_gives_back_only_a_large_nearly_empty_buffer);
    return unit_done();
}
