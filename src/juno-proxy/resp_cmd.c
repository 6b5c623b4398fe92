/* resp_cmd.c: the RESP face's key-value commands, mapped onto the
 * replicated operations (replicate.c), in the namespace of --resp-namespace:
 *
 *   GET k                  Get; nil on NoKey
 *   DEL k...               Destroy each; counts those whose newest copy among
 *                          the W prepared replicas was live (preq_result.existed)
 *   EXISTS k... TTL PTTL   Get (its metadata); TOUCH is EXISTS, TYPE k a Get
 *                          ("string" or "none"), UNLINK is DEL
 *   MGET k... MSET k v...  one request per key, RFACE_WINDOW of them at once
 *                          (the keys past it copied, each started when an
 *                          answer comes: struct rwin); the reply when all are
 *                          in; a failure answers the lowest failed key's error
 *
 * A request's answer comes back to rcmd_answer with the slot and the index of
 * the key (sub); it passes those of SET and the string commands on to
 * resp_str.c, resp_rmw.c and resp_expire.c (EXPIRE, PERSIST and the other
 * expiration commands). Limits are checked before anything starts: keys 0 to
 * --max-key bytes, values up to --resp-max-value, TTLs up to --resp-max-ttl.
 */
#include "resp_face.h"

#include "error.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

void
rcmd_error(struct rconn *rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rstat_error(rc, NULL, msg);
    struct buf *b = rconn_out(rc);
    if (b != NULL) PUT(rc, resp_error(b, msg));
}

void
rcmd_reply(struct rconn *rc, const char *text)
{
    struct buf *b = rconn_out(rc);
    if (b != NULL) PUT(rc, resp_raw(b, text, strlen(text)));
}

void
rcmd_arity_error(struct rconn *rc, const char *name)
{
    rcmd_error(rc, "wrong number of arguments for '%s' command", name);
}

/* The Redis error for juno status st. */
void
rcmd_status_error(struct rconn *rc, const struct rslot *s, struct buf *b, int st)
{
    char msg[200];
    const char *name = wire_status_name(st);
    switch (st) {
    case WIRE_ST_BUSY:
        snprintf(msg, sizeof(msg),
                 "-BUSY juno: %s: no answer within the proxy's --deadline; the write may "
                 "still complete",
                 name);
        break;
    case WIRE_ST_RECORD_LOCKED:
        snprintf(msg, sizeof(msg), "-TRYAGAIN juno: %s: a concurrent write holds the record", name);
        break;
    case WIRE_ST_NO_STORAGE_SERVER:
        snprintf(msg, sizeof(msg), "-TRYAGAIN juno: %s: too few stores answered for a quorum",
                 name);
        break;
    case WIRE_ST_VERSION_CONFLICT:
        snprintf(msg, sizeof(msg), "-TRYAGAIN juno: %s: the record kept changing meanwhile", name);
        break;
    case WIRE_ST_SS_OUT_OF_RESOURCE:
        snprintf(msg, sizeof(msg),
                 "juno: %s: disk full: the stores refuse writes until space is freed (reads "
                 "go on)",
                 name);
        break;
    case WIRE_ST_COMMIT_FAILURE:
        snprintf(msg, sizeof(msg), "juno: %s: fewer than a quorum of replicas took the write",
                 name);
        break;
    default: snprintf(msg, sizeof(msg), "juno: %s: %s", name, wire_status_str(st));
    }
    rstat_error(rc, s, msg);
    PUT(rc, resp_error(b, msg));
}

/* ---- checks ---- */

int
rcmd_key_ok(struct rconn *rc, const struct resp_arg *k)
{
    const struct proxy_config *cfg = &rc->w->p->cfg;
    if (k->len <= cfg->max_key) return 1; /* "" too, as in Redis */
    rcmd_error(rc, "juno: key length must be at most %llu bytes (--max-key)",
               (unsigned long long)cfg->max_key);
    return 0;
}

int
rcmd_value_ok(struct rconn *rc, const struct resp_arg *v)
{
    if (v->len <= rface_limit(&rc->w->p->cfg.resp_max_value)) return 1;
    rcmd_error(rc, RFACE_E_TOOBIG);
    return 0;
}

