/* test_metrics.c: the metrics registry and its Prometheus text (format 0.0.4):
 * exact text for a small registry, label and help escaping, cumulative
 * buckets, slots summed, name validation, the index cache, threads. */
#include "unit.h"

#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>

static char *
render(struct metrics *r)
{
    char *out = NULL;
    size_t len = 0;
    if (metrics_render(r, &out, &len) != 0) return NULL;
    if (out != NULL && strlen(out) != len) {
        free(out);
        return NULL;
    }
    return out;
}

UNIT_TEST(exact_text_small_registry)
{
    struct metrics *r = metrics_create(2);
    struct metric_family *req = metrics_counter(
        r, "juno_t_requests_total", "Requests answered, by op and status.", "op,status");
    struct metric_family *conns = metrics_gauge(r, "juno_t_connections", "Open connections.", NULL);
    static const uint64_t b[] = {1000000, 2500000, 1000000000};
    struct metric_family *lat =
        metrics_histogram(r, "juno_t_duration_seconds", "Latency.", "op", b, 3, METRICS_NS_PER_S);
    struct metric_family *empty = metrics_counter(r, "juno_t_unused_total", "No series yet.", "x");
    CHECK(req && conns && lat && empty);
    struct metric *get_ok = metrics_series(req, "get", "Ok");
    struct metric *set_busy = metrics_series(req, "set", "Busy");
    CHECK(metrics_series(req, "get", "Ok") == get_ok); /* found, not created again */
    metric_inc(get_ok, 0);
    metric_add(get_ok, 1, 2);
    metric_inc(set_busy, 1);
    struct metric *c = metrics_series(conns);
    metric_add(c, 0, 3);
    metric_sub(c, 1, 5); /* slots sum to -2 */
    struct metric *lg = metrics_series(lat, "get");
    metric_observe(lg, 0, 500000);     /* 0.0005: first bucket */
    metric_observe(lg, 1, 1000000);    /* exactly 0.001: le is inclusive */
    metric_observe(lg, 0, 2000000);    /* 0.002 */
    metric_observe(lg, 1, 3000000000); /* 3 s: +Inf only */
    char *text = render(r);
    CHECK_STR(text, "# HELP juno_t_requests_total Requests answered, by op and status.\n"
                    "# TYPE juno_t_requests_total counter\n"
                    "juno_t_requests_total{op=\"get\",status=\"Ok\"} 3\n"
                    "juno_t_requests_total{op=\"set\",status=\"Busy\"} 1\n"
                    "# HELP juno_t_connections Open connections.\n"
                    "# TYPE juno_t_connections gauge\n"
                    "juno_t_connections -2\n"
                    "# HELP juno_t_duration_seconds Latency.\n"
                    "# TYPE juno_t_duration_seconds histogram\n"
                    "juno_t_duration_seconds_bucket{op=\"get\",le=\"0.001\"} 2\n"
                    "juno_t_duration_seconds_bucket{op=\"get\",le=\"0.0025\"} 3\n"
                    "juno_t_duration_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
                    "juno_t_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
                    "juno_t_duration_seconds_sum{op=\"get\"} 3.0035\n"
                    "juno_t_duration_seconds_count{op=\"get\"} 4\n"
                    "# HELP juno_t_unused_total No series yet.\n"
                    "# TYPE juno_t_unused_total counter\n");
    free(text);
    CHECK_EQ_I(metric_value(get_ok), 3);
    CHECK_EQ_I(metric_value(c), -2);
    CHECK_EQ_I(metric_value(lg), 4);
    metrics_destroy(r);
}

UNIT_TEST(unlabelled_histogram_and_set_gauge)
{
    struct metrics *r = metrics_create(1);
    static const uint64_t b[] = {1, 2, 4};
    struct metric_family *h = metrics_histogram(r, "g_size", "Group size.", NULL, b, 3, 1);
    struct metric_family *v = metrics_gauge(r, "map_version", "Map version.", NULL);
    struct metric *m = metrics_series(h);
    for (uint64_t x = 1; x <= 5; x++) metric_observe(m, 0, x);
    metric_set(metrics_series(v), 42);
    metric_set(metrics_series(v), 7); /* set replaces */
    char *text = render(r);
    CHECK_STR(text, "# HELP g_size Group size.\n"
                    "# TYPE g_size histogram\n"
                    "g_size_bucket{le=\"1\"} 1\n"
                    "g_size_bucket{le=\"2\"} 2\n"
                    "g_size_bucket{le=\"4\"} 4\n"
                    "g_size_bucket{le=\"+Inf\"} 5\n"
                    "g_size_sum 15\n"
                    "g_size_count 5\n"
                    "# HELP map_version Map version.\n"
                    "# TYPE map_version gauge\n"
                    "map_version 7\n");
    free(text);
    metrics_destroy(r);
}

