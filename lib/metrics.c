/* metrics.c: the metrics registry and its Prometheus text rendering (see metrics.h). */
#include "metrics.h"

#include "error.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

const uint64_t metrics_latency_ns[METRICS_LATENCY_N] = {
    25000,     50000,     100000,     250000,     500000,     1000000,
    2500000,   5000000,   10000000,   25000000,   50000000,   100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

struct metric_family {
    struct metric_family *next; /* registry order */
    struct metrics *r;
    enum metric_type type;
    char name[METRICS_NAME_MAX + 1];
    char *help; /* owned */
    unsigned nlabels;
    char *label_names[METRICS_MAX_LABELS]; /* owned */
    uint64_t bounds[METRICS_MAX_BUCKETS];
    unsigned nbounds;
    uint64_t scale;
    struct metric *series, *tail;
};

struct collector {
    struct collector *next;
    void (*fn)(void *arg);
    void *arg;
};

struct metrics {
    pthread_mutex_t mu; /* families and series lists */
    unsigned nslots;
    struct metric_family *families, *tail;
    struct collector *collectors;
};

/* ---- registry ---- */

struct metrics *
metrics_create(unsigned nslots)
{
    struct metrics *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->nslots = nslots ? nslots : 1;
    return r;
}

static void
series_free(struct metric *m)
{
    free(m->labels);
    free((void *)m->cells);
    free(m);
}

static void
family_free(struct metric_family *f)
{
    for (struct metric *m = f->series, *mn; m; m = mn) {
        mn = m->next;
        series_free(m);
    }
    for (unsigned i = 0; i < f->nlabels; i++) free(f->label_names[i]);
    free(f->help);
    free(f);
}

void
metrics_destroy(struct metrics *r)
{
    if (r == NULL) return;
    for (struct metric_family *f = r->families, *fn; f; f = fn) {
        fn = f->next;
        family_free(f);
    }
    for (struct collector *c = r->collectors, *cn; c; c = cn) {
        cn = c->next;
        free(c);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int
metrics_collector(struct metrics *r, void (*fn)(void *arg), void *arg)
{
    struct collector *c = calloc(1, sizeof(*c));
    if (c == NULL) return JUNO_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&r->mu);
    struct collector **pp = &r->collectors;
    while (*pp) pp = &(*pp)->next;
    *pp = c;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int
name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return 1;
    if (c == ':') return colon;
    return !first && c >= '0' && c <= '9';
}

/* A metric name (colon) or label name (no colon) of n bytes. */
static int
valid_name(const char *s, size_t n, int colon)
{
    if (n == 0 || n > METRICS_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i], i == 0, colon)) return 0;
    return 1;
}

static struct metric *series_create(struct metric_family *f, const char *labels);

static struct metric_family *
family_create(struct metrics *r, enum metric_type type, const char *name, const char *help,
              const char *labels, const uint64_t *bounds, unsigned nbounds, uint64_t scale)
{
    if (r == NULL || !valid_name(name, strlen(name), 1)) return NULL;
    struct metric_family *f = calloc(1, sizeof(*f));
    if (f == NULL) return NULL;
    f->r = r;
    f->type = type;
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->help = strdup(help ? help : "");
    int ok = f->help != NULL;
    for (const char *p = labels; ok && p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        ok = f->nlabels < METRICS_MAX_LABELS && valid_name(p, n, 0) &&
             !(n == 2 && memcmp(p, "le", 2) == 0) && !(n >= 2 && memcmp(p, "__", 2) == 0) &&
             (f->label_names[f->nlabels] = strndup(p, n)) != NULL;
        if (ok) f->nlabels++;
        p = comma ? comma + 1 : p + n;
        if (comma && *p == '\0') ok = 0; /* trailing comma */
    }
    if (ok && type == METRIC_HISTOGRAM) {
        ok = nbounds >= 1 && nbounds <= METRICS_MAX_BUCKETS && scale >= 1;
        for (uint64_t s = scale; ok && s > 1; s /= 10) ok = s % 10 == 0;
        for (unsigned i = 0; ok && i < nbounds; i++) {
            ok = i == 0 || bounds[i] > bounds[i - 1];
            f->bounds[i] = bounds[i];
        }
        f->nbounds = nbounds;
        f->scale = scale;
    }
    pthread_mutex_lock(&r->mu);
    for (struct metric_family *g = r->families; ok && g; g = g->next)
        ok = strcmp(g->name, f->name) != 0;
    if (ok && f->nlabels == 0) ok = series_create(f, "") != NULL;
    if (ok) {
        if (r->tail)
            r->tail->next = f;
        else
            r->families = f;
        r->tail = f;
    }
    pthread_mutex_unlock(&r->mu);
    if (ok) return f;
    family_free(f);
    return NULL;
}

struct metric_family *
metrics_counter(struct metrics *r, const char *name, const char *help, const char *labels)
{
    return family_create(r, METRIC_COUNTER, name, help, labels, NULL, 0, 1);
}

struct metric_family *
metrics_gauge(struct metrics *r, const char *name, const char *help, const char *labels)
{
    return family_create(r, METRIC_GAUGE, name, help, labels, NULL, 0, 1);
}

