/* main.c: juno-backup: backups of a juno cluster (create, verify) and new
 * clusters made from them (restore). */
#include "jbak.h"

#include "calls.h"
#include "cli.h"
#include "tls.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: juno-backup create DIR (--etcd URL | --map-file FILE) [options]\n"
    "       juno-backup verify DIR\n"
    "       juno-backup restore DIR (--etcd URL | --map-file FILE) [options]\n"
    "\n"
    "Back up a running juno cluster, check a backup, and build a new cluster\n"
    "from one.\n"
    "\n"
    "Commands:\n"
    "  create DIR   a RocksDB checkpoint of every store of every zone (memtables\n"
    "               flushed, SST files hard-linked: seconds for any size) in\n"
    "               DIR/stores/, the shard map in DIR/map.json, and\n"
    "               DIR/manifest.json with every store's files and per-shard\n"
    "               record counts and hashes. Writes go on meanwhile; every write\n"
    "               acknowledged before it began is in the backup. DIR must not\n"
    "               exist, and must be the same path for juno-backup and the\n"
    "               stores (the stores write their checkpoints there)\n"
    "  verify DIR   check the manifest against the files: each file's size, then\n"
    "               every checkpoint read back and its per-shard figures compared\n"
    "  restore DIR  write the backup into the cluster of --etcd or --map-file (its\n"
    "               stores running and empty), whatever its number of stores or\n"
    "               shards: each shard's copies (one per zone) are merged, the\n"
    "               newest copy of every key kept, and streamed to the key's owner\n"
    "               in every zone with its metadata (version, creation and\n"
    "               expiration time, last-modified); deleted and expired keys are\n"
    "               left out. Then every shard of the new cluster is compared with\n"
    "               what was sent. Interrupted, run it again with --force\n"
    "\n"
    "Options:\n"
    "  -e, --etcd URL[,URL...]  etcd endpoints (default $JUNO_ETCD): the live "
    "map\n" ETCDOPT_HELP_TOOL "  -c, --cluster NAME    cluster name in etcd (default juno)\n"
    "  -f, --map-file FILE   without etcd: the cluster's map file\n"
    "      --force           restore into stores that already hold records (a\n"
    "                        record is written only where it is newer)\n"
    "  -w, --window N        restore: records sent per batch (default 4096)\n"
    "  -t, --timeout MS      wait at most MS for a store's answer (default 600000:\n"
    "                        a checkpoint reads the store's data back)\n"
    "  -j, --json            JSON events on stdout, one per line\n" CLI_TLS_STORES_HELP
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0   done (verify: the backup matches its manifest)\n"
    "  64  usage error\n"
    "  65  bad data: a manifest that does not parse or does not match its files,\n"
    "      a map not valid, a restore target that is not empty (without --force),\n"
    "      a restored shard that does not match what was sent\n"
    "  69  unavailable: etcd, or a store, did not answer; a store in memory\n"
    "  70  internal software error (out of memory)\n"
    "  74  input/output error: a file cannot be read or written\n"
    "  75  temporary: the map changed or a migration ran during the backup, a\n"
    "      store refused a write (full disk): run it again\n"
    "  76  protocol error: a store's answer did not decode\n"
    "  78  configuration error\n";

enum { OPT_FORCE = 256, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY };

