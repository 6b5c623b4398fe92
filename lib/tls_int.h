/* tls_int.h: what tls_ctx.c (contexts) and tls.c (sessions) share. */
#ifndef JUNO_TLS_INT_H
#define JUNO_TLS_INT_H

#include "tls.h"

#include <openssl/ssl.h>

/* A new SSL object from ctx's current SSL_CTX (under its lock), or NULL. */
SSL *tls__new_ssl(struct tls_ctx *ctx);

/* The verify callback every context installs: it records the first failure
 * (error, depth, certificate subject) in the session (tls__verify_failed). */
int tls__verify_cb(int ok, X509_STORE_CTX *store);

/* The subject of cert in RFC 2253 form ("CN=a,O=b") into out. */
void tls__subject(X509 *cert, char *out, size_t cap);

#endif
