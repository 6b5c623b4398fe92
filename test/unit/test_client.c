/* test_client.c: lib/client (framing replies off a socket, connecting, request
 * ids), the CLI's text encodings (src/juno-cli/escape.h), and the proxy mode
 * of juno: requests byte for byte against the reference vectors, exit codes,
 * and retries against a fake proxy in a thread, for single commands and for
 * the batch engine (the CLI's request.c, output.c, proxy.c, batch.c and
 * proxy_batch.c are compiled in here). */
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

/* ---- proxy mode: retries against a fake proxy ---------------------------- */

struct fake {
    int lfd;
    int busy;   /* answer this many requests with Busy first */
    int drop;   /* close the connection on this many requests first */
    int final;  /* the status of the last answer */
    int expect; /* requests to serve before stopping */
    int n;      /* requests seen */
    int conns;  /* connections accepted */
    uint8_t rid[8][16];
    uint32_t version[8];
    uint16_t src_port[8];
    int app_ok;
    const char *value; /* a Get's answer */
    size_t vlen;
};

static void *
fake_serve(void *arg)
{
    struct fake *f = arg;
    struct client_buf in;
    client_buf_init(&in);
    int fd = -1;
    while (f->n < f->expect) {
        if (fd < 0) {
            fd = accept(f->lfd, NULL, NULL);
            if (fd < 0) break;
            f->conns++;
            in.len = in.used = 0;
        }
        struct wire_msg req, rep;
        if (client_recv(&in, fd, 5000, &req) != 0) {
            close(fd), fd = -1;
            continue;
        }
        int i = f->n++ % 8;
        memcpy(f->rid[i], req.meta.request_id, 16);
        f->version[i] = req.meta.version;
        f->src_port[i] = req.meta.source.port;
        f->app_ok = req.meta.source.app_len == 8 && memcmp(req.meta.source.app, "juno-cli", 8) == 0;
        if (f->drop > 0) {
            f->drop--;
            close(fd), fd = -1;
            continue;
        }
        memset(&rep, 0, sizeof(rep));
        rep.type_flag = WIRE_TF_RESPONSE;
        rep.opcode = req.opcode;
        rep.opaque = req.opaque;
        rep.ns = req.ns;
        rep.key = req.key;
        rep.status = (uint8_t)(f->busy > 0 ? WIRE_ST_BUSY : f->final);
        if (f->busy > 0) f->busy--;
        wire_meta_set_request_id(&rep.meta, req.meta.request_id);
        wire_meta_set_u32(&rep.meta, WIRE_F_VERSION, 7);
        if (req.opcode == WIRE_OP_GET) {
            rep.value.ptr = (const uint8_t *)f->value;
            rep.value.len = f->vlen;
        }
        CHECK_EQ_I(client_send(fd, &rep), 0);
    }
    if (fd >= 0) { /* wait for the client to close */
        struct wire_msg extra;
        (void)client_recv(&in, fd, 5000, &extra);
        close(fd);
    }
    client_buf_deinit(&in);
    return NULL;
}

/* Run `juno ARGV...` (proxy mode, --retries retries) against a fake proxy
 * set up as f says. Returns the exit code; stdout goes to out (cap bytes,
 * *outlen) when out is not NULL. */
