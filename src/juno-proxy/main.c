/* main.c: juno-proxy, the routing and replication daemon.
 *
 * defaults → options → map check → log → listening sockets (one per worker,
 * SO_REUSEPORT) → worker threads (each: listener, upstreams, loop) → the main
 * loop handles signals → drain → join → exit 0.
 *
 * With --etcd the map comes from etcd instead and is followed live
 * (etcdwatch.c); SIGHUP then only reopens the log.
 *
 * SIGHUP reopens the log, re-reads the TLS files (new connections use them,
 * open ones keep theirs) and the map file: a map that does not parse,
 * has another shard count or an older version is refused (the old one stays);
 * an accepted one goes to every worker, which connects to new stores and then
 * swaps (maploader.c). SIGTERM/SIGINT: stop accepting and reading, finish the
 * requests in flight, exit 0; a second SIGINT exits at once.
 */
#include "pmetrics.h"
#include "preq.h"
#include "proxy.h"
#include "resp_face.h"
#include "xdc.h"

#include "cli.h"
#include "error.h"
#include "log.h"
#include "net.h"
#include "tls.h"

#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- listening sockets ---- */

/* One socket per worker on the same address: SO_REUSEPORT lets the kernel
 * spread connections over them (libuv 1.44 has no flag for it). resp: the
 * RESP face's (w->resp_fd), else the native one's (w->listen_fd). */
static int
open_listeners(struct proxy *p, const char *host, uint16_t lport, int resp, char *err,
               size_t errlen)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", lport);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return JUNO_ENOTFOUND;
    }
    for (unsigned i = 0; i < p->nworkers; i++) {
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            (p->nworkers > 1 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
            bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
            rc = error_from_errno(errno);
            snprintf(err, errlen, "cannot listen on %s:%u: %s", host, lport, error_str(rc));
            if (fd >= 0) close(fd);
            freeaddrinfo(res);
            return rc;
        }
        *(resp ? &p->workers[i].resp_fd : &p->workers[i].listen_fd) = fd;
    }
    freeaddrinfo(res);
    return 0;
}

/* ---- workers ---- */

void
worker_request_id(struct worker *w, uint8_t id[16])
{
    for (int half = 0; half < 2; half++) { /* splitmix64 */
        uint64_t z = (w->rng += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        for (int i = 0; i < 8; i++) id[half * 8 + i] = (uint8_t)(z >> (8 * i));
    }
    id[6] = (uint8_t)((id[6] & 0x0F) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}

void
worker_maybe_finish(struct worker *w)
{
    if (!w->draining || w->finished || w->inflight > 0 || conn_group_output_pending(&w->clients) ||
        xdc_worker_pending(w))
        return;
    w->finished = 1;
    conn_group_close_all(&w->clients);
    route_unref(w->next);
    w->next = NULL;
    route_unref(w->route);
    w->route = NULL;
    upstream_close_all(w);
    xdc_worker_stop(w); /* after upstream_close_all: what was in flight is queued again */
    uv_close((uv_handle_t *)&w->flush_check, NULL);
    uv_close((uv_handle_t *)&w->sweep_timer, NULL);
    uv_close((uv_handle_t *)&w->gather_timer, NULL);
    uv_close((uv_handle_t *)&w->retry_timer, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    log_info("worker drained thread=%u connections=%llu requests=%llu errors=%llu bad_frames=%llu",
             w->id, (unsigned long long)w->stats.connections, (unsigned long long)w->stats.requests,
             (unsigned long long)w->stats.errors, (unsigned long long)w->stats.bad_frames);
}

static void
worker_on_gather_late(struct conn_group *g, unsigned n)
{
    pmetrics_gather_late(g->data, n);
}

/* A connection was freed or finished a write: a drain may be complete. */
static void
worker_on_progress(struct conn_group *g)
{
    worker_maybe_finish(g->data);
}

void
worker_flush(struct worker *w)
{
    conn_group_flush(&w->ups);
    conn_group_flush(&w->clients);
    conn_group_flush(&w->ups); /* requests of RESP commands that waited behind a barrier */
}

static void
worker_on_check(uv_check_t *h)
{
    struct worker *w = h->data;
    worker_flush(w);
    worker_maybe_finish(w); /* output sent at once finishes no write request */
}

static void
worker_on_sweep(uv_timer_t *t)
{
    struct worker *w = t->data;
    conn_group_sweep(&w->clients);
    conn_group_sweep(&w->ups);
    preq_expire(w);
    route_maybe_swap(w);
    worker_maybe_finish(w);
}

static void
worker_on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    uv_mutex_lock(&w->p->mu);
    int drain = w->drain_requested;
    uv_mutex_unlock(&w->p->mu);
    if (w->finished) return;
    route_adopt_incoming(w);
    if (drain && !w->draining) {
        w->draining = 1;
        conn_listener_drain(&w->listener);
        conn_listener_drain(&w->resp_listener);
        log_info("draining thread=%u in_flight=%llu", w->id, (unsigned long long)w->inflight);
        worker_maybe_finish(w);
    }
}

static void
worker_main(void *arg)
{
    struct worker *w = arg;
    int rc = client_listen(w);
    if (rc != 0) log_error("cannot serve on the listener thread=%u: %s", w->id, error_str(rc));
    rc = rface_listen(w);
    if (rc != 0) log_error("cannot serve on the RESP listener thread=%u: %s", w->id, error_str(rc));
    route_adopt_incoming(w);
    rc = xdc_worker_start(w);
    if (rc != 0) log_error("cannot start replication thread=%u: %s", w->id, error_str(rc));
    uv_run(&w->loop, UV_RUN_DEFAULT);
    struct proxy *p = w->p;
    atomic_fetch_add(&p->done, 1);
    uv_async_send(&p->worker_done);
}

static int
worker_init(struct proxy *p, struct worker *w, unsigned id)
{
    w->p = p;
    w->id = id;
    if (uv_loop_init(&w->loop) != 0) return JUNO_ENOMEM;
    conn_group_init(&w->clients, &w->loop, w);
    conn_group_init(&w->ups, &w->loop, w);
    w->clients.progress = w->ups.progress = worker_on_progress;
    w->nbuckets = 1024;
    w->up_buckets = calloc(w->nbuckets, sizeof(*w->up_buckets));
    if (w->up_buckets == NULL) return JUNO_ENOMEM;
    if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng))
        w->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ id;
    uv_check_init(&w->loop, &w->flush_check);
    w->flush_check.data = w;
    uv_check_start(&w->flush_check, worker_on_check);
    uv_timer_init(&w->loop, &w->gather_timer);
    conn_group_gather(&w->clients, &w->gather_timer, p->cfg.gather_ms);
    w->clients.gather_late = worker_on_gather_late;
    uv_timer_init(&w->loop, &w->sweep_timer);
    w->sweep_timer.data = w;
    uv_timer_start(&w->sweep_timer, worker_on_sweep, 100, 100);
    uv_timer_init(&w->loop, &w->retry_timer);
    w->retry_timer.data = w;
    uv_async_init(&w->loop, &w->wake, worker_on_wake);
    w->wake.data = w;
    pmap_ref(p->current);
    w->incoming = p->current;
    return 0;
}

