/* resp_expire.c: the RESP face's expiration commands (Redis 7's expire.c),
 * to the millisecond, in the namespace of --resp-namespace:
 *
 *   EXPIRE k s, PEXPIRE k ms, EXPIREAT k t, PEXPIREAT k tms  [NX] [XX] [GT] [LT]
 *                          Get, then an Update of the value read, with its
 *                          version as the condition and the new expiration;
 *                          a time already past: a Destroy on that version.
 *                          A VersionConflict (written meanwhile) reads
 *                          again (5 tries)
 *   PERSIST k              the same, the expiration removed; only with
 *                          --default-ttl 0
 *   TTL PTTL EXPIRETIME PEXPIRETIME k   Get (its metadata)
 *   TIME                   the proxy's clock
 *
 * The expiration is computed when the command arrives (Redis's command time)
 * and written as unix milliseconds (PREQ_EXPIRY_MS): a key given PEXPIRE
 * 1500 is there 1499 ms later and gone 1500 ms later, whatever the stores'
 * clocks say in between. EXPIRE and PERSIST hold the connection's later
 * commands until they are done (a TTL read after them sees them).
 */
#include "resp_face.h"

#include "clock.h"

#include <stdio.h>
#include <string.h>

/* The EXPIRE family's options: any of them, NX alone, GT or LT (Redis 7) */
enum { X_NX = 1, X_XX = 2, X_GT = 4, X_LT = 8 };

#define EXPIRE_TRIES 5

uint64_t
rexp_now_ms(void)
{
    return clock_wall_ns() / 1000000u;
}

int
rexp_limit_ok(struct rconn *rc, const char *name, int64_t when, int64_t now)
{
    uint64_t max = rface_limit(&rc->w->p->cfg.resp_max_ttl);
    if (max == 0 || when <= now || (uint64_t)(when - now) <= max * 1000) return 1;
    rcmd_error(rc,
               "invalid expire time in '%s' command: over juno-proxy's --resp-max-ttl of %llu s",
               name, (unsigned long long)max);
    return 0;
}

/* ms in seconds, to the nearest as Redis's (ms + 500) / 1000, without overflow */
static int64_t
nearest_s(uint64_t ms)
{
    return (int64_t)(ms / 1000 + (ms % 1000 >= 500));
}

int64_t
rexp_reply_of(int kind, const struct rmeta *rec)
{
    if (rec == NULL || !rec->has || rec->ems == 0) return -1;
    uint64_t ems = rec->ems > INT64_MAX ? INT64_MAX : rec->ems; /* as Redis's long long */
    if (kind == K_PEXPIRETIME) return (int64_t)ems;
    if (kind == K_EXPIRETIME) return nearest_s(ems);
    uint64_t now = rexp_now_ms(), left = ems > now ? ems - now : 0;
    return kind == K_PTTL ? (int64_t)left : nearest_s(left);
}

/* Redis's parseExtendedExpireArgumentsOrReply: the options from argv[3]
 * into *opt. 0, or -1 after the error reply. */
