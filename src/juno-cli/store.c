/* store.c: `juno --store HOST:PORT COMMAND`: one storage request per run.
 *
 * Raw commands build exactly the request the options describe (only the
 * request id is filled in when missing) and print the store's reply, so they
 * can exercise every check the store makes. Two conveniences act as a
 * one-replica proxy:
 *   set KEY VALUE   PrepareSet, then Commit with version = current + 1, the
 *                   creation time and originator kept (or now / this request
 *                   id), expiration kept unless --expire/--ttl, and
 *                   last-modified = max(now, current + 1) ns so the commit is
 *                   always the newer copy;
 *   get KEY         Read, printing the value bytes only.
 */
#include "clock.h"
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { A_KEY = 1, A_VALUE = 2, A_RID = 4, A_SHARD = 8 };

struct command {
    const char *name;
    int opcode;
    unsigned args;
};

static const struct command commands[] = {
    {"read", WIRE_OP_READ, A_KEY},
    {"prepare-create", WIRE_OP_PREPARE_CREATE, A_KEY | A_VALUE | A_RID},
    {"prepare-update", WIRE_OP_PREPARE_UPDATE, A_KEY | A_VALUE | A_RID},
    {"prepare-set", WIRE_OP_PREPARE_SET, A_KEY | A_VALUE | A_RID},
    {"prepare-delete", WIRE_OP_PREPARE_DELETE, A_KEY | A_RID},
    {"commit", WIRE_OP_COMMIT, A_KEY | A_RID},
    {"abort", WIRE_OP_ABORT, A_KEY | A_RID},
    {"delete", WIRE_OP_DELETE, A_KEY | A_RID},
    {"mark-delete", WIRE_OP_MARK_DELETE, A_KEY | A_RID},
    {"repair", WIRE_OP_REPAIR, A_KEY | A_VALUE | A_RID},
    {"clone", WIRE_OP_CLONE, A_KEY | A_VALUE | A_RID},
    {"drop-shard", WIRE_OP_DROP_SHARD, A_SHARD},
    {"shard-info", WIRE_OP_SHARD_INFO, A_SHARD},
    {"migrate-start", WIRE_OP_MIGRATE_START, A_SHARD | A_VALUE},
    {"migrate-status", WIRE_OP_MIGRATE_STATUS, A_SHARD},
    {"migrate-stop", WIRE_OP_MIGRATE_STOP, A_SHARD},
    {"migrate-verify", WIRE_OP_MIGRATE_VERIFY, A_SHARD},
    {"shard-accept", WIRE_OP_SHARD_ACCEPT, A_SHARD},
    {"checkpoint", WIRE_OP_CHECKPOINT, A_VALUE},
    {"rejoined", WIRE_OP_REJOINED, 0},
    {"compact", WIRE_OP_COMPACT, 0},
    {"nop", WIRE_OP_NOP, 0},
};

struct session {
    const struct juno_opts *o;
    int fd;
    struct client_buf in;
    uint32_t opaque;
};

static void
session_open(struct session *s, const struct juno_opts *o)
{
    char err[512];
    s->o = o;
    client_buf_init(&s->in);
    s->opaque = (uint32_t)getpid();
    s->fd = client_connect(o->store, o->timeout_ms, err, sizeof(err));
    if (s->fd < 0) cli_die(request_exit_error(s->fd), "%s", err);
}

static void
session_close(struct session *s)
{
    client_buf_deinit(&s->in);
    client_close(s->fd);
}

/* Send req and wait for its reply (borrowed from s->in until the next call).
 * Any failure ends the program with the matching exit code. */
static void
roundtrip(struct session *s, struct wire_msg *req, struct wire_msg *reply)
{
    req->opaque = ++s->opaque;
    int rc = client_send(s->fd, req);
    if (rc == JUNO_EINVAL) cli_die(EX_DATAERR, "unable to encode the request: a field is too long");
    if (rc != 0)
        cli_die(request_exit_error(rc), "unable to send to %s: %s", s->o->store, error_str(rc));
    rc = client_recv(&s->in, s->fd, s->o->timeout_ms, reply);
    if (rc == JUNO_EOF)
        cli_die(EX_UNAVAILABLE, "unable to read the reply: %s closed the connection", s->o->store);
    if (rc != 0)
        cli_die(request_exit_error(rc), "unable to read the reply from %s: %s", s->o->store,
                rc == JUNO_EPROTO && client_tls_error()[0] ? client_tls_error() : error_str(rc));
    if (reply->opaque != req->opaque || reply->opcode != req->opcode)
        cli_die(EX_PROTOCOL, "unable to use the reply: it answers another request (opaque %u, %s)",
                reply->opaque, wire_opcode_name(reply->opcode));
}

