/* juno.h: the shell client's shared pieces.
 *
 *   main.c         options, help, dispatch to a mode
 *   proxy.c        proxy mode (the default): get/put/create/update/del/ping
 *                  through juno-proxy, one request per run, with retries
 *   proxy_batch.c  proxy mode's `batch`: the batch engine's proxy commands
 *   request.c      proxy requests: building them (request id, SourceInfo),
 *                  statuses → exit codes and retry decisions (unit tested)
 *   store.c        store mode (--store): one storage request per run
 *   store_batch.c  store mode's `batch`: the batch engine's storage commands
 *   batch.c        the batch engine both modes share: input lines, a window
 *                  of requests in flight on one connection, per-key order,
 *                  retries, output in input order
 *   output.c       printing replies (human and --json), store-mode exit codes
 *   escape.h       byte encodings for text output (header-only, unit tested);
 *                  the batch line format is lib/batchline.c
 */
#ifndef JUNO_CLI_JUNO_H
#define JUNO_CLI_JUNO_H

#include "batchline.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

#define JUNO_DEFAULT_NS      "default"
#define JUNO_DEFAULT_PROXY   "127.0.0.1:8080"
#define JUNO_DEFAULT_TIMEOUT 5000 /* ms */
#define JUNO_DEFAULT_WINDOW  256
#define JUNO_DEFAULT_RETRIES 2
#define JUNO_MAX_RETRIES     100
#define JUNO_MAX_INPUT       (64u * 1024 * 1024) /* largest value read from stdin */
#define JUNO_APP_NAME        "juno-cli"          /* SourceInfo's application name */

struct juno_opts {
    const char *store;    /* --store HOST:PORT (borrowed argv): store mode */
    const char *server;   /* -s/--server, JUNO_PROXY or the default: proxy mode */
    const char *ns;       /* -n, JUNO_NAMESPACE or "default" */
    uint32_t shards;      /* --shards, or the map's */
    const char *map_path; /* --map */
    int json;
    int newline; /* --newline: get adds '\n' */
    int timeout_ms;
    unsigned window;  /* batch */
    unsigned retries; /* proxy mode */
    int has_if_version;
    uint32_t if_version;
    /* record options: each has_* says the option was given */
    int has_rid, has_version, has_ttl, has_creation, has_expire, has_lm, has_origin;
    int has_shard, has_value_type, tombstone, one_phase;
    uint8_t rid[16], origin[16];
    uint32_t version, ttl, creation, expire, shard;
    uint64_t last_modified;
    uint8_t value_type;
    int tls;                                 /* --tls */
    const char *tls_ca, *tls_cert, *tls_key; /* borrowed: --tls-* or $JUNO_TLS_* */
    const char *user, *password;             /* borrowed: --user, --password or $JUNO_* */
};

/* ---- proxy mode ---------------------------------------------------------- */

/* proxy.c: run COMMAND ARGS... (argv[0] is the command) against o->server.
 * Returns the exit code. */
int proxy_main(struct juno_opts *o, int argc, char **argv);

/* proxy_batch.c: the batch command in proxy mode. Returns the exit code. */
int proxy_batch_main(struct juno_opts *o);

/* request.c */

/* The connection's side of SourceInfo: local address and port. */
struct request_source {
    int ipv6;
    uint16_t port;
    uint8_t ip[16];
};

/* The local address of socket fd (an IPv4-mapped IPv6 address counts as
 * IPv4, as the Go client does). Returns 0 or a negative errno code; on error
 * *src is all zero (0.0.0.0, port 0). */
int request_source_of(int fd, struct request_source *src);

/* What one proxy request carries besides its opcode. Byte fields borrowed. */
struct request_args {
    const char *ns;
    const void *key;
    size_t klen;
    const void *value; /* Create, Update, Set */
    size_t vlen;
    uint32_t ttl;     /* 0: none; never sent on Destroy or Nop */
    uint32_t version; /* 0: none; Update only (conditional update) */
};

/* Fill *m (overwritten) with a client request as JunoDB's Go client sends it:
 * type flag 0x40, flags 0, shard id 0, opaque, meta RequestID (rid, copied),
 * TimeToLive when given, Version for an Update when given, SourceInfo (src,
 * app name "juno-cli"); the payload namespace, key and, for Create, Update
 * and Set, the value (type 00). m borrows a's bytes. */
void request_build(struct wire_msg *m, int opcode, uint32_t opaque, const uint8_t rid[16],
                   const struct request_source *src, const struct request_args *a);

/* Proxy-mode exit code of a reply status for opcode: 0 (Ok, Inconsistent), 1
 * (NoKey, DupKey, VersionConflict), 65 (BadParam, BadMsg, ...), 69
 * (NoStorageServer, ServiceDenied), 75 (RecordLocked, Busy, timeouts), 74
 * (storage or commit failure), 70 (Internal) or 76 (anything else). */
int request_exit_code(int status);

/* 1 if a reply with this status is worth retrying with the same request id:
 * RecordLocked (8), NoStorageServer (12) and Busy (14). */
int request_status_retryable(int status);

/* 1 if a client-side failure (a JUNO_E* code from connect, send or receive)
 * is worth retrying on a new connection: refused, reset, closed, timed out. */
