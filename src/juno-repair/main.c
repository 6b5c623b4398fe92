/* main.c: juno-repair, anti-entropy for a juno cluster: every shard's
 * replicas (its owner in each zone) are compared, and every replica is
 * brought to the newest copy of each record, by the read-repair rule.
 *
 *   pass: map ──► shard 0 .. S-1 (shard.c, fix.c) ──► Rejoined to the
 *         rejoining stores once every shard was compared ──► done
 *
 * A pass's progress is saved (etcd /juno/<cluster>/repair, or FILE.repair
 * beside the map file) at most once a second, so a run that is killed
 * resumes where it was. --every keeps running, a pass every DURATION: the
 * background scrubber a cluster runs beside its proxies. */
#include "jrep.h"

#include "cli.h"
#include "error.h"
#include "jstate.h"
#include "tls.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: juno-repair (--etcd URL | --map-file FILE) [options]\n"
    "\n"
    "Compare every shard's replicas across the zones and bring each replica to\n"
    "the newest copy of every record (last-modified, then version; a newer\n"
    "tombstone wins), as read repair does, for the records no client reads.\n"
    "Equal shards cost one ShardInfo per replica; where they differ, a hash tree\n"
    "over ranges of the key hash is descended to the differing records, which\n"
    "are read from the replica with the newest copy and written with Repair\n"
    "(write if newer: a record a client writes meanwhile is never overwritten).\n"
    "A store that rejoins after a long absence is made equal to the others and\n"
    "then told to serve again. A killed run resumes where it stopped.\n"
    "\n"
    "Options:\n"
    "  -e, --etcd URL[,URL...]  etcd endpoints (default $JUNO_ETCD): the map, and\n"
    "                        the pass's state at /juno/CLUSTER/repair\n" ETCDOPT_HELP_TOOL
    "  -c, --cluster NAME    cluster name in etcd (default juno)\n"
    "  -f, --map-file FILE   without etcd: the map file (state in FILE.repair)\n"
    "      --state FILE      with --map-file: the state file\n"
    "      --peer-map FILE   cross-site re-sync: also the replicas of this other\n"
    "                        cluster (a site this one replicates with; the same\n"
    "                        shard count), whose stores are compared and\n"
    "                        repaired with this cluster's as more zones of one;\n"
    "                        the state is then FILE.xdc-repair or\n"
    "                        /juno/CLUSTER/xdc-repair\n"
    "  -n, --dry-run         list what differs, change nothing: one line per record\n"
    "                        (shard, namespace, key, each replica's copy, the newest)\n"
    "      --full            compare every record of every shard, not only where\n"
    "                        the hashes differ (what a comparison without the tree\n"
    "                        costs; a check that trusts no hash)\n"
    "  -s, --shard LIST      only these shards: N or N-M, comma-separated\n"
    "  -r, --rate MB/S       at most this much shard data read by the stores for\n"
    "                        the comparison, plus records sent, per second\n"
    "  -E, --every DURATION  keep running, one pass every DURATION (30s, 10m, 1h,\n"
    "                        1d): a background scrubber; SIGTERM ends it (exit 0)\n"
    "      --restart         begin a new pass rather than resume a killed one\n"
    "  -t, --timeout MS      wait at most MS for a store's answer (default 10000)\n"
    "  -j, --json            JSON events on stdout, one per line\n"
    "  -v, --verbose         one line on stdout per differing record repaired\n" CLI_TLS_STORES_HELP
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Output: --dry-run prints \"differs shard=S namespace=NS key=K ZONE/NODE=COPY...\n"
    "newest=ZONE/NODE\" per record, a COPY being live,vV,lm=NS or tombstone,vV,lm=NS\n"
    "or absent. Progress: a bar on a terminal (stderr), log lines otherwise.\n"
    "\n"
    "Exit status:\n"
    "  0   the pass is done: every replica of every shard compared and equal\n"
    "  1   --dry-run: some records differ\n"
    "  64  usage error\n"
    "  65  invalid map or saved state\n"
    "  69  the map is unavailable (etcd unreachable, no map)\n"
    "  70  internal software error (out of memory)\n"
    "  74  the state file cannot be read or written\n"
    "  75  some shards could not be finished (a store unreachable, disk full,\n"
    "      clients writing, the map changing) or the run was interrupted: run again\n"
    "  76  a store's answer did not decode\n"
    "  78  configuration error\n";

