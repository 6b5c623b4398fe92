/* kvcache.c: see kvcache.h. */
#include "kvcache.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define KVCACHE_MIN_BUCKETS 1024

int
kvcache_init(struct kvcache *c, size_t cap_bytes)
{
    memset(c, 0, sizeof(*c));
    c->cap = cap_bytes;
    if (cap_bytes == 0) return 0;
    c->buckets = calloc(KVCACHE_MIN_BUCKETS, sizeof(*c->buckets));
    if (c->buckets == NULL) return JUNO_ENOMEM;
    c->nbuckets = KVCACHE_MIN_BUCKETS;
    return 0;
}

void
kvcache_deinit(struct kvcache *c)
{
    struct kvcache_entry *e = c->head;
    while (e) {
        struct kvcache_entry *next = e->next;
        free(e);
        e = next;
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static size_t
kvcache__charge(const struct kvcache_entry *e)
{
    return sizeof(*e) + e->klen + e->vlen;
}

/* The chain link pointing at key's entry (*link is NULL when absent). */
static struct kvcache_entry **
kvcache__link(struct kvcache *c, uint64_t h, const uint8_t *key, size_t klen)
{
    struct kvcache_entry **link = &c->buckets[h & (c->nbuckets - 1)];
    while (*link) {
        struct kvcache_entry *e = *link;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0) break;
        link = &e->chain;
    }
    return link;
}

static void
kvcache__unlist(struct kvcache *c, struct kvcache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void
kvcache__push_front(struct kvcache *c, struct kvcache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
}

/* Unlink e (its chain link is *link) and free it. */
static void
kvcache__remove(struct kvcache *c, struct kvcache_entry **link, struct kvcache_entry *e)
{
    *link = e->chain;
    kvcache__unlist(c, e);
    c->bytes -= kvcache__charge(e);
    c->count--;
    free(e);
}

static void
kvcache__grow(struct kvcache *c)
{
    size_t n = c->nbuckets * 2;
    struct kvcache_entry **b = calloc(n, sizeof(*b));
    if (b == NULL) return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct kvcache_entry *e = c->buckets[i];
        while (e) {
            struct kvcache_entry *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

const uint8_t *
kvcache_get(struct kvcache *c, const uint8_t *key, size_t klen, uint32_t tag, size_t *vlen)
{
    if (c->buckets == NULL) {
        c->misses++;
        return NULL;
    }
    struct kvcache_entry **link = kvcache__link(c, XXH3_64bits(key, klen), key, klen);
    struct kvcache_entry *e = *link;
    if (e != NULL && e->tag != tag) {
        kvcache__remove(c, link, e);
        e = NULL;
    }
    if (e == NULL) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    if (c->head != e) {
        kvcache__unlist(c, e);
        kvcache__push_front(c, e);
    }
    *vlen = e->vlen;
    return e->data + e->klen;
}

void
kvcache_del(struct kvcache *c, const uint8_t *key, size_t klen)
{
    if (c->buckets == NULL) return;
    struct kvcache_entry **link = kvcache__link(c, XXH3_64bits(key, klen), key, klen);
    if (*link) kvcache__remove(c, link, *link);
}

int
kvcache_put(struct kvcache *c, const uint8_t *key, size_t klen, uint32_t tag, const uint8_t *val,
            size_t vlen)
{
    if (c->buckets == NULL) return 0;
    uint64_t h = XXH3_64bits(key, klen);
    struct kvcache_entry **link = kvcache__link(c, h, key, klen);
    struct kvcache_entry *old = *link;
    size_t charge = sizeof(*old) + klen + vlen;
    if (charge > c->cap / 8 || klen > UINT32_MAX || vlen > UINT32_MAX) {
        if (old) kvcache__remove(c, link, old);
        return 0;
    }
    struct kvcache_entry *e;
    if (old != NULL && old->vlen == vlen) { /* same size: overwrite in place */
        e = old;
        if (c->head != e) {
            kvcache__unlist(c, e);
            kvcache__push_front(c, e);
        }
    } else {
        if (old) kvcache__remove(c, link, old);
        e = malloc(charge);
        if (e == NULL) return JUNO_ENOMEM;
        e->hash = h;
        e->klen = (uint32_t)klen;
        e->vlen = (uint32_t)vlen;
        memcpy(e->data, key, klen);
        size_t b = h & (c->nbuckets - 1);
        e->chain = c->buckets[b];
        c->buckets[b] = e;
        kvcache__push_front(c, e);
        c->bytes += charge;
        c->count++;
    }
    e->tag = tag;
    memcpy(e->data + klen, val, vlen);
    while (c->bytes > c->cap && c->tail != e) {
        struct kvcache_entry *t = c->tail;
        kvcache__remove(c, kvcache__link(c, t->hash, t->data, t->klen), t);
        c->evictions++;
    }
    if (c->count > c->nbuckets) kvcache__grow(c);
    return 0;
}
