/* etcdwatch.c: juno-proxy --etcd: the cluster's state from etcd.
 *
 *   etcd /juno/<c>/ ──watch thread (lib/etcd)──► pending state (mutex) ──uv_async──►
 *   main thread: check the map (proxy_offer_map), write --map-cache, compute the
 *   down set, hand both to the workers (as SIGHUP does); report the version
 *   every worker has swapped to in /juno/<c>/proxies/<name>.
 *
 * One watch covers the whole /juno/<c>/ prefix:
 *   map                 a new map (garbage, an older version, another shard
 *                       count are refused: logged, the old map stays)
 *   stores/<zone>/<node> registrations ({"addr": ...}); a store whose key was
 *                       seen and is gone (lease expired, store stopped) is
 *                       down until it registers again, unless the gone
 *                       ones would take a shard's quorum away (not believed)
 *   down/<zone>         every store of that zone is down while the key exists
 * Nothing here runs on a worker loop; workers only adopt what they are given.
 */
#include "proxy.h"

#include "cli.h"
#include "error.h"
#include "etcd_uv.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PC_MAX_STORES 4096
#define PC_MAX_DOWN   64
#define PC_TTL_S      5

struct preg {
    char key[MAP_NAME_MAX * 2 + 2]; /* "<zone>/<node>" */
    char addr[MAP_ADDR_MAX + 1];
    int present;
};

struct pcluster {
    struct proxy *p;
    struct etcd_uv u; /* u.mu guards the pending state below (watch thread -> main) */
    char prefix[128]; /* /juno/<c>/ */
    char map_key[160];
    char name[300];    /* this proxy's registration name: its address */
    char *pending_map; /* owned: the newest map text not yet looked at */
    size_t pending_len;
    int state_dirty;
    struct preg *stores; /* owned, nstores */
    size_t nstores;
    char down_zones[PC_MAX_DOWN][MAP_NAME_MAX + 1];
    size_t ndown;
    int lost;
    int unsure; /* registrations not believed: they would take a quorum away */
    /* main thread only */
    uint64_t reported;  /* map_version last registered */
    struct pdown *down; /* ref: the last down set handed out */
};

/* ---- the watch thread ---- */

