/* etcd.h: a small etcd v3 client over the JSON gateway (libcurl + cJSON).
 *
 * juno keeps its cluster state under /juno/<cluster>/ in etcd (the key layout is
 * in docs/operations.md). This module speaks the gateway's JSON: POST
 * /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn, /v3/lease/..., and
 * the streaming /v3/watch. Keys and values are base64 on the wire; here they
 * are plain bytes (values binary-safe with a length, keys C strings).
 *
 * Endpoints: a comma-separated list of URLs ("http://127.0.0.1:2379,http://...").
 * A call that cannot reach an endpoint (connect failure, timeout, "no leader")
 * tries the next one; the last endpoint that answered is tried first next time.
 *
 * https: endpoints may be https:// URLs; etcd's certificate is checked
 * against opts->ca_file (else the system's CAs), and opts->cert_file and
 * key_file are presented to an etcd that asks for client certificates
 * (--client-cert-auth). TLS 1.2 and 1.3 only.
 *
 * Authentication: with opts->user, every request (unary calls and watches)
 * carries a token from /v3/auth/authenticate in its Authorization header. A
 * token that etcd no longer takes (simple tokens expire after
 * --auth-token-ttl idle seconds, and on a restart) is replaced: one new
 * authentication and the request again. A wrong password is JUNO_EACCES with
 * "etcd: authentication failed for user NAME". An etcd without auth enabled
 * is used without a token. The password is never part of a message.
 *
 * Threads: a struct etcd is shared by any number of threads at once (each
 * call uses its own curl handle; the token is guarded by a mutex). A watch
 * and a registration each run in their own thread (etcd_watch_start,
 * etcd_reg_start); their callbacks run on that thread.
 *
 * Errors: every call returns 0 or a negative JUNO_E* code:
 *   JUNO_EUNAVAIL  no endpoint answered (refused, no leader, HTTP 5xx)
 *   JUNO_ETIMEDOUT the request timed out on every endpoint
 *   JUNO_ENOTFOUND etcd said "not found" (a lease that is gone)
 *   JUNO_EINVAL    etcd refused the request (bad argument, too large)
 *   JUNO_EACCES    etcd refused the credentials: a wrong password, no user
 *                  while auth is enabled, no permission on the key
 *   JUNO_EPROTO    the answer was not what the gateway sends
 *   JUNO_ENOMEM    out of memory
 * and etcd_strerror() gives this thread's message for the last failure
 * ("http://127.0.0.1:2379: Couldn't connect to server").
 */
#ifndef JUNO_ETCD_H
#define JUNO_ETCD_H

#include <stddef.h>
#include <stdint.h>

#define ETCD_KEY_MAX      1024                /* longest key this client sends */
#define ETCD_VALUE_MAX    (1536u * 1024)      /* etcd's default --max-request-bytes */
#define ETCD_RESPONSE_MAX (64u * 1024 * 1024) /* largest gateway answer read */

struct etcd;

struct etcd_opts {
    int connect_timeout_ms; /* per endpoint; 0 = 1000 */
    int request_timeout_ms; /* whole unary call, per endpoint; 0 = 5000 */
    /* TLS (https:// endpoints only), PEM files; all copied, NULL = none */
    const char *ca_file;   /* CA of etcd's certificate; NULL: the system's */
    const char *cert_file; /* client certificate (chain), with key_file */
    const char *key_file;
    /* etcd auth (etcdctl user add); both copied, the password wiped on destroy */
    const char *user;     /* NULL: no authentication */
    const char *password; /* required with user */
};

/* A key-value pair as etcd stores it. key and value are owned, NUL-terminated
 * heap strings (value may hold NULs: use value_len). */
struct etcd_kv {
    char *key;
    char *value;
    size_t value_len;
    int64_t create_revision; /* 0: the key does not exist */
    int64_t mod_revision;
    int64_t version;
    int64_t lease; /* 0: none */
};

/* The answer to a get: the matching pairs and the store's revision then. */
struct etcd_kvs {
    struct etcd_kv *kvs; /* owned: n entries, sorted by key */
    size_t n;
    int64_t revision; /* header.revision */
};

