/* options.c: juno-proxy's command line: --help's text, the option table, and
 * parsing into struct proxy_config with every check that needs no file
 * (usage errors exit 64 through cli_usage). main.c does the rest. */
#include "pmetrics.h"
#include "proxy.h"
#include "resp_face.h"
#include "xdc.h"

#include "cli.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: juno-proxy --map FILE | --etcd URL [options]\n"
    "\n"
    "The juno proxy: serves the JunoDB client protocol, routes each key to its\n"
    "replica in every zone of the shard map and replicates with quorums\n"
    "(W = R = zones/2 + 1, two-phase writes, read repair).\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT     address to serve (default 127.0.0.1:8080)\n"
    "  -m, --map FILE             the shard map (JSON from juno-ring); re-read on SIGHUP\n"
    "  -e, --etcd URL[,URL...]    follow the live map in etcd (/juno/CLUSTER/map), skip\n"
    "                             stores whose registration is gone or whose zone is\n"
    "                             marked down, register under /juno/CLUSTER/proxies/\n"
    "  -c, --cluster NAME         the cluster in etcd (default juno)\n" ETCDOPT_HELP_DAEMON
    "      --map-cache FILE       keep the last map from etcd here; start from it when\n"
    "                             etcd cannot be reached (then from --map)\n"
    "  -t, --threads N            event-loop threads, each with its own listener and\n"
    "                             store connections (default 1)\n"
    "      --default-ttl S        TTL of a new record written without one; 0 = records\n"
    "                             do not expire (default 0)\n"
    "      --max-ttl S            largest TTL a JunoDB client may give (default 259200)\n"
    "      --idle-timeout S       close client connections idle this long; 0 = never\n"
    "                             (default 120)\n"
    "      --request-timeout MS   time a store has to answer one request (default 500)\n"
    "      --deadline MS          time a client request may take before the proxy\n"
    "                             answers Busy (14), retryable; the storage work goes\n"
    "                             on (default 3 x --request-timeout); each key of a\n"
    "                             RESP MGET/MSET/DEL from when its request starts\n"
    "      --max-frame BYTES      largest client message (default 1048576)\n"
    "      --max-namespace BYTES  namespace length limit (default 64, at most 64)\n"
    "      --max-key BYTES        key length limit (default 256)\n"
    "      --max-value BYTES      value length limit (default 204800)\n"
    "      --log-level LEVEL      debug | info | warn | error (default info)\n"
    "      --log-file FILE        log here instead of stderr; reopened on SIGHUP\n"
    "      --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                             (default: off)\n"
    "      --gather MS            keep the first replies to a pipelined batch of\n"
    "                             requests (JunoDB or RESP) back up to MS while the\n"
    "                             rest are due, so that the batch is answered in one\n"
    "                             write (one TLS record); 0 = send each loop turn's\n"
    "                             replies at once (default 1)\n"
    "      --resp HOST:PORT       also serve the Redis protocol (RESP2, RESP3) here:\n"
    "                             GET, SET, DEL, MGET, EXPIRE... (default: off)\n"
    "      --resp-namespace NS    the namespace of RESP commands (default \"default\",\n"
    "                             the juno CLI's)\n"
    "      --resp-databases N     SELECT 0 to N-1; database i > 0 is the namespace\n"
    "                             NS/i of --resp-namespace (or the user's) NS\n"
    "                             (default 16, as Redis; 1: SELECT 0 only)\n"
    "      --resp-max-ttl S       largest TTL a RESP command may set (EX, PX, EXPIRE,\n"
    "                             EXPIREAT...); 0 = no limit, as Redis (default 0)\n"
    "      --resp-max-value BYTES largest value (any bulk string) of a RESP command;\n"
    "                             one longer is read, dropped and refused (default\n"
    "                             33554432, at most 33554432; CONFIG SET\n"
    "                             proto-max-bulk-len)\n"
    "      --resp-max-query BYTES largest RESP command held while it arrives; over it\n"
    "                             the connection closes (default 134217728; CONFIG\n"
    "                             SET client-query-buffer-limit)\n"
    "      --resp-max-buffered BYTES  bulk data held by RESP commands arriving, over\n"
    "                             all connections (past 1 MiB each); a command that\n"
    "                             would go over is dropped and answered -OOM\n"
    "                             (default 1073741824)\n"
    "      --tls-cert FILE        serve TLS 1.2/1.3 to clients (the JunoDB port and the\n"
    "                             RESP port) with this certificate chain (PEM)\n"
    "      --tls-key FILE         its private key (PEM)\n"
    "      --tls-ca FILE          require a client certificate that this CA (PEM) signed\n"
    "                             (default: no client certificate asked)\n"
    "      --tls-client-cert require|optional\n"
    "                             with --tls-ca: optional asks for a certificate but\n"
    "                             lets clients without one in (they log in, or are the\n"
    "                             user \"default\"); one sent must verify (default require)\n"
    "      --upstream-tls-cert FILE\n"
    "                             mutual TLS to the stores: the certificate this proxy\n"
    "                             presents (PEM; signed by the cluster CA)\n"
    "      --upstream-tls-key FILE  its private key (PEM)\n"
    "      --upstream-tls-ca FILE the cluster CA (PEM): stores' certificates are checked\n"
    "                             against it and against their map address\n"
    "      --tls-handshake-timeout MS\n"
    "                             a client's TLS handshake not finished within MS is\n"
    "                             cut (default 10000)\n"
    "      --tls-max-handshakes N client TLS handshakes in progress at once, per thread\n"
    "                             and port; a connection beyond them is refused at\n"
    "                             once (default 256)\n"
    "      --acl FILE             users and the namespaces each may read or write\n"
    "                             (docs/security.md); re-read on SIGHUP. JunoDB clients\n"
    "                             are known by their certificate, RESP clients by AUTH\n"
    "      --hash-password        read a password on stdin, print its hash for --acl,\n"
    "                             exit\n"
    "      --insecure             serve a non-loopback address with neither TLS nor\n"
    "                             --acl (refused otherwise: anyone who can reach the\n"
    "                             port could read and write everything)\n"
    "      --replicate-to ADDR[,ADDR...]\n"
    "                             forward every successful write, after the client's\n"
    "                             answer, to these proxies of other sites (which run\n"
    "                             with --accept-replication); docs/consistency.md\n"
    "      --replicate-queue BYTES\n"
    "                             memory for writes not yet replicated, per target\n"
    "                             (default 67108864); beyond it writes are dropped\n"
    "                             and counted (the sites then need a re-sync)\n"
    "      --replicate-max-age S  a write not replicated within S seconds is dropped\n"
    "                             and counted (default 600)\n"
    "      --replicate-tls-cert FILE\n"
    "                             TLS to the --replicate-to proxies: the certificate\n"
    "                             presented to them (PEM)\n"
    "      --replicate-tls-key FILE  its private key (PEM)\n"
    "      --replicate-tls-ca FILE  the CA (PEM) their certificates are checked against\n"
    "                             (and against the address); the CA alone: TLS\n"
    "                             without a client certificate\n"
    "      --accept-replication   apply writes flagged 0x01 from another site's proxy\n"
    "                             last-writer-wins (refused with ServiceDenied\n"
    "                             otherwise)\n"
    "      --check-config         check options, map, TLS and ACL files, print the\n"
    "                             result, exit\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n"
    "\n"
    "Signals: TERM/INT stop accepting, finish the requests in flight and exit 0 (a\n"
    "second INT exits at once); HUP reopens the log file, re-reads the TLS files\n"
    "(open connections keep theirs), the ACL (a bad file keeps the old) and the map.\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
    OPT_DEFAULT_TTL = 256,
    OPT_MAX_TTL,
    OPT_IDLE,
    OPT_REQ_TIMEOUT,
    OPT_DEADLINE,
    OPT_MAX_FRAME,
    OPT_MAX_NS,
    OPT_MAX_KEY,
    OPT_MAX_VALUE,
    OPT_LOG_LEVEL,
    OPT_LOG_FILE,
    OPT_CHECK,
    OPT_RESP,
    OPT_RESP_NS,
    OPT_RESP_MAX_VALUE,
    OPT_RESP_MAX_QUERY,
    OPT_RESP_MAX_BUFFERED,
    OPT_MAP_CACHE,
    OPT_METRICS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_TLS_CLIENT_CERT,
    OPT_UP_TLS_CERT,
    OPT_UP_TLS_KEY,
    OPT_UP_TLS_CA,
    OPT_TLS_HS_TIMEOUT,
    OPT_TLS_MAX_HS,
    OPT_ACL,
    OPT_HASH_PW,
    OPT_INSECURE,
    OPT_RESP_MAX_TTL,
    OPT_GATHER,
    OPT_RESP_DATABASES,
    OPT_REPLICATE_TO,
    OPT_REPLICATE_QUEUE,
    OPT_REPLICATE_AGE,
    OPT_ACCEPT_REPL,
    OPT_XDC_TLS_CERT,
    OPT_XDC_TLS_KEY,
    OPT_XDC_TLS_CA
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"map", required_argument, NULL, 'm'},
    {"etcd", required_argument, NULL, 'e'},
    {"cluster", required_argument, NULL, 'c'},
    {"map-cache", required_argument, NULL, OPT_MAP_CACHE},
    {"threads", required_argument, NULL, 't'},
    {"default-ttl", required_argument, NULL, OPT_DEFAULT_TTL},
    {"max-ttl", required_argument, NULL, OPT_MAX_TTL},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"request-timeout", required_argument, NULL, OPT_REQ_TIMEOUT},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
    {"max-namespace", required_argument, NULL, OPT_MAX_NS},
    {"max-key", required_argument, NULL, OPT_MAX_KEY},
    {"max-value", required_argument, NULL, OPT_MAX_VALUE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"resp", required_argument, NULL, OPT_RESP},
    {"resp-namespace", required_argument, NULL, OPT_RESP_NS},
    {"resp-max-ttl", required_argument, NULL, OPT_RESP_MAX_TTL},
    {"gather", required_argument, NULL, OPT_GATHER},
    {"resp-databases", required_argument, NULL, OPT_RESP_DATABASES},
    {"resp-max-value", required_argument, NULL, OPT_RESP_MAX_VALUE},
    {"resp-max-query", required_argument, NULL, OPT_RESP_MAX_QUERY},
    {"resp-max-buffered", required_argument, NULL, OPT_RESP_MAX_BUFFERED},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-client-cert", required_argument, NULL, OPT_TLS_CLIENT_CERT},
    {"upstream-tls-cert", required_argument, NULL, OPT_UP_TLS_CERT},
    {"upstream-tls-key", required_argument, NULL, OPT_UP_TLS_KEY},
    {"upstream-tls-ca", required_argument, NULL, OPT_UP_TLS_CA},
    {"tls-handshake-timeout", required_argument, NULL, OPT_TLS_HS_TIMEOUT},
    {"tls-max-handshakes", required_argument, NULL, OPT_TLS_MAX_HS},
    {"acl", required_argument, NULL, OPT_ACL},
    {"hash-password", no_argument, NULL, OPT_HASH_PW},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"replicate-to", required_argument, NULL, OPT_REPLICATE_TO},
    {"replicate-queue", required_argument, NULL, OPT_REPLICATE_QUEUE},
    {"replicate-max-age", required_argument, NULL, OPT_REPLICATE_AGE},
    {"accept-replication", no_argument, NULL, OPT_ACCEPT_REPL},
    {"replicate-tls-cert", required_argument, NULL, OPT_XDC_TLS_CERT},
    {"replicate-tls-key", required_argument, NULL, OPT_XDC_TLS_KEY},
    {"replicate-tls-ca", required_argument, NULL, OPT_XDC_TLS_CA},
    {"check-config", no_argument, NULL, OPT_CHECK},
    ETCDOPT_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void
