/* proxy.c: the proxy mode, juno's default: one JunoDB client request per run
 * through juno-proxy.
 *
 *   get KEY                      Get; the value bytes on stdout, nothing added
 *   put KEY [VALUE|-]            Set (create or replace)
 *   create KEY [VALUE|-]         Create (exit 1 if KEY exists)
 *   update KEY [VALUE|-]         Update (exit 1 if KEY is missing; with
 *                                --if-version V, also if its version is not V)
 *   del KEY                      Destroy (Ok also when KEY is missing)
 *   ping                         Nop
 *   batch                        proxy_batch.c
 *
 * A request is sent with a random request id; RecordLocked, NoStorageServer,
 * Busy and a failed connection (refused, reset, closed, no reply within
 * --timeout) are retried --retries times after a short backoff, on a new
 * connection for a failed one, with the same request id and payload, so a
 * write that was applied but whose reply was lost is answered "already done"
 * rather than applied twice.
 */
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { C_VALUE = 1, C_TTL = 2, C_KEY = 4 };

static const struct pcommand {
    const char *name; /* the command */
    const char *verb; /* in messages: unable to VERB "key" */
    int opcode;
    unsigned takes;
} pcommands[] = {
    {"get", "get", WIRE_OP_GET, C_KEY | C_TTL},
    {"put", "put", WIRE_OP_SET, C_KEY | C_VALUE | C_TTL},
    {"create", "create", WIRE_OP_CREATE, C_KEY | C_VALUE | C_TTL},
    {"update", "update", WIRE_OP_UPDATE, C_KEY | C_VALUE | C_TTL},
    {"del", "delete", WIRE_OP_DESTROY, C_KEY},
    {"ping", "ping", WIRE_OP_NOP, 0},
};

struct pconn {
    const struct juno_opts *o;
    int fd; /* -1: not connected */
    struct client_buf in;
    struct request_source src;
    uint32_t opaque;
};

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void
pconn_close(struct pconn *c)
{
    client_close(c->fd);
    c->fd = -1;
    c->in.len = c->in.used = 0;
}

/* One attempt: connect if needed, send the request (built for this
 * connection's SourceInfo), wait for the reply with its opaque. Returns 0
 * with *reply (borrowed from c->in), or a failure code with err set. */
static int
attempt(struct pconn *c, const struct pcommand *cmd, const uint8_t rid[16],
        const struct request_args *a, struct wire_msg *reply, char *err, size_t errlen)
{
    const struct juno_opts *o = c->o;
    int opcode = cmd->opcode;
    char what[128]; /* "get \"key\"" or "ping HOST:PORT" */
    snprintf(what, sizeof(what), "%s %s", cmd->verb,
             opcode == WIRE_OP_NOP ? o->server : output_quote(a->key, a->klen));
    if (c->fd < 0) {
        int fd = client_connect(o->server, o->timeout_ms, err, errlen);
        if (fd < 0) return fd;
        c->fd = fd;
        request_source_of(fd, &c->src);
    }
    struct wire_msg req;
    request_build(&req, opcode, ++c->opaque, rid, &c->src, a);
    int rc = client_send(c->fd, &req);
    if (rc == JUNO_EINVAL) {
        snprintf(err, errlen, "unable to %s: a field is over the protocol's limits", what);
        return JUNO_EBADDATA;
    }
    if (rc != 0) {
        snprintf(err, errlen, "unable to %s: sending to %s: %s", what, o->server, error_str(rc));
        return rc;
    }
    int64_t deadline = mono_us() / 1000 + o->timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_us() / 1000;
        rc = left <= 0 ? JUNO_ETIMEDOUT : client_recv(&c->in, c->fd, (int)left, reply);
        if (rc == JUNO_EOF) {
            snprintf(err, errlen, "unable to %s: %s closed the connection", what, o->server);
            return rc;
        }
        if (rc == JUNO_ETIMEDOUT) {
            snprintf(err, errlen, "unable to %s: no reply from %s within %d ms", what, o->server,
                     o->timeout_ms);
            return rc;
        }
        if (rc != 0) {
            snprintf(err, errlen, "unable to %s: reading from %s: %s", what, o->server,
                     rc != JUNO_EPROTO       ? error_str(rc)
                     : client_tls_error()[0] ? client_tls_error()
                                             : "not a JunoDB message");
            return rc;
        }
        if (reply->opaque != req.opaque) continue; /* a late reply to an earlier try */
        if (reply->opcode != opcode) {
            snprintf(err, errlen, "unable to %s: the reply from %s answers %s, not %s", what,
                     o->server, wire_opcode_name(reply->opcode), wire_opcode_name(opcode));
            return JUNO_EPROTO;
        }
        return 0;
    }
}

/* The value: argv's VALUE, or stdin for "-" or none. *owned is set when read. */
static void
read_value(int argc, char **argv, int i, struct request_args *a, char **owned)
{
    *owned = NULL;
    if (i < argc && strcmp(argv[i], "-") != 0) {
        a->value = argv[i];
        a->vlen = strlen(argv[i]);
        return;
    }
    size_t len;
    int rc = cli_read_file("-", JUNO_MAX_INPUT, owned, &len);
    if (rc == JUNO_EMSGSIZE)
        cli_die(EX_DATAERR, "unable to read the value: over %u bytes", JUNO_MAX_INPUT);
    if (rc != 0) cli_die(EX_IOERR, "unable to read the value from stdin: %s", error_str(rc));
    a->value = *owned;
    a->vlen = len;
}

