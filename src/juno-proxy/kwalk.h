/* kwalk.h: a walk over a namespace's keys, shard by shard, on every zone's
 * replica of each shard (KeyScan, lib/keyscan.h), for the RESP face's SCAN,
 * KEYS, DBSIZE and RANDOMKEY (resp_keys.c).
 *
 * A step of the walk asks every zone's store of one shard for its records
 * at or after a position (up to a limit), in parallel, and merges the
 * answers as a read does: the newest copy of each key (last modified, then
 * version) says whether it is live; a tombstone or an expired copy is not.
 * The merged result holds the positions every answering replica covered
 * (the smallest of their `next`), so a key present on a quorum of replicas
 * for the whole walk is returned at least once. A step needs a quorum of
 * zones (Z/2 + 1) to answer; with fewer it is tried again with the route of
 * the moment (a map that moved the shard) every 50 ms until --deadline,
 * then the walk fails with NoStorageServer.
 *
 * Cursors are (shard, position): they do not name a store, so a walk goes
 * on correctly across map changes and proxies.
 */
#ifndef JUNO_PROXY_KWALK_H
#define JUNO_PROXY_KWALK_H

#include "proxy.h"

#include <stdint.h>

struct kwalk;

/* The live keys of one step, in position order (borrowed for the call).
 * Return 0 to go on, 1 to stop the walk there (end then tells where it
 * stopped: the step's end), KWALK_PAUSE to hold this lane until
 * kwalk_resume (FLUSHDB: until the step's deletes are done). */
#define KWALK_PAUSE 2
typedef int kwalk_keys_fn(struct kwalk *k, void *arg, const uint8_t *const *keys,
                          const size_t *lens, size_t n);
/* The end: status 0 (walked to the end, or stopped), or a wire status. shard
 * and pos are where a next walk resumes (shard == nshards: the end). */
typedef void kwalk_end_fn(struct kwalk *k, void *arg, int status, uint32_t shard, uint64_t pos);

struct kwalk_opts {
    const char *ns; /* copied */
    uint32_t shard; /* the first step's shard and position */
    uint64_t pos;
    uint16_t limit; /* records per store request */
    unsigned lanes; /* steps in flight at once on different shards: 1 keeps order */
    int wrap;       /* go on from shard 0 after the last, back to (shard, pos) */
    uint64_t *ttls; /* not NULL: count here the live keys that have an expiration */
    kwalk_keys_fn *keys;
    kwalk_end_fn *end;
    void *arg;
};

/* Start a walk on worker w's current route. Returns 0 (keys and then end
 * are called later, never from inside this call), JUNO_EUNAVAIL (no map
 * yet) or JUNO_ENOMEM. */
int kwalk_start(struct worker *w, const struct kwalk_opts *o);

/* Go on with the lanes a keys callback paused (not from inside one). */
void kwalk_resume(struct kwalk *k);

/* The number of shards of w's current map (0: none yet). */
uint32_t kwalk_nshards(const struct worker *w);

#endif
