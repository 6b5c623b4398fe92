/* test_tls.c: lib/tls sessions, both ends in this process, their bytes
 * carried by the test (whole flights, or one byte at a time). Certificates
 * are made here with OpenSSL: a CA, another CA, leaves for 127.0.0.1 and
 * localhost, an expired one.
 */
#include "unit.h"

#include "buf.h"
#include "error.h"
#include "tls.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static long serial = 1;

static EVP_PKEY *
mkkey(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for cn valid from now + from_s to now + to_s, signed by
 * issuer (NULL: self-signed, a CA). */
static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long from_s, long to_s)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    if (issuer == NULL) {
        add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    }
    X509_sign(x, ikey ? ikey : key, EVP_sha256());
    return x;
}

static void
save(const char *name, X509 *x, EVP_PKEY *k)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    if (k == NULL) return;
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    f = fopen(path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

static const char *
path(const char *name, const char *ext)
{
    static char p[8][128];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof(p[i]), "%s/%s.%s", dir, name, ext);
    return p[i];
}

static void
make_certs(void)
{
    snprintf(dir, sizeof(dir), "/tmp/juno-test-tls.XXXXXX");
    if (mkdtemp(dir) == NULL) abort();
    EVP_PKEY *cak = mkkey(), *otherk = mkkey();
    X509 *ca = mkcert("test CA", cak, NULL, NULL, 0, 86400);
    X509 *other = mkcert("other CA", otherk, NULL, NULL, 0, 86400);
    save("ca", ca, cak);
    save("other", other, otherk);
    struct {
        const char *name;
        X509 *issuer;
        EVP_PKEY *ikey;
        long from, to;
    } leaves[] = {
        {"server", ca, cak, 0, 86400},         {"client", ca, cak, 0, 86400},
        {"server2", ca, cak, 0, 86400},        {"stranger", other, otherk, 0, 86400},
        {"expired", ca, cak, -172800, -86400},
    };
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        EVP_PKEY *k = mkkey();
        X509 *x = mkcert(leaves[i].name, k, leaves[i].issuer, leaves[i].ikey, leaves[i].from,
                         leaves[i].to);
        save(leaves[i].name, x, k);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    X509_free(ca);
    X509_free(other);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otherk);
}

static struct tls_ctx *
ctx(enum tls_role role, const char *cert, const char *ca)
{
    char err[300];
    struct tls_config c = {.cert = cert ? path(cert, "pem") : NULL,
                           .key = cert ? path(cert, "key") : NULL,
                           .ca = ca ? path(ca, "pem") : NULL};
    struct tls_ctx *x = tls_ctx_create(role, &c, err, sizeof(err));
    if (x == NULL) printf("# %s\n", err);
    return x;
}

/* Move what from has made to to, step bytes at a time; after each piece,
 * move to's handshake on (*rc) while it is in progress. */
static void
carry(struct tls *from, struct tls *to, size_t step, int *rc)
{
    struct buf o = {0};
    CHECK_EQ_I(tls_output(from, &o), 0);
    for (size_t i = 0; i < o.len; i += step) {
        size_t n = o.len - i < step ? o.len - i : step;
        CHECK_EQ_I(tls_feed(to, o.data + i, n), 0);
        if (*rc == TLS_AGAIN) *rc = tls_handshake(to);
    }
    buf_free(&o);
}

/* Run the handshake of client c and server s to its end. */
static void
handshake(struct tls *c, struct tls *s, size_t step, int *crc, int *src)
{
    *crc = tls_handshake(c);
    *src = TLS_AGAIN;
    for (int round = 0; round < 20 && (*crc == TLS_AGAIN || *src == TLS_AGAIN); round++) {
        carry(c, s, step, src);
        carry(s, c, step, crc);
    }
    carry(c, s, step, src); /* the client's last flight, or its alert */
}

