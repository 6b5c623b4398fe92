/* shard.c: one shard, compared across its replicas (one owner per zone).
 *
 *   ShardInfo on every replica ── live, tombstones, hash equal ──► done
 *        │ differ
 *        ▼
 *   ranges of the key hash, level by level (lib/htree.h):
 *     a range with few records on every replica ──► ShardTree list: the
 *        records (key, version, stamp, digest) merged by key; those that
 *        differ go to fix.c, which fetches the newest copy and repairs
 *     a larger one ──► ShardTree buckets: its children's counts and hashes;
 *        only children that differ are looked at further
 *        │
 *        ▼
 *   ShardInfo again: equal ──► done; still different (clients wrote while
 *   it ran) ──► once more, at most MAX_TRIES times
 *
 * Every level is one pipelined batch to the replicas (calls.c), so a shard
 * costs a handful of round trips whatever the number of ranges. Each
 * ShardInfo or ShardTree request makes its store read the shard once.
 */
#include "jrep.h"

#include "error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEAF_MAX     64 /* a range with at most this many records on every replica is listed */
#define LEAF_TARGET  16 /* a range is split so that each child holds about this many */
#define LIST_LIMIT   HTREE_MAX_LIST /* records a list may return (the store also stops at 4 MiB) */
#define COLLAPSE_MAX 16384          /* a range listed whole rather than child by child */
#define MAX_TRIES    3
#define MAX_RANGES   8192 /* ranges looked at in one level */

struct range {
    uint8_t bits, split; /* split 0: list it */
    uint8_t whole;       /* came from a list cut short: split it, never list it whole again */
    uint64_t prefix;
    uint32_t count[JREP_MAX_ZONES];
};

struct sh {
    struct jrep *j;
    uint32_t shard;
    size_t nrep;
    struct fix_replica rep[JREP_MAX_ZONES];
    uint64_t bytes; /* the largest copy of the shard: what one scan costs */
    uint32_t count[JREP_MAX_ZONES];
    int incomplete;
};

static void
charge(struct jrep *j, uint64_t cost)
{
    j->cost += cost;
    if (j->rate == 0) return;
    /* the pass's cost at --rate takes this long: wait for the difference */
    uint64_t want_ms = j->cost * 1000 / j->rate, spent = report_now_ms() - j->started_ms;
    if (want_ms <= spent) return;
    uint64_t ms = want_ms - spent;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (!j->stop && nanosleep(&ts, &ts) != 0) {
    }
}

static void
replica_failed(struct sh *h, size_t r, const char *why)
{
    if (!h->rep[r].ok) return;
    h->rep[r].ok = 0;
    h->incomplete = 1;
    progress_event(h->j, "unreachable",
                   "\"shard\":%u,\"zone\":\"%s\",\"node\":\"%s\",\"store\":\"%s\",\"error\":\"%s\"",
                   h->shard, h->rep[r].zone, h->rep[r].node, h->rep[r].addr, why);
}

static size_t
replicas_ok(const struct sh *h)
{
    size_t n = 0;
    for (size_t r = 0; r < h->nrep; r++) n += h->rep[r].ok;
    return n;
}

static void
note_rejoining(struct jrep *j, const char *addr)
{
    for (size_t i = 0; i < j->nrejoining; i++)
        if (strcmp(j->rejoining[i], addr) == 0) return;
    if (j->nrejoining < sizeof(j->rejoining) / sizeof(j->rejoining[0]))
        snprintf(j->rejoining[j->nrejoining++], sizeof(j->rejoining[0]), "%s", addr);
}

static double
num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ShardInfo on every replica still ok. Returns 1 when they all answered
 * and are equal, 0 when they differ (or some did not answer), or
 * JUNO_EBADMAP when a store does not own the shard any more. */
