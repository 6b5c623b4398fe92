/* rejoin.c: the "last served" beat and the rejoin rule (rejoin.h). */
#include "store.h"

#include "cli.h"
#include "error.h"
#include "jstate.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_s(void)
{
    return (uint64_t)time(NULL);
}

static void
rejoin__format(struct rejoin *r)
{
    uint64_t rj = (uint64_t)r->rejoining;
    struct jstate_field f[] = {{"last_served", JSTATE_MAX_INT, &r->last_served, 0},
                               {"rejoining", 1, &rj, 0},
                               {"rejoining_since", JSTATE_MAX_INT, &r->since, 0}};
    if (jstate_format(r->text, sizeof(r->text), f, 3) < 0) r->text[0] = '\0';
}

/* Write r->text to the file: a temporary file, fsync, rename. Any thread.
 * Returns 0 or a negative errno code. */
static int
rejoin__write(const struct rejoin *r)
{
    int fd = open(r->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error_from_errno(errno);
    size_t len = strlen(r->text);
    ssize_t n = write(fd, r->text, len);
    int rc = n < 0              ? error_from_errno(errno)
             : (size_t)n != len ? error_from_errno(ENOSPC) /* a short write: no room */
             : fsync(fd) != 0   ? error_from_errno(errno)
                                : 0;
    if (close(fd) != 0 && rc == 0) rc = error_from_errno(errno);
    if (rc == 0 && rename(r->tmp, r->path) != 0) rc = error_from_errno(errno);
    if (rc != 0) unlink(r->tmp); /* the previous file stays as it was */
    return rc;
}

/* Log a failed write once, and the first one that works after it. */
static void
rejoin__report(struct rejoin *r, int rc)
{
    if (rc != 0 && !r->failing)
        log_warn("cannot write the store's state file, trying again at every beat (a restart "
                 "meanwhile reads the previous state) path=%s: %s",
                 r->path, error_str(rc));
    else if (rc == 0 && r->failing)
        log_info("the store's state file is written again path=%s", r->path);
    r->failing = rc != 0;
}

static void
rejoin__work(uv_work_t *w)
{
    struct store *s = w->data;
    s->rejoin.wrc = rejoin__write(&s->rejoin);
}

static void rejoin__save(struct store *s);

/* The last state, written at once (drain: the loop is about to end). */
static void
rejoin__write_now(struct rejoin *r)
{
    if (!r->rejoining) r->last_served = now_s();
    rejoin__format(r);
    rejoin__report(r, rejoin__write(r));
}

static void
rejoin__after(uv_work_t *w, int status)
{
    struct store *s = w->data;
    struct rejoin *r = &s->rejoin;
    r->writing = 0;
    if (status == 0) rejoin__report(r, r->wrc);
    if (r->closed) {
        if (r->pending) rejoin__write_now(r);
        r->pending = 0;
    } else if (r->pending) {
        r->pending = 0;
        rejoin__save(s);
    }
}

/* Write the current state off the loop (one write at a time; a change while
 * one runs is written after it). */
static void
rejoin__save(struct store *s)
{
    struct rejoin *r = &s->rejoin;
    if (!r->active) return;
    if (r->writing || r->closed) {
        r->pending = 1;
        return;
    }
    if (!r->rejoining) r->last_served = now_s();
    rejoin__format(r);
    r->writing = 1;
    r->work.data = s;
    uv_queue_work(s->loop, &r->work, rejoin__work, rejoin__after);
}

static void
rejoin__on_timer(uv_timer_t *t)
{
    rejoin__save(t->data);
}

int
rejoin_init(struct store *s, char *err, size_t errlen)
{
    struct rejoin *r = &s->rejoin;
    const struct store_config *c = &s->cfg;
    if (c->memory || c->data_dir == NULL) return 0; /* restarts empty: nothing stale to serve */
    r->active = 1;
    uint64_t after = c->rejoin_after_s ? c->rejoin_after_s : c->tombstone_grace_s / 2;
    if (after < 1) after = 1; /* the state file counts whole seconds */
    /* a beat often enough that "away" is measured to a fraction of the limit */
    r->beat_ms = after / 4 * 1000;
    if (r->beat_ms < 1000) r->beat_ms = 1000;
    if (r->beat_ms > 60000) r->beat_ms = 60000;
    snprintf(r->path, sizeof(r->path), "%s/juno-store.state", c->data_dir);
    snprintf(r->tmp, sizeof(r->tmp), "%s.tmp", r->path);
    char *text = NULL;
    size_t len = 0;
    int rc = cli_read_file(r->path, 4096, &text, &len);
    if (rc == JUNO_ENOENT) { /* a new store, or one from before this file: serving */
        log_info("no state file: the store is taken as current path=%s", r->path);
        r->last_served = now_s();
        rejoin__format(r);
        rejoin__report(r, rejoin__write(r));
        return 0;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", r->path, error_str(rc));
        return rc;
    }
    uint64_t rejoining = 0;
    struct jstate_field f[] = {{"last_served", JSTATE_MAX_INT, &r->last_served, 0},
                               {"rejoining", 1, &rejoining, 0},
                               {"rejoining_since", JSTATE_MAX_INT, &r->since, 0}};
    rc = jstate_parse(text, len, f, 3);
    free(text);
    if (rc != 0 || !f[0].present) {
        snprintf(err, errlen,
                 "malformed state file %s: expected {\"last_served\":UNIX_SECONDS,...}; remove it "
                 "only if this store's data is current",
                 r->path);
        return JUNO_EBADDATA;
    }
    uint64_t now = now_s(), away = now > r->last_served ? now - r->last_served : 0;
    r->rejoining = rejoining != 0;
    if (!r->rejoining && away > after) {
        if (s->map != NULL && s->map->nzones < 2) {
            log_warn("away longer than --rejoin-after, but the map has one zone: nothing to "
                     "compare with, serving away_s=%llu",
                     (unsigned long long)away);
        } else {
            r->rejoining = 1;
            r->since = now;
            log_warn("away longer than --rejoin-after: rejoining, proxies are refused until "
                     "juno-repair has compared this store's shards with the other zones "
                     "away_s=%llu rejoin_after_s=%llu last_served=%llu",
                     (unsigned long long)away, (unsigned long long)after,
                     (unsigned long long)r->last_served);
        }
    } else if (r->rejoining) {
        log_warn("still rejoining (since %llu): proxies are refused until juno-repair has "
                 "compared this store's shards",
                 (unsigned long long)r->since);
    }
    if (!r->rejoining) r->last_served = now;
    rejoin__format(r);
    rejoin__report(r, rejoin__write(r));
    return 0;
}

void
rejoin_start(struct store *s)
{
    struct rejoin *r = &s->rejoin;
    if (!r->active) return;
    uv_timer_init(s->loop, &r->timer);
    r->timer.data = s;
    uv_timer_start(&r->timer, rejoin__on_timer, r->beat_ms, r->beat_ms);
    r->timer_on = 1;
}

void
rejoin_stop(struct store *s)
{
    struct rejoin *r = &s->rejoin;
    if (!r->active || r->closed) return;
    r->closed = 1;
    if (r->timer_on) uv_close((uv_handle_t *)&r->timer, NULL);
    if (r->writing)
        r->pending = 1; /* written when the worker is done */
    else
        rejoin__write_now(r);
}

int
rejoin_refuses(const struct store *s, const struct wire_msg *req)
{
    if (!s->rejoin.rejoining) return 0;
    switch (req->opcode) {
    case WIRE_OP_READ: /* juno-repair's, when every replica rejoins */
        return (req->flags & WIRE_FLAG_REPAIR_READ) ? 0 : WIRE_ST_NO_STORAGE_SERVER;
    case WIRE_OP_PREPARE_CREATE:
    case WIRE_OP_PREPARE_UPDATE:
    case WIRE_OP_PREPARE_SET:
    case WIRE_OP_PREPARE_DELETE:
    case WIRE_OP_COMMIT:
    case WIRE_OP_MARK_DELETE: return WIRE_ST_NO_STORAGE_SERVER;
    default: return 0;
    }
}

void
rejoin_done(struct store *s)
{
    struct rejoin *r = &s->rejoin;
    if (!r->rejoining) return;
    r->rejoining = 0;
    log_info("rejoined: every shard compared with the other zones; serving again since_s=%llu",
             (unsigned long long)(now_s() - r->since));
    r->since = 0;
    rejoin__save(s);
}
