/* proxy_batch.c: `juno batch`: the batch engine (batch.c) with the JunoDB
 * client protocol, through juno-proxy.
 *
 *   get KEY                          Get
 *   put KEY [VALUE]                  Set (set is accepted as another name)
 *   create KEY [VALUE]               Create
 *   update KEY [VALUE [VERSION]]     Update; with VERSION, only if the
 *                                    record's version is VERSION
 *   del KEY                          Destroy
 *
 * Results, one per line: OK, OK<TAB>VALUE (get), NOT_FOUND (get or update of
 * a missing key), EXISTS (create of an existing key), CONFLICT (update with a
 * stale VERSION) or ERR<TAB>STATUS (the proxy's status name; BadInput for a
 * line that cannot be parsed, Unavailable for a line that got no answer).
 * --ttl applies to every put, create and update line.
 *
 * RecordLocked, NoStorageServer and Busy are retried after a backoff, and a
 * broken connection is reopened, up to --retries times per line, always with
 * the line's one request id: a retried write is not applied twice.
 */
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

enum kind { K_GET, K_PUT, K_CREATE, K_UPDATE, K_DEL };

static const int opcodes[] = {
    [K_GET] = WIRE_OP_GET,       [K_PUT] = WIRE_OP_SET,     [K_CREATE] = WIRE_OP_CREATE,
    [K_UPDATE] = WIRE_OP_UPDATE, [K_DEL] = WIRE_OP_DESTROY,
};

/* The batch line of each command: how many fields it takes (batchline.h). */
static const struct batchline_cmd cmds[] = {
    {"get", K_GET, 2},       {"put", K_PUT, 3},       {"set", K_PUT, 3},
    {"create", K_CREATE, 3}, {"update", K_UPDATE, 4}, {"del", K_DEL, 2},
};
static const struct batchline_syntax syntax = {cmds, sizeof(cmds) / sizeof(cmds[0]),
                                               "unknown command (get, put, create, update or del)"};

static void
start(struct batch *b, struct batch_line *l)
{
    const struct juno_opts *o = batch_opts(b);
    if (l->tries == 0) {
        int rc = client_new_request_id(l->rid);
        if (rc != 0) cli_die(EX_OSERR, "unable to make a request id: %s", error_str(rc));
    }
    int op = opcodes[l->kind];
    struct request_args a = {
        .ns = o->ns,
        .key = l->key,
        .klen = l->klen,
        .value = l->val,
        .vlen = l->vlen,
        .ttl = o->has_ttl && op != WIRE_OP_GET ? o->ttl : 0,
        .version = l->version,
    };
    struct wire_msg m;
    request_build(&m, op, 0, l->rid, batch_source(b), &a);
    batch_send(b, l, &m);
}

static void
reply(struct batch *b, struct batch_line *l, const struct wire_msg *r)
{
    int st = r->status;
    char err[64];
    snprintf(err, sizeof(err), "ERR\t%s", wire_status_name(st));
    if (r->opcode != opcodes[l->kind]) {
        cli_error("batch line: a reply to %s answers %s", wire_opcode_name(opcodes[l->kind]),
                  wire_opcode_name(r->opcode));
        batch_finish(b, l, "ERR\tProtocol", 0);
    } else if (request_status_ok(st)) {
        if (l->kind == K_GET) batch_set_value_result(l, "OK", r->value.ptr, r->value.len);
        batch_finish(b, l, l->kind == K_GET ? NULL : "OK", 1);
    } else if (st == WIRE_ST_NO_KEY && l->kind != K_CREATE) {
        batch_finish(b, l, "NOT_FOUND", 1);
    } else if (st == WIRE_ST_DUP_KEY && l->kind == K_CREATE) {
        batch_finish(b, l, "EXISTS", 1);
    } else if (st == WIRE_ST_VERSION_CONFLICT && l->kind == K_UPDATE) {
        batch_finish(b, l, "CONFLICT", 0);
    } else if (request_status_retryable(st)) {
        batch_retry(b, l, err);
    } else {
        batch_finish(b, l, err, 0);
    }
}

int
proxy_batch_main(struct juno_opts *o)
{
    struct batch_mode mode = {
        .peer = "proxy",
        .addr = o->server,
        .retries = o->retries,
        .syntax = &syntax,
        .start = start,
        .reply = reply,
    };
    return batch_run(o, &mode);
}
