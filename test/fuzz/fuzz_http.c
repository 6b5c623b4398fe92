/* fuzz_http.c: libFuzzer target for the metrics server's HTTP request parser
 * (lib/httpreq.c, what lib/httpd.c runs on every byte a scraper sends).
 *
 * The input is what a connection receives: httpreq_parse runs request after
 * request, with httpd's buffer size as cap, as httpd does. Checks:
 *   - OK: the request lies within the input (0 < used <= remaining, ending in
 *     '\n'), method and target inside it, tokens and target of the bytes the
 *     grammar allows; the same request alone parses the same, a few strict
 *     prefixes of it give AGAIN, and a request rebuilt from the parsed fields
 *     parses back to the same fields;
 *   - AGAIN: only empty-line bytes may be dropped, and the same bytes in a
 *     buffer that is full must be refused (never wait on a full buffer);
 *   - ERROR: a reason, nothing consumed, and more bytes never make it OK.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_http/ (curl's and Prometheus' requests,
 * pipelined and bad ones); test/fuzz/fuzz_http.dict.
 */
#include "httpd.h"
#include "httpreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
same(const struct httpreq *a, const struct httpreq *b)
{
    return a->mlen == b->mlen && memcmp(a->method, b->method, a->mlen) == 0 && a->tlen == b->tlen &&
           memcmp(a->target, b->target, a->tlen) == 0 && a->minor == b->minor &&
           a->hosts == b->hosts && a->close == b->close && a->has_body == b->has_body;
}

static int
parse(const char *p, size_t len, size_t cap, struct httpreq *rq, size_t *used)
{
    const char *why = NULL;
    int rc = httpreq_parse(p, len, cap, rq, used, &why);
    if (rc == HTTPREQ_ERROR && (why == NULL || why[0] == '\0' || *used != 0)) abort();
    if (rc == HTTPREQ_AGAIN && *used > len) abort();
    if (rc == HTTPREQ_OK && (*used == 0 || *used > len)) abort();
    if (rc != HTTPREQ_OK && rc != HTTPREQ_AGAIN && rc != HTTPREQ_ERROR) abort();
    return rc;
}

/* The request as a client would send it with the same meaning. */
static void
rebuild(const struct httpreq *rq)
{
    size_t cap = rq->mlen + rq->tlen + 32 + (size_t)rq->hosts * 9 + 64;
    char *b = malloc(cap), *p = b;
    if (b == NULL) abort();
    memcpy(p, rq->method, rq->mlen), p += rq->mlen, *p++ = ' ';
    memcpy(p, rq->target, rq->tlen), p += rq->tlen;
    p += sprintf(p, " HTTP/1.%d\r\n", rq->minor);
    for (int i = 0; i < rq->hosts; i++) p += sprintf(p, "Host: h\r\n");
    if (rq->close) p += sprintf(p, "Connection: close\r\n");
    if (rq->has_body) p += sprintf(p, "Content-Length: 1\r\n");
    p += sprintf(p, "\r\n");
    struct httpreq back;
    size_t used;
    if (parse(b, (size_t)(p - b), HTTPD_MAX_HEADER, &back, &used) != HTTPREQ_OK) abort();
    if (used != (size_t)(p - b) || !same(rq, &back)) abort();
    free(b);
}

static void
check_ok(const char *p, size_t len, const struct httpreq *rq, size_t used)
{
    if (p[used - 1] != '\n') abort();
    if (rq->method < p || rq->method + rq->mlen > p + used || rq->mlen == 0) abort();
    if (rq->target < p || rq->target + rq->tlen > p + used || rq->tlen == 0) abort();
    if (rq->minor != 0 && rq->minor != 1) abort();
    for (size_t i = 0; i < rq->mlen; i++)
        if (!is_tchar((unsigned char)rq->method[i])) abort();
    for (size_t i = 0; i < rq->tlen; i++)
        if ((unsigned char)rq->target[i] <= 0x20 || (unsigned char)rq->target[i] >= 0x7f) abort();
    struct httpreq again;
    size_t u;
    /* the request alone: what follows it changes nothing */
    if (parse(p, used, HTTPD_MAX_HEADER, &again, &u) != HTTPREQ_OK || u != used) abort();
    if (!same(rq, &again)) abort();
    /* strict prefixes wait for more */
    size_t cuts[] = {used - 1, used / 2, used / 3, 1, (len * 7) % used};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        if (parse(p, cuts[i], HTTPD_MAX_HEADER, &again, &u) != HTTPREQ_AGAIN) abort();
    }
    rebuild(rq);
}

static void
check_error_sticks(const char *p, size_t len)
{
    static const char more[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    char *b = malloc(len + sizeof(more));
    if (b == NULL) abort();
    memcpy(b, p, len);
    memcpy(b + len, more, sizeof(more) - 1);
    struct httpreq rq;
    size_t u;
    if (parse(b, len + sizeof(more) - 1, HTTPD_MAX_HEADER, &rq, &u) != HTTPREQ_ERROR) abort();
    free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    while (left > 0) {
        struct httpreq rq;
        size_t used = 0;
        int rc = parse(p, left, HTTPD_MAX_HEADER, &rq, &used);
        if (rc == HTTPREQ_ERROR) {
            if (left < HTTPD_MAX_HEADER) check_error_sticks(p, left);
            break;
        }
        if (rc == HTTPREQ_AGAIN) {
            for (size_t i = 0; i < used; i++)
                if (p[i] != '\r' && p[i] != '\n') abort();
            /* the same bytes filling the buffer: refused, not waited for */
            if (left > used && parse(p, left, left - used, &rq, &used) != HTTPREQ_ERROR) abort();
            break;
        }
        check_ok(p, left, &rq, used);
        p += used;
        left -= used;
    }
    return 0;
}
