/* resp_keys.c: the RESP face's keyspace commands, on walks over the
 * connection's namespace (kwalk.h):
 *
 *   SCAN cursor [MATCH p] [COUNT n] [TYPE t]   one ordered walk from the
 *           cursor until n keys (COUNT is a hint: default 10; a step asks
 *           each store for at least 128 and all its keys are replied) or the end;
 *           the cursor is shard << 48 | position, "0" at both ends
 *   KEYS p  every shard, 8 at a time: the keys matching p
 *   DBSIZE  every shard, 8 at a time: the live keys counted
 *   RANDOMKEY  a walk from a random (shard, position), wrapping around,
 *           until a key is found; nil when there is none
 *   FLUSHDB, FLUSHALL [ASYNC|SYNC]  every shard, 8 at a time: a replicated
 *           Destroy of each live key (tombstones where a replica did not
 *           confirm, as DEL), a step's Destroys done before its lane goes
 *           on; +OK once all are; FLUSHDB flushes the connection's
 *           database (its namespace), FLUSHALL every database of its user
 *           that it may write (under --acl), one after the other
 *   rkeys_count (INFO's keyspace section)  as DBSIZE, also counting the keys
 *           that expire; its caller writes the reply
 *
 * Only the namespace of the connection is walked (--resp-namespace, or the
 * ACL user's default-ns); with --acl the user needs read access to it.
 */
#include "kwalk.h"
#include "resp_face.h"

#include "error.h"
#include "keyscan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEYS_LANES    8
#define KEYS_LIMIT    1024
#define SCAN_DEFAULT  10
#define SCAN_MIN_STEP 128
#define DBSIZE_LIMIT  KEYSCAN_MAX_LIMIT

enum { R_SCAN = 1, R_KEYS, R_DBSIZE, R_RANDOMKEY, R_FLUSH, R_COUNT };

#define FLUSH_LIMIT 1024 /* keys per step: a lane's Destroys in flight at most */

struct rkeys {
    struct rconn *rc; /* ref (conn_ref) until the walk ends */
    uint64_t seq;     /* the command's slot */
    int what;
    uint8_t *pattern; /* owned; NULL: every key */
    size_t plen;
    int no_type; /* TYPE other than string: nothing matches */
    uint64_t want, n;
    struct buf keys; /* the matching keys, as RESP bulk strings */
    /* FLUSHDB */
    struct kwalk *k;  /* borrowed: the walk, while it runs */
    int refs;         /* the walk + each Destroy in flight */
    uint64_t pending; /* Destroys in flight */
    int in_keys;      /* inside on_keys: no kwalk_resume from there */
    int walked, walk_status, del_status;
    char ns[ACL_MAX_NAME + 8]; /* the namespace walked (FLUSHALL: of db db_next - 1) */
    uint32_t db_next, db_end;  /* FLUSHALL: the databases still to flush */
    /* rkeys_count */
    uint64_t ttls;
    rkeys_count_fn *count_fn;
    void *count_arg;
};

static void
rkeys_free(struct rkeys *q)
{
    if (--q->refs > 0) return;
    conn_unref(&q->rc->c);
    free(q->pattern);
    buf_free(&q->keys);
    free(q);
}

/* ---- FLUSHDB: a replicated Destroy of every live key, a step at a time ---- */

static void flush_reply(struct rkeys *q);

static void
flush_answer(void *obj, uintptr_t tag, const struct preq *rq, const struct preq_result *res)
{
    (void)tag, (void)rq;
    struct rkeys *q = obj;
    q->pending--;
    if (res->status != WIRE_ST_OK && q->del_status == 0) q->del_status = res->status;
    if (res->status == WIRE_ST_OK && res->existed) q->n++;
    if (q->pending > 0 || q->in_keys) return;
    if (q->walked)
        flush_reply(q);
    else if (q->k != NULL)
        kwalk_resume(q->k);
}

static void
flush_ref(void *obj)
{
    ((struct rkeys *)obj)->refs++;
}

static void
flush_unref(void *obj)
{
    rkeys_free(obj);
}

static const struct psink_ops flush_sink = {flush_answer, flush_ref, flush_unref};

