/* cluster.c: juno-store --etcd: the map from etcd, and this store's
 * registration.
 *
 *   etcd /juno/<c>/map ──watch thread (lib/etcd)──► pending text (mutex)
 *        ──uv_async──► loop thread: parse, store_adopt_map (the same checks as
 *        a SIGHUP reload: garbage, an older version, another shard count are
 *        refused and logged; the old map stays)
 *
 * A store started with --zone and --node that the map does not (yet) name
 * runs with no shard of it: it joins before juno-migrate moves shards to it,
 * and owns them once the map that names it is published.
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
#include "etcd_uv.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORE_TTL_S 3

struct scluster {
    struct store *s;
    struct etcd_uv u;
    char prefix[128]; /* /juno/<c>/stores */
    char map_key[160];
    char zone[MAP_NAME_MAX + 1], node[MAP_NAME_MAX + 1];
    char *pending; /* guarded by u.mu; owned: the newest map text not yet looked at */
    size_t pending_len;
    uint64_t reported; /* map_version last registered */
};

static void
on_watch(void *arg, const struct etcd_event *ev)
{
    struct scluster *c = arg;
    const struct etcd_kv *kv = NULL;
    if (ev->type == ETCD_EV_LOST) {
        log_warn("etcd unreachable, keeping the current map; retrying error=\"%s\"",
                 ev->error ? ev->error : "");
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
    uv_mutex_lock(&c->u.mu);
    free(c->pending);
    c->pending = copy;
    c->pending_len = kv->value_len;
    uv_mutex_unlock(&c->u.mu);
    etcd_uv_wake(&c->u);
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
    if (c->u.reg == NULL || c->s->map->version == c->reported) return;
    char val[1024];
    reg_value(c, val, sizeof(val));
    if (etcd_reg_update(c->u.reg, val) == 0) c->reported = c->s->map->version;
}

static void
on_wake(uv_async_t *a)
{
    struct scluster *c = a->data;
    struct store *s = c->s;
    uv_mutex_lock(&c->u.mu);
    char *text = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    uv_mutex_unlock(&c->u.mu);
    if (text == NULL || c->u.stopped) {
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
    int rc = etcd_uv_init(&c->u, s->cfg.etcd, &s->cfg.etcd_opts, err, errlen);
    if (rc != 0) return rc;
    const char *cluster = s->cfg.cluster ? s->cfg.cluster : ETCD_JUNO_DEFAULT_CLUSTER;
    if (map_name_valid(cluster) != 0) {
        snprintf(err, errlen, "invalid --cluster '%s'", cluster);
        return JUNO_EINVAL;
    }
    etcd_juno_key(c->prefix, sizeof(c->prefix), cluster, "stores");
    etcd_juno_key(c->map_key, sizeof(c->map_key), cluster, "map");
    char from_etcd[900] = "", *text;
    size_t len;
    if (etcd_uv_read(&c->u, c->map_key, &text, &len, from_etcd, sizeof(from_etcd)) == 0) {
        struct map *m;
        char perr[600];
        if (map_parse(text, len, &m, perr, sizeof(perr)) != 0)
            snprintf(from_etcd, sizeof(from_etcd), "invalid map %s: %s", c->map_key, perr);
        else
            store_adopt_map(s, m, c->map_key, from_etcd, sizeof(from_etcd));
        free(text);
    }
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
    const struct map_zone *z = &s->map->zones[s->zone_index];
    char listen[300];
    snprintf(listen, sizeof(listen), "%s:%u", s->cfg.listen_host, s->cfg.listen_port);
    for (uint32_t i = 0; i < z->nnodes; i++) {
        const struct map_node *n = &z->nodes[i];
        if (s->cfg.node ? strcmp(n->name, s->cfg.node) == 0 : strcmp(n->addr, listen) == 0)
            snprintf(c->node, sizeof(c->node), "%s", n->name);
    }
    if (c->node[0] == '\0') /* joining: not in the map yet */
        snprintf(c->node, sizeof(c->node), "%s", s->cfg.node ? s->cfg.node : "?");
    snprintf(c->zone, sizeof(c->zone), "%s", z->name);
    char key[512], val[1024];
    snprintf(key, sizeof(key), "%s/%s/%s", c->prefix, c->zone, c->node);
    reg_value(c, val, sizeof(val));
    c->reported = s->map->version;
    etcd_uv_start(&c->u, s->loop, on_wake, c, c->map_key, 0, on_watch, c, key, val, STORE_TTL_S);
}

void
scluster_stop(struct store *s)
{
    if (s->cluster != NULL) etcd_uv_stop(&s->cluster->u);
}

void
scluster_destroy(struct store *s)
{
    struct scluster *c = s->cluster;
    if (c == NULL) return;
    etcd_uv_deinit(&c->u);
    s->cluster = NULL;
    free(c->pending);
    free(c);
}

void
scluster_reload_password(struct store *s)
{
    if (s->cluster != NULL) etcd_uv_reload_password(&s->cluster->u, &s->cfg.etcd_sec);
}
