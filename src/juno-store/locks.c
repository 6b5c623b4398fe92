/* locks.c: a chained hash table of record locks (see locks.h). */
#include "locks.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int
locks_init(struct locks *t)
{
    t->nbuckets = 1024;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    return t->buckets ? 0 : JUNO_ENOMEM;
}

static void
locks__free(struct lock *l)
{
    free(l->key);
    free(l->value);
    free(l);
}

void
locks_deinit(struct locks *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct lock *l = t->buckets[i], *n; l; l = n) {
            n = l->next;
            locks__free(l);
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->count = 0;
}

struct lock *
locks_find(struct locks *t, const uint8_t *key, size_t klen)
{
    uint64_t h = XXH3_64bits(key, klen);
    for (struct lock *l = t->buckets[h & (t->nbuckets - 1)]; l; l = l->next) {
        if (l->hash == h && l->klen == klen && memcmp(l->key, key, klen) == 0) return l;
    }
    return NULL;
}

static void
locks__grow(struct locks *t)
{
    size_t n = t->nbuckets * 2;
    struct lock **b = calloc(n, sizeof(*b));
    if (b == NULL) return; /* keep the longer chains */
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct lock *l = t->buckets[i], *next; l; l = next) {
            next = l->next;
            l->next = b[l->hash & (n - 1)];
            b[l->hash & (n - 1)] = l;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

struct lock *
locks_add(struct locks *t, const uint8_t *key, size_t klen)
{
    struct lock *l = calloc(1, sizeof(*l));
    if (l == NULL) return NULL;
    l->key = malloc(klen);
    if (l->key == NULL) {
        free(l);
        return NULL;
    }
    memcpy(l->key, key, klen);
    l->klen = klen;
    l->hash = XXH3_64bits(key, klen);
    if (t->count >= t->nbuckets) locks__grow(t);
    size_t i = l->hash & (t->nbuckets - 1);
    l->next = t->buckets[i];
    t->buckets[i] = l;
    t->count++;
    return l;
}

void
locks_remove(struct locks *t, struct lock *l)
{
    struct lock **pp = &t->buckets[l->hash & (t->nbuckets - 1)];
    while (*pp && *pp != l) pp = &(*pp)->next;
    if (*pp) {
        *pp = l->next;
        t->count--;
    }
    locks__free(l);
}

int
locks_set_value(struct lock *l, uint8_t type, const uint8_t *value, size_t vlen)
{
    uint8_t *copy = NULL;
    if (vlen > 0) {
        copy = malloc(vlen);
        if (copy == NULL) return JUNO_ENOMEM;
        memcpy(copy, value, vlen);
    }
    free(l->value);
    l->value = copy;
    l->vlen = vlen;
    l->value_type = type;
    return 0;
}

size_t
locks_sweep(struct locks *t, uint64_t now_ms)
{
    size_t removed = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct lock **pp = &t->buckets[i];
        while (*pp) {
            struct lock *l = *pp;
            if (!l->busy && l->expires_ms <= now_ms) {
                *pp = l->next;
                t->count--;
                locks__free(l);
                removed++;
            } else {
                pp = &l->next;
            }
        }
    }
    return removed;
}
