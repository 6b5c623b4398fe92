/* store_batch.c: `juno --store HOST:PORT batch`: the batch engine (batch.c)
 * with the storage protocol, acting as a one-replica proxy.
 *
 *   set KEY [VALUE]    PrepareSet, then Commit (as `juno --store set`)
 *   get KEY            Read
 *   del KEY            PrepareDelete, then Delete (Abort when there was no record)
 *
 * Results: OK | OK<TAB>VALUE (get) | NOT_FOUND | ERR<TAB>STATUS, STATUS being
 * the store's status name. A get of a tombstone and a del of a missing key
 * are NOT_FOUND. Nothing is retried: a two-phase write cannot be resent
 * blindly, so a lost connection ends the run (exit 69).
 */
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

enum kind { K_SET, K_GET, K_DEL };

/* The batch line of each command: how many fields it takes (batchline.h). */
static const struct batchline_cmd cmds[] = {
    {"set", K_SET, 3}, {"get", K_GET, 2}, {"del", K_DEL, 2}};
static const struct batchline_syntax syntax = {cmds, sizeof(cmds) / sizeof(cmds[0]),
                                               "unknown command (set, get or del)"};

static void
send_op(struct batch *b, struct batch_line *l, int opcode, const struct wire_meta *cur)
{
    const struct juno_opts *o = batch_opts(b);
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type_flag = WIRE_TF_REQUEST;
    m.opcode = (uint8_t)opcode;
    m.ns.ptr = (const uint8_t *)o->ns;
    m.ns.len = strlen(o->ns);
    m.key.ptr = (const uint8_t *)l->key;
    m.key.len = l->klen;
    m.shard_id = juno_shard_of(o, l->key, l->klen);
    if (opcode != WIRE_OP_READ) wire_meta_set_request_id(&m.meta, l->rid);
    if (opcode == WIRE_OP_PREPARE_SET) {
        m.value.ptr = (const uint8_t *)l->val;
        m.value.len = l->vlen;
        m.value_type = o->value_type;
    }
    if (opcode == WIRE_OP_COMMIT) store_commit_meta(o, cur, l->rid, &m.meta);
    l->stage = opcode;
    batch_send(b, l, &m);
}

static void
start(struct batch *b, struct batch_line *l)
{
    int rc = client_new_request_id(l->rid);
    if (rc != 0) cli_die(EX_OSERR, "unable to make a request id: %s", error_str(rc));
    send_op(b, l,
            l->kind == K_SET   ? WIRE_OP_PREPARE_SET
            : l->kind == K_GET ? WIRE_OP_READ
                               : WIRE_OP_PREPARE_DELETE,
            NULL);
}

static void
reply(struct batch *b, struct batch_line *l, const struct wire_msg *r)
{
    int st = r->status;
    char err[64];
    snprintf(err, sizeof(err), "ERR\t%s", wire_status_name(st));
    switch (l->stage) {
    case WIRE_OP_READ:
        if (st == WIRE_ST_OK) {
            batch_set_value_result(l, "OK", r->value.ptr, r->value.len);
            batch_finish(b, l, NULL, 1);
        } else if (st == WIRE_ST_NO_KEY || st == WIRE_ST_MARKED_DELETE) {
            batch_finish(b, l, "NOT_FOUND", 1);
        } else {
            batch_finish(b, l, err, 0);
        }
        break;
    case WIRE_OP_PREPARE_SET:
        if (st == WIRE_ST_OK)
            send_op(b, l, WIRE_OP_COMMIT, &r->meta);
        else
            batch_finish(b, l, st == WIRE_ST_ALREADY_FULFILLED ? "OK" : err,
                         st == WIRE_ST_ALREADY_FULFILLED);
        break;
    case WIRE_OP_PREPARE_DELETE:
        if (st == WIRE_ST_OK)
            send_op(b, l, wire_meta_has(&r->meta, WIRE_F_VERSION) ? WIRE_OP_DELETE : WIRE_OP_ABORT,
                    NULL);
        else
            batch_finish(b, l, err, 0);
        break;
    case WIRE_OP_ABORT:
        batch_finish(b, l, st == WIRE_ST_OK ? "NOT_FOUND" : err, st == WIRE_ST_OK);
        break;
    default: /* Commit, Delete */
        if (st == WIRE_ST_OK || st == WIRE_ST_ALREADY_FULFILLED)
            batch_finish(b, l, "OK", 1);
        else
            batch_finish(b, l, err, 0);
        break;
    }
}

int
store_batch_main(struct juno_opts *o)
{
    struct batch_mode mode = {
        .peer = "store",
        .addr = o->store,
        .retries = 0,
        .syntax = &syntax,
        .start = start,
        .reply = reply,
    };
    return batch_run(o, &mode);
}
