/* smetrics.c: juno-store's metrics and their HTTP endpoint (see smetrics.h). */
#include "smetrics.h"
#include "store.h"
#include "tls.h"

#include "error.h"
#include "httpd.h"
#include "metrics.h"

/* RocksDB integer properties exported as gauges. */
static const struct {
    const char *property, *name, *help;
} rocksdb_gauges[] = {
    {"rocksdb.estimate-num-keys", "juno_store_rocksdb_estimate_num_keys",
     "RocksDB's estimate of the keys stored (records and tombstones; overwrites and deletes not "
     "yet compacted make it approximate)."},
    {"rocksdb.total-sst-files-size", "juno_store_rocksdb_total_sst_files_size_bytes",
     "Size of every SST file of every version."},
    {"rocksdb.estimate-live-data-size", "juno_store_rocksdb_estimate_live_data_size_bytes",
     "RocksDB's estimate of the live data's size."},
    {"rocksdb.cur-size-all-mem-tables", "juno_store_rocksdb_cur_size_all_mem_tables_bytes",
     "Size of the active and unflushed immutable memtables."},
    {"rocksdb.block-cache-usage", "juno_store_rocksdb_block_cache_usage_bytes",
     "Memory held by entries in the block cache."},
    {"rocksdb.num-running-compactions", "juno_store_rocksdb_num_running_compactions",
     "Compactions running now."},
    {"rocksdb.num-running-flushes", "juno_store_rocksdb_num_running_flushes",
     "Memtable flushes running now."},
    {"rocksdb.estimate-pending-compaction-bytes",
     "juno_store_rocksdb_estimate_pending_compaction_bytes",
     "Bytes compaction would rewrite to bring every level under its target size."},
    {"rocksdb.background-errors", "juno_store_rocksdb_background_errors",
     "Background errors (flush, compaction, WAL) since the database opened; not 0 means "
     "RocksDB may have stopped writing."},
};
#define NROCKS (sizeof(rocksdb_gauges) / sizeof(rocksdb_gauges[0]))

static struct {
    struct store *s; /* borrowed */
    struct metrics *r;
    struct metric_index req, lat, scanned; /* loop thread */
    struct metric *conns_open, *conns_accepted, *bad_frames, *inflight, *pending, *locks;
    struct metric *groups, *writes, *syncs, *sync_time, *group_size, *group_time;
    struct metric *map_version, *shards_owned, *shards;
    struct metric *rc_hits, *rc_misses, *rc_evictions, *rc_bytes, *rc_entries;
    struct metric *pool_reads, *pool_batches;
    struct metric *disk_free, *disk_size, *disk_min, *disk_full, *disk_events, *refused;
    struct metric *db_state, *db_reopens;
    struct metric *rejoining;
    struct metric *rocks[NROCKS];
    struct metric *tls_fail[2][TLS_R_COUNT]; /* role: server, stream */
    struct metric_labels ops;
    struct httpd *httpd;
} sm;

static const char *
op_label(int op)
{
    return sm.ops.v[op & 0xFF];
}

static void
sm_collect(void *arg)
{
    (void)arg;
    struct store *s = sm.s;
    metric_set(sm.inflight, (int64_t)server_inflight(s));
    metric_set(sm.locks, (int64_t)s->locks.count);
    if (s->map != NULL) metric_set(sm.map_version, (int64_t)s->map->version);
    uint32_t owned = 0;
    for (uint32_t i = 0; s->owned != NULL && i < s->nshards; i++) owned += s->owned[i] != 0;
    metric_set(sm.shards_owned, owned);
    metric_set(sm.shards, s->nshards);
    metric_set(sm.disk_free, (int64_t)s->disk.free_bytes);
    metric_set(sm.disk_size, (int64_t)s->disk.size_bytes);
    metric_set(sm.disk_min, (int64_t)s->disk.min_free);
    metric_set(sm.disk_full, disk_full(s));
    metric_set(sm.disk_events, (int64_t)s->disk.events);
    metric_set(sm.refused, (int64_t)s->disk.refused);
    metric_set(sm.rejoining, s->rejoin.rejoining);
    metric_set(sm.pool_reads, (int64_t)s->stats.pool_reads);
    metric_set(sm.pool_batches, (int64_t)s->stats.pool_batches);
    if (s->engine == NULL) return; /* closed at the end of a drain */
    metric_set(sm.db_state, (int64_t)engine_state_now(s->engine, NULL));
    metric_set(sm.db_reopens, (int64_t)engine_reopens(s->engine));
    metric_set(sm.pending, (int64_t)engine_pending(s->engine));
    struct engine_cache_stats cs;
    engine_cache_stats(s->engine, &cs); /* counters kept by the engine: set, not added */
    metric_set(sm.rc_hits, (int64_t)cs.hits);
    metric_set(sm.rc_misses, (int64_t)cs.misses);
    metric_set(sm.rc_evictions, (int64_t)cs.evictions);
    metric_set(sm.rc_bytes, (int64_t)cs.bytes);
    metric_set(sm.rc_entries, (int64_t)cs.entries);
    for (size_t i = 0; i < NROCKS; i++) {
        uint64_t v;
        if (engine_property_u64(s->engine, rocksdb_gauges[i].property, &v) == 0)
            metric_set(sm.rocks[i], (int64_t)v);
    }
}