/* A client for endpoints (copied). opts may be NULL for the defaults.
 * Returns NULL on a malformed endpoint list, TLS files with an http://
 * endpoint, a certificate without its key (or the reverse), a user without a
 * password (or the reverse), or out of memory, with a message in err (errlen
 * bytes). No connection is made here, and the files are not read yet. */
struct etcd *etcd_create(const char *endpoints, const struct etcd_opts *opts, char *err,
                         size_t errlen);
void etcd_destroy(struct etcd *e);

/* A new password for e's user (copied; the old one wiped): the token is
 * dropped and the next call authenticates with it. Any thread. Returns 0, or
 * JUNO_EINVAL (e has no user, or password is empty) or JUNO_ENOMEM. */
int etcd_set_password(struct etcd *e, const char *password);

/* The endpoint list as given (borrowed). */
const char *etcd_endpoints(const struct etcd *e);

/* This thread's message for the last failed call; "" when none. Static per
 * thread; valid until the thread's next etcd call. */
const char *etcd_strerror(void);

/* Read one key (prefix 0) or every key that starts with key (prefix 1) into
 * *out (owned by the caller: etcd_kvs_deinit). A missing key is not an error:
 * out->n is 0. */
int etcd_get(struct etcd *e, const char *key, int prefix, struct etcd_kvs *out);
void etcd_kvs_deinit(struct etcd_kvs *kvs);
void etcd_kv_deinit(struct etcd_kv *kv);

/* Write key = value (len bytes), attached to lease (0 = none). *revision (may be
 * NULL) gets the revision of the write. */
int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
             int64_t *revision);

/* Delete key (prefix 0) or every key under it (prefix 1). *deleted (may be NULL)
 * gets how many were. Deleting nothing is not an error. */
int etcd_delete(struct etcd *e, const char *key, int prefix, int64_t *deleted);

/* Transactions: if every compare holds, run the ops (atomically, one revision). */
enum etcd_target {
    ETCD_CMP_MOD,    /* the key's mod_revision == rev (0: the key is absent) */
    ETCD_CMP_CREATE, /* the key's create_revision == rev (0: the key is absent) */
    ETCD_CMP_VERSION /* the key's version == rev (0: the key is absent) */
};
struct etcd_cmp {
    const char *key;
    enum etcd_target target;
    int64_t rev;
};
enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE };
struct etcd_op {
    enum etcd_op_type type;
    const char *key;
    const void *value; /* PUT only */
    size_t len;
    int64_t lease; /* PUT only; 0 = none */
};

/* Returns 0 when the transaction ran (*succeeded: 1 when the compares held and
 * the ops were applied, 0 when not and nothing changed) or a negative code.
 * *revision (may be NULL) gets the store revision after it. */
int etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t ncmp, const struct etcd_op *ops,
             size_t nops, int *succeeded, int64_t *revision);

/* Compare-and-swap: put key = value only if its mod_revision is mod_rev (0:
 * only if the key does not exist). Same returns as etcd_txn. */
int etcd_cas(struct etcd *e, const char *key, int64_t mod_rev, const void *value, size_t len,
             int *succeeded, int64_t *revision);

/* Leases. grant: a new lease of ttl_s seconds (1..), its id in *id.
 * keepalive: renew id once; JUNO_ENOTFOUND when it has expired or was revoked
 * (its keys are gone: grant a new one and put them again); *ttl (may be NULL)
 * gets the remaining TTL. revoke: end id now, deleting its keys;
 * JUNO_ENOTFOUND when it was already gone. */
int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id);
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);

/* Watches.
 *
 * A watch follows one key or a prefix. It first reads the current state (one
 * ETCD_EV_SNAPSHOT with every matching pair), then streams changes, one
 * ETCD_EV_PUT or ETCD_EV_DELETE per changed key, in revision order. When the
 * stream breaks (etcd restarted, endpoint lost) it reconnects with backoff to
 * any endpoint and resumes from the last seen revision + 1, so no change is
 * missed or repeated. When etcd answers that the history was compacted past
 * that revision, it reads the state again and delivers a new ETCD_EV_SNAPSHOT
 * (which replaces everything the caller knew) before streaming on.
 * ETCD_EV_LOST reports that etcd became unreachable (once per outage; the
 * watch keeps retrying).
 */
