/* cluster.c: juno-store --etcd: the map from etcd, and this store's
 * registration.
 *
 *   etcd /juno/<c>/map ──watch thread (lib/etcd)──► pending text (mutex)
 *        ──uv_async──► loop thread: parse, store_adopt_map (the same checks as
 *        a SIGHUP reload: garbage, an older version, another shard count, a
 *        map without this store are refused and logged; the old map stays)
 *
 * The registration /juno/<c>/stores/<zone>/<node> =
 *   {"addr":"H:P","zone":"z0","node":"s1","pid":N,"map_version":V}
 * lives under a lease of STORE_TTL_S seconds that lib/etcd's registration
 * thread keeps alive; it is revoked on SIGTERM, and expires when the process
 * dies, which proxies take as "this store is down".
 */
#include "store.h"

#include "cli.h"
#include "error.h"
#include "etcd.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_TTL_S 3

struct scluster {
    struct store *s;
    struct etcd *etcd; /* owned */
    char prefix[128];  /* /juno/<c>/stores */
    char map_key[160];
    char zone[MAP_NAME_MAX + 1], node[MAP_NAME_MAX + 1];
    struct etcd_watch *watch; /* owned */
    struct etcd_reg *reg;     /* owned */
    uv_async_t wake;
    int started, stopped;
    uv_mutex_t mu; /* guards pending, stopped (watch thread -> loop) */
    char *pending; /* owned: the newest map text not yet looked at */
    size_t pending_len;
    uint64_t reported; /* map_version last registered */
};

static void
on_watch(void *arg, const struct etcd_event *ev)
{
    struct scluster *c = arg;
    const struct etcd_kv *kv = NULL;
    if (ev->type == ETCD_EV_LOST) {
        log_warn("etcd unreachable, keeping map version %llu; retrying error=\"%s\"",
                 (unsigned long long)c->s->map->version, ev->error ? ev->error : "");
        return;
    }
    if (ev->type == ETCD_EV_SNAPSHOT && ev->all->n == 1) kv = &ev->all->kvs[0];
    if (ev->type == ETCD_EV_PUT) kv = ev->kv;
    if (ev->type == ETCD_EV_DELETE)
        log_warn("etcd: the map was deleted from %s; keeping the current one", c->map_key);
    if (kv == NULL) return;
    char *copy = malloc(kv->value_len + 1);
    if (copy == NULL) return;
    memcpy(copy, kv->value, kv->value_len + 1);
    uv_mutex_lock(&c->mu);
    free(c->pending);
    c->pending = copy;
    c->pending_len = kv->value_len;
    if (!c->stopped) uv_async_send(&c->wake);
    uv_mutex_unlock(&c->mu);
}

static void
reg_value(const struct scluster *c, char *buf, size_t cap)
{
    const struct store *s = c->s;
    snprintf(buf, cap,
             "{\"addr\":\"%s:%u\",\"zone\":\"%s\",\"node\":\"%s\",\"pid\":%ld,"
             "\"map_version\":%llu}",
             s->cfg.listen_host, s->cfg.listen_port, c->zone, c->node, (long)getpid(),
             (unsigned long long)s->map->version);
}

static void
register_version(struct scluster *c)
{
    if (c->reg == NULL || c->s->map->version == c->reported) return;
    char val[1024];
    reg_value(c, val, sizeof(val));
    if (etcd_reg_update(c->reg, val) == 0) c->reported = c->s->map->version;
}

static void
on_wake(uv_async_t *a)
{
    struct scluster *c = a->data;
    struct store *s = c->s;
    uv_mutex_lock(&c->mu);
    char *text = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    uv_mutex_unlock(&c->mu);
    if (text == NULL || c->stopped) {
        free(text);
        return;
    }
    struct map *m;
    char why[600], err[700];
    int rc = map_parse(text, len, &m, why, sizeof(why));
    free(text);
    if (rc != 0) {
        log_error("map from etcd refused, keeping version %llu: invalid map %s: %s",
                  (unsigned long long)s->map->version, c->map_key, why);
        return;
    }
    if (m->version == s->map->version) { /* a snapshot of what we have */
        map_destroy(m);
        return;
    }
    if (store_adopt_map(s, m, c->map_key, err, sizeof(err)) != 0) {
        log_error("map from etcd refused, keeping version %llu: %s",
                  (unsigned long long)s->map->version, err);
        return;
    }
    register_version(c);
}

