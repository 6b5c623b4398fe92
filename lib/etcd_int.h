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

/* obj[name] as int64: string or number; 0 when absent. */
int64_t etcd__i64(const cJSON *obj, const char *name);

/* Fill kv (owned by the caller) from a gateway kv object. Returns 0,
 * JUNO_EPROTO or JUNO_ENOMEM. */
int etcd__kv_parse(const cJSON *obj, struct etcd_kv *kv);

/* Add key (and range_end for a prefix) to a request object. Returns 0 or a
 * negative code. */
int etcd__add_key(cJSON *req, const char *key, int prefix);

#endif
