/* preq.h: a client request being replicated (internal to replicate.c and
 * twophase.c).
 *
 * A preq lives from the client's request until every storage request it sent
 * has been answered or has failed: the client may already have its reply
 * while Commits, Aborts, Repairs and read repairs finish in the background.
 * Each replica (one per zone) has at most one storage request in flight, so
 * the ureq is embedded in it.
 */
#ifndef JUNO_PROXY_PREQ_H
#define JUNO_PROXY_PREQ_H

#include "proxy.h"

/* What a replica answered to the Prepare or Read. */
enum rclass {
    C_NONE = 0, /* not answered yet (or not asked) */
    C_OK,       /* prepared (lock held) / record read */
    C_AF,       /* AlreadyFulfilled: this request id already wrote the record */
    C_DUP,      /* DupKey (PrepareCreate) */
    C_NOKEY,    /* NoKey */
    C_VC,       /* VersionConflict (conditional PrepareUpdate) */
    C_LOCKED,   /* RecordLocked */
    C_MARKED,   /* MarkedDelete (Read of a tombstone) */
    C_FAIL      /* down, timed out, connection lost, any other status */
};

/* Second-phase state of a replica. */
enum wstate { WS_NONE = 0, WS_SENT, WS_OK, WS_FAIL };

/* A record's metadata as a store reported it. */
struct rmeta {
    int has;  /* a record (live or tombstone) was reported */
    int tomb; /* it is a tombstone */
    uint32_t version, ctime;
    uint64_t ems; /* expiration, unix ms (0: never) */
    uint64_t lmt;
    uint8_t origin[16];
    int has_origin;
};

struct preq;

struct replica {
    struct ureq u; /* first member: the ureq callback finds the replica from it */
    struct preq *rq;
    struct upstream *up; /* borrowed: rq->rt holds it */
    int busy;            /* u in flight */
    uint8_t op;          /* opcode of the last storage request sent */
    uint8_t cls;         /* enum rclass */
    uint8_t read_tried;  /* Get: a Read was sent to it, or could not be */
    uint8_t ws;          /* enum wstate */
    struct rmeta m;
    uint8_t *val; /* owned: the value read (Get) or reported (VersionConflict) */
    size_t vlen;
    uint8_t vtype;
};

/* D_RETRY: aborted on RecordLocked, to run again (PREQ_RETRY_LOCKED) */
enum decision { D_NONE = 0, D_COMMIT, D_ABORT, D_FULFILLED, D_MARK, D_READ, D_RETRY };

struct preq {
    struct worker *w;
    struct psink sink; /* sink.obj: ref (sink.ops->ref) until it has its reply, then NULL */
    struct route *rt;  /* ref */
    uint64_t t0;       /* uv_hrtime() at arrival */
    uint64_t slack_ns; /* more time than --deadline: PROXY_SIZE_SLACK_MS of its value */
    uint32_t opaque;
    uint8_t opcode; /* the client's */
    uint8_t wop;    /* the write the two-phase machine runs (Create, Update, Set) */
    int extending;  /* a Get with a TTL running its TTL extension as an Update */
    int one_phase;  /* the write went out as one flagged Prepare (a single replica) */
    int apply;      /* a write replicated from another site (xdc_apply.c): rq->out */
    struct rmeta x; /* extending: the record read */
    uint8_t *xval;  /* owned: extending: its value */
    uint16_t shard;
    uint8_t rid[16];
    uint64_t exp_ms;       /* the expiration to write, unix ms (0: none given) */
    uint32_t cond_version; /* Update, Destroy (PREQ_IF_VERSION): 0 = unconditional */
    int ttl_reset;         /* PREQ_TTL_RESET */
    int retry_locked;      /* PREQ_RETRY_LOCKED */
    int retries;           /* runs after RecordLocked so far */
    int retry_queued;      /* on w->retry_head */
    uint64_t retry_at;     /* uv_now when it runs again */
    struct preq *retry_next;
    int key_queued;        /* PREQ_KEY_QUEUE: 1 running (in w->key_buckets), 2 waiting */
    uint64_t khash;        /* of namespace and key */
    struct preq *key_next; /* running: bucket chain; waiting: the next waiter */
    struct preq *waiters, *waiters_tail; /* running: the writes of this key queued behind */
    struct preq *riders; /* blind Sets overwritten by this one: answered with it (key_next) */
    int existed;         /* Destroy: a prepared replica held a live record */
    int full;            /* a replica refused the write: its disk is full (SSOutofResource) */
    int n, quorum;       /* replicas (zones), W = R */
    int read_first;      /* Get: the replica its Reads start from (rotates) */
    int pending;         /* storage requests in flight */
    int decision;        /* enum decision */
    int replied;
    struct preq *dl_prev, *dl_next; /* w->dl_head list while not replied */
    int on_dl;
    int repaired;     /* Get: read repair sent */
    struct rmeta out; /* the record written (writes), reported (Get) */
    uint8_t vtype;
    size_t nslen, klen, vlen;
    struct replica rep[MAP_MAX_ZONES];
    uint8_t data[]; /* namespace, key, value (owned copies) */
};

