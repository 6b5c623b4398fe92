/* test_conn.c: lib/conn on a real loopback listener, with a toy protocol:
 * a frame is a line ending in '\n'; the server answers each line upper-cased.
 * "X" is not the protocol (a bad frame), "H" holds the connection, "R" takes
 * a reference and answers nothing (a request in flight); while W.keep is set
 * the protocol asks to keep its output back (proto->gather). The peer is a conn
 * client on the same loop, or a plain socket for byte-level control.
 */
#include "unit.h"

#include "conn.h"
#include "error.h"

#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct world {
    uv_loop_t loop;
    struct conn_group g, cg;
    struct conn_listener l;
    uint16_t port;
    struct conn *server; /* the last accepted */
    int handled, opened, closed, freed, bad;
    int connected, failed, failed_err;
    struct buf got; /* what the client side read */
    struct conn *held, *reffed;
    int keep;      /* server_gather's answer */
    unsigned late; /* the gather timer's sends */
} W;

static int
line_frame(struct conn *c, const uint8_t *d, size_t len, size_t *flen, size_t *need,
           const char **why)
{
    (void)c, (void)need;
    if (d[0] == 'X') {
        *why = "an X";
        return CONN_FRAME_ERROR;
    }
    const uint8_t *nl = memchr(d, '\n', len);
    if (nl == NULL) return CONN_FRAME_AGAIN;
    *flen = (size_t)(nl - d) + 1;
    return CONN_FRAME_OK;
}

static void
server_handle(struct conn *c, const uint8_t *f, size_t len)
{
    W.handled++;
    if (f[0] == 'H') {
        W.held = c;
        conn_hold(c);
        return;
    }
    if (f[0] == 'R') {
        W.reffed = c;
        conn_ref(c);
        return;
    }
    uint8_t *p = conn_reserve(c, len);
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)toupper(f[i]);
    c->out.len += len;
}

static int
server_open(struct conn *c)
{
    W.opened++;
    W.server = c;
    return 0;
}

static void
server_close(struct conn *c)
{
    (void)c;
    W.closed++;
}

static void
server_free(struct conn *c)
{
    (void)c;
    W.freed++;
}

static void
server_bad(struct conn *c, const char *why)
{
    (void)c, (void)why;
    W.bad++;
}

static int
server_gather(const struct conn *c)
{
    (void)c;
    return W.keep;
}

static const struct conn_proto server_proto = {
    .gather = server_gather,
    .what = "test connection",
    .frame = line_frame,
    .handle = server_handle,
    .bad_frame = server_bad,
    .open = server_open,
    .close = server_close,
    .free = server_free,
};

static void
client_handle(struct conn *c, const uint8_t *f, size_t len)
{
    (void)c;
    buf_reserve(&W.got, len);
    memcpy(W.got.data + W.got.len, f, len);
    W.got.len += len;
}

static void
client_connected(struct conn *c)
{
    (void)c;
    W.connected = 1;
}

static void
client_failed(struct conn *c, int err, const char *why)
{
    (void)c, (void)why;
    W.failed++;
    W.failed_err = err;
}

static const struct conn_proto client_proto = {
    .what = "test client",
    .frame = line_frame,
    .handle = client_handle,
    .connected = client_connected,
    .failed = client_failed,
};

static void
on_check(uv_check_t *h)
{
    (void)h;
    conn_group_flush(&W.g);
    conn_group_flush(&W.cg);
}

static uv_check_t check;

static void
world_open(const struct conn_limits *lim)
{
    free(W.got.data);
    memset(&W, 0, sizeof(W));
    uv_loop_init(&W.loop);
    conn_group_init(&W.g, &W.loop, NULL);
    conn_group_init(&W.cg, &W.loop, NULL);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    CHECK_EQ_I(conn_listen_addr(&W.l, &W.g, &server_proto, lim, (struct sockaddr *)&a, NULL, NULL),
               0);
    struct sockaddr_in b;
    int len = sizeof(b);
    uv_tcp_getsockname(&W.l.tcp, (struct sockaddr *)&b, &len);
    W.port = ntohs(b.sin_port);
    uv_check_init(&W.loop, &check);
    uv_check_start(&check, on_check);
}

