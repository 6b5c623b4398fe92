/* engine.c: RocksDB behind a group-committing writer thread (see engine.h):
 * the writer and syncer threads and the loop's side of writes. Opening,
 * reopening, reads and iterators are in engine_db.c. */
#include "engine_int.h"

#include "smetrics.h"

#include "error.h"
#include "log.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#define ENGINE_GROUP_MAX 4096 /* writes per group: bounds the latency of one fsync batch */
#define ENGINE_BULK_MAX  256  /* bulk writes per group: bounds what a copy adds to a group */
#define ENGINE_LOOP_MAX  16   /* --memory: most writes of a loop turn applied on the loop */

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
        if (on_loop && strstr(err, "ncomplete") != NULL) {
            rocksdb_free(err);
            return JUNO_EAGAIN;
        }
        int rc = strstr(err, "No space left") || strstr(err, "NoSpace") ? JUNO_ENOSPC : JUNO_EIO;
        engine__fail(e, rc); /* first: the syncer must not fsync the failed WAL */
        log_error("rocksdb write failed: %s", err);
        rocksdb_free(err);
        return rc;
    }
    return 0;
}

void
engine__fail(struct engine *e, int rc)
{
    atomic_store(&e->fail_rc, rc);
    int ok = ENGINE_OK;
    atomic_compare_exchange_strong(&e->state, &ok, ENGINE_FAILED);
}

/* fsync the WAL: everything written before is durable. Returns 0, or why
 * not (the engine's failure: RocksDB aborts the process on an fsync of a WAL
 * whose append failed, so a failed engine never syncs). */
static int
engine__sync(struct engine *e)
{
    if (e->env != NULL) return 0; /* the memory env has no fsync (nor a disk to lose) */
    pthread_rwlock_rdlock(&e->dblock);
    if (atomic_load(&e->state) != ENGINE_OK) {
        pthread_rwlock_unlock(&e->dblock);
        return atomic_load(&e->fail_rc);
    }
    char *err = NULL;
    uint64_t t0 = uv_hrtime();
    rocksdb_flush_wal(e->db, 1, &err);
    pthread_rwlock_unlock(&e->dblock);
    if (err != NULL) {
        int rc = strstr(err, "No space left") || strstr(err, "NoSpace") ? JUNO_ENOSPC : JUNO_EIO;
        engine__fail(e, rc);
        log_error("rocksdb WAL sync failed: %s", err);
        rocksdb_free(err);
        return rc;
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
 * range delete). Sets each write's applied flag; returns 0, JUNO_EIO or
 * JUNO_ENOSPC (also at once, writing nothing, when the engine is not
 * ENGINE_OK), or (on_loop) JUNO_EAGAIN when RocksDB would have stalled and
 * nothing was written. */
static int
engine__apply(struct engine *e, struct engine_write *batch, size_t n, int sync, int on_loop)
{
    if (atomic_load(&e->state) != ENGINE_OK) return atomic_load(&e->fail_rc);
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

void *
engine__writer_main(void *arg)
{
    struct engine *e = arg;
    atomic_store(&e->writer_tid, (int)syscall(SYS_gettid));
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (e->queue_head == NULL && e->bulk_head == NULL && !e->stopping && !e->reopen_asked)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->queue_head == NULL && e->bulk_head == NULL && e->stopping) break;
        if (e->reopen_asked && !e->stopping) {
            /* between groups: no write of this thread is using the database */
            e->reopen_asked = 0;
            pthread_mutex_unlock(&e->mu);
            if (engine__reopen(e) == 0) atomic_store(&e->reopen_done, 1);
            atomic_store(&e->reopen_busy, 0);
            pthread_mutex_lock(&e->mu);
            uv_async_send(&e->async); /* the loop forgets its cache, sees the new state */
            continue;
        }
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
void *
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
void
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
int
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
 * (a skipped PUT_IF_NEWER, a delete, a failure, a tombstone, a bulk write)
 * drops the key.
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
    /* a copied record (bulk) only drops the key: a move's records would
     * push the foreground's out of the cache, and nobody reads them yet */
    if (status != 0 || w->bulk || !(w->op == ENGINE_PUT || w->applied) ||
        engine__cache_keep(e, w->key, w->klen, w->val, w->vlen) != 0)
        kvcache_del(&e->records, w->key, w->klen);
}

void
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

void
engine__on_async(uv_async_t *a)
{
    struct engine *e = a->data;
    if (atomic_exchange(&e->reopen_done, 0)) {
        /* a new handle: forget every cached record (a write that failed may
         * have reached the WAL, and is there again after the reopen) */
        for (size_t sh = 0; sh < 65536; sh++) e->shard_gen[sh]++;
    }
    engine__drain_done(e);
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

int
engine_writer_tid(const struct engine *e)
{
    return atomic_load(&e->writer_tid);
}

size_t
engine_pending(const struct engine *e)
{
    return e->pending;
}
