/* client.h: a small blocking client for the JunoDB wire protocol, used by the
 * `juno` CLI, the tests and tools that talk to juno-store or juno-proxy.
 *
 *   int fd = client_connect("127.0.0.1:9001", 2000, err, sizeof(err));
 *   client_send(fd, &req);                     encode + write all
 *   struct client_buf b; client_buf_init(&b);
 *   client_recv(&b, fd, 2000, &reply);         read until one whole frame
 *   ...
 *   client_buf_deinit(&b); close(fd);
 *
 * Sockets are non-blocking and close-on-exec with TCP_NODELAY; every wait is a
 * poll(2) with a deadline, so a dead peer costs at most the timeout. Writes use
 * MSG_NOSIGNAL: a closed peer is an error return, never a SIGPIPE.
 *
 * Pipelining: client_queue() appends encoded requests to an output buffer and
 * client_flush() writes them with as few syscalls as possible; replies are
 * matched by the caller through the header's opaque field.
 *
 * TLS: after client_tls(ctx), every connection client_connect makes speaks
 * TLS (lib/tls, its memory BIO driven over the same non-blocking socket and
 * poll deadlines): the handshake is part of the connect and its timeout.
 * The session belongs to the descriptor: close it with client_close. A
 * client_flush that times out may leave ciphertext queued in the session
 * (client_pending); the next client_flush sends it first.
 */
#ifndef JUNO_CLIENT_H
#define JUNO_CLIENT_H

#include "wire.h"

struct tls_ctx;

#include <stddef.h>
#include <stdint.h>

#define CLIENT_MAX_FRAME (64u * 1024 * 1024) /* default largest reply accepted */

/* A growable byte buffer: read side of a connection (client_recv) or encoded
 * requests waiting to be written (client_queue). */
struct client_buf {
    uint8_t *data; /* owned */
    size_t len, cap;
    size_t used;      /* client_recv: bytes of the frame handed out last time */
    size_t max_frame; /* client_recv: largest frame accepted; 0 = CLIENT_MAX_FRAME */
};

void client_buf_init(struct client_buf *b);
void client_buf_deinit(struct client_buf *b);

/* Connect to HOST:PORT (a name, an IPv4 or a [v6] address; every address the
 * name resolves to is tried) within timeout_ms (< 0: no limit), and with
 * client_tls set, make the TLS handshake within the same time. Returns a
 * non-blocking, close-on-exec TCP socket with TCP_NODELAY (close it with
 * client_close), or JUNO_EINVAL (bad address), JUNO_ENOTFOUND (name does not
 * resolve), JUNO_ECONNREFUSED, JUNO_ETIMEDOUT, JUNO_EPROTO (the TLS handshake
 * failed), JUNO_EACCES (client_login's login refused) or another negative
 * errno code; err (errlen bytes, may be 0) then
 * says what failed. */
int client_connect(const char *hostport, int timeout_ms, char *err, size_t errlen);

/* Encode m (wire_encode) and write all of it to fd, waiting for the socket as
 * needed (no time limit: the peer reads or resets). Returns 0, JUNO_EINVAL (m
 * breaks a field limit), JUNO_ENOMEM, or a negative errno code (JUNO_ECONNRESET,
 * -EPIPE, ...). */
int client_send(int fd, const struct wire_msg *m);

/* Append m's encoding to out without writing. Returns 0, JUNO_EINVAL or
 * JUNO_ENOMEM. */
int client_queue(struct client_buf *out, const struct wire_msg *m);

/* Write everything in out to fd and empty it, waiting at most timeout_ms
 * (< 0: no limit) for a full socket. Returns 0, JUNO_ETIMEDOUT or a negative
 * errno code; on error out keeps what was not written. */
int client_flush(struct client_buf *out, int fd, int timeout_ms);

/* Receive one whole message into *out. Bytes already buffered in b are used
 * first; the message handed out by the previous call on b is dropped first.
 * *out's byte fields point into b (borrowed: valid until the next client_recv
 * on b or client_buf_deinit). timeout_ms bounds the whole wait (< 0: none).
 * Returns 0, JUNO_ETIMEDOUT, JUNO_EOF (the peer closed; also mid-frame),
 * JUNO_EPROTO (not a JunoDB stream, an oversized frame, or a message that does
 * not decode), JUNO_ENOMEM, or a negative errno code from read. */
int client_recv(struct client_buf *b, int fd, int timeout_ms, struct wire_msg *out);

/* TLS for the connections client_connect makes from now on: ctx is a client
 * context (tls_ctx_create(TLS_CLIENT, ...)), borrowed for as long as they
 * are used; NULL: plaintext. */
void client_tls(struct tls_ctx *ctx);

/* A login for the connections client_connect makes from now on (user and
 * password borrowed; NULL user: none): after the TLS handshake, a Login
 * request (docs/protocol.md §7) for juno-proxy's --acl, within the connect's
 * timeout; a refusal is client_connect's JUNO_EACCES. Not for stores. */
void client_login(const char *user, const char *password);

/* Close fd, a descriptor from client_connect: a TLS session sends its
 * close_notify (if the socket takes it at once) and is freed. */
void client_close(int fd);

/* Bytes of ciphertext that a timed-out client_flush left queued on fd. */
size_t client_pending(int fd);

/* What the last TLS failure of this process was, in words ("" if none):
 * the detail behind a JUNO_EPROTO of client_recv or client_flush. */
const char *client_tls_error(void);

/* A random (version 4, RFC 4122 variant) UUID from getrandom(2).
 * Returns 0 or a negative errno code. */
int client_new_request_id(uint8_t id[16]);

#endif
