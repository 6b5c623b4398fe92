/* etcd_watch.c: watches (see etcd.h; registrations are in etcd_reg.c).
 *
 * A watch is one streaming POST to /v3/watch driven by a curl multi handle, so
 * the loop can look at its stop flag every 100 ms. The stream carries one JSON
 * object per line ({"result": ...}); the last line before an error end has no
 * newline. Resume rule (docs/reference etcd §4, clientv3's serveSubstream):
 * read the state at revision R, watch from R+1, remember the mod_revision of
 * the last event (or a progress header's revision), and after any break watch
 * again from last+1. A "canceled" answer (history compacted) means: read the
 * state again and deliver a new snapshot.
 *
 * A stream can go silent without ending: its member frozen (the kernel still
 * holds the connection), cut off from the others (a member without a leader
 * keeps its watches open and delivers nothing), or the path to it gone (TCP
 * keepalive takes minutes). So a stream that has been silent for
 * WATCH_CHECK_MS is checked with a linearizable read of the watched range on
 * the same member: no answer within the request timeout, or a revision the
 * stream has still not delivered a second later, ends the stream and the
 * watch goes on from another member. A stream not accepted within the
 * request timeout ends the same way.
 */
#include "error.h"
#include "etcd_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_CHECK_MS 5000 /* a stream silent this long is checked */
#define WATCH_LAG_MS   1000 /* how long a revision the check saw may stay undelivered */

static int
stopped(const volatile int *stop)
{
    return __atomic_load_n(stop, __ATOMIC_ACQUIRE) != 0;
}

/* Sleep ms, waking early when *stop is set. */
static void
nap(int ms, const volatile int *stop)
{
    while (ms > 0 && !stopped(stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void
report_lost(struct etcd__wstate *s, const char *why)
{
    if (s->lost) return;
    s->lost = 1;
    struct etcd_event ev = {.type = ETCD_EV_LOST, .error = why, .revision = s->last};
    s->fn(s->arg, &ev);
}

void
etcd__watch_message(struct etcd__wstate *s, const char *text, size_t len)
{
    while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    if (len == 0) return;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
    if (!cJSON_IsObject(res)) { /* {"error": ...}: the server is going away */
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
        etcd__seterr("watch: %s", cJSON_IsString(msg) ? msg->valuestring : "malformed message");
        s->broken = 1;
        cJSON_Delete(root);
        return;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "canceled"))) {
        /* refused at creation: the token (expired: authenticate again), or
         * the history (compacted: read everything again) */
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(res, "cancel_reason");
        const char *reason = cJSON_IsString(why) ? why->valuestring : "";
        if (etcd__token_refused(reason)) {
            etcd__seterr("watch refused: %s", reason);
            s->reauth = 1;
        } else {
            etcd__seterr("watch canceled (compact_revision %lld)%s%s",
                         (long long)etcd__i64(res, "compact_revision"), reason[0] ? ": " : "",
                         reason);
            s->resnapshot = 1;
        }
        s->broken = 1;
        cJSON_Delete(root);
        return;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created"))) {
        s->created = 1;
        s->lost = 0;
    }
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(res, "events");
    if (cJSON_IsArray(events) && cJSON_GetArraySize(events) > 0) {
        /* One revision may change several keys (a txn, a prefix delete, a
         * lease's keys): their events come in one message, all at that
         * revision. So a repeat is an event at or below the revision seen
         * before this message; within it, revisions may only stay or grow. */
        int64_t seen = s->last;
        const cJSON *it;
        cJSON_ArrayForEach(it, events)
        {
            struct etcd_kv kv;
            if (etcd__kv_parse(cJSON_GetObjectItemCaseSensitive(it, "kv"), &kv) < 0) {
                s->broken = 1;
                break;
            }
            if (kv.mod_revision > seen && kv.mod_revision >= s->last) {
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
                int del = cJSON_IsString(type) ? strcmp(type->valuestring, "DELETE") == 0
                                               : cJSON_IsNumber(type) && type->valueint == 1;
                struct etcd_event ev = {.type = del ? ETCD_EV_DELETE : ETCD_EV_PUT,
                                        .kv = &kv,
                                        .revision = kv.mod_revision};
                s->fn(s->arg, &ev);
                s->last = kv.mod_revision;
            }
            etcd_kv_deinit(&kv);
        }
    } else if (s->created && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created"))) {
        /* a progress notification: nothing changed up to header.revision */
        int64_t r = etcd__i64(cJSON_GetObjectItemCaseSensitive(res, "header"), "revision");
        if (r > s->last) s->last = r;
    }
    cJSON_Delete(root);
}

size_t
etcd__watch_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct etcd__wstate *s = arg;
    size_t n = size * nmemb;
    s->heard_ms = etcd__now_ms();
    /* Search only the new bytes and move the rest once: a long message comes
     * in many pieces, a piece may hold many messages, and neither may cost
     * time quadratic in its size. */
    size_t from = s->line.len, done = 0;
    if (etcd__buf_write(data, 1, n, &s->line) != n) {
        etcd__seterr("watch: a message over %u bytes", ETCD_RESPONSE_MAX);
        s->broken = 1;
        return 0;
    }
    char *nl;
    while (!s->broken && (nl = memchr(s->line.p + from, '\n', s->line.len - from)) != NULL) {
        size_t end = (size_t)(nl - s->line.p);
        etcd__watch_message(s, s->line.p + done, end - done);
        done = from = end + 1;
    }
    memmove(s->line.p, s->line.p + done, s->line.len - done);
    s->line.len -= done;
    return s->broken ? 0 : n;
}