static void
pair(const char *scert, const char *sca, const char *ccert, const char *cca, const char *host,
     struct tls_ctx **sx, struct tls_ctx **cx, struct tls **s, struct tls **c)
{
    *sx = ctx(TLS_SERVER, scert, sca);
    *cx = ctx(TLS_CLIENT, ccert, cca);
    *s = *sx ? tls_create(*sx, NULL) : NULL;
    *c = *cx ? tls_create(*cx, host) : NULL;
}

static void
unpair(struct tls_ctx *sx, struct tls_ctx *cx, struct tls *s, struct tls *c)
{
    tls_destroy(s);
    tls_destroy(c);
    tls_ctx_destroy(sx);
    tls_ctx_destroy(cx);
}

/* Send msg from a to b and read it there. */
static int
roundtrip(struct tls *a, struct tls *b, const char *msg)
{
    struct buf wire = {0}, got = {0};
    int ok = tls_write(a, (const uint8_t *)msg, strlen(msg), &wire) == 0 &&
             tls_feed(b, wire.data, wire.len) == 0 && tls_read(b, &got) == 0 &&
             got.len == strlen(msg) && memcmp(got.data, msg, got.len) == 0;
    buf_free(&wire);
    buf_free(&got);
    return ok;
}

static void
mutual_ok(size_t step)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", "ca", "client", "ca", "127.0.0.1", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, step, &crc, &src);
    CHECK_EQ_I(crc, TLS_OK);
    CHECK_EQ_I(src, TLS_OK);
    CHECK_STR(tls_peer_subject(s), "CN=client");
    CHECK_STR(tls_peer_subject(c), "CN=server");
    CHECK(strcmp(tls_version(c), "TLSv1.3") == 0);
    CHECK(roundtrip(c, s, "ping"));
    CHECK(roundtrip(s, c, "pong"));
    /* close_notify ends the stream */
    struct buf wire = {0}, got = {0};
    tls_shutdown(c);
    CHECK_EQ_I(tls_output(c, &wire), 0);
    CHECK_EQ_I(tls_feed(s, wire.data, wire.len), 0);
    CHECK_EQ_I(tls_read(s, &got), JUNO_EOF);
    buf_free(&wire);
    buf_free(&got);
    unpair(sx, cx, s, c);
}

UNIT_TEST(mutual_handshake_in_whole_flights)
{
    mutual_ok(1u << 20);
}

UNIT_TEST(mutual_handshake_one_byte_at_a_time)
{
    mutual_ok(1);
}

UNIT_TEST(a_large_write_is_split_into_records_and_read_back_whole)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", NULL, NULL, "ca", "localhost", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, 4096, &crc, &src);
    CHECK_EQ_I(crc, TLS_OK);
    CHECK_EQ_I(src, TLS_OK);
    CHECK_STR(tls_peer_subject(s), ""); /* no client certificate asked */
    size_t n = 1u << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 31);
    struct buf wire = {0}, got = {0};
    CHECK_EQ_I(tls_write(s, big, n, &wire), 0);
    CHECK(wire.len > n);
    for (size_t i = 0; i < wire.len; i += 1000) { /* fed in pieces that cut records */
        CHECK_EQ_I(tls_feed(c, wire.data + i, wire.len - i < 1000 ? wire.len - i : 1000), 0);
        CHECK_EQ_I(tls_read(c, &got), 0);
    }
    CHECK_MEM(got.data, got.len, big, n);
    free(big);
    buf_free(&wire);
    buf_free(&got);
    unpair(sx, cx, s, c);
}

