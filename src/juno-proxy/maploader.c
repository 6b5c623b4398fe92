/* maploader.c: shard maps and routes.
 *
 * A pmap is one parsed map file, shared by every worker (atomic reference
 * count). A route is a worker's view of a pmap: the upstream connection of
 * every node. Each request holds a reference on the route it started with, so
 * it finishes on that map even if a SIGHUP swaps in another meanwhile.
 *
 * A swap (route_adopt_incoming): build the new route, which opens connections
 * to stores the worker did not know; once they are connected or have failed
 * (at most a second), make it current and drop the worker's reference on the
 * old one. Stores that are in no route any more are disconnected when the
 * last request using them is done (upstream_route_unref).
 *
 * Maps come from a file (SIGHUP) or from etcd (etcdwatch.c); either way the
 * main thread checks them in proxy_offer_map and hands them over. Likewise a
 * down set (stores etcd says are gone) goes to every worker, which applies it
 * to its upstreams.
 */
#include "proxy.h"

#include "cli.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define SWAP_WAIT_MS 1000

struct pmap *
pmap_from_json(const char *text, size_t len, const char *source, char *err, size_t errlen)
{
    struct map *m;
    char why[512];
    int rc = map_parse(text, len, &m, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errlen, "invalid map %s: %s", source,
                 rc == JUNO_EBADMAP ? why : error_str(rc));
        return NULL;
    }
    struct pmap *pm = malloc(sizeof(*pm));
    if (pm == NULL) {
        map_destroy(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&pm->refs, 1);
    pm->map = m;
    return pm;
}

struct pmap *
pmap_load(const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = cli_read_file(path, MAP_MAX_JSON, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read map %s: %s", path, error_str(rc));
        return NULL;
    }
    struct pmap *pm = pmap_from_json(text, len, path, err, errlen);
    free(text);
    return pm;
}

void
pmap_ref(struct pmap *pm)
{
    atomic_fetch_add(&pm->refs, 1);
}

void
pmap_unref(struct pmap *pm)
{
    if (pm == NULL || atomic_fetch_sub(&pm->refs, 1) != 1) return;
    map_destroy(pm->map);
    free(pm);
}

static void
route_free(struct route *rt)
{
    const struct map *m = rt->pm->map;
    for (uint32_t z = 0; z < m->nzones; z++) {
        if (rt->ups[z] == NULL) continue;
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++)
            if (rt->ups[z][i]) upstream_route_unref(rt->ups[z][i]);
        free(rt->ups[z]);
    }
    pmap_unref(rt->pm);
    free(rt);
}

struct route *
route_create(struct worker *w, struct pmap *pm)
{
    struct route *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) return NULL;
    pmap_ref(pm);
    rt->pm = pm;
    rt->w = w;
    rt->refs = 1;
    const struct map *m = pm->map;
    for (uint32_t z = 0; z < m->nzones; z++) {
        rt->ups[z] = calloc(m->zones[z].nnodes, sizeof(struct upstream *));
        if (rt->ups[z] == NULL) goto fail;
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++) {
            struct upstream *up = upstream_get(w, m->zones[z].nodes[i].addr);
            if (up == NULL) goto fail;
            upstream_route_ref(up);
            upstream_set_down(up, pdown_has(w->down, m->zones[z].nodes[i].addr));
            rt->ups[z][i] = up;
        }
    }
    return rt;
fail:
    route_free(rt);
    return NULL;
}

void
route_ref(struct route *rt)
{
    rt->refs++;
}

void
route_unref(struct route *rt)
{
    if (rt != NULL && --rt->refs == 0) route_free(rt);
}

static int
route_connecting(const struct route *rt)
{
    const struct map *m = rt->pm->map;
    int n = 0;
    for (uint32_t z = 0; z < m->nzones; z++)
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++) n += upstream_connecting(rt->ups[z][i]);
    return n;
}

