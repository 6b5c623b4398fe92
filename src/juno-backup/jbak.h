/* jbak.h: juno-backup's modules.
 *
 *   main.c     options and the commands
 *   create.c   a checkpoint of every store (Checkpoint), the map, the manifest
 *   verify.c   the manifest against the files: sizes, then every checkpoint
 *              read back and its per-shard counts and hashes compared
 *   restore.c  a backup into a new cluster of any shape: each shard's copies
 *              (one per zone) merged, newest copy of each key, streamed as
 *              Clones to the key's owners in the new map, then verified
 */
#ifndef JUNO_JBAK_H
#define JUNO_JBAK_H

#include "bmanifest.h"
#include "etcdopt.h"
#include "livemap.h"
#include "report.h"

#include <stddef.h>
#include <stdint.h>

struct jbak {
    const char *etcd_url, *map_file, *cluster;
    struct etcdopt etcd_sec;    /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    struct etcd_opts etcd_opts; /* TLS and auth for etcd; borrowed from etcd_sec */
    const char *dir;            /* borrowed: the backup directory */
    int json, force, tty;
    int timeout_ms;
    unsigned window; /* restore: records per batch */
    struct livemap lm;
};

int create_run(struct jbak *b);
int verify_run(struct jbak *b);
int restore_run(struct jbak *b);

/* verify.c: read DIR/manifest.json (and check DIR/map.json agrees with it).
 * Returns 0, or an exit code after printing the error. */
int backup_load(struct jbak *b, struct bmanifest *m);
/* DIR/stores/<dir> of a store. */
void backup_store_path(const struct jbak *b, const struct bm_store *st, char *out, size_t cap);
/* Check one store's files against the manifest (exist, sizes). Returns the
 * number of problems, each printed. */
size_t backup_check_files(struct jbak *b, const struct bm_store *st);

/* main.c: output. An event on stdout with --json, else a line (stdout
 * for results, stderr for progress). */
void jbak_event(struct jbak *b, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void jbak_progress(struct jbak *b, const char *what, uint64_t done, uint64_t total,
                   uint64_t records, uint64_t bytes, uint64_t started_ms, int final);

#endif