UNIT_TEST(label_and_help_escaping)
{
    struct metrics *r = metrics_create(1);
    struct metric_family *f =
        metrics_counter(r, "esc_total", "Back\\slash, \"quotes\" stay,\nnew line.", "store");
    metric_inc(metrics_series(f, "a\\b\"c\nd"), 0);
    metric_inc(metrics_series(f, ""), 0);
    metric_inc(metrics_series(f, "127.0.0.1:9001"), 0);
    char *text = render(r);
    CHECK_STR(text, "# HELP esc_total Back\\\\slash, \"quotes\" stay,\\nnew line.\n"
                    "# TYPE esc_total counter\n"
                    "esc_total{store=\"a\\\\b\\\"c\\nd\"} 1\n"
                    "esc_total{store=\"\"} 1\n"
                    "esc_total{store=\"127.0.0.1:9001\"} 1\n");
    free(text);
    metrics_destroy(r);
}

UNIT_TEST(bucket_cumulation_over_slots)
{
    struct metrics *r = metrics_create(4);
    struct metric_family *f = metrics_histogram(r, "lat_seconds", "L.", NULL, metrics_latency_ns,
                                                METRICS_LATENCY_N, METRICS_NS_PER_S);
    struct metric *m = metrics_series(f);
    uint64_t sum = 0;
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t v = (uint64_t)i * 13000000ull; /* 0 .. 12.987 s */
        metric_observe(m, i % 4, v);
        sum += v;
    }
    char *text = render(r);
    CHECK(text != NULL);
    /* every bucket line's count is the number of values <= its bound */
    uint64_t prev = 0;
    int buckets = 0;
    for (char *p = text; p && (p = strstr(p, "lat_seconds_bucket{le=\"")) != NULL; p++) {
        char le[32];
        unsigned long long n;
        if (sscanf(p, "lat_seconds_bucket{le=\"%31[^\"]\"} %llu", le, &n) != 2) break;
        uint64_t want = 0;
        if (strcmp(le, "+Inf") == 0) {
            want = 1000;
        } else {
            uint64_t bound = metrics_latency_ns[buckets];
            for (uint64_t i = 0; i < 1000; i++)
                if (i * 13000000ull <= bound) want++;
        }
        CHECK_EQ_U(n, want);
        CHECK(n >= prev);
        prev = n;
        buckets++;
    }
    CHECK_EQ_I(buckets, METRICS_LATENCY_N + 1);
    CHECK(strstr(text, "le=\"0.000025\"") != NULL);
    CHECK(strstr(text, "le=\"2.5\"") != NULL);
    CHECK(strstr(text, "le=\"10\"") != NULL);
    CHECK(strstr(text, "lat_seconds_sum 6493.5\n") != NULL); /* 13 ms * 499500 */
    CHECK(strstr(text, "lat_seconds_count 1000\n") != NULL);
    CHECK_EQ_U(sum, 6493500000000ull);
    free(text);
    metrics_destroy(r);
}

UNIT_TEST(invalid_names_and_duplicates_refused)
{
    struct metrics *r = metrics_create(1);
    static const uint64_t b[] = {2, 1};
    CHECK(metrics_counter(r, "ok_total", "", NULL) != NULL);
    CHECK(metrics_counter(r, "ok_total", "", NULL) == NULL); /* duplicate */
    CHECK(metrics_counter(r, "1bad", "", NULL) == NULL);
    CHECK(metrics_counter(r, "bad-name", "", NULL) == NULL);
    CHECK(metrics_counter(r, "", "", NULL) == NULL);
    CHECK(metrics_counter(r, "ns:ok_total", "", NULL) != NULL); /* colons in names */
    CHECK(metrics_counter(r, "l1", "", "a:b") == NULL);         /* but not in labels */
    CHECK(metrics_counter(r, "l2", "", "le") == NULL);
    CHECK(metrics_counter(r, "l3", "", "__x") == NULL);
    CHECK(metrics_counter(r, "l4", "", "a,") == NULL);
    CHECK(metrics_counter(r, "l5", "", "a,,b") == NULL);
    CHECK(metrics_counter(r, "l6", "", "a,b,c,d,e") == NULL);
    CHECK(metrics_counter(r, "l7", "", "a,b,c,d") != NULL);
    CHECK(metrics_histogram(r, "h1", "", NULL, b, 2, 1) == NULL); /* not increasing */
    CHECK(metrics_histogram(r, "h2", "", NULL, b, 1, 7) == NULL); /* scale not 10^k */
    CHECK(metrics_histogram(r, "h3", "", NULL, b, 0, 1) == NULL); /* no bounds */
    CHECK(metrics_histogram(r, "h4", "", NULL, b + 1, 1, 1000) != NULL);
    CHECK(metrics_series(NULL) == NULL);
    metric_inc(NULL, 0); /* no-ops */
    metric_observe(NULL, 0, 1);
    metric_set(NULL, 1);
    metrics_destroy(r);
}

static const char *
op_name(int k)
{
    static const char *const n[] = {"zero", "one", "two"};
    return k < 3 ? n[k] : "other";
}

