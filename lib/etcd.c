/* etcd.c: unary calls to etcd's v3 JSON gateway: kv, txn, leases (see etcd.h).
 *
 * Every call builds a JSON body with cJSON, POSTs it with a fresh curl easy
 * handle to the first endpoint that answers, and parses the reply. int64 fields
 * come back as JSON strings and are read with strtoll (lease IDs exceed 2^53);
 * fields at their zero value are omitted by the gateway and read as 0.
 */
#include "etcd.h"
#include "error.h"
#include "etcd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char etcd_errmsg[512];

void
etcd__seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(etcd_errmsg, sizeof(etcd_errmsg), fmt, ap);
    va_end(ap);
}

const char *
etcd_strerror(void)
{
    return etcd_errmsg;
}

/* ---- base64 and prefixes ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
etcd_b64_encode(const void *in, size_t len, char *out, size_t outcap)
{
    const unsigned char *s = in;
    size_t need = (len + 2) / 3 * 4;
    if (need + 1 > outcap || need > INT32_MAX) return JUNO_EMSGSIZE;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len) v |= s[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int
etcd_b64_decode(const char *in, size_t len, void *out, size_t outcap)
{
    unsigned char *d = out;
    if (len % 4 != 0) return JUNO_EBADDATA;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            if (c == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad) return JUNO_EBADDATA; /* data after padding */
            if ((v[j] = b64_value(c)) < 0) return JUNO_EBADDATA;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t n = 3 - (size_t)pad;
        if (o + n > outcap) return JUNO_EMSGSIZE;
        d[o++] = (unsigned char)(w >> 16);
        if (n > 1) d[o++] = (unsigned char)(w >> 8);
        if (n > 2) d[o++] = (unsigned char)w;
    }
    if (o > INT32_MAX) return JUNO_EMSGSIZE;
    return (int)o;
}

int
etcd_prefix_end(const char *prefix, char *out, size_t outcap)
{
    size_t n = strlen(prefix);
    if (outcap < n + 1 || outcap < 2) return JUNO_EMSGSIZE;
    while (n > 0 && (unsigned char)prefix[n - 1] == 0xff) n--;
    if (n == 0) { /* every key */
        out[0] = '\0';
        return 1;
    }
    memcpy(out, prefix, n);
    out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
    out[n] = '\0';
    return (int)n;
}

int
etcd_juno_key(char *buf, size_t cap, const char *cluster, const char *suffix)
{
    int n = snprintf(buf, cap, "/juno/%s/%s", cluster, suffix);
    if (n < 0 || (size_t)n >= cap) return JUNO_EMSGSIZE;
    return n;
}

/* ---- JSON helpers ---- */

cJSON *
etcd__b64_field(cJSON *obj, const char *name, const char *data, size_t len)
{
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *enc = malloc(cap);
    if (enc == NULL) return NULL;
    cJSON *item = NULL;
    if (etcd_b64_encode(data, len, enc, cap) >= 0) item = cJSON_AddStringToObject(obj, name, enc);
    free(enc);
    return item;
}

static cJSON *
add_i64(cJSON *obj, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return cJSON_AddStringToObject(obj, name, s);
}

/* it as int64: a string of decimal digits with an optional '-', or an
 * integral JSON number, within int64. Returns 0 or -1. */
