/* replicate_keyq.c: one write at a time per key on a worker
 * (PREQ_KEY_QUEUE): a write of a key waits behind the one running, Sets
 * waiting behind a Set that replaces value and TTL ride on it, and the next
 * waiter starts from the retry timer when the running one is done. */
#include "preq.h"
#include "proxy.h"

#include "hash.h"

#include <stdlib.h>
#include <string.h>

/* ---- one write at a time per key (PREQ_KEY_QUEUE) ---- */

static int
same_key(const struct preq *a, const struct preq *b)
{
    return a->khash == b->khash && a->nslen == b->nslen && a->klen == b->klen &&
           memcmp(a->data, b->data, a->nslen + a->klen) == 0;
}

static struct preq **
key_bucket(struct worker *w, uint64_t h)
{
    return &w->key_buckets[h & (w->key_nbuckets - 1)];
}

/* Double the table when it is full; a failure keeps the old one. */
static void
key_grow(struct worker *w)
{
    size_t n = w->key_nbuckets ? w->key_nbuckets * 2 : 1024;
    struct preq **b = calloc(n, sizeof(*b));
    if (b == NULL) return;
    for (size_t i = 0; i < w->key_nbuckets; i++)
        for (struct preq *rq = w->key_buckets[i], *next; rq; rq = next) {
            next = rq->key_next;
            rq->key_next = b[rq->khash & (n - 1)];
            b[rq->khash & (n - 1)] = rq;
        }
    free(w->key_buckets);
    w->key_buckets = b;
    w->key_nbuckets = n;
}

/* 1: rq runs now (a write holds its key; a Get holds nothing); 0: it waits
 * behind the request running, to start once that one is done. */
int
pkey_acquire(struct preq *rq)
{
    struct worker *w = rq->w;
    rq->khash = hash_key(rq->data, rq->nslen + rq->klen);
    if (w->key_count >= w->key_nbuckets) key_grow(w);
    if (w->key_nbuckets == 0) return 1; /* out of memory: run unqueued */
    struct preq **b = key_bucket(w, rq->khash);
    for (struct preq *o = *b; o; o = o->key_next) {
        if (!same_key(o, rq)) continue;
        rq->key_queued = 2;
        if (o->waiters_tail)
            o->waiters_tail->key_next = rq;
        else
            o->waiters = rq;
        o->waiters_tail = rq;
        return 0;
    }
    if (rq->opcode == WIRE_OP_GET) return 1; /* reads do not wait for each other */
    rq->key_queued = 1;
    rq->key_next = *b;
    *b = rq;
    w->key_count++;
    return 1;
}

/* A Set that leaves nothing of the record before it: new value, new TTL. */
static int
overwrites(const struct preq *rq)
{
    return rq->opcode == WIRE_OP_SET && (rq->exp_ms || rq->ttl_reset);
}

/* The Sets that rode on rq (overwritten by it before anyone could read them)
 * get rq's answer, then go: they never reached a store. */
void
pkey_riders_reply(struct preq *rq, int status, const struct rmeta *rec)
{
    struct preq *r = rq->riders;
    rq->riders = NULL;
    while (r) {
        struct preq *next = r->key_next;
        r->key_queued = 0;
        rq_reply(r, status, rec, NULL);
        rq_free(r);
        r = next;
    }
}

/* rq, running, is done: the first waiter takes the key and runs from the
 * retry timer (not from here: no recursion through a long queue). A run of
 * Sets followed by a Set that overwrites value and TTL collapses into that
 * last one: the others are answered with it (a valid order: each was
 * applied and overwritten at once, while all were waiting). */
void
pkey_release(struct preq *rq)
{
    struct worker *w = rq->w;
    struct preq **pp = key_bucket(w, rq->khash);
    while (*pp != rq) pp = &(*pp)->key_next;
    *pp = rq->key_next;
    rq->key_queued = 0;
    struct preq *nx = rq->waiters;
    if (nx == NULL) {
        w->key_count--;
        return;
    }
    struct preq *rest = nx->key_next, *riders = NULL;
    while (nx->opcode == WIRE_OP_SET && rest != NULL && overwrites(rest)) {
        nx->key_next = riders;
        riders = nx;
        nx = rest;
        rest = rest->key_next;
    }
    nx->riders = riders;
    nx->waiters = rest;
    nx->waiters_tail = rest ? rq->waiters_tail : NULL;
    nx->key_queued = 1;
    nx->key_next = *key_bucket(w, nx->khash);
    *key_bucket(w, nx->khash) = nx;
    nx->decision = D_RETRY; /* not started yet: the retry timer starts it */
    rq_retry_schedule(nx, 0);
}
