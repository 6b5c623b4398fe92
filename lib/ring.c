/* ring.c: consistent hashing with bounded loads (see ring.h, docs/ring.md).
 *
 * Each zone is placed independently. A zone's ring is a sorted array of its
 * nodes' virtual points; "the first node clockwise from p" is a binary search
 * for the first point >= p (wrapping to the start) followed by a forward walk
 * that skips nodes the load bound does not allow to take another shard.
 */
#include "ring.h"
#include "error.h"
#include "pack.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct vnode {
    uint64_t point;
    uint32_t node;
};

/* The load bound for n nodes and S shards: q = S / n, r = S % n; a node may
 * take a shard while below q, or at q while fewer than r nodes are above q. */
struct bound {
    uint32_t q, r;
    uint32_t over;  /* nodes with load > q */
    uint32_t *load; /* borrowed: per node */
};

uint64_t
ring_vnode_point(const char *name, uint32_t i)
{
    char buf[MAP_NAME_MAX + 16];
    int n = snprintf(buf, sizeof(buf), "%s#%" PRIu32, name, i);
    return XXH64(buf, (size_t)n, RING_VNODE_SEED);
}

uint64_t
ring_shard_point(uint32_t shard)
{
    uint8_t b[4];
    pack_u32(b, shard);
    return XXH64(b, sizeof(b), RING_SHARD_SEED);
}

static int
vnode_cmp(const void *a, const void *b)
{
    const struct vnode *x = a, *y = b;
    if (x->point != y->point) return x->point < y->point ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* The sorted points of zone's nodes except node skip (UINT32_MAX: none);
 * owned by the caller, *n entries. NULL when out of memory. */
static struct vnode *
vnodes_build(const struct map_zone *zone, uint32_t skip, size_t *n)
{
    size_t cap = (size_t)zone->nnodes * RING_VNODES, k = 0;
    struct vnode *v = malloc(cap ? cap * sizeof(*v) : 1);
    if (v == NULL) return NULL;
    for (uint32_t i = 0; i < zone->nnodes; i++) {
        if (i == skip) continue;
        for (uint32_t j = 0; j < RING_VNODES; j++) {
            v[k++] = (struct vnode){ring_vnode_point(zone->nodes[i].name, j), i};
        }
    }
    qsort(v, k, sizeof(*v), vnode_cmp);
    *n = k;
    return v;
}

/* The index of the first point >= p, wrapping to 0. */
static size_t
vnode_search(const struct vnode *v, size_t n, uint64_t p)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].point < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == n ? 0 : lo;
}

static void
bound_init(struct bound *b, uint32_t shards, uint32_t nodes, uint32_t *load, uint32_t skip,
           uint32_t nall)
{
    b->q = shards / nodes;
    b->r = shards % nodes;
    b->load = load;
    b->over = 0;
    for (uint32_t i = 0; i < nall; i++) b->over += i != skip && load[i] > b->q;
}

static int
may_take(const struct bound *b, uint32_t node)
{
    return b->load[node] < b->q || (b->load[node] == b->q && b->over < b->r);
}

static void
take(struct bound *b, uint32_t node)
{
    b->over += b->load[node] == b->q;
    b->load[node]++;
}

/* The node that takes the shard at point p: the first clockwise that may.
 * A balanced zone always has one; for a map that arrived unbalanced, fall
 * back to the least loaded node so that every shard still gets an owner. */
static uint32_t
walk(const struct vnode *v, size_t nv, uint64_t p, struct bound *b, uint32_t nall, uint32_t skip)
{
    size_t k = vnode_search(v, nv, p);
    for (size_t step = 0; step < nv; step++, k = k + 1 == nv ? 0 : k + 1) {
        if (may_take(b, v[k].node)) return v[k].node;
    }
    uint32_t best = skip == 0 ? 1 : 0;
    for (uint32_t i = 0; i < nall; i++) {
        if (i != skip && b->load[i] < b->load[best]) best = i;
    }
    return best;
}

