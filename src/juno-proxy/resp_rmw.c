/* resp_rmw.c: the RESP face's read-modify-write commands (resp_rmw.h):
 * INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND SETRANGE SETBIT GETSET GETDEL,
 * SET with GET, GETEX with an option; and, as plain reads, STRLEN GETRANGE
 * GETBIT BITCOUNT and GETEX without one. In an EXEC after WATCH, SET and a
 * DEL of one key run here too, on the version read (resp_watch.c).
 *
 *   Get ──► absent: Create ─┐   present: Update carrying the version read
 *           (GETDEL, GETEX at a passed EXAT/PXAT: Destroy on that version,
 *           PREQ_IF_VERSION)    │
 *   DupKey, NoKey, VersionConflict: another write came in between ──► Get
 *   again, while --deadline allows (then TRYAGAIN juno: VersionConflict)
 *
 * So each command applies to the value it read, and no write is lost,
 * whatever the connections, workers and proxies (docs/consistency.md,
 * "Read-modify-write on the RESP face"). On a worker, those of one key run
 * one at a time (resp_lock.c); the connection's later commands wait for
 * each (rconn_barrier), so a pipelined INCR then GET reads the increment.
 * The reply is encoded into the slot's buffer when the value is decided,
 * before the write that makes it true starts; it goes out once that write
 * is done.
 */
#include "resp_rmw.h"

#include "clock.h"
#include "error.h"
#include "rnum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READING = 0, WRITING, DELETING };

/* ---- the state and the key's turn ---- */

struct rmw *
rmw_new(struct rconn *rc, const struct resp_cmd *cmd, enum rmw_op op, const struct resp_arg *v)
{
    const struct resp_arg *k = &cmd->argv[1];
    if (!rcmd_key_ok(rc, k)) return NULL;
    size_t vlen = v ? v->len : 0;
    struct rmw *x = calloc(1, sizeof(*x) + k->len + vlen);
    if (x == NULL) {
        rc->nomem = 1;
        return NULL;
    }
    x->op = (uint8_t)op;
    x->t0 = clock_mono_ns();
    x->klen = k->len;
    x->vlen = vlen;
    memcpy(x->data, k->ptr, k->len);
    if (vlen > 0) memcpy(x->data + k->len, v->ptr, vlen);
    return x;
}

static int
writes(const struct rmw *x)
{
    return !(x->op == RMW_STRLEN || x->op == RMW_GETRANGE || x->op == RMW_GETBIT ||
             x->op == RMW_BITCOUNT || (x->op == RMW_GETEX && x->ttlm == RMW_TTL_NONE));
}

static void
read_key(struct rconn *rc, struct rslot *s)
{
    struct rmw *x = s->ext;
    x->stage = READING;
    rcmd_start(rc, s, 0, WIRE_OP_GET, x->data, x->klen, NULL, 0, 0, 0, 0, 0);
}

void
rmw_start(struct rconn *rc, struct rmw *x)
{
    struct rslot *s = rcmd_slot(rc, K_RMW, 1);
    if (s == NULL) {
        free(x);
        return;
    }
    s->ext = x;
    if (writes(x)) {
        int queued;
        rconn_barrier(rc, s);
        x->held = rlock_take(rc, s, x->data, x->klen, &queued);
        if (x->held == NULL) return; /* its turn comes later (or out of memory: closing) */
    }
    read_key(rc, s);
}

void
rmw_resume(struct rconn *rc, struct rslot *s, struct rlock *l)
{
    ((struct rmw *)s->ext)->held = l;
    read_key(rc, s);
}

/* The key's turn goes to the next command of the worker waiting for it. */
static void
give_key(struct worker *w, struct rmw *x)
{
    struct rlock *l = x->held;
    x->held = NULL;
    if (l != NULL) rlock_give(w, l);
}

void
rmw_free(struct worker *w, void *ext)
{
    if (ext != NULL) give_key(w, ext);
    free(ext);
}

/* ---- finishing ---- */

/* s's buffer, emptied for the reply decided from the record read. */
static struct buf *
reply_buf(struct rslot *s)
{
    s->buf.len = 0;
    return &s->buf;
}

