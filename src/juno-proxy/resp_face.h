/* resp_face.h: the Redis protocol (RESP2, RESP3) face of juno-proxy, internal to
 * resp_face.c (connections: reading, parsing, replies in order, writing),
 * resp_table.c (the command table, dispatch) and the commands, onto the
 * replicated operations of replicate.c: resp_cmd.c (key-value commands),
 * resp_admin.c (connection and server commands), resp_auth.c (--acl),
 * resp_multi.c (MULTI/EXEC), resp_watch.c (WATCH).
 *
 * Every command of a connection gets a slot in a ring, in arrival order; a
 * command answered at once (PING, an error) without anything ahead of it
 * writes its reply straight to the output, otherwise it gets a slot too. A
 * slot's replicated requests answer through the RESP sink with tag
 * (slot sequence << 24 | sub-request); when the slot at the head is done its
 * reply goes to the output, then the next done ones: replies leave strictly
 * in request order, however the stores' answers interleave. A reply finished
 * while its slot is the head is encoded straight into the output. Slots and
 * their buffers are kept and reused: no allocation per command once warm.
 */
#ifndef JUNO_PROXY_RESP_FACE_H
#define JUNO_PROXY_RESP_FACE_H

#include "preq.h"
#include "proxy.h"
#include "buf.h"
#include "conn.h"
#include "resp.h"

/* Arguments of one command (keys of MGET, DEL...; Redis 7 allows 2^31 - 1,
 * within its 1 GB query buffer). Each takes 16 bytes of the argument table
 * while the command runs (16 MiB at most), and an MSET of 524,287 pairs fits.
 * Each key of a multi-key command is a replicated request, about 1.4 KB of
 * the proxy's memory while in flight (an MGET of 2^20 keys at once took 1.5
 * GB): at most RFACE_WINDOW of one command are in flight, the next starting
 * as one is answered (resp_cmd.c). */
#define RFACE_MAX_ARGS         (1u << 20)
#define RFACE_WINDOW           4096
#define RFACE_MAX_VALUE        (32u << 20)  /* --resp-max-value's default and most: a */
                                            /* Prepare carrying it fits a 64 MiB frame */
#define RFACE_DEFAULT_QUERY    (128u << 20) /* --resp-max-query (Redis: 1 GiB) */
#define RFACE_MAX_QUERY        (1u << 30)
#define RFACE_QUERY_SLACK      (64u << 10)  /* --resp-max-query over --resp-max-value */
#define RFACE_DEFAULT_BUFFERED (1ull << 30) /* --resp-max-buffered */
#define RFACE_FREE_DATA        (1u << 20)   /* bulk data a command holds outside it */
#define RFACE_E_OOM            "-OOM command not allowed when used memory > 'maxmemory'."
/* The Redis version the face resembles (HELLO, INFO): 7.0 commands and texts. */
#define RFACE_REDIS_VERSION    "7.0.0"
#define RFACE_E_TOOBIG         "string exceeds maximum allowed size" /* Redis's text */
#define RFACE_SUB_BITS         24                                    /* tag = seq << 24 | sub */

/* What a slot's command is, for its answers. */
enum rkind {
    K_GET = 1,
    K_SET, /* SET without GET, SETNX, SETEX, PSETEX, MSETNX (resp_str.c) */
    K_DEL,
    K_EXISTS,
    K_TTL,
    K_PTTL,
    K_EXPIRE,
    K_PERSIST,
    K_MGET,
    K_MSET,
    K_RMW, /* a read-modify-write or a string read, its state in rslot.ext (resp_rmw.c) */
    K_TYPE,
    K_RENAME, /* RENAME RENAMENX COPY, the state in rslot.ext (resp_rename.c) */
    K_EXPIRETIME,
    K_PEXPIRETIME,
    K_WATCH, /* WATCH's reads, or an EXEC's check of the watched keys (resp_watch.c) */
    K_LCS    /* LCS's two reads, its state in rslot.ext (resp_lcs.c) */
};

/* Where sub-request i's reply sits in a slot's buffer (MGET). */
struct rpiece {
    size_t off, len;
};

