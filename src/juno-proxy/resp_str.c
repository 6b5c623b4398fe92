/* resp_str.c: SET and the other string commands of the RESP face (Redis's
 * t_string.c): their arguments and options, checked before anything runs.
 *
 *   SET k v [NX|XX] [EX s|PX ms|EXAT t|PXAT tms|KEEPTTL]   Set / Create /
 *                                  Update: a blind write (in an EXEC after
 *                                  WATCH: a read-modify-write, resp_watch.c)
 *   SETNX k v, MSETNX k v          Create: 1, or 0 on DupKey (MSETNX: one key only)
 *   SETEX k s v, PSETEX k ms v     Set with the TTL
 *   SET ... GET, GETSET, GETDEL, GETEX, INCR, DECR, INCRBY, DECRBY,
 *   INCRBYFLOAT, APPEND, SETRANGE  read-modify-write (resp_rmw.c)
 *   SETBIT                         read-modify-write
 *   STRLEN, GETRANGE, SUBSTR, GETBIT, BITCOUNT   a Get (resp_rmw.c)
 *
 * Expirations are unix milliseconds, counted from the command's arrival (EX,
 * PX) or given (EXAT, PXAT), written as they are (PREQ_EXPIRY_MS): SET with
 * a time already past writes a record that has expired (the key is gone, as
 * in Redis). A time option may come twice (the last wins), as in Redis.
 */
#include "resp_rmw.h"

#include "rnum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SET's and GETEX's options (Redis's parseExtendedStringArgumentsOrReply). */
enum {
    SO_NX = 1,
    SO_XX = 2,
    SO_GET = 4,
    SO_KEEPTTL = 8,
    SO_PERSIST = 16,
    SO_EX = 32,
    SO_PX = 64,
    SO_EXAT = 128,
    SO_PXAT = 256
};
#define SO_TIMED (SO_EX | SO_PX | SO_EXAT | SO_PXAT)

struct sopts {
    unsigned flags;
    size_t at; /* the time argument of EX PX EXAT PXAT */
};

/* ---- options and TTLs ---- */

static unsigned
opt_flag(const struct resp_cmd *cmd, size_t i)
{
    static const struct {
        const char *word;
        unsigned flag;
    } opts[] = {{"NX", SO_NX},           {"XX", SO_XX},           {"GET", SO_GET},
                {"KEEPTTL", SO_KEEPTTL}, {"PERSIST", SO_PERSIST}, {"EX", SO_EX},
                {"PX", SO_PX},           {"EXAT", SO_EXAT},       {"PXAT", SO_PXAT}};
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
        if (resp_arg_eq(cmd, i, opts[k].word)) return opts[k].flag;
    return 0;
}

/* The options from argv[from]: those in allowed, without a clash (NX with
 * XX; KEEPTTL, PERSIST and one time option with each other; a time option
 * again is fine, the last wins). 0, or -1 after a syntax error reply. */
static int
parse_opts(struct rconn *rc, const struct resp_cmd *cmd, size_t from, unsigned allowed,
           struct sopts *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = from; i < cmd->argc; i++) {
        unsigned f = opt_flag(cmd, i), clash;
        if (f == SO_NX || f == SO_XX)
            clash = SO_NX | SO_XX;
        else if (f & (SO_KEEPTTL | SO_PERSIST | SO_TIMED))
            clash = (SO_KEEPTTL | SO_PERSIST | SO_TIMED) & ~(f & SO_TIMED);
        else
            clash = 0;
        if (!(f & allowed) || (o->flags & clash & ~f) || ((f & SO_TIMED) && i + 1 >= cmd->argc)) {
            rcmd_error(rc, RERR_SYNTAX);
            return -1;
        }
        o->flags |= f;
        if (f & SO_TIMED) o->at = ++i;
    }
    return 0;
}

/* The expiration in unix ms of time argument i (at: a unix time, ms:
 * milliseconds) for command name (Redis's getExpireMillisecondsOrReply):
 * EX/PX from now, EXAT/PXAT as given. 1 with *exp set; 0 with *exp set when
 * it has passed already (EXAT/PXAT); -1 after an error reply (not an
 * integer, <= 0 or overflowing as Redis says, over --resp-max-ttl). */