/* The reply is in s->buf: send it. */
static void
done(struct rconn *rc, struct rslot *s)
{
    give_key(rc->w, s->ext);
    rconn_slot_done(rc, s);
}

static void
fail(struct rconn *rc, struct rslot *s, int st)
{
    give_key(rc->w, s->ext);
    rcmd_finish_error(rc, s, st);
}

static void
fail_msg(struct rconn *rc, struct rslot *s, const char *msg)
{
    rstat_error(rc, s, msg);
    PUT(rc, resp_error(reply_buf(s), msg));
    done(rc, s);
}

/* 1 if a value of len bytes may be written, else 0 with s finished. */
static int
fits(struct rconn *rc, struct rslot *s, uint64_t len)
{
    if (len <= rface_limit(&rc->w->p->cfg.resp_max_value)) return 1;
    fail_msg(rc, s, RFACE_E_TOOBIG);
    return 0;
}

/* ---- deciding and writing ---- */

/* Write (val, vlen) of vtype as the key's value: a Create when the key was
 * absent (rec NULL), else an Update on the version read; the TTL as x->ttlm
 * says. The answer may come before this returns: s is not used after. */
static void
write_value(struct rconn *rc, struct rslot *s, const struct rmeta *rec, const uint8_t *val,
            size_t vlen, uint8_t vtype)
{
    struct rmw *x = s->ext;
    uint64_t exp = x->ttlm == RMW_TTL_SET ? x->exp_ms : 0;
    unsigned flags = x->ttlm == RMW_TTL_RESET || x->ttlm == RMW_TTL_PERSIST ? PREQ_TTL_RESET : 0;
    x->stage = WRITING;
    rcmd_start(rc, s, 0, rec ? WIRE_OP_UPDATE : WIRE_OP_CREATE, x->data, x->klen, val, vlen, vtype,
               exp, rec ? rec->version : 0, flags);
}

static void
delete_version(struct rconn *rc, struct rslot *s, const struct rmeta *rec)
{
    struct rmw *x = s->ext;
    x->stage = DELETING;
    rcmd_start(rc, s, 0, WIRE_OP_DESTROY, x->data, x->klen, NULL, 0, 0, 0, rec->version,
               PREQ_IF_VERSION);
}

/* GETRANGE's bytes [*off, *off + *n) of a value of len bytes (Redis's
 * getrangeCommand: negative indexes count from the end, both are clamped). */
static void
range_of(int64_t start, int64_t end, size_t len, size_t *off, size_t *n)
{
    int64_t l = (int64_t)len;
    *off = *n = 0;
    if (start < 0 && end < 0 && start > end) return;
    if (start < 0) start += l;
    if (end < 0) end += l;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= l) end = l - 1;
    if (start > end || l == 0) return;
    *off = (size_t)start;
    *n = (size_t)(end - start + 1);
}

static void
incr(struct rconn *rc, struct rslot *s, const struct rmeta *rec, const uint8_t *old, size_t olen)
{
    struct rmw *x = s->ext;
    int64_t v = 0;
    char num[RNUM_LL_CHARS + 1];
    if (rec && rnum_parse_ll(old, olen, &v) != 0) {
        fail_msg(rc, s, RERR_NOT_INT);
    } else if (rnum_add_ll(v, x->n, &v) != 0) {
        fail_msg(rc, s, "increment or decrement would overflow");
    } else {
        int len = snprintf(num, sizeof(num), "%lld", (long long)v);
        PUT(rc, resp_integer(&s->buf, v));
        write_value(rc, s, rec, (const uint8_t *)num, (size_t)len, 0);
    }
}

static void
incr_float(struct rconn *rc, struct rslot *s, const struct rmeta *rec, const uint8_t *old,
           size_t olen)
{
    struct rmw *x = s->ext;
    long double v = 0;
    char num[RNUM_LD_CHARS]; /* any finite long double fits */
    if (rec && rnum_parse_ld(old, olen, &v) != 0) {
        fail_msg(rc, s, "value is not a valid float");
        return;
    }
    v += x->f;
    if (isnan(v) || isinf(v)) {
        fail_msg(rc, s, "increment would produce NaN or Infinity");
        return;
    }
    size_t len = rnum_format_ld(num, sizeof(num), v);
    if (!fits(rc, s, len)) return;
    PUT(rc, resp_bulk(&s->buf, num, len));
    write_value(rc, s, rec, (const uint8_t *)num, len, 0);
}

