/* etcd_reg.c: a key kept under a lease while the owner lives (see etcd.h):
 * a thread grants the lease, writes the key, renews the lease every third of
 * its TTL, writes again when the value changes or the key was deleted, and
 * starts over with a new lease when etcd forgot the old one.
 */
#include "error.h"
#include "etcd_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REG_CHECK_EVERY 5 /* renewals between two reads of the key */

struct etcd_reg {
    struct etcd *e;
    char *key;
    int64_t ttl;
    pthread_mutex_t mu; /* guards value, gen, stop (never held across etcd calls) */
    pthread_cond_t cv;
    char *value;  /* owned */
    uint64_t gen; /* +1 per etcd_reg_update */
    int stop;
    /* the thread's own (and etcd_reg_start's before the thread runs) */
    int64_t lease;
    uint64_t written; /* gen of the value etcd holds */
    pthread_t thread;
};

/* Make sure a live lease carries the current value (no lock held). */
static int
reg_sync(struct etcd_reg *r)
{
    int rc;
    if (r->lease == 0) {
        if ((rc = etcd_lease_grant(r->e, r->ttl, &r->lease)) < 0) return rc;
        r->written = 0;
    }
    pthread_mutex_lock(&r->mu);
    uint64_t gen = r->gen;
    char *v = gen != r->written ? strdup(r->value) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (gen == r->written) return 0;
    if (v == NULL) return JUNO_ENOMEM;
    rc = etcd_put(r->e, r->key, v, strlen(v), r->lease, NULL);
    free(v);
    if (rc == JUNO_ENOTFOUND) r->lease = 0; /* the lease expired meanwhile */
    if (rc < 0) return rc;
    r->written = gen;
    return 0;
}

/* Whether the key is gone while its lease lives (someone deleted it: etcdctl
 * del, a sweep of the prefix). Nothing else would bring it back. */
static int
reg_key_gone(struct etcd_reg *r)
{
    struct etcd_kvs kvs;
    if (etcd_get(r->e, r->key, 0, &kvs) < 0) return 0; /* unsure: the next renewal tells */
    int gone = kvs.n == 0;
    etcd_kvs_deinit(&kvs);
    return gone;
}

/* Renew the lease every ttl/3 whatever else happens (a put does not renew
 * it), and every REG_CHECK_EVERY renewals check that the key is still there;
 * write a new value as soon as there is one, and the value again when the
 * key was deleted; retry failures every 500 ms. (A keepalive needs no auth
 * token, a read does: reading at every renewal would keep the token alive
 * for ever, and etcd's expiry of idle tokens is part of what juno must
 * handle.) */
static void *
reg_thread(void *arg)
{
    struct etcd_reg *r = arg;
    uint64_t period = (uint64_t)r->ttl * 1000 / 3, renewed = etcd__now_ms(), renewals = 0;
    pthread_mutex_lock(&r->mu);
    int failing = r->written != r->gen; /* the first write failed */
    while (!r->stop) {
        uint64_t due = failing ? etcd__now_ms() + 500 : renewed + period;
        while (!r->stop && (failing || r->gen == r->written) && etcd__now_ms() < due) {
            uint64_t t = due;
            struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        if (r->stop) break;
        int dirty = r->gen != r->written;
        pthread_mutex_unlock(&r->mu);
        int rc = 0;
        if (r->lease != 0 && etcd__now_ms() >= renewed + period) {
            rc = etcd_lease_keepalive(r->e, r->lease, NULL);
            if (rc == 0) renewed = etcd__now_ms();
            if (rc == JUNO_ENOTFOUND) r->lease = 0; /* gone: grant anew, put again */
            if (rc == 0 && ++renewals % REG_CHECK_EVERY == 0 && !dirty && reg_key_gone(r)) {
                r->written = 0; /* put it again under the same lease */
                dirty = 1;
            }
        }
        if (r->lease == 0) renewed = etcd__now_ms(); /* a new lease starts now */
        if (r->lease == 0 || dirty) rc = reg_sync(r);
        failing = rc < 0;
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

struct etcd_reg *
etcd_reg_start(struct etcd *e, const char *key, const char *value, int64_t ttl_s, int *rc)
{
    struct etcd_reg *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->e = e;
    r->ttl = ttl_s < 1 ? 1 : ttl_s;
    r->key = strdup(key);
    r->value = strdup(value);
    r->gen = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* reg_thread's deadlines */
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (r->key == NULL || r->value == NULL) goto fail;
    int first = reg_sync(r);
    if (rc) *rc = first;
    if (pthread_create(&r->thread, NULL, reg_thread, r) != 0) goto fail;
    return r;
fail:
    if (r->lease) etcd_lease_revoke(e, r->lease);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->key);
    free(r->value);
    free(r);
    return NULL;
}

int
etcd_reg_update(struct etcd_reg *r, const char *value)
{
    char *v = strdup(value);
    if (v == NULL) return JUNO_ENOMEM;
    pthread_mutex_lock(&r->mu);
    free(r->value);
    r->value = v;
    r->gen++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void
etcd_reg_stop(struct etcd_reg *r, int revoke)
{
    if (r == NULL) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    if (revoke && r->lease) etcd_lease_revoke(r->e, r->lease);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->key);
    free(r->value);
    free(r);
}
