/* main.c: juno-migrate, which carries out a plan from `juno-ring plan --json`
 * while the cluster serves: copy and verify every move, publish the new map
 * (version + 1, compare-and-swap), wait for the proxies to switch, then stop
 * forwarding and drop the moved shards on their sources. The state lives in
 * etcd (or next to the map file), so running it again resumes; --abort
 * returns to the old map. */
#include "jmig.h"

#include "cli.h"
#include "error.h"
#include "etcdopt.h"
#include "tls.h"

#include <cjson/cJSON.h>

#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: juno-migrate [PLAN.json] (--etcd URL | --map-file FILE) [options]\n"
    "\n"
    "Carry out a plan made by `juno-ring plan --json` on a running cluster: each\n"
    "source store streams its moved shards to their targets while forwarding\n"
    "live writes; when every move is verified (count and hash, source against\n"
    "target) the new map is published with version + 1, and once every proxy\n"
    "uses it the sources stop forwarding and drop the moved shards.\n"
    "Run it again after an interruption: it resumes. PLAN.json may be left out\n"
    "when a migration is under way (its plan is in the saved state).\n"
    "\n"
    "Options:\n"
    "  -e, --etcd URL        etcd endpoints (default $JUNO_ETCD): the map, the\n"
    "                        state and the proxies' registrations live there\n" ETCDOPT_HELP_TOOL
    "  -c, --cluster NAME    cluster name (default: the plan map's \"cluster\")\n"
    "  -f, --map-file FILE   without etcd: the map file stores and proxies read;\n"
    "                        the new map is written there (atomically); repeat it\n"
    "                        for more copies (the first one is read)\n"
    "  -R, --reload PID      with --map-file: send SIGHUP to PID after writing the\n"
    "                        map (repeat for each store and proxy)\n"
    "      --state FILE      with --map-file: the state file (default FILE.migration)\n"
    "  -r, --rate MB/S       limit the copy to MB/S over all streams (default: as\n"
    "                        fast as the stores go; foreground requests keep priority)\n"
    "  -p, --parallel N      shards moved at once in each zone (default 4)\n"
    "  -w, --wait SEC        how long to wait for proxies to switch, or for a store\n"
    "                        that does not answer (default 30)\n"
    "      --forget-proxy NAME  do not wait for this proxy (its registration name,\n"
    "                        HOST:PORT): one stopped for good. A proxy registered\n"
    "                        when the migration began and not now (cut off from\n"
    "                        etcd, or stopped) is waited for, since it may still\n"
    "                        route with the old map; repeat for more\n"
    "      --drain-ms MS     after the switch, keep forwarding this long (default 1000)\n"
    "  -j, --json            progress as JSON events, one per line\n"
    "  -a, --abort           return to the old map: stop forwarding, drop what was\n"
    "                        copied to the targets, clear the state\n"
    "  -y, --yes             do not ask for confirmation on a terminal\n" CLI_TLS_STORES_HELP
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Output: a progress bar per zone on a terminal, log lines otherwise, JSON\n"
    "events with --json.\n"
    "\n" CLI_EXIT_CODES_HELP;

enum { OPT_STATE = 256, OPT_DRAIN, OPT_FORGET, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY };

static const struct option long_opts[] = {
    {"etcd", required_argument, NULL, 'e'},
    {"cluster", required_argument, NULL, 'c'},
    {"map-file", required_argument, NULL, 'f'},
    {"reload", required_argument, NULL, 'R'},
    {"state", required_argument, NULL, OPT_STATE},
    {"rate", required_argument, NULL, 'r'},
    {"parallel", required_argument, NULL, 'p'},
    {"wait", required_argument, NULL, 'w'},
    {"drain-ms", required_argument, NULL, OPT_DRAIN},
    {"forget-proxy", required_argument, NULL, OPT_FORGET},
    {"json", no_argument, NULL, 'j'},
    {"abort", no_argument, NULL, 'a'},
    {"yes", no_argument, NULL, 'y'},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    ETCDOPT_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void fail(struct jmig *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void
fail(struct jmig *j, int code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (j->json) { /* the message as a JSON string: quotes, backslashes, control bytes */
        cJSON *str = cJSON_CreateString(msg);
        char *q = str ? cJSON_PrintUnformatted(str) : NULL;
        progress_event(j, "error", "\"message\":%s", q ? q : "\"out of memory\"");
        free(q);
        cJSON_Delete(str);
    }
    cli_die(code, "%s", msg);
}

static int
exit_for(int rc)
{
    switch (rc) {
    case JUNO_EBADMAP:
    case JUNO_EBADDATA: return EX_DATAERR;
    case JUNO_ETIMEDOUT: return EX_TEMPFAIL;
    case JUNO_ENOMEM: return EX_SOFTWARE;
    case JUNO_EIO: return EX_IOERR;
    default: return EX_UNAVAILABLE;
    }
}

static void
parse_options(struct jmig *j, int argc, char **argv)
{
    struct tls_config tc = {0};
    int opt;
    j->parallel = 4;
    j->wait_ms = 30000;
    j->drain_ms = 1000;
    while ((opt = getopt_long(argc, argv, "e:c:f:R:r:p:w:jayhV", long_opts, NULL)) != -1) {
        if (etcdopt_set(&j->etcd_sec, opt, optarg, argv)) continue;
        switch (opt) {
        case 'e': j->etcd_url = optarg; break;
        case 'c': j->cluster = optarg; break;
        case 'f':
            if (j->map_file == NULL)
                j->map_file = optarg;
            else if (j->nmore < sizeof(j->more_maps) / sizeof(j->more_maps[0]))
                j->more_maps[j->nmore++] = optarg;
            else
                cli_usage("unable to use --map-file: at most 17");
            break;
        case 'R':
            if (j->nreload == sizeof(j->reload_pids) / sizeof(j->reload_pids[0]))
                cli_usage("unable to use --reload: at most 64");
            j->reload_pids[j->nreload++] = (pid_t)cli_opt_u64("reload", optarg, 1, 4194304);
            break;
        case OPT_STATE: j->state_file = optarg; break;
        case 'r': {
            char *end;
            double mb = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(mb > 0) || mb > 100000)
                cli_usage("unable to use --rate %s: a number of MB/s above 0", optarg);
            j->rate = (uint64_t)(mb * 1048576);
            break;
        }
        case 'p': j->parallel = (unsigned)cli_opt_u64("parallel", optarg, 1, 256); break;
        case 'w': j->wait_ms = cli_opt_u64("wait", optarg, 1, 86400) * 1000; break;
        case OPT_DRAIN: j->drain_ms = cli_opt_u64("drain-ms", optarg, 0, 600000); break;
        case OPT_FORGET:
            if (j->nforget == sizeof(j->forget) / sizeof(j->forget[0]))
                cli_usage("unable to use --forget-proxy: at most 16");
            j->forget[j->nforget++] = optarg;
            break;
        case 'j': j->json = 1; break;
        case 'a': j->abort = 1; break;
        case 'y': j->yes = 1; break;
        case OPT_TLS_CA: tc.ca = optarg; break;
        case OPT_TLS_CERT: tc.cert = optarg; break;
        case OPT_TLS_KEY: tc.key = optarg; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); exit(0);
        default: cli_usage("unable to parse the command line");
        }
    }
    if (j->etcd_url == NULL && j->map_file == NULL) j->etcd_url = getenv("JUNO_ETCD");
    if (j->etcd_url != NULL && *j->etcd_url == '\0') j->etcd_url = NULL;
    if ((j->etcd_url == NULL) == (j->map_file == NULL))
        cli_usage(
            "unable to run: give exactly one of --etcd URL (or JUNO_ETCD) and --map-file FILE");
    if (j->etcd_url && (j->nreload || j->state_file))
        cli_usage("unable to run: --reload and --state go with --map-file");
    if (j->map_file && j->nforget) cli_usage("unable to run: --forget-proxy goes with --etcd");
    etcdopt_finish(&j->etcd_sec, j->etcd_url != NULL, 1, &j->etcd_opts);
    if (optind + 1 < argc) cli_usage("unable to run: unexpected argument \"%s\"", argv[optind + 1]);
    cli_tls_stores(&tc);
}

