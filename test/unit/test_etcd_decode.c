/* test_etcd_decode.c: lib/etcd without a server: base64 and prefix vectors,
 * the gateway's answers (int64 fields, kvs, auth verdicts), the watch
 * stream's decoder however it is cut, endpoints, TLS hints, the TLS and auth
 * options of etcd_create, and why a watch was cancelled. test_etcd.c runs
 * every call against a real etcd. */
#include "unit.h"

#include "error.h"
#include "etcd.h"
#include "etcd_int.h"

#include <stdlib.h>
#include <string.h>

UNIT_TEST(base64_vectors)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "/juno/c/map"};
    const char *enc[] = {"",         "Zg==",     "Zm8=",     "Zm9v",
                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy", "L2p1bm8vYy9tYXA="};
    for (int i = 0; i < 8; i++) {
        char out[64], back[64];
        int n = etcd_b64_encode(plain[i], strlen(plain[i]), out, sizeof(out));
        CHECK_STR(out, enc[i]);
        CHECK_EQ_I(n, strlen(enc[i]));
        int m = etcd_b64_decode(out, (size_t)n, back, sizeof(back));
        CHECK_MEM(back, m, plain[i], strlen(plain[i]));
    }
    unsigned char bin[256], b2[256];
    char e[400];
    for (int i = 0; i < 256; i++) bin[i] = (unsigned char)i;
    int n = etcd_b64_encode(bin, 256, e, sizeof(e));
    CHECK_EQ_I(etcd_b64_decode(e, (size_t)n, b2, sizeof(b2)), 256);
    CHECK_MEM(b2, 256, bin, 256);
    char small[8];
    CHECK_EQ_I(etcd_b64_encode("foobar", 6, small, sizeof(small)), JUNO_EMSGSIZE);
    CHECK_EQ_I(etcd_b64_decode("Zm9vYmFy", 8, b2, 5), JUNO_EMSGSIZE);
    /* what the gateway would refuse, we refuse too */
    CHECK_EQ_I(etcd_b64_decode("Zm9", 3, b2, sizeof(b2)), JUNO_EBADDATA);      /* unpadded */
    CHECK_EQ_I(etcd_b64_decode("Zm-_", 4, b2, sizeof(b2)), JUNO_EBADDATA);     /* URL-safe */
    CHECK_EQ_I(etcd_b64_decode("Zg==Zg==", 8, b2, sizeof(b2)), JUNO_EBADDATA); /* pad inside */
    CHECK_EQ_I(etcd_b64_decode("Z===", 4, b2, sizeof(b2)), JUNO_EBADDATA);
}

UNIT_TEST(prefix_end)
{
    char out[16];
    CHECK_EQ_I(etcd_prefix_end("/juno/c/", out, sizeof(out)), 8);
    CHECK_STR(out, "/juno/c0");
    CHECK_EQ_I(etcd_prefix_end("a\xff\xff", out, sizeof(out)), 1);
    CHECK_STR(out, "b");
    CHECK_EQ_I(etcd_prefix_end("", out, sizeof(out)), 1);
    CHECK_EQ_I(out[0], 0);
    CHECK_EQ_I(etcd_prefix_end("/juno/c/", out, 4), JUNO_EMSGSIZE);
}

/* A 200 answer with body, read as etcd_get reads it. */
static int
range_of(const char *body, struct etcd_kvs *out)
{
    cJSON *res = NULL;
    int next = 0;
    int rc = etcd__answer("http://t", "/v3/kv/range", 200, body, strlen(body), &res, &next);
    if (rc != 0) return rc;
    rc = etcd__range_answer(res, out);
    cJSON_Delete(res);
    return rc;
}

/* Found by test/fuzz/fuzz_etcd: an int64 field given as a JSON number out of
 * int64's range was converted anyway (undefined behaviour), and a string one
 * was clamped or cut at its first bad byte. Such an answer is not etcd's: it
 * is refused, and nothing of it is kept. */
