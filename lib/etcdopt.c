/* etcdopt.c: --etcd-ca, --etcd-cert, --etcd-key, --etcd-user and
 * --etcd-password-file, shared by every program with --etcd (see etcdopt.h). */
#include "etcdopt.h"

#include "cli.h"
#include "error.h"
#include "tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MAX 4096

/* getopt_long takes any unambiguous abbreviation, so "--etcd-password s3cret"
 * would be --etcd-password-file with a password for a file name: refused,
 * without showing it. The option as typed is the argument before optarg, or
 * the one holding it after a '='. */
static void
refuse_password_argument(const char *arg, char *const *argv)
{
    if (optind < 1) return;
    const char *typed =
        argv[optind - 1] == arg && optind >= 2 ? argv[optind - 2] : argv[optind - 1];
    if (strncmp(typed, "--etcd-password-f", 17) == 0) return;
    cli_usage("there is no --etcd-password: a password on the command line is visible to every "
              "user of the host (ps); give it in JUNO_ETCD_PASSWORD or --etcd-password-file FILE");
}

int
etcdopt_set(struct etcdopt *o, int opt, const char *arg, char *const *argv)
{
    static const char *const names[] = {"--etcd-ca", "--etcd-cert", "--etcd-key", "--etcd-user",
                                        "--etcd-password-file"};
    const char **slot[] = {&o->ca, &o->cert, &o->key, &o->user, &o->password_file};
    if (opt < ETCDOPT_CA || opt > ETCDOPT_PASSWORD_FILE) return 0;
    if (opt == ETCDOPT_PASSWORD_FILE) refuse_password_argument(arg, argv);
    *slot[opt - ETCDOPT_CA] = arg;
    o->given = names[opt - ETCDOPT_CA];
    return 1;
}

/* *field from the environment variable name when no option set it. */
static void
from_env(const char **field, const char *name)
{
    const char *v = getenv(name);
    if (*field == NULL && v != NULL && v[0] != '\0') *field = v;
}

/* The first line of path into o->password. */
static int
read_password(struct etcdopt *o, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = cli_read_file(o->password_file, PASSWORD_MAX, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "unable to read --etcd-password-file %s: %s", o->password_file,
                 rc == JUNO_EMSGSIZE ? "longer than 4096 bytes" : error_str(rc));
        return rc;
    }
    size_t n = strcspn(text, "\r\n");
    if (n == 0) {
        explicit_bzero(text, len);
        free(text);
        snprintf(err, errlen, "unable to use --etcd-password-file %s: its first line is empty",
                 o->password_file);
        return JUNO_EBADDATA;
    }
    o->password = strndup(text, n);
    explicit_bzero(text, len);
    free(text);
    return o->password != NULL ? 0 : JUNO_ENOMEM;
}

int
etcdopt_resolve(struct etcdopt *o, int env, char *err, size_t errlen)
{
    if (env) {
        from_env(&o->ca, "JUNO_ETCD_CA");
        from_env(&o->cert, "JUNO_ETCD_CERT");
        from_env(&o->key, "JUNO_ETCD_KEY");
        from_env(&o->user, "JUNO_ETCD_USER");
    }
    if ((o->cert == NULL) != (o->key == NULL)) {
        snprintf(err, errlen, "--etcd-cert and --etcd-key go together");
        return JUNO_EINVAL;
    }
    const char *envpw = getenv("JUNO_ETCD_PASSWORD");
    int have_pw = o->password_file != NULL || (envpw != NULL && envpw[0] != '\0');
    if (o->user != NULL && !have_pw) {
        snprintf(err, errlen,
                 "--etcd-user %s needs a password: JUNO_ETCD_PASSWORD or --etcd-password-file",
                 o->user);
        return JUNO_EINVAL;
    }
    if (o->user == NULL && o->password_file != NULL) {
        snprintf(err, errlen, "--etcd-password-file needs --etcd-user");
        return JUNO_EINVAL;
    }
    if (o->user != NULL && o->user[0] == '\0') {
        snprintf(err, errlen, "--etcd-user: the name is empty");
        return JUNO_EINVAL;
    }
    if (o->ca != NULL || o->cert != NULL) { /* load them now, not at the first request */
        struct tls_config tc = {.ca = o->ca, .cert = o->cert, .key = o->key};
        char why[512];
        struct tls_ctx *ctx = tls_ctx_create(TLS_CLIENT, &tc, why, sizeof(why));
        if (ctx == NULL) {
            snprintf(err, errlen, "unable to use the etcd TLS files: %s", why);
            return JUNO_EBADDATA;
        }
        tls_ctx_destroy(ctx);
    }
    if (o->user == NULL || o->password != NULL) return 0;
    if (o->password_file != NULL) return read_password(o, err, errlen);
    o->password = strdup(envpw);
    return o->password != NULL ? 0 : JUNO_ENOMEM;
}

void
etcdopt_finish(struct etcdopt *o, int have_etcd, int env, struct etcd_opts *eo)
{
    if (!have_etcd) {
        if (o->given != NULL) cli_usage("%s needs --etcd", o->given);
        return;
    }
    char err[700];
    int rc = etcdopt_resolve(o, env, err, sizeof(err));
    if (rc == JUNO_EINVAL) cli_usage("%s", err);
    if (rc == JUNO_ENOMEM) cli_die(EX_OSERR, "out of memory");
    if (rc != 0) cli_die(EX_CONFIG, "%s", err);
    eo->ca_file = o->ca;
    eo->cert_file = o->cert;
    eo->key_file = o->key;
    eo->user = o->user;
    eo->password = o->password;
}

void
etcdopt_deinit(struct etcdopt *o)
{
    if (o->password != NULL) explicit_bzero(o->password, strlen(o->password));
    free(o->password);
    o->password = NULL;
}

const char *
etcdopt_describe(const struct etcdopt *o, char *buf, size_t cap)
{
    int n = 0;
    buf[0] = '\0';
    if (o->ca != NULL || o->cert != NULL)
        n = snprintf(buf, cap, "https%s%s%s%s", o->ca ? " with CA " : "", o->ca ? o->ca : "",
                     o->cert ? ", client certificate " : "", o->cert ? o->cert : "");
    if (o->user != NULL && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "%suser %s", n > 0 ? ", " : "", o->user);
    return buf;
}

int
etcdopt_reload_password(struct etcdopt *o, struct etcd *e, char *err, size_t errlen)
{
    if (o->password_file == NULL || e == NULL) return 1;
    int rc = read_password(o, err, errlen);
    if (rc == 0) {
        rc = etcd_set_password(e, o->password);
        if (rc != 0)
            snprintf(err, errlen, "unable to use the new etcd password: %s", error_str(rc));
    }
    etcdopt_deinit(o);
    return rc;
}
