/* moves.c: each move of the plan, driven through its source store.
 *
 *   PENDING ──► MigrateStop (leftovers) ─► DropShard on the target (a clean
 *      │        slate) ─► MigrateStart {"target":TO,"rate":R} on the source
 *      ▼        (a source still streaming the same shard to the same target,
 *   COPYING     from an earlier run, is picked up as it is)
 *      │ MigrateStatus until caught_up (failed, stopped or gone: PENDING again)
 *      ▼
 *   VERIFYING ─ MigrateVerify: the source holds the shard's writes, compares
 *      │        its count and hash with the target's; a mismatch restarts
 *      ▼
 *   DONE (forwarding goes on until moves_finish)
 *
 * A source that does not answer (a dead store being removed) is replaced by
 * the shard's owner in another zone of the old map. At most --parallel moves
 * per zone are under way; zones run side by side. Each round takes every
 * move one step on, with one batch of requests (calls.c) per kind of step:
 * the moves' round trips overlap rather than add up.
 */
#include "jmig.h"

#include "error.h"
#include "log.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RESTARTS 20

static const char *
json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double
json_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void
req_set(struct store_req *r, const char *addr, int opcode, uint32_t shard, const char *json)
{
    r->addr = addr;
    r->opcode = opcode;
    r->shard = shard;
    r->json = json;
}

/* The move failed for now: start it over later. */
static void
restart(struct jmig *j, struct move *mv, const char *why)
{
    mv->restarts++;
    mv->phase = MV_PENDING;
    mv->retry_at_ms = report_now_ms() + (mv->restarts > 5 ? 2000 : 200 * mv->restarts);
    progress_event(j, "restart",
                   "\"zone\":\"%s\",\"shard\":%u,\"source\":\"%s\",\"target\":\"%s\",\"reason\":"
                   "\"%s\"",
                   mv->zone, mv->shard, mv->src_addr, mv->to_addr, why);
}

/* A store did not answer: fine for a while, fatal after --wait. */
static int
unreachable(struct jmig *j, struct move *mv, const char *addr, int rc, char *err, size_t errlen)
{
    uint64_t now = report_now_ms();
    if (mv->unreachable_since_ms == 0) {
        mv->unreachable_since_ms = now;
        /* the move starts over once the store answers again */
        progress_event(j, "unreachable",
                       "\"zone\":\"%s\",\"shard\":%u,\"store\":\"%s\",\"error\":\"%s\","
                       "\"wait_s\":%llu",
                       mv->zone, mv->shard, addr, error_str(rc),
                       (unsigned long long)(j->wait_ms / 1000));
    }
    if (now - mv->unreachable_since_ms > j->wait_ms) {
        snprintf(err, errlen, "store %s does not answer (zone %s, shard %u): %s", addr, mv->zone,
                 mv->shard, error_str(rc));
        return rc;
    }
    mv->phase = MV_PENDING;
    mv->retry_at_ms = now + 500;
    return 0;
}

/* The source for mv: from_addr if it answers, else the shard's owner in
 * another zone of the old map that answers. */
static int
pick_source(struct jmig *j, struct move *mv)
{
    int st;
    if (strcmp(mv->src_addr, mv->from_addr) == 0 && mv->restarts == 0)
        return 0; /* the first try: the status call that follows finds out */
    if (store_call(mv->from_addr, WIRE_OP_NOP, 0, NULL, &st, NULL, 0) == 0) {
        snprintf(mv->src_addr, sizeof(mv->src_addr), "%s", mv->from_addr);
        return 0;
    }
    for (uint32_t z = 0; z < j->old_map->nzones; z++) {
        if (strcmp(j->old_map->zones[z].name, mv->zone) == 0) continue;
        const struct map_node *n = map_owner(j->old_map, z, mv->shard);
        if (store_call(n->addr, WIRE_OP_NOP, 0, NULL, &st, NULL, 0) == 0) {
            if (strcmp(mv->src_addr, n->addr) != 0)
                progress_event(j, "source",
                               "\"zone\":\"%s\",\"shard\":%u,\"dead\":\"%s\",\"source\":\"%s\","
                               "\"source_zone\":\"%s\"",
                               mv->zone, mv->shard, mv->from_addr, n->addr,
                               j->old_map->zones[z].name);
            snprintf(mv->src_addr, sizeof(mv->src_addr), "%s", n->addr);
            return 0;
        }
    }
    return JUNO_ECONNREFUSED;
}