/* APPEND: the argument at the end; SETRANGE: at the offset, zeros before it
 * if the value is shorter. The reply: the new length. */
static void
write_into(struct rconn *rc, struct rslot *s, const struct rmeta *rec, const uint8_t *old,
           size_t olen, uint8_t vtype)
{
    struct rmw *x = s->ext;
    if (x->op == RMW_SETRANGE && x->vlen == 0) { /* nothing to write */
        PUT(rc, resp_integer(&s->buf, (int64_t)olen));
        done(rc, s);
        return;
    }
    uint64_t at = x->op == RMW_APPEND ? olen : (uint64_t)x->n;
    uint64_t len = at + x->vlen > olen ? at + x->vlen : olen;
    if (!fits(rc, s, len)) return;
    uint8_t *nv = calloc(1, len);
    if (nv == NULL) {
        rc->nomem = 1; /* the connection closes */
        return;
    }
    memcpy(nv, old, olen);
    memcpy(nv + at, x->data + x->klen, x->vlen);
    PUT(rc, resp_integer(&s->buf, (int64_t)len));
    write_value(rc, s, rec, nv, len, vtype);
    free(nv);
}

/* Bit n of (p, len): 0 past the end. */
static int
bit_at(const uint8_t *p, size_t len, uint64_t n)
{
    return (n >> 3) < len ? (p[n >> 3] >> (7 - (n & 7))) & 1 : 0;
}

/* SETBIT: the bit set or cleared, the value grown with zero bytes to hold
 * it; no write when nothing changes. The reply: the bit as it was. */
static void
set_bit(struct rconn *rc, struct rslot *s, const struct rmeta *rec, const uint8_t *old, size_t olen,
        uint8_t vtype)
{
    struct rmw *x = s->ext;
    uint64_t n = (uint64_t)x->n, byte = n >> 3;
    int was = bit_at(old, olen, n);
    PUT(rc, resp_integer(&s->buf, was));
    if (rec && byte < olen && was == x->m) {
        done(rc, s);
        return;
    }
    size_t len = byte < olen ? olen : byte + 1; /* byte < --max-value: checked */
    uint8_t *nv = calloc(1, len);
    if (nv == NULL) {
        rc->nomem = 1; /* the connection closes */
        return;
    }
    memcpy(nv, old, olen);
    uint8_t mask = (uint8_t)(1u << (7 - (n & 7)));
    nv[byte] = (uint8_t)(x->m ? nv[byte] | mask : nv[byte] & ~mask);
    write_value(rc, s, rec, nv, len, vtype);
    free(nv);
}

/* BITCOUNT of (p, len) as Redis 7.0 counts: the range's negative indexes
 * count from the end, both are clamped; a range of bits masks the bits of
 * its first and last bytes that are outside it. */
static int64_t
bit_count(const struct rmw *x, const uint8_t *p, size_t len)
{
    int64_t start = 0, end = (int64_t)len - 1;
    uint8_t first = 0, last = 0; /* bits of the first and last byte not to count */
    if (x->opt != BITCOUNT_ALL) {
        int64_t total = x->opt == BITCOUNT_BITS ? (int64_t)len * 8 : (int64_t)len;
        start = x->n;
        end = x->m;
        if (start < 0 && end < 0 && start > end) return 0;
        if (start < 0) start += total;
        if (end < 0) end += total;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= total) end = total - 1;
        if (x->opt == BITCOUNT_BITS && start <= end) {
            first = (uint8_t) ~((1u << (8 - (start & 7))) - 1);
            last = (uint8_t)((1u << (7 - (end & 7))) - 1);
            start >>= 3;
            end >>= 3;
        }
    }
    if (start > end) return 0;
    int64_t count = 0;
    for (int64_t i = start; i <= end; i++) count += __builtin_popcount(p[i]);
    return count - __builtin_popcount(p[start] & first) - __builtin_popcount(p[end] & last);
}

