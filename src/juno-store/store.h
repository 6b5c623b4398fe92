/* store.h: juno-store's shared state: configuration, the daemon, connections.
 *
 *   main.c    options, config check, signals, start and drain
 *   server.c  listener and connections: framing, reply coalescing, backpressure
 *   ops.c     the storage operations (Read, Prepare*, Commit, Abort, Repair,
 *             MarkDelete, Delete, Clone, Nop, DropShard)
 *   engine.c  RocksDB: writer thread with group commit (engine_db.c: the
 *             handle, reads, iterators, compaction filter, reopening)
 *   disk.c    free space: writes refused below --min-free-space, a failed
 *             database reopened once there is room
 *   locks.c   record locks taken by Prepare
 *   migrate.c shards streaming out to another store (copy + forwarding) or in
 *   repair_ops.c  ShardTree, Checkpoint, Rejoined: juno-repair's and
 *             juno-backup's operations
 *   rejoin.c  the last time the store served, and the rejoin rule
 *   cluster.c --etcd: the map from etcd (a watch thread, handed to the loop)
 *             and this store's registration under a lease
 *
 * Threads: one libuv loop thread owns every connection, the lock table and the
 * map; reads run on libuv's thread pool (--threads); writes on the engine's
 * writer thread. Results come back to the loop thread, which alone replies.
 */
#ifndef JUNO_STORE_H
#define JUNO_STORE_H

#include "bgq.h"
#include "conn.h"
#include "disk.h"
#include "engine.h"
#include "etcdopt.h"
#include "locks.h"
#include "map.h"
#include "rejoin.h"
#include "wire.h"

#include <stdint.h>
#include <uv.h>

struct store_config {
    char listen_host[256];
    uint16_t listen_port;
    const char *data_dir;       /* borrowed (argv) */
    const char *map_path;       /* borrowed */
    const char *zone;           /* borrowed */
    const char *node;           /* borrowed */
    const char *log_file;       /* borrowed; NULL = stderr */
    const char *etcd;           /* borrowed: --etcd URL[,URL...]; NULL = map file only */
    const char *cluster;        /* borrowed: --cluster (default juno) */
    struct etcdopt etcd_sec;    /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    struct etcd_opts etcd_opts; /* TLS and auth for etcd; borrowed from etcd_sec */
    int memory;
    int insecure; /* --insecure: serve a non-loopback address without TLS */
    enum engine_sync sync;
    unsigned threads;
    uint64_t lock_ms;
    uint64_t max_frame;
    uint64_t max_ns, max_key, max_value, max_ttl;
    uint64_t tombstone_grace_s;
    uint64_t rejoin_after_s; /* --rejoin-after; 0 = half of tombstone_grace_s */
    uint64_t idle_timeout_s;
    uint64_t max_inflight;   /* per connection, before reading pauses */
    uint64_t busy_copy_rate; /* bytes/s: a copy's pace while foreground requests arrive; 0 = full */
    uint64_t record_cache_mb;    /* --record-cache: MiB of records cached in front of RocksDB */
    uint64_t block_cache_mb;     /* --block-cache: RocksDB's block cache, MiB */
    const char *rocksdb_options; /* borrowed: --rocksdb-options, or NULL */
    int min_free_set;            /* --min-free-space given: */
    uint64_t min_free_bytes;     /*   as bytes, */
    unsigned min_free_pct;       /*   or as a percentage of the filesystem */
    char metrics_host[256];      /* --metrics (smetrics.c); metrics_port 0: none */
    uint16_t metrics_port;
    const char *tls_cert, *tls_key, *tls_ca; /* borrowed: --tls-*; all or none */
    uint64_t tls_handshake_ms;               /* --tls-handshake-timeout */
    unsigned tls_max_handshakes;             /* --tls-max-handshakes */
};

struct store_stats {
    uint64_t requests, errors, bad_frames, connections;
    uint64_t pool_reads, pool_batches; /* ops_read.c: reads sent to the thread pool, batches */
};

struct store {
    uv_loop_t *loop; /* borrowed */
    struct store_config cfg;
    struct engine *engine; /* owned */
    struct locks locks;
    struct map *map; /* owned: the current map */
    int zone_index;
    uint32_t nshards;
    uint8_t *owned;                 /* owned: nshards flags, 1 = this (zone, node) owns the shard */
    struct conn_group conns;        /* proxies' and migrators' connections */
    struct conn_listener listener;  /* accepts into conns */
    struct conn_group streams;      /* shard streams to other stores (migrate.c) */
    uv_check_t flush_check;         /* writes coalesced replies once per loop turn */
    struct op *reads, **reads_tail; /* reads for the thread pool this turn (ops_read.c) */
    size_t nreads;
    uv_timer_t sweep_timer;
    uv_signal_t sig_term, sig_int, sig_hup;
    uint64_t inflight;        /* work a drain waits for besides requests (migrate.c) */
    int draining, interrupts; /* SIGTERM/SIGINT seen */
    int finished;             /* drained: every handle is closing */
    struct store_stats stats;
    struct disk disk;           /* disk.c */
    uint64_t fg_last_ms;        /* uv_now of the last foreground (keyed, not Clone) request */
    struct migrate *migrate;    /* owned: migrate.c's state, made on first use */
    struct bgq copyq;           /* migrate.c: the copy's threads, at the lowest CPU priority */
    int copyq_on;               /* copyq started (at the first copy) */
    struct {                    /* copyprio.c */
        int ok;                 /* may lower the loop and writer, and raise them again */
        int low;                /* they run at BGQ_NICE now */
        int base;               /* the store's own nice value */
        int loop_tid;           /* the loop thread's id (gettid) */
        uint64_t clone_last_ms; /* uv_now of the last Clone */
    } prio;
    struct rejoin rejoin;       /* rejoin.c */
    struct scluster *cluster;   /* owned: cluster.c's state; NULL without --etcd */
    struct tls_ctx *tls_server; /* owned: --tls-*: every connection to this store; or NULL */
    struct tls_ctx *tls_client; /* owned: the same identity for shard streams; or NULL */
};

