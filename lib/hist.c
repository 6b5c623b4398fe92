/* hist.c: log-linear histogram (see hist.h). */
#include "hist.h"

#include <string.h>

void
hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Values below 2*HIST_SUB map one to one; above, 6 bits below the top bit, so
 * bucket i covers [(64 + sub) << shift, (65 + sub) << shift). */
static unsigned
hist__index(uint64_t v)
{
    if (v < 2 * HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6;
    unsigned sub = (unsigned)(v >> shift) - HIST_SUB;
    return HIST_SUB + shift * HIST_SUB + sub;
}

/* The largest value that maps to bucket i. */
static uint64_t
hist__upper(unsigned i)
{
    if (i < 2 * HIST_SUB) return i;
    unsigned shift = i / HIST_SUB - 1;
    uint64_t sub = i % HIST_SUB;
    return ((HIST_SUB + sub + 1) << shift) - 1;
}

void
hist_record(struct hist *h, uint64_t v)
{
    unsigned i = hist__index(v);
    if (i >= HIST_BUCKETS) i = HIST_BUCKETS - 1;
    h->counts[i]++;
    h->count++;
    h->sum += v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max) dst->max = src->max;
    if (src->min < dst->min) dst->min = src->min;
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0) return 0;
    if (p >= 100.0) return h->max;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count);
    if (rank >= h->count) rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            uint64_t up = hist__upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