static int
exp_of_arg(struct rconn *rc, const struct resp_cmd *cmd, size_t i, int ms, int at, const char *name,
           uint64_t *exp)
{
    int64_t v;
    *exp = 0;
    if (resp_arg_i64(cmd, i, &v) != 0) {
        rcmd_error(rc, RERR_NOT_INT);
        return -1;
    }
    int64_t now = (int64_t)rexp_now_ms();
    if (v <= 0 || (!ms && v > INT64_MAX / 1000) || (!at && (ms ? v : v * 1000) > INT64_MAX - now)) {
        rcmd_error(rc, "invalid expire time in '%s' command", name);
        return -1;
    }
    int64_t when = (ms ? v : v * 1000) + (at ? 0 : now);
    if (!rexp_limit_ok(rc, name, when, now)) return -1;
    *exp = (uint64_t)when;
    return when > now;
}

/* The expiration of the options o (EX PX EXAT PXAT). */
static int
opts_exp(struct rconn *rc, const struct resp_cmd *cmd, const struct sopts *o, const char *name,
         uint64_t *exp)
{
    unsigned f = o->flags;
    return exp_of_arg(rc, cmd, o->at, (f & (SO_PX | SO_PXAT)) != 0, (f & (SO_EXAT | SO_PXAT)) != 0,
                      name, exp);
}

/* ---- blind writes: SET, SETNX, SETEX, PSETEX, MSETNX ---- */

/* Write argv[k], argv[k + 1] with op, expiration exp (unix ms, 0: none) and preq_start flags; the
 * reply 1 / 0 (SETNX) when int_reply, else OK / nil. */
static void
blind_write(struct rconn *rc, const struct resp_cmd *cmd, size_t k, uint8_t op, uint64_t exp,
            unsigned flags, int int_reply)
{
    if (!rcmd_key_ok(rc, &cmd->argv[k]) || !rcmd_value_ok(rc, &cmd->argv[k + 1])) return;
    struct rslot *s = rcmd_slot(rc, K_SET, 1);
    if (s == NULL) return;
    s->opt = (uint8_t)int_reply;
    rcmd_start(rc, s, 0, op, cmd->argv[k].ptr, cmd->argv[k].len, cmd->argv[k + 1].ptr,
               cmd->argv[k + 1].len, 0, exp, 0, flags);
}

void
rstr_set(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct sopts o;
    uint64_t exp = 0; /* a time past is written: the record has expired */
    if (parse_opts(rc, cmd, 3, SO_NX | SO_XX | SO_GET | SO_KEEPTTL | SO_TIMED, &o) != 0) return;
    if ((o.flags & SO_TIMED) && opts_exp(rc, cmd, &o, "set", &exp) < 0) return;
    int keep = (o.flags & SO_KEEPTTL) != 0;
    if (!(o.flags & SO_GET) && !rwatch_running(rc)) {
        uint8_t op = (o.flags & SO_NX)   ? WIRE_OP_CREATE
                     : (o.flags & SO_XX) ? WIRE_OP_UPDATE
                                         : WIRE_OP_SET;
        blind_write(rc, cmd, 1, op, exp, keep || exp ? 0 : PREQ_TTL_RESET, 0);
        return;
    }
    if (!rcmd_value_ok(rc, &cmd->argv[2])) return;
    /* with GET, or on the watched version in an EXEC after WATCH (resp_watch.c) */
    struct rmw *x = rmw_new(rc, cmd, (o.flags & SO_GET) ? RMW_GETSET : RMW_SET, &cmd->argv[2]);
    if (x == NULL) return;
    x->cond = (o.flags & SO_NX) ? RMW_IF_ABSENT : (o.flags & SO_XX) ? RMW_IF_PRESENT : 0;
    x->ttlm = exp ? RMW_TTL_SET : keep ? RMW_TTL_KEEP : RMW_TTL_RESET;
    x->exp_ms = exp;
    rmw_start(rc, x);
}

void
rstr_setnx(struct rconn *rc, const struct resp_cmd *cmd)
{
    blind_write(rc, cmd, 1, WIRE_OP_CREATE, 0, PREQ_TTL_RESET, 1);
}

static void
setex(struct rconn *rc, const struct resp_cmd *cmd, int ms)
{
    uint64_t exp;
    if (exp_of_arg(rc, cmd, 2, ms, 0, ms ? "psetex" : "setex", &exp) < 0) return;
    const struct resp_arg *k = &cmd->argv[1], *v = &cmd->argv[3];
    if (!rcmd_key_ok(rc, k) || !rcmd_value_ok(rc, v)) return;
    struct rslot *s = rcmd_slot(rc, K_SET, 1);
    if (s != NULL) rcmd_start(rc, s, 0, WIRE_OP_SET, k->ptr, k->len, v->ptr, v->len, 0, exp, 0, 0);
}