enum { OPT_STATE = 256, OPT_RESTART, OPT_FULL, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_PEER };

static const struct option long_opts[] = {
    {"etcd", required_argument, NULL, 'e'},
    ETCDOPT_LONG_OPTIONS,
    {"cluster", required_argument, NULL, 'c'},
    {"map-file", required_argument, NULL, 'f'},
    {"state", required_argument, NULL, OPT_STATE},
    {"peer-map", required_argument, NULL, OPT_PEER},
    {"dry-run", no_argument, NULL, 'n'},
    {"shard", required_argument, NULL, 's'},
    {"rate", required_argument, NULL, 'r'},
    {"every", required_argument, NULL, 'E'},
    {"restart", no_argument, NULL, OPT_RESTART},
    {"full", no_argument, NULL, OPT_FULL},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"verbose", no_argument, NULL, 'v'},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static struct jrep *the_run; /* for the signal handler */

static void
on_signal(int sig)
{
    (void)sig;
    if (the_run) the_run->stop = 1;
}

/* "30s", "10m", "1h", "1d" or seconds, in ms; 0 when malformed. */
static uint64_t
parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return 0;
    double mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (*end == 'm' && end[1] == '\0')
        mult = 60e3;
    else if (*end == 'h' && end[1] == '\0')
        mult = 3600e3;
    else if (*end == 'd' && end[1] == '\0')
        mult = 86400e3;
    else if (*end != '\0' && strcmp(end, "s") != 0)
        return 0;
    double ms = v * mult;
    return ms >= 1 && ms <= 366 * 86400e3 ? (uint64_t)ms : 0;
}

static void
parse_shards(struct jrep *j, const char *arg)
{
    if (j->only == NULL && (j->only = calloc(MAP_MAX_SHARDS, 1)) == NULL)
        cli_die(EX_SOFTWARE, "unable to parse options: out of memory");
    char *copy = strdup(arg), *save = NULL;
    if (copy == NULL) cli_die(EX_SOFTWARE, "unable to parse options: out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(t, '-');
        uint64_t a, b;
        if (dash) *dash = '\0';
        if (cli_parse_u64(t, 0, MAP_MAX_SHARDS - 1, &a) != 0 ||
            cli_parse_u64(dash ? dash + 1 : t, a, MAP_MAX_SHARDS - 1, &b) != 0)
            cli_usage("unable to use --shard %s: expected N or N-M, comma-separated, 0 to %d", arg,
                      MAP_MAX_SHARDS - 1);
        for (uint64_t s = a; s <= b; s++) j->only[s] = 1;
    }
    free(copy);
}