static int
info_round(struct sh *h)
{
    struct jrep *j = h->j;
    struct call calls[JREP_MAX_ZONES];
    memset(calls, 0, sizeof(calls));
    for (size_t r = 0; r < h->nrep; r++) {
        calls[r].addr = h->rep[r].addr;
        calls[r].req.opcode = WIRE_OP_SHARD_INFO;
        calls[r].req.shard_id = (uint16_t)h->shard;
    }
    calls_run(calls, h->nrep, j->timeout_ms);
    int moved = 0, equal = 1, first = -1;
    char hash0[17] = "";
    double live0 = 0, tomb0 = 0;
    h->bytes = 0;
    for (size_t r = 0; r < h->nrep; r++) {
        struct call *k = &calls[r];
        if (!h->rep[r].ok) continue;
        cJSON *o = k->rc == 0 && k->status == WIRE_ST_OK
                       ? cJSON_ParseWithLength((const char *)k->value, k->vlen)
                       : NULL;
        const cJSON *hash = cJSON_GetObjectItemCaseSensitive(o, "hash");
        if (o == NULL || !cJSON_IsString(hash) || strlen(hash->valuestring) != 16 ||
            num(o, "live") < 0) {
            const char *why = k->rc || k->status != WIRE_ST_OK
                                  ? calls_why(k)
                                  : "a ShardInfo answer that is not JSON";
            if (k->rc == 0 && k->status == WIRE_ST_OK) j->n.protocol++;
            replica_failed(h, r, why);
            cJSON_Delete(o);
            continue;
        }
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "owned"))) moved = 1;
        h->rep[r].rejoining = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "rejoining"));
        if (h->rep[r].rejoining) note_rejoining(j, h->rep[r].addr);
        double g = num(o, "grace");
        if (g >= 0 && (j->grace_s == 0 || (uint64_t)g < j->grace_s)) j->grace_s = (uint64_t)g;
        double live = num(o, "live"), tomb = num(o, "tombstones"), bytes = num(o, "bytes");
        j->n.scanned += (uint64_t)num(o, "records");
        if (bytes > (double)h->bytes) h->bytes = (uint64_t)bytes;
        h->count[r] = (uint32_t)(live + tomb);
        if (first < 0) {
            first = (int)r;
            live0 = live, tomb0 = tomb;
            memcpy(hash0, hash->valuestring, 17);
        } else if (live != live0 || tomb != tomb0 || strcmp(hash0, hash->valuestring) != 0) {
            equal = 0;
        }
        cJSON_Delete(o);
    }
    calls_clear(calls, h->nrep);
    charge(j, h->bytes * h->nrep);
    if (moved) return JUNO_EBADMAP;
    return equal && replicas_ok(h) == h->nrep;
}

/* How many bits to split a range of at most max records by. */
static uint8_t
split_bits(uint32_t max, unsigned bits)
{
    unsigned b = 1;
    while (b < HTREE_MAX_SPLIT && ((uint64_t)LEAF_TARGET << b) < max) b++;
    if (bits + b > 64) b = 64 - bits;
    return (uint8_t)b;
}

struct item {
    size_t rep;
    struct htree_entry e;
};

static int
item_cmp(const void *a, const void *b)
{
    const struct htree_entry *x = &((const struct item *)a)->e, *y = &((const struct item *)b)->e;
    if (x->nslen != y->nslen) return x->nslen < y->nslen ? -1 : 1;
    int c = memcmp(x->ns, y->ns, x->nslen);
    if (c != 0) return c;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    c = memcmp(x->key, y->key, n);
    if (c != 0) return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

static int
same_copy(const struct htree_entry *a, const struct htree_entry *b)
{
    return a->version == b->version && a->last_modified == b->last_modified &&
           a->flags == b->flags && a->digest == b->digest;
}

/* The records of the listed ranges merged by key: those whose copies differ
 * between the replicas go to fix.c. items are sorted here. */
static int
fix_listed(struct sh *h, struct item *items, size_t n)
{
    qsort(items, n, sizeof(*items), item_cmp);
    struct fix_copy *copies = calloc(n ? n * h->nrep : 1, sizeof(*copies));
    if (copies == NULL) return JUNO_ENOMEM;
    size_t nrec = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        while (k < n && item_cmp(&items[i], &items[k]) == 0) k++;
        struct fix_copy *row = &copies[nrec * h->nrep];
        memset(row, 0, h->nrep * sizeof(*row));
        for (size_t x = i; x < k; x++) {
            row[items[x].rep].present = 1;
            row[items[x].rep].e = items[x].e;
        }
        int differ = 0;
        for (size_t r = 0; r < h->nrep; r++) {
            if (!h->rep[r].ok) continue;
            if (!row[r].present || !same_copy(&row[r].e, &items[i].e)) differ = 1;
        }
        if (differ) nrec++;
        i = k;
    }
    int rc = nrec ? fix_records(h->j, h->shard, h->rep, h->nrep, copies, nrec) : 0;
    if (rc != 0) h->incomplete = 1;
    free(copies);
    return 0;
}

/* One level: ranges[0..n) each asked of every replica still ok; the ranges
 * of the next level go to next (*nnext). */