/* A request for o's namespace and key, with every record option given. */
static void
build_request(const struct juno_opts *o, struct wire_msg *m, int opcode, const char *key,
              const uint8_t rid[16])
{
    memset(m, 0, sizeof(*m));
    m->type_flag = WIRE_TF_REQUEST;
    m->opcode = (uint8_t)opcode;
    m->flags = o->tombstone ? WIRE_FLAG_MARK_DELETE : 0;
    if (o->one_phase) m->flags |= WIRE_FLAG_ONE_PHASE;
    if (key != NULL) {
        m->ns.ptr = (const uint8_t *)o->ns;
        m->ns.len = strlen(o->ns);
        m->key.ptr = (const uint8_t *)key;
        m->key.len = strlen(key);
        m->shard_id = juno_shard_of(o, key, m->key.len);
    }
    struct wire_meta *mt = &m->meta;
    if (rid != NULL) wire_meta_set_request_id(mt, rid);
    if (o->has_version) wire_meta_set_u32(mt, WIRE_F_VERSION, o->version);
    if (o->has_ttl) wire_meta_set_u32(mt, WIRE_F_TTL, o->ttl);
    if (o->has_creation) wire_meta_set_u32(mt, WIRE_F_CREATION_TIME, o->creation);
    if (o->has_expire) wire_meta_set_u32(mt, WIRE_F_EXPIRATION_TIME, o->expire);
    if (o->has_lm) wire_meta_set_last_modified(mt, o->last_modified);
    if (o->has_origin) wire_meta_set_originator_id(mt, o->origin);
    m->value_type = o->value_type;
}

/* The value: argv's VALUE, or stdin for "-" or none. *owned is set when read. */
static void
get_value(int argc, char **argv, int i, struct wire_bytes *v, char **owned)
{
    *owned = NULL;
    if (i < argc && strcmp(argv[i], "-") != 0) {
        v->ptr = (const uint8_t *)argv[i];
        v->len = strlen(argv[i]);
        return;
    }
    size_t len;
    int rc = cli_read_file("-", JUNO_MAX_INPUT, owned, &len);
    if (rc == JUNO_EMSGSIZE)
        cli_die(EX_DATAERR, "unable to read the value: over %u bytes", JUNO_MAX_INPUT);
    if (rc != 0) cli_die(EX_IOERR, "unable to read the value from stdin: %s", error_str(rc));
    v->ptr = (const uint8_t *)*owned;
    v->len = len;
}

static void
fill_rid(const struct juno_opts *o, uint8_t rid[16])
{
    if (o->has_rid) {
        memcpy(rid, o->rid, 16);
        return;
    }
    int rc = client_new_request_id(rid);
    if (rc != 0) cli_die(EX_OSERR, "unable to make a request id: %s", error_str(rc));
}

static int
run_raw(const struct juno_opts *o, const struct command *c, int argc, char **argv)
{
    int need = 1 + ((c->args & (A_KEY | A_SHARD)) ? 1 : 0);
    int most = need + ((c->args & A_VALUE) ? 1 : 0);
    if (argc < need) cli_usage("%s: missing %s", c->name, c->args & A_SHARD ? "SHARD" : "KEY");
    if (argc > most) cli_usage("%s: unexpected argument '%s'", c->name, argv[most]);
    uint8_t rid[16];
    int with_rid = (c->args & A_RID) || o->has_rid;
    if (with_rid) fill_rid(o, rid);
    struct wire_msg req, reply;
    build_request(o, &req, c->opcode, (c->args & A_KEY) ? argv[1] : NULL, with_rid ? rid : NULL);
    char *owned = NULL;
    if (c->args & A_VALUE) get_value(argc, argv, need, &req.value, &owned);
    if (c->args & A_SHARD) {
        uint64_t sh;
        if (cli_parse_u64(argv[1], 0, 65535, &sh) != 0)
            cli_usage("%s: invalid SHARD '%s': 0 to 65535", c->name, argv[1]);
        req.shard_id = (uint16_t)sh;
    }
    if (c->opcode == WIRE_OP_NOP) {
        req.header_only = 1;
        req.shard_id = 0;
    }
    struct session s;
    session_open(&s, o);
    roundtrip(&s, &req, &reply);
    int migrate = (c->opcode >= WIRE_OP_MIGRATE_START && c->opcode <= WIRE_OP_SHARD_ACCEPT) ||
                  c->opcode == WIRE_OP_CHECKPOINT || c->opcode == WIRE_OP_REJOINED; /* JSON */
    if (((c->opcode == WIRE_OP_SHARD_INFO && reply.status == WIRE_ST_OK) ||
         (migrate && reply.value.len > 0)) &&
        !o->json)
        printf("%.*s\n", (int)reply.value.len, (const char *)reply.value.ptr); /* JSON */
    else
        output_reply(o, &reply,
                     reply.status == WIRE_ST_OK &&
                         (c->opcode == WIRE_OP_READ || c->opcode == WIRE_OP_SHARD_INFO));
    int code = c->opcode == WIRE_OP_NOP ? 0 : output_exit_code(reply.status);
    session_close(&s);
    free(owned);
    return code;
}

