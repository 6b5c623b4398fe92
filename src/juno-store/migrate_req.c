/* migrate_req.c: juno-migrate's requests to a source store (MigrateStart,
 * MigrateStatus, MigrateVerify, MigrateStop: migrate_dispatch) and the
 * hooks by which the store's writes, drops, map loads and shutdown reach the
 * streams of migrate.c (forwarding a write applied to a shard being moved).
 */
#include "migrate_int.h"
#include "smetrics.h"

#include "cli.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ---- */

void
mig__detach(struct mig *g)
{
    struct migrate *m = g->s->migrate;
    if (m->out[g->shard] == g) m->out[g->shard] = NULL;
    g->detached = 1;
    mig__finish_waiter(g, WIRE_ST_SS_ERROR, NULL);
    mig__close(g);
    mig__maybe_free(g);
}

static void
migrate_start(struct store *s, struct conn *c, const struct wire_msg *req)
{
    struct migrate *m = s->migrate;
    uint16_t shard = req->shard_id;
    cJSON *o = cJSON_ParseWithLength((const char *)req->value.ptr, req->value.len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "target");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rate");
    char host[256], self[300];
    uint16_t port;
    const char *why = NULL;
    if (o == NULL || !cJSON_IsObject(o))
        why = "expected a JSON object {\"target\":\"HOST:PORT\",\"rate\":BYTES_PER_SECOND}";
    else if (!cJSON_IsString(t) || strlen(t->valuestring) > MAP_ADDR_MAX ||
             cli_parse_hostport(t->valuestring, host, sizeof(host), &port) != 0)
        why = "\"target\" must be HOST:PORT";
    else if (r != NULL && (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble > 1e12))
        why = "\"rate\" must be a number of bytes per second, 0 for no limit";
    else if (!s->owned[shard] && !(m->out[shard] && mig__forwarding(m->out[shard])))
        why = "shard not owned by this store";
    if (why == NULL) {
        snprintf(self, sizeof(self), "%s:%u", s->cfg.listen_host, s->cfg.listen_port);
        if (strcmp(self, t->valuestring) == 0) why = "the target is this store";
    }
    if (why != NULL) {
        cJSON_Delete(o);
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM, why);
        return;
    }
    struct mig *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        cJSON_Delete(o);
        conn_reply_error(c, req, WIRE_ST_SS_OUT_OF_RESOURCE, "out of memory");
        return;
    }
    if (m->out[shard]) {
        snprintf(m->out[shard]->error, sizeof(m->out[shard]->error), "replaced by a new start");
        if (mig__forwarding(m->out[shard])) m->out[shard]->state = MIG_STOPPED;
        mig__detach(m->out[shard]);
    }
    g->s = s;
    g->shard = shard;
    snprintf(g->target, sizeof(g->target), "%s", t->valuestring);
    g->rate = r ? (uint64_t)r->valuedouble : 0;
    g->chunk_limit = MIG_CHUNK_BYTES; /* 20 ms worth when rate limited */
    if (g->rate > 0 && g->rate / 50 < g->chunk_limit)
        g->chunk_limit = g->rate / 50 < 1024 ? 1024 : g->rate / 50;
    cJSON_Delete(o);
    g->started_ms = uv_now(s->loop);
    g->next = m->all;
    m->all = g;
    m->out[shard] = g;
    uv_timer_init(s->loop, &g->timer);
    g->timer.data = g;
    g->handles = 1;
    engine_set_droppable(s->engine, shard, 0);

    struct wire_msg accept;
    memset(&accept, 0, sizeof(accept));
    accept.type_flag = WIRE_TF_REQUEST;
    accept.opcode = WIRE_OP_SHARD_ACCEPT;
    accept.shard_id = shard;
    log_info("shard stream starting shard=%u target=%s rate=%" PRIu64, shard, g->target, g->rate);
    struct conn_limits lim = {.max_frame = CLIENT_MAX_FRAME};
    int rc = conn_connect(&s->streams, &mig__proto, &lim, host, port, s->tls_client, g, &g->conn);
    if (rc == 0) rc = mig__queue(g, &accept, OPQ_ACCEPT); /* the first message the target reads */
    if (rc != 0) {
        mig__fail(g, "cannot connect to %s: %s", g->target, error_str(rc));
    } else {
        mig__copy_next(g); /* forwarding is on: the iterator's snapshot comes after it */
    }
    mig__reply_status_json(c, req->opaque, req->opcode, shard, WIRE_ST_OK, g);
}