static int
i64_of(const cJSON *it, int64_t *out)
{
    if (cJSON_IsString(it)) {
        const char *s = it->valuestring;
        char *end;
        if (*s != '-' && (*s < '0' || *s > '9')) return -1; /* strtoll skips spaces, takes '+' */
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0') return -1;
        *out = v;
        return 0;
    }
    if (cJSON_IsNumber(it)) {
        /* checked before converting: converting a double outside int64 is
         * undefined behaviour */
        double d = it->valuedouble;
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return -1;
        if ((double)(int64_t)d != d) return -1;
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

int
etcd__i64_get(const cJSON *obj, const char *name, int64_t *out)
{
    *out = 0;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (it == NULL || i64_of(it, out) == 0) return 0;
    *out = 0;
    etcd__seterr("field \"%s\" is not an int64", name);
    return JUNO_EPROTO;
}

int64_t
etcd__i64(const cJSON *obj, const char *name)
{
    int64_t v = 0;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return it != NULL && i64_of(it, &v) == 0 ? v : 0;
}

int
etcd__add_key(cJSON *req, const char *key, int prefix)
{
    size_t n = strlen(key);
    if (n > ETCD_KEY_MAX) return JUNO_EMSGSIZE;
    if (n == 0) {
        if (!etcd__b64_field(req, "key", "", 1)) return JUNO_ENOMEM; /* "\0": from the start */
    } else if (!etcd__b64_field(req, "key", key, n)) {
        return JUNO_ENOMEM;
    }
    if (prefix) {
        char end[ETCD_KEY_MAX + 2];
        int m = etcd_prefix_end(key, end, sizeof(end));
        if (m < 0) return m;
        if (!etcd__b64_field(req, "range_end", end, (size_t)m)) return JUNO_ENOMEM;
    }
    return 0;
}

static int
b64_dup(const cJSON *obj, const char *name, char **out, size_t *outlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    const char *s = cJSON_IsString(it) ? it->valuestring : "";
    size_t n = strlen(s);
    char *p = malloc(n / 4 * 3 + 1);
    if (p == NULL) return JUNO_ENOMEM;
    int m = etcd_b64_decode(s, n, p, n / 4 * 3);
    if (m < 0) {
        free(p);
        etcd__seterr("malformed base64 in field \"%s\"", name);
        return JUNO_EPROTO;
    }
    p[m] = '\0';
    *out = p;
    if (outlen) *outlen = (size_t)m;
    return 0;
}

void
etcd_kv_deinit(struct etcd_kv *kv)
{
    if (kv == NULL) return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

void
etcd_kvs_deinit(struct etcd_kvs *kvs)
{
    if (kvs == NULL) return;
    for (size_t i = 0; i < kvs->n; i++) etcd_kv_deinit(&kvs->kvs[i]);
    free(kvs->kvs);
    memset(kvs, 0, sizeof(*kvs));
}

int
etcd__kv_parse(const cJSON *obj, struct etcd_kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    if (!cJSON_IsObject(obj)) {
        etcd__seterr("kv is not an object");
        return JUNO_EPROTO;
    }
    int rc = b64_dup(obj, "key", &kv->key, NULL);
    if (rc == 0) rc = b64_dup(obj, "value", &kv->value, &kv->value_len);
    if (rc < 0) {
        etcd_kv_deinit(kv);
        return rc;
    }
    if (etcd__i64_get(obj, "create_revision", &kv->create_revision) < 0 ||
        etcd__i64_get(obj, "mod_revision", &kv->mod_revision) < 0 ||
        etcd__i64_get(obj, "version", &kv->version) < 0 ||
        etcd__i64_get(obj, "lease", &kv->lease) < 0) {
        etcd_kv_deinit(kv);
        return JUNO_EPROTO;
    }
    return 0;
}

/* ---- transport ---- */

size_t
etcd__buf_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct etcd__buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n + 1 > ETCD_RESPONSE_MAX) return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static pthread_once_t etcd_once = PTHREAD_ONCE_INIT;
static struct curl_slist *etcd_hdrs;

static void
etcd_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    etcd_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    /* Fail at once on a member without a leader instead of hanging (reference §4). */
    etcd_hdrs = curl_slist_append(etcd_hdrs, "Grpc-Metadata-hasleader: true");
    etcd_hdrs = curl_slist_append(etcd_hdrs, "Expect:");
}

struct curl_slist *
etcd__headers(void)
{
    pthread_once(&etcd_once, etcd_global_init);
    return etcd_hdrs;
}

struct etcd *
etcd_create(const char *endpoints, const struct etcd_opts *opts, char *err, size_t errlen)
{
    if (errlen) err[0] = '\0';
    etcd__headers();
    struct etcd *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->spec = strdup(endpoints ? endpoints : "")) == NULL) goto nomem;
    e->connect_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 1000;
    e->request_ms = opts && opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 5000;
    const char *p = e->spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && p[n - 1] == '/') n--;
        if (n == 0 || (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) ||
            memchr(p, ' ', n) != NULL) {
            if (errlen)
                snprintf(err, errlen, "'%.*s': an endpoint must be an http:// or https:// URL",
                         (int)(comma ? (size_t)(comma - p) : strlen(p)), p);
            etcd_destroy(e);
            return NULL;
        }
        char **urls = realloc(e->urls, (e->n + 1) * sizeof(*urls));
        if (urls == NULL) goto nomem;
        e->urls = urls;
        if ((e->urls[e->n] = strndup(p, n)) == NULL) goto nomem;
        e->n++;
        p = comma ? comma + 1 : p + strlen(p);
    }
    if (e->n == 0) {
        if (errlen) snprintf(err, errlen, "no etcd endpoint given");
        etcd_destroy(e);
        return NULL;
    }
    return e;
