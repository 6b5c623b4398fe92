/* engine.h: juno-store's RocksDB, with the event loop kept off the disk.
 *
 * Writes are queued from the loop thread (engine_submit) to one writer thread
 * that takes everything queued, applies it as one WriteBatch (group commit)
 * and posts the completions back to the loop (uv_async). The loop reads what
 * is in memory with engine_get_cached; reads that need the disk run on libuv's
 * thread pool through engine_get, which any thread may call.
 *
 *   --sync none    WAL written, not fsynced: a crash of the machine (not of
 *                  the process) may lose the last writes
 *   --sync batch   a syncer thread fsyncs once for every group applied before
 *                  it began; groups are acknowledged after it (group commit)
 *   --sync always  one fsync per write, before it is acknowledged
 *
 * A write RocksDB fails (the disk full, an I/O error) or a background error
 * of RocksDB's own puts the engine in ENGINE_FAILED: every later write is
 * refused at once, without touching RocksDB, reads go on. A database that
 * cannot be opened read-write for want of space is opened read-only
 * (ENGINE_READ_ONLY). engine_reopen brings either back to ENGINE_OK once the
 * cause is gone (juno-store's disk.c decides when). engine.c holds the writer
 * side, engine_db.c the handle, reads and iterators.
 */
#ifndef JUNO_STORE_ENGINE_H
#define JUNO_STORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum engine_sync { ENGINE_SYNC_NONE = 0, ENGINE_SYNC_BATCH, ENGINE_SYNC_ALWAYS };
enum engine_state { ENGINE_OK = 0, ENGINE_FAILED, ENGINE_READ_ONLY };
/* PUT_IF_NEWER writes val (an encoded record) only when no stored record, and no
 * earlier write of the same group, is as new or newer (record_cmp): decided on
 * the writer thread, so it is atomic with respect to every other write. */
enum engine_op { ENGINE_PUT = 0, ENGINE_PUT_IF_NEWER, ENGINE_DELETE, ENGINE_DELETE_RANGE };

struct engine_config {
    const char *dir; /* borrowed; with memory, only a name inside RocksDB's memory env */
    int memory;
    enum engine_sync sync;
    uint32_t tombstone_grace_s;  /* compaction drops tombstones older than this */
    size_t cache_mb;             /* RocksDB's block cache (0: 64) */
    size_t record_cache_mb;      /* the records cache in front of RocksDB (0: none) */
    int read_only;               /* open read-only (the disk is full): ENGINE_READ_ONLY */
    const char *rocksdb_options; /* borrowed: RocksDB's option string over ours, or NULL */
};

struct engine_write {
    /* Set by the caller; key and val stay borrowed until cb runs. */
    enum engine_op op;
    const uint8_t *key;
    size_t klen;
    const uint8_t *val; /* PUT: the value; DELETE_RANGE: the end key */
    size_t vlen;
    void (*cb)(struct engine_write *w, int status); /* on the loop thread; 0 or JUNO_E* */
    void *data;
    int bulk;    /* a migration's copied record: written after the other writes
                  * queued, at most ENGINE_BULK_MAX per group, and never the
                  * reason for an fsync (engine_sync_wal makes it durable) */
    int applied; /* set by the engine: 0 when a PUT_IF_NEWER was older and skipped */
    /* engine private */
    int status;
    struct engine_write *next;
};

struct engine;

/* Open (creating) the database. When there is no space to open it
 * read-write (or cfg->read_only), it is opened read-only. On failure returns
 * a negative code and writes RocksDB's reason into err. */
int engine_open(uv_loop_t *loop, const struct engine_config *cfg, struct engine **out, char *err,
                size_t errlen);

/* Queue a write (loop thread only); the writer sees it at the next engine_kick.
 * cb always runs later on the loop. */
void engine_submit(struct engine *e, struct engine_write *w);

/* Hand every write submitted since the last kick to the writer thread, with
 * one lock and one wakeup (loop thread; call once per loop turn). With
 * --memory, a few writes and nothing at the writer: they are applied here and
 * their callbacks run before engine_kick returns (see engine.c). */
void engine_kick(struct engine *e);

/* Make every write acknowledged so far durable (one WAL fsync; nothing to do
 * with --sync none or in memory). Blocking: call from a worker. Returns 0 or
 * JUNO_EIO. */
int engine_sync_wal(struct engine *e);