static int
keys_ok(struct rconn *rc, const struct resp_cmd *cmd, size_t from, size_t step)
{
    for (size_t i = from; i < cmd->argc; i += step)
        if (!rcmd_key_ok(rc, &cmd->argv[i])) return 0;
    return 1;
}

/* ---- starting requests ---- */

/* The requests of a multi-key command past its first RFACE_WINDOW, waiting
 * to start: their arguments copied (the command's own are gone once it has
 * run). */
struct rwin {
    uint32_t next;         /* the next sub-request to start */
    uint32_t per;          /* arguments per sub-request: 1 (a key) or 2 (key, value) */
    uint8_t op;            /* their operation */
    unsigned flags;        /* rcmd_start's */
    int pumping;           /* win_pump is on the stack: answers start nothing */
    struct resp_arg *args; /* sub-request i's: args[(i - RFACE_WINDOW) * per ...] */
    uint8_t *data;
};

void
rwin_free(struct rwin *w)
{
    if (w == NULL) return;
    free(w->args);
    free(w->data);
    free(w);
}

void
rcmd_start(struct rconn *rc, struct rslot *s, uint32_t sub, uint8_t op, const uint8_t *key,
           size_t klen, const uint8_t *val, size_t vlen, uint8_t vtype, uint64_t exp_ms,
           uint32_t version, unsigned flags)
{
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.opcode = op;
    m.key.ptr = key;
    m.key.len = klen;
    if (val != NULL) {
        m.value.ptr = val;
        m.value.len = vlen;
        m.value_type = vtype;
    }
    if (exp_ms) {
        wire_meta_set_expiration(&m.meta, exp_ms);
        flags |= PREQ_EXPIRY_MS;
    }
    if (version) wire_meta_set_u32(&m.meta, WIRE_F_VERSION, version);
    rconn_start(rc, s, sub, &m, flags);
}

struct rslot *
rcmd_slot(struct rconn *rc, enum rkind kind, uint32_t nsub)
{
    struct rslot *s = rconn_slot(rc);
    if (s == NULL) return NULL;
    s->kind = (uint8_t)kind;
    s->nsub = nsub;
    rwatch_arm(rc, s);
    return s;
}

/* Start sub-request i of s: argument a (and a[1], its value, for a Set). */
static void
start_sub(struct rconn *rc, struct rslot *s, uint32_t i, uint8_t op, unsigned flags,
          const struct resp_arg *a)
{
    if (op == WIRE_OP_SET)
        rcmd_start(rc, s, i, op, a[0].ptr, a[0].len, a[1].ptr, a[1].len, 0, 0, 0, flags);
    else
        rcmd_start(rc, s, i, op, a[0].ptr, a[0].len, NULL, 0, 0, 0, 0, flags);
}

/* Start s's waiting sub-requests while fewer than RFACE_WINDOW are in
 * flight. The last start may finish s: neither s nor its window is used
 * after it. */
static void
win_pump(struct rconn *rc, struct rslot *s)
{
    struct rwin *w = s->win;
    if (w->pumping) return;
    w->pumping = 1;
    while (w->next < s->nsub && w->next - s->ndone < RFACE_WINDOW && !rc->c.closing) {
        uint32_t i = w->next++;
        int last = w->next == s->nsub;
        start_sub(rc, s, i, w->op, w->flags, &w->args[(size_t)(i - RFACE_WINDOW) * w->per]);
        if (last) return;
    }
    w->pumping = 0;
}

/* Start s's nsub requests op, sub-request i on cmd's arguments from + i *
 * per: the first RFACE_WINDOW now, the others as answers come. */