static int
sm_render(void *arg, char **body, size_t *len)
{
    (void)arg;
    return metrics_render(sm.r, body, len);
}

int
smetrics_init(struct store *s)
{
    static const uint64_t group_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
    sm.s = s;
    sm.r = metrics_create(2);
    if (sm.r == NULL) return JUNO_ENOMEM;
    struct metrics *r = sm.r;
    metric_labels_init(&sm.ops, wire_opcode_name, "unknown");
    struct metric_family *req = metrics_counter(
        r, "juno_store_requests_total",
        "Requests answered, by operation and reply status (lib/wire.h names).", "op,status");
    struct metric_family *lat = metrics_histogram(
        r, "juno_store_request_duration_seconds",
        "Time from a request's decoding to its reply, by operation (requests refused at once "
        "are not timed).",
        "op", metrics_latency_ns, METRICS_LATENCY_N, METRICS_NS_PER_S);
    sm.inflight = metrics_series(metrics_gauge(
        r, "juno_store_requests_in_flight", "Requests being processed, not yet answered.", NULL));
    sm.conns_open =
        metrics_series(metrics_gauge(r, "juno_store_connections_open", "Connections open.", NULL));
    sm.conns_accepted = metrics_series(
        metrics_counter(r, "juno_store_connections_accepted_total", "Connections accepted.", NULL));
    sm.bad_frames = metrics_series(
        metrics_counter(r, "juno_store_bad_frames_total",
                        "Connections closed because their bytes were not JunoDB frames.", NULL));
    sm.locks = metrics_series(
        metrics_gauge(r, "juno_store_record_locks", "Record locks held (Prepared writes).", NULL));
    sm.pending = metrics_series(metrics_gauge(r, "juno_store_writes_pending",
                                              "Writes queued for or in the writer thread.", NULL));
    sm.groups = metrics_series(
        metrics_counter(r, "juno_store_write_groups_total",
                        "Write groups applied as one RocksDB WriteBatch (group commit).", NULL));
    sm.writes = metrics_series(
        metrics_counter(r, "juno_store_writes_total", "Writes applied in write groups.", NULL));
    sm.syncs = metrics_series(metrics_counter(
        r, "juno_store_wal_syncs_total",
        "WAL fsyncs (--sync batch: one for the groups applied since the last; always: one per "
        "write).",
        NULL));
    sm.sync_time = metrics_series(
        metrics_histogram(r, "juno_store_wal_sync_duration_seconds", "Time of one WAL fsync.", NULL,
                          metrics_latency_ns, METRICS_LATENCY_N, METRICS_NS_PER_S));
    sm.group_size = metrics_series(metrics_histogram(
        r, "juno_store_write_group_size", "Writes per write group.", NULL, group_bounds, 12, 1));
    sm.group_time = metrics_series(metrics_histogram(
        r, "juno_store_write_group_duration_seconds",
        "Time to apply one write group (with --sync always, its fsyncs included).", NULL,
        metrics_latency_ns, METRICS_LATENCY_N, METRICS_NS_PER_S));
    sm.map_version = metrics_series(
        metrics_gauge(r, "juno_store_map_version", "Version of the shard map in use.", NULL));
    sm.shards_owned = metrics_series(metrics_gauge(
        r, "juno_store_shards_owned", "Shards the map gives this store's (zone, node).", NULL));
    sm.shards = metrics_series(
        metrics_gauge(r, "juno_store_shards", "Shards in the cluster (the map's S).", NULL));
    sm.rc_hits = metrics_series(
        metrics_counter(r, "juno_store_record_cache_hits_total",
                        "Reads on the loop answered by the records cache (--record-cache).", NULL));
    sm.rc_misses = metrics_series(metrics_counter(
        r, "juno_store_record_cache_misses_total",
        "Reads on the loop the records cache did not hold (RocksDB answered).", NULL));
    sm.pool_reads = metrics_series(metrics_counter(
        r, "juno_store_pool_reads_total",
        "Reads memory could not answer (records cache, memtables, block cache), made on the "
        "thread pool: from the page cache or the disk.",
        NULL));
    sm.pool_batches = metrics_series(metrics_counter(
        r, "juno_store_pool_read_batches_total",
        "Batches those reads went to the thread pool in (one MultiGet each).", NULL));
    sm.rc_evictions = metrics_series(
        metrics_counter(r, "juno_store_record_cache_evictions_total",
                        "Records dropped from the cache to stay in its budget.", NULL));
    sm.rc_bytes = metrics_series(metrics_gauge(r, "juno_store_record_cache_bytes",
                                               "Memory charged to the records cache.", NULL));
    sm.rc_entries = metrics_series(
        metrics_gauge(r, "juno_store_record_cache_entries", "Records in the cache.", NULL));
    sm.disk_free = metrics_series(metrics_gauge(
        r, "juno_store_disk_free_bytes",
        "Free space of the data directory's filesystem, as statvfs gives it to the store "
        "(0 with --memory).",
        NULL));
    sm.disk_size = metrics_series(metrics_gauge(r, "juno_store_disk_size_bytes",
                                                "Size of the data directory's filesystem.", NULL));
    sm.disk_min = metrics_series(
        metrics_gauge(r, "juno_store_disk_min_free_bytes",
                      "The floor (--min-free-space): below it new writes are refused.", NULL));
    sm.disk_full = metrics_series(metrics_gauge(
        r, "juno_store_disk_full",
        "1 while writes are refused for want of space (below the floor, or the database failed "
        "a write or was opened read-only for it).",
        NULL));
    sm.disk_events = metrics_series(metrics_counter(
        r, "juno_store_disk_full_events_total",
        "Times the store began to refuse writes (disk full, database failed).", NULL));
    sm.refused = metrics_series(
        metrics_counter(r, "juno_store_writes_refused_total",
                        "Write requests refused because the disk is full or the database failed "
                        "(SSOutofResource or SSError).",
                        NULL));
    sm.db_state = metrics_series(metrics_gauge(
        r, "juno_store_database_state",
        "0: read-write; 1: failed a write (writes refused until reopened); 2: open read-only.",
        NULL));
    sm.db_reopens = metrics_series(
        metrics_counter(r, "juno_store_database_reopens_total",
                        "Times the database was reopened read-write after a failure.", NULL));
    struct metric_family *scanned = metrics_counter(
        r, "juno_store_scanned_records_total",
        "Records read by shard scans, by operation (shard_info, shard_tree, checkpoint): the "
        "cost of juno-repair's and juno-backup's comparisons on this store.",
        "op");
    sm.rejoining = metrics_series(metrics_gauge(
        r, "juno_store_rejoining",
        "1 while the store rejoins after being away longer than --rejoin-after: proxies' reads "
        "and writes are refused until juno-repair has compared its shards.",
        NULL));
    int ok = scanned && sm.rejoining && req && lat && sm.inflight && sm.conns_open &&
             sm.conns_accepted && sm.bad_frames && sm.locks && sm.pending && sm.groups &&
             sm.writes && sm.syncs && sm.sync_time && sm.group_size && sm.group_time &&
             sm.map_version && sm.shards_owned && sm.shards && sm.rc_hits && sm.rc_misses &&
             sm.rc_evictions && sm.rc_bytes && sm.rc_entries && sm.disk_free && sm.disk_size &&
             sm.disk_min && sm.disk_full && sm.disk_events && sm.refused && sm.db_state &&
             sm.db_reopens && sm.pool_reads && sm.pool_batches;
    for (size_t i = 0; ok && i < NROCKS; i++)
        ok = (sm.rocks[i] = metrics_series(
                  metrics_gauge(r, rocksdb_gauges[i].name, rocksdb_gauges[i].help, NULL))) != NULL;
    struct metric *build = metrics_series(
        metrics_gauge(r, "juno_store_build_info", "The juno version, as a label.", "version"),
        JUNO_VERSION);
    metric_set(build, 1);
    if (ok && s->cfg.tls_cert != NULL) { /* every series from the start: zeros to graph */
        static const char *const roles[2] = {"server", "stream"};
        struct metric_family *f = metrics_counter(
            r, "juno_store_tls_handshake_failures_total",
            "TLS handshakes refused (role server: connections to this store) or failed (role "
            "stream: shard streams to other stores), by reason (docs/security.md).",
            "role,reason");
        for (int i = 0; i < 2; i++)
            for (int j = 0; ok && j < TLS_R_COUNT; j++)
                ok = (sm.tls_fail[i][j] = metrics_series(f, roles[i], tls_reason_name(j))) != NULL;
    }
    if (!ok || build == NULL || metrics_collector(r, sm_collect, NULL) != 0) return JUNO_ENOMEM;
    metric_index_init(&sm.req, req, op_label, wire_status_name);
    metric_index_init(&sm.lat, lat, op_label, NULL);
    metric_index_init(&sm.scanned, scanned, op_label, NULL);
    return 0;
}