static struct preg *
store_find(struct pcluster *c, const char *key, int add)
{
    for (size_t i = 0; i < c->nstores; i++)
        if (strcmp(c->stores[i].key, key) == 0) return &c->stores[i];
    if (!add || c->nstores >= PC_MAX_STORES) return NULL;
    struct preg *n = realloc(c->stores, (c->nstores + 1) * sizeof(*n));
    if (n == NULL) return NULL;
    c->stores = n;
    struct preg *r = &c->stores[c->nstores++];
    memset(r, 0, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", key);
    return r;
}

static void
store_put(struct pcluster *c, const char *key, const char *value, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(value, len);
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(j, "addr");
    if (!cJSON_IsString(addr) || map_addr_valid(addr->valuestring) != 0) {
        log_warn("etcd: ignoring a store registration without a valid addr key=%s%s", c->prefix,
                 key);
    } else {
        struct preg *r = store_find(c, key, 1);
        if (r != NULL) {
            snprintf(r->addr, sizeof(r->addr), "%s", addr->valuestring);
            r->present = 1;
        }
    }
    cJSON_Delete(j);
}

static void
down_set(struct pcluster *c, const char *zone, int on)
{
    for (size_t i = 0; i < c->ndown; i++) {
        if (strcmp(c->down_zones[i], zone) != 0) continue;
        if (!on)
            memmove(c->down_zones[i], c->down_zones[i + 1],
                    (c->ndown-- - i - 1) * sizeof(c->down_zones[0]));
        return;
    }
    if (on && c->ndown < PC_MAX_DOWN && strlen(zone) <= MAP_NAME_MAX)
        strcpy(c->down_zones[c->ndown++], zone);
}

/* One changed key (c->u.mu held). */
static void
apply_kv(struct pcluster *c, const struct etcd_kv *kv, int deleted)
{
    size_t plen = strlen(c->prefix);
    if (strncmp(kv->key, c->prefix, plen) != 0) return;
    const char *rest = kv->key + plen;
    if (strcmp(rest, "map") == 0) {
        if (deleted) {
            log_warn("etcd: the map was deleted from %s; keeping the current one", kv->key);
            return;
        }
        char *copy = malloc(kv->value_len + 1);
        if (copy == NULL) return;
        memcpy(copy, kv->value, kv->value_len + 1);
        free(c->pending_map);
        c->pending_map = copy;
        c->pending_len = kv->value_len;
    } else if (strncmp(rest, "stores/", 7) == 0) {
        if (deleted) {
            struct preg *r = store_find(c, rest + 7, 0);
            if (r != NULL) r->present = 0;
        } else {
            store_put(c, rest + 7, kv->value, kv->value_len);
        }
        c->state_dirty = 1;
    } else if (strncmp(rest, "down/", 5) == 0 && strchr(rest + 5, '/') == NULL) {
        down_set(c, rest + 5, !deleted);
        c->state_dirty = 1;
    }
}

static void
on_watch(void *arg, const struct etcd_event *ev)
{
    struct pcluster *c = arg;
    if (ev->type == ETCD_EV_LOST) {
        log_warn("etcd unreachable, serving the current map; retrying endpoints=%s error=\"%s\"",
                 etcd_endpoints(c->u.etcd), ev->error ? ev->error : "");
        uv_mutex_lock(&c->u.mu);
        c->lost = 1;
        uv_mutex_unlock(&c->u.mu);
        return;
    }
    uv_mutex_lock(&c->u.mu);
    if (c->lost) {
        log_info("etcd reachable again endpoints=%s", etcd_endpoints(c->u.etcd));
        c->lost = 0;
    }
    if (ev->type == ETCD_EV_SNAPSHOT) {
        for (size_t i = 0; i < c->nstores; i++) c->stores[i].present = 0;
        c->ndown = 0;
        c->state_dirty = 1;
        for (size_t i = 0; i < ev->all->n; i++) apply_kv(c, &ev->all->kvs[i], 0);
    } else {
        apply_kv(c, ev->kv, ev->type == ETCD_EV_DELETE);
    }
    uv_mutex_unlock(&c->u.mu);
    etcd_uv_wake(&c->u);
}

/* ---- the main thread ---- */

static int
cmp_addr(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sort d's addresses and drop the repeated ones. */
static void
down_sort(struct pdown *d)
{
    qsort(d->addrs, d->n, sizeof(d->addrs[0]), cmp_addr);
    size_t u = 0; /* unique */
    for (size_t i = 0; i < d->n; i++)
        if (u == 0 || strcmp(d->addrs[u - 1], d->addrs[i]) != 0)
            memmove(d->addrs[u++], d->addrs[i], sizeof(d->addrs[0]));
    d->n = u;
}

/* Whether skipping d's stores (sorted) leaves some shard of m fewer than a
 * quorum of replicas, W = floor(Z/2) + 1. */
static int
quorum_lost(const struct map *m, const struct pdown *d)
{
    uint8_t *off[MAP_MAX_ZONES] = {0}; /* per zone and node: skipped */
    int lost = 0;
    for (uint32_t z = 0; z < m->nzones; z++) {
        if ((off[z] = calloc(m->zones[z].nnodes, 1)) == NULL) {
            lost = 1; /* out of memory: say lost, so registrations are not believed */
            goto out;
        }
        for (uint32_t n = 0; n < m->zones[z].nnodes; n++)
            off[z][n] = bsearch(m->zones[z].nodes[n].addr, d->addrs, d->n, sizeof(d->addrs[0]),
                                cmp_addr) != NULL;
    }
    uint32_t tolerated = m->nzones - (m->nzones / 2 + 1);
    for (uint32_t sh = 0; sh < m->shards && !lost; sh++) {
        uint32_t down = 0;
        for (uint32_t z = 0; z < m->nzones; z++) down += off[z][m->zones[z].owners[sh]];
        lost = down > tolerated;
    }
out:
    for (uint32_t z = 0; z < m->nzones; z++) free(off[z]);
    return lost;
}

/* An empty down set with room for cap addresses; NULL when out of memory. */
static struct pdown *
down_new(size_t cap)
{
    struct pdown *d = calloc(1, sizeof(*d));
    if (d == NULL || (cap > 0 && (d->addrs = calloc(cap, sizeof(*d->addrs))) == NULL)) {
        free(d);
        return NULL;
    }
    atomic_init(&d->refs, 1);
    return d;
}

/* Add every store of the zones marked down to d. */
static void
down_add_zones(const struct pcluster *c, const struct map *m, struct pdown *d)
{
    for (size_t k = 0; k < c->ndown; k++) {
        int z = map_zone_find(m, c->down_zones[k]);
        if (z < 0) continue;
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++)
            strcpy(d->addrs[d->n++], m->zones[z].nodes[i].addr);
    }
}

/* Add the stores seen registered and now gone to d. */
static void
down_add_unregistered(const struct pcluster *c, struct pdown *d)
{
    for (size_t i = 0; i < c->nstores; i++) {
        if (c->stores[i].present) continue;
        int again = 0; /* the address registered again under another name */
        for (size_t j = 0; j < c->nstores && !again; j++)
            again = c->stores[j].present && strcmp(c->stores[j].addr, c->stores[i].addr) == 0;
        if (!again) strcpy(d->addrs[d->n++], c->stores[i].addr);
    }
}

/* The down set for map m (c->u.mu held): every store of a zone marked down,
 * and the stores seen registered and now gone, unless skipping those too
 * would leave some shard without a quorum. Registrations are then not
 * believed: leases of many stores gone at once say more about etcd (stalled,
 * its leases expired before their renewals were read) than about the
 * stores, skipping them could only turn a working cluster off, and the
 * workers' own timeouts and refused connections still mark down the stores
 * that really are. NULL when out of memory. */
static struct pdown *
down_compute(struct pcluster *c, const struct map *m)
{
    size_t cap = c->nstores;
    for (uint32_t z = 0; z < m->nzones; z++) cap += m->zones[z].nnodes;
    struct pdown *d = down_new(cap), *zones = NULL;
    if (d == NULL) return NULL;
    down_add_zones(c, m, d);
    down_add_unregistered(c, d);
    down_sort(d);
    int unsure = 0;
    if (d->n > 0 && quorum_lost(m, d) && (zones = down_new(cap)) != NULL) {
        down_add_zones(c, m, zones);
        down_sort(zones);
        unsure = !quorum_lost(m, zones);
        if (unsure) {
            pdown_unref(d);
            d = zones;
        } else {
            pdown_unref(zones);
        }
    }
    if (unsure && !c->unsure)
        log_warn("etcd: skipping the stores whose registrations are gone would leave shards "
                 "without a quorum; not believing them, the stores stay in use until they fail "
                 "requests");
    else if (!unsure && c->unsure)
        log_info("etcd: store registrations believed again");
    c->unsure = unsure;
    return d;
}

static int
down_equal(const struct pdown *a, const struct pdown *b)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a->addrs[i], b->addrs[i]) != 0) return 0;
    return 1;
}