void
rstr_setex(struct rconn *rc, const struct resp_cmd *cmd)
{
    setex(rc, cmd, 0);
}

void
rstr_psetex(struct rconn *rc, const struct resp_cmd *cmd)
{
    setex(rc, cmd, 1);
}

/* MSETNX promises that all its keys are set or none, and that no client
 * ever sees some set and others not. juno writes each key on its own, so it
 * takes MSETNX of one key (a SETNX) and refuses more, rather than break
 * that promise unseen. */
void
rstr_msetnx(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc % 2 == 0)
        rcmd_arity_error(rc, "msetnx");
    else if (cmd->argc > 3)
        rcmd_error(rc, "juno-proxy: MSETNX of more than one key is not supported: juno cannot "
                       "create several keys atomically (use SETNX for each key)");
    else
        blind_write(rc, cmd, 1, WIRE_OP_CREATE, 0, PREQ_TTL_RESET, 1);
}

void
rstr_answer(struct rconn *rc, struct rslot *s, const struct preq_result *res)
{
    int st = res->status;
    struct buf *b = rconn_slot_buf(rc, s);
    if (st == WIRE_ST_OK)
        PUT(rc, s->opt ? resp_integer(b, 1) : resp_raw(b, "+OK\r\n", 5));
    else if (st == WIRE_ST_NO_KEY || st == WIRE_ST_DUP_KEY) /* XX without the key, NX with it */
        PUT(rc, s->opt ? resp_integer(b, 0) : resp_nil(b, s->proto));
    else
        rcmd_status_error(rc, s, b, st);
    rconn_slot_done(rc, s);
}

/* ---- read-modify-write (resp_rmw.c) ---- */

static void
incr_by(struct rconn *rc, const struct resp_cmd *cmd, int64_t n)
{
    struct rmw *x = rmw_new(rc, cmd, RMW_INCR, NULL);
    if (x == NULL) return;
    x->n = n;
    rmw_start(rc, x);
}

void
rstr_incr(struct rconn *rc, const struct resp_cmd *cmd)
{
    incr_by(rc, cmd, 1);
}

void
rstr_decr(struct rconn *rc, const struct resp_cmd *cmd)
{
    incr_by(rc, cmd, -1);
}

void
rstr_incrby(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t n;
    if (resp_arg_i64(cmd, 2, &n) != 0)
        rcmd_error(rc, RERR_NOT_INT);
    else
        incr_by(rc, cmd, n);
}

void
rstr_decrby(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t n;
    if (resp_arg_i64(cmd, 2, &n) != 0)
        rcmd_error(rc, RERR_NOT_INT);
    else if (n == INT64_MIN) /* -n would overflow */
        rcmd_error(rc, "decrement would overflow");
    else
        incr_by(rc, cmd, -n);
}

void
rstr_incrbyfloat(struct rconn *rc, const struct resp_cmd *cmd)
{
    long double f;
    if (rnum_parse_ld(cmd->argv[2].ptr, cmd->argv[2].len, &f) != 0) {
        rcmd_error(rc, "value is not a valid float");
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_INCRF, NULL);
    if (x == NULL) return;
    x->f = f;
    rmw_start(rc, x);
}

void
rstr_append(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argv[2].len > rface_limit(&rc->w->p->cfg.resp_max_value)) {
        rcmd_error(rc, RFACE_E_TOOBIG);
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_APPEND, &cmd->argv[2]);
    if (x != NULL) rmw_start(rc, x);
}

void
rstr_setrange(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t off;
    uint64_t max = rface_limit(&rc->w->p->cfg.resp_max_value), vlen = cmd->argv[3].len;
    if (resp_arg_i64(cmd, 2, &off) != 0) {
        rcmd_error(rc, RERR_NOT_INT);
        return;
    }
    if (off < 0) {
        rcmd_error(rc, "offset is out of range");
        return;
    }
    if (vlen > 0 && ((uint64_t)off > max || vlen > max - (uint64_t)off)) {
        rcmd_error(rc, RFACE_E_TOOBIG);
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_SETRANGE, &cmd->argv[3]);
    if (x == NULL) return;
    x->n = off;
    rmw_start(rc, x);
}