static void
multi_start(struct rconn *rc, struct rslot *s, const struct resp_cmd *cmd, size_t from,
            uint32_t per, uint8_t op, unsigned flags)
{
    uint32_t n = s->nsub, now = n < RFACE_WINDOW ? n : RFACE_WINDOW;
    if (n > RFACE_WINDOW) {
        size_t nargs = (size_t)(n - RFACE_WINDOW) * per, bytes = 0;
        const struct resp_arg *src = &cmd->argv[from + (size_t)RFACE_WINDOW * per];
        for (size_t i = 0; i < nargs; i++) bytes += src[i].len;
        struct rwin *w = calloc(1, sizeof(*w));
        if (w != NULL) {
            w->args = malloc(nargs * sizeof(*w->args));
            w->data = malloc(bytes ? bytes : 1);
        }
        if (w == NULL || w->args == NULL || w->data == NULL) {
            rwin_free(w);
            rcmd_finish_error(rc, s, WIRE_ST_OUT_OF_MEM);
            return;
        }
        uint8_t *p = w->data;
        for (size_t i = 0; i < nargs; i++) {
            memcpy(p, src[i].ptr, src[i].len);
            w->args[i].ptr = p;
            w->args[i].len = src[i].len;
            p += src[i].len;
        }
        w->next = RFACE_WINDOW;
        w->per = per;
        w->op = op;
        w->flags = flags;
        w->pumping = 1; /* answers during the first starts start nothing */
        s->win = w;
    }
    for (uint32_t i = 0; i < now; i++) /* without a window the last answer may finish s */
        start_sub(rc, s, i, op, flags, &cmd->argv[from + (size_t)i * per]);
    if (n > RFACE_WINDOW) {
        s->win->pumping = 0;
        win_pump(rc, s);
    }
}

/* One Get per key (argv[1..]) for GET TTL PTTL EXISTS MGET. */
static void
cmd_read(struct rconn *rc, const struct resp_cmd *cmd, enum rkind kind)
{
    if (!keys_ok(rc, cmd, 1, 1)) return;
    uint32_t n = (uint32_t)cmd->argc - 1;
    struct rslot *s = rcmd_slot(rc, kind, n);
    if (s == NULL) return;
    if (kind == K_MGET) {
        if (s->pieces_cap < n) {
            struct rpiece *p = realloc(s->pieces, n * sizeof(*p));
            if (p == NULL) {
                rc->nomem = 1;
                return;
            }
            s->pieces = p;
            s->pieces_cap = n;
        }
    }
    multi_start(rc, s, cmd, 1, 1, WIRE_OP_GET, 0);
}

void
rcmd_get(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_GET);
}

void
rcmd_ttl(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_TTL);
}

void
rcmd_pttl(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_PTTL);
}

void
rcmd_exists(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_EXISTS);
}

void
rcmd_type(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_TYPE);
}

void
rcmd_mget(struct rconn *rc, const struct resp_cmd *cmd)
{
    cmd_read(rc, cmd, K_MGET);
}

void
rcmd_del(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (!keys_ok(rc, cmd, 1, 1)) return;
    uint32_t n = (uint32_t)cmd->argc - 1;
    struct rslot *s = rcmd_slot(rc, K_DEL, n);
    if (s != NULL) multi_start(rc, s, cmd, 1, 1, WIRE_OP_DESTROY, 0);
}

void
rcmd_mset(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc % 2 == 0) {
        rcmd_arity_error(rc, "mset");
        return;
    }
    if (!keys_ok(rc, cmd, 1, 2)) return;
    for (size_t i = 2; i < cmd->argc; i += 2)
        if (!rcmd_value_ok(rc, &cmd->argv[i])) return;
    uint32_t n = (uint32_t)(cmd->argc - 1) / 2;
    struct rslot *s = rcmd_slot(rc, K_MSET, n);
    if (s != NULL) multi_start(rc, s, cmd, 1, 2, WIRE_OP_SET, PREQ_TTL_RESET);
}

/* ---- answers ---- */

void
rcmd_finish_int(struct rconn *rc, struct rslot *s, int64_t v)
{
    PUT(rc, resp_integer(rconn_slot_buf(rc, s), v));
    rconn_slot_done(rc, s);
}

void
rcmd_finish_error(struct rconn *rc, struct rslot *s, int st)
{
    s->buf.len = 0;
    s->use_pieces = 0;
    rcmd_status_error(rc, s, rconn_slot_buf(rc, s), st);
    rconn_slot_done(rc, s);
}