nomem:
    if (errlen) snprintf(err, errlen, "out of memory");
    etcd_destroy(e);
    return NULL;
}

void
etcd_destroy(struct etcd *e)
{
    if (e == NULL) return;
    for (size_t i = 0; i < e->n; i++) free(e->urls[i]);
    free(e->urls);
    free(e->spec);
    free(e);
}

const char *
etcd_endpoints(const struct etcd *e)
{
    return e->spec;
}

/* One POST to one endpoint. Returns 0 with *out (owned) set, a negative code,
 * or 1 to mean "try the next endpoint" (with *rc_next the code to report if it
 * was the last); 2 is 1 from a member that answered but cannot serve now
 * (no leader, leader changed, deadline exceeded): an election is on. */
static int
post_one(struct etcd *e, const char *url, const char *path, const char *body, cJSON **out,
         int *rc_next)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s%s", url, path);
    CURL *c = curl_easy_init();
    if (c == NULL) return JUNO_ENOMEM;
    struct etcd__buf b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, etcd__headers());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd__buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->request_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        etcd__seterr("%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        free(b.p);
        *rc_next = cc == CURLE_OPERATION_TIMEDOUT ? JUNO_ETIMEDOUT : JUNO_EUNAVAIL;
        return 1;
    }
    int rc = etcd__answer(url, path, status, b.p, b.len, out, rc_next);
    free(b.p);
    return rc;
}

