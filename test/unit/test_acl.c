/* test_acl.c: the --acl file: parsing, errors with file:line, lookups,
 * namespace rules, password hashes. */
#include "acl.h"
#include "error.h"
#include "unit.h"

#include <stdlib.h>

static struct acl *
parse(const char *text, char *err, size_t errlen)
{
    struct acl *a = NULL;
    err[0] = '\0';
    if (acl_parse(text, strlen(text), "acl.conf", &a, err, errlen) != 0) return NULL;
    return a;
}

/* The error for text, or "" when it parses. */
static const char *
error_of(const char *text)
{
    static char err[400];
    struct acl *a = parse(text, err, sizeof(err));
    if (a != NULL) {
        acl_unref(a);
        return "";
    }
    return err;
}

UNIT_TEST(hash_and_check_passwords)
{
    char h[200], line[600], err[300];
    CHECK_EQ_I(acl_hash_password("s3cret", 6, ACL_ITER_MIN, h, sizeof(h)), 0);
    CHECK(strncmp(h, "pbkdf2-sha256$1000$", 19) == 0);
    char h2[200];
    CHECK_EQ_I(acl_hash_password("s3cret", 6, ACL_ITER_MIN, h2, sizeof(h2)), 0);
    CHECK(strcmp(h, h2) != 0); /* a new salt each time */
    snprintf(line, sizeof(line), "user app password=%s password=%s ns=app:rw\n", h, h2);
    struct acl *a = parse(line, err, sizeof(err));
    CHECK(a != NULL);
    if (a == NULL) {
        printf("# %s\n", err);
        return;
    }
    const struct acl_user *u = acl_find(a, "app", 3);
    CHECK(u != NULL && u->npw == 2);
    CHECK(acl_check_password(u, "s3cret", 6));
    CHECK(!acl_check_password(u, "s3cre", 5));
    CHECK(!acl_check_password(u, "s3cret!", 7));
    CHECK(!acl_check_password(u, "", 0));
    CHECK(acl_find(a, "ap", 2) == NULL && acl_find(a, "apps", 4) == NULL);
    acl_unref(a);
    CHECK_EQ_I(acl_hash_password("x", 1, 10, h, sizeof(h)), JUNO_EINVAL);
    CHECK_EQ_I(acl_hash_password("x", 1, 0, h, 10), JUNO_EINVAL);
}

/* A known answer: PBKDF2-HMAC-SHA256("password", "saltsalt", 1000), base64. */
UNIT_TEST(known_hash)
{
    char err[300];
    struct acl *a = parse("user k password=pbkdf2-sha256$1000$c2FsdHNhbHQ=$"
                          "E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUeTYqY=\n",
                          err, sizeof(err));
    CHECK(a != NULL);
    if (a == NULL) {
        printf("# %s\n", err);
        return;
    }
    const struct acl_user *u = acl_find(a, "k", 1);
    CHECK(acl_check_password(u, "password", 8));
    CHECK(!acl_check_password(u, "Password", 8));
    acl_unref(a);
}

UNIT_TEST(namespaces_and_users)
{
    char err[300];
    struct acl *a = parse("# users\n"
                          "\n"
                          "user admin nopass ns=*:rw\n"
                          "user app cn=app1 ns=app:rw ns=shared*:r ns=shared-app:rw "
                          "default-ns=app   # trailing comment\r\n"
                          "user audit cert=\"CN=audit, O=Acme \\\"X\\\"\" ns=app:r\n"
                          "user gone off nopass ns=*:rw\n"
                          "user nothing nopass\n",
                          err, sizeof(err));
    CHECK(a != NULL);
    if (a == NULL) {
        printf("# %s\n", err);
        return;
    }
    CHECK_EQ_U(a->nusers, 5);
    const struct acl_user *admin = acl_find(a, "admin", 5), *app = acl_find(a, "app", 3);
    const struct acl_user *audit = acl_find(a, "audit", 5), *gone = acl_find(a, "gone", 4);
    const struct acl_user *nothing = acl_find(a, "nothing", 7);
    CHECK_EQ_I(acl_allows(admin, (const uint8_t *)"anything", 8), ACL_WRITE);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"app", 3), ACL_WRITE);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"app2", 4), ACL_NONE);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"ap", 2), ACL_NONE);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"shared", 6), ACL_READ);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"shared-x", 8), ACL_READ);
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"shared-app", 10), ACL_WRITE); /* widest wins */
    CHECK_EQ_I(acl_allows(app, (const uint8_t *)"share", 5), ACL_NONE);
    CHECK_EQ_I(acl_allows(nothing, (const uint8_t *)"app", 3), ACL_NONE);
    CHECK_STR(app->default_ns, "app");
    CHECK_STR(audit->subject, "CN=audit, O=Acme \"X\"");
    CHECK(acl_find_cert(a, "CN=audit, O=Acme \"X\"", "zzz") == audit);
    CHECK(acl_find_cert(a, "CN=other", "app1") == app);
    CHECK(acl_find_cert(a, NULL, "app1") == app);
    CHECK(acl_find_cert(a, "CN=other", "other") == NULL);
    CHECK(acl_check_password(admin, "", 0));
    CHECK(!acl_check_password(gone, "", 0)); /* off */
    CHECK(acl_ref(a) == a);
    acl_unref(a);
    acl_unref(a);
    acl_unref(NULL);
}

