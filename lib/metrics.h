/* metrics.h: counters, gauges and histograms for the request path, rendered
 * as Prometheus text exposition format 0.0.4.
 *
 * A registry holds metric families (name, help, type, label names); a family
 * holds series (one set of label values each). Every series keeps one block
 * of cells per writer slot, each block on its own cache lines: a daemon gives
 * each of its threads a slot (juno-proxy: one per worker; juno-store: the loop
 * and the writer thread), so updates are relaxed atomic adds on a line no
 * other thread writes: no locks, no sharing on the hot path. Rendering sums
 * the slots.
 *
 *   struct metrics *r = metrics_create(nworkers);
 *   struct metric_family *f = metrics_counter(r, "juno_x_total", "Things.", "op,status");
 *   struct metric *m = metrics_series(f, "get", "Ok");   (registry lock: cache m)
 *   metric_inc(m, worker_id);                             (hot path: no lock)
 *
 * Series are created under the registry's mutex and never removed while the
 * registry lives, so a cached struct metric pointer stays valid. A struct
 * metric_index caches the series of a family keyed by one or two small
 * integers (opcode, status) for one thread, so the hot path finds them
 * without the mutex.
 *
 * Gauges are int64: the sum of the slots (add/sub from any slot), or a value
 * set with metric_set (slot 0 only; never mix the two on one series).
 * Histograms keep non-cumulative bucket counts and a sum per slot; bounds and
 * observations are integers (nanoseconds for latency) and `scale` (a power of
 * ten: 1000000000 for seconds) turns them into the rendered unit, printed as
 * exact decimals ("0.0025"). _count is the sum of the buckets, so it always
 * equals the +Inf bucket.
 */
#ifndef JUNO_METRICS_H
#define JUNO_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS  4
#define METRICS_MAX_BUCKETS 32
#define METRICS_NAME_MAX    128

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;

/* One series. The cells of slot i start at cells + i * stride. */
struct metric {
    struct metric *next;     /* the family's series, in creation order */
    struct metric_family *f; /* borrowed */
    char *labels;            /* owned: the rendered label set, `a="x",b="y"`, or "" */
    unsigned nslots, stride; /* stride: cells per slot, a whole number of cache lines */
    unsigned nbuckets;       /* histograms: bounds + 1 (+Inf); the sum follows */
    const uint64_t *bounds;  /* borrowed from the family (histograms) */
    _Atomic uint64_t *cells; /* owned */
};

/* Latency buckets in nanoseconds, 25 us to 10 s (rendered in seconds with
 * scale METRICS_NS_PER_S). */
#define METRICS_NS_PER_S  1000000000ull
#define METRICS_LATENCY_N 18
extern const uint64_t metrics_latency_ns[METRICS_LATENCY_N];

/* A registry with nslots writer slots (at least 1). NULL when out of memory. */
struct metrics *metrics_create(unsigned nslots);
/* Free the registry, its families and series (no thread may use them any more). */
void metrics_destroy(struct metrics *r);

/* Register a family. name and label names must match [a-zA-Z_:][a-zA-Z0-9_:]*
 * (labels: no ':', not "le", not starting "__"); labels is a comma-separated
 * list ("op,status") or NULL for none; help is copied. A histogram takes
 * nbounds (1..METRICS_MAX_BUCKETS) strictly increasing bounds (copied) and a
 * scale that is a power of ten. A family without labels has its one series
 * at once (metrics_series(f)). Returns the family, or NULL for an invalid or
 * duplicate name or out of memory. */
struct metric_family *metrics_counter(struct metrics *r, const char *name, const char *help,
                                      const char *labels);
struct metric_family *metrics_gauge(struct metrics *r, const char *name, const char *help,
                                    const char *labels);
struct metric_family *metrics_histogram(struct metrics *r, const char *name, const char *help,
                                        const char *labels, const uint64_t *bounds,
                                        unsigned nbounds, uint64_t scale);

/* The series of f with the given label values (exactly as many const char *
 * arguments as f has labels; any bytes, escaped when rendered), created if
 * new. Takes the registry's mutex: cache the result. NULL when f is NULL or
 * out of memory. */
struct metric *metrics_series(struct metric_family *f, ...);

/* Call fn(arg) at the start of every render, on the rendering thread, before
 * anything is read: a place to metric_set gauges from state that thread owns.
 * Returns 0 or JUNO_ENOMEM. */
int metrics_collector(struct metrics *r, void (*fn)(void *arg), void *arg);

/* Render every family in registration order, every series in creation order.
 * On 0, *out (owned by the caller: free) holds *len bytes and a NUL after
 * them. Returns 0 or JUNO_ENOMEM. Safe while other threads update. */
int metrics_render(struct metrics *r, char **out, size_t *len);

/* ---- updates: any thread, no lock; m may be NULL (no-op); a slot out of
 * range counts in slot 0 ---- */

static inline _Atomic uint64_t *
metric__cell(struct metric *m, unsigned slot)
{
    return m->cells + (size_t)(slot < m->nslots ? slot : 0) * m->stride;
}

static inline void
metric_add(struct metric *m, unsigned slot, uint64_t v)
{
    if (m != NULL) atomic_fetch_add_explicit(metric__cell(m, slot), v, memory_order_relaxed);
}

static inline void
metric_inc(struct metric *m, unsigned slot)
{
    metric_add(m, slot, 1);
}

/* Gauges: subtract (two's complement: the slots' sum is right). */
static inline void
metric_sub(struct metric *m, unsigned slot, uint64_t v)
{
    if (m != NULL) atomic_fetch_sub_explicit(metric__cell(m, slot), v, memory_order_relaxed);
}

/* Gauges: set the value (slot 0). */
void metric_set(struct metric *m, int64_t v);

/* Histograms: record one observation v (in the family's integer unit). */
void metric_observe(struct metric *m, unsigned slot, uint64_t v);

/* The rendered value summed over slots: counters and gauges (as int64 cast),
 * histograms: the count. For tests and logs. */
int64_t metric_value(const struct metric *m);

/* ---- a per-thread cache of a family's series keyed by small integers ---- */

typedef const char *metric_label_fn(int key);

/* Label values for the keys 0..255 in snake case, from a table of CamelCase
 * names ("PrepareCreate" -> "prepare_create", "UDFGet" -> "udf_get"); a name
 * equal to unknown_name (wire_opcode_name's "unknown") stays "unknown". */
struct metric_labels {
    char v[256][32];
};
void metric_labels_init(struct metric_labels *l, metric_label_fn *name, const char *unknown_name);

struct metric_index {
    struct metric_family *f; /* borrowed */
    metric_label_fn *label[2];
    struct metric **rows[256]; /* owned: rows[a][b], allocated on first use */
};

/* For a family of one label (label_b NULL) or two; label_x maps a key (0..255)
 * to the label value (a static string, e.g. wire_status_name). */
void metric_index_init(struct metric_index *ix, struct metric_family *f, metric_label_fn *label_a,
                       metric_label_fn *label_b);
void metric_index_deinit(struct metric_index *ix);
struct metric *metric_index__fill(struct metric_index *ix, uint8_t a, uint8_t b);

/* The series for keys (a, b) (b ignored with one label); NULL when out of
 * memory. The owning thread only. */
static inline struct metric *
metric_index_get(struct metric_index *ix, uint8_t a, uint8_t b)
{
    struct metric **row = ix->rows[a];
    if (ix->label[1] == NULL) b = 0;
    if (row != NULL && row[b] != NULL) return row[b];
    return metric_index__fill(ix, a, b);
}

#endif