static void
write_cache(struct pcluster *c)
{
    const char *path = c->p->cfg.map_cache;
    if (path == NULL) return;
    size_t len;
    char *json = map_to_json(c->p->current->map, &len);
    int rc = json ? cli_write_file(path, json, len) : JUNO_ENOMEM;
    free(json);
    if (rc != 0) log_error("cannot write map cache %s: %s", path, error_str(rc));
}

static void
register_version(struct pcluster *c)
{
    struct proxy *p = c->p;
    uint64_t v = UINT64_MAX;
    for (unsigned i = 0; i < p->nworkers; i++) {
        uint64_t wv = atomic_load(&p->workers[i].map_version);
        if (wv < v) v = wv;
    }
    if (c->u.reg == NULL || v == c->reported || v == UINT64_MAX) return;
    char val[512];
    snprintf(val, sizeof(val), "{\"addr\":\"%s\",\"pid\":%ld,\"map_version\":%llu}", c->name,
             (long)getpid(), (unsigned long long)v);
    if (etcd_reg_update(c->u.reg, val) == 0) c->reported = v;
}

static void
on_wake(uv_async_t *a)
{
    struct pcluster *c = a->data;
    struct proxy *p = c->p;
    if (c->u.stopped) return;
    uv_mutex_lock(&c->u.mu);
    char *text = c->pending_map;
    size_t len = c->pending_len;
    c->pending_map = NULL;
    uv_mutex_unlock(&c->u.mu);
    int map_changed = 0;
    if (text != NULL) {
        char err[700];
        struct pmap *pm = pmap_from_json(text, len, c->map_key, err, sizeof(err));
        if (pm == NULL) {
            log_error("map from etcd refused, keeping version %llu: %s",
                      (unsigned long long)p->current->map->version, err);
        } else {
            map_changed = proxy_offer_map(p, pm, c->map_key) == 1;
            pmap_unref(pm);
            if (map_changed) write_cache(c);
        }
        free(text);
    }
    uv_mutex_lock(&c->u.mu);
    struct pdown *d = NULL;
    if (c->state_dirty || map_changed) {
        c->state_dirty = 0;
        d = down_compute(c, p->current->map);
    }
    uv_mutex_unlock(&c->u.mu);
    if (d != NULL) {
        if (!down_equal(d, c->down)) {
            log_info("etcd: stores to skip changed count=%zu", d->n);
            proxy_offer_down(p, d);
        }
        pdown_unref(c->down);
        c->down = d;
    }
    register_version(c);
}

