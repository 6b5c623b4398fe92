/* test_client.c: lib/client (framing replies off a socket, connecting, request
 * ids), the CLI's text encodings (src/juno-cli/escape.h), and the proxy mode
 * of juno: requests byte for byte against the reference vectors, exit codes
 * (the CLI's request.c, output.c, proxy.c, batch.c and proxy_batch.c are
 * compiled in here). Retries against a fake proxy: test_cli_retry.c. */
#include "../../src/juno-cli/batch.c"
#include "../../src/juno-cli/escape.h"
#include "../../src/juno-cli/output.c"
#include "../../src/juno-cli/proxy.c"
#include "../../src/juno-cli/proxy_batch.c"
#include "../../src/juno-cli/request.c"
#include "client.h"
#include "error.h"
#include "unit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

UNIT_TEST(utf8_valid)
{
    CHECK(esc_utf8_valid((const uint8_t *)"", 0));
    CHECK(esc_utf8_valid((const uint8_t *)"plain\0ascii", 11));
    CHECK(esc_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK(!esc_utf8_valid((const uint8_t *)"\xff", 1));
    CHECK(!esc_utf8_valid((const uint8_t *)"\xc3", 1));             /* truncated */
    CHECK(!esc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    CHECK(!esc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!esc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!esc_utf8_valid((const uint8_t *)"\xe2\x28\xa1", 3));
}

UNIT_TEST(json_and_base64)
{
    char out[64];
    size_t n = esc_json((const uint8_t *)"a\"b\\c\n\x01\xc3\xa9", 9, out);
    CHECK_MEM(out, n, "a\\\"b\\\\c\\n\\u0001\xc3\xa9", 17);
    /* RFC 4648 section 10 */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        n = esc_base64((const uint8_t *)in[i], strlen(in[i]), out);
        CHECK_EQ_U(n, esc_base64_size(strlen(in[i])));
        CHECK_MEM(out, n, want[i], strlen(want[i]));
    }
}

UNIT_TEST(request_id_is_v4)
{
    uint8_t a[16], b[16];
    CHECK_EQ_I(client_new_request_id(a), 0);
    CHECK_EQ_I(client_new_request_id(b), 0);
    CHECK((a[6] & 0xF0) == 0x40);
    CHECK((a[8] & 0xC0) == 0x80);
    CHECK(memcmp(a, b, 16) != 0);
}

static int
encode(const struct wire_msg *m, uint8_t *buf, size_t cap)
{
    int n = wire_encode(m, buf, cap);
    CHECK(n > 0);
    return n;
}

static void
sample(struct wire_msg *m, uint32_t opaque, const char *value)
{
    memset(m, 0, sizeof(*m));
    m->type_flag = WIRE_TF_RESPONSE;
    m->opcode = WIRE_OP_READ;
    m->opaque = opaque;
    m->ns.ptr = (const uint8_t *)"ns";
    m->ns.len = 2;
    m->key.ptr = (const uint8_t *)"key";
    m->key.len = 3;
    m->value.ptr = (const uint8_t *)value;
    m->value.len = strlen(value);
    wire_meta_set_u32(&m->meta, WIRE_F_VERSION, 7);
}

UNIT_TEST(recv_frames_pipelined_and_split)
{
    int sv[2];
    CHECK_EQ_I(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct wire_msg m, got;
    uint8_t buf[512];
    sample(&m, 1, "one");
    int n1 = encode(&m, buf, sizeof(buf));
    sample(&m, 2, "two");
    int n2 = encode(&m, buf + n1, sizeof(buf) - (size_t)n1);
    struct client_buf b;
    client_buf_init(&b);
    /* nothing yet: timeout; then one byte at a time for the first message */
    CHECK_EQ_I(client_recv(&b, sv[1], 20, &got), JUNO_ETIMEDOUT);
    for (int i = 0; i < n1 - 1; i++) CHECK_EQ_I(write(sv[0], buf + i, 1), 1);
    CHECK_EQ_I(client_recv(&b, sv[1], 20, &got), JUNO_ETIMEDOUT);
    /* the last byte of the first and all of the second in one write */
    CHECK_EQ_I(write(sv[0], buf + n1 - 1, (size_t)n2 + 1), n2 + 1);
    CHECK_EQ_I(client_recv(&b, sv[1], 1000, &got), 0);
    CHECK_EQ_U(got.opaque, 1);
    CHECK_EQ_U(got.meta.version, 7);
    CHECK_MEM(got.value.ptr, got.value.len, "one", 3);
    CHECK_EQ_I(client_recv(&b, sv[1], 1000, &got), 0);
    CHECK_EQ_U(got.opaque, 2);
    CHECK_MEM(got.value.ptr, got.value.len, "two", 3);
    /* half a frame, then the peer closes */
    CHECK_EQ_I(write(sv[0], buf, 10), 10);
    close(sv[0]);
    CHECK_EQ_I(client_recv(&b, sv[1], 1000, &got), JUNO_EOF);
    client_buf_deinit(&b);
    close(sv[1]);
}

UNIT_TEST(recv_rejects_garbage_and_oversize)
{
    int sv[2];
    CHECK_EQ_I(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct client_buf b;
    struct wire_msg got;
    client_buf_init(&b);
    CHECK_EQ_I(write(sv[0], "HTTP/1.1 200 OK\r\n", 17), 17);
    CHECK_EQ_I(client_recv(&b, sv[1], 1000, &got), JUNO_EPROTO);
    client_buf_deinit(&b);
    close(sv[0]);
    close(sv[1]);

    CHECK_EQ_I(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    client_buf_init(&b);
    b.max_frame = 64;
    struct wire_msg m;
    uint8_t buf[512];
    sample(&m, 3, "a value long enough to pass sixty-four bytes in the whole frame");
    int n = encode(&m, buf, sizeof(buf));
    CHECK_EQ_I(write(sv[0], buf, (size_t)n), n);
    CHECK_EQ_I(client_recv(&b, sv[1], 1000, &got), JUNO_EPROTO);
    client_buf_deinit(&b);
    close(sv[0]);
    close(sv[1]);
}

UNIT_TEST(send_and_queue)
{
    int sv[2];
    CHECK_EQ_I(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct wire_msg m, got;
    struct client_buf out, in;
    client_buf_init(&out);
    client_buf_init(&in);
    sample(&m, 10, "x");
    CHECK_EQ_I(client_send(sv[0], &m), 0);
    for (uint32_t i = 11; i < 100; i++) {
        m.opaque = i;
        CHECK_EQ_I(client_queue(&out, &m), 0);
    }
    CHECK_EQ_I(client_flush(&out, sv[0], 1000), 0);
    CHECK_EQ_U(out.len, 0);
    for (uint32_t i = 10; i < 100; i++) {
        CHECK_EQ_I(client_recv(&in, sv[1], 1000, &got), 0);
        CHECK_EQ_U(got.opaque, i);
    }
    m.key.len = 70000; /* over the wire's key limit */
    CHECK_EQ_I(client_send(sv[0], &m), JUNO_EINVAL);
    client_buf_deinit(&out);
    client_buf_deinit(&in);
    close(sv[0]);
    close(sv[1]);
}

UNIT_TEST(connect)
{
    char err[256];
    CHECK_EQ_I(client_connect("no-port", 100, err, sizeof(err)), JUNO_EINVAL);
    CHECK(strstr(err, "no-port") != NULL);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ_I(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ_I(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
    /* bound but not listening: refused */
    CHECK_EQ_I(client_connect(addr, 1000, err, sizeof(err)), JUNO_ECONNREFUSED);
    CHECK(strstr(err, "refused") != NULL);
    CHECK_EQ_I(listen(l, 4), 0);
    int fd = client_connect(addr, 1000, err, sizeof(err));
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        close(fd);
    }
    close(l);
}

/* ---- proxy mode: requests ------------------------------------------------ */

static size_t
hexbytes(const char *h, uint8_t *out, size_t cap)
{
    int n = unit_hex(h, out, (int)cap);
    CHECK(n >= 0);
    return n < 0 ? 0 : (size_t)n;
}

/* Encode what request_build makes and compare it with want (hex). */
static void
check_request(int opcode, const char *rid_text, uint16_t port, const struct request_args *a,
              const char *want_hex)
{
    uint8_t rid[16], got[512], want[512];
    CHECK_EQ_I(wire_uuid_parse(rid_text, rid), 0);
    struct request_source src = {.ipv6 = 0, .port = port, .ip = {127, 0, 0, 1}};
    struct wire_msg m;
    request_build(&m, opcode, 0, rid, &src, a);
    int n = wire_encode(&m, got, sizeof(got));
    CHECK(n > 0);
    size_t wn = hexbytes(want_hex, want, sizeof(want));
    CHECK_MEM(got, n > 0 ? (size_t)n : 0, want, wn);
}

/* W13 (a Get) with the application name "juno-cli": the same 16-byte
 * SourceInfo, so the same size. */
UNIT_TEST(request_get_as_w13)
{
    struct request_args a = {.ns = "DummyNS", .key = "key", .klen = 3};
    check_request(WIRE_OP_GET, "c9ac000b-ff4c-11e7-a119-000c29cadc31", 56618, &a,
                  "50500140 00000050 00000000 02000000 00000028 02026506 C9AC000B FF4C11E7 "
                  "A119000C 29CADC31 1008DD2A 7F000001 6A756E6F 2D636C69 00000018 01070003 "
                  "00000000 44756D6D 794E536B 65790000");
    /* a Get with a TTL extends it: TimeToLive after the RequestID */
    a.ttl = 1800;
    check_request(WIRE_OP_GET, "c9ac000b-ff4c-11e7-a119-000c29cadc31", 56618, &a,
                  "50500140 00000058 00000000 02000000 00000030 02036521 06000000 C9AC000B "
                  "FF4C11E7 A119000C 29CADC31 00000708 1008DD2A 7F000001 6A756E6F 2D636C69 "
                  "00000018 01070003 00000000 44756D6D 794E536B 65790000");
}

/* W01 (a Create with TTL 1800) with "juno-cli": meta 48 bytes instead of 56. */
UNIT_TEST(request_create_as_w01)
{
    struct request_args a = {.ns = "DummyNS",
                             .key = "key",
                             .klen = 3,
                             .value = "value to store",
                             .vlen = 14,
                             .ttl = 1800};
    check_request(WIRE_OP_CREATE, "51d0f4af-505f-11e7-9176-000c29cadc31", 43276, &a,
                  "50500140 00000068 00000000 01000000 00000030 02036521 06000000 51D0F4AF "
                  "505F11E7 9176000C 29CADC31 00000708 1008A90C 7F000001 6A756E6F 2D636C69 "
                  "00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 "
                  "73746F72 65000000");
}

/* W05 and W07 (Update, Set) with "juno-cli"; a conditional Update adds Version. */
UNIT_TEST(request_update_set_destroy)
{
    struct request_args a = {
        .ns = "DummyNS", .key = "key", .klen = 3, .value = "value to store", .vlen = 14};
    check_request(WIRE_OP_UPDATE, "cb475df7-505f-11e7-9926-000c29cadc31", 43298, &a,
                  "50500140 00000060 00000000 03000000 00000028 02026506 CB475DF7 505F11E7 "
                  "9926000C 29CADC31 1008A922 7F000001 6A756E6F 2D636C69 00000028 01070003 "
                  "0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000");
    check_request(WIRE_OP_SET, "d91ff0df-505f-11e7-8de8-000c29cadc31", 43304, &a,
                  "50500140 00000060 00000000 04000000 00000028 02026506 D91FF0DF 505F11E7 "
                  "8DE8000C 29CADC31 1008A928 7F000001 6A756E6F 2D636C69 00000028 01070003 "
                  "0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000");
    a.version = 5;
    check_request(WIRE_OP_UPDATE, "cb475df7-505f-11e7-9926-000c29cadc31", 43298, &a,
                  "50500140 00000068 00000000 03000000 00000030 02036522 06000000 CB475DF7 "
                  "505F11E7 9926000C 29CADC31 00000005 1008A922 7F000001 6A756E6F 2D636C69 "
                  "00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 "
                  "73746F72 65000000");
    /* Destroy: never a TTL, a Version or a value, whatever the caller gave */
    a.ttl = 60;
    check_request(WIRE_OP_DESTROY, "cb475df7-505f-11e7-9926-000c29cadc31", 43298, &a,
                  "50500140 00000050 00000000 05000000 00000028 02026506 CB475DF7 505F11E7 "
                  "9926000C 29CADC31 1008A922 7F000001 6A756E6F 2D636C69 00000018 01070003 "
                  "00000000 44756D6D 794E536B 65790000");
}

/* An empty value has no type byte; a Nop carries the ids and an empty payload. */
UNIT_TEST(request_empty_value_and_nop)
{
    struct request_args a = {.ns = "ns", .key = "k", .klen = 1, .value = "", .vlen = 0};
    uint8_t rid[16] = {0};
    struct request_source src = {.port = 1, .ip = {127, 0, 0, 1}};
    struct wire_msg m, d;
    uint8_t buf[256];
    request_build(&m, WIRE_OP_SET, 9, rid, &src, &a);
    int n = wire_encode(&m, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
    CHECK_EQ_U(d.opaque, 9);
    CHECK_EQ_U(d.value.len, 0);
    CHECK_MEM(d.meta.source.app, d.meta.source.app_len, "juno-cli", 8);
    struct request_args none = {0};
    request_build(&m, WIRE_OP_NOP, 1, rid, &src, &none);
    n = wire_encode(&m, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_EQ_I(wire_decode(buf, (size_t)n, &d), WIRE_ST_OK);
    CHECK_EQ_U(d.opcode, WIRE_OP_NOP);
    CHECK_EQ_U(d.type_flag, 0x40);
    CHECK(wire_meta_has(&d.meta, WIRE_F_REQUEST_ID));
    CHECK(wire_meta_has(&d.meta, WIRE_F_SOURCE_INFO));
    CHECK_EQ_U(d.ns.len + d.key.len, 0);
}

UNIT_TEST(request_source_of_socket)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ_I(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ_I(listen(l, 1), 0);
    CHECK_EQ_I(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    char addr[64], err[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
    int fd = client_connect(addr, 1000, err, sizeof(err));
    CHECK(fd >= 0);
    struct request_source src;
    struct sockaddr_in me;
    socklen_t mlen = sizeof(me);
    CHECK_EQ_I(request_source_of(fd, &src), 0);
    CHECK_EQ_I(getsockname(fd, (struct sockaddr *)&me, &mlen), 0);
    CHECK_EQ_I(src.ipv6, 0);
    CHECK_MEM(src.ip, 4, "\x7f\x00\x00\x01", 4);
    CHECK_EQ_U(src.port, ntohs(me.sin_port));
    close(fd);
    close(l);
    /* IPv6 loopback, where the host has it; a v4-mapped address counts as IPv4 */
    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t a6len = sizeof(a6);
    if (l6 >= 0 && bind(l6, (struct sockaddr *)&a6, sizeof(a6)) == 0 && listen(l6, 1) == 0 &&
        getsockname(l6, (struct sockaddr *)&a6, &a6len) == 0) {
        snprintf(addr, sizeof(addr), "[::1]:%u", ntohs(a6.sin6_port));
        fd = client_connect(addr, 1000, err, sizeof(err));
        CHECK(fd >= 0);
        CHECK_EQ_I(request_source_of(fd, &src), 0);
        CHECK_EQ_I(src.ipv6, 1);
        CHECK_EQ_U(src.ip[15], 1);
        close(fd);
    }
    if (l6 >= 0) close(l6);
    CHECK_EQ_I(request_source_of(-1, &src), -EBADF);
    CHECK_EQ_U(src.port, 0);
}

UNIT_TEST(exit_codes_and_retry_decisions)
{
    CHECK_EQ_I(request_exit_code(WIRE_ST_OK), 0);
    CHECK_EQ_I(request_exit_code(WIRE_ST_INCONSISTENT), 0);
    CHECK_EQ_I(request_exit_code(WIRE_ST_NO_KEY), 1);
    CHECK_EQ_I(request_exit_code(WIRE_ST_DUP_KEY), 1);
    CHECK_EQ_I(request_exit_code(WIRE_ST_VERSION_CONFLICT), 1);
    CHECK_EQ_I(request_exit_code(WIRE_ST_BAD_PARAM), 65);
    CHECK_EQ_I(request_exit_code(WIRE_ST_BADMSG), 65);
    CHECK_EQ_I(request_exit_code(WIRE_ST_NO_STORAGE_SERVER), 69);
    CHECK_EQ_I(request_exit_code(WIRE_ST_RECORD_LOCKED), 75);
    CHECK_EQ_I(request_exit_code(WIRE_ST_BUSY), 75);
    CHECK_EQ_I(request_exit_code(WIRE_ST_COMMIT_FAILURE), 74);
    CHECK_EQ_I(request_exit_code(WIRE_ST_NOT_SUPPORTED), 76);
    CHECK_EQ_I(request_exit_code(200), 76);
    for (int st = 0; st < 256; st++)
        CHECK_EQ_I(request_status_retryable(st), st == 8 || st == 12 || st == 14);
    CHECK(request_error_retryable(JUNO_ECONNREFUSED));
    CHECK(request_error_retryable(JUNO_EOF));
    CHECK(request_error_retryable(JUNO_ETIMEDOUT));
    CHECK(!request_error_retryable(JUNO_EPROTO));
    CHECK(!request_error_retryable(JUNO_ENOTFOUND));
    CHECK_EQ_I(request_exit_error(JUNO_ECONNREFUSED), 69);
    CHECK_EQ_I(request_exit_error(JUNO_EPROTO), 76);
    CHECK_EQ_I(request_exit_error(JUNO_EINVAL), 64);
    CHECK_EQ_I(request_exit_error(JUNO_EBADDATA), 65);
    for (int i = 0; i < 50; i++) {
        int b1 = request_backoff_ms(1), b2 = request_backoff_ms(2), b9 = request_backoff_ms(9);
        CHECK(b1 >= 50 && b1 <= 62);
        CHECK(b2 >= 100 && b2 <= 125);
        CHECK(b9 >= 1000 && b9 <= 1250);
    }
}

UNIT_TEST(quote_keys_for_messages)
{
    CHECK_STR(output_quote("k", 1), "\"k\"");
    CHECK_STR(output_quote("a\"b\\\t\n\x01\xff", 8), "\"a\\\"b\\\\\\t\\n\\x01\xff\"");
    CHECK_STR(output_quote("", 0), "\"\"");
    char longkey[100];
    memset(longkey, 'x', sizeof(longkey));
    const char *q = output_quote(longkey, sizeof(longkey));
    CHECK_EQ_U(strlen(q), 1 + 64 + 1 + 3);
    CHECK(strcmp(q + 66, "...") == 0);
}

int
main(void)
{
    RUN(utf8_valid);
    RUN(json_and_base64);
    RUN(request_id_is_v4);
    RUN(recv_frames_pipelined_and_split);
    RUN(recv_rejects_garbage_and_oversize);
    RUN(send_and_queue);
    RUN(connect);
    RUN(request_get_as_w13);
    RUN(request_create_as_w01);
    RUN(request_update_set_destroy);
    RUN(request_empty_value_and_nop);
    RUN(request_source_of_socket);
    RUN(exit_codes_and_retry_decisions);
    RUN(quote_keys_for_messages);
    return unit_done();
}