static void
world_close(void)
{
    conn_listener_drain(&W.l);
    conn_group_close_all(&W.g);
    conn_group_close_all(&W.cg);
    uv_close((uv_handle_t *)&check, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    CHECK_EQ_U(W.g.nconns, 0);
    CHECK_EQ_U(W.cg.nconns, 0);
    CHECK_EQ_I(uv_loop_close(&W.loop), 0);
    conn_group_deinit(&W.g);
    conn_group_deinit(&W.cg);
}

/* Run the loop until cond or about 2 s. */
#define RUN_UNTIL(cond)                                                                            \
    do {                                                                                           \
        for (int i_ = 0; i_ < 2000 && !(cond); i_++) {                                             \
            uv_run(&W.loop, UV_RUN_NOWAIT);                                                        \
            if (!(cond)) usleep(1000);                                                             \
        }                                                                                          \
    } while (0)

static struct conn *
client_connect(void)
{
    struct conn *c = NULL;
    CHECK_EQ_I(conn_connect(&W.cg, &client_proto, NULL, "127.0.0.1", W.port, NULL, NULL, &c), 0);
    RUN_UNTIL(W.connected || W.failed);
    CHECK(W.connected);
    return c;
}

static void
client_send(struct conn *c, const char *s)
{
    size_t n = strlen(s);
    memcpy(conn_reserve(c, n), s, n);
    c->out.len += n;
}

static int
raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", W.port, &a);
    CHECK_EQ_I(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    RUN_UNTIL(W.opened > 0);
    return fd;
}

/* Read from fd (running the loop) until n bytes or EOF; returns bytes read, -1 at EOF first. */
static ssize_t
raw_read(int fd, char *out, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 2000 && have < n; i++) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        ssize_t r = recv(fd, out + have, n - have, MSG_DONTWAIT);
        if (r == 0) return have ? (ssize_t)have : -1;
        if (r > 0) have += (size_t)r;
        if (have < n) usleep(1000);
    }
    return (ssize_t)have;
}

static int
raw_eof(int fd)
{
    char c;
    for (int i = 0; i < 2000; i++) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
        if (r == 0) return 1;
        if (r > 0) return 0;
        usleep(1000);
    }
    return 0;
}

UNIT_TEST(replies_to_a_pipelined_burst_come_back_in_order)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    struct conn *c = client_connect();
    client_send(c, "one\ntwo\nthree\n");
    RUN_UNTIL(W.got.len >= 14);
    CHECK_MEM(W.got.data, W.got.len, "ONE\nTWO\nTHREE\n", 14);
    CHECK_EQ_I(W.handled, 3);
    CHECK_EQ_I(W.opened, 1);
    world_close();
    CHECK_EQ_I(W.closed, 1);
    CHECK_EQ_I(W.freed, 1);
}

UNIT_TEST(a_frame_sent_one_byte_at_a_time_is_handled_once_whole)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    int fd = raw_connect();
    const char *msg = "hello\n";
    for (size_t i = 0; i < 6; i++) {
        CHECK_EQ_I(send(fd, msg + i, 1, 0), 1);
        for (int k = 0; k < 5; k++) uv_run(&W.loop, UV_RUN_NOWAIT), usleep(500);
        CHECK_EQ_I(W.handled, i == 5 ? 1 : 0);
    }
    char buf[8];
    CHECK_EQ_I(raw_read(fd, buf, 6), 6);
    CHECK_MEM(buf, 6, "HELLO\n", 6);
    close(fd);
    world_close();
}

UNIT_TEST(a_bad_frame_gets_the_replies_due_then_the_connection_closes)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    int fd = raw_connect();
    CHECK_EQ_I(send(fd, "a\nb\nX never read\nc\n", 20, 0), 20);
    char buf[8];
    CHECK_EQ_I(raw_read(fd, buf, 4), 4);
    CHECK_MEM(buf, 4, "A\nB\n", 4);
    CHECK(raw_eof(fd));
    CHECK_EQ_I(W.bad, 1);
    CHECK_EQ_I(W.handled, 2);
    close(fd);
    world_close();
}

UNIT_TEST(a_lingering_connection_waits_for_its_requests_in_flight)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    int fd = raw_connect();
    CHECK_EQ_I(send(fd, "R\nX\n", 4, 0), 4);
    RUN_UNTIL(W.bad == 1);
    for (int k = 0; k < 20; k++) uv_run(&W.loop, UV_RUN_NOWAIT);
    CHECK_EQ_I(W.closed, 0); /* R is still in flight */
    memcpy(conn_reserve(W.reffed, 3), "RR\n", 3);
    W.reffed->out.len += 3;
    conn_unref(W.reffed);
    char buf[4];
    CHECK_EQ_I(raw_read(fd, buf, 3), 3);
    CHECK(raw_eof(fd));
    CHECK_EQ_I(W.closed, 1);
    close(fd);
    world_close();
}