int
scluster_init(struct store *s, char *err, size_t errlen)
{
    struct scluster *c = calloc(1, sizeof(*c));
    if (c == NULL) return JUNO_ENOMEM;
    c->s = s;
    s->cluster = c;
    uv_mutex_init(&c->mu);
    const char *cluster = s->cfg.cluster ? s->cfg.cluster : ETCD_JUNO_DEFAULT_CLUSTER;
    if (map_name_valid(cluster) != 0) {
        snprintf(err, errlen, "invalid --cluster '%s'", cluster);
        return JUNO_EINVAL;
    }
    etcd_juno_key(c->prefix, sizeof(c->prefix), cluster, "stores");
    etcd_juno_key(c->map_key, sizeof(c->map_key), cluster, "map");
    char why[300];
    struct etcd_opts o = {.connect_timeout_ms = 1000, .request_timeout_ms = 3000};
    if ((c->etcd = etcd_create(s->cfg.etcd, &o, why, sizeof(why))) == NULL) {
        snprintf(err, errlen, "invalid --etcd '%s': %s", s->cfg.etcd, why);
        return JUNO_EINVAL;
    }
    struct etcd_kvs kvs;
    int rc = etcd_get(c->etcd, c->map_key, 0, &kvs);
    char from_etcd[900] = "";
    if (rc == 0 && kvs.n == 1) {
        struct map *m;
        char perr[600];
        if (map_parse(kvs.kvs[0].value, kvs.kvs[0].value_len, &m, perr, sizeof(perr)) != 0)
            snprintf(from_etcd, sizeof(from_etcd), "invalid map %s: %s", c->map_key, perr);
        else if (store_adopt_map(s, m, c->map_key, from_etcd, sizeof(from_etcd)) == 0)
            from_etcd[0] = '\0';
    } else if (rc == 0) {
        snprintf(from_etcd, sizeof(from_etcd), "no map at %s", c->map_key);
    } else {
        snprintf(from_etcd, sizeof(from_etcd), "etcd unreachable: %s", etcd_strerror());
    }
    if (rc == 0) etcd_kvs_deinit(&kvs);
    if (s->map != NULL) return 0;
    if (s->cfg.map_path != NULL) {
        char ferr[700];
        if (store_load_map(s, ferr, sizeof(ferr)) == 0) {
            log_warn("starting from map %s version %llu: %s", s->cfg.map_path,
                     (unsigned long long)s->map->version, from_etcd);
            return 0;
        }
        snprintf(err, errlen, "%s; and %s", from_etcd, ferr);
        return JUNO_EUNAVAIL;
    }
    snprintf(err, errlen, "no map to start from: %s (--map FILE gives one)", from_etcd);
    return JUNO_EUNAVAIL;
}

void
scluster_start(struct store *s)
{
    struct scluster *c = s->cluster;
    if (c == NULL) return;
    uv_async_init(s->loop, &c->wake, on_wake);
    c->wake.data = c;
    c->started = 1;
    const struct map_zone *z = &s->map->zones[s->zone_index];
    char listen[300];
    snprintf(listen, sizeof(listen), "%s:%u", s->cfg.listen_host, s->cfg.listen_port);
    for (uint32_t i = 0; i < z->nnodes; i++) {
        const struct map_node *n = &z->nodes[i];
        if (s->cfg.node ? strcmp(n->name, s->cfg.node) == 0 : strcmp(n->addr, listen) == 0)
            snprintf(c->node, sizeof(c->node), "%s", n->name);
    }
    snprintf(c->zone, sizeof(c->zone), "%s", z->name);
    char key[512], val[1024];
    snprintf(key, sizeof(key), "%s/%s/%s", c->prefix, c->zone, c->node);
    reg_value(c, val, sizeof(val));
    int rc = 0;
    c->reg = etcd_reg_start(c->etcd, key, val, STORE_TTL_S, &rc);
    if (c->reg != NULL) c->reported = s->map->version;
    if (rc != 0)
        log_warn("cannot register in etcd yet (retrying) key=%s error=\"%s\"", key,
                 etcd_strerror());
    c->watch = etcd_watch_start(c->etcd, c->map_key, 0, on_watch, c);
    if (c->watch == NULL) log_error("cannot start the etcd watch: out of memory");
    log_info("following etcd endpoints=%s map=%s registered=%s ttl_s=%d", etcd_endpoints(c->etcd),
             c->map_key, key, STORE_TTL_S);
}

void
scluster_stop(struct store *s)
{
    struct scluster *c = s->cluster;
    if (c == NULL || c->stopped) return;
    etcd_watch_stop(c->watch);
    c->watch = NULL;
    etcd_reg_stop(c->reg, 1);
    c->reg = NULL;
    uv_mutex_lock(&c->mu);
    c->stopped = 1;
    uv_mutex_unlock(&c->mu);
    if (c->started) uv_close((uv_handle_t *)&c->wake, NULL);
}

void
scluster_destroy(struct store *s)
{
    struct scluster *c = s->cluster;
    if (c == NULL) return;
    scluster_stop(s);
    s->cluster = NULL;
    free(c->pending);
    uv_mutex_destroy(&c->mu);
    etcd_destroy(c->etcd);
    free(c);
}
