/* disk.h: the data directory's free space, and what juno-store does when it
 * runs out (loop thread).
 *
 * RocksDB must never meet a full disk: a failed WAL append leaves its WAL
 * writer in an error state, and RocksDB 7.8 aborts the process on the next
 * fsync of it. So the store keeps a floor (--min-free-space) and refuses new
 * writes (Prepare*, Repair, Clone: SSOutofResource) while the filesystem's
 * free space is below it; the writes of locks already granted (Commit,
 * MarkDelete, Delete) still go through, into the headroom the floor keeps.
 * Reads, Abort, Nop, metrics and DropShard (it frees space) are served.
 *
 * The free space is read with statvfs every DISK_TICK_MS, and at once when
 * writes worth an eighth of the floor were submitted since the last look.
 * Writes are taken again once the free space is back above the floor plus a
 * margin (a tenth of it, at least 1 MiB), so a disk at the edge does not
 * flap.
 *
 * A second signal is the engine's own: a write RocksDB failed or a
 * background error of RocksDB's puts the engine in ENGINE_FAILED (every write
 * refused), and a store started below the floor opens its database
 * read-only. Either is reopened read-write (engine_reopen) once the space is
 * back above that margin. Each change is logged once.
 */
#ifndef JUNO_STORE_DISK_H
#define JUNO_STORE_DISK_H

#include "engine.h"

#include <stdint.h>
#include <uv.h>

#define DISK_TICK_MS 250

struct store;

struct disk {
    uint64_t min_free;        /* bytes: the floor (from --min-free-space) */
    uint64_t resume_free;     /* bytes: writes are taken again above this */
    uint64_t free_bytes;      /* the last statvfs: available to us */
    uint64_t size_bytes;      /* the filesystem's size */
    uint64_t written;         /* bytes of writes submitted since the last look */
    uint64_t check_every;     /* look again after this many bytes written */
    int active;               /* a data directory on disk (not --memory) */
    int below;                /* free_bytes < min_free (until back above resume_free) */
    int statvfs_failed;       /* the last statvfs failed (logged once) */
    enum engine_state estate; /* the engine's state when last seen */
    int ewhy;                 /* and why (JUNO_ENOSPC, JUNO_EIO) */
    uint64_t reopen_at_ms;    /* uv_now before which no reopen is asked again */
    uint64_t reopen_delay_ms; /* grows while reopens fail */
    uint64_t refused;         /* writes refused */
    uint64_t events;          /* times writes began to be refused */
    uv_timer_t timer;
};

/* Parse --min-free-space: SIZE (4096, 512M, 2G) or PERCENT% of the
 * filesystem. Returns 0 and sets *bytes or *pct (the other to 0), or
 * JUNO_EINVAL. */
int disk_parse_min_free(const char *arg, uint64_t *bytes, unsigned *pct);

/* Read the free space of cfg.data_dir (or the nearest existing parent) and
 * compute the floor (main, before the engine opens). Returns 0, or a
 * negative code with err set. *open_read_only is set when the store must
 * open its database read-only (free space below the floor). */
int disk_init(struct store *s, int *open_read_only, char *err, size_t errlen);

/* Start the timer (after the engine opened); stop it (drain). */
void disk_start(struct store *s);
void disk_stop(struct store *s);

/* The status to refuse a request with this opcode with now, or 0 to serve
 * it: SSOutofResource for want of space, SSError when the database failed
 * otherwise. Counts the refusal. */
int disk_refuses(struct store *s, int opcode);

/* A write of n bytes was submitted: looks at the disk when enough were. */
void disk_note_write(struct store *s, size_t n);

/* Whether writes are refused for want of space now (metrics, status). */
int disk_full(const struct store *s);

#endif