/* What a round works with: room for a request per move (two in the start's
 * second step), and the moves each batch is about. */
struct round {
    struct store_req *rq;
    struct move **mv;
    int *flag;
    char (*json)[MAP_ADDR_MAX + 64];
};

/* Keep the moves of r->mv[0..n) whose flag is set: their new count. */
static size_t
keep_flagged(struct round *r, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r->flag[i]) r->mv[k++] = r->mv[i];
    return k;
}

/* Start the moves r->mv[0..n) (PENDING, each with a free slot):
 *   MigrateStatus on each source (an earlier run's stream of the shard to the
 *   same target is kept as it is) → MigrateStop of any other stream, and
 *   ShardInfo on the target → DropShard on the target where the shard is not
 *   empty (a clean slate; an empty one needs none, and a drop costs a WAL
 *   sync) → MigrateStart {"target":TO,"rate":R} on the source. */
static int
start_moves(struct jmig *j, struct round *r, size_t n, int *busy, char *err, size_t errlen)
{
    size_t k = 0;
    int rc;
    for (size_t i = 0; i < n; i++) {
        struct move *mv = r->mv[i];
        if (mv->restarts > MAX_RESTARTS) {
            snprintf(err, errlen, "zone %s shard %u failed %u times; last source %s", mv->zone,
                     mv->shard, mv->restarts, mv->src_addr);
            return JUNO_EIO;
        }
        if (pick_source(j, mv) != 0) {
            if ((rc = unreachable(j, mv, mv->from_addr, JUNO_ECONNREFUSED, err, errlen)) != 0)
                return rc;
            continue;
        }
        r->mv[k++] = mv;
    }
    n = k;
    for (size_t i = 0; i < n; i++)
        req_set(&r->rq[i], r->mv[i]->src_addr, WIRE_OP_MIGRATE_STATUS, r->mv[i]->shard, NULL);
    store_calls(r->rq, n);
    for (size_t i = 0; i < n; i++) { /* flag: 0 done here, 1 go on, 2 go on after a Stop */
        struct move *mv = r->mv[i];
        r->flag[i] = 0;
        if (r->rq[i].rc != 0) {
            mv->restarts += mv->restarts == 0; /* look for another source next time */
            if ((rc = unreachable(j, mv, mv->src_addr, r->rq[i].rc, err, errlen)) != 0) return rc;
            continue;
        }
        cJSON *o = cJSON_Parse(r->rq[i].out);
        const char *state = json_str(o, "state");
        int keep = strcmp(json_str(o, "target"), mv->to_addr) == 0 &&
                   (strcmp(state, "copying") == 0 || strcmp(state, "caught_up") == 0);
        int none = strcmp(state, "none") == 0;
        cJSON_Delete(o);
        if (keep) {
            mv->phase = MV_COPYING;
            mv->unreachable_since_ms = 0;
            *busy = 1;
            continue;
        }
        r->flag[i] = none ? 1 : 2;
    }
    /* MigrateStop of the other streams (their answer does not matter), and
     * ShardInfo on the targets */
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->flag[i] == 2)
            req_set(&r->rq[nr++], r->mv[i]->src_addr, WIRE_OP_MIGRATE_STOP, r->mv[i]->shard, NULL);
        if (r->flag[i] != 0)
            req_set(&r->rq[nr++], r->mv[i]->to_addr, WIRE_OP_SHARD_INFO, r->mv[i]->shard, NULL);
    }
    store_calls(r->rq, nr);
    n = keep_flagged(r, n);
    nr = 0;
    for (size_t i = 0; i < n; i++) { /* flag: 0 done here, 1 start, 2 drop first */
        struct store_req *q = &r->rq[nr];
        while (q->opcode != WIRE_OP_SHARD_INFO) q++, nr++;
        nr++;
        struct move *mv = r->mv[i];
        r->flag[i] = 0;
        if (q->rc != 0) {
            if ((rc = unreachable(j, mv, mv->to_addr, q->rc, err, errlen)) != 0) return rc;
            continue;
        }
        cJSON *o = cJSON_Parse(q->out);
        int empty = q->status == WIRE_ST_OK && json_num(o, "records") == 0;
        cJSON_Delete(o);
        r->flag[i] = empty ? 1 : 2;
    }
    n = keep_flagged(r, n);
    nr = 0;
    for (size_t i = 0; i < n; i++)
        if (r->flag[i] == 2)
            req_set(&r->rq[nr++], r->mv[i]->to_addr, WIRE_OP_DROP_SHARD, r->mv[i]->shard, NULL);
    store_calls(r->rq, nr);
    nr = 0;
    for (size_t i = 0; i < n; i++) {
        struct move *mv = r->mv[i];
        if (r->flag[i] != 2) continue;
        struct store_req *q = &r->rq[nr++];
        r->flag[i] = 0;
        if (q->rc != 0) {
            if ((rc = unreachable(j, mv, mv->to_addr, q->rc, err, errlen)) != 0) return rc;
            continue;
        }
        /* BadParam: the target owns the shard already (a new store started
         * with the plan's map); Clone keeps the newer copy, so go on */
        if (q->status != WIRE_ST_OK && q->status != WIRE_ST_BAD_PARAM) {
            snprintf(err, errlen, "target %s refused to clear shard %u before the copy: %s",
                     mv->to_addr, mv->shard, wire_status_name(q->status));
            return JUNO_EIO;
        }
        r->flag[i] = 1;
    }
    n = keep_flagged(r, n);
    size_t streams = (size_t)j->parallel * j->plan.map->nzones;
    unsigned long long rate = j->rate ? (j->rate + streams - 1) / streams : 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(r->json[i], sizeof(r->json[i]), "{\"target\":\"%s\",\"rate\":%llu}",
                 r->mv[i]->to_addr, rate);
        req_set(&r->rq[i], r->mv[i]->src_addr, WIRE_OP_MIGRATE_START, r->mv[i]->shard, r->json[i]);
    }
    store_calls(r->rq, n);
    for (size_t i = 0; i < n; i++) {
        struct move *mv = r->mv[i];
        if (r->rq[i].rc != 0) {
            if ((rc = unreachable(j, mv, mv->src_addr, r->rq[i].rc, err, errlen)) != 0) return rc;
            continue;
        }
        if (r->rq[i].status != WIRE_ST_OK) {
            restart(j, mv, r->rq[i].out);
            continue;
        }
        mv->unreachable_since_ms = 0;
        mv->phase = MV_COPYING;
        *busy = 1;
    }
    return 0;
}

