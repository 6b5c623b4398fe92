/* hist.h: a log-linear latency histogram (HdrHistogram-style, ~1.6% precision).
 *
 * Values (nanoseconds, or any u64) fall into 64 sub-buckets per power of two,
 * so percentiles are exact to within 1/64 of the value, from 1 ns to hours.
 * Fixed size, no allocation, O(1) record; not thread-safe.
 */
#ifndef JUNO_HIST_H
#define JUNO_HIST_H

#include <stdint.h>

#define HIST_SUB     64
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
    uint64_t count, max, min, sum;
    uint64_t counts[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Add every value of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100): an upper bound of the bucket holding it;
 * 0 for an empty histogram; p = 100 gives the exact maximum. */
uint64_t hist_percentile(const struct hist *h, double p);

#endif