UNIT_TEST(answer_int64_fields_out_of_range_are_refused)
{
    static const char *const bad[] = {
        "{\"kvs\":[{\"key\":\"AA==\",\"mod_revision\":1e300}]}",
        "{\"kvs\":[{\"key\":\"AA==\",\"mod_revision\":-1e19}]}",
        "{\"kvs\":[{\"key\":\"AA==\",\"version\":1.5}]}",
        "{\"kvs\":[{\"key\":\"AA==\",\"version\":\"12abc\"}]}",
        "{\"kvs\":[{\"key\":\"AA==\",\"lease\":\"\"}]}",
        "{\"kvs\":[{\"key\":\"AA==\",\"create_revision\":true}]}",
        "{\"kvs\":[{\"key\":\"AA==\"},{\"key\":\"AA==\",\"lease\":\"9223372036854775808\"}]}",
        "{\"header\":{\"revision\":\"99999999999999999999\"}}",
        "{\"header\":{\"revision\":3.5444e112}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct etcd_kvs kvs;
        CHECK_EQ_I(range_of(bad[i], &kvs), JUNO_EPROTO);
        CHECK(kvs.n == 0 && kvs.kvs == NULL);
    }
    struct etcd_kvs kvs;
    CHECK_EQ_I(range_of("{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"L2E=\","
                        "\"create_revision\":7,\"mod_revision\":\"9223372036854775807\","
                        "\"version\":\"-9223372036854775808\",\"lease\":\"2324035579033170730\"}]}",
                        &kvs),
               0);
    CHECK_EQ_U(kvs.n, 1);
    CHECK_EQ_I(kvs.revision, 5);
    if (kvs.n == 1) {
        CHECK(strcmp(kvs.kvs[0].key, "/a") == 0);
        CHECK_EQ_I(kvs.kvs[0].create_revision, 7);
        CHECK_EQ_I(kvs.kvs[0].mod_revision, INT64_MAX);
        CHECK_EQ_I(kvs.kvs[0].version, INT64_MIN);
        CHECK_EQ_I(kvs.kvs[0].lease, 2324035579033170730LL);
    }
    etcd_kvs_deinit(&kvs);
}

/* Found by test/fuzz/fuzz_etcd: "kvs" as an object (not an array) had its
 * members read into an array of none: a NULL dereference in every etcd_get
 * caller. Anything but an array there is refused. */
UNIT_TEST(answer_kvs_not_an_array_is_refused)
{
    static const char *const bad[] = {
        "{\"kvs\":{\"a\":{\"key\":\"AA==\"}}}",
        "{\"kvs\":{\"a\":1,\"b\":2}}",
        "{\"kvs\":\"AA==\"}",
        "{\"kvs\":null}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct etcd_kvs kvs;
        CHECK_EQ_I(range_of(bad[i], &kvs), JUNO_EPROTO);
        CHECK(kvs.n == 0 && kvs.kvs == NULL);
    }
    struct etcd_kvs kvs;
    CHECK_EQ_I(range_of("{\"kvs\":[]}", &kvs), 0);
    CHECK_EQ_U(kvs.n, 0);
    etcd_kvs_deinit(&kvs);
}

struct cutlog {
    char text[512];
    size_t len;
};

static void
cutlog_event(void *arg, const struct etcd_event *ev)
{
    struct cutlog *g = arg;
    g->len += (size_t)snprintf(g->text + g->len, sizeof(g->text) - g->len, "%s %s=%s@%lld;",
                               ev->type == ETCD_EV_DELETE ? "DEL" : "PUT", ev->kv->key,
                               ev->kv->value, (long long)ev->revision);
}

/* One revision may change several keys (a txn, a prefix delete, a lease's
 * keys): etcd sends their events in one message, all at that revision. Each
 * must be delivered; only events at or below the revision already seen
 * before the message are repeats. */
UNIT_TEST(watch_delivers_every_event_of_a_revision)
{
    char msg[] = "{\"result\":{\"events\":["
                 "{\"kv\":{\"key\":\"L2E=\",\"mod_revision\":\"23\"}},"
                 "{\"kv\":{\"key\":\"L2I=\",\"mod_revision\":\"23\"}},"
                 "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2M=\",\"mod_revision\":\"23\"}}]}}\n"
                 "{\"result\":{\"events\":[{\"kv\":{\"key\":\"L2E=\",\"mod_revision\":\"23\"}},"
                 "{\"kv\":{\"key\":\"L2Q=\",\"mod_revision\":\"24\"}}]}}\n";
    struct cutlog g = {.len = 0};
    struct etcd__wstate s = {.fn = cutlog_event, .arg = &g, .last = 22};
    CHECK_EQ_U(etcd__watch_data(msg, 1, strlen(msg), &s), strlen(msg));
    free(s.line.p);
    CHECK(strcmp(g.text, "PUT /a=@23;PUT /b=@23;DEL /c=@23;PUT /d=@24;") == 0);
    CHECK_EQ_I(s.last, 24);
}

/* The watch stream's decoder gives the same events however curl cuts the
 * bytes, the last line without its newline included. */
