/* disk.c: the data directory's free space; writes refused below a floor, and
 * a failed or read-only database reopened once there is room (see disk.h). */
#include "disk.h"
#include "store.h"

#include "cli.h"
#include "error.h"
#include "log.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#define DISK_DEFAULT_MAX   (2ull << 30) /* the default floor: 5% of the disk, at most 2 GiB */
#define DISK_DEFAULT_PCT   5
#define DISK_FLUSH_ROOM    (64ull << 20) /* a memtable flush (16 MiB) and WAL chunks */
#define DISK_REOPEN_MIN_MS 1000
#define DISK_REOPEN_MAX_MS 30000

int
disk_parse_min_free(const char *arg, uint64_t *bytes, unsigned *pct)
{
    size_t n = strlen(arg);
    if (n > 1 && arg[n - 1] == '%') {
        char num[8];
        uint64_t v;
        if (n - 1 >= sizeof(num)) return JUNO_EINVAL;
        memcpy(num, arg, n - 1);
        num[n - 1] = '\0';
        if (cli_parse_u64(num, 0, 90, &v) != 0) return JUNO_EINVAL;
        *pct = (unsigned)v;
        *bytes = 0;
        return 0;
    }
    if (cli_parse_size(arg, bytes) != 0) return JUNO_EINVAL;
    *pct = 0;
    return 0;
}

/* statvfs of path, or of its nearest existing parent (the data directory
 * may not exist yet). Returns 0 or -errno. */
static int
disk__statvfs(const char *path, struct statvfs *out)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s", path);
    for (;;) {
        if (statvfs(p, out) == 0) return 0;
        if (errno != ENOENT) return -errno;
        char *slash = strrchr(p, '/');
        if (slash == NULL) return statvfs(".", out) == 0 ? 0 : -errno;
        if (slash == p) return statvfs("/", out) == 0 ? 0 : -errno;
        *slash = '\0';
    }
}

/* Read the free space into d. Returns 0 or -errno (logged once). */
static int
disk__look(struct store *s)
{
    struct disk *d = &s->disk;
    struct statvfs v;
    d->written = 0;
    int rc = disk__statvfs(s->cfg.data_dir, &v);
    if (rc != 0) {
        if (!d->statvfs_failed)
            log_error("cannot read the free space of the data directory dir=%s: %s",
                      s->cfg.data_dir, error_str(rc));
        d->statvfs_failed = 1;
        return rc;
    }
    d->statvfs_failed = 0;
    d->free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
    d->size_bytes = (uint64_t)v.f_blocks * v.f_frsize;
    return 0;
}

static void
disk__set_floor(struct store *s)
{
    struct disk *d = &s->disk;
    const struct store_config *c = &s->cfg;
    if (c->min_free_set)
        d->min_free = c->min_free_pct ? d->size_bytes / 100 * c->min_free_pct : c->min_free_bytes;
    else
        d->min_free = d->size_bytes / 100 * DISK_DEFAULT_PCT;
    if (!c->min_free_set && d->min_free > DISK_DEFAULT_MAX) d->min_free = DISK_DEFAULT_MAX;
    uint64_t margin = d->min_free / 10;
    if (margin < (1u << 20)) margin = 1u << 20;
    d->resume_free = d->min_free + margin;
    d->check_every = d->min_free / 8;
    if (d->check_every < (64u << 10)) d->check_every = 64u << 10;
}

int
disk_init(struct store *s, int *open_read_only, char *err, size_t errlen)
{
    struct disk *d = &s->disk;
    *open_read_only = 0;
    if (s->cfg.memory) return 0;
    d->active = 1;
    int rc = disk__look(s);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the free space of %s: %s", s->cfg.data_dir,
                 error_str(rc));
        return rc;
    }
    disk__set_floor(s);
    if (d->min_free < DISK_FLUSH_ROOM)
        log_warn("--min-free-space is below what one memtable flush writes: RocksDB may meet "
                 "a full disk itself (the store survives it; writes are refused until the "
                 "database can be reopened) min_free=%llu advised=%llu",
                 (unsigned long long)d->min_free, (unsigned long long)DISK_FLUSH_ROOM);
    if (d->free_bytes < d->min_free) {
        d->below = 1;
        d->events++;
        *open_read_only = 1;
        log_warn("disk full at start: free space below --min-free-space, opening the database "
                 "read-only; writes are refused until %llu bytes are free dir=%s free=%llu "
                 "min_free=%llu",
                 (unsigned long long)d->resume_free, s->cfg.data_dir,
                 (unsigned long long)d->free_bytes, (unsigned long long)d->min_free);
    }
    return 0;
}

/* Why the engine failed, as far as the store can tell: RocksDB's background
 * error count does not say why, and one met with less free space than a
 * flush needs is the full disk. */
static int
disk__why(const struct disk *d, int why)
{
    return why == JUNO_EIO && d->active && d->free_bytes < DISK_FLUSH_ROOM ? JUNO_ENOSPC : why;
}

