/* resp.h: the Redis protocol (RESP2, RESP3) as a server sees it:
 * incremental, zero-copy parsing of the requests Redis clients send (arrays
 * of bulk strings in both protocols), and encoding of the replies a server
 * sends back (lib/resp_reply.c): RESP2's types, and RESP3's, which take the
 * connection's protocol (RESP_PROTO2, RESP_PROTO3) and write RESP2's form
 * under RESP2, as Redis 7.0 does.
 *
 * Requests come in two forms (Redis's processMultibulkBuffer and
 * processInlineBuffer):
 *
 *   multibulk  *<n>\r\n  then n times  $<len>\r\n<len bytes>\r\n   (binary-safe)
 *   inline     a line of words ending in \n or \r\n ("SET k v"), split like
 *              Redis's sdssplitargs: "double quotes" with \" \\ \n \r \t \b \a
 *              \xHH escapes, 'single quotes' with \' (a quote must close before
 *              a space or the end of the line); a NUL ends the line's content.
 *
 * A buffer starting with '*' is multibulk, anything else is inline.
 *
 * Reading a stream: call resp_parse() on the bytes buffered so far; it says
 * whether a whole command is there (OK, with its length), whether more bytes
 * are needed (AGAIN), or whether the stream is broken (ERROR: reply *why with
 * resp_error() and close). Limits are judged from header lines alone, before
 * the caller buffers what they announce. Stateless: after AGAIN, call again on
 * the longer buffer from the same start.
 *
 * Writing: the resp_* encoders append one reply to a struct buf (lib/buf.h;
 * a buffer they start grows from 64 bytes, not BUF_MIN_CAP: a reply is small).
 */
#ifndef JUNO_RESP_H
#define JUNO_RESP_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* Parse verdicts. */
#define RESP_OK    0
#define RESP_AGAIN 1
#define RESP_ERROR (-1)
#define RESP_SKIP  2 /* a bulk string over max_keep: see resp_parse */

/* The protocol a connection speaks (HELLO 2, HELLO 3). */
#define RESP_PROTO2 2
#define RESP_PROTO3 3

#define RESP_DEFAULT_MAX_ARGS   65536
#define RESP_DEFAULT_MAX_BULK   (1024 * 1024 + 64 * 1024) /* a JunoDB frame and some */
#define RESP_PROTO_MAX_BULK     (512u << 20)              /* Redis's proto-max-bulk-len default */
#define RESP_DEFAULT_MAX_INLINE (64 * 1024)
#define RESP_INLINE_ARGS        16 /* argv entries held in struct resp_cmd itself */

/* Limits on what a peer controls; a field of 0 means its default. */
struct resp_limits {
    size_t max_args;   /* arguments in one command */
    size_t max_bulk;   /* bytes in one bulk string */
    size_t max_inline; /* bytes of an inline line before its \n (a \r counts) */
    size_t max_keep;   /* a bulk string longer than this gives RESP_SKIP; 0: none */
    uint64_t max_data; /* bulk data of one command past this gives RESP_SKIP; 0: none */
    int unauth;        /* max_args and max_bulk are an unauthenticated client's: */
                       /* Redis's "unauthenticated multibulk/bulk length" texts */
};

struct resp_arg {
    const uint8_t *ptr; /* borrowed: into the parsed buffer or cmd's scratch */
    size_t len;
};

/* One parsed command. Initialize with resp_cmd_init(), reuse it for every
 * resp_parse() on a connection (its arrays are kept and grown), release with
 * resp_cmd_deinit(). Do not copy it: argv may point into the struct. */
struct resp_cmd {
    size_t argc;
    struct resp_arg *argv; /* borrowed: inline_argv or heap_argv */
    struct resp_arg inline_argv[RESP_INLINE_ARGS];
    struct resp_arg *heap_argv; /* owned: only for more than RESP_INLINE_ARGS */
    size_t heap_cap;
    uint8_t *scratch; /* owned: unescaped words of a quoted inline line */
    size_t scratch_cap;
    char why[64]; /* an error message formatted for this command */
    /* RESP_SKIP's state: the rest of a command being read and discarded. */
    uint64_t skip_bytes; /* bytes left of the bulk string being skipped, its \r\n too */
    uint64_t skip_args;  /* bulk strings after it */
    uint8_t skip_data;   /* it was over max_data (else over max_keep) */
    uint64_t announced;  /* AGAIN: bytes of bulk data the headers read so far announce */
};

void resp_cmd_init(struct resp_cmd *cmd);

/* Free cmd's arrays; cmd is left as after resp_cmd_init(). */
void resp_cmd_deinit(struct resp_cmd *cmd);

