/* main.c: juno-store, the storage daemon.
 *
 * defaults → options → config check (map, zone, node, TLS files) → log →
 * RocksDB → listener → loop → drain (SIGTERM) → exit 0. SIGHUP reopens the
 * log, re-reads the map file and the TLS files.
 */
#include "copyprio.h"
#include "smetrics.h"
#include "store.h"

#include "cli.h"
#include "error.h"
#include "etcdopt.h"
#include "log.h"
#include "net.h"
#include "tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: juno-store --map FILE | --etcd URL [--data DIR | --memory] [options]\n"
    "\n"
    "The juno storage daemon: serves the shards that the shard map gives its\n"
    "(zone, node) from one RocksDB, to juno-proxy and juno-migrate.\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT     address to serve (default 127.0.0.1:9001)\n"
    "  -m, --map FILE             the shard map (JSON from juno-ring); re-read on SIGHUP\n"
    "  -e, --etcd URL[,URL...]    follow the live map in etcd (/juno/CLUSTER/map) and\n"
    "                             register under /juno/CLUSTER/stores/ZONE/NODE (lease)\n"
    "  -c, --cluster NAME         the cluster in etcd (default juno)\n" ETCDOPT_HELP_DAEMON
    "  -z, --zone NAME            this store's zone (default: found by --listen in the map)\n"
    "  -N, --node NAME            this store's node name (default: found by --listen)\n"
    "  -d, --data DIR             RocksDB directory (created if missing)\n"
    "  -M, --memory               keep everything in memory; nothing is written to disk\n"
    "  -s, --sync MODE            none | batch | always (default batch): when the WAL is\n"
    "                             fsynced: never, once per group of writes, once per write\n"
    "  -t, --threads N            reader threads (default 4)\n"
    "      --record-cache MB      memory for the records read and written last, kept in\n"
    "                             front of RocksDB; 0 = none (default 64)\n"
    "      --block-cache MB       RocksDB's block cache: the data blocks read last\n"
    "                             (default 64)\n"
    "      --rocksdb-options STR  RocksDB options over juno's own, as RocksDB's option\n"
    "                             string (\"max_background_jobs=4;compression=kLZ4Compression\");\n"
    "                             an unknown name or a bad value refuses to start\n"
    "      --min-free-space SIZE  refuse new writes (SSOutofResource) while the data\n"
    "                             directory's filesystem has less free: bytes with K, M,\n"
    "                             G or T (512M), or a percentage (10%); reads go on\n"
    "                             (default: 5% of the filesystem, at most 2G)\n"
    "      --lock-ms MS           record lock lifetime after Prepare (default 600)\n"
    "      --max-frame BYTES      largest message accepted (default 67108864)\n"
    "      --max-namespace BYTES  namespace length limit (default 64, at most 64)\n"
    "      --max-key BYTES        key length limit (default 256)\n"
    "      --max-value BYTES      value length limit (default 33554432: the RESP\n"
    "                             face's; the proxy's --max-value guards the JunoDB face)\n"
    "      --max-ttl SECONDS      TTL limit (default 259200)\n"
    "      --tombstone-grace SEC  compaction keeps tombstones this long (default 86400)\n"
    "      --rejoin-after SEC     started after being away (not serving) longer than\n"
    "                             this, refuse proxies until juno-repair has compared\n"
    "                             this store's shards with the other zones (default:\n"
    "                             half of --tombstone-grace)\n"
    "      --idle-timeout SEC     close connections idle this long; 0 = never (default 0)\n"
    "      --busy-copy-rate MB/S  while foreground requests arrive, a shard copy to\n"
    "                             another store (juno-migrate) slows to this rate;\n"
    "                             0 = never slow down (default 8)\n"
    "      --log-level LEVEL      debug | info | warn | error (default info)\n"
    "      --log-file FILE        log here instead of stderr; reopened on SIGHUP\n"
    "      --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                             (default: off)\n"
    "      --tls-cert FILE        serve TLS 1.2/1.3 with this certificate chain (PEM);\n"
    "                             needs --tls-key and --tls-ca\n"
    "      --tls-key FILE         the certificate's private key (PEM)\n"
    "      --tls-ca FILE          the cluster CA (PEM): every peer (proxy, migrator,\n"
    "                             store) must present a certificate it signed, and\n"
    "                             shard streams to other stores check theirs against\n"
    "                             it, presenting --tls-cert\n"
    "      --tls-handshake-timeout MS\n"
    "                             a TLS handshake not finished within MS is cut\n"
    "                             (default 10000)\n"
    "      --tls-max-handshakes N TLS handshakes in progress at once; a connection\n"
    "                             beyond them is refused at once (default 256)\n"
    "      --insecure             serve a non-loopback address without TLS (refused\n"
    "                             otherwise: anyone who can reach the port could\n"
    "                             write to the store, bypassing the proxies)\n"
    "      --check-config         check options, map and TLS files, print the\n"
    "                             result, exit\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n"
    "\n"
    "Signals: TERM/INT drain in-flight requests and exit 0 (a second INT exits at\n"
    "once); HUP reopens the log file, re-reads the map and the TLS files (open\n"
    "connections keep theirs).\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
    OPT_LOCK_MS = 256,
    OPT_MAX_FRAME,
    OPT_MAX_NS,
    OPT_MAX_KEY,
    OPT_MAX_VALUE,
    OPT_MAX_TTL,
    OPT_GRACE,
    OPT_REJOIN_AFTER,
    OPT_IDLE,
    OPT_LOG_LEVEL,
    OPT_LOG_FILE,
    OPT_METRICS,
    OPT_BUSY_COPY_RATE,
    OPT_RECORD_CACHE,
    OPT_BLOCK_CACHE,
    OPT_ROCKSDB_OPTIONS,
    OPT_MIN_FREE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_TLS_HS_TIMEOUT,
    OPT_TLS_MAX_HS,
    OPT_INSECURE,
    OPT_CHECK
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"map", required_argument, NULL, 'm'},
    {"etcd", required_argument, NULL, 'e'},
    {"cluster", required_argument, NULL, 'c'},
    {"zone", required_argument, NULL, 'z'},
    {"node", required_argument, NULL, 'N'},
    {"data", required_argument, NULL, 'd'},
    {"memory", no_argument, NULL, 'M'},
    {"sync", required_argument, NULL, 's'},
    {"threads", required_argument, NULL, 't'},
    {"lock-ms", required_argument, NULL, OPT_LOCK_MS},
    {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
    {"max-namespace", required_argument, NULL, OPT_MAX_NS},
    {"max-key", required_argument, NULL, OPT_MAX_KEY},
    {"max-value", required_argument, NULL, OPT_MAX_VALUE},
    {"max-ttl", required_argument, NULL, OPT_MAX_TTL},
    {"tombstone-grace", required_argument, NULL, OPT_GRACE},
    {"rejoin-after", required_argument, NULL, OPT_REJOIN_AFTER},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"busy-copy-rate", required_argument, NULL, OPT_BUSY_COPY_RATE},
    {"record-cache", required_argument, NULL, OPT_RECORD_CACHE},
    {"block-cache", required_argument, NULL, OPT_BLOCK_CACHE},
    {"rocksdb-options", required_argument, NULL, OPT_ROCKSDB_OPTIONS},
    {"min-free-space", required_argument, NULL, OPT_MIN_FREE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-handshake-timeout", required_argument, NULL, OPT_TLS_HS_TIMEOUT},
    {"tls-max-handshakes", required_argument, NULL, OPT_TLS_MAX_HS},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"check-config", no_argument, NULL, OPT_CHECK},
    ETCDOPT_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Find this store in map m: by --zone/--node if given, else by --listen address. */
