/* proxy.h: juno-proxy's shared state: configuration, workers, maps, client
 * connections, upstream (store) connections and requests.
 *
 *   main.c       options, config check, listeners, worker threads, signals, drain
 *   maploader.c  the shard map: load and check a file, reference-counted maps,
 *                each worker's route (map + one upstream per store), clean swap
 *   client.c     client connections: framing, validation, replies, idle timeout
 *   upstream.c   store connections: pipelining by opaque, timeouts, reconnect
 *                with backoff, mark-down
 *   replicate.c  the per-request state machines (writes, Destroy, Get)
 *
 * Request path (one worker thread, one libuv loop; no locks on this path):
 *
 *   client ──► conn (frame, decode, check limits) ──► preq_start
 *                                                        │ shard = hash(key) % S
 *                                                        │ replica z = owners[shard] of zone z
 *                         ┌──────────────────────────────┴───────────────┐
 *                    upstream z0                 upstream z1        upstream z2
 *                 (Prepare, Read, ...)     one pipelined connection per store per worker
 *                         └──────────────► answers by opaque ◄───────────┘
 *                                                        │ quorum W = R = Z/2 + 1
 *   client ◄── reply (coalesced per loop turn) ◄── decide: Commit/Abort/Repair...
 *
 * Threads: --threads workers, each with its own loop, SO_REUSEPORT listener,
 * client connections and upstream connections. The main thread only handles
 * signals and loads maps; a new map reaches each worker through a uv_async.
 */
#ifndef JUNO_PROXY_H
#define JUNO_PROXY_H

#include "hlc.h"
#include "map.h"
#include "wire.h"

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#define PROXY_DOWN_MS        2000 /* a failing store is skipped this long */
#define PROXY_DOWN_TIMEOUTS  3    /* consecutive timeouts that mark a store down */
#define PROXY_BACKOFF_MIN_MS 50
#define PROXY_BACKOFF_MAX_MS 2000
#define PROXY_KEEPALIVE_MS   (24ull * 3600 * 1000) /* idle timeout after a keepalive Nop */

struct proxy_config {
    char listen_host[256];
    uint16_t listen_port;
    const char *map_path; /* borrowed (argv) */
    const char *log_file; /* borrowed; NULL = stderr */
    unsigned threads;
    uint64_t default_ttl, max_ttl; /* seconds */
    uint64_t idle_timeout_s;       /* 0 = never */
    uint64_t request_timeout_ms;   /* per storage request */
    uint64_t deadline_ms;          /* a whole client request; then Busy (14) */
    uint64_t max_frame, max_ns, max_key, max_value;
    uint64_t max_inflight; /* per client connection, before reading pauses */
};

/* A loaded map, shared by every worker. */
struct pmap {
    atomic_int refs;
    struct map *map; /* owned */
};

struct upstream;
struct conn;
struct worker;
struct proxy;

/* A worker's view of one map: the upstream of every node. */
struct route {
    int refs;        /* the worker (while current or pending) + each request using it */
    struct pmap *pm; /* ref */
    struct worker *w;
    struct upstream *
        *ups[MAP_MAX_ZONES]; /* owned arrays [nnodes]; each entry counted in up->routes */
};

struct worker_stats {
    uint64_t connections, requests, bad_frames, errors;
};

struct worker {
    struct proxy *p;
    unsigned id;
    uv_loop_t loop;
    uv_thread_t thread;
    int listen_fd; /* bound and listening; handed to listener in the worker */
    uv_tcp_t listener;
    uv_check_t flush_check; /* writes coalesced output once per loop turn */
    uv_timer_t sweep_timer; /* idle connections, route swap, drain */
    uv_async_t wake;        /* a new map or a drain from the main thread */
    struct pmap *incoming;  /* guarded by p->mu: a map to adopt */
    int drain_requested;    /* guarded by p->mu */
    struct route *route;    /* ref: the current route */
    struct route *next;     /* ref: a route whose new stores are still connecting */
    uint64_t next_since;    /* uv_now when next was built */
    struct conn *conns, *dirty_conns;
    struct upstream *ups;         /* every live upstream (list) */
    struct upstream *dirty_ups;   /* upstreams with output to write */
    struct upstream **up_buckets; /* owned: address hash of live upstreams */
    size_t nbuckets;
    uint64_t inflight;              /* requests alive, background work included */
    struct preq *dl_head, *dl_tail; /* requests not yet answered, oldest first */
    int draining, finished;
    uint64_t rng; /* request id generator state */
    struct worker_stats stats;
};

