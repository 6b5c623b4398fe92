/* engine_int.h: what engine.c (the writer and syncer threads, the loop's side
 * of writes) and engine_db.c (opening, reopening and closing RocksDB, reads,
 * iterators) share. Nothing outside the engine includes it.
 *
 * The database handle and its states. e->db is replaced only by a reopen
 * (engine_reopen), which runs on the writer thread with dblock held for
 * writing and no iterator open; so the writer uses e->db freely, and every
 * other thread holds dblock for reading while it does (the loop only tries:
 * it never waits for a reopen).
 *
 *   ENGINE_OK         reads and writes
 *   ENGINE_FAILED     a write or a background job failed (RocksDB keeps a
 *                     failed WAL or background error until the database is
 *                     reopened): writes are refused at once, reads served
 *   ENGINE_READ_ONLY  opened read-only (the disk was full at start, or a
 *                     reopen could not open it read-write): the same
 */
#ifndef JUNO_STORE_ENGINE_INT_H
#define JUNO_STORE_ENGINE_INT_H

#include "engine.h"

#include "kvcache.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>

struct engine {
    rocksdb_t *db;                              /* owned; see dblock */
    char *dir;                                  /* owned: the database's directory */
    pthread_rwlock_t dblock;                    /* readers of db against a reopen */
    atomic_int state;                           /* enum engine_state */
    atomic_int fail_rc;                         /* why not ENGINE_OK: JUNO_ENOSPC or JUNO_EIO */
    atomic_int iters;                           /* iterators open (a reopen waits for 0) */
    atomic_uint_fast64_t reopens;               /* reopens that succeeded */
    int reopen_asked;                           /* under mu: the writer reopens next */
    atomic_int reopen_busy;                     /* asked and not yet over */
    atomic_int reopen_done;                     /* writer → loop: forget the records cache */
    atomic_int writer_tid;                      /* the writer thread's id (0 until it runs) */
    rocksdb_options_t *opts;                    /* owned */
    rocksdb_env_t *env;                         /* owned; memory mode only */
    rocksdb_cache_t *cache;                     /* owned */
    rocksdb_block_based_table_options_t *table; /* owned */
    rocksdb_compactionfilter_t *filter;         /* owned */
    rocksdb_readoptions_t *ropts;               /* owned */
    rocksdb_readoptions_t *cached;              /* owned: read_tier = block cache, never does I/O */
    rocksdb_writeoptions_t *wopts;              /* owned: the writer thread's */
    rocksdb_writeoptions_t *wopts_loop;         /* owned: no sync, no_slowdown (memory) */
    enum engine_sync sync;
    uint32_t tombstone_grace_s;
    atomic_uchar droppable[65536];
    /* bulk groups applied, and how many of them the last WAL fsync covered */
    atomic_uint_fast64_t bulk_applied, bulk_synced;

    /* writer thread: queue in, done out */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct engine_write *queue_head, *queue_tail; /* under mu */
    struct engine_write *bulk_head, *bulk_tail;   /* under mu: bulk writes, after the others */
    struct engine_write *done_head, *done_tail;   /* under mu */
    int stopping;                                 /* under mu */

    /* --sync batch on disk: the syncer thread fsyncs the WAL for every group
     * the writer applied before the fsync began (group commit, with the
     * writer applying the next groups during the fsync) */
    pthread_t syncer;
    pthread_cond_t sync_cv;
    struct engine_write *sync_head, *sync_tail;   /* under mu: applied, not durable yet */
    int syncer_on, syncer_stopping;               /* under mu */
    size_t pending;                               /* loop thread */
    struct engine_write *local_head, *local_tail; /* loop thread: not yet published */
    struct engine_write *lbulk_head, *lbulk_tail; /* loop thread: bulk, not yet published */
    uv_async_t async;                             /* posts completions to the loop */
    struct kvcache records;                       /* loop thread: see engine__cache_written */
    uint32_t shard_gen[65536]; /* loop thread: the records' cache tag; bumped to forget a shard */
    /* loop thread: engine_get_cached's probes of RocksDB, per window */
    uint32_t probe_n, probe_ok, probe_seq;
    int probe_rare; /* the last window's probes mostly missed: probe 1 read in 16 */
};

static inline uint32_t
engine__shard(const uint8_t *key, size_t klen)
{
    return klen >= 2 ? (uint32_t)key[0] << 8 | key[1] : 0;
}

static inline uint32_t
engine__tag(const struct engine *e, const uint8_t *key, size_t klen)
{
    return e->shard_gen[engine__shard(key, klen)];
}

/* engine.c */
void *engine__writer_main(void *arg);
void *engine__syncer_main(void *arg);
void engine__on_async(uv_async_t *a);
void engine__stop_syncer(struct engine *e);
void engine__drain_done(struct engine *e);
/* Keep the stored record val of key in the records cache unless it is a
 * tombstone (loop thread). Returns 0 when it is cached. */
int engine__cache_keep(struct engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen);
/* A write or background job failed with rc: refuse writes until a reopen. */
void engine__fail(struct engine *e, int rc);

/* engine_db.c: close and open the database again, read-write if it can
 * (writer thread). Returns 0, JUNO_EAGAIN (readers or iterators kept it
 * busy: try later) or the open's error (the database is then open read-only
 * if that works). */
int engine__reopen(struct engine *e);

#endif
