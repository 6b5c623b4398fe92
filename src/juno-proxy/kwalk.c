/* kwalk.c: walks over a namespace's keys (kwalk.h): KeyScan steps on every
 * zone's replica of a shard, merged by the read-repair rule. */
#include "kwalk.h"

#include "error.h"
#include "keyscan.h"
#include "log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KWALK_RETRY_MS  50
#define KWALK_MAX_LANES 64

struct klane;

struct kzone {
    struct klane *l;
    struct ureq u;
    int ok;       /* answered 0 with a reply that decodes */
    uint8_t *val; /* owned: the reply's value */
    size_t len;
};

struct klane {
    struct kwalk *k;
    int busy, waiting; /* a step in flight / waiting to be tried again */
    int paused;        /* the keys callback asked for a pause (kwalk_resume) */
    uint64_t bound;    /* the paused step's end */
    uint32_t idx;      /* the shard's index in the walk's order */
    uint32_t shard;
    uint64_t pos;
    uint64_t first_try; /* uv_now of the step's first try */
    struct route *rt;   /* ref while the step is in flight */
    int nz, pending;
    struct kzone z[MAP_MAX_ZONES];
};

struct kwalk {
    struct worker *w;
    struct kwalk_opts o;
    char ns[ACL_MAX_NAME + 1];
    uint32_t nshards, total, next_idx;
    int stopped, status, ended, closing;
    uint32_t stop_shard;
    uint64_t stop_pos;
    uv_timer_t timer;
    unsigned nlanes;
    struct klane lanes[];
};

/* A key's newest copy among the replicas' entries. */
struct kcopy {
    uint64_t pos;
    struct keyscan_entry e;
};

static void lane_step(struct klane *l);
static void lane_continue(struct klane *l, uint64_t bound);
static void kwalk__retry(uv_timer_t *t);

uint32_t
kwalk_nshards(const struct worker *w)
{
    return w->route ? w->route->pm->map->shards : 0;
}

static void
kwalk__closed(uv_handle_t *h)
{
    struct kwalk *k = h->data;
    struct worker *w = k->w;
    free(k);
    w->inflight--;
    worker_maybe_finish(w);
}

/* End the walk once nothing is in flight. */
static void
kwalk_maybe_end(struct kwalk *k)
{
    for (unsigned i = 0; i < k->nlanes; i++)
        if (k->lanes[i].busy || k->lanes[i].waiting || k->lanes[i].paused) return;
    if (k->closing) return;
    k->closing = 1;
    uint32_t shard = k->nshards;
    uint64_t pos = 0;
    if (k->stopped) {
        shard = k->stop_shard;
        pos = k->stop_pos;
    }
    k->o.end(k, k->o.arg, k->status, shard, pos);
    uv_close((uv_handle_t *)&k->timer, kwalk__closed);
}

/* Give lane l the walk's next shard, or leave it idle. */
static void
lane_next(struct klane *l)
{
    struct kwalk *k = l->k;
    if (k->stopped || k->status != 0 || k->next_idx >= k->total) {
        kwalk_maybe_end(k);
        return;
    }
    l->idx = k->next_idx++;
    l->shard = (k->o.shard + l->idx) % k->nshards;
    l->pos = l->idx == 0 ? k->o.pos : 0;
    l->first_try = uv_now(&k->w->loop);
    lane_step(l);
}

static int
copy_cmp(const void *a, const void *b)
{
    const struct kcopy *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    size_t n = x->e.klen < y->e.klen ? x->e.klen : y->e.klen;
    int c = memcmp(x->e.key, y->e.key, n);
    if (c != 0) return c;
    return x->e.klen < y->e.klen ? -1 : x->e.klen > y->e.klen;
}

/* 1 if a is newer than b (last modified, then version): record_cmp's rule. */
static int
copy_newer(const struct keyscan_entry *a, const struct keyscan_entry *b)
{
    if (a->last_modified != b->last_modified) return a->last_modified > b->last_modified;
    return a->version > b->version;
}

/* Merge the answers of l's step: the live keys below the smallest `next`.
 * Returns 0 with *bound set, or a negative code. */