void
route_maybe_swap(struct worker *w)
{
    struct route *next = w->next;
    if (next == NULL) return;
    int waiting = route_connecting(next);
    if (w->route != NULL && waiting > 0 && uv_now(&w->loop) - w->next_since < SWAP_WAIT_MS) return;
    struct route *old = w->route;
    w->route = next;
    w->next = NULL;
    const struct map *m = next->pm->map;
    atomic_store(&w->map_version, m->version);
    if (w->p->cluster != NULL) pcluster_notify(w->p);
    if (old == NULL)
        log_info("map in use cluster=%s version=%llu zones=%u shards=%u thread=%u", m->cluster,
                 (unsigned long long)m->version, m->nzones, m->shards, w->id);
    else
        log_info("map swapped cluster=%s version=%llu previous=%llu thread=%u still_connecting=%d",
                 m->cluster, (unsigned long long)m->version,
                 (unsigned long long)old->pm->map->version, w->id, waiting);
    route_unref(old);
}

/* Apply the down set to every upstream of w's routes. */
static void
route_apply_down(struct worker *w, struct route *rt)
{
    if (rt == NULL) return;
    const struct map *m = rt->pm->map;
    for (uint32_t z = 0; z < m->nzones; z++)
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++)
            upstream_set_down(rt->ups[z][i], pdown_has(w->down, m->zones[z].nodes[i].addr));
}

void
route_adopt_incoming(struct worker *w)
{
    uv_mutex_lock(&w->p->mu);
    struct pmap *pm = w->incoming;
    w->incoming = NULL;
    struct pdown *d = w->incoming_down;
    w->incoming_down = NULL;
    uv_mutex_unlock(&w->p->mu);
    if (d != NULL) {
        pdown_unref(w->down);
        w->down = d;
        route_apply_down(w, w->route);
        route_apply_down(w, w->next);
    }
    if (pm == NULL) return;
    if (w->draining || (w->route && w->route->pm == pm)) {
        pmap_unref(pm);
        return;
    }
    struct route *rt = route_create(w, pm);
    pmap_unref(pm);
    if (rt == NULL) {
        log_error("out of memory building a route; keeping the current map thread=%u", w->id);
        return;
    }
    route_unref(w->next); /* superseded before it could be swapped in */
    w->next = rt;
    w->next_since = uv_now(&w->loop);
    route_maybe_swap(w);
}

/* ---- the main thread: offering maps and down sets ---- */

int
proxy_offer_map(struct proxy *p, struct pmap *pm, const char *source)
{
    const struct map *old = p->current->map, *m = pm->map;
    const char *why = NULL;
    if (m->shards != old->shards)
        why = "its shard count differs";
    else if (m->version < old->version)
        why = "its version is older";
    else if (m->version == old->version) {
        char *a = map_to_json(old, NULL), *b = map_to_json(m, NULL);
        int same = a && b && strcmp(a, b) == 0;
        free(a);
        free(b);
        if (same) {
            log_info("map unchanged version=%llu source=%s", (unsigned long long)m->version,
                     source);
            return 0;
        }
        why = "it changes the map without a new version";
    }
    if (why != NULL) {
        log_error("map reload refused, keeping version %llu: map %s version %llu shards %u: %s",
                  (unsigned long long)old->version, source, (unsigned long long)m->version,
                  m->shards, why);
        return -1;
    }
    log_info("map reloaded version=%llu previous=%llu zones=%u source=%s",
             (unsigned long long)m->version, (unsigned long long)old->version, m->nzones, source);
    uv_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        pmap_unref(w->incoming);
        pmap_ref(pm);
        w->incoming = pm;
    }
    uv_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) uv_async_send(&p->workers[i].wake);
    pmap_ref(pm);
    pmap_unref(p->current);
    p->current = pm;
    return 1;
}

void
proxy_offer_down(struct proxy *p, struct pdown *d)
{
    uv_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        pdown_unref(w->incoming_down);
        atomic_fetch_add(&d->refs, 1);
        w->incoming_down = d;
    }
    uv_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) uv_async_send(&p->workers[i].wake);
}

void
pdown_unref(struct pdown *d)
{
    if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1) return;
    free(d->addrs);
    free(d);
}

int
pdown_has(const struct pdown *d, const char *addr)
{
    if (d == NULL) return 0;
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(d->addrs[mid], addr);
        if (c == 0) return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}