struct rslot {
    uint64_t seq;
    uint8_t kind;       /* enum rkind */
    uint8_t done;       /* the reply is complete (in buf, or the pieces) */
    uint8_t stage;      /* EXPIRE, PERSIST: 0 reading, 1 updating, 2 deleting */
    uint8_t tries;      /* EXPIRE, PERSIST: reads after a version conflict */
    uint8_t opt;        /* EXPIRE: NX XX GT LT bits (resp_expire.c) */
    uint8_t use_pieces; /* the reply is an array of pieces[0..nsub) of buf */
    uint8_t proto;      /* the connection's protocol when the command ran (RESP_PROTO2, 3): */
                        /* its reply's, whatever a later HELLO switches to */
    uint32_t nsub, ndone;
    int err;               /* the failure of the lowest failed sub-request (wire status), 0: none */
    uint32_t err_sub;      /* its index */
    int64_t count;         /* DEL, EXISTS */
    int64_t arg;           /* EXPIRE: the expiration, unix ms (<= now: delete) */
    struct buf buf;        /* owned, kept: the reply, or its pieces */
    struct rpiece *pieces; /* owned, kept: pieces_cap entries */
    size_t pieces_cap;
    uint8_t cmd;      /* the command's row in rcmd_table + 1 (0: none): commandstats */
    const char *ns;   /* borrowed: the namespace of its requests, NULL: the connection's */
    uint64_t t0;      /* uv_hrtime() when its bytes arrived: commandstats' usec */
    uint64_t batch;   /* the connection's batch (lib/conn) it arrived in */
    void *ext;        /* owned: K_RMW's state (resp_rmw.c), freed with rmw_free */
    struct rwin *win; /* owned: MGET MSET DEL EXISTS's keys past RFACE_WINDOW (resp_cmd.c) */
    uint64_t wseq;    /* EXEC after WATCH (resp_watch.c): the seq of EXEC's array header, 0: none */
    uint32_t wver;    /* ... the version watched, 0: the key was absent */
};

/* A RESP connection: lib/conn's connection (reading, output, lifetime),
 * with the face's state after it. */
struct rlock;
struct rwin;

struct rconn {
    struct conn c; /* first: the connection (c.data is the worker) */
    struct worker *w;
    int nomem;   /* an encoder ran out of memory: the stream is broken, close */
    int barrier; /* EXPIRE, PERSIST: later commands wait until slot barrier_seq is done */
    uint64_t barrier_seq;
    struct resp_cmd cmd; /* the command being parsed and run */
    struct rslot *slots; /* owned ring: cap (a power of 2) entries */
    uint32_t cap, head, count;
    uint64_t next_seq;  /* the seq of the next slot; the head's is next_seq - count */
    uint64_t out_batch; /* the batch of the last reply put in the output */
    uint64_t id;
    char name[64];             /* CLIENT SETNAME */
    struct ident ident;        /* --acl (resp_auth.c): who the client is */
    uint8_t id_ready;          /* ident set (at the first command) */
    uint8_t denied_logged;     /* a NOPERM was logged for this connection */
    uint8_t skipping;          /* dropping a command with a value over the limit */
    uint8_t skip_done;         /* ... all of it is dropped: reply its error */
    uint8_t proto;             /* RESP_PROTO2 or RESP_PROTO3 (HELLO): of the replies decided now */
    uint8_t hello_proto;       /* the protocol the HELLO being answered asked for; 0: keep */
    uint64_t reserved;         /* of p->resp_buffered, by the command arriving */
    size_t progress;           /* bytes of it buffered when it last moved on */
    char ns[ACL_MAX_NAME + 1]; /* the user's default-ns; "": --resp-namespace */
    uint8_t cur_cmd;           /* the command dispatching: its row + 1 (0: none) */
    uint32_t db;               /* SELECT: 0, or the namespace dbns */
    char dbns[ACL_MAX_NAME + 8];
    char why[96];         /* a protocol error's message */
    struct rtx *tx;       /* owned: MULTI's queue (resp_multi.c), NULL outside one */
    struct rwatch *watch; /* owned: the WATCHed keys (resp_watch.c), NULL: none */
};

/* ---- resp_face.c ---- */

/* The buffer a reply decided now goes to, in order: the output when nothing
 * is ahead of it, else a new slot that is already done. NULL (nomem set)
 * when out of memory. */