void
rstr_getset(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (!rcmd_value_ok(rc, &cmd->argv[2])) return;
    struct rmw *x = rmw_new(rc, cmd, RMW_GETSET, &cmd->argv[2]);
    if (x == NULL) return;
    x->ttlm = RMW_TTL_RESET;
    rmw_start(rc, x);
}

void
rstr_getdel(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rmw *x = rmw_new(rc, cmd, RMW_GETDEL, NULL);
    if (x != NULL) rmw_start(rc, x);
}

void
rstr_getex(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct sopts o;
    uint64_t exp = 0;
    int live = 1;
    if (parse_opts(rc, cmd, 2, SO_PERSIST | SO_TIMED, &o) != 0) return;
    if ((o.flags & SO_TIMED) && (live = opts_exp(rc, cmd, &o, "getex", &exp)) < 0) return;
    uint64_t dttl = rc->w->p->cfg.default_ttl;
    if ((o.flags & SO_PERSIST) && dttl > 0) {
        rcmd_error(rc,
                   "juno-proxy runs with --default-ttl %llu: every record expires, GETEX PERSIST "
                   "is not supported",
                   (unsigned long long)dttl);
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_GETEX, NULL);
    if (x == NULL) return;
    if (o.flags & SO_PERSIST)
        x->ttlm = RMW_TTL_PERSIST;
    else if (o.flags & SO_TIMED)
        x->ttlm = live ? RMW_TTL_SET : RMW_TTL_GONE;
    else
        x->ttlm = RMW_TTL_NONE;
    x->exp_ms = exp;
    rmw_start(rc, x);
}

void
rstr_strlen(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rmw *x = rmw_new(rc, cmd, RMW_STRLEN, NULL);
    if (x != NULL) rmw_start(rc, x);
}

void
rstr_getrange(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t a, b;
    if (resp_arg_i64(cmd, 2, &a) != 0 || resp_arg_i64(cmd, 3, &b) != 0) {
        rcmd_error(rc, RERR_NOT_INT);
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_GETRANGE, NULL);
    if (x == NULL) return;
    x->n = a;
    x->m = b;
    rmw_start(rc, x);
}

/* ---- bits ---- */

/* A bit offset below 8 x --resp-max-value (Redis: 8 x proto-max-bulk-len): 0, or
 * -1 after the error reply. */
static int
bit_offset(struct rconn *rc, const struct resp_cmd *cmd, int64_t *off)
{
    if (resp_arg_i64(cmd, 2, off) == 0 && *off >= 0 &&
        (uint64_t)*off >> 3 < rface_limit(&rc->w->p->cfg.resp_max_value))
        return 0;
    rcmd_error(rc, "bit offset is not an integer or out of range");
    return -1;
}

void
rstr_getbit(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t off;
    if (bit_offset(rc, cmd, &off) != 0) return;
    struct rmw *x = rmw_new(rc, cmd, RMW_GETBIT, NULL);
    if (x == NULL) return;
    x->n = off;
    rmw_start(rc, x);
}

void
rstr_setbit(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t off, on;
    if (bit_offset(rc, cmd, &off) != 0) return;
    if (resp_arg_i64(cmd, 3, &on) != 0 || (on & ~1) != 0) {
        rcmd_error(rc, "bit is not an integer or out of range");
        return;
    }
    struct rmw *x = rmw_new(rc, cmd, RMW_SETBIT, NULL);
    if (x == NULL) return;
    x->n = off;
    x->m = on;
    rmw_start(rc, x);
}

/* BITCOUNT k [start end [BYTE|BIT]]: Redis 7.0 reads the key first, so bad
 * arguments are an error only when it exists (resp_rmw.c answers). */
void
rstr_bitcount(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rmw *x = rmw_new(rc, cmd, RMW_BITCOUNT, NULL);
    if (x == NULL) return;
    if (cmd->argc == 4 || cmd->argc == 5) {
        x->opt = BITCOUNT_BYTES;
        if (resp_arg_i64(cmd, 2, &x->n) != 0 || resp_arg_i64(cmd, 3, &x->m) != 0)
            x->opt = BITCOUNT_NOT_INT;
        else if (cmd->argc == 5 && resp_arg_eq(cmd, 4, "BIT"))
            x->opt = BITCOUNT_BITS;
        else if (cmd->argc == 5 && !resp_arg_eq(cmd, 4, "BYTE"))
            x->opt = BITCOUNT_SYNTAX;
    } else if (cmd->argc != 2) {
        x->opt = BITCOUNT_SYNTAX;
    }
    rmw_start(rc, x);
}