int
ring_place(const struct map *m, uint32_t z, uint32_t *owners)
{
    if (z >= m->nzones || m->zones[z].nnodes == 0) return JUNO_EINVAL;
    const struct map_zone *zone = &m->zones[z];
    size_t nv;
    struct vnode *v = vnodes_build(zone, UINT32_MAX, &nv);
    uint32_t *load = calloc(zone->nnodes, sizeof(*load));
    if (v == NULL || load == NULL) {
        free(v);
        free(load);
        return JUNO_ENOMEM;
    }
    struct bound b;
    bound_init(&b, m->shards, zone->nnodes, load, UINT32_MAX, zone->nnodes);
    for (uint32_t s = 0; s < m->shards; s++) {
        uint32_t node = walk(v, nv, ring_shard_point(s), &b, zone->nnodes, UINT32_MAX);
        take(&b, node);
        owners[s] = node;
    }
    free(v);
    free(load);
    return 0;
}

int
ring_init(struct map *m)
{
    for (uint32_t z = 0; z < m->nzones; z++) {
        int rc = ring_place(m, z, m->zones[z].owners);
        if (rc != 0) return rc;
    }
    return 0;
}

/* A shard ranked by its distance to the new node's nearest point clockwise. */
struct ranked {
    uint64_t dist;
    uint32_t shard;
};

static int
ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->shard < y->shard ? -1 : x->shard > y->shard;
}

int
ring_add(struct map *m, uint32_t z, const char *name, const char *addr, char *err, size_t errlen)
{
    if (z >= m->nzones) return JUNO_EINVAL;
    struct map_zone *zone = &m->zones[z];
    struct ranked *rank = malloc((size_t)m->shards * sizeof(*rank));
    uint32_t *load = calloc((size_t)zone->nnodes + 1, sizeof(*load));
    struct vnode *mine = malloc(RING_VNODES * sizeof(*mine));
    int rc = rank && load && mine ? 0 : JUNO_ENOMEM;
    if (rc == 0) rc = map_node_add(m, z, name, addr, err, errlen);
    if (rc < 0) {
        free(rank), free(load), free(mine);
        return rc;
    }
    uint32_t n = (uint32_t)rc, nn = zone->nnodes;
    if (nn == 1) { /* a zone's first node takes everything */
        for (uint32_t s = 0; s < m->shards; s++) zone->owners[s] = 0;
        free(rank), free(load), free(mine);
        return rc;
    }
    map_zone_loads(m, z, load);
    for (uint32_t j = 0; j < RING_VNODES; j++)
        mine[j] = (struct vnode){ring_vnode_point(name, j), n};
    qsort(mine, RING_VNODES, sizeof(*mine), vnode_cmp);
    for (uint32_t s = 0; s < m->shards; s++) {
        uint64_t p = ring_shard_point(s);
        rank[s] = (struct ranked){mine[vnode_search(mine, RING_VNODES, p)].point - p, s};
    }
    qsort(rank, m->shards, sizeof(*rank), ranked_cmp);

    /* One pass: the new node takes a shard while below q, from an owner above
     * q+1, or at q+1 while more than r nodes are at q+1 (docs/ring.md proves
     * it ends at exactly q with every old node at q or q+1). */
    uint32_t q = m->shards / nn, r = m->shards % nn, at_top = 0;
    for (uint32_t i = 0; i < nn; i++) at_top += load[i] == q + 1;
    for (uint32_t k = 0; k < m->shards && load[n] < q; k++) {
        uint32_t s = rank[k].shard, o = zone->owners[s];
        if (o == n || !(load[o] > q + 1 || (load[o] == q + 1 && at_top > r))) continue;
        at_top -= load[o] == q + 1;
        load[o]--;
        at_top += load[o] == q + 1;
        load[n]++;
        zone->owners[s] = n;
    }
    free(rank), free(load), free(mine);
    return rc;
}

