/* main.c: juno-ring's command line: options, help, and dispatch to the
 * commands (init, show, lookup, plan, check, publish, fetch). The option table below is the one
 * the help text lists and the completions (completions/juno-ring.bash, _juno-ring)
 * are tested against. */
#include "jring.h"

#include "cli.h"
#include "error.h"
#include "hash.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "Usage: juno-ring COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Compute and inspect juno shard maps (JSON). MAP is a file; \"-\" or no MAP\n"
    "reads the map from stdin. Results go to stdout.\n"
    "\n"
    "Commands:\n"
    "  init    --cluster NAME [--shards S] --zone ZONE=NODE[,NODE...] [--zone ...]\n"
    "          build a new map (version 1); NODE is ADDR or NAME@ADDR (the name\n"
    "          defaults to the address), ADDR is HOST:PORT\n"
    "  show    [MAP]       shards and share per node, balance (max - min) per zone\n"
    "  lookup  [MAP] KEY   the shard of KEY and its owner in every zone\n"
    "  plan    [MAP] --add ZONE=[NAME@]ADDR | --remove ZONE=NAME [...]\n"
    "          the moves a membership change needs, applied in the order given,\n"
    "          and the new map (version + 1)\n"
    "  check   [MAP]       validate a map; every error on its own line\n"
    "  publish [MAP] --etcd URL  make MAP the cluster's live map in etcd, only if\n"
    "          etcd holds the version it was planned from (version - 1; none for\n"
    "          version 1); exit 1 if not\n"
    "  fetch   --etcd URL [--cluster NAME]  print the live map (cluster default juno)\n"
    "\n"
    "Options:\n"
    "  -c, --cluster NAME    cluster name (init, fetch)\n"
    "  -s, --shards S        number of shards, 1..65536, default 1024 (init)\n"
    "  -z, --zone ZONE=NODE,...  a zone and its nodes; repeat for up to 5 zones (init)\n"
    "  -a, --add ZONE=[NAME@]ADDR  add a node to a zone (plan)\n"
    "  -r, --remove ZONE=NAME  remove a node from a zone (plan)\n"
    "  -o, --out FILE        write the new map to FILE, atomically (init, plan, fetch)\n"
    "  -e, --etcd URL[,URL...]  etcd endpoints (publish, fetch); default "
    "$JUNO_ETCD\n" ETCDOPT_HELP_TOOL
    "  -j, --json            print JSON instead of text (show, lookup, plan)\n"
    "  -x, --hex             KEY is hex-encoded bytes (lookup)\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and exit\n"
    "\n" CLI_EXIT_CODES_HELP "\n"
    "Examples:\n"
    "  juno-ring init --cluster demo --zone z0=127.0.0.1:9001,127.0.0.1:9002 > map.json\n"
    "  juno-ring plan map.json --add z0=s3@127.0.0.1:9003 --out map2.json\n"
    "  juno-ring lookup map2.json user:42\n"
    "  juno-ring publish map2.json --etcd http://127.0.0.1:2379\n";

