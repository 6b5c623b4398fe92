/* tls.c: TLS sessions on a memory BIO (see tls.h); contexts are tls_ctx.c.
 *
 * The session's BIO reads the ciphertext the caller fed from t->in and
 * writes the records OpenSSL makes to t->out; with nothing to read it
 * answers "retry", so OpenSSL says WANT_READ where a socket would block. It
 * is a small BIO of our own over two struct buf rather than OpenSSL's
 * BIO_s_mem: that one reallocates and wipes its buffer on the next write
 * after every read (BUF_MEM_grow_clean), some 4,000 instructions a feed,
 * while ours keeps its memory, and tls_output hands the records over by
 * swapping buffers, not copying. OpenSSL's error queue is per thread: every
 * call clears it first and reads it right after, so one connection's errors
 * never show up in another's.
 */
#include "tls_int.h"

#include "error.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_RECORD_TYPE_HANDSHAKE 0x16

#define TLS_KEEP (4 * BUF_MIN_CAP) /* the most an idle buffer keeps */

struct tls {
    SSL *ssl;      /* owned, and its BIO */
    struct buf in; /* ciphertext fed, not yet read by OpenSSL: from in_off */
    size_t in_off;
    struct buf out; /* ciphertext OpenSSL wrote, for tls_output */
    int server, done, received;
    uint8_t head[8]; /* the first bytes received */
    size_t nhead;
    int reason;      /* enum tls_reason, once failed */
    long verify_err; /* the first certificate check that failed, 0: none */
    int verify_depth;
    char subject[160]; /* of the peer's certificate (or the one that failed) */
    char detail[300];
};

static const char *const reason_names[] = {
#define XX(name, label, what) label,
    TLS_REASON_MAP(XX)
#undef XX
};

const char *
tls_reason_name(int reason)
{
    return reason >= 0 && reason < TLS_R_COUNT ? reason_names[reason] : "unknown";
}

/* ---- certificates ---- */

void
tls__subject(X509 *cert, char *out, size_t cap)
{
    out[0] = '\0';
    BIO *b = cert ? BIO_new(BIO_s_mem()) : NULL;
    if (b == NULL) return;
    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    int n = BIO_read(b, out, (int)cap - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

int
tls__verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!ok && t != NULL && t->verify_err == 0) {
        t->verify_err = X509_STORE_CTX_get_error(store);
        t->verify_depth = X509_STORE_CTX_get_error_depth(store);
        tls__subject(X509_STORE_CTX_get_current_cert(store), t->subject, sizeof(t->subject));
    }
    return ok;
}

/* ---- the BIO ---- */

static int
tbio_write(BIO *b, const char *data, int len)
{
    struct tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    if (buf_reserve(&t->out, (size_t)len) != 0) return -1;
    memcpy(t->out.data + t->out.len, data, (size_t)len);
    t->out.len += (size_t)len;
    return len;
}

static int
tbio_read(BIO *b, char *dst, int len)
{
    struct tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t have = t->in.len - t->in_off;
    if (have == 0) {
        BIO_set_retry_read(b); /* more ciphertext to come */
        return -1;
    }
    size_t n = len > 0 && (size_t)len < have ? (size_t)len : have;
    memcpy(dst, t->in.data + t->in_off, n);
    t->in_off += n;
    if (t->in_off == t->in.len) { /* all read: start over, keeping the memory */
        t->in.len = t->in_off = 0;
        if (t->in.cap > TLS_KEEP) buf_free(&t->in);
    }
    return (int)n;
}

static long
tbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    struct tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return t ? (long)(t->in.len - t->in_off) : 0;
    case BIO_CTRL_WPENDING: return t ? (long)t->out.len : 0;
    default: return 0;
    }
}

static int
tbio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *tbio_method; /* made once, shared by every thread */
static pthread_once_t tbio_once = PTHREAD_ONCE_INIT;

static void
tbio_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "juno buffer");
    if (m == NULL || !BIO_meth_set_write(m, tbio_write) || !BIO_meth_set_read(m, tbio_read) ||
        !BIO_meth_set_ctrl(m, tbio_ctrl) || !BIO_meth_set_create(m, tbio_create)) {
        BIO_meth_free(m);
        return;
    }
    tbio_method = m;
}

/* ---- sessions ---- */

