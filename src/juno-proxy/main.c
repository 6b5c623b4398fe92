/* main.c: juno-proxy, the routing and replication daemon.
 *
 * defaults → options → map check → log → listening sockets (one per worker,
 * SO_REUSEPORT) → worker threads (each: listener, upstreams, loop) → the main
 * loop handles signals → drain → join → exit 0.
 *
 * With --etcd the map comes from etcd instead and is followed live
 * (etcdwatch.c); SIGHUP then only reopens the log.
 *
 * SIGHUP reopens the log, re-reads the TLS files (new connections use them,
 * open ones keep theirs) and the map file: a map that does not parse,
 * has another shard count or an older version is refused (the old one stays);
 * an accepted one goes to every worker, which connects to new stores and then
 * swaps (maploader.c). SIGTERM/SIGINT: stop accepting and reading, finish the
 * requests in flight, exit 0; a second SIGINT exits at once.
 */
#include "pmetrics.h"
#include "preq.h"
#include "proxy.h"
#include "resp_face.h"
#include "xdc.h"

#include "cli.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "tls.h"

#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

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
    "                             on (default 3 x --request-timeout)\n"
    "      --max-frame BYTES      largest client message (default 1048576)\n"
    "      --max-namespace BYTES  namespace length limit (default 64, at most 64)\n"
    "      --max-key BYTES        key length limit (default 256)\n"
    "      --max-value BYTES      value length limit (default 204800)\n"
    "      --log-level LEVEL      debug | info | warn | error (default info)\n"
    "      --log-file FILE        log here instead of stderr; reopened on SIGHUP\n"
    "      --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                             (default: off)\n"
    "      --resp HOST:PORT       also serve the Redis protocol (RESP2) here: GET, SET,\n"
    "                             DEL, MGET, EXPIRE... (default: off)\n"
    "      --resp-namespace NS    the namespace of RESP commands (default \"default\",\n"
    "                             the juno CLI's)\n"
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

static void
parse_options(struct proxy_config *c, int argc, char **argv, int *check_only)
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
        case OPT_RESP_MAX_TTL:
            c->resp_max_ttl = cli_opt_u64("resp-max-ttl", optarg, 0, INT64_MAX / 1000);
            break;
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

/* ---- listening sockets ---- */

/* One socket per worker on the same address: SO_REUSEPORT lets the kernel
 * spread connections over them (libuv 1.44 has no flag for it). resp: the
 * RESP face's (w->resp_fd), else the native one's (w->listen_fd). */
static int
open_listeners(struct proxy *p, const char *host, uint16_t lport, int resp, char *err,
               size_t errlen)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", lport);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return JUNO_ENOTFOUND;
    }
    for (unsigned i = 0; i < p->nworkers; i++) {
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            (p->nworkers > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
            bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            rc = error_from_errno(errno);
            snprintf(err, errlen, "cannot listen on %s:%u: %s", host, lport, error_str(rc));
            if (fd >= 0) close(fd);
            freeaddrinfo(res);
            return rc;
        }
        *(resp ? &p->workers[i].resp_fd : &p->workers[i].listen_fd) = fd;
    }
    freeaddrinfo(res);
    return 0;
}

/* ---- workers ---- */

