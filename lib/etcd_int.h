/* etcd_int.h: what lib/etcd.c, lib/etcd_http.c and lib/etcd_watch.c share (not
 * for programs). */
#ifndef JUNO_ETCD_INT_H
#define JUNO_ETCD_INT_H

#include "etcd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct etcd {
    char *spec;  /* owned: the endpoint list as given */
    char **urls; /* owned: n base URLs without a trailing slash */
    size_t n;
    atomic_uint cur; /* the endpoint tried first */
    int connect_ms;
    int request_ms;
    char *ca, *cert, *key; /* owned: TLS files, or NULL */
    char *user;            /* owned: etcd auth, or NULL */
    char *password;        /* owned; wiped by etcd_destroy */
    /* lib/etcd_auth.c; mu is held while authenticating, so that threads
     * whose token was refused wait for one new token instead of each asking */
    pthread_mutex_t mu;
    char *token;          /* owned: the Authorization header line, or NULL */
    int authed;           /* token (or NULL: auth is off in etcd) is current */
    uint64_t gen;         /* +1 per authentication */
    uint64_t failed_ms;   /* when the last authentication failed (monotonic) */
    int failed_rc;        /* its code */
    char failed_msg[384]; /* its message */
};

/* etcd__answer's verdict when etcd refused the auth token (expired, etcd
 * restarted, auth turned on meanwhile): authenticate again, and retry. */
#define ETCD__REAUTH 3

/* A growing response buffer, capped at ETCD_RESPONSE_MAX. */
struct etcd__buf {
    char *p; /* owned */
    size_t len, cap;
};
size_t etcd__buf_write(char *data, size_t size, size_t nmemb, void *arg);

/* Set this thread's etcd_strerror() message. */
void etcd__seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Headers every request carries (static, shared; built once). */
struct curl_slist *etcd__headers(void);

/* The curl options every request to e shares: timeouts to connect, TLS
 * files, no proxy, headers h (borrowed), errors into cerr
 * (CURL_ERROR_SIZE). */
void etcd__curl_setup(const struct etcd *e, CURL *c, struct curl_slist *h, char *cerr);

/* What a failed transfer to url probably means, as " (...)" to append to
 * curl's message, or "": https handshakes refused for want of a client
 * certificate, etcd's certificate not trusted, plaintext to a TLS port.
 * Static. */
const char *etcd__tls_hint(const char *url, int has_cert, int curl_code);

/* POST body to path with headers h on every endpoint in turn (see
 * etcd__post). Returns 0 with *out owned by the caller, a negative code, or
 * ETCD__REAUTH. */
int etcd__post_raw(struct etcd *e, const char *path, const char *body, struct curl_slist *h,
                   cJSON **out);

/* The same on endpoint k alone, once: 0 with *out owned by the caller, a
 * negative code with etcd_strerror() set, or ETCD__REAUTH. */
int etcd__post_at(struct etcd *e, unsigned k, const char *path, const char *body,
                  struct curl_slist *h, cJSON **out);

/* lib/etcd_auth.c. The headers of a request to e (owned by the caller:
 * curl_slist_free_all): etcd__headers() and, when e has a user, its token,
 * authenticating first when there is none. *gen gets the token's generation
 * for etcd__auth_stale. Returns 0, or JUNO_EACCES (wrong password; a failure
 * is kept for a second, so that retrying threads do not hammer etcd's
 * password check), JUNO_EUNAVAIL, JUNO_ENOMEM... with etcd_strerror() set. */
int etcd__auth_headers(struct etcd *e, struct curl_slist **h, uint64_t *gen);

/* Whether etcd's error message msg refuses the token (or its absence): an
 * expired or unknown token, none while auth is on, or one issued before users
 * or roles changed; what clientv3 authenticates again for. */
int etcd__token_refused(const char *msg);

/* etcd refused the token of generation gen: the next etcd__auth_headers
 * authenticates again (unless another thread did since). */
void etcd__auth_stale(struct etcd *e, uint64_t gen);

