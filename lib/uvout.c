/* uvout.c: try_write first, then one uv_write for the rest (see uvout.h). */
#include "uvout.h"

#include <stdlib.h>

#define UVOUT_KEEP (4 * BUF_MIN_CAP) /* the most an idle connection's buffer keeps */

struct uvout_req {
    uv_write_t req;
    uint8_t *data; /* owned: the buffer's memory */
    void *ctx;
    uvout_cb cb;
};

static void
uvout__done(uv_write_t *req, int status)
{
    struct uvout_req *r = (struct uvout_req *)req;
    void *ctx = r->ctx;
    uvout_cb cb = r->cb;
    free(r->data);
    free(r);
    cb(ctx, status);
}

int
uvout_try(uv_stream_t *stream, const uint8_t *data, size_t len)
{
    if (len == 0) return 0;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(stream, &b, 1);
    return n == UV_EAGAIN ? 0 : n;
}

int
uvout_send(uv_stream_t *stream, struct buf *out, void *ctx, uvout_cb cb)
{
    int n = uvout_try(stream, out->data, out->len);
    if (n < 0) return n;
    size_t sent = (size_t)n;
    if (sent == out->len) {
        out->len = 0;
        if (out->cap > UVOUT_KEEP) buf_free(out); /* a burst's large buffer goes back */
        return 0;
    }
    struct uvout_req *r = malloc(sizeof(*r));
    if (r == NULL) return UV_ENOMEM;
    r->data = out->data;
    r->ctx = ctx;
    r->cb = cb;
    uv_buf_t b = uv_buf_init((char *)out->data + sent, (unsigned)(out->len - sent));
    int rc = uv_write(&r->req, stream, &b, 1, uvout__done);
    if (rc < 0) {
        free(r);
        buf_consume(out, sent); /* what went out is gone; the rest stays */
        return rc;
    }
    *out = (struct buf){0}; /* the write owns the bytes now */
    return 1;
}