/* Empty the thread's error queue before an SSL call, so that SSL_get_error
 * speaks of that call only. ERR_clear_error wipes every slot of the queue
 * (some 800 instructions under callgrind); looking first costs a tenth,
 * and the queue is empty but after a failure. */
static void
tls__clear_errors(void)
{
    if (ERR_peek_error() != 0) ERR_clear_error();
}

static int
is_ip(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct tls *
tls_create(struct tls_ctx *ctx, const char *host)
{
    struct tls *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    pthread_once(&tbio_once, tbio_make);
    t->ssl = tls__new_ssl(ctx);
    BIO *bio = tbio_method ? BIO_new(tbio_method) : NULL;
    if (t->ssl == NULL || bio == NULL) {
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio); /* one reference, for reading and writing */
    SSL_set_app_data(t->ssl, t);
    t->server = SSL_is_server(t->ssl);
    if (t->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        int ok = 1;
        if (host != NULL && is_ip(host)) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) == 1;
        } else if (host != NULL) {
            SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set_tlsext_host_name(t->ssl, host) == 1 && SSL_set1_host(t->ssl, host) == 1;
        }
        if (!ok) {
            tls_destroy(t);
            return NULL;
        }
    }
    return t;
}

void
tls_destroy(struct tls *t)
{
    if (t == NULL) return;
    SSL_free(t->ssl); /* and its BIO */
    buf_free(&t->in);
    buf_free(&t->out);
    free(t);
}

int
tls_feed(struct tls *t, const uint8_t *data, size_t len)
{
    if (len == 0) return 0;
    t->received = 1;
    for (size_t i = 0; t->nhead < sizeof(t->head) && i < len; i++) t->head[t->nhead++] = data[i];
    if (len > INT32_MAX / 2) return JUNO_ENOMEM; /* the BIO counts in int */
    buf_consume(&t->in, t->in_off);              /* what OpenSSL read goes first */
    t->in_off = 0;
    if (buf_reserve(&t->in, len) != 0) return JUNO_ENOMEM;
    memcpy(t->in.data + t->in.len, data, len);
    t->in.len += len;
    return 0;
}

/* Record why the session failed (after an SSL call returned ret <= 0). */
static void
tls__failed(struct tls *t, int ret)
{
    int sslerr = SSL_get_error(t->ssl, ret);
    unsigned long e = ERR_peek_error(); /* the first error is the cause */
    int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
    const char *rs = e ? ERR_reason_error_string(e) : NULL;
    char buf[128];
    if (rs == NULL && e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        rs = buf;
    }
    ERR_clear_error();
    if (t->verify_err != 0 || (lib == ERR_LIB_SSL && r == SSL_R_CERTIFICATE_VERIFY_FAILED)) {
        long v = t->verify_err ? t->verify_err : SSL_get_verify_result(t->ssl);
        t->reason = v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID
                        ? TLS_R_EXPIRED
                        : TLS_R_UNTRUSTED;
        snprintf(t->detail, sizeof(t->detail), "certificate verify failed: %s (depth %d)",
                 X509_verify_cert_error_string(v), t->verify_depth);
    } else if (lib == ERR_LIB_SSL && r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        t->reason = TLS_R_NO_CERT;
        snprintf(t->detail, sizeof(t->detail), "a client certificate is required; none was sent");
    } else if (lib == ERR_LIB_SSL &&
               (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_VERSION_TOO_LOW ||
                r == SSL_R_NO_PROTOCOLS_AVAILABLE)) {
        t->reason = TLS_R_VERSION;
        snprintf(t->detail, sizeof(t->detail), "%s (TLS 1.2 and 1.3 only)", rs);
    } else if (lib == ERR_LIB_SSL && r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256) {
        t->reason = TLS_R_ALERT;
        snprintf(t->detail, sizeof(t->detail), "the peer refused: %s", rs);
    } else if (e == 0 && (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN)) {
        t->reason = TLS_R_CLOSED;
        snprintf(t->detail, sizeof(t->detail), "the peer closed the connection");
    } else if (lib == ERR_LIB_SSL && r == SSL_R_HTTP_REQUEST) {
        t->reason = TLS_R_NOT_TLS;
        snprintf(t->detail, sizeof(t->detail), "an HTTP request, not TLS");
    } else {
        t->reason = TLS_R_PROTOCOL;
        snprintf(t->detail, sizeof(t->detail), "%s", rs ? rs : "handshake failed");
    }
}

