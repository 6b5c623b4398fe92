/* xdc_site.c: the --replicate-to targets and their metrics (main thread,
 * at start; immutable afterwards, shared by the workers' queues in xdc.c).
 */
#include "pmetrics.h"
#include "proxy.h"
#include "xdc.h"

#include "cli.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static const char *const drop_names[XDC_NDROPS] = {"queue_full", "too_old", "retries", "refused",
                                                   "shutdown"};

/* The replication lag: from the client's answer to the target's, 250 us to
 * 5 min (fine below 10 ms, where a healthy link is). */
static const uint64_t lag_bounds_ns[] = {
    250000,      500000,      1000000,     1500000,      2000000,      3000000,
    5000000,     7500000,     10000000,    15000000,     25000000,     50000000,
    100000000,   250000000,   500000000,   1000000000,   2500000000,   5000000000,
    10000000000, 30000000000, 60000000000, 120000000000, 300000000000,
};
#define LAG_N (sizeof(lag_bounds_ns) / sizeof(lag_bounds_ns[0]))

/* Split list into addresses (into sites, when not NULL). Returns the count,
 * or -1 with the reason in err. */
static int
parse_targets(const char *list, struct xdc_site *sites, char *err, size_t errlen)
{
    char addrs[XDC_MAX_TARGETS][MAP_ADDR_MAX + 1];
    int n = 0;
    for (const char *s = list;;) {
        size_t len = strcspn(s, ",");
        char host[MAP_ADDR_MAX + 1];
        uint16_t port;
        if (n == XDC_MAX_TARGETS) {
            snprintf(err, errlen, "--replicate-to: at most %d targets", XDC_MAX_TARGETS);
            return -1;
        }
        if (len == 0 || len > MAP_ADDR_MAX) {
            snprintf(err, errlen, "invalid --replicate-to '%s': an empty or too long address",
                     list);
            return -1;
        }
        memcpy(addrs[n], s, len);
        addrs[n][len] = '\0';
        if (cli_parse_hostport(addrs[n], host, sizeof(host), &port) != 0) {
            snprintf(err, errlen, "invalid --replicate-to address '%s': expected HOST:PORT",
                     addrs[n]);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(addrs[i], addrs[n]) == 0) {
                snprintf(err, errlen, "--replicate-to names %s twice", addrs[n]);
                return -1;
            }
        if (sites != NULL) memcpy(sites[n].addr, addrs[n], sizeof(addrs[n]));
        n++;
        s += len;
        if (*s == '\0') return n;
        s++;
    }
}

int
xdc_check_targets(const char *list, char *err, size_t errlen)
{
    return parse_targets(list, NULL, err, errlen) < 0 ? JUNO_EINVAL : 0;
}

int
xdc_init(struct proxy *p, char *err, size_t errlen)
{
    const char *list = p->cfg.replicate_to;
    if (list == NULL) return 0;
    struct xdc *x = calloc(1, sizeof(*x));
    if (x == NULL || (x->sites = calloc(XDC_MAX_TARGETS, sizeof(*x->sites))) == NULL) {
        free(x);
        return JUNO_ENOMEM;
    }
    p->xdc = x;
    int n = parse_targets(list, x->sites, err, errlen);
    if (n < 0) return JUNO_EINVAL;
    x->n = (unsigned)n;
    x->cap = p->cfg.xdc_queue_bytes / p->nworkers;
    x->max_age_ns = p->cfg.xdc_max_age_s * 1000000000ull;
    struct metrics *r = pmetrics_registry();
    struct metric_family *fd = metrics_counter(
        r, "juno_proxy_xdc_dropped_total",
        "Writes never replicated to a target site, by reason: queue_full (over "
        "--replicate-queue), too_old (over --replicate-max-age), retries (attempts exhausted), "
        "refused (the target answered an error), shutdown (queued when the proxy stopped).",
        "target,reason");
    struct metric_family *fs = metrics_counter(r, "juno_proxy_xdc_replicated_total",
                                               "Writes the target site acknowledged.", "target");
    struct metric_family *fq =
        metrics_gauge(r, "juno_proxy_xdc_queue_depth",
                      "Writes queued for a target site or in flight to it.", "target");
    struct metric_family *fb = metrics_gauge(r, "juno_proxy_xdc_queue_bytes",
                                             "Bytes those writes hold (counted against "
                                             "--replicate-queue).",
                                             "target");
    struct metric_family *fl = metrics_histogram(
        r, "juno_proxy_xdc_lag_seconds",
        "Replication lag: from the client's answer to the target site's acknowledgement.", "target",
        lag_bounds_ns, LAG_N, METRICS_NS_PER_S);
    for (unsigned i = 0; i < x->n; i++) {
        struct xdc_site *site = &x->sites[i];
        for (int k = 0; k < XDC_NDROPS; k++)
            if ((site->drops[k] = metrics_series(fd, site->addr, drop_names[k])) == NULL)
                return JUNO_ENOMEM;
        site->sent = metrics_series(fs, site->addr);
        site->depth = metrics_series(fq, site->addr);
        site->bytes = metrics_series(fb, site->addr);
        site->lag = metrics_series(fl, site->addr);
        if (!site->sent || !site->depth || !site->bytes || !site->lag) return JUNO_ENOMEM;
        log_info("replicating writes to site target=%s queue_bytes=%llu max_age_s=%llu", site->addr,
                 (unsigned long long)p->cfg.xdc_queue_bytes,
                 (unsigned long long)p->cfg.xdc_max_age_s);
    }
    return 0;
}

void
xdc_deinit(struct proxy *p)
{
    if (p->xdc == NULL) return;
    free(p->xdc->sites);
    free(p->xdc);
    p->xdc = NULL;
}
