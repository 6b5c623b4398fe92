/* test_uvout.c: sending buffered output on a libuv stream (lib/uvout). */
#include "unit.h"

#include "buf.h"
#include "uvout.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

struct pair {
    uv_loop_t loop;
    uv_pipe_t w; /* our end: uvout_send writes here */
    int peer;    /* the other end, read with read(2) */
    int sent_cb; /* times the callback ran */
    int sent_status;
};

static void
on_sent(void *ctx, int status)
{
    struct pair *p = ctx;
    p->sent_cb++;
    p->sent_status = status;
}

static int
pair_open(struct pair *p)
{
    int sv[2];
    memset(p, 0, sizeof(*p));
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    uv_loop_init(&p->loop);
    uv_pipe_init(&p->loop, &p->w, 0);
    uv_pipe_open(&p->w, sv[0]);
    p->peer = sv[1];
    return 0;
}

static void
pair_close(struct pair *p)
{
    uv_close((uv_handle_t *)&p->w, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    close(p->peer);
}

/* Fill b with n bytes of a pattern starting at seed. */
static void
fill(struct buf *b, size_t n, unsigned seed)
{
    buf_reserve(b, n);
    for (size_t i = 0; i < n; i++) b->data[b->len + i] = (uint8_t)(seed + i * 7);
    b->len += n;
}

/* Read exactly n bytes from fd while running the loop; compare to the pattern. */
static int
drain_and_check(struct pair *p, size_t n, unsigned seed)
{
    uint8_t *got = malloc(n);
    size_t have = 0;
    while (have < n) {
        uv_run(&p->loop, UV_RUN_NOWAIT);
        ssize_t r = recv(p->peer, got + have, n - have, MSG_DONTWAIT);
        if (r > 0) have += (size_t)r;
    }
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if (got[i] != (uint8_t)(seed + i * 7)) ok = 0;
    free(got);
    return ok;
}

UNIT_TEST(small_output_goes_out_at_once_and_the_buffer_is_kept)
{
    struct pair p;
    CHECK(pair_open(&p) == 0);
    struct buf out = {0};
    fill(&out, 100, 1);
    uint8_t *mem = out.data;
    CHECK_EQ_I(uvout_send((uv_stream_t *)&p.w, &out, &p, on_sent), 0);
    CHECK_EQ_U(out.len, 0);
    CHECK(out.data == mem); /* kept for the next replies */
    CHECK(drain_and_check(&p, 100, 1));
    CHECK_EQ_I(p.sent_cb, 0); /* nothing was in flight */
    buf_free(&out);
    pair_close(&p);
}

UNIT_TEST(output_larger_than_the_socket_takes_goes_through_one_write_in_order)
{
    struct pair p;
    CHECK(pair_open(&p) == 0);
    struct buf out = {0};
    size_t big = 8u << 20; /* far more than a socket buffer */
    fill(&out, big, 3);
    CHECK_EQ_I(uvout_send((uv_stream_t *)&p.w, &out, &p, on_sent), 1);
    CHECK(out.data == NULL && out.len == 0); /* the write owns the bytes */
    /* more output while the write is in flight queues behind it */
    fill(&out, 1000, (unsigned)(3 + big * 7));
    CHECK_EQ_I(uvout_send((uv_stream_t *)&p.w, &out, &p, on_sent), 1);
    CHECK(drain_and_check(&p, big + 1000, 3));
    uv_run(&p.loop, UV_RUN_NOWAIT);
    CHECK_EQ_I(p.sent_cb, 2);
    CHECK_EQ_I(p.sent_status, 0);
    pair_close(&p);
}

UNIT_TEST(a_large_buffer_sent_at_once_is_released)
{
    struct pair p;
    CHECK(pair_open(&p) == 0);
    struct buf out = {0};
    CHECK_EQ_I(buf_reserve(&out, 1u << 20), 0); /* grown by an earlier burst */
    fill(&out, 10, 5);
    CHECK_EQ_I(uvout_send((uv_stream_t *)&p.w, &out, &p, on_sent), 0);
    CHECK(out.data == NULL && out.cap == 0);
    CHECK(drain_and_check(&p, 10, 5));
    pair_close(&p);
}

int
main(void)
{
    RUN(small_output_goes_out_at_once_and_the_buffer_is_kept);
    RUN(output_larger_than_the_socket_takes_goes_through_one_write_in_order);
    RUN(a_large_buffer_sent_at_once_is_released);
    return unit_done();
}