void
worker_request_id(struct worker *w, uint8_t id[16])
{
    for (int half = 0; half < 2; half++) { /* splitmix64 */
        uint64_t z = (w->rng += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int i = 0; i < 8; i++) id[half * 8 + i] = (uint8_t)(z >> (8 * i));
    }
    id[6] = (uint8_t)((id[6] & 0x0F) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}

void
worker_maybe_finish(struct worker *w)
{
    if (!w->draining || w->finished || w->inflight > 0 || conn_group_output_pending(&w->clients) ||
        xdc_worker_pending(w))
        return;
    w->finished = 1;
    conn_group_close_all(&w->clients);
    route_unref(w->next);
    w->next = NULL;
    route_unref(w->route);
    w->route = NULL;
    upstream_close_all(w);
    xdc_worker_stop(w); /* after upstream_close_all: what was in flight is queued again */
    uv_close((uv_handle_t *)&w->flush_check, NULL);
    uv_close((uv_handle_t *)&w->sweep_timer, NULL);
    uv_close((uv_handle_t *)&w->retry_timer, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    log_info("worker drained thread=%u connections=%llu requests=%llu errors=%llu bad_frames=%llu",
             w->id, (unsigned long long)w->stats.connections, (unsigned long long)w->stats.requests,
             (unsigned long long)w->stats.errors, (unsigned long long)w->stats.bad_frames);
}

/* A connection was freed or finished a write: a drain may be complete. */
static void
worker_on_progress(struct conn_group *g)
{
    worker_maybe_finish(g->data);
}

void
worker_flush(struct worker *w)
{
    conn_group_flush(&w->ups);
    conn_group_flush(&w->clients);
    conn_group_flush(&w->ups); /* requests of RESP commands that waited behind a barrier */
}

static void
worker_on_check(uv_check_t *h)
{
    struct worker *w = h->data;
    worker_flush(w);
    worker_maybe_finish(w); /* output sent at once finishes no write request */
}

static void
worker_on_sweep(uv_timer_t *t)
{
    struct worker *w = t->data;
    conn_group_sweep(&w->clients);
    conn_group_sweep(&w->ups);
    preq_expire(w);
    route_maybe_swap(w);
    worker_maybe_finish(w);
}

static void
worker_on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    uv_mutex_lock(&w->p->mu);
    int drain = w->drain_requested;
    uv_mutex_unlock(&w->p->mu);
    if (w->finished) return;
    route_adopt_incoming(w);
    if (drain && !w->draining) {
        w->draining = 1;
        conn_listener_drain(&w->listener);
        conn_listener_drain(&w->resp_listener);
        log_info("draining thread=%u in_flight=%llu", w->id, (unsigned long long)w->inflight);
        worker_maybe_finish(w);
    }
}

static void
worker_main(void *arg)
{
    struct worker *w = arg;
    int rc = client_listen(w);
    if (rc != 0) log_error("cannot serve on the listener thread=%u: %s", w->id, error_str(rc));
    rc = rface_listen(w);
    if (rc != 0) log_error("cannot serve on the RESP listener thread=%u: %s", w->id, error_str(rc));
    route_adopt_incoming(w);
    rc = xdc_worker_start(w);
    if (rc != 0) log_error("cannot start replication thread=%u: %s", w->id, error_str(rc));
    uv_run(&w->loop, UV_RUN_DEFAULT);
    struct proxy *p = w->p;
    atomic_fetch_add(&p->done, 1);
    uv_async_send(&p->worker_done);
}

static int
worker_init(struct proxy *p, struct worker *w, unsigned id)
{
    w->p = p;
    w->id = id;
    if (uv_loop_init(&w->loop) != 0) return JUNO_ENOMEM;
    conn_group_init(&w->clients, &w->loop, w);
    conn_group_init(&w->ups, &w->loop, w);
    w->clients.progress = w->ups.progress = worker_on_progress;
    w->nbuckets = 1024;
    w->up_buckets = calloc(w->nbuckets, sizeof(*w->up_buckets));
    if (w->up_buckets == NULL) return JUNO_ENOMEM;
    if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng))
        w->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ id;
    uv_check_init(&w->loop, &w->flush_check);
    w->flush_check.data = w;
    uv_check_start(&w->flush_check, worker_on_check);
    uv_timer_init(&w->loop, &w->sweep_timer);
    w->sweep_timer.data = w;
    uv_timer_start(&w->sweep_timer, worker_on_sweep, 100, 100);
    uv_timer_init(&w->loop, &w->retry_timer);
    w->retry_timer.data = w;
    uv_async_init(&w->loop, &w->wake, worker_on_wake);
    w->wake.data = w;
    pmap_ref(p->current);
    w->incoming = p->current;
    return 0;
}

