/* resp_reply.c: encoding the replies a RESP server sends (see resp.h): the
 * RESP2 types, and RESP3's (null, map, set, double, verbatim string), each
 * of those given the connection's protocol so that one call writes what a
 * RESP2 client expects in its place, as Redis 7.0's addReply* functions do.
 */
#include "resp.h"

#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for extra more bytes; 0 or JUNO_ENOMEM (b unchanged). */
static int
reserve(struct buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len) return JUNO_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap) return 0;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) return JUNO_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static void
put(struct buf *b, const void *p, size_t n)
{
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
}

int
resp_raw(struct buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != 0) return JUNO_ENOMEM;
    put(b, p, n);
    return 0;
}

/* prefix, then s with \r and \n as spaces, then \r\n. */
static int
line_reply(struct buf *b, const char *prefix, const char *s)
{
    size_t pn = strlen(prefix), n = strlen(s);
    if (n > SIZE_MAX - pn - 2 || reserve(b, pn + n + 2) != 0) return JUNO_ENOMEM;
    put(b, prefix, pn);
    for (size_t i = 0; i < n; i++) b->data[b->len++] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
    put(b, "\r\n", 2);
    return 0;
}

int
resp_simple(struct buf *b, const char *s)
{
    return line_reply(b, "+", s);
}

int
resp_error(struct buf *b, const char *msg)
{
    return msg[0] == '-' ? line_reply(b, "", msg) : line_reply(b, "-ERR ", msg);
}

/* <type>[-]<decimal>\r\n into tmp (at least 24 bytes); returns its length.
 * Every reply header goes through here: snprintf cost some 750
 * instructions a GET (callgrind), this a tenth. */
static size_t
header(char *tmp, char type, int neg, uint64_t u)
{
    char d[20];
    size_t nd = 0, n = 0;
    do {
        d[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    tmp[n++] = type;
    if (neg) tmp[n++] = '-';
    while (nd > 0) tmp[n++] = d[--nd];
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    return n;
}

/* <type>[-]<u>\r\n */
static int
number_line(struct buf *b, char type, int neg, uint64_t u)
{
    char tmp[32];
    size_t k = header(tmp, type, neg, u);
    if (reserve(b, k) != 0) return JUNO_ENOMEM;
    put(b, tmp, k);
    return 0;
}

static int
count_line(struct buf *b, char type, size_t n)
{
    return number_line(b, type, 0, n);
}

int
resp_integer(struct buf *b, int64_t v)
{
    return number_line(b, ':', v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v); /* INT64_MIN too */
}

int
resp_bulk(struct buf *b, const void *p, size_t len)
{
    char tmp[32];
    size_t n = header(tmp, '$', 0, len);
    if (len > SIZE_MAX - n - 2 || reserve(b, n + len + 2) != 0) return JUNO_ENOMEM;
    put(b, tmp, n);
    put(b, p, len);
    put(b, "\r\n", 2);
    return 0;
}

int
resp_null(struct buf *b)
{
    if (reserve(b, 5) != 0) return JUNO_ENOMEM;
    put(b, "$-1\r\n", 5);
    return 0;
}

int
resp_array_header(struct buf *b, size_t n)
{
    return count_line(b, '*', n);
}

int
resp_null_array(struct buf *b)
{
    if (reserve(b, 5) != 0) return JUNO_ENOMEM;
    put(b, "*-1\r\n", 5);
    return 0;
}

/* ---- RESP3 -------------------------------------------------------------- */

int
resp_nil(struct buf *b, int proto)
{
    if (proto != RESP_PROTO3) return resp_null(b);
    if (reserve(b, 3) != 0) return JUNO_ENOMEM;
    put(b, "_\r\n", 3);
    return 0;
}

int
resp_nil_array(struct buf *b, int proto)
{
    return proto == RESP_PROTO3 ? resp_nil(b, proto) : resp_null_array(b);
}

int
resp_map_header(struct buf *b, size_t n, int proto)
{
    if (proto == RESP_PROTO3) return count_line(b, '%', n);
    return n > SIZE_MAX / 2 ? JUNO_ENOMEM : resp_array_header(b, 2 * n);
}

int
resp_set_header(struct buf *b, size_t n, int proto)
{
    return count_line(b, proto == RESP_PROTO3 ? '~' : '*', n);
}

int
resp_double(struct buf *b, double d, int proto)
{
    char tmp[48];
    if (isinf(d))
        snprintf(tmp, sizeof(tmp), "%s", d > 0 ? "inf" : "-inf");
    else
        snprintf(tmp, sizeof(tmp), "%.17g", d);
    if (proto != RESP_PROTO3) return resp_bulk(b, tmp, strlen(tmp));
    size_t n = strlen(tmp);
    if (reserve(b, n + 3) != 0) return JUNO_ENOMEM;
    put(b, ",", 1);
    put(b, tmp, n);
    put(b, "\r\n", 2);
    return 0;
}

int
resp_verbatim(struct buf *b, const char *fmt, const void *p, size_t len, int proto)
{
    if (proto != RESP_PROTO3) return resp_bulk(b, p, len);
    char tmp[48];
    if (len > SIZE_MAX - 64) return JUNO_ENOMEM;
    int n = snprintf(tmp, sizeof(tmp), "=%zu\r\n%.3s:", len + 4, fmt);
    if (reserve(b, (size_t)n + len + 2) != 0) return JUNO_ENOMEM;
    put(b, tmp, (size_t)n);
    put(b, p, len);
    put(b, "\r\n", 2);
    return 0;
}
