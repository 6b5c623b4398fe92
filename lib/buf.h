/* buf.h: a growable byte buffer: the read and reply buffers of the daemons'
 * connections (juno-store, juno-proxy, the RESP face, store streams).
 *
 *   struct buf b = {0};
 *   if (buf_reserve(&b, n) != 0) ...;    room for n more bytes at b.data + b.len
 *   b.len += n;                          ... once they are written there
 *   buf_consume(&b, used);               drop what was handled from the front
 *   buf_trim(&b, chunk);                 give a large, nearly empty buffer back
 *   buf_free(&b);
 */
#ifndef JUNO_BUF_H
#define JUNO_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_MIN_CAP 16384 /* the first allocation */

struct buf {
    uint8_t *data; /* owned */
    size_t len, cap;
};

/* Room for at least n more bytes: the capacity doubles (from BUF_MIN_CAP) until
 * it fits. Returns 0, or JUNO_ENOMEM with the buffer unchanged. */
int buf_reserve(struct buf *b, size_t n);

/* Remove the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* When the buffer has grown past 4 * chunk and holds less than chunk bytes,
 * shrink it to 2 * chunk (a large message's memory goes back). */
void buf_trim(struct buf *b, size_t chunk);

/* Release the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);

#endif