static int
run_fake(struct fake *f, unsigned retries, int argc, char **argv, char *out, size_t cap,
         size_t *outlen)
{
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ_I(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ_I(listen(f->lfd, 8), 0);
    CHECK_EQ_I(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
    struct juno_opts o;
    memset(&o, 0, sizeof(o));
    o.server = addr;
    o.ns = "ns";
    o.timeout_ms = 2000;
    o.retries = retries;
    o.window = 16;
    if (argc > 3 && strcmp(argv[3], "--if-version") == 0) {
        o.has_if_version = 1;
        o.if_version = (uint32_t)atoi(argv[4]);
        argc = 3;
    }
    pthread_t t;
    CHECK_EQ_I(pthread_create(&t, NULL, fake_serve, f), 0);
    int saved = -1;
    FILE *tmp = NULL;
    if (out != NULL) { /* capture stdout */
        fflush(stdout);
        tmp = tmpfile();
        saved = dup(STDOUT_FILENO);
        dup2(fileno(tmp), STDOUT_FILENO);
    }
    int code = proxy_main(&o, argc, argv);
    if (out != NULL) {
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        rewind(tmp);
        *outlen = fread(out, 1, cap, tmp);
        fclose(tmp);
    }
    pthread_join(t, NULL);
    close(f->lfd);
    return code;
}

UNIT_TEST(retry_busy_with_the_same_request_id)
{
    char *argv[] = {"put", "k", "v", NULL};
    struct fake f = {.busy = 2, .final = WIRE_ST_OK, .expect = 3};
    CHECK_EQ_I(run_fake(&f, 2, 3, argv, NULL, 0, NULL), 0);
    CHECK_EQ_I(f.n, 3);
    CHECK_EQ_I(f.conns, 1);
    CHECK(memcmp(f.rid[0], f.rid[1], 16) == 0 && memcmp(f.rid[1], f.rid[2], 16) == 0);
    CHECK((f.rid[0][6] & 0xF0) == 0x40);
    CHECK(f.app_ok);
    CHECK(f.src_port[0] != 0);
    /* out of retries: exit 75 after 1 + retries tries */
    struct fake g = {.busy = 5, .final = WIRE_ST_OK, .expect = 2};
    CHECK_EQ_I(run_fake(&g, 1, 3, argv, NULL, 0, NULL), 75);
    CHECK_EQ_I(g.n, 2);
    /* --retries 0: one try */
    struct fake h = {.busy = 1, .final = WIRE_ST_OK, .expect = 1};
    CHECK_EQ_I(run_fake(&h, 0, 3, argv, NULL, 0, NULL), 75);
}

UNIT_TEST(retry_a_dropped_connection_on_a_new_one)
{
    char *argv[] = {"create", "k", "v", NULL};
    struct fake f = {.drop = 1, .final = WIRE_ST_OK, .expect = 2};
    CHECK_EQ_I(run_fake(&f, 2, 3, argv, NULL, 0, NULL), 0);
    CHECK_EQ_I(f.conns, 2);
    CHECK(memcmp(f.rid[0], f.rid[1], 16) == 0);
    CHECK(f.src_port[0] != f.src_port[1]); /* SourceInfo follows the connection */
    struct fake g = {.drop = 3, .final = WIRE_ST_OK, .expect = 3};
    CHECK_EQ_I(run_fake(&g, 2, 3, argv, NULL, 0, NULL), 69);
}

UNIT_TEST(statuses_are_not_retried_unless_retryable)
{
    char *upd[] = {"update", "k", "v", "--if-version", "3", NULL};
    struct fake f = {.final = WIRE_ST_VERSION_CONFLICT, .expect = 1};
    CHECK_EQ_I(run_fake(&f, 2, 5, upd, NULL, 0, NULL), 1);
    CHECK_EQ_I(f.n, 1);
    CHECK_EQ_U(f.version[0], 3);
    char *create[] = {"create", "k", "v", NULL};
    struct fake g = {.final = WIRE_ST_DUP_KEY, .expect = 1};
    CHECK_EQ_I(run_fake(&g, 2, 3, create, NULL, 0, NULL), 1);
    struct fake h = {.final = WIRE_ST_BAD_PARAM, .expect = 1};
    CHECK_EQ_I(run_fake(&h, 2, 3, create, NULL, 0, NULL), 65);
    struct fake i = {.busy = 1, .final = WIRE_ST_NO_STORAGE_SERVER, .expect = 3};
    CHECK_EQ_I(run_fake(&i, 2, 3, create, NULL, 0, NULL), 69);
    CHECK_EQ_I(i.n, 3);
}

UNIT_TEST(get_writes_the_raw_value)
{
    char *argv[] = {"get", "k", NULL};
    char out[64];
    size_t n = 0;
    struct fake f = {.final = WIRE_ST_OK, .expect = 1, .value = "a\0b\n\xff", .vlen = 5};
    CHECK_EQ_I(run_fake(&f, 2, 2, argv, out, sizeof(out), &n), 0);
    CHECK_MEM(out, n, "a\0b\n\xff", 5);
    struct fake g = {.final = WIRE_ST_NO_KEY, .expect = 1};
    CHECK_EQ_I(run_fake(&g, 2, 2, argv, out, sizeof(out), &n), 1);
    CHECK_EQ_U(n, 0);
}

/* ---- the batch engine against a fake proxy ------------------------------- */

/* A fake proxy for batches: keys "kN" (N < 1000) with values; every request
 * id is answered Busy the first time it is seen (when busy_first), and the
 * connection is closed once after drop_after requests. */
struct bfake {
    int lfd;
    int busy_first;
    int drop_after; /* 0: never */
    int total;      /* stop at the end of a connection once this many were served */
    int n, conns, dropped;
    uint8_t (*seen)[16]; /* request ids seen */
    int nseen;
    char *val[1000]; /* owned */
    uint32_t ver[1000];
};

static int
bfake_seen(struct bfake *f, const uint8_t rid[16])
{
    for (int i = 0; i < f->nseen; i++)
        if (memcmp(f->seen[i], rid, 16) == 0) return 1;
    memcpy(f->seen[f->nseen++], rid, 16);
    return 0;
}

static void *
bfake_serve(void *arg)
{
    struct bfake *f = arg;
    struct client_buf in, out;
    client_buf_init(&in);
    client_buf_init(&out);
    int fd = -1;
    for (;;) {
        if (fd < 0) {
            if (f->n >= f->total) break;
            fd = accept(f->lfd, NULL, NULL);
            if (fd < 0) break;
            f->conns++;
            in.len = in.used = out.len = 0;
        }
        struct wire_msg req, rep;
        if (client_recv(&in, fd, 5000, &req) != 0) {
            close(fd), fd = -1;
            continue;
        }
        f->n++;
        if (f->drop_after > 0 && !f->dropped && f->n == f->drop_after) {
            f->dropped = 1;
            close(fd), fd = -1;
            continue;
        }
        char kbuf[16] = "";
        if (req.key.len > 1 && req.key.len < sizeof(kbuf))
            memcpy(kbuf, req.key.ptr + 1, req.key.len - 1);
        int k = atoi(kbuf) % 1000;
        memset(&rep, 0, sizeof(rep));
        rep.type_flag = WIRE_TF_RESPONSE;
        rep.opcode = req.opcode;
        rep.opaque = req.opaque;
        wire_meta_set_request_id(&rep.meta, req.meta.request_id);
        if (f->busy_first && !bfake_seen(f, req.meta.request_id)) {
            rep.status = WIRE_ST_BUSY;
        } else if (req.opcode == WIRE_OP_SET) {
            free(f->val[k]);
            f->val[k] = strndup((const char *)req.value.ptr, req.value.len);
            f->ver[k]++;
        } else if (req.opcode == WIRE_OP_GET) {
            if (f->val[k] == NULL) {
                rep.status = WIRE_ST_NO_KEY;
            } else {
                rep.value.ptr = (const uint8_t *)f->val[k];
                rep.value.len = strlen(f->val[k]);
            }
        }
        CHECK_EQ_I(client_queue(&out, &rep), 0);
        if (in.len == in.used) CHECK_EQ_I(client_flush(&out, fd, 5000), 0);
    }
    client_buf_deinit(&in);
    client_buf_deinit(&out);
    return NULL;
}

/* Run `juno batch` on input against f; the output into out (cap bytes,
 * NUL-terminated). Returns the exit code. */
static int
run_batch(struct bfake *f, unsigned retries, unsigned window, const char *input, char *out,
          size_t cap)
{
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ_I(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ_I(listen(f->lfd, 8), 0);
    CHECK_EQ_I(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
    struct juno_opts o;
    memset(&o, 0, sizeof(o));
    o.server = addr;
    o.ns = "ns";
    o.timeout_ms = 2000;
    o.retries = retries;
    o.window = window;
    pthread_t t;
    CHECK_EQ_I(pthread_create(&t, NULL, bfake_serve, f), 0);
    FILE *fin = tmpfile(), *fout = tmpfile();
    fputs(input, fin);
    fflush(fin);
    rewind(fin);
    fflush(stdout);
    int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
    dup2(fileno(fin), STDIN_FILENO);
    dup2(fileno(fout), STDOUT_FILENO);
    clearerr(stdin);
    int code = proxy_batch_main(&o);
    fflush(stdout);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_in);
    close(saved_out);
    clearerr(stdin);
    rewind(fout);
    size_t n = fread(out, 1, cap - 1, fout);
    out[n] = '\0';
    fclose(fin);
    fclose(fout);
    pthread_join(t, NULL);
    close(f->lfd);
    for (int i = 0; i < 1000; i++) free(f->val[i]);
    return code;
}

/* 300 puts on 100 keys, then a get of each: the last put of a key wins. */
static void
batch_case(char **input, char **want)
{
    size_t cap = 64 * 1024;
    char *in = malloc(cap), *w = malloc(cap);
    size_t i_len = 0, w_len = 0;
    for (int i = 0; i < 300; i++) {
        i_len += (size_t)snprintf(in + i_len, cap - i_len, "put\tk%d\tv%d\n", i % 100, i);
        w_len += (size_t)snprintf(w + w_len, cap - w_len, "OK\n");
    }
    for (int k = 0; k < 100; k++) {
        i_len += (size_t)snprintf(in + i_len, cap - i_len, "get\tk%d\n", k);
        w_len += (size_t)snprintf(w + w_len, cap - w_len, "OK\tv%d\n", 200 + k);
    }
    i_len += (size_t)snprintf(in + i_len, cap - i_len, "get\tk999\n");
    snprintf(w + w_len, cap - w_len, "NOT_FOUND\n");
    *input = in;
    *want = w;
}

UNIT_TEST(batch_in_order_with_busy_retries)
{
    char *in, *want, out[64 * 1024];
    batch_case(&in, &want);
    uint8_t seen[1000][16];
    struct bfake f = {.busy_first = 1, .total = 2 * 401, .seen = seen};
    CHECK_EQ_I(run_batch(&f, 2, 16, in, out, sizeof(out)), 0);
    CHECK_STR(out, want);
    CHECK_EQ_I(f.nseen, 401); /* one request id per line, each sent twice */
    CHECK_EQ_I(f.conns, 1);
    /* no retries: every line says Busy, exit 1 */
    struct bfake g = {.busy_first = 1, .total = 401, .seen = seen};
    CHECK_EQ_I(run_batch(&g, 0, 256, in, out, sizeof(out)), 1);
    CHECK(strncmp(out, "ERR\tBusy\nERR\tBusy\n", 18) == 0);
    free(in);
    free(want);
}

UNIT_TEST(batch_reconnects_and_resends)
{
    char *in, *want, out[64 * 1024];
    batch_case(&in, &want);
    uint8_t seen[1000][16];
    /* the connection drops at the 150th request: what was in flight is resent */
    struct bfake f = {.drop_after = 150, .total = 401, .seen = seen};
    int code = run_batch(&f, 2, 32, in, out, sizeof(out));
    CHECK_EQ_I(code, 0);
    CHECK_STR(out, want);
    CHECK_EQ_I(f.conns, 2);
    CHECK(f.n > 401); /* some requests went twice */
    free(in);
    free(want);
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
    RUN(retry_busy_with_the_same_request_id);
    RUN(retry_a_dropped_connection_on_a_new_one);
    RUN(statuses_are_not_retried_unless_retryable);
    RUN(get_writes_the_raw_value);
    RUN(batch_in_order_with_busy_retries);
    RUN(batch_reconnects_and_resends);
    return unit_done();
}
