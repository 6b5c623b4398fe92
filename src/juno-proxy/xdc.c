/* xdc.c: forwarding successful writes to other sites (the source side of
 * xdc.h).
 *
 *   rq_reply(Ok) ──► xdc_forward: one item per target, at the tail of the
 *                    worker's queue for it (dropped at once, counted
 *                    queue_full, when over its share of --replicate-queue)
 *   pump ──► up to XDC_WINDOW items in flight on the target's upstream
 *        ◄── Ok: done (lag = answer time - client answer time)
 *        ◄── timeout, connection lost, Busy, NoStorageServer...: back to the
 *            head of the queue, sending paused for a backoff (50 ms .. 2 s);
 *            XDC_MAX_TRIES failed attempts: dropped (retries)
 *        ◄── any other error: dropped (refused)
 *   tick (every XDC_TICK_MS) ──► items older than --replicate-max-age are
 *        dropped (too_old); sending resumes; drops are logged: when a target
 *        starts dropping, every XDC_LOG_MS while it goes on, and when it stops
 *
 * A draining worker (SIGTERM) waits up to XDC_DRAIN_MS for its queues to
 * empty; what is left then is dropped (shutdown) and logged.
 *
 * While a target is unreachable nothing is sent and nothing counts as an
 * attempt (upstream.c reconnects by itself): its queue grows until its bytes
 * or age limit. Items go out in queue order but a retried one may pass a
 * later one: the target's last-writer-wins makes the order irrelevant.
 */
#include "xdc.h"
#include "pmetrics.h"
#include "preq.h"

#include "cli.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define XDC_WINDOW   64    /* items in flight per target per worker */
#define XDC_TICK_MS  50    /* expiry, resume after a backoff */
#define XDC_LOG_MS   10000 /* a drop summary while drops go on */
#define XDC_DRAIN_MS 5000  /* a draining worker waits this long for its queues */

struct xdc_item {
    struct xdc_item *next;
    uint64_t t0; /* uv_hrtime() when the client was answered */
    uint32_t tries;
    uint8_t opcode; /* WIRE_OP_SET (a record) or WIRE_OP_DESTROY (a tombstone) */
    uint8_t vtype;
    uint8_t rid[16];
    struct rmeta rec;
    size_t nslen, klen, vlen, size;
    uint8_t data[]; /* namespace, key, value */
};

struct xdc_target;

struct xdc_slot {
    struct ureq u; /* first member */
    struct xdc_target *t;
    struct xdc_item *it; /* owned while in flight */
    struct xdc_slot *next_free;
};

struct xdc_target {
    struct worker *w;
    const struct xdc_site *site;
    struct upstream *up; /* route-referenced by us: never retired before the worker ends */
    struct xdc_item *head, *tail;
    uint64_t depth, bytes; /* queued and in flight */
    struct xdc_slot slots[XDC_WINDOW];
    struct xdc_slot *free;
    unsigned inflight;
    uint64_t pause_until, backoff_ms;          /* uv_now ms */
    uint64_t dropped[XDC_NDROPS];              /* since the last log line */
    uint64_t drop_total, drop_since, last_log; /* this episode of drops (uv_now ms) */
    int dropping;
};

struct xdc_worker {
    uv_timer_t tick;
    int stopped;
    uint64_t drain_since; /* uv_now ms when the worker began draining, 0 before */
    unsigned n;
    struct xdc_target t[]; /* [n] */
};

/* ---- the queue ---- */

static void
item_account(struct xdc_target *t, const struct xdc_item *it, int delta)
{
    struct worker *w = t->w;
    if (delta > 0) {
        t->depth++;
        t->bytes += it->size;
        metric_add(t->site->depth, w->id, 1);
        metric_add(t->site->bytes, w->id, it->size);
    } else {
        t->depth--;
        t->bytes -= it->size;
        metric_sub(t->site->depth, w->id, 1);
        metric_sub(t->site->bytes, w->id, it->size);
    }
}