/* Ask member k, linearizably, for the newest mod_revision under the watched
 * key: 0 with it in *rev (0 when no key is there), or a negative code. */
static int
check_member(struct etcd__wstate *s, unsigned k, struct curl_slist *h, int64_t *rev)
{
    cJSON *req = cJSON_CreateObject();
    if (req == NULL || etcd__add_key(req, s->key, s->prefix) < 0 ||
        !cJSON_AddNumberToObject(req, "limit", 1) ||
        !cJSON_AddStringToObject(req, "sort_order", "DESCEND") ||
        !cJSON_AddStringToObject(req, "sort_target", "MOD") ||
        !cJSON_AddTrueToObject(req, "keys_only")) {
        cJSON_Delete(req);
        return JUNO_ENOMEM;
    }
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (body == NULL) return JUNO_ENOMEM;
    cJSON *res = NULL;
    int rc = etcd__post_at(s->e, k, "/v3/kv/range", body, h, &res);
    free(body);
    if (rc != 0) return rc < 0 ? rc : JUNO_EACCES;
    const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(res, "kvs");
    *rev = etcd__i64(cJSON_GetArrayItem(kvs, 0), "mod_revision");
    cJSON_Delete(res);
    return 0;
}

/* The stream on endpoint k has been silent since s->heard_ms: 0 to go on
 * listening, 1 to end it (stale; why in etcd_strerror()). *behind is the
 * revision an earlier check saw that the stream had not delivered, or 0. */
static int
stream_stale(struct etcd__wstate *s, unsigned k, struct curl_slist *h, int64_t *behind)
{
    uint64_t now = etcd__now_ms();
    if (!s->created) {
        if (now - s->heard_ms < (uint64_t)s->e->request_ms) return 0;
        etcd__seterr("%s: the watch was not accepted within %d ms", s->e->urls[k],
                     s->e->request_ms);
        return 1;
    }
    if (*behind > 0 && s->last >= *behind) *behind = 0;
    if (now - s->heard_ms < (*behind > 0 ? WATCH_LAG_MS : WATCH_CHECK_MS)) return 0;
    int64_t rev = 0;
    if (*behind > 0) {
        etcd__seterr("%s: the watch is silent while the member has revision %lld (delivered "
                     "up to %lld)",
                     s->e->urls[k], (long long)*behind, (long long)s->last);
        return 1;
    }
    if (check_member(s, k, h, &rev) != 0) {
        char why[600];
        snprintf(why, sizeof(why), "%s", etcd_strerror());
        etcd__seterr("the watch was silent for %d ms and its member did not answer a check: %s",
                     WATCH_CHECK_MS, why);
        return 1;
    }
    if (rev > s->last) *behind = rev; /* decide once it had WATCH_LAG_MS to arrive */
    s->heard_ms = etcd__now_ms();
    return 0;
}

/* One stream from s->last + 1 on endpoint k until it ends or *stop. */
static void
stream(struct etcd__wstate *s, unsigned k, const volatile int *stop)
{
    s->created = s->broken = s->reauth = s->stale = 0;
    s->heard_ms = etcd__now_ms();
    int64_t behind = 0;
    s->line.len = 0;
    cJSON *req = cJSON_CreateObject(), *cr = cJSON_AddObjectToObject(req, "create_request");
    char rev[24];
    /* last + 1, but never past int64: a peer's revision may be anything */
    snprintf(rev, sizeof(rev), "%lld", (long long)(s->last < INT64_MAX ? s->last + 1 : s->last));
    if (cr == NULL || etcd__add_key(cr, s->key, s->prefix) < 0 ||
        !cJSON_AddStringToObject(cr, "start_revision", rev) ||
        !cJSON_AddTrueToObject(cr, "progress_notify")) {
        cJSON_Delete(req);
        return;
    }
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    struct curl_slist *h = NULL;
    if (body == NULL || etcd__auth_headers(s->e, &h, &s->gen) < 0) {
        free(body); /* etcd_strerror() says why: the watch counts as lost */
        return;
    }
    char url[1024];
    snprintf(url, sizeof(url), "%s/v3/watch", s->e->urls[k]);
    CURL *c = curl_easy_init();
    CURLM *m = curl_multi_init();
    char cerr[CURL_ERROR_SIZE] = "";
    if (c && m) {
        etcd__curl_setup(s->e, c, h, cerr);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd__watch_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_multi_add_handle(m, c);
        int running = 1;
        CURLcode cc = CURLE_OK;
        while (running && !stopped(stop) && !s->broken) {
            if (curl_multi_perform(m, &running) != CURLM_OK) break;
            if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
            if (running && !s->broken && stream_stale(s, k, h, &behind)) {
                s->stale = 1;
                break;
            }
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) cc = msg->data.result;
        if (!s->broken && s->line.len > 0) /* the final line has no newline */
            etcd__watch_message(s, s->line.p, s->line.len);
        if (!s->broken && !s->stale && !stopped(stop))
            etcd__seterr("%s: watch ended: %s%s", s->e->urls[k],
                         cc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(cc))
                                        : "the server closed the stream",
                         etcd__tls_hint(s->e->urls[k], s->e->cert != NULL, (int)cc));
        curl_multi_remove_handle(m, c);
    }
    curl_multi_cleanup(m);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(body);
}