UNIT_TEST(reading_stops_above_the_backlog_and_resumes_below_half)
{
    struct conn_limits lim = {.max_backlog = 4};
    world_open(&lim);
    int fd = raw_connect();
    CHECK_EQ_I(send(fd, "R\nR\nR\nR\nR\n", 10, 0), 10);
    RUN_UNTIL(W.handled == 5);
    struct conn *s = W.server;
    CHECK_EQ_U(s->refs, 5);
    CHECK_EQ_I(s->reading, 0);
    conn_unref(s);
    conn_unref(s);
    CHECK_EQ_I(s->reading, 0); /* 3 > 4 / 2 */
    conn_unref(s);
    CHECK_EQ_I(s->reading, 1);
    conn_unref(s);
    conn_unref(s);
    close(fd);
    world_close();
}

UNIT_TEST(a_held_connection_handles_nothing_until_released)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    struct conn *c = client_connect();
    client_send(c, "a\nH\nb\nc\n");
    RUN_UNTIL(W.handled == 2);
    for (int k = 0; k < 20; k++) uv_run(&W.loop, UV_RUN_NOWAIT);
    CHECK_EQ_I(W.handled, 2);
    conn_release(W.held);
    RUN_UNTIL(W.got.len >= 6);
    CHECK_MEM(W.got.data, W.got.len, "A\nB\nC\n", 6);
    CHECK_EQ_I(W.handled, 4);
    world_close();
}

UNIT_TEST(a_closed_connection_is_freed_only_once_no_request_holds_it)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    int fd = raw_connect();
    CHECK_EQ_I(send(fd, "R\n", 2, 0), 2);
    RUN_UNTIL(W.handled == 1);
    close(fd); /* EOF: the server connection closes */
    RUN_UNTIL(W.closed == 1);
    for (int k = 0; k < 20; k++) uv_run(&W.loop, UV_RUN_NOWAIT);
    CHECK_EQ_I(W.freed, 0);
    CHECK(conn_reserve(W.reffed, 10) == NULL); /* a reply to a closed connection goes nowhere */
    conn_unref(W.reffed);
    CHECK_EQ_I(W.freed, 1);
    world_close();
}

UNIT_TEST(idle_and_half_received_connections_are_swept)
{
    struct conn_limits lim = {.idle_ms = 50, .frame_ms = 50};
    world_open(&lim);
    int idle = raw_connect();
    int partial = raw_connect();
    CHECK_EQ_I(send(partial, "no newline", 10, 0), 10);
    for (int k = 0; k < 20; k++) uv_run(&W.loop, UV_RUN_NOWAIT), usleep(1000);
    usleep(120 * 1000);
    uv_update_time(&W.loop);
    conn_group_sweep(&W.g);
    CHECK(raw_eof(idle));
    CHECK(raw_eof(partial));
    CHECK_EQ_I(W.closed, 2);
    close(idle);
    close(partial);
    world_close();
}

UNIT_TEST(a_drained_listener_handles_no_further_frame_but_writes_its_replies)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    struct conn *c = client_connect();
    client_send(c, "a\n");
    RUN_UNTIL(W.got.len >= 2);
    conn_listener_drain(&W.l);
    CHECK_EQ_I(W.server->reading, 0);
    CHECK(!conn_group_output_pending(&W.g));
    world_close();
}

UNIT_TEST(a_refused_connect_is_reported_once)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    uint16_t port = W.port;
    conn_listener_drain(&W.l); /* nothing listens there any more */
    for (int k = 0; k < 5; k++) uv_run(&W.loop, UV_RUN_NOWAIT);
    struct conn *c = NULL;
    CHECK_EQ_I(conn_connect(&W.cg, &client_proto, NULL, "127.0.0.1", port, NULL, NULL, &c), 0);
    RUN_UNTIL(W.failed > 0);
    CHECK_EQ_I(W.failed, 1);
    CHECK_EQ_I(W.failed_err, JUNO_ECONNREFUSED);
    CHECK_EQ_I(W.connected, 0);
    world_close();
}