static const struct option long_opts[] = {
    {"etcd", required_argument, NULL, 'e'},
    ETCDOPT_LONG_OPTIONS,
    {"cluster", required_argument, NULL, 'c'},
    {"map-file", required_argument, NULL, 'f'},
    {"force", no_argument, NULL, OPT_FORCE},
    {"window", required_argument, NULL, 'w'},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void
jbak_event(struct jbak *b, const char *event, const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (b->json) {
        printf("{\"event\":\"%s\"%s%s}\n", event, body[0] ? "," : "", body);
        fflush(stdout);
        return;
    }
    /* the members as key=value, on stdout: these lines are the result */
    char plain[4096];
    report_plain(body, plain, sizeof(plain));
    if (b->tty) fputs("\r\033[K", stderr);
    printf("%s %s\n", event, plain);
    fflush(stdout);
}

void
jbak_progress(struct jbak *b, const char *what, uint64_t done, uint64_t total, uint64_t records,
              uint64_t bytes, uint64_t started_ms, int final)
{
    static uint64_t last;
    uint64_t now = report_now_ms();
    if (!final && now - last < (b->tty ? 100u : 1000u)) return;
    last = now;
    double secs = (now - started_ms) / 1000.0;
    double rate = secs > 0 ? bytes / secs / 1048576.0 : 0;
    if (b->json) {
        printf("{\"event\":\"progress\",\"what\":\"%s\",\"done\":%llu,\"total\":%llu,"
               "\"records\":%llu,\"bytes\":%llu,\"mb_per_s\":%.1f}\n",
               what, (unsigned long long)done, (unsigned long long)total,
               (unsigned long long)records, (unsigned long long)bytes, rate);
        fflush(stdout);
        return;
    }
    if (b->tty) {
        char bar[REPORT_BAR_WIDTH + 1];
        report_bar(bar, done, total);
        fprintf(stderr, "\r\033[K%-8s [%s] %6llu/%-6llu %10llu records %8.1f MB %7.1f MB/s%s", what,
                bar, (unsigned long long)done, (unsigned long long)total,
                (unsigned long long)records, bytes / 1048576.0, rate, final ? "\n" : "");
    } else {
        fprintf(stderr, "juno-backup: %s: %llu/%llu, %llu records, %.1f MB, %.1f MB/s\n", what,
                (unsigned long long)done, (unsigned long long)total, (unsigned long long)records,
                bytes / 1048576.0, rate);
    }
    fflush(stderr);
}

int
main(int argc, char **argv)
{
    cli_init("juno-backup");
    signal(SIGPIPE, SIG_IGN);
    static struct jbak b;
    b.timeout_ms = 600000;
    b.window = 4096;
    struct tls_config tc = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "e:c:f:w:t:jhV", long_opts, NULL)) != -1) {
        if (etcdopt_set(&b.etcd_sec, opt, optarg, argv)) continue;
        switch (opt) {
        case 'e': b.etcd_url = optarg; break;
        case 'c': b.cluster = optarg; break;
        case 'f': b.map_file = optarg; break;
        case OPT_FORCE: b.force = 1; break;
        case 'w': b.window = (unsigned)cli_opt_u64("window", optarg, 1, 1u << 20); break;
        case 't': b.timeout_ms = (int)cli_opt_u64("timeout", optarg, 10, 86400000); break;
        case 'j': b.json = 1; break;
        case OPT_TLS_CA: tc.ca = optarg; break;
        case OPT_TLS_CERT: tc.cert = optarg; break;
        case OPT_TLS_KEY: tc.key = optarg; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); exit(0);
        default: cli_usage("unable to parse the command line");
        }
    }
    if (optind >= argc)
        cli_usage("unable to run: missing command (create, verify or restore) and DIR");
    const char *cmd = argv[optind];
    if (optind + 1 >= argc) cli_usage("unable to run %s: missing DIR", cmd);
    if (optind + 2 < argc)
        cli_usage("unable to run %s: unexpected argument \"%s\"", cmd, argv[optind + 2]);
    b.dir = argv[optind + 1];
    b.tty = isatty(2) && !b.json;
    int verify = strcmp(cmd, "verify") == 0;
    if (!verify && strcmp(cmd, "create") != 0 && strcmp(cmd, "restore") != 0)
        cli_usage("unable to run \"%s\": no such command (create, verify, restore)", cmd);
    if (verify &&
        (b.etcd_url || b.map_file || b.force || tc.ca || tc.cert || tc.key || b.etcd_sec.given))
        cli_usage("unable to run verify: it reads DIR only (no --etcd, --map-file, --force, "
                  "--tls-*)");
    if (b.force && strcmp(cmd, "restore") != 0)
        cli_usage("unable to run %s: --force goes with restore", cmd);
    int rc;
    if (verify) {
        rc = verify_run(&b);
    } else {
        cli_tls_stores(&tc);
        if (b.etcd_url == NULL && b.map_file == NULL) b.etcd_url = getenv("JUNO_ETCD");
        if (b.etcd_url != NULL && *b.etcd_url == '\0') b.etcd_url = NULL;
        etcdopt_finish(&b.etcd_sec, b.etcd_url != NULL, 1, &b.etcd_opts);
        char err[600];
        if (livemap_open(&b.lm, b.etcd_url, b.map_file,
                         b.cluster ? b.cluster : getenv("JUNO_CLUSTER"), "backup", NULL,
                         &b.etcd_opts, err, sizeof(err)) != 0)
            cli_usage("unable to run %s: %s (or JUNO_ETCD)", cmd, err);
        etcdopt_deinit(&b.etcd_sec); /* the etcd client has its own copy */
        rc = strcmp(cmd, "create") == 0 ? create_run(&b) : restore_run(&b);
        livemap_close(&b.lm);
    }
    calls_disconnect_all();
    if (fflush(stdout) != 0 && rc == 0) rc = EX_IOERR;
    return rc;
}