/* MigrateStatus of the copying moves r->mv[0..n): caught up → VERIFYING. */
static int
poll_copying(struct jmig *j, struct round *r, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        req_set(&r->rq[i], r->mv[i]->src_addr, WIRE_OP_MIGRATE_STATUS, r->mv[i]->shard, NULL);
    store_calls(r->rq, n);
    for (size_t i = 0; i < n; i++) {
        struct move *mv = r->mv[i];
        int rc = r->rq[i].rc;
        if (rc != 0) {
            if ((rc = unreachable(j, mv, mv->src_addr, rc, err, errlen)) != 0) return rc;
            continue;
        }
        mv->unreachable_since_ms = 0;
        cJSON *o = cJSON_Parse(r->rq[i].out);
        const char *state = json_str(o, "state");
        mv->records = (uint64_t)json_num(o, "records");
        mv->bytes = (uint64_t)json_num(o, "bytes");
        if (strcmp(json_str(o, "target"), mv->to_addr) != 0) {
            restart(j, mv, "the source streams this shard elsewhere (another juno-migrate?)");
        } else if (strcmp(state, "caught_up") == 0) {
            mv->phase = MV_VERIFYING;
        } else if (strcmp(state, "copying") != 0) {
            char why[300];
            snprintf(why, sizeof(why), "stream %s: %s", state, json_str(o, "error"));
            restart(j, mv, why);
        }
        cJSON_Delete(o);
    }
    return 0;
}

/* MigrateVerify of the caught-up moves r->mv[0..n): the source holds the
 * shard's writes and compares its count and hash with the target's. */
