/* httpreq.c: the metrics server's HTTP request parser (see httpreq.h).
 *
 * Strict where it matters for a server that answers two GETs: tokens are
 * RFC 9110 tchars, a header line holds no control byte, a folded (obsolete
 * continuation) line is refused, and a partial request line that already
 * holds a byte no request line may hold is refused without waiting for the
 * rest, so a client speaking another protocol gets its 400 at once.
 */
#include "httpreq.h"

#include <string.h>
#include <strings.h>

static int
is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* The request line [p, end) (without its line ending). Returns NULL or a reason. */
static const char *
parse_request_line(const char *p, const char *end, struct httpreq *rq)
{
    const char *s = p;
    while (p < end && is_tchar((unsigned char)*p)) p++;
    if (p == s || p == end || *p != ' ') return "bad method";
    rq->method = s;
    rq->mlen = (size_t)(p - s);
    s = ++p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f) p++;
    if (p == s || p == end || *p != ' ') return "bad request target";
    rq->target = s;
    rq->tlen = (size_t)(p - s);
    p++;
    if (end - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
        return "bad protocol version";
    rq->minor = p[7] - '0';
    return NULL;
}

/* Whether the token list value [v, end) holds token (case-insensitive). */
static int
has_token(const char *v, const char *end, const char *token)
{
    size_t n = strlen(token);
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ',')) v++;
        const char *s = v;
        while (v < end && *v != ',' && *v != ' ' && *v != '\t') v++;
        if ((size_t)(v - s) == n && strncasecmp(s, token, n) == 0) return 1;
    }
    return 0;
}

/* One header line [p, end), not empty. Returns NULL or a reason. */
static const char *
parse_header(const char *p, const char *end, struct httpreq *rq)
{
    const char *s = p;
    while (p < end && is_tchar((unsigned char)*p)) p++;
    if (p == s) return *p == ' ' || *p == '\t' ? "folded header line" : "bad header name";
    if (p == end || *p != ':') return "bad header name";
    size_t nlen = (size_t)(p - s);
    const char *v = p + 1;
    for (const char *q = v; q < end; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) return "control byte in header";
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (nlen == 4 && strncasecmp(s, "host", 4) == 0) {
        rq->hosts++;
    } else if (nlen == 10 && strncasecmp(s, "connection", 10) == 0) {
        if (has_token(v, ve, "close")) rq->close = 1;
    } else if (nlen == 14 && strncasecmp(s, "content-length", 14) == 0) {
        if (v == ve) return "bad Content-Length";
        for (const char *q = v; q < ve; q++) {
            if (*q < '0' || *q > '9') return "bad Content-Length";
            if (*q != '0') rq->has_body = 1;
        }
    } else if (nlen == 17 && strncasecmp(s, "transfer-encoding", 17) == 0) {
        rq->has_body = 1;
    }
    return NULL;
}

/* The '\n' ending the line that starts at p, or NULL if none before end
 * (a '\r' before it belongs to the line ending: strip_cr). */
static const char *
line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

static const char *
strip_cr(const char *p, const char *nl)
{
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* A partial request line that can already not become a valid one. */
static int
hopeless_start(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' && i + 1 == n) return 0;
        if (ch < 0x20 || ch >= 0x7f) return 1;
    }
    return n > 0 && !is_tchar((unsigned char)p[0]);
}

int
httpreq_parse(const char *buf, size_t len, size_t cap, struct httpreq *rq, size_t *used,
              const char **why)
{
    memset(rq, 0, sizeof(*rq));
    *used = 0;
    size_t skip = 0;
    while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n')) skip++;
    const char *p = buf + skip, *end = buf + len;
    int full = len - skip >= cap;
    if (p == end) {
        *used = skip;
        return HTTPREQ_AGAIN;
    }
    const char *nl = line_end(p, end);
    if (nl == NULL) {
        if (hopeless_start(p, (size_t)(end - p)))
            return *why = "not an HTTP request", HTTPREQ_ERROR;
        if (full) return *why = "request line too long", HTTPREQ_ERROR;
        *used = skip;
        return HTTPREQ_AGAIN;
    }
    if ((*why = parse_request_line(p, strip_cr(p, nl), rq)) != NULL) return HTTPREQ_ERROR;
    for (const char *line = nl + 1;; line = nl + 1) {
        nl = line_end(line, end);
        if (nl == NULL) {
            if (full) return *why = "request header too large", HTTPREQ_ERROR;
            memset(rq, 0, sizeof(*rq));
            *used = skip;
            return HTTPREQ_AGAIN;
        }
        const char *le = strip_cr(line, nl);
        if (le == line) break; /* the empty line: the header block is whole */
        if ((*why = parse_header(line, le, rq)) != NULL) return HTTPREQ_ERROR;
    }
    *used = (size_t)(nl + 1 - buf);
    return HTTPREQ_OK;
}
