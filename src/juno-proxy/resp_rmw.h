/* resp_rmw.h: the RESP face's read-modify-write commands, internal to
 * resp_str.c (the commands: arguments, options) and resp_rmw.c (the engine:
 * a Get, then the write conditional on what it read, again until it holds;
 * see resp_rmw.c).
 */
#ifndef JUNO_PROXY_RESP_RMW_H
#define JUNO_PROXY_RESP_RMW_H

#include "resp_face.h"

/* The command. */
enum rmw_op {
    RMW_INCR = 1, /* INCR INCRBY DECR DECRBY: n the increment */
    RMW_INCRF,    /* INCRBYFLOAT: f the increment */
    RMW_APPEND,   /* the value argument at the end */
    RMW_SETRANGE, /* the value argument at offset n */
    RMW_GETSET,   /* GETSET, SET ... GET: the value argument, cond */
    RMW_GETDEL,
    RMW_GETEX, /* ttlm */
    RMW_STRLEN,
    RMW_GETRANGE, /* bytes n to m */
    RMW_GETBIT,   /* bit n */
    RMW_SETBIT,   /* bit n to m (0 or 1) */
    RMW_BITCOUNT, /* bits set in the range n to m, as opt says */
    RMW_SET,      /* SET without GET in an EXEC after WATCH: as RMW_GETSET, OK / nil */
    RMW_DEL       /* DEL, UNLINK of one key in an EXEC after WATCH: as RMW_GETDEL, 1 / 0 */
};

/* BITCOUNT's opt: the whole value, a range of bytes or of bits; or, from
 * BITCOUNT_SYNTAX on, the error to answer if the key exists (Redis 7.0
 * answers 0 for an absent key whatever the arguments). */
enum { BITCOUNT_ALL = 0, BITCOUNT_BYTES, BITCOUNT_BITS, BITCOUNT_SYNTAX, BITCOUNT_NOT_INT };

/* What the write does to the record's expiration. */
enum rmw_ttl {
    RMW_TTL_KEEP = 0, /* the record's (an Update without TTL) */
    RMW_TTL_RESET,    /* --default-ttl or none, as SET (PREQ_TTL_RESET) */
    RMW_TTL_SET,      /* exp_ms (unix ms) */
    RMW_TTL_PERSIST,  /* none (GETEX PERSIST): no write when the record has none */
    RMW_TTL_GONE,     /* GETEX at an EXAT/PXAT passed: delete the record */
    RMW_TTL_NONE      /* GETEX without option: no write */
};

#define RMW_IF_ABSENT  1 /* RMW_GETSET: write only when the key is absent (NX) */
#define RMW_IF_PRESENT 2 /* ... only when it exists (XX) */

/* A command's state: rslot.ext of its K_RMW slot, one block. */
struct rmw {
    uint8_t op;      /* enum rmw_op */
    uint8_t stage;   /* 0 reading, 1 writing, 2 deleting */
    uint8_t cond;    /* RMW_IF_ABSENT, RMW_IF_PRESENT or 0 */
    uint8_t ttlm;    /* enum rmw_ttl */
    uint8_t opt;     /* BITCOUNT_* */
    uint64_t exp_ms; /* RMW_TTL_SET: the expiration, unix ms */
    uint64_t t0;     /* monotonic ns at the start: no read again past --deadline */
    int64_t n, m;
    long double f;
    struct rlock *held; /* the key's turn on the worker (resp_lock.c), or NULL */
    size_t klen, vlen;
    uint8_t data[]; /* the key, then the value argument */
};

/* A state for op on key argv[1] (checked here) with the value argument v
 * (NULL: none); NULL after an error reply. */
struct rmw *rmw_new(struct rconn *rc, const struct resp_cmd *cmd, enum rmw_op op,
                    const struct resp_arg *v);
/* Run x (owned by the call): a slot, the key's turn, the Get. */
void rmw_start(struct rconn *rc, struct rmw *x);

#endif
