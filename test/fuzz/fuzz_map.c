/* fuzz_map.c: libFuzzer target for the shard-map JSON reader (lib/map.c):
 * maps come from files, etcd and the proxies' cache files.
 *
 * The input is a JSON document for map_parse_report. A refusal must come with
 * at least one report (and map_parse must refuse it too, with a message). A
 * map that parses must:
 *   - hold the invariants map.h promises (limits, valid names and addresses,
 *     zones and nodes strictly sorted by name, owners in range);
 *   - be rebuilt, zone by zone and node by node, through the construction
 *     API, whose checks (names, HOST:PORT, duplicate names and addresses)
 *     must accept every node the parser accepted, into the same JSON;
 *   - serialize with map_to_json and parse back to the same JSON, byte for
 *     byte, and map_clone must serialize the same too;
 *   - give an owner for every shard and loads that add up to the shard count.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_map/ (maps from juno-ring init, a hand-written
 * unsorted one with escapes and extra fields, a bad one); test/fuzz/fuzz_map.dict.
 */
#include "error.h"
#include "map.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
count_report(void *arg, const char *msg)
{
    if (msg == NULL || msg[0] == '\0') abort();
    (*(int *)arg)++;
}

static void
check_invariants(const struct map *m)
{
    if (map_name_valid(m->cluster) != 0) abort();
    if (m->version < 1 || m->version > MAP_MAX_VERSION) abort();
    if (m->shards < 1 || m->shards > MAP_MAX_SHARDS) abort();
    if (m->nzones < 1 || m->nzones > MAP_MAX_ZONES) abort();
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_zone *zone = &m->zones[z];
        if (map_name_valid(zone->name) != 0) abort();
        if (z > 0 && strcmp(m->zones[z - 1].name, zone->name) >= 0) abort();
        if (zone->nnodes < 1 || zone->nnodes > MAP_MAX_NODES) abort();
        for (uint32_t i = 0; i < zone->nnodes; i++) {
            if (map_name_valid(zone->nodes[i].name) != 0) abort();
            if (map_addr_valid(zone->nodes[i].addr) != 0) abort();
            if (i > 0 && strcmp(zone->nodes[i - 1].name, zone->nodes[i].name) >= 0) abort();
            if (map_node_find(m, z, zone->nodes[i].name) != (int)i) abort();
        }
        if (map_zone_find(m, zone->name) != (int)z) abort();
        uint32_t *count = calloc(zone->nnodes, sizeof(*count));
        if (count == NULL) abort();
        map_zone_loads(m, z, count);
        uint64_t total = 0;
        for (uint32_t i = 0; i < zone->nnodes; i++) total += count[i];
        free(count);
        if (total != m->shards) abort();
        for (uint32_t s = 0; s < m->shards; s++) {
            if (zone->owners[s] >= zone->nnodes) abort();
            if (map_owner(m, z, s) != &zone->nodes[zone->owners[s]]) abort();
        }
    }
    if (map_owner(m, m->nzones, 0) != NULL || map_owner(m, 0, m->shards) != NULL) abort();
}

/* The same map through map_create / map_zone_add / map_node_add. */
static struct map *
rebuild(const struct map *m)
{
    struct map *r = map_create(m->cluster, m->shards, m->version);
    if (r == NULL) abort();
    for (uint32_t z = m->nzones; z-- > 0;) { /* backwards: the adders must sort */
        if (map_zone_add(r, m->zones[z].name, NULL, 0) < 0) abort();
    }
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_zone *zone = &m->zones[z];
        for (uint32_t i = zone->nnodes; i-- > 0;) {
            char err[256];
            if (map_node_add(r, z, zone->nodes[i].name, zone->nodes[i].addr, err, sizeof(err)) < 0)
                abort(); /* the parser accepted what the adder refuses */
        }
        memcpy(r->zones[z].owners, zone->owners, (size_t)m->shards * sizeof(*zone->owners));
    }
    return r;
}

static void
same_json(const struct map *a, const char *json, size_t len)
{
    size_t n = 0;
    char *j = map_to_json(a, &n);
    if (j == NULL || n != len || strlen(j) != n || memcmp(j, json, n) != 0) abort();
    free(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    struct map *m = NULL;
    int reports = 0;
    int rc = map_parse_report(json, size, &m, count_report, &reports);
    char err[512];
    int rc2 = map_parse(json, size, NULL, err, sizeof(err));
    if (rc2 != rc) abort();
    if (rc != 0) {
        if (m != NULL || reports == 0 || err[0] == '\0') abort();
        if (rc != JUNO_EBADMAP && rc != JUNO_EMSGSIZE && rc != JUNO_ENOMEM) abort();
        return 0;
    }
    if (m == NULL || reports != 0) abort();
    check_invariants(m);

    size_t len = 0;
    char *text = map_to_json(m, &len);
    if (text == NULL || strlen(text) != len) abort();
    struct map *back = NULL;
    if (map_parse(text, len, &back, err, sizeof(err)) != 0) abort();
    same_json(back, text, len);

    struct map *c = map_clone(m);
    if (c == NULL) abort();
    same_json(c, text, len);
    struct map *r = rebuild(m);
    check_invariants(r);
    same_json(r, text, len);

    map_destroy(r);
    map_destroy(c);
    map_destroy(back);
    free(text);
    map_destroy(m);
    return 0;
}
