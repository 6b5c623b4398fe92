/* juno-bench: a load generator for the JunoDB protocol (what redis-benchmark is
 * for Redis).
 *
 * One libuv loop drives -c connections, each keeping up to -P requests in
 * flight (closed loop), or issues requests at --rate per second over all of
 * them (open loop: latency counts from each request's scheduled time, so a
 * stalled server cannot hide its queueing). Latencies go to a log-linear
 * histogram (lib/hist.c).
 *
 * Against juno-proxy it sends the client opcodes (Set, Get, Create, Update,
 * Destroy). With --store it talks to one juno-store the way a one-replica
 * proxy does: a set is PrepareSet then Commit, a get is Read, a del is
 * PrepareDelete then Delete; the shard id is computed from --shards.
 */
#include "buf.h"
#include "clock.h"
#include "cli.h"
#include "conn.h"
#include "error.h"
#include "hash.h"
#include "hist.h"
#include "tls.h"
#include "wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

enum test { T_SET, T_GET, T_CREATE, T_UPDATE, T_DEL, T_COUNT };
static const char *const test_names[T_COUNT] = {"set", "get", "create", "update", "del"};

struct slot {
    uint64_t start_ns;
    uint32_t key;
    uint8_t stage; /* store mode: 0 prepare, 1 commit/delete */
    uint8_t busy;
    uint8_t rid[16];
};

/* One connection (lib/conn: read, framed, written once per loop turn). */
struct bconn {
    struct conn c; /* first */
    struct bench *b;
    int connected;
    uint32_t inflight;
    struct slot *slots; /* owned: pipeline entries, indexed by opaque */
};

struct bench {
    uv_loop_t *loop;
    char host[256];
    uint16_t port;
    unsigned clients, pipeline, shards;
    uint64_t requests, keyspace, rate, duration_s;
    size_t value_size;
    int store_mode, one_phase, unique, csv, json, quiet;
    const char *ns;
    uint8_t *value;       /* owned */
    struct bconn **conns; /* owned array; the connections are lib/conn's */
    struct conn_group group;
    uv_check_t flush;
    uv_timer_t tick;
    enum test test;
    uint64_t issued, done, errors, misses;
    uint64_t start_ns, end_ns, deadline_ns;
    uint64_t rng;
    struct hist hist;
    int finished, failed;
};

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t x = *s; /* xorshift64* */
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int
key_text(uint32_t key, char *out)
{
    return snprintf(out, 24, "key:%010u", key);
}

/* Encode one message for slot s of connection c into c's output buffer. */
static void
send_msg(struct bconn *c, uint32_t opaque, uint8_t opcode, const struct slot *s,
         const struct wire_msg *resp)
{
    struct bench *b = c->b;
    char key[24];
    int klen = key_text(s->key, key);
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type_flag = WIRE_TF_REQUEST;
    m.opaque = opaque;
    m.opcode = opcode;
    m.ns.ptr = (const uint8_t *)b->ns;
    m.ns.len = strlen(b->ns);
    m.key.ptr = (const uint8_t *)key;
    m.key.len = (size_t)klen;
    if (b->store_mode) m.shard_id = (uint16_t)hash_shard(key, (size_t)klen, b->shards);
    if (b->one_phase && opcode != WIRE_OP_READ && opcode != WIRE_OP_PREPARE_DELETE &&
        opcode != WIRE_OP_DELETE)
        m.flags = WIRE_FLAG_ONE_PHASE;
    wire_meta_set_request_id(&m.meta, s->rid);
    int with_value = opcode == WIRE_OP_SET || opcode == WIRE_OP_CREATE ||
                     opcode == WIRE_OP_UPDATE || opcode == WIRE_OP_PREPARE_SET ||
                     opcode == WIRE_OP_PREPARE_CREATE || opcode == WIRE_OP_PREPARE_UPDATE;
    if (with_value) {
        m.value.ptr = b->value;
        m.value.len = b->value_size;
    }
    if (opcode == WIRE_OP_COMMIT) { /* a one-replica proxy's commit */
        uint32_t version =
            resp && wire_meta_has(&resp->meta, WIRE_F_VERSION) ? resp->meta.version : 0;
        uint32_t created = resp && wire_meta_has(&resp->meta, WIRE_F_CREATION_TIME)
                               ? resp->meta.creation_time
                               : (uint32_t)time(NULL);
        wire_meta_set_u32(&m.meta, WIRE_F_VERSION, version + 1);
        wire_meta_set_u32(&m.meta, WIRE_F_CREATION_TIME, created);
        wire_meta_set_last_modified(&m.meta, clock_wall_ns());
        if (resp && wire_meta_has(&resp->meta, WIRE_F_ORIGINATOR_ID))
            wire_meta_set_originator_id(&m.meta, resp->meta.originator_id);
    }
    size_t n = wire_encoded_size(&m);
    uint8_t *p = conn_reserve(&c->c, n);
    if (p == NULL) cli_die(EX_OSERR, "out of memory");
    struct buf *out = conn_out(&c->c);
    out->len += (size_t)wire_encode(&m, p, out->cap - out->len);
}