int
etcd__answer(const char *url, const char *path, long status, const char *body, size_t len,
             cJSON **out, int *rc_next)
{
    cJSON *root = body != NULL && len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
    if (root == NULL || !cJSON_IsObject(root)) {
        int show = body != NULL ? (int)(len < 80 ? len : 80) : 0;
        etcd__seterr("%s%s: HTTP %ld: not a JSON object: %.*s%s", url, path, status, show,
                     show ? body : "", show ? "" : "(empty)");
        cJSON_Delete(root);
        if (status >= 500) {
            *rc_next = JUNO_EUNAVAIL;
            return 1;
        }
        return JUNO_EPROTO;
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (status != 200 || msg != NULL) {
        int64_t code = etcd__i64(root, "code");
        etcd__seterr("%s%s: %s (code %" PRId64 ", HTTP %ld)", url, path,
                     cJSON_IsString(msg) ? msg->valuestring : "error", code, status);
        cJSON_Delete(root);
        if (code == 14 || code == 2 || status >= 500) { /* unavailable, no leader, deadline */
            *rc_next = JUNO_EUNAVAIL;
            return 2;
        }
        if (code == 5) return JUNO_ENOTFOUND;
        if (code == 3 || code == 11) return JUNO_EINVAL;
        return JUNO_EPROTO;
    }
    *out = root;
    return 0;
}

/* POST req (a JSON object, consumed) to path on the first endpoint that
 * answers. built is how building req went: a negative code (or req NULL) is
 * returned without sending anything. Returns 0 with *out owned by the
 * caller, or a negative code. */
static int
post(struct etcd *e, const char *path, cJSON *req, int built, cJSON **out)
{
    *out = NULL;
    if (req == NULL || built < 0) {
        cJSON_Delete(req);
        return req == NULL ? JUNO_ENOMEM : built;
    }
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (body == NULL) return JUNO_ENOMEM;
    /* every endpoint in turn; while a member says an election is on, again
     * every 100 ms for up to the request timeout */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = JUNO_EUNAVAIL;
    for (;;) {
        unsigned start = atomic_load(&e->cur);
        int electing = 0;
        for (size_t i = 0; i < e->n; i++) {
            unsigned k = (unsigned)((start + i) % e->n);
            int next = JUNO_EUNAVAIL;
            int r = post_one(e, e->urls[k], path, body, out, &next);
            if (r == 1 || r == 2) {
                electing |= r == 2;
                rc = next;
                continue;
            }
            if (k != start) atomic_store(&e->cur, k);
            rc = r;
            goto done;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (!electing || ms + 100 >= e->request_ms) break;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
done:
    free(body);
    return rc;
}

/* ---- kv ---- */

int
etcd__range_answer(const cJSON *res, struct etcd_kvs *out)
{
    memset(out, 0, sizeof(*out));
    if (etcd__i64_get(cJSON_GetObjectItemCaseSensitive(res, "header"), "revision", &out->revision))
        return JUNO_EPROTO;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(res, "kvs");
    if (arr != NULL && !cJSON_IsArray(arr)) { /* cJSON_ArrayForEach walks objects too */
        etcd__seterr("range: \"kvs\" is not an array");
        return JUNO_EPROTO;
    }
    size_t n = arr != NULL ? (size_t)cJSON_GetArraySize(arr) : 0;
    if (n > 0 && (out->kvs = calloc(n, sizeof(*out->kvs))) == NULL) return JUNO_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int rc = etcd__kv_parse(it, &out->kvs[out->n]);
        if (rc < 0) {
            etcd_kvs_deinit(out);
            return rc;
        }
        out->n++;
    }
    return 0;
}

int
etcd_get(struct etcd *e, const char *key, int prefix, struct etcd_kvs *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/kv/range", req, req ? etcd__add_key(req, key, prefix) : 0, &res);
    if (rc < 0) return rc;
    rc = etcd__range_answer(res, out);
    cJSON_Delete(res);
    return rc;
}

static int
put_fields(cJSON *obj, const char *key, const void *value, size_t len, int64_t lease)
{
    if (strlen(key) > ETCD_KEY_MAX || len > ETCD_VALUE_MAX) return JUNO_EMSGSIZE;
    if (!etcd__b64_field(obj, "key", key, strlen(key)) ||
        !etcd__b64_field(obj, "value", value ? value : "", len))
        return JUNO_ENOMEM;
    if (lease && !add_i64(obj, "lease", lease)) return JUNO_ENOMEM;
    return 0;
}

static int64_t
header_revision(const cJSON *res)
{
    return etcd__i64(cJSON_GetObjectItemCaseSensitive(res, "header"), "revision");
}

int
etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
         int64_t *revision)
{
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/kv/put", req, req ? put_fields(req, key, value, len, lease) : 0, &res);
    if (rc < 0) return rc;
    if (revision) *revision = header_revision(res);
    cJSON_Delete(res);
    return 0;
}

int
etcd_delete(struct etcd *e, const char *key, int prefix, int64_t *deleted)
{
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/kv/deleterange", req, req ? etcd__add_key(req, key, prefix) : 0, &res);
    if (rc < 0) return rc;
    if (deleted) *deleted = etcd__i64(res, "deleted");
    cJSON_Delete(res);
    return 0;
}

static const char *const target_names[] = {"MOD", "CREATE", "VERSION"};
static const char *const target_fields[] = {"mod_revision", "create_revision", "version"};

static int
txn_body(cJSON *req, const struct etcd_cmp *cmp, size_t ncmp, const struct etcd_op *ops,
         size_t nops)
{
    cJSON *ca = cJSON_AddArrayToObject(req, "compare");
    cJSON *sa = cJSON_AddArrayToObject(req, "success");
    if (ca == NULL || sa == NULL) return JUNO_ENOMEM;
    for (size_t i = 0; i < ncmp; i++) {
        cJSON *c = cJSON_CreateObject();
        if (c == NULL) return JUNO_ENOMEM;
        cJSON_AddItemToArray(ca, c);
        unsigned t = (unsigned)cmp[i].target;
        if (t > ETCD_CMP_VERSION || strlen(cmp[i].key) > ETCD_KEY_MAX) return JUNO_EINVAL;
        if (!etcd__b64_field(c, "key", cmp[i].key, strlen(cmp[i].key)) ||
            !cJSON_AddStringToObject(c, "target", target_names[t]) ||
            !cJSON_AddStringToObject(c, "result", "EQUAL") ||
            !add_i64(c, target_fields[t], cmp[i].rev))
            return JUNO_ENOMEM;
    }
    for (size_t i = 0; i < nops; i++) {
        cJSON *o = cJSON_CreateObject(), *r;
        if (o == NULL) return JUNO_ENOMEM;
        cJSON_AddItemToArray(sa, o);
        int put = ops[i].type == ETCD_OP_PUT;
        if ((r = cJSON_AddObjectToObject(o, put ? "request_put" : "request_delete_range")) == NULL)
            return JUNO_ENOMEM;
        int rc = put ? put_fields(r, ops[i].key, ops[i].value, ops[i].len, ops[i].lease)
                     : etcd__add_key(r, ops[i].key, 0);
        if (rc < 0) return rc;
    }
    return 0;
}

int
etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t ncmp, const struct etcd_op *ops,
         size_t nops, int *succeeded, int64_t *revision)
{
    *succeeded = 0;
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/kv/txn", req, req ? txn_body(req, cmp, ncmp, ops, nops) : 0, &res);
    if (rc < 0) return rc;
    *succeeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "succeeded"));
    if (revision) *revision = header_revision(res);
    cJSON_Delete(res);
    return 0;
}