/* ---- the main thread: signals and map reloads ---- */

static void
reload_map(struct proxy *p)
{
    if (p->cluster != NULL) return; /* the map follows etcd */
    char err[700];
    struct pmap *pm = pmap_load(p->cfg.map_path, err, sizeof(err));
    if (pm == NULL) {
        log_error("map reload refused, keeping version %llu: %s",
                  (unsigned long long)p->current->map->version, err);
        return;
    }
    proxy_offer_map(p, pm, p->cfg.map_path);
    pmap_unref(pm);
}

/* SIGHUP: the certificates, keys and CAs again, for new connections. */
static void
reload_tls(struct proxy *p)
{
    char err[700];
    struct {
        struct tls_ctx *ctx;
        const char *what, *cert;
    } t[2] = {{p->tls, "clients", p->cfg.tls_cert}, {p->up_tls, "stores", p->cfg.up_tls_cert}};
    for (int i = 0; i < 2; i++) {
        if (t[i].ctx == NULL) continue;
        if (tls_ctx_reload(t[i].ctx, err, sizeof(err)) != 0)
            log_error("TLS reload refused for %s, keeping the certificates in use: %s", t[i].what,
                      err);
        else
            log_info("TLS certificates reloaded for %s cert=%s", t[i].what, t[i].cert);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct proxy *p = h->data;
    if (signum == SIGHUP) {
        int rc = log_reopen();
        if (rc != 0) log_error("cannot reopen log: %s", error_str(rc));
        reload_tls(p);
        auth_reload(p);
        pcluster_reload_password(p);
        reload_map(p);
        return;
    }
    if (signum == SIGINT && p->interrupts++ > 0) {
        log_warn("second interrupt: exiting at once");
        _exit(EX_TEMPFAIL);
    }
    if (p->draining) return;
    p->draining = 1;
    log_info("signal %s: draining", signum == SIGTERM ? "TERM" : "INT");
    pcluster_stop(p);
    uv_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) p->workers[i].drain_requested = 1;
    uv_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) uv_async_send(&p->workers[i].wake);
}

static void
on_worker_done(uv_async_t *a)
{
    struct proxy *p = a->data;
    if (atomic_load(&p->done) < p->nworkers) return;
    pcluster_stop(p);
    pmetrics_stop();
    uv_close((uv_handle_t *)&p->sig_term, NULL);
    uv_close((uv_handle_t *)&p->sig_int, NULL);
    uv_close((uv_handle_t *)&p->sig_hup, NULL);
    uv_close((uv_handle_t *)&p->worker_done, NULL);
}

