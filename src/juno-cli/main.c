/* main.c: juno, the shell client: options, help, and dispatch to a mode.
 *
 * Modes: without --store, juno talks the JunoDB client protocol to
 * juno-proxy (proxy.c, proxy_batch.c): get, put, create, update, del, ping,
 * batch. With --store HOST:PORT it talks the storage protocol to one
 * juno-store (store.c, store_batch.c), for operators and tests.
 *
 * Options are read in two passes. Before COMMAND, every option may appear and
 * -V/--version prints juno's version. After COMMAND, the same options may
 * appear again; in store mode --version N there is the record version (a raw
 * storage request's Version field), as the store's commands name it, and
 * --record-version N means the same anywhere. Each option belongs to both
 * modes or to one (the table's mode column); one of the other mode is a
 * usage error.
 */
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"
#include "hash.h"
#include "map.h"
#include "tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: juno [options] COMMAND [ARGS...]\n"
    "       juno --store HOST:PORT [options] STORE-COMMAND [ARGS...] [record options]\n"
    "\n"
    "The juno shell client. By default it talks to juno-proxy with the JunoDB\n"
    "client protocol. With --store it speaks the storage protocol to one juno-store\n"
    "directly (for operators and tests; nothing is replicated).\n"
    "\n"
    "Commands:\n"
    "  get KEY                        print the value: its bytes as stored, no\n"
    "                                 newline added (see --newline)\n"
    "  put KEY [VALUE|-]              create or replace (Set)\n"
    "  create KEY [VALUE|-]           create; exit 1 if KEY exists\n"
    "  update KEY [VALUE|-]           replace; exit 1 if KEY is missing, or with\n"
    "                                 --if-version V if its version is not V\n"
    "  del KEY                        delete (also exit 0 when KEY is missing)\n"
    "  ping                           a Nop round trip to the proxy\n"
    "  batch                          many requests from stdin, pipelined (below)\n"
    "A VALUE of - or none reads the value from stdin (binary-safe).\n"
    "\n"
    "Options:\n"
    "  -s, --server HOST:PORT     the juno-proxy (default: $JUNO_PROXY, else\n"
    "                             " JUNO_DEFAULT_PROXY ")\n"
    "  -n, --namespace NS         namespace (default: $JUNO_NAMESPACE, else \"default\")\n"
    "      --ttl SECONDS          create, put, update: the record expires SECONDS\n"
    "                             from now; get: extend the record's TTL to SECONDS\n"
    "      --if-version V         update: only if the record's version is V\n"
    "  -j, --json                 print status, metadata (version, creation_time,\n"
    "                             expiration_time, ttl, last_modified, request_id,\n"
    "                             originator_id) and the value as one JSON object; a\n"
    "                             value that is not UTF-8 is base64 with\n"
    "                             \"value_encoding\":\"base64\"\n"
    "      --newline              get: write a newline after the value\n"
    "  -t, --timeout MS           connect and reply timeout (default 5000)\n"
    "  -r, --retries N            retry RecordLocked, NoStorageServer, Busy and\n"
    "                             failed connections N times, with a short backoff\n"
    "                             and the same request id (default 2)\n"
    "  -w, --window N             batch: requests in flight at once (default 256)\n"
    "      --tls                  speak TLS 1.2/1.3 to the proxy or store (the server's\n"
    "                             certificate is checked against the system's CAs,\n"
    "                             or --tls-ca, and against the address connected to);\n"
    "                             also $JUNO_TLS=1\n"
    "      --tls-ca FILE          TLS: the CA (PEM) that signed the server's\n"
    "                             certificate; also $JUNO_TLS_CA\n"
    "      --tls-cert FILE        TLS: present this client certificate (PEM; a store\n"
    "                             requires one the cluster CA signed); also\n"
    "                             $JUNO_TLS_CERT\n"
    "      --tls-key FILE         TLS: its private key (PEM); also $JUNO_TLS_KEY\n"
    "      --user NAME            log in to the proxy as this user of its ACL file on\n"
    "                             every connection; also $JUNO_USER\n"
    "      --password PASSWORD    that user's password; prefer $JUNO_PASSWORD (a\n"
    "                             command line is visible to other users of the host)\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit (before COMMAND)\n"
    "\n"
    "Batch format: one request per line on stdin, fields separated by a tab:\n"
    "  get<TAB>KEY, put<TAB>KEY[<TAB>VALUE], create<TAB>KEY[<TAB>VALUE],\n"
    "  update<TAB>KEY[<TAB>VALUE[<TAB>VERSION]], del<TAB>KEY\n"
    "KEY and VALUE use the escapes \\t \\n \\r \\0 \\\\ and \\xHH for any byte. One\n"
    "result line per input line, in input order: OK, OK<TAB>VALUE (get, escaped\n"
    "the same way), NOT_FOUND, EXISTS (create), CONFLICT (update with a stale\n"
    "VERSION) or ERR<TAB>STATUS (BadInput: a line that cannot be parsed;\n"
    "Unavailable: no answer). Lines on one key run in input order. --ttl applies to\n"
    "every put, create and update. Exit 0 if every line was OK, NOT_FOUND or\n"
    "EXISTS, else 1; 69 if the proxy could not be reached.\n"
    "\n"
    "Store mode (--store HOST:PORT):\n"
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
    "  shard-info SHARD               the shard's records, live records, tombstones,\n"
    "                                 expired records, bytes and hash, as JSON\n"
    "  migrate-start SHARD JSON       stream SHARD to another store and forward its\n"
    "                                 writes there: {\"target\":\"H:P\",\"rate\":B/s}\n"
    "  migrate-status SHARD           the stream's state, records, bytes, forwarded\n"
    "  migrate-stop SHARD             end the stream once forwarded writes are in\n"
    "  migrate-verify SHARD           hold SHARD's writes, compare source and target\n"
    "  shard-accept SHARD             serve SHARD before the map gives it (moving in)\n"
    "  checkpoint JSON                a RocksDB checkpoint of the store in a new\n"
    "                                 directory, {\"dir\":\"/ABS/PATH\"} (juno-backup)\n"
    "  rejoined                       a rejoining store serves proxies again (what\n"
    "                                 juno-repair sends once its shards are compared)\n"
    "  compact                        run a full compaction (drops expired records,\n"
    "                                 old tombstones, shards given up) and wait for it\n"
    "  nop                            a Nop round trip\n"
    "  batch                          lines \"set|get|del<TAB>KEY[<TAB>VALUE]\" from stdin,\n"
    "                                 pipelined, escapes as above; one result line per\n"
    "                                 input line: OK, OK<TAB>VALUE, NOT_FOUND or\n"
    "                                 ERR<TAB>STATUS\n"
    "Output: the status name on the first line, then \"name value\" lines for the\n"
    "metadata returned, then the value (read). get prints the value bytes only.\n"
    "\n"
    "Store options:\n"
    "      --store HOST:PORT      the juno-store to talk to (selects store mode)\n"
    "  -S, --shards N             shard count of the cluster (default 1024)\n"
    "  -m, --map FILE             take the shard count from this shard map\n"
    "Record options (raw commands; set uses --ttl, --expire and --rid):\n"
    "      --rid UUID             request id (default: a random one)\n"
    "      --version N            after STORE-COMMAND: the record version\n"
    "      --record-version N     the record version, anywhere\n"
    "      --ttl S                TTL field (set: expire S seconds from now)\n"
    "      --creation T           creation time (unix s)\n"
    "      --expire T             expiration time (unix s, 0 = never)\n"
    "      --last-modified NS     last-modified time (unix ns)\n"
    "      --origin UUID          originator request id\n"
    "      --tombstone            repair/clone a tombstone (header flag 0x02)\n"
    "      --one-phase            prepare-create/-update/-set: commit at once\n"
    "                             (header flag 0x10, as juno-proxy sends for a\n"
    "                             single-replica key)\n"
    "      --shard N              send this shard id instead of the key's\n"
    "      --value-type N         payload value type byte (0-255)\n"
    "\n"
    "Environment:\n"
    "  JUNO_PROXY                 the default for --server\n"
    "  JUNO_NAMESPACE             the default for --namespace\n"
    "  JUNO_TLS, JUNO_TLS_CA, JUNO_TLS_CERT, JUNO_TLS_KEY\n"
    "                             the defaults for --tls (1: on), --tls-ca, --tls-cert,\n"
    "                             --tls-key\n"
    "  JUNO_USER, JUNO_PASSWORD   the defaults for --user and --password\n"
    "\n"
    "Statuses, proxy mode: 0 Ok, Inconsistent; 1 NoKey (get, update), DupKey\n"
    "(create), VersionConflict; 65 BadParam, BadMsg; 69 NoStorageServer, connection\n"
    "refused, timed out or closed; 75 RecordLocked, Busy (retryable),\n"
    "SSOutofResource (a store's disk is full); 74 CommitFailure, SSError; 76 a\n"
    "reply that is not JunoDB, NotSupported, or a TLS handshake refused; 77 the\n"
    "login (--user) refused.\n"
    "Store mode: 0 Ok, AlreadyFulfilled; 1 NoKey, DupKey, VersionConflict,\n"
    "NoUncommitted, MarkedDelete; 65 BadParam, BadMsg; 74 SSError; 75 RecordLocked,\n"
    "Busy, NoStorageServer, SSOutofResource (disk full); 69 connection refused,\n"
    "timed out or closed; 76 a reply that is not JunoDB, NotSupported, or a TLS\n"
    "handshake refused.\n"
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
    OPT_ONE_PHASE,
    OPT_SHARD,
    OPT_VALUE_TYPE,
    OPT_STORE,
    OPT_IF_VERSION,
    OPT_NEWLINE,
    OPT_TLS,
    OPT_TLS_CA,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_USER,
    OPT_PASSWORD,
};

