/* locks.h: the record locks that Prepare takes (loop thread only).
 *
 * A Prepare locks its record's storage key for its request id and keeps the
 * value it carries until Commit (which writes it), Abort, or expiry. A second
 * writer finds the lock and gets RecordLocked until the holder finishes or the
 * lock expires. Expired locks are reclaimed lazily and by locks_sweep.
 */
#ifndef JUNO_STORE_LOCKS_H
#define JUNO_STORE_LOCKS_H

#include <stddef.h>
#include <stdint.h>

struct lock {
    struct lock *next; /* hash chain */
    uint64_t hash;
    uint8_t *key; /* owned */
    size_t klen;
    uint8_t request_id[16];
    uint64_t expires_ms; /* uv_now() time after which another writer may take it */
    int busy;            /* a commit's write is in flight: never expires, never stolen */
    void *waiters;       /* while busy: the Reads of this key waiting for the write (ops.c) */
    uint8_t op;          /* the prepare opcode */
    uint8_t value_type;
    uint8_t *value; /* owned, NULL when empty */
    /* The newest record this key is known to hold while locked: the one read
     * at prepare, raised by any Repair, Clone or MarkDelete submitted since.
     * A Commit newer than this can be written without reading the key again. */
    uint64_t seen_lm;
    uint32_t seen_version;
    size_t vlen;
};

struct locks {
    struct lock **buckets; /* owned */
    size_t nbuckets;       /* power of two */
    size_t count;
};

int locks_init(struct locks *t);
void locks_deinit(struct locks *t);

/* The lock on key, or NULL. */
struct lock *locks_find(struct locks *t, const uint8_t *key, size_t klen);

/* A new lock on key (copied), zeroed otherwise; NULL when out of memory. The
 * caller checked that none exists. */
struct lock *locks_add(struct locks *t, const uint8_t *key, size_t klen);

/* Remove and free l (its key and value too). */
void locks_remove(struct locks *t, struct lock *l);

/* Replace l's pending value by a copy of value. Returns 0 or JUNO_ENOMEM. */
int locks_set_value(struct lock *l, uint8_t type, const uint8_t *value, size_t vlen);

/* Remove every lock expired at now_ms that is not busy. Returns how many. */
size_t locks_sweep(struct locks *t, uint64_t now_ms);

#endif