struct buf *rconn_out(struct rconn *rc);
/* A new slot for a command answered later (its proto rc's now). NULL (nomem
 * set) when out of memory. */
struct rslot *rconn_slot(struct rconn *rc);
/* Where s's final reply goes: the output when s is the head, else s->buf. */
struct buf *rconn_slot_buf(struct rconn *rc, struct rslot *s);
/* The slot with sequence seq, or NULL when it is gone. */
struct rslot *rconn_slot_find(struct rconn *rc, uint64_t seq);
/* The namespace of rc's commands: its database's. */
const char *rconn_ns(const struct rconn *rc);
/* The namespace of database db of rc's user into out (ACL_MAX_NAME + 8
 * bytes): NS for 0, NS/db for others. 0, or -1 when it is over --max-namespace. */
int rconn_db_ns(const struct rconn *rc, uint32_t db, char *out);
/* Make db rc's database (SELECT; again after AUTH changed the user's
 * namespace). 0, or -1 (nothing changed) when its namespace is too long. */
int rconn_select(struct rconn *rc, uint32_t db);
/* s's reply is complete: send it and the done slots after it if s is the head. */
void rconn_slot_done(struct rconn *rc, struct rslot *s);
/* Start replicated request m (namespace filled in here) for sub-request sub
 * of s. Its answer comes to rcmd_answer, possibly before this returns. */
void rconn_start(struct rconn *rc, struct rslot *s, uint32_t sub, struct wire_msg *m,
                 unsigned flags);
/* The commands after s wait until s is done (its later steps must not be
 * overtaken: EXPIRE's Update by a TTL read). Call before starting s. */
void rconn_barrier(struct rconn *rc, struct rslot *s);
/* QUIT: read no more; close once every reply is written. */
void rconn_quit(struct rconn *rc);
/* The null array of protocol proto (RESP2 *-1, RESP3 _: EXEC aborted by
 * WATCH) into b; rc->nomem set when out of memory. A reply decided now
 * passes rc->proto, a slot's reply s->proto (the protocol its command ran
 * under); a null bulk string: resp_nil(b, proto). */
static inline void
rconn_null_array(struct rconn *rc, struct buf *b, int proto)
{
    if (resp_nil_array(b, proto) != 0) rc->nomem = 1;
}
/* Seconds since the first RESP listener started. */
uint64_t rface_uptime(void);

/* Run a reply encoder call of rc: out of memory sets rc->nomem. */
#define PUT(rc, call)                                                                              \
    do {                                                                                           \
        if ((call) != 0) (rc)->nomem = 1;                                                          \
    } while (0)

/* Counters (struct rface_stats): one writer (the worker), read by INFO on any worker. */
#define RSTAT_ADD(w, field, n)                                                                     \
    __atomic_store_n(&(w)->rstats.field, (w)->rstats.field + (n), __ATOMIC_RELAXED)

/* ---- resp_table.c: the command table and dispatch ---- */

typedef void rcmd_fn(struct rconn *rc, const struct resp_cmd *cmd);

/* A command as COMMAND and COMMAND DOCS describe it. */
struct rcmd_def {
    const char *name; /* lower case */
    int arity;        /* Redis's: n exactly, -n at least n (the name counts) */
    rcmd_fn *run;
    const char *flags; /* space-separated, "write denyoom" */
    int first, last, step;
    const char *acl;   /* ACL categories, "@read @string @fast" */
    const char *group; /* COMMAND DOCS */
    const char *summary, *since, *complexity;
    const char *args; /* argument spec, see resp_admin.c */
};

extern const struct rcmd_def rcmd_table[];
extern const size_t rcmd_count;

/* The definition of the command named (name, len), any case, or NULL. */
const struct rcmd_def *rcmd_find(const uint8_t *name, size_t len);

/* Run the parsed command cmd (argc > 0) of rc (in a MULTI: queue it). */
void rcmd_run(struct rconn *rc, const struct resp_cmd *cmd);
/* 0 when cmd may run as d (known, Redis's arity, the --acl gate), else -1
 * with the error replied (unknown command, arity, NOAUTH, NOPERM). */