static int
flush_keys(struct rkeys *q, struct kwalk *k, const uint8_t *const *keys, const size_t *lens,
           size_t n)
{
    struct rconn *rc = q->rc;
    q->k = k;
    q->in_keys = 1;
    for (size_t i = 0; i < n && q->del_status == 0; i++) {
        struct wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type_flag = WIRE_TF_REQUEST;
        m.opcode = WIRE_OP_DESTROY;
        m.ns.ptr = (const uint8_t *)q->ns;
        m.ns.len = strlen(q->ns);
        m.key.ptr = keys[i];
        m.key.len = lens[i];
        struct psink sink = {&flush_sink, q, 0};
        q->pending++;
        int r = preq_start(rc->w, &sink, &m, PREQ_RETRY_LOCKED | PREQ_KEY_QUEUE, uv_hrtime());
        if (r != 0) {
            q->pending--;
            q->del_status = r == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER;
        }
    }
    q->in_keys = 0;
    if (q->del_status != 0) return 1;
    return q->pending > 0 ? KWALK_PAUSE : 0;
}

static kwalk_keys_fn on_keys;
static kwalk_end_fn on_end;

/* FLUSHALL: the next database from q->db_next that rc may write, its
 * namespace in ns; 0 when there is none. */
static int
next_db(struct rconn *rc, struct rkeys *q, char *ns)
{
    while (q->db_next < q->db_end)
        if (rconn_db_ns(rc, q->db_next++, ns) == 0 && rauth_may(rc, ns, 1)) return 1;
    return 0;
}

/* FLUSHALL: start the walk of the next database; 0, or a wire status. */
static int
flush_next_db(struct rkeys *q)
{
    struct rconn *rc = q->rc;
    q->walked = 0;
    struct kwalk_opts o = {.ns = q->ns,
                           .limit = FLUSH_LIMIT,
                           .lanes = KEYS_LANES,
                           .keys = on_keys,
                           .end = on_end,
                           .arg = q};
    int r = kwalk_start(rc->w, &o);
    if (r == 0) return 0;
    return r == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER;
}

static void
flush_reply(struct rkeys *q)
{
    struct rconn *rc = q->rc;
    int st = q->walk_status ? q->walk_status : q->del_status;
    if (st == 0 && !rc->c.closing && next_db(rc, q, q->ns)) {
        if ((st = flush_next_db(q)) == 0) return; /* the walk holds q on */
        q->walk_status = st;
    }
    struct rslot *s = rc->c.closing ? NULL : rconn_slot_find(rc, q->seq);
    if (s != NULL) {
        struct buf *b = rconn_slot_buf(rc, s);
        if (st != 0)
            rcmd_status_error(rc, s, b, st);
        else
            PUT(rc, resp_raw(b, "+OK\r\n", 5));
        rconn_slot_done(rc, s);
        if (rc->nomem && !rc->c.closing) conn_close(&rc->c);
    }
    rkeys_free(q);
}

static int
on_keys(struct kwalk *k, void *arg, const uint8_t *const *keys, const size_t *lens, size_t n)
{
    (void)k;
    struct rkeys *q = arg;
    if (q->rc->c.closing) return 1;
    if (q->what == R_FLUSH) return flush_keys(q, k, keys, lens, n);
    if (q->what == R_COUNT) {
        q->n += n;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (q->no_type || (q->pattern && !keyscan_glob(q->pattern, q->plen, keys[i], lens[i])))
            continue;
        q->n++;
        if (q->what != R_DBSIZE && resp_bulk(&q->keys, keys[i], lens[i]) != 0) return 1;
        if (q->what == R_RANDOMKEY) return 1;
    }
    return q->what == R_SCAN && q->n >= q->want;
}

static void
on_end(struct kwalk *k, void *arg, int status, uint32_t shard, uint64_t pos)
{
    struct rkeys *q = arg;
    struct rconn *rc = q->rc;
    if (q->what == R_FLUSH) {
        q->k = NULL;
        q->walked = 1;
        q->walk_status = status;
        if (q->pending == 0) flush_reply(q);
        return;
    }
    struct rslot *s = rc->c.closing ? NULL : rconn_slot_find(rc, q->seq);
    struct buf *b = s ? rconn_slot_buf(rc, s) : NULL;
    if (q->what == R_COUNT) q->count_fn(rc, b, status, q->n, q->ttls, q->count_arg);
    if (s == NULL) {
        rkeys_free(q);
        return;
    }
    if (q->what == R_COUNT) {
        /* count_fn wrote the reply */
    } else if (status != 0) {
        rcmd_status_error(rc, s, b, status);
    } else if (q->what == R_DBSIZE) {
        PUT(rc, resp_integer(b, (int64_t)q->n));
    } else if (q->what == R_RANDOMKEY) {
        PUT(rc, q->n ? resp_raw(b, q->keys.data, q->keys.len) : resp_nil(b, s->proto));
    } else {
        if (q->what == R_SCAN) {
            uint64_t cur = shard >= kwalk_nshards(rc->w) ? 0 : (uint64_t)shard << 48 | pos;
            char c[24];
            int cl = snprintf(c, sizeof(c), "%llu", (unsigned long long)cur);
            PUT(rc, resp_array_header(b, 2));
            PUT(rc, resp_bulk(b, c, (size_t)cl));
        }
        PUT(rc, resp_array_header(b, q->n));
        PUT(rc, resp_raw(b, q->keys.data, q->keys.len));
    }
    (void)k;
    rconn_slot_done(rc, s);
    if (rc->nomem && !rc->c.closing) conn_close(&rc->c);
    rkeys_free(q);
}

