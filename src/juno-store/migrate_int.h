/* migrate_int.h: what migrate.c (a shard's stream: the copy, the target
 * connection, Verify and Stop) and migrate_req.c (juno-migrate's requests,
 * and the hooks by which the store's writes reach the streams) share. */
#ifndef JUNO_STORE_MIGRATE_INT_H
#define JUNO_STORE_MIGRATE_INT_H

#include "store.h"

#include "conn.h"
#include "wire.h"

#include <stdint.h>
#include <uv.h>

#define MIG_CHUNK_BYTES   (128u << 10) /* encoded Clones per worker pass */
#define MIG_COPY_WORKERS  2            /* copy passes at once, store-wide (s->copyq's threads) */
#define MIG_CHUNK_RECORDS 4096
#define MIG_WINDOW        (4u << 20)   /* copy bytes sent and not yet acknowledged */
#define MIG_FORWARD_MAX   (256u << 20) /* unacknowledged forwards before giving up */
#define MIG_WAIT_MS       10000        /* a Verify or Stop waits at most this long */
#define MIG_BUSY_MS       200          /* foreground requests this recent slow the copy down */
#define MIG_BUSY_SLICE    1000 /* while busy, a pass is 1/1000 s worth of --busy-copy-rate */
#define MIG_SHARDS        65536

#define OPQ_CTL     0x80000000u
#define OPQ_FORWARD 0x40000000u
#define OPQ_SIZE    0x3FFFFFFFu
#define OPQ_ACCEPT  (OPQ_CTL | 1)
#define OPQ_INFO    (OPQ_CTL | 2)

enum mig_state { MIG_COPYING = 0, MIG_CAUGHT_UP, MIG_FAILED, MIG_STOPPED };

struct mig {
    struct store *s;
    struct mig *next;      /* migrate.all */
    struct mig *wait_next; /* migrate.copy_wait, while queued */
    int copy_queued;
    uint16_t shard;
    enum mig_state state;
    char target[MAP_ADDR_MAX + 1];
    char error[200];
    uint64_t rate;        /* copy bytes per second; 0 = as fast as it goes */
    uint64_t chunk_limit; /* bytes per worker pass: smaller when rate limited */
    uint64_t pass_limit;  /* this pass: chunk_limit, or less while the store is busy */
    int pass_busy;        /* this pass is paced by the store's busy copy rate */
    uint64_t records, bytes, forwarded;
    uint64_t started_ms, finished_ms;
    /* the connection to the target */
    struct conn *conn; /* to the target: closed and forgotten by mig__close */
    uv_timer_t timer;
    int handles; /* open libuv handles (the timer) */
    int connected, closed, detached, draining;
    uint64_t unacked, copy_unacked; /* bytes sent and not acknowledged */
    /* the copy */
    struct bgq_job cjob;    /* a copy pass, on s->copyq */
    struct engine_iter *it; /* owned; used by one thread at a time */
    int working, copy_done, chunk_end;
    struct buf chunk; /* the worker's encoded Clones */
    uint64_t chunk_records, chunk_bytes, copy_sent;
    /* a Verify or Stop waiting (one at a time) */
    struct conn *waiter; /* ref (conn_ref) while waiting */
    uint32_t wopaque;
    uint8_t wop;
    uint64_t wdeadline;
    int holding, scanning, scanned, info_sent;
    struct engine_write *held_head, *held_tail; /* writes to the shard held by a Verify */
    uv_work_t vwork;
    uint64_t src_info[6];
    int src_rc;
};

struct migrate {
    struct mig **out;      /* owned: per shard, its latest stream (or NULL) */
    uint8_t *incoming;     /* owned: per shard, 1 after a ShardAccept */
    uint32_t *pending;     /* owned: per shard, keyed writes submitted and not completed */
    struct mig *all;       /* every stream still allocated */
    uint64_t fwd_ids;      /* request ids of forwarded Deletes */
    unsigned copy_running; /* copy passes in the thread pool */
    uint64_t busy_next_us; /* while busy, no pass starts before this (uv_hrtime / 1000) */
    struct mig *copy_wait, *copy_wait_tail; /* streams waiting for a turn (FIFO) */
    int shutting_down;
};

/* ---- migrate.c ---- */

/* s's migration state, made at first use; NULL when out of memory or draining. */
struct migrate *migrate__get(struct store *s);
/* Whether g still sends the shard's writes to its target. */
int mig__forwarding(const struct mig *g);
void mig__step(struct mig *g);
void mig__copy_next(struct mig *g);
void mig__fail(struct mig *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free g once nothing refers to it (detached, no handle, no work). */
void mig__maybe_free(struct mig *g);
/* Close the connection to the target (once). */
void mig__close(struct mig *g);
/* Release the writes a Verify held, in their order. */
void mig__release(struct mig *g);
/* Answer the Verify or Stop waiting on g with status and json. */
void mig__finish_waiter(struct mig *g, int status, const char *json);
/* Queue m for the target; its opaque becomes its size | kind (OPQ_CTL,
 * OPQ_FORWARD or 0 for a copied record). 0 or JUNO_EINVAL / JUNO_ECONNRESET. */
int mig__queue(struct mig *g, struct wire_msg *m, uint32_t kind);
/* A Verify or Stop request req from c waits on g (Verify holds new writes). */
void mig__wait(struct mig *g, struct conn *c, const struct wire_msg *req);
void mig__on_timer(uv_timer_t *t);
/* Replies to juno-migrate: json as the value; or g's status as json. */
void mig__reply_json(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard, int status,
                     const char *json);
void mig__reply_status_json(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard,
                            int status, const struct mig *g);
/* The protocol of the connection to the target. */
extern const struct conn_proto mig__proto;

/* ---- migrate_req.c ---- */

/* g no longer answers to a juno-migrate connection (it goes on by itself). */
void mig__detach(struct mig *g);

#endif
