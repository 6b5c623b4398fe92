/* cmd_init.c: `juno-ring init`: a new map (version 1) from zones and nodes
 * given on the command line, placed from scratch by lib/ring. */
#include "jring.h"

#include "cli.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

/* Exit for an error from map_zone_add / map_node_add: a duplicate is bad data
 * (65); anything else was caught as a usage error before. */
static void
add_failed(int rc, const char *err)
{
    if (rc == JUNO_ENOMEM) cli_die(EX_SOFTWARE, "unable to build map: out of memory");
    if (rc == JUNO_EEXIST) cli_die(EX_DATAERR, "unable to build map: %s", err);
    cli_usage("unable to build map: %s", err);
}

/* Add the zone described by spec "ZONE=NODE[,NODE...]" to m. */
static void
add_zone(struct map *m, const char *spec)
{
    char err[512];
    char *copy = strdup(spec);
    if (copy == NULL) cli_die(EX_SOFTWARE, "unable to build map: out of memory");
    char *eq = strchr(copy, '=');
    if (eq == NULL) cli_usage("unable to use --zone %s: expected ZONE=NODE[,NODE...]", spec);
    *eq = '\0';
    if (map_name_valid(copy) != 0) {
        cli_usage("unable to use --zone %s: \"%s\" is not a valid zone name (1-%d printable "
                  "characters, no spaces)",
                  spec, copy, MAP_NAME_MAX);
    }
    if (eq[1] == '\0') cli_usage("unable to use --zone %s: the zone has no nodes", spec);
    int z = map_zone_add(m, copy, err, sizeof(err));
    if (z < 0) add_failed(z, err);
    for (char *tok = eq + 1, *next; tok != NULL; tok = next) {
        next = strchr(tok, ',');
        if (next != NULL) *next++ = '\0';
        if (*tok == '\0') cli_usage("unable to use --zone %s: empty node in the list", spec);
        const char *name, *addr;
        jring__parse_node(tok, &name, &addr, "--zone", spec);
        int rc = map_node_add(m, (uint32_t)z, name, addr, err, sizeof(err));
        if (rc < 0) add_failed(rc, err);
    }
    free(copy);
}

int
jring__cmd_init(struct jring_opts *o)
{
    if (o->nargs > 0) cli_usage("unable to run init: unexpected argument \"%s\"", o->args[0]);
    if (o->cluster == NULL) cli_usage("unable to run init: --cluster is required");
    if (map_name_valid(o->cluster) != 0) {
        cli_usage("unable to use --cluster %s: not a valid name (1-%d printable characters, no "
                  "spaces)",
                  o->cluster, MAP_NAME_MAX);
    }
    if (o->nzones == 0) cli_usage("unable to run init: at least one --zone is required");
    struct map *m = map_create(o->cluster, o->shards, 1);
    if (m == NULL) cli_die(EX_SOFTWARE, "unable to build map: out of memory");
    for (size_t i = 0; i < o->nzones; i++) add_zone(m, o->zones[i]);
    int rc = ring_init(m);
    if (rc != 0) cli_die(EX_SOFTWARE, "unable to build map: %s", error_str(rc));
    jring__write_map(m, o->out != NULL ? o->out : "-");
    map_destroy(m);
    return 0;
}