enum { M_BOTH, M_PROXY, M_STORE };

/* The mode each option belongs to, by its getopt value. */
static const struct {
    int val, mode;
    const char *name;
} opt_modes[] = {
    {'s', M_PROXY, "server"},
    {'r', M_PROXY, "retries"},
    {OPT_IF_VERSION, M_PROXY, "if-version"},
    {OPT_USER, M_PROXY, "user"},
    {OPT_PASSWORD, M_PROXY, "password"},
    {OPT_NEWLINE, M_PROXY, "newline"},
    {OPT_STORE, M_STORE, "store"},
    {'S', M_STORE, "shards"},
    {'m', M_STORE, "map"},
    {OPT_RID, M_STORE, "rid"},
    {OPT_VERSION_ARG, M_STORE, "version"},
    {OPT_RECORD_VERSION, M_STORE, "record-version"},
    {OPT_CREATION, M_STORE, "creation"},
    {OPT_EXPIRE, M_STORE, "expire"},
    {OPT_LAST_MODIFIED, M_STORE, "last-modified"},
    {OPT_ORIGIN, M_STORE, "origin"},
    {OPT_TOMBSTONE, M_STORE, "tombstone"},
    {OPT_ONE_PHASE, M_STORE, "one-phase"},
    {OPT_SHARD, M_STORE, "shard"},
    {OPT_VALUE_TYPE, M_STORE, "value-type"},
};

