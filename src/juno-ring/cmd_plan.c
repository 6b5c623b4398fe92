/* cmd_plan.c: `juno-ring plan`: apply --add/--remove changes (in order) to a
 * map and print the shard moves, the totals against the ideal, the agreement
 * with a from-scratch map, and optionally write the new map (--out). */
#include "jring.h"

#include "cli.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

/* Split each --add ZONE=[NAME@]ADDR / --remove ZONE=NAME value in place. */
static void
parse_changes(struct jring_opts *o)
{
    for (size_t i = 0; i < o->nchanges; i++) {
        struct ring_change *c = &o->changes[i];
        const char *opt = c->op == RING_ADD ? "--add" : "--remove";
        char *spec = o->specs[i], *eq = strchr(spec, '=');
        char whole[MAP_NAME_MAX + MAP_ADDR_MAX + 8];
        snprintf(whole, sizeof(whole), "%s", spec);
        if (eq == NULL || eq == spec || eq[1] == '\0') {
            cli_usage("unable to use %s %s: expected %s", opt, whole,
                      c->op == RING_ADD ? "ZONE=[NAME@]ADDR" : "ZONE=NAME");
        }
        *eq = '\0';
        c->zone = spec;
        if (map_name_valid(c->zone) != 0) {
            cli_usage("unable to use %s %s: \"%s\" is not a valid zone name", opt, whole, c->zone);
        }
        if (c->op == RING_ADD) {
            jring__parse_node(eq + 1, &c->name, &c->addr, opt, whole);
            continue;
        }
        c->name = eq + 1;
        if (map_name_valid(c->name) != 0) {
            cli_usage("unable to use %s %s: \"%s\" is not a valid node name", opt, whole, c->name);
        }
    }
}

static void
print_text(const struct ring_plan *p, const struct jring_opts *o)
{
    const struct map *old = p->old, *m = p->map;
    printf("cluster %s: version %" PRIu64 " -> %" PRIu64 "\n", m->cluster, old->version,
           m->version);
    for (size_t i = 0; i < o->nchanges; i++) {
        const struct ring_change *c = &o->changes[i];
        if (c->op == RING_ADD)
            printf("change: add %s (%s) to zone %s\n", c->name, c->addr, c->zone);
        else
            printf("change: remove %s from zone %s\n", c->name, c->zone);
    }
    for (size_t k = 0; k < p->nmoves; k++) {
        const struct ring_move *mv = &p->moves[k];
        printf("move %s %" PRIu32 ": %s -> %s\n", m->zones[mv->zone].name, mv->shard,
               mv->from->name, mv->to->name);
    }
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct ring_zone_stats *st = &p->zones[z];
        if (!st->changed) continue;
        printf("zone %s: %" PRIu32 " -> %" PRIu32 " nodes, moved %" PRIu32 " of %" PRIu32
               " shards (%.2f%%), ideal %" PRIu32 " (%.2f%%), agreement %.2f%%, balance %" PRIu32
               " -> %" PRIu32 "\n",
               m->zones[z].name, st->nodes_before, st->nodes_after, st->moved, m->shards,
               jring__pct(st->moved, m->shards), st->ideal, jring__pct(st->ideal, m->shards),
               jring__pct(st->agree, m->shards), st->balance_before, st->balance_after);
    }
    uint64_t total = (uint64_t)m->shards * p->changed_zones;
    printf("total: moved %" PRIu64 " shards (%.2f%%), ideal %" PRIu64 " (%.2f%%), agreement "
           "%.2f%% with a from-scratch map\n",
           p->moved, jring__pct(p->moved, total), p->ideal, jring__pct(p->ideal, total),
           jring__pct(p->agree, total));
}

static void
json_kv(const char *key, const char *val, const char *sep)
{
    printf("\"%s\": ", key);
    jring__json_str(stdout, val, strlen(val));
    fputs(sep, stdout);
}

static void
print_json(const struct ring_plan *p)
{
    const struct map *m = p->map;
    uint64_t total = (uint64_t)m->shards * p->changed_zones;
    printf("{\n  ");
    json_kv("cluster", m->cluster, ",\n");
    printf("  \"from_version\": %" PRIu64 ",\n  \"version\": %" PRIu64 ",\n  \"moves\": [",
           p->old->version, m->version);
    for (size_t k = 0; k < p->nmoves; k++) {
        const struct ring_move *mv = &p->moves[k];
        printf("%s\n    {", k ? "," : "");
        json_kv("zone", m->zones[mv->zone].name, ", ");
        printf("\"shard\": %" PRIu32 ", ", mv->shard);
        json_kv("from", mv->from->name, ", ");
        json_kv("to", mv->to->name, ", ");
        json_kv("from_addr", mv->from->addr, ", ");
        json_kv("to_addr", mv->to->addr, "}");
    }
    printf("%s],\n  \"summary\": {\"moved\": %" PRIu64 ", \"moved_fraction\": %.4f, "
           "\"ideal\": %" PRIu64 ", \"ideal_fraction\": %.4f, \"agreement\": %.4f, "
           "\"changed_zones\": %" PRIu32 ", \"zones\": [",
           p->nmoves ? "\n  " : "", p->moved, jring__pct(p->moved, total) / 100, p->ideal,
           jring__pct(p->ideal, total) / 100, jring__pct(p->agree, total) / 100, p->changed_zones);
    int first = 1;
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct ring_zone_stats *st = &p->zones[z];
        if (!st->changed) continue;
        printf("%s\n    {", first ? "" : ",");
        first = 0;
        json_kv("zone", m->zones[z].name, ", ");
        printf("\"nodes_before\": %" PRIu32 ", \"nodes_after\": %" PRIu32 ", \"moved\": %" PRIu32
               ", \"ideal\": %" PRIu32 ", \"agreement\": %.4f, \"balance_before\": %" PRIu32
               ", \"balance_after\": %" PRIu32 "}",
               st->nodes_before, st->nodes_after, st->moved, st->ideal,
               jring__pct(st->agree, m->shards) / 100, st->balance_before, st->balance_after);
    }
    printf("\n  ]},\n  \"map\": ");
    size_t len;
    char *json = map_to_json(m, &len);
    if (json == NULL) cli_die(EX_SOFTWARE, "unable to print plan: out of memory");
    for (size_t i = 0; i + 1 < len; i++) { /* indent the map one level; drop its last newline */
        putchar(json[i]);
        if (json[i] == '\n') fputs("  ", stdout);
    }
    free(json);
    printf("\n}\n");
}

int
jring__cmd_plan(struct jring_opts *o)
{
    if (o->nargs > 1) cli_usage("unable to run plan: unexpected argument \"%s\"", o->args[1]);
    if (o->nchanges == 0) cli_usage("unable to run plan: at least one --add or --remove is needed");
    parse_changes(o);
    struct map *old = jring__read_map(o->nargs > 0 ? o->args[0] : NULL, "read");
    struct ring_plan *p = NULL;
    char err[512];
    int rc = ring_plan_create(old, o->changes, o->nchanges, &p, err, sizeof(err));
    if (rc == JUNO_ENOMEM) cli_die(EX_SOFTWARE, "unable to plan change: out of memory");
    if (rc != 0) cli_die(EX_DATAERR, "unable to plan change: %s", err);
    if (o->out != NULL) jring__write_map(p->map, o->out);
    if (o->json)
        print_json(p);
    else
        print_text(p, o);
    ring_plan_destroy(p);
    map_destroy(old);
    return 0;
}