UNIT_TEST(output_queued_while_connecting_goes_out_once_connected)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    struct conn *c = NULL;
    CHECK_EQ_I(conn_connect(&W.cg, &client_proto, NULL, "localhost", W.port, NULL, NULL, &c), 0);
    client_send(c, "early\n");
    RUN_UNTIL(W.got.len >= 6);
    CHECK(W.connected);
    CHECK_MEM(W.got.data, W.got.len, "EARLY\n", 6);
    world_close();
}

static void
on_gather_late(struct conn_group *g, unsigned n)
{
    (void)g;
    W.late += n;
}

/* Nothing arrives on fd while the loop runs for about ms. */
static int
raw_quiet(int fd, int ms)
{
    char c;
    for (int i = 0; i < ms; i++) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        if (recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0) return 0;
        usleep(1000);
    }
    return 1;
}

UNIT_TEST(output_kept_back_goes_at_the_gather_time_or_past_the_cap)
{
    struct conn_limits lim = {0};
    world_open(&lim);
    uv_timer_t t;
    uv_timer_init(&W.loop, &t);
    conn_group_gather(&W.g, &t, 100);
    W.g.gather_late = on_gather_late;
    W.keep = 1;
    int fd = raw_connect();
    uint64_t t0 = uv_hrtime();
    CHECK_EQ_I((int)send(fd, "a\n", 2, 0), 2);
    CHECK(raw_quiet(fd, 30)); /* kept back */
    CHECK(W.server->gathering && W.g.kept == W.server);
    CHECK(uv_is_active((uv_handle_t *)&t));
    char out[CONN_GATHER_MAX + 2];
    CHECK_EQ_I((int)raw_read(fd, out, 2), 2); /* the timer sent it */
    CHECK_MEM(out, 2, "A\n", 2);
    CHECK(uv_hrtime() - t0 >= 90 * 1000000ull);
    CHECK_EQ_U(W.late, 1);
    CHECK(W.g.kept == NULL && !W.server->gathering && !uv_is_active((uv_handle_t *)&t));
    /* a reply of CONN_GATHER_MAX bytes is not kept */
    memset(out, 'x', CONN_GATHER_MAX - 1);
    out[CONN_GATHER_MAX - 1] = '\n';
    CHECK_EQ_I((int)send(fd, out, CONN_GATHER_MAX, 0), (int)CONN_GATHER_MAX);
    t0 = uv_hrtime();
    CHECK_EQ_I((int)raw_read(fd, out, CONN_GATHER_MAX), (int)CONN_GATHER_MAX);
    CHECK(uv_hrtime() - t0 < 90 * 1000000ull);
    CHECK_EQ_U(W.late, 1);
    /* the protocol says no: sent at once */
    W.keep = 0;
    CHECK_EQ_I((int)send(fd, "b\n", 2, 0), 2);
    CHECK_EQ_I((int)raw_read(fd, out, 2), 2);
    CHECK(uv_hrtime() - t0 < 90 * 1000000ull);
    /* a kept connection that closes leaves the list, and the timer stops */
    W.keep = 1;
    CHECK_EQ_I((int)send(fd, "c\n", 2, 0), 2);
    RUN_UNTIL(W.g.kept != NULL);
    CHECK(W.g.kept == W.server);
    conn_close(W.server);
    CHECK(W.g.kept == NULL && !uv_is_active((uv_handle_t *)&t));
    CHECK_EQ_U(W.late, 1);
    close(fd);
    uv_close((uv_handle_t *)&t, NULL);
    world_close();
}

int
main(void)
{
    RUN(replies_to_a_pipelined_burst_come_back_in_order);
    RUN(a_frame_sent_one_byte_at_a_time_is_handled_once_whole);
    RUN(a_bad_frame_gets_the_replies_due_then_the_connection_closes);
    RUN(a_lingering_connection_waits_for_its_requests_in_flight);
    RUN(reading_stops_above_the_backlog_and_resumes_below_half);
    RUN(a_held_connection_handles_nothing_until_released);
    RUN(a_closed_connection_is_freed_only_once_no_request_holds_it);
    RUN(idle_and_half_received_connections_are_swept);
    RUN(a_drained_listener_handles_no_further_frame_but_writes_its_replies);
    RUN(a_refused_connect_is_reported_once);
    RUN(output_queued_while_connecting_goes_out_once_connected);
    RUN(output_kept_back_goes_at_the_gather_time_or_past_the_cap);
    free(W.got.data);
    return unit_done();
}
