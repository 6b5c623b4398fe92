/* server.c: juno-store's listener and connections, on lib/conn.
 *
 * Bytes read are framed with wire_frame (a frame over --max-frame is refused
 * from its first 8 bytes, before any buffering: the connection answers what
 * came before it, then closes), decoded, and handed to ops_dispatch.
 * Replies are appended to the connection's output and written once per loop
 * turn (uv_check), so a pipelined burst of requests costs one write. A
 * connection with too much in flight stops reading until its replies drain.
 * A connection is freed only after its handle has closed and no request or
 * write still refers to it. Shard streams to other stores (migrate.c) are
 * connections of their own group, flushed in the same uv_check.
 */
#include "copyprio.h"
#include "smetrics.h"
#include "store.h"

#include "error.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void server__maybe_finish(struct store *s);

struct store *
conn_store(struct conn *c)
{
    return c->data;
}

uint64_t
server_inflight(const struct store *s)
{
    return s->inflight + s->conns.refs;
}

void
conn_reply(struct conn *c, const struct wire_msg *m)
{
    smetrics_reply(m->opcode, m->status);
    size_t n = wire_encoded_size(m);
    uint8_t *p = conn_reserve(c, n);
    if (p == NULL) {
        if (!c->closing) {
            log_error("out of memory for replies, closing peer=%s", c->peer);
            conn_close(c);
        }
        return;
    }
    int w = wire_encode(m, p, c->out.cap - c->out.len);
    if (w < 0) {
        log_error("cannot encode reply op=%s: %s", wire_opcode_name(m->opcode), error_str(w));
        return;
    }
    c->out.len += (size_t)w;
}

void
conn_reply_value(struct conn *c, uint32_t opaque, uint8_t opcode, uint16_t shard, int status,
                 const uint8_t *v, size_t len)
{
    struct wire_msg r;
    memset(&r, 0, sizeof(r));
    r.type_flag = WIRE_TF_RESPONSE;
    r.opaque = opaque;
    r.opcode = opcode;
    r.status = (uint8_t)status;
    r.shard_id = shard;
    r.value.ptr = v;
    r.value.len = v != NULL ? len : 0;
    conn_reply(c, &r);
}

void
conn_reply_error(struct conn *c, const struct wire_msg *req, int status, const char *why)
{
    log_info("rejected request op=%s shard=%u status=%s reason=\"%s\"",
             wire_opcode_name(req->opcode), req->shard_id, wire_status_name(status), why);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", why);
    char *json = o ? cJSON_PrintUnformatted(o) : NULL; /* NULL: a reply without a value */
    cJSON_Delete(o);
    conn_reply_value(c, req->opaque, req->opcode, req->shard_id, status, (const uint8_t *)json,
                     json ? strlen(json) : 0);
    free(json);
}

/* ---- the protocol ---- */

static void
server__handle(struct conn *c, const uint8_t *frame, size_t len)
{
    struct store *s = c->data;
    struct wire_msg m;
    int st = wire_decode(frame, len, &m);
    s->stats.requests++;
    if (st != WIRE_ST_OK) {
        s->stats.errors++;
        log_warn("malformed message peer=%s opaque=%u op=%s", c->peer, m.opaque,
                 wire_opcode_name(m.opcode));
        struct wire_msg r = {.type_flag = WIRE_TF_RESPONSE,
                             .opaque = m.opaque,
                             .opcode = m.opcode,
                             .status = (uint8_t)st};
        conn_reply(c, &r);
        return;
    }
    ops_dispatch(s, c, &m);
}

static void
server__bad_frame(struct conn *c, const char *why)
{
    struct store *s = c->data;
    s->stats.bad_frames++;
    smetrics_bad_frame();
    log_warn("bad frame, closing connection peer=%s reason=\"%s\"", c->peer, why);
}

static int
server__open(struct conn *c)
{
    struct store *s = c->data;
    s->stats.connections++;
    smetrics_conn(1);
    return 0;
}

