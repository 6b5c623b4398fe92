/* engine.c: RocksDB behind a group-committing writer thread (see engine.h). */
#include "engine.h"

#include "smetrics.h"

#include "error.h"
#include "kvcache.h"
#include "log.h"
#include "record.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define ENGINE_GROUP_MAX 4096 /* writes per group: bounds the latency of one fsync batch */
#define ENGINE_BULK_MAX  256  /* bulk writes per group: bounds what a copy adds to a group */
#define ENGINE_LOOP_MAX  16   /* --memory: most writes of a loop turn applied on the loop */

struct engine {
    rocksdb_t *db;                              /* owned */
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
};

static uint32_t
engine__shard(const uint8_t *key, size_t klen)
{
    return klen >= 2 ? (uint32_t)key[0] << 8 | key[1] : 0;
}

static uint32_t
engine__tag(const struct engine *e, const uint8_t *key, size_t klen)
{
    return e->shard_gen[engine__shard(key, klen)];
}

/* ---- compaction filter: expired records, old tombstones, dropped shards ---- */

static unsigned char
engine__filter(void *state, int level, const char *key, size_t klen, const char *val, size_t vlen,
               char **new_val, size_t *new_vlen, unsigned char *changed)
{
    (void)level, (void)new_val, (void)new_vlen, (void)changed;
    struct engine *e = state;
    if (klen >= 2 && atomic_load_explicit(&e->droppable[engine__shard((const uint8_t *)key, klen)],
                                          memory_order_relaxed))
        return 1;
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    if (record_value_decode((const uint8_t *)val, vlen, &m, &data, &dlen) != 0) return 0;
    uint64_t now = (uint64_t)time(NULL);
    if (record_expired(&m, now)) return 1;
    if (m.tombstone && m.last_modified / 1000000000u + e->tombstone_grace_s < now) return 1;
    return 0;
}

static void
engine__filter_destroy(void *state)
{
    (void)state; /* the engine owns itself; RocksDB calls this unconditionally */
}

static const char *
engine__filter_name(void *state)
{
    (void)state;
    return "juno-expiry";
}

/* ---- writer thread ---- */

/* The latest write to each key within one group, so that a PUT_IF_NEWER sees
 * the writes queued before it in the same batch. Open addressing, writer thread. */
struct engine_group {
    struct engine_write **slots; /* borrowed writes */
    size_t mask;
};

static struct engine_write **
engine__group_slot(struct engine_group *g, const uint8_t *key, size_t klen)
{
    size_t i = (size_t)XXH3_64bits(key, klen) & g->mask;
    while (g->slots[i] && !(g->slots[i]->klen == klen && memcmp(g->slots[i]->key, key, klen) == 0))
        i = (i + 1) & g->mask;
    return &g->slots[i];
}

/* Whether w's record is newer than what the key holds now (stored, or written
 * earlier in this group). */
static int
engine__is_newer(struct engine *e, struct engine_group *g, struct engine_write *w)
{
    struct record_meta mine, theirs;
    const uint8_t *data;
    size_t dlen;
    if (record_value_decode(w->val, w->vlen, &mine, &data, &dlen) != 0) return 0;
    struct engine_write *prev = *engine__group_slot(g, w->key, w->klen);
    if (prev != NULL) { /* only applied writes are remembered */
        if (prev->op == ENGINE_DELETE) return 1;
        return record_value_decode(prev->val, prev->vlen, &theirs, &data, &dlen) != 0 ||
               record_cmp(&mine, &theirs) > 0;
    }
    char *cur;
    size_t clen;
    int rc = engine_get(e, w->key, w->klen, &cur, &clen);
    if (rc == JUNO_ENOTFOUND) return 1;
    if (rc != 0) return 0;
    int newer = record_value_decode((const uint8_t *)cur, clen, &theirs, &data, &dlen) != 0 ||
                record_cmp(&mine, &theirs) > 0;
    rocksdb_free(cur);
    return newer;
}