int
etcd_watch_run(struct etcd *e, const char *key, int prefix, etcd_watch_fn *fn, void *arg,
               const volatile int *stop)
{
    struct etcd__wstate s = {.e = e, .key = key, .prefix = prefix, .fn = fn, .arg = arg};
    int backoff = 100, need_snapshot = 1, reauths = 0;
    while (!stopped(stop)) {
        if (need_snapshot) {
            struct etcd_kvs all;
            int rc = etcd_get(e, key, prefix, &all);
            if (rc == JUNO_ENOMEM) return rc;
            if (rc < 0) {
                report_lost(&s, etcd_strerror());
                nap(backoff, stop);
                backoff = backoff < 1000 ? backoff * 2 : 2000;
                continue;
            }
            s.lost = 0;
            s.last = all.revision;
            struct etcd_event ev = {
                .type = ETCD_EV_SNAPSHOT, .all = &all, .revision = all.revision};
            fn(arg, &ev);
            etcd_kvs_deinit(&all);
            need_snapshot = 0;
            backoff = 100;
        }
        unsigned k = atomic_load(&e->cur) % (unsigned)e->n;
        s.resnapshot = 0;
        stream(&s, k, stop);
        if (stopped(stop)) break;
        if (s.reauth) { /* the token expired: a new one, and watch again at once */
            etcd__auth_stale(e, s.gen);
            if (reauths++ == 0) continue;
            report_lost(&s, etcd_strerror()); /* refused again: as if unreachable */
            nap(backoff, stop);
            backoff = backoff < 1000 ? backoff * 2 : 2000;
            continue;
        }
        reauths = 0;
        if (s.stale) { /* silent and unanswering: go on from the next member */
            report_lost(&s, etcd_strerror());
            atomic_store(&e->cur, (k + 1) % (unsigned)e->n);
            nap(s.created ? 50 : backoff, stop);
            if (!s.created) backoff = backoff < 1000 ? backoff * 2 : 2000;
            continue;
        }
        if (s.resnapshot) { /* compacted (or refused): read everything again */
            need_snapshot = 1;
            nap(s.created ? 0 : backoff, stop); /* refused at once again and again: slow down */
            if (!s.created) backoff = backoff < 1000 ? backoff * 2 : 2000;
            continue;
        }
        if (s.created) { /* it worked for a while: come back at once */
            backoff = 100;
            nap(50, stop);
            continue;
        }
        report_lost(&s, etcd_strerror());
        atomic_store(&e->cur, (k + 1) % (unsigned)e->n);
        nap(backoff, stop);
        backoff = backoff < 1000 ? backoff * 2 : 2000;
    }
    free(s.line.p);
    return 0;
}

struct etcd_watch {
    struct etcd *e;
    char *key;
    int prefix;
    etcd_watch_fn *fn;
    void *arg;
    int stop;
    pthread_t thread;
};

static void *
watch_thread(void *arg)
{
    struct etcd_watch *w = arg;
    etcd_watch_run(w->e, w->key, w->prefix, w->fn, w->arg, &w->stop);
    return NULL;
}

struct etcd_watch *
etcd_watch_start(struct etcd *e, const char *key, int prefix, etcd_watch_fn *fn, void *arg)
{
    struct etcd_watch *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->key = strdup(key)) == NULL) goto fail;
    w->e = e;
    w->prefix = prefix;
    w->fn = fn;
    w->arg = arg;
    if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) goto fail;
    return w;
fail:
    if (w) free(w->key);
    free(w);
    return NULL;
}

void
etcd_watch_stop(struct etcd_watch *w)
{
    if (w == NULL) return;
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    pthread_join(w->thread, NULL);
    free(w->key);
    free(w);
}