int request_error_retryable(int rc);

/* The exit code for a client-side failure code (JUNO_E* from connect, send
 * or receive; both modes): 69 unavailable, 76 protocol, 64 a bad address
 * (JUNO_EINVAL), 65 a request that cannot be encoded (JUNO_EBADDATA), 74
 * otherwise. */
int request_exit_error(int rc);

/* Milliseconds to wait before retry number attempt (1, 2, ...): 50 ms
 * doubling, at most 1 s, plus up to a quarter of random jitter. */
int request_backoff_ms(unsigned attempt);

/* Success for the JunoDB clients: Ok (0) and Inconsistent (26). */
int request_status_ok(int status);

/* ---- store mode ---------------------------------------------------------- */

/* store.c: run COMMAND ARGS... (argv[0] is the command). Returns the exit code. */
int store_main(struct juno_opts *o, int argc, char **argv);

/* The Commit meta that follows a successful PrepareSet whose reply carried
 * cur: version = current + 1, creation time and originator kept (else now and
 * rid), expiration kept unless --expire/--ttl, last-modified = max(now,
 * current + 1) ns; every record option given overrides. Sets rid too. */
void store_commit_meta(const struct juno_opts *o, const struct wire_meta *cur,
                       const uint8_t rid[16], struct wire_meta *out);

/* store_batch.c: the batch command in store mode. Returns the exit code. */
int store_batch_main(struct juno_opts *o);

/* ---- the batch engine (batch.c) ------------------------------------------ */

enum batch_state {
    BL_DONE = 0, /* finished (result set), or an empty slot */
    BL_READY,    /* parsed, waiting to be started or retried (retry_at) */
    BL_INFLIGHT, /* a request is out */
};

/* One input line in the window. */
struct batch_line {
    enum batch_state state;
    int kind;  /* the mode's command */
    int stage; /* the mode's progress (store: the opcode out) */
    uint32_t opaque;
    char *line; /* owned: the input line; key and val point into it */
    const char *key, *val;
    size_t klen, vlen;
    uint64_t khash;
    uint32_t version; /* proxy update's optional VERSION field; 0 = none */
    uint8_t rid[16];
    unsigned tries;   /* retries done */
    int64_t retry_at; /* ms (monotonic) when a READY line may be sent */
    char *result;     /* owned: the output line without its newline */
};

struct batch;

/* What a mode plugs into the engine. */
struct batch_mode {
    const char *peer; /* "store" or "proxy", for messages */
    const char *addr; /* HOST:PORT */
    unsigned retries; /* a connection failure or retry() is tried this often */
    /* The mode's commands: their kinds and fields (lib/batchline.h). */
    const struct batchline_syntax *syntax;
    /* Queue l's first request (also after a reconnect or a retry, with the
     * same request id) with batch_send(). */
    void (*start)(struct batch *b, struct batch_line *l);
    /* A reply for l: send the next stage, batch_finish() or batch_retry(). */
    void (*reply)(struct batch *b, struct batch_line *l, const struct wire_msg *r);
};

/* Run the engine on stdin/stdout. Returns the exit code: 0 if every line
 * finished ok, 1 if some did not, 69 if the connection was lost for good. */
int batch_run(const struct juno_opts *o, const struct batch_mode *mode);

/* For a mode's callbacks: the options, the connection's SourceInfo. */
const struct juno_opts *batch_opts(const struct batch *b);
const struct request_source *batch_source(const struct batch *b);

/* Queue request m for l (its opaque is set here) and mark l in flight. */
void batch_send(struct batch *b, struct batch_line *l, struct wire_msg *m);

/* l is done with result (copied; NULL keeps one set before). ok 0 makes the
 * run's exit status 1. */
void batch_finish(struct batch *b, struct batch_line *l, const char *result, int ok);

/* Set l's result to prefix + TAB + the batch escape of (p, len) (owned). */
void batch_set_value_result(struct batch_line *l, const char *prefix, const uint8_t *p, size_t len);

/* Retry l after a backoff if it has tries left; else finish it with
 * result_if_exhausted (ok 0). */
void batch_retry(struct batch *b, struct batch_line *l, const char *result_if_exhausted);

/* ---- output.c ------------------------------------------------------------ */

/* Print store reply r: human lines or one JSON object on stdout. with_value:
 * print the value even when empty (a Read that succeeded). */
void output_reply(const struct juno_opts *o, const struct wire_msg *r, int with_value);
/* Print a proxy reply as one JSON object: status, code, version,
 * creation_time, expiration_time, ttl, last_modified, request_id,
 * originator_id (each when the reply has it), then value (with_value, or
 * when the reply carries one), base64 with "value_encoding":"base64" when it
 * is not UTF-8. */
void output_record_json(const struct wire_msg *r, int with_value);
/* The store-mode exit code for a reply status (0, 1, 65, 74, 75 or 76). */
int output_exit_code(int status);
/* key (len bytes) quoted for a message: "k", with control bytes, quotes
 * and backslashes escaped, at most 64 bytes shown. Static buffer. */
const char *output_quote(const void *key, size_t len);

/* The shard of key among o->shards, or o->shard when --shard was given. */
uint16_t juno_shard_of(const struct juno_opts *o, const void *key, size_t len);

#endif