UNIT_TEST(watch_stream_cut_anywhere)
{
    static const char stream[] =
        "{\"result\":{\"header\":{\"revision\":\"18\"},\"created\":true}}\n"
        "{\"result\":{\"events\":[{\"kv\":{\"key\":\"L2E=\",\"mod_revision\":\"19\","
        "\"value\":\"eA==\"}},{\"kv\":{\"key\":\"L2I=\",\"mod_revision\":\"19\"}}]}}\r\n"
        "\n{\"result\":{\"header\":{\"revision\":\"25\"}}}\n"
        "{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2E=\","
        "\"mod_revision\":\"26\"}}]}}";
    size_t n = sizeof(stream) - 1;
    for (size_t piece = 1; piece <= n; piece++) {
        struct cutlog g = {.len = 0};
        struct etcd__wstate s = {.fn = cutlog_event, .arg = &g, .last = 10};
        char buf[sizeof(stream)];
        memcpy(buf, stream, n);
        for (size_t off = 0; off < n; off += piece) {
            size_t k = n - off < piece ? n - off : piece;
            CHECK_EQ_U(etcd__watch_data(buf + off, 1, k, &s), k);
        }
        etcd__watch_message(&s, s.line.p, s.line.len); /* the last line, as stream() does */
        free(s.line.p);
        CHECK(strcmp(g.text, "PUT /a=x@19;PUT /b=@19;DEL /a=@26;") == 0);
        CHECK_EQ_I(s.last, 26);
        CHECK(s.created && !s.broken);
    }
}

UNIT_TEST(endpoints_parse)
{
    char err[128];
    struct etcd *e = etcd_create("http://127.0.0.1:1/,https://h:2", NULL, err, sizeof(err));
    CHECK(e != NULL);
    if (e) CHECK_STR(etcd_endpoints(e), "http://127.0.0.1:1/,https://h:2");
    etcd_destroy(e);
    CHECK(etcd_create("127.0.0.1:2379", NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "http://") != NULL);
    CHECK(etcd_create("http://a:1,,http://b:2", NULL, err, sizeof(err)) == NULL);
    CHECK(etcd_create("", NULL, err, sizeof(err)) == NULL);
}

/* etcd's answers about credentials (verified against etcd 3.4.23's gateway):
 * a token it no longer takes means "authenticate again", a wrong password,
 * no permission or a client certificate the gateway will not pass on mean
 * "refused" (JUNO_EACCES), each with a message that says so. */
