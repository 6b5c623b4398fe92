/* live.c: where the live shard map and juno-migrate's state are kept.
 *
 *   --etcd URL   /juno/<cluster>/map (published by compare-and-swap against
 *                the mod_revision read with the plan's base version),
 *                /juno/<cluster>/migration (the state), and the proxies'
 *                and stores' registrations (proxies/NAME) whose
 *                map_version tells when everyone has switched
 *   --map-file F the map in a file (written atomically, then SIGHUP to each
 *                --reload PID), the state in F.migration (or --state)
 */
#include "jmig.h"

#include "cli.h"
#include "error.h"
#include "etcd.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char state_path[4096];

static void
key_of(const struct jmig *j, const char *suffix, char *buf, size_t cap)
{
    etcd_juno_key(buf, cap, j->cluster, suffix);
}

static int
etcd_err(int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, etcd_strerror()[0] ? etcd_strerror() : error_str(rc));
    return rc;
}

int
live_open(struct jmig *j, char *err, size_t errlen)
{
    if (j->etcd_url != NULL) {
        struct etcd_opts o = j->etcd_opts;
        o.connect_timeout_ms = 2000;
        o.request_timeout_ms = 5000;
        j->etcd = etcd_create(j->etcd_url, &o, err, errlen);
        etcdopt_deinit(&j->etcd_sec); /* j->etcd has its own copy */
        return j->etcd ? 0 : JUNO_EINVAL;
    }
    if (j->state_file)
        snprintf(state_path, sizeof(state_path), "%s", j->state_file);
    else
        snprintf(state_path, sizeof(state_path), "%s.migration", j->map_file);
    return 0;
}

void
live_close(struct jmig *j)
{
    etcd_destroy(j->etcd);
    j->etcd = NULL;
}

int
live_map(struct jmig *j, struct map **m, int64_t *rev, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    *rev = 0;
    if (j->etcd) {
        char key[512];
        key_of(j, "map", key, sizeof(key));
        struct etcd_kvs kvs;
        if ((rc = etcd_get(j->etcd, key, 0, &kvs)) < 0)
            return etcd_err(rc, "unable to read the map from etcd", err, errlen);
        if (kvs.n == 0) {
            etcd_kvs_deinit(&kvs);
            snprintf(err, errlen, "no map in etcd at %s", key);
            return JUNO_ENOTFOUND;
        }
        *rev = kvs.kvs[0].mod_revision;
        text = kvs.kvs[0].value;
        len = kvs.kvs[0].value_len;
        kvs.kvs[0].value = NULL;
        etcd_kvs_deinit(&kvs);
    } else if ((rc = cli_read_file(j->map_file, 64u << 20, &text, &len)) != 0) {
        snprintf(err, errlen, "unable to read %s: %s", j->map_file, error_str(rc));
        return rc;
    }
    char why[400];
    rc = map_parse(text, len, m, why, sizeof(why));
    free(text);
    if (rc != 0) snprintf(err, errlen, "the live map is invalid: %s", why);
    return rc;
}

