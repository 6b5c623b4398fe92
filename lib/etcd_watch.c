/* etcd_watch.c: watches and lease-backed registrations (see etcd.h).
 *
 * A watch is one streaming POST to /v3/watch driven by a curl multi handle, so
 * the loop can look at its stop flag every 100 ms. The stream carries one JSON
 * object per line ({"result": ...}); the last line before an error end has no
 * newline. Resume rule (docs/reference etcd §4, clientv3's serveSubstream):
 * read the state at revision R, watch from R+1, remember the mod_revision of
 * the last event (or a progress header's revision), and after any break watch
 * again from last+1. A "canceled" answer (history compacted) means: read the
 * state again and deliver a new snapshot.
 */
#include "error.h"
#include "etcd_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        etcd__seterr("watch canceled (compact_revision %lld)",
                     (long long)etcd__i64(res, "compact_revision"));
        s->resnapshot = 1;
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

/* One stream from s->last + 1 on endpoint k until it ends or *stop. */
static void
stream(struct etcd__wstate *s, unsigned k, const volatile int *stop)
{
    s->created = s->broken = 0;
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
    char url[1024];
    snprintf(url, sizeof(url), "%s/v3/watch", s->e->urls[k]);
    CURL *c = curl_easy_init();
    CURLM *m = curl_multi_init();
    char cerr[CURL_ERROR_SIZE] = "";
    if (c && m && body) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, etcd__headers());
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd__watch_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->e->connect_ms);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_multi_add_handle(m, c);
        int running = 1;
        CURLcode cc = CURLE_OK;
        while (running && !stopped(stop) && !s->broken) {
            if (curl_multi_perform(m, &running) != CURLM_OK) break;
            if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) cc = msg->data.result;
        if (!s->broken && s->line.len > 0) /* the final line has no newline */
            etcd__watch_message(s, s->line.p, s->line.len);
        if (!s->broken && !stopped(stop))
            etcd__seterr("%s: watch ended: %s", s->e->urls[k],
                         cc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(cc))
                                        : "the server closed the stream");
        curl_multi_remove_handle(m, c);
    }
    curl_multi_cleanup(m);
    curl_easy_cleanup(c);
    free(body);
}

int
etcd_watch_run(struct etcd *e, const char *key, int prefix, etcd_watch_fn *fn, void *arg,
               const volatile int *stop)
{
    struct etcd__wstate s = {.e = e, .key = key, .prefix = prefix, .fn = fn, .arg = arg};
    int backoff = 100, need_snapshot = 1;
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

/* ---- registrations ---- */

struct etcd_reg {
    struct etcd *e;
    char *key;
    int64_t ttl;
    pthread_mutex_t mu; /* guards value, gen, stop (never held across etcd calls) */
    pthread_cond_t cv;
    char *value;  /* owned */
    uint64_t gen; /* +1 per etcd_reg_update */
    int stop;
    /* the thread's own (and etcd_reg_start's before the thread runs) */
    int64_t lease;
    uint64_t written; /* gen of the value etcd holds */
    pthread_t thread;
};

/* Make sure a live lease carries the current value (no lock held). */
static int
reg_sync(struct etcd_reg *r)
{
    int rc;
    if (r->lease == 0) {
        if ((rc = etcd_lease_grant(r->e, r->ttl, &r->lease)) < 0) return rc;
        r->written = 0;
    }
    pthread_mutex_lock(&r->mu);
    uint64_t gen = r->gen;
    char *v = gen != r->written ? strdup(r->value) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (gen == r->written) return 0;
    if (v == NULL) return JUNO_ENOMEM;
    rc = etcd_put(r->e, r->key, v, strlen(v), r->lease, NULL);
    free(v);
    if (rc == JUNO_ENOTFOUND) r->lease = 0; /* the lease expired meanwhile */
    if (rc < 0) return rc;
    r->written = gen;
    return 0;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Renew the lease every ttl/3 whatever else happens (a put does not renew
 * it), write a new value as soon as there is one, retry failures every
 * 500 ms. */
static void *
reg_thread(void *arg)
{
    struct etcd_reg *r = arg;
    uint64_t period = (uint64_t)r->ttl * 1000 / 3, renewed = now_ms();
    pthread_mutex_lock(&r->mu);
    int failing = r->written != r->gen; /* the first write failed */
    while (!r->stop) {
        uint64_t due = failing ? now_ms() + 500 : renewed + period;
        while (!r->stop && (failing || r->gen == r->written) && now_ms() < due) {
            uint64_t t = due;
            struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        if (r->stop) break;
        int dirty = r->gen != r->written;
        pthread_mutex_unlock(&r->mu);
        int rc = 0;
        if (r->lease != 0 && now_ms() >= renewed + period) {
            rc = etcd_lease_keepalive(r->e, r->lease, NULL);
            if (rc == 0) renewed = now_ms();
            if (rc == JUNO_ENOTFOUND) r->lease = 0; /* gone: grant anew, put again */
        }
        if (r->lease == 0) renewed = now_ms(); /* a new lease starts now */
        if (r->lease == 0 || dirty) rc = reg_sync(r);
        failing = rc < 0;
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct etcd_reg *
etcd_reg_start(struct etcd *e, const char *key, const char *value, int64_t ttl_s, int *rc)
{
    struct etcd_reg *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->e = e;
    r->ttl = ttl_s < 1 ? 1 : ttl_s;
    r->key = strdup(key);
    r->value = strdup(value);
    r->gen = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* reg_thread's deadlines */
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (r->key == NULL || r->value == NULL) goto fail;
    int first = reg_sync(r);
    if (rc) *rc = first;
    if (pthread_create(&r->thread, NULL, reg_thread, r) != 0) goto fail;
    return r;
fail:
    if (r->lease) etcd_lease_revoke(e, r->lease);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->key);
    free(r->value);
    free(r);
    return NULL;
}

int
etcd_reg_update(struct etcd_reg *r, const char *value)
{
    char *v = strdup(value);
    if (v == NULL) return JUNO_ENOMEM;
    pthread_mutex_lock(&r->mu);
    free(r->value);
    r->value = v;
    r->gen++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void
etcd_reg_stop(struct etcd_reg *r, int revoke)
{
    if (r == NULL) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    if (revoke && r->lease) etcd_lease_revoke(r->e, r->lease);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->key);
    free(r->value);
    free(r);
}