static int
lane_merge(struct klane *l, uint64_t *bound)
{
    struct kwalk *k = l->k;
    struct keyscan_reply r[MAP_MAX_ZONES];
    size_t n = 0;
    uint64_t b = KEYSCAN_POS_END;
    for (int z = 0; z < l->nz; z++) {
        if (!l->z[z].ok) continue;
        keyscan_reply_decode(l->z[z].val, l->z[z].len, &r[z]); /* checked on arrival */
        uint64_t zb = (r[z].flags & KEYSCAN_R_DONE) ? KEYSCAN_POS_END : r[z].next;
        if (zb < b) b = zb;
        n += r[z].count;
    }
    *bound = b;
    struct kcopy *c = malloc((n ? n : 1) * sizeof(*c));
    const uint8_t **keys = malloc((n ? n : 1) * sizeof(*keys));
    size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
    if (c == NULL || keys == NULL || lens == NULL) {
        free(c), free(keys), free(lens);
        return JUNO_ENOMEM;
    }
    size_t m = 0;
    for (int z = 0; z < l->nz; z++) {
        if (!l->z[z].ok) continue;
        size_t off = 0;
        struct keyscan_entry e;
        while (keyscan_entry_next(&r[z], &off, &e)) {
            uint64_t pos = keyscan_pos(e.key, e.klen);
            if (pos < l->pos || pos >= b) continue; /* another replica did not cover it */
            c[m].pos = pos;
            c[m++].e = e;
        }
    }
    qsort(c, m, sizeof(*c), copy_cmp);
    size_t live = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i, best = i;
        while (j < m && copy_cmp(&c[i], &c[j]) == 0) {
            if (copy_newer(&c[j].e, &c[best].e)) best = j;
            j++;
        }
        if ((c[best].e.flags & ~KEYSCAN_E_TTL) == 0) {
            if (k->o.ttls != NULL && (c[best].e.flags & KEYSCAN_E_TTL)) (*k->o.ttls)++;
            keys[live] = c[best].e.key;
            lens[live++] = c[best].e.klen;
        }
        i = j;
    }
    int stop = k->stopped || k->status != 0 ? 1 : k->o.keys(k, k->o.arg, keys, lens, live);
    if (stop == KWALK_PAUSE) {
        l->paused = 1;
        stop = 0;
    }
    if (stop && !k->stopped && k->status == 0) {
        k->stopped = 1;
        k->stop_shard = b == KEYSCAN_POS_END ? l->shard + 1 : l->shard;
        k->stop_pos = b == KEYSCAN_POS_END ? 0 : b;
    }
    free(c), free(keys), free(lens);
    return 0;
}

static void
lane_done(struct klane *l)
{
    struct kwalk *k = l->k;
    if (l->rt != NULL) route_unref(l->rt);
    l->rt = NULL;
    l->busy = 0;
    int ok = 0;
    for (int z = 0; z < l->nz; z++) ok += l->z[z].ok;
    uint64_t bound = 0;
    int rc = ok >= l->nz / 2 + 1 ? lane_merge(l, &bound) : JUNO_EUNAVAIL;
    for (int z = 0; z < l->nz; z++) {
        free(l->z[z].val);
        l->z[z].val = NULL;
        l->z[z].ok = 0;
    }
    if (rc == JUNO_EUNAVAIL && !k->stopped && k->status == 0 &&
        uv_now(&k->w->loop) - l->first_try < k->w->p->cfg.deadline_ms) {
        l->waiting = 1; /* a store down, or a map that moved the shard */
        if (!uv_is_active((uv_handle_t *)&k->timer))
            uv_timer_start(&k->timer, kwalk__retry, KWALK_RETRY_MS, 0);
        return;
    }
    if (rc != 0) {
        if (k->status == 0 && !k->stopped) /* a walk stopped already has its answer */
            k->status = rc == JUNO_ENOMEM ? WIRE_ST_OUT_OF_MEM : WIRE_ST_NO_STORAGE_SERVER;
        kwalk_maybe_end(k);
        return;
    }
    if (l->paused) {
        l->bound = bound; /* kwalk_resume goes on from here */
        return;
    }
    lane_continue(l, bound);
}

/* After a step that ended at bound: the rest of the shard, or the next one. */
static void
lane_continue(struct klane *l, uint64_t bound)
{
    struct kwalk *k = l->k;
    if (bound < KEYSCAN_POS_END && !k->stopped && k->status == 0) {
        l->pos = bound; /* the rest of this shard */
        l->first_try = uv_now(&k->w->loop);
        lane_step(l);
        return;
    }
    lane_next(l);
}

static void
zone_answer(struct ureq *u, int rc, const struct wire_msg *reply)
{
    struct kzone *kz = (struct kzone *)((char *)u - offsetof(struct kzone, u));
    struct klane *l = kz->l;
    struct keyscan_reply r;
    if (rc == 0 && reply->status == WIRE_ST_OK &&
        keyscan_reply_decode(reply->value.ptr, reply->value.len, &r) == 0 &&
        ((r.flags & KEYSCAN_R_DONE) || r.next > l->pos) &&
        (kz->val = malloc(reply->value.len ? reply->value.len : 1)) != NULL) {
        memcpy(kz->val, reply->value.ptr, reply->value.len);
        kz->len = reply->value.len;
        kz->ok = 1;
    } else if (rc == 0 && reply->status == WIRE_ST_OK) {
        log_error("KeyScan reply that does not decode, or out of memory, store=%s",
                  upstream_addr(u->up));
    }
    if (--l->pending == 0) lane_done(l);
}