static int
find_self(const struct store *s, const struct map *m, int *zone, int *node, char *err,
          size_t errlen)
{
    char listen[300];
    snprintf(listen, sizeof(listen), "%s:%u", s->cfg.listen_host, s->cfg.listen_port);
    for (uint32_t z = 0; z < m->nzones; z++) {
        if (s->cfg.zone && strcmp(m->zones[z].name, s->cfg.zone) != 0) continue;
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++) {
            const struct map_node *n = &m->zones[z].nodes[i];
            if (s->cfg.node ? strcmp(n->name, s->cfg.node) == 0 : strcmp(n->addr, listen) == 0) {
                *zone = (int)z;
                *node = (int)i;
                return 0;
            }
        }
    }
    if (s->cfg.zone && map_zone_find(m, s->cfg.zone) < 0)
        snprintf(err, errlen, "zone \"%s\" is not in the map", s->cfg.zone);
    else if (s->cfg.node)
        snprintf(err, errlen, "node \"%s\" is not in zone \"%s\" of the map", s->cfg.node,
                 s->cfg.zone ? s->cfg.zone : "(any)");
    else
        snprintf(err, errlen, "no node of the map has address %s (give --zone and --node)", listen);
    return JUNO_EBADMAP;
}

int
store_load_map(struct store *s, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = cli_read_file(s->cfg.map_path, 64u << 20, &text, &len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read map %s: %s", s->cfg.map_path, error_str(rc));
        return rc;
    }
    struct map *m;
    char why[512];
    rc = map_parse(text, len, &m, why, sizeof(why));
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "invalid map %s: %s", s->cfg.map_path, why);
        return rc;
    }
    return store_adopt_map(s, m, s->cfg.map_path, err, errlen);
}