static uint8_t
first_opcode(const struct bench *b)
{
    static const uint8_t proxy_ops[T_COUNT] = {WIRE_OP_SET, WIRE_OP_GET, WIRE_OP_CREATE,
                                               WIRE_OP_UPDATE, WIRE_OP_DESTROY};
    static const uint8_t store_ops[T_COUNT] = {WIRE_OP_PREPARE_SET, WIRE_OP_READ,
                                               WIRE_OP_PREPARE_CREATE, WIRE_OP_PREPARE_UPDATE,
                                               WIRE_OP_PREPARE_DELETE};
    return b->store_mode ? store_ops[b->test] : proxy_ops[b->test];
}

/* --unique: the i-th key of a fixed random order of [0, n), every key once.
 * An invertible mix of the smallest power-of-two domain holding n, applied
 * again while the result falls outside [0, n) (cycle walking: it stays a
 * permutation, and takes under two rounds on average). */
static uint32_t
unique_key(uint64_t i, uint64_t n)
{
    unsigned bits = 1;
    while ((1ull << bits) < n) bits++;
    uint64_t mask = (1ull << bits) - 1, x = i;
    do {
        x = (x * 0x9E3779B97F4A7C15ull) & mask; /* odd multiplier: a bijection mod 2^bits */
        x ^= x >> (bits / 2 + 1);
        x = (x * 0xBF58476D1CE4E5B9ull) & mask;
        x ^= x >> (bits / 2 + 1);
    } while (x >= n);
    return (uint32_t)x;
}

/* Start one request on c with the given scheduled start. Returns 0 if c has no free slot. */
static int
issue(struct bconn *c, uint64_t start)
{
    struct bench *b = c->b;
    if (!c->connected || c->inflight >= b->pipeline) return 0;
    uint32_t i = 0;
    while (c->slots[i].busy) i++;
    struct slot *s = &c->slots[i];
    s->busy = 1;
    s->stage = 0;
    s->start_ns = start;
    s->key = b->unique ? unique_key(b->issued % b->keyspace, b->keyspace)
                       : (uint32_t)(rng_next(&b->rng) % b->keyspace);
    uint64_t r1 = rng_next(&b->rng), r2 = rng_next(&b->rng);
    memcpy(s->rid, &r1, 8);
    memcpy(s->rid + 8, &r2, 8);
    c->inflight++;
    b->issued++;
    send_msg(c, i, first_opcode(b), s, NULL);
    return 1;
}

static int
want_more(const struct bench *b)
{
    if (b->rate > 0) return 0; /* the tick timer issues */
    if (b->duration_s > 0) return clock_mono_ns() < b->deadline_ns;
    return b->issued < b->requests;
}

