/* main.c: juno, the shell client: options, help, and dispatch to a mode.
 *
 * Options are read in two passes. Before COMMAND, every option may appear and
 * -V/--version prints juno's version. After COMMAND, the same options may
 * appear again, and there --version N is the record version (a raw storage
 * request's Version field), as the store's commands name it; --record-version
 * N means the same anywhere.
 *
 * Modes: --store HOST:PORT talks the storage protocol to one juno-store
 * (store.c, batch.c). The proxy mode (juno get/put/del through juno-proxy)
 * will be the branch taken without --store.
 */
#include "juno.h"

#include "cli.h"
#include "error.h"
#include "hash.h"
#include "map.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: juno --store HOST:PORT [options] COMMAND [ARGS...] [record options]\n"
    "\n"
    "The juno shell client. With --store it speaks the storage protocol to one\n"
    "juno-store directly (for operators and tests); nothing is replicated.\n"
    "\n"
    "Store commands:\n"
    "  read KEY                       the record: status, metadata, value\n"
    "  get KEY                        the value bytes only (like read)\n"
    "  set KEY [VALUE|-]              PrepareSet then Commit (version + 1): a\n"
    "                                 one-replica proxy write\n"
    "  prepare-create KEY [VALUE|-]   Prepare*: lock the record for --rid\n"
    "  prepare-update KEY [VALUE|-]     (with --version N: conditional)\n"
    "  prepare-set KEY [VALUE|-]\n"
    "  prepare-delete KEY\n"
    "  commit KEY                     write what --rid prepared (--version N required)\n"
    "  abort KEY                      release --rid's lock\n"
    "  delete KEY                     remove the record\n"
    "  mark-delete KEY                write a tombstone if newer\n"
    "  repair KEY [VALUE|-]           write the record described if newer\n"
    "  clone KEY [VALUE|-]            the same, also for shards the store does not own\n"
    "  drop-shard SHARD               delete a shard the store does not own\n"
    "  nop                            a Nop round trip\n"
    "  batch                          lines \"set|get|del<TAB>KEY[<TAB>VALUE]\" from stdin,\n"
    "                                 pipelined; one result line per input line:\n"
    "                                 OK, OK<TAB>VALUE, NOT_FOUND or ERR<TAB>STATUS\n"
    "                                 (keys and values use \\t \\n \\r \\0 \\\\ \\xHH escapes)\n"
    "A VALUE of - or none reads the value from stdin (binary-safe).\n"
    "\n"
    "Options:\n"
    "  -s, --store HOST:PORT      the juno-store to talk to\n"
    "  -n, --namespace NS         namespace (default \"default\")\n"
    "  -S, --shards N             shard count of the cluster (default 1024)\n"
    "  -m, --map FILE             take the shard count from this shard map\n"
    "  -j, --json                 print one JSON object instead of lines\n"
    "  -t, --timeout MS           connect and reply timeout (default 5000)\n"
    "  -w, --window N             batch: keys in flight at once (default 256)\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit (before COMMAND)\n"
    "\n"
    "Record options (raw commands; set uses --ttl, --expire and --rid):\n"
    "      --rid UUID             request id (default: a random one)\n"
    "      --version N            after COMMAND: the record version\n"
    "      --record-version N     the record version, anywhere\n"
    "      --ttl S                TTL field (set: expire S seconds from now)\n"
    "      --creation T           creation time (unix s)\n"
    "      --expire T             expiration time (unix s, 0 = never)\n"
    "      --last-modified NS     last-modified time (unix ns)\n"
    "      --origin UUID          originator request id\n"
    "      --tombstone            repair/clone a tombstone (header flag 0x02)\n"
    "      --shard N              send this shard id instead of the key's\n"
    "      --value-type N         payload value type byte (0-255)\n"
    "\n"
    "Output: the status name on the first line, then \"name value\" lines for the\n"
    "metadata returned, then the value (read). get prints the value bytes only.\n"
    "\n"
    "Statuses: 0 Ok, AlreadyFulfilled; 1 NoKey, DupKey, VersionConflict,\n"
    "NoUncommitted, MarkedDelete; 65 BadParam, BadMsg; 74 SSError; 75 RecordLocked,\n"
    "Busy, NoStorageServer; 69 connection refused, timed out or closed; 76 a reply\n"
    "that is not JunoDB, or NotSupported.\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
    OPT_RID = 256,
    OPT_VERSION_ARG,
    OPT_RECORD_VERSION,
    OPT_TTL,
    OPT_CREATION,
    OPT_EXPIRE,
    OPT_LAST_MODIFIED,
    OPT_ORIGIN,
    OPT_TOMBSTONE,
    OPT_SHARD,
    OPT_VALUE_TYPE,
};

/* Pass 1 uses the table as it is; pass 2 turns entry 0 into --version N. */
static struct option long_opts[] = {
    {"version", no_argument, NULL, 'V'},
    {"store", required_argument, NULL, 's'},
    {"namespace", required_argument, NULL, 'n'},
    {"shards", required_argument, NULL, 'S'},
    {"map", required_argument, NULL, 'm'},
    {"json", no_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"window", required_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {"rid", required_argument, NULL, OPT_RID},
    {"record-version", required_argument, NULL, OPT_RECORD_VERSION},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"creation", required_argument, NULL, OPT_CREATION},
    {"expire", required_argument, NULL, OPT_EXPIRE},
    {"last-modified", required_argument, NULL, OPT_LAST_MODIFIED},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"tombstone", no_argument, NULL, OPT_TOMBSTONE},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"value-type", required_argument, NULL, OPT_VALUE_TYPE},
    {NULL, 0, NULL, 0},
};