static void
parse_options(struct jrep *j, int argc, char **argv)
{
    struct tls_config tc = {0};
    int opt;
    j->timeout_ms = 10000;
    while ((opt = getopt_long(argc, argv, "e:c:f:ns:r:E:t:jvhV", long_opts, NULL)) != -1) {
        if (etcdopt_set(&j->etcd_sec, opt, optarg, argv)) continue;
        switch (opt) {
        case 'e': j->etcd_url = optarg; break;
        case 'c': j->cluster = optarg; break;
        case 'f': j->map_file = optarg; break;
        case OPT_STATE: j->state_file = optarg; break;
        case OPT_PEER: j->peer_file = optarg; break;
        case 'n': j->dry_run = 1; break;
        case 's': parse_shards(j, optarg); break;
        case 'r': {
            char *end;
            double mb = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(mb > 0) || mb > 1e6)
                cli_usage("unable to use --rate %s: a number of MB/s above 0", optarg);
            j->rate = (uint64_t)(mb * 1048576);
            break;
        }
        case 'E':
            if ((j->every_ms = parse_duration(optarg)) == 0)
                cli_usage("unable to use --every %s: a duration such as 30s, 10m, 1h or 1d",
                          optarg);
            break;
        case OPT_RESTART: j->restart = 1; break;
        case OPT_FULL: j->full = 1; break;
        case 't': j->timeout_ms = (int)cli_opt_u64("timeout", optarg, 10, 3600000); break;
        case 'j': j->json = 1; break;
        case 'v': j->verbose = 1; break;
        case OPT_TLS_CA: tc.ca = optarg; break;
        case OPT_TLS_CERT: tc.cert = optarg; break;
        case OPT_TLS_KEY: tc.key = optarg; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); exit(0);
        default: cli_usage("unable to parse the command line");
        }
    }
    if (optind < argc) cli_usage("unable to run: unexpected argument \"%s\"", argv[optind]);
    if (j->etcd_url == NULL && j->map_file == NULL) j->etcd_url = getenv("JUNO_ETCD");
    if (j->etcd_url != NULL && *j->etcd_url == '\0') j->etcd_url = NULL;
    if ((j->etcd_url == NULL) == (j->map_file == NULL))
        cli_usage("unable to run: give exactly one of --etcd URL (or JUNO_ETCD) and --map-file "
                  "FILE");
    etcdopt_finish(&j->etcd_sec, j->etcd_url != NULL, 1, &j->etcd_opts);
    if (j->state_file && !j->map_file) cli_usage("unable to run: --state goes with --map-file");
    if (j->dry_run && j->every_ms)
        cli_usage("unable to run: --dry-run makes one pass, not --every");
    const char *pause = getenv("JUNO_REPAIR_PAUSE_MS"); /* tests: a window to write in */
    if (pause != NULL) j->pause_ms = (int)cli_opt_u64("JUNO_REPAIR_PAUSE_MS", pause, 0, 60000);
    cli_tls_stores(&tc);
}

/* ---- the saved state ---- */

struct saved {
    uint64_t pass, map_version, shards, next_shard, done, started, finished;
    uint64_t last_started, last_finished;
    uint64_t compared, differing, records, repaired, deleted, incomplete;
};

#define SAVED_FIELDS(s)                                                                            \
    {                                                                                              \
        {"pass", JSTATE_MAX_INT, &(s)->pass, 0},                                                   \
            {"map_version", JSTATE_MAX_INT, &(s)->map_version, 0},                                 \
            {"shards", MAP_MAX_SHARDS, &(s)->shards, 0},                                           \
            {"next_shard", MAP_MAX_SHARDS, &(s)->next_shard, 0}, {"done", 1, &(s)->done, 0},       \
            {"started_ms", JSTATE_MAX_INT, &(s)->started, 0},                                      \
            {"finished_ms", JSTATE_MAX_INT, &(s)->finished, 0},                                    \
            {"last_complete_started_ms", JSTATE_MAX_INT, &(s)->last_started, 0},                   \
            {"last_complete_finished_ms", JSTATE_MAX_INT, &(s)->last_finished, 0},                 \
            {"shards_compared", JSTATE_MAX_INT, &(s)->compared, 0},                                \
            {"shards_differing", JSTATE_MAX_INT, &(s)->differing, 0},                              \
            {"records_differing", JSTATE_MAX_INT, &(s)->records, 0},                               \
            {"repaired", JSTATE_MAX_INT, &(s)->repaired, 0},                                       \
            {"deleted", JSTATE_MAX_INT, &(s)->deleted, 0},                                         \
            {"incomplete", JSTATE_MAX_INT, &(s)->incomplete, 0},                                   \
    }

/* Read the saved state into *s (zeroed when there is none). 0, or an exit code. */
static int
state_read(struct jrep *j, struct saved *s)
{
    memset(s, 0, sizeof(*s));
    char *text, err[600];
    size_t len;
    int rc = livemap_state_get(&j->lm, &text, &len, err, sizeof(err));
    if (rc == JUNO_ENOTFOUND) return 0;
    if (rc != 0) {
        cli_error("unable to read the saved pass: %s", err);
        return j->lm.etcd ? EX_UNAVAILABLE : EX_IOERR;
    }
    struct jstate_field f[] = SAVED_FIELDS(s);
    rc = jstate_parse(text, len, f, sizeof(f) / sizeof(f[0]));
    free(text);
    if (rc != 0) {
        cli_error("unable to use the saved pass: it is malformed (run with --restart, or remove "
                  "it)");
        return EX_DATAERR;
    }
    return 0;
}