static void
drop(struct xdc_target *t, struct xdc_item *it, enum xdc_drop why)
{
    metric_inc(t->site->drops[why], t->w->id);
    t->dropped[why]++;
    if (it != NULL) {
        item_account(t, it, -1);
        free(it);
    }
}

static void
push_head(struct xdc_target *t, struct xdc_item *it)
{
    it->next = t->head;
    t->head = it;
    if (t->tail == NULL) t->tail = it;
}

static struct xdc_item *
pop_head(struct xdc_target *t)
{
    struct xdc_item *it = t->head;
    if (it == NULL) return NULL;
    t->head = it->next;
    if (t->head == NULL) t->tail = NULL;
    it->next = NULL;
    return it;
}

/* Stop sending for a backoff that doubles with each failure, one failure
 * per pause (a lost connection fails everything in flight at once). */
static void
pause_sending(struct xdc_target *t)
{
    uint64_t now = uv_now(&t->w->loop);
    if (now < t->pause_until) return;
    t->pause_until = now + t->backoff_ms;
    t->backoff_ms =
        t->backoff_ms * 2 > PROXY_BACKOFF_MAX_MS ? PROXY_BACKOFF_MAX_MS : t->backoff_ms * 2;
}

static void pump(struct xdc_target *t);

/* A transient failure: the item goes back to the head, sending pauses. */
static void
retry_later(struct xdc_target *t, struct xdc_item *it)
{
    if (++it->tries >= XDC_MAX_TRIES) {
        drop(t, it, XDC_RETRIES);
        return;
    }
    push_head(t, it);
    pause_sending(t);
}

static int
transient(int st)
{
    switch (st) {
    case -1: /* timeout, connection lost */
    case WIRE_ST_NO_STORAGE_SERVER:
    case WIRE_ST_BUSY:
    case WIRE_ST_COMMIT_FAILURE:
    case WIRE_ST_OUT_OF_MEM:
    case WIRE_ST_RECORD_LOCKED:
    case WIRE_ST_SS_OUT_OF_RESOURCE: return 1;
    default: return 0;
    }
}

static void
on_answer(struct ureq *u, int rc, const struct wire_msg *reply)
{
    struct xdc_slot *s = (struct xdc_slot *)u;
    struct xdc_target *t = s->t;
    struct xdc_item *it = s->it;
    s->it = NULL;
    s->next_free = t->free;
    t->free = s;
    t->inflight--;
    int st = rc < 0 ? -1 : reply->status;
    if (st == WIRE_ST_OK) {
        uint64_t now = uv_hrtime();
        metric_observe(t->site->lag, t->w->id, now > it->t0 ? now - it->t0 : 0);
        metric_inc(t->site->sent, t->w->id);
        item_account(t, it, -1);
        free(it);
        t->backoff_ms = PROXY_BACKOFF_MIN_MS;
    } else if (rc == JUNO_ECANCELED || t->w->finished) {
        push_head(t, it); /* the worker is stopping: counted by xdc_worker_stop */
        return;
    } else if (transient(st)) {
        retry_later(t, it);
    } else {
        if (t->dropped[XDC_REFUSED] == 0) /* the first since the last drop summary */
            log_warn("replicated write refused by the target target=%s status=%s", t->site->addr,
                     wire_status_name(st));
        drop(t, it, XDC_REFUSED);
    }
    pump(t);
}

