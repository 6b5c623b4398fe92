/* test_hist.c: the latency histogram's percentiles and precision. */
#include "unit.h"

#include "hist.h"

UNIT_TEST(empty_and_single)
{
    struct hist h;
    hist_init(&h);
    CHECK_EQ_U(hist_percentile(&h, 50), 0);
    hist_record(&h, 1234567);
    CHECK_EQ_U(h.count, 1);
    CHECK_EQ_U(hist_percentile(&h, 100), 1234567);
    uint64_t p50 = hist_percentile(&h, 50);
    CHECK(p50 >= 1234567 && p50 <= 1234567); /* capped at the maximum */
}

UNIT_TEST(uniform_percentiles_within_precision)
{
    static struct hist h;
    hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++) hist_record(&h, v * 1000); /* 1 us .. 100 ms */
    double ps[] = {50, 90, 99, 99.9};
    for (int i = 0; i < 4; i++) {
        double want = ps[i] / 100.0 * 100000 * 1000;
        double got = (double)hist_percentile(&h, ps[i]);
        printf("# p%.1f = %.0f (want %.0f)\n", ps[i], got, want);
        CHECK(got >= want * 0.98 && got <= want * 1.02);
    }
    CHECK_EQ_U(hist_percentile(&h, 100), 100000000);
    CHECK_EQ_U(h.min, 1000);
}

UNIT_TEST(small_values_exact_and_huge_values_fit)
{
    struct hist h;
    hist_init(&h);
    for (uint64_t v = 0; v < 128; v++) hist_record(&h, v);
    CHECK_EQ_U(hist_percentile(&h, 50), 64);
    hist_record(&h, UINT64_MAX);
    CHECK_EQ_U(hist_percentile(&h, 100), UINT64_MAX);
    struct hist g;
    hist_init(&g);
    hist_record(&g, 5);
    hist_merge(&g, &h);
    CHECK_EQ_U(g.count, 130);
    CHECK_EQ_U(g.max, UINT64_MAX);
}

int
main(void)
{
    RUN(empty_and_single);
    RUN(uniform_percentiles_within_precision);
    RUN(small_values_exact_and_huge_values_fit);
    return unit_done();
}