static int
state_write(struct jrep *j, struct saved *s)
{
    if (j->dry_run) return 0;
    struct jstate_field f[] = SAVED_FIELDS(s);
    char text[2048], err[600];
    if (jstate_format(text, sizeof(text), f, sizeof(f) / sizeof(f[0])) < 0) return EX_SOFTWARE;
    if (livemap_state_put(&j->lm, text, err, sizeof(err)) != 0) {
        progress_event(j, "error", "\"message\":\"unable to save the pass: %s\"", err);
        return j->lm.etcd ? EX_UNAVAILABLE : EX_IOERR;
    }
    return 0;
}

static void
state_fill(struct jrep *j, struct saved *s)
{
    s->pass = j->pass;
    s->map_version = j->map->version;
    s->shards = j->map->shards;
    s->next_shard = j->next_shard;
    s->compared = j->before.shards + j->n.shards;
    s->differing = j->before.differing + j->n.differing;
    s->records = j->before.records + j->n.records;
    s->repaired = j->before.repaired + j->n.repaired;
    s->deleted = j->before.deleted + j->n.deleted;
    s->incomplete = j->before.incomplete + j->n.incomplete;
}

/* ---- a pass ---- */

static int
map_exit(int rc)
{
    switch (rc) {
    case JUNO_EBADMAP:
    case JUNO_EBADDATA: return EX_DATAERR;
    case JUNO_ENOMEM: return EX_SOFTWARE;
    case JUNO_EUNAVAIL:
    case JUNO_ETIMEDOUT:
    case JUNO_EACCES: /* etcd refused our credentials: as unreachable (juno-migrate) */
    case JUNO_ENOTFOUND: return EX_UNAVAILABLE;
    default: return EX_IOERR;
    }
}

static int
load_map(struct jrep *j)
{
    char err[1200];
    struct map *m;
    int rc = livemap_map(&j->lm, &m, err, sizeof(err));
    if (rc != 0) {
        if (j->json) {
            char q[2600];
            progress_key(q, sizeof(q), (const uint8_t *)err, strlen(err), 1);
            progress_event(j, "error", "\"message\":%s", q);
        }
        cli_error("unable to read the map: %s", err);
        return map_exit(rc);
    }
    map_destroy(j->map);
    j->map = m;
    return 0;
}

/* Tell every store seen rejoining that it may serve again. */
static void
send_rejoined(struct jrep *j)
{
    struct call calls[64];
    size_t n = j->nrejoining < 64 ? j->nrejoining : 64;
    memset(calls, 0, sizeof(calls));
    for (size_t i = 0; i < n; i++) {
        calls[i].addr = j->rejoining[i];
        calls[i].req.opcode = WIRE_OP_REJOINED;
    }
    calls_run(calls, n, j->timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (calls[i].rc == 0 && calls[i].status == WIRE_ST_OK)
            progress_event(j, "rejoined", "\"store\":\"%s\"", calls[i].addr);
        else
            progress_event(j, "refused", "\"store\":\"%s\",\"op\":\"Rejoined\",\"error\":\"%s\"",
                           calls[i].addr, calls_why(&calls[i]));
    }
    calls_clear(calls, n);
}

/* --peer-map: read the other site's map (once) and check that it can be
 * compared with this one shard by shard. */
