/* resp_rename.c: RENAME, RENAMENX, COPY and MOVE on the RESP face, as atomic
 * as juno can make two keys on different replicas:
 *
 *   Get src ──► write dst with src's value, value type and expiration (the
 *               same millisecond, as Redis keeps it)
 *               (RENAME, COPY REPLACE: Set; RENAMENX, COPY, MOVE: Create, 0
 *               on DupKey; a second round: an Update on the version written)
 *               (COPY DB n, MOVE: dst in database n's namespace, NS/n)
 *           ──► RENAME, RENAMENX, MOVE: Destroy src only if it is still the
 *               version read (PREQ_IF_VERSION); VersionConflict (src was
 *               written meanwhile): read src again and write dst again,
 *               at most RENAME_TRIES rounds, then TRYAGAIN
 *
 * A concurrent client may see dst written while src still exists (both
 * with the same value), never src gone before dst holds its value; a
 * failure between the steps leaves both (docs/consistency.md, "RENAME and
 * COPY"). The connection's later commands wait until the command is done.
 */
#include "resp_face.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RENAME_TRIES 5

enum { RN_RENAME = 1, RN_RENAMENX, RN_COPY, RN_MOVE };
enum { ST_READ = 0, ST_WRITE, ST_DELETE };

struct rname {
    uint8_t mode, replace, stage, tries;
    uint32_t src_version, dst_version;
    uint64_t exp_ms; /* src's expiration, unix ms (0: none) */
    uint8_t vtype;
    uint8_t *val; /* owned: src's value read */
    size_t vlen, slen, dlen;
    char dst_ns[ACL_MAX_NAME + 8]; /* COPY DB n, MOVE: dst's namespace; "": src's */
    uint8_t keys[];                /* src, then dst */
};

void
rname_free(void *ext)
{
    struct rname *x = ext;
    if (x != NULL) free(x->val);
    free(x);
}

static void
finish_ok(struct rconn *rc, struct rslot *s, struct rname *x, int64_t n)
{
    if (x->mode == RN_RENAME) {
        s->buf.len = 0;
        if (resp_raw(rconn_slot_buf(rc, s), "+OK\r\n", 5) != 0) rc->nomem = 1;
        rconn_slot_done(rc, s);
    } else {
        rcmd_finish_int(rc, s, n);
    }
}

static void
step_read(struct rconn *rc, struct rslot *s, struct rname *x)
{
    x->stage = ST_READ;
    s->ns = NULL;
    rcmd_start(rc, s, 0, WIRE_OP_GET, x->keys, x->slen, NULL, 0, 0, 0, 0, 0);
}

static void
step_write(struct rconn *rc, struct rslot *s, struct rname *x)
{
    const uint8_t *dst = x->keys + x->slen;
    uint8_t op = WIRE_OP_SET;
    uint32_t version = 0;
    if (x->mode == RN_RENAMENX || x->mode == RN_MOVE || (x->mode == RN_COPY && !x->replace)) {
        op = x->dst_version ? WIRE_OP_UPDATE : WIRE_OP_CREATE;
        version = x->dst_version;
    }
    x->stage = ST_WRITE;
    s->ns = x->dst_ns[0] ? x->dst_ns : NULL;
    rcmd_start(rc, s, 0, op, dst, x->dlen, x->val ? x->val : (const uint8_t *)"", x->vlen, x->vtype,
               x->exp_ms, version, x->exp_ms ? 0 : PREQ_TTL_RESET);
}

void
rname_answer(struct rconn *rc, struct rslot *s, const struct preq_result *res)
{
    struct rname *x = s->ext;
    int st = res->status;
    switch (x->stage) {
    case ST_READ:
        if (st == WIRE_ST_NO_KEY && x->tries == 0) {
            if (x->mode == RN_COPY || x->mode == RN_MOVE) {
                rcmd_finish_int(rc, s, 0);
            } else {
                s->buf.len = 0;
                rstat_error(rc, s, "no such key");
                if (resp_error(rconn_slot_buf(rc, s), "no such key") != 0) rc->nomem = 1;
                rconn_slot_done(rc, s);
            }
            return;
        }
        if (st == WIRE_ST_NO_KEY) { /* deleted after dst was written: the rename stands */
            finish_ok(rc, s, x, 1);
            return;
        }
        if (st != WIRE_ST_OK) break;
        if (!x->dst_ns[0] && x->slen == x->dlen &&
            memcmp(x->keys, x->keys + x->slen, x->slen) == 0) {
            finish_ok(rc, s, x, 0); /* RENAME k k: OK, RENAMENX k k: 0, as Redis */
            return;
        }
        free(x->val);
        x->val = NULL;
        if (res->vlen > 0 && (x->val = malloc(res->vlen)) == NULL) {
            rc->nomem = 1;
            return;
        }
        if (res->vlen > 0) memcpy(x->val, res->val, res->vlen);
        x->vlen = res->vlen;
        x->vtype = res->vtype;
        x->src_version = res->rec ? res->rec->version : 0;
        x->exp_ms = res->rec && res->rec->has ? res->rec->ems : 0;
        step_write(rc, s, x);
        return;
    case ST_WRITE:
        if (st == WIRE_ST_DUP_KEY && x->dst_version == 0) {
            rcmd_finish_int(rc, s, 0); /* RENAMENX, COPY, MOVE: dst exists */
            return;
        }
        if (st != WIRE_ST_OK) {
            if (st == WIRE_ST_NO_KEY || st == WIRE_ST_DUP_KEY) st = WIRE_ST_VERSION_CONFLICT;
            break;
        }
        if (res->rec != NULL && res->rec->has) x->dst_version = res->rec->version;
        if (x->mode == RN_COPY) {
            rcmd_finish_int(rc, s, 1);
            return;
        }
        x->stage = ST_DELETE;
        s->ns = NULL;
        rcmd_start(rc, s, 0, WIRE_OP_DESTROY, x->keys, x->slen, NULL, 0, 0, 0, x->src_version,
                   PREQ_IF_VERSION);
        return;
    case ST_DELETE:
        if (st == WIRE_ST_OK) {
            finish_ok(rc, s, x, 1);
            return;
        }
        if (st == WIRE_ST_VERSION_CONFLICT && ++x->tries < RENAME_TRIES) {
            step_read(rc, s, x); /* src was written meanwhile: carry its new value over */
            return;
        }
        break;
    }
    rcmd_finish_error(rc, s, st);
}

