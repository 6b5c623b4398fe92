/* juno.h: the shell client's shared pieces.
 *
 *   main.c    options, help, dispatch to a mode
 *   store.c   store mode (--store): one storage request per run, set/get
 *   batch.c   store mode's `batch`: many keys pipelined on one connection
 *   output.c  printing replies (human and --json), statuses → exit codes
 *   escape.h  byte encodings for text output (header-only, unit tested)
 *
 * A later mode (the proxy mode: juno get/put/del through juno-proxy) adds its
 * own file and a branch in main.c's dispatch.
 */
#ifndef JUNO_CLI_JUNO_H
#define JUNO_CLI_JUNO_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

#define JUNO_DEFAULT_NS      "default"
#define JUNO_DEFAULT_TIMEOUT 5000 /* ms */
#define JUNO_DEFAULT_WINDOW  256
#define JUNO_MAX_INPUT       (64u * 1024 * 1024) /* largest value read from stdin */

struct juno_opts {
    const char *store;    /* --store HOST:PORT (borrowed argv) */
    const char *ns;       /* -n */
    uint32_t shards;      /* --shards, or the map's */
    const char *map_path; /* --map */
    int json;
    int timeout_ms;
    unsigned window; /* batch */
    /* record options: each has_* says the option was given */
    int has_rid, has_version, has_ttl, has_creation, has_expire, has_lm, has_origin;
    int has_shard, has_value_type, tombstone;
    uint8_t rid[16], origin[16];
    uint32_t version, ttl, creation, expire, shard;
    uint64_t last_modified;
    uint8_t value_type;
};

/* store.c: run COMMAND ARGS... (argv[0] is the command). Returns the exit code. */
int store_main(struct juno_opts *o, int argc, char **argv);

/* The Commit meta that follows a successful PrepareSet whose reply carried
 * cur: version = current + 1, creation time and originator kept (else now and
 * rid), expiration kept unless --expire/--ttl, last-modified = max(now,
 * current + 1) ns; every record option given overrides. Sets rid too. */
void store_commit_meta(const struct juno_opts *o, const struct wire_meta *cur,
                       const uint8_t rid[16], struct wire_meta *out);

/* batch.c: the batch command on stdin/stdout. Returns the exit code. */
int batch_main(struct juno_opts *o);

/* output.c */
/* Print reply r: human lines or one JSON object on stdout. with_value: print
 * the value even when empty (a Read that succeeded). */
void output_reply(const struct juno_opts *o, const struct wire_msg *r, int with_value);
/* The exit code for a reply status (0, 1, 65, 74, 75 or 76). */
int output_exit_code(int status);
/* The exit code for a client-side failure code (JUNO_E*): 69 unavailable,
 * 76 protocol, 64 bad address, 74 otherwise. */
int output_exit_error(int rc);

/* The shard of key among o->shards, or o->shard when --shard was given. */
uint16_t juno_shard_of(const struct juno_opts *o, const void *key, size_t len);

#endif