UNIT_TEST(plaintext_to_a_tls_server_is_not_tls)
{
    struct tls_ctx *sx = ctx(TLS_SERVER, "server", "ca");
    const char *probes[] = {"PP\x01\x40", "*1\r\n$4\r\nPING\r\n", "GET / HTTP/1.1\r\n"};
    for (size_t i = 0; i < 3; i++) {
        struct tls *s = tls_create(sx, NULL);
        CHECK_EQ_I(tls_feed(s, (const uint8_t *)probes[i], strlen(probes[i])), 0);
        CHECK_EQ_I(tls_handshake(s), JUNO_EPROTO);
        CHECK_EQ_I(tls_reason(s), TLS_R_NOT_TLS);
        CHECK(strstr(tls_detail(s), "not a TLS handshake") != NULL);
        tls_destroy(s);
    }
    tls_ctx_destroy(sx);
}

UNIT_TEST(random_bytes_in_a_handshake_record_are_a_protocol_error)
{
    struct tls_ctx *sx = ctx(TLS_SERVER, "server", "ca");
    uint8_t junk[5 + 200] = {0x16, 0x03, 0x01, 0x00, 200};
    srand(7);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 5; i < sizeof(junk); i++) junk[i] = (uint8_t)rand();
        struct tls *s = tls_create(sx, NULL);
        CHECK_EQ_I(tls_feed(s, junk, sizeof(junk)), 0);
        int rc = tls_handshake(s);
        CHECK_EQ_I(rc, JUNO_EPROTO);
        CHECK(tls_reason(s) == TLS_R_PROTOCOL || tls_reason(s) == TLS_R_VERSION);
        tls_destroy(s);
    }
    tls_ctx_destroy(sx);
}

UNIT_TEST(a_client_certificate_from_another_ca_is_untrusted)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", "ca", "stranger", "ca", "127.0.0.1", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(src, JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(s), TLS_R_UNTRUSTED);
    CHECK_STR(tls_peer_subject(s), "CN=stranger");
    /* TLS 1.3: the client learns it from the alert, when it reads */
    struct buf got = {0};
    CHECK_EQ_I(tls_read(c, &got), JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(c), TLS_R_ALERT);
    buf_free(&got);
    unpair(sx, cx, s, c);
}

UNIT_TEST(an_expired_client_certificate_is_refused_as_expired)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", "ca", "expired", "ca", "127.0.0.1", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(src, JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(s), TLS_R_EXPIRED);
    CHECK(strstr(tls_detail(s), "expired") != NULL);
    unpair(sx, cx, s, c);
}

UNIT_TEST(no_client_certificate_where_one_is_required)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", "ca", NULL, "ca", "127.0.0.1", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(src, JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(s), TLS_R_NO_CERT);
    unpair(sx, cx, s, c);
}

UNIT_TEST(the_client_checks_the_server_name_and_ca)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    int crc, src;
    pair("server", NULL, NULL, "ca", "10.9.9.9", &sx, &cx, &s, &c); /* not in its names */
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(crc, JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(c), TLS_R_UNTRUSTED);
    unpair(sx, cx, s, c);
    pair("server", NULL, NULL, "other", "localhost", &sx, &cx, &s, &c); /* another CA */
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(crc, JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(c), TLS_R_UNTRUSTED);
    CHECK_EQ_I(src, JUNO_EPROTO); /* the server got the client's alert */
    CHECK_EQ_I(tls_reason(s), TLS_R_ALERT);
    unpair(sx, cx, s, c);
}

UNIT_TEST(tls_1_1_is_refused)
{
    struct tls_ctx *sx = ctx(TLS_SERVER, "server", NULL);
    struct tls *s = tls_create(sx, NULL);
    SSL_CTX *old = SSL_CTX_new(TLS_client_method()); /* a client that offers TLS 1.1 at most */
    SSL_CTX_set_security_level(old, 0);
    SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    SSL *c = SSL_new(old);
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    SSL_set_bio(c, r, w);
    SSL_set_connect_state(c);
    SSL_do_handshake(c);
    char hello[4096];
    int n = BIO_read(w, hello, sizeof(hello));
    CHECK(n > 0);
    CHECK_EQ_I(tls_feed(s, (const uint8_t *)hello, (size_t)n), 0);
    CHECK_EQ_I(tls_handshake(s), JUNO_EPROTO);
    CHECK_EQ_I(tls_reason(s), TLS_R_VERSION);
    SSL_free(c);
    SSL_CTX_free(old);
    tls_destroy(s);
    tls_ctx_destroy(sx);
}