static int
run_get(const struct juno_opts *o, int argc, char **argv)
{
    if (argc < 2) cli_usage("get: missing KEY");
    if (argc > 2) cli_usage("get: unexpected argument '%s'", argv[2]);
    struct wire_msg req, reply;
    build_request(o, &req, WIRE_OP_READ, argv[1], NULL);
    struct session s;
    session_open(&s, o);
    roundtrip(&s, &req, &reply);
    int code = output_exit_code(reply.status);
    if (o->json) {
        output_reply(o, &reply, reply.status == WIRE_ST_OK);
    } else if (reply.status == WIRE_ST_OK) {
        if (reply.value.len > 0 &&
            fwrite(reply.value.ptr, 1, reply.value.len, stdout) != reply.value.len)
            code = EX_IOERR;
    } else {
        cli_error("unable to get '%s': %s (%s)", argv[1], wire_status_str(reply.status),
                  wire_status_name(reply.status));
    }
    session_close(&s);
    return code;
}

void
store_commit_meta(const struct juno_opts *o, const struct wire_meta *cur, const uint8_t rid[16],
                  struct wire_meta *out)
{
    uint64_t now = clock_wall_ns();
    uint32_t now_s = (uint32_t)(now / 1000000000u);
    uint32_t version =
        o->has_version ? o->version : (wire_meta_has(cur, WIRE_F_VERSION) ? cur->version : 0) + 1;
    uint32_t creation = o->has_creation                            ? o->creation
                        : wire_meta_has(cur, WIRE_F_CREATION_TIME) ? cur->creation_time
                                                                   : now_s;
    /* unix ms: a record read keeps its millisecond (ExpirationMs) */
    uint64_t expire = o->has_expire ? (uint64_t)o->expire * 1000
                      : o->has_ttl  ? now / 1000000u + (uint64_t)o->ttl * 1000
                                    : wire_meta_expiration(cur);
    uint64_t lm = o->has_lm ? o->last_modified : now;
    if (!o->has_lm && wire_meta_has(cur, WIRE_F_LAST_MODIFIED) && cur->last_modified >= lm)
        lm = cur->last_modified + 1;
    out->present &=
        ~((1u << WIRE_F_TTL) | (1u << WIRE_F_EXPIRATION_TIME) | (1u << WIRE_F_EXPIRATION_MS));
    wire_meta_set_request_id(out, rid);
    wire_meta_set_u32(out, WIRE_F_VERSION, version);
    wire_meta_set_u32(out, WIRE_F_CREATION_TIME, creation);
    wire_meta_set_expiration(out, expire); /* 0: never, not sent */
    wire_meta_set_last_modified(out, lm);
    if (o->has_origin)
        wire_meta_set_originator_id(out, o->origin);
    else if (wire_meta_has(cur, WIRE_F_ORIGINATOR_ID))
        wire_meta_set_originator_id(out, cur->originator_id);
    else
        wire_meta_set_originator_id(out, rid);
}

static int
run_set(const struct juno_opts *o, int argc, char **argv)
{
    if (argc < 2) cli_usage("set: missing KEY");
    if (argc > 3) cli_usage("set: unexpected argument '%s'", argv[3]);
    uint8_t rid[16];
    fill_rid(o, rid);
    struct wire_msg req, reply;
    build_request(o, &req, WIRE_OP_PREPARE_SET, argv[1], rid);
    req.meta.present &=
        ~((1u << WIRE_F_VERSION) | (1u << WIRE_F_TTL) | (1u << WIRE_F_CREATION_TIME) |
          (1u << WIRE_F_EXPIRATION_TIME) | (1u << WIRE_F_LAST_MODIFIED) |
          (1u << WIRE_F_ORIGINATOR_ID)); /* those go with the Commit */
    char *owned = NULL;
    get_value(argc, argv, 2, &req.value, &owned);
    struct session s;
    session_open(&s, o);
    roundtrip(&s, &req, &reply);
    if (reply.status != WIRE_ST_OK) { /* AlreadyFulfilled (a retried --rid) included */
        output_reply(o, &reply, 0);
        session_close(&s);
        free(owned);
        return output_exit_code(reply.status);
    }
    struct wire_meta cur = reply.meta; /* reply's byte fields are not used */
    build_request(o, &req, WIRE_OP_COMMIT, argv[1], rid);
    store_commit_meta(o, &cur, rid, &req.meta);
    roundtrip(&s, &req, &reply);
    output_reply(o, &reply, 0);
    int code = output_exit_code(reply.status);
    session_close(&s);
    free(owned);
    return code;
}

int
store_main(struct juno_opts *o, int argc, char **argv)
{
    const char *name = argv[0];
    if (strcmp(name, "set") == 0) return run_set(o, argc, argv);
    if (strcmp(name, "get") == 0) return run_get(o, argc, argv);
    if (strcmp(name, "batch") == 0) {
        if (argc > 1) cli_usage("batch: unexpected argument '%s'", argv[1]);
        return store_batch_main(o);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0) return run_raw(o, &commands[i], argc, argv);
    cli_usage("unknown command '%s'", name);
}