static const char *
st_name(int k)
{
    return k == 0 ? "Ok" : "Err";
}

UNIT_TEST(index_caches_series)
{
    struct metrics *r = metrics_create(1);
    struct metric_family *f = metrics_counter(r, "ix_total", "", "op,status");
    struct metric_index ix;
    metric_index_init(&ix, f, op_name, st_name);
    struct metric *a = metric_index_get(&ix, 1, 0);
    CHECK(a != NULL && a == metric_index_get(&ix, 1, 0));
    CHECK(a == metrics_series(f, "one", "Ok"));
    CHECK(metric_index_get(&ix, 5, 1) == metric_index_get(&ix, 9, 3)); /* same labels */
    metric_inc(metric_index_get(&ix, 2, 0), 0);
    char *text = render(r);
    CHECK(strstr(text, "ix_total{op=\"two\",status=\"Ok\"} 1\n") != NULL);
    free(text);
    metric_index_deinit(&ix);
    struct metric_family *g = metrics_counter(r, "ix1_total", "", "op");
    metric_index_init(&ix, g, op_name, NULL);
    CHECK(metric_index_get(&ix, 0, 7) == metric_index_get(&ix, 0, 200)); /* b ignored */
    metric_index_deinit(&ix);
    metrics_destroy(r);
}

static const char *
camel(int k)
{
    static const char *const n[] = {"Nop",    "PrepareCreate", "UDFGet",          "VerHandshake",
                                    "Ok",     "NoKey",         "SSOutofResource", "BadRequestID",
                                    "unknown"};
    return k < 9 ? n[k] : "unknown";
}

UNIT_TEST(snake_case_labels)
{
    static struct metric_labels l;
    metric_labels_init(&l, camel, "unknown");
    CHECK_STR(l.v[0], "nop");
    CHECK_STR(l.v[1], "prepare_create");
    CHECK_STR(l.v[2], "udf_get");
    CHECK_STR(l.v[3], "ver_handshake");
    CHECK_STR(l.v[4], "ok");
    CHECK_STR(l.v[5], "no_key");
    CHECK_STR(l.v[6], "ss_outof_resource");
    CHECK_STR(l.v[7], "bad_request_id");
    CHECK_STR(l.v[8], "unknown");
    CHECK_STR(l.v[255], "unknown");
}

struct thr {
    struct metric *c, *h;
    unsigned slot;
};

static void *
hammer(void *arg)
{
    struct thr *t = arg;
    for (unsigned i = 0; i < 100000; i++) {
        metric_inc(t->c, t->slot);
        metric_observe(t->h, t->slot, i % 3);
    }
    return NULL;
}

UNIT_TEST(threads_on_their_own_slots_and_a_shared_one)
{
    struct metrics *r = metrics_create(3);
    static const uint64_t b[] = {0, 1};
    struct metric *c = metrics_series(metrics_counter(r, "thr_total", "", NULL));
    struct metric *h = metrics_series(metrics_histogram(r, "thr_h", "", NULL, b, 2, 1));
    pthread_t th[4];
    struct thr t[4] = {{c, h, 0}, {c, h, 1}, {c, h, 2}, {c, h, 2}}; /* two share slot 2 */
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, &t[i]);
    for (int i = 0; i < 3; i++) { /* rendering while they run */
        char *text = render(r);
        CHECK(text != NULL);
        free(text);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK_EQ_I(metric_value(c), 400000);
    CHECK_EQ_I(metric_value(h), 400000);
    char *text = render(r);
    CHECK(strstr(text, "thr_h_bucket{le=\"0\"} 133336\n") != NULL);
    CHECK(strstr(text, "thr_h_bucket{le=\"1\"} 266668\n") != NULL);
    CHECK(strstr(text, "thr_h_sum 399996\n") != NULL);
    free(text);
    metrics_destroy(r);
}

static int collected;

static void
collect(void *arg)
{
    collected++;
    metric_set(arg, collected * 10);
}

UNIT_TEST(collector_runs_before_each_render)
{
    struct metrics *r = metrics_create(1);
    struct metric *g = metrics_series(metrics_gauge(r, "col", "", NULL));
    CHECK_EQ_I(metrics_collector(r, collect, g), 0);
    char *t1 = render(r), *t2 = render(r);
    CHECK(strstr(t1, "col 10\n") != NULL);
    CHECK(strstr(t2, "col 20\n") != NULL);
    free(t1);
    free(t2);
    metrics_destroy(r);
}

int
main(void)
{
    RUN(exact_text_small_registry);
    RUN(unlabelled_histogram_and_set_gauge);
    RUN(label_and_help_escaping);
    RUN(bucket_cumulation_over_slots);
    RUN(invalid_names_and_duplicates_refused);
    RUN(index_caches_series);
    RUN(snake_case_labels);
    RUN(threads_on_their_own_slots_and_a_shared_one);
    RUN(collector_runs_before_each_render);
    return unit_done();
}
