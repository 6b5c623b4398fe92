/* ring.h: shard placement by consistent hashing with bounded loads.
 *
 * Within one zone, each node has RING_VNODES points on a 64-bit ring and each
 * shard has one point; a shard belongs to the first node clockwise from its
 * point that still has room under the load bound. With n nodes and S shards,
 * q = S / n and r = S % n: exactly r nodes hold q+1 shards and the rest q, so
 * a zone's balance (max - min) is at most 1. Adding a node moves exactly the
 * shards the new balance requires, all to the new node; removing a node moves
 * exactly its shards. Placement depends only on the zone's node names and S,
 * never on input order. The exact bytes hashed and the proofs: docs/ring.md.
 */
#ifndef JUNO_RING_H
#define JUNO_RING_H

#include "map.h"

#include <stddef.h>
#include <stdint.h>

#define RING_VNODES     128 /* points per node */
#define RING_VNODE_SEED 0   /* XXH64 seed of "<node name>#<i>" */
#define RING_SHARD_SEED 0   /* XXH64 seed of the 4-byte big-endian shard id */

/* The ring point of node name's i-th virtual node: XXH64 of the name's bytes,
 * '#', and i in decimal (no NUL), seed RING_VNODE_SEED. */
uint64_t ring_vnode_point(const char *name, uint32_t i);

/* The ring point of shard: XXH64 of the shard id as 4 big-endian bytes, seed
 * RING_SHARD_SEED. */
uint64_t ring_shard_point(uint32_t shard);

/* Place every shard of zone z of m from scratch into owners (m->shards
 * entries, the caller's array); m is not changed. Returns 0, JUNO_EINVAL (no
 * such zone, or no nodes) or JUNO_ENOMEM. */
int ring_place(const struct map *m, uint32_t z, uint32_t *owners);

/* Place every zone of m from scratch (the owners of a new map). Returns 0,
 * JUNO_EINVAL (a zone without nodes) or JUNO_ENOMEM. */
int ring_init(struct map *m);

/* Add node name/addr (copied) to zone z and move to it exactly the shards the
 * new balance requires: floor(S/(n+1)) of them, each from a node above its
 * new target. Returns the new node's index, or a map_node_add error
 * (JUNO_EINVAL, JUNO_EEXIST, JUNO_ERANGE, with a message in err) or
 * JUNO_ENOMEM; on error m is unchanged. */
int ring_add(struct map *m, uint32_t z, const char *name, const char *addr, char *err,
             size_t errlen);

/* Remove node i from zone z, moving exactly its shards to the other nodes.
 * Returns 0, JUNO_EINVAL (no such node, or the zone's last node) or
 * JUNO_ENOMEM; on error m is unchanged. */
int ring_remove(struct map *m, uint32_t z, uint32_t i);

/* One membership change; strings are borrowed. addr is used by RING_ADD only. */
enum ring_op { RING_ADD, RING_REMOVE };
struct ring_change {
    enum ring_op op;
    const char *zone;
    const char *name;
    const char *addr;
};

/* One shard whose owner changes. */
struct ring_move {
    uint32_t zone; /* index in both maps (plans never add zones) */
    uint32_t shard;
    const struct map_node *from; /* borrowed from the old map */
    const struct map_node *to;   /* borrowed from the plan's new map */
};

struct ring_zone_stats {
    int changed; /* some change named this zone */
    uint32_t nodes_before, nodes_after;
    uint32_t balance_before, balance_after; /* max - min shards per node */
    uint32_t moved;                         /* shards whose owner changed */
    uint32_t ideal;                         /* fewest moves any balanced result needs */
    uint32_t agree;                         /* shards owned as a from-scratch map would */
};

struct ring_plan {
    const struct map *old;   /* borrowed: must outlive the plan */
    struct map *map;         /* owned: the result, version + 1 */
    struct ring_move *moves; /* owned: sorted by zone, then shard */
    size_t nmoves;
    struct ring_zone_stats zones[MAP_MAX_ZONES];
    uint32_t changed_zones;
    uint64_t moved, ideal, agree; /* sums over the changed zones */
};

/* Apply changes in order to a copy of old and list the moves. The result has
 * version old->version + 1. On success *out is owned by the caller
 * (ring_plan_destroy). Returns 0; JUNO_ENOTFOUND (unknown zone or node),
 * JUNO_EEXIST (duplicate name or address), JUNO_EINVAL (bad name or address,
 * removing a zone's last node, no changes), JUNO_ERANGE (zone full, version
 * at its maximum) with a message naming the change in err; or JUNO_ENOMEM. */
int ring_plan_create(const struct map *old, const struct ring_change *changes, size_t nchanges,
                     struct ring_plan **out, char *err, size_t errlen);

void ring_plan_destroy(struct ring_plan *p);

/* The fewest shards of zone z that must change owner to go from old to any
 * balanced placement over the nodes of zone z in new (matched by name), i.e.
 * S minus the most shards that can stay. Both maps need the zone at index z. */
uint32_t ring_ideal_moves(const struct map *old, const struct map *new, uint32_t z);

/* How many shards of zone z in m have the owner a from-scratch placement of
 * the same nodes would give (ring_place). Returns the count, or a negative
 * JUNO_E* code. */
int ring_agreement(const struct map *m, uint32_t z);

/* max - min shards per node in zone z. */
uint32_t ring_balance(const struct map *m, uint32_t z);

#endif
