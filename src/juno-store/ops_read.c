/* ops_read.c: reading a request's current record (op__read).
 *
 * A read is answered on the loop when the records cache, the memtables or
 * the block cache hold the answer (engine_get_cached). Otherwise it needs
 * the disk, or at least the kernel's page cache, and goes to libuv's thread
 * pool. Those reads are gathered over a loop turn and sent at its end
 * (ops_read_flush, from server.c's uv_check) in batches, one RocksDB
 * MultiGet each: a pipelined burst of random reads costs a thread hand-off
 * per batch, not per read. A batch's reads are made one after the other, so
 * there are several batches per pool thread (OPS_READ_SPLIT, each of
 * OPS_READ_MIN to OPS_READ_MAX reads): the disk sees as many reads at once
 * as there are threads, and a thread done early takes the next batch
 * instead of waiting for the next turn.
 */
#include "ops_int.h"
#include "store.h"

#include "error.h"

#include <stdlib.h>

#define OPS_READ_MIN   4  /* reads per batch, at least */
#define OPS_READ_MAX   16 /* and at most: a batch's reads are made one after another */
#define OPS_READ_SPLIT 4  /* batches per pool thread, so that no thread waits for the next turn */
_Static_assert(OPS_READ_MAX <= ENGINE_MULTI_MAX, "a batch is one engine_multi_get");

struct read_batch {
    uv_work_t work;
    size_t n;
    struct op *ops[OPS_READ_MAX];
    int rcs[OPS_READ_MAX];
};

static void
ops__batch_work(uv_work_t *w)
{
    struct read_batch *b = w->data;
    const uint8_t *keys[OPS_READ_MAX];
    size_t klens[OPS_READ_MAX];
    char *vals[OPS_READ_MAX];
    size_t vlens[OPS_READ_MAX];
    for (size_t i = 0; i < b->n; i++) {
        keys[i] = b->ops[i]->key;
        klens[i] = b->ops[i]->klen;
    }
    engine_multi_get(b->ops[0]->s->engine, b->n, keys, klens, vals, vlens, b->rcs);
    for (size_t i = 0; i < b->n; i++) {
        b->ops[i]->got = vals[i];
        b->ops[i]->glen = vlens[i];
    }
}

static void
ops__batch_done(uv_work_t *w, int status)
{
    struct read_batch *b = w->data; /* cancelled: not run, got still NULL */
    for (size_t i = 0; i < b->n; i++) {
        b->ops[i]->get_rc = status != 0 ? JUNO_ECANCELED : b->rcs[i];
        b->ops[i]->after_read(b->ops[i]);
    }
    free(b);
}

/* One read alone, when a batch cannot be allocated. */
static void
ops__one_work(uv_work_t *w)
{
    struct op *op = w->data;
    op->get_rc = engine_get(op->s->engine, op->key, op->klen, &op->got, &op->glen);
}

static void
ops__one_done(uv_work_t *w, int status)
{
    struct op *op = w->data;
    if (status != 0) op->get_rc = JUNO_ECANCELED;
    op->after_read(op);
}

void
op__read(struct op *op, void (*after)(struct op *))
{
    struct store *s = op->s;
    op->after_read = after;
    op->get_rc = engine_get_cached(s->engine, op->key, op->klen, &op->got, &op->glen);
    if (op->get_rc != JUNO_EAGAIN) {
        after(op);
        return;
    }
    op->got = NULL;
    op->next_read = NULL;
    if (s->reads == NULL) s->reads_tail = &s->reads;
    *s->reads_tail = op;
    s->reads_tail = &op->next_read;
    s->nreads++;
}

void
ops_read_flush(struct store *s)
{
    size_t left = s->nreads;
    if (left == 0) return;
    size_t threads = s->cfg.threads ? s->cfg.threads : 1;
    size_t per = (left + OPS_READ_SPLIT * threads - 1) / (OPS_READ_SPLIT * threads);
    if (per < OPS_READ_MIN) per = OPS_READ_MIN;
    if (per > OPS_READ_MAX) per = OPS_READ_MAX;
    s->stats.pool_reads += left;
    struct op *op = s->reads;
    s->reads = NULL;
    s->nreads = 0;
    while (op != NULL) {
        struct read_batch *b = malloc(sizeof(*b));
        if (b == NULL) { /* out of memory: this one alone */
            struct op *next = op->next_read;
            op->work.data = op;
            uv_queue_work(s->loop, &op->work, ops__one_work, ops__one_done);
            op = next;
            continue;
        }
        b->n = 0;
        while (op != NULL && b->n < per) {
            b->ops[b->n++] = op;
            op = op->next_read;
        }
        b->work.data = b;
        s->stats.pool_batches++;
        uv_queue_work(s->loop, &b->work, ops__batch_work, ops__batch_done);
    }
}