int
store_adopt_map(struct store *s, struct map *m, const char *source, char *err, size_t errlen)
{
    int z, node, rc;
    if ((rc = find_self(s, m, &z, &node, err, errlen)) != 0) {
        /* --etcd with --zone and --node given, the node not (or no longer) in
         * the map: a store that joins before juno-migrate moves shards to it,
         * or whose shards moved away. It serves no shard of this map. */
        z = s->cluster && s->cfg.zone && s->cfg.node ? map_zone_find(m, s->cfg.zone) : -1;
        if (z < 0) {
            map_destroy(m);
            return rc;
        }
        node = -1; /* matches no owner */
    }
    if (s->map != NULL && m->shards != s->nshards) {
        snprintf(err, errlen, "map %s has %u shards, this store serves %u: refusing", source,
                 m->shards, s->nshards);
        map_destroy(m);
        return JUNO_EBADMAP;
    }
    if (s->map != NULL && m->version < s->map->version) {
        snprintf(err, errlen, "map %s has version %llu, older than the current %llu: refusing",
                 source, (unsigned long long)m->version, (unsigned long long)s->map->version);
        map_destroy(m);
        return JUNO_EBADMAP;
    }
    uint8_t *owned = calloc(m->shards, 1);
    if (owned == NULL) {
        map_destroy(m);
        return JUNO_ENOMEM;
    }
    uint32_t count = 0, lost = 0;
    for (uint32_t sh = 0; sh < m->shards; sh++) {
        owned[sh] = m->zones[z].owners[sh] == (uint32_t)node;
        count += owned[sh];
        if (s->engine == NULL) continue;
        if (s->owned && s->owned[sh] && !owned[sh]) lost++;
        /* a shard that left this store may be dropped by compaction; one that
         * came back (or arrives) must not be */
        if (s->owned && s->owned[sh] != owned[sh])
            engine_set_droppable(s->engine, (uint16_t)sh, !owned[sh]);
    }
    free(s->owned);
    s->owned = owned;
    s->nshards = m->shards;
    s->zone_index = z;
    log_info("map loaded cluster=%s version=%llu zone=%s node=%s shards_owned=%u/%u "
             "shards_given_up=%u",
             m->cluster, (unsigned long long)m->version, m->zones[z].name,
             node >= 0 ? m->zones[z].nodes[node].name : s->cfg.node, count, m->shards, lost);
    map_destroy(s->map);
    s->map = m;
    migrate_map_loaded(s); /* shards still moving stay safe from compaction */
    return 0;
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct store *s = h->data;
    if (signum == SIGHUP) {
        int rc = log_reopen();
        if (rc != 0) log_error("cannot reopen log: %s", error_str(rc));
        char err[600];
        if (s->cluster == NULL && store_load_map(s, err, sizeof(err)) != 0)
            log_error("map reload failed: %s", err);
        scluster_reload_password(s);
        if (s->tls_server != NULL) {
            if (tls_ctx_reload(s->tls_server, err, sizeof(err)) != 0 ||
                tls_ctx_reload(s->tls_client, err, sizeof(err)) != 0)
                log_error("TLS reload refused, keeping the certificates in use: %s", err);
            else
                log_info("TLS certificates reloaded cert=%s ca=%s", s->cfg.tls_cert, s->cfg.tls_ca);
        }
        return;
    }
    if (signum == SIGINT && s->interrupts++ > 0) {
        log_warn("second interrupt: exiting at once");
        exit(EX_TEMPFAIL);
    }
    log_info("signal %s: draining", signum == SIGTERM ? "TERM" : "INT");
    rejoin_stop(s);   /* the last time it served */
    scluster_stop(s); /* gone from etcd at once: proxies skip this store */
    server_drain(s);
}