/* Start the walk of q with o (its callbacks set here); replies on failure. */
static void
rkeys_start(struct rconn *rc, struct rkeys *q, struct kwalk_opts *o)
{
    struct rslot *s = rconn_slot(rc);
    if (s == NULL) {
        if (q->what == R_COUNT) q->count_fn(rc, NULL, WIRE_ST_OUT_OF_MEM, 0, 0, q->count_arg);
        free(q->pattern);
        free(q);
        return;
    }
    q->rc = rc;
    q->seq = s->seq;
    q->refs = 1;
    conn_ref(&rc->c);
    if (q->ns[0] == '\0') snprintf(q->ns, sizeof(q->ns), "%s", rconn_ns(rc));
    o->ns = q->ns;
    o->keys = on_keys;
    o->end = on_end;
    o->arg = q;
    int r = kwalk_start(rc->w, o);
    if (r != 0) {
        int st = r == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER;
        if (q->what == R_COUNT)
            q->count_fn(rc, rconn_slot_buf(rc, s), st, 0, 0, q->count_arg);
        else
            rcmd_status_error(rc, s, rconn_slot_buf(rc, s), st);
        rconn_slot_done(rc, s);
        rkeys_free(q);
    }
}

static struct rkeys *
rkeys_new(struct rconn *rc, int what)
{
    struct rkeys *q = calloc(1, sizeof(*q));
    if (q == NULL) rc->nomem = 1;
    if (q != NULL) q->what = what;
    return q;
}

static int
set_pattern(struct rconn *rc, struct rkeys *q, const struct resp_arg *a)
{
    free(q->pattern);
    q->pattern = NULL;
    if (a->len == 1 && a->ptr[0] == '*') return 0; /* every key: no matching */
    if ((q->pattern = malloc(a->len ? a->len : 1)) == NULL) {
        rc->nomem = 1;
        return -1;
    }
    memcpy(q->pattern, a->ptr, a->len);
    q->plen = a->len;
    return 0;
}

/* The records a SCAN step asks each store for: COUNT, but at least
 * SCAN_MIN_STEP. A store reads the shard's whole namespace range for every
 * step (positions are not its key order), so tiny steps would read a big
 * shard over and over; COUNT is a hint, and a reply may hold more keys. */
static uint16_t
scan_limit(uint64_t want)
{
    if (want < SCAN_MIN_STEP) return SCAN_MIN_STEP;
    return (uint16_t)(want < KEYSCAN_MAX_LIMIT ? want : KEYSCAN_MAX_LIMIT);
}

