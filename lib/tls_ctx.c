/* tls_ctx.c: TLS contexts: made from PEM files, reloaded (see tls.h).
 *
 * Every context allows TLS 1.2 and 1.3 only, refuses renegotiation and
 * compression, and keeps no session cache: juno's clients do not resume
 * sessions, and a server without one sends no tickets (less to send in a
 * handshake, nothing kept per client). A reload builds a new SSL_CTX and
 * swaps it in under the context's lock; an SSL_CTX is reference-counted by
 * the sessions made from it, so open sessions keep theirs.
 */
#include "tls_int.h"

#include "error.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_ctx {
    enum tls_role role;
    char *cert, *key, *ca; /* owned copies of the paths */
    uint64_t handshake_ms;
    unsigned max_handshakes;
    int cert_optional;  /* server with a CA: ask for a client certificate, do not require one */
    pthread_mutex_t mu; /* cur */
    SSL_CTX *cur;       /* owned reference */
};

/* The reason of the last OpenSSL error in words; the queue is emptied. */
static const char *
tls__last_error(char *buf, size_t cap)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0) last = e;
    const char *r = last ? ERR_reason_error_string(last) : NULL;
    if (r != NULL) return r;
    if (last == 0) return "unknown error";
    ERR_error_string_n(last, buf, cap);
    return buf;
}

static SSL_CTX *
tls__build(const struct tls_ctx *c, char *err, size_t errlen)
{
    char eb[256];
    ERR_clear_error();
    SSL_CTX *x = SSL_CTX_new(c->role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (x == NULL) {
        snprintf(err, errlen, "cannot make a TLS context: %s", tls__last_error(eb, sizeof(eb)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
    SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS); /* an idle connection keeps no buffers */
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
    if (c->role == TLS_SERVER) SSL_CTX_set_num_tickets(x, 0);
    const char *what = NULL, *file = NULL;
    if (c->cert != NULL) {
        if (SSL_CTX_use_certificate_chain_file(x, c->cert) != 1)
            what = "certificate", file = c->cert;
        else if (SSL_CTX_use_PrivateKey_file(x, c->key, SSL_FILETYPE_PEM) != 1)
            what = "key", file = c->key;
        else if (SSL_CTX_check_private_key(x) != 1)
            what = "key (it does not match the certificate)", file = c->key;
    }
    if (what == NULL && c->ca != NULL) {
        if (SSL_CTX_load_verify_locations(x, c->ca, NULL) != 1) {
            what = "CA", file = c->ca;
        } else if (c->role == TLS_SERVER) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca);
            if (names == NULL)
                what = "CA", file = c->ca;
            else
                SSL_CTX_set_client_CA_list(x, names);
        }
    } else if (what == NULL && c->role == TLS_CLIENT && SSL_CTX_set_default_verify_paths(x) != 1) {
        what = "system CA store", file = "(default)";
    }
    if (what != NULL) {
        snprintf(err, errlen, "cannot load TLS %s %s: %s", what, file,
                 tls__last_error(eb, sizeof(eb)));
        SSL_CTX_free(x);
        return NULL;
    }
    if (c->role == TLS_CLIENT)
        SSL_CTX_set_verify(x, SSL_VERIFY_PEER, tls__verify_cb);
    else if (c->ca != NULL) /* a certificate sent is checked either way */
        SSL_CTX_set_verify(
            x, SSL_VERIFY_PEER | (c->cert_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
            tls__verify_cb);
    return x;
}

static char *
tls__dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct tls_ctx *
tls_ctx_create(enum tls_role role, const struct tls_config *cfg, char *err, size_t errlen)
{
    if (role == TLS_SERVER && (cfg->cert == NULL || cfg->key == NULL)) {
        snprintf(err, errlen, "a TLS server needs a certificate and its key");
        return NULL;
    }
    if ((cfg->cert == NULL) != (cfg->key == NULL)) {
        snprintf(err, errlen, "a TLS certificate needs its key, and a key its certificate");
        return NULL;
    }
    struct tls_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->role = role;
    c->cert = tls__dup(cfg->cert);
    c->key = tls__dup(cfg->key);
    c->ca = tls__dup(cfg->ca);
    c->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : TLS_HANDSHAKE_MS;
    c->cert_optional = cfg->client_cert_optional;
    c->max_handshakes = cfg->max_handshakes ? cfg->max_handshakes : TLS_MAX_HANDSHAKES;
    pthread_mutex_init(&c->mu, NULL);
    if ((cfg->cert && !c->cert) || (cfg->key && !c->key) || (cfg->ca && !c->ca)) {
        snprintf(err, errlen, "out of memory");
        tls_ctx_destroy(c);
        return NULL;
    }
    c->cur = tls__build(c, err, errlen);
    if (c->cur == NULL) {
        tls_ctx_destroy(c);
        return NULL;
    }
    return c;
}

void
tls_ctx_destroy(struct tls_ctx *c)
{
    if (c == NULL) return;
    SSL_CTX_free(c->cur); /* sessions hold their own references */
    pthread_mutex_destroy(&c->mu);
    free(c->cert);
    free(c->key);
    free(c->ca);
    free(c);
}

int
tls_ctx_reload(struct tls_ctx *c, char *err, size_t errlen)
{
    SSL_CTX *x = tls__build(c, err, errlen);
    if (x == NULL) return JUNO_EINVAL;
    pthread_mutex_lock(&c->mu);
    SSL_CTX *old = c->cur;
    c->cur = x;
    pthread_mutex_unlock(&c->mu);
    SSL_CTX_free(old);
    return 0;
}

SSL *
tls__new_ssl(struct tls_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    SSL *s = SSL_new(c->cur);
    pthread_mutex_unlock(&c->mu);
    return s;
}

uint64_t
tls_ctx_handshake_ms(const struct tls_ctx *c)
{
    return c->handshake_ms;
}

unsigned
tls_ctx_max_handshakes(const struct tls_ctx *c)
{
    return c->max_handshakes;
}

int
tls_ctx_mutual(const struct tls_ctx *c)
{
    return c->role == TLS_SERVER && c->ca != NULL;
}