void
migrate_dispatch(struct store *s, struct conn *c, const struct wire_msg *req)
{
    struct migrate *m = migrate__get(s);
    uint16_t shard = req->shard_id;
    if (m == NULL) {
        conn_reply_error(c, req, s->draining ? WIRE_ST_BUSY : WIRE_ST_SS_OUT_OF_RESOURCE,
                         s->draining ? "draining" : "out of memory");
        return;
    }
    if (shard >= s->nshards) {
        conn_reply_error(c, req, WIRE_ST_BAD_PARAM, "shard id out of range");
        return;
    }
    if (m->shutting_down) {
        conn_reply_error(c, req, WIRE_ST_BUSY, "draining");
        return;
    }
    struct mig *g = m->out[shard];
    switch (req->opcode) {
    case WIRE_OP_MIGRATE_START: migrate_start(s, c, req); break;
    case WIRE_OP_MIGRATE_STATUS:
        mig__reply_status_json(c, req->opaque, req->opcode, shard, WIRE_ST_OK, g);
        break;
    case WIRE_OP_MIGRATE_STOP:
    case WIRE_OP_MIGRATE_VERIFY:
        if (g == NULL) {
            mig__reply_status_json(
                c, req->opaque, req->opcode, shard,
                req->opcode == WIRE_OP_MIGRATE_STOP ? WIRE_ST_OK : WIRE_ST_NO_KEY, NULL);
        } else if (g->waiter != NULL) {
            conn_reply_error(c, req, WIRE_ST_BUSY, "a verify or stop of this shard is under way");
        } else if (req->opcode == WIRE_OP_MIGRATE_VERIFY && g->state != MIG_CAUGHT_UP) {
            mig__reply_status_json(c, req->opaque, req->opcode, shard,
                                   g->state == MIG_COPYING ? WIRE_ST_BUSY : WIRE_ST_SS_ERROR, g);
        } else if (req->opcode == WIRE_OP_MIGRATE_STOP && !mig__forwarding(g)) {
            mig__reply_status_json(c, req->opaque, req->opcode, shard, WIRE_ST_OK, g);
        } else {
            mig__wait(g, c, req);
        }
        break;
    case WIRE_OP_SHARD_ACCEPT:
        if (!m->incoming[shard] && !s->owned[shard])
            log_info("accepting shard moving in shard=%u", shard);
        m->incoming[shard] = 1;
        engine_set_droppable(s->engine, shard, 0);
        mig__reply_json(c, req->opaque, req->opcode, shard, WIRE_ST_OK, NULL);
        break;
    default: conn_reply_error(c, req, WIRE_ST_NOT_SUPPORTED, "unknown opcode");
    }
}

/* ---- hooks from ops.c, server.c and main.c ---- */

void
migrate_submit(struct store *s, uint16_t shard, struct engine_write *w)
{
    struct migrate *m = migrate__get(s);
    if (m == NULL) {
        engine_submit(s->engine, w);
        return;
    }
    struct mig *g = m->out[shard];
    if (g != NULL && g->holding) {
        w->next = NULL;
        if (g->held_tail)
            g->held_tail->next = w;
        else
            g->held_head = w;
        g->held_tail = w;
        return;
    }
    m->pending[shard]++;
    engine_submit(s->engine, w);
}

