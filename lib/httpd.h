/* httpd.h: a minimal HTTP/1.1 server on a libuv loop, for a daemon's metrics.
 *
 *   GET or HEAD /metrics   200, text/plain; version=0.0.4 (the render callback)
 *   GET or HEAD /health    200, "ok\n"
 *   other paths            404
 *   other methods          405 (Allow: GET, HEAD), then close
 *   malformed request      400, then close: bad request line or header, a
 *                          header block over HTTPD_MAX_HEADER bytes, an
 *                          HTTP/1.1 request without Host, a request body
 *
 * Requests (query strings ignored) are answered one at a time per connection;
 * HTTP/1.1 connections are kept alive unless the client says "Connection:
 * close". A connection that has not sent a whole request within
 * HTTPD_REQUEST_MS of its start or of its last response is closed (slowloris,
 * idle keep-alive), and at most HTTPD_MAX_CONNS are open (more are accepted
 * and closed at once). Everything runs on the loop given: the render callback
 * must be quick (it runs on that loop's thread).
 */
#ifndef JUNO_HTTPD_H
#define JUNO_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTPD_MAX_HEADER 8192
#define HTTPD_REQUEST_MS 10000
#define HTTPD_MAX_CONNS  64
#define HTTPD_METRICS_CT "text/plain; version=0.0.4; charset=utf-8"

/* Produce the body of /metrics: on 0, *body (owned by the caller: free) holds
 * *len bytes. A negative JUNO_E* code answers 500. */
typedef int httpd_render_fn(void *arg, char **body, size_t *len);

struct httpd;

/* Listen on host:port (an IPv4 or IPv6 literal) on loop. Returns 0 with the
 * server in *out, or a negative code with the reason in err. */
int httpd_start(uv_loop_t *loop, const char *host, uint16_t port, httpd_render_fn *render,
                void *arg, struct httpd **out, char *err, size_t errlen);

/* Stop listening and close every connection (responses being written are cut).
 * The memory is released from the loop's close callbacks; h is invalid after
 * the call. NULL is a no-op. */
void httpd_close(struct httpd *h);

#endif
