/* map.h: the shard map: which node of each zone owns each shard.
 *
 * A map is a JSON document; every program reads it through this module and only
 * juno-ring computes one (lib/ring.h). The schema:
 *
 *   {"cluster": "NAME", "version": 1, "shards": 1024,
 *    "zones": [{"name": "z0",
 *               "nodes": [{"name": "s1", "addr": "127.0.0.1:9001"}, ...],
 *               "owners": [0, 2, 1, ...]}, ...]}
 *
 * owners[shard] is an index into that zone's nodes. Other fields are ignored
 * (and not preserved). Limits: 1..MAP_MAX_ZONES zones, 1..MAP_MAX_SHARDS shards,
 * version 1..MAP_MAX_VERSION, 1..MAP_MAX_NODES nodes per zone; names are
 * 1..MAP_NAME_MAX printable ASCII characters without spaces; zone names are
 * unique, node names unique within their zone, and node addresses (HOST:PORT)
 * unique across the whole map.
 *
 * Canonical form: a struct map always keeps its zones sorted by name and each
 * zone's nodes sorted by name (bytewise), owners indexing that order. map_parse
 * establishes it, the functions below keep it, so zone and node indexes are
 * stable for a given membership and map_to_json gives byte-identical output
 * for the same map however its source was ordered.
 */
#ifndef JUNO_MAP_H
#define JUNO_MAP_H

#include <stddef.h>
#include <stdint.h>

#define MAP_MAX_ZONES   5
#define MAP_MAX_SHARDS  65536
#define MAP_MAX_NODES   4096
#define MAP_NAME_MAX    64
#define MAP_ADDR_MAX    263                 /* "[" 255-byte host "]:" 5-digit port */
#define MAP_MAX_VERSION 9007199254740991ULL /* 2^53 - 1: exact in every JSON reader */
#define MAP_MAX_JSON    (64u * 1024 * 1024) /* largest map document read */

struct map_node {
    char name[MAP_NAME_MAX + 1];
    char addr[MAP_ADDR_MAX + 1];
};

struct map_zone {
    char name[MAP_NAME_MAX + 1];
    uint32_t nnodes;
    struct map_node *nodes; /* owned: nnodes entries, sorted by name */
    uint32_t *owners;       /* owned: map.shards entries, each < nnodes */
};

struct map {
    char cluster[MAP_NAME_MAX + 1];
    uint64_t version;
    uint32_t shards;
    uint32_t nzones;
    struct map_zone zones[MAP_MAX_ZONES]; /* nzones used, sorted by name */
};

/* Called once per problem found, with a message naming the place, e.g.
 * `zone "z0": owners[17] = 9: no such node (zone has 4 nodes)`. msg is borrowed
 * for the call only. */
typedef void map_report_fn(void *arg, const char *msg);

/* Parse and validate a JSON map (json need not be NUL-terminated). Every
 * problem found is passed to report (may be NULL); validation goes on after an
 * error so that all of them are reported. On success *out (may be NULL to only
 * check) receives a canonical map owned by the caller (map_destroy).
 * Returns 0, JUNO_EBADMAP (at least one report), JUNO_EMSGSIZE (over
 * MAP_MAX_JSON, also reported) or JUNO_ENOMEM. */
int map_parse_report(const char *json, size_t len, struct map **out, map_report_fn *report,
                     void *arg);

/* map_parse_report keeping only the first problem, in err (errlen bytes, may be
 * 0). Same returns. */
int map_parse(const char *json, size_t len, struct map **out, char *err, size_t errlen);

/* The canonical JSON text of m: fixed key order, two-space indentation, one
 * node per line, each zone's owners on one line, a final newline. The same
 * map always gives the same bytes. Returns a NUL-terminated string owned by the
 * caller (free), its length in *len if len is not NULL; NULL when out of memory. */
char *map_to_json(const struct map *m, size_t *len);

/* A new map with no zones (cluster is copied; shards 1..MAP_MAX_SHARDS,
 * version 1..MAP_MAX_VERSION, name valid per map_name_valid). Owned by the
 * caller. NULL on an invalid argument or out of memory. */
struct map *map_create(const char *cluster, uint32_t shards, uint64_t version);

/* A deep copy of m, owned by the caller; NULL when out of memory. */
struct map *map_clone(const struct map *m);

/* Free m and everything it owns. NULL is allowed. */
void map_destroy(struct map *m);

/* Add an empty zone, keeping zones sorted. Returns the new zone's index,
 * JUNO_EINVAL (bad name), JUNO_EEXIST (name taken), JUNO_ERANGE (already
 * MAP_MAX_ZONES) or JUNO_ENOMEM; err (may be NULL) gets a message. */
int map_zone_add(struct map *m, const char *name, char *err, size_t errlen);

/* Add a node to zone z at its sorted position; owners keep pointing at the
 * same nodes (indexes at or after the new one shift up). A zone that had no
 * nodes gets owners all 0 (the new node). name and addr are copied.
 * Returns the new node's index, JUNO_EINVAL (bad name or address),
 * JUNO_EEXIST (name taken in the zone, or address anywhere in the map),
 * JUNO_ERANGE (zone full) or JUNO_ENOMEM; err (may be NULL) gets a message. */
int map_node_add(struct map *m, uint32_t z, const char *name, const char *addr, char *err,
                 size_t errlen);

/* Delete node i of zone z. No shard may still be owned by it, and it may not be
 * the zone's last node. Indexes after i shift down. Returns 0 or JUNO_EINVAL. */
int map_node_delete(struct map *m, uint32_t z, uint32_t i);

/* The index of the zone named name, or JUNO_ENOTFOUND. */
int map_zone_find(const struct map *m, const char *name);

/* The index of the node named name in zone z, or JUNO_ENOTFOUND. */
int map_node_find(const struct map *m, uint32_t z, const char *name);

/* 0 when name is 1..MAP_NAME_MAX printable ASCII characters without spaces,
 * else JUNO_EINVAL. */
int map_name_valid(const char *name);

/* 0 when addr is a valid HOST:PORT of at most MAP_ADDR_MAX bytes, else JUNO_EINVAL. */
int map_addr_valid(const char *addr);

/* The shard of a key: XXH64(key, seed 0) mod m->shards (hash_shard). */
uint32_t map_shard_of(const struct map *m, const void *key, size_t len);

/* The node of zone z that owns shard (borrowed from m), or NULL when z or
 * shard is out of range. */
const struct map_node *map_owner(const struct map *m, uint32_t z, uint32_t shard);

/* Shards per node of zone z into count (nnodes entries, caller's array). */
void map_zone_loads(const struct map *m, uint32_t z, uint32_t *count);

#endif
