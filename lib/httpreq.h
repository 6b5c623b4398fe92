/* httpreq.h: the request parser of the metrics HTTP server (lib/httpd.c),
 * apart from its connections so that it can be tested and fuzzed on bytes.
 *
 * It reads the header block of one HTTP/1.0 or HTTP/1.1 request: the request
 * line, header lines, the empty line. Lines end in LF or CRLF; empty lines
 * before a request are skipped (RFC 9112 section 2.2). It keeps only what the
 * server acts on: method, target, minor version, how many Host headers,
 * "Connection: close", and whether a body is announced.
 */
#ifndef JUNO_HTTPREQ_H
#define JUNO_HTTPREQ_H

#include <stddef.h>

#define HTTPREQ_OK    0
#define HTTPREQ_AGAIN 1
#define HTTPREQ_ERROR (-1)

/* A parsed request: pointers into the buffer given to httpreq_parse. */
struct httpreq {
    const char *method, *target; /* borrowed: mlen, tlen bytes, both > 0 */
    size_t mlen, tlen;
    int minor;    /* HTTP/1.minor: 0 or 1 */
    int hosts;    /* Host headers seen */
    int close;    /* a Connection header lists "close" */
    int has_body; /* a nonzero Content-Length, or a Transfer-Encoding */
};

/* Parse the request at the start of buf (len bytes); cap is the most the
 * caller's buffer will ever hold, so that a request not whole within cap
 * bytes (after the skipped empty lines) is refused rather than waited for.
 *
 *   HTTPREQ_OK:    a whole header block; *used (> 0, <= len) counts the bytes
 *                  through its empty line, skipped empty lines included; *rq
 *                  points into buf.
 *   HTTPREQ_AGAIN: more bytes are needed (every strict prefix of a valid
 *                  request gives AGAIN); *used counts the leading empty-line
 *                  bytes the caller may drop, the rest must be kept.
 *   HTTPREQ_ERROR: *why (static) says what is wrong: a bad request line or
 *                  header line, a request line that no more bytes can make
 *                  valid, or a request over cap. *used is 0.
 * Never reads past len; keeps no state between calls. */
int httpreq_parse(const char *buf, size_t len, size_t cap, struct httpreq *rq, size_t *used,
                  const char **why);

#endif
