/* tls.h: TLS for juno's connections, on OpenSSL 3 (docs/security.md says
 * why OpenSSL).
 *
 * A context (struct tls_ctx) is made from PEM files: a certificate chain and
 * its key, and a CA. TLS 1.2 and 1.3 only. A server context with a CA asks
 * every client for a certificate and accepts only one the CA signed (mutual
 * TLS); without a CA it asks for none. A client context checks the server's
 * certificate against the CA (without one: the system's trust store) and
 * against the name or address connected to, and presents its own
 * certificate when it has one. tls_ctx_reload reads the files again: new
 * sessions use them, open sessions keep what they started with. Contexts are
 * shared between threads; everything else belongs to one thread.
 *
 * A session (struct tls) runs on a memory BIO: the caller moves the bytes.
 * Ciphertext read from the socket goes in with tls_feed; tls_handshake moves
 * the handshake on; tls_read appends the plaintext received; tls_write
 * encrypts; every ciphertext record to send (handshake, data, alerts) is
 * appended to a struct buf by tls_write and tls_output. lib/conn drives it
 * from libuv's read and write paths, lib/client from poll(2).
 *
 *   struct tls *t = tls_create(ctx, NULL);           server side
 *   tls_feed(t, bytes, n);
 *   rc = tls_handshake(t);   TLS_AGAIN: send tls_output(t, &out), read more
 *                            TLS_OK: established; < 0: refused, tls_reason(t)
 *   tls_read(t, &in);  tls_write(t, p, n, &out);
 *
 * A refused handshake has a reason (enum tls_reason: a short name for logs
 * and metric labels) and a detail in words ("certificate has expired",
 * "the first bytes are not TLS: 5a 4a 01 ...").
 */
#ifndef JUNO_TLS_H
#define JUNO_TLS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define TLS_OK    0
#define TLS_AGAIN 1

#define TLS_HANDSHAKE_MS   10000 /* default handshake deadline */
#define TLS_MAX_HANDSHAKES 256   /* default cap on handshakes in progress per listener */

/* XX(name, label, what): why a handshake failed. */
#define TLS_REASON_MAP(XX)                                                                         \
    XX(NOT_TLS, "not_tls", "not TLS (plaintext?)")                                                 \
    XX(PROTOCOL, "protocol", "malformed or unacceptable handshake")                                \
    XX(VERSION, "version", "protocol version below TLS 1.2")                                       \
    XX(NO_CERT, "no_certificate", "no client certificate")                                         \
    XX(UNTRUSTED, "untrusted", "certificate not signed by the CA, or not for this name")           \
    XX(EXPIRED, "expired", "certificate expired or not yet valid")                                 \
    XX(ALERT, "alert", "the peer refused the handshake")                                           \
    XX(TIMEOUT, "timeout", "handshake not finished in time")                                       \
    XX(BUSY, "busy", "too many handshakes in progress")                                            \
    XX(CLOSED, "closed", "connection closed during the handshake")

enum tls_reason {
#define XX(name, label, what) TLS_R_##name,
    TLS_REASON_MAP(XX)
#undef XX
        TLS_R_COUNT
};

/* The label of a reason ("not_tls"); "unknown" outside the map. Static. */
const char *tls_reason_name(int reason);

enum tls_role { TLS_SERVER = 0, TLS_CLIENT };

struct tls_config {
    const char *cert;         /* PEM certificate chain (copied); server: required */
    const char *key;          /* PEM private key of cert (copied) */
    const char *ca;           /* PEM CA certificates (copied); NULL: see above */
    uint64_t handshake_ms;    /* deadline of a handshake; 0: TLS_HANDSHAKE_MS */
    unsigned max_handshakes;  /* per listener at once; 0: TLS_MAX_HANDSHAKES */
    int client_cert_optional; /* server with ca: a client may send no certificate (one
                                 it sends must still verify) */
};

struct tls_ctx;
struct tls;

/* A context for role from cfg's files. Returns it, or NULL with the reason
 * in err ("cannot load certificate FILE: why"). Release with tls_ctx_destroy
 * (sessions made from it may outlive it). */
struct tls_ctx *tls_ctx_create(enum tls_role role, const struct tls_config *cfg, char *err,
                               size_t errlen);
void tls_ctx_destroy(struct tls_ctx *ctx);

/* Read the files again. Returns 0 (new sessions use them), or a negative
 * code with the reason in err and the context unchanged. Any thread. */
int tls_ctx_reload(struct tls_ctx *ctx, char *err, size_t errlen);

uint64_t tls_ctx_handshake_ms(const struct tls_ctx *ctx);
unsigned tls_ctx_max_handshakes(const struct tls_ctx *ctx);
/* 1 when a server context requires client certificates (it has a CA). */
int tls_ctx_mutual(const struct tls_ctx *ctx);

/* A session from ctx; host (client only: the name or IP address connected
 * to, copied) is sent as SNI and checked against the server's certificate.
 * NULL when out of memory. */
struct tls *tls_create(struct tls_ctx *ctx, const char *host);
void tls_destroy(struct tls *t); /* NULL is a no-op */

/* Ciphertext from the peer. Returns 0 or JUNO_ENOMEM. */
int tls_feed(struct tls *t, const uint8_t *data, size_t len);

/* Move the handshake on. TLS_OK: established (from then on, tls_read and
 * tls_write); TLS_AGAIN: send tls_output's bytes and feed more; JUNO_EPROTO:
 * refused (tls_reason, tls_detail; tls_output may hold an alert to send). */
int tls_handshake(struct tls *t);

/* Append the plaintext received to out. Returns 0 (possibly nothing new),
 * JUNO_EOF (the peer sent close_notify; what came before it is in out),
 * JUNO_ENOMEM, or JUNO_EPROTO (a broken record or an alert: tls_reason,
 * tls_detail). */
int tls_read(struct tls *t, struct buf *out);

/* Encrypt data[0..len) and append the records to out (after any other
 * ciphertext pending). Returns 0, JUNO_ENOMEM or JUNO_EPROTO. */
int tls_write(struct tls *t, const uint8_t *data, size_t len, struct buf *out);

/* Append the ciphertext waiting to be sent (handshake messages, alerts) to
 * out. Returns 0 or JUNO_ENOMEM. */
int tls_output(struct tls *t, struct buf *out);

/* Queue a close_notify alert (then tls_output). */
void tls_shutdown(struct tls *t);

/* Why the handshake or a read failed (enum tls_reason), and how, in words
 * (valid while t lives). */
int tls_reason(const struct tls *t);
const char *tls_detail(const struct tls *t);
/* The subject of the peer's certificate ("CN=proxy-1"), "" when none was seen. */
const char *tls_peer_subject(const struct tls *t);
/* The protocol version and cipher agreed ("TLSv1.3", "TLS_AES_256_GCM_SHA384"). */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);
/* 1 once any byte came from the peer. */
int tls_received(const struct tls *t);

#endif