static uint64_t
num_opt(const char *name, const char *arg, uint64_t min, uint64_t max)
{
    uint64_t v;
    int rc = cli_parse_u64(arg, min, max, &v);
    if (rc == JUNO_ERANGE)
        cli_usage("invalid --%s '%s': must be between %llu and %llu", name, arg,
                  (unsigned long long)min, (unsigned long long)max);
    if (rc != 0) cli_usage("invalid --%s '%s': not a number", name, arg);
    return v;
}

static void
uuid_opt(const char *name, const char *arg, uint8_t out[16])
{
    if (wire_uuid_parse(arg, out) != 0) cli_usage("invalid --%s '%s': not a UUID", name, arg);
}

/* One option of either pass. Returns 0, or -1 for an unknown option. */
static int
take_option(struct juno_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case 's':
        o->store = arg;
        break;
    case 'n':
        if (arg[0] == '\0' || strlen(arg) > WIRE_MAX_NAMESPACE)
            cli_usage("invalid --namespace: 1 to %d bytes", WIRE_MAX_NAMESPACE);
        o->ns = arg;
        break;
    case 'S':
        o->shards = (uint32_t)num_opt("shards", arg, 1, MAP_MAX_SHARDS);
        break;
    case 'm':
        o->map_path = arg;
        break;
    case 'j':
        o->json = 1;
        break;
    case 't':
        o->timeout_ms = (int)num_opt("timeout", arg, 1, 86400000);
        break;
    case 'w':
        o->window = (unsigned)num_opt("window", arg, 1, 65535);
        break;
    case 'h':
        fputs(usage_text, stdout);
        exit(0);
    case 'V':
        cli_version();
        exit(0);
    case OPT_RID:
        uuid_opt("rid", arg, o->rid), o->has_rid = 1;
        break;
    case OPT_VERSION_ARG:
    case OPT_RECORD_VERSION:
        o->version = (uint32_t)num_opt("version", arg, 0, UINT32_MAX);
        o->has_version = 1;
        break;
    case OPT_TTL:
        o->ttl = (uint32_t)num_opt("ttl", arg, 0, UINT32_MAX), o->has_ttl = 1;
        break;
    case OPT_CREATION:
        o->creation = (uint32_t)num_opt("creation", arg, 0, UINT32_MAX);
        o->has_creation = 1;
        break;
    case OPT_EXPIRE:
        o->expire = (uint32_t)num_opt("expire", arg, 0, UINT32_MAX);
        o->has_expire = 1;
        break;
    case OPT_LAST_MODIFIED:
        o->last_modified = num_opt("last-modified", arg, 0, UINT64_MAX);
        o->has_lm = 1;
        break;
    case OPT_ORIGIN:
        uuid_opt("origin", arg, o->origin), o->has_origin = 1;
        break;
    case OPT_TOMBSTONE:
        o->tombstone = 1;
        break;
    case OPT_SHARD:
        o->shard = (uint32_t)num_opt("shard", arg, 0, 65535), o->has_shard = 1;
        break;
    case OPT_VALUE_TYPE:
        o->value_type = (uint8_t)num_opt("value-type", arg, 0, 255);
        o->has_value_type = 1;
        break;
    default:
        return -1;
    }
    return 0;
}

static const char short_opts[] = "s:n:S:m:jt:w:hV";

/* The shard count from --map FILE. */
static uint32_t
map_shards(const char *path)
{
    char *text, err[512];
    size_t len;
    int rc = cli_read_file(path, MAP_MAX_JSON, &text, &len);
    if (rc != 0) cli_die(EX_CONFIG, "unable to read map %s: %s", path, error_str(rc));
    struct map *m;
    rc = map_parse(text, len, &m, err, sizeof(err));
    free(text);
    if (rc != 0) cli_die(EX_CONFIG, "unable to use map %s: %s", path, err);
    uint32_t s = m->shards;
    map_destroy(m);
    return s;
}

int
main(int argc, char **argv)
{
    cli_init("juno");
    struct juno_opts o;
    memset(&o, 0, sizeof(o));
    o.ns = JUNO_DEFAULT_NS;
    o.timeout_ms = JUNO_DEFAULT_TIMEOUT;
    o.window = JUNO_DEFAULT_WINDOW;
    int opt, shards_given = 0;
    /* pass 1: options before COMMAND ('+': stop at the first non-option) */
    while ((opt = getopt_long(argc, argv, "+s:n:S:m:jt:w:hV", long_opts, NULL)) != -1) {
        if (opt == 'S') shards_given = 1;
        if (take_option(&o, opt, optarg) != 0) cli_usage("unknown option");
    }
    if (optind >= argc) cli_usage("no command given");
    int cmd = optind;
    /* pass 2: options after COMMAND, mixed with its arguments */
    int cargc = argc - cmd;
    char **cargv = argv + cmd;
    optind = 0;
    long_opts[0].has_arg = required_argument;
    long_opts[0].val = OPT_VERSION_ARG;
    while ((opt = getopt_long(cargc, cargv, short_opts, long_opts, NULL)) != -1) {
        if (opt == 'S') shards_given = 1;
        if (take_option(&o, opt, optarg) != 0) cli_usage("unknown option");
    }
    /* cargv[0] is the command; getopt moved the other non-options to optind.. */
    int nargs = cargc - optind;
    char **args = cargv + optind - 1;
    args[0] = cargv[0];
    if (o.map_path != NULL) {
        if (shards_given) cli_usage("give --shards or --map, not both");
        o.shards = map_shards(o.map_path);
    }
    if (o.shards == 0) o.shards = HASH_DEFAULT_SHARDS;
    if (o.store == NULL)
        cli_usage("no store given: use --store HOST:PORT (the proxy mode is not available yet)");
    return store_main(&o, nargs + 1, args);
}
