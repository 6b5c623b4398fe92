/* pmetrics.c: juno-proxy's metrics and their HTTP endpoint (see pmetrics.h).
 *
 * Families, series and the HTTP server are made on the main thread; workers
 * only add to their own slot. The map version and the number of stores marked
 * down are computed by a collector when /metrics is rendered, on the main
 * thread, which owns p->current.
 */
#include "pmetrics.h"
#include "proxy.h"

#include "cli.h"
#include "error.h"
#include "httpd.h"
#include "log.h"
#include "tls.h"

#include <stdlib.h>

struct pm_worker {
    struct metric_index req; /* requests_total by (opcode, status) */
    struct metric_index lat; /* request_duration_seconds by opcode */
};

static struct {
    struct proxy *p; /* borrowed */
    struct metrics *r;
    struct metric_family *f_storage, *f_down, *f_markdowns;
    struct metric *inflight, *conns_open, *conns_accepted, *bad_frames, *map_version, *stores_down;
    struct metric *gather_late;
    struct metric *tls_fail[PM_NROLES][TLS_R_COUNT];
    struct metric *auth_failed, *denied[2], *acl_reloads[2], *acl_users;
    struct pm_worker *w; /* owned: [nworkers] */
    unsigned nw;
    struct metric_labels ops;
    uv_mutex_t mu;         /* downs */
    struct metric **downs; /* owned: each store's down series, once */
    size_t ndowns, capdowns;
    struct httpd *httpd;
    char host[256]; /* --metrics; port 0: none */
    uint16_t port;
} pm;

static const char *
op_label(int op)
{
    return pm.ops.v[op & 0xFF];
}

static const char *const outcome_names[PM_NOUTCOMES] = {"answered", "timeout", "failed",
                                                        "unavailable"};

static void
pm_collect(void *arg)
{
    (void)arg;
    struct proxy *p = pm.p;
    if (p->current != NULL) metric_set(pm.map_version, (int64_t)p->current->map->version);
    int64_t down = 0;
    uv_mutex_lock(&pm.mu);
    for (size_t i = 0; i < pm.ndowns; i++) down += metric_value(pm.downs[i]) > 0;
    uv_mutex_unlock(&pm.mu);
    metric_set(pm.stores_down, down);
    if (pm.acl_users != NULL) {
        metric_set(pm.acl_reloads[0], (int64_t)atomic_load(&p->auth.reloads_ok));
        metric_set(pm.acl_reloads[1], (int64_t)atomic_load(&p->auth.reloads_failed));
        uv_mutex_lock(&p->auth.mu);
        metric_set(pm.acl_users, p->auth.acl ? (int64_t)p->auth.acl->nusers : 0);
        uv_mutex_unlock(&p->auth.mu);
    }
}

static int
pm_render(void *arg, char **body, size_t *len)
{
    (void)arg;
    return metrics_render(pm.r, body, len);
}

