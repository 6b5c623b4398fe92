/* resp_watch.c: WATCH and UNWATCH on the RESP face, and EXEC's check of the
 * watched keys: an optimistic check-and-set on record versions, where juno
 * can make it atomic (resp_multi.c's header says which).
 *
 *   WATCH k...   a Get of each key (the replicated read): its version, or
 *                absent (0), remembered on the connection, at most
 *                RWATCH_MAX_KEYS; the connection's later commands wait
 *                for the reads (rconn_barrier)
 *   EXEC         of one command on the one watched key: EXEC's array
 *                header gets a slot of its own ahead of the command's;
 *                the command's slot carries the watched version (wseq,
 *                wver: rwatch_arm) and runs as usual, with its read and
 *                conditional write (resp_rmw.c, resp_expire.c; SET and DEL
 *                become read-modify-writes) checked here, in rcmd_answer:
 *
 *     its Get read another version (or absent / present)  ─┐
 *     its write, conditional on that version, got           ├─► *-1, the
 *     VersionConflict, DupKey or NoKey (written meanwhile) ─┘   command's
 *                                                               reply dropped
 *     it finished otherwise ─► *1, then its reply
 *
 *                of none: a Get of each watched key again, *0 or *-1
 *
 * Every write of juno bumps the record's version, and a Create after a
 * Destroy continues after the tombstone's (docs/consistency.md), so "the
 * version read is the one watched, and the write is conditional on it" is
 * "nothing changed the key since WATCH" up to what docs/consistency.md
 * ("WATCH on the RESP face") lists.
 */
#include "resp_rmw.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RWATCH_MAX_KEYS 64 /* per connection (Redis: no limit) */

enum { W_READING = 0, W_READ, W_FAILED };

struct rwkey {
    uint8_t *key; /* owned */
    size_t klen;
    uint32_t version; /* at WATCH; 0: absent */
    uint8_t state;    /* W_* */
};

struct rwatch {
    uint32_t n;
    char ns[ACL_MAX_NAME + 1]; /* the namespace of the keys */
    uint64_t arm_seq;          /* EXEC running its command: its header's slot, 0: none */
    uint32_t arm_ver;
    struct rwkey keys[RWATCH_MAX_KEYS];
};

void
rwatch_free(struct rconn *rc)
{
    struct rwatch *w = rc->watch;
    if (w == NULL) return;
    for (uint32_t i = 0; i < w->n; i++) free(w->keys[i].key);
    free(w);
    rc->watch = NULL;
}

int
rwatch_any(const struct rconn *rc)
{
    return rc->watch != NULL && rc->watch->n > 0;
}

static struct rwkey *
find(struct rwatch *w, const struct resp_arg *k)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (w->keys[i].klen == k->len && memcmp(w->keys[i].key, k->ptr, k->len) == 0)
            return &w->keys[i];
    return NULL;
}

/* A Get of each key from w->keys[base] for slot s (K_WATCH, nsub set). */
static void
read_keys(struct rconn *rc, struct rslot *s, uint32_t base)
{
    struct rwatch *w = rc->watch;
    uint32_t n = s->nsub;
    s->arg = base;
    rconn_barrier(rc, s);            /* EXEC must not run before the versions are in */
    for (uint32_t i = 0; i < n; i++) /* the last answer may finish s */
        rcmd_start(rc, s, i, WIRE_OP_GET, w->keys[base + i].key, w->keys[base + i].klen, NULL, 0, 0,
                   0, 0, 0);
}

void
rwatch_watch(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (rc->tx != NULL) {
        rcmd_error(rc, "WATCH inside MULTI is not allowed");
        return;
    }
    for (size_t i = 1; i < cmd->argc; i++)
        if (!rcmd_key_ok(rc, &cmd->argv[i])) return;
    struct rwatch *w = rc->watch;
    const char *ns = rconn_ns(rc);
    if (w != NULL && w->n > 0 && strcmp(w->ns, ns) != 0) {
        rcmd_error(rc, "juno: keys of namespace '%s' are watched: UNWATCH them first", w->ns);
        return;
    }
    if (w == NULL && (w = rc->watch = calloc(1, sizeof(*w))) == NULL) {
        rc->nomem = 1;
        return;
    }
    snprintf(w->ns, sizeof(w->ns), "%s", ns);
    uint32_t base = w->n;
    for (size_t i = 1; i < cmd->argc; i++) {
        const struct resp_arg *k = &cmd->argv[i];
        if (find(w, k) != NULL) continue; /* watched already: from its first WATCH, as Redis */
        if (w->n == RWATCH_MAX_KEYS) {
            while (w->n > base) free(w->keys[--w->n].key);
            rcmd_error(rc, "juno: at most %d keys can be watched by a connection", RWATCH_MAX_KEYS);
            return;
        }
        struct rwkey *e = &w->keys[w->n];
        if ((e->key = malloc(k->len ? k->len : 1)) == NULL) {
            rc->nomem = 1;
            return;
        }
        memcpy(e->key, k->ptr, k->len);
        e->klen = k->len;
        e->version = 0;
        e->state = W_READING;
        w->n++;
    }
    if (w->n == base) {
        rcmd_reply(rc, "+OK\r\n");
        return;
    }
    struct rslot *s = rcmd_slot(rc, K_WATCH, w->n - base);
    if (s != NULL) read_keys(rc, s, base);
}