static int
load_peer(struct jrep *j)
{
    char err[1200], *text = NULL;
    size_t len;
    if (j->peer == NULL) {
        int rc = cli_read_file(j->peer_file, 64u << 20, &text, &len);
        if (rc != 0) {
            cli_error("unable to read the peer map %s: %s", j->peer_file, error_str(rc));
            return EX_UNAVAILABLE;
        }
        rc = map_parse(text, len, &j->peer, err, sizeof(err));
        free(text);
        if (rc != 0) {
            cli_error("unable to read the peer map %s: %s", j->peer_file, err);
            return EX_DATAERR;
        }
    }
    if (j->peer->shards != j->map->shards) {
        cli_error("unable to compare with the peer map %s: %u shards, this cluster has %u",
                  j->peer_file, j->peer->shards, j->map->shards);
        return EX_DATAERR;
    }
    for (uint32_t z = 0; z < j->map->nzones + j->peer->nzones; z++) {
        const struct map *m = z < j->map->nzones ? j->map : j->peer;
        uint32_t mz = z < j->map->nzones ? z : z - j->map->nzones;
        snprintf(j->zone_names[z], sizeof(j->zone_names[z]), "%s/%s", m->cluster,
                 m->zones[mz].name);
    }
    return 0;
}

static int
run_pass(struct jrep *j)
{
    int rc = load_map(j);
    if (rc == 0 && j->peer_file) rc = load_peer(j);
    if (rc != 0) return rc;
    struct saved s;
    memset(&s, 0, sizeof(s));
    if (!j->dry_run && (rc = state_read(j, &s)) != 0) return rc;
    memset(&j->n, 0, sizeof(j->n));
    memset(&j->before, 0, sizeof(j->before));
    j->nrejoining = 0;
    j->cost = 0;
    j->started_ms = report_now_ms();
    int resume = !j->dry_run && !j->restart && s.pass > 0 && !s.done &&
                 s.map_version == j->map->version && s.shards == j->map->shards;
    j->restart = 0; /* only the first pass of an --every run */
    if (resume) {
        j->pass = s.pass;
        j->next_shard = s.next_shard;
        j->before = (struct jrep_counts){.shards = s.compared,
                                         .differing = s.differing,
                                         .records = s.records,
                                         .repaired = s.repaired,
                                         .deleted = s.deleted,
                                         .incomplete = s.incomplete};
    } else {
        j->pass = s.pass + 1;
        j->next_shard = 0;
        s.started = report_wall_ms();
        s.done = 0;
    }
    progress_event(j, resume ? "resume" : "start",
                   "\"pass\":%llu,\"map_version\":%llu,\"shards\":%u,\"zones\":%u,"
                   "\"next_shard\":%llu,\"dry_run\":%s",
                   (unsigned long long)j->pass, (unsigned long long)j->map->version, j->map->shards,
                   j->map->nzones, (unsigned long long)j->next_shard,
                   j->dry_run ? "true" : "false");
    state_fill(j, &s);
    if ((rc = state_write(j, &s)) != 0) return rc;
    uint64_t saved_at = report_now_ms();
    int reloaded = 0;
    for (uint64_t sh = j->next_shard; sh < j->map->shards && !j->stop; sh++) {
        if (j->only && !j->only[sh]) {
            j->next_shard = sh + 1;
            continue;
        }
        int r = shard_run(j, (uint32_t)sh);
        if (r == JUNO_EBADMAP) { /* a store gave the shard up: the map moved on */
            uint64_t v = j->map->version;
            if (!reloaded && load_map(j) == 0 && j->map->version != v &&
                j->map->shards == s.shards) {
                reloaded = 1;
                progress_event(j, "map", "\"version\":%llu", (unsigned long long)j->map->version);
                sh--; /* this shard again, with its new owners */
                continue;
            }
            progress_event(j, "moved",
                           "\"shard\":%llu,\"reason\":\"a store does not own it any more (a "
                           "migration?); the next pass goes on\"",
                           (unsigned long long)sh);
            j->n.incomplete++;
        }
        reloaded = 0;
        if (j->stop && r == 1) break; /* interrupted inside it: redo it on resume */
        j->next_shard = sh + 1;
        if (report_now_ms() - saved_at >= 1000) {
            state_fill(j, &s);
            state_write(j, &s);
            saved_at = report_now_ms();
        }
        progress_draw(j, 0);
    }
    state_fill(j, &s);
    if (j->stop) {
        state_write(j, &s);
        progress_draw(j, 1);
        progress_event(j, "interrupted", "\"pass\":%llu,\"next_shard\":%llu",
                       (unsigned long long)j->pass, (unsigned long long)j->next_shard);
        return EX_TEMPFAIL;
    }
    uint64_t incomplete = s.incomplete;
    if (!j->dry_run && j->only == NULL && incomplete == 0 && j->nrejoining > 0) send_rejoined(j);
    s.done = 1;
    s.finished = report_wall_ms();
    if (incomplete == 0 && j->only == NULL) {
        s.last_started = s.started;
        s.last_finished = s.finished;
    }
    if ((rc = state_write(j, &s)) != 0) return rc;
    progress_draw(j, 1);
    const struct jrep_counts *n = &j->n;
    progress_event(
        j, "done",
        "\"pass\":%llu,\"shards\":%llu,\"differing\":%llu,\"records\":%llu,\"repaired\":%llu,"
        "\"newer_stood\":%llu,\"deleted\":%llu,\"conflicts\":%llu,\"failed\":%llu,"
        "\"incomplete\":%llu,\"scanned\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,\"seconds\":%."
        "3f",
        (unsigned long long)j->pass, (unsigned long long)(j->before.shards + n->shards),
        (unsigned long long)s.differing, (unsigned long long)s.records,
        (unsigned long long)s.repaired, (unsigned long long)n->newer_stood,
        (unsigned long long)s.deleted, (unsigned long long)n->conflicts,
        (unsigned long long)n->failed, (unsigned long long)incomplete,
        (unsigned long long)n->scanned, (unsigned long long)calls_bytes_in(),
        (unsigned long long)calls_bytes_out(), (report_now_ms() - j->started_ms) / 1000.0);
    uint64_t took_s = (report_now_ms() - j->started_ms) / 1000;
    if (j->every_ms && j->grace_s && j->every_ms / 1000 + took_s > j->grace_s / 2)
        progress_event(j, "schedule",
                       "\"every_s\":%llu,\"pass_s\":%llu,\"tombstone_grace_s\":%llu,\"message\":"
                       "\"a pass every %llu s taking %llu s does not fit the stores' "
                       "--tombstone-grace: keep every + pass <= grace / 2 (docs/consistency.md)\"",
                       (unsigned long long)(j->every_ms / 1000), (unsigned long long)took_s,
                       (unsigned long long)j->grace_s, (unsigned long long)(j->every_ms / 1000),
                       (unsigned long long)took_s);
    if (j->dry_run) return n->records > 0 ? EXIT_NO : incomplete ? EX_TEMPFAIL : 0;
    if (n->protocol > 0) return EX_PROTOCOL;
    return incomplete ? EX_TEMPFAIL : 0;
}

