/* jmig.h: juno-migrate's modules.
 *
 *   main.c      options, confirmation, the run: copy → verify → publish → wait
 *               for proxies → stop forwarding and drop the sources; --abort
 *   plan.c      the plan (`juno-ring plan --json`) and the saved state
 *   live.c      where the live map and the state are: etcd or a map file
 *   moves.c     driving each move through the stores (MigrateStart/Status/
 *               Verify/Stop, DropShard), a bounded number per zone at a time
 *   calls.c     the requests to the stores: one, or a batch in one round trip
 *   progress.c  a bar per zone on a terminal, log lines otherwise, --json events
 */
#ifndef JUNO_JMIG_H
#define JUNO_JMIG_H

#include "etcdopt.h"
#include "map.h"
#include "report.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum move_phase { MV_PENDING = 0, MV_COPYING, MV_VERIFYING, MV_DONE };

struct move {
    char zone[MAP_NAME_MAX + 1];
    uint32_t zone_index; /* in the plan's map */
    uint32_t shard;
    char from[MAP_NAME_MAX + 1], to[MAP_NAME_MAX + 1];
    char from_addr[MAP_ADDR_MAX + 1], to_addr[MAP_ADDR_MAX + 1];
    char src_addr[MAP_ADDR_MAX + 1]; /* the store actually streaming (from_addr, or
                                        another zone's owner when from is dead) */
    enum move_phase phase;
    uint64_t records, bytes;
    unsigned restarts;
    uint64_t retry_at_ms; /* do not touch before this (backoff) */
    uint64_t unreachable_since_ms;
};

struct plan {
    char *json;      /* owned: the plan as given (kept in the state) */
    struct map *map; /* owned: the new map */
    uint64_t from_version;
    struct move *moves; /* owned */
    size_t nmoves;
};

struct jmig {
    /* options */
    const char *etcd_url, *cluster, *map_file, *state_file;
    struct etcdopt etcd_sec;    /* --etcd-ca, --etcd-cert, ..., --etcd-user */
    struct etcd_opts etcd_opts; /* TLS and auth for etcd; borrowed from etcd_sec */
    const char *more_maps[16];  /* further --map-file copies, written too */
    size_t nmore;
    pid_t reload_pids[64];
    size_t nreload;
    uint64_t rate;     /* bytes/s over all streams; 0 = unlimited */
    unsigned parallel; /* streams per zone at a time */
    uint64_t wait_ms;  /* for proxies to switch, for stores to answer */
    uint64_t drain_ms; /* after the switch, before forwarding stops */
    int json, abort, yes, tty;
    const char *forget[16]; /* --forget-proxy: registrations not waited for */
    size_t nforget;
    /* run */
    char *proxies; /* owned: the proxies registered when the migration began
                      (names under proxies/), a JSON array kept in the state */
    struct plan plan;
    struct map *old_map; /* owned: the map the plan starts from */
    struct etcd *etcd;   /* owned, when --etcd */
    uint64_t started_ms;
};

/* plan.c */
int plan_parse(const char *text, size_t len, struct plan *p, char *err, size_t errlen);
void plan_deinit(struct plan *p);
/* The state JSON: {"plan": ..., "old_map": ..., "phase": PHASE, "proxies": [...]}
 * (owned string; "proxies" when j->proxies is set). */
char *plan_state_json(const struct jmig *j, const char *phase);
/* Parse a state: the plan (into *p) and the old map (*old, owned). */
int plan_state_parse(const char *text, size_t len, struct plan *p, struct map **old, char *phase,
                     size_t phaselen, char *err, size_t errlen);
/* The state's "proxies" array (owned JSON text), or NULL when it has none. */
char *plan_state_proxies(const char *text, size_t len);

/* live.c: 0 or a negative JUNO_E* code with err filled. */
int live_open(struct jmig *j, char *err, size_t errlen);
void live_close(struct jmig *j);
/* The live map (owned) and, with etcd, its mod_revision. */
int live_map(struct jmig *j, struct map **m, int64_t *rev, char *err, size_t errlen);
/* Put the plan's map if the live map is still version from_version (CAS). */
int live_publish(struct jmig *j, char *err, size_t errlen);
/* The saved state: 0 with *text (owned) or JUNO_ENOTFOUND. */
int live_state_get(struct jmig *j, char **text, size_t *len, char *err, size_t errlen);
int live_state_put(struct jmig *j, const char *text, char *err, size_t errlen);
int live_state_delete(struct jmig *j, char *err, size_t errlen);
/* The proxies registered now: a JSON array of their names (owned) in *json;
 * NULL without etcd. 0 or a negative code. */
int live_proxies(struct jmig *j, char **json, char *err, size_t errlen);
/* Wait until every registered proxy, and every proxy of j->proxies (those
 * registered when the migration began: one whose registration is gone may be
 * cut off from etcd and still route with the old map), reports map_version >=
 * version, except those of --forget-proxy (etcd); or reload the processes
 * given (file mode). 0, JUNO_ETIMEDOUT (err names them). */
int live_wait_switched(struct jmig *j, uint64_t version, char *err, size_t errlen);

/* calls.c */
/* One request to a store: *status and the JSON value (out, NUL-terminated).
 * Returns 0 or a negative code (connection failed: the cached connection is
 * dropped). */
int store_call(const char *addr, int opcode, uint32_t shard, const char *json, int *status,
               char *out, size_t outcap);
/* A request of a batch: the caller fills addr, opcode, shard and json
 * (borrowed, may be NULL); store_calls fills rc (0 or a negative code), and
 * with rc 0 status and out (the reply's value, NUL-terminated, truncated). */
struct store_req {
    const char *addr;
    int opcode;
    uint32_t shard;
    const char *json;
    int rc, status;
    char out[2048];
    uint32_t opaque; /* internal */
    int conn;        /* internal */
};
/* Every request of r[0..n) at once: each store gets its requests in one
 * write, and every reply is read before this returns. */
void store_calls(struct store_req *r, size_t n);
void store_disconnect_all(void);

/* moves.c */
/* Run every move of j->plan until each is verified. Returns 0, or a negative
 * code after a store stayed unreachable longer than --wait (err says which). */
int moves_run(struct jmig *j, char *err, size_t errlen);
/* Every move still caught up on its source? Moves that are not go back to
 * PENDING; returns how many did. */
size_t moves_recheck(struct jmig *j);
/* After the switch: stop forwarding on every owner of each shard, drop the
 * moved shards on their sources. Returns 0 or a negative code. */
int moves_finish(struct jmig *j, char *err, size_t errlen);
/* --abort: stop forwarding, drop what was copied to the targets. */
int moves_abort(struct jmig *j, char *err, size_t errlen);

/* progress.c */
void progress_init(struct jmig *j);
void progress_draw(struct jmig *j, int final);
void progress_event(struct jmig *j, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void progress_move_done(struct jmig *j, const struct move *mv);

#endif