static void
finish_request(struct bconn *c, struct slot *s, int status)
{
    struct bench *b = c->b;
    uint64_t t = clock_mono_ns();
    hist_record(&b->hist, t - s->start_ns);
    b->done++;
    if (status == WIRE_ST_OK || status == WIRE_ST_ALREADY_FULFILLED) {
    } else if (status == WIRE_ST_NO_KEY || status == WIRE_ST_DUP_KEY) {
        b->misses++;
    } else {
        if (b->errors++ < 5)
            fprintf(stderr, "juno-bench: %s failed: %s\n", test_names[b->test],
                    wire_status_name(status));
    }
    s->busy = 0;
    c->inflight--;
    if (want_more(b)) issue(c, clock_mono_ns());
    int all_issued =
        b->rate || b->duration_s ? clock_mono_ns() >= b->deadline_ns : b->issued >= b->requests;
    if (all_issued && b->done == b->issued) {
        b->end_ns = t;
        b->finished = 1;
        uv_stop(b->loop);
    }
}

static void
on_response(struct bconn *c, const struct wire_msg *m)
{
    struct bench *b = c->b;
    if (m->opaque >= b->pipeline || !c->slots[m->opaque].busy) return; /* unknown: drop */
    struct slot *s = &c->slots[m->opaque];
    int st = m->status;
    if (b->store_mode && s->stage == 0 && st == WIRE_ST_OK && b->test != T_GET &&
        (!b->one_phase || b->test == T_DEL)) {
        s->stage = 1;
        send_msg(c, m->opaque, b->test == T_DEL ? WIRE_OP_DELETE : WIRE_OP_COMMIT, s, m);
        return;
    }
    finish_request(c, s, st);
}

/* ---- the connections' hooks ---- */

static void
on_frame(struct conn *cn, const uint8_t *frame, size_t len)
{
    struct bconn *c = (struct bconn *)cn;
    struct wire_msg m;
    if (wire_decode(frame, (uint32_t)len, &m) != 0) {
        cli_error("bad response from %s:%u: undecodable", c->b->host, c->b->port);
        c->b->failed = 1;
        conn_close(cn);
        uv_stop(c->b->loop);
        return;
    }
    on_response(c, &m);
}

static void
on_bad_frame(struct conn *cn, const char *why)
{
    struct bconn *c = (struct bconn *)cn;
    cli_error("bad response from %s:%u: %s", c->b->host, c->b->port, why);
    c->b->failed = 1;
    conn_close(cn);
    uv_stop(c->b->loop);
}

static void
on_connected(struct conn *cn)
{
    struct bconn *c = (struct bconn *)cn;
    c->connected = 1;
    uv_stop(c->b->loop);
}

static void
on_failed(struct conn *cn, int err, const char *why)
{
    (void)err;
    struct bconn *c = (struct bconn *)cn;
    if (c->connected)
        cli_error("connection to %s:%u lost: %s", c->b->host, c->b->port, why);
    else
        cli_error("unable to connect to %s:%u: %s", c->b->host, c->b->port, why);
    c->b->failed = 1;
    uv_stop(c->b->loop);
}

static void
on_free(struct conn *cn)
{
    free(((struct bconn *)cn)->slots);
}

static const struct conn_proto bench_proto = {
    .size = sizeof(struct bconn),
    .what = "connection",
    .frame = conn_wire_frame,
    .handle = on_frame,
    .bad_frame = on_bad_frame,
    .connected = on_connected,
    .failed = on_failed,
    .free = on_free,
};

static void
on_flush(uv_check_t *h)
{
    struct bench *b = h->data;
    conn_group_flush(&b->group); /* a failed write surfaces through on_failed */
}

static void on_flush(uv_check_t *h);

