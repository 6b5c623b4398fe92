/* hlc.h: a hybrid logical clock in nanoseconds.
 *
 * The proxy stamps every write with hlc_now(): the wall clock (unix ns) when
 * it moves forward, otherwise one more than the last stamp handed out. So the
 * stamps of one clock strictly increase even when the wall clock steps back
 * (NTP, a VM migration), and they stay close to real time. hlc_observe() feeds
 * in a stamp seen elsewhere (a record's last-modified time read from a store):
 * the next hlc_now() is then strictly greater, so a write made after reading a
 * record is ordered after it even when that record came from a proxy whose
 * clock runs ahead (last-writer-wins by hybrid timestamp, docs/consistency.md).
 *
 * Thread-safe: the state is one atomic word; any thread may call any function.
 */
#ifndef JUNO_HLC_H
#define JUNO_HLC_H

#include <stdatomic.h>
#include <stdint.h>

/* The wall clock: unix time in ns. arg is the one given to hlc_init. */
typedef uint64_t hlc_wall_fn(void *arg);

struct hlc {
    _Atomic uint64_t last; /* the largest stamp handed out or observed */
    hlc_wall_fn *wall;     /* borrowed */
    void *arg;             /* borrowed */
};

/* CLOCK_REALTIME in ns (the default wall clock); arg is ignored. */
uint64_t hlc_wall_ns(void *arg);

/* Start clk at 0 with wall as its wall clock (NULL: hlc_wall_ns). Tests
 * inject a wall clock that they move by hand. */
void hlc_init(struct hlc *clk, hlc_wall_fn *wall, void *arg);

/* A new stamp: max(wall ns, last + 1). Strictly greater than every stamp
 * returned before and every value observed. */
uint64_t hlc_now(struct hlc *clk);

/* Raise last to ns if it is below (a stamp seen in a reply). */
void hlc_observe(struct hlc *clk, uint64_t ns);

/* The largest stamp handed out or observed so far (no new stamp). */
uint64_t hlc_last(struct hlc *clk);

#endif
