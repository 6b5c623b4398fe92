/* client_int.h: what client.c (the blocking client) and client_tls.c (its
 * TLS sessions, one per descriptor) share. Not for other modules. */
#ifndef JUNO_CLIENT_INT_H
#define JUNO_CLIENT_INT_H

#include "client.h"

#include <stdint.h>
#include <sys/types.h>

/* Wait for events on fd until deadline (ms of clock_mono_ms, -1: none).
 * Returns 0 (ready), JUNO_ETIMEDOUT or a negative errno code. */
int client__wait(int fd, short events, int64_t deadline);

/* Write p[0..len) to fd, waiting for room until deadline; *done: bytes
 * written. Returns 0, JUNO_ETIMEDOUT or a negative errno code. */
int client__write_all(int fd, const uint8_t *p, size_t len, int64_t deadline, size_t *done);

/* The TLS context of client_tls, or NULL. */
struct tls_ctx *client__tls_ctx(void);

/* Make the TLS handshake on connected fd with host (checked against the
 * server's certificate) by deadline; the session is then fd's. Returns 0, or
 * JUNO_EPROTO / JUNO_ETIMEDOUT / a negative errno code with err set. */
int client__tls_open(int fd, const char *host, int64_t deadline, char *err, size_t errlen);

/* 1 when fd has a TLS session. */
int client__tls_on(int fd);

/* Encrypt p[0..len) (all of it: *consumed = len) and send what is queued
 * until deadline. Returns 0, JUNO_ETIMEDOUT (ciphertext stays queued),
 * JUNO_EPROTO, JUNO_ENOMEM or a negative errno code. */
int client__tls_send(int fd, const uint8_t *p, size_t len, int64_t deadline, size_t *consumed);

/* recv(2) through fd's session: up to cap plaintext bytes into dst. Returns
 * the count (> 0), 0 when nothing is there yet (wait for the socket),
 * JUNO_EOF, JUNO_EPROTO (client_tls_error says why), JUNO_ENOMEM or a
 * negative errno code. */
ssize_t client__tls_recv(int fd, uint8_t *dst, size_t cap);

/* With client_login set: log in on fd (connected, TLS made) by deadline.
 * Returns 0 (also when no login is set), or JUNO_EACCES (refused),
 * JUNO_EPROTO, JUNO_ETIMEDOUT or another code, with err set. */
int client__login(int fd, int64_t deadline, char *err, size_t errlen);

/* Forget fd's session: close_notify if the socket takes it now; freed. */
void client__tls_close(int fd);

#endif
