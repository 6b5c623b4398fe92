/* test_etcdopt.c: lib/etcdopt: the --etcd-* options, the JUNO_ETCD_*
 * environment, the password file's first line, the checks that make a usage
 * error, TLS files loaded up front (a certificate made with openssl(1) in a
 * temporary directory), and the description --check-config prints. */
#include "unit.h"

#include "error.h"
#include "etcdopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64], ca[128], crt[128], key[128], pwf[128];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

static void
clear_env(void)
{
    const char *v[] = {"JUNO_ETCD_CA", "JUNO_ETCD_CERT", "JUNO_ETCD_KEY", "JUNO_ETCD_USER",
                       "JUNO_ETCD_PASSWORD"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) unsetenv(v[i]);
}

UNIT_TEST(set_records_and_names)
{
    struct etcdopt o = {0};
    CHECK_EQ_I(etcdopt_set(&o, 'e', "x", NULL), 0);
    CHECK(o.given == NULL);
    char *argv[] = {"prog", "--etcd-ca", "ca.pem", "--etcd-password-file=f", NULL};
    optind = 3; /* as getopt_long leaves it after "--etcd-ca ca.pem" */
    CHECK_EQ_I(etcdopt_set(&o, ETCDOPT_CA, argv[2], argv), 1);
    CHECK_STR(o.ca, "ca.pem");
    CHECK_STR(o.given, "--etcd-ca");
    optind = 4; /* after "--etcd-password-file=f": the full name was typed */
    CHECK_EQ_I(etcdopt_set(&o, ETCDOPT_PASSWORD_FILE, argv[3] + 21, argv), 1);
    CHECK_STR(o.password_file, "f");
    CHECK_STR(o.given, "--etcd-password-file");
    optind = 1;
}

UNIT_TEST(environment_only_when_asked)
{
    clear_env();
    setenv("JUNO_ETCD_CA", ca, 1);
    setenv("JUNO_ETCD_USER", "juno", 1);
    setenv("JUNO_ETCD_PASSWORD", "env-pw", 1);
    char err[512];
    struct etcdopt o = {0};
    CHECK_EQ_I(etcdopt_resolve(&o, 1, err, sizeof(err)), 0);
    CHECK(o.ca != NULL && strcmp(o.ca, ca) == 0);
    CHECK(o.user != NULL && strcmp(o.user, "juno") == 0);
    CHECK(o.password != NULL && strcmp(o.password, "env-pw") == 0);
    etcdopt_deinit(&o);
    CHECK(o.password == NULL);
    struct etcdopt d = {0}; /* a daemon: JUNO_ETCD_PASSWORD alone means nothing */
    CHECK_EQ_I(etcdopt_resolve(&d, 0, err, sizeof(err)), 0);
    CHECK(d.ca == NULL && d.user == NULL && d.password == NULL);
    struct etcdopt u = {.user = "juno"}; /* ... but gives --etcd-user its password */
    CHECK_EQ_I(etcdopt_resolve(&u, 0, err, sizeof(err)), 0);
    CHECK(u.password != NULL && strcmp(u.password, "env-pw") == 0);
    etcdopt_deinit(&u);
    clear_env();
}

UNIT_TEST(password_file_first_line)
{
    clear_env();
    setenv("JUNO_ETCD_PASSWORD", "env-pw", 1); /* the file wins */
    char err[512];
    write_file(pwf, "file-pw\r\nsecond line\n");
    struct etcdopt o = {.user = "juno", .password_file = pwf};
    CHECK_EQ_I(etcdopt_resolve(&o, 0, err, sizeof(err)), 0);
    CHECK(o.password != NULL && strcmp(o.password, "file-pw") == 0);
    etcdopt_deinit(&o);
    write_file(pwf, "\nfile-pw\n");
    struct etcdopt e = {.user = "juno", .password_file = pwf};
    CHECK_EQ_I(etcdopt_resolve(&e, 0, err, sizeof(err)), JUNO_EBADDATA);
    CHECK(strstr(err, "its first line is empty") != NULL);
    struct etcdopt m = {.user = "juno", .password_file = "/nonexistent/pw"};
    CHECK_EQ_I(etcdopt_resolve(&m, 0, err, sizeof(err)), JUNO_ENOENT);
    CHECK(strstr(err, "unable to read --etcd-password-file /nonexistent/pw") != NULL);
    clear_env();
}