/* GET TTL PTTL EXPIRETIME PEXPIRETIME */
static void
single_answer(struct rconn *rc, struct rslot *s, const struct preq_result *res)
{
    int st = res->status;
    struct buf *b = rconn_slot_buf(rc, s);
    if (s->kind == K_GET && (st == WIRE_ST_OK || st == WIRE_ST_NO_KEY)) {
        if (st == WIRE_ST_OK)
            RSTAT_ADD(rc->w, hits, 1);
        else
            RSTAT_ADD(rc->w, misses, 1);
    }
    if (st == WIRE_ST_OK) {
        if (s->kind == K_GET)
            PUT(rc, resp_bulk(b, res->val, res->vlen));
        else if (s->kind == K_TYPE)
            PUT(rc, resp_raw(b, "+string\r\n", 9)); /* juno has only strings */
        else
            PUT(rc, resp_integer(b, rexp_reply_of(s->kind, res->rec)));
    } else if (st == WIRE_ST_NO_KEY) {
        if (s->kind == K_GET)
            PUT(rc, resp_nil(b, s->proto));
        else if (s->kind == K_TYPE)
            PUT(rc, resp_raw(b, "+none\r\n", 7));
        else
            PUT(rc, resp_integer(b, -2));
    } else {
        rcmd_status_error(rc, s, b, st);
    }
    rconn_slot_done(rc, s);
}

/* DEL EXISTS MGET MSET */
static void
multi_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq_result *res)
{
    int st = res->status, failed = 0;
    s->ndone++;
    switch (s->kind) {
    case K_DEL:
        if (st == WIRE_ST_OK)
            s->count += res->existed != 0;
        else
            failed = 1;
        break;
    case K_EXISTS:
        if (st == WIRE_ST_OK)
            s->count++;
        else if (st != WIRE_ST_NO_KEY)
            failed = 1;
        break;
    case K_MGET: {
        size_t off = s->buf.len;
        if (st == WIRE_ST_OK)
            PUT(rc, resp_bulk(&s->buf, res->val, res->vlen));
        else
            PUT(rc, resp_nil(&s->buf, s->proto));
        if (st == WIRE_ST_OK)
            RSTAT_ADD(rc->w, hits, 1);
        else if (st == WIRE_ST_NO_KEY)
            RSTAT_ADD(rc->w, misses, 1);
        s->pieces[sub].off = off;
        s->pieces[sub].len = s->buf.len - off;
        failed = st != WIRE_ST_OK && st != WIRE_ST_NO_KEY;
        break;
    }
    default: /* MSET */ failed = st != WIRE_ST_OK; break;
    }
    if (failed && (s->err == 0 || sub < s->err_sub)) {
        s->err = st;
        s->err_sub = sub;
    }
    if (s->ndone < s->nsub) {
        if (s->win != NULL) win_pump(rc, s);
        return;
    }
    if (s->err) {
        rcmd_finish_error(rc, s, s->err);
    } else if (s->kind == K_MGET) {
        s->use_pieces = 1;
        rconn_slot_done(rc, s);
    } else if (s->kind == K_MSET) {
        PUT(rc, resp_raw(rconn_slot_buf(rc, s), "+OK\r\n", 5));
        rconn_slot_done(rc, s);
    } else {
        rcmd_finish_int(rc, s, s->count);
    }
}

void
rcmd_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq *rq,
            const struct preq_result *res)
{
    if (s->wseq && rwatch_check(rc, s, rq, res)) return; /* the watched key changed */
    switch (s->kind) {
    case K_GET:
    case K_TTL:
    case K_PTTL:
    case K_EXPIRETIME:
    case K_PEXPIRETIME:
    case K_TYPE: single_answer(rc, s, res); break;
    case K_SET: rstr_answer(rc, s, res); break;
    case K_RMW: rmw_answer(rc, s, rq, res); break;
    case K_RENAME: rname_answer(rc, s, res); break;
    case K_LCS: rlcs_answer(rc, s, sub, res); break;
    case K_EXPIRE:
    case K_PERSIST: rexp_answer(rc, s, rq, res); break;
    case K_WATCH: rwatch_answer(rc, s, sub, res); break;
    default: multi_answer(rc, s, sub, res); break;
    }
}
