/* auth.c: juno-proxy's --acl: loading and reloading it, each connection's
 * identity, namespace checks, passwords checked off the loop (see auth.h). */
#include "auth.h"
#include "pmetrics.h"
#include "proxy.h"

#include "cli.h"
#include "error.h"
#include "log.h"
#include "wire.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read and parse path. Returns 0 with *out, or an error with err set. */
static int
auth__load(const char *path, struct acl **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = cli_read_file(path, ACL_MAX_FILE + 1, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, error_str(rc));
        return rc;
    }
    rc = acl_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

int
auth_init(struct proxy *p, char *err, size_t errlen)
{
    struct auth *a = &p->auth;
    a->path = p->cfg.acl_path;
    uv_mutex_init(&a->mu);
    atomic_init(&a->gen, 1);
    atomic_init(&a->reloads_ok, 0);
    atomic_init(&a->reloads_failed, 0);
    if (a->path == NULL) return 0;
    return auth__load(a->path, &a->acl, err, errlen);
}

void
auth_reload(struct proxy *p)
{
    struct auth *a = &p->auth;
    if (a->path == NULL) return;
    struct acl *n;
    char err[512];
    if (auth__load(a->path, &n, err, sizeof(err)) != 0) {
        atomic_fetch_add(&a->reloads_failed, 1);
        log_error("acl reload failed, the ACL in force is kept: %s", err);
        return;
    }
    uv_mutex_lock(&a->mu);
    struct acl *old = a->acl;
    a->acl = n;
    atomic_fetch_add(&a->gen, 1);
    uv_mutex_unlock(&a->mu);
    acl_unref(old);
    atomic_fetch_add(&a->reloads_ok, 1);
    log_info("acl reloaded file=%s users=%zu", a->path, n->nusers);
}

void
auth_deinit(struct proxy *p)
{
    acl_unref(p->auth.acl);
    p->auth.acl = NULL;
    uv_mutex_destroy(&p->auth.mu);
}

int
auth_enabled(const struct proxy *p)
{
    return p->auth.path != NULL;
}

/* The ACL in force, with a reference, and its generation. */
static struct acl *
auth__current(struct proxy *p, uint64_t *gen)
{
    uv_mutex_lock(&p->auth.mu);
    struct acl *a = acl_ref(p->auth.acl);
    *gen = atomic_load(&p->auth.gen);
    uv_mutex_unlock(&p->auth.mu);
    return a;
}

/* Make id user u of a (a reference of the caller's is taken over). */
static void
ident__set(struct ident *id, struct acl *a, uint64_t gen, const struct acl_user *u)
{
    acl_unref(id->acl);
    id->acl = a;
    id->gen = gen;
    id->user = u;
    snprintf(id->name, sizeof(id->name), "%s", u ? u->name : "");
}

/* The common name in an RFC 2253 subject ("CN=app1,O=Acme"), into cn. */
static void
auth__cn(const char *subject, char *cn, size_t cap)
{
    cn[0] = '\0';
    for (const char *s = subject; s && *s; s++) {
        if ((s == subject || s[-1] == ',') && strncmp(s, "CN=", 3) == 0) {
            size_t n = strcspn(s + 3, ",");
            if (n >= cap) n = cap - 1;
            memcpy(cn, s + 3, n);
            cn[n] = '\0';
            return;
        }
    }
}

/* "default" with nopass, if the ACL has it on. */
static const struct acl_user *
auth__default(const struct acl *a)
{
    const struct acl_user *u = acl_find(a, "default", 7);
    return u && u->on && u->nopass ? u : NULL;
}

void
ident_init(struct proxy *p, struct ident *id, const char *subject)
{
    memset(id, 0, sizeof(*id));
    if (!auth_enabled(p)) return;
    uint64_t gen;
    struct acl *a = auth__current(p, &gen);
    const struct acl_user *u = NULL;
    if (subject && *subject) {
        char cn[ACL_MAX_NAME + 1];
        auth__cn(subject, cn, sizeof(cn));
        u = acl_find_cert(a, subject, cn[0] ? cn : NULL);
        if (u && !u->on) u = NULL;
    }
    if (u == NULL) u = auth__default(a);
    ident__set(id, a, gen, u);
}