int
main(int argc, char **argv)
{
    cli_init("juno-repair");
    static struct jrep j;
    parse_options(&j, argc, argv);
    j.tty = isatty(2) && !j.json;
    the_run = &j;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[600];
    if (livemap_open(&j.lm, j.etcd_url, j.map_file, j.cluster ? j.cluster : getenv("JUNO_CLUSTER"),
                     j.peer_file ? "xdc-repair" : "repair", j.state_file, &j.etcd_opts, err,
                     sizeof(err)) != 0)
        cli_usage("unable to run: %s", err);
    etcdopt_deinit(&j.etcd_sec); /* the etcd client has its own copy */
    int rc;
    for (;;) {
        uint64_t began = report_now_ms();
        rc = run_pass(&j);
        if (!j.every_ms || j.stop) break;
        uint64_t next = began + j.every_ms, now = report_now_ms();
        if (next > now)
            progress_event(&j, "sleep", "\"seconds\":%.1f,\"last_exit\":%d", (next - now) / 1000.0,
                           rc);
        while (!j.stop && report_now_ms() < next) {
            uint64_t left = next - report_now_ms();
            struct timespec ts = {0, (long)(left < 200 ? left : 200) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (j.stop) {
            rc = 0; /* a scrubber stopped between passes */
            break;
        }
    }
    if (j.every_ms && j.stop && rc == EX_TEMPFAIL) rc = 0; /* stopped: it resumes next start */
    calls_disconnect_all();
    map_destroy(j.map);
    map_destroy(j.peer);
    livemap_close(&j.lm);
    free(j.only);
    if (fflush(stdout) != 0) rc = EX_IOERR;
    return rc;
}
