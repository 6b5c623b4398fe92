/* proxy.h: juno-proxy's shared state: configuration, workers, maps, client
 * connections, upstream (store) connections and requests.
 *
 *   main.c       options, config check, listeners, worker threads, signals, drain
 *   maploader.c  the shard map: load and check a file, reference-counted maps,
 *                each worker's route (map + one upstream per store), clean swap
 *   etcdwatch.c  --etcd: the map, store registrations and zone mark-downs from
 *                etcd (a watch thread, handed to the main loop), the map cache
 *                file, this proxy's own registration
 *   client.c     client connections: framing, validation, replies (lib/conn)
 *   upstream.c   store connections: pipelining by opaque, timeouts, reconnect
 *                with backoff, mark-down
 *   replicate.c  the per-request state machines (writes, Destroy, Get); the
 *                originator of a request is a sink (psink): a native
 *                connection or a RESP command
 *   xdc.c        --replicate-to: every successful write forwarded to other
 *                sites' proxies, after the client's answer (xdc_site.c: the
 *                targets, their metrics); xdc_apply.c --accept-replication:
 *                such a write applied last-writer-wins
 *   resp_face.c  --resp: the Redis protocol (RESP2) face: connections, replies
 *                in order (resp_face.h); resp_cmd.c the key-value commands on
 *                the replicated operations, resp_admin.c PING INFO COMMAND...
 *
 * Request path (one worker thread, one libuv loop; no locks on this path):
 *
 *   client ──► conn (frame, decode, check limits) ──► preq_start
 *   Redis client ──► rconn (parse, command) ─────────────┤
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

#include "auth.h"
#include "conn.h"
#include "etcdopt.h"
#include "hlc.h"
#include "map.h"
#include "wire.h"

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#define PROXY_DOWN_MS          2000 /* a failing store is skipped this long */
#define PROXY_DOWN_TIMEOUTS    3    /* consecutive timeouts that mark a store down */
#define PROXY_BACKOFF_MIN_MS   50
#define PROXY_BACKOFF_MAX_MS   2000
#define PROXY_KEEPALIVE_MS     (24ull * 3600 * 1000) /* idle timeout after a keepalive Nop */
/* More time a request carrying n bytes (a RESP value of tens of MB) gets,
 * on top of --request-timeout and --deadline: 1 ms per 8 KiB (8 MB/s). */
#define PROXY_SIZE_SLACK_MS(n) ((uint64_t)(n) >> 13)

struct proxy_config {
    char listen_host[256];
    uint16_t listen_port;
    const char *map_path;       /* borrowed (argv) */
    const char *log_file;       /* borrowed; NULL = stderr */
    const char *etcd;           /* borrowed: --etcd URL[,URL...]; NULL = map file only */
    const char *cluster;        /* borrowed: --cluster, the /juno/<cluster>/ in etcd */
    const char *map_cache;      /* borrowed: --map-cache FILE, or NULL */
    struct etcdopt etcd_sec;    /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    struct etcd_opts etcd_opts; /* TLS and auth for etcd; borrowed from etcd_sec */
    unsigned threads;
    uint64_t default_ttl, max_ttl; /* seconds */
    uint64_t resp_max_ttl;         /* seconds, the RESP face's limit; 0: none */
    uint64_t gather_ms;            /* a batch's first replies kept back this long (lib/conn) */
    uint64_t idle_timeout_s;       /* 0 = never */
    uint64_t request_timeout_ms;   /* per storage request */
    uint64_t deadline_ms;          /* a whole client request; then Busy (14) */
    uint64_t max_frame, max_ns, max_key, max_value;
    uint64_t max_inflight; /* per client connection, before reading pauses */
    char resp_host[256];   /* the RESP face (resp_face.c); resp_port 0: none */
    uint16_t resp_port;
    const char *resp_ns;     /* borrowed: the namespace of RESP commands */
    uint32_t resp_databases; /* SELECT 0..n-1: db i > 0 is namespace "NS/i" */
    /* The RESP face's limits; CONFIG SET changes them at run time, so they
     * are read and written with __atomic (rface_limit). */
    uint64_t resp_max_value, resp_max_query;
    uint64_t resp_max_buffered; /* --resp-max-buffered: see resp_face.c */
    /* borrowed: --tls-cert/--tls-key/--tls-ca (client listeners: native and
     * RESP; a CA requires client certificates) and --upstream-tls-* (mutual
     * TLS to the stores, all three or none) */
    const char *tls_cert, *tls_key, *tls_ca;
    int tls_cert_optional, tls_client_cert_given; /* --tls-client-cert optional; given at all */
    const char *up_tls_cert, *up_tls_key, *up_tls_ca;
    uint64_t tls_handshake_ms;   /* --tls-handshake-timeout */
    unsigned tls_max_handshakes; /* --tls-max-handshakes (per worker listener) */
    const char *acl_path;        /* borrowed: --acl FILE (auth.c), or NULL */
    int insecure;                /* --insecure: no protected mode */
    const char *replicate_to;    /* borrowed: --replicate-to ADDR[,ADDR...] (xdc.h), or NULL */
    const char *xdc_tls_cert, *xdc_tls_key, *xdc_tls_ca; /* borrowed: --replicate-tls-* */
    uint64_t xdc_queue_bytes; /* --replicate-queue: per target, all workers together */
    uint64_t xdc_max_age_s;   /* --replicate-max-age */
    int accept_replication;   /* --accept-replication: apply writes flagged 0x01 */
};

