/* tls_api.h: lib/tls as a table of functions, for a program that loads
 * OpenSSL only when it is told to speak TLS.
 *
 * Loading libssl and libcrypto costs a process about 1.6 ms at its start
 * (their relocations and page faults), more than the rest of a one-shot
 * `juno get`. So `juno` is not linked with them: build/juno-tls.so holds
 * lib/tls*.c and exports juno_tls_api() alone, and src/juno-cli/tls_dl.c
 * implements tls.h by dlopen()ing it on the first tls_ctx_create. The
 * daemons and juno-bench link lib/tls directly.
 */
#ifndef JUNO_TLS_API_H
#define JUNO_TLS_API_H

#include "tls.h"

#define TLS_API_VERSION 1
#define TLS_PLUGIN_FILE "juno-tls.so"

/* The functions of tls.h that return a value, but tls_ctx_create (the
 * loader's own, below) and tls_reason_name (which needs no OpenSSL):
 * X(return type, name, (parameters), (arguments)). */
#define TLS_API_FUNCS(X)                                                                           \
    X(int, tls_ctx_reload, (struct tls_ctx * ctx, char *err, size_t errlen), (ctx, err, errlen))   \
    X(uint64_t, tls_ctx_handshake_ms, (const struct tls_ctx *ctx), (ctx))                          \
    X(unsigned, tls_ctx_max_handshakes, (const struct tls_ctx *ctx), (ctx))                        \
    X(int, tls_ctx_mutual, (const struct tls_ctx *ctx), (ctx))                                     \
    X(struct tls *, tls_create, (struct tls_ctx * ctx, const char *host), (ctx, host))             \
    X(int, tls_feed, (struct tls * t, const uint8_t *data, size_t len), (t, data, len))            \
    X(int, tls_handshake, (struct tls * t), (t))                                                   \
    X(int, tls_read, (struct tls * t, struct buf * out), (t, out))                                 \
    X(int, tls_write, (struct tls * t, const uint8_t *data, size_t len, struct buf *out),          \
      (t, data, len, out))                                                                         \
    X(int, tls_output, (struct tls * t, struct buf * out), (t, out))                               \
    X(int, tls_reason, (const struct tls *t), (t))                                                 \
    X(const char *, tls_detail, (const struct tls *t), (t))                                        \
    X(const char *, tls_peer_subject, (const struct tls *t), (t))                                  \
    X(const char *, tls_version, (const struct tls *t), (t))                                       \
    X(const char *, tls_cipher, (const struct tls *t), (t))                                        \
    X(int, tls_received, (const struct tls *t), (t))

/* ... and those that return nothing: X(name, (parameters), (arguments)). */
#define TLS_API_PROCS(X)                                                                           \
    X(tls_ctx_destroy, (struct tls_ctx * ctx), (ctx))                                              \
    X(tls_destroy, (struct tls * t), (t))                                                          \
    X(tls_shutdown, (struct tls * t), (t))

struct tls_api {
    int version; /* TLS_API_VERSION */
    struct tls_ctx *(*tls_ctx_create)(enum tls_role role, const struct tls_config *cfg, char *err,
                                      size_t errlen);
#define TLS_API_FIELD(ret, name, params, args) ret(*name) params;
    TLS_API_FUNCS(TLS_API_FIELD)
#undef TLS_API_FIELD
#define TLS_API_FIELD(name, params, args) void(*name) params;
    TLS_API_PROCS(TLS_API_FIELD)
#undef TLS_API_FIELD
};

/* The plugin's one exported symbol: its table. */
const struct tls_api *juno_tls_api(void);

#endif