static int
confirm(const struct jmig *j, const struct map *live)
{
    if (j->yes || !isatty(0) || !isatty(1) || j->json) return 1;
    if (j->abort)
        printf("Abort the migration to map version %llu and return to version %llu? [y/N] ",
               (unsigned long long)j->plan.map->version, (unsigned long long)live->version);
    else
        printf("Move %zu shards and publish map version %llu (live: %llu)? [y/N] ", j->plan.nmoves,
               (unsigned long long)j->plan.map->version, (unsigned long long)live->version);
    fflush(stdout);
    char line[16];
    return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static int
finish(struct jmig *j)
{
    store_disconnect_all();
    map_destroy(j->old_map);
    free(j->proxies);
    j->proxies = NULL;
    plan_deinit(&j->plan);
    live_close(j);
    return 0;
}

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    cli_init("juno-migrate");
    signal(SIGPIPE, SIG_IGN);
    struct jmig j;
    memset(&j, 0, sizeof(j));
    j.started_ms = report_now_ms(); /* for events before the start; reset then */
    parse_options(&j, argc, argv);
    j.tty = isatty(1);
    char err[2048];
    int rc;

    struct plan given;
    memset(&given, 0, sizeof(given));
    if (optind < argc) {
        char *text;
        size_t len;
        if ((rc = cli_read_file(argv[optind], 64u << 20, &text, &len)) != 0)
            fail(&j, rc == JUNO_ENOENT ? EX_NOINPUT : EX_IOERR, "unable to read %s: %s",
                 argv[optind], error_str(rc));
        rc = plan_parse(text, len, &given, err, sizeof(err));
        free(text);
        if (rc != 0) fail(&j, exit_for(rc), "unable to use plan %s: %s", argv[optind], err);
        if (given.nmoves == 0) {
            plan_deinit(&given);
            fail(&j, EX_DATAERR, "unable to use plan %s: it moves nothing", argv[optind]);
        }
    }
    if (j.cluster == NULL && given.map) j.cluster = given.map->cluster;
    if (j.cluster == NULL) j.cluster = getenv("JUNO_CLUSTER");
    if (j.cluster == NULL) j.cluster = "juno";
    if ((rc = live_open(&j, err, sizeof(err))) != 0) fail(&j, EX_USAGE, "%s", err);

    /* the state of a migration under way, if any */
    char *stext = NULL, phase[32] = "";
    size_t slen;
    struct plan saved;
    memset(&saved, 0, sizeof(saved));
    rc = live_state_get(&j, &stext, &slen, err, sizeof(err));
    if (rc != 0 && rc != JUNO_ENOTFOUND) fail(&j, exit_for(rc), "%s", err);
    int have_state = rc == 0;
    if (have_state) {
        rc = plan_state_parse(stext, slen, &saved, &j.old_map, phase, sizeof(phase), err,
                              sizeof(err));
        j.proxies = plan_state_proxies(stext, slen);
        free(stext);
        if (rc != 0) fail(&j, exit_for(rc), "%s (clear it by hand to start over)", err);
        if (given.json && strcmp(given.json, saved.json) != 0)
            fail(&j, EX_DATAERR,
                 "another migration is under way (map version %llu to %llu): finish it (run "
                 "juno-migrate without a plan) or end it with --abort",
                 (unsigned long long)saved.from_version, (unsigned long long)saved.map->version);
        plan_deinit(&given);
        j.plan = saved;
    } else if (given.json) {
        j.plan = given;
    } else if (j.abort) {
        printf("nothing to abort: no migration is under way\n");
        return finish(&j);
    } else {
        cli_usage("unable to run: no PLAN.json given and no migration under way");
    }

    struct map *live;
    int64_t rev;
    if ((rc = live_map(&j, &live, &rev, err, sizeof(err))) != 0) fail(&j, exit_for(rc), "%s", err);
    int published = live->version == j.plan.map->version;
    if (!published && live->version != j.plan.from_version)
        fail(&j, EX_DATAERR,
             "the live map is version %llu, the plan goes from %llu to %llu: make "
             "a new plan",
             (unsigned long long)live->version, (unsigned long long)j.plan.from_version,
             (unsigned long long)j.plan.map->version);
    if (j.old_map == NULL) {
        if (published)
            fail(&j, EX_DATAERR, "map version %llu is already live and no migration is under way",
                 (unsigned long long)live->version);
        j.old_map = map_clone(live);
        if (j.old_map == NULL) fail(&j, EX_SOFTWARE, "out of memory");
    }
    if (!confirm(&j, live)) fail(&j, EXIT_NO, "not confirmed: nothing changed");
    /* the proxies to wait for, whatever becomes of their registrations */
    if (j.proxies == NULL && !j.abort && (rc = live_proxies(&j, &j.proxies, err, sizeof(err))) != 0)
        fail(&j, exit_for(rc), "%s", err);
    map_destroy(live);
    j.started_ms = report_now_ms();
    progress_init(&j);

    if (j.abort) {
        if (published)
            fail(&j, EX_DATAERR,
                 "map version %llu is already live: run juno-migrate without "
                 "--abort to finish the migration",
                 (unsigned long long)j.plan.map->version);
        progress_event(&j, "abort", "\"from_version\":%llu,\"moves\":%zu",
                       (unsigned long long)j.plan.from_version, j.plan.nmoves);
        moves_abort(&j, err, sizeof(err));
        if ((rc = live_state_delete(&j, err, sizeof(err))) != 0) fail(&j, exit_for(rc), "%s", err);
        progress_event(&j, "aborted", "\"version\":%llu", (unsigned long long)j.plan.from_version);
        return finish(&j);
    }

    progress_event(&j, have_state ? "resume" : "start",
                   "\"from_version\":%llu,\"version\":%llu,\"moves\":%zu,\"phase\":\"%s\"",
                   (unsigned long long)j.plan.from_version, (unsigned long long)j.plan.map->version,
                   j.plan.nmoves, published ? "published" : "copying");
    if (!published) {
        char *state = plan_state_json(&j, "copying");
        if (state == NULL) fail(&j, EX_SOFTWARE, "out of memory");
        rc = live_state_put(&j, state, err, sizeof(err));
        free(state);
        if (rc != 0) fail(&j, exit_for(rc), "%s", err);
        do {
            if ((rc = moves_run(&j, err, sizeof(err))) != 0) fail(&j, exit_for(rc), "%s", err);
        } while (moves_recheck(&j) > 0); /* a source restarted after its move was verified */
        progress_draw(&j, 1);
        progress_event(&j, "verified", "\"moves\":%zu", j.plan.nmoves);
        if ((rc = live_publish(&j, err, sizeof(err))) != 0) fail(&j, exit_for(rc), "%s", err);
        progress_event(&j, "published", "\"version\":%llu",
                       (unsigned long long)j.plan.map->version);
    }
    if ((rc = live_wait_switched(&j, j.plan.map->version, err, sizeof(err))) != 0)
        fail(&j, exit_for(rc),
             "the proxies did not switch to map version %llu: %s; run "
             "juno-migrate again to finish",
             (unsigned long long)j.plan.map->version, err);
    progress_event(&j, "switched", "\"version\":%llu", (unsigned long long)j.plan.map->version);
    sleep_ms(j.drain_ms); /* requests begun on the old map finish, and are forwarded */
    if ((rc = moves_finish(&j, err, sizeof(err))) != 0)
        fail(&j, exit_for(rc), "%s; run juno-migrate again to finish", err);
    if ((rc = live_state_delete(&j, err, sizeof(err))) != 0) fail(&j, exit_for(rc), "%s", err);
    progress_event(&j, "done", "\"version\":%llu,\"moves\":%zu,\"seconds\":%.1f",
                   (unsigned long long)j.plan.map->version, j.plan.nmoves,
                   (report_now_ms() - j.started_ms) / 1000.0);
    return finish(&j);
}