static void
pump(struct xdc_target *t)
{
    struct worker *w = t->w;
    if (w->finished) return;
    uint64_t now = uv_now(&w->loop);
    if (now < t->pause_until) return;
    while (t->free != NULL && t->head != NULL) {
        struct xdc_item *it = pop_head(t);
        struct wire_msg m;
        memset(&m, 0, sizeof(m));
        m.type_flag = WIRE_TF_REQUEST;
        m.opcode = it->opcode;
        m.flags = WIRE_FLAG_REPLICATION;
        wire_meta_set_request_id(&m.meta, it->rid);
        wire_meta_set_u32(&m.meta, WIRE_F_VERSION, it->rec.version);
        wire_meta_set_u32(&m.meta, WIRE_F_CREATION_TIME, it->rec.ctime);
        wire_meta_set_expiration(&m.meta, it->rec.ems); /* to the ms: juno to juno */
        wire_meta_set_last_modified(&m.meta, it->rec.lmt);
        if (it->rec.has_origin) wire_meta_set_originator_id(&m.meta, it->rec.origin);
        m.ns.ptr = it->data;
        m.ns.len = it->nslen;
        m.key.ptr = it->data + it->nslen;
        m.key.len = it->klen;
        if (it->vlen > 0) {
            m.value_type = it->vtype;
            m.value.ptr = it->data + it->nslen + it->klen;
            m.value.len = it->vlen;
        }
        struct xdc_slot *s = t->free;
        if (upstream_send(t->up, &s->u, &m) != 0) { /* not connected, or marked down */
            push_head(t, it);
            pause_sending(t);
            return;
        }
        t->free = s->next_free;
        s->it = it;
        t->inflight++;
    }
}

void
xdc_forward(struct preq *rq)
{
    struct worker *w = rq->w;
    struct xdc_worker *xw = w->xdc;
    if (xw == NULL || xw->stopped || rq->apply || !rq->out.has) return;
    if (rq->decision != D_COMMIT && rq->decision != D_MARK) return; /* a read, a replay */
    const struct xdc *x = w->p->xdc;
    int tomb = rq->opcode == WIRE_OP_DESTROY;
    size_t vlen = tomb ? 0 : rq->vlen;
    size_t size = sizeof(struct xdc_item) + rq->nslen + rq->klen + vlen;
    uint64_t now = uv_hrtime();
    for (unsigned i = 0; i < xw->n; i++) {
        struct xdc_target *t = &xw->t[i];
        struct xdc_item *it;
        if (t->bytes + size > x->cap || (it = malloc(size)) == NULL) {
            drop(t, NULL, XDC_QUEUE_FULL);
            continue;
        }
        memset(it, 0, sizeof(*it));
        it->t0 = now;
        it->opcode = tomb ? WIRE_OP_DESTROY : WIRE_OP_SET;
        it->vtype = rq->vtype;
        memcpy(it->rid, rq->rid, 16);
        it->rec = rq->out;
        it->nslen = rq->nslen;
        it->klen = rq->klen;
        it->vlen = vlen;
        it->size = size;
        memcpy(it->data, rq->data, rq->nslen + rq->klen);
        if (vlen > 0) memcpy(it->data + rq->nslen + rq->klen, rq_value(rq), vlen);
        if (t->tail)
            t->tail->next = it;
        else
            t->head = it;
        t->tail = it;
        item_account(t, it, 1);
        pump(t);
    }
}

/* ---- the tick: age limit, resume, drop logging ---- */

static void
log_drops(struct xdc_target *t, uint64_t now)
{
    uint64_t n = 0;
    for (int k = 0; k < XDC_NDROPS; k++) n += t->dropped[k];
    if (n == 0) {
        if (t->dropping && now - t->last_log >= XDC_LOG_MS) {
            log_warn("replication to %s: stopped dropping writes, %llu dropped in %llu s",
                     t->site->addr, (unsigned long long)t->drop_total,
                     (unsigned long long)((now - t->drop_since) / 1000));
            t->dropping = 0;
        }
        return;
    }
    if (t->dropping && now - t->last_log < XDC_LOG_MS) return; /* counted on */
    if (!t->dropping) {
        t->dropping = 1;
        t->drop_since = now;
        t->drop_total = 0;
    }
    t->drop_total += n;
    log_warn("replication to %s: %s %llu writes (queue_full=%llu too_old=%llu retries=%llu "
             "refused=%llu), %llu since dropping started; queue %llu writes, %llu bytes; the "
             "sites need a re-sync (docs/operations.md)",
             t->site->addr, t->drop_total == n ? "started dropping:" : "dropped",
             (unsigned long long)n, (unsigned long long)t->dropped[XDC_QUEUE_FULL],
             (unsigned long long)t->dropped[XDC_TOO_OLD],
             (unsigned long long)t->dropped[XDC_RETRIES],
             (unsigned long long)t->dropped[XDC_REFUSED], (unsigned long long)t->drop_total,
             (unsigned long long)t->depth, (unsigned long long)t->bytes);
    memset(t->dropped, 0, sizeof(t->dropped));
    t->last_log = now;
}

