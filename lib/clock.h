/* clock.h: the two clocks juno reads. Wall time (CLOCK_REALTIME) stamps
 * records and expirations; monotonic time (CLOCK_MONOTONIC) measures
 * durations and deadlines, immune to the wall clock being set. */
#ifndef JUNO_CLOCK_H
#define JUNO_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time in nanoseconds. */
static inline uint64_t
clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Monotonic nanoseconds (arbitrary origin). */
static inline uint64_t
clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Monotonic milliseconds (arbitrary origin). */
static inline int64_t
clock_mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

#endif
