/* hlc.c: hybrid logical clock (see hlc.h). */
#include "hlc.h"

#include "clock.h"

#include <time.h>

uint64_t
hlc_wall_ns(void *arg)
{
    (void)arg;
    return clock_wall_ns();
}

void
hlc_init(struct hlc *clk, hlc_wall_fn *wall, void *arg)
{
    atomic_init(&clk->last, 0);
    clk->wall = wall ? wall : hlc_wall_ns;
    clk->arg = arg;
}

uint64_t
hlc_now(struct hlc *clk)
{
    uint64_t wall = clk->wall(clk->arg);
    uint64_t last = atomic_load(&clk->last);
    for (;;) {
        uint64_t next = wall > last ? wall : last + 1;
        if (atomic_compare_exchange_weak(&clk->last, &last, next)) return next;
    }
}

void
hlc_observe(struct hlc *clk, uint64_t ns)
{
    uint64_t last = atomic_load(&clk->last);
    while (last < ns && !atomic_compare_exchange_weak(&clk->last, &last, ns)) {
    }
}

uint64_t
hlc_last(struct hlc *clk)
{
    return atomic_load(&clk->last);
}