/* Pass 1 uses the table as it is; in store mode pass 2 turns entry 0 into
 * --version N. */
static struct option long_opts[] = {
    {"version", no_argument, NULL, 'V'},
    {"server", required_argument, NULL, 's'},
    {"store", required_argument, NULL, OPT_STORE},
    {"namespace", required_argument, NULL, 'n'},
    {"shards", required_argument, NULL, 'S'},
    {"map", required_argument, NULL, 'm'},
    {"json", no_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"retries", required_argument, NULL, 'r'},
    {"window", required_argument, NULL, 'w'},
    {"if-version", required_argument, NULL, OPT_IF_VERSION},
    {"newline", no_argument, NULL, OPT_NEWLINE},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"user", required_argument, NULL, OPT_USER},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"help", no_argument, NULL, 'h'},
    {"rid", required_argument, NULL, OPT_RID},
    {"record-version", required_argument, NULL, OPT_RECORD_VERSION},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"creation", required_argument, NULL, OPT_CREATION},
    {"expire", required_argument, NULL, OPT_EXPIRE},
    {"last-modified", required_argument, NULL, OPT_LAST_MODIFIED},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"tombstone", no_argument, NULL, OPT_TOMBSTONE},
    {"one-phase", no_argument, NULL, OPT_ONE_PHASE},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"value-type", required_argument, NULL, OPT_VALUE_TYPE},
    {NULL, 0, NULL, 0},
};

static const char short_opts[] = "s:n:S:m:jt:r:w:hV";

/* Options given, by their index in opt_modes. */
static unsigned char opt_seen[sizeof(opt_modes) / sizeof(opt_modes[0])];