UNIT_TEST(answer_auth_verdicts)
{
    static const struct {
        long status;
        const char *body;
        int rc;
        const char *says;
    } v[] = {
        {401, "{\"error\":\"etcdserver: invalid auth token\",\"code\":16}", ETCD__REAUTH,
         "invalid auth token"},
        {400, "{\"error\":\"etcdserver: user name is empty\",\"code\":3}", ETCD__REAUTH,
         "user name is empty"},
        {400, "{\"error\":\"etcdserver: revision of auth store is old\",\"code\":3}", ETCD__REAUTH,
         "is old"},
        {400,
         "{\"error\":\"etcdserver: authentication failed, invalid user ID or password\","
         "\"code\":3}",
         JUNO_EACCES, "authentication failed"},
        {403, "{\"error\":\"etcdserver: permission denied\",\"code\":7}", JUNO_EACCES,
         "permission denied"},
        {400,
         "CommonName of client sending a request against gateway will be ignored and not "
         "used as expected\n",
         JUNO_EACCES, "a client certificate with a Common Name"},
        {412, "{\"error\":\"etcdserver: authentication is not enabled\",\"code\":9}", JUNO_EPROTO,
         "authentication is not enabled"},
        {400, "{\"error\":\"etcdserver: key is not provided\",\"code\":3}", JUNO_EINVAL,
         "key is not provided"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        cJSON *res = NULL;
        int next = 0;
        int rc = etcd__answer("https://t", "/v3/kv/range", v[i].status, v[i].body,
                              strlen(v[i].body), &res, &next);
        CHECK_EQ_I(rc, v[i].rc);
        CHECK(res == NULL);
        CHECK(strstr(etcd_strerror(), v[i].says) != NULL);
        if (rc == ETCD__REAUTH) CHECK_EQ_I(next, JUNO_EACCES);
    }
}

UNIT_TEST(tls_hints)
{
    const char *s = "https://127.0.0.1:2379", *h = "http://127.0.0.1:2379";
    CHECK(strstr(etcd__tls_hint(s, 0, CURLE_SEND_ERROR), "--etcd-cert and --etcd-key") != NULL);
    CHECK(strstr(etcd__tls_hint(s, 0, CURLE_RECV_ERROR), "require a client certificate") != NULL);
    CHECK(strstr(etcd__tls_hint(s, 1, CURLE_RECV_ERROR), "--trusted-ca-file") != NULL);
    CHECK(strstr(etcd__tls_hint(s, 1, CURLE_SSL_CONNECT_ERROR), "refused the TLS") != NULL);
    CHECK(strstr(etcd__tls_hint(s, 0, CURLE_PEER_FAILED_VERIFICATION), "--etcd-ca") != NULL);
    CHECK(strstr(etcd__tls_hint(h, 0, CURLE_GOT_NOTHING), "serve https") != NULL);
    CHECK(strstr(etcd__tls_hint(h, 0, CURLE_RECV_ERROR), "serve https") != NULL);
    CHECK_STR(etcd__tls_hint(h, 0, CURLE_COULDNT_CONNECT), "");
    CHECK_STR(etcd__tls_hint(s, 0, CURLE_COULDNT_CONNECT), "");
    CHECK_STR(etcd__tls_hint(s, 0, CURLE_GOT_NOTHING), "");
}

UNIT_TEST(create_tls_and_auth_options)
{
    char err[256];
    struct etcd_opts ok = {.ca_file = "ca.pem",
                           .cert_file = "c.pem",
                           .key_file = "c.key",
                           .user = "juno",
                           .password = "pw"};
    struct etcd *e = etcd_create("https://a:1,https://b:2", &ok, err, sizeof(err));
    CHECK(e != NULL);
    etcd_destroy(e);
    struct etcd_opts o = ok;
    o.key_file = NULL;
    CHECK(etcd_create("https://a:1", &o, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "needs its key") != NULL);
    o = ok;
    o.password = NULL;
    CHECK(etcd_create("https://a:1", &o, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "needs a password") != NULL);
    o = ok;
    o.user = "";
    CHECK(etcd_create("https://a:1", &o, err, sizeof(err)) == NULL);
    CHECK(etcd_create("https://a:1,http://b:2", &ok, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "'http://b:2'") != NULL && strstr(err, "https://") != NULL);
    /* auth alone over http is allowed (loopback), and TLS without files too */
    struct etcd_opts a = {.user = "juno", .password = "pw"};
    e = etcd_create("http://a:1", &a, err, sizeof(err));
    CHECK(e != NULL);
    etcd_destroy(e);
    e = etcd_create("https://a:1", NULL, err, sizeof(err));
    CHECK(e != NULL);
    /* without a user: the shared headers, and no token */
    struct curl_slist *h = NULL;
    uint64_t gen = 9;
    CHECK_EQ_I(etcd__auth_headers(e, &h, &gen), 0);
    int n = 0, auth = 0;
    for (struct curl_slist *l = h; l; l = l->next, n++)
        auth |= strstr(l->data, "Authorization") != NULL;
    CHECK_EQ_I(n, 3);
    CHECK(!auth && gen == 0);
    curl_slist_free_all(h);
    etcd_destroy(e);
}

/* A watch refused at creation for its token: authenticate again and watch
 * on; refused for history: read everything again. */
UNIT_TEST(watch_cancel_reasons)
{
    struct cutlog g = {"", 0};
    struct etcd__wstate s = {.fn = cutlog_event, .arg = &g, .last = 5};
    const char *tok = "{\"result\":{\"header\":{\"revision\":\"9\"},\"watch_id\":\"-1\","
                      "\"created\":true,\"canceled\":true,\"cancel_reason\":\"rpc error: code = "
                      "Unauthenticated desc = etcdserver: invalid auth token\"}}";
    etcd__watch_message(&s, tok, strlen(tok));
    CHECK(s.reauth && s.broken && !s.resnapshot && !s.created);
    CHECK(strstr(etcd_strerror(), "invalid auth token") != NULL);
    struct etcd__wstate c = {.fn = cutlog_event, .arg = &g, .last = 5};
    const char *comp = "{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"22\"}}";
    etcd__watch_message(&c, comp, strlen(comp));
    CHECK(c.resnapshot && c.broken && !c.reauth);
    CHECK_EQ_U(g.len, 0);
}

int
main(void)
{
    RUN(base64_vectors);
    RUN(prefix_end);
    RUN(answer_int64_fields_out_of_range_are_refused);
    RUN(answer_kvs_not_an_array_is_refused);
    RUN(watch_delivers_every_event_of_a_revision);
    RUN(watch_stream_cut_anywhere);
    RUN(endpoints_parse);
    RUN(answer_auth_verdicts);
    RUN(tls_hints);
    RUN(create_tls_and_auth_options);
    RUN(watch_cancel_reasons);
    return unit_done();
}