struct metric_family *
metrics_histogram(struct metrics *r, const char *name, const char *help, const char *labels,
                  const uint64_t *bounds, unsigned nbounds, uint64_t scale)
{
    return family_create(r, METRIC_HISTOGRAM, name, help, labels, bounds, nbounds, scale);
}

/* ---- series ---- */

/* A growable text buffer; on allocation failure it stops growing and says so. */
struct tbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void
tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
tb_str(struct tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

static void tb_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tb_printf(struct tbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) tb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Escape s for a label value (\\, \", \n) or HELP text (\\, \n). */
static void
tb_escaped(struct tbuf *b, const char *s, int quote)
{
    for (const char *run = s;; s++) {
        const char *rep = NULL;
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (*s == '"' && quote)
            rep = "\\\"";
        else if (*s != '\0')
            continue;
        tb_put(b, run, (size_t)(s - run));
        if (rep == NULL) return;
        tb_str(b, rep);
        run = s + 1;
    }
}

/* A new series with the rendered label set (copied); mutex held. */
static struct metric *
series_create(struct metric_family *f, const char *labels)
{
    struct metric *m = calloc(1, sizeof(*m));
    if (m == NULL) return NULL;
    unsigned cells = f->type == METRIC_HISTOGRAM ? f->nbounds + 2 : 1;
    size_t bytes = (cells * sizeof(uint64_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    m->f = f;
    m->nslots = f->r->nslots;
    m->stride = (unsigned)(bytes / sizeof(uint64_t));
    m->nbuckets = f->type == METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
    m->bounds = f->bounds;
    m->labels = strdup(labels);
    m->cells = aligned_alloc(CACHE_LINE, bytes * m->nslots);
    if (m->labels == NULL || m->cells == NULL) {
        series_free(m);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)m->stride * m->nslots; i++) atomic_init(&m->cells[i], 0);
    if (f->tail)
        f->tail->next = m;
    else
        f->series = m;
    f->tail = m;
    return m;
}

struct metric *
metrics_series(struct metric_family *f, ...)
{
    if (f == NULL) return NULL;
    struct tbuf b = {0};
    tb_put(&b, "", 0);
    va_list ap;
    va_start(ap, f);
    for (unsigned i = 0; i < f->nlabels; i++) {
        const char *v = va_arg(ap, const char *);
        if (i > 0) tb_str(&b, ",");
        tb_str(&b, f->label_names[i]);
        tb_str(&b, "=\"");
        tb_escaped(&b, v ? v : "", 1);
        tb_str(&b, "\"");
    }
    va_end(ap);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    pthread_mutex_lock(&f->r->mu);
    struct metric *m = f->series;
    while (m && strcmp(m->labels, b.p) != 0) m = m->next;
    if (m == NULL) m = series_create(f, b.p);
    pthread_mutex_unlock(&f->r->mu);
    free(b.p);
    return m;
}

/* ---- updates ---- */

void
metric_set(struct metric *m, int64_t v)
{
    if (m != NULL) atomic_store_explicit(&m->cells[0], (uint64_t)v, memory_order_relaxed);
}

void
metric_observe(struct metric *m, unsigned slot, uint64_t v)
{
    if (m == NULL || m->nbuckets == 0) return;
    unsigned i = 0, n = m->nbuckets - 1;
    while (i < n && v > m->bounds[i]) i++; /* le: v <= bound */
    _Atomic uint64_t *c = metric__cell(m, slot);
    atomic_fetch_add_explicit(&c[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c[m->nbuckets], v, memory_order_relaxed);
}

/* The sum over slots of cell i. */
static uint64_t
cell_sum(const struct metric *m, unsigned i)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < m->nslots; s++)
        v += atomic_load_explicit(&m->cells[(size_t)s * m->stride + i], memory_order_relaxed);
    return v;
}

int64_t
metric_value(const struct metric *m)
{
    if (m == NULL) return 0;
    if (m->nbuckets == 0) return (int64_t)cell_sum(m, 0);
    uint64_t n = 0;
    for (unsigned i = 0; i < m->nbuckets; i++) n += cell_sum(m, i);
    return (int64_t)n;
}

/* ---- rendering ---- */

/* v / scale as an exact decimal without trailing zeros ("2.5", "0.0001", "3"). */
static void
tb_scaled(struct tbuf *b, uint64_t v, uint64_t scale)
{
    if (scale <= 1) {
        tb_printf(b, "%" PRIu64, v);
        return;
    }
    int digits = 0; /* at most 19: scale is a power of ten in a u64 */
    for (uint64_t s = scale; s > 1 && digits < 19; s /= 10) digits++;
    uint64_t frac = v % scale;
    if (frac == 0) {
        tb_printf(b, "%" PRIu64, v / scale);
        return;
    }
    char f[32];
    int n0 = snprintf(f, sizeof(f), "%0*" PRIu64, digits, frac);
    size_t n = n0 > 0 && (size_t)n0 < sizeof(f) ? (size_t)n0 : 0;
    while (n > 0 && f[n - 1] == '0') n--;
    tb_printf(b, "%" PRIu64 ".", v / scale);
    tb_put(b, f, n);
}

/* name + suffix + {labels[,extra]} */
static void
tb_sample_name(struct tbuf *b, const struct metric *m, const char *suffix, const char *extra)
{
    tb_str(b, m->f->name);
    tb_str(b, suffix);
    int has = m->labels[0] != '\0';
    if (!has && extra == NULL) return;
    tb_str(b, "{");
    tb_str(b, m->labels);
    if (extra != NULL) {
        if (has) tb_str(b, ",");
        tb_str(b, extra);
    }
    tb_str(b, "}");
}

static void
render_histogram(struct tbuf *b, const struct metric *m)
{
    const struct metric_family *f = m->f;
    uint64_t cum = 0;
    for (unsigned i = 0; i < m->nbuckets; i++) {
        cum += cell_sum(m, i);
        struct tbuf le = {0};
        tb_str(&le, "le=\"");
        if (i < f->nbounds)
            tb_scaled(&le, f->bounds[i], f->scale);
        else
            tb_str(&le, "+Inf");
        tb_str(&le, "\"");
        if (le.failed) {
            b->failed = 1;
        } else {
            tb_sample_name(b, m, "_bucket", le.p);
            tb_printf(b, " %" PRIu64 "\n", cum);
        }
        free(le.p);
    }
    tb_sample_name(b, m, "_sum", NULL);
    tb_str(b, " ");
    tb_scaled(b, cell_sum(m, m->nbuckets), f->scale);
    tb_str(b, "\n");
    tb_sample_name(b, m, "_count", NULL);
    tb_printf(b, " %" PRIu64 "\n", cum);
}

int
metrics_render(struct metrics *r, char **out, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&r->mu);
    struct collector *cs = r->collectors;
    pthread_mutex_unlock(&r->mu);
    for (struct collector *c = cs; c; c = c->next) c->fn(c->arg); /* the list only grows */

    struct tbuf b = {0};
    tb_put(&b, "", 0);
    pthread_mutex_lock(&r->mu);
    for (const struct metric_family *f = r->families; f; f = f->next) {
        tb_str(&b, "# HELP ");
        tb_str(&b, f->name);
        tb_str(&b, " ");
        tb_escaped(&b, f->help, 0);
        tb_str(&b, "\n# TYPE ");
        tb_str(&b, f->name);
        tb_str(&b, " ");
        tb_str(&b, types[f->type]);
        tb_str(&b, "\n");
        for (const struct metric *m = f->series; m; m = m->next) {
            if (f->type == METRIC_HISTOGRAM) {
                render_histogram(&b, m);
                continue;
            }
            tb_sample_name(&b, m, "", NULL);
            if (f->type == METRIC_COUNTER)
                tb_printf(&b, " %" PRIu64 "\n", cell_sum(m, 0));
            else
                tb_printf(&b, " %" PRId64 "\n", (int64_t)cell_sum(m, 0));
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (b.failed) {
        free(b.p);
        return JUNO_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- index ---- */

void
metric_index_init(struct metric_index *ix, struct metric_family *f, metric_label_fn *label_a,
                  metric_label_fn *label_b)
{
    memset(ix, 0, sizeof(*ix));
    ix->f = f;
    ix->label[0] = label_a;
    ix->label[1] = label_b;
}

void
metric_index_deinit(struct metric_index *ix)
{
    for (int i = 0; i < 256; i++) free(ix->rows[i]);
    memset(ix->rows, 0, sizeof(ix->rows));
}

struct metric *
metric_index__fill(struct metric_index *ix, uint8_t a, uint8_t b)
{
    if (ix->f == NULL) return NULL;
    if (ix->rows[a] == NULL && (ix->rows[a] = calloc(256, sizeof(struct metric *))) == NULL)
        return NULL;
    struct metric *m = ix->label[1] ? metrics_series(ix->f, ix->label[0](a), ix->label[1](b))
                                    : metrics_series(ix->f, ix->label[0](a));
    ix->rows[a][b] = m;
    return m;
}

/* ---- label tables ---- */

static int
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static int
is_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

void
metric_labels_init(struct metric_labels *l, metric_label_fn *name, const char *unknown_name)
{
    for (int k = 0; k < 256; k++) {
        const char *s = name(k);
        char *o = l->v[k];
        size_t n = 0, cap = sizeof(l->v[k]);
        if (s == NULL || (unknown_name != NULL && strcmp(s, unknown_name) == 0)) s = "unknown";
        for (size_t i = 0; s[i] != '\0' && n + 2 < cap; i++) {
            char c = s[i];
            /* a word starts at an upper-case letter after a lower-case one, or
             * at the last capital of an acronym followed by lower case */
            if (i > 0 && is_upper(c) &&
                (is_lower(s[i - 1]) || (is_upper(s[i - 1]) && is_lower(s[i + 1]))))
                o[n++] = '_';
            o[n++] = is_upper(c) ? (char)(c - 'A' + 'a') : c;
        }
        o[n] = '\0';
    }
}