static void
parse_options(struct store *s, int argc, char **argv, int *check_only)
{
    struct store_config *c = &s->cfg;
    const char *listen = "127.0.0.1:9001";
    int opt;
    while ((opt = getopt_long(argc, argv, "l:m:e:c:z:N:d:Ms:t:hV", long_opts, NULL)) != -1) {
        if (etcdopt_set(&c->etcd_sec, opt, optarg, argv)) continue;
        switch (opt) {
        case 'l': listen = optarg; break;
        case 'm': c->map_path = optarg; break;
        case 'e': c->etcd = optarg; break;
        case 'c': c->cluster = optarg; break;
        case 'z': c->zone = optarg; break;
        case 'N': c->node = optarg; break;
        case 'd': c->data_dir = optarg; break;
        case 'M': c->memory = 1; break;
        case 's':
            if (strcmp(optarg, "none") == 0)
                c->sync = ENGINE_SYNC_NONE;
            else if (strcmp(optarg, "batch") == 0)
                c->sync = ENGINE_SYNC_BATCH;
            else if (strcmp(optarg, "always") == 0)
                c->sync = ENGINE_SYNC_ALWAYS;
            else
                cli_usage("invalid --sync '%s': use none, batch or always", optarg);
            break;
        case 't': c->threads = (unsigned)cli_opt_u64("threads", optarg, 1, 128); break;
        case OPT_LOCK_MS: c->lock_ms = cli_opt_u64("lock-ms", optarg, 10, 60000); break;
        case OPT_MAX_FRAME: c->max_frame = cli_opt_u64("max-frame", optarg, 64, 64u << 20); break;
        case OPT_MAX_NS: c->max_ns = cli_opt_u64("max-namespace", optarg, 1, 64); break;
        case OPT_MAX_KEY: c->max_key = cli_opt_u64("max-key", optarg, 1, 65535); break;
        case OPT_MAX_VALUE: c->max_value = cli_opt_u64("max-value", optarg, 0, 32u << 20); break;
        case OPT_MAX_TTL: c->max_ttl = cli_opt_u64("max-ttl", optarg, 1, UINT32_MAX); break;
        case OPT_GRACE:
            c->tombstone_grace_s = cli_opt_u64("tombstone-grace", optarg, 0, UINT32_MAX);
            break;
        case OPT_REJOIN_AFTER:
            c->rejoin_after_s = cli_opt_u64("rejoin-after", optarg, 1, UINT32_MAX);
            break;
        case OPT_IDLE:
            c->idle_timeout_s = cli_opt_u64("idle-timeout", optarg, 0, 86400 * 365);
            break;
        case OPT_LOG_LEVEL: cli_opt_log_level(optarg); break;
        case OPT_LOG_FILE: c->log_file = optarg; break;
        case OPT_BUSY_COPY_RATE:
            c->busy_copy_rate = cli_opt_u64("busy-copy-rate", optarg, 0, 1u << 20) << 20;
            break;
        case OPT_RECORD_CACHE:
            c->record_cache_mb = cli_opt_u64("record-cache", optarg, 0, 1u << 20);
            break;
        case OPT_BLOCK_CACHE:
            c->block_cache_mb = cli_opt_u64("block-cache", optarg, 1, 1u << 24);
            break;
        case OPT_ROCKSDB_OPTIONS: c->rocksdb_options = optarg; break;
        case OPT_MIN_FREE:
            if (disk_parse_min_free(optarg, &c->min_free_bytes, &c->min_free_pct) != 0)
                cli_usage("invalid --min-free-space '%s': a size (512M, 2G) or a percentage "
                          "(0%% to 90%%)",
                          optarg);
            c->min_free_set = 1;
            break;
        case OPT_METRICS:
            if (cli_parse_hostport(optarg, c->metrics_host, sizeof(c->metrics_host),
                                   &c->metrics_port) != 0)
                cli_usage("invalid --metrics '%s': expected HOST:PORT", optarg);
            break;
        case OPT_TLS_CERT: c->tls_cert = optarg; break;
        case OPT_TLS_KEY: c->tls_key = optarg; break;
        case OPT_TLS_CA: c->tls_ca = optarg; break;
        case OPT_TLS_HS_TIMEOUT:
            c->tls_handshake_ms = cli_opt_u64("tls-handshake-timeout", optarg, 10, 600000);
            break;
        case OPT_INSECURE: c->insecure = 1; break;
        case OPT_TLS_MAX_HS:
            c->tls_max_handshakes = (unsigned)cli_opt_u64("tls-max-handshakes", optarg, 1, 1000000);
            break;
        case OPT_CHECK: *check_only = 1; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); exit(0);
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if ((c->tls_cert || c->tls_key || c->tls_ca) && !(c->tls_cert && c->tls_key && c->tls_ca))
        cli_usage(
            "--tls-cert, --tls-key and --tls-ca go together (mutual TLS with the cluster CA)");
    if (cli_parse_hostport(listen, c->listen_host, sizeof(c->listen_host), &c->listen_port) != 0)
        cli_usage("invalid --listen '%s': expected HOST:PORT", listen);
    if (c->map_path == NULL && c->etcd == NULL) cli_usage("--map FILE or --etcd URL is required");
    if (c->cluster != NULL && c->etcd == NULL) cli_usage("--cluster needs --etcd");
    etcdopt_finish(&c->etcd_sec, c->etcd != NULL, 0, &c->etcd_opts);
    if (c->data_dir == NULL && !c->memory) cli_usage("--data DIR is required (or --memory)");
    if (c->max_frame < c->max_value + c->max_key + c->max_ns + 1024)
        cli_usage("--max-frame %llu is too small for --max-value %llu",
                  (unsigned long long)c->max_frame, (unsigned long long)c->max_value);
}

int
main(int argc, char **argv)
{
    cli_init("juno-store");
    static struct store store;
    struct store *s = &store;
    struct store_config *c = &s->cfg;
    c->sync = ENGINE_SYNC_BATCH;
    c->threads = 4;
    c->lock_ms = 600;
    c->max_frame = 64u << 20; /* a Prepare or Clone of the largest value, and headers */
    c->max_ns = 64;
    c->max_key = 256;
    c->max_value = 32u << 20; /* juno-proxy's --resp-max-value at most */
    c->max_ttl = 259200;
    c->tombstone_grace_s = 86400;
    c->max_inflight = 16384;
    c->busy_copy_rate = 8u << 20;
    c->record_cache_mb = 64;
    c->block_cache_mb = 64;
    int check_only = 0;
    parse_options(s, argc, argv, &check_only);

    char err[600];
    if (c->etcd != NULL) {
        int rc = scluster_init(s, err, sizeof(err));
        etcdopt_deinit(&c->etcd_sec); /* etcd keeps its own copy of the password */
        if (rc != 0) cli_die(rc == JUNO_EINVAL ? EX_USAGE : EX_UNAVAILABLE, "%s", err);
    } else if (store_load_map(s, err, sizeof(err)) != 0) {
        cli_die(EX_CONFIG, "%s", err);
    }
    if (c->tls_cert != NULL) {
        struct tls_config tc = {.cert = c->tls_cert,
                                .key = c->tls_key,
                                .ca = c->tls_ca,
                                .handshake_ms = c->tls_handshake_ms,
                                .max_handshakes = c->tls_max_handshakes};
        s->tls_server = tls_ctx_create(TLS_SERVER, &tc, err, sizeof(err));
        if (s->tls_server != NULL)
            s->tls_client = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err));
        if (s->tls_client == NULL) cli_die(EX_CONFIG, "%s", err);
    }
    if (net_protected_mode(c->listen_host, c->listen_port, "the storage port", c->tls_cert != NULL,
                           c->insecure,
                           "--tls-cert, --tls-key and --tls-ca (mutual TLS with the cluster CA: "
                           "a store serves only proxies, migrators and stores the CA signed)",
                           err, sizeof(err)) != 0)
        cli_die(EX_CONFIG, "%s", err);
    if (check_only) {
        char sec[600];
        etcdopt_describe(&c->etcd_sec, sec, sizeof(sec));
        printf("ok: zone %s, %s shards, listen %s:%u%s%s%s\n", s->map->zones[s->zone_index].name,
               "serving its", c->listen_host, c->listen_port,
               c->tls_cert ? ", TLS with client certificates from the CA" : "",
               sec[0] ? "; etcd " : "", sec);
        return 0;
    }
    if (c->log_file != NULL) {
        int rc = log_open(c->log_file);
        if (rc != 0) cli_die(EX_IOERR, "unable to open log %s: %s", c->log_file, error_str(rc));
    }
    char threads[16];
    snprintf(threads, sizeof(threads), "%u", c->threads);
    setenv("UV_THREADPOOL_SIZE", threads, 1); /* before the loop's first work item */

    s->loop = uv_default_loop();
    if (locks_init(&s->locks) != 0 || smetrics_init(s) != 0) cli_die(EX_OSERR, "out of memory");
    int read_only = 0;
    if (disk_init(s, &read_only, err, sizeof(err)) != 0) cli_die(EX_IOERR, "%s", err);
    struct engine_config ec = {.dir = c->data_dir ? c->data_dir : "/juno-memory",
                               .memory = c->memory,
                               .read_only = read_only,
                               .sync = c->sync,
                               .tombstone_grace_s = (uint32_t)c->tombstone_grace_s,
                               .record_cache_mb = (size_t)c->record_cache_mb,
                               .cache_mb = (size_t)c->block_cache_mb,
                               .rocksdb_options = c->rocksdb_options};
    int rc = engine_open(s->loop, &ec, &s->engine, err, sizeof(err));
    if (rc == JUNO_EINVAL) cli_die(EX_CONFIG, "%s", err);
    if (rc != 0) cli_die(EX_IOERR, "unable to open database %s: %s", ec.dir, err);
    if ((rc = rejoin_init(s, err, sizeof(err))) != 0)
        cli_die(rc == JUNO_EBADDATA ? EX_DATAERR : EX_IOERR, "%s", err);
    copyprio_init(s);
    if ((c->metrics_port != 0 &&
         smetrics_listen(s, c->metrics_host, c->metrics_port, err, sizeof(err)) != 0) ||
        server_start(s, err, sizeof(err)) != 0) {
        smetrics_stop();
        engine_close(s->engine);
        uv_run(s->loop, UV_RUN_DEFAULT);
        cli_die(EX_UNAVAILABLE, "%s", err);
    }
    uv_signal_init(s->loop, &s->sig_term);
    uv_signal_init(s->loop, &s->sig_int);
    uv_signal_init(s->loop, &s->sig_hup);
    s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    disk_start(s);
    rejoin_start(s);
    scluster_start(s);
    log_info("listening addr=%s:%u data=%s memory=%d sync=%s threads=%u tls=%s min_free=%llu "
             "disk_free=%llu pid=%ld",
             c->listen_host, c->listen_port, c->memory ? "(memory)" : c->data_dir, c->memory,
             c->sync == ENGINE_SYNC_NONE    ? "none"
             : c->sync == ENGINE_SYNC_BATCH ? "batch"
                                            : "always",
             c->threads, c->tls_cert ? "mutual" : "off", (unsigned long long)s->disk.min_free,
             (unsigned long long)s->disk.free_bytes, (long)getpid());
    uv_run(s->loop, UV_RUN_DEFAULT);
    conn_group_deinit(&s->conns);
    conn_group_deinit(&s->streams);
    tls_ctx_destroy(s->tls_server);
    tls_ctx_destroy(s->tls_client);
    scluster_destroy(s);
    smetrics_deinit();
    locks_deinit(&s->locks);
    map_destroy(s->map);
    free(s->owned);
    uv_loop_close(s->loop);
    return 0;
}
