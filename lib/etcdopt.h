/* etcdopt.h: the options with which every program that takes --etcd
 * (juno-store, juno-proxy, juno-ring, juno-migrate, juno-repair, juno-backup)
 * reaches a secured etcd:
 *
 *   --etcd-ca FILE             the CA (PEM) etcd's certificate is checked against
 *   --etcd-cert FILE           a client certificate (PEM), for an etcd that asks
 *   --etcd-key FILE            for one (--client-cert-auth); its private key
 *   --etcd-user NAME           authenticate as NAME (etcd's auth enabled)
 *   --etcd-password-file FILE  NAME's password: the file's first line; without
 *                              it, $JUNO_ETCD_PASSWORD
 *
 * The password is never an option: a command line is visible to every user
 * of the host (ps). Programs that read $JUNO_ETCD also take $JUNO_ETCD_CA,
 * $JUNO_ETCD_CERT, $JUNO_ETCD_KEY and $JUNO_ETCD_USER for options not given.
 *
 * Use: put ETCDOPT_LONG_OPTIONS into the getopt_long table, offer every
 * option getopt returns to etcdopt_set first, and call etcdopt_finish once
 * the options are parsed; it leaves the settings in a struct etcd_opts for
 * etcd_create.
 */
#ifndef JUNO_ETCDOPT_H
#define JUNO_ETCDOPT_H

#include "etcd.h"

#include <getopt.h>
#include <stddef.h>

/* getopt_long values, above every program's own */
enum {
    ETCDOPT_CA = 0x4500,
    ETCDOPT_CERT,
    ETCDOPT_KEY,
    ETCDOPT_USER,
    ETCDOPT_PASSWORD_FILE,
};

/* clang-format off */
#define ETCDOPT_LONG_OPTIONS                                                   \
    {"etcd-ca", required_argument, NULL, ETCDOPT_CA},                          \
    {"etcd-cert", required_argument, NULL, ETCDOPT_CERT},                      \
    {"etcd-key", required_argument, NULL, ETCDOPT_KEY},                        \
    {"etcd-user", required_argument, NULL, ETCDOPT_USER},                      \
    {"etcd-password-file", required_argument, NULL, ETCDOPT_PASSWORD_FILE}
/* clang-format on */

/* The options' lines for --help: the daemons' (option column 29, no
 * environment) and the tools' (column 24, the JUNO_ETCD_* defaults). */
#define ETCDOPT_HELP_DAEMON                                                                        \
    "      --etcd-ca FILE         https to etcd: the CA (PEM) of etcd's certificate\n"             \
    "                             (default: the system's CAs)\n"                                   \
    "      --etcd-cert FILE       the client certificate (PEM) for an etcd that asks\n"            \
    "                             for one; needs --etcd-key\n"                                     \
    "      --etcd-key FILE        its private key (PEM)\n"                                         \
    "      --etcd-user NAME       authenticate to etcd as NAME (etcd auth enabled);\n"             \
    "                             the password from $JUNO_ETCD_PASSWORD or:\n"                     \
    "      --etcd-password-file FILE\n"                                                            \
    "                             NAME's password, the file's first line; re-read\n"               \
    "                             on SIGHUP\n"
#define ETCDOPT_HELP_TOOL                                                                          \
    "      --etcd-ca FILE    https to etcd: the CA (PEM) of etcd's certificate\n"                  \
    "                        (default $JUNO_ETCD_CA, else the system's CAs)\n"                     \
    "      --etcd-cert FILE  client certificate (PEM), for an etcd that asks for one\n"            \
    "                        (default $JUNO_ETCD_CERT); needs --etcd-key\n"                        \
    "      --etcd-key FILE   its private key (default $JUNO_ETCD_KEY)\n"                           \
    "      --etcd-user NAME  authenticate to etcd as NAME (default $JUNO_ETCD_USER);\n"            \
    "                        the password from $JUNO_ETCD_PASSWORD or:\n"                          \
    "      --etcd-password-file FILE  NAME's password, the file's first line\n"

struct etcdopt {
    const char *ca, *cert, *key, *user; /* borrowed: argv or the environment */
    const char *password_file;          /* borrowed */
    const char *given;                  /* an option given on the command line, or NULL */
    char *password;                     /* owned; wiped by etcdopt_deinit */
};

/* If opt (from getopt_long over argv) is one of ETCDOPT_*, record arg
 * (optarg) and return 1; else return 0. An abbreviation of
 * --etcd-password-file shorter than "--etcd-password-f" is a usage error (exit
 * 64): "--etcd-password s3cret" must not pass for a file name. */
int etcdopt_set(struct etcdopt *o, int opt, const char *arg, char *const *argv);

/* Complete o for a program that talks to etcd: options not given from the
 * environment (env nonzero: JUNO_ETCD_CA, _CERT, _KEY, _USER; the password
 * from JUNO_ETCD_PASSWORD in any case), the password read, the TLS files
 * loaded to check them. Returns 0; JUNO_EINVAL for a usage error (a
 * certificate without its key, a user without a password or the reverse);
 * or another negative code when a file cannot be read or is not valid PEM.
 * err (errlen bytes) says why. */
int etcdopt_resolve(struct etcdopt *o, int env, char *err, size_t errlen);

/* After option parsing. Without etcd in use (have_etcd 0), an etcd option on
 * the command line is a usage error (exit 64). With it: etcdopt_resolve,
 * exiting 64 on a usage error and 78 on a bad file; then the TLS and auth
 * fields of *eo point into o (its timeouts are left alone). */
void etcdopt_finish(struct etcdopt *o, int have_etcd, int env, struct etcd_opts *eo);

/* SIGHUP: read --etcd-password-file again and give the password to e
 * (etcd_set_password; the copy in o is wiped). Returns 1 when there is no
 * file to read (a password from the environment cannot change), 0 when e has
 * the new one, or a negative code with err set (e keeps the old one). */
int etcdopt_reload_password(struct etcdopt *o, struct etcd *e, char *err, size_t errlen);

/* Wipe and free the password. o stays usable for etcdopt_describe. */
void etcdopt_deinit(struct etcdopt *o);

/* What o does, for --check-config and logs: "https with CA ca.pem, client
 * certificate c.pem, user juno" ("" when nothing). Returns buf. */
const char *etcdopt_describe(const struct etcdopt *o, char *buf, size_t cap);

#endif