UNIT_TEST(a_reload_serves_new_sessions_and_keeps_old_ones)
{
    struct tls_ctx *sx, *cx;
    struct tls *s, *c;
    pair("server", "ca", "client", "ca", "127.0.0.1", &sx, &cx, &s, &c);
    int crc, src;
    handshake(c, s, 1u << 20, &crc, &src);
    CHECK_EQ_I(src, TLS_OK);
    /* the files change: server2 is now where server was */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp %s %s && cp %s %s", path("server2", "pem"),
             path("server", "pem"), path("server2", "key"), path("server", "key"));
    CHECK_EQ_I(system(cmd), 0);
    char err[300];
    CHECK_EQ_I(tls_ctx_reload(sx, err, sizeof(err)), 0);
    CHECK(roundtrip(c, s, "still here"));
    struct tls *s2 = tls_create(sx, NULL), *c2 = tls_create(cx, "127.0.0.1");
    handshake(c2, s2, 1u << 20, &crc, &src);
    CHECK_EQ_I(crc, TLS_OK);
    CHECK_STR(tls_peer_subject(c2), "CN=server2");
    /* a reload from broken files is refused; the context stays as it was */
    snprintf(cmd, sizeof(cmd), "echo broken > %s", path("server", "pem"));
    CHECK_EQ_I(system(cmd), 0);
    CHECK(tls_ctx_reload(sx, err, sizeof(err)) < 0);
    CHECK(strstr(err, "certificate") != NULL);
    tls_destroy(s2);
    tls_destroy(c2);
    s2 = tls_create(sx, NULL), c2 = tls_create(cx, "127.0.0.1");
    handshake(c2, s2, 1u << 20, &crc, &src);
    CHECK_EQ_I(crc, TLS_OK);
    tls_destroy(s2);
    tls_destroy(c2);
    unpair(sx, cx, s, c);
}

UNIT_TEST(bad_files_are_refused_with_a_reason)
{
    char err[300];
    struct tls_config c = {.cert = "/nonexistent.pem", .key = "/nonexistent.key"};
    CHECK(tls_ctx_create(TLS_SERVER, &c, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent.pem") != NULL);
    struct tls_config k = {.cert = path("server2", "pem"), .key = path("client", "key")};
    CHECK(tls_ctx_create(TLS_SERVER, &k, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "key") != NULL && strstr(err, "mismatch") != NULL);
    struct tls_config none = {0};
    CHECK(tls_ctx_create(TLS_SERVER, &none, err, sizeof(err)) == NULL);
    CHECK_STR(tls_reason_name(TLS_R_NOT_TLS), "not_tls");
    CHECK_STR(tls_reason_name(TLS_R_COUNT), "unknown");
}

int
main(void)
{
    make_certs();
    RUN(mutual_handshake_in_whole_flights);
    RUN(mutual_handshake_one_byte_at_a_time);
    RUN(a_large_write_is_split_into_records_and_read_back_whole);
    RUN(plaintext_to_a_tls_server_is_not_tls);
    RUN(random_bytes_in_a_handshake_record_are_a_protocol_error);
    RUN(a_client_certificate_from_another_ca_is_untrusted);
    RUN(an_expired_client_certificate_is_refused_as_expired);
    RUN(no_client_certificate_where_one_is_required);
    RUN(the_client_checks_the_server_name_and_ca);
    RUN(tls_1_1_is_refused);
    RUN(a_reload_serves_new_sessions_and_keeps_old_ones);
    RUN(bad_files_are_refused_with_a_reason);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# cannot remove %s\n", dir);
    return unit_done();
}