/* Ask every zone's store of l's shard for its records from l->pos. */
static void
lane_step(struct klane *l)
{
    struct kwalk *k = l->k;
    struct route *rt = k->w->route;
    const struct map *m = rt ? rt->pm->map : NULL;
    l->busy = 1;
    l->nz = 0;
    l->pending = 1; /* held until every request is sent */
    if (m != NULL && m->shards == k->nshards) {
        route_ref(rt);
        l->rt = rt;
        l->nz = (int)m->nzones;
        uint8_t q[KEYSCAN_REQ_SIZE];
        struct keyscan_req kq = {
            .flags = k->o.ttls ? KEYSCAN_Q_TTL : 0, .limit = k->o.limit, .from = l->pos};
        keyscan_req_encode(&kq, q);
        for (int z = 0; z < l->nz; z++) {
            struct kzone *kz = &l->z[z];
            kz->l = l;
            kz->ok = 0;
            kz->val = NULL;
            kz->u.cb = zone_answer;
            struct wire_msg msg;
            memset(&msg, 0, sizeof(msg));
            msg.type_flag = WIRE_TF_REQUEST;
            msg.opcode = WIRE_OP_KEY_SCAN;
            msg.shard_id = (uint16_t)l->shard;
            msg.ns.ptr = (const uint8_t *)k->ns;
            msg.ns.len = strlen(k->ns);
            msg.value.ptr = q;
            msg.value.len = sizeof(q);
            struct upstream *up = rt->ups[z][m->zones[z].owners[l->shard]];
            if (upstream_send(up, &kz->u, &msg) == 0) l->pending++;
        }
    }
    if (--l->pending == 0) lane_done(l);
}

/* The lanes waiting for a store or a map: try their steps again. */
static void
kwalk__retry(uv_timer_t *t)
{
    struct kwalk *k = t->data;
    for (unsigned i = 0; i < k->nlanes; i++) {
        struct klane *l = &k->lanes[i];
        if (!l->waiting) continue;
        l->waiting = 0;
        if (k->stopped || k->status != 0) continue;
        if (l->idx == UINT32_MAX)
            lane_next(l); /* its first shard */
        else
            lane_step(l);
    }
    kwalk_maybe_end(k);
    worker_flush(k->w); /* a timer's requests and replies: poll would not run the check */
}

int
kwalk_start(struct worker *w, const struct kwalk_opts *o)
{
    uint32_t nshards = kwalk_nshards(w);
    if (nshards == 0) return JUNO_EUNAVAIL;
    if (o->shard >= nshards || o->limit == 0 || o->limit > KEYSCAN_MAX_LIMIT ||
        o->pos >= KEYSCAN_POS_END || strlen(o->ns) > ACL_MAX_NAME)
        return JUNO_EINVAL;
    unsigned nl = o->lanes == 0 ? 1 : o->lanes > KWALK_MAX_LANES ? KWALK_MAX_LANES : o->lanes;
    struct kwalk *k = calloc(1, sizeof(*k) + nl * sizeof(struct klane));
    if (k == NULL) return JUNO_ENOMEM;
    k->w = w;
    k->o = *o;
    snprintf(k->ns, sizeof(k->ns), "%s", o->ns);
    k->o.ns = k->ns;
    k->nshards = nshards;
    k->total = o->wrap ? nshards + (o->pos > 0) : nshards - o->shard;
    k->nlanes = nl < k->total ? nl : k->total;
    uv_timer_init(&w->loop, &k->timer);
    k->timer.data = k;
    w->inflight++;
    for (unsigned i = 0; i < k->nlanes; i++) {
        k->lanes[i].k = k;
        k->lanes[i].idx = UINT32_MAX;
        k->lanes[i].waiting = 1; /* started by the timer: never answer from inside this call */
    }
    uv_timer_start(&k->timer, kwalk__retry, 0, 0);
    return 0;
}

void
kwalk_resume(struct kwalk *k)
{
    for (unsigned i = 0; i < k->nlanes; i++) {
        struct klane *l = &k->lanes[i];
        if (!l->paused) continue;
        l->paused = 0;
        lane_continue(l, l->bound);
    }
    kwalk_maybe_end(k);
}