/* ---- the main thread: signals and map reloads ---- */

static void
reload_map(struct proxy *p)
{
    if (p->cluster != NULL) return; /* the map follows etcd */
    char err[700];
    struct pmap *pm = pmap_load(p->cfg.map_path, err, sizeof(err));
    if (pm == NULL) {
        log_error("map reload refused, keeping version %llu: %s",
                  (unsigned long long)p->current->map->version, err);
        return;
    }
    proxy_offer_map(p, pm, p->cfg.map_path);
    pmap_unref(pm);
}

/* SIGHUP: the certificates, keys and CAs again, for new connections. */
static void
reload_tls(struct proxy *p)
{
    char err[700];
    struct {
        struct tls_ctx *ctx;
        const char *what, *cert;
    } t[2] = {{p->tls, "clients", p->cfg.tls_cert}, {p->up_tls, "stores", p->cfg.up_tls_cert}};
    for (int i = 0; i < 2; i++) {
        if (t[i].ctx == NULL) continue;
        if (tls_ctx_reload(t[i].ctx, err, sizeof(err)) != 0)
            log_error("TLS reload refused for %s, keeping the certificates in use: %s", t[i].what,
                      err);
        else
            log_info("TLS certificates reloaded for %s cert=%s", t[i].what, t[i].cert);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct proxy *p = h->data;
    if (signum == SIGHUP) {
        int rc = log_reopen();
        if (rc != 0) log_error("cannot reopen log: %s", error_str(rc));
        reload_tls(p);
        auth_reload(p);
        pcluster_reload_password(p);
        reload_map(p);
        return;
    }
    if (signum == SIGINT && p->interrupts++ > 0) {
        log_warn("second interrupt: exiting at once");
        _exit(EX_TEMPFAIL);
    }
    if (p->draining) return;
    p->draining = 1;
    log_info("signal %s: draining", signum == SIGTERM ? "TERM" : "INT");
    pcluster_stop(p);
    uv_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) p->workers[i].drain_requested = 1;
    uv_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) uv_async_send(&p->workers[i].wake);
}

static void
on_worker_done(uv_async_t *a)
{
    struct proxy *p = a->data;
    if (atomic_load(&p->done) < p->nworkers) return;
    pcluster_stop(p);
    pmetrics_stop();
    uv_close((uv_handle_t *)&p->sig_term, NULL);
    uv_close((uv_handle_t *)&p->sig_int, NULL);
    uv_close((uv_handle_t *)&p->sig_hup, NULL);
    uv_close((uv_handle_t *)&p->worker_done, NULL);
}