/* The value a write carries: the request's, or the record's for a TTL extension. */
static inline const uint8_t *
rq_value(const struct preq *rq)
{
    return rq->extending ? rq->xval : rq->data + rq->nslen + rq->klen;
}

/* What a request's originator is told (psink_ops.reply). */
struct preq_result {
    int status;              /* WIRE_ST_* */
    const struct rmeta *rec; /* the record (Ok; VersionConflict) or NULL; see rec->has */
    const uint8_t *val;      /* the value (Get; VersionConflict), vlen bytes */
    size_t vlen;
    uint8_t vtype;
    int existed; /* Destroy: a live record was deleted */
};

/* replicate.c */
/* The JunoDB response to rq with result res, into *r (which borrows from
 * both): what the native protocol answers. */
void preq_wire_reply(const struct preq *rq, const struct preq_result *res, struct wire_msg *r);
/* Answer Busy (14) to every request older than the deadline (loop thread). */
void preq_expire(struct worker *w);
/* A write or Destroy that failed on RecordLocked: 1 if it will run again
 * (PREQ_RETRY_LOCKED, time left before the deadline; the caller aborts what
 * is prepared), 0 if it is to be answered RecordLocked. */
int preq_retry(struct preq *rq);
int rmeta_cmp(const struct rmeta *a, const struct rmeta *b); /* newer: > 0 */
void rq_reply(struct preq *rq, int status, const struct rmeta *rec, const struct replica *with);
/* Send a storage request to replica i: opcode and flags, meta built from rec
 * (NULL: RequestID only), with value (NULL: none). Returns 1 if sent, 0 if the
 * store is unavailable. */
int rq_send(struct preq *rq, int i, uint8_t opcode, uint8_t flags, const struct rmeta *rec,
            uint8_t vtype, const uint8_t *val, size_t vlen);
/* Send m (opcode, flags, meta and value set by the caller) to replica i, with
 * rq's request id, shard, namespace and key filled in. Same returns. */
int rq_send_msg(struct preq *rq, int i, struct wire_msg *m);
uint64_t rq_now_ms(void); /* the wall clock, unix ms */
/* Free rq once it is done (releases its key, its references). */
void rq_free(struct preq *rq);
/* Run rq from the retry timer after delay ms. */
void rq_retry_schedule(struct preq *rq, uint64_t delay);

/* replicate_keyq.c (PREQ_KEY_QUEUE) */
/* 1: rq runs now (a write holds its key; a Get holds nothing); 0: it waits
 * behind the request running, to start once that one is done. */
int pkey_acquire(struct preq *rq);
/* rq, running, is done: the first waiter takes the key (from the retry timer). */
void pkey_release(struct preq *rq);
/* The Sets that rode on rq get rq's answer, then go. */
void pkey_riders_reply(struct preq *rq, int status, const struct rmeta *rec);

/* twophase.c */
void write_start(struct preq *rq);
void write_answer(struct preq *rq, struct replica *r, int st, const struct wire_msg *reply);
void write_progress(struct preq *rq);
void destroy_start(struct preq *rq);
void destroy_answer(struct preq *rq, struct replica *r, int st, const struct wire_msg *reply);
void destroy_progress(struct preq *rq);

#endif