void
rwatch_unwatch(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    rwatch_free(rc);
    rcmd_reply(rc, "+OK\r\n");
}

void
rwatch_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq_result *res)
{
    struct rwatch *w = rc->watch;
    int st = res->status, ok = 1;
    uint32_t version = 0;
    if (st == WIRE_ST_OK && res->rec != NULL && res->rec->has)
        version = res->rec->version;
    else if (st != WIRE_ST_NO_KEY)
        ok = 0;
    if (!ok && (s->err == 0 || sub < s->err_sub)) {
        s->err = st == WIRE_ST_OK ? WIRE_ST_INTERNAL : st;
        s->err_sub = sub;
    }
    struct rwkey *k = w != NULL && s->arg + sub < w->n ? &w->keys[s->arg + sub] : NULL;
    if (s->opt == 0 && k != NULL) { /* WATCH */
        k->version = version;
        k->state = ok ? W_READ : W_FAILED;
    } else if (k == NULL || k->state != W_READ || k->version != version) { /* EXEC */
        s->count++;
    }
    if (++s->ndone < s->nsub) return;
    if (s->opt) rwatch_free(rc); /* EXEC forgets them */
    if (s->err) {
        rcmd_finish_error(rc, s, s->err); /* WATCH: its keys then make EXEC answer *-1 */
        return;
    }
    struct buf *b = rconn_slot_buf(rc, s);
    if (s->opt == 0)
        PUT(rc, resp_raw(b, "+OK\r\n", 5));
    else if (s->count > 0)
        rconn_null_array(rc, b, s->proto);
    else
        PUT(rc, resp_raw(b, "*0\r\n", 4));
    rconn_slot_done(rc, s);
}

/* ---- EXEC ---- */

/* The commands EXEC can run on the watched version: one key, argv[1], read
 * by a Get and written (if at all) by a write conditional on the version
 * read. */
static int
checkable(const struct rcmd_def *d, const struct resp_cmd *cmd)
{
    static rcmd_fn *const one_key[] = {
        rcmd_get,         rcmd_ttl,    rcmd_pttl,     rcmd_type,        rexp_expiretime,
        rexp_pexpiretime, rstr_strlen, rstr_getrange, rstr_getbit,      rstr_bitcount,
        rstr_set,         rstr_getset, rstr_getdel,   rstr_getex,       rstr_incr,
        rstr_decr,        rstr_incrby, rstr_decrby,   rstr_incrbyfloat, rstr_append,
        rstr_setrange,    rstr_setbit, rexp_expire,   rexp_pexpire,     rexp_expireat,
        rexp_pexpireat,   rexp_persist};
    if (d == NULL) return 0;
    if (d->run == rcmd_del || d->run == rcmd_exists) return cmd->argc == 2; /* one key */
    for (size_t i = 0; i < sizeof(one_key) / sizeof(one_key[0]); i++)
        if (d->run == one_key[i]) return 1;
    return 0;
}

/* EXEC's header into the slot seq: *1 (the command's reply follows) when
 * ok, else the null array. */
static void
header(struct rconn *rc, uint64_t seq, int ok)
{
    struct rslot *h = rconn_slot_find(rc, seq);
    if (h == NULL || h->done) return;
    struct buf *b = rconn_slot_buf(rc, h);
    if (ok)
        PUT(rc, resp_raw(b, "*1\r\n", 4));
    else
        rconn_null_array(rc, b, h->proto);
    rconn_slot_done(rc, h);
}