/* Log a change of the engine's state. */
static void
disk__engine_changed(struct store *s, enum engine_state st, int why)
{
    struct disk *d = &s->disk;
    if (st != ENGINE_OK && d->estate == ENGINE_OK) {
        d->events++;
        log_warn("refusing writes: the database %s (%s); it is reopened read-write once %llu "
                 "bytes are free dir=%s free=%llu",
                 st == ENGINE_READ_ONLY ? "is open read-only" : "failed a write", error_str(why),
                 (unsigned long long)d->resume_free, s->cfg.data_dir,
                 (unsigned long long)d->free_bytes);
    } else if (st == ENGINE_OK && d->estate != ENGINE_OK) {
        log_info("taking writes again: the database is open read-write dir=%s free=%llu",
                 s->cfg.data_dir, (unsigned long long)d->free_bytes);
    }
    d->estate = st;
    d->ewhy = why;
}

static void
disk__check(struct store *s)
{
    struct disk *d = &s->disk;
    if (disk__look(s) != 0) return;
    if (!d->below && d->free_bytes < d->min_free) {
        d->below = 1;
        d->events++;
        log_warn("disk full: free space below --min-free-space, refusing new writes until %llu "
                 "bytes are free (reads go on) dir=%s free=%llu min_free=%llu",
                 (unsigned long long)d->resume_free, s->cfg.data_dir,
                 (unsigned long long)d->free_bytes, (unsigned long long)d->min_free);
    } else if (d->below && d->free_bytes >= d->resume_free) {
        d->below = 0;
        if (d->estate == ENGINE_OK)
            log_info("disk has room again: taking writes dir=%s free=%llu min_free=%llu",
                     s->cfg.data_dir, (unsigned long long)d->free_bytes,
                     (unsigned long long)d->min_free);
    }
}

static void
disk__tick(uv_timer_t *t)
{
    struct store *s = t->data;
    struct disk *d = &s->disk;
    if (s->engine == NULL) return;
    if (d->active) disk__check(s);
    int why = 0;
    enum engine_state st = engine_state(s->engine, &why);
    why = disk__why(d, why);
    if (st != d->estate) disk__engine_changed(s, st, why);
    if (st == ENGINE_OK) {
        d->reopen_delay_ms = 0;
        return;
    }
    uint64_t now = uv_now(s->loop);
    if (d->active && d->free_bytes < d->resume_free) return; /* no room yet */
    if (now < d->reopen_at_ms) return;
    d->reopen_delay_ms = d->reopen_delay_ms ? d->reopen_delay_ms * 2 : DISK_REOPEN_MIN_MS;
    if (d->reopen_delay_ms > DISK_REOPEN_MAX_MS) d->reopen_delay_ms = DISK_REOPEN_MAX_MS;
    d->reopen_at_ms = now + d->reopen_delay_ms;
    log_info("reopening the database read-write dir=%s free=%llu",
             s->cfg.data_dir ? s->cfg.data_dir : "(memory)", (unsigned long long)d->free_bytes);
    engine_reopen(s->engine);
}

void
disk_start(struct store *s)
{
    struct disk *d = &s->disk;
    d->estate = ENGINE_OK;
    int why = 0;
    enum engine_state st = engine_state(s->engine, &why);
    if (st != ENGINE_OK) { /* opened read-only: said by disk_init or the engine */
        d->estate = st;
        d->ewhy = why;
        if (!d->below) d->events++;
    }
    uv_timer_init(s->loop, &d->timer);
    d->timer.data = s;
    uv_timer_start(&d->timer, disk__tick, DISK_TICK_MS, DISK_TICK_MS);
    uv_unref((uv_handle_t *)&d->timer); /* never what keeps the loop alive */
}

void
disk_stop(struct store *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->disk.timer))
        uv_close((uv_handle_t *)&s->disk.timer, NULL);
}

int
disk_full(const struct store *s)
{
    const struct disk *d = &s->disk;
    return d->below || (d->estate != ENGINE_OK && d->ewhy == JUNO_ENOSPC);
}

int
disk_refuses(struct store *s, int opcode)
{
    struct disk *d = &s->disk;
    int fresh; /* a write that no granted lock covers: new data */
    switch (opcode) {
    case WIRE_OP_PREPARE_CREATE:
    case WIRE_OP_PREPARE_UPDATE:
    case WIRE_OP_PREPARE_SET:
    case WIRE_OP_PREPARE_DELETE:
    case WIRE_OP_REPAIR:
    case WIRE_OP_CLONE: fresh = 1; break;
    case WIRE_OP_COMMIT:
    case WIRE_OP_MARK_DELETE:
    case WIRE_OP_DELETE: fresh = 0; break;
    default: return 0;
    }
    int why = 0;
    enum engine_state st = engine_state_now(s->engine, &why);
    if (st == ENGINE_OK && !(fresh && d->below)) return 0;
    why = disk__why(d, why);
    d->refused++;
    /* a background error met on a disk below its floor is the full disk too */
    return st == ENGINE_OK || why == JUNO_ENOSPC || d->below ? WIRE_ST_SS_OUT_OF_RESOURCE
                                                             : WIRE_ST_SS_ERROR;
}

void
disk_note_write(struct store *s, size_t n)
{
    struct disk *d = &s->disk;
    if (!d->active) return;
    d->written += n;
    if (d->written >= d->check_every) disk__check(s);
}