proxy_parse_options(struct proxy_config *c, int argc, char **argv, int *check_only)
{
    const char *listen = "127.0.0.1:8080", *resp = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "l:m:e:c:t:hV", long_opts, NULL)) != -1) {
        if (etcdopt_set(&c->etcd_sec, opt, optarg, argv)) continue;
        switch (opt) {
        case 'l': listen = optarg; break;
        case 'm': c->map_path = optarg; break;
        case 'e': c->etcd = optarg; break;
        case 'c': c->cluster = optarg; break;
        case OPT_MAP_CACHE: c->map_cache = optarg; break;
        case 't': c->threads = (unsigned)cli_opt_u64("threads", optarg, 1, 256); break;
        case OPT_DEFAULT_TTL:
            c->default_ttl = cli_opt_u64("default-ttl", optarg, 0, UINT32_MAX / 2);
            break;
        case OPT_MAX_TTL: c->max_ttl = cli_opt_u64("max-ttl", optarg, 1, UINT32_MAX / 2); break;
        case OPT_IDLE:
            c->idle_timeout_s = cli_opt_u64("idle-timeout", optarg, 0, 86400 * 365);
            break;
        case OPT_REQ_TIMEOUT:
            c->request_timeout_ms = cli_opt_u64("request-timeout", optarg, 1, 600000);
            break;
        case OPT_DEADLINE: c->deadline_ms = cli_opt_u64("deadline", optarg, 1, 3600000); break;
        case OPT_MAX_FRAME: c->max_frame = cli_opt_u64("max-frame", optarg, 64, 64u << 20); break;
        case OPT_MAX_NS: c->max_ns = cli_opt_u64("max-namespace", optarg, 1, 64); break;
        case OPT_MAX_KEY: c->max_key = cli_opt_u64("max-key", optarg, 1, 65535); break;
        case OPT_MAX_VALUE: c->max_value = cli_opt_u64("max-value", optarg, 0, 32u << 20); break;
        case OPT_LOG_LEVEL: cli_opt_log_level(optarg); break;
        case OPT_LOG_FILE: c->log_file = optarg; break;
        case OPT_METRICS: pmetrics_option(optarg); break;
        case OPT_RESP: resp = optarg; break;
        case OPT_RESP_NS: c->resp_ns = optarg; break;
        case OPT_RESP_DATABASES:
            c->resp_databases = (uint32_t)cli_opt_u64("resp-databases", optarg, 1, 1024);
            break;
        case OPT_RESP_MAX_TTL:
            c->resp_max_ttl = cli_opt_u64("resp-max-ttl", optarg, 0, INT64_MAX / 1000);
            break;
        case OPT_GATHER: c->gather_ms = cli_opt_u64("gather", optarg, 0, 1000); break;
        case OPT_RESP_MAX_VALUE:
            c->resp_max_value = cli_opt_u64("resp-max-value", optarg, 0, RFACE_MAX_VALUE);
            break;
        case OPT_RESP_MAX_QUERY:
            c->resp_max_query = cli_opt_u64("resp-max-query", optarg, 1024, RFACE_MAX_QUERY);
            break;
        case OPT_RESP_MAX_BUFFERED:
            c->resp_max_buffered = cli_opt_u64("resp-max-buffered", optarg, 0, UINT64_MAX / 4);
            break;
        case OPT_TLS_CERT: c->tls_cert = optarg; break;
        case OPT_TLS_KEY: c->tls_key = optarg; break;
        case OPT_TLS_CA: c->tls_ca = optarg; break;
        case OPT_TLS_CLIENT_CERT:
            if (strcmp(optarg, "require") != 0 && strcmp(optarg, "optional") != 0)
                cli_usage("--tls-client-cert is require or optional, not '%s'", optarg);
            c->tls_cert_optional = strcmp(optarg, "optional") == 0;
            c->tls_client_cert_given = 1;
            break;
        case OPT_UP_TLS_CERT: c->up_tls_cert = optarg; break;
        case OPT_UP_TLS_KEY: c->up_tls_key = optarg; break;
        case OPT_UP_TLS_CA: c->up_tls_ca = optarg; break;
        case OPT_TLS_HS_TIMEOUT:
            c->tls_handshake_ms = cli_opt_u64("tls-handshake-timeout", optarg, 10, 600000);
            break;
        case OPT_TLS_MAX_HS:
            c->tls_max_handshakes = (unsigned)cli_opt_u64("tls-max-handshakes", optarg, 1, 1000000);
            break;
        case OPT_ACL: c->acl_path = optarg; break;
        case OPT_HASH_PW: exit(auth_hash_password_main(0));
        case OPT_INSECURE: c->insecure = 1; break;
        case OPT_REPLICATE_TO: c->replicate_to = optarg; break;
        case OPT_REPLICATE_QUEUE:
            c->xdc_queue_bytes = cli_opt_u64("replicate-queue", optarg, 1024, 1ull << 40);
            break;
        case OPT_REPLICATE_AGE:
            c->xdc_max_age_s = cli_opt_u64("replicate-max-age", optarg, 1, 30 * 86400);
            break;
        case OPT_ACCEPT_REPL: c->accept_replication = 1; break;
        case OPT_XDC_TLS_CERT: c->xdc_tls_cert = optarg; break;
        case OPT_XDC_TLS_KEY: c->xdc_tls_key = optarg; break;
        case OPT_XDC_TLS_CA: c->xdc_tls_ca = optarg; break;
        case OPT_CHECK: *check_only = 1; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); exit(0);
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    char xerr[256];
    if (c->replicate_to && xdc_check_targets(c->replicate_to, xerr, sizeof(xerr)) != 0)
        cli_usage("%s", xerr);
    if ((c->xdc_tls_cert != NULL) != (c->xdc_tls_key != NULL))
        cli_usage("--replicate-tls-cert and --replicate-tls-key go together");
    if ((c->xdc_tls_cert || c->xdc_tls_ca) && c->replicate_to == NULL)
        cli_usage("--replicate-tls-* need --replicate-to");
    if (c->xdc_tls_cert && c->xdc_tls_ca == NULL)
        cli_usage("--replicate-tls-cert needs --replicate-tls-ca (the other sites' CA)");
    if ((c->tls_cert != NULL) != (c->tls_key != NULL))
        cli_usage("--tls-cert and --tls-key go together");
    if (c->tls_ca != NULL && c->tls_cert == NULL)
        cli_usage("--tls-ca needs --tls-cert and --tls-key (the proxy's own certificate)");
    if (c->tls_client_cert_given && c->tls_ca == NULL)
        cli_usage("--tls-client-cert needs --tls-ca (the CA client certificates are checked "
                  "against)");
    if ((c->up_tls_cert || c->up_tls_key || c->up_tls_ca) &&
        !(c->up_tls_cert && c->up_tls_key && c->up_tls_ca))
        cli_usage("--upstream-tls-cert, --upstream-tls-key and --upstream-tls-ca go together "
                  "(mutual TLS with the cluster CA)");
    if (cli_parse_hostport(listen, c->listen_host, sizeof(c->listen_host), &c->listen_port) != 0)
        cli_usage("invalid --listen '%s': expected HOST:PORT", listen);
    if (resp != NULL &&
        cli_parse_hostport(resp, c->resp_host, sizeof(c->resp_host), &c->resp_port) != 0)
        cli_usage("invalid --resp '%s': expected HOST:PORT", resp);
    if (c->resp_ns == NULL) c->resp_ns = "default";
    if (strlen(c->resp_ns) == 0 || strlen(c->resp_ns) > c->max_ns)
        cli_usage("invalid --resp-namespace: 1 to %llu bytes (--max-namespace)",
                  (unsigned long long)c->max_ns);
    if (c->map_path == NULL && c->etcd == NULL) cli_usage("--map FILE or --etcd URL is required");
    if (c->etcd == NULL && (c->cluster != NULL || c->map_cache != NULL))
        cli_usage("--cluster and --map-cache need --etcd");
    etcdopt_finish(&c->etcd_sec, c->etcd != NULL, 0, &c->etcd_opts);
    if (c->deadline_ms == 0) c->deadline_ms = 3 * c->request_timeout_ms;
    if (c->default_ttl > c->max_ttl)
        cli_usage("--default-ttl %llu is over --max-ttl %llu", (unsigned long long)c->default_ttl,
                  (unsigned long long)c->max_ttl);
    if (c->resp_max_query < c->resp_max_value + RFACE_QUERY_SLACK)
        cli_usage("--resp-max-query %llu is too small for --resp-max-value %llu (%u bytes more)",
                  (unsigned long long)c->resp_max_query, (unsigned long long)c->resp_max_value,
                  RFACE_QUERY_SLACK);
    if (c->max_frame < c->max_value + c->max_key + c->max_ns + 1024)
        cli_usage("--max-frame %llu is too small for --max-value %llu",
                  (unsigned long long)c->max_frame, (unsigned long long)c->max_value);
}