int rcmd_check(struct rconn *rc, const struct rcmd_def *d, const struct resp_cmd *cmd);

/* ---- resp_multi.c: MULTI EXEC DISCARD ---- */

struct rtx;
rcmd_fn rmulti_multi, rmulti_exec, rmulti_discard;
/* In a MULTI: 1 when cmd (as d, NULL if unknown) was queued or refused (the
 * reply given), 0 when it runs now (EXEC, DISCARD, MULTI, WATCH, QUIT). */
int rmulti_queue(struct rconn *rc, const struct rcmd_def *d, const struct resp_cmd *cmd);
/* Drop rc's transaction and watched keys (a closed connection). */
void rmulti_free(struct rconn *rc);

/* ---- resp_watch.c: WATCH UNWATCH, and EXEC's check of the watched keys ---- */

rcmd_fn rwatch_watch, rwatch_unwatch;
/* Forget rc's watched keys (UNWATCH, EXEC, DISCARD, a closed connection). */
void rwatch_free(struct rconn *rc);
/* 1 when rc has watched keys: EXEC calls rwatch_exec. */
int rwatch_any(const struct rconn *rc);
/* EXEC with watched keys of a transaction of cmd (NULL: none): runs it on
 * the watched version, or answers the null array, or refuses it (-ERR juno:
 * ... not run) where juno cannot make it atomic. Forgets the keys. */
void rwatch_exec(struct rconn *rc, const struct resp_cmd *cmd);
/* EXEC after WATCH runs its command: give the command's slot s the watched
 * version to check (the first slot made while EXEC runs it; rcmd_slot). */
void rwatch_arm(struct rconn *rc, struct rslot *s);
/* 1 while EXEC after WATCH runs its command: SET writes on the version read. */
int rwatch_running(const struct rconn *rc);
/* s (s->wseq set) got the answer res of rq: 1 when it shows the watched key
 * changed (a Get reading another version, a conditional write refused), s
 * then finished and EXEC answering the null array; else 0, go on. */
int rwatch_check(struct rconn *rc, struct rslot *s, const struct preq *rq,
                 const struct preq_result *res);
/* s (s->wseq set) is done: EXEC's header (*1) goes out before its reply. */
void rwatch_slot_done(struct rconn *rc, struct rslot *s);
/* The answer res to sub-request sub of a K_WATCH slot s. */
void rwatch_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq_result *res);

/* ---- resp_cmd.c: the key-value commands ---- */

rcmd_fn rcmd_get, rcmd_del, rcmd_exists, rcmd_ttl, rcmd_pttl, rcmd_mget, rcmd_mset, rcmd_type;

/* ---- resp_keys.c: the keyspace commands (a walk over the namespace, kwalk.h) ---- */

rcmd_fn rkeys_scan, rkeys_keys, rkeys_dbsize, rkeys_randomkey, rkeys_flushdb, rkeys_flushall;
/* The count of rkeys_count: status 0 with the live keys of the namespace and
 * those of them that expire, or a wire status; b is where the reply goes, NULL
 * when the connection is gone (free arg only). */
typedef void rkeys_count_fn(struct rconn *rc, struct buf *b, int status, uint64_t keys,
                            uint64_t ttls, void *arg);
/* Count rc's namespace as DBSIZE does, in a slot of rc: fn is called once,
 * later, or from inside this call when the walk cannot start. */
void rkeys_count(struct rconn *rc, rkeys_count_fn *fn, void *arg);

/* ---- resp_info.c ---- */