static int
level(struct sh *h, struct range *ranges, size_t n, struct range *next, size_t *nnext)
{
    struct jrep *j = h->j;
    size_t ncalls = n * h->nrep;
    struct call *calls = calloc(ncalls, sizeof(*calls));
    uint8_t(*reqs)[HTREE_REQ_SIZE] = calloc(n, HTREE_REQ_SIZE);
    if (calls == NULL || reqs == NULL) {
        free(calls), free(reqs);
        return JUNO_ENOMEM;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        struct htree_req q = {.kind = ranges[i].split ? HTREE_BUCKETS : HTREE_LIST,
                              .prefix_bits = ranges[i].bits,
                              .split_bits = ranges[i].split,
                              .limit = ranges[i].split ? 0 : LIST_LIMIT,
                              .prefix = ranges[i].prefix};
        htree_req_encode(&q, reqs[i]);
        for (size_t r = 0; r < h->nrep; r++) {
            if (!h->rep[r].ok) continue;
            struct call *k = &calls[used++];
            k->addr = h->rep[r].addr;
            k->req.opcode = WIRE_OP_SHARD_TREE;
            k->req.shard_id = (uint16_t)h->shard;
            k->req.value.ptr = reqs[i];
            k->req.value.len = HTREE_REQ_SIZE;
        }
    }
    calls_run(calls, used, j->timeout_ms);
    charge(j, h->bytes * used);
    struct item *items = NULL;
    size_t nitems = 0, cap = 0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        struct range *rg = &ranges[i];
        struct htree_reply rep[JREP_MAX_ZONES];
        int have[JREP_MAX_ZONES] = {0}, truncated = 0;
        for (size_t r = 0; r < h->nrep; r++) {
            if (!h->rep[r].ok) continue;
            struct call *k = &calls[c++];
            if (k->rc != 0 || k->status != WIRE_ST_OK) {
                replica_failed(h, r, calls_why(k));
                continue;
            }
            if (htree_reply_decode(k->value, k->vlen, &rep[r]) != 0 ||
                rep[r].prefix_bits != rg->bits || rep[r].prefix != rg->prefix ||
                rep[r].split_bits != rg->split) {
                j->n.protocol++;
                replica_failed(h, r, "a ShardTree answer that does not decode");
                continue;
            }
            j->n.scanned += rep[r].scanned;
            have[r] = 1;
            truncated |= (rep[r].flags & HTREE_R_TRUNCATED) != 0;
        }
        if (rg->split == 0 && truncated) { /* more records than listed: split it after all */
            if (*nnext < MAX_RANGES) {
                next[*nnext] = *rg;
                next[*nnext].whole = 1;
                uint32_t most = LEAF_MAX * 4; /* at least: the list was cut */
                for (size_t r = 0; r < h->nrep; r++)
                    if (rg->count[r] > most) most = rg->count[r];
                next[*nnext].split = rg->bits < 64 ? split_bits(most, rg->bits) : 0;
                (*nnext)++;
            } else {
                h->incomplete = 1;
            }
            continue;
        }
        if (rg->split == 0) {
            for (size_t r = 0; r < h->nrep; r++) {
                if (!have[r] || !h->rep[r].ok) continue;
                size_t off = 0;
                struct htree_entry e;
                while (htree_entry_next(&rep[r], &off, &e)) {
                    if (nitems == cap) {
                        cap = cap ? cap * 2 : 256;
                        struct item *m = realloc(items, cap * sizeof(*items));
                        if (m == NULL) {
                            free(items), free(calls), free(reqs);
                            return JUNO_ENOMEM;
                        }
                        items = m;
                    }
                    items[nitems].rep = r;
                    items[nitems++].e = e;
                }
            }
            continue;
        }
        size_t first_child = *nnext;
        uint32_t rmax = 0;
        for (size_t r = 0; r < h->nrep; r++)
            if (have[r] && rg->count[r] > rmax) rmax = rg->count[r];
        for (uint32_t b = 0; b < (1u << rg->split); b++) { /* the children that differ */
            struct range child = {.bits = (uint8_t)(rg->bits + rg->split),
                                  .prefix = rg->prefix << rg->split | b};
            int differ = 0, first = -1;
            struct htree_bucket b0 = {0, 0};
            uint32_t max = 0;
            for (size_t r = 0; r < h->nrep; r++) {
                if (!have[r] || !h->rep[r].ok) continue;
                struct htree_bucket x;
                htree_bucket_get(&rep[r], b, &x);
                child.count[r] = x.count;
                if (x.count > max) max = x.count;
                if (first < 0) {
                    first = (int)r;
                    b0 = x;
                } else if (x.count != b0.count || x.hash != b0.hash) {
                    differ = 1;
                }
            }
            if (!differ && !h->j->full) continue; /* --full: every child, down to the records */
            child.split = max <= LEAF_MAX || child.bits >= 64 ? 0 : split_bits(max, child.bits);
            if (*nnext < MAX_RANGES)
                next[(*nnext)++] = child;
            else
                h->incomplete = 1; /* the next pass goes on */
        }
        /* Many children of a range differ (a replica that missed much of it,
         * or --full): one list of the whole range costs one request per
         * replica and one scan of the shard, where each child would cost as
         * much; with few differing children, listing them alone sends less */
        size_t ndiff = *nnext - first_child;
        if (ndiff >= 2 && rmax <= COLLAPSE_MAX && !rg->whole &&
            (rmax <= LEAF_MAX * 4 || ndiff * 4 >= (1u << rg->split) || h->j->full)) {
            *nnext = first_child;
            next[(*nnext)++] = (struct range){.bits = rg->bits, .prefix = rg->prefix, .split = 0};
            memcpy(next[*nnext - 1].count, rg->count, sizeof(rg->count));
        }
    }
    int rc = replicas_ok(h) >= 2 && nitems > 0 ? fix_listed(h, items, nitems) : 0;
    free(items);
    calls_clear(calls, used);
    free(calls);
    free(reqs);
    return rc;
}