static int
same_map(const struct map *a, const struct map *b)
{
    size_t la, lb;
    char *x = map_to_json(a, &la), *y = map_to_json(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

int
live_publish(struct jmig *j, char *err, size_t errlen)
{
    struct map *cur;
    int64_t rev;
    int rc = live_map(j, &cur, &rev, err, errlen);
    if (rc != 0) return rc;
    const struct map *next = j->plan.map;
    if (cur->version == next->version && same_map(cur, next)) {
        map_destroy(cur);
        return 0; /* published by an earlier run */
    }
    if (cur->version != j->plan.from_version) {
        snprintf(err, errlen,
                 "the live map is version %llu, the plan was made from version %llu: "
                 "make a new plan",
                 (unsigned long long)cur->version, (unsigned long long)j->plan.from_version);
        map_destroy(cur);
        return JUNO_EBADMAP;
    }
    map_destroy(cur);
    size_t len;
    char *json = map_to_json(next, &len);
    if (json == NULL) return JUNO_ENOMEM;
    if (j->etcd) {
        char key[512];
        key_of(j, "map", key, sizeof(key));
        int ok = 0;
        rc = etcd_cas(j->etcd, key, rev, json, len, &ok, NULL);
        free(json);
        if (rc < 0) return etcd_err(rc, "unable to publish the map", err, errlen);
        if (!ok) {
            snprintf(err, errlen, "the map in etcd changed while publishing: make a new plan");
            return JUNO_EBADMAP;
        }
        return 0;
    }
    for (size_t i = 0; i <= j->nmore; i++) { /* the first (the one read) last */
        const char *path = i < j->nmore ? j->more_maps[i] : j->map_file;
        if ((rc = cli_write_file(path, json, len)) != 0) {
            snprintf(err, errlen, "unable to write %s: %s", path, error_str(rc));
            break;
        }
    }
    free(json);
    return rc;
}

int
live_state_get(struct jmig *j, char **text, size_t *len, char *err, size_t errlen)
{
    int rc;
    if (j->etcd) {
        char key[512];
        key_of(j, "migration", key, sizeof(key));
        struct etcd_kvs kvs;
        if ((rc = etcd_get(j->etcd, key, 0, &kvs)) < 0)
            return etcd_err(rc, "unable to read the migration state", err, errlen);
        if (kvs.n == 0) {
            etcd_kvs_deinit(&kvs);
            return JUNO_ENOTFOUND;
        }
        *text = kvs.kvs[0].value;
        *len = kvs.kvs[0].value_len;
        kvs.kvs[0].value = NULL;
        etcd_kvs_deinit(&kvs);
        return 0;
    }
    if (access(state_path, F_OK) != 0) return JUNO_ENOTFOUND;
    if ((rc = cli_read_file(state_path, 64u << 20, text, len)) != 0)
        snprintf(err, errlen, "unable to read %s: %s", state_path, error_str(rc));
    return rc;
}

int
live_state_put(struct jmig *j, const char *text, char *err, size_t errlen)
{
    int rc;
    if (j->etcd) {
        char key[512];
        key_of(j, "migration", key, sizeof(key));
        if ((rc = etcd_put(j->etcd, key, text, strlen(text), 0, NULL)) < 0)
            return etcd_err(rc, "unable to save the migration state", err, errlen);
        return 0;
    }
    if ((rc = cli_write_file(state_path, text, strlen(text))) != 0)
        snprintf(err, errlen, "unable to write %s: %s", state_path, error_str(rc));
    return rc;
}

int
live_state_delete(struct jmig *j, char *err, size_t errlen)
{
    int rc;
    if (j->etcd) {
        char key[512];
        key_of(j, "migration", key, sizeof(key));
        if ((rc = etcd_delete(j->etcd, key, 0, NULL)) < 0)
            return etcd_err(rc, "unable to clear the migration state", err, errlen);
        return 0;
    }
    if (unlink(state_path) != 0 && access(state_path, F_OK) == 0) {
        snprintf(err, errlen, "unable to remove %s", state_path);
        return JUNO_EIO;
    }
    return 0;
}

static int
forgotten(const struct jmig *j, const char *name)
{
    for (size_t i = 0; i < j->nforget; i++)
        if (strcmp(j->forget[i], name) == 0) return 1;
    return 0;
}

int
live_proxies(struct jmig *j, char **json, char *err, size_t errlen)
{
    *json = NULL;
    if (j->etcd == NULL) return 0;
    char key[512];
    key_of(j, "proxies/", key, sizeof(key));
    struct etcd_kvs kvs;
    int rc = etcd_get(j->etcd, key, 1, &kvs);
    if (rc < 0) return etcd_err(rc, "unable to read the proxies' registrations", err, errlen);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < kvs.n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(kvs.kvs[i].key + strlen(key)));
    etcd_kvs_deinit(&kvs);
    *json = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    if (*json == NULL) {
        snprintf(err, errlen, "out of memory");
        return JUNO_ENOMEM;
    }
    return 0;
}

/* The proxies that may still route with a map older than version: those
 * registered with an older map_version, and those of j->proxies that are
 * registered no more (cut off from etcd, or stopped: juno-migrate cannot
 * tell which), except --forget-proxy ones. Their names are appended to lag;
 * returns how many, or a negative code. */
static int
lagging(struct jmig *j, uint64_t version, char *lag, size_t lagcap)
{
    char key[512];
    key_of(j, "proxies/", key, sizeof(key));
    size_t klen = strlen(key);
    struct etcd_kvs kvs;
    int rc = etcd_get(j->etcd, key, 1, &kvs);
    if (rc < 0) return rc;
    int n = 0;
    for (size_t i = 0; i < kvs.n; i++) {
        const char *name = kvs.kvs[i].key + klen;
        if (forgotten(j, name)) continue;
        cJSON *o = cJSON_ParseWithLength(kvs.kvs[i].value, kvs.kvs[i].value_len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "map_version");
        if (!cJSON_IsNumber(v) || (uint64_t)v->valuedouble < version) {
            size_t used = strlen(lag);
            snprintf(lag + used, lagcap - used, "%s%s (map version %.0f)", used ? ", " : "", name,
                     cJSON_IsNumber(v) ? v->valuedouble : 0.0);
            n++;
        }
        cJSON_Delete(o);
    }
    cJSON *snap = j->proxies ? cJSON_Parse(j->proxies) : NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, snap)
    {
        if (!cJSON_IsString(p) || forgotten(j, p->valuestring)) continue;
        size_t i = 0;
        while (i < kvs.n && strcmp(kvs.kvs[i].key + klen, p->valuestring) != 0) i++;
        if (i < kvs.n) continue;
        size_t used = strlen(lag);
        snprintf(lag + used, lagcap - used,
                 "%s%s (registered when the migration began, not now: cut off from etcd, it "
                 "may still route with the old map; if it is stopped for good, run juno-migrate "
                 "again with --forget-proxy %s)",
                 used ? ", " : "", p->valuestring, p->valuestring);
        n++;
    }
    cJSON_Delete(snap);
    etcd_kvs_deinit(&kvs);
    return n;
}

