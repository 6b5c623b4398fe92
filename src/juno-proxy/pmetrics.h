/* pmetrics.h: juno-proxy's metrics (lib/metrics.h) and their HTTP endpoint
 * (--metrics HOST:PORT, lib/httpd.h on the main thread's loop).
 *
 * Each worker thread counts in its own slot (its id), so the request path
 * takes no lock: the series it needs are cached per worker (requests by op
 * and status) or per upstream (struct pm_store). docs/operations.md lists
 * every metric.
 */
#ifndef JUNO_PROXY_PMETRICS_H
#define JUNO_PROXY_PMETRICS_H

#include "metrics.h"

#include <stdint.h>

struct proxy;
struct worker;

/* Where a TLS handshake failed (juno_proxy_tls_handshake_failures_total):
 * a native client, a RESP client, a store connection. */
enum pm_role { PM_NATIVE = 0, PM_RESP, PM_UPSTREAM, PM_NROLES };

/* Outcomes of a storage request (juno_proxy_storage_requests_total). */
enum pm_outcome { PM_ANSWERED = 0, PM_TIMEOUT, PM_FAILED, PM_UNAVAILABLE, PM_NOUTCOMES };

/* The series of one store, cached in a worker's upstream. */
struct pm_store {
    struct metric *out[PM_NOUTCOMES];
    struct metric *down;      /* juno_proxy_store_down{store} */
    struct metric *markdowns; /* juno_proxy_store_markdowns_total{store} */
};

/* Create the registry for p->nworkers workers (main thread, before the
 * workers start). Returns 0 or JUNO_ENOMEM. */
int pmetrics_init(struct proxy *p);
/* The registry, for modules that register their own families (main thread,
 * after pmetrics_init). */
struct metrics *pmetrics_registry(void);
/* Option --metrics HOST:PORT (arg); a bad address is a usage error (exit 64). */
void pmetrics_option(const char *arg);
/* With --metrics, serve /metrics on p->loop (main thread). Returns 0 (also
 * without --metrics) or a negative code with the reason in err. */
int pmetrics_listen(struct proxy *p, char *err, size_t errlen);
/* Close the HTTP listener and its connections (main thread; before the main
 * loop's last run). */
void pmetrics_stop(void);
/* Free everything (after every worker has stopped). */
void pmetrics_deinit(void);

/* A client request answered with status; t0 is uv_hrtime() at its arrival. */
void pmetrics_request(struct worker *w, int opcode, int status, uint64_t t0);
/* Client requests being replicated: +1 when one starts, -1 when answered. */
void pmetrics_inflight(struct worker *w, int delta);
/* A client connection accepted (+1) or closed (-1). */
void pmetrics_conn(struct worker *w, int delta);
/* A client connection closed for a bad frame. */
void pmetrics_bad_frame(struct worker *w);
/* --gather's timer sent n connections' output before their batch was done. */
void pmetrics_gather_late(struct worker *w, unsigned n);
/* A TLS handshake refused or failed (reason: enum tls_reason); counted only
 * when that side has TLS. */
void pmetrics_tls_refused(struct worker *w, enum pm_role role, int reason);

/* --acl: a failed AUTH or HELLO AUTH (RESP); a request refused for want of
 * permission (face: PM_NATIVE or PM_RESP). Counted only with --acl. */
void pmetrics_auth_failed(struct worker *w);
void pmetrics_acl_denied(struct worker *w, enum pm_role face);

/* Fill ps with the series of the store at addr (worker thread, once per
 * upstream: takes the registry's lock). */
void pmetrics_store_init(struct worker *w, const char *addr, struct pm_store *ps);
void pmetrics_storage(struct worker *w, struct pm_store *ps, enum pm_outcome o);
/* This worker marks the store down (delta 1: counted as a mark-down) or
 * takes it back / forgets it (-1). */
void pmetrics_store_down(struct worker *w, struct pm_store *ps, int delta);

#endif
