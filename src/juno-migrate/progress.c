/* progress.c: what juno-migrate shows.
 *
 *   terminal   one bar per zone, redrawn in place:
 *              z0 [########------------]  12/32 shards  48210 rec  5.1 MB  9.8 MB/s  ETA 2s
 *   otherwise  a log line per zone at most once a second while it changes,
 *              and one per phase
 *   --json     one JSON object per line: {"event":"progress","zone":...}, ...
 */
#include "jmig.h"

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

uint64_t
jmig_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

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

static void
human(uint64_t bytes, char *buf, size_t cap)
{
    if (bytes >= 10u << 20)
        snprintf(buf, cap, "%.0f MB", bytes / 1048576.0);
    else if (bytes >= 1u << 20)
        snprintf(buf, cap, "%.1f MB", bytes / 1048576.0);
    else
        snprintf(buf, cap, "%.0f kB", bytes / 1024.0);
}

void
progress_draw(struct jmig *j, int final)
{
    uint64_t now = jmig_now_ms();
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
            human(zp->bytes, b, sizeof(b));
            human((uint64_t)rate, r, sizeof(r));
            if (eta >= 0)
                snprintf(e, sizeof(e), "ETA %.0fs", eta);
            else
                snprintf(e, sizeof(e), "ETA ?");
            if (zp->done == zp->total) snprintf(e, sizeof(e), "done");
            if (j->tty) {
                char bar[21];
                size_t fill = zp->done * 20 / zp->total;
                for (size_t i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '-';
                bar[20] = '\0';
                printf("\r\033[K%-8s [%s] %5zu/%-5zu shards %10llu rec %9s %9s/s  %s\n", name, bar,
                       zp->done, zp->total, (unsigned long long)zp->records, b, r, e);
                lines++;
            } else {
                if (!final && zp->done == zp->last_print_done && zp->bytes == zp->last_print_bytes)
                    continue;
                char ts[96];
                timestamp(ts, sizeof(ts));
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
               (jmig_now_ms() - j->started_ms) / 1000.0, body[0] ? "," : "", body);
    } else {
        char ts[96];
        timestamp(ts, sizeof(ts));
        /* the JSON members as key=value: drop the quotes and braces */
        char plain[2048];
        size_t k = 0;
        int in_str = 0;
        for (size_t i = 0; body[i] && k + 1 < sizeof(plain); i++) {
            if (body[i] == '"') {
                in_str = !in_str;
                continue;
            }
            if (in_str)
                plain[k++] = body[i];
            else
                plain[k++] = body[i] == ':' ? '=' : body[i] == ',' ? ' ' : body[i];
        }
        plain[k] = '\0';
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