static int
verify_moves(struct jmig *j, struct round *r, size_t n, int *busy, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        req_set(&r->rq[i], r->mv[i]->src_addr, WIRE_OP_MIGRATE_VERIFY, r->mv[i]->shard, NULL);
    store_calls(r->rq, n);
    for (size_t i = 0; i < n; i++) {
        struct move *mv = r->mv[i];
        int rc = r->rq[i].rc, st = r->rq[i].status;
        if (rc != 0) {
            if ((rc = unreachable(j, mv, mv->src_addr, rc, err, errlen)) != 0) return rc;
            continue;
        }
        if (st == WIRE_ST_BUSY) continue; /* try again next round */
        cJSON *o = cJSON_Parse(r->rq[i].out);
        const cJSON *match = cJSON_GetObjectItemCaseSensitive(o, "match");
        if (st == WIRE_ST_OK && cJSON_IsTrue(match)) {
            mv->phase = MV_DONE;
            progress_move_done(j, mv);
            *busy = 1; /* a free slot for a pending move */
        } else if (st == WIRE_ST_OK) {
            restart(j, mv, "source and target differ after the copy");
        } else {
            restart(j, mv, "the stream ended before it was verified");
        }
        cJSON_Delete(o);
    }
    return 0;
}

static int
round_init(struct round *r, size_t n)
{
    n = n ? n : 1;
    r->rq = calloc(2 * n, sizeof(*r->rq));
    r->mv = calloc(n, sizeof(*r->mv));
    r->flag = calloc(n, sizeof(*r->flag));
    r->json = calloc(n, sizeof(*r->json));
    return r->rq && r->mv && r->flag && r->json ? 0 : JUNO_ENOMEM;
}

static void
round_deinit(struct round *r)
{
    free(r->rq), free(r->mv), free(r->flag), free(r->json);
}

/* The moves of phase ph due now, in r->mv: their count. Pending ones only
 * while their zone has a free slot (active counts the moves under way). */
static size_t
select_moves(struct jmig *j, struct round *r, enum move_phase ph, unsigned *active)
{
    uint64_t now = report_now_ms();
    size_t n = 0;
    for (size_t i = 0; i < j->plan.nmoves; i++) {
        struct move *mv = &j->plan.moves[i];
        if (mv->phase != ph || mv->retry_at_ms > now) continue;
        if (ph == MV_PENDING) {
            if (active[mv->zone_index] >= j->parallel) continue;
            active[mv->zone_index]++;
        }
        r->mv[n++] = mv;
    }
    return n;
}