/* Judge the start of a byte stream (buf, len); lim NULL means the defaults.
 * Returns
 *   RESP_OK:    a whole command of *consumed (> 0) bytes starts at buf;
 *               cmd->argv[0..argc) holds its words, pointing into buf (zero
 *               copy) or, for an inline line with quotes, into cmd's scratch:
 *               valid until the next resp_parse() on cmd or resp_cmd_deinit().
 *               argc 0: an empty inline line or a *0 / *-1 array was consumed;
 *               there is nothing to run.
 *   RESP_AGAIN: more bytes are needed (every strict prefix of a valid command
 *               gives AGAIN); *consumed is 0; cmd->announced is the bulk data
 *               the headers read so far announce (what the command will hold).
 *   RESP_ERROR: a protocol error; *why (if why is not NULL) is a Redis-style
 *               message, static or in cmd->why (valid until the next call on
 *               cmd). A count or length over a limit is reported as soon as
 *               its header line is complete. Also "out of memory" if the argv
 *               or scratch array cannot grow.
 *   RESP_SKIP:  (only with lim->max_keep or max_data) a multibulk command is
 *               well formed up to a bulk string longer than max_keep (and
 *               within max_bulk), or one that takes the command's bulk data
 *               past max_data (cmd->skip_data set): *consumed bytes (up to
 *               that string's data) may be
 *               dropped, and resp_skip() reads and drops the rest of the
 *               command, so a value over the limit is refused without being
 *               buffered and the connection goes on.
 * Never reads past len. Allocates only for a complete command (argv beyond
 * RESP_INLINE_ARGS, scratch for a quoted inline line), bounded by len. */
int resp_parse(const uint8_t *buf, size_t len, const struct resp_limits *lim, struct resp_cmd *cmd,
               size_t *consumed, const char **why);

/* Go on dropping the command RESP_SKIP began, from the next bytes of the
 * stream (buf, len); lim as given to resp_parse. *consumed bytes (<= len) may
 * be dropped. Returns RESP_OK (the command is all dropped), RESP_AGAIN (more
 * bytes needed: drop *consumed and call again with what follows) or
 * RESP_ERROR (a bad header among the remaining arguments; *why as for
 * resp_parse). Allocates nothing. */
int resp_skip(const uint8_t *buf, size_t len, const struct resp_limits *lim, struct resp_cmd *cmd,
              size_t *consumed, const char **why);

/* 1 if argument i exists and equals word, ignoring ASCII case; else 0. */
int resp_arg_eq(const struct resp_cmd *cmd, size_t i, const char *word);

/* Parse argument i as a signed decimal like Redis's string2ll: an optional
 * '-', no '+', no spaces, no leading zeros, at most 20 characters. Returns 0
 * with *out set, JUNO_EINVAL (no argument i, not a number) or JUNO_ERANGE
 * (outside int64_t). */
int resp_arg_i64(const struct resp_cmd *cmd, size_t i, int64_t *out);

/* Each encoder appends one reply to b and returns 0, or JUNO_ENOMEM with b
 * unchanged. */

/* n bytes as they are (an encoded reply, or part of one). */
int resp_raw(struct buf *b, const void *p, size_t n);

/* +s\r\n; any \r or \n in s becomes a space. */
int resp_simple(struct buf *b, const char *s);

/* -ERR msg\r\n, or -msg\r\n when msg starts with '-' (its own error code,
 * "-WRONGTYPE ..."), as Redis's addReplyError; \r and \n become spaces. */
int resp_error(struct buf *b, const char *msg);

/* :v\r\n */
int resp_integer(struct buf *b, int64_t v);

/* $len\r\n<bytes>\r\n (binary-safe; p may be NULL when len is 0). */
int resp_bulk(struct buf *b, const void *p, size_t len);

/* $-1\r\n: the null bulk string. */
int resp_null(struct buf *b);

/* *n\r\n: n replies follow. */
int resp_array_header(struct buf *b, size_t n);

/* *-1\r\n: the null array. */
int resp_null_array(struct buf *b);

/* The encoders below write RESP3's type under proto RESP_PROTO3 and what
 * Redis 7.0 sends a RESP2 client in its place otherwise. */

/* The null: _\r\n (RESP3), else $-1\r\n (resp_nil) or *-1\r\n (resp_nil_array). */
int resp_nil(struct buf *b, int proto);
int resp_nil_array(struct buf *b, int proto);

/* %n\r\n: n key-value pairs follow; RESP2: *2n\r\n. */
int resp_map_header(struct buf *b, size_t n, int proto);

/* ~n\r\n: n replies of a set follow; RESP2: *n\r\n. */
int resp_set_header(struct buf *b, size_t n, int proto);

/* ,<d>\r\n with d as "%.17g" (inf, -inf for the infinities); RESP2: the
 * same text as a bulk string. */
int resp_double(struct buf *b, double d, int proto);

/* =<len+4>\r\n<fmt>:<bytes>\r\n, a verbatim string of format fmt (three
 * characters: "txt", "mkd"); RESP2: the bytes as a bulk string. */
int resp_verbatim(struct buf *b, const char *fmt, const void *p, size_t len, int proto);

#endif