/* Read key. On 0, *val (owned; release with engine_free) holds *vlen bytes.
 * Returns 0, JUNO_ENOTFOUND or JUNO_EIO. Safe from any thread. */
int engine_get(struct engine *e, const uint8_t *key, size_t klen, char **val, size_t *vlen);
void engine_free(void *p);
/* engine_get of n keys (at most ENGINE_MULTI_MAX) at once, one RocksDB
 * MultiGet: rcs[i], vals[i] and vlens[i] as engine_get's. Any thread. */
#define ENGINE_MULTI_MAX 64
void engine_multi_get(struct engine *e, size_t n, const uint8_t *const *keys, const size_t *klens,
                      char **vals, size_t *vlens, int *rcs);

/* engine_get, but only from memory (the records cache, memtables and block
 * cache): never waits on disk. Loop thread only: it fills the records cache,
 * which follows every completed write (engine.c). JUNO_EAGAIN when the answer
 * needs I/O. */
int engine_get_cached(struct engine *e, const uint8_t *key, size_t klen, char **val, size_t *vlen);

/* Mark whether compaction may drop every record of shard (a shard this store
 * no longer owns). Loop thread: a change also empties the records cache of
 * the shard. */
void engine_set_droppable(struct engine *e, uint16_t shard, int droppable);

/* Run a full manual compaction now (blocking: call from a worker). */
void engine_compact(struct engine *e);

/* Make a RocksDB checkpoint of the database in dir (which must not exist):
 * the memtables are flushed first, so it holds every write applied before
 * the call; SST files are hard links when dir is on the database's
 * filesystem (a copy otherwise). Blocking: call from a worker. Returns 0 or
 * JUNO_EIO with RocksDB's reason in err. */
int engine_checkpoint(struct engine *e, const char *dir, char *err, size_t errlen);

/* A RocksDB property as an owned string ("rocksdb.estimate-num-keys"), or NULL. */
char *engine_property(struct engine *e, const char *name);

/* An integer RocksDB property into *out. Returns 0 or JUNO_ENOTFOUND (unknown
 * or not an integer property). Safe from any thread; cheap for the in-memory
 * properties ("rocksdb.cur-size-all-mem-tables", ...). */
int engine_property_u64(struct engine *e, const char *name, uint64_t *out);

/* The records cache's counts since the start, and what it holds. Loop thread. */
struct engine_cache_stats {
    uint64_t hits, misses, evictions;
    size_t bytes, entries;
};
void engine_cache_stats(const struct engine *e, struct engine_cache_stats *out);

/* The engine's state (loop thread); *why (may be NULL) is the failure's code,
 * JUNO_ENOSPC or JUNO_EIO, when not ENGINE_OK. It also looks at RocksDB's
 * background-error count: a flush or compaction that failed moves an
 * ENGINE_OK engine to ENGINE_FAILED. */
enum engine_state engine_state(struct engine *e, int *why);

/* engine_state without the look at RocksDB's background errors: one atomic
 * load, for every write request. Any thread. */
enum engine_state engine_state_now(const struct engine *e, int *why);

/* Ask the writer thread to close the database and open it again read-write
 * (loop thread). It does so between write groups, once no reader holds the
 * database and no iterator is open (it gives up after a moment otherwise);
 * engine_state tells the outcome. On success the records cache is emptied. */
void engine_reopen(struct engine *e);

/* Reopens that succeeded since the start. Any thread. */
uint64_t engine_reopens(const struct engine *e);

/* Number of writes queued or in flight. Loop thread. */
size_t engine_pending(const struct engine *e);
/* The writer thread's id (gettid), 0 before it has started. */
int engine_writer_tid(const struct engine *e);

/* Finish queued writes, sync the WAL, stop the writer and close the database.
 * Loop thread; blocks until the writer has drained. */
void engine_close(struct engine *e);

/* An iterator over [start, end) for streaming a shard (any one thread). */
struct engine_iter;
struct engine_iter *engine_iter_create(struct engine *e, const uint8_t *start, size_t slen,
                                       const uint8_t *end, size_t elen);
/* Returns 1 with key/value borrowed until the next call, or 0 at the end. */
int engine_iter_next(struct engine_iter *it, const uint8_t **k, size_t *klen, const uint8_t **v,
                     size_t *vlen);
void engine_iter_destroy(struct engine_iter *it);

#endif
