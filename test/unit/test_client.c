/* test_client.c: lib/client (framing replies off a socket, connecting, request
 * ids) and the CLI's text encodings (src/juno-cli/escape.h). */
#include "../../src/juno-cli/escape.h"
#include "client.h"
#include "error.h"
#include "unit.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

UNIT_TEST(batch_escape_round_trip)
{
    uint8_t all[256];
    char esc[4 * 256], back[4 * 256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    size_t n = esc_batch_escape(all, sizeof(all), esc);
    for (size_t i = 0; i < n; i++) CHECK(esc[i] != '\t' && esc[i] != '\n' && esc[i] != '\0');
    long m = esc_batch_unescape(esc, n, back);
    CHECK_MEM(back, m, all, sizeof(all));
    char out[16];
    n = esc_batch_escape((const uint8_t *)"a\tb\n\\\x01", 6, out);
    CHECK_MEM(out, n, "a\\tb\\n\\\\\\x01", 12);
}

UNIT_TEST(batch_unescape)
{
    char out[32];
    const char *in = "x\\t\\n\\r\\0\\\\\\x41\\xfF";
    long n = esc_batch_unescape(in, strlen(in), out);
    CHECK_MEM(out, n, "x\t\n\r\0\\A\xff", 8);
    CHECK_EQ_I(esc_batch_unescape("abc\\", 4, out), -1);
    CHECK_EQ_I(esc_batch_unescape("\\q", 2, out), -1);
    CHECK_EQ_I(esc_batch_unescape("\\x4", 3, out), -1);
    CHECK_EQ_I(esc_batch_unescape("\\x4g", 4, out), -1);
    CHECK_EQ_I(esc_batch_unescape("", 0, out), 0);
    char inplace[] = "a\\tb";
    CHECK_MEM(inplace, esc_batch_unescape(inplace, 4, inplace), "a\tb", 3);
}

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

int
main(void)
{
    RUN(batch_escape_round_trip);
    RUN(batch_unescape);
    RUN(utf8_valid);
    RUN(json_and_base64);
    RUN(request_id_is_v4);
    RUN(recv_frames_pipelined_and_split);
    RUN(recv_rejects_garbage_and_oversize);
    RUN(send_and_queue);
    RUN(connect);
    return unit_done();
}
