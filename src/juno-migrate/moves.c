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
 * per zone are under way; zones run side by side.
 */
#include "jmig.h"

#include "client.h"
#include "error.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 5000
#define MAX_RESTARTS    20

struct sconn {
    char addr[MAP_ADDR_MAX + 1];
    int fd;
    struct client_buf in;
};

static struct sconn conns[256];
static size_t nconns;
static uint32_t next_opaque = 1;

static void
drop_conn(struct sconn *c)
{
    client_close(c->fd);
    client_buf_deinit(&c->in);
    *c = conns[--nconns];
}

void
store_disconnect_all(void)
{
    while (nconns > 0) drop_conn(&conns[0]);
}

int
store_call(const char *addr, int opcode, uint32_t shard, const char *json, int *status, char *out,
           size_t outcap)
{
    struct sconn *c = NULL;
    for (size_t i = 0; i < nconns; i++)
        if (strcmp(conns[i].addr, addr) == 0) c = &conns[i];
    if (c == NULL) {
        if (nconns == sizeof(conns) / sizeof(conns[0])) drop_conn(&conns[0]);
        char err[256];
        int fd = client_connect(addr, 2000, err, sizeof(err));
        if (fd < 0) return fd;
        c = &conns[nconns++];
        snprintf(c->addr, sizeof(c->addr), "%s", addr);
        c->fd = fd;
        client_buf_init(&c->in);
    }
    struct wire_msg req, r;
    memset(&req, 0, sizeof(req));
    req.type_flag = WIRE_TF_REQUEST;
    req.opcode = (uint8_t)opcode;
    req.shard_id = (uint16_t)shard;
    req.opaque = next_opaque++;
    if (json != NULL) {
        req.value.ptr = (const uint8_t *)json;
        req.value.len = strlen(json);
    }
    int rc = client_send(c->fd, &req);
    while (rc == 0) {
        rc = client_recv(&c->in, c->fd, CALL_TIMEOUT_MS, &r);
        if (rc == 0 && r.opaque == req.opaque) break; /* a late reply to a timed-out call: skip */
    }
    if (rc != 0) {
        drop_conn(c);
        return rc;
    }
    *status = r.status;
    if (out != NULL) {
        size_t n = r.value.len < outcap ? r.value.len : outcap - 1;
        if (n > 0) memcpy(out, r.value.ptr, n);
        out[n] = '\0';
    }
    return 0;
}

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

