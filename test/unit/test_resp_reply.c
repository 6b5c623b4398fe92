/* test_resp_reply.c: the RESP3 reply encoders of lib/resp_reply.c byte for
 * byte, each under RESP3 and under RESP2 (what Redis 7.0 sends a RESP2
 * client in its place: the bytes captured from redis-server 7.0.15), and
 * a failed allocation leaving the buffer as it was. The RESP2 encoders:
 * test_resp.c. */
#include "resp_test.h"

#include <math.h>

#define WANT(b, lit) CHECK_MEM((b)->data, (b)->len, lit, sizeof(lit) - 1)

UNIT_TEST(resp3_types)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_nil(&b, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_nil_array(&b, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_map_header(&b, 7, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_map_header(&b, 0, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_set_header(&b, 2, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_set_header(&b, 0, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_double(&b, 1.5, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_double(&b, -0.1, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_double(&b, 3, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_double(&b, INFINITY, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_double(&b, -INFINITY, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_verbatim(&b, "txt", "# Server\r\n", 10, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_verbatim(&b, "txt", NULL, 0, RESP_PROTO3), 0);
    WANT(&b, "_\r\n_\r\n%7\r\n%0\r\n~2\r\n~0\r\n"
             ",1.5\r\n,-0.10000000000000001\r\n,3\r\n,inf\r\n,-inf\r\n"
             "=14\r\ntxt:# Server\r\n\r\n=4\r\ntxt:\r\n");
    buf_free(&b);
}

UNIT_TEST(resp3_types_under_resp2)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_nil(&b, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_nil_array(&b, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_map_header(&b, 7, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_map_header(&b, 0, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_set_header(&b, 2, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_double(&b, 1.5, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_double(&b, -INFINITY, RESP_PROTO2), 0);
    CHECK_EQ_I(resp_verbatim(&b, "txt", "# Server\r\n", 10, RESP_PROTO2), 0);
    WANT(&b, "$-1\r\n*-1\r\n*14\r\n*0\r\n*2\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n$10\r\n# Server\r\n\r\n");
    buf_free(&b);
}

/* Redis 7.0.15's HELLO 3 reply, built from the encoders. */
UNIT_TEST(resp3_hello_map)
{
    struct buf b = {0};
    static const char *kv[] = {"server", "redis", "version", "7.0.15",     "proto", NULL,
                               "id",     NULL,    "mode",    "standalone", "role",  "master"};
    CHECK_EQ_I(resp_map_header(&b, 7, RESP_PROTO3), 0);
    for (size_t i = 0; i < 12; i++) {
        if (kv[i] == NULL)
            CHECK_EQ_I(resp_integer(&b, 3), 0); /* proto 3, id 3 */
        else
            CHECK_EQ_I(resp_bulk(&b, kv[i], strlen(kv[i])), 0);
    }
    CHECK_EQ_I(resp_bulk(&b, "modules", 7), 0);
    CHECK_EQ_I(resp_array_header(&b, 0), 0);
    WANT(&b, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
             ":3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\n"
             "master\r\n$7\r\nmodules\r\n*0\r\n");
    buf_free(&b);
}

/* A length past what a buffer can hold fails with b unchanged. */
UNIT_TEST(resp3_too_big_leaves_buffer)
{
    struct buf b = {0};
    CHECK_EQ_I(resp_nil(&b, RESP_PROTO3), 0);
    CHECK_EQ_I(resp_verbatim(&b, "txt", "x", SIZE_MAX - 8, RESP_PROTO3), JUNO_ENOMEM);
    CHECK_EQ_I(resp_map_header(&b, SIZE_MAX, RESP_PROTO2), JUNO_ENOMEM);
    WANT(&b, "_\r\n");
    buf_free(&b);
}

int
main(void)
{
    RUN(resp3_types);
    RUN(resp3_types_under_resp2);
    RUN(resp3_hello_map);
    RUN(resp3_too_big_leaves_buffer);
    return unit_done();
}