void
ident_deinit(struct ident *id)
{
    acl_unref(id->acl);
    memset(id, 0, sizeof(*id));
}

const struct acl_user *
ident_user(struct proxy *p, struct ident *id)
{
    if (id->user == NULL) return NULL;
    if (atomic_load(&p->auth.gen) != id->gen) { /* reloaded: the same name, or nobody */
        uint64_t gen;
        struct acl *a = auth__current(p, &gen);
        const struct acl_user *u = acl_find(a, id->name, strlen(id->name));
        if (u && !u->on) u = NULL;
        if (u == NULL) log_info("user removed or turned off by an acl reload user=%s", id->name);
        ident__set(id, a, gen, u);
    }
    return id->user;
}

int
ident_allows(struct worker *w, struct ident *id, const uint8_t *ns, size_t nslen, int write)
{
    if (!auth_enabled(w->p)) return 0;
    const struct acl_user *u = ident_user(w->p, id);
    int perm = u ? acl_allows(u, ns, nslen) : ACL_NONE;
    if (perm >= (write ? ACL_WRITE : ACL_READ)) return 0;
    return WIRE_ST_SERVICE_DENIED;
}

/* ---- passwords, on libuv's thread pool ---- */

struct auth_job {
    uv_work_t work;
    struct worker *w;
    struct ident *id;
    struct acl *acl; /* ref */
    uint64_t gen;
    const struct acl_user *user; /* borrowed from acl; NULL: no such user */
    char *pw;                    /* owned */
    size_t pwlen;
    int ok;
    auth_done_fn *done;
    void *data;
};

static void
auth__work(uv_work_t *wk)
{
    struct auth_job *j = wk->data;
    j->ok = j->user != NULL && acl_check_password(j->user, j->pw, j->pwlen);
}

static void
auth__after(uv_work_t *wk, int status)
{
    struct auth_job *j = wk->data;
    if (status != 0) j->ok = 0;
    if (j->ok) {
        ident__set(j->id, j->acl, j->gen, j->user);
        j->acl = NULL; /* the identity holds it now */
    } else {
        pmetrics_auth_failed(j->w);
    }
    acl_unref(j->acl);
    if (j->pw) OPENSSL_cleanse(j->pw, j->pwlen);
    free(j->pw);
    j->done(j->ok, j->data);
    free(j);
}

int
auth_check_password(struct worker *w, struct ident *id, const uint8_t *name, size_t nlen,
                    const uint8_t *pw, size_t pwlen, auth_done_fn *done, void *data)
{
    struct auth_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->pw = malloc(pwlen ? pwlen : 1)) == NULL) {
        free(j);
        return JUNO_ENOMEM;
    }
    memcpy(j->pw, pw, pwlen);
    j->pwlen = pwlen;
    j->w = w;
    j->id = id;
    j->done = done;
    j->data = data;
    j->acl = auth__current(w->p, &j->gen);
    j->user = j->acl ? acl_find(j->acl, (const char *)name, nlen) : NULL;
    j->work.data = j;
    int rc = uv_queue_work(&w->loop, &j->work, auth__work, auth__after);
    if (rc != 0) {
        acl_unref(j->acl);
        free(j->pw);
        free(j);
        return JUNO_ENOMEM;
    }
    return 0;
}

/* ---- --hash-password ---- */

int
auth_hash_password_main(unsigned iterations)
{
    char line[1024];
    if (fgets(line, sizeof(line), stdin) == NULL) {
        cli_error("unable to read a password from stdin: %s",
                  ferror(stdin) ? "read error" : "empty");
        return EX_DATAERR;
    }
    size_t n = strcspn(line, "\r\n");
    if (n == 0) {
        cli_error("unable to hash the password: it is empty");
        return EX_DATAERR;
    }
    char out[256];
    int rc = acl_hash_password(line, n, iterations, out, sizeof(out));
    OPENSSL_cleanse(line, sizeof(line));
    if (rc != 0) {
        cli_error("unable to hash the password: %s", error_str(rc));
        return rc == JUNO_EINVAL ? EX_USAGE : EX_SOFTWARE;
    }
    printf("%s\n", out);
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