/* A server's first byte must open a handshake record: anything else is a
 * plaintext client (a JunoDB frame starts 0x50 0x50, RESP '*', HTTP a letter). */
static int
tls__not_tls(struct tls *t)
{
    if (!t->server || t->nhead == 0 || t->head[0] == TLS_RECORD_TYPE_HANDSHAKE) return 0;
    char hex[3 * sizeof(t->head) + 1] = "";
    size_t n = 0;
    for (size_t i = 0; i < t->nhead && i < sizeof(t->head); i++)
        n += (size_t)snprintf(hex + n, sizeof(hex) - n, i ? " %02x" : "%02x", t->head[i]);
    t->reason = TLS_R_NOT_TLS;
    int junodb = t->nhead >= 2 && t->head[0] == 0x50 && t->head[1] == 0x50; /* its magic */
    snprintf(t->detail, sizeof(t->detail), "the first bytes are not a TLS handshake: %s%s", hex,
             junodb              ? " (a JunoDB message)"
             : t->head[0] == '*' ? " (a RESP command)"
                                 : "");
    return 1;
}

int
tls_handshake(struct tls *t)
{
    if (t->done) return TLS_OK;
    if (tls__not_tls(t)) return JUNO_EPROTO;
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->done = 1;
        tls__subject(SSL_get0_peer_certificate(t->ssl), t->subject, sizeof(t->subject));
        return TLS_OK;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TLS_AGAIN;
    tls__failed(t, rc);
    return JUNO_EPROTO;
}

int
tls_read(struct tls *t, struct buf *out)
{
    for (;;) {
        if (out->cap - out->len < 4096 && buf_reserve(out, 16384) != 0) return JUNO_ENOMEM;
        size_t room = out->cap - out->len;
        tls__clear_errors();
        int n = SSL_read(t->ssl, out->data + out->len, room > INT32_MAX ? INT32_MAX : (int)room);
        if (n > 0) {
            out->len += (size_t)n;
            /* all fed ciphertext read and no plaintext left over: another
             * SSL_read would only say WANT_READ (OpenSSL reads a record's
             * header, then exactly its body). Skipping it halves the calls
             * for one GET a round trip: 2.00 -> 1.00 per request. */
            if (t->in.len == t->in_off && SSL_pending(t->ssl) == 0) return 0;
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
        if (e == SSL_ERROR_ZERO_RETURN) return JUNO_EOF;
        tls__failed(t, n);
        return JUNO_EPROTO;
    }
}

int
tls_output(struct tls *t, struct buf *out)
{
    if (t->out.len == 0) return 0;
    if (out->len == 0) { /* the usual case: hand the records over, no copy */
        struct buf b = *out;
        *out = t->out;
        t->out = b;
        if (t->out.cap > TLS_KEEP) buf_free(&t->out);
        return 0;
    }
    if (buf_reserve(out, t->out.len) != 0) return JUNO_ENOMEM;
    memcpy(out->data + out->len, t->out.data, t->out.len);
    out->len += t->out.len;
    t->out.len = 0;
    return 0;
}

int
tls_write(struct tls *t, const uint8_t *data, size_t len, struct buf *out)
{
    while (len > 0) {
        tls__clear_errors();
        int n = SSL_write(t->ssl, data, len > (1u << 30) ? 1 << 30 : (int)len);
        if (n <= 0) {
            tls__failed(t, n);
            return JUNO_EPROTO;
        }
        data += n;
        len -= (size_t)n;
    }
    return tls_output(t, out);
}

void
tls_shutdown(struct tls *t)
{
    ERR_clear_error();
    if (t->done) SSL_shutdown(t->ssl);
    ERR_clear_error();
}

int
tls_reason(const struct tls *t)
{
    return t->reason;
}

const char *
tls_detail(const struct tls *t)
{
    return t->detail;
}

const char *
tls_peer_subject(const struct tls *t)
{
    return t->subject;
}

const char *
tls_version(const struct tls *t)
{
    return SSL_get_version(t->ssl);
}

const char *
tls_cipher(const struct tls *t)
{
    return SSL_get_cipher_name(t->ssl);
}

int
tls_received(const struct tls *t)
{
    return t->received;
}
