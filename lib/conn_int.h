/* conn_int.h: what the files of the connection module share (conn.c: a
 * connection's reading, framing, writing and lifetime; conn_listen.c:
 * accepting; conn_connect.c: connecting; conn_tls.c: TLS on the read and
 * write paths). Not for other modules.
 */
#ifndef JUNO_CONN_INT_H
#define JUNO_CONN_INT_H

#include "conn.h"

/* A new connection of g for proto (zeroed, proto->size bytes), its tcp handle
 * initialised and the connection on g's list. NULL when out of memory. */
struct conn *conn__new(struct conn_group *g, const struct conn_proto *proto,
                       const struct conn_limits *lim, void *data);

/* Start reading (after accept or connect). */
void conn__start_reading(struct conn *c);

/* Handle the frames buffered in c->in. */
void conn__process(struct conn *c);

/* The connection failed (err, why): an outgoing one reports proto->failed; a
 * server connection logs one line. It is closed either way. */
void conn__fail(struct conn *c, int err, const char *why);

/* The connection is ready for application data (plaintext at once, TLS
 * after its handshake): an outgoing one reports proto->connected; queued
 * output goes out this turn. */
void conn__established(struct conn *c);

/* The memory goes once the handle is closed and nothing refers to c. */
void conn__free_if_done(struct conn *c);

/* The peer finished sending: proto->eof, or close (server), or fail. */
void conn__eof(struct conn *c);

/* conn_tls.c. start: a TLS session for c from ctx (an outgoing one checks
 * c->host); 0 or JUNO_ENOMEM. begin: the handshake starts now (its deadline
 * counts from here; a listener counts it in progress). step: move the
 * handshake on, then decrypt what was fed into c->in and handle it. input:
 * ciphertext read (n bytes at data) fed, then step. encrypt: c's plaintext
 * output into c->tout once established; 0, or a negative code (c failed).
 * refuse: a handshake that cannot succeed (reason: enum tls_reason, detail
 * in words): one log line (rate limited), proto->tls_refused, the alert
 * OpenSSL made if any, close (an outgoing connection fails). close_notify:
 * best effort, as the handle closes. */
int conn__tls_start(struct conn *c, struct tls_ctx *ctx);
void conn__tls_begin(struct conn *c);
void conn__tls_step(struct conn *c);
void conn__tls_input(struct conn *c, const uint8_t *data, size_t n);
int conn__tls_encrypt(struct conn *c);
void conn__tls_refuse(struct conn *c, int reason, const char *detail);
void conn__tls_close_notify(struct conn *c);

#endif