/* server.c */
int server_start(struct store *s, char *err, size_t errlen);
void server_drain(struct store *s); /* stop accepting; exit when in-flight work is done */

/* Requests in flight (their connection's references, conn_ref) and other
 * work a drain waits for (s->inflight). */
uint64_t server_inflight(const struct store *s);

/* The connections are lib/conn's: a request holds its connection with
 * conn_ref until it has replied (conn_unref). conn_reply queues the encoded
 * reply m on c (loop thread), dropped if c has closed; conn_store is the
 * store c belongs to. */
void conn_reply(struct conn *c, const struct wire_msg *m);
struct store *conn_store(struct conn *c);
/* A reply carrying a value (v: len bytes, copied; NULL for none), for the
 * admin operations (Clone, ShardTree, Checkpoint, ...). */
void conn_reply_value(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard, int status,
                      const uint8_t *v, size_t len);
/* A refusal of req with status and {"error":why} as its value, logged. */
void conn_reply_error(struct conn *c, const struct wire_msg *req, int status, const char *why);

/* ops.c: handle one decoded request from c (loop thread). */
void ops_dispatch(struct store *s, struct conn *c, const struct wire_msg *req);

/* ops_read.c: send the reads queued this turn to the thread pool, in
 * batches (called at the end of each loop turn). */
void ops_read_flush(struct store *s);

/* ops_shard.c: a shard's counts and order-independent hash (see ShardInfo), from
 * any thread: info = records, live, tombstones, expired, bytes, hash; *rc 0 or
 * JUNO_ENOMEM. ops_shard_json prints them as ShardInfo's JSON (snprintf's result). */
void ops_shard_scan(struct store *s, uint16_t shard, uint64_t info[6], int *rc);
int ops_shard_json(const struct store *s, uint16_t shard, const uint64_t info[6], char *buf,
                   size_t cap);

/* repair_ops.c (loop thread): ShardTree, Checkpoint and Rejoined. */
void repair_ops_dispatch(struct store *s, struct conn *c, const struct wire_msg *req);

/* scan_ops.c (loop thread): KeyScan, a shard's records of one namespace. */
void scan_ops_key_scan(struct store *s, struct conn *c, const struct wire_msg *req);

/* migrate.c (loop thread). migrate_dispatch handles MigrateStart/Status/Stop/
 * Verify and ShardAccept. migrate_submit replaces engine_submit for keyed
 * writes (it may hold one for a moment while a move verifies); migrate_written
 * is called when any write completes (forwarding). migrate_serves: whether a
 * shard the map does not give this store is still served (streaming out, or
 * accepted while moving in). migrate_shutdown closes every stream (drain). The
 * streams are connections of s->streams, written by server.c's uv_check. */
void migrate_dispatch(struct store *s, struct conn *c, const struct wire_msg *req);
void migrate_submit(struct store *s, uint16_t shard, struct engine_write *w);
void migrate_written(struct store *s, uint16_t shard, const struct engine_write *w, int status);
int migrate_serves(const struct store *s, uint16_t shard);
void migrate_dropped(struct store *s, uint16_t shard);
void migrate_map_loaded(struct store *s);
void migrate_shutdown(struct store *s);

/* main.c: (re)load the map file and recompute owned shards. Returns 0 or a
 * negative code with a message in err. */
int store_load_map(struct store *s, char *err, size_t errlen);
/* main.c: make map m (owned: taken on success and on failure) the store's
 * map; source names it in messages. Refused (JUNO_EBADMAP, err set): this
 * store is not in it, another shard count, an older version. */
int store_adopt_map(struct store *s, struct map *m, const char *source, char *err, size_t errlen);

/* cluster.c (loop thread). init: read the map from etcd into s->map (when
 * etcd cannot be reached or holds none: from --map FILE if given); 0 or a
 * negative code with err set. start: register under a lease and watch the
 * map (after the listener is up). stop: revoke the registration, stop the
 * watch (drain; twice is fine). destroy: free (after the loop ended). */
int scluster_init(struct store *s, char *err, size_t errlen);
void scluster_start(struct store *s);
void scluster_stop(struct store *s);
void scluster_destroy(struct store *s);
/* SIGHUP: --etcd-password-file again (etcd_uv_reload_password). */
void scluster_reload_password(struct store *s);

#endif
