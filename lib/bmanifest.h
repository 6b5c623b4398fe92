/* bmanifest.h: the manifest of a juno backup (juno-backup, docs/operations.md
 * "Backups"): DIR/manifest.json describes DIR/map.json (the shard map at
 * the backup) and one RocksDB checkpoint per store, DIR/stores/<dir>/.
 *
 *   {"format":1,"cluster":"demo","map_version":3,"shards":1024,
 *    "started_ms":..., "finished_ms":...,
 *    "stores":[{"zone":"z0","node":"s1","addr":"127.0.0.1:9001","dir":"z0.s1",
 *               "owned":[0,5,...], "records":R, "bytes":B,
 *               "files":[{"name":"000009.sst","size":8489},...],
 *               "shards":[{"shard":0,"records":22,"tombstones":0,"bytes":1578,
 *                          "hash":"a71b5d0490246f77"},...]}]}
 *
 * "owned": the shards the map gives the store (those a restore reads from
 * it); "shards": every shard present in its checkpoint, with figures over
 * every record, expired ones included (lib/ckpt.h). The reader checks every
 * field: names as in a map, a dir and file names of [A-Za-z0-9._-] only (not
 * "." or ".."), shards in range and in increasing order, 16 hex digits per
 * hash, at most BM_MAX_STORES stores.
 */
#ifndef JUNO_BMANIFEST_H
#define JUNO_BMANIFEST_H

#include "map.h"

#include <stddef.h>
#include <stdint.h>

#define BM_FORMAT     1
#define BM_MAX_STORES 4096
#define BM_MAX_FILES  100000
#define BM_NAME_MAX   255 /* a dir or a file name */
#define BM_MAX_JSON   (256u << 20)

struct bm_file {
    char name[BM_NAME_MAX + 1];
    uint64_t size;
};

struct bm_shard {
    uint32_t shard;
    uint64_t records, tombstones, bytes, hash;
};

struct bm_store {
    char zone[MAP_NAME_MAX + 1], node[MAP_NAME_MAX + 1], addr[MAP_ADDR_MAX + 1];
    char dir[BM_NAME_MAX + 1];
    uint32_t *owned; /* owned: nowned shard numbers, increasing */
    size_t nowned;
    uint64_t records, bytes;
    struct bm_file *files; /* owned */
    size_t nfiles;
    struct bm_shard *shards; /* owned: increasing shard numbers */
    size_t nshards;
};

struct bmanifest {
    uint32_t format;
    char cluster[MAP_NAME_MAX + 1];
    uint64_t map_version;
    uint32_t shards;
    uint64_t started_ms, finished_ms; /* unix ms */
    struct bm_store *stores;          /* owned */
    size_t nstores;
};

/* Parse and check a manifest (len bytes). Returns 0 with *m filled (release
 * with bmanifest_deinit), JUNO_EBADDATA with the first problem in err, or
 * JUNO_ENOMEM. */
int bmanifest_parse(const char *text, size_t len, struct bmanifest *m, char *err, size_t errlen);

/* The manifest as JSON (owned, NUL-terminated), or NULL out of memory. */
char *bmanifest_to_json(const struct bmanifest *m);

void bmanifest_deinit(struct bmanifest *m);

/* Whether name is a valid dir or file name (see above). */
int bmanifest_name_ok(const char *name);

#endif