static int
run_rounds(struct jmig *j, struct round *r, char *err, size_t errlen)
{
    struct plan *p = &j->plan;
    for (;;) {
        int busy = 0, rc;
        unsigned active[MAP_MAX_ZONES] = {0};
        for (size_t i = 0; i < p->nmoves; i++)
            if (p->moves[i].phase == MV_COPYING || p->moves[i].phase == MV_VERIFYING)
                active[p->moves[i].zone_index]++;
        size_t n = select_moves(j, r, MV_PENDING, active);
        if (n > 0 && (rc = start_moves(j, r, n, &busy, err, errlen)) != 0) return rc;
        n = select_moves(j, r, MV_COPYING, active);
        if (n > 0 && (rc = poll_copying(j, r, n, err, errlen)) != 0) return rc;
        /* caught up: verified in the same round */
        n = select_moves(j, r, MV_VERIFYING, active);
        if (n > 0 && (rc = verify_moves(j, r, n, &busy, err, errlen)) != 0) return rc;
        size_t done = 0;
        for (size_t i = 0; i < p->nmoves; i++) done += p->moves[i].phase == MV_DONE;
        progress_draw(j, 0);
        if (done == p->nmoves) return 0;
        if (!busy) { /* nothing moved on this round: a short wait (status calls are cheap) */
            struct timespec ts = {0, 2 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

int
moves_run(struct jmig *j, char *err, size_t errlen)
{
    struct round r;
    int rc = round_init(&r, j->plan.nmoves);
    if (rc == 0)
        rc = run_rounds(j, &r, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    round_deinit(&r);
    return rc;
}

size_t
moves_recheck(struct jmig *j)
{
    size_t n = j->plan.nmoves, back = 0;
    struct store_req *rq = calloc(n ? n : 1, sizeof(*rq));
    if (rq == NULL) return 0; /* nothing known to be wrong */
    for (size_t i = 0; i < n; i++) {
        struct move *mv = &j->plan.moves[i];
        req_set(&rq[i], mv->src_addr, WIRE_OP_MIGRATE_STATUS, mv->shard, NULL);
    }
    store_calls(rq, n);
    for (size_t i = 0; i < n; i++) {
        struct move *mv = &j->plan.moves[i];
        cJSON *o = rq[i].rc == 0 ? cJSON_Parse(rq[i].out) : NULL;
        int ok = o != NULL && strcmp(json_str(o, "state"), "caught_up") == 0 &&
                 strcmp(json_str(o, "target"), mv->to_addr) == 0;
        cJSON_Delete(o);
        if (!ok) {
            restart(j, mv, "no longer forwarding before the publish");
            back++;
        }
    }
    free(rq);
    return back;
}

/* MigrateStop for each moved shard on every owner of it in the old map (the
 * source may have been another zone's owner), all at once. */
static int
stop_everywhere(struct jmig *j)
{
    size_t nz = j->old_map->nzones, n = 0;
    struct store_req *rq = calloc(j->plan.nmoves * nz + 1, sizeof(*rq));
    if (rq == NULL) return JUNO_ENOMEM;
    for (size_t i = 0; i < j->plan.nmoves; i++)
        for (uint32_t z = 0; z < nz; z++)
            req_set(&rq[n++], map_owner(j->old_map, z, j->plan.moves[i].shard)->addr,
                    WIRE_OP_MIGRATE_STOP, j->plan.moves[i].shard, NULL);
    store_calls(rq, n);
    free(rq);
    return 0;
}

int
moves_finish(struct jmig *j, char *err, size_t errlen)
{
    const struct map *next = j->plan.map;
    size_t n = 0;
    if (stop_everywhere(j) != 0) {
        snprintf(err, errlen, "out of memory");
        return JUNO_ENOMEM;
    }
    struct store_req *rq = calloc(j->plan.nmoves + 1, sizeof(*rq));
    struct move **drop = calloc(j->plan.nmoves + 1, sizeof(*drop));
    if (rq == NULL || drop == NULL) {
        free(rq), free(drop);
        snprintf(err, errlen, "out of memory");
        return JUNO_ENOMEM;
    }
    for (size_t i = 0; i < j->plan.nmoves; i++) /* a removed source is stopped later */
        if (map_node_find(next, j->plan.moves[i].zone_index, j->plan.moves[i].from) >= 0)
            drop[n++] = &j->plan.moves[i];
    uint64_t deadline = report_now_ms() + j->wait_ms;
    int rc = 0;
    while (n > 0) {
        for (size_t i = 0; i < n; i++)
            req_set(&rq[i], drop[i]->from_addr, WIRE_OP_DROP_SHARD, drop[i]->shard, NULL);
        store_calls(rq, n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (rq[i].rc == 0 && rq[i].status == WIRE_ST_OK) continue;
            if (report_now_ms() > deadline) {
                int st = rq[i].status;
                rc = rq[i].rc ? rq[i].rc : JUNO_ETIMEDOUT;
                snprintf(err, errlen, "unable to drop shard %u on %s: %s", drop[i]->shard,
                         drop[i]->from_addr,
                         rq[i].rc                  ? error_str(rq[i].rc)
                         : st == WIRE_ST_BAD_PARAM ? "the store still owns it (has it loaded "
                                                     "the new map?)"
                                                   : wire_status_name(st));
                break;
            }
            drop[k++] = drop[i];
        }
        if (rc != 0) break;
        n = k;
        if (n > 0) { /* a store has not loaded the new map yet */
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    free(rq), free(drop);
    return rc;
}

int
moves_abort(struct jmig *j, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    size_t n = j->plan.nmoves;
    stop_everywhere(j);
    struct store_req *rq = calloc(n ? n : 1, sizeof(*rq));
    if (rq == NULL) return JUNO_ENOMEM;
    for (size_t i = 0; i < n; i++)
        req_set(&rq[i], j->plan.moves[i].to_addr, WIRE_OP_DROP_SHARD, j->plan.moves[i].shard, NULL);
    store_calls(rq, n);
    for (size_t i = 0; i < n; i++) {
        const struct move *mv = &j->plan.moves[i];
        if (rq[i].rc != 0 || rq[i].status != WIRE_ST_OK)
            progress_event(j, "warning", "\"message\":\"cannot drop shard %u copied to %s: %s\"",
                           mv->shard, mv->to_addr,
                           rq[i].rc ? error_str(rq[i].rc) : wire_status_name(rq[i].status));
    }
    free(rq);
    return 0;
}
