/* engine_db.c: juno-store's RocksDB handle (see engine.h, engine_int.h):
 * options, open, reopen after a failure, close, the compaction filter,
 * reads, properties and iterators. */
#include "engine_int.h"

#include "error.h"
#include "log.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    uint64_t now_ms = record_now_ms();
    if (record_expired(&m, now_ms)) return 1;
    if (m.tombstone && m.last_modified / 1000000000u + e->tombstone_grace_s < now_ms / 1000)
        return 1;
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
    pthread_rwlock_destroy(&e->dblock);
    free(e->dir);
    free(e);
}

/* Open e->dir into e->db: read-write, or read-only. Returns 0, or JUNO_ENOSPC
 * or JUNO_EIO with RocksDB's reason in err. */
static int
engine__open_db(struct engine *e, int read_only, char *err, size_t errlen)
{
    char *rerr = NULL;
    e->db = read_only ? rocksdb_open_for_read_only(e->opts, e->dir, 0, &rerr)
                      : rocksdb_open(e->opts, e->dir, &rerr);
    if (rerr == NULL) return 0;
    snprintf(err, errlen, "%s", rerr);
    int rc = strstr(rerr, "No space left") || strstr(rerr, "NoSpace") ? JUNO_ENOSPC : JUNO_EIO;
    rocksdb_free(rerr);
    e->db = NULL;
    return rc;
}

/* Open read-write; when that fails for want of space, or read_only, open
 * read-only (state ENGINE_READ_ONLY, fail_rc JUNO_ENOSPC). Any other failure
 * (a lock another process holds, corruption) is returned as it is. Returns 0
 * or an error with the reason in err. */
static int
engine__open_some(struct engine *e, int read_only, char *err, size_t errlen)
{
    int rc = read_only ? JUNO_ENOSPC : engine__open_db(e, 0, err, errlen);
    if (rc == 0) {
        atomic_store(&e->state, ENGINE_OK);
        return 0;
    }
    if (rc != JUNO_ENOSPC) return rc;
    char why[512];
    snprintf(why, sizeof(why), "%s", read_only ? "no space left on device" : err);
    int ro = engine__open_db(e, 1, err, errlen);
    if (ro != 0) return rc; /* err: the read-only open's reason */
    log_warn("database opened read-only: writes are refused until it can be opened read-write "
             "dir=%s reason=\"%s\"",
             e->dir, why);
    atomic_store(&e->fail_rc, rc);
    atomic_store(&e->state, ENGINE_READ_ONLY);
    return 0;
}

int
engine__reopen(struct engine *e)
{
    /* wait out the readers (the loop never waits: it answers from the pool
     * meanwhile); iterators (shard streams, scans) keep the database busy
     * until they end */
    for (int i = 0; pthread_rwlock_trywrlock(&e->dblock) != 0; i++) {
        if (i >= 200) {
            log_info("database busy with reads: its reopen is tried again later dir=%s", e->dir);
            return JUNO_EAGAIN;
        }
        usleep(5000);
    }
    int iters = atomic_load(&e->iters);
    if (iters > 0) {
        pthread_rwlock_unlock(&e->dblock);
        log_info("database busy with %d shard scans or streams: its reopen is tried again "
                 "later dir=%s",
                 iters, e->dir);
        return JUNO_EAGAIN;
    }
    if (e->db != NULL) rocksdb_close(e->db); /* a failed engine has not synced since it failed */
    e->db = NULL;
    char err[512];
    int rc = engine__open_db(e, 0, err, sizeof(err));
    if (rc == 0) {
        atomic_store(&e->state, ENGINE_OK);
        atomic_fetch_add(&e->reopens, 1);
        log_info("database reopened read-write: writes are taken again dir=%s", e->dir);
    } else {
        log_warn("database could not be reopened read-write dir=%s reason=\"%s\"", e->dir, err);
        char err2[512];
        if (engine__open_db(e, 1, err2, sizeof(err2)) != 0)
            log_error("database could not be reopened at all: every request fails dir=%s "
                      "reason=\"%s\"",
                      e->dir, err2);
        atomic_store(&e->fail_rc, rc);
        atomic_store(&e->state, ENGINE_READ_ONLY);
    }
    pthread_rwlock_unlock(&e->dblock);
    return rc;
}