enum etcd_event_type { ETCD_EV_SNAPSHOT, ETCD_EV_PUT, ETCD_EV_DELETE, ETCD_EV_LOST };

struct etcd_event {
    enum etcd_event_type type;
    const struct etcd_kv *kv;   /* PUT, DELETE (value empty for DELETE); borrowed */
    const struct etcd_kvs *all; /* SNAPSHOT; borrowed for the call */
    int64_t revision;           /* of the change, or of the snapshot */
    const char *error;          /* LOST: why */
};

/* Called on the watch's thread for each event; ev and everything it points to
 * are borrowed for the call only. */
typedef void etcd_watch_fn(void *arg, const struct etcd_event *ev);

struct etcd_watch;

/* Start a watch on its own thread. Returns NULL on out of memory or when the
 * thread cannot start. The first event comes when etcd first answers. */
struct etcd_watch *etcd_watch_start(struct etcd *e, const char *key, int prefix, etcd_watch_fn *fn,
                                    void *arg);

/* Stop the watch and join its thread (a callback in progress finishes first;
 * none comes after). Must not be called from the callback. NULL is allowed. */
void etcd_watch_stop(struct etcd_watch *w);

/* The same watch as a blocking call on the caller's thread: returns 0 when
 * *stop became nonzero (checked at least every 100 ms), or a negative code
 * when it cannot go on (out of memory). */
int etcd_watch_run(struct etcd *e, const char *key, int prefix, etcd_watch_fn *fn, void *arg,
                   const volatile int *stop);

/* Registrations: key = value under a lease of ttl_s seconds that a thread keeps
 * alive (a keepalive every ttl_s/3, every fifth followed by a read of the
 * key). When the lease is lost (etcd was down longer than the TTL) it grants
 * a new one and puts the key again; when the key was deleted under a live
 * lease, it puts it again within five renewal periods. The first
 * put is tried before etcd_reg_start returns: its result is returned in *rc
 * (may be NULL), but the registration keeps trying in the background even when
 * it failed. */
struct etcd_reg;
struct etcd_reg *etcd_reg_start(struct etcd *e, const char *key, const char *value, int64_t ttl_s,
                                int *rc);

/* Change the registered value (copied). Never blocks on etcd: the
 * registration's thread writes it at once (and again until it succeeds).
 * Returns 0 or JUNO_ENOMEM. */
int etcd_reg_update(struct etcd_reg *r, const char *value);

/* Stop keeping the key alive; with revoke, revoke the lease so the key is gone
 * at once (else it expires after the TTL). Joins the thread. NULL is allowed. */
void etcd_reg_stop(struct etcd_reg *r, int revoke);

/* juno's key layout (docs/operations.md): /juno/<cluster>/<suffix>, e.g.
 * etcd_juno_key(buf, sizeof(buf), "demo", "map") gives "/juno/demo/map".
 * Returns the length, or JUNO_EMSGSIZE when it does not fit in cap. */
#define ETCD_JUNO_DEFAULT_CLUSTER "juno"
int etcd_juno_key(char *buf, size_t cap, const char *cluster, const char *suffix);

/* Helpers, exposed for the unit tests. */
/* Standard base64 with padding of len bytes into out (outcap >= 4*ceil(len/3)+1,
 * NUL-terminated). Returns the encoded length, or JUNO_EMSGSIZE. */
int etcd_b64_encode(const void *in, size_t len, char *out, size_t outcap);
/* Decode standard base64 (padding required) into out (outcap bytes). Returns
 * the decoded length, JUNO_EBADDATA on a bad character or length, or
 * JUNO_EMSGSIZE. */
int etcd_b64_decode(const char *in, size_t len, void *out, size_t outcap);
/* The range_end of a prefix: the prefix with its last byte below 0xff
 * incremented and what follows it dropped ("" becomes "\0", every key), into
 * out (outcap >= strlen(prefix)+1). Returns its length or JUNO_EMSGSIZE. */
int etcd_prefix_end(const char *prefix, char *out, size_t outcap);

#endif