UNIT_TEST(errors_name_file_and_line)
{
    CHECK_STR(error_of(""), "");
    CHECK_STR(error_of("# only comments\n\n"), "");
    CHECK_STR(error_of("user a nopass\nuser\n"), "acl.conf:2: user needs a name of 1 to 64 bytes");
    CHECK_STR(error_of("usr a\n"), "acl.conf:1: a line must start with 'user', not 'usr'");
    CHECK_STR(error_of("\n\nuser a nopass flag\n"),
              "acl.conf:3: unknown word 'flag' (user takes on, off, nopass, password=, cert=, "
              "cn=, ns=, default-ns=)");
    CHECK_STR(error_of("user a password=hunter2\n"),
              "acl.conf:1: password= takes a hash (pbkdf2-sha256$...) as `juno-proxy "
              "--hash-password` prints it, not a password");
    CHECK_STR(error_of("user a password=pbkdf2-sha256$10$c2FsdHNhbHQ=$"
                       "E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUeTYqY=\n"),
              "acl.conf:1: a password hash's iterations must be 1000 to 10000000");
    CHECK_STR(error_of("user a password=pbkdf2-sha256$1000$c2FsdA==$"
                       "E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUeTYqY=\n"),
              "acl.conf:1: a password hash's salt must be base64 of 8 to 64 bytes");
    CHECK_STR(error_of("user a password=pbkdf2-sha256$1000$c2FsdHNhbHQ=$QUJD\n"),
              "acl.conf:1: a password hash's key must be base64 of 32 bytes");
    CHECK_STR(error_of("user a password=pbkdf2-sha256$1000$c2FsdHNhbHQ=\n"),
              "acl.conf:1: a password hash needs ITERATIONS$SALT$KEY");
    CHECK_STR(error_of("user a ns=app\n"), "acl.conf:1: ns= takes PATTERN:r or PATTERN:rw");
    CHECK_STR(error_of("user a ns=app:w\n"), "acl.conf:1: ns=app: the permission must be r or rw");
    CHECK_STR(error_of("user a ns=a*b:r\n"), "acl.conf:1: ns=a*b: '*' may only end a pattern");
    CHECK_STR(error_of("user a ns=:r\n"), "acl.conf:1: ns= needs a pattern of 1 to 64 bytes");
    CHECK_STR(error_of("user a nopass\nuser a nopass\n"),
              "acl.conf:2: user a is defined twice (first on line 1)");
    CHECK_STR(error_of("user a cert=\"CN=x\n"), "acl.conf:1: a quote that is not closed");
    CHECK_STR(error_of("user a cert=\"\\n\"\n"),
              "acl.conf:1: a \\ in quotes must be followed by \" or \\");
    CHECK_STR(error_of("user a nopass ns=x:r default-ns=y\n"),
              "acl.conf:1: user a may not use its default-ns y");
    CHECK_STR(error_of("user a\tnopass\x01\n"), "acl.conf:1: a control character in a word");
    CHECK_STR(error_of("user a nopass password=pbkdf2-sha256$1000$c2FsdHNhbHQ=$"
                       "E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUeTYqY=\n"),
              "acl.conf:1: user a has both nopass and password=");
    CHECK_STR(error_of("user aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"),
              "acl.conf:1: user needs a name of 1 to 64 bytes");
    char big[ACL_MAX_LINE + 20];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_STR(error_of(big), "acl.conf:1: a line longer than 4096 bytes");
    char nul[] = "user a nopass\nuser b\0 nopass\n";
    struct acl *a = NULL;
    char err[200];
    CHECK_EQ_I(acl_parse(nul, sizeof(nul) - 1, "acl.conf", &a, err, sizeof(err)), JUNO_EBADDATA);
    CHECK_STR(err, "acl.conf:2: a NUL byte");
}

int
main(void)
{
    RUN(hash_and_check_passwords);
    RUN(known_hash);
    RUN(namespaces_and_users);
    RUN(errors_name_file_and_line);
    return unit_done();
}
