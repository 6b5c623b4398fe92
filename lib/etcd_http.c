/* etcd_http.c: the transport of lib/etcd: endpoints, one POST with libcurl
 * (http, or https with a CA and a client certificate), judging the gateway's
 * answer, trying the next endpoint, and once more with a new token when etcd
 * refuses the one sent (lib/etcd_auth.c) (see etcd.h).
 */
#include "error.h"
#include "etcd_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* s copied, or NULL for NULL. 0, or -1 when out of memory. */
static int
dup_opt(char **dst, const char *s)
{
    *dst = s != NULL ? strdup(s) : NULL;
    return s != NULL && *dst == NULL ? -1 : 0;
}

/* The TLS and auth options of opts into e. Returns 0, or JUNO_EINVAL /
 * JUNO_ENOMEM with err set. */
static int
create_secure(struct etcd *e, const struct etcd_opts *o, char *err, size_t errlen)
{
    if (o == NULL) return 0;
    const char *why = NULL;
    if ((o->cert_file == NULL) != (o->key_file == NULL))
        why = "a client certificate needs its key, and a key its certificate";
    else if ((o->user == NULL) != (o->password == NULL))
        why = "an etcd user needs a password, and a password its user";
    else if (o->user != NULL && o->user[0] == '\0')
        why = "the etcd user name is empty";
    for (size_t i = 0; why == NULL && i < e->n; i++)
        if ((o->ca_file || o->cert_file) && strncmp(e->urls[i], "https://", 8) != 0) {
            if (errlen)
                snprintf(err, errlen,
                         "'%s': TLS files are given, so every endpoint must be an "
                         "https:// URL",
                         e->urls[i]);
            return JUNO_EINVAL;
        }
    if (why != NULL) {
        if (errlen) snprintf(err, errlen, "%s", why);
        return JUNO_EINVAL;
    }
    if (dup_opt(&e->ca, o->ca_file) || dup_opt(&e->cert, o->cert_file) ||
        dup_opt(&e->key, o->key_file) || dup_opt(&e->user, o->user) ||
        dup_opt(&e->password, o->password)) {
        if (errlen) snprintf(err, errlen, "out of memory");
        return JUNO_ENOMEM;
    }
    return 0;
}

struct etcd *
etcd_create(const char *endpoints, const struct etcd_opts *opts, char *err, size_t errlen)
{
    if (errlen) err[0] = '\0';
    etcd__headers();
    struct etcd *e = calloc(1, sizeof(*e));
    if (e == NULL) goto nomem;
    pthread_mutex_init(&e->mu, NULL);
    if ((e->spec = strdup(endpoints ? endpoints : "")) == NULL) goto nomem;
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
    if (create_secure(e, opts, err, errlen) != 0) {
        etcd_destroy(e);
        return NULL;
    }
    return e;
nomem:
    if (errlen) snprintf(err, errlen, "out of memory");
    etcd_destroy(e);
    return NULL;
}

/* Free s after overwriting it: a password or a token. */
static void
wipe(char *s)
{
    if (s == NULL) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void
etcd_destroy(struct etcd *e)
{
    if (e == NULL) return;
    for (size_t i = 0; i < e->n; i++) free(e->urls[i]);
    free(e->urls);
    free(e->spec);
    free(e->ca);
    free(e->cert);
    free(e->key);
    free(e->user);
    wipe(e->password);
    wipe(e->token);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

const char *
etcd_endpoints(const struct etcd *e)
{
    return e->spec;
}

void
etcd__curl_setup(const struct etcd *e, CURL *c, struct curl_slist *h, char *cerr)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* https would offer HTTP/2; the gateway's answers and the watch stream
     * are known (docs/reference) over HTTP/1.1, as with http:// */
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (e->ca != NULL) curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
    if (e->cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
    }
}

const char *
etcd__tls_hint(const char *url, int has_cert, int curl_code)
{
    int https = strncmp(url, "https://", 8) == 0;
    switch (curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return " (etcd's certificate is not signed by the CA given, or not for this host: "
               "give etcd's CA with --etcd-ca)";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        if (!https) return curl_code == CURLE_RECV_ERROR ? " (does etcd serve https?)" : "";
        return has_cert ? " (etcd refused the TLS handshake: is the client certificate signed "
                          "by etcd's --trusted-ca-file?)"
                        : " (etcd may require a client certificate: --etcd-cert and --etcd-key)";
    case CURLE_GOT_NOTHING: return https ? "" : " (does etcd serve https?)";
    default: return "";
    }
}

/* One POST to one endpoint. Returns 0 with *out (owned) set, a negative code,
 * ETCD__REAUTH, or 1 to mean "try the next endpoint" (with *rc_next the code
 * to report if it was the last); 2 is 1 from a member that answered but
 * cannot serve now (no leader, leader changed, deadline exceeded): an
 * election is on. */
static int
post_one(struct etcd *e, const char *url, const char *path, const char *body, struct curl_slist *h,
         cJSON **out, int *rc_next)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s%s", url, path);
    CURL *c = curl_easy_init();
    if (c == NULL) return JUNO_ENOMEM;
    struct etcd__buf b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    etcd__curl_setup(e, c, h, cerr);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd__buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->request_ms);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        etcd__seterr("%s: %s%s", url, cerr[0] ? cerr : curl_easy_strerror(cc),
                     etcd__tls_hint(url, e->cert != NULL, (int)cc));
        free(b.p);
        *rc_next = cc == CURLE_OPERATION_TIMEDOUT ? JUNO_ETIMEDOUT : JUNO_EUNAVAIL;
        return 1;
    }
    int rc = etcd__answer(url, path, status, b.p, b.len, out, rc_next);
    free(b.p);
    return rc;
}