/* Write wb (on_loop: with the loop's options, which never sync and never
 * wait out a write stall). Returns 0, JUNO_EAGAIN (on_loop: RocksDB would
 * have stalled; nothing was written) or JUNO_EIO. */
static int
engine__write_batch(struct engine *e, rocksdb_writebatch_t *wb, int sync, int on_loop)
{
    if (rocksdb_writebatch_count(wb) == 0) return 0;
    char *err = NULL;
    uint64_t t0 = uv_hrtime();
    if (!on_loop) rocksdb_writeoptions_set_sync(e->wopts, (unsigned char)sync);
    rocksdb_write(e->db, on_loop ? e->wopts_loop : e->wopts, wb, &err);
    rocksdb_writebatch_clear(wb);
    if (sync && err == NULL) smetrics_wal_sync(uv_hrtime() - t0);
    if (err != NULL) {
        /* no_slowdown's Status::Incomplete prints as "Result incomplete: ..." */
        int stalled = on_loop && strstr(err, "ncomplete") != NULL;
        if (!stalled) log_error("rocksdb write failed: %s", err);
        rocksdb_free(err);
        return stalled ? JUNO_EAGAIN : JUNO_EIO;
    }
    return 0;
}

/* fsync the WAL: everything written before is durable. Returns 0 or JUNO_EIO. */
static int
engine__sync(struct engine *e)
{
    if (e->env != NULL) return 0; /* the memory env has no fsync (nor a disk to lose) */
    char *err = NULL;
    uint64_t t0 = uv_hrtime();
    rocksdb_flush_wal(e->db, 1, &err);
    if (err != NULL) {
        log_error("rocksdb WAL sync failed: %s", err);
        rocksdb_free(err);
        return JUNO_EIO;
    }
    smetrics_wal_sync(uv_hrtime() - t0);
    return 0;
}

/* Record that a WAL fsync covered the first `applied` bulk groups. */
static void
engine__bulk_covered(struct engine *e, uint64_t applied)
{
    uint64_t cur = atomic_load(&e->bulk_synced);
    while (cur < applied && !atomic_compare_exchange_weak(&e->bulk_synced, &cur, applied)) {
    }
}

int
engine_sync_wal(struct engine *e)
{
    if (e->sync == ENGINE_SYNC_NONE) return 0;
    uint64_t applied = atomic_load(&e->bulk_applied);
    if (applied == atomic_load(&e->bulk_synced)) return 0;
    int rc = engine__sync(e);
    if (rc == 0) engine__bulk_covered(e, applied);
    return rc;
}

/* Apply the n writes starting at batch as one WriteBatch (split only around a
 * range delete). Sets each write's applied flag; returns 0, JUNO_EIO, or
 * (on_loop) JUNO_EAGAIN when RocksDB would have stalled and nothing was written. */
static int
engine__apply(struct engine *e, struct engine_write *batch, size_t n, int sync, int on_loop)
{
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    struct engine_write *inline_slots[16];
    struct engine_group g = {inline_slots, cap - 1};
    if (cap > 16 && (g.slots = calloc(cap, sizeof(*g.slots))) == NULL) return JUNO_ENOMEM;
    if (cap == 16) memset(inline_slots, 0, sizeof(inline_slots));

    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    int rc = 0, unsynced = 0;
    for (struct engine_write *w = batch; w && rc == 0; w = w->next) {
        w->applied = 1;
        switch (w->op) {
        case ENGINE_PUT_IF_NEWER:
            w->applied = engine__is_newer(e, &g, w);
            if (!w->applied) break;
            /* fall through */
        case ENGINE_PUT:
            rocksdb_writebatch_put(wb, (const char *)w->key, w->klen, (const char *)w->val,
                                   w->vlen);
            *engine__group_slot(&g, w->key, w->klen) = w;
            break;
        case ENGINE_DELETE:
            rocksdb_writebatch_delete(wb, (const char *)w->key, w->klen);
            *engine__group_slot(&g, w->key, w->klen) = w;
            break;
        case ENGINE_DELETE_RANGE:
            /* later conditional writes must see the range gone: write what is
             * batched with the range (synced with the rest of the group, once,
             * at the end) and forget the group's keys */
            rocksdb_writebatch_delete_range(wb, (const char *)w->key, w->klen, (const char *)w->val,
                                            w->vlen);
            rc = engine__write_batch(e, wb, 0, 0);
            unsynced = 1;
            memset(g.slots, 0, cap * sizeof(*g.slots));
            break;
        }
    }
    if (rc == 0 && rocksdb_writebatch_count(wb) > 0)
        rc = engine__write_batch(e, wb, sync, on_loop);
    else if (rc == 0 && sync && unsynced)
        rc = engine__sync(e);
    rocksdb_writebatch_destroy(wb);
    if (g.slots != inline_slots) free(g.slots);
    return rc;
}