/* A printf-formatted line of INFO's text onto t; 0, or -1 out of memory. */
int rinfo_addf(struct buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- resp_stats.c: INFO's commandstats and errorstats ---- */

/* Command cmd (row + 1) of rc ran, or was rejected before running. */
void rstat_run(struct rconn *rc, uint8_t cmd, int rejected);
/* An error reply msg ("-CODE ..." or an ERR text) of slot s's command (NULL:
 * the command dispatching, if any). */
void rstat_error(struct rconn *rc, const struct rslot *s, const char *msg);
/* Slot s's reply is ready: its command's time. */
void rstat_slot_done(struct rconn *rc, const struct rslot *s);
/* The sections' lines into t; 0, or -1 when out of memory. */
int rstat_commandstats(struct proxy *p, struct buf *t);
int rstat_errorstats(struct proxy *p, struct buf *t);

/* ---- resp_kscount.c: the keyspace counts INFO shows ---- */

struct kscount {
    int have; /* 0: no count of the namespace yet */
    uint64_t keys, ttls;
};
enum { KS_USE, KS_COUNT };
/* For INFO on namespace ns: KS_USE to show *c (a recent count, or an older
 * one while another connection counts), or KS_COUNT: the caller counts now
 * (*c holds the last count, if any) and then calls kscount_done. */
int kscount_claim(const char *ns, struct kscount *c);
/* The count a KS_COUNT claim took (ok 0: it failed), recorded; *c is what to
 * show: it, or the last one when it failed (have 0: none). */
void kscount_done(const char *ns, int ok, uint64_t keys, uint64_t ttls, struct kscount *c);

/* ---- resp_rename.c: RENAME, RENAMENX, COPY ---- */

rcmd_fn rname_rename, rname_renamenx, rname_copy, rname_move;
/* The answer res to a K_RENAME slot s. */
void rname_answer(struct rconn *rc, struct rslot *s, const struct preq_result *res);
/* Free a K_RENAME slot's ext (NULL: nothing). */
void rname_free(void *ext);

#define RERR_NOPERM_K                                                                              \
    "-NOPERM this user has no permissions to access one of the keys used as arguments"
#define RERR_SYNTAX  "syntax error"
#define RERR_NOT_INT "value is not an integer or out of range"

/* Reply an error (printf-style message, "-CODE ..." for a code other than ERR). */
void rcmd_error(struct rconn *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reply the RESP text (a whole reply: "+OK\r\n") now, in order. */
void rcmd_reply(struct rconn *rc, const char *text);
/* "wrong number of arguments for 'NAME' command" */
void rcmd_arity_error(struct rconn *rc, const char *name);
/* Redis's error for juno status st (TRYAGAIN, BUSY, ERR juno: ...), into b:
 * the reply of slot s (NULL: of the command dispatching). */
void rcmd_status_error(struct rconn *rc, const struct rslot *s, struct buf *b, int st);
/* 1 if key k is 1 to --max-key bytes, else 0 with the error replied. */
int rcmd_key_ok(struct rconn *rc, const struct resp_arg *k);
/* A RESP limit of the configuration (&w->p->cfg.resp_max_value...), which
 * CONFIG SET may change from another thread. */
static inline uint64_t
rface_limit(const uint64_t *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

/* 1 if value v is at most --resp-max-value bytes, else 0 with the error replied. */
int rcmd_value_ok(struct rconn *rc, const struct resp_arg *v);
/* A slot for a command of kind answered by nsub requests; NULL (nomem set)
 * when out of memory. */
struct rslot *rcmd_slot(struct rconn *rc, enum rkind kind, uint32_t nsub);
/* Start request op on key for sub-request sub of s: val (NULL: none) of
 * vtype, the expiration exp_ms in unix ms (0: none; PREQ_EXPIRY_MS), version (an Update's or a
 * conditional Destroy's condition, 0: none), preq_start flags. Everything is copied; the answer may
 * come before this returns, and may finish s. */
void rcmd_start(struct rconn *rc, struct rslot *s, uint32_t sub, uint8_t op, const uint8_t *key,
                size_t klen, const uint8_t *val, size_t vlen, uint8_t vtype, uint64_t exp_ms,
                uint32_t version, unsigned flags);
/* Free a slot's window (NULL: none). */
void rwin_free(struct rwin *w);
/* Finish s with integer v / with the error of status st. */
void rcmd_finish_int(struct rconn *rc, struct rslot *s, int64_t v);
void rcmd_finish_error(struct rconn *rc, struct rslot *s, int st);

/* The answer res to sub-request sub of slot s; rq is NULL when the request
 * could not start. */
void rcmd_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq *rq,
                 const struct preq_result *res);

/* ---- resp_expire.c: EXPIRE and the other expiration commands ---- */

rcmd_fn rexp_expire, rexp_pexpire, rexp_expireat, rexp_pexpireat, rexp_persist, rexp_expiretime,
    rexp_pexpiretime, rexp_time;
/* The answer res to a K_EXPIRE or K_PERSIST slot s; rq is NULL when the
 * request could not start. */
void rexp_answer(struct rconn *rc, struct rslot *s, const struct preq *rq,
                 const struct preq_result *res);
/* What TTL, PTTL, EXPIRETIME, PEXPIRETIME (kind) answer for the record rec
 * read: -1 when it does not expire (the caller answers -2 for no key). */
int64_t rexp_reply_of(int kind, const struct rmeta *rec);
/* The wall clock, unix ms: the command time expirations count from. */
uint64_t rexp_now_ms(void);
/* 1 if the expiration when (unix ms) is within --resp-max-ttl of now (or it
 * is 0: no limit), else 0 with the error replied for command name. */
int rexp_limit_ok(struct rconn *rc, const char *name, int64_t when, int64_t now);

/* ---- resp_str.c: SET and the other string commands ---- */

rcmd_fn rstr_set, rstr_setnx, rstr_setex, rstr_psetex, rstr_msetnx, rstr_getset, rstr_getdel,
    rstr_getex, rstr_strlen, rstr_getrange, rstr_incr, rstr_decr, rstr_incrby, rstr_decrby,
    rstr_incrbyfloat, rstr_append, rstr_setrange, rstr_getbit, rstr_setbit, rstr_bitcount;
/* The answer res to a K_SET slot s (a blind write). */
void rstr_answer(struct rconn *rc, struct rslot *s, const struct preq_result *res);

/* ---- resp_lcs.c: LCS ---- */

rcmd_fn rstr_lcs;
/* The answer res to sub-request sub of a K_LCS slot s. */
void rlcs_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq_result *res);
/* Free a K_LCS slot's ext (NULL: nothing). */
void rlcs_free(void *ext);

/* ---- resp_rmw.c: read-modify-write ---- */

/* The answer res to a K_RMW slot s; rq is NULL when the request could not start. */
void rmw_answer(struct rconn *rc, struct rslot *s, const struct preq *rq,
                const struct preq_result *res);
/* It is s's turn on lock l (resp_lock.c): s starts. */
void rmw_resume(struct rconn *rc, struct rslot *s, struct rlock *l);
/* Free a slot's ext (NULL: nothing), giving on the key's turn it holds. */
void rmw_free(struct worker *w, void *ext);

/* ---- resp_lock.c: one read-modify-write per key at a time on a worker ---- */

/* Take the key (klen bytes, in rc's namespace) for slot s: the lock, which s
 * holds until rlock_give; or NULL, with *queued 1 when s waits for its turn
 * (rmw_resume starts it then), else out of memory (rc->nomem set). */
struct rlock *rlock_take(struct rconn *rc, struct rslot *s, const uint8_t *key, size_t klen,
                         int *queued);
/* l's holder is done: the next waiting command starts, or l goes. */
void rlock_give(struct worker *w, struct rlock *l);

/* ---- resp_admin.c: connection and server commands ---- */

rcmd_fn rcmd_ping, rcmd_echo, rcmd_quit, rcmd_select, rcmd_hello, rcmd_client, rcmd_config,
    rcmd_info, rcmd_command, rcmd_function;
/* HELLO's reply (the server's description) into b. */
void rcmd_hello_reply(struct rconn *rc, struct buf *b);

/* ---- resp_auth.c: --acl ---- */

rcmd_fn rcmd_auth;
/* Before command d runs: 0 to run it, or -1 when it was refused (NOAUTH,
 * NOPERM: replied). */
int rauth_gate(struct rconn *rc, const struct rcmd_def *d);
/* 1 when rc's user may read (write 0) or write namespace ns (always
 * without --acl), else 0. */
int rauth_may(struct rconn *rc, const char *ns, int write);
/* 1 under --acl while the connection has no user (no AUTH yet, no known
 * client certificate), else 0. */
int rauth_unauthenticated(struct rconn *rc);
/* HELLO's AUTH option: 1 when the check started (the reply comes later,
 * HELLO's on success), 0 without --acl (any password is fine). */
int rauth_hello(struct rconn *rc, const struct resp_arg *user, const struct resp_arg *pw,
                const char *setname);

#endif
