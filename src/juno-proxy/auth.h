/* auth.h: juno-proxy's users (--acl FILE, lib/acl): who a client is, and
 * whether it may read or write a namespace.
 *
 * The ACL is loaded at start and on SIGHUP (main thread); a file that does
 * not parse on a reload leaves the old one in force (logged with file:line).
 * Each connection keeps an identity: the ACL it was found in (a reference)
 * and the user's name. After a reload the name is looked up again in the new
 * ACL at the connection's next request, so a user removed or turned off
 * loses its access at once, and changed rules apply to open connections.
 *
 *   JunoDB protocol  the identity is the client certificate (cert= or cn=),
 *                    else the user "default" when it has nopass: the frames
 *                    carry no credentials. A request for a namespace the
 *                    identity may not use is answered ServiceDenied (2).
 *   RESP             the user "default" (nopass) until AUTH or HELLO AUTH;
 *                    without one, every command but AUTH, HELLO and QUIT is
 *                    answered -NOAUTH. Passwords are checked on libuv's
 *                    thread pool (PBKDF2 takes milliseconds).
 *
 * Without --acl every client may do everything, as before.
 */
#ifndef JUNO_PROXY_AUTH_H
#define JUNO_PROXY_AUTH_H

#include "acl.h"

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

struct proxy;
struct worker;

/* The proxy's ACL (struct proxy embeds it). */
struct auth {
    const char *path;         /* borrowed: --acl FILE, or NULL */
    uv_mutex_t mu;            /* guards acl */
    struct acl *acl;          /* ref: the one in force */
    atomic_uint_fast64_t gen; /* bumped by every reload that took */
    atomic_uint_fast64_t reloads_ok, reloads_failed;
};

/* A client's identity (embedded in its connection). */
struct ident {
    struct acl *acl;             /* ref: where user was found; NULL: none */
    const struct acl_user *user; /* borrowed from acl; NULL: not authenticated */
    uint64_t gen;                /* auth.gen when user was found */
    char name[ACL_MAX_NAME + 1]; /* the user's name, to find it after a reload */
};

/* Load --acl (main, before the workers). Returns 0 (also without --acl) or
 * JUNO_EBADDATA / an I/O error with the reason in err. */
int auth_init(struct proxy *p, char *err, size_t errlen);
/* SIGHUP: read the file again; a bad one keeps the old ACL (logged). */
void auth_reload(struct proxy *p);
void auth_deinit(struct proxy *p);
/* Whether --acl is in force. */
int auth_enabled(const struct proxy *p);

/* Start id (a new connection). JunoDB protocol: subject is the client
 * certificate's ("" or NULL: none); RESP: NULL. The identity becomes the
 * certificate's user, else "default" if it has nopass, else none. */
void ident_init(struct proxy *p, struct ident *id, const char *subject);
void ident_deinit(struct ident *id);

/* The identity's user now (after a reload: found again by name; a user gone
 * or turned off is NULL), or NULL when not authenticated. */
const struct acl_user *ident_user(struct proxy *p, struct ident *id);

/* What id may do in namespace ns: 0 when it may (or without --acl), else
 * WIRE_ST_SERVICE_DENIED. write: the request writes. Counts a denial. */
int ident_allows(struct worker *w, struct ident *id, const uint8_t *ns, size_t nslen, int write);

/* Check user's password off the loop: done(ok, data) runs on w's loop with
 * ok 1 when name/password match a user that is on, and then id is that user
 * (id must outlive the check: hold the connection). */
typedef void auth_done_fn(int ok, void *data);
int auth_check_password(struct worker *w, struct ident *id, const uint8_t *name, size_t nlen,
                        const uint8_t *pw, size_t pwlen, auth_done_fn *done, void *data);

/* --hash-password: read a password from stdin (the first line), print its
 * hash for an ACL file. Exit status. */
int auth_hash_password_main(unsigned iterations);

#endif