/* Cut up to max writes from the front of the queue *qh..*qt; returns the first
 * (NULL when empty), the last in *last, the count in *n. Under mu. */
static struct engine_write *
engine__take(struct engine_write **qh, struct engine_write **qt, size_t max,
             struct engine_write **last, size_t *n)
{
    struct engine_write *head = *qh, *tail = head;
    *n = 0;
    if (head == NULL) return NULL;
    *n = 1;
    while (tail->next && *n < max) tail = tail->next, (*n)++;
    *qh = tail->next;
    if (*qh == NULL) *qt = NULL;
    tail->next = NULL;
    *last = tail;
    return head;
}

/* Append the list h..t to the queue *qh..*qt. */
static void
engine__append(struct engine_write **qh, struct engine_write **qt, struct engine_write *h,
               struct engine_write *t)
{
    if (h == NULL) return;
    if (*qt)
        (*qt)->next = h;
    else
        *qh = h;
    *qt = t;
}

/* Hand a finished list to the loop. Under mu. */
static void
engine__post_done(struct engine *e, struct engine_write *head, struct engine_write *tail)
{
    engine__append(&e->done_head, &e->done_tail, head, tail);
    uv_async_send(&e->async);
}

static void *
engine__writer_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (e->queue_head == NULL && e->bulk_head == NULL && !e->stopping)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->queue_head == NULL && e->bulk_head == NULL && e->stopping) break;
        /* one group: up to ENGINE_GROUP_MAX writes, then up to
         * ENGINE_BULK_MAX bulk writes, so that a copy never delays the
         * others by more than one bounded batch */
        size_t n, nbulk;
        struct engine_write *tail = NULL, *btail = NULL;
        struct engine_write *head =
            engine__take(&e->queue_head, &e->queue_tail, ENGINE_GROUP_MAX, &tail, &n);
        struct engine_write *bulk =
            engine__take(&e->bulk_head, &e->bulk_tail, ENGINE_BULK_MAX, &btail, &nbulk);
        pthread_mutex_unlock(&e->mu);

        if (head)
            tail->next = bulk;
        else
            head = bulk;
        if (bulk) tail = btail;

        uint64_t t0 = uv_hrtime();
        int rc;
        if (e->sync == ENGINE_SYNC_ALWAYS) {
            /* one fsync per write, each acknowledged after its own sync; the
             * bulk writes then as one batch */
            struct engine_write *w = head;
            for (size_t i = 0; i < n; i++) {
                struct engine_write *next = w->next;
                w->next = NULL;
                w->status = engine__apply(e, w, 1, 1, 0);
                w->next = next;
                w = next;
            }
            rc = bulk ? engine__apply(e, bulk, nbulk, 0, 0) : 0;
            for (w = bulk; w; w = w->next) w->status = rc;
        } else {
            /* with --sync batch the syncer makes the group durable */
            rc = engine__apply(e, head, n + nbulk, 0, 0);
            for (struct engine_write *w = head; w; w = w->next) w->status = rc;
        }
        if (bulk && rc == 0) atomic_fetch_add(&e->bulk_applied, 1);
        smetrics_write_group(n + nbulk, uv_hrtime() - t0);

        pthread_mutex_lock(&e->mu);
        if (e->syncer_on && n > 0 && rc == 0) {
            /* acknowledged once the syncer's next fsync has covered them */
            engine__append(&e->sync_head, &e->sync_tail, head, tail);
            pthread_cond_signal(&e->sync_cv);
        } else {
            engine__post_done(e, head, tail);
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* The syncer (--sync batch on disk): one WAL fsync for everything the writer
 * applied before it, while the writer goes on applying the next groups. */
static void *
engine__syncer_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (e->sync_head == NULL && !e->syncer_stopping) pthread_cond_wait(&e->sync_cv, &e->mu);
        if (e->sync_head == NULL) break;
        struct engine_write *head = e->sync_head, *tail = e->sync_tail;
        e->sync_head = e->sync_tail = NULL;
        /* every bulk group counted here was applied before the fsync starts */
        uint64_t applied = atomic_load(&e->bulk_applied);
        pthread_mutex_unlock(&e->mu);

        int rc = engine__sync(e);
        if (rc == 0) engine__bulk_covered(e, applied);
        for (struct engine_write *w = head; w; w = w->next) w->status = rc;

        pthread_mutex_lock(&e->mu);
        engine__post_done(e, head, tail);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Let the syncer finish what is queued, then join it. */
static void
engine__stop_syncer(struct engine *e)
{
    if (!e->syncer_on) return;
    pthread_mutex_lock(&e->mu);
    e->syncer_stopping = 1;
    pthread_cond_signal(&e->sync_cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->syncer, NULL);
}

/* Keep the stored record val of key in the records cache, unless it is a
 * tombstone (compaction purges those after their grace, behind the cache's
 * back). Returns 0 when it is cached. */
static int
engine__cache_keep(struct engine *e, const uint8_t *key, size_t klen, const uint8_t *val,
                   size_t vlen)
{
    struct record_meta m;
    const uint8_t *data;
    size_t dlen;
    if (record_value_decode(val, vlen, &m, &data, &dlen) != 0 || m.tombstone) return -1;
    return kvcache_put(&e->records, key, klen, engine__tag(e, key, klen), val, vlen);
}

/* The record cache follows every write as its callback is about to run, on
 * the loop: a Put that was applied leaves its record there, anything else
 * (a skipped PUT_IF_NEWER, a delete, a failure, a tombstone) drops the key.
 * Writes complete in the order they were applied, so the last one applied
 * leaves the last word. A read on the loop (engine_get_cached) fills the
 * cache from RocksDB; its answer is never older than a completed write, and
 * a write it did not see completes after it. Reads on other threads do not
 * fill it. */
static void
engine__cache_written(struct engine *e, const struct engine_write *w, int status)
{
    if (w->op == ENGINE_DELETE_RANGE) { /* a shard's range: forget those shards */
        uint32_t last = engine__shard(w->val, w->vlen);
        for (uint32_t sh = engine__shard(w->key, w->klen); sh <= last && sh < 65536; sh++)
            e->shard_gen[sh]++;
        return;
    }
    if (status != 0 || !(w->op == ENGINE_PUT || w->applied) ||
        engine__cache_keep(e, w->key, w->klen, w->val, w->vlen) != 0)
        kvcache_del(&e->records, w->key, w->klen);
}

static void
engine__drain_done(struct engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct engine_write *w = e->done_head;
    e->done_head = e->done_tail = NULL;
    pthread_mutex_unlock(&e->mu);
    while (w) {
        struct engine_write *next = w->next;
        w->next = NULL;
        e->pending--;
        engine__cache_written(e, w, w->status);
        w->cb(w, w->status);
        w = next;
    }
}

static void
engine__on_async(uv_async_t *a)
{
    engine__drain_done(a->data);
}

void
engine_submit(struct engine *e, struct engine_write *w)
{
    w->next = NULL;
    w->status = 0;
    e->pending++;
    struct engine_write **h = w->bulk ? &e->lbulk_head : &e->local_head;
    struct engine_write **t = w->bulk ? &e->lbulk_tail : &e->local_tail;
    if (*t)
        (*t)->next = w;
    else
        *h = w;
    *t = w;
}

/* --memory: apply this turn's writes right here when nothing is queued for or
 * in the writer (so no write overtakes another), and run their callbacks:
 * no thread hand-off. The memory env has no disk to wait on; a write that
 * RocksDB would stall (no_slowdown) or a range delete goes to the writer.
 * Returns 1 when the local list was applied. */
static int
engine__apply_on_loop(struct engine *e)
{
    size_t n = 0;
    for (struct engine_write *w = e->local_head; w; w = w->next)
        if (w->op == ENGINE_DELETE_RANGE || ++n > ENGINE_LOOP_MAX)
            return 0; /* a big batch is better applied beside the loop's work */
    if (e->lbulk_head != NULL || e->pending != n) return 0; /* the writer has work */
    uint64_t t0 = uv_hrtime();
    int rc = engine__apply(e, e->local_head, n, 0, 1);
    if (rc == JUNO_EAGAIN) return 0;
    smetrics_write_group(n, uv_hrtime() - t0);
    struct engine_write *w = e->local_head;
    e->local_head = e->local_tail = NULL;
    while (w) {
        struct engine_write *next = w->next;
        w->next = NULL;
        e->pending--;
        engine__cache_written(e, w, rc);
        w->cb(w, rc);
        w = next;
    }
    return 1;
}

void
engine_kick(struct engine *e)
{
    /* callbacks may submit more: those too, up to a few rounds */
    for (int round = 0; round < 4 && e->env != NULL && e->local_head != NULL; round++)
        if (!engine__apply_on_loop(e)) break;
    if (e->local_head == NULL && e->lbulk_head == NULL) return;
    pthread_mutex_lock(&e->mu);
    engine__append(&e->queue_head, &e->queue_tail, e->local_head, e->local_tail);
    engine__append(&e->bulk_head, &e->bulk_tail, e->lbulk_head, e->lbulk_tail);
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    e->local_head = e->local_tail = NULL;
    e->lbulk_head = e->lbulk_tail = NULL;
}

void
engine_cache_stats(const struct engine *e, struct engine_cache_stats *out)
{
    out->hits = e->records.hits;
    out->misses = e->records.misses;
    out->evictions = e->records.evictions;
    out->bytes = e->records.bytes;
    out->entries = e->records.count;
}

size_t
engine_pending(const struct engine *e)
{
    return e->pending;
}

/* ---- open / close ---- */

static void
engine__release(struct engine *e)
{
    if (e->db) rocksdb_close(e->db);
    if (e->ropts) rocksdb_readoptions_destroy(e->ropts);
    if (e->cached) rocksdb_readoptions_destroy(e->cached);
    if (e->wopts) rocksdb_writeoptions_destroy(e->wopts);
    if (e->wopts_loop) rocksdb_writeoptions_destroy(e->wopts_loop);
    if (e->opts) rocksdb_options_destroy(e->opts);
    if (e->table) rocksdb_block_based_options_destroy(e->table);
    if (e->cache) rocksdb_cache_destroy(e->cache);
    if (e->filter) rocksdb_compactionfilter_destroy(e->filter);
    if (e->env) rocksdb_env_destroy(e->env);
    kvcache_deinit(&e->records);
    free(e);
}

int
engine_open(uv_loop_t *loop, const struct engine_config *cfg, struct engine **out, char *err,
            size_t errlen)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) return JUNO_ENOMEM;
    e->sync = cfg->sync;
    e->tombstone_grace_s = cfg->tombstone_grace_s;
    for (size_t i = 0; i < 65536; i++) atomic_init(&e->droppable[i], 0);
    atomic_init(&e->bulk_applied, 0);
    atomic_init(&e->bulk_synced, 0);

    if (kvcache_init(&e->records, cfg->record_cache_mb << 20) != 0) {
        free(e);
        return JUNO_ENOMEM;
    }
    e->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(e->opts, 1);
    rocksdb_options_increase_parallelism(e->opts, 2);
    rocksdb_options_optimize_level_style_compaction(e->opts, 64u << 20);
    rocksdb_options_set_info_log_level(e->opts, 2 /* WARN */);
    rocksdb_options_set_keep_log_file_num(e->opts, 4);
    /* Every Prepare reads its key first, and most keys written are new: a
     * whole-key bloom filter on the memtables answers "absent" without
     * searching the skip lists. */
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(e->opts, 0.1);
    rocksdb_options_set_memtable_whole_key_filtering(e->opts, 1);
    e->cache = rocksdb_cache_create_lru((cfg->cache_mb ? cfg->cache_mb : 64) << 20);
    e->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(e->table, e->cache);
    rocksdb_block_based_options_set_filter_policy(e->table,
                                                  rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_options_set_block_based_table_factory(e->opts, e->table);
    e->filter = rocksdb_compactionfilter_create(e, engine__filter_destroy, engine__filter,
                                                engine__filter_name);
    rocksdb_options_set_compaction_filter(e->opts, e->filter);
    if (cfg->memory) {
        /* In memory a memtable's size only trades the depth of the skip list
         * every write searches against flushes and compactions that cost no
         * I/O: smaller ones write faster (4 MiB: +8% sets at -P 16, against
         * 16 MiB; reads are mostly the records cache's). */
        rocksdb_options_set_write_buffer_size(e->opts, 4u << 20);
        e->env = rocksdb_create_mem_env();
        rocksdb_options_set_env(e->opts, e->env);
    }
    e->ropts = rocksdb_readoptions_create();
    e->cached = rocksdb_readoptions_create();
    rocksdb_readoptions_set_read_tier(e->cached, 1 /* kBlockCacheTier */);
    e->wopts = rocksdb_writeoptions_create();
    e->wopts_loop = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_no_slowdown(e->wopts_loop, 1);
    if (e->env != NULL) { /* a WAL in memory outlives nothing the memtables do not */
        rocksdb_writeoptions_disable_WAL(e->wopts, 1);
        rocksdb_writeoptions_disable_WAL(e->wopts_loop, 1);
    }

    char *rerr = NULL;
    e->db = rocksdb_open(e->opts, cfg->dir, &rerr);
    if (rerr != NULL) {
        snprintf(err, errlen, "%s", rerr);
        rocksdb_free(rerr);
        e->db = NULL;
        engine__release(e);
        return JUNO_EIO;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_cond_init(&e->sync_cv, NULL);
    uv_async_init(loop, &e->async, engine__on_async);
    e->async.data = e;
    e->syncer_on = e->sync == ENGINE_SYNC_BATCH && e->env == NULL; /* memory: nothing to sync */
    if (e->syncer_on && pthread_create(&e->syncer, NULL, engine__syncer_main, e) != 0) {
        snprintf(err, errlen, "cannot start the WAL sync thread");
        uv_close((uv_handle_t *)&e->async, NULL);
        engine__release(e);
        return JUNO_ENOMEM;
    }
    if (pthread_create(&e->writer, NULL, engine__writer_main, e) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        engine__stop_syncer(e);
        uv_close((uv_handle_t *)&e->async, NULL);
        engine__release(e);
        return JUNO_ENOMEM;
    }
    *out = e;
    return 0;
}

static void
engine__on_async_closed(uv_handle_t *h)
{
    engine__release(h->data);
}

void
engine_close(struct engine *e)
{
    engine_kick(e);
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->writer, NULL);
    engine__stop_syncer(e);
    engine__drain_done(e);
    char *err = NULL;
    if (e->env == NULL) rocksdb_flush_wal(e->db, 1, &err); /* the memory env has no fsync */
    if (err != NULL) {
        log_error("rocksdb WAL sync at close failed: %s", err);
        rocksdb_free(err);
    }
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    pthread_cond_destroy(&e->sync_cv);
    uv_close((uv_handle_t *)&e->async, engine__on_async_closed);
}