static int
parse_opts(struct rconn *rc, const struct resp_cmd *cmd, int *opt)
{
    *opt = 0;
    for (size_t i = 3; i < cmd->argc; i++) {
        int o = resp_arg_eq(cmd, i, "NX")   ? X_NX
                : resp_arg_eq(cmd, i, "XX") ? X_XX
                : resp_arg_eq(cmd, i, "GT") ? X_GT
                : resp_arg_eq(cmd, i, "LT") ? X_LT
                                            : 0;
        if (o == 0) {
            rcmd_error(rc, "Unsupported option %.*s", (int)cmd->argv[i].len,
                       (const char *)cmd->argv[i].ptr);
            return -1;
        }
        *opt |= o;
    }
    if ((*opt & X_NX) && (*opt & (X_XX | X_GT | X_LT))) {
        rcmd_error(rc, "NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*opt & X_GT) && (*opt & X_LT)) {
        rcmd_error(rc, "GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* EXPIRE PEXPIRE EXPIREAT PEXPIREAT: the time (seconds unless ms, relative
 * unless at) as Redis's expireGenericCommand checks it, in unix ms. */
static void
expire_generic(struct rconn *rc, const struct resp_cmd *cmd, int ms, int at, const char *name)
{
    int opt;
    int64_t when, now = (int64_t)rexp_now_ms(), base = at ? 0 : now;
    if (parse_opts(rc, cmd, &opt) != 0) return;
    if (resp_arg_i64(cmd, 2, &when) != 0) {
        rcmd_error(rc, RERR_NOT_INT);
        return;
    }
    if (!ms && (when > INT64_MAX / 1000 || when < INT64_MIN / 1000)) {
        rcmd_error(rc, "invalid expire time in '%s' command", name);
        return;
    }
    if (!ms) when *= 1000;
    if (when > INT64_MAX - base) {
        rcmd_error(rc, "invalid expire time in '%s' command", name);
        return;
    }
    when += base; /* may be negative: in the past, the key goes */
    if (!rexp_limit_ok(rc, name, when, now) || !rcmd_key_ok(rc, &cmd->argv[1])) return;
    struct rslot *s = rcmd_slot(rc, K_EXPIRE, 1);
    if (s == NULL) return;
    s->arg = when;
    s->opt = (uint8_t)opt;
    rconn_barrier(rc, s);
    rcmd_start(rc, s, 0, WIRE_OP_GET, cmd->argv[1].ptr, cmd->argv[1].len, NULL, 0, 0, 0, 0, 0);
}

void
rexp_expire(struct rconn *rc, const struct resp_cmd *cmd)
{
    expire_generic(rc, cmd, 0, 0, "expire");
}

void
rexp_pexpire(struct rconn *rc, const struct resp_cmd *cmd)
{
    expire_generic(rc, cmd, 1, 0, "pexpire");
}

void
rexp_expireat(struct rconn *rc, const struct resp_cmd *cmd)
{
    expire_generic(rc, cmd, 0, 1, "expireat");
}

void
rexp_pexpireat(struct rconn *rc, const struct resp_cmd *cmd)
{
    expire_generic(rc, cmd, 1, 1, "pexpireat");
}

void
rexp_persist(struct rconn *rc, const struct resp_cmd *cmd)
{
    uint64_t dttl = rc->w->p->cfg.default_ttl;
    if (dttl > 0) {
        rcmd_error(rc,
                   "juno-proxy runs with --default-ttl %llu: every record expires, PERSIST is "
                   "not supported",
                   (unsigned long long)dttl);
        return;
    }
    if (!rcmd_key_ok(rc, &cmd->argv[1])) return;
    struct rslot *s = rcmd_slot(rc, K_PERSIST, 1);
    if (s == NULL) return;
    rconn_barrier(rc, s);
    rcmd_start(rc, s, 0, WIRE_OP_GET, cmd->argv[1].ptr, cmd->argv[1].len, NULL, 0, 0, 0, 0, 0);
}

static void
expiretime(struct rconn *rc, const struct resp_cmd *cmd, enum rkind kind)
{
    if (!rcmd_key_ok(rc, &cmd->argv[1])) return;
    struct rslot *s = rcmd_slot(rc, kind, 1);
    if (s != NULL)
        rcmd_start(rc, s, 0, WIRE_OP_GET, cmd->argv[1].ptr, cmd->argv[1].len, NULL, 0, 0, 0, 0, 0);
}

void
rexp_expiretime(struct rconn *rc, const struct resp_cmd *cmd)
{
    expiretime(rc, cmd, K_EXPIRETIME);
}

void
rexp_pexpiretime(struct rconn *rc, const struct resp_cmd *cmd)
{
    expiretime(rc, cmd, K_PEXPIRETIME);
}

void
rexp_time(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    uint64_t ns = clock_wall_ns();
    char sec[24], usec[24];
    int sl = snprintf(sec, sizeof(sec), "%llu", (unsigned long long)(ns / 1000000000u));
    int ul = snprintf(usec, sizeof(usec), "%llu", (unsigned long long)(ns % 1000000000u / 1000));
    struct buf *b = rconn_out(rc);
    if (b == NULL) return;
    PUT(rc, resp_array_header(b, 2));
    PUT(rc, resp_bulk(b, sec, (size_t)sl));
    PUT(rc, resp_bulk(b, usec, (size_t)ul));
}

/* The Get of an EXPIRE or PERSIST answered with the record m (value in res):
 * the write it calls for, or the reply. */
static void
expire_decide(struct rconn *rc, struct rslot *s, const struct preq *rq,
              const struct preq_result *res)
{
    const struct rmeta *m = res->rec;
    const uint8_t *key = rq->data + rq->nslen;
    const uint8_t *val = res->val ? res->val : key; /* an empty value: any pointer */
    if (s->kind == K_PERSIST) {
        if (m->ems == 0) {
            rcmd_finish_int(rc, s, 0);
            return;
        }
        s->stage = 1;
        rcmd_start(rc, s, 0, WIRE_OP_UPDATE, key, rq->klen, val, res->vlen, res->vtype, 0,
                   m->version, PREQ_TTL_RESET);
        return;
    }
    int64_t when = s->arg, cur = m->ems ? (int64_t)m->ems : -1; /* -1: none, Redis's */
    int opt = s->opt;
    if (((opt & X_NX) && cur != -1) || ((opt & X_XX) && cur == -1) ||
        ((opt & X_GT) && (cur == -1 || when <= cur)) ||
        ((opt & X_LT) && cur != -1 && when >= cur)) {
        rcmd_finish_int(rc, s, 0);
    } else if (when <= (int64_t)rexp_now_ms()) {
        s->stage = 2; /* already past: the key goes */
        rcmd_start(rc, s, 0, WIRE_OP_DESTROY, key, rq->klen, NULL, 0, 0, 0, m->version,
                   PREQ_IF_VERSION);
    } else {
        s->stage = 1;
        rcmd_start(rc, s, 0, WIRE_OP_UPDATE, key, rq->klen, val, res->vlen, res->vtype,
                   (uint64_t)when, m->version, 0);
    }
}

void
rexp_answer(struct rconn *rc, struct rslot *s, const struct preq *rq, const struct preq_result *res)
{
    int st = res->status;
    if (rq == NULL) { /* could not start */
        rcmd_finish_error(rc, s, st);
        return;
    }
    if (s->stage != 0) { /* the Update (1) or the Destroy (2) */
        if (st == WIRE_ST_OK) {
            rcmd_finish_int(rc, s, 1);
        } else if (st == WIRE_ST_NO_KEY) {
            rcmd_finish_int(rc, s, 0); /* deleted meanwhile */
        } else if (st == WIRE_ST_VERSION_CONFLICT && ++s->tries < EXPIRE_TRIES) {
            s->stage = 0; /* written meanwhile: read again */
            rcmd_start(rc, s, 0, WIRE_OP_GET, rq->data + rq->nslen, rq->klen, NULL, 0, 0, 0, 0, 0);
        } else {
            rcmd_finish_error(rc, s, st);
        }
        return;
    }
    if (st == WIRE_ST_NO_KEY) {
        rcmd_finish_int(rc, s, 0);
    } else if (st != WIRE_ST_OK || res->rec == NULL || !res->rec->has) {
        rcmd_finish_error(rc, s, st == WIRE_ST_OK ? WIRE_ST_INTERNAL : st);
    } else {
        expire_decide(rc, s, rq, res);
    }
}