static void
check_args(const struct juno_opts *o, const struct pcommand *c, int argc, char **argv)
{
    int need = (c->takes & C_KEY) ? 2 : 1;
    int most = need + ((c->takes & C_VALUE) ? 1 : 0);
    if (argc < need) cli_usage("%s: missing KEY", c->name);
    if (argc > most) cli_usage("%s: unexpected argument '%s'", c->name, argv[most]);
    if (o->has_ttl && !(c->takes & C_TTL)) cli_usage("%s: --ttl is not allowed here", c->name);
    if (o->has_if_version && c->opcode != WIRE_OP_UPDATE)
        cli_usage("%s: --if-version goes with update only", c->name);
    if (o->newline && c->opcode != WIRE_OP_GET)
        cli_usage("%s: --newline goes with get only", c->name);
}

/* The message for a reply that is not a success. */
static void
report(const struct pcommand *c, const struct request_args *a, const struct wire_msg *r,
       unsigned tries)
{
    const char *key = output_quote(a->key, a->klen);
    int st = r->status;
    if (st == WIRE_ST_VERSION_CONFLICT && wire_meta_has(&r->meta, WIRE_F_VERSION))
        cli_error("unable to %s %s: version conflict (current version %u)", c->verb, key,
                  r->meta.version);
    else if (st == WIRE_ST_NO_KEY || st == WIRE_ST_DUP_KEY || st == WIRE_ST_VERSION_CONFLICT)
        cli_error("unable to %s %s: %s", c->verb, key, wire_status_str(st));
    else if (tries > 0)
        cli_error("unable to %s %s: %s (%s) after %u tries", c->verb, key, wire_status_str(st),
                  wire_status_name(st), tries + 1);
    else
        cli_error("unable to %s %s: %s (%s)", c->verb, key, wire_status_str(st),
                  wire_status_name(st));
}

/* Print a successful reply. Returns 0, or 74 when stdout fails. */
static int
print_ok(const struct juno_opts *o, const struct pcommand *c, const struct wire_msg *r,
         int64_t rtt_us)
{
    if (c->opcode == WIRE_OP_NOP) {
        if (o->json)
            printf("{\"status\":\"Ok\",\"code\":0,\"server\":\"%s\",\"time_ms\":%.3f}\n", o->server,
                   (double)rtt_us / 1000);
        else
            printf("pong from %s: time=%.3f ms\n", o->server, (double)rtt_us / 1000);
    } else if (o->json) {
        output_record_json(r, c->opcode == WIRE_OP_GET);
    } else if (c->opcode == WIRE_OP_GET) {
        if (r->value_type != 0)
            cli_error("warning: the value has payload type %u (not clear data); printed as stored",
                      r->value_type);
        if (r->value.len > 0 && fwrite(r->value.ptr, 1, r->value.len, stdout) != r->value.len)
            return EX_IOERR;
        if (o->newline) putchar('\n');
    }
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

static int
run(const struct juno_opts *o, const struct pcommand *c, int argc, char **argv)
{
    check_args(o, c, argc, argv);
    struct request_args a = {.ns = c->opcode == WIRE_OP_NOP ? NULL : o->ns};
    char *owned = NULL;
    if (c->takes & C_KEY) {
        a.key = argv[1];
        a.klen = strlen(argv[1]);
    }
    if (c->takes & C_VALUE) read_value(argc, argv, 2, &a, &owned);
    if (o->has_ttl) a.ttl = o->ttl;
    if (o->has_if_version) a.version = o->if_version;
    uint8_t rid[16];
    int rc = client_new_request_id(rid);
    if (rc != 0) cli_die(EX_OSERR, "unable to make a request id: %s", error_str(rc));

    struct pconn conn = {.o = o, .fd = -1, .opaque = 0};
    client_buf_init(&conn.in);
    struct wire_msg reply;
    char err[512];
    unsigned tries = 0;
    int64_t t0 = 0;
    for (;; tries++) {
        if (tries > 0) pause_ms(request_backoff_ms(tries));
        t0 = mono_us();
        rc = attempt(&conn, c, rid, &a, &reply, err, sizeof(err));
        if (rc == 0 && !request_status_retryable(reply.status)) break;
        if (rc != 0) pconn_close(&conn);
        if (rc != 0 && !request_error_retryable(rc)) break;
        if (tries >= o->retries) break;
    }
    int code;
    if (rc != 0) {
        if (tries > 0 && request_error_retryable(rc))
            cli_error("%s (after %u tries)", err, tries + 1);
        else
            cli_error("%s", err);
        code = request_exit_error(rc);
    } else if (request_status_ok(reply.status)) {
        code = print_ok(o, c, &reply, mono_us() - t0);
        if (code != 0) cli_error("unable to write the value: %s", error_str(-errno));
    } else {
        if (o->json) output_record_json(&reply, 0);
        report(c, &a, &reply, tries);
        code = request_exit_code(reply.status);
    }
    pconn_close(&conn);
    client_buf_deinit(&conn.in);
    free(owned);
    return code;
}

int
proxy_main(struct juno_opts *o, int argc, char **argv)
{
    const char *name = argv[0];
    if (strcmp(name, "batch") == 0) {
        if (argc > 1) cli_usage("batch: unexpected argument '%s'", argv[1]);
        if (o->has_if_version) cli_usage("batch: --if-version goes with update only");
        if (o->newline) cli_usage("batch: --newline goes with get only");
        return proxy_batch_main(o);
    }
    for (size_t i = 0; i < sizeof(pcommands) / sizeof(pcommands[0]); i++)
        if (strcmp(name, pcommands[i].name) == 0) return run(o, &pcommands[i], argc, argv);
    cli_usage("unknown command '%s'", name);
}