/* ---- reads ---- */

int
engine_get(struct engine *e, const uint8_t *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    char *v = rocksdb_get(e->db, e->ropts, (const char *)key, klen, vlen, &err);
    if (err != NULL) {
        log_error("rocksdb read failed: %s", err);
        rocksdb_free(err);
        return JUNO_EIO;
    }
    if (v == NULL) return JUNO_ENOTFOUND;
    *val = v;
    return 0;
}

int
engine_get_cached(struct engine *e, const uint8_t *key, size_t klen, char **val, size_t *vlen)
{
    const uint8_t *hit = kvcache_get(&e->records, key, klen, engine__tag(e, key, klen), vlen);
    if (hit != NULL) {
        *val = malloc(*vlen ? *vlen : 1);
        if (*val == NULL) return JUNO_ENOMEM;
        memcpy(*val, hit, *vlen);
        return 0;
    }
    char *err = NULL;
    char *v = rocksdb_get(e->db, e->cached, (const char *)key, klen, vlen, &err);
    if (err != NULL) {
        /* Status::Incomplete prints as "Result incomplete: ..." */
        int incomplete = strstr(err, "ncomplete") != NULL;
        if (!incomplete) log_error("rocksdb read failed: %s", err);
        rocksdb_free(err);
        return incomplete ? JUNO_EAGAIN : JUNO_EIO;
    }
    if (v == NULL) return JUNO_ENOTFOUND;
    (void)engine__cache_keep(e, key, klen, (const uint8_t *)v, *vlen);
    *val = v;
    return 0;
}

