/* etcd_int.h: what lib/etcd.c shares with lib/etcd_watch.c (not for programs). */
#ifndef JUNO_ETCD_INT_H
#define JUNO_ETCD_INT_H

#include "etcd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>

struct etcd {
    char *spec;  /* owned: the endpoint list as given */
    char **urls; /* owned: n base URLs without a trailing slash */
    size_t n;
    atomic_uint cur; /* the endpoint tried first */
    int connect_ms;
    int request_ms;
};

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
 * (JUNO_EPROTO, JUNO_ENOTFOUND, JUNO_EINVAL), 1 to try the next endpoint or 2
 * when an election is on (both with *rc_next set: JUNO_EUNAVAIL). Every
 * failure sets etcd_strerror(). */
int etcd__answer(const char *url, const char *path, long status, const char *body, size_t len,
                 cJSON **out, int *rc_next);

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
    int64_t last;   /* every change up to this revision was delivered */
    int resnapshot; /* canceled: read the state again */
    int created;    /* this stream was accepted */
    int broken;     /* an error line or garbage: end this stream */
    int lost;       /* LOST was reported for the current outage */
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

#endif