int
smetrics_listen(struct store *s, const char *host, uint16_t port, char *err, size_t errlen)
{
    return httpd_start(s->loop, host, port, sm_render, NULL, &sm.httpd, err, errlen);
}

void
smetrics_stop(void)
{
    httpd_close(sm.httpd);
    sm.httpd = NULL;
}

void
smetrics_deinit(void)
{
    metric_index_deinit(&sm.req);
    metric_index_deinit(&sm.lat);
    metric_index_deinit(&sm.scanned);
    metrics_destroy(sm.r);
    sm.r = NULL;
}

void
smetrics_reply(int opcode, int status)
{
    if (sm.r != NULL)
        metric_inc(metric_index_get(&sm.req, (uint8_t)opcode, (uint8_t)status), SM_LOOP);
}

void
smetrics_latency(int opcode, uint64_t t0)
{
    if (sm.r == NULL) return;
    uint64_t now = uv_hrtime();
    metric_observe(metric_index_get(&sm.lat, (uint8_t)opcode, 0), SM_LOOP, now > t0 ? now - t0 : 0);
}

void
smetrics_scanned(int opcode, uint64_t records)
{
    if (sm.r != NULL && records > 0)
        metric_add(metric_index_get(&sm.scanned, (uint8_t)opcode, 0), SM_LOOP, records);
}

void
smetrics_conn(int delta)
{
    if (delta > 0) {
        metric_inc(sm.conns_accepted, SM_LOOP);
        metric_add(sm.conns_open, SM_LOOP, 1);
    } else {
        metric_sub(sm.conns_open, SM_LOOP, 1);
    }
}

void
smetrics_bad_frame(void)
{
    metric_inc(sm.bad_frames, SM_LOOP);
}

void
smetrics_tls_refused(int stream, int reason)
{
    if (reason >= 0 && reason < TLS_R_COUNT) metric_inc(sm.tls_fail[stream != 0][reason], SM_LOOP);
}

void
smetrics_write_group(size_t n, uint64_t ns)
{
    metric_inc(sm.groups, SM_WRITER);
    metric_add(sm.writes, SM_WRITER, n);
    metric_observe(sm.group_size, SM_WRITER, n);
    metric_observe(sm.group_time, SM_WRITER, ns);
}

void
smetrics_wal_sync(uint64_t ns)
{
    metric_inc(sm.syncs, SM_WRITER);
    metric_observe(sm.sync_time, SM_WRITER, ns);
}
