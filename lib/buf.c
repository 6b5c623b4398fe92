/* buf.c: a growable byte buffer (see buf.h). */
#include "buf.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

int
buf_reserve(struct buf *b, size_t n)
{
    if (b->cap - b->len >= n) return 0;
    if (n > SIZE_MAX / 2 - b->len) return JUNO_ENOMEM;
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < b->len + n) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) return JUNO_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
    if (n == 0) return;
    if (n < b->len) memmove(b->data, b->data + n, b->len - n);
    b->len = n < b->len ? b->len - n : 0;
}

void
buf_trim(struct buf *b, size_t chunk)
{
    if (b->cap <= 4 * chunk || b->len >= chunk) return;
    uint8_t *d = realloc(b->data, 2 * chunk);
    if (d == NULL) return; /* keeping the larger buffer is harmless */
    b->data = d;
    b->cap = 2 * chunk;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