int
pcluster_init(struct proxy *p, char *err, size_t errlen)
{
    const struct proxy_config *cfg = &p->cfg;
    struct pcluster *c = calloc(1, sizeof(*c));
    if (c == NULL) return JUNO_ENOMEM;
    c->p = p;
    p->cluster = c;
    int rc = etcd_uv_init(&c->u, cfg->etcd, &cfg->etcd_opts, err, errlen);
    if (rc != 0) return rc;
    const char *cluster = cfg->cluster ? cfg->cluster : ETCD_JUNO_DEFAULT_CLUSTER;
    if (map_name_valid(cluster) != 0) {
        snprintf(err, errlen, "invalid --cluster '%s'", cluster);
        return JUNO_EINVAL;
    }
    etcd_juno_key(c->prefix, sizeof(c->prefix), cluster, "");
    etcd_juno_key(c->map_key, sizeof(c->map_key), cluster, "map");
    snprintf(c->name, sizeof(c->name), "%s:%u", cfg->listen_host, cfg->listen_port);
    char etcd_err[900] = "", *text;
    size_t len;
    if (etcd_uv_read(&c->u, c->map_key, &text, &len, etcd_err, sizeof(etcd_err)) == 0) {
        p->current = pmap_from_json(text, len, c->map_key, etcd_err, sizeof(etcd_err));
        free(text);
        if (p->current != NULL) write_cache(c);
    }
    if (p->current != NULL) return 0;
    const char *fallback[2] = {cfg->map_cache, cfg->map_path};
    for (int i = 0; i < 2 && p->current == NULL; i++) {
        if (fallback[i] == NULL || (i == 0 && access(fallback[i], F_OK) != 0)) continue;
        char ferr[700];
        p->current = pmap_load(fallback[i], ferr, sizeof(ferr));
        if (p->current != NULL)
            log_warn("starting from map %s version %llu: %s", fallback[i],
                     (unsigned long long)p->current->map->version, etcd_err);
        else
            log_error("%s", ferr);
    }
    if (p->current != NULL) return 0;
    snprintf(err, errlen, "no map to start from: %s%s", etcd_err,
             cfg->map_cache ? " and no usable --map-cache" : " (--map-cache FILE keeps one)");
    return JUNO_EUNAVAIL;
}

void
pcluster_start(struct proxy *p)
{
    struct pcluster *c = p->cluster;
    if (c == NULL) return;
    char key[512], val[512];
    snprintf(key, sizeof(key), "%sproxies/%s", c->prefix, c->name);
    snprintf(val, sizeof(val), "{\"addr\":\"%s\",\"pid\":%ld,\"map_version\":0}", c->name,
             (long)getpid());
    etcd_uv_start(&c->u, p->loop, on_wake, c, c->prefix, 1, on_watch, c, key, val, PC_TTL_S);
    if (p->cfg.map_cache) log_info("map cache file=%s", p->cfg.map_cache);
    etcd_uv_wake(&c->u); /* report the version once the workers swapped */
}

void
pcluster_notify(struct proxy *p)
{
    struct pcluster *c = p->cluster;
    if (c != NULL) etcd_uv_wake(&c->u);
}

void
pcluster_stop(struct proxy *p)
{
    if (p->cluster != NULL) etcd_uv_stop(&p->cluster->u); /* gone from /proxies/ at once */
}

void
pcluster_destroy(struct proxy *p)
{
    struct pcluster *c = p->cluster;
    if (c == NULL) return;
    etcd_uv_deinit(&c->u);
    p->cluster = NULL;
    free(c->pending_map);
    free(c->stores);
    pdown_unref(c->down);
    free(c);
}

void
pcluster_reload_password(struct proxy *p)
{
    if (p->cluster != NULL) etcd_uv_reload_password(&p->cluster->u, &p->cfg.etcd_sec);
}
