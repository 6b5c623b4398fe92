/* rejoin.h: when a store may serve its data again after being away
 * (docs/consistency.md, "Safe rejoin").
 *
 * A store on disk keeps DIR/juno-store.state: {"last_served":UNIX_S,
 * "rejoining":0|1,"rejoining_since":UNIX_S}, rewritten every few seconds
 * while it runs (and at its drain) by a worker thread. Started after being
 * away longer than --rejoin-after (default half of --tombstone-grace), its
 * data may hold keys whose tombstones the other zones have purged since, so
 * it rejoins: it refuses the proxies' reads and writes (Read, Prepare*,
 * Commit, MarkDelete: NoStorageServer) until juno-repair has compared every
 * shard it owns with the other zones, made it equal to their newest copies,
 * and sent Rejoined. Repair, Clone, Delete, Abort and the shard operations
 * stay open to juno-repair and juno-migrate. The state survives a restart
 * in the middle. A map with a single zone has nothing to compare with: the
 * rule does not apply; nor to a store in memory, which restarts empty.
 */
#ifndef JUNO_STORE_REJOIN_H
#define JUNO_STORE_REJOIN_H

#include <stdint.h>
#include <uv.h>

struct store;

struct rejoin {
    int active;           /* a data directory: the state file is kept */
    int rejoining;        /* proxies' requests refused until Rejoined */
    uint64_t last_served; /* unix s: the last beat while serving */
    uint64_t since;       /* unix s: rejoining since */
    uint64_t beat_ms;     /* how often the file is rewritten */
    char path[4096], tmp[4104];
    uv_timer_t timer;
    uv_work_t work;
    int writing, pending, timer_on, closed;
    char text[160]; /* the document being written by the worker */
    int wrc;        /* the worker's result */
    int failing;    /* the last write failed (logged once until one works) */
};

/* Read the state file (main, after the map and before the listener) and
 * decide: a store away longer than --rejoin-after starts rejoining (logged,
 * and written back at once). Returns 0 or a negative code with err set (the
 * file unreadable for another reason than its absence, or malformed: the
 * store does not guess). A state that cannot be written (a full disk) is
 * not fatal: it is logged, kept in memory and written at a later beat; a
 * restart meanwhile reads the previous file, whose older last_served can
 * only make the store rejoin, never serve stale data. */
int rejoin_init(struct store *s, char *err, size_t errlen);

/* Start the beat (loop running); stop it and write the last beat (drain). */
void rejoin_start(struct store *s);
void rejoin_stop(struct store *s);

/* NoStorageServer for a proxy's request while rejoining, else 0 (a Read
 * flagged WIRE_FLAG_REPAIR_READ is juno-repair's, and served). */
struct wire_msg;
int rejoin_refuses(const struct store *s, const struct wire_msg *req);

/* Rejoined: serve again (logged, written). */
void rejoin_done(struct store *s);

#endif
