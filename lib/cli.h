/* cli.h: what every juno program shares on its command line: the program name,
 * error messages in the house format, exit codes, number and address parsing,
 * and reading whole inputs.
 *
 * Errors print as "prog: error: what failed: why" on stderr.
 * Exit codes: 0 ok, 1 "no" (not found, condition failed), BSD sysexits otherwise.
 */
#ifndef JUNO_CLI_H
#define JUNO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#define EXIT_NO 1 /* the answer is "no": key not found, condition failed */

/* The exit-code table for --help texts and man pages. */
#define CLI_EXIT_CODES_HELP                                                                        \
    "Exit status:\n"                                                                               \
    "  0   success\n"                                                                              \
    "  1   no: key not found, condition failed\n"                                                  \
    "  64  usage error (EX_USAGE)\n"                                                               \
    "  65  bad input data (EX_DATAERR)\n"                                                          \
    "  69  service unavailable (EX_UNAVAILABLE)\n"                                                 \
    "  70  internal software error (EX_SOFTWARE)\n"                                                \
    "  74  input/output error (EX_IOERR)\n"                                                        \
    "  75  temporary failure, retry (EX_TEMPFAIL)\n"                                               \
    "  76  protocol error (EX_PROTOCOL)\n"                                                         \
    "  78  configuration error (EX_CONFIG)\n"

/* The --help lines of cli_tls_stores' options, for the programs that talk
 * to stores (juno-migrate, juno-repair, juno-backup). */
#define CLI_TLS_STORES_HELP                                                                        \
    "      --tls-ca FILE     TLS to the stores: the cluster CA (PEM) their\n"                      \
    "                        certificates are checked against (default $JUNO_TLS_CA)\n"            \
    "      --tls-cert FILE   the certificate presented to them, signed by the\n"                   \
    "                        cluster CA (default $JUNO_TLS_CERT)\n"                                \
    "      --tls-key FILE    its private key (default $JUNO_TLS_KEY)\n"

struct tls_config;

/* Set the program name used in messages (borrowed). Also sets the log name. */
void cli_init(const char *prog);
const char *cli_prog(void);

/* "prog: error: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_error, then exit(code). */
void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* A usage error: the message, a hint to --help, exit 64. */
void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* "prog VERSION" on stdout. */
void cli_version(void);

/* --help: text on stdout in one write(2), then exit 0. One write, so that a
 * reader that stops at its first match (`prog --help | grep -q X` under
 * pipefail) cannot make the program die of SIGPIPE halfway through a text
 * longer than stdio's 4 KiB buffer. */
void cli_help(const char *text) __attribute__((noreturn));

/* TLS to the stores from --tls-ca, --tls-cert, --tls-key (tc's ca, cert and
 * key; NULL when not given), each else from JUNO_TLS_CA, JUNO_TLS_CERT,
 * JUNO_TLS_KEY: when any is set, every connection client_connect makes from
 * now on speaks TLS (client_tls), with a context that lives as long as the
 * process. A certificate without its key, or a key without its certificate,
 * is a usage error (exit 64); files that do not load exit 78. */
void cli_tls_stores(struct tls_config *tc);

/* Fill tc's ca, cert and key that are NULL from JUNO_TLS_CA, JUNO_TLS_CERT
 * and JUNO_TLS_KEY (when set and not empty). */
void cli_tls_env(struct tls_config *tc);

/* Parse a decimal unsigned integer in [min, max] with nothing after it.
 * Returns 0, JUNO_EINVAL (not a number) or JUNO_ERANGE (out of bounds). */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse a size: a decimal integer with an optional binary unit K, M, G or T
 * (also KB/KiB, ..., any case: 1K = 1024). Returns 0, JUNO_EINVAL or
 * JUNO_ERANGE (over 2^64 - 1). */
int cli_parse_size(const char *s, uint64_t *out);

/* The value of option --name given as arg: a decimal integer in [min, max],
 * or a usage error (exit 64) naming the option and the bounds. */
uint64_t cli_opt_u64(const char *name, const char *arg, uint64_t min, uint64_t max);

/* Apply option --log-level arg (debug, info, warn, error, off), or exit 64. */
void cli_opt_log_level(const char *arg);

/* Split "HOST:PORT" (or "[v6]:PORT") into host (NUL-terminated, at most
 * hostcap-1 bytes) and port 1..65535. Returns 0 or JUNO_EINVAL. */
int cli_parse_hostport(const char *s, char *host, size_t hostcap, uint16_t *port);

/* Read all of path ("-" = stdin), at most max bytes, into a NUL-terminated heap
 * buffer (*out, owned by the caller; *len excludes the NUL). Returns 0,
 * JUNO_EMSGSIZE when over max, or a negative errno code. */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);

/* Write len bytes to path ("-" = stdout) atomically for files (temp + rename).
 * Returns 0 or a negative errno code. */
int cli_write_file(const char *path, const void *data, size_t len);

#endif
