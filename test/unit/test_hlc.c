/* test_hlc.c: the hybrid logical clock: follows the wall clock, never goes
 * back when it does, and orders stamps after everything observed. The wall
 * clock is injected so the tests move it by hand. */
#include "unit.h"

#include "hlc.h"

#include <pthread.h>
#include <stdlib.h>

static uint64_t fake_ns;

static uint64_t
fake_wall(void *arg)
{
    (void)arg;
    return fake_ns;
}

UNIT_TEST(follows_the_wall_clock)
{
    struct hlc c;
    hlc_init(&c, fake_wall, NULL);
    fake_ns = 1000;
    CHECK_EQ_U(hlc_now(&c), 1000);
    fake_ns = 5000;
    CHECK_EQ_U(hlc_now(&c), 5000);
    CHECK_EQ_U(hlc_last(&c), 5000);
}

UNIT_TEST(same_wall_time_still_increases)
{
    struct hlc c;
    hlc_init(&c, fake_wall, NULL);
    fake_ns = 1000;
    uint64_t a = hlc_now(&c), b = hlc_now(&c), d = hlc_now(&c);
    CHECK_EQ_U(a, 1000);
    CHECK_EQ_U(b, 1001);
    CHECK_EQ_U(d, 1002);
}

UNIT_TEST(monotonic_when_the_wall_clock_goes_back)
{
    struct hlc c;
    hlc_init(&c, fake_wall, NULL);
    fake_ns = 1000000;
    uint64_t prev = hlc_now(&c);
    fake_ns = 10; /* a big step back */
    for (int i = 0; i < 1000; i++) {
        uint64_t t = hlc_now(&c);
        CHECK(t > prev);
        prev = t;
    }
    CHECK_EQ_U(prev, 1000000 + 1000);
    fake_ns = 2000000; /* the wall clock catches up: follow it again */
    CHECK_EQ_U(hlc_now(&c), 2000000);
}

UNIT_TEST(observe_orders_later_stamps_after)
{
    struct hlc c;
    hlc_init(&c, fake_wall, NULL);
    fake_ns = 1000;
    hlc_observe(&c, 50000); /* a record written by a proxy whose clock runs ahead */
    CHECK_EQ_U(hlc_now(&c), 50001);
    hlc_observe(&c, 10); /* an older stamp changes nothing */
    CHECK_EQ_U(hlc_last(&c), 50001);
    CHECK_EQ_U(hlc_now(&c), 50002);
}

UNIT_TEST(real_wall_clock_is_unix_ns)
{
    struct hlc c;
    hlc_init(&c, NULL, NULL);
    uint64_t t = hlc_now(&c);
    CHECK(t > 1600000000ull * 1000000000ull); /* after 2020 */
    CHECK(hlc_now(&c) > t);
}

static struct hlc shared;
#define THREADS 4
#define PER     20000
static uint64_t stamps[THREADS][PER];

static void *
stamp_many(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < PER; i++) out[i] = hlc_now(&shared);
    return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

UNIT_TEST(threads_never_get_the_same_stamp)
{
    fake_ns = 42; /* frozen wall clock: every stamp comes from the counter */
    hlc_init(&shared, fake_wall, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, stamp_many, stamps[i]);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER; j++) CHECK(stamps[i][j] > stamps[i][j - 1]);
    qsort(stamps, THREADS * PER, sizeof(uint64_t), cmp_u64);
    int dups = 0;
    for (int i = 1; i < THREADS * PER; i++)
        dups += ((uint64_t *)stamps)[i] == ((uint64_t *)stamps)[i - 1];
    CHECK_EQ_I(dups, 0);
    CHECK_EQ_U(hlc_last(&shared), 42 + THREADS * PER - 1);
}

int
main(void)
{
    RUN(follows_the_wall_clock);
    RUN(same_wall_time_still_increases);
    RUN(monotonic_when_the_wall_clock_goes_back);
    RUN(observe_orders_later_stamps_after);
    RUN(real_wall_clock_is_unix_ns);
    RUN(threads_never_get_the_same_stamp);
    return unit_done();
}