int
ring_remove(struct map *m, uint32_t z, uint32_t i)
{
    if (z >= m->nzones || i >= m->zones[z].nnodes || m->zones[z].nnodes < 2) return JUNO_EINVAL;
    struct map_zone *zone = &m->zones[z];
    size_t nv;
    struct vnode *v = vnodes_build(zone, i, &nv);
    uint32_t *load = calloc(zone->nnodes, sizeof(*load));
    uint32_t *owners = malloc((size_t)m->shards * sizeof(*owners));
    if (v == NULL || load == NULL || owners == NULL) {
        free(v), free(load), free(owners);
        return JUNO_ENOMEM;
    }
    map_zone_loads(m, z, load);
    memcpy(owners, zone->owners, (size_t)m->shards * sizeof(*owners));
    struct bound b;
    bound_init(&b, m->shards, zone->nnodes - 1, load, i, zone->nnodes);
    for (uint32_t s = 0; s < m->shards; s++) {
        if (owners[s] != i) continue;
        uint32_t node = walk(v, nv, ring_shard_point(s), &b, zone->nnodes, i);
        take(&b, node);
        owners[s] = node;
    }
    memcpy(zone->owners, owners, (size_t)m->shards * sizeof(*owners));
    int rc = map_node_delete(m, z, i);
    free(v), free(load), free(owners);
    return rc;
}

uint32_t
ring_balance(const struct map *m, uint32_t z)
{
    const struct map_zone *zone = &m->zones[z];
    uint32_t *load = calloc(zone->nnodes ? zone->nnodes : 1, sizeof(*load));
    if (load == NULL || zone->nnodes == 0) {
        free(load);
        return 0;
    }
    map_zone_loads(m, z, load);
    uint32_t min = UINT32_MAX, max = 0;
    for (uint32_t i = 0; i < zone->nnodes; i++) {
        if (load[i] < min) min = load[i];
        if (load[i] > max) max = load[i];
    }
    free(load);
    return max - min;
}

int
ring_agreement(const struct map *m, uint32_t z)
{
    uint32_t *fresh = malloc((size_t)m->shards * sizeof(*fresh));
    if (fresh == NULL) return JUNO_ENOMEM;
    int rc = ring_place(m, z, fresh);
    if (rc == 0) {
        for (uint32_t s = 0; s < m->shards; s++) rc += fresh[s] == m->zones[z].owners[s];
    }
    free(fresh);
    return rc;
}

/* Node i of zone z in m is the same node as in other: same name and address. */
static int
node_find_same(const struct map *other, uint32_t z, const struct map_node *node)
{
    int j = map_node_find(other, z, node->name);
    if (j < 0 || strcmp(other->zones[z].nodes[j].addr, node->addr) != 0) return -1;
    return j;
}

uint32_t
ring_ideal_moves(const struct map *old, const struct map *new, uint32_t z)
{
    const struct map_zone *nz = &new->zones[z];
    uint32_t *load = calloc(old->zones[z].nnodes ? old->zones[z].nnodes : 1, sizeof(*load));
    if (load == NULL || nz->nnodes == 0) {
        free(load);
        return 0;
    }
    map_zone_loads(old, z, load);
    uint32_t q = new->shards / nz->nnodes, r = new->shards % nz->nnodes, over = 0;
    uint64_t kept = 0;
    for (uint32_t i = 0; i < nz->nnodes; i++) {
        int j = node_find_same(old, z, &nz->nodes[i]);
        uint32_t l = j < 0 ? 0 : load[j];
        kept += l < q ? l : q;
        over += l > q;
    }
    kept += over < r ? over : r;
    free(load);
    return new->shards - (uint32_t)kept;
}