static void
uuid_opt(const char *name, const char *arg, uint8_t out[16])
{
    if (wire_uuid_parse(arg, out) != 0) cli_usage("invalid --%s '%s': not a UUID", name, arg);
}

/* One option of either pass. Returns 0, or -1 for an unknown option. */
static int
take_option(struct juno_opts *o, int opt, const char *arg)
{
    for (size_t i = 0; i < sizeof(opt_modes) / sizeof(opt_modes[0]); i++)
        if (opt_modes[i].val == opt) opt_seen[i] = 1;
    switch (opt) {
    case 's': o->server = arg; break;
    case OPT_STORE: o->store = arg; break;
    case 'n':
        if (arg[0] == '\0' || strlen(arg) > WIRE_MAX_NAMESPACE)
            cli_usage("invalid --namespace: 1 to %d bytes", WIRE_MAX_NAMESPACE);
        o->ns = arg;
        break;
    case 'S': o->shards = (uint32_t)cli_opt_u64("shards", arg, 1, MAP_MAX_SHARDS); break;
    case 'm': o->map_path = arg; break;
    case 'j': o->json = 1; break;
    case 't': o->timeout_ms = (int)cli_opt_u64("timeout", arg, 1, 86400000); break;
    case 'r': o->retries = (unsigned)cli_opt_u64("retries", arg, 0, JUNO_MAX_RETRIES); break;
    case 'w': o->window = (unsigned)cli_opt_u64("window", arg, 1, 65535); break;
    case OPT_IF_VERSION:
        o->if_version = (uint32_t)cli_opt_u64("if-version", arg, 1, UINT32_MAX);
        o->has_if_version = 1;
        break;
    case OPT_NEWLINE: o->newline = 1; break;
    case OPT_TLS: o->tls = 1; break;
    case OPT_TLS_CA: o->tls_ca = arg; break;
    case OPT_TLS_CERT: o->tls_cert = arg; break;
    case OPT_TLS_KEY: o->tls_key = arg; break;
    case OPT_USER: o->user = arg; break;
    case OPT_PASSWORD: o->password = arg; break;
    case 'h': cli_help(usage_text);
    case 'V': cli_version(); exit(0);
    case OPT_RID: uuid_opt("rid", arg, o->rid), o->has_rid = 1; break;
    case OPT_VERSION_ARG:
    case OPT_RECORD_VERSION:
        o->version = (uint32_t)cli_opt_u64("version", arg, 0, UINT32_MAX);
        o->has_version = 1;
        break;
    case OPT_TTL: o->ttl = (uint32_t)cli_opt_u64("ttl", arg, 0, UINT32_MAX), o->has_ttl = 1; break;
    case OPT_CREATION:
        o->creation = (uint32_t)cli_opt_u64("creation", arg, 0, UINT32_MAX);
        o->has_creation = 1;
        break;
    case OPT_EXPIRE:
        o->expire = (uint32_t)cli_opt_u64("expire", arg, 0, UINT32_MAX);
        o->has_expire = 1;
        break;
    case OPT_LAST_MODIFIED:
        o->last_modified = cli_opt_u64("last-modified", arg, 0, UINT64_MAX);
        o->has_lm = 1;
        break;
    case OPT_ORIGIN: uuid_opt("origin", arg, o->origin), o->has_origin = 1; break;
    case OPT_TOMBSTONE: o->tombstone = 1; break;
    case OPT_ONE_PHASE: o->one_phase = 1; break;
    case OPT_SHARD:
        o->shard = (uint32_t)cli_opt_u64("shard", arg, 0, 65535), o->has_shard = 1;
        break;
    case OPT_VALUE_TYPE:
        o->value_type = (uint8_t)cli_opt_u64("value-type", arg, 0, 255);
        o->has_value_type = 1;
        break;
    default: return -1;
    }
    return 0;
}

/* 1 if argv selects store mode: --store (or --store=ADDR) before any "--". */
static int
store_mode(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--store") == 0 || strncmp(argv[i], "--store=", 8) == 0) return 1;
    }
    return 0;
}

/* A usage error for an option of the other mode. */
static void
check_mode(int store)
{
    for (size_t i = 0; i < sizeof(opt_modes) / sizeof(opt_modes[0]); i++) {
        if (!opt_seen[i]) continue;
        if (store && opt_modes[i].mode == M_PROXY)
            cli_usage("--%s is for the proxy mode (without --store)", opt_modes[i].name);
        if (!store && opt_modes[i].mode == M_STORE)
            cli_usage("--%s needs --store HOST:PORT", opt_modes[i].name);
    }
}

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