/* What etcd 3.4's gateway answers, as plain text, to a client certificate
 * with a Common Name when auth and --client-cert-auth are both on (it cannot
 * pass the CN on as the user). */
#define CN_REFUSED "CommonName of client sending a request against gateway"

/* An error answer about credentials: ETCD__REAUTH for a token etcd does not
 * take (gRPC Unauthenticated, 16; or none sent while auth is on; or issued
 * before a change of users and roles), JUNO_EACCES for a refusal that a new
 * token would not change; 0 for any other error. */
static int
auth_verdict(const char *msg, int64_t code)
{
    if (code == 16 || etcd__token_refused(msg)) return ETCD__REAUTH;
    if (code == 7 || strstr(msg, "authentication failed") || strstr(msg, "permission denied"))
        return JUNO_EACCES;
    return 0;
}

int
etcd__answer(const char *url, const char *path, long status, const char *body, size_t len,
             cJSON **out, int *rc_next)
{
    cJSON *root = body != NULL && len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
    if ((root == NULL || !cJSON_IsObject(root)) && status == 400 && body != NULL &&
        memmem(body, len, CN_REFUSED, strlen(CN_REFUSED)) != NULL) {
        etcd__seterr("%s: etcd's JSON gateway refuses a client certificate with a Common Name "
                     "once auth is enabled: use one whose subject has no CN (e.g. /O=juno)",
                     url);
        cJSON_Delete(root);
        return JUNO_EACCES;
    }
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
        int verdict = auth_verdict(cJSON_IsString(msg) ? msg->valuestring : "", code);
        cJSON_Delete(root);
        if (verdict == ETCD__REAUTH) *rc_next = JUNO_EACCES;
        if (verdict != 0) return verdict;
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

int
etcd__post_raw(struct etcd *e, const char *path, const char *body, struct curl_slist *h,
               cJSON **out)
{
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
            int r = post_one(e, e->urls[k], path, body, h, out, &next);
            if (r == 1 || r == 2) {
                electing |= r == 2;
                rc = next;
                continue;
            }
            if (k != start) atomic_store(&e->cur, k);
            return r;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (!electing || ms + 100 >= e->request_ms) break;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return rc;
}

int
etcd__post_at(struct etcd *e, unsigned k, const char *path, const char *body, struct curl_slist *h,
              cJSON **out)
{
    int next = JUNO_EUNAVAIL;
    int rc = post_one(e, e->urls[k % (unsigned)e->n], path, body, h, out, &next);
    return rc == 1 || rc == 2 ? next : rc;
}

int
etcd__post(struct etcd *e, const char *path, cJSON *req, int built, cJSON **out)
{
    *out = NULL;
    if (req == NULL || built < 0) {
        cJSON_Delete(req);
        return req == NULL ? JUNO_ENOMEM : built;
    }
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (body == NULL) return JUNO_ENOMEM;
    /* a token refused (expired, etcd restarted): one new one, and again */
    int rc = ETCD__REAUTH;
    for (int attempt = 0; attempt < 2 && rc == ETCD__REAUTH; attempt++) {
        struct curl_slist *h = NULL;
        uint64_t gen = 0;
        if ((rc = etcd__auth_headers(e, &h, &gen)) < 0) break;
        rc = etcd__post_raw(e, path, body, h, out);
        curl_slist_free_all(h);
        if (rc == ETCD__REAUTH && e->user == NULL) break; /* no token to renew */
        if (rc == ETCD__REAUTH) etcd__auth_stale(e, gen);
    }
    if (rc == ETCD__REAUTH) rc = etcd__auth_refused(e);
    free(body);
    return rc;
}