static void plan_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
plan_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
plan_apply(struct map *m, const struct ring_change *c, int *changed, char *err, size_t errlen)
{
    int z = map_zone_find(m, c->zone);
    if (z < 0) {
        plan_err(err, errlen, "zone \"%.80s\": no such zone in the map", c->zone);
        return JUNO_ENOTFOUND;
    }
    changed[z] = 1;
    if (c->op == RING_ADD) {
        int rc = ring_add(m, (uint32_t)z, c->name, c->addr, err, errlen);
        return rc < 0 ? rc : 0;
    }
    int i = map_node_find(m, (uint32_t)z, c->name);
    if (i < 0) {
        plan_err(err, errlen, "zone \"%s\": node \"%.80s\": no such node in the zone", c->zone,
                 c->name);
        return JUNO_ENOTFOUND;
    }
    if (m->zones[z].nnodes == 1) {
        plan_err(err, errlen, "zone \"%s\": node \"%s\": cannot remove the last node of a zone",
                 c->zone, c->name);
        return JUNO_EINVAL;
    }
    return ring_remove(m, (uint32_t)z, (uint32_t)i);
}

/* Fill p->moves (when not NULL) and return how many shards changed owner. */
static size_t
plan_moves(struct ring_plan *p, struct ring_move *moves)
{
    size_t n = 0;
    for (uint32_t z = 0; z < p->map->nzones; z++) {
        for (uint32_t s = 0; s < p->map->shards; s++) {
            const struct map_node *from = map_owner(p->old, z, s), *to = map_owner(p->map, z, s);
            if (strcmp(from->name, to->name) == 0 && strcmp(from->addr, to->addr) == 0) continue;
            if (moves != NULL) moves[n] = (struct ring_move){z, s, from, to};
            n++;
        }
    }
    return n;
}

int
ring_plan_create(const struct map *old, const struct ring_change *changes, size_t nchanges,
                 struct ring_plan **out, char *err, size_t errlen)
{
    int changed[MAP_MAX_ZONES] = {0}, rc = 0;
    *out = NULL;
    if (nchanges == 0) {
        plan_err(err, errlen, "no changes to plan");
        return JUNO_EINVAL;
    }
    if (old->version >= MAP_MAX_VERSION) {
        plan_err(err, errlen, "version %" PRIu64 " is the largest a map can have", old->version);
        return JUNO_ERANGE;
    }
    struct ring_plan *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->map = map_clone(old)) == NULL) {
        free(p);
        return JUNO_ENOMEM;
    }
    p->old = old;
    p->map->version++;
    for (size_t k = 0; k < nchanges && rc == 0; k++) {
        rc = plan_apply(p->map, &changes[k], changed, err, errlen);
    }
    if (rc == 0) {
        p->nmoves = plan_moves(p, NULL);
        p->moves = malloc(p->nmoves ? p->nmoves * sizeof(*p->moves) : 1);
        if (p->moves == NULL)
            rc = JUNO_ENOMEM;
        else
            plan_moves(p, p->moves);
    }
    for (uint32_t z = 0; z < old->nzones && rc == 0; z++) {
        struct ring_zone_stats *st = &p->zones[z];
        st->changed = changed[z];
        st->nodes_before = old->zones[z].nnodes;
        st->nodes_after = p->map->zones[z].nnodes;
        st->balance_before = ring_balance(old, z);
        st->balance_after = ring_balance(p->map, z);
        for (size_t k = 0; k < p->nmoves; k++) st->moved += p->moves[k].zone == z;
        if (!st->changed) continue;
        int agree = ring_agreement(p->map, z);
        if (agree < 0) rc = agree;
        st->agree = agree < 0 ? 0 : (uint32_t)agree;
        st->ideal = ring_ideal_moves(old, p->map, z);
        p->changed_zones++;
        p->moved += st->moved;
        p->ideal += st->ideal;
        p->agree += st->agree;
    }
    if (rc != 0) {
        ring_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void
ring_plan_destroy(struct ring_plan *p)
{
    if (p == NULL) return;
    map_destroy(p->map);
    free(p->moves);
    free(p);
}