void
engine_reopen(struct engine *e)
{
    if (atomic_exchange(&e->reopen_busy, 1)) return; /* one at a time */
    pthread_mutex_lock(&e->mu);
    e->reopen_asked = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

enum engine_state
engine_state(struct engine *e, int *why)
{
    /* RocksDB's own background error (a flush or compaction that failed)
     * stops its writes until the database is reopened: refuse them first */
    uint64_t bg;
    if (atomic_load(&e->state) == ENGINE_OK && e->env == NULL &&
        engine_property_u64(e, "rocksdb.background-errors", &bg) == 0 && bg > 0) {
        log_error("rocksdb reports a background error (a flush or compaction failed): "
                  "refusing writes until the database is reopened");
        engine__fail(e, JUNO_EIO);
    }
    if (why) *why = atomic_load(&e->fail_rc);
    return (enum engine_state)atomic_load(&e->state);
}

enum engine_state
engine_state_now(const struct engine *e, int *why)
{
    enum engine_state st = (enum engine_state)atomic_load(&e->state);
    if (why) *why = st == ENGINE_OK ? 0 : atomic_load(&e->fail_rc);
    return st;
}

uint64_t
engine_reopens(const struct engine *e)
{
    return atomic_load(&e->reopens);
}

/* --rocksdb-options: RocksDB's own option string, applied over the options
 * juno chose (what it names replaces juno's choice; the rest stays). */
static int
engine__apply_options(rocksdb_options_t **opts, const char *str, char *err, size_t errlen)
{
    rocksdb_options_t *next = rocksdb_options_create();
    char *rerr = NULL;
    rocksdb_get_options_from_string(*opts, str, next, &rerr);
    if (rerr != NULL) {
        snprintf(err, errlen, "invalid --rocksdb-options '%s': %s", str, rerr);
        free(rerr);
        rocksdb_options_destroy(next);
        return JUNO_EINVAL;
    }
    rocksdb_options_destroy(*opts);
    *opts = next;
    return 0;
}

int
engine_open(uv_loop_t *loop, const struct engine_config *cfg, struct engine **out, char *err,
            size_t errlen)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) return JUNO_ENOMEM;
    if ((e->dir = strdup(cfg->dir)) == NULL) {
        free(e);
        return JUNO_ENOMEM;
    }
    pthread_rwlock_init(&e->dblock, NULL); /* glibc's default: readers first */
    atomic_init(&e->state, ENGINE_OK);
    atomic_init(&e->fail_rc, 0);
    atomic_init(&e->iters, 0);
    atomic_init(&e->reopens, 0);
    atomic_init(&e->reopen_done, 0);
    atomic_init(&e->reopen_busy, 0);
    e->sync = cfg->sync;
    e->tombstone_grace_s = cfg->tombstone_grace_s;
    for (size_t i = 0; i < 65536; i++) atomic_init(&e->droppable[i], 0);
    atomic_init(&e->bulk_applied, 0);
    atomic_init(&e->bulk_synced, 0);

    if (kvcache_init(&e->records, cfg->record_cache_mb << 20) != 0) {
        pthread_rwlock_destroy(&e->dblock);
        free(e->dir);
        free(e);
        return JUNO_ENOMEM;
    }
    e->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(e->opts, 1);
    rocksdb_options_increase_parallelism(e->opts, 2);
    rocksdb_options_optimize_level_style_compaction(e->opts, 64u << 20);
    /* RocksDB's LOG file: FATAL only. RocksDB 7.8 aborts the process on the
     * second failed append to it (an assertion in WritableFileWriter), and
     * it logs at WARN and ERROR exactly when the disk is full; juno-store
     * logs every failure RocksDB returns to it. */
    rocksdb_options_set_info_log_level(e->opts, 4 /* FATAL */);
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
    if (cfg->rocksdb_options != NULL && cfg->rocksdb_options[0] != '\0' &&
        engine__apply_options(&e->opts, cfg->rocksdb_options, err, errlen) != 0) {
        engine__release(e);
        return JUNO_EINVAL;
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

    int orc = engine__open_some(e, cfg->read_only && !cfg->memory, err, errlen);
    if (orc != 0) {
        engine__release(e);
        return orc;
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
    /* the memory env has no fsync; a failed engine must not sync (engine__sync) */
    if (e->env == NULL && e->db != NULL && atomic_load(&e->state) == ENGINE_OK)
        rocksdb_flush_wal(e->db, 1, &err);
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
    pthread_rwlock_rdlock(&e->dblock);
    char *v = e->db ? rocksdb_get(e->db, e->ropts, (const char *)key, klen, vlen, &err) : NULL;
    int nodb = e->db == NULL;
    pthread_rwlock_unlock(&e->dblock);
    if (nodb) return JUNO_EIO;
    if (err != NULL) {
        log_error("rocksdb read failed: %s", err);
        rocksdb_free(err);
        return JUNO_EIO;
    }
    if (v == NULL) return JUNO_ENOTFOUND;
    *val = v;
    return 0;
}

void
engine_multi_get(struct engine *e, size_t n, const uint8_t *const *keys, const size_t *klens,
                 char **vals, size_t *vlens, int *rcs)
{
    char *errs[ENGINE_MULTI_MAX];
    if (n > ENGINE_MULTI_MAX) n = ENGINE_MULTI_MAX; /* the caller's bound */
    pthread_rwlock_rdlock(&e->dblock);
    if (e->db != NULL)
        rocksdb_multi_get(e->db, e->ropts, n, (const char *const *)keys, klens, vals, vlens, errs);
    int nodb = e->db == NULL;
    pthread_rwlock_unlock(&e->dblock);
    for (size_t i = 0; i < n; i++) {
        if (nodb) {
            vals[i] = NULL;
            rcs[i] = JUNO_EIO;
        } else if (errs[i] != NULL) {
            log_error("rocksdb read failed: %s", errs[i]);
            rocksdb_free(errs[i]);
            if (vals[i] != NULL) rocksdb_free(vals[i]);
            vals[i] = NULL;
            rcs[i] = JUNO_EIO;
        } else {
            rcs[i] = vals[i] != NULL ? 0 : JUNO_ENOTFOUND;
        }
    }
}

/* A read the records cache does not hold is first tried on the loop against
 * RocksDB's memtables and block cache (no I/O). While the data fits the
 * block cache that answers most reads; once it is many times the cache, most
 * tries miss, and each miss costs a bloom filter, index and cache lookup per
 * level that the pool thread then does again (5% of a store's CPU under
 * random updates at 5 M records). So the tries are counted in windows of
 * ENGINE_PROBE_WINDOW: after a window where fewer than 1 in ENGINE_PROBE_MIN
 * answered, only 1 read in ENGINE_PROBE_RARE is tried, enough to see the
 * cache warm again. */
#define ENGINE_PROBE_WINDOW 256
#define ENGINE_PROBE_MIN    8
#define ENGINE_PROBE_RARE   16 /* a power of two */

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
    if (e->probe_rare && (e->probe_seq++ & (ENGINE_PROBE_RARE - 1)) != 0) return JUNO_EAGAIN;
    char *err = NULL;
    if (pthread_rwlock_tryrdlock(&e->dblock) != 0) return JUNO_EAGAIN; /* a reopen: ask the pool */
    char *v = e->db ? rocksdb_get(e->db, e->cached, (const char *)key, klen, vlen, &err) : NULL;
    int nodb = e->db == NULL;
    pthread_rwlock_unlock(&e->dblock);
    if (nodb) return JUNO_EIO;
    /* Status::Incomplete prints as "Result incomplete: ..." */
    int incomplete = err != NULL && strstr(err, "ncomplete") != NULL;
    e->probe_ok += !incomplete;
    if (++e->probe_n == ENGINE_PROBE_WINDOW) {
        e->probe_rare = e->probe_ok * ENGINE_PROBE_MIN < e->probe_n;
        e->probe_n = e->probe_ok = 0;
    }
    if (err != NULL) {
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
    pthread_rwlock_rdlock(&e->dblock);
    if (e->db != NULL) rocksdb_compact_range(e->db, NULL, 0, NULL, 0);
    pthread_rwlock_unlock(&e->dblock);
}

int
engine_checkpoint(struct engine *e, const char *dir, char *err, size_t errlen)
{
    char *rerr = NULL;
    pthread_rwlock_rdlock(&e->dblock);
    rocksdb_checkpoint_t *cp = e->db ? rocksdb_checkpoint_object_create(e->db, &rerr) : NULL;
    if (cp != NULL) {
        rocksdb_checkpoint_create(cp, dir, 0 /* always flush the memtables first */, &rerr);
        rocksdb_checkpoint_object_destroy(cp);
    }
    pthread_rwlock_unlock(&e->dblock);
    if (rerr == NULL && cp != NULL) return 0;
    snprintf(err, errlen, "%s", rerr ? rerr : "the database is not open");
    rocksdb_free(rerr);
    return JUNO_EIO;
}

char *
engine_property(struct engine *e, const char *name)
{
    if (pthread_rwlock_tryrdlock(&e->dblock) != 0) return NULL;
    char *v = e->db ? rocksdb_property_value(e->db, name) : NULL;
    pthread_rwlock_unlock(&e->dblock);
    return v;
}

int
engine_property_u64(struct engine *e, const char *name, uint64_t *out)
{
    if (pthread_rwlock_tryrdlock(&e->dblock) != 0) return JUNO_ENOTFOUND;
    int rc = e->db && rocksdb_property_int(e->db, name, out) == 0 ? 0 : JUNO_ENOTFOUND;
    pthread_rwlock_unlock(&e->dblock);
    return rc;
}

/* ---- iteration ---- */

struct engine_iter {
    struct engine *e;             /* borrowed */
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
    pthread_rwlock_rdlock(&e->dblock);
    if (e->db == NULL) {
        pthread_rwlock_unlock(&e->dblock);
        free(it);
        return NULL;
    }
    it->e = e;
    atomic_fetch_add(&e->iters, 1); /* no reopen until it is destroyed */
    memcpy(it->end, end, elen);
    it->elen = elen;
    it->ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(it->ropts, (const char *)it->end, elen);
    rocksdb_readoptions_set_fill_cache(it->ropts, 0);
    it->it = rocksdb_create_iterator(e->db, it->ropts);
    rocksdb_iter_seek(it->it, (const char *)start, slen);
    pthread_rwlock_unlock(&e->dblock);
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
    atomic_fetch_sub(&it->e->iters, 1);
    free(it);
}
