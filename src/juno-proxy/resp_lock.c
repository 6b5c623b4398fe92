/* resp_lock.c: one read-modify-write per key at a time on a worker, for
 * the RESP face's string commands (resp_str.c).
 *
 * A read-modify-write (INCR, APPEND, GETDEL...) is a Get then a write
 * conditional on the version read; two of them on one key at once make one
 * of them read again. On a hot counter with many clients that turns into a
 * storm of conditional writes that fail, and the unlucky client gets
 * TRYAGAIN at --deadline. So the worker runs those of one key one at a
 * time, in arrival order across its connections: a command whose key is
 * taken waits in the key's queue and starts when the one ahead is done.
 * Only other workers, other proxies and native clients can still make it
 * read again. A connection closed while its command waits is skipped; one
 * closed while its command runs gives the key on when it is freed.
 *
 * Handing the key on starts the next command, whose start may fail at once
 * and hand it on again: the turns are run from a list in a loop, not by
 * recursion, however long the queue.
 */
#include "resp_face.h"

#include "hash.h"

#include <stdlib.h>
#include <string.h>

/* A command waiting for its turn: its connection (a reference) and slot. */
struct rwait {
    struct rconn *rc; /* ref (conn_ref) */
    uint64_t seq;
    struct rlock *l; /* w->rl_ready: the lock it is given */
    struct rwait *next;
};

/* A key with a read-modify-write running on this worker. */
struct rlock {
    struct rlock *next; /* bucket chain */
    uint64_t h;
    struct rwait *head, *tail; /* waiting, oldest first */
    size_t len;
    uint8_t name[]; /* namespace length (1 byte), namespace, key */
};

static struct rlock **
bucket(struct worker *w, uint64_t h)
{
    return &w->rl_buckets[h & (w->rl_nbuckets - 1)];
}

/* Double the table when it is full; a failure keeps the old one. */
static int
grow(struct worker *w)
{
    size_t n = w->rl_nbuckets ? w->rl_nbuckets * 2 : 256;
    struct rlock **b = calloc(n, sizeof(*b));
    if (b == NULL) return w->rl_nbuckets ? 0 : -1;
    for (size_t i = 0; i < w->rl_nbuckets; i++)
        for (struct rlock *l = w->rl_buckets[i], *next; l; l = next) {
            next = l->next;
            l->next = b[l->h & (n - 1)];
            b[l->h & (n - 1)] = l;
        }
    free(w->rl_buckets);
    w->rl_buckets = b;
    w->rl_nbuckets = n;
    return 0;
}

/* The lock of name (len bytes) on w, or NULL. */
static struct rlock *
find(struct worker *w, uint64_t h, const uint8_t *name, size_t len)
{
    struct rlock *l = w->rl_nbuckets ? *bucket(w, h) : NULL;
    while (l && !(l->h == h && l->len == len && memcmp(l->name, name, len) == 0)) l = l->next;
    return l;
}

/* Queue slot s of rc behind l's holder: 0, or -1 out of memory. */
static int
wait_for(struct rlock *l, struct rconn *rc, struct rslot *s)
{
    struct rwait *q = malloc(sizeof(*q));
    if (q == NULL) return -1;
    *q = (struct rwait){rc, s->seq, l, NULL};
    conn_ref(&rc->c);
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    return 0;
}

/* A new lock of name, taken; NULL when out of memory. */
static struct rlock *
add(struct worker *w, uint64_t h, const uint8_t *name, size_t len)
{
    if (w->rl_count >= w->rl_nbuckets && grow(w) != 0) return NULL;
    struct rlock *l = malloc(sizeof(*l) + len);
    if (l == NULL) return NULL;
    *l = (struct rlock){*bucket(w, h), h, NULL, NULL, len};
    memcpy(l->name, name, len);
    *bucket(w, h) = l;
    w->rl_count++;
    return l;
}

struct rlock *
rlock_take(struct rconn *rc, struct rslot *s, const uint8_t *key, size_t klen, int *queued)
{
    struct worker *w = rc->w;
    const char *ns = rconn_ns(rc);
    size_t nslen = strlen(ns), len = 1 + nslen + klen;
    uint8_t small[1 + ACL_MAX_NAME + 256];
    uint8_t *name = len <= sizeof(small) ? small : malloc(len);
    struct rlock *l = NULL;
    *queued = 0;
    if (name != NULL) {
        name[0] = (uint8_t)nslen;
        memcpy(name + 1, ns, nslen);
        memcpy(name + 1 + nslen, key, klen);
        uint64_t h = hash_key(name, len);
        struct rlock *held = find(w, h, name, len);
        if (held != NULL)
            *queued = wait_for(held, rc, s) == 0;
        else
            l = add(w, h, name, len);
        if (name != small) free(name);
    }
    if (l == NULL && !*queued) rc->nomem = 1;
    return l;
}

/* Run the turns handed out (w->rl_ready), once: a turn that hands its lock
 * on at once adds to the list this loop is walking. */
static void
run_turns(struct worker *w)
{
    if (w->rl_running) return;
    w->rl_running = 1;
    while (w->rl_ready != NULL) {
        struct rwait *q = w->rl_ready;
        w->rl_ready = q->next;
        struct rslot *s = q->rc->c.closing ? NULL : rconn_slot_find(q->rc, q->seq);
        if (s != NULL && s->ext != NULL && !s->done)
            rmw_resume(q->rc, s, q->l);
        else
            rlock_give(w, q->l); /* gone meanwhile: the next one's turn */
        conn_unref(&q->rc->c);   /* may free the connection, which may give a lock */
        free(q);
    }
    w->rl_running = 0;
}

void
rlock_give(struct worker *w, struct rlock *l)
{
    struct rwait *q = l->head;
    if (q != NULL) { /* its turn: l stays taken */
        l->head = q->next;
        if (l->head == NULL) l->tail = NULL;
        q->next = NULL;
        struct rwait **pp = &w->rl_ready; /* in order of the turns */
        while (*pp) pp = &(*pp)->next;
        *pp = q;
        run_turns(w);
        return;
    }
    struct rlock **pp = bucket(w, l->h);
    while (*pp != l) pp = &(*pp)->next;
    *pp = l->next;
    w->rl_count--;
    free(l);
}