/* Open loop: issue every request whose scheduled time has come. */
static void
on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = clock_mono_ns();
    uint64_t end = now < b->deadline_ns ? now : b->deadline_ns;
    uint64_t due = (end - b->start_ns) * b->rate / 1000000000u;
    static unsigned rr;
    while (b->issued < due) {
        uint64_t sched = b->start_ns + b->issued * 1000000000u / b->rate;
        unsigned tried = 0;
        while (tried < b->clients && !issue(b->conns[rr++ % b->clients], sched)) tried++;
        if (tried == b->clients) break; /* all pipelines full: the backlog waits, its clock runs */
    }
    on_flush(&b->flush); /* timers run before poll: write now, not after the next poll */
    if (now >= b->deadline_ns) {
        uv_timer_stop(t);
        if (b->done == b->issued) {
            b->end_ns = now;
            b->finished = 1;
            uv_stop(b->loop);
        }
    }
}

static void
report(struct bench *b, int first)
{
    double secs = (double)(b->end_ns - b->start_ns) / 1e9;
    double ops = secs > 0 ? (double)b->done / secs : 0;
    double q[5] = {hist_percentile(&b->hist, 50) / 1e6, hist_percentile(&b->hist, 90) / 1e6,
                   hist_percentile(&b->hist, 99) / 1e6, hist_percentile(&b->hist, 99.9) / 1e6,
                   hist_percentile(&b->hist, 100) / 1e6};
    const char *name = test_names[b->test];
    if (b->csv) {
        if (first)
            printf("test,requests,seconds,ops_per_sec,errors,misses,p50_ms,p90_ms,p99_ms,p999_ms,"
                   "max_ms\n");
        printf("%s,%llu,%.3f,%.0f,%llu,%llu,%.3f,%.3f,%.3f,%.3f,%.3f\n", name,
               (unsigned long long)b->done, secs, ops, (unsigned long long)b->errors,
               (unsigned long long)b->misses, q[0], q[1], q[2], q[3], q[4]);
    } else if (b->json) {
        printf("%s{\"test\":\"%s\",\"requests\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f,"
               "\"errors\":%llu,\"misses\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
               "\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f}}",
               first ? "{\"tests\":[" : ",", name, (unsigned long long)b->done, secs, ops,
               (unsigned long long)b->errors, (unsigned long long)b->misses, q[0], q[1], q[2], q[3],
               q[4]);
    } else {
        printf("%s: %llu requests in %.2f s: %.0f ops/s, errors %llu, misses %llu\n"
               "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
               name, (unsigned long long)b->done, secs, ops, (unsigned long long)b->errors,
               (unsigned long long)b->misses, q[0], q[1], q[2], q[3], q[4]);
    }
    fflush(stdout);
}

static void
run_test(struct bench *b)
{
    b->issued = b->done = b->errors = b->misses = 0;
    b->finished = 0;
    hist_init(&b->hist);
    b->start_ns = clock_mono_ns();
    b->deadline_ns = b->start_ns + (b->duration_s ? b->duration_s : 3600) * 1000000000ull;
    if (b->rate > 0) {
        if (b->duration_s == 0)
            b->deadline_ns = b->start_ns + b->requests * 1000000000ull / b->rate;
        uv_timer_start(&b->tick, on_tick, 0, 1);
    } else {
        for (unsigned i = 0; i < b->clients; i++)
            while (want_more(b) && issue(b->conns[i], clock_mono_ns())) {
            }
        on_flush(&b->flush);
    }
    uv_run(b->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&b->tick);
}