static void
server__close(struct conn *c)
{
    (void)c;
    smetrics_conn(-1);
}

static void
server__tls_refused(struct conn *c, int reason)
{
    (void)c;
    smetrics_tls_refused(0, reason);
}

static const struct conn_proto server_proto = {
    .what = "connection",
    .frame = conn_wire_frame,
    .handle = server__handle,
    .bad_frame = server__bad_frame,
    .open = server__open,
    .close = server__close,
    .tls_refused = server__tls_refused,
};

/* ---- the loop ---- */

/* uv_check: shard streams, this turn's writes (one lock, one wakeup), then
 * each connection's coalesced replies in one write, then the turn's reads
 * for the thread pool in batches. */
static void
server__on_check(uv_check_t *h)
{
    struct store *s = h->data;
    conn_group_flush(&s->streams);         /* forwarded writes and copied records */
    if (s->engine) engine_kick(s->engine); /* --memory: may apply and answer writes now */
    conn_group_flush(&s->streams);         /* what the writes applied in the kick forwarded */
    conn_group_flush(&s->conns);
    ops_read_flush(s); /* last: the writes applied above may have woken reads */
    server__maybe_finish(s);
}

/* Once a second: reclaim expired locks, close idle connections, finish a drain. */
static void
server__on_sweep(uv_timer_t *t)
{
    struct store *s = t->data;
    locks_sweep(&s->locks, uv_now(s->loop));
    conn_group_sweep(&s->conns);
    conn_group_sweep(&s->streams);
    copyprio_sweep(s, uv_now(s->loop));
    server__maybe_finish(s);
}

static void
server__progress(struct conn_group *g)
{
    server__maybe_finish(g->data);
}

int
server_start(struct store *s, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(s->cfg.listen_host, s->cfg.listen_port, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        snprintf(err, errlen, "bad listen address %s: %s", s->cfg.listen_host, uv_strerror(rc));
        return JUNO_EINVAL;
    }
    conn_group_init(&s->conns, s->loop, s);
    conn_group_init(&s->streams, s->loop, s);
    s->conns.progress = server__progress;
    struct conn_limits lim = {.max_frame = s->cfg.max_frame,
                              .max_backlog = s->cfg.max_inflight,
                              .idle_ms = s->cfg.idle_timeout_s * 1000};
    rc = conn_listen_addr(&s->listener, &s->conns, &server_proto, &lim, (struct sockaddr *)&addr,
                          s->tls_server, s);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", s->cfg.listen_host, s->cfg.listen_port,
                 error_str(rc));
        return rc;
    }
    uv_check_init(s->loop, &s->flush_check);
    s->flush_check.data = s;
    uv_check_start(&s->flush_check, server__on_check);
    uv_timer_init(s->loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, server__on_sweep, 1000, 1000);
    return 0;
}

void
server_drain(struct store *s)
{
    if (s->draining) return;
    s->draining = 1;
    log_info("draining: no new connections or requests in_flight=%llu",
             (unsigned long long)server_inflight(s));
    conn_listener_drain(&s->listener);
    migrate_shutdown(s);
    server__maybe_finish(s);
}

/* When draining and nothing is in flight or unwritten: close everything, so
 * that uv_run returns. */
static void
server__maybe_finish(struct store *s)
{
    if (!s->draining || s->finished || server_inflight(s) > 0 || engine_pending(s->engine) > 0)
        return;
    if (conn_group_output_pending(&s->conns)) return;
    s->finished = 1;
    conn_group_close_all(&s->conns);
    uv_close((uv_handle_t *)&s->sweep_timer, NULL);
    uv_close((uv_handle_t *)&s->flush_check, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    smetrics_stop();
    disk_stop(s);
    if (s->copyq_on) bgq_close(&s->copyq); /* idle: a copy pass counts in s->inflight */
    s->copyq_on = 0;
    engine_close(s->engine); /* syncs the WAL; its handle closes with the rest */
    s->engine = NULL;
    log_info("drained, exiting");
}
