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
 */
#include "proxy.h"

#include "cli.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define SWAP_WAIT_MS 1000

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
    struct map *m;
    char why[512];
    rc = map_parse(text, len, &m, why, sizeof(why));
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "invalid map %s: %s", path, rc == JUNO_EBADMAP ? why : error_str(rc));
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
    if (old == NULL)
        log_info("map in use cluster=%s version=%llu zones=%u shards=%u thread=%u", m->cluster,
                 (unsigned long long)m->version, m->nzones, m->shards, w->id);
    else
        log_info("map swapped cluster=%s version=%llu previous=%llu thread=%u still_connecting=%d",
                 m->cluster, (unsigned long long)m->version,
                 (unsigned long long)old->pm->map->version, w->id, waiting);
    route_unref(old);
}

void
route_adopt_incoming(struct worker *w)
{
    uv_mutex_lock(&w->p->mu);
    struct pmap *pm = w->incoming;
    w->incoming = NULL;
    uv_mutex_unlock(&w->p->mu);
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