/* The message and code for a request refused twice for its token (no user
 * while auth is on, or a fresh token refused too): JUNO_EACCES. */
int etcd__auth_refused(struct etcd *e);

/* A base64 string field of obj for key, or NULL. */
cJSON *etcd__b64_field(cJSON *obj, const char *name, const char *data, size_t len);

/* obj[name] as int64 (the gateway sends strings, accepts numbers): a string
 * of decimal digits with an optional '-', or an integral JSON number, within
 * int64; 0 when absent. Returns 0, or JUNO_EPROTO with *out 0 and
 * etcd_strerror() set for any other value. */
int etcd__i64_get(const cJSON *obj, const char *name, int64_t *out);

/* etcd__i64_get's value for a field that only informs: 0 when absent or not
 * an int64. */
int64_t etcd__i64(const cJSON *obj, const char *name);

/* Fill kv (owned by the caller) from a gateway kv object. Returns 0,
 * JUNO_EPROTO or JUNO_ENOMEM. */
int etcd__kv_parse(const cJSON *obj, struct etcd_kv *kv);

/* Judge a gateway answer to a POST to url + path: HTTP status and body (len
 * bytes, need not be NUL-terminated; NULL when empty). Returns 0 with *out
 * (owned by the caller) the JSON object of a successful call, a negative code
 * (JUNO_EPROTO, JUNO_ENOTFOUND, JUNO_EINVAL, JUNO_EACCES: a wrong password,
 * no permission, a client certificate the gateway will not take), 1 to try
 * the next endpoint or 2 when an election is on (both with *rc_next set:
 * JUNO_EUNAVAIL), or ETCD__REAUTH (*rc_next JUNO_EACCES). Every failure sets
 * etcd_strerror(). */
int etcd__answer(const char *url, const char *path, long status, const char *body, size_t len,
                 cJSON **out, int *rc_next);

/* POST req (a JSON object, consumed) to path on the first endpoint that
 * answers (lib/etcd_http.c). built is how building req went: a negative code
 * (or req NULL) is returned without sending anything. Returns 0 with *out
 * owned by the caller, or a negative code. */
int etcd__post(struct etcd *e, const char *path, cJSON *req, int built, cJSON **out);

/* The pairs and revision of a /v3/kv/range answer res into *out (owned by
 * the caller: etcd_kvs_deinit). Returns 0, JUNO_EPROTO or JUNO_ENOMEM (*out
 * then empty). */
int etcd__range_answer(const cJSON *res, struct etcd_kvs *out);

/* A watch (lib/etcd_watch.c) and the decoder of its stream: one JSON object
 * per line, the last one perhaps without a newline. */
struct etcd__wstate {
    struct etcd *e;
    const char *key;
    int prefix;
    etcd_watch_fn *fn;
    void *arg;
    int64_t last;      /* every change up to this revision was delivered */
    int resnapshot;    /* canceled: read the state again */
    int created;       /* this stream was accepted */
    int broken;        /* an error line or garbage: end this stream */
    int lost;          /* LOST was reported for the current outage */
    int reauth;        /* etcd refused the token: authenticate, watch again */
    int stale;         /* silent, and its member did not answer a check: next member */
    uint64_t gen;      /* the token's generation (etcd__auth_headers) */
    uint64_t heard_ms; /* monotonic ms of the stream's last byte, or of its last good check */
    struct etcd__buf line;
};

/* curl's write callback of the stream (arg: the state): buffers the bytes,
 * handles every whole line. Returns size * nmemb, or 0 once the stream is
 * broken (curl then ends the transfer). */
size_t etcd__watch_data(char *data, size_t size, size_t nmemb, void *arg);

/* Handle one line of the stream (len bytes, no newline): events to s->fn,
 * s->last, created, broken, resnapshot. */
void etcd__watch_message(struct etcd__wstate *s, const char *text, size_t len);

/* Add key (and range_end for a prefix) to a request object. Returns 0 or a
 * negative code. */
int etcd__add_key(cJSON *req, const char *key, int prefix);

/* Monotonic milliseconds. */
static inline uint64_t
etcd__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
