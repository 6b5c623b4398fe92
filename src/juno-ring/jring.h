/* jring.h: what the files of juno-ring share: the parsed command line, the
 * commands, and helpers for reading maps and writing output.
 *
 * Exit codes: 64 when the command line cannot be understood (unknown option,
 * missing or malformed argument, value out of range); 65 when it can, but the
 * data is wrong (an invalid map, an unknown zone or node, a duplicate name or
 * address, removing a zone's last node); 74 when a file cannot be read or
 * written; 70 when memory runs out.
 */
#ifndef JRING_H
#define JRING_H

#include "etcdopt.h"
#include "map.h"
#include "ring.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JRING_MAX_CHANGES 1024 /* --add/--remove per plan */
#define JRING_MAX_KEY     256  /* bytes of a lookup key */

/* Option bits, to check that each command gets only options it understands. */
enum {
    OPT_CLUSTER = 1 << 0,
    OPT_SHARDS = 1 << 1,
    OPT_ZONE = 1 << 2,
    OPT_ADD = 1 << 3,
    OPT_REMOVE = 1 << 4,
    OPT_OUT = 1 << 5,
    OPT_JSON = 1 << 6,
    OPT_HEX = 1 << 7,
    OPT_ETCD = 1 << 8,
    OPT_ETCD_SEC = 1 << 9, /* any of --etcd-ca, --etcd-cert, ... (etcdopt.h) */
};

struct jring_opts {
    unsigned seen;       /* OPT_* bits given */
    const char *cluster; /* borrowed from argv */
    uint32_t shards;
    const char *zones[MAP_MAX_ZONES + 1]; /* borrowed: --zone values, in order */
    size_t nzones;
    char *specs[JRING_MAX_CHANGES]; /* owned: copies of --add/--remove values, split in place */
    struct ring_change changes[JRING_MAX_CHANGES]; /* strings point into specs */
    size_t nchanges;
    const char *out; /* borrowed: --out FILE, or NULL */
    int json, hex;
    const char *etcd;        /* borrowed: --etcd URL[,URL...], or NULL (JUNO_ETCD) */
    struct etcdopt etcd_sec; /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    char **args;             /* borrowed: positional arguments after the command */
    int nargs;
};

/* The commands; each returns the process exit code. */
int jring__cmd_init(struct jring_opts *o);
int jring__cmd_show(struct jring_opts *o);
int jring__cmd_lookup(struct jring_opts *o);
int jring__cmd_check(struct jring_opts *o);
int jring__cmd_plan(struct jring_opts *o);
int jring__cmd_publish(struct jring_opts *o);
int jring__cmd_fetch(struct jring_opts *o);

/* Read and validate the map at path (NULL or "-": stdin). On any problem,
 * print every error as "unable to VERB map PATH: ..." and exit (65 for bad
 * data, 74 when the file cannot be read). Returns the map, owned by the caller. */
struct map *jring__read_map(const char *path, const char *verb);

/* The display name of a map path: "stdin" for NULL or "-". */
const char *jring__path_name(const char *path);

/* Write the canonical JSON of m to path ("-" = stdout; files atomically), or
 * exit 74 / 70 with a message. */
void jring__write_map(const struct map *m, const char *path);

/* s as a JSON string literal on f (quotes included; control and non-ASCII
 * bytes as \u00XX). */
void jring__json_str(FILE *f, const char *s, size_t len);

/* Split a node spec "NAME@ADDR" or "ADDR" in place (at the last '@'; the name
 * defaults to the address). An invalid name or address is a usage error
 * naming option opt and its value whole. */
void jring__parse_node(char *spec, const char **name, const char **addr, const char *opt,
                       const char *whole);

/* 100 * part / whole, 0 when whole is 0. */
double jring__pct(uint64_t part, uint64_t whole);

#endif