/* Start x (owned) for rc: a slot, the barrier, the read of src. */
static void
rname_start(struct rconn *rc, struct rname *x)
{
    struct rslot *s = rcmd_slot(rc, K_RENAME, 1);
    if (s == NULL) {
        rname_free(x);
        return;
    }
    s->ext = x;
    rconn_barrier(rc, s);
    step_read(rc, s, x);
}

static struct rname *
rname_new(struct rconn *rc, const struct resp_cmd *cmd, int mode)
{
    const struct resp_arg *a = &cmd->argv[1], *b = &cmd->argv[mode == RN_MOVE ? 1 : 2];
    if (!rcmd_key_ok(rc, a) || !rcmd_key_ok(rc, b)) return NULL;
    struct rname *x = calloc(1, sizeof(*x) + a->len + b->len);
    if (x == NULL) {
        rc->nomem = 1;
        return NULL;
    }
    x->mode = (uint8_t)mode;
    x->slen = a->len;
    x->dlen = b->len;
    memcpy(x->keys, a->ptr, a->len);
    memcpy(x->keys + a->len, b->ptr, b->len);
    return x;
}

void
rname_rename(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rname *x = rname_new(rc, cmd, RN_RENAME);
    if (x != NULL) rname_start(rc, x);
}

void
rname_renamenx(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rname *x = rname_new(rc, cmd, RN_RENAMENX);
    if (x != NULL) rname_start(rc, x);
}

/* Database db (argument i of cmd) as x's destination: its namespace, when
 * it is not the connection's. 0, or -1 with the error replied. */
static int
dst_db(struct rconn *rc, const struct resp_cmd *cmd, size_t i, struct rname *x)
{
    int64_t db;
    if (resp_arg_i64(cmd, i, &db) != 0) {
        rcmd_error(rc, RERR_NOT_INT);
        return -1;
    }
    if (db < 0 || db >= (int64_t)rc->w->p->cfg.resp_databases) {
        rcmd_error(rc, "DB index is out of range");
        return -1;
    }
    if ((uint32_t)db == rc->db) return 0;
    if (rconn_db_ns(rc, (uint32_t)db, x->dst_ns) != 0) {
        rcmd_error(rc, "juno: the namespace of database %lld is over --max-namespace",
                   (long long)db);
        return -1;
    }
    if (!rauth_may(rc, x->dst_ns, 1)) {
        rcmd_error(rc, RERR_NOPERM_K);
        return -1;
    }
    return 0;
}

/* COPY src dst [DB n] [REPLACE]: DB n is the namespace NS/n. */
void
rname_copy(struct rconn *rc, const struct resp_cmd *cmd)
{
    int replace = 0;
    size_t db = 0; /* the argument of DB, 0: none */
    for (size_t i = 3; i < cmd->argc; i++) {
        if (resp_arg_eq(cmd, i, "replace")) {
            replace = 1;
        } else if (resp_arg_eq(cmd, i, "db") && i + 1 < cmd->argc) {
            int64_t n;
            if (resp_arg_i64(cmd, ++i, &n) != 0) {
                rcmd_error(rc, RERR_NOT_INT);
                return;
            }
            db = i;
        } else {
            rcmd_error(rc, RERR_SYNTAX);
            return;
        }
    }
    struct rname *x = rname_new(rc, cmd, RN_COPY);
    if (x == NULL) return;
    if (db != 0 && dst_db(rc, cmd, db, x) != 0) {
        rname_free(x);
        return;
    }
    if (!x->dst_ns[0] && x->slen == x->dlen && memcmp(x->keys, x->keys + x->slen, x->slen) == 0) {
        rcmd_error(rc, "source and destination objects are the same");
        rname_free(x);
        return;
    }
    x->replace = (uint8_t)replace;
    rname_start(rc, x);
}

/* MOVE key db: a RENAMENX of key to itself in database db (NS/db). */
void
rname_move(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rname *x = rname_new(rc, cmd, RN_MOVE);
    if (x == NULL) return;
    if (dst_db(rc, cmd, 2, x) != 0) {
        rname_free(x);
        return;
    }
    if (!x->dst_ns[0]) {
        rcmd_error(rc, "source and destination objects are the same");
        rname_free(x);
        return;
    }
    rname_start(rc, x);
}
