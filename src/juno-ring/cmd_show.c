/* cmd_show.c: the read-only commands: `show` (load and share per node),
 * `lookup` (a key's shard and owners) and `check` (validate a map). */
#include "jring.h"

#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The map path from the positional arguments: none or one. */
static const char *
map_arg(const struct jring_opts *o, const char *cmd, int max)
{
    if (o->nargs > max)
        cli_usage("unable to run %s: unexpected argument \"%s\"", cmd, o->args[max]);
    return o->nargs > 0 ? o->args[0] : NULL;
}

/* Loads of zone z into a new array (owned by the caller), min and max. */
static uint32_t *
zone_loads(const struct map *m, uint32_t z, uint32_t *min, uint32_t *max)
{
    uint32_t *load = calloc(m->zones[z].nnodes, sizeof(*load));
    if (load == NULL) cli_die(EX_SOFTWARE, "unable to show map: out of memory");
    map_zone_loads(m, z, load);
    *min = UINT32_MAX, *max = 0;
    for (uint32_t i = 0; i < m->zones[z].nnodes; i++) {
        if (load[i] < *min) *min = load[i];
        if (load[i] > *max) *max = load[i];
    }
    return load;
}

static void
show_text(const struct map *m)
{
    printf("cluster %s: version %" PRIu64 ", %" PRIu32 " shards, %" PRIu32 " zone%s\n", m->cluster,
           m->version, m->shards, m->nzones, m->nzones == 1 ? "" : "s");
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_zone *zone = &m->zones[z];
        uint32_t min, max;
        uint32_t *load = zone_loads(m, z, &min, &max);
        int wn = 4, wa = 4;
        for (uint32_t i = 0; i < zone->nnodes; i++) {
            int ln = (int)strlen(zone->nodes[i].name), la = (int)strlen(zone->nodes[i].addr);
            wn = ln > wn ? ln : wn;
            wa = la > wa ? la : wa;
        }
        printf("zone %s: %" PRIu32 " node%s, balance %" PRIu32 " (min %" PRIu32 ", max %" PRIu32
               ")\n",
               zone->name, zone->nnodes, zone->nnodes == 1 ? "" : "s", max - min, min, max);
        printf("  %-*s  %-*s  %6s  %7s\n", wn, "NODE", wa, "ADDR", "SHARDS", "SHARE");
        for (uint32_t i = 0; i < zone->nnodes; i++) {
            printf("  %-*s  %-*s  %6" PRIu32 "  %6.2f%%\n", wn, zone->nodes[i].name, wa,
                   zone->nodes[i].addr, load[i], jring__pct(load[i], m->shards));
        }
        free(load);
    }
}

static void
show_json(const struct map *m)
{
    printf("{\n  \"cluster\": ");
    jring__json_str(stdout, m->cluster, strlen(m->cluster));
    printf(",\n  \"version\": %" PRIu64 ",\n  \"shards\": %" PRIu32 ",\n  \"zones\": [\n",
           m->version, m->shards);
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_zone *zone = &m->zones[z];
        uint32_t min, max;
        uint32_t *load = zone_loads(m, z, &min, &max);
        printf("    {\"name\": ");
        jring__json_str(stdout, zone->name, strlen(zone->name));
        printf(", \"balance\": %" PRIu32 ", \"min\": %" PRIu32 ", \"max\": %" PRIu32
               ", \"nodes\": [\n",
               max - min, min, max);
        for (uint32_t i = 0; i < zone->nnodes; i++) {
            printf("      {\"name\": ");
            jring__json_str(stdout, zone->nodes[i].name, strlen(zone->nodes[i].name));
            printf(", \"addr\": ");
            jring__json_str(stdout, zone->nodes[i].addr, strlen(zone->nodes[i].addr));
            printf(", \"shards\": %" PRIu32 ", \"share\": %.2f}%s\n", load[i],
                   jring__pct(load[i], m->shards), i + 1 < zone->nnodes ? "," : "");
        }
        printf("    ]}%s\n", z + 1 < m->nzones ? "," : "");
        free(load);
    }
    printf("  ]\n}\n");
}

int
jring__cmd_show(struct jring_opts *o)
{
    struct map *m = jring__read_map(map_arg(o, "show", 1), "read");
    if (o->json)
        show_json(m);
    else
        show_text(m);
    map_destroy(m);
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The key's bytes into key (JRING_MAX_KEY); returns the length. */
static size_t
key_bytes(const struct jring_opts *o, const char *arg, unsigned char *key)
{
    size_t n = strlen(arg), len = o->hex ? n / 2 : n;
    if (o->hex && n % 2 != 0) cli_usage("unable to use key %s: odd number of hex digits", arg);
    if (len == 0 || len > JRING_MAX_KEY) {
        cli_usage("unable to use key: %zu bytes, expected 1..%d", len, JRING_MAX_KEY);
    }
    for (size_t i = 0; i < len; i++) {
        if (!o->hex) {
            key[i] = (unsigned char)arg[i];
            continue;
        }
        int hi = hexval(arg[2 * i]), lo = hexval(arg[2 * i + 1]);
        if (hi < 0 || lo < 0) cli_usage("unable to use key %s: not hex", arg);
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return len;
}

static int
printable(const unsigned char *key, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (key[i] < 0x20 || key[i] >= 0x7f) return 0;
    }
    return 1;
}

int
jring__cmd_lookup(struct jring_opts *o)
{
    unsigned char key[JRING_MAX_KEY];
    char hex[2 * JRING_MAX_KEY + 1];
    if (o->nargs < 1 || o->nargs > 2) cli_usage("unable to run lookup: expected [MAP] KEY");
    size_t len = key_bytes(o, o->args[o->nargs - 1], key);
    for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    hex[2 * len] = '\0';
    struct map *m = jring__read_map(o->nargs == 2 ? o->args[0] : NULL, "read");
    uint32_t shard = map_shard_of(m, key, len);
    int text = printable(key, len);
    if (o->json) {
        printf("{\"key\": ");
        if (text)
            jring__json_str(stdout, (const char *)key, len);
        else
            printf("null");
        printf(", \"key_hex\": \"%s\", \"shard\": %" PRIu32 ", \"shards\": %" PRIu32
               ", \"owners\": [",
               hex, shard, m->shards);
    } else if (text) {
        printf("key \"%.*s\": shard %" PRIu32 " of %" PRIu32 "\n", (int)len, key, shard, m->shards);
    } else {
        printf("key 0x%s: shard %" PRIu32 " of %" PRIu32 "\n", hex, shard, m->shards);
    }
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_node *n = map_owner(m, z, shard);
        if (!o->json) {
            printf("zone %s: %s %s\n", m->zones[z].name, n->name, n->addr);
            continue;
        }
        printf("%s{\"zone\": ", z ? ", " : "");
        jring__json_str(stdout, m->zones[z].name, strlen(m->zones[z].name));
        printf(", \"name\": ");
        jring__json_str(stdout, n->name, strlen(n->name));
        printf(", \"addr\": ");
        jring__json_str(stdout, n->addr, strlen(n->addr));
        printf("}");
    }
    if (o->json) printf("]}\n");
    map_destroy(m);
    return 0;
}

int
jring__cmd_check(struct jring_opts *o)
{
    struct map *m = jring__read_map(map_arg(o, "check", 1), "check");
    printf("ok: cluster %s version %" PRIu64 ": %" PRIu32 " zone%s, %" PRIu32 " shards\n",
           m->cluster, m->version, m->nzones, m->nzones == 1 ? "" : "s", m->shards);
    map_destroy(m);
    return 0;
}
