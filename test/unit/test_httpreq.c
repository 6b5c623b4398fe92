/* test_httpreq.c: the metrics server's request parser (httpreq.h): known
 * answers, every good request cut at every byte, errors with their reasons. */
#include "unit.h"

#include "httpreq.h"

#include <stdlib.h>

#define CAP 8192

static int
parse(const char *s, size_t len, struct httpreq *rq, size_t *used, const char **why)
{
    *why = NULL;
    return httpreq_parse(s, len, CAP, rq, used, why);
}

UNIT_TEST(known_answers)
{
    struct httpreq rq;
    size_t used;
    const char *why;
    const char *get =
        "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n"
        "HEAD /health HTTP/1.0\n\n";
    size_t first = strlen(get) - strlen("HEAD /health HTTP/1.0\n\n");
    CHECK_EQ_I(parse(get, strlen(get), &rq, &used, &why), HTTPREQ_OK);
    CHECK_EQ_U(used, first);
    CHECK_MEM(rq.method, rq.mlen, "GET", 3);
    CHECK_MEM(rq.target, rq.tlen, "/metrics?x=1", 12);
    CHECK_EQ_I(rq.minor, 1);
    CHECK_EQ_I(rq.hosts, 1);
    CHECK_EQ_I(rq.close, 1);
    CHECK_EQ_I(rq.has_body, 0);
    CHECK_EQ_I(parse(get + used, strlen(get) - used, &rq, &used, &why), HTTPREQ_OK);
    CHECK_MEM(rq.method, rq.mlen, "HEAD", 4);
    CHECK_EQ_I(rq.minor, 0);
    CHECK_EQ_I(rq.hosts, 0);

    const char *body =
        "\r\n\r\nPOST / HTTP/1.1\r\nhost: x\r\nHOST: y\r\nContent-Length: 007\r\n\r\n";
    CHECK_EQ_I(parse(body, strlen(body), &rq, &used, &why), HTTPREQ_OK);
    CHECK_EQ_U(used, strlen(body)); /* the empty lines before it count */
    CHECK_EQ_I(rq.hosts, 2);
    CHECK_EQ_I(rq.has_body, 1);
    const char *zero = "GET / HTTP/1.1\nContent-Length: 000\nTransfer-Encoding: chunked\n\n";
    CHECK_EQ_I(parse(zero, strlen(zero), &rq, &used, &why), HTTPREQ_OK);
    CHECK_EQ_I(rq.has_body, 1);
}

/* Every strict prefix of a good request asks for more; the empty lines in
 * front may be dropped at any time. */
UNIT_TEST(every_cut_is_again)
{
    static const char *const good[] = {
        "GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\nUser-Agent: curl/7.88.1\r\n\r\n",
        "\r\n\nHEAD /health HTTP/1.0\n\n",
        "GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\nX-Tab:\ta\tb \r\n\r\n",
    };
    for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
        size_t n = strlen(good[g]), skip = strspn(good[g], "\r\n");
        struct httpreq rq;
        size_t used;
        const char *why;
        CHECK_EQ_I(parse(good[g], n, &rq, &used, &why), HTTPREQ_OK);
        CHECK_EQ_U(used, n);
        for (size_t cut = 0; cut < n; cut++) {
            CHECK_EQ_I(parse(good[g], cut, &rq, &used, &why), HTTPREQ_AGAIN);
            CHECK_EQ_U(used, cut < skip ? cut : skip);
        }
        /* one byte at a time, dropping what the parser lets go, as httpd does */
        char buf[256];
        size_t len = 0, dropped = 0;
        int rc = HTTPREQ_AGAIN;
        for (size_t i = 0; i < n && rc == HTTPREQ_AGAIN; i++) {
            buf[len++] = good[g][i];
            rc = parse(buf, len, &rq, &used, &why);
            if (rc == HTTPREQ_AGAIN) {
                memmove(buf, buf + used, len - used);
                len -= used;
                dropped += used;
            }
        }
        CHECK_EQ_I(rc, HTTPREQ_OK);
        CHECK_EQ_U(dropped + used, n);
    }
}

UNIT_TEST(errors_have_reasons)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"GET  / HTTP/1.1\r\n\r\n", "bad request target"},
        {" GET / HTTP/1.1\r\n", "bad method"},
        {" GET", "not an HTTP request"},
        {"G\x01", "not an HTTP request"},
        {"\x16\x03\x01\x02\x00", "not an HTTP request"}, /* a TLS hello */
        {"GET / HTTP/1.1\rX", "not an HTTP request"},
        {"GET / HTTP/2.0\r\n", "bad protocol version"},
        {"GET / HTTP/1.1 \r\n", "bad protocol version"},
        {"G(T / HTTP/1.1\r\n", "bad method"},
        {"GET / HTTP/1.1\r\n folded\r\n\r\n", "folded header line"},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "bad header name"},
        {"GET / HTTP/1.1\r\n:a\r\n", "bad header name"},
        {"GET / HTTP/1.1\r\nX: a\x7f\r\n", "control byte in header"},
        {"GET / HTTP/1.1\r\nX: a\rb\r\n", "control byte in header"},
        {"GET / HTTP/1.1\r\nContent-Length: 1x\r\n", "bad Content-Length"},
        {"GET / HTTP/1.1\r\nContent-Length:  \r\n", "bad Content-Length"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct httpreq rq;
        size_t used = 99;
        const char *why;
        CHECK_EQ_I(parse(bad[i].in, strlen(bad[i].in), &rq, &used, &why), HTTPREQ_ERROR);
        CHECK(why != NULL && strcmp(why, bad[i].why) == 0);
        CHECK_EQ_U(used, 0);
    }
}

UNIT_TEST(a_request_over_cap_is_refused)
{
    char *big = malloc(CAP + 3);
    struct httpreq rq;
    size_t used;
    const char *why;
    memset(big, 'A', CAP);
    CHECK_EQ_I(parse(big, CAP - 1, &rq, &used, &why), HTTPREQ_AGAIN);
    CHECK_EQ_I(parse(big, CAP, &rq, &used, &why), HTTPREQ_ERROR);
    CHECK(why != NULL && strcmp(why, "request line too long") == 0);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK_EQ_I(parse(big, CAP, &rq, &used, &why), HTTPREQ_ERROR);
    CHECK(why != NULL && strcmp(why, "request header too large") == 0);
    /* empty lines in front do not count against cap */
    memset(big, '\n', 3);
    memcpy(big + 3, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK_EQ_I(parse(big, CAP, &rq, &used, &why), HTTPREQ_AGAIN);
    CHECK_EQ_U(used, 3);
    free(big);
}

int
main(void)
{
    RUN(known_answers);
    RUN(every_cut_is_again);
    RUN(errors_have_reasons);
    RUN(a_request_over_cap_is_refused);
    return unit_done();
}