int
pmetrics_init(struct proxy *p)
{
    pm.p = p;
    pm.nw = p->nworkers;
    pm.r = metrics_create(pm.nw);
    pm.w = calloc(pm.nw, sizeof(*pm.w));
    if (pm.r == NULL || pm.w == NULL) return JUNO_ENOMEM;
    uv_mutex_init(&pm.mu);
    metric_labels_init(&pm.ops, wire_opcode_name, "unknown");
    struct metrics *r = pm.r;
    struct metric_family *req = metrics_counter(
        r, "juno_proxy_requests_total",
        "Client requests answered, by operation and reply status (lib/wire.h names).", "op,status");
    struct metric_family *lat =
        metrics_histogram(r, "juno_proxy_request_duration_seconds",
                          "Time from a client request's arrival to its reply, by operation.", "op",
                          metrics_latency_ns, METRICS_LATENCY_N, METRICS_NS_PER_S);
    pm.inflight =
        metrics_series(metrics_gauge(r, "juno_proxy_requests_in_flight",
                                     "Client requests being replicated, not yet answered.", NULL));
    pm.conns_open = metrics_series(
        metrics_gauge(r, "juno_proxy_connections_open", "Client connections open.", NULL));
    pm.conns_accepted = metrics_series(metrics_counter(r, "juno_proxy_connections_accepted_total",
                                                       "Client connections accepted.", NULL));
    pm.bad_frames = metrics_series(metrics_counter(
        r, "juno_proxy_bad_frames_total",
        "Client connections closed because their bytes were not JunoDB frames (bad magic, size "
        "over --max-frame).",
        NULL));
    pm.gather_late = metrics_series(metrics_counter(
        r, "juno_proxy_gather_timeouts_total",
        "Times --gather's time ran out: a client connection's first replies to a pipelined batch "
        "were sent before the rest of the batch was answered.",
        NULL));
    pm.f_storage = metrics_counter(
        r, "juno_proxy_storage_requests_total",
        "Requests to stores, by store and outcome: answered (any status), timeout (no answer "
        "within --request-timeout), failed (connection lost), unavailable (store marked down or "
        "not connected: not sent).",
        "store,outcome");
    pm.f_down = metrics_gauge(
        r, "juno_proxy_store_down",
        "Worker threads that have this store marked down now (0: up everywhere).", "store");
    pm.f_markdowns = metrics_counter(r, "juno_proxy_store_markdowns_total",
                                     "Times a worker thread marked this store down.", "store");
    pm.stores_down = metrics_series(metrics_gauge(
        r, "juno_proxy_stores_down", "Stores marked down by at least one worker thread.", NULL));
    pm.map_version = metrics_series(
        metrics_gauge(r, "juno_proxy_map_version", "Version of the shard map in use.", NULL));
    struct metric *build = metrics_series(
        metrics_gauge(r, "juno_proxy_build_info", "The juno version, as a label.", "version"),
        JUNO_VERSION);
    metric_set(build, 1);
    if (req == NULL || lat == NULL || pm.inflight == NULL || pm.conns_open == NULL ||
        pm.conns_accepted == NULL || pm.bad_frames == NULL || pm.gather_late == NULL ||
        pm.f_storage == NULL || pm.f_down == NULL || pm.f_markdowns == NULL ||
        pm.stores_down == NULL || pm.map_version == NULL || build == NULL ||
        metrics_collector(r, pm_collect, NULL) != 0)
        return JUNO_ENOMEM;
    for (unsigned i = 0; i < pm.nw; i++) {
        metric_index_init(&pm.w[i].req, req, op_label, wire_status_name);
        metric_index_init(&pm.w[i].lat, lat, op_label, NULL);
    }
    /* a side with TLS has every series from the start: zeros to graph */
    static const char *const roles[PM_NROLES] = {"native", "resp", "upstream"};
    int tls[PM_NROLES] = {p->cfg.tls_cert != NULL, p->cfg.tls_cert && p->cfg.resp_port,
                          p->cfg.up_tls_cert != NULL || p->cfg.xdc_tls_ca != NULL};
    struct metric_family *f = NULL;
    if (tls[PM_NATIVE] || tls[PM_UPSTREAM])
        f = metrics_counter(
            r, "juno_proxy_tls_handshake_failures_total",
            "TLS handshakes refused (role native, resp: client connections) or "
            "failed (role upstream: connections to stores and to other sites' proxies), by reason "
            "(docs/security.md).",
            "role,reason");
    for (int i = 0; i < PM_NROLES; i++)
        for (int j = 0; tls[i] && j < TLS_R_COUNT; j++)
            if ((pm.tls_fail[i][j] = metrics_series(f, roles[i], tls_reason_name(j))) == NULL)
                return JUNO_ENOMEM;
    if (p->cfg.acl_path == NULL) return 0;
    pm.auth_failed = metrics_series(metrics_counter(
        r, "juno_proxy_auth_failures_total",
        "Logins refused (RESP AUTH and HELLO AUTH, JunoDB-face Login): an unknown user, a wrong "
        "password, a user turned off.",
        NULL));
    struct metric_family *fd = metrics_counter(
        r, "juno_proxy_acl_denied_total",
        "Requests refused by --acl: JunoDB protocol ServiceDenied, RESP NOAUTH and NOPERM.",
        "face");
    struct metric_family *fr = metrics_counter(
        r, "juno_proxy_acl_reloads_total",
        "Reloads of --acl (SIGHUP), by result: ok, or failed (the old ACL kept).", "result");
    pm.denied[0] = metrics_series(fd, "native");
    pm.denied[1] = metrics_series(fd, "resp");
    pm.acl_reloads[0] = metrics_series(fr, "ok");
    pm.acl_reloads[1] = metrics_series(fr, "failed");
    pm.acl_users = metrics_series(
        metrics_gauge(r, "juno_proxy_acl_users", "Users in the --acl file in force.", NULL));
    if (pm.auth_failed == NULL || pm.denied[0] == NULL || pm.denied[1] == NULL ||
        pm.acl_reloads[0] == NULL || pm.acl_reloads[1] == NULL || pm.acl_users == NULL)
        return JUNO_ENOMEM;
    return 0;
}