static int
step_pending(struct jmig *j, struct move *mv, char *err, size_t errlen)
{
    char out[1024];
    int st, rc;
    if (mv->restarts > MAX_RESTARTS) {
        snprintf(err, errlen, "zone %s shard %u failed %u times; last source %s", mv->zone,
                 mv->shard, mv->restarts, mv->src_addr);
        return JUNO_EIO;
    }
    if (pick_source(j, mv) != 0)
        return unreachable(j, mv, mv->from_addr, JUNO_ECONNREFUSED, err, errlen);
    /* an earlier run's stream of this shard to this target: keep it */
    rc = store_call(mv->src_addr, WIRE_OP_MIGRATE_STATUS, mv->shard, NULL, &st, out, sizeof(out));
    if (rc != 0) {
        mv->restarts += mv->restarts == 0; /* look for another source next time */
        return unreachable(j, mv, mv->src_addr, rc, err, errlen);
    }
    cJSON *o = cJSON_Parse(out);
    const char *state = json_str(o, "state");
    int keep = strcmp(json_str(o, "target"), mv->to_addr) == 0 &&
               (strcmp(state, "copying") == 0 || strcmp(state, "caught_up") == 0);
    int none = strcmp(state, "none") == 0;
    cJSON_Delete(o);
    if (keep) {
        mv->phase = MV_COPYING;
        mv->unreachable_since_ms = 0;
        return 0;
    }
    if (!none) store_call(mv->src_addr, WIRE_OP_MIGRATE_STOP, mv->shard, NULL, &st, NULL, 0);
    /* a clean slate on the target; an empty shard needs no DropShard (which
     * costs a WAL sync) */
    rc = store_call(mv->to_addr, WIRE_OP_SHARD_INFO, mv->shard, NULL, &st, out, sizeof(out));
    if (rc != 0) return unreachable(j, mv, mv->to_addr, rc, err, errlen);
    o = cJSON_Parse(out);
    int empty = st == WIRE_ST_OK && json_num(o, "records") == 0;
    cJSON_Delete(o);
    st = WIRE_ST_OK;
    if (!empty)
        rc = store_call(mv->to_addr, WIRE_OP_DROP_SHARD, mv->shard, NULL, &st, out, sizeof(out));
    if (rc != 0) return unreachable(j, mv, mv->to_addr, rc, err, errlen);
    /* BadParam: the target owns the shard already (a new store started with
     * the plan's map); Clone keeps the newer copy, so go on without the drop */
    if (st != WIRE_ST_OK && st != WIRE_ST_BAD_PARAM) {
        snprintf(err, errlen, "target %s refused to clear shard %u before the copy: %s",
                 mv->to_addr, mv->shard, wire_status_name(st));
        return JUNO_EIO;
    }
    char req[MAP_ADDR_MAX + 64];
    size_t streams = (size_t)j->parallel * j->plan.map->nzones;
    snprintf(req, sizeof(req), "{\"target\":\"%s\",\"rate\":%llu}", mv->to_addr,
             (unsigned long long)(j->rate ? (j->rate + streams - 1) / streams : 0));
    rc = store_call(mv->src_addr, WIRE_OP_MIGRATE_START, mv->shard, req, &st, out, sizeof(out));
    if (rc != 0) return unreachable(j, mv, mv->src_addr, rc, err, errlen);
    if (st != WIRE_ST_OK) {
        restart(j, mv, out);
        return 0;
    }
    mv->unreachable_since_ms = 0;
    mv->phase = MV_COPYING;
    return 0;
}

static int
step_copying(struct jmig *j, struct move *mv, char *err, size_t errlen)
{
    char out[1024];
    int st;
    int rc =
        store_call(mv->src_addr, WIRE_OP_MIGRATE_STATUS, mv->shard, NULL, &st, out, sizeof(out));
    if (rc != 0) return unreachable(j, mv, mv->src_addr, rc, err, errlen);
    mv->unreachable_since_ms = 0;
    cJSON *o = cJSON_Parse(out);
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
    return 0;
}

static int
step_verifying(struct jmig *j, struct move *mv, char *err, size_t errlen)
{
    char out[2048];
    int st;
    int rc =
        store_call(mv->src_addr, WIRE_OP_MIGRATE_VERIFY, mv->shard, NULL, &st, out, sizeof(out));
    if (rc != 0) return unreachable(j, mv, mv->src_addr, rc, err, errlen);
    if (st == WIRE_ST_BUSY) return 0; /* try again next round */
    cJSON *o = cJSON_Parse(out);
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(o, "match");
    if (st == WIRE_ST_OK && cJSON_IsTrue(match)) {
        mv->phase = MV_DONE;
        progress_move_done(j, mv);
    } else if (st == WIRE_ST_OK) {
        restart(j, mv, "source and target differ after the copy");
    } else {
        restart(j, mv, "the stream ended before it was verified");
    }
    cJSON_Delete(o);
    return 0;
}