/* Descend from the root to the differing records, fixing them. */
static int
descend(struct sh *h)
{
    struct range *cur = calloc(MAX_RANGES, sizeof(*cur)), *next = calloc(MAX_RANGES, sizeof(*next));
    if (cur == NULL || next == NULL) {
        free(cur), free(next);
        return JUNO_ENOMEM;
    }
    size_t ncur = 1, nnext;
    uint32_t max = 0;
    for (size_t r = 0; r < h->nrep; r++) {
        cur[0].count[r] = h->count[r];
        if (h->rep[r].ok && h->count[r] > max) max = h->count[r];
    }
    cur[0].split = max <= LEAF_MAX || (h->j->full && max <= COLLAPSE_MAX) ? 0 : split_bits(max, 0);
    int rc = 0;
    while (ncur > 0 && rc == 0 && replicas_ok(h) >= 2 && !h->j->stop) {
        nnext = 0;
        rc = level(h, cur, ncur, next, &nnext);
        struct range *t = cur;
        cur = next;
        next = t;
        ncur = nnext;
    }
    free(cur);
    free(next);
    return rc;
}

int
shard_run(struct jrep *j, uint32_t shard)
{
    struct sh h;
    memset(&h, 0, sizeof(h));
    h.j = j;
    h.shard = shard;
    h.nrep = j->map->nzones + (j->peer ? j->peer->nzones : 0);
    for (size_t z = 0; z < h.nrep; z++) {
        const struct map *m = z < j->map->nzones ? j->map : j->peer;
        uint32_t mz = (uint32_t)(z < j->map->nzones ? z : z - j->map->nzones);
        const struct map_node *o = map_owner(m, mz, shard);
        const char *zone = j->peer ? j->zone_names[z] : m->zones[mz].name;
        h.rep[z] = (struct fix_replica){zone, o->name, o->addr, 1, 0};
    }
    j->n.shards++;
    if (h.nrep < 2) { /* one zone: nothing to compare with */
        j->n.equal++;
        return 0;
    }
    int equal_at_first = 0;
    for (int try = 0;; try++) {
        int eq = info_round(&h);
        if (eq == JUNO_EBADMAP) return eq;
        if (eq == 1 && j->full && try == 0) { /* compared record by record all the same */
            j->n.equal++;
            equal_at_first = 1;
            eq = 0;
        } else if (eq == 1) {
            if (try == 0) j->n.equal++;
            return 0;
        }
        if (replicas_ok(&h) < 2 || j->stop) break;
        if (try == MAX_TRIES) {
            progress_event(j, "still_differs",
                           "\"shard\":%u,\"tries\":%d,\"reason\":\"clients wrote to it during "
                           "the repair; the next pass goes on\"",
                           shard, MAX_TRIES);
            h.incomplete = 1;
            break;
        }
        if (try == 0 && !equal_at_first) j->n.differing++;
        if (descend(&h) == JUNO_ENOMEM) {
            progress_event(j, "error", "\"shard\":%u,\"message\":\"out of memory\"", shard);
            h.incomplete = 1;
        }
        if (j->dry_run || h.incomplete) break; /* a replica missing: the next pass goes on */
    }
    if (!h.incomplete && !j->stop) return 0; /* --dry-run: listed */
    j->n.incomplete++;
    return 1;
}