struct metrics *
pmetrics_registry(void)
{
    return pm.r;
}

void
pmetrics_option(const char *arg)
{
    if (cli_parse_hostport(arg, pm.host, sizeof(pm.host), &pm.port) != 0)
        cli_usage("invalid --metrics '%s': expected HOST:PORT", arg);
}

int
pmetrics_listen(struct proxy *p, char *err, size_t errlen)
{
    if (pm.port == 0) return 0;
    return httpd_start(p->loop, pm.host, pm.port, pm_render, NULL, &pm.httpd, err, errlen);
}

void
pmetrics_stop(void)
{
    httpd_close(pm.httpd);
    pm.httpd = NULL;
}

void
pmetrics_deinit(void)
{
    for (unsigned i = 0; pm.w && i < pm.nw; i++) {
        metric_index_deinit(&pm.w[i].req);
        metric_index_deinit(&pm.w[i].lat);
    }
    free(pm.w);
    free(pm.downs);
    metrics_destroy(pm.r);
    if (pm.r != NULL) uv_mutex_destroy(&pm.mu);
    pm.w = NULL;
    pm.downs = NULL;
    pm.r = NULL;
}

void
pmetrics_request(struct worker *w, int opcode, int status, uint64_t t0)
{
    if (w->id >= pm.nw) return;
    struct pm_worker *pw = &pm.w[w->id];
    metric_inc(metric_index_get(&pw->req, (uint8_t)opcode, (uint8_t)status), w->id);
    uint64_t now = uv_hrtime();
    metric_observe(metric_index_get(&pw->lat, (uint8_t)opcode, 0), w->id, now > t0 ? now - t0 : 0);
}

void
pmetrics_inflight(struct worker *w, int delta)
{
    if (delta > 0)
        metric_add(pm.inflight, w->id, (uint64_t)delta);
    else
        metric_sub(pm.inflight, w->id, (uint64_t)-delta);
}

void
pmetrics_conn(struct worker *w, int delta)
{
    if (delta > 0) {
        metric_inc(pm.conns_accepted, w->id);
        metric_add(pm.conns_open, w->id, 1);
    } else {
        metric_sub(pm.conns_open, w->id, 1);
    }
}

void
pmetrics_bad_frame(struct worker *w)
{
    metric_inc(pm.bad_frames, w->id);
}

void
pmetrics_gather_late(struct worker *w, unsigned n)
{
    metric_add(pm.gather_late, w->id, n);
}

void
pmetrics_tls_refused(struct worker *w, enum pm_role role, int reason)
{
    if (reason >= 0 && reason < TLS_R_COUNT) metric_inc(pm.tls_fail[role][reason], w->id);
}

void
pmetrics_auth_failed(struct worker *w)
{
    if (pm.auth_failed != NULL) metric_inc(pm.auth_failed, w->id);
}

void
pmetrics_acl_denied(struct worker *w, enum pm_role face)
{
    if (pm.denied[0] != NULL) metric_inc(pm.denied[face == PM_RESP], w->id);
}

void
pmetrics_store_init(struct worker *w, const char *addr, struct pm_store *ps)
{
    (void)w;
    for (int i = 0; i < PM_NOUTCOMES; i++)
        ps->out[i] = metrics_series(pm.f_storage, addr, outcome_names[i]);
    ps->down = metrics_series(pm.f_down, addr);
    ps->markdowns = metrics_series(pm.f_markdowns, addr);
    if (ps->down == NULL) return;
    uv_mutex_lock(&pm.mu);
    size_t i = 0;
    while (i < pm.ndowns && pm.downs[i] != ps->down) i++;
    if (i == pm.ndowns) {
        if (pm.ndowns == pm.capdowns) {
            size_t cap = pm.capdowns ? 2 * pm.capdowns : 16;
            struct metric **d = realloc(pm.downs, cap * sizeof(*d));
            if (d != NULL) pm.downs = d, pm.capdowns = cap;
        }
        if (pm.ndowns < pm.capdowns) pm.downs[pm.ndowns++] = ps->down;
    }
    uv_mutex_unlock(&pm.mu);
}

void
pmetrics_storage(struct worker *w, struct pm_store *ps, enum pm_outcome o)
{
    metric_inc(ps->out[o], w->id);
}

void
pmetrics_store_down(struct worker *w, struct pm_store *ps, int delta)
{
    if (delta > 0) {
        metric_inc(ps->markdowns, w->id);
        metric_add(ps->down, w->id, 1);
    } else {
        metric_sub(ps->down, w->id, 1);
    }
}