/* Redis's parseScanCursorOrReply: strtoul, no leading space, nothing after. */
static int
parse_cursor(const struct resp_arg *a, uint64_t *out)
{
    char tmp[32];
    if (a->len >= sizeof(tmp)) return -1;
    memcpy(tmp, a->ptr, a->len);
    tmp[a->len] = '\0';
    if (strlen(tmp) != a->len) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    if ((a->len > 0 && strchr(" \t\n\v\f\r", tmp[0]) != NULL) || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

void
rkeys_scan(struct rconn *rc, const struct resp_cmd *cmd)
{
    uint64_t cur;
    if (parse_cursor(&cmd->argv[1], &cur) != 0) {
        rcmd_error(rc, "invalid cursor");
        return;
    }
    struct rkeys *q = rkeys_new(rc, R_SCAN);
    if (q == NULL) return;
    q->want = SCAN_DEFAULT;
    for (size_t i = 2; i < cmd->argc; i += 2) {
        int64_t n;
        if (i + 1 >= cmd->argc) goto syntax;
        if (resp_arg_eq(cmd, i, "count")) {
            if (resp_arg_i64(cmd, i + 1, &n) != 0) {
                rcmd_error(rc, RERR_NOT_INT);
                goto fail;
            }
            if (n < 1) goto syntax;
            q->want = (uint64_t)n;
        } else if (resp_arg_eq(cmd, i, "match")) {
            if (set_pattern(rc, q, &cmd->argv[i + 1]) != 0) goto fail;
        } else if (resp_arg_eq(cmd, i, "type")) {
            const struct resp_arg *t = &cmd->argv[i + 1];
            q->no_type = !(t->len == 6 && strncasecmp((const char *)t->ptr, "string", 6) == 0);
        } else {
            goto syntax;
        }
    }
    uint32_t ns = kwalk_nshards(rc->w);
    if (ns > 0 && (cur >> 48) >= ns) { /* past the last shard: the end */
        struct buf *b = rconn_out(rc);
        if (b != NULL) PUT(rc, resp_raw(b, "*2\r\n$1\r\n0\r\n*0\r\n", 15));
        goto fail;
    }
    struct kwalk_opts o = {.shard = (uint32_t)(cur >> 48),
                           .pos = cur & (KEYSCAN_POS_END - 1),
                           .limit = scan_limit(q->want),
                           .lanes = 1};
    rkeys_start(rc, q, &o);
    return;
syntax:
    rcmd_error(rc, RERR_SYNTAX);
fail:
    free(q->pattern);
    free(q);
}

void
rkeys_keys(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rkeys *q = rkeys_new(rc, R_KEYS);
    if (q == NULL || set_pattern(rc, q, &cmd->argv[1]) != 0) {
        free(q);
        return;
    }
    struct kwalk_opts o = {.limit = KEYS_LIMIT, .lanes = KEYS_LANES};
    rkeys_start(rc, q, &o);
}

void
rkeys_dbsize(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    struct rkeys *q = rkeys_new(rc, R_DBSIZE);
    if (q == NULL) return;
    struct kwalk_opts o = {.limit = DBSIZE_LIMIT, .lanes = KEYS_LANES};
    rkeys_start(rc, q, &o);
}

void
rkeys_count(struct rconn *rc, rkeys_count_fn *fn, void *arg)
{
    struct rkeys *q = rkeys_new(rc, R_COUNT);
    if (q == NULL) {
        fn(rc, NULL, WIRE_ST_OUT_OF_MEM, 0, 0, arg);
        return;
    }
    q->count_fn = fn;
    q->count_arg = arg;
    struct kwalk_opts o = {.limit = DBSIZE_LIMIT, .lanes = KEYS_LANES, .ttls = &q->ttls};
    rkeys_start(rc, q, &o);
}

void
rkeys_randomkey(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    struct rkeys *q = rkeys_new(rc, R_RANDOMKEY);
    if (q == NULL) return;
    uint32_t ns = kwalk_nshards(rc->w);
    uint8_t rnd[16];
    worker_request_id(rc->w, rnd); /* random bytes */
    uint64_t r1, r2;
    memcpy(&r1, rnd, 8);
    memcpy(&r2, rnd + 8, 8);
    struct kwalk_opts o = {.shard = ns ? (uint32_t)(r1 % ns) : 0,
                           .pos = r2 & (KEYSCAN_POS_END - 1),
                           .limit = 1,
                           .lanes = 1,
                           .wrap = 1};
    rkeys_start(rc, q, &o);
}

/* FLUSHDB [ASYNC|SYNC], FLUSHALL [ASYNC|SYNC] (all: every database of the
 * connection's user that it may write; rauth_gate checked the current
 * one), answered once every key is deleted. */
static void
flush(struct rconn *rc, const struct resp_cmd *cmd, int all)
{
    if (cmd->argc > 2 ||
        (cmd->argc == 2 && !resp_arg_eq(cmd, 1, "async") && !resp_arg_eq(cmd, 1, "sync"))) {
        rcmd_error(rc, RERR_SYNTAX);
        return;
    }
    struct rkeys *q = rkeys_new(rc, R_FLUSH);
    if (q == NULL) return;
    if (all) {
        q->db_end = rc->w->p->cfg.resp_databases;
        if (!next_db(rc, q, q->ns)) snprintf(q->ns, sizeof(q->ns), "%s", rconn_ns(rc));
    }
    struct kwalk_opts o = {.limit = FLUSH_LIMIT, .lanes = KEYS_LANES};
    rkeys_start(rc, q, &o);
}

void
rkeys_flushdb(struct rconn *rc, const struct resp_cmd *cmd)
{
    flush(rc, cmd, 0);
}

void
rkeys_flushall(struct rconn *rc, const struct resp_cmd *cmd)
{
    flush(rc, cmd, 1);
}
