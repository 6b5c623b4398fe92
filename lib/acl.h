/* acl.h: users and what they may do: juno-proxy's --acl file.
 *
 * One user a line; '#' starts a comment; words are separated by blanks, and a
 * value with blanks is written in double quotes (\" and \\ inside):
 *
 *   user NAME [on|off] [password=HASH]... [nopass] [cert="SUBJECT"] [cn=NAME]
 *             [ns=PATTERN:r|rw]... [default-ns=NS]
 *
 *   password=HASH  a password's salted hash, as `juno-proxy --hash-password`
 *                  prints it: pbkdf2-sha256$ITERATIONS$SALT$KEY (base64);
 *                  up to ACL_MAX_PASSWORDS, so that one can be rotated
 *   nopass         any password, or none: the user "default" with nopass is
 *                  what a client that never authenticates is
 *   cert=SUBJECT   a client certificate whose subject is SUBJECT (RFC 2253,
 *                  as `openssl x509 -noout -subject -nameopt RFC2253` prints
 *                  it without "subject="), or cn=NAME: whose common name is
 *                  NAME. The identity of a JunoDB-protocol client (its frames
 *                  carry no credentials)
 *   ns=PATTERN:r   may read (Get) namespaces matching PATTERN: a name, or a
 *                  prefix ending in '*' ('*' alone: every namespace); rw also
 *                  writes (Create, Set, Update, Destroy). The widest match
 *                  counts.
 *   default-ns=NS  the namespace of this user's Redis commands (default: the
 *                  proxy's --resp-namespace)
 *   off            the user exists but cannot authenticate
 *
 * An ACL is immutable once parsed and reference-counted (atomically: any
 * thread), so that a reload (SIGHUP) swaps in a new one while connections
 * still hold the old.
 */
#ifndef JUNO_ACL_H
#define JUNO_ACL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ACL_MAX_FILE      (1u << 20) /* bytes */
#define ACL_MAX_LINE      4096
#define ACL_MAX_USERS     10000
#define ACL_MAX_NAME      64 /* user names, namespaces, patterns */
#define ACL_MAX_SUBJECT   512
#define ACL_MAX_PASSWORDS 4
#define ACL_MAX_NS        64 /* ns= rules per user */
#define ACL_KEY_LEN       32 /* PBKDF2-HMAC-SHA256 output */
#define ACL_SALT_MAX      64
#define ACL_ITER_MIN      1000
#define ACL_ITER_MAX      10000000
#define ACL_ITER_DEFAULT  20000 /* about 10 ms on one core */

enum acl_perm { ACL_NONE = 0, ACL_READ = 1, ACL_WRITE = 2 /* read and write */ };

struct acl_hash {
    uint32_t iterations;
    uint8_t salt[ACL_SALT_MAX];
    size_t salt_len;
    uint8_t key[ACL_KEY_LEN];
};

struct acl_rule {
    char pattern[ACL_MAX_NAME + 1];
    size_t len;   /* of the pattern without its '*' */
    int prefix;   /* the pattern ended in '*' */
    uint8_t perm; /* enum acl_perm */
};

struct acl_user {
    char name[ACL_MAX_NAME + 1];
    int on;
    int nopass;
    struct acl_hash pw[ACL_MAX_PASSWORDS];
    int npw;
    char subject[ACL_MAX_SUBJECT + 1]; /* "" when none */
    char cn[ACL_MAX_NAME + 1];         /* "" when none */
    struct acl_rule *ns;               /* owned: nns rules */
    int nns;
    char default_ns[ACL_MAX_NAME + 1]; /* "" when none */
    uint32_t line;                     /* where it was defined */
};

struct acl {
    atomic_int refs;        /* any thread */
    struct acl_user *users; /* owned */
    size_t nusers;
};

/* Parse an ACL file's text (len bytes; name says where it came from in
 * messages). On 0, *out is a new ACL with one reference. On an error,
 * JUNO_EBADDATA with "NAME:LINE: reason" in err; nothing is made. */
int acl_parse(const char *text, size_t len, const char *name, struct acl **out, char *err,
              size_t errlen);

/* References: acl_ref returns a; acl_unref frees it with the last (NULL: nothing). */
struct acl *acl_ref(struct acl *a);
void acl_unref(struct acl *a);

/* The user called name (len bytes), or NULL. Borrowed from a. */
const struct acl_user *acl_find(const struct acl *a, const char *name, size_t len);

/* The user a client certificate names: the first whose cert= is subject, or
 * else whose cn= is cn (either may be NULL); NULL when none. */
const struct acl_user *acl_find_cert(const struct acl *a, const char *subject, const char *cn);

/* Whether pw (len bytes) is one of u's passwords (nopass: always; off:
 * never). The comparison of derived keys takes the same time wherever they
 * differ. Costs one PBKDF2 per stored password: run it off the event loop. */
int acl_check_password(const struct acl_user *u, const char *pw, size_t len);

/* What u may do in namespace ns (nslen bytes): enum acl_perm. */
int acl_allows(const struct acl_user *u, const uint8_t *ns, size_t nslen);

/* The hash of password pw as an ACL file writes it, with a random salt and
 * iterations rounds (0: ACL_ITER_DEFAULT), into out (NUL-terminated).
 * Returns 0, JUNO_EINVAL (iterations out of range, out too small) or
 * JUNO_EIO (no randomness). */
int acl_hash_password(const char *pw, size_t len, uint32_t iterations, char *out, size_t cap);

#endif
