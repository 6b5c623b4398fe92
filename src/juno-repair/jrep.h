/* jrep.h: juno-repair's modules.
 *
 *   main.c      options, passes (once, or --every), state, exit codes
 *   shard.c     one shard: ShardInfo of every replica, then the hash tree
 *               (ShardTree) descended where the replicas differ, down to
 *               the differing records
 *   fix.c       the differing records: which copy is the newest, fetching
 *               it (Read) and writing it where it is missing or older
 *               (Repair, and Delete on a rejoining store); --dry-run prints
 *   progress.c  a bar on a terminal, log lines otherwise, --json events
 */
#ifndef JUNO_JREP_H
#define JUNO_JREP_H

#include "calls.h"
#include "etcdopt.h"
#include "htree.h"
#include "livemap.h"
#include "map.h"
#include "report.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the run ---- */

/* a replica per zone, of this cluster and of --peer-map's */
#define JREP_MAX_ZONES (2 * MAP_MAX_ZONES)

struct jrep_counts {
    uint64_t shards, equal, differing; /* shards compared, equal at once, differing */
    uint64_t incomplete;               /* shards not fully compared or repaired */
    uint64_t records;                  /* records that differed */
    uint64_t repaired;                 /* copies written (Repair applied) */
    uint64_t newer_stood;              /* Repairs a newer copy refused */
    uint64_t deleted;                  /* copies deleted on a rejoining store */
    uint64_t conflicts;                /* same version and stamp, other content */
    uint64_t failed;                   /* writes refused or lost */
    uint64_t scanned;                  /* records the stores read for the comparison */
    uint64_t protocol;                 /* replies that did not decode */
};

struct jrep {
    /* options */
    const char *etcd_url, *map_file, *state_file, *cluster;
    struct etcdopt etcd_sec;    /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    struct etcd_opts etcd_opts; /* TLS and auth for etcd; borrowed from etcd_sec */
    int dry_run, json, verbose, tty, restart;
    int full;          /* --full: list every record, whatever the hashes say */
    uint64_t rate;     /* bytes the stores scan (and are sent) per second; 0: no limit */
    uint64_t every_ms; /* 0: one pass */
    int timeout_ms;
    uint8_t *only;         /* owned: --shard, a flag per shard; NULL = every shard */
    const char *peer_file; /* --peer-map FILE: another site's map (cross-site re-sync) */
    struct map *peer;      /* owned: that map, or NULL */
    char zone_names[JREP_MAX_ZONES][2 * MAP_NAME_MAX + 2]; /* with a peer: CLUSTER/ZONE */
    /* the pass */
    struct livemap lm;
    struct map *map; /* owned */
    uint64_t pass, started_ms, next_shard;
    uint64_t grace_s;             /* the smallest --tombstone-grace a store reported */
    struct jrep_counts n, before; /* this run, and what a resumed pass had done */
    char rejoining[JREP_MAX_ZONES * 64][MAP_ADDR_MAX + 1]; /* stores seen rejoining */
    size_t nrejoining;
    uint64_t cost; /* bytes charged to --rate since the pass began */
    int stop;      /* SIGTERM/SIGINT */
    int pause_ms;  /* JUNO_REPAIR_PAUSE_MS: a test's window between fetch and repair */
};

/* shard.c: compare and repair one shard (its owners in every zone of
 * j->map, and of j->peer's). Returns 0 when the shard is equal everywhere at the end, 1 when
 * it was left incomplete (a replica did not answer or refused, the map
 * changed: counted, reported), JUNO_EBADMAP when a store no longer owns it
 * (the caller reloads the map). */
int shard_run(struct jrep *j, uint32_t shard);

/* fix.c: one differing record as the replicas list it. */
struct fix_copy {
    int present;
    struct htree_entry e; /* borrowed from a list reply */
};
struct fix_replica {
    const char *zone, *node, *addr; /* borrowed from the map */
    int ok;                         /* answered so far */
    int rejoining;
};
/* Decide, fetch and write the records that differ in one list range; copies
 * is [nrecords][nrep]. Returns 0, or 1 if something could not be done (the
 * shard is incomplete). */
int fix_records(struct jrep *j, uint32_t shard, struct fix_replica *rep, size_t nrep,
                struct fix_copy *copies, size_t nrecords);

/* progress.c */
void progress_draw(struct jrep *j, int final);
void progress_event(struct jrep *j, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A key (namespace or key bytes) for text output: printable ASCII as it is,
 * other bytes as \xHH; or for JSON, quoted with \u00XX escapes. */
void progress_key(char *out, size_t cap, const uint8_t *p, size_t len, int json);

#endif