int
main(int argc, char **argv)
{
    cli_init("juno-proxy");
    static struct proxy proxy;
    struct proxy *p = &proxy;
    struct proxy_config *c = &p->cfg;
    c->threads = 1;
    c->default_ttl = 0;
    c->max_ttl = 259200;
    c->idle_timeout_s = 120;
    c->request_timeout_ms = 500;
    c->xdc_queue_bytes = 64u << 20;
    c->xdc_max_age_s = 600;
    c->max_frame = WIRE_DEFAULT_MAX_FRAME;
    c->max_ns = 64;
    c->max_key = 256;
    c->max_value = 204800;
    c->resp_max_value = RFACE_MAX_VALUE;
    c->resp_max_query = RFACE_DEFAULT_QUERY;
    c->resp_max_buffered = RFACE_DEFAULT_BUFFERED;
    c->max_inflight = 16384;
    int check_only = 0;
    parse_options(c, argc, argv, &check_only);

    char err[700];
    if (c->etcd != NULL) {
        int rc = pcluster_init(p, err, sizeof(err));
        etcdopt_deinit(&c->etcd_sec); /* etcd keeps its own copy of the password */
        if (rc != 0) cli_die(rc == JUNO_EINVAL ? EX_USAGE : EX_UNAVAILABLE, "%s", err);
    } else {
        p->current = pmap_load(c->map_path, err, sizeof(err));
        if (p->current == NULL) cli_die(EX_CONFIG, "%s", err);
    }
    const struct map *m = p->current->map;
    if (c->tls_cert != NULL) {
        struct tls_config tc = {.cert = c->tls_cert,
                                .key = c->tls_key,
                                .ca = c->tls_ca,
                                .client_cert_optional = c->tls_cert_optional,
                                .handshake_ms = c->tls_handshake_ms,
                                .max_handshakes = c->tls_max_handshakes};
        if ((p->tls = tls_ctx_create(TLS_SERVER, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (c->up_tls_cert != NULL) {
        struct tls_config tc = {
            .cert = c->up_tls_cert,
            .key = c->up_tls_key,
            .ca = c->up_tls_ca,
            .handshake_ms = c->request_timeout_ms * 2 > 1000 ? c->request_timeout_ms * 2 : 1000};
        if ((p->up_tls = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (c->xdc_tls_ca != NULL) {
        struct tls_config tc = {
            .cert = c->xdc_tls_cert,
            .key = c->xdc_tls_key,
            .ca = c->xdc_tls_ca,
            .handshake_ms = c->request_timeout_ms * 2 > 1000 ? c->request_timeout_ms * 2 : 1000};
        if ((p->xdc_tls = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (auth_init(p, err, sizeof(err)) != 0) cli_die(EX_CONFIG, "invalid --acl: %s", err);
    const char *remedy = "--tls-cert/--tls-key (and --tls-ca for client certificates) or --acl";
    int guarded = c->tls_cert != NULL || c->acl_path != NULL;
    if (net_protected_mode(c->listen_host, c->listen_port, "the JunoDB port", guarded, c->insecure,
                           remedy, err, sizeof(err)) != 0 ||
        (c->resp_port && net_protected_mode(c->resp_host, c->resp_port, "the RESP port", guarded,
                                            c->insecure, remedy, err, sizeof(err)) != 0))
        cli_die(EX_CONFIG, "%s", err);
    if (check_only) {
        unsigned stores = 0;
        for (uint32_t z = 0; z < m->nzones; z++) stores += m->zones[z].nnodes;
        printf("ok: map %s version %llu, %u zones (W = R = %u), %u shards, %u stores; listen "
               "%s:%u, %u threads",
               m->cluster, (unsigned long long)m->version, m->nzones, m->nzones / 2 + 1, m->shards,
               stores, c->listen_host, c->listen_port, c->threads);
        if (c->resp_port)
            printf("; resp %s:%u namespace %s", c->resp_host, c->resp_port, c->resp_ns);
        if (c->tls_cert)
            printf("; TLS to clients%s", !c->tls_ca ? ""
                                         : c->tls_cert_optional
                                             ? " with optional client certificates"
                                             : " with client certificates");
        if (c->up_tls_cert) printf("; mutual TLS to stores");
        if (c->acl_path) printf("; acl %zu users", p->auth.acl->nusers);
        if (c->replicate_to)
            printf("; replicating to %s%s", c->replicate_to, c->xdc_tls_ca ? " over TLS" : "");
        if (c->accept_replication) printf("; accepting replicated writes");
        char sec[600];
        if (etcdopt_describe(&c->etcd_sec, sec, sizeof(sec))[0]) printf("; etcd %s", sec);
        putchar('\n');
        tls_ctx_destroy(p->tls);
        tls_ctx_destroy(p->up_tls);
        tls_ctx_destroy(p->xdc_tls);
        auth_deinit(p);
        pmap_unref(p->current);
        pcluster_destroy(p);
        return 0;
    }
    if (c->log_file != NULL) {
        int rc = log_open(c->log_file);
        if (rc != 0) cli_die(EX_IOERR, "unable to open log %s: %s", c->log_file, error_str(rc));
    }
    signal(SIGPIPE, SIG_IGN);
    hlc_init(&p->clock, NULL, NULL);
    uv_mutex_init(&p->mu);
    p->nworkers = c->threads;
    p->workers = calloc(p->nworkers, sizeof(*p->workers));
    if (p->workers == NULL || pmetrics_init(p) != 0) cli_die(EX_OSERR, "out of memory");
    if (xdc_init(p, err, sizeof(err)) != 0) cli_die(EX_OSERR, "%s", err);
    if (c->accept_replication) log_info("accepting replicated writes (flag 0x01) from other sites");
    for (unsigned i = 0; i < p->nworkers; i++) p->workers[i].listen_fd = p->workers[i].resp_fd = -1;
    if (open_listeners(p, c->listen_host, c->listen_port, 0, err, sizeof(err)) != 0 ||
        (c->resp_port != 0 &&
         open_listeners(p, c->resp_host, c->resp_port, 1, err, sizeof(err)) != 0))
        cli_die(EX_UNAVAILABLE, "%s", err);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (worker_init(p, &p->workers[i], i) != 0) cli_die(EX_OSERR, "out of memory");

    p->loop = uv_default_loop();
    if (pmetrics_listen(p, err, sizeof(err)) != 0) cli_die(EX_UNAVAILABLE, "%s", err);
    uv_signal_init(p->loop, &p->sig_term);
    uv_signal_init(p->loop, &p->sig_int);
    uv_signal_init(p->loop, &p->sig_hup);
    p->sig_term.data = p->sig_int.data = p->sig_hup.data = p;
    uv_signal_start(&p->sig_term, on_signal, SIGTERM);
    uv_signal_start(&p->sig_int, on_signal, SIGINT);
    uv_signal_start(&p->sig_hup, on_signal, SIGHUP);
    uv_async_init(p->loop, &p->worker_done, on_worker_done);
    p->worker_done.data = p;
    pcluster_start(p);

    log_info("listening addr=%s:%u map=%s version=%llu zones=%u shards=%u threads=%u "
             "request_timeout_ms=%llu default_ttl=%llu tls=%s upstream_tls=%s pid=%ld",
             c->listen_host, c->listen_port, c->etcd ? "etcd" : c->map_path,
             (unsigned long long)m->version, m->nzones, m->shards, c->threads,
             (unsigned long long)c->request_timeout_ms, (unsigned long long)c->default_ttl,
             !c->tls_cert           ? "off"
             : !c->tls_ca           ? "on"
             : c->tls_cert_optional ? "mutual-optional"
                                    : "mutual",
             c->up_tls_cert ? "mutual" : "off", (long)getpid());
    if (c->acl_path) log_info("acl in force file=%s users=%zu", c->acl_path, p->auth.acl->nusers);
    if (c->resp_port)
        log_info("serving RESP addr=%s:%u namespace=%s", c->resp_host, c->resp_port, c->resp_ns);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (uv_thread_create(&p->workers[i].thread, worker_main, &p->workers[i]) != 0)
            cli_die(EX_OSERR, "cannot start thread %u", i);
    uv_run(p->loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        uv_thread_join(&w->thread);
        uv_run(&w->loop, UV_RUN_DEFAULT); /* close callbacks still queued, if any */
        uv_loop_close(&w->loop);
        xdc_worker_free(w);
        conn_group_deinit(&w->clients);
        conn_group_deinit(&w->ups);
        pmap_unref(w->incoming);
        pdown_unref(w->incoming_down);
        pdown_unref(w->down);
        free(w->up_buckets);
        free(w->key_buckets);
        free(w->rl_buckets);
    }
    pmetrics_deinit();
    xdc_deinit(p);
    free(p->workers);
    pcluster_destroy(p);
    pmap_unref(p->current);
    tls_ctx_destroy(p->tls);
    tls_ctx_destroy(p->up_tls);
    tls_ctx_destroy(p->xdc_tls);
    auth_deinit(p);
    uv_mutex_destroy(&p->mu);
    uv_loop_close(p->loop);
    log_info("drained, exiting");
    return 0;
}