int
live_wait_switched(struct jmig *j, uint64_t version, char *err, size_t errlen)
{
    if (j->etcd == NULL) {
        for (size_t i = 0; i < j->nreload; i++)
            if (kill(j->reload_pids[i], SIGHUP) != 0)
                fprintf(stderr, "%s: warning: cannot signal pid %d\n", cli_prog(),
                        (int)j->reload_pids[i]);
        return 0;
    }
    uint64_t deadline = report_now_ms() + j->wait_ms;
    char lag[2048];
    int told = 0;
    for (;;) {
        lag[0] = '\0';
        int a = lagging(j, version, lag, sizeof(lag));
        if (a < 0) return etcd_err(a, "unable to read the proxies' registrations", err, errlen);
        if (a == 0) return 0;
        if (!told) {          /* once: what it waits for */
            char shown[1500]; /* an event's body holds 2 KiB */
            snprintf(shown, sizeof(shown), "%s", lag);
            cJSON *str = cJSON_CreateString(shown);
            char *q = str ? cJSON_PrintUnformatted(str) : NULL;
            if (q != NULL)
                progress_event(j, "waiting", "\"version\":%llu,\"for\":%s",
                               (unsigned long long)version, q);
            free(q);
            cJSON_Delete(str);
            told = 1;
        }
        if (report_now_ms() > deadline) {
            snprintf(err, errlen, "after %llu ms, still on an older map: %s",
                     (unsigned long long)j->wait_ms, lag);
            return JUNO_ETIMEDOUT;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}
