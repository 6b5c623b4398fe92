/* uvout.h: sending a connection's buffered output on a libuv stream.
 *
 * Every daemon collects a connection's replies in a struct buf during a loop
 * turn and sends them once. uvout_send first writes what the socket takes at
 * once (uv_try_write: no request, no callback, and, unlike a uv_write that
 * completes, no epoll_ctl on the next turn: libuv 1.44 re-arms the watcher
 * after every finished write request). Only what is left goes through one
 * uv_write, which takes the buffer over and frees it when done.
 *
 *   int rc = uvout_send(stream, &c->out, c, on_sent);
 *   rc == 0   everything went out; c->out is empty and keeps its memory
 *             (up to 64 KiB: a larger buffer is released)
 *   rc == 1   a write is in flight: on_sent(c, status) runs once it ends;
 *             c->out is empty (no memory)
 *   rc < 0    a libuv error; nothing is in flight, c->out holds what was
 *             not sent
 *
 * A stream must send through uvout_send only (uv_try_write refuses while
 * writes are queued, so bytes always leave in order).
 */
#ifndef JUNO_UVOUT_H
#define JUNO_UVOUT_H

#include "buf.h"

#include <uv.h>

typedef void (*uvout_cb)(void *ctx, int status);

/* Write what the socket takes of data[0..len) at once: the bytes written
 * (0 when it takes none, or when writes are queued), or a negative libuv
 * error. For a stream with its own write request (the RESP face). */
int uvout_try(uv_stream_t *stream, const uint8_t *data, size_t len);

int uvout_send(uv_stream_t *stream, struct buf *out, void *ctx, uvout_cb cb);

#endif