/* Run cmd on the watched version (w->keys[0], cmd's key). */
static void
run_checked(struct rconn *rc, const struct rcmd_def *d, const struct resp_cmd *cmd)
{
    struct rwatch *w = rc->watch;
    struct rslot *h = rconn_slot(rc); /* the header's place, ahead of the command's */
    if (h == NULL) return;
    uint64_t seq = h->seq;
    w->arm_seq = seq;
    w->arm_ver = w->keys[0].version;
    if (d->run == rcmd_del) { /* DEL is a blind Destroy: here, one on the version read */
        struct rmw *x = rmw_new(rc, cmd, RMW_DEL, NULL);
        if (x != NULL) rmw_start(rc, x);
    } else {
        rcmd_run(rc, cmd);
    }
    int taken = w->arm_seq == 0;
    w->arm_seq = 0;
    if (!taken) header(rc, seq, 1); /* it answered at once (an error): *1, then that */
}

void
rwatch_exec(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rwatch *w = rc->watch;
    if (strcmp(w->ns, rconn_ns(rc)) != 0) { /* AUTH as a user of another namespace */
        struct buf *b = rconn_out(rc);
        if (b != NULL) rconn_null_array(rc, b, rc->proto);
        rwatch_free(rc);
        return;
    }
    if (cmd == NULL) { /* the keys are read again; forgotten when the reads are in */
        struct rslot *s = rcmd_slot(rc, K_WATCH, w->n);
        if (s == NULL) return;
        s->opt = 1;
        read_keys(rc, s, 0);
        return;
    }
    const struct rcmd_def *d = rcmd_find(cmd->argv[0].ptr, cmd->argv[0].len);
    const char *name = d != NULL ? d->name : "?"; /* known: an unknown one aborts MULTI */
    if (w->n > 1)
        rcmd_error(rc,
                   "juno: EXEC with %u watched keys cannot be atomic across juno's replicas: not "
                   "run (juno checks one watched key, the key of the transaction's one command)",
                   w->n);
    else if (!checkable(d, cmd))
        rcmd_error(rc,
                   "juno: '%s' cannot be checked against WATCH atomically: not run (only a "
                   "single-key string or expiration command on the watched key can)",
                   name);
    else if (cmd->argv[1].len != w->keys[0].klen ||
             memcmp(cmd->argv[1].ptr, w->keys[0].key, w->keys[0].klen) != 0)
        rcmd_error(rc,
                   "juno: the watched key is not the key of '%s': not run (juno cannot check "
                   "one key and write another atomically)",
                   name);
    else if (w->keys[0].state != W_READ) { /* WATCH could not read it */
        struct buf *b = rconn_out(rc);
        if (b != NULL) rconn_null_array(rc, b, rc->proto);
    } else
        run_checked(rc, d, cmd);
    rwatch_free(rc);
}

/* ---- the command's slot ---- */

void
rwatch_arm(struct rconn *rc, struct rslot *s)
{
    struct rwatch *w = rc->watch;
    if (w == NULL || w->arm_seq == 0) return;
    s->wseq = w->arm_seq;
    s->wver = w->arm_ver;
    w->arm_seq = 0;
}

int
rwatch_running(const struct rconn *rc)
{
    return rc->watch != NULL && rc->watch->arm_seq != 0;
}

int
rwatch_check(struct rconn *rc, struct rslot *s, const struct preq *rq,
             const struct preq_result *res)
{
    int st = res->status, changed;
    if (rq == NULL) return 0; /* could not start: the command's error */
    if (rq->opcode == WIRE_OP_GET) {
        if (st == WIRE_ST_NO_KEY)
            changed = s->wver != 0;
        else if (st == WIRE_ST_OK && res->rec != NULL && res->rec->has)
            changed = res->rec->version != s->wver;
        else
            return 0;
    } else { /* a write on the version read, which was the one watched */
        changed = st == WIRE_ST_VERSION_CONFLICT || st == WIRE_ST_DUP_KEY || st == WIRE_ST_NO_KEY;
    }
    if (!changed) return 0;
    if (s->kind == K_RMW) { /* its state, and its turn on the key */
        rmw_free(rc->w, s->ext);
        s->ext = NULL;
    }
    s->buf.len = 0; /* a reply decided before the write */
    s->use_pieces = 0;
    uint64_t seq = s->wseq;
    s->wseq = 0;
    header(rc, seq, 0);
    rconn_slot_done(rc, s);
    return 1;
}

void
rwatch_slot_done(struct rconn *rc, struct rslot *s)
{
    uint64_t seq = s->wseq;
    s->wseq = 0;
    header(rc, seq, 1);
}