int
moves_run(struct jmig *j, char *err, size_t errlen)
{
    struct plan *p = &j->plan;
    for (;;) {
        size_t done = 0;
        int busy = 0;
        unsigned active[MAP_MAX_ZONES] = {0};
        for (size_t i = 0; i < p->nmoves; i++)
            if (p->moves[i].phase == MV_COPYING || p->moves[i].phase == MV_VERIFYING)
                active[p->moves[i].zone_index]++;
        uint64_t now = report_now_ms();
        for (size_t i = 0; i < p->nmoves; i++) {
            struct move *mv = &p->moves[i];
            int rc = 0;
            if (mv->retry_at_ms > now) continue;
            switch (mv->phase) {
            case MV_PENDING:
                if (active[mv->zone_index] >= j->parallel) break;
                rc = step_pending(j, mv, err, errlen);
                if (mv->phase == MV_COPYING) active[mv->zone_index]++, busy = 1;
                break;
            case MV_COPYING:
                rc = step_copying(j, mv, err, errlen);
                if (rc != 0 || mv->phase != MV_VERIFYING) break;
                busy = 1; /* caught up: verify now rather than next round */
                /* fall through */
            case MV_VERIFYING:
                rc = step_verifying(j, mv, err, errlen);
                if (mv->phase == MV_DONE) busy = 1; /* a free slot for a pending move */
                break;
            case MV_DONE: break;
            }
            if (rc != 0) return rc;
            if (mv->phase == MV_DONE) done++;
        }
        progress_draw(j, 0);
        if (done == p->nmoves) return 0;
        if (!busy) { /* nothing moved on this round: a short wait (status calls are cheap) */
            struct timespec ts = {0, 2 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

size_t
moves_recheck(struct jmig *j)
{
    size_t back = 0;
    char out[1024];
    for (size_t i = 0; i < j->plan.nmoves; i++) {
        struct move *mv = &j->plan.moves[i];
        int st;
        int ok = store_call(mv->src_addr, WIRE_OP_MIGRATE_STATUS, mv->shard, NULL, &st, out,
                            sizeof(out)) == 0;
        cJSON *o = ok ? cJSON_Parse(out) : NULL;
        ok = ok && strcmp(json_str(o, "state"), "caught_up") == 0 &&
             strcmp(json_str(o, "target"), mv->to_addr) == 0;
        cJSON_Delete(o);
        if (!ok) {
            restart(j, mv, "no longer forwarding before the publish");
            back++;
        }
    }
    return back;
}

/* MigrateStop for shard on every owner of it in the old map (the source may
 * have been another zone's owner). */
static void
stop_everywhere(struct jmig *j, uint32_t shard)
{
    int st;
    for (uint32_t z = 0; z < j->old_map->nzones; z++)
        store_call(map_owner(j->old_map, z, shard)->addr, WIRE_OP_MIGRATE_STOP, shard, NULL, &st,
                   NULL, 0);
}

int
moves_finish(struct jmig *j, char *err, size_t errlen)
{
    const struct map *next = j->plan.map;
    for (size_t i = 0; i < j->plan.nmoves; i++) {
        struct move *mv = &j->plan.moves[i];
        stop_everywhere(j, mv->shard);
        if (map_node_find(next, mv->zone_index, mv->from) < 0)
            continue; /* removed: stopped later */
        uint64_t deadline = report_now_ms() + j->wait_ms;
        for (;;) {
            int st;
            char out[512];
            int rc = store_call(mv->from_addr, WIRE_OP_DROP_SHARD, mv->shard, NULL, &st, out,
                                sizeof(out));
            if (rc == 0 && st == WIRE_ST_OK) break;
            if (report_now_ms() > deadline) {
                snprintf(err, errlen, "unable to drop shard %u on %s: %s", mv->shard, mv->from_addr,
                         rc                        ? error_str(rc)
                         : st == WIRE_ST_BAD_PARAM ? "the store still owns it (has it loaded "
                                                     "the new map?)"
                                                   : wire_status_name(st));
                return rc ? rc : JUNO_ETIMEDOUT;
            }
            struct timespec ts = {0, 100 * 1000000L}; /* it has not loaded the new map yet */
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

int
moves_abort(struct jmig *j, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    for (size_t i = 0; i < j->plan.nmoves; i++) {
        struct move *mv = &j->plan.moves[i];
        stop_everywhere(j, mv->shard);
        int st;
        char out[512];
        int rc =
            store_call(mv->to_addr, WIRE_OP_DROP_SHARD, mv->shard, NULL, &st, out, sizeof(out));
        if (rc != 0 || st != WIRE_ST_OK)
            progress_event(j, "warning", "\"message\":\"cannot drop shard %u copied to %s: %s\"",
                           mv->shard, mv->to_addr, rc ? error_str(rc) : wire_status_name(st));
    }
    return 0;
}