void
engine_free(void *p)
{
    rocksdb_free(p);
}

void
engine_set_droppable(struct engine *e, uint16_t shard, int droppable)
{
    unsigned char was = atomic_exchange(&e->droppable[shard], (unsigned char)(droppable != 0));
    /* compaction may have dropped records the cache still holds (and a shard
     * that leaves is served only while it drains) */
    if (was != (droppable != 0)) e->shard_gen[shard]++;
}

void
engine_compact(struct engine *e)
{
    rocksdb_compact_range(e->db, NULL, 0, NULL, 0);
}

char *
engine_property(struct engine *e, const char *name)
{
    return rocksdb_property_value(e->db, name);
}

int
engine_property_u64(struct engine *e, const char *name, uint64_t *out)
{
    return rocksdb_property_int(e->db, name, out) == 0 ? 0 : JUNO_ENOTFOUND;
}

/* ---- iteration ---- */

struct engine_iter {
    rocksdb_iterator_t *it;       /* owned */
    rocksdb_readoptions_t *ropts; /* owned */
    uint8_t end[16];
    size_t elen;
    int started;
};

struct engine_iter *
engine_iter_create(struct engine *e, const uint8_t *start, size_t slen, const uint8_t *end,
                   size_t elen)
{
    if (elen > sizeof(((struct engine_iter *)0)->end)) return NULL;
    struct engine_iter *it = calloc(1, sizeof(*it));
    if (it == NULL) return NULL;
    memcpy(it->end, end, elen);
    it->elen = elen;
    it->ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(it->ropts, (const char *)it->end, elen);
    rocksdb_readoptions_set_fill_cache(it->ropts, 0);
    it->it = rocksdb_create_iterator(e->db, it->ropts);
    rocksdb_iter_seek(it->it, (const char *)start, slen);
    return it;
}

int
engine_iter_next(struct engine_iter *it, const uint8_t **k, size_t *klen, const uint8_t **v,
                 size_t *vlen)
{
    if (it->started) rocksdb_iter_next(it->it);
    it->started = 1;
    if (!rocksdb_iter_valid(it->it)) return 0;
    *k = (const uint8_t *)rocksdb_iter_key(it->it, klen);
    *v = (const uint8_t *)rocksdb_iter_value(it->it, vlen);
    return 1;
}

void
engine_iter_destroy(struct engine_iter *it)
{
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ropts);
    free(it);
}
