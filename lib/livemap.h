/* livemap.h: where a cluster tool finds the live shard map and keeps its
 * own state: etcd (/juno/<cluster>/map, /juno/<cluster>/<name>) or a map
 * file (FILE, and FILE.<name> beside it unless a state path is given).
 * juno-repair and juno-backup read the map through it; juno-migrate keeps
 * its state the same way (src/juno-migrate/live.c).
 *
 *   struct livemap lm;
 *   livemap_open(&lm, etcd_url, map_file, cluster, "repair", NULL, err, sizeof(err));
 *   livemap_map(&lm, &map, err, sizeof(err));           the map now (owned)
 *   livemap_state_get(&lm, &text, &len, ...) / _put / _delete
 *   livemap_migrating(&lm)                              a migration under way?
 *   livemap_close(&lm);
 */
#ifndef JUNO_LIVEMAP_H
#define JUNO_LIVEMAP_H

#include "etcd.h"
#include "map.h"

#include <stddef.h>

struct etcd;

struct livemap {
    struct etcd *etcd;    /* owned, with an etcd URL */
    const char *map_file; /* borrowed, without */
    char cluster[MAP_NAME_MAX + 1];
    char state_key[1024];  /* etcd: /juno/<cluster>/<name> */
    char state_path[4096]; /* file: the state file */
    char migration[4096];  /* file: juno-migrate's state file (FILE.migration) */
};

/* Open: exactly one of etcd_url and map_file. state_path (may be NULL)
 * overrides FILE.<name>. sec (may be NULL): etcd's TLS and auth settings
 * (lib/etcdopt; the timeouts are livemap's). Returns 0 or JUNO_EINVAL with
 * err set. */
int livemap_open(struct livemap *lm, const char *etcd_url, const char *map_file,
                 const char *cluster, const char *name, const char *state_path,
                 const struct etcd_opts *sec, char *err, size_t errlen);
void livemap_close(struct livemap *lm);

/* Where the map comes from, for messages ("etcd /juno/c/map", a path). */
void livemap_where(const struct livemap *lm, char *buf, size_t cap);

/* The live map (owned: map_destroy). Returns 0, JUNO_ENOTFOUND (none),
 * JUNO_EBADMAP (invalid), or etcd's / the file's error; err set. */
int livemap_map(struct livemap *lm, struct map **out, char *err, size_t errlen);

/* The saved state: 0 with *text (owned, NUL-terminated), JUNO_ENOTFOUND, or
 * an error with err set. put writes it (a file atomically); delete removes
 * it (nothing there is fine). */
int livemap_state_get(struct livemap *lm, char **text, size_t *len, char *err, size_t errlen);
int livemap_state_put(struct livemap *lm, const char *text, char *err, size_t errlen);
int livemap_state_delete(struct livemap *lm, char *err, size_t errlen);

/* 1 when juno-migrate's state says a migration is under way, 0 when not, or
 * a negative code (etcd unreachable) with err set. */
int livemap_migrating(struct livemap *lm, char *err, size_t errlen);

#endif