static const struct option longopts[] = {
    {"cluster", required_argument, NULL, 'c'},
    {"shards", required_argument, NULL, 's'},
    {"zone", required_argument, NULL, 'z'},
    {"add", required_argument, NULL, 'a'},
    {"remove", required_argument, NULL, 'r'},
    {"out", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'j'},
    {"hex", no_argument, NULL, 'x'},
    {"etcd", required_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    ETCDOPT_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static const struct command {
    const char *name;
    unsigned allowed; /* OPT_* bits */
    int (*run)(struct jring_opts *o);
} commands[] = {
    {"init", OPT_CLUSTER | OPT_SHARDS | OPT_ZONE | OPT_OUT, jring__cmd_init},
    {"show", OPT_JSON, jring__cmd_show},
    {"lookup", OPT_JSON | OPT_HEX, jring__cmd_lookup},
    {"plan", OPT_ADD | OPT_REMOVE | OPT_OUT | OPT_JSON, jring__cmd_plan},
    {"check", 0, jring__cmd_check},
    {"publish", OPT_ETCD | OPT_ETCD_SEC, jring__cmd_publish},
    {"fetch", OPT_ETCD | OPT_ETCD_SEC | OPT_CLUSTER | OPT_OUT, jring__cmd_fetch},
};

static const char *
opt_name(const struct jring_opts *o, unsigned bit)
{
    if (bit == OPT_ETCD_SEC) return o->etcd_sec.given;
    static const char *names[] = {"--cluster", "--shards", "--zone", "--add", "--remove",
                                  "--out",     "--json",   "--hex",  "--etcd"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bit == 1u << i) return names[i];
    }
    return "?";
}

/* Keep a copy of a --add/--remove value, split later by the plan command. */
static void
add_change(struct jring_opts *o, enum ring_op op, const char *arg)
{
    if (o->nchanges >= JRING_MAX_CHANGES) {
        cli_usage("unable to plan: more than %d --add/--remove options", JRING_MAX_CHANGES);
    }
    char *copy = strdup(arg);
    if (copy == NULL) cli_die(EX_SOFTWARE, "unable to parse options: out of memory");
    o->specs[o->nchanges] = copy;
    o->changes[o->nchanges].op = op;
    o->nchanges++;
}

static void
parse_options(int argc, char **argv, struct jring_opts *o)
{
    int c;
    uint64_t v;
    o->shards = HASH_DEFAULT_SHARDS;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:z:a:r:o:e:jxhV", longopts, NULL)) != -1) {
        if (etcdopt_set(&o->etcd_sec, c, optarg, argv)) {
            o->seen |= OPT_ETCD_SEC;
            continue;
        }
        switch (c) {
        case 'c':
            o->seen |= OPT_CLUSTER;
            o->cluster = optarg;
            break;
        case 's':
            o->seen |= OPT_SHARDS;
            if (cli_parse_u64(optarg, 1, MAP_MAX_SHARDS, &v) != 0) {
                cli_usage("unable to use --shards %s: expected a number of shards, 1..%d", optarg,
                          MAP_MAX_SHARDS);
            }
            o->shards = (uint32_t)v;
            break;
        case 'z':
            o->seen |= OPT_ZONE;
            if (o->nzones >= MAP_MAX_ZONES) {
                cli_usage("unable to use --zone %s: at most %d zones", optarg, MAP_MAX_ZONES);
            }
            o->zones[o->nzones++] = optarg;
            break;
        case 'a':
            o->seen |= OPT_ADD;
            add_change(o, RING_ADD, optarg);
            break;
        case 'r':
            o->seen |= OPT_REMOVE;
            add_change(o, RING_REMOVE, optarg);
            break;
        case 'o':
            o->seen |= OPT_OUT;
            o->out = optarg;
            break;
        case 'j':
            o->seen |= OPT_JSON;
            o->json = 1;
            break;
        case 'x':
            o->seen |= OPT_HEX;
            o->hex = 1;
            break;
        case 'e':
            o->seen |= OPT_ETCD;
            o->etcd = optarg;
            break;
        case 'h': fputs(help, stdout); exit(0);
        case 'V': cli_version(); exit(0);
        case ':': cli_usage("unable to parse options: %s needs an argument", argv[optind - 1]);
        default:
            if (optopt != 0) cli_usage("unable to parse options: unknown option -%c", optopt);
            cli_usage("unable to parse options: unknown option %s", argv[optind - 1]);
        }
    }
}

int
main(int argc, char **argv)
{
    static struct jring_opts o; /* large: the change table */
    cli_init("juno-ring");
    parse_options(argc, argv, &o);
    if (optind >= argc)
        cli_usage("unable to parse command line: missing command (init, show, lookup, plan, check, "
                  "publish or fetch)");
    const char *name = argv[optind];
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) cmd = &commands[i];
    }
    if (cmd == NULL) cli_usage("unable to run command \"%s\": no such command", name);
    unsigned extra = o.seen & ~cmd->allowed;
    if (extra != 0) {
        cli_usage("unable to run %s: option %s does not apply to it", name,
                  opt_name(&o, extra & -extra));
    }
    o.args = argv + optind + 1;
    o.nargs = argc - optind - 1;
    int rc = cmd->run(&o);
    for (size_t i = 0; i < o.nchanges; i++) free(o.specs[i]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_die(EX_IOERR, "unable to write output: %s", strerror(errno));
    }
    return rc;
}