/* Forward an applied write to the target. */
static void
mig__forward(struct mig *g, const struct engine_write *w)
{
    struct wire_msg msg;
    if (w->op == ENGINE_DELETE) {
        uint16_t shard;
        const uint8_t *ns, *key;
        size_t nslen, keylen;
        if (record_key_decode(w->key, w->klen, &shard, &ns, &nslen, &key, &keylen) != 0) return;
        memset(&msg, 0, sizeof(msg));
        msg.type_flag = WIRE_TF_REQUEST;
        msg.opcode = WIRE_OP_DELETE;
        msg.shard_id = shard;
        uint8_t rid[16] = {0xF0};
        uint64_t n = ++g->s->migrate->fwd_ids, t = uv_hrtime();
        memcpy(rid + 1, &n, 8);
        memcpy(rid + 8, &t, 8);
        wire_meta_set_request_id(&msg.meta, rid);
        msg.ns.ptr = ns;
        msg.ns.len = nslen;
        msg.key.ptr = key;
        msg.key.len = keylen;
    } else if (record_clone_msg(w->key, w->klen, w->val, w->vlen, &msg) != 0) {
        return;
    }
    int rc = mig__queue(g, &msg, OPQ_FORWARD);
    if (rc != 0) {
        mig__fail(g, "cannot forward a write: %s", error_str(rc));
        return;
    }
    g->forwarded++;
    if (g->unacked > MIG_FORWARD_MAX)
        mig__fail(g, "the target is too slow: %" PRIu64 " bytes unacknowledged", g->unacked);
}

void
migrate_written(struct store *s, uint16_t shard, const struct engine_write *w, int status)
{
    struct migrate *m = s->migrate;
    if (m == NULL || w->op == ENGINE_DELETE_RANGE) return;
    if (m->pending[shard] > 0) m->pending[shard]--;
    struct mig *g = m->out[shard];
    if (g == NULL) return;
    if (status == 0 && mig__forwarding(g) && (w->op == ENGINE_DELETE || w->applied))
        mig__forward(g, w);
    if (g->waiter || g->draining) mig__step(g);
}

int
migrate_serves(const struct store *s, uint16_t shard)
{
    const struct migrate *m = s->migrate;
    if (m == NULL) return 0;
    return m->incoming[shard] || (m->out[shard] != NULL && mig__forwarding(m->out[shard]));
}

void
migrate_dropped(struct store *s, uint16_t shard)
{
    if (s->migrate != NULL) s->migrate->incoming[shard] = 0;
}

void
migrate_map_loaded(struct store *s)
{
    struct migrate *m = s->migrate;
    if (m == NULL) return;
    for (uint32_t sh = 0; sh < s->nshards && sh < MIG_SHARDS; sh++) {
        if (s->owned[sh]) {
            m->incoming[sh] = 0; /* the map gives it now */
        } else if (m->incoming[sh] || (m->out[sh] && mig__forwarding(m->out[sh]))) {
            engine_set_droppable(s->engine, (uint16_t)sh, 0); /* still moving */
        }
    }
}

void
migrate_shutdown(struct store *s)
{
    struct migrate *m = s->migrate;
    if (m == NULL) return;
    m->shutting_down = 1;
    for (struct mig *g = m->all, *next; g; g = next) {
        next = g->next;
        if (g->it && !g->working) {
            engine_iter_destroy(g->it); /* before the engine closes */
            g->it = NULL;
        }
        if (g->holding) mig__release(g);
        if (mig__forwarding(g) && g->connected && !g->closed) {
            /* let writes in flight be forwarded, then close */
            g->draining = 1;
            g->wdeadline = uv_now(s->loop) + 5000;
            uv_timer_start(&g->timer, mig__on_timer, 20, 20);
            mig__finish_waiter(g, WIRE_ST_BUSY, NULL);
        } else {
            mig__detach(g);
        }
    }
    m = s->migrate;                    /* freed with the last stream closed above */
    if (m != NULL && m->all == NULL) { /* nothing was open */
        free(m->out), free(m->incoming), free(m->pending), free(m);
        s->migrate = NULL;
    }
}