static void
on_tick(uv_timer_t *h)
{
    struct worker *w = h->data;
    struct xdc_worker *xw = w->xdc;
    uint64_t max_age = w->p->xdc->max_age_ns, now = uv_hrtime();
    for (unsigned i = 0; i < xw->n; i++) {
        struct xdc_target *t = &xw->t[i];
        /* the queue is in answer order (a retried item, older, goes back
         * to the head): the expired ones are at the head */
        while (t->head && now - t->head->t0 > max_age) drop(t, pop_head(t), XDC_TOO_OLD);
        pump(t);
        log_drops(t, uv_now(&w->loop));
    }
    worker_flush(w);
    if (w->draining) worker_maybe_finish(w); /* the queues may be empty now */
}

int
xdc_worker_pending(struct worker *w)
{
    struct xdc_worker *xw = w->xdc;
    if (xw == NULL || xw->stopped) return 0;
    uint64_t now = uv_now(&w->loop);
    if (xw->drain_since == 0) xw->drain_since = now;
    if (now - xw->drain_since >= XDC_DRAIN_MS) return 0;
    for (unsigned i = 0; i < xw->n; i++)
        if (xw->t[i].depth > 0) return 1;
    return 0;
}

int
xdc_worker_start(struct worker *w)
{
    const struct xdc *x = w->p->xdc;
    if (x == NULL) return 0;
    struct xdc_worker *xw = calloc(1, sizeof(*xw) + x->n * sizeof(struct xdc_target));
    if (xw == NULL) return JUNO_ENOMEM;
    w->xdc = xw;
    xw->n = x->n;
    for (unsigned i = 0; i < x->n; i++) {
        struct xdc_target *t = &xw->t[i];
        t->w = w;
        t->site = &x->sites[i];
        t->backoff_ms = PROXY_BACKOFF_MIN_MS;
        for (int k = XDC_WINDOW - 1; k >= 0; k--) {
            t->slots[k].t = t;
            t->slots[k].u.cb = on_answer;
            t->slots[k].next_free = t->free;
            t->free = &t->slots[k];
        }
        if ((t->up = upstream_get_tls(w, t->site->addr, w->p->xdc_tls)) == NULL) return JUNO_ENOMEM;
        upstream_route_ref(t->up);
    }
    uv_timer_init(&w->loop, &xw->tick);
    xw->tick.data = w;
    uv_timer_start(&xw->tick, on_tick, XDC_TICK_MS, XDC_TICK_MS);
    return 0;
}

void
xdc_worker_stop(struct worker *w)
{
    struct xdc_worker *xw = w->xdc;
    if (xw == NULL || xw->stopped) return;
    xw->stopped = 1;
    uv_close((uv_handle_t *)&xw->tick, NULL);
    for (unsigned i = 0; i < xw->n; i++) {
        struct xdc_target *t = &xw->t[i];
        uint64_t lost = t->depth;
        if (lost > 0)
            log_warn("replication to %s: %llu writes still queued at exit are lost (thread=%u)",
                     t->site->addr, (unsigned long long)lost, w->id);
        while (t->head) drop(t, pop_head(t), XDC_SHUTDOWN);
    }
}

void
xdc_worker_free(struct worker *w)
{
    struct xdc_worker *xw = w->xdc;
    if (xw == NULL) return;
    for (unsigned i = 0; i < xw->n; i++) {
        struct xdc_target *t = &xw->t[i];
        for (int k = 0; k < XDC_WINDOW; k++) free(t->slots[k].it);
        while (t->head) free(pop_head(t));
    }
    free(xw);
    w->xdc = NULL;
}
