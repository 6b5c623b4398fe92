/* progress.c: what juno-migrate shows.
 *
 *   terminal   one bar per zone, redrawn in place:
 *              z0 [########------------]  12/32 shards  48210 rec  5.1 MB  9.8 MB/s  ETA 2s
 *   otherwise  a log line per zone at most once a second while it changes,
 *              and one per phase
 *   --json     one JSON object per line: {"event":"progress","zone":...}, ...
 */
#include "jmig.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct zone_progress {
    size_t total, done;
    uint64_t records, bytes;
    uint64_t last_print_bytes;
    size_t last_print_done;
};

static struct zone_progress zones[MAP_MAX_ZONES];
static int drawn_lines;
static uint64_t last_draw_ms;

void
progress_init(struct jmig *j)
{
    memset(zones, 0, sizeof(zones));
    for (size_t i = 0; i < j->plan.nmoves; i++) zones[j->plan.moves[i].zone_index].total++;
    drawn_lines = 0;
}

static void
sum(struct jmig *j)
{
    for (uint32_t z = 0; z < j->plan.map->nzones; z++)
        zones[z].done = 0, zones[z].records = zones[z].bytes = 0;
    for (size_t i = 0; i < j->plan.nmoves; i++) {
        const struct move *mv = &j->plan.moves[i];
        struct zone_progress *zp = &zones[mv->zone_index];
        zp->done += mv->phase == MV_DONE;
        zp->records += mv->records;
        zp->bytes += mv->bytes;
    }
}

void
progress_draw(struct jmig *j, int final)
{
    uint64_t now = report_now_ms();
    if (!final && now - last_draw_ms < (j->tty ? 100u : 1000u)) return;
    last_draw_ms = now;
    sum(j);
    double secs = (now - j->started_ms) / 1000.0;
    if (secs <= 0) secs = 0.001;
    if (j->tty && !j->json && drawn_lines > 0) printf("\033[%dA", drawn_lines);
    int lines = 0;
    for (uint32_t z = 0; z < j->plan.map->nzones; z++) {
        struct zone_progress *zp = &zones[z];
        if (zp->total == 0) continue;
        double rate = zp->bytes / secs;
        double eta = zp->done ? secs * (double)(zp->total - zp->done) / zp->done : -1;
        const char *name = j->plan.map->zones[z].name;
        if (j->json) {
            if (!final && zp->done == zp->last_print_done && zp->bytes == zp->last_print_bytes)
                continue;
            printf("{\"event\":\"progress\",\"zone\":\"%s\",\"done\":%zu,\"total\":%zu,"
                   "\"records\":%llu,\"bytes\":%llu,\"rate\":%.0f,\"eta_s\":%.1f}\n",
                   name, zp->done, zp->total, (unsigned long long)zp->records,
                   (unsigned long long)zp->bytes, rate, eta);
        } else {
            char b[32], r[32], e[32];
            report_bytes(zp->bytes, b, sizeof(b));
            report_bytes((uint64_t)rate, r, sizeof(r));
            if (eta >= 0)
                snprintf(e, sizeof(e), "ETA %.0fs", eta);
            else
                snprintf(e, sizeof(e), "ETA ?");
            if (zp->done == zp->total) snprintf(e, sizeof(e), "done");
            if (j->tty) {
                char bar[REPORT_BAR_WIDTH + 1];
                report_bar(bar, zp->done, zp->total);
                printf("\r\033[K%-8s [%s] %5zu/%-5zu shards %10llu rec %9s %9s/s  %s\n", name, bar,
                       zp->done, zp->total, (unsigned long long)zp->records, b, r, e);
                lines++;
            } else {
                if (!final && zp->done == zp->last_print_done && zp->bytes == zp->last_print_bytes)
                    continue;
                char ts[96];
                log_timestamp(ts, sizeof(ts));
                printf("%s info juno-migrate: zone %s: %zu/%zu shards, %llu records, %s, %s/s, "
                       "%s\n",
                       ts, name, zp->done, zp->total, (unsigned long long)zp->records, b, r, e);
            }
        }
        zp->last_print_done = zp->done;
        zp->last_print_bytes = zp->bytes;
    }
    if (j->tty && !j->json) drawn_lines = lines;
    fflush(stdout);
}

void
progress_event(struct jmig *j, const char *event, const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (j->json) {
        printf("{\"event\":\"%s\",\"elapsed_s\":%.3f%s%s}\n", event,
               (report_now_ms() - j->started_ms) / 1000.0, body[0] ? "," : "", body);
    } else {
        char ts[96];
        log_timestamp(ts, sizeof(ts));
        /* the JSON members as key=value: drop the quotes and braces */
        char plain[2048];
        report_plain(body, plain, sizeof(plain));
        if (j->tty && drawn_lines > 0) drawn_lines = 0; /* the bars move below this line */
        printf("%s info juno-migrate: %s %s\n", ts, event, plain);
    }
    fflush(stdout);
}

void
progress_move_done(struct jmig *j, const struct move *mv)
{
    if (!j->json) return; /* the bars and zone lines show it */
    printf("{\"event\":\"move_done\",\"zone\":\"%s\",\"shard\":%u,\"source\":\"%s\",\"target\":"
           "\"%s\",\"records\":%llu,\"bytes\":%llu}\n",
           mv->zone, mv->shard, mv->src_addr, mv->to_addr, (unsigned long long)mv->records,
           (unsigned long long)mv->bytes);
}