/* Stores that etcd says are gone (registration expired) or in a zone marked
 * down: every upstream to one of these addresses refuses requests. Immutable
 * once made, shared by every worker (atomic reference count). */
struct pdown {
    atomic_int refs;
    size_t n;
    char (*addrs)[MAP_ADDR_MAX + 1]; /* owned: n addresses, sorted */
};

/* A loaded map, shared by every worker. */
struct pmap {
    atomic_int refs;
    struct map *map; /* owned */
};

struct upstream;
struct worker;
struct proxy;
struct xdc;
struct xdc_worker;

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

/* The RESP face's counters: written by the worker only, with relaxed atomic
 * stores, so that INFO on any worker can read them. */
#define RCMD_MAX        96 /* rows of the RESP command table (resp_table.c checks) */
#define RSTAT_ERR_CODES 12 /* error codes counted (resp_stats.c) */

/* A RESP command's counters (INFO commandstats, resp_stats.c). */
struct rcmd_stat {
    uint64_t calls, usec, rejected, failed;
};

struct rface_stats {
    uint64_t accepted, open, commands, errors, protocol_errors;
    uint64_t hits, misses; /* GET and MGET: keys found, keys absent (INFO's keyspace_hits) */
    struct rcmd_stat cmd[RCMD_MAX];     /* by the command's row in rcmd_table */
    uint64_t errcodes[RSTAT_ERR_CODES]; /* error replies by code (INFO errorstats) */
};

struct worker {
    struct proxy *p;
    unsigned id;
    uv_loop_t loop;
    uv_thread_t thread;
    int listen_fd;                 /* bound and listening; handed to listener in the worker */
    struct conn_group clients;     /* client connections: native and RESP (lib/conn) */
    struct conn_group ups;         /* store connections (upstream.c) */
    struct conn_listener listener; /* client.c: the native face */
    uv_check_t flush_check;        /* writes coalesced output once per loop turn */
    uv_timer_t sweep_timer;        /* idle connections, route swap, drain */
    uv_timer_t gather_timer;       /* sends the output a batch kept back (lib/conn) */
    uv_async_t wake;               /* a new map or a drain from the main thread */
    struct pmap *incoming;         /* guarded by p->mu: a map to adopt */
    int drain_requested;           /* guarded by p->mu */
    struct route *route;           /* ref: the current route */
    struct route *next;            /* ref: a route whose new stores are still connecting */
    struct pdown *down;            /* ref: stores to skip (etcd), or NULL */
    struct pdown *incoming_down;   /* guarded by p->mu: a new down set to adopt */
    _Atomic uint64_t map_version;  /* of the current route: read by the main thread */
    uint64_t next_since;           /* uv_now when next was built */
    struct upstream *upstreams;    /* every live upstream (list) */
    struct upstream **up_buckets;  /* owned: address hash of live upstreams */
    size_t nbuckets;
    uint64_t inflight;              /* requests alive, background work included */
    struct preq *dl_head, *dl_tail; /* requests not yet answered, oldest first */
    int draining, finished;
    uint64_t rng;   /* request id generator state */
    uint64_t reads; /* Gets started: which replica the next one reads first */
    struct worker_stats stats;
    int resp_fd;                        /* the RESP face: bound and listening, or -1 */
    struct conn_listener resp_listener; /* resp_face.c */
    struct rface_stats rstats;
    uv_timer_t retry_timer;    /* replicate.c: requests to run again (PREQ_RETRY_LOCKED) */
    struct preq *retry_head;   /* those requests, unordered */
    struct preq **key_buckets; /* owned: PREQ_KEY_QUEUE, the request running per key */
    size_t key_nbuckets, key_count;
    struct rlock **rl_buckets; /* owned: resp_lock.c, the keys with a RESP read-modify-write */
    size_t rl_nbuckets, rl_count;
    struct rwait *rl_ready; /* commands whose turn came, to start */
    int rl_running;         /* rl_ready is being run */
    struct xdc_worker *xdc; /* owned: xdc.c's queues, or NULL */
};

