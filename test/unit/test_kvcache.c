/* test_kvcache.c: the byte-bounded LRU map juno-store keeps records in. */
#include "unit.h"

#include "kvcache.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const uint8_t *
get(struct kvcache *c, const char *k, uint32_t tag, size_t *vlen)
{
    return kvcache_get(c, (const uint8_t *)k, strlen(k), tag, vlen);
}

static int
put(struct kvcache *c, const char *k, uint32_t tag, const char *v)
{
    return kvcache_put(c, (const uint8_t *)k, strlen(k), tag, (const uint8_t *)v, strlen(v));
}

UNIT_TEST(put_get_replace_delete)
{
    struct kvcache c;
    CHECK_EQ_I(kvcache_init(&c, 1u << 20), 0);
    size_t vlen = 99;
    CHECK(get(&c, "a", 0, &vlen) == NULL);
    CHECK_EQ_U(c.misses, 1);
    CHECK_EQ_I(put(&c, "a", 0, "one"), 0);
    const uint8_t *v = get(&c, "a", 0, &vlen);
    CHECK(v != NULL && vlen == 3 && memcmp(v, "one", 3) == 0);
    CHECK_EQ_U(c.hits, 1);
    CHECK_EQ_I(put(&c, "a", 0, "two"), 0); /* same size: in place */
    v = get(&c, "a", 0, &vlen);
    CHECK(v != NULL && vlen == 3 && memcmp(v, "two", 3) == 0);
    CHECK_EQ_I(put(&c, "a", 0, "three"), 0); /* another size */
    v = get(&c, "a", 0, &vlen);
    CHECK(v != NULL && vlen == 5 && memcmp(v, "three", 5) == 0);
    CHECK_EQ_U(c.count, 1);
    CHECK_EQ_U(c.bytes, sizeof(struct kvcache_entry) + 1 + 5);
    CHECK_EQ_I(put(&c, "", 0, ""), 0); /* empty key and value are entries too */
    v = get(&c, "", 0, &vlen);
    CHECK(v != NULL && vlen == 0);
    kvcache_del(&c, (const uint8_t *)"a", 1);
    CHECK(get(&c, "a", 0, &vlen) == NULL);
    kvcache_del(&c, (const uint8_t *)"a", 1); /* absent: nothing */
    CHECK_EQ_U(c.count, 1);
    kvcache_deinit(&c);
    CHECK(c.count == 0 && c.bytes == 0 && c.head == NULL);
}

UNIT_TEST(another_tag_misses_and_drops_the_entry)
{
    struct kvcache c;
    CHECK_EQ_I(kvcache_init(&c, 1u << 20), 0);
    size_t vlen;
    CHECK_EQ_I(put(&c, "k", 7, "v"), 0);
    CHECK(get(&c, "k", 8, &vlen) == NULL);
    CHECK_EQ_U(c.count, 0);
    CHECK(get(&c, "k", 7, &vlen) == NULL); /* gone, not just hidden */
    CHECK_EQ_I(put(&c, "k", 8, "w"), 0);
    CHECK(get(&c, "k", 8, &vlen) != NULL);
    kvcache_deinit(&c);
}

UNIT_TEST(evicts_the_least_recently_used_past_the_budget)
{
    struct kvcache c;
    size_t each = sizeof(struct kvcache_entry) + 2 + 10; /* keys "kN", 10-byte values */
    CHECK_EQ_I(kvcache_init(&c, 10 * each), 0);
    char k[8];
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        CHECK_EQ_I(put(&c, k, 0, "0123456789"), 0);
    }
    CHECK_EQ_U(c.count, 10);
    CHECK_EQ_U(c.bytes, 10 * each);
    size_t vlen;
    CHECK(get(&c, "k0", 0, &vlen) != NULL); /* k0 is now the most recent; k1 the oldest */
    CHECK_EQ_I(put(&c, "kA", 0, "0123456789"), 0);
    CHECK_EQ_U(c.count, 10);
    CHECK_EQ_U(c.evictions, 1);
    CHECK(get(&c, "k1", 0, &vlen) == NULL);
    CHECK(get(&c, "k0", 0, &vlen) != NULL);
    CHECK(get(&c, "kA", 0, &vlen) != NULL);
    CHECK(c.bytes <= c.cap);
    kvcache_deinit(&c);
}

UNIT_TEST(a_value_over_an_eighth_of_the_budget_is_not_kept)
{
    struct kvcache c;
    CHECK_EQ_I(kvcache_init(&c, 8 * (sizeof(struct kvcache_entry) + 20)), 0);
    size_t vlen;
    CHECK_EQ_I(put(&c, "k", 0, "small"), 0);
    CHECK(get(&c, "k", 0, &vlen) != NULL);
    CHECK_EQ_I(put(&c, "k", 0, "a value longer than twenty bytes"), 0);
    CHECK(get(&c, "k", 0, &vlen) == NULL); /* the old value is dropped, not kept stale */
    CHECK_EQ_U(c.count, 0);
    kvcache_deinit(&c);
}

UNIT_TEST(a_zero_budget_keeps_nothing)
{
    struct kvcache c;
    CHECK_EQ_I(kvcache_init(&c, 0), 0);
    size_t vlen;
    CHECK_EQ_I(put(&c, "k", 0, "v"), 0);
    CHECK(get(&c, "k", 0, &vlen) == NULL);
    CHECK_EQ_U(c.count, 0);
    kvcache_del(&c, (const uint8_t *)"k", 1);
    kvcache_deinit(&c);
}

UNIT_TEST(many_keys_grow_the_table_and_stay_findable)
{
    struct kvcache c;
    CHECK_EQ_I(kvcache_init(&c, 64u << 20), 0);
    char k[16], v[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        CHECK_EQ_I(put(&c, k, (uint32_t)i % 3, v), 0);
    }
    CHECK_EQ_U(c.count, 20000);
    CHECK(c.nbuckets >= 16384);
    int found = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        size_t vlen;
        const uint8_t *got = get(&c, k, (uint32_t)i % 3, &vlen);
        found += got != NULL && vlen == strlen(v) && memcmp(got, v, vlen) == 0;
    }
    CHECK_EQ_I(found, 20000);
    kvcache_deinit(&c);
}

int
main(void)
{
    RUN(put_get_replace_delete);
    RUN(another_tag_misses_and_drops_the_entry);
    RUN(evicts_the_least_recently_used_past_the_budget);
    RUN(a_value_over_an_eighth_of_the_budget_is_not_kept);
    RUN(a_zero_budget_keeps_nothing);
    RUN(many_keys_grow_the_table_and_stay_findable);
    return unit_done();
}