/* A default from the environment: the variable when set and not empty. */
static const char *
env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* --tls, --tls-ca, --tls-cert, --tls-key (or their variables): every
 * connection speaks TLS. The context lives as long as the process. */
static void
setup_tls(struct juno_opts *o)
{
    const char *on = env_or("JUNO_TLS", "0");
    if (strcmp(on, "0") != 0 && strcmp(on, "1") != 0) cli_usage("JUNO_TLS must be 0 or 1");
    struct tls_config tc = {.cert = o->tls_cert, .key = o->tls_key, .ca = o->tls_ca};
    cli_tls_env(&tc);
    if (!o->tls && strcmp(on, "1") != 0 && !tc.ca && !tc.cert && !tc.key) return;
    if ((tc.cert == NULL) != (tc.key == NULL)) cli_usage("--tls-cert and --tls-key go together");
    char err[600];
    struct tls_ctx *ctx = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err));
    if (ctx == NULL) cli_die(EX_CONFIG, "%s", err);
    client_tls(ctx);
}

/* --user and --password (or their variables): every connection logs in. */
static void
setup_login(struct juno_opts *o, int store)
{
    if (store) return; /* check_mode refused the options; stores have no users */
    if (o->user == NULL) o->user = env_or("JUNO_USER", NULL);
    if (o->password == NULL) o->password = env_or("JUNO_PASSWORD", NULL);
    if (o->user == NULL && o->password == NULL) return;
    if (o->user == NULL) o->user = "default"; /* as Redis's AUTH with a password alone */
    if (o->password == NULL) cli_usage("--user needs a password: --password or $JUNO_PASSWORD");
    if (strlen(o->user) > 255 || strlen(o->password) > 1024)
        cli_usage("--user is 1 to 255 bytes and --password at most 1024");
    client_login(o->user, o->password);
}

int
main(int argc, char **argv)
{
    cli_init("juno");
    struct juno_opts o;
    memset(&o, 0, sizeof(o));
    o.ns = env_or("JUNO_NAMESPACE", JUNO_DEFAULT_NS);
    if (strlen(o.ns) > WIRE_MAX_NAMESPACE)
        cli_usage("invalid JUNO_NAMESPACE: 1 to %d bytes", WIRE_MAX_NAMESPACE);
    o.timeout_ms = JUNO_DEFAULT_TIMEOUT;
    o.window = JUNO_DEFAULT_WINDOW;
    o.retries = JUNO_DEFAULT_RETRIES;
    int store = store_mode(argc, argv);
    int opt;
    /* pass 1: options before COMMAND ('+': stop at the first non-option) */
    while ((opt = getopt_long(argc, argv, "+s:n:S:m:jt:r:w:hV", long_opts, NULL)) != -1)
        if (take_option(&o, opt, optarg) != 0) cli_usage("unknown option");
    if (optind >= argc) cli_usage("no command given");
    int cmd = optind;
    /* pass 2: options after COMMAND, mixed with its arguments */
    int cargc = argc - cmd;
    char **cargv = argv + cmd;
    optind = 0;
    if (store) {
        long_opts[0].has_arg = required_argument;
        long_opts[0].val = OPT_VERSION_ARG;
    }
    while ((opt = getopt_long(cargc, cargv, short_opts, long_opts, NULL)) != -1)
        if (take_option(&o, opt, optarg) != 0) cli_usage("unknown option");
    /* cargv[0] is the command; getopt moved the other non-options to optind.. */
    int nargs = cargc - optind;
    char **args = cargv + optind - 1;
    args[0] = cargv[0];
    check_mode(store);
    setup_tls(&o);
    setup_login(&o, store);
    if (!store) {
        if (o.server == NULL) o.server = env_or("JUNO_PROXY", JUNO_DEFAULT_PROXY);
        return proxy_main(&o, nargs + 1, args);
    }
    if (o.map_path != NULL) {
        if (o.shards != 0) cli_usage("give --shards or --map, not both");
        o.shards = map_shards(o.map_path);
    }
    if (o.shards == 0) o.shards = HASH_DEFAULT_SHARDS;
    return store_main(&o, nargs + 1, args);
}
