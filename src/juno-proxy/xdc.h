/* xdc.h: cross-datacenter replication (docs/architecture.md, "Sites"):
 * xdc_site.c the targets, xdc.c the queues, xdc_apply.c the target side.
 *
 * Source side (xdc.c): every write a client was told succeeded (Create, Set,
 * Update, Destroy, a Get that extended a TTL) is queued, after the client's
 * answer, for each --replicate-to target: another site's proxy. A worker
 * sends its queue over one pipelined connection per target (upstream.c:
 * reconnects with backoff, marks down), as a Set (a record) or a Destroy (a
 * tombstone) flagged 0x01 (WIRE_FLAG_REPLICATION) carrying the record's
 * metadata: Version, CreationTime, ExpirationTime, LastModificationTime,
 * OriginatorRequestID and the last write's RequestID. Bounded: bytes per
 * target (--replicate-queue, split over the workers) and age
 * (--replicate-max-age); what is dropped is counted by reason.
 *
 * Target side (xdc_apply.c, --accept-replication): such a write becomes a
 * Repair of that exact record to the key's replica in every zone, answered
 * at quorum W; the stores keep it only if it is newer (last-modified, then
 * version), so an older write never replaces a newer one. A replicated write
 * is never forwarded again.
 */
#ifndef JUNO_PROXY_XDC_H
#define JUNO_PROXY_XDC_H

#include "map.h"

#include <stddef.h>
#include <stdint.h>

struct proxy;
struct worker;
struct preq;
struct replica;
struct wire_msg;

/* Why a queued write never reached a target (juno_proxy_xdc_dropped_total). */
enum xdc_drop {
    XDC_QUEUE_FULL = 0, /* over --replicate-queue when it was answered */
    XDC_TOO_OLD,        /* queued longer than --replicate-max-age */
    XDC_RETRIES,        /* XDC_MAX_TRIES attempts failed (timeouts, connection lost, busy) */
    XDC_REFUSED,        /* the target answered an error that a retry cannot fix */
    XDC_SHUTDOWN,       /* still queued when the proxy stopped */
    XDC_NDROPS
};

#define XDC_MAX_TRIES   20
#define XDC_MAX_TARGETS 16

/* ---- shared by xdc.c and xdc_site.c ---- */

struct metric;

/* One target site, shared by the workers (immutable after xdc_init). */
struct xdc_site {
    char addr[MAP_ADDR_MAX + 1];
    struct metric *drops[XDC_NDROPS], *sent, *depth, *bytes, *lag;
};

struct xdc {
    unsigned n;
    uint64_t cap; /* bytes per target per worker */
    uint64_t max_age_ns;
    struct xdc_site *sites; /* owned: [n] */
};

/* Check a --replicate-to list: 0, or JUNO_EINVAL with the reason in err. */
int xdc_check_targets(const char *list, char *err, size_t errlen);

/* Main thread, after pmetrics_init and before the workers start: the
 * targets of p->cfg.replicate_to and their metrics. Returns 0 or a negative
 * code with the reason in err. */
int xdc_init(struct proxy *p, char *err, size_t errlen);
void xdc_deinit(struct proxy *p);
/* Worker thread, before its loop runs: connect to the targets. */
int xdc_worker_start(struct worker *w);
/* Worker thread, draining: 1 while writes are still queued for a target,
 * for at most XDC_DRAIN_MS from the first call (the drain waits). */
int xdc_worker_pending(struct worker *w);
/* Worker thread, when it finishes draining: count what is queued as dropped
 * (XDC_SHUTDOWN), close the timer. */
void xdc_worker_stop(struct worker *w);
/* After the worker's loop has ended: free its state. */
void xdc_worker_free(struct worker *w);
/* rq was answered with success: queue its write for every target (nothing
 * for a replicated write, a read, a replay). */
void xdc_forward(struct preq *rq);

/* ---- xdc_apply.c ---- */

/* The reason a replicated write m cannot be applied, or NULL. */
const char *xdc_apply_check(const struct wire_msg *m);
/* preq_start: take the record to write from the request's meta. */
void xdc_apply_init(struct preq *rq, const struct wire_msg *m);
void xdc_apply_start(struct preq *rq);
void xdc_apply_answer(struct preq *rq, struct replica *r, int st);
void xdc_apply_progress(struct preq *rq);

#endif