int
main(int argc, char **argv)
{
    cli_init("juno-proxy");
    static struct proxy proxy;
    struct proxy *p = &proxy;
    struct proxy_config *c = &p->cfg;
    c->threads = 1;
    c->default_ttl = 0;
    c->max_ttl = 259200;
    c->idle_timeout_s = 120;
    c->request_timeout_ms = 500;
    c->xdc_queue_bytes = 64u << 20;
    c->xdc_max_age_s = 600;
    c->max_frame = WIRE_DEFAULT_MAX_FRAME;
    c->max_ns = 64;
    c->max_key = 256;
    c->max_value = 204800;
    c->resp_max_value = RFACE_MAX_VALUE;
    c->resp_databases = 16;
    c->gather_ms = 1;
    c->resp_max_query = RFACE_DEFAULT_QUERY;
    c->resp_max_buffered = RFACE_DEFAULT_BUFFERED;
    c->max_inflight = 16384;
    int check_only = 0;
    proxy_parse_options(c, argc, argv, &check_only);

    char err[700];
    if (c->etcd != NULL) {
        int rc = pcluster_init(p, err, sizeof(err));
        etcdopt_deinit(&c->etcd_sec); /* etcd keeps its own copy of the password */
        if (rc != 0) cli_die(rc == JUNO_EINVAL ? EX_USAGE : EX_UNAVAILABLE, "%s", err);
    } else {
        p->current = pmap_load(c->map_path, err, sizeof(err));
        if (p->current == NULL) cli_die(EX_CONFIG, "%s", err);
    }
    const struct map *m = p->current->map;
    if (c->tls_cert != NULL) {
        struct tls_config tc = {.cert = c->tls_cert,
                                .key = c->tls_key,
                                .ca = c->tls_ca,
                                .client_cert_optional = c->tls_cert_optional,
                                .handshake_ms = c->tls_handshake_ms,
                                .max_handshakes = c->tls_max_handshakes};
        if ((p->tls = tls_ctx_create(TLS_SERVER, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (c->up_tls_cert != NULL) {
        struct tls_config tc = {
            .cert = c->up_tls_cert,
            .key = c->up_tls_key,
            .ca = c->up_tls_ca,
            .handshake_ms = c->request_timeout_ms * 2 > 1000 ? c->request_timeout_ms * 2 : 1000};
        if ((p->up_tls = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (c->xdc_tls_ca != NULL) {
        struct tls_config tc = {
            .cert = c->xdc_tls_cert,
            .key = c->xdc_tls_key,
            .ca = c->xdc_tls_ca,
            .handshake_ms = c->request_timeout_ms * 2 > 1000 ? c->request_timeout_ms * 2 : 1000};
        if ((p->xdc_tls = tls_ctx_create(TLS_CLIENT, &tc, err, sizeof(err))) == NULL)
            cli_die(EX_CONFIG, "%s", err);
    }
    if (auth_init(p, err, sizeof(err)) != 0) cli_die(EX_CONFIG, "invalid --acl: %s", err);
    const char *remedy = "--tls-cert/--tls-key (and --tls-ca for client certificates) or --acl";
    int guarded = c->tls_cert != NULL || c->acl_path != NULL;
    if (net_protected_mode(c->listen_host, c->listen_port, "the JunoDB port", guarded, c->insecure,
                           remedy, err, sizeof(err)) != 0 ||
        (c->resp_port && net_protected_mode(c->resp_host, c->resp_port, "the RESP port", guarded,
                                            c->insecure, remedy, err, sizeof(err)) != 0))
        cli_die(EX_CONFIG, "%s", err);
    if (check_only) {
        unsigned stores = 0;
        for (uint32_t z = 0; z < m->nzones; z++) stores += m->zones[z].nnodes;
        printf("ok: map %s version %llu, %u zones (W = R = %u), %u shards, %u stores; listen "
               "%s:%u, %u threads",
               m->cluster, (unsigned long long)m->version, m->nzones, m->nzones / 2 + 1, m->shards,
               stores, c->listen_host, c->listen_port, c->threads);
        if (c->resp_port)
            printf("; resp %s:%u namespace %s", c->resp_host, c->resp_port, c->resp_ns);
        if (c->tls_cert)
            printf("; TLS to clients%s", !c->tls_ca ? ""
                                         : c->tls_cert_optional
                                             ? " with optional client certificates"
                                             : " with client certificates");
        if (c->up_tls_cert) printf("; mutual TLS to stores");
        if (c->acl_path) printf("; acl %zu users", p->auth.acl->nusers);
        if (c->replicate_to)
            printf("; replicating to %s%s", c->replicate_to, c->xdc_tls_ca ? " over TLS" : "");
        if (c->accept_replication) printf("; accepting replicated writes");
        char sec[600];
        if (etcdopt_describe(&c->etcd_sec, sec, sizeof(sec))[0]) printf("; etcd %s", sec);
        putchar('\n');
        tls_ctx_destroy(p->tls);
        tls_ctx_destroy(p->up_tls);
        tls_ctx_destroy(p->xdc_tls);
        auth_deinit(p);
        pmap_unref(p->current);
        pcluster_destroy(p);
        return 0;
    }
    if (c->log_file != NULL) {
        int rc = log_open(c->log_file);
        if (rc != 0) cli_die(EX_IOERR, "unable to open log %s: %s", c->log_file, error_str(rc));
    }
    signal(SIGPIPE, SIG_IGN);
    hlc_init(&p->clock, NULL, NULL);
    uv_mutex_init(&p->mu);
    p->nworkers = c->threads;
    p->workers = calloc(p->nworkers, sizeof(*p->workers));
    if (p->workers == NULL || pmetrics_init(p) != 0) cli_die(EX_OSERR, "out of memory");
    if (xdc_init(p, err, sizeof(err)) != 0) cli_die(EX_OSERR, "%s", err);
    if (c->accept_replication) log_info("accepting replicated writes (flag 0x01) from other sites");
    for (unsigned i = 0; i < p->nworkers; i++) p->workers[i].listen_fd = p->workers[i].resp_fd = -1;
    if (open_listeners(p, c->listen_host, c->listen_port, 0, err, sizeof(err)) != 0 ||
        (c->resp_port != 0 &&
         open_listeners(p, c->resp_host, c->resp_port, 1, err, sizeof(err)) != 0))
        cli_die(EX_UNAVAILABLE, "%s", err);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (worker_init(p, &p->workers[i], i) != 0) cli_die(EX_OSERR, "out of memory");

    p->loop = uv_default_loop();
    if (pmetrics_listen(p, err, sizeof(err)) != 0) cli_die(EX_UNAVAILABLE, "%s", err);
    uv_signal_init(p->loop, &p->sig_term);
    uv_signal_init(p->loop, &p->sig_int);
    uv_signal_init(p->loop, &p->sig_hup);
    p->sig_term.data = p->sig_int.data = p->sig_hup.data = p;
    uv_signal_start(&p->sig_term, on_signal, SIGTERM);
    uv_signal_start(&p->sig_int, on_signal, SIGINT);
    uv_signal_start(&p->sig_hup, on_signal, SIGHUP);
    uv_async_init(p->loop, &p->worker_done, on_worker_done);
    p->worker_done.data = p;
    pcluster_start(p);

    log_info("listening addr=%s:%u map=%s version=%llu zones=%u shards=%u threads=%u "
             "request_timeout_ms=%llu default_ttl=%llu tls=%s upstream_tls=%s pid=%ld",
             c->listen_host, c->listen_port, c->etcd ? "etcd" : c->map_path,
             (unsigned long long)m->version, m->nzones, m->shards, c->threads,
             (unsigned long long)c->request_timeout_ms, (unsigned long long)c->default_ttl,
             !c->tls_cert           ? "off"
             : !c->tls_ca           ? "on"
             : c->tls_cert_optional ? "mutual-optional"
                                    : "mutual",
             c->up_tls_cert ? "mutual" : "off", (long)getpid());
    if (c->acl_path) log_info("acl in force file=%s users=%zu", c->acl_path, p->auth.acl->nusers);
    if (c->resp_port)
        log_info("serving RESP addr=%s:%u namespace=%s", c->resp_host, c->resp_port, c->resp_ns);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (uv_thread_create(&p->workers[i].thread, worker_main, &p->workers[i]) != 0)
            cli_die(EX_OSERR, "cannot start thread %u", i);
    uv_run(p->loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        uv_thread_join(&w->thread);
        uv_run(&w->loop, UV_RUN_DEFAULT); /* close callbacks still queued, if any */
        uv_loop_close(&w->loop);
        xdc_worker_free(w);
        conn_group_deinit(&w->clients);
        conn_group_deinit(&w->ups);
        pmap_unref(w->incoming);
        pdown_unref(w->incoming_down);
        pdown_unref(w->down);
        free(w->up_buckets);
        free(w->key_buckets);
        free(w->rl_buckets);
    }
    pmetrics_deinit();
    xdc_deinit(p);
    free(p->workers);
    pcluster_destroy(p);
    pmap_unref(p->current);
    tls_ctx_destroy(p->tls);
    tls_ctx_destroy(p->up_tls);
    tls_ctx_destroy(p->xdc_tls);
    auth_deinit(p);
    uv_mutex_destroy(&p->mu);
    uv_loop_close(p->loop);
    log_info("drained, exiting");
    return 0;
}