UNIT_TEST(usage_errors)
{
    clear_env();
    char err[512];
    struct etcdopt a = {.cert = crt};
    CHECK_EQ_I(etcdopt_resolve(&a, 0, err, sizeof(err)), JUNO_EINVAL);
    CHECK(strstr(err, "--etcd-cert and --etcd-key go together") != NULL);
    struct etcdopt b = {.user = "juno"};
    CHECK_EQ_I(etcdopt_resolve(&b, 0, err, sizeof(err)), JUNO_EINVAL);
    CHECK(strstr(err, "needs a password: JUNO_ETCD_PASSWORD or --etcd-password-file") != NULL);
    struct etcdopt c = {.password_file = pwf};
    CHECK_EQ_I(etcdopt_resolve(&c, 0, err, sizeof(err)), JUNO_EINVAL);
    CHECK(strstr(err, "--etcd-password-file needs --etcd-user") != NULL);
}

UNIT_TEST(tls_files_loaded_up_front)
{
    clear_env();
    char err[512];
    struct etcdopt ok = {.ca = ca, .cert = crt, .key = key};
    CHECK_EQ_I(etcdopt_resolve(&ok, 0, err, sizeof(err)), 0);
    struct etcdopt swapped = {.ca = ca, .cert = key, .key = crt};
    CHECK_EQ_I(etcdopt_resolve(&swapped, 0, err, sizeof(err)), JUNO_EBADDATA);
    CHECK(strstr(err, "unable to use the etcd TLS files: cannot load TLS certificate") != NULL);
    struct etcdopt missing = {.ca = "/nonexistent/ca.pem"};
    CHECK_EQ_I(etcdopt_resolve(&missing, 0, err, sizeof(err)), JUNO_EBADDATA);
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
}

UNIT_TEST(describe)
{
    char b[256];
    struct etcdopt n = {0};
    CHECK_STR(etcdopt_describe(&n, b, sizeof(b)), "");
    struct etcdopt a = {.ca = "ca.pem", .cert = "c.pem", .key = "c.key", .user = "juno"};
    CHECK_STR(etcdopt_describe(&a, b, sizeof(b)),
              "https with CA ca.pem, client certificate c.pem, user juno");
    struct etcdopt u = {.user = "juno"};
    CHECK_STR(etcdopt_describe(&u, b, sizeof(b)), "user juno");
    struct etcdopt c = {.ca = "ca.pem"};
    CHECK_STR(etcdopt_describe(&c, b, sizeof(b)), "https with CA ca.pem");
}

int
main(void)
{
    strcpy(dir, "/tmp/test_etcdopt.XXXXXX");
    if (mkdtemp(dir) == NULL) return 1;
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(crt, sizeof(crt), "%s/c.pem", dir);
    snprintf(key, sizeof(key), "%s/c.key", dir);
    snprintf(pwf, sizeof(pwf), "%s/pw", dir);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s "
             "-out %s -days 2 -subj /O=juno 2>/dev/null && cp %s %s",
             key, crt, crt, ca);
    if (system(cmd) != 0) {
        printf("not ok 1 - openssl cannot make a certificate\n1..1\n");
        return 1;
    }
    RUN(set_records_and_names);
    RUN(environment_only_when_asked);
    RUN(password_file_first_line);
    RUN(usage_errors);
    RUN(tls_files_loaded_up_front);
    RUN(describe);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# cannot remove %s\n", dir);
    return unit_done();
}