int
etcd_cas(struct etcd *e, const char *key, int64_t mod_rev, const void *value, size_t len,
         int *succeeded, int64_t *revision)
{
    struct etcd_cmp c = {key, mod_rev ? ETCD_CMP_MOD : ETCD_CMP_CREATE, mod_rev};
    struct etcd_op o = {ETCD_OP_PUT, key, value, len, 0};
    return etcd_txn(e, &c, 1, &o, 1, succeeded, revision);
}

/* ---- leases ---- */

/* req[name] = v (req may be NULL: post reports that). 0 or JUNO_ENOMEM. */
static int
id_field(cJSON *req, const char *name, int64_t v)
{
    return req == NULL || add_i64(req, name, v) ? 0 : JUNO_ENOMEM;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id)
{
    if (ttl_s < 1) return JUNO_EINVAL;
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/lease/grant", req, id_field(req, "TTL", ttl_s), &res);
    if (rc < 0) return rc;
    *id = etcd__i64(res, "ID");
    cJSON_Delete(res);
    if (*id == 0) {
        etcd__seterr("lease grant: no ID in the answer");
        return JUNO_EPROTO;
    }
    return 0;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/lease/keepalive", req, id_field(req, "ID", id), &res);
    if (rc < 0) return rc;
    int64_t t = etcd__i64(cJSON_GetObjectItemCaseSensitive(res, "result"), "TTL");
    cJSON_Delete(res);
    if (ttl) *ttl = t;
    if (t <= 0) {
        etcd__seterr("lease %" PRId64 " has expired", id);
        return JUNO_ENOTFOUND;
    }
    return 0;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id)
{
    cJSON *req = cJSON_CreateObject(), *res;
    int rc = post(e, "/v3/lease/revoke", req, id_field(req, "ID", id), &res);
    if (rc == 0) cJSON_Delete(res);
    return rc;
}
