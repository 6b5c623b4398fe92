/* resp_auth.c: the RESP face under juno-proxy --acl (auth.h): the gate every
 * command passes, AUTH, and HELLO's AUTH option.
 *
 *   not authenticated   every command but AUTH, HELLO and QUIT:
 *                       -NOAUTH Authentication required.
 *   a key command       the connection's namespace (the user's default-ns,
 *                       else --resp-namespace) read (readonly commands) or
 *                       written ("write" commands), else -NOPERM; the same
 *                       for the keyspace commands without a key (SCAN,
 *                       KEYS, DBSIZE, RANDOMKEY, FLUSHDB)
 *   AUTH [user] pass    user "default" when only a password is given; the
 *   HELLO 2 AUTH u p    password is checked on the thread pool, the commands
 *                       behind it wait (a barrier) so that a pipelined
 *                       "AUTH; GET" runs the GET as the new user; a failure
 *                       is -WRONGPASS and leaves the identity as it was
 *
 * The error texts are Redis 6's, so that clients recognise them.
 */
#include "pmetrics.h"
#include "resp_face.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

#define NOAUTH  "-NOAUTH Authentication required."
#define WRONGPW "-WRONGPASS invalid username-password pair or user is disabled."

/* An AUTH or HELLO AUTH waiting for its password check. */
struct rauth {
    struct rconn *rc; /* ref (conn_ref) */
    uint64_t seq;     /* its slot */
    int hello;
    char setname[64]; /* HELLO's SETNAME, applied on success; "" none */
};

/* The identity of a connection starts at its first command, once its TLS
 * handshake (if any) has told its certificate. */
static void
rauth__ready(struct rconn *rc)
{
    if (rc->id_ready) return;
    rc->id_ready = 1;
    ident_init(rc->w->p, &rc->ident, conn_peer_subject(&rc->c));
    const struct acl_user *u = rc->ident.user;
    snprintf(rc->ns, sizeof(rc->ns), "%s", u && u->default_ns[0] ? u->default_ns : "");
}

int
rauth_unauthenticated(struct rconn *rc)
{
    struct proxy *p = rc->w->p;
    if (!auth_enabled(p)) return 0;
    rauth__ready(rc);
    return ident_user(p, &rc->ident) == NULL;
}

static int
rauth__open_cmd(const struct rcmd_def *d)
{
    return d->run == rcmd_auth || d->run == rcmd_hello || d->run == rcmd_quit;
}

/* 1 when rc's user may not read (write: write) namespace ns for command
 * name, with NOPERM replied (and logged once a connection); else 0. */
static int
refused(struct rconn *rc, const char *name, const char *ns, int write)
{
    if (ident_allows(rc->w, &rc->ident, (const uint8_t *)ns, strlen(ns), write) == 0) return 0;
    pmetrics_acl_denied(rc->w, PM_RESP);
    if (!rc->denied_logged) {
        rc->denied_logged = 1; /* once a connection: a client may retry in a loop */
        log_info("RESP command refused by the acl user=%s command=%s namespace=%s peer=%s",
                 rc->ident.name, name, ns, rc->c.peer);
    }
    rcmd_error(rc, RERR_NOPERM_K);
    return 1;
}

int
rauth_gate(struct rconn *rc, const struct rcmd_def *d)
{
    struct proxy *p = rc->w->p;
    if (!auth_enabled(p)) return 0;
    rauth__ready(rc);
    if (rauth__open_cmd(d)) return 0;
    if (ident_user(p, &rc->ident) == NULL) {
        pmetrics_acl_denied(rc->w, PM_RESP);
        rcmd_error(rc, NOAUTH);
        return -1;
    }
    /* no key: any user, but for the keyspace commands (SCAN, KEYS, DBSIZE...) */
    if (d->first == 0 && (strstr(d->acl, "@keyspace") == NULL || d->run == rcmd_select)) return 0;
    return refused(rc, d->name, rconn_ns(rc), strstr(d->flags, "write") != NULL) ? -1 : 0;
}

int
rauth_may(struct rconn *rc, const char *ns, int write)
{
    if (!auth_enabled(rc->w->p)) return 1;
    rauth__ready(rc);
    return ident_allows(rc->w, &rc->ident, (const uint8_t *)ns, strlen(ns), write) == 0;
}

static void
rauth__done(int ok, void *data)
{
    struct rauth *a = data;
    struct rconn *rc = a->rc;
    struct rslot *s = rconn_slot_find(rc, a->seq);
    if (!rc->c.closing && s != NULL) {
        struct buf *b = rconn_slot_buf(rc, s);
        int r;
        if (ok) {
            const struct acl_user *u = rc->ident.user;
            snprintf(rc->ns, sizeof(rc->ns), "%s", u && u->default_ns[0] ? u->default_ns : "");
            if (rconn_select(rc, rc->db) != 0) rc->db = 0; /* the new user's NS/db */
            if (a->setname[0]) snprintf(rc->name, sizeof(rc->name), "%s", a->setname);
            if (a->hello) {
                rcmd_hello_reply(rc, b);
                r = 0;
            } else {
                r = resp_raw(b, "+OK\r\n", 5);
            }
        } else {
            rstat_error(rc, s, WRONGPW);
            log_info("RESP authentication failed peer=%s", rc->c.peer);
            r = resp_error(b, WRONGPW);
        }
        if (r != 0) rc->nomem = 1;
        rconn_slot_done(rc, s);
    }
    conn_unref(&rc->c);
    free(a);
}

/* Check user/pw for rc; the reply (OK, or HELLO's when hello) goes to a slot. */
static void
rauth__start(struct rconn *rc, const struct resp_arg *user, const struct resp_arg *pw, int hello,
             const char *setname)
{
    struct rauth *a = calloc(1, sizeof(*a));
    struct rslot *s = a ? rconn_slot(rc) : NULL;
    if (s == NULL) {
        free(a);
        rc->nomem = 1;
        return;
    }
    a->rc = rc;
    a->seq = s->seq;
    a->hello = hello;
    snprintf(a->setname, sizeof(a->setname), "%s", setname ? setname : "");
    static const struct resp_arg deflt = {(const uint8_t *)"default", 7};
    if (user == NULL) user = &deflt;
    rconn_barrier(rc, s);
    conn_ref(&rc->c);
    if (auth_check_password(rc->w, &rc->ident, user->ptr, user->len, pw->ptr, pw->len, rauth__done,
                            a) != 0)
        rauth__done(0, a);
}

void
rcmd_auth(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc > 3) {
        rcmd_error(rc, "syntax error");
        return;
    }
    if (!auth_enabled(rc->w->p)) {
        rcmd_error(rc, "AUTH <password> called without any password configured for the default "
                       "user. Are you sure your configuration is correct?");
        return;
    }
    rauth__start(rc, cmd->argc == 3 ? &cmd->argv[1] : NULL, &cmd->argv[cmd->argc - 1], 0, NULL);
}

int
rauth_hello(struct rconn *rc, const struct resp_arg *user, const struct resp_arg *pw,
            const char *setname)
{
    if (!auth_enabled(rc->w->p)) return 0; /* any password, as Redis's nopass default user */
    rauth__start(rc, user, pw, 1, setname);
    return 1;
}