static const char usage_text[] =
    "Usage: juno-bench [options]\n"
    "\n"
    "Load generator for juno-proxy (JunoDB protocol) or, with --store, one juno-store.\n"
    "\n"
    "Options:\n"
    "  -s, --server HOST:PORT  target (default 127.0.0.1:8080)\n"
    "  -c, --clients N         connections (default 50)\n"
    "  -n, --requests N        requests per test (default 100000)\n"
    "  -d, --data-size BYTES   value size (default 100)\n"
    "  -r, --keyspace N        keys are key:0000000000 .. N-1, chosen at random (default 100000)\n"
    "  -u, --unique            each key of the key space once, in a random order\n"
    "                          (the same order every run; -n past -r starts it again)\n"
    "  -P, --pipeline N        requests in flight per connection (default 1)\n"
    "  -t, --tests LIST        comma-separated: set,get,create,update,del (default set,get)\n"
    "  -R, --rate R            open loop: R requests per second over all connections\n"
    "  -D, --duration S        run each test for S seconds instead of -n requests\n"
    "  -N, --namespace NS      namespace (default bench)\n"
    "  -S, --store             speak the storage opcodes to one juno-store\n"
    "      --shards S          the cluster's shard count, with --store (default 1024)\n"
    "      --one-phase         with --store: a write is one flagged Prepare that commits at\n"
    "                          once (what juno-proxy sends for a single-replica key)\n"
    "      --tls               speak TLS (the server's certificate checked against\n"
    "                          the system's CAs, or --tls-ca)\n"
    "      --tls-ca FILE       TLS: check the server's certificate against this CA\n"
    "      --tls-cert FILE     TLS: present this client certificate (PEM)\n"
    "      --tls-key FILE      TLS: its private key (PEM)\n"
    "                          (JUNO_TLS=1, JUNO_TLS_CA, JUNO_TLS_CERT and\n"
    "                          JUNO_TLS_KEY are the defaults, as for juno)\n"
    "      --csv               CSV output\n"
    "      --json              JSON output\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Latency is measured per request from the moment it was due (open loop) or sent.\n"
    "\n" CLI_EXIT_CODES_HELP;

enum {
    OPT_SHARDS = 256,
    OPT_CSV,
    OPT_JSON,
    OPT_ONE_PHASE,
    OPT_TLS,
    OPT_TLS_CA,
    OPT_TLS_CERT,
    OPT_TLS_KEY
};