/* x's command on the record read: r NULL when the key is absent. */
static void
apply(struct rconn *rc, struct rslot *s, const struct preq_result *r)
{
    struct rmw *x = s->ext;
    const struct rmeta *rec = r ? r->rec : NULL;
    const uint8_t *old = r && r->val ? r->val : (const uint8_t *)"";
    size_t olen = r ? r->vlen : 0, off, n;
    struct buf *b = reply_buf(s);
    switch (x->op) {
    case RMW_INCR: incr(rc, s, rec, old, olen); return;
    case RMW_INCRF: incr_float(rc, s, rec, old, olen); return;
    case RMW_APPEND:
    case RMW_SETRANGE: write_into(rc, s, rec, old, olen, r ? r->vtype : 0); return;
    case RMW_SETBIT: set_bit(rc, s, rec, old, olen, r ? r->vtype : 0); return;
    case RMW_STRLEN: PUT(rc, resp_integer(b, (int64_t)olen)); break;
    case RMW_GETBIT: PUT(rc, resp_integer(b, bit_at(old, olen, (uint64_t)x->n))); break;
    case RMW_BITCOUNT:
        if (r && x->opt >= BITCOUNT_SYNTAX) {
            fail_msg(rc, s, x->opt == BITCOUNT_SYNTAX ? RERR_SYNTAX : RERR_NOT_INT);
            return;
        }
        PUT(rc, resp_integer(b, r ? bit_count(x, old, olen) : 0));
        break;
    case RMW_GETRANGE:
        range_of(x->n, x->m, olen, &off, &n);
        PUT(rc, resp_bulk(b, old + off, n));
        break;
    case RMW_GETSET:
        PUT(rc, r ? resp_bulk(b, old, olen) : resp_nil(b, s->proto));
        if ((x->cond == RMW_IF_ABSENT && r) || (x->cond == RMW_IF_PRESENT && !r)) break;
        write_value(rc, s, rec, x->data + x->klen, x->vlen, 0);
        return;
    case RMW_SET: /* the watched version is the one read (resp_watch.c) */
        if ((x->cond == RMW_IF_ABSENT && r) || (x->cond == RMW_IF_PRESENT && !r)) {
            PUT(rc, resp_nil(b, s->proto));
            break;
        }
        PUT(rc, resp_raw(b, "+OK\r\n", 5));
        write_value(rc, s, rec, x->data + x->klen, x->vlen, 0);
        return;
    case RMW_DEL:
        PUT(rc, resp_integer(b, r != NULL));
        if (r == NULL) break;
        delete_version(rc, s, rec);
        return;
    default: /* GETDEL GETEX */
        if (r == NULL) {
            PUT(rc, resp_nil(b, s->proto));
            break;
        }
        PUT(rc, resp_bulk(b, old, olen));
        if (x->op == RMW_GETDEL || x->ttlm == RMW_TTL_GONE) {
            delete_version(rc, s, rec);
            return;
        }
        if (x->ttlm == RMW_TTL_NONE || (x->ttlm == RMW_TTL_PERSIST && rec->ems == 0)) break;
        write_value(rc, s, rec, old, olen, r->vtype); /* the same value, another TTL */
        return;
    }
    done(rc, s);
}

void
rmw_answer(struct rconn *rc, struct rslot *s, const struct preq *rq, const struct preq_result *res)
{
    struct rmw *x = s->ext;
    int st = res->status;
    if (rq == NULL) { /* could not start */
        fail(rc, s, st);
    } else if (x->stage == READING) {
        if (st == WIRE_ST_NO_KEY)
            apply(rc, s, NULL);
        else if (st == WIRE_ST_OK && res->rec != NULL && res->rec->has)
            apply(rc, s, res);
        else
            fail(rc, s, st == WIRE_ST_OK ? WIRE_ST_INTERNAL : st);
    } else if (st == WIRE_ST_OK) {
        done(rc, s); /* the reply waits in s->buf */
    } else if (st != WIRE_ST_VERSION_CONFLICT && st != WIRE_ST_DUP_KEY && st != WIRE_ST_NO_KEY) {
        fail(rc, s, st);
    } else if (clock_mono_ns() - x->t0 >= rc->w->p->cfg.deadline_ms * 1000000u) {
        fail(rc, s, WIRE_ST_VERSION_CONFLICT);
    } else {
        read_key(rc, s); /* another write came between the read and this one */
    }
}