struct proxy {
    struct proxy_config cfg;
    struct hlc clock;
    unsigned nworkers;
    struct worker *workers; /* owned */
    uint64_t resp_buffered; /* atomic: bulk data reserved by RESP commands arriving (resp_face.c) */
    uv_mutex_t mu;
    struct pmap *current;     /* ref: the newest map accepted (main thread) */
    struct pcluster *cluster; /* owned: etcdwatch.c's state; NULL without --etcd */
    uv_loop_t *loop;          /* main thread: signals */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_async_t worker_done;
    atomic_uint done;
    int interrupts, draining;
    struct tls_ctx *tls;     /* owned: the client listeners' TLS, or NULL */
    struct tls_ctx *up_tls;  /* owned: the stores' (mutual TLS), or NULL */
    struct tls_ctx *xdc_tls; /* owned: to other sites' proxies (--replicate-tls-*), or NULL */
    struct auth auth;        /* auth.c: --acl */
    struct xdc *xdc;         /* owned: xdc.c's targets, or NULL */
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
/* Parse and check a map from text (source names it in messages). Returns a
 * pmap with one reference, or NULL with the reason in err. */
struct pmap *pmap_from_json(const char *text, size_t len, const char *source, char *err,
                            size_t errlen);
/* Main thread: make pm (borrowed; referenced if kept) the proxy's map and hand
 * it to every worker, unless it has another shard count, an older version, or
 * the same version with other contents (logged, old map kept). Returns 1 when
 * adopted, 0 when it is the current map, -1 when refused. */
int proxy_offer_map(struct proxy *p, struct pmap *pm, const char *source);
/* Main thread: hand the down set d (borrowed; referenced) to every worker. */
void proxy_offer_down(struct proxy *p, struct pdown *d);
void pdown_unref(struct pdown *d);
/* 1 when addr is in d (NULL: none is). */
int pdown_has(const struct pdown *d, const char *addr);

/* ---- options.c ---- */

/* Parse argv into c (defaults first); --check-config sets *check_only.
 * --help, --version and usage errors exit. */
void proxy_parse_options(struct proxy_config *c, int argc, char **argv, int *check_only);

/* ---- etcdwatch.c (main thread unless said) ---- */

/* --etcd: read the map (from etcd; when that fails from --map-cache, then
 * --map) into p->current. Returns 0, or a negative code with err set. */
int pcluster_init(struct proxy *p, char *err, size_t errlen);
/* Start the watch and the proxy's registration (after the workers exist). */
void pcluster_start(struct proxy *p);
/* Revoke the registration, stop the watch, close its handle (drain). Safe to
 * call twice and without --etcd. */
void pcluster_stop(struct proxy *p);
/* Free it all, once the workers are joined (NULL-safe). */
void pcluster_destroy(struct proxy *p);
/* Any thread: a worker swapped maps; the main thread reports the version. */
void pcluster_notify(struct proxy *p);
/* SIGHUP: --etcd-password-file again (etcd_uv_reload_password). */
void pcluster_reload_password(struct proxy *p);

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
/* The same with TLS context tls (borrowed; NULL: plaintext) for a new one:
 * the connection to another site's proxy (xdc.c). */
struct upstream *upstream_get_tls(struct worker *w, const char *addr, struct tls_ctx *tls);
/* Route references (route_create / route_unref); the last one retires it. */
void upstream_route_ref(struct upstream *up);
void upstream_route_unref(struct upstream *up);
/* 1 while the store is connecting (a new store for a route swap). */
int upstream_connecting(const struct upstream *up);
/* Skip the store (etcd: its registration is gone, or its zone is marked
 * down) until called again with down 0; logged on each change. */
void upstream_set_down(struct upstream *up, int down);
/* Send req (its opaque is overwritten) and track u until its answer, a
 * timeout (--request-timeout) or a connection failure, reported once through
 * u->cb (never from inside this call). Returns 0, or JUNO_EUNAVAIL when the
 * store is marked down or not connected (no callback then). */
int upstream_send(struct upstream *up, struct ureq *u, struct wire_msg *req);
/* Close every upstream now, failing what is in flight (end of drain). */
void upstream_close_all(struct worker *w);
const char *upstream_addr(const struct upstream *up);

/* ---- client.c ---- */

/* Serve the native face on w->listen_fd (worker thread; the connections are
 * in w->clients). Returns 0 or a negative code. */
int client_listen(struct worker *w);

/* ---- resp_face.c: the Redis protocol (RESP2) face ---- */

/* Serve RESP on w->resp_fd if any (worker thread; connections in
 * w->clients). Returns 0 or a negative code. */
int rface_listen(struct worker *w);

/* ---- replicate.c ---- */

struct preq;
struct preq_result; /* preq.h */

/* The originator of a client request (a native connection, a RESP command)
 * and where its answer goes: the request holds a reference on obj (ops->ref)
 * until ops->reply has been called, exactly once, then drops it
 * (ops->unref). reply gets tag back, and the request (namespace, key) and
 * its result, both borrowed for the call; it may start other requests. */
struct psink_ops {
    void (*reply)(void *obj, uintptr_t tag, const struct preq *rq, const struct preq_result *res);
    void (*ref)(void *obj);
    void (*unref)(void *obj);
};

struct psink {
    const struct psink_ops *ops; /* borrowed: static */
    void *obj;
    uintptr_t tag; /* the originator's: which command, which key */
};

/* preq_start flag: a write without a TTL gives the record --default-ttl (or
 * no expiration), not the expiration it has (Redis's SET, PERSIST). */
#define PREQ_TTL_RESET    0x1
/* preq_start flag: a write or Destroy refused with RecordLocked (a concurrent
 * write to the key) aborts and runs again after 1, 2, 4... 16 ms while the
 * deadline allows, instead of answering RecordLocked (Redis clients expect
 * the last writer to win, not an error). */
#define PREQ_RETRY_LOCKED 0x2
/* preq_start flag: requests for one key with this flag run in arrival order
 * on a worker: a write or Destroy, and whatever arrives while one runs,
 * starts once the one ahead has nothing in flight (so writes do not lock each
 * other out, and a Get sees the writes sent before it); Gets arriving while
 * none runs start at once. */
#define PREQ_KEY_QUEUE    0x4
/* preq_start flag: a Destroy carrying a Version is conditional (the RESP
 * face's GETDEL): it deletes only when the newest copy among the W replicas
 * it prepared (and holds locked) is a live record of that version, else it
 * aborts and answers VersionConflict. The native protocol's Destroy ignores
 * a Version, as JunoDB's does. */
#define PREQ_IF_VERSION   0x8
/* preq_start flag: a write flagged 0x01 from another site's proxy, applied
 * last-writer-wins with the originator's metadata (xdc.h). */
#define PREQ_APPLY        0x10
/* preq_start flag: the request's ExpirationMs (juno's field, set with
 * wire_meta_set_expiration) is the expiration to write, in place of a TTL
 * (the RESP face's EX, PX, EXAT, PXAT, EXPIRE...). Without it the field is
 * ignored: a JunoDB client gives a TTL in seconds. */
#define PREQ_EXPIRY_MS    0x20

/* Start the client request req (Create, Get, Update, Set, Destroy; checked
 * by the caller) for sink s. t0 is uv_hrtime() when it arrived. Returns 0:
 * s will be answered; or, with no answer to come, JUNO_EUNAVAIL (no map yet)
 * or JUNO_ENOMEM. */
int preq_start(struct worker *w, const struct psink *s, const struct wire_msg *req, unsigned flags,
               uint64_t t0);

/* ---- main.c ---- */

/* Check whether w has finished draining; if so close its handles. */
void worker_maybe_finish(struct worker *w);
/* Write what every connection of w has queued (the check handle does it
 * once per loop turn; a timer callback that sent requests may do it now). */
void worker_flush(struct worker *w);
/* A random version 4 UUID from w's generator. */
void worker_request_id(struct worker *w, uint8_t id[16]);

#endif