int
main(int argc, char **argv)
{
    cli_init("juno-bench");
    static struct bench bench;
    struct bench *b = &bench;
    const char *server = "127.0.0.1:8080", *tests = "set,get";
    struct tls_config tc = {0};
    int tls_on = 0;
    b->clients = 50, b->requests = 100000, b->value_size = 100, b->keyspace = 100000;
    b->pipeline = 1, b->shards = 1024, b->ns = "bench";
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"clients", required_argument, NULL, 'c'},
                                         {"requests", required_argument, NULL, 'n'},
                                         {"data-size", required_argument, NULL, 'd'},
                                         {"keyspace", required_argument, NULL, 'r'},
                                         {"unique", no_argument, NULL, 'u'},
                                         {"pipeline", required_argument, NULL, 'P'},
                                         {"tests", required_argument, NULL, 't'},
                                         {"rate", required_argument, NULL, 'R'},
                                         {"duration", required_argument, NULL, 'D'},
                                         {"namespace", required_argument, NULL, 'N'},
                                         {"store", no_argument, NULL, 'S'},
                                         {"shards", required_argument, NULL, OPT_SHARDS},
                                         {"csv", no_argument, NULL, OPT_CSV},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"one-phase", no_argument, NULL, OPT_ONE_PHASE},
                                         {"tls", no_argument, NULL, OPT_TLS},
                                         {"tls-ca", required_argument, NULL, OPT_TLS_CA},
                                         {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
                                         {"tls-key", required_argument, NULL, OPT_TLS_KEY},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "s:c:n:d:r:uP:t:R:D:N:ShV", opts, NULL)) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 'c': b->clients = (unsigned)cli_opt_u64("clients", optarg, 1, 10000); break;
        case 'n': b->requests = cli_opt_u64("requests", optarg, 1, UINT64_MAX / 2); break;
        case 'd': b->value_size = cli_opt_u64("data-size", optarg, 0, 16u << 20); break;
        case 'r': b->keyspace = cli_opt_u64("keyspace", optarg, 1, UINT32_MAX); break;
        case 'u': b->unique = 1; break;
        case 'P': b->pipeline = (unsigned)cli_opt_u64("pipeline", optarg, 1, 65536); break;
        case 't': tests = optarg; break;
        case 'R': b->rate = cli_opt_u64("rate", optarg, 1, 100000000); break;
        case 'D': b->duration_s = cli_opt_u64("duration", optarg, 1, 86400); break;
        case 'N': b->ns = optarg; break;
        case 'S': b->store_mode = 1; break;
        case OPT_SHARDS: b->shards = (unsigned)cli_opt_u64("shards", optarg, 1, 65536); break;
        case OPT_CSV: b->csv = 1; break;
        case OPT_JSON: b->json = 1; break;
        case OPT_ONE_PHASE: b->one_phase = 1; break;
        case OPT_TLS: tls_on = 1; break;
        case OPT_TLS_CA: tc.ca = optarg; break;
        case OPT_TLS_CERT: tc.cert = optarg; break;
        case OPT_TLS_KEY: tc.key = optarg; break;
        case 'h': cli_help(usage_text);
        case 'V': cli_version(); return 0;
        default: cli_usage("unknown option");
        }
    }
    if (optind < argc) cli_usage("unexpected argument '%s'", argv[optind]);
    if (cli_parse_hostport(server, b->host, sizeof(b->host), &b->port) != 0)
        cli_usage("invalid --server '%s': expected HOST:PORT", server);
    if (strlen(b->ns) == 0 || strlen(b->ns) > 64) cli_usage("namespace must be 1 to 64 bytes");
    struct tls_ctx *tls = NULL;
    const char *tls_env = getenv("JUNO_TLS");
    if (tls_env != NULL && strcmp(tls_env, "1") == 0) tls_on = 1;
    cli_tls_env(&tc);
    if (tls_on || tc.ca || tc.cert || tc.key) {
        char err[600];
        if ((tls = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    enum test plan[16];
    int nplan = 0;
    char *list = strdup(tests);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int found = -1;
        for (int i = 0; i < T_COUNT; i++)
            if (strcmp(tok, test_names[i]) == 0) found = i;
        if (found < 0) cli_usage("unknown test '%s': use set, get, create, update, del", tok);
        if (nplan < 16) plan[nplan++] = (enum test)found;
    }
    free(list);

    b->value = malloc(b->value_size + 1);
    for (size_t i = 0; i < b->value_size; i++) b->value[i] = (uint8_t)('a' + i % 26);
    b->rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    b->loop = uv_default_loop();
    uv_check_init(b->loop, &b->flush);
    b->flush.data = b;
    uv_check_start(&b->flush, on_flush);
    uv_timer_init(b->loop, &b->tick);
    b->tick.data = b;
    b->conns = calloc(b->clients, sizeof(*b->conns));
    if (b->conns == NULL || b->value == NULL) cli_die(EX_OSERR, "out of memory");
    conn_group_init(&b->group, b->loop, b);
    for (unsigned i = 0; i < b->clients; i++) {
        struct conn *cn;
        int rc = conn_connect(&b->group, &bench_proto, NULL, b->host, b->port, tls, b, &cn);
        if (rc != 0) {
            cli_error("unable to connect to %s:%u: %s", b->host, b->port, error_str(rc));
            return EX_UNAVAILABLE;
        }
        struct bconn *c = (struct bconn *)cn;
        c->b = b;
        c->slots = calloc(b->pipeline, sizeof(*c->slots));
        if (c->slots == NULL) cli_die(EX_OSERR, "out of memory");
        b->conns[i] = c;
        while (!c->connected && !b->failed) uv_run(b->loop, UV_RUN_DEFAULT);
        if (b->failed) return EX_UNAVAILABLE;
    }
    for (int i = 0; i < nplan; i++) {
        b->test = plan[i];
        run_test(b);
        if (b->failed) return EX_UNAVAILABLE;
        report(b, i == 0);
    }
    if (b->json) printf("]}\n");
    tls_ctx_destroy(tls); /* the connections' sessions keep what they use */
    return 0;
}