struct proxy {
    struct proxy_config cfg;
    struct hlc clock;
    unsigned nworkers;
    struct worker *workers; /* owned */
    uv_mutex_t mu;
    struct pmap *current; /* ref: the newest map accepted (main thread) */
    uv_loop_t *loop;      /* main thread: signals */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_async_t worker_done;
    atomic_uint done;
    int interrupts, draining;
};

/* ---- maploader.c ---- */

/* Read and check the map at path. Returns a pmap with one reference, or NULL
 * with the reason in err. */
struct pmap *pmap_load(const char *path, char *err, size_t errlen);
void pmap_ref(struct pmap *pm);
void pmap_unref(struct pmap *pm);

/* Build w's route for pm (takes a new reference on pm), creating upstreams
 * for stores the worker has no connection to yet. NULL when out of memory. */
struct route *route_create(struct worker *w, struct pmap *pm);
void route_ref(struct route *rt);
/* Drop a reference; the last one releases the route's upstreams (a store no
 * longer in any route is disconnected once idle) and its map. */
void route_unref(struct route *rt);
/* Adopt w->incoming if any (worker thread). */
void route_adopt_incoming(struct worker *w);
/* Swap in w->next once its new stores have connected or failed (or after a
 * second). Called from the sweep and when a store connects. */
void route_maybe_swap(struct worker *w);

/* ---- upstream.c ---- */

struct ureq;
/* An answer (rc 0, reply valid during the call only) or a failure (rc < 0:
 * JUNO_ETIMEDOUT, JUNO_ECONNRESET, JUNO_EPROTO). */
typedef void ureq_cb(struct ureq *u, int rc, const struct wire_msg *reply);

/* One storage request in flight, embedded in its owner (the replica). */
struct ureq {
    struct ureq *hnext;       /* opaque table chain */
    struct ureq *prev, *next; /* in-flight list, oldest (earliest deadline) first */
    struct upstream *up;      /* set while in flight */
    uint32_t opaque;
    uint64_t deadline; /* uv_now ms */
    ureq_cb *cb;
};

/* The upstream for addr in w, created (and connecting) if missing. NULL when
 * out of memory. */
struct upstream *upstream_get(struct worker *w, const char *addr);
/* Route references (route_create / route_unref); the last one retires it. */
void upstream_route_ref(struct upstream *up);
void upstream_route_unref(struct upstream *up);
/* 1 while the store is connecting (a new store for a route swap). */
int upstream_connecting(const struct upstream *up);
/* Send req (its opaque is overwritten) and track u until its answer, a
 * timeout (--request-timeout) or a connection failure, reported once through
 * u->cb (never from inside this call). Returns 0, or JUNO_EUNAVAIL when the
 * store is marked down or not connected (no callback then). */
int upstream_send(struct upstream *up, struct ureq *u, struct wire_msg *req);
/* Write every upstream's queued requests (worker's check handle). */
void upstream_flush_all(struct worker *w);
/* Close every upstream now, failing what is in flight (end of drain). */
void upstream_close_all(struct worker *w);
const char *upstream_addr(const struct upstream *up);

/* ---- client.c ---- */

int client_listen(struct worker *w); /* worker thread; 0 or a negative code */
void client_flush_all(struct worker *w);
int client_output_pending(struct worker *w); /* replies not yet written */
void client_sweep(struct worker *w);         /* idle connections */
void client_drain(struct worker *w);         /* stop accepting and reading */
void client_close_all(struct worker *w);
/* Queue the encoded reply m on c. Dropped if c is closing. */
void conn_reply(struct conn *c, const struct wire_msg *m);
/* In-flight accounting: a request holds its connection until it replies. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);
const char *conn_peer(const struct conn *c);

/* ---- replicate.c ---- */

/* Start the client request req (Create, Get, Update, Set, Destroy; checked)
 * from c. t0 is uv_hrtime() when it arrived. */
void preq_start(struct worker *w, struct conn *c, const struct wire_msg *req, uint64_t t0);

/* ---- main.c ---- */

/* Check whether w has finished draining; if so close its handles. */
void worker_maybe_finish(struct worker *w);
/* A random version 4 UUID from w's generator. */
void worker_request_id(struct worker *w, uint8_t id[16]);

#endif
